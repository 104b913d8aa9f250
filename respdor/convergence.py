"""Reporting of the powder / gamma / time-step convergence check (:mod:`spinsim.convergence`).

One home for what every command that produces a simulated curve (``simulate``, ``fit --simulate``,
``structure``, ``library build``) says about the numerical convergence of that curve: the
command-line options, which settings the user chose explicitly, one text line per dimension and
the JSON record. The physics of the check (which levels, how compared, refinement) lives in
:mod:`spinsim.convergence`.
"""

from __future__ import annotations

import math

from .errors import UserError

__all__ = ["add_options", "tolerance", "spec_explicit", "check_text", "check_json", "check_warnings",
           "spec_level", "spec_uses_step", "powder_dict", "raw_at_step"]

_LABEL = {"alpha_beta": "(alpha, beta) orientations", "gamma": "gamma angles", "step": "time step"}


def add_options(parser, what="the simulated curve"):
    """``--check-convergence`` and ``--powder-tol`` on a sub-command's parser."""
    from spinsim.convergence import DEFAULT_TOL

    parser.add_argument("--check-convergence", action="store_true",
                        help=f"also check the powder, gamma and step settings you chose explicitly for {what} "
                             "(defaulted settings are always checked)")
    parser.add_argument("--powder-tol", type=float, default=DEFAULT_TOL, metavar="DSS0",
                        help="largest accepted change of dS/S0 when the (alpha, beta) set, the gamma angles or the "
                             f"time step is made coarser (default {DEFAULT_TOL:g}, a fifth of typical noise)")


def tolerance(args):
    """The checked ``--powder-tol`` value."""
    return check_tol(args.powder_tol, "--powder-tol")


def check_tol(tol, name="powder_tol"):
    """``tol`` checked as a tolerance of the convergence check: a number in (0, 1) (a change of dS/S0)."""
    if isinstance(tol, int) and not isinstance(tol, bool):
        tol = float(tol)
    if not (isinstance(tol, float) and math.isfinite(tol) and 0 < tol < 1):
        raise UserError(f"{name} {tol!r}: must be a number in (0, 1) (a change of dS/S0)")
    return tol


def spec_explicit(raw, powder_option=False, gamma_option=False):
    """Which of the three settings a spec (``raw`` dict) or a command-line option chose."""
    pw = raw.get("powder") or {}
    sim = raw.get("simulation") or {}
    return {"alpha_beta": bool(powder_option or "n" in pw or "file" in pw),
            "gamma": bool(gamma_option or "n_gamma" in pw),
            "step": "max_dt_us" in sim}


def spec_level(sp):
    """The :class:`spinsim.convergence.Level` of a loaded spec."""
    from spinsim.convergence import Level

    return Level(sp.powder, sp.max_dt)


def spec_uses_step(sp):
    """Whether a loaded spec's simulation depends on its time step: every run but the fast engine's
    with ideal pulses and an ideal centre (which integrates free evolution exactly)."""
    ideal_centre = sp.saturation is None or hasattr(sp.saturation, "kind")
    return not (ideal_centre and isinstance(sp.recoupling, str) and sp.centre_pulse == 0
                and not sp.system.homonuclear_pairs() and sp.rf_inhomogeneity is None)


def powder_dict(powder):
    """``{"scheme", "n", "n_gamma"}`` of a ZCW or REPULSION :class:`spinsim.Powder` (library/cache form)."""
    scheme = "repulsion" if powder.name.startswith("rep") else "zcw"
    return {"scheme": scheme, "n": int(powder.n_ab), "n_gamma": int(powder.n_gamma)}


def raw_at_step(raw, max_dt):
    """A copy of the spec dict ``raw`` with ``[simulation] max_dt_us`` set to ``max_dt`` (s)."""
    import copy

    out = copy.deepcopy(raw)
    out.setdefault("simulation", {})["max_dt_us"] = float(max_dt) * 1e6
    return out


def announce(explicit, check_explicit, run_wall_s, out, uses_step=True):
    """Say before the check starts what it will cost (nothing when no setting is to be checked).

    ``out``: a :class:`spinsim.progress.Progress` (or ``progress`` argument) that receives the
    line as a note, or a text stream, on which it is written as an indented line.
    """
    from spinsim.convergence import COST_BOUND
    from spinsim.progress import LineProgress, Progress, as_progress

    n = sum(1 for k, v in explicit.items() if (check_explicit or not v) and (uses_step or k != "step"))
    if n:
        to = out if isinstance(out, Progress) or not hasattr(out, "write") else LineProgress(out)
        as_progress(to).note(f"checking convergence of {n} setting(s): about {COST_BOUND * run_wall_s:.0f} s at "
                             f"most ({COST_BOUND:g}x the run's {run_wall_s:.1f} s), more if a setting must be "
                             "refined")


def _value(dim, v):
    return f"{v * 1e6:g} us" if dim == "step" else f"{int(v)}"


def _at(k, times_s):
    if k is None or times_s is None:
        return ""
    return f" at {1e3 * float(times_s[k]):.4g} ms"


def _dimension_text(d, times_s, origin, options=True):
    who = "yours" if d.explicit else origin
    head = f"{_LABEL[d.dimension]} {_value(d.dimension, d.initial_value)} ({who})"
    if d.status == "not applicable":
        return f"{_LABEL[d.dimension]}: not applicable (no step: free evolution is integrated exactly)"
    if d.status == "explicit":
        how = "--check-convergence" if options else "check_convergence=True"
        return f"{head}: not checked ({how} checks it)"
    if d.status == "cannot coarsen":
        return f"{head}: cannot be checked (no coarser member of this orientation set)"
    first = d.steps[0]
    on = f" ({first['on']})" if first.get("on") else ""
    text = (f"{head} vs {_value(d.dimension, first['compared_with'])}{on}: max |change| {first['max_change']:.1e}"
            f"{_at(first['at_index'], times_s)}")
    if len(d.steps) > 1:
        if d.explicit:
            s = d.steps[1]
            text += (f"; vs {_value(d.dimension, s['compared_with'])}: {s['max_change']:.1e}"
                     f"{_at(s['at_index'], times_s)} (the error of your setting)")
        else:
            text += "; refined: " + ", ".join(
                f"{_value(d.dimension, s['value'])} (vs {_value(d.dimension, s['compared_with'])}"
                f"{', ' + s['on'] if s.get('on') else ''}: {s['max_change']:.1e})" for s in d.steps[1:])
            if d.status == "refined":
                text += f"; the result uses {_value(d.dimension, d.value)}"
    return f"{text}: {d.status}"


def check_text(check, times_s, origin="default", options=True):
    """Lines (without indentation) saying what was checked, at what cost, and the outcome; ``options``:
    name the command-line option that checks explicit settings (else the Python argument)."""
    finer = check.finer_wall_s
    extra = f"; finer runs {finer:.1f} s" if finer > 0 else ""
    lines = [f"convergence check (tolerance {check.tol:g} in dS/S0; each setting against a coarser one, the "
             f"others held; {check.check_wall_s:.1f} s = {check.cost_fraction:.2g}x the run, bound "
             f"{check.cost_bound:g}x{extra}): result at {check.level.describe()}"]
    lines += ["  " + _dimension_text(d, times_s, origin, options) for d in check.dimensions]
    return lines


def check_json(check, times_s=None):
    """The check as a JSON-ready dict (numbers in SI; changes in dS/S0)."""
    dims = {}
    for d in check.dimensions:
        steps = [dict(s, at_t_s=None if times_s is None else float(times_s[s["at_index"]])) for s in d.steps]
        dims[d.dimension] = {"explicit": d.explicit, "status": d.status, "initial": d.initial_value,
                             "final": d.value, "max_change": d.max_change,
                             "error_estimate": d.error_estimate, "comparisons": steps}
    return {"tolerance": check.tol, "converged": check.converged, "initial_level": check.initial.describe(),
            "final_level": check.level.describe(), "run_wall_s": check.run_wall_s,
            "check_wall_s": check.check_wall_s, "finer_wall_s": check.finer_wall_s,
            "cost_fraction": check.cost_fraction,
            "cost_bound": check.cost_bound, "dimensions": dims}


_HINT = {"alpha_beta": ("more orientations ([powder] n", "--powder"),
         "gamma": ("more gamma angles ([powder] n_gamma", "--gamma"),
         "step": ("a shorter step ([simulation] max_dt_us", None)}


def check_warnings(check, times_s, where="", options=True):
    """One warning line per dimension left unconverged (empty when all passed); ``options``: True when
    the command has ``--powder``/``--gamma`` to name besides the spec keys, or a dict naming the
    arguments that set ``"alpha_beta"`` and ``"gamma"``."""
    out = []
    for d in check.dimensions:
        if d.status != "unconverged":
            continue
        s = d.steps[-1]
        size = d.error_estimate if d.error_estimate is not None else s["max_change"]
        who = "your" if d.explicit else "the refined default" if len(d.steps) > 1 else "the default"
        out.append(f"{where}{_LABEL[d.dimension]} not converged: {who} {_value(d.dimension, d.value)} vs "
                   f"{_value(d.dimension, s['compared_with'])} changes dS/S0 by {size:.2g}"
                   f"{_at(s['at_index'], times_s)} (tolerance {check.tol:g}); use {_hint(d.dimension, options)}")
    return out


def _hint(dim, options):
    key, opt = _HINT[dim]
    if isinstance(options, dict):
        opt = options.get(dim)
    return key + (f", {opt})" if options and opt else ")")
