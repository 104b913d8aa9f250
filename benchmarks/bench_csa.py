"""Benchmarks of the CSA/PASS tools (prints figures; not a test).

    python benchmarks/bench_csa.py

* one sideband manifold (spinsim.sidebands.sideband_intensities) for several powder sizes;
* accuracy of that manifold against the brute-force time-domain reference in tests/;
* one exact PASS-block simulation (16 pitches);
* one four-site CSA fit from PASS manifolds and the whole 2D PASS analysis;
* one four-site fit of a 1D MAS spectrum (all sidebands).
"""

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from respdor.spectra.csa_fit import fit_manifold, fit_mas_spectrum  # noqa: E402
from respdor.spectra.pass_processing import PassSite, analyse_pass, simulate_pass  # noqa: E402
from spinsim import csa  # noqa: E402
from spinsim.isotopes import get_isotope  # noqa: E402
from spinsim.pass_timing import pass_timings  # noqa: E402
from spinsim.sidebands import mas_spectrum, pass_sideband_amplitudes, sideband_intensities  # noqa: E402

NU0 = 400.13e6 * get_isotope("113Cd").frequency_ratio
MAS = 8000.0


def best_of(fn, repeat=5, number=1):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            out = fn()
        times.append((time.perf_counter() - t0) / number)
    return min(times), out


def main():
    print(f"113Cd |nu0| = {NU0 / 1e6:.4f} MHz, MAS {MAS:g} Hz")
    print("\n1. one sideband manifold (span 450 ppm, skew 0.3, orders -8..8)")
    for n in (377, 987, 2584, 6765):
        sideband_intensities(450.0, 0.3, NU0, MAS, 8, n)  # warm the orientation cache
        t, man = best_of(lambda: sideband_intensities(450.0, 0.3, NU0, MAS, 8, n), number=20)
        print(f"   {n:5d} orientations (ZCW hemisphere): {t * 1e3:7.2f} ms")

    from sideband_reference import brute_force_sidebands

    print("\n2. accuracy vs brute-force time-domain powder integration (full sphere, explicit gamma)")
    for span, skew, mas in [(450.0, 0.3, 8000.0), (520.0, -0.4, 8000.0), (250.0, -0.7, 5000.0)]:
        t0 = time.perf_counter()
        k, ref = brute_force_sidebands(csa.principal_from_maryland(0, span, skew), NU0, mas, 10,
                                       n_beta=48, n_alpha=48, n_gamma=32, n_t=512)
        tb = time.perf_counter() - t0
        man = sideband_intensities(span, skew, NU0, mas, 10)
        print(f"   span {span:.0f} skew {skew:+.1f} {mas / 1e3:g} kHz: max |I_k - I_k(ref)| = "
              f"{np.max(np.abs(man.intensities - ref)):.1e} (relative to total 1); brute force took {tb:.1f} s")

    print("\n3. exact PASS block, 16 pitches, one site")
    tim = pass_timings(16)
    t, _ = best_of(lambda: pass_sideband_amplitudes(520.0, -0.4, NU0, MAS, tim.fractions), repeat=3)
    print(f"   {t * 1e3:.0f} ms")

    sites = [PassSite(-50.0, 150.0, 0.5, 1.0, 12.0), PassSite(-320.0, 450.0, 0.3, 0.6, 35.0),
             PassSite(-440.0, 520.0, -0.4, 0.8, 40.0), PassSite(-630.0, 250.0, 0.8, 0.2, 10.0)]
    data = simulate_pass(sites, NU0, MAS, 16, 1024, 100000.0, -350.0, noise_rms=0.005, seed=1, timings=tim)
    t, a = best_of(lambda: analyse_pass(data, 100000.0, MAS, NU0, -350.0, [-60, -300, -450, -620], (100, 200),
                                        fwhm=20, fit_region=(-800, 100)), repeat=3)
    print(f"\n4. full 2D PASS analysis (16 x 1024, 4 sites: order separation, deconvolution, 4 CSA fits): {t:.2f} s")

    def four_fits():
        return [fit_manifold(m.orders[np.abs(m.orders) <= 7], m.intensities[np.abs(m.orders) <= 7], NU0, MAS,
                             sigma=m.sigma[np.abs(m.orders) <= 7]) for m in a.manifolds]

    t, _ = best_of(four_fits, repeat=3)
    print(f"5. four-site CSA fit from PASS manifolds (4 x fit_manifold, both skew signs each): {t:.2f} s")

    x = np.linspace(-900, 200, 1101)
    y = sum(mas_spectrum(x, s.delta_iso, s.span, s.skew, NU0, MAS, s.fwhm, amplitude=s.population) for s in sites)
    y += np.random.default_rng(0).normal(0, 1e-4, x.size)
    start = [dict(delta_iso=s.delta_iso + 3, span=0.8 * s.span, skew=0.0, fwhm=0.8 * s.fwhm) for s in sites]
    t0 = time.perf_counter()
    r = fit_mas_spectrum(x, y, start, NU0, MAS, noise_region=(100, 200))
    t = time.perf_counter() - t0
    print(f"6. four-site fit of a 1D MAS spectrum (1101 points, 20 parameters): {t:.2f} s; spans "
          + ", ".join(f"{s['span']:.0f}" for s in r.sites))


if __name__ == "__main__":
    main()
