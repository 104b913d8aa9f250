"""The web app in a real browser: headless Chromium (the distribution's /usr/bin/chromium) driven
by Playwright, against `respdor app` started on a free port, doing what a user does.

Skipped with one line when Chromium, Playwright or Panel is missing (CI installs them, see .ci/run).
Screenshots for the documentation are taken by benchmarks/bench_app.py, not here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CURVE = ROOT / "data" / "respdor_13C27Al_synthetic.csv"
#: Chromium flags that work as root in a container (no sandbox, no network services of its own).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if not os.path.exists(CHROMIUM):
    pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
pytest.importorskip("panel", reason="the app needs Panel (pip install 'respdor[app]')")
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need Playwright (pip install playwright)")
expect = sync_api.expect
#: How long the page may take for one step (a fit on a busy machine, the first page load): a limit
#: against hanging, not a speed requirement (speed: benchmarks/bench_app.py).
STEP_MS = int(os.environ.get("RESPDOR_APP_STEP_MS", 120_000))
expect.set_options(timeout=STEP_MS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path, tmpdir: Path):
    """`respdor app --no-browser` in ``folder`` (uploads under ``tmpdir``); returns (process, url)."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmpdir))
    proc = subprocess.Popen([sys.executable, "-m", "respdor", "app", "--no-browser", "--port", str(port)],
                            cwd=folder, env=env, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if "serving on" in line:
            return proc, line.split("serving on ")[1].split()[0]
    raise RuntimeError(f"respdor app did not start (exit {proc.wait()})")


def stop_server(proc):
    """Ctrl-C, as a user stops it: exit 130."""
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder, tmpdir = tmp_path_factory.mktemp("start"), tmp_path_factory.mktemp("tmp")
    proc, url = start_server(folder, tmpdir)
    yield url, folder, tmpdir
    assert stop_server(proc) == 130
    assert list(tmpdir.iterdir()) == [], "the upload folder outlived the app"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_page(browser, url):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.set_default_timeout(STEP_MS)
    page.goto(url)
    page.get_by_role("button", name="Fit", exact=True).wait_for()
    return page


def fit(page, n=1):
    """Click Fit (the ``n``-th fit of this page) and return the report once it is drawn."""
    page.get_by_role("button", name="Fit", exact=True).click()
    expect(page.locator(".respdor-success").first).to_contain_text(f"fit {n}: done in")
    return page.locator(".respdor-report pre").inner_text()


def row(report, label):
    """The numbers of one parameter line of the report table (value, stderr or 'fixed')."""
    line = next(x for x in report.splitlines() if x.startswith(label))
    return line[len(label):].split()[:2]


def test_fit_fix_r_and_export_the_json_of_respdor_fit_not_outside_the_start_folder(server, browser, capsys):
    url, folder, _ = server
    page = open_page(browser, url)
    report = fit(page)
    assert row(report, "r (A)") == ["2.54", "0.16"] and row(report, "D (Hz)") == ["481", "92"]
    expect(page.locator(".respdor-profile img")).to_be_visible()  # the chi2 profile of D beside the fit
    page.locator(".fix-r input").check()
    page.locator(".value-r input").fill("0.25nm")
    report = fit(page, 2)
    assert row(report, "D (Hz)") == ["504.2", "fixed"] and row(report, "fraction f")[0] == "0.238"
    expect(page.locator(".respdor-profile")).to_be_hidden()  # r fixed: no profile of D or r
    shown = "\n".join(page.locator(".respdor-reproduce pre").all_inner_texts())
    assert "respdor fit data/respdor_13C27Al_synthetic.csv --fix r=2.5 --no-files --json -" in shown
    assert "respdor.fit(curves='data/respdor_13C27Al_synthetic.csv', fix={'r': 2.5})" in shown

    page.locator(".export-dir input").fill("results")
    page.get_by_role("button", name="Save JSON, CSVs and figure").click()
    expect(page.locator(".respdor-success").last).to_contain_text("_fit.png")
    written = sorted(p.name for p in (folder / "results").iterdir())
    assert written == ["respdor_13C27Al_synthetic_fit.json", "respdor_13C27Al_synthetic_fit.png",
                       "respdor_13C27Al_synthetic_fit_curve.csv", "respdor_13C27Al_synthetic_fit_params.csv"]
    assert sorted(p.name for p in folder.iterdir()) == ["results"]  # nothing else written
    app = json.loads((folder / "results" / "respdor_13C27Al_synthetic_fit.json").read_text())

    from respdor.cli import main

    assert main(["fit", str(CURVE), "--fix", "r=2.5", "--no-files", "--json", "-"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert app.keys() == cli.keys()
    for name, est in cli.items():
        if isinstance(est, dict) and "value" in est:
            assert app[name] == est, name  # value, stderr and intervals: the same numbers
    assert app["warnings"] == cli["warnings"] and app["redchi"] == cli["redchi"]

    before = sorted(os.listdir(folder.parent))  # an export folder outside the start folder: refused
    page.locator(".export-dir input").fill("../elsewhere")
    page.get_by_role("button", name="Save JSON, CSVs and figure").click()
    expect(page.locator(".respdor-danger")).to_contain_text(
        "../elsewhere: outside the folder the app was started in")
    assert sorted(os.listdir(folder.parent)) == before
    page.close()


#: Uploads that are not curves: (file name, bytes, the line `respdor fit <file>` prints after "error: ").
BAD_UPLOADS = [
    ("binary.csv", b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(64), "binary.csv:3: is a binary file, not a curve file"),
    ("empty.csv", b"", "empty.csv: contains no data lines"),
]


@pytest.mark.parametrize("name,data,said", BAD_UPLOADS, ids=[b[0] for b in BAD_UPLOADS])
def test_a_broken_upload_is_named_on_the_page_as_respdor_fit_names_it(server, browser, tmp_path, capsys, name,
                                                                     data, said):
    url, folder, _ = server
    (tmp_path / name).write_bytes(data)
    from respdor.cli import main

    os.chdir(tmp_path)
    try:
        assert main(["fit", name, "--no-files"]) == 2
    finally:
        os.chdir(ROOT)
    assert capsys.readouterr().err.strip() == f"respdor: error: {said}"
    page = open_page(browser, url)
    page.locator(".curve-upload input[type=file]").set_input_files(str(tmp_path / name))
    expect(page.locator(".respdor-danger")).to_have_text(said)
    page.get_by_role("button", name="Fit", exact=True).click()  # Fit on it: the same line, no traceback
    expect(page.locator(".respdor-danger")).to_have_text(said)
    page.close()


def test_two_tabs_do_not_share_their_uploads_or_results(server, browser, tmp_path):
    url, _, _ = server
    shutil.copy(CURVE, tmp_path / "mine.csv")
    one, two = open_page(browser, url), open_page(browser, url)
    one.locator(".curve-upload input[type=file]").set_input_files(str(tmp_path / "mine.csv"))
    expect(one.locator(".respdor-info").first).to_contain_text("read mine.csv: 15 points")
    assert "mine.csv" in one.locator(".curve-select select").inner_text()
    assert two.locator(".respdor-info").count() == 0
    two.locator(".curve-select select").click()
    assert "mine.csv" not in two.locator(".curve-select select").inner_text()
    one.close()
    two.close()


def test_plan_page_gives_the_design_and_the_command(server, browser):
    url, _, _ = server
    page = open_page(browser, url)
    page.locator(".bk-tab", has_text="Plan").click()
    page.get_by_role("button", name="Plan", exact=True).click()
    expect(page.get_by_text("plan 1: done in")).to_be_visible()
    report = page.locator(".respdor-plan-report pre").inner_text()
    assert "optimised: 5.58 h; evenly spaced: 16.36 h" in report  # as docs/planner.md shows for these inputs
    shown = "\n".join(page.locator(".respdor-plan-reproduce pre").all_inner_texts())
    assert "respdor plan --observe 13C --partner 27Al" in shown and "--target-distance-error 0.1A" in shown
    page.close()


def test_structure_page_cancels_a_long_prediction_then_predicts_the_bundled_model(server, browser):
    url, _, _ = server
    page = open_page(browser, url)
    page.locator(".bk-tab", has_text="Structure").click()
    predict = page.get_by_role("button", name="Predict", exact=True)
    predict.click()  # all partners: the coupled engine, about 25 CPU s (below the notice of long work)
    cancel = page.get_by_role("button", name="Cancel", exact=True)
    expect(cancel).to_be_enabled()  # the work is running
    cancel.click()
    expect(page.locator(".respdor-warning")).to_have_text("cancelled; nothing was kept")
    assert page.locator(".respdor-structure-report pre").count() == 0
    page.locator(".max-partners input").fill("1")
    page.locator(".compare-curve select").select_option(label="bundled example: respdor_13C27Al_synthetic.csv")
    predict.click()
    expect(page.get_by_text("predict 1: done in")).to_be_visible()
    report = page.locator(".respdor-structure-report pre").inner_text()
    assert "atom    3  r = 2.939 A  D = 310.5 Hz  C_Q = 3.5 MHz" in report  # the partners table
    assert "apparent two-spin fit of the predicted curve: D = 263.4 Hz, r = 3.104 A" in report
    assert "bonded fraction = 0.322" in report
    page.close()


def test_simulate_page_names_a_spec_mistake_then_overlays_the_run_on_the_measured_curve(server, browser):
    url, _, _ = server
    page = open_page(browser, url)
    page.locator(".bk-tab", has_text="Simulate").click()
    spec = page.locator(".spec-text textarea")
    text = spec.input_value()
    spec.fill(text.replace("d_hz = 503.0", "d_hz = -503.0"))
    run = page.get_by_role("button", name="Simulate", exact=True)
    run.click()
    expect(page.locator(".respdor-danger")).to_have_text(
        "c13_al27_respdor.toml: [dipolar[0]] d_hz must be >= 0, got -503.0")  # as respdor simulate says it
    spec.fill(text)
    page.locator(".orientations input").fill("144")
    page.locator(".gamma input").fill("8")
    page.locator(".overlay-curve select").select_option(label="bundled example: respdor_13C27Al_synthetic.csv")
    run.click()
    expect(page.get_by_text("simulate 1: done in")).to_be_visible()
    report = page.locator(".respdor-sim-report pre").inner_text()
    assert "16 times to 3 ms, dS/S0 at the end 0.6424" in report
    shown = "\n".join(page.locator(".respdor-sim-reproduce pre").all_inner_texts())
    assert "respdor simulate c13_al27_respdor.toml --powder 144 --gamma 8" in shown
    page.close()


def test_spectra_page_fits_the_csa_of_the_bundled_spectrum(server, browser):
    url, _, _ = server
    page = open_page(browser, url)
    page.locator(".bk-tab", has_text="Spectra").click()
    page.get_by_role("button", name="Fit CSA", exact=True).click()
    expect(page.get_by_text("fit csa 1: done in")).to_be_visible()
    report = page.locator(".respdor-spectra-report pre").inner_text()
    assert "MAS rate 8000 Hz (given); evidence: 3 sideband pair(s) around 3 centreband(s), spacing 7972 Hz" in report
    table = page.locator(".respdor-spectra-report table").inner_text()
    assert "157.531" in table and "-49.9952" in table  # span and delta_iso of the -50 ppm site
    page.close()


def test_an_upload_over_the_size_limit_is_refused_with_one_line(server, browser, tmp_path):
    from respdor.app.uploads import MAX_UPLOAD_BYTES

    url, _, tmpdir = server
    big = tmp_path / "huge.csv"
    big.write_bytes(b"t_ms,dSS0\n" + b"1,0.1\n" * (MAX_UPLOAD_BYTES // 6 + 10))
    page = open_page(browser, url)
    page.locator(".curve-upload input[type=file]").set_input_files(str(big))
    expect(page.locator(".respdor-danger")).to_have_text(
        "huge.csv: 20.1 MB is more than the upload limit of 20 MB; is this the right file?")
    assert not [p for p in tmpdir.rglob("huge.csv")]  # nothing of it was written
    page.close()


def test_a_binary_spec_upload_is_named_as_respdor_simulate_names_it(server, browser, tmp_path, capsys):
    (tmp_path / "bin.toml").write_bytes(b"\x00\x01\x02")
    from respdor.cli import main

    os.chdir(tmp_path)
    try:
        assert main(["simulate", "bin.toml", "--no-files"]) == 2
    finally:
        os.chdir(ROOT)
    said = capsys.readouterr().err.strip().removeprefix("respdor: error: ")
    page = open_page(browser, server[0])
    page.locator(".bk-tab", has_text="Simulate").click()
    page.locator(".spec-upload input[type=file]").set_input_files(str(tmp_path / "bin.toml"))
    expect(page.locator(".respdor-danger")).to_have_text(said)
    assert page.locator(".spec-name input").input_value() == "c13_al27_respdor.toml"  # the editor is unchanged
    page.close()


def test_mcmc_shows_its_progress_can_be_cancelled_and_draws_the_posterior(server, browser):
    pytest.importorskip("emcee")
    page = open_page(browser, server[0])
    page.locator(".mcmc-steps input").fill("20000")  # minutes of sampling: cancelled below
    page.get_by_role("button", name="Fit", exact=True).click()
    expect(page.get_by_text("estimated work: 32 walkers x 20000 steps x 15 points")).to_be_visible()  # said first
    expect(page.get_by_text(" of 640000")).to_be_visible()  # the stage that runs and its count
    page.get_by_role("button", name="Cancel", exact=True).click()
    expect(page.locator(".respdor-warning")).to_have_text("cancelled; nothing was kept")
    assert page.locator(".respdor-report pre").count() == 0
    page.locator(".mcmc-steps input").fill("100")
    page.locator(".intervals input").uncheck()
    report = fit(page)
    assert "MCMC" in report
    expect(page.locator(".respdor-corner img")).to_be_visible()
    page.close()
