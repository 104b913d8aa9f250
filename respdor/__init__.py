"""respdor: distances from REDOR / RESPDOR dephasing curves.

Quick start::

    import respdor
    result = respdor.fit("curve.csv", "13C", "27Al")  # header t_ms,dSS0,sigma
    result                                            # a table in a notebook
    result.plot()

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
    "fit": "respdor.jobs.fit",
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
    "CsaFitResult": "respdor.jobs.spectra",
    "DeconvolveResult": "respdor.jobs.spectra",
    "PassResult": "respdor.jobs.spectra",
    "PassTimingsResult": "respdor.jobs.spectra",
    "IntegrateResult": "respdor.jobs.spectra",
    "simulate": "respdor.jobs.simulate",
    "SimulationRun": "respdor.jobs.simulate",
    "build_library": "respdor.jobs.library",
    "library_info": "respdor.jobs.library",
    "LibraryBuild": "respdor.jobs.library",
    "LibraryInfo": "respdor.jobs.library",
    "predict_structure": "respdor.jobs.structure",
    "compare_structures": "respdor.jobs.structure",
    "StructurePrediction": "respdor.jobs.structure",
    "StructureComparison": "respdor.jobs.structure",
    "plan": "respdor.jobs.plan",
    "PlanResult": "respdor.jobs.plan",
    "compare_models": "respdor.jobs.partners",
    "fit_two_partners": "respdor.jobs.partners",
    "plan_partners": "respdor.jobs.partners",
    "ModelComparison": "respdor.jobs.partners",
    "TwoPartnerFit": "respdor.jobs.partners",
    "fit_partners": "respdor.jobs.partners",
    "PartnersFit": "respdor.jobs.partners",
    "fit_m2": "respdor.jobs.moments",
    "M2Result": "respdor.jobs.moments",
    "van_vleck_m2": "respdor.moments",
    "distance_distribution": "respdor.jobs.distribution",
    "DistributionResult": "respdor.jobs.distribution",
    "precompile": "respdor.jobs.precompile",
    "PrecompileResult": "respdor.jobs.precompile",
}


#: Sub-modules reached as attributes (``respdor.datasets.path(...)``) without an explicit import.
_SUBMODULES = {"datasets"}


def __getattr__(name):
    if name in _SUBMODULES:
        from importlib import import_module

        return import_module(f"respdor.{name}")
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
    "CsaFitResult",
    "DeconvolveResult",
    "DephasingCurve",
    "FitResult",
    "IntegrateResult",
    "ParameterEstimate",
    "PassResult",
    "PassTimingsResult",
    "PlanResult",
    "StructureComparison",
    "StructurePrediction",
    "UserError",
    "compare_structures",
    "coupling_from_distance",
    "csa_fit",
    "deconvolve",
    "distance_from_coupling",
    "fit",
    "fit_curve",
    "fit_curves",
    "get_isotope",
    "integrate",
    "pass_timings",
    "process_pass",
    "plan",
    "predict_structure",
    "read_curve",
    "recoupling_scaling",
    "redor_dephasing",
    "respdor_dephasing",
    "transfer_dephasing",
    "transfer_matrix",
    "simulate",
    "SimulationRun",
    "build_library",
    "library_info",
    "LibraryBuild",
    "LibraryInfo",
    "fit_m2",
    "M2Result",
    "van_vleck_m2",
    "compare_models",
    "fit_two_partners",
    "plan_partners",
    "ModelComparison",
    "TwoPartnerFit",
    "fit_partners",
    "PartnersFit",
    "distance_distribution",
    "DistributionResult",
]
