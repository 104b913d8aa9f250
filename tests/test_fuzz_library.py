"""Ordinary situations of `respdor library build`: every rf saturation type, an unreachable
scheduler, and Ctrl-C in a real terminal-like process group.

Each case checks the exit status, one line on stderr naming the option and value, no traceback,
the spec byte-identical, and no library file (nor work file) where nothing was finished. Only
loopback addresses are used (127.0.0.1 and a port nobody listens on).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("h5py")
pytest.importorskip("distributed")

from respdor import library as lib  # noqa: E402
from respdor.cli import main  # noqa: E402
from respdor.errors import UserError  # noqa: E402
from spinsim.spec import RF_SATURATION_TYPES, SATURATION_TYPES, load_spec  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

RAW = {
    "experiment": {"type": "respdor", "field_T": 9.4, "mas_rate_hz": 10000, "t_max_ms": 0.8},
    "spins": [{"isotope": "13C"}, {"isotope": "27Al", "cq_mhz": 3.0, "eta_q": 0.3}],
    "dipolar": [{"spins": [0, 1], "d_hz": 500.0}],
    "saturation": {"type": "cw", "nu1_khz": 30, "length_rotor_periods": 2},
    "powder": {"n": 5, "n_gamma": 2},
}

#: Extra keys each rf saturation type needs besides nu1 and length (spinsim/spec.py).
_EXTRA = {"cw": {}, "pm": {"offset_khz": 200, "modulation_khz": 50},
          "dfs": {"start_khz": 400, "end_khz": 100}, "wurst": {"sweep_khz": 300}}


def _with_saturation(kind):
    raw = json.loads(json.dumps(RAW))
    raw["saturation"] = {"type": kind, "nu1_khz": 30, "length_us": 100, **_EXTRA.get(kind, {})}
    return raw


@pytest.mark.parametrize("kind", RF_SATURATION_TYPES)
def test_every_rf_saturation_of_the_spec_parser_can_be_tabulated(kind):
    """The library takes the rf saturation types from spinsim's parser: a new scheme needs no copy."""
    raw = _with_saturation(kind)
    out = lib.spec_with(raw, {"nu1": 45e3, "length": 150e-6})
    assert out["saturation"]["nu1_khz"] == pytest.approx(45.0)
    assert out["saturation"]["length_us"] == pytest.approx(150.0)
    sat = load_spec(out).saturation  # the parser builds the pulse with the new amplitude and length

    def peak(block):  # DFS reaches twice nu1 (two sidebands): compare with the spec's own pulse
        return max(amp for ev in block.events for amp, _ in ev.rf.values())

    assert peak(sat) / peak(load_spec(lib.spec_with(raw, {"length": 150e-6})).saturation) == pytest.approx(1.5)
    assert sat.duration == pytest.approx(150e-6, rel=1e-6)
    assert raw["saturation"]["nu1_khz"] == 30  # the spec itself is untouched


def test_pm_saturation_amplitude_reaches_the_simulation():
    """nu1 of a PM pulse changes the simulated curve (the varied value is used, not ignored)."""
    raw = _with_saturation("pm")
    t = np.array([0.0, 4e-4, 8e-4])
    pw = {"scheme": "zcw", "n": 5, "n_gamma": 2}
    weak = lib.simulate_point(raw, {"nu1": 5e3}, [500.0], t, pw)[0, 0]
    strong = lib.simulate_point(raw, {"nu1": 60e3}, [500.0], t, pw)[0, 0]
    assert np.all(np.isfinite(weak)) and np.all(np.isfinite(strong))
    assert strong[-1] > 10 * weak[-1] > 0  # 60 kHz saturates far more of the 27Al than 5 kHz


@pytest.mark.parametrize("kind", [k for k in SATURATION_TYPES if k not in RF_SATURATION_TYPES and k != "none"])
def test_non_rf_saturation_is_refused_naming_the_rf_types(kind):
    raw = json.loads(json.dumps(RAW))
    raw["saturation"] = {"type": kind}
    with pytest.raises(UserError, match="vary nu1") as err:  # the command says --vary (test_jobs_simulate)
        lib.spec_with(raw, {"nu1": 40e3})
    assert all(k in str(err.value) for k in RF_SATURATION_TYPES)


def test_saturation_without_type_is_cw_as_the_parser_reads_it():
    raw = json.loads(json.dumps(RAW))
    del raw["saturation"]["type"]
    assert lib.spec_with(raw, {"nu1": 40e3})["saturation"]["nu1_khz"] == pytest.approx(40.0)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def quick_connect():
    """Dask's connect timeout shortened (a refused loopback port fails at once anyway)."""
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        yield


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:{port}", "127.0.0.1:{port}", "tcp://127.0.0.1:notaport"])
@pytest.mark.parametrize("kind", ["cw", "pm"])
def test_unreachable_scheduler_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, quick_connect, address, kind):
    address = address.format(port=_free_port())
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(_with_saturation(kind)))
    before = spec.read_bytes()
    out = tmp_path / "lib.h5"
    status = main(["library", "build", str(spec), "-o", str(out), "--vary", "nu1=20:40kHz:2",
                   "--couplings", "300:800:4", "--scheduler", address])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(err) == 1 and "--scheduler" in err[0] and address in err[0], err
    assert "Traceback" not in "\n".join(err) and "internal error" not in err[0]
    assert not out.exists() and not (tmp_path / "lib.h5.partial").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]
    assert spec.read_bytes() == before


def _read_into(stream, buf):
    for chunk in iter(lambda: stream.read1(4096), b""):
        buf.extend(chunk)


def test_ctrl_c_during_a_build_exits_130_with_one_line_and_keeps_the_work(tmp_path):
    """SIGINT to the whole process group (as a terminal's Ctrl-C) once the first point's curves are done.

    No clock decides anything: the test waits for the progress line, then interrupts; the long
    guards only stop a hung run.
    """
    raw = json.loads(json.dumps(RAW))
    raw["powder"] = {"n": 21, "n_gamma": 4}
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(raw))
    before = spec.read_bytes()
    out = tmp_path / "lib.h5"
    env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "respdor", "library", "build", str(spec), "-o", str(out), "--workers", "1",
           "--vary", "cq=1:6MHz:600", "--couplings", "300:800:4", "--checks", "0"]  # minutes of work: the
    # interrupt lands while points remain however slowly this test reacts on a loaded machine
    # A test run in a background job inherits SIGINT ignored, and Python keeps an inherited "ignore":
    # give the build the terminal's default, as a user's shell does.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    err, outb = bytearray(), bytearray()
    readers = [threading.Thread(target=_read_into, args=(proc.stderr, err), daemon=True),
               threading.Thread(target=_read_into, args=(proc.stdout, outb), daemon=True)]
    for r in readers:
        r.start()
    try:
        guard = time.monotonic() + 900  # hang guard only
        while b"library: 4/" not in err:  # 4 curves (couplings) of a point: with one worker, the first point
            assert proc.poll() is None, f"build ended before any progress: {bytes(err)!r}"
            assert time.monotonic() < guard, "no progress line (hang guard)"
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)
        status = proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    for r in readers:
        r.join(timeout=60)
    text = bytes(err).decode()
    lines = [ln for ln in text.replace("\r", "\n").splitlines() if ln.strip() and not ln.startswith("library: ")]
    assert status == 130, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    assert len(lines) == 1 and lines[0].startswith("respdor: interrupted"), lines
    assert "lib.h5.partial" in lines[0] and "resume" in lines[0]
    assert not out.exists()  # never half-written
    info = lib.library_info(tmp_path / "lib.h5.partial")
    assert not info["complete"] and 1 <= info["points_done"] < 600
    assert spec.read_bytes() == before
    guard = time.monotonic() + 300  # the workers end with the build (hang guard only)
    while True:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < guard, "worker processes outlived the interrupted build"
        time.sleep(0.5)


@pytest.mark.parametrize("which", ["lib.h5", "lib.h5.partial"])
def test_a_foreign_file_in_the_way_is_named_and_left_alone(tmp_path, capsys, which):
    """A file that is not a library where the library or its work file goes: refused before any work."""
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(RAW))
    foreign = tmp_path / which
    foreign.write_bytes(b"t_ms,dSS0\n0.2,0.1\n")
    before = foreign.read_bytes()
    status = main(["library", "build", str(spec), "-o", str(tmp_path / "lib.h5"), "--vary", "cq=2:4MHz:2",
                   "--couplings", "300:800:4", "--scheduler", f"tcp://127.0.0.1:{_free_port()}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and str(foreign) in err[0] and "--overwrite" in err[0], err
    assert foreign.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["s.json", which])
