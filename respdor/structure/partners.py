"""Partners of an observed atom: who is within the cutoff, their couplings and quadrupolar tensors,
how likely each site holds the partner isotope, and the spin system they make."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from spinsim.isotopes import element_of

from ..errors import UserError

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


def search_size(structure, cutoff_angstrom):
    """Atoms and periodic cells in the cutoff sphere (volume of the sphere / volume of the cell; 1 for a
    molecule): what a partner search examines, known before it starts."""
    atoms = structure.atoms
    if any(atoms.pbc) and atoms.cell.rank == 3:
        return len(atoms), 4.0 / 3.0 * np.pi * float(cutoff_angstrom) ** 3 / abs(float(atoms.cell.volume))
    return len(atoms), 1.0


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
        Quadrupolar coupling (Hz) and asymmetry used when the structure has no EFG for a
        quadrupolar partner (ignored for spin-1/2 partners).

    Returns
    -------
    list of Partner
    """
    from spinsim import dipolar_coupling_hz, get_isotope

    if not (np.isfinite(cutoff_angstrom) and cutoff_angstrom > 0):
        raise UserError(f"cutoff_angstrom={cutoff_angstrom}: must be > 0 angstrom")
    atoms = structure.atoms
    element = element_of(partner_isotope)
    iso_s, iso_i = get_isotope(observed_isotope), get_isotope(partner_isotope)
    symbols = np.array(atoms.get_chemical_symbols())
    candidates = np.flatnonzero(symbols == element)
    j, vec = _vectors_within(atoms, observed_index, candidates, float(cutoff_angstrom))
    r = np.linalg.norm(vec, axis=1)
    # nearest first; images of one atom at one distance tie on (r, index): the vector breaks the tie
    order = np.lexsort((vec[:, 2], vec[:, 1], vec[:, 0], j, r))
    if max_partners is not None:
        order = order[: int(max_partners)]
    d_hz = dipolar_coupling_hz(r[order] * 1e-10, iso_s, iso_i) if order.size else np.empty(0)
    quad = iso_i.spin > 0.5  # a spin-1/2 partner has no quadrupolar coupling, whatever the default
    out = []
    for n, k in enumerate(order):
        p = Partner(int(j[k]), vec[k].copy(), float(r[k]), float(d_hz[n]), cq_hz if quad else 0.0,
                    eta_q if quad else 0.0)
        efg = structure.tensors.get(int(j[k]), {}).get("efg")
        if efg is not None and quad:
            from spinsim.conventions import quadrupolar_from_efg

            p.cq_hz, p.eta_q, p.q_euler = quadrupolar_from_efg(efg, iso_i)
            p.from_tensor = True
        out.append(p)
    return out


def _vectors_within(atoms, observed_index, candidates, cutoff):
    """(atom index, vector observed -> atom in angstrom) of every atom of ``candidates`` and every
    periodic image of it (along the periodic cell axes) within ``cutoff``; the observed atom itself
    (zero vector) excluded. Only the observed atom's neighbourhood is searched, not every pair."""
    pos = atoms.get_positions()
    periodic = np.asarray(atoms.pbc, bool) if atoms.cell.rank == 3 else np.zeros(3, bool)
    if not periodic.any():  # molecule: plain distances, no images
        vec = pos[candidates] - pos[observed_index]
        keep = (np.linalg.norm(vec, axis=1) <= cutoff) & (candidates != observed_index)
        return candidates[keep], vec[keep]
    cell = np.asarray(atoms.cell, float)
    frac = np.linalg.solve(cell.T, (pos[candidates] - pos[observed_index]).T).T
    frac[:, periodic] -= np.floor(frac[:, periodic] + 0.5)  # nearest image first: offsets within half a cell
    # cells to go along axis k: the cutoff over the spacing of the lattice planes (1 / |b_k|), plus one
    reach = np.where(periodic, np.ceil(cutoff * np.linalg.norm(np.linalg.inv(cell), axis=0)) + 1, 0).astype(int)
    shifts = np.stack(np.meshgrid(*(np.arange(-m, m + 1) for m in reach), indexing="ij"), -1).reshape(-1, 3)
    found_j, found_v = [], []
    for a, f in zip(candidates, frac):
        vec = (f + shifts) @ cell
        keep = np.einsum("ij,ij->i", vec, vec) <= cutoff * cutoff
        if a == observed_index:  # its own images, not itself
            keep &= np.any(shifts != 0, axis=1)
        found_j.append(np.full(int(keep.sum()), a))
        found_v.append(vec[keep])
    if not found_j:
        return np.empty(0, int), np.empty((0, 3))
    return np.concatenate(found_j), np.concatenate(found_v)


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


#: Partners whose isotope is at least this abundant are taken as always present with
#: ``abundance="natural"`` (27Al, 31P, 1H, 19F, 23Na, 51V, 93Nb, 14N).
FULL_ABUNDANCE = 0.99


def partner_abundance(partner_isotope, abundance="natural"):
    """Probability that a partner site holds the partner isotope.

    Parameters
    ----------
    abundance : "natural" or float
        ``"natural"``: the isotope's natural abundance from spinsim's isotope table, taken as 1
        when it is at least ``FULL_ABUNDANCE`` (0.99); a number in (0, 1]: that fraction (enrichment).
    """
    from spinsim import get_isotope

    if isinstance(abundance, str) and abundance.strip().lower() == "natural":
        p = get_isotope(partner_isotope).abundance
        return 1.0 if p >= FULL_ABUNDANCE else float(p)
    try:
        p = float(abundance)
    except (TypeError, ValueError):
        raise UserError(f"abundance={abundance}: give 'natural' or a fraction in (0, 1]") from None
    if not 0 < p <= 1:
        raise UserError(f"abundance={abundance}: must lie in (0, 1] (a fraction, not a percentage)")
    return p
