"""Slow, obviously-correct reference for sideband intensities (test helper, not a test module).

Brute-force time-domain powder integration: full sphere of crystallites (Gauss-Legendre in
cos beta, uniform alpha and gamma), the frequency nu(t) = nu0 * 1e-6 * b(t)^T R Delta R^T b(t)
evaluated from explicit rotation matrices, the phase integrated numerically (cumulative
trapezoid on a fine grid), the signal summed over crystallites and Fourier analysed over one
rotor period. It shares no code with spinsim.sidebands (no Fourier components c_m, no
carousel |F_k|^2 trick, different orientation set).
"""

import numpy as np


def _rz(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _ry(b):
    c, s = np.cos(b), np.sin(b)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def brute_force_sidebands(principal_ppm, larmor_hz, mas_hz, n_sidebands, n_beta=40, n_alpha=40, n_gamma=32, n_t=512):
    """I_k for k = -K..K from explicit time-domain powder integration (sum normalised to 1)."""
    d = np.asarray(principal_ppm, float)
    aniso = np.diag(d - d.mean()) * abs(larmor_hz) * 1e-6  # Hz
    theta = np.arccos(1.0 / np.sqrt(3.0))
    tr = 1.0 / mas_hz
    t = np.linspace(0.0, tr, n_t + 1)
    # B0 direction in the rotor frame, rotating with the rotor (same sense as in physics.md 5.1).
    b = np.stack([np.sin(theta) * np.cos(2 * np.pi * mas_hz * t),
                  -np.sin(theta) * np.sin(2 * np.pi * mas_hz * t),
                  np.full_like(t, np.cos(theta))])
    x, wx = np.polynomial.legendre.leggauss(n_beta)  # cos(beta) on [-1, 1]: full sphere
    signal = np.zeros(n_t + 1, complex)
    wsum = 0.0
    for cb, wb in zip(x, wx):
        beta = np.arccos(cb)
        for alpha in np.arange(n_alpha) * 2 * np.pi / n_alpha:
            for gamma in np.arange(n_gamma) * 2 * np.pi / n_gamma:
                r = _rz(gamma) @ _ry(beta) @ _rz(alpha)
                a = r @ aniso @ r.T
                nu = np.einsum("it,ij,jt->t", b, a, b)
                phase = np.concatenate([[0.0], np.cumsum(0.5 * (nu[1:] + nu[:-1]) * np.diff(t))]) * 2 * np.pi
                signal += wb * np.exp(1j * phase)
                wsum += wb
    signal /= wsum
    s = signal[:-1]
    coeff = np.fft.fft(s) / n_t
    k = np.arange(-n_sidebands, n_sidebands + 1)
    return k, coeff[k % n_t].real
