"""Convergence of a simulated curve in its three numerical settings, each checked separately.

A simulated dS/S0 curve depends on three numerical choices besides the physics:

* ``alpha_beta``: the (alpha, beta) orientation set of the powder (ZCW or REPULSION size);
* ``gamma``: the number of gamma angles (rotations about the rotor axis);
* ``step``: the longest piecewise-constant time step ``max_dt`` (only where the engine steps:
  rf blocks, the general and coupled engines; the fast engine with ideal saturation integrates
  free evolution exactly and has no step).

:func:`check_convergence` compares the curve with a *coarser* level in one dimension at a time,
the other two held at the run's level, and reports the largest change of dS/S0 over the curve.
Two ways, the same decisions:

``nested=True`` (the run takes any :class:`~spinsim.powder.Powder` as it is, in this process)
    Each engine keeps its signals summed per gamma angle and over four interleaved classes of
    orientations (:class:`spinsim.simulate.PowderPartials`), and while the check runs a run
    whose powder is a nested subset of a recent run is served from those sums
    (``spinsim._nested``). :func:`nested_pair` says what is compared: gamma against the run's
    own every other gamma angle and (alpha, beta) against the ZCW set two sizes smaller, both at
    half of each recoupling time (the dephasing phase grows in proportion to time, so n angles at
    t err as n/2 at t/2), and the step on a quarter of the orientations at twice the step. Cost
    at most :data:`COST_BOUND` = 0.65 of the run (0.38 + 0 + 0.25; measured 0.4-0.56,
    benchmarks/bench_convergence_cost.py); the estimates against the true error:
    benchmarks/bench_convergence_honesty.py.
``nested=False``
    Every coarser level is run whole: the previous ZCW size (about 0.62 of the orientations), 3/4
    of the gamma angles (not half: the gamma error falls off steeply once the angles resolve the
    largest dephasing phase, so half a converged grid is often far off), twice the step. At most
    :data:`FALLBACK_COST_BOUND` = 2.4 times the run.

The change to a coarser level over-estimates the run's own error (it is the coarser level's
error, up to the run's). When it exceeds the tolerance in a dimension the user left at its
default, the level is *refined* (the next ZCW size, twice the gamma angles, half the step), at
most :data:`MAX_REFINE` times, each refined level checked as the first was, and the refined
curve is the result; the change from the default to the first refinement is the default's
error. A dimension the user chose explicitly is checked only when asked (``check_explicit``) and
is never changed: when its coarser level differs by more than the tolerance, one finer level is
run to measure the chosen level's own error, which is reported. Finer runs are timed apart
(:attr:`ConvergenceCheck.finer_wall_s`) and are not part of the bound.

The tolerance :data:`DEFAULT_TOL` = 2e-3 in dS/S0 is a fifth of the noise of a typical measured
RESPDOR curve (sigma ~ 0.01): a numerical error below it moves a fitted D by a small part of its
standard error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .powder import Powder, make_powder

__all__ = ["DIMENSIONS", "DEFAULT_TOL", "COST_BOUND", "FALLBACK_COST_BOUND", "MIN_SUBSET", "MAX_REFINE", "Level",
           "DimensionCheck", "ConvergenceCheck", "coarser", "finer", "nested_pair", "half_time_index",
           "subset_powder", "check_convergence", "step_used"]

DIMENSIONS = ("alpha_beta", "gamma", "step")
#: Largest accepted change of dS/S0 (dimensionless) between a level and its coarser neighbour.
DEFAULT_TOL = 2e-3
#: Upper bound of the check's cost in units of the run's own cost with ``nested=True``
#: (:func:`nested_pair`): (alpha, beta) 1/phi^2 = 0.38 (the ZCW set two sizes smaller), gamma 0 (the
#: run's own every other gamma angle), step 1/4 (a quarter of the orientations at twice the step,
#: which costs at most as much per crystallite); finer runs (refinement, or measuring an explicit
#: setting's own error) excluded. Measured: benchmarks/bench_convergence_cost.py.
COST_BOUND = 0.65
#: The same bound when the run cannot be given nested subsets (``nested=False``): three coarser runs,
#: 0.62 + 0.75 + 1.
FALLBACK_COST_BOUND = 2.4
#: Fewest (alpha, beta) orientations a subset used by the check may have.
MIN_SUBSET = 34
#: Refinements at most per defaulted dimension (e.g. gamma 16 -> 32 -> 64).
MAX_REFINE = 2
#: Golden ratio: successive ZCW sizes are Fibonacci numbers.
_PHI = (1 + 5**0.5) / 2


@dataclass(frozen=True)
class Level:
    """One numerical level: a powder (orientations and gamma angles) and the longest step (s)."""

    powder: Powder
    max_dt: float

    def value(self, dim):
        """The level's setting in ``dim``: (alpha, beta) count, gamma count or step (s)."""
        return {"alpha_beta": self.powder.n_ab, "gamma": self.powder.n_gamma, "step": self.max_dt}[dim]

    def describe(self):
        return f"{_scheme_name(self.powder)} {self.powder.n_ab} x {self.powder.n_gamma} gamma, " \
               f"step {self.max_dt * 1e6:g} us"


def _scheme_name(powder):
    name = powder.name
    if name.startswith("zcw"):
        return "ZCW"
    if name.startswith("rep"):
        return "REPULSION"
    return name


def _ab_powder(powder, factor):
    """``powder``'s scheme at about ``factor`` times its (alpha, beta) count, or None."""
    from .powder import _F

    name = powder.name
    if name.startswith("zcw"):
        k = _F.index(powder.n_ab) if powder.n_ab in _F else None
        if k is None:
            return None
        k = k + int(round(np.log(factor) / np.log(_PHI)))  # Fibonacci sizes: a factor phi per step
        if k < 5 or k >= len(_F):  # below 8 orientations nothing is converged
            return None
        return make_powder("zcw", _F[k], powder.n_gamma)
    if name.startswith("rep"):
        n = int(round(powder.n_ab * factor))
        return make_powder("repulsion", n, powder.n_gamma) if n >= 8 else None
    return None  # a crystallite file or a single orientation has no coarser or finer member


def coarser(level: Level, dim: str):
    """The level one step coarser in ``dim`` only, or None when there is none."""
    p = level.powder
    if dim == "alpha_beta":
        q = _ab_powder(p, 1 / _PHI)
        return None if q is None else Level(q, level.max_dt)
    if dim == "gamma":
        if p.n_gamma < 2:
            return None
        n = min(p.n_gamma - 1, int(round(0.75 * p.n_gamma)))
        return Level(Powder(p.alpha, p.beta, p.weights, n, p.name), level.max_dt)
    if dim == "step":
        return Level(p, 2 * level.max_dt)
    raise ValueError(f"unknown dimension {dim!r}; one of {DIMENSIONS}")


def finer(level: Level, dim: str):
    """The level one step finer in ``dim`` only, or None when there is none."""
    p = level.powder
    if dim == "alpha_beta":
        q = _ab_powder(p, _PHI)
        return None if q is None else Level(q, level.max_dt)
    if dim == "gamma":
        return Level(Powder(p.alpha, p.beta, p.weights, 2 * p.n_gamma, p.name), level.max_dt)
    if dim == "step":
        return Level(p, level.max_dt / 2)
    raise ValueError(f"unknown dimension {dim!r}; one of {DIMENSIONS}")


def step_used(info) -> bool:
    """Whether a run's ``SimulationResult.info`` depended on the time step ``max_dt``.

    Only the fast engine with an ideal centre (no rf block) has no step: it integrates free
    evolution exactly. Every other run slices some part of the experiment into steps.
    """
    return not (info.get("engine") == "fast" and info.get("block_dt_s") is None)


@dataclass
class DimensionCheck:
    """The check of one dimension.

    ``status``: ``"converged"`` (the coarser level changes dS/S0 by at most the tolerance),
    ``"refined"`` (a default was unconverged and was refined until converged), ``"unconverged"``
    (above the tolerance after the allowed refinements, or an explicit choice), ``"explicit"``
    (chosen by the user, not checked), ``"not applicable"`` (the run has no such setting) or
    ``"cannot coarsen"`` (e.g. a crystallite file). ``steps`` lists every comparison made:
    ``{"value", "compared_with", "max_change", "at_index"}``; ``max_change`` is the change that
    estimates the error of the result's level (None when not checked).
    """

    dimension: str
    explicit: bool
    status: str
    value: float
    initial_value: float
    steps: list = field(default_factory=list)
    max_change: float | None = None
    at_index: int | None = None
    error_estimate: float | None = None


@dataclass
class ConvergenceCheck:
    """Result of :func:`check_convergence`: the curve at the final level and per-dimension checks."""

    curve: np.ndarray
    level: Level
    initial: Level
    tol: float
    dimensions: list
    run_wall_s: float
    check_wall_s: float
    cost_bound: float = FALLBACK_COST_BOUND
    #: Wall time (s) of the runs finer than the run's level (refinements, and the measurement of an
    #: explicit setting's own error), not counted in ``check_wall_s`` nor bounded by ``cost_bound``.
    finer_wall_s: float = 0.0

    @property
    def converged(self):
        return all(d.status in ("converged", "refined", "explicit", "not applicable", "cannot coarsen")
                   for d in self.dimensions)

    @property
    def cost_fraction(self):
        return self.check_wall_s / self.run_wall_s if self.run_wall_s > 0 else float("nan")


def _curve(x):
    """dS/S0 of a run's output: an array, or anything with ``dSS0`` (a SimulationResult)."""
    return np.asarray(getattr(x, "dSS0", x), float)


def subset_powder(powder, start, stride, n_gamma=None):
    """The (alpha, beta) orientations ``start::stride`` of ``powder`` (weights renormalised), at
    ``n_gamma`` gamma angles (default: the powder's): a nested subset, which the check serves from
    the run's partial sums (``spinsim._nested``)."""
    w = powder.weights[start::stride]
    name = f"{powder.name}[{start}::{stride}]"
    return Powder(powder.alpha[start::stride], powder.beta[start::stride], w / w.sum(),
                  powder.n_gamma if n_gamma is None else int(n_gamma), name)


def nested_pair(level, dim):
    """What the nested check compares in ``dim``: ``(own, low, words, at_half_time)``, or None.

    ``own`` is the level whose curve is compared (None: the run itself; otherwise a nested subset
    of the run, served from its partial sums), ``low`` the coarser level, ``at_half_time`` whether
    the curves are compared at half of each recoupling time (:func:`half_time_index`).

    * ``alpha_beta``: the run against the ZCW (or REPULSION) set two sizes smaller (1/phi^2 = 0.38
      of the orientations), at half of each recoupling time;
    * ``gamma``: the run against its own every other gamma angle (n_gamma / 2 of them, free), at
      half of each recoupling time;
    * ``step``: a quarter of the orientations (every fourth; half or all of them when a quarter
      would keep fewer than :data:`MIN_SUBSET`) at the run's step (free) against twice the step.

    Why half the time: the dephasing phase of every crystallite grows in proportion to the
    recoupling time, so the angular structure that the gamma angles and the orientations must
    resolve at t is that at t/2 made twice as fine. n gamma angles at t therefore err as n/2 at
    t/2 (exactly so for the dipolar phase; the gamma spectrum decays faster than that scaling
    assumes, so the comparison over-estimates the error), and the orientation error at t is
    about that of a set with fewer orientations at t/2 (a set resolving twice the angular detail
    needs 2-4 times the points; 1/phi^2 = 1/2.6 measured as honest as the previous ZCW size at the
    full time). Parts that do not grow with time (the saturation block) are compared at t/2 with
    the coarser level's error, which over-estimates theirs.
    """
    p, dt = level.powder, level.max_dt
    if dim == "alpha_beta":
        low = _ab_powder(p, 1 / _PHI**2)
        if low is None:
            return None
        return None, Level(low, dt), "at half of each time", True
    if dim == "gamma":
        if p.n_gamma < 2 or p.n_gamma % 2:
            return None
        g = p.n_gamma // 2
        return (None, Level(Powder(p.alpha, p.beta, p.weights, g, p.name), dt),
                "every other gamma angle at half of each time", True)
    if dim == "step":
        for stride in (4, 2, 1):
            if p.n_ab // stride >= MIN_SUBSET or stride == 1:
                sub = subset_powder(p, 0, stride) if stride > 1 else p
                break
        own = None if stride == 1 else Level(sub, dt)
        return own, Level(sub, 2 * dt), f"on {sub.n_ab} of the {p.n_ab} (alpha, beta) orientations", False
    raise ValueError(f"unknown dimension {dim!r}; one of {DIMENSIONS}")


def half_time_index(times_s):
    """For each recoupling time t_i, the index of the shortest time of the curve at or beyond t_i / 2."""
    t = np.asarray(times_s, float)
    order = np.argsort(t, kind="stable")
    k = np.searchsorted(t[order], t / 2 - 1e-12 * max(float(np.max(np.abs(t))), 1e-300), side="left")
    return order[np.minimum(k, len(t) - 1)]


def _compare(run, level, curve, dim, half):
    """One comparison of ``level`` in ``dim`` with a coarser level: a ``steps`` entry, or None when
    there is no coarser level. ``half``: :func:`half_time_index` of the curve (nested check) or None
    (every coarser level run whole)."""
    pair = nested_pair(level, dim) if half is not None else None
    if pair is not None:
        own, low, on, at_half = pair
        mine = curve if own is None else _curve(run(own))  # a subset: served from the run's partial sums
        change, k = _change(mine, _curve(run(low)), half if at_half else None)
        return {"value": level.value(dim), "compared_with": low.value(dim), "max_change": change, "at_index": k,
                "on": on}
    low = coarser(level, dim)
    if low is None:
        return None
    change, k = _change(curve, _curve(run(low)))
    return {"value": level.value(dim), "compared_with": low.value(dim), "max_change": change, "at_index": k}


def _change(a, b, index=None):
    """Largest |a - b| and where; with ``index`` (:func:`half_time_index`), the change at each
    ``index[i]`` stands for time i, and the index returned is where it was measured."""
    d = np.abs(np.asarray(a, float) - np.asarray(b, float))
    if index is not None:
        k = int(index[int(np.argmax(d[index]))])
        return float(d[k]), k
    k = int(np.argmax(d))
    return float(d[k]), k


def check_convergence(run, level, explicit=None, tol=DEFAULT_TOL, check_explicit=False, refine=True,
                      base=None, uses_step=True, max_refine=MAX_REFINE, nested=False, times_s=None):
    """Check a simulated curve against a coarser level in each dimension separately.

    Parameters
    ----------
    run : callable
        ``run(level) -> ndarray`` (dS/S0 on the curve's times), or a result with ``dSS0`` (a
        :class:`spinsim.SimulationResult`), for a :class:`Level`.
    level : Level
        The run's own level.
    explicit : dict, optional
        ``{dimension: bool}``: which settings the user chose (default: none).
    tol : float
        Largest accepted change of dS/S0 (dimensionless), default :data:`DEFAULT_TOL`.
    check_explicit : bool
        Also check the explicit settings (never changed; a finer level measures their error when
        the coarser one differs by more than ``tol``).
    refine : bool
        Refine an unconverged default (else only report it).
    base : (ndarray, float), optional
        The run's curve and wall time (s), when already computed.
    uses_step : bool
        Whether the run depends on ``max_dt`` (:func:`step_used`).
    max_refine : int
        Refinements at most per dimension.
    nested : bool
        ``run`` passes ``level.powder`` to spinsim's simulation in this process as it is (any
        :class:`~spinsim.powder.Powder`, also a subset of a ZCW set): each dimension is then compared
        as :func:`nested_pair` says, the run's own subsets served from its partial sums, at most
        :data:`COST_BOUND` of the run's cost. Otherwise (a run that rebuilds its powder from a name
        and size, or runs elsewhere) the coarser levels are run whole, at most
        :data:`FALLBACK_COST_BOUND`.
    times_s : array_like, optional
        The curve's recoupling times (s); needed by ``nested``.

    Returns
    -------
    ConvergenceCheck
    """
    from ._nested import serving

    if not tol > 0:
        raise ValueError(f"convergence tolerance must be > 0, got {tol!r}")
    if nested and times_s is None:
        raise ValueError("the nested check compares at half of each recoupling time: give times_s")
    half = half_time_index(times_s) if nested else None
    explicit = dict(explicit or {})
    t0 = time.perf_counter()
    if base is None:
        curve = _curve(run(level))
        run_wall = time.perf_counter() - t0
    else:
        curve, run_wall = _curve(base[0]), float(base[1])
    t_check = time.perf_counter()
    initial, checks = level, []
    finer_s = [0.0]

    def timed(lv):
        t = time.perf_counter()
        out = run(lv)
        if _finer_than(lv, initial):
            finer_s[0] += time.perf_counter() - t
        return out

    with serving():
        for dim in DIMENSIONS:
            level, curve, chk = _check_dimension(timed, level, curve, dim, bool(explicit.get(dim, False)), tol,
                                                 check_explicit, refine, uses_step, max_refine, half)
            checks.append(chk)
    wall = time.perf_counter() - t_check
    return ConvergenceCheck(curve, level, initial, tol, checks, run_wall, wall - finer_s[0],
                            COST_BOUND if nested else FALLBACK_COST_BOUND, finer_s[0])


def _finer_than(level, initial):
    """Whether ``level`` is finer than ``initial`` in some setting (a refinement or a measurement)."""
    return (level.powder.n_ab > initial.powder.n_ab or level.powder.n_gamma > initial.powder.n_gamma
            or level.max_dt < initial.max_dt)


def _check_dimension(run, level, curve, dim, is_explicit, tol, check_explicit, refine, uses_step, max_refine,
                     half=None):
    """One dimension: compare with the coarser level; refine a default, measure an explicit choice."""
    chk = DimensionCheck(dim, is_explicit, "converged", level.value(dim), level.value(dim))
    if dim == "step" and not uses_step:
        chk.status = "not applicable"
        return level, curve, chk
    if is_explicit and not check_explicit:
        chk.status = "explicit"
        return level, curve, chk
    step = _compare(run, level, curve, dim, half)
    if step is None:
        chk.status = "cannot coarsen"
        return level, curve, chk
    chk.steps.append(step)
    chk.max_change, chk.at_index = step["max_change"], step["at_index"]
    if step["max_change"] <= tol:
        return level, curve, chk
    if is_explicit or not refine:
        chk.status = "unconverged"
        high = finer(level, dim)
        if high is not None:  # measure the level's own error, keep its curve
            err, kf = _change(curve, _curve(run(high)))
            chk.steps.append({"value": level.value(dim), "compared_with": high.value(dim), "max_change": err,
                              "at_index": kf})
            chk.error_estimate = err
            chk.status = "converged" if err <= tol else "unconverged"
        return level, curve, chk
    return _refine(run, level, curve, dim, chk, tol, max_refine, half)


def _refine(run, level, curve, dim, chk, tol, max_refine, half):
    """Refine an unconverged default in ``dim`` until its check passes (at most ``max_refine`` times)."""
    for _ in range(max_refine):
        high = finer(level, dim)
        if high is None:
            break
        y = _curve(run(high))
        change, k = _change(y, curve)  # the error of the level refined away
        chk.steps.append({"value": high.value(dim), "compared_with": level.value(dim), "max_change": change,
                          "at_index": k})
        level, curve, chk.value = high, y, high.value(dim)
        again = _compare(run, level, curve, dim, half)
        if again is not None and (half is not None or again["compared_with"] != chk.steps[-1]["compared_with"]):
            # the refined level checked like the first one (whole runs: gamma against 3/4 of it)
            chk.steps.append(again)
            change, k = again["max_change"], again["at_index"]
        chk.max_change, chk.at_index = change, k
        if change <= tol:
            chk.status = "refined"
            return level, curve, chk
    chk.status = "unconverged"
    return level, curve, chk
