"""The chi2 profile a fit keeps (FitResult.profiles) and draws (plotting.plot_profile), and the Fit
page that shows it beside the fit (the page object, no browser)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import respdor
from respdor.profile import delta_chi2_level

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
