"""Spin systems for the simulation engine: spins, interactions, and their validation.

Plain Python (no numba): a :class:`SpinSystem` is a description; :mod:`spinsim.hamiltonian`
turns it into arrays for the kernels.

Conventions
-----------
* Spin 0 is the observed spin S (spin 1/2). Other spins are partners I (any spin 1/2 .. 9/2) of
  other isotopes; a channel is an isotope, and rf on a channel acts on every spin of it.
* Shifts in ppm; CSA in Haeberlen form (``zeta`` = delta_aniso = delta_zz - delta_iso in ppm,
  ``eta`` in [0, 1]) or Herzfeld-Berger (``span`` ppm, ``skew``), converted with
  :mod:`spinsim.csa`.
* Quadrupolar coupling ``cq_hz`` = e^2 q Q / h in Hz (signed), ``eta_q`` in [0, 1].
* Dipolar coupling ``d_hz`` = (mu0/4pi) hbar |gamma_1 gamma_2| / (2 pi r^3) in Hz (magnitude);
  the secular Hamiltonian is ``-pi D (3 cos^2 theta - 1) 2 S_z I_z`` (rad/s), so that the static
  splitting of the S line is 2D at theta = 0 and D at theta = 90 deg.
* J couplings ``j_hz`` in Hz: ``2 pi J S_z I_z`` (weak-coupling, heteronuclear).
* Partner-partner couplings: between partners of different isotopes the same secular ``2 I_z J_z``
  form; between two partners of the **same isotope** (homonuclear, e.g. two 27Al) the full secular
  form in their common rotating frame, ``-pi D (3 cos^2 theta - 1) (3 I_z J_z - I.J)`` (rad/s),
  i.e. the ZZ term above plus the flip-flop ``+(pi D/2)(3 cos^2 theta - 1)(I+ J- + I- J+)``, which
  exchanges populations between the two spins (not truncated by the quadrupolar interaction between
  their central transitions). The flip-flop makes the internal Hamiltonian non-diagonal: such
  systems run on the ``coupled`` engine (:mod:`spinsim.simulate`).
* Euler angles (alpha, beta, gamma) in radians, ZYZ, active: a tensor with principal axes along
  x, y, z is rotated by R = Rz(alpha) Ry(beta) Rz(gamma) into the crystal (molecule) frame.
* Principal axes: CSA in Haeberlen order (|d_zz| >= |d_xx| >= |d_yy| about d_iso, as SIMPSON);
  EFG in the usual order |V_zz| >= |V_yy| >= |V_xx| (SIMPSON angles: spinsim.conventions.efg_euler_to_simpson).
  :mod:`spinsim.conventions` holds every conversion (SIMPSON, CASTEP magres Cartesian tensors).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import csa as _csa
from .dipolar import ANGSTROM, dipolar_coupling_hz
from .isotopes import Isotope, get_isotope

__all__ = ["Spin", "DipolarCoupling", "JCoupling", "SpinSystem"]


def _euler(value, what):
    if value is None:
        return (0.0, 0.0, 0.0)
    arr = np.asarray(value, dtype=float).ravel()
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} Euler angles must be three finite numbers (rad), got {value!r}")
    return tuple(float(x) for x in arr)


def _finite(value, what):
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return v


@dataclass(frozen=True)
class Spin:
    """One nucleus.

    Parameters
    ----------
    isotope : str or Isotope
        E.g. ``"13C"``, ``"27Al"``.
    shift_ppm : float
        Isotropic chemical shift in ppm relative to the channel reference (the rf carrier sits at
        0 ppm plus the channel offset).
    csa_zeta_ppm, csa_eta : float
        Haeberlen reduced anisotropy (ppm) and asymmetry in [0, 1].
    csa_euler : tuple of 3 float
        CSA principal-axis frame -> crystal frame, rad.
    cq_hz, eta_q : float
        Quadrupolar coupling constant e^2qQ/h in Hz and asymmetry in [0, 1] (I > 1/2 only).
    q_euler : tuple of 3 float
        EFG principal-axis frame -> crystal frame, rad.
    """

    isotope: Isotope
    shift_ppm: float = 0.0
    csa_zeta_ppm: float = 0.0
    csa_eta: float = 0.0
    csa_euler: tuple = (0.0, 0.0, 0.0)
    cq_hz: float = 0.0
    eta_q: float = 0.0
    q_euler: tuple = (0.0, 0.0, 0.0)

    def __post_init__(self):
        object.__setattr__(self, "isotope", get_isotope(self.isotope))
        object.__setattr__(self, "shift_ppm", _finite(self.shift_ppm, "isotropic shift (ppm)"))
        zeta = _finite(self.csa_zeta_ppm, "CSA zeta (ppm)")
        _csa.validate_haeberlen(zeta, float(self.csa_eta))
        object.__setattr__(self, "csa_zeta_ppm", zeta)
        object.__setattr__(self, "csa_eta", float(self.csa_eta))
        object.__setattr__(self, "csa_euler", _euler(self.csa_euler, "CSA"))
        cq = _finite(self.cq_hz, "CQ (Hz)")
        if not (0.0 <= float(self.eta_q) <= 1.0):
            raise ValueError(f"quadrupolar asymmetry eta_q must lie in [0, 1], got {self.eta_q!r}")
        if cq != 0.0 and self.isotope.spin < 1.0:
            raise ValueError(f"{self.isotope.symbol} has spin 1/2: it cannot have CQ = {cq!r} Hz")
        object.__setattr__(self, "cq_hz", cq)
        object.__setattr__(self, "eta_q", float(self.eta_q))
        object.__setattr__(self, "q_euler", _euler(self.q_euler, "quadrupolar"))

    @classmethod
    def with_maryland_csa(cls, isotope, shift_ppm, span_ppm, skew, **kw):
        """Build a spin from a Herzfeld-Berger CSA (span in ppm, skew in [-1, 1])."""
        _csa.validate_maryland(span_ppm, skew)
        _, zeta, eta = _csa.maryland_to_haeberlen(shift_ppm, span_ppm, skew)
        return cls(isotope, shift_ppm=shift_ppm, csa_zeta_ppm=zeta, csa_eta=eta, **kw)

    @property
    def spin(self) -> float:
        return self.isotope.spin

    @property
    def multiplicity(self) -> int:
        return self.isotope.multiplicity


@dataclass(frozen=True)
class DipolarCoupling:
    """Secular heteronuclear dipolar coupling between spins ``i`` and ``j``.

    Parameters
    ----------
    i, j : int
        Spin indices (different isotopes).
    d_hz : float
        Dipolar coupling constant D in Hz (magnitude, >= 0).
    euler : tuple of 3 float
        Orientation of the internuclear vector: (alpha, beta, gamma) rotate z onto the bond, rad;
        (phi, theta, 0) for a bond at polar angles theta, phi in the crystal frame.
    """

    i: int
    j: int
    d_hz: float
    euler: tuple = (0.0, 0.0, 0.0)

    def __post_init__(self):
        d = _finite(self.d_hz, "dipolar coupling D (Hz)")
        if d < 0:
            raise ValueError(f"dipolar coupling D must be >= 0 Hz (a magnitude), got {d!r}")
        object.__setattr__(self, "d_hz", d)
        object.__setattr__(self, "euler", _euler(self.euler, "dipolar"))


@dataclass(frozen=True)
class JCoupling:
    """Isotropic (weak, heteronuclear) J coupling in Hz between spins ``i`` and ``j``."""

    i: int
    j: int
    j_hz: float

    def __post_init__(self):
        object.__setattr__(self, "j_hz", _finite(self.j_hz, "J coupling (Hz)"))


@dataclass
class SpinSystem:
    """Observed spin-1/2 S (index 0) and heteronuclear partners, in a field B0.

    Parameters
    ----------
    spins : list of Spin
        ``spins[0]`` is the observed spin (must be spin 1/2).
    field_t : float
        Magnetic flux density B0 in T (> 0).
    dipolar : list of DipolarCoupling
    j : list of JCoupling

    Notes
    -----
    The observed isotope may appear only once. Couplings to it are heteronuclear (secular,
    weak-coupling form); two partners of the same isotope may carry a homonuclear dipolar
    coupling (ZZ plus flip-flop, see the module docstring), but no J coupling.
    """

    spins: list
    field_t: float
    dipolar: list = field(default_factory=list)
    j: list = field(default_factory=list)

    def __post_init__(self):
        self.spins = [s if isinstance(s, Spin) else Spin(**s) for s in self.spins]
        if not self.spins:
            raise ValueError("a spin system needs at least one spin")
        self.field_t = _finite(self.field_t, "field B0 (T)")
        if self.field_t <= 0:
            raise ValueError(f"field B0 must be > 0 T, got {self.field_t!r}")
        s = self.spins[0]
        if s.spin != 0.5:
            raise ValueError(f"the observed spin (spin 0, {s.isotope.symbol}) must be spin 1/2")
        for k, sp in enumerate(self.spins[1:], start=1):
            if sp.isotope.symbol == s.isotope.symbol:
                raise ValueError(
                    f"spin {k} is {sp.isotope.symbol}, the observed isotope: homonuclear spins are "
                    "not supported"
                )
        n = len(self.spins)
        seen = set()
        for c in list(self.dipolar) + list(self.j):
            if not (0 <= c.i < n and 0 <= c.j < n) or c.i == c.j:
                raise ValueError(f"coupling between spins {c.i} and {c.j}: indices must be distinct in 0..{n-1}")
            if self.spins[c.i].isotope.symbol == self.spins[c.j].isotope.symbol and not isinstance(
                    c, DipolarCoupling):
                raise ValueError(
                    f"J coupling between spins {c.i} and {c.j} is homonuclear "
                    f"({self.spins[c.i].isotope.symbol}): not supported"
                )
            key = (type(c).__name__, min(c.i, c.j), max(c.i, c.j))
            if key in seen:
                raise ValueError(f"{key[0]} between spins {c.i} and {c.j} given twice")
            seen.add(key)

    @classmethod
    def from_coordinates(cls, spins, coordinates_angstrom, field_t, j=(), cutoff_hz=0.0, homonuclear=False):
        """Build the dipolar network from Cartesian coordinates.

        Parameters
        ----------
        spins : list of Spin
        coordinates_angstrom : array_like, shape (n, 3)
            Positions in angstrom (crystal frame).
        field_t : float
            B0 in T.
        j : list of JCoupling
        cutoff_hz : float
            Couplings weaker than this (Hz) are left out.
        homonuclear : bool
            Also couple partners of the same isotope (ZZ plus flip-flop); default False: only
            spins of different isotopes are coupled.
        """
        spins = [s if isinstance(s, Spin) else Spin(**s) for s in spins]
        xyz = np.asarray(coordinates_angstrom, dtype=float)
        if xyz.shape != (len(spins), 3) or not np.all(np.isfinite(xyz)):
            raise ValueError(f"coordinates must be finite, shape ({len(spins)}, 3), got {xyz.shape}")
        dips = []
        for a in range(len(spins)):
            for b in range(a + 1, len(spins)):
                if spins[a].isotope.symbol == spins[b].isotope.symbol and not homonuclear:
                    continue
                v = xyz[b] - xyz[a]
                r = float(np.linalg.norm(v))
                if r <= 0:
                    raise ValueError(f"spins {a} and {b} sit at the same position")
                d = dipolar_coupling_hz(r * ANGSTROM, spins[a].isotope, spins[b].isotope)
                if d < cutoff_hz:
                    continue
                theta = float(np.arccos(np.clip(v[2] / r, -1, 1)))
                phi = float(np.arctan2(v[1], v[0]))
                dips.append(DipolarCoupling(a, b, d, (phi, theta, 0.0)))
        return cls(spins, field_t, dips, list(j))

    @property
    def n_spins(self) -> int:
        return len(self.spins)

    @property
    def observed(self) -> Spin:
        return self.spins[0]

    def channels(self) -> list:
        """Isotope symbols in order of first appearance (channel 0 = observed)."""
        out = []
        for s in self.spins:
            if s.isotope.symbol not in out:
                out.append(s.isotope.symbol)
        return out

    def partners_independent(self) -> bool:
        """True if no two partner spins are coupled to each other (only to spin 0)."""
        for c in list(self.dipolar) + list(self.j):
            if c.i != 0 and c.j != 0:
                return False
        return True

    def homonuclear_pairs(self) -> list:
        """Index pairs (i, j), i < j, of dipolar couplings between spins of the same isotope."""
        return [(min(c.i, c.j), max(c.i, c.j)) for c in self.dipolar
                if self.spins[c.i].isotope.symbol == self.spins[c.j].isotope.symbol]

    def with_coupling(self, d_hz: float, index: int = 0) -> "SpinSystem":
        """Copy with the ``index``-th dipolar coupling set to ``d_hz`` (Hz)."""
        dips = list(self.dipolar)
        c = dips[index]
        dips[index] = DipolarCoupling(c.i, c.j, d_hz, c.euler)
        return SpinSystem(list(self.spins), self.field_t, dips, list(self.j))
