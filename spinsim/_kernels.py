"""Numba kernels of the simulation engine: pure functions of arrays, compiled with cache=True.

Importing this module compiles (or loads from cache) the kernels; :mod:`spinsim` imports it
lazily. Units inside: rad/s for Hamiltonians, s for times. The kernels are serial and release
the GIL: the drivers run chunks of crystallites on Python threads (``spinsim._crystallites``),
which compiles in a fraction of the time of numba's ``prange``. A kernel writes only its own
output rows; reductions over orientations happen in numpy afterwards.

Fourier-coefficient arrays F have shape (..., 9, d): F[k + 4] multiplies exp(i k omega_r t).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._jitcache import prepare_kernel_cache

# before any kernel of the package is defined: numba checks a cached kernel against its own file only
prepare_kernel_cache()

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
def fourier_moment(F, t0, t1, wr, out):
    """out[d] = (1 / (t1 - t0)) integral_{t0}^{t1} (t - t_mid) sum_k F[k, d] exp(i k wr t) dt (real part),
    rad: the first moment that the fourth-order Magnus step needs (the constant term has none).

    With x = k wr dt / 2 the integral of (t - t_mid) e^{i k wr t} is e^{i k wr t_mid} 2i (sin x - x cos x)
    / (k wr)^2; below x = 1e-2 the bracket is its series x^3/3 - x^5/30 + x^7/840 (the difference
    cancels). The per-step twin of :func:`spinsim._drivers_fast._moment_factors` (tested equal)."""
    d = F.shape[1]
    dt = t1 - t0
    tm = 0.5 * (t0 + t1)
    for j in range(d):
        out[j] = 0.0
    for k in range(1, NH + 1):
        kw = k * wr
        x = 0.5 * kw * dt
        if x < 1e-2:
            br = x ** 3 / 3 - x ** 5 / 30 + x ** 7 / 840
        else:
            br = np.sin(x) - x * np.cos(x)
        g = (np.cos(kw * tm) + 1j * np.sin(kw * tm)) * (2j * br / (kw * kw * dt))
        for j in range(d):
            out[j] += (F[NH + k, j] * g).real + (F[NH - k, j] * np.conj(g)).real


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


@njit(cache=True, nogil=True)
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
    for o in range(n_o):
        for g in range(n_seg):
            U = _segment(F[o], wr, t0s, dts, kinds, idxs, bounds[g], bounds[g + 1], rf_mats, rf_blocks, blk_off,
                         blk_idx, unit_mats)
            for a in range(dim):  # not a slice assignment: its shape checks compile seconds of string code
                for b in range(dim):
                    out[o, g, a, b] = U[a, b]
    return out


@njit(cache=True, nogil=True)
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
    for o in range(n_o):
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


@njit(cache=True, nogil=True)
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
    for o in range(n_o):
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
# another chunk's kernel. What a first run compiles is kept small: two entry kernels (gamma-shared
# rotor period, or step by step), so that a run compiles only the one it uses; helpers without the
# CPython and C wrappers (only kernels call them; the wrappers are most of a small function's
# compile time); no numpy.linalg, no allocation outside the entry kernels, no array-slice
# assignment (its broadcast checks cost seconds of compilation), no exceptions (a status is
# returned); one signature each (the driver passes C-contiguous float64, complex128, int64 arrays).

#: Decorator of the fast path's internal helpers (callable from kernels only, not from Python).
_helper = njit(cache=True, nogil=True, error_model="numpy", no_cpython_wrapper=True, no_cfunc_wrapper=True)


@_helper
def _tql2(d, e, V, w):
    """Eigenvalues and vectors of k real symmetric tridiagonal matrices, in place, in lockstep.

    On entry ``d[q]`` holds the diagonal of problem q, ``e[q, a]`` its element (a, a+1)
    (``e[q, n-1]`` ignored) and ``V[q]`` the identity; on exit ``d[q]`` holds the eigenvalues and
    row j of ``V[q]`` the eigenvector of ``d[q, j]`` (unsorted; rows, so that the rotations below
    run over contiguous memory). ``w`` (12, k) is work space. Implicit QL with Wilkinson shifts
    (EISPACK tql2, as in JAMA); returns False if an eigenvalue of any problem did not converge in
    60 iterations.

    Each problem gets exactly the arithmetic of a solver of its own (bitwise the same results
    whatever k and the other problems); they are interleaved rotation by rotation because a sweep
    is a chain of dependent square roots and divisions, whose idle cycles another problem's chain
    fills (``benchmarks/bench_fast_engine.py --eigensolver``).
    """
    # rows of w: accumulated shift, tolerance scale, deflation index (<= l: done), iteration,
    # then the sweep's p, c, s, c2, c3, s2 and the saved e[l + 1], d[l + 1]
    F, TST, MM, IT, P, C, S, C2, C3, S2, EL1, DL1 = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
    k, n = d.shape
    eps = 2.220446049250313e-16
    ok = True
    for q in range(k):
        e[q, n - 1] = 0.0
        w[F, q] = 0.0
        w[TST, q] = 0.0
    for l in range(n):
        active = 0
        for q in range(k):
            w[TST, q] = max(w[TST, q], abs(d[q, l]) + abs(e[q, l]))
            mm = l
            while mm < n - 1:
                if abs(e[q, mm]) <= eps * w[TST, q]:
                    break
                mm += 1
            w[MM, q] = mm
            w[IT, q] = 0.0
            if mm > l:
                active += 1
        while active > 0:
            top = l
            for q in range(k):
                mm = int(w[MM, q])
                if mm > l:  # Wilkinson shift
                    w[IT, q] += 1.0
                    g = d[q, l]
                    p = (d[q, l + 1] - g) / (2.0 * e[q, l])
                    r = np.sqrt(p * p + 1.0)
                    if p < 0:
                        r = -r
                    d[q, l] = e[q, l] / (p + r)
                    d[q, l + 1] = e[q, l] * (p + r)
                    w[DL1, q] = d[q, l + 1]
                    h = g - d[q, l]
                    for i in range(l + 2, n):
                        d[q, i] -= h
                    w[F, q] += h
                    w[P, q] = d[q, mm]
                    w[C, q] = 1.0
                    w[C2, q] = 1.0
                    w[C3, q] = 1.0
                    w[EL1, q] = e[q, l + 1]
                    w[S, q] = 0.0
                    w[S2, q] = 0.0
                    top = max(top, mm)
            for i in range(top - 1, l - 1, -1):
                for q in range(k):
                    if l < w[MM, q] and i < w[MM, q]:  # a plane rotation of problem q's sweep
                        c, s, p = w[C, q], w[S, q], w[P, q]
                        w[C3, q] = w[C2, q]
                        w[C2, q] = c
                        w[S2, q] = s
                        g = c * e[q, i]
                        h = c * p
                        r = np.sqrt(p * p + e[q, i] * e[q, i])
                        e[q, i + 1] = s * r
                        s = e[q, i] / r
                        c = p / r
                        p = c * d[q, i] - s * g
                        d[q, i + 1] = h + s * (c * g + s * d[q, i])
                        for j in range(n):
                            h = V[q, i + 1, j]
                            V[q, i + 1, j] = s * V[q, i, j] + c * h
                            V[q, i, j] = c * V[q, i, j] - s * h
                        w[C, q], w[S, q], w[P, q] = c, s, p
            for q in range(k):
                if w[MM, q] > l:
                    s = w[S, q]
                    p = -s * w[S2, q] * w[C3, q] * w[EL1, q] * e[q, l] / w[DL1, q]
                    e[q, l] = s * p
                    d[q, l] = w[C, q] * p
                    converged = not abs(e[q, l]) > eps * w[TST, q]
                    if converged or w[IT, q] >= 60:
                        ok &= converged
                        w[MM, q] = l
                        active -= 1
        for q in range(k):
            d[q, l] = d[q, l] + w[F, q]
            e[q, l] = 0.0
    return ok


@_helper
def _apply_steps(U, diag, mu, off, dt, zph, phased, d, e, V, T, zw, w):
    """U[q] <- S_q U[q] in place for k = U.shape[0] steps with the same rf, S_q = Z exp(-i (diag[q] + off) dt) Z^dagger,
    Z = diag(zph) = exp(-i phase Iz).

    ``diag[q]`` (rad/s) is the diagonal of step q and ``off[a]`` the (a, a+1) element (rad/s) of
    the real symmetric tridiagonal Hamiltonian on the partner space: the rf is applied at phase x
    and turned by the z rotation Z (only when ``phased``), so that only real symmetric
    eigenproblems are solved (k of them together, :func:`_tql2`). ``d``, ``e`` (k, n), ``V``
    (k, n, n) (real), ``T`` (complex, n x n), ``zw`` (complex, k x n) and ``w`` (12, k) are work
    arrays. Returns False if the eigen-solver did not converge.

    With first moments ``mu`` (k, n) (rad; shape (0, 0): the piecewise-constant step) the step is
    the fourth-order Magnus one, exp(-i (M0 - i [M1, M0])) with M0 = integral of H over the step
    and M1 = (1/dt) integral of (t - t_mid) H, whose time dependence is all on the diagonal
    (M1 = diag(mu)). [M1, M0] keeps the tridiagonal pattern: element (a, a+1) of the exponent is
    off[a] dt (1 - i delta_a), delta_a = mu[a] - mu[a+1], a Hermitian tridiagonal matrix that the
    diagonal unitary Phi (phi[a+1] = phi[a] (1 + i delta_a) / |1 + i delta_a|) turns real, so the step
    stays one real tridiagonal eigenproblem between two diagonal phase factors (Z Phi).
    """
    k = U.shape[0]
    n = U.shape[1]
    m4 = mu.shape[0] > 0
    turned = phased or m4
    for q in range(k):
        for a in range(n):
            d[q, a] = diag[q, a]
            e[q, a] = off[a]
            for b in range(n):
                V[q, a, b] = 0.0
            V[q, a, a] = 1.0
        if turned:  # zw = zph phi, the diagonal unitary around the real problem
            zw[q, 0] = 1.0
            for a in range(n - 1):
                zw[q, a + 1] = zw[q, a]
                if m4:
                    dl = mu[q, a] - mu[q, a + 1]
                    r = np.sqrt(1.0 + dl * dl)
                    e[q, a] = off[a] * r
                    zw[q, a + 1] *= complex(1.0, dl) / r
            if phased:
                for a in range(n):
                    zw[q, a] *= zph[a]
    ok = _tql2(d, e, V, w)
    for q in range(k):
        if turned:
            for a in range(n):
                for c in range(n):
                    U[q, a, c] *= np.conj(zw[q, a])
        # rows of V are the eigenvectors: T = diag(exp(-i lambda dt)) V U, then U = V^T T
        for j in range(n):
            for c in range(n):
                T[j, c] = 0.0
            for a in range(n):
                v = V[q, j, a]
                for c in range(n):
                    T[j, c] += v * U[q, a, c]
            z = complex(np.cos(d[q, j] * dt), -np.sin(d[q, j] * dt))
            for c in range(n):
                T[j, c] *= z
        for a in range(n):
            for c in range(n):
                U[q, a, c] = 0.0
        for j in range(n):
            for a in range(n):
                v = V[q, j, a]
                for c in range(n):
                    U[q, a, c] += v * T[j, c]
        if turned:
            for a in range(n):
                for c in range(n):
                    U[q, a, c] *= zw[q, a]
    return ok


@_helper
def _step_diagonals(Fi, Fs, m, G, dt, sigma2, out):
    """Average diagonal (rad/s) of each step: out[s, a] = (int_s omega_a + sigma2 m_a int_s omega_SI) / dt.

    ``G[s, k - 1] = (e^{i k wr t1} - e^{i k wr t0}) / (i k wr)`` over step s (k = 1..NH) is shared
    by all crystallites; the integral of F_0 over a step is F_0 dt. (The numpy twin for a whole
    chunk is ``spinsim._drivers_fast._step_diagonals``.)
    """
    _step_sums(Fi, Fs, m, G, dt, 1.0 / dt, sigma2, out)


@_helper
def _step_sums(Fi, Fs, m, G, f0, scale, sigma2, out):
    """out[s, a] = scale (F_0 f0 + sum_{k != 0} F_k G_k) of omega_a + sigma2 m_a omega_SI: step
    integrals (f0 = dt) or, with the first-moment factors of :func:`spinsim._drivers_fast._moment_factors`
    and f0 = 0, the first moments (1/dt) int_s (t - t_mid) omega dt."""
    n = m.shape[0]
    for s in range(G.shape[0]):
        ws = Fs[NH].real * f0
        for k in range(1, NH + 1):
            g = G[s, k - 1]
            ws += (Fs[NH + k] * g).real + (Fs[NH - k] * np.conj(g)).real
        for a in range(n):
            w = Fi[NH, a].real * f0
            for k in range(1, NH + 1):
                g = G[s, k - 1]
                w += (Fi[NH + k, a] * g).real + (Fi[NH - k, a] * np.conj(g)).real
            out[s, a] = (w + sigma2 * m[a] * ws) * scale


@_helper
def _mul(A, B, out, dag):
    """out = A B, or A B^dagger with ``dag`` (square matrices; out must not alias A or B)."""
    n = A.shape[0]
    for i in range(n):
        for j in range(n):
            acc = 0j
            if dag:
                for k in range(n):
                    acc += A[i, k] * np.conj(B[j, k])
            else:
                for k in range(n):
                    acc += A[i, k] * B[k, j]
            out[i, j] = acc


@_helper
def _range_product(P, which, start, length, n_per, out, A, B):
    """out = product of ``length`` consecutive periodic steps from ``start``, from prefix products P[:, which].

    P[k, which] = S_{k-1} ... S_0 (P[0, which] = 1) over one period of n_per steps; steps are unitary, so a
    contiguous range j..k-1 is P[k, which] P[j, which]^dag. ``A``, ``B``: work matrices.
    """
    n = P.shape[2]
    # computed flags, not the literals True / False: each literal would compile its own _mul
    plain, dagger = n < 0, n > 0
    a0 = start % n_per
    q = length // n_per
    r = length % n_per
    for i in range(n):
        for j in range(n):
            out[i, j] = 1.0 if i == j else 0.0
    if q > 0:
        _mul(P[a0, which], P[n_per, which], A, plain)
        _mul(A, P[a0, which], B, dagger)  # one full period from a0
        for i in range(n):
            for j in range(n):
                out[i, j] = B[i, j]
        for _ in range(q - 1):
            _mul(B, out, A, plain)
            for i in range(n):
                for j in range(n):
                    out[i, j] = A[i, j]
    if r > 0:
        if a0 + r <= n_per:
            _mul(P[a0 + r, which], P[a0, which], A, dagger)
        else:
            _mul(P[n_per, which], P[a0, which], B, dagger)
            _mul(P[a0 + r - n_per, which], B, A, plain)
        _mul(A, out, B, plain)
        for i in range(n):
            for j in range(n):
                out[i, j] = B[i, j]


@_helper
def _assemble_bands(W, w0, phi, ns, x, y, c1, c0):
    """The assembly of :func:`_centre_and_assemble` when Phi_a = Phi_b = phi (a block of whole rotor
    periods): exp(2i n (m' - m) phi) depends on m' - m = a - b only, so

    c1[i] = (1/mult) sum_k B_k z^k, B_k = sum_{a - b = k} W[b, a], z = exp(2i n phi),

    2 mult - 1 terms per time instead of mult^2; c0 = (1/mult) sum_a w0[a] for every time.
    x (2, mult) holds B_k for k = 0..mult-1 (x[0]) and k = 0..-(mult-1) (x[1]); y (2, mult) the powers.
    """
    mult = W.shape[0]
    for k in range(mult):
        bp = 0j
        bm = 0j
        for b in range(mult - k):
            bp += W[b, b + k]
            bm += W[b + k, b]
        x[0, k] = bp
        x[1, k] = bm
    s0 = 0j
    for a in range(mult):
        s0 += w0[a]
    for i in range(ns.shape[0]):
        n = ns[i]
        if i == 0 or n != ns[i - 1] + 1:
            y[0, 0] = 1.0
            y[0, 1] = complex(np.cos(2 * n * phi), np.sin(2 * n * phi))  # z
            y[1, 0] = 1.0
            y[1, 1] = complex(np.cos(2 * phi), np.sin(2 * phi))  # the step z(n + 1) / z(n)
        else:
            y[0, 1] *= y[1, 1]
        z = y[0, 1]
        acc = x[0, 0]
        zk = 1.0 + 0j
        for k in range(1, mult):
            zk *= z
            acc += x[0, k] * zk + x[1, k] * np.conj(zk)
        c1[i] = acc / mult
        c0[i] = s0 / mult


@_helper
def _centre_and_assemble(U4, w0, m, phi_a, phi_b, ns, A, B, W, x, y, c1, c0):
    """c1, c0 of one crystallite from the four half-block propagators U4 = Ua(+), Ua(-), Ub(+), Ub(-).

    c1[i] = (1/mult) sum_{m', m} W[m', m] exp(2i m' n Phi_b - 2i m n Phi_a), n = ns[i], with
    W = V+ o conj(V-) (V+ = Ub(-) Ua(+), V- = Ub(+) Ua(-): the centre pi pulse flips S); c0[i]
    the same with the diagonal matrix diag(w0). A, B, W (mult, mult) and x, y (2, mult): work arrays.
    """
    mult = m.shape[0]
    plain = mult < 0  # a computed False: the literal would compile a second _mul (see _range_product)
    _mul(U4[3], U4[0], A, plain)
    _mul(U4[2], U4[1], B, plain)
    for a in range(mult):
        for b in range(mult):
            W[a, b] = A[a, b] * np.conj(B[a, b])
    if phi_a == phi_b:
        _assemble_bands(W, w0, phi_a, ns, x, y, c1, c0)
        return
    for i in range(ns.shape[0]):
        n = ns[i]
        if i == 0 or n != ns[i - 1] + 1:
            # exp(-2i m n Phi_a) = z^(2m), z = exp(-i n Phi_a); 2m = 2I, 2I - 2, .., -2I
            for k in range(2):
                nk = n if k == 0 else 1  # the factors at n, then the steps n -> n + 1 (in dx, dy)
                za = complex(np.cos(nk * phi_a), -np.sin(nk * phi_a))
                zb = complex(np.cos(nk * phi_b), np.sin(nk * phi_b))
                x[k, 0] = 1.0
                y[k, 0] = 1.0
                for _ in range(mult - 1):
                    x[k, 0] *= za
                    y[k, 0] *= zb
                for a in range(1, mult):
                    x[k, a] = x[k, a - 1] * np.conj(za) * np.conj(za)
                    y[k, a] = y[k, a - 1] * np.conj(zb) * np.conj(zb)
        else:  # consecutive n (the usual time axis): one product per factor
            for a in range(mult):
                x[0, a] *= x[1, a]
                y[0, a] *= y[1, a]
        acc = 0j
        acc0 = 0j
        for b in range(mult):
            row = 0j
            for a in range(mult):
                row += W[b, a] * x[0, a]
            acc += y[0, b] * row
            acc0 += w0[b] * y[0, b] * x[0, b]
        c1[i] = acc / mult
        c0[i] = acc0 / mult


@njit(cache=True, nogil=True, error_model="numpy", no_cfunc_wrapper=True)
def respdor_fast_shared(dg, dm, off, zph, phased, m, dt, n_gamma, L, phi_a, phi_b, w0, ns, c1, c0):
    """S1 and S0 coherence amplitudes for one partner spin: constant rf, one rotor period of steps
    shared by every gamma angle.

    The central block (``L`` steps of ``dt`` s, even L, an ideal S pi pulse after step L/2) starts
    at rotor phase 0 of crystallite gamma = 0; crystallite g is shifted by g tau_R / n_gamma, and
    tau_R = n_per dt with n_per a multiple of n_gamma, so the prefix products of one period of
    step propagators give every gamma's half-block propagators.

    Parameters
    ----------
    dg : (n_ab, 2, n_per, mult) float
        Average diagonal of each step of the period from rotor phase 0 (rad/s), S up and S down.
    dm : (n_ab, 2, n_per, mult) float, or shape (0, 0, 0, 0)
        First moments of the diagonal over each step (rad; :func:`_apply_steps`): the fourth-order
        Magnus step. Empty: the piecewise-constant step (the step's average Hamiltonian).
    off : (mult,) float, zph : (mult,) complex, phased : bool
        Elements (a, a+1) of the x-phase rf Hamiltonian 2 pi nu1 Ix (rad/s); exp(-i phase m_a).
    phi_a, phi_b : (n_ab, n_gamma) float
        Per-rotor-period S-I phase integral_period omega_SI(t) s(t) dt of the first and second
        recoupling halves (rad).
    w0 : (n_ab, n_gamma, mult) complex
        S0 (no rf) partner phase factors of the block.
    ns : (n_pts,) int
        Rotor periods per half.
    c1, c0 : (n_ab, n_gamma, n_pts) complex
        Output: normalised partner factors of the S coherence with and without the block's rf.

    Returns
    -------
    bool
        False if an eigenvalue of a step Hamiltonian did not converge (the output is then invalid).
    """
    n_ab = dg.shape[0]
    n_per = dg.shape[2]
    mult = m.shape[0]
    half = L // 2
    m4 = dm.shape[0] > 0
    # two orientations at a time: the four eigenproblems of a step (S up and down of each) are
    # solved together (:func:`_tql2`); P[k, 2 j + si] is prefix k of orientation o0 + j, S state si
    P = np.empty((n_per + 1, 4, mult, mult), np.complex128)
    ds = np.empty((4, mult))
    mus = np.empty((4 if m4 else 0, mult))
    U4 = np.empty((4, mult, mult), np.complex128)
    W = np.empty((3, mult, mult), np.complex128)
    V = np.empty((4, mult, mult))
    de = np.empty((2, 4, mult))
    zw = np.empty((4, mult), np.complex128)
    w = np.empty((12, 4))
    xy = np.empty((2, 2, mult), np.complex128)
    ok = True
    for o0 in range(0, n_ab, 2):
        for q in range(4):
            for a in range(mult):
                for b in range(mult):
                    P[0, q, a, b] = 1.0 if a == b else 0.0
        for p in range(n_per):
            for q in range(4):
                o = min(o0 + q // 2, n_ab - 1)  # an odd last orientation is solved twice
                for a in range(mult):
                    ds[q, a] = dg[o, q % 2, p, a]
                    if m4:
                        mus[q, a] = dm[o, q % 2, p, a]
                    for b in range(mult):
                        P[p + 1, q, a, b] = P[p, q, a, b]
            ok &= _apply_steps(P[p + 1], ds, mus, off, dt, zph, phased, de[0], de[1], V, W[0], zw, w)
        for j in range(min(2, n_ab - o0)):
            for g in range(n_gamma):
                off_g = (g * n_per) // n_gamma
                for si in range(2):
                    _range_product(P, 2 * j + si, off_g, half, n_per, U4[si], W[0], W[1])
                    if half % n_per == 0:  # the second half starts whole periods later: the same propagators
                        for a in range(mult):
                            for b in range(mult):
                                U4[si + 2, a, b] = U4[si, a, b]
                    else:
                        _range_product(P, 2 * j + si, off_g + half, L - half, n_per, U4[si + 2], W[0], W[1])
                _centre_and_assemble(U4, w0[o0 + j, g], m, phi_a[o0 + j, g], phi_b[o0 + j, g], ns, W[0], W[1],
                                     W[2], xy[0], xy[1], c1[o0 + j, g], c0[o0 + j, g])
    return ok


@njit(cache=True, nogil=True, error_model="numpy", no_cfunc_wrapper=True)
def respdor_fast_steps(Fi, Fsi, m, dt, L, rf_idx, rf_off, rf_zph, rf_phased, G, G1, phi_a, phi_b, w0, ns, c1, c0):
    """Like :func:`respdor_fast_shared` for any block (shaped, phase-modulated, or whose steps do
    not tile a rotor period): every gamma angle's L steps are propagated one by one.

    Parameters
    ----------
    Fi : (n_ab, 9, mult) complex, Fsi : (n_ab, 9) complex
        Partner diagonal (rad/s, rf carrier offset included) and the coefficient of 2 S_z I_z.
    rf_idx : (L,) int; rf_off : (n_rf, mult) float; rf_zph : (n_rf, mult) complex; rf_phased : (n_rf,) bool
        rf state of each step (see :func:`respdor_fast_shared`).
    G : (n_gamma, L, NH) complex
        Time factors of each gamma angle's steps (:func:`_step_diagonals`).
    G1 : (n_gamma, L, NH) complex, or shape (0, 0, 0)
        First-moment factors of the same steps (:func:`spinsim._drivers_fast._moment_factors`): the
        fourth-order Magnus step; empty: the piecewise-constant step.

    Returns
    -------
    bool
        False if an eigenvalue of a step Hamiltonian did not converge (the output is then invalid).
    """
    n_ab = Fi.shape[0]
    n_gamma = G.shape[0]
    mult = m.shape[0]
    half = L // 2
    dg = np.empty((2, L, mult))
    dm = np.empty((2, L, mult))
    m4 = G1.shape[0] > 0
    U4 = np.empty((4, mult, mult), np.complex128)
    Us = np.empty((2, mult, mult), np.complex128)
    ds = np.empty((2, mult))
    mus = np.empty((2 if m4 else 0, mult))
    W = np.empty((3, mult, mult), np.complex128)
    V = np.empty((2, mult, mult))
    de = np.empty((2, 2, mult))
    zw = np.empty((2, mult), np.complex128)
    w = np.empty((12, 2))
    xy = np.empty((2, 2, mult), np.complex128)
    ok = True
    for o in range(n_ab):
        for g in range(n_gamma):
            _step_diagonals(Fi[o], Fsi[o], m, G[g], dt, 1.0, dg[0])
            _step_diagonals(Fi[o], Fsi[o], m, G[g], dt, -1.0, dg[1])
            if m4:
                _step_sums(Fi[o], Fsi[o], m, G1[g], 0.0, 1.0, 1.0, dm[0])
                _step_sums(Fi[o], Fsi[o], m, G1[g], 0.0, 1.0, -1.0, dm[1])
            for h in range(2):  # the block's halves, S up and S down: U4[0:2], then U4[2:4]
                for si in range(2):
                    for a in range(mult):
                        for b in range(mult):
                            Us[si, a, b] = 1.0 if a == b else 0.0
                for s in range(h * half, half if h == 0 else L):
                    for si in range(2):
                        for a in range(mult):
                            ds[si, a] = dg[si, s, a]
                            if m4:
                                mus[si, a] = dm[si, s, a]
                    r = rf_idx[s]
                    ok &= _apply_steps(Us, ds, mus, rf_off[r], dt, rf_zph[r], rf_phased[r], de[0], de[1], V, W[0],
                                       zw, w)
                for si in range(2):
                    for a in range(mult):
                        for b in range(mult):
                            U4[2 * h + si, a, b] = Us[si, a, b]
            _centre_and_assemble(U4, w0[o, g], m, phi_a[o, g], phi_b[o, g], ns, W[0], W[1], W[2], xy[0], xy[1],
                                 c1[o, g], c0[o, g])
    return ok


@njit(cache=True, nogil=True, error_model="numpy", no_cfunc_wrapper=True)
def ideal_partner_factors(P, phi_a, phi_b, ns, c1, c0):
    """S1 and S0 partner factors of one partner spin under an ideal (instantaneous) saturation.

    With theta = n phi the partner state m_a carries exp(-2i m_a theta_a) through the first
    recoupling half and exp(+2i m_b theta_b) through the second; the saturation moves m_a to m_b
    with probability P[b, a]:
    c1 = sum_ab exp(2i m_b theta_b) P[b, a] exp(-2i m_a theta_a) / mult, c0 the same with P = 1.
    The m_a = I - a are one apart (2I = mult - 1), so each half's phases are powers of one
    exponential.

    Parameters
    ----------
    P : (mult, mult) float
        Transfer matrix P[m', m] of the saturation (columns sum to 1).
    phi_a, phi_b : (n_ab, n_gamma) float
        Per-rotor-period S-I phase of the first and second recoupling halves (rad).
    ns : (n_pts,) int
        Rotor periods per half.
    c1, c0 : (n_ab, n_gamma, n_pts) complex
        Output.
    """
    mult = P.shape[0]
    x = np.empty(mult, np.complex128)
    for o in range(phi_a.shape[0]):
        for g in range(phi_a.shape[1]):
            for i in range(ns.shape[0]):
                ta = ns[i] * phi_a[o, g]
                tb = ns[i] * phi_b[o, g]
                # one sine and cosine per half: exp(-2i m theta) = exp(-i theta)^(2m), 2 m0 = mult - 1
                za = complex(np.cos(ta), -np.sin(ta))
                zb = complex(np.cos(tb), np.sin(tb))
                x0 = 1.0 + 0j
                y = 1.0 + 0j
                for _ in range(mult - 1):
                    x0 *= za
                    y *= zb
                x[0] = x0
                step_a = (za * za).conjugate()
                for a in range(1, mult):
                    x[a] = x[a - 1] * step_a
                step_b = (zb * zb).conjugate()
                s1 = 0j
                s0 = 0j
                for b in range(mult):
                    acc = 0j
                    for a in range(mult):
                        acc += P[b, a] * x[a]
                    s1 += y * acc
                    s0 += y * x[b]
                    y *= step_b
                c1[o, g, i] = s1 / mult
                c0[o, g, i] = s0 / mult
