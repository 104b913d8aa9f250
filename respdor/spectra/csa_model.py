"""The CSA sideband model of a spectrum: manifolds, their lines, and starting spans.

Sideband k of a site with isotropic shift delta_iso (ppm), span Omega (ppm) and skew kappa
(Herzfeld-Berger, shift convention) has intensity ``A * I_k(Omega, kappa; nu0, nu_r)`` with
sum_k I_k = 1 (:func:`spinsim.sidebands.sideband_intensities`), at
``delta_iso + k nu_r/nu0 * 1e6`` ppm, each a pseudo-Voigt line of the site's width.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from spinsim.sidebands import pseudo_voigt, sideband_intensities

from ..errors import UserError

__all__ = ["moment_estimates", "site_spectrum", "line_sum", "manifold", "measured_manifold"]


def moment_estimates(orders, intensities, larmor_hz, mas_hz):
    """Starting span (ppm) and skew sign from the second and third moments of a manifold.

    For a traceless tensor d: M2 = (2/15) sum d^2 and M3 = (2/35)... only its sign is used;
    M2 = Omega^2/15 for kappa = 0, which gives the span estimate sqrt(15 M2).
    """
    k = np.asarray(orders, float)
    w = np.clip(np.asarray(intensities, float), 0.0, None)
    if w.sum() <= 0:
        raise UserError("the sideband manifold has no positive intensity")
    step = mas_hz / abs(larmor_hz) * 1e6
    w = w / w.sum()
    mean = np.sum(w * k) * step
    m2 = np.sum(w * (k * step - mean) ** 2)
    m3 = np.sum(w * (k * step - mean) ** 3)
    return float(np.sqrt(15.0 * m2)), float(np.sign(m3) if m3 != 0 else 0.0)


def site_spectrum(x, iso, span, skew, amp, fwhm, eta_l, larmor_hz, mas_hz, n_orient):
    step = mas_hz / larmor_hz * 1e6
    reach = max(abs(x.max() - iso), abs(x.min() - iso))
    kmax = int(min(reach / step + 1, 64))
    orders, inten = manifold(float(span), float(skew), float(larmor_hz), float(mas_hz), kmax, int(n_orient))
    keep = inten > 1e-7
    return amp * line_sum(x, iso + orders[keep] * step, inten[keep], fwhm, eta_l)


def line_sum(x, centres, weights, fwhm, eta_l):
    """sum_k w_k * pseudo_voigt(x, c_k, fwhm, eta_l), all orders at once.

    Gaussian lines on a monotonic axis are evaluated only within 8 FWHM of each centre (beyond,
    a Gaussian is below 1e-40 of its peak; real spectra have 10^4 points and lines a few points
    wide) and scattered with one bincount; Lorentzian tails need the whole axis.
    """
    n = x.size
    if centres.size == 0:
        return np.zeros(n)
    desc = x[0] > x[-1]
    xa = x[::-1] if desc else x
    dx = float(np.min(np.abs(np.diff(xa)))) if n > 1 else 1.0
    width = int(16.0 * fwhm / max(dx, 1e-300)) + 2
    if eta_l != 0.0 or width >= n or not np.all(np.diff(xa) > 0):
        out = weights @ pseudo_voigt(x[None, :], centres[:, None], fwhm, eta_l)
        return out
    first = np.searchsorted(xa, centres - 8.0 * fwhm)
    idx = first[:, None] + np.arange(width)[None, :]
    ok = idx < n
    idx = np.where(ok, idx, n - 1)
    g_sigma = fwhm / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    vals = np.exp(-0.5 * ((xa[idx] - centres[:, None]) / g_sigma) ** 2) * (weights[:, None] / (g_sigma * np.sqrt(2 * np.pi)))
    out = np.bincount(idx[ok], weights=vals[ok], minlength=n)
    return out[::-1] if desc else out


@lru_cache(maxsize=2048)
def manifold(span, skew, larmor_hz, mas_hz, kmax, n_orient):
    """Cached powder manifold: steps in a site's shift, width or amplitude reuse it."""
    man = sideband_intensities(span, skew, larmor_hz, mas_hz, n_sidebands=kmax, n_orientations=n_orient)
    return man.orders, man.intensities


def measured_manifold(x, y, iso, step, half):
    """Heights of the spectrum at iso + k step (k within the window): a starting manifold."""
    ks = np.arange(-int((iso - x.min()) / step), int((x.max() - iso) / step) + 1)
    h = []
    for k in ks:
        sel = np.abs(x - (iso + k * step)) <= half
        h.append(float(np.max(y[sel])) if sel.any() else 0.0)
    return ks, np.clip(np.array(h), 0.0, None)
