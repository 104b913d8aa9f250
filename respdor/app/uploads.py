"""Where the app keeps what the browser sends, and which paths it will touch (no Panel here).

* Uploads go to a private temporary folder (mode 0700), one sub-folder per upload so that two
  tabs never share a file; the folder is removed when the app ends.
* An upload larger than :data:`MAX_UPLOAD_BYTES` is refused with one line before anything is written.
* A Bruker experiment arrives as a .zip of its directory (a browser uploads files, not folders):
  :meth:`UploadFolder.save_zip` unpacks it into the upload's own sub-folder, refusing a member whose
  name would land outside it (absolute, ``..``, a symbolic link), an archive that unpacks to more than
  :data:`MAX_UNZIPPED_BYTES` (counted as it is written, whatever its headers say) or holds more than
  :data:`MAX_ZIP_MEMBERS` files, and anything that is not a readable zip.
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
#: Largest total size a zipped upload may unpack to (bytes), and most files it may hold: a Bruker
#: experiment directory is a few files of at most tens of MB; more is a zip bomb or the wrong folder.
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_ZIP_MEMBERS = 2000


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
        self._check_size(name, data)
        folder = Path(tempfile.mkdtemp(dir=self.path))
        target = folder / name
        with open(target, "xb") as fh:  # a new, private file: nobody else's
            fh.write(data)
        return target

    def save_experiment(self, name: str, data: bytes, data_file: str):
        """A zipped Bruker experiment (``data_file``: "ser" for a series, "fid" for 1D) unpacked by
        :meth:`save_zip` and found in it: (its directory, the label the page shows). Raises UserError."""
        folder = self.save_zip(name, data)
        experiment = find_experiment(folder, data_file, name)
        return experiment, (str(experiment.relative_to(folder)) if experiment != folder else Path(name).stem)

    def save_zip(self, name: str, data: bytes) -> Path:
        """Unpack a zipped upload into a new sub-folder of its own (never outside it); returns that
        folder. Every refusal is one line naming the upload (nothing of it is kept)."""
        import io
        import zipfile

        name = safe_name(name)
        self._check_size(name, data)
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, OSError, ValueError):
            raise UserError(f"{name}: not a zip archive (a Bruker experiment is uploaded as a .zip of its "
                            "directory)") from None
        folder = Path(tempfile.mkdtemp(dir=self.path))
        try:
            with archive:
                _unpack(name, archive, folder, MAX_UNZIPPED_BYTES)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return folder

    def _check_size(self, name, data):
        if len(data) > self.limit:
            raise UserError(f"{name}: {_megabytes(len(data), up=True)} is more than the upload limit of "
                            f"{_megabytes(self.limit)}; is this the right file?")

    def as_user_sees(self, text: str) -> str:
        """``text`` with the temporary folder of an upload removed from the paths it names."""
        return re.sub(re.escape(str(self.path)) + r"/[^/\s]+/", "", str(text))

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


def _unpack(name, archive, folder: Path, limit: int):
    """Write the members of ``archive`` under ``folder``: names checked before the first byte, sizes
    counted while writing (a header may lie about them)."""
    import stat
    import zipfile

    members = archive.infolist()
    if len(members) > MAX_ZIP_MEMBERS:
        raise UserError(f"{name}: holds {len(members)} files, more than the {MAX_ZIP_MEMBERS} an experiment "
                        "directory needs; refused")
    declared = sum(m.file_size for m in members)
    too_big = (f"{name}: unpacks to more than {_megabytes(limit)} (the limit for a zipped experiment); refused: "
               "is this the right archive?")
    if declared > limit:
        raise UserError(too_big)
    for m in members:
        parts = [p for p in re.split(r"[\\/]", m.filename) if p not in ("", ".")]
        if (m.filename.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", m.filename) or ".." in parts
                or stat.S_ISLNK(m.external_attr >> 16) or not parts):
            raise UserError(f"{name}: the member {m.filename!r} would be unpacked outside its folder; refused")
    written = 0
    try:
        for m in members:
            target = folder.joinpath(*[p for p in re.split(r"[\\/]", m.filename) if p not in ("", ".")])
            if m.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(m) as src, open(target, "xb") as dst:
                while chunk := src.read(1 << 20):
                    written += len(chunk)
                    if written > limit:
                        raise UserError(too_big)
                    dst.write(chunk)
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError) as exc:
        why = getattr(exc, "strerror", None) or " ".join(str(exc).split())[:100] or type(exc).__name__
        raise UserError(f"{name}: cannot unpack ({why})") from None


def find_experiment(folder: Path, data_file: str, label: str) -> Path:
    """The one Bruker experiment directory (``acqus`` and ``data_file``: ``ser`` for a pseudo-2D
    series, ``fid`` for a 1D) under an unpacked upload; none or several: one line naming ``label``."""
    found = sorted({p.parent for p in Path(folder).rglob("acqus") if (p.parent / data_file).is_file()})
    what = "pseudo-2D series (acqus and ser)" if data_file == "ser" else "1D experiment (acqus and fid)"
    if not found:
        raise UserError(f"{label}: no Bruker {what} in the archive")
    if len(found) > 1:
        names = ", ".join(str(p.relative_to(folder)) or "." for p in found[:4])
        raise UserError(f"{label}: holds {len(found)} Bruker experiments ({names}); zip one experiment directory")
    return found[0]


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


def read_uploaded_library(folder: UploadFolder, path):
    """The curve library of an upload (:class:`respdor.library.LibraryShape`), opened as ``respdor fit
    --library`` opens it; a file that is not a complete library (empty, binary, an HDF5 file of
    something else, h5py missing) raises :class:`UserError` with the line the command prints, naming
    the upload as the user named it."""
    try:
        from ..library import LibraryShape
    except ImportError:
        raise UserError("library: simulated libraries are not available in this installation") from None
    try:
        return LibraryShape.open(path)
    except UserError as exc:
        raise UserError(page_words(folder, exc)) from None


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
