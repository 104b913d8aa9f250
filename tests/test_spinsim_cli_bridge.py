"""`respdor simulate` and the SimulatedShape fitting bridge."""

import csv
import json

import numpy as np
import pytest

from respdor.cli import main
from respdor.simulated import SimulatedShape
from chen_reference import chen_full  # noqa: E402

SPEC = """
[experiment]
type = "respdor"
field_T = 9.4
mas_rate_hz = 10000
t_max_ms = 1.0

[[spins]]
isotope = "13C"

[[spins]]
isotope = "27Al"
cq_mhz = 3.0
eta_q = 0.3

[[dipolar]]
spins = [0, 1]
distance_A = 2.5

[saturation]
type = "cw"
nu1_khz = 30
length_rotor_periods = 2

[powder]
n = 21
n_gamma = 4
"""


def test_simulate_writes_csv_png_and_json(tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    out = tmp_path / "curve.csv"
    png = tmp_path / "curve.png"
    assert main(["simulate", str(spec), "--output", str(out), "--plot", str(png), "--json", "-"]) == 0
    lines = out.read_text().splitlines()
    comments = [x for x in lines if x.startswith("#")]
    assert any("recoupling: ideal pi pulses on 13C, phase x, at 0.5 tau_R, 1 tau_R" in x for x in comments)
    assert any("S0: the same sequence and timing with the saturation rf off" in x for x in comments)
    rows = list(csv.reader(x for x in lines if not x.startswith("#")))
    assert rows[0] == ["t_s", "S0", "S1", "dSS0"]
    data = np.array(rows[1:], float)
    assert data.shape == (6, 4) and np.allclose(data[:, 0], 2e-4 * np.arange(6))
    assert np.allclose(data[:, 3], 1 - data[:, 2] / data[:, 1])
    assert 0.2 < data[-1, 3] < 0.8
    assert png.stat().st_size > 1000
    captured = capsys.readouterr()
    assert json.loads(captured.out)["dSS0"] == pytest.approx(list(data[:, 3]))
    assert "units assumed" in captured.err


@pytest.mark.parametrize(
    "edit, message",
    [
        (("d_hz", "distance_A = 2.5", "d_hz = -3"), "d_hz"),  # negative coupling
        (("key", "nu1_khz = 30", "nu1_kHz = 30"), "unknown key 'nu1_kHz' in [saturation]"),
        (("iso", 'isotope = "27Al"', 'isotope = "27Xx"'), "unknown isotope"),
        (("eta", "eta_q = 0.3", "eta_q = 1.3"), "eta_q"),
        (("toml", "[powder]", "[powder"), "not valid TOML"),
    ],
)
def test_bad_spec_is_one_line_error_exit_2(tmp_path, capsys, edit, message):
    spec = tmp_path / "bad.toml"
    spec.write_text(SPEC.replace(edit[1], edit[2]))
    assert main(["simulate", str(spec), "--plot", "none"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(spec) in err[0] and message in err[0]


def test_simulate_refuses_to_overwrite_the_spec(tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    assert main(["simulate", str(spec), "--output", str(spec)]) == 2
    assert spec.read_text() == SPEC
    assert "refusing" in capsys.readouterr().err


def test_simulate_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "--help"])
    assert exc.value.code == 0
    assert "SPEC" in capsys.readouterr().out


def test_example_specs_parse():
    from pathlib import Path

    from spinsim.spec import load_spec

    for name in ("c13_al27_respdor.toml", "cd111_al27_sr4.toml"):
        path = Path(__file__).resolve().parents[1] / "data" / name
        spec = load_spec(path)
        assert spec.system.n_spins == 2 and len(spec.times_s) > 5


def test_simulated_shape_reproduces_analytical_respdor_between_grid_points():
    spec = {
        "experiment": {"type": "respdor", "field_T": 9.4, "mas_rate_hz": 10000, "t_max_ms": 4.0},
        "spins": [{"isotope": "13C"}, {"isotope": "27Al"}],
        "dipolar": [{"spins": [0, 1], "d_hz": 300.0}],
        "saturation": {"type": "ideal", "kind": "full"},
        "powder": {"n": 987, "n_gamma": 64},
    }
    # explicit nodes 0.3 apart in ln D, interpolated in lambda = D t (respdor.simulated)
    grid = np.geomspace(150, 900, 7)
    t = np.array([0.0, 0.4e-3, 1.0e-3, 2.2e-3, 2.9e-3])  # includes times off the 0.2 ms grid
    shape = SimulatedShape.from_spec(spec, t, coupling_grid_hz=grid)
    d = float(np.sqrt(grid[3] * grid[4]))  # between nodes
    assert np.max(np.abs(shape(t, d) - chen_full(d * t, 2.5))) < 2e-3
    assert shape.coupling_range_hz == (pytest.approx(150), pytest.approx(900))
    with pytest.raises(ValueError, match="outside"):
        shape(t, 2000.0)


def test_json_spec_with_dfs_and_coordinates(tmp_path):
    from spinsim.spec import load_spec

    raw = {
        "experiment": {"type": "respdor", "field_T": 9.4, "mas_rate_khz": 10, "recoupling_times_ms": [0, 0.4]},
        "spins": [{"isotope": "13C"}, {"isotope": "27Al", "cq_mhz": 1.0}],
        "coordinates_A": [[0, 0, 0], [0, 0, 2.5]],
        "saturation": {"type": "dfs", "nu1_khz": 20, "length_us": 100, "start_khz": 800, "end_khz": 200},
        "powder": {"n": 21, "n_gamma": 2},
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(raw))
    spec = load_spec(path)
    assert spec.system.dipolar[0].d_hz == pytest.approx(504.2, abs=0.1)
    assert spec.saturation.duration == pytest.approx(100e-6)
    res = spec.run()
    assert res.dSS0.shape == (2,) and np.all(np.isfinite(res.dSS0))
