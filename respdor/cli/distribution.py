"""``respdor distribution``: the distribution of distances P(r) a dephasing curve allows."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import UserError
from ..units import finite_float, parse_length

#: How the call's messages name its arguments: this command's options.
_OPTIONS = {"r_min_angstrom": "--r-range", "r_max_angstrom": "--r-range", "n_r": "--points",
            "bootstrap": "--bootstrap", "seed": "--seed", "efficiency": "--efficiency", "observe": "--observe",
            "partner": "--partner", "time_unit": "--time-unit", "grid": "--grid"}
#: Python names that may reach ``main`` in a library error (distinct words only).
_OPTION_NAMES = {"r_min_angstrom": "--r-range", "r_max_angstrom": "--r-range", "n_r": "--points",
                 "time_unit": "--time-unit"}

_DESCRIPTION = """\
The distribution of distances P(r) of the dephasing sites of one REDOR / RESPDOR curve.

The curve is inverted on the two-spin curves of the pair (the same analytical models as
`respdor fit`): non-negative Tikhonov regularisation with the regularisation parameter chosen by
AIC (DeerLab), a seeded bootstrap for the 95 % band, and three parametric alternatives fitted to
the same curve (one distance, a Gaussian distribution, two distances), all ranked by
AIC = chi2 + 2k. P(r) integrates to the bonded fraction, not to 1. The output says which
distances the recoupling times resolve, and warns when P(r) sits at the grid edges or outside them.
Needs DeerLab: pip install 'respdor[distributions]'.

Outputs (in --output-dir, default the current directory, named after the curve file):
<stem>_distribution.json, <stem>_distribution.csv (r, P, 95 % band) and <stem>_distribution.png,
all checked before the work starts (an input is never overwritten); --no-files writes none.
"""

_EPILOG = """\
examples:
  respdor distribution curve.csv --observe 13C --partner 27Al
  respdor distribution curve.csv --observe 13C --partner 27Al --r-range 1.5:6A --bootstrap 200 --json -
"""


def register(subparsers):
    p = subparsers.add_parser("distribution", help="distance distribution P(r) of one curve, with alternatives",
                              description=_DESCRIPTION, epilog=_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="CURVE", help="curve file (as for respdor fit)")
    g = p.add_argument_group("nuclei and model (as for respdor fit)")
    g.add_argument("--observe", metavar="ISOTOPE", help="observed spin-1/2 nucleus (default: the file's, else 13C)")
    g.add_argument("--partner", metavar="ISOTOPE", help="recoupled partner (default: the file's, else 27Al)")
    g.add_argument("--model", choices=["respdor", "redor"], default="respdor",
                   help="respdor: saturation of the partner; redor: pi pulses on it (default respdor)")
    g.add_argument("--sequence", choices=["redor", "sr4"], default="redor",
                   help="recoupling sequence on the observed spin, sets the dipolar scaling (default redor)")
    g.add_argument("--efficiency", type=finite_float, default=1.0,
                   help="saturation efficiency in (0, 1] assumed for the fraction (default 1)")
    g = p.add_argument_group("distribution")
    g.add_argument("--r-range", metavar="LOW:HIGH",
                   help="distance grid, e.g. 1.5:6A or 0.15:0.6nm (bare numbers: angstrom; default: what the "
                        "recoupling times can resolve)")
    g.add_argument("--points", type=int, default=91, metavar="N", help="points of the distance grid (default 91)")
    g.add_argument("--grid", choices=["distance", "coupling"], default="distance",
                   help="grid points uniform in r (default) or in the coupling D (denser at short distances)")
    g.add_argument("--bootstrap", type=int, default=100, metavar="N",
                   help="bootstrap samples for the 95 %% band (0: none; default 100)")
    g.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the bootstrap noise (default 0)")
    g = p.add_argument_group("input and output")
    g.add_argument("--time-unit", choices=["s", "ms", "us"], help="time unit when the header does not state it")
    g.add_argument("--output-dir", default=".", metavar="DIR",
                   help="directory for result files, created if missing (default: the current directory)")
    g.add_argument("--json", metavar="PATH", help="also write the JSON result here ('-' = standard output)")
    g.add_argument("--plot", metavar="PATH", help="figure path (default <output-dir>/<stem>_distribution.png)")
    g.add_argument("--no-plot", action="store_true", help="do not draw the figure")
    g.add_argument("--no-files", action="store_true",
                   help="write no file at all (the tables are printed; --json - still writes to standard output)")
    p.set_defaults(func=run, _option_names=_OPTION_NAMES)
    from . import OptionRule, declare_option_rules

    declare_option_rules(p, [OptionRule.excludes("--plot", "--no-plot", "no figure is drawn"),
                             OptionRule.excludes("--output-dir", "--no-files", "no file is written", refuse=False)])


def parse_range(text):
    """``"1.5:6A"`` -> (1.5, 6.0) in angstrom; a unit written once applies to both ends."""
    import re

    parts = str(text).split(":")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise UserError(f"--r-range {text!r}: expected LOW:HIGH, e.g. 1.5:6A")
    low, high = (p.strip() for p in parts)
    unit = re.search(r"[a-zA-Zµå]+$", high)
    if unit and not re.search(r"[a-zA-Zµå]+$", low):
        low += unit.group(0)
    lo, hi = (parse_length(v, f"--r-range {text}")[0] for v in (low, high))
    if not lo < hi:
        raise UserError(f"--r-range {text}: the low end {lo:g} A is not below the high end {hi:g} A")
    return lo, hi


def plan_outputs(args, stem):
    """Every file the run writes, checked before the work starts (see :mod:`respdor.files`)."""
    from ..files import OutputPlan

    if args.no_files and args.json not in (None, "-"):
        raise UserError(f"--no-files and --json {args.json} contradict each other; use --json - for standard output")
    plan = OutputPlan(inputs=[args.file], no_files=args.no_files)
    outdir = Path(args.output_dir)
    plan.json = plan.add(args.json, "--json", stdout=True)
    plan.files = {}
    if not args.no_files:
        plan.add_directory(outdir, "--output-dir")
        default_json = outdir / f"{stem}_distribution.json"
        if plan.json is None or os.path.realpath(plan.json) != os.path.realpath(default_json):
            plan.files["json"] = plan.add(default_json, "--output-dir")
        plan.files["csv"] = plan.add(outdir / f"{stem}_distribution.csv", "--output-dir")
    plan.figure = None if args.no_plot else plan.add(args.plot or outdir / f"{stem}_distribution.png", "--plot",
                                                     "figure")
    plan.check()
    return plan


def report(result) -> str:
    """The printed tables: the models by AIC, then P(r)."""
    lines = [f"{result._title()}", f"  {result._headline()}", "", "model comparison (AIC = chi2 + 2k; lower is better):"]
    for row in sorted(result.models_table(), key=lambda r: r["AIC"]):
        lines.append(f"  {row['model']:<16} chi2 {row['chi2']:7.2f}  k {row['k']:5.2f}  AIC {row['AIC']:7.2f}  "
                     f"dAIC {row['dAIC']:5.2f}  {row['parameters']}")
    lines += ["", f"  {'r/A':>6} {'P/A^-1':>9} {'low95':>9} {'high95':>9}"]
    for row in result._rows():
        lo, hi = (f"{row[k]:9.4f}" if row[k] is not None else f"{'':9}" for k in ("P_low95", "P_high95"))
        lines.append(f"  {row['r_angstrom']:6.3f} {row['P_per_angstrom']:9.4f} {lo} {hi}")
    lines += [""] + [f"note: {n}" for n in result.notes]
    return "\n".join(lines)


def run(args) -> int:
    from spinsim.progress import LineProgress, TqdmProgress

    from ..jobs.distribution import distance_distribution, distribution_figure
    from ..resultio import json_text, table_csv_text
    from . import say_warning

    out = sys.stderr if args.json == "-" else sys.stdout
    r_min, r_max = parse_range(args.r_range) if args.r_range else (None, None)
    if not Path(args.file).exists():
        raise UserError(f"{args.file}: no such file")
    plan = plan_outputs(args, Path(args.file).stem)
    progress = TqdmProgress() if sys.stderr.isatty() else LineProgress(sys.stderr)
    result = distance_distribution(args.file, args.observe, args.partner, experiment=args.model,
                                   sequence=args.sequence, efficiency=args.efficiency, r_min_angstrom=r_min,
                                   r_max_angstrom=r_max, n_r=args.points, grid=args.grid, bootstrap=args.bootstrap,
                                   seed=args.seed, time_unit=args.time_unit, progress=progress,
                                   option_names=_OPTIONS)
    print(report(result), file=out)
    for w in result.warnings:
        say_warning(w)
    text = json_text(result.to_dict())
    if args.json == "-":
        sys.stdout.write(text)
    written = []
    for path, content in ((plan.json, text), (plan.files.get("json"), text),
                          (plan.files.get("csv"), table_csv_text(result._rows()))):
        if path is not None:
            plan.write_text(path, content)
            written.append(path)
    if plan.figure is not None:
        plan.save_figure(distribution_figure(result), plan.figure, dpi=150)
        written.append(plan.figure)
    for path in written:
        print(f"wrote {path}", file=out)
    return 0
