"""Make the bundled SYNTHETIC 13C{27Al} RESPDOR example curve.

Nothing here is measured. The curve is drawn from the analytical S-RESPDOR model
(respdor.models.respdor_dephasing, Chen et al. 2010) with the values reported for the
carboxylate carbon of alumina-coated oleate-capped CdSe quantum dots (Segura Lecina et al.,
JACS 2022): D = 503 Hz (r = 2.50 A), bonded fraction f = 0.24, I(27Al) = 5/2, full saturation,
REDOR pi-train on 13C (scaling 1), recoupling times 0.2-3.0 ms at 10 kHz MAS.

Noise model (realistic for DNP-SENS 13C): S0 decays with T2' = 8 ms; S0 and S1 each carry
independent Gaussian noise of standard deviation 1/60 of S0(0) (S/N 60 at the first point).

Run:  python data/make_example.py   (rewrites data/respdor_13C27Al_synthetic.csv, seed 2022)
"""

from pathlib import Path

import numpy as np

from respdor.models import respdor_dephasing

COUPLING_HZ = 503.0
FRACTION = 0.24
T2_PRIME_S = 8e-3
SNR_FIRST_POINT = 60.0
MAS_HZ = 10_000.0
SEED = 2022


def main():
    rng = np.random.default_rng(SEED)
    n_rotor = np.arange(2, 31, 2)  # 0.2 ms ... 3.0 ms at 10 kHz MAS
    t = n_rotor / MAS_HZ
    s0_true = np.exp(-t / T2_PRIME_S)
    s1_true = s0_true * (1.0 - FRACTION * respdor_dephasing(COUPLING_HZ * t, 2.5))
    sigma = np.full(t.size, 1.0 / SNR_FIRST_POINT)
    s0 = s0_true + rng.normal(0.0, sigma)
    s1 = s1_true + rng.normal(0.0, sigma)
    path = Path(__file__).with_name("respdor_13C27Al_synthetic.csv")
    with open(path, "w") as fh:
        fh.write("# SYNTHETIC 13C{27Al} RESPDOR curve, not a measurement: made by data/make_example.py\n")
        fh.write(f"# truth: D = {COUPLING_HZ} Hz (r = 2.50 A), fraction = {FRACTION}, 27Al full saturation, "
                 f"REDOR pi-train, MAS {MAS_HZ:g} Hz, T2' = {T2_PRIME_S * 1e3:g} ms, S/N(S0, first point) = "
                 f"{SNR_FIRST_POINT:g}, seed {SEED}\n")
        fh.write("t_ms,S0,S1,sigma_S0,sigma_S1\n")
        for row in zip(t * 1e3, s0, s1, sigma, sigma):
            fh.write(",".join(f"{v:.6g}" for v in row) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
