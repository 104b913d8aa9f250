"""Pulse timings of the five-pi-pulse PASS sequence (Antzutkin, Shekar & Levitt, JMR A 115, 7, 1995).

Five pi pulses at rotor phases theta_q = w_r t_q (q = 1..5) inside a block of length
theta_T = w_r T (here T = tau_r, one rotor period). For pitch Theta the pulse phases solve

    (iso)   theta_T + 2 sum_q (-1)^q theta_q = 0
    (aniso) 1 + 2 sum_q (-1)^q exp(i m theta_q) + exp(i m (theta_T - Theta)) = 0,  m = 1, 2

with coherence +1 before the first pulse and -1 after the last (physics.md section 5). Five real
equations in five unknowns; solutions are not unique. Among the solutions found from many
starting points we keep those with 0 < theta_q < theta_T and pick, for each pitch, the one with
the largest minimum gap between pulses (and to the block edges), so that finite pulses fit.
Sideband k then carries the phase exp(+i k Theta) in this convention; the sign seen in an
experiment depends on the receiver and on the sign of gamma and must be detected from the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import least_squares

__all__ = ["PassTimings", "pass_equations_residual", "solve_pass_pitch", "pass_timings"]

_SIGNS = np.array([-1.0, 1.0, -1.0, 1.0, -1.0])  # (-1)^q for q = 1..5


def pass_equations_residual(theta_q, pitch, theta_t=2.0 * np.pi):
    """The five real residuals of the PASS timing equations.

    Parameters
    ----------
    theta_q : array_like, shape (5,)
        Pulse rotor phases in rad.
    pitch : float
        Pitch Theta in rad.
    theta_t : float
        Block length in rad of rotor phase (2 pi for one rotor period).

    Returns
    -------
    ndarray, shape (5,)
        [iso, Re m=1, Im m=1, Re m=2, Im m=2]; all zero for an exact solution.
    """
    th = np.asarray(theta_q, float)
    res = [theta_t + 2.0 * np.dot(_SIGNS, th)]
    for m in (1, 2):
        z = 1.0 + 2.0 * np.dot(_SIGNS, np.exp(1j * m * th)) + np.exp(1j * m * (theta_t - pitch))
        res.extend([z.real, z.imag])
    return np.array(res)


def _min_gap(th, theta_t):
    edges = np.concatenate([[0.0], np.sort(th), [theta_t]])
    return float(np.min(np.diff(edges)))


def solve_pass_pitch(pitch, theta_t=2.0 * np.pi, n_starts=24, seed=0, tol=1e-10, previous=None):
    """All distinct ordered solutions of the PASS equations for one pitch, best first.

    Parameters
    ----------
    pitch : float
        Pitch Theta in rad.
    theta_t : float
        Block length in rad (2 pi = one rotor period).
    n_starts : int
        Number of random starting points for the least-squares solver.
    seed : int
        Seed of the random starts (the result is deterministic).
    tol : float
        Largest residual norm accepted as a solution.
    previous : array_like, optional
        A solution at a neighbouring pitch, used as an extra starting point.

    Returns
    -------
    list of ndarray
        Solutions theta_q (rad, increasing, inside (0, theta_t)), sorted by decreasing minimum gap.
    """
    rng = np.random.default_rng(seed)
    starts = [np.sort(rng.uniform(0.02, 0.98, 5)) * theta_t for _ in range(n_starts)]
    starts.insert(0, np.arange(1, 6) / 6.0 * theta_t)
    if previous is not None:
        starts.insert(0, np.asarray(previous, float))
    found = []
    eps = 1e-9 * theta_t
    for x0 in starts:
        sol = least_squares(
            pass_equations_residual,
            x0,
            args=(pitch, theta_t),
            bounds=(np.full(5, eps), np.full(5, theta_t - eps)),
            xtol=1e-15,
            ftol=1e-15,
            gtol=1e-15,
        )
        th = sol.x
        if np.linalg.norm(pass_equations_residual(th, pitch, theta_t)) > tol:
            continue
        if np.any(np.diff(th) <= 0):
            continue  # pulses must be in order q = 1..5 for the coherence signs to hold
        if not any(np.allclose(th, f, atol=1e-7) for f in found):
            found.append(th)
    found.sort(key=lambda th: -_min_gap(th, theta_t))
    return found


@dataclass(frozen=True)
class PassTimings:
    """PASS pulse timings for N pitch increments.

    Attributes
    ----------
    pitch : ndarray, shape (N,)
        Theta_j = 2 pi j / N in rad.
    fractions : ndarray, shape (N, 5)
        Pulse centres t_q / tau_r.
    min_gap : ndarray, shape (N,)
        Smallest gap between neighbouring pulses (or to the block edges), in units of tau_r.
    residual : ndarray, shape (N,)
        Norm of the timing-equation residual of each row (rad).
    """

    pitch: np.ndarray
    fractions: np.ndarray
    min_gap: np.ndarray
    residual: np.ndarray

    @property
    def n_pitch(self) -> int:
        return int(self.pitch.size)

    def times_s(self, mas_hz: float) -> np.ndarray:
        """Pulse centres in s after the start of the block for a spinning rate nu_r in Hz."""
        if not mas_hz > 0:
            raise ValueError(f"MAS rate must be > 0 Hz, got {mas_hz!r}")
        return self.fractions / mas_hz

    def check_pulse_length(self, mas_hz: float, pulse_s: float) -> None:
        """Raise ValueError if pi pulses of length ``pulse_s`` (s) overlap at ``mas_hz`` (Hz)."""
        gap_s = self.min_gap.min() / mas_hz
        if pulse_s >= gap_s:
            raise ValueError(
                f"pi pulse of {pulse_s * 1e6:.2f} us does not fit: the closest pulse centres are "
                f"{gap_s * 1e6:.2f} us apart at {mas_hz:g} Hz MAS"
            )


@lru_cache(maxsize=32)
def pass_timings(n_pitch: int = 16, theta_t: float = 2.0 * np.pi, n_starts: int = 24) -> PassTimings:
    """Five-pi-pulse PASS timings for ``n_pitch`` equally spaced pitches.

    Parameters
    ----------
    n_pitch : int
        Number of pitch increments N (>= 1); Theta_j = 2 pi j / N.
    theta_t : float
        Block length in rad of rotor phase (2 pi: one rotor period).
    n_starts : int
        Random starting points per pitch.

    Returns
    -------
    PassTimings
        Cached per arguments (deterministic); its arrays are read-only.

    Raises
    ------
    ValueError
        If no valid solution is found for some pitch.
    """
    n_pitch = int(n_pitch)
    if n_pitch < 1:
        raise ValueError(f"number of pitch increments must be >= 1, got {n_pitch}")
    pitch = 2.0 * np.pi * np.arange(n_pitch) / n_pitch
    rows, gaps, res = [], [], []
    previous = None
    for j, p in enumerate(pitch):
        sols = solve_pass_pitch(p, theta_t, n_starts=n_starts, seed=j, previous=previous)
        if not sols:
            raise ValueError(f"no PASS timing solution found for pitch {p:.6f} rad (j = {j})")
        th = sols[0]
        previous = th
        rows.append(th / theta_t)
        gaps.append(_min_gap(th, theta_t) / theta_t)
        res.append(np.linalg.norm(pass_equations_residual(th, p, theta_t)))
    out = PassTimings(pitch, np.array(rows), np.array(gaps), np.array(res))
    for a in (out.pitch, out.fractions, out.min_gap, out.residual):
        a.setflags(write=False)  # the result is cached: keep it immutable
    return out
