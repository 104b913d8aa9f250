"""The command line: results, files, and one-line errors with a non-zero exit."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from respdor.cli import main

DATA = Path(__file__).parent / "data"
EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "respdor_13C27Al_synthetic.csv"


def test_fit_example_writes_results(tmp_path, capsys):
    rc = main(["fit", str(EXAMPLE), "--observe", "13C", "--partner", "27Al", "--output-dir", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "D (Hz)" in out and "r (A)" in out and "fraction f" in out
    stem = EXAMPLE.stem
    for suffix in ("_fit.json", "_fit_params.csv", "_fit_curve.csv", "_fit.png"):
        assert (tmp_path / f"{stem}{suffix}").stat().st_size > 100
    result = json.loads((tmp_path / f"{stem}_fit.json").read_text())
    assert abs(result["coupling_hz"]["value"] - 503) < 3 * result["coupling_hz"]["stderr"]
    assert abs(result["fraction"]["value"] - 0.24) < 3 * result["fraction"]["stderr"]
    assert result["n_points"] == 15


def test_json_to_stdout_is_clean(tmp_path, capsys):
    rc = main(["fit", str(EXAMPLE), "--json", "-", "--no-files", "--no-plot", "--fix", "f=0.24"])
    assert rc == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["fraction"]["value"] == 0.24 and data["fraction"]["vary"] is False
    assert data["distance_angstrom"]["ci95"][0] < data["distance_angstrom"]["value"]
    assert "D (Hz)" in captured.err


def test_headerless_real_file_with_time_unit(tmp_path, capsys):
    rc = main(["fit", str(DATA / "INTERFACES_Zn-curve1.txt"), "--time-unit", "s", "--model", "redor",
               "--observe", "13C", "--partner", "29Si", "--fix", "x=1", "--output-dir", str(tmp_path), "--no-plot"])
    assert rc == 0
    assert "time unit: s (as given by the user)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "missing.csv"], "missing.csv: no such file"),
        (["fit", str(DATA / "INTERFACES_Zn-curve1.txt")], "--time-unit"),
        (["fit", str(EXAMPLE), "--fix", "f"], "expected NAME=VALUE"),
        (["fit", str(EXAMPLE), "--fix", "q=1"], "unknown parameter"),
        (["fit", str(EXAMPLE), "--partner", "Al"], "unknown isotope"),
        (["fit", str(EXAMPLE), "--free", "eps"], "multiply the curve alike"),
        (["fit", str(EXAMPLE), "--sequence", "redor-finite"], "needs --pulse-length and --mas"),
        (["convert", "--pair", "13C", "27Al", "--distance", "2.5furlong"], "unknown unit"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.startswith("respdor: error:") and "\n" not in err


def test_input_is_never_overwritten(tmp_path, capsys):
    copy = tmp_path / "curve.csv"
    copy.write_text(EXAMPLE.read_text())
    before = copy.read_bytes()
    assert main(["fit", str(copy), "--plot", str(copy), "--output-dir", str(tmp_path)]) == 2
    assert "refusing to overwrite an input file" in capsys.readouterr().err
    assert copy.read_bytes() == before


def test_convert(capsys):
    assert main(["convert", "--pair", "13C", "27Al", "--distance", "2.5"]) == 0
    assert "D = 504.2 Hz" in capsys.readouterr().out
    assert main(["convert", "--observe", "13C", "--partner", "27Al", "--coupling", "0.503kHz"]) == 0
    assert "r = 2.5020 A" in capsys.readouterr().out


def test_demo_runs(tmp_path, capsys):
    assert main(["demo", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC" in out and (tmp_path / "respdor_13C27Al_synthetic_fit.json").exists()


def test_help_of_every_command(capsys):
    import argparse

    from respdor.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert {"fit", "demo", "convert"} <= set(sub.choices)
    for name in sub.choices:
        with pytest.raises(SystemExit) as info:
            main([name, "--help"])
        assert info.value.code == 0
        assert "usage: respdor " + name in capsys.readouterr().out
    # The console entry point itself, once, as a separate process.
    proc = subprocess.run([sys.executable, "-m", "respdor", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "fit" in proc.stdout


def test_import_compiles_no_numba_kernel():
    code = "import respdor, respdor.fitting, respdor.cli, sys; assert 'numba' not in sys.modules, 'numba imported'"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# --- the one error path (respdor.cli.main) -------------------------------------------------------


def _convert_raising(monkeypatch, exc_or_fn):
    import respdor.cli.convert as convert

    def run(args):
        if callable(exc_or_fn):
            return exc_or_fn()
        raise exc_or_fn

    monkeypatch.setattr(convert, "run", run)
    return ["convert", "--pair", "13C", "27Al", "--distance", "2.5"]


def test_a_bug_asks_for_a_report_without_traceback(monkeypatch, capsys):
    monkeypatch.delenv("RESPDOR_DEBUG", raising=False)
    argv = _convert_raising(monkeypatch, RuntimeError("boom\nsecond line"))
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines() == [err.strip()]  # one line
    assert "internal error (RuntimeError: boom second line)" in err and "please report" in err


@pytest.mark.parametrize("how", ["env", "option"])
def test_debug_shows_the_traceback(how, monkeypatch, capsys):
    argv = _convert_raising(monkeypatch, RuntimeError("boom"))
    if how == "env":
        monkeypatch.setenv("RESPDOR_DEBUG", "1")
    else:
        monkeypatch.delenv("RESPDOR_DEBUG", raising=False)
        argv = ["--debug"] + argv
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: boom" in err


def test_keyboard_interrupt_and_numba_systemerror_exit_130(monkeypatch, capsys):
    assert main(_convert_raising(monkeypatch, KeyboardInterrupt())) == 130
    assert capsys.readouterr().err.strip() == "respdor: interrupted"

    def numba_like():
        # A SIGINT inside a compiled kernel surfaces as SystemError with the interrupt as context.
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise SystemError("<numba function> returned a result with an exception set")

    assert main(_convert_raising(monkeypatch, numba_like)) == 130
    assert capsys.readouterr().err.strip() == "respdor: interrupted"


def test_numpy_warnings_are_one_plain_line(monkeypatch, capsys):
    import numpy as np

    def warn():
        np.log(np.zeros(3))
        np.log(np.zeros(3))  # the same warning twice is said once
        return 0

    assert main(_convert_raising(monkeypatch, warn)) == 0
    err = capsys.readouterr().err
    assert err.strip() == "respdor: warning: divide by zero encountered in log (RuntimeWarning)"


def test_user_error_numbers_print_as_numbers(monkeypatch, capsys):
    import numpy as np

    from respdor.errors import UserError

    argv = _convert_raising(monkeypatch, UserError(f"negative time {np.float64(-0.2)!r} at {np.int64(3)!r}"))
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == "respdor: error: negative time -0.2 at 3"


def test_usage_mistake_is_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        main(["convert", "--pair", "13C"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("respdor: error: respdor convert: argument --pair")


def test_ctrl_c_swallowed_by_a_library_still_interrupts_and_writes_nothing(monkeypatch, capsys, tmp_path):
    import signal

    from respdor.files import OutputPlan

    target = tmp_path / "result.csv"

    def run():
        plan = OutputPlan()
        path = plan.add(target, "--csv")
        plan.check()
        try:  # what a finalizer printing "Exception ignored in ..." amounts to
            signal.getsignal(signal.SIGINT)(signal.SIGINT, None)
        except KeyboardInterrupt:
            pass
        plan.write_text(path, "complete but unwanted\n")
        return 0

    # As in a foreground terminal, whatever this test process inherited: a job started in the
    # background by a non-interactive shell begins with SIGINT ignored, and respdor then (rightly)
    # leaves it ignored.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        assert main(_convert_raising(monkeypatch, run)) == 130
        assert capsys.readouterr().err.strip() == "respdor: interrupted"
        assert not target.exists()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored for in-process callers
    finally:
        signal.signal(signal.SIGINT, inherited)


def test_option_prefixes_are_refused(capsys):
    # An unambiguous prefix ('--recycl' for '--recycle') would be accepted by plain argparse; a
    # renamed option could then silently become another one, so prefixes are refused everywhere.
    from respdor.cli import build_parser

    argv = ["plan", "--observe", "13C", "--partner", "27Al", "--distance", "2.5", "--fraction", "0.24",
            "--snr", "40", "--scans", "64", "--mas", "10k"]
    build_parser().parse_args(argv + ["--recycle", "5"])  # the full name parses
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv + ["--recycl", "5"])
    assert exc.value.code == 2
    assert "--recycl" in capsys.readouterr().err
