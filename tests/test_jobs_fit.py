"""respdor.fit: the ``respdor fit`` command as one Python call, and FitResult at home in a notebook."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import respdor
from respdor.cli import main
from respdor.errors import FitWarning, UserError
from respdor.fitting import CurveModel, FitResult

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "respdor_13C27Al_synthetic.csv"


@pytest.fixture(scope="module")
def example_fit():
    return respdor.fit(EXAMPLE, "13C", "27Al", progress=False)


def _cli_json(tmp_path, capsys, *options):
    out = tmp_path / "cli.json"
    rc = main(["fit", str(EXAMPLE), "--observe", "13C", "--partner", "27Al", "--output-dir", str(tmp_path),
               "--no-plot", "--json", str(out), *options])
    capsys.readouterr()
    assert rc == 0
    return out


def test_call_and_command_give_the_same_numbers(example_fit, tmp_path, capsys):
    data = json.loads(_cli_json(tmp_path, capsys).read_text())
    call = example_fit.to_dict()
    for name in ("coupling_hz", "distance_angstrom", "fraction", "amplitude"):
        assert call[name]["value"] == data[name]["value"]
        assert call[name]["stderr"] == data[name]["stderr"]
        assert call[name]["ci95"] == data[name]["ci95"]
    assert call["chisqr"] == data["chisqr"] and call["p_value"] == data["p_value"]
    assert call["notes"] == data["notes"] and call["warnings"] == data["warnings"]
    # the bundled example is a 13C{27Al} curve near r = 2.5 angstrom, f = 0.24 (data/README.md)
    assert 2.2 < example_fit["distance_angstrom"].value < 2.9
    assert 0.2 < example_fit["fraction"].value < 0.29


def test_fix_bound_start_take_short_names_with_python_values(tmp_path, capsys):
    res = respdor.fit(EXAMPLE, fix={"f": 0.24}, bounds={"r": (2.0, 4.0)}, progress=False)
    data = json.loads(_cli_json(tmp_path, capsys, "--fix", "f=0.24", "--bound", "r=2:4").read_text())
    assert res["fraction"].value == 0.24 and not res["fraction"].vary
    assert res["coupling_hz"].value == pytest.approx(data["coupling_hz"]["value"], rel=1e-12)
    assert res["distance_angstrom"].ci68 == pytest.approx(tuple(data["distance_angstrom"]["ci68"]), rel=1e-12)


@pytest.mark.parametrize("kwargs, needle", [
    (dict(fix={"q": 1}), "fix: unknown parameter 'q'"),
    (dict(fix={"f": 0.2, "fraction": 0.3}), "set the same parameter"),
    (dict(free=["eps"]), "multiply the curve alike"),
    (dict(sequence="redor-finite"), "needs pulse_length_s and mas_rate_hz"),
    (dict(mas_rate_hz=-5.0), "mas_rate_hz must be positive"),
    (dict(mas_rate_hz=1e7), "mas_rate_hz"),
    (dict(observe="27Al"), "observe 27Al: spin 2.5 (quadrupolar)"),
    (dict(partner="13C"), "check observe/partner"),
    (dict(mcmc=True, mcmc_steps=10), "mcmc_steps 10: use at least 100 steps"),
    (dict(simulate_spec="x.toml", library="y.h5"), "give simulate_spec or library, not both"),
])
def test_mistakes_name_the_python_argument_not_an_option(kwargs, needle):
    with pytest.raises(UserError) as err:
        respdor.fit(EXAMPLE, progress=False, **kwargs)
    assert needle in str(err.value) and "--" not in str(err.value)


def test_missing_file_and_same_file_twice_are_refused(tmp_path):
    with pytest.raises(UserError, match="nope.csv: no such file"):
        respdor.fit(tmp_path / "nope.csv", progress=False)
    with pytest.raises(UserError, match="are the same file"):
        respdor.fit([EXAMPLE, str(EXAMPLE)], progress=False)


def test_a_curve_object_is_fitted_like_its_file(example_fit):
    curve = respdor.read_curve(EXAMPLE)
    res = respdor.fit(curve, progress=False)
    assert res["coupling_hz"].value == example_fit["coupling_hz"].value


def test_nuclei_from_the_file_are_a_progress_note(tmp_path):
    text = EXAMPLE.read_text()
    path = tmp_path / "cd.csv"
    path.write_text("# observe = 111Cd\n# partner = 27Al\n" + text)
    notes = []

    class Notes(respdor_progress().Progress):
        def note(self, line):
            notes.append(line)

    res = respdor.fit(path, progress=Notes())
    assert res.models[0].pair == "111Cd{27Al}"
    assert notes == [f"observe 111Cd: from {path}", f"partner 27Al: from {path}"]


def respdor_progress():
    import spinsim.progress

    return spinsim.progress


def test_warnings_are_python_warnings_and_stay_on_the_result():
    t = np.linspace(0.1e-3, 0.6e-3, 8)  # never leaves the initial rise: D and f not separable
    dss0 = 0.3 * CurveModel().normalised(t, 150.0)
    curve = respdor.DephasingCurve(time_s=t, dss0=dss0 + 0.002 * np.cos(7 * t / t[-1]), sigma=np.full(8, 0.003))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = respdor.fit(curve, progress=False)
    raised = [str(w.message) for w in caught if issubclass(w.category, FitWarning)]
    assert res.warnings and any("initial rise" in w for w in res.warnings)
    assert all(w in raised for w in res.warnings)


def test_repr_is_short_and_says_the_answer(example_fit):
    text = repr(example_fit)
    assert len(text) < 200
    assert text.startswith("<FitResult fit: 13C{27Al} RESPDOR, 1 curve: D = ")
    assert "r = 2.5" in text and "f = 0.24" in text
    assert repr(example_fit["distance_angstrom"]).startswith("<ParameterEstimate 2.5")


def test_html_shows_parameters_intervals_and_warnings(example_fit):
    res = FitResult.from_dict(example_fit.to_dict())
    res.warnings.append("a <test> warning")
    html = res._repr_html_()
    for name in ("coupling_hz", "distance_angstrom", "fraction", "ci95_low"):
        assert f">{name}<" in html
    assert f"{example_fit['distance_angstrom'].ci95[0]:.6g}" in html
    assert "warning: a &lt;test&gt; warning" in html


def test_dataframe_has_one_row_per_parameter(example_fit):
    pd = pytest.importorskip("pandas")
    frame = example_fit.to_dataframe()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.index) == list(example_fit.parameters)
    assert frame.loc["fraction", "value"] == example_fit["fraction"].value
    assert frame.loc["efficiency", "status"] == "fixed" and frame.loc["distance_angstrom", "status"] == "derived"
    assert frame.loc["coupling_hz", "ci95_high"] == example_fit["coupling_hz"].ci95[1]


def test_json_round_trips_through_the_command_line_file(example_fit, tmp_path, capsys):
    path = _cli_json(tmp_path, capsys)
    data = json.loads(path.read_text())
    back = FitResult.from_json(path)
    assert back.to_dict() == data
    assert json.loads(back.to_json()) == data
    assert back["distance_angstrom"].ci95 == tuple(data["distance_angstrom"]["ci95"])
    assert back.n_curves == 1 and math.isclose(back.aic, data["aic"])
    assert repr(back).startswith("<FitResult fit: 13C{27Al}, 1 curve: D = ")
    # the call's own result writes the same document as the command
    assert json.loads(example_fit.to_json()) == data


@pytest.fixture
def template_backend():
    """A backend that is neither the default nor one respdor ever chose (a notebook's inline backend
    stands for it): whatever respdor draws, it must still be the active one afterwards."""
    import matplotlib

    before = matplotlib.get_backend()
    matplotlib.use("template", force=True)
    try:
        yield "template"
    finally:
        matplotlib.use(before, force=True)


def test_plot_draws_on_given_axes_and_never_changes_the_backend(example_fit, template_backend):
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.subplots()
    assert example_fit.plot(ax=ax) is ax
    assert len(ax.lines) >= 2 and ax.get_ylabel() == r"$\Delta S/S_0$"
    top, below = Figure().subplots(2, 1)
    assert example_fit.plot(ax=(top, below), residuals=True) == (top, below)
    assert below.get_ylabel() == "residual"
    new_ax = example_fit.plot()  # on new pyplot axes, as in a notebook
    assert new_ax.figure in [plt.figure(n) for n in plt.get_fignums()]
    plt.close("all")
    from respdor.plotting import fit_figure, plot_fit

    fit_figure(example_fit)
    plt.close(plot_fit(example_fit))
    assert matplotlib.get_backend() == template_backend


def test_saving_a_figure_leaves_the_backend_alone(example_fit, tmp_path, template_backend):
    import matplotlib

    from respdor.plotting import plot_fit

    plot_fit(example_fit, tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    assert matplotlib.get_backend() == template_backend


def test_a_result_read_from_json_says_why_it_cannot_plot(example_fit):
    back = FitResult.from_dict(example_fit.to_dict())
    with pytest.raises(ValueError, match="holds no curve data"):
        back.plot()


def _line_problem():
    """y = a x + b with a measured sigma: chi^2 is a parabola, so the profile interval of a is
    a +- sigma_a exactly (delta chi2 = 1) and +- 2 sigma_a (delta chi2 = 4), sigma_a from the
    normal equations."""
    import lmfit

    x = np.linspace(0.0, 1.0, 12)
    sigma = 0.05
    y = 2.0 * x + 0.3 + sigma * np.sin(13 * x)
    params = lmfit.Parameters()
    params.add("a", value=1.0)
    params.add("b", value=0.0)

    def residual(p):
        return (y - p["a"].value * x - p["b"].value) / sigma

    out = lmfit.minimize(residual, params)  # lmfit's default: covariance scaled by chi2_red
    design = np.column_stack([x, np.ones_like(x)]) / sigma
    exact = np.sqrt(np.diag(np.linalg.inv(design.T @ design)))
    return out, residual, exact


def test_profile_of_a_parabola_is_one_and_two_standard_errors():
    from respdor.profile import profile, standard_errors

    out, residual, exact = _line_problem()
    errors = standard_errors(out, sigma_known=True, scaled=True)
    assert errors["a"] == pytest.approx(exact[0], rel=1e-6) and errors["b"] == pytest.approx(exact[1], rel=1e-6)
    best = out.params["a"].value
    prof = profile(out.params, residual, "a", sigma_known=True, chi2_best=out.chisqr)
    lo68, hi68 = prof.intervals[0.6827]
    lo95, hi95 = prof.intervals[0.9545]
    assert (best - lo68, hi68 - best) == pytest.approx((exact[0], exact[0]), rel=1e-3)
    assert (best - lo95, hi95 - best) == pytest.approx((2 * exact[0], 2 * exact[0]), rel=1e-3)
    # the same interval read off a grid, and a grid too short to reach 95 % leaves that end open
    grid = best + exact[0] * np.linspace(-3, 3, 61)
    on_grid = profile(out.params, residual, "a", grid=grid, sigma_known=True, chi2_best=out.chisqr)
    assert on_grid.intervals[0.6827] == pytest.approx((lo68, hi68), rel=1e-3)
    short = profile(out.params, residual, "a", grid=best + exact[0] * np.linspace(-1.5, 1.5, 7), sigma_known=True)
    assert short.intervals[0.9545] == (None, None) and None not in short.intervals[0.6827]


def test_without_measured_errors_the_covariance_keeps_lmfits_scaling():
    from respdor.profile import standard_errors

    out, _, exact = _line_problem()
    scaled = standard_errors(out, sigma_known=False, scaled=True)
    assert scaled["a"] == pytest.approx(exact[0] * math.sqrt(out.redchi), rel=1e-6)
