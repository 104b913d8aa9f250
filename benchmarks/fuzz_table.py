"""Print the fuzz table of tests/test_fuzz_cli.py: case, exit status, the one stderr line.

    PYTHONPATH=$PWD python benchmarks/fuzz_table.py            # markdown table on stdout
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_cases():
    spec = importlib.util.spec_from_file_location("fuzz_cli", ROOT / "tests" / "test_fuzz_cli.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    from respdor.cli import main as respdor_main

    mod = _load_cases()
    with tempfile.TemporaryDirectory() as tmp:
        ws = mod.make_workspace(Path(tmp))
        os.chdir(ws / "out")
        print("| case | exit | expected | traceback | inputs intact | message (stderr, last line) |")
        print("|---|---|---|---|---|---|")
        t0 = time.perf_counter()
        bad = 0
        for name, argv, status, *_ in mod.CASES:
            before = mod._hashes(ws / "in")
            err, out = io.StringIO(), io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                try:
                    rc = respdor_main(mod._expand(argv, ws))
                except SystemExit as exc:
                    rc = exc.code
            text = err.getvalue()
            intact = mod._hashes(ws / "in") == before
            tb = "Traceback" in text + out.getvalue()
            bad += rc != status or tb or not intact
            last = text.strip().splitlines()[-1] if text.strip() else ""
            last = last.replace(str(ws), "WS")
            print(f"| {name} | {rc} | {status} | {'yes' if tb else 'no'} | {'yes' if intact else 'NO'} | "
                  f"{last[:150]} |")
        print(f"\n{len(mod.CASES)} cases, {bad} not as expected, {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
