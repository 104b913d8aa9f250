"""Unusual numerical settings and progress arguments for the engines and the convergence check.

Each case: a powder, gamma count, time axis or progress argument a user may give; what the check
compares (or the one-line refusal), and for the command line: exit status, the check's lines on
stderr, no traceback, the spec byte-identical, no stray file.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from respdor.cli import main
from small_spec import SMALL_SPEC
from spinsim import DipolarCoupling, Spin, SpinSystem, make_powder, simulate_respdor
from spinsim.convergence import Level, check_convergence

MAS = 10000.0
T = 2e-4 * np.arange(6)


def _system():
    return SpinSystem([Spin("13C"), Spin("27Al", cq_hz=3e6, eta_q=0.3)], 9.4, [DipolarCoupling(0, 1, 503.0)])


def _run(level, times=T):
    return simulate_respdor(_system(), MAS, times, powder=level.powder, max_dt=level.max_dt)


def _dims(chk):
    return {d.dimension: d for d in chk.dimensions}


# --- settings the nested comparisons cannot use: the check falls back, never skips -------------

def test_odd_gamma_count_is_compared_with_three_quarters_run_whole():
    lv = Level(make_powder("zcw", 55, 15), 0.5e-6)
    g = _dims(check_convergence(_run, lv, refine=False, uses_step=False, nested=True, times_s=T))["gamma"]
    assert g.status != "cannot coarsen" and g.steps[0]["compared_with"] == 11 and "on" not in g.steps[0]


def test_one_gamma_angle_cannot_be_coarsened():
    lv = Level(make_powder("zcw", 55, 1), 0.5e-6)
    g = _dims(check_convergence(_run, lv, refine=False, uses_step=False, nested=True, times_s=T))["gamma"]
    assert g.status == "cannot coarsen" and g.steps == []


def test_smallest_zcw_set_has_no_set_two_sizes_smaller_and_is_compared_with_the_previous(tmp_path):
    lv = Level(make_powder("zcw", 13, 4), 0.5e-6)  # 13 -> 8 exists, 5 does not
    ab = _dims(check_convergence(_run, lv, refine=False, uses_step=False, nested=True, times_s=T))["alpha_beta"]
    assert ab.steps[0]["compared_with"] == 8 and "on" not in ab.steps[0]


def test_crystallite_file_orientations_cannot_be_coarsened_but_gamma_and_step_are_checked(tmp_path):
    from spinsim.powder import read_crystallites

    f = tmp_path / "cry.txt"
    f.write_text("".join(f"{a} {b} 1\n" for a, b in zip(np.arange(0, 360, 10), np.arange(2.5, 90, 2.5))))
    lv = Level(read_crystallites(f, n_gamma=4), 0.5e-6)
    d = _dims(check_convergence(_run, lv, refine=False, uses_step=True, nested=True, times_s=T))
    assert d["alpha_beta"].status == "cannot coarsen"
    assert d["gamma"].steps[0]["compared_with"] == 2 and d["step"].steps[0]["compared_with"] == 1e-6
    assert d["step"].steps[0]["on"] == "on 35 of the 35 (alpha, beta) orientations"  # too few for a quarter


def test_single_recoupling_time_is_compared_at_that_time():
    t = np.array([1e-3])
    lv = Level(make_powder("zcw", 55, 8), 0.5e-6)
    chk = check_convergence(lambda level: _run(level, t), lv, refine=False, uses_step=False, nested=True,
                            times_s=t)
    assert _dims(chk)["gamma"].steps[0]["at_index"] == 0


def test_unsorted_times_are_compared_at_half_of_each():
    t = T[::-1].copy()
    lv = Level(make_powder("zcw", 55, 8), 0.5e-6)
    a = check_convergence(lambda level: _run(level, t), lv, refine=False, uses_step=False, nested=True, times_s=t)
    b = check_convergence(_run, lv, refine=False, uses_step=False, nested=True, times_s=T)
    assert _dims(a)["gamma"].max_change == pytest.approx(_dims(b)["gamma"].max_change, rel=1e-9)


def test_nested_check_without_times_is_refused_by_name():
    with pytest.raises(ValueError, match="times_s"):
        check_convergence(_run, Level(make_powder("zcw", 55, 4), 0.5e-6), nested=True)


# --- progress arguments -------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["yes", 1, 0.5])
def test_progress_of_another_kind_is_refused_naming_the_kinds(bad):
    with pytest.raises(TypeError, match="progress must be None, True, False, a callable"):
        simulate_respdor(_system(), MAS, T, powder=make_powder("zcw", 21, 2), progress=bad)


def test_progress_none_in_a_pipe_shows_nothing(capsys):
    simulate_respdor(_system(), MAS, T, powder=make_powder("zcw", 21, 2), progress=None)
    assert capsys.readouterr().err == ""


# --- the command line ---------------------------------------------------------------------------

@pytest.mark.parametrize("n_gamma,gamma_line", [("15", "gamma angles 15 (yours) vs 11: "),
                                                ("1", "gamma angles 1 (yours): cannot be checked")])
def test_simulate_with_an_unusual_gamma_count(tmp_path, capsys, n_gamma, gamma_line):
    spec = tmp_path / "s.toml"
    spec.write_text(SMALL_SPEC.replace("n_gamma = 4", f"n_gamma = {n_gamma}"))
    before = spec.read_bytes()
    assert main(["simulate", str(spec), "--no-files", "--json", "-", "--check-convergence"]) == 0
    cap = capsys.readouterr()
    res = json.loads(cap.out)
    assert gamma_line in cap.err and "Traceback" not in cap.err
    assert res["convergence"]["cost_bound"] == 0.65 and res["convergence"]["finer_wall_s"] >= 0
    assert spec.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]
