"""Performance of the spinsim engine (prints figures; not a test).

Run:  python benchmarks/bench_spinsim.py [--quick]

Measures, on this machine:
1. the 13C{27Al} RESPDOR curve (D = 503 Hz, CQ = 3 MHz, eta_Q = 0.3, MAS 10 kHz, CW 30 kHz for
   2 rotor periods, 9.4 T) with a converged powder: wall time, and the convergence error against a
   much larger powder;
2. how the cost grows with the number of orientations, of recoupling points and of 27Al spins;
3. the speed-up over a straightforward numpy/scipy implementation of the same physics
   (:mod:`spinsim.reference`: every point propagated from scratch in 0.5 us slices with
   scipy.linalg.expm), per crystallite, and the agreement of the two.
Numba compile time is reported separately (first call); all other timings are warm.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from spinsim.powder import Powder, zcw
from spinsim.sequences import Block, Event, cw_pulse, redor_cycle
from spinsim.system import DipolarCoupling, Spin, SpinSystem

MAS = 10e3
SAT = cw_pulse("27Al", 30e3, 200e-6)


def system(n_al=1, d=(503.0, 350.0, 250.0)):
    spins = [Spin("13C")]
    dips = []
    eulers = [(0.0, 0.0, 0.0), (0.0, 1.9, 0.0), (2.1, 1.9, 0.0)]
    qe = [(0.0, np.radians(30), 0.0), (0.5, 1.0, 0.2), (1.0, 2.0, 0.3)]
    for k in range(n_al):
        spins.append(Spin("27Al", cq_hz=3e6, eta_q=0.3, q_euler=qe[k]))
        dips.append(DipolarCoupling(0, k + 1, d[k], eulers[k]))
    return SpinSystem(spins, 9.4, dips)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller reference powder and fewer cases")
    args = ap.parse_args()
    from numba import get_num_threads

    from spinsim.simulate import simulate_respdor

    print(f"threads: numba {get_num_threads()}, cpus {os.cpu_count()}")
    t16 = 2e-4 * np.arange(16)  # t_rec = 2 n tau_R up to 3.0 ms (16 points)
    t31 = 2e-4 * np.arange(31)  # 31 points (to 6.0 ms)
    s1 = system(1)

    _, tc = timed(lambda: simulate_respdor(s1, MAS, t16, SAT, powder=zcw(21, 4)))
    print(f"first call (numba compile or cache load + tiny powder): {tc:.1f} s")

    # 1. converged curve
    big = 6765 if args.quick else 17711
    ref, tref = timed(lambda: simulate_respdor(s1, MAS, t16, SAT, powder=zcw(big, 32)))
    print(f"\n[1] 13C{{27Al}} CQ 3 MHz, CW 30 kHz x 200 us, 16 points to 3 ms; reference ZCW {big} x 32: {tref:.1f} s")
    for n in (987, 2584, 4181):
        r, t = timed(lambda: simulate_respdor(s1, MAS, t16, SAT, powder=zcw(n, 32)))
        err = np.max(np.abs(r.dSS0 - ref.dSS0))
        print(f"    ZCW {n:5d} x 32 gamma: {t:6.2f} s wall, max |dS/S0 - reference| = {err:.1e}")
    r31, t = timed(lambda: simulate_respdor(s1, MAS, t31, SAT, powder=zcw(4181, 32)))
    print(f"    ZCW  4181 x 32 gamma, 31 points to 6 ms: {t:6.2f} s wall")

    # 2. scaling
    print("\n[2] cost scaling (ZCW x 32 gamma, 16 points unless stated)")
    for n in (233, 987, 4181):
        _, t = timed(lambda: simulate_respdor(s1, MAS, t16, SAT, powder=zcw(n, 32)))
        print(f"    orientations {n * 32:7d}: {t:6.2f} s ({1e6 * t / (n * 32):.1f} us per crystallite)")
    for npts in (2, 16, 31, 61):
        tt = 2e-4 * np.arange(npts)
        _, t = timed(lambda: simulate_respdor(s1, MAS, tt, SAT, powder=zcw(987, 32)))
        print(f"    recoupling points {npts:3d} (ZCW 987): {t:6.2f} s")
    for n_al in (1, 2, 3):
        s = system(n_al)
        _, t = timed(lambda: simulate_respdor(s, MAS, t16, SAT, powder=zcw(4181, 32)))
        print(f"    27Al spins {n_al} (ZCW 4181 x 32, fast path): {t:6.2f} s")
    s2 = system(2)
    pw = zcw(21, 4)
    _, t = timed(lambda: simulate_respdor(s2, MAS, t16[:6], SAT, powder=pw, method="general"))
    print(f"    27Al spins 2, general dense path (dim 72), ZCW 21 x 4, 6 points: {t:6.2f} s "
          f"({1e3 * t / pw.size:.0f} ms per crystallite)")

    # 3. speed-up over the scipy reference, per crystallite
    from spinsim.reference import reference_signals

    pw = Powder(np.array([0.3, 1.2]), np.array([0.7, 1.3]), np.array([0.5, 0.5]), 1)
    e, w = pw.euler_full()
    ns = np.arange(16)
    cyc = redor_cycle("13C", MAS, 0.0, "x")
    (r1, r0), t_ref = timed(lambda: (reference_signals(s1, MAS, cyc, SAT, ns, e),
                                     reference_signals(s1, MAS, cyc, Block([Event(200e-6)]), ns, e)))
    per_ref = t_ref / pw.size
    fast_same = simulate_respdor(s1, MAS, t16, SAT, powder=pw, method="fast")
    gen_same = simulate_respdor(s1, MAS, t16, SAT, powder=pw, method="general")
    d_fast = np.max(np.abs(fast_same.S1_complex - w @ r1))
    d_gen = np.max(np.abs(gen_same.S1_complex - w @ r1))
    _, t_fast = timed(lambda: simulate_respdor(s1, MAS, t16, SAT, powder=zcw(987, 32), method="fast"))
    per_fast = t_fast / (987 * 32)
    _, t_gen = timed(lambda: simulate_respdor(s1, MAS, t16, SAT, powder=zcw(55, 8), method="general"))
    per_gen = t_gen / (55 * 8)
    print("\n[3] same physics, per crystallite (S0 and S1, 16 points to 3 ms)")
    print(f"    numpy/scipy expm reference : {1e3 * per_ref:9.1f} ms")
    print(f"    numba general (dense) path : {1e3 * per_gen:9.3f} ms  -> speed-up {per_ref / per_gen:8.0f} x")
    print(f"    numba fast path            : {1e3 * per_fast:9.4f} ms  -> speed-up {per_ref / per_fast:8.0f} x")
    print(f"    agreement with the reference: fast {d_fast:.1e}, general {d_gen:.1e} (max |S1 difference|)")


if __name__ == "__main__":
    main()
