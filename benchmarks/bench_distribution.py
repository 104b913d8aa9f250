"""Distance distributions recovered from synthetic curves of a known P(r) (docs/distributions.md).

For three truths (one distance; two distances; a Gaussian), 13C{27Al} RESPDOR with full saturation,
40 points from 0.2 to 8 ms, Gaussian noise sigma = 0.01 (20 replicates each, seeds 1..20), run
``respdor.distance_distribution`` (61-point grid 1.5 ... 6 A, 50 bootstrap samples) and count

* how often the fraction and the mean distance of the truth lie inside the bootstrap 95 % band of P(r)'s;
* which model has the lowest AIC, and how often the truth's own parametric model has an AIC within 2
  of the lowest;
* how often the truth's parametric values lie inside that model's 95 % intervals.

The Gaussian truth's curve is summed on a fine grid (4000 distances), not with the Gauss-Hermite rule
the Gaussian alternative uses, so the two do not share their quadrature. Then the bundled curve is
run end to end. Both grids: uniform in r (``dist``) and in D (``coup``). About 3 CPU minutes:  python benchmarks/bench_distribution.py
"""

from __future__ import annotations

import time
import warnings
from collections import Counter

import numpy as np

import respdor
from respdor.curve import DephasingCurve
from respdor.examples import example_path
from respdor.fitting import CurveModel

MODEL = CurveModel("13C", "27Al")
TIMES = np.linspace(0.2e-3, 8e-3, 40)
SIGMA = 0.01
REPLICATES = 20


def curve_of_sites(sites):
    return sum(f * MODEL.normalised(TIMES, MODEL.dr3 / r**3) for r, f in sites)


def curve_of_gaussian(mean, width, fraction):
    r = np.linspace(mean - 6 * width, mean + 6 * width, 4000)
    w = np.exp(-0.5 * ((r - mean) / width) ** 2)
    w *= fraction / w.sum()
    return sum(wi * MODEL.normalised(TIMES, MODEL.dr3 / ri**3) for ri, wi in zip(r, w))


TRUTHS = [
    ("one distance 2.5 A, f 0.30", curve_of_sites([(2.5, 0.30)]), "one distance", {"r": 2.5, "f": 0.30},
     0.30, 2.5),
    ("two distances 2.3 A (0.15) + 3.6 A (0.15)", curve_of_sites([(2.3, 0.15), (3.6, 0.15)]), "two distances",
     {"r1": 2.3, "r2": 3.6, "f1": 0.15, "f2": 0.15}, 0.30, 2.95),
    ("Gaussian 3.0 A, width 0.3 A, f 0.30", curve_of_gaussian(3.0, 0.3, 0.30), "Gaussian",
     {"r": 3.0, "width": 0.3, "f": 0.30}, 0.30, 3.0),
]


def inside(value, band):
    return band is not None and band[0] <= value <= band[1]


def run_truth(name, clean, own, values, fraction, mean_r, grid="distance"):
    counts = Counter()
    best = Counter()
    for seed in range(1, REPLICATES + 1):
        noisy = clean + np.random.default_rng(seed).normal(0, SIGMA, TIMES.size)
        curve = DephasingCurve(TIMES, noisy, sigma=np.full(TIMES.size, SIGMA), source=f"{name} #{seed}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = respdor.distance_distribution(curve, "13C", "27Al", r_min_angstrom=1.5, r_max_angstrom=6.0, n_r=61,
                                                grid=grid, bootstrap=50, seed=seed, progress=False)
        counts["fraction in band"] += inside(fraction, res.fraction_ci95)
        counts["mean r in band"] += inside(mean_r, res.mean_r_ci95)
        best[res.best_model()["name"]] += 1
        lowest = res.best_model()["aic"]
        entry = next(m for m in res.models if m["name"] == own)
        counts["own model within dAIC 2"] += entry["aic"] - lowest < 2.0
        counts["own values in 95 %"] += all(inside(v, entry["ci95"][k]) for k, v in values.items())
        counts["fraction sum"] += res.fraction
        counts["mean r sum"] += res.mean_r_angstrom
    return counts, best


def main():
    print(f"13C{{27Al}} RESPDOR, {TIMES.size} points 0.2-8 ms, sigma {SIGMA}, {REPLICATES} replicates per truth, "
          "grid 1.5-6 A (61), 50 bootstrap samples")
    print(f"{'grid truth':<44} {'f in band':>9} {'<r> in band':>11} {'mean f':>7} {'mean <r>':>8} "
          f"{'own dAIC<2':>10} {'own in 95%':>10}  lowest AIC (counts)")
    start = time.process_time()
    for grid, (name, clean, own, values, fraction, mean_r) in [(g, t) for g in ("distance", "coupling")
                                                                for t in TRUTHS]:
        c, best = run_truth(name, clean, own, values, fraction, mean_r, grid)
        n = REPLICATES
        print(f"{grid[:4]} {name:<39} {c['fraction in band']:>6}/{n} {c['mean r in band']:>8}/{n} {c['fraction sum'] / n:7.3f} "
              f"{c['mean r sum'] / n:8.2f} {c['own model within dAIC 2']:>7}/{n} {c['own values in 95 %']:>7}/{n}  "
              + ", ".join(f"{k} {v}" for k, v in best.most_common()))
    print(f"CPU time {time.process_time() - start:.0f} s")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = respdor.distance_distribution(example_path("respdor_13C27Al_synthetic.csv"), "13C", "27Al",
                                            r_min_angstrom=1.5, r_max_angstrom=6.0, progress=False)
    print("bundled respdor_13C27Al_synthetic.csv (truth: one distance 2.50 A, f 0.24), as "
          f"`respdor distribution ... --r-range 1.5:6A` (91 points, 100 bootstrap samples, seed 0): {res!r}")
    print(f"  resolved distances {res.r_short_angstrom:.2f} ... {res.r_long_angstrom:.2f} A")
    for row in sorted(res.models_table(), key=lambda r: r["AIC"]):
        print(f"  {row['model']:<16} AIC {row['AIC']:6.2f} dAIC {row['dAIC']:5.2f}  {row['parameters']}")
    for w in res.warnings:
        print(f"  warning: {w}")


if __name__ == "__main__":
    main()
