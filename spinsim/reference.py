"""A straightforward numpy/scipy implementation of the same physics, for tests and benchmarks.

Every recoupling time is propagated from scratch, slice by slice (free evolution included, at
``max_dt``), each slice with ``scipy.linalg.expm`` of the full product-space Hamiltonian. The
diagonal of each slice is its exact average over the slice (from the same Fourier coefficients),
so the result is the same piecewise-constant propagation as the kernels', computed a different
way. It is slow on purpose: it is the baseline of ``benchmarks/bench_spinsim.py``.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import expm

from .hamiltonian import N_HARM, channel_operators, full_diagonal, interaction_components, spin_operators
from .sequences import Block, ideal_pulse

__all__ = ["reference_signals"]


def _avg_diag(F, t0, dt, wr):
    k = np.arange(-N_HARM, N_HARM + 1)
    fac = np.ones(len(k), complex)
    nz = k != 0
    fac[nz] = (np.exp(1j * k[nz] * wr * (t0 + dt)) - np.exp(1j * k[nz] * wr * t0)) / (1j * k[nz] * wr * dt)
    return np.real(fac @ F)


def _first_moment(F, t0, dt, wr):
    """(1/dt) integral over the slice of (t - t_mid) omega(t) dt (rad), by 8-point Gauss-Legendre
    quadrature (exact to rounding for these band-limited terms; independent of the kernels' closed form)."""
    x, w = np.polynomial.legendre.leggauss(8)
    u = x * dt / 2
    k = np.arange(-N_HARM, N_HARM + 1)
    vals = np.real(np.exp(1j * np.outer(t0 + dt / 2 + u, k) * wr) @ F)
    return (w * u) @ vals / 2


def _propagator(events, F, ops, wr, max_dt, dim, magnus4=False):
    U = np.eye(dim, dtype=complex)
    t = 0.0
    for e in events:
        if e.ideal is not None:
            ch, flip, ph = e.ideal
            fx, fy = ops[ch]
            U = expm(-1j * np.radians(flip) * (np.cos(np.radians(ph)) * fx + np.sin(np.radians(ph)) * fy)) @ U
        if e.duration <= 0:
            continue
        n = int(np.ceil(e.duration / max_dt - 1e-9))
        d = e.duration / n
        hrf = np.zeros((dim, dim), complex)
        for ch, (amp, ph) in e.rf.items():
            if amp > 0:
                fx, fy = ops[ch]
                hrf += 2 * np.pi * amp * (np.cos(np.radians(ph)) * fx + np.sin(np.radians(ph)) * fy)
        for k in range(n):
            h = (hrf + np.diag(_avg_diag(F, t + k * d, d, wr))) * d
            if magnus4:  # exp(-i (M0 - i [M1, M0])), M1 = (1/d) int (t - t_mid) H dt
                m1 = np.diag(_first_moment(F, t + k * d, d, wr))
                h = h - 1j * (m1 @ h - h @ m1)
            U = expm(-1j * h) @ U
        t += e.duration
    return U


def reference_signals(system, mas_rate, cycle: Block, centre, ns, euler, max_dt=0.5e-6, transfer=None,
                      initial="x", cycle_after: Block = None, magnus4=False):
    """Complex S-coherence amplitudes for each crystallite and recoupling count, by brute force.

    Parameters
    ----------
    system : SpinSystem
    mas_rate : float
        Hz.
    cycle : Block
        One recoupling cycle (repeated n times on each side of the centre).
    centre : Block
        Central block (an ideal S pi pulse is put at its middle); may be empty.
    ns : sequence of int
        Cycles per half.
    euler : (n_o, 3) ndarray
        Crystallite rotation angles as returned by :meth:`Powder.euler_full`.
    transfer : ndarray, optional
        Partner transfer matrix of an ideal saturation at the centre (replaces the centre's rf).
    cycle_after : Block, optional
        The cycle of the second half (default: ``cycle``).
    initial : {"x", "plus"}
        ``"x"``: S_x after an ideal excitation, complex detection Tr(rho S+), normalised by the
        same sequence without interactions (what a spectrometer records). ``"plus"``: the S+
        pathway alone, projected on its interaction-free image (the older normalisation).
    magnus4 : bool
        Fourth-order Magnus slices, exp(-i (M0 - i [M1, M0])) with the slice's integral M0 and first
        moment M1 of H (the ``integrator="magnus4"`` of :func:`spinsim.simulate_respdor`).

    Returns
    -------
    (n_o, n_pts) complex ndarray
    """
    from .simulate import _split

    wr = 2 * np.pi * mas_rate
    obs = system.spins[0].isotope.symbol
    ops = channel_operators(system)
    comps = interaction_components(system, np.atleast_2d(euler))
    F_all = full_diagonal(system, comps)
    dim = F_all.shape[2]
    rest = dim // 2
    _, ip, im, sx, _ = spin_operators(0.5)
    rho0 = np.kron(sx if initial == "x" else ip, np.eye(rest))
    a, b = _split(centre, centre.duration / 2)
    first = list(cycle.events)
    after = list((cycle_after or cycle).events)
    out = np.empty((F_all.shape[0], len(ns)), complex)
    zero = np.zeros_like(F_all[0])
    for i, n in enumerate(ns):
        pre = first * n + a
        post = [ideal_pulse(obs, 180.0, 0.0)] + b + after * n
        R = _propagator(post, zero, ops, wr, max_dt, dim) @ _propagator(pre, zero, ops, wr, max_dt, dim)
        ideal = R @ rho0 @ R.conj().T
        det = np.kron(im, np.eye(rest)) if initial == "x" else ideal
        norm = np.sum(np.conj(det) * ideal) / rest
        for o in range(F_all.shape[0]):
            F = F_all[o]
            U1 = _propagator(pre, F, ops, wr, max_dt, dim, magnus4)
            rho = U1 @ rho0 @ U1.conj().T
            if transfer is not None:
                nc = rest
                new = np.zeros_like(rho)
                for s1 in range(2):
                    for s2 in range(2):
                        blk = np.diag(rho[s1 * nc:(s1 + 1) * nc, s2 * nc:(s2 + 1) * nc])
                        new[s1 * nc:(s1 + 1) * nc, s2 * nc:(s2 + 1) * nc] = np.diag(transfer @ blk)
                rho = new
            # the second part starts at the absolute time of the first part's end
            t_shift = sum(e.duration for e in pre)
            U2 = _propagator(post, _shift(F, t_shift, wr), ops, wr, max_dt, dim, magnus4)
            rho = U2 @ rho @ U2.conj().T
            out[o, i] = np.sum(np.conj(det) * rho) / rest / norm
    return out


def _shift(F, t, wr):
    """Fourier coefficients of f(t' + t)."""
    k = np.arange(-N_HARM, N_HARM + 1)
    return F * np.exp(1j * k * wr * t)[:, None]
