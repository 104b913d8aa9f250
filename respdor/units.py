"""Quantities with explicit units ("8ms", "10k", "2.5A"), as typed on the command line or in a notebook.

A bare number takes the option's documented default unit, and the command says so in its
output; anything unrecognised is a one-line user error.
"""

from __future__ import annotations

import re

from .errors import UserError

#: Largest magnitude of a number typed on the command line (in its own unit). Beyond it values
#: overflow in squares and sums (1e300**2 = inf), and no measured quantity comes near it.
MAX_ABS_OPTION = 1e100

_NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"

_TIME = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_FREQ = {"hz": 1.0, "k": 1e3, "khz": 1e3, "m": 1e6, "mhz": 1e6}
_LENGTH = {"a": 1.0, "å": 1.0, "angstrom": 1.0, "nm": 10.0, "pm": 0.01}


def _parse(text: str, table: dict, default_unit: str, option: str, kind: str, signed: bool = False):
    match = re.fullmatch(_NUMBER + r"\s*([a-zA-Zµå]*)", str(text).strip())
    if not match:
        raise UserError(f"{option}: cannot read {text!r} as a {kind}")
    value = float(match.group(1))
    if not abs(value) <= MAX_ABS_OPTION:  # also inf from "1e999"
        raise UserError(f"{option}: {text!r} is out of range (|value| > {MAX_ABS_OPTION:g}): no experiment has it")
    if value < 0 and not signed:
        # Times, rates, couplings and distances typed on the command line are magnitudes; an option
        # whose sign means something (a signed C_Q) says so with signed=True.
        raise UserError(f"{option} {text}: a {kind} here cannot be negative (give its magnitude, "
                        f"e.g. {text.strip().lstrip('-')})")
    unit = match.group(2).lower()
    if not unit:
        return value * table[default_unit], False
    if unit not in table:
        raise UserError(f"{option}: unknown unit {match.group(2)!r} in {text!r}; use one of {', '.join(table)}")
    return value * table[unit], True


def finite_float(text):
    """argparse ``type`` for plain numbers: refuses nan, inf and magnitudes no experiment has."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"cannot read {text!r} as a number") from None
    if not abs(value) <= MAX_ABS_OPTION:
        raise argparse.ArgumentTypeError(f"{text!r} is not finite or out of range (|value| > {MAX_ABS_OPTION:g})")
    return value


def check_observed_spin_half(symbol, option="observe"):
    """The REDOR/RESPDOR dephasing models treat the observed spin as spin 1/2: refuse a quadrupolar one."""
    from spinsim.isotopes import get_isotope

    try:
        iso = get_isotope(symbol)
    except ValueError as exc:
        raise UserError(f"{option}={symbol}: {exc}") from None
    if iso.spin != 0.5:
        raise UserError(f"{option}={symbol}: spin {iso.spin:g} (quadrupolar); the REDOR/RESPDOR models need a "
                        "spin-1/2 observed nucleus (e.g. 13C, 31P, 29Si, 113Cd); make the quadrupolar nucleus the "
                        "partner")


def parse_time(text, option="time", default_unit="s", signed=False):
    """Time in s and whether the unit was explicit ("8ms", "250us", "0.002").

    A negative value is refused (one line naming ``option``) unless ``signed``.
    """
    return _parse(text, _TIME, default_unit, option, "time", signed)


def parse_frequency(text, option="frequency", default_unit="hz", signed=False):
    """Frequency in Hz and whether the unit was explicit ("10k", "10kHz", "10000").

    A negative value is refused (one line naming ``option``) unless ``signed`` (e.g. a signed C_Q).
    """
    return _parse(text, _FREQ, default_unit, option, "frequency", signed)


def parse_length(text, option="distance", default_unit="a", signed=False):
    """Length in angstrom and whether the unit was explicit ("2.5A", "0.25nm", "250pm").

    A negative value is refused (one line naming ``option``) unless ``signed``.
    """
    return _parse(text, _LENGTH, default_unit, option, "distance", signed)


#: Fit parameters whose values may carry a unit, by the fitter's names, and the parser of each: a
#: bare number is in Hz (D and the library's cq, nu1), angstrom (r, width) or s (the library's
#: saturation length). Used by ``respdor fit --fix/--bound/--start`` and the app's parameter table.
PARAMETER_UNITS = {"coupling_hz": parse_frequency, "distance_angstrom": parse_length, "width_angstrom": parse_length,
                   "cq": parse_frequency, "nu1": parse_frequency, "length": parse_time}


def parse_larmor(text, option="--larmor", default_unit="hz"):
    """Observe frequency in Hz and whether the unit was explicit, refused outside
    :data:`spinsim.plausibility.RANGES` ``["larmor"]`` with the unit the number was probably meant in.

    A bare ``88.8`` (read as Hz) is refused as "88.8 Hz; did you mean 88.8MHz?"; a bare number
    of a few to 30 also suggests ``--field`` (a field in tesla typed as a frequency).
    """
    from spinsim.plausibility import RANGES

    value, explicit = parse_frequency(text, option, default_unit)
    lo, hi = RANGES["larmor"].lo, RANGES["larmor"].hi
    if not value > 0:
        raise UserError(f"{option} {text}: an observe frequency must be > 0")
    if lo <= value <= hi:
        return value, explicit
    raw = float(re.match(_NUMBER, str(text).strip()).group(1))
    hints = [f"{raw:g}{u}" + (f" = {raw * f / 1e6:g} MHz" if u != "MHz" else "")
             for u, f in (("MHz", 1e6), ("kHz", 1e3), ("Hz", 1.0)) if lo <= raw * f <= hi]
    hint = f"did you mean {hints[0]}?" if hints else "give it with a unit, e.g. 88.75MHz"
    if not explicit and 0.5 <= raw <= 30:
        hint += f" (a field in tesla is --field {raw:g})"
    how = "" if explicit else " (a bare number is Hz)"
    raise UserError(f"{option} {text}: {value:g} Hz{how} is no NMR observe frequency (they lie between "
                    f"{lo / 1e6:g} and {hi / 1e6:g} MHz); {hint}")


def plausible(quantity, value_si, option, text, warnings=None):
    """Refuse an option value no experiment has (spinsim.plausibility, the one table of ranges), naming
    the option, the value as typed and the likely unit mistake; collect a warning for an unusual one."""
    from spinsim.plausibility import check

    try:
        msg = check(quantity, value_si, option, typed=text)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if msg and warnings is not None:
        warnings.append(msg)
    return value_si
