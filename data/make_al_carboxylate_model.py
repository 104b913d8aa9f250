"""Write al_carboxylate_model.xyz: a MODEL (not a computed or measured structure) of an acetate
bridging two Al (syn-syn mu2-carboxylate), built from textbook bond lengths and angles for the
docs of ``respdor structure``: C-O 1.27 A, O-C-O 125 deg, Al-O 1.90 A, C-O-Al 135 deg, so that
each Al sits 2.94 A from the carboxylate carbon.

Run: python data/make_al_carboxylate_model.py   (writes the file beside this script)
"""

from pathlib import Path

import numpy as np


def _rot(v, deg):
    a = np.radians(deg)
    return np.array([v[0] * np.cos(a) - v[1] * np.sin(a), v[0] * np.sin(a) + v[1] * np.cos(a), 0.0])


def model():
    c = np.zeros(3)
    up = np.array([0.0, 1.0, 0.0])  # C -> methyl is -y; the two O open upwards
    atoms = [("C", c), ("C", c - 1.50 * up)]
    for sign in (+1, -1):
        co = _rot(up, sign * 62.5)  # half of O-C-O = 125 deg
        o = c + 1.27 * co
        # Al-O turned 135 deg from O->C, in the plane, away from the other O
        oc = -co
        al = o + 1.90 * _rot(oc, -sign * 135.0)
        atoms += [("O", o), ("Al", al)]
    for k in range(3):  # methyl hydrogens, tetrahedral about the C-C axis
        phi = 2 * np.pi * k / 3
        atoms.append(("H", c - 1.50 * up + np.array([1.03 * np.cos(phi), -0.36, 1.03 * np.sin(phi)])))
    return atoms


if __name__ == "__main__":
    atoms = model()
    lines = [str(len(atoms)), "MODEL (not DFT, not measured): acetate bridging two Al, built by "
             "make_al_carboxylate_model.py from textbook geometry"]
    lines += [f"{s:2s} {x:10.5f} {y:10.5f} {z:10.5f}" for s, (x, y, z) in atoms]
    out = Path(__file__).with_name("al_carboxylate_model.xyz")
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")
