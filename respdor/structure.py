"""From a structure to the dephasing curve it predicts, and what a two-spin fit of that curve reads.

Structures are read with ASE (xyz/extxyz, CIF, POSCAR/CONTCAR, CASTEP ``.magres``); the EFG
tensors of a ``.magres`` file give each quadrupolar partner its C_Q, eta_Q and orientation
(:func:`spinsim.conventions.quadrupolar_from_efg`). Partners are found within a cutoff radius,
periodic images included, nearest first.

Curves are computed by spinsim. With ideal REDOR pi pulses on the observed spin and partners
coupled only to it (``build_system(..., partner_couplings=False)``), spinsim's ``fast`` engine is
the **independent-partner (product) model per crystallite**: in each crystallite the observed signal
is the product of the two-spin factors of the partners, dS/S0 = 1 - <prod_k (1 - dS_k)>, the
average taken over crystallites *after* the product. Within spinsim's Hamiltonian this is exact
(the partners' evolutions commute, conditional on S_z), so it agrees with the dense ``general``
engine to numerical precision; :func:`powder_product` is the cruder model that multiplies
powder-averaged two-spin curves and is *not* exact. What the product model leaves out is the
coupling of the partners to each other (27Al-27Al at 3-4 A: 130-300 Hz), whose flip-flop terms
exchange populations between them during the recoupling; ``partner_couplings=True`` includes it
and spinsim's ``coupled`` engine propagates the whole partner space (docs/structures.md gives the
measured difference).

ASE is an optional dependency: ``pip install respdor[structures]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import UserError

#: Spin-1/2 isotope used for an observed element when none is named.
OBSERVED_ISOTOPE = {"C": "13C", "N": "15N", "P": "31P", "Si": "29Si", "H": "1H", "F": "19F", "Se": "77Se"}

__all__ = [
    "Partner",
    "Structure",
    "read_structure",
    "select_observed",
    "find_partners",
    "build_system",
    "predict_curve",
    "powder_product",
    "apparent_two_spin",
    "cutoff_convergence",
    "partner_coupling_max_hz",
    "couplings_affordable",
]


def _ase():
    try:
        import ase.io  # noqa: F401
        import ase.neighborlist  # noqa: F401
    except ImportError:
        raise UserError("reading structures needs ASE: pip install 'respdor[structures]' (or: pip install ase)") \
            from None
    import ase

    return ase


def element_of(isotope) -> str:
    """Element symbol of an isotope name such as ``"27Al"``."""
    from spinsim import get_isotope

    return re.sub(r"[0-9\-]", "", get_isotope(isotope).symbol)


@dataclass
class Structure:
    """Atoms of a structure and, from a ``.magres`` file, their NMR tensors.

    Attributes
    ----------
    atoms : ase.Atoms
        Positions in angstrom; ``pbc`` and ``cell`` say whether periodic images exist.
    tensors : dict
        Atom index -> ``{"efg": (3, 3) atomic units, "ms": (3, 3) ppm}`` (empty without magres).
    source : str
    """

    atoms: object
    tensors: dict = field(default_factory=dict)
    source: str = ""


def read_structure(path) -> Structure:
    """Read a structure file with ASE (format from the name); ``.magres`` tensors included.

    Parameters
    ----------
    path : str or Path
        xyz/extxyz, CIF, POSCAR/CONTCAR, CASTEP ``.magres`` or anything ``ase.io.read`` knows.

    Returns
    -------
    Structure

    Raises
    ------
    UserError
        One line naming the file when it is missing or ASE cannot read it.
    """
    ase = _ase()
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such structure file")
    fmt = "magres" if path.suffix.lower() == ".magres" else None
    try:
        atoms = ase.io.read(str(path), format=fmt)
    except Exception as exc:  # ASE raises many kinds; the user needs the file and the reason
        # ASE's magres reader refuses files whose tensors cover only some atoms; their [atoms]
        # block is simple enough to read directly
        atoms = _magres_atoms(path) if fmt == "magres" else None
        if atoms is None:
            msg = f"{path}: ASE cannot read this structure ({type(exc).__name__}: {exc})"
            raise UserError(msg.splitlines()[0]) from None
    if len(atoms) == 0:
        raise UserError(f"{path}: the structure has no atoms")
    tensors = {}
    if fmt == "magres":
        tensors = _magres_tensors(path, atoms)
    return Structure(atoms, tensors, str(path))


def _magres_atoms(path):
    """Atoms (and lattice) of a magres ``[atoms]`` block in angstrom, or None if there are none."""
    from ase import Atoms

    symbols, pos, cell, block = [], [], None, None
    for line in path.read_text().splitlines():
        s = line.split()
        if s and s[0].startswith("["):
            block = None if s[0].startswith("[/") else s[0].strip("[]")
        elif block == "atoms" and s and s[0] == "lattice" and len(s) == 10:
            try:
                cell = np.array(s[1:], float).reshape(3, 3)
            except ValueError:
                return None
        elif block == "atoms" and s and s[0] == "atom" and len(s) == 7:
            try:
                pos.append([float(x) for x in s[4:7]])
            except ValueError:
                return None
            symbols.append(s[1])
    if not symbols:
        return None
    return Atoms(symbols, positions=pos, cell=cell, pbc=cell is not None)


def _magres_tensors(path, atoms) -> dict:
    """Map spinsim's magres tensors, keyed (species, 1-based index per species), to atom indices."""
    from spinsim.conventions import read_magres

    try:
        raw = read_magres(path)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    count, out = {}, {}
    for i, sym in enumerate(atoms.get_chemical_symbols()):
        count[sym] = count.get(sym, 0) + 1
        if (sym, count[sym]) in raw:
            out[i] = raw[(sym, count[sym])]
    return out


def select_observed(atoms, which) -> list[int]:
    """Indices of the observed atoms.

    Parameters
    ----------
    which : str, int or sequence of int
        An element symbol (``"C"``: every carbon), a comma-separated list of 0-based indices
        (``"3,7"``), or indices.
    """
    symbols = atoms.get_chemical_symbols()
    if isinstance(which, str) and re.fullmatch(r"[A-Z][a-z]?", which.strip()):
        found = [i for i, s in enumerate(symbols) if s == which.strip()]
        if not found:
            raise UserError(f"--observe {which}: the structure has no {which} atom")
        return found
    try:
        idx = [int(x) for x in which.split(",")] if isinstance(which, str) else [int(x) for x in np.atleast_1d(which)]
    except ValueError:
        raise UserError(f"--observe {which}: give an element symbol (C) or 0-based atom indices (3,7)") from None
    bad = [i for i in idx if not 0 <= i < len(symbols)]
    if bad:
        raise UserError(f"--observe {which}: atom index {bad[0]} outside 0..{len(symbols) - 1}")
    return idx


@dataclass
class Partner:
    """One partner spin around an observed atom.

    Attributes
    ----------
    index : int
        Atom index in the structure (a periodic image keeps its atom's index).
    vector_angstrom : ndarray
        Observed atom -> partner, angstrom (crystal frame).
    distance_angstrom, d_hz : float
        Distance and dipolar coupling constant (Hz) to the observed spin.
    cq_hz, eta_q, q_euler : float, float, tuple
        Quadrupolar coupling (Hz), asymmetry and ZYZ Euler angles (rad).
    from_tensor : bool
        True if C_Q came from the structure's EFG, False if it is the given default.
    """

    index: int
    vector_angstrom: np.ndarray
    distance_angstrom: float
    d_hz: float
    cq_hz: float = 0.0
    eta_q: float = 0.0
    q_euler: tuple = (0.0, 0.0, 0.0)
    from_tensor: bool = False


def find_partners(structure, observed_index, observed_isotope, partner_isotope, cutoff_angstrom, max_partners=None,
                  cq_hz=0.0, eta_q=0.0):
    """Partners of one isotope within a cutoff, nearest first, periodic images included.

    Parameters
    ----------
    structure : Structure
    observed_index : int
    observed_isotope, partner_isotope : str
        E.g. ``"13C"`` and ``"27Al"``; every atom of the partner's element is taken as that isotope.
    cutoff_angstrom : float
        Radius (angstrom).
    max_partners : int, optional
        Keep at most this many (the nearest).
    cq_hz, eta_q : float
        Quadrupolar coupling (Hz) and asymmetry used when the structure has no EFG for a partner.

    Returns
    -------
    list of Partner
    """
    ase = _ase()
    from spinsim import dipolar_coupling_hz, get_isotope

    if not (np.isfinite(cutoff_angstrom) and cutoff_angstrom > 0):
        raise UserError(f"--cutoff {cutoff_angstrom}: must be > 0 angstrom")
    atoms = structure.atoms
    element = element_of(partner_isotope)
    iso_s, iso_i = get_isotope(observed_isotope), get_isotope(partner_isotope)
    if any(atoms.pbc) and atoms.cell.rank == 3:
        i, j, vec = ase.neighborlist.neighbor_list("ijD", atoms, float(cutoff_angstrom), self_interaction=False)
        keep = i == observed_index
        j, vec = j[keep], vec[keep]
    else:  # molecule: plain distances, no images
        pos = atoms.get_positions()
        vec = pos - pos[observed_index]
        j = np.arange(len(atoms))
        keep = (np.linalg.norm(vec, axis=1) <= cutoff_angstrom) & (j != observed_index)
        j, vec = j[keep], vec[keep]
    symbols = atoms.get_chemical_symbols()
    rows = sorted((float(np.linalg.norm(v)), int(k), v) for k, v in zip(j, vec) if symbols[k] == element)
    if max_partners is not None:
        rows = rows[: int(max_partners)]
    out = []
    for r, k, v in rows:
        p = Partner(k, np.asarray(v, float), r, dipolar_coupling_hz(r * 1e-10, iso_s, iso_i), cq_hz, eta_q)
        efg = structure.tensors.get(k, {}).get("efg")
        if efg is not None and iso_i.spin > 0.5:
            from spinsim.conventions import quadrupolar_from_efg

            p.cq_hz, p.eta_q, p.q_euler = quadrupolar_from_efg(efg, iso_i)
            p.from_tensor = True
        out.append(p)
    return out


def build_system(partners, observed_isotope, partner_isotope, field_t, partner_couplings=False):
    """spinsim SpinSystem of the observed spin (at the origin) and its partners.

    Parameters
    ----------
    partners : list of Partner
    observed_isotope, partner_isotope : str
    field_t : float
        B0 in T.
    partner_couplings : bool
        Also couple the partners to each other (homonuclear: ZZ and flip-flop, from their
        coordinates); spinsim then runs its ``coupled`` engine instead of the product model.

    Returns
    -------
    spinsim.SpinSystem
        Dipolar couplings (magnitude and orientation) from the coordinates; C_Q, eta_Q and EFG
        orientation of each partner.
    """
    from spinsim import Spin, SpinSystem, get_isotope

    if not partners:
        raise UserError("no partner within the cutoff: nothing dephases the observed spin")
    spins = [Spin(get_isotope(observed_isotope))]
    spins += [Spin(get_isotope(partner_isotope), cq_hz=p.cq_hz, eta_q=p.eta_q, q_euler=tuple(p.q_euler))
              for p in partners]
    xyz = np.vstack([np.zeros(3)] + [p.vector_angstrom for p in partners])
    return SpinSystem.from_coordinates(spins, xyz, field_t, homonuclear=partner_couplings)


def partner_coupling_max_hz(partners, partner_isotope) -> float:
    """Largest dipolar coupling (Hz) between two of the partners (0 for fewer than two)."""
    from spinsim import dipolar_coupling_hz, get_isotope

    iso = get_isotope(partner_isotope)
    best = 0.0
    for a in range(len(partners)):
        for b in range(a + 1, len(partners)):
            r = float(np.linalg.norm(partners[a].vector_angstrom - partners[b].vector_angstrom))
            if r > 0:
                best = max(best, dipolar_coupling_hz(r * 1e-10, iso, iso))
    return best


def couplings_affordable(partners, partner_isotope, max_dim=36) -> bool:
    """Whether the partner-partner couplings are included by default: at least two partners and a
    partner space of at most ``max_dim`` states (two spin-5/2), which the coupled engine runs in
    about the time of the product model's powder (docs/structures.md gives the costs)."""
    from spinsim import get_isotope

    return len(partners) >= 2 and get_isotope(partner_isotope).multiplicity ** len(partners) <= max_dim


def predict_curve(systems, mas_rate_hz, times_s, saturation=None, powder=None, method="auto"):
    """dS/S0 predicted for one or several observed sites (their curves averaged).

    Parameters
    ----------
    systems : SpinSystem or list of SpinSystem
        One per observed atom (equal weights).
    mas_rate_hz : float
    times_s : array_like
        Recoupling times (s), whole numbers of rotor periods.
    saturation : spinsim Block or IdealSaturation, optional
        Default: ideal complete saturation.
    powder : spinsim Powder, optional
    method : {"auto", "fast", "general", "coupled"}
        ``"fast"``/``"auto"``: per-crystallite product of partners (exact for partners coupled
        only to the observed spin); ``"general"``: dense simulation of the whole spin system;
        ``"coupled"`` (what ``"auto"`` picks for systems with partner-partner couplings):
        partner-space propagation with the flip-flop terms.

    Returns
    -------
    ndarray
        dS/S0 at ``times_s``.
    """
    from spinsim import simulate_respdor

    systems = systems if isinstance(systems, (list, tuple)) else [systems]
    curves = [simulate_respdor(s, mas_rate_hz, times_s, saturation=saturation, powder=powder, method=method).dSS0
              for s in systems]
    return np.mean(curves, axis=0)


def powder_product(curves):
    """Product of powder-averaged two-spin curves: 1 - prod_k (1 - <dS_k/S0>).

    An approximation (it ignores that the partners' orientations are correlated in each
    crystallite); compare with :func:`predict_curve`, which takes the product per crystallite.
    """
    c = np.asarray(curves, float)
    return 1.0 - np.prod(1.0 - c, axis=0)


def apparent_two_spin(times_s, dss0, observed_isotope="13C", partner_isotope="27Al", sigma=1e-3):
    """What an analytical two-spin RESPDOR fit (fraction free) reads from a curve.

    Parameters
    ----------
    times_s, dss0 : array_like
        The curve (s, dimensionless).
    sigma : float
        Uniform uncertainty of dS/S0 given to the fit (only scales chi^2).

    Returns
    -------
    dict
        ``coupling_hz``, ``distance_angstrom``, ``fraction`` and ``chi2``.
    """
    from .curve import DephasingCurve
    from .fitting import CurveModel, fit_curve

    t = np.asarray(times_s, float)
    y = np.asarray(dss0, float)
    keep = t > 0
    curve = DephasingCurve(t[keep], y[keep], sigma=np.full(int(keep.sum()), float(sigma)), source="predicted curve")
    res = fit_curve(curve, CurveModel(observed_isotope, partner_isotope), intervals=False)
    return {
        "coupling_hz": float(res.value("coupling_hz")),
        "distance_angstrom": float(res.value("distance_angstrom")),
        "fraction": float(res.value("fraction")),
        "chi2": float(res.chisqr),
    }


def cutoff_convergence(structure, observed, observed_isotope, partner_isotope, cutoffs_angstrom, mas_rate_hz,
                       times_s, field_t=14.1, powder=None):
    """How the predicted curve changes as the cutoff radius grows.

    Parameters
    ----------
    structure : Structure
    observed : list of int
        Observed atom indices (curves averaged).
    cutoffs_angstrom : sequence of float
        Increasing radii (angstrom).
    mas_rate_hz, times_s, field_t, powder
        As for :func:`predict_curve` and :func:`build_system`.

    Returns
    -------
    list of dict
        Per cutoff: ``cutoff_angstrom``, ``n_partners`` (summed over observed atoms), ``dss0``
        and ``max_change`` (max |d dS/S0| from the previous cutoff; None for the first).
    """
    rows, prev = [], None
    for rc in cutoffs_angstrom:
        found = [find_partners(structure, i, observed_isotope, partner_isotope, rc) for i in observed]
        if not all(found):
            prev = None
            rows.append({"cutoff_angstrom": float(rc), "n_partners": sum(map(len, found)), "dss0": None,
                         "max_change": None})
            continue
        y = predict_curve([build_system(p, observed_isotope, partner_isotope, field_t) for p in found], mas_rate_hz,
                          times_s, powder=powder)
        rows.append({"cutoff_angstrom": float(rc), "n_partners": sum(map(len, found)), "dss0": y,
                     "max_change": None if prev is None else float(np.max(np.abs(y - prev)))})
        prev = y
    return rows
