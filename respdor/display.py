"""Results at home in a notebook: short reprs, HTML tables, DataFrames, JSON round trips, plots.

Every result class of respdor derives from :class:`ResultDisplay` and provides four things:

``_title()``
    a few words: what the result is (``"fit: 13C{27Al} RESPDOR, 1 curve"``);
``_headline()``
    the key numbers on one line (``"D = 503 +- 12 Hz, f = 0.24 +- 0.02"``);
``_rows()``
    one dict per row of its table (a parameter, a site, a design): the columns of
    :meth:`~ResultDisplay.to_dataframe` and of the HTML table, in order;
``to_dict()`` / ``from_dict()``
    the JSON document the command line writes, and back.

and a ``warnings`` list of one-line strings. From these the mixin gives ``repr`` (one line, at most
:data:`REPR_WIDTH` characters), ``_repr_html_`` (the table and the warnings, as lmfit shows a fit),
:meth:`~ResultDisplay.to_dataframe`, :meth:`~ResultDisplay.to_json` and
:meth:`~ResultDisplay.from_json`.

Plots: results with a ``plot(ax=None)`` method draw on the axes given, or on new axes from
:func:`axes_or_new`; nothing in respdor selects a matplotlib backend, so plots in a notebook keep
showing inline.
"""

from __future__ import annotations

import html
import math

__all__ = ["ResultDisplay", "axes_or_new", "REPR_WIDTH"]

#: Longest ``repr`` of a result (characters); longer headlines are cut with an ellipsis.
REPR_WIDTH = 200


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "" if math.isnan(value) else str(value)
        return f"{value:.6g}"
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, (int, float)) or v is None
                                                                     for v in value):
        return f"[{_cell(value[0])}, {_cell(value[1])}]"
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return _cell(value.item())
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    return str(value)


class ResultDisplay:
    """Mixin: short repr, HTML table, DataFrame and JSON for a respdor result (see the module)."""

    warnings: list

    def _title(self) -> str:
        return type(self).__name__

    def _headline(self) -> str:
        return ""

    def _rows(self) -> list[dict]:
        return []

    def __repr__(self) -> str:
        n = len(getattr(self, "warnings", None) or [])
        tail = f" | {n} warning{'s' if n != 1 else ''}" if n else ""
        head = self._headline()
        text = f"<{type(self).__name__} {self._title()}" + (f": {head}" if head else "")
        room = REPR_WIDTH - len(tail) - 1
        if len(text) > room:
            text = text[: room - 3] + "..."
        return f"{text}{tail}>"

    def _repr_html_(self) -> str:
        rows = self._rows()
        parts = [f"<div class='respdor-result'><p><b>{html.escape(type(self).__name__)}</b> "
                 f"{html.escape(self._title())}</p>"]
        head = self._headline()
        if head:
            parts.append(f"<p>{html.escape(head)}</p>")
        if rows:
            columns = list(dict.fromkeys(k for r in rows for k in r))
            parts.append("<table><thead><tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
                         + "</tr></thead><tbody>")
            for r in rows:
                parts.append("<tr>" + "".join(f"<td>{html.escape(_cell(r.get(c)))}</td>" for c in columns)
                             + "</tr>")
            parts.append("</tbody></table>")
        for w in getattr(self, "warnings", None) or []:
            parts.append(f"<p style='color:#a15c00'>warning: {html.escape(str(w))}</p>")
        parts.append("</div>")
        return "".join(parts)

    def to_dataframe(self):
        """The result's table (one row per parameter, site or design) as a pandas DataFrame.

        Raises
        ------
        ImportError
            When pandas is not installed (``pip install "respdor[notebook]"``).
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError('to_dataframe needs pandas: pip install "respdor[notebook]"') from None
        rows = self._rows()
        frame = pd.DataFrame(rows, columns=list(dict.fromkeys(k for r in rows for k in r)) or None)
        if "name" in frame.columns and frame["name"].is_unique:
            frame = frame.set_index("name")
        return frame

    def to_json(self, path=None, inputs=()) -> str:
        """The result as the JSON document the command line writes; also written to ``path`` when
        given (never over one of ``inputs``). Returns the text."""
        from .resultio import json_text, write_json

        if path is not None:
            write_json(path, self.to_dict(), inputs)
        return json_text(self.to_dict())

    @classmethod
    def from_json(cls, source):
        """The result from its JSON (a path, or the JSON text), as written by :meth:`to_json` or by
        the command line's ``--json``."""
        from .resultio import read_json

        return cls.from_dict(read_json(source))

    def to_dict(self) -> dict:  # pragma: no cover - every result overrides it
        raise NotImplementedError

    @classmethod
    def from_dict(cls, data: dict):  # pragma: no cover - every result overrides it
        raise NotImplementedError


def axes_or_new(ax=None, figsize=(6.0, 4.0)):
    """``ax`` itself, or new axes on a new pyplot figure (shown inline in a notebook).

    pyplot is used only when no axes are given, and no backend is selected here: whatever the
    session uses (inline in Jupyter, Agg in a script) stays in use.
    """
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax
