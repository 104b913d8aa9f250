"""Write al_carboxylate_model.magres: the Al-carboxylate MODEL of make_al_carboxylate_model.py with
MODEL NMR tensors, in CASTEP's .magres format, for the worked example of docs/structures.md.

Nothing here is computed by CASTEP or measured (CASTEP cannot be run for the docs): the tensors
are chosen by hand to look like those of such a site, so that the example shows how
``respdor structure`` turns them into spin parameters.

* 27Al EFG tensors (atomic units) with C_Q = 3.5 MHz, eta_Q = 0.4 (Al 1) and C_Q = 5.5 MHz,
  eta_Q = 0.2 (Al 2), values typical of six-coordinate Al. Al 1 has V_zz along its Al-O bond;
  Al 2 has V_zz tilted 30 deg from its Al-O bond, out of the carboxylate plane.
* 13C shielding tensors (ppm) of a carboxylate carbon (principal shifts 245, 180, 110 ppm,
  delta_33 normal to the O-C-O plane, delta_22 along the C-C bond) and of a methyl carbon
  (30, 20, 10 ppm), against a reference shielding of 170 ppm (sigma = 170 - delta).
* A 20 A cubic box, as a CASTEP molecule-in-a-box calculation would have: periodic images of
  the Al lie at least 17 A from any carbon, beyond any sensible cutoff.

Run: python data/make_al_carboxylate_magres.py   (writes the file beside this script)
"""

from pathlib import Path

import numpy as np

from make_al_carboxylate_model import model

BOX = 20.0  # angstrom
SIGMA_REF = 170.0  # ppm, reference shielding of the 13C shift scale used for the model
EFG_AU_V_PER_M2 = 9.7173624292e21  # atomic unit of EFG (CODATA 2018)
Q_AL27 = 146.6e-31  # m^2 (Pyykko 2008)
E, H = 1.602176634e-19, 6.62607015e-34


def _unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def _frame(z, x_hint):
    """Right-handed columns (x, y, z) with z along ``z`` and x in the plane of z and ``x_hint``."""
    z = _unit(z)
    x = _unit(np.asarray(x_hint, float) - np.dot(x_hint, z) * z)
    return np.column_stack([x, np.cross(z, x), z])


def efg_au(cq_hz, eta, frame):
    """Cartesian EFG (atomic units) with C_Q, eta_Q (|V_zz| >= |V_yy| >= |V_xx|) and PAS ``frame``."""
    vzz = cq_hz * H / (E * Q_AL27) / EFG_AU_V_PER_M2
    pas = np.diag([-vzz * (1 - eta) / 2, -vzz * (1 + eta) / 2, vzz])
    return frame @ pas @ frame.T


def shielding(deltas, frame):
    """Shielding tensor (ppm) of principal shifts ``deltas`` along the columns of ``frame``."""
    return frame @ np.diag(SIGMA_REF - np.asarray(deltas, float)) @ frame.T


def tensors(atoms):
    pos = {k: np.asarray(p) for k, (_, p) in enumerate(atoms)}
    c, me = pos[0], pos[1]
    out = {}
    # carboxylate C: delta_11 in plane normal to C-C, delta_22 along C-C, delta_33 normal to O-C-O
    out[("ms", "C", 1)] = shielding([245.0, 180.0, 110.0], np.column_stack(
        [[1.0, 0, 0], _unit(me - c), np.cross([1.0, 0, 0], _unit(me - c))]))
    out[("ms", "C", 2)] = shielding([30.0, 20.0, 10.0], _frame(c - me, [1.0, 0, 0]))
    o1, al1, o2, al2 = pos[2], pos[3], pos[4], pos[5]
    out[("efg", "Al", 1)] = efg_au(3.5e6, 0.4, _frame(o1 - al1, [0, 0, 1.0]))
    tilt = np.radians(30.0)
    bond = _unit(o2 - al2)
    z2 = np.cos(tilt) * bond + np.sin(tilt) * np.array([0, 0, 1.0])
    out[("efg", "Al", 2)] = efg_au(5.5e6, 0.2, _frame(z2, [0, 0, 1.0]))
    return out


def magres_text(atoms):
    lines = ["#$magres-abinitio-v1.0",
             "# MODEL (not CASTEP output, not measured): acetate bridging two Al with hand-chosen 27Al EFG and",
             "# 13C shielding tensors; written by data/make_al_carboxylate_magres.py",
             "[atoms]", "units lattice Angstrom",
             f"lattice {BOX:.1f} 0.0 0.0 0.0 {BOX:.1f} 0.0 0.0 0.0 {BOX:.1f}", "units atom Angstrom"]
    count = {}
    for sym, p in atoms:
        count[sym] = count.get(sym, 0) + 1
        lines.append(f"atom {sym} {sym} {count[sym]} {p[0]:.5f} {p[1]:.5f} {p[2]:.5f}")
    lines += ["[/atoms]", "[magres]", "units ms ppm", "units efg au"]
    for (tag, sym, k), t in tensors(atoms).items():
        lines.append(f"{tag} {sym} {k} " + " ".join(f"{v:.8f}" for v in np.asarray(t).ravel()))
    lines.append("[/magres]")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    atoms = [(s, np.asarray(p) + BOX / 2) for s, p in model()]  # centred in the box
    out = Path(__file__).with_name("al_carboxylate_model.magres")
    out.write_text(magres_text(atoms))
    print(f"wrote {out}")
