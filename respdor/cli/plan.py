"""``respdor plan``: how many scans at which recoupling times, and how many hours, for a target precision."""

from __future__ import annotations

import argparse
import csv
import sys

from ..errors import UserError
from ..units import finite_float, parse_frequency, parse_length, parse_time, plausible

#: Python parameters of respdor.plan -> the options that set them (messages name options).
_OPTION_NAMES = {"recycle_s": "--recycle", "buildup_s": "--buildup", "plan_recycle_s": "--plan-recycle",
                 "t2prime_s": "--t2prime", "t2prime_from": "--t2prime-from", "reference_time_s": "--reference-time",
                 "overhead_s": "--overhead", "mas_rate_hz": "--mas", "max_time_s": "--max-time",
                 "compare_max_time_s": "--compare-max-time", "distance_angstrom": "--distance",
                 "coupling_hz": "--coupling", "target_distance_error_angstrom": "--target-distance-error",
                 "target_coupling_error_hz": "--target-coupling-error",
                 "target_fraction_error": "--target-fraction-error",
                 "shortest_distance_angstrom": "--shortest-distance", "linearity_limit": "--linearity-limit",
                 "check_points": "--check-points", "compare_points": "--compare-points",
                 "monte_carlo": "--monte-carlo", "step_periods": "--step", "phase_cycle": "--phase-cycle",
                 "fix_fraction": "--fix-fraction"}
#: Parameters whose names are ordinary words: rewritten only where a message writes them as ``name=value``.
_VALUE_NAMES = {"fraction": "--fraction", "snr": "--snr", "scans": "--scans", "beta": "--beta",
                "efficiency": "--efficiency", "enhancement": "--enhancement", "seed": "--seed",
                "observe": "--observe", "partner": "--partner"}

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
    g = p.add_argument_group("one partner or two")
    g.add_argument("--versus-two", metavar="DIST[:ANGLE]",
                   help="instead of a precision plan: the designs that tell one partner at --distance (fraction "
                        "--fraction) from two at DIST, ANGLE degrees apart (default 110), and their hours; "
                        "bare DIST: angstrom")
    g.add_argument("--power", type=finite_float, default=0.9,
                   help="with --versus-two: probability that the test decides at 95 %% (default 0.9)")
    g = p.add_argument_group("output")
    g.add_argument("--csv", help="write both designs as CSV to this file")
    g.add_argument("--figure", help="write the predicted curves with predicted error bars (PNG/PDF)")
    g.add_argument("--monte-carlo", type=int, default=0, metavar="N",
                   help="check the prediction: simulate and fit N noisy data sets of each design")
    g.add_argument("--seed", type=int, default=0, help="random seed of the Monte Carlo check")
    g.add_argument("--json", metavar="PATH", help="also write the plan as JSON ('-' for stdout)")
    p.set_defaults(func=run, _option_names=_OPTION_NAMES)
    from . import OptionRule, declare_option_rules

    declare_option_rules(p, [OptionRule.needs("--seed", "--monte-carlo"),
                             OptionRule.needs("--power", "--versus-two"),
                             OptionRule.needs("--beta", "--buildup", advice="it shapes the DNP build-up"),
                             OptionRule.needs("--time-unit", "--t2prime-from",
                                              advice="it is the time unit of that file")])


def _words(message: str) -> str:
    """A library message with its parameter names as this command's options."""
    import re

    from . import in_option_words

    for name, option in _VALUE_NAMES.items():
        message = re.sub(rf"(?<![\w-]){name}=", option + " ", message)
    return in_option_words(message, _OPTION_NAMES)


#: Options read as quantities: (dest, option, parser, unit of a bare number, its name).
_QUANTITIES = [("recycle", "--recycle", parse_time, "s", "s"), ("buildup", "--buildup", parse_time, "s", "s"),
               ("plan_recycle", "--plan-recycle", parse_time, "s", "s"),
               ("t2prime", "--t2prime", parse_time, "ms", "ms"),
               ("reference_time", "--reference-time", parse_time, "ms", "ms"),
               ("overhead", "--overhead", parse_time, "ms", "ms"), ("mas", "--mas", parse_frequency, "hz", "Hz"),
               ("max_time", "--max-time", parse_time, "ms", "ms"),
               ("compare_max_time", "--compare-max-time", parse_time, "ms", "ms"),
               ("distance", "--distance", parse_length, "a", "angstrom"),
               ("coupling", "--coupling", parse_frequency, "hz", "Hz"),
               ("shortest_distance", "--shortest-distance", parse_length, "a", "angstrom"),
               ("target_distance_error", "--target-distance-error", parse_length, "a", "angstrom"),
               ("target_coupling_error", "--target-coupling-error", parse_frequency, "hz", "Hz")]


def _quantities(args, notes, later):
    """Every quantity option in SI (angstrom for lengths); a note for each bare number (in ``later`` after
    --t2prime, as the plan orders its notes)."""
    values = {}
    for dest, option, parser, unit, label in _QUANTITIES:
        if dest == "reference_time":
            notes = later
        text = getattr(args, dest)
        if text is None:
            values[dest] = None
            continue
        value, explicit = parser(text, option=option, default_unit=unit)
        if not explicit:
            notes.append(f"{option} {text}: no unit given, read as {text} {label}")
        values[dest] = value
    for dest in ("recycle", "buildup", "plan_recycle"):  # refused as typed (the library says it again)
        if values[dest] is not None and values[dest] > 0:
            plausible("recycle_delay", values[dest], f"--{dest.replace('_', '-')}", getattr(args, dest))
    for dest in ("t2prime", "reference_time", "max_time", "compare_max_time"):
        value = values[dest]
        if value is not None and not 0 <= value <= 1.0:
            raise UserError(f"--{dest.replace('_', '-')} {getattr(args, dest)}: must lie in 0-1 s (a bare number is "
                            "read as ms)")
    return values


def _call_options(args, v, t2_curve) -> dict:
    """The command's options as the Python values of :func:`respdor.plan`."""
    return dict(fraction=args.fraction, snr=args.snr, scans=args.scans, recycle_s=v["recycle"],
                mas_rate_hz=v["mas"], distance_angstrom=v["distance"], coupling_hz=v["coupling"],
                target_distance_error_angstrom=v["target_distance_error"],
                target_coupling_error_hz=v["target_coupling_error"], target_fraction_error=args.target_fraction_error,
                observe=args.observe, partner=args.partner, experiment=args.experiment, sequence=args.sequence,
                efficiency=args.efficiency, fix_fraction=args.fix_fraction,
                shortest_distance_angstrom=v["shortest_distance"], buildup_s=v["buildup"], beta=args.beta,
                enhancement=args.enhancement, t2prime_s=v["t2prime"], t2prime_from=t2_curve,
                reference_time_s=v["reference_time"] or 0.0, plan_recycle_s=v["plan_recycle"],
                overhead_s=v["overhead"] or 0.0, step_periods=args.step, phase_cycle=args.phase_cycle,
                max_time_s=v["max_time"], linearity_limit=args.linearity_limit, check_points=args.check_points,
                compare_points=args.compare_points, compare_max_time_s=v["compare_max_time"] or 3e-3,
                monte_carlo=args.monte_carlo, seed=args.seed)


def run(args) -> int:
    import warnings

    from spinsim.progress import LineProgress, TqdmProgress

    from ..errors import RespdorWarning
    from ..jobs.plan import plan as make_plan
    from . import say_warning

    notes, later = [], []
    outputs = _plan_outputs(args)
    values = _quantities(args, notes, later)
    t2_curve = None
    if args.t2prime_from is not None and args.t2prime is None:
        from ..io import read_curve

        t2_curve = read_curve(args.t2prime_from, time_unit=args.time_unit)
    elif args.t2prime_from is not None:
        raise UserError("give --t2prime or --t2prime-from, not both")
    if args.versus_two is not None:
        return _versus_two(args, values, outputs)
    progress = TqdmProgress() if sys.stderr.isatty() else LineProgress(sys.stderr, indent="")
    try:
        with warnings.catch_warnings():  # the result keeps them; printed below in option words
            warnings.simplefilter("ignore", RespdorWarning)
            result = make_plan(**_call_options(args, values, t2_curve), progress=progress)
    except UserError as exc:
        raise UserError(_words(str(exc))) from None
    result.warnings[:] = [_words(w) for w in result.warnings]  # the command's JSON names its options too
    for w in result.warnings:
        say_warning(w, prefix="warning: ")
    for line in result.report_lines(notes, later, words=_words):
        print(line)
    _write(args, outputs, result)
    return 0


def _write(args, outputs, result, rows=None):
    """--csv (``rows(writer, result)``: both designs by default), --figure and --json."""
    with outputs.writing(outputs.csv) as tmp:
        if tmp is not None:
            with open(tmp, "w", newline="") as fh:
                (rows or _csv)(csv.writer(fh), result)
            print(f"wrote {outputs.csv}")
    if outputs.figure is not None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.4, 4.2))
        result.plot(fig.add_subplot())
        fig.tight_layout()
        outputs.save_figure(fig, outputs.figure, dpi=120)
        print(f"wrote {outputs.figure}")
    if args.json:
        if args.json == "-":
            sys.stdout.write(result.to_json())
        else:
            result.to_json(outputs.json, inputs=[args.t2prime_from])
            print(f"wrote {outputs.json}")


def _csv(w, result):
    w.writerow(["design", "t_rec_ms", "n_rotor", "lambda", "dSS0", "scans_S0", "scans_S1", "sigma_dSS0",
                "minutes", "total_hours", "sigma_D_Hz", "sigma_r_A", "sigma_f"])
    mas, kappa, d_hz = result.mas_rate_hz, result.kappa, result.coupling_hz
    for name, d in result.designs.items():
        sig = d["sigma"]
        for t, n, y, s, minutes in zip(d["time_s"], d["scans"], d["dss0"], d["sigma_dss0"], d["minutes"]):
            w.writerow([name, f"{t * 1e3:.6g}", round(t * mas), f"{kappa * d_hz * t:.5g}", f"{y:.6g}", int(n), int(n),
                        f"{s:.5g}", f"{minutes:.4g}", f"{d['total_time_s'] / 3600:.4g}",
                        f"{sig['coupling_hz']:.4g}", f"{sig['distance_angstrom']:.4g}",
                        f"{sig.get('fraction', float('nan')):.4g}"])


def _plan_outputs(args):
    """--csv, --figure and --json, checked before the optimisation starts (never over --t2prime-from)."""
    from ..files import OutputPlan

    plan = OutputPlan(inputs=[args.t2prime_from])
    plan.csv = plan.add(args.csv, "--csv")
    plan.figure = plan.add(args.figure, "--figure", "figure")
    plan.json = plan.add(args.json, "--json", stdout=True)
    plan.check()
    return plan


def _versus_two(args, v, outputs):
    """``--versus-two``: the evenly spaced designs that tell one partner from two, with their hours."""
    from ..jobs.partners import plan_partners

    text, _, angle = args.versus_two.partition(":")
    r_two, explicit = parse_length(text, option="--versus-two", default_unit="a")
    if v["distance"] is None:
        raise UserError("--versus-two needs --distance (the one-partner model's distance)")
    try:
        angle_deg = float(angle) if angle else 110.0
    except ValueError:
        raise UserError(f"--versus-two {args.versus_two}: the angle after ':' must be a number of degrees") from None
    if not 0.0 <= angle_deg <= 180.0 or not 0.5 < args.power < 1.0:
        raise UserError(f"--versus-two angle {angle_deg:g} must lie in 0-180 deg and --power {args.power:g} in (0.5, 1)")
    result = plan_partners(snr=args.snr, scans=args.scans, recycle_s=v["recycle"], mas_rate_hz=v["mas"],
                           one_distance_angstrom=v["distance"], one_fraction=args.fraction,
                           two_distance_angstrom=r_two, two_angle_deg=angle_deg, observe=args.observe,
                           partner=args.partner, experiment=args.experiment, sequence=args.sequence,
                           buildup_s=v["buildup"], beta=args.beta, enhancement=args.enhancement,
                           t2prime_s=v["t2prime"], reference_time_s=v["reference_time"] or 0.0,
                           plan_recycle_s=v["plan_recycle"], overhead_s=v["overhead"] or 0.0,
                           max_time_s=v["max_time"] or 8e-3, n_points=args.compare_points, power=args.power,
                           phase_cycle=args.phase_cycle)
    if not explicit:
        print(f"--versus-two {text}: no unit given, read as {text} angstrom")
    print(f"one {args.partner} at {v['distance']:.3g} A (f {args.fraction:g}) against two at {r_two:.3g} A, "
          f"{angle_deg:g} deg apart: the likelihood-ratio test decides at 95 % with probability {args.power:g} "
          f"when chi2 between the models reaches {result.required_noncentrality:.3g}")
    print(f"{'t_max_ms':>9} {'points':>6} {'scans/point':>11} {'hours':>8}")
    for r in result.rows:
        print(f"{r['t_max_ms']:9.3g} {r['points']:6d} {r['scans_per_point']:11} {r['hours']:8.3g}")
    best = result.best
    print(f"fewest hours: {best['points']} points to {best['t_max_ms']:.3g} ms, {best['scans_per_point']} scans of S0 "
          f"and S1 each: {best['hours']:.3g} h")
    _write(args, outputs, result, rows=_versus_two_rows)
    return 0


def _versus_two_rows(w, result):
    """CSV of --versus-two: one row per longest recoupling time."""
    w.writerow(list(result.rows[0]))
    w.writerows([list(r.values()) for r in result.rows])
