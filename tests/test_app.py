"""The app's parts that need no browser: the Fit form (widget texts -> respdor.fit's arguments, the
equivalent command line and Python code), the upload folder and the path rule, the worker's cancel and
warnings, and the `respdor app` command's refusals. The pages in a real browser: test_app_browser.py."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest

import respdor
from respdor.app.fitform import FitForm, ParameterRow, in_field_words
from respdor.app.uploads import UploadFolder, inside_start_folder, safe_name
from respdor.app.worker import Job, route_warnings
from respdor.cli import main
from respdor.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
CURVE = ROOT / "data" / "respdor_13C27Al_synthetic.csv"


def form(**rows):
    return FitForm(curve=str(CURVE), label="data/respdor_13C27Al_synthetic.csv",
                   rows={k: ParameterRow(**v) for k, v in rows.items()})


# --- widget values -> arguments of respdor.fit ----------------------------------------------------
def test_an_untouched_form_asks_for_the_default_fit():
    assert form().call_arguments() == {"curves": str(CURVE)}


@pytest.mark.parametrize("rows,expected", [
    ({"r": {"fixed": True, "value": "0.25nm"}}, {"fix": {"r": 2.5}}),
    ({"D": {"fixed": True, "value": "0.5kHz"}}, {"fix": {"D": 500.0}}),
    ({"D": {"value": "400", "low": "100", "high": "2k"}}, {"start": {"D": 400.0}, "bounds": {"D": (100.0, 2000.0)}}),
    ({"eps": {"fixed": False}}, {"free": ["eps"]}),
    ({"eps": {"fixed": True, "value": "0.9"}}, {"fix": {"eps": 0.9}}),
    ({"width": {"fixed": False, "value": "20pm"}}, {"free": ["width"], "start": {"width": 0.2}}),
])
def test_parameter_rows_become_fix_start_bounds_free_in_the_fit_units(rows, expected):
    args = form(**rows).call_arguments()
    args.pop("curves")
    assert args.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, dict):
            assert args[key].keys() == value.keys()
            for name, v in value.items():
                assert args[key][name] == pytest.approx(v, rel=1e-12)
        else:
            assert args[key] == value


@pytest.mark.parametrize("rows,words", [
    ({"r": {"fixed": True, "value": "abc"}}, "fix r: cannot read 'abc' as a distance"),
    ({"D": {"fixed": True}}, "fix D: give the value to hold it at"),
    ({"f": {"low": "0.1"}}, "bounds f: give both the low and the high end"),
    ({"f": {"value": "a lot"}}, "start f: cannot read 'a lot' as a number"),
    ({"D": {"fixed": True, "value": "-5"}}, "fix D -5: a frequency here cannot be negative"),
    ({"D": {"fixed": True, "value": "5 parsecs"}}, "fix D: unknown unit 'parsecs' in '5 parsecs'"),
])
def test_a_mistake_in_a_field_is_one_line_naming_the_field(rows, words):
    with pytest.raises(UserError) as err:
        form(**rows).call_arguments()
    assert words in str(err.value) and "\n" not in str(err.value)


def test_library_argument_names_are_said_as_the_page_names_its_fields():
    assert in_field_words("t.csv:1: give time_unit") == "t.csv:1: give Time unit"
    assert in_field_words("give the MAS rate (mas_rate_hz)") == "give the MAS rate (MAS rate)"
    assert in_field_words("the chain is rough: raise mcmc_steps") == "the chain is rough: raise MCMC steps"


def test_a_bad_mas_rate_is_named_by_its_field():
    f = form()
    f.mas = "fast"
    with pytest.raises(UserError, match="MAS rate: cannot read 'fast'"):
        f.call_arguments()


# --- the same fit as a command line and as Python ----------------------------------------------------
def _numbers(document):
    return {k: v.get("value") for k, v in document["parameters"].items()} if "parameters" in document else \
        {k: v["value"] for k, v in document.items() if isinstance(v, dict) and "value" in v}


def test_command_line_and_python_code_give_the_fit_of_the_page(monkeypatch, capsys):
    f = form(r={"fixed": True, "value": "2.5"}, f={"low": "0", "high": "0.5"})
    f.intervals = False
    f.model, f.sequence = "redor", "sr4"
    page = respdor.fit(**f.call_arguments())
    line = f.command_line()
    assert line.startswith("respdor fit data/respdor_13C27Al_synthetic.csv ")
    assert "--fix r=2.5" in line and "--bound f=0:0.5" in line and "--model redor" in line
    monkeypatch.chdir(ROOT)
    assert main(shlex.split(line)[1:]) == 0
    cli = json.loads(capsys.readouterr().out)
    scope = {}
    exec(f.python_code().replace("print(result.report())", ""), scope)  # the code as shown on the page
    assert _numbers(page.to_dict()) == _numbers(cli) == _numbers(scope["result"].to_dict())
    assert page["distance_angstrom"].value == 2.5 and 0 <= page["fraction"].value <= 0.5


# --- uploads and paths -----------------------------------------------------------------------------
def test_uploads_live_in_a_private_folder_removed_at_the_end():
    up = UploadFolder(limit=1000)
    try:
        assert (os.stat(up.path).st_mode & 0o777) == 0o700
        a, b = up.save("curve.csv", b"t_ms,dSS0\n"), up.save("curve.csv", b"other")
        assert a != b and a.name == b.name == "curve.csv" and a.read_bytes() == b"t_ms,dSS0\n"
        assert up.as_user_sees(f"{a}:1: is a binary file") == "curve.csv:1: is a binary file"
        with pytest.raises(UserError, match=r"big.csv: 0.1 MB is more than the upload limit of 0 MB"):
            up.save("big.csv", b"x" * 1001)
    finally:
        up.remove()
    assert not up.path.exists()


@pytest.mark.parametrize("name,safe", [("../../etc/passwd", "passwd"), ("C:\\data\\c.csv", "c.csv"),
                                       ("..", "upload.txt"),
                                       ("", "upload.txt"), ("a\x00b.csv", "ab.csv")])
def test_uploaded_names_cannot_leave_the_upload_folder(name, safe):
    assert safe_name(name) == safe


def test_paths_typed_in_the_browser_stay_in_the_start_folder(tmp_path):
    start = tmp_path / "start"
    (start / "sub").mkdir(parents=True)
    (start / "escape").symlink_to(tmp_path)
    assert inside_start_folder("", start) == start.resolve()
    assert inside_start_folder("sub/new", start) == (start / "sub" / "new").resolve()
    for text in ("..", "/etc", "sub/../..", "escape", "escape/x", str(tmp_path)):
        with pytest.raises(UserError, match="outside the folder the app was started in"):
            inside_start_folder(text, start)


# --- the worker -----------------------------------------------------------------------------------
def test_a_job_is_cancelled_at_its_next_step_and_keeps_nothing():
    steps, started = [], threading.Event()

    def work(progress):
        progress.start(10_000, "steps")
        for _ in range(10_000):
            started.set()
            threading.Event().wait(0.001)
            progress.advance()
            steps.append(1)
        return "finished"

    job = Job(work).start()
    started.wait()
    job.cancel()
    assert job.wait(30) == "cancelled" and job.result is None and job.message.startswith("cancelled")
    assert len(steps) < 10_000


def test_a_cancel_waits_for_a_call_without_steps_and_drops_its_result():
    # no exception is thrown into the thread (it could stop a file or a compilation half-done)
    release, started = threading.Event(), threading.Event()

    def work(progress):
        started.set()
        release.wait(30)
        return "finished"

    job = Job(work).start()
    started.wait()
    job.cancel()
    assert job.wait(0.2) == "running"  # still in the call
    release.set()
    assert job.wait(30) == "cancelled" and job.result is None


def test_a_job_reports_a_user_mistake_as_its_one_line():
    job = Job(lambda progress: respdor.fit(str(CURVE), "27Al", "13C", progress=progress)).start()
    assert job.wait(60) == "failed"
    assert job.message.startswith("observe 27Al: spin 2.5 (quadrupolar)")


def test_warnings_go_to_the_job_whose_thread_raised_them():
    route_warnings()

    def warn(text):
        def fn(progress):
            warnings.warn(text, UserWarning)
            return text
        return fn

    jobs = [Job(warn(f"tab {i}")).start() for i in range(4)]
    for i, job in enumerate(jobs):
        assert job.wait(30) == "done" and job.warnings == [f"tab {i}"]


# --- the command --------------------------------------------------------------------------------
def _run(code):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)


def test_import_respdor_and_help_do_not_import_panel():
    out = _run("import sys, respdor, respdor.app\nfrom respdor.cli import main\n"
               "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
               "print('panel' in sys.modules, 'bokeh' in sys.modules, file=sys.stderr)")
    assert out.stderr.strip().splitlines()[-1] == "False False"


def test_without_panel_the_command_names_the_extra():
    out = _run("import sys\nsys.modules['panel'] = None\nfrom respdor.cli import main\n"
               "sys.exit(main(['app', '--no-browser']))")
    assert out.returncode == 2
    assert out.stderr.strip() == "respdor: error: respdor app needs the 'app' extra: pip install 'respdor[app]'"


@pytest.mark.parametrize("port", ["0", "70000", "-1"])
def test_a_port_out_of_range_is_refused(port, capsys):
    assert main(["app", "--no-browser", "--port", port]) == 2
    assert "--port" in capsys.readouterr().err


# --- uploads that are not curves: the page says what `respdor fit <file>` says ---------------------
#: (file name, bytes); the page's line must equal the command's, with the option names of the command
#: (--time-unit, --mas) said as the page's fields (Time unit, MAS rate).
NOT_CURVES = [
    ("png.csv", b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(64)),
    ("zeros.txt", bytes(100)),
    ("latin1.csv", "t_ms,dSS0\n1,0.5\n# Ångström\n".encode("latin-1")),
    ("empty.csv", b""),
    ("blank.csv", b"\n\n  \n"),
    ("header_only.csv", b"t_ms,dSS0,sigma\n"),
    ("columns.csv", b"t_ms,foo\n1,2\n"),
    ("word.csv", b"t_ms,dSS0,sigma\n1,abc,0.1\n2,0.3,0.1\n"),
    ("page.html", b"<!DOCTYPE html><html><body>curve</body></html>\n"),
    ("json.json", b'{"t_ms": [1, 2], "dSS0": [0.1, 0.2]}\n'),
    ("nan.csv", b"t_ms,dSS0,sigma\n1,nan,0.1\n2,0.3,0.1\n"),
    ("ragged.csv", b"t_ms,dSS0,sigma\n1,0.1\n2,0.3,0.1,7\n"),
    ("no_unit.csv", b"t,dSS0,sigma\n1,0.1,0.1\n2,0.3,0.1\n"),
    ("rotor.csv", b"n_rotor,dSS0,sigma\n1,0.1,0.1\n2,0.3,0.1\n"),
]


@pytest.mark.parametrize("name,data", NOT_CURVES, ids=[n for n, _ in NOT_CURVES])
def test_an_upload_that_is_not_a_curve_is_named_as_respdor_fit_names_it(name, data, tmp_path, monkeypatch, capsys):
    from respdor.app.uploads import read_uploaded_curve

    (tmp_path / name).write_bytes(data)
    monkeypatch.chdir(tmp_path)
    assert main(["fit", name, "--no-files"]) == 2
    cli = capsys.readouterr().err.strip()
    assert cli.startswith("respdor: error: ") and "\n" not in cli
    up = UploadFolder()
    try:
        with pytest.raises(UserError) as err:
            read_uploaded_curve(up, up.save(name, data))
        page = str(err.value)
    finally:
        up.remove()
    assert page == cli.removeprefix("respdor: error: ").replace("--time-unit", "Time unit").replace("--mas", "MAS rate")
    assert str(up.path) not in page and page.startswith(name)


# --- the Plan page's form ---------------------------------------------------------------------------
def test_plan_form_values_with_units_become_the_arguments_of_respdor_plan():
    from respdor.app.planform import PlanForm

    args = PlanForm(value="0.25nm", recycle="5000ms", mas="10k", t2prime="8ms", buildup="4s", target="D",
                    target_error="0.05kHz").call_arguments()
    assert args["distance_angstrom"] == pytest.approx(2.5) and args["recycle_s"] == pytest.approx(5.0)
    assert args["mas_rate_hz"] == 1e4 and args["t2prime_s"] == pytest.approx(8e-3) and args["buildup_s"] == 4.0
    assert args["target_coupling_error_hz"] == pytest.approx(50.0) and args["scans"] == 64
    assert PlanForm(assumed="D", value="504").call_arguments()["coupling_hz"] == 504.0


@pytest.mark.parametrize("field,text,words", [
    ("scans", "64.5", "Scans: cannot read '64.5' as a whole number"),
    ("recycle", "5 min", "Recycle delay: unknown unit 'min'"),
    ("value", "-2.5", "Assumed r -2.5: a distance here cannot be negative"),
    ("snr", "", "S/N: cannot read '' as a number"),
])
def test_a_mistake_on_the_plan_page_names_its_field(field, text, words):
    from respdor.app.planform import PlanForm

    with pytest.raises(UserError) as err:
        PlanForm(**{field: text}).call_arguments()
    assert words in str(err.value)


def test_the_plan_command_line_and_python_code_make_the_plan_of_the_page(tmp_path, monkeypatch):
    from respdor.app.planform import PlanForm

    form = PlanForm(target="f", target_error="0.05", t2prime="8ms")
    page = json.loads(respdor.plan(**form.call_arguments()).to_json())
    monkeypatch.chdir(tmp_path)
    line = form.command_line()
    assert "--t2prime 0.008s" in line and "--distance 2.5A" in line and line.endswith("--json plan.json")
    assert main(shlex.split(line)[1:]) == 0
    assert json.loads((tmp_path / "plan.json").read_text()) == page
    scope = {}
    exec(form.python_code().replace("print(result)", ""), scope)
    assert json.loads(scope["result"].to_json()) == page


# --- the Structure page's form ------------------------------------------------------------------
def test_structure_form_becomes_the_arguments_and_the_command_of_the_page(monkeypatch, capsys):
    from respdor.app.structform import StructureForm

    model = ROOT / "data" / "al_carboxylate_model.magres"
    form = StructureForm(path=str(model), label="data/al_carboxylate_model.magres", cutoff="0.4nm", max_partners="1",
                         mas="10k", compare=str(CURVE), compare_label="data/respdor_13C27Al_synthetic.csv")
    args = form.call_arguments()
    assert args["cutoff_angstrom"] == pytest.approx(4.0) and args["mas_rate_hz"] == 1e4 and args["max_partners"] == 1
    page = json.loads(respdor.predict_structure(progress=False, **args).to_json())
    monkeypatch.chdir(ROOT)
    assert main(shlex.split(form.command_line())[1:]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert cli["apparent_two_spin"] == page["apparent_two_spin"] and cli["dSS0_predicted"] == page["dSS0_predicted"]
    assert cli["compare"]["fraction"] == page["compare"]["fraction"]
    assert "respdor.predict_structure(path='data/al_carboxylate_model.magres'" in form.python_code()


@pytest.mark.parametrize("field,text,words", [("max_partners", "two", "Max partners: cannot read 'two'"),
                                              ("cutoff", "4 miles", "Cutoff: unknown unit 'miles'"),
                                              ("observe", " ", "Observed atoms: give an element")])
def test_a_mistake_on_the_structure_page_names_its_field(field, text, words):
    from respdor.app.structform import StructureForm

    with pytest.raises(UserError, match=re.escape(words)):
        StructureForm(path="x", label="x", **{field: text}).call_arguments()


#: Structure files that cannot be used: (name, bytes). The page's line must equal `respdor structure`'s
#: with the command's options said as the page's fields.
NOT_STRUCTURES = [
    ("bin.xyz", b"\x00\x01garbage"),
    ("empty.xyz", b""),
    ("text.xyz", b"hello world\nthis is not xyz\n"),
    ("short.xyz", b"3\n\nC 0 0 0\nO 1 0 0\n"),
    ("no_partner.xyz", b"2\n\nC 0 0 0\nO 1.2 0 0\n"),
]


@pytest.mark.parametrize("name,data", NOT_STRUCTURES, ids=[n for n, _ in NOT_STRUCTURES])
def test_a_structure_upload_that_cannot_be_used_is_named_as_respdor_structure_names_it(name, data, tmp_path,
                                                                                        monkeypatch, capsys):
    pytest.importorskip("ase")
    from respdor.app.structform import StructureForm
    from respdor.app.uploads import page_words

    (tmp_path / name).write_bytes(data)
    monkeypatch.chdir(tmp_path)
    assert main(["structure", name, "--observe", "C", "--partner", "27Al", "--no-files"]) == 2
    cli = capsys.readouterr().err.strip().removeprefix("respdor: error: ")
    up = UploadFolder()
    try:
        form = StructureForm(path=str(up.save(name, data)), label=name)
        job = Job(lambda progress: respdor.predict_structure(progress=progress, **form.call_arguments())).start()
        assert job.wait(60) == "failed"
        page = page_words(up, job.message)
    finally:
        up.remove()
    assert page == cli.replace("--cutoff", "Cutoff") and page.startswith(name)


# --- the Simulate page's spec -----------------------------------------------------------------------
SPEC_TEXT = (ROOT / "data" / "c13_al27_respdor.toml").read_text()
#: Specs edited into mistakes: (what, the edit). The page's line must equal `respdor simulate <spec>`'s.
BAD_SPECS = [
    ("negative coupling", lambda s: s.replace("d_hz = 503.0", "d_hz = -503.0")),
    ("unknown key", lambda s: s.replace("d_hz = 503.0", "d_hz = 503.0\nd_khz = 0.5")),
    ("TOML syntax", lambda s: s.replace('type = "respdor"', 'type = "respdor')),
    ("no spins", lambda s: s.split("[[spins]]")[0] + "[powder]\nn = 144\n"),
    ("unknown isotope", lambda s: s.replace('isotope = "27Al"', 'isotope = "28Al"')),
    ("implausible field", lambda s: s.replace("field_T = 9.4", "field_T = 940")),
    ("empty", lambda s: ""),
]


@pytest.mark.parametrize("what,edit", BAD_SPECS, ids=[w for w, _ in BAD_SPECS])
def test_a_spec_mistake_is_named_as_respdor_simulate_names_it(what, edit, tmp_path, monkeypatch, capsys):
    from respdor.app.simform import SimulateForm
    from respdor.app.uploads import page_words

    text = edit(SPEC_TEXT)
    (tmp_path / "spec.toml").write_text(text)
    monkeypatch.chdir(tmp_path)
    assert main(["simulate", "spec.toml", "--no-files"]) == 2
    cli = capsys.readouterr().err.strip().splitlines()[-1].removeprefix("respdor: error: ")
    up = UploadFolder()
    try:
        form = SimulateForm(name="spec.toml", text=text)
        args = form.call_arguments(up)
        job = Job(lambda progress: respdor.simulate(progress=progress, **args)).start()
        assert job.wait(60) == "failed"
        page = page_words(up, job.message)
    finally:
        up.remove()
    assert page == cli and page.startswith("spec.toml")


def test_the_simulate_command_line_and_code_run_the_spec_of_the_page(tmp_path, monkeypatch):
    from respdor.app.simform import SimulateForm

    up = UploadFolder()
    try:
        form = SimulateForm(name="seed.toml", text=SPEC_TEXT, orientations="144", gamma="8")
        args = form.call_arguments(up)
        page = respdor.simulate(progress=False, **args)
    finally:
        up.remove()
    (tmp_path / "seed.toml").write_text(SPEC_TEXT)
    monkeypatch.chdir(tmp_path)
    line = form.command_line(args)
    assert line == "respdor simulate seed.toml --powder 144 --gamma 8 --output seed_sim.csv"
    assert main(shlex.split(line)[1:]) == 0
    assert (tmp_path / "seed_sim.csv").read_text() == page.csv_text()
    with pytest.raises(UserError, match="Gamma angles: cannot read 'eight'"):
        SimulateForm(name="s.toml", text="", gamma="eight").call_arguments(up)
    with pytest.raises(UserError, match="spec.txt: a spec is a .toml or .json file"):
        SimulateForm(name="spec.txt", text="").call_arguments(up)


def test_a_simulated_shape_is_passed_to_the_fit_and_named_in_the_command_and_the_code():
    spec = ROOT / "data" / "c13_al27_respdor.toml"
    f = form()
    f.simulate_spec, f.simulate_label = str(spec), "data/c13_al27_respdor.toml"
    assert f.call_arguments() == {"curves": str(CURVE), "simulate_spec": str(spec)}
    assert "--simulate data/c13_al27_respdor.toml" in f.command_line()
    assert "simulate_spec='data/c13_al27_respdor.toml'" in f.python_code()


# --- the Spectra page's form ----------------------------------------------------------------------
def test_the_csa_fit_of_the_spectra_page_is_the_fit_of_its_command_and_code(tmp_path, monkeypatch):
    from respdor.app.spectraform import SpectraForm

    spectrum = ROOT / "data" / "pass_113Cd_synthetic" / "mas1d_8kHz.txt"
    form = SpectraForm(path=str(spectrum), label="data/pass_113Cd_synthetic/mas1d_8kHz.txt", mas="8kHz",
                       larmor="88.8016MHz", sites="-50", spans="100", fwhm="30", noise="150, 210")
    args = form.call_arguments()
    assert args["noise_region_ppm"] == (150.0, 210.0) and args["mas_rate_hz"] == 8000.0
    assert args["larmor_hz"] == pytest.approx(88.8016e6)
    page = json.loads(respdor.csa_fit(progress=False, **args).to_json())
    line = form.command_line()
    assert line.startswith("respdor csa-fit data/pass_113Cd_synthetic/mas1d_8kHz.txt --spectrum --mas 8000Hz")
    (tmp_path / "data").symlink_to(ROOT / "data")
    monkeypatch.chdir(tmp_path)
    assert main(shlex.split(line)[1:]) == 0
    cli = json.loads((tmp_path / "csa.json").read_text())
    page["notes"] = [n.replace(str(spectrum), "data/pass_113Cd_synthetic/mas1d_8kHz.txt") for n in page["notes"]]
    assert cli == page  # the same numbers; the notes name the file as each was given it
    assert "source='data/pass_113Cd_synthetic/mas1d_8kHz.txt'" in form.python_code()


@pytest.mark.parametrize("field,text,words", [("sites", "", "Sites: give the isotropic shift"),
                                              ("sites", "-50 abc", "Sites: cannot read '-50 abc' as numbers"),
                                              ("noise", "150", "Noise region: give its two ends"),
                                              ("fwhm", "30 40", "Line width: give one width"),
                                              ("mas", "fast", "MAS rate: cannot read 'fast'")])
def test_a_mistake_on_the_spectra_page_names_its_field(field, text, words):
    from respdor.app.spectraform import SpectraForm

    values = dict(path="x", label="x", sites="-50")
    values[field] = text
    with pytest.raises(UserError, match=re.escape(words)):
        SpectraForm(**values).call_arguments()


# --- serving ----------------------------------------------------------------------------------------
def _serve(args, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path))
    return subprocess.Popen([sys.executable, "-m", "respdor", "app", "--no-browser", *args], cwd=tmp_path, env=env,
                            stderr=subprocess.PIPE, text=True)


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serving_beyond_the_machine_is_said_and_ctrl_c_exits_130_leaving_nothing(tmp_path):
    pytest.importorskip("panel")
    import signal

    port = _free_port()
    proc = _serve(["--host", "0.0.0.0", "--port", str(port)], tmp_path)
    lines = []
    for line in proc.stderr:
        lines.append(line.strip())
        if "serving on" in line:
            break
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 130
    lines += proc.stderr.read().strip().splitlines()
    assert lines[0].startswith("respdor: warning: --host 0.0.0.0: the app is reachable from other machines")
    assert lines[1] == f"respdor app: serving on http://127.0.0.1:{port}/ (Ctrl-C to stop)"
    assert lines[2:] == ["respdor: interrupted"]
    assert list(tmp_path.iterdir()) == []  # the upload folder is gone, nothing else was written


def test_a_port_in_use_is_named(tmp_path):
    pytest.importorskip("panel")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = _serve(["--port", str(port)], tmp_path)
        assert proc.wait(60) == 2
        assert proc.stderr.read().strip() == f"respdor: error: --port {port}: already in use; give another port"


def test_mcmc_steps_ask_for_the_posterior_in_the_call_the_command_and_the_code():
    f = form()
    f.mcmc_steps = "300"
    assert f.call_arguments() == {"curves": str(CURVE), "mcmc": True, "mcmc_steps": 300}
    assert "--mcmc --mcmc-steps 300" in f.command_line() and "mcmc=True, mcmc_steps=300" in f.python_code()
    f.mcmc_steps = "lots"
    with pytest.raises(UserError, match="MCMC steps: cannot read 'lots' as a whole number"):
        f.call_arguments()
