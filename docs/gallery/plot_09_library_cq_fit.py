"""
A library fit: the 27Al C_Q from a RESPDOR curve
================================================

A CW pulse saturates a 27Al less the larger its quadrupolar coupling C_Q, so a 13C{27Al}
RESPDOR curve can carry C_Q in its rise and plateau. A **library** tabulates simulated curves
over D and C_Q once (``respdor.build_library``); a fit then frees C_Q like D
(``respdor.fit(..., library=..., free=["cq"])``) and gives its interval from a chi^2 profile
along the library axis.

How much C_Q a curve carries depends on the saturation pulse. With the bundled spec
``c13_al27_respdor.toml`` (CW 30 kHz for two rotor periods, 10 kHz MAS) it hardly changes the
curve; with a weaker pulse, 10 kHz for the same 200 us, it changes it a lot (the first cell
prints both). This page uses the 10 kHz pulse.

The library is deliberately **small**, so that the page builds in under a minute: C_Q on 9 nodes
from 1 to 5 MHz, D on 5 values from 300 to 800 Hz, a ZCW 144 x 32 gamma powder, one Dask
worker. The build checks its own powder and interpolation, and says they are not converged to
the 0.002 tolerance: that is the price of the small library, and every fit with it repeats it.

The curve is **simulated** (same spec and powder, C_Q = 2.5 MHz, D = 503 Hz, every carbon
bonded: f = 1) with Gaussian noise of 0.01 (seeded): the answer is known.

45 to 47 s of CPU (two runs) on one core with spinsim's compiled kernels already cached
(measured with ``time.process_time`` around the whole script, Python 3.11, 2-core machine under
load; the one worker runs in this process, so its time is included); the first run on a machine
also compiles the kernels: 60 s in all. Nothing is cached between runs: the library is built
afresh in a temporary folder, removed at the end.
"""

# %%
import sys
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from dask.distributed import LocalCluster

import respdor
from respdor import DephasingCurve
from respdor.examples import example_path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

spec = tomllib.loads(example_path("c13_al27_respdor.toml").read_text())

# %%
# dS/S0 at the last time (3 ms, D = 503 Hz) for C_Q = 1 and 5 MHz, with the spec's 30 kHz pulse
# and with a 10 kHz one (same powder as the library below).
for nu1_khz in (30.0, 10.0):
    ends = []
    for cq_mhz in (1.0, 5.0):
        trial = {**spec, "saturation": {**spec["saturation"], "nu1_khz": nu1_khz},
                 "spins": [spec["spins"][0], {**spec["spins"][1], "cq_mhz": cq_mhz}]}
        ends.append(respdor.simulate(trial, n_orientations=144, n_gamma_angles=32, progress=False).dSS0[-1])
    print(f"CW {nu1_khz:g} kHz: dS/S0(3 ms) = {ends[0]:.3f} at C_Q = 1 MHz, {ends[1]:.3f} at 5 MHz")

spec["saturation"]["nu1_khz"] = 10.0
spec["experiment"]["title"] = "13C{27Al} RESPDOR, CW 10 kHz x 200 us"
folder = tempfile.TemporaryDirectory()
library = Path(folder.name) / "cq.h5"

# %%
# The library. One worker, run as a thread of this process (``processes=False``), so that the
# script also runs as a plain ``python`` script without a ``__main__`` guard; the default
# (``n_workers=...`` without ``scheduler``) starts worker processes.
with warnings.catch_warnings(record=True) as caught, \
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
    warnings.simplefilter("always")
    built = respdor.build_library(spec, ["cq=1:5MHz:9"], library, couplings_hz=(300, 800, 5),
                                  n_orientations=144, n_gamma_angles=32, n_checks=2, check_convergence=True,
                                  scheduler=cluster.scheduler_address, progress=False)
print(built)
for w in caught:
    if issubclass(w.category, respdor.errors.RespdorWarning):
        print("warning:", w.message)

# %%
# The measurement to fit: the same spec with C_Q = 2.5 MHz, D = 503 Hz, plus noise.
measured = {**spec, "spins": [spec["spins"][0], {**spec["spins"][1], "cq_mhz": 2.5}]}
truth = respdor.simulate(measured, n_orientations=144, n_gamma_angles=32, progress=False)
rng = np.random.default_rng(1)
noise = 0.01
t = truth.t_s[1:]  # t = 0 carries no information
curve = DephasingCurve(t, truth.dSS0[1:] + rng.normal(0, noise, t.size), sigma=np.full(t.size, noise),
                       source="simulated, C_Q = 2.5 MHz, noise 0.01")

# %%
# The fit with C_Q free, f fixed at 1 (every carbon bonded), and the same with f free too.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the library's warnings, printed above, come back with each fit
    fixed_f = respdor.fit(curve, "13C", "27Al", library=library, free=["cq"], fix={"f": 1}, progress=False)
    free_f = respdor.fit(curve, "13C", "27Al", library=library, free=["cq"], intervals=False, progress=False)
print(fixed_f.report())
cq = fixed_f["cq"]
print(f"f = 1 fixed: C_Q = {cq.value / 1e6:.2f} MHz, 95 % [{cq.ci95[0] / 1e6:.2f}, {cq.ci95[1] / 1e6:.2f}] MHz; "
      f"D = {fixed_f.value('coupling_hz'):.0f} Hz")
print(f"f free:      C_Q = {free_f.value('cq') / 1e6:.2f} MHz; D = {free_f.value('coupling_hz'):.0f} Hz; "
      f"f = {free_f.value('fraction'):.3f} (its C_Q interval: the profile below)")
print("truth: C_Q = 2.50 MHz, D = 503 Hz, f = 1")

# %%
# The C_Q profile: chi^2 with C_Q held at each value and the other free parameters refitted.
# With the fraction free, a lower C_Q (better saturation) trades against a lower fraction, and
# the profile flattens.
grid = np.linspace(1e6, 3.5e6, 21)
profiles = {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    for name, fix in (("f = 1 fixed", {"f": 1}), ("f free", {})):
        profiles[name] = np.array([respdor.fit(curve, "13C", "27Al", library=library, fix={**fix, "cq": v},
                                               intervals=False, progress=False).chisqr for v in grid])
print("C_Q (MHz)      ", " ".join(f"{v / 1e6:5.3g}" for v in grid))
for name, chi2 in profiles.items():
    inside = grid[chi2 - chi2.min() < 4]
    print(f"{name:12s}  ", " ".join(f"{x:5.1f}" for x in chi2 - chi2.min()),
          f"  chi2 within 4 of its minimum: {inside[0] / 1e6:.3g} to {inside[-1] / 1e6:.3g} MHz")

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
tt = np.linspace(t[0], t[-1], 200)
left.errorbar(t * 1e3, curve.dss0, yerr=curve.sigma, fmt="o", ms=4, color="k", label="simulated data")
left.plot(tt * 1e3, fixed_f.best_fit(0, tt), label=f"fit, f = 1: C_Q = {fixed_f.value('cq') / 1e6:.2f} MHz")
left.set_xlabel("recoupling time (ms)")
left.set_ylabel(r"$\Delta S/S_0$")
left.legend(frameon=False, fontsize=8)
for name, chi2 in profiles.items():
    right.plot(grid / 1e6, chi2 - chi2.min(), "o-", ms=3, label=name)
right.axhline(4, color="grey", lw=0.8, ls="--")
right.axvline(2.5, color="grey", lw=0.8, ls=":")
right.set_xlabel("C_Q (MHz)")
right.set_ylabel(r"$\chi^2 - \chi^2_{min}$")
right.set_ylim(0, 30)
right.legend(frameon=False, fontsize=8)
right.set_title("C_Q profile (dashed: 95 %, dotted: truth)", fontsize=9)
fig.tight_layout()
folder.cleanup()
