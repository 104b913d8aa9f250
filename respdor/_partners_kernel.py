"""Compiled kernel of :mod:`respdor.multipartner` (imported on first use: ``import respdor`` compiles nothing)."""

import math

import numpy as np
from numba import njit


@njit(cache=True)
def product_dephasing(geometry, weights, lam, transfer_weights, abundance):  # pragma: no cover - compiled
    """1 - sum_c w_c prod_k [x sum_j w_j cos(j g_ck lam_kt) + 1 - x] for every time t.

    geometry (n_c, n_k), weights (n_c), lam (n_k, n_t) = kappa D_k t, transfer_weights (2I + 1).
    The sum over j runs by the Chebyshev recurrence: one cosine per crystallite, partner and time.
    """
    n_c, n_k = geometry.shape
    n_t = lam.shape[1]
    n_j = transfer_weights.size
    signal = np.zeros(n_t)
    for c in range(n_c):
        for it in range(n_t):
            s = 1.0
            for k in range(n_k):
                c1 = math.cos(geometry[c, k] * lam[k, it])
                acc = transfer_weights[0]
                if n_j > 1:
                    acc += transfer_weights[1] * c1
                prev, cur = 1.0, c1
                for j in range(2, n_j):
                    prev, cur = cur, 2.0 * c1 * cur - prev
                    acc += transfer_weights[j] * cur
                s *= abundance * acc + (1.0 - abundance)
            signal[it] += weights[c] * s
    return 1.0 - signal
