"""``respdor simulate SPEC``: exact spin-dynamics REDOR / RESPDOR curve from a spec file."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from ..errors import UserError
from ..workload import add_allow_long
from . import in_option_words

_DESCRIPTION = """\
Simulate a REDOR or RESPDOR dephasing curve with the exact spin-dynamics engine (spinsim):
spin-1/2 observed spin, quadrupolar partner(s) with first- and second-order quadrupolar
coupling, CSA, MAS, finite or ideal pulses, CW / WURST / ideal saturation, powder average.

SPEC is a TOML or JSON file (format: docs/simulation.md; examples in data/*.toml). Every key
carries its unit in its name (d_hz, cq_mhz, nu1_khz, length_us, t_max_ms, euler_deg, ...).
Output: CSV with columns t_s,S0,S1,dSS0 and a PNG figure, by default in the current
directory (<spec stem>_sim.csv, <spec stem>_sim.png), never beside the spec, which may be
read-only. Every output is checked before the simulation starts; files are written whole or not
at all (Ctrl-C leaves none).
"""

_EPILOG = """\
examples:
  respdor simulate data/c13_al27_respdor.toml
  respdor simulate spec.toml --output curve.csv --plot curve.png --progress
  respdor simulate spec.json --powder 610 --gamma 32 --json -
"""


def register(subparsers):
    p = subparsers.add_parser(
        "simulate",
        help="simulate a REDOR / RESPDOR curve from a spec file (exact spin dynamics)",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("spec", metavar="SPEC", help="simulation spec (.toml or .json)")
    p.add_argument("--output", "-o", metavar="PATH",
                   help="CSV output (default: <spec stem>_sim.csv in the current directory)")
    p.add_argument("--plot", metavar="PATH",
                   help="figure (default: <spec stem>_sim.png in the current directory); 'none' for no figure")
    p.add_argument("--json", metavar="PATH", help="also write the result and settings as JSON ('-' for stdout)")
    p.add_argument("--powder", type=int, metavar="N", help="override the number of (alpha, beta) orientations")
    p.add_argument("--gamma", type=int, metavar="N", help="override the number of gamma angles")
    p.add_argument("--progress", action="store_true", help="progress bar on stderr")
    from ..convergence import add_options

    add_options(p)
    p.add_argument("--no-files", action="store_true", help="write no file (print the curve; --json - still works)")
    p.add_argument("--export-simpson", metavar="FILE.in",
                   help="write the SIMPSON input of the same experiment (and FILE.cry) and exit without simulating")
    add_allow_long(p)
    p.set_defaults(func=run, _option_names=OPTION_NAMES)
    from . import OptionRule, declare_option_rules, no_files_rules

    declare_option_rules(p, [OptionRule("--no-files", lambda a: not a.export_simpson,
                                        "with --export-simpson, which writes FILE.in and FILE.cry; drop one of them"),
                             *no_files_rules(("--output", "--plot"))])


#: Python argument -> option, for the messages of respdor.simulate (respdor.cli.in_option_words).
OPTION_NAMES = {"n_orientations": "--powder", "n_gamma_angles": "--gamma", "powder_tol": "--powder-tol",
                "check_convergence=True": "--check-convergence", "allow_long=True": "--allow-long"}


def run(args) -> int:
    from ..jobs.simulate import UNITS_NOTE, prepare_simulation

    from ..convergence import tolerance

    spec_path = Path(args.spec)
    tolerance(args)  # before anything is said or run
    progress = _progress()
    with _result_warnings() as said:
        setup = prepare_simulation(spec_path, n_orientations=args.powder, n_gamma_angles=args.gamma)
        if args.export_simpson:
            return _export_simpson(setup.spec, spec_path, Path(args.export_simpson))
        plan = _plan_outputs(args, spec_path)
        long_run = setup.check_work(args.allow_long, progress, command=f"respdor simulate {spec_path}")
        print(f"respdor simulate: {setup.spec.title or spec_path.name}\n  {UNITS_NOTE}\n  " + setup.describe()[0],
              file=sys.stderr)
        for msg in setup.warnings:
            said(msg)
        result = setup.run(check_convergence=args.check_convergence, powder_tol=args.powder_tol,
                           progress=progress, bar=args.progress or long_run)
        for line in result.convergence_lines():
            print("  " + in_option_words(line, OPTION_NAMES), file=sys.stderr)
        for msg in result.warnings[len(setup.warnings):]:
            said(msg)
    _write_outputs(args, plan, result)
    return 0


def _progress():
    """Notes as indented lines on standard error, a bar in a terminal (spinsim.progress)."""
    from spinsim.progress import LineProgress

    return LineProgress(sys.stderr)


@contextlib.contextmanager
def _result_warnings():
    """Run the call with its respdor warnings held back: the command prints the result's warnings
    itself, in option words and in their place (say_warning); other warnings pass on to main."""
    import warnings

    from ..errors import RespdorWarning
    from . import say_warning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield lambda msg: say_warning(in_option_words(msg, OPTION_NAMES), prefix="  warning: ")
    for w in caught:
        if not issubclass(w.category, RespdorWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _warn_single_crystal(powder, warnings, option):
    """A powder of fewer than MIN_POWDER (alpha, beta) orientations is a single crystal: said."""
    from ..jobs.simulate import single_crystal_warning

    text = single_crystal_warning(powder, option)
    if text:
        warnings.append(text)


def _plan_outputs(args, spec_path):
    """Every output of the run, checked before the simulation starts."""
    from ..files import OutputPlan

    if args.no_files and args.json not in (None, "-"):
        raise UserError(f"--no-files and --json {args.json} contradict each other; use --json - for standard output")
    plan = OutputPlan(inputs=[spec_path], no_files=args.no_files)
    plan.csv = plan.add(args.output or f"{spec_path.stem}_sim.csv", "--output")
    plan.figure = None
    if (args.plot or "").lower() != "none":
        plan.figure = plan.add(args.plot or f"{spec_path.stem}_sim.png", "--plot", "figure")
    plan.json = plan.add(args.json, "--json", stdout=True)
    plan.check()
    return plan


def _write_outputs(args, plan, result):
    info = f"{result.info['engine']} engine, {result.info['wall_s']:.1f} s"
    if args.no_files:
        print(f"  {'t_s':>12} {'S0':>10} {'S1':>10} {'dSS0':>10}   ({info})", file=sys.stderr)
        for row in zip(result.t_s, result.S0, result.S1, result.dSS0):
            print("  " + " ".join(f"{v:10.6g}" for v in row), file=sys.stderr)
    if plan.csv is not None:
        plan.write_text(plan.csv, result.csv_text())
        print(f"  wrote {plan.csv} ({info})", file=sys.stderr)
    if plan.figure is not None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5.5, 4.0))
        result.plot(fig.add_subplot())
        fig.tight_layout()
        plan.save_figure(fig, plan.figure, dpi=120)
        print(f"  wrote {plan.figure}", file=sys.stderr)
    if args.json:
        payload = result.to_dict()
        payload["warnings"] = [in_option_words(w, OPTION_NAMES) for w in payload["warnings"]]
        from ..resultio import json_text

        text = json_text(payload)
        if args.json == "-":
            sys.stdout.write(text)
        else:
            plan.write_text(plan.json, text)
            print(f"  wrote {plan.json}", file=sys.stderr)


def _export_simpson(spec, spec_path, path):
    """Write the SIMPSON input and its crystal file through the one output guard."""
    from spinsim.simpson import simpson_input

    from ..files import OutputPlan

    if path.suffix.lower() != ".in":
        raise UserError(f"--export-simpson {path}: name the SIMPSON input FILE.in (FILE.cry is written beside it)")
    plan = OutputPlan(inputs=[spec_path])
    inp = plan.add(path, "--export-simpson")
    cry = plan.add(path.with_suffix(".cry"), "--export-simpson")
    plan.check()
    try:
        text, cry_text = simpson_input(spec, path.stem)
    except ValueError as exc:
        raise UserError(f"{spec_path}: --export-simpson: {exc}") from None
    plan.write_text(inp, text)
    plan.write_text(cry, cry_text)
    print(f"  wrote {inp} and {cry}; run: simpson {inp.name}  (writes {inp.stem}_S0.fid and {inp.stem}_S1.fid; "
          "read them with spinsim.simpson.simpson_curve)", file=sys.stderr)
    return 0
