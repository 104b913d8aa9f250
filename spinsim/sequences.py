"""Pulse sequences as data, builders for REDOR / RESPDOR / SR4 and saturation pulses, and the
first-order recoupling scaling computed from a sequence's actual waveform.

Plain numpy. Times in s, rf amplitudes nu1 in Hz, phases in degrees (as on a spectrometer),
offsets in Hz. A sequence is a list of :class:`Event` objects: an interval of constant rf on
each channel, or an instantaneous ideal pulse (``duration == 0`` and ``ideal`` set).

Recoupling blocks are built per *cycle* (one repetition of the phase cycle, a whole number of
rotor periods); a dephasing experiment repeats the cycle ``n`` times before and after the central
block (saturation, or the partner pi pulse of REDOR).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Event",
    "Block",
    "redor_cycle",
    "PLACEMENTS",
    "DEFAULT_PLACEMENT",
    "placement_positions",
    "redor_flip_fractions",
    "sr4_cycle",
    "cw_pulse",
    "wurst_pulse",
    "dfs_pulse",
    "pm_pulse",
    "hs_inversion",
    "adiabatic_sr4_cycle",
    "ideal_pulse",
    "XY_PHASES",
    "recoupling_scaling",
    "scale_rf",
    "gaussian_rf_profile",
    "redor_finite_pulse_kappa",
]

XY_PHASES = {
    "x": [0.0, 0.0],
    "xy4": [0.0, 90.0, 0.0, 90.0],
    "xy8": [0.0, 90.0, 0.0, 90.0, 90.0, 0.0, 90.0, 0.0],
    "xy16": [0.0, 90.0, 0.0, 90.0, 90.0, 0.0, 90.0, 0.0, 180.0, 270.0, 180.0, 270.0, 270.0, 180.0, 270.0, 180.0],
}


@dataclass(frozen=True)
class Event:
    """An interval of constant rf, or an ideal (instantaneous) pulse.

    Parameters
    ----------
    duration : float
        Length in s (0 for an ideal pulse).
    rf : dict
        Channel isotope -> (nu1 in Hz, phase in degrees), for channels with rf on.
    ideal : tuple or None
        ``(channel, flip angle in degrees, phase in degrees)`` for an instantaneous pulse.
    """

    duration: float
    rf: dict = field(default_factory=dict)
    ideal: tuple | None = None

    def __post_init__(self):
        if not np.isfinite(self.duration) or self.duration < 0:
            raise ValueError(f"event duration must be >= 0 s, got {self.duration!r}")
        for ch, (amp, ph) in self.rf.items():
            if not (np.isfinite(amp) and amp >= 0 and np.isfinite(ph)):
                raise ValueError(f"rf on {ch}: amplitude must be >= 0 Hz and phase finite, got ({amp!r}, {ph!r})")


@dataclass
class Block:
    """A named list of events.

    Attributes
    ----------
    events : list of Event
    label : str
    """

    events: list
    label: str = ""

    @property
    def duration(self) -> float:
        return float(sum(e.duration for e in self.events))

    def channels(self):
        out = set()
        for e in self.events:
            out.update(e.rf)
            if e.ideal:
                out.add(e.ideal[0])
        return out

    def has_rf_on(self, channel) -> bool:
        return any(e.rf.get(channel, (0, 0))[0] > 0 for e in self.events) or any(
            e.ideal and e.ideal[0] == channel for e in self.events
        )

    def __add__(self, other):
        return Block(self.events + other.events, self.label or other.label)


def ideal_pulse(channel, flip_deg=180.0, phase_deg=0.0) -> Event:
    """An instantaneous rotation on one channel."""
    return Event(0.0, {}, (channel, float(flip_deg), float(phase_deg)))


PLACEMENTS = {
    # name -> (pulse positions as fractions of tau_R, which point of a finite pulse sits there)
    "mid-end": ((0.5, 1.0), "end"),
    "centred": ((0.25, 0.75), "centre"),
}
DEFAULT_PLACEMENT = "mid-end"


def placement_positions(placement):
    """Pulse positions (fractions of tau_R in (0, 1]) and anchor (``"end"``/``"centre"``) of a placement.

    Parameters
    ----------
    placement : str or sequence of float
        ``"mid-end"`` (default): pulses at tau_R/2 and tau_R of every rotor period; a finite pulse
        *ends* there (a delay, then the pulse, as in the common Bruker REDOR programs).
        ``"centred"``: pulses centred at tau_R/4 and 3 tau_R/4. Or explicit fractions of tau_R
        (an even number per period, increasing, in (0, 1]) of the pulse centres.
    """
    if isinstance(placement, str):
        if placement not in PLACEMENTS:
            raise ValueError(f"unknown pulse placement {placement!r}: one of {sorted(PLACEMENTS)} or fractions of tau_R")
        return PLACEMENTS[placement]
    pos = tuple(float(x) for x in placement)
    if not pos or len(pos) % 2 or any(not (0 < x <= 1) for x in pos) or any(b <= a for a, b in zip(pos, pos[1:])):
        raise ValueError(
            f"pulse positions {list(pos)!r} must be an even number of increasing fractions of tau_R in (0, 1]"
        )
    return pos, "centre"


def redor_cycle(channel, mas_rate_hz, pulse_length_s=0.0, phases="xy8", nu1_hz=None,
                placement=DEFAULT_PLACEMENT) -> Block:
    """One phase cycle of a REDOR pi-pulse train: two (or any even number of) pi pulses per rotor period.

    Parameters
    ----------
    channel : str
        Isotope that receives the train.
    mas_rate_hz : float
        Spinning rate nu_R in Hz.
    pulse_length_s : float
        pi pulse length in s; 0 gives ideal delta pulses.
    phases : str or sequence of float
        ``"x"``, ``"xy4"``, ``"xy8"``, ``"xy16"`` or explicit phases in degrees; the cycle spans
        len(phases)/(pulses per period) rotor periods.
    nu1_hz : float, optional
        rf amplitude; defaults to 1/(2 t_p) (a pi pulse).
    placement : str or sequence of float
        Where the pulses sit in each rotor period, see :func:`placement_positions`
        (default ``"mid-end"``: at tau_R/2 and tau_R).
    """
    tr = 1.0 / _positive(mas_rate_hz, "MAS rate (Hz)")
    if isinstance(phases, str) and phases not in XY_PHASES:
        raise ValueError(f"unknown phase cycle {phases!r}: one of {sorted(XY_PHASES)}")
    ph = list(XY_PHASES[phases]) if isinstance(phases, str) else [float(p) for p in phases]
    pos, anchor = placement_positions(placement)
    if len(ph) % len(pos):
        raise ValueError(f"{len(ph)} phases do not fill whole rotor periods of {len(pos)} pulses")
    tp = float(pulse_length_s)
    if tp < 0 or tp >= tr / len(pos):
        raise ValueError(f"pi pulse length {tp!r} s must be >= 0 and shorter than the pulse spacing")
    # start time of each pulse within its period
    starts = [x * tr - (tp if anchor == "end" else tp / 2) for x in pos]
    if starts[0] < -1e-15 or starts[-1] + tp > tr + 1e-15:
        raise ValueError(f"a {tp * 1e6:g} us pulse at these positions does not fit in the rotor period")
    amp = 1.0 / (2 * tp) if (nu1_hz is None and tp > 0) else (0.0 if nu1_hz is None else float(nu1_hz))
    events = []
    for k, p in enumerate(ph):
        j = k % len(pos)
        t_prev = 0.0 if j == 0 else starts[j - 1] + tp
        events.append(Event(max(starts[j] - t_prev, 0.0)))
        events.append(ideal_pulse(channel, 180.0, p) if tp == 0.0 else Event(tp, {channel: (amp, p)}))
        if j == len(pos) - 1:
            events.append(Event(max(tr - starts[j] - tp, 0.0)))
    name = placement if isinstance(placement, str) else "at " + "/".join(f"{x:g}" for x in pos) + " tau_R"
    return Block(_merge(events), f"REDOR {phases if isinstance(phases, str) else 'custom'} on {channel}, {name}")


def redor_flip_fractions(placement=DEFAULT_PLACEMENT):
    """Times (fractions of tau_R) at which ideal pi pulses flip S in every rotor period."""
    return placement_positions(placement)[0]


def sr4_cycle(channel, mas_rate_hz, supercycle="SR4", nu1_hz=None) -> Block:
    """Symmetry-based R4_1^2 recoupling on one channel.

    The element R is a pi pulse of length tau_R/4 (nu1 = 2 nu_R); R4_1^2 is
    R(90) R(-90) R(90) R(-90) over one rotor period (phase pi nu/N = 90 deg).

    Parameters
    ----------
    supercycle : {"R4", "R4R4bar", "SR4"}
        ``"R4"``: one R4_1^2 (1 rotor period); ``"R4R4bar"``: R4_1^2 R4_1^-2 (2 periods);
        ``"SR4"``: [R4_1^2 R4_1^-2] repeated with overall phase shifts 0, 120, 240 deg
        (6 rotor periods), the supercycle of Brinkmann & Levitt (J. Chem. Phys. 115, 357, 2001)
        used by S-RESPDOR (Chen et al., JMR 206, 269, 2010; Lu et al., JMR 215, 34, 2012).
        [verify the exact supercycle against the paper before quoting it]
    nu1_hz : float, optional
        Defaults to 2 nu_R; another value gives a mis-set (non-pi) element.
    """
    tr = 1.0 / _positive(mas_rate_hz, "MAS rate (Hz)")
    amp = 2.0 / tr if nu1_hz is None else float(nu1_hz)
    r = [90.0, -90.0, 90.0, -90.0]
    rbar = [-90.0, 90.0, -90.0, 90.0]
    if supercycle == "R4":
        phases = r
    elif supercycle == "R4R4bar":
        phases = r + rbar
    elif supercycle == "SR4":
        phases = [p + shift for shift in (0.0, 120.0, 240.0) for p in r + rbar]
    else:
        raise ValueError(f"unknown SR4 supercycle {supercycle!r}: use 'R4', 'R4R4bar' or 'SR4'")
    events = [Event(tr / 4, {channel: (amp, p)}) for p in phases]
    return Block(events, f"{supercycle} on {channel}")


def hs_inversion(channel, nu1_max_hz, duration_s, sweep_hz, beta=5.3, step_s=0.25e-6, phase_deg=0.0):
    """Hyperbolic-secant adiabatic inversion pulse (Silver, Joseph & Hoult 1984), piecewise constant.

    nu1(t) = nu1_max sech(beta x), offset(t) = (sweep/2) tanh(beta x), x = 2t/T - 1 in [-1, 1],
    written as a phase modulation (the integral of the offset) on top of ``phase_deg``.

    Returns
    -------
    list of Event
    """
    t = _positive(duration_s, "adiabatic pulse length (s)")
    n = max(1, int(np.ceil(t / step_s - 1e-9)))
    dt = t / n
    x = 2 * (np.arange(n) + 0.5) * dt / t - 1
    amp = nu1_max_hz / np.cosh(beta * x)
    # phase = 2 pi int offset dt = 2 pi (sweep/2) (T / 2 beta) ln cosh(beta x), zero at the centre
    phase = np.degrees(2 * np.pi * 0.5 * sweep_hz * t / (2 * beta) * np.log(np.cosh(beta * x)))
    return [Event(dt, {channel: (float(a), float((p + phase_deg) % 360.0))}) for a, p in zip(amp, phase)]


def adiabatic_sr4_cycle(channel, mas_rate_hz, supercycle="R4R4bar", nu1_max_hz=None, sweep_hz=None,
                        beta=5.3, step_s=0.25e-6) -> Block:
    """R4_1^2-type recoupling whose elements are hyperbolic-secant adiabatic inversions.

    Each element of :func:`sr4_cycle` (a pi pulse of tau_R/4 with phase +-90 deg, shifted by the
    supercycle) is replaced by an HS inversion of the same length and overall phase. This is the
    construction of adiabatic SR4 used for broadband S-RESPDOR; the pulse parameters of a given
    paper must be taken from its SI (nu1_max, sweep, beta) **[verify before quoting]**.

    Parameters
    ----------
    nu1_max_hz : float, optional
        Peak rf (default 8 nu_R: a tau_R/4 HS element then inverts 99.7 % on resonance and 94 %
        at 1 nu_R offset; at 4 nu_R it does not invert at all).
    sweep_hz : float, optional
        Total sweep width (default 8 nu_R).
    """
    tr = 1.0 / _positive(mas_rate_hz, "MAS rate (Hz)")
    rect = sr4_cycle(channel, mas_rate_hz, supercycle)
    nu1 = 8.0 / tr if nu1_max_hz is None else float(nu1_max_hz)
    sweep = 8.0 / tr if sweep_hz is None else float(sweep_hz)
    events = []
    for e in rect.events:
        events += hs_inversion(channel, nu1, e.duration, sweep, beta, step_s, e.rf[channel][1])
    return Block(events, f"adiabatic (HS) {supercycle} on {channel}, {nu1:g} Hz peak, {sweep:g} Hz sweep")


def pm_pulse(channel, nu1_hz, duration_s, offset_hz, modulation_hz, step_s=0.25e-6) -> Block:
    """Constant-amplitude phase-modulated saturation pulse: the carrier jumps between +offset and
    -offset every half period of ``modulation_hz``, written as a continuous phase.

    Its spectrum has its main components at +-offset (like an amplitude-modulated DFS pulse at a
    fixed offset, but with constant amplitude). It is a parametrised stand-in for the PM
    saturation pulses of Makrinich, Nimerovsky & Goldbourt (SSNMR 92, 2018); take the exact
    modulation from the paper **[verify before quoting]**.
    """
    t = _positive(duration_s, "PM pulse length (s)")
    n = int(np.ceil(t / step_s - 1e-9))
    dt = t / n
    sign = np.where(np.floor(2 * modulation_hz * np.arange(n + 1) * dt) % 2 == 0, 1.0, -1.0)
    phase = 360.0 * offset_hz * np.concatenate([[0.0], np.cumsum(sign[:-1] * dt)])
    phase_mid = phase[:-1] + 180.0 * offset_hz * sign[:-1] * dt
    events = [Event(dt, {channel: (float(nu1_hz), float(p % 360.0))}) for p in phase_mid]
    return Block(events, f"PM {nu1_hz:g} Hz, +-{offset_hz:g} Hz every {0.5e6 / modulation_hz:g} us")


def cw_pulse(channel, nu1_hz, duration_s, phase_deg=0.0) -> Block:
    """Continuous-wave pulse of constant amplitude nu1 (Hz) for ``duration_s`` (s)."""
    _positive(duration_s, "saturation pulse length (s)")
    if not (np.isfinite(nu1_hz) and nu1_hz >= 0):
        raise ValueError(f"saturation rf amplitude must be >= 0 Hz, got {nu1_hz!r}")
    return Block([Event(float(duration_s), {channel: (float(nu1_hz), float(phase_deg))})], f"CW {nu1_hz:g} Hz")


def wurst_pulse(channel, nu1_max_hz, duration_s, sweep_hz, n_wurst=20, n_steps=None, step_s=None) -> Block:
    """WURST-N adiabatic frequency sweep (Kupce & Freeman, JMR A 115, 273, 1995), piecewise constant.

    Amplitude nu1(t) = nu1_max (1 - |cos(pi t / T)|^N); offset swept linearly from -sweep/2 to
    +sweep/2 about the carrier, written as a phase modulation phi(t) = 2 pi int offset dt.

    Parameters
    ----------
    channel : str
    nu1_max_hz : float
        Peak rf amplitude (Hz).
    duration_s : float
        Pulse length T (s).
    sweep_hz : float
        Total sweep width (Hz), e.g. 2-3 times nu_Q to cover the satellite transitions.
    n_wurst : int
        Shape exponent N.
    n_steps, step_s : int or float, optional
        Resolution of the piecewise-constant shape (default: 0.25 us steps).
    """
    t = _positive(duration_s, "WURST length (s)")
    if n_steps is None:
        n_steps = int(np.ceil(t / (step_s or 0.25e-6)))
    dt = t / n_steps
    tc = (np.arange(n_steps) + 0.5) * dt
    amp = nu1_max_hz * (1 - np.abs(np.cos(np.pi * tc / t)) ** n_wurst)
    # phase at the step centre of a linear sweep; steps are short enough that this is the shape
    phase = 2 * np.pi * (-0.5 * sweep_hz * tc + 0.5 * sweep_hz * tc**2 / t)
    events = [Event(dt, {channel: (float(a), float(np.degrees(p) % 360.0))}) for a, p in zip(amp, phase)]
    return Block(events, f"WURST-{n_wurst} {nu1_max_hz:g} Hz, sweep {sweep_hz:g} Hz")


def dfs_pulse(channel, nu1_hz, duration_s, start_hz, end_hz, step_s=0.25e-6) -> Block:
    """Double frequency sweep (Kentgens & Verhagen, Chem. Phys. Lett. 300, 435, 1999), piecewise constant.

    An amplitude-modulated pulse 2 nu1 cos(phi(t)), i.e. two sidebands of amplitude nu1 each at
    +-nu_m(t), with nu_m swept linearly from ``start_hz`` to ``end_hz`` (typically from well
    outside the satellite transitions towards the central transition); the sign of the
    modulation is written as a phase of 0 or 180 deg.

    Parameters
    ----------
    channel : str
    nu1_hz : float
        Amplitude of each sideband (Hz).
    duration_s : float
        Length (s).
    start_hz, end_hz : float
        Sideband offset at the start and end of the sweep (Hz).
    step_s : float
        Step of the piecewise-constant shape (s).
    """
    t = _positive(duration_s, "DFS length (s)")
    n_steps = int(np.ceil(t / step_s))
    dt = t / n_steps
    tc = (np.arange(n_steps) + 0.5) * dt
    phase = 2 * np.pi * (start_hz * tc + 0.5 * (end_hz - start_hz) * tc**2 / t)
    amp = 2 * nu1_hz * np.cos(phase)
    events = [Event(dt, {channel: (float(abs(a)), 0.0 if a >= 0 else 180.0)}) for a in amp]
    return Block(events, f"DFS {nu1_hz:g} Hz, {start_hz:g} -> {end_hz:g} Hz")


def scale_rf(block: Block, channels, factor: float) -> Block:
    """The block with the rf amplitude on ``channels`` multiplied by ``factor`` (ideal pulses unchanged)."""
    f = float(factor)
    if not (np.isfinite(f) and f >= 0):
        raise ValueError(f"rf scale factor must be >= 0, got {factor!r}")
    events = [
        Event(e.duration, {ch: ((a * f if ch in channels else a), p) for ch, (a, p) in e.rf.items()}, e.ideal)
        for e in block.events
    ]
    return Block(events, block.label + (f" x{f:g} rf" if f != 1 else ""))


def gaussian_rf_profile(fwhm_rel, n=7):
    """Scale factors and weights of a Gaussian nu1 distribution about 1 (FWHM relative, e.g. 0.1).

    The n points lie on +- 2 sigma (Gauss-Hermite would be more accurate for smooth curves, but
    a plain grid keeps each point a physical nu1); weights are normalised to 1.
    """
    sig = float(fwhm_rel) / (2 * np.sqrt(2 * np.log(2)))
    if not (np.isfinite(sig) and 0 <= sig < 0.5) or int(n) < 1:
        raise ValueError(f"rf profile FWHM must lie in [0, 1.18) (relative) and n >= 1, got {fwhm_rel!r}, {n!r}")
    if sig == 0 or int(n) == 1:
        return np.ones(1), np.ones(1)
    x = np.linspace(-2 * sig, 2 * sig, int(n))
    w = np.exp(-0.5 * (x / sig) ** 2)
    return 1 + x, w / w.sum()


def _positive(x, what):
    x = float(x)
    if not (np.isfinite(x) and x > 0):
        raise ValueError(f"{what} must be > 0, got {x!r}")
    return x


def _merge(events):
    """Join consecutive rf-free delays (keeps ideal pulses and rf events as they are)."""
    out = []
    for e in events:
        if e.ideal is None and not e.rf and out and out[-1].ideal is None and not out[-1].rf:
            out[-1] = Event(out[-1].duration + e.duration)
        elif e.duration > 0 or e.ideal is not None:
            out.append(e)
    return out


# --- first-order average Hamiltonian: recoupling scaling from the waveform -----------------


def _toggling_sz(block: Block, channel, n_sub=400):
    """Toggling-frame S_z(t) = U_rf^dag S_z U_rf on a fine time grid for a spin 1/2 on ``channel``.

    Returns midpoints t (s), durations dt (s) and the Bloch components (n, 3) of S_z(t)
    (x, y, z coefficients of 2 S_z(t) in the Pauli basis).
    """
    rot = np.eye(3)  # maps the lab-frame z Bloch vector into the toggling frame
    ts, dts, vecs = [], [], []
    t = 0.0
    for e in block.events:
        if e.ideal is not None:
            ch, flip, ph = e.ideal
            if ch == channel:
                rot = _rot_axis(np.radians(ph), np.radians(flip)) @ rot
            continue
        amp, ph = e.rf.get(channel, (0.0, 0.0))
        n = max(1, int(np.ceil(n_sub * e.duration * 1e4)))
        dt = e.duration / n
        step = _rot_axis(np.radians(ph), 2 * np.pi * amp * dt) if amp > 0 else np.eye(3)
        half = _rot_axis(np.radians(ph), np.pi * amp * dt) if amp > 0 else np.eye(3)
        for k in range(n):
            ts.append(t + (k + 0.5) * dt)
            dts.append(dt)
            # S_z(t) in the toggling frame: the rf rotation so far applied inversely to z
            vecs.append((half @ rot).T @ np.array([0.0, 0.0, 1.0]))
            rot = step @ rot
        t += e.duration
    return np.array(ts), np.array(dts), np.array(vecs)


def _rot_axis(phase, angle):
    """3x3 rotation by ``angle`` about the in-plane axis at ``phase`` (Bloch vectors)."""
    n = np.array([np.cos(phase), np.sin(phase), 0.0])
    k = np.array([[0, -n[2], n[1]], [n[2], 0, -n[0]], [-n[1], n[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def recoupling_scaling(block: Block, channel, mas_rate_hz, n_beta=91, n_gamma=72, component="all"):
    """First-order recoupled heteronuclear dipolar coupling of a recoupling cycle, from its waveform.

    The average Hamiltonian of the secular coupling omega_D(t) 2 S_z I_z over one cycle, with
    S_z in the toggling frame of the rf on ``channel``, is 2 I_z (c . S); this returns
    max |c| / b over crystallite orientations (b = 2 pi D), and the same relative to ideal REDOR
    (sqrt(2)/pi = 0.4502).

    Parameters
    ----------
    block : Block
        One cycle (a whole number of rotor periods).
    channel : str
        The channel of the observed spin S that the rf acts on.
    mas_rate_hz : float
    component : {"all", "z"}
        ``"z"`` keeps only the toggling-frame S_z component (the finite-pulse REDOR convention).

    Returns
    -------
    dict
        ``{"kappa_abs": max|c|/b, "kappa_rel": kappa_abs / (sqrt(2)/pi)}``.
    """
    tr = 1.0 / mas_rate_hz
    ncyc = block.duration / tr
    if abs(ncyc - round(ncyc)) > 1e-9 or round(ncyc) < 1:
        raise ValueError(f"a recoupling cycle must last a whole number of rotor periods, got {ncyc:g}")
    t, dt, v = _toggling_sz(block, channel)
    if component == "z":
        v = v * np.array([0.0, 0.0, 1.0])
    # omega_D(t)/b for an axial coupling: -(1/2)(3 cos^2 theta(t) - 1) with the bond at (beta, gamma)
    beta = np.linspace(0, np.pi / 2, n_beta)
    gam = np.linspace(0, 2 * np.pi, n_gamma, endpoint=False)
    b, g = np.meshgrid(beta, gam, indexing="ij")
    th = np.arccos(1 / np.sqrt(3))
    wt = 2 * np.pi * mas_rate_hz * t
    # cos theta(t) between B0 and the bond: b0(t) . u
    ux, uy, uz = np.sin(b) * np.cos(g), np.sin(b) * np.sin(g), np.cos(b)
    cos_t = (
        np.sin(th) * np.cos(wt)[None, None, :] * ux[..., None]
        - np.sin(th) * np.sin(wt)[None, None, :] * uy[..., None]
        + np.cos(th) * uz[..., None]
    )
    wd = -0.5 * (3 * cos_t**2 - 1)
    c = np.einsum("abt,t,tk->abk", wd, dt, v) / block.duration
    # c multiplies 2 I_z S_k (the S_z coefficient of omega_D 2 S_z I_z is omega_D); in a REDOR
    # train S_z flips sign, so |c| is the recoupled coupling in units of b
    mag = np.sqrt(np.sum(c**2, -1))
    kabs = float(mag.max())
    return {"kappa_abs": kabs, "kappa_rel": kabs / (np.sqrt(2) / np.pi)}


def redor_finite_pulse_kappa(phi):
    """Published finite-pulse REDOR scaling cos(pi phi/2)/(1 - phi^2), phi = 2 t_p / tau_R
    (Jaroniec et al., JMR 146, 132, 2000)."""
    phi = np.asarray(phi, float)
    return np.cos(np.pi * phi / 2) / (1 - phi**2)
