"""Is the nested convergence check honest? Its estimates against the true error, side by side with
the comparison with whole coarser levels.

For each case and level the true error of dS/S0 (largest over the curve, against a much finer
level) is printed next to:

* gamma: the nested estimate (the run's own every other gamma angle, at half of each recoupling
  time; :func:`spinsim.convergence.nested_pair`) and the whole comparison with 3/4 of the angles;
  truth: 128 gamma angles on the same orientations;
* (alpha, beta): the nested estimate (the ZCW set two sizes smaller, at half of each time) and the
  whole comparison with the previous ZCW size; truth: ZCW 6765 at the same gamma angles.

Cases (13C{27Al}, 9.4 T, MAS 10 kHz, CQ 3 MHz, eta 0.3, 3 ms): A one 27Al at D = 503 Hz, ideal
saturation; B a 13C with two 27Al (503 and 300 Hz, 110 deg apart), ideal saturation; C as A with
CW 30 kHz x 2 tau_R saturation. An honest estimate is not below the true error where that matters
(above the 2e-3 tolerance).

Usage: ``python benchmarks/bench_convergence_honesty.py [--quick]`` (``--quick``: gamma of A only).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spinsim import DipolarCoupling, Spin, SpinSystem, cw_pulse, make_powder, simulate_respdor  # noqa: E402
from spinsim.convergence import half_time_index  # noqa: E402
from spinsim.powder import _F  # noqa: E402

T = 2e-4 * np.arange(16)
HALF = half_time_index(T)
AL = dict(cq_hz=3e6, eta_q=0.3)


def one_al():
    return SpinSystem([Spin("13C"), Spin("27Al", **AL)], 9.4, [DipolarCoupling(0, 1, 503.0)])


def two_al():
    return SpinSystem([Spin("13C"), Spin("27Al", **AL), Spin("27Al", **AL)], 9.4,
                      [DipolarCoupling(0, 1, 503.0), DipolarCoupling(0, 2, 300.0, (0.0, np.radians(110.0), 0.0))])


CASES = {"A": (one_al, None), "B": (two_al, None), "C": (one_al, cw_pulse("27Al", 30e3, 2e-4))}


def curve(case, n, n_gamma):
    system, sat = CASES[case]
    return simulate_respdor(system(), 1e4, T, saturation=sat, powder=make_powder("zcw", n, n_gamma))


def worst(a, b, at_half=False):
    d = np.abs(a - b)
    return float(np.max(d[HALF] if at_half else d))


def gamma(case, n_ab=233):
    ref = curve(case, n_ab, 128).dSS0
    for ng in (8, 12, 16, 24, 32, 48, 64):
        r = curve(case, n_ab, ng)
        whole = worst(r.dSS0, curve(case, n_ab, min(ng - 1, int(round(0.75 * ng)))).dSS0)
        nested = worst(r.dSS0, r.partials.dss0(gamma_stride=2), True)
        print(f"{case} gamma, ZCW {n_ab} x {ng:2d}: true {worst(r.dSS0, ref):.1e}  nested {nested:.1e}  "
              f"whole (vs {int(round(0.75 * ng))}) {whole:.1e}", flush=True)


def alpha_beta(case, n_gamma):
    ref = curve(case, 6765, n_gamma).dSS0
    for n in (144, 233, 377, 610, 987, 1597):
        k = _F.index(n)
        r = curve(case, n, n_gamma).dSS0
        whole = worst(r, curve(case, _F[k - 1], n_gamma).dSS0)
        nested = worst(r, curve(case, _F[k - 2], n_gamma).dSS0, True)
        print(f"{case} (alpha, beta), ZCW {n:4d} x {n_gamma}: true {worst(r, ref):.1e}  nested (vs {_F[k - 2]} at t/2) "
              f"{nested:.1e}  whole (vs {_F[k - 1]}) {whole:.1e}", flush=True)


def main(argv):
    gamma("A")
    if "--quick" in argv:
        return
    gamma("B")
    gamma("C", 144)
    alpha_beta("A", 32)
    alpha_beta("B", 16)
    alpha_beta("C", 16)


if __name__ == "__main__":
    main(sys.argv[1:])
