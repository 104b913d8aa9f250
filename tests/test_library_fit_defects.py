"""Library fits: profile intervals that freeing a parameter can only widen, several valleys of a
tabulated profile, the edge a warning names, what the build says of an explicit powder and of a
sparse interpolation check. Libraries are tabulated in-process (ZCW 21 x 4, 5 D nodes): seconds."""

import numpy as np
import pytest

from respdor import library as lib
from respdor.curve import DephasingCurve
from respdor.fitting import CurveModel, fit_curves
from respdor.jobs.library import _convergence_headline
from respdor.profile import _root, profile
from respdor.tabulated import edge_warnings

RAW = {
    "experiment": {"type": "respdor", "field_T": 9.4, "mas_rate_hz": 10000, "t_max_ms": 2.4},
    "spins": [{"isotope": "13C"}, {"isotope": "27Al", "cq_mhz": 3.0, "eta_q": 0.3}],
    "dipolar": [{"spins": [0, 1], "d_hz": 500.0}],
    "saturation": {"type": "cw", "nu1_khz": 30, "length_rotor_periods": 2},
}
POWDER = {"scheme": "zcw", "n": 21, "n_gamma": 4}
T = 2e-4 * np.arange(1, 13)
SIGMA = 0.001
COUPLINGS = np.geomspace(300, 800, 5)
D_NODE = float(COUPLINGS[2])


def _rows(cqs):
    n_times = lib.row_lengths(COUPLINGS, 1e-4, 2.4e-3)
    times = 2e-4 * np.arange(max(n_times))
    return times, {c: lib.simulate_point(RAW, {"cq": c}, COUPLINGS, times, POWDER, n_times)[0] for c in set(cqs)}


def _shape(nodes, row_cqs):
    """A library over cq with ``nodes``, the row of node k simulated at ``row_cqs[k]``."""
    times, rows = _rows(row_cqs)
    table = np.stack([rows[c] for c in row_cqs])
    out = lib.LibraryShape([lib.Axis("cq", np.asarray(nodes, float), "Hz")], COUPLINGS, times, table, 2.4e-3,
                           description="library test.h5", defaults={"cq": float(nodes[len(nodes) // 2])})
    out.powder = dict(POWDER)
    return out


@pytest.fixture(scope="module")
def plain():
    return _shape([2e6, 3e6, 4e6], [2e6, 3e6, 4e6])


def _curve(cq, f, seed=5, sigma=SIGMA):
    y = lib.simulate_point(RAW, {"cq": cq}, [D_NODE], T, POWDER)[0, 0]
    return DephasingCurve(T, f * y + sigma * np.random.default_rng(seed).standard_normal(T.size),
                          sigma=np.full(T.size, sigma))


# --- freeing a parameter can only widen a profile interval -------------------------------------

@pytest.fixture(scope="module")
def at_bound(plain):
    """f = 1.03 in the data: the fit with f free ends on its bound 1, as the fit with f = 1 fixed."""
    curve = _curve(3e6, 1.03, sigma=0.01)
    model = CurveModel("13C", "27Al", shape=plain)
    return curve, fit_curves([curve], [model], free=["cq"], fix={"fraction": 1.0}), fit_curves([curve], [model],
                                                                                              free=["cq"])


def test_freeing_the_fraction_at_its_bound_can_only_widen_the_coupling_interval(at_bound):
    _, fixed, free = at_bound
    assert free["fraction"].value == pytest.approx(1.0, abs=1e-6)
    assert free.chisqr == pytest.approx(fixed.chisqr, rel=1e-6)
    for level in ("ci68", "ci95"):
        lo_fixed, hi_fixed = getattr(fixed["coupling_hz"], level)
        lo_free, hi_free = getattr(free["coupling_hz"], level)
        assert lo_free <= lo_fixed + 1e-3 and hi_free >= hi_fixed - 1e-3, level


def _brute_delta(result, d, free_f):
    """chi2 - chi2_best with D = d: cq on a 50 kHz grid over the library, f refitted from two starts
    (or held at 1): an independent minimum over the other parameters."""
    import lmfit

    problem, best = result._problem, result.lmfit_result.params
    low = np.inf
    for cq in np.linspace(2e6, 4e6, 41):
        for f0 in ((0.8, 0.99) if free_f else (1.0,)):
            p = best.copy()
            p["coupling_hz"].set(value=d, vary=False)
            p["cq"].set(value=cq, vary=False)
            p["fraction"].set(value=f0, vary=free_f)
            chi = (lmfit.minimize(problem.residual, p, method="leastsq").chisqr if free_f
                   else float(np.sum(problem.residual(p) ** 2)))
            low = min(low, chi)
    return low - result.chisqr


@pytest.mark.parametrize("which", ["fixed", "free"])
def test_the_coupling_interval_ends_where_an_independent_minimum_rises_by_4(at_bound, which):
    _, fixed, free = at_bound
    res = {"fixed": fixed, "free": free}[which]
    lo, hi = res["coupling_hz"].ci95
    for end, inside, outside in ((lo, lo + 3.0, lo - 3.0), (hi, hi - 3.0, hi + 3.0)):
        assert _brute_delta(res, inside, which == "free") < 4.0 < _brute_delta(res, outside, which == "free"), end


def test_root_finding_on_a_jumping_refit_keeps_the_outer_end():
    """A re-fit that jumps between valleys gives no sign change to brentq: bisection keeps the bracket."""
    calls = []

    def excess(v):  # below the level up to 1.0, above it from there, but 0 again at the bracket's end 2.0
        calls.append(v)
        return 0.0 if (v < 1.0 or v == 2.0) else 0.99

    assert _root(lambda v: excess(v), 0.95, 0.0, 2.0, 0.0) == pytest.approx(1.0, abs=1e-6)


def test_a_profile_without_refit_steps_and_crosses_as_a_parabola():
    import lmfit

    params = lmfit.Parameters()
    params.add("a", value=1.0, min=-10, max=10)
    prof = profile(params, lambda p: np.array([(p["a"].value - 1.0) / 0.5]), "a", sigma_known=True, chi2_best=0.0,
                   refit=False)
    assert prof.intervals[0.6827] == pytest.approx((0.5, 1.5), abs=1e-4)  # 0.6827 is delta chi2 = 1.00004
    assert prof.intervals[0.9545] == pytest.approx((0.0, 2.0), abs=1e-4)


def test_a_profile_from_a_best_value_of_zero_without_stderr_still_steps_out():
    import lmfit

    params = lmfit.Parameters()
    params.add("a", value=0.0, min=0.0, max=1.0)  # on its bound: no standard error
    prof = profile(params, lambda p: np.array([p["a"].value / 0.1]), "a", sigma_known=True, chi2_best=0.0,
                   refit=False)
    assert prof.intervals[0.6827][0] is None  # open below: the bound
    assert prof.intervals[0.6827][1] == pytest.approx(0.1, abs=1e-5)
    assert prof.intervals[0.9545][1] == pytest.approx(0.2, abs=1e-5)


# --- a tabulated profile with several valleys --------------------------------------------------

@pytest.fixture(scope="module")
def two_valleys():
    """cq nodes 2..6 MHz whose rows alternate: the data's curve (cq 2 MHz) at 3 and 5 MHz, another at
    2, 4 and 6 MHz: a profile with two minima."""
    return _shape(np.arange(2, 7) * 1e6, [4e6, 2e6, 4e6, 2e6, 4e6])


def test_a_profile_with_two_valleys_gives_their_hull_and_says_so(two_valleys):
    curve = _curve(2e6, 0.8)
    res = fit_curves([curve], [CurveModel("13C", "27Al", shape=two_valleys)], free=["cq"])
    cq = res["cq"]
    assert 2.25e6 < cq.value < 5.75e6  # in one of the valleys (the spline between nodes adds a third)
    # the interval covers both valleys, not only the one the fit ended in
    assert cq.ci95[0] < 3e6 < 5e6 < cq.ci95[1]
    assert 2e6 < cq.ci95[0] and cq.ci95[1] < 6e6
    several = [w for w in res.warnings if "several minima" in w]
    assert len(several) == 1 and several[0].startswith("cq: its chi2 profile has several minima")


def test_a_single_valley_gives_no_several_minima_warning(plain):
    res = fit_curves([_curve(3e6, 0.8)], [CurveModel("13C", "27Al", shape=plain)], free=["cq"])
    assert not [w for w in res.warnings if "several minima" in w]
    assert 2e6 < res["cq"].ci95[0] < 3e6 < res["cq"].ci95[1] < 4e6


# --- the edge a warning names ------------------------------------------------------------------

def _prof(best, ci95, opened):
    return {"best": (best, 0.0, None), "range": (1e6, 5e6), "ci68": ci95, "ci95": ci95,
            "open": {0.6827: opened, 0.9545: opened}}


@pytest.fixture(scope="module")
def wide():
    return _shape(np.arange(1, 6) * 1e6, [2e6, 2e6, 3e6, 4e6, 4e6])


@pytest.mark.parametrize("best, ci95, opened, expected", [
    (1e6, (1e6, 5e6), (True, True), ["cq = 1 MHz is on the library's lower edge 1 MHz",
                                     "cq = 1 MHz lies inside, but its 95 % interval reaches the library's upper "
                                     "edge 5 MHz"]),
    (4.5e6, (3e6, 5e6), (False, True), ["cq = 4.5 MHz is near the library's upper edge 5 MHz"]),
    (2.5e6, (1e6, 3e6), (True, False), ["cq = 2.5 MHz lies inside, but its 95 % interval reaches the library's "
                                        "lower edge 1 MHz"]),
    (5e6, (4e6, 5e6), (False, True), ["cq = 5 MHz is on the library's upper edge 5 MHz"]),
])
def test_the_edge_warning_names_the_edge_and_how_the_value_stands_to_it(wide, best, ci95, opened, expected):
    model = CurveModel("13C", "27Al", shape=wide)
    lines = edge_warnings("cq", _prof(best, ci95, opened), model, best)
    assert len(lines) == len(expected)
    for line, head in zip(lines, expected):
        assert line.startswith(head + ":"), line
        other = "upper" if "lower edge" in head else "lower"
        assert f"{other} edge" not in line


# --- what a build says of its powder and of its interpolation check ----------------------------

def _record(converged, **status):
    return {"converged": converged, "dimensions": {k: {"status": v} for k, v in status.items()}}


@pytest.mark.parametrize("record, headline", [
    (None, "powder not checked"),
    (_record(True, alpha_beta="explicit", gamma="explicit", step="not applicable"), "powder not checked (explicit)"),
    (_record(True, alpha_beta="explicit", gamma="converged", step="not applicable"),
     "powder converged (explicit settings not checked)"),
    (_record(True, alpha_beta="converged", gamma="converged", step="converged"), "powder converged"),
    (_record(False, alpha_beta="unconverged", gamma="explicit", step="converged"), "powder NOT converged"),
])
def test_the_build_headline_says_converged_only_for_checked_settings(record, headline):
    assert _convergence_headline(record) == headline


@pytest.mark.parametrize("n_nodes, n_points, warned", [(9, 2, True), (9, 8, False), (3, 2, False), (5, 3, True)])
def test_a_sparse_interpolation_check_is_named(n_nodes, n_points, warned):
    line = lib.sparse_check_warning({"cq": {"n": n_nodes}, "eta_q": {"n": 2}, "coupling_hz": {"n": 12},
                                     "t_s": {"n": 41}},
                                    {"max": 0.011, "rms": 0.005, "n_points": n_points}, "library cq.h5")
    if not warned:
        assert line is None
        return
    assert line.startswith(f"library cq.h5: interpolation error measured at only {n_points} off-grid point(s) "
                           f"for {n_nodes - 1} cells along cq")
    assert "max 0.011 is a lower bound" in line and f"at least {n_nodes - 1} checks" in line


# --- a build from a plain script without a __main__ guard ------------------------------------

def test_a_script_without_main_guard_builds_with_threads_and_says_why(tmp_path):
    """Its worker processes re-run the script while they start: the build falls back to threads of
    the script's own process, with one warning line, no traceback."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "unguarded.py"
    script.write_text(
        "import respdor\n"
        "from respdor.examples import example_path\n"
        "built = respdor.build_library(example_path('c13_al27_respdor.toml'), ['cq=2:4MHz:2'], 'lib.h5',\n"
        "                              couplings_hz=(300, 800, 4), n_orientations=21, n_gamma_angles=4, n_checks=0,\n"
        "                              n_workers=1, progress=False)\n"
        "print('warnings:', len(built.warnings)); print(built.warnings[0])\n")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), NUMBA_NUM_THREADS="1")
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "Nanny failed" not in r.stderr
    assert "warnings: 1" in r.stdout
    line = r.stdout.strip().splitlines()[-1]
    assert line.startswith("unguarded.py: worker processes could not start")
    assert "if __name__ == \"__main__\":" in line and "1 thread(s) of this process" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lib.h5", "unguarded.py"]
