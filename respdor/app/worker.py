"""Long work off the request thread: a :class:`Job` runs one library call in a thread, collects its
progress, notes and warnings, and can be cancelled (no Panel here).

Cancel: the job's :class:`spinsim.progress.Progress` raises ``KeyboardInterrupt`` at the next step
the library reports, which the library treats as Ctrl-C (nothing half-written). Only there: an
exception thrown into the thread at an arbitrary point could stop a file half-written or a numba
compilation half-done (which broke later compilations in the same process), so a chunk of
crystallites or a first-use compilation that runs finishes first. Warnings: while a job runs, the Python warnings raised in its thread are
routed to it (:func:`route_warnings`, installed once per app process), so two tabs never see each
other's warnings.
"""

from __future__ import annotations

import threading
import time
import warnings

from spinsim.progress import Progress

__all__: list = []

_local = threading.local()
_DEVELOPER = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


def route_warnings():
    """Send each Python warning raised in a job's thread to that job (others go where they went);
    every warning is shown each time (no "once per location" filter hides it from a second tab)."""
    if getattr(warnings.showwarning, "_respdor_app", False):
        return
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        job = getattr(_local, "job", None)
        if job is None:
            return previous(message, category, filename, lineno, file, line)
        if not issubclass(category, _DEVELOPER):
            job.add_warning(message, category)

    show._respdor_app = True
    warnings.simplefilter("always")
    warnings.showwarning = show


class _JobProgress(Progress):
    def __init__(self, job):
        self.job = job

    def start(self, total, label, unit=""):
        self.job.check()
        self.job.stage = (0, int(total), label)

    def advance(self, n=1):
        self.job.check()
        done, total, label = self.job.stage
        self.job.stage = (done + int(n), total, label)

    def note(self, text):
        self.job.check()
        self.job.notes.append(str(text))


class Job:
    """One library call ``fn(progress=...)`` in a daemon thread.

    ``state`` goes ``"running"`` -> ``"done"`` (``result`` set), ``"failed"`` (``message``: the one
    line of a user mistake) or ``"cancelled"``. ``stage`` is (done, total, label) of the stage that
    runs; ``notes`` and ``warnings`` the lines to show; ``seconds`` the time it took.
    """

    def __init__(self, fn):
        self.fn = fn
        self.state, self.result, self.message = "running", None, ""
        self.stage, self.notes, self.warnings = (0, 0, ""), [], []
        self.cancelled = False
        self.seconds = 0.0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True, name="respdor-app-job")

    def start(self):
        self._thread.start()
        return self

    def add_warning(self, message, category):
        text = " ".join(str(message).split())
        if category is not UserWarning and category.__module__.split(".")[0] not in ("respdor", "spinsim"):
            text = f"{text} ({category.__name__})"
        if text not in self.warnings:
            self.warnings.append(text)

    def check(self):
        if self.cancelled:
            raise KeyboardInterrupt("cancelled")

    def cancel(self):
        """Ask the call to stop at its next progress step (its result, if it returns first, is dropped)."""
        with self._lock:
            if self.state != "running":
                return
            self.cancelled = True

    def wait(self, timeout=None):
        self._thread.join(timeout)
        return self.state

    def _run(self):
        _local.job = self
        t0 = time.perf_counter()
        try:
            result = self.fn(progress=_JobProgress(self))
            self.check()  # a cancel that came while the call was returning drops its result
            outcome = ("done", result, "")
        except BaseException as exc:  # noqa: BLE001 - the job reports how it ended; nothing escapes a thread
            state, message = self._ending(exc)
            outcome = (state, None, message)
        with self._lock:
            self.seconds = time.perf_counter() - t0
            self.result, self.message = outcome[1:]
            self.state = outcome[0]  # last: a page that sees the new state finds the result
        _local.job = None

    def _ending(self, exc):
        from ..errors import UserError

        seen = exc
        while seen is not None:
            if isinstance(seen, KeyboardInterrupt) or self.cancelled:
                return "cancelled", "cancelled; nothing was kept"
            seen = seen.__cause__ or seen.__context__
        if isinstance(exc, UserError):
            return "failed", " ".join(str(exc).split())
        if isinstance(exc, MemoryError):
            from ..files import MEMORY_MESSAGE

            return "failed", MEMORY_MESSAGE
        return "failed", (f"internal error ({type(exc).__name__}: {' '.join(str(exc).split())}). This is a bug; "
                          "please report it with the equivalent command line shown below")
