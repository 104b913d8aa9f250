"""``respdor library``: build libraries of simulated curves on Dask, inspect them, manage the table cache."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from ..errors import UserError
from ..units import parse_frequency, parse_time

_DESCRIPTION = """\
Libraries of simulated RESPDOR/REDOR curves (spinsim) over D and spec parameters, and the cache of
simulated tables that `respdor fit --simulate` keeps.

  build SPEC -o LIB.h5 --vary cq=1:6MHz:11 --vary nu1=20:60kHz:9 --couplings 100:2000:24
        tabulate dS/S0, S0, S1 into one HDF5 file (spec, axes, units, powder, engine inside),
        on a local Dask cluster (all cores) or --scheduler ADDRESS; rerun to resume.
  info LIB.h5        axes, completeness, size, measured interpolation error
  cache list|clear   the simulated-table cache (RESPDOR_CACHE_DIR overrides its place)

Then: respdor fit curve.csv --library LIB.h5 --free cq   (see docs/library.md)
"""


def register(subparsers):
    p = subparsers.add_parser("library", help="simulated curve libraries on Dask; the simulation cache",
                              description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="library_command", metavar="ACTION")
    b = sub.add_parser("build", help="tabulate a spec over D and parameters into an HDF5 library")
    b.add_argument("spec", metavar="SPEC", help="spinsim spec (TOML/JSON); its first [[dipolar]] coupling is D")
    b.add_argument("-o", "--output", required=True, metavar="LIB", help="library file (.h5); resumed if it exists")
    b.add_argument("--vary", action="append", default=[], metavar="NAME=LOW:HIGH:N",
                   help="tabulated parameter: cq (e.g. cq=1:6MHz:11), eta_q (0:1:5), nu1 (20:60kHz:9), "
                        "length (100:300us:5); repeatable")
    b.add_argument("--couplings", default=None, metavar="LOW:HIGH:N",
                   help="D axis, log-spaced, e.g. 100:2000:24 (Hz; default D0/4:4 D0:24)")
    b.add_argument("--t-max", metavar="TIME", help="longest recoupling time, e.g. 4ms (a bare number is ms; default the spec's)")
    b.add_argument("--powder", type=int, metavar="N", help="ZCW (alpha, beta) count (default the spec's)")
    b.add_argument("--gamma", type=int, metavar="N", help="gamma angles (default the spec's)")
    b.add_argument("--scheduler", metavar="ADDRESS", help="running Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                   "(default: a local cluster)")
    b.add_argument("--workers", type=int, metavar="N",
                   help="worker processes of the local cluster (default: all cores)")
    b.add_argument("--checks", type=int, default=8, metavar="N",
                   help="off-grid points simulated to measure the interpolation error (default 8)")
    from ..convergence import add_options

    add_options(b, "the library (checked with --checks > 0, at the largest coupling)")
    b.add_argument("--overwrite", action="store_true", help="start the file afresh instead of resuming")
    b.add_argument("--json", metavar="PATH", help="write the build summary as JSON ('-' = standard output)")
    b.set_defaults(func=run_build)
    from . import OptionRule, declare_option_rules

    checked = "with --checks 0 (the convergence check runs with the interpolation check)"
    declare_option_rules(b, [OptionRule.excludes("--workers", "--scheduler", "the running cluster has its own workers"),
                             *(OptionRule(o, lambda a: a.checks > 0, checked)
                               for o in ("--powder-tol", "--check-convergence"))])
    i = sub.add_parser("info", help="describe a library file")
    i.add_argument("library", metavar="LIB")
    i.add_argument("--json", action="store_true", help="print JSON")
    i.set_defaults(func=run_info)
    c = sub.add_parser("cache", help="list or clear the cache of simulated tables")
    c.add_argument("action", choices=["list", "clear", "path"])
    c.set_defaults(func=run_cache)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _couplings(text, spec):
    if text is None:
        from spinsim.spec import SpecError, load_spec

        try:
            d0 = load_spec(spec).system.dipolar[0].d_hz
        except (SpecError, IndexError):
            raise UserError(f"{spec}: cannot read the spec's coupling; give --couplings LOW:HIGH:N") from None
        return np.geomspace(d0 / 4, d0 * 4, 24)
    parts = text.split(":")
    if len(parts) != 3:
        raise UserError(f"--couplings {text!r}: expected LOW:HIGH:N, e.g. 100:2000:24")
    lo, _ = parse_frequency(parts[0], "--couplings")
    hi, _ = parse_frequency(parts[1], "--couplings")
    try:
        n = int(parts[2])
    except ValueError:
        raise UserError(f"--couplings {text!r}: N must be an integer") from None
    if not (0 < lo < hi) or n < 4:
        raise UserError(f"--couplings {text!r}: need 0 < LOW < HIGH and N >= 4")
    _plausible_couplings(text, (lo, hi), spec)
    return np.geomspace(lo, hi, n)


_D_UNIT = "bare numbers of --couplings are Hz; write a unit, e.g. 100:2kHz:24"


def _plausible_couplings(text, ends, spec):
    """The distances the D axis spans (for the spec's observed-partner pair) checked against the one table
    of plausible distances: a D axis in kHz typed as Hz (or the reverse) is named, not tabulated."""
    from spinsim.dipolar import distance_from_coupling
    from spinsim.isotopes import element_of
    from spinsim.plausibility import check, shortest_distance_angstrom
    from spinsim.spec import SpecError, load_spec

    try:
        spins = load_spec(spec).system.spins
    except SpecError:
        return  # the spec's own error is reported where it is read
    a, b = spins[0].isotope, spins[1].isotope
    shortest = shortest_distance_angstrom(element_of(a), element_of(b))
    for d in ends:
        r = float(distance_from_coupling(d, a, b))
        try:
            msg = check("distance", r, f"--couplings {text} ({d:g} Hz for {a.symbol}-{b.symbol}, i.e. r)", "A",
                        lo=shortest, lo_reason=f"for {a.symbol}-{b.symbol}", hint=False)
        except ValueError as exc:
            raise UserError(f"{exc} ({_D_UNIT})") from None
        if msg:
            print(f"respdor: warning: {msg} ({_D_UNIT})", file=sys.stderr)


def run_build(args) -> int:
    from pathlib import Path

    from ..library import _spec_powder, build_library, parse_vary

    from ..files import OutputPlan, partial_path

    if not Path(args.spec).exists():
        raise UserError(f"{args.spec}: no such simulation spec")
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers {args.workers}: must be >= 1 (leave it out for all cores)")
    if args.checks < 0:
        raise UserError(f"--checks {args.checks}: must be >= 0 (0 skips the interpolation check)")
    # The work goes to OUTPUT.partial (kept by an interrupted build, for resuming); OUTPUT appears,
    # renamed whole, only when the build is complete. Both are checked before anything starts.
    plan = OutputPlan(inputs=[args.spec])
    plan.add(args.output, "--output", "binary")
    plan.add(partial_path(args.output), "--output", "binary")
    json_path = plan.add(args.json, "--json", stdout=True)
    plan.check()
    if Path(args.output).suffix.lower() not in (".h5", ".hdf5"):  # after the guard: a device is named as such
        raise UserError(f"--output {args.output}: a library is an HDF5 file; name it .h5 or .hdf5")
    axes = [parse_vary(v) for v in args.vary]
    names = [a.name for a in axes]
    if len(set(names)) != len(names):
        raise UserError("--vary: each parameter once")
    couplings = _couplings(args.couplings, args.spec)
    t_max = parse_time(args.t_max, "--t-max", "ms")[0] if args.t_max else None
    if t_max is not None:
        from ..units import plausible

        notes = []
        plausible("t_max", t_max, "--t-max", args.t_max, notes)
        for msg in notes:
            print(f"respdor: warning: {msg}", file=sys.stderr)
    from spinsim.spec import SpecError, load_spec

    from ..convergence import spec_explicit, tolerance

    try:
        raw = load_spec(args.spec).raw
    except SpecError as exc:
        raise UserError(str(exc)) from None
    explicit = spec_explicit(raw, bool(args.powder), bool(args.gamma))
    tol = tolerance(args)
    powder = None
    if args.powder or args.gamma:
        powder = _spec_powder(raw)
        powder.update({k: v for k, v in (("n", args.powder), ("n_gamma", args.gamma)) if v})
    try:
        stats = build_library(args.spec, args.output, axes, couplings, t_max_s=t_max, powder=powder,
                              scheduler=args.scheduler, workers=args.workers, overwrite=args.overwrite,
                              n_check=args.checks, powder_explicit=explicit, powder_tol=tol,
                              check_explicit=args.check_convergence)
    except KeyboardInterrupt:
        work = partial_path(args.output)
        kept = (f"{args.output} not written; the points finished so far are kept in {work}: run the same "
                "command to resume" if work.exists() else f"{args.output} not written")
        raise KeyboardInterrupt(kept) from None
    err = stats["interp_error"]
    print(f"wrote {stats['path']}: {stats['n_curves']} curves, {stats['computed']} points computed, "
          f"{stats['skipped']} already in the file, {stats['wall_s']:.1f} s"
          + (f", {stats['curves_per_s']:.2f} curves/s" if stats["curves_per_s"] else ""))
    if err:
        print(f"interpolation error at {err['n_points']} off-grid points: max {err['max']:.2g}, "
              f"rms {err['rms']:.2g} (dS/S0)")
    _print_convergence(stats.get("convergence"))
    if args.json:
        text = json.dumps(stats, indent=2)
        if args.json == "-":
            print(text)
        else:
            plan.write_text(json_path, text + "\n")
    return 0


def run_info(args) -> int:
    from ..library import library_info

    info = library_info(args.library)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['path']}: {'complete' if info['complete'] else 'INCOMPLETE'}, "
          f"{info['points_done']}/{info['points']} parameter points, {info['bytes'] / 1e6:.2f} MB")
    for name, a in info["axes"].items():
        print(f"  {name:12s} {a['n']:4d} values  {a['min']:.6g} .. {a['max']:.6g} {a['unit']}")
    pw = info["powder"]
    print(f"  powder {pw['scheme'].upper()} {pw['n']} x {pw['n_gamma']}; engine {info['engine']}")
    err = info["interp_error"]
    print("  interpolation error: " + (f"max {err['max']:.2g}, rms {err['rms']:.2g} at {err['n_points']} "
                                       "off-grid points" if err else "not measured"))
    _print_convergence(info.get("convergence"), "  ")
    return 0


def _print_convergence(record, indent=""):
    """The library's own powder / gamma / step check (stored in the file), and its warnings."""
    if record is None:
        print(f"{indent}powder convergence: not checked (built with --checks 0 or by an older version)")
        return
    print(f"{indent}powder {record['lines'][0]} (at D = {record['coupling_hz']:.4g} Hz)")
    for line in record["lines"][1:]:
        print(f"{indent}{line}")
    for w in record["warnings"]:
        print(f"{indent}warning: {w}", file=sys.stderr)


def run_cache(args) -> int:
    from .. import simcache

    if args.action == "path":
        print(simcache.cache_dir())
        return 0
    if args.action == "clear":
        n = simcache.clear()
        print(f"removed {n} cached table(s) from {simcache.cache_dir()}")
        return 0
    rows = simcache.entries()
    total = sum(r["bytes"] for r in rows)
    print(f"{simcache.cache_dir()}: {len(rows)} table(s), {total / 1e6:.2f} MB")
    for r in rows:
        print(f"  {r['key'][:12]}  {r['created']}  {r['bytes'] / 1e3:8.1f} kB  {r['description']}")
    return 0
