"""The one way in and out for user files: text reading, and outputs planned, checked, written atomically.

Reading: :func:`read_text` gives the text of a user file with a byte-order mark removed and CRLF /
CR line ends read as LF, and names a missing file, a directory given as a file, a device or socket
given as a file (a pipe is read) and a binary file in one line. Every text reader of the package
(curves, spectra, manifolds, vclists, parameter files) goes through it, so they all behave the same;
it is spinsim's guard (:mod:`spinsim.textfile`), which spinsim's own readers use too.

Writing: an :class:`OutputPlan` collects every file a command will write, and :meth:`OutputPlan.check`
refuses the whole plan, before the first byte is written, when an output

* is an input file or lies inside an input data-set directory (a Bruker experiment),
* is an existing directory, or its parent directory is missing, a file, or not writable,
* exists but is read-only (the user protected it: it is not replaced behind their back),
* is not a regular file: a character or block device (``/dev/null``, ``/dev/full``), a FIFO, a
  socket, a symbolic link to one of these, a dangling symbolic link or a link loop,
* is a figure whose extension matplotlib cannot write,
* is the same file as another output of the same run.

Files are then written through :func:`atomic_write` / :meth:`OutputPlan.save_figure`: to a
temporary file beside the target, renamed over it only when complete, so an interrupted or
failed run leaves no half-written result.

Symbolic links: an output that is a symbolic link to a regular file is written *through* the link:
the file the link points to receives the new content (atomically, beside itself) and the link is
kept as the user made it, as a shell's ``>`` would. A link is never replaced by a file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from spinsim import textfile

from .errors import DataFileError, UserError

__all__ = ["read_text", "OutputPlan", "atomic_write", "atomic_path", "partial_path", "resumable_output",
           "write_output", "figure_formats", "write_figure", "os_error_hint"]

#: Largest magnitude accepted for a measured value (intensity, time, noise): squares and sums of
#: larger values overflow float64 in a least-squares fit (1e300**2 = inf), so they are refused.
MAX_ABS_VALUE = 1e100


def read_text(path, what="text file") -> str:
    """The text of a user file, BOM removed, line ends normalised to ``\\n``.

    The guard is spinsim's (:func:`spinsim.textfile.read_text`), shared with the spinsim readers;
    here its refusals are :class:`DataFileError`.

    Parameters
    ----------
    path : str or Path
        The file.
    what : str
        What the file should be (``"curve file"``, ``"vclist"``): used in the messages.

    Returns
    -------
    str

    Raises
    ------
    DataFileError
        Missing file, a directory, a device or socket, a binary (a NUL byte, or not UTF-8) file;
        the message names the path (and the line of a bad byte).
    """
    try:
        return textfile.read_text(path, what)
    except textfile.TextFileError as exc:
        raise DataFileError(exc.path, exc.reason, line=exc.line) from None


#: The one line said when a run runs out of memory (the command line maps MemoryError to it).
MEMORY_MESSAGE = ("not enough memory for this run; reduce the grid or the sizes asked for "
                  "(e.g. --powder, --gamma, --monte-carlo)")


def os_error_hint(err) -> str | None:
    """What to do about an OS error that comes from the machine or the user's files, else None.

    Parameters
    ----------
    err : int or None
        ``OSError.errno``. Disk full or over quota, permission denied, read-only file system, a
        file that vanished, an I/O failure, too many open files, no memory: each has a hint;
        any other errno (or None) is not classified, and an unexpected one stays a bug.
    """
    full = "free some space or write elsewhere"
    denied = "check the permissions, or choose another place"
    gone = "was it moved or deleted while respdor ran?"
    broken = "the disk or network file system failed; try again or use another place"
    busy = "the file is in use; try again"
    e = errno
    return {e.ENOSPC: full, e.EDQUOT: full, e.EFBIG: full, e.EACCES: denied, e.EPERM: denied,
            e.EROFS: "the file system is read-only; choose another place", e.ENOENT: gone, e.ESTALE: gone,
            e.ENOTDIR: "a part of the path is not a directory", e.EISDIR: "give a file, not a directory",
            e.ENAMETOOLONG: "use a shorter name", e.ELOOP: "a loop of symbolic links", e.EIO: broken,
            e.ENXIO: broken, e.ENODEV: broken, e.EBUSY: busy, e.ETXTBSY: busy,
            e.EMFILE: "too many open files; raise the limit (ulimit -n)",
            e.ENFILE: "too many open files on the system", e.ENOMEM: MEMORY_MESSAGE}.get(err)


def figure_formats() -> dict:
    """File extensions matplotlib can write, mapped to their description."""
    from matplotlib.backend_bases import FigureCanvasBase

    return FigureCanvasBase.get_supported_filetypes()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path, mode="w", **open_kwargs):
    """Open a temporary file beside ``path``; on success rename it to ``path``, else delete it.

    An exception (including KeyboardInterrupt) inside the ``with`` block leaves ``path`` as it was.
    A symbolic link is written through (its target gets the content, the link stays); a path that
    is not a regular file (device, FIFO, socket) is refused, whatever the caller checked before.
    """
    path = _writable_target(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path`` (same extension); rename it to ``path`` on success.

    For writers that take a file name (``savefig``, ``np.savetxt``): the temporary name keeps
    the extension, so the format is inferred as for ``path``. On an exception (including
    KeyboardInterrupt) the temporary file is removed and ``path`` is left as it was. Links and
    special files as in :func:`atomic_write`.
    """
    path = _writable_target(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".part{path.suffix}")
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _not_a_regular_file(path) -> str | None:
    """Why ``path`` cannot be an output file, or None when it is a regular file or absent.

    Follows symbolic links: a link to a device is a device; a link to nothing (dangling) or a
    loop of links is named as such.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            return f"is a symbolic link to {os.readlink(path)}, which does not exist"
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a loop of symbolic links"
        if exc.errno == errno.ENOTDIR:
            return None  # a parent is a file: said by the parent-directory check
        return f"cannot be examined: {exc.strerror}"
    kind = textfile.special_file_kind(st.st_mode)
    if kind:
        via = f"a symbolic link to {os.path.realpath(path)}, " if os.path.islink(path) else ""
        return f"is {via}{kind}, not a regular file"
    return None


def _writable_target(path) -> Path:
    """The file that writing ``path`` replaces: the target of a symbolic link, else ``path``."""
    why = _not_a_regular_file(path)
    if why:
        raise UserError(f"{path}: {why}; refusing to write to it")
    return Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)


def partial_path(path) -> Path:
    """Work file of a resumable output: ``<name>.partial`` beside it."""
    path = Path(path)
    return path.with_name(path.name + ".partial")


@contextlib.contextmanager
def resumable_output(path):
    """Yield the work file of an output built in steps that a rerun may resume (a curve library).

    The work goes to :func:`partial_path`, which an interrupted or failed run keeps so that the
    same command resumes it; ``path`` itself appears only when the block succeeds, renamed whole
    over any old file. So ``path`` is never half-written, and nothing is renamed after Ctrl-C.
    """
    target = _writable_target(path)  # a device or a link to one is refused, a link's target replaced
    work = partial_path(path)
    yield work
    _refuse_after_ctrl_c()
    os.chmod(work, 0o666 & ~_umask())
    os.replace(work, target)


def write_output(path, text, inputs=(), option="output"):
    """Check one output against ``inputs`` (see :class:`OutputPlan`) and write ``text`` atomically.

    The guarded writer behind the library's ``write_*`` functions.
    """
    plan = OutputPlan(inputs)
    target = plan.add(path, option)
    plan.check()
    plan.write_text(target, text)
    return target


def write_figure(fig, path, inputs=(), option="figure", **savefig_kwargs):
    """Check one figure output against ``inputs`` (see :class:`OutputPlan`) and save it atomically.

    The guarded ``savefig`` behind the library's plotting functions; the format is the extension's.
    """
    plan = OutputPlan(inputs)
    target = plan.add(path, option, "figure")
    plan.check()
    plan.save_figure(fig, target, **savefig_kwargs)
    return target


def _refuse_after_ctrl_c():
    """Raise KeyboardInterrupt if Ctrl-C was pressed during the run but swallowed on the way
    (e.g. printed as "Exception ignored in ..." by a finalizer): a run the user interrupted
    writes nothing. The command line's SIGINT handler counts the presses in ``hits``."""
    import signal

    if getattr(signal.getsignal(signal.SIGINT), "hits", 0):
        raise KeyboardInterrupt


def _inside(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents


def _resolve(path) -> Path:
    """Absolute path with every symbolic link resolved; a link loop is left as it is (no error)."""
    return Path(os.path.realpath(path))


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


#: Extensions that name a figure or a binary file: a text output under such a name opens as garbage.
_NOT_TEXT = {**{f".{e}": "a figure" for e in ("png", "pdf", "svg", "jpg", "jpeg", "tif", "tiff", "eps", "ps")},
             ".h5": "an HDF5 file", ".hdf5": "an HDF5 file"}


class OutputPlan:
    """Every file one run will write, checked together before anything is written.

    Parameters
    ----------
    inputs : iterable of str or Path
        Input files and input data-set directories (None entries are ignored).
    no_files : bool
        ``--no-files``: :meth:`add` accepts outputs but the plan writes none of them.
    """

    def __init__(self, inputs=(), no_files=False):
        self.inputs = [Path(p) for p in inputs if p is not None]
        self.no_files = no_files
        self.outputs = []  # (option, Path, kind)
        self.directories = []  # (option, Path): output directories created when missing

    def add_input(self, path):
        """Also protect ``path`` (a file or a data-set directory)."""
        if path is not None:
            self.inputs.append(Path(path))

    def add(self, path, option, kind="text", stdout=False):
        """Plan one output; ``kind`` is ``"text"``, ``"binary"`` or ``"figure"``.

        Returns the path to write to, or None when nothing is written (``--no-files``, or ``-``
        meaning standard output). ``-`` is accepted only when ``stdout`` says the caller prints
        that output to standard output itself; otherwise it is refused, since nothing would be
        written anywhere.
        """
        if path is not None and str(path) == "-" and not stdout:
            raise UserError(f"{option} -: this output cannot go to standard output; give a file name")
        if path is None or str(path) == "-" or self.no_files:
            return None
        path = Path(path)
        self.outputs.append((option, path, kind))
        return path

    def add_directory(self, path, option):
        """An output directory that is created (with its parents) when missing."""
        if not self.no_files:
            self.directories.append((option, Path(path)))

    def check(self):
        """Raise :class:`UserError` naming the option and path of the first output that cannot be written.

        Only regular files (new or existing, or symbolic links to existing regular files, which
        are written through) and directories for :meth:`add_directory` pass; see the module doc.
        """
        inputs = [(p, _resolve(p)) for p in self.inputs]
        # A file of a Bruker experiment (acqus beside it) protects the whole data set.
        inputs += [(p.parent, r.parent) for p, r in list(inputs) if r.is_file() and (r.parent / "acqus").is_file()]
        for option, d in self.directories:
            if os.path.islink(d) and not d.exists():
                raise UserError(f"{option} {d}: is a symbolic link to {os.readlink(d)}, which does not exist")
            if d.exists() and not d.is_dir():
                raise UserError(f"{option} {d}: exists and is not a directory")
            self._check_parent_writable(option, d, _nearest_existing(_resolve(d)))
            for given, resolved in inputs:
                if resolved.is_dir() and _inside(_resolve(d), resolved):
                    raise UserError(f"{option} {d}: lies inside the input data set {given}; choose another directory")
        seen = {}
        formats = None
        for option, path, kind in self.outputs:
            why = _not_a_regular_file(path)
            if why:
                raise UserError(f"{option} {path}: {why}; give the name of a regular file")
            target = _resolve(path)
            for given, resolved in inputs:
                if target == resolved:
                    raise UserError(f"{option} {path}: is an input file; refusing to overwrite an input file")
                if resolved.is_dir() and _inside(target, resolved):
                    raise UserError(f"{option} {path}: lies inside the input data set {given}; "
                                    "refusing to write into raw data")
            if target in seen:
                raise UserError(f"{option} {path}: the same file as {seen[target]}; give them different names")
            seen[target] = f"{option} {path}"
            if target.is_dir():
                raise UserError(f"{option} {path}: is a directory; give a file name")
            if target.is_file() and not os.access(target, os.W_OK):
                raise UserError(f"{option} {path}: the file is read-only; refusing to replace it "
                                "(make it writable, or give another name)")
            if kind == "text" and path.suffix.lower() in _NOT_TEXT:
                raise UserError(f"{option} {path}: this output is text (CSV/JSON) but {path.suffix!r} names "
                                f"{_NOT_TEXT[path.suffix.lower()]}; give it a .csv, .json or .txt name")
            if kind == "figure":
                formats = formats or figure_formats()
                ext = path.suffix.lower().lstrip(".")
                if ext not in formats:
                    known = ", ".join(sorted(formats))
                    what = f"unknown figure format {path.suffix!r}" if ext else "no file extension"
                    raise UserError(f"{option} {path}: {what}; use one of {known}")
            parent = target.parent
            if any(parent == _resolve(d) for _, d in self.directories):
                continue  # created when missing; checked above (a folder below it is not created: checked here)
            if not parent.exists():
                raise UserError(f"{option} {path}: directory {path.parent} does not exist")
            if not parent.is_dir():
                raise UserError(f"{option} {path}: {path.parent} is not a directory")
            self._check_parent_writable(option, path, parent)

    @staticmethod
    def _check_parent_writable(option, path, parent):
        if not parent.is_dir():
            raise UserError(f"{option} {path}: {parent} is not a directory")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise UserError(f"{option} {path}: directory {parent} is not writable")

    def make_directories(self):
        """Create the planned output directories (after :meth:`check`)."""
        for option, d in self.directories:
            try:
                d.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"{option} {d}: cannot create the directory: {exc.strerror}") from None

    def _planned(self, path):
        target = _resolve(path)
        for option, p, _ in self.outputs:
            if _resolve(p) == target:
                return f"{option} {path}"
        raise RuntimeError(f"output {path} was not planned")  # a bug: every output must be planned

    def write_text(self, path, text):
        """Write ``text`` (UTF-8) atomically to a planned path; None writes nothing."""
        if path is None:
            return
        named = self._planned(path)
        _refuse_after_ctrl_c()
        self.make_directories()
        with self._os_errors(named), atomic_write(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)

    @contextlib.contextmanager
    def writing(self, path):
        """Yield a temporary name for a planned output, renamed to ``path`` when the block succeeds.

        ``path`` None (``--no-files``, standard output) yields None: the caller writes nothing.
        """
        if path is None:
            yield None
            return
        named = self._planned(path)
        _refuse_after_ctrl_c()
        self.make_directories()
        with self._os_errors(named), atomic_path(path) as tmp:
            yield tmp

    def save_figure(self, fig, path, **kwargs):
        """Save a matplotlib figure atomically to a planned path, in the format its extension names."""
        if path is None:
            return
        named = self._planned(path)
        _refuse_after_ctrl_c()
        self.make_directories()
        fmt = Path(path).suffix.lower().lstrip(".")
        with self._os_errors(named), atomic_write(path, "wb") as fh:
            fig.savefig(fh, format=fmt, **kwargs)

    @staticmethod
    @contextlib.contextmanager
    def _os_errors(named):
        try:
            yield
        except OSError as exc:
            hint = os_error_hint(exc.errno)
            raise UserError(f"{named}: cannot write: {exc.strerror or exc}" + (f" ({hint})" if hint else "")) from None
