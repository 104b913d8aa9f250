"""Monte Carlo check of the experiment planner: predicted (Fisher) vs observed spread of fitted r and f.

For each case the planner designs the experiment; N noisy data sets are then drawn from the
planner's noise model (S0 and S1 with white Gaussian noise, S0 decaying with T2') and fitted with
``respdor.fitting.fit_curve`` (ratio method, the model the planner used). The observed standard
deviations of the fitted r and f are compared with the predicted ones. The standard deviation
estimated from N samples itself scatters by about 1/sqrt(2(N-1)) (3.5 % for N = 400).

Run:  python benchmarks/bench_planner_montecarlo.py [N]      (default N = 400; ~1-2 min on 2 cores)

The two COUNTER cases are deliberate counter-examples, expected to disagree: they switch off
the planner's safeguards (the first-maximum limit on recoupling times, and the linearity guard
sigma(D)/D <= 0.15) and show what goes wrong without them.
"""

from __future__ import annotations

import math
import sys
import time

from respdor.fitting import CurveModel
from respdor.planner import Sensitivity, even_design, monte_carlo, optimise_design, predict


def cases():
    c_al = CurveModel("13C", "27Al")
    d_seed = c_al.dr3 / 2.5**3
    seed = Sensitivity(snr=40.0, scans=64, recycle_s=5.0, t2prime_s=8e-3)
    target_r = {"distance_angstrom": 0.1}
    yield ("seed 13C{27Al}, optimised", c_al, seed, d_seed, 0.24,
           optimise_design(seed, c_al, d_seed, 0.24, target_r, rotor_period_s=1e-4).design)
    yield ("seed 13C{27Al}, 16 even to 3 ms", c_al, seed, d_seed, 0.24,
           even_design(seed, c_al, d_seed, 0.24, target_r, n_points=16, max_time_s=3e-3, rotor_period_s=1e-4))
    # Tell f = 0.25 from 0.15 at 3 sigma: sigma(f) = 0.033; DNP reference without microwaves.
    dnp = Sensitivity(snr=4.0, scans=64, recycle_s=10.0, buildup_s=4.0, enhancement=12.0, t2prime_s=10e-3)
    d28 = c_al.dr3 / 2.8**3
    yield ("13C{27Al} r 2.8 A, sigma(f) 0.033, T_B 4 s", c_al, dnp, d28, 0.2,
           optimise_design(dnp, c_al, d28, 0.2, {"fraction": 0.033}, rotor_period_s=1 / 12.5e3).design)
    # 113Cd{27Al} with SR4 recoupling (kappa 0.5554), MAS 10 kHz, step of 2 rotor periods.
    cd = CurveModel("113Cd", "27Al", sequence="sr4")
    d_cd = cd.dr3 / 3.0**3
    cds = Sensitivity(snr=25.0, scans=256, recycle_s=3.0, buildup_s=6.0, t2prime_s=20e-3)
    yield ("113Cd{27Al} SR4 r 3.0 A, sigma(r) 0.1", cd, cds, d_cd, 0.5,
           optimise_design(cds, cd, d_cd, 0.5, target_r, rotor_period_s=1e-4, step_periods=2).design)
    # COUNTER-EXAMPLES (expected to disagree): why the planner has its safeguards.
    # (a) no first-maximum limit (times up to 16 ms allowed): the long optimal time sits at the
    #     curve's maximum, where a smaller and a larger D fit equally well.
    yield ("COUNTER: no first-maximum limit (to 16 ms)", c_al, seed, d_seed, 0.24,
           optimise_design(seed, c_al, d_seed, 0.24, target_r, max_time_s=16e-3, rotor_period_s=1e-4,
                           first_maximum_limit=False).design)
    # (b) fraction target without the linearity guard: sigma(D)/D = 0.4, far from linear.
    yield ("COUNTER: sigma(f) 0.033, no linearity guard", c_al, dnp, d28, 0.2,
           optimise_design(dnp, c_al, d28, 0.2, {"fraction": 0.033}, rotor_period_s=1 / 12.5e3,
                           linearity_limit=None).design)


def main(n_experiments=400):
    print(f"Monte Carlo check of respdor.planner: {n_experiments} simulated experiments per case\n")
    header = (f"{'case':46s} {'hours':>6} {'pts':>4} {'sig_r pred':>10} {'sig_r obs':>10} {'ratio':>6} "
              f"{'sig_f pred':>10} {'sig_f obs':>10} {'ratio':>6} {'ok':>4}")
    print(header)
    print("-" * len(header))
    for name, model, sens, d, f, design in cases():
        t0 = time.perf_counter()
        mc = monte_carlo(design, sens, model, d, f, n_experiments=n_experiments, seed=2024)
        hours = predict(design, sens, model, d, f).total_time_s / 3600
        pr, ob = mc["predicted"], mc["observed"]
        print(f"{name:46s} {hours:6.2f} {design.time_s.size:4d} {pr['distance_angstrom']:10.4f} "
              f"{ob['distance_angstrom']:10.4f} {ob['distance_angstrom'] / pr['distance_angstrom']:6.3f} "
              f"{pr['fraction']:10.4f} {ob['fraction']:10.4f} {ob['fraction'] / pr['fraction']:6.3f} "
              f"{mc['n_ok']:4d}   ({time.perf_counter() - t0:.0f} s)", flush=True)
        print(f"{'':46s} times/ms {', '.join(f'{t * 1e3:.2f}' for t in design.time_s)}; "
              f"scans {', '.join(str(n) for n in design.scans)}")
    print(f"\nsampling scatter of an observed sd: +/- {100 / math.sqrt(2 * (n_experiments - 1)):.1f} % (1 sigma)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 400)
