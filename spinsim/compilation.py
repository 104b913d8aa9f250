"""What a first run says while numba compiles the engine's kernels, and how long that takes.

spinsim's kernels are compiled on first use, once per machine and version (``spinsim._jitcache``),
which takes seconds to half a minute per engine: :func:`compilation_notice` (used by
:func:`spinsim.simulate_respdor` and respdor's simulation job) notes the first compiler pass of a
run through its progress, once per engine and process, before the wait. Loading cached kernels
runs no compiler pass and says nothing. :func:`spinsim.precompile.precompile` compiles every
engine ahead.
"""

from __future__ import annotations

from contextlib import contextmanager

#: CPU seconds each engine's kernels took to compile with an empty cache on a 2-core x86_64 machine
#: (``python benchmarks/bench_fast_engine.py --skip-warm --precompile``): the estimates that `respdor precompile`
#: and the first-run note give.
COMPILE_SECONDS = {"fast": 10.0, "general": 11.0, "coupled": 28.0}

_NOTED = set()  # engines whose first compilation this process has announced
_WATCHERS = []  # (progress, engine) of the runs in progress, outermost first
_LISTENER = []  # the numba event listener, registered on first use


def _announce_compilation(_event):
    """numba runs a compiler pass (it compiles; loading a cached kernel runs none): say so once per
    engine, through the outermost run's progress (the job's, which shows notes)."""
    if not _WATCHERS:
        return
    progress, engine = _WATCHERS[0]
    if engine in _NOTED:
        return
    _NOTED.add(engine)
    progress.note(f"compiling the {engine} engine's kernels for this machine (once per machine and version; up "
                  f"to about {COMPILE_SECONDS[engine]:.0f} CPU s; `respdor precompile` compiles every engine ahead)")


@contextmanager
def compilation_notice(progress, engine):
    """Within the block, the first compilation of a kernel (of a run of ``engine``) is noted through
    ``progress`` (:meth:`spinsim.progress.Progress.note`), once per engine and process."""
    from numba.core import event

    from .progress import as_progress

    if engine not in COMPILE_SECONDS:
        yield
        return
    if not _LISTENER:

        class FirstCompilation(event.Listener):
            def on_start(self, ev):
                _announce_compilation(ev)

            def on_end(self, ev):
                pass

        _LISTENER.append(FirstCompilation())
        event.register("numba:run_pass", _LISTENER[0])
    entry = (as_progress(progress), engine)
    _WATCHERS.append(entry)
    try:
        yield
    finally:
        _WATCHERS.remove(entry)
