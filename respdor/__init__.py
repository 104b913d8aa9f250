"""respdor: distances from REDOR / RESPDOR dephasing curves.

Quick start::

    from respdor import read_curve, CurveModel, fit_curve
    curve = read_curve("curve.csv")                  # header t_ms,dSS0,sigma
    result = fit_curve(curve, CurveModel("13C", "27Al", experiment="respdor"))
    print(result.report())

Importing ``respdor`` compiles no numba kernel; the simulation engine (``spinsim``'s kernels) is
imported only when a simulated model is asked for.
"""

# The names below are imported on first use (PEP 562), so that ``import respdor.cli`` is quick
# and a Ctrl-C during start-up reaches the command line's handler instead of an import traceback.
_LAZY = {
    "coupling_from_distance": "spinsim.dipolar",
    "distance_from_coupling": "spinsim.dipolar",
    "get_isotope": "spinsim.isotopes",
    "DephasingCurve": "respdor.curve",
    "DataFileError": "respdor.errors",
    "UserError": "respdor.errors",
    "CurveModel": "respdor.fitting",
    "FitResult": "respdor.fitting",
    "ParameterEstimate": "respdor.fitting",
    "fit_curve": "respdor.fitting",
    "fit_curves": "respdor.fitting",
    "read_curve": "respdor.io",
    "recoupling_scaling": "respdor.models",
    "redor_dephasing": "respdor.models",
    "respdor_dephasing": "respdor.models",
    "transfer_dephasing": "respdor.models",
    "transfer_matrix": "respdor.models",
    "csa_fit": "respdor.jobs.spectra",
    "deconvolve": "respdor.jobs.spectra",
    "integrate": "respdor.jobs.spectra",
    "process_pass": "respdor.jobs.spectra",
    "pass_timings": "respdor.jobs.spectra",
}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'respdor' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.1.0"

__all__ = [
    "CurveModel",
    "DataFileError",
    "DephasingCurve",
    "FitResult",
    "ParameterEstimate",
    "UserError",
    "coupling_from_distance",
    "csa_fit",
    "deconvolve",
    "distance_from_coupling",
    "fit_curve",
    "fit_curves",
    "get_isotope",
    "integrate",
    "pass_timings",
    "process_pass",
    "read_curve",
    "recoupling_scaling",
    "redor_dephasing",
    "respdor_dephasing",
    "transfer_dephasing",
    "transfer_matrix",
]
