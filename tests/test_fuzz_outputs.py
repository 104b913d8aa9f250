"""Fuzz table: outputs that are not regular files, and ordinary situations of the machine.

1. An output named as a device (``/dev/null``, ``/dev/full``), a FIFO, a socket, a symbolic link to
   one of these, a dangling link or a link loop is refused by the one output guard before any
   work: exit 2, one line naming the option and the path, the special file still what it was,
   inputs byte-identical, nothing left in the output directory. A link to a regular file is
   written through (the link stays a link).
2. Disk full, permission denied, read-only file system, a vanished file, memory exhausted, no
   writable numba cache: one line, exit 2, never "internal error"; a cache directory that cannot
   be written makes the run go on without the cache, said in one warning. A real bug still says so.

Runs in-process like ``test_fuzz_cli.py``; every refused command stops at its output check, so
nothing here simulates more than a few tiny curves.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from respdor import simcache
from respdor.cli import main

from test_fuzz_cli import SMALL_SPEC, _hashes

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="devices, FIFOs and sockets are POSIX")


@pytest.fixture()
def ws(tmp_path):
    """Inputs in ``in/``, an empty ``out/``, and special files in ``sp/``."""
    inp, out, sp = tmp_path / "in", tmp_path / "out", tmp_path / "sp"
    for d in (inp, out, sp):
        d.mkdir()
    (inp / "curve.csv").write_bytes((DATA / "respdor_13C27Al_synthetic.csv").read_bytes())
    (inp / "spec.toml").write_text(SMALL_SPEC)
    (inp / "iso.txt").write_bytes((DATA / "pass_113Cd_synthetic" / "isotropic_1cycle.txt").read_bytes())
    (inp / "model.xyz").write_bytes((DATA / "al_carboxylate_model.xyz").read_bytes())
    (inp / "manifold.csv").write_text("order,intensity,sigma\n" + "".join(
        f"{k},{np.exp(-0.3 * k * k):.6f},0.001\n" for k in range(-4, 5)))
    os.mkfifo(sp / "fifo")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(sp / "sock"))
    (sp / "to_null").symlink_to("/dev/null")
    (sp / "to_fifo").symlink_to(sp / "fifo")
    (sp / "dangling").symlink_to(sp / "nothing_here.csv")
    (sp / "loop_a").symlink_to(sp / "loop_b")
    (sp / "loop_b").symlink_to(sp / "loop_a")
    yield tmp_path
    sock.close()


# special file -> (path relative to the workspace or absolute, words the message must contain)
SPECIAL = {
    "dev-null": ("/dev/null", "character device"),
    "dev-full": ("/dev/full", "character device"),
    "fifo": ("sp/fifo", "fifo"),
    "socket": ("sp/sock", "socket"),
    "link-to-dev-null": ("sp/to_null", "symbolic link to /dev/null, a character device"),
    "link-to-fifo": ("sp/to_fifo", "fifo"),
    "dangling-link": ("sp/dangling", "does not exist"),
    "link-loop": ("sp/loop_a", "loop of symbolic links"),
}

PLAN = ["plan", "--distance", "2.5", "--fraction", "0.24", "--snr", "40", "--scans", "64", "--recycle", "5",
        "--t2prime", "8ms", "--target-distance-error", "0.1", "--mas", "10k"]
# command -> (argv before the output option, the option, argv after)
COMMANDS = {
    "simulate-o": (["simulate", "{in}/spec.toml"], "--output", ["--plot", "none"]),
    "simulate-plot": (["simulate", "{in}/spec.toml", "-o", "{out}/s.csv"], "--plot", []),
    "simulate-json": (["simulate", "{in}/spec.toml", "-o", "{out}/s.csv", "--plot", "none"], "--json", []),
    "fit-json": (["fit", "{in}/curve.csv", "--no-intervals", "--output-dir", "{out}"], "--json", []),
    "fit-plot": (["fit", "{in}/curve.csv", "--no-intervals", "--output-dir", "{out}"], "--plot", []),
    "plan-csv": (PLAN, "--csv", []),
    "plan-figure": (PLAN, "--figure", []),
    "csa-fit-plot": (["csa-fit", "{in}/manifold.csv", "--mas", "8k", "--larmor", "88.8MHz"], "--plot", []),
    "csa-fit-json": (["csa-fit", "{in}/manifold.csv", "--mas", "8k", "--larmor", "88.8MHz"], "--json", []),
    "structure-o": (["structure", "{in}/model.xyz", "--observe", "C", "--partner", "27Al"], "--output", []),
    "library-build-o": (["library", "build", "{in}/spec.toml", "--vary", "cq=2:4MHz:3"], "--output", []),
    "deconvolve-csv": (["deconvolve", "{in}/iso.txt", "--sites", "-50", "-320"], "--csv", []),
    "pass-timings-json": (["pass-timings"], "--json", []),
}


def _kind(path):
    return stat.S_IFMT(os.lstat(path).st_mode)


def _run(argv, capsys):
    status = main(argv)
    cap = capsys.readouterr()
    return status, cap.out, cap.err


def _fill(argv, ws):
    return [a.replace("{in}", str(ws / "in")).replace("{out}", str(ws / "out")) for a in argv]


def _special_path(ws, name):
    given, words = SPECIAL[name]
    path = Path(given) if given.startswith("/") else ws / given
    if given.startswith("/dev/") and not path.exists():
        pytest.skip(f"{given} is not on this system")
    return path, words


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("special", list(SPECIAL))
def test_output_that_is_not_a_regular_file_is_refused(ws, capsys, command, special):
    path, words = _special_path(ws, special)
    before, before_kind = _hashes(ws / "in"), _kind(path)
    head, option, tail = COMMANDS[command]
    status, out, err = _run(_fill(head, ws) + [option, str(path)] + _fill(tail, ws), capsys)
    lines = err.strip().splitlines()
    assert status == 2, err
    assert len(lines) == 1 and lines[0].startswith("respdor: error: "), err
    assert f"{option} {path}" in lines[0] and words in lines[0].lower(), lines[0]
    assert "Traceback" not in out + err and "internal error" not in err
    assert "wrote" not in out + err and "compiling" not in err  # refused before any work
    assert _kind(path) == before_kind, "the special file was replaced"
    assert _hashes(ws / "in") == before and list((ws / "out").iterdir()) == []


@pytest.mark.parametrize("case", ["fifo-in", "link-in-to-dev-null", "dangling-in", "cry-beside-is-fifo"])
def test_simpson_export_to_special_files_is_refused(ws, capsys, case):
    """--export-simpson FILE.in writes FILE.in and FILE.cry: either being special is refused."""
    sp = ws / "sp"
    name = {"fifo-in": "a.in", "link-in-to-dev-null": "b.in", "dangling-in": "c.in", "cry-beside-is-fifo": "d.in"}
    if case == "fifo-in":
        os.mkfifo(sp / "a.in")
    elif case == "link-in-to-dev-null":
        (sp / "b.in").symlink_to("/dev/null")
    elif case == "dangling-in":
        (sp / "c.in").symlink_to(sp / "gone.in")
    else:
        os.mkfifo(sp / "d.cry")
    target = sp / name[case]
    bad = sp / "d.cry" if case == "cry-beside-is-fifo" else target
    kinds = {p.name: _kind(p) for p in sp.iterdir()}
    status, out, err = _run(["simulate", str(ws / "in" / "spec.toml"), "--export-simpson", str(target)], capsys)
    assert status == 2 and err.count("\n") == 1 and f"--export-simpson {bad}" in err, err
    assert "regular file" in err or "does not exist" in err, err
    assert {p.name: _kind(p) for p in sp.iterdir()} == kinds and "wrote" not in out + err


@pytest.mark.parametrize("special", ["dev-null", "fifo", "dangling-link"])
def test_output_directory_that_is_not_a_directory_is_refused(ws, capsys, special):
    path, _ = _special_path(ws, special)
    status, out, err = _run(["fit", str(ws / "in" / "curve.csv"), "--no-intervals", "--output-dir", str(path)], capsys)
    assert status == 2 and err.count("\n") == 1 and f"--output-dir {path}" in err, err
    assert "Traceback" not in out + err and "wrote" not in out + err
    assert not (ws / "sp" / "nothing_here.csv").exists()


def test_link_to_a_regular_file_is_written_through_and_kept(ws, capsys):
    target = ws / "out" / "plan.csv"
    target.write_text("old\n")
    link = ws / "link.csv"
    link.symlink_to(target)
    status, out, err = _run(PLAN + ["--csv", str(link)], capsys)
    assert status == 0, err
    assert link.is_symlink() and os.readlink(link) == str(target), "the user's link was replaced"
    assert target.read_text().startswith("design,t_rec_ms,")
    assert sorted(p.name for p in (ws / "out").iterdir()) == ["plan.csv"], "a temporary file was left"


def test_link_to_an_input_is_refused_as_the_input(ws, capsys):
    (ws / "link.csv").symlink_to(ws / "in" / "curve.csv")
    before = _hashes(ws / "in")
    status, _, err = _run(["fit", str(ws / "in" / "curve.csv"), "--no-intervals", "--output-dir", str(ws / "out"),
                           "--json", str(ws / "link.csv")], capsys)
    assert status == 2 and "refusing to overwrite an input file" in err, err
    assert _hashes(ws / "in") == before and (ws / "link.csv").is_symlink()


def test_atomic_writers_refuse_a_special_file_on_their_own(ws):
    """Second line of defence: a writer handed a device or FIFO by a caller that did not check."""
    from respdor.errors import UserError
    from respdor.files import atomic_path, atomic_write

    for name in ("fifo", "link-to-fifo", "dangling-link"):
        path, _ = _special_path(ws, name)
        kind = _kind(path)
        with pytest.raises(UserError, match="refusing to write"):
            with atomic_write(path) as fh:
                fh.write("x")
        with pytest.raises(UserError, match="refusing to write"):
            with atomic_path(path):
                pass
        assert _kind(path) == kind
    assert sorted(p.name for p in (ws / "sp").iterdir()) == sorted(
        ["fifo", "sock", "to_null", "to_fifo", "dangling", "loop_a", "loop_b"])


# ---------------------------------------------------------------- the machine, not a bug

def _raising(exc):
    def run(args):
        raise exc
    return run


ENVIRONMENT = [
    ("disk-full", OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/out.csv"), "no space left"),
    ("quota", OSError(errno.EDQUOT, os.strerror(errno.EDQUOT), "/data/out.csv"), "quota"),
    ("permission-input", PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/data/curve.csv"),
     "permission denied"),
    ("permission-op", PermissionError(errno.EPERM, os.strerror(errno.EPERM), "/data/lib.h5"), "not permitted"),
    ("read-only-fs", OSError(errno.EROFS, os.strerror(errno.EROFS), "/data/lib.h5"), "read-only"),
    ("vanished", FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), "/data/curve.csv"), "moved or deleted"),
    ("io-error", OSError(errno.EIO, os.strerror(errno.EIO), "/net/curve.csv"), "input/output"),
    ("too-many-files", OSError(errno.EMFILE, os.strerror(errno.EMFILE)), "ulimit"),
    ("h5py-style", OSError(errno.ENOSPC, "Unable to synchronously create file (file write failed: time = Sun Dec "
                                         "6 15:57:55 2026 , filename = '/data/lib.h5', file descriptor = 3, errno = "
                                         "28, error message = 'No space left on device', buf = 0x55dcdd11dc18)"),
     "/data/lib.h5: no space left on device (free some space"),
    ("memory", MemoryError(), "not enough memory"),
    ("numpy-too-big", ValueError("Maximum allowed dimension exceeded"), "not enough memory"),
    ("numba-no-cache", RuntimeError("cannot cache function 'f': no locator available for file '/x/_kernels.py'"),
     "numba_cache_dir"),
]


@pytest.mark.parametrize("exc,words", [c[1:] for c in ENVIRONMENT], ids=[c[0] for c in ENVIRONMENT])
def test_ordinary_situations_are_one_line_exit_2(monkeypatch, capsys, exc, words):
    import respdor.cli.convert as convert

    monkeypatch.setattr(convert, "run", _raising(exc))
    status, out, err = _run(["convert", "--pair", "13C", "27Al", "--distance", "3"], capsys)
    assert status == 2, err
    assert err.count("\n") == 1 and err.startswith("respdor: error: ") and words in err.lower(), err
    assert "internal error" not in err and "Traceback" not in err
    if getattr(exc, "filename", None):
        assert exc.filename in err


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyError("x"), OSError("no errno"),
                                 OSError(errno.EINVAL, "Invalid argument"), ValueError("could not broadcast")],
                         ids=["runtime", "keyerror", "oserror-no-errno", "einval", "valueerror"])
def test_a_real_bug_is_still_reported_as_one(monkeypatch, capsys, exc):
    import respdor.cli.convert as convert

    monkeypatch.setattr(convert, "run", _raising(exc))
    status, _, err = _run(["convert", "--pair", "13C", "27Al", "--distance", "3"], capsys)
    assert status == 1 and "internal error" in err and "This is a bug" in err, err


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EIO])
def test_write_failing_half_way_is_one_line_and_leaves_nothing(ws, capsys, monkeypatch, err):
    """The disk fills (or turns read-only, or fails) after the check, while the file is written."""
    import respdor.files as files

    def fails(src, dst):
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(files.os, "replace", fails)
    out = ws / "out" / "p.csv"
    status, _, stderr = _run(PLAN + ["--csv", str(out)], capsys)
    line = [ln for ln in stderr.splitlines() if ln.startswith("respdor: error")]
    assert status == 2 and len(line) == 1, stderr
    assert f"--csv {out}: cannot write: {os.strerror(err)}" in line[0] and "(" in line[0], line
    assert "internal error" not in stderr and "Traceback" not in stderr
    assert list((ws / "out").iterdir()) == [], "a temporary or partial file was left"


def test_vanished_input_between_check_and_read(ws, capsys, monkeypatch):
    """The curve is there when the command starts and gone when it is read."""
    real = Path.read_bytes

    def vanish(self):
        if self.name == "curve.csv":
            self.unlink()
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", vanish)
    status, _, err = _run(["fit", str(ws / "in" / "curve.csv"), "--no-files"], capsys)
    assert status == 2 and err.count("\n") == 1 and "curve.csv" in err and "internal error" not in err, err


def _unwritable_cache_dirs(tmp_path):
    """Cache directories that cannot be written: below a regular file (also for root), read-only mode."""
    (tmp_path / "a_file").write_text("not a directory\n")
    dirs = {"below-a-file": tmp_path / "a_file" / "tables"}
    if os.geteuid() != 0:  # root writes into a mode-555 directory anyway
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        dirs["read-only"] = ro / "tables"
    return dirs


def test_unwritable_cache_is_said_once_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
    (tmp_path / "curve.csv").write_bytes((DATA / "respdor_13C27Al_synthetic.csv").read_bytes())
    (tmp_path / "spec.toml").write_text(SMALL_SPEC)
    argv = ["fit", str(tmp_path / "curve.csv"), "--simulate", str(tmp_path / "spec.toml"), "--no-files",
            "--no-intervals", "--json", "-"]
    results = {}
    for name, d in {"writable": tmp_path / "cache", **_unwritable_cache_dirs(tmp_path)}.items():
        monkeypatch.setenv(simcache.ENV_VAR, str(d))
        status, out, err = _run(argv, capsys)
        assert status == 0, err
        said = [ln for ln in err.splitlines() if "simulation cache" in ln]
        if name == "writable":
            assert said == [] and list(d.glob("*.npz")), err
        else:
            assert len(said) == 1 and said[0].startswith("respdor: warning: ") and str(d) in said[0], err
            assert f"set {simcache.ENV_VAR}" in said[0]
        results[name] = json.loads(out[out.index("{"):])["coupling_hz"]["value"]
    assert len(results) >= 2
    assert len({round(v, 9) for v in results.values()}) == 1, results  # the cache changes no number


def test_cache_save_and_load_when_the_directory_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(simcache, "_DISABLED", None)
    monkeypatch.setenv(simcache.ENV_VAR, str(tmp_path / "c"))

    def full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "savez", full)
    with pytest.warns(UserWarning, match="No space left on device.*running without it") as got:
        assert simcache.save("k1", {"y": np.ones(2)}, {}) is None
        assert simcache.save("k2", {"y": np.ones(2)}, {}) is None  # said once
        assert simcache.load("k1") is None
    assert len(got) == 1 and list((tmp_path / "c").iterdir()) == []  # no temporary file left
    monkeypatch.undo()
    monkeypatch.setenv(simcache.ENV_VAR, str(tmp_path / "other"))  # another directory: tried afresh
    assert simcache.save("k3", {"y": np.ones(2)}, {}) is not None


def test_numba_with_no_writable_cache_directory_is_one_line(tmp_path):
    """A real child whose numba finds no writable place for its kernel cache (also as root)."""
    (tmp_path / "spec.toml").write_text(SMALL_SPEC)
    (tmp_path / "a_file").write_text("")
    env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_CACHE_DIR=str(tmp_path / "a_file" / "numba"),
               NUMBA_CACHE_LOCATOR_CLASSES="UserProvidedCacheLocator")
    env.pop("RESPDOR_DEBUG", None)
    proc = subprocess.run([sys.executable, "-m", "respdor", "simulate", "spec.toml", "--plot", "none"],
                          cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "NUMBA_CACHE_DIR" in proc.stderr and "a_file" in proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "spec.toml"]


@pytest.mark.parametrize("special", list(SPECIAL))
def test_library_writers_refuse_what_the_command_line_refuses(ws, special):
    """The library's own writers (used without the command line) go through the same guard."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from respdor.errors import UserError
    from respdor.files import write_figure, write_output
    from respdor.report import write_json
    from respdor.spectra.textio import write_json as write_spectra_json

    class Result:
        def to_dict(self):
            return {"a": 1}

    path, words = _special_path(ws, special)
    kind = _kind(path)
    fig = plt.figure()
    writers = [lambda: write_output(path, "x\n"), lambda: write_figure(fig, path),
               lambda: write_json(Result(), path), lambda: write_spectra_json(path, {"a": 1})]
    try:
        for write in writers:
            with pytest.raises(UserError, match="not a regular file|does not exist|loop"):
                write()
    finally:
        plt.close(fig)
    assert _kind(path) == kind


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "socket"])
def test_input_that_is_a_device_is_named_not_read(ws, capsys, device):
    """/dev/zero as a curve would be read until memory runs out; a device is named instead."""
    path = ws / "sp" / "sock" if device == "socket" else Path(device)
    if not path.exists():
        pytest.skip(f"{device} is not on this system")
    status, out, err = _run(["fit", str(path), "--no-files"], capsys)
    assert status == 2 and err.count("\n") == 1 and str(path) in err, err
    assert ("character device" in err or "socket" in err) and "Traceback" not in err


def test_input_through_a_pipe_is_still_read(ws, capsys):
    """Shell process substitution, <(...), hands over a pipe: that is a file to read, not refused."""
    fifo = ws / "sp" / "fifo"
    text = (ws / "in" / "curve.csv").read_text()

    def feed():
        with open(fifo, "w") as fh:
            fh.write(text)

    import threading

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    status, out, err = _run(["fit", str(fifo), "--no-files", "--no-intervals"], capsys)
    if writer.is_alive():  # the pipe was never opened for reading: drain it, so the writer ends
        with open(fifo) as fh:
            fh.read()
    writer.join()
    assert status == 0 and "r (A)" in out, err


def test_read_only_existing_output_is_not_replaced(ws, capsys, monkeypatch):
    """A result file the user made read-only is refused, not renamed over (the check asks os.access,
    which root always passes, so the answer is given by the test)."""
    import respdor.files as files

    out = ws / "out" / "p.csv"
    out.write_text("kept\n")
    out.chmod(0o444)
    real = os.access
    monkeypatch.setattr(files.os, "access", lambda p, mode: False if Path(p) == out else real(p, mode))
    status, _, err = _run(PLAN + ["--csv", str(out)], capsys)
    assert status == 2 and err.count("\n") == 1 and f"--csv {out}: the file is read-only" in err, err
    assert out.read_text() == "kept\n"


def test_numba_cache_disk_full_names_the_cache(monkeypatch, capsys):
    """numba's OSError while saving a compiled kernel has no file name: the cache is named instead."""
    import respdor.cli.convert as convert

    ns = {}
    origin = os.path.join(os.sep, "site-packages", "numba", "core", "caching.py")
    exec(compile("def save(args):\n    raise OSError(28, 'No space left on device')\n", origin, "exec"), ns)
    monkeypatch.setattr(convert, "run", ns["save"])
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/full/numba-cache")
    status, _, err = _run(["convert", "--pair", "13C", "27Al", "--distance", "3"], capsys)
    assert status == 2 and err.count("\n") == 1, err
    assert "numba's compiled-kernel cache (/full/numba-cache): No space left on device" in err


@pytest.mark.parametrize("command", list(COMMANDS))
def test_dash_where_standard_output_is_not_written_is_refused(ws, capsys, command):
    """'-' means standard output only for the --json options that print there; elsewhere it used
    to be accepted and nothing was written, with exit 0."""
    head, option, tail = COMMANDS[command]
    status, out, err = _run(_fill(head, ws) + [option, "-"] + _fill(tail, ws), capsys)
    stdout_ok = option == "--json" and head[0] in ("simulate", "fit", "structure", "library")
    if stdout_ok:
        assert status == 0, err
        assert isinstance(json.loads(out[out.index("{"):]), dict)  # the JSON, on standard output
    else:
        assert status == 2 and err.count("\n") == 1 and f"{option} -: this output cannot go to standard output" in err
        assert out == "" and list((ws / "out").iterdir()) == []
