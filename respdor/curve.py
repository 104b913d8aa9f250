"""The measured dephasing curve: times, dS/S0 and, when known, the S0 and S1 signals and their noise."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import UserError

__all__ = ["DephasingCurve", "ratio_uncertainty"]


def ratio_uncertainty(s0, s1, sigma_s0, sigma_s1):
    """Standard deviation of dS/S0 = 1 - S1/S0 from independent noise on S0 and S1.

    First-order propagation: var = (S1/S0)^2 [(sigma_S1/S1)^2 + (sigma_S0/S0)^2], written so that
    it stays finite at S1 = 0.

    Parameters
    ----------
    s0, s1 : array_like
        Reference (no dephasing pulses) and dephased signal intensities (any unit, same for both).
    sigma_s0, sigma_s1 : array_like
        Standard deviations of the noise on S0 and S1, same unit.

    Returns
    -------
    ndarray
        sigma(dS/S0), dimensionless.
    """
    s0 = np.asarray(s0, float)
    s1 = np.asarray(s1, float)
    # hypot, not sqrt of squares: noise near 1e300 must not overflow to inf.
    return np.hypot(np.asarray(sigma_s1, float), (s1 / s0) * np.asarray(sigma_s0, float)) / np.abs(s0)


@dataclass
class DephasingCurve:
    """A REDOR / RESPDOR dephasing curve.

    Attributes
    ----------
    time_s : ndarray
        Total recoupling time t_rec = N * T_r of each point, in s.
    dss0 : ndarray
        Normalised dephasing dS/S0 = (S0 - S1)/S0, dimensionless.
    sigma : ndarray or None
        Standard deviation of dS/S0 at each point, or None when the file gave none.
    s0, s1 : ndarray or None
        Reference and dephased signals when they were given (then dss0 and sigma were derived
        from them).
    sigma_s0, sigma_s1 : ndarray or None
        Noise standard deviations of s0 and s1 when given.
    source : str
        Where the curve came from (file path, or a description).
    notes : list of str
        What the reader assumed (time unit, column meaning); shown to the user.
    label : str
        Short name for tables and legends.
    metadata : dict
        What the file said about the experiment (``observe``, ``partner``: isotope symbols).
    """

    time_s: np.ndarray
    dss0: np.ndarray
    sigma: np.ndarray | None = None
    s0: np.ndarray | None = None
    s1: np.ndarray | None = None
    sigma_s0: np.ndarray | None = None
    sigma_s1: np.ndarray | None = None
    source: str = ""
    notes: list[str] = field(default_factory=list)
    label: str = ""
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.time_s = np.asarray(self.time_s, dtype=float)
        self.dss0 = np.asarray(self.dss0, dtype=float)
        where = self.source or "curve"
        if self.time_s.ndim != 1 or self.time_s.shape != self.dss0.shape:
            raise UserError(f"{where}: time and dS/S0 must be 1-D arrays of equal length")
        if self.time_s.size == 0:
            raise UserError(f"{where}: the curve has no points")
        if not np.all(np.isfinite(self.time_s)) or np.any(self.time_s < 0):
            raise UserError(f"{where}: recoupling times must be finite and >= 0")
        if not np.all(np.isfinite(self.dss0)):
            raise UserError(f"{where}: dS/S0 values must be finite")
        if np.any(np.abs(self.dss0) > 10.0):
            k = int(np.argmax(np.abs(self.dss0)))
            raise UserError(f"{where}: dS/S0 = {self.dss0[k]:g} at point {k + 1} is not a normalised dephasing "
                            "(expected about 0 to 1)")
        if np.any(self.time_s > 10.0):
            raise UserError(f"{where}: a recoupling time of {self.time_s.max():g} s is beyond any echo's lifetime: "
                            "times must be in s")
        for name in ("sigma", "s0", "s1", "sigma_s0", "sigma_s1"):
            value = getattr(self, name)
            if value is not None:
                value = np.asarray(value, dtype=float)
                if value.shape != self.time_s.shape:
                    raise UserError(f"{where}: column {name} has {value.size} values for {self.time_s.size} times")
                setattr(self, name, value)
        if self.sigma is not None and (np.any(~np.isfinite(self.sigma)) or np.any(self.sigma <= 0)):
            raise UserError(f"{where}: uncertainties of dS/S0 must be positive and finite")
        if not self.label:
            self.label = self.source.rsplit("/", 1)[-1] if self.source else "curve"

    @classmethod
    def from_signals(cls, time_s, s0, s1, sigma_s0=None, sigma_s1=None, **kwargs):
        """Build a curve from S0 and S1; dS/S0 and (if the noise is given) its sigma are derived.

        Parameters
        ----------
        time_s : array_like
            Recoupling times in s.
        s0, s1 : array_like
            Reference and dephased intensities.
        sigma_s0, sigma_s1 : array_like or None
            Noise standard deviations of S0 and S1 (same unit). If only one is given it is used
            for both.
        """
        s0 = np.asarray(s0, float)
        s1 = np.asarray(s1, float)
        if np.any(s0 <= 0):
            where = kwargs.get("source") or "curve"
            bad = int(np.flatnonzero(s0 <= 0)[0])
            raise UserError(f"{where}: S0 must be positive, got {s0[bad]!r} at point {bad + 1}")
        if sigma_s0 is None and sigma_s1 is not None:
            sigma_s0 = sigma_s1
        if sigma_s1 is None and sigma_s0 is not None:
            sigma_s1 = sigma_s0
        sigma = None
        if sigma_s0 is not None:
            sigma_s0 = np.broadcast_to(np.asarray(sigma_s0, float), s0.shape).copy()
            sigma_s1 = np.broadcast_to(np.asarray(sigma_s1, float), s0.shape).copy()
            sigma = ratio_uncertainty(s0, s1, sigma_s0, sigma_s1)
        return cls(
            time_s=time_s,
            dss0=1.0 - s1 / s0,
            sigma=sigma,
            s0=s0,
            s1=s1,
            sigma_s0=sigma_s0,
            sigma_s1=sigma_s1,
            **kwargs,
        )

    @property
    def n_points(self) -> int:
        """Number of recoupling times."""
        return int(self.time_s.size)

    @property
    def has_signals(self) -> bool:
        """True when S0 and S1 with their noise are known (a joint S0/S1 fit is possible)."""
        return self.s0 is not None and self.s1 is not None and self.sigma_s0 is not None

    def sorted(self) -> "DephasingCurve":
        """A copy with the points in increasing time."""
        order = np.argsort(self.time_s, kind="stable")

        def pick(a):
            return None if a is None else a[order]

        return DephasingCurve(
            time_s=self.time_s[order],
            dss0=self.dss0[order],
            sigma=pick(self.sigma),
            s0=pick(self.s0),
            s1=pick(self.s1),
            sigma_s0=pick(self.sigma_s0),
            sigma_s1=pick(self.sigma_s1),
            source=self.source,
            notes=list(self.notes),
            label=self.label,
            metadata=dict(self.metadata),
        )
