"""The nested convergence check: a run's partial sums, the subsets served from them, and the check
that compares each setting on them (spinsim._results, spinsim._nested, spinsim.convergence)."""

import numpy as np
import pytest

from chen_reference import chen_full
from spinsim import DipolarCoupling, IdealSaturation, Spin, SpinSystem, cw_pulse, make_powder, simulate_respdor
from spinsim import _nested
from spinsim.convergence import (COST_BOUND, DEFAULT_TOL, Level, check_convergence, half_time_index, nested_pair,
                                 subset_powder)

MAS = 10000.0
T = 2e-4 * np.arange(16)


def _two_spin(d_hz=503.0):
    return SpinSystem([Spin("13C"), Spin("27Al", cq_hz=3e6, eta_q=0.3)], 9.4, [DipolarCoupling(0, 1, d_hz)])


def _c2al():
    al = dict(cq_hz=3e6, eta_q=0.3)
    return SpinSystem([Spin("13C"), Spin("27Al", **al), Spin("27Al", **al)], 9.4,
                      [DipolarCoupling(0, 1, 503.0), DipolarCoupling(0, 2, 300.0, (0.0, np.radians(110.0), 0.0))])


@pytest.mark.parametrize("method,sat", [("fast", None), ("fast", cw_pulse("27Al", 30e3, 2e-4)),
                                        ("general", cw_pulse("27Al", 30e3, 1e-4))])
def test_partial_sums_add_up_to_the_run_and_subsets_equal_fresh_runs(method, sat):
    p = make_powder("zcw", 55, 4)
    t = T[:5]
    run = simulate_respdor(_two_spin(), MAS, t, saturation=sat, powder=p, method=method)
    part = run.partials
    assert part.s0.shape == (4, 4, len(t)) and part.weight.sum() == pytest.approx(1.0)
    assert np.allclose(part.s0.sum((0, 1)), run.S0_complex, atol=1e-13)
    assert np.allclose(part.s1.sum((0, 1)), run.S1_complex, atol=1e-13)
    for sub in (make_powder("zcw", 55, 2), subset_powder(p, 0, 2), subset_powder(p, 3, 4)):
        fresh = simulate_respdor(_two_spin(), MAS, t, saturation=sat, powder=sub, method=method)
        assert "served_from_partials" not in fresh.info  # outside the check nothing is served
        with _nested.serving():
            served = simulate_respdor(_two_spin(), MAS, t, saturation=sat, powder=sub, method=method)
        assert served.info["served_from_partials"] and served.info["n_orientations"] == sub.size
        assert np.max(np.abs(served.dSS0 - fresh.dSS0)) < 1e-12


def test_a_powder_that_is_not_a_nested_subset_is_run():
    p = make_powder("zcw", 55, 4)
    simulate_respdor(_two_spin(), MAS, T[:3], powder=p)
    with _nested.serving():
        other = simulate_respdor(_two_spin(), MAS, T[:3], powder=make_powder("zcw", 34, 4))  # not a subset
        changed = simulate_respdor(_two_spin(600.0), MAS, T[:3], powder=make_powder("zcw", 55, 2))  # other D
        odd = simulate_respdor(_two_spin(), MAS, T[:3], powder=make_powder("zcw", 55, 3))  # 3 does not divide 4
    assert not any("served_from_partials" in r.info for r in (other, changed, odd))
    fresh = simulate_respdor(_two_spin(600.0), MAS, T[:3], powder=make_powder("zcw", 55, 2))
    assert np.allclose(changed.dSS0, fresh.dSS0)


def test_rf_inhomogeneity_and_ideal_inversion_keep_partial_sums():
    from spinsim.simulate import RfInhomogeneity

    sat = cw_pulse("27Al", 30e3, 1e-4)
    r = simulate_respdor(_two_spin(), MAS, T[:4], saturation=sat, powder=make_powder("zcw", 21, 2),
                         rf_inhomogeneity=RfInhomogeneity((0.9, 1.1), (0.5, 0.5)))
    assert np.allclose(r.partials.s1.sum((0, 1)), r.S1_complex)
    r = simulate_respdor(_two_spin(), MAS, T[:4], saturation=IdealSaturation("inversion"),
                         powder=make_powder("zcw", 21, 2))
    assert np.allclose(r.partials.dss0(), r.dSS0)


def test_half_time_index_points_at_the_shortest_time_beyond_half():
    t = np.array([0.0, 2e-4, 4e-4, 6e-4, 8e-4, 1e-3])
    assert list(half_time_index(t)) == [0, 1, 1, 2, 2, 3]
    assert list(half_time_index(t[::-1])) == [2, 3, 3, 4, 4, 5]  # order of the curve kept
    assert list(half_time_index([3e-3])) == [0]


def _runner(system, saturation=None, log=None):
    def run(level):
        r = simulate_respdor(system, MAS, T, saturation=saturation, powder=level.powder, max_dt=level.max_dt)
        if log is not None:
            log.append((level, r.info.get("served_from_partials", False)))
        return r
    return run


def test_nested_gamma_estimate_bounds_the_error_against_the_closed_form():
    # one spin-5/2 with ideal saturation: Chen's closed form is the converged curve; the gamma
    # estimate (n against its own n/2 angles at half of each time) must not fall below the error
    truth = chen_full(503.0 * T, 2.5)
    for n_gamma, flagged in ((12, True), (16, True), (24, True), (32, False)):
        lv = Level(make_powder("zcw", 233, n_gamma), 0.5e-6)
        chk = check_convergence(_runner(_two_spin()), lv, refine=False, uses_step=False, nested=True, times_s=T)
        g = {d.dimension: d for d in chk.dimensions}["gamma"]
        own = np.max(np.abs(chk.curve - truth))
        assert g.steps[0]["max_change"] >= own - 4e-4  # ZCW 233's own error (3e-4) is in `own`
        assert (g.steps[0]["max_change"] > DEFAULT_TOL) is flagged
        assert g.steps[0]["compared_with"] == n_gamma // 2


def test_two_al_default_gamma_flagged_and_refined_at_a_third_of_the_run():
    # the structure case: 16 gamma angles are 7.4e-3 off at 3 ms (converged 0.9550)
    log = []
    lv = Level(make_powder("zcw", 233, 16), 0.5e-6)
    run = _runner(_c2al(), log=log)
    base = run(lv)
    chk = check_convergence(run, lv, base=(base.dSS0, 1.0), uses_step=False, nested=True, times_s=T)
    g = {d.dimension: d for d in chk.dimensions}["gamma"]
    assert g.status == "refined" and g.value == 32 and g.steps[1]["max_change"] == pytest.approx(7.4e-3, abs=4e-4)
    assert chk.curve[-1] == pytest.approx(0.9550, abs=3e-4)
    # work of the check proper (runs before the first refinement), in crystallites: gamma is free
    end = next(i for i, x in enumerate(log) if x[0].powder.n_gamma == 32)
    first = log[1:end]
    work = sum(x[0].powder.size for x in first if not x[1])
    assert work <= COST_BOUND * lv.powder.size and any(x[1] for x in first)


def test_nested_check_flags_the_cw_spec_with_16_gamma_angles():
    # one 27Al, CW 30 kHz x 2 tau_R, 16 gamma angles: 0.024 off at 3 ms; the step is checked on a quarter
    sat = cw_pulse("27Al", 30e3, 2e-4)
    lv = Level(make_powder("zcw", 144, 16), 0.5e-6)
    log = []
    chk = check_convergence(_runner(_two_spin(), sat, log), lv, refine=False, uses_step=True, nested=True, times_s=T)
    dims = {d.dimension: d for d in chk.dimensions}
    assert dims["gamma"].status == "unconverged"
    converged = _runner(_two_spin(), sat)(Level(make_powder("zcw", 144, 64), 0.5e-6)).dSS0
    own = np.max(np.abs(chk.curve - converged))  # 0.030 here (the bundled spec's tilted EFG: 0.024)
    assert own > 0.02 and dims["gamma"].steps[0]["max_change"] >= own  # flagged, not under-estimated
    assert dims["gamma"].error_estimate == pytest.approx(own, rel=0.05)  # the finer run: the error itself
    own, low, on, _ = nested_pair(lv, "step")
    assert own.powder.n_ab == 36 and low.max_dt == 1e-6 and "36 of the 144" in on
    assert dims["step"].status == "converged" and dims["step"].steps[0]["max_change"] < DEFAULT_TOL


def test_nested_check_needs_the_times():
    with pytest.raises(ValueError, match="times_s"):
        check_convergence(_runner(_two_spin()), Level(make_powder("zcw", 55, 4), 0.5e-6), nested=True)
