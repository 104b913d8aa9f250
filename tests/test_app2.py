"""The chi2 profile a fit keeps (FitResult.profiles) and draws (plotting.plot_profile), and the Fit
page that shows it beside the fit (the page object, no browser)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import respdor
from respdor.profile import delta_chi2_level
from app_pages import run

ROOT = Path(__file__).resolve().parent.parent
CURVE = ROOT / "data" / "respdor_13C27Al_synthetic.csv"


@pytest.fixture(scope="module")
def fits():
    return {p: respdor.fit(str(CURVE), parameterization=p) for p in ("coupling", "distance")}


@pytest.mark.parametrize("param, name", [("coupling", "coupling_hz"), ("distance", "distance_angstrom")])
def test_the_kept_profile_has_its_minimum_at_the_fit_and_crosses_one_at_the_68_percent_ends(fits, param, name):
    result = fits[param]
    values, chi2 = result.profiles[name]
    est = result[name]
    assert np.all(np.diff(values) > 0) and values.size >= 8
    # the lowest point is the fit itself (to the fit's tolerance), chi2 nowhere below the fit's
    assert values[np.argmin(chi2)] == pytest.approx(est.value, rel=1e-6)
    assert chi2.min() >= result.chisqr * (1 - 1e-9)
    delta = chi2 - result.chisqr
    for end in est.ci68:
        # the ends are root-found to rtol 1e-10: the profile points around each end straddle delta = 1
        k = np.searchsorted(values, end)
        near = np.interp(end, values[k - 1:k + 1], delta[k - 1:k + 1])
        assert near == pytest.approx(1.0, abs=1e-3)
    for end in est.ci95:
        assert np.interp(end, values, delta) == pytest.approx(4.0, abs=1e-2)
    # the other varied parameter (f) is kept too; the derived one (r or D) is not profiled
    assert set(result.profiles) == {name, "fraction"}


def test_without_intervals_no_profile_is_kept_and_the_figure_says_why():
    from respdor.plotting import profile_figure

    result = respdor.fit(str(CURVE), intervals=False)
    assert result.profiles == {}
    with pytest.raises(ValueError, match="no chi2 profile of"):
        profile_figure(result, "coupling_hz")


def test_the_levels_are_the_inverse_of_the_interval_probability():
    from respdor.profile import probability

    assert delta_chi2_level(0.6827, 10.0, True) == pytest.approx(1.0, abs=1e-3)
    assert delta_chi2_level(0.9545, 10.0, True) == pytest.approx(4.0, abs=1e-3)
    level = delta_chi2_level(0.6827, 3.0, False, 12)
    assert probability(3.0 + level, 3.0, False, 12) == pytest.approx(0.6827, abs=1e-9)


def test_the_profile_figure_draws_the_profile_the_levels_and_the_interval_ends(fits):
    from respdor.plotting import profile_figure

    result = fits["coupling"]
    fig = profile_figure(result)
    ax = fig.axes[0]
    x, y = ax.lines[0].get_data()
    values, chi2 = result.profiles["coupling_hz"]
    assert np.allclose(x, values) and np.allclose(y, chi2 - result.chisqr)
    flat = sorted(round(line.get_ydata()[0], 6) for line in ax.lines[1:] if np.ptp(line.get_ydata()) == 0)
    assert flat == pytest.approx([1.0, 4.0], abs=1e-4)  # 68.27 % and 95.45 %: 1 and 4 to 5 digits
    upright = sorted(line.get_xdata()[0] for line in ax.lines[1:] if np.ptp(line.get_xdata()) == 0)
    assert upright == pytest.approx(sorted([*result["coupling_hz"].ci68, *result["coupling_hz"].ci95,
                                            result["coupling_hz"].value]))


def test_the_fit_page_shows_the_profile_of_d_or_r_beside_the_fit(tmp_path):
    pytest.importorskip("panel")
    from respdor.app.fitpage import FitPage
    from respdor.app.serve import AppContext
    from respdor.app.uploads import UploadFolder

    page = FitPage(AppContext(tmp_path, UploadFolder()))

    class Done:
        warnings = []

    for param, fixed, shown in (("coupling", False, True), ("distance", False, True), ("coupling", True, False)):
        page.parameterization.value = param
        page.rows["r"][0].value = fixed
        page.rows["r"][1].value = "2.5" if fixed else ""
        job = Done()
        job.result = page._prepare()(None)
        page._show(job)
        assert page.profile.visible is shown
        if shown:
            assert page.profile.object[:8] == b"\x89PNG\r\n\x1a\n"
            name = "coupling_hz" if param == "coupling" else "distance_angstrom"
            assert page.result.profiles[name][0].size >= 8


# --- a Bruker pseudo-2D series on the Fit page ------------------------------------------------------
def fit_page(tmp_path):
    pytest.importorskip("panel")
    from respdor.app.fitpage import FitPage
    from respdor.app.serve import AppContext
    from respdor.app.uploads import UploadFolder

    folder = UploadFolder()
    return FitPage(AppContext(tmp_path, folder)), folder


def test_the_bundled_series_is_integrated_fitted_and_its_two_commands_give_the_same_numbers(tmp_path, monkeypatch,
                                                                                           capsys):
    import json
    import re
    import shlex

    from respdor.cli import main

    page, folder = fit_page(tmp_path)
    try:
        page.curve.value = "bundled series: cpmg_111Cd_synthetic/respdor"
        assert page.series_box.visible and (page.region.value, page.cpmg.value) == ("-80 -10", "sum")
        result = run(page)
        shown = page.reproduce.object
        commands = re.findall(r"^respdor .*$", shown, flags=re.M)
        assert commands[0].startswith("respdor integrate data/cpmg_111Cd_synthetic/respdor --region -80 -10 "
                                      "--noise-region 100 200 --mas 10000 --periods-per-count 2 --cpmg sum -o "
                                      "respdor_curve.csv")
        assert commands[1].startswith("respdor fit respdor_curve.csv")
        notes = [m.object for m in page.warnings.objects]
        assert any("10 echoes of 128 points summed" in n for n in notes)
        assert result.curves[0].n_points == 10 and page.profile.visible
        # the same two steps on the command line, in a folder that holds the data
        work = tmp_path / "cli"
        work.mkdir()
        (work / "data").symlink_to(ROOT / "data")
        monkeypatch.chdir(work)
        capsys.readouterr()
        assert main(shlex.split(commands[0])[1:]) == 0
        capsys.readouterr()
        assert main(shlex.split(commands[1])[1:]) == 0
        cli = json.loads(capsys.readouterr().out)
        app = json.loads(result.to_json())
        for name, est in cli.items():
            if isinstance(est, dict) and "value" in est:
                assert app[name] == est, name  # value, stderr and intervals: the same numbers
        assert app["warnings"] == cli["warnings"] and app["chisqr"] == cli["chisqr"]
        assert cli["coupling_hz"]["value"] == app["coupling_hz"]["value"] == pytest.approx(211, abs=1)
    finally:
        folder.remove()


def test_a_zipped_series_upload_is_fitted_and_a_bad_zip_is_one_line_on_the_page(tmp_path):
    import io
    import zipfile

    series = ROOT / "data" / "cpmg_111Cd_synthetic" / "respdor"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for p in series.rglob("*"):
            if p.is_file():
                z.write(p, "12/" + str(p.relative_to(series)))
    page, folder = fit_page(tmp_path)
    try:
        page.upload.param.update(value=b"PK\x03\x04 not really", filename="broken.zip")
        assert [m.object for m in page.status.objects] == [
            "broken.zip: not a zip archive (a Bruker experiment is uploaded as a .zip of its directory)"]
        page.upload.param.update(value=buffer.getvalue(), filename="exp.zip")
        assert page.curve.value == "upload: exp.zip (Bruker series 12)" and page.series_box.visible
        for box, text in ((page.region, "-80 -10"), (page.noise_region, "100 200"), (page.mas, "10k"),
                          (page.periods, "2")):
            box.value = text
        page.cpmg.value = "sum"
        result = run(page)
        assert result.curves[0].n_points == 10
        assert "respdor integrate 12 --region -80 -10" in page.reproduce.object
        assert "respdor fit 12_curve.csv" in page.reproduce.object
        assert str(folder.path) not in page.report.object + page.reproduce.object
    finally:
        folder.remove()


# --- a Bruker 1D experiment on the Spectra page --------------------------------------------------------
BRUKER_1D = ROOT / "data" / "realdata" / "bruker_31P_MAS_Ba2P2O7_mrsimulator" / "ba2p2o7_zg"


def spectra_page(tmp_path):
    pytest.importorskip("panel")
    from respdor.app.serve import AppContext
    from respdor.app.spectrapage import SpectraPage
    from respdor.app.uploads import UploadFolder

    folder = UploadFolder()
    return SpectraPage(AppContext(tmp_path, folder)), folder


@pytest.mark.skipif(not BRUKER_1D.is_dir(), reason="the measured Bruker sets are not in this copy")
def test_the_bundled_bruker_1d_is_processed_and_fitted_as_its_command_does(tmp_path, monkeypatch):
    import json
    import re
    import shlex

    from respdor.cli import main

    page, folder = spectra_page(tmp_path)
    try:
        page.spectrum.value = "bundled Bruker 1D: realdata/bruker_31P_MAS_Ba2P2O7_mrsimulator/ba2p2o7_zg"
        assert page.fields["larmor"].value == "" and page.fields["lb"].value == "20Hz"
        page.fields["phase"].value = "auto"
        run(page)
        report = page.report.object
        assert "MAS rate 12501.2 Hz (sidebands)" in report and "SFO1 from acqus" in report
        assert re.search(r"phase PHC0 = -53\.\d deg, PHC1 = -63\d\.\d deg \(auto\)", report)
        command = re.search(r"^respdor csa-fit .*$", page.reproduce.object, flags=re.M).group(0)
        assert command.startswith("respdor csa-fit data/realdata/bruker_31P_MAS_Ba2P2O7_mrsimulator/ba2p2o7_zg "
                                  "--spectrum --sites -15.8 -18.9 --lb 20 --phase auto --json csa.json")
        work = tmp_path / "cli"
        work.mkdir()
        (work / "data").symlink_to(ROOT / "data")
        monkeypatch.chdir(work)
        assert main(shlex.split(command)[1:]) == 0
        cli, app = json.loads((work / "csa.json").read_text()), json.loads(page.result.to_json())
        assert cli["sites"] == app["sites"] and cli["mas_hz"] == app["mas_hz"] and len(app["sites"]) == 2
        # back to the text example: its own fields return (a Bruker set's would contradict them)
        page.spectrum.value = "bundled example: pass_113Cd_synthetic/mas1d_8kHz.txt"
        assert (page.fields["larmor"].value, page.fields["lb"].value) == ("88.8016MHz", "")
    finally:
        folder.remove()


@pytest.mark.skipif(not BRUKER_1D.is_dir(), reason="the measured Bruker sets are not in this copy")
def test_a_zipped_1d_upload_is_offered_and_a_zipped_series_is_named_as_not_a_1d(tmp_path):
    import io
    import zipfile

    def zipped(folder, prefix):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            for p in folder.rglob("*"):
                if p.is_file():
                    z.write(p, prefix + str(p.relative_to(folder)))
        return buffer.getvalue()

    page, folder = spectra_page(tmp_path)
    try:
        page.upload.param.update(value=zipped(ROOT / "data" / "cpmg_111Cd_synthetic" / "respdor", "5/"),
                                 filename="series.zip")
        assert [m.object for m in page.runner.status.objects] == [
            "series.zip: no Bruker 1D experiment (acqus and fid) in the archive"]
        page.upload.param.update(value=zipped(BRUKER_1D, "ba2p2o7_zg/"), filename="exp.zip")
        assert page.spectrum.value == "upload: exp.zip (Bruker 1D ba2p2o7_zg)"
        assert len(page.spectrum.options) == 3
        page._fill({"mas": "", "larmor": "", "sites": "-15.8 -18.9", "spans": "", "fwhm": "", "noise": "",
                    "lb": "20Hz", "phase": "", "baseline": "2"})
        run(page)
        assert "baseline: order-2 polynomial" in page.report.object
        assert "respdor csa-fit ba2p2o7_zg --spectrum --sites -15.8 -18.9 --lb 20 --baseline-poly 2" \
            in page.reproduce.object
        assert str(folder.path) not in page.report.object
    finally:
        folder.remove()


def test_closing_a_tab_cancels_the_work_it_left_running(tmp_path, monkeypatch):
    """The page registers with its session: when the session ends (the tab closed), each page's running
    job is asked to stop (at its next step), as Cancel asks it."""
    pytest.importorskip("panel")
    import panel as pn
    from bokeh.document import Document

    from respdor.app import serve, widgets
    from respdor.app.uploads import UploadFolder

    runners, build = [], widgets.JobRunner.__init__

    def remembered(self, *args, **kw):
        build(self, *args, **kw)
        runners.append(self)

    monkeypatch.setattr(widgets.JobRunner, "__init__", remembered)
    doc, previous = Document(), pn.state.curdoc
    pn.state.curdoc = doc
    try:
        serve.page(serve.AppContext(tmp_path, UploadFolder()))
    finally:
        pn.state.curdoc = previous
    (ended,) = doc.session_destroyed_callbacks

    class Running:
        cancelled = False

        def cancel(self):
            self.cancelled = True

    for runner in runners:
        runner.job = Running()
    ended(None)
    assert len(runners) == 5 and all(runner.job.cancelled for runner in runners)
