"""Read dephasing curves from CSV / TSV / whitespace text files.

Accepted layouts
----------------
A header line names the columns; the time column's name carries its unit:

* time: ``t_s``, ``t_ms``, ``t_us`` (also ``time (ms)``, ``trec_ms``, ``tau_us``); or a number of
  rotor periods ``n_rotor`` / ``ncycles`` (then the MAS rate must be given);
* either ``dSS0`` (also ``dS/S0``, ``deltaS/S0``) with optional error ``sigma`` (``err``,
  ``dSS0_err``), or ``S0`` and ``S1`` (also ``S``) with optional noise ``sigma_S0``, ``sigma_S1``
  (or one ``noise`` column for both);
* or both, as ``respdor simulate`` writes (``t_s,S0,S1,dSS0``): the columns must agree on every
  line (to 1e-6); the curve is then built from S0 and S1 (their noise propagated when given,
  else a ``sigma`` column is the error of dS/S0, else equal weights). A note says which.

Files without a header (such as the INTERFACES examples) are read as ``time, dS/S0[, sigma]``;
their time unit must then be given (``time_unit="s"``): it is never guessed.
Lines starting with ``#`` are comments; before the data, ``# observe = 111Cd`` and
``# partner = 27Al`` (as ``respdor integrate`` writes them) name the nuclei, read into
``DephasingCurve.metadata``. Delimiters: comma, semicolon, tab or spaces; with ``;``
a decimal comma is accepted. Every assumption the reader makes is recorded in
``DephasingCurve.notes``; every malformed value raises :class:`~respdor.errors.DataFileError`
naming the file, line and value.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .curve import MAX_RECOUPLING_S, MIN_RECOUPLING_S, DephasingCurve, check_recoupling_times
from .errors import DataFileError, UserError
from .files import MAX_ABS_VALUE, read_text

__all__ = ["read_curve", "TIME_UNITS", "parse_time_unit"]

#: Largest |dS/S0| accepted: a normalised dephasing lies near [0, 1]; noise may push it a little out.
MAX_ABS_DSS0 = 10.0

#: Seconds per unit for the accepted time units.
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}

_TIME_RE = re.compile(r"^(t|time|trec|tau|recouplingtime|recoupling|mixingtime|tmix|ntr)(s|ms|us|µs)?$")
_ROTOR_RE = re.compile(r"^(nrotor|nrotorperiods|ncycles|ncycle|nr|ntr|rotorperiods|cycles|n)$")
_META_RE = re.compile(r"#\s*(observe|partner)\s*[=:]\s*(\S+)\s*", re.IGNORECASE)
_ALIASES = {
    "dss0": {"dss0", "deltass0", "dss", "deltas", "dephasing", "redor", "respdor", "dsovers0"},
    "sigma": {"sigma", "err", "error", "std", "sd", "dss0err", "errdss0", "sigmadss0", "dss0sigma",
              "uncertainty", "dss0error", "dss0std", "sigmadss", "esd"},
    "s0": {"s0", "sref", "reference", "i0", "s0int"},
    "s1": {"s1", "s", "sdeph", "sdephased", "i1", "i"},
    "sigma_s0": {"sigmas0", "s0err", "noises0", "s0noise", "s0sigma", "errs0"},
    "sigma_s1": {"sigmas1", "s1err", "noises1", "s1noise", "s1sigma", "errs1", "sigmas", "serr"},
    "noise": {"noise", "sigmanoise", "rmsnoise"},
}


def parse_time_unit(unit: str | None) -> str | None:
    """Normalise a time-unit string (``"s"``, ``"ms"``, ``"us"`` or ``"µs"``); None passes through."""
    if unit is None:
        return None
    u = unit.strip().lower().replace("µ", "u")
    if u not in ("s", "ms", "us"):
        raise UserError(f"unknown time unit {unit!r}; use s, ms or us")
    return u


def _compact(name: str) -> str:
    return re.sub(r"[^a-z0-9µ]", "", name.strip().lower())


def _classify(name: str):
    """(role, unit) of a header name; role None when unknown."""
    key = _compact(name)
    m = _TIME_RE.match(key)
    if m and not _ROTOR_RE.match(key):
        unit = m.group(2)
        return "time", (unit.replace("µ", "u") if unit else None)
    if _ROTOR_RE.match(key):
        return "rotor", None
    for role, names in _ALIASES.items():
        if key in names:
            return role, None
    return None, None


def _split(line: str, delimiter):
    if delimiter is None:
        return line.split()
    return [p.strip() for p in line.split(delimiter)]


def _detect_delimiter(line: str):
    for d in ("\t", ",", ";"):
        if d in line:
            return d
    return None


def read_curve(path, time_unit: str | None = None, mas_rate_hz: float | None = None, label: str | None = None):
    """Read a dephasing curve from a text file.

    Parameters
    ----------
    path : str or Path
        The file.
    time_unit : {"s", "ms", "us"}, optional
        Unit of the time column. Required when the header does not state it; must agree with it
        when it does.
    mas_rate_hz : float, optional
        MAS rate in Hz, needed only when the time column counts rotor periods.
    label : str, optional
        Name for tables and legends (default: the file name).

    Returns
    -------
    DephasingCurve
        Times in s; ``notes`` lists what was assumed.

    Raises
    ------
    DataFileError
        Missing file, unknown columns, a value that is not a number (file, line and value named),
        ragged rows, or a time unit that is neither stated nor given.
    """
    path = Path(path)
    time_unit = parse_time_unit(time_unit)
    text = read_text(path, "curve file")  # BOM, CRLF, directories and binary files: one shared reader
    rows, meta, header = _scan_lines(path, text)
    delimiter = _detect_delimiter(header[1] if header else rows[0][1])
    notes = []
    names, roles = _columns(path, header, rows, delimiter, time_unit, notes)
    data = _numbers(path, rows, names, delimiter)
    col = {r: data[:, j] for j, (r, _) in enumerate(roles)}
    lines = np.array([n for n, _ in rows])
    time_s, unit, unit_source = _time_axis(path, col, names, roles, header, lines, time_unit, mas_rate_hz, notes)
    if "dss0" in col:
        bad = np.flatnonzero(np.abs(col["dss0"]) > MAX_ABS_DSS0)
        if bad.size:
            raise DataFileError(path, f"dS/S0 = {col['dss0'][bad[0]]:g} is not a normalised dephasing (expected about "
                                "0 to 1): is the column raw intensities rather than dS/S0?", line=int(lines[bad[0]]))
    curve = _curve(path, col, lines, header, time_s, notes, label or path.name)
    curve.time_unit, curve.time_unit_source = unit, unit_source
    if np.any(np.diff(curve.time_s) < 0):
        curve = curve.sorted()
        curve.notes.append("points sorted by time")
    curve.metadata.update(meta)
    return curve


def _scan_lines(path, text):
    """(data rows as (line number, text), nuclei named in comments before the data, header or None).

    A commented last line before the data that names a time column is taken as the header.
    """
    rows, meta, last_comment, header = [], {}, None, None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if not rows and header is None:
                last_comment = (number, line.lstrip("#").strip())
            meta_line = _META_RE.fullmatch(line) if not rows else None
            if meta_line:
                key, symbol = meta_line.group(1).lower(), _meta_isotope(path, meta_line.group(2), number)
                if meta.get(key, symbol) != symbol:
                    raise DataFileError(path, f"'# {key} = {symbol}' contradicts the earlier '# {key} = {meta[key]}'; "
                                        "keep one", line=number)
                meta[key] = symbol
            continue
        if header is None and not rows and _looks_like_header(line):
            header = (number, line)
            continue
        rows.append((number, line))
    if header is None and last_comment is not None and _looks_like_header(last_comment[1]):
        roles = [_classify(n)[0] for n in _split(last_comment[1], _detect_delimiter(last_comment[1]))]
        if "time" in roles or "rotor" in roles:
            header = last_comment
    if not rows:
        raise DataFileError(path, "contains no data lines")
    return rows, meta, header


def _columns(path, header, rows, delimiter, time_unit, notes):
    """(column names, [(role, unit)]) from the header, or time, dS/S0[, sigma] without one."""
    if header is None:
        n_cols = len(_split(rows[0][1], delimiter))
        if n_cols not in (2, 3):
            raise DataFileError(path, f"no header line and {n_cols} columns: expected time, dS/S0 and optionally "
                                "its error, or add a header (e.g. t_ms,dSS0,sigma)", line=rows[0][0])
        names = ["time", "dss0", "sigma"][:n_cols]
        roles = [("time", None), ("dss0", None), ("sigma", None)][:n_cols]
        notes.append(f"no header: columns read as {', '.join(['time', 'dS/S0', 'sigma(dS/S0)'][:n_cols])}")
        if time_unit is None:
            raise DataFileError(path, "has no header naming the time unit; give it explicitly "
                                "(time_unit s|ms|us)")
    else:
        names = _split(header[1], delimiter)
        roles = [_classify(n) for n in names]
        unknown = [n for n, (r, _) in zip(names, roles) if r is None]
        if unknown:
            raise DataFileError(path, f"unknown column name(s) {', '.join(map(repr, unknown))} in the header; "
                                "expected time (t_s/t_ms/t_us), dSS0 [sigma] or S0 S1 [sigma_S0 sigma_S1]",
                                line=header[0])
    role_names = [r for r, _ in roles]
    for role in set(role_names):
        if role_names.count(role) > 1:
            raise DataFileError(path, f"column role {role!r} appears twice in the header", line=header[0] if header else None)
    if "time" not in role_names and "rotor" not in role_names:
        raise DataFileError(path, "no time column (t_s, t_ms, t_us or n_rotor) in the header", line=header[0])
    return names, roles


def _numbers(path, rows, names, delimiter):
    """The data rows as a float array, every value finite and within range (file, line, value named)."""
    decimal_comma = delimiter == ";"
    data = np.empty((len(rows), len(names)))
    for k, (number, line) in enumerate(rows):
        parts = _split(line, delimiter)
        if len(parts) != len(names):
            raise DataFileError(path, f"expected {len(names)} values, found {len(parts)}: {line!r}", line=number)
        for j, part in enumerate(parts):
            token = part.replace(",", ".") if decimal_comma else part
            try:
                data[k, j] = float(token)
            except ValueError:
                raise DataFileError(path, f"cannot read {part!r} as a number (column {names[j]!r})", line=number) from None
            if not np.isfinite(data[k, j]):
                raise DataFileError(path, f"value {part!r} in column {names[j]!r} is not finite", line=number)
            if abs(data[k, j]) > MAX_ABS_VALUE:
                raise DataFileError(path, f"value {part!r} in column {names[j]!r} is too large (|value| > "
                                    f"{MAX_ABS_VALUE:g} would overflow the fit)", line=number)
    return data


def _time_axis(path, col, names, roles, header, lines, time_unit, mas_rate_hz, notes):
    """(times in s, unit, how the unit was known): from a time column in its unit, or rotor periods / MAS."""
    role_names = [r for r, _ in roles]
    if "time" in col:
        header_unit = roles[role_names.index("time")][1]
        if header_unit and time_unit and header_unit != time_unit:
            raise DataFileError(path, f"the header gives time in {header_unit} but {time_unit} was asked for",
                                line=header[0])
        unit = header_unit or time_unit
        if unit is None:
            raise DataFileError(path, f"time column {names[role_names.index('time')]!r} does not state its unit; "
                                "rename it t_s/t_ms/t_us or give time_unit", line=header[0])
        time_s = col["time"] * TIME_UNITS[unit]
        notes.append(f"time unit: {unit} ({'from the header' if header_unit else 'as given by the user'})")
        unit_source = (f"the header says {names[role_names.index('time')]}" if header_unit
                       else f"the unit was given as {unit} (time_unit)")
    else:
        if mas_rate_hz is None or mas_rate_hz <= 0:
            raise DataFileError(path, "the time column counts rotor periods; give the MAS rate (mas_rate_hz)")
        counts = col["rotor"]
        odd = np.flatnonzero(np.abs(counts - np.round(counts)) > 1e-6 * np.maximum(1.0, np.abs(counts)))
        if odd.size:  # recoupling lasts whole rotor periods: a fraction means another quantity
            raise DataFileError(path, f"{counts[odd[0]]:g} in the rotor-period column {names[role_names.index('rotor')]!r} "
                                "is not a whole number of rotor periods: is this column a time (then name it "
                                "t_ms/t_us/t_s)?", line=int(lines[odd[0]]))
        time_s = counts / mas_rate_hz
        notes.append(f"time = rotor periods / {mas_rate_hz:g} Hz MAS")
        unit, unit_source = "", f"times are rotor periods / {mas_rate_hz:g} Hz MAS (mas_rate_hz)"
    first = col["time"] if "time" in col else col["rotor"]
    bad = np.flatnonzero(time_s < 0)
    if bad.size:
        raise DataFileError(path, f"negative recoupling time {first[bad[0]]:g}", line=int(lines[bad[0]]))
    try:
        check_recoupling_times(time_s, "", unit, unit_source)
    except UserError as exc:  # the same check as every curve's, with the file and line named
        bad = np.flatnonzero((time_s > MAX_RECOUPLING_S) | ((time_s > 0) & (time_s < MIN_RECOUPLING_S)))
        raise DataFileError(path, str(exc).removeprefix(": "), line=int(lines[bad[0]])) from None
    return time_s, unit, unit_source


def _curve(path, col, lines, header, time_s, notes, label):
    """The DephasingCurve from dS/S0 [sigma], from S0 and S1 [noise], or from both (checked to agree)."""
    source = str(path)
    if "dss0" in col and ("s0" in col or "s1" in col):
        return _curve_from_all_columns(path, col, lines, header, time_s, source, notes, label)
    if "dss0" in col:
        sigma = col.get("sigma")
        if sigma is not None:
            _check_positive(path, sigma, lines, "uncertainty")
            notes.append("dS/S0 uncertainties from the file")
        return DephasingCurve(time_s=time_s, dss0=col["dss0"], sigma=sigma, source=source, notes=notes, label=label)
    if "s0" in col and "s1" in col:
        return _curve_from_signals(path, col, lines, time_s, source, notes, label, col.get("sigma"))
    raise DataFileError(path, "needs a dS/S0 column, or S0 and S1 columns", line=header[0] if header else None)


def _meta_isotope(path, text, line):
    from spinsim.isotopes import get_isotope

    try:
        return get_isotope(text).symbol
    except ValueError:
        raise DataFileError(path, f"unknown isotope {text!r} in the comment line", line=line) from None


def _check_positive(path, values, lines, name):
    bad = np.flatnonzero(values <= 0)
    if bad.size:
        raise DataFileError(path, f"{name} must be > 0, got {values[bad[0]]:g}", line=int(lines[bad[0]]))


def _curve_from_signals(path, col, lines, time_s, source, notes, label, shared_noise):
    """dS/S0 = 1 - S1/S0, with the noise of S0 and S1 propagated when given."""
    s0, s1 = col["s0"], col["s1"]
    _check_positive(path, s0, lines, "S0")
    sig0 = col.get("sigma_s0", col.get("noise", shared_noise))
    sig1 = col.get("sigma_s1", col.get("noise", shared_noise))
    for name, sig in (("sigma_S0", sig0), ("sigma_S1", sig1)):
        if sig is not None:
            _check_positive(path, sig, lines, name)
    if sig0 is not None or sig1 is not None:
        notes.append("dS/S0 = 1 - S1/S0 with errors propagated from the S0 and S1 noise")
    else:
        notes.append("dS/S0 = 1 - S1/S0; no noise given")
    return DephasingCurve.from_signals(time_s, s0, s1, sig0, sig1, source=source, notes=notes, label=label)


def _curve_from_all_columns(path, col, lines, header, time_s, source, notes, label):
    """A file with dSS0 and S0, S1 (as ``respdor simulate`` writes): check they agree, then fit.

    Rule: the two descriptions must agree on every line (1e-6, the rounding of a written CSV);
    the curve is then built from S0 and S1 (so that their noise, if given, is propagated and
    ``method="signals"`` works); without S0/S1 noise a ``sigma`` column is taken as the error of
    dS/S0; without either the fit uses equal weights.
    """
    if "s0" not in col or "s1" not in col:
        raise DataFileError(path, "has a dS/S0 column and only one of S0, S1: give both signals or neither",
                            line=header[0])
    s0, s1, dss0 = col["s0"], col["s1"], col["dss0"]
    _check_positive(path, s0, lines, "S0")
    mismatch = np.abs((1.0 - s1 / s0) - dss0) > 1e-6 * (1.0 + np.abs(dss0))
    if np.any(mismatch):
        k = int(np.flatnonzero(mismatch)[0])
        raise DataFileError(path, f"dSS0 = {dss0[k]:g} disagrees with 1 - S1/S0 = {1 - s1[k] / s0[k]:g}: "
                            "the columns describe different curves; keep one description", line=int(lines[k]))
    has_noise = any(k in col for k in ("sigma_s0", "sigma_s1", "noise"))
    curve = _curve_from_signals(path, col, lines, time_s, source, notes, label, None)
    curve.notes.pop()  # replaced by the one line below saying which columns are fitted
    if has_noise:
        curve.notes.append("columns S0, S1 and dSS0 agree; fitted: dS/S0 from S0 and S1 with their noise")
    elif "sigma" in col:
        _check_positive(path, col["sigma"], lines, "uncertainty")
        curve.sigma = np.asarray(col["sigma"], float)
        curve.notes.append("columns S0, S1 and dSS0 agree; fitted: dSS0 with the sigma column as its error")
    else:
        curve.notes.append("columns S0, S1 and dSS0 agree; fitted: dSS0 (= 1 - S1/S0), no errors given")
    return curve


def _looks_like_header(line: str) -> bool:
    parts = _split(line, _detect_delimiter(line))
    for p in parts:
        try:
            float(p.replace(",", "."))
        except ValueError:
            return True
    return False
