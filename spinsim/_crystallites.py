"""The loop over crystallites shared by the engines: chunks, progress and Ctrl-C.

Every engine works through its crystallites in chunks of ``chunk`` per numba call; progress is
reported after each chunk through :mod:`spinsim.progress`, and Ctrl-C is taken between chunks,
never inside a kernel (:class:`spinsim.interrupt.InterruptGuard`).
"""

from __future__ import annotations

from contextlib import contextmanager

from .interrupt import InterruptGuard
from .progress import tracking

#: Label of the progress stage of one engine run.
LABEL = "spinsim"


@contextmanager
def crystallite_chunks(n, chunk, per_item, progress):
    """Yields an iterator of chunks ``(a, b)`` of ``n`` crystallites; progress advances by
    ``(b - a) * per_item`` crystallites (``per_item``: gamma angles per (alpha, beta) orientation).

    ``progress`` is read by :func:`spinsim.progress.as_progress`. A Ctrl-C closes the stage as
    interrupted and propagates.
    """
    guard = InterruptGuard()
    with tracking(progress, n * per_item, LABEL, "crystallites") as reporter:

        def chunks():
            for a, b in _chunks(n, chunk):
                guard.check()
                yield a, b
                reporter.advance((b - a) * per_item)
            guard.check()

        try:
            yield chunks()
        finally:
            guard.release()


def _chunks(n, size):
    for a in range(0, n, size):
        yield a, min(n, a + size)
