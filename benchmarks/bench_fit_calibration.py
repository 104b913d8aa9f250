"""Are the fitted D, r, f unbiased and do their intervals cover the truth as often as they claim?

Draws N synthetic 13C{27Al} RESPDOR curves from known parameters (D = 503 Hz, f = 0.24, I = 5/2,
full saturation, 30 points from 0.1 to 3 ms, Gaussian noise sigma = 0.01 on dS/S0, errors known),
fits each with `respdor.fit_curve` (profile-likelihood intervals at 1 and 2 sigma) and prints:
  * bias: mean(estimate - truth) and the same in units of its standard error of the mean,
  * the mean reported stderr against the actual scatter of the estimates,
  * coverage of the 68 % and 95 % intervals (expected 68 +/- 7 % and 95 +/- 4 % for N = 200).

Run:  python benchmarks/bench_fit_calibration.py [N] [--workers 2]
"""

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

TRUTH = {"coupling_hz": 503.0, "fraction": 0.24}
SIGMA = 0.01
TIMES = np.linspace(0.1e-3, 3e-3, 30)


def one(seed):
    from respdor import CurveModel, DephasingCurve, fit_curve
    from respdor.models import respdor_dephasing

    rng = np.random.default_rng(seed)
    y = TRUTH["fraction"] * respdor_dephasing(TRUTH["coupling_hz"] * TIMES, 2.5)
    curve = DephasingCurve(TIMES, y + rng.normal(0.0, SIGMA, TIMES.size), np.full(TIMES.size, SIGMA))
    r = fit_curve(curve, CurveModel("13C", "27Al"))
    out = {}
    for name in ("coupling_hz", "distance_angstrom", "fraction"):
        est = r[name]
        out[name] = (est.value, est.stderr, est.ci68, est.ci95)
    out["warnings"] = len(r.warnings)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", nargs="?", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from spinsim.dipolar import distance_from_coupling

    truth = dict(TRUTH, distance_angstrom=float(distance_from_coupling(TRUTH["coupling_hz"], "13C", "27Al")))
    start = time.perf_counter()
    results = []
    with ProcessPoolExecutor(args.workers) as pool:
        for k, res in enumerate(pool.map(one, range(args.n), chunksize=4), start=1):
            results.append(res)
            if k % 20 == 0:
                print(f"  {k}/{args.n} fits", file=sys.stderr)
    elapsed = time.perf_counter() - start
    n = len(results)
    print(f"{n} synthetic curves: D = {TRUTH['coupling_hz']} Hz, f = {TRUTH['fraction']}, 30 points to 3 ms, "
          f"sigma(dS/S0) = {SIGMA}; {elapsed:.1f} s with {args.workers} workers")
    print(f"{'parameter':<20}{'truth':>9}{'mean est':>11}{'bias/SEM':>10}{'mean stderr':>13}{'scatter':>10}"
          f"{'cover68':>9}{'cover95':>9}")
    for name in ("coupling_hz", "distance_angstrom", "fraction"):
        values = np.array([r[name][0] for r in results])
        stderrs = np.array([r[name][1] if r[name][1] is not None else np.nan for r in results])
        in68 = np.mean([r[name][2] is not None and r[name][2][0] <= truth[name] <= r[name][2][1] for r in results])
        in95 = np.mean([r[name][3] is not None and r[name][3][0] <= truth[name] <= r[name][3][1] for r in results])
        bias = values.mean() - truth[name]
        sem = values.std(ddof=1) / np.sqrt(n)
        print(f"{name:<20}{truth[name]:>9.4g}{values.mean():>11.4g}{bias / sem:>+10.2f}{np.nanmean(stderrs):>13.4g}"
              f"{values.std(ddof=1):>10.4g}{100 * in68:>8.1f}%{100 * in95:>8.1f}%")
    print(f"expected coverage for N = {n}: 68 +/- {100 * np.sqrt(0.68 * 0.32 / n) * 2:.1f} %, "
          f"95 +/- {100 * np.sqrt(0.95 * 0.05 / n) * 2:.1f} % (2 binomial sd)")
    print(f"fits with warnings: {sum(r['warnings'] > 0 for r in results)}")


if __name__ == "__main__":
    main()
