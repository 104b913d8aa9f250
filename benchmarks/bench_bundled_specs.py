"""Wall and CPU time of the bundled simulation specs (prints figures; not a test).

Run:  python benchmarks/bench_bundled_specs.py [SPEC ...]

Times ``spinsim.simulate_spec`` on ``data/*.toml`` (or the specs given), once warm-up to compile
or load the numba kernels, then a timed run, and prints the machine it ran on (cores, load
average, date) so a time quoted in the documentation can name its conditions, and beside each
CPU time the time that the work estimate (:func:`spinsim.plausibility.work_counts`) predicts. Quote the line
this prints, not a remembered number: on a shared machine the load average changes the wall time
several fold while the CPU time stays put.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"


def machine() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"{os.cpu_count()} cores, load average {load}, {platform.machine()}, Python {platform.python_version()}, {today}"


def time_spec(path: Path) -> tuple[float, float, int, float]:
    """(wall s, CPU s of this process, number of points, the cost model's CPU s) of one warm
    simulation of ``path``."""
    from spinsim.plausibility import UNITS_PER_CPU_SECOND
    from spinsim.spec import load_spec

    spec = load_spec(path)
    model = spec.work_counts()["cost"] / UNITS_PER_CPU_SECOND
    wall, cpu = time.perf_counter(), time.process_time()
    result = spec.run()
    return time.perf_counter() - wall, time.process_time() - cpu, len(result.t_s), model


def main(argv: list[str]) -> int:
    specs = [Path(a) for a in argv] or sorted(DATA.glob("*.toml"))
    print(f"machine: {machine()}")
    from spinsim.spec import load_spec

    load_spec(specs[0]).run()  # compile or load the kernels outside the timings
    for path in specs:
        wall, cpu, n, model = time_spec(path)
        print(f"{path.name:28s} {n:3d} points   wall {wall:6.1f} s   CPU {cpu:6.1f} s   "
              f"cost model {model:6.1f} s ({model / cpu:.2f} x the CPU)")
    print(f"machine after: {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
