"""Fuzz table, spectra commands: damaged Bruker sets and text spectra a careless user may give.

csa-fit, deconvolve and pass-process over Bruker sets copied from the bundled ones and damaged
(acqus frequencies no spectrometer records, a fid of zeros, truncated or empty data, 1D/2D mix-ups),
text spectra with an axis in another unit than ppm or without any line, and manifolds with a
repeated order. For each: exit status, one ``respdor: error:`` line naming the file, parameter or
value, no traceback, no file written and every input byte-identical afterwards.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from respdor.cli import main
from filetree import hashes as _hashes  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "pass_113Cd_synthetic"
CD1D = Path(__file__).resolve().parent / "data" / "bruker_113Cd_1d"


def _set(directory: Path, key: str, value: str, name: str = "acqus") -> None:
    p = directory / name
    p.write_text(re.sub(rf"^##\${key}=.*$", f"##${key}= {value}", p.read_text(), flags=re.M))


def _bruker_variants(inp: Path) -> None:
    shutil.copytree(CD1D, inp / "cd1d")
    shutil.copytree(DATA / "pass2d", inp / "pass2d")
    variants = {
        "sw_huge": ("SW_h", "5e12"), "sw_tiny": ("SW_h", "0.5"), "sw_neg": ("SW_h", "-50000"),
        "sfo1_khz": ("SFO1", "88774.9"), "bf1_khz": ("BF1", "88801.55"), "sfo1_other": ("SFO1", "100.6"),
        "grpdly_huge": ("GRPDLY", "5000"),
    }
    for name, (key, value) in variants.items():
        shutil.copytree(CD1D, inp / name)
        _set(inp / name, key, value)
    fid = (CD1D / "fid").read_bytes()
    for name, data in {"fid_zeros": bytes(len(fid)), "fid_empty": b"", "fid_half": fid[: len(fid) // 2]}.items():
        shutil.copytree(CD1D, inp / name)
        (inp / name / "fid").write_bytes(data)
    shutil.copytree(CD1D, inp / "no_acqus")
    (inp / "no_acqus" / "acqus").unlink()
    shutil.copytree(CD1D, inp / "acqus_binary")
    (inp / "acqus_binary" / "acqus").write_bytes(bytes(range(256)) * 3)


def _text_variants(inp: Path) -> None:
    x = np.loadtxt(DATA / "isotropic_1cycle.txt", delimiter=",", comments="#")
    shutil.copy(DATA / "isotropic_1cycle.txt", inp / "iso.txt")

    def write(name, head, cols):
        body = "".join(",".join(f"{v:.6g}" for v in row) + "\n" for row in np.column_stack(cols))
        (inp / name).write_text(head + body)

    write("iso_hz_comment.txt", "# Hz,intensity\n", (x[:, 0] * 88.8, x[:, 1]))
    write("iso_khz_header.txt", "freq_kHz;intensity\n", (x[:, 0] * 0.0888, x[:, 1]))
    write("iso_swapped.txt", "intensity,ppm\n", (x[:, 1], x[:, 0]))
    write("fid_as_spectrum.txt", "t_ms,signal\n", (np.arange(len(x)) * 0.01 + 0.01, x[:, 1]))
    write("iso_zeros.txt", "# ppm,intensity\n", (x[:, 0], 0 * x[:, 1]))
    write("iso_const.txt", "ppm intensity\n", (x[:, 0], 0 * x[:, 1] + 5.0))
    write("iso_rev.txt", "# ppm,intensity\n", (x[::-1, 0], x[::-1, 1]))
    y = x[:, 1].copy()
    y[100] = np.nan
    write("iso_nan.txt", "# ppm,intensity\n", (x[:, 0], y))
    k = np.arange(-4, 5)
    man = "order,intensity,sigma\n" + "".join(f"{kk},{np.exp(-0.3 * kk * kk):.6f},0.001\n" for kk in k)
    (inp / "man_dup.csv").write_text(man + "2,0.3,0.001\n")
    (inp / "man_ppm.csv").write_text("ppm,intensity\n" + "".join(f"{-300 + 90 * kk},1\n" for kk in k))
    (inp / "man_only0.csv").write_text("order,intensity,sigma\n0,1.0,0.001\n")
    (inp / "man.csv").write_text(man)
    (inp / "man_orders_x1000.csv").write_text("order,intensity\n" + "".join(f"{1000 * kk},1\n" for kk in k))


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = tmp_path_factory.mktemp("advspec")
    (w / "in").mkdir()
    (w / "out").mkdir()
    _bruker_variants(w / "in")
    _text_variants(w / "in")
    return w


def DEC(name, *extra):
    return ["deconvolve", "{in}/" + name, "--sites", "-300", "--json", "{out}/d.json", *extra]


def CSA(name, *extra):
    return ["csa-fit", "{in}/" + name, "--spectrum", "--sites", "-300", "--csv", "{out}/c.csv", *extra]


MAN = ["--mas", "8k", "--larmor", "88.8MHz", "--json", "{out}/m.json"]

# (id, argv, exit status, text the one-line message (or, exit 0, the output) must contain, lower case)
CASES = [
    # --- acqus values no spectrometer records (were: 5e12 Hz ran out of memory, kHz SFO1 a wrong refusal)
    ("sw-huge", CSA("sw_huge"), 2, "sw_h = 5e+12 hz: above 20 mhz"),
    ("sw-tiny", DEC("sw_tiny"), 2, "sw_h = 0.5 hz: below 10 hz"),
    ("sw-negative", DEC("sw_neg"), 2, "sw_h = -50000 must be > 0"),
    ("sfo1-in-khz", CSA("sfo1_khz"), 2, "sfo1 = 88774.9 mhz: above 1500 mhz"),
    ("bf1-in-khz", DEC("bf1_khz"), 2, "bf1 = 88801.6 mhz: above 1500 mhz"),
    ("sfo1-not-near-bf1", DEC("sfo1_other"), 2, "sfo1 = 100.6 mhz is 11.798"),
    # --- data without any line (were: exit 0, a "fit" of the baseline)
    ("fid-all-zeros", DEC("fid_zeros"), 2, "is constant (0 everywhere)"),
    ("lb-flattens-every-line", DEC("cd1d", "--lb", "1e7"), 2, "line broadening 1e+07 hz is wider than the whole spectrum"),
    ("text-all-zeros", DEC("iso_zeros.txt"), 2, "intensity column is constant (0 everywhere)"),
    ("text-constant", CSA("iso_const.txt", "--mas", "8k", "--larmor", "88.8MHz"), 2, "constant (5 everywhere)"),
    # --- text axes in another unit than ppm (were: Hz read as ppm, exit 0)
    ("text-hz-commented-header", DEC("iso_hz_comment.txt"), 2, "column 1 'hz', a frequency in hz"),
    ("text-khz-header", DEC("iso_khz_header.txt"), 2, "'freq_khz', a frequency in khz"),
    ("text-columns-swapped", DEC("iso_swapped.txt"), 2, "puts ppm in column 2"),
    ("manifold-given-as-spectrum", ["csa-fit", "{in}/man.csv", "--spectrum", "--mas", "8k", "--larmor", "88.8MHz",
                                    "--sites", "0"], 2, "'order', sideband orders (a manifold"),
    ("manifold-given-to-deconvolve", ["deconvolve", "{in}/man.csv", "--sites", "0"], 2, "sideband orders"),
    ("text-fid-not-spectrum", DEC("fid_as_spectrum.txt"), 2, "'t_ms', a time in ms"),
    # --- manifolds (was: a repeated order counted twice, exit 0)
    ("manifold-repeated-order", ["csa-fit", "{in}/man_dup.csv", *MAN], 2, "sideband order 2 appears twice"),
    ("manifold-ppm-column", ["csa-fit", "{in}/man_ppm.csv", *MAN], 2, "must name columns 'order'"),
    ("manifold-one-order", ["csa-fit", "{in}/man_only0.csv", *MAN], 2, "at least 3 sideband orders"),
    ("manifold-orders-beyond-any-csa", ["csa-fit", "{in}/man_orders_x1000.csv", *MAN], 2,
     "sideband order 4000 at mas 8000 hz lies 3.604e+05 ppm"),
    # --- values and options (were: MAS 8 MHz fitted to span 451600 ppm; ignored FID options; a site given twice)
    ("manifold-mas-in-mhz", ["csa-fit", "{in}/man.csv", "--mas", "8M", "--larmor", "88.8MHz"], 2,
     "--mas 8m (= 8e+06 hz): above 200 khz"),
    ("pass-mas-below-any-rotor", ["pass-process", "{in}/pass2d", "--noise-region", "100", "200", "--mas", "80"], 2,
     "did you mean 80 khz"),
    ("manifold-lb", ["csa-fit", "{in}/man.csv", *MAN, "--lb", "50"], 2, "--lb has no effect on a text spectrum"),
    ("manifold-baseline-poly", ["csa-fit", "{in}/man.csv", *MAN, "--baseline-poly", "1"], 2,
     "--baseline-poly has no effect without --spectrum"),
    ("text-phase", ["deconvolve", "{in}/iso.txt", "--sites", "-50", "--phase", "10", "20"], 2,
     "--phase has no effect on a text spectrum"),
    ("text-zero-fill", ["deconvolve", "{in}/iso.txt", "--sites", "-50", "--zero-fill", "4"], 2,
     "--zero-fill has no effect"),
    ("sites-repeated", ["csa-fit", "{in}/iso.txt", "--spectrum", "--mas", "8k", "--larmor", "88.8MHz", "--sites",
                        "-50", "-320", "-50"], 2, "--sites: -50 ppm given twice"),
    ("sites-repeated-deconvolve", ["deconvolve", "{in}/iso.txt", "--sites", "-320", "-320.0"], 2, "given twice"),
    ("starts-beyond-the-five", ["csa-fit", "{in}/iso.txt", "--spectrum", "--mas", "8k", "--larmor", "88.8MHz",
                                "--sites", "-50", "--starts", "100000"], 2, "--starts must lie in 1..5"),
    # --- a fit region beside the spectrum (was: "internal error", exit 1)
    ("pass-fit-region-outside", ["pass-process", "{in}/pass2d", "--noise-region", "100", "200", "--mas", "8k",
                                 "--fit-region", "3000", "4000"], 2, "fit region 3000..4000 ppm holds only 0 point"),
    ("deconvolve-fit-region-outside", ["deconvolve", "{in}/iso.txt", "--sites", "-50", "--fit-region", "3000",
                                       "4000"], 2, "fit region 3000..4000 ppm holds only 0 point"),
    # --- damaged sets that were already refused well
    ("fid-empty", DEC("fid_empty"), 2, "holds 0 bytes"),
    ("fid-truncated", CSA("fid_half"), 2, "the file is truncated"),
    ("acqus-missing", DEC("no_acqus"), 2, "acqus not found"),
    ("acqus-binary", DEC("acqus_binary"), 2, "binary file"),
    ("grpdly-huge", DEC("grpdly_huge"), 2, "group delay of 5000 points"),
    ("2d-given-to-deconvolve", DEC("pass2d"), 2, "a 2d data set (ser, 16 rows)"),
    ("1d-given-to-pass", ["pass-process", "{in}/cd1d", "--noise-region", "100", "200", "--mas", "8k"], 2,
     "pass needs a 2d ser"),
    ("text-nan", DEC("iso_nan.txt"), 2, "non-finite value"),
    # --- fine inputs still read: a commented "# ppm,intensity" header, a descending axis
    ("text-ppm-commented-header", ["deconvolve", "{in}/iso.txt", "--sites", "-50"], 0, "-50.0"),
    ("bruker-lb-still-works", ["deconvolve", "{in}/cd1d", "--sites", "-300", "--lb", "10"], 0, "-300.0"),
    ("text-baseline-poly-still-works", ["deconvolve", "{in}/iso.txt", "--sites", "-50", "--baseline-poly", "1"], 0,
     "order-1 polynomial"),
    ("text-descending-axis", ["deconvolve", "{in}/iso_rev.txt", "--sites", "-50"], 0, "-50.0"),
]


def _expand(argv, ws):
    return [a.replace("{in}", str(ws / "in")).replace("{out}", str(ws / "out")) for a in argv]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fuzz_adv_spectra(case, ws, capsys, monkeypatch):
    name, argv, status, needle = case
    monkeypatch.chdir(ws / "out")
    before, out_before = _hashes(ws / "in"), _hashes(ws / "out")
    try:
        rc = main(_expand(argv, ws))
    except SystemExit as exc:
        rc = exc.code
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err + cap.out and "internal error" not in cap.err
    assert rc == status, f"{name}: exit {rc}, stderr: {cap.err}"
    if status == 2:
        lines = [line for line in cap.err.splitlines() if line.startswith("respdor: error:")]
        assert len(lines) == 1, cap.err
        assert needle in lines[0].lower(), lines[0]
        assert _hashes(ws / "out") == out_before, "a refused run wrote a file"
    else:
        assert "respdor: error" not in cap.err
        assert needle in cap.out.lower()
    assert _hashes(ws / "in") == before, "an input file changed"
