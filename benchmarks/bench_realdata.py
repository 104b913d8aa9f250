"""Every Bruker data set in ../shared/realdata: nucleus, MAS rate (and how it was found), phase
found vs TopSpin's stored phase, and the CSA of every line with enough sidebands.

Run:  PYTHONPATH=. nice -n 10 python benchmarks/bench_realdata.py [--no-csa]
(prints a Markdown table; the CSA fits take a few minutes on one core)
"""

import sys
import time
from pathlib import Path

import numpy as np

from respdor.errors import UserError
from respdor.spectra.bruker import check_pass_dataset, read_bruker
from respdor.spectra.csa_fit import fit_mas_spectrum
from respdor.spectra.mas import check_mas_rate
from respdor.spectra.processing import _peak_tops, acme_score, apply_phase, phase_difference, process_fid, spectrum_noise

ROOT = next((p / "shared" / "realdata" for p in Path(__file__).resolve().parents if (p / "shared" / "realdata").is_dir()), None)

# Rates stated in the data sets' own title files (what a user would type as --mas when the
# sidebands cannot show the rate); None: not stated anywhere in the data set.
TITLE_RATE = {"glycine": 10000.0, "alanine": 10000.0, "arginine": 12000.0, "tyrosine": 10000.0}
SETS = [
    "bruker_13C_CPMAS_aminoacids_spinplots/glycine",
    "bruker_13C_CPMAS_aminoacids_spinplots/alanine",
    "bruker_13C_CPMAS_aminoacids_spinplots/tyrosine",
    "bruker_13C_CPMAS_aminoacids_spinplots/arginine",
    "bruker_31P_MAS_Ba2P2O7_mrsimulator/ba2p2o7_zg",
    "bruker_113Cd_solution_CdSn_eichele_spectrochempy/100",
    "bruker_13C_CP_alginate_xwinnmr_spectrochempy/80",
    "bruker_13C_CP_alginate_xwinnmr_spectrochempy/94",
    "bruker_2D_1H13C_LGHETCOR_tyrosine_spinplots/43",
]
LB = 20.0


def centrebands(pr, rate, larmor, snr=30.0):
    """Isotropic lines: significant peaks that are not +-k x rate from a taller peak."""
    y = pr.real
    idx = _peak_tops(pr.spectrum, snr)
    idx = idx[y[idx] > snr * spectrum_noise(y)]
    idx = idx[np.argsort(-y[idx])]
    step = rate / larmor * 1e6
    keep = []
    for i in idx:
        if all(abs(((pr.ppm[i] - pr.ppm[j]) / step) - round((pr.ppm[i] - pr.ppm[j]) / step)) * step > 1.0
               or round((pr.ppm[i] - pr.ppm[j]) / step) == 0 for j in keep):
            keep.append(i)
    return sorted(float(pr.ppm[i]) for i in keep)


def _txt(row, name, fmt):
    """site_text with the table's precision."""
    from respdor.spectra.csa_fit import format_estimate

    return format_estimate(row[name], row.get(name + "_err"), row.get(name + "_interval"), row.get(name + "_limit"), fmt)


def nmrglue_acme_diff(pr_auto, stored):
    """nmrglue's proc_autophase.autops(..., 'acme') (Chen et al. 2002 criterion, Nelder-Mead from
    PHC0 = PHC1 = 0) on the same unphased spectrum: largest phase difference (deg) from the stored
    (or, without one, our automatic) phase at the 10 tallest peaks, measured on the spectra
    themselves so the two programs' PHC conventions do not matter."""
    import warnings

    from nmrglue.process.proc_autophase import autops

    raw = apply_phase(pr_auto.spectrum, -pr_auto.phase[0], 0.0)
    raw = apply_phase(raw, 0.0, -pr_auto.phase[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ng = autops(raw, "acme", disp=False)
    ref = apply_phase(raw, *(stored or pr_auto.phase))
    idx = _peak_tops(ref)
    idx = idx[np.argsort(-np.abs(ref[idx]))[:10]]
    d = np.degrees(np.angle(ng[idx] / ref[idx]))
    return float(np.max(np.abs(d)))


def main(csa=True):
    if ROOT is None:
        print("../shared/realdata not found: nothing to do")
        return
    rows, csa_rows, checks = [], [], []
    for rel in SETS:
        name = rel.split("/")[-1] if not rel.split("/")[-1].isdigit() else rel.replace("/", " ")
        ds = read_bruker(ROOT / rel)
        if ds.data.ndim == 2:
            try:
                check_pass_dataset(ds)
                verdict = "accepted"
            except UserError as exc:
                verdict = "pass-process refuses: " + str(exc).split(": ", 1)[-1]
            rows.append([name, ds.nucleus, "-", "-", "-", "-", verdict])
            continue
        auto = process_fid(ds, lb_hz=LB, phase="auto")
        used = process_fid(ds, lb_hz=LB, phase="stored")
        stored = f"{used.phase[0]:.0f}, {used.phase[1]:.0f}" if used.phase_source == "stored" else "none/invalid"
        found = f"{auto.phase[0]:.0f}, {auto.phase[1]:.0f}"
        ref = used.phase if used.phase_source == "stored" else None
        diff = f"{phase_difference(auto.spectrum, auto.phase, ref):.1f}" if ref else "-"
        acme = f"{nmrglue_acme_diff(auto, ref):.0f}"
        raw = apply_phase(apply_phase(auto.spectrum, -auto.phase[0], 0.0), 0.0, -auto.phase[1])
        checks.append([name, f"{acme_score(raw, auto.phase):.4f}", f"{acme_score(raw, ref):.4f}" if ref else "-"])
        key = rel.split("/")[-1]
        try:
            mc = check_mas_rate(used.freq_hz, used.real, recorded_hz=ds.mas_hz_recorded)
            mas = f"{mc.rate_hz:.0f} Hz, {mc.source} ({mc.evidence()})"
        except UserError as exc:
            mc = None
            mas = "refused: " + str(exc).split(": ", 1)[1].split("; give")[0]
            if TITLE_RATE.get(key):
                mc = check_mas_rate(used.freq_hz, used.real, given_hz=TITLE_RATE[key], recorded_hz=ds.mas_hz_recorded)
                mas += f"; used {mc.rate_hz:.0f} Hz from the title ({mc.evidence()})"
        if mc is not None:
            mas += "".join(f"; WARNING {w}" for w in mc.warnings if "MASR" in w)[:160]
        rows.append([name, ds.nucleus, f"{ds.mas_hz_recorded or 0:g}", mas, f"{found} (auto) vs {stored}; max diff {diff} deg",
                     acme, used.phase_source])
        if csa and mc is not None and ds.nucleus in ("13C", "31P"):
            sites = centrebands(used, mc.rate_hz, ds.larmor_hz)
            t0 = time.perf_counter()
            r = fit_mas_spectrum(used.ppm, used.real, [dict(delta_iso=c, fwhm=1.0) for c in sites], ds.larmor_hz,
                                 mc.rate_hz, n_starts=2)
            dt = time.perf_counter() - t0
            for st in r.sites:
                # Errors: "+-" from the covariance, [lo, hi] or (> bound, upper hi) from the profile.
                how = "-" if st["status"] == "undetermined" else st["error_method"]
                csa_rows.append([name, f"{st['delta_iso']:.1f}", _txt(st, "span", ".0f"), _txt(st, "skew", "+.2f"),
                                 str(st["n_sidebands"]), st["status"], how])
            print(f"# {name}: {len(sites)} lines fitted in {dt:.1f} s", file=sys.stderr, flush=True)
    print("| data set | nucleus | MASR (Hz) | MAS rate used, how found | phase PHC0, PHC1 (deg) | nmrglue ACME max diff (deg) | phase used |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print("\n| data set | ACME-style score, automatic phase | same, stored phase |")
    print("|---|---|---|")
    for r in checks:
        print("| " + " | ".join(r) + " |")
    if csa_rows:
        print("\n| data set | delta_iso (ppm) | span (ppm) | skew | sidebands > 3 sigma | status | errors from |")
        print("|---|---|---|---|---|---|---|")
        for r in csa_rows:
            print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main(csa="--no-csa" not in sys.argv)
