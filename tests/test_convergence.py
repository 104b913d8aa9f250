"""Powder (alpha, beta), gamma and time-step convergence check (spinsim.convergence, respdor.convergence)."""

import json
from pathlib import Path

import numpy as np
import pytest

from chen_reference import chen_full
from respdor.cli import main
from spinsim import IdealSaturation, SpinSystem, Spin, DipolarCoupling, cw_pulse, make_powder, simulate_respdor
from spinsim.convergence import DEFAULT_TOL, Level, check_convergence, coarser, finer

MAS = 10000.0


def _two_spin(d_hz=503.0):
    return SpinSystem([Spin("13C"), Spin("27Al", cq_hz=3e6, eta_q=0.3)], 9.4, [DipolarCoupling(0, 1, d_hz)])


def _runner(system, times, saturation=None):
    def run(level):
        return simulate_respdor(system, MAS, times, saturation=saturation, powder=level.powder,
                                max_dt=level.max_dt).dSS0
    return run


def test_levels_change_one_dimension_at_a_time():
    lv = Level(make_powder("zcw", 610, 16), 0.5e-6)
    assert coarser(lv, "alpha_beta").powder.n_ab == 377 and coarser(lv, "alpha_beta").powder.n_gamma == 16
    assert finer(lv, "alpha_beta").powder.n_ab == 987
    assert coarser(lv, "gamma").powder.n_gamma == 12 and coarser(lv, "gamma").powder.n_ab == 610
    assert finer(lv, "gamma").powder.n_gamma == 32
    assert coarser(lv, "step").max_dt == 1e-6 and coarser(lv, "step").powder is lv.powder
    assert finer(lv, "step").max_dt == 0.25e-6
    single = Level(make_powder("single", 1, 4), 0.5e-6)
    assert coarser(single, "alpha_beta") is None


def test_unconverged_gamma_measured_against_the_analytical_curve():
    # ideal saturation of one spin-5/2: Chen's closed form is the converged curve (independent truth).
    # 16 gamma angles at 3 ms are 0.029 off; the (alpha, beta) set (ZCW 233) is converged to 3e-4.
    t = 2e-4 * np.arange(16)
    truth = chen_full(503.0 * t, 2.5)
    lv = Level(make_powder("zcw", 233, 16), 0.5e-6)
    chk = check_convergence(_runner(_two_spin(), t), lv, refine=False, uses_step=False)
    g = {d.dimension: d for d in chk.dimensions}["gamma"]
    assert g.status == "unconverged"
    own_error = np.max(np.abs(chk.curve - truth))
    assert own_error > 1e-2  # the case is a real one
    # the error reported for 16 gamma angles (against 32) is the error against the closed form
    assert g.error_estimate == pytest.approx(own_error, rel=0.05)
    assert g.steps[0]["compared_with"] == 12 and g.steps[1]["compared_with"] == 32
    assert {d.dimension: d.status for d in chk.dimensions}["step"] == "not applicable"
    assert not chk.converged


def test_default_refined_until_converged_and_the_result_matches_the_closed_form():
    t = 2e-4 * np.arange(16)
    truth = chen_full(503.0 * t, 2.5)
    lv = Level(make_powder("zcw", 377, 16), 0.5e-6)
    chk = check_convergence(_runner(_two_spin(), t), lv, uses_step=False)
    g = {d.dimension: d for d in chk.dimensions}["gamma"]
    assert g.status == "refined" and g.value >= 32 and chk.level.powder.n_gamma == g.value
    # the first refinement's change is the default's own error
    default_curve = _runner(_two_spin(), t)(lv)
    assert g.steps[1]["max_change"] == pytest.approx(np.max(np.abs(default_curve - truth)), rel=0.05)
    assert np.max(np.abs(chk.curve - truth)) < DEFAULT_TOL
    assert chk.converged


def test_converged_case_reports_three_dimensions_and_no_warning():
    from respdor.convergence import check_json, check_text, check_warnings

    t = 2e-4 * np.arange(6)  # 1 ms, D = 200 Hz, CW saturation: every dimension has a setting
    sat = cw_pulse("27Al", 30e3, 1e-4)
    lv = Level(make_powder("zcw", 55, 16), 0.5e-6)
    chk = check_convergence(_runner(_two_spin(200.0), t, sat), lv, tol=1e-2, uses_step=True)
    assert [d.dimension for d in chk.dimensions] == ["alpha_beta", "gamma", "step"]
    assert all(d.status == "converged" and d.max_change is not None for d in chk.dimensions)
    assert check_warnings(chk, t) == []
    rec = check_json(chk, t)
    assert set(rec["dimensions"]) == {"alpha_beta", "gamma", "step"}
    assert rec["dimensions"]["step"]["comparisons"][0]["compared_with"] == pytest.approx(1e-6)
    # the check's cost is said as measured (wall times: no bound here, a busy machine changes them)
    assert rec["cost_fraction"] == pytest.approx(chk.check_wall_s / chk.run_wall_s) and rec["converged"]
    text = "\n".join(check_text(chk, t))
    assert "time step 0.5 us (default) vs 1 us" in text and "gamma angles 16 (default) vs 12" in text


def test_explicit_settings_are_checked_only_on_request():
    t = 2e-4 * np.arange(6)
    lv = Level(make_powder("zcw", 89, 4), 0.5e-6)
    calls = []

    def run(level):
        calls.append(level)
        return _runner(_two_spin(), t)(level)

    explicit = {"alpha_beta": True, "gamma": True, "step": True}
    chk = check_convergence(run, lv, explicit, base=(run(lv), 1.0))
    assert [d.status for d in chk.dimensions] == ["explicit", "explicit", "explicit"] and len(calls) == 1
    chk = check_convergence(run, lv, explicit, check_explicit=True, uses_step=False, base=(run(lv), 1.0))
    assert chk.level == lv  # an explicit choice is never changed
    assert {d.dimension: d.status for d in chk.dimensions}["alpha_beta"] in ("converged", "unconverged")


SPEC = """
[experiment]
type = "respdor"
field_T = 9.4
mas_rate_hz = 10000
t_max_ms = 3.0

[[spins]]
isotope = "13C"

[[spins]]
isotope = "27Al"
cq_mhz = 3.0

[[dipolar]]
spins = [0, 1]
d_hz = 503

[saturation]
type = "ideal"

[powder]
n = 233
"""


def test_simulate_checks_the_default_gamma_and_says_so_in_json(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC + "n_gamma = 16\n")
    before = spec.read_bytes()
    # n_gamma = 16 is explicit (0.029 off at 3 ms): not checked by default, only with --check-convergence
    assert main(["simulate", str(spec), "--no-files", "--json", "-"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["convergence"]["dimensions"]["gamma"]["status"] == "explicit" and res["warnings"] == []
    assert main(["simulate", str(spec), "--no-files", "--json", "-", "--check-convergence"]) == 0
    cap = capsys.readouterr()
    res = json.loads(cap.out)
    g = res["convergence"]["dimensions"]["gamma"]
    t = np.asarray(res["t_s"])
    truth = chen_full(503.0 * t, 2.5)
    assert g["status"] == "unconverged" and g["error_estimate"] == pytest.approx(
        np.max(np.abs(np.asarray(res["dSS0"]) - truth)), rel=0.05)
    assert any(w.startswith("gamma angles not converged: your 16 vs 32 changes dS/S0 by 0.029") for w in res["warnings"])
    assert "warning: gamma angles not converged" in cap.err and "Traceback" not in cap.err
    assert spec.read_bytes() == before


def test_simulate_refines_a_default_gamma(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    # n_gamma left to the default (32): enough at 3 ms, 0.014 off at 6 ms, where 64 is needed
    spec.write_text(SPEC.replace("t_max_ms = 3.0", "t_max_ms = 6.0"))
    assert main(["simulate", str(spec), "--no-files", "--json", "-"]) == 0
    cap = capsys.readouterr()
    res = json.loads(cap.out)
    g = res["convergence"]["dimensions"]["gamma"]
    t = np.asarray(res["t_s"])
    truth = chen_full(503.0 * t, 2.5)
    assert g["initial"] == 32 and not g["explicit"] and g["status"] == "refined" and g["final"] >= 64
    # the nested check: 32 against its own every other gamma angle (16), at half of each time
    assert g["comparisons"][0]["compared_with"] == 16 and g["comparisons"][0]["max_change"] > 2e-3
    # the first refinement (64 vs 32) measures the default's own error against the closed form
    default = simulate_respdor(_two_spin(), MAS, t, powder=make_powder("zcw", 233, 32)).dSS0
    assert g["comparisons"][1]["max_change"] == pytest.approx(np.max(np.abs(default - truth)), rel=0.1)
    assert res["convergence"]["dimensions"]["alpha_beta"]["status"] == "explicit"
    assert res["convergence"]["dimensions"]["step"]["status"] == "not applicable"
    assert res["info"]["n_gamma"] == g["final"] and res["warnings"] == []
    assert np.max(np.abs(np.asarray(res["dSS0"]) - truth)) < 1.2e-3  # ZCW 233's own error at 6 ms: 1.0e-3
    assert "refined: 64 (vs 32" in cap.err


def test_simulate_default_that_is_converged_is_not_refined(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)  # 3 ms: 32 gamma angles (the default) are converged
    assert main(["simulate", str(spec), "--no-files", "--json", "-"]) == 0
    res = json.loads(capsys.readouterr().out)
    g = res["convergence"]["dimensions"]["gamma"]
    assert g["status"] == "converged" and g["final"] == 32 and g["max_change"] < 2e-3
    assert res["warnings"] == [] and res["convergence"]["converged"]


def test_default_still_unconverged_after_refinement_is_a_warning():
    from respdor.convergence import check_warnings

    t = 2e-4 * np.arange(16)
    lv = Level(make_powder("zcw", 89, 4), 0.5e-6)
    chk = check_convergence(_runner(_two_spin(), t), lv, uses_step=False, max_refine=1)
    g = {d.dimension: d for d in chk.dimensions}["gamma"]
    assert g.status == "unconverged" and chk.level.powder.n_gamma == 8
    (w,) = [x for x in check_warnings(chk, t) if x.startswith("gamma")]
    assert "the refined default 8 vs 6" in w and "at 3 ms" in w and "n_gamma" in w


def test_check_options_refused_cleanly(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)
    assert main(["simulate", str(spec), "--no-files", "--powder-tol", "0"]) == 2
    err = capsys.readouterr().err
    assert "--powder-tol" in err and "Traceback" not in err


def test_fit_refuses_check_options_without_a_simulated_shape(capsys):
    data = str(Path(__file__).resolve().parents[1] / "data" / "respdor_13C27Al_synthetic.csv")
    for extra in (["--check-convergence"], ["--powder-tol", "1e-3"]):
        assert main(["fit", data, "--no-files", "--no-plot", "--no-intervals"] + extra) == 2
        err = capsys.readouterr().err
        assert extra[0] in err and "--simulate" in err and "Traceback" not in err


def _c2al_xyz(path):
    from spinsim import distance_from_coupling

    r1, r2 = distance_from_coupling(503, "13C", "27Al"), distance_from_coupling(300, "13C", "27Al")
    a = np.radians(110.0)
    path.write_text(f"3\nC with two Al\nC 0 0 0\nAl 0 0 {r1:.6f}\nAl {r2 * np.sin(a):.6f} 0 {r2 * np.cos(a):.6f}\n")
    return path


def test_structure_two_al_default_gamma_refined_and_16_flagged(tmp_path, capsys):
    pytest.importorskip("ase")
    xyz = _c2al_xyz(tmp_path / "c2al.xyz")
    base = ["structure", str(xyz), "--observe", "C", "--partner", "27Al", "--no-partner-couplings",
            "--t-max", "3ms", "--powder", "233", "--output", str(tmp_path / "c.csv"), "--json"]
    assert main(base + [str(tmp_path / "d.json")]) == 0
    res = json.loads((tmp_path / "d.json").read_text())
    g = res["convergence"]["dimensions"]["gamma"]
    # the default 16 gamma angles are 7.4e-3 off at 3 ms: refined to 32, where dS/S0 is the converged 0.9550
    assert g["status"] == "refined" and g["initial"] == 16 and g["final"] == 32 and not g["explicit"]
    assert g["comparisons"][1]["max_change"] == pytest.approx(7.4e-3, abs=4e-4)
    assert res["dSS0_predicted"][-1] == pytest.approx(0.9550, abs=3e-4)
    assert not any("converged" in w for w in res["warnings"])  # (the product-model warning stays)
    assert res["convergence"]["dimensions"]["alpha_beta"]["status"] == "explicit"
    assert "gamma angles 16 (default) vs 8 (every other gamma angle at half of each time)" in capsys.readouterr().err
    # 16 gamma angles chosen explicitly: kept, and flagged with --check-convergence with the size
    (tmp_path / "c.csv").unlink()
    assert main(base + [str(tmp_path / "e.json"), "--gamma", "16", "--check-convergence"]) == 0
    res = json.loads((tmp_path / "e.json").read_text())
    g = res["convergence"]["dimensions"]["gamma"]
    assert g["status"] == "unconverged" and g["error_estimate"] == pytest.approx(7.4e-3, abs=4e-4)
    assert res["dSS0_predicted"][-1] == pytest.approx(0.9476, abs=3e-4)
    assert any(w.startswith("gamma angles not converged: your 16 vs 32 changes dS/S0 by 0.007") for w in
               res["warnings"])
    assert "warning: gamma angles not converged" in capsys.readouterr().err


def test_library_checks_its_own_powder(tmp_path, capsys):
    pytest.importorskip("h5py")
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    from respdor import library as lib

    raw = {"experiment": {"type": "respdor", "field_T": 9.4, "mas_rate_hz": 10000, "t_max_ms": 1.2},
           "spins": [{"isotope": "13C"}, {"isotope": "27Al", "cq_mhz": 3.0, "eta_q": 0.3}],
           "dipolar": [{"spins": [0, 1], "d_hz": 500.0}],
           "saturation": {"type": "cw", "nu1_khz": 30, "length_rotor_periods": 1},
           "powder": {"n": 13, "n_gamma": 4}}
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(raw))
    path = tmp_path / "lib.h5"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        lib.build_library(spec, path, [], np.geomspace(300, 800, 4), t_max_s=1.2e-3, scheduler=cluster.scheduler_address,
                          n_check=2, progress=False, check_explicit=True,
                          powder_explicit={"alpha_beta": True, "gamma": True, "step": False})
    conv = lib.library_info(path)["convergence"]
    assert conv["coupling_hz"] == pytest.approx(800.0)  # the hardest point: the largest coupling
    dims = conv["dimensions"]
    assert [dims[k]["comparisons"][0]["compared_with"] for k in ("alpha_beta", "gamma", "step")] == [8, 3, 1e-6]
    # ZCW 13 x 4 gamma is far from converged; the warning names the size measured against a finer level
    assert dims["gamma"]["status"] == "unconverged" and dims["gamma"]["error_estimate"] > 2e-3
    assert any(w.startswith("library powder: gamma angles not converged: your 4 vs 8") for w in conv["warnings"])
    assert lib.LibraryShape.open(path).convergence["dimensions"]["gamma"]["status"] == "unconverged"
    assert main(["library", "info", str(path)]) == 0
    cap = capsys.readouterr()
    assert "powder convergence check" in cap.out and "gamma angles 4 (yours) vs 3" in cap.out
    assert "warning: library powder: gamma angles not converged" in cap.err
