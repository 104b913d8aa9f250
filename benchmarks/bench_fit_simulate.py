"""Cold and warm ``respdor fit --simulate`` of the bundled example, side by side in one run.

    python benchmarks/bench_fit_simulate.py [--spec data/c13_al27_respdor.toml] [--reference-powder 6765]

Runs the CLI twice in subprocesses with a fresh table cache (RESPDOR_CACHE_DIR in a temporary
directory): cold (every node simulated) and warm (all from the cache). Prints wall and CPU times,
their ratio, the fitted D and f, the check the fit made against a direct simulation at the fitted D
(same powder), and, with --reference-powder, the deviation of the fitted curve from a direct
simulation with a larger ZCW powder (the converged curve). It also times one direct simulation, so
that the old route (40 couplings, each a full simulation) can be put in proportion on a loaded
machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def run_fit(data, spec, cache, outdir):
    env = dict(os.environ, RESPDOR_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "respdor", "fit", str(data), "--simulate", str(spec), "--no-plot",
           "--output-dir", str(outdir), "--json", str(outdir / "fit.json")]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        sys.exit(f"fit failed:\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads((outdir / "fit.json").read_text())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default=str(ROOT / "data" / "c13_al27_respdor.toml"))
    ap.add_argument("--data", default=str(ROOT / "data" / "respdor_13C27Al_synthetic.csv"))
    ap.add_argument("--reference-powder", type=int, default=0, help="ZCW size of the converged check (0: skip)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cache = tmp / "cache"
        rows = []
        for label in ("cold", "warm"):
            wall, cpu, res = run_fit(args.data, args.spec, cache, tmp)
            rows.append((label, wall, cpu, res))
            print(f"{label}: wall {wall:.1f} s, CPU {cpu:.1f} s", flush=True)
        (_, wc, cc, res), (_, ww, cw, _) = rows
        print(f"cold/warm: wall ratio {wc / ww:.1f}, CPU ratio {cc / cw:.1f}")
        p = res.get("parameters", res)
        d, f = p["coupling_hz"]["value"], p["fraction"]["value"]
        print(f"fitted D = {d:.2f} Hz, f = {f:.4f}")
        for note in res.get("notes", []) + res.get("warnings", []):
            if "simulated shape" in note or "convergence check" in note or note.startswith("  "):
                print("  " + note)
        from spinsim.spec import load_spec

        from respdor.io import read_curve

        sp = load_spec(args.spec)
        curve = read_curve(args.data)
        grid = 2e-4 * np.arange(int(round(curve.time_s.max() / 2e-4)) + 1)
        sp.run(coupling_hz=d, times_s=grid[:4])  # load the compiled kernels before timing
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        direct = sp.run(coupling_hz=d, times_s=grid)
        one = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        one_cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        print(f"one direct simulation at the spec's powder ({len(grid)} times): {one:.1f} s wall, {one_cpu:.1f} s CPU "
              f"-> old route (40 such simulations, no cache) ~ {40 * one:.0f} s wall / {40 * one_cpu:.0f} s CPU: "
              f"{40 * one / wc:.1f}x the cold fit's wall time, {40 * one_cpu / cc:.1f}x its CPU time")
        if args.reference_powder:
            import spinsim

            sp.powder = spinsim.make_powder("zcw", args.reference_powder, 32)
            t0 = time.perf_counter()
            ref = sp.run(coupling_hz=d, times_s=grid)
            print(f"reference ZCW {args.reference_powder} x 32 ({time.perf_counter() - t0:.0f} s): "
                  f"max |f (dS/S0_spec powder - dS/S0_ref)| = {f * np.max(np.abs(direct.dSS0 - ref.dSS0)):.2e}")


if __name__ == "__main__":
    main()
