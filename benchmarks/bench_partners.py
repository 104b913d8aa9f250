"""How often the model comparison picks the true number of partners.

Synthetic 13C{27Al} RESPDOR curves from the exact two-partner product (respdor.multipartner, fine
powder): truth "two" = two 27Al at 2.9 A, 110 deg apart, f = 0.30; truth "one" = one 27Al at 2.5 A
(D = 503 Hz), f = 0.24, the seed-like case. Noise sigma 0.01, 0.02 and 0.05; 16 points to 3 ms and
41 points to 8 ms. Each replicate runs respdor.compare_models (no intervals) and records which model
has the lowest AICc and whether the two best curves are told apart (chi^2 between them > 5.99).
With --all-models every default row of the comparison competes (uncorrelated and equivalent
partners, a Gaussian distribution of distances, two sites) and the share of each winner is printed.

    python benchmarks/bench_partners.py [--replicates 10] [--truth one|two|both] [--times 3ms|8ms|both]

Prints one row per (truth, times, sigma): the share of replicates where each model is preferred and
where the curves are told apart, and the CPU seconds per comparison.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def truth_curve(kind, t):
    from respdor import CurveModel
    from respdor.models import transfer_matrix, transfer_weights
    from respdor.multipartner import pair_geometry, partners_dephasing, powder_for

    w = transfer_weights(transfer_matrix(2.5, "saturation"))
    dr3 = CurveModel("13C", "27Al").dr3
    if kind == "two":
        d = dr3 / 2.9**3
        return 0.30 * partners_dephasing(t, [d, d], *pair_geometry(110.0, powder_for(5 * d * t.max(), 2.0)), w)
    from respdor.models import respdor_dephasing

    return 0.24 * respdor_dephasing(dr3 / 2.5**3 * t, 2.5)


def main():
    from respdor import DephasingCurve, compare_models

    ap = argparse.ArgumentParser()
    ap.add_argument("--replicates", type=int, default=10)
    ap.add_argument("--truth", choices=("one", "two", "both"), default="both")
    ap.add_argument("--times", choices=("3ms", "8ms", "both"), default="both",
                    help="16 points to 3 ms, 41 points to 8 ms, or both")
    ap.add_argument("--all-models", action="store_true",
                    help="compare every default row (uncorrelated and equivalent partners, Gaussian distribution, "
                         "two sites) too, and count which is preferred (default: one partner against two)")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    if args.all_models:
        return all_models(args)
    truths = ("one", "two") if args.truth == "both" else (args.truth,)
    print(f"{'truth':<6} {'times':<12} {'sigma':>6} {'n':>3} {'AICc: one':>10} {'AICc: two':>10} "
          f"{'told apart':>10} {'CPU s each':>10}", flush=True)
    for kind in truths:
        for n_pts, t_max in [(16, 3e-3), (41, 8e-3)][(args.times == "8ms"):(1 if args.times == "3ms" else 2)]:
            t = np.linspace(t_max / n_pts, t_max, n_pts)
            exact = truth_curve(kind, t)
            for sigma in (0.01, 0.02, 0.05):
                rng = np.random.default_rng(1000 + n_pts + int(1000 * sigma))
                picks, apart, cpu = {"one": 0, "two": 0}, 0, 0.0
                for _ in range(args.replicates):
                    curve = DephasingCurve(t, exact + rng.normal(0, sigma, n_pts), sigma=np.full(n_pts, sigma))
                    start = time.process_time()
                    cmp = compare_models(curve, "13C", "27Al", uncorrelated=0, distribution=False, progress=False)
                    cpu += time.process_time() - start
                    picks["two" if cmp.preferred.startswith("two") else "one"] += 1
                    apart += cmp.distinguishable
                r = args.replicates
                print(f"{kind:<6} {n_pts:>2} to {t_max * 1e3:.0f} ms {sigma:>6.2f} {r:>3} {picks['one'] / r:>10.2f} "
                      f"{picks['two'] / r:>10.2f} {apart / r:>10.2f} {cpu / r:>10.1f}", flush=True)


def all_models(args):
    """One row per (truth, times, sigma): how often each model of the full comparison is preferred."""
    from collections import Counter

    from respdor import DephasingCurve, compare_models

    truths = ("one", "two") if args.truth == "both" else (args.truth,)
    times = [(16, 3e-3), (41, 8e-3)][(args.times == "8ms"):(1 if args.times == "3ms" else 2)]
    for kind in truths:
        for n_pts, t_max in times:
            t = np.linspace(t_max / n_pts, t_max, n_pts)
            exact = truth_curve(kind, t)
            for sigma in (0.01, 0.02, 0.05):
                rng = np.random.default_rng(1000 + n_pts + int(1000 * sigma))
                picks, cpu = Counter(), 0.0
                for _ in range(args.replicates):
                    curve = DephasingCurve(t, exact + rng.normal(0, sigma, n_pts), sigma=np.full(n_pts, sigma))
                    start = time.process_time()
                    picks[compare_models(curve, "13C", "27Al", progress=False).preferred] += 1
                    cpu += time.process_time() - start
                shares = ", ".join(f"{name} {k / args.replicates:.2f}" for name, k in picks.most_common())
                print(f"truth {kind}, {n_pts} points to {t_max * 1e3:.0f} ms, sigma {sigma}: {shares} "
                      f"({args.replicates} replicates, {cpu / args.replicates:.1f} CPU s each)", flush=True)


if __name__ == "__main__":
    main()
