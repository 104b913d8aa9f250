"""Speed of the robust 1D MAS CSA fit (fit_mas_spectrum), old vs new, measured side by side.

"old" is respdor/spectra/csa_fit.py as committed at --old REV (default: main), loaded from
``git show`` into a private module; "new" is the working tree. Each fit runs --repeat times,
alternating old and new so that both see the same machine load; the best time of each is
printed with the fitted numbers (they must agree within their errors).

Run:  PYTHONPATH=. nice -n 10 python benchmarks/bench_csa_speed.py [--old REV] [--repeat 2] [--real]
(--real adds the glycine, Ba2P2O7 and tyrosine (10 lines) spectra from ../shared/realdata)
"""

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # a shared 2-core machine: no BLAS thread fights
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import respdor.spectra.csa_fit as new  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SYN = REPO / "data" / "pass_113Cd_synthetic" / "mas1d_8kHz.txt"


def load_old(rev):
    """csa_fit.py at ``rev`` as module respdor.spectra._csa_fit_old (relative imports work)."""
    src = subprocess.run(["git", "show", f"{rev}:respdor/spectra/csa_fit.py"], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "csa_fit_old.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("respdor.spectra._csa_fit_old", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def cases(real):
    d = np.loadtxt(SYN, delimiter=",", comments="#")
    # The data/pass_113Cd_synthetic README command (truth: 150/0.5, 450/0.3, 520/-0.4, 250/0.8).
    yield ("113Cd synthetic, 4 sites", d[:, 0], d[:, 1],
           [dict(delta_iso=c, span=s, fwhm=30.0) for c, s in zip((-50, -320, -440, -630), (100, 400, 400, 200))],
           88.8016e6, 8000.0, dict(noise_region=(100, 200)))
    if not real:
        return
    root = next((p / "shared" / "realdata" for p in REPO.parents if (p / "shared" / "realdata").is_dir()), None)
    if root is None:
        print("../shared/realdata absent: real spectra skipped")
        return
    from respdor.spectra.bruker import read_bruker
    from respdor.spectra.processing import process_fid

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_realdata import centrebands  # the lines the real-data table fits

    for rel, rate, lines in (("bruker_13C_CPMAS_aminoacids_spinplots/glycine", 10000.0, (176.5, 43.7)),
                             ("bruker_31P_MAS_Ba2P2O7_mrsimulator/ba2p2o7_zg", 12505.6, (-21.9, -18.9)),
                             ("bruker_13C_CPMAS_aminoacids_spinplots/tyrosine", 9993.0, None)):
        ds = read_bruker(root / rel)
        pr = process_fid(ds, lb_hz=20.0, phase="stored")
        lines = lines or centrebands(pr, rate, ds.larmor_hz)
        yield (rel.split("/")[-1], pr.ppm, pr.real, [dict(delta_iso=c, fwhm=1.0) for c in lines], ds.larmor_hz, rate,
               dict(n_starts=2))


def fmt(row, name):
    v, e = row[name], row.get(name + "_err")
    return f"{v:.3g}" + (f" +- {e:.2g}" if e is not None and np.isfinite(e) else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", default="main")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--real", action="store_true")
    a = ap.parse_args()
    old = load_old(a.old)
    print(f"old = csa_fit.py at {a.old}; new = working tree; best of {a.repeat} alternating runs, OMP_NUM_THREADS="
          f"{os.environ['OMP_NUM_THREADS']}")
    for label, x, y, sites, larmor, mas, kw in cases(a.real):
        times = {"old": [], "new": []}
        res = {}
        for _ in range(a.repeat):
            for tag, mod in (("old", old), ("new", new)):
                mod._manifold.cache_clear()
                t0 = time.perf_counter()
                res[tag] = mod.fit_mas_spectrum(x, y, [dict(s) for s in sites], larmor, mas, **kw)
                times[tag].append(time.perf_counter() - t0)
        to, tn = min(times["old"]), min(times["new"])
        print(f"\n{label}: old {to:.2f} s, new {tn:.2f} s, ratio {to / tn:.1f}x")
        for so, sn in zip(res["old"].sites, res["new"].sites):
            print(f"  old: iso {fmt(so, 'delta_iso')}, span {fmt(so, 'span')}, skew {fmt(so, 'skew')}, {so['status']}")
            print(f"  new: iso {fmt(sn, 'delta_iso')}, span {new.site_text(sn, 'span')}, skew "
                  f"{new.site_text(sn, 'skew')}, {sn['status']} ({sn['error_method']})")


if __name__ == "__main__":
    main()
