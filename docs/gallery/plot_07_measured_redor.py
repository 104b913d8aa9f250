"""
Measured REDOR curves: one fit, and a global fit sharing the label level
========================================================================

Two examples on **measured** curves: the INTERFACES REDOR examples (Cunningham & Perras, Ames
Laboratory; GPL-3 data files) that ship with respdor as the data set ``redor-interfaces``. The
files hold two columns, recoupling time in s and dS/S0, without error bars: each fit takes its
noise from the scatter about the fit.

1. **One curve.** ``Zn_phen/Zn-curve4``: 13C{29Si} REDOR of two equivalent carbons of a
   phenanthroline ligand above 100 % 29Si-enriched silica, so the partner abundance is fixed to
   1 (``x = 1``). A carbon above a 29Si-enriched surface sees many silicons; the two-spin
   distance is an effective one, (sum r_j^-6)^(-1/6), not a bond length.
2. **Two curves, one sample.** ``Pt-NHC/C1N1`` (13C{15N}) and ``Pt-NHC/T3N1`` (29Si{15N})
   recouple a carbon and a silicon of one Pt-NHC complex to the same labelled nitrogen (N1).
   They measure two different distances, but the amplitude (the labelling level of N1) is one:
   the INTERFACES input file gives every curve to N1 the same amplitude factor (0.67, an input
   there, not a fit). The global fit gives each curve its own D and shares the amplitude. Alone,
   the short C1N1 curve cannot tell its D from its amplitude; the T3N1 curve, which reaches its
   plateau, pins the amplitude.

About 3 s of CPU on one core (measured with ``time.process_time`` around the whole script,
Python 3.11, 2-core machine under load); nothing is cached.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

import respdor
from respdor import CurveModel, datasets, read_curve
from respdor.fitting import fit_curves

interfaces = datasets.path("redor-interfaces")

# %%
# One curve
# ---------
# ``respdor.fit`` with the nuclei, REDOR (pi pulses on 29Si) and the time unit of the file; the
# same as ``respdor fit Zn-curve4.txt --time-unit s --model redor --observe 13C --partner 29Si
# --fix x=1``.
zn = respdor.fit(interfaces / "Zn_phen" / "Zn-curve4.txt", "13C", "29Si", experiment="redor",
                 time_unit="s", fix={"x": 1})
print(zn.report())


def interval(result, name):
    p = result[name]
    return f"{p.value:.3f} +- {p.stderr:.3f}, 95 % [{p.ci95[0]:.3f}, {p.ci95[1]:.3f}]"


print("Zn-curve4: r_eff (A)", interval(zn, "distance_angstrom"), "  amplitude", interval(zn, "fraction"))

# %%
# Two curves of one molecule
# --------------------------
# Each curve alone first (``respdor.fit``), then both with one amplitude. ``respdor.fit`` always
# shares the geometry between the curves of a global fit, which is right for two experiments on
# one distance but not here, so the joint fit calls :func:`respdor.fitting.fit_curves` with
# ``shared`` naming only the amplitude.
pt = interfaces / "Pt-NHC"
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    alone = {name: respdor.fit(pt / f"{name}.txt", nucleus, "15N", experiment="redor", time_unit="s", fix={"x": 1})
             for name, nucleus in (("C1N1", "13C"), ("T3N1", "29Si"))}
for w in caught:
    print("warning:", w.message)
curves = [read_curve(pt / "C1N1.txt", time_unit="s"), read_curve(pt / "T3N1.txt", time_unit="s")]
models = [CurveModel("13C", "15N", experiment="redor"), CurveModel("29Si", "15N", experiment="redor")]
joint = fit_curves(curves, models, shared=("fraction", "abundance"), fix={"abundance": 1.0})
print(joint.report())

for name, result in alone.items():
    corr = result.correlations.get("coupling_hz/fraction", result.correlations.get("fraction/coupling_hz"))
    print(f"{name} alone:  r (A) {interval(result, 'distance_angstrom')}   amplitude {interval(result, 'fraction')}"
          f"   corr(D, amplitude) = {corr:+.3f}")
for i, name in enumerate(("C1N1", "T3N1")):
    print(f"{name} joint:  r (A) {interval(joint, f'c{i}_distance_angstrom')}")
print(f"shared amplitude: {interval(joint, 'fraction')}")

# %%
# With one amplitude, C1N1's distance is pinned (its D and amplitude were correlated at -0.98
# alone). T3N1's interval widens a little: the joint fit takes one noise level from the scatter
# of both curves, and C1N1 scatters more.
#
# Is one amplitude enough? The separate fits have one more free parameter; the F-test compares
# the chi^2 of the two descriptions (equal weights, noise from the scatter).
chi2_apart = sum(r.chisqr for r in alone.values())
n_points = sum(c.time_s.size for c in curves)
free_apart = sum(r.n_free for r in alone.values())
F = (joint.chisqr - chi2_apart) / (free_apart - joint.n_free) / (chi2_apart / (n_points - free_apart))
p = stats.f.sf(F, free_apart - joint.n_free, n_points - free_apart)
print(f"chi2 apart {chi2_apart:.5f} ({free_apart} free), joint {joint.chisqr:.5f} ({joint.n_free} free): "
      f"F = {F:.2f}, p = {p:.2f}")

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
zn.plot(ax=left)
left.set_title(f"Zn-curve4, 13C{{29Si}}: r_eff = {zn.value('distance_angstrom'):.2f} A", fontsize=9)
for i, (curve, label) in enumerate(zip(curves, ("C1N1, 13C{15N}", "T3N1, 29Si{15N}"))):
    tt = np.linspace(0, 1.1 * curve.time_s[-1], 300)  # each fit drawn over its own data only
    right.plot(curve.time_s * 1e3, curve.dss0, "o", ms=4, color=f"C{i}", label=label)
    right.plot(tt * 1e3, joint.best_fit(i, tt), color=f"C{i}", lw=1)
right.set_xlabel("recoupling time (ms)")
right.set_ylabel(r"$\Delta S/S_0$")
right.set_title(f"Pt-NHC, one amplitude: {joint.value('fraction'):.3f}", fontsize=9)
right.legend(frameon=False, fontsize=8)
fig.tight_layout()
