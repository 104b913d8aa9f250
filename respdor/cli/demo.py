"""``respdor demo``: fit the bundled synthetic 13C{27Al} RESPDOR curve end to end."""

from __future__ import annotations

import argparse

EXAMPLE = "respdor_13C27Al_synthetic.csv"


def register(subparsers):
    p = subparsers.add_parser(
        "demo",
        help="fit the bundled synthetic 13C{27Al} RESPDOR example",
        description="Fit the bundled SYNTHETIC 13C{27Al} RESPDOR curve (made from D = 503 Hz, f = 0.24 with "
        "noise by data/make_example.py) exactly as `respdor fit FILE --observe 13C --partner 27Al` would, "
        "and write the results to --output-dir.",
    )
    p.add_argument("--output-dir", default="respdor_demo_output", metavar="DIR",
                   help="where to write the results (default ./respdor_demo_output)")
    p.add_argument("--no-plot", action="store_true", help="do not draw the figure")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..examples import example_path
    from . import fit as fit_cli

    path = example_path(EXAMPLE)
    print(f"respdor demo: fitting the bundled SYNTHETIC curve {path}")
    print("  (truth used to make it: D = 503 Hz, r = 2.50 A, fraction = 0.24; see data/make_example.py)\n")
    parser = argparse.ArgumentParser(prog="respdor fit")
    fit_cli.add_fit_arguments(parser)
    argv = [str(path), "--observe", "13C", "--partner", "27Al", "--model", "respdor",
            "--output-dir", args.output_dir]
    if args.no_plot:
        argv.append("--no-plot")
    return fit_cli.run(parser.parse_args(argv))
