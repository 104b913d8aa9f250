"""``respdor plan``: how many scans at which recoupling times, and how many hours, for a target precision."""

from __future__ import annotations

import argparse
import csv
import math
import sys

from ..errors import UserError
from ..units import plausible, check_observed_spin_half, finite_float, parse_frequency, parse_length, parse_time

_DESCRIPTION = """\
Plan a REDOR / RESPDOR experiment before running it.

From the S/N of a reference spectrum (with its scans and recycle delay), the DNP build-up time,
the echo decay T2' and the assumed distance and bonded fraction, predict the standard errors of
D, r and f (Cramer-Rao bound of the same model `respdor fit` uses) and the spectrometer time
(S0 and S1 at every point, recycle delay + recoupling + overhead per scan). Prints the optimised
design (recoupling times, multiples of the rotor period, and scans per point) that reaches the
target in the least time, next to the usual evenly spaced design.

Units: times take s, ms or us ("8ms"), frequencies Hz, k or kHz ("10k"), distances A or nm;
a bare number takes the unit named in the option's help and the output says so.
"""

_EPILOG = """\
examples:
  respdor plan --observe 13C --partner 27Al --distance 2.5 --fraction 0.24 --snr 40 --scans 64 \\
      --recycle 5 --t2prime 8ms --target-distance-error 0.1 --mas 10k
  respdor plan --distance 2.5 --fraction 0.2 --snr 40 --scans 64 --recycle 5 --buildup 4 \\
      --t2prime 8ms --target-fraction-error 0.05 --mas 10k --csv plan.csv --figure plan.png
"""


def register(subparsers):
    p = subparsers.add_parser("plan", help="predict experiment time and choose recoupling times for a target precision",
                              description=_DESCRIPTION, epilog=_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("nuclei and model (as for respdor fit)")
    g.add_argument("--observe", default="13C", metavar="ISOTOPE", help="observed spin-1/2 nucleus (default 13C)")
    g.add_argument("--partner", default="27Al", metavar="ISOTOPE", help="recoupled partner (default 27Al)")
    g.add_argument("--experiment", choices=("respdor", "redor"), default="respdor",
                   help="respdor (saturation of the partner, default) or redor")
    g.add_argument("--sequence", choices=("redor", "sr4"), default="redor",
                   help="recoupling sequence: redor (kappa 1, default) or sr4 (kappa 0.5554)")
    g.add_argument("--efficiency", type=finite_float, default=1.0,
                   help="saturation efficiency, fixed in the fit (default 1)")
    g = p.add_argument_group("assumed sample")
    g.add_argument("--distance", help="assumed distance (bare number: angstrom)")
    g.add_argument("--coupling", help="assumed dipolar coupling D instead of --distance (bare number: Hz)")
    g.add_argument("--fraction", type=finite_float, required=True, help="assumed bonded fraction f")
    g.add_argument("--fix-fraction", action="store_true",
                   help="the fraction is known and will be fixed in the fit (only D is fitted)")
    g.add_argument("--shortest-distance",
                   help="shortest plausible distance (bare: angstrom; default 0.9 x distance): no point is "
                        "planned past the first maximum of its curve")
    g = p.add_argument_group("sensitivity")
    g.add_argument("--snr", type=finite_float, required=True, help="S/N of the reference spectrum (integral used)")
    g.add_argument("--scans", type=int, required=True, help="scans of the reference spectrum")
    g.add_argument("--recycle", required=True, help="recycle delay of the reference spectrum (bare number: s)")
    g.add_argument("--buildup", help="DNP build-up time T_B (bare number: s); enables the optimum recycle delay")
    g.add_argument("--beta", type=finite_float, default=1.0, help="stretch exponent of the build-up (default 1)")
    g.add_argument("--enhancement", type=finite_float, default=1.0,
                   help="microwave enhancement to apply if the reference was recorded without microwaves "
                        "(default 1: reference recorded under the planned conditions)")
    g.add_argument("--t2prime", help="decay time T2' of S0 with recoupling time (bare number: ms)")
    g.add_argument("--t2prime-from", metavar="FILE",
                   help="fit T2' to the S0 column of a measured curve file (format of respdor fit) instead of "
                        "--t2prime")
    g.add_argument("--time-unit", choices=("s", "ms", "us"),
                   help="time unit of the --t2prime-from file when its header does not state it")
    g.add_argument("--reference-time",
                   help="recoupling time of the reference spectrum (bare number: ms; default 0, a CP spectrum)")
    g.add_argument("--plan-recycle", help="recycle delay of the planned experiment (bare number: s); default: "
                   "the optimum with --buildup, else --recycle")
    g.add_argument("--overhead",
                   help="time per scan besides recycle and recoupling: CP, acquisition (bare number: ms; default 0)")
    g = p.add_argument_group("timing and targets")
    g.add_argument("--mas", required=True, help="MAS rate (bare number: Hz); times are multiples of 1/MAS")
    g.add_argument("--step", type=int, default=1, help="recoupling increment in rotor periods (default 1)")
    g.add_argument("--phase-cycle", type=int, default=8, help="scans are multiples of this (default 8)")
    g.add_argument("--max-time", help="longest recoupling time allowed (bare number: ms; default 3 T2')")
    g.add_argument("--target-distance-error", help="wanted standard error of r (bare number: angstrom)")
    g.add_argument("--target-coupling-error", help="wanted standard error of D (bare number: Hz)")
    g.add_argument("--target-fraction-error", type=finite_float, help="wanted standard error of the fraction")
    g.add_argument("--linearity-limit", type=finite_float, default=0.15,
                   help="also require sigma(D)/D <= this, so that the predicted errors hold (default 0.15; "
                        "0 switches the guard off)")
    g.add_argument("--check-points", type=int, default=2,
                   help="extra model-check points in the optimised design, each with a quarter of the scans "
                        "of the smallest optimal point (default 2)")
    g.add_argument("--compare-points", type=int, default=16,
                   help="points of the evenly spaced design to compare with (default 16)")
    g.add_argument("--compare-max-time",
                   help="longest time of the evenly spaced design (bare number: ms; default 3 ms)")
    g = p.add_argument_group("output")
    g.add_argument("--csv", help="write both designs as CSV to this file")
    g.add_argument("--figure", help="write the predicted curves with predicted error bars (PNG/PDF)")
    g.add_argument("--monte-carlo", type=int, default=0, metavar="N",
                   help="check the prediction: simulate and fit N noisy data sets of each design")
    g.add_argument("--seed", type=int, default=0, help="random seed of the Monte Carlo check")
    p.set_defaults(func=run)
    from . import OptionRule, declare_option_rules

    declare_option_rules(p, [OptionRule.needs("--seed", "--monte-carlo"),
                             OptionRule.needs("--beta", "--buildup", advice="it shapes the DNP build-up"),
                             OptionRule.needs("--time-unit", "--t2prime-from",
                                              advice="it is the time unit of that file")])


def _quantity(parser, text, option, default_unit, unit_label, notes):
    if text is None:
        return None
    value, explicit = parser(text, option=option, default_unit=default_unit)
    if not explicit:
        notes.append(f"{option} {text}: no unit given, read as {text} {unit_label}")
    return value


def _positive(value, option, text):
    if value is None or not (value > 0) or not math.isfinite(value):
        raise UserError(f"{option}: must be a positive number, got {text!r}")
    return value


def run(args) -> int:
    import numpy as np

    from spinsim.dipolar import distance_from_coupling

    from ..fitting import CurveModel
    from ..planner import Sensitivity, even_design, monte_carlo, optimise_design, predict

    notes = []
    plan = _plan_outputs(args)
    # --- units, all converted to SI (s, Hz) or angstrom here and nowhere else
    recycle = _positive(_quantity(parse_time, args.recycle, "--recycle", "s", "s", notes), "--recycle", args.recycle)
    buildup = _quantity(parse_time, args.buildup, "--buildup", "s", "s", notes)
    if buildup is not None:
        _positive(buildup, "--buildup", args.buildup)
    plan_recycle = _quantity(parse_time, args.plan_recycle, "--plan-recycle", "s", "s", notes)
    option_warnings = []
    for option, text, value in (("--recycle", args.recycle, recycle), ("--buildup", args.buildup, buildup),
                                ("--plan-recycle", args.plan_recycle, plan_recycle)):
        if value is not None:
            plausible("recycle_delay", value, option, text, option_warnings)
    for w in option_warnings:
        print(f"warning: {w}", file=sys.stderr)
    t2 = _quantity(parse_time, args.t2prime, "--t2prime", "ms", "ms", notes)
    if args.t2prime_from is not None:
        if t2 is not None:
            raise UserError("give --t2prime or --t2prime-from, not both")
        from ..io import read_curve
        from ..planner import fit_t2prime

        curve = read_curve(args.t2prime_from, time_unit=args.time_unit)
        if curve.s0 is None:
            raise UserError(f"--t2prime-from: {args.t2prime_from} has no S0 column to fit T2' to")
        t2, _ = fit_t2prime(curve.time_s, curve.s0, curve.sigma_s0)
        notes.append(f"T2' = {t2 * 1e3:.3g} ms fitted to the {curve.n_points} S0 values of {args.t2prime_from}"
                     + ("" if curve.sigma_s0 is not None else " (equal weights: no sigma_S0 column)"))
    if t2 is None:
        t2 = math.inf
        notes.append("no --t2prime: S0 assumed not to decay with recoupling time")
    else:
        _positive(t2, "--t2prime", args.t2prime)
    t_ref = _quantity(parse_time, args.reference_time, "--reference-time", "ms", "ms", notes) or 0.0
    overhead = _quantity(parse_time, args.overhead, "--overhead", "ms", "ms", notes) or 0.0
    mas = _positive(_quantity(parse_frequency, args.mas, "--mas", "hz", "Hz", notes), "--mas", args.mas)
    if not 500.0 <= mas <= 2e5:
        raise UserError(f"--mas: {args.mas!r} gives {mas:g} Hz, outside 0.5-200 kHz; write e.g. 10k or 10kHz")
    max_time = _quantity(parse_time, args.max_time, "--max-time", "ms", "ms", notes)
    cmp_max = _quantity(parse_time, args.compare_max_time, "--compare-max-time", "ms", "ms", notes) or 3e-3
    _positive(args.snr, "--snr", args.snr)
    _positive(args.enhancement, "--enhancement", args.enhancement)
    if not 0 < args.beta <= 1.5:
        raise UserError(f"--beta: must lie in (0, 1.5], got {args.beta!r}")
    if not 0 < args.efficiency <= 1:
        raise UserError(f"--efficiency: must lie in (0, 1], got {args.efficiency!r}")
    _recoupling_times_sane(args, t2, t_ref, max_time, cmp_max)
    if args.scans < 1 or args.phase_cycle < 1 or args.step < 1 or args.compare_points < 3:
        raise UserError("--scans, --phase-cycle and --step must be >= 1 and --compare-points >= 3")
    if args.monte_carlo < 0:
        raise UserError(f"--monte-carlo: must be >= 0, got {args.monte_carlo}")

    check_observed_spin_half(args.observe)
    model = CurveModel(args.observe, args.partner, experiment=args.experiment, sequence=args.sequence)
    if (args.distance is None) == (args.coupling is None):
        raise UserError("give exactly one of --distance and --coupling")
    if args.distance is not None:
        r = _positive(_quantity(parse_length, args.distance, "--distance", "a", "angstrom", notes),
                      "--distance", args.distance)
        coupling = model.dr3 / r**3
    else:
        coupling = _positive(_quantity(parse_frequency, args.coupling, "--coupling", "hz", "Hz", notes),
                             "--coupling", args.coupling)
        r = (model.dr3 / coupling) ** (1.0 / 3.0)
    r_min = _quantity(parse_length, args.shortest_distance, "--shortest-distance", "a", "angstrom", notes)
    if not 0 < args.fraction <= 1:
        raise UserError(f"--fraction: must lie in (0, 1], got {args.fraction!r}")

    targets = {}
    t_r = _quantity(parse_length, args.target_distance_error, "--target-distance-error", "a", "angstrom", notes)
    if t_r is not None:
        targets["distance_angstrom"] = _positive(t_r, "--target-distance-error", args.target_distance_error)
    t_d = _quantity(parse_frequency, args.target_coupling_error, "--target-coupling-error", "hz", "Hz", notes)
    if t_d is not None:
        targets["coupling_hz"] = _positive(t_d, "--target-coupling-error", args.target_coupling_error)
    if args.target_fraction_error is not None:
        targets["fraction"] = _positive(args.target_fraction_error, "--target-fraction-error",
                                        args.target_fraction_error)
    if not targets:
        raise UserError("give a target: --target-distance-error, --target-coupling-error or --target-fraction-error")
    fit_fraction = not args.fix_fraction
    if args.linearity_limit < 0:
        raise UserError(f"--linearity-limit: must be >= 0, got {args.linearity_limit!r}")
    guard = args.linearity_limit or None
    if guard is not None:
        notes.append(f"linearity guard: sigma(D)/D <= {guard:g} is required as well (simulated fits match the "
                     "predicted errors up to about 0.15; beyond, the fit is too non-linear)")

    sens = Sensitivity(snr=args.snr, scans=args.scans, recycle_s=recycle, buildup_s=buildup, beta=args.beta,
                       enhancement=args.enhancement, t2prime_s=t2, reference_time_s=t_ref,
                       plan_recycle_s=plan_recycle, overhead_s=overhead)
    common = dict(efficiency=args.efficiency, fit_fraction=fit_fraction)
    design_opts = dict(common, linearity_limit=guard)
    print("respdor plan: optimising the design ...", file=sys.stderr)
    opt = optimise_design(sens, model, coupling, args.fraction, targets, max_time_s=max_time,
                          rotor_period_s=1.0 / mas, step_periods=args.step, phase_cycle=args.phase_cycle,
                          check_points=args.check_points, shortest_distance_angstrom=r_min, **design_opts)
    even = even_design(sens, model, coupling, args.fraction, targets, n_points=args.compare_points,
                       max_time_s=cmp_max, rotor_period_s=1.0 / mas, step_periods=args.step,
                       phase_cycle=args.phase_cycle, **design_opts)
    designs = [("optimised", opt.design), ("even", even)]
    preds = {name: predict(d, sens, model, coupling, args.fraction, **common) for name, d in designs}

    # --- report
    kappa = model.default_scaling
    out = sys.stdout
    print(f"respdor plan: {model.describe()}", file=out)
    print(f"  assumed D = {coupling:.1f} Hz (r = {r:.3f} A), fraction {args.fraction:g}"
          f"{' (fixed in the fit)' if not fit_fraction else ''}, efficiency {args.efficiency:g}, "
          f"MAS {mas / 1e3:g} kHz (T_r = {1e6 / mas:.1f} us)", file=out)
    print(f"  S/N of S0 per scan at t = 0: {sens.snr_per_scan:.3g}; recycle delay {sens.plan_recycle_s:.3g} s; "
          f"T2' {'none' if not math.isfinite(t2) else f'{t2 * 1e3:.3g} ms'}", file=out)
    for n in sens.notes + notes:
        print(f"  note: {n}", file=out)
    print(f"  longest recoupling time: {opt.max_time_s * 1e3:.3g} ms ({opt.limit})", file=out)
    labels = {"distance_angstrom": ("r", "A"), "coupling_hz": ("D", "Hz"), "fraction": ("f", "")}
    shown = [f"sigma({labels[k][0]}) <= {v:g}{' ' + labels[k][1] if labels[k][1] else ''}" for k, v in targets.items()]
    if guard is not None and guard * coupling < targets.get("coupling_hz", math.inf):
        shown.append(f"sigma(D) <= {guard * coupling:.3g} Hz (linearity guard)")
    print("  targets: " + ", ".join(shown), file=out)
    for name, d in designs:
        p = preds[name]
        title = "optimised design" if name == "optimised" else f"evenly spaced design ({d.label})"
        print(f"\n{title}", file=out)
        print(f"  {'t_rec/ms':>9} {'n_rotor':>7} {'lambda':>7} {'dS/S0':>7} {'scans':>7} {'sigma':>7} "
              f"{'S0 S/N':>7} {'minutes':>8}", file=out)
        for t, n, y, s in zip(d.time_s, d.scans, p.dss0, p.sigma_dss0):
            minutes = 2 * n * float(sens.scan_time(t)) / 60
            s0_snr = float(sens.s0(t)) * math.sqrt(n)
            print(f"  {t * 1e3:9.3f} {round(t * mas):7d} {kappa * coupling * t:7.3f} {y:7.4f} {n:7d} {s:7.4f} "
                  f"{s0_snr:7.1f} {minutes:8.1f}", file=out)
        errs = [f"sigma(D) = {p.sigma['coupling_hz']:.3g} Hz", f"sigma(r) = {p.sigma['distance_angstrom']:.3g} A"]
        if "fraction" in p.sigma:
            errs.append(f"sigma(f) = {p.sigma['fraction']:.3g}")
        print(f"  scans are per spectrum (S0 and S1 each); total {p.total_time_s / 3600:.2f} h; " + ", ".join(errs),
              file=out)
    t_opt, t_even = preds["optimised"].total_time_s, preds["even"].total_time_s
    print(f"\noptimised: {t_opt / 3600:.2f} h; evenly spaced: {t_even / 3600:.2f} h; "
          f"saving {100 * (1 - t_opt / t_even):.0f} % (factor {t_even / t_opt:.2f})", file=out)
    print("  predicted errors are Cramer-Rao bounds (Fisher information); they hold while the fit is nearly "
          "linear: check with --monte-carlo N", file=out)

    if args.monte_carlo:
        for name, d in designs:
            def progress(done, total, name=name):
                if done == total or done % max(total // 20, 1) == 0:
                    print(f"\rrespdor plan: Monte Carlo {name} {done}/{total}", end="", file=sys.stderr, flush=True)
            try:
                mc = monte_carlo(d, sens, model, coupling, args.fraction, n_experiments=args.monte_carlo,
                                 seed=args.seed, progress=progress, **common)
            finally:
                print(file=sys.stderr)  # end the progress line, also when Ctrl-C ends the loop
            parts = [f"{k}: predicted {mc['predicted'][k]:.3g}, observed {mc['observed'][k]:.3g}"
                     for k in mc["predicted"]]
            print(f"Monte Carlo {name} ({mc['n_ok']} fits, {mc['n_failed']} failed or at a bound): " + "; ".join(parts),
                  file=out)

    with plan.writing(plan.csv) as tmp:
        if tmp is not None:
            with open(tmp, "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["design", "t_rec_ms", "n_rotor", "lambda", "dSS0", "scans_S0", "scans_S1", "sigma_dSS0",
                            "minutes", "total_hours", "sigma_D_Hz", "sigma_r_A", "sigma_f"])
                for name, d in designs:
                    p = preds[name]
                    for t, n, y, s in zip(d.time_s, d.scans, p.dss0, p.sigma_dss0):
                        w.writerow([name, f"{t * 1e3:.6g}", round(t * mas), f"{kappa * coupling * t:.5g}", f"{y:.6g}",
                                    n, n, f"{s:.5g}", f"{2 * n * float(sens.scan_time(t)) / 60:.4g}",
                                    f"{p.total_time_s / 3600:.4g}", f"{p.sigma['coupling_hz']:.4g}",
                                    f"{p.sigma['distance_angstrom']:.4g}", f"{p.sigma.get('fraction', float('nan')):.4g}"])
            print(f"wrote {plan.csv}", file=out)
    with plan.writing(plan.figure) as tmp:
        if tmp is not None:
            _figure(tmp, designs, preds, model, coupling, args.fraction, args.efficiency, sens, np)
            print(f"wrote {plan.figure}", file=out)
    return 0


#: Longest recoupling-related time accepted (s): REDOR/RESPDOR echoes in solids last milliseconds;
#: beyond a second the time grid (multiples of the rotor period) would have millions of points.
_LONGEST_TIME_S = 1.0


def _recoupling_times_sane(args, t2, t_ref, max_time, cmp_max):
    """Refuse times no REDOR experiment has (and that would make the design grid explode)."""
    values = [("--t2prime", args.t2prime, t2), ("--reference-time", args.reference_time, t_ref),
              ("--max-time", args.max_time, max_time), ("--compare-max-time", args.compare_max_time, cmp_max)]
    for option, text, value in values:
        if text is None or value is None or not math.isfinite(value):
            continue
        if option != "--reference-time" and not value > 0:
            raise UserError(f"{option} {text}: must be > 0")
        if not 0 <= value <= _LONGEST_TIME_S:
            raise UserError(f"{option} {text}: must lie in 0-{_LONGEST_TIME_S:g} s (a bare number is read as ms)")
    if not 0 <= args.check_points <= 20:
        raise UserError(f"--check-points {args.check_points}: must lie in 0..20")
    if args.compare_points > 1000:
        raise UserError(f"--compare-points {args.compare_points}: at most 1000")


def _plan_outputs(args):
    """--csv and --figure, checked before the optimisation starts (never over --t2prime-from)."""
    from ..files import OutputPlan

    plan = OutputPlan(inputs=[args.t2prime_from])
    plan.csv = plan.add(args.csv, "--csv")
    plan.figure = plan.add(args.figure, "--figure", "figure")
    plan.check()
    return plan


def _figure(path, designs, preds, model, coupling, fraction, efficiency, sens, np):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tmax = max(float(d.time_s.max()) for _, d in designs)
    t = np.linspace(0, 1.15 * tmax, 300)
    amp = fraction * efficiency * model.partner_isotope.abundance
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(t * 1e3, amp * model.normalised(t, coupling), "k-", lw=1, label="assumed curve")
    for (name, d), colour, marker in zip(designs, ("C3", "C0"), ("o", "s")):
        p = preds[name]
        label = (f"{'optimised' if name == 'optimised' else d.label}: {p.total_time_s / 3600:.1f} h, "
                 f"sigma(r) = {p.sigma['distance_angstrom']:.3f} A")
        ax.errorbar(d.time_s * 1e3, p.dss0, yerr=p.sigma_dss0, fmt=marker, color=colour, ms=4, capsize=2,
                    label=label, alpha=0.85)
    ax.set_xlabel("recoupling time / ms")
    ax.set_ylabel("dS/S0 (predicted, +/- 1 sigma)")
    ax.set_title(f"{model.pair}: predicted data of the planned designs")
    ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)

