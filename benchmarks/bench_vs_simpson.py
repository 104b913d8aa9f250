"""spinsim against SIMPSON, side by side in one run on one core (prints figures; not a test).

Run:  nice -n 10 python benchmarks/bench_vs_simpson.py [--simpson PATH] [--powder N] [--gamma N]

The experiment (issue 11): 13C{27Al} RESPDOR, D = 503 Hz, 27Al CQ = 3 MHz, eta_Q = 0.3 (EFG tilted
30 deg), MAS 10 kHz, 9.4 T, CW saturation 30 kHz for 2 rotor periods, 16 points to 3 ms, steps of
0.5 us, ZCW 987 x 16 crystallites by default; pulse placements mid-end and centred. SIMPSON runs the
input spinsim exports (``respdor simulate SPEC --export-simpson``) with the same crystallites.

For each placement it prints the CPU time of spinsim (cold: a fresh Python process running the
spec, start-up, imports and numba's cached or compiled kernels included; warm: a repeated call in
this process) and of SIMPSON (one thread,
``SIMPSON_NUM_CORES=1``), their ratio, and the largest difference in dS/S0. Without a ``simpson``
executable (on PATH or given with --simpson) it says so and exits 0.
"""

from __future__ import annotations

import os

# one core for both programs: set before numba and BLAS are loaded
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402


def spec(placement, n, n_gamma):
    """The spec of the benchmarked experiment (dict, spinsim units in the key names)."""
    return {
        "experiment": {"type": "respdor", "title": f"13C{{27Al}} CW, {placement}", "field_T": 9.4,
                       "mas_rate_hz": 10000, "t_max_ms": 3.0},
        "spins": [{"isotope": "13C"},
                  {"isotope": "27Al", "cq_mhz": 3.0, "eta_q": 0.3, "q_euler_deg": [0, 30, 0]}],
        "dipolar": [{"spins": [0, 1], "d_hz": 503.0}],
        "recoupling": {"scheme": "redor", "placement": placement},
        "saturation": {"type": "cw", "nu1_khz": 30, "length_rotor_periods": 2},
        "powder": {"scheme": "zcw", "n": n, "n_gamma": n_gamma},
        "simulation": {"max_dt_us": 0.5},
    }


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_simpson(exe, sp, workdir, name):
    """Export, run SIMPSON on one thread; (CPU s, dS/S0)."""
    from spinsim.simpson import simpson_curve, write_simpson

    path, _ = write_simpson(sp, Path(workdir) / f"{name}.in")
    env = {**os.environ, "SIMPSON_NUM_CORES": "1"}
    c0 = children_cpu()
    proc = subprocess.run([exe, path.name], cwd=workdir, env=env, capture_output=True, text=True)
    cpu = children_cpu() - c0
    if proc.returncode != 0:
        sys.exit(f"SIMPSON failed on {path}: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}")
    _, _, d = simpson_curve(Path(workdir) / f"{name}_S0.fid", Path(workdir) / f"{name}_S1.fid")
    return cpu, d


def run_spinsim(sp):
    """(CPU s, dS/S0) of one spinsim run in this process."""
    from spinsim.spec import simulate_spec

    c0 = time.process_time()
    r = simulate_spec(sp)
    return time.process_time() - c0, r.dSS0


def run_spinsim_cold(sp, workdir):
    """CPU s of a fresh Python process that runs the spec: start-up, imports, numba's cache or
    compilation, and the simulation (what a user waits for on the first run)."""
    import json

    path = Path(workdir) / "cold.json"
    path.write_text(json.dumps(sp))
    code = "import json, sys; from spinsim.spec import simulate_spec; simulate_spec(json.load(open(sys.argv[1])))"
    c0 = children_cpu()
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)
    return children_cpu() - c0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--simpson", help="the SIMPSON executable (default: simpson on PATH)")
    ap.add_argument("--powder", type=int, default=987, help="ZCW (alpha, beta) set size (default 987)")
    ap.add_argument("--gamma", type=int, default=16, help="gamma angles (default 16)")
    args = ap.parse_args(argv)
    exe = args.simpson or shutil.which("simpson")
    if not exe or not Path(exe).is_file():
        print("SIMPSON not found (put `simpson` on PATH or give --simpson PATH): nothing measured.")
        return 0
    load = os.getloadavg()
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.machine()}, "
          f"{os.cpu_count()} cores, load average {load[0]:.1f}; one thread per program; SIMPSON: {exe}")
    print(f"# 13C{{27Al}}, CQ 3 MHz, CW 30 kHz x 200 us, 16 points to 3 ms, ZCW {args.powder} x {args.gamma}")
    print("| placement | spinsim cold (CPU s) | spinsim warm (CPU s) | SIMPSON (CPU s) | "
          "SIMPSON / spinsim warm | SIMPSON / spinsim cold | max |d dS/S0| |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for placement in ("mid-end", "centred"):
            sp = spec(placement, args.powder, args.gamma)
            cold = run_spinsim_cold(sp, tmp)
            run_spinsim(sp)  # warm-up in this process
            warm, d_warm = run_spinsim(sp)
            cpu_s, d_s = run_simpson(exe, sp, tmp, placement.replace("-", ""))
            print(f"| {placement} | {cold:.1f} | {warm:.1f} | {cpu_s:.1f} | {cpu_s / warm:.0f}x | "
                  f"{cpu_s / cold:.0f}x | {np.max(np.abs(d_s - d_warm)):.1e} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
