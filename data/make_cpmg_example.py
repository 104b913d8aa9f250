"""Make the bundled SYNTHETIC 111Cd CPMG fixtures (nothing here is measured).

1. ``cpmg_111Cd_synthetic/cpmg1d``: one CPMG echo train of a 111Cd MAS-free (static-like
   narrow) two-line spectrum, pulse program ``respdor_cpmg`` (echo period = P2 + 2 D3 + 2 D6,
   echoes = L22 + 1; see respdor.spectra.cpmg), echo amplitudes decaying with T2 = 20 ms,
   complex white noise.
2. ``cpmg_111Cd_synthetic/respdor``: a pseudo-2D 111Cd{27Al} S-RESPDOR series detected with the
   same CPMG train: rows alternate S0, S1 for each vclist count (recoupling time = count x 2
   rotor periods at 10 kHz MAS); S1/S0 = 1 - f * respdor_dephasing(D t, I = 5/2) with D = 180 Hz,
   f = 0.45 (respdor.models, Chen et al. 2010); S0 decays with T2' = 15 ms over the recoupling.

Values in truth.json. Run:  python data/make_cpmg_example.py  (seed 111; rewrites the folder)
"""

import json
import shutil
from pathlib import Path

import numpy as np

from respdor.models import respdor_dephasing
from respdor.spectra.bruker import write_bruker
from respdor.spectra.referencing import larmor_from_field

OUT = Path(__file__).with_name("cpmg_111Cd_synthetic")
SEED = 111
SW = 50_000.0                 # Hz, dwell 20 us
P2_US, D3_S, D6_S = 10.0, 25e-6, 1.25e-3   # echo period = 10 us + 50 us + 2500 us = 2.56 ms (128 points)
TAU = P2_US * 1e-6 + 2 * D3_S + 2 * D6_S
N_ECHOES = 10                 # L22 = 9; 10 x 128 = 1280 points (ser rows padded to 1 kB by TopSpin)
T2 = 20e-3                    # echo-train decay
LINES = [(-30.0, 1.0, 300.0), (-60.0, 0.5, 300.0)]   # (ppm, amplitude, Gaussian FWHM Hz)
NOISE = 0.04                  # per point and channel, in units of the first-point amplitude
COUPLING_HZ, FRACTION, T2_REC, MAS = 180.0, 0.45, 15e-3, 10_000.0
VCLIST = [2, 4, 8, 12, 16, 24, 32, 40, 48, 64]
PULSEPROGRAM = """; respdor_cpmg -- SYNTHETIC CPMG echo train (respdor test fixture, not a Bruker program)
; 90(p1) - [d6 acquire to the echo top region - d3 - 180(p2) - d3 - d6] x (l22 + 1), digitised throughout
; echo period = p2 + 2*d3 + 2*d6 ; echoes = l22 + 1 (echo 0 is the FID; echo m tops at m * period)
"""


def train(nu_hz, amps, fwhm_hz, rng, scale=1.0):
    n_per = int(round(TAU * SW))
    t = np.arange(n_per * N_ECHOES) / SW
    m = np.floor(t / TAU + 0.5)          # nearest echo top
    tl = t - m * TAU                     # time from that top (negative before it)
    sig = np.zeros(t.size, complex)
    for nu, a, fw in zip(nu_hz, amps, fwhm_hz):
        s = np.pi * fw / (2 * np.sqrt(np.log(2)))
        sig += a * np.exp(2j * np.pi * nu * tl) * np.exp(-(s * tl) ** 2)
    sig *= np.exp(-m * TAU / T2) * scale
    sig[tl < 0] *= (m[tl < 0] > 0)       # no signal before the FID top
    return sig + NOISE * (rng.standard_normal(t.size) + 1j * rng.standard_normal(t.size))


def main():
    rng = np.random.default_rng(SEED)
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()
    bf1 = larmor_from_field("111Cd", 9.3976)
    sfo1 = bf1 * (1 - 45e-6)             # carrier at -45 ppm
    nu = [(ppm + 45.0) * sfo1 * 1e-6 for ppm, _, _ in LINES]
    amps = [a for _, a, _ in LINES]
    fw = [f for _, _, f in LINES]
    extra = {"P": [0.0, 5.0, P2_US] + [0.0] * 61, "D": [0.0] * 3 + [D3_S, 0.0, 0.0, D6_S] + [0.0] * 57,
             "L": [0] * 22 + [N_ECHOES - 1] + [0] * 9}
    kw = dict(sw_hz=SW, bf1_mhz=bf1 / 1e6, sfo1_mhz=sfo1 / 1e6, nucleus="111Cd", mas_hz=MAS, pulprog="respdor_cpmg",
              extra_acqus=extra, pulseprogram=PULSEPROGRAM)
    write_bruker(OUT / "cpmg1d", train(nu, amps, fw, rng), title="SYNTHETIC 111Cd CPMG train", **kw)
    rows = []
    t_rec = np.array(VCLIST) * 2 / MAS
    for t in t_rec:
        s0 = np.exp(-t / T2_REC)
        s1 = s0 * (1 - FRACTION * respdor_dephasing(COUPLING_HZ * t, 2.5))
        rows += [train(nu, amps, fw, rng, s0), train(nu, amps, fw, rng, s1)]
    write_bruker(OUT / "respdor", np.array(rows), vclist=VCLIST, title="SYNTHETIC 111Cd{27Al} CPMG-RESPDOR", **kw)
    truth = dict(synthetic=True, made_by="data/make_cpmg_example.py", seed=SEED, nucleus="111Cd", sw_hz=SW,
                 echo_period_s=TAU, n_echoes=N_ECHOES, t2_s=T2, lines=LINES, noise_rms=NOISE, coupling_hz=COUPLING_HZ,
                 fraction=FRACTION, partner="27Al", mas_hz=MAS, periods_per_count=2, vclist=VCLIST,
                 order="s0s1", t2_recoupling_s=T2_REC, integrate_region_ppm=[-80, -10], noise_region_ppm=[100, 200])
    (OUT / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
