"""``respdor library``: build libraries of simulated curves on Dask, inspect them, manage the table cache."""

from __future__ import annotations

import argparse
import json
import sys


from ..errors import UserError
from ..units import parse_frequency, parse_time
from . import in_option_words

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
    b.set_defaults(func=run_build, _option_names=OPTION_NAMES)
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


#: Python argument -> option, for the messages of respdor.build_library (respdor.cli.in_option_words).
OPTION_NAMES = {"couplings_hz": "--couplings", "t_max_s": "--t-max", "n_orientations": "--powder",
                "n_gamma_angles": "--gamma", "n_workers": "--workers", "n_checks": "--checks",
                "powder_tol": "--powder-tol", "check_convergence": "--check-convergence", "path": "--output",
                "vary": "--vary", "library path": "--output", "overwrite=True": "--overwrite",
                "scheduler": "--scheduler"}


def _couplings(text):
    """``--couplings LOW:HIGH:N`` as (low Hz, high Hz, n); None for the default."""
    if text is None:
        return None
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
    return (lo, hi, n)


def _progress():
    """A bar when someone watches standard error, else a count rewritten in place (spinsim.progress)."""
    from spinsim.progress import LineProgress, TqdmProgress, someone_watches

    if someone_watches(sys.stderr):
        return TqdmProgress()

    class CountProgress(LineProgress):
        """``library: k/N curves, r curves/s`` rewritten in place on standard error (logs, pipes)."""

        def start(self, total, label, unit=""):
            import time

            super().start(total, label, unit)
            self.t0 = time.perf_counter()
            # Said at once: the count shows the build has started.
            self._out().write(f"{label}: 0/{total} {unit}")
            self._out().flush()

        def advance(self, n=1):
            import time

            super().advance(n)
            rate = self.done / max(time.perf_counter() - self.t0, 1e-9)
            self._out().write(f"\r{self.label}: {self.done}/{self.total} {self.unit}, {rate:.2f} {self.unit}/s")
            self._out().flush()

        def close(self, interrupted=False):  # an interruption is said by the command's last line
            if self.total:
                self._out().write("\n")

    return CountProgress(sys.stderr)


def _said_by_us(warnings_list):
    from . import say_warning

    for w in warnings_list:
        say_warning(in_option_words(w, OPTION_NAMES))


def run_build(args) -> int:
    json_path = None
    if args.json and args.json != "-":  # checked before the build, never over the spec or the library
        from ..files import OutputPlan, partial_path

        plan = OutputPlan(inputs=[args.spec, args.output, partial_path(args.output)])
        json_path = plan.add(args.json, "--json", stdout=True)
        plan.check()
    t_max = parse_time(args.t_max, "--t-max", "ms")[0] if args.t_max else None
    if t_max is not None:
        from ..units import plausible

        plausible("t_max", t_max, "--t-max", args.t_max)  # refused in the words typed; warned by the call
    built = _build(args, t_max)
    for line in built.lines():
        print(in_option_words(line, OPTION_NAMES))
    if args.json:
        from ..resultio import json_text

        text = json_text(built.to_dict())
        if json_path is None:
            print(text, end="")
        else:
            plan.write_text(json_path, text)
    return 0


def _build(args, t_max):
    """The call, its respdor warnings printed by the command in option words."""
    import warnings

    from ..errors import RespdorWarning
    from ..jobs.library import build_library

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        built = build_library(args.spec, args.vary, args.output, couplings_hz=_couplings(args.couplings),
                              t_max_s=t_max, n_orientations=args.powder, n_gamma_angles=args.gamma,
                              scheduler=args.scheduler, n_workers=args.workers, n_checks=args.checks,
                              check_convergence=args.check_convergence,
                              powder_tol=args.powder_tol if args.checks else None, overwrite=args.overwrite,
                              progress=_progress())
    for w in caught:
        if not issubclass(w.category, RespdorWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    _said_by_us([w for w in built.warnings if w not in (built.convergence or {}).get("warnings", [])])
    _said_by_us_indented((built.convergence or {}).get("warnings", []), "")
    return built


def _said_by_us_indented(lines, indent):
    from . import say_warning

    for w in lines:
        say_warning(w, prefix=f"{indent}warning: ")


def run_info(args) -> int:
    import warnings

    from ..jobs.library import library_info

    from ..errors import RespdorWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RespdorWarning)  # printed below, in their place
        info = library_info(args.library)
    if args.json:
        print(json.dumps(info.to_dict(), indent=2))
        return 0
    for line in info.lines():
        print(in_option_words(line, OPTION_NAMES))
    _said_by_us_indented(info.warnings, "  ")
    return 0


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
