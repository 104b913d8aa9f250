"""Tensor and angle conventions of spinsim, and the one home of every conversion to other programs.

Plain numpy. Angles in radians unless a name says ``_deg``.

spinsim's conventions (used by :mod:`spinsim.hamiltonian`)
----------------------------------------------------------
Euler angles
    ZYZ, **active**: a tensor given by its principal values in its principal-axis system (PAS)
    and Euler angles (alpha, beta, gamma) is, in the crystal (molecule) frame,
    ``A_crystal = R A_PAS R^T`` with ``R = Rz(alpha) Ry(beta) Rz(gamma)``. Equivalently, the
    columns of R are the PAS axes x, y, z written in the crystal frame. The same holds for the
    dipolar tensor (PAS z along the internuclear vector: (phi, theta, 0) puts the bond at polar
    angles theta, phi), the CSA and the EFG.
CSA (shift, Haeberlen, the same as SIMPSON)
    ``|d_zz - d_iso| >= |d_xx - d_iso| >= |d_yy - d_iso|``, ``zeta = d_zz - d_iso``,
    ``eta = (d_yy - d_xx) / zeta``; PAS diagonal ``(-zeta (1 + eta)/2, -zeta (1 - eta)/2, zeta)``.
EFG (the usual EFG order, *not* SIMPSON's)
    ``|V_zz| >= |V_yy| >= |V_xx|``, ``eta_Q = (V_xx - V_yy) / V_zz``, ``C_Q = e Q V_zz / h``;
    PAS diagonal ``V_zz (-(1 - eta)/2, -(1 + eta)/2, 1)``. SIMPSON orders the in-plane axes the
    other way (``|V_xx| >= |V_yy|``), so the same tensor has SIMPSON angles
    ``(-c - 90 deg, -b, -a)`` for spinsim ``(a, b, c)``: :func:`efg_euler_to_simpson`.
Crystallites
    A crystallite (alpha, beta, gamma) maps crystal -> rotor frame with
    ``R = Rz(gamma) Ry(beta) Rz(alpha)`` (:meth:`spinsim.powder.Powder.euler_full`); gamma turns it
    about the rotor axis. SIMPSON's crystal file (alpha, beta, gamma) is spinsim's
    (-alpha, 180 deg - beta, gamma): :func:`crystallites_from_simpson`.
SIMPSON's Euler angles
    SIMPSON's angles are *frame* (passive) rotations, PAS -> crystal -> rotor -> lab, with the
    rotor -> lab angles (omega_R t, theta_m, 0), so B0 turns the other way in its rotor frame. A
    tensor with spinsim angles (a, b, c) has SIMPSON angles (-c, -b, -a) (:func:`euler_to_simpson`;
    CSA and dipole; the EFG adds the in-plane swap). Checked crystallite by crystallite against a
    SIMPSON 4.2.3 build to 5e-10 (ideal REDOR) and 7e-5 (CW RESPDOR, tilted EFG with eta_Q = 0.3).
Rotor -> lab
    B0 in the rotor frame at rotor phase omega_R t is
    ``(sin th_m cos omega_R t, -sin th_m sin omega_R t, cos th_m)``.

CASTEP magres files give full Cartesian tensors in the crystal frame (shielding ``ms`` in ppm,
``efg`` in atomic units); :func:`quadrupolar_from_efg` and :func:`csa_from_shielding` turn them
into spinsim parameters, and :func:`read_magres` reads them.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "EFG_AU_V_PER_M2",
    "rotation_zyz",
    "euler_from_rotation",
    "principal_frame",
    "quadrupolar_from_efg",
    "csa_from_shift_tensor",
    "csa_from_shielding",
    "euler_to_simpson",
    "euler_from_simpson",
    "efg_euler_from_simpson",
    "efg_euler_to_simpson",
    "crystallites_from_simpson",
    "crystallites_to_simpson",
    "read_magres",
]

# atomic unit of electric field gradient, E_h / (e a_0^2), V/m^2 (CODATA 2018)
EFG_AU_V_PER_M2 = 9.7173624292e21
_E = 1.602176634e-19
_H = 6.62607015e-34


def rotation_zyz(alpha, beta, gamma) -> np.ndarray:
    """Active rotation matrix Rz(alpha) Ry(beta) Rz(gamma) (rad)."""
    from .hamiltonian import rotation_matrices

    return rotation_matrices(np.array([alpha, beta, gamma], float))


def euler_from_rotation(r) -> tuple:
    """ZYZ Euler angles (alpha, beta, gamma) in rad of a proper rotation ``r = Rz Ry Rz``."""
    r = np.asarray(r, float)
    beta = float(np.arccos(np.clip(r[2, 2], -1.0, 1.0)))
    if np.sin(beta) < 1e-10:
        # gimbal lock: only alpha +- gamma is defined; put it all in alpha
        return float(np.arctan2(r[1, 0], r[0, 0]) if r[2, 2] > 0 else np.arctan2(-r[1, 0], -r[0, 0])), beta, 0.0
    alpha = float(np.arctan2(r[1, 2], r[0, 2]))
    gamma = float(np.arctan2(r[2, 1], -r[2, 0]))
    return alpha, beta, gamma


def principal_frame(tensor, order):
    """Eigenvalues and a right-handed eigenvector frame of a symmetric 3x3 tensor.

    Parameters
    ----------
    tensor : (3, 3) array_like
        Symmetrised before use (the antisymmetric part has no first-order effect).
    order : {"efg", "haeberlen"}
        ``"efg"``: |v_zz| >= |v_yy| >= |v_xx| of the traceless part; ``"haeberlen"``:
        |v_zz| >= |v_xx| >= |v_yy| (CSA).

    Returns
    -------
    values : ndarray (xx, yy, zz) of the full tensor, frame : (3, 3) ndarray (columns x, y, z)
    """
    t = np.asarray(tensor, float)
    if t.shape != (3, 3) or not np.all(np.isfinite(t)):
        raise ValueError(f"a tensor must be a finite 3x3 array, got shape {t.shape}")
    t = 0.5 * (t + t.T)
    w, v = np.linalg.eigh(t)
    iso = w.mean()
    k = np.argsort(np.abs(w - iso), kind="stable")  # smallest |aniso| first
    if order == "efg":
        idx = [k[0], k[1], k[2]]
    elif order == "haeberlen":
        idx = [k[1], k[0], k[2]]
    else:
        raise ValueError(f"unknown principal-axis order {order!r}")
    vals, frame = w[idx], v[:, idx]
    if np.linalg.det(frame) < 0:
        frame[:, 0] *= -1
    return vals, frame


def quadrupolar_from_efg(efg, isotope, units="au"):
    """(C_Q in Hz, eta_Q, Euler angles in rad) of a Cartesian EFG tensor, in spinsim's convention.

    Parameters
    ----------
    efg : (3, 3) array_like
        EFG tensor in the crystal frame (e.g. a CASTEP magres ``efg`` line).
    isotope : str or Isotope
        Gives the quadrupole moment Q (spinsim.isotopes).
    units : {"au", "SI"}
        Atomic units (E_h / (e a_0^2), CASTEP) or V/m^2.

    Returns
    -------
    cq_hz, eta_q, euler : float, float, tuple
        ``C_Q = e Q V_zz / h`` (signed), ``eta_Q = (V_xx - V_yy)/V_zz``, and (alpha, beta, gamma)
        such that ``Rz Ry Rz diag(V_xx, V_yy, V_zz) (Rz Ry Rz)^T`` is the tensor.
    """
    from .isotopes import get_isotope

    iso = get_isotope(isotope)
    scale = {"au": EFG_AU_V_PER_M2, "SI": 1.0}.get(units)
    if scale is None:
        raise ValueError(f"EFG units must be 'au' or 'SI', got {units!r}")
    t = np.asarray(efg, float) * scale
    t = t - np.trace(t) / 3 * np.eye(3)
    (vxx, vyy, vzz), frame = principal_frame(t, "efg")
    eta = 0.0 if vzz == 0 else float(np.clip((vxx - vyy) / vzz, 0.0, 1.0))
    return float(_E * iso.quadrupole_moment * vzz / _H), eta, euler_from_rotation(frame)


def csa_from_shift_tensor(delta):
    """Haeberlen (delta_iso, zeta, eta, Euler angles in rad) of a Cartesian shift tensor (ppm)."""
    (dxx, dyy, dzz), frame = principal_frame(delta, "haeberlen")
    iso = (dxx + dyy + dzz) / 3
    zeta = dzz - iso
    eta = 0.0 if zeta == 0 else float(np.clip((dyy - dxx) / zeta, 0.0, 1.0))
    return float(iso), float(zeta), eta, euler_from_rotation(frame)


def csa_from_shielding(sigma, sigma_ref_ppm):
    """Shift-tensor Haeberlen parameters of a shielding tensor (ppm), delta = sigma_ref - sigma.

    Parameters
    ----------
    sigma : (3, 3) array_like
        Shielding tensor in ppm (a CASTEP magres ``ms`` line; symmetrised here).
    sigma_ref_ppm : float
        Isotropic reference shielding of the shift scale (ppm).

    Returns
    -------
    delta_iso, zeta, eta, euler : see :func:`csa_from_shift_tensor`
    """
    s = np.asarray(sigma, float)
    return csa_from_shift_tensor(float(sigma_ref_ppm) * np.eye(3) - s)


def euler_to_simpson(euler):
    """spinsim Euler angles (a, b, c) of a CSA or dipolar tensor -> SIMPSON's (-c, -b, -a), rad.

    spinsim's rotation is active (the columns of Rz(a) Ry(b) Rz(c) are the PAS axes in the crystal
    frame); SIMPSON's rotates the PAS frame into the crystal frame, i.e. the transposed rotation.
    """
    a, b, c = (float(x) for x in euler)
    return -c, -b, -a


def euler_from_simpson(euler):
    """SIMPSON ``shift``/``dipole`` Euler angles -> spinsim's (its own inverse), rad."""
    return euler_to_simpson(euler)


def efg_euler_to_simpson(euler):
    """spinsim EFG Euler angles (a, b, c) -> SIMPSON ``quadrupole`` angles (-c - 90 deg, -b, -a), rad.

    SIMPSON's PAS has |V_xx| >= |V_yy|, spinsim's |V_yy| >= |V_xx|: the two PAS differ by 90 deg
    about z (applied first), on top of the transposition of :func:`euler_to_simpson`. (For
    eta_Q = 0 only b and c matter.)
    """
    a, b, c = (float(x) for x in euler)
    return -c - np.pi / 2, -b, -a


def efg_euler_from_simpson(euler):
    """SIMPSON ``quadrupole`` Euler angles (a, b, c) -> spinsim (-c, -b, -a - 90 deg), rad."""
    a, b, c = (float(x) for x in euler)
    return -c, -b, -a - np.pi / 2


def crystallites_from_simpson(alpha, beta, gamma):
    """SIMPSON crystallite angles -> spinsim's: (-alpha, pi - beta, gamma), rad (its own inverse).

    SIMPSON's B0 runs at azimuth +omega_R t in its rotor frame, spinsim's at -omega_R t; the
    reflection between the two acts on a symmetric tensor as a 180 deg turn about y.
    """
    return -np.asarray(alpha, float), np.pi - np.asarray(beta, float), np.asarray(gamma, float)


def crystallites_to_simpson(alpha, beta, gamma):
    """spinsim crystallite angles -> SIMPSON's: (-alpha, pi - beta, gamma), rad."""
    return crystallites_from_simpson(alpha, beta, gamma)


def _magres_block(path, lineno, tag, block, opened):
    """The block a ``[name]`` / ``[/name]`` line opens or closes; blocks must pair up."""
    name = tag.strip("[]/")
    if tag.startswith("[/"):
        if block != name:
            raise ValueError(f"{path}:{lineno}: {tag} closes a block that is not open"
                             + (f" (the open one is [{block}], line {opened})" if block else ""))
        return None, 0
    if block is not None:
        raise ValueError(f"{path}:{lineno}: {tag} opens before the [{block}] block of line {opened} is closed: "
                         "the file is damaged or cut short")
    return name, lineno


def read_magres(path):
    """Shielding and EFG tensors of a CASTEP ``.magres`` file (format 1.0), read through the
    text-file guard (:func:`spinsim.textfile.read_text`).

    Returns
    -------
    dict
        ``(species, index) -> {"ms": (3, 3) ppm, "efg": (3, 3) atomic units}``, for the tensors
        present. Units are checked against the file's ``[magres]`` units block when given.
    """
    from .textfile import read_text

    out, block, opened = {}, None, 0
    units = {}
    for lineno, line in enumerate(read_text(path, "CASTEP .magres file", allow_empty=False).splitlines(), 1):
        s = line.split()
        if not s or s[0].startswith("#"):
            continue
        if s[0].startswith("["):
            block, opened = _magres_block(path, lineno, s[0], block, opened)
            continue
        if block != "magres":
            continue
        if s[0] == "units" and len(s) >= 3:
            units[s[1]] = s[2]
        elif s[0] in ("ms", "efg"):
            if len(s) != 12:
                raise ValueError(f"{path}:{lineno}: a {s[0]} line needs species, index and 9 numbers")
            try:
                vals = np.array([float(x) for x in s[3:]]).reshape(3, 3)
                key = (s[1], int(s[2]))
            except ValueError:
                raise ValueError(f"{path}:{lineno}: not a number in {line.strip()!r}") from None
            if not np.all(np.isfinite(vals)):
                raise ValueError(f"{path}:{lineno}: a {s[0]} tensor must be finite numbers, got {line.strip()!r}")
            out.setdefault(key, {})[s[0]] = vals
    if block is not None:  # a file cut short: its tensors would silently be missing
        raise ValueError(f"{path}:{opened}: the [{block}] block opened here is never closed ([/{block}] missing): "
                         "the file is cut short")
    for tag, want in (("ms", "ppm"), ("efg", "au")):
        if tag in units and units[tag] != want:
            raise ValueError(f"{path}: {tag} tensors are in {units[tag]!r}, expected {want!r}")
    return out
