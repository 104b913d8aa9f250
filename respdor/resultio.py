"""Result files: the one JSON and table-CSV format of respdor's results.

Every result object writes its JSON through :func:`json_text` (what ``to_json`` returns and what
the command line's ``--json`` writes), and reads it back with :func:`read_json`. Numbers that are
not finite are written as ``null``; numpy scalars and arrays as plain JSON numbers and lists.
Files are written through the one output guard (:mod:`respdor.files`): never over an input, never
half-written.
"""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np

from .errors import DataFileError, UserError
from .files import read_text, write_output

__all__ = ["plain", "json_text", "write_json", "read_json", "table_csv_text", "write_table_csv"]


def plain(value):
    """``value`` with numpy scalars/arrays as Python numbers/lists and non-finite floats as ``None``."""
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, dict):
        return {str(k): plain(x) for k, x in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(x) for x in value]
    return value


def json_text(obj) -> str:
    """The JSON document of ``obj`` (indented, newline-terminated; see :func:`plain`)."""
    return json.dumps(plain(obj), indent=2, allow_nan=False) + "\n"


def write_json(path, obj, inputs=(), option="--json") -> None:
    """Write ``obj`` as JSON to ``path`` (``-``: standard output), never over one of ``inputs``."""
    text = json_text(obj)
    if str(path) == "-":
        import sys

        sys.stdout.write(text)
        return
    write_output(path, text, inputs, option)


def read_json(source) -> dict:
    """A result's JSON, from a path or from the JSON text itself (anything starting with ``{``)."""
    text = str(source)
    where = "JSON text"
    if not text.lstrip().startswith("{"):
        where = text
        text = read_text(source, "result JSON")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataFileError(where, f"not a JSON document ({err.msg})", line=err.lineno) from None
    except RecursionError:  # thousands of nested brackets: no result, and the parser would crash
        raise DataFileError(where, "lists or objects nested too deeply to be a result") from None
    if not isinstance(data, dict):
        raise DataFileError(where, "a result's JSON is an object ({...})")
    return data


def _cell(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return "" if value is None else str(value)


def table_csv_text(rows) -> str:
    """A list of dicts as CSV text (columns from the first row; nested values left out)."""
    if not rows:
        raise UserError("nothing to write")
    keys = [k for k in rows[0] if not isinstance(rows[0][k], (dict, list))]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(keys)
    for row in rows:
        writer.writerow([_cell(row.get(k)) for k in keys])
    return buf.getvalue()


def write_table_csv(path, rows, inputs=(), option="--csv") -> None:
    """Write a list of dicts as CSV, never over one of ``inputs``, atomically."""
    write_output(path, table_csv_text(rows), inputs, option)
