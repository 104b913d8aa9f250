"""Issue 11 measurements (prints figures; not a test).

Run:  NUMBA_NUM_THREADS=1 nice -n 10 python benchmarks/bench_spinsim_issue11.py [--quick]

1. Pulse placement on the fast engine: 13C{27Al} RESPDOR (D = 503 Hz, eta_Q = 0.3, EFG tilted 30
   deg, MAS 10 kHz, 9.4 T, 16 points to 3 ms), CW saturation; mid-end (pulses at tau_R/2, tau_R)
   vs centred (tau_R/4, 3 tau_R/4): max |difference| in dS/S0, and the speed of each placement on
   the fast engine against the general (dense) engine running the same experiment, per crystallite.
2. SR4 + a 300 ppm 111Cd CSA (span, skew 0.3), nu1 = 16 kHz at 8 kHz MAS: dS/S0 with the detected
   signal (S_x start, complex detection) against the S+ pathway alone (spinsim before issue 11).
3. 111Cd{27Al} (r = 3.0 A, D = 247 Hz): kappa measured from simulated curves (ideal complete
   saturation; least-squares fit of the Chen 2010 curve at lambda = kappa D t) for rectangular SR4,
   adiabatic (HS) SR4 and rectangular SR4 with 10 % FWHM rf inhomogeneity on 111Cd; and the
   first-order (AHT) kappa of each waveform.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import jv

from spinsim.powder import make_powder
from spinsim.sequences import adiabatic_sr4_cycle, cw_pulse, gaussian_rf_profile, recoupling_scaling, sr4_cycle
from spinsim.system import DipolarCoupling, Spin, SpinSystem


def chen(lam, spin=2.5):
    lam = np.maximum(np.asarray(lam, float), 1e-12)
    tot = 0.0
    for k in range(1, int(round(2 * spin)) + 1):
        x = k * np.sqrt(2) * lam
        tot = tot + (4 * spin + 2 - 2 * k) * jv(0.25, x) * jv(-0.25, x)
    return (2 * spin - np.sqrt(2) * np.pi / (4 * (2 * spin + 1)) * tot) / (2 * spin + 1)


def c13al(cq):
    return SpinSystem([Spin("13C"), Spin("27Al", cq_hz=cq, eta_q=0.3, q_euler=(0.0, np.radians(30), 0.0))], 9.4,
                      [DipolarCoupling(0, 1, 503.0)])


def placement(quick):
    from spinsim.simulate import simulate_respdor

    mas = 10e3
    t = 2e-4 * np.arange(16)
    pw = make_powder("zcw", 233 if quick else 987, 16)
    print(f"\n1. placement, ZCW {pw.n_ab} x 16, 16 points to 3 ms (fast engine)")
    print("| CQ (MHz) | CW nu1 (kHz) | mid-end dS/S0(3 ms) | centred dS/S0(3 ms) | max |mid-end - centred| |")
    print("|---|---|---|---|---|")
    for cq, nu1 in ((1e6, 30e3), (3e6, 30e3), (3e6, 60e3), (6e6, 60e3)):
        sat = cw_pulse("27Al", nu1, 200e-6)
        a = simulate_respdor(c13al(cq), mas, t, sat, powder=pw, placement="mid-end")
        b = simulate_respdor(c13al(cq), mas, t, sat, powder=pw, placement="centred")
        print(f"| {cq / 1e6:g} | {nu1 / 1e3:g} | {a.dSS0[-1]:.4f} | {b.dSS0[-1]:.4f} | "
              f"{np.max(np.abs(a.dSS0 - b.dSS0)):.4f} |")
    sat = cw_pulse("27Al", 30e3, 200e-6)
    print("\nspeed (CQ 3 MHz, CW 30 kHz x 200 us, warm), per crystallite (alpha, beta, gamma):")
    print("| placement | engine | crystallites | wall (s) | per crystallite (us) | vs general |")
    print("|---|---|---|---|---|---|")
    small = make_powder("zcw", 21, 16)
    for pl in ("mid-end", "centred", [0.125, 0.375, 0.625, 0.875]):
        simulate_respdor(c13al(3e6), mas, t, sat, powder=small, placement=pl, method="general")  # warm
        t0 = time.perf_counter()
        g = simulate_respdor(c13al(3e6), mas, t, sat, powder=small, placement=pl, method="general")
        tg = (time.perf_counter() - t0) / small.size
        t0 = time.perf_counter()
        f = simulate_respdor(c13al(3e6), mas, t, sat, powder=pw, placement=pl)
        tf = (time.perf_counter() - t0) / pw.size
        fs = simulate_respdor(c13al(3e6), mas, t, sat, powder=small, placement=pl)
        name = pl if isinstance(pl, str) else "4 per period"
        print(f"| {name} | general | {small.size} | {tg * small.size:.2f} | {1e6 * tg:.0f} | 1 |")
        print(f"| {name} | fast | {pw.size} | {tf * pw.size:.2f} | {1e6 * tf:.1f} | {tg / tf:.0f}x |")
        print(f"|   fast vs general, max |d dS/S0| = {np.max(np.abs(fs.dSS0 - g.dSS0)):.1e} |")
        del f


def sr4_csa(quick):
    from spinsim.simulate import _general_signals, simulate_respdor
    from spinsim.sequences import Block, Event

    mas = 8e3
    cd = Spin.with_maryland_csa("111Cd", 0.0, 300.0, 0.3)
    system = SpinSystem([cd, Spin("27Al", cq_hz=3e6, eta_q=0.3)], 9.4, [DipolarCoupling(0, 1, 247.0)])
    cycle = sr4_cycle("111Cd", mas, "R4R4bar", 16e3)
    sat = cw_pulse("27Al", 30e3, 2 / mas)
    ns = np.arange(0, 13, 2)
    t = ns * 2 * cycle.duration
    pw = make_powder("zcw", 55 if quick else 144, 32)
    t0 = time.perf_counter()
    r = simulate_respdor(system, mas, t, sat, cycle, powder=pw)
    args = (ns, pw, 0.5e-6, None, False, 32)
    p1, _ = _general_signals(system, mas, cycle, sat, *args, initial="plus")
    p0, _ = _general_signals(system, mas, cycle, Block([Event(2 / mas)]), *args, initial="plus")
    old = 1 - p1.real / p0.real
    print(f"\n2. SR4 (R4R4bar, 16 kHz, 8 kHz MAS) + 111Cd CSA span 300 ppm, ZCW {pw.n_ab} x 32, "
          f"{time.perf_counter() - t0:.0f} s")
    print("| t (ms) | S0 = abs(S0) | Re S0 (old) | dS/S0 detected | dS/S0 S+ only (old) | difference |")
    print("|---|---|---|---|---|---|")
    for k in range(len(t)):
        print(f"| {1e3 * t[k]:.2f} | {r.S0[k]:.4f} | {p0[k].real:.4f} | {r.dSS0[k]:.4f} | {old[k]:.4f} | "
              f"{r.dSS0[k] - old[k]:+.4f} |")


def kappas(quick):
    from spinsim.simulate import IdealSaturation, RfInhomogeneity, simulate_respdor

    mas = 10e3
    d = 247.0
    system = SpinSystem([Spin("111Cd"), Spin("27Al", cq_hz=3e6, eta_q=0.3)], 9.4, [DipolarCoupling(0, 1, d)])
    pw = make_powder("zcw", 89 if quick else 233, 32)
    rect = sr4_cycle("111Cd", mas, "R4R4bar")
    hs = adiabatic_sr4_cycle("111Cd", mas, "R4R4bar", step_s=0.5e-6)
    s, w = gaussian_rf_profile(0.10, 7)
    cases = [("rectangular SR4 (nu1 = 2 nu_R)", rect, None),
             ("adiabatic HS SR4 (80 kHz peak, 80 kHz sweep)", hs, None),
             ("rectangular SR4, 10 % FWHM rf inhomogeneity", rect, RfInhomogeneity(s, w, ("111Cd",)))]
    t = 2 * rect.duration * np.arange(0, 16)
    print(f"\n3. 111Cd{{27Al}} D = {d} Hz, MAS 10 kHz, ideal complete saturation, ZCW {pw.n_ab} x 32, "
          f"t to {1e3 * t[-1]:.1f} ms")
    print("| recoupling | kappa (fit of simulated curve) | max residual | kappa (AHT of waveform) | S0 at end |")
    print("|---|---|---|---|---|")
    for name, cyc, dist in cases:
        r = simulate_respdor(system, mas, t, IdealSaturation("full"), cyc, powder=pw, rf_inhomogeneity=dist)
        fit = minimize_scalar(lambda k: np.sum((r.dSS0 - chen(k * d * t)) ** 2), bounds=(0.05, 1.5),
                              method="bounded")
        res = np.max(np.abs(r.dSS0 - chen(fit.x * d * t)))
        aht = recoupling_scaling(cyc, "111Cd", mas)["kappa_rel"] if dist is None else float("nan")
        print(f"| {name} | {fit.x:.4f} | {res:.4f} | {aht:.4f} | {r.S0[-1]:.4f} |")
        print("|   dS/S0: " + " ".join(f"{x:.3f}" for x in r.dSS0) + " |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=["placement", "sr4csa", "kappa"])
    a = ap.parse_args()
    t0 = time.perf_counter()
    if a.only in (None, "placement"):
        placement(a.quick)
    if a.only in (None, "sr4csa"):
        sr4_csa(a.quick)
    if a.only in (None, "kappa"):
        kappas(a.quick)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
