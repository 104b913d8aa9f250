"""Every ``respdor`` command in a shell block of the README and of the docs runs as written.

test_docs_commands.py checks that each documented line parses; this file runs them. The
commands of one page run in order in one scratch folder (so a command may use what an earlier
command on the same page wrote), with ``data/`` of the repository reachable as ``data/`` --
as in a clone of the repository, where the pages tell users to run them. Each must exit 0.

A trailing comment marks the exceptions, and the page says the same to its reader:

* ``# long: ...`` -- takes minutes; run by ``benchmarks/bench_docs_commands.py`` instead;
* ``# needs ...`` -- needs something no test machine has (a cluster's scheduler address);
* ``# exit 2`` -- shows a refusal: must exit with that status.

Commands in the README's ``ci:commands`` block are CI itself and are not run here.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from test_docs_commands import (ROOT, _logical_lines, code_lines, documentation_files, split_commands,
                                subcommand_parsers)

_CI_BLOCK = re.compile(r"<!-- ci:(commands|docs):start -->.*?<!-- ci:\1:end -->", re.S)


def _marker(line: str) -> str:
    match = re.search(r"(?:^|\s)#\s*(long:|needs\b|exit \d+)", line)
    return match.group(1) if match else ""


def page_commands(path: Path):
    """(line number, argv, marker) of the commands in the page's code blocks, in order: the same
    lines test_docs_commands.py parses (in untagged blocks, which also hold program output, a line
    counts when its second word is a sub-command or an option)."""
    text = _CI_BLOCK.sub(lambda m: "\n" * m.group(0).count("\n"), path.read_text(encoding="utf-8"))
    names = set(subcommand_parsers())
    for number, line, strict in _logical_lines(code_lines(text)):
        marker = _marker(line)
        for command in split_commands(line):
            words = shlex.split(command)
            if strict or (len(words) > 1 and (words[1] in names or words[1].startswith("-"))):
                yield number, words[1:], marker


def _pages():
    out = []
    for path in documentation_files():
        commands = list(page_commands(path))
        if commands:
            out.append(pytest.param(path, commands, id=str(path.relative_to(ROOT))))
    return out


PAGES = _pages()


def test_the_pages_hold_commands_to_run():
    runnable = [c for p in PAGES for c in p.values[1] if not c[2]]
    assert len(runnable) >= 25


@pytest.mark.parametrize("path,commands", PAGES)
def test_page_commands_run_as_written(path, commands, tmp_path, monkeypatch, capsys):
    from respdor.cli import main

    os.symlink(ROOT / "data", tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    for number, argv, marker in commands:
        if marker in ("long:", "needs"):
            continue
        expected = int(marker.split()[1]) if marker.startswith("exit") else 0
        status = main(list(argv))
        out = capsys.readouterr()
        assert status == expected, (f"{path.relative_to(ROOT)}:{number}: `respdor {shlex.join(argv)}` exited "
                                    f"{status}, not {expected}:\n{out.err[-2000:]}")
