"""``respdor.simulate``, ``respdor.build_library`` and ``respdor.library_info``: one call per command.

The call and the command give the same numbers; results are at home in a notebook (short repr,
HTML table, DataFrame, JSON that round-trips the command's --json, plot on given axes without a
backend change); the library never prints; its messages name Python arguments, which the command
turns into its options.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import respdor
from respdor.cli import main
from respdor.errors import ConvergenceWarning, DataWarning, UserError
from small_spec import SMALL_SPEC


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(SMALL_SPEC)
    return path


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("run") / "small.toml"
    path.write_text(SMALL_SPEC)
    return respdor.simulate(path, progress=False)


def _cli_json(spec, capsys, *options):
    assert main(["simulate", str(spec), "--no-files", "--json", "-", *options]) == 0
    return capsys.readouterr().out


def test_call_and_command_give_the_same_curve(spec, capsys):
    run = respdor.simulate(spec, progress=False)
    data = json.loads(_cli_json(spec, capsys))
    for key in ("t_s", "S0", "S1", "dSS0"):
        assert np.array_equal(np.asarray(data[key]), getattr(run, key)), key
    assert data["convergence"]["final_level"] == run.convergence["final_level"] == "ZCW 21 x 4 gamma, step 0.5 us"
    assert 0.2 < run.dSS0[-1] < 0.4 and run.t_s[-1] == pytest.approx(6e-4)


def test_the_command_json_round_trips_into_the_result(spec, capsys, small_run):
    text = _cli_json(spec, capsys)
    back = respdor.SimulationRun.from_json(text)
    assert np.array_equal(back.dSS0, small_run.dSS0) and np.array_equal(back.t_s, small_run.t_s)
    assert back.convergence["converged"] == small_run.convergence["converged"]
    again = respdor.SimulationRun.from_json(back.to_json())
    assert again.to_dict() == back.to_dict()
    assert back.info["engine"] == "fast" and back.info["experiment"][-1].startswith("numerics: ZCW 21 x 4")


def test_repr_html_and_dataframe(small_run):
    text = repr(small_run)
    assert len(text) <= 200 and text.startswith("<SimulationRun small.toml: 4 times to 0.6 ms")
    html = small_run._repr_html_()
    assert "<table>" in html and "<th>dSS0</th>" in html and html.count("<tr>") == 1 + len(small_run.t_s)
    pd = pytest.importorskip("pandas")
    frame = small_run.to_dataframe()
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == ["S0", "S1", "dSS0"]
    assert np.array_equal(frame.index.to_numpy(), small_run.t_s)
    assert np.array_equal(frame["dSS0"].to_numpy(), small_run.dSS0)


def test_to_xarray_or_a_clear_import_error(small_run):
    try:
        import xarray  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="to_xarray needs xarray"):
            small_run.to_xarray()
        return
    ds = small_run.to_xarray()
    assert np.array_equal(ds["dSS0"].values, small_run.dSS0) and ds["t_s"].attrs["units"] == "s"


def test_csv_is_the_command_csv_and_never_over_the_spec(spec, tmp_path, monkeypatch, capsys, small_run):
    monkeypatch.chdir(tmp_path)
    assert main(["simulate", str(spec), "--plot", "none", "-o", "cli.csv"]) == 0
    small_run.to_csv(tmp_path / "call.csv")
    assert (tmp_path / "call.csv").read_bytes() == (tmp_path / "cli.csv").read_bytes()
    from pathlib import Path

    own = Path(small_run.spec)
    before = own.read_bytes()
    with pytest.raises(UserError, match="input"):
        small_run.to_csv(own)
    with pytest.raises(UserError, match="input"):
        small_run.to_json(own)
    assert own.read_bytes() == before


def test_plot_leaves_the_backend_as_it_was(spec, tmp_path, monkeypatch, capsys, small_run):
    """Neither the result's plot nor the command's figure selects a backend (a notebook's inline
    backend stays in use)."""
    import matplotlib

    before = matplotlib.get_backend()
    try:
        matplotlib.use("svg")  # a non-Agg backend that works without a display
        from matplotlib.figure import Figure

        ax = Figure().add_subplot()
        assert small_run.plot(ax) is ax and len(ax.lines) == 3
        assert np.array_equal(ax.lines[0].get_ydata(), small_run.dSS0)
        import matplotlib.pyplot as plt

        new = small_run.plot()
        plt.close(new.figure)
        monkeypatch.chdir(tmp_path)
        assert main(["simulate", str(spec), "--plot", "curve.png", "-o", "c.csv"]) == 0
        assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)


def test_the_library_never_prints_and_notes_go_to_progress(spec, capsys, monkeypatch):
    import respdor.workload as wl

    monkeypatch.setattr(wl, "SIMULATION_NOTICE", 0.0)  # the estimate is due for any spec
    respdor.simulate(spec, progress=False)
    assert capsys.readouterr() == ("", "")
    notes, steps = [], []

    def seen(done, total, label):
        steps.append((done, total))

    seen.note = notes.append
    respdor.simulate(spec, progress=seen)
    assert "estimated work" not in capsys.readouterr().err  # the notes went to the callback
    assert any(n.startswith("estimated work: 84 crystallites x ") for n in notes), notes
    assert not any(n.startswith("checking convergence") for n in notes)  # every setting of the spec is explicit
    assert steps == [] or steps[-1][0] == steps[-1][1]


def test_warnings_are_python_warnings_kept_on_the_result_and_said_in_option_words(spec, capsys):
    with pytest.warns(DataWarning, match="n_orientations=1: 2 \\(alpha, beta\\)") as caught:
        run = respdor.simulate(spec, n_orientations=1, progress=False)
    assert [str(w.message) for w in caught if issubclass(w.category, DataWarning)] == run.warnings[:1]
    data = json.loads(_cli_json(spec, capsys, "--powder", "1"))
    assert data["warnings"][0].startswith("--powder 1: 2 (alpha, beta) orientation(s) is a (near) single crystal")
    assert all("n_orientations" not in w for w in data["warnings"])


def test_unconverged_setting_is_a_convergence_warning_naming_the_argument(spec, capsys):
    """ZCW 21 x 4 gamma checked on request: 4 gamma angles are 0.05 off at 0.6 ms (vs 8)."""
    with pytest.warns(ConvergenceWarning) as caught:
        run = respdor.simulate(spec, check_convergence=True, progress=False)
    conv = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert conv == run.warnings and len(conv) == 1
    assert conv[0].startswith("gamma angles not converged: your 4 vs 8 changes dS/S0 by 0.05")
    assert conv[0].endswith("([powder] n_gamma, n_gamma_angles)")
    assert run.convergence["dimensions"]["gamma"]["status"] == "unconverged"
    assert "convergence NOT reached | 1 warning>" in repr(run)
    data = json.loads(_cli_json(spec, capsys, "--check-convergence"))
    assert data["warnings"] == [conv[0].replace("n_gamma_angles)", "--gamma)")]
    assert data["dSS0"] == run.dSS0.tolist()


@pytest.mark.parametrize("kwargs, python, option", [
    ({"n_orientations": 0}, "n_orientations and n_gamma_angles must be >= 1", "--powder and --gamma must be >= 1"),
    ({"n_gamma_angles": 2.5}, "n_gamma_angles must be a whole number", None),
    ({"powder_tol": 2.0}, "powder_tol 2.0: must be a number in (0, 1)", "--powder-tol 2.0: must be a number"),
])
def test_mistakes_name_the_argument_and_the_command_names_the_option(spec, capsys, kwargs, python, option):
    with pytest.raises(UserError) as err:
        respdor.simulate(spec, progress=False, **kwargs)
    assert python in str(err.value)
    if option:
        flag = {"n_orientations": ["--powder", "0"], "powder_tol": ["--powder-tol", "2.0"]}[next(iter(kwargs))]
        assert main(["simulate", str(spec), "--no-files", *flag]) == 2
        err_lines = capsys.readouterr().err.strip().splitlines()
        assert len(err_lines) == 1 and option in err_lines[0]


def test_long_work_is_refused_unless_allowed(spec, capsys, monkeypatch):
    import respdor.workload as wl

    monkeypatch.setattr(wl, "SIMULATION_LIMIT", 1.0)
    with pytest.raises(UserError, match="estimated work 84 crystallites.*confirm with allow_long=True"):
        respdor.simulate(spec, progress=False)
    assert respdor.simulate(spec, allow_long=True, progress=False).dSS0.size == 4
    assert main(["simulate", str(spec), "--no-files"]) == 2
    line = capsys.readouterr().err.strip().splitlines()
    assert len(line) == 1 and line[0].endswith("confirm with --allow-long") and "respdor simulate " in line[0]


def test_powder_defaults_have_one_home(tmp_path):
    """The spec parser and the tables (library, fit --simulate) read the same powder defaults; a
    crystallite file, which tables cannot rebuild, is refused instead of replaced by the default."""
    import tomllib

    from spinsim.spec import DEFAULT_POWDER, load_spec, powder_settings

    from respdor.simulated import spec_powder

    raw = tomllib.loads(SMALL_SPEC)
    del raw["powder"]
    sp = load_spec(raw)
    assert (sp.powder.n_ab, sp.powder.n_gamma, sp.powder.name) == (987, 32, "zcw987")
    assert powder_settings(raw) == DEFAULT_POWDER == {"scheme": "zcw", "n": 987, "n_gamma": 32}
    cry = tmp_path / "three.cry"
    cry.write_text("0 0 1\n90 45 1\n180 90 1\n")
    raw["powder"] = {"file": str(cry)}
    with pytest.raises(UserError, match="crystallite file"):
        spec_powder(raw)


# --- library build / info

def test_build_library_arguments_are_checked_before_anything_starts(spec, tmp_path):
    before = set(tmp_path.iterdir())
    cases = [({"n_workers": 0}, "n_workers 0: must be >= 1"),
             ({"n_checks": -1}, "n_checks -1: must be >= 0"),
             ({"n_checks": 0, "check_convergence": True}, "check_convergence and powder_tol have no effect"),
             ({"couplings_hz": (100.0, 3e6, 8)}, "below 1.182 A, the lowest distance for 13C-27Al"),
             ({"vary": ["cq=1:2MHz:3", "cq=2:3MHz:3"]}, "vary: each parameter once")]
    for kwargs, needle in cases:
        kw = {"vary": [], **kwargs}
        with pytest.raises(UserError, match=needle.replace("(", "\\(")):
            respdor.build_library(spec, kw.pop("vary"), tmp_path / "lib.h5", progress=False, **kw)
    with pytest.raises(UserError, match="library path .*lib.csv: a library is an HDF5 file"):
        respdor.build_library(spec, [], tmp_path / "lib.csv", progress=False)
    assert set(tmp_path.iterdir()) == before


@pytest.mark.parametrize("argv, python, option", [
    (["--vary", "cq=6:1MHz:3"], "vary 'cq=6:1MHz:3': need LOW < HIGH", "--vary 'cq=6:1MHz:3': need LOW < HIGH"),
    (["--vary", "nu1=20:40kHz:2"], "vary nu1: the spec's saturation (ideal) is not an rf pulse",
     "--vary nu1: the spec's saturation (ideal) is not an rf pulse"),
    (["--workers", "0"], "n_workers 0: must be >= 1", "--workers 0: must be >= 1"),
    (["--couplings", "100:3000k:8"], "couplings_hz 100:3e+06:8 (3e+06 Hz for 13C-27Al, i.e. r)",
     "--couplings 100:3e+06:8 (3e+06 Hz for 13C-27Al, i.e. r)"),
])
def test_build_library_names_arguments_and_the_command_its_options(spec, tmp_path, capsys, argv, python, option):
    from respdor.cli.library import _couplings

    kw = {"--vary": ("vary", lambda v: [v]), "--workers": ("n_workers", int),
          "--couplings": ("couplings_hz", _couplings)}
    name, convert = kw[argv[0]]
    args = {"vary": []} | {name: convert(argv[1])}
    with pytest.raises(UserError) as err:
        respdor.build_library(spec, args.pop("vary"), tmp_path / "lib.h5", progress=False, **args)
    assert python in str(err.value) and "--" not in str(err.value)
    assert main(["library", "build", str(spec), "-o", str(tmp_path / "lib.h5"), *argv]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and option in lines[0], lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.toml"]


def test_library_build_and_info_call_and_command_agree(spec, tmp_path, capsys):
    pytest.importorskip("h5py")
    pytest.importorskip("distributed")
    path = tmp_path / "lib.h5"
    built = respdor.build_library(spec, ["cq=2:4MHz:3"], path, couplings_hz=(300.0, 800.0, 4), n_workers=1,
                                  n_checks=2, progress=False)
    assert capsys.readouterr() == ("", "")
    assert (built.computed, built.skipped, built.n_curves) == (3, 0, 12) and path.exists()
    assert len(repr(built)) <= 200 and "12 curves, 3 points computed" in repr(built)
    info = respdor.library_info(path)
    assert info.complete and info.axes["cq"]["n"] == 3 and info.interp_error["n_points"] == 2
    assert main(["library", "info", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(info.to_json())
    assert respdor.LibraryInfo.from_json(info.to_json()).to_dict() == info.to_dict()
    assert "<td>cq</td>" in info._repr_html_() and len(repr(info)) <= 200
    # the command resumes the call's finished file: nothing computed again, same summary
    assert main(["library", "build", str(spec), "-o", str(path), "--vary", "cq=2:4MHz:3", "--couplings",
                 "300:800:4", "--workers", "1", "--checks", "2", "--json", "-"]) == 0
    out = capsys.readouterr().out
    again = json.loads(out[out.index("{"):])
    assert again["skipped"] == 3 and again["computed"] == 0 and again["interp_error"] == built.interp_error
    from matplotlib.figure import Figure

    ax = info.plot(Figure().add_subplot())
    assert len(ax.lines) == 3 and np.all(np.isfinite(ax.lines[-1].get_ydata()))


def test_a_loaded_spec_or_a_dict_is_taken_and_left_as_it_was(spec, small_run):
    import tomllib

    from spinsim.spec import load_spec

    loaded = load_spec(spec)
    run = respdor.simulate(loaded, n_orientations=34, progress=False)
    assert loaded.powder.name == "zcw21" and run.info["powder"] == "zcw34"
    raw = tomllib.loads(SMALL_SPEC)
    from_dict = respdor.simulate(raw, progress=False)
    assert np.array_equal(from_dict.dSS0, small_run.dSS0) and from_dict.spec == "<dict>"
    assert raw == tomllib.loads(SMALL_SPEC)
