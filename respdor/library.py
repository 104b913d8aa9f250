"""Libraries of simulated dephasing curves over D and chosen spec parameters, built on Dask.

A library tabulates dS/S0, S0 and S1 of a spinsim spec over the dipolar coupling D and any of
the parameters in :data:`PARAMETERS` (CQ, eta_Q, rf amplitude and length of the saturation
pulse) into one HDF5 file that describes itself: the spec, the axes and their units, the powder,
the engine version, which points are done, and the interpolation error measured at off-grid
points. One task is one parameter point (all D and all times), written as one HDF5 chunk.

The build runs on Dask (``distributed``): a local cluster of worker processes by default, or a
running cluster at ``scheduler`` (same code). Only the client writes, after each task, into the
work file ``<library>.partial``, which it flushes; the library file itself appears, renamed whole,
when the build is complete. A second run with the same request skips the points already done
(resume); Ctrl-C cancels the tasks and keeps the work file; an unreachable scheduler is refused
before anything is written. ``dask[distributed]`` and ``h5py`` are the optional extra
``respdor[library]``; :class:`LibraryShape` (fitting with a library) needs ``h5py`` only.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.interpolate import CubicSpline
from spinsim.progress import tracking

from .errors import UserError
from .files import partial_path, resumable_output

__all__ = ["PARAMETERS", "Axis", "parse_vary", "vary_text", "format_value", "rebuild_command", "spec_with",
           "simulate_point", "build_library", "LibraryShape", "FORMAT"]

FORMAT = "respdor-library"
FORMAT_VERSION = 1

#: Tabulable spec parameters: name -> (SI unit, unit kind for parsing, what it sets in the spec).
PARAMETERS = {
    "cq": ("Hz", "frequency", "CQ of the coupled partner (spins[k].cq_hz)"),
    "eta_q": ("", "number", "eta_Q of the coupled partner (spins[k].eta_q)"),
    "nu1": ("Hz", "frequency", "rf amplitude of the saturation pulse ([saturation] nu1_khz)"),
    "length": ("s", "time", "length of the saturation pulse ([saturation] length_us)"),
}


def _require(module, what):
    try:
        return __import__(module)
    except ImportError:
        raise UserError(f"{what} needs the optional package '{module}': pip install 'respdor[library]'") from None


@dataclass
class Axis:
    """One tabulated axis: ``name`` (a key of :data:`PARAMETERS`), ``values`` in SI, ``unit``."""

    name: str
    values: np.ndarray
    unit: str


def parse_vary(text: str) -> Axis:
    """Read ``NAME=LOW:HIGH[UNIT]:N`` (e.g. ``cq=1:6MHz:11``, ``nu1=20k:60kHz:9``, ``eta_q=0:1:5``).

    A unit on HIGH applies to LOW when LOW has none; N >= 2 values, evenly spaced.
    """
    from .units import parse_frequency, parse_time

    if "=" not in text:
        raise UserError(f"vary {text!r}: expected NAME=LOW:HIGH:N, e.g. cq=1:6MHz:11")
    name, rng = (s.strip() for s in text.split("=", 1))
    name = name.lower().replace("-", "_")
    if name not in PARAMETERS:
        raise UserError(f"vary {text!r}: unknown parameter {name!r}; use one of {', '.join(PARAMETERS)}")
    parts = rng.split(":")
    if len(parts) != 3:
        raise UserError(f"vary {text!r}: expected LOW:HIGH:N")
    try:
        n = int(parts[2])
    except ValueError:
        raise UserError(f"vary {text!r}: the number of values {parts[2]!r} is not an integer") from None
    if n < 2:
        raise UserError(f"vary {text!r}: give at least 2 values")
    unit, kind, _ = PARAMETERS[name]
    lo_txt, hi_txt = parts[0].strip(), parts[1].strip()
    if kind == "number":
        try:
            lo, hi = float(lo_txt), float(hi_txt)
        except ValueError:
            raise UserError(f"vary {text!r}: cannot read the range") from None
    else:
        parse = parse_frequency if kind == "frequency" else parse_time
        hi, _ = parse(hi_txt, f"vary {name}")
        suffix = hi_txt.lstrip("0123456789.+-eE")
        lo, lo_explicit = parse(lo_txt, f"vary {name}")
        if not lo_explicit and suffix:
            lo, _ = parse(lo_txt + suffix, f"vary {name}")
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise UserError(f"vary {text!r}: need LOW < HIGH")
    if lo < 0 or (name == "eta_q" and hi > 1):
        raise UserError(f"vary {text!r}: out of the physical range")
    return Axis(name, np.linspace(lo, hi, n), unit)


#: How values of each kind are shown and written on the command line: (unit, SI per unit).
_DISPLAY = {"frequency": [("MHz", 1e6), ("kHz", 1e3), ("Hz", 1.0)], "time": [("ms", 1e-3), ("us", 1e-6)],
            "number": [("", 1.0)]}


def _display_unit(name, values):
    """The largest unit in which every value of ``values`` is at least 1 (e.g. MHz for CQ, kHz for nu1)."""
    kind = PARAMETERS[name][1]
    small = min((abs(v) for v in values if v != 0), default=1.0)
    for unit, scale in _DISPLAY[kind]:
        if small >= scale:
            return unit, scale
    return _DISPLAY[kind][-1]


def format_value(name, value):
    """A tabulated parameter's SI value as the user writes it, e.g. ``2.5 MHz``, ``30 kHz``, ``0.3``."""
    unit, scale = _display_unit(name, [value])
    return f"{value / scale:.6g}{' ' + unit if unit else ''}"


def vary_text(axis: Axis) -> str:
    """The ``--vary`` text that :func:`parse_vary` reads back as ``axis`` (e.g. ``cq=2.5:3.5MHz:3``)."""
    unit, scale = _display_unit(axis.name, [axis.values[0], axis.values[-1]])
    return (f"{axis.name}={axis.values[0] / scale:.10g}:{axis.values[-1] / scale:.10g}{unit}:"
            f"{len(axis.values)}")


def _extended(axis: Axis, side: int):
    """``axis`` with nodes of the same spacing added beyond one end (0 lower, 1 upper), or None at a limit."""
    step = float(axis.values[1] - axis.values[0])
    lo, hi = float(axis.values[0]), float(axis.values[-1])
    # physical limits: eta_Q in [0, 1], CQ >= 0, an rf amplitude and a pulse length > 0
    floor, ceiling = (0.0, 1.0) if axis.name == "eta_q" else (0.0, math.inf)
    strict = axis.name in ("nu1", "length")
    for k in (max(2, (len(axis.values) - 1) // 2), 1):
        new = lo - k * step if side == 0 else hi + k * step
        ok = (new > floor or (new >= floor - 1e-12 * step and not strict)) if side == 0 else new <= ceiling + 1e-12
        if ok:
            new = max(new, floor) if side == 0 else min(new, ceiling)
            ends = (new, hi) if side == 0 else (lo, new)
            values = np.linspace(*ends, len(axis.values) + k)
            return Axis(axis.name, values, axis.unit)
    return None


def rebuild_command(shape, name, side):
    """``respdor library build`` command of a library like ``shape`` with axis ``name`` extended.

    ``side`` 0 extends below the lower end, 1 above the upper end (same spacing). None when that
    end is the physical limit of the parameter (eta_Q 0 or 1, CQ 0).
    """
    parts = []
    for axis in shape.axes:
        if axis.name == name:
            axis = _extended(axis, side)
            if axis is None:
                return None
        parts.append(f"--vary {vary_text(axis)}")
    d = shape.coupling_grid_hz
    parts.append(f"--couplings {d[0]:.6g}:{d[-1]:.6g}:{len(d)} --t-max {1e3 * shape.t_max_s:.6g}ms")
    pw = getattr(shape, "powder", None)
    if pw:
        parts.append(f"--powder {pw['n']} --gamma {pw['n_gamma']}")
    return "respdor library build SPEC -o WIDER.h5 " + " ".join(parts) + " (SPEC: the spec the library was built from)"


def _partner_index(raw):
    """Index in [[spins]] of the partner of the first dipolar coupling (the fitted pair)."""
    dip = raw.get("dipolar") or []
    if dip:
        a, b = dip[0]["spins"]
        return b if a == 0 else a
    return 1


def _check_axis_ends(raw, axis):
    """Parse the spec at both ends of a tabulated axis (spinsim's spec checks and the plausibility table):
    a value no spec may have (CQ on a spin-1/2 partner, beyond the Larmor frequency ...) is refused
    before any point is computed."""
    from spinsim.spec import Spec, SpecError

    for v in (axis.values[0], axis.values[-1]):
        try:
            Spec(spec_with(raw, {axis.name: v}))
        except SpecError as exc:
            raise UserError(f"vary {axis.name}: at {v:g} {PARAMETERS[axis.name][0]}".rstrip() + f": {exc}") from None


def spec_with(raw: dict, values: dict) -> dict:
    """A copy of the spec dict with tabulated parameters set (``values``: name -> SI value)."""
    out = copy.deepcopy(raw)
    for name, v in values.items():
        v = float(v)
        if name in ("cq", "eta_q"):
            spin = out["spins"][_partner_index(out)]
            if name == "cq":
                spin.pop("cq_mhz", None)
                spin["cq_hz"] = v
            else:
                spin["eta_q"] = v
        elif name in ("nu1", "length"):
            sat = _rf_saturation(out, name)
            if name == "nu1":
                sat["nu1_khz"] = v / 1e3
            else:
                sat.pop("length_rotor_periods", None)
                sat["length_us"] = v * 1e6
        else:
            raise UserError(f"unknown tabulated parameter {name!r}")
    return out


def _rf_saturation(raw, name):
    """The spec's [saturation] table when it is an rf pulse (the types spinsim's spec parser builds)."""
    from spinsim.spec import DEFAULT_SATURATION_TYPE, RF_SATURATION_TYPES

    sat = raw.get("saturation")
    if not sat or sat.get("type", DEFAULT_SATURATION_TYPE) not in RF_SATURATION_TYPES:
        kind = "none" if not sat else sat.get("type")
        raise UserError(f"vary {name}: the spec's saturation ({kind}) is not an rf pulse; {name} can be varied "
                        f"for [saturation] type {', '.join(RF_SATURATION_TYPES)}")
    return sat


def spec_value(raw: dict, name: str):
    """The spec's own value of a tabulated parameter (SI), or None when it does not set one."""
    if name in ("cq", "eta_q"):
        spin = raw["spins"][_partner_index(raw)]
        if name == "eta_q":
            return float(spin.get("eta_q", 0.0))
        return float(spin["cq_hz"]) if "cq_hz" in spin else 1e6 * float(spin.get("cq_mhz", 0.0))
    sat = raw.get("saturation") or {}
    if name == "nu1":
        return 1e3 * float(sat["nu1_khz"]) if "nu1_khz" in sat else None
    if name == "length":
        return 1e-6 * float(sat["length_us"]) if "length_us" in sat else None
    return None


def simulate_point(raw: dict, values: dict, couplings_hz, times_s, powder: dict, n_times=None, threads: int = 1):
    """Simulate one parameter point for every coupling: array (3, n_D, n_t) of dS/S0, S0 and S1.

    Row k is simulated on ``times_s[:n_times[k]]`` (each coupling only as far as lambda = D t
    needs) and padded with NaN. Runs inside a Dask worker: numba is limited to ``threads``
    threads so that several worker processes share the machine without oversubscription.
    """
    import numba

    from spinsim.powder import make_powder
    from spinsim.spec import load_spec

    sp = load_spec(spec_with(raw, values))
    sp.powder = make_powder(powder["scheme"], int(powder["n"]), int(powder["n_gamma"]))
    times_s = np.asarray(times_s, float)
    n_times = [len(times_s)] * len(couplings_hz) if n_times is None else n_times
    out = np.full((3, len(couplings_hz), len(times_s)), np.nan)
    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        for k, d in enumerate(couplings_hz):
            r = sp.run(coupling_hz=float(d), times_s=times_s[: int(n_times[k])])
            out[:, k, : int(n_times[k])] = r.dSS0, r.S0, r.S1
    finally:
        numba.set_num_threads(before)
    return out


def row_lengths(couplings, cycle, t_max):
    """Times per coupling row: every row reaches lambda_max = D_max t_max (interpolation in lambda)."""
    lam_max = couplings[-1] * t_max
    return [max(int(np.ceil(lam_max / (d * 2 * cycle) - 1e-9)), 3) + 1 for d in couplings]


def _spec_powder(raw):
    """The spec's [powder] with the spec format's defaults (:func:`respdor.simulated.spec_powder`)."""
    from .simulated import spec_powder

    return spec_powder(raw)


def _request(raw, axes, couplings, times, powder, t_max):
    """The JSON description that a file must match to be resumed."""
    from .simcache import engine_version, normalised_spec

    return {
        "spec": normalised_spec(raw),
        "axes": [{"name": a.name, "unit": a.unit, "values": [float(x) for x in a.values]} for a in axes],
        "coupling_hz": [float(x) for x in couplings],
        "t_s": [float(x) for x in times],
        "t_max_s": float(t_max),
        "powder": powder,
        "engine": engine_version(),
    }


def _state(path, request):
    """Read-only look at an existing library or work file: None when absent, else its flags.

    Returns ``{"done": flags of the parameter points, "complete": bool, "checked": bool}``; a file
    that is not a library, or was built for another request, is refused (one line naming it).
    """
    h5py = _require("h5py", "a library file")
    path = Path(path)
    if not path.exists():
        return None
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise UserError(f"{path}: exists and is not a readable HDF5 file ({exc}); choose another name "
                        "or overwrite=True") from None
    with f:
        if f.attrs.get("format") != FORMAT:
            raise UserError(f"{path}: not a respdor library file; choose another name or overwrite=True")
        old = json.loads(f.attrs["request"])
        if old != request:
            diff = [k for k in request if old.get(k) != request[k]]
            raise UserError(f"{path}: built for a different {', '.join(diff)}; use a new file name or overwrite=True")
        return {"done": f["done"][...].reshape(-1).copy(), "complete": bool(f.attrs.get("complete", False)),
                "checked": bool(f.attrs.get("checked", False)), "powder_checked": "convergence" in f.attrs}


def _open_work(path, request, axes, n_d, n_t, fresh):
    """Open the work file to resume it, or (``fresh``, or absent) create it empty."""
    h5py = _require("h5py", "a library file")
    path = Path(path)
    if path.exists() and not fresh:
        return h5py.File(path, "r+")
    f = h5py.File(path, "w")
    shape = tuple(len(a.values) for a in axes)
    f.attrs["format"] = FORMAT
    f.attrs["format_version"] = FORMAT_VERSION
    f.attrs["request"] = json.dumps(request)
    f.attrs["spec_json"] = json.dumps(request["spec"])
    f.attrs["engine"] = request["engine"]
    f.attrs["powder"] = json.dumps(request["powder"])
    f.attrs["axes"] = json.dumps([a.name for a in axes] + ["coupling_hz", "t_s"])
    f.attrs["complete"] = False
    g = f.create_group("axes")
    for a in axes:
        g.create_dataset(a.name, data=a.values).attrs["unit"] = a.unit
    g.create_dataset("coupling_hz", data=request["coupling_hz"]).attrs["unit"] = "Hz"
    g.create_dataset("t_s", data=request["t_s"]).attrs["unit"] = "s"
    f.attrs["t_max_s"] = request["t_max_s"]
    for name in ("dSS0", "S0", "S1"):
        f.create_dataset(name, shape=shape + (n_d, n_t), dtype="f8", chunks=(1,) * len(shape) + (n_d, n_t),
                         fillvalue=np.nan)
    f.create_dataset("done", shape=shape if shape else (1,), dtype="u1", fillvalue=0)
    f.flush()
    return f


def _client(scheduler, workers):
    """A Dask client: of the cluster at ``scheduler``, or of a new local cluster of worker processes.

    The local workers start with SIGINT ignored (Python keeps an inherited "ignore"), so Ctrl-C in
    the terminal, which reaches the whole process group, interrupts only this process; it cancels
    the tasks and closes the cluster, and no worker prints a traceback.
    """
    _require("distributed", "a library build")
    import signal
    import threading

    import dask
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler), None
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise UserError(f"scheduler {scheduler}: cannot connect to a Dask cluster there ({reason}); "
                            "check the address, or leave out scheduler for a local cluster") from None
    if _reimported_by_a_worker():
        # A worker process is starting and re-runs the user's script (no __main__ guard): leaving
        # quietly lets the build in the user's own process say what happened, in one line.
        raise SystemExit(1)
    n = workers or os.cpu_count() or 1
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    # The workers read their log level at start-up from the environment. Their failures reach
    # this process through the tasks; their own lines (a warning per task cancelled by Ctrl-C, a
    # heartbeat error while the cluster closes) would only bury the one-line outcome.
    env_before = os.environ.get(_WORKER_LOG_ENV)
    os.environ[_WORKER_LOG_ENV] = "critical"
    try:
        # Dask's nanny sets MALLOC_TRIM_THRESHOLD_ in its workers, and glibc then stops adapting its
        # mmap threshold: every array of a few MB the engines allocate is mapped and faulted in
        # afresh, 12 of 68 CPU s of system time for one library point (the variable set by the user
        # still wins).
        with _quiet_dask(silent=True), dask.config.set({_TRIM_KEY: None}):
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0")
    except RuntimeError as exc:  # a worker process did not start ("Nanny failed to start")
        cluster = _threads_instead(n, exc)
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
        if env_before is None:
            os.environ.pop(_WORKER_LOG_ENV, None)
        else:
            os.environ[_WORKER_LOG_ENV] = env_before
    return Client(cluster), cluster


_WORKER_LOG_ENV = "DASK_LOGGING__DISTRIBUTED"
_TRIM_KEY = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"


def _reimported_by_a_worker():
    """True in a worker process that is importing the user's main script while it starts."""
    import multiprocessing

    return bool(getattr(multiprocessing.current_process(), "_inheriting", False))


def _threads_instead(n, exc):
    """A local cluster of ``n`` threads in this process, after worker processes failed to start.

    The usual cause: the calling script has no ``if __name__ == "__main__":`` guard, and every
    worker process, which imports the script to start, would build the library again. Any other
    cause is refused in one line.
    """
    import sys

    from dask.distributed import LocalCluster

    script = getattr(sys.modules.get("__main__"), "__file__", None)
    if not script:
        raise UserError(f"the local Dask cluster's worker processes did not start ({' '.join(str(exc).split())}); "
                        "pass scheduler= the address of a running cluster") from None
    with _quiet_dask(silent=True):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=False, dashboard_address=":0")
    #: said by the build's result (a warning): why its workers are threads
    cluster.respdor_note = (
        f"{Path(script).name}: worker processes could not start (a script that calls build_library outside an "
        "'if __name__ == \"__main__\":' block is run again by every worker process); the library was built with "
        f"{n} thread(s) of this process instead, which may be slower: put the call under that guard to use "
        "worker processes")
    return cluster


def build_library(spec, path, axes, couplings_hz, t_max_s=None, powder=None, scheduler=None, workers=None,
                  overwrite=False, n_check=8, progress=None, powder_explicit=None, powder_tol=None,
                  check_explicit=False):
    """Tabulate ``spec`` over D and ``axes`` into the HDF5 file ``path`` on a Dask cluster.

    Parameters
    ----------
    spec : str, Path or dict
        spinsim spec; its first [[dipolar]] coupling is the D axis.
    path : str or Path
        Library file (``.h5``). It appears only when the build is complete; until then the work is
        in ``<path>.partial`` (:func:`respdor.files.resumable_output`), which an interrupted build
        keeps and the same call resumes. A finished file for the same request is left as it is.
    axes : list of Axis
        Tabulated parameters (may be empty).
    couplings_hz : array_like
        D values (Hz), increasing, at least 4.
    t_max_s : float, optional
        Longest recoupling time (s); default the spec's. All t = 2 n T_cycle up to it are tabulated.
    powder : dict, optional
        ``{"scheme", "n", "n_gamma"}``; default the spec's powder.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); default a local cluster.
    workers : int, optional
        Worker processes of the local cluster (default: all cores).
    overwrite : bool
        Start a new file even if one exists.
    n_check : int
        Off-grid points simulated after the grid to measure the interpolation error (with ``n_check``
        > 0 the library's own powder is checked too, ``_run_powder_check``).
    progress : None, bool, callable or spinsim.progress.Progress
        Progress over the parameter points (:mod:`spinsim.progress`).
    powder_explicit : dict, optional
        ``{"alpha_beta", "gamma", "step"}`` -> whether the user chose it (default: as the spec says,
        with ``powder`` counted as chosen).
    powder_tol : float, optional
        Tolerance of that check (dS/S0); default :data:`spinsim.convergence.DEFAULT_TOL`.
    check_explicit : bool
        Also check the explicitly chosen settings.

    Returns
    -------
    dict
        ``{"path", "computed", "skipped", "wall_s", "curves_per_s", "interp_error"}``.
    """
    job = _BuildJob.prepare(spec, path, axes, couplings_hz, t_max_s, powder, powder_explicit)
    job.look(overwrite, n_check)
    t0 = time.perf_counter()
    if job.finished_before():
        return _finish_stats(job.stats, job.path, t0)  # finished before: no cluster, nothing written
    job.say_estimate(progress)
    client, cluster = _client(scheduler, workers)
    try:
        with _quiet_dask(), resumable_output(job.path) as work:
            job.compute(client, work, progress, (powder_tol, check_explicit))
    finally:
        with _quiet_dask(silent=True):
            client.close()
            if cluster is not None:
                cluster.close()
    stats = _finish_stats(job.stats, job.path, t0)
    stats["cluster_note"] = getattr(cluster, "respdor_note", None)
    return stats


@dataclass
class _BuildJob:
    """One library build: the checked request, then what the files on disk already hold."""

    sp: object
    path: Path
    axes: list
    couplings: np.ndarray
    times: np.ndarray
    n_times: list
    t_max: float
    pw: dict
    explicit: dict
    request: dict
    state: dict | None = None
    final: dict | None = None

    @classmethod
    def prepare(cls, spec, path, axes, couplings_hz, t_max_s, powder, powder_explicit):
        """Check the request before anything starts: couplings, times, powder, each axis's ends."""
        from .simulated import load_coupling_spec, spec_powder

        sp = load_coupling_spec(spec, "tabulate")
        raw = sp.raw
        couplings = np.asarray(couplings_hz, float)
        if couplings.size < 4 or np.any(np.diff(couplings) <= 0) or couplings[0] <= 0:
            raise UserError("the coupling axis needs at least 4 increasing values > 0 Hz")
        cycle = (1.0 / sp.mas_rate) if isinstance(sp.recoupling, str) else sp.recoupling.duration
        t_max = float(t_max_s) if t_max_s is not None else float(np.max(sp.times_s))
        if int(np.floor(t_max / (2 * cycle) + 1e-9)) < 3:
            raise UserError(f"t_max {t_max * 1e3:g} ms gives fewer than 4 recoupling times")
        n_times = row_lengths(couplings, cycle, t_max)
        times = 2 * cycle * np.arange(max(n_times))
        if powder_explicit is None:
            from .convergence import spec_explicit

            powder_explicit = spec_explicit(raw, powder is not None, powder is not None)
        pw = powder or spec_powder(raw)
        pw = {"scheme": str(pw["scheme"]), "n": int(pw["n"]), "n_gamma": int(pw["n_gamma"])}
        for a in axes:  # a bad axis must fail here, not in a worker: each end is read as a spec would be
            _check_axis_ends(raw, a)
        request = _request(raw, axes, couplings, times, pw, t_max)
        return cls(sp, Path(path), list(axes), couplings, times, n_times, t_max, pw, powder_explicit, request)

    def look(self, overwrite, n_check):
        """Read-only look at the library and its work file: nothing is created, moved or written
        before the cluster is there. Sets the points to do and the checks still to make."""
        self.final = None if overwrite else _state(self.path, self.request)
        self.state = None if overwrite else _state(partial_path(self.path), self.request)
        source = self.state or self.final
        self.shape = tuple(len(a.values) for a in self.axes)
        points = list(itertools.product(*[range(s) for s in self.shape]))
        done = source["done"] if source else np.zeros(len(points), dtype=bool)
        self.todo = [p for k, p in enumerate(points) if not done[k]]
        self.fresh = source is None
        self.n_check = int(n_check)
        self.checking = bool(n_check) and not (source and source["checked"])
        # the library's own powder, also when a Ctrl-C came during that check or an older build skipped it
        self.powder_checking = bool(n_check) and not (source and source["powder_checked"])
        self.stats = {"path": str(self.path), "computed": 0, "grid_s": 0.0, "skipped": len(points) - len(self.todo),
                      "n_points": len(points), "n_curves": len(points) * len(self.couplings)}

    def finished_before(self):
        return (self.state is None and self.final is not None and self.final["complete"]
                and not (self.todo or self.checking or self.powder_checking))

    def say_estimate(self, progress):
        """The estimated work of the points still to compute, said before the cluster starts (a
        library is long work by nature: said, never refused)."""
        from spinsim.powder import make_powder

        from .workload import check_work, library_work

        if not self.todo or "file" in self.pw:
            return
        powder = make_powder(self.pw["scheme"], self.pw["n"], self.pw["n_gamma"])
        work = library_work(self.sp, powder, self.times, self.n_times, len(self.todo))
        check_work(work, True, f"library build {self.path}", progress=progress)

    def compute(self, client, work, progress, check_settings):
        """The grid, the interpolation check and the powder check, into the work file ``work``."""
        if self.state is None and self.final is not None:
            os.replace(self.path, work)  # a file left unfinished by an older respdor: resumed as the work file
        f = _open_work(work, self.request, self.axes, len(self.couplings), len(self.times), fresh=self.fresh)
        checked_times = self.times[self.times <= self.t_max * (1 + 1e-9)]
        try:
            if self.todo:
                _run_grid(client, f, self.sp.raw, self.axes, self.couplings, (self.times, self.n_times), self.pw,
                          self.todo, self.shape, self.stats, progress)
            if self.checking:
                _run_check(client, f, self.sp.raw, self.axes, self.couplings, checked_times, self.pw, self.n_check)
            if self.powder_checking:
                _run_powder_check(client, f, self.sp, self.axes, self.couplings[-1], checked_times, self.pw,
                                  self.explicit, *check_settings)
            f.attrs["complete"] = True
        finally:
            f.flush()
            f.close()


def _finish_stats(stats, path, t0):
    stats["wall_s"] = time.perf_counter() - t0
    n_new = stats["computed"] * (stats["n_curves"] // max(stats["n_points"], 1))
    # throughput of the grid itself (first submit to last result), without the cluster start-up
    stats["curves_per_s"] = n_new / stats["grid_s"] if n_new else None
    info = library_info(path)
    stats["interp_error"], stats["convergence"] = info["interp_error"], info["convergence"]
    return stats


class _quiet_dask:
    """Keep Dask's log lines (worker restarts, "still alive after 4 s, killing") off the terminal.

    During the build only errors pass; while the cluster is closed (also after Ctrl-C) nothing does.
    """

    def __init__(self, silent=False):
        self.level = logging.CRITICAL + 1 if silent else logging.ERROR

    def __enter__(self):
        self.loggers = [logging.getLogger(n) for n in ("distributed", "tornado", "asyncio")]
        self.before = [lg.level for lg in self.loggers]
        for lg in self.loggers:
            lg.setLevel(max(self.level, lg.level))
        return self

    def __exit__(self, *exc):
        for lg, level in zip(self.loggers, self.before):
            lg.setLevel(level)
        return False


def _write_point(f, p, arr, shape):
    """Store one parameter point and mark it done; flushed, so a finished point is never redone."""
    for j, name in enumerate(("dSS0", "S0", "S1")):
        f[name][p] = arr[j]
    f["done"][p if shape else 0] = 1
    f.flush()


def _run_grid(client, f, raw, axes, couplings, times, pw, todo, shape, stats, progress):
    """The grid: one task per curve (parameter point x coupling row), so that progress shows within
    seconds and the workers stay busy to the end; a point is written, whole, when its last row is in."""
    from dask.distributed import as_completed

    n_d = len(couplings)
    futures = {}
    t_submit = time.perf_counter()
    for p in todo:
        values = {a.name: float(a.values[i]) for a, i in zip(axes, p)}
        for k in range(n_d):
            fut = client.submit(simulate_point, raw, values, couplings[k:k + 1], times[0], pw, times[1][k:k + 1],
                                pure=False)
            futures[fut] = (p, k)
    rows = {}  # point -> [its array (3, n_D, n_t), rows still to come]
    hit, previous = _note_sigint()
    try:
        with tracking(progress, len(todo) * n_d, "library", "curves") as bar:
            for fut in as_completed(futures):
                if hit.is_set():  # a Ctrl-C whose KeyboardInterrupt the Dask machinery swallowed
                    raise KeyboardInterrupt
                p, k = futures[fut]
                entry = rows.setdefault(p, [np.full((3, n_d, len(times[0])), np.nan), n_d])
                entry[0][:, k] = fut.result()[:, 0]
                entry[1] -= 1
                stats["grid_s"] = time.perf_counter() - t_submit
                if entry[1] == 0:
                    _write_point(f, p, rows.pop(p)[0], shape)
                    stats["computed"] += 1
                bar.advance(1)
            if hit.is_set():
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        for fut in futures:
            fut.cancel()
        raise
    finally:
        if previous is not None:
            import signal

            signal.signal(signal.SIGINT, previous)


def _note_sigint():
    """Record a SIGINT while the grid runs, then hand it to the handler in place (which raises
    KeyboardInterrupt). A KeyboardInterrupt raised inside Dask's waiting code can be swallowed
    there; the recorded flag still stops the loop at the next finished point.

    Returns
    -------
    (threading.Event, previous handler or None)
    """
    import signal
    import threading

    hit = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        return hit, None
    current = signal.getsignal(signal.SIGINT)
    if not callable(current):
        return hit, None

    def on_sigint(signum, frame):
        hit.set()
        current(signum, frame)

    return hit, signal.signal(signal.SIGINT, on_sigint)


def _check_points(axes, couplings, n_check, seed=12):
    """Off-grid points (midway between nodes on every axis, random cell) for the error check."""
    rng = np.random.default_rng(seed)
    pts = []
    for _ in range(n_check):
        vals = {}
        for a in axes:
            i = rng.integers(0, len(a.values) - 1)
            vals[a.name] = float(0.5 * (a.values[i] + a.values[i + 1]))
        i = rng.integers(1, len(couplings) - 2)  # away from the ends, where the spline is weakest
        vals["coupling_hz"] = float(np.sqrt(couplings[i] * couplings[i + 1]))
        pts.append(vals)
    return pts


def _run_check(client, f, raw, axes, couplings, times, pw, n_check):
    pts = _check_points(axes, couplings, n_check)
    futs = [client.submit(simulate_point, raw, {k: v for k, v in p.items() if k != "coupling_hz"},
                          [p["coupling_hz"]], times, pw, pure=False) for p in pts]
    sims = np.array([fu.result()[0, 0] for fu in futs])
    f.flush()
    shape = _shape_from_open(f)
    interp = np.array([shape(times, p["coupling_hz"], **{k: v for k, v in p.items() if k != "coupling_hz"})
                       for p in pts])
    err = np.abs(interp - sims)
    g = f.require_group("check")
    for name in list(g):
        del g[name]
    g.create_dataset("points", data=json.dumps(pts))
    g.create_dataset("simulated", data=sims)
    g.create_dataset("interpolated", data=interp)
    f.attrs["interp_error_max"] = float(err.max())
    f.attrs["interp_error_rms"] = float(np.sqrt(np.mean(err**2)))
    f.attrs["checked"] = True


def _run_powder_check(client, f, sp, axes, d_max, times, pw, explicit, tol, check_explicit):
    """The library's own powder, gamma and step checked (:func:`spinsim.convergence.check_convergence`,
    never refined: the table is built) at its hardest point: the largest coupling over the whole time
    range, the parameters at their defaults. Three coarser curves (and a finer one per unconverged
    setting), a few curves against the library's hundreds. Stored as the ``convergence`` attribute."""
    from spinsim.convergence import DEFAULT_TOL, Level, check_convergence
    from spinsim.powder import make_powder

    from . import convergence as cv

    values = {a.name: float(a.values[len(a.values) // 2]) if spec_value(sp.raw, a.name) is None
              else float(spec_value(sp.raw, a.name)) for a in axes}

    def run(level):
        raw = sp.raw if level.max_dt == sp.max_dt else cv.raw_at_step(sp.raw, level.max_dt)
        fut = client.submit(simulate_point, raw, values, [float(d_max)], times, cv.powder_dict(level.powder),
                            pure=False)
        return fut.result()[0, 0]

    level = Level(make_powder(pw["scheme"], pw["n"], pw["n_gamma"]), sp.max_dt)
    t0 = time.perf_counter()
    base = run(level)
    check = check_convergence(run, level, explicit, DEFAULT_TOL if tol is None else float(tol), check_explicit,
                              refine=False, base=(base, time.perf_counter() - t0), uses_step=cv.spec_uses_step(sp))
    record = cv.check_json(check, times)
    record.update({"coupling_hz": float(d_max), "parameters": values,
                   "warnings": cv.check_warnings(check, times, "library powder: "),
                   "lines": cv.check_text(check, times)})
    f.attrs["convergence"] = json.dumps(record)


def _shape_from_open(f):
    names = json.loads(f.attrs["axes"])[:-2]
    axes = [Axis(n, f["axes"][n][...], f["axes"][n].attrs["unit"]) for n in names]
    raw = json.loads(f.attrs["spec_json"])
    shape = LibraryShape(axes, f["axes/coupling_hz"][...], f["axes/t_s"][...], f["dSS0"][...],
                         float(f.attrs["t_max_s"]), description=f"library {f.filename}",
                         defaults={a.name: spec_value(raw, a.name) for a in axes})
    #: (observed, partner) isotopes the library was simulated for: a fit must use the same pair
    shape.nuclei = (raw["spins"][0]["isotope"], raw["spins"][_partner_index(raw)]["isotope"])
    return shape


def library_info(path) -> dict:
    """Axes, sizes, completeness and measured interpolation error of a library file."""
    h5py = _require("h5py", "a library file")
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such library file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise UserError(f"{path}: cannot open as HDF5 ({exc})") from None
    with f, _damaged_as_user_error(path):
        if f.attrs.get("format") != FORMAT:
            raise UserError(f"{path}: not a respdor library file")
        names = json.loads(f.attrs["axes"])
        sizes = tuple(int(f["axes"][n].size) for n in names)
        for table in ("dSS0", "S0", "S1"):  # the tables themselves, not only what the attributes say of them
            if f[table].shape != sizes:
                raise ValueError(f"the table {table} has shape {f[table].shape}, the axes {sizes}")
        info = {
            "path": str(path),
            "axes": {n: {"n": int(f["axes"][n].size), "min": float(f["axes"][n][0]), "max": float(f["axes"][n][-1]),
                         "unit": str(f["axes"][n].attrs["unit"])} for n in names},
            "points_done": int(f["done"][...].sum()),
            "points": int(f["done"].size),
            "complete": bool(f.attrs.get("complete", False)) and int(f["done"][...].sum()) == f["done"].size,
            "engine": str(f.attrs["engine"]),
            "powder": json.loads(f.attrs["powder"]),
            "bytes": path.stat().st_size,
            "interp_error": ({"max": float(f.attrs["interp_error_max"]), "rms": float(f.attrs["interp_error_rms"]),
                              "n_points": int(f["check/simulated"].shape[0])}
                             if f.attrs.get("checked", False) else None),
            "convergence": json.loads(f.attrs["convergence"]) if "convergence" in f.attrs else None,
        }
    return info


class _damaged_as_user_error:
    """A library file whose parts are missing or unreadable (an attribute, a data set, a table of the
    wrong shape): one line naming the file instead of the reading code's KeyError or ValueError."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if kind is None or issubclass(kind, UserError) or not issubclass(
                kind, (KeyError, ValueError, TypeError, IndexError, OSError, AttributeError)):
            return False
        why = " ".join(str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc).split())[:120]
        raise UserError(f"{self.path}: a damaged respdor library file ({why or type(exc).__name__}); build it "
                        "again with 'respdor library build'") from None


def sparse_check_warning(axes, interp_error, where):
    """One line when the interpolation check has fewer off-grid points than the longest axis has cells.

    Each check point lies in one random cell; with fewer points than cells along an axis, some
    cells of that axis are never checked, and a dependence that is jagged between other nodes
    (too coarse an axis for the curve) goes unseen: the measured error is then a lower bound.

    Parameters
    ----------
    axes : dict
        name -> {"n": nodes, ...} of the axes (as :func:`library_info` gives them; its D and time
        axes are left out: the check samples the tabulated axes' cells).
    interp_error : dict or None
        ``{"max", "rms", "n_points"}`` of the check, None when not measured.
    where : str
        What the line is about (the library's description).
    """
    axes = {k: a for k, a in (axes or {}).items() if k not in ("coupling_hz", "t_s")}  # the tabulated ones
    if not interp_error or not axes:
        return None
    name, n = max(((k, int(a["n"])) for k, a in axes.items()), key=lambda x: x[1])
    cells, n_points = max(n - 1, 1), int(interp_error["n_points"])
    if n_points >= cells:
        return None
    return (f"{where}: interpolation error measured at only {n_points} off-grid point(s) for {cells} cells along "
            f"{name}, so most cells are never checked and the max {interp_error['max']:.2g} is a lower bound; "
            f"rebuild with at least {cells} checks (n_checks)")


class LibraryShape:
    """dS/S0(t, D; parameters) from a library: splines in lambda = D t, log D and each parameter.

    As in :class:`respdor.simulated.SimulatedShape`, each coupling row is splined in lambda and
    the rows are splined in log D at the wanted lambda; then each parameter axis is contracted with
    a cubic spline in its value (a tensor-product spline). Called as
    ``shape(t_s, coupling_hz, cq=..., nu1=...)``; a parameter not given takes its default (the
    spec's value when on the axis, else the axis middle). ``parameters`` tells the fitter which
    extra parameters exist and their ranges.
    """

    def __init__(self, axes, couplings_hz, times_s, table, t_max_s, description="", interp_error=None,
                 defaults=None):
        self.axes = list(axes)
        #: value of each parameter when neither given nor fitted: the spec's, else the axis middle
        self.defaults = {a.name: float(a.values[len(a.values) // 2]) for a in self.axes}
        for k, v in (defaults or {}).items():
            a = next(x for x in self.axes if x.name == k)
            if v is not None and a.values[0] <= v <= a.values[-1]:
                self.defaults[k] = float(v)
        self.coupling_grid_hz = np.asarray(couplings_hz, float)
        self.times_s = np.asarray(times_s, float)
        self.t_max_s = float(t_max_s)
        self.description = description
        self.interp_error = interp_error
        #: the library's own powder / gamma / step check (library_info()["convergence"]), if made
        self.convergence = None
        table = np.asarray(table, float)
        lam_max = self.coupling_grid_hz[-1] * self.t_max_s
        self._rows = []
        for k, d in enumerate(self.coupling_grid_hz):
            row = table[..., k, :]
            n_ok = int(np.sum(np.all(np.isfinite(row.reshape(-1, row.shape[-1])), axis=0)))
            if n_ok < 4 or d * self.times_s[n_ok - 1] < lam_max * (1 - 1e-9):
                raise UserError(f"{description}: the library is incomplete (coupling {d:g} Hz); finish the build")
            self._rows.append(CubicSpline(d * self.times_s[:n_ok], row[..., :n_ok], axis=-1))
        # A cubic spline is linear in the values it interpolates: splines of the identity give, at
        # any point, the weights of the nodes. Built once, they replace a spline solve per call.
        self._weights_log_d = CubicSpline(np.log(self.coupling_grid_hz), np.eye(self.coupling_grid_hz.size), axis=0)
        self._weights_axes = [CubicSpline(a.values, np.eye(len(a.values)), axis=0) for a in self.axes]

    @classmethod
    def open(cls, path):
        """Read a library file (raises UserError when it is not a complete library)."""
        h5py = _require("h5py", "a library file")
        info = library_info(path)
        if not info["complete"]:
            raise UserError(f"{path}: library incomplete ({info['points_done']} of {info['points']} points); "
                            "run the same 'respdor library build' again to finish it")
        with _damaged_as_user_error(path), h5py.File(path, "r") as f:
            shape = _shape_from_open(f)
        shape.description = f"library {Path(path).name}"
        shape.interp_error = info["interp_error"]
        shape.convergence = info["convergence"]
        shape.powder = info["powder"]
        return shape

    @property
    def coupling_range_hz(self):
        """(D_min, D_max) in Hz."""
        return float(self.coupling_grid_hz[0]), float(self.coupling_grid_hz[-1])

    @property
    def parameters(self):
        """Extra fit parameters: name -> (default value, (low, high)) in SI units."""
        return {a.name: (self.defaults[a.name], (float(a.values[0]), float(a.values[-1]))) for a in self.axes}

    def __call__(self, t_s, coupling_hz, **values):
        d = float(coupling_hz)
        lo, hi = self.coupling_range_hz
        if not (lo * (1 - 1e-12) <= d <= hi * (1 + 1e-12)):
            raise ValueError(f"coupling {d:g} Hz is outside the library ({lo:g}-{hi:g} Hz)")
        t = np.atleast_1d(np.asarray(t_s, float))
        if np.any(t < -1e-12) or np.any(t > self.t_max_s * (1 + 1e-9)):
            raise ValueError(f"times outside the library (0-{1e3 * self.t_max_s:g} ms)")
        lam = d * np.clip(t, 0.0, None)
        at_rows = np.array([s(lam) for s in self._rows])  # (n_D, n_1, .., n_k, n_t)
        arr = np.tensordot(self._weights_log_d(np.log(d)), at_rows, axes=(0, 0))
        for a, weights in zip(reversed(self.axes), reversed(self._weights_axes)):  # last axis first
            v = float(values.get(a.name, self.defaults[a.name]))
            if not (a.values[0] - 1e-9 * abs(a.values[0]) <= v <= a.values[-1] * (1 + 1e-12)):
                raise ValueError(f"{a.name} = {v:g} is outside the library ({a.values[0]:g}-{a.values[-1]:g})")
            arr = np.tensordot(weights(v), np.moveaxis(arr, arr.ndim - 2, 0), axes=(0, 0))
        return np.asarray(arr, float).reshape(np.shape(t_s))
