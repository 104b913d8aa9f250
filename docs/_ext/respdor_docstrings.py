"""Docstrings written for the terminal, rendered by Sphinx: ``|x|`` bars and short references.

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



# --- short and re-exported names in docstrings ---------------------------------------------------
# Docstrings say :func:`respdor.fit_curve` (the name users import) or :class:`DataFileError` (a
# name in scope where it is written). The API pages document each object once, under the module
# that defines it; this resolver maps such a target to that one entry when it is unambiguous, so
# the warnings-as-errors build still fails on a target that names nothing.


def _defining_name(target: str) -> str | None:
    """``respdor.fit_curve`` -> ``respdor.fitting.fit_curve`` by importing, else None."""
    import importlib

    parts = target.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        return f"{module}.{qualname}" if module and qualname else None
    return None


def _resolve_short_names(app, env, node, contnode):
    from sphinx.util.nodes import make_refnode

    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "").lstrip("~.")
    objects = env.get_domain("py").objects
    candidates = [name for name in (_defining_name(target),) if name in objects]
    if not candidates:
        candidates = [name for name in objects if name.endswith("." + target)]
        module = node.get("py:module")
        if len(candidates) > 1 and module:  # prefer the module the docstring belongs to
            candidates = [name for name in candidates if name.startswith(module + ".")] or candidates
    if len(candidates) != 1:
        return None
    entry = objects[candidates[0]]
    return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, candidates[0])


def setup(app):
    # Before numpydoc (priority 500) rearranges the sections.
    app.connect("autodoc-process-docstring", _process, priority=400)
    app.connect("missing-reference", _resolve_short_names)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
