"""Numba kernels of the ``coupled`` engine: partners coupled to each other by flip-flop terms.

The internal Hamiltonian is then not diagonal, so free evolution cannot be integrated in closed
form as in :mod:`spinsim._kernels`. Everything is propagated in piecewise-constant steps of
``dt`` (diagonal and off-diagonal terms averaged exactly over each step from their Fourier
coefficients, then ``exp(-i H dt)`` by :func:`spinsim._kernels.expm_herm`), free evolution
included. The observed spin S enters through S_z only and is flipped by ideal pulses, so the
work is done in the partner space, conditional on S's state sigma = +-1 (``H_sigma``, see
:func:`spinsim.hamiltonian.partner_space_terms`).

Free-evolution steps are taken block by block: a block is a set of basis states that the step
Hamiltonian connects (the flip-flop conserves the total m of a homonuclear group), and its
propagators are kept packed, block-diagonal (:mod:`spinsim._coupled_blocks`). Steps under rf
connect everything on the rf channel: they are products of one- and two-spin factors
(:mod:`spinsim._coupled_split`) or, on request, exact dense steps.

Crystallites that differ only in gamma see the same Hamiltonian shifted in time by
gamma / omega_r. With tau_R = n_per dt and n_per a multiple of n_gamma, one rotor period of step
propagators, kept as prefix products P[k] = S_{k-1} .. S_0 at the indices needed (``smap``), gives
the propagator of any run of steps for every gamma (a run j..k-1 within a period is
P[k] P[j]^dagger, the steps being unitary).

Pure functions of arrays, ``cache=True``; serial, the entry point releasing the GIL: the driver
runs orientations on Python threads (:func:`spinsim._crystallites.in_threads`), which compiles
in a fraction of the time of a ``prange`` loop. rad/s and s inside.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._coupled_blocks import (bd_diagonal, bd_eye, bd_h, bd_left_ordered, bd_mul, bd_mul_h, bd_trace_prod, expm_block,
                              put_square, square, store, to_block_order)
from ._coupled_split import magnus_exponent, split_prefix_products
from ._gamma_kernels import _helper  # internal helpers: no CPython or C wrappers
from ._kernels import _eye, fourier_integral, fourier_moment


@_helper
def _step_terms(D, Z, V, rows, cols, R, sigma, t0, dt, wr, H, ph, pz, pv, moment):
    """H <- H_sigma averaged over [t0, t0 + dt] (rad/s, dense, R the constant rf), or with ``moment``
    its first moment (1/dt) integral of (t - t_mid) H_sigma dt (rad; the constant rf has none)."""
    n = D.shape[1]
    if moment:
        fourier_moment(D, t0, t0 + dt, wr, ph)
        fourier_moment(Z, t0, t0 + dt, wr, pz)
        if rows.shape[0] > 0:
            fourier_moment(V, t0, t0 + dt, wr, pv)
    else:
        fourier_integral(D, t0, t0 + dt, wr, ph)
        fourier_integral(Z, t0, t0 + dt, wr, pz)
        if rows.shape[0] > 0:
            fourier_integral(V, t0, t0 + dt, wr, pv)
    scale, rf = (1.0, 0.0) if moment else (1.0 / dt, 1.0)
    for a in range(n):
        for b in range(n):
            H[a, b] = rf * R[a, b]
        H[a, a] += (ph[a] + sigma * pz[a]) * scale
    for e in range(rows.shape[0]):
        H[rows[e], cols[e]] += pv[e] * scale


@_helper
def _block_of(H, lo, nb, idx):
    """The diagonal block (states idx[lo:lo + nb]) of H."""
    Hb = np.empty((nb, nb), np.complex128)
    for a in range(nb):
        for b in range(nb):
            Hb[a, b] = H[idx[lo + a], idx[lo + b]]
    return Hb


@_helper
def _block_expm(H, M1, lo, nb, idx, dt, magnus4):
    """The step propagator of the diagonal block (states idx[lo:lo + nb]) of H (rad/s): exp(-i H_b dt),
    or the fourth-order Magnus one with the first moments M1 (rad)."""
    Hb = _block_of(H, lo, nb, idx)
    if magnus4:
        return expm_block(magnus_exponent(Hb * dt, _block_of(M1, lo, nb, idx)), 1.0)
    return expm_block(Hb, dt)


@_helper
def _work_arrays(D, rows):
    n = D.shape[1]
    return (np.empty((n, n), np.complex128), np.empty(n), np.empty(n), np.empty(max(rows.shape[0], 1)))


@njit(cache=True)
def free_prefix_products(D, Z, V, rows, cols, sigma, wr, dt, n_per, off, idx, smap, n_snap, magnus4):
    """Prefix products P[k] of one rotor period of free steps (k = 0 .. n_per), kept where
    smap[k] >= 0, packed block-diagonal.

    Parameters
    ----------
    D, Z : (9, N) complex
        Fourier coefficients of the diagonal: H_sigma = diag(D + sigma Z) + V (rad/s).
    V : (9, n_e) complex; rows, cols : (n_e,) int
        Off-diagonal elements (rad/s).
    off, idx : int arrays
        Blocks connected by the free Hamiltonian (:mod:`spinsim._coupled_blocks`).
    smap : (n_per + 1,) int
        Snapshot slot of each prefix index, -1 when not needed.
    magnus4 : bool
        Fourth-order Magnus steps (else piecewise constant).

    Returns
    -------
    (n_snap, n_blocks, b_max, b_max) complex
    """
    sizes = off[1:] - off[:-1]
    b_max = np.max(sizes)
    out = np.zeros((n_snap, sizes.shape[0], b_max, b_max), np.complex128)
    U = bd_eye(sizes, b_max)
    H, ph, pz, pv = _work_arrays(D, rows)
    R = np.zeros((D.shape[1], D.shape[1]), np.complex128)
    M1 = np.zeros_like(R)
    if smap[0] >= 0:
        store(out, smap[0], U)
    average = n_per < 0  # a computed False: the literals False and True would compile _step_terms twice
    for p in range(n_per):
        _step_terms(D, Z, V, rows, cols, R, sigma, p * dt, dt, wr, H, ph, pz, pv, average)
        if magnus4:
            _step_terms(D, Z, V, rows, cols, R, sigma, p * dt, dt, wr, M1, ph, pz, pv, magnus4)
        for blk in range(sizes.shape[0]):
            nb = sizes[blk]
            Ub = _block_expm(H, M1, off[blk], nb, idx, dt, magnus4)
            put_square(U, blk, np.dot(Ub, square(U, blk, nb)))
        if smap[p + 1] >= 0:
            store(out, smap[p + 1], U)
    return out


@njit(cache=True)
def prefix_products(D, Z, V, rows, cols, R, sigma, wr, dt, n_per, off, idx, smap, n_snap):
    """:func:`free_prefix_products` under the constant rf R (rad/s, N x N) in exact dense steps:
    (n_snap, N, N) complex (``off``, ``idx``: the blocks that the rf and the flip-flop connect)."""
    n = D.shape[1]
    out = np.zeros((n_snap, n, n), np.complex128)
    U = _eye(n)
    H, ph, pz, pv = _work_arrays(D, rows)
    if smap[0] >= 0:
        store(out, smap[0], U)
    average = n_per < 0  # a computed False, as in free_prefix_products
    for p in range(n_per):
        _step_terms(D, Z, V, rows, cols, R, sigma, p * dt, dt, wr, H, ph, pz, pv, average)
        for blk in range(off.shape[0] - 1):
            lo = off[blk]
            nb = off[blk + 1] - lo
            Ub = expm_block(_block_of(H, lo, nb, idx), dt)
            Xr = np.empty((nb, n), np.complex128)
            for a in range(nb):
                for c in range(n):
                    Xr[a, c] = U[idx[lo + a], c]
            Yr = np.dot(Ub, Xr)
            for a in range(nb):
                for c in range(n):
                    U[idx[lo + a], c] = Yr[a, c]
        if smap[p + 1] >= 0:
            store(out, smap[p + 1], U)
    return out


@_helper
def _dense_h(A):
    return np.ascontiguousarray(A.conj().T)


@_helper
def run_product(P, smap, start, length, n_per):
    """Propagator of ``length`` consecutive periodic steps from step ``start`` (dense prefix products P)."""
    a0 = start % n_per
    q = length // n_per
    r = length % n_per
    U = _eye(P.shape[1])
    if q > 0:
        full = np.dot(np.dot(P[smap[a0]], P[smap[n_per]]), _dense_h(P[smap[a0]]))
        U = full
        for _ in range(q - 1):
            U = np.dot(full, U)
    if r > 0:
        if a0 + r <= n_per:
            part = np.dot(P[smap[a0 + r]], _dense_h(P[smap[a0]]))
        else:
            part = np.dot(P[smap[a0 + r - n_per]], np.dot(P[smap[n_per]], _dense_h(P[smap[a0]])))
        U = part if q == 0 else np.dot(part, U)
    return U


@_helper
def run_packed(P, smap, start, length, n_per, sizes):
    """:func:`run_product` of packed block-diagonal prefix products."""
    a0 = start % n_per
    q = length // n_per
    r = length % n_per
    U = bd_eye(sizes, P.shape[2])
    if q > 0:
        full = bd_mul_h(bd_mul(P[smap[a0]], P[smap[n_per]], sizes), P[smap[a0]], sizes)
        for _ in range(q):
            U = bd_mul(full, U, sizes)
    if r > 0:
        if a0 + r <= n_per:
            part = bd_mul_h(P[smap[a0 + r]], P[smap[a0]], sizes)
        else:
            part = bd_mul(P[smap[a0 + r - n_per]], bd_mul_h(P[smap[n_per]], P[smap[a0]], sizes), sizes)
        U = bd_mul(part, U, sizes)
    return U


@_helper
def _period(Pfirst, Psecond, smap, start, edges, n_per, sizes):
    """One rotor period from step ``start``: S toggles at each edge; segment i uses Pfirst (even i)
    or Psecond (odd i), i.e. the S state the period starts in, then the other one (packed)."""
    U = bd_eye(sizes, Pfirst.shape[2])
    for i in range(edges.shape[0] - 1):
        P = Pfirst if i % 2 == 0 else Psecond
        seg = run_packed(P, smap, start + edges[i], edges[i + 1] - edges[i], n_per, sizes)
        U = bd_mul(seg, U, sizes)
    return U


@_helper
def _trace_prod(A, B):
    """Tr(A @ B) for dense A, B."""
    acc = 0j
    n = A.shape[0]
    for i in range(n):
        for j in range(n):
            acc += A[i, j] * B[j, i]
    return acc


@_helper
def _factored_prefixes(factors, o, sigma, wr, dt, n_per, smap, n_snap, magnus4, max_fine):
    sd, sz, gz, pc, rf1, dims, pairs, homo, zz, ff, pperm, sperm = factors
    return split_prefix_products(sd[o], sz[o], gz[o], pc[o], rf1, dims, pairs, homo, zz, ff, pperm, sperm, sigma, wr,
                                 dt, n_per, smap, n_snap, magnus4, max_fine)


@_helper
def _centre(Rp, Rm, Pp, Pm, smap, st, L, n_per, sizes):
    """Propagators of the central block (L steps from step ``st``, the S pulse after L/2) for the
    ket (S alpha first) and the bra: with its rf (dense, CL1, CR1) and without (packed, CL0, CR0)."""
    half = L // 2
    first_p, first_m = run_product(Rp, smap, st, half, n_per), run_product(Rm, smap, st, half, n_per)
    free_p, free_m = run_packed(Pp, smap, st, half, n_per, sizes), run_packed(Pm, smap, st, half, n_per, sizes)
    if L - half == half and half % n_per == 0:
        # the second half repeats the first's rotor phase (a block of whole periods): the same runs
        second_p, second_m, free_p2, free_m2 = first_p, first_m, free_p, free_m
    else:
        second_p = run_product(Rp, smap, st + half, L - half, n_per)
        second_m = run_product(Rm, smap, st + half, L - half, n_per)
        free_p2 = run_packed(Pp, smap, st + half, L - half, n_per, sizes)
        free_m2 = run_packed(Pm, smap, st + half, L - half, n_per, sizes)
    return (np.dot(second_m, first_p), np.dot(second_p, first_m), bd_mul(free_m2, free_p, sizes),
            bd_mul(free_p2, free_m, sizes))


@_helper
def _transfer_signal(Q, M, transfer, off, idx, N):
    """sum_k Q_kk sum_j T_kj M_jj: the ideal incoherent transfer of the partner populations."""
    q = bd_diagonal(Q, off, idx, N)
    m = bd_diagonal(M, off, idx, N)
    acc = 0j
    for k in range(N):
        dk = 0j
        for j in range(N):
            dk += transfer[k, j] * m[j]
        acc += q[k] * dk
    return acc


@_helper
def _gamma_signals(s1, s0, Pp, Pm, Rp, Rm, smap, st, L, edges, n_per, off, idx, transfer, ns):
    """s1[i], s0[i] of one crystallite (its rotor period starting at step ``st``) at ns[i] periods
    per half (see :func:`coupled_signals`).

    With X_n = A_+^n A_-^n^dagger and Y_n = B_+^n^dagger B_-^n (block-diagonal, updated by the
    powers of A, B for the most recent increment of n), the signal is Tr(Y_n C_L X_n C_R^dagger) / N,
    C_L and C_R the centre's propagators of the two paths."""
    N = idx.shape[0]
    sizes = off[1:] - off[:-1]
    Ap = _period(Pp, Pm, smap, st, edges, n_per, sizes)
    Am = _period(Pm, Pp, smap, st, edges, n_per, sizes)
    Bp = _period(Pp, Pm, smap, st + L, edges, n_per, sizes)
    Bm = _period(Pm, Pp, smap, st + L, edges, n_per, sizes)
    CL1 = np.zeros((1, 1), np.complex128)
    CR1h = CL1
    CL0 = Ap
    CR0 = Ap
    if L > 0:
        CL1, CR1, CL0, CR0 = _centre(Rp, Rm, Pp, Pm, smap, st, L, n_per, sizes)
        CL1 = to_block_order(CL1, idx)
        CR1h = to_block_order(_dense_h(CR1), idx)
    X = bd_eye(sizes, Ap.shape[2])
    Y = X.copy()
    step = 0
    Ak, Amk, Bpk, Bmk = Ap, Am, Bp, Bm
    cur = 0
    for i in range(ns.shape[0]):
        if ns[i] > cur:
            if ns[i] - cur != step:  # powers for this increment (kept while it repeats)
                step = ns[i] - cur
                Ak, Amk, Bpk, Bmk = Ap, Am, Bp, Bm
                for _ in range(step - 1):
                    Ak = bd_mul(Ap, Ak, sizes)
                    Amk = bd_mul(Am, Amk, sizes)
                    Bpk = bd_mul(Bp, Bpk, sizes)
                    Bmk = bd_mul(Bm, Bmk, sizes)
            X = bd_mul_h(bd_mul(Ak, X, sizes), Amk, sizes)
            Y = bd_mul(bd_h(Bpk, sizes), bd_mul(Y, Bmk, sizes), sizes)
            cur = ns[i]
        if L > 0:
            s1[i] = _trace_prod(bd_left_ordered(Y, CL1, off), bd_left_ordered(X, CR1h, off)) / N
            s0[i] = bd_trace_prod(bd_mul(Y, CL0, sizes), bd_mul_h(X, CR0, sizes), sizes) / N
        else:
            s0[i] = bd_trace_prod(Y, X, sizes) / N
            s1[i] = _transfer_signal(Y, X, transfer, off, idx, N) / N if transfer.shape[0] > 0 else s0[i]


@njit(cache=True, nogil=True)
def coupled_signals(D, Z, V, rows, cols, wr, dt, n_per, n_gamma, R, f_off, f_idx, r_off, r_idx, smap, n_snap,
                    edges, L, transfer, ns, factored, factors, magnus4, max_fine):
    """S-RESPDOR / REDOR signals with ideal S pulses for partners coupled to each other.

    The detected coherence starts as |alpha><beta| (x) 1/N: its ket runs with S in alpha in the
    first half (sigma = +1 at the start of every rotor period) and beta in the second, the bra the
    other way round, so the signal is Tr(L R^dagger) / N with L, R the partner propagators of the
    two paths. The first half is n periods A_sigma^n, the centre either an ideal incoherent
    transfer (``L == 0``: keep the partner-diagonal of A_+^n A_-^n^dagger and move it with
    ``transfer``; an empty ``transfer`` is the unitary ideal S pulse alone) or L steps with the rf
    R, the S pulse after L/2; the second half B_sigma^n starts L steps later in the rotor cycle.

    Parameters
    ----------
    D, Z : (n_o, 9, N) complex; V : (n_o, 9, n_e) complex; rows, cols : (n_e,) int
        Partner-space Hamiltonian of each crystallite with gamma = 0 (rad/s).
    wr : float
        Rotor angular frequency (rad/s).
    dt : float; n_per : int
        Step (s) and steps per rotor period (a multiple of n_gamma).
    R : (N, N) complex
        rf of the centre block (rad/s); (f_off, f_idx) blocks of the free evolution, (r_off, r_idx)
        of the rf steps.
    smap : (n_per + 1,) int; n_snap : int
        Prefix products kept.
    edges : int array
        Step indices within a period where S is flipped, with 0 first and n_per last.
    L : int
        Steps of the centre block (0: ideal centre).
    transfer : (N, N) float or (0, 0)
        Partner-population transfer of an ideal saturation.
    ns : (n_pts,) int
        Rotor periods per half, non-decreasing.
    factored : bool; factors : tuple
        With ``factored``, the centre's rf steps are products of one- and two-spin factors
        (:func:`spinsim._coupled_split.split_step`; ``factors``: single_d, single_z, glob_z,
        pair_c of all crystallites, then rf1, dims, pairs, homonuclear, zz, ff, pair_perm,
        single_perm), else exact dense steps (``factors`` unread).
    magnus4 : bool
        Fourth-order Magnus steps (free evolution and factors; the dense rf steps stay piecewise
        constant).

    Returns
    -------
    s1, s0 : (n_o, n_gamma, n_pts) complex
        With the centre's rf / transfer, and without it.
    """
    n_o = D.shape[0]
    N = D.shape[2]
    n_pts = ns.shape[0]
    s1 = np.empty((n_o, n_gamma, n_pts), np.complex128)
    s0 = np.empty((n_o, n_gamma, n_pts), np.complex128)
    for o in range(n_o):
        Pp = free_prefix_products(D[o], Z[o], V[o], rows, cols, 1.0, wr, dt, n_per, f_off, f_idx, smap, n_snap,
                                  magnus4)
        Pm = free_prefix_products(D[o], Z[o], V[o], rows, cols, -1.0, wr, dt, n_per, f_off, f_idx, smap, n_snap,
                                  magnus4)
        Rp = np.zeros((1, 1, 1), np.complex128)
        Rm = Rp
        if L > 0 and factored:
            Rp = _factored_prefixes(factors, o, 1.0, wr, dt, n_per, smap, n_snap, magnus4, max_fine)
            Rm = _factored_prefixes(factors, o, -1.0, wr, dt, n_per, smap, n_snap, magnus4, max_fine)
        elif L > 0:
            Rp = prefix_products(D[o], Z[o], V[o], rows, cols, R, 1.0, wr, dt, n_per, r_off, r_idx, smap, n_snap)
            Rm = prefix_products(D[o], Z[o], V[o], rows, cols, R, -1.0, wr, dt, n_per, r_off, r_idx, smap, n_snap)
        for g in range(n_gamma):
            st = (g * n_per) // n_gamma
            _gamma_signals(s1[o, g], s0[o, g], Pp, Pm, Rp, Rm, smap, st, L, edges, n_per, f_off, f_idx, transfer, ns)
    return s1, s0
