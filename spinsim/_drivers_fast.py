"""Fast engine: ideal REDOR pi pulses on S, partners coupled to S only (see :mod:`spinsim.simulate`).

Free evolution is diagonal and integrated exactly from Fourier coefficients; the central block's
propagator is computed once per crystallite and serves every recoupling time; partners factorise.
"""

from __future__ import annotations

import numpy as np

from . import _kernels as K
from ._crystallites import crystallite_chunks
from ._experiment import IdealSaturation, offset_of
from ._results import powder_sums
from .hamiltonian import N_HARM, interaction_components, spin_operators
from .sequences import Block


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


def fast_curve(system, mas_rate, ns, centre, powder, max_dt, offsets, progress, chunk, flips=(0.5, 1.0)):
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
    with crystallite_chunks(powder.n_ab, chunk, ng, progress) as chunks:
        for a, b in chunks:
            comps = interaction_components(system, powder.euler_ab()[a:b])
            fs = comps.single[0][:, :, 0] - comps.single[0][:, :, 1]  # omega_S coefficient of S_z
            fs = fs.copy()
            fs[:, N_HARM] -= np.sign(comps.omega0[0]) * 2 * np.pi * offset_of(offsets, obs.isotope.symbol)
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
                    np.sign(comps.omega0[j]) * 2 * np.pi * offset_of(offsets, sp.isotope.symbol) * m
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
    s0, s1, partials = powder_sums(powder.weights, c0_all, c1_all)
    info = {"engine": "fast", "block_dt_s": None if ideal else dt, "block_steps": None if ideal else L,
            "partials": partials}
    if not ideal:
        info["shared_gamma_steps"] = bool(shared)
    return s0, s1, info
