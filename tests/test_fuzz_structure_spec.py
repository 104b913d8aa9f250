"""Fuzz table: damaged or impossible structures, unit-confused spec values and option values, runaway work.

Each class is tried through the command line, as a user meets it: the exit status (2 for a mistake,
0 for a legal but odd input that is warned about), one line on stderr naming the file / line / key /
value, no traceback, no stray output file, every input byte-identical. Work estimates come from
counts (crystallites, steps, partners, pairs, parameters), never from a clock: no case depends on the
speed of the machine, and every refused case is refused before any simulation starts.
"""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ase")
pytest.importorskip("numba")

from respdor.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"

SPEC = """\
[experiment]
type = "respdor"
field_T = 9.4
mas_rate_hz = 10000
t_max_ms = 0.6

[[spins]]
isotope = "13C"

[[spins]]
isotope = "27Al"
cq_mhz = 3.0
eta_q = 0.3

[[dipolar]]
spins = [0, 1]
d_hz = 503.0

[saturation]
type = "ideal"

[powder]
scheme = "zcw"
n = 21
n_gamma = 4
"""

CW = 'type = "cw"\nnu1_khz = 30\nlength_rotor_periods = 2'

# name -> (text replaced, replacement) in SPEC, or a list of them
SPEC_EDITS = {
    "mas_10hz": ("mas_rate_hz = 10000", "mas_rate_hz = 10"),
    "mas_khz_as_hz": ("mas_rate_hz = 10000", "mas_rate_khz = 10000"),
    "distance_0.25": ("d_hz = 503.0", "distance_A = 0.25"),
    "distance_pm": ("d_hz = 503.0", "distance_A = 250"),
    "d_310khz": ("d_hz = 503.0", "d_hz = 310000"),
    "t_max_1e6": ("t_max_ms = 0.6", "t_max_ms = 1e6"),
    "t_max_no_point": ("t_max_ms = 0.6", "t_max_ms = 0.05"),
    "times_us_as_ms": ("t_max_ms = 0.6", "recoupling_times_ms = [0, 200, 400, 600]"),
    "sat_10s": ('type = "ideal"', 'type = "cw"\nnu1_khz = 30\nlength_us = 1e7'),
    "sat_1e5_periods": ('type = "ideal"', 'type = "cw"\nnu1_khz = 30\nlength_rotor_periods = 1e5'),
    "nu1_hz_as_khz": ('type = "ideal"', 'type = "cw"\nnu1_khz = 30000\nlength_rotor_periods = 2'),
    "field_400": ("field_T = 9.4", "field_T = 400"),
    "max_dt_500us": ('n_gamma = 4\n', 'n_gamma = 4\n\n[simulation]\nmax_dt_us = 500\n'),
    "j_1e5": ('n_gamma = 4\n', 'n_gamma = 4\n\n[[j]]\nspins = [0, 1]\nj_hz = 1e5\n'),
    "coords_0.3": [('[[dipolar]]\nspins = [0, 1]\nd_hz = 503.0\n', ''),
                   ("[experiment]", "coordinates_A = [[0, 0, 0], [0.3, 0, 0]]\n\n[experiment]")],
    "shift_1e6": ('isotope = "13C"\n', 'isotope = "13C"\nshift_ppm = 1e6\n'),
    "rf_spread_500": ('n_gamma = 4\n', 'n_gamma = 4\n\n[rf_inhomogeneity]\nfwhm_percent = 500\n'),
    # legal but odd: warned
    "powder_one": ("n = 21", "n = 1"),
    "cq_3hz": ("cq_mhz = 3.0", "cq_hz = 3.0"),
    "mas_1khz": [("mas_rate_hz = 10000", "mas_rate_hz = 1000"), ("t_max_ms = 0.6", "t_max_ms = 8")],
    # runaway work (a pulse saturation: its block of steps per crystallite; with an ideal one and four
    # times the fast engine takes 1e6 x 64 crystallites in about a CPU minute)
    "cw": ('type = "ideal"', CW),
    "powder_huge": [('type = "ideal"', CW), ("n = 21\nn_gamma = 4", "n = 1000000\nn_gamma = 64")],
    "t_max_900ms_big_powder": [("t_max_ms = 0.6", "t_max_ms = 900"),
                               ("n = 21\nn_gamma = 4", "n = 300000\nn_gamma = 32")],
}


def _spec(name):
    edits = SPEC_EDITS[name]
    text = SPEC
    for old, new in edits if isinstance(edits, list) else [edits]:
        assert old in text, name
        text = text.replace(old, new)
    return text


MAGRES = (DATA / "al_carboxylate_model.magres").read_text().splitlines()


def _magres(kind):
    """The bundled model .magres, damaged in one way."""
    m = list(MAGRES)
    close_magres = m.index("[/magres]")
    if kind == "cut_in_half":  # cut inside the [magres] block
        return "\n".join(m[: close_magres - 2]) + "\n"
    if kind == "cut_in_atoms":
        return "\n".join(m[: m.index("[/atoms]") - 3]) + "\n"
    if kind == "cut_mid_line":
        return "\n".join(m[: close_magres - 1]) + "\n" + m[close_magres - 1][:40] + "\n"
    if kind == "atoms_lost":  # the [atoms] block lost its last atoms (Al 2 and the H) but still closes
        keep = [ln for ln in m if not (ln.startswith("atom Al Al 2") or ln.startswith("atom H"))]
        return "\n".join(keep) + "\n"
    if kind == "bad_atom_line":  # ASE refuses it; the own reader must too, by line
        return "\n".join(ln if not ln.startswith("atom O O 2") else "atom O O 2 11.1" for ln in m) + "\n"
    if kind == "no_magres_block":  # cut exactly after [/atoms]
        return "\n".join(m[: m.index("[/atoms]") + 1]) + "\n"
    if kind == "no_efg_al2":
        return "\n".join(ln for ln in m if not ln.startswith("efg Al 2")) + "\n"
    raise KeyError(kind)


def _write_structures(inp: Path):
    from ase import Atoms
    from ase.io import write

    write(inp / "ok.xyz", Atoms("CAl", positions=[[0, 0, 0], [2.9, 0, 0]]))
    write(inp / "close.xyz", Atoms("CAl", positions=[[0, 0, 0], [0.29, 0, 0]]))
    write(inp / "same.xyz", Atoms("CAlAl", positions=[[0, 0, 0], [2.9, 0, 0], [2.9, 0, 0]]))
    write(inp / "oh_close.xyz", Atoms("COAl", positions=[[0, 0, 0], [1.25, 0, 0], [1.25, 0.2, 0]]))
    write(inp / "tiny_cell.cif", Atoms("CAl", scaled_positions=[[0, 0, 0], [0.5, 0, 0]], cell=[0.5] * 3, pbc=True))
    # a cell written in nm (0.8 for 8 A): its atoms overlap their images
    write(inp / "cell_nm.vasp", Atoms("CAlOO", scaled_positions=[[0, 0, 0], [0.3, 0, 0], [0, 0.5, 0], [0, 0, 0.5]],
                                       cell=[0.8] * 3, pbc=True), format="vasp")
    write(inp / "cell_5A.cif", Atoms("CAl", positions=[[0, 0, 0], [2.5, 0, 0]], cell=[5.0] * 3, pbc=True))
    write(inp / "cell_5A_8atoms.cif", Atoms("CAlO6", scaled_positions=[[0, 0, 0], [0.5, 0, 0], [0.25, 0.25, 0],
                                                                       [0.25, 0.75, 0], [0.75, 0.25, 0.5],
                                                                       [0.75, 0.75, 0.5], [0, 0.5, 0.5],
                                                                       [0.5, 0.5, 0.5]],
                                            cell=[5.0] * 3, pbc=True))
    # 13C with six 27Al at 3 A: the dense (general) engine of 2 x 6^6 states
    ring = [[3 * np.cos(a), 3 * np.sin(a), 0] for a in np.linspace(0, 2 * np.pi, 6, endpoint=False)]
    write(inp / "six_al.xyz", Atoms("CAl6", positions=[[0, 0, 0]] + ring))
    for kind in ("cut_in_half", "cut_in_atoms", "cut_mid_line", "atoms_lost", "bad_atom_line", "no_efg_al2",
                 "no_magres_block"):
        (inp / f"{kind}.magres").write_text(_magres(kind))


def _write_spectrum(inp: Path, n_sites):
    x = np.linspace(-200, 200, 4096)
    centres = np.linspace(-150, 150, n_sites)
    y = sum(np.exp(-0.5 * ((x - c) / 3) ** 2) for c in centres)
    y = y + 0.01 * np.random.default_rng(0).normal(size=x.size)
    np.savetxt(inp / "spectrum.txt", np.column_stack([x, y]), delimiter=",", fmt="%.8g")
    return [f"{c:g}" for c in centres]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = tmp_path_factory.mktemp("fuzz_struct")
    inp = w / "in"
    inp.mkdir()
    (w / "out").mkdir()
    (inp / "ok.toml").write_text(SPEC)
    for name in list(SPEC_EDITS):
        (inp / f"{name}.toml").write_text(_spec(name))
    _write_structures(inp)
    _write_spectrum(inp, 40)
    return w


SITES40 = [f"{c:g}" for c in np.linspace(-150, 150, 40)]
STRUCT = ["--partner", "27Al", "--no-files"]
SMALL = ["--powder", "21", "--gamma", "2", "--t-max", "1ms"]


def _sim(name, *extra):
    return ["simulate", "{in}/" + name + ".toml", "--no-files", *extra]


def _st(name, *extra):
    return ["structure", "{in}/" + name, "--observe", "C", *STRUCT, *extra]


# (id, argv, exit status, text the one error line (status 2) or stderr (status 0) must contain)
DAMAGED = [
    ("magres-cut-in-half", _st("cut_in_half.magres"), 2, "cut_in_half.magres:18: the [magres] block"),
    ("magres-cut-in-atoms", _st("cut_in_atoms.magres"), 2, "cut_in_atoms.magres:4: the [atoms] block"),
    ("magres-cut-mid-line", _st("cut_mid_line.magres"), 2, "cut_mid_line.magres:24: a efg line"),
    ("magres-atoms-lost", _st("atoms_lost.magres"), 2, "tensors for al 2, but the [atoms] block lists 1 al"),
    ("magres-bad-atom-line", _st("bad_atom_line.magres"), 2, "bad_atom_line.magres:12: a magres atom line"),
    ("c-al-0.29A", _st("close.xyz"), 2, "atoms 0 (c) and 1 (al) are 0.29 a apart, closer than 1.18 a"),
    ("same-position", _st("same.xyz"), 2, "atoms 1 (al) and 2 (al) sit at the same position"),
    ("o-al-0.2A", _st("oh_close.xyz"), 2, "atoms 1 (o) and 2 (al) are 0.2 a apart"),
    ("cell-0.5A", _st("tiny_cell.cif"), 2, "from its own periodic image"),
    ("cell-in-nm", _st("cell_nm.vasp"), 2, "the periodic images overlap"),
    # legal, said per atom: the file gives Al 1 an EFG but not Al 2
    ("magres-no-efg-for-one-al", ["structure", "{in}/no_efg_al2.magres", "--observe", "C[O2]", *STRUCT, *SMALL,
                                  "--no-partner-couplings"], 0,
     "no efg tensor for al atom(s) 5 although the file gives one for the other al atoms"),
    ("magres-no-tensor-block", ["structure", "{in}/no_magres_block.magres", "--observe", "C[O2]", *STRUCT, *SMALL,
                                "--no-partner-couplings"], 0, "the file gives no tensor at all (no [magres] block"),
]

UNITS = [
    ("spec-mas-10hz", _sim("mas_10hz"), 2, "mas_rate_hz = 10 hz: below 500 hz"),
    ("spec-mas-khz-as-hz", _sim("mas_khz_as_hz"), 2, "mas_rate_khz = 10000 khz: above 200 khz"),
    ("spec-distance-0.25", _sim("distance_0.25"), 2, "distance_a = 0.25 a: below 1.182 a"),
    ("spec-distance-pm", _sim("distance_pm"), 2, "distance_a = 250 a: above 100 a"),
    ("spec-d-310khz", _sim("d_310khz"), 2, "d_hz = 310000 hz, i.e. r = 0.294"),
    ("spec-t-max-1e6ms", _sim("t_max_1e6"), 2, "t_max_ms = 1e+06 ms: above 1 s"),
    ("spec-t-max-no-point", _sim("t_max_no_point"), 2, "t_max_ms = 0.05 ms: shorter than one recoupling step"),
    ("spec-times-in-us", _sim("times_us_as_ms"), 0,
     "warning: [experiment] recoupling_times_ms = 600 ms: unusual recoupling time (above 200 ms); likely a unit "
     "mistake: did you mean 600 us?"),
    ("spec-saturation-10s", _sim("sat_10s"), 2, "length_us = 1e+07 us: above 50 ms"),
    ("spec-saturation-1e5-periods", _sim("sat_1e5_periods"), 2,
     "length_rotor_periods = 100000 at mas 10000 hz, a length = 10 s: above 50 ms"),
    ("spec-nu1-hz-as-khz", _sim("nu1_hz_as_khz"), 2, "nu1_khz = 30000 khz: above 1 mhz"),
    ("spec-field-400", _sim("field_400"), 2, "field_t = 400 t: above 40 t"),
    ("spec-max-dt-500us", _sim("max_dt_500us"), 2, "max_dt_us = 500 us: above 100 us"),
    ("spec-j-1e5", _sim("j_1e5"), 2, "j_hz = 100000 hz: above 5 khz"),
    ("spec-coordinates-0.3A", _sim("coords_0.3"), 2,
     "coordinates_a: spins 0 and 1 at a distance = 0.3 a: below 1.182 a"),
    ("spec-shift-1e6", _sim("shift_1e6"), 2, "shift_ppm = 1e+06 ppm: above 20000 ppm"),
    ("spec-rf-spread-500", _sim("rf_spread_500"), 2, "fwhm_percent = 500 %: above 100 %"),
    ("opt-mas-10", _st("cell_5A.cif", "--mas", "10"), 2, "--mas 10 (= 10 hz): below 500 hz"),
    ("opt-t-max-8s", _st("cell_5A.cif", "--t-max", "8s"), 2, "--t-max 8s (= 8 s): above 1 s"),
    ("opt-field-400", _st("cell_5A.cif", "--field", "400"), 2, "--field 400 (= 400 t): above 40 t"),
    ("opt-saturation-nu1-30000", _st("cell_5A.cif", "--saturation", "cw:30000:2tr"), 2, "nu1_khz = 30000 khz"),
    # legal but odd: warned
    ("spec-powder-one", _sim("powder_one"), 0, "warning: [powder] 2 (alpha, beta) orientation(s): a (near) single"),
    ("spec-cq-3hz", _sim("cq_3hz"), 0, "warning: [spins[1]] cq_hz = 3 hz: unusual"),
    ("spec-mas-1khz", _sim("mas_1khz"), 0, "warning: [experiment] mas_rate_hz = 1000 hz: unusual mas rate"),
    ("opt-powder-one", _sim("ok", "--powder", "1"), 0, "warning: --powder 1: 2 (alpha, beta) orientation(s) is a"),
    ("opt-structure-powder-three", ["structure", "{in}/ok.xyz", "--observe", "C", *STRUCT, "--powder", "3", "--gamma",
                                    "2", "--t-max", "1ms"], 0, "warning: --powder 3: 3 (alpha, beta) orientation(s)"),
]

RUNAWAY = [
    ("struct-cutoff-200-on-5A-cell", _st("cell_5A.cif", "--cutoff", "200"), 2, "respdor structure"),
    ("struct-cutoff-200-search", _st("cell_5A_8atoms.cif", "--cutoff", "200"), 2, "candidate neighbour pairs"),
    ("struct-powder-1e8", _st("cell_5A.cif", "--powder", "100000000"), 2, "crystallites"),
    ("struct-six-al-general", _st("six_al.xyz", "--method", "general"), 2, "general engine"),
    ("struct-convergence-shells", _st("cell_5A.cif", "--cutoff-convergence", "3A:80A:1.6A", "--powder", "4181"), 2,
     "simulations"),
    ("spec-powder-1e6x64", _sim("powder_huge"), 2, "crystallites"),
    ("spec-t-max-900ms-big-powder", _sim("t_max_900ms_big_powder"), 2, "crystallites"),
    ("spec-powder-override", _sim("cw", "--powder", "5000000", "--gamma", "64"), 2, "crystallites"),
    ("deconvolve-40-sites", ["deconvolve", "{in}/spectrum.txt", "--sites", *SITES40], 2,
     "deconvolve --sites (40 sites): estimated work"),
]

CASES = [("damaged", *c) for c in DAMAGED] + [("units", *c) for c in UNITS] + [("runaway", *c) for c in RUNAWAY]


def _hashes(root: Path):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _expand(argv, ws):
    return [a.replace("{in}", str(ws / "in")).replace("{out}", str(ws / "out")) for a in argv]


@pytest.mark.parametrize("case", CASES, ids=[c[1] for c in CASES])
def test_fuzz_structure_spec(case, ws, capsys, monkeypatch):
    cls, name, argv, status, needle = case
    monkeypatch.chdir(ws / "out")
    before, out_before = _hashes(ws / "in"), _hashes(ws / "out")
    try:
        rc = main(_expand(argv, ws))
    except SystemExit as exc:
        rc = exc.code
    cap = capsys.readouterr()
    err = cap.err
    assert "Traceback" not in err + cap.out and "internal error" not in err
    assert rc == status, f"{name}: exit {rc}, stderr: {err}"
    if status == 2:
        lines = [ln for ln in err.splitlines() if ln.startswith("respdor: error:")]
        assert len(lines) == 1, err
        assert needle in lines[0].lower(), lines[0]
        if cls == "runaway":
            assert "--allow-long" in lines[0] and "estimated work" in lines[0]
        # nothing ran: no curve table, no simulation line
        assert "wrote" not in err and " engine, " not in err
    else:
        assert "respdor: error" not in err
        assert needle in err.lower(), err
    assert _hashes(ws / "out") == out_before, "a file was written"
    assert _hashes(ws / "in") == before, "an input file changed"


def test_every_class_has_three_members():
    for cls in ("damaged", "units", "runaway"):
        assert sum(c[0] == cls for c in CASES) >= 3


# --- the mechanisms themselves (no clock anywhere)

def test_ranges_are_ordered_and_bundled_specs_are_plain():
    from spinsim.plausibility import RANGES
    from spinsim.spec import load_spec

    for name, r in RANGES.items():
        assert r.lo <= r.usual_lo <= r.usual_hi <= r.hi, name
    for path in sorted(DATA.glob("*.toml")):
        assert load_spec(path).warnings == [], path


def test_reference_cost_is_the_bundled_spec():
    from spinsim.spec import load_spec

    from respdor.workload import REFERENCE_COST, SIMULATION_LIMIT

    costs = {p.name: load_spec(p).work_counts()["cost"] for p in DATA.glob("*.toml")}
    assert costs["c13_al27_respdor.toml"] == REFERENCE_COST
    assert max(costs.values()) < SIMULATION_LIMIT  # every bundled spec runs without --allow-long


def test_work_counts_follow_the_inputs():
    """The cost model is a product of counts: doubling the powder doubles it; the fast engine's cost
    does not grow with the recoupling time (closed form per rotor period); the general engine of
    n spin-5/2 partners grows as 6^(2n) (block-wise products); its block steps are built once for the
    gamma angles that share them."""
    from spinsim.plausibility import work_from_counts

    a = work_from_counts("fast", [6], 1000, np.arange(11) * 2e-4, 1e4, 1e-4)
    b = work_from_counts("fast", [6], 2000, np.arange(11) * 2e-4, 1e4, 1e-4)
    # the fast engine: 200 block steps and 11 times at 4 per step, no step per rotor period
    assert b["cost"] == 2 * a["cost"] and a["steps"] == 200 + 3
    longer = work_from_counts("fast", [6], 1000, np.arange(11) * 2e-3, 1e4, 1e-4)
    assert longer["steps"] == a["steps"]
    # an ideal saturation: no block, a step per time
    ideal = work_from_counts("fast", [6], 1000, np.arange(11) * 2e-3, 1e4, 1e-4, ideal_saturation=True)
    assert ideal["steps"] == 11
    ga = work_from_counts("general", [6], 1000, np.arange(11) * 2e-4, 1e4, 1e-4)
    assert ga["steps"] == 11 + 20 + 200
    g2 = work_from_counts("general", [6, 6], 1000, [0, 1e-3], 1e4, 1e-4)
    g3 = work_from_counts("general", [6, 6, 6], 1000, [0, 1e-3], 1e4, 1e-4)
    assert g3["cost"] / g2["cost"] == pytest.approx(6.0**2)
    # 16 gamma angles on a 200-step rotor period: 8 share each step (gcd); a 100 us block: 200 steps / 8
    one = work_from_counts("general", [6], 16, [0, 1e-3], 1e4, 1e-4, n_gamma=1)
    shared = work_from_counts("general", [6], 16, [0, 1e-3], 1e4, 1e-4, n_gamma=16)
    assert one["steps"] == 2 + 10 + 200 and shared["steps"] == 2 + 10 + 25


def test_the_coupled_engine_model_counts_its_parts():
    """The coupled engine's model, part by part: blocks of equal total m; time points cost only their
    products; the gamma angles and the powder scale it; the rf steps exist only under rf; Magnus steps
    are half as many at twice the step and 1.7 x the cost each."""
    from spinsim.plausibility import (COUPLED_MAGNUS_STEP, UNITS_PER_CPU_SECOND, coupled_seconds, total_m_blocks,
                                      work_from_counts)

    from spinsim import _coupled_blocks, _drivers_coupled, plausibility

    # the engine's block-size switch and factor-step bound, repeated in the model
    assert plausibility.FINE_PER_FACTOR == _drivers_coupled.MAX_FINE_PER_FACTOR
    blocks_src = inspect.getsource(_coupled_blocks.expm_block)
    assert f"if n <= {plausibility.CLOSED_FORM_STATES}:" in blocks_src
    assert list(total_m_blocks([6, 6, 6])) == [1, 3, 6, 10, 15, 21, 25, 27, 27, 25, 21, 15, 10, 6, 3, 1]
    assert list(total_m_blocks([4, 2])) == [1, 2, 2, 2, 1] and total_m_blocks([6] * 4).sum() == 6**4
    args = ([6, 6, 6], 16, 21, 1e4, 2e-4, 0.5e-6)
    cw, steps = coupled_seconds(*args, False)
    ideal, ideal_steps = coupled_seconds(*args, True)
    assert steps == 2 * ideal_steps == 4 * 208 and ideal < cw  # 208 steps of 0.48 us per rotor period
    fewer_times = coupled_seconds([6, 6, 6], 16, 6, 1e4, 2e-4, 0.5e-6, False)[0]
    assert 0.7 < fewer_times / cw < 1  # the steps dominate; the times cost only their products
    magnus = coupled_seconds([6, 6, 6], 16, 21, 1e4, 2e-4, 1e-6, False, "magnus4")
    assert magnus[1] == 4 * 112 and magnus[0] < cw
    piece = coupled_seconds([6, 6, 6], 16, 21, 1e4, 2e-4, 1e-6, False)[0]
    assert 1 < magnus[0] / piece < COUPLED_MAGNUS_STEP
    assert coupled_seconds([6, 6], *args[1:], False)[0] < cw / 5  # 36 partner states against 216
    assert coupled_seconds([6] * 13, *args[1:], False) == (1e250, steps)  # no run of 6^13 states is possible
    huge = work_from_counts("coupled", [6] * 40, 1000, [0, 1e-3], 1e4, 3e-4, n_gamma=10)
    assert 1e250 < huge["cost"] < float("inf")
    counts = work_from_counts("coupled", [6, 6, 6], 13 * 16, np.arange(21) * 4e-4, 1e4, 1e-4 + 2e-4, 0.5e-6,
                              n_gamma=16, saturation_s=2e-4)
    assert counts["cost"] == pytest.approx(13 * cw * UNITS_PER_CPU_SECOND)
    assert counts["crystallites"] * counts["steps"] * counts["per_step"] == pytest.approx(counts["cost"])
    double = work_from_counts("coupled", [6, 6, 6], 26 * 16, np.arange(21) * 4e-4, 1e4, 3e-4, n_gamma=16)
    assert double["cost"] == pytest.approx(2 * counts["cost"])  # saturation_s from block_s less a rotor period


def test_allow_long_runs_and_says_the_estimate(capsys):
    import io

    from respdor.errors import UserError
    from respdor.workload import check_work, fit_work

    work = fit_work(3, 4096, 121, "the sites")
    with pytest.raises(UserError, match="--allow-long"):
        check_work(work, False, "deconvolve")
    buf = io.StringIO()
    assert check_work(work, True, "deconvolve", stream=buf) is True
    assert "estimated work: 3 start(s) x 4096 points x 121^2 parameters" in buf.getvalue()
    quiet = io.StringIO()
    assert check_work(fit_work(3, 4096, 10, "the sites"), False, "deconvolve", stream=quiet) is False
    assert quiet.getvalue() == ""


def test_occupancy_patterns_match_the_enumeration():
    """The pattern count the estimate uses is the count site_curve simulates."""
    from respdor.structure import _enumerate, occupancy_patterns

    for n, p in ((5, 0.047), (12, 0.047), (8, 0.5), (3, 0.128)):
        calls = []
        _enumerate(n, p, lambda pat: calls.append(pat) or np.zeros(1), 1e-4)
        assert occupancy_patterns(n, p) == len(calls)
    assert occupancy_patterns(20, 0.05, n_samples=256) == 256
    assert occupancy_patterns(7, 1.0) == 1


def test_a_long_simulation_says_its_estimate_and_shows_progress(ws, capsys, monkeypatch):
    """Above the notice threshold the estimate is printed before the run and progress is shown
    (the threshold is lowered here so that a small spec crosses it: no clock involved)."""
    import respdor.workload as wl

    monkeypatch.setattr(wl, "SIMULATION_NOTICE", 0.0)
    monkeypatch.chdir(ws / "out")
    assert main(["simulate", str(ws / "in" / "ok.toml"), "--no-files"]) == 0
    err = capsys.readouterr().err
    first = err.index("estimated work: 84 crystallites x ")
    assert first < err.index("respdor simulate:")  # before the run starts
    assert "x the bundled data/c13_al27_respdor.toml" in err
    # spinsim's progress bar (spinsim.progress: crystallites done of the total) follows
    bar = err[err.index("respdor simulate:"):]
    assert "spinsim: 100%" in bar and "84/84" in bar and "crystallites/s" in bar
