"""A curve library as the Fit page's curve shape (the page object, no browser): the upload opened as
`respdor fit --library` opens it, its parameters as rows of the table, the fit equal to respdor.fit
with the same library, its notes and warnings on the page, the command line and the code that give the
same numbers, and the one line of the command for an upload that is not a library.

The library is built once for the module by the build's own code on an in-process Dask cluster:
3 x 2 points (cq, nu1) x 4 couplings, ZCW 13 x 4, 1 interpolation check (about 2 s)."""

from __future__ import annotations

import html
import json
import re
import shlex
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("h5py")
pytest.importorskip("distributed")
pytest.importorskip("panel")

import respdor  # noqa: E402
from respdor.app.fitform import FitForm, ParameterRow  # noqa: E402
from respdor.cli import main  # noqa: E402
from respdor.errors import UserError  # noqa: E402
from app_pages import run  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CURVE = ROOT / "data" / "respdor_13C27Al_synthetic.csv"
RAW = {
    "experiment": {"type": "respdor", "field_T": 9.4, "mas_rate_hz": 10000, "t_max_ms": 3.0},
    "spins": [{"isotope": "13C"}, {"isotope": "27Al", "cq_mhz": 3.0, "eta_q": 0.3}],
    "dipolar": [{"spins": [0, 1], "d_hz": 500.0}],
    "saturation": {"type": "cw", "nu1_khz": 30, "length_rotor_periods": 2},
    "powder": {"n": 13, "n_gamma": 4},
}
KEY = "library: lib.h5 (uploaded)"


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """lib.h5 over cq 2-4 MHz (3 nodes) and nu1 20-40 kHz (2), D 150-900 Hz, times to 3 ms; one
    interpolation check (fewer than the cells along cq: the fit warns of it)."""
    from dask.distributed import LocalCluster

    from respdor import library as lib

    folder = tmp_path_factory.mktemp("library")
    spec = folder / "s.json"
    spec.write_text(json.dumps(RAW))
    path = folder / "lib.h5"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        lib.build_library(spec, path, [lib.parse_vary("cq=2:4MHz:3"), lib.parse_vary("nu1=20:40kHz:2")],
                          np.geomspace(150, 900, 4), t_max_s=3e-3, scheduler=cluster.scheduler_address,
                          n_check=1, progress=False)
    return path


@pytest.fixture
def page(tmp_path):
    from respdor.app.fitpage import FitPage
    from respdor.app.serve import AppContext
    from respdor.app.uploads import UploadFolder

    folder = UploadFolder()
    (tmp_path / "start").mkdir()
    out = FitPage(AppContext(tmp_path / "start", folder))
    yield out
    folder.remove()


def said(page):
    """The lines of the page's status, as the browser shows them."""
    return [html.unescape(m.object) for m in page.status.objects]


def upload_library(page, path, name="lib.h5"):
    page.library_upload.param.update(value=Path(path).read_bytes(), filename=name)
    return said(page)


def _numbers(document):
    return {k: (v["value"], v["stderr"]) for k, v in document.items() if isinstance(v, dict) and "value" in v}


# --- the upload and the parameter rows ------------------------------------------------------------
def test_an_uploaded_library_becomes_the_shape_and_its_parameters_rows_of_the_table(page, library):
    import panel as pn

    shown = page.view()
    assert page.library_upload in shown.select(pn.widgets.FileInput) and page.library_table in shown.select(pn.Column)
    said_now = upload_library(page, library)
    assert said_now == ["lib.h5: a curve library of 13C{27Al} over D 150-900 Hz, times up to 3 ms; cq 2-4 MHz; "
                    "nu1 20-40 kHz"]
    assert page.shape.value == KEY and page.library_table.visible
    rows = page.library_rows[KEY]
    assert list(rows) == ["cq", "nu1"]  # LibraryShape.parameters, in its order
    assert all(r[0].value for r in rows.values())  # fixed by default, as in respdor fit
    hints = [r[4].object for r in rows.values()]
    assert hints == ["default 3 MHz; 2-4 MHz in the library", "default 30 kHz; 20-40 kHz in the library"]
    form = page.read_form()
    assert form.call_arguments() == {"curves": form.curve, "library": form.library}
    assert form.library_label == "lib.h5" and Path(form.library).parent.parent == page.ctx.uploads.path
    # back to the formula: no library, no rows; and back again: the rows kept what was typed
    rows["cq"][1].value = "2.5MHz"
    page.shape.value = "analytical formula"
    assert not page.library_table.visible and "library" not in page.read_form().call_arguments()
    page.shape.value = KEY
    assert page.read_form().call_arguments()["fix"] == {"cq": 2.5e6}


def lib_form(**rows):
    return FitForm(curve=str(CURVE), label="data/respdor_13C27Al_synthetic.csv", library="/srv/x/lib.h5",
                   library_label="lib.h5", library_parameters={"cq": (3e6, (2e6, 4e6)), "nu1": (3e4, (2e4, 4e4)),
                                                               "length": (2e-4, (1e-4, 4e-4)),
                                                               "eta_q": (0.3, (0.0, 1.0))},
                   rows={k: ParameterRow(**v) for k, v in rows.items()})


@pytest.mark.parametrize("rows,expected", [
    ({}, {}),
    ({"cq": {"fixed": True, "value": "3.5MHz"}}, {"fix": {"cq": 3.5e6}}),
    ({"cq": {"fixed": True, "value": "3500000"}}, {"fix": {"cq": 3.5e6}}),  # a bare number is Hz, as --fix cq=
    ({"nu1": {"fixed": False}}, {"free": ["nu1"]}),
    ({"nu1": {"fixed": False, "value": "25k", "low": "21kHz", "high": "0.039MHz"}},
     {"free": ["nu1"], "start": {"nu1": 25e3}, "bounds": {"nu1": (21e3, 39e3)}}),
    ({"length": {"fixed": True, "value": "150us"}}, {"fix": {"length": 1.5e-4}}),
    ({"eta_q": {"fixed": False, "low": "0.1", "high": "0.5"}}, {"free": ["eta_q"], "bounds": {"eta_q": (0.1, 0.5)}}),
])
def test_library_rows_become_fix_start_bounds_free_in_si_units(rows, expected):
    args = lib_form(**rows).call_arguments()
    assert args.pop("curves") == str(CURVE) and args.pop("library") == "/srv/x/lib.h5"
    assert args.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, dict):
            assert args[key].keys() == value.keys()
            for name, v in value.items():
                assert np.allclose(args[key][name], v, rtol=1e-12, atol=0)
        else:
            assert args[key] == value
    line = lib_form(**rows).command_line()
    assert "--library lib.h5" in line and "library='lib.h5'" in lib_form(**rows).python_code()


@pytest.mark.parametrize("rows,words", [
    ({"cq": {"fixed": True, "value": "abc"}}, "fix cq: cannot read 'abc' as a frequency"),
    ({"nu1": {"fixed": False, "value": "fast"}}, "start nu1: cannot read 'fast' as a frequency"),
    ({"length": {"fixed": True, "value": "2 weeks"}},
     "fix length: unknown unit 'weeks' in '2 weeks'; use one of s, ms, us, µs, ns"),
    ({"eta_q": {"fixed": True, "value": "a third"}}, "fix eta_q: cannot read 'a third' as a number"),
    ({"cq": {"fixed": False, "low": "2MHz"}}, "bounds cq: give both the low and the high end"),
])
def test_a_mistake_in_a_library_row_is_one_line_naming_the_field(rows, words):
    with pytest.raises(UserError) as err:
        lib_form(**rows).call_arguments()
    assert str(err.value) == words


#: (parameter row, what is typed in it, the same on the command line, the line of the fit); the
#: library tabulates cq 2-4 MHz, nu1 20-40 kHz, D 150-900 Hz (r 2.061-3.745 angstrom for 13C{27Al}).
OUTSIDE = [
    ("cq", {"fixed": True, "value": "10MHz"}, ["--fix", "cq=10MHz"],
     "fix cq=1e+07 lies outside the range the library lib.h5 tabulates for cq, [2e+06, 4e+06] Hz"),
    ("cq", {"fixed": False, "value": "1MHz"}, ["--free", "cq", "--start", "cq=1MHz"],
     "start cq=1e+06 lies outside the range the library lib.h5 tabulates for cq, [2e+06, 4e+06] Hz"),
    ("cq", {"fixed": False, "low": "1MHz", "high": "5MHz"}, ["--free", "cq", "--bound", "cq=1MHz:5MHz"],
     "bounds cq=1e+06:5e+06 reaches beyond the range the library lib.h5 tabulates for cq, [2e+06, 4e+06] Hz"),
    ("nu1", {"fixed": True, "value": "-30kHz"}, ["--fix", "nu1=-30kHz"],
     "fix nu1=-30000 lies outside the range the library lib.h5 tabulates for nu1, [20000, 40000] Hz"),
    ("D", {"fixed": False, "low": "100", "high": "1k"}, ["--bound", "D=100:1000"],
     "bounds D=100:1000 reaches beyond the couplings the library lib.h5 tabulates, [150, 900] Hz"),
    ("D", {"fixed": True, "value": "1kHz"}, ["--fix", "D=1000"],
     "fix D=1000 lies outside the couplings the library lib.h5 tabulates, [150, 900] Hz"),
    ("r", {"fixed": False, "low": "2", "high": "3"}, ["--bound", "r=2:3"],
     "bounds r=2:3 reaches beyond the distances the library lib.h5 tabulates, [2.061, 3.745] angstrom"),
]


@pytest.mark.parametrize("name,row,options,words", OUTSIDE, ids=[" ".join(o) for _, _, o, _ in OUTSIDE])
def test_a_value_outside_the_library_is_the_fits_own_line_naming_the_field(page, library, name, row, options,
                                                                           words, monkeypatch, capsys):
    upload_library(page, library)
    widgets = page.library_rows[KEY].get(name) or page.rows[name]
    for widget, key in zip(widgets, ("fixed", "value", "low", "high")):
        if key in row:
            widget.value = row[key]
    with pytest.raises(UserError) as err:
        run(page)
    assert page._said(str(err.value)) == words
    # the command says the same line with its own option names
    monkeypatch.chdir(library.parent)
    assert main(["fit", str(CURVE), "--library", "lib.h5", *options, "--no-files"]) == 2
    cli = capsys.readouterr().err.strip().splitlines()[-1]
    assert cli == "respdor: error: " + re.sub(r"^(fix|start|bounds) ", lambda m: {"fix": "--fix ", "start": "--start ",
                                                                                 "bounds": "--bound "}[m[1]], words)


# --- the fit, its notes and warnings, and the same fit outside the app ---------------------------------
def test_the_page_fit_with_a_library_is_respdor_fit_with_that_library(page, library):
    upload_library(page, library)
    page.library_rows[KEY]["cq"][1].value = "2.8MHz"
    result = run(page)
    direct = respdor.fit(str(CURVE), library=str(library), fix={"cq": 2.8e6})
    for name in ("coupling_hz", "distance_angstrom", "fraction", "cq", "nu1"):
        assert result[name].value == pytest.approx(direct[name].value, rel=1e-12, abs=0), name
    assert result["cq"].value == 2.8e6 and result["nu1"].value == 3e4  # fixed; nu1 at the spec's 30 kHz
    assert result["coupling_hz"].stderr == pytest.approx(direct["coupling_hz"].stderr, rel=1e-12)
    assert page.figure.object[:8] == b"\x89PNG\r\n\x1a\n" and page.profile.visible
    # the library's record on the page: its notes in the table, its warnings each in its own box
    report = page.report.object
    assert "library lib.h5: convergence check" in report
    assert re.search(r"library lib\.h5: interpolation error measured at 1 off-grid points: max [\d.e-]+", report)
    boxes = [html.unescape(m.object) for m in page.warnings.objects]
    assert boxes == ["warning: " + page._said(w) for w in direct.warnings]
    sparse = [b for b in boxes if "interpolation error measured at only 1 off-grid point(s) for 2 cells along cq" in b]
    assert len(sparse) == 1 and sparse[0].startswith("warning: library lib.h5: ")
    assert str(page.ctx.uploads.path) not in report + "".join(boxes) + page.reproduce.object


def test_the_shown_command_line_and_code_give_the_numbers_of_the_page(page, library, tmp_path, monkeypatch, capsys):
    upload_library(page, library)
    rows = page.library_rows[KEY]
    rows["cq"][1].value = "3.2MHz"
    rows["nu1"][0].value = False  # freed, bounded, started
    rows["nu1"][1].value, rows["nu1"][2].value, rows["nu1"][3].value = "28kHz", "22k", "38kHz"
    page.intervals.value = False
    result = run(page)
    shown = page.reproduce.object
    line = re.search(r"^respdor fit .*$", shown, flags=re.M).group(0)
    assert line == ("respdor fit data/respdor_13C27Al_synthetic.csv --library lib.h5 --fix cq=3200000 --free nu1 "
                    "--bound nu1=22000:38000 --start nu1=28000 --no-intervals --no-files --json -")
    code = re.search(r"```python\n(.*?)```", shown, flags=re.S).group(1)
    assert "library='lib.h5'" in code and "fix={'cq': 3200000.0}" in code
    work = tmp_path / "cli"
    work.mkdir()
    (work / "data").symlink_to(ROOT / "data")
    shutil.copy(library, work / "lib.h5")
    monkeypatch.chdir(work)
    capsys.readouterr()
    assert main(shlex.split(line)[1:]) == 0
    cli = json.loads(capsys.readouterr().out)
    scope = {}
    exec(code.replace("print(result.report())", ""), scope)
    app = json.loads(result.to_json())
    assert _numbers(app) == _numbers(cli) == _numbers(json.loads(scope["result"].to_json()))
    # the same lines, each naming the bound as its own side does (the page's field, the command's option)
    assert app["chisqr"] == cli["chisqr"] and len(app["warnings"]) == len(cli["warnings"]) >= 2
    assert [w.replace("bounds['nu1']", "--bound") for w in app["warnings"]] == \
        [w.replace("--bound nu1", "--bound") for w in cli["warnings"]]
    assert 22e3 <= app["nu1"]["value"] <= 38e3 and app["cq"]["value"] == 3.2e6
    # exported where asked (inside the start folder), the document respdor fit --json writes
    page.export_dir.value = "out"
    page._export(None)
    start = page.ctx.start
    assert sorted(p.name for p in start.rglob("*")) == ["out", "respdor_13C27Al_synthetic_fit.json",
                                                        "respdor_13C27Al_synthetic_fit.png",
                                                        "respdor_13C27Al_synthetic_fit_curve.csv",
                                                        "respdor_13C27Al_synthetic_fit_params.csv"]
    assert _numbers(json.loads((start / "out" / "respdor_13C27Al_synthetic_fit.json").read_text())) == _numbers(cli)


# --- uploads that are not libraries: the page says what `respdor fit --library` says -------------------
def _h5(path, library=None, change=None):
    """An HDF5 file: of something else (no library given), or a copy of the library changed by ``change(f)``."""
    import h5py

    if library is None:
        with h5py.File(path, "w") as f:
            f["x"] = np.arange(3.0)
        return
    shutil.copy(library, path)
    with h5py.File(path, "r+") as f:
        change(f)


def _drop(f, name):
    del f[name]


NOT_LIBRARIES = [
    ("empty.h5", lambda p, lib: p.write_bytes(b"")),
    ("noise.h5", lambda p, lib: p.write_bytes(bytes(range(256)) * 4)),
    ("curve.h5", lambda p, lib: p.write_bytes(CURVE.read_bytes())),  # a text file named .h5
    ("other.h5", lambda p, lib: _h5(p)),  # an HDF5 file, not a library
    ("image.png", lambda p, lib: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))),
    ("truncated.h5", lambda p, lib: p.write_bytes(lib.read_bytes()[: lib.stat().st_size // 2])),
    # damaged libraries: a data set or an attribute missing, an attribute that is not what it should be
    ("no_table.h5", lambda p, lib: _h5(p, lib, lambda f: _drop(f, "dSS0"))),
    ("no_axes.h5", lambda p, lib: _h5(p, lib, lambda f: f.attrs.__delitem__("axes"))),
    ("bad_axes.h5", lambda p, lib: _h5(p, lib, lambda f: f.attrs.__setitem__("axes", "cq, nu1"))),
]


@pytest.mark.parametrize("name,make", NOT_LIBRARIES, ids=[n for n, _ in NOT_LIBRARIES])
def test_an_upload_that_is_not_a_library_is_the_one_line_of_the_command(page, library, name, make, tmp_path,
                                                                         monkeypatch, capsys):
    make(tmp_path / name, library)
    data = (tmp_path / name).read_bytes()
    monkeypatch.chdir(tmp_path)
    assert main(["fit", str(CURVE), "--library", name, "--no-files"]) == 2
    cli = capsys.readouterr().err.strip()
    assert cli.startswith("respdor: error: ") and "\n" not in cli and "Traceback" not in cli
    assert main(["library", "info", name]) == 2  # the same reader, the same line
    assert capsys.readouterr().err.strip() == cli
    page.library_upload.param.update(value=data, filename=name)
    lines = said(page)
    assert lines == [cli.removeprefix("respdor: error: ")] and lines[0].startswith(name + ": ")
    assert list(page.shapes)[-1].startswith("simulated") and page.shape.value == "analytical formula"
    # kept in the upload folder only: the folder the app was started in is untouched
    assert not any((tmp_path / "start").iterdir())
    assert [p.name for p in page.ctx.uploads.path.rglob("*") if p.is_file()] == [name]


def test_an_incomplete_library_and_an_oversized_upload_are_one_line(page, library, tmp_path):
    partial = tmp_path / "lib.h5"
    shutil.copy(library, partial)
    import h5py

    with h5py.File(partial, "r+") as f:
        f["done"][0, 0] = 0
    assert upload_library(page, partial) == [
        "lib.h5: library incomplete (5 of 6 points); run the same 'respdor library build' again to finish it"]
    from respdor.app.uploads import _megabytes

    page.ctx.uploads.limit = 1000
    assert upload_library(page, library) == [
        f"lib.h5: {_megabytes(library.stat().st_size, up=True)} is more than the upload limit of 0 MB; is this the "
        "right file?"]


def test_without_h5py_the_page_says_what_the_command_says(page, library, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py raises ImportError
    monkeypatch.chdir(library.parent)
    assert main(["fit", str(CURVE), "--library", "lib.h5", "--no-files"]) == 2
    cli = capsys.readouterr().err.strip().removeprefix("respdor: error: ")
    assert upload_library(page, library) == [cli]
    assert cli == "a library file needs the optional package 'h5py': pip install 'respdor[library]'"


def test_a_curve_longer_than_the_library_is_refused_in_one_line(library, tmp_path):
    data = tmp_path / "long.csv"
    data.write_text("t_ms,dSS0,sigma\n" + "".join(f"{t},{0.05 * t},0.01\n" for t in (0.4, 1.2, 2.4, 3.6)))
    with pytest.raises(UserError) as err:
        respdor.fit(str(data), library=str(library))
    assert str(err.value) == (f"{data}: recoupling times up to 3.6 ms, but library {library} tabulates times up to "
                              "3 ms; leave out the later points or build the library with a longer --t-max")
