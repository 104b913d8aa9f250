"""The spectra jobs as Python calls: respdor.csa_fit, deconvolve, integrate, process_pass, pass_timings.

Each call gives the same numbers as its command on a bundled example; every result has a short
repr, an HTML table, a DataFrame, a JSON that round-trips the command's --json, and a plot that
draws on the axes given and never changes matplotlib's backend.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import respdor
from respdor.cli import main
from respdor.display import REPR_WIDTH
from respdor.errors import DataWarning, UserError
from respdor.jobs.spectra_results import (CsaFitResult, DeconvolveResult, IntegrateResult, ManifoldCsaResult,
                                          PassResult, PassTimingsResult, SpectrumCsaResult)

ROOT = Path(__file__).resolve().parents[1]
PASS = ROOT / "data" / "pass_113Cd_synthetic"
CPMG = ROOT / "data" / "cpmg_111Cd_synthetic"
SITES = [-50, -320, -440, -630]

#: The tensor of the manifold file: span (ppm), skew, at 8 kHz MAS on 113Cd at 88.8 MHz.
SPAN, SKEW = 450.0, 0.3


@pytest.fixture(scope="module")
def manifold_csv(tmp_path_factory):
    from spinsim.sidebands import sideband_intensities

    man = sideband_intensities(SPAN, SKEW, 88.8e6, 8000.0, n_sidebands=4)
    path = tmp_path_factory.mktemp("manifold") / "man.csv"
    path.write_text("order,intensity,sigma\n" + "".join(f"{k},{v:.6f},0.002\n" for k, v in zip(man.orders,
                                                                                             man.intensities)))
    return path


@pytest.fixture(scope="module")
def dec():
    return respdor.deconvolve(PASS / "isotropic_1cycle.txt", SITES, noise_region_ppm=(100, 200),
                              compare_path=PASS / "isotropic_3cycle.txt")


@pytest.fixture(scope="module")
def csa_spectrum():
    # 100-200 ppm holds a spinning sideband of the -50 ppm site (docs/csa_pass.md): said, as a DataWarning.
    with pytest.warns(DataWarning, match=r"noise_region_ppm 100 200: .* a peak 5 x the noise at 128.4 ppm"):
        return respdor.csa_fit(PASS / "mas1d_8kHz.txt", spectrum=True, mas_rate_hz=8000.0, larmor_hz=88.8016e6,
                               sites_ppm=SITES, span_ppm=[100, 400, 400, 200], fwhm_ppm=30.0,
                               noise_region_ppm=(100, 200), n_starts=1)


@pytest.fixture(scope="module")
def csa_manifold(manifold_csv):
    return respdor.csa_fit(manifold_csv, mas_rate_hz=8000.0, larmor_hz=88.8e6)


@pytest.fixture(scope="module")
def timings():
    return respdor.pass_timings(6, mas_rate_hz=8000.0, pulse_s=5e-6)


@pytest.fixture(scope="module")
def integrated():
    return respdor.integrate(CPMG / "respdor", (-80, -10), (100, 200), 10000.0, 2, cpmg="sum")


def _cli_json(tmp_path, argv):
    out = tmp_path / "r.json"
    assert main(argv + ["--json", str(out)]) == 0
    return out


def _close(a, b, path="", rtol=1e-9):
    """Every number of ``a`` equals the one at the same place in ``b`` (None and nan alike)."""
    if isinstance(a, dict):
        assert set(a) == set(b), (path, set(a) ^ set(b))
        for k in a:
            _close(a[k], b[k], f"{path}.{k}", rtol)
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]", rtol)
    elif isinstance(a, float) or isinstance(b, float):
        x, y = (float("nan") if v is None else float(v) for v in (a, b))
        assert (np.isnan(x) and np.isnan(y)) or x == pytest.approx(y, rel=rtol, abs=1e-300), (path, a, b)
    else:
        assert a == b, (path, a, b)


def _as_json(result, words=False):
    """The result's JSON; with ``words`` its warnings as the command writes them (options, not parameters)."""
    from respdor.cli import in_option_words
    from respdor.cli.spectra import OPTION_NAMES

    d = json.loads(result.to_json())
    if words and "warnings" in d:
        d["warnings"] = [in_option_words(w, OPTION_NAMES) for w in d["warnings"]]
    return d


# --- the call and the command give the same numbers ---------------------------------------------

def test_deconvolve_call_equals_command(dec, tmp_path, capsys):
    out = _cli_json(tmp_path, ["deconvolve", str(PASS / "isotropic_1cycle.txt"), "--sites", *map(str, SITES),
                               "--noise-region", "100", "200", "--compare", str(PASS / "isotropic_3cycle.txt")])
    _close(_as_json(dec, True), json.loads(out.read_text()))
    _close(_as_json(DeconvolveResult.from_json(out)), json.loads(out.read_text()))  # the command's JSON read back
    assert dec.sites[0].center == pytest.approx(-50.0, abs=0.05)  # a site by attribute as by key
    assert dec.sites[0]["fraction"] == dec.sites[0].fraction


def test_csa_spectrum_call_equals_command(csa_spectrum, tmp_path):
    out = _cli_json(tmp_path, ["csa-fit", str(PASS / "mas1d_8kHz.txt"), "--spectrum", "--mas", "8k", "--larmor",
                               "88.8016MHz", "--sites", *map(str, SITES), "--span", "100", "400", "400", "200",
                               "--fwhm", "30", "--noise-region", "100", "200", "--starts", "1"])
    cli = json.loads(out.read_text())
    _close(_as_json(csa_spectrum, True), cli)
    _close(_as_json(CsaFitResult.from_json(out)), cli)
    # The README's numbers (data/pass_113Cd_synthetic): span 148.9 and 454.2 ppm.
    assert [round(s.span, 1) for s in csa_spectrum.sites[:2]] == [148.9, 454.2]
    assert cli["mas_source"] == "given" and "sideband pair" in cli["mas_evidence"]


def test_csa_manifold_call_equals_command(csa_manifold, manifold_csv, tmp_path):
    out = _cli_json(tmp_path, ["csa-fit", str(manifold_csv), "--mas", "8k", "--larmor", "88.8MHz"])
    _close(_as_json(csa_manifold, True), json.loads(out.read_text()))
    _close(_as_json(CsaFitResult.from_json(out)), json.loads(out.read_text()))
    assert csa_manifold.fit.span == pytest.approx(SPAN, rel=0.02)
    assert csa_manifold.fit.skew == pytest.approx(SKEW, abs=0.05)


def test_pass_timings_call_equals_command(timings, tmp_path):
    out = _cli_json(tmp_path, ["pass-timings", "-n", "6", "--mas", "8k", "--pulse", "5us"])
    _close(_as_json(timings, True), json.loads(out.read_text()))
    _close(_as_json(PassTimingsResult.from_json(out)), json.loads(out.read_text()))
    assert timings.rows[0]["t1_over_tr"] == pytest.approx(1 / 6, abs=1e-4)  # pitch 0: equally spaced pulses


def test_integrate_call_equals_command(integrated, tmp_path):
    out = tmp_path / "curve.csv"
    assert main(["integrate", str(CPMG / "respdor"), "--cpmg", "sum", "--region", "-80", "-10", "--noise-region",
                 "100", "200", "--mas", "10k", "--periods-per-count", "2", "-o", str(out)]) == 0
    assert integrated.to_csv() == out.read_text()
    assert integrated.observe == "111Cd" and integrated.curve.n_points == 10


@pytest.mark.slow
def test_process_pass_call_equals_command(tmp_path):
    r = respdor.process_pass(PASS / "pass2d", (100, 200), sites_ppm=SITES, fit_region_ppm=(-800, 100),
                             mas_rate_hz=8000.0)
    out = _cli_json(tmp_path, ["pass-process", str(PASS / "pass2d"), "--sites", *map(str, SITES), "--noise-region",
                               "100", "200", "--fit-region", "-800", "100", "--mas", "8k"])
    cli = json.loads(out.read_text())
    _close(_as_json(r, True), cli)
    assert r.sign == -1 and [round(s.delta_iso) for s in r.sites] == SITES
    back = PassResult.from_json(out)
    _close(_as_json(back, True), cli)
    assert len(repr(r)) <= REPR_WIDTH and "<table>" in r._repr_html_()
    assert r.to_dataframe().loc["site 1", "population"] == pytest.approx(r.sites[0]["population"])


# --- notebook displays ----------------------------------------------------------------------------

def _all(dec, csa_spectrum, csa_manifold, timings, integrated):
    return [dec, csa_spectrum, csa_manifold, timings, integrated]


def test_reprs_are_short_and_say_the_numbers(dec, csa_spectrum, csa_manifold, timings, integrated):
    texts = [repr(r) for r in _all(dec, csa_spectrum, csa_manifold, timings, integrated)]
    assert all(len(t) <= REPR_WIDTH for t in texts), [len(t) for t in texts]
    assert texts[0].startswith("<DeconvolveResult 4 sites") and "-50.0 ppm: 0.38" in texts[0]
    assert "span 149" in texts[1] and "MAS 8000 Hz (given)" in texts[1] and "..." not in texts[1]
    assert texts[2].startswith("<ManifoldCsaResult") and "span " in texts[2]
    assert "N = 6, MAS 8000 Hz" in texts[3] and "largest residual" in texts[3]
    assert "111Cd" in texts[4] and "10 points" in texts[4]


def test_html_holds_the_table_and_the_warnings(dec, csa_spectrum, csa_manifold):
    html = csa_spectrum._repr_html_()
    assert html.count("<tr>") == 1 + len(csa_spectrum.sites) and "<th>span</th>" in html
    fake = DeconvolveResult.from_dict(dict(_as_json(dec), warnings=["site 2: a <warning> & more"]))
    assert "warning: site 2: a &lt;warning&gt; &amp; more" in fake._repr_html_()
    assert "<th>value</th>" in csa_manifold._repr_html_()


def test_dataframes(dec, csa_spectrum, csa_manifold, timings, integrated):
    pytest.importorskip("pandas")
    f = dec.to_dataframe()
    assert list(f.index) == ["site 1", "site 2", "site 3", "site 4"]
    assert f.loc["site 1", "fraction"] == pytest.approx(dec.sites[0].fraction)
    assert f.loc["site 2", "change"] == pytest.approx(dec.comparison[1]["change"])  # the comparison joins
    s = csa_spectrum.to_dataframe()
    assert s.loc["site 2", "span"] == pytest.approx(csa_spectrum.sites[1].span)
    m = csa_manifold.to_dataframe()
    assert m.loc["span", "value"] == csa_manifold.fit.span and m.loc["eta", "unit"] == ""
    assert timings.to_dataframe().shape[0] == 6
    c = integrated.to_dataframe()
    assert np.allclose(c["dSS0"], integrated.curve.dss0) and np.allclose(c["t_s"], integrated.curve.time_s)


def test_json_round_trips(dec, csa_spectrum, csa_manifold, timings, integrated, tmp_path):
    for r, cls in ((dec, DeconvolveResult), (csa_spectrum, CsaFitResult), (csa_manifold, CsaFitResult),
                   (timings, PassTimingsResult), (integrated, IntegrateResult)):
        path = tmp_path / f"{type(r).__name__}.json"
        r.to_json(path)
        back = cls.from_json(path)
        assert type(back) is type(r)
        _close(_as_json(back), _as_json(r))
    assert isinstance(CsaFitResult.from_json(csa_spectrum.to_json()), SpectrumCsaResult)
    assert isinstance(CsaFitResult.from_json(csa_manifold.to_json()), ManifoldCsaResult)
    assert np.allclose(IntegrateResult.from_json(integrated.to_json()).curve.sigma, integrated.curve.sigma)


def test_csv_is_the_commands(dec, tmp_path):
    out = tmp_path / "d.csv"
    assert main(["deconvolve", str(PASS / "isotropic_1cycle.txt"), "--sites", *map(str, SITES), "--noise-region",
                 "100", "200", "--compare", str(PASS / "isotropic_3cycle.txt"), "--csv", str(out)]) == 0
    assert dec.to_csv() == out.read_text()


# --- plots ------------------------------------------------------------------------------------------

def test_plots_draw_on_the_axes_given_and_keep_the_backend(dec, csa_spectrum, csa_manifold, timings, integrated,
                                                           tmp_path):
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from respdor.spectra.plot import plot_deconvolution

    before = matplotlib.get_backend()
    try:
        plt.switch_backend("svg")  # a backend respdor would never pick: any change shows
        for r in _all(dec, csa_spectrum, csa_manifold, timings, integrated):
            ax = Figure().subplots()
            assert r.plot(ax=ax) is ax
            assert ax.lines or ax.collections
            new = r.plot()  # new axes on a new pyplot figure
            plt.close(new.figure)
            assert matplotlib.get_backend() == "svg"
        plot_deconvolution(dec.fit, tmp_path / "d.png")  # the command's figure, written through the guard
        assert (tmp_path / "d.png").stat().st_size > 1000 and matplotlib.get_backend() == "svg"
    finally:
        plt.switch_backend(before)
    assert matplotlib.get_backend() == before


def test_a_result_from_json_says_it_cannot_plot(dec):
    with pytest.raises(UserError, match="read from JSON"):
        DeconvolveResult.from_json(dec.to_json()).plot()


# --- checks, warnings, errors ----------------------------------------------------------------------

def test_warnings_are_python_warnings_kept_on_the_result(manifold_csv):
    # 9.4 T x Xi(113Cd) is 88.82 MHz: 88.75 MHz is 0.08 % off (quiet), 88.5 MHz 0.36 % (a warning).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = respdor.csa_fit(manifold_csv, mas_rate_hz=8000.0, larmor_hz=88.5e6, observed_nucleus="113Cd", field_t=9.4)
    said = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert said == r.warnings and len(said) == 1 and said[0].startswith("larmor_hz gives 88.5000 MHz but field_t 9.4 T")
    assert "| 1 warning>" in repr(r)


def test_command_says_the_warning_once_in_its_own_words(manifold_csv, capsys):
    assert main(["csa-fit", str(manifold_csv), "--mas", "8k", "--larmor", "88.5MHz", "--nucleus", "113Cd",
                 "--field", "9.4"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("WARNING: --larmor gives 88.5000 MHz but --field 9.4 T"), err


@pytest.mark.parametrize("call, word", [
    (lambda p: respdor.csa_fit(p, larmor_hz=88.8e6), "mas_rate_hz is required"),
    (lambda p: respdor.csa_fit(p, mas_rate_hz=8.0, larmor_hz=88.8e6), "mas_rate_hz"),
    (lambda p: respdor.csa_fit(p, mas_rate_hz=8000.0, field_t=400.0, observed_nucleus="113Cd"), "field_t 400: B0"),
    (lambda p: respdor.csa_fit(p, spectrum=True, mas_rate_hz=8000.0, larmor_hz=88.8e6), "sites_ppm"),
    (lambda p: respdor.deconvolve(PASS / "isotropic_1cycle.txt", [-50, -50]), "sites_ppm: -50 ppm given twice"),
    (lambda p: respdor.deconvolve(PASS / "isotropic_1cycle.txt", [-50], fwhm_ppm=0.0), "fwhm_ppm 0"),
    (lambda p: respdor.deconvolve(PASS / "isotropic_1cycle.txt", [-50], noise_region_ppm=(-60, -40)),
     "noise_region_ppm -60 -40: contains the site"),
    (lambda p: respdor.pass_timings(0), "n_pitch must lie in 1..1024"),
    (lambda p: respdor.pass_timings(16, pulse_s=5e-6), "pulse_s needs mas_rate_hz"),
    (lambda p: respdor.integrate(CPMG / "respdor", (-80, -10), (100, 200), 10000.0, 0), "periods_per_count 0"),
    (lambda p: respdor.integrate(CPMG / "respdor", (-80, -10), (100, 200), 10000.0, 2), "cpmg=sum"),
    (lambda p: respdor.integrate(CPMG / "respdor", (-80, -10), (100, 200), None, 2), "mas_rate_hz is required"),
    (lambda p: respdor.integrate(CPMG / "respdor", (-80, -10), (100, 200), 10000.0, 2, n_echoes=4),
     "n_echoes needs cpmg=sum"),
    (lambda p: respdor.integrate(CPMG / "respdor", (5, 5), (100, 200), 10000.0, 2), "region_ppm 5 5: an empty range"),
    (lambda p: respdor.csa_fit(PASS / "mas1d_8kHz.txt", spectrum=True, mas_rate_hz=8000.0, larmor_hz=88.8e6,
                               sites_ppm=[-50, -320], span_ppm=[100]), "span_ppm has 1 values for 2 sites"),
    (lambda p: respdor.csa_fit(PASS / "mas1d_8kHz.txt", spectrum=True, sites_ppm=[-50], n_starts=9), "n_starts"),
    (lambda p: respdor.csa_fit(PASS / "mas1d_8kHz.txt", spectrum=True, sites_ppm=[-50]),
     "give the observe frequency: larmor_hz"),
    (lambda p: respdor.deconvolve(PASS / "isotropic_1cycle.txt", [-50], zero_fill=0), "zero_fill must be >= 1"),
    (lambda p: respdor.deconvolve(PASS / "isotropic_1cycle.txt", [-50], noise_region_ppm=(100,)), "noise_region_ppm"),
    (lambda p: respdor.process_pass(PASS / "pass2d", (100, 200), mas_rate_hz=80.0), "mas_rate_hz"),
    (lambda p: respdor.process_pass(PASS / "pass2d", (100, 200), sites_ppm=[150]), "contains the site at 150"),
])
def test_errors_name_the_python_parameter(call, word, manifold_csv):
    with pytest.raises(UserError) as exc:
        call(manifold_csv)
    text = str(exc.value)
    assert word in text and "--" not in text, text


def test_nothing_is_written_unless_asked(dec, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    respdor.pass_timings(4)
    dec.to_json()
    dec.to_csv()
    assert list(tmp_path.iterdir()) == []


def test_the_fits_inside_the_results_are_notebook_results_too(dec, csa_spectrum, csa_manifold):
    from respdor.spectra.csa_manifold import ManifoldFit
    from respdor.spectra.csa_spectrum import SpectrumFit
    from respdor.spectra.deconvolution import DeconvolutionResult

    for fit, cls in ((dec.fit, DeconvolutionResult), (csa_spectrum.fit, SpectrumFit), (csa_manifold.fit, ManifoldFit)):
        assert len(repr(fit)) <= REPR_WIDTH and "<table>" in fit._repr_html_()
        back = cls.from_json(fit.to_json())
        _close(json.loads(back.to_json()), json.loads(fit.to_json()))
    assert repr(csa_manifold.fit).startswith("<ManifoldFit CSA of a sideband manifold: span ")
    with pytest.raises(UserError, match="read from JSON"):
        SpectrumFit.from_json(csa_spectrum.fit.to_json()).plot()


@pytest.mark.slow
def test_pass_says_what_the_isotropic_deconvolution_found():
    # A fifth site where the isotropic spectrum has no line: its manifold would be fitted all the
    # same; the deconvolution's refusal reaches the result (and the command's stderr and JSON).
    from respdor.errors import FitWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = respdor.process_pass(PASS / "pass2d", (100, 200), sites_ppm=SITES + [-200], fit_region_ppm=(-800, 100),
                                 mas_rate_hz=8000.0)
    fit_warnings = [str(w.message) for w in caught if issubclass(w.category, FitWarning)]
    assert any(w.startswith("isotropic spectrum: site 5 (start -200 ppm) is not determined by the data")
               for w in fit_warnings), fit_warnings
    assert all(w in r.warnings for w in fit_warnings)


def test_a_spectrum_given_as_arrays_fits_as_its_file(dec):
    x, y = np.loadtxt(PASS / "isotropic_1cycle.txt", delimiter=",", comments="#", unpack=True)
    r = respdor.deconvolve((x[::-1], y[::-1]), SITES, noise_region_ppm=(100, 200))  # any order
    assert [s.center for s in r.sites] == pytest.approx([s.center for s in dec.sites], abs=1e-9)
    assert r.input == "the spectrum given"
    with pytest.raises(UserError, match="same length"):
        respdor.deconvolve((x, y[:-1]), SITES)
