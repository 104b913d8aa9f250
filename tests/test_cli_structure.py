"""`respdor structure`: partners, predicted curve, apparent two-spin reading, --compare."""

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ase")

from respdor.cli import main  # noqa: E402

MODEL = Path(__file__).resolve().parents[1] / "data" / "al_carboxylate_model.xyz"
FAST = ["--powder", "144", "--gamma", "8", "--t-max", "4ms"]


def test_model_two_al_read_as_one_nearer(tmp_path, capsys):
    out = tmp_path / "r.json"
    rc = main(["structure", str(MODEL), "--observe", "0", "--partner", "27Al", "--cutoff", "4A",
               "--max-partners", "3", "--output", str(tmp_path / "c.csv"), "--json", str(out)] + FAST)
    assert rc == 0
    res = json.loads(out.read_text())
    parts = res["sites"][0]["partners"]
    assert [p["atom"] for p in parts] == [3, 5]
    assert parts[0]["distance_angstrom"] == pytest.approx(2.939, abs=1e-3)
    assert parts[0]["d_hz"] == pytest.approx(310.5, abs=0.1)
    # two Al at 2.94 A on opposite sides (Al-C-Al ~ 180 deg) read as one at ~2.6 A
    assert 2.55 < res["apparent_two_spin"]["distance_angstrom"] < 2.67
    t, y = np.loadtxt(tmp_path / "c.csv", delimiter=",", skiprows=1).T
    assert y[0] == pytest.approx(0, abs=1e-12) and y[-1] > 0.6


def test_compare_fits_only_the_fraction(tmp_path, capsys):
    first = tmp_path / "pred.csv"
    # the comparison, not the engine, is checked here: the product model (no Al-Al coupling) is enough
    assert main(["structure", str(MODEL), "--observe", "C", "--partner", "27Al", "--cutoff", "3.5A",
                 "--no-partner-couplings", "--output", str(first)] + FAST) == 0
    t, y = np.loadtxt(first, delimiter=",", skiprows=1).T
    data = tmp_path / "meas.csv"
    data.write_text("t_ms,dSS0\n" + "".join(f"{1e3 * a:g},{0.7 * b:.8f}\n" for a, b in zip(t[1:], y[1:])))
    out = tmp_path / "cmp.json"
    assert main(["structure", str(MODEL), "--observe", "C", "--partner", "27Al", "--cutoff", "3.5A",
                 "--no-partner-couplings", "--compare", str(data), "--json", str(out), "--output",
                 str(tmp_path / "c2.csv")] + FAST) == 0
    res = json.loads(out.read_text())
    assert res["compare"]["fraction"] == pytest.approx(0.7, abs=1e-6)
    assert res["compare"]["chi2"] < 1e-12
    assert len(res["sites"]) == 2  # both carbons (the methyl C sees both Al at 3.30 A): curves averaged


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--observe", "N"], "no N atom"),
        (["--observe", "1", "--cutoff", "2A"], "has no 27Al within 2 A"),
        (["--observe", "0", "--cutoff=-1A"], "--cutoff"),
        (["--observe", "0", "--partner", "28Al"], "--partner"),
        (["--observe", "0", "--abundance", "0"], "--abundance 0: must lie in (0, 1]"),
        (["--observe", "0", "--abundance", "rare"], "--abundance rare: give 'natural'"),
        (["--observe", "0", "--cq", "300MHz"], "not below the 27Al Larmor frequency 156.6 MHz"),
        (["--observe", "0", "--eta-q", "1.5"], "--eta-q 1.5: must lie in [0, 1]"),
        (["--observe", "C[O3]"], "no C atom matches"),
        (["--observe", "0", "--abundance", "0.5", "--samples", "1"], "--samples 1"),  # --samples acts when diluted
    ],
)
def test_mistakes_are_one_line_exit_2(extra, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["structure", str(MODEL), "--partner", "27Al", "--no-files"] + FAST
    # later options win in argparse, so extra overrides --partner
    assert main(argv + extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]


def test_missing_structure_file(capsys, tmp_path):
    assert main(["structure", str(tmp_path / "nope.xyz"), "--observe", "C", "--partner", "27Al", "--no-files"]) == 2
    assert "no such structure file" in capsys.readouterr().err


def test_candidates_ranked_by_chi2(tmp_path, capsys):
    from ase import Atoms
    from ase.io import write

    # candidate A: the model; candidate B: one Al only (the other removed)
    one = tmp_path / "one_al.xyz"
    write(one, Atoms("CAl", positions=[[0, 0, 0], [2.93857, 0.01508, 0]]))
    pred = tmp_path / "pred.csv"
    assert main(["structure", str(MODEL), "--observe", "0", "--partner", "27Al", "--output", str(pred)] + FAST) == 0
    t, y = np.loadtxt(pred, delimiter=",", skiprows=1).T
    data = tmp_path / "meas.csv"
    data.write_text("t_ms,dSS0,sigma\n" + "".join(f"{1e3 * a:g},{0.9 * b:.8f},0.01\n" for a, b in zip(t[1:], y[1:])))
    out = tmp_path / "rank.json"
    assert main(["structure", str(one), str(MODEL), "--observe", "0", "--partner", "27Al", "--compare", str(data),
                 "--json", str(out), "--output", str(tmp_path / "both.csv"), "--plot", str(tmp_path / "f.png")]
                + FAST) == 0
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    res = json.loads(out.read_text())["candidates"]
    assert [r["compare"]["rank"] for r in res] == [2, 1]
    assert res[1]["compare"]["fraction"] == pytest.approx(0.9, abs=1e-6)
    assert res[0]["compare"]["chi2"] > 100
    head = (tmp_path / "both.csv").read_text().splitlines()[0]
    assert head == "t_s,dSS0_one_al,dSS0_al_carboxylate_model"


def _three_spin_xyz(tmp_path):
    """13C with two 27Al at D = 503 and 300 Hz, 110 deg apart (the issue's 3-spin case)."""
    from spinsim import distance_from_coupling

    r1, r2 = distance_from_coupling(503, "13C", "27Al"), distance_from_coupling(300, "13C", "27Al")
    th = np.radians(110)
    path = tmp_path / "c_al2.xyz"
    path.write_text(f"3\nthree-spin test\nC 0 0 0\nAl 0 0 {r1:.10f}\n"
                    f"Al {r2 * np.sin(th):.10f} 0 {r2 * np.cos(th):.10f}\n")
    return path


def test_three_spins_cw_saturation_through_cli_equal_dense_engine_by_hand(tmp_path):
    """CLI (coordinates, CW 30 kHz for 2 rotor periods, C_Q 3 MHz by default, fast engine chosen)
    against spinsim's general engine given the couplings by hand. Measured 2e-15 here (ZCW 13 x 1,
    4 times); benchmarks/bench_structure.py measures it on a larger powder."""
    from spinsim import DipolarCoupling, Spin, SpinSystem, cw_pulse, get_isotope, make_powder, simulate_respdor

    out = tmp_path / "r.json"
    assert main(["structure", str(_three_spin_xyz(tmp_path)), "--observe", "C", "--partner", "27Al", "--cutoff", "5A",
                 "--saturation", "cw:30kHz:2tr", "--cq", "3MHz", "--eta-q", "0", "--json", str(out),
                 "--no-files"]) == 2  # --no-files with a JSON path
    assert main(["structure", str(_three_spin_xyz(tmp_path)), "--observe", "C", "--partner", "27Al", "--cutoff", "5A",
                 "--saturation", "cw:30kHz:2tr", "--cq", "3", "--eta-q", "0", "--powder", "13", "--gamma", "1",
                 "--no-partner-couplings",
                 "--t-max", "0.6ms", "--json", str(out), "--output", str(tmp_path / "c.csv")]) == 0
    res = json.loads(out.read_text())
    assert res["choices"]["engines"] == ["fast"]
    assert res["choices"]["partners_with_default_cq"] == [1, 2]
    assert [p["d_hz"] for p in res["sites"][0]["partners"]] == pytest.approx([503.0, 300.0], abs=1e-6)
    al = get_isotope("27Al")
    hand = SpinSystem([Spin(get_isotope("13C")), Spin(al, cq_hz=3e6), Spin(al, cq_hz=3e6)], 14.1,
                      [DipolarCoupling(0, 1, 503.0), DipolarCoupling(0, 2, 300.0, (0.0, np.radians(110), 0.0))])
    t = np.asarray(res["t_s"])
    dense = simulate_respdor(hand, 1e4, t, saturation=cw_pulse("27Al", 30e3, 2e-4), powder=make_powder("zcw", 13, 1),
                             method="general")
    assert dense.info["engine"] == "general"
    y = np.asarray(res["dSS0_predicted"])
    assert y[-1] > 0.05
    assert np.max(np.abs(y - dense.dSS0)) < 1e-10


def test_saturation_forms_and_mistakes(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "sat.toml"
    spec.write_text("[saturation]\ntype = 'cw'\nnu1_khz = 30\nlength_us = 200\n")
    base = ["structure", str(MODEL), "--observe", "C[O2]", "--partner", "27Al", "--no-files", "--json", "-"] + FAST
    # what the spec's CW pulse becomes is checked, not the curve: a small powder does
    assert main(base + ["--saturation", str(spec), "--t-max", "0.8ms", "--powder", "34", "--gamma", "4"]) == 0
    out = capsys.readouterr()
    res = json.loads(out.out)
    assert "CW 30000 Hz on 27Al for 200 us (2 rotor periods)" in res["choices"]["saturation"]
    assert "engine: coupled" in out.err and "equal-weight mean of the 1 observed" in out.err
    for bad, msg in [("cw:30kHz", "cw:NU1:LENGTH"), ("wurst", "give 'ideal'"), ("cw:0kHz:2tr", "nu1_khz must be > 0"),
                     (str(tmp_path / "none.toml"), "no such spec file")]:
        assert main(base + ["--saturation", bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and msg in err[0] and "--saturation" in err[0]


def test_cutoff_convergence_table_and_warning(tmp_path, capsys):
    # Al at 2.9 A and a second one at 5.5 A (D = 45 Hz): the 6 A shell still changes the curve
    path = tmp_path / "far.xyz"
    path.write_text("3\nconvergence test\nC 0 0 0\nAl 2.9 0 0\nAl 0 0 5.5\n")
    out = tmp_path / "r.json"
    assert main(["structure", str(path), "--observe", "C", "--partner", "27Al", "--cutoff", "6A",
                 "--cutoff-convergence", "3A:6A:1A", "--json", str(out), "--output", str(tmp_path / "c.csv")]
                + FAST) == 0
    err = capsys.readouterr().err
    res = json.loads(out.read_text())
    rows = res["cutoff_convergence"]
    assert [r["cutoff_angstrom"] for r in rows] == [3.0, 4.0, 5.0, 6.0]
    assert [r["n_partners"] for r in rows] == [1, 1, 1, 2]
    assert rows[1]["max_change"] == 0.0 and rows[2]["max_change"] == 0.0
    assert 0.01 < rows[3]["max_change"] < 0.1
    # the 6 A curve is the main prediction
    assert rows[3]["dss0"] == pytest.approx(res["dSS0_predicted"], abs=1e-15)
    assert "still changes dS/S0" in err and any("raise the cutoff" in w for w in res["warnings"])
    # converged: 3..5 A only
    assert main(["structure", str(path), "--observe", "C", "--partner", "27Al", "--cutoff", "5A",
                 "--cutoff-convergence", "3A:5A:1A", "--json", "-", "--no-files"] + FAST) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == []


@pytest.mark.parametrize("value, message", [("3A:8A", "START:STOP:STEP"), ("8A:3A:1A", "0 < START < STOP"),
                                            ("3A:8A:0A", "STEP > 0"), ("3A:8Q:1A", "unknown unit")])
def test_cutoff_convergence_mistakes(value, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["structure", str(MODEL), "--observe", "0", "--partner", "27Al", "--no-files",
                 "--cutoff-convergence", value] + FAST) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "--cutoff-convergence" in err[0]


def test_model_magres_cw_saturation_reads_less_than_ideal(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    magres = MODEL.with_suffix(".magres")
    res = {}
    for sat in ("ideal", "cw:30kHz:2tr"):
        assert main(["structure", str(magres), "--observe", "C[O2]", "--partner", "27Al", "--no-files",
                     "--saturation", sat, "--json", "-"] + FAST) == 0
        res[sat] = json.loads(capsys.readouterr().out)
    ideal, cw = res["ideal"], res["cw:30kHz:2tr"]
    assert cw["choices"]["partners_with_default_cq"] == [] and cw["choices"]["engines"] == ["coupled"]
    assert [p["cq_source"] for p in cw["sites"][0]["partners"]] == ["EFG", "EFG"]
    assert cw["sites"][0]["observed_csa"]["zeta_ppm"] == pytest.approx(-68.333, abs=1e-3)
    # a CW pulse saturates the 27Al (C_Q 3.5 and 5.5 MHz) incompletely: less dephasing (measured
    # 0.829 vs 0.804 at 4 ms, ZCW 144 x 8), read as a longer apparent distance (2.626 vs 2.706 A)
    assert ideal["dSS0_predicted"][-1] - cw["dSS0_predicted"][-1] == pytest.approx(0.025, abs=0.005)
    assert cw["apparent_two_spin"]["distance_angstrom"] - ideal["apparent_two_spin"]["distance_angstrom"] \
        == pytest.approx(0.08, abs=0.02)


def test_dilute_partner_scales_the_curve_and_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "csi.xyz"
    path.write_text("2\n13C-29Si test\nC 0 0 0\nSi 0 0 2.0\n")
    base = ["structure", str(path), "--observe", "C", "--partner", "29Si", "--no-files", "--json", "-"] + FAST
    assert main(base + ["--abundance", "1"]) == 0
    full = json.loads(capsys.readouterr().out)
    assert main(base) == 0
    out = capsys.readouterr()
    nat = json.loads(out.out)
    assert nat["choices"]["abundance_probability"] == pytest.approx(0.046832)
    assert nat["sites"][0]["occupancy"]["method"] == "exact enumeration"
    # spin 1/2: the --cq default does not apply
    assert nat["choices"]["partners_with_default_cq"] == [] and nat["sites"][0]["partners"][0]["cq_hz"] == 0
    assert np.max(np.abs(np.array(nat["dSS0_predicted"]) - 0.046832 * np.array(full["dSS0_predicted"]))) < 1e-15
    assert "occupied with probability 0.04683" in out.err
