"""Speed of the analytical fitter, printed side by side in one run (no timed tests).

1. One fit of a 30-point 13C{27Al} RESPDOR curve, with and without 1/2-sigma profile-likelihood
   intervals (median of repeated runs, in-process, warm).
2. Cold start of the command line: `respdor fit FILE --no-plot --no-files` as a fresh process,
   against `python -c "import lmfit"`, median of repeats; the ratio is what to quote (absolute
   times on shared machines are noise).

Run:  python benchmarks/bench_fit_speed.py [--repeats 7]
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    from respdor import CurveModel, DephasingCurve, fit_curve
    from respdor.models import respdor_dephasing

    rng = np.random.default_rng(1)
    t = np.linspace(0.1e-3, 3e-3, 30)
    curve = DephasingCurve(t, 0.24 * respdor_dephasing(503 * t, 2.5) + rng.normal(0, 0.01, t.size),
                           np.full(t.size, 0.01))
    model = CurveModel("13C", "27Al")
    fit_curve(curve, model)  # warm caches
    with_ci, _ = median_time(lambda: fit_curve(curve, model), args.repeats)
    without_ci, _ = median_time(lambda: fit_curve(curve, model, intervals=False), args.repeats)
    print(f"one 30-point fit, with 68/95 % profile intervals : {with_ci * 1e3:8.1f} ms (median of {args.repeats})")
    print(f"one 30-point fit, covariance errors only         : {without_ci * 1e3:8.1f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "curve.csv"
        with open(path, "w") as fh:
            fh.write("t_s,dSS0,sigma\n")
            for row in zip(curve.time_s, curve.dss0, curve.sigma):
                fh.write(",".join(repr(float(v)) for v in row) + "\n")
        fit_cmd = [sys.executable, "-m", "respdor", "fit", str(path), "--no-plot", "--no-files"]
        lmfit_cmd = [sys.executable, "-c", "import lmfit"]
        for cmd in (fit_cmd, lmfit_cmd):  # warm the OS file cache
            subprocess.run(cmd, capture_output=True, check=True, cwd=tmp)
        fit_times, lmfit_times = [], []
        for _ in range(args.repeats):  # interleaved so both see the same machine load
            for cmd, store in ((fit_cmd, fit_times), (lmfit_cmd, lmfit_times)):
                start = time.perf_counter()
                subprocess.run(cmd, capture_output=True, check=True, cwd=tmp)
                store.append(time.perf_counter() - start)
    f, l = statistics.median(fit_times), statistics.median(lmfit_times)
    print(f"cold `respdor fit` (intervals, no files)          : {f:8.2f} s (median of {args.repeats})")
    print(f"cold `python -c 'import lmfit'`                   : {l:8.2f} s")
    print(f"ratio respdor fit / import lmfit                  : {f / l:8.2f}")


if __name__ == "__main__":
    main()
