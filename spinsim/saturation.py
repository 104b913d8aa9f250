"""The one table of saturation schemes: what a spec's ``[saturation] type`` may be.

Each :class:`SaturationScheme` names the ``[saturation]`` keys it reads and builds what the engine
runs: a :class:`~spinsim.sequences.Block` of rf events for a pulse (its shape comes from a builder
in :mod:`spinsim.sequences`), an :class:`~spinsim.simulate.IdealSaturation`, or nothing (REDOR
without a partner pulse of its own). The spec parser (:mod:`spinsim.spec`: allowed keys, the keys
each type reads, the error messages), the SIMPSON export and respdor's curve libraries (which
types have an rf amplitude and length to vary) all read this table.

Adding a scheme: write its pulse shape in :mod:`spinsim.sequences` (a function returning a Block)
and add one :class:`SaturationScheme` entry to :data:`SATURATION_SCHEMES` here; then describe its
keys in the user documentation (``docs/simulation.md``). A key of a new kind of quantity needs its
plausible range in :mod:`spinsim.plausibility`.

Every rf scheme reads an amplitude ``nu1_khz`` and a length (``length_us`` or
``length_rotor_periods``); the parser reads those (:data:`RF_KEYS`) and hands the builder
``nu1`` (Hz) and ``length`` (s).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from . import sequences as seq

__all__ = ["SaturationScheme", "SATURATION_SCHEMES", "SATURATION_TYPES", "RF_SATURATION_TYPES",
           "DEFAULT_SATURATION_TYPE", "RF_KEYS"]

#: Keys every rf scheme reads: the amplitude and the length (one of the two length keys).
RF_KEYS = frozenset({"nu1_khz", "length_us", "length_rotor_periods"})


@dataclass(frozen=True)
class SaturationScheme:
    """One ``[saturation] type``.

    Attributes
    ----------
    name : str
        The ``type`` value.
    summary : str
        One line for people (what it is, its reference).
    keys : frozenset of str
        The ``[saturation]`` keys it reads besides ``type`` and ``channel`` (:data:`RF_KEYS`
        included for an rf scheme).
    build : callable
        rf scheme: ``build(read, channel, nu1_hz, length_s) -> Block``; otherwise
        ``build(read, table) -> IdealSaturation or None``. ``read(key, quantity=None, default=None,
        **checks)`` returns the number of a key of the table, in the unit its name carries, checked
        against the plausible range of ``quantity`` (:mod:`spinsim.plausibility`) when given and
        refused naming the table and key (``positive=True``, ``nonneg=True``).
    rf : bool
        True for a pulse (an amplitude and a length that respdor's libraries can vary).
    example : dict
        A complete ``[saturation]`` table of this type with typical values (for documentation,
        tests and callers that build a spec).
    """

    name: str
    summary: str
    keys: frozenset
    build: Callable
    rf: bool = True
    example: dict = field(default_factory=dict)


def _step(read):
    return 1e-6 * read("step_us", "step", 0.25, positive=True)


def _cw(read, channel, nu1, length):
    return seq.cw_pulse(channel, nu1, length, read("phase_deg", None, 0.0))


def _wurst(read, channel, nu1, length):
    return seq.wurst_pulse(channel, nu1, length, 1e3 * read("sweep_khz", "rf_offset", positive=True),
                           int(read("n_wurst", "wurst_n", 20.0, positive=True)), step_s=_step(read))


def _dfs(read, channel, nu1, length):
    return seq.dfs_pulse(channel, nu1, length, 1e3 * read("start_khz", "rf_offset", positive=True),
                         1e3 * read("end_khz", "rf_offset", nonneg=True), step_s=_step(read))


def _pm(read, channel, nu1, length):
    return seq.pm_pulse(channel, nu1, length, 1e3 * read("offset_khz", "rf_offset", positive=True),
                        1e3 * read("modulation_khz", "rf_offset", positive=True), step_s=_step(read))


def _ideal(read, table):
    from .simulate import IdealSaturation  # the engine (numba) is imported only when a spec is built

    return IdealSaturation(table.get("kind", "full"), read("efficiency", None, 1.0))


def _none(read, table):
    return None


def _rf(name, summary, keys, build, **needs):
    example = {"type": name, "nu1_khz": 30.0, "length_rotor_periods": 2.0, **needs}
    return SaturationScheme(name, summary, RF_KEYS | frozenset(keys), build, True, example)


#: Every accepted ``[saturation] type``, name -> scheme: the rf pulses first, then the ideal
#: transfer and none (REDOR only).
SATURATION_SCHEMES = {s.name: s for s in (
    _rf("cw", "constant-amplitude (CW) pulse", {"phase_deg"}, _cw),
    _rf("wurst", "WURST-N adiabatic sweep (Kupce & Freeman 1995)", {"sweep_khz", "n_wurst", "step_us"}, _wurst,
        sweep_khz=300.0),
    _rf("dfs", "double frequency sweep (Kentgens & Verhagen 1999)", {"start_khz", "end_khz", "step_us"}, _dfs,
        start_khz=400.0, end_khz=100.0),
    _rf("pm", "phase-modulated pulse, carrier jumping between +/- offset", {"offset_khz", "modulation_khz",
                                                                           "step_us"}, _pm,
        offset_khz=200.0, modulation_khz=50.0),
    SaturationScheme("ideal", "instantaneous incoherent transfer (full, central transition, inversion)",
                     frozenset({"kind", "efficiency"}), _ideal, False, {"type": "ideal", "kind": "full"}),
    SaturationScheme("none", "no partner pulse of its own (REDOR)", frozenset(), _none, False, {"type": "none"}),
)}

#: Names of every accepted ``[saturation] type``.
SATURATION_TYPES = tuple(SATURATION_SCHEMES)
#: Names of the rf-pulse types (the ones whose amplitude and length can be varied).
RF_SATURATION_TYPES = tuple(name for name, s in SATURATION_SCHEMES.items() if s.rf)
#: ``[saturation] type`` when the table gives none.
DEFAULT_SATURATION_TYPE = "cw"
