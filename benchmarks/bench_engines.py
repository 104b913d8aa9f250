"""The engines side by side: spinsim against SIMPSON and against its own per-crystallite stepping
(prints a table; not a test).

Run:  nice -n 10 python benchmarks/bench_engines.py [--cases sr4,finite3,...] [--simpson PATH] [--no-simpson]

Every case is a spec (the format of ``respdor simulate``); the same crystallites go to SIMPSON
(``respdor simulate SPEC --export-simpson``) when a ``simpson`` executable is on PATH or given, on
one thread (``SIMPSON_NUM_CORES=1``); spinsim runs on one thread (``NUMBA_NUM_THREADS=1``), warm
(a first run in this process compiles or loads the kernels). Columns: CPU seconds of each program;
for the general engine also the per-crystallite stepping it used before its steps were shared by
the gamma angles (``shared_gamma=False``), at the same step; max |d dS/S0| between them, and
against SIMPSON. A case SIMPSON cannot run (ideal saturation, rf inhomogeneity) shows "-"; a case in
``SIMPSON_AS`` is compared with the SIMPSON run of the case named there.
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import copy  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_vs_simpson import run_simpson  # noqa: E402

C_AL = {"isotope": "27Al", "cq_mhz": 3.0, "eta_q": 0.3, "q_euler_deg": [0, 30, 0]}
CW = {"type": "cw", "nu1_khz": 30, "length_rotor_periods": 2}


def _spec(title, spins, recoupling, powder, t_max_ms, mas=10000, saturation=CW, dipolar=None, coords=None,
          method="auto"):
    sp = {
        "experiment": {"type": "respdor", "title": title, "field_T": 9.4, "mas_rate_hz": mas, "t_max_ms": t_max_ms},
        "spins": spins, "recoupling": recoupling, "saturation": saturation,
        "powder": {"scheme": "zcw", "n": powder[0], "n_gamma": powder[1]},
        "simulation": {"max_dt_us": 0.5, "method": method},
    }
    if coords is not None:
        sp["coordinates_A"] = coords
    else:
        sp["dipolar"] = dipolar
    return sp


def _two_al(method, powder, pulse_us=0.0):
    dip = [{"spins": [0, 1], "d_hz": 503.0}, {"spins": [0, 2], "d_hz": 300.0, "euler_deg": [0, 110, 0]}]
    return _spec(f"13C + two 27Al ({method})", [{"isotope": "13C"}, C_AL, dict(C_AL, q_euler_deg=[40, 70, 0])],
                 {"scheme": "redor", "pulse_us": pulse_us}, powder, 3.0, dipolar=dip, method=method)


def cases():
    """name -> (description, spec)."""
    sr4 = _spec("111Cd{27Al} SR4 + 300 ppm CSA",
                [{"isotope": "111Cd", "csa_span_ppm": 300.0, "csa_skew": 0.3}, C_AL],
                {"scheme": "sr4", "supercycle": "R4R4bar"}, (232, 16), 4.8, dipolar=[{"spins": [0, 1],
                                                                                    "distance_A": 3.0}])
    adiabatic = _spec("111Cd{27Al} adiabatic SR4", [{"isotope": "111Cd"}, C_AL],
                      {"scheme": "adiabatic_sr4", "supercycle": "R4R4bar", "nu1_max_khz": 80.0, "sweep_khz": 80.0,
                       "step_us": 0.5}, (89, 32), 4.8, dipolar=[{"spins": [0, 1], "distance_A": 3.0}])
    fast2 = _spec("13C{27Al} CW", [{"isotope": "13C"}, C_AL], {"scheme": "redor"}, (987, 16), 3.0,
                  dipolar=[{"spins": [0, 1], "d_hz": 503.0}])
    fast2_m4 = copy.deepcopy(fast2)
    fast2_m4["simulation"].update(integrator="magnus4", max_dt_us=1.05)
    return {
        "fast2": ("13C{27Al} CW, ZCW 987 x 16, 16 points (fast)", fast2),
        "fast2_m4": ("the same, fourth-order Magnus steps of 1.05 us (fast)", fast2_m4),
        "fast3": ("13C + two 27Al, ZCW 143 x 8 (fast)", _two_al("fast", (143, 8))),
        "general3": ("13C + two 27Al, ZCW 33 x 8 (general)", _two_al("general", (33, 8))),
        "finite3": ("13C + two 27Al, 10 us 13C pi pulses, ZCW 33 x 8 (general)", _two_al("auto", (33, 8), 10.0)),
        "sr4": ("111Cd{27Al} SR4 + 300 ppm CSA, ZCW 233 x 16 (general)", sr4),
        "adiabatic": ("111Cd{27Al} adiabatic SR4, ZCW 89 x 32 (general)", adiabatic),
        "bundled_adiabatic": ("data/cd111_al27_adiabatic_sr4.toml (ZCW 89 x 32, 7 rf scalings; general)",
                              _bundled("cd111_al27_adiabatic_sr4.toml")),
        "coupled": ("13C + three coupled 27Al, CW, ZCW 55 x 8, 21 points (coupled)", coupled_case),
    }


#: Cases compared with another case's SIMPSON run: the same experiment, where only spinsim's integrator
#: and step differ (SIMPSON keeps its 0.5 us steps, whose error is the smaller reference).
SIMPSON_AS = {"fast2_m4": "fast2"}


def _bundled(name):
    """A bundled spec as a dict (paths in it are relative to data/)."""
    import tomllib

    return tomllib.loads((Path(__file__).resolve().parents[1] / "data" / name).read_text())


def coupled_case(n_ab=55, n_gamma=8, **options):
    """13C with three 27Al on a chain 3.4 A apart, all Al-Al couplings (ZZ + flip-flop), 14.1 T,
    CW 30 kHz x 2 tau_R, 0 .. 8 ms every 4 rotor periods: (CPU s, result). SIMPSON is not run on it.
    ``options`` go to ``simulate_respdor`` (``max_dt``, ``integrator``)."""
    from spinsim import Spin, SpinSystem, cw_pulse, make_powder, simulate_respdor

    al = dict(isotope="27Al", cq_hz=3e6)
    xyz = [[0, 0, 0]] + [[x, 2.6, 0] for x in (-1.7, 1.7, 5.1)]
    system = SpinSystem.from_coordinates([Spin("13C"), Spin(**al), Spin(**al), Spin(**al)], xyz, 14.1,
                                         homonuclear=True)
    t = np.arange(21) * 4e-4
    simulate_respdor(system, 1e4, t[:2], cw_pulse("27Al", 30e3, 2e-4), powder=make_powder("zcw", 1, n_gamma), **options)
    c0 = time.process_time()
    r = simulate_respdor(system, 1e4, t, cw_pulse("27Al", 30e3, 2e-4), powder=make_powder("zcw", n_ab, n_gamma),
                         **options)
    return time.process_time() - c0, r


@contextmanager
def per_crystallite():
    """The general engine without gamma sharing (every crystallite stepped on its own)."""
    import spinsim._drivers_general as G
    import spinsim.simulate as SM

    orig = G.general_signals

    def stepped(*a, **k):
        return orig(*a, **{**k, "shared_gamma": False})

    SM.general_signals = stepped
    try:
        yield
    finally:
        SM.general_signals = orig


def run(sp):
    from spinsim.spec import simulate_spec

    c0 = time.process_time()
    r = simulate_spec(copy.deepcopy(sp))
    return time.process_time() - c0, r


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=",".join(cases()), help="comma-separated case names")
    ap.add_argument("--simpson", help="the SIMPSON executable (default: simpson on PATH)")
    ap.add_argument("--no-simpson", action="store_true", help="do not run SIMPSON")
    ap.add_argument("--no-before", action="store_true", help="skip the per-crystallite run of the general engine")
    ap.add_argument("--step-error", action="store_true",
                    help="also print each fast case's step error: max |d dS/S0| against fourth-order Magnus steps "
                         "of 0.13 us (converged to about 1e-8)")
    args = ap.parse_args(argv)
    exe = None if args.no_simpson else (args.simpson or shutil.which("simpson"))
    table = cases()
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; one thread per program; SIMPSON: {exe or 'not run'}")
    print("| case | spinsim (CPU s) | engine | per-crystallite (CPU s) | speed-up | SIMPSON (CPU s) | "
          "SIMPSON / spinsim | max \\|d dS/S0\\| vs per-crystallite | vs SIMPSON |")
    print("|---|---|---|---|---|---|---|---|---|")
    simpson_runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.cases.split(","):
            text, sp = table[name]
            if callable(sp):
                cpu, r = sp()
                print(f"| {text} | {cpu:.1f} | {r.info.get('engine')} | - | - | - | - | - | - |", flush=True)
                continue
            small = copy.deepcopy(sp)
            small["powder"] = {"scheme": "zcw", "n": 5, "n_gamma": sp["powder"]["n_gamma"]}
            run(small)  # compile or load the kernels
            cpu, r = run(sp)
            engine = r.info.get("engine", "?")
            before, d_before = "-", "-"
            if engine == "general" and not args.no_before:
                with per_crystallite():
                    cpu0, r0 = run(sp)
                before, d_before = f"{cpu0:.1f}", f"{np.max(np.abs(r0.dSS0 - r.dSS0)):.1e}"
                before += f" | {cpu0 / cpu:.1f}x"
            else:
                before += " | -"
            simp, ratio, d_simp = "-", "-", "-"
            if exe:
                try:
                    same = SIMPSON_AS.get(name, name)
                    if same not in simpson_runs:
                        simpson_runs[same] = run_simpson(exe, table[same][1], tmp, same)
                    s_cpu, d_s = simpson_runs[same]
                    simp, ratio = f"{s_cpu:.1f}", f"{s_cpu / cpu:.0f}x"
                    d_simp = f"{np.max(np.abs(d_s - r.dSS0)):.1e}"
                except (ValueError, SystemExit) as e:
                    simp = f"- ({str(e).splitlines()[0][:40]})"
            print(f"| {text} | {cpu:.2f} | {engine} | {before} | {simp} | {ratio} | {d_before} | {d_simp} |",
                  flush=True)
            if args.step_error and engine == "fast":
                fine = copy.deepcopy(sp)
                fine["simulation"].update(integrator="magnus4", max_dt_us=0.13)
                print(f"|   step error of {name}: {np.max(np.abs(run(fine)[1].dSS0 - r.dSS0)):.1e} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
