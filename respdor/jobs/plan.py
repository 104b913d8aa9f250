"""``respdor plan`` as one call: recoupling times, scans and spectrometer hours for a target precision.

:func:`plan` checks the assumed sample and sensitivity, optimises the design (Cramer-Rao bound of the
model ``respdor fit`` uses, :mod:`respdor.planner`), compares it with the usual evenly spaced
design and, when asked, checks both by simulating and fitting noisy data sets; it returns a
:class:`PlanResult` (design table, hours, figure). Nothing is written unless asked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..display import ResultDisplay, axes_or_new
from ..errors import DataWarning, UserError, warn

__all__ = ["plan", "PlanResult"]

#: Longest recoupling-related time accepted (s): REDOR/RESPDOR echoes in solids last milliseconds;
#: beyond a second the time grid (multiples of the rotor period) would have millions of points.
LONGEST_TIME_S = 1.0

_LABELS = {"distance_angstrom": ("r", "A"), "coupling_hz": ("D", "Hz"), "fraction": ("f", "")}


def _positive(value, name):
    if value is None or not (value > 0) or not math.isfinite(value):
        raise UserError(f"{name}={value!r}: must be a positive number")
    return float(value)


def _seconds_text(value):
    """A time as one would type it: ``5s``, ``5ms``, ``50us``."""
    for scale, unit in ((1.0, "s"), (1e-3, "ms")):
        if abs(value) >= scale:
            return f"{value / scale:g}{unit}"
    return f"{value * 1e6:g}us"


def _times_sane(t2, t_ref, max_time, cmp_max, check_points, compare_points):
    """Refuse times no REDOR experiment has (and that would make the design grid explode)."""
    for name, value in (("t2prime_s", t2), ("reference_time_s", t_ref), ("max_time_s", max_time),
                        ("compare_max_time_s", cmp_max)):
        if value is None or not math.isfinite(value):
            continue
        if name != "reference_time_s" and not value > 0:
            raise UserError(f"{name}={value:g}: must be > 0")
        if not 0 <= value <= LONGEST_TIME_S:
            raise UserError(f"{name}={value:g}: must lie in 0-{LONGEST_TIME_S:g} s")
    if not 0 <= check_points <= 20:
        raise UserError(f"check_points={check_points}: must lie in 0..20")
    if compare_points > 1000:
        raise UserError(f"compare_points={compare_points}: at most 1000")


def _t2prime(t2prime_s, t2prime_from, notes):
    """T2' (s) given, fitted to the S0 column of a curve, or infinite (said)."""
    if t2prime_from is not None:
        if t2prime_s is not None:
            raise UserError("give t2prime_s or t2prime_from, not both")
        from ..curve import DephasingCurve
        from ..planner import fit_t2prime

        curve = t2prime_from
        if not isinstance(curve, DephasingCurve):
            from ..io import read_curve

            curve = read_curve(t2prime_from)
        if curve.s0 is None:
            raise UserError(f"t2prime_from: {curve.source} has no S0 column to fit T2' to")
        t2, _ = fit_t2prime(curve.time_s, curve.s0, curve.sigma_s0)
        notes.append(f"T2' = {t2 * 1e3:.3g} ms fitted to the {curve.n_points} S0 values of {curve.source}"
                     + ("" if curve.sigma_s0 is not None else " (equal weights: no sigma_S0 column)"))
        return t2
    if t2prime_s is None:
        notes.append("no t2prime_s: S0 assumed not to decay with recoupling time")
        return math.inf
    return _positive(t2prime_s, "t2prime_s")


def _targets(distance_error, coupling_error, fraction_error):
    targets = {}
    for key, name, value in (("distance_angstrom", "target_distance_error_angstrom", distance_error),
                             ("coupling_hz", "target_coupling_error_hz", coupling_error),
                             ("fraction", "target_fraction_error", fraction_error)):
        if value is not None:
            targets[key] = _positive(value, name)
    if not targets:
        raise UserError("give a target: target_distance_error_angstrom, target_coupling_error_hz or "
                        "target_fraction_error")
    return targets


def plan(*, fraction, snr, scans, recycle_s, mas_rate_hz, distance_angstrom=None, coupling_hz=None,
         target_distance_error_angstrom=None, target_coupling_error_hz=None, target_fraction_error=None,
         observe="13C", partner="27Al", experiment="respdor", sequence="redor", efficiency=1.0, fix_fraction=False,
         shortest_distance_angstrom=None, buildup_s=None, beta=1.0, enhancement=1.0, t2prime_s=None,
         t2prime_from=None, reference_time_s=0.0, plan_recycle_s=None, overhead_s=0.0, step_periods=1,
         phase_cycle=8, max_time_s=None, linearity_limit=0.15, check_points=2, compare_points=16,
         compare_max_time_s=3e-3, monte_carlo=0, seed=0, progress=None) -> PlanResult:
    """Plan a REDOR / RESPDOR experiment: the design that reaches a target precision in the least time.

    From the S/N of a reference spectrum (with its scans and recycle delay), the DNP build-up time,
    the echo decay T2' and the assumed distance and bonded fraction, predicts the standard errors of
    D, r and f (Cramer-Rao bound of the model ``respdor fit`` uses) and the spectrometer time (S0 and
    S1 at every point), for the optimised design and for the usual evenly spaced one.

    Parameters
    ----------
    fraction : float
        Assumed bonded fraction f in (0, 1].
    snr : float
        S/N of the reference spectrum.
    scans : int
        Scans of the reference spectrum.
    recycle_s : float
        Recycle delay of the reference spectrum (s).
    mas_rate_hz : float
        MAS rate (Hz, 0.5-200 kHz); recoupling times are multiples of the rotor period.
    distance_angstrom, coupling_hz : float
        The assumed distance (angstrom) or dipolar coupling D (Hz): exactly one.
    target_distance_error_angstrom, target_coupling_error_hz, target_fraction_error : float, optional
        Wanted standard errors of r (angstrom), D (Hz) and f; at least one.
    observe, partner : str
        Observed spin-1/2 and recoupled partner isotopes.
    experiment, sequence : str
        ``"respdor"`` or ``"redor"``; recoupling ``"redor"`` or ``"sr4"``.
    efficiency, fix_fraction : float, bool
        Saturation efficiency in (0, 1], fixed in the fit; the fraction known and fixed (only D fitted).
    shortest_distance_angstrom : float, optional
        Shortest plausible distance (default 0.9 x distance): no point past its curve's first maximum.
    buildup_s, beta : float, optional
        DNP build-up time T_B (s) and its stretch exponent in (0, 1.5]; with T_B the planned recycle
        delay is the optimum.
    enhancement : float
        Microwave enhancement to apply when the reference was recorded without microwaves.
    t2prime_s : float, optional
        Decay time T2' (s) of S0 with recoupling time; or ``t2prime_from``: a curve (path or
        :class:`~respdor.curve.DephasingCurve`) with an S0 column to fit it to. Neither: no decay.
    reference_time_s, plan_recycle_s, overhead_s : float
        Recoupling time of the reference spectrum (s), recycle delay of the planned experiment (s;
        default: the optimum with ``buildup_s``, else ``recycle_s``), time per scan besides recycle
        and recoupling (s).
    step_periods, phase_cycle, max_time_s : int, int, float
        Recoupling increment in rotor periods; scans are multiples of ``phase_cycle``; longest
        recoupling time allowed (s; default 3 T2').
    linearity_limit : float
        Also require sigma(D)/D <= this (0: off), so that the predicted errors hold.
    check_points, compare_points : int
        Extra model-check points of the optimised design; points of the evenly spaced design.
    compare_max_time_s : float
        Longest time of the evenly spaced design (s).
    monte_carlo, seed : int
        Check each design by simulating and fitting this many noisy data sets (0: no check).
    progress : optional
        See :mod:`spinsim.progress` (the Monte Carlo check).

    Returns
    -------
    PlanResult

    Examples
    --------
    >>> import respdor
    >>> p = respdor.plan(distance_angstrom=2.5, fraction=0.24, snr=40, scans=64, recycle_s=5,
    ...                  t2prime_s=8e-3, target_distance_error_angstrom=0.1, mas_rate_hz=10e3)
    >>> round(p.hours["optimised"], 2) < round(p.hours["even"], 2)
    True
    """
    from spinsim.progress import as_progress

    a = dict(locals())
    c = _checked(a)
    reporter = as_progress(progress)
    common = dict(efficiency=efficiency, fit_fraction=not fix_fraction)
    grid = dict(rotor_period_s=1.0 / c["mas"], step_periods=step_periods, phase_cycle=phase_cycle)
    result = _designs(c["sens"], c["model"], c["coupling"], fraction, c["targets"],
                      dict(common, linearity_limit=c["guard"]), grid,
                      dict(max_time_s=max_time_s, check_points=check_points,
                           shortest_distance_angstrom=shortest_distance_angstrom),
                      dict(n_points=compare_points, max_time_s=compare_max_time_s or 3e-3), reporter)
    sens, model = c["sens"], c["model"]
    result.update(notes=list(sens.notes) + c["notes"], warnings=c["warnings"], distance_angstrom=c["r"],
                  coupling_hz=c["coupling"], fraction=fraction, fit_fraction=not fix_fraction, efficiency=efficiency,
                  mas_rate_hz=c["mas"], snr_per_scan=sens.snr_per_scan, plan_recycle_s=sens.plan_recycle_s,
                  t2prime_s=sens.t2prime_s, targets=c["targets"], linearity_limit=c["guard"], observe=observe,
                  partner=partner, experiment=experiment, sequence=sequence, model=model.describe(),
                  pair=model.pair, kappa=model.default_scaling, abundance=model.partner_isotope.abundance)
    out = PlanResult(**result)
    if monte_carlo:
        out.monte_carlo = _monte_carlo(out, sens, model, common, monte_carlo, seed, reporter)
    return out


def _checked(a: dict) -> dict:
    """Every check of :func:`plan`'s arguments ``a``, in the command's order; the sensitivity, model,
    assumed coupling, targets, notes and warnings."""
    from ..fitting import CurveModel
    from ..planner import Sensitivity
    from ..units import check_observed_spin_half, plausible

    notes, warnings = [], []
    recycle = _positive(a["recycle_s"], "recycle_s")
    if a["buildup_s"] is not None:
        _positive(a["buildup_s"], "buildup_s")
    for name in ("recycle_s", "buildup_s", "plan_recycle_s"):
        if a[name] is not None:
            plausible("recycle_delay", a[name], name, _seconds_text(a[name]), warnings)
    t2 = _t2prime(a["t2prime_s"], a["t2prime_from"], notes)
    mas = _positive(a["mas_rate_hz"], "mas_rate_hz")
    if not 500.0 <= mas <= 2e5:
        raise UserError(f"mas_rate_hz={mas:g}: outside 0.5-200 kHz")
    _positive(a["snr"], "snr")
    _positive(a["enhancement"], "enhancement")
    if not 0 < a["beta"] <= 1.5:
        raise UserError(f"beta={a['beta']!r}: must lie in (0, 1.5]")
    if not 0 < a["efficiency"] <= 1:
        raise UserError(f"efficiency={a['efficiency']!r}: must lie in (0, 1]")
    _times_sane(t2, a["reference_time_s"], a["max_time_s"], a["compare_max_time_s"], a["check_points"],
                a["compare_points"])
    if a["scans"] < 1 or a["phase_cycle"] < 1 or a["step_periods"] < 1 or a["compare_points"] < 3:
        raise UserError("scans, phase_cycle and step_periods must be >= 1 and compare_points >= 3")
    if a["monte_carlo"] < 0:
        raise UserError(f"monte_carlo={a['monte_carlo']}: must be >= 0")
    check_observed_spin_half(a["observe"], "observe")
    model = CurveModel(a["observe"], a["partner"], experiment=a["experiment"], sequence=a["sequence"])
    coupling, r = _assumed(model, a["distance_angstrom"], a["coupling_hz"])
    if not 0 < a["fraction"] <= 1:
        raise UserError(f"fraction={a['fraction']!r}: must lie in (0, 1]")
    targets = _targets(a["target_distance_error_angstrom"], a["target_coupling_error_hz"], a["target_fraction_error"])
    if a["linearity_limit"] < 0:
        raise UserError(f"linearity_limit={a['linearity_limit']!r}: must be >= 0")
    guard = a["linearity_limit"] or None
    if guard is not None:
        notes.append(f"linearity guard: sigma(D)/D <= {guard:g} is required as well (simulated fits match the "
                     "predicted errors up to about 0.15; beyond, the fit is too non-linear)")
    for w in warnings:
        warn(w, DataWarning, stacklevel=4)
    sens = Sensitivity(snr=a["snr"], scans=a["scans"], recycle_s=recycle, buildup_s=a["buildup_s"], beta=a["beta"],
                       enhancement=a["enhancement"], t2prime_s=t2, reference_time_s=a["reference_time_s"] or 0.0,
                       plan_recycle_s=a["plan_recycle_s"], overhead_s=a["overhead_s"] or 0.0)
    return dict(sens=sens, model=model, coupling=coupling, r=r, mas=mas, targets=targets, guard=guard, notes=notes,
                warnings=warnings)


def _assumed(model, distance_angstrom, coupling_hz):
    """(D in Hz, r in angstrom) from exactly one of them."""
    if (distance_angstrom is None) == (coupling_hz is None):
        raise UserError("give exactly one of distance_angstrom and coupling_hz")
    if distance_angstrom is not None:
        r = _positive(distance_angstrom, "distance_angstrom")
        return model.dr3 / r**3, r
    d = _positive(coupling_hz, "coupling_hz")
    return d, (model.dr3 / d) ** (1.0 / 3.0)


def _designs(sens, model, coupling, fraction, targets, design_opts, grid, opt_opts, even_opts, progress):
    """The optimised and the evenly spaced design, each with its predicted errors, as PlanResult fields."""
    from ..planner import even_design, optimise_design, predict

    progress.note("respdor plan: optimising the design ...")
    common = {k: design_opts[k] for k in ("efficiency", "fit_fraction")}
    opt = optimise_design(sens, model, coupling, fraction, targets, **opt_opts, **grid, **design_opts)
    even = even_design(sens, model, coupling, fraction, targets, **even_opts, **grid, **design_opts)
    designs = {}
    for name, d in (("optimised", opt.design), ("even", even)):
        p = predict(d, sens, model, coupling, fraction, **common)
        t = np.asarray(d.time_s, float)
        n = np.asarray(d.scans, int)
        designs[name] = {"label": "optimised" if name == "optimised" else d.label, "time_s": t, "scans": n,
                         "dss0": np.asarray(p.dss0, float), "sigma_dss0": np.asarray(p.sigma_dss0, float),
                         "minutes": 2 * n * np.asarray(sens.scan_time(t), float) / 60,
                         "s0_snr": np.asarray(sens.s0(t), float) * np.sqrt(n),
                         "total_time_s": float(p.total_time_s), "sigma": dict(p.sigma)}
    return {"designs": designs, "max_time_s": float(opt.max_time_s), "limit": opt.limit}


def _monte_carlo(result, sens, model, common, n, seed, progress):
    """Simulated and fitted data sets of each design: predicted and observed spreads."""
    from spinsim.progress import tracking

    from ..planner import Design, monte_carlo

    out = {}
    for name, d in result.designs.items():
        with tracking(progress, n, f"Monte Carlo {name}", "fits") as bar:
            mc = monte_carlo(Design(d["time_s"], d["scans"], label=d["label"]), sens, model, result.coupling_hz,
                             result.fraction, n_experiments=n, seed=seed,
                             progress=lambda done, total: bar.advance(1), **common)
        out[name] = {k: mc[k] for k in ("predicted", "observed", "mean", "n_ok", "n_failed")}
    return out


@dataclass(repr=False)
class PlanResult(ResultDisplay):
    """What :func:`plan` (``respdor plan``) predicts: two designs, their errors and hours.

    Attributes
    ----------
    designs : dict
        ``"optimised"`` and ``"even"``: ``label``, ``time_s`` (s), ``scans`` (per spectrum, S0 and
        S1 each), expected ``dss0`` and its noise ``sigma_dss0``, ``minutes`` per point, ``s0_snr``,
        ``total_time_s`` and the predicted ``sigma`` of ``coupling_hz``, ``distance_angstrom`` (and
        ``fraction`` when fitted).
    max_time_s : float
        Longest recoupling time allowed (s), and ``limit``: what set it.
    notes : list of str
        The choices made (recycle delay, T2', linearity guard).
    warnings : list of str
    monte_carlo : dict or None
        Per design: ``predicted`` and ``observed`` standard deviations, ``mean``, ``n_ok``, ``n_failed``.
    """

    designs: dict
    max_time_s: float
    limit: str
    notes: list
    warnings: list
    distance_angstrom: float
    coupling_hz: float
    fraction: float
    fit_fraction: bool
    efficiency: float
    mas_rate_hz: float
    snr_per_scan: float
    plan_recycle_s: float
    t2prime_s: float
    targets: dict
    linearity_limit: float | None
    observe: str
    partner: str
    experiment: str
    sequence: str
    model: str
    pair: str
    kappa: float
    abundance: float
    monte_carlo: dict | None = field(default=None)

    @property
    def hours(self) -> dict:
        """Spectrometer hours of each design."""
        return {k: d["total_time_s"] / 3600 for k, d in self.designs.items()}

    def _title(self):
        return f"{self.pair}, r = {self.distance_angstrom:.3f} A, f = {self.fraction:g}"

    def _headline(self):
        h, o = self.hours, self.designs["optimised"]
        return (f"optimised {h['optimised']:.2f} h ({len(o['time_s'])} points, sigma(r) = "
                f"{o['sigma']['distance_angstrom']:.3g} A) vs evenly spaced {h['even']:.2f} h")

    def _rows(self):
        rows = []
        for name, d in self.designs.items():
            for k, t in enumerate(d["time_s"]):
                rows.append({"design": name, "t_rec_ms": 1e3 * t, "n_rotor": int(round(t * self.mas_rate_hz)),
                             "lambda": self.kappa * self.coupling_hz * t, "dSS0": d["dss0"][k],
                             "scans": int(d["scans"][k]), "sigma_dSS0": d["sigma_dss0"][k],
                             "S0_snr": d["s0_snr"][k], "minutes": d["minutes"][k]})
        return rows

    def to_dict(self) -> dict:
        from ..resultio import plain

        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return plain(out)

    @classmethod
    def from_dict(cls, data: dict):
        try:
            kw = {k: data[k] for k in cls.__dataclass_fields__ if k != "monte_carlo"}
        except KeyError as exc:
            raise UserError(f"not the JSON of a plan: no {exc.args[0]!r}") from None
        kw["designs"] = {name: {k: (np.asarray(v, float) if isinstance(v, list) else v) for k, v in d.items()}
                         for name, d in kw["designs"].items()}
        for d in kw["designs"].values():
            d["scans"] = d["scans"].astype(int)
        kw["t2prime_s"] = math.inf if kw["t2prime_s"] is None else kw["t2prime_s"]
        return cls(**kw, monte_carlo=data.get("monte_carlo"))

    def plot(self, ax=None):
        """The assumed curve and the predicted data (+/- 1 sigma) of both designs on ``ax``."""
        from ..fitting import CurveModel

        ax = axes_or_new(ax, (6.4, 4.2))
        model = CurveModel(self.observe, self.partner, experiment=self.experiment, sequence=self.sequence)
        tmax = max(float(np.max(d["time_s"])) for d in self.designs.values())
        t = np.linspace(0, 1.15 * tmax, 300)
        amp = self.fraction * self.efficiency * self.abundance
        ax.plot(t * 1e3, amp * model.normalised(t, self.coupling_hz), "k-", lw=1, label="assumed curve")
        for (name, d), colour, marker in zip(self.designs.items(), ("C3", "C0"), ("o", "s")):
            label = (f"{d['label']}: {d['total_time_s'] / 3600:.1f} h, "
                     f"sigma(r) = {d['sigma']['distance_angstrom']:.3f} A")
            ax.errorbar(d["time_s"] * 1e3, d["dss0"], yerr=d["sigma_dss0"], fmt=marker, color=colour, ms=4,
                        capsize=2, label=label, alpha=0.85)
        ax.set_xlabel("recoupling time / ms")
        ax.set_ylabel("dS/S0 (predicted, +/- 1 sigma)")
        ax.set_title(f"{self.pair}: predicted data of the planned designs")
        ax.legend(fontsize=8)
        return ax

    def report_lines(self, notes_before=(), notes_after=(), words=None) -> list[str]:
        """What the command prints (standard output). ``notes_before``/``notes_after``: notes of the caller
        (units assumed) placed before/after the plan's note on T2'; ``words`` rewrites the plan's notes
        and hints (the command line names its options there)."""
        return _report_lines(self, list(notes_before), list(notes_after), words or (lambda text: text))


def _report_lines(p: PlanResult, before, after, words) -> list[str]:
    t2 = "none" if not math.isfinite(p.t2prime_s) else f"{p.t2prime_s * 1e3:.3g} ms"
    out = [f"respdor plan: {p.model}",
           f"  assumed D = {p.coupling_hz:.1f} Hz (r = {p.distance_angstrom:.3f} A), fraction {p.fraction:g}"
           f"{' (fixed in the fit)' if not p.fit_fraction else ''}, efficiency {p.efficiency:g}, "
           f"MAS {p.mas_rate_hz / 1e3:g} kHz (T_r = {1e6 / p.mas_rate_hz:.1f} us)",
           f"  S/N of S0 per scan at t = 0: {p.snr_per_scan:.3g}; recycle delay {p.plan_recycle_s:.3g} s; T2' {t2}"]
    t2 = [n for n in p.notes if n.startswith(("T2' = ", "no t2prime_s"))]
    guard = [n for n in p.notes if n.startswith("linearity guard")]
    sens = [n for n in p.notes if n not in t2 and n not in guard]
    out += [f"  note: {words(n)}" for n in sens + before + t2 + after + guard]
    out.append(f"  longest recoupling time: {p.max_time_s * 1e3:.3g} ms ({p.limit})")
    shown = [f"sigma({_LABELS[k][0]}) <= {v:g}{' ' + _LABELS[k][1] if _LABELS[k][1] else ''}"
             for k, v in p.targets.items()]
    guard = p.linearity_limit
    if guard is not None and guard * p.coupling_hz < p.targets.get("coupling_hz", math.inf):
        shown.append(f"sigma(D) <= {guard * p.coupling_hz:.3g} Hz (linearity guard)")
    out.append("  targets: " + ", ".join(shown))
    for name, d in p.designs.items():
        out += _design_lines(p, name, d)
    t_opt, t_even = p.designs["optimised"]["total_time_s"], p.designs["even"]["total_time_s"]
    out += [f"\noptimised: {t_opt / 3600:.2f} h; evenly spaced: {t_even / 3600:.2f} h; "
            f"saving {100 * (1 - t_opt / t_even):.0f} % (factor {t_even / t_opt:.2f})",
            words("  predicted errors are Cramer-Rao bounds (Fisher information); they hold while the fit is "
                  "nearly linear: check with monte_carlo=N")]
    for name, mc in (p.monte_carlo or {}).items():
        parts = [f"{k}: predicted {mc['predicted'][k]:.3g}, observed {mc['observed'][k]:.3g}" for k in mc["predicted"]]
        out.append(f"Monte Carlo {name} ({mc['n_ok']} fits, {mc['n_failed']} failed or at a bound): "
                   + "; ".join(parts))
    return out


def _design_lines(p, name, d):
    title = "optimised design" if name == "optimised" else f"evenly spaced design ({d['label']})"
    out = [f"\n{title}", f"  {'t_rec/ms':>9} {'n_rotor':>7} {'lambda':>7} {'dS/S0':>7} {'scans':>7} {'sigma':>7} "
                         f"{'S0 S/N':>7} {'minutes':>8}"]
    for t, n, y, s, snr, minutes in zip(d["time_s"], d["scans"], d["dss0"], d["sigma_dss0"], d["s0_snr"],
                                        d["minutes"]):
        out.append(f"  {t * 1e3:9.3f} {round(t * p.mas_rate_hz):7d} {p.kappa * p.coupling_hz * t:7.3f} {y:7.4f} "
                   f"{int(n):7d} {s:7.4f} {snr:7.1f} {minutes:8.1f}")
    sig = d["sigma"]
    errs = [f"sigma(D) = {sig['coupling_hz']:.3g} Hz", f"sigma(r) = {sig['distance_angstrom']:.3g} A"]
    if "fraction" in sig:
        errs.append(f"sigma(f) = {sig['fraction']:.3g}")
    out.append(f"  scans are per spectrum (S0 and S1 each); total {d['total_time_s'] / 3600:.2f} h; " + ", ".join(errs))
    return out
