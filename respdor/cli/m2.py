"""``respdor m2 CURVE``: the heteronuclear second moment M2 from the initial rise of a dephasing curve."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import UserError
from ..units import finite_float, parse_frequency, parse_time

_DESCRIPTION = """\
Fit the heteronuclear second moment M2 (rad^2/s^2) from the initial rise of a REDOR or RESPDOR curve:
dS/S0 = C M2 t^2 with C = 4/(3 pi^2) for REDOR (ideal inversion, any partner spin) and
f 2/(3 pi^2) for RESPDOR (full saturation), kappa^2 times that for a scaled recoupling sequence.
Only points in the parabolic regime are fitted: where the exact curves fall at most --tolerance
(default 10 %%) below their t^2 law, i.e. dS/S0 <= 0.19 f for REDOR with a spin-1/2 partner and
<= 0.114 f for RESPDOR with 27Al (lambda <= 0.71/(2I)); --max-dephasing lowers the cap. The points
left out are listed with the reason; fewer than 3 points left is refused. Prints M2, its standard
error (from the curve's errors, or from the scatter when it has none), the effective distance
(the one partner with this M2) and the bias the t^4 term may cause.
"""

_EPILOG = """\
examples:
  respdor m2 curve.csv --observe 13C --partner 27Al
  respdor m2 curve.csv --observe 31P --partner 27Al --experiment redor --max-dephasing 0.15
  respdor m2 curve.csv --observe 13C --partner 27Al --fraction 0.8 --json m2.json
"""

#: Python parameters of respdor.fit_m2 -> the options that set them (messages name options).
_OPTION_NAMES = {"max_dephasing": "--max-dephasing", "time_unit": "--time-unit", "mas_rate_hz": "--mas",
                 "pulse_length_s": "--pulse-length"}
#: Parameters whose names are ordinary words: rewritten only where a message writes ``name=value``
#: or starts with ``name:``.
_VALUE_NAMES = {"observe": "--observe", "partner": "--partner", "fraction": "--fraction", "tolerance": "--tolerance",
                "experiment": "--experiment", "transfer": "--transfer", "sequence": "--sequence"}


def _words(message: str) -> str:
    """A library message with its parameter names as this command's options."""
    import re

    from . import in_option_words

    for name, option in _VALUE_NAMES.items():
        message = re.sub(rf"(?<![\w-]){name}=", option + " ", message)
        message = re.sub(rf"^{name}:", option + ":", message)
    return in_option_words(message, _OPTION_NAMES)


def register(subparsers):
    p = subparsers.add_parser("m2", help="second moment M2 from the initial rise of a REDOR/RESPDOR curve",
                              description=_DESCRIPTION, epilog=_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("curve", metavar="CURVE", help="curve file (CSV / TSV / text, as for respdor fit)")
    p.add_argument("--observe", help="observed spin-1/2 isotope, e.g. 13C (default: the file's '# observe =' line)")
    p.add_argument("--partner", help="partner isotope, e.g. 27Al (default: the file's '# partner =' line)")
    p.add_argument("--experiment", choices=["respdor", "redor"], default="respdor",
                   help="respdor: saturation of the partner (default); redor: pi pulses on it")
    p.add_argument("--transfer", choices=["saturation", "inversion", "ct-inversion", "ct-saturation"],
                   help="population transfer of the partner pulse (default: saturation for respdor, inversion for "
                        "redor)")
    p.add_argument("--sequence", choices=["redor", "sr4", "redor-finite"], default="redor",
                   help="recoupling sequence on the observed spin, sets the dipolar scaling kappa (default redor)")
    p.add_argument("--pulse-length", metavar="TIME", help="pi-pulse length for --sequence redor-finite, e.g. 10us")
    p.add_argument("--mas", metavar="FREQ", help="MAS rate (bare number: Hz), for redor-finite and rotor-period "
                   "time columns")
    p.add_argument("--fraction", type=finite_float, metavar="F",
                   help="amplitude f in (0, 1]: bonded fraction x saturation efficiency (default 1, said in the "
                        "output); M2 scales as 1/f")
    p.add_argument("--max-dephasing", type=finite_float, metavar="DSS0",
                   help="largest dS/S0 at a point used (default: the parabolic regime's bound, 0.114 f for 27Al "
                        "RESPDOR)")
    p.add_argument("--tolerance", type=finite_float, default=0.1, metavar="REL",
                   help="largest relative shortfall below t^2 accepted, defines the regime (default 0.1)")
    p.add_argument("--time-unit", choices=["s", "ms", "us"], help="time unit when the header does not state it")
    p.add_argument("--json", metavar="PATH", help="also write the result as JSON ('-' for standard output)")
    p.add_argument("--plot", metavar="PATH", help="figure of the points and the fitted t^2 law")
    p.set_defaults(func=run, _option_names=_OPTION_NAMES)
    from . import OptionRule, declare_option_rules

    declare_option_rules(p, [OptionRule("--pulse-length", lambda a: a.sequence == "redor-finite",
                                        "without --sequence redor-finite (the other sequences use ideal pulses)")])


def _plan(args):
    from ..files import OutputPlan

    if not Path(args.curve).exists():
        raise UserError(f"{args.curve}: no such file")
    plan = OutputPlan(inputs=[args.curve])
    plan.json = plan.add(args.json, "--json", stdout=True)
    plan.figure = plan.add(args.plot, "--plot", "figure")
    plan.check()
    return plan


def _call_options(args) -> dict:
    mas = pulse = None
    if args.mas is not None:
        mas, _ = parse_frequency(args.mas, "--mas")
        if not mas > 0:
            raise UserError(f"--mas {args.mas}: must be positive")
    if args.pulse_length is not None:
        pulse, _ = parse_time(args.pulse_length, "--pulse-length")
    if args.sequence == "redor-finite" and (pulse is None or mas is None):
        raise UserError("--sequence redor-finite needs --pulse-length and --mas")
    return dict(experiment=args.experiment, transfer=args.transfer, sequence=args.sequence, pulse_length_s=pulse,
                mas_rate_hz=mas, fraction=args.fraction, max_dephasing=args.max_dephasing, tolerance=args.tolerance,
                time_unit=args.time_unit)


def run(args) -> int:
    import warnings

    from ..errors import RespdorWarning
    from ..jobs.moments import fit_m2
    from . import say_warning

    out = sys.stderr if args.json == "-" else sys.stdout
    plan = _plan(args)
    try:
        with warnings.catch_warnings():  # the result keeps them; printed below in option words
            warnings.simplefilter("ignore", RespdorWarning)
            result = fit_m2(args.curve, args.observe, args.partner, **_call_options(args))
    except UserError as exc:
        raise UserError(_words(str(exc))) from None
    result.warnings[:] = [_words(w) for w in result.warnings]
    result.notes[:] = [_words(w) for w in result.notes]
    result.regime["set_by"] = _words(result.regime["set_by"])
    for line in result.report_lines():
        print(line, file=out)
    for w in result.warnings:
        say_warning(w, stream=out if out is sys.stderr else None)
    if args.json == "-":
        sys.stdout.write(result.to_json())
    elif plan.json is not None:
        plan.write_text(plan.json, result.to_json())
        print(f"wrote {plan.json}", file=out)
    if plan.figure is not None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5.5, 4.0))
        result.plot(fig.add_subplot())
        fig.tight_layout()
        plan.save_figure(fig, plan.figure, dpi=120)
        print(f"wrote {plan.figure}", file=out)
    return 0
