"""Coverage of the 68 % profile-likelihood intervals of CSA fits (issue 10).

Synthetic sideband manifolds with Gaussian noise of known sigma are fitted with
``fit_manifold(..., profile='always')``; the script prints how often the true span and skew
fall inside the profile interval (target 68.3 %; binomial 1-sigma for N runs is
sqrt(0.683 * 0.317 / N), 4.7 % for N = 100) and, for comparison, inside +-1 covariance error.

Run:  PYTHONPATH=. nice -n 10 python benchmarks/bench_profile_coverage.py [N]
"""

import sys
import time

import numpy as np

from respdor.spectra.csa_fit import fit_manifold
from spinsim.sidebands import sideband_intensities

NU0 = 88.8e6  # 113Cd at 9.4 T
CASES = [
    # (label, span ppm, skew, MAS Hz, highest order kept, sigma relative to the centreband)
    ("many sidebands (span 300, skew 0.3, 8 kHz)", 300.0, 0.3, 8000.0, 6, 0.01),
    ("+-1..2 sidebands (span 150, skew 0.5, 12 kHz)", 150.0, 0.5, 12000.0, 2, 0.003),
    ("skew at the bound (span 300, skew -1, 8 kHz)", 300.0, -1.0, 8000.0, 6, 0.01),
]


def run_case(label, span, skew, mas, kmax, rel_sigma, n, seed=10):
    man = sideband_intensities(span, skew, NU0, mas, n_sidebands=kmax)
    sigma = rel_sigma * man.intensities.max()
    rng = np.random.default_rng(seed)
    hit_p = dict(span=0, skew=0)
    hit_c = dict(span=0, skew=0)
    n_cov = dict(span=0, skew=0)
    one_sided = 0
    t0 = time.perf_counter()
    for _ in range(n):
        y = man.intensities + rng.normal(0.0, sigma, man.orders.size)
        f = fit_manifold(man.orders, y, NU0, mas, sigma=sigma, profile="always")
        one_sided += f.skew_limit is not None
        for name, truth in (("span", span), ("skew", skew)):
            lo, hi = getattr(f, name + "_interval")
            hit_p[name] += lo - 1e-9 <= truth <= hi + 1e-9
        # The covariance for comparison (a second fit without the profile).
        g = fit_manifold(man.orders, y, NU0, mas, sigma=sigma, profile="never")
        for name, truth in (("span", span), ("skew", skew)):
            e = getattr(g, name + "_err")
            if np.isfinite(e):
                n_cov[name] += 1
                hit_c[name] += abs(getattr(g, name) - truth) <= e
    dt = time.perf_counter() - t0
    print(f"{label}: N = {n}, {dt / n:.2f} s per realisation (both fits)")
    for name in ("span", "skew"):
        cov = f"{hit_c[name] / max(n_cov[name], 1):.0%} of {n_cov[name]} with a finite error"
        print(f"  {name:5s} profile interval covers the truth in {hit_p[name] / n:.0%}; covariance +-1 err: {cov}")
    print(f"  skew interval one-sided (runs into +-1) in {one_sided} of {n}")


def main(n=60):
    print(f"target coverage 68.3 %, binomial 1-sigma {100 * np.sqrt(0.683 * 0.317 / n):.1f} % for N = {n}")
    for case in CASES:
        run_case(*case, n=n)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 60)
