"""Command line: pass-timings, csa-fit, pass-process, deconvolve, integrate."""

import json
from pathlib import Path

import numpy as np
import pytest

from respdor.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "pass_113Cd_synthetic"
FIXTURES = Path(__file__).resolve().parent / "data"


@pytest.mark.parametrize("cmd", ["pass-timings", "csa-fit", "pass-process", "deconvolve", "integrate"])
def test_help(cmd, capsys):
    with pytest.raises(SystemExit) as exc:
        main([cmd, "--help"])
    assert exc.value.code == 0
    assert "usage" in capsys.readouterr().out


def test_pass_timings(tmp_path, capsys):
    out = tmp_path / "t.json"
    assert main(["pass-timings", "-n", "16", "--mas", "8000", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "--mas 8000: read as Hz" in text
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 16
    assert rows[1]["t1_over_tr"] == pytest.approx(0.1487, abs=1e-4)
    assert rows[1]["t1_us"] == pytest.approx(0.1487 / 8000 * 1e6, abs=0.02)


def test_pass_timings_pulse_too_long(capsys):
    assert main(["pass-timings", "-n", "16", "--mas", "8k", "--pulse", "15us"]) == 2
    assert "does not fit" in capsys.readouterr().err


def test_pass_process_example(tmp_path, capsys):
    truth = json.loads((EXAMPLE / "truth.json").read_text())
    out = tmp_path / "pass.json"
    csv = tmp_path / "pass.csv"
    png = tmp_path / "pass.png"
    rc = main(["pass-process", str(EXAMPLE / "pass2d"), "--sites", "-50", "-320", "-440", "-630",
               "--noise-region", "100", "200", "--fit-region", "-800", "100", "--mas", "8k",
               "--json", str(out), "--csv", str(csv), "--plot", str(png)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "order sign detected: row n holds order -n" in text
    res = json.loads(out.read_text())
    assert res["sign"] == truth["pitch_sign"]
    pops = np.array([s["population"] for s in truth["sites"]])
    pops /= pops.sum()
    for row, s, p in zip(res["sites"], truth["sites"], pops):
        assert row["delta_iso"] == pytest.approx(s["delta_iso"], abs=0.5)
        assert row["span"] == pytest.approx(s["span"], rel=0.05)
        assert row["skew"] == pytest.approx(s["skew"], abs=0.1)
        assert row["population"] == pytest.approx(p, rel=0.02)
    assert csv.read_text().startswith("site,delta_iso")
    assert png.stat().st_size > 10000


def test_deconvolve_compare(tmp_path, capsys):
    out = tmp_path / "cmp.csv"
    rc = main(["deconvolve", str(EXAMPLE / "isotropic_1cycle.txt"), "--sites", "-50", "-320", "-440", "-630",
               "--noise-region", "100", "200", "--compare", str(EXAMPLE / "isotropic_3cycle.txt"), "--csv", str(out)])
    assert rc == 0
    lines = out.read_text().splitlines()
    head = lines[0].split(",")
    change = [float(line.split(",")[head.index("change")]) for line in lines[1:]]
    assert change[1] == pytest.approx(0.35 / 0.6, rel=0.03)
    assert change[2] == pytest.approx(1.1 / 0.8, rel=0.03)


def test_csa_fit_manifold(tmp_path, capsys):
    from spinsim.sidebands import sideband_intensities

    man = sideband_intensities(450.0, 0.3, 88.8e6, 8000.0, n_sidebands=5)
    f = tmp_path / "m.csv"
    f.write_text("order,intensity,sigma\n" + "".join(f"{k},{v:.8f},0.001\n" for k, v in zip(man.orders, man.intensities)))
    assert main(["csa-fit", str(f), "--mas", "8k", "--larmor", "88.8MHz", "--json", str(tmp_path / "o.json")]) == 0
    fit = json.loads((tmp_path / "o.json").read_text())["fit"]
    assert fit["span"] == pytest.approx(450.0, rel=0.01) and fit["skew"] == pytest.approx(0.3, abs=0.02)


def test_integrate_writes_curve_respdor_fit_reads(tmp_path, capsys):
    out = tmp_path / "curve.csv"
    rc = main(["integrate", str(FIXTURES / "bruker_respdor_pseudo2d"), "--region", "0", "30", "--noise-region",
               "-80", "-40", "--mas", "10k", "--periods-per-count", "2", "-o", str(out)])
    assert rc == 0
    assert out.read_text().splitlines()[:2] == ["# observe = 13C", "t_s,S0,S1,sigma_S0,sigma_S1"]
    from respdor.io import read_curve

    curve = read_curve(out)
    assert curve.n_points == 6 and curve.has_signals and curve.metadata == {"observe": "13C"}
    assert curve.time_s[-1] == pytest.approx(32 * 2 / 10000.0)


def test_user_errors_exit_2(tmp_path, capsys):
    assert main(["deconvolve", str(tmp_path / "missing.txt"), "--sites", "-50"]) == 2
    assert "missing.txt: no such file" in capsys.readouterr().err
    src = tmp_path / "s.txt"
    src.write_text("".join(f"{x},{np.exp(-x * x / 50)}\n" for x in np.linspace(-50, 50, 101)))
    before = src.read_text()
    assert main(["deconvolve", str(src), "--sites", "0", "--csv", str(src)]) == 2
    assert "refusing to overwrite an input file" in capsys.readouterr().err
    assert src.read_text() == before
    assert main(["pass-process", str(FIXTURES / "bruker_113Cd_1d"), "--noise-region", "0", "10"]) == 2
    assert "1D fid" in capsys.readouterr().err
