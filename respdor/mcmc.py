"""Bayesian uncertainties for a fit: posterior medians and 68/95 % credible intervals by MCMC.

Profile-likelihood intervals rest on chi^2 being close to a parabola; they struggle at low S/N,
when a curve stops in its initial rise (D and f trade off along a curved valley) and when f sits
near its bound. Sampling the posterior with emcee (through lmfit's ``Minimizer.emcee``) needs no
such assumption. Priors are flat in the fitted parameters within their bounds (flat in D or in r,
as fitted; flat in the one varied amplitude factor). Without measurement errors the noise level is
sampled too (lmfit's ``__lnsigma``). The sampler is seeded, so a run is reproducible.

emcee is an optional dependency: ``pip install respdor[mcmc]``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import warnings

import numpy as np

from .errors import UserError

__all__ = ["sample_posterior"]

_QUANTILES = (2.275, 15.865, 50.0, 84.135, 97.725)


def _require_emcee(what):
    try:
        import emcee  # noqa: F401
    except ImportError:
        raise UserError(f"{what} needs the emcee package: pip install 'respdor[mcmc]' (or pip install emcee)") from None


def sample_posterior(result, walkers=32, steps=2000, burn=500, thin=5, seed=0, progress=None, names=None,
                     allow_long=False):
    """Sample the posterior of a finished fit and attach medians and credible intervals.

    Parameters
    ----------
    result : respdor.fitting.FitResult
        A fit from :func:`respdor.fit_curve` / :func:`respdor.fit_curves`; the chain starts in a
        small ball around its optimum.
    walkers : int
        Number of emcee walkers (raised to 2 x dimensions + 2 when needed).
    steps, burn, thin : int
        Steps per walker, steps discarded at the start, and thinning of the kept chain.
    seed : int
        Seed of the sampler's random numbers (same seed, same chain).
    progress : None, bool, callable or spinsim.progress.Progress
        Progress in model evaluations (walkers x steps in all), advanced about every 1 % of the
        chain (see :mod:`spinsim.progress`).
    names : dict, optional
        How messages name the options (``{"mcmc": "--mcmc", "mcmc_steps": "--mcmc-steps"}`` on the
        command line).
    allow_long : bool
        Run a chain beyond :data:`respdor.workload.MCMC_LIMIT` model evaluations (refused
        otherwise). A chain whose stored samples would not fit in half of this machine's memory is
        refused in any case, naming ``steps``.

    Returns
    -------
    dict
        ``{"parameters": {name: {"median", "ci68": [lo, hi], "ci95": [lo, hi], "unit"}},
        "settings": {...}, "acceptance": float, "autocorr_steps": float or None}``; also stored
        as ``result.mcmc``; the kept samples (dict name -> ndarray) in ``result.mcmc_samples``.
        Warnings about the chain are appended to ``result.warnings``.
    """
    names = dict({"mcmc": "MCMC sampling", "mcmc_steps": "mcmc_steps"}, **(names or {}))
    _require_emcee(names["mcmc"])
    params = result.lmfit_result.params.copy()
    ndim = sum(1 for p in params.values() if p.vary) + (0 if result.weighted else 1)
    walkers = max(int(walkers), 2 * ndim + 2)
    if burn >= steps:
        raise UserError(f"MCMC: burn-in ({burn}) must be shorter than the chain ({steps} steps)")
    _check_chain_size(result, walkers, steps, ndim, names, allow_long, progress)
    if not result.weighted:
        params.add("__lnsigma", value=math.log(max(math.sqrt(result.redchi), 1e-12)),
                   min=math.log(1e-8), max=math.log(10.0))
    try:
        out = _run_chain(result, params, walkers, steps, burn, thin, seed, progress)
    except MemoryError:  # the estimate above is rough: the chain, not a grid or a powder, ran out of memory
        raise UserError(f"{names['mcmc_steps']} {steps}: not enough memory for the chain of {walkers} walkers x "
                        f"{steps} steps; lower {names['mcmc_steps']}") from None
    flat = np.asarray(out.chain).reshape(-1, len(out.var_names))  # (kept steps x walkers, nvarys)
    samples = {name: flat[:, k].copy() for k, name in enumerate(out.var_names) if not name.startswith("s0_")}
    _add_derived(result._problem, result, samples)
    summary = {}
    for name, values in samples.items():
        if name == "__lnsigma":
            continue
        q = np.percentile(values, _QUANTILES)
        est = result.parameters.get(name)
        summary[name] = {"median": float(q[2]), "ci68": [float(q[1]), float(q[3])],
                         "ci95": [float(q[0]), float(q[4])], "unit": est.unit if est else ""}
    acceptance = float(np.mean(out.acceptance_fraction))
    tau = _autocorr_steps(out.chain, thin)
    n_eff = walkers * (steps - burn) / tau if tau else None
    mcmc = {"parameters": summary, "acceptance": acceptance, "autocorr_steps": tau,
            "effective_samples": n_eff,
            "settings": {"walkers": walkers, "steps": steps, "burn": burn, "thin": thin, "seed": seed,
                         "prior": "flat in the fitted parameters within their bounds"}}
    if n_eff is None or n_eff < 500:
        shown = "unknown" if n_eff is None else f"{n_eff:.0f}"
        result.warnings.append(f"MCMC: only {shown} effective samples (autocorrelation time "
                               f"{'unknown' if tau is None else f'{tau:.0f} steps'}); the 95 % intervals may be "
                               f"rough: raise {names['mcmc_steps']}")
    if not 0.15 <= acceptance <= 0.8:
        result.warnings.append(f"MCMC: acceptance fraction {acceptance:.2f} is outside 0.15-0.8; "
                               "the posterior may be poorly explored")
    result.mcmc = mcmc
    result.mcmc_samples = samples
    return mcmc


def _check_chain_size(result, walkers, steps, ndim, names, allow_long, progress):
    """Refuse, before the chain starts, one that would outlast the work limit or outgrow the memory;
    then say that sampling starts."""
    from .workload import check_work, mcmc_memory_bytes, mcmc_work, physical_memory_bytes

    n_points = sum(c.n_points for c in result.curves) if getattr(result, "curves", None) else 0
    memory, total = mcmc_memory_bytes(walkers, steps, ndim + 1), physical_memory_bytes()
    if total is not None and memory > 0.5 * total:
        raise UserError(f"{names['mcmc_steps']} {steps}: the chain of {walkers} walkers x {steps} steps would take "
                        f"about {memory / 1e9:.3g} GB, more than half of this machine's {total / 1e9:.3g} GB "
                        f"memory; lower {names['mcmc_steps']} (the default 2000 is enough for a few parameters)")
    check_work(mcmc_work(walkers, steps, max(n_points, 1), names["mcmc_steps"]), allow_long, "MCMC",
               progress=progress, confirm=names.get("allow_long", "--allow-long"))
    from spinsim.progress import as_progress

    as_progress(progress).note(f"MCMC sampling, {steps} steps per walker (Ctrl-C stops it)")


def _run_chain(result, params, walkers, steps, burn, thin, seed, progress):
    """lmfit's emcee run of the fit's residual, silent, with its progress counted in model evaluations."""
    import lmfit
    from spinsim.progress import tracking

    total = walkers * steps
    with tracking(progress, total, "MCMC", "model evaluations") as reporter:  # bound before the redirect
        minimizer = lmfit.Minimizer(_counted(result._problem.residual, total, reporter), params, nan_policy="omit")
        # emcee logs "chain is shorter than 50 tau" itself; it becomes our own one-line warning below.
        emcee_log = logging.getLogger("emcee")
        level, emcee_log.level = emcee_log.level, logging.ERROR
        try:
            # lmfit prints emcee's AutocorrError to stdout, and emcee prints a traceback to stderr for
            # any exception in the likelihood, Ctrl-C included; neither may reach the user's terminal
            # (the exception itself still propagates and is reported once by the caller).
            with warnings.catch_warnings(), np.errstate(all="ignore"), contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                return minimizer.emcee(params=params, steps=steps, nwalkers=walkers, burn=burn, thin=thin,
                                       is_weighted=result.weighted, seed=seed, progress=False)
        finally:
            emcee_log.setLevel(level)


def _counted(residual, total, reporter):
    """The residual, advancing ``reporter`` every 1 % of ``total`` calls."""
    every = max(total // 100, 1)
    calls = [0]

    def counted(*args, **kwargs):
        calls[0] += 1
        if calls[0] % every == 0 and calls[0] <= total:
            reporter.advance(every)
        return residual(*args, **kwargs)

    return counted


def _autocorr_steps(chain, thin):
    """Largest integrated autocorrelation time over the parameters, in sampler steps (None if unknown)."""
    from emcee.autocorr import integrated_time

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tau = float(np.max(integrated_time(np.asarray(chain), tol=0))) * thin
    except Exception:  # noqa: BLE001 - a degenerate chain (a fixed-looking parameter) has no estimate
        return None
    return tau if np.isfinite(tau) and tau > 0 else None


def _add_derived(problem, result, samples):
    """Derived D or r and the amplitude per sample, from the monotonic D <-> r map."""
    for i, model in enumerate(problem.models):
        if problem.param == "coupling":
            src, dst = problem.name("coupling_hz", i), problem.derived_name("distance_angstrom", i)
            if src in samples and dst not in samples:
                samples[dst] = (model.dr3 / samples[src]) ** (1.0 / 3.0)
        else:
            src, dst = problem.name("distance_angstrom", i), problem.derived_name("coupling_hz", i)
            if src in samples and dst not in samples:
                samples[dst] = model.dr3 / samples[src] ** 3
        factors = [problem.name(b, i) for b in ("fraction", "efficiency", "abundance")]
        if any(f in samples for f in factors):
            amp = np.ones(len(next(iter(samples.values()))))
            for f in factors:
                amp = amp * (samples[f] if f in samples else result.lmfit_result.params[f].value)
            samples.setdefault(problem.derived_name("amplitude", i), amp)
