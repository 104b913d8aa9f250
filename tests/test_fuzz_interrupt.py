"""Ctrl-C (a real SIGINT to a real process): exit 130, "respdor: interrupted", no traceback, no file.

Two moments: during start-up (imports) and inside the simulation's chunk loop (numba kernels),
where a SIGINT used to surface as a numba ``SystemError``. The wider timing table (1-20 s into
``simulate`` and ``fit --simulate``) is ``benchmarks/bench_ctrl_c.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Large enough to be still running when the signal comes, small enough to compile nothing new.
SPEC = """\
[experiment]
type = "respdor"
field_T = 9.4
mas_rate_hz = 10000
t_max_ms = 3.0

[[spins]]
isotope = "13C"

[[spins]]
isotope = "27Al"
cq_mhz = 3.0
eta_q = 0.3

[[dipolar]]
spins = [0, 1]
d_hz = 503.0

[recoupling]
scheme = "redor"

[saturation]
type = "cw"
nu1_khz = 30.0
length_rotor_periods = 2

[powder]
scheme = "zcw"
n = 6765
n_gamma = 32
"""

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child needs POSIX")

#: Only turns a real hang into a failure; never a judgement of speed. The moments the tests wait
#: for (numpy loaded, first progress line) are awaited by what the child does, however long the
#: first, compiling run takes on a busy machine.
HANG_GUARD_S = 30 * 60


def _start(tmp_path, *argv):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("RESPDOR_DEBUG", None)
    # A test run in a background job inherits SIGINT ignored; give the child the terminal default.
    proc = subprocess.Popen([sys.executable, "-m", "respdor", *argv], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    err = bytearray()
    seen = threading.Condition()

    def pump():
        while chunk := proc.stderr.read1(4096):
            with seen:
                err.extend(chunk)
                seen.notify_all()
        with seen:  # end of stream: wake the waiter, which then sees the child has ended
            reader.eof = True
            seen.notify_all()

    reader = threading.Thread(target=pump, daemon=True)
    reader.eof = False
    reader.seen = seen
    reader.start()
    return proc, err, reader


def _wait_for_stderr(proc, err, reader, marker: bytes):
    """Block until the child writes ``marker`` on stderr (a handshake, no clock); fail if it exits first."""
    with reader.seen:
        ok = reader.seen.wait_for(lambda: marker in err or reader.eof, timeout=HANG_GUARD_S)
    if not (ok and marker in err) and proc.poll() is None:
        proc.kill()  # a failed handshake must not leave the child running
        proc.wait()
    assert ok, f"hang guard: no {marker!r} from the child in {HANG_GUARD_S} s"
    assert marker in err, f"the child ended before {marker!r}: {err.decode()}"


def _finish(proc, err, reader, tmp_path, before):
    out = proc.stdout.read().decode()  # returns at the child's exit, however long that takes
    proc.wait(timeout=HANG_GUARD_S)
    reader.join(timeout=HANG_GUARD_S)
    text = err.decode()
    assert proc.returncode == 130, text
    assert "Traceback" not in text + out and "SystemError" not in text
    assert text.strip().splitlines()[-1] == "respdor: interrupted"
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "a file was left behind"
    return text


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc to see the imports")
def test_ctrl_c_during_start_up(tmp_path):
    # The signal goes in while numpy's extension is being loaded, i.e. during the imports that
    # respdor.cli.main makes: the interpreter's own start-up (site, runpy) before any respdor code
    # runs is Python's window, not ours, and may last over a second on a loaded machine.
    (tmp_path / "spec.toml").write_text(SPEC)
    proc, err, reader = _start(tmp_path, "simulate", "spec.toml")
    maps = Path(f"/proc/{proc.pid}/maps")
    # Polled, not timed: the check repeats until the child has numpy loaded, however long it takes
    # (the hang guard only stops a child that never gets there).
    give_up = time.monotonic() + HANG_GUARD_S
    while "_multiarray_umath" not in maps.read_text():
        assert proc.poll() is None, err.decode()
        assert time.monotonic() < give_up, f"hang guard: numpy not loaded in {HANG_GUARD_S} s"
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    _finish(proc, err, reader, tmp_path, ["spec.toml"])


def test_ctrl_c_inside_the_numba_chunk_loop(tmp_path):
    (tmp_path / "spec.toml").write_text(SPEC)
    proc, err, reader = _start(tmp_path, "simulate", "spec.toml", "--progress")
    _wait_for_stderr(proc, err, reader, b"crystallites")  # the progress bar: the kernels are running
    proc.send_signal(signal.SIGINT)
    assert "crystallites" in _finish(proc, err, reader, tmp_path, ["spec.toml"])  # interrupted mid-loop
