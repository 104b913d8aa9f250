"""Numba kernels of the general engine with step propagators shared by all gamma angles.

Crystallites that differ only in gamma see the same diagonal Hamiltonian shifted in time by
gamma / omega_r (:meth:`spinsim.powder.Powder.euler_full`). Put every rf step on one grid of
``n_grid`` cells per rotor period, ``n_grid`` a multiple of ``n_gamma``: the step of rf state r on
cell p is then the same matrix for every gamma angle, and the rf applied by gamma angle k at
sequence cell c falls on rotor cell c + k n_grid / n_gamma. One rotor period of step propagators per
rf state, kept as prefix products C_r[p] = S_r[p-1] .. S_r[0], gives the propagator of any run of
steps of one rf state for every gamma angle: a run of cells c .. c + L - 1 within a period is
C_r[c + L] C_r[c]^dagger (the steps are unitary), a longer run adds whole periods C_r[n_grid].
Free evolution stays diagonal and is integrated exactly at the shifted times; ideal pulses are
applied as they are.

The cost per (alpha, beta) orientation is one period of exponentials per rf state, instead of one
exponential per rf step and gamma angle. rf connects only some basis states (rf on one channel
never mixes the states of the others), so each rf state's steps and prefix products are kept
block by block.

Pure functions of arrays, ``cache=True``; serial and releasing the GIL (``nogil=True``): the driver
runs chunks of orientations on Python threads, which compiles much faster than ``prange``. rad/s and
s inside. Fourier-coefficient arrays F have
shape (9, dim): F[k + 4] multiplies exp(i k omega_r t).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._kernels import NH, _eye, _matmul, _matmul_h, expm_herm, fourier_integral

#: Decorator of the internal helpers: called from the kernels only, so without the CPython and C
#: wrappers (most of a small function's compile time).
_helper = njit(cache=True, nogil=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)


@_helper
def _cell_phases(Fo, E, dt):
    """Integral of each diagonal element over each grid cell (rad): (n_grid, dim).

    ``E[p, k - 1]`` = (exp(i k wr t1) - exp(i k wr t0)) / (i k wr) for cell p = [t0, t1].
    """
    n = E.shape[0]
    dim = Fo.shape[1]
    out = np.empty((n, dim))
    for p in range(n):
        for j in range(dim):
            acc = Fo[NH, j].real * dt
            for k in range(1, NH + 1):
                f = E[p, k - 1]
                acc += (Fo[NH + k, j] * f).real + (Fo[NH - k, j] * np.conj(f)).real
            out[p, j] = acc
    return out


@_helper
def _load(C, p, e0, nb):
    """Block stored at C[p, e0 : e0 + nb * nb] as an (nb, nb) matrix."""
    out = np.empty((nb, nb), np.complex128)
    for a in range(nb):
        for b in range(nb):
            out[a, b] = C[p, e0 + a * nb + b]
    return out


@_helper
def _store(C, p, e0, M):
    nb = M.shape[0]
    for a in range(nb):
        for b in range(nb):
            C[p, e0 + a * nb + b] = M[a, b]


@_helper
def _block_hamiltonian(R, ph_p, dt, lo, nb, blk_idx, Hb):
    """Hb = R on the block's states, plus the cell-averaged diagonal ph_p / dt."""
    for a in range(nb):
        ia = blk_idx[lo + a]
        for b in range(nb):
            Hb[a, b] = R[ia, blk_idx[lo + b]]
        Hb[a, a] += ph_p[ia] / dt


@_helper
def _prefix_block(R, ph, dt, lo, nb, blk_idx, e0, C):
    """Prefix products of one block of rf matrix R over the grid, stored in C[:, e0:]."""
    n = ph.shape[0]
    P = _eye(nb)
    Hb = np.empty((nb, nb), np.complex128)
    for p in range(n + 1):  # one _store call site: a literal index 0 would compile a second _store
        if p > 0:
            _block_hamiltonian(R, ph[p - 1], dt, lo, nb, blk_idx, Hb)
            P = _matmul(expm_herm(Hb, dt), P)
        _store(C, p, e0, P)


@_helper
def _window(C, e0, nb, c, L, n):
    """Product of the steps of cells c .. c + L - 1 (cyclic over the n cells of a period)."""
    end = c + L
    if end <= n:
        return _matmul_h(_load(C, end, e0, nb), _load(C, c, e0, nb))
    W = _matmul_h(_load(C, n, e0, nb), _load(C, c, e0, nb))
    full = _load(C, n, e0, nb)
    for _ in range(end // n - 1):
        W = _matmul(full, W)
    rem = end % n
    if rem > 0:
        W = _matmul(_load(C, rem, e0, nb), W)
    return W


@_helper
def _apply_rows(W, U, lo, blk_idx, rows, cols, ncol):
    """U[rows of the block] = W @ U[rows of the block], over the columns that can be non-zero in
    those rows (``cols[i, :ncol[i]]``, the same for every row of the block); ``rows`` is scratch."""
    nb = W.shape[0]
    i0 = blk_idx[lo]
    nc = ncol[i0]
    for a in range(nb):
        for q in range(nc):
            rows[a, q] = 0.0
        for b in range(nb):
            w = W[a, b]
            if w != 0:
                ib = blk_idx[lo + b]
                for q in range(nc):
                    rows[a, q] += w * U[ib, cols[i0, q]]
    for a in range(nb):
        ia = blk_idx[lo + a]
        for q in range(nc):
            U[ia, cols[i0, q]] = rows[a, q]


@_helper
def _apply_stored(St, e0, nb, U, lo, blk_idx, rows, cols, ncol):
    """:func:`_apply_rows` with the block stored flat at St[e0 : e0 + nb * nb]."""
    _apply_rows(St[e0:e0 + nb * nb].reshape((nb, nb)), U, lo, blk_idx, rows, cols, ncol)


@_helper
def _step_store(R_all, ph, dt, slot_rf, slot_cell, sbase, rf_blocks, blk_off, blk_idx, blk_el):
    """The step propagators of the (rf state, rotor cell) pairs that short runs need, stored flat."""
    St = np.empty(sbase[-1], np.complex128)
    for q in range(slot_rf.shape[0]):
        r = slot_rf[q]
        for bb in range(rf_blocks[r], rf_blocks[r + 1]):
            lo = blk_off[bb]
            nb = blk_off[bb + 1] - lo
            Hb = np.empty((nb, nb), np.complex128)
            _block_hamiltonian(R_all[r], ph[slot_cell[q]], dt, lo, nb, blk_idx, Hb)
            Ub = expm_herm(Hb, dt)
            e0 = sbase[q] + blk_el[bb]
            for a in range(nb):
                for b in range(nb):
                    St[e0 + a * nb + b] = Ub[a, b]
    return St


@_helper
def _rf_run(U, r, c, L, n_grid, mode, C, pbase, St, smap, sbase, rf_blocks, blk_off, blk_idx, blk_el, rows, cols,
            ncol):
    """Apply a run of L cells of rf state r starting at rotor cell c to U (in place)."""
    if mode[r] == 0:
        for bb in range(rf_blocks[r], rf_blocks[r + 1]):
            lo = blk_off[bb]
            nb = blk_off[bb + 1] - lo
            _apply_rows(_window(C, pbase[r] + blk_el[bb], nb, c, L, n_grid), U, lo, blk_idx, rows, cols, ncol)
        return
    for j in range(L):
        q = smap[r, (c + j) % n_grid]
        for bb in range(rf_blocks[r], rf_blocks[r + 1]):
            lo = blk_off[bb]
            _apply_stored(St, sbase[q] + blk_el[bb], blk_off[bb + 1] - lo, U, lo, blk_idx, rows, cols, ncol)


@_helper
def _segment_shared(Fo, wr, dt, n_grid, s, kinds, t0s, t1s, cells, lens, idxs, start, stop, unit_mats, rf_args,
                    cols, ncol):
    """Propagator of items start .. stop - 1 for the gamma angle whose rotor cells are shifted by s;
    ``cols[i, :ncol[i]]``: the columns of row i that the segment can make non-zero."""
    mode, C, pbase, St, smap, sbase, rf_blocks, blk_off, blk_idx, blk_el = rf_args
    dim = Fo.shape[1]
    U = _eye(dim)
    ph = np.empty(dim)
    rows = np.empty((dim, dim), np.complex128)
    tau = s * dt
    for it in range(start, stop):
        kind = kinds[it]
        if kind == 0:
            fourier_integral(Fo, t0s[it] + tau, t1s[it] + tau, wr, ph)
            for a in range(dim):
                f = np.exp(-1j * ph[a])
                for q in range(ncol[a]):
                    U[a, cols[a, q]] *= f
        elif kind == 1:
            _rf_run(U, idxs[it], (cells[it] + s) % n_grid, lens[it], n_grid, mode, C, pbase, St, smap, sbase,
                    rf_blocks, blk_off, blk_idx, blk_el, rows, cols, ncol)
        else:
            U = _matmul(unit_mats[idxs[it]], U)  # loops skip the zeros of a pulse on one spin
    return U


@njit(cache=True, nogil=True)
def shared_gamma_propagators(F, wr, dt, E, n_gamma, kinds, t0s, t1s, cells, lens, idxs, bounds, rf_mats,
                             rf_blocks, blk_off, blk_idx, blk_el, unit_mats, mode, pbase, n_pcols, smap, slot_rf,
                             slot_cell, sbase, seg_cols, seg_ncol):
    """Segment propagators of every (orientation, gamma angle), steps shared across gamma.

    Parameters
    ----------
    F : (n_ab, 9, dim) complex
        Fourier coefficients of the diagonal Hamiltonian at gamma = 0 (rad/s).
    wr : float
        Rotor angular frequency (rad/s).
    dt : float
        Grid step tau_R / n_grid (s).
    E : (n_grid, 4) complex
        Fourier integration factors of each cell (see :func:`_cell_phases`).
    n_gamma : int
        Gamma angles, equally spaced; n_grid must be a multiple of it.
    kinds : (n_it,) int
        0 free evolution from t0s to t1s (s), 1 a run of ``lens`` cells of rf state ``idxs`` from
        sequence cell ``cells``, 2 the ideal pulse ``unit_mats[idxs]``.
    bounds : (n_seg + 1,) int
        Item ranges of the segments.
    rf_blocks, blk_off, blk_idx : int arrays
        Invariant subspaces of each rf matrix, as in :func:`spinsim._kernels.propagate_segments`.
    blk_el : (n_blocks,) int
        Offset of each block's nb * nb elements within its rf state's store.
    mode : (n_rf,) int
        0: the rf state's runs use prefix products over the whole grid (columns from ``pbase[r]``
        of a store with ``n_pcols`` columns); 1: its runs are stepped with stored step propagators,
        slot ``smap[r, cell]`` (the slots' rf state, cell and store offset: ``slot_rf``,
        ``slot_cell``, ``sbase``).
    seg_cols, seg_ncol : (n_seg, dim, dim) int, (n_seg, dim) int
        Per segment, the columns that can be non-zero in each row of its propagator (the states
        that its rf and pulses connect to that row's state).

    Returns
    -------
    (n_ab, n_gamma, n_seg, dim, dim) complex
    """
    n_ab = F.shape[0]
    dim = F.shape[2]
    n_grid = E.shape[0]
    n_seg = bounds.shape[0] - 1
    shift = n_grid // n_gamma
    out = np.empty((n_ab, n_gamma, n_seg, dim, dim), np.complex128)
    for o in range(n_ab):
        ph = _cell_phases(F[o], E, dt)
        C = np.empty((n_grid + 1, n_pcols), np.complex128)
        for r in range(rf_mats.shape[0]):
            if mode[r] == 0:
                for bb in range(rf_blocks[r], rf_blocks[r + 1]):
                    lo = blk_off[bb]
                    _prefix_block(rf_mats[r], ph, dt, lo, blk_off[bb + 1] - lo, blk_idx, pbase[r] + blk_el[bb], C)
        St = _step_store(rf_mats, ph, dt, slot_rf, slot_cell, sbase, rf_blocks, blk_off, blk_idx, blk_el)
        rf_args = (mode, C, pbase, St, smap, sbase, rf_blocks, blk_off, blk_idx, blk_el)
        for k in range(n_gamma):
            for g in range(n_seg):
                U = _segment_shared(F[o], wr, dt, n_grid, k * shift, kinds, t0s, t1s, cells, lens, idxs, bounds[g],
                                    bounds[g + 1], unit_mats, rf_args, seg_cols[g], seg_ncol[g])
                # element by element: a slice assignment compiles numba's shape checks and their
                # error messages (string code: about 2 s of a first run)
                for a in range(dim):
                    for b in range(dim):
                        out[o, k, g, a, b] = U[a, b]
    return out


@njit(cache=True, nogil=True)
def unitary_signals(UA, Ucen, UB, ns, perm, pscale, dets):
    """Signals Tr[det_i^dagger G_i rho0 G_i^dagger] for G_i = UB^n_i Ucen UA^n_i (a unitary centre).

    The same numbers as :func:`spinsim._kernels.general_signal` without a transfer, with a third of
    its products: G_i is built from the running powers UA^n and UB^n Ucen, and rho0 (at most one
    entry per row: ``rho0[j, perm[j]] = pscale[j]``) and the detection operators (mostly zeros) are
    contracted entry by entry instead of being propagated.

    Returns
    -------
    (n_o, n_pts) complex
    """
    n_o = UA.shape[0]
    dim = UA.shape[1]
    n_pts = ns.shape[0]
    out = np.empty((n_o, n_pts), np.complex128)
    for o in range(n_o):
        PA = _eye(dim)
        PBU = Ucen[o].copy()
        cur = 0
        for i in range(n_pts):
            while cur < ns[i]:
                PA = _matmul(UA[o], PA)
                PBU = _matmul(UB[o], PBU)
                cur += 1
            G = _matmul(PBU, PA)
            d = dets[i]
            acc = 0j
            for a in range(dim):
                for b in range(dim):
                    w = d[a, b]
                    if w != 0:
                        s = 0j
                        for j in range(dim):
                            if pscale[j] != 0:
                                s += G[a, j] * pscale[j] * np.conj(G[b, perm[j]])
                        acc += np.conj(w) * s
            out[o, i] = acc
    return out
