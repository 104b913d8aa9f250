"""The one guard in front of every text file a user gives (specs, crystallite files, magres, SIMPSON
output; respdor's curve, spectrum and parameter files go through it as well).

:func:`read_text` returns the text with a byte-order mark removed and CRLF / CR line ends read as
LF, or raises :class:`TextFileError` naming, in one line, a missing file, a directory given as a file,
a device or socket given as a file (``/dev/zero`` would be read until memory runs out; a pipe is
read), a file that cannot be read, a binary file (a NUL byte anywhere, or bytes that are not UTF-8,
with the line), and -- when the caller asks -- an empty file. So every reader behaves the same on a
damaged or mistaken file, and each reader only says what is wrong with the content.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["TextFileError", "read_text", "special_file_kind"]


class TextFileError(ValueError):
    """A file that cannot be read as text; ``str()`` is one line ``path[:line]: reason``.

    Attributes
    ----------
    path : str
    reason : str
        The message without the path.
    line : int or None
        1-based line where the problem is, when there is one.
    kind : str
        ``"missing"``, ``"directory"``, ``"device"``, ``"unreadable"``, ``"binary"``, ``"encoding"``
        or ``"empty"``: what a caller may word in its own terms.
    """

    def __init__(self, path, reason, line=None, kind=""):
        self.path, self.reason, self.line, self.kind = str(path), reason, line, kind
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


_SPECIAL_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                  (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))


def special_file_kind(mode) -> str | None:
    """``"a character device"``, ``"a block device"``, ``"a FIFO (named pipe)"``, ``"a socket"`` for
    an ``st_mode`` that is one of these, else None."""
    return next((kind for test, kind in _SPECIAL_KINDS if test(mode)), None)


def _device_kind(path) -> str | None:
    """What a device or socket is (links followed), else None; a FIFO is None: it is read like a file."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # the read itself names what is wrong
    return None if stat.S_ISFIFO(mode) else special_file_kind(mode)


def read_text(path, what="text file", allow_empty=True) -> str:
    """The text of a user file, BOM removed, line ends normalised to ``\\n``.

    Parameters
    ----------
    path : str or Path
        The file.
    what : str
        What the file should be (``"crystallite file"``, ``"SIMPSON fsave file"``): used in the messages.
    allow_empty : bool
        False: a file with nothing but white space is refused ("is empty").

    Returns
    -------
    str

    Raises
    ------
    TextFileError
        Missing file, a directory, a device or socket, an unreadable, binary (a NUL byte, or not
        UTF-8) or (``allow_empty=False``) empty file; the message names the path and, for an
        encoding error or a NUL byte, the line.
    """
    path = Path(path)
    if not path.exists():
        raise TextFileError(path, "no such file", kind="missing")
    if path.is_dir():
        raise TextFileError(path, f"is a directory, not a {what}", kind="directory")
    device = _device_kind(path)
    if device:
        raise TextFileError(path, f"is {device}, not a {what}", kind="device")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TextFileError(path, f"cannot read the {what}: {exc.strerror}", kind="unreadable") from None
    nul = data.find(b"\x00")
    if nul >= 0:  # valid UTF-8, but no text file of ours holds one: a binary or damaged file
        raise TextFileError(path, f"is a binary file, not a {what}", line=data[:nul].count(b"\n") + 1,
                            kind="binary")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TextFileError(path, f"is not UTF-8 text (binary file?), expected a {what}", line=line,
                            kind="encoding") from None
    # A BOM in the middle (concatenated files) or a stray one after utf-8-sig is removed as well.
    text = text.replace("\ufeff", "").replace("\r\n", "\n").replace("\r", "\n")
    if not allow_empty and not text.strip():
        raise TextFileError(path, f"is empty, not a {what}", kind="empty")
    return text
