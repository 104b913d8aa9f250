"""Parsing of command-line quantities with explicit units ("8ms", "10k", "2.5A").

A bare number takes the option's documented default unit, and the command says so in its
output; anything unrecognised is a one-line user error.
"""

from __future__ import annotations

import re

from ..errors import UserError

_NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"

_TIME = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_FREQ = {"hz": 1.0, "k": 1e3, "khz": 1e3, "m": 1e6, "mhz": 1e6}
_LENGTH = {"a": 1.0, "å": 1.0, "angstrom": 1.0, "nm": 10.0, "pm": 0.01}


def _parse(text: str, table: dict, default_unit: str, option: str, kind: str):
    match = re.fullmatch(_NUMBER + r"\s*([a-zA-Zµå]*)", str(text).strip())
    if not match:
        raise UserError(f"{option}: cannot read {text!r} as a {kind}")
    value = float(match.group(1))
    unit = match.group(2).lower()
    if not unit:
        return value * table[default_unit], False
    if unit not in table:
        raise UserError(f"{option}: unknown unit {match.group(2)!r} in {text!r}; use one of {', '.join(table)}")
    return value * table[unit], True


def parse_time(text, option="time", default_unit="s"):
    """Time in s and whether the unit was explicit ("8ms", "250us", "0.002")."""
    return _parse(text, _TIME, default_unit, option, "time")


def parse_frequency(text, option="frequency", default_unit="hz"):
    """Frequency in Hz and whether the unit was explicit ("10k", "10kHz", "10000")."""
    return _parse(text, _FREQ, default_unit, option, "frequency")


def parse_length(text, option="distance", default_unit="a"):
    """Length in angstrom and whether the unit was explicit ("2.5A", "0.25nm", "250pm")."""
    return _parse(text, _LENGTH, default_unit, option, "distance")
