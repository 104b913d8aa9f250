"""Sphinx directive ``respdor-commands``: every sub-command's ``--help``, rendered at build time.

The help text is produced by :func:`respdor.cli.build_parser`, the parser the ``respdor``
command itself uses, so the command reference cannot drift from the code: a renamed option
changes the page the next time the site is built.
"""

from __future__ import annotations

import argparse
import os

from docutils import nodes
from docutils.parsers.rst import Directive

#: Fixed width so the rendered help does not depend on the terminal of whoever builds the site.
HELP_WIDTH = "100"


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Sub-command name -> its parser, in the order ``respdor --help`` lists them."""
    for action in parser._actions:  # argparse exposes sub-parsers only through this attribute
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


class RespdorCommands(Directive):
    """Render ``respdor --help`` and then one section per sub-command with its ``--help``."""

    has_content = False

    def run(self):
        from respdor.cli import build_parser

        previous = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = HELP_WIDTH
        try:
            parser = build_parser()
            out = [nodes.literal_block(text=parser.format_help(), language="none")]
            for name, sub in subcommands(parser).items():
                section = nodes.section(ids=[f"respdor-{name}"], names=[f"respdor {name}"])
                section += nodes.title(text=f"respdor {name}")
                section += nodes.literal_block(text=sub.format_help(), language="none")
                self.state.document.note_implicit_target(section, section)
                out.append(section)
        finally:
            if previous is None:
                os.environ.pop("COLUMNS", None)
            else:
                os.environ["COLUMNS"] = previous
        return out


def setup(app):
    app.add_directive("respdor-commands", RespdorCommands)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
