r"""Analytical REDOR / RESPDOR dephasing curves (vectorised numpy/scipy; no numba).

All curves are functions of the dimensionless dephasing argument

.. math::  \lambda = \kappa \, D \, t_\mathrm{rec},

where D is the dipolar coupling constant in Hz (magnitude, :mod:`spinsim.dipolar`), t_rec = N T_r
the total recoupling time in s, and kappa the dipolar scaling of the recoupling sequence relative
to ideal delta-pulse REDOR (kappa = 1 for REDOR; see :func:`recoupling_scaling`).

Models
------
REDOR, spin-1/2 pair (Mueller, Jarvie, Aurentz, Roberts, Chem. Phys. Lett. 242, 535, 1995):

.. math::  \Delta S/S_0 = 1 - \frac{\sqrt2\pi}{4} J_{1/4}(\sqrt2\lambda)\, J_{-1/4}(\sqrt2\lambda),

the powder average of 1 - cos(2 sqrt2 lambda sin 2beta sin alpha).

Population-transfer model for a spin-I partner. The pulse on I (saturation in RESPDOR, a pi pulse
in REDOR) sends Zeeman state m to m' with probability P(m'|m); the observed spin then acquires the
phase (m - m') Phi, Phi being the REDOR phase for a change of m by one. With uniform initial
populations,

.. math::  \Delta S/S_0 = \frac{1}{2I+1} \sum_{m, m'} P(m'|m)\, F_\mathrm{REDOR}(|m - m'|\lambda).

Full saturation, P = 1/(2I+1), gives the S-RESPDOR curve of Chen, Lu, Wang, Lafon, Trebosc, Deng,
Amoureux, J. Magn. Reson. 206, 269 (2010), also used by Lu et al., J. Magn. Reson. 215, 34 (2012)
and for 13C{27Al} by Pourpoint et al., ChemPhysChem 13, 3605 (2012):

.. math::  \Delta S/S_0 = \frac{2}{(2I+1)^2} \sum_{k=1}^{2I} (2I+1-k)\,[1 - S_\mathrm{REDOR}(k\lambda)],

with plateau 2I/(2I+1). A saturation efficiency epsilon mixes P with the identity,
P_eps = epsilon P + (1 - epsilon) 1; since the identity causes no dephasing, epsilon multiplies
the curve. The bonded fraction f and the partner's isotopic abundance x do the same, so data
determine only the product f * epsilon * x (the "amplitude").
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = [
    "redor_dephasing",
    "redor_signal",
    "transfer_matrix",
    "transfer_weights",
    "transfer_dephasing",
    "weighted_redor_sum",
    "respdor_dephasing",
    "respdor_plateau",
    "finite_pulse_scaling",
    "SR4_SCALING",
    "recoupling_scaling",
    "RECOUPLING_SEQUENCES",
    "TRANSFER_KINDS",
    "gaussian_distance_average",
]

_SQRT2 = np.sqrt(2.0)
_SMALL_X = 1e-4

#: Dipolar scaling of SR4_1^2 relative to ideal REDOR, pi/(4 sqrt 2) (physics.md section 4;
#: also INTERFACES' S-REDOR factor 0.5554).
SR4_SCALING = np.pi / (4.0 * _SQRT2)


def redor_dephasing(lam):
    """REDOR dephasing dS/S0 = 1 - S/S0 of an isolated spin-1/2 pair (see :func:`redor_signal`).

    Parameters
    ----------
    lam : float or array_like
        lambda = kappa D t_rec.

    Returns
    -------
    ndarray
        dS/S0; below sqrt2 lambda = 1e-4 the Taylor form (16/15) lambda^2 is used, which avoids the
        cancellation in 1 - S/S0 and is exact there to ~1e-17.
    """
    lam = np.abs(np.asarray(lam, dtype=float))
    x = _SQRT2 * lam
    small = x < _SMALL_X
    xs = np.where(small, 1.0, x)  # keep J_{-1/4} away from its pole at 0
    exact = 1.0 - (_SQRT2 * np.pi / 4.0) * special.jv(0.25, xs) * special.jv(-0.25, xs)
    return np.where(small, (16.0 / 15.0) * lam**2, exact)


def redor_signal(lam):
    """Normalised REDOR echo S/S0 of an isolated spin-1/2 pair (delta pulses, powder average).

    Parameters
    ----------
    lam : float or array_like
        Dephasing argument lambda = kappa D t_rec (dimensionless; D in Hz, t in s).

    Returns
    -------
    ndarray
        S/S0 = (sqrt2 pi / 4) J_{1/4}(sqrt2 lambda) J_{-1/4}(sqrt2 lambda).
    """
    return 1.0 - redor_dephasing(lam)




TRANSFER_KINDS = {
    "saturation": "full saturation: every m goes to any m' with probability 1/(2I+1) (RESPDOR)",
    "inversion": "ideal all-transition inversion m -> -m (REDOR pi pulses on the partner)",
    "ct-inversion": "central-transition-selective inversion: +1/2 <-> -1/2, other states untouched",
    "ct-saturation": "central-transition saturation: +1/2 and -1/2 equalised, other states untouched",
}


def _check_spin(spin: float) -> float:
    spin = float(spin)
    if spin <= 0 or abs(2 * spin - round(2 * spin)) > 1e-9 or spin > 4.5:
        raise ValueError(f"partner spin must be one of 1/2, 1, 3/2, ..., 9/2, got {spin!r}")
    return spin


#: Each of :data:`TRANSFER_KINDS` as spinsim's transfer: (its kind, the share of the efficiency). A
#: central-transition saturation is half a central-transition inversion: 0.5 (P_ct + 1).
_ENGINE_TRANSFER = {"saturation": ("full", 1.0), "inversion": ("inversion", 1.0), "ct-inversion": ("ct", 1.0),
                    "ct-saturation": ("ct", 0.5)}


def transfer_matrix(spin: float, kind: str = "saturation", efficiency: float = 1.0) -> np.ndarray:
    """Population-transfer matrix P[m', m] = P(m'|m) of the pulse on the partner spin.

    The one transfer matrix of the package is spinsim's (:func:`spinsim.simulate.transfer_matrix`,
    which the engine's ideal saturation uses); this is it in respdor's words
    (:data:`TRANSFER_KINDS`), with the partner spin and the efficiency checked.

    Parameters
    ----------
    spin : float
        Partner spin quantum number I (1/2 ... 9/2, integer included).
    kind : str
        One of :data:`TRANSFER_KINDS`: ``"saturation"``, ``"inversion"``, ``"ct-inversion"``,
        ``"ct-saturation"`` (the last two need half-integer I).
    efficiency : float
        epsilon in [0, 1]: probability that the transfer happens; with probability 1 - epsilon the
        state is unchanged.

    Returns
    -------
    ndarray, shape (2I+1, 2I+1)
        Column-stochastic matrix, rows m', columns m, both ordered m = I, I-1, ..., -I (spinsim's
        basis order). The four kinds are unchanged by reversing that order, and dS/S0
        (:func:`transfer_dephasing`) depends only on |m - m'|, so a matrix built in the opposite
        order gives the same curve.
    """
    spin = _check_spin(spin)
    if not (0.0 <= efficiency <= 1.0):
        raise ValueError(f"saturation efficiency must lie in [0, 1], got {efficiency!r}")
    if kind not in _ENGINE_TRANSFER:
        raise ValueError(f"unknown population transfer {kind!r}; choose from {', '.join(TRANSFER_KINDS)}")
    if kind.startswith("ct-") and abs(spin - round(spin)) < 1e-9:
        raise ValueError(f"{kind} needs a half-integer spin, got I = {spin}")
    import spinsim  # lazily: spinsim's public name follows the function wherever the engine keeps it

    engine_kind, share = _ENGINE_TRANSFER[kind]
    return spinsim.transfer_matrix(spin, engine_kind, share * efficiency)


def transfer_weights(p: np.ndarray) -> np.ndarray:
    """Weights w_k = (1/(2I+1)) sum_{|m-m'|=k} P(m'|m) for k = 0 ... 2I.

    dS/S0 = sum_k w_k F_REDOR(k lambda); w_0 carries no dephasing.
    """
    p = np.asarray(p, dtype=float)
    n = p.shape[0]
    if p.shape != (n, n) or not np.allclose(p.sum(axis=0), 1.0, atol=1e-9) or np.any(p < -1e-12):
        raise ValueError("population-transfer matrix must be square and column-stochastic")
    idx = np.arange(n)
    k = np.abs(idx[:, None] - idx[None, :])
    return np.bincount(k.ravel(), weights=p.ravel(), minlength=n) / n


def transfer_dephasing(lam, p: np.ndarray):
    """dS/S0 for a general population-transfer matrix (see the module docstring).

    Parameters
    ----------
    lam : float or array_like
        lambda = kappa D t_rec.
    p : ndarray
        P[m', m] from :func:`transfer_matrix` or built by the user.

    Returns
    -------
    ndarray
        dS/S0, same shape as ``lam``.
    """
    return weighted_redor_sum(lam, transfer_weights(p))


def weighted_redor_sum(lam, weights):
    """sum_k w_k F_REDOR(k lambda) for k = 1 ... len(weights) - 1 (w_0 causes no dephasing).

    Parameters
    ----------
    lam : float or array_like
        lambda = kappa D t_rec.
    weights : array_like
        w_k from :func:`transfer_weights`.
    """
    lam = np.asarray(lam, dtype=float)
    out = np.zeros_like(lam, dtype=float)
    for k in range(1, len(weights)):
        if weights[k] != 0.0:
            out = out + weights[k] * redor_dephasing(k * lam)
    return out


def respdor_dephasing(lam, spin: float):
    """S-RESPDOR dephasing under full saturation of a spin-I partner (Chen et al. 2010).

    Parameters
    ----------
    lam : float or array_like
        lambda = kappa D t_rec.
    spin : float
        Partner spin I (1/2 ... 9/2).

    Returns
    -------
    ndarray
        dS/S0 for bonded fraction 1 and complete saturation; plateau 2I/(2I+1).
    """
    spin = _check_spin(spin)
    lam = np.asarray(lam, dtype=float)
    two_i = int(round(2 * spin))
    out = np.zeros_like(lam, dtype=float)
    for k in range(1, two_i + 1):
        out = out + 2.0 * (two_i + 1 - k) / (two_i + 1) ** 2 * redor_dephasing(k * lam)
    return out


def respdor_plateau(spin: float) -> float:
    """Long-time limit 2I/(2I+1) of the fully saturated RESPDOR curve (f = 1)."""
    spin = _check_spin(spin)
    return 2.0 * spin / (2.0 * spin + 1.0)


def finite_pulse_scaling(pulse_length_s: float, rotor_period_s: float) -> float:
    """Dipolar scaling of REDOR with finite pi pulses (xy-type phase cycling).

    kappa(phi) = cos(pi phi / 2) / (1 - phi^2), phi = 2 t_p / T_r the fraction of each half rotor
    period occupied by the pulse (Jaroniec, Tounge, Rienstra, Herzfeld, Griffin, J. Magn. Reson.
    146, 132, 2000). kappa(0) = 1 and kappa(1) = pi/4.

    Parameters
    ----------
    pulse_length_s : float
        pi-pulse length in s.
    rotor_period_s : float
        Rotor period T_r in s.

    Returns
    -------
    float
        kappa, to multiply D.
    """
    if pulse_length_s < 0 or rotor_period_s <= 0:
        raise ValueError("pulse length must be >= 0 and rotor period > 0")
    phi = 2.0 * pulse_length_s / rotor_period_s
    if phi > 1.0:
        raise ValueError(
            f"pi pulse of {pulse_length_s * 1e6:.2f} us does not fit in half a rotor period "
            f"({rotor_period_s * 5e5:.2f} us)"
        )
    if abs(1.0 - phi) < 1e-8:
        return np.pi / 4.0
    return float(np.cos(np.pi * phi / 2.0) / (1.0 - phi**2))


RECOUPLING_SEQUENCES = {
    "redor": "ideal REDOR (delta pulses), kappa = 1",
    "redor-finite": "REDOR with finite pi pulses, kappa = cos(pi phi/2)/(1 - phi^2), phi = 2 t_p/T_r",
    "sr4": "SR4_1^2 symmetry-based recoupling (S-RESPDOR), kappa = pi/(4 sqrt2) = 0.5554",
}


def recoupling_scaling(sequence: str = "redor", pulse_length_s=None, rotor_period_s=None) -> float:
    """Dipolar scaling kappa of a recoupling sequence relative to ideal REDOR.

    Parameters
    ----------
    sequence : str
        ``"redor"`` (1), ``"redor-finite"`` (needs ``pulse_length_s`` and ``rotor_period_s``),
        or ``"sr4"`` (pi/(4 sqrt 2)). Shaped or adiabatic recoupling (e.g. the adiabatic SR4 used
        for 111Cd{27Al}) has no closed form: compute kappa from the waveform with ``spinsim`` or
        fit it.
    pulse_length_s, rotor_period_s : float, optional
        For ``"redor-finite"``.

    Returns
    -------
    float
    """
    key = sequence.lower()
    if key == "redor":
        return 1.0
    if key == "sr4":
        return float(SR4_SCALING)
    if key == "redor-finite":
        if pulse_length_s is None or rotor_period_s is None:
            raise ValueError("redor-finite needs the pi-pulse length and the rotor period")
        return finite_pulse_scaling(pulse_length_s, rotor_period_s)
    raise ValueError(f"unknown recoupling sequence {sequence!r}; choose from {', '.join(RECOUPLING_SEQUENCES)}")


# Gauss-Hermite nodes for averages over a Gaussian distance distribution. 80 nodes are needed
# because short distances make the curve oscillate in r (40 nodes leave ~1e-4 errors); nodes beyond
# 6.5 sigma carry < 1e-9 of the weight and are dropped to save work.
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(80)
_GH_KEEP = np.abs(_GH_X) <= 6.5
_GH_X, _GH_W = _GH_X[_GH_KEEP], _GH_W[_GH_KEEP] / _GH_W[_GH_KEEP].sum()


def gaussian_distance_average(curve_of_distance, distance, width):
    """Average a curve over a Gaussian distribution of distances, truncated at r > 0.

    Parameters
    ----------
    curve_of_distance : callable
        ``f(r) -> ndarray`` for a scalar distance r.
    distance : float
        Mean distance (any unit, same as ``width``).
    width : float
        Standard deviation of the distribution (same unit). 0 returns ``f(distance)``.

    Returns
    -------
    ndarray
        sum_j w_j f(r_j) over the Gauss-Hermite nodes within 6.5 sigma (80-point rule), with nodes at r <= 0.05 * distance dropped
        and the weights renormalised (the truncation).
    """
    if width < 0:
        raise ValueError(f"distance width must be >= 0, got {width!r}")
    if width == 0:
        return curve_of_distance(distance)
    r = distance + width * _GH_X
    keep = r > 0.05 * distance
    w = _GH_W[keep] / _GH_W[keep].sum()
    total = 0.0
    for rj, wj in zip(r[keep], w):
        total = total + wj * curve_of_distance(rj)
    return total
