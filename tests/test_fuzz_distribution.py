"""Fuzz table of ``respdor distribution``: ordinary user mistakes, run in-process.

For every case: the exit status (2 for a mistake, 0 where the input is fine), one line on stderr
naming the option / file / value, no traceback, numbers printed as numbers, no stray output file,
and every input file byte-identical afterwards. Outputs go to ``out/``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from respdor.cli import main

import importlib.util  # noqa: E402

#: The cases that run the command need DeerLab; the one that checks the message without it does not.
needs_deerlab = pytest.mark.skipif(importlib.util.find_spec("deerlab") is None,
                                   reason="respdor distribution needs DeerLab (pip install 'respdor[distributions]')")

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"

from filetree import hashes as _hashes  # noqa: E402


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = tmp_path_factory.mktemp("fuzz_distribution")
    inp = w / "in"
    inp.mkdir()
    (w / "out").mkdir()
    shutil.copy(DATA / "respdor_13C27Al_synthetic.csv", inp / "curve.csv")
    (inp / "one_point.csv").write_text("t_ms,dSS0,sigma\n1.0,0.2,0.01\n")
    (inp / "five.csv").write_text("t_ms,dSS0,sigma\n" + "".join(f"{i},{0.05 * i},0.01\n" for i in range(1, 6)))
    (inp / "empty.csv").write_text("")
    (inp / "binary.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(200))
    (inp / "not_a_dir").write_text("a file where a directory is expected\n")
    return w


DIST = ["distribution", "{in}/curve.csv", "--bootstrap", "0", "--points", "30"]

# (id, argv, exit status, text the one-line message must contain (lower case), files expected in out/)
CASES = [
    # --- the distance grid
    ("range-reversed", DIST + ["--r-range", "6:1.5"], 2, "--r-range 6:1.5: the low end"),
    ("range-garbage", DIST + ["--r-range", "abc"], 2, "--r-range 'abc': expected low:high"),
    ("range-one-end", DIST + ["--r-range", "1.5"], 2, "--r-range '1.5': expected low:high"),
    ("range-empty-end", DIST + ["--r-range", "1.5:"], 2, "expected low:high"),
    ("range-negative", DIST + ["--r-range", "-1:5"], 2, "cannot be negative"),
    ("range-bad-unit", DIST + ["--r-range", "1:5xyz"], 2, "unknown unit"),
    ("range-too-short", DIST + ["--r-range", "0.01:0.1A"], 2, "--r-range 0.01 a: distances"),
    ("range-too-long", DIST + ["--r-range", "2:500"], 2, "--r-range 500 a: distances"),
    ("range-nm", DIST + ["--r-range", "0.15:0.6nm", "--no-files"], 0, "1.500"),
    ("points-few", DIST + ["--points", "3"], 2, "--points 3"),
    ("points-many", DIST + ["--points", "100000"], 2, "--points 100000"),
    ("points-text", DIST + ["--points", "many"], 2, "--points"),
    ("grid-unknown", DIST + ["--grid", "log"], 2, "--grid"),
    ("grid-coupling", DIST + ["--grid", "coupling", "--no-files"], 0, "grid uniform in D"),
    # --- bootstrap, seed, efficiency
    ("bootstrap-few", DIST + ["--bootstrap", "5"], 2, "--bootstrap 5"),
    ("bootstrap-negative", DIST + ["--bootstrap", "-1"], 2, "--bootstrap -1"),
    ("seed-negative", DIST + ["--seed", "-3"], 2, "--seed -3"),
    ("efficiency-zero", DIST + ["--efficiency", "0"], 2, "--efficiency 0"),
    ("efficiency-above-one", DIST + ["--efficiency", "1.5"], 2, "--efficiency 1.5"),
    ("efficiency-nan", DIST + ["--efficiency", "nan"], 2, "--efficiency"),
    # --- the curve and the nuclei
    ("missing-file", ["distribution", "{in}/nope.csv"], 2, "no such file"),
    ("one-point", ["distribution", "{in}/one_point.csv"], 2, "needs at least 6"),
    ("five-points", ["distribution", "{in}/five.csv"], 2, "needs at least 6"),
    ("empty-file", ["distribution", "{in}/empty.csv"], 2, "empty.csv"),
    ("binary-file", ["distribution", "{in}/binary.csv"], 2, "binary.csv"),
    ("observe-quadrupolar", DIST + ["--observe", "27Al", "--partner", "13C"], 2, "--observe"),
    ("partner-unknown", DIST + ["--partner", "99Xx"], 2, "99xx"),
    ("same-nuclei", DIST + ["--observe", "13C", "--partner", "13C"], 2, "both 13c"),
    # --- outputs
    ("json-is-input", DIST + ["--json", "{in}/curve.csv"], 2, "refusing to overwrite"),
    ("outdir-is-file", DIST + ["--output-dir", "{in}/not_a_dir"], 2, "not a directory"),
    ("plot-xyz", DIST + ["--plot", "{out}/p.xyz"], 2, "unknown figure format"),
    ("plot-and-no-plot", DIST + ["--plot", "{out}/p.png", "--no-plot"], 2, "has no effect"),
    ("no-files-json-file", DIST + ["--no-files", "--json", "{out}/x.json"], 2, "contradict"),
    ("json-missing-dir", DIST + ["--json", "{out}/nodir/x.json"], 2, "does not exist"),
    # --- runs that succeed
    ("no-files", DIST + ["--no-files"], 0, "model comparison"),
    ("writes", DIST + ["--output-dir", "{out}/run", "--bootstrap", "20"], 0, "wrote",
     ["run/curve_distribution.json", "run/curve_distribution.csv", "run/curve_distribution.png"]),
]


def _expand(argv, ws):
    return [a.replace("{in}", str(ws / "in")).replace("{out}", str(ws / "out")) for a in argv]


@needs_deerlab
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fuzz_distribution(case, ws, capsys, monkeypatch):
    name, argv, status, needle = case[:4]
    expected = case[4] if len(case) > 4 else []
    monkeypatch.chdir(ws / "out")
    before, out_before = _hashes(ws / "in"), _hashes(ws / "out")
    try:
        rc = main(_expand(argv, ws))
    except SystemExit as exc:  # argparse's own usage errors
        rc = exc.code
    cap = capsys.readouterr()
    err = cap.err
    assert "Traceback" not in err + cap.out
    assert "np.float64" not in err + cap.out
    assert rc == status, f"{name}: exit {rc}, stderr: {err}"
    if status == 2:
        lines = [line for line in err.splitlines() if line.startswith("respdor: error:")]
        assert len(lines) == 1, err
        assert needle in lines[0].lower(), lines[0]
        assert _hashes(ws / "out") == out_before, "a refused run wrote a file"
    else:
        assert "respdor: error" not in err and "internal error" not in err
        assert needle in err + cap.out
    for f in expected:
        assert (ws / "out" / f).stat().st_size > 0, f"{f} not written"
    if name in ("no-files", "range-nm", "grid-coupling"):
        assert _hashes(ws / "out") == out_before, "--no-files wrote a file"
    assert not list((ws / "out").rglob("*.part*")), "a temporary file was left behind"
    assert _hashes(ws / "in") == before, "an input file changed"


def test_without_deerlab_one_line_naming_the_extra(ws, capsys, monkeypatch):
    """DeerLab missing: exit 2 and one line saying what to install, before any work; nothing written."""
    monkeypatch.setitem(sys.modules, "deerlab", None)  # import deerlab now raises ImportError
    monkeypatch.chdir(ws / "out")
    out_before = _hashes(ws / "out")
    rc = main(_expand(["distribution", "{in}/curve.csv"], ws))
    err = capsys.readouterr().err
    assert rc == 2
    assert err.strip().splitlines() == ["respdor: error: distance distributions need DeerLab: "
                                        "pip install 'respdor[distributions]'"]
    assert _hashes(ws / "out") == out_before


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@needs_deerlab
@settings(max_examples=5)
@given(n=st.integers(6, 14), t_max_ms=st.floats(0.3, 20.0), level=st.floats(-0.2, 1.2), slope=st.floats(0.0, 3.0),
       sigma=st.floats(1e-4, 0.3), seed=st.integers(0, 1000))
def test_any_readable_curve_gives_a_result_or_one_user_error(n, t_max_ms, level, slope, sigma, seed):
    """Odd but readable curves (flat, negative, above the plateau, huge or tiny noise): a result whose
    P(r) is finite and non-negative, or a UserError; never another exception."""
    import numpy as np

    import respdor
    from respdor.curve import DephasingCurve
    from respdor.errors import UserError

    times = np.linspace(t_max_ms / n, t_max_ms, n) * 1e-3
    rng = np.random.default_rng(seed)
    dss0 = level * (1 - np.exp(-slope * times / times[-1])) + rng.normal(0, sigma, n)
    curve = DephasingCurve(times, dss0, sigma=np.full(n, sigma))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = respdor.distance_distribution(curve, "13C", "27Al", n_r=15, bootstrap=0, progress=False)
        except UserError:
            return
    assert np.all(np.isfinite(res.p_per_angstrom)) and np.all(res.p_per_angstrom >= 0)
    assert all(np.isfinite(m["aic"]) for m in res.models)
    assert len(repr(res)) <= 200
