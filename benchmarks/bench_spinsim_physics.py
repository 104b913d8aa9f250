"""RESPDOR with a real quadrupolar partner: how CQ and the saturation rf change the curve.

Run:  python benchmarks/bench_spinsim_physics.py [--quick]

Prints the plateau and the initial-rise factor of simulated 13C{27Al} RESPDOR curves
(D = 503 Hz, MAS 10 kHz, 9.4 T) for CQ = 0 (ideal complete saturation, checked against the
Chen et al. 2010 closed form), and CQ = 1, 3, 6 MHz with CW saturation of 30 or 60 kHz for two
rotor periods and a WURST sweep; writes docs/figures/spinsim_cq_rf.png and
docs/figures/spinsim_c13al27_seed.png (the curve a 13C{27Al} user compares to, f = 0.24).

Definitions: plateau = mean dS/S0 for lambda = D t in [3, 4] (t = 6-8 ms);
initial-rise factor = eps_0 of the least-squares fit dS/S0 = a + eps_0 F_full(lambda) over
lambda <= 0.3 (t <= 0.6 ms; a absorbs the small dS/S0 at t = 0 that the S-I coupling produces
during the saturation block), an effective saturation efficiency at short times. For uniform
saturation it is the efficiency; transfers with larger |m - m'| than uniform (adiabatic inversion
of satellite transitions) make it exceed 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.special import jv

from spinsim.powder import zcw
from spinsim.sequences import cw_pulse, wurst_pulse
from spinsim.system import DipolarCoupling, Spin, SpinSystem

MAS = 10e3
D = 503.0
FIG = Path(__file__).resolve().parents[1] / "docs" / "figures"


def chen_full(lam, spin=2.5):
    lam = np.maximum(lam, 1e-12)
    tot = 0.0
    for k in range(1, int(2 * spin) + 1):
        x = k * np.sqrt(2) * lam
        tot = tot + (4 * spin + 2 - 2 * k) * jv(0.25, x) * jv(-0.25, x)
    return (2 * spin - np.sqrt(2) * np.pi / (4 * (2 * spin + 1)) * tot) / (2 * spin + 1)


def pair(cq):
    return SpinSystem([Spin("13C"), Spin("27Al", cq_hz=cq, eta_q=0.3, q_euler=(0.0, np.radians(30), 0.0))], 9.4,
                      [DipolarCoupling(0, 1, D)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    from spinsim.simulate import IdealSaturation, simulate_respdor

    pw = zcw(987 if args.quick else 2584, 32)
    t = 2e-4 * np.arange(41)  # to 8 ms: lambda up to 4
    lam = D * t
    ideal = simulate_respdor(pair(0.0), MAS, t, IdealSaturation("full"), powder=zcw(2584, 64))
    print(f"CQ = 0, ideal saturation vs Chen 2010: max |diff| = {np.max(np.abs(ideal.dSS0 - chen_full(lam))):.1e}")
    early = lam <= 0.3 + 1e-9
    late = (lam >= 3 - 1e-9) & (lam <= 4 + 1e-9)
    ref_early = chen_full(lam[early])
    cases = {}
    print(f"{'saturation':<28}{'CQ (MHz)':>9}{'alpha':>7}{'plateau':>9}{'init. factor':>14}{'dS/S0(t=0)':>12}")
    print(f"{'ideal complete (Chen 2010)':<28}{'-':>9}{'-':>7}{ideal.dSS0[late].mean():9.3f}{1.0:14.3f}{0.0:12.3f}")
    sats = {
        "CW 30 kHz x 200 us": cw_pulse("27Al", 30e3, 200e-6),
        "CW 60 kHz x 200 us": cw_pulse("27Al", 60e3, 200e-6),
        "WURST 60 kHz, 2 MHz, 200 us": wurst_pulse("27Al", 60e3, 200e-6, 2e6, n_wurst=20, step_s=0.5e-6),
    }
    for name, sat in sats.items():
        for cq in (1e6, 3e6, 6e6):
            if name.startswith("WURST") and args.quick and cq != 3e6:
                continue
            nu_q = 3 * cq / 20
            nu1 = 30e3 if "30" in name.split()[1] else 60e3
            alpha = nu1**2 / (nu_q * MAS)
            r = simulate_respdor(pair(cq), MAS, t, sat, powder=pw if not name.startswith("WURST") else zcw(610, 16))
            cases[(name, cq)] = r
            design = np.column_stack([np.ones(early.sum()), ref_early])
            init = np.linalg.lstsq(design, r.dSS0[early], rcond=None)[0][1]
            print(f"{name:<28}{cq / 1e6:9.0f}{alpha:7.2f}{r.dSS0[late].mean():9.3f}{init:14.3f}{r.dSS0[0]:12.3f}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    FIG.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, name in zip(axes, ("CW 30 kHz x 200 us", "CW 60 kHz x 200 us")):
        ax.plot(1e3 * t, chen_full(lam), "k-", lw=1.5, label="complete saturation (Chen 2010)")
        ax.plot(1e3 * t, ideal.dSS0, "k.", ms=3, label="spinsim, ideal saturation")
        for cq, c in zip((1e6, 3e6, 6e6), ("C0", "C1", "C3")):
            ax.plot(1e3 * t, cases[(name, cq)].dSS0, "-", color=c, label=f"spinsim, CQ = {cq / 1e6:.0f} MHz")
        ax.set_title(f"13C{{27Al}}, D = 503 Hz, MAS 10 kHz, {name}", fontsize=9)
        ax.set_xlabel("recoupling time (ms)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("dS/S0")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(FIG / "spinsim_cq_rf.png", dpi=120)
    plt.close(fig)

    # the curve a 13C{27Al} user compares to: f = 0.24 of the simulated shape, t <= 3 ms
    fig, ax = plt.subplots(figsize=(5.5, 4))
    m = t <= 3.0001e-3
    r3 = cases[("CW 30 kHz x 200 us", 3e6)]
    ax.plot(1e3 * t[m], 0.24 * chen_full(lam[m]), "k-", label="analytical, f = 0.24 (complete saturation)")
    ax.plot(1e3 * t[m], 0.24 * r3.dSS0[m], "o-", ms=3, color="C1",
            label="spinsim x 0.24: CQ 3 MHz, CW 30 kHz x 200 us")
    ax.plot(1e3 * t[m], 0.24 * cases[("CW 30 kHz x 200 us", 6e6)].dSS0[m], "s-", ms=3, color="C3",
            label="spinsim x 0.24: CQ 6 MHz, CW 30 kHz x 200 us")
    ax.set_xlabel("recoupling time (ms)")
    ax.set_ylabel("dS/S0")
    ax.set_title("13C{27Al} RESPDOR, D = 503 Hz (r = 2.50 A)", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(FIG / "spinsim_c13al27_seed.png", dpi=120)
    plt.close(fig)
    print(f"wrote {FIG / 'spinsim_cq_rf.png'} and {FIG / 'spinsim_c13al27_seed.png'}")


if __name__ == "__main__":
    main()
