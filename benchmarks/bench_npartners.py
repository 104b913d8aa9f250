"""CPU time and recovery of the three-partner fit (respdor.fit_partners, rigid geometry).

The curve: a 13C with three 27Al at 2.9 A whose vectors make 110, 110 and 100 deg with each other
(e.g. a carboxylate carbon near three Al of an AlO6 surface), bonded fraction 0.30, RESPDOR
(saturation), exact per-crystallite product at a powder twice the working one. Gaussian noise
(seeded) of the given sigma; times evenly spaced to the longest.

    python benchmarks/bench_npartners.py --points 16 --t-max 3ms --sigma 0.02 [--intervals]
    python benchmarks/bench_npartners.py --points 41 --t-max 8ms --sigma 0.01 --intervals
    python benchmarks/bench_npartners.py --points 16 --t-max 3ms --sigma 0.02 --compare

Prints the CPU seconds (time.process_time) of the fit without and (with --intervals) with profile
intervals, the values found against the truth, and with --compare the CPU seconds of
compare_models with and without the three-partner row.
"""

import argparse
import math
import time

import numpy as np


def _vectors(a12, a13, a23):
    """Three unit vectors with the given angles between them (deg)."""
    a12, a13, a23 = map(math.radians, (a12, a13, a23))
    z = math.cos(a13)
    x = (math.cos(a23) - math.cos(a12) * z) / math.sin(a12)
    return np.array([[0, 0, 1], [math.sin(a12), 0, math.cos(a12)], [x, math.sqrt(1 - x * x - z * z), z]])


def curve(points, t_max, sigma, seed=1):
    from respdor import CurveModel, DephasingCurve
    from respdor.multipartner import partners_dephasing, powder_for, vector_geometry

    model = CurveModel("13C", "27Al")
    t = np.linspace(t_max / points, t_max, points)
    d = model.dr3 / 2.9**3
    powder = powder_for(5 * d * t_max, 2.0)
    exact = 0.30 * partners_dephasing(t, [d] * 3, *vector_geometry(_vectors(110, 110, 100), powder), model._weights,
                                      1.0, model.partner_isotope.abundance)
    noisy = exact + np.random.default_rng(seed).normal(0.0, sigma, t.size)
    return DephasingCurve(t, noisy, sigma=np.full(t.size, sigma)), d


def _say_estimate(data, fit):
    """The estimate fit_partners says before its profiles start, for this curve."""
    from respdor.fitting import CurveModel
    from respdor.npartnerfit import _announce_profiles, _NProblem
    from spinsim.progress import LineProgress

    model = CurveModel("13C", "27Al")
    problem = _NProblem(data, model, model.partner_isotope.abundance, 3, "general")
    best = (tuple(fit.value(f"coupling_{k}_hz") for k in (1, 2, 3)),
            tuple(fit.value(n) for n in ("angle_12_deg", "polar_3_deg", "azimuth_3_deg")), fit.value("fraction"))
    problem.prepare(1.5 * best[0][0])
    _announce_profiles(problem, best, LineProgress(indent="announced: "))


def main():
    from respdor.comparison import compare_models
    from respdor.npartnerfit import fit_partners
    from respdor.units import parse_time

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=16)
    ap.add_argument("--t-max", default="3ms")
    ap.add_argument("--sigma", type=float, default=0.02)
    ap.add_argument("--intervals", action="store_true")
    ap.add_argument("--compare", action="store_true")
    args = ap.parse_args()
    t_max = parse_time(args.t_max, option="--t-max")[0]
    data, d = curve(args.points, t_max, args.sigma)
    print(f"three 27Al at 2.9 A (D = {d:.1f} Hz), angles 110/110/100 deg, f = 0.30; {args.points} points to "
          f"{1e3 * t_max:g} ms, sigma {args.sigma}")
    fit = fit_partners(data, "13C", "27Al", 3, intervals=False, progress=False)  # compile and warm the caches
    _say_estimate(data, fit)
    for intervals in (False, True) if args.intervals else (False,):
        start = time.process_time()
        fit = fit_partners(data, "13C", "27Al", 3, intervals=intervals, progress=False)
        print(f"intervals={intervals}: {time.process_time() - start:.1f} CPU s; {fit.summary()}, chi2 {fit.chisqr:.3g}")
    for e in fit.parameters.values():
        lo, hi = ("open" if v is None else f"{v:.4g}" for v in e.ci95)
        print(f"  {e.name:<22} {e.value:9.4g} {e.unit:<9} 95 %: [{lo}, {hi}] determined={e.determined}")
    for line in fit.notes + fit.warnings:
        print("  " + line)
    if args.compare:
        for max_partners in (2, 3):
            start = time.process_time()
            cmp = compare_models(data, "13C", "27Al", max_partners=max_partners, progress=False)
            print(f"compare_models(max_partners={max_partners}): {time.process_time() - start:.1f} CPU s; "
                  f"preferred {cmp.preferred}")


if __name__ == "__main__":
    main()
