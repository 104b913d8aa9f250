"""Simulated dephasing curves as fitting models: a table over the dipolar coupling D, interpolated.

:class:`SimulatedShape` runs the exact spin-dynamics engine (:mod:`spinsim`) for a spec (spin
system + sequence) on a log-spaced grid of D values, and is then a callable
``shape(t_s, coupling_hz) -> dS/S0`` (bonded fraction 1) that a fitter can use in place of the
analytical curve. The simulation itself is imported lazily: building a table compiles the numba
kernels, importing this module does not.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline

from .errors import UserError

__all__ = ["SimulatedShape"]


class SimulatedShape:
    """Table of simulated dS/S0(t, D), cubic-spline interpolated in log D and in t.

    Parameters
    ----------
    times_s : ndarray
        Tabulated recoupling times (s), increasing, as the sequence allows (t = 2 n T_cycle).
    coupling_grid_hz : ndarray
        Tabulated D values (Hz), increasing.
    table : ndarray, shape (n_D, n_t)
        dS/S0 for each D and time.
    description : str
        What was simulated (for reports).

    Notes
    -----
    The spec's first dipolar coupling (the S-I pair being fitted) is the variable; every other
    parameter (CQ, rf, MAS, powder, other couplings) is fixed at the spec's values.
    """

    def __init__(self, times_s, coupling_grid_hz, table, description=""):
        self.times_s = np.asarray(times_s, float)
        self.coupling_grid_hz = np.asarray(coupling_grid_hz, float)
        self.table = np.asarray(table, float)
        self.description = description
        if self.table.shape != (len(self.coupling_grid_hz), len(self.times_s)):
            raise ValueError("table must have shape (n_couplings, n_times)")
        if len(self.coupling_grid_hz) < 4 or np.any(np.diff(self.coupling_grid_hz) <= 0):
            raise ValueError("the coupling grid needs at least 4 increasing values")
        self._spline_d = CubicSpline(np.log(self.coupling_grid_hz), self.table, axis=0)

    @property
    def coupling_range_hz(self):
        """(D_min, D_max) in Hz: the fitter should bound D to this range."""
        return float(self.coupling_grid_hz[0]), float(self.coupling_grid_hz[-1])

    @classmethod
    def from_spec(cls, spec, times_s, coupling_grid_hz=None, progress=False, n_couplings=40):
        """Tabulate a spec (path, dict or :class:`spinsim.spec.Spec`) over D.

        Parameters
        ----------
        spec : str, Path, dict or Spec
            Simulation spec (see docs/simulation.md); its first [[dipolar]] entry is varied.
        times_s : array_like
            Times (s) the curve will be evaluated at. The table is simulated on every time the
            sequence allows (t = 2 n T_cycle) up to max(times_s), and interpolated in between.
        coupling_grid_hz : array_like, optional
            D values (Hz). Default: ``n_couplings`` log-spaced values from D0/5 to 5 D0 (D0 =
            the spec's coupling), at least 20 Hz.
        progress : bool
            Print one line per coupling to stderr.
        """
        import sys

        from spinsim.spec import SpecError, load_spec

        try:
            sp = load_spec(spec)
        except SpecError as exc:
            raise UserError(str(exc)) from None
        if not sp.system.dipolar:
            raise UserError("the spec has no [[dipolar]] coupling to vary")
        t_req = np.asarray(times_s, float)
        if t_req.size == 0 or np.any(~np.isfinite(t_req)) or np.any(t_req < 0):
            raise UserError("times_s must be finite, >= 0 and non-empty")
        cycle = (1.0 / sp.mas_rate) if isinstance(sp.recoupling, str) else sp.recoupling.duration
        n_max = int(np.ceil(t_req.max() / (2 * cycle) - 1e-9))
        grid_t = 2 * cycle * np.arange(max(n_max, 3) + 1)
        if coupling_grid_hz is None:
            d0 = sp.system.dipolar[0].d_hz
            coupling_grid_hz = np.geomspace(max(d0 / 5, 20.0), max(5 * d0, 100.0), int(n_couplings))
        grid_d = np.asarray(coupling_grid_hz, float)
        if np.any(grid_d <= 0):
            raise UserError("coupling grid values must be > 0 Hz")
        rows = []
        for k, d in enumerate(grid_d):
            rows.append(sp.run(coupling_hz=float(d), times_s=grid_t).dSS0)
            if progress:
                print(f"SimulatedShape: D = {d:.1f} Hz ({k + 1}/{len(grid_d)})", file=sys.stderr)
        desc = f"spinsim table of {sp.source}: {len(grid_d)} couplings {grid_d[0]:.0f}-{grid_d[-1]:.0f} Hz"
        return cls(grid_t, grid_d, np.array(rows), desc)

    def __call__(self, t_s, coupling_hz):
        """dS/S0 at times ``t_s`` (s) for coupling ``coupling_hz`` (Hz), bonded fraction 1."""
        d = float(coupling_hz)
        lo, hi = self.coupling_range_hz
        if not (lo * (1 - 1e-12) <= d <= hi * (1 + 1e-12)):
            raise ValueError(f"coupling {d:g} Hz is outside the simulated table ({lo:g}-{hi:g} Hz)")
        row = self._spline_d(np.log(d))
        t = np.asarray(t_s, float)
        if np.any(t < self.times_s[0] - 1e-12) or np.any(t > self.times_s[-1] * (1 + 1e-9)):
            raise ValueError(
                f"times outside the simulated table (0-{1e3 * self.times_s[-1]:g} ms)"
            )
        return CubicSpline(self.times_s, row)(t)
