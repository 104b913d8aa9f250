"""The fast engine on inputs at the edges of what it accepts: huge and tiny interactions, chunk sizes
and thread counts that do not divide the work, a partner with no rf at all.

Each case is compared with an independent computation (``spinsim.reference``: scipy ``expm`` of
the full product space, every point from scratch) or with the same run under other settings.
"""

from __future__ import annotations

import numpy as np
import pytest

from spinsim.powder import Powder
from spinsim.sequences import Block, Event, cw_pulse, redor_cycle
from spinsim.system import DipolarCoupling, Spin, SpinSystem

pytest.importorskip("spinsim._kernels")
from spinsim import _drivers_fast  # noqa: E402
from spinsim.reference import reference_signals  # noqa: E402
from spinsim.simulate import simulate_respdor  # noqa: E402

MAS = 10e3
FEW = Powder(np.array([0.3, 2.1]), np.array([0.7, 1.9]), np.array([0.4, 0.6]), 2)


def _against_reference(system, sat, ns):
    """The fast engine and the scipy reference on the same 0.5 us grid (2 gamma angles: tau_R / 2
    is a whole number of 0.5 us steps, so both engines slice the block alike)."""
    t = np.asarray(ns) * 2 / MAS
    fast = simulate_respdor(system, MAS, t, sat, powder=FEW, method="fast")
    e, w = FEW.euler_full()
    cycle = redor_cycle(system.spins[0].isotope.symbol, MAS, 0.0, "x")
    ref1 = w @ reference_signals(system, MAS, cycle, sat, np.asarray(ns), e)
    ref0 = w @ reference_signals(system, MAS, cycle, Block([Event(sat.duration)]), np.asarray(ns), e)
    return fast, ref0, ref1


@pytest.mark.parametrize("label, cq, nu1, d", [
    ("CQ 30 MHz, strong rf", 30e6, 150e3, 503.0),  # diagonal spread ~ 2 pi x 10 MHz in a step
    ("CQ 0, weak rf", 0.0, 2e3, 503.0),            # degenerate diagonal: the rf alone splits it
    ("large coupling", 3e6, 30e3, 8000.0),         # S-I term comparable to the rf
])
def test_extreme_but_valid_interactions_equal_the_scipy_reference(label, cq, nu1, d):
    system = SpinSystem([Spin("13C"), Spin("27Al", cq_hz=cq, eta_q=0.4, q_euler=(0.1, 0.6, 0.2))], 9.4,
                        [DipolarCoupling(0, 1, d, (0.0, 0.4, 0.0))])
    sat = cw_pulse("27Al", nu1, 200e-6, 30.0)
    fast, ref0, ref1 = _against_reference(system, sat, [0, 1, 3])
    assert np.allclose(fast.S1_complex, ref1, atol=1e-9), label
    assert np.allclose(fast.S0_complex, ref0, atol=1e-9), label
    assert np.ptp(fast.S1) > 1e-3, label  # something happened: the comparison is not vacuous


def test_a_large_carrier_offset_equals_the_general_engine():
    system = SpinSystem([Spin("13C"), Spin("27Al", cq_hz=3e6, eta_q=0.4)], 9.4, [DipolarCoupling(0, 1, 2000.0)])
    kw = dict(recoupling_times=np.array([0, 1, 3]) * 2 / MAS, saturation=cw_pulse("27Al", 30e3, 200e-6, 30.0),
              powder=FEW, offsets={"27Al": 150e3, "13C": 2e3})
    fast = simulate_respdor(system, MAS, method="fast", **kw)
    gen = simulate_respdor(system, MAS, method="general", **kw)
    assert np.allclose(fast.S1_complex, gen.S1_complex, atol=1e-9)
    assert np.allclose(fast.S0_complex, gen.S0_complex, atol=1e-9)
    assert np.max(np.abs(fast.S1_complex - fast.S0_complex)) > 0.1  # the rf did something


def test_a_partner_without_rf_equals_the_reference():
    """A second partner of another isotope gets no rf from the block (a zero rf matrix)."""
    system = SpinSystem([Spin("13C"), Spin("27Al", cq_hz=2e6), Spin("2H", cq_hz=160e3)], 9.4,
                        [DipolarCoupling(0, 1, 503.0), DipolarCoupling(0, 2, 900.0, (0.3, 1.0, 0.0))])
    fast, ref0, ref1 = _against_reference(system, cw_pulse("27Al", 30e3, 200e-6), [0, 2, 5])
    assert np.allclose(fast.S1_complex, ref1, atol=1e-9)
    assert np.allclose(fast.S0_complex, ref0, atol=1e-9)


@pytest.mark.parametrize("chunk, threads", [(1, 1), (1, 4), (3, 2), (1000, 2), (2, 7)])
def test_chunks_and_threads_that_do_not_divide_the_work_give_the_same_curve(monkeypatch, chunk, threads):
    from spinsim.powder import zcw

    system = SpinSystem([Spin("13C"), Spin("27Al", cq_hz=3e6, eta_q=0.3)], 9.4, [DipolarCoupling(0, 1, 503.0)])
    kw = dict(recoupling_times=np.arange(4) * 2 / MAS, saturation=cw_pulse("27Al", 30e3, 200e-6),
              powder=zcw(13, 4), method="fast")
    base = simulate_respdor(system, MAS, chunk=32, **kw)
    monkeypatch.setattr(_drivers_fast, "engine_threads", lambda: threads)
    other = simulate_respdor(system, MAS, chunk=chunk, **kw)
    assert np.allclose(other.S1_complex, base.S1_complex, atol=1e-14, rtol=0)
    assert np.allclose(other.S0_complex, base.S0_complex, atol=1e-14, rtol=0)
    assert other.partials.s1.shape == base.partials.s1.shape
    assert np.allclose(other.partials.s1, base.partials.s1, atol=1e-14, rtol=0)
