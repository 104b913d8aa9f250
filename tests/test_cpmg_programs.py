"""CPMG echo period read from the data set's own pulse program (tests/data/cpmg_programs, SYNTHETIC)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from respdor.errors import DataFileError
from respdor.spectra.bruker import read_bruker
from respdor.spectra.processing import spectrum_1d
from respdor.spectra.cpmg import echo_loop_from_pulseprogram, echo_parameters, sum_echoes

REPO = Path(__file__).resolve().parents[1]
PROGS = REPO / "tests" / "data" / "cpmg_programs"


@pytest.mark.parametrize("name", ["fid_train", "relation_decoupled"])
def test_echo_period_from_the_pulse_program(name):
    ds = read_bruker(PROGS / name)
    tau, npe, ne, notes = echo_parameters(ds)
    # fid_train: P2 (relation "p2=5u") + 2 D3 + 2 D6 = 5 + 40 + 1235 us; relation_decoupled: p2 = 2 P1 = 5 us
    # with the shorter simultaneous f2 pulse (P4 = 3 us) counted once.
    assert tau == pytest.approx(1.28e-3, abs=1e-9) and npe == 64 and ne == 10
    assert "l22 + 1" in notes[0]


def test_echoes_at_the_read_period_add_coherently():
    # The 32-point half echoes leave too few noise points for an S/N ratio here (benchmarks/bench_cpmg.py
    # measures the S/N gain on the bundled 128-point train); what the period must get right is that the
    # echo tops line up: the summed line is sum(a_m) = 6.0 x the first echo's (T2 10 ms, tau 1.28 ms),
    # while a period off by one dwell smears them.
    ds = read_bruker(PROGS / "fid_train")
    tau, npe, ne, _ = echo_parameters(ds)
    amp = np.exp(-np.arange(ne) * tau / 10e-3).sum()

    def height(fid):
        return np.abs(spectrum_1d(fid, ds.dwell_s, lb_hz=2000.0, zero_fill=4)[1]).max()

    first = height(sum_echoes(ds.data, npe, 1))
    assert height(sum_echoes(ds.data, npe, ne)) / first == pytest.approx(amp, rel=0.03)
    assert height(sum_echoes(ds.data, npe + 1, ne - 1)) / first < 0.8 * amp


@pytest.mark.parametrize("name,why", [("t2_filter", "runs before the acquisition starts"),
                                      ("unknown_name", "cannot time 'DELTA9'")])
def test_unrecognised_program_is_refused_asking_for_echo_period(name, why):
    ds = read_bruker(PROGS / name)
    with pytest.raises(DataFileError, match="give echo_period_s") as e:  # the CLI: --echo-period
        echo_parameters(ds)
    assert why in str(e.value)
    tau, npe, ne, notes = echo_parameters(ds, echo_period_s=1.28e-3)  # the way out works
    assert npe == 64 and ne == 10 and "as given" in notes[0]


def test_qcpmg_style_loop_with_full_echo_window():
    # acquisition started before the loop; the loop "d3 (p2):f1 d3 d6" with d6 the full echo window
    text = """1 ze\n2 d1\n  (p1 ph1):f1\n  d3\n  (p2 ph2):f1\n  d3\n  1u adc ph31 syrec\n  d6\n3 d3\n  (p2 ph2):f1
  d3\n  d6\n  lo to 3 times l22\n  1u eoscnp\nexit\n"""
    acqus = {"P": [0, 2.5, 5.0], "D": [0, 1, 0, 30e-6, 0, 0, 1e-3], "L": [0] * 22 + [31]}
    tau, n, formula = echo_loop_from_pulseprogram(text, acqus)
    assert tau == pytest.approx(5e-6 + 60e-6 + 1e-3) and n == 32 and formula.startswith("d3 (p2 ph2):f1 d3 d6")


def test_missing_pulseprogram_is_one_line(tmp_path):
    import shutil

    d = tmp_path / "x"
    shutil.copytree(PROGS / "fid_train", d)
    (d / "pulseprogram").unlink()
    with pytest.raises(DataFileError, match="not found.*give echo_period_s"):
        echo_parameters(read_bruker(d))


def test_full_echo_windows_are_found_from_the_data():
    # QCPMG programs acquire a full echo around each top: the tops sit half a period after each
    # period start. Shift the fid_train by half a period (the first half echo before the FID top is
    # empty) and the sum from the detected tops equals the original sum.
    from respdor.spectra.cpmg import echo_top_offset

    ds = read_bruker(PROGS / "fid_train")
    tau, npe, ne, _ = echo_parameters(ds)
    shifted = np.concatenate([np.zeros(npe // 2, complex), ds.data[: -(npe // 2)]])
    off = echo_top_offset(shifted, npe, ne)
    assert off == npe // 2 and echo_top_offset(ds.data, npe, ne) == 0
    a = sum_echoes(ds.data, npe, ne - 1)
    b = sum_echoes(shifted, npe, ne - 1, offset=off)
    assert np.allclose(a, b)


def test_shaped_pulse_timed_and_nested_loop_or_control_refused():
    head = "1 ze\n2 d1\n  (p1 ph1):f1\n  1u adc ph31 syrec\n"
    acqus = {"P": [0, 2.5, 5.0] + [0] * 8 + [50.0], "D": [0, 1, 0, 30e-6, 0, 0, 1e-3], "L": [0] * 22 + [15] + [0, 2]}
    tau, n, _ = echo_loop_from_pulseprogram(head + "3 d3\n  (p11:sp1 ph2):f1\n  d3\n  d6\n  lo to 3 times l22\n", acqus)
    assert tau == pytest.approx(50e-6 + 60e-6 + 1e-3) and n == 16
    nested = head + "3 d3\n4 (p2 ph2):f1\n  d3\n  lo to 4 times l24\n  d6\n  lo to 3 times l22\n"
    with pytest.raises(ValueError, match="2 pulse loops inside the acquisition"):
        echo_loop_from_pulseprogram(nested, acqus)
    control = head + "3 d3\n  (p2 ph2):f1\n  if \"l22 > 4\" goto 3\n  d6\n  lo to 3 times l22\n"
    with pytest.raises(ValueError, match="cannot time 'if'"):
        echo_loop_from_pulseprogram(control, acqus)


def test_integrate_cli_refuses_an_unknown_program_in_one_line(tmp_path):
    # a pseudo-2D CPMG series whose program loops before the acquisition: one line, exit 2
    from respdor.spectra.bruker import write_bruker

    src = read_bruker(PROGS / "t2_filter")
    rows = np.array([src.data] * 4)
    d = write_bruker(tmp_path / "series", rows, sw_hz=src.sw_hz, bf1_mhz=src.bf1_mhz, sfo1_mhz=src.sfo1_mhz,
                     nucleus="113Cd", pulprog="t2_filter", vclist=[2, 4],
                     extra_acqus={k: src.acqus[k] for k in ("P", "D", "L")},
                     pulseprogram=(PROGS / "t2_filter" / "pulseprogram").read_text())
    args = [sys.executable, "-m", "respdor", "integrate", str(d), "--region", "-90", "60", "--noise-region", "120",
            "280", "--mas", "10k", "--periods-per-count", "2", "--cpmg", "sum", "-o", str(tmp_path / "c.csv")]
    r = subprocess.run(args, capture_output=True, text=True, env={"PYTHONPATH": str(REPO), "PATH": ""})
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "T2 filter" in r.stderr and "give --echo-period" in r.stderr
    r = subprocess.run(args + ["--echo-period", "1.28ms"], capture_output=True, text=True,
                       env={"PYTHONPATH": str(REPO), "PATH": ""})
    assert r.returncode == 0, r.stderr
