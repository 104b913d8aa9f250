"""Simulated dephasing curves as fitting models: exact spinsim curves at a few couplings, interpolated.

:class:`SimulatedShape` holds spinsim curves of a spec at a few "node" couplings D_k and is a
callable ``shape(t_s, coupling_hz) -> dS/S0`` (bonded fraction 1) that a fitter uses in place of
the analytical curve.

Interpolation is in lambda = D t, not in D at fixed t. The curve of one node is a smooth function
of lambda, sampled at lambda = D_k t_n on its recoupling times t_n = 2 n T_cycle; at fixed lambda
the curve changes with D only through the coupling acting during the saturation block, which is
slow. So each node's curve is splined in lambda and the node values at the wanted lambda are
splined in log D. Measured on 13C{27Al} (CQ 3 MHz, CW 30 kHz, ZCW 987 x 32): nodes 0.17 apart in
log D interpolate to 6e-5, where splining in D at fixed t needs nodes 0.03 apart for 5e-4. Every
node's times reach lambda_max = D_max t_max, so any (t, D) of the table is inside every node.

Each node curve is stored in the persistent cache (:mod:`respdor.simcache`), keyed by the spec,
powder, D and engine version, so a second fit with the same spec simulates nothing. The
simulation is imported lazily: importing this module compiles nothing.
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy.interpolate import CubicSpline
from spinsim.progress import tracking

from .errors import UserError

__all__ = ["SimulatedShape", "node_couplings", "spec_powder"]

#: Spacing of the node couplings in ln D by default (a factor 1.35; measured error in README of
#: docs/simulation.md; ``fit --simulate`` checks it at the fitted D and adds a node if needed).
NODE_SPACING = 0.3


def load_coupling_spec(spec, purpose="vary"):
    """Load a spinsim spec whose first [[dipolar]] coupling a table varies; one-line errors.

    Parameters
    ----------
    spec : str or Path
        The spec file (TOML or JSON).
    purpose : str
        What the table does with the coupling (``"vary"``, ``"tabulate"``), for the message.
    """
    from spinsim.spec import SpecError, load_spec

    try:
        sp = load_spec(spec)
    except SpecError as exc:
        raise UserError(str(exc)) from None
    if not sp.system.dipolar:
        raise UserError(f"the spec has no [[dipolar]] coupling to {purpose}")
    return sp


def node_couplings(d_lo, d_hi, spacing=NODE_SPACING):
    """Node couplings (Hz) spanning about [d_lo, d_hi] on a lattice in ln D of step ``spacing``.

    Nodes sit on the lattice exp(k * spacing) Hz (k integer) so that tables for overlapping
    ranges share nodes, and hence cache entries. The ends are the lattice nodes nearest to d_lo
    and d_hi (rounding outwards would often add a node, and the node of the smallest D is the
    dearest: it needs the most recoupling times); at least 4 nodes (a cubic spline).
    """
    if not (0 < d_lo < d_hi and math.isfinite(d_hi)):
        raise UserError(f"coupling range must satisfy 0 < low < high, got {d_lo:g}-{d_hi:g} Hz")
    k0 = round(math.log(d_lo) / spacing)
    k1 = round(math.log(d_hi) / spacing)
    while k1 - k0 < 3:  # widen alternately upwards and downwards to 4 nodes
        if (k1 - k0) % 2:
            k0 -= 1
        else:
            k1 += 1
    return np.exp(spacing * np.arange(k0, k1 + 1))


class SimulatedShape:
    """Simulated dS/S0(t, D), splined in lambda = D t per node and in log D across nodes.

    Parameters
    ----------
    coupling_nodes_hz : ndarray
        Node couplings D_k (Hz), increasing, at least 4.
    node_times_s : list of ndarray
        Recoupling times (s) simulated for each node (increasing).
    node_dss0 : list of ndarray
        dS/S0 of each node at its times.
    t_max_s : float
        Longest time the table serves (s).
    description : str
        What was simulated (for reports).
    info : dict, optional
        Build facts (powder, wall time, nodes simulated / from the cache).

    Notes
    -----
    The spec's first dipolar coupling (the S-I pair being fitted) is the variable; every other
    parameter (CQ, rf, MAS, powder, other couplings) is fixed at the spec's values.
    """

    def __init__(self, coupling_nodes_hz, node_times_s, node_dss0, t_max_s, description="", info=None):
        self.coupling_grid_hz = np.asarray(coupling_nodes_hz, float)
        self.t_max_s = float(t_max_s)
        self.description = description
        self.info = dict(info or {})
        if len(self.coupling_grid_hz) < 4 or np.any(np.diff(self.coupling_grid_hz) <= 0):
            raise ValueError("the coupling grid needs at least 4 increasing values")
        lam_max = self.coupling_grid_hz[-1] * self.t_max_s
        self._node = []
        for d, t, y in zip(self.coupling_grid_hz, node_times_s, node_dss0):
            t, y = np.asarray(t, float), np.asarray(y, float)
            if len(t) < 4 or t[-1] * d < lam_max * (1 - 1e-9):
                raise ValueError(f"node D = {d:g} Hz does not reach lambda = {lam_max:g}")
            self._node.append(CubicSpline(d * t, y))
        self.node_times_s = [np.asarray(t, float) for t in node_times_s]
        self.node_dss0 = [np.asarray(y, float) for y in node_dss0]

    @property
    def coupling_range_hz(self):
        """(D_min, D_max) in Hz: the fitter should bound D to this range."""
        return float(self.coupling_grid_hz[0]), float(self.coupling_grid_hz[-1])

    @property
    def times_s(self):
        """The recoupling times of the densest node (s), for plots of the table."""
        return self.node_times_s[-1][self.node_times_s[-1] <= self.t_max_s * (1 + 1e-9)]

    def __call__(self, t_s, coupling_hz):
        """dS/S0 at times ``t_s`` (s) for coupling ``coupling_hz`` (Hz), bonded fraction 1."""
        d = float(coupling_hz)
        lo, hi = self.coupling_range_hz
        if not (lo * (1 - 1e-12) <= d <= hi * (1 + 1e-12)):
            raise ValueError(f"coupling {d:g} Hz is outside the simulated table ({lo:g}-{hi:g} Hz)")
        t = np.asarray(t_s, float)
        if np.any(t < -1e-12) or np.any(t > self.t_max_s * (1 + 1e-9)):
            raise ValueError(f"times outside the simulated table (0-{1e3 * self.t_max_s:g} ms)")
        lam = d * np.clip(t, 0.0, None)
        at_nodes = np.array([s(lam) for s in self._node])
        return CubicSpline(np.log(self.coupling_grid_hz), at_nodes, axis=0)(np.log(d))

    @classmethod
    def from_spec(cls, spec, times_s, coupling_grid_hz=None, progress=False, n_couplings=None,
                  coupling_range_hz=None, spacing=NODE_SPACING, powder=None, cache=True):
        """Simulate (or take from the cache) the node curves of a spec.

        Parameters
        ----------
        spec : str, Path, dict or Spec
            Simulation spec (see docs/simulation.md); its first [[dipolar]] entry is varied.
        times_s : array_like
            Times (s) the curve will be evaluated at (only their maximum matters).
        coupling_grid_hz : array_like, optional
            Node couplings (Hz). Default: the lattice nodes (:func:`node_couplings`) covering
            ``coupling_range_hz``, else D0/5 to 5 D0 (D0 = the spec's coupling, at least 20 Hz).
        progress : None, bool, callable or spinsim.progress.Progress
            Progress over the nodes, with a note per node (:mod:`spinsim.progress`); ``True``: the
            notes as lines on standard error.
        n_couplings : int, optional
            Deprecated alternative: that many log-spaced nodes over the default range.
        coupling_range_hz : (float, float), optional
            Range of D the table should serve (Hz), rounded to the nearest lattice nodes.
        spacing : float
            Node spacing in ln D.
        powder : dict, optional
            ``{"scheme", "n", "n_gamma"}`` replacing the spec's powder.
        cache : bool
            Read and write node curves in the persistent cache.
        """
        sp = load_coupling_spec(spec, "vary")
        t_req = np.asarray(times_s, float)
        if t_req.size == 0 or np.any(~np.isfinite(t_req)) or np.any(t_req < 0):
            raise UserError("times_s must be finite, >= 0 and non-empty")
        from spinsim.powder import make_powder

        pw = dict(powder) if powder is not None else spec_powder(sp.raw)
        sp.powder = make_powder(pw["scheme"], int(pw["n"]), int(pw["n_gamma"]))
        cycle = (1.0 / sp.mas_rate) if isinstance(sp.recoupling, str) else sp.recoupling.duration
        t_max = max(float(t_req.max()), 3 * 2 * cycle)
        if coupling_grid_hz is None:
            d0 = sp.system.dipolar[0].d_hz
            lo, hi = coupling_range_hz or (max(d0 / 5, 20.0), max(5 * d0, 100.0))
            grid = (np.geomspace(lo, hi, int(n_couplings)) if n_couplings
                    else node_couplings(lo, hi, spacing))
        else:
            grid = np.asarray(coupling_grid_hz, float)
        if np.any(grid <= 0):
            raise UserError("coupling grid values must be > 0 Hz")
        lam_max = grid[-1] * t_max
        t0 = time.perf_counter()
        times, rows, n_sim = [], [], 0
        with tracking(_node_progress(progress), len(grid), "SimulatedShape nodes", "nodes") as p:
            for k, d in enumerate(grid):
                n_max = int(math.ceil(lam_max / (d * 2 * cycle) - 1e-9))
                t_node = 2 * cycle * np.arange(max(n_max, 3) + 1)
                y, hit = node_curve(sp, pw, float(d), t_node, cache)
                n_sim += not hit
                times.append(t_node)
                rows.append(y)
                how = "cache" if hit else f"simulated, {len(t_node)} times"
                p.note(f"SimulatedShape: node D = {d:.1f} Hz ({k + 1}/{len(grid)}, {how})")
                p.advance(1)
        info = {"powder": pw, "nodes": len(grid), "nodes_simulated": n_sim,
                "build_s": time.perf_counter() - t0, "spacing_ln_d": spacing}
        desc = (f"spinsim {sp.source}: {len(grid)} nodes {grid[0]:.0f}-{grid[-1]:.0f} Hz, lambda-interpolated, "
                f"{info['powder']['scheme'].upper()} {info['powder']['n']} x {info['powder']['n_gamma']}")
        return cls(grid, times, rows, t_max, desc, info)


def spec_powder(raw):
    """The powder of a spec dict as ``{"scheme", "n", "n_gamma"}`` (:func:`spinsim.spec.powder_settings`),
    its refusal (a crystallite file) as a one-line user error."""
    from spinsim.spec import SpecError, powder_settings

    try:
        return powder_settings(raw)
    except SpecError as exc:
        raise UserError(f"{exc} (a table of simulated curves rebuilds its powder from them)") from None


def _node_progress(progress):
    """``progress`` for the node loop; True keeps the per-node lines on standard error."""
    from spinsim.progress import LineProgress

    return LineProgress(indent="") if progress is True else progress


def node_curve(sp, powder, coupling_hz, times_s, cache=True):
    """dS/S0 of spec ``sp`` (with its powder set to ``powder``, a dict) at ``coupling_hz`` on
    ``times_s`` (increasing, from 0), cached.

    A cached curve with at least these times serves; otherwise the curve is simulated and stored.

    Returns
    -------
    (ndarray, bool)
        The curve on ``times_s`` and whether it came from the cache.
    """
    from spinsim.powder import make_powder

    from . import simcache

    sp.powder = make_powder(powder["scheme"], int(powder["n"]), int(powder["n_gamma"]))  # the key's powder
    key = simcache.table_key(sp.raw, kind="node", coupling_hz=float(coupling_hz), powder=powder,
                             cycle_s=float(times_s[1] - times_s[0]) if len(times_s) > 1 else 0.0)
    if cache:
        got = simcache.load(key)
        if got is not None:
            arrays, _ = got
            t_c, y_c = arrays["t_s"], arrays["dSS0"]
            if len(t_c) >= len(times_s) and np.allclose(t_c[: len(times_s)], times_s, rtol=1e-9, atol=1e-15):
                return y_c[: len(times_s)], True
    t0 = time.perf_counter()
    r = sp.run(coupling_hz=coupling_hz, times_s=times_s)
    if cache:
        simcache.save(key, {"t_s": np.asarray(times_s, float), "dSS0": r.dSS0, "S0": r.S0, "S1": r.S1},
                      {"description": f"node {sp.source} D = {coupling_hz:.3f} Hz, {len(times_s)} times",
                       "wall_s": time.perf_counter() - t0})
    return r.dSS0, False
