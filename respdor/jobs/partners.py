"""``respdor.compare_models``, ``respdor.fit_partners``, ``respdor.fit_two_partners``: how many partners?

What ``respdor partners`` does, for scripts and notebooks: read the curve (a file or a
:class:`~respdor.curve.DephasingCurve`), fit one partner + fraction, two partners + angle +
fraction (:mod:`respdor.partnerfit`), on request more partners in a rigid geometry, n partners with
uncorrelated directions (:mod:`respdor.npartnerfit`) and a Gaussian distribution of distances
(:mod:`respdor.distribution`), compare them by AICc, BIC and a likelihood-ratio test
(:mod:`respdor.comparison`), and say which model curves differ by more than the noise over the
measured times. Nothing is printed and nothing written; warnings are
:class:`respdor.errors.RespdorWarning` also kept in the result's ``warnings``.
"""

from __future__ import annotations

from ..comparison import ModelComparison
from ..comparison import compare_models as _compare
from ..npartnerfit import PartnersFit
from ..npartnerfit import fit_partners as _fit_n
from ..partnerfit import TwoPartnerFit
from ..partnerfit import fit_two_partners as _fit_two

__all__ = ["compare_models", "fit_partners", "fit_two_partners", "plan_partners", "ModelComparison", "PartnersFit",
           "TwoPartnerFit"]


def _curve(curve, time_unit, mas_rate_hz, observe, partner, progress):
    """The one curve, and its nuclei: the arguments, else the file's ``# observe`` / ``# partner``
    lines, else 13C{27Al}; an argument that contradicts the file is refused (as ``respdor.fit`` does)."""
    from spinsim.progress import as_progress

    from .fit import _nuclei, _read_curves

    curves = _read_curves(curve, time_unit, mas_rate_hz)
    if len(curves) != 1:
        from ..errors import UserError

        raise UserError(f"one curve at a time: {len(curves)} given")
    names = {"observe": "observe", "partner": "partner"}
    (obs, par), = _nuclei(curves, observe, partner, None, None, names, as_progress(progress))
    return curves[0], obs, par


def compare_models(curve, observe=None, partner=None, *, experiment="respdor", sequence="redor",
                   candidates=None, intervals=False, max_partners=2, uncorrelated=3, distribution=True,
                   time_unit=None, mas_rate_hz=None, progress=None):
    """One partner + fraction against two (or more) partners, uncorrelated partners, a distance
    distribution and structure candidates (:func:`respdor.comparison.compare_models`).

    Parameters
    ----------
    curve : str, Path or DephasingCurve
        The curve file (see :func:`respdor.read_curve`) or a curve already read.
    observe, partner : str, optional
        Observed spin-1/2 and partner nucleus; default: the file's ``# observe`` / ``# partner``
        lines, else 13C and 27Al.
    experiment, sequence : str
        As in :class:`respdor.CurveModel`.
    candidates : dict, optional
        name -> predicted dS/S0 (fraction 1) at the curve's times, compared with only f fitted.
    intervals : bool
        Profile-likelihood intervals of the two-partner fit too (slower).
    max_partners : int
        Rigid geometries fitted up to this many partners (2 ... 6; 3 and more are slow).
    uncorrelated : int or None
        Partners of the uncorrelated and equivalent rows (0 or None: none).
    distribution : bool
        Rows of a Gaussian distribution of distances and of two sites (need DeerLab).
    time_unit : str, optional
        Unit of a bare time column (``"s"``, ``"ms"``, ``"us"``), as for :func:`respdor.read_curve`.
    mas_rate_hz : float, optional
        MAS rate, for curves given in rotor periods.
    progress : None, bool, callable or Progress

    Returns
    -------
    ModelComparison
    """
    curve, observe, partner = _curve(curve, time_unit, mas_rate_hz, observe, partner, progress)
    return _compare(curve, observe, partner, experiment=experiment, sequence=sequence, candidates=candidates,
                    intervals=intervals, max_partners=max_partners, uncorrelated=uncorrelated,
                    distribution=distribution, progress=progress)


def fit_partners(curve, observe=None, partner=None, n=3, *, geometry="general", experiment="respdor",
                 sequence="redor", fraction=None, intervals=True, time_unit=None, mas_rate_hz=None, progress=None):
    """``n`` partners of one kind: a rigid geometry, uncorrelated or equivalent directions
    (:func:`respdor.npartnerfit.fit_partners`).

    Parameters are those of :func:`compare_models` and :func:`respdor.npartnerfit.fit_partners`.

    Returns
    -------
    PartnersFit or TwoPartnerFit
    """
    curve, observe, partner = _curve(curve, time_unit, mas_rate_hz, observe, partner, progress)
    return _fit_n(curve, observe, partner, n, geometry=geometry, experiment=experiment, sequence=sequence,
                  fraction=fraction, intervals=intervals, progress=progress)


def fit_two_partners(curve, observe=None, partner=None, *, experiment="respdor", sequence="redor",
                     fraction=None, intervals=True, time_unit=None, mas_rate_hz=None, progress=None):
    """Two partners of one kind: D1 >= D2, the angle between their vectors and the bonded fraction.

    Parameters are those of :func:`compare_models` and :func:`respdor.partnerfit.fit_two_partners`.

    Returns
    -------
    TwoPartnerFit
    """
    curve, observe, partner = _curve(curve, time_unit, mas_rate_hz, observe, partner, progress)
    return _fit_two(curve, observe, partner, experiment=experiment, sequence=sequence, fraction=fraction,
                    intervals=intervals, progress=progress)


def plan_partners(*, snr, scans, recycle_s, mas_rate_hz, one_distance_angstrom=2.5, one_fraction=0.24,
                  two_distance_angstrom=2.9, two_angle_deg=110.0, two_fraction=None, observe="13C", partner="27Al",
                  experiment="respdor", sequence="redor", buildup_s=None, beta=1.0, enhancement=1.0,
                  t2prime_s=None, reference_time_s=0.0, plan_recycle_s=None, overhead_s=0.0, max_time_s=8e-3,
                  n_points=16, confidence=0.95, power=0.9, phase_cycle=8):
    """How many scans at which times tell one partner from two (:mod:`respdor.discrimination`).

    Parameters
    ----------
    snr, scans, recycle_s : float, int, float
        S/N of a reference spectrum, its scans and recycle delay (s), as for :func:`respdor.plan`.
    mas_rate_hz : float
        MAS rate (Hz).
    one_distance_angstrom, one_fraction : float
        Model A: one partner (D and f free in its fit).
    two_distance_angstrom, two_angle_deg : float
        Model B: two partners at this distance (angstrom), this angle apart (degrees); f free.
    two_fraction : float, optional
        Model B's bonded fraction (default: ``one_fraction``).
    observe, partner, experiment, sequence : str
    buildup_s, beta, enhancement, t2prime_s, reference_time_s, plan_recycle_s, overhead_s : float
        The sensitivity model (:class:`respdor.planner.Sensitivity`); times in s.
    max_time_s : float
        Longest recoupling time considered (s).
    n_points : int
        Recoupling times per design.
    confidence, power : float
        The likelihood-ratio test decides at ``confidence`` with probability ``power``.
    phase_cycle : int
        Scans per point are a multiple of this.

    Returns
    -------
    respdor.discrimination.DiscriminationPlan
    """
    import math

    from ..discrimination import Hypotheses, plan_discrimination
    from ..planner import Sensitivity

    hyp = Hypotheses(one_distance_angstrom, one_fraction, two_distance_angstrom, two_angle_deg,
                     one_fraction if two_fraction is None else two_fraction, observe, partner, experiment, sequence)
    sens = Sensitivity(snr=snr, scans=scans, recycle_s=recycle_s, buildup_s=buildup_s, beta=beta,
                       enhancement=enhancement, t2prime_s=math.inf if t2prime_s is None else t2prime_s,
                       reference_time_s=reference_time_s, plan_recycle_s=plan_recycle_s, overhead_s=overhead_s)
    return plan_discrimination(hyp, sens, mas_rate_hz, max_time_s=max_time_s, n_points=n_points,
                               confidence=confidence, power=power, phase_cycle=phase_cycle)
