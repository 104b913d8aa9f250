r"""Heteronuclear second moments and the initial rise of REDOR / RESPDOR curves.

Units: M2 is in rad^2 s^-2 (angular frequency squared), as in van Vleck's formula and in the REDOR
literature (values of order 1e6 rad^2 s^-2); ``M2 / (2 pi)^2`` is the same moment in Hz^2.
Couplings D are in Hz (:mod:`spinsim.dipolar`), distances in angstrom at the edges, times in s.

Van Vleck second moment
-----------------------
For an observed spin-1/2 S and partners I_j of one isotope (spin I),

.. math::  M_2 = \frac{4}{15} I(I+1) \sum_j (2\pi D_j)^2
              = \frac{4}{15}\Big(\frac{\mu_0}{4\pi}\Big)^2 \gamma_I^2\gamma_S^2\hbar^2 I(I+1) \sum_j r_j^{-6}.

Partner sites occupied with probability x (isotopic abundance) contribute x (2 pi D_j)^2: the mean
M2 over the occupancy patterns. The effective distance of an M2 is the single partner distance
with the same M2, r_eff = (sum_j r_j^-6)^(-1/6).

Initial rise (derivation)
-------------------------
In each crystallite the pulse on partner j takes its Zeeman state m to m' with probability
P(m'|m) (:func:`respdor.models.transfer_matrix`), and the observed spin acquires the phase
phi_j = (m - m') 2 sqrt2 lambda_j s_j(Omega), with lambda_j = kappa D_j t and
s_j = sin 2beta_j sin alpha_j (the REDOR phase of a spin-1/2 pair; kappa the scaling of the
recoupling sequence). For partners coupled only to the observed spin,

.. math::  S/S_0 = \Big\langle \prod_j \langle \cos\phi_j \rangle_{m, m'} \Big\rangle_\Omega .

Expanding each cosine to second order, the cross terms vanish and the powder average of s_j^2 is
<sin^2 2beta> <sin^2 alpha> = (8/15)(1/2) = 4/15 for every direction, so

.. math::  \Delta S/S_0 = \frac{16}{15} \langle\Delta m^2\rangle \sum_j \lambda_j^2 + O(t^4)
           = A\,\kappa^2 \frac{\langle\Delta m^2\rangle}{\pi^2 I(I+1)}\, M_2 t^2 + O(t^4),

independent of the geometry, where <Delta m^2> = (1/(2I+1)) sum_{m,m'} P(m'|m) (m - m')^2 and A is
the amplitude (bonded fraction f times saturation efficiency, which multiply the curve). Hence:

* REDOR, ideal inversion m -> -m: <Delta m^2> = (4/3) I(I+1), so
  dS/S0 = (4/(3 pi^2)) M2 t^2 for every partner spin (Bertmer & Eckert, Solid State Nucl. Magn.
  Reson. 15, 139, 1999);
* RESPDOR, full saturation: <Delta m^2> = 2 Var(m) = (2/3) I(I+1), so
  dS/S0 = f (2/(3 pi^2)) M2 t^2, half the REDOR value (the form used for RESPDOR of quadrupolar
  partners in glasses);
* central-transition inversion of a half-integer spin: <Delta m^2> = 2/(2I+1).

The form dS/S0 = M2 t^2 / (I(I+1) pi^2) also found in the literature is the general expression with
<Delta m^2> = 1: it agrees with 4/(3 pi^2) for I = 1/2 only, and for an ideally inverted spin-5/2 it
would read M2 35/3 times too large (tests/test_moments.py checks both against spinsim).

The parabolic regime
--------------------
The next term is negative (1 - <cos x> <= <x^2>/2) and grows with the kurtosis of the phase
distribution: more for quadrupolar partners under saturation (large jumps |m - m'| are rare but
dephase fast) and, for many partners, towards the Gaussian limit 1 - exp(-x). :func:`parabolic_limit`
gives the normalised dephasing (dS/S0)/A up to which the t^2 law is within a relative ``tolerance``
of both the exact two-spin curve and the Gaussian limit; the RESPDOR bound lambda << 1/(2I) is its
two-spin form.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["M2_UNIT", "van_vleck_m2", "van_vleck_m2_from_couplings", "effective_coupling_hz",
           "effective_distance_angstrom", "mean_square_jump", "initial_rise_prefactor", "parabolic_limit",
           "short_time_dephasing", "default_transfer", "EXPERIMENTS"]

#: The unit of every M2 in respdor.
M2_UNIT = "rad^2 s^-2"

#: Experiments and the population transfer of their partner pulse by default.
EXPERIMENTS = {"respdor": "saturation", "redor": "inversion"}


def default_transfer(experiment: str) -> str:
    """The population transfer of ``experiment`` (``"respdor"``: saturation, ``"redor"``: inversion)."""
    try:
        return EXPERIMENTS[experiment]
    except KeyError:
        raise ValueError(f"unknown experiment {experiment!r}; choose respdor or redor") from None


def _spin(isotope) -> float:
    from spinsim.isotopes import get_isotope

    return float(get_isotope(isotope).spin)


def van_vleck_m2_from_couplings(couplings_hz, partner_spin: float, abundance: float = 1.0) -> float:
    """Van Vleck heteronuclear M2 (rad^2 s^-2) from the dipolar couplings D_j (Hz) to partners of spin I.

    M2 = (4/15) I(I+1) x sum_j (2 pi D_j)^2, with x the probability that a site holds the partner
    isotope.

    Examples
    --------
    >>> round(van_vleck_m2_from_couplings([1000.0], 0.5) / 1e6, 4)  # 4 pi^2 / 5 * 1e6
    7.8957
    """
    d = np.asarray(couplings_hz, dtype=float)
    spin = float(partner_spin)
    return float(4.0 / 15.0 * spin * (spin + 1.0) * float(abundance) * np.sum((2.0 * np.pi * d) ** 2))


def van_vleck_m2(distances_angstrom, observed: str, partner: str, abundance: float = 1.0) -> float:
    """Van Vleck heteronuclear M2 (rad^2 s^-2) of an observed spin with partners at the given distances.

    Parameters
    ----------
    distances_angstrom : array_like
        Distances r_j (angstrom) to the partners, all of isotope ``partner``.
    observed, partner : str
        Isotopes, e.g. ``"13C"`` and ``"27Al"``.
    abundance : float
        Probability that a partner site holds the partner isotope (1 for 27Al).

    Returns
    -------
    float
        M2 = (4/15)(mu0/4pi)^2 gamma_I^2 gamma_S^2 hbar^2 I(I+1) x sum_j r_j^-6.

    Examples
    --------
    >>> round(van_vleck_m2([2.5], "13C", "27Al") / 1e6, 3)
    23.418
    """
    from spinsim.dipolar import coupling_from_distance

    r = np.atleast_1d(np.asarray(distances_angstrom, dtype=float))
    if r.size == 0:
        return 0.0
    d = coupling_from_distance(r, observed, partner)
    return van_vleck_m2_from_couplings(d, _spin(partner), abundance)


def effective_coupling_hz(m2: float, partner: str) -> float:
    """The coupling D (Hz) of one partner with this M2 (rad^2 s^-2): sqrt(sum_j D_j^2)."""
    spin = _spin(partner)
    return math.sqrt(max(float(m2), 0.0) / (4.0 / 15.0 * spin * (spin + 1.0))) / (2.0 * math.pi)


def effective_distance_angstrom(m2: float, observed: str, partner: str) -> float:
    """The distance (angstrom) of one partner with this M2 (rad^2 s^-2): (sum_j r_j^-6)^(-1/6); inf for M2 <= 0."""
    from spinsim.dipolar import distance_from_coupling

    d = effective_coupling_hz(m2, partner)
    return float(distance_from_coupling(d, observed, partner)) if d > 0 else math.inf


def mean_square_jump(partner_spin: float, transfer: str = "saturation", efficiency: float = 1.0) -> float:
    """<Delta m^2> = (1/(2I+1)) sum_{m,m'} P(m'|m) (m - m')^2 of the pulse on the partner.

    (4/3) I(I+1) for ideal inversion, (2/3) I(I+1) for full saturation, 2/(2I+1) for
    central-transition inversion (see the module docstring).
    """
    from .models import transfer_matrix, transfer_weights

    w = transfer_weights(transfer_matrix(partner_spin, transfer, efficiency))
    k = np.arange(len(w))
    return float(np.sum(w * k**2))


def initial_rise_prefactor(partner: str, transfer: str = "saturation", scaling: float = 1.0,
                           amplitude: float = 1.0) -> float:
    """C in dS/S0 = C M2 t^2 + O(t^4), for M2 in rad^2 s^-2 and t in s.

    C = A kappa^2 <Delta m^2> / (pi^2 I(I+1)): 4/(3 pi^2) for REDOR with ideal inversion,
    f 2/(3 pi^2) for RESPDOR with full saturation (derivation in the module docstring).

    Parameters
    ----------
    partner : str
        Partner isotope (its spin I).
    transfer : str
        Population transfer of the partner pulse (:data:`respdor.models.TRANSFER_KINDS`).
    scaling : float
        kappa, the dipolar scaling of the recoupling sequence (:func:`respdor.models.recoupling_scaling`).
    amplitude : float
        A = bonded fraction x saturation efficiency (they multiply the curve).

    Examples
    --------
    >>> round(initial_rise_prefactor("27Al", "inversion") * 3 * 3.141592653589793**2 / 4, 12)
    1.0
    """
    spin = _spin(partner)
    return float(amplitude) * float(scaling) ** 2 * mean_square_jump(spin, transfer) / (math.pi**2 * spin * (spin + 1))


def short_time_dephasing(m2: float, times_s, partner: str, transfer: str = "saturation", scaling: float = 1.0,
                         amplitude: float = 1.0):
    """The t^2 law C M2 t^2 (dS/S0) at ``times_s`` (s) for M2 in rad^2 s^-2."""
    t = np.asarray(times_s, dtype=float)
    return initial_rise_prefactor(partner, transfer, scaling, amplitude) * float(m2) * t**2


def _two_spin_curve(spin, transfer):
    from .models import transfer_matrix, transfer_weights, weighted_redor_sum

    w = transfer_weights(transfer_matrix(spin, transfer))
    return lambda lam: float(weighted_redor_sum(lam, w))


def parabolic_limit(partner: str, transfer: str = "saturation", tolerance: float = 0.1) -> dict:
    """How far the t^2 law holds: the normalised dephasing (dS/S0)/A below which it is within ``tolerance``.

    Two curves bound the relative shortfall 1 - (dS/S0)/(C M2 t^2) of real curves at a given
    dephasing: the exact curve of one partner (whose phase distribution has the kurtosis of the
    jumps |m - m'|) and the Gaussian limit 1 - exp(-C M2 t^2) of many partners. The smaller of
    their bounds is returned.

    Parameters
    ----------
    partner : str
        Partner isotope.
    transfer : str
        Population transfer of the partner pulse.
    tolerance : float
        Largest accepted relative shortfall of the curve below its t^2 law, in (0, 0.5].

    Returns
    -------
    dict
        ``dephasing``: the bound on (dS/S0)/A; ``parabola``: the t^2 law's value there
        (dephasing / (1 - tolerance)); ``lambda_two_spin``: lambda = kappa D t of one partner at
        its bound; ``two_spin``, ``gaussian``: the bound of each curve.
    """
    from scipy.optimize import brentq

    tol = float(tolerance)
    if not 0 < tol <= 0.5:
        raise ValueError(f"tolerance must lie in (0, 0.5], got {tolerance!r}")
    spin = _spin(partner)
    curve = _two_spin_curve(spin, transfer)
    c2 = 16.0 / 15.0 * mean_square_jump(spin, transfer)  # dS/S0 = c2 lambda^2 at short times
    # the shortfall grows monotonically from 0 over the first rise (it is c4/c2 lambda^2 at first)
    lam = brentq(lambda x: 1.0 - curve(x) / (c2 * x * x) - tol, 1e-4, 2.0 / math.sqrt(c2))
    two_spin = curve(lam)
    x = brentq(lambda u: (1.0 - math.exp(-u)) / u - (1.0 - tol), 1e-9, 50.0)
    gaussian = 1.0 - math.exp(-x)
    bound = min(two_spin, gaussian)
    return {"dephasing": bound, "parabola": bound / (1.0 - tol), "lambda_two_spin": float(lam),
            "two_spin": float(two_spin), "gaussian": float(gaussian), "tolerance": tol}
