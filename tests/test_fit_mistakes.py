"""What a user sees after a mistaken or degenerate `respdor fit`: one table row per case (docs/real-data.md).

Each case runs the command in-process (``respdor.cli.main``), captures stdout/stderr, and asserts
the exit status, the key words of the message (or of the warning in the JSON result), that no
traceback and no numpy RuntimeWarning reach the terminal.
"""

import json
import warnings

import numpy as np
import pytest

from respdor.cli import main
from respdor.models import redor_dephasing, respdor_dephasing

T = np.linspace(0.1e-3, 3e-3, 30)


def _synthetic(seed=0, sigma=0.01, stated=None, f=0.24):
    rng = np.random.default_rng(seed)
    y = f * respdor_dephasing(503.0 * T, 2.5) + rng.normal(0, sigma, T.size)
    stated = sigma if stated is None else stated
    return "t_s,dSS0,sigma\n" + "".join(f"{float(t)!r},{float(v)!r},{float(stated)!r}\n" for t, v in zip(T, y))


def _labelled_15n(seed=1):
    """A 13C{15N} REDOR curve of a labelled sample (f = 1, D = 60 Hz), no error column."""
    t = np.linspace(4e-3, 40e-3, 12)
    rng = np.random.default_rng(seed)
    y = redor_dephasing(60.0 * t) + rng.normal(0, 0.01, t.size)
    return "t_ms,dSS0\n" + "".join(f"{float(1e3 * a)!r},{float(b)!r}\n" for a, b in zip(t, y))


def _with_point(value, k=10):
    lines = _synthetic().splitlines()
    parts = lines[k + 1].split(",")
    parts[1] = repr(float(value))
    lines[k + 1] = ",".join(parts)
    return "\n".join(lines) + "\n"


def _rising():
    """Curve that stops in the initial rise, f = 1 true: the fraction ends on its bound 1."""
    t = np.linspace(0.05e-3, 0.5e-3, 10)
    rng = np.random.default_rng(3)
    y = respdor_dephasing(300.0 * t, 2.5) + rng.normal(0, 0.002, t.size)
    return "t_s,dSS0,sigma\n" + "".join(f"{float(a)!r},{float(b)!r},0.002\n" for a, b in zip(t, y))


SYN = _synthetic()
SIM = "t_s,S0,S1,dSS0\n" + "".join(
    f"{float(t)!r},1,{float(1 - v)!r},{float(v)!r}\n" for t, v in zip(T, 0.9 * respdor_dephasing(520.0 * T, 2.5)))

# id, {file name: text} (None: no such file), extra arguments, exit status, key words, where
CASES = [
    ("fix-r", {"c.csv": SYN}, ["--fix", "r=2.5"], 0, ["distance_angstrom=2.5"], "json"),
    ("bound-r", {"c.csv": SYN}, ["--bound", "r=3:4"], 0, ["distance_angstrom in [3, 4]"], "json"),
    ("start-r", {"c.csv": SYN}, ["--start", "r=3.5"], 0, ["your start", "r = 3.5 A"], "notes"),
    ("fix-D-distance", {"c.csv": SYN}, ["--fix", "D=300", "--parameterization", "distance"], 0,
     ["coupling_hz=300"], "json"),
    ("bound-D-distance", {"c.csv": SYN}, ["--bound", "D=100:200", "--parameterization", "distance"], 0,
     ["coupling_hz in [100, 200]"], "json"),
    ("start-D-negative", {"c.csv": SYN}, ["--start", "D=-100"], 2, ["--start D=-100", "> 0 Hz"], "err"),
    ("fix-D-and-r", {"c.csv": SYN}, ["--fix", "D=300", "--fix", "r=2.5"], 2, ["--fix", "same distance"], "err"),
    ("fix-D-start-r", {"c.csv": SYN}, ["--fix", "D=300", "--start", "r=2.5"], 2, ["--start r=2.5", "fixed"], "err"),
    ("bound-low-above-high", {"c.csv": SYN}, ["--bound", "r=4:3"], 2, ["--bound r=4:3", "below the high"], "err"),
    ("start-outside-bound", {"c.csv": SYN}, ["--start", "r=5", "--bound", "r=2:3"], 2,
     ["--start r=5", "outside --bound r=2:3"], "err"),
    ("start-outside-default", {"c.csv": SYN}, ["--start", "r=0.01"], 2, ["--start r=0.01", "default range"], "err"),
    ("fix-f-above-1", {"c.csv": SYN}, ["--fix", "f=1.5"], 2, ["--fix f=1.5", "outside"], "err"),
    ("fix-f-zero", {"c.csv": SYN}, ["--fix", "f=0"], 2, ["--fix f=0", "flat"], "err"),
    ("fix-eps-above-1", {"c.csv": SYN}, ["--fix", "eps=1.2"], 2, ["--fix eps=1.2", "[0, 1]"], "err"),
    ("fix-and-start-f", {"c.csv": SYN}, ["--fix", "f=0.3", "--start", "f=0.2"], 2, ["--start f=0.2", "fixed"], "err"),
    ("bound-D-negative", {"c.csv": SYN}, ["--bound", "D=-5:100"], 2, ["--bound D=-5:100", "> 0 Hz"], "err"),
    ("fix-not-a-number", {"c.csv": SYN}, ["--fix", "D=abc"], 2, ["--fix", "cannot read 'abc'"], "err"),
    ("fix-unknown-name", {"c.csv": SYN}, ["--fix", "Q=1"], 2, ["--fix", "unknown parameter 'Q'"], "err"),
    ("mcmc-too-short", {"c.csv": SYN}, ["--mcmc", "--mcmc-steps", "10"], 2, ["--mcmc-steps 10"], "err"),
    ("labelled-15N-natural-abundance", {"c.csv": _labelled_15n()}, ["--model", "redor", "--partner", "15N"], 0,
     ["natural abundance", "15N-enriched", "--fix x=1"], "warnings"),
    ("point-above-physical", {"c.csv": _with_point(1.5)}, [], 0, ["above", "fraction 1", "sigma"], "warnings"),
    ("point-below-zero", {"c.csv": _with_point(-0.3)}, [], 0, ["below 0", "sigma"], "warnings"),
    ("errors-too-small", {"c.csv": _synthetic(sigma=0.01, stated=0.002)}, [], 0, ["p = ", "do"], "warnings"),
    ("fraction-on-bound", {"c.csv": _rising()}, [], 0, ["upper bound 1", "one-sided"], "warnings"),
    ("all-times-zero", {"c.csv": "t_s,dSS0\n0,0.1\n0,0.2\n0,0.15\n"}, [], 2, ["every recoupling time is 0"], "err"),
    ("one-point", {"c.csv": "t_s,dSS0\n0.001,0.2\n"}, [], 2, ["1 distinct recoupling time", "--fix"], "err"),
    ("two-points-no-errors", {"c.csv": "t_ms,dSS0\n1,0.2\n2,0.3\n"}, [], 2,
     ["2 distinct", "estimate the noise"], "err"),
    ("huge-values", {"c.csv": "t_s,dSS0\n0.001,1e300\n0.002,1e300\n0.003,1e300\n0.004,1e300\n"}, [], 2,
     ["c.csv:2", "1e300", "too large"], "err"),
    ("raw-intensities", {"c.csv": "t_s,dSS0\n0.001,4000\n0.002,3000\n0.003,2000\n0.004,1000\n"}, [], 2,
     ["c.csv:2", "4000", "not a normalised dephasing"], "err"),
    ("huge-time", {"c.csv": "t_s,dSS0\n1e300,0.1\n0.002,0.2\n0.003,0.3\n"}, [], 2, ["c.csv:2", "too large"], "err"),
    ("time-in-us-as-s", {"c.csv": "t_s,dSS0\n500,0.1\n1000,0.2\n1500,0.3\n"}, [], 2, ["c.csv:2", "time unit"], "err"),
    ("infinite-value", {"c.csv": "t_s,dSS0\n0.001,inf\n0.002,0.2\n0.003,0.3\n"}, [], 2, ["c.csv:2", "not finite"], "err"),
    ("nan-value", {"c.csv": "t_s,dSS0\n0.001,nan\n0.002,0.2\n0.003,0.3\n"}, [], 2, ["c.csv:2", "not finite"], "err"),
    ("simulator-csv", {"c.csv": SIM}, [], 0, ["columns S0, S1 and dSS0 agree", "fitted: dSS0"], "stdout"),
    ("simulator-csv-inconsistent", {"c.csv": SIM.replace(",1,", ",2,", 1)}, [], 2, ["c.csv:2", "disagrees"], "err"),
    ("dss0-and-one-signal", {"c.csv": "t_s,S0,dSS0\n0.001,1,0.1\n0.002,1,0.2\n0.003,1,0.3\n"}, [], 2,
     ["only one of S0, S1"], "err"),
    ("empty-file", {"c.csv": ""}, [], 2, ["c.csv", "no data lines"], "err"),
    ("missing-file", {"c.csv": None}, [], 2, ["c.csv", "no such file"], "err"),
    ("no-header-no-unit", {"c.csv": "0.001 0.1\n0.002 0.2\n0.003 0.3\n"}, [], 2, ["--time-unit"], "err"),
    ("negative-sigma", {"c.csv": "t_s,dSS0,sigma\n0.001,0.1,-0.01\n0.002,0.2,0.01\n0.003,0.3,0.01\n"}, [], 2,
     ["c.csv:2", "must be > 0"], "err"),
    ("zero-S0", {"c.csv": "t_s,S0,S1\n0.001,0,0.5\n0.002,1,0.5\n0.003,1,0.4\n"}, [], 2, ["c.csv:2", "S0 must be > 0"],
     "err"),
    ("ragged-row", {"c.csv": "t_s,dSS0\n0.001,0.1\n0.002\n0.003,0.3\n"}, [], 2, ["c.csv:3", "expected 2 values"], "err"),
    ("unknown-partner", {"c.csv": SYN}, ["--partner", "Xx"], 2, ["Xx"], "err"),
    ("errors-for-some-files", {"c.csv": SYN, "d.csv": "t_s,dSS0\n0.001,0.1\n0.002,0.2\n0.003,0.3\n0.004,0.3\n"},
     [], 2, ["errors for all or none"], "err"),
    ("observe-count-mismatch", {"c.csv": SYN, "d.csv": SYN},
     ["--observe", "13C", "--observe", "13C", "--observe", "13C"], 2, ["--observe given 3 times for 2 files"], "err"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fit_mistake(case, tmp_path, capsys):
    name, files, extra, status, words, where = case
    paths = []
    for fname, text in files.items():
        path = tmp_path / fname
        if text is not None:
            path.write_text(text)
        paths.append(str(path))
    argv = ["fit", *paths, "--no-files", "--no-plot", "--json", "-", *extra]
    if where not in ("json", "notes", "warnings"):
        argv.append("--no-intervals")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in caught]
    assert code == status, err
    if status == 2:
        assert err.count("\n") == 1 and err.startswith("respdor: error: "), err
        assert "np.float64" not in err
        text = err
    else:
        result = json.loads(out)
        if where == "json":
            text = _describe(result)
        elif where == "notes":
            text = "\n".join(result["notes"])
        elif where == "warnings":
            text = "\n".join(result["warnings"])
        else:
            text = err
    for word in words:
        assert word in text, f"{word!r} not in {text!r}"


def _describe(result):
    """Values of D and r and the ranges they fall in, as text, for the constraint cases."""
    lines = []
    for key in ("coupling_hz", "distance_angstrom"):
        est = result[key]
        lines.append(f"{key}={est['value']:.6g}")
        for a, b in ((3, 4), (100, 200)):
            if a * (1 - 1e-9) <= est["value"] <= b * (1 + 1e-9):
                lines.append(f"{key} in [{a}, {b}]")
    return "\n".join(lines)
