r"""Plan a REDOR / RESPDOR experiment: noise, predicted precision, experiment time and design.

Three layers, each usable alone:

1. :class:`Sensitivity` -- what the spectroscopist knows (S/N of a reference spectrum with its
   scans and recycle delay, DNP build-up time T_B and stretch exponent beta, microwave
   enhancement if the reference was recorded without microwaves, echo decay T2') turned into the
   noise of S0, S1 and dS/S0 at every recoupling time for a given number of scans.
2. :func:`predict` -- the Cramer-Rao (Fisher-information) standard errors of D, r and the bonded
   fraction f for a planned :class:`Design` (recoupling times and scans), computed from the same
   :class:`respdor.fitting.CurveModel` that ``respdor fit`` uses, and the total experiment time.
3. :func:`optimise_design` / :func:`even_design` -- the recoupling times and scans that reach a
   target precision in the least time, and the usual evenly spaced design for comparison.

Noise model (assumptions, also listed in docs/planner.md)
---------------------------------------------------------
* Signals are in units of the noise of *one scan*: one scan of S0 at recoupling time 0 has
  signal-to-noise ``snr_per_scan``; the noise is white, Gaussian, additive and the same for S0
  and S1; averaging n scans divides it by sqrt(n). The S/N of the reference spectrum must be the
  S/N of the integral that will be used (peak-height S/N differs).
* S/N per scan grows with the recycle delay as the saturation-recovery law
  1 - exp(-(tau/T_B)^beta) (physics.md section 7); the reference is rescaled by the ratio of
  this factor at the planned and at the reference recycle delay. Without T_B the planned recycle
  delay must equal the reference's.
* The reference S/N is multiplied by the microwave enhancement epsilon_on/off when the
  reference was recorded without microwaves (enhancement = 1 otherwise).
* S0 decays with the recoupling time as exp(-(t - t_ref)/T2'), t_ref the recoupling time of the
  reference (0 for a CP spectrum).
* Every recoupling time costs one S0 and one S1 acquisition with the same number of scans; each
  scan lasts recycle delay + recoupling time + a fixed overhead (CP, acquisition).
* sigma(dS/S0) = (sigma/S0) sqrt(1 + (S1/S0)^2), the first-order propagation that the fitter's
  ``method="ratio"`` uses (:func:`respdor.curve.ratio_uncertainty`).

Fisher information
------------------
For the model dS/S0_i = f eps x g(t_i; D) of :class:`~respdor.fitting.CurveModel` and independent
Gaussian errors sigma_i, F = J^T diag(1/sigma_i^2) J with J_ik = d(dS/S0_i)/d theta_k,
theta = (D, f) or (D,) when f is fixed. The ratio formula above is *exact* here for the joint
S0/S1 fit too: eliminating the unknown S0_i of each point from the Fisher matrix of (S0_i, dS/S0_i)
leaves the information S0_i^2 / (sigma_S1^2 + (1 - dS/S0_i)^2 sigma_S0^2) on dS/S0_i, i.e. the
same number; so ``method="ratio"`` and ``method="signals"`` have the same Cramer-Rao bound.
sigma(r) = r sigma(D) / (3 D).

Design
------
The time a design needs for a target is proportional to c^T M^-1 c / target^2, where M is the
Fisher information per second of spectrometer time and c the gradient of the target quantity.
That criterion is convex in the fractions of time given to each candidate time, and by Elfving's
theorem an optimal design for one quantity of a two-parameter model needs at most two
recoupling times; :func:`optimise_design` searches all pairs of candidate times (multiples of the
rotor period up to a maximum) and the split of time between them, then rounds scans to whole
phase cycles and adds a few cheap model-check points (a two-point design leaves no degree of
freedom to test the fit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from .curve import DephasingCurve
from .errors import UserError
from .fitting import CurveModel, fit_curve

__all__ = [
    "recovery_factor",
    "optimum_recycle_delay",
    "fit_t2prime",
    "Sensitivity",
    "Design",
    "Prediction",
    "fisher_matrix",
    "predict",
    "even_design",
    "optimise_design",
    "first_maximum_time",
    "longest_useful_time",
    "rotor_grid",
    "OptimalDesign",
    "scale_to_target",
    "guarded_targets",
    "simulate_experiment",
    "monte_carlo",
    "TARGETS",
]

#: Quantities a precision target can be set on, with their units.
TARGETS = {"distance_angstrom": "angstrom", "coupling_hz": "Hz", "fraction": ""}
#: The parameter of :func:`respdor.plan <respdor.jobs.plan.plan>` that sets each target (messages name it).
_TARGET_PARAMETER = {"distance_angstrom": "target_distance_error_angstrom", "coupling_hz": "target_coupling_error_hz",
                     "fraction": "target_fraction_error"}


# ---------------------------------------------------------------------------------------------
# 1. Sensitivity
# ---------------------------------------------------------------------------------------------

def recovery_factor(recycle_s, buildup_s, beta=1.0):
    """Saturation-recovery factor 1 - exp(-(tau/T_B)^beta).

    Parameters
    ----------
    recycle_s : float or array_like
        Recycle (polarisation) delay tau in s.
    buildup_s : float
        DNP build-up time T_B (or T1) in s.
    beta : float
        Stretch exponent (1: mono-exponential build-up; < 1: inhomogeneous build-up).

    Returns
    -------
    ndarray
        Fraction of the equilibrium magnetisation present after tau.
    """
    x = np.asarray(recycle_s, float) / buildup_s
    return -np.expm1(-(x**beta))


def optimum_recycle_delay(buildup_s, beta=1.0, overhead_s=0.0):
    """Recycle delay that maximises S/N per square root of time.

    Maximises (1 - exp(-(tau/T_B)^beta)) / sqrt(tau + overhead). For beta = 1 and no overhead
    the optimum solves e^x = 1 + 2x, x = tau/T_B = 1.2564 (physics.md section 7).

    Parameters
    ----------
    buildup_s : float
        Build-up time T_B in s.
    beta : float
        Stretch exponent of the build-up.
    overhead_s : float
        Time per scan besides the recycle delay (recoupling, CP, acquisition) in s.

    Returns
    -------
    float
        Optimum recycle delay in s.
    """
    if buildup_s <= 0 or beta <= 0 or overhead_s < 0:
        raise UserError(f"build-up time and beta must be > 0 and overhead >= 0 (got T_B={buildup_s}, "
                        f"beta={beta}, overhead={overhead_s})")
    c = overhead_s / buildup_s

    def negative_efficiency(logx):
        x = math.exp(logx)
        return -(-math.expm1(-(x**beta))) / math.sqrt(x + c)

    # The efficiency is unimodal in log x; bracket generously (x from 1e-4 to 1e2).
    res = optimize.minimize_scalar(negative_efficiency, bounds=(math.log(1e-4), math.log(100.0)),
                                   method="bounded", options={"xatol": 1e-10})
    return float(math.exp(res.x) * buildup_s)


def fit_t2prime(time_s, s0, sigma_s0=None):
    """Echo decay time T2' from measured S0 at several recoupling times.

    Weighted least squares of S0 = A exp(-t/T2') (weights 1/sigma^2; equal weights if no sigma).

    Parameters
    ----------
    time_s : array_like
        Recoupling times in s.
    s0 : array_like
        Reference signals S0 (any unit), positive.
    sigma_s0 : array_like, optional
        Their noise.

    Returns
    -------
    t2prime_s : float
        T2' in s (inf when S0 does not decay).
    amplitude : float
        A, S0 extrapolated to t = 0 (unit of s0).
    """
    t = np.asarray(time_s, float)
    y = np.asarray(s0, float)
    if t.size < 2 or np.any(y <= 0):
        raise UserError("T2' needs S0 at two or more recoupling times, all positive")
    w = np.ones_like(y) if sigma_s0 is None else 1.0 / np.broadcast_to(np.asarray(sigma_s0, float), y.shape) ** 2
    # Start from the log-linear fit, then do the proper nonlinear one (the log fit mis-weights).
    slope, icpt = np.polyfit(t, np.log(y), 1, w=np.sqrt(w) * y)
    rate0 = max(-slope, 0.0)

    def resid(p):
        return np.sqrt(w) * (y - p[0] * np.exp(-p[1] * t))

    sol = optimize.least_squares(resid, [math.exp(icpt), rate0], bounds=([0, 0], [np.inf, np.inf]))
    amp, rate = sol.x
    return (math.inf if rate <= 0 else 1.0 / rate), float(amp)


@dataclass
class Sensitivity:
    """What the spectroscopist knows about the sensitivity, and the noise it implies.

    Parameters
    ----------
    snr : float
        Signal-to-noise ratio of the reference spectrum (of the integral to be used).
    scans : int
        Number of scans of the reference spectrum.
    recycle_s : float
        Recycle delay of the reference spectrum in s.
    buildup_s : float, optional
        DNP build-up time T_B (or T1 of the polarisation source, 1H for CP) in s. Needed to
        change the recycle delay; without it the plan uses ``recycle_s``.
    beta : float
        Stretch exponent of the build-up, M = M_inf (1 - exp(-(tau/T_B)^beta)).
    enhancement : float
        Factor to apply to the reference S/N: epsilon_on/off when the reference was recorded
        without microwaves, 1 when it was recorded under the planned conditions.
    t2prime_s : float
        Decay time of S0 with recoupling time, in s (inf: no decay).
    reference_time_s : float
        Recoupling time at which the reference was recorded (0 for a CP spectrum), in s.
    plan_recycle_s : float, optional
        Recycle delay of the planned experiment in s. Default: the optimum
        (:func:`optimum_recycle_delay`, 1.2564 T_B for beta = 1) when T_B is given, else
        ``recycle_s``.
    overhead_s : float
        Time per scan besides the recycle delay and the recoupling time (CP, acquisition), in s.
    """

    snr: float
    scans: int
    recycle_s: float
    buildup_s: float | None = None
    beta: float = 1.0
    enhancement: float = 1.0
    t2prime_s: float = math.inf
    reference_time_s: float = 0.0
    plan_recycle_s: float | None = None
    overhead_s: float = 0.0
    notes: list = field(default_factory=list, repr=False)

    def __post_init__(self):
        checks = [("snr", self.snr > 0), ("scans", self.scans >= 1), ("recycle", self.recycle_s > 0),
                  ("beta", 0 < self.beta <= 1.5), ("enhancement", self.enhancement > 0),
                  ("t2prime", self.t2prime_s > 0), ("reference time", self.reference_time_s >= 0),
                  ("overhead", self.overhead_s >= 0)]
        for name, ok in checks:
            if not ok:
                raise UserError(f"{name} = {getattr(self, _ATTR[name])!r} is out of range")
        if self.buildup_s is not None and self.buildup_s <= 0:
            raise UserError(f"build-up time must be > 0, got {self.buildup_s!r}")
        if self.plan_recycle_s is None:
            if self.buildup_s is not None:
                self.plan_recycle_s = optimum_recycle_delay(self.buildup_s, self.beta, self.overhead_s)
                self.notes.append(
                    f"recycle delay {self.plan_recycle_s:.3g} s = {self.plan_recycle_s / self.buildup_s:.4g} T_B, "
                    f"the S/N-per-sqrt(time) optimum for T_B = {self.buildup_s:.3g} s, beta = {self.beta:g}")
            else:
                self.plan_recycle_s = self.recycle_s
                self.notes.append(f"no build-up time given: the plan keeps the reference recycle delay "
                                  f"{self.recycle_s:.3g} s")
        elif self.plan_recycle_s <= 0:
            raise UserError(f"planned recycle delay must be > 0, got {self.plan_recycle_s!r}")
        elif self.buildup_s is None and not math.isclose(self.plan_recycle_s, self.recycle_s, rel_tol=1e-9):
            raise UserError(f"changing the recycle delay ({self.recycle_s:g} s -> {self.plan_recycle_s:g} s) "
                            "needs the build-up time T_B (buildup_s)")

    @property
    def snr_per_scan(self) -> float:
        """S/N of one scan of S0 at recoupling time 0 with the planned recycle delay."""
        snr1 = self.snr / math.sqrt(self.scans) * self.enhancement
        if self.buildup_s is not None:
            snr1 *= float(recovery_factor(self.plan_recycle_s, self.buildup_s, self.beta)
                          / recovery_factor(self.recycle_s, self.buildup_s, self.beta))
        # The reference was recorded at reference_time_s: undo its T2' decay.
        return snr1 * math.exp(self.reference_time_s / self.t2prime_s)

    def s0(self, time_s):
        """S0 of one scan at the recoupling times, in units of the single-scan noise."""
        t = np.asarray(time_s, float)
        return self.snr_per_scan * np.exp(-t / self.t2prime_s)

    def scan_time(self, time_s):
        """Duration of one scan in s: recycle delay + recoupling time + overhead."""
        return self.plan_recycle_s + self.overhead_s + np.asarray(time_s, float)

    def noise(self, time_s, scans, dss0):
        """Noise of S0, S1 and dS/S0 for ``scans`` averaged scans each.

        Parameters
        ----------
        time_s : array_like
            Recoupling times in s.
        scans : array_like
            Scans of S0 and of S1 at each time.
        dss0 : array_like
            Expected dS/S0 at each time.

        Returns
        -------
        s0, s1, sigma_s, sigma_dss0 : ndarray
            Expected S0 and S1 (averaged, single-scan noise units), the noise of each, and the
            standard deviation of dS/S0.
        """
        s0 = self.s0(time_s)
        s1 = s0 * (1.0 - np.asarray(dss0, float))
        sigma = 1.0 / np.sqrt(np.asarray(scans, float))
        sigma_dss0 = sigma * np.sqrt(1.0 + (s1 / s0) ** 2) / s0
        return s0, s1, sigma * np.ones_like(s0), sigma_dss0


_ATTR = {"snr": "snr", "scans": "scans", "recycle": "recycle_s", "beta": "beta", "enhancement": "enhancement",
         "t2prime": "t2prime_s", "reference time": "reference_time_s", "overhead": "overhead_s"}


# ---------------------------------------------------------------------------------------------
# 2. Precision of a design
# ---------------------------------------------------------------------------------------------

@dataclass
class Design:
    """Recoupling times and the scans of S0 and of S1 at each.

    Attributes
    ----------
    time_s : ndarray
        Recoupling times in s.
    scans : ndarray of int
        Scans of S0 and (the same number) of S1 at each time.
    label : str
    """

    time_s: np.ndarray
    scans: np.ndarray
    label: str = ""

    def __post_init__(self):
        self.time_s = np.asarray(self.time_s, float)
        self.scans = np.asarray(self.scans, int)
        if self.time_s.shape != self.scans.shape or self.time_s.ndim != 1:
            raise UserError("a design needs one scan count per recoupling time")
        if np.any(self.time_s < 0) or np.any(self.scans < 1):
            raise UserError("recoupling times must be >= 0 and scans >= 1")

    def total_time_s(self, sensitivity: Sensitivity) -> float:
        """Spectrometer time in s: S0 and S1 at every point, each ``scans`` scans long."""
        return float(np.sum(2 * self.scans * sensitivity.scan_time(self.time_s)))


@dataclass
class Prediction:
    """Predicted standard errors of a design (Cramer-Rao bound).

    Attributes
    ----------
    sigma : dict
        ``coupling_hz`` (Hz), ``distance_angstrom`` (angstrom) and ``fraction`` (when fitted).
    covariance : ndarray
        Covariance of (D [Hz], f) or (D,) .
    total_time_s : float
        Spectrometer time of the design in s.
    dss0, sigma_dss0 : ndarray
        Expected dS/S0 and its noise at each point.
    """

    sigma: dict
    covariance: np.ndarray
    total_time_s: float
    dss0: np.ndarray
    sigma_dss0: np.ndarray


@dataclass
class _Truth:
    model: CurveModel
    coupling_hz: float
    fraction: float
    efficiency: float
    abundance: float
    fit_fraction: bool

    @property
    def distance_angstrom(self):
        return (self.model.dr3 / self.coupling_hz) ** (1.0 / 3.0)

    @property
    def amplitude(self):
        return self.fraction * self.efficiency * self.abundance

    def curve(self, t):
        return self.amplitude * self.model.normalised(t, self.coupling_hz)

    def jacobian(self, t):
        """Columns d(dS/S0)/dD [1/Hz] and, if fitted, d(dS/S0)/df."""
        t = np.asarray(t, float)
        h = 1e-5 * self.coupling_hz
        dg = (self.model.normalised(t, self.coupling_hz + h) - self.model.normalised(t, self.coupling_hz - h)) / (2 * h)
        cols = [self.amplitude * dg]
        if self.fit_fraction:
            cols.append(self.efficiency * self.abundance * self.model.normalised(t, self.coupling_hz))
        return np.stack(cols, axis=-1)

    def gradients(self):
        """Gradients of each target quantity with respect to theta = (D, f)."""
        d, r = self.coupling_hz, self.distance_angstrom
        n = 2 if self.fit_fraction else 1
        out = {"coupling_hz": np.eye(n)[0], "distance_angstrom": np.eye(n)[0] * (-r / (3.0 * d))}
        if self.fit_fraction:
            out["fraction"] = np.eye(n)[1]
        return out


def _truth(model, coupling_hz, fraction, efficiency, abundance, fit_fraction):
    if coupling_hz <= 0:
        raise UserError(f"coupling must be > 0 Hz, got {coupling_hz!r}")
    if not 0 < fraction <= 1:
        raise UserError(f"fraction must be in (0, 1], got {fraction!r}")
    if not 0 < efficiency <= 1:
        raise UserError(f"saturation efficiency must be in (0, 1], got {efficiency!r}")
    x = model.partner_isotope.abundance if abundance is None else abundance
    return _Truth(model, float(coupling_hz), float(fraction), float(efficiency), float(x), bool(fit_fraction))


def fisher_matrix(design: Design, sensitivity: Sensitivity, model: CurveModel, coupling_hz: float,
                  fraction: float, efficiency: float = 1.0, abundance: float | None = None,
                  fit_fraction: bool = True):
    """Fisher information matrix of theta = (D [Hz], f) (or D alone) for a design.

    Parameters
    ----------
    design : Design
    sensitivity : Sensitivity
    model : CurveModel
        The model ``respdor fit`` will use.
    coupling_hz : float
        Assumed true D in Hz.
    fraction : float
        Assumed bonded fraction f.
    efficiency : float
        Saturation efficiency epsilon (fixed in the fit, as ``--fix eps=...``).
    abundance : float, optional
        Partner isotopic abundance (default: the isotope table's, as in the fitter).
    fit_fraction : bool
        True when f is fitted together with D.

    Returns
    -------
    ndarray
        F (2x2 or 1x1), units 1/Hz^2, 1/Hz, 1.
    """
    tr = _truth(model, coupling_hz, fraction, efficiency, abundance, fit_fraction)
    return _fisher(tr, design, sensitivity)[0]


def _fisher(tr, design, sensitivity):
    y = tr.curve(design.time_s)
    _, _, _, sig = sensitivity.noise(design.time_s, design.scans, y)
    j = tr.jacobian(design.time_s)
    return (j / sig[:, None] ** 2).T @ j, y, sig


def _prediction(tr, design, sensitivity):
    fmat, y, sig = _fisher(tr, design, sensitivity)
    try:
        cov = np.linalg.inv(fmat)
    except np.linalg.LinAlgError:
        raise UserError("the design cannot determine all parameters (singular Fisher matrix): "
                        "use more, or more spread, recoupling times") from None
    sigma = {k: float(math.sqrt(max(g @ cov @ g, 0.0))) for k, g in tr.gradients().items()}
    return Prediction(sigma, cov, design.total_time_s(sensitivity), y, sig)


def predict(design: Design, sensitivity: Sensitivity, model: CurveModel, coupling_hz: float,
            fraction: float, efficiency: float = 1.0, abundance: float | None = None,
            fit_fraction: bool = True) -> Prediction:
    """Predicted standard errors of D, r (and f) and the experiment time of a design.

    Same parameters as :func:`fisher_matrix`.

    Returns
    -------
    Prediction
    """
    tr = _truth(model, coupling_hz, fraction, efficiency, abundance, fit_fraction)
    return _prediction(tr, design, sensitivity)


# ---------------------------------------------------------------------------------------------
# 3. Designs
# ---------------------------------------------------------------------------------------------

def _round_scans(n, phase_cycle):
    n = np.maximum(np.asarray(n, float), 1.0)
    return (np.ceil(n / phase_cycle - 1e-9) * phase_cycle).astype(int)


def _time_factor(pred, targets):
    """Largest (sigma / target)^2 over the targets: the factor by which scans must grow."""
    return max((pred.sigma[k] / v) ** 2 for k, v in targets.items())


def _check_targets(targets, fit_fraction):
    if not targets:
        raise UserError("give at least one precision target (distance, coupling or fraction error)")
    for k, v in targets.items():
        if k not in TARGETS:
            raise UserError(f"unknown target {k!r}; choose from {', '.join(TARGETS)}")
        if not v > 0:
            raise UserError(f"target error for {k} must be > 0, got {v!r}")
        if k == "fraction" and not fit_fraction:
            raise UserError("a fraction target needs the fraction to be fitted")


def guarded_targets(targets: dict, coupling_hz: float, linearity_limit: float | None = 0.15) -> dict:
    """Targets plus the linearity guard sigma(D) <= linearity_limit * D.

    The Fisher errors describe the scatter of real fits only while the fit is nearly linear over
    +/- sigma. Simulated fits (benchmarks/bench_planner_montecarlo.py, docs/planner.md) agree
    with the prediction to a few % up to sigma(D)/D = 0.15; at 0.25 the observed sigma(D) is 1.6x
    the predicted one. A design planned for a loose target (e.g. only the fraction) is therefore
    also asked for sigma(D)/D <= ``linearity_limit`` (None switches the guard off).
    """
    out = dict(targets)
    if linearity_limit is not None:
        if not linearity_limit > 0:
            raise UserError(f"linearity limit must be > 0, got {linearity_limit!r}")
        out["coupling_hz"] = min(out.get("coupling_hz", math.inf), linearity_limit * coupling_hz)
    return out


def scale_to_target(design: Design, sensitivity: Sensitivity, tr, targets: dict, phase_cycle: int = 8,
                    scale_mask=None) -> Design:
    """Smallest whole-phase-cycle scan counts (same proportions) that meet every target.

    The scans at the points in ``scale_mask`` (default: all) are multiplied by a common factor;
    sigma^2 falls as 1/scans, so one step gets there up to rounding, which the loop then fixes.
    """
    mask = np.ones(design.scans.shape, bool) if scale_mask is None else np.asarray(scale_mask, bool)
    base = design.scans.astype(float)
    lo, hi = 0.0, None
    factor = _time_factor(_prediction(tr, design, sensitivity), targets)
    if not math.isfinite(factor) or factor > 1e15:
        # no finite number of scans reaches the target: the points carry (almost) no information on it
        named = ", ".join(sorted(_TARGET_PARAMETER.get(k, k) for k in targets))
        raise UserError(f"no number of scans reaches the target ({named}): at recoupling times up "
                        f"to {design.time_s.max() * 1e3:.3g} ms the curve carries no information on it (a coupling "
                        "too weak to dephase in that time, or an echo decayed by then); check distance_angstrom/"
                        "coupling_hz and its unit, or allow longer times (max_time_s, compare_max_time_s)")
    # Find the smallest factor (over base scans) that meets the targets after rounding: bisection
    # on the continuous factor, since rounding up only ever helps.
    def scans_for(k):
        n = base.copy()
        n[mask] = base[mask] * k
        return _round_scans(n, phase_cycle)

    def ok(k):
        d = Design(design.time_s, scans_for(k), design.label)
        return _time_factor(_prediction(tr, d, sensitivity), targets) <= 1.0 + 1e-12

    hi = max(factor, 1e-6)
    while not ok(hi):
        hi *= 1.5
    lo = 0.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if ok(mid):
            hi = mid
        else:
            lo = mid
        if hi - lo < 1e-4 * hi:
            break
    return Design(design.time_s, scans_for(hi), design.label)


def rotor_grid(rotor_period_s: float, max_time_s: float, step_periods: int = 1):
    """Candidate recoupling times k * step * T_r (k >= 1) up to ``max_time_s``, in s."""
    if rotor_period_s <= 0 or step_periods < 1:
        raise UserError("rotor period must be > 0 and the step >= 1 rotor period")
    dt = step_periods * rotor_period_s
    n = int(math.floor(max_time_s / dt + 1e-9))
    if n < 3:
        raise UserError(f"maximum recoupling time {max_time_s * 1e3:g} ms allows fewer than 3 points "
                        f"of {dt * 1e3:g} ms")
    return dt * np.arange(1, n + 1)


def even_design(sensitivity: Sensitivity, model: CurveModel, coupling_hz: float, fraction: float,
                targets: dict, n_points: int = 16, max_time_s: float = 3e-3, rotor_period_s: float = 1e-4,
                step_periods: int = 1, phase_cycle: int = 8, efficiency: float = 1.0,
                abundance: float | None = None, fit_fraction: bool = True,
                linearity_limit: float | None = 0.15) -> Design:
    """The usual design: ``n_points`` evenly spaced times up to ``max_time_s``, equal scans.

    Times are rounded to whole multiples of ``step_periods`` rotor periods; the scans (a multiple
    of ``phase_cycle``) are the fewest that meet every target in ``targets``
    (name -> standard error, names from :data:`TARGETS`) and the linearity guard
    (:func:`guarded_targets`).

    Returns
    -------
    Design
    """
    tr = _truth(model, coupling_hz, fraction, efficiency, abundance, fit_fraction)
    _check_targets(targets, fit_fraction)
    targets = guarded_targets(targets, coupling_hz, linearity_limit)
    dt = step_periods * rotor_period_s
    t = np.round(np.linspace(max_time_s / n_points, max_time_s, n_points) / dt) * dt
    t = np.unique(t[t > 0])
    d = Design(t, np.full(t.shape, phase_cycle), label=f"{t.size} evenly spaced points to {t[-1] * 1e3:.3g} ms")
    return scale_to_target(d, sensitivity, tr, targets, phase_cycle)


@dataclass
class OptimalDesign:
    """Result of :func:`optimise_design`.

    Attributes
    ----------
    design : Design
        The practical design (whole phase cycles, with model-check points).
    support_time_s : ndarray
        Recoupling times of the continuous optimum, in s.
    support_weight : ndarray
        Fraction of the spectrometer time each gets.
    continuous_time_s : float
        Spectrometer time of the continuous optimum (no rounding, no check points), in s.
    max_time_s : float
        Longest recoupling time that was allowed, in s.
    limit : str
        What set ``max_time_s``.
    """

    design: Design
    support_time_s: np.ndarray
    support_weight: np.ndarray
    continuous_time_s: float
    max_time_s: float = math.inf
    limit: str = ""


def _continuous_optimum(tr, sensitivity, targets, candidates):
    """Best design with at most two support points: exhaustive over pairs and time split."""
    y = tr.curve(candidates)
    _, _, _, sig1 = sensitivity.noise(candidates, np.ones(candidates.shape), y)
    tpair = 2.0 * sensitivity.scan_time(candidates)  # seconds for one S0 + S1 scan pair
    # Rows x_k: information per second of spectrometer time is x_k x_k^T.
    x = tr.jacobian(candidates) / (sig1 * np.sqrt(tpair))[:, None]
    grads = tr.gradients()
    cs = [(grads[k], v) for k, v in targets.items()]
    if x.shape[1] == 1:
        # One parameter: the single most informative time per second.
        info = x[:, 0] ** 2
        need = np.max([[c[0] ** 2 / info / v**2 for c, v in cs]], axis=(0, 1))
        k = int(np.argmin(need))
        return np.array([candidates[k]]), np.array([1.0]), float(need[k])
    i, j = np.triu_indices(candidates.size, 1)
    xi, xj = x[i], x[j]

    def need_for(w):
        # Time (s) to reach all targets with the fraction w of time at i, 1 - w at j.
        m = w * (xi[:, :, None] * xi[:, None, :]) + (1 - w) * (xj[:, :, None] * xj[:, None, :])
        det = m[..., 0, 0] * m[..., 1, 1] - m[..., 0, 1] ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.zeros(det.shape)
            for c, v in cs:
                q = (c[0] ** 2 * m[..., 1, 1] - 2 * c[0] * c[1] * m[..., 0, 1] + c[1] ** 2 * m[..., 0, 0]) / det
                out = np.maximum(out, q / v**2)
        # Nearly collinear rows (two almost equal times) give no joint information on (D, f).
        return np.where(det > 1e-10 * m[..., 0, 0] * m[..., 1, 1], out, np.inf)

    ws = np.linspace(0.02, 0.98, 49)
    best = np.full(i.size, np.inf)
    best_w = np.full(i.size, 0.5)
    for w in ws:
        n = need_for(w)
        better = n < best
        best[better], best_w[better] = n[better], w
    k = int(np.argmin(best))
    # Refine the split of the best pair and its neighbours in weight.
    sel = np.array([k])
    xi_k, xj_k = xi[sel], xj[sel]

    def need_pair(w):
        m = w * np.outer(xi_k[0], xi_k[0]) + (1 - w) * np.outer(xj_k[0], xj_k[0])
        try:
            inv = np.linalg.inv(m)
        except np.linalg.LinAlgError:
            return np.inf
        return max(c @ inv @ c / v**2 for c, v in cs)

    res = optimize.minimize_scalar(need_pair, bounds=(1e-3, 1 - 1e-3), method="bounded")
    w = float(res.x) if res.fun < best[k] else float(best_w[k])
    need = min(float(res.fun), float(best[k]))
    return np.array([candidates[i[k]], candidates[j[k]]]), np.array([w, 1 - w]), need


def first_maximum_time(model: CurveModel, coupling_hz: float, t_limit_s: float, n_grid: int = 4000):
    """Recoupling time of the first maximum of the dephasing curve, or None if it rises to ``t_limit_s``.

    Past its first maximum the RESPDOR / REDOR curve is no longer monotonic in D t: a point there
    is matched equally well by a smaller and a larger D, so the fit becomes ambiguous and the
    Fisher (linearised) errors stop describing the real scatter (see docs/planner.md).

    Parameters
    ----------
    model : CurveModel
    coupling_hz : float
        D in Hz.
    t_limit_s : float
        Longest time to search, in s.
    """
    t = np.linspace(t_limit_s / n_grid, t_limit_s, n_grid)
    g = model.normalised(t, coupling_hz)
    falling = np.flatnonzero(np.diff(g) < 0)
    return None if falling.size == 0 else float(t[falling[0]])


def longest_useful_time(sensitivity: Sensitivity, model: CurveModel, coupling_hz: float,
                        shortest_distance_angstrom: float | None = None, max_time_s: float | None = None,
                        first_maximum_limit: bool = True):
    """Longest recoupling time worth measuring, in s, and the reason for the limit.

    The smaller of (a) ``max_time_s`` (default 3 T2': S0 has fallen to 5 %) and (b) the first
    maximum of the curve for the shortest plausible distance (default 0.9 r), so that every
    point lies on the monotonic rise of the curve for all distances the user considers possible.
    ``first_maximum_limit=False`` drops (b).

    Returns
    -------
    t_max_s : float
    reason : str
    """
    if max_time_s is None:
        if not math.isfinite(sensitivity.t2prime_s):
            raise UserError("without T2' give the longest recoupling time (max_time_s)")
        max_time_s, reason = 3.0 * sensitivity.t2prime_s, f"3 T2' = {3e3 * sensitivity.t2prime_s:.3g} ms"
    else:
        reason = f"the maximum time given, {max_time_s * 1e3:.3g} ms"
    if max_time_s <= 0:
        raise UserError(f"longest recoupling time must be > 0, got {max_time_s!r} s")
    if not first_maximum_limit:
        return max_time_s, reason
    r = (model.dr3 / coupling_hz) ** (1.0 / 3.0)
    r_min = 0.9 * r if shortest_distance_angstrom is None else shortest_distance_angstrom
    if not 0 < r_min <= r:
        raise UserError(f"shortest plausible distance must lie in (0, {r:.3g}] angstrom, got {r_min!r}")
    t_peak = first_maximum_time(model, model.dr3 / r_min**3, max_time_s)
    if t_peak is not None and t_peak < max_time_s:
        return t_peak, (f"first maximum of the curve at r = {r_min:.3g} angstrom "
                        f"({t_peak * 1e3:.3g} ms; later points are ambiguous in D)")
    return max_time_s, reason


def _search_pairs(tr, sensitivity, targets, candidates, max_candidates=300):
    """``_continuous_optimum`` on a thinned grid, then at full resolution near the best pair.

    The pair search costs O(n^2); fast MAS with a long T2' gives thousands of rotor-period
    candidates. The criterion varies smoothly with the times, so a grid thinned to
    ``max_candidates`` finds the right neighbourhood and a local full-resolution search the
    exact rotor multiples.
    """
    n = candidates.size
    if n <= max_candidates:
        return _continuous_optimum(tr, sensitivity, targets, candidates)
    k = int(math.ceil(n / max_candidates))
    times, _, _ = _continuous_optimum(tr, sensitivity, targets, candidates[k - 1::k])
    near = np.zeros(n, bool)
    for t in times:
        j = int(np.argmin(np.abs(candidates - t)))
        near[max(j - 2 * k, 0):j + 2 * k + 1] = True
    return _continuous_optimum(tr, sensitivity, targets, candidates[near])


def optimise_design(sensitivity: Sensitivity, model: CurveModel, coupling_hz: float, fraction: float,
                    targets: dict, max_time_s: float | None = None, rotor_period_s: float = 1e-4,
                    step_periods: int = 1, phase_cycle: int = 8, check_points: int = 2,
                    check_share: float = 0.25, shortest_distance_angstrom: float | None = None, efficiency: float = 1.0,
                    abundance: float | None = None, fit_fraction: bool = True,
                    linearity_limit: float | None = 0.15, first_maximum_limit: bool = True) -> OptimalDesign:
    """Recoupling times and scans that meet the targets in the least spectrometer time.

    Parameters
    ----------
    sensitivity : Sensitivity
    model : CurveModel
    coupling_hz, fraction : float
        Assumed true D (Hz) and bonded fraction.
    targets : dict
        name -> wanted standard error (``distance_angstrom`` in angstrom, ``coupling_hz`` in Hz,
        ``fraction``); all must be met.
    max_time_s : float, optional
        Longest recoupling time allowed, in s (default 3 T2'); further limited by
        :func:`longest_useful_time`.
    rotor_period_s : float
        T_r = 1 / MAS rate, in s. Candidate times are k * step_periods * T_r.
    step_periods : int
        Recoupling increment in rotor periods (e.g. the length of the xy-8 or SR4 supercycle).
    phase_cycle : int
        Scans are whole multiples of this.
    check_points : int
        Extra recoupling times, evenly spaced below the longest optimal time, so that the fit keeps
        degrees of freedom to test the model. 0 gives the bare optimum (which has only as many
        times as parameters when f is fitted: no test).
    check_share : float
        Scans of each check point relative to the smallest optimal point (before the common
        scaling to the target).
    shortest_distance_angstrom : float, optional
        Shortest distance considered plausible (default 0.9 r); sets the first-maximum limit.
    efficiency, abundance, fit_fraction
        As in :func:`fisher_matrix`.
    linearity_limit : float or None
        Also require sigma(D)/D <= this (:func:`guarded_targets`), so that the predicted errors
        can be trusted.
    first_maximum_limit : bool
        Keep all times before the first maximum of the curve at the shortest plausible distance.

    Returns
    -------
    OptimalDesign
    """
    tr = _truth(model, coupling_hz, fraction, efficiency, abundance, fit_fraction)
    _check_targets(targets, fit_fraction)
    targets = guarded_targets(targets, coupling_hz, linearity_limit)
    if check_points < 0 or not 0 < check_share <= 1:
        raise UserError(f"check points must be >= 0 and their share in (0, 1], got {check_points}, {check_share}")
    t_max, reason = longest_useful_time(sensitivity, model, coupling_hz, shortest_distance_angstrom, max_time_s,
                                        first_maximum_limit)
    candidates = rotor_grid(rotor_period_s, t_max, step_periods)
    times, weights, need = _search_pairs(tr, sensitivity, targets, candidates)
    tpair = 2.0 * sensitivity.scan_time(times)
    scans = weights * need / tpair
    support = Design(times, _round_scans(scans, phase_cycle))
    # Model-check points: evenly spaced in (0, longest support time], away from the support.
    dt = step_periods * rotor_period_s
    extra = []
    if check_points:
        for tc in np.linspace(0, times.max(), check_points + 2)[1:-1]:
            tc = max(round(tc / dt), 1) * dt
            if np.all(np.abs(times - tc) > 0.5 * dt) and all(abs(e - tc) > 0.5 * dt for e in extra):
                extra.append(tc)
    t_all = np.concatenate([times, extra])
    # A check point must be able to show a misfit: give it a quarter of the scans of the
    # smallest support point (sigma(dS/S0) about twice as large), then scale everything.
    n_check = _round_scans(check_share * support.scans.min(), phase_cycle)[()] if extra else phase_cycle
    n_all = np.concatenate([support.scans, np.full(len(extra), n_check)])
    order = np.argsort(t_all)
    d = Design(t_all[order], n_all[order], label="optimised")
    d = scale_to_target(d, sensitivity, tr, targets, phase_cycle)
    return OptimalDesign(d, times, weights, need, t_max, reason)


# ---------------------------------------------------------------------------------------------
# 4. Validation by simulation
# ---------------------------------------------------------------------------------------------

def simulate_experiment(design: Design, sensitivity: Sensitivity, model: CurveModel, coupling_hz: float,
                        fraction: float, rng, efficiency: float = 1.0, abundance: float | None = None):
    """One noisy data set drawn from the planner's noise model.

    Returns
    -------
    DephasingCurve
        Built from S0 and S1 (single-scan noise units) with their noise, as a measured curve
        would be.
    """
    tr = _truth(model, coupling_hz, fraction, efficiency, abundance, True)
    y = tr.curve(design.time_s)
    s0, s1, sig, _ = sensitivity.noise(design.time_s, design.scans, y)
    s0_obs = s0 + sig * rng.standard_normal(s0.shape)
    s1_obs = s1 + sig * rng.standard_normal(s1.shape)
    # A non-positive S0 would make the ratio meaningless; it needs S/N < ~3 per point.
    s0_obs = np.maximum(s0_obs, 1e-3 * s0)
    return DephasingCurve.from_signals(design.time_s, s0_obs, s1_obs, sig, sig, source="simulated")


def monte_carlo(design: Design, sensitivity: Sensitivity, model: CurveModel, coupling_hz: float,
                fraction: float, n_experiments: int = 300, seed: int = 0, efficiency: float = 1.0,
                abundance: float | None = None, fit_fraction: bool = True, method: str = "ratio",
                progress=None):
    """Simulate and fit ``n_experiments`` data sets; compare the spread with the prediction.

    Each data set is drawn by :func:`simulate_experiment` and fitted with
    :func:`respdor.fitting.fit_curve` (the same model; efficiency and abundance fixed at the
    assumed values, f free or fixed as planned).

    Parameters
    ----------
    progress : callable, optional
        Called as ``progress(done, total)`` after each fit.

    Returns
    -------
    dict
        ``predicted`` and ``observed`` standard deviations of ``distance_angstrom``,
        ``coupling_hz`` and (if fitted) ``fraction``; ``mean`` of the fitted values, ``n_ok``
        (fits that converged away from bounds) and ``n_failed``.
    """
    tr = _truth(model, coupling_hz, fraction, efficiency, abundance, fit_fraction)
    pred = _prediction(tr, design, sensitivity)
    rng = np.random.default_rng(seed)
    fix = {"efficiency": tr.efficiency, "abundance": tr.abundance}
    if not fit_fraction:
        fix["fraction"] = tr.fraction
    names = ["coupling_hz", "distance_angstrom"] + (["fraction"] if fit_fraction else [])
    values = {k: [] for k in names}
    failed = 0
    for n in range(n_experiments):
        curve = simulate_experiment(design, sensitivity, model, coupling_hz, fraction, rng, efficiency, abundance)
        try:
            res = fit_curve(curve, model, fix=fix, method=method, intervals=False)
        except (UserError, ValueError, np.linalg.LinAlgError):
            res = None
        # A fit stuck on a bound has no meaningful value: counted apart, not in the spread.
        if res is None or any(res[k].at_bound for k in ("coupling_hz", "fraction") if k in res.parameters):
            failed += 1
        else:
            for k in names:
                values[k].append(res[k].value)
        if progress is not None:
            progress(n + 1, n_experiments)
    obs = {k: float(np.std(v, ddof=1)) if len(v) > 1 else float("nan") for k, v in values.items()}
    return {
        "predicted": {k: pred.sigma[k] for k in names},
        "observed": obs,
        "mean": {k: float(np.mean(v)) if v else float("nan") for k, v in values.items()},
        "n_ok": len(values["coupling_hz"]),
        "n_failed": failed,
        "prediction": pred,
    }
