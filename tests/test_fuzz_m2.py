"""Fuzz table of ``respdor m2``: ordinary user mistakes, run in-process.

For every case: the exit status (2 for a mistake, 0 where the input is fine), one line on stderr
naming the option / file / value, no traceback, numbers printed as numbers, every input file
byte-identical afterwards and no output file left by a refused run (as tests/test_fuzz_cli.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from respdor.cli import main

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"

from filetree import hashes as _hashes  # noqa: E402


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = tmp_path_factory.mktemp("fuzz_m2")
    inp = w / "in"
    inp.mkdir()
    (w / "out").mkdir()
    shutil.copy(DATA / "m2_13C27Al_synthetic.csv", inp / "m2.csv")
    shutil.copy(DATA / "respdor_13C27Al_synthetic.csv", inp / "strong.csv")
    text = (inp / "m2.csv").read_text()
    (inp / "bare.csv").write_text("\n".join(line for line in text.splitlines() if "= " not in line) + "\n")
    (inp / "falling.csv").write_text("t_ms,dSS0,sigma\n" + "".join(f"{0.1 * k:.1f},{-0.01 * k},0.005\n"
                                                                   for k in range(1, 8)))
    (inp / "one.csv").write_text("t_ms,dSS0,sigma\n0.1,0.01,0.005\n")
    (inp / "binary.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(200))
    (inp / "no_unit.csv").write_text("t,dSS0\n0.1,0.01\n0.2,0.03\n0.3,0.06\n")
    (inp / "not_a_dir").write_text("a file\n")
    return w


M2 = ["m2", "{in}/m2.csv"]
CASES = [
    # --- files
    ("missing-file", ["m2", "{in}/nope.csv"], 2, "nope.csv: no such file"),
    ("binary-file", ["m2", "{in}/binary.csv", "--observe", "13C", "--partner", "27Al"], 2, "binary.csv"),
    ("no-time-unit", ["m2", "{in}/no_unit.csv", "--observe", "13C", "--partner", "27Al"], 2, "time"),
    ("json-is-input", M2 + ["--json", "{in}/m2.csv"], 2, "refusing to overwrite"),
    ("json-missing-dir", M2 + ["--json", "{out}/nodir/r.json"], 2, "does not exist"),
    ("json-parent-is-file", M2 + ["--json", "{in}/not_a_dir/r.json"], 2, "not a directory"),
    ("plot-xyz", M2 + ["--plot", "{out}/p.xyz"], 2, "unknown figure format"),
    ("plot-is-input", M2 + ["--plot", "{in}/m2.csv"], 2, "refusing to overwrite"),
    ("json-plot-same", M2 + ["--json", "{out}/a.json", "--plot", "{out}/a.json"], 2, "same file"),
    ("json-named-png", M2 + ["--json", "{out}/a.png"], 2, "names a figure"),
    # --- nuclei
    ("no-nuclei", ["m2", "{in}/bare.csv"], 2, "--observe: not given"),
    ("no-partner", ["m2", "{in}/bare.csv", "--observe", "13C"], 2, "--partner: not given"),
    ("observe-contradicts-file", M2 + ["--observe", "31P"], 2, "contradict"),
    ("observe-quadrupolar", ["m2", "{in}/bare.csv", "--observe", "27Al", "--partner", "13C"], 2, "--observe 27al"),
    ("partner-unknown", ["m2", "{in}/bare.csv", "--observe", "13C", "--partner", "99Xx"], 2, "--partner 99xx"),
    ("partner-is-observed", ["m2", "{in}/bare.csv", "--observe", "13C", "--partner", "13C"], 2, "--partner 13c"),
    ("ct-integer-spin", ["m2", "{in}/bare.csv", "--observe", "13C", "--partner", "2H", "--transfer",
                         "ct-inversion"], 2, "half-integer"),
    # --- values
    ("fraction-above-1", M2 + ["--fraction", "1.5"], 2, "--fraction 1.5"),
    ("fraction-zero", M2 + ["--fraction", "0"], 2, "--fraction 0"),
    ("fraction-negative", M2 + ["--fraction", "-0.2"], 2, "--fraction -0.2"),
    ("fraction-nan", M2 + ["--fraction", "nan"], 2, "--fraction"),
    ("fraction-word", M2 + ["--fraction", "most"], 2, "--fraction"),
    ("max-dephasing-zero", M2 + ["--max-dephasing", "0"], 2, "--max-dephasing 0"),
    ("max-dephasing-above-1", M2 + ["--max-dephasing", "2"], 2, "--max-dephasing 2"),
    ("tolerance-too-big", M2 + ["--tolerance", "0.9"], 2, "--tolerance 0.9"),
    ("tolerance-inf", M2 + ["--tolerance", "inf"], 2, "--tolerance"),
    ("experiment-unknown", M2 + ["--experiment", "reapdor"], 2, "--experiment"),
    ("pulse-length-without-finite", M2 + ["--pulse-length", "10us"], 2, "--pulse-length has no effect"),
    ("finite-without-pulse", M2 + ["--sequence", "redor-finite"], 2, "needs --pulse-length and --mas"),
    ("finite-pulse-too-long", M2 + ["--sequence", "redor-finite", "--pulse-length", "40us", "--mas", "20k"], 2,
     "--sequence redor-finite"),
    ("mas-negative", M2 + ["--sequence", "redor-finite", "--pulse-length", "5us", "--mas", "-20k"], 2, "--mas"),
    # --- curves the initial rise cannot be read from
    ("strong-coupling-too-few-points", ["m2", "{in}/strong.csv", "--observe", "13C", "--partner", "27Al",
                                       "--fraction", "0.24"], 2, "only 0 point(s)"),
    ("one-point", ["m2", "{in}/one.csv", "--observe", "13C", "--partner", "27Al"], 2, "only 1 point(s)"),
    ("tight-cap-too-few", M2 + ["--max-dephasing", "0.02"], 2, "at least 3"),
    ("falling-curve", ["m2", "{in}/falling.csv", "--observe", "13C", "--partner", "27Al"], 2, "does not rise"),
    # --- runs that succeed, and say what they assumed
    ("runs", M2, 0, "fraction 1 assumed"),
    ("max-dephasing-beyond-regime", M2 + ["--max-dephasing", "0.5"], 0, "--max-dephasing 0.5 lies beyond"),
    ("redor-experiment", M2 + ["--experiment", "redor", "--fraction", "1"], 0, "transfer inversion"),
    ("mas-without-effect", M2 + ["--mas", "20k"], 0, "--mas 20000 hz has no effect"),
    ("time-unit-without-effect", M2 + ["--time-unit", "ms"], 0, "--time-unit ms has no effect"),
    ("time-unit-contradicts-header", M2 + ["--time-unit", "s"], 2, "the header gives time in ms"),
    ("writes", M2 + ["--json", "{out}/r.json", "--plot", "{out}/r.png"], 0, "wrote", ["r.json", "r.png"]),
]


def _expand(argv, ws):
    return [a.replace("{in}", str(ws / "in")).replace("{out}", str(ws / "out")) for a in argv]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fuzz_m2(case, ws, capsys, monkeypatch):
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
    assert "Traceback" not in err + cap.out and "np.float64" not in err + cap.out
    assert rc == status, f"{name}: exit {rc}, stderr: {err}"
    if status == 2:
        lines = [line for line in err.splitlines() if line.startswith("respdor: error:")]
        assert len(lines) == 1, err
        assert needle in lines[0].lower(), lines[0]
        assert _hashes(ws / "out") == out_before, "a refused run wrote a file"
    else:
        assert "respdor: error" not in err and "internal error" not in err
        assert needle in (err + cap.out).lower()
    for f in expected:
        assert (ws / "out" / f).stat().st_size > 0, f"{f} not written"
    assert not list((ws / "out").rglob("*.part*"))
    assert _hashes(ws / "in") == before, "an input file changed"


def test_json_to_stdout_is_the_result(ws, capsys):
    rc = main(["m2", str(ws / "in" / "m2.csv"), "--json", "-"])
    cap = capsys.readouterr()
    assert rc == 0
    data = json.loads(cap.out)
    assert data["m2"] > 0 and data["m2_unit"] == "rad^2 s^-2" and "M2 from the initial rise" in cap.err
    assert any("fraction 1 assumed" in n for n in data["notes"])
