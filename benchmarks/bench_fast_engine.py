"""The fast engine's speed: warm CPU on one thread, two threads, and the first (cold) run (prints figures; not a test).

Run:  python benchmarks/bench_fast_engine.py [--powder N] [--gamma N] [--baseline PATH] [--skip-cold] [--skip-warm]
      [--fresh-venv] [--compile-events] [--eigensolver] [--precompile]

1. warm, one thread: the 13C{27Al} case of ``bench_vs_simpson.py`` (CQ 3 MHz, CW 30 kHz x 2 tau_R,
   16 points to 3 ms, 0.5 us steps, ZCW 986 x 16 by default), CPU seconds of a repeated call in a
   process with NUMBA_NUM_THREADS=1, next to SIMPSON 4.2.3's 98.2 s CPU on the same case and
   crystallites (measured by ``bench_vs_simpson.py``; SIMPSON is not run here).
2. threads: the same case on ZCW 4181 x 32 (a run of a few seconds), wall seconds with
   NUMBA_NUM_THREADS=1 and 2, back to back.
3. cold start: ``respdor simulate data/c13_al27_respdor.toml --plot none`` (or another bundled spec,
   ``--cold-spec``) in a fresh process with an empty numba cache (NUMBA_CACHE_DIR), then the same
   again with the cache filled: CPU and wall seconds of each process (start-up, imports,
   compilation, simulation, writing).

4. with ``--fresh-venv``: the same command in new virtual environments (``python -m venv``, the
   packages respdor and spinsim copied into its site-packages and byte-compiled, as an install
   does; the other dependencies from this interpreter's site-packages through a .pth file), with
   spinsim's shared kernel cache (``spinsim._jitcache``) in an empty user cache directory
   (XDG_CACHE_HOME): the first run on a machine, then a second run; then a second new environment
   with the same user cache (a machine that has run this version before).

5. with ``--compile-events``: numba's compile events of the cold run of 3. (a child with an empty
   NUMBA_CACHE_DIR): CPU seconds of each kernel's compilation, its callees included.

6. with ``--eigensolver``: the fast path's tridiagonal eigen-solver (``spinsim._kernels._tql2``) on
   the step Hamiltonians of the bundled spec (CQ 3 MHz, CW 30 kHz, each step's average Hamiltonian;
   the first 64 orientations of its ZCW 4181 set, S up and down, one rotor period), 1, 2 and 4 problems
   per call: CPU microseconds per problem, and whether each problem's eigenvalues and vectors are
   bitwise those it gets alone.

7. with ``--precompile``: ``respdor precompile`` (every engine's kernels) in a new virtual environment
   with an empty user cache, then the first and a second ``respdor simulate`` of the bundled spec
   there, and ``respdor precompile`` once more (all cached): CPU and wall seconds of each process,
   and the compile CPU seconds of each engine as the command prints them.

Every measurement runs in a child process whose PYTHONPATH is this repository, or, with
``--baseline PATH``, also another checkout measured the same way in the same run (side by side).
The machine's load average is printed before and after: wall times mean little on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIMPSON_CPU_S = 98.2  # bench_vs_simpson.py, ZCW 986 x 16, one thread

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from bench_vs_simpson import spec
import spinsim
from spinsim.spec import simulate_spec
sp = spec("mid-end", int(sys.argv[2]), int(sys.argv[3]))
simulate_spec(sp)  # compile or load the kernels, first touch of everything
c0, w0 = time.process_time(), time.perf_counter()
r = simulate_spec(sp)
print(json.dumps({"cpu": time.process_time() - c0, "wall": time.perf_counter() - w0,
                  "dss0_last": float(r.dSS0[-1]), "threads": r.info.get("threads"), "spinsim": spinsim.__file__}))
"""


EVENTS = r"""
import json, sys, tempfile, time
from numba.core import event
started, spent = {}, []
class Timer(event.Listener):
    def on_start(self, e):
        started[id(e.data["dispatcher"]), str(e.data["args"])] = time.process_time()
    def on_end(self, e):
        key = id(e.data["dispatcher"]), str(e.data["args"])
        spent.append((time.process_time() - started[key], e.data["dispatcher"].py_func.__qualname__))
event.register("numba:compile", Timer())
from respdor.cli import main
try:
    main(["simulate", sys.argv[1], "--plot", "none", "-o", tempfile.mkdtemp() + "/cold.csv"])
except SystemExit:
    pass
print(json.dumps(sorted(spent, reverse=True)))
"""


EIGEN = r"""
import json, sys, time
import numpy as np
from numba import njit
from spinsim import _kernels as K
from spinsim._drivers_fast import _rf_table, _step_diagonals, _time_factors
from spinsim.hamiltonian import interaction_components
from spinsim.spec import load_spec

sp = load_spec(sys.argv[1])
system = sp.system
comps = interaction_components(system, sp.powder.euler_ab()[:64])
m = system.spins[1].spin - np.arange(system.spins[1].multiplicity)
n_per = 96
dt = 1e-4 / n_per
G = _time_factors(np.arange(n_per) * dt, dt, 2 * np.pi * 1e4)
dg = _step_diagonals(comps.single[1], comps.pair[(0, 1)], m, G, dt)  # (64, 2, n_per, mult)
diags = np.ascontiguousarray(dg.reshape(-1, len(m)))
off = _rf_table([(30e3, 0.0)], system.spins[1].spin)[1][0]  # the (a, a+1) elements of the 30 kHz x-phase rf


@njit
def solve(diags, off, k, reps, d_out, v_out):
    n = diags.shape[1]
    d = np.empty((k, n))
    e = np.empty((k, n))
    V = np.empty((k, n, n))
    w = np.empty((12, k))
    for _ in range(reps):
        for start in range(0, diags.shape[0] - k + 1, k):
            for q in range(k):
                for a in range(n):
                    d[q, a] = diags[start + q, a]
                    e[q, a] = off[a]
                    for b in range(n):
                        V[q, a, b] = 1.0 if a == b else 0.0
            K._tql2(d, e, V, w)
            d_out[start:start + k] = d
            v_out[start:start + k] = V


out = {}
ref = None
for k in (1, 2, 4):
    d_out = np.empty_like(diags)
    v_out = np.empty((len(diags), len(m), len(m)))
    solve(diags, off, k, 1, d_out, v_out)
    c0 = time.process_time()
    solve(diags, off, k, 20, d_out, v_out)
    us = (time.process_time() - c0) / (20 * len(diags)) * 1e6
    ref = (d_out.copy(), v_out.copy()) if ref is None else ref
    out[k] = [us, bool(np.array_equal(d_out, ref[0]) and np.array_equal(v_out, ref[1]))]
print(json.dumps(out))
"""


def eigensolver_rows(repo):
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-c", EIGEN, str(ROOT / "data" / "c13_al27_respdor.toml")],
                              env=_env(repo, NUMBA_NUM_THREADS=1), cwd=tmp, capture_output=True, text=True,
                              check=True)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    print("# 6. tridiagonal eigen-solver, 6 x 6 step Hamiltonians of the bundled spec (64 orientations x 2 S states "
          "x 96 steps), one thread")
    print("| problems per call | us per problem | each bitwise as alone |\n|---|---|---|")
    for k, (us, same) in res.items():
        print(f"| {k} | {us:.3f} | {same} |")


def compile_events(repo):
    """numba's compile events (CPU s, kernel) of a cold `respdor simulate` of the bundled spec, largest first."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-c", EVENTS, str(ROOT / "data" / "c13_al27_respdor.toml")],
                              env=_env(repo, NUMBA_CACHE_DIR=str(Path(tmp) / "numba-cache")), cwd=tmp,
                              capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _env(repo, **extra):
    env = dict(os.environ, PYTHONPATH=str(repo), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def warm_run(repo, n, n_gamma, threads):
    """(CPU s, wall s, last dS/S0, threads used) of a repeated simulate_spec call in a child."""
    with tempfile.TemporaryDirectory() as tmp:  # not the current directory: python -c imports from there first
        proc = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "benchmarks"), str(n), str(n_gamma)],
                              env=_env(repo, NUMBA_NUM_THREADS=threads), cwd=tmp, capture_output=True, text=True,
                              check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def cli_run(repo, cache, workdir, name, spec="c13_al27_respdor.toml"):
    """(CPU s, wall s) of one `respdor simulate` process on a bundled spec."""
    cmd = [sys.executable, "-m", "respdor", "simulate", str(ROOT / "data" / spec),
           "-o", str(Path(workdir) / f"{name}.csv"), "--plot", "none"]
    c0, w0 = _children_cpu(), time.perf_counter()
    subprocess.run(cmd, env=_env(repo, NUMBA_CACHE_DIR=cache), cwd=workdir, capture_output=True, check=True)
    return _children_cpu() - c0, time.perf_counter() - w0


def fresh_venv(where):
    """A new virtual environment with this checkout's respdor and spinsim copied in: its python."""
    import shutil
    import site
    import sysconfig

    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    py = Path(where) / "bin" / "python"
    target = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 capture_output=True, text=True, check=True).stdout.strip())
    deps = [p for p in site.getsitepackages() + [sysconfig.get_paths()["purelib"]] if Path(p).is_dir()]
    (target / "zz_dependencies.pth").write_text("\n".join(dict.fromkeys(deps)) + "\n")
    for pkg in ("respdor", "spinsim"):
        shutil.copytree(ROOT / pkg, target / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([str(py), "-m", "compileall", "-q", str(target / "respdor"), str(target / "spinsim")],
                   check=True, capture_output=True)
    return py


def venv_run(py, workdir, name, user_cache, command=None):
    """(CPU s, wall s, standard output) of `python -m respdor simulate` (or of ``command``, respdor's
    arguments) of the fresh environment, with ``user_cache`` as the user cache directory (where
    spinsim's shared kernel cache lives)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NUMBA_CACHE_DIR")}
    env["OPENBLAS_NUM_THREADS"] = "1"
    env["XDG_CACHE_HOME"] = str(user_cache)
    command = command or ["simulate", str(ROOT / "data" / "c13_al27_respdor.toml"),
                          "-o", str(Path(workdir) / f"{name}.csv"), "--plot", "none"]
    c0, w0 = _children_cpu(), time.perf_counter()
    out = subprocess.run([str(py), "-m", "respdor", *command], env=env, cwd=workdir, capture_output=True, text=True,
                         check=True).stdout
    return _children_cpu() - c0, time.perf_counter() - w0, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--powder", type=int, default=986, help="ZCW (alpha, beta) set of the warm case (default 986)")
    ap.add_argument("--gamma", type=int, default=16, help="gamma angles of the warm case (default 16)")
    ap.add_argument("--baseline", type=Path, help="another checkout measured the same way, side by side")
    ap.add_argument("--skip-cold", action="store_true", help="leave out the cold-start rows")
    ap.add_argument("--skip-warm", action="store_true", help="leave out the warm and thread rows")
    ap.add_argument("--fresh-venv", action="store_true", help="also cold vs warm in a new virtual environment")
    ap.add_argument("--compile-events", action="store_true", help="also numba's compile events of a cold run")
    ap.add_argument("--eigensolver", action="store_true", help="also the eigen-solver, 1, 2 and 4 problems at once")
    ap.add_argument("--cold-spec", default="c13_al27_respdor.toml",
                    help="the bundled spec of the cold-start rows (a file in data/; default c13_al27_respdor.toml)")
    ap.add_argument("--precompile", action="store_true",
                    help="also `respdor precompile` in a new environment, then its first simulation")
    args = ap.parse_args(argv)
    repos = [("this", ROOT)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at the start")
    if not args.skip_warm:
        warm_and_threads(repos, args)
    if not args.skip_cold:
        cold_rows(repos, args.cold_spec)
    if args.fresh_venv:
        fresh_venv_rows()
    if args.compile_events:
        events = compile_events(ROOT)
        print("# 5. numba's compile events of a cold run (CPU s, callees included; kernels of at least 0.1 s)")
        print("; ".join(f"{name} {cpu:.2f}" for cpu, name in events if cpu >= 0.1))
    if args.eigensolver:
        eigensolver_rows(ROOT)
    if args.precompile:
        precompile_rows()
    print(f"# load average {os.getloadavg()[0]:.1f} at the end")
    return 0


def fresh_venv_rows():
    print("# 4. the same command in fresh virtual environments (this checkout copied in), default threads")
    print("| run | CPU s | wall s |\n|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        user_cache = Path(tmp) / "user-cache"
        py = fresh_venv(Path(tmp) / "venv")
        cold = venv_run(py, tmp, "cold", user_cache)[:2]
        warm = venv_run(py, tmp, "warm", user_cache)[:2]
        other = venv_run(fresh_venv(Path(tmp) / "venv2"), tmp, "other", user_cache)[:2]
    print(f"| new environment, empty user cache: first run (cold) | {cold[0]:.1f} | {cold[1]:.1f} |\n"
          f"| same environment, second run (warm) | {warm[0]:.1f} | {warm[1]:.1f} |\n"
          f"| another new environment, same user cache: first run | {other[0]:.1f} | {other[1]:.1f} |")
    print(f"first run / warm: {cold[0] / warm[0]:.2f} (CPU), {cold[1] / warm[1]:.2f} (wall) on a new machine; "
          f"{other[0] / warm[0]:.2f} (CPU), {other[1] / warm[1]:.2f} (wall) in a new environment", flush=True)


def precompile_rows():
    print("# 7. `respdor precompile` in a new environment with an empty user cache (every kernel compiled), then "
          "the first and a second `respdor simulate` of the bundled spec there")
    print("| run | CPU s | wall s |\n|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        user_cache = Path(tmp) / "user-cache"
        py = fresh_venv(Path(tmp) / "venv")
        pre = venv_run(py, tmp, "pre", user_cache, ["precompile"])
        first = venv_run(py, tmp, "first", user_cache)
        warm = venv_run(py, tmp, "warm", user_cache)
        again = venv_run(py, tmp, "again", user_cache, ["precompile"])
    print(f"| `respdor precompile`, nothing cached | {pre[0]:.1f} | {pre[1]:.1f} |\n"
          f"| first `respdor simulate` after it | {first[0]:.1f} | {first[1]:.1f} |\n"
          f"| second `respdor simulate` (warm) | {warm[0]:.1f} | {warm[1]:.1f} |\n"
          f"| `respdor precompile` again (all cached) | {again[0]:.1f} | {again[1]:.1f} |")
    print(f"first run / warm after precompile: {first[0] / warm[0]:.2f} (CPU), {first[1] / warm[1]:.2f} (wall)")
    print("precompile's own lines:\n" + "".join(f"    {line}\n" for line in pre[2].splitlines()[1:-1]), end="",
          flush=True)


def warm_and_threads(repos, args):
    print(f"# 1. warm, one thread: 13C{{27Al}} CW, ZCW {args.powder} x {args.gamma}, 16 points; "
          f"SIMPSON {SIMPSON_CPU_S} s CPU")
    print("| code | CPU s | SIMPSON / this | last dS/S0 |")
    print("|---|---|---|---|")
    for label, repo in repos:
        r = warm_run(repo, args.powder, args.gamma, 1)
        assert r["spinsim"].startswith(str(repo)), (r["spinsim"], repo)  # the checkout meant, not another
        print(f"| {label} | {r['cpu']:.2f} | {SIMPSON_CPU_S / r['cpu']:.0f}x | {r['dss0_last']:.10f} |", flush=True)
    print("# 2. threads: the same case, ZCW 4181 x 32 (wall s; CPU s of all threads)")
    print("| code | 1 thread wall | 2 threads wall | speed-up | 1 thread CPU | 2 threads CPU |")
    print("|---|---|---|---|---|---|")
    for label, repo in repos:
        one = warm_run(repo, 4181, 32, 1)
        two = warm_run(repo, 4181, 32, 2)
        print(f"| {label} | {one['wall']:.2f} | {two['wall']:.2f} | {one['wall'] / two['wall']:.2f}x | "
              f"{one['cpu']:.2f} | {two['cpu']:.2f} |", flush=True)


def cold_rows(repos, spec="c13_al27_respdor.toml"):
    print(f"# 3. `respdor simulate data/{spec} --plot none`, default threads; cold = empty numba cache")
    print("| code | cold CPU s | warm CPU s | cold / warm CPU | cold wall s | warm wall s | cold / warm wall |")
    print("|---|---|---|---|---|---|---|")
    for label, repo in repos:
        with tempfile.TemporaryDirectory() as tmp:
            cache = str(Path(tmp) / "numba-cache")
            cold = cli_run(repo, cache, tmp, "cold", spec)
            warm = cli_run(repo, cache, tmp, "warm", spec)
        print(f"| {label} | {cold[0]:.1f} | {warm[0]:.1f} | {cold[0] / warm[0]:.2f} | {cold[1]:.1f} | "
              f"{warm[1]:.1f} | {cold[1] / warm[1]:.2f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
