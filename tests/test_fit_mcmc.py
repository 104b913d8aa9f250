"""--mcmc: seeded posterior sampling (emcee through lmfit), intervals and the corner figure."""

import json

import numpy as np
import pytest

from respdor import CurveModel, DephasingCurve, fit_curve
from respdor.models import respdor_dephasing

def test_missing_emcee_is_one_clear_line(monkeypatch):
    import sys

    from respdor.errors import UserError
    from respdor.mcmc import sample_posterior

    monkeypatch.setitem(sys.modules, "emcee", None)  # import emcee now raises ImportError
    with pytest.raises(UserError, match=r"pip install 'respdor\[mcmc\]'"):
        sample_posterior(None)


def _curve(seed=0):
    t = np.linspace(0.1e-3, 3e-3, 20)
    rng = np.random.default_rng(seed)
    y = 0.3 * respdor_dephasing(503.0 * t, 2.5) + rng.normal(0, 0.01, t.size)
    return DephasingCurve(t, y, np.full(t.size, 0.01))


def test_posterior_is_seeded_and_agrees_with_the_profile():
    pytest.importorskip("emcee")
    from respdor.mcmc import sample_posterior

    curve, model = _curve(), CurveModel("13C", "27Al")
    a, b = fit_curve(curve, model), fit_curve(curve, model)
    ma = sample_posterior(a, walkers=16, steps=400, burn=100, seed=3)
    mb = sample_posterior(b, walkers=16, steps=400, burn=100, seed=3)
    assert ma["parameters"] == mb["parameters"]  # same seed, same numbers
    for name in ("coupling_hz", "distance_angstrom", "fraction"):
        q, est = ma["parameters"][name], a[name]
        assert q["ci95"][0] < q["ci68"][0] < q["median"] < q["ci68"][1] < q["ci95"][1]
        # Well-determined curve: the posterior and the profile likelihood agree to a fraction of an error.
        assert q["median"] == pytest.approx(est.value, abs=0.5 * est.stderr)
        width_mc, width_pl = q["ci68"][1] - q["ci68"][0], est.ci68[1] - est.ci68[0]
        assert 0.7 < width_mc / width_pl < 1.4
    # r is derived sample by sample from D: the r interval is the D interval mapped through D r^3 = const.
    d, r = ma["parameters"]["coupling_hz"], ma["parameters"]["distance_angstrom"]
    assert r["median"] == pytest.approx((model.dr3 / d["median"]) ** (1 / 3), rel=1e-4)
    assert "mcmc" in a.to_dict() and json.dumps(a.to_dict(), allow_nan=False)


def test_unweighted_curve_samples_the_noise_too():
    pytest.importorskip("emcee")
    from respdor.mcmc import sample_posterior

    c = _curve(1)
    curve = DephasingCurve(c.time_s, c.dss0)
    r = fit_curve(curve, CurveModel("13C", "27Al"), intervals=False)
    m = sample_posterior(r, walkers=16, steps=300, burn=100, seed=0)
    assert "__lnsigma" not in m["parameters"]
    assert m["parameters"]["fraction"]["ci68"][0] < 0.3 < m["parameters"]["fraction"]["ci95"][1]


def test_cli_mcmc_writes_the_corner_figure(tmp_path, capsys):
    pytest.importorskip("emcee")
    from respdor.cli import main

    c = _curve(2)
    path = tmp_path / "c.csv"
    path.write_text("t_s,dSS0,sigma\n" + "".join(f"{float(t)!r},{float(y)!r},0.01\n" for t, y in zip(c.time_s, c.dss0)))
    code = main(["fit", str(path), "--mcmc", "--mcmc-steps", "300", "--output-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "MCMC posterior" in out and "68% credible" in out
    assert (tmp_path / "c_fit_corner.png").stat().st_size > 10_000
    data = json.loads((tmp_path / "c_fit.json").read_text())
    assert set(data["mcmc"]["parameters"]) >= {"coupling_hz", "distance_angstrom", "fraction"}
