"""Fit the 23 measured INTERFACES REDOR curves (../shared/realdata) with respdor's analytical models.

For each curve: two-spin REDOR (fraction free, partner abundance 1 because the supports are
29Si-enriched / the ligands 15N-labelled), and, for the 13C{29Si} surface curves, a Gaussian
distribution of distances as a second model; prints D, r, amplitude, chi2 shape and AIC.

Run:  python docs/examples/fit_interfaces.py [path/to/redor_curves_INTERFACES_perras]
"""

import sys
from pathlib import Path

from respdor import CurveModel, fit_curve, read_curve

ROOT = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "redor_curves_INTERFACES_perras"

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
    kwargs = {"fix": {"abundance": 1.0}, "intervals": False, "bounds": {"fraction": (0.0, 1.2)}}
    if width:
        kwargs.update(free=["width_angstrom"], initial={"width_angstrom": 0.3})
    return curve, model, fit_curve(curve, model, **kwargs)


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
