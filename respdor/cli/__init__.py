"""The ``respdor`` command line: a thin layer over the library.

Each sub-command lives in its own module of this package and provides ``register(subparsers)``,
which adds its parser and sets ``func`` to a function ``run(args) -> int``. Modules import
heavy dependencies (matplotlib, spinsim kernels) inside ``run`` only, so that ``respdor --help``
and ``respdor fit`` start fast.

User mistakes raise :class:`respdor.errors.UserError`; :func:`main` prints them as one line
``respdor: error: ...`` and exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module

from ..errors import UserError

# Sub-command modules, in the order --help lists them. Add yours here.
COMMAND_MODULES = [
    "fit",
    "demo",
    "convert",
    "plan",
    "spectra",
    "simulate",
    "library",
]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="respdor",
        description="REDOR / RESPDOR distance measurements: fit dephasing curves, simulate them, "
        "analyse CSA/PASS spectra and plan experiments.",
    )
    parser.add_argument("--version", action="version", version=f"respdor {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        import_module(f".{name}", __name__).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``respdor`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"respdor: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("respdor: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
