"""
Seed study, step 3: 113Cd PASS to site populations
==================================================

At 9.4 T and 8 kHz MAS the spinning sidebands of the 113Cd surface sites of CdSe dots fall on
top of each other's centre bands, so a 1D spectrum cannot be integrated site by site. CP-PASS
separates the sideband orders: its pitch dimension, Fourier transformed, puts order k in row k;
the sum of the sheared rows is a sideband-free isotropic spectrum whose line areas are the site
populations, and each site's column gives its sideband manifold, hence its CSA.

The bundled data set ``pass_113Cd_synthetic/pass2d`` is **synthetic** (``data/make_pass_example.py``):
a Bruker pseudo-2D of 16 pitches with four sites at -50 (core), -320, -440 and -630 ppm, true
populations 1 : 0.6 : 0.8 : 0.2 (``truth.json``), noise, and the order sign reversed as a
gamma < 0 nucleus can show, so that the processing has to find it.
"""

# %%
# Read the Bruker data set. The reader reports what it found or assumed (nucleus, reference,
# group delay); the 0 ppm frequency and the carrier give the ppm axis.
import json

import matplotlib.pyplot as plt
import numpy as np

from respdor.examples import example_path
from respdor.spectra.bruker import read_bruker
from respdor.spectra.pass_processing import analyse_pass

folder = example_path("pass_113Cd_synthetic/README.md").parent
ds = read_bruker(folder / "pass2d")
print(f"{ds.nucleus}: {ds.data.shape[0]} pitches x {ds.data.shape[1]} points, SFO1 {ds.sfo1_mhz:.4f} MHz")
reference_hz = ds.reference_mhz * 1e6
carrier_ppm = (ds.sfo1_mhz - ds.reference_mhz) / ds.reference_mhz * 1e6

# %%
# Separate the orders, deconvolve the isotropic spectrum into four lines and fit each site's
# sideband manifold (the MAS rate is given: the acquisition parameters may hold a stale one).
analysis = analyse_pass(ds.data, ds.sw_hz, 8000.0, reference_hz, carrier_ppm,
                        site_centers=[-50, -320, -440, -630], noise_region=(100, 200),
                        fit_region=(-800, 100))
for note in analysis.spectra.notes:
    print("note:", note)

# %%
# Populations relative to the core site, against the values the data were made with.
truth = json.loads((folder / "truth.json").read_text())["sites"]
rows = analysis.table()
core = rows[0]["population"]
print(f"{'site (ppm)':>11} {'population / core':>18} {'true':>6} {'span (ppm)':>11} {'true':>6}")
for row, site in zip(rows, truth):
    print(f"{row['delta_iso']:11.1f} {row['population'] / core:18.3f} {site['population']:6.2f}"
          f" {row['span']:11.0f} {site['span']:6.0f}")

# %%
# The sheared order rows (left) and the isotropic sum with its four fitted lines (right).
sp = analysis.spectra
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 4.2), gridspec_kw={"width_ratios": [1.3, 1]})
scale = np.max(np.abs(sp.rows))
for k, row in zip(sp.orders, sp.rows):
    if abs(k) <= 4:
        ax.plot(sp.ppm, row / scale * 0.9 + k, lw=0.8, color="C0")
ax.set_ylabel("sideband order k (sheared rows)")
ax.set_title(f"PASS rows, order sign {sp.sign:+d}")
ax2.plot(sp.ppm, sp.isotropic, "k", lw=1, label="sum of rows")
for row in rows:
    ax2.axvline(row["delta_iso"], color="C3", lw=0.6)
ax2.set_title("isotropic spectrum; lines at the fitted shifts")
for a in (ax, ax2):
    a.set_xlim(100, -800)
    a.set_xlabel(r"$^{113}$Cd shift (ppm)")
fig.tight_layout()
