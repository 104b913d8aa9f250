"""Let plain-text docstrings keep writing ``|x|`` for an absolute value.

The docstrings of respdor and spinsim are read in a terminal as often as on this site, so they
write magnitudes as ``|k|`` or ``|delta_zz - delta_iso|``. reStructuredText reads ``|...|`` as a
substitution reference and fails the (warnings-as-errors) build; this hook escapes the bars
before numpydoc and docutils see them, outside literal blocks (``::`` and ``>>>``), which docutils
shows verbatim anyway.
"""

from __future__ import annotations

import re

_BAR = re.compile(r"(?<!\\)\|")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def escape_bars(lines: list[str]) -> None:
    """Escape ``|`` in place in docstring ``lines``, leaving literal blocks and doctests alone."""
    literal_indent = None  # indentation of the paragraph that opened a literal block
    opener = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if literal_indent is not None:
            if not stripped or _indent(line) > literal_indent:
                continue
            literal_indent = None
        if stripped.endswith("::"):
            opener = _indent(line)
        if stripped.startswith(">>>") or stripped.startswith("..."):
            continue
        lines[i] = _BAR.sub(r"\\|", line)
        if opener is not None:
            literal_indent, opener = opener, None


def _process(app, what, name, obj, options, lines):
    escape_bars(lines)


def setup(app):
    # Before numpydoc (priority 500) rearranges the sections.
    app.connect("autodoc-process-docstring", _process, priority=400)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
