"""Fuzz table for curve fitting, ``convert`` and option mechanics: inputs that used to give a
plausible-looking answer with exit 0, an argparse complaint, or a traceback.

Classes (each with members beyond the ones first reported):

* time axes that make the answer absurd (a wrong unit in the header, ``--time-unit``, ``--mas``):
  refused below one rotor period at any MAS rate or beyond any echo's lifetime, warned when
  unusually long or when the fitted distance is shorter than any bond of the pair or not resolved;
  in the library (read_curve, DephasingCurve, fit_curve) as on the command line;
* contradictions between inputs: a ``--simulate`` spec of another nucleus pair than
  ``--observe``/``--partner``, the same curve twice in a global fit;
* options: negative values with units reach the option and are refused by physics (or kept where
  a sign means something), ``--fix``/``--bound``/``--start`` take units, a parameter set twice is
  refused, an option without effect in the given combination is refused (a declared table per
  command);
* Ctrl-C during ``fit --mcmc`` (a real SIGINT to a real process).

CLI cases check the exit status, one ``respdor: error:`` line naming the option / file / value, no
traceback, inputs byte-identical and no file written by a refused run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from respdor import CurveModel, DephasingCurve, UserError, fit_curve, fit_curves, read_curve
from respdor.cli import main
from respdor.models import respdor_dephasing

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
CURVE = DATA / "respdor_13C27Al_synthetic.csv"

from small_spec import SMALL_SPEC as SPEC  # noqa: E402
from filetree import hashes as _hashes  # noqa: E402


def _relabel(text, header=None, scale=1.0):
    """The bundled curve with its time header replaced and/or its time column multiplied."""
    out = []
    for line in text.splitlines():
        if line.startswith("t_ms,") and header:
            line = header + line[len("t_ms"):]
        elif line and line[0].isdigit() and scale != 1.0:
            t, rest = line.split(",", 1)
            line = f"{float(t) * scale:g},{rest}"
        out.append(line)
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = tmp_path_factory.mktemp("fitin")
    (w / "in").mkdir()
    (w / "out").mkdir()
    text = CURVE.read_text()
    files = {
        "curve.csv": text,
        "copy.csv": text,  # the same data under another name
        "t_s.csv": _relabel(text, "t_s"),
        "t_us.csv": _relabel(text, "t_us"),
        "t_s_values.csv": _relabel(text, "t_s", 1e-3),  # same data written in s: same points
        "long.csv": _relabel(text, None, 50.0),  # to 150 ms
        "short.csv": _relabel(text, None, 0.05),  # to 0.15 ms: r below any C-Al bond
        "noheader.csv": "".join(f"{line.split(',')[0]},{1 - float(line.split(',')[2]) / float(line.split(',')[1]):.5f}\n"
                                for line in text.splitlines() if line[:1].isdigit()),
        "rotor.csv": "n_rotor,dSS0\n0,0\n2,0.05\n4,0.1\n6,0.15\n8,0.2\n",
        "spec.toml": SPEC,
    }
    for name, body in files.items():
        (w / "in" / name).write_text(body)
    return w


def _run(ws, argv, capsys, monkeypatch):
    monkeypatch.chdir(ws / "out")
    before, out_before = _hashes(ws / "in"), _hashes(ws / "out")
    argv = [a.replace("{in}", str(ws / "in")) for a in argv]
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        rc = exc.code
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err + cap.out and "np.float64" not in cap.err + cap.out
    assert _hashes(ws / "in") == before, "an input file changed"
    if rc == 2:
        assert _hashes(ws / "out") == out_before, "a refused run wrote a file"
    return rc, cap


def _refused(ws, argv, capsys, monkeypatch, *needles):
    rc, cap = _run(ws, argv, capsys, monkeypatch)
    lines = [line for line in cap.err.splitlines() if line.startswith("respdor: error:")]
    assert rc == 2 and len(lines) == 1, f"exit {rc}: {cap.err}"
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


FIT = ["fit", "--no-files", "--no-intervals"]

# ------------------------------------------------------------------------------------------------
# Time axes that make the answer absurd

TIME_REFUSED = [
    ("header-t_s", FIT + ["{in}/t_s.csv"], ["t_s.csv:9", "reach 3 s", "did you mean ms", "the header says t_s"]),
    ("header-t_us", FIT + ["{in}/t_us.csv"], ["t_us.csv:4", "0.2 us", "one rotor period", "did you mean ms",
                                               "the header says t_us"]),
    ("time-unit-s-given", FIT + ["{in}/noheader.csv", "--time-unit", "s"],
     ["noheader.csv:6", "reach 3 s", "did you mean ms", "--time-unit"]),
    ("time-unit-us-given", FIT + ["{in}/noheader.csv", "--time-unit", "us"], ["noheader.csv:1", "did you mean ms"]),
    ("rotor-mas-10MHz", FIT + ["{in}/rotor.csv", "--mas", "10MHz"],
     ["--mas 10MHz", "above 200 kHz", "highest MAS rate"]),  # the option itself is refused first
]


@pytest.mark.parametrize("case", TIME_REFUSED, ids=[c[0] for c in TIME_REFUSED])
def test_time_axis_refused(case, ws, capsys, monkeypatch):
    assert _refused(ws, case[1], capsys, monkeypatch, *case[2]).startswith("respdor: error:")


TIME_WARNED = [
    ("to-150-ms", "long.csv", ["recoupling times reach 150 ms", "did you mean us", "the header says t_ms"]),
    ("r-below-any-bond", "short.csv", ["r = 0.936 A", "shorter than any 13C-27Al bond",
                                       "with times 1000x longer r would be 9.36 A"]),
]


@pytest.mark.parametrize("case", TIME_WARNED, ids=[c[0] for c in TIME_WARNED])
def test_time_axis_warned_in_text_and_json(case, ws, capsys, monkeypatch):
    name, fname, needles = case
    rc, cap = _run(ws, FIT + [f"{{in}}/{fname}", "--json", "-"], capsys, monkeypatch)
    assert rc == 0, cap.err
    warnings = "\n".join(json.loads(cap.out)["warnings"])
    for needle in needles:
        assert needle in warnings, warnings
        assert needle in cap.err  # the table (on stderr with --json -) says it too


def test_library_read_curve_refuses_and_names_the_header(ws):
    with pytest.raises(UserError, match=r"t_s\.csv:9: recoupling times reach 3 s.*did you mean ms.*t_s"):
        read_curve(ws / "in" / "t_s.csv")
    curve = read_curve(ws / "in" / "curve.csv")
    assert curve.time_unit == "ms" and curve.time_unit_source == "the header says t_ms"


@pytest.mark.parametrize("times, needle", [
    ([0.5, 1.0, 3.0], "reach 3 s"),  # ms values passed as s
    ([200e-9, 400e-9, 3e-6], "shorter than one rotor period"),  # s values scaled twice
    ([0.0, 2.0, 4.0], "reach 4 s"),
])
def test_library_dephasing_curve_refuses_impossible_times(times, needle):
    with pytest.raises(UserError, match=needle):
        DephasingCurve(np.array(times), np.array([0.0, 0.1, 0.2]), source="arrays")


def _synthetic(d_hz, t, fraction=0.3, sigma=0.003, seed=1):
    rng = np.random.default_rng(seed)
    y = fraction * respdor_dephasing(d_hz * t, 2.5) + rng.normal(0, sigma, t.size)
    return DephasingCurve(t, y, np.full(t.size, sigma), label="syn")


def test_library_fit_curve_warns_long_times_short_and_unresolved_distances():
    # 503 Hz over 3 ms is an ordinary curve: no plausibility warning
    ok = fit_curve(_synthetic(503.0, np.linspace(0.2e-3, 3e-3, 15)), CurveModel(), intervals=False)
    assert not [w for w in ok.warnings if "recoupling times reach" in w or "bond" in w or "not resolved" in w]
    # the same shape stretched to 300 ms (a ms curve labelled in 10x longer units, say)
    long = fit_curve(_synthetic(5.03, np.linspace(20e-3, 300e-3, 15)), CurveModel(), intervals=False)
    assert any("recoupling times reach 0.3 s" in w and "times must be given in s" in w for w in long.warnings), long.warnings
    # 30 kHz: r = 0.64 A, no C-Al pair is that close
    short = fit_curve(_synthetic(30e3, np.linspace(10e-6, 100e-6, 10)), CurveModel(), intervals=False)
    r = short.parameters["distance_angstrom"].value
    assert r == pytest.approx(0.64, abs=0.03)
    assert any(f"r = {r:.3g} A" in w and "shorter than any 13C-27Al bond" in w for w in short.warnings)
    # 50 Hz over 1 ms at fraction 1: dS/S0 reaches 0.015, the distance is not resolved
    weak = fit_curve(_synthetic(50.0, np.linspace(0.1e-3, 1e-3, 10), fraction=1.0, sigma=0.001), CurveModel(),
                     fix={"fraction": 1.0}, intervals=False)
    assert any("has not resolved this distance" in w for w in weak.warnings), weak.warnings


# ------------------------------------------------------------------------------------------------
# Contradictions between inputs

CONTRADICTIONS = [
    ("simulate-observe-15N", FIT + ["{in}/curve.csv", "--simulate", "{in}/spec.toml", "--observe", "15N"],
     ["--observe 15N", "spec.toml", "observed nucleus is 13C"]),
    ("simulate-partner-29Si", FIT + ["{in}/curve.csv", "--simulate", "{in}/spec.toml", "--partner", "29Si"],
     ["--partner 29Si", "partner nucleus is 27Al"]),
    ("simulate-observe-111Cd", FIT + ["{in}/curve.csv", "--simulate", "{in}/spec.toml", "--observe", "111Cd",
                                      "--partner", "27Al"], ["--observe 111Cd", "13C{27Al}"]),
    ("simulate-second-curve-31P", FIT + ["{in}/curve.csv", "{in}/long.csv", "--simulate", "{in}/spec.toml",
                                         "--observe", "13C", "--observe", "31P"], ["--observe 31P (curve 1)"]),
    ("same-path-twice", FIT + ["{in}/curve.csv", "{in}/curve.csv"], ["curve.csv and", "same file"]),
    ("same-file-two-spellings", FIT + ["{in}/curve.csv", "{in}/../in/curve.csv"], ["same file"]),
    ("same-data-copy", FIT + ["{in}/curve.csv", "{in}/copy.csv"], ["curve.csv (curve 0)", "copy.csv (curve 1)",
                                                                   "same data points", "sqrt(2)"]),
    ("same-data-other-unit", FIT + ["{in}/t_s_values.csv", "{in}/curve.csv"], ["t_s_values.csv (curve 0)",
                                                                                "same data points"]),
]


@pytest.mark.parametrize("case", CONTRADICTIONS, ids=[c[0] for c in CONTRADICTIONS])
def test_contradictions_refused(case, ws, capsys, monkeypatch):
    assert _refused(ws, case[1], capsys, monkeypatch, *case[2]).startswith("respdor: error:")


def test_library_refuses_the_same_curve_twice_and_a_shape_of_another_pair():
    c = _synthetic(503.0, np.linspace(0.2e-3, 3e-3, 15))
    twin = DephasingCurve(c.time_s.copy(), c.dss0.copy(), c.sigma.copy(), source="twin.csv")
    with pytest.raises(UserError, match=r"\(curve 0\) and twin\.csv \(curve 1\) hold the same data points"):
        fit_curves([c, twin], CurveModel(), intervals=False)
    from respdor.simfit import check_nuclei

    check_nuclei(("13C", "27Al"), [CurveModel("13C", "27Al")], "a shape")  # agrees: no error
    with pytest.raises(UserError, match="observe 15N contradicts a library, whose observed nucleus is 13C"):
        check_nuclei(("13C", "27Al"), [CurveModel("15N", "27Al")], "a library")


# ------------------------------------------------------------------------------------------------
# Options: signs with units, units in --fix/--bound/--start, repeats, options without effect

PLAN = ["plan", "--distance", "2.5", "--fraction", "0.24", "--snr", "40", "--scans", "64", "--recycle", "5",
        "--t2prime", "8ms", "--target-distance-error", "0.1", "--mas", "10k"]

NEGATIVE = [
    ("fit-mas-8k", FIT + ["{in}/curve.csv", "--mas", "-8k"], ["--mas -8k", "cannot be negative"]),
    ("fit-pulse-length", FIT + ["{in}/curve.csv", "--sequence", "redor-finite", "--mas", "10k",
                                "--pulse-length", "-10us"], ["--pulse-length -10us", "cannot be negative"]),
    ("plan-mas", ["plan", "--distance", "2.5", "--fraction", "0.24", "--snr", "40", "--scans", "64", "--recycle",
                  "5", "--t2prime", "8ms", "--target-distance-error", "0.1", "--mas", "-10kHz"], ["--mas -10kHz"]),
    ("plan-t2prime", ["plan", "--distance", "2.5", "--fraction", "0.24", "--snr", "40", "--scans", "64", "--recycle",
                      "5", "--t2prime", "-8ms", "--target-distance-error", "0.1", "--mas", "10k"],
     ["--t2prime -8ms", "cannot be negative"]),
    ("library-t-max", ["library", "build", "{in}/spec.toml", "-o", "lib.h5", "--couplings", "300:800:5",
                       "--t-max", "-8ms"], ["--t-max -8ms", "cannot be negative"]),
    ("convert-distance", ["convert", "--pair", "13C", "27Al", "-r", "-0.25nm"], ["--distance -0.25nm"]),
    ("convert-coupling", ["convert", "--pair", "13C", "27Al", "-d", "-.5kHz"], ["--coupling -.5kHz"]),
    ("fix-negative-D-with-unit", FIT + ["{in}/curve.csv", "--fix", "D=-0.5kHz"], ["--fix D=-500", "> 0 Hz"]),
]


@pytest.mark.parametrize("case", NEGATIVE, ids=[c[0] for c in NEGATIVE])
def test_negative_values_with_units_reach_the_option(case, ws, capsys, monkeypatch):
    line = _refused(ws, case[1], capsys, monkeypatch, *case[2])
    assert "expected one argument" not in line


def test_signed_option_keeps_its_sign():
    from respdor.units import parse_frequency

    assert parse_frequency("-3MHz", "--cq", signed=True) == (-3e6, True)  # structure --cq: C_Q has a sign
    with pytest.raises(UserError, match="--cq -3MHz: a frequency here cannot be negative"):
        parse_frequency("-3MHz", "--cq")


def _fit_json(ws, argv, capsys, monkeypatch):
    rc, cap = _run(ws, FIT + ["{in}/curve.csv", "--json", "-", *argv], capsys, monkeypatch)
    assert rc == 0, cap.err
    return json.loads(cap.out)


@pytest.mark.parametrize("option, value, name, expected", [
    ("--fix", "r=0.25nm", "coupling_hz", 7878.1 / 2.5**3),
    ("--fix", "D=0.5kHz", "coupling_hz", 500.0),
    ("--fix", "r=250pm", "distance_angstrom", 2.5),
])
def test_fix_accepts_units(option, value, name, expected, ws, capsys, monkeypatch):
    params = _fit_json(ws, [option, value], capsys, monkeypatch)
    assert params[name]["value"] == pytest.approx(expected, rel=2e-4)


def test_bound_and_start_accept_units(ws, capsys, monkeypatch):
    a = _fit_json(ws, ["--bound", "D=0.3k:0.7kHz", "--start", "r=0.26nm"], capsys, monkeypatch)
    b = _fit_json(ws, ["--bound", "D=300:700", "--start", "r=2.6"], capsys, monkeypatch)
    assert a["coupling_hz"]["value"] == pytest.approx(b["coupling_hz"]["value"], rel=1e-9)


OPTION_MISTAKES = [
    ("fix-unknown-unit", FIT + ["{in}/curve.csv", "--fix", "D=5parsec"], ["--fix D=5parsec", "unknown unit"]),
    ("fix-twice", FIT + ["{in}/curve.csv", "--fix", "f=0.2", "--fix", "f=0.3"],
     ["--fix f=0.2 and --fix f=0.3 set the same parameter"]),
    ("fix-alias-twice", FIT + ["{in}/curve.csv", "--fix", "f=0.2", "--fix", "fraction=0.2"],
     ["--fix f=0.2 and --fix fraction=0.2"]),
    ("bound-twice", FIT + ["{in}/curve.csv", "--bound", "D=300:700", "--bound", "coupling=0.2k:1k"],
     ["--bound D=300:700 and --bound coupling=0.2k:1k"]),
    ("start-twice", FIT + ["{in}/curve.csv", "--start", "r=2.5", "--start", "distance=0.26nm"],
     ["--start r=2.5 and --start distance=0.26nm"]),
    ("fix-all-and-one-curve", FIT + ["{in}/curve.csv", "{in}/long.csv", "--fix", "f=0.2", "--fix", "c0_f=0.3"],
     ["--fix f=0.2 and --fix c0_f=0.3 both set f for curve 0"]),
    ("mcmc-seed-without-mcmc", FIT + ["{in}/curve.csv", "--mcmc-seed", "3"],
     ["--mcmc-seed has no effect without --mcmc"]),
    ("mcmc-steps-without-mcmc", FIT + ["{in}/curve.csv", "--mcmc-steps=500"],
     ["--mcmc-steps has no effect without --mcmc"]),
    ("sim-accuracy-without-simulate", FIT + ["{in}/curve.csv", "--sim-accuracy", "1e-4"],
     ["--sim-accuracy has no effect without --simulate"]),
    ("pulse-length-ideal-sequence", FIT + ["{in}/curve.csv", "--pulse-length", "10us"],
     ["--pulse-length has no effect without --sequence redor-finite"]),
    ("share-one-file", FIT + ["{in}/curve.csv", "--share", "f"], ["--share has no effect with a single curve"]),
    ("plot-and-no-plot", FIT + ["{in}/curve.csv", "--no-plot", "--plot", "x.png"], ["--plot has no effect with --no-plot"]),
    ("convert-pair-observe", ["convert", "--pair", "13C", "27Al", "--observe", "15N", "-r", "2.5"],
     ["--observe has no effect with --pair"]),
    ("convert-pair-short-partner", ["convert", "--pair", "13C", "27Al", "-i", "15N", "-r", "2.5"],
     ["-i has no effect with --pair"]),
    ("plan-seed-without-monte-carlo", PLAN + ["--seed", "3"],
     ["--seed has no effect without --monte-carlo"]),
    ("plan-time-unit-without-file", PLAN + ["--time-unit", "ms"],
     ["--time-unit has no effect without --t2prime-from"]),
    ("csa-fit-fwhm-manifold", ["csa-fit", "{in}/m.csv", "--mas", "8k", "--fwhm", "5"],
     ["--fwhm has no effect without --spectrum"]),
    ("integrate-n-echoes-without-cpmg", ["integrate", "{in}/series", "--region", "0", "30", "--noise-region", "-80",
                                         "-40", "--mas", "10k", "--periods-per-count", "2", "--n-echoes", "4", "-o", "c.csv"],
     ["--n-echoes has no effect without --cpmg"]),
    ("deconvolve-reference-without-compare", ["deconvolve", "{in}/iso.txt", "--sites", "-50", "--reference", "-50"],
     ["--reference has no effect without --compare"]),
    ("structure-time-unit-without-compare", ["structure", "{in}/m.xyz", "--observe", "C", "--partner", "27Al", "--time-unit", "ms"],
     ["--time-unit has no effect without --compare"]),
    ("library-workers-with-scheduler", ["library", "build", "{in}/spec.toml", "-o", "lib.h5", "--scheduler",
                                        "tcp://127.0.0.1:1", "--workers", "2"], ["--workers has no effect with --scheduler"]),
]


@pytest.mark.parametrize("case", OPTION_MISTAKES, ids=[c[0] for c in OPTION_MISTAKES])
def test_option_mistakes_refused(case, ws, capsys, monkeypatch):
    assert _refused(ws, case[1], capsys, monkeypatch, *case[2]).startswith("respdor: error:")


@pytest.mark.parametrize("argv, needle", [
    (FIT + ["{in}/curve.csv", "--output-dir", "elsewhere"], "--output-dir has no effect with --no-files"),
])
def test_harmless_redundant_option_is_named_not_refused(argv, needle, ws, capsys, monkeypatch):
    rc, cap = _run(ws, argv, capsys, monkeypatch)
    assert rc == 0 and f"respdor: warning: {needle}" in cap.err, cap.err
    assert not (ws / "out" / "elsewhere").exists()


def test_every_declared_option_rule_names_a_real_option():
    # declare_option_rules raises on a rule naming an unknown option: building the parser checks all tables
    import argparse

    from respdor.cli import OptionRule, build_parser, declare_option_rules

    assert build_parser().prog == "respdor"
    p = argparse.ArgumentParser()
    p.add_argument("--real")
    with pytest.raises(ValueError, match="--bogus"):
        declare_option_rules(p, [OptionRule.needs("--bogus", "--real")])


# ------------------------------------------------------------------------------------------------
# Ctrl-C during fit --mcmc (a real process, a real SIGINT)

@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child needs POSIX")
def test_ctrl_c_during_mcmc(tmp_path):
    pytest.importorskip("emcee")
    (tmp_path / "c.csv").write_bytes(CURVE.read_bytes())
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("RESPDOR_DEBUG", None)
    proc = subprocess.Popen([sys.executable, "-m", "respdor", "fit", "c.csv", "--mcmc", "--mcmc-steps", "50000",
                             "--no-intervals"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    err = bytearray()

    def pump():
        while chunk := proc.stderr.read1(4096):
            err.extend(chunk)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        hang_guard = time.monotonic() + 600  # not a speed limit: only a guard against a hung test
        while b"% of " not in err:  # the sampler's progress line: emcee is running
            assert proc.poll() is None, err.decode()
            assert time.monotonic() < hang_guard, "no MCMC progress at all"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out = proc.stdout.read().decode()
        proc.wait(timeout=600)
        reader.join(timeout=10)
    finally:  # a failed check must not leave a sampler running for minutes
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = err.decode()
    assert proc.returncode == 130, text
    assert "Traceback" not in text + out and "emcee:" not in text + out
    assert text.strip().splitlines()[-1] == "respdor: interrupted"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv"], "a file was left behind"
    assert (tmp_path / "c.csv").read_bytes() == CURVE.read_bytes()
