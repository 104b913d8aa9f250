"""The shared plumbing of results: progress, respdor's warnings, notebook displays, result JSON."""

import json
import warnings

import numpy as np
import pytest

from respdor.display import REPR_WIDTH, ResultDisplay
from respdor.errors import ConvergenceWarning, DataFileError, RespdorWarning, warn
from respdor.resultio import json_text, read_json
from spinsim.progress import CallbackProgress, Progress, as_progress, tracking


class _Toy(ResultDisplay):
    def __init__(self, d, warnings_=()):
        self.d = d
        self.warnings = list(warnings_)

    def _title(self):
        return "toy <fit>"

    def _headline(self):
        return f"D = {self.d:.0f} Hz " + "x" * 400

    def _rows(self):
        return [{"name": "D", "value": self.d, "unit": "Hz"}, {"name": "f", "value": np.float64(0.24), "unit": ""}]

    def to_dict(self):
        return {"D": self.d, "warnings": self.warnings, "nan": float("nan")}

    @classmethod
    def from_dict(cls, data):
        return cls(data["D"], data["warnings"])


def test_callback_progress_counts_and_tracking_closes_on_ctrl_c():
    seen = []
    with tracking(lambda done, total, label: seen.append((done, total, label)), 3, "nodes") as p:
        p.advance()
        p.advance(2)
    assert seen == [(1, 3, "nodes"), (3, 3, "nodes")]

    closed = []

    class Spy(Progress):
        def close(self, interrupted=False):
            closed.append(interrupted)

    with pytest.raises(KeyboardInterrupt), tracking(Spy(), 5, "x"):
        raise KeyboardInterrupt
    assert closed == [True]
    assert isinstance(as_progress(print), CallbackProgress)
    with pytest.raises(TypeError, match="progress must be"):
        as_progress(3)


def test_warn_raises_its_category_and_keeps_the_line_once():
    kept = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn("powder not converged", ConvergenceWarning, into=kept)
        warn("powder not converged", ConvergenceWarning, into=kept)
    assert kept == ["powder not converged"]
    assert [w.category for w in caught] == [ConvergenceWarning, ConvergenceWarning]
    assert issubclass(ConvergenceWarning, RespdorWarning)


def test_repr_is_short_and_html_escapes_and_counts_warnings():
    toy = _Toy(503.0, ["a <b> warning"])
    text = repr(toy)
    assert len(text) <= REPR_WIDTH and text.endswith("| 1 warning>") and "D = 503 Hz" in text
    page = toy._repr_html_()
    assert "toy &lt;fit&gt;" in page and "a &lt;b&gt; warning" in page and "<td>0.24</td>" in page


def test_dataframe_is_indexed_by_name():
    frame = _Toy(503.0).to_dataframe()
    assert list(frame.index) == ["D", "f"] and frame.loc["f", "value"] == pytest.approx(0.24)


def test_json_round_trip_with_nan_as_null(tmp_path):
    toy = _Toy(503.0, ["w"])
    text = toy.to_json()
    assert json.loads(text)["nan"] is None
    again = _Toy.from_json(text)
    assert again.d == 503.0 and again.warnings == ["w"]
    path = tmp_path / "r.json"
    toy.to_json(path)
    assert _Toy.from_json(str(path)).d == 503.0
    assert json_text({"a": np.arange(2)}) == '{\n  "a": [\n    0,\n    1\n  ]\n}\n'


def test_read_json_names_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1,\n oops}')
    with pytest.raises(DataFileError, match=r"bad.json:2: not a JSON document"):
        read_json(str(bad))


def test_cli_prints_a_warning_once_when_the_command_already_said_it(capsys):
    from respdor import cli

    caught = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cli._SAID.clear()
        cli.say_warning("node off by 0.1", prefix="  warning: ")
        warn("node off by 0.1", RespdorWarning)
        warn("another one", RespdorWarning)
    cli._say_warnings(caught)
    err = capsys.readouterr().err
    assert err.count("node off by 0.1") == 1
    assert "respdor: warning: another one\n" in err and "RespdorWarning" not in err
    cli._SAID.clear()


def test_library_parameter_names_become_the_command_options():
    from respdor.cli import in_option_words

    names = {"field_t": "--field", "nucleus": "--nucleus", "larmor_hz": "--larmor"}
    assert in_option_words("field_t needs nucleus; larmor_hz=5 is out of range; xfield_t stays", names) == \
        "--field needs --nucleus; --larmor 5 is out of range; xfield_t stays"
