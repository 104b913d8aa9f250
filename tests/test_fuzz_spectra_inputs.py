"""Fuzz table for the spectra commands (csa-fit, pass-process, deconvolve, integrate) and the
Bruker reader: implausible or contradictory inputs, each class tried with several members.

Classes: an observe frequency in the wrong unit; a --larmor that contradicts --field, --nucleus
or the data set; a noise region on signal (line, sideband, given site); a swapped --order; CPMG
rows integrated without --cpmg; a non-integer --periods-per-count; the nucleus lost between
``integrate`` and ``fit``; a Bruker fid/ser whose byte order contradicts BYTORDA.

For every case, as in ``test_fuzz_cli.py``: the exit status, one line on stderr naming the
option / file / value (or a WARNING line for an accepted input), no traceback, every input
byte-identical and no file written by a refused run.
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
DATA = ROOT / "data"
FIXTURES = Path(__file__).resolve().parent / "data"


def _set_param(text, key, value):
    return "\n".join(f"##${key}= {value}" if line.startswith(f"##${key}=") else line
                     for line in text.splitlines()) + "\n"


def _edit_acqus(d: Path, **values):
    text = (d / "acqus").read_text()
    for k, v in values.items():
        text = _set_param(text, k, v)
    (d / "acqus").write_text(text)


def _cpmg_series_from_program(d: Path, program: str):
    """A pseudo-2D series whose rows are the echo train of the fixture pulse program ``program``."""
    from respdor.spectra.bruker import read_bruker, write_bruker

    src = read_bruker(FIXTURES / "cpmg_programs" / program)
    write_bruker(d, np.array([src.data] * 4), sw_hz=src.sw_hz, bf1_mhz=src.bf1_mhz, sfo1_mhz=src.sfo1_mhz,
                 nucleus="113Cd", pulprog=program, vclist=[2, 4],
                 extra_acqus={k: src.acqus[k] for k in ("P", "D", "L")},
                 pulseprogram=(FIXTURES / "cpmg_programs" / program / "pulseprogram").read_text())


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = tmp_path_factory.mktemp("fuzz_spectra")
    inp = w / "in"
    inp.mkdir()
    (w / "out").mkdir()
    shutil.copy(DATA / "pass_113Cd_synthetic" / "isotropic_1cycle.txt", inp / "iso.txt")
    shutil.copy(DATA / "pass_113Cd_synthetic" / "mas1d_8kHz.txt", inp / "mas1d.txt")
    shutil.copytree(DATA / "pass_113Cd_synthetic" / "pass2d", inp / "pass2d")
    shutil.copytree(DATA / "cpmg_111Cd_synthetic" / "respdor", inp / "cpmg")
    shutil.copytree(FIXTURES / "bruker_respdor_pseudo2d", inp / "series")
    shutil.copytree(FIXTURES / "bruker_113Cd_1d", inp / "cd1d")
    (inp / "manifold.csv").write_text("order,intensity,sigma\n" + "".join(
        f"{k},{np.exp(-0.3 * k * k):.6f},0.001\n" for k in range(-4, 5)))
    # Byte order contradicting BYTORDA: the int32 fid byte-swapped, BYTORDA left at 0 ...
    shutil.copytree(FIXTURES / "bruker_113Cd_1d", inp / "cd1d_swapped")
    fid = np.fromfile(inp / "cd1d_swapped" / "fid", dtype="<i4")
    fid.astype(">i4").tofile(inp / "cd1d_swapped" / "fid")
    # ... a ser untouched but BYTORDA set to 1 ...
    shutil.copytree(FIXTURES / "bruker_respdor_pseudo2d", inp / "series_bytorda1")
    _edit_acqus(inp / "series_bytorda1", BYTORDA=1)
    # ... and a float64 (DTYPA 2) fid written big endian under BYTORDA 0.
    shutil.copytree(FIXTURES / "bruker_113Cd_1d", inp / "cd1d_f8")
    fid.astype(">f8").tofile(inp / "cd1d_f8" / "fid")
    _edit_acqus(inp / "cd1d_f8", DTYPA=2)
    # A type contradicting DTYPA: float64 points under DTYPA 0, int32 points under DTYPA 2.
    shutil.copytree(FIXTURES / "bruker_113Cd_1d", inp / "cd1d_f8_as_int")
    fid.astype("<f8").tofile(inp / "cd1d_f8_as_int" / "fid")
    shutil.copytree(FIXTURES / "bruker_113Cd_1d", inp / "cd1d_int_as_f8")
    _edit_acqus(inp / "cd1d_int_as_f8", DTYPA=2)
    _cpmg_series_from_program(inp / "qcpmg_series", "fid_train")
    # CPMG rows whose pulse program is gone: only the data say it (a spikelet comb).
    shutil.copytree(DATA / "cpmg_111Cd_synthetic" / "respdor", inp / "cpmg_noprog")
    (inp / "cpmg_noprog" / "pulseprogram").unlink()
    _edit_acqus(inp / "cpmg_noprog", PULPROG="<zg>")
    # A curve whose comment names an isotope that does not exist.
    (inp / "bad_meta.csv").write_text("# observe = 99Xx\nt_ms,dSS0,sigma\n" + "".join(
        f"{0.2 * i:.1f},{0.05 * i:.3f},0.01\n" for i in range(1, 9)))
    return w


CSA = ["csa-fit", "{in}/manifold.csv", "--mas", "8k"]
CD1D = ["csa-fit", "{in}/cd1d", "--spectrum", "--sites", "-300"]
DECON = ["deconvolve", "{in}/iso.txt", "--sites", "-50", "-320", "-440", "-630"]
MAS1D = ["csa-fit", "{in}/mas1d.txt", "--spectrum", "--mas", "8k", "--larmor", "88.8016MHz",
         "--sites", "-50", "-320", "-440", "-630", "--span", "100", "400", "400", "200", "--fwhm", "30"]
PASS = ["pass-process", "{in}/pass2d", "--mas", "8k", "--sites", "-50", "-320", "-440", "-630"]
INTEG = ["integrate", "{in}/series", "--region", "0", "30", "--mas", "10k"]
CPMG = ["integrate", "{in}/cpmg", "--region", "-80", "-10", "--noise-region", "100", "200", "--mas", "10k",
        "--periods-per-count", "2"]

CASES = [
    # --- an observe frequency in the wrong unit (a bare number is Hz; 1-1500 MHz) ---
    ("larmor-bare-mhz", CSA + ["--larmor", "88.8"], 2, "did you mean 88.8mhz"),
    ("larmor-bare-tesla", CSA + ["--larmor", "9.4"], 2, "--field 9.4"),
    ("larmor-khz", CSA + ["--larmor", "88.8kHz"], 2, "did you mean 88.8mhz"),
    ("larmor-hz-huge", CSA + ["--larmor", "8.88e11"], 2, "no nmr observe frequency"),
    ("larmor-negative", CSA + ["--larmor=-88.8MHz"], 2, "--larmor -88.8mhz: a frequency here cannot be negative"),
    ("field-as-mhz", CSA + ["--nucleus", "113Cd", "--field", "400.13"], 2, "--field 9.40"),
    ("larmor-ok-bare-hz", CSA + ["--larmor", "88800000"], 0, "--larmor 88800000: read as Hz"),
    # --- a --larmor that contradicts --field, --nucleus or the data set ---
    ("larmor-vs-field", CSA + ["--larmor", "88.8MHz", "--nucleus", "113Cd", "--field", "11.7"], 2, "--field 11.7"),
    ("larmor-vs-nucleus", CSA + ["--larmor", "300MHz", "--nucleus", "113Cd"], 2, "--nucleus 113cd"),
    ("larmor-vs-sfo1", CD1D + ["--larmor", "100MHz"], 2, "sfo1"),
    ("field-vs-sfo1", CD1D + ["--nucleus", "113Cd", "--field", "11.7"], 2, "--field 11.7"),
    ("nucleus-vs-nuc1", CD1D + ["--nucleus", "13C"], 2, "nuc1"),
    ("nucleus-vs-nuc1-deconvolve", ["deconvolve", "{in}/cd1d", "--sites", "-300", "--nucleus", "31P"], 2,
     "--nucleus 31p but the data set observes 113cd"),
    ("larmor-vs-field-small", CSA + ["--larmor", "88.8MHz", "--nucleus", "113Cd", "--field", "9.45"], 0,
     "WARNING: --larmor gives 88.8000 MHz but --field 9.45 T"),
    ("larmor-other-nucleus", CSA + ["--larmor", "88.8MHz", "--nucleus", "13C"], 0, "it is 113Cd on a 400.1 MHz"),
    # --- a noise region on signal ---
    ("noise-on-line", DECON + ["--noise-region", "-300", "-250"], 2, "--noise-region -300 -250"),
    ("noise-on-site", DECON + ["--noise-region", "-80", "-20"], 2, "contains the site at -50"),
    ("noise-on-sideband", MAS1D + ["--noise-region", "30", "60"], 2, "--noise-region 30 60"),
    ("noise-on-centreband-cd1d", CD1D + ["--noise-region", "-350", "-250"], 2, "--noise-region -350 -250"),
    ("noise-pass-on-site", PASS + ["--noise-region", "-350", "-300"], 2, "contains the site at -320"),
    ("noise-integrate-on-line", ["integrate", "{in}/series", "--region", "0", "10", "--mas", "10k", "--noise-region",
                                 "12", "40", "--periods-per-count", "2", "-o", "{out}/c.csv"], 2, "--noise-region 12 40"),
    ("noise-cpmg-on-line", ["integrate", "{in}/cpmg", "--cpmg", "sum", "--region", "-45", "-15", "--noise-region",
                            "-130", "-50", "--mas", "10k", "--periods-per-count", "2", "-o", "{out}/c.csv"],
     2, "--noise-region -130 -50"),
    ("noise-too-few-points", ["integrate", "{in}/cpmg", "--cpmg", "sum", "--region", "-45", "-15", "--noise-region",
                              "-100", "-50", "--mas", "10k", "--periods-per-count", "2", "-o", "{out}/c.csv"],
     2, "--noise-region -100 -50: holds only 5 points"),
    # --- a swapped --order ---
    ("order-swapped", INTEG + ["--noise-region", "-80", "-40", "--periods-per-count", "2", "--order", "s1s0",
                               "-o", "{out}/c.csv"], 2, "use --order s0s1"),
    ("order-swapped-cpmg", CPMG + ["--cpmg", "sum", "--order", "s1s0", "-o", "{out}/c.csv"], 2, "--order s1s0"),
    # --- CPMG rows without --cpmg ---
    ("cpmg-missing-known-program", CPMG + ["-o", "{out}/c.csv"], 2, "--cpmg sum"),
    ("cpmg-missing-pulseprogram", ["integrate", "{in}/qcpmg_series", "--region", "-90", "60", "--noise-region",
                                   "120", "280", "--mas", "10k", "--periods-per-count", "2", "-o", "{out}/c.csv"],
     2, "--cpmg sum"),
    ("cpmg-missing-data-only", ["integrate", "{in}/cpmg_noprog", "--region", "-80", "-10", "--noise-region", "100",
                                "200", "--mas", "10k", "--periods-per-count", "2", "-o", "{out}/c_noprog.csv"], 0,
     "WARNING: " ),
    # --- a non-integer --periods-per-count ---
    ("ppc-half", INTEG + ["--noise-region", "-80", "-40", "--periods-per-count", "0.5", "-o", "{out}/c.csv"], 2,
     "--periods-per-count 0.5"),
    ("ppc-2.5", INTEG + ["--noise-region", "-80", "-40", "--periods-per-count", "2.5", "-o", "{out}/c.csv"], 2,
     "--periods-per-count 2.5"),
    # --- a byte order that contradicts BYTORDA ---
    ("bytorda-swapped-fid", ["deconvolve", "{in}/cd1d_swapped", "--sites", "-300"], 2, "bytorda = 0"),
    ("bytorda-1-ser", INTEG + ["--noise-region", "-80", "-40", "--periods-per-count", "2", "-o", "{out}/c.csv"], 2,
     "bytorda"),
    ("bytorda-float64", ["deconvolve", "{in}/cd1d_f8", "--sites", "-300"], 2, "bytorda = 0"),
    ("dtypa-float-as-int", ["deconvolve", "{in}/cd1d_f8_as_int", "--sites", "-300"], 2, "dtypa = 0 (int32)"),
    ("dtypa-int-as-float", ["csa-fit", "{in}/cd1d_int_as_f8", "--spectrum", "--sites", "-300"], 2,
     "dtypa = 2 (float64)"),
    # --- the nucleus of a curve file ---
    ("curve-unknown-isotope", ["fit", "{in}/bad_meta.csv", "--no-intervals", "--no-files"], 2, "99xx"),
]


def _expand(argv, ws):
    return [a.replace("{in}", str(ws / "in")).replace("{out}", str(ws / "out")) for a in argv]


def _run(argv, ws, capsys, monkeypatch):
    monkeypatch.chdir(ws / "out")
    try:
        rc = main(_expand(argv, ws))
    except SystemExit as exc:
        rc = exc.code
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err + cap.out and "internal error" not in cap.err
    return rc, cap


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fuzz_spectra(case, ws, capsys, monkeypatch):
    name, argv, status, needle = case
    if name == "bytorda-1-ser":
        argv = [a.replace("{in}/series", "{in}/series_bytorda1") for a in argv]
    before, out_before = _hashes(ws / "in"), _hashes(ws / "out")
    rc, cap = _run(argv, ws, capsys, monkeypatch)
    assert rc == status, f"{name}: exit {rc}, stderr: {cap.err}"
    if status == 2:
        lines = [line for line in cap.err.splitlines() if line.startswith("respdor: error:")]
        assert len(lines) == 1, cap.err
        assert needle.lower() in lines[0].lower(), lines[0]
        assert _hashes(ws / "out") == out_before, "a refused run wrote a file"
    else:
        assert needle in cap.err + cap.out
        if name == "cpmg-missing-data-only":
            assert "comb of 11 narrow lines every 390.6 Hz" in cap.err and "--echo-period 2.56ms" in cap.err
    assert _hashes(ws / "in") == before, "an input file changed"


def test_noise_region_on_a_weak_sideband_is_a_warning(ws, capsys, monkeypatch):
    # 130 ppm holds a sideband of the -50 ppm site 5 x the noise: accepted, said, in the JSON too.
    rc, cap = _run(MAS1D + ["--noise-region", "100", "200", "--json", "{out}/w.json"], ws, capsys, monkeypatch)
    assert rc == 0
    warn = [line for line in cap.err.splitlines() if line.startswith("WARNING: --noise-region 100 200")]
    assert len(warn) == 1 and "128.4 ppm" in warn[0]
    import json

    assert any("--noise-region 100 200" in w for w in json.loads((ws / "out" / "w.json").read_text())["warnings"])


def test_integrate_curve_carries_the_nucleus_to_fit(ws, capsys, monkeypatch):
    out = ws / "out" / "cd.csv"
    rc, cap = _run(CPMG + ["--cpmg", "sum", "-o", str(out)], ws, capsys, monkeypatch)
    assert rc == 0
    assert "fit it with: respdor fit " + str(out) + " --observe 111Cd" in cap.out
    assert out.read_text().splitlines()[0] == "# observe = 111Cd"
    # Leaving --observe out fits 111Cd{27Al} (r from D with 111Cd's gamma), as following the hint does.
    rc, cap = _run(["fit", str(out), "--no-intervals", "--no-files"], ws, capsys, monkeypatch)
    assert rc == 0 and "--observe 111Cd: from" in cap.out and "111Cd{27Al}" in cap.out
    r_line = next(line for line in cap.out.splitlines() if line.startswith("r (A)"))
    assert float(r_line.split()[2]) == pytest.approx(3.16, abs=0.02)
    before = _hashes(ws / "out")
    rc, cap = _run(["fit", str(out), "--observe", "13C", "--no-intervals", "--no-files"], ws, capsys, monkeypatch)
    assert rc == 2 and "--observe 13C" in cap.err and "111Cd" in cap.err
    assert len(cap.err.strip().splitlines()) == 1 and _hashes(ws / "out") == before


def test_parse_larmor_units_and_range():
    from respdor.units import parse_larmor
    from respdor.errors import UserError

    assert parse_larmor("88.75MHz") == (88.75e6, True)
    assert parse_larmor("88750k") == (88.75e6, True)
    assert parse_larmor("88750000") == (88.75e6, False)
    for text, hint in (("88.8", "88.8MHz"), ("88800", "88800kHz = 88.8 MHz"), ("1.6e9", "with a unit"), ("88.8kHz", "88.8MHz")):
        with pytest.raises(UserError, match=hint):
            parse_larmor(text)


def test_resolve_larmor_refuses_contradictions_and_warns_on_small_ones():
    from respdor.errors import UserError
    from respdor.spectra.inputs import resolve_larmor

    # 2 % apart from SFO1: refused; 0.46 % apart: used SFO1 with a warning.
    with pytest.raises(UserError, match=r"SFO1 is 88.7700 MHz \(\+2.50 %\)"):
        resolve_larmor(88.77e6, 88.77e6 * 1.025)
    hz, _, warn = resolve_larmor(88.77e6, 89.18e6)
    assert hz == 88.77e6 and len(warn) == 1
    # An inferred data nucleus gives way with a warning; a NUC1 one is refused.
    hz, _, warn = resolve_larmor(88.77e6, None, None, "111Cd", "113Cd", data_nucleus_inferred=True)
    assert len(warn) == 1 and "inferred" in warn[0]
    with pytest.raises(UserError, match="NUC1"):
        resolve_larmor(88.77e6, None, None, "111Cd", "113Cd")


def test_check_noise_region_thresholds():
    from respdor.errors import UserError
    from respdor.spectra.inputs import check_noise_region

    rng = np.random.default_rng(3)
    x = np.linspace(-100, 100, 2001)
    noise = rng.standard_normal(x.size)
    line = 200 * np.exp(-0.5 * (x / 2.0) ** 2)
    assert check_noise_region(x, line + noise, (40, 90)) == []
    with pytest.raises(UserError, match="noise_region_ppm -10 30"):  # the parameter; the CLI says --noise-region
        check_noise_region(x, line + noise, (-10, 30))
    weak = 8 * np.exp(-0.5 * ((x - 60) / 0.5) ** 2)  # a weak sideband: 8 x the noise, few points
    warn = check_noise_region(x, line + weak + noise, (40, 90))
    assert len(warn) == 1 and re.search(r"peak (8|9|10) x the noise at 60\.\d ppm", warn[0]), warn


def test_spikelet_comb_is_not_a_sideband_family():
    from respdor.spectra.series import spikelet_comb

    f = np.linspace(-25000, 25000, 4096, endpoint=False)

    def comb(step, n=11, width=20.0):
        return sum(np.exp(-0.5 * ((f - k * step) / width) ** 2) for k in range(-(n // 2), n // 2 + 1))

    assert "every 390." in spikelet_comb(f, comb(390.625), mas_hz=10000.0)
    # Lines every MAS/3 or MAS/4 Hz are a sideband family (several sites, or a sub-rate), not spikelets.
    assert spikelet_comb(f, comb(10000.0 / 3), mas_hz=10000.0) is None
    assert spikelet_comb(f, comb(2500.0), mas_hz=10000.0) is None
    # a fifth of the rate is not excluded; the spacing is read to the 12.2 Hz grid
    assert re.search(r"comb of 11 narrow lines every (199\d|20[01]\d)\.\d Hz", spikelet_comb(f, comb(2000.0), mas_hz=1e4))
    assert spikelet_comb(f, comb(390.625, n=5), mas_hz=10000.0) is None  # too few lines to call it a comb


def test_partner_from_the_data_set_travels_to_the_curve_file(tmp_path):
    from types import SimpleNamespace

    from respdor.curve import DephasingCurve
    from respdor.io import read_curve
    from respdor.spectra.series import curve_csv_text, series_nuclei

    ds = SimpleNamespace(nucleus="13C", acqus={"NUC2": "<1H>", "NUC3": "<27Al>", "NUC4": "off"})
    assert series_nuclei(ds) == ("13C", "27Al")
    ds.acqus["NUC4"] = "<29Si>"  # two candidates: the partner is not named
    assert series_nuclei(ds) == ("13C", None)
    curve = DephasingCurve.from_signals([1e-3, 2e-3, 3e-3], [1.0, 1.0, 1.0], [0.9, 0.7, 0.6], 0.01, 0.01)
    f = tmp_path / "c.csv"
    f.write_text(curve_csv_text(curve, "31P", "27Al"))
    assert read_curve(f).metadata == {"observe": "31P", "partner": "27Al"}
