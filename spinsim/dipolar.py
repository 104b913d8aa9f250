"""Dipolar coupling constant <-> internuclear distance: the one home of this conversion.

Convention
----------
The dipolar coupling constant is the magnitude, in Hz,

.. math::

    D = \\frac{\\mu_0}{4\\pi} \\frac{\\hbar\\, |\\gamma_S \\gamma_I|}{2\\pi\\, r^3},

so that b_IS = 2 pi D in rad/s. SIMPSON's ``dipole`` value and Soprano's d_ij are -D (signed);
SLEEPY's ``delta`` is 2D. Distances are in metres inside the library; the ``*_angstrom``
functions convert at the edge. Constants come from :mod:`scipy.constants` (CODATA).
"""

from __future__ import annotations

import numpy as np
from scipy import constants

from .isotopes import Isotope, get_isotope

__all__ = [
    "ANGSTROM",
    "dipolar_constant",
    "dipolar_coupling_hz",
    "distance_m",
    "coupling_from_distance",
    "distance_from_coupling",
    "effective_coupling_hz",
    "effective_distance",
]

ANGSTROM = 1e-10  # m
_MU0_OVER_4PI = constants.mu_0 / (4.0 * np.pi)  # T^2 m^3 J^-1


def dipolar_constant(isotope_s: str | Isotope, isotope_i: str | Isotope) -> float:
    """The product D * r^3 for a pair of nuclei, in Hz m^3.

    Parameters
    ----------
    isotope_s, isotope_i : str or Isotope
        The two nuclei, e.g. ``"13C"`` and ``"27Al"``.

    Returns
    -------
    float
        (mu0/4pi) hbar |gamma_S gamma_I| / (2 pi), in Hz m^3.
    """
    gs = get_isotope(isotope_s).gamma
    gi = get_isotope(isotope_i).gamma
    return _MU0_OVER_4PI * constants.hbar * abs(gs * gi) / (2.0 * np.pi)


def dipolar_coupling_hz(distance, isotope_s, isotope_i):
    """Dipolar coupling constant D in Hz from a distance in metres.

    Parameters
    ----------
    distance : float or array_like
        Internuclear distance r in m (must be > 0).
    isotope_s, isotope_i : str or Isotope
        The two nuclei.

    Returns
    -------
    float or ndarray
        D in Hz (magnitude).
    """
    r = np.asarray(distance, dtype=float)
    if np.any(~np.isfinite(r)) or np.any(r <= 0):
        raise ValueError(f"distance must be positive and finite, got {distance!r} m")
    out = dipolar_constant(isotope_s, isotope_i) / r**3
    return float(out) if out.ndim == 0 else out


def distance_m(coupling_hz, isotope_s, isotope_i):
    """Internuclear distance in metres from a dipolar coupling constant D in Hz.

    Parameters
    ----------
    coupling_hz : float or array_like
        D in Hz (> 0; the sign is ignored only if you pass abs() yourself).
    isotope_s, isotope_i : str or Isotope
        The two nuclei.

    Returns
    -------
    float or ndarray
        r in m.
    """
    d = np.asarray(coupling_hz, dtype=float)
    if np.any(~np.isfinite(d)) or np.any(d <= 0):
        raise ValueError(f"dipolar coupling must be positive and finite, got {coupling_hz!r} Hz")
    out = np.cbrt(dipolar_constant(isotope_s, isotope_i) / d)
    return float(out) if out.ndim == 0 else out


def coupling_from_distance(distance_angstrom, isotope_s, isotope_i):
    """D in Hz from a distance in angstrom (edge helper for users and the CLI).

    >>> round(coupling_from_distance(2.5, "13C", "27Al"), 1)
    504.2
    """
    return dipolar_coupling_hz(np.asarray(distance_angstrom, dtype=float) * ANGSTROM, isotope_s, isotope_i)


def distance_from_coupling(coupling_hz, isotope_s, isotope_i):
    """Distance in angstrom from D in Hz (edge helper for users and the CLI).

    >>> round(distance_from_coupling(503.0, "13C", "27Al"), 3)
    2.502
    """
    return distance_m(coupling_hz, isotope_s, isotope_i) / ANGSTROM


def effective_coupling_hz(couplings_hz) -> float:
    """Second-moment effective coupling sqrt(sum D_j^2) of one observed spin to several partners.

    This is the short-time (initial-rise) equivalent: it reproduces the second moment, hence the
    dS/S0 ~ lambda^2 start of the curve, exactly, but not the later shape, which depends on the
    geometry (Bertmer & Eckert, Solid State Nucl. Magn. Reson. 15, 139, 1999). It is an
    approximation, not an identity.

    Parameters
    ----------
    couplings_hz : array_like
        D_j in Hz.

    Returns
    -------
    float
        D_eff in Hz.
    """
    d = np.asarray(couplings_hz, dtype=float)
    return float(np.sqrt(np.sum(d**2)))


def effective_distance(distances) -> float:
    """r_eff = (sum r_j^-6)^(-1/6), the distance with the same second moment (same units as input)."""
    r = np.asarray(distances, dtype=float)
    if np.any(r <= 0):
        raise ValueError("distances must be positive")
    return float(np.sum(r**-6.0) ** (-1.0 / 6.0))
