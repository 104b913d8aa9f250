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


@njit(cache=True)
def _step_props(Fi, Fsi, m, wr, t0, dt, rf, phase, sigma2):
    """exp(-i H dt) on the partner space for S in the state with 2 sigma = sigma2.

    ``rf`` is the x-phase rf Hamiltonian (real); the phase is applied as a z rotation,
    exp(-i phi Iz) exp(-i (D + w1 Ix) dt) exp(i phi Iz), so that only real symmetric
    eigenproblems are solved.
    """
    mult = m.shape[0]
    ph = np.empty(mult)
    ps = np.empty(1)
    fourier_integral(Fi, t0, t0 + dt, wr, ph)
    fourier_integral(Fsi, t0, t0 + dt, wr, ps)
    H = np.empty((mult, mult), np.complex128)
    for a in range(mult):
        for b in range(mult):
            H[a, b] = rf[a, b]
        H[a, a] += (ph[a] + sigma2 * m[a] * ps[0]) / dt
    U = expm_herm(H, dt)
    if phase != 0.0:
        for a in range(mult):
            for b in range(mult):
                U[a, b] *= np.exp(-1j * phase * (m[a] - m[b]))
    return U


@njit(cache=True)
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


@njit(cache=True)
def _assemble(W, m, phi_a, phi_b, ns, out):
    """out[i] = (1/mult) sum_{m', m} W[m', m] exp(2i m' n Phi_b - 2i m n Phi_a)."""
    mult = m.shape[0]
    for i in range(ns.shape[0]):
        n = ns[i]
        acc = 0j
        for b in range(mult):
            yb = np.exp(2j * m[b] * n * phi_b)
            for a in range(mult):
                acc += W[b, a] * yb * np.exp(-2j * m[a] * n * phi_a)
        out[i] = acc / mult


@njit(cache=True, parallel=True)
def respdor_fast(Fi, Fsi, m, wr, n_gamma, L, dt, rf_idx, rf_mats, rf_phase, shared, n_per, phi_a, phi_b, ns):
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
    rf_idx : (L,) int, rf_mats : (n_rf, mult, mult) complex, rf_phase : (n_rf,) float
        rf of each step: x-phase Hamiltonian 2 pi nu1 Ix (rad/s) and phase (rad).
    phi_a, phi_b : (n_ab, n_gamma) float
        Per-rotor-period S-I phase integral_period omega_SI(t) s(t) dt of the first and second
        recoupling halves (rad).
    ns : (n_pts,) int
        Rotor periods per half.

    Returns
    -------
    c1, c0 : (n_ab, n_gamma, n_pts) complex
        Normalised partner factors of the S coherence with and without the block's rf.
    """
    n_ab = Fi.shape[0]
    mult = m.shape[0]
    n_pts = ns.shape[0]
    c1 = np.empty((n_ab, n_gamma, n_pts), np.complex128)
    c0 = np.empty((n_ab, n_gamma, n_pts), np.complex128)
    half = L // 2
    tr = 2 * np.pi / wr
    for o in prange(n_ab):
        Fio = Fi[o]
        Fso = Fsi[o : o + 1].T.copy()  # (9, 1)
        ps = np.empty(1)
        if shared:
            P = np.empty((2, n_per + 1, mult, mult), np.complex128)
            for si in range(2):
                sig = 1.0 - 2.0 * si
                P[si, 0] = _eye(mult)
                for p in range(n_per):
                    S = _step_props(Fio, Fso, m, wr, p * dt, dt, rf_mats[rf_idx[0]], rf_phase[rf_idx[0]], sig)
                    P[si, p + 1] = _matmul(S, P[si, p])
        W = np.empty((mult, mult), np.complex128)
        W0 = np.zeros((mult, mult), np.complex128)
        tmp = np.empty(n_pts, np.complex128)
        for g in range(n_gamma):
            tg = g * tr / n_gamma
            if shared:
                off = (g * n_per) // n_gamma
                UaP = _range_product(P[0], off, half, n_per)
                UaM = _range_product(P[1], off, half, n_per)
                UbP = _range_product(P[0], off + half, L - half, n_per)
                UbM = _range_product(P[1], off + half, L - half, n_per)
            else:
                UaP = _eye(mult)
                UaM = _eye(mult)
                UbP = _eye(mult)
                UbM = _eye(mult)
                for s in range(L):
                    t0 = tg + s * dt
                    SP = _step_props(Fio, Fso, m, wr, t0, dt, rf_mats[rf_idx[s]], rf_phase[rf_idx[s]], 1.0)
                    SM = _step_props(Fio, Fso, m, wr, t0, dt, rf_mats[rf_idx[s]], rf_phase[rf_idx[s]], -1.0)
                    if s < half:
                        UaP = _matmul(SP, UaP)
                        UaM = _matmul(SM, UaM)
                    else:
                        UbP = _matmul(SP, UbP)
                        UbM = _matmul(SM, UbM)
            # V+ = Ub(-) Ua(+), V- = Ub(+) Ua(-): the centre pi pulse flips S
            Vp = _matmul(UbM, UaP)
            Vm = _matmul(UbP, UaM)
            for a in range(mult):
                for b in range(mult):
                    W[a, b] = Vp[a, b] * np.conj(Vm[a, b])
            _assemble(W, m, phi_a[o, g], phi_b[o, g], ns, tmp)
            for i in range(n_pts):
                c1[o, g, i] = tmp[i]
            # S0: no rf, the block is diagonal; only the S-I term survives the branch difference
            fourier_integral(Fso, tg, tg + half * dt, wr, ps)
            ia = ps[0]
            fourier_integral(Fso, tg + half * dt, tg + L * dt, wr, ps)
            ib = ps[0]
            for a in range(mult):
                W0[a, a] = np.exp(-2j * m[a] * (ia - ib))
            _assemble(W0, m, phi_a[o, g], phi_b[o, g], ns, tmp)
            for i in range(n_pts):
                c0[o, g, i] = tmp[i]
    return c1, c0
