"""Text tables, JSON and CSV files from a :class:`~respdor.fitting.FitResult`."""

from __future__ import annotations

import csv
import io
import math

import numpy as np

from .files import write_output

__all__ = ["format_table", "write_json", "write_parameters_csv", "write_fit_curve_csv", "format_number"]

_LABELS = {
    "coupling_hz": "D (Hz)",
    "distance_angstrom": "r (A)",
    "fraction": "fraction f",
    "efficiency": "efficiency eps",
    "abundance": "abundance x",
    "scaling": "scaling kappa",
    "width_angstrom": "width sigma_r (A)",
    "amplitude": "f*eps*x",
}


def format_number(value, stderr=None, width=None):
    """Round a value to the precision its standard error supports (two significant digits of the error).

    With ``width`` (characters), a number that would not fit (a huge or barely constrained value,
    an error far below the value's last digit) is written in exponent notation instead, so that
    table columns never run into each other and a number is never misread.
    """
    if value is None or not math.isfinite(value):
        return "n/a"
    if stderr is None or not math.isfinite(stderr) or stderr <= 0:
        text = f"{value:.4g}"
    else:
        digits = max(0, 1 - int(math.floor(math.log10(stderr))))
        text = f"{value:.{digits}f}"
    if width is not None and len(text) > width:
        text = f"{value:.{max(1, width - 7)}e}"
    return text


def _label(name):
    base = name
    prefix = ""
    if name[:1] == "c" and name[1:2].isdigit() and "_" in name:
        prefix, base = name.split("_", 1)
        prefix = f"[{prefix}] "
    return prefix + _LABELS.get(base, base)


def _interval(ci, stderr):
    if ci is None:
        return "-"
    lo, hi = ci
    if lo is None or hi is None:
        return "open"
    return f"[{format_number(lo, stderr, 10)}, {format_number(hi, stderr, 10)}]"


def format_table(result) -> str:
    """The fit result as a plain-text table with assumptions and warnings."""
    lines = []
    for curve, model in zip(result.curves, result.models):
        lines.append(f"curve  {curve.label}: {curve.n_points} points, t = {curve.time_s.min() * 1e3:.3g}-"
                     f"{curve.time_s.max() * 1e3:.3g} ms; model {model.describe()}")
    lines.append("")
    header = f"{'parameter':<22}{'value':>12}{'stderr':>12}   {'68% interval':<24}{'95% interval':<24}"
    lines.append(header)
    lines.append("-" * len(header))
    order = ["coupling_hz", "distance_angstrom", "fraction", "amplitude", "efficiency", "abundance",
             "scaling", "width_angstrom"]

    def sort_key(name):
        base = name.split("_", 1)[1] if name[:1] == "c" and name[1:2].isdigit() else name
        prefix = name.split("_", 1)[0] if base != name else ""
        return (prefix, order.index(base) if base in order else 99)

    for name in sorted(result.parameters, key=sort_key):
        est = result.parameters[name]
        if not est.vary and not est.derived:
            status = "fixed"
            lines.append(f"{_label(name):<22}{format_number(est.value, width=11):>12}{status:>12}")
            continue
        err = "n/a" if est.stderr is None else format_number(est.stderr, est.stderr, 11)
        lines.append(f"{_label(name):<22}{format_number(est.value, est.stderr, 11):>12}{err:>12}   "
                     f"{_interval(est.ci68, est.stderr):<24} {_interval(est.ci95, est.stderr):<24}")
    lines.append("")
    quality = f"chi2_red = {result.redchi:.3g} ({result.n_points} points, {result.n_free} free parameters"
    quality += ", measurement errors as weights)" if result.weighted else ", equal weights)"
    if getattr(result, "p_value", None) is not None:
        quality += f"; chi2 p-value = {result.p_value:.3g}"
    lines.append(quality)
    mcmc = getattr(result, "mcmc", None)
    if mcmc:
        lines.append("")
        lines.append(f"MCMC posterior ({mcmc['settings']['walkers']} walkers x {mcmc['settings']['steps']} steps, "
                     f"burn-in {mcmc['settings']['burn']}, seed {mcmc['settings']['seed']}; "
                     f"acceptance {mcmc['acceptance']:.2f}; {mcmc['settings']['prior']})")
        lines.append(f"{'parameter':<22}{'median':>12}   {'68% credible':<24}{'95% credible':<24}")
        for name in sorted(mcmc["parameters"], key=sort_key):
            q = mcmc["parameters"][name]
            width = (q["ci68"][1] - q["ci68"][0]) / 2
            lines.append(f"{_label(name):<22}{format_number(q['median'], width, 11):>12}   "
                         f"{_interval(tuple(q['ci68']), width):<24} {_interval(tuple(q['ci95']), width):<24}")
    for key, value in result.correlations.items():
        lines.append(f"correlation {key} = {value:+.3f}")
    for note in result.notes:
        lines.append(f"note: {note}")
    for warning in result.warnings:
        lines.append(f"WARNING: {warning}")
    return "\n".join(lines)


def write_json(result, path, extra: dict | None = None):
    """Write the machine-readable result (``-`` writes to standard output), through the output guard
    (:func:`respdor.resultio.write_json`, the one JSON format of results)."""
    from .resultio import write_json as write_result_json

    payload = result.to_dict()
    if extra:
        payload.update(extra)
    write_result_json(path, payload)


def write_parameters_csv(result, path):
    """One row per parameter: name, unit, value, stderr, interval ends, vary/derived flags.

    Written through the output guard (:func:`respdor.files.write_output`): whole or not at all.
    """
    fh = io.StringIO(newline="")
    writer = csv.writer(fh)
    writer.writerow(["parameter", "unit", "value", "stderr", "ci68_low", "ci68_high", "ci95_low", "ci95_high",
                     "vary", "derived"])
    for name, est in result.parameters.items():
        ci68 = est.ci68 or (None, None)
        ci95 = est.ci95 or (None, None)
        writer.writerow([name, est.unit, _s(est.value), _s(est.stderr), _s(ci68[0]), _s(ci68[1]),
                         _s(ci95[0]), _s(ci95[1]), int(est.vary), int(est.derived)])
    write_output(path, fh.getvalue())


def write_fit_curve_csv(result, path):
    """Data, errors, best fit and residuals of every curve: ``curve,t_s,dSS0,sigma,fit,residual``.

    Written through the output guard (:func:`respdor.files.write_output`): whole or not at all.
    """
    fh = io.StringIO(newline="")
    writer = csv.writer(fh)
    writer.writerow(["curve", "t_s", "dSS0", "sigma", "fit", "residual"])
    for i, curve in enumerate(result.curves):
        fit = result.best_fit(i)
        sigma = curve.sigma if curve.sigma is not None else np.full(curve.n_points, np.nan)
        for t, y, s, f in zip(curve.time_s, curve.dss0, sigma, fit):
            writer.writerow([curve.label, _s(t), _s(y), _s(s), _s(f), _s(y - f)])
    write_output(path, fh.getvalue())


def _s(v):
    if v is None:
        return ""
    v = float(v)
    return "" if not math.isfinite(v) else repr(v)
