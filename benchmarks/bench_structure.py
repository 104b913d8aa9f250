"""Issue 13 numbers: apparent two-spin distance of 1-3 27Al at 2.9 A around a 13C, the
powder-level product model against the per-crystallite (exact) curve, and timings.

Run: PYTHONPATH=. nice -n 10 python benchmarks/bench_structure.py
"""

import time

import numpy as np
from ase import Atoms

from respdor.structure import Structure, apparent_two_spin, build_system, find_partners, powder_product, predict_curve
from spinsim import cw_pulse, make_powder

B0, MAS = 14.1, 10e3
POWDER = make_powder("zcw", 610, 16)
# Al directions around the carboxylate C: 110 deg apart in a plane, the third out of it
DIRS = np.array([[1, 0, 0], [np.cos(np.radians(110)), np.sin(np.radians(110)), 0], [-0.3, -0.4, 0.866],
                 [-0.2, -0.5, -0.84]])
DIRS /= np.linalg.norm(DIRS, axis=1)[:, None]


def system_of(n, r=2.9, cq=0.0):
    at = Atoms("C" + "Al" * n, positions=np.vstack([[0, 0, 0], r * DIRS[:n]]))
    return build_system(find_partners(Structure(at), 0, "13C", "27Al", 2 * r, cq_hz=cq), "13C", "27Al", B0)


def table(t_max_ms):
    t = np.arange(0, int(round(t_max_ms * 1e-3 * MAS / 2)) + 1) * 2 / MAS
    print(f"\nideal saturation, 10 kHz MAS, t_rec 0..{t_max_ms} ms, ZCW 610 x 16")
    print(" n_Al  r_true  D_app/Hz  r_app/A  fraction  chi2(sigma=1e-3)")
    curves = {}
    for n in (1, 2, 3):
        curves[n] = predict_curve(system_of(n), MAS, t, powder=POWDER)
        a = apparent_two_spin(t, curves[n])
        print(f"  {n}    2.90  {a['coupling_hz']:8.1f}  {a['distance_angstrom']:7.3f}  {a['fraction']:8.3f}  "
              f"{a['chi2']:.3g}")
    return t, curves


def product_error(t):
    print("\npowder-level product 1 - prod(1 - <dS_k>) vs per-crystallite product (exact in spinsim's model)")
    singles = [predict_curve(_single(k), MAS, t, powder=POWDER) for k in range(4)]
    for n in (2, 3, 4):
        exact = predict_curve(system_of(n), MAS, t, powder=POWDER)
        print(f"  {n} partners: max |d dS/S0| = {np.max(np.abs(powder_product(singles[:n]) - exact)):.4f}")


def _single(k):
    at = Atoms("CAl", positions=[[0, 0, 0], 2.9 * DIRS[k]])
    return build_system(find_partners(Structure(at), 0, "13C", "27Al", 6.0), "13C", "27Al", B0)


def dense_check():
    """Per-crystallite product (fast engine) against the dense Hilbert-space propagation."""
    sat = cw_pulse("27Al", 30e3, 2 / MAS)
    t = np.arange(0, 11) * 2 / MAS
    pw = make_powder("zcw", 55, 4)
    for n in (2, 3):
        sy = system_of(n, cq=3e6)
        t0 = time.perf_counter()
        fast = predict_curve(sy, MAS, t, saturation=sat, powder=pw, method="fast")
        t1 = time.perf_counter()
        dense = predict_curve(sy, MAS, t, saturation=sat, powder=pw, method="general")
        t2 = time.perf_counter()
        print(f"  {n} partners, CQ 3 MHz, CW 30 kHz, ZCW 55 x 4, 11 times: max |fast - dense| = "
              f"{np.max(np.abs(fast - dense)):.1e} (fast {t1 - t0:.1f} s, dense {t2 - t1:.1f} s)")


def three_spin_cli():
    """The issue's 3-spin case from coordinates through the command (CW 30 kHz for 2 tau_R, C_Q 3 MHz)
    against spinsim's general (dense) engine given the couplings by hand."""
    import json
    import tempfile
    from pathlib import Path

    from respdor.cli import main
    from spinsim import DipolarCoupling, Spin, SpinSystem, distance_from_coupling, get_isotope, simulate_respdor

    r1, r2 = distance_from_coupling(503, "13C", "27Al"), distance_from_coupling(300, "13C", "27Al")
    th = np.radians(110)
    with tempfile.TemporaryDirectory() as tmp:
        xyz, out = Path(tmp) / "c_al2.xyz", Path(tmp) / "r.json"
        xyz.write_text(f"3\n3-spin\nC 0 0 0\nAl 0 0 {r1:.10f}\nAl {r2 * np.sin(th):.10f} 0 {r2 * np.cos(th):.10f}\n")
        t0 = time.perf_counter()
        main(["structure", str(xyz), "--observe", "C", "--partner", "27Al", "--cutoff", "5A", "--saturation",
              "cw:30kHz:2tr", "--cq", "3MHz", "--eta-q", "0", "--no-partner-couplings", "--powder", "55", "--gamma", "4", "--t-max", "2ms",
              "--json", str(out), "--output", str(Path(tmp) / "c.csv")])
        t1 = time.perf_counter()
        res = json.loads(out.read_text())
    al = get_isotope("27Al")
    hand = SpinSystem([Spin(get_isotope("13C")), Spin(al, cq_hz=3e6), Spin(al, cq_hz=3e6)], B0,
                      [DipolarCoupling(0, 1, 503.0), DipolarCoupling(0, 2, 300.0, (0.0, th, 0.0))])
    dense = simulate_respdor(hand, MAS, np.asarray(res["t_s"]), saturation=cw_pulse("27Al", 30e3, 2 / MAS),
                             powder=make_powder("zcw", 55, 4), method="general")
    t2 = time.perf_counter()
    y = np.asarray(res["dSS0_predicted"])
    print(f"\n3 spins via `respdor structure` ({res['choices']['engines']} engine, {t1 - t0:.1f} s) vs general engine "
          f"by hand ({t2 - t1:.1f} s), ZCW 55 x 4, {len(y)} times to 2 ms: max |d dS/S0| = "
          f"{np.max(np.abs(y - dense.dSS0)):.1e} (dS/S0 at 2 ms = {y[-1]:.4f})")


def timings():
    t = np.arange(0, 21) * 2 / MAS
    sat = cw_pulse("27Al", 30e3, 2 / MAS)
    t0 = time.perf_counter()
    predict_curve(system_of(3, cq=3e6), MAS, t, saturation=sat, powder=make_powder("zcw", 233, 16))
    print(f"\n3 partners, CQ 3 MHz, CW 30 kHz 2 tau_R, ZCW 233 x 16, 21 times: {time.perf_counter() - t0:.1f} s")
    rng = np.random.default_rng(0)
    v = rng.normal(size=(50, 3))
    pos = v / np.linalg.norm(v, axis=1)[:, None] * rng.uniform(2.9, 8.0, 50)[:, None]
    at = Atoms("C" + "Al" * 50, positions=np.vstack([[0, 0, 0], pos]))
    sy = build_system(find_partners(Structure(at), 0, "13C", "27Al", 10.0), "13C", "27Al", B0)
    t0 = time.perf_counter()
    predict_curve(sy, MAS, t, powder=make_powder("zcw", 233, 16))
    print(f"50 partners (random, 2.9-8 A), ideal saturation, ZCW 233 x 16, 21 times: {time.perf_counter() - t0:.1f} s")


def dilution():
    """13C among 29Si at natural abundance (4.68 %): exact enumeration (8 sites) and Monte Carlo (20 sites)."""
    from respdor.structure import site_curve

    rng = np.random.default_rng(1)
    t = np.arange(0, 21) * 4 / MAS
    pw = make_powder("zcw", 233, 16)
    for n, how in ((8, "exact"), (20, "Monte Carlo")):
        v = rng.normal(size=(n, 3))
        pos = v / np.linalg.norm(v, axis=1)[:, None] * rng.uniform(3.0, 6.0, n)[:, None]
        at = Atoms("C" + "Si" * n, positions=np.vstack([[0, 0, 0], pos]))
        ps = find_partners(Structure(at), 0, "13C", "29Si", 7.0)
        t0 = time.perf_counter()
        y, info = site_curve(ps, "13C", "29Si", B0, MAS, t, powder=pw, abundance=0.046832)
        occ = info["occupancy"]
        err = occ.get("omitted_probability", occ.get("max_standard_error"))
        full, _ = site_curve(ps, "13C", "29Si", B0, MAS, t, powder=pw)
        print(f"  {n} 29Si sites (3-6 A), 4.68 %: {occ['method']}, {occ['n_simulated']} patterns simulated, "
              f"{time.perf_counter() - t0:.1f} s; dS/S0 at 8 ms = {y[-1]:.4f} (+- {err:.1g}) vs {full[-1]:.4f} "
              "if every site were 29Si")


if __name__ == "__main__":
    table(4)
    t, _ = table(8)
    product_error(t)
    dense_check()
    three_spin_cli()
    timings()
    print("\nisotopic dilution, ideal saturation, ZCW 233 x 16")
    dilution()
