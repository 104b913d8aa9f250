"""Compiled kernels of :mod:`respdor.multipartner` (imported on first use: ``import respdor`` compiles nothing).

Each partner's signal x sum_j w_j cos(j phase) + 1 - x is a polynomial in cos(phase) (cos(j phase) is
the Chebyshev polynomial T_j of it): the kernels take its coefficients ``poly`` (constant first) and
evaluate it by Horner's rule.
"""

import math

import numpy as np
from numba import njit

#: Rotation steps between exact re-seeds of (cos, sin) in :func:`product_dephasing_steps`: the
#: rounding of the running rotation grows by ~1e-16 per step and is reset to a fresh cosine here.
_RESEED = 64


@njit(cache=True)
def _horner(poly, x):  # pragma: no cover - compiled
    acc = poly[poly.size - 1]
    for j in range(poly.size - 2, -1, -1):
        acc = acc * x + poly[j]
    return acc


@njit(cache=True)
def product_dephasing(geometry, weights, lam, poly):  # pragma: no cover - compiled
    """1 - sum_c w_c prod_k poly(cos(g_ck lam_kt)) for every time t.

    geometry (n_c, n_k), weights (n_c), lam (n_k, n_t) = kappa D_k t. One cosine per crystallite,
    partner and time.
    """
    n_c, n_k = geometry.shape
    n_t = lam.shape[1]
    signal = np.zeros(n_t)
    for c in range(n_c):
        for it in range(n_t):
            s = 1.0
            for k in range(n_k):
                s *= _horner(poly, math.cos(geometry[c, k] * lam[k, it]))
            signal[it] += weights[c] * s
    return 1.0 - signal


@njit(cache=True)
def product_dephasing_steps(geometry, weights, lam_step, steps, poly):  # pragma: no cover - compiled
    """:func:`product_dephasing` for times that are whole multiples ``steps`` (n_t, >= 0) of one step.

    lam_step (n_k) = kappa D_k dt. The phase of each crystallite and partner at m steps is reached by
    turning (cos, sin) of one step m times (re-seeded with a fresh cosine every ``_RESEED`` steps):
    no cosine per time point.
    """
    n_c, n_k = geometry.shape
    n_t = steps.size
    m_max = 0
    for it in range(n_t):
        m_max = max(m_max, steps[it])
    cosines = np.empty((n_k, m_max + 1))
    signal = np.zeros(n_t)
    for c in range(n_c):
        for k in range(n_k):
            theta = geometry[c, k] * lam_step[k]
            c1, s1 = math.cos(theta), math.sin(theta)
            cm, sm = 1.0, 0.0
            cosines[k, 0] = 1.0
            for m in range(1, m_max + 1):
                if m % _RESEED == 0:
                    cm, sm = math.cos(m * theta), math.sin(m * theta)
                else:
                    cm, sm = cm * c1 - sm * s1, sm * c1 + cm * s1
                cosines[k, m] = cm
        for it in range(n_t):
            s = 1.0
            for k in range(n_k):
                s *= _horner(poly, cosines[k, steps[it]])
            signal[it] += weights[c] * s
    return 1.0 - signal
