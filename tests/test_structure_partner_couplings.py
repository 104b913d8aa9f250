"""Partner-partner (27Al-27Al) couplings from a structure: build_system and `respdor structure`."""

import json

import numpy as np
import pytest

pytest.importorskip("ase")
from ase import Atoms  # noqa: E402

from respdor.cli import main  # noqa: E402
from respdor.structure import Structure, build_system, find_partners, partner_coupling_max_hz  # noqa: E402

# 13C with two 27Al of an Al-O-Al chain: C-Al 3.106 A, Al-Al 3.4 A
CHAIN = [[0, 0, 0], [-1.7, 2.6, 0], [1.7, 2.6, 0]]


def test_partner_couplings_from_coordinates():
    from spinsim import dipolar_coupling_hz

    ps = find_partners(Structure(Atoms("CAlAl", positions=CHAIN)), 0, "13C", "27Al", 4.0, cq_hz=3e6)
    d_alal = dipolar_coupling_hz(3.4e-10, "27Al", "27Al")
    # by hand: 1e-7 x 1.0545718e-34 x (6.9762715e7)^2 / (2 pi (3.4e-10)^3) = 207.83 Hz
    assert d_alal == pytest.approx(207.83, abs=0.01)
    assert partner_coupling_max_hz(ps, "27Al") == pytest.approx(d_alal, rel=1e-12)
    plain = build_system(ps, "13C", "27Al", 14.1)
    coupled = build_system(ps, "13C", "27Al", 14.1, partner_couplings=True)
    assert plain.homonuclear_pairs() == [] and coupled.homonuclear_pairs() == [(1, 2)]
    c = [c for c in coupled.dipolar if (c.i, c.j) == (1, 2)][0]
    assert c.d_hz == pytest.approx(d_alal, rel=1e-12)
    assert c.euler[1] == pytest.approx(np.pi / 2)  # the Al-Al vector lies along x


def _run(capsys, xyz, extra):
    small = ["--powder", "21", "--gamma", "4", "--t-max", "4ms", "--no-files", "--observe", "0", "--partner", "27Al",
             "--cutoff", "4A", "--json", "-"]
    assert main(["structure", str(xyz)] + small + extra) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_partner_couplings_default_on_for_two_and_stated(tmp_path, capsys):
    xyz = tmp_path / "chain.xyz"
    xyz.write_text("3\nmodel chain\n" + "".join(f"{s} {x} {y} {z}\n" for s, (x, y, z) in zip("CAA", CHAIN))
                   .replace("A ", "Al "))
    on = _run(capsys, xyz, [])
    off = _run(capsys, xyz, ["--no-partner-couplings"])
    forced = _run(capsys, xyz, ["--partner-couplings", "--max-partners", "1"])
    assert on["sites"][0]["engines"] == ["coupled"] and on["sites"][0]["partner_couplings"] is True
    assert on["sites"][0]["partner_coupling_max_hz"] == pytest.approx(207.83, abs=0.01)
    assert on["warnings"] == []
    assert off["sites"][0]["engines"] == ["fast"]
    assert "left out" in off["warnings"][0] and "207.8 Hz" in off["warnings"][0]
    assert forced["sites"][0]["engines"] == ["fast"]  # one partner: nothing to couple
    diff = np.max(np.abs(np.array(on["dSS0_predicted"]) - np.array(off["dSS0_predicted"])))
    # C_Q = 0 here (an xyz file has no EFG): the Al-Al flip-flop is truncated by the different 13C-Al
    # couplings alone; a correction that shows (measured 1.0e-4 to 4 ms, ZCW 21 x 4)
    assert 2e-5 < diff < 0.05


def test_cli_integrator_magnus4_steps_and_says_so(tmp_path, capsys):
    """--integrator magnus4: the coupled engine's fourth-order Magnus steps start at 1 us (the step
    check then halves them), the choices say so, and the curve agrees with the piecewise one."""
    xyz = tmp_path / "chain.xyz"
    xyz.write_text("3\nmodel chain\n" + "".join(f"Al {x} {y} {z}\n" if s == "A" else f"{s} {x} {y} {z}\n"
                                                  for s, (x, y, z) in zip("CAA", CHAIN)))
    piecewise = _run(capsys, xyz, ["--cq", "3MHz"])
    magnus = _run(capsys, xyz, ["--cq", "3MHz", "--integrator", "magnus4"])
    assert magnus["sites"][0]["engines"] == ["coupled"]
    assert piecewise["choices"]["integrator"] == "piecewise" and magnus["choices"]["integrator"] == "magnus4"
    assert piecewise["choices"]["step_us"] == pytest.approx(0.5) and magnus["choices"]["step_us"] == pytest.approx(1.0)
    diff = np.max(np.abs(np.array(magnus["dSS0_predicted"]) - np.array(piecewise["dSS0_predicted"])))
    assert diff < 1e-4  # measured 3.8e-6 (ZCW 21 x 4, to 4 ms; the step check's tolerance is 2e-3)
    product = _run(capsys, xyz, ["--cq", "3MHz", "--no-partner-couplings"])  # fast engine, ideal: no step
    assert product["sites"][0]["engines"] == ["fast"] and product["choices"]["step_us"] is None


def test_integrator_mistake_is_named():
    import respdor
    from respdor.errors import UserError

    with pytest.raises(UserError, match="^integrator='rk4': give 'piecewise'"):
        respdor.predict_structure("unused.xyz", "0", "27Al", integrator="rk4")
