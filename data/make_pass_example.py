"""Make the SYNTHETIC 113Cd CP-PASS example in data/pass_113Cd_synthetic/ (not a measurement).

Four 113Cd sites loosely modelled on those reported for CdSe quantum dots (core at -50 ppm with
a small CSA; surface sites at -320 and -440 ppm with large CSAs; a narrow line at -630 ppm),
9.4 T (1H at 400.13 MHz, so 113Cd at Xi * 400.13 MHz), 8 kHz MAS, N = 16 pitch increments.
Every crystallite is propagated through the five-pi-pulse PASS block with the computed timings
(ideal pi pulses; spinsim.sidebands.pass_sideband_amplitudes). Complex white noise is added.

Run from the repository root:  python data/make_pass_example.py [--force]
Outputs (about 0.3 MB):
  pass2d/                 Bruker-format 2D data set (ser 16 x 1024, acqus, acqu2s, pdata/1/procs)
  mas1d_8kHz.txt          1D MAS spectrum (the Theta = 0 row), columns ppm, intensity
  isotropic_1cycle.txt    isotropic spectrum of the "1 c-ALD cycle" sample
  isotropic_3cycle.txt    isotropic spectrum of the "3 c-ALD cycles" sample (surface changed)
  truth.json              the parameters that made the files
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from respdor.spectra.bruker import write_bruker  # noqa: E402
from respdor.spectra.deconvolution import pseudo_voigt  # noqa: E402
from respdor.spectra.pass_processing import PassSite, simulate_pass  # noqa: E402
from spinsim.isotopes import get_isotope  # noqa: E402

OUT = HERE / "pass_113Cd_synthetic"
PROTON_MHZ = 400.13
MAS_HZ = 8000.0
N_PITCH = 16
N_POINTS = 1024
SW_HZ = 100000.0
CARRIER_PPM = -350.0
NOISE_RMS = 0.005  # per point and channel, in units of a unit-population site's first FID point
SEED = 20260
SITES_1 = [
    PassSite(delta_iso=-50.0, span=150.0, skew=0.5, population=1.0, fwhm=12.0),
    PassSite(delta_iso=-320.0, span=450.0, skew=0.3, population=0.6, fwhm=35.0),
    PassSite(delta_iso=-440.0, span=520.0, skew=-0.4, population=0.8, fwhm=40.0),
    PassSite(delta_iso=-630.0, span=250.0, skew=0.8, population=0.2, fwhm=10.0),
]
# "After 3 cycles": less of the -320 ppm site, more of the -440 ppm site (same core).
POP_3 = [1.0, 0.35, 1.1, 0.2]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--force", action="store_true", help="replace an existing output folder")
    args = ap.parse_args(argv)
    if OUT.exists():
        if not args.force:
            sys.exit(f"{OUT} exists; use --force to remake it")
        shutil.rmtree(OUT)
    OUT.mkdir()
    bf1 = PROTON_MHZ * get_isotope("113Cd").frequency_ratio  # 0 ppm (Me2Cd) on this magnet, MHz
    larmor = bf1 * 1e6
    sfo1 = bf1 * (1.0 + CARRIER_PPM * 1e-6)
    data = simulate_pass(SITES_1, larmor, MAS_HZ, n_pitch=N_PITCH, n_points=N_POINTS, sw_hz=SW_HZ,
                         carrier_ppm=CARRIER_PPM, noise_rms=NOISE_RMS, pitch_sign=-1, seed=SEED)
    # pitch_sign = -1: the order sign the processing must detect (as for gamma < 0 nuclei).
    write_bruker(OUT / "pass2d", data, SW_HZ, bf1, sfo1, "113Cd", MAS_HZ,
                 title="SYNTHETIC 113Cd CP-PASS, 4 sites, 8 kHz MAS, 9.4 T (respdor data/make_pass_example.py)",
                 pulprog="synthetic_cppass5pi")
    # 1D MAS spectrum = Theta = 0 row.
    t = np.arange(N_POINTS) / SW_HZ
    fid = data[0].copy()
    fid[0] *= 0.5
    spec = np.fft.fftshift(np.fft.fft(fid * np.exp(-np.pi * 100.0 * t)))
    ppm = CARRIER_PPM + np.fft.fftshift(np.fft.fftfreq(N_POINTS, 1.0 / SW_HZ)) / larmor * 1e6
    _write_txt(OUT / "mas1d_8kHz.txt", ppm, spec.real / N_POINTS,
               "SYNTHETIC 113Cd MAS spectrum (Theta = 0 row of pass2d, LB 100 Hz), 8 kHz MAS, 9.4 T")
    # Isotropic spectra of two samples: Gaussian lines (area = population), white noise.
    rng = np.random.default_rng(SEED + 1)
    x = np.linspace(-900.0, 200.0, 1101)
    truth_iso = {}
    for name, pops in (("1cycle", [s.population for s in SITES_1]), ("3cycle", POP_3)):
        y = sum(p * pseudo_voigt(x, s.delta_iso, s.fwhm) for s, p in zip(SITES_1, pops))
        y = y + rng.normal(0.0, 2e-4, x.size)
        _write_txt(OUT / f"isotropic_{name}.txt", x, y,
                   f"SYNTHETIC 113Cd isotropic spectrum, sample '{name}', Gaussian sites, noise sd 2e-4")
        truth_iso[name] = pops
    truth = dict(
        synthetic=True,
        made_by="data/make_pass_example.py",
        nucleus="113Cd", proton_mhz=PROTON_MHZ, bf1_mhz=bf1, sfo1_mhz=sfo1, carrier_ppm=CARRIER_PPM,
        mas_hz=MAS_HZ, n_pitch=N_PITCH, n_points=N_POINTS, sw_hz=SW_HZ, noise_rms=NOISE_RMS, seed=SEED,
        pitch_sign=-1,
        sites=[s.__dict__ for s in SITES_1],
        isotropic_noise_sd=2e-4,
        isotropic_populations=truth_iso,
        conventions="shifts in ppm (Me2Cd = 0); span/skew Herzfeld-Berger; population = summed intensity of all orders",
    )
    (OUT / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    (OUT / "README.md").write_text(README)
    print(f"wrote {OUT}")


def _write_txt(path, x, y, title):
    with open(path, "w") as fh:
        fh.write(f"# {title}\n# ppm,intensity\n")
        for a, b in zip(x, y):
            fh.write(f"{a:.4f},{b:.6e}\n")


README = """# SYNTHETIC 113Cd CP-PASS example (not measured data)

Made by `data/make_pass_example.py` (run it to remake; parameters in `truth.json`).
Four sites modelled loosely on CdSe quantum dots: core -50 ppm (span 150 ppm), surface sites
-320 ppm (span 450) and -440 ppm (span 520), a narrow line at -630 ppm; 9.4 T (113Cd at
88.80 MHz), 8 kHz MAS, 16 PASS pitch increments, exact PASS-block powder simulation with ideal
pi pulses, complex white noise. The order sign is reversed (as a gamma < 0 nucleus can show) so
that the processing has to detect it.

    respdor pass-process data/pass_113Cd_synthetic/pass2d --sites -50 -320 -440 -630 \\
        --noise-region 100 200 --fit-region -800 100 --mas 8k --plot pass.png
    respdor deconvolve data/pass_113Cd_synthetic/isotropic_1cycle.txt --sites -50 -320 -440 -630 \\
        --noise-region 100 200 --compare data/pass_113Cd_synthetic/isotropic_3cycle.txt
    respdor csa-fit data/pass_113Cd_synthetic/mas1d_8kHz.txt --spectrum --mas 8k --larmor 88.8016MHz \\
        --sites -320 -440 --span 400 400 --fwhm 40 --noise-region 100 200
"""

if __name__ == "__main__":
    main()
