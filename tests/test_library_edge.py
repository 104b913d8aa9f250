"""Tabulated (library) parameters at the edge of their axis: the optimum, one-sided profile
intervals checked against a brute-force profile, and the warning that says how to extend the
library. The library is tabulated in-process (3 CQ x 5 D nodes, ZCW 21 x 4): seconds, no Dask."""

import numpy as np
import pytest

from respdor import library as lib
from respdor.curve import DephasingCurve
from respdor.fitting import CurveModel, fit_curves
from respdor.tabulated import confirm_tabulated

RAW = {
    "experiment": {"type": "respdor", "field_T": 9.4, "mas_rate_hz": 10000, "t_max_ms": 2.4},
    "spins": [{"isotope": "13C"}, {"isotope": "27Al", "cq_mhz": 3.0, "eta_q": 0.3}],
    "dipolar": [{"spins": [0, 1], "d_hz": 500.0}],
    "saturation": {"type": "cw", "nu1_khz": 30, "length_rotor_periods": 2},
}
POWDER = {"scheme": "zcw", "n": 21, "n_gamma": 4}
T = 2e-4 * np.arange(1, 13)
SIGMA = 0.001
D_NODE = float(np.geomspace(300, 800, 5)[2])  # data on a D node: the model is exact at the CQ nodes


@pytest.fixture(scope="module")
def shape():
    cqs, couplings, t_max = np.linspace(2e6, 4e6, 3), np.geomspace(300, 800, 5), 2.4e-3
    n_times = lib.row_lengths(couplings, 1e-4, t_max)
    times = 2e-4 * np.arange(max(n_times))
    table = np.stack([lib.simulate_point(RAW, {"cq": c}, couplings, times, POWDER, n_times)[0] for c in cqs])
    out = lib.LibraryShape([lib.Axis("cq", cqs, "Hz")], couplings, times, table, t_max,
                           description="library test.h5", defaults={"cq": 3e6})
    out.powder = {"scheme": "zcw", "n": 21, "n_gamma": 4}
    out._table = table
    return out


def _curve(cq, d=D_NODE, f=0.8, seed=5):
    y = lib.simulate_point(RAW, {"cq": cq}, [d], T, POWDER)[0, 0]
    noise = SIGMA * np.random.default_rng(seed).standard_normal(T.size)
    return DephasingCurve(T, f * y + noise, sigma=np.full(T.size, SIGMA))


def _brute_force(curve, shape, values):
    """chi^2 with CQ fixed at each value and D, f fitted by the full fitter (global search included)."""
    model = CurveModel("13C", "27Al", shape=shape)
    return np.array([fit_curves([curve], [model], fix={"cq": v}, intervals=False).chisqr for v in values])


def _crossing(values, delta, level, side):
    """Linear-interpolated first crossing of ``level`` from the minimum towards ``side`` (None: never)."""
    k = int(np.argmin(delta))
    idx = range(k, len(values) - 1) if side > 0 else range(k, 0, -1)
    for i in idx:
        j = i + side
        if delta[j] >= level > delta[i]:
            return values[i] + (level - delta[i]) / (delta[j] - delta[i]) * (values[j] - values[i])
    return None


def test_cq_on_the_library_edge_gives_a_one_sided_interval_that_matches_a_brute_force_profile(shape):
    curve = _curve(2.0e6)  # CQ on the lower edge of the library (2-4 MHz)
    res = fit_curves([curve], [CurveModel("13C", "27Al", shape=shape)], free=["cq"])
    cq = res["cq"]
    assert 2e6 <= cq.value < 2.5e6  # in the edge cell
    assert cq.stderr is None  # no covariance interval at an edge
    assert cq.ci68[0] == 2e6 and cq.ci95[0] == 2e6  # bounded by the edge, not by the data
    assert 2e6 < cq.ci68[1] < cq.ci95[1] < 4e6  # closed above: chi2 does rise
    edge = [w for w in res.warnings if w.startswith("cq = ")]
    assert len(edge) == 1
    assert "the library's lower edge 2 MHz" in edge[0] and "one-sided" in edge[0]
    assert "respdor library build SPEC" in edge[0] and "--vary cq=0:4MHz:5" in edge[0]
    assert "--couplings 300:800:5" in edge[0] and "--powder 21 --gamma 4" in edge[0]
    # independent check: brute-force profile on a 50 kHz grid, every point a full fit
    grid = np.linspace(2e6, 3.5e6, 31)
    chi = _brute_force(curve, shape, grid)
    delta = chi - min(chi.min(), res.chisqr)
    assert chi.min() >= res.chisqr - 1e-6 * res.chisqr  # the fit is the profile's minimum
    print("edge profile", cq.value, cq.ci68, cq.ci95, [_crossing(grid, delta, x, +1) for x in (1.0, 3.84, 4.0)])
    for level, end in ((1.0, cq.ci68[1]), (4.0, cq.ci95[1])):
        assert end == pytest.approx(_crossing(grid, delta, level, +1), abs=15e3)
    assert _crossing(grid, delta, 1.0, -1) is None  # no crossing below: the edge bounds it


def test_cq_inside_the_library_gives_a_two_sided_interval_and_no_edge_warning(shape):
    curve = _curve(3.0e6)
    res = fit_curves([curve], [CurveModel("13C", "27Al", shape=shape)], free=["cq"])
    cq = res["cq"]
    assert 2e6 < cq.ci95[0] < cq.ci68[0] < cq.value < cq.ci68[1] < cq.ci95[1] < 4e6
    assert cq.ci95[0] < 3e6 < cq.ci95[1]
    assert not [w for w in res.warnings if "edge" in w]
    assert res["coupling_hz"].ci95[0] < D_NODE < res["coupling_hz"].ci95[1]


def test_a_fit_left_on_the_edge_is_restarted_from_its_profile(shape):
    """A local fit that ended on the edge (here: stopped after two steps) while chi2 is lower inside."""
    import lmfit

    from respdor.fitting import _Problem

    curve = _curve(3.0e6)
    model = CurveModel("13C", "27Al", shape=shape)
    problem = _Problem([curve], [model], ("coupling_hz",), "coupling", {}, {}, {}, "ratio", True, free=["cq"])
    params = problem.params.copy()
    params["coupling_hz"].value, params["fraction"].value, params["cq"].value = 480.0, 0.7, 2e6
    minimizer = lmfit.Minimizer(problem.residual, params)
    result = minimizer.minimize(method="leastsq", max_nfev=2)
    assert result.params["cq"].value == pytest.approx(2e6, abs=1e3)
    m2, r2, profiles, notes, warns = confirm_tabulated(problem, minimizer, result, True, False)
    assert r2.chisqr < result.chisqr - 1.0 and not warns
    assert 2.5e6 < r2.params["cq"].value < 3.5e6
    assert any("restarted" in n for n in notes)
    assert profiles["cq"]["open"][0.9545] == (False, False)


def test_a_user_bound_inside_the_library_is_named_not_the_library(shape):
    curve = _curve(2.0e6)
    res = fit_curves([curve], [CurveModel("13C", "27Al", shape=shape)], free=["cq"],
                     bounds={"cq": (2.5e6, 4e6)}, intervals=False)
    assert res["cq"].value == pytest.approx(2.5e6, abs=1e3)
    edge = [w for w in res.warnings if w.startswith("cq = ")]
    assert len(edge) == 1 and "bounds['cq'] lower edge 2.5 MHz" in edge[0]
    assert "widen bounds['cq'] to the library's 2 MHz" in edge[0]


@pytest.mark.parametrize("text, lower, upper", [
    ("cq=2.5:3.5MHz:3", "cq=1.5:3.5MHz:5", "cq=2.5:4.5MHz:5"),
    ("nu1=20:60kHz:9", "nu1=15:60kHz:10", "nu1=20:80kHz:13"),
    ("length=100:300us:5", "length=50:300us:6", "length=100:400us:7"),
    ("eta_q=0:1:5", None, None),
    ("eta_q=0.2:0.6:3", "eta_q=0:0.6:4", "eta_q=0.2:1:5"),
])
def test_extension_of_an_axis_keeps_its_spacing_and_stops_at_physical_limits(text, lower, upper):
    axis = lib.parse_vary(text)
    assert lib.parse_vary(lib.vary_text(axis)).values == pytest.approx(axis.values)
    for side, want in ((0, lower), (1, upper)):
        got = lib._extended(axis, side)
        assert (None if got is None else lib.vary_text(got)) == want


def _write_library(path, shape):
    """The in-process table as a complete library file, through the build's own file writer."""
    axes = shape.axes
    request = lib._request(RAW, axes, shape.coupling_grid_hz, shape.times_s, POWDER, shape.t_max_s)
    table = shape._table
    f = lib._open_work(path, request, axes, shape.coupling_grid_hz.size, shape.times_s.size, fresh=True)
    with f:
        for k in range(len(axes[0].values)):
            lib._write_point(f, (k,), np.stack([table[k]] * 3), (len(axes[0].values),))
        f.attrs["complete"] = True


def test_cli_fit_reports_the_edge_in_text_and_json(shape, tmp_path, capsys):
    import json

    from respdor.cli import main

    path = tmp_path / "edge.h5"
    _write_library(path, shape)
    curve = _curve(2.0e6)
    data = tmp_path / "c.csv"
    data.write_text("t_ms,dSS0,sigma\n" + "".join(f"{1e3 * t:.3f},{y:.8f},{s}\n"
                                                 for t, y, s in zip(curve.time_s, curve.dss0, curve.sigma)))
    before = data.read_bytes()
    assert main(["fit", str(data), "--library", str(path), "--free", "cq", "--no-files", "--no-plot",
                 "--json", "-"]) == 0
    captured = capsys.readouterr()
    res = json.loads(captured.out)
    par = res.get("parameters", res)
    assert par["cq"]["ci95"][0] == 2e6 and 2e6 < par["cq"]["ci95"][1] < 2.5e6 and par["cq"]["stderr"] is None
    edge = [w for w in res["warnings"] if w.startswith("cq = ")]
    assert len(edge) == 1 and "lower edge 2 MHz" in edge[0] and "--vary cq=0:4MHz:5" in edge[0]
    assert "WARNING: cq = " in captured.err and "Traceback" not in captured.err
    assert data.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["c.csv", "edge.h5"]


def test_an_edge_that_is_a_physical_limit_is_said_so_without_a_rebuild_command():
    """eta_Q cannot go below 0: the one-sided interval is physical, no wider library exists."""
    from types import SimpleNamespace

    from respdor.tabulated import edge_warnings

    axis = lib.Axis("eta_q", np.linspace(0, 1, 5), "")
    shape = SimpleNamespace(axes=[axis], coupling_grid_hz=np.geomspace(300, 800, 5), t_max_s=2.4e-3, powder=None)
    model = SimpleNamespace(shape=shape, shape_parameters={"eta_q": (0.3, (0.0, 1.0))})
    prof = {"range": (0.0, 1.0), "ci68": (0.0, 0.21), "ci95": (0.0, 0.43), "best": (0.0, 10.0, None),
            "open": {0.6827: (True, False), 0.9545: (True, False)}}
    lines = edge_warnings("eta_q", prof, model, 0.0)
    assert len(lines) == 1 and "eta_q = 0 is on the library's lower edge 0" in lines[0]
    assert "physical limit" in lines[0] and "library build" not in lines[0]
    prof["open"][0.9545] = (False, False)
    assert edge_warnings("eta_q", prof, model, 0.1) == []  # closed on both sides: nothing to say
