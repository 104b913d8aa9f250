"""Steps of the ``coupled`` engine under rf as products of one- and two-spin factors.

Under rf on the partners the step Hamiltonian connects the whole partner space (dimension
N = prod(2I+1), 216 for three spins 5/2) and an exact piecewise-constant step costs a dense
eigendecomposition and two dense products. But the Hamiltonian is a sum of one-spin terms h_k
(quadrupolar, shifts, S coupling, rf: large) and two-spin terms c_p (partner-partner dipolar and
J: small), see :func:`spinsim.hamiltonian.partner_factor_terms`. Over a step of dt, in the
interaction frame of the one-spin terms,

    exp(-i H dt) = (x)_k u_k  T exp(-i int_0^dt sum_p c~_p(s) ds),     u_k = exp(-i h_k dt),

and the time-ordered exponential is taken as the product of the two-spin factors
v_p = (u_a (x) u_b)^dagger w_p, w_p the propagator of pair p alone (its two spins' one-spin terms
and their coupling c_p, exact on their (d_a d_b)-state space), the order of the pairs reversed
from one step to the next. Each factor acts on two spins only (a (d_a d_b)^2 matrix applied to
the rows of U grouped by those spins), so a step costs a few products of 36 x 36 by 36 x 1296
instead of 216 x 216 work.

The couplings are small (|c_p| of a few hundred Hz between 27Al) and the one-spin terms large
(quadrupolar couplings of MHz), so a factor step can be much longer than the step that the
one-spin terms need: u_k and w_p are products of fine steps of dt on their own small spaces, and
the factors touch U once per factor step (up to ``max_fine`` fine steps: by default at most 8
and a coupling phase |c_p| Delta of 0.005 rad, :data:`spinsim._drivers_coupled.FACTOR_PHASE`). The product
is exact when no two pairs share a spin (one pair, or disjoint ones); otherwise it misses the
commutators of pairs that share a spin, about (|c_p| Delta)^2 per factor step, checked against
exact steps in ``tests/test_spinsim_coupled_split.py`` and measured in
``benchmarks/bench_coupled.py``.

Pure functions of arrays, ``cache=True``; rad/s and s inside.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._coupled_blocks import expm_block, store
from ._gamma_kernels import _helper  # internal helpers: no CPython or C wrappers
from ._kernels import _eye, expm_herm, fourier_integral, fourier_moment


@_helper
def apply_on_axes(U, G, perm, d):
    """U <- G acting on the spins of ``perm``, in place.

    ``perm[i * rest + r]`` is the row of U for state i of those spins (combined, d of them) and
    state r of the others (rest = N / d)."""
    n_rows, n_cols = U.shape
    rest = n_rows // d
    X = np.empty((d, rest * n_cols), np.complex128)
    for i in range(d):
        for r in range(rest):
            src = perm[i * rest + r]
            for c in range(n_cols):
                X[i, r * n_cols + c] = U[src, c]
    Y = np.dot(G, X)
    for i in range(d):
        for r in range(rest):
            dst = perm[i * rest + r]
            for c in range(n_cols):
                U[dst, c] = Y[i, r * n_cols + c]


@_helper
def _kron(A, B):
    na, nb = A.shape[0], B.shape[0]
    out = np.empty((na * nb, na * nb), np.complex128)
    for i in range(na):
        for j in range(na):
            for k in range(nb):
                for m in range(nb):
                    out[i * nb + k, j * nb + m] = A[i, j] * B[k, m]
    return out


@_helper
def _one_spin(single_d, single_z, rf1, k, d, sigma, t0, dt, wr, magnus4, buf_d, buf_z):
    """Spin k's step: M0 = integral of h_k over the step (rad, d x d) and the first moments mu (rad)
    of its diagonal (zeros for the piecewise-constant step; the rf is constant and has none)."""
    fourier_integral(single_d[k], t0, t0 + dt, wr, buf_d)
    fourier_integral(single_z[k], t0, t0 + dt, wr, buf_z)
    M0 = np.empty((d, d), np.complex128)
    for a in range(d):
        for b in range(d):
            M0[a, b] = rf1[k, a, b] * dt
        M0[a, a] += buf_d[a] + sigma * buf_z[a]
    mu = np.zeros(d)
    if magnus4:
        fourier_moment(single_d[k], t0, t0 + dt, wr, buf_d)
        fourier_moment(single_z[k], t0, t0 + dt, wr, buf_z)
        for a in range(d):
            mu[a] = buf_d[a] + sigma * buf_z[a]
    return M0, mu


@_helper
def _pair_terms(Ma, Mb, c, zz, ff, homonuclear):
    """Ma (x) 1 + 1 (x) Mb + c (2 I_z I_z [- flip-flop / 2]): a pair's M0 or M1 from its spins' ones."""
    da, db = Ma.shape[0], Mb.shape[0]
    H = np.zeros((da * db, da * db), np.complex128)
    for i in range(da):
        for j in range(da):
            for k in range(db):
                H[i * db + k, j * db + k] += Ma[i, j]
    for i in range(da):
        for k in range(db):
            for m in range(db):
                H[i * db + k, i * db + m] += Mb[k, m]
    dab = da * db
    for a in range(dab):
        H[a, a] += c * zz[a]
        if homonuclear:
            for b in range(dab):
                H[a, b] -= 0.5 * c * ff[a, b]
    return H


@_helper
def magnus_exponent(M0, M1):
    """M0 - i [M1, M0]: the fourth-order Magnus exponent (Hermitian, rad) of a step whose Hamiltonian
    integrates to M0 and has the first moment M1 = (1/dt) integral of (t - t_mid) H dt."""
    return M0 - 1j * (np.dot(M1, M0) - np.dot(M0, M1))


@_helper
def _diag(mu):
    out = np.zeros((mu.shape[0], mu.shape[0]), np.complex128)
    for a in range(mu.shape[0]):
        out[a, a] = mu[a]
    return out


@_helper
def _fine_factors(single_d, single_z, glob_z, pair_c, rf1, dims, pairs, homonuclear, zz, ff, sigma, t0, dt, wr,
                  magnus4, us, ws, phase):
    """Multiply in one fine step [t0, t0 + dt]: us[k] <- u_k us[k] (spin k alone), ws[p] <- w_p ws[p]
    (pair p alone, its one-spin terms included, exact on its two spins); returns phase times the
    step's phase of the global S_z term."""
    n_p = dims.shape[0]
    d_max = single_d.shape[2]
    buf_d = np.empty(d_max)
    buf_z = np.empty(d_max)
    m0s = []
    m1s = []
    for k in range(n_p):
        M0, mu = _one_spin(single_d, single_z, rf1, k, dims[k], sigma, t0, dt, wr, magnus4, buf_d, buf_z)
        M1 = _diag(mu)
        m0s.append(M0)
        m1s.append(M1)
        us[k] = np.dot(expm_herm(magnus_exponent(M0, M1) if magnus4 else M0, 1.0), us[k])
    g = np.empty(1)
    fourier_integral(glob_z, t0, t0 + dt, wr, g)
    c = np.empty(1)
    c1 = np.zeros(1)
    for p in range(pairs.shape[0]):
        a, b = pairs[p, 0], pairs[p, 1]
        fourier_integral(pair_c[p], t0, t0 + dt, wr, c)
        M0 = _pair_terms(m0s[a], m0s[b], c[0], zz[p], ff[p], homonuclear[p])
        if magnus4:
            fourier_moment(pair_c[p], t0, t0 + dt, wr, c1)
            M0 = magnus_exponent(M0, _pair_terms(m1s[a], m1s[b], c1[0], zz[p], ff[p], homonuclear[p]))
        ws[p] = np.dot(expm_block(M0, 1.0), ws[p])
    return phase * np.exp(-1j * sigma * g[0])


@njit(cache=True)
def split_step(U, single_d, single_z, glob_z, pair_c, rf1, dims, pairs, homonuclear, zz, ff, pair_perm, single_perm,
               sigma, t0, dt, wr, reverse, magnus4, n_fine=1):
    """U <- (product of one- and two-spin factors of the step [t0, t0 + n_fine dt]) U, in place.

    The factors of a step of n_fine fine steps: each spin's propagator u_k and each pair's w_p
    (its two spins alone, coupling included) are products of fine steps of dt on their own small
    spaces; the pairs enter in the interaction frame of the one-spin terms,
    v_p = (u_a (x) u_b)^dagger w_p, and only these are applied to U. So the work on U is paid once
    per step whatever n_fine, while the large one-spin terms are integrated in fine steps.

    Parameters
    ----------
    single_d, single_z : (n_p, 9, d_max) complex
        One crystallite's :func:`spinsim.hamiltonian.partner_factor_terms` terms (rad/s).
    glob_z : (9, 1) complex; pair_c : (n_pairs, 9, 1) complex
    rf1 : (n_p, d_max, d_max) complex
        Each partner's rf Hamiltonian (rad/s), constant over the block.
    dims : (n_p,) int; pairs : (n_pairs, 2) int; homonuclear : (n_pairs,) bool
    zz : (n_pairs, d_max^2) float; ff : (n_pairs, d_max^2, d_max^2) float
        2 m_a m_b and I+I- + I-I+ of each pair in its (a slow, b fast) basis.
    pair_perm : (n_pairs, N) int; single_perm : (n_p, N) int
        Row groupings for :func:`apply_on_axes`.
    reverse : bool
        Apply the pairs in reverse order (alternate from step to step).
    magnus4 : bool
        Each fine factor the fourth-order Magnus exponential of its part (else piecewise constant).
    n_fine : int
        Fine steps of dt in this step.
    """
    n_p = dims.shape[0]
    n_pairs = pairs.shape[0]
    us = [_eye(dims[k]) for k in range(n_p)]
    ws = [_eye(dims[pairs[p, 0]] * dims[pairs[p, 1]]) for p in range(n_pairs)]
    phase = 1.0 + 0j
    for j in range(n_fine):
        phase = _fine_factors(single_d, single_z, glob_z, pair_c, rf1, dims, pairs, homonuclear, zz, ff, sigma,
                              t0 + j * dt, dt, wr, magnus4, us, ws, phase)
    in_last = np.zeros(n_p, np.bool_)
    for step in range(n_pairs):
        p = n_pairs - 1 - step if reverse else step
        a, b = pairs[p, 0], pairs[p, 1]
        if step < n_pairs - 1:
            # interaction frame of the one-spin terms: the last factor restores it
            G = np.dot(np.ascontiguousarray(_kron(us[a], us[b]).conj().T), ws[p])
        else:
            G = ws[p] * phase
            in_last[a] = True
            in_last[b] = True
        apply_on_axes(U, G, pair_perm[p], dims[a] * dims[b])
    for k in range(n_p):
        if not in_last[k]:
            apply_on_axes(U, us[k], single_perm[k], dims[k])


@_helper
def split_prefix_products(single_d, single_z, glob_z, pair_c, rf1, dims, pairs, homonuclear, zz, ff, pair_perm,
                          single_perm, sigma, wr, dt, n_per, smap, n_snap, magnus4, max_fine):
    """Prefix products P[k] of one rotor period of factored steps (k = 0 .. n_per), kept where
    smap[k] >= 0: :func:`spinsim._coupled.prefix_products` with :func:`split_step`, each step
    running to the next kept index and at most ``max_fine`` fine steps of dt long."""
    n = pair_perm.shape[1]
    out = np.zeros((n_snap, n, n), np.complex128)
    U = _eye(n)
    if smap[0] >= 0:
        store(out, smap[0], U)
    p = 0
    n_steps = 0
    while p < n_per:
        q = p + 1
        while q < n_per and smap[q] < 0 and q - p < max_fine:
            q += 1
        # a computed flag: a literal False would compile a second specialisation of split_step
        split_step(U, single_d, single_z, glob_z, pair_c, rf1, dims, pairs, homonuclear, zz, ff, pair_perm,
                   single_perm, sigma, p * dt, dt, wr, n_steps % 2 == 1, magnus4, q - p)
        n_steps += 1
        p = q
        if smap[p] >= 0:
            store(out, smap[p], U)
    return out
