"""Where the app keeps what the browser sends, and which paths it will touch (no Panel here).

* Uploads go to a private temporary folder (mode 0700), one sub-folder per upload so that two
  tabs never share a file; the folder is removed when the app ends.
* An upload larger than :data:`MAX_UPLOAD_BYTES` is refused with one line before anything is written.
* A path typed in the browser (the export folder) is used only inside the folder the app was
  started in: :func:`inside_start_folder`.
* Messages of the library name the temporary copy; :meth:`UploadFolder.as_user_sees` names the
  file as the user uploaded it, so the page says what ``respdor fit <file>`` says.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from pathlib import Path

from ..errors import UserError

__all__: list = []

#: Largest upload accepted (bytes): a measured curve or spectrum is far smaller.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def _megabytes(n: int, up=False) -> str:
    """``n`` bytes in MB with one decimal (rounded up for a size compared with a limit: never "20.0 > 20.0")."""
    import math

    tenths = n / 1024 / 1024 * 10
    return f"{(math.ceil(tenths) if up else round(tenths)) / 10:g} MB"


class UploadFolder:
    """A private temporary folder for the uploads of one app process, removed at exit."""

    def __init__(self, limit=MAX_UPLOAD_BYTES):
        self.limit = int(limit)
        self.path = Path(tempfile.mkdtemp(prefix="respdor-app-"))
        os.chmod(self.path, 0o700)
        atexit.register(self.remove)

    def save(self, name: str, data: bytes) -> Path:
        """Write one upload under its own file name in a new sub-folder; returns its path."""
        name = safe_name(name)
        if len(data) > self.limit:
            raise UserError(f"{name}: {_megabytes(len(data), up=True)} is more than the upload limit of "
                            f"{_megabytes(self.limit)}; is this the right file?")
        folder = Path(tempfile.mkdtemp(dir=self.path))
        target = folder / name
        with open(target, "xb") as fh:  # a new, private file: nobody else's
            fh.write(data)
        return target

    def as_user_sees(self, text: str) -> str:
        """``text`` with the temporary folder of an upload removed from the paths it names."""
        return re.sub(re.escape(str(self.path)) + r"/[^/\s]+/", "", str(text))

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


def read_uploaded_curve(folder: UploadFolder, path, time_unit=None, mas_rate_hz=None):
    """The curve of an upload and the lines to show (``read <name>: ...``), read as ``respdor fit``
    reads it; a file that is not a curve raises :class:`UserError` with the line the page shows:
    the one ``respdor fit <name>`` prints, with the page's field names for the arguments it names."""
    import respdor

    try:
        curve = respdor.read_curve(path, time_unit=time_unit, mas_rate_hz=mas_rate_hz)
    except UserError as exc:
        raise UserError(page_words(folder, exc)) from None
    name = Path(path).name
    return curve, [f"read {name}: {len(curve.time_s)} points"] + [f"read {name}: {n}" for n in curve.notes]


def page_words(folder: UploadFolder, text) -> str:
    """A library line as a page says it: an upload named as the user named it, the page's field names
    for the Python arguments the line mentions."""
    from .fitform import in_field_words

    return in_field_words(folder.as_user_sees(text))


def safe_name(name: str) -> str:
    """The last part of an uploaded file's name, without path separators or control characters."""
    base = re.split(r"[\\/]", str(name or ""))[-1]
    base = "".join(c for c in base if c.isprintable()).strip()
    return base if base not in ("", ".", "..") else "upload.txt"


def inside_start_folder(text: str, start) -> Path:
    """The folder or file ``text`` (typed in the browser; relative to ``start``) if it lies inside
    the folder the app was started in, after following symbolic links; else a one-line refusal."""
    start = Path(start).resolve()
    text = str(text or "").strip() or "."
    path = Path(os.path.realpath(start / text))
    if path != start and start not in path.parents:
        raise UserError(f"{text}: outside the folder the app was started in ({start}); the app reads and "
                        "writes only inside it")
    return path
