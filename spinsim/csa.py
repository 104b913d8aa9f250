"""Chemical-shift tensor conventions: the one home of every conversion between them.

All values are chemical *shifts* delta in ppm (high delta = high frequency), never shieldings.

Conventions
-----------
Standard (IUPAC / Mehring)
    Principal components delta_11 >= delta_22 >= delta_33; delta_iso is their mean.
Haeberlen
    |delta_zz - delta_iso| >= |delta_xx - delta_iso| >= |delta_yy - delta_iso|;
    reduced anisotropy zeta = delta_aniso = delta_zz - delta_iso (this is SIMPSON's ``shift``
    anisotropy and the IUPAC 2008 "delta_aniso"); asymmetry eta = (delta_yy - delta_xx)/zeta in [0, 1].
    Papers that quote the "anisotropy" Delta delta = delta_zz - (delta_xx + delta_yy)/2 = 1.5 zeta
    must be converted with :func:`anisotropy_from_reduced`.
Herzfeld-Berger / Maryland (Mason, Solid State Nucl. Magn. Reson. 2, 285, 1993)
    span Omega = delta_11 - delta_33 >= 0; skew kappa = 3 (delta_22 - delta_iso)/Omega in [-1, 1].

At kappa = 0 the Haeberlen zeta is +Omega/2 or -Omega/2 with eta = 1; this module picks the
positive one (delta_zz = delta_11). Shielding-based programs (mrsimulator ``zeta``, DFT magres
files) have the opposite sign of zeta and kappa: convert with :func:`shielding_to_shift`.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "principal_from_haeberlen",
    "haeberlen_from_principal",
    "principal_from_maryland",
    "maryland_from_principal",
    "haeberlen_to_maryland",
    "maryland_to_haeberlen",
    "anisotropy_from_reduced",
    "reduced_from_anisotropy",
    "shielding_to_shift",
    "validate_haeberlen",
    "validate_maryland",
]


#: Resolution (ppm) below which two principal deviations count as equal (Haeberlen ordering ties).
TIE_PPM = 1e-12


def validate_haeberlen(zeta: float, eta: float) -> None:
    """Raise ValueError unless eta is in [0, 1] and zeta is finite."""
    if not np.isfinite(zeta):
        raise ValueError(f"CSA anisotropy zeta must be finite, got {zeta!r} ppm")
    if not (0.0 <= eta <= 1.0):
        raise ValueError(f"CSA asymmetry eta must lie in [0, 1], got {eta!r}")


def validate_maryland(span: float, skew: float) -> None:
    """Raise ValueError unless span >= 0 and skew is in [-1, 1]."""
    if not (np.isfinite(span) and span >= 0.0):
        raise ValueError(f"CSA span must be >= 0 ppm, got {span!r}")
    if not (-1.0 <= skew <= 1.0):
        raise ValueError(f"CSA skew must lie in [-1, 1], got {skew!r}")


def principal_from_haeberlen(delta_iso: float, zeta: float, eta: float):
    """Principal components (delta_xx, delta_yy, delta_zz) in ppm from Haeberlen parameters.

    Parameters
    ----------
    delta_iso : float
        Isotropic shift in ppm.
    zeta : float
        Reduced anisotropy delta_zz - delta_iso in ppm.
    eta : float
        Asymmetry in [0, 1].

    Returns
    -------
    tuple of float
        (delta_xx, delta_yy, delta_zz) in ppm, in the Haeberlen order.
    """
    validate_haeberlen(zeta, eta)
    dzz = delta_iso + zeta
    dxx = delta_iso - zeta * (1.0 + eta) / 2.0
    dyy = delta_iso - zeta * (1.0 - eta) / 2.0
    return float(dxx), float(dyy), float(dzz)


def haeberlen_from_principal(d1: float, d2: float, d3: float):
    """Haeberlen (delta_iso, zeta, eta) from three principal components in any order (ppm).

    Deviations from delta_iso whose magnitudes agree to 1e-12 ppm (:data:`TIE_PPM`) count as a tie,
    broken towards the positive one as zz; eta is then clipped to 1, so components are recovered to
    within that resolution.
    """
    values = np.array([d1, d2, d3], dtype=float)
    iso = values.mean()
    dev = values - iso
    # Ascending by |dev|; on a tie the positive deviation sorts last and becomes zz.
    order = sorted(range(3), key=lambda k: (round(abs(dev[k]) / TIE_PPM), dev[k]))
    dyy, dxx, dzz = dev[order[0]], dev[order[1]], dev[order[2]]
    zeta = float(dzz)
    eta = 0.0 if zeta == 0.0 else float((dyy - dxx) / zeta)
    return float(iso), zeta, float(np.clip(eta, 0.0, 1.0))


def principal_from_maryland(delta_iso: float, span: float, skew: float):
    """Principal components (delta_11, delta_22, delta_33) in ppm from span and skew."""
    validate_maryland(span, skew)
    d22 = delta_iso + skew * span / 3.0
    d11 = delta_iso + span * (3.0 - skew) / 6.0
    d33 = delta_iso - span * (3.0 + skew) / 6.0
    return float(d11), float(d22), float(d33)


def maryland_from_principal(d1: float, d2: float, d3: float):
    """Herzfeld-Berger (delta_iso, span, skew) from principal components in any order (ppm)."""
    d11, d22, d33 = sorted([float(d1), float(d2), float(d3)], reverse=True)
    iso = (d11 + d22 + d33) / 3.0
    span = d11 - d33
    skew = 0.0 if span == 0.0 else 3.0 * (d22 - iso) / span
    return iso, span, float(np.clip(skew, -1.0, 1.0))


def haeberlen_to_maryland(delta_iso: float, zeta: float, eta: float):
    """(delta_iso, zeta, eta) -> (delta_iso, span, skew)."""
    return maryland_from_principal(*principal_from_haeberlen(delta_iso, zeta, eta))


def maryland_to_haeberlen(delta_iso: float, span: float, skew: float):
    """(delta_iso, span, skew) -> (delta_iso, zeta, eta)."""
    return haeberlen_from_principal(*principal_from_maryland(delta_iso, span, skew))


def anisotropy_from_reduced(zeta: float) -> float:
    """Delta delta = delta_zz - (delta_xx + delta_yy)/2 = 1.5 zeta (ppm)."""
    return 1.5 * zeta


def reduced_from_anisotropy(delta_delta: float) -> float:
    """zeta = Delta delta / 1.5 (ppm)."""
    return delta_delta / 1.5


def shielding_to_shift(sigma_iso: float, zeta_sigma: float, eta: float, sigma_ref: float = 0.0):
    """Convert Haeberlen shielding parameters to shift parameters.

    delta_iso = sigma_ref - sigma_iso and zeta_delta = -zeta_sigma; eta is unchanged. Use it for
    mrsimulator's ``zeta`` (a shielding anisotropy) and DFT magres tensors.
    """
    return sigma_ref - sigma_iso, -zeta_sigma, eta
