"""The simulated curve: :class:`SimulationResult`, built from complex powder-averaged signals.

Re-exported by :mod:`spinsim.simulate`. spinsim writes no files: :meth:`SimulationResult.csv_text`
gives the curve as text and the caller decides where it goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SimulationResult:
    """A simulated dephasing curve.

    Attributes
    ----------
    t_s : ndarray
        Total recoupling times (s).
    S0, S1 : ndarray
        Powder-averaged signals relative to the initial magnetisation.
    dSS0 : ndarray
        (S0 - S1) / S0.
    info : dict
        Engine, powder, step size and timings; ``info["experiment"]``: what was simulated, in words.
    S0_complex, S1_complex : ndarray
        The complex detected signals (S_x after an ideal excitation, complex detection, normalised
        to the interaction-free signal). ``S0 = |S0_complex|``; ``S1`` is ``S1_complex`` phased
        like S0 (the phase correction of the S0 spectrum applied to S1), so dS/S0 = 1 - Re(S1/S0).
    partials : PowderPartials or None
        The same signals summed over parts of the powder (interleaved (alpha, beta) classes, each
        gamma angle apart): what the convergence check (:mod:`spinsim.convergence`) reads to
        compare the run with nested subsets of itself at no extra cost.
    """

    t_s: np.ndarray
    S0: np.ndarray
    S1: np.ndarray
    dSS0: np.ndarray
    info: dict = field(default_factory=dict)
    S0_complex: np.ndarray = None
    S1_complex: np.ndarray = None
    partials: "PowderPartials" = field(default=None, repr=False)

    def csv_text(self) -> str:
        """The curve as CSV text: ``#`` comment lines saying what was simulated, the header
        ``t_s,S0,S1,dSS0``, then one row per recoupling time (10 significant digits)."""
        head = [f"# {line}" for line in self.info.get("experiment", [])] + ["t_s,S0,S1,dSS0"]
        rows = np.column_stack([self.t_s, self.S0, self.S1, self.dSS0])
        return "\n".join(head) + "\n" + "".join(",".join("%.10g" % v for v in row) + "\n" for row in rows)


#: Interleaved (alpha, beta) classes kept by :class:`PowderPartials`: orientation j is in class j mod 4.
N_CLASSES = 4


def dss0_of(s0c, s1c):
    """dS/S0 = 1 - Re(S1 conj(S0)) / |S0|^2 of complex signals (S1 phased like S0; any common scale)."""
    return 1.0 - (np.asarray(s1c) * np.conj(s0c)).real / np.abs(s0c) ** 2


@dataclass
class PowderPartials:
    """Complex signals summed over parts of a powder: the run's own nested subsets.

    ``s0[k, g, i]``, ``s1[k, g, i]``: sum over the (alpha, beta) orientations j with
    ``j % N_CLASSES == k`` of ``w_j / n_gamma`` times the signal of crystallite (j, gamma_g) at
    time i; summed over k and g they give the run's S0 and S1. ``weight[k]``: sum of w_j in
    class k. Every sub-average is a powder average of its own: classes {0, 2} and {1, 3} are the
    two interleaved halves of the (alpha, beta) set, gamma angles 0, 2, 4, .. the set of
    n_gamma / 2 angles.
    """

    s0: np.ndarray
    s1: np.ndarray
    weight: np.ndarray

    @property
    def n_gamma(self):
        return self.s0.shape[1]

    def dss0(self, classes=None, gamma_stride=1):
        """dS/S0 of the (alpha, beta) ``classes`` (default all) at every ``gamma_stride``-th gamma angle."""
        k = list(range(self.s0.shape[0])) if classes is None else list(classes)
        if not self.weight[k].sum() > 0:
            raise ValueError("no crystallite in these (alpha, beta) classes")
        return dss0_of(self.s0[k, ::gamma_stride].sum((0, 1)), self.s1[k, ::gamma_stride].sum((0, 1)))

    def scaled(self, factor):
        return PowderPartials(self.s0 * factor, self.s1 * factor, self.weight)

    def __add__(self, other):
        return PowderPartials(self.s0 + other.s0, self.s1 + other.s1, self.weight)


def class_sums(weights, signal):
    """Per-class, per-gamma sums ``(N_CLASSES, n_gamma, n_t)`` of ``signal[j, g, i]`` with weights
    ``weights[j] / n_gamma`` (orientation j in class j mod N_CLASSES), and the class weights."""
    ng = signal.shape[1]
    out = np.zeros((N_CLASSES,) + signal.shape[1:], complex)
    wk = np.zeros(N_CLASSES)
    for k in range(min(N_CLASSES, signal.shape[0])):
        out[k] = np.einsum("o,ogi->gi", weights[k::N_CLASSES] / ng, signal[k::N_CLASSES])
        wk[k] = weights[k::N_CLASSES].sum()
    return out, wk


def powder_sums(weights, c0, c1):
    """S0, S1 (powder averages) and the :class:`PowderPartials` of per-crystallite signals
    ``c0, c1[j, g, i]`` ((alpha, beta) orientation j, gamma angle g, time i)."""
    p0, wk = class_sums(weights, c0)
    p1, _ = class_sums(weights, c1)
    return p0.sum((0, 1)), p1.sum((0, 1)), PowderPartials(p0, p1, wk)


def _result(t, s0c, s1c, info, partials=None):
    """S0 = |S0|, S1 phased like S0 (one phase correction for both spectra, as when processing)."""
    s0c = np.asarray(s0c, complex)
    s1c = np.asarray(s1c, complex)
    s0 = np.abs(s0c)
    if np.any(s0 < 1e-9):
        raise ValueError("S0 vanishes at some recoupling time: dS/S0 is undefined")
    s1 = (s1c * np.conj(s0c) / s0).real
    return SimulationResult(t, s0, s1, 1.0 - s1 / s0, info, s0c, s1c, partials)
