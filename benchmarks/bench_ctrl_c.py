"""Ctrl-C at fixed times into long commands: exit 130, "interrupted", no traceback, no partial file.

Runs each command in a fresh working directory, sends SIGINT after t seconds and records the
exit status, the last stderr line, whether a traceback appeared and which files the directory
holds afterwards (it must hold none: outputs are written atomically at the end).

    PYTHONPATH=$PWD nice -n 10 python benchmarks/bench_ctrl_c.py            # 1 3 5 10 20 s
    PYTHONPATH=$PWD nice -n 10 python benchmarks/bench_ctrl_c.py 1 3        # chosen times
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "data" / "c13_al27_respdor.toml"
CURVE = ROOT / "data" / "respdor_13C27Al_synthetic.csv"

COMMANDS = {
    "simulate": ["simulate", str(SPEC)],
    "fit --simulate": ["fit", str(CURVE), "--simulate", str(SPEC)],
}


def run_once(argv, delay_s):
    with tempfile.TemporaryDirectory() as work:
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        t0 = time.perf_counter()
        # A background job inherits SIGINT ignored; give the child the default, as in a terminal.
        proc = subprocess.Popen([sys.executable, "-m", "respdor", *argv], cwd=work, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            proc.wait(timeout=delay_s)
            finished_before = True
        except subprocess.TimeoutExpired:
            finished_before = False
            proc.send_signal(signal.SIGINT)
        t_sig = time.perf_counter()
        out, err = proc.communicate(timeout=120)
        t_end = time.perf_counter()
        left = sorted(p.name for p in Path(work).rglob("*"))
    last = err.strip().splitlines()[-1] if err.strip() else ""
    return dict(rc=proc.returncode, finished_before=finished_before, traceback="Traceback" in err + out,
                last=last, files=left, react_s=t_end - t_sig, total_s=t_end - t0, err=err)


def main(times):
    print(f"{'command':<16} {'t (s)':>6} {'exit':>5} {'react (s)':>10} {'traceback':>9} {'files left':>10}  last stderr line")
    ok = True
    for name, argv in COMMANDS.items():
        for t in times:
            r = run_once(argv, t)
            good = (r["rc"] == 130 and not r["traceback"] and not r["files"]
                    and r["last"] == "respdor: interrupted") or r["finished_before"]
            ok &= good
            note = " (finished before the signal)" if r["finished_before"] else ""
            print(f"{name:<16} {t:6g} {r['rc']:5d} {r['react_s']:10.2f} {str(r['traceback']):>9} "
                  f"{len(r['files']):10d}  {r['last'][:60]}{note}{'' if good else '   <-- FAIL'}", flush=True)
            if not good:
                print("    stderr of the failed run:\n    " + "\n    ".join(r["err"].splitlines()[-30:]))
    print("all clean" if ok else "SOME RUNS NOT CLEAN")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main([float(a) for a in sys.argv[1:]] or [1, 3, 5, 10, 20]))
