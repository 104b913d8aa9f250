"""What a dephasing simulation runs, independent of the engine that runs it.

The ideal (instantaneous) partner-state transfers and their matrices, the rf-inhomogeneity
distribution, the checks of the inputs every engine shares, and the experiment in words (the
header of a simulated curve). Re-exported by :mod:`spinsim.simulate`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .powder import Powder, make_powder
from .sequences import DEFAULT_PLACEMENT, Block, Event, redor_flip_fractions
from .system import SpinSystem


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


def is_inversion(centre):
    return isinstance(centre, IdealSaturation) and isinstance(centre.kind, str) and centre.kind == "inversion"


def is_ideal(saturation):
    """Whether a saturation is ideal (instantaneous): None (no block) or an :class:`IdealSaturation`."""
    return saturation is None or isinstance(saturation, IdealSaturation)


def check_cycle(cycle, mas_rate):
    ncyc = cycle.duration * mas_rate
    if abs(ncyc - round(ncyc)) > 1e-6 or round(ncyc) < 1:
        raise ValueError(f"a recoupling cycle must last a whole number of rotor periods, got {ncyc:g}")


def check_system(system):
    if not isinstance(system, SpinSystem):
        raise ValueError(f"system must be a SpinSystem, got {type(system).__name__}")
    if system.n_spins < 2:
        raise ValueError("a dephasing experiment needs at least one partner spin")


def without_rf(block):
    return Block([Event(e.duration) for e in block.events if e.duration > 0], block.label + " (rf off)")


def n_from_times(times, cycle_s):
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


def default_powder(powder):
    if powder is None:
        return make_powder("zcw", 987, 32)
    if isinstance(powder, Powder):
        return powder
    if isinstance(powder, dict):
        return make_powder(powder.get("scheme", "zcw"), powder.get("n", 987), powder.get("n_gamma", 32))
    raise ValueError(f"powder must be a Powder or dict, got {type(powder).__name__}")


def offset_of(offsets, symbol):
    return float((offsets or {}).get(symbol, 0.0))


def fmt_block(block):
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
    lines.append(f"centre: {fmt_block(saturation)}; {pulse} at its middle")
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
