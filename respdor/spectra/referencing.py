"""Chemical-shift referencing: unified scale (IUPAC Xi ratios) and a secondary-reference table.

Conventions
-----------
* Shifts delta in ppm on the IUPAC unified scale, delta = (nu - nu_ref) / nu_ref * 1e6, where
  nu_ref = Xi * nu_TMS and nu_TMS is the 1H frequency of TMS on the same magnet (Harris et al.,
  Pure Appl. Chem. 73, 1795, 2001). Xi comes from :class:`spinsim.isotopes.Isotope`.
* For 111Cd / 113Cd the primary reference is neat Me2Cd (delta = 0).
* Secondary references (e.g. solid Cd(acac)2) live in a user-editable CSV table with a
  citation column (``secondary_references.csv`` next to this module, or a file of the user's);
  no reference shift is hard-coded in the code.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from spinsim.isotopes import ISOTOPES, get_isotope

from ..errors import DataFileError, UserError

__all__ = [
    "SecondaryReference",
    "load_secondary_references",
    "find_secondary_reference",
    "reference_frequency_hz",
    "shift_ppm",
    "frequency_hz",
    "correction_from_secondary",
    "infer_nucleus",
    "larmor_from_field",
    "DEFAULT_TABLE",
]

# Shielded proton gyromagnetic ratio gamma'_p / 2 pi (H2O, 25 C), CODATA 2018, in Hz/T. The 1H
# frequency of TMS on a magnet differs from it by a few ppm only, far below the 0.4 % by which
# a bare-nucleus gamma misses a heavy nucleus's reference (113Cd: Me2Cd is strongly shielded).
GAMMA_PROTON_SHIELDED_HZ_PER_T = 42.57638474e6

DEFAULT_TABLE = Path(__file__).with_name("secondary_references.csv")


@dataclass(frozen=True)
class SecondaryReference:
    """One row of the secondary-reference table.

    Attributes
    ----------
    nucleus : str
        Isotope, e.g. ``"113Cd"``.
    compound : str
        Reference compound as written in the table.
    delta_ppm : float
        Its shift on the unified scale, ppm.
    conditions : str
        Sample conditions (solid/solution, temperature...).
    citation : str
        Where the number comes from.
    verified : bool
        Whether a person checked the number against the citation.
    """

    nucleus: str
    compound: str
    delta_ppm: float
    conditions: str
    citation: str
    verified: bool


def load_secondary_references(path=None) -> list[SecondaryReference]:
    """Read a secondary-reference CSV (columns nucleus, compound, delta_ppm, conditions, citation, verified).

    Lines starting with ``#`` are comments. Raises :class:`DataFileError` naming the line of a bad row.
    """
    path = Path(path) if path is not None else DEFAULT_TABLE
    if not path.is_file():
        raise DataFileError(path, "secondary-reference table not found")
    rows: list[SecondaryReference] = []
    with open(path, newline="", encoding="utf-8") as fh:
        lines = [(i + 1, line) for i, line in enumerate(fh) if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise DataFileError(path, "no header line")
    reader = csv.reader([line for _, line in lines])
    header = [h.strip().lower() for h in next(reader)]
    need = ["nucleus", "compound", "delta_ppm", "citation"]
    missing = [n for n in need if n not in header]
    if missing:
        raise DataFileError(path, f"missing column(s) {', '.join(missing)}", line=lines[0][0])
    for (lineno, _), fields in zip(lines[1:], reader):
        rec = dict(zip(header, (f.strip() for f in fields)))
        try:
            delta = float(rec["delta_ppm"])
        except ValueError:
            raise DataFileError(path, f"delta_ppm {rec['delta_ppm']!r} is not a number", line=lineno) from None
        try:
            nucleus = get_isotope(rec["nucleus"]).symbol
        except ValueError:
            raise DataFileError(path, f"unknown nucleus {rec['nucleus']!r}", line=lineno) from None
        if not rec.get("citation"):
            raise DataFileError(path, f"reference {rec['compound']!r} has no citation", line=lineno)
        rows.append(
            SecondaryReference(
                nucleus,
                rec["compound"],
                delta,
                rec.get("conditions", ""),
                rec["citation"],
                rec.get("verified", "no").lower() in ("yes", "true", "1"),
            )
        )
    return rows


def find_secondary_reference(compound: str, nucleus: str = "113Cd", path=None) -> SecondaryReference:
    """Look a compound up (case-insensitive, spaces ignored) in the secondary-reference table."""
    key = compound.replace(" ", "").lower()
    nuc = get_isotope(nucleus).symbol
    rows = load_secondary_references(path)
    for row in rows:
        if row.nucleus == nuc and row.compound.replace(" ", "").lower() == key:
            return row
    known = ", ".join(r.compound for r in rows if r.nucleus == nuc) or "none"
    raise UserError(f"no secondary reference {compound!r} for {nuc} in {path or DEFAULT_TABLE} (known: {known})")


def reference_frequency_hz(nucleus: str, nu_tms_hz: float) -> float:
    """Frequency of delta = 0 for ``nucleus`` on a magnet where 1H of TMS is at ``nu_tms_hz`` (Hz)."""
    iso = get_isotope(nucleus)
    if iso.frequency_ratio is None:
        raise UserError(f"no unified-scale frequency ratio Xi is tabulated for {iso.symbol}")
    return iso.frequency_ratio * nu_tms_hz


def shift_ppm(nu_hz, nucleus: str, nu_tms_hz: float):
    """delta = (nu - Xi nu_TMS) / (Xi nu_TMS) * 1e6 in ppm (absolute frequencies in Hz)."""
    ref = reference_frequency_hz(nucleus, nu_tms_hz)
    return (nu_hz - ref) / ref * 1e6


def frequency_hz(delta_ppm, nucleus: str, nu_tms_hz: float):
    """Inverse of :func:`shift_ppm`: absolute frequency in Hz of a shift delta (ppm)."""
    return reference_frequency_hz(nucleus, nu_tms_hz) * (1.0 + delta_ppm * 1e-6)


def correction_from_secondary(observed_ppm: float, compound: str, nucleus: str = "113Cd", path=None):
    """Shift correction (ppm) to add to every shift so that the reference line reads its table value.

    Returns
    -------
    correction : float
        ``table delta - observed delta`` in ppm.
    reference : SecondaryReference
        The table row used (check its ``verified`` flag and citation).
    """
    ref = find_secondary_reference(compound, nucleus, path)
    return ref.delta_ppm - float(observed_ppm), ref


def infer_nucleus(bf_mhz: float, proton_bf_mhz: float | None = None, tol_mhz: float | None = None):
    """Infer the observed isotope from its basic frequency when the data set does not name it.

    BF / Xi is the 1H frequency of the magnet. If the 1H basic frequency of the same magnet is
    known (``proton_bf_mhz``, e.g. a decoupler channel set to 1H) it must match within
    ``tol_mhz`` (default 0.02 MHz); otherwise it must lie within ``tol_mhz`` (default 1 MHz) of a
    multiple of 50 MHz (magnets are sold as 300, 400, 500... MHz; Bruker BF values are e.g.
    400.13 or 400.20).

    Returns
    -------
    list of (str, float)
        Candidate isotopes with the implied 1H frequency (MHz), best first; empty if none fits.
    """
    out = []
    for sym, iso in ISOTOPES.items():
        if not iso.frequency_ratio or sym == "1H":
            continue
        h = bf_mhz / iso.frequency_ratio
        if h > 1300.0:  # no magnet above ~1.2 GHz 1H exists
            continue
        if proton_bf_mhz is not None:
            dev, tol = abs(h - proton_bf_mhz), tol_mhz or 0.02
        else:
            dev, tol = abs(h - round(h / 50.0) * 50.0), tol_mhz or 1.0
        if dev < tol:
            out.append((sym, h, dev))
    out.sort(key=lambda t: t[2])
    return [(s, h) for s, h, _ in out]


def larmor_from_field(nucleus: str, field_tesla: float) -> float:
    """Frequency of delta = 0 of ``nucleus`` at B0 (Hz): Xi x nu(1H, TMS), nu(1H) = gamma'_p B0 / 2 pi.

    This is what a spectrometer uses (its BF1); ``|gamma| B0 / 2 pi`` of the bare nucleus is
    0.43 % off for 113Cd (89.18 instead of 88.80 MHz on a 400.13 MHz magnet).
    """
    return reference_frequency_hz(nucleus, GAMMA_PROTON_SHIELDED_HZ_PER_T * float(field_tesla))
