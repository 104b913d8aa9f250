"""``respdor fit --simulate``: fit with exact simulated curves, placing the work where the fit needs it.

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
import sys
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
        How to name the shape in the message, e.g. ``"--simulate spec.toml"``.
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


def fit_with_simulation(spec, curves, make_models, fit, accuracy=1e-3, out=sys.stderr, max_rounds=3,
                        coupling_bounds=None, labels=("--observe", "--partner")):
    """Fit ``curves`` with a simulated shape of ``spec``; returns the FitResult.

    Parameters
    ----------
    spec : str or Path
        spinsim spec file.
    curves : list of DephasingCurve
    make_models : callable
        ``make_models(shapes) -> list of CurveModel`` (one shape per curve, None = analytical).
    fit : callable
        ``fit(models, intervals=...) -> FitResult`` with the user's fix/free/bound options.
    accuracy : float
        Largest accepted deviation (dS/S0) of a fitted curve from a direct simulation at its D.
    out : file
        Where progress lines go.
    coupling_bounds : (float, float), optional
        The user's bounds on D (Hz): the table then covers them, so no trial D falls outside.
    labels : (str, str)
        How to name the observed and partner nuclei in a message (see :func:`check_nuclei`).

    Raises
    ------
    UserError
        Among others, when the models' nucleus pair is not the spec's.
    """
    from spinsim.spec import SpecError, load_spec

    from .library import _spec_powder
    from .simulated import SimulatedShape, node_curve

    if not (accuracy > 0):
        raise UserError(f"--sim-accuracy must be > 0, got {accuracy!r}")
    try:
        sp = load_spec(spec)
    except SpecError as exc:
        raise UserError(str(exc)) from None
    if not sp.system.dipolar:
        raise UserError(f"{spec}: the spec has no [[dipolar]] coupling to fit")
    check_nuclei(spec_nuclei(sp), make_models([None] * len(curves)), f"--simulate {spec}", labels)
    t_start = time.perf_counter()
    n = len(curves)
    t_max = max(float(np.max(c.time_s)) for c in curves)
    roots = [math.sqrt(m.n_partners) for m in make_models([None] * n)]
    try:
        first = fit(make_models([None] * n), intervals=False)
        d_eff = [d * r for d, r in zip(_per_curve(first, "coupling_hz", n), roots)]
        err = [(s or 0.0) * r for s, r in zip(_per_curve(first, "coupling_hz", n, "stderr"), roots)]
        # wide enough for the profile intervals: the simulated D lies within a few per cent of D_a
        lo = max(min(min(d / RANGE_FACTOR, d - 2 * e) for d, e in zip(d_eff, err)), min(d_eff) / 2)
        hi = min(max(max(d * RANGE_FACTOR, d + 2 * e) for d, e in zip(d_eff, err)), max(d_eff) * 2)
    except (UserError, ValueError, KeyError):  # no analytical start: the spec's coupling
        d0 = sp.system.dipolar[0].d_hz
        lo, hi = d0 / 5, d0 * 5
    if coupling_bounds is not None:
        r_max, r_min = max(roots), min(roots)
        lo, hi = min(lo, coupling_bounds[0] * r_min), max(hi, coupling_bounds[1] * r_max)
        if lo <= 0:
            raise UserError("--bound D must be > 0 Hz with --simulate")
    extra_nodes, rounds, n_sim = [], 0, 0
    pw = _spec_powder(sp.raw)
    span_limit = 25.0 * hi / lo  # widen at most 5x on each side of the first range
    while True:
        shape = SimulatedShape.from_spec(sp, [t_max], coupling_range_hz=(lo, hi), progress=True)
        n_sim += shape.info["nodes_simulated"]
        if extra_nodes:
            shape = _with_nodes(sp, pw, shape, extra_nodes, t_max)
            n_sim += shape.info["nodes_simulated"]
        result = fit(make_models([shape] * n))
        d_fit = [d * r for d, r in zip(_per_curve(result, "coupling_hz", n), roots)]
        glo, ghi = shape.coupling_range_hz
        ends = list(d_fit) + [x * r for ci, r in zip(_per_curve(result, "coupling_hz", n, "ci95"), roots)
                              if ci is not None for x in ci if x is not None and np.isfinite(x)]
        low_edge, high_edge = min(ends) < glo * 1.01, max(ends) > ghi / 1.01
        if (low_edge or high_edge) and rounds < max_rounds and hi / lo < span_limit:
            lo = min(ends) / RANGE_FACTOR if low_edge else lo  # D or its interval at the table's edge
            hi = max(ends) * RANGE_FACTOR if high_edge else hi
            print(f"fit --simulate: D or its interval at the edge of the table, widening it to "
                  f"{lo:.0f}-{hi:.0f} Hz", file=out)
            rounds += 1
            continue
        dev = []
        for c, d, a in zip(curves, d_fit, _per_curve(result, "amplitude", n)):
            direct, hit = _direct(sp, pw, d, c.time_s, node_curve)
            n_sim += not hit
            dev.append((d, float(np.max(np.abs(shape(c.time_s, d) - direct))), a))
        worst = max(a * e for _, e, a in dev)
        if worst <= accuracy or rounds >= max_rounds:
            break
        extra_nodes += [d for d, e, a in dev if a * e > accuracy]
        print(f"fit --simulate: table off by {worst:.2g} at the fitted D; adding that node", file=out)
        rounds += 1
    info = shape.info
    result.notes.append(
        f"simulated shape ({spec}): {len(shape.coupling_grid_hz)} couplings "
        f"{shape.coupling_range_hz[0]:.0f}-{shape.coupling_range_hz[1]:.0f} Hz interpolated in lambda = D t, "
        f"powder {info['powder']['scheme'].upper()} {info['powder']['n']} x {info['powder']['n_gamma']}; "
        f"{n_sim} table curves simulated (the rest from the cache); {time.perf_counter() - t_start:.1f} s"
    )
    _powder_check(sp, pw, dev, curves, accuracy, node_curve, result)
    for k, (d, e, a) in enumerate(dev):
        line = (f"simulated shape checked against a direct simulation at the fitted D = {d:.1f} Hz"
                f"{f' (curve {k})' if n > 1 else ''}: max |difference| {a * e:.1e} in the fitted curve "
                f"({e:.1e} at fraction 1)")
        (result.notes if a * e <= accuracy else result.warnings).append(
            line if a * e <= accuracy else line + f", above --sim-accuracy {accuracy:g}")
    return result


def _direct(sp, pw, d, t, node_curve):
    """Direct (cached) simulation at coupling ``d`` on the sequence's time grid, at times ``t``;
    returns the curve and whether it came from the cache."""
    cycle = (1.0 / sp.mas_rate) if isinstance(sp.recoupling, str) else sp.recoupling.duration
    n_max = max(int(math.ceil(float(np.max(t)) / (2 * cycle) - 1e-9)), 3)
    grid = 2 * cycle * np.arange(n_max + 1)
    y, hit = node_curve(sp, pw, float(d), grid)
    return CubicSpline(grid, y)(np.asarray(t, float)), hit


def _with_nodes(sp, pw, shape, extra, t_max):
    """The shape with extra node couplings (simulated to the table's lambda range, cached)."""
    from .simulated import SimulatedShape

    grid = np.union1d(shape.coupling_grid_hz, np.asarray(extra, float))
    return SimulatedShape.from_spec(sp, [t_max], coupling_grid_hz=grid, powder=pw, progress=True)


def _smaller_zcw(pw):
    """The ZCW powder one Fibonacci size below ``pw`` (same gamma count), or None."""
    if pw["scheme"] != "zcw":
        return None
    fib = [5, 8]
    while fib[-1] < pw["n"]:
        fib.append(fib[-1] + fib[-2])
    smaller = [f for f in fib if f < pw["n"]]
    return dict(pw, n=smaller[-1]) if smaller else None


def _powder_check(sp, pw, dev, curves, accuracy, node_curve, result):
    """Compare the spec's powder with the next smaller ZCW at the fitted D (cached); the difference
    estimates the smaller powder's error, an upper estimate of the spec's own."""
    small = _smaller_zcw(pw)
    if small is None:
        result.notes.append(f"powder {pw['scheme']} {pw['n']} x {pw['n_gamma']}: convergence not checked")
        return
    worst = 0.0
    for c, (d, _, a) in zip(curves, dev):
        y_spec, _ = _direct(sp, pw, d, c.time_s, node_curve)
        y_small, _ = _direct(sp, small, d, c.time_s, node_curve)
        worst = max(worst, a * float(np.max(np.abs(y_spec - y_small))))
    line = (f"powder check at the fitted D: ZCW {small['n']} x {pw['n_gamma']} differs from the spec's "
            f"ZCW {pw['n']} x {pw['n_gamma']} by {worst:.1e} in the fitted curve (the spec's own powder "
            "error is usually smaller)")
    if worst <= accuracy:
        result.notes.append(line)
    else:
        result.warnings.append(line + f": the powder may be too small for --sim-accuracy {accuracy:g}")
