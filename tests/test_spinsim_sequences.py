"""Pulse-sequence builders and the first-order recoupling scaling from the waveform (numpy only)."""

import numpy as np
import pytest

from spinsim.sequences import (
    Event,
    cw_pulse,
    recoupling_scaling,
    redor_cycle,
    redor_finite_pulse_kappa,
    sr4_cycle,
    wurst_pulse,
)

MAS = 10e3


def test_ideal_redor_scaling_is_sqrt2_over_pi():
    k = recoupling_scaling(redor_cycle("13C", MAS, 0.0, "xy8"), "13C", MAS)
    assert k["kappa_abs"] == pytest.approx(np.sqrt(2) / np.pi, rel=2e-5)
    assert k["kappa_rel"] == pytest.approx(1.0, abs=2e-5)


@pytest.mark.parametrize("phi", [0.1, 0.3, 0.5, 0.8])
def test_finite_pulse_redor_scaling_matches_jaroniec(phi):
    tp = phi / (2 * MAS)
    # centred: the optimal gamma lies on the 72-point search grid (mid-end shifts it off by t_p/2)
    block = redor_cycle("13C", MAS, tp, "xy8", placement="centred")
    k = recoupling_scaling(block, "13C", MAS, component="z")
    assert k["kappa_rel"] == pytest.approx(float(redor_finite_pulse_kappa(phi)), abs=2e-5)


@pytest.mark.parametrize("supercycle", ["R4", "R4R4bar", "SR4"])
def test_sr4_scaling_is_pi_over_4_sqrt2(supercycle):
    k = recoupling_scaling(sr4_cycle("111Cd", MAS, supercycle), "111Cd", MAS)
    assert k["kappa_abs"] == pytest.approx(0.25, abs=1e-6)
    assert k["kappa_rel"] == pytest.approx(np.pi / (4 * np.sqrt(2)), abs=1e-5)


def test_mis_set_sr4_recouples_less():
    k = recoupling_scaling(sr4_cycle("111Cd", MAS, "R4", nu1_hz=1.8 * MAS), "111Cd", MAS)
    assert k["kappa_abs"] < 0.25


def test_placements_put_the_pulses_where_named():
    tr = 1 / MAS
    tp = 5e-6

    def pulse_times(block):
        t, out = 0.0, []
        for e in block.events:
            if e.ideal or e.rf:
                out.append((round(t * 1e6, 6), round((t + e.duration) * 1e6, 6)))
            t += e.duration
        return out, t

    times, total = pulse_times(redor_cycle("13C", MAS, tp, "xy4"))  # default: mid-end, pulses end there
    assert times == [(45.0, 50.0), (95.0, 100.0), (145.0, 150.0), (195.0, 200.0)]
    assert total == pytest.approx(2 * tr)
    times, _ = pulse_times(redor_cycle("13C", MAS, tp, "x", placement="centred"))
    assert times == [(22.5, 27.5), (72.5, 77.5)]
    times, _ = pulse_times(redor_cycle("13C", MAS, 0.0, "x"))
    assert times == [(50.0, 50.0), (100.0, 100.0)]
    times, _ = pulse_times(redor_cycle("13C", MAS, 0.0, [0, 0, 0, 0], placement=[0.2, 0.4, 0.6, 0.8]))
    assert times == [(20.0, 20.0), (40.0, 40.0), (60.0, 60.0), (80.0, 80.0)]
    with pytest.raises(ValueError, match="even number"):
        redor_cycle("13C", MAS, 0.0, "x", placement=[0.3])
    with pytest.raises(ValueError, match="does not fit"):
        redor_cycle("13C", MAS, tp, "x", placement=[0.02, 0.5])


def test_cycle_lengths_and_phases():
    assert redor_cycle("13C", MAS, 0.0, "xy16").duration == pytest.approx(8 / MAS)
    assert sr4_cycle("13C", MAS, "SR4").duration == pytest.approx(6 / MAS)
    b = redor_cycle("13C", MAS, 5e-6, "xy4")
    rf = [e.rf["13C"] for e in b.events if e.rf]
    assert [p for _, p in rf] == [0.0, 90.0, 0.0, 90.0]
    assert all(a == pytest.approx(1e5) for a, _ in rf)  # pi pulse: nu1 = 1/(2 tp)


def test_wurst_shape():
    w = wurst_pulse("27Al", 50e3, 200e-6, 1e6, n_wurst=20)
    amps = np.array([e.rf["27Al"][0] for e in w.events])
    assert w.duration == pytest.approx(200e-6)
    assert amps.max() == pytest.approx(50e3, rel=1e-3)
    assert amps[0] < 1e3 and amps[-1] < 1e3
    # instantaneous offset = d(phase)/dt / 360 sweeps linearly over the sweep width
    ph = np.unwrap(np.radians([e.rf["27Al"][1] for e in w.events]))
    dt = w.events[0].duration
    off = np.diff(ph) / (2 * np.pi * dt)
    assert off[0] == pytest.approx(-0.5e6, rel=0.01)
    assert off[-1] == pytest.approx(0.5e6, rel=0.01)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: redor_cycle("13C", MAS, 60e-6), "shorter than the pulse spacing"),
        (lambda: redor_cycle("13C", -1.0), "MAS rate"),
        (lambda: redor_cycle("13C", MAS, 0.0, "xy7"), "phase cycle"),
        (lambda: sr4_cycle("13C", MAS, "SR8"), "supercycle"),
        (lambda: cw_pulse("27Al", -5.0, 1e-4), "amplitude"),
        (lambda: cw_pulse("27Al", 5e3, 0.0), "length"),
        (lambda: Event(-1e-6), "duration"),
        (lambda: recoupling_scaling(cw_pulse("13C", 1e3, 0.5e-4), "13C", MAS), "whole number"),
    ],
)
def test_bad_sequence_input(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_dfs_shape_has_two_sidebands_at_the_swept_offset():
    from spinsim.sequences import dfs_pulse

    b = dfs_pulse("27Al", 20e3, 100e-6, 400e3, 400e3, step_s=0.05e-6)  # no sweep: fixed +-400 kHz
    dt = b.events[0].duration
    sig = np.array([e.rf["27Al"][0] * (1 if e.rf["27Al"][1] == 0.0 else -1) for e in b.events])
    spec = np.abs(np.fft.rfft(sig)) / len(sig)
    freqs = np.fft.rfftfreq(len(sig), dt)
    assert freqs[np.argmax(spec)] == pytest.approx(400e3, rel=0.02)
    assert spec.max() == pytest.approx(20e3, rel=0.02)  # each sideband has nu1
