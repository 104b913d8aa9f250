"""spinsim: the physics layer of respdor.

Isotope data, dipolar couplings and CSA conventions are plain Python and import instantly.
The numba-compiled simulation engine is imported lazily, on first use of one of its names, so
that ``import respdor`` for analytical fitting compiles no kernel.

Conventions (stated once, used everywhere): SI units inside (s, Hz, rad, m; shifts in ppm);
dipolar coupling constant D in Hz as a magnitude; CQ = e^2 q Q / h in Hz with eta_Q; CSA in
Haeberlen (delta_iso, zeta = delta_aniso, eta) or Herzfeld-Berger (span, skew); Euler angles
ZYZ, active, in radians.
"""

from importlib import import_module

from . import conventions, csa
from .dipolar import (
    coupling_from_distance,
    dipolar_constant,
    dipolar_coupling_hz,
    distance_from_coupling,
    distance_m,
    effective_coupling_hz,
    effective_distance,
)
from .isotopes import ISOTOPES, Isotope, get_isotope, larmor_frequency_hz, list_isotopes

__version__ = "0.1.0"

# Public names served by modules that compile numba kernels: name -> module (relative).
# They are imported on first attribute access only.
_LAZY = {
    "sideband_intensities": ".sidebands",
    "sideband_intensities_haeberlen": ".sidebands",
    "pass_timings": ".pass_timing",
    # REDOR / RESPDOR engine (spinsim.simulate compiles numba kernels; the others are numpy only)
    "simulate_respdor": ".simulate",
    "simulate_redor": ".simulate",
    "IdealSaturation": ".simulate",
    "RfInhomogeneity": ".simulate",
    "describe_experiment": ".simulate",
    "SimulationResult": ".simulate",
    # numpy only: the analytical models of respdor need it without the engines (and numba)
    "transfer_matrix": "._experiment",
    "load_spec": ".spec",
    "simulate_spec": ".spec",
    "Spin": ".system",
    "SpinSystem": ".system",
    "DipolarCoupling": ".system",
    "JCoupling": ".system",
    "Powder": ".powder",
    "make_powder": ".powder",
    "zcw": ".powder",
    "repulsion": ".powder",
    "powder_convergence": ".powder",
    "Block": ".sequences",
    "Event": ".sequences",
    "cw_pulse": ".sequences",
    "wurst_pulse": ".sequences",
    "dfs_pulse": ".sequences",
    "pm_pulse": ".sequences",
    "hs_inversion": ".sequences",
    "adiabatic_sr4_cycle": ".sequences",
    "scale_rf": ".sequences",
    "gaussian_rf_profile": ".sequences",
    "read_crystallites": ".powder",
    "ideal_pulse": ".sequences",
    "redor_cycle": ".sequences",
    "sr4_cycle": ".sequences",
    "recoupling_scaling": ".sequences",
    "redor_finite_pulse_kappa": ".sequences",
}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'spinsim' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


__all__ = [
    "ISOTOPES",
    "Isotope",
    "get_isotope",
    "list_isotopes",
    "larmor_frequency_hz",
    "dipolar_constant",
    "dipolar_coupling_hz",
    "distance_m",
    "coupling_from_distance",
    "distance_from_coupling",
    "effective_coupling_hz",
    "effective_distance",
    "csa",
    "conventions",
] + sorted(_LAZY)
