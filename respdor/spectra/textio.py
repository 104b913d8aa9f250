"""Plain-text spectra and sideband manifolds in, result tables out (text; CSV and JSON through
:mod:`respdor.resultio`).

Spectrum files: two numeric columns, ppm and intensity, separated by whitespace, commas or
semicolons; ``#`` starts a comment; one optional header line. Manifold files: columns ``order``,
``intensity`` and optionally ``sigma`` (header required). Errors name the file and line.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np

from ..errors import DataFileError
from ..files import MAX_ABS_VALUE, read_text, write_output

__all__ = ["read_spectrum_text", "write_spectrum_text", "read_manifold_csv", "write_table_csv", "write_json",
           "format_rows", "table_csv_text", "json_text"]

_SPLIT = re.compile(r"[,;\s]+")


def read_spectrum_text(path):
    """Read (ppm, intensity) columns; returns ascending ppm and intensity arrays."""
    path = Path(path)
    xs, ys = [], []
    header_seen = False
    # One shared reader: BOM, CRLF, binary files and directories are handled in files.read_text.
    for lineno, line in enumerate(read_text(path, "spectrum file").split("\n"), 1):
        text = line.split("#")[0].strip()
        if not text:
            names = [f.strip() for f in re.split(r"[,;\t]", line.partition("#")[2])]
            if not xs and 2 <= len(names) <= 4 and all(0 < len(f) <= 24 for f in names):
                _check_axis_header(path, names, lineno)  # a commented column header ("# Hz,intensity")
            continue
        fields = [f for f in _SPLIT.split(text) if f]
        if len(fields) < 2:
            raise DataFileError(path, f"expected two columns (ppm, intensity), got {text!r}", line=lineno)
        try:
            x, y = float(fields[0]), float(fields[1])
        except ValueError:
            if not xs and not header_seen:
                header_seen = True
                _check_axis_header(path, fields, lineno)
                continue
            raise DataFileError(path, f"not a number in {text!r}", line=lineno) from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise DataFileError(path, f"non-finite value in {text!r}", line=lineno)
        if max(abs(x), abs(y)) > MAX_ABS_VALUE:
            raise DataFileError(path, f"value too large in {text!r} (|value| > {MAX_ABS_VALUE:g} would "
                                "overflow the fit); rescale the column", line=lineno)
        xs.append(x)
        ys.append(y)
    if len(xs) < 8:
        raise DataFileError(path, f"only {len(xs)} data points; a spectrum needs more")
    x, y = np.array(xs), np.array(ys)
    order = np.argsort(x)
    x, y = x[order], y[order]
    dx = np.diff(x)
    if np.any(dx == 0):
        raise DataFileError(path, "repeated ppm values")
    if np.max(dx) / np.min(dx) > 1.01:
        raise DataFileError(path, "the ppm axis is not evenly spaced")
    return x, y


#: Header words naming an axis unit that is not ppm, and what that column then is.
_NOT_PPM = {"hz": "a frequency in Hz", "khz": "a frequency in kHz", "mhz": "a frequency in MHz",
            "s": "a time in s", "ms": "a time in ms", "us": "a time in us", "sec": "a time in s",
            "time": "a time", "points": "point numbers", "pts": "point numbers", "index": "point numbers",
            "order": "sideband orders (a manifold: csa-fit without --spectrum)"}


def _check_axis_header(path, fields, lineno):
    """Refuse a header whose axis column is named in another unit than ppm (a spectrum exported
    in Hz, a FID, intensity first): read as ppm it would put every line at a wrong shift."""
    words = [set(re.split(r"[^a-z0-9]+", f.lower())) - {""} for f in fields[:2]]
    if "ppm" in words[0]:
        return
    if len(words) > 1 and "ppm" in words[1]:
        raise DataFileError(path, f"header {' '.join(fields)!r} puts ppm in column 2: the first column must be ppm, "
                            "the second the intensity", line=lineno)
    for word, what in _NOT_PPM.items():
        if word in words[0]:
            hint = " (ppm = Hz / observe frequency in MHz)" if "frequency" in what else ""
            raise DataFileError(path, f"header names column 1 {fields[0]!r}, {what}; the axis must be in ppm{hint}",
                                line=lineno)


def write_spectrum_text(path, ppm, intensity, header="ppm,intensity", inputs=()):
    """Write two CSV columns (ppm, intensity), never over one of ``inputs``, atomically."""
    lines = [header] + [f"{a:.6f},{b:.8g}" for a, b in zip(ppm, intensity)]
    write_output(path, "\n".join(lines) + "\n", inputs)


def read_manifold_csv(path):
    """Read a sideband manifold: header with ``order`` and ``intensity`` (and optional ``sigma``)."""
    path = Path(path)
    lines = read_text(path, "manifold CSV file").split("\n")
    rows = [(i + 1, r) for i, r in enumerate(csv.reader(lines)) if r and not r[0].lstrip().startswith("#")]
    if not rows:
        raise DataFileError(path, "empty file")
    header = [h.strip().lower() for h in rows[0][1]]
    for need in ("order", "intensity"):
        if need not in header:
            raise DataFileError(path, f"header must name columns 'order' and 'intensity' (got {', '.join(header)})",
                                line=rows[0][0])
    io, ii = header.index("order"), header.index("intensity")
    isig = header.index("sigma") if "sigma" in header else None
    k, y, s = [], [], []
    for lineno, r in rows[1:]:
        try:
            kk = float(r[io])
            if kk != int(kk):
                raise ValueError
            k.append(int(kk))
            y.append(float(r[ii]))
            if isig is not None:
                s.append(float(r[isig]))
        except (ValueError, IndexError, OverflowError):
            raise DataFileError(path, f"bad row {','.join(r)!r}", line=lineno) from None
        if not all(math.isfinite(v) and abs(v) <= MAX_ABS_VALUE for v in (y[-1], *s[-1:])):
            raise DataFileError(path, f"value not finite or too large (|value| > {MAX_ABS_VALUE:g}) in "
                                f"{','.join(r)!r}", line=lineno)
    if isig is not None and any(v <= 0 for v in s):
        raise DataFileError(path, "sigma values must be > 0")
    seen = {}
    for (lineno, _), kk in zip(rows[1:], k):  # a repeated order would count one sideband twice in the fit
        if kk in seen:
            raise DataFileError(path, f"sideband order {kk} appears twice (lines {seen[kk]} and {lineno})",
                                line=lineno)
        seen[kk] = lineno
    return np.array(k), np.array(y), (np.array(s) if isig is not None else None)


def table_csv_text(rows):
    """A list of dicts as CSV text (see :func:`respdor.resultio.table_csv_text`)."""
    from ..resultio import table_csv_text as text

    return text(rows)


def write_table_csv(path, rows, inputs=()):
    """Write a list of dicts as CSV, never over one of ``inputs``, atomically (see :mod:`respdor.resultio`)."""
    from ..resultio import write_table_csv as write

    write(path, rows, inputs, "output")


def json_text(obj):
    """A JSON document (NaN -> null, numpy scalars as numbers; see :func:`respdor.resultio.json_text`)."""
    from ..resultio import json_text as text

    return text(obj)


def write_json(path, obj, inputs=()):
    """Write a JSON document (NaN -> null), never over one of ``inputs``, atomically (see :mod:`respdor.resultio`)."""
    from ..resultio import write_json as write

    write(path, obj, inputs, "output")


def format_rows(rows, columns, title=""):
    """Fixed-width text table; ``columns`` is a list of (key, header, format) and ``key_err`` is
    shown as +- when present."""
    lines = []
    if title:
        lines.append(title)
    cells = []
    for r in rows:
        row = []
        for key, _, fmt in columns:
            v = r.get(key)
            e = r.get(key + "_err")
            if isinstance(v, (bool, np.bool_)):
                row.append("yes" if v else "no")
            elif isinstance(v, (float, int, np.floating, np.integer)):
                txt = format(float(v), fmt) if fmt else str(v)
                if e is not None and math.isfinite(float(e)):
                    txt += " +- " + format(float(e), fmt)
                row.append(txt)
            else:
                row.append("" if v is None else str(v))
        cells.append(row)
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, (_, h, _) in enumerate(columns)]
    lines.append("  ".join(h.rjust(w) for (_, h, _), w in zip(columns, widths)))
    for c in cells:
        lines.append("  ".join(x.rjust(w) for x, w in zip(c, widths)))
    return "\n".join(lines)
