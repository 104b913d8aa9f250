"""Fuzz table, adversarial round: mistaken or unusual inputs of ``simulate``, ``structure`` and ``library build``.

Members of the classes of issue "never silently wrong" that earlier tables did not try: spec keys that say
the same thing twice or belong to another saturation type / recoupling scheme, options that have no effect,
contradictions between an option and a file, impossible cells and damaged tensors, unit-confused option
values, outputs named as another kind of file. Each case runs through the command line as a user meets it:
exit status (2 for a mistake, 0 for a legal input that must be warned about), one line naming the
key / option / file, no traceback, no stray output, every input byte-identical. Every refused case is
refused before any simulation starts; the few accepted cases use a 21 x 4 powder and t_max <= 1 ms.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

pytest.importorskip("ase")
pytest.importorskip("numba")

from respdor.cli import main  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "data"

from small_spec import SMALL_SPEC as SPEC  # noqa: E402

# name -> (text replaced, replacement) in SPEC
SPEC_EDITS = {
    "mas_twice": ("mas_rate_hz = 10000", "mas_rate_hz = 10000\nmas_rate_khz = 12"),
    "times_twice": ("t_max_ms = 0.6", "t_max_ms = 0.6\nrecoupling_times_ms = [0, 0.2, 0.4]"),
    "cq_twice": ("cq_mhz = 3.0", "cq_mhz = 3.0\ncq_hz = 3e6"),
    "times_unsorted": ("t_max_ms = 0.6", "recoupling_times_ms = [0.4, 0, 0.2, 0.2]"),
    "cw_with_sweep": ('type = "ideal"', 'type = "cw"\nnu1_khz = 30\nlength_us = 200\nsweep_khz = 500'),
    "ideal_with_nu1": ('type = "ideal"', 'type = "ideal"\nnu1_khz = 30\nlength_us = 200'),
    "two_lengths": ('type = "ideal"', 'type = "cw"\nnu1_khz = 30\nlength_us = 200\nlength_rotor_periods = 2'),
    "wurst_with_phase": ('type = "ideal"', 'type = "wurst"\nnu1_khz = 30\nlength_us = 200\nsweep_khz = 400\n'
                                          'phase_deg = 90'),
    "redor_with_nu1": ('scheme = "redor"', 'scheme = "redor"\nnu1_khz = 20'),
    "sr4_with_placement": ('scheme = "redor"', 'scheme = "sr4"\nplacement = "centred"'),
    "offset_absent": ("[powder]", '[simulation]\noffsets_khz = {"15N" = 5}\n\n[powder]'),
    "convention_no_file": ('scheme = "zcw"', 'scheme = "zcw"\nconvention = "simpson"'),
    "powder_fraction": ("n = 21", "n = 21.7"),
    "gamma_fraction": ("n_gamma = 4", "n_gamma = 4.5"),
    "redor_ideal_sat": ('type = "respdor"', 'type = "redor"'),
    "uncoupled_1h": ("[[dipolar]]", '[[spins]]\nisotope = "1H"\n\n[[dipolar]]'),
    "cw": ('type = "ideal"', 'type = "cw"\nnu1_khz = 30\nlength_rotor_periods = 2'),
}

MAGRES = (DATA / "al_carboxylate_model.magres").read_text()
CIF = """data_x
_cell_length_a 10
_cell_length_b 10
_cell_length_c 10
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma {gamma}
_symmetry_space_group_name_H-M 'P 1'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
C1 C 0.0 0.0 0.0
Al1 Al 0.25 0.0 0.0
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = tmp_path_factory.mktemp("fuzz_adv_sim")
    inp = w / "in"
    inp.mkdir()
    (w / "out").mkdir()
    (inp / "spec.toml").write_text(SPEC)
    for name, (old, new) in SPEC_EDITS.items():
        assert old in SPEC, name
        (inp / f"{name}.toml").write_text(SPEC.replace(old, new, 1))
    (inp / "p31.toml").write_text(SPEC.replace('isotope = "27Al"\ncq_mhz = 3.0\neta_q = 0.3', 'isotope = "31P"'))
    (inp / "three.cry").write_text("0 0 1\n90 90 1\n45 45 1\n")
    (inp / "cryfile.toml").write_text(SPEC.replace('scheme = "zcw"\nn = 21', 'file = "three.cry"'))
    (inp / "model.xyz").write_text((DATA / "al_carboxylate_model.xyz").read_text())
    (inp / "model.magres").write_text(MAGRES)
    (inp / "nan.magres").write_text(MAGRES.replace("-0.00798355", "nan"))
    (inp / "inf.magres").write_text(MAGRES.replace("-75.00000000", "inf"))
    (inp / "gamma200.cif").write_text(CIF.format(gamma=200))
    (inp / "gamma0.cif").write_text(CIF.format(gamma=0))
    (inp / "angles_open.cif").write_text(CIF.format(gamma=90).replace("_cell_angle_alpha 90", "_cell_angle_alpha 170")
                                         .replace("_cell_angle_beta 90", "_cell_angle_beta 10"))
    (inp / "ok.cif").write_text(CIF.format(gamma=90))
    (inp / "negative.csv").write_text("t_ms,dSS0,sigma\n" + "".join(
        f"{0.2 * i:.1f},{-0.02 * i:.3f},0.01\n" for i in range(1, 6)))
    return w


def _sim(name, *extra):
    return ["simulate", f"{{in}}/{name}.toml", "--no-files", *extra]


ST = ["structure", "--partner", "27Al", "--powder", "21", "--gamma", "4", "--t-max", "1ms", "--no-files"]
LIB = ["library", "build", "{in}/spec.toml", "-o", "{out}/lib.h5", "--workers", "1"]

# (id, argv, exit status, text the one-line error (status 2) or the output (status 0) must contain, lower case)
CASES = [
    # --- spec keys that say the same thing twice: a contradiction, not a silent preference
    ("spec-mas-hz-and-khz", _sim("mas_twice"), 2, "give mas_rate_hz or mas_rate_khz, not both"),
    ("spec-tmax-and-list", _sim("times_twice"), 2, "give t_max_ms or recoupling_times_ms, not both"),
    ("spec-cq-hz-and-mhz", _sim("cq_twice"), 2, "give cq_hz or cq_mhz, not both"),
    ("spec-two-sat-lengths", _sim("two_lengths"), 2, "give length_us or length_rotor_periods, not both"),
    ("spec-times-unsorted", _sim("times_unsorted"), 2, "recoupling_times_ms = [0.4, 0, 0.2, 0.2]: the times must"),
    # --- keys (and options) that would have no effect
    ("spec-cw-with-sweep", _sim("cw_with_sweep"), 2, "sweep_khz has no effect with type = 'cw'"),
    ("spec-ideal-with-nu1", _sim("ideal_with_nu1"), 2, "length_us, nu1_khz has no effect with type = 'ideal'"),
    ("spec-wurst-with-phase", _sim("wurst_with_phase"), 2, "phase_deg has no effect with type = 'wurst'"),
    ("spec-redor-with-nu1", _sim("redor_with_nu1"), 2, "nu1_khz has no effect with scheme = 'redor'"),
    ("spec-sr4-with-placement", _sim("sr4_with_placement"), 2, "placement has no effect with scheme = 'sr4'"),
    ("spec-offset-absent-isotope", _sim("offset_absent"), 2, "'15n' is not in the spin system"),
    ("spec-convention-without-file", _sim("convention_no_file"), 2, "convention has no effect without file"),
    ("spec-redor-ideal-saturation", _sim("redor_ideal_sat"), 2, "type 'ideal' has no effect with type = 'redor'"),
    ("st-seed-full-abundance", ST + ["{in}/model.xyz", "--observe", "C", "--seed", "3"], 2,
     "--seed has no effect when every partner site holds the partner isotope"),
    ("st-samples-full-abundance", ST + ["{in}/model.xyz", "--observe", "C", "--samples", "64"], 2,
     "--samples has no effect"),
    ("lib-powder-tol-checks-0", LIB + ["--checks", "0", "--powder-tol", "0.01"], 2,
     "--powder-tol has no effect with --checks 0"),
    ("sim-no-files-with-export-simpson", ["simulate", "{in}/cw.toml", "--no-files", "--export-simpson",
                                         "{out}/x.in"], 2, "--no-files has no effect with --export-simpson"),
    ("sim-powder-over-crystallite-file", ["simulate", "{in}/cryfile.toml", "--no-files", "--powder", "21"], 2,
     "--powder 21 contradicts the spec's [powder] file 'three.cry'"),
    ("sim-no-files-with-output", ["simulate", "{in}/spec.toml", "--no-files", "-o", "{out}/c.csv"], 2,
     "-o has no effect with --no-files"),
    ("st-no-files-with-plot", ST + ["{in}/model.xyz", "--observe", "C", "--plot", "{out}/p.png"], 2,
     "--plot has no effect with --no-files"),
    ("st-cq-overridden-by-efg", ST + ["{in}/model.magres", "--observe", "0", "--cq", "5MHz"], 0,
     "--cq has no effect: "),
    # --- counts that are not whole numbers
    ("spec-powder-fraction", _sim("powder_fraction"), 2, "n = 21.7: a number of powder orientations is a whole"),
    ("spec-gamma-fraction", _sim("gamma_fraction"), 2, "n_gamma = 4.5: a number of gamma angles is a whole"),
    # --- contradictions between an option and a file
    ("st-observe-isotope-other-element", ST + ["{in}/model.xyz", "--observe", "C", "--observe-isotope", "15N"], 2,
     "--observe-isotope 15n contradicts --observe c"),
    ("st-same-structure-twice", ST + ["{in}/model.xyz", "{in}/model.xyz", "--observe", "C"], 2, "given twice"),
    # --- damaged or impossible structures
    ("st-magres-nan-efg", ST + ["{in}/nan.magres", "--observe", "0"], 2, "nan.magres:24: a efg tensor must be finite"),
    ("st-magres-inf-ms", ST + ["{in}/inf.magres", "--observe", "0"], 2, "inf.magres:21: a ms tensor must be finite"),
    ("st-cif-gamma-200", ST + ["{in}/gamma200.cif", "--observe", "C"], 2, "the cell spans no volume as written"),
    ("st-cif-gamma-0", ST + ["{in}/gamma0.cif", "--observe", "C"], 2, "gamma0.cif"),
    ("st-cif-angles-cannot-close", ST + ["{in}/angles_open.cif", "--observe", "C"], 2, "angles_open.cif"),
    # --- unit-confused option values
    ("lib-couplings-khz-as-hz", LIB + ["--couplings", "100:3000k:8"], 2,
     "below 1.182 a, the lowest distance for 13c-27al"),
    ("lib-tmax-bare-2000", LIB + ["--t-max", "2000"], 2, "--t-max 2000 (= 2 s): above 1 s"),
    ("lib-vary-cq-spin-half-partner", ["library", "build", "{in}/p31.toml", "-o", "{out}/lib.h5", "--workers", "1",
                                       "--vary", "cq=1:3MHz:3"], 2,
     "--vary cq: at 1e+06 hz: [spins[1]] 31p has spin 1/2"),
    ("lib-vary-cq-beyond-larmor", LIB + ["--vary", "cq=1:300MHz:3"], 2, "exceeds the 27al larmor frequency"),
    ("lib-workers-0", LIB + ["--workers", "0"], 2, "--workers 0: must be >= 1"),
    ("lib-checks-negative", LIB + ["--checks", "-1"], 2, "--checks -1: must be >= 0"),
    # --- outputs named as another kind of file
    ("sim-csv-named-png", ["simulate", "{in}/spec.toml", "-o", "{out}/curve.png", "--plot", "none"], 2,
     "this output is text (csv/json) but '.png' names a figure"),
    ("sim-json-named-h5", ["simulate", "{in}/spec.toml", "-o", "{out}/c.csv", "--plot", "none", "--json",
                           "{out}/r.h5"], 2, "'.h5' names an hdf5 file"),
    ("lib-output-csv", LIB[:4] + ["{out}/lib.csv", "--workers", "1"], 2, "a library is an hdf5 file"),
    # --- accepted, but said
    ("spec-uncoupled-spin", _sim("uncoupled_1h"), 0, "[spins[2]] 1h has no non-zero [[dipolar]] or [[j]] coupling"),
    ("st-gamma-1", ST[:5] + ["--gamma", "1", "--t-max", "1ms", "--no-files", "{in}/model.xyz", "--observe", "C"], 0,
     "--gamma 1 (= 1): unusual number of gamma angles"),
    ("sim-gamma-1", ["simulate", "{in}/spec.toml", "--no-files", "--gamma", "1"], 0,
     "unusual number of gamma angles"),
    ("st-compare-negative-curve", ST[:-5] + ["--powder", "21", "--gamma", "4", "--no-files", "{in}/model.xyz",
                                             "--observe", "C", "--compare", "{in}/negative.csv"], 0,
     "<= 0: the measured curve does not dephase the way the structure predicts"),
    # --- (a) cases of the same classes, refused well before and kept so
    ("st-cif-ok", ST + ["{in}/ok.cif", "--observe", "C"], 0, "apparent two-spin fit"),
    ("st-abundance-percent", ST + ["{in}/model.xyz", "--observe", "C", "--abundance", "50%"], 2, "--abundance 50%"),
    ("st-saturation-cw-mhz", ST + ["{in}/model.xyz", "--observe", "C", "--saturation", "cw:30MHz:2tr"], 2,
     "likely a unit mistake"),
    ("st-output-devnull", ST[:-1] + ["{in}/model.xyz", "--observe", "C", "-o", "/dev/null"], 2,
     "is a character device"),
    ("lib-vary-eta-above-1", LIB + ["--vary", "eta_q=0:1.5:3"], 2, "out of the physical range"),
]


def _hashes(root: Path):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _expand(argv, ws):
    return [a.replace("{in}", str(ws / "in")).replace("{out}", str(ws / "out")) for a in argv]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fuzz_adv_sim(case, ws, capsys, monkeypatch):
    name, argv, status, needle = case
    monkeypatch.chdir(ws / "out")
    before, out_before = _hashes(ws / "in"), _hashes(ws / "out")
    try:
        rc = main(_expand(argv, ws))
    except SystemExit as exc:
        rc = exc.code
    cap = capsys.readouterr()
    text = cap.err + cap.out
    assert "Traceback" not in text and "internal error" not in text
    assert rc == status, f"{name}: exit {rc}, stderr: {cap.err}"
    if status == 2:
        lines = [line for line in cap.err.splitlines() if line.startswith("respdor: error:")]
        assert len(lines) == 1, cap.err
        assert needle in lines[0].lower(), lines[0]
    else:
        assert "respdor: error" not in cap.err
        assert needle in text.lower(), text
    assert _hashes(ws / "out") == out_before, "a run wrote a file"
    assert _hashes(ws / "in") == before, "an input file changed"


def test_bundled_specs_still_load():
    """The variant and exclusive-key tables refuse nothing the bundled examples use."""
    from spinsim.spec import load_spec

    for path in sorted(DATA.glob("*.toml")):
        assert load_spec(path).warnings == [], path
