"""Progress of long work: the one mechanism used by spinsim and respdor.

Every call that can take more than a few seconds takes a ``progress`` argument, read by
:func:`as_progress`:

``None`` (the default)
    a bar (tqdm) when someone watches -- standard error is a terminal, or the call runs in a
    Jupyter kernel -- and nothing otherwise (scripts, pipes, tests);
``False``
    nothing;
``True``
    a bar always;
a callable ``progress(done, total, label)``
    called after every step with the work done and the total, in the units of the step
    (crystallites, table nodes, fits, ...);
a :class:`Progress` instance
    used as it is (subclass it to show notes, e.g. the work estimate, in your own way).

Libraries never print: notes that a person should see before long work (the estimate of its
duration) go to :meth:`Progress.note`, which the bar writes above itself and the command line
prints as one line on standard error.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

__all__ = ["Progress", "CallbackProgress", "TqdmProgress", "LineProgress", "Within", "as_progress", "tracking",
           "someone_watches"]


class Progress:
    """Receiver of progress: does nothing; subclasses show it.

    The calls arrive in the order ``start`` -> ``advance``... -> ``close``; ``note`` may come at any
    time, also before ``start``. One instance may see several ``start``/``close`` rounds (one per
    stage of a job).
    """

    def start(self, total: int, label: str, unit: str = "") -> None:
        """A stage of ``total`` steps (``unit`` names a step) begins."""

    def advance(self, n: int = 1) -> None:
        """``n`` more steps are done."""

    def note(self, text: str) -> None:
        """One line a person should read (an estimate of the work, a refinement that starts)."""

    def close(self, interrupted: bool = False) -> None:
        """The stage ended (``interrupted``: by Ctrl-C)."""


class CallbackProgress(Progress):
    """Calls ``callback(done, total, label)`` after every step; notes are passed on when the callback
    has a ``note`` attribute, and dropped otherwise."""

    def __init__(self, callback):
        self.callback = callback
        self.done = self.total = 0
        self.label = ""

    def start(self, total, label, unit=""):
        self.done, self.total, self.label = 0, int(total), label

    def advance(self, n=1):
        self.done += int(n)
        self.callback(self.done, self.total, self.label)

    def note(self, text):
        noted = getattr(self.callback, "note", None)
        if noted is not None:
            noted(text)


class TqdmProgress(Progress):
    """A tqdm bar on standard error (a widget in a notebook); notes are written above it."""

    def __init__(self, stream=None):
        self.stream = stream
        self.bar = None

    def start(self, total, label, unit=""):
        from tqdm.auto import tqdm

        self.close()
        self.bar = tqdm(total=int(total), desc=label, unit=f" {unit}" if unit else "it", file=self.stream,
                        leave=True, dynamic_ncols=True)

    def advance(self, n=1):
        if self.bar is not None:
            self.bar.update(int(n))

    def note(self, text):
        from tqdm.auto import tqdm

        tqdm.write(text, file=self.stream if self.stream is not None else sys.stderr)

    def close(self, interrupted=False):
        if self.bar is not None:
            if interrupted:
                self.bar.set_postfix_str("interrupted")
            self.bar.close()
            self.bar = None


class LineProgress(Progress):
    """Plain lines on a stream (for logs and pipes): notes, and the stage when it ends."""

    def __init__(self, stream=None, indent: str = "  "):
        self.stream = stream
        self.indent = indent
        self.done = self.total = 0
        self.label = self.unit = ""

    def _out(self):
        return self.stream if self.stream is not None else sys.stderr

    def start(self, total, label, unit=""):
        self.done, self.total, self.label, self.unit = 0, int(total), label, unit

    def advance(self, n=1):
        self.done += int(n)

    def note(self, text):
        print(f"{self.indent}{text}", file=self._out(), flush=True)

    def close(self, interrupted=False):
        if interrupted and self.total:
            print(f"{self.indent}{self.label}: interrupted after {self.done}/{self.total} {self.unit}".rstrip(),
                  file=self._out(), flush=True)


class Within(Progress):
    """The progress of work done inside one step of another stage (e.g. the crystallites of one
    observed atom of a structure): its steps are not counted, each is passed on as
    ``outer.advance(0)``, so that a receiver which stops work between steps (a cancel button, a
    callback raising ``KeyboardInterrupt``) is asked between the inner steps as well; notes go to
    ``outer``."""

    def __init__(self, outer: Progress):
        self.outer = outer

    def advance(self, n=1):
        self.outer.advance(0)

    def note(self, text):
        self.outer.note(text)


def someone_watches(stream=None) -> bool:
    """True when a person can see progress: ``stream`` (standard error) is a terminal, or the code
    runs in a Jupyter kernel."""
    stream = sys.stderr if stream is None else stream
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError):
        pass
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    get = getattr(shell, "get_ipython", None)
    ip = get() if get is not None else None
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def as_progress(progress=None) -> Progress:
    """The :class:`Progress` for a ``progress`` argument (see the module's documentation)."""
    if isinstance(progress, Progress):
        return progress
    if progress is None:
        return TqdmProgress() if someone_watches() else Progress()
    if progress is True:
        return TqdmProgress()
    if progress is False:
        return Progress()
    if callable(progress):
        return CallbackProgress(progress)
    raise TypeError(f"progress must be None, True, False, a callable (done, total, label) or a Progress, "
                    f"not {type(progress).__name__}")


@contextmanager
def tracking(progress, total: int, label: str, unit: str = ""):
    """Run one stage of ``total`` steps: yields the :class:`Progress`, closes it at the end, and marks
    it interrupted when Ctrl-C ends the stage."""
    reporter = as_progress(progress)
    reporter.start(total, label, unit)
    try:
        yield reporter
    except KeyboardInterrupt:
        reporter.close(interrupted=True)
        raise
    except BaseException:
        reporter.close()
        raise
    reporter.close()
