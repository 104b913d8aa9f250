"""Inputs that ran to a plausible answer with no word: time columns of rotor-period counts, options
given without effect, an MCMC chain too large, two atoms on one CIF site, spec values no
experiment has, and a work estimate said once per inner fit.

Each CLI case checks: exit status, one line naming the option / file / value, no traceback, every
input byte-identical, and no file written by a refused run. Python cases check the UserError or
the warning category of the same mistake. All fits are analytical fits of 15-point curves; no
structure or spec case runs a simulation.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from respdor.cli import main
from respdor.errors import DataWarning, UserError
from respdor.io import read_curve

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"

from small_spec import SMALL_SPEC  # noqa: E402
from filetree import hashes as _hashes  # noqa: E402

CIF_HEAD = """data_test
_cell_length_a 8.0
_cell_length_b 8.0
_cell_length_c 8.0
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
"""


def _write(path, header, cols):
    path.write_text(header + "\n" + "".join(",".join(f"{c[k]:.6g}" for c in cols) + "\n"
                                            for k in range(len(cols[0]))))


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = tmp_path_factory.mktemp("adv18")
    inp = w / "in"
    inp.mkdir()
    (w / "out").mkdir()
    shutil.copy(DATA / "respdor_13C27Al_synthetic.csv", inp / "curve.csv")
    curve = read_curve(inp / "curve.csv")
    d, s = curve.dss0, curve.sigma
    counts = np.arange(1, 16) * 2  # 2, 4, ... 30 rotor periods at 10 kHz = the bundled 0.2-3 ms
    _write(inp / "counts_ms.csv", "t_ms,dSS0,sigma", [counts, d, s])
    _write(inp / "counts4_ms.csv", "t_ms,dSS0,sigma", [np.arange(1, 17) * 4, np.r_[d, d[-1]], np.r_[s, s[-1]]])
    _write(inp / "counts_zero_ms.csv", "t_ms,dSS0,sigma", [np.r_[0, counts[:-1]], np.r_[0, d[:-1]], s])
    _write(inp / "counts_rotor.csv", "n_rotor,dSS0,sigma", [counts, d, s])
    _write(inp / "counts_plain.csv", "time,dSS0,sigma", [counts, d, s])
    fib = np.array([1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987]) * 0.02  # whole ms? no
    _write(inp / "uneven_ms.csv", "t_ms,dSS0,sigma", [np.round(fib * 50), d, s])
    _write(inp / "short_int_ms.csv", "t_ms,dSS0,sigma", [np.arange(1, 16), d, s])  # 1-15 ms: a long curve
    (inp / "spec.toml").write_text(SMALL_SPEC)
    t = np.arange(1, 321) * 0.01
    noisy = 0.24 * (1 - np.exp(-t**2)) + np.random.default_rng(1).normal(0, 0.01, t.size)
    _write(inp / "many320.csv", "t_ms,dSS0,sigma", [t, noisy, np.full(t.size, 0.01)])
    (inp / "eff0.toml").write_text(SMALL_SPEC.replace('type = "ideal"', 'type = "ideal"\nefficiency = 0'))
    rf = 'type = "dfs"\nnu1_khz = 30.0\nlength_rotor_periods = 2\n'
    (inp / "dfs_flat.toml").write_text(SMALL_SPEC.replace('type = "ideal"\n', rf + "start_khz = 200\nend_khz = 200\n"))
    (inp / "cc_al.cif").write_text(CIF_HEAD + "C1 C 0.1 0.1 0.1\nAl1 Al 0.1 0.1 0.1\nO1 O 0.25 0.1 0.1\n"
                                   "Al2 Al 0.45 0.1 0.1\n")
    (inp / "cc_al_occ.cif").write_text(CIF_HEAD + "_atom_site_occupancy\nC1 C 0.1 0.1 0.1 0.5\nAl1 Al 0.1 0.1 0.1 0.5\n"
                                       "O1 O 0.25 0.1 0.1 1\nAl2 Al 0.45 0.1 0.1 1\n")
    (inp / "al_image.cif").write_text(CIF_HEAD + "C1 C 0.1 0.1 0.1\nO1 O 0.25 0.1 0.1\nAl2 Al 0.45 0.1 0.1\n"
                                      "Al3 Al 1.45 0.1 0.1\n")  # Al2 again, one cell along: the same atom
    (inp / "c_listed_twice.cif").write_text(CIF_HEAD + "C1 C 0.1 0.1 0.1\nC2 C 0.1 0.1 0.1\nO1 O 0.25 0.1 0.1\n"
                                            "Al2 Al 0.45 0.1 0.1\n")
    xyz = (DATA / "al_carboxylate_model.xyz").read_text().splitlines()
    atoms = xyz[2:]
    al = next(k for k, a in enumerate(atoms) if a.split()[0] == "Al")
    atoms[al] = "Al " + " ".join(atoms[0].split()[1:])
    (inp / "c_on_al.xyz").write_text("\n".join(xyz[:2] + atoms) + "\n")
    return w


def _run(ws, argv, capsys, monkeypatch):
    monkeypatch.chdir(ws / "out")
    before, out_before = _hashes(ws / "in"), _hashes(ws / "out")
    argv = [a.replace("{in}", str(ws / "in")).replace("{out}", str(ws / "out")) for a in argv]
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err + cap.out and "internal error" not in cap.err
    assert _hashes(ws / "in") == before, "an input file changed"
    assert _hashes(ws / "out") == out_before, "a file was written"
    return rc, cap


FIT = ["fit", "--no-files", "--no-intervals"]
STRUCT = ["structure", "--observe", "C", "--partner", "27Al", "--no-files"]

# (id, argv, texts the one error line must contain)
REFUSED = [
    ("mcmc-steps-beyond-memory", FIT + ["{in}/curve.csv", "--mcmc", "--mcmc-steps", "100000000"],
     ["--mcmc-steps 100000000", "GB", "memory", "lower --mcmc-steps"]),
    ("mcmc-steps-beyond-work-limit", FIT + ["{in}/curve.csv", "--mcmc", "--mcmc-steps", "200000"],
     ["200000 steps", "reduce --mcmc-steps", "--allow-long"]),
    ("mcmc-seed-without-mcmc", FIT + ["{in}/curve.csv", "--mcmc-seed", "3"], ["--mcmc-seed", "--mcmc"]),
    ("convert-pair-and-observe", ["convert", "--pair", "13C", "27Al", "--observe", "15N", "-r", "2.5"],
     ["--observe", "--pair"]),
    ("cif-c-and-al-on-one-site", STRUCT + ["{in}/cc_al.cif"],
     ["cc_al.cif", "site 0 C1 (C)", "site 1 Al1 (Al)", "same position"]),
    ("cif-c-and-al-sharing-a-site", STRUCT + ["{in}/cc_al_occ.cif"],
     ["cc_al_occ.cif", "C1 (C)", "Al1 (Al)", "share one position", "C 0.5, Al 0.5"]),
    ("xyz-c-on-al", STRUCT + ["{in}/c_on_al.xyz"], ["c_on_al.xyz", "atoms 0 (C) and 3 (Al)", "same position"]),
    ("spec-efficiency-0", ["simulate", "{in}/eff0.toml", "--output", "{out}/x.csv"],
     ["eff0.toml", "efficiency = 0", "transfers nothing"]),
    ("spec-dfs-does-not-sweep", ["simulate", "{in}/dfs_flat.toml", "--output", "{out}/x.csv"],
     ["dfs_flat.toml", "start_khz = end_khz = 200", "does not sweep"]),
]


@pytest.mark.parametrize("case", REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_with_one_line(case, ws, capsys, monkeypatch):
    _, argv, needles = case
    rc, cap = _run(ws, argv, capsys, monkeypatch)
    lines = [line for line in cap.err.splitlines() if line.startswith("respdor: error:")]
    assert rc == 2 and len(lines) == 1, f"exit {rc}: {cap.err}"
    for needle in needles:
        assert needle in lines[0], lines[0]


# (id, argv, texts one warning line must contain; the run exits 0)
COUNTS = "count rotor periods? then name it n_rotor and give --mas"
WARNED = [
    ("counts-as-ms", FIT + ["{in}/counts_ms.csv"],
     ["counts_ms.csv", "whole number of ms, evenly stepped by 2, up to 30 ms", "the header says t_ms", COUNTS,
      "30 periods at 10 kHz MAS = 3 ms"]),
    ("counts-by-4-as-ms", FIT + ["{in}/counts4_ms.csv"], ["counts4_ms.csv", "evenly stepped by 4, up to 64 ms",
                                                          COUNTS]),
    ("counts-with-zero-as-ms", FIT + ["{in}/counts_zero_ms.csv"], ["counts_zero_ms.csv", "up to 28 ms", COUNTS]),
    ("counts-as-ms-by-time-unit", FIT + ["{in}/counts_plain.csv", "--time-unit", "ms"],
     ["counts_plain.csv", "the unit was given as ms (--time-unit)", COUNTS]),
    ("mas-without-effect", FIT + ["{in}/curve.csv", "--mas", "10k"],
     ["--mas 10000 Hz has no effect", "the header says t_ms", "n_rotor", "redor-finite"]),
    ("mas-with-counts-as-ms", FIT + ["{in}/counts_ms.csv", "--mas", "10k"],
     ["--mas 10000 Hz has no effect", "if the times of counts_ms.csv count rotor periods, name the column n_rotor"]),
    ("time-unit-without-effect", FIT + ["{in}/curve.csv", "--time-unit", "ms"],
     ["--time-unit ms has no effect", "the header says t_ms"]),
    ("sequence-with-simulated-shape", FIT + ["{in}/curve.csv", "--simulate", "{in}/spec.toml", "--sequence", "sr4"],
     ["--sequence sr4 has no effect with --simulate", "spec.toml", "set them in the spec"]),
    ("model-with-simulated-shape", FIT + ["{in}/curve.csv", "--simulate", "{in}/spec.toml", "--model", "redor",
                                         "--transfer", "inversion"],
     ["--model redor has no effect with --simulate", "spec.toml"]),
    ("time-unit-with-rotor-column", FIT + ["{in}/counts_rotor.csv", "--mas", "10k", "--time-unit", "us"],
     ["--time-unit us has no effect", "rotor periods / 10000 Hz MAS"]),
]


@pytest.mark.parametrize("case", WARNED, ids=[c[0] for c in WARNED])
def test_warned_in_one_line(case, ws, capsys, monkeypatch):
    _, argv, needles = case
    rc, cap = _run(ws, argv, capsys, monkeypatch)
    text = cap.out + cap.err
    lines = [line for line in text.splitlines() if "warning" in line.lower() and needles[0] in line]
    assert rc == 0 and len(lines) == 1, text
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("argv", [
    FIT + ["{in}/curve.csv"],  # the bundled curve: 0.2-3 ms
    FIT + ["{in}/uneven_ms.csv"],  # whole ms, but not evenly stepped
    FIT + ["{in}/short_int_ms.csv"],  # whole ms, evenly stepped, but only to 15 ms
    FIT + ["{in}/counts_rotor.csv", "--mas", "10k"],  # the count column named as such: --mas used
    FIT + ["{in}/curve.csv", "--sequence", "redor-finite", "--mas", "10k", "--pulse-length", "10us"],
], ids=["bundled", "uneven-whole-ms", "short-whole-ms", "rotor-column-with-mas", "redor-finite-uses-mas"])
def test_ordinary_input_is_quiet(argv, ws, capsys, monkeypatch):
    rc, cap = _run(ws, argv, capsys, monkeypatch)
    text = cap.out + cap.err
    assert rc == 0
    assert "count rotor periods" not in text and "has no effect" not in text, text


def test_python_fit_warns_data_warning_for_counts_and_unused_mas(ws):
    import respdor

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = respdor.fit(ws / "in" / "counts_ms.csv", intervals=False, mas_rate_hz=10e3)
    data = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert any("mas_rate_hz 10000 Hz has no effect" in m for m in data), data
    assert any("count rotor periods? then name it n_rotor and give mas_rate_hz" in m for m in data), data
    # the same lines are kept on the result, each once
    assert sum("has no effect" in w for w in result.warnings) == 1
    assert sum("does the column count rotor periods" in w for w in result.warnings) == 1
    assert not any("--" in m for m in data), "library messages name parameters, not options"


def test_python_mcmc_refuses_a_chain_beyond_memory(ws):
    import respdor
    from respdor.mcmc import sample_posterior

    result = respdor.fit(ws / "in" / "curve.csv", intervals=False)
    with pytest.raises(UserError, match=r"mcmc_steps 100000000: .* GB.*lower mcmc_steps"):
        sample_posterior(result, steps=100_000_000, burn=10)
    with pytest.raises(UserError, match=r"reduce mcmc_steps, or confirm with --allow-long"):
        sample_posterior(result, steps=200_000, burn=10, names={"allow_long": "--allow-long"})


def test_mcmc_work_and_memory_counts():
    from respdor.workload import MCMC_REFERENCE, mcmc_memory_bytes, mcmc_work

    work = mcmc_work(32, 2000, 15, "mcmc_steps")
    assert work.cost == MCMC_REFERENCE == 960_000
    assert work.cost < work.notice < work.limit
    # 32 walkers x 1e8 steps x 3 numbers, float64, three copies: 230 GB
    assert mcmc_memory_bytes(32, 100_000_000, 3) == pytest.approx(2.304e11)


def test_cif_sites_python(ws):
    from respdor.structure import read_structure

    with pytest.raises(UserError, match=r"cc_al\.cif: site 0 C1 \(C\) and site 1 Al1 \(Al\) sit at the same"):
        read_structure(ws / "in" / "cc_al.cif")
    with pytest.raises(UserError, match="share one position"):
        read_structure(ws / "in" / "cc_al_occ.cif")
    # the same atom listed twice (an element on its own site, or its copy one cell along): ASE keeps one,
    # nothing is lost, so it is read
    for name in ("c_listed_twice.cif", "al_image.cif"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # ASE's "equivalent" warning is handled, not passed on
            st = read_structure(ws / "in" / name)
        assert st.atoms.get_chemical_symbols().count("C") == 1
        assert len(st.atoms) == 3


def _spec(text):
    from spinsim.spec import load_spec

    return load_spec(__import__("tomllib").loads(text))


@pytest.mark.parametrize("key, where, value, read_as", [
    ("q_euler_deg", "spins[1]", [0.0, 100000.0, 0.0], "280 deg"),
    ("q_euler_deg", "spins[1]", [-400.0, 30.0, 0.0], "320 deg"),
    ("csa_euler_deg", "spins[0]", [0.0, 0.0, 721.0], "1 deg"),
    ("euler_deg", "dipolar[0]", [0.0, 1e5, 0.0], "280 deg"),
])
def test_euler_angle_beyond_one_turn_is_warned(key, where, value, read_as):
    text = SMALL_SPEC
    if key == "euler_deg":
        text = text.replace("d_hz = 503.0", f"d_hz = 503.0\neuler_deg = {value}")
    elif where == "spins[0]":
        text = text.replace('isotope = "13C"', f'isotope = "13C"\ncsa_span_ppm = 100.0\n{key} = {value}')
    else:
        text = text.replace("eta_q = 0.3", f"eta_q = 0.3\n{key} = {value}")
    sp = _spec(text)
    lines = [w for w in sp.warnings if "Euler angle" in w]
    assert len(lines) == 1 and f"[{where}] {key}" in lines[0] and f"read as the same rotation, {read_as}" in lines[0]


def test_euler_angle_not_finite_is_refused():
    from spinsim.spec import SpecError

    with pytest.raises(SpecError, match=r"\[spins\[1\]\] q_euler_deg must be three finite numbers"):
        _spec(SMALL_SPEC.replace("eta_q = 0.3", "eta_q = 0.3\nq_euler_deg = [nan, 30.0, 0.0]"))
    with pytest.raises(SpecError, match="three finite numbers"):
        _spec(SMALL_SPEC.replace("eta_q = 0.3", "eta_q = 0.3\nq_euler_deg = [0.0, inf, 0.0]"))


def test_euler_angles_within_one_turn_are_quiet():
    sp = _spec(SMALL_SPEC.replace("eta_q = 0.3", "eta_q = 0.3\nq_euler_deg = [-359.0, 360.0, 90.0]"))
    assert not [w for w in sp.warnings if "Euler" in w]


def test_dfs_sweep_order():
    from spinsim.spec import SpecError

    rf = 'type = "dfs"\nnu1_khz = 30.0\nlength_rotor_periods = 2\n'
    outward = _spec(SMALL_SPEC.replace('type = "ideal"\n', rf + "start_khz = 100\nend_khz = 400\n"))
    assert any("start_khz = 100 < end_khz = 400" in w and "swapped" in w for w in outward.warnings)
    inward = _spec(SMALL_SPEC.replace('type = "ideal"\n', rf + "start_khz = 400\nend_khz = 100\n"))
    assert not any("start_khz" in w for w in inward.warnings)
    with pytest.raises(SpecError, match="efficiency = 0"):
        _spec(SMALL_SPEC.replace('type = "ideal"', 'type = "ideal"\nefficiency = 0'))
    assert _spec(SMALL_SPEC.replace('type = "ideal"', 'type = "ideal"\nefficiency = 0.5')).saturation.efficiency == 0.5


def test_estimate_said_once_inside_a_job():
    from respdor.workload import check_work, curve_fit_work, each_estimate_once

    from spinsim.progress import Progress

    class Collect(Progress):
        def __init__(self):
            super().__init__()
            self.lines = []

        def note(self, text):
            self.lines.append(text)

    inside, outside = Collect(), Collect()
    with each_estimate_once():
        for _ in range(4):  # the inner fits of one simulated-shape fit
            assert check_work(curve_fit_work(500, 1), False, "fit", progress=inside) is True
        check_work(curve_fit_work(600, 1), False, "fit", progress=inside)  # another estimate: said
    for _ in range(2):
        check_work(curve_fit_work(500, 1), False, "fit", progress=outside)
    assert [x.count("500 recoupling times") for x in inside.lines] == [1, 0]
    assert len(outside.lines) == 2


def test_simulated_shape_fit_says_its_estimate_once(ws, capsys, monkeypatch):
    # 320 points (above the notice of 300): the rounds of the simulated-shape fit refit them, the
    # estimate is one line (it was one per inner fit)
    rc, cap = _run(ws, FIT + ["{in}/many320.csv", "--simulate", "{in}/spec.toml"], capsys, monkeypatch)
    assert rc == 0
    assert (cap.out + cap.err).count("estimated work: 320 recoupling times") == 1
