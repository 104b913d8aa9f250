"""General engine: dense propagation in the full product space of any piecewise-constant
sequence (see :mod:`spinsim.simulate`)."""

from __future__ import annotations

import numpy as np

from . import _drivers_shared as S
from . import _kernels as K
from ._crystallites import _chunks as _chunk_ranges
from ._crystallites import crystallite_chunks, engine_threads, in_threads
from ._experiment import IdealSaturation
from ._results import class_sums
from .hamiltonian import channel_operators, full_diagonal, interaction_components, product_dims, spin_operators
from .sequences import Block, Event, ideal_pulse


def _split(block: Block, t_split):
    """Events before and after time ``t_split`` (an event straddling it is cut in two)."""
    first, second, t = [], [], 0.0
    for e in block.events:
        end = t + e.duration
        if end <= t_split + 1e-15:
            first.append(e)
        elif t >= t_split - 1e-15:
            second.append(e)
        else:
            first.append(Event(t_split - t, e.rf))
            second.append(Event(end - t_split, e.rf))
        t = end
    return first, second


class _Slicer:
    """Turns events into the slice table of :func:`K.propagate_segments`."""

    def __init__(self, system, max_dt):
        self.dims = product_dims(system)
        self.dim = int(np.prod(self.dims))
        self.ops = channel_operators(system)
        self.max_dt = max_dt
        self.t0s, self.dts, self.kinds, self.idxs = [], [], [], []
        self.rf, self.units = [], []
        self._rf_keys, self._unit_keys = {}, {}
        self.bounds = [0]

    def _rf_index(self, rf):
        key = tuple(sorted((ch, float(a), float(p)) for ch, (a, p) in rf.items() if a > 0))
        if key not in self._rf_keys:
            h = np.zeros((self.dim, self.dim), complex)
            for ch, a, p in key:
                if ch not in self.ops:
                    raise ValueError(f"rf on channel {ch!r}, which has no spin in the system")
                fx, fy = self.ops[ch]
                h += 2 * np.pi * a * (np.cos(np.radians(p)) * fx + np.sin(np.radians(p)) * fy)
            self._rf_keys[key] = len(self.rf)
            self.rf.append(h)
        return self._rf_keys[key]

    def _unit_index(self, ideal):
        ch, flip, ph = ideal
        key = (ch, float(flip), float(ph))
        if key not in self._unit_keys:
            if ch not in self.ops:
                raise ValueError(f"pulse on channel {ch!r}, which has no spin in the system")
            fx, fy = self.ops[ch]
            h = np.cos(np.radians(ph)) * fx + np.sin(np.radians(ph)) * fy
            w, v = np.linalg.eigh(h)
            u = (v * np.exp(-1j * np.radians(flip) * w)) @ v.conj().T
            self._unit_keys[key] = len(self.units)
            self.units.append(u)
        return self._unit_keys[key]

    def segment(self, events, t_start):
        t = t_start
        for e in events:
            if e.ideal is not None:
                self.t0s.append(t), self.dts.append(0.0), self.kinds.append(2)
                self.idxs.append(self._unit_index(e.ideal))
            if e.duration <= 0:
                continue
            if not any(a > 0 for a, _ in e.rf.values()):
                self.t0s.append(t), self.dts.append(e.duration), self.kinds.append(0), self.idxs.append(0)
            else:
                n = int(np.ceil(e.duration / self.max_dt - 1e-9))
                d = e.duration / n
                ri = self._rf_index(e.rf)
                for k in range(n):
                    self.t0s.append(t + k * d), self.dts.append(d), self.kinds.append(1), self.idxs.append(ri)
            t += e.duration
        self.bounds.append(len(self.t0s))

    def arrays(self):
        rf = np.array(self.rf, complex) if self.rf else np.zeros((1, self.dim, self.dim), complex)
        un = np.array(self.units, complex) if self.units else np.zeros((1, self.dim, self.dim), complex)
        from scipy.sparse.csgraph import connected_components

        rf_blocks, blk_off, blk_idx = [0], [0], []
        for h in rf:
            n_comp, lab = connected_components(np.abs(h) > 0, directed=False)
            for c in range(n_comp):
                members = np.flatnonzero(lab == c)
                blk_idx.extend(members.tolist())
                blk_off.append(len(blk_idx))
            rf_blocks.append(rf_blocks[-1] + n_comp)
        return (
            np.array(self.t0s, float),
            np.array(self.dts, float),
            np.array(self.kinds, np.int64),
            np.array(self.idxs, np.int64),
            np.array(self.bounds, np.int64),
            rf,
            np.array(rf_blocks, np.int64),
            np.array(blk_off, np.int64),
            np.array(blk_idx, np.int64),
            un,
        )


def _centre_events(centre, obs_channel, tp=0.0):
    """Events of a central block with the S pi pulse at its middle: ideal (tp = 0) or a finite
    x pulse of tp s at nu1 = 1/(2 tp), centred on the middle and simultaneous with the block's rf."""
    if tp <= 0:
        if isinstance(centre, IdealSaturation):
            return [ideal_pulse(obs_channel, 180.0, 0.0)]
        a, b = _split(centre, centre.duration / 2)
        return a + [ideal_pulse(obs_channel, 180.0, 0.0)] + b
    amp = 1.0 / (2 * tp)
    if isinstance(centre, IdealSaturation):
        return [Event(tp, {obs_channel: (amp, 0.0)})]
    T = centre.duration
    if tp > T + 1e-15:
        raise ValueError(f"the centre pi pulse ({tp * 1e6:g} us) is longer than the central block ({T * 1e6:g} us)")
    a, rest = _split(centre, (T - tp) / 2)
    mid, b = _split(Block(rest), tp)
    return a + [Event(e.duration, {**e.rf, obs_channel: (amp, 0.0)}) for e in mid if e.duration > 0] + b


def _periods(cycle, tr):
    """The events of each rotor period of a cycle (a whole number of periods)."""
    out, rest = [], list(cycle.events)
    for _ in range(int(round(cycle.duration / tr)) - 1):
        a, rest = _split(Block(rest), tr)
        out.append(a)
    return out + [rest]


def _rf_alone(arrs):
    """Segment propagators of the rf alone (no interactions, no offsets): (n_seg, dim, dim).

    Without interactions a run of slices of one rf state is one exponential of its total length.
    """
    _, dts, kinds, idxs, bounds, rf, _, _, _, units = arrs
    dim = rf.shape[1]
    out = []
    for g in range(len(bounds) - 1):
        U = np.eye(dim, dtype=complex)
        run_idx, run_t = -1, 0.0
        for s in list(range(bounds[g], bounds[g + 1])) + [None]:
            if s is not None and kinds[s] == 1 and idxs[s] == run_idx:
                run_t += dts[s]
                continue
            if run_idx >= 0:
                w, v = np.linalg.eigh(rf[run_idx])
                U = (v * np.exp(-1j * w * run_t)) @ v.conj().T @ U
                run_idx = -1
            if s is None:
                break
            if kinds[s] == 1:
                run_idx, run_t = idxs[s], dts[s]
            elif kinds[s] == 2:
                U = units[idxs[s]] @ U
        out.append(U)
    return np.array(out)


def _rf_only(U0, ns, n_per, mode):
    """Interaction-free propagators of each point, from segment propagators U0 (numpy)."""
    out = []
    for n in ns:
        if mode == "restart":
            out.append(np.linalg.matrix_power(U0[2], int(n)) @ U0[1] @ np.linalg.matrix_power(U0[0], int(n)))
            continue
        A = np.eye(U0.shape[1], dtype=complex)
        B = A.copy()
        start = int(n) if mode == "continue" else 0
        for k in range(int(n)):
            A = U0[k % n_per] @ A
            B = U0[n_per + 1 + (start + k) % n_per] @ B
        out.append(B @ U0[n_per] @ A)
    return out


def _segments(cycle, centre, obs, tr, centre_pulse, cycle_mode):
    """(events, start time) of each segment: the cycle's periods, the centre, the periods again."""
    t_cen = centre_pulse if isinstance(centre, IdealSaturation) else centre.duration
    periods = [cycle.events] if cycle_mode == "restart" else _periods(cycle, tr)
    return (
        [(ev, p * tr) for p, ev in enumerate(periods)]
        + [(_centre_events(centre, obs, centre_pulse), 0.0)]
        + [(ev, t_cen + p * tr) for p, ev in enumerate(periods)]
    ), len(periods)


def _shared_items(segments, sl, arrs, powder, tr, max_dt, shared_gamma):
    """The gamma-shared grid and items, or None when the per-crystallite path is used: when asked
    (``shared_gamma=False``), when no rf event fits a common grid, or when it would cost more."""
    if shared_gamma is False:
        return None
    edges = S.rf_edges(segments, tr)
    n_grid = S.shared_grid(edges, tr, max_dt) if edges else None
    if n_grid is None:
        if shared_gamma:
            raise ValueError("the rf events of this sequence do not fit a grid shared by the gamma angles")
        return None
    items = S.GridItems(sl, tr / n_grid, arrs)
    for ev, t in segments:
        items.segment(ev, t)
    n_sub, n_cos = S.gamma_cosets(powder.n_gamma, n_grid)
    modes, cells, cost = items.plan(n_sub, n_grid)
    if shared_gamma is None and n_cos * cost >= items.per_crystallite_cost(powder.n_gamma):
        return None
    return items, n_grid, modes, cells


def _as_permutation(rho0):
    """(perm, scale) with rho0[j, perm[j]] = scale[j], or None when a row has two entries."""
    nz = np.abs(rho0) > 0
    if np.any(nz.sum(1) > 1):
        return None
    perm = np.where(nz.any(1), nz.argmax(1), 0).astype(np.int64)
    return perm, np.ascontiguousarray(rho0[np.arange(len(rho0)), perm] * nz.any(1))


def _unitary_signal(cycle_mode, rho0, dets, transfer):
    """Whether :func:`spinsim._gamma_kernels.unitary_signals` serves these signals."""
    return cycle_mode == "restart" and transfer.shape[0] == 0 and _as_permutation(rho0) is not None


def _signals_of(U, n_per, ns, cycle_mode, rho0, dets, transfer):
    if _unitary_signal(cycle_mode, rho0, dets, transfer):
        from . import _gamma_kernels as SG

        return SG.unitary_signals(
            np.ascontiguousarray(U[:, 0]), np.ascontiguousarray(U[:, 1]), np.ascontiguousarray(U[:, 2]),
            ns, *_as_permutation(rho0), dets,
        )
    if cycle_mode == "restart":
        return K.general_signal(
            np.ascontiguousarray(U[:, 0]), np.ascontiguousarray(U[:, 1]), np.ascontiguousarray(U[:, 2]),
            ns, rho0, dets, transfer, 2,
        )
    return K.general_signal_periods(
        np.ascontiguousarray(U[:, :n_per]), np.ascontiguousarray(U[:, n_per]),
        np.ascontiguousarray(U[:, n_per + 1:]), ns, cycle_mode == "continue", rho0, dets, transfer, 2,
    )


def _shared_signals(system, powder, shared, wr, ns, n_per, cycle_mode, signal, offs, progress, chunk, out):
    """The gamma-shared path: fills ``out`` (n_ab * n_gamma, n_pts) and returns the engine info."""
    from . import _gamma_kernels as SG

    items, n_grid, modes, cells = shared
    n_sub, n_cos = S.gamma_cosets(powder.n_gamma, n_grid)
    E, args = items.arrays(wr, n_sub, n_grid, modes, cells)
    by_gamma = out.reshape(powder.n_ab, n_sub, n_cos, len(ns))  # gamma index k = c + j n_cos
    euler_ab = powder.euler_ab()
    dim = items.sl.dim

    def work(a, b):
        got = np.empty((b - a, n_sub, n_cos, len(ns)), complex)
        # every set's first gamma angle, in one call (the Python part of a chunk, which threads cannot share)
        euler = np.tile(euler_ab[a:b], (n_cos, 1))
        euler[:, 0] = np.repeat(2 * np.pi * np.arange(n_cos) / powder.n_gamma, b - a)
        F_all = full_diagonal(system, interaction_components(system, euler), offs).reshape((n_cos, b - a, -1, dim))
        for c in range(n_cos):
            F = np.ascontiguousarray(F_all[c])
            U = SG.shared_gamma_propagators(F, wr, items.dt, E, n_sub, *args)
            U = U.reshape(((b - a) * n_sub,) + U.shape[2:])
            got[:, :, c] = _signals_of(U, n_per, ns, cycle_mode, *signal).reshape(b - a, n_sub, -1)
        return got

    threads = engine_threads()  # every kernel releases the GIL: chunks run side by side
    per_call = max(1, chunk)  # (alpha, beta) orientations per chunk, as on the fast engine
    with crystallite_chunks(powder.n_ab, per_call, powder.n_gamma, progress) as chunks:
        for a, b, got in in_threads(work, chunks, _chunk_ranges(powder.n_ab, per_call), threads):
            by_gamma[a:b] = got
    steps = {"slices": items.rf_steps, "shared_gamma_grid": n_grid, "step_s": items.dt,
             "gamma_sets": n_cos, "stepped_rf_states": int(np.sum(modes)), "threads": threads}
    return steps


def general_signals(system, mas_rate, cycle, centre, ns, powder, max_dt, offsets, progress, chunk, initial="x",
                     centre_pulse=0.0, cycle_mode="restart", shared_gamma=None):
    """Complex detected signal (n_pts,) powder averaged and normalised, and the engine info.

    ``cycle_mode="restart"``: ``ns`` counts cycles per half. ``"truncate"``/``"continue"``: ``ns``
    counts rotor periods per half (any number); the second half restarts the cycle, or continues
    its phase cycle from where the first half stopped.

    ``shared_gamma``: None chooses the gamma-shared path (:mod:`spinsim._drivers_shared`) when the
    rf fits its grid and it is cheaper; True requires it; False steps every crystallite on its own.
    """
    wr = 2 * np.pi * mas_rate
    tr = 1.0 / mas_rate
    obs = system.spins[0].isotope.symbol
    sl = _Slicer(system, max_dt)
    segments, n_per = _segments(cycle, centre, obs, tr, centre_pulse, cycle_mode)
    for ev, t in segments:
        sl.segment(ev, t)
    arrs = sl.arrays()
    shared = _shared_items(segments, sl, arrs, powder, tr, max_dt, shared_gamma)
    dim = sl.dim
    iz, ip, im, sx, _ = spin_operators(0.5)
    rest = dim // 2
    # the spectrometer: S_x after an ideal excitation pulse, complex detection Tr(rho S+)
    # (``initial="plus"`` keeps only the S+ pathway: the engine's convention before issue 11)
    rho0 = np.kron(sx if initial == "x" else ip, np.eye(rest))
    if isinstance(centre, IdealSaturation) and centre.efficiency > 0:
        transfer = np.ones((1, 1))
        for sp in system.spins[1:]:
            transfer = np.kron(transfer, centre.matrix(sp.spin))
    else:
        transfer = np.zeros((0, 0))
    # normalise by the signal of the same rf without interactions (rf alone)
    U0 = _rf_alone(arrs)
    dets, norms = [], []
    for R in _rf_only(U0, ns, n_per, cycle_mode):
        ideal = R @ rho0 @ R.conj().T
        if initial == "x":
            det = np.kron(im, np.eye(rest))  # Tr(det^dag rho) = Tr(S+ rho)
        else:
            det = ideal
        norm = np.vdot(det, ideal) / rest
        if abs(norm) < 1e-6:
            raise ValueError("the rf of this sequence leaves no observable S coherence even without interactions")
        dets.append(det)
        norms.append(norm)
    dets = np.ascontiguousarray(np.array(dets))
    offs = offsets or {}
    n_tot = powder.n_ab * powder.n_gamma
    out = np.empty((n_tot, len(ns)), complex)
    signal = (rho0, dets, transfer)
    if shared is None:
        euler = powder.euler_full()[0]

        def work(a, b):
            F = np.ascontiguousarray(full_diagonal(system, interaction_components(system, euler[a:b]), offs))
            return _signals_of(K.propagate_segments(F, wr, *arrs), n_per, ns, cycle_mode, *signal)

        threads = engine_threads()
        with crystallite_chunks(n_tot, chunk, 1, progress) as chunks:
            for a, b, got in in_threads(work, chunks, _chunk_ranges(n_tot, chunk), threads):
                out[a:b] = got
        steps = {"slices": len(arrs[0]), "threads": threads}
    else:
        steps = _shared_signals(system, powder, shared, wr, ns, n_per, cycle_mode, signal, offs, progress, chunk, out)
    out /= rest * np.array(norms)[None, :]
    # crystallites run gamma fastest (Powder.euler_full): (orientation, gamma, time)
    per = out.reshape(powder.n_ab, powder.n_gamma, len(ns))
    part, wk = class_sums(powder.weights, per)
    info = {"engine": "general", **steps, "dim": dim, "partial": part, "class_weight": wk}
    return part.sum((0, 1)), info
