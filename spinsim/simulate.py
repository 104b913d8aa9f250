"""REDOR and RESPDOR dephasing curves: the public simulation API.

Two engines, which agree where both apply (tested):

* **fast path** (``method="fast"``): REDOR-type recoupling with ideal (delta) pi pulses on the
  observed spin S, a central block with rf on partner channels only (saturation pulse, or the
  partner pi pulse of REDOR), partners coupled to S but not to each other. Free evolution is
  diagonal and integrated exactly from Fourier coefficients; the block propagator is computed once
  per crystallite and serves every recoupling time; partners factorise, so cost grows linearly with
  their number; for CW blocks one period of step propagators serves all gamma angles.
* **general path** (``method="general"``): dense propagation in the full product space of any
  piecewise-constant sequence (finite pulses on any channel, SR4, shaped pulses), with the cycle
  propagator computed once and raised to the power n for each recoupling time.
* **coupled path** (``method="coupled"``, chosen automatically when two partners of the same
  isotope are coupled): the homonuclear flip-flop terms make the internal Hamiltonian
  non-diagonal, so free evolution too is propagated in piecewise-constant steps (at most
  ``max_dt``); ideal REDOR pulses on S, S handled through its state (partner space of dimension
  prod(2I+1)), the rotor period of steps shared by all gamma angles (``spinsim._coupled``).
  With no flip-flop terms it reproduces the fast path (tested); it is used only when they exist.

Experiment (both paths): ``n`` recoupling cycles, the central block with an ideal S pi pulse at its
centre, ``n`` cycles again; the recoupling time is t_rec = 2 n T_cycle. RESPDOR: S1 with the
saturation rf, S0 without it. REDOR (:func:`simulate_redor`): S1 with the partner inversion, S0
without.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from . import _kernels as K
from .interrupt import InterruptGuard
from .hamiltonian import (
    N_HARM,
    channel_operators,
    full_diagonal,
    interaction_components,
    product_dims,
    spin_operators,
)
from .powder import Powder, make_powder
from .sequences import DEFAULT_PLACEMENT, Block, Event, ideal_pulse, redor_cycle, redor_flip_fractions
from .system import SpinSystem

__all__ = [
    "RfInhomogeneity",
    "IdealSaturation",
    "SimulationResult",
    "simulate_respdor",
    "simulate_redor",
    "transfer_matrix",
    "describe_experiment",
]


@dataclass(frozen=True)
class IdealSaturation:
    """Instantaneous, incoherent change of the partner state with transition matrix P(m'|m).

    Parameters
    ----------
    kind : {"full", "ct", "inversion"} or ndarray
        ``"full"``: uniform P = 1/(2I+1) (complete saturation, Chen et al. 2010);
        ``"ct"``: swap m = +1/2 and -1/2 only; ``"inversion"``: m -> -m (ideal REDOR pulse);
        or an explicit (2I+1) x (2I+1) matrix P[m', m] (columns sum to 1), basis m = I .. -I.
    efficiency : float
        epsilon in [0, 1]: P = eps P_kind + (1 - eps) 1.
    """

    kind: object = "full"
    efficiency: float = 1.0

    def __post_init__(self):
        if not (0.0 <= float(self.efficiency) <= 1.0):
            raise ValueError(f"saturation efficiency must lie in [0, 1], got {self.efficiency!r}")
        if isinstance(self.kind, str) and self.kind not in ("full", "ct", "inversion"):
            raise ValueError(f"unknown ideal saturation {self.kind!r}: use 'full', 'ct' or 'inversion'")

    def matrix(self, spin: float) -> np.ndarray:
        return transfer_matrix(spin, self.kind, self.efficiency)

    @property
    def duration(self) -> float:
        return 0.0


@dataclass(frozen=True)
class RfInhomogeneity:
    """A weighted distribution of rf amplitudes across the sample: nu1 -> scale * nu1.

    Signals (complex S0 and S1) are averaged over the distribution, as the coil volume does; a
    spatial distribution scales every channel of a double-resonance coil alike, hence one
    distribution for the listed channels.

    Parameters
    ----------
    scales, weights : sequence of float
        Relative rf amplitudes and their weights (normalised here).
    channels : tuple of str, optional
        Channels whose rf is scaled (default: every channel with shaped or finite rf). Ideal
        (instantaneous) pulses are not scaled.
    """

    scales: tuple
    weights: tuple
    channels: tuple = None

    def __post_init__(self):
        s = np.atleast_1d(np.asarray(self.scales, float))
        w = np.atleast_1d(np.asarray(self.weights, float))
        if s.shape != w.shape or s.size == 0 or np.any(s < 0) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("rf inhomogeneity: scales and weights must be non-negative, of equal non-zero length")
        object.__setattr__(self, "scales", tuple(float(x) for x in s))
        object.__setattr__(self, "weights", tuple(float(x) for x in w / w.sum()))

    def describe(self):
        mean = float(np.dot(self.scales, self.weights))
        sd = float(np.sqrt(np.dot(self.weights, (np.array(self.scales) - mean) ** 2)))
        return (f"rf inhomogeneity: {len(self.scales)} nu1 scale factors on {', '.join(self.channels or ('all rf',))}"
                f" (mean {mean:.3g}, s.d. {sd:.3g}); complex S0 and S1 averaged over them")


def transfer_matrix(spin, kind="full", efficiency=1.0) -> np.ndarray:
    """Partner-state transfer matrix P[m', m] (basis m = I, I-1, .., -I); see :class:`IdealSaturation`."""
    n = int(round(2 * spin)) + 1
    if isinstance(kind, str):
        if kind == "full":
            p = np.full((n, n), 1.0 / n)
        elif kind == "inversion":
            p = np.eye(n)[::-1]
        elif kind == "ct":
            p = np.eye(n)
            if n % 2 == 0:
                c = n // 2
                p[[c - 1, c]] = p[[c, c - 1]]
        else:
            raise ValueError(f"unknown transfer kind {kind!r}")
    else:
        p = np.asarray(kind, float)
        if p.shape != (n, n) or np.any(p < 0) or not np.allclose(p.sum(0), 1.0):
            raise ValueError(f"transfer matrix must be {n}x{n}, non-negative, columns summing to 1")
    return efficiency * p + (1 - efficiency) * np.eye(n)


@dataclass
class SimulationResult:
    """A simulated dephasing curve.

    Attributes
    ----------
    t_s : ndarray
        Total recoupling times (s).
    S0, S1 : ndarray
        Powder-averaged signals relative to the initial magnetisation.
    dSS0 : ndarray
        (S0 - S1) / S0.
    info : dict
        Engine, powder, step size and timings; ``info["experiment"]``: what was simulated, in words.
    S0_complex, S1_complex : ndarray
        The complex detected signals (S_x after an ideal excitation, complex detection, normalised
        to the interaction-free signal). ``S0 = |S0_complex|``; ``S1`` is ``S1_complex`` phased
        like S0 (the phase correction of the S0 spectrum applied to S1), so dS/S0 = 1 - Re(S1/S0).
    """

    t_s: np.ndarray
    S0: np.ndarray
    S1: np.ndarray
    dSS0: np.ndarray
    info: dict = field(default_factory=dict)
    S0_complex: np.ndarray = None
    S1_complex: np.ndarray = None

    def to_csv(self, path):
        """Write ``t_s,S0,S1,dSS0`` after ``#`` comment lines saying what was simulated."""
        data = np.column_stack([self.t_s, self.S0, self.S1, self.dSS0])
        head = [f"# {line}" for line in self.info.get("experiment", [])]
        np.savetxt(path, data, delimiter=",", header="\n".join(head + ["t_s,S0,S1,dSS0"]), comments="",
                   fmt="%.10g")


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _result(t, s0c, s1c, info):
    """S0 = |S0|, S1 phased like S0 (one phase correction for both spectra, as when processing)."""
    s0c = np.asarray(s0c, complex)
    s1c = np.asarray(s1c, complex)
    s0 = np.abs(s0c)
    if np.any(s0 < 1e-9):
        raise ValueError("S0 vanishes at some recoupling time: dS/S0 is undefined")
    s1 = (s1c * np.conj(s0c) / s0).real
    return SimulationResult(t, s0, s1, 1.0 - s1 / s0, info, s0c, s1c)


class _Progress:
    def __init__(self, total, enabled, label):
        self.total, self.enabled, self.label = total, enabled, label
        self.done = 0
        self.t0 = time.perf_counter()

    def update(self, k):
        self.done += k
        if self.enabled:
            frac = self.done / max(self.total, 1)
            bar = "#" * int(30 * frac)
            sys.stderr.write(
                f"\r{self.label}: [{bar:<30}] {self.done}/{self.total} crystallites, "
                f"{time.perf_counter() - self.t0:.1f} s"
            )
            sys.stderr.flush()

    def close(self, interrupted=False):
        if self.enabled:
            sys.stderr.write(" (interrupted)\n" if interrupted else "\n")
            sys.stderr.flush()


@contextmanager
def _crystallite_chunks(n, chunk, per_item, progress):
    """Chunks (a, b) of ``n`` crystallites with a progress bar (``per_item`` units each).

    Ctrl-C is taken between chunks, never inside a numba kernel; an interrupt closes the bar
    and propagates.
    """
    prog = _Progress(n * per_item, progress, "spinsim")
    guard = InterruptGuard()

    def chunks():
        for a, b in _chunks(n, chunk):
            guard.check()
            yield a, b
            prog.update((b - a) * per_item)
        guard.check()

    try:
        yield chunks()
    except KeyboardInterrupt:
        prog.close(interrupted=True)
        raise
    finally:
        guard.release()
    prog.close()


def _chunks(n, size):
    for a in range(0, n, size):
        yield a, min(n, a + size)


def _fint(F, t0, t1, wr):
    """numpy version of K.fourier_integral; F (..., 9), t0/t1 broadcastable -> real (...)."""
    t0 = np.asarray(t0, float)
    t1 = np.asarray(t1, float)
    out = F[..., N_HARM].real * (t1 - t0)
    for k in range(1, N_HARM + 1):
        e = np.exp(1j * k * wr * t1) - np.exp(1j * k * wr * t0)
        fac = e / (1j * k * wr)
        out = out + (F[..., N_HARM + k] * fac).real + (F[..., N_HARM - k] * np.conj(fac)).real
    return out


def _redor_period_phase(F, wr, t_start, taus, flips=(0.5, 1.0)):
    """integral over one rotor period from t_start (+ tau_g) of omega(t) s(t) dt, where s = +-1
    starts at +1 and flips at the fractions ``flips`` of tau_R (ideal pi pulses, an even number).
    F (n_ab, 9) -> (n_ab, n_gamma)."""
    tr = 2 * np.pi / wr
    t0 = t_start + taus[None, :]
    Fe = F[:, None, :]
    edges = [0.0] + [f for f in flips if f < 1.0] + [1.0]
    out = 0.0
    for k in range(len(edges) - 1):
        out = out + (-1) ** k * _fint(Fe, t0 + edges[k] * tr, t0 + edges[k + 1] * tr, wr)
    return out


def _n_from_times(times, cycle_s):
    t = np.atleast_1d(np.asarray(times, float))
    if t.ndim != 1 or not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("recoupling times must be finite and >= 0 s")
    n = t / (2 * cycle_s)
    ni = np.rint(n).astype(np.int64)
    bad = np.abs(n - ni) > 1e-6
    if np.any(bad):
        raise ValueError(
            f"recoupling time {t[bad][0]!r} s is not a multiple of 2 x cycle = {2 * cycle_s!r} s"
        )
    return t, ni


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
    """Unique rf states of a block: step -> index, x-phase Hamiltonians (rad/s), phases (rad)."""
    _, _, _, ix, _ = spin_operators(spin)
    keys, idx = {}, np.empty(len(steps), np.int64)
    mats, phases = [], []
    for s, (amp, ph) in enumerate(steps):
        key = (float(amp), float(ph) % 360.0 if amp > 0 else 0.0)
        if key not in keys:
            keys[key] = len(mats)
            mats.append(2 * np.pi * key[0] * ix)
            phases.append(np.radians(key[1]))
        idx[s] = keys[key]
    return idx, np.ascontiguousarray(np.array(mats, complex)), np.array(phases, float)


def _default_powder(powder):
    if powder is None:
        return make_powder("zcw", 987, 32)
    if isinstance(powder, Powder):
        return powder
    if isinstance(powder, dict):
        return make_powder(powder.get("scheme", "zcw"), powder.get("n", 987), powder.get("n_gamma", 32))
    raise ValueError(f"powder must be a Powder or dict, got {type(powder).__name__}")


def _offset_of(offsets, symbol):
    return float((offsets or {}).get(symbol, 0.0))


# --------------------------------------------------------------------------------------------
# fast path
# --------------------------------------------------------------------------------------------


def _fast_curve(system, mas_rate, ns, centre, powder, max_dt, offsets, progress, chunk, flips=(0.5, 1.0)):
    wr = 2 * np.pi * mas_rate
    tr = 1.0 / mas_rate
    ng = powder.n_gamma
    taus = np.arange(ng) * tr / ng
    ideal = isinstance(centre, IdealSaturation)
    T = 0.0 if ideal else centre.duration
    if not ideal:
        dt, L, shared, n_per = _block_grid(centre, tr, ng, max_dt)
    c1_all = np.empty((powder.n_ab, ng, len(ns)), complex)
    c0_all = np.empty_like(c1_all)
    obs = system.spins[0]
    with _crystallite_chunks(powder.n_ab, chunk, ng, progress) as chunks:
        for a, b in chunks:
            comps = interaction_components(system, powder.euler_ab()[a:b])
            fs = comps.single[0][:, :, 0] - comps.single[0][:, :, 1]  # omega_S coefficient of S_z
            fs = fs.copy()
            fs[:, N_HARM] -= np.sign(comps.omega0[0]) * 2 * np.pi * _offset_of(offsets, obs.isotope.symbol)
            # S phase: -n (Phi^S_a - Phi^S_b) - (J_a - J_b); common to S0 and S1
            psa = _redor_period_phase(fs, wr, 0.0, taus, flips)
            psb = _redor_period_phase(fs, wr, T, taus, flips)
            ja = _fint(fs[:, None, :], taus[None, :], taus[None, :] + T / 2, wr)
            jb = _fint(fs[:, None, :], taus[None, :] + T / 2, taus[None, :] + T, wr)
            phase_s = ns[None, None, :] * (psa - psb)[..., None] + (ja - jb)[..., None]
            c1 = np.exp(-1j * phase_s)
            c0 = c1.copy()
            for j in range(1, system.n_spins):
                sp = system.spins[j]
                m = sp.spin - np.arange(sp.multiplicity)
                fi = comps.single[j].copy()
                fi[:, N_HARM, :] -= (
                    np.sign(comps.omega0[j]) * 2 * np.pi * _offset_of(offsets, sp.isotope.symbol) * m
                )
                fsi = comps.pair.get((0, j), np.zeros((b - a, 2 * N_HARM + 1), complex))
                phi_a = _redor_period_phase(fsi, wr, 0.0, taus, flips)
                phi_b = _redor_period_phase(fsi, wr, T, taus, flips)
                if ideal:
                    P = centre.matrix(sp.spin)
                    xa = np.exp(-2j * m[None, None, None, :] * (ns[None, None, :, None] * phi_a[..., None, None]))
                    yb = np.exp(2j * m[None, None, None, :] * (ns[None, None, :, None] * phi_b[..., None, None]))
                    cj1 = np.einsum("ogib,ba,ogia->ogi", yb, P, xa) / len(m)
                    cj0 = np.einsum("ogia,ogia->ogi", yb, xa) / len(m)
                else:
                    steps = _block_steps(centre, dt, L, sp.isotope.symbol)
                    rf_idx, rf_mats, rf_phase = _rf_table(steps, sp.spin)
                    use_shared = shared and len(rf_mats) == 1
                    cj1, cj0 = K.respdor_fast(
                        np.ascontiguousarray(fi),
                        np.ascontiguousarray(fsi),
                        m.astype(float),
                        wr,
                        ng,
                        L,
                        dt,
                        rf_idx,
                        rf_mats,
                        rf_phase,
                        use_shared,
                        n_per if use_shared else 1,
                        np.ascontiguousarray(phi_a),
                        np.ascontiguousarray(phi_b),
                        ns,
                    )
                c1 = c1 * cj1
                c0 = c0 * cj0
            c1_all[a:b] = c1
            c0_all[a:b] = c0
    w = powder.weights / ng
    s1 = np.einsum("o,ogi->i", w, c1_all)
    s0 = np.einsum("o,ogi->i", w, c0_all)
    info = {"engine": "fast", "block_dt_s": None if ideal else dt, "block_steps": None if ideal else L}
    if not ideal:
        info["shared_gamma_steps"] = bool(shared)
    return s0, s1, info


# --------------------------------------------------------------------------------------------
# coupled path: partners coupled to each other by flip-flop terms (homonuclear)
# --------------------------------------------------------------------------------------------


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


def _partner_rf(system, centre):
    """rf Hamiltonian (rad/s) of a single-state central block in the partner space."""
    states = {tuple(sorted(e.rf.items())) for e in centre.events if e.duration > 0}
    if len(states) != 1 or any(e.ideal is not None for e in centre.events):
        raise ValueError("with partner-partner couplings the central block must be one constant rf state "
                         "(e.g. a CW pulse); shaped blocks are not supported by the coupled engine")
    dims = product_dims(system)[1:]
    R = np.zeros((int(np.prod(dims)),) * 2, complex)
    for ch, (amp, ph) in dict(next(iter(states))).items():
        for n in range(1, system.n_spins):
            if system.spins[n].isotope.symbol == ch and amp > 0:
                _, _, _, ix, iy = spin_operators(system.spins[n].spin)
                op = np.cos(np.radians(ph)) * ix + np.sin(np.radians(ph)) * iy
                R += 2 * np.pi * amp * _embed(op, n - 1, dims)
    return R


def _embed(op, n, dims):
    from .hamiltonian import embed_op

    return embed_op(op, n, dims)


def _coupled_curve(system, mas_rate, ns, centre, powder, max_dt, offsets, progress, chunk, flips=(0.5, 1.0)):
    """Complex S0, S1 (powder averaged) and info of the coupled engine; ``ns`` periods per half."""
    from . import _coupled as KC
    from .hamiltonian import partner_space_terms

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
    if L:
        R = _partner_rf(system, centre)
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
    with _crystallite_chunks(powder.n_ab, chunk, ng, progress) as chunks:
        for a, b in chunks:
            comps = interaction_components(system, powder.euler_ab()[a:b])
            D, Z, V, rows, cols = partner_space_terms(system, comps, offsets)
            s1, s0 = KC.coupled_signals(
                np.ascontiguousarray(D), np.ascontiguousarray(Z), np.ascontiguousarray(V), rows.astype(np.int64),
                cols.astype(np.int64), wr, dt, n_per, ng, np.ascontiguousarray(R), f_off, f_idx, r_off, r_idx,
                smap, len(need), edges, L, np.ascontiguousarray(transfer, dtype=float), ns_sorted,
            )
            s1_all[a:b][:, :, order] = s1
            s0_all[a:b][:, :, order] = s0
    w = powder.weights / ng
    info = {"engine": "coupled", "step_s": dt, "steps_per_rotor_period": n_per, "dim": 2 * N,
            "max_block": int(np.max(np.diff(r_off))), "homonuclear_pairs": len(system.homonuclear_pairs())}
    return np.einsum("o,ogi->i", w, s0_all), np.einsum("o,ogi->i", w, s1_all), info


# --------------------------------------------------------------------------------------------
# general path
# --------------------------------------------------------------------------------------------


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


def _general_signals(system, mas_rate, cycle, centre, ns, powder, max_dt, offsets, progress, chunk, initial="x",
                     centre_pulse=0.0, cycle_mode="restart"):
    """Complex detected signal (n_pts,) powder averaged and normalised, and the engine info.

    ``cycle_mode="restart"``: ``ns`` counts cycles per half. ``"truncate"``/``"continue"``: ``ns``
    counts rotor periods per half (any number); the second half restarts the cycle, or continues
    its phase cycle from where the first half stopped.
    """
    wr = 2 * np.pi * mas_rate
    tr = 1.0 / mas_rate
    obs = system.spins[0].isotope.symbol
    sl = _Slicer(system, max_dt)
    t_cen = centre_pulse if isinstance(centre, IdealSaturation) else centre.duration
    periods = [cycle.events] if cycle_mode == "restart" else _periods(cycle, tr)
    n_per = len(periods)
    for p, ev in enumerate(periods):
        sl.segment(ev, p * tr)
    sl.segment(_centre_events(centre, obs, centre_pulse), 0.0)
    for p, ev in enumerate(periods):
        sl.segment(ev, t_cen + p * tr)
    arrs = sl.arrays()
    t0s = arrs[0]
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
    F0 = np.zeros((1, 2 * N_HARM + 1, dim), complex)
    U0 = K.propagate_segments(F0, wr, *arrs)[0]
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
    euler, weights = powder.euler_full()
    n_tot = euler.shape[0]
    offs = offsets or {}
    out = np.empty((n_tot, len(ns)), complex)
    with _crystallite_chunks(n_tot, chunk, 1, progress) as chunks:
        for a, b in chunks:
            comps = interaction_components(system, euler[a:b])
            F = np.ascontiguousarray(full_diagonal(system, comps, offs))
            U = K.propagate_segments(F, wr, *arrs)
            if cycle_mode == "restart":
                out[a:b] = K.general_signal(
                    np.ascontiguousarray(U[:, 0]), np.ascontiguousarray(U[:, 1]), np.ascontiguousarray(U[:, 2]),
                    ns, rho0, dets, transfer, 2,
                )
            else:
                out[a:b] = K.general_signal_periods(
                    np.ascontiguousarray(U[:, :n_per]), np.ascontiguousarray(U[:, n_per]),
                    np.ascontiguousarray(U[:, n_per + 1:]), ns, cycle_mode == "continue", rho0, dets, transfer, 2,
                )
    out /= rest * np.array(norms)[None, :]
    return np.einsum("o,oi->i", weights, out), {"engine": "general", "slices": len(t0s), "dim": dim}


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def _check_system(system):
    if not isinstance(system, SpinSystem):
        raise ValueError(f"system must be a SpinSystem, got {type(system).__name__}")
    if system.n_spins < 2:
        raise ValueError("a dephasing experiment needs at least one partner spin")


def _without_rf(block):
    return Block([Event(e.duration) for e in block.events if e.duration > 0], block.label + " (rf off)")


def simulate_respdor(
    system,
    mas_rate,
    recoupling_times,
    saturation=None,
    recoupling="redor",
    powder=None,
    max_dt=0.5e-6,
    offsets=None,
    method="auto",
    progress=False,
    chunk=32,
    placement=DEFAULT_PLACEMENT,
    rf_inhomogeneity=None,
    centre_pulse=0.0,
    cycle_mode="restart",
):
    """Simulate a RESPDOR (or S-RESPDOR) dephasing curve: S0, S1 and dS/S0.

    Parameters
    ----------
    system : SpinSystem
        Spin 0 observed (spin 1/2); partners of other isotopes.
    mas_rate : float
        MAS rate nu_R in Hz.
    recoupling_times : array_like
        Total recoupling times t_rec = 2 n T_cycle in s (n = 0, 1, ...).
    saturation : Block or IdealSaturation
        Central block on the partner channel(s) (e.g. :func:`spinsim.cw_pulse`,
        :func:`spinsim.wurst_pulse`), or an ideal incoherent saturation. Default: ideal, full.
        An ideal S pi pulse sits at its centre. S0 is the same experiment with the rf off.
    recoupling : "redor" or Block
        ``"redor"``: ideal pi pulses on S, placed in every rotor period by ``placement``; or one
        recoupling cycle (e.g. :func:`spinsim.sr4_cycle`, :func:`spinsim.redor_cycle` with finite
        pulses), a whole number of rotor periods.
    powder : Powder or dict, optional
        Default ZCW 987 x 32 gamma (dS/S0 to about 2e-3 for a CW-saturated 27Al; see docs/simulation.md).
    max_dt : float
        Longest piecewise-constant step with rf on, s. Free evolution is integrated exactly.
    offsets : dict, optional
        Channel isotope -> rf carrier offset (Hz, in the sense of a shift).
    method : {"auto", "fast", "general", "coupled"}
        ``"auto"``: ``"coupled"`` when two partners of one isotope are coupled (flip-flop terms),
        else ``"fast"`` where it applies, else ``"general"``. ``"coupled"``: piecewise-constant
        steps of at most ``max_dt`` in the partner space, free evolution included (ideal REDOR
        pulses, ideal centre pulse, ideal or constant-rf saturation; see ``spinsim._coupled``).
    progress : bool
        Progress bar on stderr.
    chunk : int
        Crystallites per kernel call (Ctrl-C is honoured between calls).
    placement : str or sequence of float
        Where the ideal pi pulses of ``recoupling="redor"`` sit in each rotor period:
        ``"mid-end"`` (default, tau_R/2 and tau_R), ``"centred"`` (tau_R/4 and 3 tau_R/4) or
        fractions of tau_R (:func:`spinsim.sequences.placement_positions`). Both engines.
    rf_inhomogeneity : RfInhomogeneity, optional
        Average the complex signals over a distribution of nu1 (one run per scale factor).
    centre_pulse : float
        Length (s) of the S pi pulse at the centre: 0 = ideal; otherwise a finite x pulse at
        nu1 = 1/(2 t_p), centred on the block's middle (general path).
    cycle_mode : {"restart", "truncate", "continue"}
        For a recoupling Block: ``"restart"`` (default) runs whole cycles, t_rec = 2 n T_cycle;
        ``"truncate"`` allows any t_rec = 2 m tau_R (the cycle is cut after m rotor periods and
        the second half starts it again); ``"continue"`` likewise, with the second half running
        on from where the first half stopped (a supercycle continuing across the centre).

    Returns
    -------
    SimulationResult
    """
    if rf_inhomogeneity is not None:
        return _rf_average(rf_inhomogeneity, system, mas_rate, recoupling_times, saturation, recoupling, powder,
                           max_dt, offsets, method, progress, chunk, placement, None, centre_pulse, cycle_mode)
    _check_system(system)
    mas_rate = float(mas_rate)
    if not (np.isfinite(mas_rate) and mas_rate > 0):
        raise ValueError(f"MAS rate must be > 0 Hz, got {mas_rate!r}")
    if not (np.isfinite(max_dt) and max_dt > 0):
        raise ValueError(f"max_dt must be > 0 s, got {max_dt!r}")
    if saturation is None:
        saturation = IdealSaturation("full")
    if not isinstance(saturation, (Block, IdealSaturation)):
        raise ValueError(f"saturation must be a Block or IdealSaturation, got {type(saturation).__name__}")
    powder = _default_powder(powder)
    obs = system.spins[0].isotope.symbol
    if isinstance(saturation, Block) and saturation.has_rf_on(obs):
        raise ValueError("the saturation block must not put rf on the observed channel")
    t0 = time.perf_counter()
    if not (np.isfinite(centre_pulse) and centre_pulse >= 0):
        raise ValueError(f"centre pulse length must be >= 0 s, got {centre_pulse!r}")
    fast_ok = (
        isinstance(recoupling, str) and recoupling == "redor" and system.partners_independent()
        and centre_pulse == 0
    )
    if method == "fast" and not fast_ok:
        raise ValueError("the fast path needs ideal REDOR recoupling, an ideal centre pulse and partners coupled "
                         "only to S")
    if method not in ("auto", "fast", "general", "coupled"):
        raise ValueError(f"method must be 'auto', 'fast', 'general' or 'coupled', got {method!r}")
    if cycle_mode not in ("restart", "truncate", "continue"):
        raise ValueError(f"cycle_mode must be 'restart', 'truncate' or 'continue', got {cycle_mode!r}")
    homo = bool(system.homonuclear_pairs())
    if homo and method == "general":
        raise ValueError("partner-partner homonuclear couplings (flip-flop terms) run on method='coupled' only")
    if method == "coupled" or (homo and method == "auto"):
        if not (isinstance(recoupling, str) and recoupling == "redor" and centre_pulse == 0):
            raise ValueError("the coupled engine (partner-partner homonuclear couplings) needs ideal REDOR "
                             "recoupling and an ideal centre pulse")
        t, ns = _n_from_times(recoupling_times, 1.0 / mas_rate)
        s0, s1, info = _coupled_curve(system, mas_rate, ns, saturation, powder, max_dt, offsets, progress, chunk,
                                      redor_flip_fractions(placement))
    elif fast_ok and method != "general":
        t, ns = _n_from_times(recoupling_times, 1.0 / mas_rate)
        flips = redor_flip_fractions(placement)
        s0, s1, info = _fast_curve(system, mas_rate, ns, saturation, powder, max_dt, offsets, progress, chunk,
                                   flips)
    else:
        if isinstance(recoupling, str):
            cycle = redor_cycle(obs, mas_rate, 0.0, [0.0] * len(redor_flip_fractions(placement)), placement=placement)
        else:
            cycle = recoupling
        if isinstance(recoupling, str) and recoupling != "redor":
            raise ValueError(f"unknown recoupling {recoupling!r}: 'redor' or a Block")
        _check_cycle(cycle, mas_rate)
        t, ns = _n_from_times(recoupling_times, cycle.duration if cycle_mode == "restart" else 1.0 / mas_rate)
        kw = {"centre_pulse": centre_pulse, "cycle_mode": cycle_mode}
        s1, info = _general_signals(system, mas_rate, cycle, saturation, ns, powder, max_dt, offsets, progress, chunk,
                                    **kw)
        off = IdealSaturation("full", 0.0) if isinstance(saturation, IdealSaturation) else _without_rf(saturation)
        s0, _ = _general_signals(system, mas_rate, cycle, off, ns, powder, max_dt, offsets, progress, chunk, **kw)
    info.update(
        {
            "experiment": describe_experiment(system, mas_rate, saturation, recoupling, placement,
                                              "redor" if _is_inversion(saturation) else "respdor",
                                              centre_pulse=centre_pulse, cycle_mode=cycle_mode),
            "powder": powder.name,
            "n_orientations": powder.size,
            "n_gamma": powder.n_gamma,
            "max_dt_s": max_dt,
            "wall_s": time.perf_counter() - t0,
        }
    )
    return _result(t, s0, s1, info)


def _rf_average(dist, system, mas_rate, times, saturation, recoupling, *rest):
    from .sequences import scale_rf

    blocks = [b for b in (saturation, recoupling) if isinstance(b, Block)]
    with_rf = {ch for b in blocks for e in b.events for ch, (a, _) in e.rf.items() if a > 0}
    channels = tuple(dist.channels) if dist.channels else tuple(sorted(with_rf))
    missing = [ch for ch in channels if ch not in with_rf]
    if missing or not channels:
        raise ValueError(f"rf inhomogeneity on {', '.join(missing) or 'no channel'}: no finite rf there to scale "
                         "(ideal pulses are instantaneous)")
    s0 = s1 = 0.0
    t0 = time.perf_counter()
    for f, w in zip(dist.scales, dist.weights):
        sat = scale_rf(saturation, channels, f) if isinstance(saturation, Block) else saturation
        rec = scale_rf(recoupling, channels, f) if isinstance(recoupling, Block) else recoupling
        r = simulate_respdor(system, mas_rate, times, sat, rec, *rest)
        s0 = s0 + w * r.S0_complex
        s1 = s1 + w * r.S1_complex
    info = dict(r.info)
    info["experiment"] = list(r.info["experiment"][:-1]) + [
        RfInhomogeneity(dist.scales, dist.weights, channels).describe(), r.info["experiment"][-1]]
    info["wall_s"] = time.perf_counter() - t0
    return _result(r.t_s, s0, s1, info)


def _is_inversion(centre):
    return isinstance(centre, IdealSaturation) and isinstance(centre.kind, str) and centre.kind == "inversion"


def _check_cycle(cycle, mas_rate):
    ncyc = cycle.duration * mas_rate
    if abs(ncyc - round(ncyc)) > 1e-6 or round(ncyc) < 1:
        raise ValueError(f"a recoupling cycle must last a whole number of rotor periods, got {ncyc:g}")


def simulate_redor(
    system,
    mas_rate,
    recoupling_times,
    pulse_length=0.0,
    phases="xy8",
    channel="observed",
    partner_pulse=None,
    powder=None,
    max_dt=0.5e-6,
    offsets=None,
    method="auto",
    progress=False,
    chunk=32,
    placement=DEFAULT_PLACEMENT,
    rf_inhomogeneity=None,
    cycle_mode="restart",
):
    """Simulate a REDOR dephasing curve: S0, S1 and dS/S0.

    Parameters
    ----------
    system : SpinSystem
    mas_rate : float
        MAS rate in Hz.
    recoupling_times : array_like
        Total dephasing times t_rec = 2 n T_cycle in s.
    pulse_length : float
        pi-pulse length of the train in s (0: ideal delta pulses).
    phases : str
        ``"x"``, ``"xy4"``, ``"xy8"``, ``"xy16"``.
    channel : {"observed", "partner"}
        ``"observed"``: the train on S, the partner inverted at the centre in S1 (ideally, or by
        ``partner_pulse``, a Block such as ``cw_pulse(ch, nu1, t_pi)``), S0 without partner pulse.
        ``"partner"``: the train on the partner channel in S1 only, plus a partner pi pulse
        (ideal, or ``partner_pulse``) together with the S pi pulse at the centre, so that the partner pulses alternate every tau_R/2 throughout (classic
        Gullion-Schaefer REDOR); general path. S0 has no partner pulses.
    placement : str or sequence of float
        Where the train's pulses sit in each rotor period (default ``"mid-end"``), see
        :func:`spinsim.sequences.placement_positions`.
    rf_inhomogeneity : RfInhomogeneity, optional
        Average over a nu1 distribution (observed-channel train only).
    cycle_mode : {"restart", "truncate", "continue"}
        See :func:`simulate_respdor` (observed-channel train only).
    """
    _check_system(system)
    obs = system.spins[0].isotope.symbol
    if channel == "observed":
        centre = IdealSaturation("inversion") if partner_pulse is None else partner_pulse
        if pulse_length == 0.0 and method != "general":
            return simulate_respdor(system, mas_rate, recoupling_times, centre, "redor", powder, max_dt, offsets,
                                    method, progress, chunk, placement, rf_inhomogeneity)
        cycle = redor_cycle(obs, mas_rate, pulse_length, phases, placement=placement)
        return simulate_respdor(system, mas_rate, recoupling_times, centre, cycle, powder, max_dt, offsets,
                                "general", progress, chunk, placement, rf_inhomogeneity, cycle_mode=cycle_mode)
    if channel != "partner":
        raise ValueError(f"channel must be 'observed' or 'partner', got {channel!r}")
    if rf_inhomogeneity is not None or cycle_mode != "restart":
        raise ValueError("rf inhomogeneity and cycle_mode with the REDOR train on the partner channel are not supported")
    partner = system.spins[1].isotope.symbol
    cycle = redor_cycle(partner, mas_rate, pulse_length, phases, placement=placement)
    _check_cycle(cycle, mas_rate)
    powder = _default_powder(powder)
    t0 = time.perf_counter()
    t, ns = _n_from_times(recoupling_times, cycle.duration)
    nothing = IdealSaturation("full", 0.0)
    # a partner pi pulse at the centre, with the S pi pulse, keeps the partner toggling sign
    # alternating across the centre (Gullion-Schaefer: pulses every tau_R/2 throughout)
    # (ideal by default: a finite centre block would shift the second half's rotor phase by its
    # length, which a rotor-synchronised experiment does not do)
    centre = partner_pulse if partner_pulse is not None else Block([ideal_pulse(partner, 180.0, 0.0)])
    s1, info = _general_signals(system, mas_rate, cycle, centre, ns, powder, max_dt, offsets, progress, chunk)
    s0, _ = _general_signals(system, mas_rate, Block([Event(cycle.duration)]), nothing, ns, powder, max_dt,
                             offsets, progress, chunk)
    info.update({"powder": powder.name, "n_orientations": powder.size, "wall_s": time.perf_counter() - t0})
    info["experiment"] = [
        f"recoupling (S1 only): {cycle.label}, cycle {cycle.duration * 1e6:g} us, n cycles before and after the centre",
        f"centre: {_fmt_block(centre)} together with an ideal {obs} pi pulse (phase x)",
        f"S0: no {partner} pulses, the ideal {obs} pi pulse at the centre; S1: with the {partner} train",
        describe_experiment(system, mas_rate, nothing)[-1],
    ]
    return _result(t, s0, s1, info)


# --------------------------------------------------------------------------------------------
# what is run, in words (CSV / JSON header)
# --------------------------------------------------------------------------------------------


def _fmt_block(block):
    if isinstance(block, IdealSaturation):
        kind = block.kind if isinstance(block.kind, str) else "explicit matrix"
        return f"ideal instantaneous partner transfer '{kind}', efficiency {block.efficiency:g}"
    chans = sorted(block.channels())
    return f"{block.label or 'block'} on {', '.join(chans) or 'no channel'}, {block.duration * 1e6:g} us"


def describe_experiment(system, mas_rate, saturation, recoupling="redor", placement=DEFAULT_PLACEMENT,
                        kind="respdor", train_channel=None, centre_pulse=0.0, cycle_mode="restart"):
    """One line per element of the experiment that is simulated (pulse positions, phases, channels,
    centre, how S0 differs from S1, and the detected signal).

    Returns
    -------
    list of str
    """
    obs = system.spins[0].isotope.symbol
    tr_us = 1e6 / mas_rate
    lines = []
    if isinstance(recoupling, str):
        pos = redor_flip_fractions(placement)
        where = ", ".join(f"{p:g} tau_R" for p in pos)
        name = placement if isinstance(placement, str) else "explicit"
        lines.append(f"recoupling: ideal pi pulses on {train_channel or obs}, phase x, at {where} of every rotor "
                     f"period ({name}; tau_R = {tr_us:g} us); n periods before and n after the centre, "
                     f"t_rec = 2 n tau_R")
    elif cycle_mode == "restart":
        lines.append(f"recoupling: {recoupling.label}, cycle {recoupling.duration * 1e6:g} us, repeated n times "
                     f"before and n times after the centre, t_rec = 2 n cycle")
    else:
        how = "starts the cycle again" if cycle_mode == "truncate" else "continues the cycle where the first stopped"
        lines.append(f"recoupling: {recoupling.label}, cycle {recoupling.duration * 1e6:g} us, run for m rotor "
                     f"periods before the centre and m after (the second half {how}), t_rec = 2 m tau_R")
    pulse = (f"an ideal {obs} pi pulse (phase x)" if centre_pulse <= 0 else
             f"a {centre_pulse * 1e6:g} us {obs} pi pulse (phase x, {0.5e-3 / centre_pulse:g} kHz) centred")
    lines.append(f"centre: {_fmt_block(saturation)}; {pulse} at its middle")
    if kind == "redor":
        lines.append("S0: the same sequence without the partner pulse(s); S1: with them")
    else:
        lines.append("S0: the same sequence and timing with the saturation rf off; S1: with it")
    pairs = system.homonuclear_pairs()
    if pairs:
        lines.append(f"partner-partner couplings: {len(pairs)} homonuclear pair(s) with ZZ and flip-flop terms "
                     "(coupled engine: piecewise-constant steps, free evolution included)")
    lines.append(f"signal: complex {obs} coherence normalised to its interaction-free value; S0 = |S0|, S1 phased "
                 "like S0, dS/S0 = 1 - Re(S1/S0)")
    return lines
