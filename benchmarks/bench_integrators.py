"""Accuracy against steps of the two integrators of the central block (prints a table; not a test).

    python benchmarks/bench_integrators.py [--powder 233] [--gamma 32]

The bundled ``data/c13_al27_respdor.toml`` (13C{27Al}, CQ 3 MHz, CW 30 kHz x 200 us, 16 points to
3 ms) on a smaller powder, with ``integrator = "piecewise"`` and ``"magnus4"`` at several
``max_dt``; each curve is compared with 0.02 us Magnus steps (the largest change of dS/S0). The
step error is per crystallite and smooth over the powder, so a small powder measures it.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spinsim.spec import simulate_spec  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--powder", type=int, default=233)
    ap.add_argument("--gamma", type=int, default=32)
    args = ap.parse_args(argv)
    spec = tomllib.loads((ROOT / "data" / "c13_al27_respdor.toml").read_text())
    spec["powder"] = {"scheme": "zcw", "n": args.powder, "n_gamma": args.gamma}

    def run(max_dt_us, integrator):
        sp = copy.deepcopy(spec)
        sp["simulation"].update(max_dt_us=max_dt_us, integrator=integrator)
        c0 = time.process_time()
        r = simulate_spec(sp)
        return np.asarray(r.dSS0), time.process_time() - c0, r.info

    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average {os.getloadavg()[0]:.1f}; "
          f"ZCW {args.powder} x {args.gamma}")
    truth = run(0.02, "magnus4")[0]
    print("| integrator | max_dt | step | steps in the block | max error of dS/S0 | CPU s |\n|---|---|---|---|---|---|")
    for integrator, steps in (("piecewise", (0.25, 0.5, 1.0)), ("magnus4", (0.5, 1.0, 1.05, 1.6))):
        for max_dt in steps:
            y, cpu, info = run(max_dt, integrator)
            print(f"| {integrator} | {max_dt:g} us | {info['block_dt_s'] * 1e6:.2f} us | {info['block_steps']} | "
                  f"{np.max(np.abs(y - truth)):.1e} | {cpu:.2f} |")


if __name__ == "__main__":
    main()
