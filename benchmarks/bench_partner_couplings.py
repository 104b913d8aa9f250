"""Issue 13: what the product (independent-partner) model leaves out - the 27Al-27Al couplings.

A stated geometry (a model, not a structure): the observed 13C at the origin and 27Al on a chain
along x at y = 2.6 A, 3.4 A apart (x = -1.7, 1.7, 5.1, -5.1 A; the first n taken), as in an
Al-O-Al chain bridged by a carboxylate: C-Al 3.106 A (D = 262.8 Hz) for the two bridged Al,
5.72 A (42.0 Hz) for the next ones; Al-Al 3.4 A (208 Hz), 6.8 A, 10.2 A. All 27Al with
C_Q = 3 MHz, eta_Q = 0, EFG tensors parallel (z along the crystal z; equal quadrupolar frequencies,
the case where the central-transition flip-flops are least truncated). B0 14.1 T, 10 kHz MAS,
ideal REDOR pi pulses on 13C, t_rec = 0 .. 8 ms every 4 rotor periods.

Compared, for n = 2, 3, 4 partners: the exact curve (spinsim coupled engine: all Al-Al couplings,
ZZ + flip-flop), the product model per crystallite (spinsim fast engine: no Al-Al coupling) and the
powder-level product 1 - prod_k (1 - <dS_k/S0>). Ideal complete saturation, and CW 30 kHz for
2 rotor periods.

Run: OPENBLAS_NUM_THREADS=1 PYTHONPATH=. nice -n 10 python benchmarks/bench_partner_couplings.py [n_ab n_gamma]
(single-threaded BLAS: the engine runs crystallites in parallel itself); add ``--four`` for 2, 3
and 4 partners with ideal saturation only (4 partners: 1296 states, minutes per crystallite).
"""

import sys
import time

import numpy as np
from ase import Atoms

from respdor.structure import Structure, build_system, find_partners, powder_product
from spinsim import IdealSaturation, cw_pulse, make_powder, simulate_respdor

MAS, B0 = 10e3, 14.1
X = [-1.7, 1.7, 5.1, -5.1]
T = np.arange(0, 21) * 4 / MAS


def partners(n, which=None):
    xs = X[:n] if which is None else [X[which]]
    at = Atoms("C" + "Al" * len(xs), positions=[[0, 0, 0]] + [[x, 2.6, 0] for x in xs])
    return find_partners(Structure(at), 0, "13C", "27Al", 12.0, cq_hz=3e6)


def curve(n, sat, pw, couple, which=None):
    sy = build_system(partners(n, which), "13C", "27Al", B0, partner_couplings=couple)
    t0 = time.perf_counter()
    r = simulate_respdor(sy, MAS, T, saturation=sat, powder=pw)
    return r, time.perf_counter() - t0


def row(n, sat, name, pw):
    exact, t_exact = curve(n, sat, pw, True)
    prod, t_prod = curve(n, sat, pw, False)
    singles = [curve(1, sat, pw, False, k)[0].dSS0 for k in range(n)]
    pp = powder_product(singles)
    d_prod = np.max(np.abs(prod.dSS0 - exact.dSS0))
    d_pp = np.max(np.abs(pp - exact.dSS0))
    d_s0 = np.max(np.abs(prod.S0 - exact.S0))
    k = int(np.argmax(np.abs(prod.dSS0 - exact.dSS0)))
    print(f"| {n} | {name} | {d_prod:.4f} (at {1e3 * T[k]:.1f} ms) | {d_pp:.4f} | {d_s0:.4f} | "
          f"{exact.info['engine']} {t_exact:.1f} s | {prod.info['engine']} {t_prod:.1f} s |", flush=True)
    return exact, prod


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n_ab, n_gamma = (int(args[0]), int(args[1])) if len(args) > 1 else (55, 8)
    pw = make_powder("zcw", n_ab, n_gamma)
    print(f"ZCW {n_ab} x {n_gamma}; max over t_rec = 0 .. 8 ms (21 points) of |d dS/S0| against the exact curve")
    for n in (2, 3):
        d = [p.d_hz for p in partners(n)]
        print(f"{n} partners: D(C-Al) = {', '.join(f'{x:.1f}' for x in d)} Hz")
    print("| n Al | saturation | product per crystallite | powder-level product | S0 change | exact: engine, time |"
          " product: engine, time |")
    print("|---|---|---|---|---|---|---|")
    ideal, cw = IdealSaturation("full"), cw_pulse("27Al", 30e3, 2 / MAS)
    if "--four" in sys.argv:  # 1296 states: ideal saturation only, a small powder (minutes per crystallite)
        for n in (2, 3, 4):
            row(n, ideal, "ideal", pw)
        return
    for n in (2, 3):
        row(n, ideal, "ideal", pw)
        row(n, cw, "CW 30 kHz x 2 tau_R", pw)


if __name__ == "__main__":
    main()
