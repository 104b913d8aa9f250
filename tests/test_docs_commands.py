"""Every ``respdor ...`` command line quoted in the documentation parses with the real parser.

Collected from README.md, data/**/*.md and docs/**/*.md (fenced and indented code blocks, and
inline code) and from the examples in each sub-command's ``--help`` epilog. Each is parsed with
:func:`respdor.cli.build_parser` only; nothing is run, so the test is fast. A renamed or removed
option, a wrong choice or a missing required argument fails here.

Rules for what a documented line may contain (also stated in docs/commands.md):

* options are spelled in full (argparse's prefix matching is switched off for the check);
* a trailing backslash continues the line; ``#`` starts a comment; ``$ `` prompts are stripped;
* ``&&``, ``;`` and ``|`` separate commands; only the ``respdor`` ones are checked;
* ``<`` or ``>`` (a redirection, or a template such as ``<stem>``) ends the command;
* ``...`` stands for elided arguments: after an option it becomes as many values ``1`` as the
  option takes (so the option must exist and take values), anywhere else it is dropped;
* in untagged or indented blocks (which also hold program output) a line counts only when its
  second word is a sub-command or an option;
* inline code (``respdor fit --fix eps=``) is a fragment: its sub-command and each ``--option``
  in it must exist, but required arguments may be left out.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from respdor.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {"_build", "auto_examples"}

_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE = re.compile(r"(?<!`)`(respdor [^`]+)`(?!`)")


def documentation_files(root: Path = ROOT) -> list[Path]:
    """README.md and the Markdown files under docs/ and data/ (build output excluded)."""
    files = [root / "README.md"]
    for folder in ("docs", "data"):
        files += sorted(p for p in (root / folder).rglob("*.md") if not SKIP_DIRS & set(p.parts))
    return [p for p in files if p.is_file()]


def _logical_lines(lines):
    """Join backslash continuations of (number, text, strict); yields the same for whole lines."""
    buf, start = "", None
    for number, line, strict in lines:
        if start is None:
            start = number
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        yield start, buf + line, strict
        buf, start = "", None
    if buf:
        yield start, buf, strict


SHELL_FENCES = {"", "bash", "sh", "shell", "console", "text", "none"}


def code_lines(text: str):
    """(line number, text, strict) of the lines in shell-like fenced or indented code blocks.

    ``strict`` is True in blocks tagged as shell (bash, sh, shell, console): every line there that
    starts with ``respdor`` is a command. Untagged and indented blocks also hold program output
    (``respdor plan: ...``), so there only lines whose second word is a sub-command or an
    option count.
    """
    lines = text.splitlines()
    fence, previous_blank, in_indented = None, True, False
    for i, line in enumerate(lines, 1):
        match = _FENCE.match(line)
        if match:
            fence = None if fence is not None else line.strip()[3:].strip().lower()
            continue
        if fence is not None:
            if fence in SHELL_FENCES:
                yield i, line, fence not in ("", "text", "none")
            continue
        indented = line.startswith("    ") and line.strip() != ""
        if indented and (previous_blank or in_indented):
            in_indented = True
            yield i, line, False
        elif line.strip():
            in_indented = False
        previous_blank = not line.strip()


def commands_in_markdown(path: Path):
    """(where, command text, inline?) for every respdor command quoted in a Markdown file."""
    text = path.read_text(encoding="utf-8")
    rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    names = set(subcommand_parsers())
    for number, line, strict in _logical_lines(code_lines(text)):
        for command in split_commands(line):
            words = command.split()
            if strict or (len(words) > 1 and (words[1] in names or words[1].startswith("-"))):
                yield f"{rel}:{number}", command, False
    in_fence = False
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            for match in _INLINE.finditer(line):
                yield f"{rel}:{number}", match.group(1), True


def split_commands(line: str) -> list[str]:
    """The ``respdor`` commands on one (joined) shell line, comments and prompts removed."""
    line = re.sub(r"(^|\s)#.*$", "", line)
    out = []
    for part in re.split(r"&&|;|\|", line):
        part = part.strip()
        if part.startswith("$ "):
            part = part[2:].strip()
        if part.startswith("respdor ") or part == "respdor":
            out.append(part)
    return out


ELLIPSIS = "..."


def tokens_for_parser(command: str) -> list[str]:
    """argv (without the program name) for a documented command; ``...`` is kept as a marker."""
    command = re.split(r"[<>]", command, maxsplit=1)[0]
    return [ELLIPSIS if w.strip(".") == "" and len(w) >= 3 else w for w in shlex.split(command)[1:]]


def resolve_ellipses(argv: list[str]) -> list[str]:
    """Replace ``...`` after an option by as many placeholder values (``1``) as the option takes."""
    if not argv:
        return argv
    options = subcommand_parsers().get(argv[0])
    options = options._option_string_actions if options is not None else {}
    out = []
    for word in argv:
        if word != ELLIPSIS:
            out.append(word)
            continue
        action = options.get(out[-1]) if out and out[-1].startswith("-") else None
        if action is not None:
            out += ["1"] * (action.nargs if isinstance(action.nargs, int) else 1)
    return out


def subcommand_parsers(parser=None) -> dict:
    """Sub-command name -> its argparse parser."""
    parser = parser or build_parser()
    return next(a.choices for a in parser._actions if isinstance(getattr(a, "choices", None), dict))


def epilog_commands():
    """(where, command) for the example lines in each sub-command's --help epilog."""
    for name, sub in subcommand_parsers().items():
        lines = [(i, line.strip(), True) for i, line in enumerate((sub.epilog or "").splitlines(), 1)]
        for _, line, _ in _logical_lines(lines):
            for command in split_commands(line):
                yield f"respdor {name} --help", command


def fragment_error(argv: list[str]) -> str | None:
    """For inline code such as ``respdor fit --fix eps=``: the sub-command and options exist."""
    subcommands = subcommand_parsers()
    if not argv or argv[0] not in subcommands:
        return f"no sub-command {argv[0] if argv else ''!r}"
    known = subcommands[argv[0]]._option_string_actions
    unknown = [w.split("=", 1)[0] for w in argv[1:] if w.startswith("--") and w.split("=", 1)[0] not in known]
    return f"unknown option(s) {', '.join(unknown)}" if unknown else None


def parse_error(argv: list[str], inline: bool = False) -> str | None:
    """None when ``argv`` parses (or, for inline fragments, names existing options), else why not."""
    argv = resolve_ellipses(argv)
    if inline:
        return fragment_error(argv)
    parser = build_parser()
    subcommands = subcommand_parsers(parser)
    messages = []
    parser.error = lambda message: (messages.append(message), (_ for _ in ()).throw(SystemExit(2)))  # type: ignore
    # Documentation must spell options in full: with argparse's prefix matching a renamed
    # --t2prime would silently parse as --t2prime-from.
    parser.allow_abbrev = False
    for sub in subcommands.values():
        sub.error = parser.error  # type: ignore
        sub.allow_abbrev = False
    try:
        parser.parse_args(argv)
    except SystemExit as exc:
        if exc.code not in (0, None):
            return messages[0] if messages else f"exit status {exc.code}"
    return None


def all_documented_commands():
    found = [(where, command, inline) for path in documentation_files()
             for where, command, inline in commands_in_markdown(path)]
    found += [(where, command, False) for where, command in epilog_commands()]
    return found


DOCUMENTED = all_documented_commands()


def test_documentation_quotes_commands():
    # Guards the extraction itself: the README alone quotes more than ten command lines.
    assert len([c for c in DOCUMENTED if c[0].startswith("README.md")]) >= 10
    assert len(DOCUMENTED) >= 40


@pytest.mark.parametrize("where,command,inline", DOCUMENTED, ids=[f"{w} {c[:60]}" for w, c, _ in DOCUMENTED])
def test_documented_command_parses(where, command, inline, capsys):
    error = parse_error(tokens_for_parser(command), inline)
    capsys.readouterr()  # --help examples print; keep the test output clean
    assert error is None, f"{where}: `{command}` does not parse: {error}"


def test_renamed_option_is_caught():
    # The check must be able to fail: a misspelled option and a missing value are errors.
    assert parse_error(tokens_for_parser("respdor fit curve.csv --obsrve 13C")) is not None
    assert parse_error(tokens_for_parser("respdor plan --observe 13C --snr")) is not None
    assert parse_error(tokens_for_parser("respdor deconvolve SPEC.txt --sites ... --compare SPEC2.txt")) is None
    assert parse_error(tokens_for_parser("respdor fit --metod ratio"), inline=True) is not None
    assert parse_error(tokens_for_parser("respdor fit curve.csv --meth ratio")) is not None  # no prefixes
    assert parse_error(tokens_for_parser("respdor fit --method ratio"), inline=True) is None
