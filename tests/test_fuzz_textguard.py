"""Damaged, binary and empty files given to every reader behind the one text-file guard
(spinsim.textfile.read_text): spinsim's crystallite, magres, SIMPSON fsave and spec readers and
respdor's read_text.

For each reader and each kind of damage: a refusal of the reader's own error type (a ValueError;
DataFileError for respdor) in one line that names the file (and the line where there is one),
never another exception; a byte-order mark and CRLF change nothing. On the command line (simulate,
structure): exit 2, one line naming the file, no traceback, inputs unchanged, no file written.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from respdor.errors import DataFileError
from respdor.files import read_text as respdor_read_text
from spinsim.conventions import read_magres
from spinsim.powder import read_crystallites
from spinsim.simpson import read_fsave
from spinsim.spec import SpecError, load_spec
from spinsim.textfile import TextFileError, read_text

CRYSTALLITES = "3\n0 0 1\n90 45 2\n180 90 1\n"
MAGRES = ("#$magres-abinitio-v1.0\n[atoms]\nunits atom Angstrom\natom Al Al 1 0 0 0\n[/atoms]\n"
          "[magres]\nunits ms ppm\nunits efg au\n"
          "ms Al 1 500 1 0 1 510 0 0 0 520\nefg Al 1 -0.1 0 0 0 -0.2 0 0 0 0.3\n[/magres]\n")
FSAVE = "SIMP\nNP=3\nSW=10000\nTYPE=FID\nDATA\n1 0\n0.5 0.25\n0.25 -0.5\nEND\n"
SPEC = ('[experiment]\ntype = "respdor"\nfield_T = 9.4\nmas_rate_hz = 10000\nt_max_ms = 0.6\n'
        '[[spins]]\nisotope = "13C"\n[[spins]]\nisotope = "27Al"\ncq_mhz = 3.0\n'
        '[[dipolar]]\nspins = [0, 1]\nd_hz = 503.0\n[saturation]\ntype = "ideal"\n'
        '[powder]\nscheme = "zcw"\nn = 21\nn_gamma = 4\n')


def _same_powder(a, b):
    return np.allclose(a.alpha, b.alpha) and np.allclose(a.beta, b.beta) and np.allclose(a.weights, b.weights)


# reader, a good file, an equality of two results, the error type, the same file cut short
READERS = {
    "crystallites": (lambda p: read_crystallites(p, 2), CRYSTALLITES, _same_powder, ValueError,
                     "3\n0 0 1\n90 45"),
    "magres": (read_magres, MAGRES, lambda a, b: a.keys() == b.keys() and all(
        np.array_equal(a[k][t], b[k][t]) for k in a for t in a[k]), ValueError, MAGRES[:-12]),
    "fsave": (read_fsave, FSAVE, lambda a, b: np.array_equal(a[0], b[0]) and a[1] == b[1], ValueError,
              FSAVE[:-13]),
    "spec": (load_spec, SPEC, lambda a, b: np.array_equal(a.times_s, b.times_s) and a.raw == b.raw, SpecError,
             SPEC[:60]),
    "respdor": (respdor_read_text, "t_ms,dSS0\n0,0\n1,0.5\n", lambda a, b: a == b, DataFileError, None),
}
SUFFIX = {"crystallites": ".cry", "magres": ".magres", "fsave": ".fid", "spec": ".toml", "respdor": ".csv"}


def _refusal(reader, path, needle=None, line=None):
    read, _, _, error, _ = READERS[reader]
    with pytest.raises(error) as info:
        read(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg, msg
    if needle:
        assert needle in msg, msg
    if line is not None:
        assert f"{path.name}:{line}:" in msg, msg
    return msg


def _file(tmp_path, reader, data: bytes, name="f"):
    path = tmp_path / (name + SUFFIX[reader])
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_good_file_with_bom_and_crlf_reads_as_the_plain_one(reader, tmp_path):
    read, good, same, _, _ = READERS[reader]
    plain = read(_file(tmp_path, reader, good.encode(), "plain"))
    crlf = read(_file(tmp_path, reader, b"\xef\xbb\xbf" + good.replace("\n", "\r\n").encode(), "crlf"))
    cr = read(_file(tmp_path, reader, good.replace("\n", "\r").encode(), "cr"))
    assert same(plain, crlf) and same(plain, cr)


@pytest.mark.parametrize("reader", sorted(READERS))
def test_missing_file_and_directory(reader, tmp_path):
    assert "no such" in _refusal(reader, tmp_path / ("nothing" + SUFFIX[reader]), "no such")
    d = tmp_path / ("dir" + SUFFIX[reader])
    d.mkdir()
    assert "is a directory" in _refusal(reader, d, "is a directory")


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_device_is_refused_not_read_forever(reader):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    assert "is a character device" in _refusal(reader, Path("/dev/zero"), "is a character device")


@pytest.mark.parametrize("reader", sorted(READERS))
def test_binary_files(reader, tmp_path):
    assert "bin" in _refusal(reader, _file(tmp_path, reader, bytes(range(256)) * 4, "bin"), "binary file", line=1)
    # a NUL far into a text file (a damaged copy): refused at its line, not read as a number
    good = READERS[reader][1]
    damaged = (good * 400)[:9000].rsplit("\n", 1)[0] + "\n\x00\x00\n"
    nul = _refusal(reader, _file(tmp_path, reader, damaged.encode(), "nul"), "binary file",
                   line=damaged.count("\n"))
    latin = _refusal(reader, _file(tmp_path, reader, good.encode()[:20] + b"\n\xff\xfe\n", "latin"), "not UTF-8",
                     line=good[:20].count("\n") + 2)
    assert "binary" in nul and "UTF-8" in latin


@pytest.mark.parametrize("reader", [r for r in sorted(READERS) if r != "respdor"])
@pytest.mark.parametrize("content", [b"", b"  \n\n\t\n", b"\xef\xbb\xbf", b"\r\n\r\n"])
def test_empty_files_are_refused_by_name(reader, content, tmp_path):
    assert "is empty" in _refusal(reader, _file(tmp_path, reader, content, "empty"), "is empty")


def test_respdor_read_text_leaves_an_empty_file_to_its_reader(tmp_path):
    # (each respdor reader says what is missing: no data rows, no header)
    assert respdor_read_text(_file(tmp_path, "respdor", b"\xef\xbb\xbf\r\n", "e")) == "\n"


@pytest.mark.parametrize("reader", ["crystallites", "magres", "fsave", "spec"])
def test_a_file_cut_short_is_refused(reader, tmp_path):
    cut = READERS[reader][4]
    assert "cut" in _refusal(reader, _file(tmp_path, reader, cut.encode(), "cut"))  # names the file


@pytest.mark.parametrize("suffix, text", [(".json", "[" * 100000 + "]" * 100000),
                                          (".toml", "a = " + "[" * 100000 + "]" * 100000)])
def test_a_spec_nested_beyond_any_parser_is_refused(suffix, text, tmp_path):
    path = tmp_path / ("deep" + suffix)
    path.write_text(text)
    with pytest.raises(SpecError, match="nested too deeply"):
        load_spec(path)


def test_a_result_json_nested_beyond_the_parser_is_refused(tmp_path):
    from respdor.resultio import read_json

    path = tmp_path / "deep.json"
    path.write_text('{"a": ' + "[" * 100000 + "]" * 100000 + "}")
    with pytest.raises(DataFileError, match="deep.json: lists or objects nested too deeply"):
        read_json(path)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
@pytest.mark.parametrize("reader", sorted(READERS))
def test_an_unreadable_file(reader, tmp_path):
    path = _file(tmp_path, reader, READERS[reader][1].encode(), "locked")
    path.chmod(0)
    try:
        assert "cannot read" in _refusal(reader, path, "cannot read")
    finally:
        path.chmod(0o644)


def test_the_guard_says_what_kind_of_refusal(tmp_path):
    (tmp_path / "b").write_bytes(b"a\nb\x00")
    with pytest.raises(TextFileError) as info:
        read_text(tmp_path / "b", "thing")
    assert (info.value.kind, info.value.line, info.value.reason) == ("binary", 2, "is a binary file, not a thing")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("reader", ["crystallites", "magres", "fsave"])
@given(data=st.one_of(st.binary(max_size=200),
                      st.lists(st.sampled_from(["SIMP", "DATA", "END", "NP=2", "1 0", "x", "[magres]", "[/magres]",
                                                "ms Al 1 1 0 0 0 1 0 0 0 1", "efg Al 1 0 0", "3", "0 0 1", "nan 1 1",
                                                "#", "", "1e400 0", "NP=x", "NP=1e400", "NI=0",
                                                "NP=nan", "nan 0", "1e400 0 1"]),
                               max_size=8).map(lambda lines: "\n".join(lines).encode())))
def test_any_bytes_give_a_result_or_a_one_line_refusal(reader, data):
    fd, name = tempfile.mkstemp(suffix=SUFFIX[reader])
    with open(fd, "wb") as fh:
        fh.write(data)
    path = Path(name)
    try:
        READERS[reader][0](path)
    except ValueError as exc:  # anything else would be a traceback for the user
        assert "\n" not in str(exc) and path.name in str(exc), str(exc)
    finally:
        path.unlink()


CLI_CASES = [
    # id, files to write (name -> bytes), argv ({d} = the input directory), words of the one error line
    ("sim-binary-crystallites", {"set.cry": b"\x00\x01binary"}, ["simulate", "{d}/s.toml", "--no-files"],
     ["set.cry:1", "is a binary file", "crystallite file"]),
    ("sim-empty-crystallites", {"set.cry": b"\n  \n"}, ["simulate", "{d}/s.toml", "--no-files"],
     ["set.cry", "is empty"]),
    ("sim-missing-crystallites", {}, ["simulate", "{d}/s.toml", "--no-files"], ["set.cry", "no such file"]),
    ("sim-device-spec", {}, ["simulate", "/dev/zero", "--no-files"], ["/dev/zero", "character device"]),
    ("sim-empty-spec", {"e.toml": b"\xef\xbb\xbf\r\n"}, ["simulate", "{d}/e.toml", "--no-files"],
     ["e.toml", "is empty"]),
    ("structure-binary-magres", {"m.magres": b"\x00\x01\x02"},
     ["structure", "{d}/m.magres", "--observe", "C", "--partner", "27Al", "--no-files"], ["m.magres:1", "binary"]),
    ("structure-empty-magres", {"m.magres": b""},
     ["structure", "{d}/m.magres", "--observe", "C", "--partner", "27Al", "--no-files"], ["m.magres", "is empty"]),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_refuses_damaged_files_in_one_line(case, tmp_path, capsys, monkeypatch):
    from respdor.cli import main

    name, files, argv, words = case
    d = tmp_path / "in"
    d.mkdir()
    (d / "s.toml").write_text(SPEC.replace('scheme = "zcw"\nn = 21\n', 'file = "set.cry"\n'))
    for fname, data in files.items():
        (d / fname).write_bytes(data)
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(out)
    status = main([a.replace("{d}", str(d)) for a in argv])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("respdor: error:")]
    assert status == 2 and "Traceback" not in err and len(lines) == 1, err
    assert all(w in lines[0] for w in words), lines[0]
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before
    assert not list(out.iterdir())
