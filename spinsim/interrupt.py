"""Ctrl-C between chunks of work, never inside a numba kernel.

A SIGINT that arrives while a compiled kernel runs makes numba return with an exception set,
which Python reports as ``SystemError`` instead of ``KeyboardInterrupt``. While an
:class:`InterruptGuard` is active the first Ctrl-C only records the request; the loop calls
:meth:`InterruptGuard.check` between chunks, which raises a plain ``KeyboardInterrupt`` there.
A second Ctrl-C raises at once (for a chunk that takes too long).
"""

from __future__ import annotations

import signal
import threading

__all__ = ["InterruptGuard"]


class InterruptGuard:
    """Defer SIGINT until :meth:`check`; :meth:`release` restores the previous handler.

    Outside the main thread, or when the program installed its own SIGINT handler (unless that
    handler has a true ``deferrable`` attribute), nothing is changed and :meth:`check` never
    raises. A deferrable handler's ``note()`` is called on each Ctrl-C.

    Examples
    --------
    >>> guard = InterruptGuard()
    >>> try:
    ...     for chunk in range(3):
    ...         guard.check()
    ... finally:
    ...     guard.release()
    """

    def __init__(self):
        self.hits = 0
        self._previous = None
        current = signal.getsignal(signal.SIGINT)
        # Python's own handler, or one that declares itself deferrable (respdor's command line).
        if threading.current_thread() is threading.main_thread() and (
                current is signal.default_int_handler or getattr(current, "deferrable", False)):
            self._previous = signal.signal(signal.SIGINT, self._handler)

    def _handler(self, signum, frame):
        self.hits += 1
        note = getattr(self._previous, "note", None)
        if note is not None:
            note()  # tell the outer handler that Ctrl-C was pressed
        if self.hits > 1:
            raise KeyboardInterrupt

    def check(self):
        """Raise KeyboardInterrupt if Ctrl-C was pressed since the guard started (or before, as
        counted by a deferrable outer handler, in case the interrupt was swallowed on the way)."""
        if self.hits or getattr(self._previous, "hits", 0):
            raise KeyboardInterrupt

    def release(self):
        """Restore the previous SIGINT handler (idempotent)."""
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
        if exc[0] is None:
            self.check()  # a Ctrl-C after the last chunk still interrupts
        return False
