"""Speed of the two-partner product model: the plain sum against the folded, step-turned one.

Both in one run, on the powder a fit of two 27Al at 2.9 A with 41 points to 8 ms works with
(ZCW 2584 x 48): "plain" is one cosine per crystallite, partner and time point over every rotor
phase (respdor._partners_kernel.product_dephasing on the unfolded geometry); "now" is what
respdor.multipartner.partners_dephasing does (rotor phases gamma and gamma + pi folded, phases
of rotor-synchronised times turned step by step). Then the CPU time of one whole
respdor.compare_models on such a curve (sigma 0.02).

    python benchmarks/bench_partner_kernel.py [--repeats 10]
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy as np


def _cpu(fn, repeats):
    fn()  # compiled before timing
    best = math.inf
    for _ in range(repeats):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def main():
    from respdor import CurveModel, DephasingCurve, compare_models
    from respdor._partners_kernel import product_dephasing
    from respdor.models import transfer_matrix, transfer_weights
    from respdor.multipartner import _BODY_TURN, _rotations, _signal_polynomial, pair_geometry, partners_dephasing
    from respdor.multipartner import powder_for

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    w_al = transfer_weights(transfer_matrix(2.5, "saturation"))
    d = CurveModel("13C", "27Al").dr3 / 2.9 ** 3
    t = np.linspace(8e-3 / 41, 8e-3, 41)
    powder = powder_for(5 * 1.5 * d * t.max())
    half = math.radians(55.0)
    v = np.array([[-math.sin(half), 0.0, math.cos(half)], [math.sin(half), 0.0, math.cos(half)]])
    v = v @ _rotations(*(np.array([x]) for x in _BODY_TURN))[0].T
    euler, w_full = powder.euler_full()
    u = np.einsum("cij,kj->cki", _rotations(euler[:, 0], euler[:, 1], euler[:, 2]), v)
    g_full = np.ascontiguousarray(4.0 * math.sqrt(2.0) * u[..., 2] * u[..., 1])
    poly = _signal_polynomial(w_al, 1.0)
    g, w = pair_geometry(110.0, powder)
    plain = _cpu(lambda: product_dephasing(g_full, w_full, np.outer([d, d], t), poly), args.repeats)
    now = _cpu(lambda: partners_dephasing(t, [d, d], g, w, w_al), args.repeats)
    diff = np.max(np.abs(product_dephasing(g_full, w_full, np.outer([d, d], t), poly)
                         - partners_dephasing(t, [d, d], g, w, w_al)))
    print(f"powder {powder.name} x {powder.n_gamma}, 41 points to 8 ms, two 27Al at 2.9 A (best of {args.repeats}, "
          "CPU s per curve)")
    print(f"  plain sum (every rotor phase, a cosine per time) {plain:.4f}")
    print(f"  folded + step-turned phases                      {now:.4f}   ({plain / now:.1f}x; max diff {diff:.1e})")
    exact = 0.30 * partners_dephasing(t, [d, d], *pair_geometry(110.0, powder_for(5 * d * t.max(), 2.0)), w_al)
    rng = np.random.default_rng(7)
    curve = DephasingCurve(t, exact + rng.normal(0, 0.02, t.size), sigma=np.full(t.size, 0.02))
    start = time.process_time()
    compare_models(curve, "13C", "27Al", progress=False)
    print(f"one compare_models (one vs two partners, no intervals): {time.process_time() - start:.1f} CPU s")


if __name__ == "__main__":
    main()
