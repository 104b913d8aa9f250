"""Real measured REDOR curves (INTERFACES examples, bundled with respdor), read and fitted as they are."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from respdor import read_curve

from realdata import REAL

ROOT = REAL / "redor_curves_INTERFACES_perras"
SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "examples" / "fit_interfaces.py"



def _script():
    spec = importlib.util.spec_from_file_location("fit_interfaces", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_all_23_curves_read_as_they_are():
    files = _script().curve_files(ROOT)
    assert len(files) == 23
    for path in files:
        curve = read_curve(path, time_unit="s")
        assert 8 <= curve.n_points <= 19
        assert np.all(np.diff(curve.time_s) > 0)
        assert 0 < curve.time_s.max() < 0.1


@pytest.mark.parametrize("name", ["Zn_phen/Zn-curve4.txt", "Pt-NHC/T3N1.txt", "Pd-Al/SREDOR.txt"])
def test_representative_fits(name):
    module = _script()
    curve, model, result = module.fit_one(ROOT / "examples" / name)
    d, r = result["coupling_hz"], result["distance_angstrom"]
    assert np.isfinite(d.value) and d.stderr is not None and d.stderr < d.value
    assert 2.0 < r.value < 8.0
    rms = np.sqrt(result.chisqr / curve.n_points)
    assert rms < 0.06  # equal-weight fits: residual scatter in dS/S0 units


def test_distribution_improves_surface_curve():
    module = _script()
    _, _, two_spin = module.fit_one(ROOT / "examples" / "Sc_amidine" / "SiO2-iPr.txt")
    _, _, spread = module.fit_one(ROOT / "examples" / "Sc_amidine" / "SiO2-iPr.txt", width=True)
    # Many 29Si at a range of distances: a width is strongly preferred (AIC lower by > 10).
    assert spread.aic < two_spin.aic - 10
    assert spread["width_angstrom"].value > 0.2
