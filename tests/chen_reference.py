"""Complete-saturation RESPDOR (Chen et al. 2010) written out literally: the independent truth
that simulated tables are checked against (kept apart from respdor.models on purpose)."""

import numpy as np
from scipy.special import jv


def chen_full(lam, spin):
    """dS/S0 for complete saturation of a spin-``spin`` partner at lambda = D t (D in Hz, t in s)."""
    lam = np.maximum(np.asarray(lam, float), 1e-12)
    tot = 0.0
    for k in range(1, int(round(2 * spin)) + 1):
        x = k * np.sqrt(2) * lam
        tot = tot + (4 * spin + 2 - 2 * k) * jv(0.25, x) * jv(-0.25, x)
    return (2 * spin - np.sqrt(2) * np.pi / (4 * (2 * spin + 1)) * tot) / (2 * spin + 1)
