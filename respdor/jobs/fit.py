"""``respdor.fit``: measured dephasing curves -> D, r and the bonded fraction, in one call.

What ``respdor fit`` does, for scripts and notebooks: read the curve files (or take
:class:`~respdor.curve.DephasingCurve` objects), settle each curve's nuclei (the argument, else the
file's ``# observe = ...`` line, else the shape's, else 13C{27Al}), build the curve models
(analytical, a simulated shape from a spinsim spec, or a curve library), fit them globally with the
fixed, bounded and started parameters, check the optimum and the model, and on request sample the
posterior (MCMC). Nothing is printed and nothing written; the lines a person should read before
long work go to ``progress`` (:mod:`spinsim.progress`), and every warning is a
:class:`respdor.errors.RespdorWarning` also kept in ``FitResult.warnings``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import DataWarning, UserError, warn

__all__ = ["fit", "ALIASES", "canonical_name"]

#: Short names of the fit parameters (as users type them), mapped to the fitter's names.
ALIASES = {
    "d": "coupling_hz", "coupling": "coupling_hz", "coupling_hz": "coupling_hz",
    "r": "distance_angstrom", "distance": "distance_angstrom", "distance_angstrom": "distance_angstrom",
    "f": "fraction", "fraction": "fraction",
    "eps": "efficiency", "epsilon": "efficiency", "efficiency": "efficiency",
    "x": "abundance", "abundance": "abundance",
    "kappa": "scaling", "scaling": "scaling",
    "width": "width_angstrom", "sigma_r": "width_angstrom", "width_angstrom": "width_angstrom",
}

#: How messages name the arguments of :func:`fit`; the command line passes its options instead.
_NAMES = {"observe": "observe", "partner": "partner", "fix": "fix", "bounds": "bounds", "initial": "start",
          "free": "free", "share": "share", "simulate": "simulate_spec", "library": "library",
          "mas_rate_hz": "mas_rate_hz", "pulse_length_s": "pulse_length_s", "sim_accuracy": "sim_accuracy",
          "mcmc": "MCMC sampling", "mcmc_steps": "mcmc_steps", "powder_tol": "powder_tol", "time_unit": "time_unit",
          "allow_long": "allow_long=True", "experiment": "experiment", "transfer": "transfer",
          "sequence": "sequence"}

#: Geometry shared by the curves of a global fit unless said otherwise.
DEFAULT_SHARED = ("coupling_hz", "distance_angstrom", "scaling", "width_angstrom")


def canonical_name(name: str, what: str = "parameter", extra=()) -> str:
    """The fitter's name of a parameter given by a short name (``"D"``, ``"c1_f"``, ``"cq"``).

    Parameters
    ----------
    name : str
        ``D``, ``r``, ``f``, ``eps``, ``x``, ``kappa``, ``width`` or the fitter's own names, in a
        global fit optionally prefixed with the curve index (``c1_f``); or a parameter of a library.
    what : str
        How to name the argument in the message (``"fix"``, ``"--fix"``).
    extra : sequence of str
        Parameters tabulated in a library (``cq``, ``nu1``, ...).
    """
    prefix = ""
    if name[:1] == "c" and name[1:2].isdigit() and "_" in name:
        prefix, name = name.split("_", 1)
        prefix += "_"
    key = ALIASES.get(name.lower())
    if key is None and name.lower().replace("-", "_") in extra:
        key = name.lower().replace("-", "_")
    if key is None:
        more = f", or tabulated in the library: {', '.join(extra)}" if extra else ""
        raise UserError(f"{what}: unknown parameter {name!r}; use one of D, r, f, eps, x, kappa, width{more}")
    return prefix + key


def _canonical_keys(mapping, what, extra):
    """``mapping`` with canonical keys; the same parameter under two names is refused."""
    out, given = {}, {}
    for name, value in dict(mapping or {}).items():
        key = canonical_name(str(name).strip(), what, extra)
        if key in out:
            raise UserError(f"{what} {given[key]} and {what} {name} set the same parameter; give it once")
        out[key], given[key] = value, name
    return out


def fit(curves, observe=None, partner=None, *, experiment="respdor", transfer=None, sequence="redor",
        pulse_length_s=None, mas_rate_hz=None, n_partners=1, time_unit=None, simulate_spec=None,
        sim_accuracy=1e-3, powder_tol=None, check_convergence=False, library=None,
        parameterization="coupling", fix=None, free=(), bounds=None, start=None, share=(), method="ratio",
        intervals=True, mcmc=False, mcmc_steps=2000, mcmc_seed=0, allow_long=False, progress=None,
        option_names=None):
    """Fit REDOR / RESPDOR dephasing curves: everything ``respdor fit`` does, as one call.

    Parameters
    ----------
    curves : path, DephasingCurve, or a list of them
        Curve files (CSV / TSV / text, see :func:`respdor.read_curve`) or curves already read.
        Several curves are fitted globally: they share D (or r), the scaling and the width, and
        each has its own fraction unless ``share`` says otherwise.
    observe, partner : str or list of str, optional
        Observed spin-1/2 nucleus and recoupled partner (``"13C"``, ``"27Al"``): one for all
        curves or one per curve. Default: the file's ``# observe = ...`` line, else the nuclei of
        the simulated shape or library, else 13C{27Al}. A value that contradicts the file is refused.
    experiment, transfer : str
        ``"respdor"`` (saturation of the partner) or ``"redor"`` (pi pulses on it); the population
        transfer of the partner pulse (default saturation for respdor, inversion for redor).
    sequence, pulse_length_s, mas_rate_hz : str, float, float
        Recoupling sequence on the observed spin, ``"redor"``, ``"sr4"`` or ``"redor-finite"`` (it
        sets the dipolar scaling); the pi-pulse length in s for ``redor-finite``; the MAS rate in
        Hz, for ``redor-finite`` and for time columns counting rotor periods.
    n_partners, time_unit : int, str
        Equivalent partners at one distance (second-moment approximation); the time unit (s, ms,
        us) of files whose header does not state it.
    simulate_spec, sim_accuracy, powder_tol, check_convergence : path, float, float, bool
        A spinsim spec (TOML/JSON) whose simulated (cached) curve replaces the formula; the largest
        accepted error (dS/S0) of the fitted curve against a direct simulation at the fitted D; the
        tolerance (dS/S0) of the powder / gamma / step check (default 2e-3); also check the settings
        the spec chose explicitly.
    library : str, Path or LibraryShape, optional
        A curve library (``respdor library build``) as the shape; its parameters (cq, nu1, ...)
        can be fixed, freed, bounded and shared like D and f.
    parameterization, method : str
        Fit D (``"coupling"``, Hz) and derive r, or fit r (``"distance"``, angstrom); fit dS/S0
        (``"ratio"``) or S0 and S1 jointly (``"signals"``, needs their noise).
    fix, start, bounds : dict, optional
        name -> value (held fixed / starting value) or (low, high). Names: ``D`` (Hz), ``r``
        (angstrom), ``f``, ``eps``, ``x``, ``kappa``, ``width`` (angstrom) or the fitter's names
        (``coupling_hz``, ...); in a global fit prefixed ``c0_``, ``c1_``, ... for one curve.
    free, share : sequence of str
        Parameters fixed by default (eps, x, kappa, width, library parameters) that should vary;
        further parameters shared by the curves of a global fit (e.g. ``["f"]``).
    intervals, allow_long : bool
        Compute the profile-likelihood intervals (68 and 95 %); fit more points than
        :data:`respdor.workload.CURVE_FIT_LIMIT`.
    mcmc, mcmc_steps, mcmc_seed : bool, int, int
        Also sample the posterior with emcee (``pip install 'respdor[mcmc]'``): steps per walker
        (at least 100; a quarter is burn-in) and the sampler's seed.
    progress : None, bool, callable or spinsim.progress.Progress
        Where progress and notes go (see :mod:`spinsim.progress`).
    option_names : dict, optional
        How messages name the arguments (the command line passes its options, ``{"fix": "--fix"}``).

    Returns
    -------
    FitResult
        Parameters with standard errors and intervals, the curves and models, notes and warnings.

    Raises
    ------
    UserError
        A mistake in the input (a missing file, contradictory nuclei, ...), naming the argument.

    Examples
    --------
    >>> import respdor
    >>> result = respdor.fit("data/respdor_13C27Al_synthetic.csv", "13C", "27Al")  # doctest: +SKIP
    >>> result["distance_angstrom"]  # doctest: +SKIP
    <ParameterEstimate 2.54 +- 0.16 angstrom, 95 % [2.19, 2.87]>
    """
    from spinsim.progress import as_progress

    names = dict(_NAMES, **(option_names or {}))
    report = as_progress(progress)
    mas_rate_hz = _checked_value(mas_rate_hz, "mas_rate", names["mas_rate_hz"])
    curves = _read_curves(curves, time_unit, mas_rate_hz)
    unused = _unused_arguments(curves, time_unit, mas_rate_hz, sequence, names)
    shape, shape_nuclei, shape_name = _shape(simulate_spec, library, names, curves)
    unused += _unused_with_shape(shape_name, experiment, transfer, sequence, pulse_length_s, names)
    nuclei = _nuclei(curves, observe, partner, shape_nuclei, shape_name, names, report)
    models = _models(nuclei, sequence, pulse_length_s, mas_rate_hz, names, experiment=experiment, transfer=transfer,
                     n_partners=n_partners)
    if shape_nuclei:
        from ..simfit import check_nuclei

        check_nuclei(shape_nuclei, models, shape_name, (names["observe"], names["partner"]))
    options = _fit_options(fix, bounds, start, free, share, getattr(shape, "parameters", None) or {}, names)
    options.update(parameterization=parameterization, method=method, intervals=intervals, allow_long=allow_long)
    _check_settings(mcmc, mcmc_steps, powder_tol, names)
    result = _fit_shape(curves, models, shape, simulate_spec, options, report, names, accuracy=sim_accuracy,
                        powder_tol=powder_tol, check_explicit=check_convergence)
    if mcmc:
        _sample(result, mcmc_steps, mcmc_seed, report, names, allow_long)
    result.warnings[:0] = [w for w in unused if w not in result.warnings]
    _raise_warnings(result, data=unused + _count_lines(curves))
    return result


def _unused_arguments(curves, time_unit, mas_rate_hz, sequence, names):
    """Lines for arguments that were given but change nothing: the MAS rate (used only for time
    columns counting rotor periods and by sequence redor-finite) and the time unit (used only for
    files whose header does not state it)."""
    from ..curve import looks_like_counts

    # read_curve says in time_unit_source which argument it used for each curve (see respdor.io)
    lines = []
    if mas_rate_hz is not None and sequence != "redor-finite" and \
            not any("(mas_rate_hz)" in c.time_unit_source for c in curves):
        counted = [c.label for c in curves if looks_like_counts(c)]
        why = (f"; if the times of {', '.join(counted)} count rotor periods, name the column n_rotor" if counted
               else "")
        lines.append(f"{names['mas_rate_hz']} {mas_rate_hz:g} Hz has no effect: every curve gives its times in a "
                     f"unit ({_time_sources(curves)}); the MAS rate is used only for a time column counting rotor "
                     f"periods (n_rotor) and by sequence redor-finite{why}")
    if time_unit is not None and not any("(time_unit)" in c.time_unit_source for c in curves):
        lines.append(f"{names['time_unit']} {time_unit} has no effect: every curve states its time unit "
                     f"({_time_sources(curves)}); it is used only for a file whose header does not")
    return lines


def _unused_with_shape(shape_name, experiment, transfer, sequence, pulse_length_s, names):
    """Lines for the model arguments a simulated or tabulated shape replaces (its own sequence and
    saturation make the curve; the analytical model's are not used)."""
    if shape_name is None:
        return []
    given = [(names["experiment"], experiment, experiment != "respdor"),
             (names["transfer"], transfer, transfer is not None),
             (names["sequence"], sequence, sequence != "redor"),
             (names["pulse_length_s"], pulse_length_s, pulse_length_s is not None)]
    return [f"{name} {value} has no effect with {shape_name}: the simulated curve carries its own experiment, "
            "recoupling sequence and saturation (set them in the spec)" for name, value, set_ in given if set_]


def _count_lines(curves):
    """The lines (also among the fit's warnings) about time columns that look like rotor-period counts."""
    from ..curve import rotor_count_warning

    return [line for line in map(rotor_count_warning, curves) if line]


def _time_sources(curves):
    said = [f"{c.label}: {c.time_unit_source or 'times in s'}" for c in curves[:3]]
    return "; ".join(said) + ("; ..." if len(curves) > 3 else "")


def _fit_shape(curves, models, shape, simulate_spec, options, report, names, **simulation):
    """The fit with the analytical curve, a library's (``shape``) or a simulated one (``simulate_spec``)."""
    if simulate_spec is not None:
        from ..simfit import fit_with_simulation

        return fit_with_simulation(simulate_spec, curves, models, fit_options=options, progress=report, names=names,
                                   **simulation)
    from ..fitting import fit_curves

    result = fit_curves(curves, [_with_shape(m, shape) for m in models], **options)
    if shape is not None:
        _note_library(result, shape, curves)
    return result


def _sample(result, steps, seed, report, names, allow_long=False):
    """The MCMC posterior on the result (a quarter of the chain is burn-in)."""
    from ..mcmc import sample_posterior

    sample_posterior(result, steps=steps, burn=steps // 4, seed=seed, progress=report, names=names,
                     allow_long=allow_long)


def _check_settings(mcmc, mcmc_steps, powder_tol, names):
    if mcmc and not mcmc_steps >= 100:
        raise UserError(f"{names['mcmc_steps']} {mcmc_steps}: use at least 100 steps")
    if powder_tol is not None and not (isinstance(powder_tol, (int, float)) and 0 < powder_tol < 1):
        raise UserError(f"{names['powder_tol']} {powder_tol!r}: must be a number in (0, 1) (a change of dS/S0)")


def _raise_warnings(result, data=()):
    """Each line of the result's warnings once as a Python warning (they stay on the result); the
    lines in ``data`` (about the input) as :class:`DataWarning`."""
    import warnings

    from ..errors import ConvergenceWarning, FitWarning

    for text in dict.fromkeys(result.warnings):
        category = ConvergenceWarning if "convergence" in text or "converged" in text else FitWarning
        category = DataWarning if text in data else category
        warnings.warn(text, category, stacklevel=3)


def _checked_value(value, quantity, name):
    """None, or ``value`` as a positive finite float within what an experiment can have."""
    if value is None:
        return None
    from spinsim.plausibility import check

    try:
        value = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} {value!r}: must be a number") from None
    if not value > 0 or not math.isfinite(value):
        raise UserError(f"{name} must be positive, got {value!r}")
    try:
        unusual = check(quantity, value, name)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if unusual:
        warn(unusual, DataWarning, stacklevel=3)
    return value


def _read_curves(curves, time_unit, mas_rate_hz):
    """The curves: files read (each checked to exist, none twice), DephasingCurve objects as they are."""
    from ..curve import DephasingCurve
    from ..io import read_curve

    if isinstance(curves, (str, Path, DephasingCurve)):
        curves = [curves]
    curves = list(curves)
    if not curves:
        raise UserError("no curve to fit")
    paths = [c for c in curves if not isinstance(c, DephasingCurve)]
    for f in paths:
        if not Path(f).exists():
            raise UserError(f"{f}: no such file")
    _refuse_same_file(paths)
    return [c if isinstance(c, DephasingCurve) else read_curve(c, time_unit=time_unit, mas_rate_hz=mas_rate_hz)
            for c in curves]


def _refuse_same_file(files):
    """The same file twice in a global fit would count its points twice (errors shrink by sqrt 2)."""
    seen = {}
    for f in files:
        key = Path(f).resolve()
        if key in seen:
            raise UserError(f"{seen[key]} and {f} are the same file: a global fit would count its points twice; "
                            "give each curve once")
        seen[key] = f


def _shape(simulate_spec, library, names, curves=()):
    """(library shape or None, (observed, partner) of the spec or library or None, how to name it); a
    library whose times end before those of ``curves`` is refused."""
    if library is not None and simulate_spec is not None:
        raise UserError(f"give {names['simulate']} or {names['library']}, not both")
    if library is not None:
        if isinstance(library, (str, Path)):
            try:
                from ..library import LibraryShape
            except ImportError:
                raise UserError(f"{names['library']}: simulated libraries are not available in this "
                                "installation") from None
            label, library = f"{names['library']} {library}", LibraryShape.open(library)
        else:
            label = f"{names['library']} {library.path}" if getattr(library, "path", None) else library.description
        _check_library_times(curves, library, label)
        return library, getattr(library, "nuclei", None), label
    if simulate_spec is None:
        return None, None, None
    from spinsim.spec import SpecError, load_spec

    from ..simfit import spec_nuclei

    try:
        sp = load_spec(simulate_spec)
    except SpecError as exc:
        raise UserError(f"{names['simulate']}: {exc}") from None
    if not sp.system.dipolar:
        raise UserError(f"{simulate_spec}: the spec has no [[dipolar]] coupling to fit")
    return None, spec_nuclei(sp), f"{names['simulate']} {simulate_spec}"


def _check_library_times(curves, shape, shape_name):
    """A library tabulates times up to its t_max only: a later point is refused (it would be extrapolated)."""
    t_max = getattr(shape, "t_max_s", None)
    for curve in curves if t_max else ():
        last = float(np.max(curve.time_s))
        if last > t_max * (1 + 1e-9):
            raise UserError(f"{curve.source or curve.label}: recoupling times up to {1e3 * last:g} ms, but "
                            f"{shape_name} tabulates times up to {1e3 * t_max:g} ms; leave out the later points "
                            "or build the library with a longer --t-max")


def _per_file(values, n, name):
    values = [values] if isinstance(values, str) else list(values)
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise UserError(f"{name} given {len(values)} times for {n} files; give it once or once per file")
    return values


def _nuclei(curves, observe, partner, shape_nuclei, shape_name, names, report):
    """[(observed, partner)] per curve; the notes say where a nucleus not given came from."""
    obs = _file_nuclei(curves, observe, "observe", shape_nuclei[0] if shape_nuclei else "13C", names, report)
    for symbol in obs:
        _check_spin_half(symbol, names["observe"])
    par = _file_nuclei(curves, partner, "partner", shape_nuclei[1] if shape_nuclei else "27Al", names, report)
    if shape_nuclei and not (observe and partner):
        report.note(f"nuclei {shape_nuclei[0]}{{{shape_nuclei[1]}}} from {shape_name}")
    return list(zip(obs, par))


def _file_nuclei(curves, given, key, default, names, report):
    """Per-file nucleus: the argument, else the file's ``# observe = 111Cd`` line (as ``respdor
    integrate`` writes it), else ``default``; an argument that contradicts the file is refused."""
    from spinsim.isotopes import get_isotope

    option = names[key]
    given = _per_file(given, len(curves), option) if given else [None] * len(curves)
    values = []
    for curve, g in zip(curves, given):
        f = curve.metadata.get(key)
        try:
            same = g is None or f is None or get_isotope(g).symbol == f
        except ValueError:
            same = True  # an unknown isotope is named by the checks that follow
        if not same:
            raise UserError(f"{option} {g} but {curve.source} says '# {key} = {f}': they contradict each other; "
                            f"drop {option} or check the file")
        if g is None and f is not None:
            report.note(f"{option} {f}: from {curve.source}")
        values.append(g or f or default)
    return values


def _check_spin_half(symbol, option):
    """The REDOR/RESPDOR dephasing models treat the observed spin as spin 1/2: refuse a quadrupolar one."""
    from spinsim.isotopes import get_isotope

    try:
        iso = get_isotope(symbol)
    except ValueError as exc:
        raise UserError(f"{option}: {exc}") from None
    if iso.spin != 0.5:
        raise UserError(f"{option} {symbol}: spin {iso.spin:g} (quadrupolar); the REDOR/RESPDOR models need a "
                        "spin-1/2 observed nucleus (e.g. 13C, 31P, 29Si, 113Cd); make the quadrupolar nucleus "
                        "the partner")


def _models(nuclei, sequence, pulse_length_s, mas_rate_hz, names, **options):
    """One analytical CurveModel per curve (a finite-pulse REDOR needs the pulse length and the MAS rate)."""
    from ..fitting import CurveModel

    if sequence == "redor-finite" and (pulse_length_s is None or mas_rate_hz is None):
        raise UserError(f"sequence redor-finite needs {names['pulse_length_s']} and {names['mas_rate_hz']}")
    pulse_length_s = _checked_value(pulse_length_s, "pi_pulse", names["pulse_length_s"])
    rotor = (1.0 / mas_rate_hz) if mas_rate_hz else None
    return [CurveModel(observe=o, partner=p, sequence=sequence, pulse_length_s=pulse_length_s, rotor_period_s=rotor,
                       **options) for o, p in nuclei]


def _with_shape(model, shape):
    import dataclasses

    return model if shape is None else dataclasses.replace(model, shape=shape)


def _fit_options(fix, bounds, start, free, share, extra, names):
    """fix / bounds / initial / free / shared in the fitter's names, and how messages name them."""
    extra = tuple(extra)
    if isinstance(free, str):
        free = [free]
    if isinstance(share, str):
        share = [share]
    return dict(fix=_canonical_keys(fix, names["fix"], extra),
                bounds=_canonical_keys(bounds, names["bounds"], extra),
                initial=_canonical_keys(start, names["initial"], extra),
                free=[canonical_name(str(x), names["free"], extra) for x in free],
                shared=list(DEFAULT_SHARED) + [canonical_name(str(x), names["share"], extra) for x in share],
                option_names={k: names[k] for k in ("fix", "bounds", "initial")})


def _note_library(result, library, curves):
    """The library's convergence record and interpolation error, in the result's notes and warnings."""
    conv = getattr(library, "convergence", None)
    if conv is None:
        result.notes.append(f"{library.description}: its powder convergence was not checked (built with --checks 0 "
                            "or by an older version)")
    else:
        result.notes.extend(f"{library.description}: {line}" if k == 0 else line
                            for k, line in enumerate(conv["lines"]))
        result.warnings.extend(conv["warnings"])
        result.convergence = {k: v for k, v in conv.items() if k not in ("lines", "warnings")}
    err = library.interp_error
    if err is None:
        result.warnings.append(f"{library.description}: interpolation error never measured (build without checks)")
        return
    result.notes.append(f"{library.description}: interpolation error measured at {err['n_points']} off-grid "
                        f"points: max {err['max']:.2g}, rms {err['rms']:.2g} in dS/S0 (fraction 1)")
    from ..library import sparse_check_warning

    sparse = sparse_check_warning({a.name: {"n": len(a.values)} for a in library.axes}, err, library.description)
    if sparse:
        result.warnings.append(sparse)
    # The error bars know nothing of the interpolation error: say so when it rivals the noise.
    amp = max((v.value for k, v in result.parameters.items() if k.endswith("amplitude")), default=1.0)
    sig = [float(np.median(c.sigma)) for c in curves if c.sigma is not None]
    if sig and amp * err["rms"] > 0.5 * min(sig):
        result.warnings.append(
            f"{library.description}: interpolation error (rms {amp * err['rms']:.2g} in the fitted curve) is not "
            f"small against the noise (median sigma {min(sig):.2g}); the error bars leave it out; use a denser "
            "grid or a larger powder")
