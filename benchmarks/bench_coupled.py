"""The coupled engine's cost and accuracy: step schemes side by side, another checkout, the large case (prints figures; not a test).

Run:  python benchmarks/bench_coupled.py [--powder N] [--gamma N] [--baseline OTHER_CHECKOUT] [--large] [--breakdown] [--model]

The case: 13C with three 27Al on a chain 3.4 A apart, all Al-Al couplings (ZZ and flip-flop),
C_Q 3 MHz, 14.1 T, 10 kHz MAS, CW 30 kHz x 2 tau_R, 21 points to 8 ms (``bench_engines.coupled_case``).

1. Step schemes, warm, one thread (NUMBA_NUM_THREADS=1), ZCW ``--powder`` x ``--gamma`` (default
   13 x 16): CPU seconds per (alpha, beta) orientation of
   - dense exact rf steps, piecewise 0.5 us (the scheme of earlier versions: an eigendecomposition
     of the whole 216-state partner space per step),
   - factored rf steps (one- and two-spin factors), piecewise 0.5 us,
   - factored, fourth-order Magnus steps of 1 us and 1.25 us,
   and the largest difference of dS/S0 against Magnus steps of 0.25 us (converged to about 1e-7)
   on ZCW 3 x 8.
2. ``--baseline PATH``: the same case and powder with another checkout's default (piecewise
   0.5 us), in a child process, one thread, next to this checkout's, in the same run.
3. ``--large``: ZCW 233 x 16 with Magnus steps of 1 us on one thread per core (2 on this machine):
   CPU and wall seconds.

4. ``--breakdown``: CPU seconds of the parts of one orientation (free steps, rf steps, the gamma
   angles' centre propagators, their time points), ZCW 1 x 16, Magnus 1 us, one thread.

5. ``--model``: the work estimate of :func:`spinsim.plausibility.work_counts` (what ``respdor
   simulate`` says before a long run) against the CPU time, one thread: 2 and 3 coupled 27Al and
   23Na, CW and ideal saturation, 6 and 21 times, piecewise 0.5 us and Magnus 1 us steps, ZCW 13 x 16
   (the cases the model's constants were fitted on), then four cases it was not fitted on (20 kHz
   MAS, a longer CW block, four 23Na, 8 gamma angles).

Every run is a child process (``OPENBLAS_NUM_THREADS=1``); the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import functools, json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
import bench_engines as b
import spinsim.simulate as SM
n_ab, n_gamma, dt, integrator, factored = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6]
kw = {} if integrator == "default" else {"max_dt": dt, "integrator": integrator}
if factored == "dense":
    SM.coupled_curve = functools.partial(SM.coupled_curve, factored=False)
b.coupled_case(1, 4, **kw)  # compile or load the kernels
c0, w0 = time.process_time(), time.perf_counter()
cpu, r = b.coupled_case(n_ab, n_gamma, **kw)
print(json.dumps({"cpu": time.process_time() - c0, "wall": time.perf_counter() - w0, "n_ab": r.info["n_orientations"] // r.info["n_gamma"],
                  "step": r.info.get("step_s"),
                  "dss0": [float(x) for x in r.dSS0]}))
"""

BREAKDOWN = r"""
import sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
import bench_engines as b
import spinsim._coupled as KC
seen = {}
orig = KC.coupled_signals
def spy(*args):
    seen["args"] = list(args)  # the last call: coupled_case warms up on two times first
    return orig(*args)
KC.coupled_signals = spy
b.coupled_case(1, 16, max_dt=1e-6, integrator="magnus4")
args = seen["args"]  # the kernel's arguments: 8 n_gamma, 17 L, 19 ns
def cpu(**change):
    a = list(args)
    for k, v in change.items():
        a[int(k[1:])] = v
    orig(*a)
    c = time.process_time()
    orig(*a)
    return (time.process_time() - c) / a[0].shape[0]
one = args[19][:1].copy()
free = cpu(a8=1, a17=0, a19=one)  # no rf block: the free steps alone
steps = cpu(a8=1, a19=one)  # the rf steps too, one gamma angle, one time
centres = cpu(a19=one)  # every gamma angle's centre, one time
total = cpu()
parts = {"free steps": free, "rf steps": steps - free, f"{args[8] - 1} more gamma angles' centres": centres - steps,
         f"{len(args[19]) - 1} more times x {args[8]} gamma angles": total - centres}
print("; ".join(f"{k} {v:.2f} s ({v / total:.0%})" for k, v in parts.items()) + f"; one orientation {total:.2f} CPU s")
"""

MODEL = r"""
import json, sys, time
import numpy as np
from spinsim import IdealSaturation, Spin, SpinSystem, cw_pulse, make_powder, simulate_respdor
from spinsim.plausibility import UNITS_PER_CPU_SECOND, work_counts
magnus = {"max_dt": 1e-6, "integrator": "magnus4"}
# (isotope, C_Q Hz, partners, saturation, times, MAS Hz, ZCW n, gamma, options, fitted): the first rows fitted the
# model's constants (spinsim.plausibility.COUPLED_*), the last ones were not
cases = [(iso, cq, n, sat, nt, 1e4, 13, 16, opt, True) for iso, cq in (("27Al", 3e6), ("23Na", 1e6)) for n in (2, 3)
         for sat in ("CW", "ideal") for nt, opt in ((21, {}), (6, {}), (21, magnus))]
cases += [("27Al", 3e6, 3, "CW", 21, 2e4, 13, 8, {}, False), ("27Al", 3e6, 3, "CW 400 us", 11, 1e4, 13, 16, {}, False),
          ("23Na", 1e6, 4, "ideal", 11, 1e4, 5, 8, {}, False), ("27Al", 3e6, 2, "CW", 41, 2e4, 34, 8, magnus, False)]
rows = []
for iso, cq, n, label, nt, mas, n_ab, n_gamma, opt, fitted in cases:
    xyz = [[0, 0, 0]] + [[x, 2.6, 0] for x in (-1.7, 1.7, 5.1, 8.5)[:n]]
    system = SpinSystem.from_coordinates([Spin("13C")] + [Spin(iso, cq_hz=cq)] * n, xyz, 14.1, homonuclear=True)
    t = np.arange(nt) * 8e-3 / (nt - 1)
    t = np.round(t * mas / 2) * 2 / mas  # whole rotor periods per half
    tr = 1.0 / mas
    sat = IdealSaturation("full") if label == "ideal" else cw_pulse(iso, 30e3, 4e-4 if "400" in label else 2 * tr)
    pw = make_powder("zcw", n_ab, n_gamma)
    simulate_respdor(system, mas, t[:2], sat, powder=make_powder("zcw", 1, n_gamma), **opt)
    c0 = time.process_time()
    simulate_respdor(system, mas, t, sat, powder=pw, **opt)
    cpu = time.process_time() - c0
    model = work_counts(system, mas, t, sat, powder=pw, max_dt=opt.get("max_dt", 0.5e-6),
                        integrator=opt.get("integrator", "piecewise"))["cost"] / UNITS_PER_CPU_SECOND
    rows.append((f"{n} {iso}", label, nt, f"{mas / 1e3:g} kHz", f"ZCW {n_ab} x {n_gamma}",
                 opt.get("integrator", "piecewise"), fitted, cpu, model))
print(json.dumps(rows))
"""

SCHEMES = (("dense exact rf steps, piecewise", 0.5e-6, "piecewise", "dense"),
           ("factored rf steps, piecewise", 0.5e-6, "piecewise", "factored"),
           ("factored, Magnus", 1.0e-6, "magnus4", "factored"),
           ("factored, Magnus", 1.25e-6, "magnus4", "factored"))


def child(repo, n_ab, n_gamma, dt=0.5e-6, integrator="piecewise", factored="factored", threads=1):
    env = dict(os.environ, PYTHONPATH=str(repo), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env["NUMBA_NUM_THREADS"] = str(threads or os.cpu_count())  # bench_engines would default to one
    out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "benchmarks"), str(n_ab), str(n_gamma), str(dt),
                          integrator, factored], env=env, cwd=str(repo), capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def schemes(n_ab, n_gamma):
    truth = np.asarray(child(ROOT, 3, 8, 0.25e-6, "magnus4")["dss0"])
    print(f"# 1. step schemes, one thread, ZCW {n_ab} x {n_gamma}; error: max |d dS/S0| against Magnus 0.25 us (ZCW 3 x 8)")
    print("| scheme | max_dt (step taken) | CPU s | CPU s per (alpha, beta) | error |")
    print("|---|---|---|---|---|")
    for label, dt, integrator, factored in SCHEMES:
        run = child(ROOT, n_ab, n_gamma, dt, integrator, factored)
        err = np.max(np.abs(np.asarray(child(ROOT, 3, 8, dt, integrator, factored)["dss0"]) - truth))
        print(f"| {label} | {dt * 1e6:g} us ({run['step'] * 1e6:.3g} us) | {run['cpu']:.1f} | {run['cpu'] / run['n_ab']:.2f} | {err:.1e} |",
              flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--powder", type=int, default=13, help="ZCW (alpha, beta) orientations (default 13)")
    ap.add_argument("--gamma", type=int, default=16, help="gamma angles (default 16)")
    ap.add_argument("--baseline", help="another checkout of respdor, run with its defaults")
    ap.add_argument("--large", action="store_true", help="also ZCW 233 x 16, Magnus 1 us, a thread per core")
    ap.add_argument("--skip-schemes", action="store_true", help="skip part 1")
    ap.add_argument("--model", action="store_true",
                    help="also the work estimate against the CPU time for 2 and 3 coupled 27Al, CW and ideal")
    ap.add_argument("--breakdown", action="store_true",
                    help="also time the parts of one orientation (free steps, rf steps, the gamma angles)")
    args = ap.parse_args(argv)
    print(f"# load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores")
    if not args.skip_schemes:
        schemes(args.powder, args.gamma)
    if args.baseline:
        print(f"# 2. side by side, one thread, ZCW {args.powder} x {args.gamma}, each checkout's default steps")
        print("| code | step | CPU s | CPU s per (alpha, beta) |")
        print("|---|---|---|---|")
        for label, repo, integrator in (("baseline", Path(args.baseline).resolve(), "default"),
                                        ("this checkout, piecewise", ROOT, "default"),
                                        ("this checkout, Magnus", ROOT, "magnus4")):
            run = child(repo, args.powder, args.gamma, 1e-6, integrator)
            step = "1 us Magnus" if integrator == "magnus4" else "0.5 us piecewise"
            print(f"| {label} | {step} | {run['cpu']:.1f} | {run['cpu'] / run['n_ab']:.2f} |", flush=True)
    if args.breakdown:
        env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
        out = subprocess.run([sys.executable, "-c", BREAKDOWN, str(ROOT / "benchmarks")], env=env, cwd=str(ROOT),
                             capture_output=True, text=True, check=True)
        print(f"# where an orientation's time goes (ZCW 1 x 16, Magnus 1 us, one thread): {out.stdout.strip()}")
    if args.model:
        env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
        out = subprocess.run([sys.executable, "-c", MODEL], env=env, cwd=str(ROOT), capture_output=True, text=True,
                             check=True)
        print("# the work estimate (spinsim.plausibility.work_counts) against the CPU time, one thread; steps of "
              "0.5 us (piecewise) or 1 us (Magnus)")
        print("| partners | saturation | times | MAS | powder | steps | fitted | CPU s | model s | model / CPU |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for *case, fitted, cpu, model in json.loads(out.stdout.strip().splitlines()[-1]):
            print("| " + " | ".join(str(c) for c in case) + f" | {'yes' if fitted else 'no'} | {cpu:.2f} | {model:.2f} | "
                  f"{model / cpu:.2f} |", flush=True)
    if args.large:
        run = child(ROOT, 233, 16, 1e-6, "magnus4", threads=0)
        print(f"# 3. ZCW 233 x 16, 21 times, Magnus 1 us, {os.cpu_count()} threads: {run['cpu']:.0f} CPU s, "
              f"{run['wall']:.0f} s wall")
    print(f"# load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    sys.exit(main())
