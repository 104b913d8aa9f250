"""Check the user's fixed values, bounds and starts, and map D <-> r to the fitted parameter.

D and r are one quantity (D = dr3 / r^3, with dr3 from :func:`spinsim.dipolar.dipolar_constant`
held by :class:`respdor.fitting.CurveModel`), so a constraint on either is honoured whichever of
the two is fitted: a fixed value or a start is converted, a bound [lo, hi] becomes
[dr3 / hi^3, dr3 / lo^3] (or the reverse). Contradictions (D and r both fixed, a start on a
fixed parameter or outside the bounds, an unphysical value) raise :class:`UserError` naming the
option as the user wrote it.
"""

from __future__ import annotations

import math

from .errors import UserError

__all__ = ["SHORT_NAMES", "prepare_constraints"]

#: Names users type for each parameter (the CLI's aliases), for messages.
SHORT_NAMES = {
    "coupling_hz": "D", "distance_angstrom": "r", "fraction": "f", "efficiency": "eps",
    "abundance": "x", "scaling": "kappa", "width_angstrom": "width",
}

#: (lowest, highest, lowest allowed itself?) physical value of each parameter.
_PHYSICAL = {
    "coupling_hz": (0.0, math.inf, False, "a dipolar coupling must be > 0 Hz"),
    "distance_angstrom": (0.0, math.inf, False, "a distance must be > 0 angstrom"),
    "fraction": (0.0, math.inf, True, "a fraction cannot be negative"),
    "efficiency": (0.0, 1.0, True, "an efficiency lies in [0, 1]"),
    "abundance": (0.0, 1.0, True, "an isotopic abundance lies in [0, 1]"),
    "scaling": (0.0, math.inf, False, "a scaling factor must be > 0"),
    "width_angstrom": (0.0, math.inf, True, "a distance width cannot be negative"),
}
_GEOMETRY = ("coupling_hz", "distance_angstrom")


def _split(name):
    """('c1_', 'coupling_hz') or ('', 'coupling_hz')."""
    if name[:1] == "c" and name[1:2].isdigit() and "_" in name:
        prefix, base = name.split("_", 1)
        return prefix + "_", base
    return "", name


def _show(name, value):
    prefix, base = _split(name)
    short = prefix + SHORT_NAMES.get(base, base)
    if isinstance(value, tuple):
        return f"{short}={value[0]:g}:{value[1]:g}"
    return f"{short}={value:g}"


def _physical(value, base):
    lo, hi, lo_ok, _ = _PHYSICAL[base]
    if not math.isfinite(value):
        return False
    return (value > lo or (lo_ok and value == lo)) and value <= hi


def _check_values(fix, bounds, initial, labels):
    # Parameters of a simulated shape (a library's cq, nu1, ...) are not in _PHYSICAL: their range is
    # the tabulated one, which the shape itself enforces.
    for kind, mapping in (("fix", fix), ("initial", initial)):
        for name, value in mapping.items():
            base = _split(name)[1]
            if base in _PHYSICAL and not _physical(float(value), base):
                raise UserError(f"{labels[kind]} {_show(name, value)}: {_PHYSICAL[base][3]}")
    for name, value in fix.items():
        base = _split(name)[1]
        if base in ("fraction", "efficiency", "abundance") and value == 0:
            raise UserError(f"{labels['fix']} {_show(name, value)}: the curve would be flat at 0 and carry no "
                            "distance")
    for name, (lo, hi) in bounds.items():
        base = _split(name)[1]
        if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
            raise UserError(f"{labels['bounds']} {_show(name, (lo, hi))}: the low end must be below the high end "
                            "(both finite)")
        if base not in _PHYSICAL:
            continue
        plo, phi, _, why = _PHYSICAL[base]
        if lo < plo or hi > phi:
            raise UserError(f"{labels['bounds']} {_show(name, (lo, hi))}: {why}")
    for name in fix:
        if name in bounds:  # a bound on a fixed parameter would be ignored without a word
            raise UserError(f"{labels['bounds']} {_show(name, bounds[name])}: the parameter is fixed "
                            f"({labels['fix']} {_show(name, fix[name])}); give one of the two")
        if name in initial:
            raise UserError(f"{labels['initial']} {_show(name, initial[name])}: the parameter is fixed "
                            f"({labels['fix']} {_show(name, fix[name])}); give one of the two")


def _twin(name):
    prefix, base = _split(name)
    other = "distance_angstrom" if base == "coupling_hz" else "coupling_hz"
    return prefix + other


def _dr3_for(name, models, labels, kind, value):
    prefix, _ = _split(name)
    if prefix:
        index = int(prefix[1:-1])
        if index >= len(models):
            raise UserError(f"{labels[kind]} {_show(name, value)}: there are only {len(models)} curves")
        return models[index].dr3
    values = {m.dr3 for m in models}
    if len(values) > 1:
        raise UserError(f"{labels[kind]} {_show(name, value)}: the curves have different nucleus pairs, so D "
                        "differs between them; give r, or prefix the curve (c0_D=...)")
    return values.pop()


def _map_geometry(fix, bounds, initial, models, primary, labels, default_bounds):
    """Convert constraints on the derived geometric quantity into ones on the fitted one."""
    other = "distance_angstrom" if primary == "coupling_hz" else "coupling_hz"
    for kind, mapping in (("fix", fix), ("initial", initial), ("bounds", bounds)):
        for name in [n for n in mapping if _split(n)[1] == other]:
            value = mapping.pop(name)
            target = _twin(name)
            if target in mapping:
                raise UserError(f"{labels[kind]} {_show(name, value)} and {labels[kind]} "
                                f"{_show(target, mapping[target])} constrain the same distance; give one of them")
            dr3 = _dr3_for(name, models, labels, kind, value)
            if kind != "bounds":
                mapping[target] = dr3 / value**3 if other == "distance_angstrom" else (dr3 / value) ** (1 / 3)
                continue
            lo, hi = value
            d_lo, d_hi = default_bounds(primary, models[0])
            if primary == "coupling_hz":  # bound given on r
                mapping[target] = (dr3 / hi**3, dr3 / lo**3 if lo > 0 else d_hi)
            else:  # bound given on D
                mapping[target] = ((dr3 / hi) ** (1 / 3), (dr3 / lo) ** (1 / 3) if lo > 0 else d_hi)
            mapping[target] = (mapping[target][0], max(mapping[target]))


def prepare_constraints(fix, bounds, initial, models, parameterization, labels=None, default_bounds=None):
    """Validate the constraints and express them on the fitted parameters.

    Parameters
    ----------
    fix, bounds, initial : dict
        name -> value, name -> (low, high), name -> start (names from
        :data:`respdor.fitting.FITTABLE`, optionally prefixed ``c0_`` ...), D in Hz, r in angstrom.
    models : list of CurveModel
        One per curve (their D r^3 constants convert D <-> r).
    parameterization : {"coupling", "distance"}
    labels : dict, optional
        How to name the three kinds in messages, e.g. ``{"fix": "--fix", "bounds": "--bound",
        "initial": "--start"}`` for the command line.
    default_bounds : callable
        ``default_bounds(base, model) -> (low, high)`` for parameters without a user bound.

    Returns
    -------
    fix, bounds, initial : dict
        New dicts with D/r constraints on the fitted quantity.

    Raises
    ------
    UserError
        Unphysical values, low >= high, D and r both constrained the same way, a start on a fixed
        parameter or outside the bounds, a fixed value outside the bounds.
    """
    labels = dict({"fix": "fix", "bounds": "bounds", "initial": "initial"}, **(labels or {}))
    fix, bounds, initial = dict(fix), {k: tuple(map(float, v)) for k, v in bounds.items()}, dict(initial)
    original = {"fix": dict(fix), "initial": dict(initial), "bounds": dict(bounds)}
    _check_values(fix, bounds, initial, labels)
    if default_bounds is not None:
        _check_bounds_in_table(bounds, models, labels, default_bounds)
    for name in fix:
        if _twin(name) in fix and _split(name)[1] in _GEOMETRY:
            raise UserError(f"{labels['fix']} {_show(name, fix[name])} and {labels['fix']} "
                            f"{_show(_twin(name), fix[_twin(name)])} fix the same distance; give one of them")
    primary = "coupling_hz" if parameterization == "coupling" else "distance_angstrom"
    for name in fix:
        if _split(name)[1] in _GEOMETRY and _twin(name) in initial:
            raise UserError(f"{labels['initial']} {_show(_twin(name), initial[_twin(name)])}: the distance is "
                            f"fixed ({labels['fix']} {_show(name, fix[name])}); give one of the two")
    # Within the bounds, first as the user wrote them (their own bound or default range), then
    # after mapping D <-> r (a start on r against a bound on D).
    _check_inside(fix, initial, bounds, original, models, labels, default_bounds)
    _map_geometry(fix, bounds, initial, models, primary, labels, default_bounds)
    _check_inside(fix, initial, bounds, original, models, labels, default_bounds)
    return fix, bounds, initial


def _check_inside(fix, initial, bounds, original, models, labels, default_bounds):
    for kind, mapping in (("fix", fix), ("initial", initial)):
        for name, value in mapping.items():
            prefix, base = _split(name)
            lo, hi = bounds.get(name, bounds.get(base, default_bounds(base, models[0])))
            if lo <= value <= hi:
                continue
            given = _original(original[kind], name)
            bound = _original(original["bounds"], name)
            if bound:
                where = f"{labels['bounds']} {_show(*bound)}"
            elif _tabulated(base, _model(name, models)):
                where = _table_words(base, _model(name, models), lo, hi)
            else:
                unit = {"coupling_hz": " Hz", "distance_angstrom": " angstrom"}.get(base, "")
                where = f"the default range of {SHORT_NAMES.get(base, base)}, [{lo:g}, {hi:g}]{unit}"
            raise UserError(f"{labels[kind]} {_show(*given)} lies outside {where}")


def _model(name, models):
    """The model of the curve a (possibly ``c1_``-prefixed) parameter belongs to."""
    prefix = _split(name)[0]
    return models[int(prefix[1:-1])] if prefix and int(prefix[1:-1]) < len(models) else models[0]


def _tabulated(base, model) -> bool:
    """True for D, r and the tabulated parameters of a curve library: the fit may not leave its table."""
    if getattr(getattr(model, "shape", None), "parameters", None) is None:  # no library (formula, simulated)
        return False
    return base in _GEOMETRY or base in model.shape_parameters


def _table_words(base, model, lo, hi):
    """The range a library tabulates, in the words of a message (``the range the library x.h5 ...``)."""
    from .library import PARAMETERS

    what = model.shape.description
    if base == "coupling_hz":
        return f"the couplings the {what} tabulates, [{lo:g}, {hi:g}] Hz"
    if base == "distance_angstrom":
        return f"the distances the {what} tabulates, [{lo:.4g}, {hi:.4g}] angstrom"
    unit = PARAMETERS.get(base, ("",))[0]
    return f"the range the {what} tabulates for {base}, [{lo:g}, {hi:g}]{' ' + unit if unit else ''}"


def _check_bounds_in_table(bounds, models, labels, default_bounds):
    """A bound beyond what a library tabulates (a parameter's axis, its couplings) is refused: the fit
    would ask the table for values it does not hold."""
    for name, (lo, hi) in bounds.items():
        base, model = _split(name)[1], _model(name, models)
        if not _tabulated(base, model):
            continue
        t_lo, t_hi = default_bounds(base, model)
        if not (lo >= t_lo - 1e-9 * abs(t_lo) and hi <= t_hi + 1e-9 * abs(t_hi)):
            raise UserError(f"{labels['bounds']} {_show(name, (lo, hi))} reaches beyond "
                            f"{_table_words(base, model, t_lo, t_hi)}")


def _original(mapping, name):
    """The (name, value) the user wrote for the fitted parameter ``name`` (D or r for geometry)."""
    for candidate in (name, _twin(name) if _split(name)[1] in _GEOMETRY else None,
                      _split(name)[1]):
        if candidate and candidate in mapping:
            return candidate, mapping[candidate]
    return None
