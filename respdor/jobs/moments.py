"""``respdor.fit_m2``: the heteronuclear second moment M2 from the initial rise of a dephasing curve.

What ``respdor m2`` does, for scripts and notebooks: read the curve, keep the points in the parabolic
regime of the experiment (:func:`respdor.moments.parabolic_limit`), fit dS/S0 = C M2 t^2 through the
origin weighted by the curve's errors, and say what limits the answer (errors unknown, the t^4 term,
data that bend away from t^2, the fraction assumed). M2 is in rad^2 s^-2 (:data:`respdor.moments.M2_UNIT`).
Nothing is printed or written; every warning is a :class:`respdor.errors.RespdorWarning` also kept
in ``M2Result.warnings``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..display import ResultDisplay, axes_or_new
from ..errors import DataWarning, FitWarning, UserError, warn

__all__ = ["fit_m2", "M2Result", "MIN_POINTS", "CURVATURE_Z"]

#: Fewest points (t > 0) in the parabolic regime from which an M2 is fitted.
MIN_POINTS = 3
#: Significance (standard errors) at which the curvature test says the data bend away from t^2.
CURVATURE_Z = 3.0


@dataclass(repr=False)
class M2Result(ResultDisplay):
    """The second moment fitted from the initial rise of one curve (:func:`fit_m2`).

    Attributes
    ----------
    source, observe, partner, experiment, transfer, sequence : str
        The curve and how it was measured.
    scaling, fraction : float
        kappa of the recoupling sequence; the amplitude f (bonded fraction x saturation efficiency).
    m2, m2_stderr : float
        M2 of the t^2 fit and its (statistical) standard error, rad^2 s^-2. It reads low: the
        curve falls below t^2 by the t^4 term within the regime.
    bias_low, bias_bound : float
        The relative low bias of ``m2`` if the curve fell below t^2 as the curve of one partner
        and as the Gaussian many-partner limit do, at the points used: the smaller and the larger.
    m2_corrected, m2_corrected_stderr : float
        ``m2`` divided by 1 - bias, the bias taken in the middle of its range, and its standard
        error with the half-width of that range added in quadrature (rad^2 s^-2).
    sigma_known : bool
        True when the curve's errors weighted the fit and set the standard error; False when the
        scatter about the parabola did.
    prefactor : float
        C in dS/S0 = C M2 t^2 (s^-2 per rad^2 s^-2, i.e. dimensionless C M2 t^2).
    effective_coupling_hz, effective_distance_angstrom, effective_distance_stderr : float
        The one partner with the corrected M2 (D in Hz, r in angstrom) and r's standard error.
    regime : dict
        The largest dS/S0 of the curve at a point used (``cap``), what set it, the tolerance, the
        largest time used (``t_max_s``), :func:`respdor.moments.parabolic_limit`'s numbers.
    t_s, dss0, sigma, used : ndarray
        Every point of the curve; ``used`` marks those fitted.
    excluded : list of dict
        ``t_s``, ``dss0`` and ``reason`` of each point left out.
    chi2, dof, p_value : float, int, float or None
        Of the parabola (p-value only with known errors).
    curvature : dict or None
        Relative shortfall of the data below t^2 at the last point used (``shortfall``,
        ``stderr``) from a t^2 + t^4 fit, when enough points.
    notes, warnings : list of str
    """

    source: str
    observe: str
    partner: str
    experiment: str
    transfer: str
    sequence: str
    scaling: float
    fraction: float
    m2: float
    m2_stderr: float
    sigma_known: bool
    prefactor: float
    effective_coupling_hz: float
    effective_distance_angstrom: float
    effective_distance_stderr: float
    regime: dict
    t_s: np.ndarray
    dss0: np.ndarray
    sigma: np.ndarray | None
    used: np.ndarray
    excluded: list
    chi2: float
    dof: int
    p_value: float | None
    curvature: dict | None
    bias_low: float
    bias_bound: float
    m2_corrected: float
    m2_corrected_stderr: float
    notes: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @property
    def n_used(self) -> int:
        """Number of points fitted."""
        return int(np.count_nonzero(self.used))

    def _title(self):
        return f"M2 of {self.observe}{{{self.partner}}} {self.experiment.upper()}, {self.n_used} points"

    def _headline(self):
        return (f"M2 = {self.m2 / 1e6:.4g} +- {self.m2_stderr / 1e6:.2g} (t^2 fit), corrected "
                f"{self.m2_corrected / 1e6:.4g} +- {self.m2_corrected_stderr / 1e6:.2g} x 1e6 rad^2/s^2, "
                f"r_eff = {self.effective_distance_angstrom:.3f} A (f = {self.fraction:g})")

    def _rows(self):
        rel = self.m2_corrected_stderr / self.m2_corrected if self.m2_corrected > 0 else None
        return [{"name": "m2", "value": self.m2, "stderr": self.m2_stderr, "unit": "rad^2 s^-2"},
                {"name": "m2_corrected", "value": self.m2_corrected, "stderr": self.m2_corrected_stderr,
                 "unit": "rad^2 s^-2"},
                {"name": "effective_coupling_hz", "value": self.effective_coupling_hz,
                 "stderr": None if rel is None else self.effective_coupling_hz * rel / 2, "unit": "Hz"},
                {"name": "effective_distance_angstrom", "value": self.effective_distance_angstrom,
                 "stderr": self.effective_distance_stderr, "unit": "angstrom"}]

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in _SCALARS}
        out.update(t_s=list(self.t_s), dSS0=list(self.dss0), sigma=None if self.sigma is None else list(self.sigma),
                   used=[bool(u) for u in self.used], regime=self.regime, excluded=self.excluded,
                   curvature=self.curvature, notes=list(self.notes), warnings=list(self.warnings), m2_unit="rad^2 s^-2")
        return out

    @classmethod
    def from_dict(cls, data: dict):
        try:
            values = {k: data[k] for k in _SCALARS}
            values["effective_distance_angstrom"] = _finite_or_inf(values["effective_distance_angstrom"])
            sigma = data.get("sigma")
            return cls(**values, regime=data["regime"], t_s=np.asarray(data["t_s"], float),
                       dss0=np.asarray(data["dSS0"], float), sigma=None if sigma is None else np.asarray(sigma, float),
                       used=np.asarray(data["used"], bool), excluded=list(data["excluded"]),
                       curvature=data.get("curvature"), notes=list(data.get("notes", [])),
                       warnings=list(data.get("warnings", [])))
        except KeyError as exc:
            raise UserError(f"not the JSON of an M2 fit: no {exc.args[0]!r}") from None

    def plot(self, ax=None):
        """The points (used filled, excluded open) and the fitted t^2 law on ``ax`` (time in ms)."""
        ax = axes_or_new(ax, (5.5, 4.0))
        t_ms, used = 1e3 * self.t_s, self.used
        yerr = None if self.sigma is None else self.sigma[used]
        ax.errorbar(t_ms[used], self.dss0[used], yerr=yerr, fmt="ko", ms=4, label="used")
        if np.any(~used):
            ax.plot(t_ms[~used], self.dss0[~used], "o", mfc="none", mec="0.5", ms=4, label="excluded")
        t = np.linspace(0.0, max(float(self.regime.get("t_max_s") or 0.0) * 1.3, 1e-12), 100)
        ax.plot(1e3 * t, self.prefactor * self.m2 * t**2, "-", color="C1",
                label=f"C M2 t^2, M2 = {self.m2 / 1e6:.3g}e6 rad^2/s^2")
        ax.set_xlabel("recoupling time (ms)")
        ax.set_ylabel("dS/S0")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        return ax

    def report_lines(self) -> list[str]:
        """What the command prints, one line each (without the warnings)."""
        return _report_lines(self)


_SCALARS = ("source", "observe", "partner", "experiment", "transfer", "sequence", "scaling", "fraction", "m2",
            "m2_stderr", "sigma_known", "prefactor", "effective_coupling_hz", "effective_distance_angstrom",
            "effective_distance_stderr", "chi2", "dof", "p_value", "bias_low", "bias_bound", "m2_corrected",
            "m2_corrected_stderr")


def _finite_or_inf(value):
    return math.inf if value is None else float(value)


def _report_lines(r: M2Result) -> list[str]:
    lines = [f"M2 from the initial rise: {r.source} ({r.observe}{{{r.partner}}} {r.experiment}, transfer {r.transfer}, "
             f"sequence {r.sequence})",
             f"  dS/S0 = C M2 t^2 with C = {r.prefactor:.6g} (f = {r.fraction:g}, kappa = {r.scaling:.4g})",
             f"  M2 (t^2 fit) = {r.m2:.5g} +- {r.m2_stderr:.2g} rad^2/s^2 ({r.m2 / 1e6:.4g} x 1e6; "
             f"{r.m2 / (2 * math.pi) ** 2:.4g} Hz^2)",
             f"  the t^4 term makes it read low by {100 * r.bias_low:.1f} to {100 * r.bias_bound:.1f} % at these "
             f"points (as the curves of one partner and of many do): corrected M2 = {r.m2_corrected:.5g} +- "
             f"{r.m2_corrected_stderr:.2g} "
             "rad^2/s^2 (that range included)",
             f"  D_eff = {r.effective_coupling_hz:.4g} Hz, r_eff = {r.effective_distance_angstrom:.4g} "
             f"+- {r.effective_distance_stderr:.2g} A (the one partner with the corrected M2)",
             f"  points used: {r.n_used} (t <= {1e3 * r.regime['t_max_s']:.4g} ms; dS/S0 <= {r.regime['cap']:.3g},"
             f" {r.regime['set_by']}); excluded: {len(r.excluded)}"]
    if r.p_value is not None:
        lines.append(f"  chi^2 = {r.chi2:.3g} for {r.dof} degrees of freedom (p = {r.p_value:.3g})")
    if r.curvature is not None:
        c = r.curvature
        side = "below" if c["shortfall"] >= 0 else "above"
        lines.append(f"  curvature: the data lie {100 * abs(c['shortfall']):.1f} +- {100 * c['stderr']:.1f} % {side} "
                     "t^2 at the last point used (t^2 + t^4 fit)")
    lines += _excluded_lines(r.excluded)
    lines += [f"  note: {n}" for n in r.notes]
    return lines


def _excluded_lines(excluded, shown=3):
    """The excluded points: those at t = 0 in one line, the first few beyond the regime, then a count."""
    zero = [e for e in excluded if e["t_s"] <= 0]
    beyond = [e for e in excluded if e["t_s"] > 0]
    lines = [f"  excluded {len(zero)} point(s) at t = 0: no dephasing to measure"] if zero else []
    for e in beyond[:shown]:
        lines.append(f"  excluded t = {1e3 * e['t_s']:.4g} ms (dS/S0 = {e['dss0']:.4g}): {e['reason']}")
    if len(beyond) > shown:
        rest = beyond[shown:]
        lines.append(f"  excluded {len(rest)} more point(s), t = {1e3 * rest[0]['t_s']:.4g} to "
                     f"{1e3 * rest[-1]['t_s']:.4g} ms, likewise")
    return lines


def fit_m2(curve, observe=None, partner=None, *, experiment="respdor", transfer=None, sequence="redor",
           pulse_length_s=None, mas_rate_hz=None, fraction=None, max_dephasing=None, tolerance=0.1,
           time_unit=None) -> M2Result:
    """The heteronuclear second moment M2 (rad^2 s^-2) from the initial rise of one dephasing curve.

    The points in the parabolic regime are fitted with dS/S0 = C M2 t^2 through the origin,
    C = f kappa^2 <dm^2>/(pi^2 I(I+1)) (:func:`respdor.moments.initial_rise_prefactor`:
    4/(3 pi^2) for REDOR, f 2/(3 pi^2) for RESPDOR with full saturation). The regime ends where
    the curve first exceeds the cap: f times the dephasing up to which the exact curves fall at
    most ``tolerance`` below their t^2 law (:func:`respdor.moments.parabolic_limit`), or
    ``max_dephasing`` when it is smaller. The curve is judged smoothed by a t^2 + t^4 fit of the
    points used, not point by point (noise must not choose the points), iterating until the set
    is stable.

    Parameters
    ----------
    curve : path or DephasingCurve
        The curve (:func:`respdor.read_curve`); its ``sigma`` weights the fit when known.
    observe, partner : str, optional
        Observed spin-1/2 and partner isotope; default: the file's ``# observe =`` / ``# partner =`` lines.
    experiment : {"respdor", "redor"}
        Saturation or pi pulses on the partner.
    transfer : str, optional
        Population transfer of the partner pulse (:data:`respdor.models.TRANSFER_KINDS`); default
        saturation for respdor, inversion for redor.
    sequence, pulse_length_s, mas_rate_hz : str, float, float
        Recoupling sequence on the observed spin (``"redor"``, ``"sr4"``, ``"redor-finite"``), and for
        redor-finite the pi-pulse length (s) and MAS rate (Hz); sets kappa.
    fraction : float, optional
        The amplitude f in (0, 1]: bonded fraction x saturation efficiency. Default 1 (said in the
        notes); M2 scales as 1/f.
    max_dephasing : float, optional
        Largest dS/S0 (of the smoothed curve) at a point used, in (0, 1]; the parabolic regime's
        bound applies too.
    tolerance : float
        Largest relative shortfall of the curve below its t^2 law accepted, in (0, 0.5].
    time_unit : str, optional
        Time unit of a file whose header does not state it.

    Returns
    -------
    M2Result

    Raises
    ------
    UserError
        A mistaken input, or fewer than :data:`MIN_POINTS` points in the parabolic regime (their
        number is said), or no rise at short times.

    Examples
    --------
    >>> import respdor  # doctest: +SKIP
    >>> r = respdor.fit_m2("curve.csv", "31P", "27Al", experiment="redor")  # doctest: +SKIP
    >>> r.m2, r.effective_distance_angstrom  # doctest: +SKIP
    """
    setup = _setup(curve, observe, partner, experiment, transfer, sequence, pulse_length_s, mas_rate_hz, fraction,
                   max_dephasing, tolerance, time_unit)
    c = setup["curve"]
    used, smooth, regime = _select(c.time_s, c.dss0, c.sigma, setup)
    result = _result(setup, used, smooth, regime)
    return result


def _result(setup, used, smooth, regime) -> M2Result:
    """The t^2 fit of the points used, its bias bracket and corrected M2, the curvature test, the judgement."""
    from .. import moments

    c = setup["curve"]
    t, y, s = c.time_s, c.dss0, c.sigma
    fit = _parabola(t[used], y[used], None if s is None else s[used])
    m2, se = fit["a"] / setup["prefactor"], fit["se"] / setup["prefactor"]
    notes, warnings = list(setup["notes"]), list(setup["warnings"])
    lo, hi = _bias_range(t[used], s, used, fit["a"], setup)
    # true M2 = m2 / (1 - bias), bias in [lo, hi]: the middle of that range, its half-width as an error
    ends = (m2 / (1.0 - lo), m2 / (1.0 - hi))
    corrected = 0.5 * (ends[0] + ends[1])
    corrected_se = math.hypot(se * corrected / m2, 0.5 * (ends[1] - ends[0])) if m2 > 0 else se
    r_eff = moments.effective_distance_angstrom(corrected, setup["observe"], setup["partner"])
    curvature = _curvature(t[used], y[used], None if s is None else s[used], regime["tolerance"], notes, warnings)
    result = M2Result(
        c.source or c.label, setup["observe"], setup["partner"], setup["experiment"], setup["transfer"],
        setup["sequence"], setup["scaling"], setup["fraction"], m2, se, s is not None, setup["prefactor"],
        moments.effective_coupling_hz(corrected, setup["partner"]), r_eff,
        r_eff * corrected_se / (6 * corrected) if corrected > 0 else math.inf,
        regime, t, y, s, used, _excluded(t, y, used, smooth, regime), fit["chi2"], fit["dof"], fit["p"], curvature,
        lo, hi, corrected, corrected_se, notes, warnings)
    _judge(result, fit)
    return result


def _setup(curve, observe, partner, experiment, transfer, sequence, pulse_length_s, mas_rate_hz, fraction,
           max_dephasing, tolerance, time_unit) -> dict:
    """The inputs checked, with the curve read, the nuclei settled and the prefactor and regime computed."""
    from .. import moments
    from ..models import TRANSFER_KINDS, recoupling_scaling

    notes, warnings = [], []
    c = _curve(curve, time_unit, mas_rate_hz)
    observe = _nucleus(c, observe, "observe")
    partner = _nucleus(c, partner, "partner")
    if experiment not in moments.EXPERIMENTS:
        raise UserError(f"experiment={experiment}: choose respdor or redor")
    transfer = transfer or moments.default_transfer(experiment)
    if transfer not in TRANSFER_KINDS:
        raise UserError(f"transfer={transfer}: choose one of {', '.join(TRANSFER_KINDS)}")
    spin = _spins(observe, partner)
    if transfer.startswith("ct-") and abs(spin - round(spin)) < 1e-9:
        raise UserError(f"transfer={transfer} needs a half-integer partner spin; {partner} has I = {spin:g}")
    try:
        rotor = None if mas_rate_hz is None else 1.0 / float(mas_rate_hz)
        scaling = recoupling_scaling(sequence, pulse_length_s, rotor)
    except ValueError as exc:
        raise UserError(f"sequence={sequence}: {exc}") from None
    if fraction is None:
        fraction = 1.0
        notes.append("fraction 1 assumed (every observed site dephased, complete saturation): M2 scales as "
                     "1/fraction; give the fraction when it is known")
    fraction = _in_range(fraction, "fraction", 0.0, 1.0)
    tolerance = _in_range(tolerance, "tolerance", 0.0, 0.5)
    if max_dephasing is not None:
        max_dephasing = _in_range(max_dephasing, "max_dephasing", 0.0, 1.0)
    _unused(c, sequence, mas_rate_hz, time_unit, warnings)
    return {"curve": c, "observe": observe, "partner": partner, "experiment": experiment, "transfer": transfer,
            "sequence": sequence, "scaling": scaling, "fraction": fraction, "tolerance": tolerance,
            "max_dephasing": max_dephasing, "notes": notes, "warnings": warnings,
            "prefactor": moments.initial_rise_prefactor(partner, transfer, scaling, fraction),
            "limit": moments.parabolic_limit(partner, transfer, tolerance)}


def _unused(curve, sequence, mas_rate_hz, time_unit, warnings):
    """Warnings for arguments given that change nothing (as respdor.fit says them)."""
    source = curve.time_unit_source or ""
    if mas_rate_hz is not None and sequence != "redor-finite" and "(mas_rate_hz)" not in source:
        warn(f"mas_rate_hz {float(mas_rate_hz):g} Hz has no effect: the curve gives its times in a unit "
             f"({source or 'seconds'}); "
             "the MAS rate is used only for a time column counting rotor periods and by sequence redor-finite",
             DataWarning, into=warnings, stacklevel=4)
    if time_unit is not None and "(time_unit)" not in source:
        warn(f"time_unit {time_unit} has no effect: the curve states its time unit ({source or 'seconds'})",
             DataWarning, into=warnings, stacklevel=4)


def _curve(curve, time_unit, mas_rate_hz):
    from ..curve import DephasingCurve

    if isinstance(curve, DephasingCurve):
        return curve.sorted()
    from ..io import read_curve

    return read_curve(curve, time_unit=time_unit, mas_rate_hz=mas_rate_hz)


def _nucleus(curve, given, key):
    """The argument, else the file's ``# observe = ...`` line; a contradiction is refused."""
    from spinsim.isotopes import get_isotope

    said = curve.metadata.get(key)
    if given is None:
        if said is None:
            raise UserError(f"{key}: not given, and {curve.source or 'the curve'} does not say it "
                            f"(a line '# {key} = ...'); give the isotope, e.g. {'13C' if key == 'observe' else '27Al'}")
        given = said
    try:
        symbol = get_isotope(str(given)).symbol
    except ValueError as exc:
        raise UserError(f"{key}={given}: {exc}") from None
    if said is not None and get_isotope(said).symbol != symbol:
        raise UserError(f"{key}={given} but {curve.source} says '# {key} = {said}': they contradict each other")
    return symbol


def _spins(observe, partner) -> float:
    from spinsim.isotopes import get_isotope

    from ..units import check_observed_spin_half

    check_observed_spin_half(observe)
    if get_isotope(observe).symbol == get_isotope(partner).symbol:
        raise UserError(f"partner={partner}: the same isotope as the observed spin; M2 here is heteronuclear")
    return float(get_isotope(partner).spin)


def _in_range(value, name, lo, hi) -> float:
    """``value`` as a float in (lo, hi]; refused naming ``name`` otherwise."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name}={value!r}: not a number") from None
    if not (math.isfinite(x) and lo < x <= hi):
        raise UserError(f"{name}={value:g}: must lie in ({lo:g}, {hi:g}]")
    return x


def _parabola(t, y, s):
    """Weighted least squares of y = a t^2 through the origin: a, its standard error, chi^2, dof, p.

    With measured errors the standard error is 1/sqrt(sum w t^4), unscaled, and chi^2 tests the
    law (respdor.profile's rule); without, the scatter about the law sets it (n - 1 dof).
    """
    from scipy import stats

    x = t**2
    w = np.ones_like(x) if s is None else 1.0 / s**2
    sxx = float(np.sum(w * x * x))
    a = float(np.sum(w * x * y)) / sxx
    chi2 = float(np.sum(w * (y - a * x) ** 2))
    dof = int(x.size - 1)
    if s is None:
        se = math.sqrt(chi2 / max(dof, 1) / sxx)
        p = None
    else:
        se = 1.0 / math.sqrt(sxx)
        p = float(stats.chi2.sf(chi2, dof)) if dof > 0 else None
    return {"a": a, "se": se, "chi2": chi2, "dof": dof, "p": p}


def _smooth(t, y, s, used):
    """The curve smoothed by a weighted t^2 (+ t^4 from 3 points) fit of the points ``used``, at every t."""
    x = t**2
    w = np.ones_like(x) if s is None else 1.0 / s**2
    cols = [x, x * x] if np.count_nonzero(used) >= 3 else [x]
    design = np.column_stack(cols)
    coef, *_ = np.linalg.lstsq(design[used] * np.sqrt(w[used])[:, None], y[used] * np.sqrt(w[used]), rcond=None)
    return design @ coef


def _prefix(t, values, cap):
    """Points t > 0 before the first one whose value exceeds ``cap`` (times in increasing order)."""
    over = np.flatnonzero((t > 0) & (values > cap))
    end = t[over[0]] if over.size else np.inf
    return (t > 0) & (t < end)


def _select(t, y, s, setup):
    """The points used: t > 0 before the curve first exceeds the cap, the curve being smoothed by a
    t^2 + t^4 fit of the points used (so that noise does not choose them); iterated to a stable set.

    Returns (used mask, smoothed curve at every t, regime dict)."""
    limit = setup["limit"]
    f = setup["fraction"]
    regime_cap = f * limit["dephasing"]
    cap = regime_cap if setup["max_dephasing"] is None else min(setup["max_dephasing"], regime_cap)
    set_by = (f"the parabolic regime ({100 * limit['tolerance']:g} % below t^2 at most; f = {f:g})"
              if cap == regime_cap else "max_dephasing")
    if setup["max_dephasing"] is not None and setup["max_dephasing"] > regime_cap:
        warn(f"max_dephasing={setup['max_dephasing']:g} lies beyond the parabolic regime of {setup['experiment']} "
             f"with {setup['partner']} (dS/S0 <= {regime_cap:.3g} with fraction {f:g}): the regime's bound is used",
             DataWarning, into=setup["warnings"], stacklevel=3)
    used = _prefix(t, y, cap)
    smooth, seen = y, []
    for _ in range(50):
        if not np.any(used):
            break
        smooth = _smooth(t, y, s, used)
        new = _prefix(t, smooth, cap * (1 + 1e-12))
        if np.array_equal(new, used) or any(np.array_equal(new, u) for u in seen):
            used = new if np.count_nonzero(new) <= np.count_nonzero(used) else used
            break
        seen.append(used)
        used = new
    n = int(np.count_nonzero(used))
    if n < MIN_POINTS:
        after = np.flatnonzero((t > 0) & ~used)
        where = (f"; the curve passes it by t = {1e3 * t[after[0]]:.3g} ms (dS/S0 = {y[after[0]]:.3g})"
                 if after.size else "")
        raise UserError(f"{setup['curve'].source}: only {n} point(s) with t > 0 lie in the parabolic regime of "
                        f"{setup['experiment']} with {setup['partner']} (dS/S0 <= {cap:.3g}, {set_by}){where}; an M2 "
                        f"needs at least {MIN_POINTS}: measure shorter recoupling times")
    a = _parabola(t[used], y[used], None if s is None else s[used])["a"]
    if not a > 0:
        raise UserError(f"{setup['curve'].source}: dS/S0 does not rise over the first {n} points: no M2 can be read "
                        "(is the partner far, or the curve not a dephasing curve?)")
    regime = {"cap": float(cap), "set_by": set_by, "tolerance": limit["tolerance"],
              "t_max_s": float(np.max(t[used])), "normalised_bound": limit["dephasing"],
              "lambda_two_spin": limit["lambda_two_spin"], "max_dephasing": setup["max_dephasing"]}
    return used, smooth, regime


def _excluded(t, y, used, smooth, regime):
    out = []
    for k in np.flatnonzero(~used):
        if t[k] <= 0:
            reason = "t = 0: no dephasing to measure"
        else:
            reason = (f"beyond the parabolic regime: after t = {1e3 * regime['t_max_s']:.4g} ms the curve (t^2 + t^4 "
                      f"fit) exceeds {regime['cap']:.3g}" + (f" (here {smooth[k]:.3g})" if smooth[k] > regime["cap"]
                                                             else ""))
        out.append({"t_s": float(t[k]), "dss0": float(y[k]), "reason": reason})
    return out


def _curvature(t, y, s, tolerance, notes, warnings):
    """Fit y = a t^2 + b t^4; the relative shortfall -b t_max^2 / a below t^2 at the last point, and
    a warning when it is beyond what the parabolic regime allows (or negative), at CURVATURE_Z."""
    need = 3 if s is not None else 4
    if t.size < need:
        notes.append(f"curvature test skipped: {t.size} points (it needs {need})")
        return None
    x = t**2
    w = np.ones_like(x) if s is None else 1.0 / s**2
    design = np.column_stack([x, x * x]) * np.sqrt(w)[:, None]
    coef, *_ = np.linalg.lstsq(design, y * np.sqrt(w), rcond=None)
    cov = np.linalg.inv(design.T @ design)
    if s is None:
        resid = y * np.sqrt(w) - design @ coef
        cov = cov * float(resid @ resid) / (t.size - 2)
    a, b = coef
    xm = float(np.max(x))
    if not a > 0:
        return None
    short = -b * xm / a
    grad = np.array([b * xm / a**2, -xm / a])
    se = float(math.sqrt(max(grad @ cov @ grad, 0.0)))
    z_hi = (short - tolerance) / se if se > 0 else 0.0
    z_lo = short / se if se > 0 else 0.0
    if z_hi > CURVATURE_Z:
        warn(f"the data bend away from t^2 inside the range used: {100 * short:.0f} +- {100 * se:.0f} % below the law "
             f"at t = {1e3 * math.sqrt(xm):.3g} ms, more than the parabolic regime allows ({100 * tolerance:g} %): "
             "sites with different M2, or a fraction below the one assumed; M2 reads low; give the fraction or "
             "lower max_dephasing",
             FitWarning, into=warnings, stacklevel=4)
    elif z_lo < -CURVATURE_Z:
        warn(f"the data rise faster than t^2 inside the range used ({100 * -short:.0f} +- {100 * se:.0f} % above the "
             f"law at t = {1e3 * math.sqrt(xm):.3g} ms), which no dephasing curve does: check time zero, an offset of "
             "dS/S0 at short times, or the time unit", FitWarning, into=warnings, stacklevel=4)
    return {"shortfall": float(short), "stderr": se, "z_beyond_regime": float(z_hi)}


def _bias_range(t, s, used, a, setup):
    """Relative low bias of the fitted M2 if the curve fell below t^2 as the curve of one partner does,
    and as the Gaussian many-partner limit does: (smaller, larger)."""
    from ..moments import _two_spin_curve, mean_square_jump
    from spinsim.isotopes import get_isotope

    spin = get_isotope(setup["partner"]).spin
    curve = _two_spin_curve(spin, setup["transfer"])
    c2 = 16.0 / 15.0 * mean_square_jump(spin, setup["transfer"])
    x = t**2
    w = np.ones_like(x) if s is None else 1.0 / s[used] ** 2
    shortfalls = (lambda p: np.array([1.0 - curve(math.sqrt(v / c2)) / v for v in p]),
                  lambda p: 1.0 - (-np.expm1(-p)) / p)
    out = []
    for shortfall in shortfalls:
        bias = 0.0
        for _ in range(4):  # the true law lies above the fitted one by the bias itself: a few fixed-point steps
            law = np.maximum(a / (1.0 - bias) * x / setup["fraction"], 1e-300)  # the normalised t^2 law
            bias = float(np.sum(w * x * x * shortfall(law)) / np.sum(w * x * x))
        out.append(bias)
    return min(out), max(out)


def _judge(r: M2Result, fit):
    """Warnings and notes about the fitted M2 (errors unknown, chi^2, resolution)."""
    if not r.sigma_known:
        r.notes.append(f"the curve gives no uncertainties: the standard error comes from the scatter of the "
                       f"{r.n_used} points about the t^2 law ({fit['dof']} degrees of freedom)")
    elif fit["p"] is not None and fit["p"] < 0.01:
        warn(f"the t^2 law does not describe the points used within their errors (chi^2 = {fit['chi2']:.3g} for "
             f"{fit['dof']} degrees of freedom, p = {fit['p']:.2g}): the errors are too small or the points leave "
             "the parabolic regime; the standard error reflects the errors given", FitWarning, into=r.warnings,
             stacklevel=4)
    if r.m2 < 2 * r.m2_stderr:
        warn(f"M2 = {r.m2:.3g} +- {r.m2_stderr:.2g} rad^2/s^2 is within 2 standard errors of 0: the initial rise is "
             "not resolved and the effective distance has no upper bound", FitWarning, into=r.warnings, stacklevel=4)
