"""
Seed study, step 1: a 13C{27Al} RESPDOR fit
===========================================

The carboxylate carbons of alumina-coated CdSe quantum dots sit 2.5 angstrom from an Al atom
(Segura Lecina et al., JACS 2022: D = 503 Hz, bonded fraction f = 0.24). The bundled file
``respdor_13C27Al_synthetic.csv`` is a **synthetic** curve made with those values
(``data/make_example.py``: full 27Al saturation, S0 decaying with T2' = 8 ms, S/N 60). We fit it
for D, r and f, with standard errors and profile-likelihood intervals.
"""

# %%
# Read the curve. The time column ``t_ms`` names its unit; S0, S1 and their noise are given, so
# dS/S0 and its propagated error are formed from them.
from respdor import CurveModel, fit_curve, read_curve
from respdor.examples import example_path

curve = read_curve(example_path("respdor_13C27Al_synthetic.csv"))
print(f"{curve.n_points} points, t = {curve.time_s[0] * 1e3:.1f} to {curve.time_s[-1] * 1e3:.1f} ms")

# %%
# The model: 13C observed, 27Al (I = 5/2) saturated, REDOR pi train on 13C (scaling 1). The
# saturation efficiency and the 27Al abundance are 1, so the fitted fraction is f * eps * x.
model = CurveModel("13C", "27Al", experiment="respdor")
result = fit_curve(curve, model)
print(result.report())

# %%
# The numbers a paper would quote: D and r with their 95 % profile-likelihood intervals and f.
for name in ("coupling_hz", "distance_angstrom", "fraction"):
    p = result[name]
    low, high = p.ci95
    print(f"{name:18s} {p.value:8.3f}   95 % interval [{low:.3f}, {high:.3f}] {p.unit}")

# %%
# The figure: data, best fit and the curves for r +- 0.2 angstrom at the fitted fraction,
# with normalised residuals below.
from respdor.plotting import plot_fit

fig = plot_fit(result)
