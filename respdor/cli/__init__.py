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
* the machine or the user's files (disk full, permission denied, read-only file system, a file
  that vanished during the run, an I/O failure, memory exhausted, no writable numba cache):
  one line naming the file and what to do, exit status 2 (:func:`_environment_problem`);
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
    "partners",
    "m2",
    "distribution",
    "datasets",
    "precompile",
    "app",
]

EXIT_USER, EXIT_BUG, EXIT_INTERRUPTED = 2, 1, 130


def _parser_class():
    import argparse

    class OneLineParser(argparse.ArgumentParser):
        """argparse with the usage mistakes said in one line, like every other user mistake.

        Option prefixes are not accepted: with them a mistyped or renamed option silently becomes
        another one (``--t2prime`` parsed as ``--t2prime-from``). A value that starts with a minus
        and a digit is a value ("-3MHz"), never an option. Sub-command parsers inherit this class,
        so the rules hold for every command.
        """

        def __init__(self, *args, **kwargs):
            import re

            kwargs.setdefault("allow_abbrev", False)
            super().__init__(*args, **kwargs)
            # argparse takes only bare numbers ("-3", "-.5") as negative values; "-3MHz", "-8ms" or
            # "-1e-3" would be read as unknown options ("expected one argument"). No option of respdor
            # starts with a digit, so anything "-<digit>" is a value, and the option refuses it by
            # physics (respdor.units) or accepts it where a sign means something.
            self._negative_number_matcher = re.compile(r"^-\.?\d")

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


class OptionRule:
    """A declared dependency between the options of one command, checked once per run.

    ``option`` (the long name, e.g. ``"--mcmc-seed"``) has an effect only when ``active(args)``
    is true; given explicitly while it is false, the run is refused with ``"<option> has no effect
    <why>"`` (exit 2), or, with ``refuse=False`` for a harmless redundancy whose outcome is what
    the user asked for anyway (``--output-dir`` with ``--no-files``), the same words are a warning.
    Commands declare a table of these with :func:`declare_option_rules` instead of testing each
    pair in their own code, so that no option is ever silently ignored.
    """

    def __init__(self, option, active, why, refuse=True):
        self.option, self.active, self.why, self.refuse = option, active, why, refuse

    @classmethod
    def needs(cls, option, other, dest=None, advice=None, refuse=True):
        """``option`` works only together with ``other`` (a flag or option given a value)."""
        dest = dest or other.lstrip("-").replace("-", "_")
        return cls(option, lambda args: bool(getattr(args, dest, None)),
                   f"without {other}" + (f" ({advice})" if advice else f"; drop it or add {other}"), refuse)

    @classmethod
    def excludes(cls, option, other, reason, dest=None, refuse=True):
        """``option`` is overridden by ``other`` when both are given."""
        dest = dest or other.lstrip("-").replace("-", "_")
        return cls(option, lambda args: not getattr(args, dest, None), f"with {other} ({reason})", refuse)


def no_files_rules(options):
    """:class:`OptionRule` s refusing output options given together with ``--no-files`` (``--plot none`` is
    no output, so it passes)."""
    return [OptionRule(o, lambda a, d=o.lstrip("-").replace("-", "_"): not a.no_files
                       or str(getattr(a, d, "")).lower() == "none",
                       "with --no-files (nothing is written; drop one of them)") for o in options]


def declare_option_rules(parser, rules):
    """Attach a table of :class:`OptionRule` to a (sub-)command parser; :func:`main` checks it."""
    rules = tuple(rules)
    strings = {s: a.dest for a in parser._actions for s in a.option_strings}
    known = {r.option for r in rules} - set(strings)
    if known:  # a typo in a table is a bug of the table, found by every test that builds the parser
        raise ValueError(f"option rules name unknown options: {sorted(known)}")

    def check(args, argv):
        given = _given_options(argv, strings)
        for rule in rules:
            if rule.option in given and not rule.active(args):
                from ..errors import UserError

                message = f"{given[rule.option]} has no effect {rule.why}"
                if rule.refuse:
                    raise UserError(message)
                print(f"respdor: warning: {message}", file=sys.stderr)

    parser.set_defaults(_option_check=check)


def _given_options(argv, strings):
    """{canonical option: as typed} for the options of ``strings`` that appear in ``argv``."""
    dest_to_option = {}
    for s, dest in strings.items():
        if s.startswith("--"):
            dest_to_option.setdefault(dest, s)
    given = {}
    for token in argv:
        if token == "--":
            break
        if not token.startswith("-"):
            continue
        name = token.split("=", 1)[0] if token.startswith("--") else token[:2]
        if name in strings:
            canonical = dest_to_option.get(strings[name], name)
            given.setdefault(canonical, name)
    return given


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


#: Warning texts a command has already printed in its own place in the output during this run, so
#: that the same warning raised by the library (and caught by :func:`main`) is not printed again.
_SAID: set[str] = set()


def say_warning(text: str, prefix: str = "respdor: warning: ", stream=None) -> None:
    """Print one warning line now (where the command's output puts it) and remember it.

    Commands print the ``warnings`` of a result with this function; the Python warnings that the
    library raised for the same lines are then not printed a second time at the end of the run.
    """
    _SAID.add(" ".join(str(text).split()))
    print(f"{prefix}{text}", file=sys.stderr if stream is None else stream)


def _say_warnings(caught):
    """Python warnings (respdor's own, numpy / scipy / lmfit) as one plain line each (no source line,
    no file path), except those a command already printed with :func:`say_warning`."""
    from ..errors import RespdorWarning

    seen = set(_SAID)
    for w in caught:
        if issubclass(w.category, _DEVELOPER_WARNINGS):
            continue
        text = " ".join(str(w.message).split())
        if text in seen:
            continue
        if w.category is not UserWarning and not issubclass(w.category, RespdorWarning):
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
    _SAID.clear()
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
            if getattr(args, "_option_check", None):
                args._option_check(args, argv)
            status = int(args.func(args) or 0)
            if recorder.hits:  # Ctrl-C swallowed on the way (a library printed and ignored it)
                return _interrupted_exit()
            return status
    except UserError as exc:
        names = getattr(locals().get("args"), "_option_names", None) or {}
        print(f"respdor: error: {in_option_words(_one_line(exc), names)}", file=sys.stderr)
        return EXIT_USER
    except SystemExit:
        raise  # argparse: --help, --version, usage errors (exit 2 with its own one-line message)
    except BaseException as exc:  # noqa: BLE001 - the one place where a bug is turned into a message
        if recorder.hits or _interrupted(exc):
            return _interrupted_exit(_interrupt_detail(exc))
        if isinstance(exc, BrokenPipeError):
            return _reader_went_away()
        said = _environment_problem(exc)
        if said:  # the machine or the user's files, not a defect: one line, exit 2
            if debug:
                import traceback

                traceback.print_exception(exc)
            print(f"respdor: error: {_one_line(said)}", file=sys.stderr)
            return EXIT_USER
        if debug:
            import traceback

            traceback.print_exception(exc)
        print(f"respdor: internal error ({type(exc).__name__}: {_one_line(exc)}). This is a bug; please report "
              "it to the respdor developers with the command line and `respdor --version` (run with --debug or "
              "RESPDOR_DEBUG=1 for the traceback).", file=sys.stderr)
        return EXIT_BUG
    finally:
        _say_warnings(caught)


def _raised_in(exc: BaseException, source: str) -> bool:
    """True when the exception passed through a file whose path ends with ``source``."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(source):
            return True
        tb = tb.tb_next
    return False


#: Exit status when the program reading our output stopped early (``respdor fit ... | head``): the
#: shell's status for a process ended by SIGPIPE (128 + 13), said without a message, as other tools do.
EXIT_BROKEN_PIPE = 141


def _reader_went_away() -> int:
    """The reader of standard output closed it: nothing more can be shown, and nothing is wrong."""
    try:  # the interpreter's final flush of stdout must not fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    return EXIT_BROKEN_PIPE


def _environment_problem(exc: BaseException) -> str | None:
    """The one-line message for an error that comes from the machine or the user's files, else None.

    By class, not by call site: an ``OSError`` whose errno says disk full, permission denied,
    read-only file system, a file that vanished, an I/O failure; memory exhausted (also numpy's
    "array too big" ValueError); and numba finding no writable directory for its compiled-kernel
    cache. Anything else is a bug and is reported as one.
    """
    from ..files import MEMORY_MESSAGE, os_error_hint

    if isinstance(exc, MemoryError):
        return MEMORY_MESSAGE
    if isinstance(exc, ValueError) and str(exc).startswith(("Maximum allowed dimension exceeded",
                                                           "array is too big", "Maximum allowed size exceeded")):
        return f"{MEMORY_MESSAGE} ({exc})"
    if isinstance(exc, RuntimeError) and "no locator available" in str(exc) and "cannot cache" in str(exc):
        where = os.environ.get("NUMBA_CACHE_DIR") or "not set"
        return ("numba cannot store its compiled kernels: no writable cache directory (NUMBA_CACHE_DIR: "
                f"{where}; the package's __pycache__; the user cache directory); set NUMBA_CACHE_DIR to a "
                "writable directory")
    if isinstance(exc, RuntimeError) and str(exc).startswith("Symlink loop from "):  # Path.resolve()
        return f"{str(exc)[len('Symlink loop from '):]}: a loop of symbolic links; give another path"
    if isinstance(exc, OSError) and os_error_hint(exc.errno):
        import re

        names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
        what = exc.strerror or os.strerror(exc.errno)
        named = re.search(r"\b(?:file)?name = '([^']*)'", what)  # h5py: the file and the OS error inside a long text
        if not names and named:
            names, what = [named.group(1)], os.strerror(exc.errno)
        where = (" -> ".join(names) + ": ") if names else ""
        if not names and _raised_in(exc, os.path.join("numba", "core", "caching.py")):
            cache = os.environ.get("NUMBA_CACHE_DIR") or "the package's __pycache__ or the user cache directory"
            where = f"numba's compiled-kernel cache ({cache}): "
            return f"{where}{what} ({os_error_hint(exc.errno)}; or set NUMBA_CACHE_DIR to another directory)"
        return f"{where}{what} ({os_error_hint(exc.errno)})"
    return None


def _plain_numbers():
    """Context in which numbers in messages print as numbers: ``0.2``, not ``np.float64(0.2)``
    (the numpy >= 2 repr); numpy's print options are restored afterwards."""
    import contextlib

    import numpy as np

    if int(np.__version__.split(".")[0]) >= 2:
        return np.printoptions(legacy="1.25")
    return contextlib.nullcontext()


_NUMPY_SCALAR = None


def in_option_words(message: str, names: dict) -> str:
    """``message`` of a library call with its Python parameter names replaced by the command's options.

    A command declares the table with ``parser.set_defaults(_option_names={"field_t": "--field", ...})``;
    whole words (and ``name=``) are replaced, so ``"field_t needs nucleus"`` is printed as
    ``"--field needs --nucleus"``.
    """
    import re

    for name in sorted(names, key=len, reverse=True):
        message = re.sub(rf"(?<![\w-]){re.escape(name)}=", names[name] + " ", message)
        message = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w])", names[name], message)
    return message


def _one_line(exc) -> str:
    """The message on one line, with any numpy scalar repr left in it printed as a plain number."""
    global _NUMPY_SCALAR
    import re

    if _NUMPY_SCALAR is None:
        _NUMPY_SCALAR = re.compile(r"np\.(?:float|int|uint|complex|bool)\w*\(([^()]*)\)")
    return _NUMPY_SCALAR.sub(r"\1", " ".join(str(exc).split()))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
