"""Adversarial inputs to fit / convert / plan / integrate and to read_curve / fit_curve(s).

Each CLI case checks: exit status, one ``respdor: error:`` line naming the file, line, option or
value, no traceback, every input byte-identical, and no file written by a refused run. Library cases
check that the same mistakes are refused by the Python functions. All cases are analytical fits of
15-point curves or 12-row Bruker series: cheap and independent of the machine's speed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from respdor.cli import main
from respdor.curve import DephasingCurve
from respdor.errors import UserError
from respdor.fitting import CurveModel, fit_curve, fit_curves
from respdor.io import read_curve
from respdor.report import format_number
from filetree import hashes as _hashes  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SERIES = Path(__file__).resolve().parent / "data" / "bruker_respdor_pseudo2d"

# the bundled synthetic curve as t_ms, dS/S0, sigma (D = 503 Hz, f = 0.24)
T_MS = np.round(np.arange(1, 16) * 0.2, 3)


def _write(path, header, cols):
    path.write_text(header + "\n" + "".join(",".join(f"{c[k]:.6g}" for c in cols) + "\n"
                                            for k in range(len(cols[0]))))


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = tmp_path_factory.mktemp("advfit")
    inp = w / "in"
    inp.mkdir()
    (w / "out").mkdir()
    shutil.copy(DATA / "respdor_13C27Al_synthetic.csv", inp / "curve.csv")
    shutil.copytree(SERIES, inp / "series")
    curve = read_curve(inp / "curve.csv")
    d, s = curve.dss0, curve.sigma
    _write(inp / "dss.csv", "t_ms,dSS0,sigma", [T_MS, d, s])
    _write(inp / "dup.csv", "t_ms,dSS0,sigma", [np.r_[T_MS, T_MS[:3]], np.r_[d, d[:3]], np.r_[s, s[:3]]])
    _write(inp / "rotor_frac.csv", "n_rotor,dSS0,sigma", [T_MS * 10 + 0.5, d, s])
    _write(inp / "rotor.csv", "n_rotor,dSS0,sigma", [T_MS * 10, d, s])
    _write(inp / "zero.csv", "t_ms,dSS0,sigma", [T_MS, 0 * d, s])
    _write(inp / "tiny_sigma.csv", "t_ms,dSS0,sigma", [T_MS, d, s * 1e-9])
    _write(inp / "sigma_x1000.csv", "t_ms,dSS0,sigma", [T_MS, d, s * 1e3])
    _write(inp / "s1s0.csv", "t_ms,dSS0,sigma", [T_MS, 1 - d, s])
    _write(inp / "percent.csv", "t_ms,dSS0,sigma", [T_MS, 100 * d, 100 * s])
    _write(inp / "sigma_zero.csv", "t_ms,dSS0,sigma", [T_MS, d, np.where(T_MS == 0.8, 0, s)])
    _write(inp / "s1_over_s0.csv", "t_ms,S1/S0,sigma", [T_MS, 1 - d, s])
    t = np.linspace(0.01, 3, 2500)
    _write(inp / "many.csv", "t_ms,dSS0,sigma", [t, 0.24 * (1 - np.exp(-(t / 1.5) ** 2)), np.full(t.size, 0.02)])
    (inp / "obs_cd.csv").write_text("# observe = 111Cd\n" + (inp / "dss.csv").read_text())
    (inp / "two_observe.csv").write_text("# observe = 13C\n# observe = 111Cd\n" + (inp / "dss.csv").read_text())
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
    if rc == 2:
        assert _hashes(ws / "out") == out_before, "a refused run wrote a file"
    return rc, cap


FIT = ["fit", "--no-files", "--no-intervals"]
INTEG = ["integrate", "{in}/series", "--region", "0", "30", "--noise-region", "-80", "-40", "--mas", "10k",
         "--periods-per-count", "2", "-o", "{out}/c.csv"]
PLAN = ["plan", "--fraction", "0.24", "--snr", "40", "--scans", "64", "--t2prime", "8ms", "--mas", "10k",
        "--target-distance-error", "0.1"]

# (id, argv, text the one error line must contain)
REFUSED = [
    # damaged / impossible curve files
    ("copied-lines", FIT + ["{in}/dup.csv"], ["dup.csv", "t = 0.2 ms", "appears more than once", "3 repeated"]),
    ("fractional-rotor-count", FIT + ["{in}/rotor_frac.csv", "--mas", "10k"],
     ["rotor_frac.csv:2", "2.5", "not a whole number of rotor periods"]),
    ("sigma-zero", FIT + ["{in}/sigma_zero.csv"], ["sigma_zero.csv:5", "must be > 0"]),
    ("percent", FIT + ["{in}/percent.csv"], ["percent.csv:", "not a normalised dephasing"]),
    ("s1-over-s0-header", FIT + ["{in}/s1_over_s0.csv"], ["s1_over_s0.csv:1", "'S1/S0'"]),
    ("observe-comment-twice", FIT + ["{in}/two_observe.csv"],
     ["two_observe.csv:2", "'# observe = 111Cd' contradicts the earlier '# observe = 13C'"]),
    ("finite-pulse-mas-10-hz", FIT + ["{in}/dss.csv", "--sequence", "redor-finite", "--mas", "10", "--pulse-length",
                                      "10us"], ["--mas 10 (= 10 Hz)", "did you mean 10 kHz"]),
    ("pulse-length-1ns", FIT + ["{in}/dss.csv", "--sequence", "redor-finite", "--mas", "10k", "--pulse-length",
                                "1ns"], ["--pulse-length 1ns", "below 10 ns"]),
    # runaway work
    ("2500-points", FIT + ["{in}/many.csv"], ["2500 recoupling times", "--allow-long"]),
    # contradictions / absurd values between options
    ("observe-is-partner", FIT + ["{in}/dss.csv", "--partner", "13C"], ["both 13C", "--observe/--partner"]),
    ("partners-100", FIT + ["{in}/dss.csv", "--partners", "100"], ["1 to 12", "got 100"]),
    ("prefix-names-no-curve", FIT + ["{in}/dss.csv", "{in}/rotor.csv", "--mas", "10k", "--fix", "c5_f=0.3"],
     ["c5_fraction", "2 curve(s)", "c0 to c1"]),
    ("file-cd-option-c", FIT + ["{in}/obs_cd.csv", "--observe", "13C"], ["--observe 13C", "111Cd", "contradict"]),
    ("fix-D-and-r", FIT + ["{in}/dss.csv", "--fix", "D=500", "--fix", "r=2.5"], ["same distance"]),
    ("fix-and-bound", FIT + ["{in}/dss.csv", "--fix", "D=500", "--bound", "D=300:700"],
     ["--bound D=300:700", "fixed (--fix D=500)"]),
    ("bound-reversed", FIT + ["{in}/dss.csv", "--bound", "D=700:300"], ["--bound D=700:300", "low end"]),
    ("outdir-is-device", ["fit", "{in}/dss.csv", "--no-intervals", "--output-dir", "/dev/null"],
     ["--output-dir /dev/null"]),
    # integrate: absurd line broadening
    ("lb-wider-than-spectrum", INTEG + ["--lb", "1e7"], ["line broadening 1e+07 Hz", "wider than the whole spectrum"]),
    ("lb-negative-huge", INTEG + ["--lb", "-5000"], ["line broadening -5000 Hz", "amplified noise"]),
    ("integ-noise-on-signal", INTEG[:6] + ["10", "40"] + INTEG[8:], ["--noise-region 10 40", "overlaps"]),
    # plan: unit-confused values, a distance no design can measure
    ("plan-recycle-huge", PLAN + ["--distance", "2.5", "--recycle", "100000"], ["--recycle 100000", "above 10000 s"]),
    ("plan-recycle-tiny", PLAN + ["--distance", "2.5", "--recycle", "0.1ms"], ["--recycle 0.1ms", "below 1 ms"]),
    ("plan-distance-unmeasurable", PLAN + ["--distance", "25", "--recycle", "5"],
     ["no number of scans reaches the target", "--distance"]),
]


@pytest.mark.parametrize("case", REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_with_one_line(case, ws, capsys, monkeypatch):
    _, argv, needles = case
    rc, cap = _run(ws, argv, capsys, monkeypatch)
    lines = [line for line in cap.err.splitlines() if line.startswith("respdor: error:")]
    assert rc == 2 and len(lines) == 1, f"exit {rc}: {cap.err}"
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_allow_long_passes_the_work_check(capsys):
    # the fit itself is not run here (2500 points cost a CPU minute): --allow-long passes the same check
    from respdor.workload import check_work, curve_fit_work

    assert check_work(curve_fit_work(2500, 1), True, "fit") is True
    assert "estimated work: 2500 recoupling times" in capsys.readouterr().err
    assert check_work(curve_fit_work(15, 1), False, "fit") is False


def test_errors_too_large_are_warned_in_text_and_json(ws, capsys, monkeypatch):
    rc, cap = _run(ws, FIT + ["{in}/sigma_x1000.csv", "--json", "-"], capsys, monkeypatch)
    assert rc == 0
    warnings = "\n".join(json.loads(cap.out)["warnings"])
    assert "scatter 1e+03x less than their stated errors" in warnings or "less than their stated errors" in warnings
    assert "errors and intervals are too wide" in cap.err
    rc, cap = _run(ws, FIT + ["{in}/dss.csv", "--json", "-"], capsys, monkeypatch)
    assert "less than their stated errors" not in cap.err  # honest errors: no such warning


@pytest.mark.parametrize("fname", ["zero.csv", "tiny_sigma.csv"])
def test_table_columns_never_run_together(fname, ws, capsys, monkeypatch):
    rc, cap = _run(ws, FIT + [f"{{in}}/{fname}"], capsys, monkeypatch)
    assert rc == 0
    rows = [line for line in cap.out.splitlines() if line.startswith(("D (Hz)", "r (A)"))]
    assert len(rows) == 2
    for row in rows:
        value, err = row[22:34], row[34:46]
        assert value.startswith(" ") and err.startswith(" "), row  # a space always separates the columns
        float(value), float(err)  # each column is one readable number


def test_format_number_width():
    assert format_number(480.599478275, 9.2e-8, 11) == "4.8060e+02"
    assert format_number(1.906e15, 3e15, 11) == "1.9060e+15"
    assert format_number(481.2, 92.0, 11) == "481"


def test_s1s0_given_as_dss0_is_not_silent(ws, capsys, monkeypatch):
    rc, cap = _run(ws, FIT + ["{in}/s1s0.csv"], capsys, monkeypatch)
    assert rc == 0
    assert "the model allows at most" in cap.out and "shorter than any 13C-27Al bond" in cap.out


# --- convert: a distance no such pair can have is named
@pytest.mark.parametrize("argv, needle", [
    (["convert", "--pair", "13C", "27Al", "-r", "0.1"], "r = 0.1 A is shorter than any 13C-27Al pair"),
    (["convert", "--pair", "13C", "27Al", "-d", "1MHz"], "r = 0.199 A is shorter than any 13C-27Al pair"),
])
def test_convert_warns_impossible_distance(argv, needle, capsys):
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert needle in err and "check the unit" in err


def test_convert_plausible_distance_is_quiet(capsys):
    assert main(["convert", "--pair", "13C", "27Al", "-r", "2.5"]) == 0
    assert capsys.readouterr().err == ""


def test_plan_unusual_recycle_warns(ws, capsys, monkeypatch):
    rc, cap = _run(ws, PLAN + ["--distance", "2.5", "--recycle", "5ms"], capsys, monkeypatch)
    assert rc == 0 and "warning: --recycle 5ms" in cap.err and "unusual recycle delay" in cap.err


# --- the library refuses the same mistakes
@pytest.fixture(scope="module")
def curve(ws):
    return read_curve(ws / "in" / "dss.csv")


@pytest.mark.parametrize("kwargs, match", [
    ({"fix": {"fraction": "0.2"}}, r"fix fraction='0.2': must be a number"),
    ({"fix": {"fraction": float("nan")}}, r"must be finite"),
    ({"bounds": {"coupling_hz": 5}}, r"must be a \(low, high\) pair"),
    ({"initial": {"coupling_hz": None}}, r"must be a number"),
    ({"fix": {"c3_fraction": 0.2}}, r"names curve 3, but the fit has 1 curve"),
])
def test_library_refuses_bad_constraints(curve, kwargs, match):
    with pytest.raises(UserError, match=match):
        fit_curve(curve, intervals=False, **kwargs)


def test_library_refuses_non_curves_and_impossible_models(curve):
    with pytest.raises(UserError, match="curve 0 is a list, not a DephasingCurve"):
        fit_curves([[0.1, 0.2]], CurveModel())
    with pytest.raises(UserError, match="both 13C"):
        CurveModel(observe="13C", partner="13C")
    with pytest.raises(UserError, match="1 to 12"):
        CurveModel(n_partners=13)
    with pytest.raises(UserError, match="appears more than once"):
        fit_curve(DephasingCurve(np.r_[curve.time_s, curve.time_s[:1]], np.r_[curve.dss0, curve.dss0[:1]],
                                 sigma=np.r_[curve.sigma, curve.sigma[:1]]), intervals=False)
    with pytest.raises(UserError, match="2500 recoupling times"):
        fit_curve(DephasingCurve(np.linspace(1e-4, 3e-3, 2500), np.linspace(0, 0.2, 2500), sigma=np.full(2500, 0.02)))
    with pytest.raises(UserError, match="not a whole number of rotor periods"):
        read_curve(Path(curve.source).parent / "rotor_frac.csv", mas_rate_hz=1e4)


def test_library_repeat_time_with_own_noise_is_accepted(curve):
    # a real repeat measurement at the same time has its own value: not refused
    t = np.r_[curve.time_s, curve.time_s[4]]
    d = np.r_[curve.dss0, curve.dss0[4] + 0.01]
    s = np.r_[curve.sigma, curve.sigma[4]]
    res = fit_curve(DephasingCurve(t, d, sigma=s), intervals=False)
    assert 300 < res.parameters["coupling_hz"].value < 700


def test_closed_pipe_is_a_quiet_exit(ws, monkeypatch, capsys):
    # `respdor fit ... | head -1`: the reader goes away; no "internal error", the shell's SIGPIPE status
    class Closed:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

    monkeypatch.chdir(ws / "out")
    monkeypatch.setattr("sys.stdout", Closed())
    rc = main(FIT + [str(ws / "in" / "dss.csv")])
    err = capsys.readouterr().err
    assert rc == 141 and "internal error" not in err and "Traceback" not in err
