"""respdor: distances from REDOR / RESPDOR dephasing curves.

Quick start::

    from respdor import read_curve, CurveModel, fit_curve
    curve = read_curve("curve.csv")                  # header t_ms,dSS0,sigma
    result = fit_curve(curve, CurveModel("13C", "27Al", experiment="respdor"))
    print(result.report())

Importing ``respdor`` compiles no numba kernel; the simulation engine (``spinsim``'s kernels) is
imported only when a simulated model is asked for.
"""

from spinsim.dipolar import coupling_from_distance, distance_from_coupling
from spinsim.isotopes import get_isotope

from .curve import DephasingCurve
from .errors import DataFileError, UserError
from .fitting import CurveModel, FitResult, ParameterEstimate, fit_curve, fit_curves
from .io import read_curve
from .models import (
    recoupling_scaling,
    redor_dephasing,
    respdor_dephasing,
    transfer_dephasing,
    transfer_matrix,
)

__version__ = "0.1.0"

__all__ = [
    "CurveModel",
    "DataFileError",
    "DephasingCurve",
    "FitResult",
    "ParameterEstimate",
    "UserError",
    "coupling_from_distance",
    "distance_from_coupling",
    "fit_curve",
    "fit_curves",
    "get_isotope",
    "read_curve",
    "recoupling_scaling",
    "redor_dephasing",
    "respdor_dephasing",
    "transfer_dephasing",
    "transfer_matrix",
]
