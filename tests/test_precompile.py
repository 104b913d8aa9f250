"""`respdor precompile`: every kernel the engines call is compiled ahead, and then real runs compile nothing.

The check runs in a child process with the suite's kernel cache: where the kernels are cached
already (other tests compiled them) it costs seconds; where not, it compiles what the rest of the
suite would compile anyway."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numba")

ROOT = Path(__file__).resolve().parents[1]

# In a child: precompile, then the kernels the engines call from Python must all be compiled, and
# the bundled examples, a coupled system of another size and the multi-partner model with three
# partners must compile (or load) nothing more.
CHILD = r"""
import importlib, json, re, sys
from pathlib import Path
import numpy as np
import respdor
from numba.core import event

result = respdor.precompile()
root = Path(sys.argv[1])
entry = []
for driver in sorted((root / "spinsim").glob("_drivers_*.py")):
    text = driver.read_text()
    alias = {a: m for m, a in re.findall(r"from \. import (\w+) as (\w+)", text)}
    for a, name in re.findall(r"\b(\w+)\.(\w+)\(", text):
        if a in alias:
            entry.append(("spinsim." + alias[a], name))
mp = (root / "respdor" / "multipartner.py").read_text()
names = re.search(r"from \._partners_kernel import ([\w, ]+)", mp).group(1)
entry += [("respdor._partners_kernel", n) for n in names.split(", ")]
from numba.core.dispatcher import Dispatcher
entry = [(m, n) for m, n in entry if isinstance(getattr(importlib.import_module(m), n), Dispatcher)]
uncompiled = sorted({f"{m}.{n}" for m, n in entry if not getattr(importlib.import_module(m), n).signatures})

compiled = []
class Count(event.Listener):
    def on_start(self, e):
        compiled.append(e.data["dispatcher"].py_func.__qualname__)
    def on_end(self, e):
        pass
event.register("numba:compile", Count())

import spinsim
from spinsim.spec import load_spec, simulate_spec
for name in ("c13_al27_respdor.toml", "cd111_al27_sr4.toml", "cd111_al27_adiabatic_sr4.toml"):
    sp = load_spec(root / "data" / name)
    sp.powder = spinsim.zcw(2, 4)
    simulate_spec(sp)
al = dict(isotope="27Al", cq_hz=2e6)
system = spinsim.SpinSystem.from_coordinates([spinsim.Spin("31P"), spinsim.Spin(**al), spinsim.Spin(**al)],
                                             [[0, 0, 0], [0, 0, 3.1], [2.9, 0, 0]], 14.1, homonuclear=True)
spinsim.simulate_respdor(system, 12.5e3, [0.0, 3.2e-4], spinsim.cw_pulse("27Al", 40e3, 1.6e-4),
                         powder=spinsim.zcw(1, 2), method="coupled", integrator="magnus4")
from respdor.models import transfer_matrix, transfer_weights
from respdor.multipartner import partners_dephasing, vector_geometry
g, w = vector_geometry([[0, 0, 1], [1, 0, 0], [0, 1, 1]], spinsim.zcw(3, 2))
partners_dephasing([0.0, 1e-3, 3e-3], [400.0, 300.0, 200.0], g, w, transfer_weights(transfer_matrix(1.5, "saturation")))
print(json.dumps({"entry": sorted({f"{m}.{n}" for m, n in entry}), "uncompiled": uncompiled,
                  "compiled_after": compiled, "rows": result.rows}))
"""


@pytest.fixture(scope="module")
def after_precompile():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT)], env=env, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_every_kernel_the_engines_call_is_compiled(after_precompile):
    # the drivers' kernels, found in their source: a new kernel that precompile does not reach fails here
    assert {"spinsim._kernels.respdor_fast_shared", "spinsim._kernels.respdor_fast_steps",
            "spinsim._kernels.ideal_partner_factors", "spinsim._gamma_kernels.unitary_signals",
            "spinsim._gamma_kernels.shared_gamma_propagators", "spinsim._kernels.propagate_segments",
            "spinsim._kernels.general_signal", "spinsim._kernels.general_signal_periods",
            "spinsim._coupled.coupled_signals", "respdor._partners_kernel.product_dephasing",
            "respdor._partners_kernel.product_dephasing_steps"} <= set(after_precompile["entry"])
    assert after_precompile["uncompiled"] == []
    assert [r["target"] for r in after_precompile["rows"]] == ["fast", "general", "coupled", "partners"]


@pytest.mark.slow
def test_after_precompile_real_runs_compile_nothing(after_precompile):
    assert after_precompile["compiled_after"] == []


def test_precompile_command_lines(tmp_path):
    out = subprocess.run([sys.executable, "-m", "respdor", "precompile", "--only", "partners"], capture_output=True,
                         text=True, cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert re.match(r"respdor precompile: multi-partner model: up to about \d+ CPU s where nothing is compiled",
                    lines[0])
    assert re.match(r"  multi-partner model \.\.\. (\d+ kernel files compiled|cached already)", lines[1])
    assert lines[-1].startswith("kernels cached in ")
    assert lines[-1].endswith("later runs on this machine start without compiling")
    assert list(tmp_path.iterdir()) == []  # writes nothing where it runs
    bad = subprocess.run([sys.executable, "-m", "respdor", "precompile", "--only", "simpson"], capture_output=True,
                         text=True, cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "invalid choice: 'simpson'" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_precompile_result_and_targets():
    from respdor.errors import UserError
    from respdor.jobs.precompile import PrecompileResult, estimated_seconds, precompile

    with pytest.raises(UserError, match="nothing called 'simpson' to precompile"):
        precompile(["fast", "simpson"])
    with pytest.raises(UserError, match="nothing to precompile"):
        precompile([])
    assert estimated_seconds() == pytest.approx(estimated_seconds(["fast", "general", "coupled"])
                                                + estimated_seconds(["partners"]))
    res = PrecompileResult(rows=[{"target": "fast", "cpu_s": 9.5, "wall_s": 9.6, "compiled": 12}], cache="/c")
    assert repr(res) == "<PrecompileResult fast: 12 kernel files compiled in 9.5 CPU s, cached in /c>"
    again = PrecompileResult.from_json(res.to_json())
    assert again.rows == res.rows and again.cache == "/c"
    cached = PrecompileResult(rows=[{"target": "fast", "cpu_s": 0.3, "wall_s": 0.3, "compiled": 0}], cache="/c")
    assert "all kernels were cached" in repr(cached)
    with pytest.raises(UserError, match="not the JSON of a precompile run"):
        PrecompileResult.from_dict({"rows": []})


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child needs POSIX")
def test_ctrl_c_during_compilation_then_precompile_again(tmp_path):
    """SIGINT while the kernels compile: exit 130, one line, no traceback; the cache it leaves works."""
    import signal
    import time

    cache = tmp_path / "numba-cache"
    env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_CACHE_DIR=str(cache), OPENBLAS_NUM_THREADS="1")
    env.pop("RESPDOR_DEBUG", None)
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "respdor", "precompile", "--only", "fast"], cwd=work, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # a handshake on the file system, not a clock: the first compiled kernel is in the cache, the
    # others are being compiled (the hang guard only stops a child that never gets there)
    give_up = time.monotonic() + 30 * 60
    while not list(cache.rglob("*.nbc")):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < give_up, "hang guard: no kernel compiled in 30 min"
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30 * 60)
    assert proc.returncode == 130, err.decode()
    assert "Traceback" not in err.decode() + out.decode()
    assert err.decode().strip().splitlines()[-1] == "respdor: interrupted"
    assert list(work.iterdir()) == []
    again = subprocess.run([sys.executable, "-m", "respdor", "precompile", "--only", "fast"], cwd=work, env=env,
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert re.search(r"fast engine \.\.\. \d+ kernel files compiled", again.stdout)  # what was left, compiled
    done = subprocess.run([sys.executable, "-m", "respdor", "precompile", "--only", "fast"], cwd=work, env=env,
                          capture_output=True, text=True)
    assert "fast engine ... cached already" in done.stdout, done.stdout + done.stderr


def test_compilation_notice_once_per_engine_and_only_when_compiling(monkeypatch):
    from numba import njit

    import spinsim.compilation as P
    from spinsim.progress import Progress

    monkeypatch.setattr(P, "_NOTED", set())

    class Notes(Progress):
        def __init__(self):
            self.lines = []

        def note(self, text):
            self.lines.append(text)

    compiled_before = njit(lambda x: x - 1)
    compiled_before(1)
    quiet = Notes()
    with P.compilation_notice(quiet, "general"):
        compiled_before(2)  # already compiled: no compiler pass runs, nothing to say
    assert quiet.lines == []
    outer, inner = Notes(), Notes()
    with P.compilation_notice(outer, "fast"):
        with P.compilation_notice(inner, "fast"):  # the engine's own notice inside the job's
            njit(lambda x: x + 1)(1)
            njit(lambda x: x + 2)(1)
    assert len(outer.lines) == 1 and inner.lines == []  # the outermost run's progress, once
    assert outer.lines[0].startswith("compiling the fast engine's kernels for this machine (once per machine")
    assert "`respdor precompile` compiles every engine ahead" in outer.lines[0]
    again = Notes()
    with P.compilation_notice(again, "fast"):
        njit(lambda x: x + 3)(1)
    assert again.lines == []  # said once per engine and process
    other = Notes()
    with P.compilation_notice(other, "coupled"):
        njit(lambda x: x * 3)(1)
    assert len(other.lines) == 1 and "coupled engine" in other.lines[0]
    outside = njit(lambda x: x * 5)
    outside(1)  # no run in progress: nobody to tell, nothing raised
    assert len(other.lines) == 1
