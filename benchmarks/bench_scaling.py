"""How the cost of a simulation grows with crystallites, recoupling times, partners and threads
(prints tables; not a test).

Run:  nice -n 10 python benchmarks/bench_scaling.py [--quick] [--only cost|threads] [--baseline OTHER_CHECKOUT]

Two experiments: 111Cd{27Al} RESPDOR with R4_1^2 R4_1^-2 recoupling, a 300 ppm 111Cd CSA and CW
saturation (general engine, steps shared by the gamma angles), and 13C{27Al} RESPDOR with ideal
REDOR pulses and CW saturation (fast engine). CPU seconds of one warm run on one thread
(``NUMBA_NUM_THREADS=1``), except the threads table: wall seconds of a fresh process with 1 and 2
threads, run back to back (say the machine's load beside them); the general engine there with CW
saturation, with an ideal saturation and with recoupling cycles continued across the centre (its
three ways of forming the signal), and with each crystallite stepped on its own; with
``--baseline`` another checkout's rows beside each.
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engines import C_AL, _spec, run  # noqa: E402

from spinsim.powder import make_powder  # noqa: E402

CD = {"isotope": "111Cd", "csa_span_ppm": 300.0, "csa_skew": 0.3}
AL2 = dict(C_AL, q_euler_deg=[40, 70, 0])


def general(n_ab=233, n_gamma=16, t_max_ms=4.8, partners=1, saturation=None, cycle="restart"):
    spins = [CD, C_AL] + ([AL2] if partners > 1 else [])
    dip = [{"spins": [0, 1], "distance_A": 3.0}] + (
        [{"spins": [0, 2], "distance_A": 3.4, "euler_deg": [0, 110, 0]}] if partners > 1 else [])
    sp = _spec("SR4 + CSA", spins, {"scheme": "sr4", "supercycle": "R4R4bar", "cycle": cycle}, (n_ab, n_gamma),
               t_max_ms, dipolar=dip)
    if saturation is not None:
        sp["saturation"] = saturation
    return sp


def fast(n_ab=987, n_gamma=16, t_max_ms=3.0, partners=1):
    spins = [{"isotope": "13C"}, C_AL] + [AL2] * (partners - 1)
    dip = [{"spins": [0, 1], "d_hz": 503.0}] + [
        {"spins": [0, k + 1], "d_hz": 300.0, "euler_deg": [0, 40 * k, 0]} for k in range(1, partners)]
    return _spec("REDOR CW", spins, {"scheme": "redor"}, (n_ab, n_gamma), t_max_ms, dipolar=dip)


def timed(sp):
    small = copy.deepcopy(sp)
    small["powder"]["n"] = 5
    run(small)
    cpu, r = run(sp)
    return cpu, r


def table(title, header, rows):
    print(f"\n{title}\n\n| {header} | points | engine | CPU s | CPU us per crystallite and point |\n"
          "|---|---|---|---|---|")
    for label, sp in rows:
        cpu, r = timed(sp)
        # ZCW rounds n up to a Fibonacci number: count the crystallites actually used
        n = make_powder("zcw", sp["powder"]["n"], sp["powder"]["n_gamma"]).n_ab * sp["powder"]["n_gamma"]
        print(f"| {label} | {len(r.t_s)} | {r.info['engine']} | {cpu:.2f} | {1e6 * cpu / (n * len(r.t_s)):.1f} |",
              flush=True)


def threads(sp, tmp, repo=None, stepped=False):
    """Best-of-two wall seconds of ``sp`` with 1 and 2 threads, each in a fresh process (of the
    checkout ``repo`` when given, else of this interpreter's spinsim); ``stepped``: the general
    engine with every crystallite stepped on its own (``bench_engines.per_crystallite``)."""
    path = Path(tmp) / "spec.json"
    path.write_text(json.dumps(sp))
    code = ("import contextlib, copy, json, sys, time; sys.path.insert(0, sys.argv[2]); import bench_engines as b;"
            " from spinsim.spec import simulate_spec; sp = json.load(open(sys.argv[1]));"
            " ctx = b.per_crystallite() if sys.argv[3] == '1' else contextlib.nullcontext(); ctx.__enter__();"
            " s = copy.deepcopy(sp); s['powder']['n'] = 5; simulate_spec(s); t = time.perf_counter();"
            " simulate_spec(sp); print(time.perf_counter() - t)")
    out = {}
    for th in (1, 2, 1, 2):
        env = dict(os.environ, NUMBA_NUM_THREADS=str(th), **({"PYTHONPATH": str(repo)} if repo else {}))
        res = subprocess.run([sys.executable, "-c", code, str(path), str(Path(__file__).resolve().parent),
                              "1" if stepped else "0"], env=env, capture_output=True, text=True, check=True)
        out.setdefault(th, []).append(float(res.stdout.split()[-1]))
    return min(out[1]), min(out[2])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller powders")
    ap.add_argument("--only", choices=["cost", "threads"], help="only the cost tables, or only the threads table")
    ap.add_argument("--baseline", type=Path, help="another checkout: its threads rows beside this one's, same run")
    args = ap.parse_args(argv)
    q = 4 if args.quick else 1
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    if args.only != "threads":
        cost_tables(q)
    if args.only != "cost":
        threads_table(q, args.baseline)
    return 0


def cost_tables(q):
    table("Crystallites (to 4.8 ms; 16 gamma angles)", "ZCW (alpha, beta) x gamma",
          [(f"{n} x 16", general(n_ab=n // q)) for n in (55, 233, 987)])
    table("Recoupling times (ZCW 233 x 16)", "times",
          [(f"to {t} ms", general(n_ab=233 // q, t_max_ms=t)) for t in (2.4, 4.8, 9.6)])
    table("Partners, general engine (ZCW 55 x 16, to 4.8 ms)", "27Al partners",
          [(str(p), general(n_ab=55 // q, partners=p)) for p in (1, 2)])
    table("Partners, fast engine (ZCW 987 x 16, to 3 ms)", "27Al partners",
          [(str(p), fast(n_ab=987 // q, partners=p)) for p in (1, 2, 3)])


def threads_table(q, baseline=None):
    print("\nThreads (wall seconds of a fresh process, best of two)\n\n"
          "| case | code | 1 thread | 2 threads | speed-up |\n|---|---|---|---|---|")
    ideal = {"type": "ideal"}
    cases = (("general: SR4 + CSA, ZCW 987 x 16", general(n_ab=987 // q), False),
             ("general: SR4 + CSA, ideal saturation, ZCW 987 x 16", general(n_ab=987 // q, saturation=ideal), False),
             ("general: SR4 + CSA, cycles continued across the centre, ZCW 610 x 16",
              general(n_ab=610 // q, t_max_ms=3.0, cycle="continue"), False),
             ("general: SR4 + CSA, each crystallite stepped on its own, ZCW 89 x 16", general(n_ab=89 // q), True),
             ("fast: CW, ZCW 4181 x 32", fast(n_ab=4181 // q, n_gamma=32), False))
    repos = [("this", None)] + ([("baseline", baseline.resolve())] if baseline else [])
    with tempfile.TemporaryDirectory() as tmp:
        for label, sp, stepped in cases:
            for code, repo in repos:
                one, two = threads(sp, tmp, repo, stepped)
                print(f"| {label} | {code} | {one:.2f} | {two:.2f} | {one / two:.2f}x |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
