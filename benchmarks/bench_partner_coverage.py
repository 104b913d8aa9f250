"""Coverage of the two-partner fit's profile-likelihood intervals.

Synthetic 13C{27Al} RESPDOR curves: two 27Al at 2.9 A, 110 deg apart, f = 0.30 (the exact product,
fine powder), 41 points to 8 ms (or 16 points to 3 ms with --times 3ms), noise sigma (default 0.01). Each replicate runs
respdor.fit_two_partners with intervals and records whether the 95 % interval of D1, D2 and f holds
the truth, and how often the angle is reported as undetermined.

    python benchmarks/bench_partner_coverage.py [--replicates 10] [--sigma 0.01] [--times 8ms|3ms]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def main():
    from respdor import CurveModel, DephasingCurve, fit_two_partners
    from respdor.models import transfer_matrix, transfer_weights
    from respdor.multipartner import pair_geometry, partners_dephasing, powder_for

    ap = argparse.ArgumentParser()
    ap.add_argument("--replicates", type=int, default=10)
    ap.add_argument("--sigma", type=float, default=0.01)
    ap.add_argument("--times", choices=("8ms", "3ms"), default="8ms", help="41 points to 8 ms or 16 points to 3 ms")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    d = CurveModel("13C", "27Al").dr3 / 2.9**3
    n_pts, t_max = (41, 8e-3) if args.times == "8ms" else (16, 3e-3)
    t = np.linspace(t_max / n_pts, t_max, n_pts)
    w = transfer_weights(transfer_matrix(2.5, "saturation"))
    exact = 0.30 * partners_dephasing(t, [d, d], *pair_geometry(110.0, powder_for(5 * d * t.max(), 2.0)), w)
    rng = np.random.default_rng(2024)
    truth = {"coupling_1_hz": d, "coupling_2_hz": d, "fraction": 0.30}
    hits = {k: 0 for k in truth}
    undetermined, cpu = 0, 0.0
    for k in range(args.replicates):
        curve = DephasingCurve(t, exact + rng.normal(0, args.sigma, t.size), sigma=np.full(t.size, args.sigma))
        start = time.process_time()
        fit = fit_two_partners(curve, "13C", "27Al", progress=False)
        cpu += time.process_time() - start
        held = {}
        for name, value in truth.items():
            lo, hi = fit.parameters[name].ci95
            held[name] = (lo is None or lo <= value) and (hi is None or value <= hi)
            hits[name] += held[name]
        undetermined += fit.parameters["angle_deg"].determined is False
        print(f"replicate {k + 1}: D1 {fit.value('coupling_1_hz'):.0f} Hz {fit.parameters['coupling_1_hz'].ci95}, "
              f"D2 {fit.value('coupling_2_hz'):.0f} Hz, f {fit.value('fraction'):.3f}; 95 % interval holds the truth: "
              + ", ".join(f"{n} {'yes' if h else 'NO'}" for n, h in held.items())
              + f"; so far {', '.join(f'{n} {v}/{k + 1}' for n, v in hits.items())}", flush=True)
    n = args.replicates
    print(f"truth D1 = D2 = {d:.1f} Hz, f = 0.30; {n_pts} points to {t_max * 1e3:g} ms, sigma {args.sigma}, "
          f"{n} replicates, "
          f"{cpu / n:.1f} CPU s per fit with intervals")
    print("95 % interval holds the truth: " + ", ".join(f"{k} {v}/{n}" for k, v in hits.items())
          + f"; angle undetermined in {undetermined}/{n}")


if __name__ == "__main__":
    main()
