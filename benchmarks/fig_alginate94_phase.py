"""Alginate 94 (XWIN-NMR 13C CP): which phase is right, the stored or the automatic one?

Writes a PNG with the spectrum (LB 100 Hz for the eye) under each phase and prints the phase of
each line group relative to the stored phase (single-group shared-phase fits, LB 50 Hz).

Run:  PYTHONPATH=. python benchmarks/fig_alginate94_phase.py [/tmp/alginate94_phase.png]
"""

import sys
from pathlib import Path

import numpy as np

from respdor.spectra import processing as P
from respdor.spectra.bruker import read_bruker

ROOT = next((p / "shared" / "realdata" for p in Path(__file__).resolve().parents if (p / "shared" / "realdata").is_dir()), None)


def group_phase(ds, lo, hi, stored, lb=50.0):
    """Phase (deg, relative to ``stored``) and S/N of the tallest line in lo..hi ppm."""
    data, _ = P.remove_dc(ds.data)
    s = P._phasing_spectrum(data, ds.dwell_s, lb, 2, P.leading_spikes(data))
    n, ppm, mag, noise = s.size, ds.ppm_axis(s.size), np.abs(s), P._point_noise(s)
    sel = np.where((ppm > lo) & (ppm < hi))[0]
    i = sel[np.argmax(mag[sel])]
    h = min(P._half_width(mag, i), 40.0)
    phi, c, height = P._fit_region(s, int(i - 3 * h), int(i + 3 * h), np.array([i]), np.array([h]), noise)
    u = (n - 1 - c) / n
    return float(np.interp(c, np.arange(n), ppm)), ((np.degrees(phi) - (stored[0] + stored[1] * u)) + 180) % 360 - 180, height / noise


def main(out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ds = read_bruker(ROOT / "bruker_13C_CP_alginate_xwinnmr_spectrochempy" / "94")
    st = P.process_fid(ds, lb_hz=20, phase="stored")
    auto = P.process_fid(ds, lb_hz=20, phase="auto")
    for lo, hi in ((160, 190), (92, 110), (55, 88)):
        c, d, snr = group_phase(ds, lo, hi, st.phase)
        print(f"line at {c:.1f} ppm (S/N {snr:.0f}): phase {d:+.0f} deg from the stored phase")
    show = P.process_fid(ds, lb_hz=100, phase=auto.phase)
    raw = P.apply_phase(P.apply_phase(show.spectrum, -show.phase[0], 0.0), 0.0, -show.phase[1])
    fig, axs = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    sel = (show.ppm > -20) & (show.ppm < 260)
    for ax, (lab, p) in zip(axs, (("automatic", auto.phase), ("stored (XWIN-NMR sense)", st.phase))):
        y = P.apply_phase(raw, *p).real
        ax.plot(show.ppm[sel], y[sel], lw=0.8)
        ax.axhline(0.0, color="k", lw=0.4)
        ax.set_title(f"alginate 94, LB 100 Hz: {lab} PHC0 {p[0]:.0f}, PHC1 {p[1]:.0f} deg")
        ax.set_ylim(-0.35 * y[sel].max(), 1.05 * y[sel].max())
    axs[0].invert_xaxis()
    axs[-1].set_xlabel("13C shift (ppm)")
    fig.tight_layout()
    fig.savefig(out, dpi=70)
    print("wrote", out)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/alginate94_phase.png")
