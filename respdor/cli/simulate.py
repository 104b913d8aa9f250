"""``respdor simulate SPEC``: exact spin-dynamics REDOR / RESPDOR curve from a spec file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import UserError
from ..workload import add_allow_long, check_work, simulation_work

_DESCRIPTION = """\
Simulate a REDOR or RESPDOR dephasing curve with the exact spin-dynamics engine (spinsim):
spin-1/2 observed spin, quadrupolar partner(s) with first- and second-order quadrupolar
coupling, CSA, MAS, finite or ideal pulses, CW / WURST / ideal saturation, powder average.

SPEC is a TOML or JSON file (format: docs/simulation.md; examples in data/*.toml). Every key
carries its unit in its name (d_hz, cq_mhz, nu1_khz, length_us, t_max_ms, euler_deg, ...).
Output: CSV with columns t_s,S0,S1,dSS0 and a PNG figure, by default in the current
directory (<spec stem>_sim.csv, <spec stem>_sim.png), never beside the spec, which may be
read-only. Every output is checked before the simulation starts; files are written whole or not
at all (Ctrl-C leaves none).
"""

_EPILOG = """\
examples:
  respdor simulate data/c13_al27_respdor.toml
  respdor simulate spec.toml --output curve.csv --plot curve.png --progress
  respdor simulate spec.json --powder 610 --gamma 32 --json -
"""


def register(subparsers):
    p = subparsers.add_parser(
        "simulate",
        help="simulate a REDOR / RESPDOR curve from a spec file (exact spin dynamics)",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("spec", metavar="SPEC", help="simulation spec (.toml or .json)")
    p.add_argument("--output", "-o", metavar="PATH",
                   help="CSV output (default: <spec stem>_sim.csv in the current directory)")
    p.add_argument("--plot", metavar="PATH",
                   help="figure (default: <spec stem>_sim.png in the current directory); 'none' for no figure")
    p.add_argument("--json", metavar="PATH", help="also write the result and settings as JSON ('-' for stdout)")
    p.add_argument("--powder", type=int, metavar="N", help="override the number of (alpha, beta) orientations")
    p.add_argument("--gamma", type=int, metavar="N", help="override the number of gamma angles")
    p.add_argument("--progress", action="store_true", help="progress bar on stderr")
    from ..convergence import add_options

    add_options(p)
    p.add_argument("--no-files", action="store_true", help="write no file (print the curve; --json - still works)")
    p.add_argument("--export-simpson", metavar="FILE.in",
                   help="write the SIMPSON input of the same experiment (and FILE.cry) and exit without simulating")
    add_allow_long(p)
    p.set_defaults(func=run)
    from . import OptionRule, declare_option_rules, no_files_rules

    declare_option_rules(p, [OptionRule("--no-files", lambda a: not a.export_simpson,
                                        "with --export-simpson, which writes FILE.in and FILE.cry; drop one of them"),
                             *no_files_rules(("--output", "--plot"))])


def run(args) -> int:
    spec_path = Path(args.spec)
    from spinsim.spec import SpecError, load_spec

    try:
        spec = load_spec(spec_path)
    except SpecError as exc:
        raise UserError(str(exc)) from None
    if args.powder is not None and "file" in (spec.raw.get("powder") or {}):
        raise UserError(f"--powder {args.powder} contradicts the spec's [powder] file {spec.raw['powder']['file']!r}, "
                        "which gives the (alpha, beta) orientations; drop one of them (--gamma still applies)")
    if args.powder is not None or args.gamma is not None:
        from spinsim.powder import make_powder

        n = args.powder if args.powder is not None else spec.powder.n_ab
        g = args.gamma if args.gamma is not None else spec.powder.n_gamma
        if n < 1 or g < 1:
            raise UserError(f"--powder and --gamma must be >= 1, got {n} and {g}")
        scheme = "repulsion" if spec.powder.name.startswith("rep") else "zcw"
        try:
            spec.powder = make_powder(scheme, n, g)
        except ValueError as exc:
            raise UserError(f"--powder {n} --gamma {g}: {exc}") from None
        spec.warnings = [w for w in spec.warnings if not w.startswith("[powder]")]  # the override replaces it
        _warn_single_crystal(spec.powder, spec.warnings, f"--powder {n}")
        if args.gamma is not None:
            from ..units import plausible

            plausible("gamma", g, "--gamma", str(args.gamma), spec.warnings)
    if args.export_simpson:
        return _export_simpson(spec, spec_path, Path(args.export_simpson))
    plan = _plan_outputs(args, spec_path)
    work = simulation_work(spec.work_counts(), "t_max_ms / recoupling_times_ms, the powder (n, n_gamma, --powder, "
                                               "--gamma), rf_inhomogeneity n or the number of partners")
    long_run = check_work(work, args.allow_long, f"respdor simulate {spec_path}")
    print(
        f"respdor simulate: {spec.title or spec_path.name}\n"
        f"  units assumed: times in s (CSV column t_s), couplings in Hz, CQ in Hz/MHz, rf in kHz as named in the spec\n"
        f"  {spec.kind.upper()}, {spec.system.spins[0].isotope.symbol}"
        f"{{{','.join(s.isotope.symbol for s in spec.system.spins[1:])}}}, B0 = {spec.system.field_t:g} T, "
        f"MAS = {spec.mas_rate:g} Hz, {len(spec.times_s)} recoupling times up to {1e3 * spec.times_s[-1]:g} ms, "
        f"powder {spec.powder.name} x {spec.powder.n_gamma} gamma",
        file=sys.stderr,
    )
    for msg in spec.warnings:
        print(f"  warning: {msg}", file=sys.stderr)
    result, check = _run_checked(args, spec, spec_path, progress=args.progress or long_run)
    _write_outputs(args, plan, spec_path, spec, result, check)
    return 0


def _run_checked(args, spec, spec_path, progress=False):
    """The simulation and its convergence check (:mod:`spinsim.convergence`): the defaulted powder,
    gamma and step settings are checked (and refined when unconverged), explicit ones on request."""
    import time

    from spinsim.convergence import check_convergence, step_used

    from .. import convergence as cv

    tol = cv.tolerance(args)
    explicit = cv.spec_explicit(spec.raw, args.powder is not None, args.gamma is not None)
    results = {}

    def run(level):
        spec.powder, spec.max_dt = level.powder, level.max_dt
        try:
            r = spec.run(progress=progress)
        except ValueError as exc:
            raise UserError(f"{spec_path}: {exc}") from None
        results[level.describe()] = r
        return r.dSS0

    level = cv.spec_level(spec)
    t0 = time.perf_counter()
    base = run(level)
    wall = time.perf_counter() - t0
    first = results[level.describe()]
    cv.announce(explicit, args.check_convergence, wall, sys.stderr, step_used(first.info))
    check = check_convergence(run, level, explicit, tol, args.check_convergence, base=(base, wall),
                              uses_step=step_used(first.info), nested=True, times_s=first.t_s)
    spec.powder, spec.max_dt = check.level.powder, check.level.max_dt
    result = results[check.level.describe()]
    result.info["experiment"] = list(result.info.get("experiment", [])) + [
        f"numerics: {check.level.describe()}; convergence " + ", ".join(
            f"{d.dimension} {d.status}" + (f" ({d.max_change:.1e})" if d.max_change is not None else "")
            for d in check.dimensions)]
    for line in cv.check_text(check, result.t_s):
        print("  " + line, file=sys.stderr)
    for w in cv.check_warnings(check, result.t_s):
        print(f"  warning: {w}", file=sys.stderr)
    return result, check


def _warn_single_crystal(powder, warnings, option):
    """A powder of fewer than MIN_POWDER (alpha, beta) orientations is a single crystal: said."""
    from spinsim.spec import MIN_POWDER

    if powder.n_ab < MIN_POWDER:
        warnings.append(f"{option}: {powder.n_ab} (alpha, beta) orientation(s) is a (near) single "
                        f"crystal, not a powder average (below {MIN_POWDER} is never one)")


def _plan_outputs(args, spec_path):
    """Every output of the run, checked before the simulation starts."""
    from ..files import OutputPlan

    if args.no_files and args.json not in (None, "-"):
        raise UserError(f"--no-files and --json {args.json} contradict each other; use --json - for standard output")
    plan = OutputPlan(inputs=[spec_path], no_files=args.no_files)
    plan.csv = plan.add(args.output or f"{spec_path.stem}_sim.csv", "--output")
    plan.figure = None
    if (args.plot or "").lower() != "none":
        plan.figure = plan.add(args.plot or f"{spec_path.stem}_sim.png", "--plot", "figure")
    plan.json = plan.add(args.json, "--json", stdout=True)
    plan.check()
    return plan


def _write_outputs(args, plan, spec_path, spec, result, check):
    info = f"{result.info['engine']} engine, {result.info['wall_s']:.1f} s"
    if args.no_files:
        print(f"  {'t_s':>12} {'S0':>10} {'S1':>10} {'dSS0':>10}   ({info})", file=sys.stderr)
        for row in zip(result.t_s, result.S0, result.S1, result.dSS0):
            print("  " + " ".join(f"{v:10.6g}" for v in row), file=sys.stderr)
    with plan.writing(plan.csv) as tmp:
        if tmp is not None:
            Path(tmp).write_text(result.csv_text())  # the curve as text; the output guard places it
            print(f"  wrote {plan.csv} ({info})", file=sys.stderr)
    with plan.writing(plan.figure) as tmp:
        if tmp is not None:
            _plot(result, spec, tmp)
            print(f"  wrote {plan.figure}", file=sys.stderr)
    if args.json:
        from .. import convergence as cv

        payload = {
            "spec": str(spec_path),
            "t_s": result.t_s.tolist(),
            "S0": result.S0.tolist(),
            "S1": result.S1.tolist(),
            "dSS0": result.dSS0.tolist(),
            "warnings": list(spec.warnings),
            "info": {k: (v if isinstance(v, (int, float, str, bool, type(None))) or k == "experiment" else str(v))
                     for k, v in result.info.items()},
            "convergence": cv.check_json(check, result.t_s),
            "warnings": cv.check_warnings(check, result.t_s),
        }
        text = json.dumps(payload, indent=2) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            plan.write_text(plan.json, text)
            print(f"  wrote {plan.json}", file=sys.stderr)


def _export_simpson(spec, spec_path, path):
    """Write the SIMPSON input and its crystal file through the one output guard."""
    from spinsim.simpson import simpson_input

    from ..files import OutputPlan

    if path.suffix.lower() != ".in":
        raise UserError(f"--export-simpson {path}: name the SIMPSON input FILE.in (FILE.cry is written beside it)")
    plan = OutputPlan(inputs=[spec_path])
    inp = plan.add(path, "--export-simpson")
    cry = plan.add(path.with_suffix(".cry"), "--export-simpson")
    plan.check()
    try:
        text, cry_text = simpson_input(spec, path.stem)
    except ValueError as exc:
        raise UserError(f"{spec_path}: --export-simpson: {exc}") from None
    plan.write_text(inp, text)
    plan.write_text(cry, cry_text)
    print(f"  wrote {inp} and {cry}; run: simpson {inp.name}  (writes {inp.stem}_S0.fid and {inp.stem}_S1.fid; "
          "read them with spinsim.simpson.simpson_curve)", file=sys.stderr)
    return 0


def _plot(result, spec, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    t_ms = 1e3 * result.t_s
    ax.plot(t_ms, result.dSS0, "o-", ms=3, label="dS/S0")
    ax.plot(t_ms, result.S0, "--", lw=1, label="S0")
    ax.plot(t_ms, result.S1, ":", lw=1, label="S1")
    ax.set_xlabel("recoupling time (ms)")
    ax.set_ylabel("signal / dephasing")
    ax.set_title(spec.title or "spinsim", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
