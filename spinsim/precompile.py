"""Compile the simulation engines' kernels ahead of the first simulation.

spinsim's kernels are compiled by numba on first use and cached on disk, once per machine and
spinsim version (``spinsim._jitcache``): a new virtual environment on a machine that has run
this version starts warm, but the very first simulation on a machine also compiles what its engine
needs (7 CPU s for the fast engine's kernels on the 2-core machine of ``docs/simulation.md``,
several times the simulation itself). :func:`precompile` does that compilation now, on purpose,
for every engine, so that every later run starts at once: run it once after installing (an image
build, a cluster node, a teaching room, the server of the browser app).

It runs tiny simulations (one or two crystallites, two time points) that take every path the
engines have: the fast engine with constant, shaped and ideal saturation; the general engine with
its gamma angles sharing steps and stepped one by one, the detection variants of ideal saturation
and continued recoupling cycles; the coupled engine. Each kernel has one signature (the drivers
pass C-contiguous float64, complex128 and int64 arrays), so what these runs compile is what any
run uses (``tests/test_precompile.py`` checks that every kernel is compiled and that the bundled
examples then compile nothing).

A run that does compile says so first (:func:`spinsim.compilation.compilation_notice`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from .compilation import COMPILE_SECONDS

#: The engines :func:`precompile` knows, in the order it compiles them.
ENGINES = ("fast", "general", "coupled")

_TIMES = np.array([0.0, 4e-4])  # s: two points, so that the per-time code paths run


def _cdal(csa=False):
    """13C{27Al} at 2.5 A, 9.4 T, CQ 3 MHz (with a 13C CSA when ``csa``)."""
    from .system import Spin, SpinSystem

    c13 = Spin.with_maryland_csa("13C", 0.0, 100.0, 0.5) if csa else Spin("13C")
    return SpinSystem.from_coordinates([c13, Spin("27Al", cq_hz=3e6, eta_q=0.3)], [[0, 0, 0], [0, 0, 2.5]], 9.4)


def _powder(n_gamma=4):
    from .powder import zcw

    return zcw(2, n_gamma)


def _run_fast():
    from ._experiment import IdealSaturation
    from .sequences import cw_pulse, wurst_pulse
    from .simulate import simulate_respdor

    system = _cdal()
    for saturation in (cw_pulse("27Al", 30e3, 2e-4), wurst_pulse("27Al", 60e3, 2e-4, 400e3, n_steps=40),
                       IdealSaturation("full")):
        simulate_respdor(system, 1e4, _TIMES, saturation, powder=_powder(), method="fast")


def _run_general():
    from ._drivers_general import general_signals
    from ._experiment import IdealSaturation
    from .sequences import cw_pulse, redor_cycle, sr4_cycle
    from .simulate import simulate_respdor

    system = _cdal(csa=True)
    cw = cw_pulse("27Al", 30e3, 2e-4)
    sr4 = sr4_cycle("13C", 1e4, "R4R4bar")
    simulate_respdor(system, 1e4, np.array([0.0, 8e-4]), cw, recoupling=sr4, powder=_powder(), method="general")
    simulate_respdor(system, 1e4, _TIMES, IdealSaturation("full"), powder=_powder(), method="general")
    simulate_respdor(system, 1e4, np.array([0.0, 6e-4]), cw, recoupling=sr4, powder=_powder(), method="general",
                     cycle_mode="continue")
    cycle = redor_cycle("13C", 1e4, 0.0, [0.0, 0.0])
    general_signals(system, 1e4, cycle, cw, np.array([0, 1]), _powder(), 0.5e-6, None, False, 32,
                    shared_gamma=False)


def _run_coupled():
    from ._experiment import IdealSaturation
    from .sequences import cw_pulse
    from .simulate import simulate_respdor
    from .system import Spin, SpinSystem

    al = dict(isotope="27Al", cq_hz=3e6)
    xyz = [[0, 0, 0], [-1.7, 2.6, 0], [1.7, 2.6, 0]]
    system = SpinSystem.from_coordinates([Spin("13C"), Spin(**al), Spin(**al)], xyz, 14.1, homonuclear=True)
    for saturation in (cw_pulse("27Al", 30e3, 2e-4), IdealSaturation("full")):
        simulate_respdor(system, 1e4, _TIMES, saturation, powder=_powder(2), method="coupled")


_RUNS = {"fast": _run_fast, "general": _run_general, "coupled": _run_coupled}


def estimated_seconds(engines=ENGINES):
    """CPU seconds :func:`precompile` takes on a machine that has not compiled these kernels
    (measured constants, :data:`spinsim.compilation.COMPILE_SECONDS`); nearly nothing when it has."""
    return float(sum(COMPILE_SECONDS[e] for e in _checked(engines)))


def _checked(engines):
    engines = tuple(engines)
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        raise ValueError(f"unknown engine {unknown[0]!r}: choose from {', '.join(ENGINES)}")
    return engines


def _cached_kernels():
    """Number of compiled kernel files in this process's kernel cache (0 when it cannot be read)."""
    from ._jitcache import cache_directory

    try:
        return sum(1 for _ in cache_directory().glob("*.nbc"))
    except OSError:
        return 0


def precompile(engines=ENGINES, progress: Callable[[str, dict], None] | None = None) -> dict[str, dict]:
    """Compile (or load from the cache) the kernels of the given engines now.

    Parameters
    ----------
    engines : iterable of {"fast", "general", "coupled"}
        Default: all three.
    progress : callable, optional
        Called as ``progress(engine, None)`` before each engine and ``progress(engine, row)`` after
        it (``row`` as in the result).

    Returns
    -------
    dict
        Engine -> ``{"cpu_s": CPU seconds, "wall_s": wall seconds, "compiled": kernels compiled
        and written to the cache}``; an engine whose kernels were all cached compiles none and
        takes a fraction of a second (loading them and the tiny simulations).
    """
    out = {}
    for engine in _checked(engines):
        if progress is not None:
            progress(engine, None)
        before, c0, w0 = _cached_kernels(), time.process_time(), time.perf_counter()
        _RUNS[engine]()
        out[engine] = {"cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - w0,
                       "compiled": max(_cached_kernels() - before, 0)}
        if progress is not None:
            progress(engine, out[engine])
    return out
