"""Numba kernels of the ``coupled`` engine: partners coupled to each other by flip-flop terms.

The internal Hamiltonian is then not diagonal, so free evolution cannot be integrated in closed
form as in :mod:`spinsim._kernels`. Everything is propagated in piecewise-constant steps of
``dt`` (diagonal and off-diagonal terms averaged exactly over each step from their Fourier
coefficients, then ``exp(-i H dt)`` by :func:`spinsim._kernels.expm_herm`), free evolution
included. The observed spin S enters through S_z only and is flipped by ideal pulses, so the
work is done in the partner space, conditional on S's state sigma = +-1 (``H_sigma``, see
:func:`spinsim.hamiltonian.partner_space_terms`).

Steps are taken block by block: a block is a set of basis states that the step Hamiltonian
connects (the flip-flop conserves the total m of a homonuclear group; rf connects everything on
its channel). Free-evolution propagators stay block-diagonal and are multiplied block by block.

Crystallites that differ only in gamma see the same Hamiltonian shifted in time by
gamma / omega_r. With tau_R = n_per dt and n_per a multiple of n_gamma, one rotor period of step
propagators, kept as prefix products P[k] = S_{k-1} .. S_0 at the indices needed (``smap``), gives
the propagator of any run of steps for every gamma (a run j..k-1 within a period is
P[k] P[j]^dagger, the steps being unitary).

Pure functions of arrays, ``cache=True``; rad/s and s inside.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._kernels import _eye, expm_herm, fourier_integral


@njit(cache=True)
def _dot_h(A, B):
    """A @ B^dagger with BLAS."""
    return np.dot(A, np.ascontiguousarray(B.conj().T))


@njit(cache=True)
def _rows_of(X, idx, lo, nb):
    """Rows idx[lo:lo + nb] of X (a block's rows of a dense matrix)."""
    m = X.shape[1]
    out = np.empty((nb, m), np.complex128)
    for i in range(nb):
        for c in range(m):
            out[i, c] = X[idx[lo + i], c]
    return out


@njit(cache=True)
def _block_of(A, idx, lo, nb):
    """The diagonal block (rows and columns idx[lo:lo + nb]) of A."""
    out = np.empty((nb, nb), np.complex128)
    for i in range(nb):
        for j in range(nb):
            out[i, j] = A[idx[lo + i], idx[lo + j]]
    return out


@njit(cache=True)
def _mul(A, B, bd, off, idx):
    """A @ B; with ``bd`` both are block-diagonal in the blocks (off, idx) and only blocks are multiplied."""
    if not bd:
        return np.dot(A, B)
    n = A.shape[0]
    C = np.zeros((n, n), np.complex128)
    for b in range(off.shape[0] - 1):
        lo = off[b]
        nb = off[b + 1] - lo
        Cb = np.dot(_block_of(A, idx, lo, nb), _block_of(B, idx, lo, nb))
        for i in range(nb):
            for j in range(nb):
                C[idx[lo + i], idx[lo + j]] = Cb[i, j]
    return C


@njit(cache=True)
def _mul_h(A, B, bd, off, idx):
    """A @ B^dagger (block-wise with ``bd``)."""
    return _mul(A, np.ascontiguousarray(B.conj().T), bd, off, idx)


@njit(cache=True)
def _bd_left(A, X, off, idx):
    """A @ X for block-diagonal A and dense X."""
    n = X.shape[0]
    m = X.shape[1]
    C = np.empty((n, m), np.complex128)
    for b in range(off.shape[0] - 1):
        lo = off[b]
        nb = off[b + 1] - lo
        Cb = np.dot(_block_of(A, idx, lo, nb), _rows_of(X, idx, lo, nb))
        for i in range(nb):
            for c in range(m):
                C[idx[lo + i], c] = Cb[i, c]
    return C


@njit(cache=True)
def _expm_block(H, dt):
    """exp(-i H dt) for Hermitian H: closed forms for small blocks, else eigh and a BLAS product."""
    n = H.shape[0]
    if n <= 8:
        return expm_herm(H, dt)
    real = True
    for a in range(n):
        for b in range(n):
            if H[a, b].imag != 0.0:
                real = False
    if real:
        w, v = np.linalg.eigh(np.ascontiguousarray(H.real))
        vc = v.astype(np.complex128)
    else:
        w, vc = np.linalg.eigh(H)
    ve = np.empty((n, n), np.complex128)
    for a in range(n):
        for k in range(n):
            ve[a, k] = vc[a, k] * np.exp(-1j * w[k] * dt)
    return np.dot(ve, np.ascontiguousarray(vc.conj().T))


@njit(cache=True)
def _step(U, D, Z, V, rows, cols, R, sigma, t0, dt, wr, off, idx, bd, H, ph, pz, pv):
    """U <- exp(-i H_sigma dt) U for the step [t0, t0 + dt], block by block (in place)."""
    n = D.shape[1]
    fourier_integral(D, t0, t0 + dt, wr, ph)
    fourier_integral(Z, t0, t0 + dt, wr, pz)
    if rows.shape[0] > 0:
        fourier_integral(V, t0, t0 + dt, wr, pv)
    for a in range(n):
        for b in range(n):
            H[a, b] = R[a, b]
        H[a, a] += (ph[a] + sigma * pz[a]) / dt
    for e in range(rows.shape[0]):
        H[rows[e], cols[e]] += pv[e] / dt
    for blk in range(off.shape[0] - 1):
        lo = off[blk]
        nb = off[blk + 1] - lo
        Hb = np.empty((nb, nb), np.complex128)
        for a in range(nb):
            for b in range(nb):
                Hb[a, b] = H[idx[lo + a], idx[lo + b]]
        Ub = _expm_block(Hb, dt)
        if bd:  # U is block-diagonal too: only its own block changes
            Xb = np.empty((nb, nb), np.complex128)
            for a in range(nb):
                for b in range(nb):
                    Xb[a, b] = U[idx[lo + a], idx[lo + b]]
            Yb = np.dot(Ub, Xb)
            for a in range(nb):
                for b in range(nb):
                    U[idx[lo + a], idx[lo + b]] = Yb[a, b]
        else:
            Xr = np.empty((nb, n), np.complex128)
            for a in range(nb):
                for c in range(n):
                    Xr[a, c] = U[idx[lo + a], c]
            Yr = np.dot(Ub, Xr)
            for a in range(nb):
                for c in range(n):
                    U[idx[lo + a], c] = Yr[a, c]


@njit(cache=True)
def prefix_products(D, Z, V, rows, cols, R, sigma, wr, dt, n_per, off, idx, bd, smap, n_snap):
    """Prefix products P[k] of one rotor period of steps (k = 0 .. n_per), kept where smap[k] >= 0.

    Parameters
    ----------
    D, Z : (9, N) complex
        Fourier coefficients of the diagonal: H_sigma = diag(D + sigma Z) + V + R (rad/s).
    V : (9, n_e) complex; rows, cols : (n_e,) int
        Off-diagonal elements (rad/s).
    R : (N, N) complex
        rf Hamiltonian (rad/s), constant.
    off, idx : int arrays
        Blocks connected by the step Hamiltonian; ``bd``: the blocks are invariant (no rf).
    smap : (n_per + 1,) int
        Snapshot slot of each prefix index, -1 when not needed.

    Returns
    -------
    (n_snap, N, N) complex
    """
    n = D.shape[1]
    out = np.zeros((n_snap, n, n), np.complex128)
    U = _eye(n)
    H = np.empty((n, n), np.complex128)
    ph = np.empty(n)
    pz = np.empty(n)
    pv = np.empty(max(rows.shape[0], 1))
    if smap[0] >= 0:
        out[smap[0]] = U
    for p in range(n_per):
        _step(U, D, Z, V, rows, cols, R, sigma, p * dt, dt, wr, off, idx, bd, H, ph, pz, pv)
        if smap[p + 1] >= 0:
            out[smap[p + 1]] = U
    return out


@njit(cache=True)
def run_product(P, smap, start, length, n_per, bd, off, idx):
    """Propagator of ``length`` consecutive periodic steps from step ``start`` (prefix products P)."""
    n = P.shape[1]
    a0 = start % n_per
    q = length // n_per
    r = length % n_per
    U = _eye(n)
    if q > 0:
        full = _mul_h(_mul(P[smap[a0]], P[smap[n_per]], bd, off, idx), P[smap[a0]], bd, off, idx)
        for _ in range(q):
            U = _mul(full, U, bd, off, idx)
    if r > 0:
        if a0 + r <= n_per:
            part = _mul_h(P[smap[a0 + r]], P[smap[a0]], bd, off, idx)
        else:
            part = _mul(P[smap[a0 + r - n_per]], _mul_h(P[smap[n_per]], P[smap[a0]], bd, off, idx), bd, off, idx)
        U = _mul(part, U, bd, off, idx)
    return U


@njit(cache=True)
def _period(Pfirst, Psecond, smap, start, edges, n_per, off, idx):
    """One rotor period from step ``start``: S toggles at each edge; segment i uses Pfirst (even i)
    or Psecond (odd i), i.e. the S state the period starts in, then the other one."""
    n = Pfirst.shape[1]
    U = _eye(n)
    for i in range(edges.shape[0] - 1):
        P = Pfirst if i % 2 == 0 else Psecond
        seg = run_product(P, smap, start + edges[i], edges[i + 1] - edges[i], n_per, True, off, idx)
        U = _mul(seg, U, True, off, idx)
    return U


@njit(cache=True)
def _trace_prod(A, B):
    """Tr(A @ B) for dense A, B."""
    acc = 0j
    n = A.shape[0]
    for i in range(n):
        for j in range(n):
            acc += A[i, j] * B[j, i]
    return acc


@njit(cache=True, parallel=True)
def coupled_signals(D, Z, V, rows, cols, wr, dt, n_per, n_gamma, R, f_off, f_idx, r_off, r_idx, smap, n_snap,
                    edges, L, transfer, ns):
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
    zero = np.zeros((N, N), np.complex128)
    half = L // 2
    for o in prange(n_o):
        Pp = prefix_products(D[o], Z[o], V[o], rows, cols, zero, 1.0, wr, dt, n_per, f_off, f_idx, True, smap, n_snap)
        Pm = prefix_products(D[o], Z[o], V[o], rows, cols, zero, -1.0, wr, dt, n_per, f_off, f_idx, True, smap,
                             n_snap)
        Rp = Pp
        Rm = Pm
        if L > 0:
            Rp = prefix_products(D[o], Z[o], V[o], rows, cols, R, 1.0, wr, dt, n_per, r_off, r_idx, False, smap,
                                 n_snap)
            Rm = prefix_products(D[o], Z[o], V[o], rows, cols, R, -1.0, wr, dt, n_per, r_off, r_idx, False, smap,
                                 n_snap)
        for g in range(n_gamma):
            st = (g * n_per) // n_gamma
            Ap = _period(Pp, Pm, smap, st, edges, n_per, f_off, f_idx)
            Am = _period(Pm, Pp, smap, st, edges, n_per, f_off, f_idx)
            Bp = _period(Pp, Pm, smap, st + L, edges, n_per, f_off, f_idx)
            Bm = _period(Pm, Pp, smap, st + L, edges, n_per, f_off, f_idx)
            CL1 = zero
            CR1 = zero
            CL0 = zero
            CR0 = zero
            if L > 0:
                # ket: S in alpha for the first half of the block, beta after the S pulse; bra: reverse
                CL1 = np.dot(run_product(Rm, smap, st + half, L - half, n_per, False, r_off, r_idx),
                             run_product(Rp, smap, st, half, n_per, False, r_off, r_idx))
                CR1 = np.dot(run_product(Rp, smap, st + half, L - half, n_per, False, r_off, r_idx),
                             run_product(Rm, smap, st, half, n_per, False, r_off, r_idx))
                CL0 = _mul(run_product(Pm, smap, st + half, L - half, n_per, True, f_off, f_idx),
                           run_product(Pp, smap, st, half, n_per, True, f_off, f_idx), True, f_off, f_idx)
                CR0 = _mul(run_product(Pp, smap, st + half, L - half, n_per, True, f_off, f_idx),
                           run_product(Pm, smap, st, half, n_per, True, f_off, f_idx), True, f_off, f_idx)
            La = _eye(N)
            Ra = _eye(N)
            Lb = _eye(N)
            Rb = _eye(N)
            cur = 0
            for i in range(n_pts):
                while cur < ns[i]:
                    La = _mul(Ap, La, True, f_off, f_idx)
                    Ra = _mul(Am, Ra, True, f_off, f_idx)
                    Lb = _mul(Bm, Lb, True, f_off, f_idx)
                    Rb = _mul(Bp, Rb, True, f_off, f_idx)
                    cur += 1
                M = _mul_h(La, Ra, True, f_off, f_idx)
                Q = _mul(np.ascontiguousarray(Rb.conj().T), Lb, True, f_off, f_idx)
                if L > 0:
                    s1[o, g, i] = _trace_prod(_bd_left(Q, CL1, f_off, f_idx),
                                              _bd_left(M, np.ascontiguousarray(CR1.conj().T), f_off, f_idx)) / N
                    s0[o, g, i] = _trace_prod(_mul(Q, CL0, True, f_off, f_idx),
                                              _mul_h(M, CR0, True, f_off, f_idx)) / N
                else:
                    s0[o, g, i] = _trace_prod(Q, M) / N
                    if transfer.shape[0] > 0:
                        acc = 0j
                        for k in range(N):
                            dk = 0j
                            for j in range(N):
                                dk += transfer[k, j] * M[j, j]
                            acc += Q[k, k] * dk
                        s1[o, g, i] = acc / N
                    else:
                        s1[o, g, i] = s0[o, g, i]
    return s1, s0
