"""Fit the 23 measured INTERFACES REDOR curves (bundled with respdor, respdor.datasets) with respdor's analytical models.

For each curve: two-spin REDOR (fraction free, partner abundance 1 because the supports are
29Si-enriched / the ligands 15N-labelled), and, for the 13C{29Si} surface curves, a Gaussian
distribution of distances as a second model; prints D, r, amplitude, chi2 shape and AIC.

Run:  python docs/examples/fit_interfaces.py [folder with the examples/ of the INTERFACES curves]
"""

import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from respdor import CurveModel, datasets, fit_curve, read_curve

#: The bundled INTERFACES curves (the folder that holds their ``examples/``).
ROOT = datasets.path("redor-interfaces").parent

#: folder -> (observed, partner, recoupling sequence) from the INTERFACES input files (SOURCE.md).
PAIRS = {
    "ZrOtBu": ("13C", "29Si", "redor"),
    "Sc_amidine": ("13C", "29Si", "redor"),
    "Zn_phen": ("13C", "29Si", "redor"),
    "Pd-Al": ("1H", "19F", "sr4"),
}


def pair_for(path):
    folder = path.parent.name
    if folder == "Pt-NHC":
        return ("13C" if path.stem.startswith("C") else "29Si"), "15N", "redor"
    return PAIRS[folder]


def curve_files(root):
    return sorted(p for p in (root / "examples").glob("*/*.txt") if not p.name.startswith("input"))


def fit_one(path, width=False):
    observe, partner, sequence = pair_for(path)
    curve = read_curve(path, time_unit="s")
    model = CurveModel(observe, partner, experiment="redor", sequence=sequence)
    kwargs = {"fix": {"abundance": 1.0}, "intervals": False}
    if width:
        kwargs.update(free=["width_angstrom"], initial={"width_angstrom": 0.3})
    return curve, model, fit_curve(curve, model, **kwargs)


def brute_force(curve, model, n_d=4000, n_f=2001, d_range=(0.1, 1e5), f_max=1.0):
    """Least chi^2 of a dense grid over D (log-spaced) x fraction, polished by Nelder-Mead.

    Independent of respdor's optimiser: every (D, f) of the grid is evaluated, the best cell is
    then polished in (log D, f) with f clipped to [0, f_max]. Equal weights (the curves carry no
    errors). Returns (chi2, D in Hz, f).
    """
    t, y = curve.time_s, curve.dss0
    d_grid = np.geomspace(*d_range, n_d)
    f_grid = np.linspace(0.0, f_max, n_f)
    best = (np.inf, None, None)
    for d in d_grid:
        g = model.normalised(t, d)
        chi = np.sum((y[None, :] - f_grid[:, None] * g[None, :]) ** 2, axis=1)
        k = int(np.argmin(chi))
        if chi[k] < best[0]:
            best = (float(chi[k]), float(d), float(f_grid[k]))

    def chi2(x):
        f = min(max(x[1], 0.0), f_max)
        return float(np.sum((y - f * model.normalised(t, np.exp(x[0]))) ** 2))

    out = minimize(chi2, [np.log(best[1]), best[2]], method="Nelder-Mead",
                   options={"xatol": 1e-10, "fatol": 1e-16, "maxiter": 4000})
    if out.fun < best[0]:
        best = (float(out.fun), float(np.exp(out.x[0])), float(min(max(out.x[1], 0.0), f_max)))
    return best


def main():
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT
    files = curve_files(root)
    print(f"{'curve':<26}{'pair':<12}{'n':>3}{'D (Hz)':>10}{'r (A)':>8}{'ampl.':>7}{'rms':>8}"
          f"{'AIC 2-spin':>11}{'AIC dist':>10}{'width (A)':>10}")
    for path in files:
        curve, model, r = fit_one(path)
        line = (f"{path.parent.name + '/' + path.stem:<26}{model.pair:<12}{curve.n_points:>3}"
                f"{r.value('coupling_hz'):>10.1f}{r.value('distance_angstrom'):>8.2f}{r.value('fraction'):>7.2f}"
                f"{(r.chisqr / curve.n_points) ** 0.5:>8.3f}{r.aic:>11.1f}")
        if model.partner_isotope.symbol == "29Si":
            _, _, rw = fit_one(path, width=True)
            line += f"{rw.aic:>10.1f}{rw.value('width_angstrom'):>10.2f}"
        print(line)


if __name__ == "__main__":
    main()
