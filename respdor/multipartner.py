r"""Dephasing by two partners: the exact per-crystallite product, for fits that ask the curve itself.

An observed spin-1/2 S with partners I_1 .. I_n coupled to S but not to each other (their mutual
coupling neglected: exact for the ZZ part, which commutes with everything here, and a good
approximation while the partner-partner flip-flop is slow against the recoupling) dephases, in
each crystallite, by the product of the partners' signals:

.. math::  S/S_0 = \Big\langle \prod_k s_k \Big\rangle, \qquad
           s_k = x \sum_{j=0}^{2I} w_j \cos(j \Phi_k) + (1 - x),
           \qquad \Phi_k = 2\sqrt2\, \kappa D_k t \,\sin 2\beta_k \sin\alpha_k ,

with (beta_k, alpha_k) the polar and azimuthal angles of the S-I_k vector in the rotor frame at the
start of recoupling, w_j the population-transfer weights of :func:`respdor.models.transfer_weights`
(the same as the analytical two-spin fits use), kappa the recoupling scaling and x the partner's
isotopic abundance. For one partner the powder average is the closed-form curve of
:mod:`respdor.models` (REDOR Bessel form, Chen et al.'s S-RESPDOR sum); for two partners it depends
on the angle theta between the two vectors. A bonded fraction f of sites carries the partners:
dS/S0 = f (1 - <prod_k s_k>).

Symmetry: each s_k is even in Phi_k, and inverting one vector changes the sign of its Phi_k only,
so theta and 180 deg - theta give the same curve: the angle is reported in [0, 90] deg.

The powder average runs over rigid rotations of the pair of vectors: a ZCW (alpha, beta) set for
the orientation of the first vector and the turn of the second about it, times equally spaced
rotor phases (:class:`spinsim.powder.Powder` with ``n_gamma``). :func:`powder_for` picks the size
from the largest phase j kappa D t reached; the fits check the result at a finer powder.
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["vector_geometry", "pair_geometry", "partners_dephasing", "powder_for", "powder_error"]

_TWO_SQRT2 = 2.0 * math.sqrt(2.0)


#: A fixed generic turn of the partner vectors inside each crystallite (ZYZ Euler angles, rad): no
#: vector then lies on an axis of the powder set, where its phase would be sampled by the rotor
#: phases alone (the quadrature error is then shared evenly by the partners).
_BODY_TURN = (0.37, 1.13, 0.71)


def _rotations(a, b, c):
    """Rz(a) Ry(b) Rz(c) for arrays of angles: shape (n, 3, 3)."""
    ca, sa, cb, sb, cc, sc = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(c), np.sin(c)
    return np.stack([
        np.stack([ca * cb * cc - sa * sc, -ca * cb * sc - sa * cc, ca * sb], -1),
        np.stack([sa * cb * cc + ca * sc, -sa * cb * sc + ca * cc, sa * sb], -1),
        np.stack([-sb * cc, sb * sc, cb], -1),
    ], -2)


def vector_geometry(vectors, powder):
    """Geometric factors 2 sqrt2 sin(2 beta_k) sin(alpha_k) of rigidly joined vectors, per crystallite.

    Parameters
    ----------
    vectors : array_like, shape (n_partners, 3)
        Directions of the observed-partner vectors in one frame (lengths ignored).
    powder : spinsim.powder.Powder
        Orientations of that frame in the rotor frame (R = Rz(gamma) Ry(beta) Rz(alpha), gamma the
        rotor phase at the start of recoupling).

    Returns
    -------
    g : ndarray, shape (n_crystallites, n_partners)
        The factor that multiplies kappa D t in the REDOR phase of each vector.
    weights : ndarray, shape (n_crystallites,)
        Crystallite weights (sum 1).

    Notes
    -----
    With an even number of equally spaced rotor phases, the phases gamma and gamma + pi of one
    (alpha, beta) give exactly opposite factors (every vector's azimuth turns by pi), and each
    partner's signal is even in its phase: only the first half of the rotor phases is returned, with
    twice the weight. The powder average is the same; its cost is halved.
    """
    v = np.atleast_2d(np.asarray(vectors, float))
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    v = v @ _rotations(*(np.array([x]) for x in _BODY_TURN))[0].T
    rows_y, rows_z, weights = _rotor_rows(powder)
    # for a unit vector (x, y, z): sin(2 beta) sin(alpha) = 2 cos(beta) sin(beta) sin(alpha) = 2 z y
    return _TWO_SQRT2 * 2.0 * (rows_z @ v.T) * (rows_y @ v.T), weights.copy()


#: Rotor-frame rows of the last few powders (the fits ask for the same powder at many angles).
_ROWS_CACHE: dict = {}


def _rotor_rows(powder):
    """The y and z rows (n_c, 3) of each crystallite's rotation into the rotor frame, and the weights,
    over the rotor phases :func:`_half_rotor_phases` keeps."""
    key = (powder.name, int(powder.n_gamma), powder.alpha.tobytes(), powder.beta.tobytes(), powder.weights.tobytes())
    if key not in _ROWS_CACHE:
        if len(_ROWS_CACHE) >= 4:
            _ROWS_CACHE.pop(next(iter(_ROWS_CACHE)))
        euler, weights = _half_rotor_phases(powder)
        rot = _rotations(euler[:, 0], euler[:, 1], euler[:, 2])
        _ROWS_CACHE[key] = (np.ascontiguousarray(rot[:, 1, :]), np.ascontiguousarray(rot[:, 2, :]), weights)
    return _ROWS_CACHE[key]


def _half_rotor_phases(powder):
    """The powder's crystallites (:meth:`~spinsim.powder.Powder.euler_full`: gamma first and fastest),
    only the rotor phases below pi, with twice the weight, when the phases come in pairs gamma,
    gamma + pi (an even number, equally spaced); else all of them."""
    euler, weights = powder.euler_full()
    n = int(powder.n_gamma)
    gammas = euler[:n, 0]
    paired = n % 2 == 0 and np.allclose(np.diff(gammas), 2.0 * math.pi / n, rtol=0.0, atol=1e-12)
    if not paired:
        return euler, weights
    keep = (np.arange(euler.shape[0]) % n) < n // 2
    return euler[keep], 2.0 * weights[keep]


def pair_geometry(angle_deg, powder):
    """:func:`vector_geometry` of two vectors ``angle_deg`` apart (degrees)."""
    half = math.radians(float(angle_deg)) / 2.0
    return vector_geometry([[-math.sin(half), 0.0, math.cos(half)], [math.sin(half), 0.0, math.cos(half)]], powder)


def partners_dephasing(time_s, couplings_hz, geometry, weights, transfer_weights, scaling=1.0, abundance=1.0):
    """dS/S0 for fraction 1 of an observed spin with the given partners (see the module docstring).

    Parameters
    ----------
    time_s : array_like
        Recoupling times (s).
    couplings_hz : sequence of float
        D of each partner (Hz), in the order of the columns of ``geometry``.
    geometry : ndarray, shape (n_crystallites, n_partners)
        From :func:`pair_geometry`.
    weights : ndarray
        Crystallite weights.
    transfer_weights : ndarray
        w_j, j = 0 .. 2I (:func:`respdor.models.transfer_weights`).
    scaling : float
        kappa of the recoupling sequence.
    abundance : float
        Isotopic abundance x of the partner nucleus (each partner site present with probability x).

    Returns
    -------
    ndarray
        dS/S0 at ``time_s``.
    """
    from ._partners_kernel import product_dephasing, product_dephasing_steps

    t = np.atleast_1d(np.asarray(time_s, float))
    couplings = np.asarray(couplings_hz, float)
    geometry, weights = np.ascontiguousarray(geometry, float), np.asarray(weights, float)
    poly = _signal_polynomial(transfer_weights, abundance)
    grid = _common_step(t)
    if grid is not None:
        step, steps = grid
        return product_dephasing_steps(geometry, weights, scaling * couplings * step, steps, poly)
    return product_dephasing(geometry, weights, scaling * np.outer(couplings, t), poly)


def _signal_polynomial(transfer_weights, abundance):
    """Coefficients (constant first) of one partner's signal x sum_j w_j T_j(c) + 1 - x as a
    polynomial in c = cos(phase) (T_j the Chebyshev polynomials: cos(j phase) = T_j(cos phase))."""
    return _polynomial_of(tuple(np.asarray(transfer_weights, float).tolist()), float(abundance))


@functools.lru_cache(maxsize=32)
def _polynomial_of(transfer_weights, abundance):
    from numpy.polynomial import chebyshev

    poly = abundance * chebyshev.cheb2poly(np.asarray(transfer_weights, float))
    poly[0] += 1.0 - abundance
    poly.setflags(write=False)
    return poly


#: Largest number of steps :func:`_common_step` accepts (beyond it a cosine per time point is cheaper).
_MAX_STEPS = 4096


def _common_step(t):
    """(dt, m) with t = m dt, m whole numbers >= 0, when the times are multiples of one step (rotor-
    synchronised times are: t = N tau_R) and the largest m is at most :data:`_MAX_STEPS`; else None."""
    return _common_step_of(t.tobytes())


@functools.lru_cache(maxsize=32)
def _common_step_of(t_bytes):
    t = np.frombuffer(t_bytes, float)
    positive = t[t > 0]
    if positive.size == 0 or np.any(t < 0):
        return None
    ratios = t / positive.min()
    for q in range(1, 33):
        steps = np.rint(q * ratios)
        if np.all(np.abs(q * ratios - steps) <= 1e-12 * np.maximum(steps, 1.0)) and steps.max() <= _MAX_STEPS:
            steps = steps.astype(np.int64)
            steps.setflags(write=False)
            return positive.min() / q, steps
    return None


def powder_for(max_phase, factor=1.0):
    """A powder fine enough for REDOR phases up to ``max_phase`` (rad), scaled in size by ``factor``.

    The rotor-phase count follows the phase (one point per ~0.6 rad of the largest j kappa D t
    sin-amplitude), the ZCW set the square of it; the smallest is ZCW 144 x 16, the largest
    ZCW 2584 x 48 (beyond it the curve is on its plateau, where the crystallites' phases are spread
    over many turns and the average converges without following each turn; the fits report the
    change at a finer powder).
    """
    from spinsim.powder import zcw

    n_gamma = int(min(48 * factor, max(16, math.ceil(factor * max_phase * _TWO_SQRT2 / 1.2))))
    n_ab = int(min(2584 * factor ** 2, max(144, math.ceil(factor * 6.0 * n_gamma ** 2 / 4.0))))
    return zcw(n_ab, n_gamma)


def powder_error(curve_of, max_phase, factor=1.0):
    """Largest change of a curve between a powder and one twice as fine in each direction.

    Parameters
    ----------
    curve_of : callable
        ``curve_of(powder) -> ndarray``.
    max_phase : float
        Largest j kappa D t (rad) of the curve.
    factor : float
        Size factor of the powder checked (:func:`powder_for`); the finer one has twice it.

    Returns
    -------
    float
        max |dS/S0(powder) - dS/S0(finer)|.
    """
    coarse, fine = powder_for(max_phase, factor), powder_for(max_phase, 2.0 * factor)
    return float(np.max(np.abs(curve_of(coarse) - curve_of(fine))))
