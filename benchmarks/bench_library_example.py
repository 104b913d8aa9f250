"""The README's library example, measured in parts (prints figures; not a test).

    python benchmarks/bench_library_example.py [--rows 0,8,16,23] [--powder N] [--gamma N]

The example, ``respdor library build data/c13_al27_respdor.toml -o lib.h5 --vary cq=1:6MHz:11``, is
11 CQ points x 24 couplings (D0/4 .. 4 D0) at the spec's powder (ZCW 4181 x 32), each coupling row
simulated to lambda = D_max t_max (the smallest coupling to 48 ms, 241 times). A whole build takes
CPU minutes, so this script times a few coupling rows of one point (CQ 3.5 MHz) in one thread
(``simulate_point``, what a Dask task runs), fits the cost of a row as a + b x (number of times),
and gives the CPU time of the whole grid, the build's own estimate (said before it starts), and
the wall time on 2 workers if both cores were free. It prints the load average: on a busy machine
CPU seconds are inflated too (shared caches), wall times far more.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads OpenBLAS, as in a library worker

import numpy as np  # noqa: E402
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from respdor import library as lib  # noqa: E402

SPEC = ROOT / "data" / "c13_al27_respdor.toml"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="0,8,16,23", help="coupling rows timed (0 = smallest D, most times)")
    ap.add_argument("--powder", type=int, help="ZCW (alpha, beta) set (default the spec's)")
    ap.add_argument("--gamma", type=int, help="gamma angles (default the spec's)")
    args = ap.parse_args(argv)
    axes = [lib.parse_vary("cq=1:6MHz:11")]
    # the command line's default couplings: 24 from D0/4 to 4 D0 (respdor.jobs.library)
    job = lib._BuildJob.prepare(str(SPEC), Path("unused.h5"), axes, np.geomspace(503.0 / 4, 503.0 * 4, 24), None,
                                None, None)
    pw = dict(job.pw)
    if args.powder:
        pw["n"] = args.powder
    if args.gamma:
        pw["n_gamma"] = args.gamma
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; one thread; ZCW {pw['n']} x {pw['n_gamma']}; 24 couplings "
          f"{job.couplings[0]:.0f}-{job.couplings[-1]:.0f} Hz; rows of {job.n_times[0]}..{job.n_times[-1]} times")
    lib.simulate_point(job.sp.raw, {"cq": 3.5e6}, job.couplings[-1:], job.times, {**pw, "n": 21}, job.n_times[-1:])
    print("| row | D (Hz) | times | CPU s |\n|---|---|---|---|")
    xs, ys = [], []
    for k in (int(r) for r in args.rows.split(",")):
        c0 = time.process_time()
        lib.simulate_point(job.sp.raw, {"cq": 3.5e6}, job.couplings[k:k + 1], job.times, pw, job.n_times[k:k + 1])
        cpu = time.process_time() - c0
        xs.append(job.n_times[k])
        ys.append(cpu)
        print(f"| {k} | {job.couplings[k]:.0f} | {job.n_times[k]} | {cpu:.2f} |", flush=True)
    b, a = np.polyfit(xs, ys, 1) if len(xs) > 1 else (0.0, ys[0])
    per_point = sum(a + b * n for n in job.n_times)
    total = 11 * per_point
    print(f"row cost: {a:.2f} s + {b * 1e3:.2f} ms per time; one point (24 rows): {per_point:.0f} s CPU; "
          f"the grid (11 points): {total:.0f} s CPU = {total / 60:.1f} min, {total / 120:.1f} min of wall on 2 free "
          "cores (264 tasks, one per curve)")
    from spinsim.plausibility import UNITS_PER_CPU_SECOND, work_counts
    from spinsim.powder import make_powder

    powder = make_powder(pw["scheme"], pw["n"], pw["n_gamma"])
    sp = job.sp
    units = 11 * sum(work_counts(sp.system, sp.mas_rate, job.times[:n], sp.saturation, sp.recoupling, powder,
                                 sp.max_dt, sp.method, 1, sp.centre_pulse, sp.integrator)["cost"] for n in job.n_times)
    print(f"the build's estimate (said before it starts): {units / UNITS_PER_CPU_SECOND / 60:.1f} min of CPU; "
          f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
