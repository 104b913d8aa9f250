"""Reading structures: atoms (ASE), the NMR tensors of a CASTEP ``.magres`` file, checks of the cell
and of the contacts, and the selection of the observed atoms.

ASE is an optional dependency: ``pip install respdor[structures]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError

#: Spin-1/2 isotope used for an observed element when none is named.
OBSERVED_ISOTOPE = {"C": "13C", "N": "15N", "P": "31P", "Si": "29Si", "H": "1H", "F": "19F", "Se": "77Se"}

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
        atoms, same_sites = _read_atoms(ase, path, fmt)
    except Exception as exc:  # ASE raises many kinds; the user needs the file and the reason
        # ASE's magres reader refuses files whose tensors cover only some atoms; their [atoms]
        # block is simple enough to read directly
        atoms = _magres_atoms(path) if fmt == "magres" else None
        if atoms is None:
            msg = f"{path}: ASE cannot read this structure ({type(exc).__name__}: {exc})"
            raise UserError(msg.splitlines()[0]) from None
    if len(atoms) == 0:
        raise UserError(f"{path}: the structure has no atoms")
    if fmt is None and path.suffix.lower() in (".cif", ".mmcif"):
        check_cif_sites(path, atoms, same_sites)
    check_cell(atoms, path)
    check_contacts(atoms, path)
    tensors = {}
    if fmt == "magres":
        tensors = _magres_tensors(path, atoms, raw)
    return Structure(atoms, tensors, str(path))


#: ASE's warning when two sites of a CIF are the same position (also by the space group's symmetry).
_SAME_SITES = re.compile(r"scaled_positions (\d+) and (\d+) are equivalent")


def _read_atoms(ase, path, fmt):
    """(atoms, [(site, site)] that ASE merged because they sit at one position); other warnings pass on."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        atoms = ase.io.read(str(path), format=fmt)
    pairs = []
    for w in caught:
        m = _SAME_SITES.search(str(w.message))
        if m:
            pairs.append((int(m.group(1)), int(m.group(2))))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return atoms, pairs


def _cif_site_names(path):
    """(['label (element)', ...], [element, ...]) of the atom-site loop of the CIF block ASE reads (the
    last with atoms)."""
    try:
        from ase.io.cif import parse_cif

        blocks = [b for b in parse_cif(str(path)) if b.has_structure()]
        block = blocks[-1]
        labels = block.get("_atom_site_label") or []
        symbols = block.get("_atom_site_type_symbol") or labels
    except Exception:  # the names only decorate the message
        return [], []
    elements = [re.sub(r"[^A-Za-z].*$", "", str(sym)) for sym in symbols]
    return [f"{lab} ({sym})" for lab, sym in zip(labels, symbols)], elements


def check_cif_sites(path, atoms, same_sites=()):
    """Refuse a CIF in which two sites of the atom-site loop sit at one position.

    ASE keeps only the first of two sites at one position (also when the space group's symmetry
    maps one onto the other) and folds a site shared by two elements into one atom of mixed
    occupancy; either way an atom of the file would silently vanish from the prediction.

    Parameters
    ----------
    path : Path
    atoms : ase.Atoms
        As ASE read the file (``info["occupancy"]`` when the CIF gives occupancies).
    same_sites : sequence of (int, int)
        Site indices ASE reported as equivalent.

    Raises
    ------
    UserError
        One line naming the file and both sites (label and element).
    """
    names, elements = _cif_site_names(path)

    def name(k):
        return f"site {k} {names[k]}" if k < len(names) else f"site {k}"

    for a, b in same_sites:
        if max(a, b) < len(elements) and elements[a] == elements[b]:
            continue  # one atom listed again (or a symmetry copy of it): ASE's merge loses nothing
        raise UserError(f"{path}: {name(a)} and {name(b)} sit at the same position (or at positions the space "
                        "group's symmetry makes equal); ASE would keep only the first: check their coordinates, "
                        "or give one site per atom")
    occupancy = atoms.info.get("occupancy") or {}
    mixed = [int(k) for k, occ in occupancy.items() if len(occ) > 1]
    if mixed:
        occ = occupancy[str(mixed[0])]
        shared = [k for k in mixed if set(occupancy[str(k)]) == set(occ)][:2]
        parts = ", ".join(f"{e} {v:g}" for e, v in occ.items())
        raise UserError(f"{path}: {' and '.join(name(k) for k in shared)} share one position (occupancies "
                        f"{parts}): respdor places one whole atom per site; give an ordered model with one "
                        "element per site")


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
    from ..files import read_text

    for lineno, line in enumerate(read_text(path, "magres file").splitlines(), 1):
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

    Such atoms take defaults (:func:`~respdor.structure.partners.find_partners`); a complete CASTEP file gives every atom its
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
            raise UserError(f"observe={which}: cannot read {part.strip()!r}; write an element and a count, "
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
            raise UserError(f"observe={which}: the structure has no {which} atom")
        return found
    rule = _bonded_rule(which) if isinstance(which, str) else None
    if rule is not None:
        return _select_bonded(atoms, which, *rule)
    try:
        idx = [int(x) for x in which.split(",")] if isinstance(which, str) else [int(x) for x in np.atleast_1d(which)]
    except ValueError:
        raise UserError(f"observe={which}: give an element symbol (C), a bonding selection (C[O2]) or 0-based "
                        "atom indices (3,7)") from None
    bad = [i for i in idx if not 0 <= i < len(symbols)]
    if bad:
        raise UserError(f"observe={which}: atom index {bad[0]} outside 0..{len(symbols) - 1}")
    return idx


def _select_bonded(atoms, which, element, terms):
    symbols = atoms.get_chemical_symbols()
    if element not in symbols:
        raise UserError(f"observe={which}: the structure has no {element} atom")
    nb = bonded_neighbours(atoms)
    found = [i for i, s in enumerate(symbols) if s == element and all(
        (nb[i].get(e, 0) >= n) if more else (nb[i].get(e, 0) == n) for e, n, more in terms)]
    if not found:
        seen = sorted({", ".join(f"{e}{n}" for e, n in sorted(nb[i].items())) or "nothing"
                       for i, s in enumerate(symbols) if s == element})
        raise UserError(f"observe={which}: no {element} atom matches; the {element} atoms are bonded to: "
                        + "; ".join(seen))
    return found


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
