"""Fuzz table: every command over ordinary user mistakes, run in-process.

For every case: the exit status (2 for a mistake, 0 where the input is fine), one line on stderr
naming the option / file / value, no traceback, numbers printed as numbers (never
``np.float64(...)``), and every input file byte-identical afterwards (SHA-256 of the whole
workspace of inputs, raw Bruker data sets included). Outputs go to ``out/``, which the hashes
leave out. The Ctrl-C cases, which need a real signal, are in ``test_fuzz_interrupt.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from respdor.cli import main

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
FIXTURES = Path(__file__).resolve().parent / "data"

from small_spec import SMALL_SPEC  # noqa: E402
from filetree import hashes as _hashes  # noqa: E402


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return make_workspace(tmp_path_factory.mktemp("fuzz"))


def make_workspace(w: Path) -> Path:
    """A workspace of valid inputs (and a few broken ones) in ``w/in`` beside an empty ``w/out``."""
    inp = w / "in"
    inp.mkdir()
    (w / "out").mkdir()
    shutil.copy(DATA / "respdor_13C27Al_synthetic.csv", inp / "curve.csv")
    shutil.copytree(DATA / "pass_113Cd_synthetic" / "pass2d", inp / "pass2d")
    shutil.copy(DATA / "pass_113Cd_synthetic" / "isotropic_1cycle.txt", inp / "iso.txt")
    shutil.copytree(FIXTURES / "bruker_respdor_pseudo2d", inp / "series")
    shutil.copytree(FIXTURES / "bruker_113Cd_1d", inp / "cd1d")
    (inp / "spec.toml").write_text(SMALL_SPEC)
    (inp / "manifold.csv").write_text("order,intensity,sigma\n" + "".join(
        f"{k},{np.exp(-0.3 * k * k):.6f},0.001\n" for k in range(-4, 5)))
    (inp / "binary.toml").write_bytes(bytes(range(256)) * 4)
    (inp / "binary.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(200))
    (inp / "empty.csv").write_text("")
    (inp / "one_point.csv").write_text("t_ms,dSS0,sigma\n1.0,0.2,0.01\n")
    (inp / "huge.csv").write_text("t_ms,dSS0,sigma\n" + "".join(
        f"{0.2 * i},{1e300 if i == 3 else 0.02 * i},0.01\n" for i in range(1, 12)))
    text = (inp / "curve.csv").read_text()
    (inp / "bom_crlf.csv").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    (inp / "bom_spec.toml").write_bytes(b"\xef\xbb\xbf" + SMALL_SPEC.replace("\n", "\r\n").encode())
    (inp / "bom_manifold.csv").write_bytes(b"\xef\xbb\xbf" + (inp / "manifold.csv").read_bytes())
    big_cq = SMALL_SPEC.replace("cq_mhz = 3.0", "cq_hz = 1e12")
    (inp / "big_cq.toml").write_text(big_cq)
    iso = (inp / "iso.txt").read_text().splitlines()
    iso[len(iso) // 2] = iso[len(iso) // 2].split(",")[0] + ",1e300"
    (inp / "iso_huge.txt").write_text("\n".join(iso) + "\n")
    # broken Bruker data sets
    shutil.copytree(inp / "pass2d", inp / "sfo1_zero")
    acqus = (inp / "sfo1_zero" / "acqus").read_text()
    (inp / "sfo1_zero" / "acqus").write_text(_set_param(acqus, "SFO1", "0"))
    shutil.copytree(inp / "pass2d", inp / "truncated")
    ser = (inp / "truncated" / "ser").read_bytes()
    (inp / "truncated" / "ser").write_bytes(ser[:100])
    shutil.copytree(inp / "series", inp / "series_bom")
    (inp / "series_bom" / "vclist").write_bytes(b"\xef\xbb\xbf" + (inp / "series" / "vclist").read_bytes().replace(
        b"\n", b"\r\n"))
    (inp / "not_a_dir").write_text("a file where a directory is expected\n")
    return w


def _set_param(text, key, value):
    out = []
    for line in text.splitlines():
        out.append(f"##${key}= {value}" if line.startswith(f"##${key}=") else line)
    return "\n".join(out) + "\n"


FIT = ["fit", "{in}/curve.csv", "--no-intervals"]
PLAN = ["plan", "--distance", "2.5", "--fraction", "0.24", "--snr", "40", "--scans", "64", "--recycle", "5",
        "--t2prime", "8ms", "--target-distance-error", "0.1", "--mas", "10k"]
PASS = ["pass-process", "{in}/pass2d", "--noise-region", "100", "200", "--mas", "8k",
        "--sites", "-50", "-320", "-440", "-630", "--fit-region", "-800", "100"]
DECON = ["deconvolve", "{in}/iso.txt", "--sites", "-50", "-320", "-440", "-630", "--noise-region", "100", "200"]
INTEG = ["integrate", "{in}/series", "--region", "0", "30", "--noise-region", "-80", "-40", "--mas", "10k",
         "--periods-per-count", "2"]
CSA = ["csa-fit", "{in}/manifold.csv", "--mas", "8k", "--larmor", "88.8MHz"]
SIM = ["simulate", "{in}/spec.toml"]

# (id, argv, exit status, text the one-line message must contain (lower case))
CASES = [
    # --- outputs that would destroy an input or cannot be written
    ("pass-csv-is-ser", PASS + ["--csv", "{in}/pass2d/ser"], 2, "inside the input data set"),
    ("pass-json-is-acqus", PASS + ["--json", "{in}/pass2d/acqus"], 2, "inside the input data set"),
    ("pass-plot-in-dataset", PASS + ["--plot", "{in}/pass2d/ser.png"], 2, "inside the input data set"),
    ("pass-plot-xyz", PASS + ["--plot", "{out}/x.xyz"], 2, "unknown figure format"),
    ("pass-csv-missing-dir", PASS + ["--csv", "{out}/nodir/x.csv"], 2, "does not exist"),
    ("pass-csv-parent-file", PASS + ["--csv", "{in}/not_a_dir/x.csv"], 2, "not a directory"),
    ("pass-csv-is-dir", PASS + ["--csv", "{out}"], 2, "is a directory"),
    ("pass-csv-json-same", PASS + ["--csv", "{out}/a.txt", "--json", "{out}/a.txt"], 2, "same file"),
    ("plan-both-t2", PLAN + ["--t2prime-from", "{in}/curve.csv"], 2, "give --t2prime or --t2prime-from"),
    ("plan-figure-is-curve", [a for a in PLAN if a not in ("--t2prime", "8ms")]
     + ["--t2prime-from", "{in}/curve.csv", "--figure", "{in}/curve.csv"], 2, "refusing to overwrite"),
    ("plan-csv-t2-input", [a for a in PLAN if a not in ("--t2prime", "8ms")]
     + ["--t2prime-from", "{in}/curve.csv", "--csv", "{in}/curve.csv"], 2, "refusing to overwrite"),
    ("plan-figure-xyz", PLAN + ["--figure", "{out}/p.xyz"], 2, "unknown figure format"),
    ("plan-csv-missing-dir", PLAN + ["--csv", "{out}/nodir/p.csv"], 2, "does not exist"),
    ("fit-plot-is-input", FIT + ["--plot", "{in}/curve.csv", "--output-dir", "{out}"], 2, "refusing to overwrite"),
    ("fit-json-is-input", FIT + ["--json", "{in}/curve.csv", "--output-dir", "{out}"], 2, "refusing to overwrite"),
    ("fit-outdir-is-file", FIT + ["--output-dir", "{in}/not_a_dir"], 2, "not a directory"),
    ("fit-plot-xyz", FIT + ["--output-dir", "{out}", "--plot", "{out}/f.xyz"], 2, "unknown figure format"),
    ("fit-plot-no-extension", FIT + ["--output-dir", "{out}", "--plot", "{out}/fig"], 2, "no file extension"),
    ("fit-no-files-json-file", FIT + ["--no-files", "--json", "{out}/r.json"], 2, "contradict"),
    ("fit-spec-as-output", FIT + ["--simulate", "{in}/spec.toml", "--json", "{in}/spec.toml"], 2,
     "refusing to overwrite"),
    ("sim-output-is-spec", SIM + ["--output", "{in}/spec.toml"], 2, "refusing to overwrite"),
    ("sim-json-is-spec", SIM + ["--output", "{out}/s.csv", "--json", "{in}/spec.toml"], 2, "refusing to overwrite"),
    ("sim-plot-xyz", SIM + ["--output", "{out}/s.csv", "--plot", "{out}/s.xyz"], 2, "unknown figure format"),
    ("sim-output-missing-dir", SIM + ["--output", "{out}/nodir/s.csv"], 2, "does not exist"),
    ("sim-output-parent-file", SIM + ["--output", "{in}/not_a_dir/s.csv"], 2, "not a directory"),
    ("sim-csv-json-same", SIM + ["--output", "{out}/s.csv", "--json", "{out}/s.csv"], 2, "same file"),
    ("decon-csv-is-input", DECON + ["--csv", "{in}/iso.txt"], 2, "refusing to overwrite"),
    ("decon-json-is-compare", DECON + ["--compare", "{in}/iso.txt", "--json", "{in}/iso.txt"], 2,
     "refusing to overwrite"),
    ("decon-plot-xyz", DECON + ["--plot", "{out}/d.xyz"], 2, "unknown figure format"),
    ("integ-output-in-dataset", INTEG + ["-o", "{in}/series/curve.csv"], 2, "inside the input data set"),
    ("integ-output-is-vclist", INTEG + ["--vclist", "{in}/series/vclist", "-o", "{in}/series/vclist"], 2,
     "inside the input data set"),
    ("integ-output-missing-dir", INTEG + ["-o", "{out}/nodir/c.csv"], 2, "does not exist"),
    ("csa-json-is-input", CSA + ["--json", "{in}/manifold.csv"], 2, "refusing to overwrite"),
    ("csa-plot-xyz", CSA + ["--plot", "{out}/m.xyz"], 2, "unknown figure format"),
    ("timings-csv-missing-dir", ["pass-timings", "--csv", "{out}/nodir/t.csv"], 2, "does not exist"),
    ("timings-json-is-dir", ["pass-timings", "--json", "{out}"], 2, "is a directory"),
    ("demo-outdir-is-file", ["demo", "--output-dir", "{in}/not_a_dir", "--no-plot"], 2, "not a directory"),
    # --- inputs that are not what they should be
    ("fit-missing", ["fit", "{in}/nothing.csv", "--no-files"], 2, "no such file"),
    ("fit-directory", ["fit", "{in}/pass2d", "--no-files"], 2, "is a directory"),
    ("fit-binary", ["fit", "{in}/binary.csv", "--no-files"], 2, "binary file"),
    ("fit-empty", ["fit", "{in}/empty.csv", "--no-files"], 2, "empty.csv"),
    ("fit-one-point", ["fit", "{in}/one_point.csv", "--no-files"], 2, "one_point.csv"),
    ("fit-1e300-value", ["fit", "{in}/huge.csv", "--no-files"], 2, "too large"),
    ("fit-1e300-option", FIT + ["--no-files", "--start", "D=1e300"], 2, "--start"),
    ("fit-mas-1e300", FIT + ["--no-files", "--mas", "1e300"], 2, "--mas"),
    ("fit-observe-27al", FIT + ["--no-files", "--observe", "27Al"], 2, "27al"),
    ("sim-missing", ["simulate", "{in}/nothing.toml", "--no-files"], 2, "no such spec file"),
    ("sim-directory", ["simulate", "{in}/pass2d", "--no-files"], 2, "is a directory"),
    ("sim-binary", ["simulate", "{in}/binary.toml", "--no-files"], 2, "binary file"),
    ("sim-cq-1e12", ["simulate", "{in}/big_cq.toml", "--no-files"], 2, "larmor"),
    ("sim-powder-0", SIM + ["--no-files", "--powder", "0"], 2, "--powder"),
    ("sim-powder-1e11", SIM + ["--no-files", "--powder", "100000000000"], 2, "--powder"),
    ("sim-powder-text", SIM + ["--no-files", "--powder", "many"], 2, "--powder"),
    ("csa-binary", ["csa-fit", "{in}/binary.csv", "--mas", "8k", "--larmor", "88.8MHz"], 2, "binary file"),
    ("csa-directory", ["csa-fit", "{in}/pass2d", "--mas", "8k", "--larmor", "88.8MHz"], 2, "is a directory"),
    ("csa-fwhm-0", ["csa-fit", "{in}/iso.txt", "--spectrum", "--sites", "-50", "--mas", "8k", "--larmor", "88.8MHz",
                    "--fwhm", "0"], 2, "--fwhm"),
    ("decon-fwhm-0", DECON + ["--fwhm", "0"], 2, "--fwhm"),
    ("decon-fwhm-neg", DECON + ["--fwhm", "-20"], 2, "--fwhm"),
    ("decon-fit-region-empty", DECON + ["--fit-region", "50", "50"], 2, "--fit-region"),
    ("decon-1e300-intensity", ["deconvolve", "{in}/iso_huge.txt", "--sites", "-50"], 2, "too large"),
    ("decon-1e300-site", ["deconvolve", "{in}/iso.txt", "--sites", "1e300"], 2, "--sites"),
    ("decon-1e999-site", ["deconvolve", "{in}/iso.txt", "--sites", "1e999"], 2, "--sites"),
    ("decon-site-outside", ["deconvolve", "{in}/iso.txt", "--sites", "5000"], 2, "5000 ppm"),
    ("decon-no-signal", DECON + ["--sites", "0"], 0, "fitted at -50.00 ppm"),
    ("timings-n-huge", ["pass-timings", "-n", "99999999"], 2, "--n-pitch"),
    ("csa-field-negative", ["csa-fit", "{in}/manifold.csv", "--mas", "8k", "--field", "-9.4"], 2, "--field"),
    ("decon-binary", ["deconvolve", "{in}/binary.csv", "--sites", "-50"], 2, "binary file"),
    ("pass-fwhm-0", PASS + ["--fwhm", "0"], 2, "--fwhm"),
    ("pass-fit-region-empty", PASS[:-3] + ["--fit-region", "5", "5"], 2, "--fit-region"),
    ("pass-sfo1-zero", ["pass-process", "{in}/sfo1_zero", "--noise-region", "100", "200", "--mas", "8k"], 2,
     "sfo1"),
    ("pass-truncated-ser", ["pass-process", "{in}/truncated", "--noise-region", "100", "200", "--mas", "8k"], 2,
     "ser"),
    ("pass-file-not-dir", ["pass-process", "{in}/curve.csv", "--noise-region", "100", "200", "--mas", "8k"], 2,
     "acqus"),
    ("integ-periods-0", INTEG[:-1] + ["0", "-o", "{out}/c.csv"], 2, "--periods-per-count"),
    ("integ-periods-neg", INTEG[:-1] + ["-2", "-o", "{out}/c.csv"], 2, "--periods-per-count"),
    ("integ-vclist-binary", INTEG + ["--vclist", "{in}/binary.csv", "-o", "{out}/c.csv"], 2, "binary file"),
    ("integ-vclist-dir", INTEG + ["--vclist", "{in}/pass2d", "-o", "{out}/c.csv"], 2, "is a directory"),
    ("plan-t2prime-huge", [a if a != "8ms" else "99999999" for a in PLAN], 2, "--t2prime"),
    ("plan-reference-time-huge", PLAN + ["--reference-time", "99999999"], 2, "--reference-time"),
    ("plan-compare-max-time-neg", PLAN + ["--compare-max-time", "-1"], 2, "--compare-max-time"),
    ("plan-check-points-huge", PLAN + ["--check-points", "99999999"], 2, "--check-points"),
    ("plan-observe-27al", PLAN + ["--observe", "27Al"], 2, "spin-1/2"),
    ("plan-t2-binary", [a for a in PLAN if a not in ("--t2prime", "8ms")] + ["--t2prime-from", "{in}/binary.csv"],
     2, "binary file"),
    ("plan-snr-1e300", [a if a != "40" else "1e300" for a in PLAN], 2, "--snr"),
    ("convert-zero", ["convert", "--pair", "13C", "27Al", "--distance", "0"], 2, "--distance"),
    ("convert-1e300", ["convert", "--pair", "13C", "27Al", "--coupling", "1e300"], 2, "--coupling"),
    ("convert-nucleus", ["convert", "--pair", "13C", "Xx99", "--distance", "2"], 2, "xx99"),
    # --- the same input with a BOM and CRLF line ends is read exactly as without
    ("fit-bom-crlf", ["fit", "{in}/bom_crlf.csv", "--no-files", "--no-intervals", "--no-plot"], 0, ""),
    ("sim-bom-crlf-spec", ["simulate", "{in}/bom_spec.toml", "--no-files"], 0, ""),
    ("csa-bom-manifold", ["csa-fit", "{in}/bom_manifold.csv", "--mas", "8k", "--larmor", "88.8MHz"], 0, ""),
    ("integ-bom-vclist", ["integrate", "{in}/series_bom", "--region", "0", "30", "--noise-region", "-80", "-40",
                          "--mas", "10k", "--periods-per-count", "2", "-o", "{out}/bom.csv"], 0, ""),
    # --- correct runs write exactly their planned files (whole: no temporary file is left)
    ("fit-writes", FIT + ["--output-dir", "{out}/fit"], 0, "",
     ["fit/curve_fit.json", "fit/curve_fit_params.csv", "fit/curve_fit_curve.csv", "fit/curve_fit.png"]),
    ("sim-writes-default-cwd", SIM + ["--json", "{out}/s.json"], 0, "", ["spec_sim.csv", "spec_sim.png", "s.json"]),
    ("plan-writes", PLAN + ["--csv", "{out}/p.csv", "--figure", "{out}/p.pdf"], 0, "", ["p.csv", "p.pdf"]),
    ("decon-writes", DECON + ["--csv", "{out}/d.csv", "--json", "{out}/d.json", "--plot", "{out}/d.svg"], 0, "",
     ["d.csv", "d.json", "d.svg"]),
    ("csa-writes", CSA + ["--csv", "{out}/m.csv", "--plot", "{out}/m.png"], 0, "", ["m.csv", "m.png"]),
    ("integ-writes", INTEG + ["-o", "{out}/c.csv"], 0, "", ["c.csv"]),
    ("timings-writes", ["pass-timings", "--csv", "{out}/t.csv", "--json", "{out}/t.json"], 0, "",
     ["t.csv", "t.json"]),
    # --- --no-files writes nothing
    ("fit-no-files", FIT + ["--no-files", "--output-dir", "{out}/nf"], 0, ""),
    ("sim-no-files", SIM + ["--no-files"], 0, ""),
]


def _expand(argv, ws):
    return [a.replace("{in}", str(ws / "in")).replace("{out}", str(ws / "out")) for a in argv]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fuzz(case, ws, capsys, monkeypatch):
    name, argv, status, needle = case[:4]
    expected_files = case[4] if len(case) > 4 else []
    monkeypatch.chdir(ws / "out")  # default outputs land in out/, never among the inputs
    before = _hashes(ws / "in")
    out_before = _hashes(ws / "out")
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
        assert needle in err + cap.out  # a run that succeeds may still have to say something
    for f in expected_files:
        assert (ws / "out" / f).stat().st_size > 0, f"{f} not written"
    if "no-files" in name:
        assert _hashes(ws / "out") == out_before, "--no-files wrote a file"
    assert not list((ws / "out").rglob("*.part*")), "a temporary file was left behind"
    assert _hashes(ws / "in") == before, "an input file changed"
