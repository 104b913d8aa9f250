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
    assert main(["structure", str(MODEL), "--observe", "C", "--partner", "27Al", "--cutoff", "3.5A",
                 "--output", str(first)] + FAST) == 0
    t, y = np.loadtxt(first, delimiter=",", skiprows=1).T
    data = tmp_path / "meas.csv"
    data.write_text("t_ms,dSS0\n" + "".join(f"{1e3 * a:g},{0.7 * b:.8f}\n" for a, b in zip(t[1:], y[1:])))
    out = tmp_path / "cmp.json"
    assert main(["structure", str(MODEL), "--observe", "C", "--partner", "27Al", "--cutoff", "3.5A",
                 "--compare", str(data), "--json", str(out), "--output", str(tmp_path / "c2.csv")] + FAST) == 0
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
