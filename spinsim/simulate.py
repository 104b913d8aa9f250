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
  non-diagonal, so free evolution too is propagated in steps (at most ``max_dt``); ideal REDOR
  pulses on S, S handled through its state (partner space of dimension prod(2I+1)), steps under
  rf as products of one- and two-spin factors (``spinsim._coupled_split``), the rotor period of
  steps shared by all gamma angles (``spinsim._coupled``).
  With no flip-flop terms it reproduces the fast path (tested); it is used only when they exist.

Experiment (both paths): ``n`` recoupling cycles, the central block with an ideal S pi pulse at its
centre, ``n`` cycles again; the recoupling time is t_rec = 2 n T_cycle. RESPDOR: S1 with the
saturation rf, S0 without it. REDOR (:func:`simulate_redor`): S1 with the partner inversion, S0
without.
"""


from __future__ import annotations

import time

import numpy as np

from . import _nested
from ._drivers_coupled import coupled_curve
from ._drivers_fast import fast_curve
from ._drivers_general import general_signals
from ._experiment import (
    IdealSaturation,
    RfInhomogeneity,
    check_cycle,
    check_system,
    default_powder,
    describe_experiment,
    fmt_block,
    is_inversion,
    n_from_times,
    transfer_matrix,
    without_rf,
)
from ._results import PowderPartials, SimulationResult, _result
from .compilation import compilation_notice
from .sequences import DEFAULT_PLACEMENT, Block, Event, ideal_pulse, redor_cycle, redor_flip_fractions

# engine internals that tests and other spinsim modules reach through this module
from ._drivers_coupled import _blocks  # noqa: E402,F401
from ._drivers_general import _periods, _Slicer, _split  # noqa: E402,F401

#: Step propagators of the central block: the step's average Hamiltonian held constant, or the
#: fourth-order Magnus step (see :func:`simulate_respdor`).
INTEGRATORS = ("piecewise", "magnus4")

__all__ = [
    "RfInhomogeneity",
    "IdealSaturation",
    "SimulationResult",
    "PowderPartials",
    "simulate_respdor",
    "simulate_redor",
    "transfer_matrix",
    "describe_experiment",
]

# aliases kept for code that imported the private names of the single-module engine
_general_signals = general_signals

# the public names live here for their users (documentation, pickles, references)
for _public in (IdealSaturation, RfInhomogeneity, transfer_matrix, SimulationResult, PowderPartials,
                describe_experiment):
    _public.__module__ = __name__
del _public


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
    integrator="piecewise",
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
        Longest step with rf on, s (free evolution: exact, but stepped on the coupled engine).
    offsets : dict, optional
        Channel isotope -> rf carrier offset (Hz, in the sense of a shift).
    method : {"auto", "fast", "general", "coupled"}
        ``"auto"``: ``"coupled"`` when two partners of one isotope are coupled (flip-flop terms),
        else ``"fast"`` where it applies, else ``"general"``. ``"coupled"``: steps in the partner
        space, free evolution included (ideal REDOR pulses, ideal centre pulse, ideal or
        constant-rf saturation; see ``spinsim._coupled``).
    progress : bool, None, callable or spinsim.progress.Progress
        Progress over the crystallites (:func:`spinsim.progress.as_progress`): ``False`` (default)
        nothing, ``True`` a bar on standard error, ``None`` a bar when a terminal or notebook
        watches, a callable ``progress(done, total, label)``, or a ``Progress``.
    chunk : int
        Work per kernel call (Ctrl-C is honoured between calls): (alpha, beta) orientations, with all
        their gamma angles, on the fast engine and the general engine's gamma-shared path;
        crystallites where the general engine steps each crystallite on its own.
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
    integrator : {"piecewise", "magnus4"}
        A step of rf: its exact average Hamiltonian held constant (default, as SIMPSON; error
        O(dt^2)), or the fourth-order Magnus step from the average and first moment (fast and
        coupled engines; O(dt^4) at about the same cost per step).

    Returns
    -------
    SimulationResult
    """
    if rf_inhomogeneity is not None:
        return _rf_average(rf_inhomogeneity, system, mas_rate, recoupling_times, saturation, recoupling, powder,
                           max_dt, offsets, method, progress, chunk, placement, None, centre_pulse, cycle_mode, integrator)
    mas_rate, saturation, powder, engine = _checked_inputs(system, mas_rate, saturation, recoupling, powder, max_dt,
                                                           method, centre_pulse, cycle_mode, integrator)
    key = _nested.key_of(system, mas_rate, np.asarray(recoupling_times, float), saturation, recoupling, max_dt,
                         offsets, engine, placement, centre_pulse, cycle_mode, integrator)
    known = _nested.served(key, powder)
    if known is not None:  # a nested subset of a remembered run, asked for by the convergence check
        return known
    t0 = time.perf_counter()
    t, s0, s1, info, partials = _run_engine(engine, system, mas_rate, recoupling_times, saturation, recoupling,
                                            powder, max_dt, offsets, progress, chunk, placement, centre_pulse,
                                            cycle_mode, integrator)
    kind = "redor" if is_inversion(saturation) else "respdor"
    info.update(experiment=describe_experiment(system, mas_rate, saturation, recoupling, placement, kind,
                                               centre_pulse=centre_pulse, cycle_mode=cycle_mode),
                powder=powder.name, n_orientations=powder.size, n_gamma=powder.n_gamma, max_dt_s=max_dt,
                integrator=integrator, wall_s=time.perf_counter() - t0)
    result = _result(t, s0, s1, info, partials)
    _nested.remember(key, powder, result)
    return result


def _checked_inputs(system, mas_rate, saturation, recoupling, powder, max_dt, method, centre_pulse, cycle_mode,
                    integrator="piecewise"):
    """The inputs of :func:`simulate_respdor` checked and completed: (mas_rate, saturation, powder,
    engine), engine one of ``"fast"``, ``"general"``, ``"coupled"``."""
    mas_rate, saturation, powder, engine = _checked_run(system, mas_rate, saturation, recoupling, powder, max_dt,
                                                        method, centre_pulse, cycle_mode)
    if integrator not in INTEGRATORS:
        raise ValueError(f"integrator must be one of {', '.join(map(repr, INTEGRATORS))}, got {integrator!r}")
    if integrator != "piecewise" and engine == "general":
        raise ValueError(f"integrator {integrator!r} runs on the fast and coupled engines only (ideal REDOR pulses); "
                         "this experiment needs the general engine: use 'piecewise'")
    return mas_rate, saturation, powder, engine


def _checked_run(system, mas_rate, saturation, recoupling, powder, max_dt, method, centre_pulse, cycle_mode):
    """:func:`_checked_inputs` but the integrator."""
    check_system(system)
    mas_rate = float(mas_rate)
    if not (np.isfinite(mas_rate) and mas_rate > 0):
        raise ValueError(f"MAS rate must be > 0 Hz, got {mas_rate!r}")
    if not (np.isfinite(max_dt) and max_dt > 0):
        raise ValueError(f"max_dt must be > 0 s, got {max_dt!r}")
    if saturation is None:
        saturation = IdealSaturation("full")
    if not isinstance(saturation, (Block, IdealSaturation)):
        raise ValueError(f"saturation must be a Block or IdealSaturation, got {type(saturation).__name__}")
    powder = default_powder(powder)
    obs = system.spins[0].isotope.symbol
    if isinstance(saturation, Block) and saturation.has_rf_on(obs):
        raise ValueError("the saturation block must not put rf on the observed channel")
    if not (np.isfinite(centre_pulse) and centre_pulse >= 0):
        raise ValueError(f"centre pulse length must be >= 0 s, got {centre_pulse!r}")
    ideal_redor = isinstance(recoupling, str) and recoupling == "redor" and centre_pulse == 0
    fast_ok = ideal_redor and system.partners_independent()
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
        if not ideal_redor:
            raise ValueError("the coupled engine (partner-partner homonuclear couplings) needs ideal REDOR "
                             "recoupling and an ideal centre pulse")
        return mas_rate, saturation, powder, "coupled"
    return mas_rate, saturation, powder, "fast" if fast_ok and method != "general" else "general"


def _run_engine(engine, system, mas_rate, times, saturation, recoupling, powder, max_dt, offsets, progress, chunk,
                placement, centre_pulse, cycle_mode, integrator="piecewise"):
    """(t, S0, S1, info, partials) of one engine: complex powder-averaged signals on the recoupling
    times and their :class:`PowderPartials`. A run that compiles kernels says so first
    (:func:`spinsim.compilation.compilation_notice`)."""
    with compilation_notice(progress, engine):
        if engine in ("coupled", "fast"):
            t, ns = n_from_times(times, 1.0 / mas_rate)
            flips = redor_flip_fractions(placement)
            if engine == "coupled":
                s0, s1, info = coupled_curve(system, mas_rate, ns, saturation, powder, max_dt, offsets, progress, flips,
                                             integrator=integrator)
            else:
                s0, s1, info = fast_curve(system, mas_rate, ns, saturation, powder, max_dt, offsets, progress, chunk,
                                          flips, integrator)
            return t, s0, s1, info, info.pop("partials")
        obs = system.spins[0].isotope.symbol
        if isinstance(recoupling, str):
            if recoupling != "redor":
                raise ValueError(f"unknown recoupling {recoupling!r}: 'redor' or a Block")
            cycle = redor_cycle(obs, mas_rate, 0.0, [0.0] * len(redor_flip_fractions(placement)), placement=placement)
        else:
            cycle = recoupling
        check_cycle(cycle, mas_rate)
        t, ns = n_from_times(times, cycle.duration if cycle_mode == "restart" else 1.0 / mas_rate)
        kw = {"centre_pulse": centre_pulse, "cycle_mode": cycle_mode}
        s1, info = general_signals(system, mas_rate, cycle, saturation, ns, powder, max_dt, offsets, progress, chunk,
                                   **kw)
        off = IdealSaturation("full", 0.0) if isinstance(saturation, IdealSaturation) else without_rf(saturation)
        s0, info0 = general_signals(system, mas_rate, cycle, off, ns, powder, max_dt, offsets, progress, chunk, **kw)
        return t, s0, s1, info, _general_partials(info0, info)


def _general_partials(info0, info1):
    """The :class:`PowderPartials` of the general engine's S0 and S1 runs (taken out of their info)."""
    info0.pop("class_weight")
    return PowderPartials(info0.pop("partial"), info1.pop("partial"), info1.pop("class_weight"))


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
    partials = None
    t0 = time.perf_counter()
    for f, w in zip(dist.scales, dist.weights):
        sat = scale_rf(saturation, channels, f) if isinstance(saturation, Block) else saturation
        rec = scale_rf(recoupling, channels, f) if isinstance(recoupling, Block) else recoupling
        r = simulate_respdor(system, mas_rate, times, sat, rec, *rest)
        s0 = s0 + w * r.S0_complex
        s1 = s1 + w * r.S1_complex
        part = r.partials.scaled(w)
        partials = part if partials is None else partials + part
    info = dict(r.info)
    info["experiment"] = list(r.info["experiment"][:-1]) + [
        RfInhomogeneity(dist.scales, dist.weights, channels).describe(), r.info["experiment"][-1]]
    info["wall_s"] = time.perf_counter() - t0
    return _result(r.t_s, s0, s1, info, partials)


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
    check_system(system)
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
    check_cycle(cycle, mas_rate)
    powder = default_powder(powder)
    t0 = time.perf_counter()
    t, ns = n_from_times(recoupling_times, cycle.duration)
    nothing = IdealSaturation("full", 0.0)
    # a partner pi pulse at the centre, with the S pi pulse, keeps the partner toggling sign
    # alternating across the centre (Gullion-Schaefer: pulses every tau_R/2 throughout)
    # (ideal by default: a finite centre block would shift the second half's rotor phase by its
    # length, which a rotor-synchronised experiment does not do)
    centre = partner_pulse if partner_pulse is not None else Block([ideal_pulse(partner, 180.0, 0.0)])
    s1, info = general_signals(system, mas_rate, cycle, centre, ns, powder, max_dt, offsets, progress, chunk)
    s0, info0 = general_signals(system, mas_rate, Block([Event(cycle.duration)]), nothing, ns, powder, max_dt,
                             offsets, progress, chunk)
    info.update({"powder": powder.name, "n_orientations": powder.size, "wall_s": time.perf_counter() - t0})
    info["experiment"] = [
        f"recoupling (S1 only): {cycle.label}, cycle {cycle.duration * 1e6:g} us, n cycles before and after the centre",
        f"centre: {fmt_block(centre)} together with an ideal {obs} pi pulse (phase x)",
        f"S0: no {partner} pulses, the ideal {obs} pi pulse at the centre; S1: with the {partner} train",
        describe_experiment(system, mas_rate, nothing)[-1],
    ]
    return _result(t, s0, s1, info, _general_partials(info0, info))
