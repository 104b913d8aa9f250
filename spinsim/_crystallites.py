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


def engine_threads():
    """Threads an engine runs its chunks on: numba's thread count of the calling thread
    (``NUMBA_NUM_THREADS``, or :func:`numba.set_num_threads`)."""
    import numba

    return max(1, int(numba.get_num_threads()))


def in_threads(work, chunks, ranges, threads):
    """Yields (a, b, work(a, b)) for the chunks of the iterator ``chunks`` (whose ranges are
    ``ranges``, in the same order), computed on ``threads`` Python threads.

    The kernels release the GIL, so chunks run side by side. Work is submitted ahead (at most
    2 x threads chunks in flight) from ``ranges``, while ``chunks`` -- which checks for Ctrl-C and
    reports progress -- advances only as results are taken, so progress counts finished chunks. On
    an exception (Ctrl-C included) chunks not yet started are cancelled and running ones finish.
    """
    if threads <= 1:
        for a, b in chunks:
            yield a, b, work(a, b)
        return
    from concurrent.futures import ThreadPoolExecutor

    ranges = iter(ranges)
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="spinsim")
    pending = {}
    try:
        for a, b in ranges:
            pending[a, b] = pool.submit(work, a, b)
            if len(pending) >= 2 * threads:
                break
        for a, b in chunks:
            result = pending.pop((a, b)).result()
            for c, d in ranges:
                pending[c, d] = pool.submit(work, c, d)
                break
            yield a, b, result
    finally:
        for fut in pending.values():
            fut.cancel()
        pool.shutdown(wait=True)
