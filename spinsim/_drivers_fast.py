"""Fast engine: ideal REDOR pi pulses on S, partners coupled to S only (see :mod:`spinsim.simulate`).

Free evolution is diagonal and integrated exactly from Fourier coefficients; the central block's
propagator is computed once per crystallite and serves every recoupling time; partners factorise.
Chunks of crystallites run on :func:`spinsim._crystallites.engine_threads` Python threads (the kernels release the GIL);
their powder class sums are taken chunk by chunk, so memory does not grow with the time axis.
"""

from __future__ import annotations

import numpy as np

from . import _kernels as K
from ._crystallites import _chunks, crystallite_chunks, engine_threads, in_threads
from ._experiment import IdealSaturation, offset_of
from ._results import N_CLASSES, PowderPartials
from .hamiltonian import N_HARM, interaction_components, spin_operators
from .sequences import Block


def _fint_weights(t0, t1, wr):
    """Weights of the integral over [t0, t1] of sum_k F_k e^{i k wr t} dt (rad for F in rad/s),
    k = -4..4, for intervals t0, t1 (s, broadcastable): W (18, ...) real with the integral =
    [Re F, Im F] @ W (:func:`_integrals`), shared by all crystallites; the numpy twin of
    :func:`spinsim._kernels.fourier_integral`."""
    t0, t1 = np.broadcast_arrays(np.asarray(t0, float), np.asarray(t1, float))
    g = np.moveaxis(_time_factors(t0, t1 - t0, wr), -1, 0)  # k = 1..N
    W = np.concatenate([np.conj(g[::-1]), (t1 - t0)[None], g])  # k = -N..N: Re(F @ W)
    return np.concatenate([W.real, -W.imag])


def _period_phase_weights(wr, t_start, taus, flips=(0.5, 1.0)):
    """:func:`_fint_weights` of the integral over one rotor period from t_start + tau_g of omega(t) s(t) dt,
    where s = +-1 starts at +1 and flips at the fractions ``flips`` of tau_R (ideal pi pulses, an
    even number): (18, n_gamma)."""
    tr = 2 * np.pi / wr
    t0 = t_start + np.asarray(taus, float)
    edges = [0.0] + [f for f in flips if f < 1.0] + [1.0]
    return sum((-1) ** k * _fint_weights(t0 + edges[k] * tr, t0 + edges[k + 1] * tr, wr)
               for k in range(len(edges) - 1))


def _integrals(F, W):
    """The integrals of weights W (18, m) (:func:`_fint_weights`) for Fourier coefficients F (n, 9) complex:
    (n, m), one real matrix product."""
    return np.concatenate([F.real, F.imag], axis=-1) @ W


def _phase_weights(wr, T, taus, flips, grid):
    """The integral weights a run needs, fixed for all crystallites: the recoupling period phase
    from rotor phase 0 ("a") and from the end of the block ("b"), the block halves for the
    observed spin ("ja", "jb") and on the partners' step grid ("ia", "ib")."""
    taus = np.asarray(taus, float)
    out = {"a": _period_phase_weights(wr, 0.0, taus, flips), "b": _period_phase_weights(wr, T, taus, flips),
           "ja": _fint_weights(taus, taus + T / 2, wr), "jb": _fint_weights(taus + T / 2, taus + T, wr)}
    if grid is not None:
        half_t, block_t = grid[1] // 2 * grid[0], grid[1] * grid[0]
        out["ia"] = _fint_weights(taus, taus + half_t, wr)
        out["ib"] = _fint_weights(taus + half_t, taus + block_t, wr)
    return out


def _block_grid(block: Block, tr, n_gamma, max_dt):
    """Step size and count for a central block: (dt, L, shared)."""
    T = block.duration
    durs = [e.duration for e in block.events if e.duration > 0]
    amps = {tuple(sorted(e.rf.items())) for e in block.events if e.duration > 0}
    if len(amps) == 1:
        n0 = n_gamma * int(np.ceil(tr / (n_gamma * max_dt) - 1e-9))
        for mult in (1, 2, 3, 4, 5, 6, 8, 10):
            n_per = n0 * mult
            dt = tr / n_per
            half = T / 2 / dt
            if abs(half - round(half)) < 1e-6 and round(half) > 0:
                return dt, 2 * int(round(half)), True, n_per
        L = 2 * int(np.ceil(T / 2 / max_dt))
        return T / L, L, False, 0
    dmin = min(durs)
    q = int(np.ceil(dmin / max_dt))
    dt = dmin / q
    counts = [d / dt for d in durs]
    if any(abs(c - round(c)) > 1e-6 for c in counts):
        raise ValueError("the events of a shaped block must all be multiples of its shortest event")
    L = int(round(sum(counts)))
    if L % 2:
        dt /= 2
        L *= 2
    return dt, L, False, 0


def _block_steps(block: Block, dt, L, channel):
    """Per-step (nu1, phase) on ``channel`` of a block sampled on a grid of L steps of dt."""
    steps = []
    for e in block.events:
        if e.duration <= 0:
            if e.ideal is not None:
                raise ValueError("ideal pulses inside a central block are not supported on the fast path")
            continue
        k = int(round(e.duration / dt))
        steps += [e.rf.get(channel, (0.0, 0.0))] * k
    if len(steps) != L:
        raise ValueError("internal: block grid mismatch")
    return steps


def _rf_table(steps, spin):
    """Unique rf states of a block: step -> index, the (a, a+1) elements of the x-phase
    Hamiltonians 2 pi nu1 Ix (rad/s; Ix is real and tridiagonal in the Zeeman basis), and the
    phase as z-rotation factors exp(-i phase m) with a flag saying whether the phase is not 0."""
    _, _, _, ix, _ = spin_operators(spin)
    sub = np.append(np.diagonal(ix, 1).real, 0.0)
    m = spin - np.arange(len(sub))
    keys, idx = {}, np.empty(len(steps), np.int64)
    offs, zph, phased = [], [], []
    for s, (amp, ph) in enumerate(steps):
        key = (float(amp), float(ph) % 360.0 if amp > 0 else 0.0)
        if key not in keys:
            keys[key] = len(offs)
            offs.append(2 * np.pi * key[0] * sub)
            zph.append(np.exp(-1j * np.radians(key[1]) * m))
            phased.append(key[1] != 0.0)
        idx[s] = keys[key]
    return (idx, np.ascontiguousarray(np.array(offs, float)), np.ascontiguousarray(np.array(zph, complex)),
            np.array(phased, bool))


def _time_factors(t0, dt, wr):
    """G[..., k - 1] = (e^{i k wr (t0 + dt)} - e^{i k wr t0}) / (i k wr), k = 1..N_HARM: the step
    integrals of exp(i k wr t) shared by all crystallites (t0, dt in s, broadcastable)."""
    k = np.arange(1, N_HARM + 1)
    a1 = k * wr * (np.asarray(t0, float) + np.asarray(dt, float))[..., None]
    a0 = k * wr * np.asarray(t0, float)[..., None]
    e = (np.cos(a1) - np.cos(a0)) + 1j * (np.sin(a1) - np.sin(a0))
    return np.ascontiguousarray(e / (1j * k * wr))


def _moment_factors(t0, dt, wr):
    """G1[..., k - 1] = (1/dt) integral over [t0, t0 + dt] of (t - t_mid) e^{i k wr t} dt, k = 1..N_HARM:
    the first-moment twins of :func:`_time_factors` (s), for the fourth-order Magnus step.

    With x = k wr dt / 2 the integral is e^{i k wr t_mid} 2i (sin x - x cos x) / ((k wr)^2 dt); below
    x = 1e-2 the bracket is its series x^3/3 - x^5/30 + x^7/840 (the difference cancels). The coupled
    engine's per-step twin is :func:`spinsim._kernels.fourier_moment` (tested equal)."""
    k = np.arange(1, N_HARM + 1)
    kw = k * wr
    x = kw * dt / 2
    bracket = np.where(x < 1e-2, x ** 3 / 3 - x ** 5 / 30 + x ** 7 / 840, np.sin(x) - x * np.cos(x))
    tm = np.asarray(t0, float)[..., None] + dt / 2
    return np.ascontiguousarray(np.exp(1j * kw * tm) * (2j * bracket / (kw ** 2 * dt)))


def _step_sums(fi, fsi, m, G, f0, scale):
    """scale (F_0 f0 + sum_{k != 0} F_k G_k) of the partner diagonal for S up and S down:
    (n_ab, 2, n_steps, mult). fi (n_ab, 9, mult), fsi (n_ab, 9) Fourier coefficients."""
    n_ab, _, mult = fi.shape
    F = fi[:, :, None, :] + np.array([1.0, -1.0])[:, None] * m * fsi[:, :, None, None]  # (n_ab, 9, 2, mult)
    up, down = F[:, N_HARM + 1:], F[:, N_HARM - 1::-1]  # k = 1..N and k = -1..-N
    # Re(G F_k + conj(G) F_-k) = Re G (Re F_k + Re F_-k) + Im G (Im F_-k - Im F_k), and F_0 f0: one
    # real matrix product for every crystallite, S state and partner level
    B = np.concatenate([up.real + down.real, down.imag - up.imag, F[:, N_HARM:N_HARM + 1].real], axis=1)
    A = np.concatenate([G.real, G.imag, np.full((len(G), 1), f0)], axis=1) * scale
    R = A @ B.transpose(1, 0, 2, 3).reshape(2 * N_HARM + 1, -1)
    return np.ascontiguousarray(R.reshape(len(G), n_ab, 2, mult).transpose(1, 2, 0, 3))


def _step_diagonals(fi, fsi, m, G, dt):
    """Average diagonal (rad/s) of every step for S up and S down: (n_ab, 2, n_steps, mult).

    fi (n_ab, 9, mult), fsi (n_ab, 9) Fourier coefficients; G (n_steps, N_HARM) from
    :func:`_time_factors`; the integral of F_0 over a step is F_0 dt (numpy twin of the kernel
    ``spinsim._kernels._step_diagonals``)."""
    return _step_sums(fi, fsi, m, G, dt, 1.0 / dt)


def _step_moments(fi, fsi, m, G1):
    """First moments (rad) of the diagonal over every step, S up and S down (G1 from
    :func:`_moment_factors`): the fourth-order Magnus step's M1 = diag(mu)."""
    return _step_sums(fi, fsi, m, G1, 0.0, 1.0)


class _Partner:
    """What the fast engine needs of one partner spin, fixed for the whole run."""

    def __init__(self, system, j, offsets, centre, grid, taus, wr, magnus4=False):
        sp = system.spins[j]
        self.j = j
        self.m = sp.spin - np.arange(sp.multiplicity)
        self.offset = 2 * np.pi * offset_of(offsets, sp.isotope.symbol) * self.m
        self.ideal = isinstance(centre, IdealSaturation)
        if self.ideal:
            self.P = np.ascontiguousarray(centre.matrix(sp.spin), float)
            return
        dt, L, shared, n_per = grid
        steps = _block_steps(centre, dt, L, sp.isotope.symbol)
        self.rf_idx, self.rf_off, self.rf_zph, self.rf_phased = _rf_table(steps, sp.spin)
        self.shared = bool(shared and len(self.rf_off) == 1)
        t0 = np.arange(n_per) * dt if self.shared else taus[:, None] + np.arange(L)[None, :] * dt
        self.G = _time_factors(t0, dt, wr)
        self.G1 = _moment_factors(t0, dt, wr) if magnus4 else None


def _partner_factors(pt, comps, wr, ns, grid, pw, phi_a, phi_b):
    """(c1, c0) of one partner for a chunk of orientations: (n_ab, n_gamma, n_pts) complex."""
    if pt.ideal:  # no block: the period phases are all it needs
        cj1 = np.empty(phi_a.shape + ns.shape, complex)
        cj0 = np.empty_like(cj1)
        K.ideal_partner_factors(pt.P, np.ascontiguousarray(phi_a), np.ascontiguousarray(phi_b), ns, cj1, cj0)
        return cj1, cj0
    fi = comps.single[pt.j].copy()
    fi[:, N_HARM, :] -= np.sign(comps.omega0[pt.j]) * pt.offset
    n_ab = fi.shape[0]
    fsi = comps.pair.get((0, pt.j), np.zeros((n_ab, 2 * N_HARM + 1), complex))
    dt, L = grid[0], grid[1]
    # S0: no rf, the block is diagonal; only the S-I term survives the branch difference
    ia, ib = _integrals(fsi, pw["ia"]), _integrals(fsi, pw["ib"])
    w0 = np.exp(-2j * pt.m * (ia - ib)[..., None])
    ng = phi_a.shape[1]
    cj1 = np.empty((n_ab, ng, len(ns)), complex)
    cj0 = np.empty_like(cj1)
    phi_a, phi_b = np.ascontiguousarray(phi_a), np.ascontiguousarray(phi_b)
    if pt.shared:
        dm = np.zeros((0, 0, 0, 0)) if pt.G1 is None else _step_moments(fi, fsi, pt.m, pt.G1)
        ok = K.respdor_fast_shared(_step_diagonals(fi, fsi, pt.m, pt.G, dt), dm, pt.rf_off[0], pt.rf_zph[0],
                                   bool(pt.rf_phased[0]), pt.m, float(dt), ng, L, phi_a, phi_b, w0, ns, cj1, cj0)
    else:
        G1 = np.zeros((0, 0, 0), complex) if pt.G1 is None else pt.G1
        ok = K.respdor_fast_steps(np.ascontiguousarray(fi), np.ascontiguousarray(fsi), pt.m, float(dt), L, pt.rf_idx,
                                  pt.rf_off, pt.rf_zph, pt.rf_phased, pt.G, G1, phi_a, phi_b, w0, ns, cj1, cj0)
    if not ok:
        raise RuntimeError("fast engine: the eigenvalues of a step Hamiltonian did not converge (non-finite "
                           "interaction parameters?)")
    return cj1, cj0


def _whole_periods(T, wr):
    """Whether a block of T s is a whole number of rotor periods (to 1e-9 of a period)."""
    k = T * wr / (2 * np.pi)
    return abs(k - round(k)) < 1e-9


def _chunk_factors(system, euler, partners, offsets, wr, ns, T, grid, pw):
    """c1, c0 (n_ab, n_gamma, n_pts) of a chunk of (alpha, beta) orientations ``euler``."""
    comps = interaction_components(system, euler)
    fs = comps.single[0][:, :, 0] - comps.single[0][:, :, 1]  # omega_S coefficient of S_z
    fs[:, N_HARM] -= np.sign(comps.omega0[0]) * 2 * np.pi * offset_of(offsets, system.spins[0].isotope.symbol)
    # S phase: -n (Phi^S_a - Phi^S_b) - (J_a - J_b); common to S0 and S1
    psa, psb = _integrals(fs, pw["a"]), _integrals(fs, pw["b"])
    ja, jb = _integrals(fs, pw["ja"]), _integrals(fs, pw["jb"])
    c1 = c0 = None
    if np.any(psa != psb) or np.any(ja != jb):  # else S has no phase of its own (no shift, CSA or offset)
        c1 = np.exp(-1j * (ns[None, None, :] * (psa - psb)[..., None] + (ja - jb)[..., None]))
        c0 = c1.copy()
    for pt in partners:
        fsi = comps.pair.get((0, pt.j), np.zeros((len(euler), 2 * N_HARM + 1), complex))
        phi_a = _integrals(fsi, pw["a"])
        # a block of whole rotor periods: the second half's period phase is the first's (the
        # kernels then sum 2 mult - 1 terms per time instead of mult^2)
        phi_b = phi_a if _whole_periods(T, wr) else _integrals(fsi, pw["b"])
        cj1, cj0 = _partner_factors(pt, comps, wr, ns, grid, pw, phi_a, phi_b)
        if c1 is None:  # the partner's factors are new arrays: they become the product
            c1, c0 = cj1, cj0
        else:
            c1 *= cj1
            c0 *= cj0
    if c1 is None:
        c1 = np.ones((len(euler), pw["a"].shape[-1], len(ns)), complex)
        c0 = c1.copy()
    return c1, c0


def fast_curve(system, mas_rate, ns, centre, powder, max_dt, offsets, progress, chunk, flips=(0.5, 1.0),
               integrator="piecewise"):
    wr = 2 * np.pi * mas_rate
    tr = 1.0 / mas_rate
    ng = powder.n_gamma
    taus = np.arange(ng) * tr / ng
    ns = np.ascontiguousarray(ns, np.int64)
    ideal = isinstance(centre, IdealSaturation)
    T = 0.0 if ideal else centre.duration
    grid = None if ideal else _block_grid(centre, tr, ng, max_dt)
    m4 = integrator == "magnus4"
    partners = [_Partner(system, j, offsets, centre, grid, taus, wr, m4) for j in range(1, system.n_spins)]
    pw = _phase_weights(wr, T, taus, flips, grid)
    euler = powder.euler_ab()
    # per-class, per-gamma sums taken chunk by chunk: no (n_ab, n_gamma, n_times) array is kept
    p0 = np.zeros((N_CLASSES, ng, len(ns)), complex)
    p1 = np.zeros_like(p0)

    def work(a, b):
        c1, c0 = _chunk_factors(system, euler[a:b], partners, offsets, wr, ns, T, grid, pw)
        return _class_sums(powder.weights, a, b, c0, ng), _class_sums(powder.weights, a, b, c1, ng)

    threads = engine_threads()
    with crystallite_chunks(powder.n_ab, chunk, ng, progress) as chunks:
        for a, b, (q0, q1) in in_threads(work, chunks, _chunks(powder.n_ab, chunk), threads):
            p0 += q0
            p1 += q1
    wk = np.array([powder.weights[k::N_CLASSES].sum() for k in range(N_CLASSES)])
    s0, s1, partials = p0.sum((0, 1)), p1.sum((0, 1)), PowderPartials(p0, p1, wk)
    info = {"engine": "fast", "block_dt_s": None if ideal else grid[0], "block_steps": None if ideal else grid[1],
            "partials": partials, "threads": threads}
    if not ideal:
        info["shared_gamma_steps"] = bool(grid[2])
    return s0, s1, info


def _class_sums(weights, a, b, signal, ng):
    """The chunk's share of :func:`spinsim._results.class_sums`: orientations a..b-1 (j in class
    j mod N_CLASSES), weighted w_j / n_gamma, summed per class and gamma angle."""
    out = np.zeros((N_CLASSES,) + signal.shape[1:], complex)
    for k in range(N_CLASSES):
        first = (k - a) % N_CLASSES  # the chunk's first row of class k
        if a + first < b:  # row by row: 2.6x faster than einsum over the strided rows; no BLAS threads
            acc = out[k]
            for w, row in zip(weights[a + first:b:N_CLASSES] / ng, signal[first::N_CLASSES]):
                acc += w * row
    return out
