"""Powder orientation sets (ZCW, REPULSION-style) with weights, gamma angles, and a convergence helper.

Plain numpy. Angles in radians. The (alpha, beta) sets cover a hemisphere: every interaction kept
here is a rank-2 (or rank-0/4) tensor, invariant under inversion, so the other hemisphere adds
nothing. The third Euler angle gamma (rotation about the rotor axis) is averaged separately on an
even grid 2 pi j / n_gamma, which the kernels exploit (it is a time shift of the rotor phase).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Powder", "zcw", "repulsion", "make_powder", "read_crystallites", "powder_convergence", "ZCW_SIZES"]


_F = [1, 1] + [0] * 40
for _k in range(2, 42):
    _F[_k] = _F[_k - 1] + _F[_k - 2]
ZCW_SIZES = [f for f in _F if f >= 21][:14]


@dataclass(frozen=True)
class Powder:
    """A set of crystallite orientations.

    Attributes
    ----------
    alpha, beta : ndarray
        Angles (rad) of the (alpha, beta) set.
    weights : ndarray
        Weights of the (alpha, beta) set, summing to 1.
    n_gamma : int
        Number of gamma angles 2 pi j / n_gamma (equal weights).
    name : str
    """

    alpha: np.ndarray
    beta: np.ndarray
    weights: np.ndarray
    n_gamma: int
    name: str = "custom"

    def __post_init__(self):
        if self.n_gamma < 1:
            raise ValueError(f"n_gamma must be >= 1, got {self.n_gamma!r}")
        if not (len(self.alpha) == len(self.beta) == len(self.weights)) or len(self.alpha) == 0:
            raise ValueError("alpha, beta and weights must have the same, non-zero length")

    @property
    def n_ab(self) -> int:
        return len(self.alpha)

    @property
    def size(self) -> int:
        return self.n_ab * self.n_gamma

    def gammas(self) -> np.ndarray:
        return 2 * np.pi * np.arange(self.n_gamma) / self.n_gamma

    def euler_ab(self) -> np.ndarray:
        """(n_ab, 3) rotation angles of the crystallites with gamma = 0, see :meth:`euler_full`."""
        return np.stack([np.zeros_like(self.alpha), self.beta, self.alpha], -1)

    def euler_full(self):
        """All crystallites: (n_ab * n_gamma, 3) angles and weights (gamma fastest).

        The angles are returned in the order of :func:`spinsim.hamiltonian.rotation_matrices`,
        R = Rz(gamma) Ry(beta) Rz(alpha): crystal -> rotor, so that gamma turns the crystallite
        about the rotor axis and is equivalent to a shift gamma / omega_r of the rotor phase.
        """
        g = self.gammas()
        e = np.stack(
            [np.tile(g, self.n_ab), np.repeat(self.beta, self.n_gamma), np.repeat(self.alpha, self.n_gamma)],
            -1,
        )
        w = np.repeat(self.weights, self.n_gamma) / self.n_gamma
        return e, w


def zcw(n: int, n_gamma: int = 1) -> Powder:
    """Zaremba-Conroy-Wolfsberg hemisphere set (Eden & Levitt, JMR 132, 220, 1998).

    Parameters
    ----------
    n : int
        Requested number of (alpha, beta) points; rounded up to the next Fibonacci number
        (21, 34, 55, 89, 144, 233, 377, 610, 987, 1597, ...).
    n_gamma : int
        Number of gamma angles.
    """
    m = _zcw_index(n)
    nn, g = _F[m], _F[m - 2]
    j = np.arange(nn)
    beta = np.arccos(-(np.mod(j / nn, 1.0) - 1.0))  # hemisphere: c1 = -1, c2 = 1
    alpha = 2 * np.pi * np.mod(j * g / nn, 1.0)
    return Powder(alpha, beta, np.full(nn, 1.0 / nn), int(n_gamma), f"zcw{nn}")


def zcw_size(n: int) -> int:
    """Number of (alpha, beta) points of :func:`zcw` ``(n)`` (the next Fibonacci number >= n), known
    without building the set (a size check before a large allocation)."""
    return int(_F[_zcw_index(n)])


def _zcw_index(n):
    if n < 1:
        raise ValueError(f"powder size must be >= 1, got {n!r}")
    m = next((k for k in range(2, 42) if _F[k] >= n), None)
    if m is None:
        raise ValueError(f"powder size {n} is too large")
    return m


def repulsion(n: int, n_gamma: int = 1, iterations: int = 60, seed: int = 0) -> Powder:
    """REPULSION-style set (Bak & Nielsen, JMR 125, 132, 1997): n points on the hemisphere.

    Points and their antipodes repel with a 1/r potential on the unit sphere; the set is relaxed
    by projected gradient steps from a ZCW-like start, and given equal weights.
    """
    if n < 2:
        raise ValueError(f"powder size must be >= 2, got {n!r}")
    j = np.arange(n) + 0.5
    z = 1 - j / n  # hemisphere z in (0, 1]
    phi = np.pi * (1 + 5**0.5) * j
    r = np.sqrt(1 - z**2)
    p = np.stack([r * np.cos(phi), r * np.sin(phi), z], -1)
    step = 0.5 / np.sqrt(n)
    for _ in range(iterations):
        q = np.concatenate([p, -p])
        d = p[:, None, :] - q[None, :, :]
        dist = np.linalg.norm(d, axis=-1)
        dist[np.arange(n), np.arange(n)] = np.inf
        force = np.sum(d / dist[..., None] ** 3, axis=1)
        force -= np.sum(force * p, -1, keepdims=True) * p
        fn = np.linalg.norm(force, axis=-1, keepdims=True)
        p = p + step * force / np.maximum(fn.max(), 1e-300)
        p /= np.linalg.norm(p, axis=-1, keepdims=True)
        p[p[:, 2] < 0] *= -1
        step *= 0.97
    beta = np.arccos(np.clip(p[:, 2], -1, 1))
    alpha = np.mod(np.arctan2(p[:, 1], p[:, 0]), 2 * np.pi)
    return Powder(alpha, beta, np.full(n, 1.0 / n), int(n_gamma), f"rep{n}")


def make_powder(scheme: str = "zcw", n: int = 233, n_gamma: int = 16) -> Powder:
    """Build a powder by name: ``"zcw"`` or ``"repulsion"``; ``"single"`` gives one crystallite at beta = 0."""
    scheme = str(scheme).lower()
    if scheme == "zcw":
        return zcw(int(n), int(n_gamma))
    if scheme in ("repulsion", "rep"):
        return repulsion(int(n), int(n_gamma))
    if scheme == "single":
        return Powder(np.zeros(1), np.zeros(1), np.ones(1), int(n_gamma), "single")
    raise ValueError(f"unknown powder scheme {scheme!r}: use 'zcw' or 'repulsion'")


def read_crystallites(path, n_gamma=1, convention="spinsim") -> Powder:
    """A crystallite set from a text file of ``alpha beta weight`` rows (degrees; weights any scale).

    Parameters
    ----------
    path : str or Path
        Whitespace- or comma-separated rows; ``#`` starts a comment. A first line holding a single
        integer (the count, as in SIMPSON's ``.cry`` files) is accepted and checked.
    n_gamma : int
        gamma angles added to every (alpha, beta), 2 pi j / n_gamma.
    convention : {"spinsim", "simpson"}
        ``"simpson"``: SIMPSON's angles, converted to (-alpha, 180 deg - beta)
        (:func:`spinsim.conventions.crystallites_from_simpson`).

    Raises
    ------
    ValueError
        Naming the file and line of a malformed row; a missing, binary or empty file is refused by
        the text-file guard (:class:`spinsim.textfile.TextFileError`, a ValueError).
    """
    from pathlib import Path

    from .textfile import read_text

    rows, count = [], None
    for lineno, line in enumerate(read_text(path, "crystallite file", allow_empty=False).splitlines(), 1):
        text = line.split("#")[0].replace(",", " ").split()
        if not text:
            continue
        if count is None and not rows and len(text) == 1 and text[0].isdigit():
            count = int(text[0])
            continue
        try:
            vals = [float(x) for x in text]
        except ValueError:
            raise ValueError(f"{path}:{lineno}: not a number in {line.strip()!r}") from None
        if len(vals) != 3 or not np.all(np.isfinite(vals)) or vals[2] < 0:
            raise ValueError(f"{path}:{lineno}: expected 'alpha_deg beta_deg weight' with weight >= 0, got {line.strip()!r}")
        rows.append(vals)
    if not rows:
        raise ValueError(f"{path}: no crystallites")
    if count is not None and count != len(rows):
        raise ValueError(f"{path}: the first line says {count} crystallites, the file has {len(rows)}")
    a, b, w = np.radians(np.array(rows)[:, 0]), np.radians(np.array(rows)[:, 1]), np.array(rows)[:, 2]
    if convention == "simpson":
        from .conventions import crystallites_from_simpson

        a, b, _ = crystallites_from_simpson(a, b, 0.0)
    elif convention != "spinsim":
        raise ValueError(f"crystallite convention must be 'spinsim' or 'simpson', got {convention!r}")
    if w.sum() <= 0:
        raise ValueError(f"{path}: the weights sum to zero")
    return Powder(a, b, w / w.sum(), int(n_gamma), f"file:{Path(path).name}")


def powder_convergence(curve_of, sizes=(55, 89, 144, 233, 377, 610, 987), n_gamma=16, tol=1e-3, scheme="zcw"):
    """Smallest powder for which a simulated curve agrees with the largest one to ``tol``.

    Parameters
    ----------
    curve_of : callable
        ``curve_of(powder) -> ndarray`` (e.g. a dS/S0 curve).
    sizes : sequence of int
        Candidate (alpha, beta) sizes, increasing; the last is taken as the reference.
    n_gamma : int
    tol : float
        Maximum absolute difference accepted.

    Returns
    -------
    dict
        ``{"size": n or None, "errors": {n: max|diff|}}``; ``size`` is None if no smaller size
        reaches ``tol``.
    """
    curves = {n: np.asarray(curve_of(make_powder(scheme, n, n_gamma))) for n in sizes}
    ref = curves[sizes[-1]]
    errors = {n: float(np.max(np.abs(curves[n] - ref))) for n in sizes[:-1]}
    ok = [n for n in sizes[:-1] if all(errors[m] <= tol for m in sizes[:-1] if m >= n)]
    return {"size": ok[0] if ok else None, "errors": errors}
