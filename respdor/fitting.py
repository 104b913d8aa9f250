"""Fit REDOR / RESPDOR dephasing curves with lmfit: D or r, bonded fraction, and honest errors.

One code path serves a single curve and a global fit of several curves that share parameters.
The model of curve i is

    dS/S0_i(t) = f_i * epsilon_i * x_i * g_i(t; kappa_i, D_i, sigma_r,i)

with g the normalised curve of :class:`CurveModel` (plateau 2I/(2I+1) for full saturation),
f the bonded fraction, epsilon the saturation (transfer) efficiency, x the partner's isotopic
abundance, kappa the recoupling scaling and sigma_r the width of a Gaussian distance distribution.
Because f, epsilon and x multiply alike, the data determine only their product, reported as
``amplitude``; the reported fraction assumes the stated epsilon and x.

Uncertainties
-------------
* When the curve carries measurement errors (sigma of dS/S0, or the noise of S0 and S1) they are
  taken at face value: covariance not rescaled, profile-likelihood intervals at
  delta chi^2 = 1 (68.3 %) and 4 (95.4 %). The reduced chi-square then tests the model.
* Without errors the noise is estimated from the scatter about the fit (equal weights):
  covariance scaled by chi^2_red and intervals from lmfit's F-test.
* ``method="signals"`` fits S0 and S1 jointly with one nuisance S0 per point, so noise on S0 is
  propagated exactly instead of through the first-order ratio formula.

Trust
-----
The optimum is searched over the whole allowed D (or r) range and confirmed by a chi^2 profile
(:mod:`respdor.optimum`); constraints on D or r are honoured in either parameterization
(:mod:`respdor.constraints`); the model's adequacy is checked (chi^2 p-value, points outside the
physical range, a curve above what f * eps * x allows: :mod:`respdor.adequacy`); a parameter on
its bound has no standard error and a one-sided interval. Everything doubtful is a line in
``FitResult.warnings``. :mod:`respdor.mcmc` adds posterior intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import lmfit
import numpy as np

from spinsim.dipolar import ANGSTROM, dipolar_constant
from spinsim.isotopes import Isotope, get_isotope

from .constraints import prepare_constraints
from .display import ResultDisplay
from .curve import DephasingCurve, refuse_repeated_curves
from .errors import UserError
from .adequacy import adequacy_checks
from .optimum import search_and_fit
from .profile import profile as profile_likelihood
from .tabulated import LEVELS, confirm_tabulated, edge_warnings, model_of, several_minima_warning
from .models import (
    TRANSFER_KINDS,
    gaussian_distance_average,
    recoupling_scaling,
    transfer_matrix,
    transfer_weights,
    weighted_redor_sum,
)

__all__ = [
    "CurveModel",
    "ParameterEstimate",
    "FitResult",
    "fit_curve",
    "fit_curves",
    "PARAMETER_UNITS",
    "FITTABLE",
]

#: Units of every parameter name the fitter knows.
PARAMETER_UNITS = {
    "coupling_hz": "Hz",
    "distance_angstrom": "angstrom",
    "fraction": "",
    "efficiency": "",
    "abundance": "",
    "scaling": "",
    "width_angstrom": "angstrom",
    "amplitude": "",
}

#: Most equivalent partners at one distance: a close-packed coordination shell holds 12 atoms.
MAX_EQUIVALENT_PARTNERS = 12

#: Parameters a user may fix, free or bound.
FITTABLE = ("coupling_hz", "distance_angstrom", "fraction", "efficiency", "abundance", "scaling", "width_angstrom")

_DEFAULT_BOUNDS = {
    "coupling_hz": (1e-3, 1e6),
    "distance_angstrom": (0.3, 100.0),
    "fraction": (0.0, 1.0),
    "efficiency": (0.0, 1.0),
    "abundance": (0.0, 1.0),
    "scaling": (0.05, 2.0),
    "width_angstrom": (0.0, 5.0),
}


@dataclass
class CurveModel:
    """How one dephasing curve is modelled.

    Parameters
    ----------
    observe, partner : str or Isotope
        Observed spin-1/2 nucleus and recoupled partner, e.g. ``"13C"`` and ``"27Al"``.
    experiment : {"respdor", "redor"}
        ``"respdor"``: saturation of the partner (default transfer ``"saturation"``);
        ``"redor"``: pi pulses on the partner (default transfer ``"inversion"``, the m -> -m flip
        that is exact for a spin-1/2 partner).
    transfer : str, optional
        Population-transfer kind (:data:`respdor.models.TRANSFER_KINDS`) overriding the default.
    transfer_probabilities : ndarray, optional
        A user-built column-stochastic P(m'|m) of size (2I+1); overrides ``transfer``.
    sequence : str
        Recoupling sequence for the default scaling: ``"redor"``, ``"sr4"``, ``"redor-finite"``.
    pulse_length_s, rotor_period_s : float, optional
        For ``sequence="redor-finite"``.
    n_partners : int
        Number of equivalent partners at the same distance. Treated with the second-moment
        effective coupling D_eff = sqrt(n) D (an approximation valid for the initial rise; the
        later shape depends on geometry). D and r refer to one partner.
    shape : callable, optional
        ``shape(t_s, coupling_hz) -> dS/S0`` for fraction 1, e.g. a simulated curve table
        (``respdor.simulated.SimulatedShape``). Replaces the analytical curve; the transfer and
        sequence then come from the simulation, and ``scaling`` multiplies D.
    """

    observe: str | Isotope = "13C"
    partner: str | Isotope = "27Al"
    experiment: str = "respdor"
    transfer: str | None = None
    transfer_probabilities: np.ndarray | None = None
    sequence: str = "redor"
    pulse_length_s: float | None = None
    rotor_period_s: float | None = None
    n_partners: int = 1
    shape: Callable | None = None

    def __post_init__(self):
        try:
            self.observe_isotope = get_isotope(self.observe)
            self.partner_isotope = get_isotope(self.partner)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        if self.experiment not in ("respdor", "redor"):
            raise UserError(f"unknown experiment {self.experiment!r}; choose respdor or redor")
        if self.observe_isotope.symbol == self.partner_isotope.symbol:
            raise UserError(f"observed and partner nucleus are both {self.observe_isotope.symbol}: REDOR/RESPDOR "
                            "recouple two different nuclei (pulses on the partner would hit the observed spin too); "
                            "check observe/partner")
        if not 1 <= self.n_partners <= MAX_EQUIVALENT_PARTNERS:
            raise UserError(f"number of partners must be 1 to {MAX_EQUIVALENT_PARTNERS} (the most atoms one shell "
                            f"around a nucleus can hold at one distance), got {self.n_partners}")
        if self.transfer is None:
            self.transfer = "saturation" if self.experiment == "respdor" else "inversion"
        if self.transfer not in TRANSFER_KINDS:
            raise UserError(f"unknown population transfer {self.transfer!r}; choose from {', '.join(TRANSFER_KINDS)}")
        spin = self.partner_isotope.spin
        try:
            if self.transfer_probabilities is not None:
                self._p = np.asarray(self.transfer_probabilities, float)
                if self._p.shape != (self.partner_isotope.multiplicity,) * 2:
                    raise ValueError(f"transfer matrix must be {self.partner_isotope.multiplicity}x"
                                     f"{self.partner_isotope.multiplicity} for I = {self.partner_isotope.spin_label}")
                self.transfer = "custom"
            else:
                self._p = transfer_matrix(spin, self.transfer)
            self._weights = transfer_weights(self._p)
            self.default_scaling = (
                1.0 if self.shape is not None
                else recoupling_scaling(self.sequence, self.pulse_length_s, self.rotor_period_s)
            )
        except ValueError as exc:
            raise UserError(str(exc)) from None
        # D * r^3 in Hz angstrom^3: the one constant linking the two parameterisations.
        self.dr3 = dipolar_constant(self.observe_isotope, self.partner_isotope) / ANGSTROM**3

    @property
    def coupling_limits_hz(self):
        """(D_min, D_max) in Hz that the curve shape can evaluate, or None when unlimited.

        A simulated table covers a finite range of couplings (its ``coupling_range_hz``); the
        fitter bounds D (or r) to it so that no trial value falls outside.
        """
        limits = getattr(self.shape, "coupling_range_hz", None)
        if limits is None:
            return None
        factor = self.default_scaling * math.sqrt(self.n_partners)
        return limits[0] / factor, limits[1] / factor

    @property
    def pair(self) -> str:
        """Label such as ``13C{27Al}``."""
        return f"{self.observe_isotope.symbol}{{{self.partner_isotope.symbol}}}"

    def describe(self) -> str:
        """One line naming the model, for tables and notes."""
        if self.shape is not None:
            base = f"simulated curve table ({getattr(self.shape, 'description', 'spinsim')})"
        else:
            base = f"{self.experiment.upper()} analytical, transfer '{self.transfer}', sequence {self.sequence}"
        extra = f", {self.n_partners} equivalent partners (second-moment approximation)" if self.n_partners > 1 else ""
        return f"{self.pair} {base}{extra}"

    @property
    def shape_parameters(self):
        """Extra parameters of a tabulated shape (e.g. a library's ``cq``): name -> (default, (low, high))."""
        return dict(getattr(self.shape, "parameters", None) or {})

    def normalised(self, time_s, coupling_hz, scaling=None, width_angstrom=0.0, shape_values=None):
        """Curve g(t) for fraction, efficiency and abundance 1.

        Parameters
        ----------
        time_s : array_like
            Recoupling times in s.
        coupling_hz : float
            D of one partner in Hz.
        scaling : float, optional
            kappa; defaults to the sequence's value.
        width_angstrom : float
            Standard deviation of a Gaussian distance distribution around r(D), in angstrom.
        """
        t = np.asarray(time_s, float)
        kappa = self.default_scaling if scaling is None else scaling
        root_n = math.sqrt(self.n_partners)

        def at_coupling(d):
            d_eff = kappa * root_n * d
            if self.shape is not None:
                return np.asarray(self.shape(t, d_eff, **(shape_values or {})), float)
            return weighted_redor_sum(d_eff * t, self._weights)

        if width_angstrom <= 0:
            return at_coupling(coupling_hz)
        r0 = (self.dr3 / coupling_hz) ** (1.0 / 3.0)
        return gaussian_distance_average(lambda r: at_coupling(self.dr3 / r**3), r0, width_angstrom)


@dataclass(repr=False)
class ParameterEstimate:
    """Value and uncertainty of one fitted or derived parameter.

    Attributes
    ----------
    value : float
    stderr : float or None
        Standard error from the covariance matrix; None when lmfit could not estimate it
        (e.g. the parameter sits on a bound).
    ci68, ci95 : tuple of float or None
        Profile-likelihood intervals [low, high] at 1 and 2 sigma; None when not computed.
        An end at a bound means the interval is open on that side.
    vary : bool
        False for fixed parameters.
    derived : bool
        True for parameters computed from others (distance from D, amplitude).
    unit : str
    """

    value: float
    stderr: float | None = None
    ci68: tuple | None = None
    ci95: tuple | None = None
    vary: bool = True
    derived: bool = False
    unit: str = ""
    at_bound: bool = False

    def to_dict(self):
        out = {"value": _finite_or_none(self.value), "stderr": _finite_or_none(self.stderr)}
        if self.ci68 is not None:
            out["ci68"] = [_finite_or_none(v) for v in self.ci68]
        if self.ci95 is not None:
            out["ci95"] = [_finite_or_none(v) for v in self.ci95]
        out["vary"] = self.vary
        out["derived"] = self.derived
        out["unit"] = self.unit
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "ParameterEstimate":
        """The estimate from its JSON entry (:meth:`to_dict`)."""
        def pair(key):
            v = data.get(key)
            return None if v is None else tuple(None if x is None else float(x) for x in v)

        value = data.get("value")
        return cls(value=float("nan") if value is None else float(value), stderr=data.get("stderr"),
                   ci68=pair("ci68"), ci95=pair("ci95"), vary=bool(data.get("vary", True)),
                   derived=bool(data.get("derived", False)), unit=data.get("unit", ""))

    def text(self) -> str:
        """``481 +- 92 Hz, 95 % [334, 748]``: the value at the precision its error supports."""
        from .report import format_number

        unit = f" {self.unit}" if self.unit else ""
        if not self.vary and not self.derived:
            return f"{format_number(self.value)}{unit} (fixed)"
        head = format_number(self.value, self.stderr)
        if self.stderr is not None:
            head += f" +- {format_number(self.stderr, self.stderr)}"
        if self.ci95 is not None:
            lo, hi = (format_number(v, self.stderr) if v is not None else "open" for v in self.ci95)
            return f"{head}{unit}, 95 % [{lo}, {hi}]"
        return head + unit

    def __repr__(self) -> str:
        return f"<ParameterEstimate {self.text()}>"


def _nan_if_none(v):
    return float("nan") if v is None else float(v)


def _finite_or_none(v):
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


@dataclass(repr=False)
class FitResult(ResultDisplay):
    """Outcome of :func:`respdor.fit`, :func:`fit_curve` and :func:`fit_curves`.

    In a notebook it shows as a table of the parameters with their intervals and the warnings;
    ``to_dataframe()`` gives the same table, ``to_json()`` / ``from_json()`` the document that
    ``respdor fit --json`` writes, and ``plot(ax=...)`` draws the data and the fit.

    Attributes
    ----------
    parameters : dict of str -> ParameterEstimate
        For one curve: ``coupling_hz``, ``distance_angstrom``, ``fraction``, ``efficiency``,
        ``abundance``, ``scaling``, ``width_angstrom``, ``amplitude``. In a global fit, shared
        parameters keep their names and per-curve ones are prefixed ``c0_``, ``c1_``, ...
    curves, models : list
        What was fitted, in order.
    chisqr, redchi : float
        chi^2 and chi^2 / (N - P) (N = number of residuals, P = varied parameters).
    n_points : int
        Number of curve points (S0/S1 pairs count once).
    n_free : int
        Number of varied physical parameters (nuisance S0 excluded).
    correlations : dict
        Correlation coefficients between varied parameters, keyed "a/b".
    warnings : list of str
        Things the user must know (D and f not separable, intervals open at a bound, ...).
    notes : list of str
        What was assumed (weights, units, epsilon and x behind the fraction).
    weighted : bool
        True when measurement errors were used as weights.
    method : str
        "ratio" (fit dS/S0) or "signals" (joint S0/S1 fit).
    lmfit_result : lmfit.minimizer.MinimizerResult
        The raw lmfit result, for experts.
    p_value : float or None
        With measurement errors: probability of a chi^2 at least this large if the model is right
        (chi^2 distribution with N - P degrees of freedom); None without errors.
    mcmc : dict or None
        Posterior summary from :func:`respdor.mcmc.sample_posterior` (None unless run).
    profiles : dict of str -> (ndarray, ndarray) or None
        The chi^2 profiles the fit measured: fitted name -> (values, chi2), values sorted, in the
        parameter's own unit as :attr:`parameters` reports it (``coupling_hz`` in Hz,
        ``distance_angstrom`` in angstrom, the library axes of a simulated shape in SI), chi2 the
        absolute chi^2 with every other varied parameter re-fitted. Kept from the interval search
        (no extra fitting): every varied physical parameter when intervals were computed, the
        library axes of a simulated shape always; empty when none was measured, None for a result
        read from JSON. Draw one with
        :func:`respdor.plotting.plot_profile`.
    """

    parameters: dict
    curves: list
    models: list
    chisqr: float
    redchi: float
    n_points: int
    n_free: int
    correlations: dict
    warnings: list
    notes: list
    weighted: bool
    method: str
    lmfit_result: object = None
    p_value: float | None = None
    mcmc: dict | None = None
    mcmc_samples: dict | None = field(default=None, repr=False)
    profiles: dict | None = field(default=None, repr=False)
    #: powder / gamma / step convergence check of a simulated shape (respdor.convergence.check_json)
    convergence: dict | None = None
    _evaluate: Callable | None = field(default=None, repr=False)
    _problem: object = field(default=None, repr=False)
    #: What a result read from JSON keeps of the fit it describes (no curve data, no lmfit result).
    _saved: dict | None = field(default=None, repr=False)

    def __getitem__(self, name) -> ParameterEstimate:
        return self.parameters[name]

    def value(self, name):
        """Best-fit value of a parameter."""
        return self.parameters[name].value

    def best_fit(self, index=0, time_s=None):
        """Model dS/S0 of curve ``index`` at ``time_s`` (default: the measured times)."""
        t = self.curves[index].time_s if time_s is None else np.asarray(time_s, float)
        return self._evaluate(index, t, None)

    def curve_with(self, index=0, time_s=None, **overrides):
        """Model of curve ``index`` with some parameters replaced, e.g. ``distance_angstrom=2.7``."""
        t = self.curves[index].time_s if time_s is None else np.asarray(time_s, float)
        return self._evaluate(index, t, overrides)

    def residuals(self, index=0):
        """Data minus model for curve ``index`` (dS/S0 units)."""
        return self.curves[index].dss0 - self.best_fit(index)

    @property
    def aic(self):
        if self.lmfit_result is None and self._saved:
            return _nan_if_none(self._saved.get("aic"))
        return getattr(self.lmfit_result, "aic", float("nan"))

    @property
    def bic(self):
        if self.lmfit_result is None and self._saved:
            return _nan_if_none(self._saved.get("bic"))
        return getattr(self.lmfit_result, "bic", float("nan"))

    # -- notebook displays (respdor.display.ResultDisplay) --------------------------------------

    def _pair_text(self) -> str:
        if self.models:
            pairs = dict.fromkeys(f"{m.pair} {m.experiment.upper()}" for m in self.models)
        else:
            pairs = dict.fromkeys(f"{c['observe']}{{{c['partner']}}}" for c in (self._saved or {}).get("curves", []))
        return ", ".join(pairs)

    def _title(self) -> str:
        n = self.n_curves
        return f"fit: {self._pair_text()}, {n} curve{'s' if n != 1 else ''}"

    @property
    def n_curves(self) -> int:
        """Number of curves fitted."""
        return len(self.curves) if self.curves else len((self._saved or {}).get("curves", []))

    def _headline(self) -> str:
        parts = []
        for base, short in (("coupling_hz", "D"), ("distance_angstrom", "r"), ("fraction", "f")):
            name = base if base in self.parameters else f"c0_{base}"
            est = self.parameters.get(name)
            if est is not None:
                parts.append(f"{short}{'' if name == base else '[c0]'} = {est.text().split(', 95 %')[0]}")
        redchi = f"chi2_red = {self.redchi:.3g}" if math.isfinite(self.redchi) else ""
        return ", ".join(parts + ([redchi] if redchi else []))

    def _rows(self) -> list:
        rows = []
        for name, est in self.parameters.items():
            ci68, ci95 = est.ci68 or (None, None), est.ci95 or (None, None)
            rows.append({"name": name, "value": est.value, "stderr": est.stderr, "unit": est.unit,
                         "ci68_low": ci68[0], "ci68_high": ci68[1], "ci95_low": ci95[0], "ci95_high": ci95[1],
                         "status": "fixed" if not est.vary and not est.derived else
                         ("derived" if est.derived else ("at bound" if est.at_bound else "fitted"))})
        return rows

    @classmethod
    def from_dict(cls, data: dict) -> "FitResult":
        """The result from the JSON document of :meth:`to_dict` (what ``respdor fit --json`` writes).

        It carries the numbers, notes and warnings; the curve data and the lmfit result are not in
        the JSON, so :meth:`best_fit` and :meth:`plot` need the result of the fit itself.
        """
        params = {k: ParameterEstimate.from_dict(v) for k, v in data.items()
                  if isinstance(v, dict) and "value" in v and "derived" in v}
        saved = {k: data.get(k) for k in ("aic", "bic", "curves")}
        return cls(parameters=params, curves=[], models=[], chisqr=_nan_if_none(data.get("chisqr")),
                   redchi=_nan_if_none(data.get("redchi")), n_points=int(data.get("n_points", 0)),
                   n_free=int(data.get("n_free", 0)), correlations=dict(data.get("correlations") or {}),
                   warnings=list(data.get("warnings") or []), notes=list(data.get("notes") or []),
                   weighted=bool(data.get("weighted")), method=data.get("method", "ratio"),
                   p_value=data.get("p_value"), mcmc=data.get("mcmc"), convergence=data.get("convergence"),
                   _saved=saved)

    def plot(self, ax=None, residuals=False, time_unit="ms", neighbour_offsets_angstrom=(-0.2, 0.2)):
        """Draw the data, the best fit and the curves at r +- 0.2 angstrom.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, or a pair (curve axes, residual axes) with ``residuals``, optional
            Where to draw; new pyplot axes when None. The matplotlib backend is never changed.
        residuals : bool
            Also draw the residuals (data minus fit) in a panel below.
        time_unit : {"ms", "us", "s"}
            Unit of the time axis.
        neighbour_offsets_angstrom : sequence of float
            Distances r_fit + offset (angstrom) drawn as thin dashed curves.

        Returns
        -------
        matplotlib.axes.Axes, or (Axes, Axes) with ``residuals``
        """
        from .display import axes_or_new
        from .plotting import draw_fit

        if not self.curves:
            raise ValueError("this result was read from JSON, which holds no curve data: plot the result of the fit")
        if residuals:
            if ax is None:
                import matplotlib.pyplot as plt

                _, ax = plt.subplots(2, 1, figsize=(5.2, 4.6), sharex=True,
                                     gridspec_kw={"height_ratios": [3.2, 1], "hspace": 0.06})
            main, below = ax
            draw_fit(self, main, below, neighbour_offsets_angstrom, time_unit)
            return main, below
        ax = axes_or_new(ax, figsize=(5.2, 3.6))
        return draw_fit(self, ax, None, neighbour_offsets_angstrom, time_unit)

    def to_dict(self) -> dict:
        """JSON-ready result (format documented in docs/results-format.md)."""
        out = {}
        for name, est in self.parameters.items():
            out[name] = est.to_dict()
        out["redchi"] = _finite_or_none(self.redchi)
        out["chisqr"] = _finite_or_none(self.chisqr)
        out["n_points"] = self.n_points
        out["n_free"] = self.n_free
        out["aic"] = _finite_or_none(self.aic)
        out["bic"] = _finite_or_none(self.bic)
        out["p_value"] = _finite_or_none(self.p_value)
        out["weighted"] = self.weighted
        out["method"] = self.method
        if self.mcmc is not None:
            out["mcmc"] = self.mcmc
        out["correlations"] = {k: _finite_or_none(v) for k, v in self.correlations.items()}
        if self.convergence is not None:
            out["convergence"] = self.convergence
        out["warnings"] = list(self.warnings)
        out["notes"] = list(self.notes)
        if not self.curves and self._saved:
            out["curves"] = list(self._saved.get("curves") or [])
            return out
        out["curves"] = [
            {
                "label": c.label,
                "source": c.source,
                "model": m.describe(),
                "observe": m.observe_isotope.symbol,
                "partner": m.partner_isotope.symbol,
                "n_points": c.n_points,
            }
            for c, m in zip(self.curves, self.models)
        ]
        return out

    def report(self) -> str:
        """Plain-text table of the result."""
        from .report import format_table

        return format_table(self)


def _name(base, index, shared, n_curves):
    if n_curves == 1 or base in shared:
        return base
    return f"c{index}_{base}"


class _Problem:
    """Parameters, residuals and evaluation for a list of curves sharing parameters."""

    def __init__(self, curves, models, shared, parameterization, fix, bounds, initial, method, weighted, free=()):
        self.curves = curves
        self.models = models
        self.n = len(curves)
        self.shared = set(shared)
        if "scaling" in self.shared and len({round(m.default_scaling, 12) for m in models}) > 1:
            # Curves recorded with different recoupling sequences (REDOR kappa 1, SR4 0.555) have
            # different scalings by construction: sharing one would apply the first curve's kappa
            # to all of them. Each keeps its own (fixed at its sequence's value unless freed).
            self.shared.discard("scaling")
        self.param = parameterization
        self.method = method
        self.weighted = weighted
        self.params = lmfit.Parameters()
        self.free = set(free)
        self._build(fix, bounds, initial)

    def name(self, base, i):
        return _name(base, i, self.shared, self.n)

    def derived_name(self, base, i):
        """Name of a derived parameter: shared exactly when everything it is computed from is."""
        if self.n == 1:
            return base
        if base == "amplitude":
            sources = ("fraction", "efficiency", "abundance")
        else:
            sources = ("coupling_hz",) if self.param == "coupling" else ("distance_angstrom",)
        same_pair = len({m.pair for m in self.models}) == 1
        if all(s in self.shared for s in sources) and (same_pair or base != "coupling_hz"):
            return base
        return f"c{i}_{base}"

    def _build(self, fix, bounds, initial):
        primary = "coupling_hz" if self.param == "coupling" else "distance_angstrom"
        if primary == "coupling_hz" and "coupling_hz" in self.shared and self.n > 1:
            pairs = {m.pair for m in self.models}
            if len(pairs) > 1:
                raise UserError(
                    "curves of different nucleus pairs (" + ", ".join(sorted(pairs)) + ") can share the "
                    "distance, not the coupling: use parameterization=\"distance\""
                )
        for i, (curve, model) in enumerate(zip(self.curves, self.models)):
            defaults = {
                "fraction": (1.0, True),
                "efficiency": (1.0, False),
                "abundance": (model.partner_isotope.abundance, False),
                "scaling": (model.default_scaling, False),
                "width_angstrom": (0.0, False),
            }
            for base in (primary, "fraction", "efficiency", "abundance", "scaling", "width_angstrom"):
                name = self.name(base, i)
                if name in self.params:
                    continue
                lo, hi = bounds.get(name, bounds.get(base, self._default_bounds(base, model)))
                if base == primary:
                    value, vary = 1.0, True  # replaced by the grid start
                else:
                    value, vary = defaults[base]
                if name in self.free or base in self.free:
                    vary = True
                if name in initial or base in initial:
                    value = initial.get(name, initial.get(base))
                if name in fix or base in fix:
                    value, vary = fix.get(name, fix.get(base)), False
                if not (lo <= value <= hi) and vary is False:
                    raise UserError(f"fixed value {base}={value} lies outside its bounds [{lo}, {hi}]")
                self.params.add(name, value=float(np.clip(value, lo, hi)) if vary else float(value),
                                min=lo, max=hi, vary=vary)
            # Parameters of a tabulated shape (library axes): fixed at their default unless freed.
            for base, (value, (lo, hi)) in model.shape_parameters.items():
                name = self.name(base, i)
                if name in self.params:
                    continue
                lo, hi = bounds.get(name, bounds.get(base, (lo, hi)))
                vary = name in self.free or base in self.free
                value = initial.get(name, initial.get(base, value))
                if name in fix or base in fix:
                    value, vary = fix.get(name, fix.get(base)), False
                if not (lo <= value <= hi):
                    raise UserError(f"{base}={value:g} lies outside the tabulated range [{lo:g}, {hi:g}]")
                self.params.add(name, value=float(value), min=lo, max=hi, vary=vary)
        # Derived parameters: the other geometric quantity and the identifiable amplitude.
        other = "distance_angstrom" if primary == "coupling_hz" else "coupling_hz"
        for i, model in enumerate(self.models):
            dname = self.derived_name(other, i)
            if dname not in self.params:
                src = self.name(primary, i)
                expr = (f"({model.dr3!r} / {src}) ** (1.0/3.0)" if primary == "coupling_hz"
                        else f"{model.dr3!r} / {src} ** 3")
                self.params.add(dname, expr=expr)
            aname = self.derived_name("amplitude", i)
            if aname not in self.params:
                self.params.add(
                    aname,
                    expr=f"{self.name('fraction', i)} * {self.name('efficiency', i)} * {self.name('abundance', i)}",
                )
        free_amp = [b for b in ("fraction", "efficiency", "abundance")
                    if any(self.params[self.name(b, i)].vary for i in range(self.n))]
        if len(free_amp) > 1:
            raise UserError(
                f"{' and '.join(free_amp)} multiply the curve alike and cannot be fitted together: "
                "fix all but one (e.g. efficiency = 0.9 measured on a model compound)"
            )
        if self.method == "signals":
            for i, curve in enumerate(self.curves):
                for j, s0 in enumerate(curve.s0):
                    self.params.add(f"s0_{i}_{j}", value=float(s0), min=0.0)

    @staticmethod
    def _default_bounds(base, model):
        limits = model.coupling_limits_hz
        if limits is not None and base == "coupling_hz":
            return limits
        if limits is not None and base == "distance_angstrom":
            return (model.dr3 / limits[1]) ** (1 / 3), (model.dr3 / limits[0]) ** (1 / 3)
        if base in model.shape_parameters:  # a tabulated parameter: the table's range
            return model.shape_parameters[base][1]
        return _DEFAULT_BOUNDS[base]

    def coupling(self, p, i):
        if self.param == "coupling":
            return p[self.name("coupling_hz", i)]
        return self.models[i].dr3 / p[self.name("distance_angstrom", i)] ** 3

    def model_curve(self, p, i, t):
        model = self.models[i]
        extra = {b: p[self.name(b, i)] for b in model.shape_parameters}
        g = model.normalised(t, self.coupling(p, i), p[self.name("scaling", i)], p[self.name("width_angstrom", i)],
                             shape_values=extra)
        amp = p[self.name("fraction", i)] * p[self.name("efficiency", i)] * p[self.name("abundance", i)]
        return amp * g

    def residual(self, params):
        p = params.valuesdict()
        parts = []
        for i, curve in enumerate(self.curves):
            y = self.model_curve(p, i, curve.time_s)
            if self.method == "signals":
                s0 = np.array([p[f"s0_{i}_{j}"] for j in range(curve.n_points)])
                parts.append((curve.s0 - s0) / curve.sigma_s0)
                parts.append((curve.s1 - s0 * (1.0 - y)) / curve.sigma_s1)
            elif self.weighted:
                parts.append((curve.dss0 - y) / curve.sigma)
            else:
                parts.append(curve.dss0 - y)
        return np.concatenate(parts)


def _check_determinable(problem, weighted, fix_label="fix"):
    """Refuse curves whose points cannot determine the free parameters (one line, no traceback)."""
    n_vary = sum(1 for n, p in problem.params.items() if p.vary and p.expr is None and not n.startswith("s0_"))
    distinct = sum(len(np.unique(c.time_s[c.time_s > 0])) for c in problem.curves)
    where = ", ".join(c.source or c.label for c in problem.curves)
    if distinct == 0:
        raise UserError(f"{where}: every recoupling time is 0, where no dephasing has happened yet: "
                        "the curve carries no information on D or the fraction")
    for c in problem.curves:
        if not np.any(c.time_s > 0):
            raise UserError(f"{c.source or c.label}: every recoupling time is 0: the curve carries no information")
    need = n_vary + 1
    if distinct < need:
        why = " (one more is needed to test the fit)" if weighted else " (one more is needed to estimate the noise)"
        raise UserError(f"{where}: {distinct} distinct recoupling time(s) > 0 cannot determine {n_vary} free "
                        f"parameter(s){why}; measure more times or fix parameters ({fix_label})")


def _check_curve(curve, method):
    if method == "signals" and not curve.has_signals:
        raise UserError(f"{curve.source or curve.label}: a joint S0/S1 fit needs S0, S1 and their noise")


def fit_curves(
    curves: Sequence[DephasingCurve],
    models: Sequence[CurveModel] | CurveModel,
    shared: Sequence[str] = ("coupling_hz", "distance_angstrom", "scaling", "width_angstrom"),
    parameterization: str = "coupling",
    fix: dict | None = None,
    bounds: dict | None = None,
    initial: dict | None = None,
    method: str = "ratio",
    intervals: bool = True,
    free: Sequence[str] = (),
    option_names: dict | None = None,
    allow_long: bool = False,
) -> FitResult:
    """Fit one or several dephasing curves, with parameters shared between curves.

    Parameters
    ----------
    curves : sequence of DephasingCurve
        The measured curves.
    models : CurveModel or sequence of CurveModel
        One model for all curves, or one per curve.
    shared : sequence of str
        Parameter names common to all curves (default: the geometry: D/r, scaling and width;
        the fractions stay per curve). In a one-curve fit everything is "shared".
    parameterization : {"coupling", "distance"}
        Fit D (Hz) and derive r, or fit r (angstrom) and derive D. Curves of different nucleus
        pairs can only share r.
    fix : dict, optional
        name -> value of parameters held fixed (names from :data:`FITTABLE`, optionally
        prefixed ``c0_`` ...).
    bounds : dict, optional
        name -> (min, max).
    initial : dict, optional
        name -> starting value: one more local fit starts there, besides the starts from the
        global search (a note says which start reached the lowest chi^2).
    method : {"ratio", "signals"}
        Fit dS/S0 (with its propagated errors if known) or S0 and S1 jointly.
    intervals : bool
        Compute 1- and 2-sigma profile-likelihood intervals (:func:`respdor.profile.profile`) for the
        varied physical parameters.
    free : sequence of str
        Parameters that are fixed by default (efficiency, abundance, scaling, width_angstrom) but
        should vary.
    option_names : dict, optional
        How messages name ``fix``, ``bounds`` and ``initial`` (the command line passes
        ``--fix``, ``--bound``, ``--start``).
    allow_long : bool
        Fit more points than :data:`respdor.workload.CURVE_FIT_LIMIT` (refused otherwise: the
        cost grows with the points, see :func:`respdor.workload.curve_fit_work`).

    Constraints on D or r are honoured whichever is fitted (converted through D r^3 = const);
    contradictory or unphysical ones raise :class:`UserError`. The fit searches the whole allowed
    range (:mod:`respdor.optimum`) and confirms its optimum with chi^2 profiles (restarting where one
    finds a lower chi^2).

    Returns
    -------
    FitResult
    """
    curves, models = _checked_curves(curves, models, parameterization, method)
    fix, bounds, initial = _numbers(fix, "fix"), _numbers(bounds, "bounds"), _numbers(initial, "initial")
    _check_names(curves, models, list(fix) + list(bounds) + list(initial) + list(free))
    for c in curves:
        _check_curve(c, method)
    refuse_repeated_curves(curves)
    weighted, n_points = _weighted(curves, method), sum(c.n_points for c in curves)
    from .workload import check_work, curve_fit_work

    check_work(curve_fit_work(n_points, len(curves)), allow_long, "fit")
    _check_free(free, fix)
    fix, bounds, initial = prepare_constraints(fix, bounds, initial, models, parameterization, option_names,
                                               _Problem._default_bounds)
    problem = _Problem(curves, models, shared, parameterization, fix, bounds, initial, method, weighted, free)
    _check_determinable(problem, weighted, (option_names or {}).get("fix", "fix"))
    user_start = {n: v for n, v in initial.items() if n in problem.params and problem.params[n].vary} or None
    minimizer, result, search_notes, search_warnings = search_and_fit(problem, not weighted, user_start)
    minimizer, result, tab_profiles, tab_notes, tab_warnings = confirm_tabulated(problem, minimizer, result,
                                                                                 weighted, not weighted)
    physical = [n for n in result.var_names if not n.startswith("s0_")]
    notes = list(search_notes) + tab_notes + _assumption_notes(problem, result, weighted)
    warn_list = list(search_warnings) + tab_warnings
    minimizer, result, ci, tab_profiles, profiles = (
        _confirmed_intervals(problem, minimizer, result, physical, tab_profiles, weighted, notes, warn_list)
        if intervals else (minimizer, result, {}, tab_profiles, {}))
    words = option_names or {}
    params_out = _estimates(problem, result, ci, tab_profiles, intervals, warn_list, words.get("bounds", "bounds"))
    _derived_intervals(problem, result, params_out)
    correlations = {f"{a}/{b}": float(c) for a in physical for b, c in (result.params[a].correl or {}).items()
                    if b in physical and a < b}
    _separability_warnings(problem, result, correlations, warn_list)
    p_value, adequacy = adequacy_checks(problem, result, weighted, words.get("fix", "fix"))
    warn_list.extend(adequacy)
    return FitResult(
        parameters=params_out, curves=curves, models=models, chisqr=float(result.chisqr),
        redchi=float(result.redchi), n_points=n_points, n_free=len(physical), correlations=correlations,
        warnings=list(dict.fromkeys(warn_list)),  # one line per distinct warning
        notes=notes, weighted=weighted, method=method, lmfit_result=result, p_value=p_value,
        _evaluate=_evaluator(problem, result), _problem=problem, profiles=_kept_profiles(tab_profiles, profiles),
    )


def _kept_profiles(tab_profiles, profiles):
    """FitResult.profiles: the library axes' profiles and those of the interval search, name -> (values, chi2)."""
    tabulated = {n: (np.asarray(p["values"], float), np.asarray(p["chi2"], float)) for n, p in tab_profiles.items()}
    return {**tabulated, **profiles}


def _check_free(free, fix):
    """No parameter is both fixed and freed."""
    clash = [n for n in free if n in fix]
    if clash:
        raise UserError(f"{', '.join(clash)} cannot be both fixed and free")


def _checked_curves(curves, models, parameterization, method):
    """The curves and one model per curve, or :class:`UserError` naming what does not fit together."""
    curves = list(curves)
    if not curves:
        raise UserError("no curve to fit")
    if isinstance(models, CurveModel):
        models = [models] * len(curves)
    models = list(models)
    if len(models) != len(curves):
        raise UserError(f"{len(curves)} curves but {len(models)} models")
    if parameterization not in ("coupling", "distance"):
        raise UserError(f"parameterization must be 'coupling' or 'distance', got {parameterization!r}")
    if method not in ("ratio", "signals"):
        raise UserError(f"method must be 'ratio' or 'signals', got {method!r}")
    bad = next((k for k, c in enumerate(curves) if not isinstance(c, DephasingCurve)), None)
    if bad is not None:
        raise UserError(f"curve {bad} is a {type(curves[bad]).__name__}, not a DephasingCurve: build it with "
                        "DephasingCurve(time_s, dss0, sigma) or read it with respdor.read_curve(path)")
    return curves, models


def _weighted(curves, method):
    """True when the fit uses measurement errors (every curve has them, or S0 and S1 are fitted)."""
    weighted = all(c.sigma is not None for c in curves) or method == "signals"
    if not weighted and any(c.sigma is not None for c in curves):
        raise UserError("some curves carry uncertainties and some do not; give errors for all or none")
    return weighted


def _check_names(curves, models, names):
    """Every constrained name is a parameter of the fit, and a ``cK_`` prefix names one of its curves."""
    known = FITTABLE + tuple(k for m in models for k in m.shape_parameters if k not in FITTABLE)
    for name in names:
        base = name.split("_", 1)[1] if name[:1] == "c" and name[1:2].isdigit() else name
        if base not in known:
            raise UserError(f"unknown parameter {name!r}; known: {', '.join(known)}")
        if base != name and int(name[1:].split("_", 1)[0]) >= len(curves):
            # a prefix naming no curve would otherwise be ignored without a word
            raise UserError(f"{name!r} names curve {name[1:].split('_', 1)[0]}, but the fit has {len(curves)} "
                            f"curve(s), numbered c0 to c{len(curves) - 1}")


def _assumption_notes(problem, result, weighted):
    """What the errors rest on, and which efficiency and abundance the fraction assumes."""
    if weighted:
        notes = ["uncertainties from the measurement errors (covariance not rescaled); "
                 "intervals: profile likelihood, delta chi2 = 1 and 4"]
    else:
        notes = ["no measurement errors given: equal weights, noise estimated from the scatter about "
                 "the fit; intervals from the F-test profile"]
    for i, model in enumerate(problem.models):
        eps = result.params[problem.name("efficiency", i)]
        ab = result.params[problem.name("abundance", i)]
        notes.append(
            f"{problem.curves[i].label}: the data determine amplitude = fraction x efficiency x abundance; "
            f"fraction assumes efficiency = {eps.value:.4g}{'' if not eps.vary else ' (fitted)'} and "
            f"{model.partner_isotope.symbol} abundance = {ab.value:.4g}{'' if not ab.vary else ' (fitted)'}"
        )
    return notes


def _confirmed_intervals(problem, minimizer, result, physical, tab_profiles, weighted, notes, warn_list):
    """Profile intervals of the varied physical parameters; where a profile finds a chi^2 below the
    fit's, the fit restarts from that profile point and the intervals (and the library-axis
    profiles) are measured again, at most three times: intervals are measured from the lowest
    chi^2 any profile found, or a warning says they are not."""
    from .optimum import CONFIRM_RTOL, _run, _start_params
    from .tabulated import confirm_tabulated

    atol = (1e-8 if weighted else 1e-14) * result.ndata
    for attempt in range(4):
        lines = []
        ci, (chi_low, name, start), profiles = _intervals(problem, minimizer, result, physical, tab_profiles,
                                                          weighted, lines)
        if not chi_low < result.chisqr * (1 - CONFIRM_RTOL) - atol:
            break
        m2, r2 = (None, None) if attempt == 3 else _run(problem, _start_params(problem, start), not weighted)
        if r2 is None or not r2.chisqr < result.chisqr:
            why = "after three restarts" if r2 is None else "and a fit restarted there did not get lower"
            lines.append(f"{name}: its chi2 profile reaches {chi_low:.6g}, below the fit's {result.chisqr:.6g}, {why}: "
                         "the fit is not at its optimum, and its intervals are measured from the fit's chi2")
            break
        notes.append(f"the fit ended at chi2 {result.chisqr:.6g}; the chi2 profile of {name} found {chi_low:.6g} at "
                     f"{name} = {start[name]:.6g}: fit restarted there (chi2 {r2.chisqr:.6g}), intervals measured "
                     "again")
        minimizer, result = m2, r2
        if tab_profiles:
            minimizer, result, tab_profiles, tab_notes, tab_warnings = confirm_tabulated(problem, minimizer, result,
                                                                                         weighted, not weighted)
            notes.extend(tab_notes[:-1])  # the last note (how the intervals were made) is already there
            lines.extend(tab_warnings)
    warn_list.extend(lines)
    minimizer.params = result.params  # the fit's parameters stay those of the best fit
    return minimizer, result, ci, tab_profiles, profiles


def _intervals(problem, minimizer, result, physical, tab_profiles, weighted, warn_list):
    """Profile-likelihood intervals (:func:`respdor.profile.profile`) of the varied physical parameters:
    name -> lmfit-style list of (probability, end), the lowest point the profiles met
    (chi^2, parameter profiled, parameter values), and the profiles (name -> (values, chi2)).

    Every profile point re-fits the other varied parameters from the best fit and from the
    neighbouring point's optimum, each start moved off the bounds it sits on (lmfit's bounded
    fit cannot leave a start on a bound), and keeps the lower chi^2: freeing a parameter can then
    only widen an interval, as a profile must."""
    ci, lowest, profiles = {}, (np.inf, None, None), {}
    # the optima along each library axis: starts that reach the valleys of a tabulated surface
    candidates = [fit for prof in tab_profiles.values() for fit in prof.get("fits", []) if fit is not None]
    for name in [n for n in physical if n not in tab_profiles]:
        try:
            prof = profile_likelihood(result.params, problem.residual, name, sigma_known=weighted,
                                      nfree=result.nfree, chi2_best=result.chisqr, refit=result.nvarys > 1,
                                      candidates=candidates)
        except (ValueError, ArithmeticError, RuntimeError) as exc:
            warn_list.append(f"{name}: no profile-likelihood interval (chi2 could not be evaluated along {name}: "
                             f"{' '.join(str(exc).split())[:120]}); its interval is left out, use MCMC for one")
            continue
        ci[name] = prof.lmfit_levels()
        profiles[name] = (prof.values, prof.chi2)
        if any(end is None for pair in prof.intervals.values() for end in pair):
            warn_list.append(f"{name}: the profile-likelihood interval runs into a bound of the parameter "
                             "before chi2 rises enough: open on that side")
        if prof.chi2.size and float(np.min(prof.chi2)) < lowest[0] and prof.lowest is not None:
            lowest = (float(np.min(prof.chi2)), name, dict(prof.lowest.valuesdict()))
    return ci, lowest, profiles


def _estimates(problem, result, ci, tab_profiles, intervals, warn_list, bound_label="bounds"):
    """name -> ParameterEstimate of every parameter but the nuisance S0s, with their intervals and
    the warnings of parameters on a bound or a library's edge."""
    params_out = {}
    for name, par in result.params.items():
        if name.startswith("s0_"):
            continue
        base = name.split("_", 1)[1] if name[:1] == "c" and name[1:2].isdigit() else name
        est = ParameterEstimate(
            value=float(par.value),
            stderr=None if par.stderr is None or not np.isfinite(par.stderr) else float(par.stderr),
            vary=bool(par.vary), derived=par.expr is not None, unit=PARAMETER_UNITS.get(base, ""),
        )
        if par.vary and (np.isclose(par.value, par.min, rtol=1e-6, atol=1e-9) or
                         np.isclose(par.value, par.max, rtol=1e-6, atol=1e-9)):
            est.at_bound = True
            est.stderr = None  # a covariance at a bound describes no interval
        if name in tab_profiles:
            prof = tab_profiles[name]
            est.ci68, est.ci95 = (prof["ci68"], prof["ci95"]) if intervals else (None, None)
            if any(prof["open"][LEVELS[0]]):
                est.stderr = None  # a covariance describes no interval that an edge cuts
            warn_list.extend(edge_warnings(name, prof, model_of(problem, name), par.value, bound_label))
            several = several_minima_warning(name, prof)
            if several and intervals:
                warn_list.append(several)
        elif name in ci:
            levels = ci[name]
            lo68, lo95 = _pick(levels, 0.6827, -1, par), _pick(levels, 0.9545, -1, par)
            hi68, hi95 = _pick(levels, 0.6827, 1, par), _pick(levels, 0.9545, 1, par)
            est.ci68, est.ci95 = (lo68, hi68), (lo95, hi95)
        if est.at_bound and name not in tab_profiles:
            warn_list.append(_bound_message(name, par, est, intervals))
        params_out[name] = est
    return params_out


def _derived_intervals(problem, result, params_out):
    """Intervals of the derived D or r (through the monotonic D <-> r map) and of the amplitude (from
    its one varied factor of f * eps * x, the others fixed)."""
    coupling = problem.param == "coupling"
    for i, model in enumerate(problem.models):
        src = problem.name("coupling_hz" if coupling else "distance_angstrom", i)
        dst = problem.derived_name("distance_angstrom" if coupling else "coupling_hz", i)
        if src in params_out and dst in params_out and params_out[src].ci68 is not None:
            conv = (lambda d, m=model: (m.dr3 / d) ** (1 / 3)) if coupling else (lambda r, m=model: m.dr3 / r**3)
            for level in ("ci68", "ci95"):
                lo, hi = getattr(params_out[src], level)
                a, b = _safe_map(conv, lo), _safe_map(conv, hi)
                setattr(params_out[dst], level, (min(a, b), max(a, b)))
    for i in range(len(problem.models)):
        aname = problem.derived_name("amplitude", i)
        factors = [problem.name(b, i) for b in ("fraction", "efficiency", "abundance")]
        varied = [n for n in factors if result.params[n].vary]
        if aname in params_out and len(varied) == 1 and params_out[varied[0]].ci68 is not None:
            const = np.prod([result.params[n].value for n in factors if n != varied[0]])
            for level in ("ci68", "ci95"):
                lo, hi = getattr(params_out[varied[0]], level)
                setattr(params_out[aname], level, (None if lo is None else lo * const,
                                                   None if hi is None else hi * const))


def _evaluator(problem, result):
    """``evaluate(index, t, overrides)``: the model of curve ``index`` at the best fit, some parameters
    replaced (D or r converted to the fitted one)."""
    def evaluate(index, t, overrides):
        p = dict(result.params.valuesdict())
        for key, val in (overrides or {}).items():
            model = problem.models[index]
            if key == "distance_angstrom" and problem.param == "coupling":
                p[problem.name("coupling_hz", index)] = model.dr3 / val**3
            elif key == "coupling_hz" and problem.param == "distance":
                p[problem.name("distance_angstrom", index)] = (model.dr3 / val) ** (1 / 3)
            else:
                p[problem.name(key, index)] = val
        return problem.model_curve(p, index, t)

    return evaluate


def _bound_message(name, par, est, intervals):
    """Say that a parameter sits on its bound and what interval (one-sided) it has, or why none."""
    side = "lower" if np.isclose(par.value, par.min, rtol=1e-6, atol=1e-9) else "upper"
    edge = par.min if side == "lower" else par.max
    head = f"{name} = {par.value:.4g} sits on its {side} bound {edge:g}: no standard error"
    if est.ci68 is not None and None not in est.ci68 and est.ci95 is not None and None not in est.ci95:
        return (f"{head}; its profile-likelihood intervals are one-sided: 68 % [{est.ci68[0]:.4g}, {est.ci68[1]:.4g}], "
                f"95 % [{est.ci95[0]:.4g}, {est.ci95[1]:.4g}]")
    why = "intervals were not asked for" if not intervals else "the profile could not be computed at the bound"
    return f"{head} and no interval ({why}); fix it, widen its bound or sample the posterior (MCMC)"


def _safe_map(conv, v):
    if v is None or not np.isfinite(v) or v <= 0:
        return float("inf") if v is not None and v <= 0 else float("nan")
    return float(conv(v))


def _pick(levels, prob, direction, par):
    """Interval end at probability ``prob`` on one side from lmfit's list of (prob, value)."""
    best = par.value
    side = [(p, v) for p, v in levels if (v - best) * direction > 0 or not np.isfinite(v)]
    for p, v in side:
        if abs(p - prob) < 2e-3:
            if not np.isfinite(v):
                return float(par.max if direction > 0 else par.min)
            return float(v)
    return None


def _separability_warnings(problem, result, correlations, warn_list):
    p = result.params.valuesdict()
    for i, (curve, model) in enumerate(zip(problem.curves, problem.models)):
        d_name = problem.name("coupling_hz" if problem.param == "coupling" else "distance_angstrom", i)
        amp_names = [problem.name(b, i) for b in ("fraction", "efficiency", "abundance")
                     if result.params[problem.name(b, i)].vary]
        if not result.params[d_name].vary or not amp_names:
            continue
        d = problem.coupling(p, i)
        lam_max = p[problem.name("scaling", i)] * math.sqrt(model.n_partners) * d * float(curve.time_s.max())
        if lam_max < 0.45:
            warn_list.append(
                f"{curve.label}: the curve never leaves the initial rise (lambda_max = {lam_max:.2f} < 0.45): "
                "there dS/S0 ~ f D^2 t^2, so D and the fraction cannot be separated; fix the fraction or "
                "measure to longer recoupling times"
            )
        for a in amp_names:
            key = f"{a}/{d_name}" if a < d_name else f"{d_name}/{a}"
            c = correlations.get(key)
            if c is not None and abs(c) > 0.95:
                warn_list.append(
                    f"{curve.label}: {d_name} and {a} are correlated at {c:+.3f}: the data barely separate them"
                )


def _numbers(mapping, what):
    """A copy of a fix/initial (name -> value) or bounds (name -> (low, high)) mapping with real numbers,
    or :class:`UserError` naming the entry (a string or None would otherwise fail deep in the fit)."""
    out = {}
    for name, value in dict(mapping or {}).items():
        try:
            if what == "bounds":
                lo, hi = value
                out[name] = (_real(lo), _real(hi))
            else:
                out[name] = _real(value)
        except (TypeError, ValueError):
            shape = "a (low, high) pair of numbers" if what == "bounds" else "a number"
            raise UserError(f"{what} {name}={value!r}: must be {shape}") from None
        if not all(math.isfinite(v) for v in np.atleast_1d(out[name])):
            raise UserError(f"{what} {name}={value!r}: must be finite")
    return out


def _real(value):
    if isinstance(value, (str, bytes, bool)) or value is None:
        raise TypeError(value)
    return float(value)


def fit_curve(curve: DephasingCurve, model: CurveModel | None = None, **kwargs) -> FitResult:
    """Fit one dephasing curve. See :func:`fit_curves` for the keyword arguments.

    Examples
    --------
    >>> from respdor import CurveModel, fit_curve, load_curve  # doctest: +SKIP
    >>> result = fit_curve(load_curve("curve.csv"), CurveModel("13C", "27Al"))  # doctest: +SKIP
    >>> result["distance_angstrom"].value  # doctest: +SKIP
    """
    return fit_curves([curve], model or CurveModel(), **kwargs)
