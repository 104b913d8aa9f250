"""Property-based tests (Hypothesis) of every text reader.

1. Any bytes at all: a reader returns or raises its one user-error type (DataFileError /
   SpecError), never another exception (which the command line would report as a bug).
2. A byte-order mark and CRLF / CR line ends change nothing: the result equals that of the plain
   LF file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from respdor.errors import UserError
from respdor.files import read_text
from respdor.io import read_curve
from respdor.spectra.bruker import read_vclist
from respdor.spectra.textio import read_manifold_csv, read_spectrum_text
from spinsim.spec import SpecError, load_spec

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

READERS = {
    "curve": lambda p: read_curve(p, time_unit="ms"),
    "spectrum": read_spectrum_text,
    "manifold": read_manifold_csv,
    "vclist": read_vclist,
    "text": read_text,
}


def _write(data: bytes, suffix=".csv") -> Path:
    fd, name = tempfile.mkstemp(suffix=suffix)
    with open(fd, "wb") as fh:
        fh.write(data)
    return Path(name)


# Text made of the characters these files are made of, so that many examples get past the header.
_CELL = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-10, 10**6).map(str),
                  st.sampled_from(["t_ms", "dSS0", "sigma", "S0", "S1", "order", "intensity", "ppm", "#", "",
                                   "1e300", "-0", "nan", "1,5", "µs"]))
_LINE = st.lists(_CELL, min_size=0, max_size=4).map(lambda cells: ",".join(cells))
_TEXT = st.lists(_LINE, min_size=0, max_size=12).map(lambda lines: "\n".join(lines) + "\n")


@pytest.mark.parametrize("reader", sorted(READERS))
@SETTINGS
@given(data=st.one_of(st.binary(max_size=300), _TEXT.map(lambda t: t.encode("utf-8"))))
def test_any_bytes_give_a_result_or_a_user_error(reader, data):
    path = _write(data)
    try:
        READERS[reader](path)
    except UserError as exc:  # anything else (a traceback for the user) fails the test
        assert "\n" not in str(exc) and path.name in str(exc), str(exc)
    finally:
        path.unlink()


@SETTINGS
@given(data=st.one_of(st.binary(max_size=300), _TEXT.map(lambda t: t.encode("utf-8"))))
def test_any_bytes_as_a_spec_give_a_spec_or_a_spec_error(data):
    for suffix in (".toml", ".json"):
        path = _write(data, suffix)
        try:
            load_spec(path)
        except SpecError as exc:  # anything else (a traceback for the user) fails the test
            assert "\n" not in str(exc) and path.name in str(exc), str(exc)
        finally:
            path.unlink()


def _variants(text: str):
    lf = text.encode("utf-8")
    return [lf, b"\xef\xbb\xbf" + lf, text.replace("\n", "\r\n").encode(), b"\xef\xbb\xbf" + text.replace(
        "\n", "\r\n").encode(), text.replace("\n", "\r").encode()]


def _outcome(reader, data):
    path = _write(data)
    try:
        value = READERS[reader](path)
    except UserError as exc:
        return ("error", str(exc).replace(str(path), "<file>"))
    finally:
        path.unlink()
    if hasattr(value, "time_s"):
        return ("curve", value.time_s.tolist(), value.dss0.tolist())
    if isinstance(value, tuple):
        return ("arrays", [None if v is None else np.asarray(v).tolist() for v in value])
    return ("value", value.tolist() if hasattr(value, "tolist") else value)


@pytest.mark.parametrize("reader", sorted(READERS))
@SETTINGS
@given(text=_TEXT)
def test_bom_and_line_ends_change_nothing(reader, text):
    outcomes = [_outcome(reader, v) for v in _variants(text)]
    assert all(o == outcomes[0] for o in outcomes[1:]), outcomes


def test_bom_and_crlf_on_real_files(tmp_path):
    root = Path(__file__).resolve().parent.parent
    for name, reader in [("respdor_13C27Al_synthetic.csv", "curve"),
                         ("pass_113Cd_synthetic/isotropic_1cycle.txt", "spectrum")]:
        text = (root / "data" / name).read_text()
        outcomes = [_outcome(reader, v) for v in _variants(text)]
        assert outcomes[0][0] != "error"
        assert all(o == outcomes[0] for o in outcomes[1:])
    spec = (root / "data" / "c13_al27_respdor.toml").read_text()
    raws = []
    for data in _variants(spec):
        p = tmp_path / "s.toml"
        p.write_bytes(data)
        raws.append(load_spec(p).raw)
    assert all(r == raws[0] for r in raws[1:])
