"""Designing the experiment that tells one partner from two (respdor.discrimination, respdor plan --versus-two)."""

import json

import numpy as np
import pytest
from scipy import stats

from respdor.discrimination import Hypotheses, plan_discrimination, required_noncentrality, separations
from respdor.planner import Sensitivity


def test_required_noncentrality_gives_the_asked_power():
    lam = required_noncentrality(0.95, 0.9, 2)
    assert lam == pytest.approx(12.654, abs=2e-3)
    assert stats.ncx2.sf(stats.chi2.ppf(0.95, 2), 2, lam) == pytest.approx(0.9, abs=1e-9)


def test_separation_scales_with_the_inverse_noise_squared_and_vanishes_for_a_far_second_partner():
    t = np.linspace(8e-3 / 20, 8e-3, 20)
    h = Hypotheses(one_fraction=0.3, two_fraction=0.3)
    a, b = separations(h, t, 0.01), separations(h, t, 0.02)
    assert a["A true"] == pytest.approx(4 * b["A true"], rel=1e-9)
    assert a["B true"] == pytest.approx(4 * b["B true"], rel=1e-3)
    # the second partner at 15 A: model B is one partner at 2.5 A, as A is
    near = separations(Hypotheses(two_distance_angstrom=(2.5, 15.0), one_fraction=0.3, two_fraction=0.3), t, 0.01)
    assert near["A true"] < 0.05 and near["B true"] < 0.05


def test_the_seed_like_curve_cannot_decide_and_a_long_dense_one_can():
    """One 27Al at 2.5 A (f 0.24) against two at 2.9 A: 16 points to 3 ms at sigma 0.02 stay below the
    95 % threshold of chi2 (5.99); 41 points to 8 ms at sigma 0.01 pass the 90 %-power one (12.65)."""
    h = Hypotheses(one_fraction=0.24, two_fraction=0.30)
    seed = separations(h, np.linspace(3e-3 / 16, 3e-3, 16), 0.02)
    assert max(seed.values()) < 5.99
    long = separations(h, np.linspace(8e-3 / 41, 8e-3, 41), 0.01)
    assert min(long.values()) > 12.65


def test_the_planned_scans_are_the_fewest_that_reach_the_required_noncentrality():
    sens = Sensitivity(snr=40, scans=64, recycle_s=5.0, buildup_s=4.0, t2prime_s=8e-3)
    plan = plan_discrimination(Hypotheses(), sens, 10000.0, max_time_s=4e-3, n_points=8, n_lengths=3)
    need = plan.required_noncentrality
    for row in plan.rows:
        per_scan = min(row["chi2_A_true_per_scan"], row["chi2_B_true_per_scan"])
        assert row["scans_per_point"] * per_scan >= need > (row["scans_per_point"] - 8) * per_scan
        assert row["scans_per_point"] % 8 == 0 and row["points"] == 8
    assert plan.best["hours"] == min(r["hours"] for r in plan.rows)
    back = type(plan).from_json(plan.to_json())
    assert back.best == plan.best


def test_plan_versus_two_command(tmp_path, capsys):
    from respdor.cli import main

    out = tmp_path / "disc.json"
    status = main(["plan", "--distance", "2.5", "--fraction", "0.24", "--snr", "40", "--scans", "64", "--recycle",
                   "5", "--mas", "10k", "--versus-two", "2.9A:110", "--max-time", "3ms", "--compare-points", "8",
                   "--json", str(out)])
    text = capsys.readouterr().out
    assert status == 0 and "fewest hours" in text and "no unit given" not in text
    data = json.loads(out.read_text())
    assert data["kind"] == "discrimination plan" and len(data["rows"]) >= 1


@pytest.mark.parametrize("extra, words", [
    (["--versus-two", "2.9:abc"], "--versus-two"),
    (["--power", "0.8"], "--power"),
    (["--versus-two", "2.9", "--power", "1.5"], "--power"),
])
def test_plan_versus_two_mistakes(extra, words, capsys):
    from respdor.cli import main

    status = main(["plan", "--distance", "2.5", "--fraction", "0.24", "--snr", "40", "--scans", "64", "--recycle",
                   "5", "--mas", "10k", *extra])
    err = capsys.readouterr().err
    assert status == 2 and words in err and len(err.strip().splitlines()) == 1
