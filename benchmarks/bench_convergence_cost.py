"""Cost of the convergence check relative to the run, nested (spinsim's own partial sums) vs whole
coarser runs, side by side, with what each flags.

For each case the curve is simulated once at its level (the "run"), then checked twice with
:func:`spinsim.convergence.check_convergence`: with ``nested=False`` (every coarser level run whole)
and with ``nested=True`` (each setting compared on nested subsets of the run, the run's own subset
served from its partial sums). Printed per case and mechanism: CPU seconds of the run and of the
check, their ratio (the check's cost as a fraction of the run), the bound the check states, and per
setting its status and largest change of dS/S0. Every setting is checked (``check_explicit``, no
refinement) so that both mechanisms do the same comparisons; refinement runs are the price of a
converged result, not of the check, and are excluded here as in the stated bound.

Cases (13C{27Al}, 9.4 T, MAS 10 kHz, 3 ms):

1. a 13C with two 27Al (D = 503 and 300 Hz, 110 deg apart, CQ 3 MHz), ideal saturation, ZCW 987 x 16
   (``respdor structure``'s default powder; 16 gamma angles are 1e-2 off);
2. data/c13_al27_respdor.toml (one 27Al, CW 30 kHz x 2 tau_R) with ZCW 987 x 16 (16 gamma angles
   are 0.024 off);
3. the same spec as bundled: ZCW 4181 x 32, step 0.5 us (converged);
4. case 1's system with CW 30 kHz x 2 tau_R saturation at ZCW 610 x 32 (all three settings apply);
5. case 1's system with the two 27Al coupled to each other (150 Hz, the coupled engine), ZCW 144 x 16.

Usage: ``python benchmarks/bench_convergence_cost.py [--quick]`` (``--quick``: cases 1 and 2).
Set NUMBA_NUM_THREADS=1 for CPU times that add up.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spinsim import DipolarCoupling, Spin, SpinSystem, cw_pulse, make_powder, simulate_respdor  # noqa: E402
from spinsim import _nested  # noqa: E402
from spinsim.convergence import Level, check_convergence, step_used  # noqa: E402
from spinsim.spec import load_spec  # noqa: E402

T = 2e-4 * np.arange(16)
EVERY = {"alpha_beta": True, "gamma": True, "step": True}


def c2al(al_al_hz=0.0):
    al = dict(cq_hz=3e6, eta_q=0.3)
    pairs = [DipolarCoupling(0, 1, 503.0), DipolarCoupling(0, 2, 300.0, (0.0, np.radians(110.0), 0.0))]
    if al_al_hz:
        pairs.append(DipolarCoupling(1, 2, al_al_hz, (0.0, np.radians(60.0), 0.0)))
    return SpinSystem([Spin("13C"), Spin("27Al", **al), Spin("27Al", **al)], 9.4, pairs)


def direct(system, saturation):
    def run(level):
        return simulate_respdor(system, 1e4, T, saturation=saturation, powder=level.powder, max_dt=level.max_dt)
    return run


def spec_runner():
    sp = load_spec(ROOT / "data" / "c13_al27_respdor.toml")

    def run(level):
        sp.powder, sp.max_dt = level.powder, level.max_dt
        return sp.run()
    return run


def _finer(low, level):
    """Whether ``low`` is finer than ``level`` in some setting (a run that measures an unconverged
    setting's own error, not part of the check's stated cost)."""
    return (low.powder.n_ab > level.powder.n_ab or low.powder.n_gamma > level.powder.n_gamma
            or low.max_dt < level.max_dt)


def case(name, run, level):
    print(f"\n{name}: {level.describe()}")
    for nested in (False, True):
        _nested.forget()
        finer = [0.0]

        def timed(lv):
            c = time.process_time()
            out = run(lv)
            if _finer(lv, level):
                finer[0] += time.process_time() - c
            return out

        c0 = time.process_time()
        first = run(level)
        c1 = time.process_time()
        chk = check_convergence(timed, level, EVERY, check_explicit=True, refine=False,
                                base=(first.dSS0, c1 - c0), uses_step=step_used(first.info), nested=nested,
                                times_s=T)
        c2 = time.process_time()
        check = c2 - c1 - finer[0]
        dims = "; ".join(f"{d.dimension} {d.status}" + "".join(f" vs {s['compared_with']:g}: {s['max_change']:.1e}"
                                                              for s in d.steps) for d in chk.dimensions)
        print(f"  {'nested' if nested else 'whole '}: run {c1 - c0:6.2f} CPU s, check {check:6.2f} CPU s, "
              f"ratio check/run {check / (c1 - c0):.2f} (stated bound {chk.cost_bound:g}); "
              f"finer runs measuring an unconverged setting {finer[0]:.2f} CPU s")
        print(f"          {dims}")


def main(argv):
    quick = "--quick" in argv
    cw = cw_pulse("27Al", 30e3, 2e-4)
    case("1 C + 2 Al, ideal saturation", direct(c2al(), None), Level(make_powder("zcw", 987, 16), 0.5e-6))
    case("2 bundled spec, 16 gamma", spec_runner(), Level(make_powder("zcw", 987, 16), 0.5e-6))
    if quick:
        return
    case("3 bundled spec as bundled", spec_runner(), Level(make_powder("zcw", 4181, 32), 0.5e-6))
    case("4 C + 2 Al, CW 30 kHz x 2 tau_R", direct(c2al(), cw), Level(make_powder("zcw", 610, 32), 0.5e-6))
    case("5 C + 2 coupled Al, ideal saturation", direct(c2al(150.0), None), Level(make_powder("zcw", 144, 16), 0.5e-6))


if __name__ == "__main__":
    main(sys.argv[1:])
