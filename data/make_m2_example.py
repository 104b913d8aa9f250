"""Make the bundled SYNTHETIC 13C{27Al} RESPDOR curve of a carbon with three 27Al (the M2 example).

Nothing here is measured. A 13C with three 27Al at 3.4, 3.6 and 3.9 A in fixed, non-collinear
directions; the curve is simulated exactly by spinsim (per-crystallite product of the three
partners, ideal complete saturation of 27Al, ideal REDOR pi pulses on 13C, 20 kHz MAS, ZCW 987 x 16),
times 0.1-2.0 ms in steps of two rotor periods, bonded fraction 1. Gaussian noise of standard
deviation 0.005 is added to dS/S0 (seed 22). Van Vleck M2 of the site: see the file's header.

Run:  python data/make_m2_example.py   (rewrites data/m2_13C27Al_synthetic.csv)
"""

from pathlib import Path

import numpy as np

DISTANCES_A = (3.4, 3.6, 3.9)
DIRECTIONS = ((1.0, 0.0, 0.0), (-0.3, 0.9, 0.2), (-0.4, -0.5, 0.75))
MAS_HZ = 20_000.0
SIGMA = 0.005
SEED = 22


def main():
    import spinsim
    from spinsim import IdealSaturation, Spin, SpinSystem, get_isotope, zcw

    from respdor.moments import van_vleck_m2

    unit = np.array(DIRECTIONS) / np.linalg.norm(DIRECTIONS, axis=1)[:, None]
    xyz = np.vstack([np.zeros(3), unit * np.array(DISTANCES_A)[:, None]])
    spins = [Spin(get_isotope("13C"))] + [Spin(get_isotope("27Al")) for _ in DISTANCES_A]
    system = SpinSystem.from_coordinates(spins, xyz, 14.1)
    t = np.arange(2, 41, 2) / MAS_HZ
    sim = spinsim.simulate_respdor(system, MAS_HZ, t, saturation=IdealSaturation("full"), powder=zcw(987, 16))
    rng = np.random.default_rng(SEED)
    y = sim.dSS0 + rng.normal(0.0, SIGMA, t.size)
    m2 = van_vleck_m2(DISTANCES_A, "13C", "27Al")
    path = Path(__file__).with_name("m2_13C27Al_synthetic.csv")
    with open(path, "w") as fh:
        fh.write("# SYNTHETIC 13C{27Al} RESPDOR curve, not a measurement: made by data/make_m2_example.py\n")
        fh.write(f"# truth: three 27Al at {', '.join(f'{r:g}' for r in DISTANCES_A)} A, van Vleck M2 = {m2:.4g} "
                 f"rad^2/s^2, fraction 1, ideal saturation, MAS {MAS_HZ:g} Hz, noise {SIGMA:g}, seed {SEED}\n")
        fh.write("# observe = 13C\n# partner = 27Al\n")
        fh.write("t_ms,dSS0,sigma\n")
        for row in zip(t * 1e3, y, np.full(t.size, SIGMA)):
            fh.write(",".join(f"{v:.6g}" for v in row) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
