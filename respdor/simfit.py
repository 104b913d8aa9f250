"""``respdor.fit(..., simulate_spec=...)``: fit with exact simulated curves, placing the work where the fit needs it.

1. A fit with the analytical curve locates D (it is fast and its D is off by a few per cent at
   most when saturation is incomplete).
2. :class:`~respdor.simulated.SimulatedShape` simulates a few node couplings around it (lattice
   nodes in ln D, cached), interpolated in lambda = D t.
3. The fit runs on that table. A fitted D at the edge of the table widens it and refits.
4. The table is checked against a direct simulation at the fitted D (also cached). If the fitted
   curve deviates by more than ``accuracy`` that coupling becomes a node and the fit is repeated;
   the measured deviation is always reported in the result's notes (or warnings).
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy.interpolate import CubicSpline

from .errors import UserError

__all__ = ["fit_with_simulation", "spec_nuclei", "check_nuclei"]

#: The first table spans the analytical D times / divided by this factor (or +- 2 standard errors,
#: at most a factor 2); a fitted D or a 95 % interval reaching its edge widens it.
RANGE_FACTOR = 1.3


def spec_nuclei(sp):
    """(observed, partner) isotope symbols of a loaded spec: spin 0 and the partner of the first coupling."""
    dip = sp.system.dipolar[0]
    k = dip.j if dip.i == 0 else dip.i
    return sp.system.spins[0].isotope.symbol, sp.system.spins[k].isotope.symbol


def check_nuclei(nuclei, models, what, labels=("observe", "partner")):
    """Refuse a curve model whose nucleus pair is not the one the shape was simulated for.

    Parameters
    ----------
    nuclei : (str, str)
        Observed and partner isotopes of the simulated shape (spec or library).
    models : list of CurveModel
    what : str
        How to name the shape in the message, e.g. ``"simulate_spec spec.toml"``.
    labels : (str, str)
        How to name the observed and partner choices (``("--observe", "--partner")`` on the command line).

    Raises
    ------
    UserError
        Naming both the model's isotope and the shape's: the dephasing shape and D r^3 would
        belong to different pairs (a 13C shape converted to a 15N distance).
    """
    from spinsim.isotopes import get_isotope

    want = [get_isotope(x).symbol for x in nuclei]
    for k, m in enumerate(models):
        have = [m.observe_isotope.symbol, m.partner_isotope.symbol]
        for role, label, h, w in zip(("observed", "partner"), labels, have, want):
            if h != w:
                curve = f" (curve {k})" if len(models) > 1 else ""
                raise UserError(f"{label} {h}{curve} contradicts {what}, whose {role} nucleus is {w} "
                                f"({want[0]}{{{want[1]}}}): give {label} {w}, or a shape simulated for {h}")


def _per_curve(result, base, n, attr="value"):
    if base in result.parameters:
        return [getattr(result.parameters[base], attr)] * n
    return [getattr(result.parameters[f"c{i}_{base}"], attr) for i in range(n)]


def fit_with_simulation(spec, curves, models, fit_options=None, accuracy=1e-3, progress=None, max_rounds=3,
                        powder_tol=None, check_explicit=False, names=None):
    """Fit ``curves`` with a simulated shape of ``spec``; returns the FitResult.

    Parameters
    ----------
    spec : str or Path
        spinsim spec file.
    curves : list of DephasingCurve
    models : list of CurveModel
        One analytical model per curve (nuclei, experiment, partners); the simulated shape is put
        in their place.
    fit_options : dict, optional
        Keyword arguments of :func:`respdor.fitting.fit_curves` (fix, bounds, free, intervals, ...).
        A bound on ``coupling_hz`` makes the table cover it, so no trial D falls outside.
    accuracy : float
        Largest accepted deviation (dS/S0) of a fitted curve from a direct simulation at its D.
    progress : None, bool, callable or spinsim.progress.Progress
        Where the lines about widening the table go (:meth:`~spinsim.progress.Progress.note`).
    max_rounds : int
        Most rounds of widening the table or adding nodes.
    powder_tol : float, optional
        Tolerance of the powder / gamma / step convergence check at the fitted D (dS/S0 of the
        fitted curve); default :data:`spinsim.convergence.DEFAULT_TOL`.
    check_explicit : bool
        Also check the settings the spec chose explicitly.
    names : dict, optional
        How messages name the arguments (``observe``, ``partner``, ``simulate``, ``sim_accuracy``,
        ``bounds``); the command line passes its options.

    Raises
    ------
    UserError
        Among others, when the models' nucleus pair is not the spec's.
    """
    from spinsim.progress import as_progress
    from spinsim.spec import SpecError, load_spec

    names = dict({"observe": "observe", "partner": "partner", "simulate": "simulate_spec",
                  "sim_accuracy": "sim_accuracy", "bounds": "bounds"}, **(names or {}))
    options = dict(fit_options or {})
    report = as_progress(progress)
    if not (accuracy > 0):
        raise UserError(f"{names['sim_accuracy']} must be > 0, got {accuracy!r}")
    try:
        sp = load_spec(spec)
    except SpecError as exc:
        raise UserError(str(exc)) from None
    if not sp.system.dipolar:
        raise UserError(f"{spec}: the spec has no [[dipolar]] coupling to fit")
    check_nuclei(spec_nuclei(sp), models, f"{names['simulate']} {spec}", (names["observe"], names["partner"]))
    from .simulated import node_curve
    from .workload import each_estimate_once

    t_start = time.perf_counter()
    with each_estimate_once():  # the inner fits all fit the same points: their estimate is said once
        lo, hi = _first_range(sp, curves, models, options, names)
        shape, result, dev, n_sim = _fit_on_tables(sp, curves, models, options, lo, hi, accuracy, max_rounds, report)
        _note_table(spec, shape, result, n_sim, time.perf_counter() - t_start)
        _convergence_check(sp, _powder(sp), dev, curves, node_curve, result, powder_tol, check_explicit,
                           time.perf_counter() - t_start)
    _note_table_error(result, dev, accuracy, names)
    return result


def _powder(sp):
    from .library import _spec_powder

    return _spec_powder(sp.raw)


def _shaped(models, shape):
    import dataclasses

    return [dataclasses.replace(m, shape=shape) for m in models]


def _fit(curves, models, options, **override):
    from .fitting import fit_curves

    return fit_curves(curves, models, **dict(options, **override))


def _first_range(sp, curves, models, options, names):
    """(low, high) D of the first table (Hz, effective coupling): around the analytical fit's D,
    covering the user's bounds on D."""
    n = len(curves)
    roots = [math.sqrt(m.n_partners) for m in models]
    try:
        first = _fit(curves, models, options, intervals=False)
        d_eff = [d * r for d, r in zip(_per_curve(first, "coupling_hz", n), roots)]
        err = [(s or 0.0) * r for s, r in zip(_per_curve(first, "coupling_hz", n, "stderr"), roots)]
        # wide enough for the profile intervals: the simulated D lies within a few per cent of D_a
        lo = max(min(min(d / RANGE_FACTOR, d - 2 * e) for d, e in zip(d_eff, err)), min(d_eff) / 2)
        hi = min(max(max(d * RANGE_FACTOR, d + 2 * e) for d, e in zip(d_eff, err)), max(d_eff) * 2)
    except (UserError, ValueError, KeyError):  # no analytical start: the spec's coupling
        d0 = sp.system.dipolar[0].d_hz
        lo, hi = d0 / 5, d0 * 5
    coupling_bounds = (options.get("bounds") or {}).get("coupling_hz")
    if coupling_bounds is not None:
        lo, hi = min(lo, coupling_bounds[0] * min(roots)), max(hi, coupling_bounds[1] * max(roots))
        if lo <= 0:
            raise UserError(f"{names['bounds']} D must be > 0 Hz with a simulated shape")
    return lo, hi


def _fit_on_tables(sp, curves, models, options, lo, hi, accuracy, max_rounds, report):
    """Fit on a simulated table, widening it while D or its interval reaches an edge and adding a node
    where it misses a direct simulation by more than ``accuracy``; returns (shape, result,
    [(D, deviation at fraction 1, amplitude)] per curve, number of curves simulated)."""
    from .simulated import SimulatedShape, node_curve

    n, t_max = len(curves), max(float(np.max(c.time_s)) for c in curves)
    roots = [math.sqrt(m.n_partners) for m in models]
    extra_nodes, rounds, n_sim, pw = [], 0, 0, _powder(sp)
    span_limit = 25.0 * hi / lo  # widen at most 5x on each side of the first range
    while True:
        shape = SimulatedShape.from_spec(sp, [t_max], coupling_range_hz=(lo, hi), progress=report)
        n_sim += shape.info["nodes_simulated"]
        if extra_nodes:
            shape = _with_nodes(sp, pw, shape, extra_nodes, t_max, report)
            n_sim += shape.info["nodes_simulated"]
        result = _fit(curves, _shaped(models, shape), options)
        d_fit = [d * r for d, r in zip(_per_curve(result, "coupling_hz", n), roots)]
        glo, ghi = shape.coupling_range_hz
        ends = list(d_fit) + [x * r for ci, r in zip(_per_curve(result, "coupling_hz", n, "ci95"), roots)
                              if ci is not None for x in ci if x is not None and np.isfinite(x)]
        low_edge, high_edge = min(ends) < glo * 1.01, max(ends) > ghi / 1.01
        if (low_edge or high_edge) and rounds < max_rounds and hi / lo < span_limit:
            lo = min(ends) / RANGE_FACTOR if low_edge else lo  # D or its interval at the table's edge
            hi = max(ends) * RANGE_FACTOR if high_edge else hi
            report.note(f"fit with a simulated shape: D or its interval at the edge of the table, widening it to "
                        f"{lo:.0f}-{hi:.0f} Hz")
            rounds += 1
            continue
        dev = []
        for c, d, a in zip(curves, d_fit, _per_curve(result, "amplitude", n)):
            direct, hit = _direct(sp, pw, d, c.time_s, node_curve)
            n_sim += not hit
            dev.append((d, float(np.max(np.abs(shape(c.time_s, d) - direct))), a))
        worst = max(a * e for _, e, a in dev)
        if worst <= accuracy or rounds >= max_rounds:
            return shape, result, dev, n_sim
        extra_nodes += [d for d, e, a in dev if a * e > accuracy]
        report.note(f"fit with a simulated shape: table off by {worst:.2g} at the fitted D; adding that node")
        rounds += 1


def _note_table(spec, shape, result, n_sim, wall_s):
    """The table's size and cost, in the notes."""
    info = shape.info
    result.notes.append(
        f"simulated shape ({spec}): {len(shape.coupling_grid_hz)} couplings "
        f"{shape.coupling_range_hz[0]:.0f}-{shape.coupling_range_hz[1]:.0f} Hz interpolated in lambda = D t, "
        f"powder {info['powder']['scheme'].upper()} {info['powder']['n']} x {info['powder']['n_gamma']}; "
        f"{n_sim} table curves simulated (the rest from the cache); {wall_s:.1f} s"
    )


def _note_table_error(result, dev, accuracy, names):
    """The table's measured error at each fitted D: a note, or a warning when above ``accuracy``."""
    n = len(dev)
    for k, (d, e, a) in enumerate(dev):
        line = (f"simulated shape checked against a direct simulation at the fitted D = {d:.1f} Hz"
                f"{f' (curve {k})' if n > 1 else ''}: max |difference| {a * e:.1e} in the fitted curve "
                f"({e:.1e} at fraction 1)")
        (result.notes if a * e <= accuracy else result.warnings).append(
            line if a * e <= accuracy else line + f", above {names['sim_accuracy']} {accuracy:g}")


def _direct(sp, pw, d, t, node_curve):
    """Direct (cached) simulation at coupling ``d`` on the sequence's time grid, at times ``t``;
    returns the curve and whether it came from the cache."""
    cycle = (1.0 / sp.mas_rate) if isinstance(sp.recoupling, str) else sp.recoupling.duration
    n_max = max(int(math.ceil(float(np.max(t)) / (2 * cycle) - 1e-9)), 3)
    grid = 2 * cycle * np.arange(n_max + 1)
    y, hit = node_curve(sp, pw, float(d), grid)
    return CubicSpline(grid, y)(np.asarray(t, float)), hit


def _with_nodes(sp, pw, shape, extra, t_max, report=None):
    """The shape with extra node couplings (simulated to the table's lambda range, cached)."""
    from .simulated import SimulatedShape

    grid = np.union1d(shape.coupling_grid_hz, np.asarray(extra, float))
    return SimulatedShape.from_spec(sp, [t_max], coupling_grid_hz=grid, powder=pw, progress=report)


def _spec_at(sp, level):
    """The spec with ``level``'s time step (a new spec, so that the cache key sees the step)."""
    from spinsim.spec import Spec

    from .convergence import raw_at_step

    return sp if level.max_dt == sp.max_dt else Spec(raw_at_step(sp.raw, level.max_dt), sp.source)


def _convergence_check(sp, pw, dev, curves, node_curve, result, tol, check_explicit, fit_wall):
    """The convergence check (:func:`spinsim.convergence.check_convergence`) of the simulated curve at
    each fitted D: (alpha, beta) set, gamma angles and time step, each against a coarser level (cached
    direct simulations). The table is not rebuilt: an unconverged setting is a warning naming the size
    (measured against a finer level) and the spec key to raise."""
    from spinsim.convergence import DEFAULT_TOL, Level, check_convergence
    from spinsim.powder import make_powder

    from . import convergence as cv

    times = np.concatenate([c.time_s for c in curves])

    def run(level):
        s = _spec_at(sp, level)
        return np.concatenate([a * _direct(s, cv.powder_dict(level.powder), d, c.time_s, node_curve)[0]
                               for c, (d, _, a) in zip(curves, dev)])

    level = Level(make_powder(pw["scheme"], pw["n"], pw["n_gamma"]), sp.max_dt)
    base = run(level)
    check = check_convergence(run, level, cv.spec_explicit(sp.raw), tol or DEFAULT_TOL, check_explicit,
                              refine=False, base=(base, fit_wall), uses_step=cv.spec_uses_step(sp))
    lines = cv.check_text(check, times)
    lines[0] = lines[0].replace("x the run", "x the fit's simulations") + " (at the fitted D, in the fitted curve)"
    result.notes.extend(lines)
    result.warnings.extend(cv.check_warnings(check, times, "simulated shape: ", options=False))
    result.convergence = cv.check_json(check, times)
