"""``respdor.compare_models`` and ``respdor.fit_two_partners``: one partner or two, asked of the curve.

What ``respdor partners`` does, for scripts and notebooks: read the curve (a file or a
:class:`~respdor.curve.DephasingCurve`), fit one partner + fraction and two partners + angle +
fraction (:mod:`respdor.partnerfit`), compare them by AICc, BIC and a likelihood-ratio test, and say
whether the two best curves differ by more than the noise over the measured times. Nothing is
printed and nothing written; warnings are :class:`respdor.errors.RespdorWarning` also kept in the
result's ``warnings``.
"""

from __future__ import annotations

from ..partnerfit import ModelComparison, TwoPartnerFit
from ..partnerfit import compare_models as _compare
from ..partnerfit import fit_two_partners as _fit_two

__all__ = ["compare_models", "fit_two_partners", "ModelComparison", "TwoPartnerFit"]


def _curve(curve, time_unit, mas_rate_hz):
    from .fit import _read_curves

    curves = _read_curves(curve, time_unit, mas_rate_hz)
    if len(curves) != 1:
        from ..errors import UserError

        raise UserError(f"one curve at a time: {len(curves)} given")
    return curves[0]


def compare_models(curve, observe="13C", partner="27Al", *, experiment="respdor", sequence="redor",
                   candidates=None, intervals=False, time_unit=None, mas_rate_hz=None, progress=None):
    """One partner + fraction against two partners + angle + fraction (and structure candidates).

    Parameters
    ----------
    curve : str, Path or DephasingCurve
        The curve file (see :func:`respdor.read_curve`) or a curve already read.
    observe, partner : str
        Observed spin-1/2 and partner nucleus.
    experiment, sequence : str
        As in :class:`respdor.CurveModel`.
    candidates : dict, optional
        name -> predicted dS/S0 (fraction 1) at the curve's times, compared with only f fitted.
    intervals : bool
        Profile-likelihood intervals of the two-partner fit too (slower).
    time_unit : str, optional
        Unit of a bare time column (``"s"``, ``"ms"``, ``"us"``), as for :func:`respdor.read_curve`.
    mas_rate_hz : float, optional
        MAS rate, for curves given in rotor periods.
    progress : None, bool, callable or Progress

    Returns
    -------
    ModelComparison
    """
    return _compare(_curve(curve, time_unit, mas_rate_hz), observe, partner, experiment=experiment,
                    sequence=sequence, candidates=candidates, intervals=intervals, progress=progress)


def fit_two_partners(curve, observe="13C", partner="27Al", *, experiment="respdor", sequence="redor",
                     fraction=None, intervals=True, time_unit=None, mas_rate_hz=None, progress=None):
    """Two partners of one kind: D1 >= D2, the angle between their vectors and the bonded fraction.

    Parameters are those of :func:`compare_models` and :func:`respdor.partnerfit.fit_two_partners`.

    Returns
    -------
    TwoPartnerFit
    """
    return _fit_two(_curve(curve, time_unit, mas_rate_hz), observe, partner, experiment=experiment,
                    sequence=sequence, fraction=fraction, intervals=intervals, progress=progress)
