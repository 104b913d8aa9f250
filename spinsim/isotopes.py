"""Nuclear isotope data: the single home of spin, gyromagnetic ratio, abundance and quadrupole moment.

Every other module (``spinsim`` and ``respdor`` alike) looks nuclei up here; no gyromagnetic
ratio is typed anywhere else. Importing this module compiles nothing (no numba).

Sources
-------
* Spin quantum numbers, gyromagnetic ratios gamma (rad s^-1 T^-1), natural abundances (%) and
  unified-scale frequency ratios Xi (%): R. K. Harris, E. D. Becker, S. M. Cabral de Menezes,
  R. Goodfellow, P. Granger, "NMR nomenclature. Nuclear spin properties and conventions for
  chemical shifts (IUPAC Recommendations 2001)", Pure Appl. Chem. 73, 1795-1818 (2001), Table 1.
  The gamma values agree with ``soprano/data/nmrdata.json``.
* Quadrupole moments Q (millibarn, 1 mb = 1e-31 m^2): P. Pyykkoe, "Year-2008 nuclear quadrupole
  moments", Mol. Phys. 106, 1965-1974 (2008).

Sign conventions
----------------
gamma keeps its sign (111Cd, 113Cd, 15N, 29Si, 17O, 119Sn, 47/49Ti are negative). Dipolar
coupling constants built from these values are reported as magnitudes (see
:mod:`spinsim.dipolar`); the sign matters only for the sense of precession, which the REDOR and
RESPDOR experiments do not see.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["Isotope", "ISOTOPES", "get_isotope", "larmor_frequency_hz", "list_isotopes"]


@dataclass(frozen=True)
class Isotope:
    """Nuclear properties of one isotope.

    Attributes
    ----------
    symbol : str
        Mass number followed by the element symbol, e.g. ``"27Al"``.
    spin : float
        Spin quantum number I (1/2, 1, 3/2, ... 9/2).
    gamma : float
        Gyromagnetic ratio in rad s^-1 T^-1 (signed).
    abundance : float
        Natural isotopic abundance as a fraction in [0, 1].
    quadrupole_moment : float
        Electric quadrupole moment Q in m^2 (0 for I = 1/2).
    frequency_ratio : float or None
        IUPAC unified-scale frequency ratio Xi as a fraction (e.g. 0.25145020 for 13C), or None
        where the IUPAC table gives none.
    """

    symbol: str
    spin: float
    gamma: float
    abundance: float
    quadrupole_moment: float = 0.0
    frequency_ratio: float | None = None

    @property
    def gamma_hz_per_tesla(self) -> float:
        """Gyromagnetic ratio gamma / 2 pi in Hz T^-1 (signed)."""
        return self.gamma / (2.0 * math.pi)

    @property
    def multiplicity(self) -> int:
        """Number of Zeeman states, 2I + 1."""
        return int(round(2 * self.spin)) + 1

    @property
    def is_quadrupolar(self) -> bool:
        """True for I > 1/2."""
        return self.spin > 0.5

    @property
    def spin_label(self) -> str:
        """Spin as a fraction string, e.g. ``"5/2"``."""
        return str(Fraction(self.spin).limit_denominator(2))


def _iso(symbol, spin, gamma_1e7, abundance_pct, q_mb=0.0, xi_pct=None):
    return Isotope(
        symbol=symbol,
        spin=float(Fraction(spin)),
        gamma=gamma_1e7 * 1e7,
        abundance=abundance_pct / 100.0,
        quadrupole_moment=q_mb * 1e-31,
        frequency_ratio=None if xi_pct is None else xi_pct / 100.0,
    )


# symbol, I, gamma (1e7 rad s^-1 T^-1), natural abundance (%), Q (mb), Xi (%)
_TABLE = [
    _iso("1H", "1/2", 26.7522128, 99.9885, 0.0, 100.000000),
    _iso("2H", "1", 4.10662791, 0.0115, 2.860, 15.350609),
    _iso("6Li", "1", 3.9371709, 7.59, -0.808, 14.716086),
    _iso("7Li", "3/2", 10.3977013, 92.41, -40.0, 38.863797),
    _iso("11B", "3/2", 8.5847044, 80.1, 40.59, 32.083974),
    _iso("13C", "1/2", 6.728284, 1.07, 0.0, 25.145020),
    _iso("14N", "1", 1.9337792, 99.632, 20.44, 7.226317),
    _iso("15N", "1/2", -2.71261804, 0.368, 0.0, 10.136767),
    _iso("17O", "5/2", -3.62808, 0.038, -25.58, 13.556457),
    _iso("19F", "1/2", 25.18148, 100.0, 0.0, 94.094011),
    _iso("23Na", "3/2", 7.0808493, 100.0, 104.0, 26.451900),
    _iso("25Mg", "5/2", -1.63887, 10.00, 199.4, 6.121635),
    _iso("27Al", "5/2", 6.9762715, 100.0, 146.6, 26.056859),
    _iso("29Si", "1/2", -5.3190, 4.6832, 0.0, 19.867187),
    _iso("31P", "1/2", 10.8394, 100.0, 0.0, 40.480742),
    _iso("35Cl", "3/2", 2.624198, 75.78, -81.65, 9.797909),
    _iso("43Ca", "7/2", -1.8030690, 0.135, -40.8, 6.730029),
    _iso("47Ti", "5/2", -1.5105, 7.44, 302.0, 5.637534),
    _iso("49Ti", "7/2", -1.51095, 5.41, 247.0, 5.639037),
    _iso("51V", "7/2", 7.0455117, 99.750, -52.0, 26.302948),
    _iso("67Zn", "5/2", 1.676688, 4.10, 150.0, 6.256803),
    _iso("69Ga", "3/2", 6.438855, 60.108, 171.0, 24.001354),
    _iso("71Ga", "3/2", 8.181171, 39.892, 107.0, 30.496704),
    _iso("77Se", "1/2", 5.1253857, 7.63, 0.0, 19.071513),
    _iso("93Nb", "9/2", 6.5674, 100.0, -320.0, 24.476170),
    _iso("111Cd", "1/2", -5.6983131, 12.80, 0.0, 21.215480),
    _iso("113Cd", "1/2", -5.9609155, 12.22, 0.0, 22.193175),
    _iso("115In", "9/2", 5.8972, 95.71, 770.0, 21.912629),
    _iso("119Sn", "1/2", -10.0317, 8.59, 0.0, 37.290632),
    _iso("207Pb", "1/2", 5.58046, 22.1, 0.0, 20.920599),
]

ISOTOPES: dict[str, Isotope] = {iso.symbol: iso for iso in _TABLE}

#: Covalent radii (angstrom) of the elements of the table, B. Cordero et al., Dalton Trans. 2008,
#: 2832 (the values of ``ase.data.covalent_radii``); used for the shortest possible distance
#: (:func:`spinsim.plausibility.shortest_distance_angstrom`).
COVALENT_RADIUS_A = {
    "H": 0.31, "Li": 1.28, "B": 0.84, "C": 0.76, "N": 0.71, "O": 0.66, "F": 0.57, "Na": 1.66, "Mg": 1.41,
    "Al": 1.21, "Si": 1.11, "P": 1.07, "Cl": 1.02, "Ca": 1.76, "Ti": 1.60, "V": 1.53, "Zn": 1.22, "Ga": 1.22,
    "Se": 1.20, "Nb": 1.64, "Cd": 1.44, "In": 1.42, "Sn": 1.39, "Pb": 1.46,
}

_SYMBOL_RE = re.compile(r"^\s*(\d+)\s*([A-Za-z]{1,2})\s*$|^\s*([A-Za-z]{1,2})\s*-?\s*(\d+)\s*$")


def _normalise_symbol(name: str) -> str:
    match = _SYMBOL_RE.match(str(name))
    if not match:
        return str(name).strip()
    mass = match.group(1) or match.group(4)
    element = match.group(2) or match.group(3)
    return f"{int(mass)}{element[0].upper()}{element[1:].lower()}"


def get_isotope(name: str | Isotope) -> Isotope:
    """Look an isotope up by name.

    Parameters
    ----------
    name : str or Isotope
        ``"27Al"``, ``"27al"``, ``"Al27"`` or ``"Al-27"`` all name 27Al. An element without a
        mass number (``"Al"``) is refused on purpose: the isotope must always be explicit.

    Returns
    -------
    Isotope

    Raises
    ------
    ValueError
        If the isotope is not in the table; the message lists the known ones.
    """
    if isinstance(name, Isotope):
        return name
    key = _normalise_symbol(name)
    try:
        return ISOTOPES[key]
    except KeyError:
        raise ValueError(
            f"unknown isotope {name!r}: give mass number and element, one of "
            + ", ".join(ISOTOPES)
        ) from None


def list_isotopes() -> list[str]:
    """Symbols of all tabulated isotopes, lightest first."""
    return list(ISOTOPES)


def larmor_frequency_hz(isotope: str | Isotope, field_tesla: float) -> float:
    """Larmor frequency |gamma B0| / 2 pi in Hz.

    Parameters
    ----------
    isotope : str or Isotope
        Isotope name, e.g. ``"113Cd"``.
    field_tesla : float
        Magnetic flux density B0 in T.

    Returns
    -------
    float
        Larmor frequency in Hz (positive; the sign of gamma is dropped).
    """
    iso = get_isotope(isotope)
    return abs(iso.gamma) * field_tesla / (2.0 * math.pi)


def element_of(isotope: str | Isotope) -> str:
    """Element symbol of an isotope ("27Al" -> "Al")."""
    return get_isotope(isotope).symbol.lstrip("0123456789")
