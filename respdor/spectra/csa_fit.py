"""CSA fits with lmfit: from a sideband manifold (intensity per order) or from a 1D MAS spectrum.

One module per job, gathered here:

* :mod:`respdor.spectra.csa_model` -- the sideband model (manifolds, their lines, starting spans);
* :mod:`respdor.spectra.csa_manifold` -- :func:`fit_manifold`, one tensor to a sideband manifold,
  with the span/skew degeneracy check;
* :mod:`respdor.spectra.csa_spectrum` -- :func:`fit_mas_spectrum`, several sites with all their
  sidebands to a 1D MAS spectrum;
* :mod:`respdor.spectra.csa_uncertainty` -- covariance errors where they hold, the profile
  likelihood where they do not, and :func:`format_estimate`.

The whole command (observe frequency, MAS rate evidence, noise region, warnings) is
:func:`respdor.csa_fit`.
"""

from __future__ import annotations

from .csa_manifold import ManifoldFit, _check_order_reach, _haeberlen_with_errors, fit_manifold
from .csa_model import line_sum as _line_sum
from .csa_model import manifold as _manifold
from .csa_model import measured_manifold as _measured_manifold
from .csa_model import moment_estimates
from .csa_model import site_spectrum as _site_spectrum
from .csa_spectrum import (IDENTITY_STATUSES, SCREEN_ORIENTATIONS, START_SPAN_FACTORS, SpectrumFit, _fit_once,
                           _fractions, _judge_sites, _missing_sidebands, _site_errors, fit_mas_spectrum, site_text)
from ..profile import sqrt_crossing as _sqrt_crossing
from .csa_uncertainty import (MAX_CORREL, NEAR_BOUND, _covariance_suspect, _error_entry, _first_step, _profile,
                              format_estimate)

# The names above are this module's for the callers and benchmarks that import them from here; their
# documentation is in the modules that define them.
_REEXPORTED = (_check_order_reach, _haeberlen_with_errors, _line_sum, _manifold, _measured_manifold, _site_spectrum,
               _fit_once, _fractions, _judge_sites, _missing_sidebands, _site_errors, _covariance_suspect,
               _error_entry, _first_step, _profile, _sqrt_crossing)
