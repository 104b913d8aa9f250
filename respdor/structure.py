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
from spinsim.isotopes import element_of

from .errors import UserError

#: Spin-1/2 isotope used for an observed element when none is named.
OBSERVED_ISOTOPE = {"C": "13C", "N": "15N", "P": "31P", "Si": "29Si", "H": "1H", "F": "19F", "Se": "77Se"}

__all__ = [
    "Partner",
    "Structure",
    "read_structure",
    "select_observed",
    "bonded_neighbours",
    "find_partners",
    "build_system",
    "predict_curve",
    "powder_product",
    "parse_saturation",
    "observed_csa",
    "partner_abundance",
    "site_curve",
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
    raw = _magres_raw(path) if fmt == "magres" else None  # a damaged or cut file is refused before ASE reads it
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
    check_cell(atoms, path)
    check_contacts(atoms, path)
    tensors = {}
    if fmt == "magres":
        tensors = _magres_tensors(path, atoms, raw)
    return Structure(atoms, tensors, str(path))


def _lattice_vectors(cell, pbc):
    """Short lattice translations (angstrom) along the periodic axes: combinations of -1, 0, 1 cell vectors."""
    from itertools import product

    out = []
    for n in product(*[(-1, 0, 1) if p else (0,) for p in pbc]):
        if any(n):
            out.append((n, np.asarray(n, float) @ np.asarray(cell, float)))
    return out


def check_cell(atoms, source):
    """Refuse a periodic cell that no crystal has: non-finite vectors, or cell lengths and angles that span no
    volume the way they were written (an angle outside (0, 180) deg, or three angles that cannot close).

    A cell given by its parameters (CIF) is right-handed by construction, so a negative volume there means
    impossible parameters; explicit lattice vectors (POSCAR, extxyz) may be left-handed.

    Raises
    ------
    UserError
        One line naming the file and the cell parameters.
    """
    if not any(atoms.pbc) or atoms.cell.rank == 0:
        return
    cell = np.asarray(atoms.cell, float)
    volume = float(np.linalg.det(cell)) if np.all(np.isfinite(cell)) else float("nan")
    by_parameters = Path(str(source)).suffix.lower() in (".cif", ".mmcif")
    if not np.isfinite(volume) or (by_parameters and volume <= 0):
        with np.errstate(all="ignore"):
            par = ", ".join(f"{x:.6g}" for x in atoms.cell.cellpar())
        raise UserError(f"{source}: the cell spans no volume as written (read as a, b, c, alpha, beta, gamma = "
                        f"{par}): each angle must lie in (0, 180) deg and be smaller than the sum of the other two")


def check_contacts(atoms, source):
    """Refuse a structure with two atoms (or an atom and a periodic image) closer than possible.

    The shortest possible distance of two elements is
    :func:`spinsim.plausibility.shortest_distance_angstrom` (a fraction of the sum of their covalent
    radii); the periodic images of an atom are checked first, so that a cell far too small (given
    in nm or bohr) is named before any neighbour search over its images.

    Raises
    ------
    UserError
        One line naming the file, the two atoms (index and element) and their distance.
    """
    ase = _ase()
    from spinsim.plausibility import CONTACT_FRACTION, covalent_radius_angstrom, shortest_distance_angstrom

    symbols = atoms.get_chemical_symbols()
    rule = f"{CONTACT_FRACTION:g} x the sum of their covalent radii"
    if any(atoms.pbc) and atoms.cell.rank == 3:
        first = {}
        for k, e in enumerate(symbols):
            first.setdefault(e, k)
        for n, vec in _lattice_vectors(atoms.cell, atoms.pbc):
            r = float(np.linalg.norm(vec))
            for e, k in first.items():
                if r < shortest_distance_angstrom(e, e):
                    raise UserError(f"{source}: atom {k} ({e}) is {r:.3g} A from its own periodic image (cell "
                                    f"translation {list(n)}), closer than {shortest_distance_angstrom(e, e):.3g} A "
                                    f"({rule}): the periodic images overlap; is the cell in angstrom?")
        at = atoms
    else:
        at = atoms.copy()
        at.pbc = False
    cut = [CONTACT_FRACTION * covalent_radius_angstrom(e) for e in symbols]
    i, j, d = ase.neighborlist.neighbor_list("ijd", at, cut, self_interaction=False)
    if len(d):
        k = int(np.argmin(d))
        a, b = sorted((int(i[k]), int(j[k])))
        what = "sit at the same position" if d[k] < 1e-6 else f"are {d[k]:.3g} A apart"
        raise UserError(f"{source}: atoms {a} ({symbols[a]}) and {b} ({symbols[b]}) {what}, closer than "
                        f"{shortest_distance_angstrom(symbols[a], symbols[b]):.3g} A ({rule}): check the "
                        "coordinates and their unit")


def _magres_raw(path):
    """spinsim's magres tensors; a damaged file refused naming its line."""
    from spinsim.conventions import read_magres

    try:
        return read_magres(path)
    except ValueError as exc:
        raise UserError(str(exc).splitlines()[0]) from None


def _magres_atoms(path):
    """Atoms (and lattice) of a magres ``[atoms]`` block in angstrom, or None if there are none."""
    from ase import Atoms

    symbols, pos, cell, block = [], [], None, None
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        s = line.split()
        if s and s[0].startswith("["):
            block = None if s[0].startswith("[/") else s[0].strip("[]")
        elif block == "atoms" and s and s[0] in ("lattice", "atom"):
            want = 10 if s[0] == "lattice" else 7
            try:
                if len(s) != want:
                    raise ValueError
                values = [float(x) for x in s[1 if want == 10 else 4:]]
            except ValueError:
                raise UserError(f"{path}:{lineno}: a magres {s[0]} line needs {want - 1} fields "
                                f"({'nine numbers' if want == 10 else 'label, species, index and x y z'}), "
                                f"got {line.strip()!r}: the file is damaged or cut short") from None
            if want == 10:
                cell = np.array(values).reshape(3, 3)
            else:
                pos.append(values)
                symbols.append(s[1])
    if not symbols:
        return None
    return Atoms(symbols, positions=pos, cell=cell, pbc=cell is not None)


def _magres_tensors(path, atoms, raw) -> dict:
    """Map spinsim's magres tensors, keyed (species, 1-based index per species), to atom indices.

    A tensor of an atom the ``[atoms]`` block does not list (a block cut short) is refused."""
    count, out = {}, {}
    for i, sym in enumerate(atoms.get_chemical_symbols()):
        count[sym] = count.get(sym, 0) + 1
        if (sym, count[sym]) in raw:
            out[i] = raw[(sym, count[sym])]
    for sym, k in raw:
        if k > count.get(sym, 0):
            raise UserError(f"{path}: tensors for {sym} {k}, but the [atoms] block lists {count.get(sym, 0)} {sym} "
                            "atom(s): the file is damaged or cut short")
    return out


def atoms_missing_tensor(structure, element, kind="efg") -> list[int]:
    """Atoms of ``element`` without a ``kind`` tensor while the file gives it for other atoms of it.

    Such atoms take defaults (:func:`find_partners`); a complete CASTEP file gives every atom its
    tensors, so the command names them in a warning.
    """
    idx = [i for i, e in enumerate(structure.atoms.get_chemical_symbols()) if e == element]
    have = [i for i in idx if kind in structure.tensors.get(i, {})]
    return [i for i in idx if i not in have] if have else []


#: Bond = distance below this multiple of the sum of covalent radii (ASE ``natural_cutoffs``).
BOND_SCALE = 1.2

_BONDED = re.compile(r"\s*([A-Z][a-z]?)\s*\[(.*)\]\s*")
_TERM = re.compile(r"\s*([A-Z][a-z]?)\s*(\d*)\s*(\+?)\s*")


def bonded_neighbours(atoms, scale=BOND_SCALE) -> list[dict]:
    """Element counts of each atom's bonded neighbours (periodic images included).

    Parameters
    ----------
    atoms : ase.Atoms
    scale : float
        Two atoms are bonded when their distance is below ``scale`` x the sum of their covalent
        radii (``ase.neighborlist.natural_cutoffs``; 1.2 takes C-O 1.27 A and Al-O 1.9 A as bonds).

    Returns
    -------
    list of dict
        Per atom, element -> number of bonded neighbours (an image counts as its own neighbour).
    """
    ase = _ase()
    at = atoms
    if not (any(atoms.pbc) and atoms.cell.rank == 3):  # molecule: no images
        at = atoms.copy()
        at.pbc = False
    cut = ase.neighborlist.natural_cutoffs(at, mult=float(scale))
    i, j = ase.neighborlist.neighbor_list("ij", at, cut, self_interaction=False)
    symbols = atoms.get_chemical_symbols()
    out = [{} for _ in symbols]
    for a, b in zip(i, j):
        out[a][symbols[b]] = out[a].get(symbols[b], 0) + 1
    return out


def _bonded_rule(which):
    """``"C[O2]"`` -> ("C", [("O", 2, False)]); ``"C[O2,H0]"``, ``"Si[O4+]"`` (4 or more)."""
    m = _BONDED.fullmatch(which)
    if m is None:
        return None
    terms = []
    for part in m.group(2).split(","):
        t = _TERM.fullmatch(part)
        if t is None:
            raise UserError(f"--observe {which}: cannot read {part.strip()!r}; write an element and a count, "
                            "e.g. C[O2] (C bonded to exactly two O) or Si[O4+] (four or more)")
        terms.append((t.group(1), int(t.group(2) or 1), t.group(3) == "+"))
    return m.group(1), terms


def select_observed(atoms, which) -> list[int]:
    """Indices of the observed atoms.

    Parameters
    ----------
    which : str, int or sequence of int
        An element symbol (``"C"``: every carbon); a bonding selection ``"C[O2]"`` (every C
        bonded to exactly two O; ``"C[O2,C1]"`` adds conditions, ``"Si[O4+]"`` means four or
        more; bonds from covalent radii x ``BOND_SCALE`` (1.2), periodic images included); a
        comma-separated list of 0-based indices (``"3,7"``); or indices.
    """
    symbols = atoms.get_chemical_symbols()
    if isinstance(which, str) and re.fullmatch(r"[A-Z][a-z]?", which.strip()):
        found = [i for i, s in enumerate(symbols) if s == which.strip()]
        if not found:
            raise UserError(f"--observe {which}: the structure has no {which} atom")
        return found
    rule = _bonded_rule(which) if isinstance(which, str) else None
    if rule is not None:
        return _select_bonded(atoms, which, *rule)
    try:
        idx = [int(x) for x in which.split(",")] if isinstance(which, str) else [int(x) for x in np.atleast_1d(which)]
    except ValueError:
        raise UserError(f"--observe {which}: give an element symbol (C), a bonding selection (C[O2]) or 0-based "
                        "atom indices (3,7)") from None
    bad = [i for i in idx if not 0 <= i < len(symbols)]
    if bad:
        raise UserError(f"--observe {which}: atom index {bad[0]} outside 0..{len(symbols) - 1}")
    return idx


def _select_bonded(atoms, which, element, terms):
    symbols = atoms.get_chemical_symbols()
    if element not in symbols:
        raise UserError(f"--observe {which}: the structure has no {element} atom")
    nb = bonded_neighbours(atoms)
    found = [i for i, s in enumerate(symbols) if s == element and all(
        (nb[i].get(e, 0) >= n) if more else (nb[i].get(e, 0) == n) for e, n, more in terms)]
    if not found:
        seen = sorted({", ".join(f"{e}{n}" for e, n in sorted(nb[i].items())) or "nothing"
                       for i, s in enumerate(symbols) if s == element})
        raise UserError(f"--observe {which}: no {element} atom matches; the {element} atoms are bonded to: "
                        + "; ".join(seen))
    return found


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


def occupancy_patterns(n, p, max_exact=12, tol=1e-4, n_samples=256) -> int:
    """Number of occupancy patterns :func:`site_curve` simulates at most, counted without simulating."""
    from math import comb

    if p >= 1.0 or n == 0:
        return 1
    if n > max_exact:
        return int(n_samples)
    order = sorted(range(n + 1), key=lambda k: -(p**k * (1 - p) ** (n - k)))
    left, used = 1.0, 0
    for k in order:
        if left <= tol:
            break
        left -= comb(n, k) * p**k * (1 - p) ** (n - k)
        used += comb(n, k)
    return used


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
    # images of one atom at one distance tie on (r, index): the vector breaks the tie (never compare arrays)
    rows = sorted(((float(np.linalg.norm(v)), int(k), v) for k, v in zip(j, vec) if symbols[k] == element),
                  key=lambda row: (row[0], row[1], tuple(row[2])))
    if max_partners is not None:
        rows = rows[: int(max_partners)]
    out = []
    for r, k, v in rows:
        quad = iso_i.spin > 0.5  # a spin-1/2 partner has no quadrupolar coupling, whatever the default
        p = Partner(k, np.asarray(v, float), r, dipolar_coupling_hz(r * 1e-10, iso_s, iso_i), cq_hz if quad else 0.0,
                    eta_q if quad else 0.0)
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


#: Partners whose isotope is at least this abundant are taken as always present with
#: ``abundance="natural"`` (27Al, 31P, 1H, 19F, 23Na, 51V, 93Nb, 14N).
FULL_ABUNDANCE = 0.99


def parse_saturation(text, observed_isotope, partner_isotope, mas_rate_hz, field_t=14.1):
    """The partner saturation named on the command line.

    Parameters
    ----------
    text : str
        ``"ideal"`` (instantaneous, complete); ``"cw:30kHz:2tr"`` (CW at nu1 = 30 kHz for 2 rotor
        periods; the length may also be a time, ``"cw:30kHz:200us"``; a bare nu1 is in kHz); or
        a spinsim spec file (``.toml``/``.json``) whose ``[saturation]`` table is used
        (cw, wurst, dfs, pm, ideal; format in docs/simulation.md).
    observed_isotope, partner_isotope : str
    mas_rate_hz, field_t : float
        MAS rate (Hz; rotor periods) and B0 (T).

    Returns
    -------
    saturation : spinsim Block or IdealSaturation
    description : str
    """
    from spinsim.spec import Spec, SpecError

    text = str(text).strip()
    if text.lower() == "ideal":
        table, where = {"type": "ideal"}, "ideal"
    elif text.lower().startswith("cw:"):
        table, where = _cw_short_form(text), text
    elif Path(text).suffix.lower() in (".toml", ".json"):
        try:
            raw = _spec_tables(text)
        except SpecError as exc:
            raise UserError(f"--saturation {text}: {exc}") from None
        if "saturation" not in raw:
            raise UserError(f"--saturation {text}: the file has no [saturation] table")
        table, where = raw["saturation"], f"[saturation] of {text}"
    else:
        raise UserError(f"--saturation {text}: give 'ideal', a CW pulse such as cw:30kHz:2tr (nu1, length in rotor "
                        "periods 'tr' or a time) or a spec file (.toml/.json) with a [saturation] table")
    raw = {"experiment": {"type": "respdor", "field_T": float(field_t), "mas_rate_hz": float(mas_rate_hz),
                          "t_max_ms": 1e3 * 2.0 / mas_rate_hz},
           "spins": [{"isotope": observed_isotope}, {"isotope": partner_isotope}], "saturation": table}
    try:
        sat = Spec(raw).saturation
    except SpecError as exc:
        raise UserError(f"--saturation {text}: {exc}") from None
    from spinsim.simulate import IdealSaturation

    if isinstance(sat, IdealSaturation):
        return sat, f"ideal instantaneous saturation ({sat.kind}, efficiency {sat.efficiency:g})"
    return sat, f"{sat.label} on {partner_isotope} for {sat.duration * 1e6:g} us ({sat.duration * mas_rate_hz:g} " \
                f"rotor periods), from {where}"


def _spec_tables(path):
    """The raw tables of a spec file (its own checks come when the saturation table is parsed)."""
    import json

    from spinsim.spec import SpecError, _read_spec_text

    text = _read_spec_text(Path(path))
    try:
        if Path(path).suffix.lower() == ".json":
            return json.loads(text)
        try:
            import tomllib
        except ModuleNotFoundError:  # pragma: no cover
            import tomli as tomllib
        return tomllib.loads(text)
    except ValueError as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        raise SpecError(f"not valid {Path(path).suffix.lstrip('.').upper()}: {exc}") from None


def _cw_short_form(text):
    """``cw:NU1:LENGTH`` -> a spec [saturation] table."""
    from .units import parse_frequency, parse_time

    parts = text.split(":")
    if len(parts) != 3:
        raise UserError(f"--saturation {text}: a CW pulse is cw:NU1:LENGTH, e.g. cw:30kHz:2tr or cw:30kHz:200us")
    nu1, _ = parse_frequency(parts[1], "--saturation nu1", default_unit="khz")
    length = parts[2].strip()
    m = re.fullmatch(r"([0-9.eE+-]+)\s*tr", length)
    table = {"type": "cw", "nu1_khz": nu1 / 1e3}
    if m:
        try:
            table["length_rotor_periods"] = float(m.group(1))
        except ValueError:
            raise UserError(f"--saturation {text}: cannot read {length!r} as a number of rotor periods") from None
    else:
        table["length_us"] = parse_time(length, "--saturation length")[0] * 1e6
    return table


def observed_csa(structure, index):
    """CSA (zeta ppm, eta, Euler angles rad) of an atom from its ``.magres`` shielding, or None.

    The shift scale's reference is the tensor's own isotropic shielding, so delta_iso = 0 (the
    carrier on resonance; REDOR and RESPDOR do not depend on it).
    """
    from spinsim.conventions import csa_from_shielding

    ms = structure.tensors.get(index, {}).get("ms")
    if ms is None:
        return None
    _, zeta, eta, euler = csa_from_shielding(ms, float(np.trace(np.asarray(ms, float))) / 3)
    return zeta, eta, euler


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
        raise UserError(f"--abundance {abundance}: give 'natural' or a fraction in (0, 1]") from None
    if not 0 < p <= 1:
        raise UserError(f"--abundance {abundance}: must lie in (0, 1] (a fraction, not a percentage)")
    return p


def _simulate(system, mas_rate_hz, times_s, saturation, powder, method, max_dt=0.5e-6):
    from spinsim import simulate_respdor

    res = simulate_respdor(system, mas_rate_hz, times_s, saturation=saturation, powder=powder, method=method,
                           max_dt=max_dt)
    return np.asarray(res.dSS0, float), res.info["engine"]


def _with_observed_csa(system, csa):
    from spinsim import Spin, SpinSystem

    if csa is None:
        return system
    zeta, eta, euler = csa
    obs = Spin(system.spins[0].isotope, csa_zeta_ppm=zeta, csa_eta=eta, csa_euler=tuple(euler))
    return SpinSystem([obs] + list(system.spins[1:]), system.field_t, list(system.dipolar), list(system.j))


def site_curve(partners, observed_isotope, partner_isotope, field_t, mas_rate_hz, times_s, saturation=None,
               powder=None, method="auto", abundance=1.0, csa=None, max_exact=12, tol=1e-4, n_samples=256, seed=0,
               partner_couplings=False, max_dt=0.5e-6):
    """dS/S0 of one observed atom, averaged over the random occupancy of its partner sites.

    Each partner site holds the partner isotope with probability ``abundance`` (independently);
    a site without it does not dephase. The curve is the probability-weighted mean of the curves
    of the occupancy patterns (an empty pattern gives 0): with ideal REDOR pulses S0 is the same
    for every pattern, so this is the dS/S0 of the mixture.

    Parameters
    ----------
    partners : list of Partner
    field_t, mas_rate_hz, times_s, saturation, powder, method
        As for :func:`build_system` and :func:`predict_curve`.
    abundance : float
        Probability in (0, 1] that a site is occupied (:func:`partner_abundance`).
    csa : tuple, optional
        CSA of the observed spin (:func:`observed_csa`).
    partner_couplings : bool
        Couple the partners to each other (:func:`build_system`); spinsim then runs its
        ``coupled`` engine.
    max_dt : float
        Longest time step of the simulation (s), see :func:`spinsim.simulate_respdor`.
    max_exact : int
        Up to this many partners, patterns are enumerated exactly, most probable first, until the
        probability left out is below ``tol`` (the bound on the error of dS/S0 is that mass times
        max |dS/S0|). Beyond it, ``n_samples`` patterns are drawn (Monte Carlo, fixed ``seed``)
        and the standard error of the mean is stated.

    Returns
    -------
    curve : ndarray
    info : dict
        ``engines`` (spinsim engines that ran), ``occupancy`` (how the average was taken).
    """
    times_s = np.asarray(times_s, float)
    n, p = len(partners), float(abundance)
    cache, engines = {}, set()

    def curve_of(pattern):
        if pattern not in cache:
            if not pattern:
                cache[pattern] = np.zeros_like(times_s)
            else:
                sy = build_system([partners[k] for k in pattern], observed_isotope, partner_isotope, field_t,
                                  partner_couplings=partner_couplings)
                cache[pattern], eng = _simulate(_with_observed_csa(sy, csa), mas_rate_hz, times_s, saturation,
                                                powder, method, max_dt)
                engines.add(eng)
        return cache[pattern]

    if p >= 1.0:
        return curve_of(tuple(range(n))), {"engines": sorted(engines), "occupancy": {"method": "all present",
                                                                                     "abundance": 1.0}}
    if n <= max_exact:
        curve, info = _enumerate(n, p, curve_of, tol)
    else:
        curve, info = _monte_carlo(n, p, curve_of, n_samples, seed)
    info.update({"abundance": p, "n_sites": n, "n_simulated": len([k for k in cache if k])})
    return curve, {"engines": sorted(engines), "occupancy": info}


def _enumerate(n, p, curve_of, tol):
    """Occupancy patterns by decreasing probability (fewer occupied sites first when p < 1/2)."""
    from itertools import combinations
    from math import comb

    order = sorted(range(n + 1), key=lambda k: -(p**k * (1 - p) ** (n - k)))
    total, left, used = 0.0, 1.0, 0
    for k in order:
        if left <= tol:
            break
        prob = p**k * (1 - p) ** (n - k)
        for pattern in combinations(range(n), k):
            total = total + prob * curve_of(pattern)
        left -= comb(n, k) * prob
        used += comb(n, k)
    left = max(left, 0.0)
    return total, {"method": "exact enumeration", "n_patterns": used, "n_patterns_all": 2**n,
                   "omitted_probability": left}


def _monte_carlo(n, p, curve_of, n_samples, seed):
    rng = np.random.default_rng(seed)
    draws = rng.random((int(n_samples), n)) < p
    ys = np.array([curve_of(tuple(np.flatnonzero(d))) for d in draws])
    se = ys.std(axis=0, ddof=1) / np.sqrt(len(ys))
    return ys.mean(axis=0), {"method": "Monte Carlo", "n_samples": int(n_samples), "seed": int(seed),
                             "max_standard_error": float(np.max(se))}


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
                       times_s, field_t=14.1, powder=None, max_partners=None, cq_hz=0.0, eta_q=0.0,
                       partner_couplings=False, **site_options):
    """How the predicted curve changes as the cutoff radius grows.

    Parameters
    ----------
    structure : Structure
    observed : list of int
        Observed atom indices (curves averaged with equal weights).
    cutoffs_angstrom : sequence of float
        Increasing radii (angstrom).
    mas_rate_hz, times_s, field_t, powder, max_partners, cq_hz, eta_q
        As for :func:`find_partners` and :func:`site_curve`.
    partner_couplings : bool or "auto"
        Couple the partners to each other (:func:`build_system`); ``"auto"``: for each observed
        atom and shell while :func:`couplings_affordable` says so, as the command does.
    **site_options
        Passed to :func:`site_curve` (``saturation``, ``method``, ``abundance``, ``n_samples``,
        ``seed``); the observed spin's CSA comes from the structure's shielding tensors.

    Returns
    -------
    list of dict
        Per cutoff: ``cutoff_angstrom``, ``n_partners`` (summed over observed atoms), ``dss0``
        and ``max_change`` (max |d dS/S0| from the previous cutoff; None for the first, and
        ``dss0`` None while an observed atom has no partner).
    """
    rows, prev, last_key = [], None, None
    for rc in cutoffs_angstrom:
        found = [find_partners(structure, i, observed_isotope, partner_isotope, rc, max_partners, cq_hz, eta_q)
                 for i in observed]
        row = {"cutoff_angstrom": float(rc), "n_partners": sum(map(len, found)), "dss0": None, "max_change": None}
        key = tuple(tuple((p.index, round(p.distance_angstrom, 9)) for p in ps) for ps in found)
        if all(found) and rows and key == last_key:  # no new partner in this shell: the same curve
            row["dss0"], row["max_change"] = prev, 0.0
        elif all(found):
            y = np.mean([site_curve(ps, observed_isotope, partner_isotope, field_t, mas_rate_hz, times_s,
                                    powder=powder, csa=observed_csa(structure, i),
                                    partner_couplings=(couplings_affordable(ps, partner_isotope)
                                                       if partner_couplings == "auto" else bool(partner_couplings)),
                                    **site_options)[0]
                         for i, ps in zip(observed, found)], axis=0)
            row["dss0"] = y
            if prev is not None:
                row["max_change"] = float(np.max(np.abs(y - prev)))
        prev, last_key = row["dss0"], key
        rows.append(row)
    return rows
