"""Library builds on Dask: throughput on 1 and 2 workers, interpolation error vs grid density,
resume, and a fit that frees CQ on a synthetic curve simulated off the grid.

    python benchmarks/bench_library.py [--powder 144] [--gamma 16] [--quick]

Everything runs side by side in one process, so ratios are meaningful on a shared machine.
Prints markdown tables. Libraries are written to a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from respdor import library as lib  # noqa: E402

SPEC = ROOT / "data" / "c13_al27_respdor.toml"


def build(path, axes, couplings, powder, workers, t_max=3e-3, n_check=8):
    return lib.build_library(SPEC, path, axes, couplings, t_max_s=t_max, powder=powder, workers=workers,
                             n_check=n_check, overwrite=True, progress=False)


def throughput(tmp, powder):
    axes = [lib.parse_vary("cq=2:4MHz:4")]
    couplings = np.geomspace(300, 800, 4)
    rows = []
    for w in (1, 2):
        st = build(tmp / f"tp{w}.h5", axes, couplings, powder, w, n_check=0)
        rows.append((w, st["n_curves"], st["wall_s"], st["grid_s"], st["curves_per_s"]))
    print("\n| workers | curves | build wall (s) | grid wall (s) | curves/s |\n|---|---|---|---|---|")
    for w, n, wall, grid, cps in rows:
        print(f"| {w} | {n} | {wall:.1f} | {grid:.1f} | {cps:.2f} |")
    print(f"scaling 2 workers / 1 worker: {rows[1][4] / rows[0][4]:.2f}x (one task per curve; load average "
          f"{os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", flush=True)


def density(tmp, powder):
    print("\n| CQ values (1-5 MHz) | D values (250-1000 Hz) | max interp. error | rms |\n|---|---|---|---|")
    for n_cq, n_d in ((3, 5), (5, 5), (9, 5), (9, 9)):
        st = build(tmp / f"d{n_cq}_{n_d}.h5", [lib.parse_vary(f"cq=1:5MHz:{n_cq}")], np.geomspace(250, 1000, n_d),
                   powder, 2, n_check=10)
        e = st["interp_error"]
        print(f"| {n_cq} | {n_d} | {e['max']:.2e} | {e['rms']:.2e} |", flush=True)


def demo(tmp, powder, quick, noise=0.005, keep=None):
    path = (Path(keep) if keep else tmp) / "dcqnu1.h5"
    axes = [lib.parse_vary("cq=2:4MHz:5"), lib.parse_vary("nu1=20:40kHz:3" if quick else "nu1=20:40kHz:5")]
    couplings = np.geomspace(300, 800, 6)
    st = lib.build_library(SPEC, path, axes, couplings, t_max_s=3e-3, powder=powder, workers=2, n_check=8,
                           progress=False)  # resumed when --keep holds a finished file
    info = lib.library_info(path)
    cps = f"{st['curves_per_s']:.2f} curves/s" if st["curves_per_s"] else "resumed"
    print(f"\nD x CQ x nu1 library: {st['n_curves']} curves, {info['bytes'] / 1e6:.2f} MB, "
          f"built in {st['wall_s']:.1f} s ({cps}, 2 workers), interpolation error max {st['interp_error']['max']:.2e} "
          f"rms {st['interp_error']['rms']:.2e}")
    t0 = time.perf_counter()
    again = lib.build_library(SPEC, path, axes, couplings, t_max_s=3e-3, powder=powder, progress=False)
    print(f"same build again: {again['computed']} points computed, {again['skipped']} skipped, "
          f"{time.perf_counter() - t0:.2f} s")
    # synthetic curve off the grid in D, CQ and nu1; noise 0.005; fit frees CQ (nu1 fixed at its true value)
    cq, d, nu1, f = 3.3e6, 520.0, 30e3, 0.3
    import tomllib

    raw = tomllib.loads(SPEC.read_text())
    t = 2e-4 * np.arange(1, 16)
    y = f * lib.simulate_point(raw, {"cq": cq, "nu1": nu1}, [d], t, powder, threads=2)[0, 0]
    rng = np.random.default_rng(7)
    sig = noise
    yn = y + sig * rng.standard_normal(len(t))
    data = tmp / "syn.csv"
    data.write_text("t_ms,dSS0,sigma\n" + "".join(f"{1e3 * a:.3f},{b:.8f},{sig}\n" for a, b in zip(t, yn)))
    cmd = [sys.executable, "-m", "respdor", "fit", str(data), "--library", str(path), "--free", "cq",
           "--fix", "nu1=30kHz", "--no-files", "--no-plot", "--json", "-"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    wall = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(proc.stderr)
    res = json.loads(proc.stdout)
    p = res.get("parameters", res)
    print(f"noise {sig}: fit --library --free cq (with profile intervals): {wall:.1f} s wall")
    print("\n| parameter | true | fitted | stderr | 95 % interval | |fit - true| / stderr |\n|---|---|---|---|---|---|")
    for name, true in (("coupling_hz", d), ("cq", cq), ("fraction", f)):
        q = p[name]
        ci = q.get("ci95") or [None, None]
        print(f"| {name} | {true:g} | {q['value']:.5g} | {q['stderr']:.3g} | {ci} | "
              f"{abs(q['value'] - true) / q['stderr']:.2f} |")
    for n in res["notes"]:
        if "interpolation" in n:
            print("note:", n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--powder", type=int, default=144)
    ap.add_argument("--gamma", type=int, default=16)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=["throughput", "density", "demo"])
    ap.add_argument("--noise", type=float, nargs="+", default=[0.005], help="noise levels of the demo fit")
    ap.add_argument("--keep", metavar="DIR", help="keep (and resume) the demo library in DIR")
    args = ap.parse_args()
    powder = {"scheme": "zcw", "n": args.powder, "n_gamma": args.gamma}
    print(f"powder ZCW {args.powder} x {args.gamma}, spec {SPEC.name}, t_max 3 ms")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.only in (None, "throughput"):
            throughput(tmp, powder)
        if args.only in (None, "demo"):
            for noise in args.noise:
                demo(tmp, powder, args.quick, noise, args.keep)
        if args.only in (None, "density"):
            density(tmp, powder)


if __name__ == "__main__":
    main()
