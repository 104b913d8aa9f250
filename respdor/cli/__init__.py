"""The ``respdor`` command line: a thin layer over the library.

Each sub-command lives in its own module of this package and provides ``register(subparsers)``,
which adds its parser and sets ``func`` to a function ``run(args) -> int``. Modules import
heavy dependencies (matplotlib, spinsim kernels) inside ``run`` only, so that ``respdor --help``
and ``respdor fit`` start fast.

One error path for every command (:func:`main`):

* a user mistake raises :class:`respdor.errors.UserError`: one line ``respdor: error: ...`` on
  stderr, exit status 2, no traceback;
* Ctrl-C anywhere (start-up, numba kernels, fits, Monte Carlo): ``respdor: interrupted``, exit 130;
  outputs are written atomically (:mod:`respdor.files`), so no partial file is left;
* anything else is a bug: a short message asking for a report, exit 1; the traceback only with
  ``--debug`` or ``RESPDOR_DEBUG=1``;
* numpy / scipy / lmfit warnings are collected and printed as one ``respdor: warning:`` line each,
  never raw.
"""

from __future__ import annotations

import os
import sys

# Sub-command modules, in the order --help lists them. Add yours here.
COMMAND_MODULES = [
    "fit",
    "demo",
    "convert",
    "plan",
    "spectra",
    "simulate",
    "library",
    "structure",
]

EXIT_USER, EXIT_BUG, EXIT_INTERRUPTED = 2, 1, 130


def _parser_class():
    import argparse

    class OneLineParser(argparse.ArgumentParser):
        """argparse with the usage mistakes said in one line, like every other user mistake.

        Option prefixes are not accepted: with them a mistyped or renamed option silently becomes
        another one (``--t2prime`` parsed as ``--t2prime-from``). Sub-command parsers inherit this
        class, so the rule holds for every command.
        """

        def __init__(self, *args, **kwargs):
            kwargs.setdefault("allow_abbrev", False)
            super().__init__(*args, **kwargs)

        def error(self, message):
            self.exit(EXIT_USER, f"respdor: error: {self.prog}: {_one_line(message)} (see {self.prog} --help)\n")

    return OneLineParser


def build_parser():
    from importlib import import_module

    from .. import __version__

    parser = _parser_class()(
        prog="respdor",
        description="REDOR / RESPDOR distance measurements: fit dephasing curves, simulate them, "
        "analyse CSA/PASS spectra and plan experiments.",
        epilog="Result files go to the current directory unless an option names another place; an input file "
        "is never overwritten. Exit status: 0 done, 2 a mistake in the input (one line on stderr), 130 "
        "interrupted, 1 a bug (please report it; --debug or RESPDOR_DEBUG=1 shows the traceback).",
    )
    parser.add_argument("--version", action="version", version=f"respdor {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of an unexpected error")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        import_module(f".{name}", __name__).register(subparsers)
    return parser


class _SigintRecorder:
    """SIGINT handler of the command line: raises KeyboardInterrupt like Python's own, and
    remembers that it did. Some libraries turn the interrupt into another error (numpy's C
    extension import gives ImportError, a numba kernel SystemError); the count still tells that
    the run ended because of Ctrl-C. ``deferrable`` lets spinsim's InterruptGuard defer it to
    the end of a chunk (calling :meth:`note` so the count stays right)."""

    deferrable = True

    def __init__(self):
        self.hits = 0
        self.previous = None

    def note(self):
        self.hits += 1

    def __call__(self, signum, frame):
        self.hits += 1
        raise KeyboardInterrupt

    def install(self):
        import signal
        import threading

        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self.previous = signal.signal(signal.SIGINT, self)
        return self

    def restore(self):
        import signal

        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            self.previous = None


def _interrupted(exc: BaseException) -> bool:
    """True for KeyboardInterrupt, also when a numba kernel wrapped it in a SystemError."""
    while exc is not None:
        if isinstance(exc, KeyboardInterrupt):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _interrupt_detail(exc) -> str:
    """What a command said when it was interrupted (``raise KeyboardInterrupt("kept ...")``), or ""."""
    while exc is not None:
        if isinstance(exc, KeyboardInterrupt) and exc.args and isinstance(exc.args[0], str):
            return exc.args[0]
        exc = exc.__cause__ or exc.__context__
    return ""


def _interrupted_exit(detail: str = "") -> int:
    """Say "interrupted" (and what was kept, when the command said so) and return 130.

    CPython remembers a KeyboardInterrupt that passed through code run by ``PyRun_String`` (some
    compiled extensions do that during import) and, at exit, kills the process with SIGINT even
    though the interrupt was handled here (exit -2 instead of 130). Running any string through
    the same path clears that flag.
    """
    print("respdor: interrupted" + (f"; {detail}" if detail else ""), file=sys.stderr)
    try:
        import ctypes

        ctypes.pythonapi.PyRun_SimpleString(b"pass")
    except Exception:  # noqa: BLE001 - not CPython: nothing to clear
        pass
    return EXIT_INTERRUPTED


#: Warnings meant for developers, not for someone running a command.
_DEVELOPER_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


def _say_warnings(caught):
    """numpy / scipy / lmfit warnings as one plain line each (no source line, no file path)."""
    seen = set()
    for w in caught:
        if issubclass(w.category, _DEVELOPER_WARNINGS):
            continue
        text = " ".join(str(w.message).split())
        if w.category is not UserWarning:
            text = f"{text} ({w.category.__name__})"
        if text not in seen:
            seen.add(text)
            print(f"respdor: warning: {text}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``respdor`` console script; returns the exit status."""
    debug = os.environ.get("RESPDOR_DEBUG", "").strip() not in ("", "0")
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in argv[:1]:
        debug = True
    recorder = _SigintRecorder()
    try:
        recorder.install()
        return _main(argv, debug, recorder)
    except KeyboardInterrupt as exc:  # during start-up, argument parsing, or the error report itself
        return _interrupted_exit(_interrupt_detail(exc))
    finally:
        recorder.restore()


def _main(argv, debug, recorder) -> int:
    import warnings

    from ..errors import UserError

    caught = []
    try:
        with warnings.catch_warnings(record=True) as caught, _plain_numbers():
            warnings.simplefilter("always")
            parser = build_parser()
            args = parser.parse_args(argv)
            debug = debug or args.debug
            if not getattr(args, "func", None):
                parser.print_help()
                return EXIT_USER
            status = int(args.func(args) or 0)
            if recorder.hits:  # Ctrl-C swallowed on the way (a library printed and ignored it)
                return _interrupted_exit()
            return status
    except UserError as exc:
        print(f"respdor: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USER
    except MemoryError:
        print("respdor: error: not enough memory for this run; reduce the grid or the sizes asked for "
              "(e.g. --powder, --gamma, --monte-carlo)", file=sys.stderr)
        return EXIT_USER
    except SystemExit:
        raise  # argparse: --help, --version, usage errors (exit 2 with its own one-line message)
    except BaseException as exc:  # noqa: BLE001 - the one place where a bug is turned into a message
        if recorder.hits or _interrupted(exc):
            return _interrupted_exit(_interrupt_detail(exc))
        if debug:
            import traceback

            traceback.print_exception(exc)
        print(f"respdor: internal error ({type(exc).__name__}: {_one_line(exc)}). This is a bug; please report "
              "it to the respdor developers with the command line and `respdor --version` (run with --debug or "
              "RESPDOR_DEBUG=1 for the traceback).", file=sys.stderr)
        return EXIT_BUG
    finally:
        _say_warnings(caught)


def _plain_numbers():
    """Context in which numbers in messages print as numbers: ``0.2``, not ``np.float64(0.2)``
    (the numpy >= 2 repr); numpy's print options are restored afterwards."""
    import contextlib

    import numpy as np

    if int(np.__version__.split(".")[0]) >= 2:
        return np.printoptions(legacy="1.25")
    return contextlib.nullcontext()


_NUMPY_SCALAR = None


def _one_line(exc) -> str:
    """The message on one line, with any numpy scalar repr left in it printed as a plain number."""
    global _NUMPY_SCALAR
    import re

    if _NUMPY_SCALAR is None:
        _NUMPY_SCALAR = re.compile(r"np\.(?:float|int|uint|complex|bool)\w*\(([^()]*)\)")
    return _NUMPY_SCALAR.sub(r"\1", " ".join(str(exc).split()))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
