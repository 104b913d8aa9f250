"""The measured dephasing curve: times, dS/S0 and, when known, the S0 and S1 signals and their noise."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from spinsim.plausibility import RANGES as _RANGES

from .errors import UserError

__all__ = ["DephasingCurve", "ratio_uncertainty", "time_axis_warnings", "check_recoupling_times",
           "refuse_repeated_curves", "looks_like_counts", "rotor_count_warning", "MAX_RECOUPLING_S", "MIN_RECOUPLING_S",
           "LONG_RECOUPLING_S", "COUNT_SUSPECT_S"]

#: Longest total recoupling time accepted (s), from spinsim's one table of ranges. The echo decays
#: under rotor-synchronised pulses with T2' of a few to some tens of ms; long-distance REDOR curves
#: stop near 100 ms. Beyond 1 s (10^4 rotor periods at 10 kHz) no echo is left: the unit is wrong.
MAX_RECOUPLING_S = _RANGES["recoupling_time"].hi
#: Longer recoupling is accepted with a warning: beyond what REDOR/RESPDOR curves usually reach.
LONG_RECOUPLING_S = 0.1
#: Shortest non-zero recoupling time accepted (s): one rotor period at the highest MAS rate of the
#: table (200 kHz, faster than any probe spins). A shorter time cannot be a recoupling time.
MIN_RECOUPLING_S = 1.0 / _RANGES["mas_rate"].hi

#: A time column of whole numbers, evenly stepped, that reaches this long (s) in its stated unit is
#: likely a column of rotor-period counts (2, 4, ... 64 at 10 kHz MAS is 0.2-6.4 ms, read as 2-64 ms):
#: a 13C{27Al} or 31P{27Al} pair closer than 5 A dephases fully within 20 ms, so whole-ms
#: curves that go further are rare, while count columns routinely reach 20-200 periods.
COUNT_SUSPECT_S = 0.02

#: Time units, largest first, for the advice "did you mean ...?".
_UNITS = (("s", 1.0), ("ms", 1e-3), ("us", 1e-6))


def _in_unit(t_s, unit):
    scale = dict(_UNITS).get(unit, 1.0)
    return f"{t_s / scale:.4g} {unit or 's'}"


def _other_unit(unit, step):
    """The unit ``step`` places along (s, ms, us) from ``unit`` (+1: a 1000x smaller one), or None."""
    names = [u for u, _ in _UNITS]
    k = names.index(unit) + step if unit in names else None
    return names[k] if k is not None and 0 <= k < len(names) else None


def _unit_advice(unit, source, step):
    said = f" ({source})" if source else ""
    if not unit:
        return f"check the times{said}" if source else "wrong time unit? times must be given in s"
    other = _other_unit(unit, step)
    return f"wrong time unit? did you mean {other}{said}?" if other else f"check the time column{said}"


def check_recoupling_times(time_s, where, unit="", source=""):
    """Refuse recoupling times no experiment has, naming the likely unit mistake.

    Parameters
    ----------
    time_s : ndarray
        Recoupling times in s (finite, >= 0).
    where : str
        File or description, for the message.
    unit, source : str
        Unit the times were given in and where it came from (see :class:`DephasingCurve`).

    Raises
    ------
    UserError
        A time above :data:`MAX_RECOUPLING_S`, or a non-zero one below :data:`MIN_RECOUPLING_S`.
    """
    t_max = float(np.max(time_s))
    if t_max > MAX_RECOUPLING_S:
        raise UserError(f"{where}: recoupling times reach {_in_unit(t_max, unit)}, longer than any echo lasts under "
                        f"recoupling (> {MAX_RECOUPLING_S:g} s): {_unit_advice(unit, source, +1)}")
    nonzero = time_s[time_s > 0]
    if nonzero.size and nonzero.min() < MIN_RECOUPLING_S:
        t = float(nonzero.min())
        raise UserError(f"{where}: a recoupling time of {_in_unit(t, unit)} is shorter than one rotor period at any "
                        f"MAS rate (< {MIN_RECOUPLING_S * 1e6:g} us): {_unit_advice(unit, source, -1)}")


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
    time_unit : str
        Unit the times were given in ("s", "ms", "us"; "" when built from seconds directly).
    time_unit_source : str
        Where that unit came from, for messages (e.g. "the header says t_ms").

    Recoupling times must be 0 or lie between :data:`MIN_RECOUPLING_S` (one rotor period at a
    MAS rate beyond any probe) and :data:`MAX_RECOUPLING_S` (beyond any echo's lifetime under
    recoupling); otherwise the unit is wrong and :class:`UserError` names the likely one.
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
    time_unit: str = ""
    time_unit_source: str = ""

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
        check_recoupling_times(self.time_s, where, self.time_unit, self.time_unit_source)
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
            time_unit=self.time_unit,
            time_unit_source=self.time_unit_source,
        )


def time_axis_warnings(curve) -> list:
    """One-line warnings for a time axis that is possible but unusual (see :data:`LONG_RECOUPLING_S`).

    Parameters
    ----------
    curve : DephasingCurve

    Returns
    -------
    list of str
    """
    warns = []
    counts = rotor_count_warning(curve)
    if counts:
        warns.append(counts)
    t_max = float(np.max(curve.time_s))
    if t_max <= LONG_RECOUPLING_S:
        return warns
    return warns + [
        f"{curve.label}: recoupling times reach {_in_unit(t_max, curve.time_unit)}, longer than REDOR/RESPDOR "
            f"curves usually reach (about {LONG_RECOUPLING_S * 1e3:g} ms, the echo's lifetime under recoupling); "
            f"if the unit is wrong, r is off by a factor 10 per factor 1000 in time: "
            f"{_unit_advice(curve.time_unit, curve.time_unit_source, +1)}"]


def looks_like_counts(curve):
    """(step, largest) in the curve's unit when its times look like rotor-period counts, else None.

    The signs: a unit was stated (the times are not rotor periods already), every time is a whole
    number in that unit, the non-zero times are evenly stepped by a whole number (as a count
    column of a REDOR/RESPDOR experiment is), there are at least three of them, and the largest
    reaches :data:`COUNT_SUSPECT_S`.
    """
    scale = dict(_UNITS).get(curve.time_unit)
    if scale is None or not curve.time_unit:
        return None
    values = np.unique(curve.time_s / scale)
    nonzero = values[values > 0]
    if nonzero.size < 3 or not np.allclose(values, np.round(values), rtol=0, atol=1e-9 * max(1.0, values.max())):
        return None
    steps = np.diff(np.round(np.concatenate(([0.0], nonzero))))
    step = float(steps[-1])
    if not (np.all(steps[1:] == step) and steps[0] % step == 0) or nonzero.max() * scale < COUNT_SUSPECT_S:
        return None
    return step, float(nonzero.max())


def rotor_count_warning(curve, mas_rate_hz=None):
    """One line when the time column looks like rotor-period counts read in a time unit, else ''.

    Parameters
    ----------
    curve : DephasingCurve
    mas_rate_hz : float, optional
        A MAS rate the caller was given (then the line says what the counts would mean at it).

    Returns
    -------
    str
    """
    found = looks_like_counts(curve)
    if found is None:
        return ""
    step, largest = found
    unit = curve.time_unit
    mas = mas_rate_hz or 10e3
    said = f" ({curve.time_unit_source})" if curve.time_unit_source else ""
    return (f"{curve.label}: every time is a whole number of {unit}, evenly stepped by {step:g}, up to "
            f"{largest:g} {unit}{said}: does the column count rotor periods? then name it n_rotor and give "
            f"mas_rate_hz ({largest:g} periods at {mas / 1e3:g} kHz MAS = {_in_unit(largest / mas, 'ms')}, not "
            f"{largest:g} {unit}; r scales with the cube root of the time)")


def refuse_repeated_curves(curves):
    """Refuse a global fit that contains the same data twice.

    Two curves with the same times, dS/S0 and uncertainties (same file, or a copy of it) would
    be counted twice: chi^2 doubles and every error shrinks by sqrt(2) with no new information.
    The same holds within one curve: a point repeated exactly (time, dS/S0 and uncertainty, or S0
    and S1) is a copied line, not a repeated measurement (whose noise would differ).

    Raises
    ------
    UserError
        Naming both curves.
    """
    def same(a, b):  # equal to rounding: the same file written in another time unit is the same data
        pairs = [(a.time_s, b.time_s), (a.dss0, b.dss0), (a.sigma, b.sigma)]
        if (a.sigma is None) != (b.sigma is None) or a.n_points != b.n_points:
            return False
        return all(x is None or np.allclose(x, y, rtol=1e-9, atol=1e-15) for x, y in pairs)

    for c in curves:
        _refuse_repeated_points(c)
    for k, b in enumerate(curves):
        first = next((j for j in range(k) if same(curves[j], b)), None)
        if first is not None:
            a = curves[first]
            names = (f"{a.source or a.label} (curve {first})", f"{b.source or b.label} (curve {k})")
            raise UserError(f"{names[0]} and {names[1]} hold the same data points: a global fit would count them "
                            "twice and shrink every error by sqrt(2); give each curve once")


def _refuse_repeated_points(curve):
    """Refuse a curve in which one point appears twice, exactly (a copied line or pasted block)."""
    cols = [curve.time_s, curve.dss0] + [a for a in (curve.sigma, curve.s0, curve.s1) if a is not None]
    rows = np.column_stack(cols)
    _, first, counts = np.unique(rows, axis=0, return_index=True, return_counts=True)
    if np.all(counts == 1):
        return
    k = int(first[np.argmax(counts > 1)])
    n_rep = int(np.sum(counts[counts > 1] - 1))
    raise UserError(f"{curve.source or curve.label}: the point at t = {_in_unit(curve.time_s[k], curve.time_unit)} "
                    f"(dS/S0 = {curve.dss0[k]:.6g}) appears more than once, exactly ({n_rep} repeated point(s) in "
                    "all): a copied line would be counted twice and shrink the errors; remove the copies (a "
                    "real repeat measurement has its own noise)")
