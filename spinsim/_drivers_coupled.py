"""Coupled engine: partners coupled to each other by homonuclear flip-flop terms (see
:mod:`spinsim.simulate` and :mod:`spinsim._coupled`)."""

from __future__ import annotations

import numpy as np

from ._crystallites import _chunks as _chunk_ranges
from ._crystallites import crystallite_chunks, engine_threads, in_threads
from ._experiment import IdealSaturation
from ._results import powder_sums
from .hamiltonian import interaction_components, product_dims, spin_operators

#: Largest coupling phase (rad) of one factor step under rf, and the most fine steps in one. A step
#: of the factored rf propagation spans up to min(FACTOR_PHASE / max|c_p|, MAX_FINE_PER_FACTOR dt)
#: (and never past a kept prefix index); its one- and two-spin factors are integrated in the fine
#: steps of dt within it (:func:`spinsim._coupled_split.split_step`). The product of pair factors
#: misses the commutators of pairs that share a spin, an error that grows with the factor step: a
#: bounded multiple of dt, so that it shrinks with the step like every other step error and a
#: convergence check on the step sees it. 0.005 rad keeps it below the error of fourth-order Magnus
#: steps of 0.5 us for three 23Na coupled by 600 Hz (at 0.01 rad it was 4e-6 of dS/S0, three times
#: that step error); ``tests/test_spinsim_coupled_split.py``.
FACTOR_PHASE = 0.005
MAX_FINE_PER_FACTOR = 8


def _fine_per_factor(pair_c, dt, factor_phase):
    """Fine steps of dt per factor step: the largest n <= MAX_FINE_PER_FACTOR with
    n dt max|c_p(t)| <= factor_phase (|c_p(t)| bounded by the sum of its Fourier coefficients'
    moduli, rad/s), at least 1."""
    if pair_c.shape[1] == 0 or factor_phase <= 0:
        return 1
    bound = float(np.max(np.sum(np.abs(pair_c[..., 0]), axis=-1)))
    if bound * dt * MAX_FINE_PER_FACTOR <= factor_phase:
        return MAX_FINE_PER_FACTOR
    return max(1, int(factor_phase / (bound * dt)))


def _coupled_grid(tr, n_gamma, max_dt, flips, centre):
    """Steps per rotor period (a multiple of n_gamma, dt <= max_dt, S flips and the centre's
    halves on the grid): (n_per, dt, edges, L)."""
    T = 0.0 if isinstance(centre, IdealSaturation) else centre.duration
    n0 = n_gamma * int(np.ceil(tr / (n_gamma * max_dt) - 1e-9))
    for mult in range(1, 25):
        n_per = n0 * mult
        fr = [f * n_per for f in flips] + [T / 2 / (tr / n_per)]
        if all(abs(x - round(x)) < 1e-6 for x in fr):
            edges = [0] + [int(round(f * n_per)) for f in flips if f < 1.0] + [n_per]
            return n_per, tr / n_per, np.array(edges, np.int64), 2 * int(round(T / 2 / (tr / n_per)))
    raise ValueError("the S pulse positions and the central block do not fit a common step grid "
                     f"(tau_R = {tr * 1e6:g} us, block {T * 1e6:g} us)")


def _run_indices(start, length, n):
    """Prefix indices that :func:`spinsim._coupled.run_product` reads for a run of steps."""
    a0, (q, r) = start % n, divmod(length, n)
    out = {a0, n} if q else set()
    if r:
        out |= {a0 + r, a0} if a0 + r <= n else {a0 + r - n, n, a0}
    return out


def _blocks(n, rows, cols, dense=None):
    """Connected components of the graph of (rows, cols) (and of ``dense != 0``): (off, idx)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    g = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)).tocsr()
    if dense is not None:
        g = g + coo_matrix(np.abs(dense) > 0).tocsr()
    n_comp, lab = connected_components(g, directed=False)
    order = np.argsort(lab, kind="stable")
    counts = np.bincount(lab, minlength=n_comp)
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), order.astype(np.int64)


def _spin_rf(system, centre):
    """Each partner's rf Hamiltonian (rad/s) during a single-state central block: (n_p, d_max, d_max),
    partner k's in its top-left (2I+1) square."""
    states = {tuple(sorted(e.rf.items())) for e in centre.events if e.duration > 0}
    if len(states) != 1 or any(e.ideal is not None for e in centre.events):
        raise ValueError("with partner-partner couplings the central block must be one constant rf state "
                         "(e.g. a CW pulse); shaped blocks are not supported by the coupled engine")
    state = dict(next(iter(states)))
    dims = product_dims(system)[1:]
    rf1 = np.zeros((len(dims), max(dims), max(dims)), complex)
    for n in range(1, system.n_spins):
        amp, ph = state.get(system.spins[n].isotope.symbol, (0.0, 0.0))
        _, _, _, ix, iy = spin_operators(system.spins[n].spin)
        rf1[n - 1, : dims[n - 1], : dims[n - 1]] = 2 * np.pi * amp * (np.cos(np.radians(ph)) * ix
                                                                      + np.sin(np.radians(ph)) * iy)
    return rf1


def _partner_rf(rf1, dims):
    """The rf Hamiltonian (rad/s) in the partner space, from each partner's (:func:`_spin_rf`)."""
    return sum(_embed(rf1[k, :d, :d], k, dims) for k, d in enumerate(dims))


def _factor_layout(system, rf1, pairs, homonuclear):
    """The constant arrays of the factored rf steps (:func:`spinsim._coupled_split.split_step`):
    (rf1, dims, pairs, homonuclear, zz, ff, pair_perm, single_perm) for each partner's rf ``rf1``
    (:func:`_spin_rf`) and the pairs of :func:`spinsim.hamiltonian.partner_factor_terms`; with
    ``rf1`` None, placeholders of the same types (the kernel does not read them)."""
    if rf1 is None:
        n = len(pairs)
        return (np.zeros((1, 1, 1), complex), np.ones(1, np.int64), pairs, homonuclear, np.zeros((n, 1)),
                np.zeros((n, 1, 1)), np.zeros((n, 1), np.int64), np.zeros((1, 1), np.int64))
    dims = product_dims(system)[1:]
    d_max, N = max(dims), int(np.prod(dims))
    grid = np.arange(N).reshape(dims)
    zz = np.zeros((len(pairs), d_max * d_max))
    ff = np.zeros((len(pairs), d_max * d_max, d_max * d_max))
    pair_perm = np.zeros((len(pairs), N), np.int64)
    for i, (a, b) in enumerate(pairs):
        za, pa, ma, _, _ = spin_operators(system.spins[a + 1].spin)
        zb, pb, mb, _, _ = spin_operators(system.spins[b + 1].spin)
        dab = dims[a] * dims[b]
        zz[i, :dab] = 2 * np.kron(np.diag(za), np.diag(zb)).real
        ff[i, :dab, :dab] = (np.kron(pa, mb) + np.kron(ma, pb)).real
        pair_perm[i] = grid.transpose([a, b] + [k for k in range(len(dims)) if k not in (a, b)]).reshape(-1)
    single_perm = np.array([grid.transpose([k] + [j for j in range(len(dims)) if j != k]).reshape(-1)
                            for k in range(len(dims))], np.int64)
    return rf1, np.array(dims, np.int64), pairs, homonuclear, zz, ff, pair_perm, single_perm


def _no_terms(n_pairs):
    """Placeholders of the right types for :func:`spinsim._coupled.coupled_signals` without factors."""
    return (np.zeros((1, 1, 1, 1), complex), np.zeros((1, 1, 1, 1), complex), np.zeros((1, 1, 1), complex),
            np.zeros((1, n_pairs, 1, 1), complex))


def _embed(op, n, dims):
    from .hamiltonian import embed_op

    return embed_op(op, n, dims)


def coupled_curve(system, mas_rate, ns, centre, powder, max_dt, offsets, progress, flips=(0.5, 1.0), factored=True,
                  integrator="piecewise", factor_phase=FACTOR_PHASE):
    """Complex S0, S1 (powder averaged) and info of the coupled engine; ``ns`` periods per half.
    ``factored``: rf steps as products of one- and two-spin factors (:mod:`spinsim._coupled_split`);
    ``integrator``: ``"piecewise"`` (constant Hamiltonian per step) or ``"magnus4"`` (fourth-order
    Magnus steps; factored rf steps only); ``factor_phase``: the largest coupling phase (rad) of a
    factor step (see :data:`FACTOR_PHASE`; 0 applies the factors every fine step)."""
    from . import _coupled as KC
    from .hamiltonian import partner_factor_terms, partner_space_terms

    wr, tr, ng = 2 * np.pi * mas_rate, 1.0 / mas_rate, powder.n_gamma
    n_per, dt, edges, L = _coupled_grid(tr, ng, max_dt, flips, centre)
    need = set()
    for g in range(ng):
        st = g * n_per // ng
        for base in (st, st + L):
            for i in range(len(edges) - 1):
                need |= _run_indices(base + edges[i], edges[i + 1] - edges[i], n_per)
        if L:
            need |= _run_indices(st, L // 2, n_per) | _run_indices(st + L // 2, L - L // 2, n_per)
    smap = np.full(n_per + 1, -1, np.int64)
    for k, i in enumerate(sorted(need)):
        smap[i] = k
    comps = interaction_components(system, powder.euler_ab()[:1])
    _, _, _, rows, cols = partner_space_terms(system, comps, offsets)
    N = int(np.prod(product_dims(system)[1:]))
    f_off, f_idx = _blocks(N, rows, cols)
    factored = bool(factored and L)
    magnus4 = integrator == "magnus4"
    if magnus4 and L and not factored:
        raise ValueError("fourth-order Magnus steps under rf need the factored rf steps of the coupled engine")
    pairs, homonuclear = partner_factor_terms(system, comps, offsets)[4:]
    rf1 = _spin_rf(system, centre) if L else None
    layout = _factor_layout(system, rf1 if factored else None, pairs, homonuclear)
    if L:
        R = _partner_rf(rf1, product_dims(system)[1:])
        r_off, r_idx = _blocks(N, rows, cols, R)
        transfer = np.zeros((0, 0))
    else:
        R = np.zeros((N, N), complex)
        r_off, r_idx = f_off, f_idx
        transfer = np.zeros((0, 0))
        if centre.efficiency > 0:
            transfer = np.ones((1, 1))
            for sp in system.spins[1:]:
                transfer = np.kron(transfer, centre.matrix(sp.spin))
    order = np.argsort(ns, kind="stable")
    ns_sorted = np.ascontiguousarray(ns[order])
    s1_all = np.empty((powder.n_ab, ng, len(ns)), complex)
    s0_all = np.empty_like(s1_all)
    threads = engine_threads()
    fine_per_factor = [1]

    def work(a, b):
        comps = interaction_components(system, powder.euler_ab()[a:b])
        D, Z, V, rows, cols = partner_space_terms(system, comps, offsets)
        terms = partner_factor_terms(system, comps, offsets)[:4] if factored else _no_terms(len(pairs))
        n_fine = _fine_per_factor(terms[3], dt, factor_phase) if factored else 1
        fine_per_factor.append(n_fine)
        return KC.coupled_signals(
            np.ascontiguousarray(D), np.ascontiguousarray(Z), np.ascontiguousarray(V), rows.astype(np.int64),
            cols.astype(np.int64), wr, dt, n_per, ng, np.ascontiguousarray(R), f_off, f_idx, r_off, r_idx,
            smap, len(need), edges, L, np.ascontiguousarray(transfer, dtype=float), ns_sorted, factored,
            tuple(np.ascontiguousarray(x) for x in terms) + layout, magnus4, n_fine,
        )

    # an orientation costs up to seconds here: one per call keeps progress and Ctrl-C responsive
    with crystallite_chunks(powder.n_ab, 1, ng, progress) as chunks:
        for a, b, (s1, s0) in in_threads(work, chunks, _chunk_ranges(powder.n_ab, 1), threads):
            s1_all[a:b][:, :, order] = s1
            s0_all[a:b][:, :, order] = s0
    s0, s1, partials = powder_sums(powder.weights, s0_all, s1_all)
    info = {"engine": "coupled", "rf_steps": "factored" if factored else "exact" if L else "none",
            "integrator": integrator, "factor_phase_rad": factor_phase if factored else None,
            "max_fine_steps_per_factor": max(fine_per_factor), "partials": partials, "step_s": dt,
            "steps_per_rotor_period": n_per, "dim": 2 * N,
            "max_block": int(np.max(np.diff(r_off))), "homonuclear_pairs": len(system.homonuclear_pairs()),
            "threads": threads}
    return s0, s1, info
