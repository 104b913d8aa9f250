"""The persistent table cache and fit --simulate built on it (tiny powders; every test has its own
cache directory through the autouse fixture in conftest.py)."""

import json
from pathlib import Path

import numpy as np
import pytest

from respdor import simcache
from respdor.cli import main
from respdor.simulated import SimulatedShape, node_couplings
from chen_reference import chen_full  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data"

SPEC = """
[experiment]
type = "respdor"
title = "tiny"
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
d_hz = 503

[saturation]
type = "cw"
nu1_khz = 30
length_rotor_periods = 2

[powder]
n = 21
n_gamma = 4
"""


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(simcache.ENV_VAR, str(tmp_path / "c"))
    assert simcache.cache_dir() == tmp_path / "c"
    monkeypatch.delenv(simcache.ENV_VAR)
    assert "respdor" in str(simcache.cache_dir())  # the platform's user cache directory


def test_key_ignores_title_and_key_order_but_not_physics():
    raw = {"experiment": {"title": "a", "field_T": 9.4},
           "spins": [{"isotope": "13C"}, {"isotope": "27Al", "cq_mhz": 3.0}]}
    same = {"spins": [{"isotope": "13C"}, {"cq_mhz": 3.0, "isotope": "27Al"}],  # other key order, other title
            "experiment": {"field_T": 9.4, "title": "b"}}
    other = json.loads(json.dumps(raw))
    other["spins"][1]["cq_mhz"] = 3.1
    k = simcache.table_key(raw, powder={"n": 21})
    assert simcache.table_key(same, powder={"n": 21}) == k
    assert simcache.table_key(other, powder={"n": 21}) != k
    assert simcache.table_key(raw, powder={"n": 34}) != k
    assert simcache.engine_version().startswith("spinsim ")


def test_save_load_list_clear_and_cli(capsys):
    key = simcache.table_key({"x": 1})
    assert simcache.load(key) is None
    simcache.save(key, {"y": np.arange(3.0)}, {"description": "test entry"})
    arrays, meta = simcache.load(key)
    assert np.array_equal(arrays["y"], [0, 1, 2]) and meta["description"] == "test entry"
    assert main(["library", "cache", "list"]) == 0
    out = capsys.readouterr().out
    assert "1 table(s)" in out and "test entry" in out
    assert main(["library", "cache", "clear"]) == 0
    assert "removed 1" in capsys.readouterr().out
    assert simcache.entries() == []


def test_damaged_entry_is_a_miss():
    key = simcache.table_key({"x": 2})
    simcache.save(key, {"y": np.ones(2)}, {})
    (simcache.cache_dir() / f"{key}.npz").write_bytes(b"not a zip file")
    assert simcache.load(key) is None


def test_node_lattice_is_shared_between_ranges():
    a = node_couplings(300, 700)
    b = node_couplings(400, 900)
    assert a[0] == pytest.approx(np.exp(0.3 * 19)) and a[-1] == pytest.approx(np.exp(0.3 * 22))  # nearest nodes
    assert len(node_couplings(500, 510)) == 4
    common = np.intersect1d(np.round(a, 6), np.round(b, 6))
    assert len(common) >= 2  # overlapping ranges reuse nodes (and their cache entries)
    assert np.allclose(np.diff(np.log(a)), 0.3)


def test_second_build_simulates_nothing(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)
    t = [1.0e-3]
    cold = SimulatedShape.from_spec(spec, t, coupling_range_hz=(400, 650))
    assert cold.info["nodes_simulated"] == cold.info["nodes"] >= 4
    warm = SimulatedShape.from_spec(spec, t, coupling_range_hz=(400, 650))
    assert warm.info["nodes_simulated"] == 0
    tt = np.linspace(0, 1e-3, 7)
    assert np.array_equal(cold(tt, 520.0), warm(tt, 520.0))
    # a changed spec (CQ) is a different table
    spec.write_text(SPEC.replace("cq_mhz = 3.0", "cq_mhz = 3.5"))
    assert SimulatedShape.from_spec(spec, t, coupling_range_hz=(400, 650)).info["nodes_simulated"] > 0


def test_lambda_interpolation_between_nodes_matches_chen_and_direct():
    # ideal complete saturation of a spin-5/2: the simulated curve is Chen's closed form
    spec = {
        "experiment": {"type": "respdor", "field_T": 9.4, "mas_rate_hz": 10000, "t_max_ms": 3.0},
        "spins": [{"isotope": "13C"}, {"isotope": "27Al"}],
        "dipolar": [{"spins": [0, 1], "d_hz": 300.0}],
        "saturation": {"type": "ideal", "kind": "full"},
        "powder": {"n": 610, "n_gamma": 32},
    }
    t = np.array([0.0, 0.3e-3, 1.0e-3, 2.2e-3, 2.9e-3])  # includes times off the 0.2 ms grid
    shape = SimulatedShape.from_spec(spec, t, coupling_range_hz=(150, 600))
    nodes = shape.coupling_grid_hz
    d = float(np.sqrt(nodes[2] * nodes[3]))  # half-way between nodes (in ln D)
    assert np.max(np.abs(shape(t, d) - chen_full(d * t, 2.5))) < 2e-3  # powder-limited
    from spinsim.spec import load_spec

    grid = 2e-4 * np.arange(16)
    direct = load_spec(spec).run(coupling_hz=d, times_s=grid).dSS0
    assert np.max(np.abs(shape(grid[grid <= 2.9e-3], d) - direct[grid <= 2.9e-3])) < 2e-4  # interpolation only
    with pytest.raises(ValueError, match="outside"):
        shape(t, 2 * nodes[-1])


def test_fit_simulate_cold_then_warm(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)
    args = ["fit", str(DATA / "respdor_13C27Al_synthetic.csv"), "--simulate", str(spec), "--no-files", "--no-plot",
            "--no-intervals", "--check-convergence", "--json", "-"]
    assert main(args) == 0
    cold = capsys.readouterr()
    assert ", simulated, " in cold.err and "(1/" in cold.err
    assert main(args) == 0
    warm = capsys.readouterr()
    assert ", simulated, " not in warm.err and ", cache)" in warm.err
    res_c, res_w = json.loads(cold.out), json.loads(warm.out)
    par_c, par_w = res_c.get("parameters", res_c), res_w.get("parameters", res_w)  # either JSON layout
    assert par_c["coupling_hz"]["value"] == par_w["coupling_hz"]["value"]
    notes = " ".join(res_w["notes"])
    assert "0 table curves simulated" in notes and "checked against a direct simulation at the fitted D" in notes
    # the tiny explicit powder (ZCW 21 x 4 gamma) is flagged with --check-convergence: ZCW 13 differs by far
    # more than the tolerance, and so does the finer ZCW 34 that measures the error of ZCW 21
    assert any("(alpha, beta) orientations not converged: your 21 vs 34" in w for w in res_w["warnings"])
    ab = res_w["convergence"]["dimensions"]["alpha_beta"]
    assert ab["explicit"] and ab["status"] == "unconverged" and ab["error_estimate"] > 2e-3
    step = res_w["convergence"]["dimensions"]["step"]  # left to its default: checked (CW saturation has steps)
    assert not step["explicit"] and step["comparisons"][0]["compared_with"] == pytest.approx(1e-6)
    assert 250 < par_w["coupling_hz"]["value"] < 800
