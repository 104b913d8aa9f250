"""Numba kernels of the simulation engine: pure functions of arrays, compiled with cache=True.

Importing this module compiles (or loads from cache) the kernels; :mod:`spinsim` imports it
lazily. Units inside: rad/s for Hamiltonians, s for times. Every parallel loop writes only its
own output row (no shared accumulation); reductions over orientations happen in numpy afterwards.

Fourier-coefficient arrays F have shape (..., 9, d): F[k + 4] multiplies exp(i k omega_r t).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

NH = 4


@njit(cache=True)
def fourier_integral(F, t0, t1, wr, out):
    """out[d] = integral_{t0}^{t1} sum_k F[k, d] exp(i k wr t) dt (real part), rad."""
    d = F.shape[1]
    for j in range(d):
        out[j] = F[NH, j].real * (t1 - t0)
    for k in range(1, NH + 1):
        # k and -k together: 2 Re[F_k (e^{ik wr t1} - e^{ik wr t0}) / (i k wr)]
        a1 = k * wr * t1
        a0 = k * wr * t0
        e = (np.cos(a1) - np.cos(a0)) + 1j * (np.sin(a1) - np.sin(a0))
        fac = e / (1j * k * wr)
        for j in range(d):
            out[j] += (F[NH + k, j] * fac).real + (F[NH - k, j] * np.conj(fac)).real


@njit(cache=True)
def expm_herm(H, dt):
    """exp(-i H dt) for a Hermitian matrix H (rad/s) and step dt (s)."""
    n = H.shape[0]
    if n == 1:
        U1 = np.empty((1, 1), np.complex128)
        U1[0, 0] = np.exp(-1j * H[0, 0].real * dt)
        return U1
    if n == 2:
        # closed form: exp(-i H dt) = e^{-i m dt} [cos(w dt) - i sin(w dt)/w (H - m)]
        a = H[0, 0].real
        d = H[1, 1].real
        b = H[0, 1]
        mean = 0.5 * (a + d)
        half = 0.5 * (a - d)
        w = np.sqrt(half * half + b.real * b.real + b.imag * b.imag)
        c = np.cos(w * dt)
        sw = dt if w * dt < 1e-300 else np.sin(w * dt) / w
        ph = np.exp(-1j * mean * dt)
        U2 = np.empty((2, 2), np.complex128)
        U2[0, 0] = ph * (c - 1j * sw * half)
        U2[1, 1] = ph * (c + 1j * sw * half)
        U2[0, 1] = ph * (-1j * sw * b)
        U2[1, 0] = ph * (-1j * sw * np.conj(b))
        return U2
    real = True
    for a in range(n):
        for b in range(n):
            if H[a, b].imag != 0.0:
                real = False
                break
        if not real:
            break
    U = np.empty((n, n), np.complex128)
    e = np.empty(n, np.complex128)
    if real:
        w, v = np.linalg.eigh(np.ascontiguousarray(H.real))
        for k in range(n):
            e[k] = np.exp(-1j * w[k] * dt)
        for a in range(n):
            for b in range(a, n):
                acc = 0j
                for k in range(n):
                    acc += (v[a, k] * v[b, k]) * e[k]
                U[a, b] = acc
                U[b, a] = acc  # exp(-iHt) of a real symmetric H is complex symmetric
    else:
        w, vc = np.linalg.eigh(H)
        for k in range(n):
            e[k] = np.exp(-1j * w[k] * dt)
        for a in range(n):
            for b in range(n):
                acc = 0j
                for k in range(n):
                    acc += vc[a, k] * np.conj(vc[b, k]) * e[k]
                U[a, b] = acc
    return U


@njit(cache=True)
def _matmul(A, B):
    n = A.shape[0]
    m = B.shape[1]
    p = A.shape[1]
    C = np.zeros((n, m), np.complex128)
    for i in range(n):
        for k in range(p):
            a = A[i, k]
            if a != 0:
                for j in range(m):
                    C[i, j] += a * B[k, j]
    return C


@njit(cache=True)
def _matmul_h(A, B):
    """A @ B^dagger."""
    n = A.shape[0]
    m = B.shape[0]
    p = A.shape[1]
    C = np.zeros((n, m), np.complex128)
    for i in range(n):
        for j in range(m):
            acc = 0j
            for k in range(p):
                acc += A[i, k] * np.conj(B[j, k])
            C[i, j] = acc
    return C


@njit(cache=True)
def _eye(n):
    U = np.zeros((n, n), np.complex128)
    for i in range(n):
        U[i, i] = 1.0
    return U


# ----------------------------------------------------------------------------------------
# General path: dense propagators of arbitrary piecewise-constant sequences
# ----------------------------------------------------------------------------------------


@njit(cache=True)
def _segment(Fo, wr, t0s, dts, kinds, idxs, start, stop, rf_mats, rf_blocks, blk_off, blk_idx, unit_mats):
    dim = Fo.shape[1]
    U = _eye(dim)
    ph = np.empty(dim)
    for s in range(start, stop):
        kind = kinds[s]
        if kind == 0:
            # free evolution: diagonal, integrated exactly
            fourier_integral(Fo, t0s[s], t0s[s] + dts[s], wr, ph)
            for a in range(dim):
                f = np.exp(-1j * ph[a])
                for b in range(dim):
                    U[a, b] *= f
        elif kind == 1:
            # rf on: piecewise constant, with the diagonal averaged exactly over the slice; the
            # exponential is taken block by block (rf mixes only states within a block)
            fourier_integral(Fo, t0s[s], t0s[s] + dts[s], wr, ph)
            r = idxs[s]
            R = rf_mats[r]
            for bb in range(rf_blocks[r], rf_blocks[r + 1]):
                lo = blk_off[bb]
                nb = blk_off[bb + 1] - lo
                Hb = np.empty((nb, nb), np.complex128)
                for a in range(nb):
                    ia = blk_idx[lo + a]
                    for b in range(nb):
                        Hb[a, b] = R[ia, blk_idx[lo + b]]
                    Hb[a, a] += ph[ia] / dts[s]
                Ub = expm_herm(Hb, dts[s])
                rows = np.empty((nb, dim), np.complex128)
                for a in range(nb):
                    for c in range(dim):
                        acc = 0j
                        for b in range(nb):
                            acc += Ub[a, b] * U[blk_idx[lo + b], c]
                        rows[a, c] = acc
                for a in range(nb):
                    for c in range(dim):
                        U[blk_idx[lo + a], c] = rows[a, c]
        else:
            U = _matmul(unit_mats[idxs[s]], U)
    return U


@njit(cache=True, parallel=True)
def propagate_segments(F, wr, t0s, dts, kinds, idxs, bounds, rf_mats, rf_blocks, blk_off, blk_idx, unit_mats):
    """Propagators of consecutive segments for every crystallite.

    Parameters
    ----------
    F : (n_o, 9, dim) complex
        Fourier coefficients of the diagonal Hamiltonian (rad/s), one row per crystallite.
    wr : float
        Rotor angular frequency (rad/s).
    t0s, dts : (n_s,) float
        Absolute start time and length of each slice (s).
    kinds : (n_s,) int
        0 free evolution, 1 rf slice (``rf_mats[idxs]`` added), 2 ideal pulse (``unit_mats[idxs]``).
    bounds : (n_seg + 1,) int
        Slice ranges of the segments.
    rf_blocks, blk_off, blk_idx : int arrays
        Invariant subspaces of each rf matrix r: blocks rf_blocks[r] .. rf_blocks[r+1]-1, block b
        holding the basis states blk_idx[blk_off[b]:blk_off[b+1]].

    Returns
    -------
    (n_o, n_seg, dim, dim) complex
    """
    n_o = F.shape[0]
    dim = F.shape[2]
    n_seg = bounds.shape[0] - 1
    out = np.empty((n_o, n_seg, dim, dim), np.complex128)
    for o in prange(n_o):
        for g in range(n_seg):
            out[o, g] = _segment(
                F[o], wr, t0s, dts, kinds, idxs, bounds[g], bounds[g + 1], rf_mats, rf_blocks, blk_off, blk_idx,
                unit_mats,
            )
    return out


@njit(cache=True, parallel=True)
def general_signal(UA, Ucen, UB, ns, rho0, dets, transfer, n_s):
    """Signals Tr[det_i^dag U_i rho0 U_i^dag] for U_i = UB^n_i  C  UA^n_i.

    The central block C is the unitary ``Ucen[o]``; if ``transfer`` is non-empty (n_conf x n_conf,
    the partner-state transfer matrix P[m', m] of an ideal saturation), C is instead: keep only
    partner-diagonal blocks, move populations with P, then apply ``Ucen[o]`` (the S pulse).
    ``n_s`` is the dimension of the observed spin (2); the partner index runs slowest... fastest
    after it (product basis S x partners).

    Returns
    -------
    (n_o, n_pts) complex
    """
    n_o = UA.shape[0]
    dim = UA.shape[1]
    n_pts = ns.shape[0]
    ideal = transfer.shape[0] > 0
    nc = dim // n_s
    out = np.empty((n_o, n_pts), np.complex128)
    for o in prange(n_o):
        PA = _eye(dim)
        PB = _eye(dim)
        cur = 0
        for i in range(n_pts):
            while cur < ns[i]:
                PA = _matmul(UA[o], PA)
                PB = _matmul(UB[o], PB)
                cur += 1
            rho = _matmul_h(_matmul(PA, rho0), PA)
            if ideal:
                new = np.zeros((dim, dim), np.complex128)
                for s1 in range(n_s):
                    for s2 in range(n_s):
                        for c2 in range(nc):
                            acc = 0j
                            for c1 in range(nc):
                                acc += transfer[c2, c1] * rho[s1 * nc + c1, s2 * nc + c1]
                            new[s1 * nc + c2, s2 * nc + c2] = acc
                rho = new
            rho = _matmul_h(_matmul(Ucen[o], rho), Ucen[o])
            rho = _matmul_h(_matmul(PB, rho), PB)
            acc = 0j
            d = dets[i]
            for a in range(dim):
                for b in range(dim):
                    acc += np.conj(d[a, b]) * rho[a, b]
            out[o, i] = acc
    return out


@njit(cache=True)
def _centre_and_detect(PA, PB, Uc, rho0, det, transfer, n_s):
    """Tr[det^dag PB C(PA rho0 PA^dag) PB^dag], C = optional ideal transfer, then Uc."""
    dim = PA.shape[0]
    nc = dim // n_s
    rho = _matmul_h(_matmul(PA, rho0), PA)
    if transfer.shape[0] > 0:
        new = np.zeros((dim, dim), np.complex128)
        for s1 in range(n_s):
            for s2 in range(n_s):
                for c2 in range(nc):
                    acc = 0j
                    for c1 in range(nc):
                        acc += transfer[c2, c1] * rho[s1 * nc + c1, s2 * nc + c1]
                    new[s1 * nc + c2, s2 * nc + c2] = acc
        rho = new
    rho = _matmul_h(_matmul(Uc, rho), Uc)
    rho = _matmul_h(_matmul(PB, rho), PB)
    acc = 0j
    for a in range(dim):
        for b in range(dim):
            acc += np.conj(det[a, b]) * rho[a, b]
    return acc


@njit(cache=True, parallel=True)
def general_signal_periods(UA, Ucen, UB, ns, cont, rho0, dets, transfer, n_s):
    """Like :func:`general_signal`, with ``ns`` rotor periods per half taken one period at a time.

    ``UA[o, p]`` and ``UB[o, p]`` are the propagators of period p of the cycle in the first and
    second half. The first half runs periods 0, 1, .. (cyclically); the second half starts again
    at period 0, or with ``cont`` continues the cycle where the first half stopped.

    Returns
    -------
    (n_o, n_pts) complex
    """
    n_o = UA.shape[0]
    n_per = UA.shape[1]
    dim = UA.shape[2]
    n_pts = ns.shape[0]
    out = np.empty((n_o, n_pts), np.complex128)
    for o in prange(n_o):
        for i in range(n_pts):
            n = ns[i]
            PA = _eye(dim)
            PB = _eye(dim)
            start = n if cont else 0
            for k in range(n):
                PA = _matmul(UA[o, k % n_per], PA)
                PB = _matmul(UB[o, (start + k) % n_per], PB)
            out[o, i] = _centre_and_detect(PA, PB, Ucen[o], rho0, dets[i], transfer, n_s)
    return out


# ----------------------------------------------------------------------------------------
# Fast path: REDOR-type recoupling with ideal pi pulses on S, one partner I at a time
# ----------------------------------------------------------------------------------------
#
# These kernels are serial and release the GIL (nogil=True): the driver runs chunks of
# crystallites on a pool of Python threads, which also overlaps one chunk's numpy work with
# another chunk's kernel. They allocate their work arrays once per call, use no numpy.linalg and
# no array-slice assignment (whose broadcast checks cost seconds of compilation), so that a first
# run compiles them in a few seconds. Argument types are fixed by the driver (C-contiguous float64,
# complex128 and int64 arrays), so each kernel is compiled for one signature only.


@njit(cache=True, nogil=True)
def _tql2(d, e, V):
    """Eigenvalues and vectors of a real symmetric tridiagonal matrix, in place.

    On entry ``d`` holds the diagonal, ``e[a]`` the element (a, a+1) (``e[n-1]`` ignored) and
    ``V`` the identity; on exit ``d`` holds the eigenvalues and row k of ``V`` the eigenvector
    of ``d[k]`` (unsorted; rows, so that the rotations below run over contiguous memory). Implicit QL with Wilkinson shifts (EISPACK tql2, as in JAMA); returns
    False if an eigenvalue did not converge in 60 iterations.
    """
    n = d.shape[0]
    e[n - 1] = 0.0
    f = 0.0
    tst1 = 0.0
    eps = 2.220446049250313e-16
    ok = True
    for l in range(n):
        tst1 = max(tst1, abs(d[l]) + abs(e[l]))
        mm = l
        while mm < n - 1:
            if abs(e[mm]) <= eps * tst1:
                break
            mm += 1
        if mm > l:
            it = 0
            while True:
                it += 1
                g = d[l]
                p = (d[l + 1] - g) / (2.0 * e[l])
                r = np.sqrt(p * p + 1.0)
                if p < 0:
                    r = -r
                d[l] = e[l] / (p + r)
                d[l + 1] = e[l] * (p + r)
                dl1 = d[l + 1]
                h = g - d[l]
                for i in range(l + 2, n):
                    d[i] -= h
                f += h
                p = d[mm]
                c = 1.0
                c2 = 1.0
                c3 = 1.0
                el1 = e[l + 1]
                s = 0.0
                s2 = 0.0
                for i in range(mm - 1, l - 1, -1):
                    c3 = c2
                    c2 = c
                    s2 = s
                    g = c * e[i]
                    h = c * p
                    r = np.sqrt(p * p + e[i] * e[i])
                    e[i + 1] = s * r
                    s = e[i] / r
                    c = p / r
                    p = c * d[i] - s * g
                    d[i + 1] = h + s * (c * g + s * d[i])
                    for k in range(n):
                        h = V[i + 1, k]
                        V[i + 1, k] = s * V[i, k] + c * h
                        V[i, k] = c * V[i, k] - s * h
                p = -s * s2 * c3 * el1 * e[l] / dl1
                e[l] = s * p
                d[l] = c * p
                if not abs(e[l]) > eps * tst1:
                    break
                if it >= 60:
                    ok = False
                    break
        d[l] = d[l] + f
        e[l] = 0.0
    return ok


@njit(cache=True, nogil=True)
def _apply_step(U, diag, off, dt, phase, m, d, e, V, T):
    """U <- S U in place, S = exp(-i phase Iz) exp(-i (diag + off) dt) exp(i phase Iz).

    ``diag`` (rad/s) is the diagonal and ``off[a]`` the (a, a+1) element (rad/s) of the real
    symmetric tridiagonal Hamiltonian on the partner space: the rf is applied at phase x and
    turned by a z rotation, so that only real symmetric eigenproblems are solved. ``d``, ``e``,
    ``V`` (real) and ``T`` (complex) are work arrays of the partner dimension.
    """
    n = m.shape[0]
    for a in range(n):
        d[a] = diag[a]
        e[a] = off[a]
        for b in range(n):
            V[a, b] = 0.0
        V[a, a] = 1.0
    if not _tql2(d, e, V):
        raise RuntimeError("fast engine: eigenvalues of a step Hamiltonian did not converge")
    if phase != 0.0:
        for a in range(n):
            z = np.exp(1j * phase * m[a])
            for c in range(n):
                U[a, c] *= z
    # rows of V are the eigenvectors: T = diag(exp(-i lambda dt)) V U, then U = V^T T
    for k in range(n):
        for c in range(n):
            T[k, c] = 0.0
        for a in range(n):
            v = V[k, a]
            for c in range(n):
                T[k, c] += v * U[a, c]
        z = np.exp(-1j * d[k] * dt)
        for c in range(n):
            T[k, c] *= z
    for a in range(n):
        for c in range(n):
            U[a, c] = 0.0
    for k in range(n):
        for a in range(n):
            v = V[k, a]
            for c in range(n):
                U[a, c] += v * T[k, c]
    if phase != 0.0:
        for a in range(n):
            z = np.exp(-1j * phase * m[a])
            for c in range(n):
                U[a, c] *= z


@njit(cache=True, nogil=True)
def _step_diagonals(Fi, Fs, m, G, dt, sigma2, out):
    """Average diagonal (rad/s) of each step: out[s, a] = (int_s omega_a + sigma2 m_a int_s omega_SI) / dt.

    ``G[s, k - 1] = (e^{i k wr t1} - e^{i k wr t0}) / (i k wr)`` over step s (k = 1..NH) is shared
    by all crystallites; the integral of F_0 over a step is F_0 dt.
    """
    n = m.shape[0]
    for s in range(G.shape[0]):
        ws = Fs[NH].real * dt
        for k in range(1, NH + 1):
            g = G[s, k - 1]
            ws += (Fs[NH + k] * g).real + (Fs[NH - k] * np.conj(g)).real
        for a in range(n):
            w = Fi[NH, a].real * dt
            for k in range(1, NH + 1):
                g = G[s, k - 1]
                w += (Fi[NH + k, a] * g).real + (Fi[NH - k, a] * np.conj(g)).real
            out[s, a] = (w + sigma2 * m[a] * ws) / dt


@njit(cache=True, nogil=True)
def _fint1(F, t0, t1, wr):
    """integral_{t0}^{t1} sum_k F[k] exp(i k wr t) dt (real part) of one row F (9,), rad."""
    out = F[NH].real * (t1 - t0)
    for k in range(1, NH + 1):
        e = (np.cos(k * wr * t1) - np.cos(k * wr * t0)) + 1j * (np.sin(k * wr * t1) - np.sin(k * wr * t0))
        fac = e / (1j * k * wr)
        out += (F[NH + k] * fac).real + (F[NH - k] * np.conj(fac)).real
    return out


@njit(cache=True, nogil=True)
def _copy_into(dst, src):
    for a in range(src.shape[0]):
        for b in range(src.shape[1]):
            dst[a, b] = src[a, b]


@njit(cache=True, nogil=True)
def _range_product(P, start, length, n_per):
    """Product of ``length`` consecutive periodic steps from ``start`` using prefix products P.

    P[k] = S_{k-1} ... S_0 (P[0] = 1) over one period of n_per steps; steps are unitary, so a
    contiguous range j..k-1 is P[k] P[j]^dag.
    """
    mult = P.shape[1]
    a0 = start % n_per
    q = length // n_per
    r = length % n_per
    U = _eye(mult)
    if q > 0:
        full = _matmul_h(_matmul(P[a0], P[n_per]), P[a0])
        for _ in range(q):
            U = _matmul(full, U)
    if r > 0:
        if a0 + r <= n_per:
            part = _matmul_h(P[a0 + r], P[a0])
        else:
            part = _matmul(P[a0 + r - n_per], _matmul_h(P[n_per], P[a0]))
        U = _matmul(part, U)
    return U


@njit(cache=True, nogil=True)
def _phase_powers(z, m, out):
    """out[a] = z^(2 m[a]) for |z| = 1 and m = I, I-1, .., -I (2 m integer): one power and products."""
    n = m.shape[0]
    top = 1.0 + 0j
    for _ in range(n - 1):  # 2 I = n - 1
        top *= z
    step = np.conj(z) * np.conj(z)
    out[0] = top
    for a in range(1, n):
        out[a] = out[a - 1] * step


@njit(cache=True, nogil=True)
def _assemble(W, w0, m, phi_a, phi_b, ns, x, y, c1, c0):
    """c1[i] = (1/mult) sum_{m', m} W[m', m] exp(2i m' n Phi_b - 2i m n Phi_a), n = ns[i];
    c0[i] the same with the diagonal matrix diag(w0). ``x``, ``y``: work arrays (mult,) complex."""
    mult = m.shape[0]
    for i in range(ns.shape[0]):
        n = ns[i]
        _phase_powers(np.exp(-1j * n * phi_a), m, x)
        _phase_powers(np.exp(1j * n * phi_b), m, y)
        acc = 0j
        acc0 = 0j
        for b in range(mult):
            row = 0j
            for a in range(mult):
                row += W[b, a] * x[a]
            acc += y[b] * row
            acc0 += w0[b] * y[b] * x[b]
        c1[i] = acc / mult
        c0[i] = acc0 / mult


@njit(cache=True, nogil=True)
def respdor_fast(Fi, Fsi, m, wr, n_gamma, L, dt, rf_idx, rf_off, rf_phase, shared, n_per, G, phi_a, phi_b, ns,
                 c1, c0):
    """S1 and S0 coherence amplitudes for one partner spin, REDOR-type recoupling with ideal S pulses.

    The central block (``L`` steps of ``dt`` s, even L, an ideal S pi pulse after step L/2) starts
    at rotor phase 0 of crystallite gamma = 0; crystallite g is shifted by g tau_R / n_gamma. With
    ``shared`` (rf identical at every step, and tau_R = n_per dt with n_per a multiple of
    n_gamma), one period of step propagators and its prefix products serve every gamma.

    Parameters
    ----------
    Fi : (n_ab, 9, mult) complex
        Partner diagonal (rad/s) including the rf carrier offset.
    Fsi : (n_ab, 9) complex
        Coefficient of 2 S_z I_z (rad/s).
    m : (mult,) float
        Magnetic quantum numbers of the partner basis.
    rf_idx : (L,) int, rf_off : (n_rf, mult) float, rf_phase : (n_rf,) float
        rf of each step: element (a, a+1) of the x-phase Hamiltonian 2 pi nu1 Ix (rad/s), phase (rad).
    G : (n_tab, n_steps, NH) complex
        Time factors of the steps (see :func:`_step_diagonals`): with ``shared`` one table of the
        n_per steps of a rotor period from t = 0; else one table of the L steps per gamma angle.
    phi_a, phi_b : (n_ab, n_gamma) float
        Per-rotor-period S-I phase integral_period omega_SI(t) s(t) dt of the first and second
        recoupling halves (rad).
    ns : (n_pts,) int
        Rotor periods per half.
    c1, c0 : (n_ab, n_gamma, n_pts) complex
        Output: normalised partner factors of the S coherence with and without the block's rf.
    """
    n_ab = Fi.shape[0]
    mult = m.shape[0]
    half = L // 2
    tr = 2 * np.pi / wr
    n_steps = G.shape[1]
    dg = np.empty((2, n_steps, mult))
    P = np.empty((2, n_per + 1, mult, mult), np.complex128)
    U4 = np.empty((4, mult, mult), np.complex128)
    W = np.empty((mult, mult), np.complex128)
    w0 = np.empty(mult, np.complex128)
    d = np.empty(mult)
    e = np.empty(mult)
    V = np.empty((mult, mult))
    T = np.empty((mult, mult), np.complex128)
    x = np.empty(mult, np.complex128)
    y = np.empty(mult, np.complex128)
    for o in range(n_ab):
        Fio = Fi[o]
        Fso = Fsi[o]
        if shared:
            r = rf_idx[0]
            for si in range(2):
                _step_diagonals(Fio, Fso, m, G[0], dt, 1.0 - 2.0 * si, dg[si])
                for a in range(mult):
                    for b in range(mult):
                        P[si, 0, a, b] = 1.0 if a == b else 0.0
                for p in range(n_per):
                    _copy_into(P[si, p + 1], P[si, p])
                    _apply_step(P[si, p + 1], dg[si, p], rf_off[r], dt, rf_phase[r], m, d, e, V, T)
        for g in range(n_gamma):
            tg = g * tr / n_gamma
            if shared:
                off = (g * n_per) // n_gamma
                # UaP, UaM, UbP, UbM
                _copy_into(U4[0], _range_product(P[0], off, half, n_per))
                _copy_into(U4[1], _range_product(P[1], off, half, n_per))
                _copy_into(U4[2], _range_product(P[0], off + half, L - half, n_per))
                _copy_into(U4[3], _range_product(P[1], off + half, L - half, n_per))
            else:
                for si in range(2):
                    _step_diagonals(Fio, Fso, m, G[g], dt, 1.0 - 2.0 * si, dg[si])
                for k in range(4):
                    for a in range(mult):
                        for b in range(mult):
                            U4[k, a, b] = 1.0 if a == b else 0.0
                for s in range(L):
                    r = rf_idx[s]
                    k = 0 if s < half else 2
                    _apply_step(U4[k], dg[0, s], rf_off[r], dt, rf_phase[r], m, d, e, V, T)
                    _apply_step(U4[k + 1], dg[1, s], rf_off[r], dt, rf_phase[r], m, d, e, V, T)
            # V+ = Ub(-) Ua(+), V- = Ub(+) Ua(-): the centre pi pulse flips S
            Vp = _matmul(U4[3], U4[0])
            Vm = _matmul(U4[2], U4[1])
            for a in range(mult):
                for b in range(mult):
                    W[a, b] = Vp[a, b] * np.conj(Vm[a, b])
            # S0: no rf, the block is diagonal; only the S-I term survives the branch difference
            ia = _fint1(Fso, tg, tg + half * dt, wr)
            ib = _fint1(Fso, tg + half * dt, tg + L * dt, wr)
            for a in range(mult):
                w0[a] = np.exp(-2j * m[a] * (ia - ib))
            _assemble(W, w0, m, phi_a[o, g], phi_b[o, g], ns, x, y, c1[o, g], c0[o, g])
