"""Run every documented command, the long ones included, and print the CPU and wall time of each.

The test suite (tests/test_docs_run.py) runs the documented commands that take seconds; the lines
marked ``# long:`` on their page are run here. Commands marked ``# needs ...`` (a cluster's
scheduler) are listed and not run. The commands of a page run in order in one scratch folder with
the repository's ``data/`` reachable as ``data/``, as in a clone.

Run:  python benchmarks/bench_docs_commands.py [PAGE.md ...]     (default: every page)
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_docs_commands import documentation_files  # noqa: E402
from test_docs_run import page_commands  # noqa: E402


def run_page(page: Path, main) -> list[tuple]:
    rows = []
    scratch = Path(tempfile.mkdtemp(prefix="respdor-docs-"))
    os.symlink(ROOT / "data", scratch / "data")
    here = os.getcwd()
    os.chdir(scratch)
    try:
        for number, argv, marker in page_commands(page):
            where = f"{page.relative_to(ROOT)}:{number}"
            if marker == "needs":
                rows.append((where, None, 0.0, 0.0, marker, argv))
                continue
            cpu0, wall0 = time.process_time(), time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                status = main(list(argv))
            rows.append((where, status, time.process_time() - cpu0, time.perf_counter() - wall0, marker, argv))
            print(f"{where:<34} exit {status}  cpu {rows[-1][2]:7.1f} s  wall {rows[-1][3]:7.1f} s  {marker or '':6} "
                  f"respdor {shlex.join(argv)[:80]}", flush=True)
    finally:
        os.chdir(here)
    return rows


def _expected(marker: str) -> int:
    return int(marker.split()[1]) if marker.startswith("exit") else 0


def main():
    from respdor.cli import main as respdor_main

    pages = [Path(p).resolve() for p in sys.argv[1:]] or documentation_files()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; numba cache as it is")
    rows = [r for page in pages for r in run_page(page, respdor_main)]
    ran = [r for r in rows if r[1] is not None]
    long = [r for r in ran if r[4] == "long:"]
    print(f"\n{len(ran)} commands run ({sum(r[2] for r in ran):.0f} CPU s), {len(long)} of them marked long "
          f"({sum(r[2] for r in long):.0f} CPU s); {len(rows) - len(ran)} not run (need a scheduler); "
          f"{sum(1 for r in ran if r[1] != _expected(r[4]))} exited otherwise than the page says")


if __name__ == "__main__":
    main()
