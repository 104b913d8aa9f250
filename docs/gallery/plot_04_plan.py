"""
Seed study, step 4: plan the next experiment
============================================

Step 1 gave r = 2.5 angstrom with a 95 % interval about 0.7 angstrom wide, from points up to
3 ms. How much DNP time would an error of 0.1 angstrom cost, and at which recoupling times?
The planner answers from the S/N of a reference spectrum (here S/N 40 in 64 scans with a 5 s
recycle delay, T2' = 8 ms, 10 kHz MAS), with the Fisher information of the same model
``respdor fit`` uses, and checks the prediction by simulating and fitting experiments.
(The command line does the same: ``respdor plan --observe 13C --partner 27Al --distance 2.5
--fraction 0.24 --snr 40 --scans 64 --recycle 5 --t2prime 8ms --target-distance-error 0.1
--mas 10k``.)
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from respdor import CurveModel
from respdor.planner import Sensitivity, even_design, monte_carlo, optimise_design, predict

model = CurveModel("13C", "27Al")
sens = Sensitivity(snr=40, scans=64, recycle_s=5.0, t2prime_s=8e-3)
d_hz = model.dr3 / 2.5**3  # D for r = 2.5 angstrom
target = {"distance_angstrom": 0.1}

# %%
# The usual design (16 evenly spaced points to 3 ms) against the optimised one, each with the
# fewest scans that meet the target.
usual = even_design(sens, model, d_hz, 0.24, target, rotor_period_s=1e-4)
plan = optimise_design(sens, model, d_hz, 0.24, target, rotor_period_s=1e-4)
for name, design in (("16 even points to 3 ms", usual), ("optimised", plan.design)):
    pred = predict(design, sens, model, d_hz, 0.24)
    print(f"{name:24s} {pred.total_time_s / 3600:6.1f} h   sigma(r) = {pred.sigma['distance_angstrom']:.3f} A")
print("optimised times (ms):", np.round(plan.design.time_s * 1e3, 2), " scans:", plan.design.scans)

# %%
# Check the Cramer-Rao prediction by simulating and fitting 100 experiments of the optimised
# design (a few seconds).
mc = monte_carlo(plan.design, sens, model, d_hz, 0.24, n_experiments=100, seed=1)
print(f"sigma(r): predicted {mc['predicted']['distance_angstrom']:.3f} A, "
      f"observed in 100 simulated fits {mc['observed']['distance_angstrom']:.3f} A")

# %%
# Where the optimised points sit on the expected curve.
pred = predict(plan.design, sens, model, d_hz, 0.24)
tt = np.linspace(0, 1.1 * plan.design.time_s.max(), 200)
fig, ax = plt.subplots(figsize=(5.2, 3.6))
ax.plot(tt * 1e3, model.normalised(tt, d_hz) * 0.24, "k-", lw=1, label="expected, r = 2.5 A, f = 0.24")
ax.errorbar(plan.design.time_s * 1e3, pred.dss0, yerr=pred.sigma_dss0, fmt="o", capsize=3,
            label="optimised design, predicted noise")
ax.set_xlabel("recoupling time (ms)")
ax.set_ylabel(r"$\Delta S/S_0$")
ax.legend(frameon=False, fontsize=8)
fig.tight_layout()
