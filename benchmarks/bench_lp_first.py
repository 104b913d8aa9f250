"""Backward linear prediction of leading FID points (``--lp-first``): accuracy on synthetic
damped exponentials and the effect on the real 113Cd set's baseline (../shared/realdata).

Run:  PYTHONPATH=. nice -n 10 python benchmarks/bench_lp_first.py
(prints Markdown tables; a few seconds)
"""

import sys
from pathlib import Path

import numpy as np

from respdor.spectra.bruker import read_bruker
from respdor.spectra.processing import backward_lp, leading_spikes, process_fid, remove_dc, robust_noise, transient_length

ROOT = next((p / "shared" / "realdata" for p in Path(__file__).resolve().parents if (p / "shared" / "realdata").is_dir()), None)
LINES = ((1.0, 0.013, 0.004, 0.0), (0.6, -0.21, 0.008, 0.4), (0.3, 0.33, 0.02, 0.8))  # amp, cycles/pt, decay/pt, rad


def synthetic():
    t = np.arange(1024)
    true = sum(a * np.exp((2j * np.pi * f - d) * t + 1j * ph) for a, f, d, ph in LINES)
    print("| S/N | seed | rank | max rel. error of points 0-2 | max error / noise s.d. |")
    print("|---|---|---|---|---|")
    for snr in (None, 1e6, 1e3, 100, 30):
        for seed in range(3 if snr else 1):
            sd = 0.0 if snr is None else abs(true[0]) / snr
            rng = np.random.default_rng(seed)
            x = true + sd / np.sqrt(2) * (rng.standard_normal(t.size) + 1j * rng.standard_normal(t.size))
            x[:3] += np.array([40.0, -20j, 5.0])
            info = {}
            err = np.abs(backward_lp(x, 3, details=info)[:3] - true[:3])
            print(f"| {'inf' if snr is None else f'{snr:g}'} | {seed} | {info['rank']} | {np.max(err / np.abs(true[:3])):.2g} | "
                  f"{'-' if not sd else f'{np.max(err) / sd:.2f}'} |")


def cd_baseline(ds, lp_first):
    pr = process_fid(ds, lb_hz=20, phase="stored", lp_first=lp_first)
    x, y, n = pr.ppm, pr.real, pr.ppm.size
    off = np.zeros(n, bool)
    off[int(0.05 * n):int(0.95 * n)] = True
    off &= np.all([np.abs(x - c) > 20 for c in (-75.0, -42.8, -10.0, 30.0)], axis=0)
    return np.sqrt(np.mean(y[off] ** 2)) / robust_noise(y[off][::2])


def real():
    path = ROOT / "bruker_113Cd_solution_CdSn_eichele_spectrochempy" / "100"
    ds = read_bruker(path)
    d, _ = remove_dc(ds.data)
    print(f"\n113Cd: leading_spikes {leading_spikes(d)}, transient_length {transient_length(d)}")
    print("| points replaced | rank | magnitude / prediction | baseline rms / white noise |")
    print("|---|---|---|---|")
    print(f"| 0 | - | - | {cd_baseline(ds, 0):.2f} |")
    for n in (1, 2, 3, 4, 5, 6, 8):
        info = {}
        y = backward_lp(d, n, details=info)
        print(f"| {n} | {info['rank']} | {', '.join(f'{v:.2f}' for v in np.abs(info['replaced']) / np.abs(y[:n]))} | "
              f"{cd_baseline(ds, n):.2f} |")
    print(f"| automatic | | | {cd_baseline(ds, None):.2f} |")


if __name__ == "__main__":
    synthetic()
    if ROOT is None:
        sys.exit("../shared/realdata not found: real-data part skipped")
    real()
