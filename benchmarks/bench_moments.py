"""Second moments: the initial-rise prefactors and fit_m2 against spinsim's exact multi-spin curves.

Table 1: dS/S0 / (C M2 t^2) extrapolated to t = 0 (two short times, Richardson) from spinsim
(ideal pulses, partners coupled only to 13C, per-crystallite product), for REDOR (ideal inversion) and
RESPDOR (ideal full saturation) with a spin-1/2 partner (31P) and a spin-5/2 partner (27Al), one to four
partners at random directions: the relative error of the prefactor C, at two powders (convergence).

Table 2: M2 fitted by respdor.fit_m2 from spinsim curves of structures with 1-4 partners at different
distances (random directions, fixed seeds) against the van Vleck M2 of the same structure: noiseless
curves (relative error, the bias bound fit_m2 states, points used), and 50 noisy replicates (sigma
0.005): mean relative error, spread, mean stated standard error, and how often |error| < 1.96 se.
Curves: 20 kHz MAS, 0.1 ms steps to 3 ms, ZCW 987 x 16 (and 2584 x 16 to check convergence).

Table 3: a curve of two kinds of site (half each, analytical REDOR curves), which bends away from t^2
sooner than either bounding curve: what fit_m2 reads, and the warning it gives.

Run: PYTHONPATH=. nice -n 10 python benchmarks/bench_moments.py      (about 1 CPU minute)
"""

import time
import warnings

import numpy as np

import spinsim
from respdor import moments
from respdor.curve import DephasingCurve
from respdor.errors import UserError
from respdor.jobs.moments import fit_m2
from spinsim import IdealSaturation, Spin, SpinSystem, get_isotope, zcw

MAS = 20e3
KIND = {"redor": ("inversion", "inversion"), "respdor": ("full", "saturation")}
STRUCTURES = [[3.2], [3.0, 3.6], [3.1, 3.4, 3.9], [3.3, 3.5, 3.8, 4.2], [3.4, 3.4, 3.4, 3.4]]


def system(partner, distances, seed):
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(len(distances), 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    xyz = np.vstack([np.zeros(3), u * np.asarray(distances)[:, None]])
    spins = [Spin(get_isotope("13C"))] + [Spin(get_isotope(partner)) for _ in distances]
    return SpinSystem.from_coordinates(spins, xyz, 14.1)


def simulate(partner, distances, experiment, t, powder, seed):
    sat = IdealSaturation(KIND[experiment][0])
    return spinsim.simulate_respdor(system(partner, distances, seed), MAS, t, saturation=sat, powder=powder).dSS0


def prefactor_table():
    print("Table 1: prefactor C of dS/S0 = C M2 t^2 against spinsim (relative error at t -> 0)")
    print(f"{'experiment':>9} {'partner':>7} {'partners':>8} {'C':>10} {'ZCW 233x8':>11} {'ZCW 987x16':>11} "
          f"{'ZCW 2584x16':>12}")
    t = np.array([2, 4]) / 50e3
    for experiment in ("redor", "respdor"):
        for partner in ("31P", "27Al"):
            for n, distances in ((1, [3.0]), (4, [2.9, 3.1, 3.3, 3.6])):
                c = moments.initial_rise_prefactor(partner, KIND[experiment][1])
                m2 = moments.van_vleck_m2(distances, "13C", partner)
                errs = []
                for powder in (zcw(233, 8), zcw(987, 16), zcw(2584, 16)):
                    sys_ = system(partner, distances, 1)
                    y = spinsim.simulate_respdor(sys_, 50e3, t, saturation=IdealSaturation(KIND[experiment][0]),
                                                 powder=powder).dSS0
                    ratio = y / (c * m2 * t**2)
                    errs.append((4 * ratio[0] - ratio[1]) / 3 - 1)
                print(f"{experiment:>9} {partner:>7} {n:>8} {c:10.5f} " + " ".join(f"{e:+11.1e}" for e in errs)
                      + " ")
    sr4_row()
    print("  C = 4/(3 pi^2) = 0.13509 (REDOR), 2/(3 pi^2) = 0.06755 (RESPDOR); the M2 t^2 / (I(I+1) pi^2) form "
          f"would give {1 / (2.5 * 3.5 * np.pi ** 2):.5f} for 27Al")


def sr4_row():
    """RESPDOR with SR4 recoupling (R4_1^2 R4_1^-2, finite pulses at nu1 = 2 nu_R, 50 kHz MAS): C times kappa^2."""
    from respdor.models import SR4_SCALING

    mas, distances = 50e3, [3.05]
    t = np.array([4, 8]) / mas
    c = moments.initial_rise_prefactor("27Al", "saturation", SR4_SCALING)
    m2 = moments.van_vleck_m2(distances, "13C", "27Al")
    errs = []
    for powder, dt in ((zcw(233, 8), 0.5e-6), (zcw(233, 8), 0.1e-6), (zcw(610, 16), 0.1e-6)):
        y = spinsim.simulate_respdor(system("27Al", distances, 1), mas, t, saturation=IdealSaturation("full"),
                                     recoupling=spinsim.sr4_cycle("13C", mas, "R4R4bar"), powder=powder,
                                     max_dt=dt).dSS0
        ratio = y / (c * m2 * t**2)
        errs.append((4 * ratio[0] - ratio[1]) / 3 - 1)
    print(f"{'resp+SR4':>9} {'27Al':>7} {1:>8} {c:10.5f} " + " ".join(f"{e:+11.1e}" for e in errs)
          + "   (columns: ZCW 233x8 step 0.5 us, 233x8 0.1 us, 610x16 0.1 us; kappa^2 = pi^2/32)")


def fit_table(n_noisy=50, sigma=0.005):
    print("\nTable 2: M2 fitted by fit_m2 from spinsim curves vs the van Vleck M2 of the structure")
    print(f"{'experiment':>9} {'partner':>7} {'distances (A)':>19} {'vv 1e6':>7} {'t2 err':>7} {'bias range':>13} "
          f"{'corr err':>8} {'used':>4} {'conv':>7} | {'t2 mean':>7} {'spread':>6} {'se':>5} {'cover':>5} | "
          f"{'corr mean':>9} {'se':>5} {'cover':>5}")
    t = np.arange(0, 31) * 1e-4
    rng = np.random.default_rng(7)
    for experiment, partner in (("redor", "31P"), ("respdor", "27Al")):
        for k, distances in enumerate(STRUCTURES):
            y = simulate(partner, distances, experiment, t, zcw(987, 16), seed=10 + k)
            y_fine = simulate(partner, distances, experiment, t, zcw(2584, 16), seed=10 + k)
            truth = moments.van_vleck_m2(distances, "13C", partner)
            r = fit_m2(DephasingCurve(t, y, source="sim"), "13C", partner, experiment=experiment, fraction=1.0)
            conv = float(np.max(np.abs(y - y_fine)[r.used]))
            raw, corr = [], []
            for _ in range(n_noisy):
                noisy = DephasingCurve(t, y + rng.normal(0, sigma, t.size), sigma=np.full(t.size, sigma), source="n")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        rn = fit_m2(noisy, "13C", partner, experiment=experiment, fraction=1.0)
                    except UserError:  # too few points in a replicate: counted as a miss
                        continue
                raw.append((rn.m2 / truth - 1, rn.m2_stderr / truth))
                corr.append((rn.m2_corrected / truth - 1, rn.m2_corrected_stderr / truth))
            raw, corr = np.array(raw), np.array(corr)
            cover = [np.sum(np.abs(a[:, 0]) < 1.96 * a[:, 1]) / n_noisy for a in (raw, corr)]
            print(f"{experiment:>9} {partner:>7} {', '.join(f'{d:g}' for d in distances):>19} {truth / 1e6:7.3f} "
                  f"{r.m2 / truth - 1:+7.3f} {-r.bias_bound:+6.3f}..{-r.bias_low:+.3f} "
                  f"{r.m2_corrected / truth - 1:+8.3f} {r.n_used:4d} {conv:7.1e} | "
                  f"{np.mean(raw[:, 0]):+7.3f} {np.std(raw[:, 0], ddof=1):6.3f} {np.mean(raw[:, 1]):5.3f} "
                  f"{cover[0]:5.2f} | {np.mean(corr[:, 0]):+9.3f} {np.mean(corr[:, 1]):5.3f} {cover[1]:5.2f}")
    print(f"  noisy: {n_noisy} replicates, sigma {sigma} on dS/S0 (fits refused for too few points count as "
          "misses); cover = share with |M2 - M2_vv| < 1.96 se; conv = max |dS/S0(987x16) - dS/S0(2584x16)| over "
          "the points used; errors relative to the van Vleck M2")


def mixture_table(sigma=0.002):
    """Two kinds of site (equal shares, one 19F partner each): the curve bends away from t^2 sooner than either
    bounding curve; what fit_m2 reads and says (analytical REDOR curves, 0.05 ms steps to 2 ms)."""
    from respdor.models import redor_dephasing

    print("\nTable 3: two kinds of site, half each (REDOR, one spin-1/2 partner, 19F, per site)")
    print(f"{'D1, D2 (Hz)':>12} {'noise':>6} {'t2 err':>7} {'corrected err':>14} {'used':>4}  warning")
    t = np.arange(0, 41) * 0.5e-4
    for d1, d2 in ((400, 100), (600, 100), (800, 150)):
        y = 0.5 * redor_dephasing(d1 * t) + 0.5 * redor_dephasing(d2 * t)
        truth = 0.5 * moments.van_vleck_m2_from_couplings([d1], 0.5) + 0.5 * moments.van_vleck_m2_from_couplings(
            [d2], 0.5)
        for noise in (0.0, sigma):
            yy = y + np.random.default_rng(1).normal(0, noise, t.size) if noise else y
            curve = DephasingCurve(t, yy, sigma=np.full(t.size, noise) if noise else None, source="mix")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = fit_m2(curve, "13C", "19F", experiment="redor", fraction=1.0)
            said = r.warnings[0][:60] if r.warnings else "-"
            print(f"{d1:>5}, {d2:<5} {noise:6.3f} {r.m2 / truth - 1:+7.3f} {r.m2_corrected / truth - 1:+7.3f} +- "
                  f"{r.m2_corrected_stderr / truth:.3f} {r.n_used:4d}  {said}")


if __name__ == "__main__":
    t0 = time.process_time()
    prefactor_table()
    fit_table()
    mixture_table()
    print(f"\nCPU time {time.process_time() - t0:.0f} s")
