"""The fast engine's work estimate against its CPU time (prints a table; not a test).

Run:  python benchmarks/bench_cost_model.py [--baseline OTHER_CHECKOUT]

The bundled 13C{27Al} spec (ZCW 4181 x 32, CW saturation) and the same spec with an ideal
saturation, each to 3 ms (16 times) and to 48 ms (241 times), warm, one thread: CPU seconds of
``spec.run()`` beside the time that :func:`spinsim.plausibility.work_counts` predicts. The slope
between the two lengths is the cost of one time point, which sets ``FAST_TIMES_PER_STEP`` and
``FAST_IDEAL_STEPS_PER_TIME``. With ``--baseline`` the same cases run first with another checkout
of respdor on the path (side by side in one run, each in a child process).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import os, sys, tempfile, time
from pathlib import Path
from spinsim.spec import load_spec
from spinsim.plausibility import UNITS_PER_CPU_SECOND
import spinsim
print(f"(spinsim from {Path(spinsim.__file__).parent})")
base = (Path(sys.argv[1]) / "data" / "c13_al27_respdor.toml").read_text()
cw = 'type = "cw"\nnu1_khz = 30.0\nlength_rotor_periods = 2'
ideal = base.replace(cw, 'type = "ideal"')
assert ideal != base
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "case.toml"
    for name, text in (("CW", base), ("ideal", ideal)):
        for t_max in ("3.0", "48.0"):
            path.write_text(text.replace("t_max_ms = 3.0", f"t_max_ms = {t_max}"))
            spec = load_spec(path)
            spec.run()  # compile or load the kernels
            c0 = time.process_time()
            result = spec.run()
            cpu = time.process_time() - c0
            model = spec.work_counts()["cost"] / UNITS_PER_CPU_SECOND
            print(f"| {name} | {t_max} ms | {len(result.t_s)} | {cpu:.2f} | {model:.2f} | {model / cpu:.2f} |", flush=True)
"""


def run(checkout):
    env = dict(os.environ, PYTHONPATH=str(checkout), NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1")
    print(f"## {checkout}")
    print("| saturation | t_max | times | CPU s | model s | model / CPU |")
    print("|---|---|---|---|---|---|", flush=True)
    # cwd: "python -c" puts the working directory ahead of PYTHONPATH on sys.path
    subprocess.run([sys.executable, "-c", CHILD, str(checkout)], env=env, check=True, cwd=checkout)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", help="another checkout of respdor, measured the same way first")
    args = ap.parse_args(argv)
    print(f"# {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    if args.baseline:
        run(Path(args.baseline).resolve())
    run(ROOT)
    print(f"# load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
