"""``respdor partners``: how many partners, or a distribution? The curve compared under each model."""

from __future__ import annotations

import argparse
import sys

from ..units import parse_frequency

#: Python parameters of respdor.compare_models -> the options that set them (messages name options).
_OPTION_NAMES = {"time_unit": "--time-unit", "mas_rate_hz": "--mas", "observe": "--observe",
                 "partner": "--partner", "experiment": "--experiment", "sequence": "--sequence",
                 "max_partners": "--partners", "uncorrelated": "--uncorrelated"}

_DESCRIPTION = """\
Ask the curve how many partners it shows.

Fits one partner + bonded fraction (the usual two-spin fit) and two partners of the same kind
(couplings D1 >= D2, the angle between the two vectors, the fraction) on the exact per-crystallite
product of the partners' dephasing; with --partners 3 also three partners in a rigid geometry
(three angles); N partners with uncorrelated isotropic directions (N couplings) and N equivalent
such partners (one coupling); a Gaussian distribution of distances and two sites with one partner
each (with DeerLab installed). Then compares them: chi^2, AICc, BIC, Akaike weights, a
likelihood-ratio test of one partner within two, and the largest difference between each model's
curve and the preferred one over your times set against your noise. With --intervals the
two-partner fit also gets profile-likelihood intervals and says which parameters the curve does not
determine.
"""

_EPILOG = """\
example:
  respdor partners data/respdor_13C27Al_synthetic.csv --observe 13C --partner 27Al
"""


def register(subparsers):
    p = subparsers.add_parser("partners", help="one partner or two: model comparison of a dephasing curve",
                              description=_DESCRIPTION, epilog=_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("curve", help="dephasing curve file (as for respdor fit)")
    p.add_argument("--observe", metavar="ISOTOPE",
                   help="observed spin-1/2 nucleus (default: the file's '# observe' line, else 13C)")
    p.add_argument("--partner", metavar="ISOTOPE",
                   help="recoupled partner (default: the file's '# partner' line, else 27Al)")
    p.add_argument("--experiment", choices=("respdor", "redor"), default="respdor",
                   help="respdor (saturation of the partner, default) or redor")
    p.add_argument("--sequence", choices=("redor", "sr4"), default="redor",
                   help="recoupling sequence: redor (kappa 1, default) or sr4")
    p.add_argument("--time-unit", choices=["s", "ms", "us"], help="time unit when the header does not state it")
    p.add_argument("--mas", metavar="FREQ", help="MAS rate (bare number: Hz), for curves given in rotor periods")
    p.add_argument("--intervals", action="store_true",
                   help="profile-likelihood intervals of the two-partner fit (minutes: 16 points to 3 ms take "
                        "about one CPU minute, 41 points to 8 ms about ten; the estimate is said before they start)")
    p.add_argument("--partners", metavar="N", type=int, default=2,
                   help="fit rigid geometries of up to N partners (default 2; 3 adds three partners with three "
                        "angles, several times slower)")
    p.add_argument("--uncorrelated", metavar="N", type=int, default=3,
                   help="partners of the uncorrelated and equivalent rows (default 3; 0: leave them out)")
    p.add_argument("--no-distribution", action="store_true",
                   help="leave out the Gaussian distribution and two-site rows")
    p.add_argument("--json", metavar="PATH", help="also write the comparison as JSON ('-' for standard output)")
    p.add_argument("--plot", metavar="PATH", help="write a figure of the curve and both models (png, pdf, svg)")
    p.set_defaults(func=run, _option_names=_OPTION_NAMES)


def _outputs(args):
    from ..files import OutputPlan

    plan = OutputPlan(inputs=[args.curve])
    plan.json = plan.add(args.json, "--json", stdout=True)
    plan.figure = plan.add(args.plot, "--plot", "figure")
    plan.check()
    return plan


def run(args) -> int:
    import warnings

    from spinsim.progress import LineProgress, TqdmProgress

    from ..errors import RespdorWarning
    from ..jobs.partners import compare_models
    from . import say_warning

    outputs = _outputs(args)
    mas = None
    if args.mas is not None:
        mas, explicit = parse_frequency(args.mas, option="--mas", default_unit="hz")
        if not explicit:
            print(f"--mas {args.mas}: no unit given, read as {args.mas} Hz", file=sys.stderr)
    progress = TqdmProgress() if sys.stderr.isatty() else LineProgress(sys.stderr, indent="")
    with warnings.catch_warnings():  # the result keeps them; printed once below
        warnings.simplefilter("ignore", RespdorWarning)
        result = compare_models(args.curve, args.observe, args.partner, experiment=args.experiment,
                                sequence=args.sequence, intervals=args.intervals, max_partners=args.partners,
                                uncorrelated=args.uncorrelated, distribution=not args.no_distribution,
                                time_unit=args.time_unit, mas_rate_hz=mas, progress=progress)
    _print(result, sys.stderr if args.json == "-" else sys.stdout)  # standard output then holds only JSON
    for w in result.warnings:
        say_warning(w, prefix="warning: ")
    _write(args, outputs, result)
    return 0


def _print(result, out):
    width = max(34, *(len(r["name"]) for r in result.rows))
    print(f"{'model':<{width}} {'k':>2} {'chi2':>10} {'AICc':>9} {'dAICc':>7} {'weight':>7} {'BIC':>9}  best values",
          file=out)
    for r in result.rows:
        print(f"{r['name']:<{width}} {r['parameters']:>2} {r['chi2']:>10.4g} {r['aicc']:>9.4g} {r['delta_aicc']:>7.2f} "
              f"{r['akaike_weight']:>7.3f} {r['bic']:>9.4g}  {r['summary']}", file=out)
    if result.lrt_p is not None:
        print(f"likelihood ratio, one partner within two: p = {result.lrt_p:.3g} (approximate: the angle is undefined "
              "when D2 = 0)", file=out)
    for line in result.verdict_lines():
        print(line, file=out)
    two = result.two_partners
    if two is not None and any(e.determined is not None for e in two.parameters.values()):
        print("two-partner fit, profile-likelihood intervals:", file=out)
        for e in two.parameters.values():
            lo, hi = (f"{v:.4g}" if v is not None else "open" for v in e.ci95)
            tag = "" if e.determined else "  (not determined by the curve)"
            print(f"  {e.name:<22} {e.value:10.4g} {e.unit:<9} 95 %: [{lo}, {hi}]{tag}", file=out)
    fits = ({"two partners": two} if two is not None else {}) | {
        name.split(" + ")[0]: fit for name, fit in result.partner_fits.items() if fit.geometry == "general"}
    for name, fit in fits.items():
        for n in fit.notes:
            print(f"note ({name}): {n}", file=out)
    for n in result.notes:
        print(f"note: {n}", file=out)


def _write(args, outputs, result):
    if outputs.figure is not None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.0, 4.2))
        result.plot(fig.add_subplot())
        fig.tight_layout()
        outputs.save_figure(fig, outputs.figure, dpi=120)
        print(f"wrote {outputs.figure}", file=sys.stderr if args.json == "-" else sys.stdout)
    if args.json:
        if args.json == "-":
            sys.stdout.write(result.to_json())
        else:
            result.to_json(outputs.json, inputs=[args.curve])
            print(f"wrote {outputs.json}")
