"""
Measured spectra: a MAS rate from the sidebands, and 113Cd lines deconvolved
============================================================================

Two **measured** Bruker sets that ship with respdor:

1. **Ba2P2O7, 31P MAS** (mrsimulator example data, BSD-3; 9.4 T). Its acqus records
   ``MASR = 4200`` Hz, a value left over from another experiment. ``respdor.csa_fit`` without a
   rate measures it from the sideband pairs of the two 31P lines and flags the recorded one as
   stale. The CSA fit itself is marked ``misfit``: the fitted tensors predict a second-order
   sideband the data do not show, so their spans and skews are not to be trusted.
2. **A Cd-Sn complex in solution, 113Cd{1H}** (public domain; 11.7 T). The file records no
   nucleus (``NUC1 = NONE``): it is inferred from the base frequency, and said so. The first FID
   points are a receiver transient; they are replaced by backward linear prediction (a note says
   so). ``respdor.deconvolve`` fits one Gaussian line per site and gives each line's share of the
   signal with its error.

About 3 s of CPU on one core (measured with ``time.process_time`` around the whole script,
Python 3.11, 2-core machine under load); nothing is cached.
"""

# %%
import warnings

import matplotlib.pyplot as plt

import respdor
from respdor import datasets


def quietly(call, *args, **kwargs):
    """The call, with each respdor warning printed as one line."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call(*args, **kwargs)
    for w in caught:
        if issubclass(w.category, respdor.errors.RespdorWarning):
            print("warning:", w.message)
    return result


# %%
# Ba2P2O7: the two centrebands near -22 and -19 ppm; no rate given.
ba = quietly(respdor.csa_fit, datasets.path("mas-31p-ba2p2o7"), spectrum=True, sites_ppm=[-22.0, -18.9],
             lb_hz=20, progress=False)
print(f"{ba.nucleus}: MAS rate {ba.mas_rate_hz:.1f} Hz, from the {ba.mas_source} ({ba.mas_evidence})")
for site in ba.sites:
    print(f"  line at {site['delta_iso']:.2f} ppm: status {site['status']}")

# %%
# 113Cd in solution: three lines, started at -42.8, -75 and -10 ppm, 2 ppm wide.
cd = quietly(respdor.deconvolve, datasets.path("solution-113cd-cdsn"), [-42.8, -75, -10], fwhm_ppm=2, lb_hz=20,
             progress=False)
for note in cd.notes:
    if "NUC1" in note or "transient" in note:
        print("note:", note)
# The outer two lines sit symmetrically about the central one (about 3.6 kHz either side):
# the shares are of the signal, line by line; which lines are sites and which are coupling
# partners of one another is for the chemistry to say, not the fit.
for site in cd.sites:
    print(f"  {cd.nucleus} line at {site['center']:7.2f} +- {site['center_err']:.2f} ppm, FWHM {site['fwhm']:.2f} ppm, "
          f"share {site['fraction']:.3f} +- {site['fraction_err']:.3f}  ({site['status']})")

# %%
fig, axes = plt.subplots(2, 2, figsize=(10, 5.2), gridspec_kw={"height_ratios": [3, 1]}, sharex="col")
ba.plot(ax=axes[0, 0], resid_ax=axes[1, 0])
axes[0, 0].set_title(f"31P MAS of Ba2P2O7, {ba.mas_rate_hz / 1e3:.2f} kHz (from the sidebands)", fontsize=9)
cd.plot(ax=axes[0, 1], resid_ax=axes[1, 1])
axes[0, 1].set_title("113Cd{1H} of a Cd-Sn complex in solution", fontsize=9)
fig.tight_layout()
