"""The SIMPSON bridge: exported input (conventions mapped), fsave reader, curve from two FIDs."""

import os
import shutil
import subprocess

import numpy as np
import pytest

from respdor.cli import main
from spinsim.simpson import read_fsave, simpson_curve, simpson_input
from spinsim.spec import load_spec

pytest.importorskip("numba")

SPEC = {
    "experiment": {"type": "respdor", "field_T": 9.4, "mas_rate_hz": 10000, "t_max_ms": 0.4},
    "spins": [{"isotope": "13C", "csa_zeta_ppm": 50, "csa_eta": 0.4, "csa_euler_deg": [10, 20, 30]},
              {"isotope": "27Al", "cq_mhz": 3.0, "eta_q": 0.3, "q_euler_deg": [5, 30, 40]}],
    "dipolar": [{"spins": [0, 1], "d_hz": 503.0, "euler_deg": [0, 60, 0]}],
    "recoupling": {"scheme": "redor", "placement": "centred"},
    "saturation": {"type": "cw", "nu1_khz": 30, "length_rotor_periods": 2},
    "powder": {"scheme": "zcw", "n": 21, "n_gamma": 4},
}


def test_exported_input_maps_the_conventions():
    text, cry = simpson_input(SPEC, "x")
    # SIMPSON's angles rotate frames: spinsim (a, b, c) -> (-c, -b, -a); the EFG adds 90 deg
    # (SIMPSON's in-plane axes are swapped). Checked against a SIMPSON 4.2.3 build.
    assert "quadrupole 2 2 3000000 0.3 -130 -30 -5" in text
    assert "shift 1 0p 50p 0.4 -30 -20 -10" in text  # CSA: Haeberlen in both
    assert "dipole 1 2 -503 0 -60 0" in text  # b_ij < 0 for two positive gammas
    assert "fphase $f -scale 0.3333333333" in text  # interaction-free signal 1/2 x 6 states of 27Al -> 1
    assert "start_operator   I1x" in text and "detect_operator  I1p" in text
    assert "foreach n {0 1 2} {" in text
    # centred placement: delays tau_R/4, tau_R/2, tau_R/4 around the two ideal pi pulses
    assert "delay 25\n    pulseid 1 500000 0 0 0\n    delay 50\n    pulseid 1 500000 0 0 0\n    delay 25" in text
    assert "pulse 100 0 0 30000 0\n    pulseid 1 500000 0 0 0\n    pulse 100 0 0 30000 0" in text
    rows = cry.splitlines()
    assert rows[0] == "21"
    a, b, w = (float(x) for x in rows[2].split())
    p = load_spec(SPEC).powder
    assert a == pytest.approx(-np.degrees(p.alpha[1]), abs=1e-6)  # SIMPSON (-alpha, 180 - beta)
    assert b == pytest.approx(180 - np.degrees(p.beta[1]), abs=1e-6) and w == pytest.approx(1 / 21)


def test_export_refuses_what_simpson_cannot_run():
    raw = {**SPEC, "saturation": {"type": "ideal"}}
    with pytest.raises(ValueError, match="ideal incoherent saturation has no SIMPSON equivalent"):
        simpson_input(raw)


def test_cli_export_simpson(tmp_path, capsys):
    import json

    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(SPEC))
    out = tmp_path / "run.in"
    assert main(["simulate", str(spec), "--export-simpson", str(out)]) == 0
    assert "crystal_file     run" in out.read_text() and (tmp_path / "run.cry").is_file()
    assert not list(tmp_path.glob("*.csv"))  # export only, no simulation
    capsys.readouterr()
    bad = tmp_path / "b.json"
    bad.write_text(json.dumps({**SPEC, "saturation": {"type": "ideal"}}))
    assert main(["simulate", str(bad), "--export-simpson", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "b.json" in err[0] and "--export-simpson" in err[0]


def test_read_fsave_and_curve(tmp_path):
    def fid(path, data):
        body = "\n".join(f"{z.real:.12g} {z.imag:.12g}" for z in data)
        path.write_text(f"SIMP\nNP={len(data)}\nSW=10000\nTYPE=FID\nDATA\n{body}\nEND\n")

    s0 = np.array([1.0, 0.9 * np.exp(0.2j), 0.8 * np.exp(0.4j)])
    s1 = s0 * np.array([1.0, 0.7, 0.5])
    fid(tmp_path / "a.fid", s0)
    fid(tmp_path / "b.fid", s1)
    data, head = read_fsave(tmp_path / "a.fid")
    assert np.allclose(data, s0) and head["TYPE"] == "FID"
    S0, S1, d = simpson_curve(tmp_path / "a.fid", tmp_path / "b.fid")
    assert np.allclose(S0, [1.0, 0.9, 0.8]) and np.allclose(d, [0.0, 0.3, 0.5])
    (tmp_path / "c.fid").write_text("SIMP\nNP=2\nDATA\n1 0\nx 1\nEND\n")
    with pytest.raises(ValueError, match="c.fid:5"):
        read_fsave(tmp_path / "c.fid")


def test_cli_export_simpson_goes_through_the_output_guard(tmp_path, capsys):
    import json

    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(SPEC))
    before = spec.read_bytes()
    for target in (tmp_path / "run.txt", tmp_path / "missing" / "run.in", tmp_path):
        assert main(["simulate", str(spec), "--export-simpson", str(target)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--export-simpson" in err[0]
    assert spec.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]


def test_export_stores_synchronised_propagators_and_sets_offsets_after_reset():
    text, _ = simpson_input(SPEC, "x")
    body = text[text.index("proc pulseq"):text.index("proc main")]
    # cycle (1 rotor period) and centre (2) are rotor-synchronised: computed once, applied per point
    assert "  cycle\n  store 1\n  reset\n  centre\n  store 2\n" in body
    assert "    reset\n    prop 1 $n\n    prop 2\n    prop 1 $n\n    acq" in body
    assert "do_avg           1" in text  # step-averaged Hamiltonian, as spinsim's steps
    raw = {**SPEC, "saturation": {"type": "cw", "nu1_khz": 30, "length_us": 150},
           "simulation": {"offsets_khz": {"13C": 2.0}}}
    body = simpson_input(raw, "x")[0]
    body = body[body.index("proc pulseq"):body.index("proc main")]
    # 1.5 rotor periods: run event by event; SIMPSON's reset clears offsets, so set them after it
    assert "store" not in body and "    reset\n    offset 2000 0\n    for {set k 0}" in body


SIMPSON = shutil.which("simpson")


@pytest.mark.skipif(SIMPSON is None, reason="no simpson executable on PATH")
@pytest.mark.parametrize("change", [
    {},  # rotor-synchronised: stored propagators
    {"saturation": {"type": "cw", "nu1_khz": 30, "length_us": 150},  # event by event, with an offset
     "simulation": {"offsets_khz": {"13C": 2.0}}},
])
def test_simpson_build_agrees(tmp_path, change):
    """The exported input run by SIMPSON gives spinsim's curve (same crystallites) to 1e-6."""
    from spinsim.simpson import write_simpson
    from spinsim.spec import simulate_spec

    raw = {**SPEC, "powder": {"scheme": "zcw", "n": 13, "n_gamma": 4}, **change}
    path, _ = write_simpson(raw, tmp_path / "run.in")
    subprocess.run([SIMPSON, path.name], cwd=tmp_path, check=True, capture_output=True,
                   env={**os.environ, "SIMPSON_NUM_CORES": "1"})
    S0, S1, d = simpson_curve(tmp_path / "run_S0.fid", tmp_path / "run_S1.fid")
    r = simulate_spec(raw)
    assert np.max(np.abs(d - r.dSS0)) < 1e-6 and np.max(np.abs(S0 - r.S0)) < 1e-6
    assert np.max(d) > 0.05  # the curve dephases: the comparison can fail
