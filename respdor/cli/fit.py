"""``respdor fit``: turn measured dephasing curves into D, r and the bonded fraction."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..units import MAX_ABS_OPTION, PARAMETER_UNITS, plausible, parse_frequency, parse_time
from ..workload import add_allow_long

#: How library messages name the arguments of respdor.fit: the options of this command. Words that
#: also occur in prose (observe, fix, ...) are passed to the call as its ``option_names``; the
#: distinct Python names are also rewritten in any library error by ``main`` (``_option_names``).
_OPTIONS = {"observe": "--observe", "partner": "--partner", "fix": "--fix", "bounds": "--bound",
            "initial": "--start", "free": "--free", "share": "--share", "simulate": "--simulate",
            "library": "--library", "mas_rate_hz": "--mas", "pulse_length_s": "--pulse-length",
            "sim_accuracy": "--sim-accuracy", "mcmc": "--mcmc", "mcmc_steps": "--mcmc-steps",
            "powder_tol": "--powder-tol", "time_unit": "--time-unit", "allow_long": "--allow-long",
            "experiment": "--model", "transfer": "--transfer", "sequence": "--sequence"}
_OPTION_NAMES = {"mas_rate_hz": "--mas", "pulse_length_s": "--pulse-length", "sim_accuracy": "--sim-accuracy",
                 "mcmc_steps": "--mcmc-steps", "time_unit": "--time-unit", "simulate_spec": "--simulate",
                 "parameterization": "--parameterization", "observe/partner": "--observe/--partner",
                 "allow_long": "--allow-long"}

_DESCRIPTION = """\
Fit REDOR / RESPDOR dephasing curves with the analytical models (or a simulated curve table).

Input: CSV / TSV / whitespace text with a header, time plus either dSS0 [sigma] or S0 S1
[sigma_S0 sigma_S1], or all of them as `respdor simulate` writes (t_s,S0,S1,dSS0: the columns
must agree; a note says which is fitted); the time column names its unit (t_s, t_ms, t_us) or
--time-unit gives it. The fit searches the whole D range, confirms its optimum, and warns when
the model cannot describe the data (also in the JSON `warnings`).
Several files are fitted globally: by default they share the geometry (D or r, scaling, width)
and each has its own fraction.

Outputs (in --output-dir, default the current directory, named after the first file):
<stem>_fit.json, <stem>_fit_params.csv, <stem>_fit_curve.csv and <stem>_fit.png. They are all
checked before the fit starts (an input is never overwritten) and written whole or not at all;
--no-files writes none of them.
"""

_EPILOG = """\
parameters for --fix/--free/--bound/--start: D (coupling_hz), r (distance_angstrom),
f (fraction), eps (efficiency), x (abundance), kappa (scaling), width (width_angstrom);
in a global fit prefix with the curve index, e.g. c1_f=0.3.

examples:
  respdor fit curve.csv --observe 13C --partner 27Al
  respdor fit curve.txt --time-unit s --model redor --observe 13C --partner 29Si --fix x=1
  respdor fit c.csv cd.csv --observe 13C --observe 111Cd --partner 27Al --parameterization distance
"""


def register(subparsers):
    p = subparsers.add_parser("fit", help="fit dephasing curves: D, r, fraction with uncertainties",
                              description=_DESCRIPTION, epilog=_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_fit_arguments(p)
    p.set_defaults(func=run, _option_names=_OPTION_NAMES)
    declare_fit_rules(p)


def declare_fit_rules(p):
    """Options that work only in some combinations (checked before any work; see OptionRule)."""
    from . import OptionRule, declare_option_rules

    declare_option_rules(p, [
        OptionRule.needs("--mcmc-seed", "--mcmc"),
        OptionRule.needs("--mcmc-steps", "--mcmc"),
        OptionRule.needs("--sim-accuracy", "--simulate"),
        OptionRule.needs("--check-convergence", "--simulate"),  # a library states its own check (library info)
        OptionRule.needs("--powder-tol", "--simulate"),
        OptionRule("--pulse-length", lambda a: a.sequence == "redor-finite",
                   "without --sequence redor-finite (the other sequences use ideal pulses)"),
        OptionRule("--share", lambda a: len(a.files) > 1, "with a single curve file (it shares a parameter "
                   "between the curves of a global fit)"),
        OptionRule.excludes("--plot", "--no-plot", "no figure is drawn"),
        OptionRule.excludes("--output-dir", "--no-files", "no file is written", refuse=False),
    ])


def add_fit_arguments(p):
    p.add_argument("files", nargs="+", metavar="FILE", help="curve file(s)")
    add_allow_long(p)
    g = p.add_argument_group("nuclei and model")
    g.add_argument("--observe", action="append", metavar="ISOTOPE",
                   help="observed spin-1/2 nucleus, e.g. 13C (repeat once per file for mixed pairs; default 13C)")
    g.add_argument("--partner", action="append", metavar="ISOTOPE",
                   help="recoupled partner, e.g. 27Al (repeat once per file; default 27Al)")
    g.add_argument("--model", choices=["respdor", "redor"], default="respdor",
                   help="respdor: saturation of the partner; redor: pi pulses on the partner (default respdor)")
    g.add_argument("--transfer", choices=["saturation", "inversion", "ct-inversion", "ct-saturation"],
                   help="population transfer of the partner pulse (default: saturation for respdor, "
                        "inversion for redor)")
    g.add_argument("--sequence", choices=["redor", "sr4", "redor-finite"], default="redor",
                   help="recoupling sequence on the observed spin, sets the dipolar scaling (default redor)")
    g.add_argument("--pulse-length", metavar="TIME",
                   help="pi-pulse length for --sequence redor-finite, e.g. 10us (bare numbers: s)")
    g.add_argument("--mas", metavar="FREQ", help="MAS rate, e.g. 10k or 10000 (Hz); for redor-finite and "
                   "rotor-period time columns")
    g.add_argument("--partners", type=int, default=1, metavar="N",
                   help="N equivalent partners at one distance, second-moment approximation (default 1)")
    g.add_argument("--simulate", metavar="SPEC",
                   help="use a spinsim simulation spec (TOML/JSON) as the curve shape instead of the formula "
                        "(simulated at a few couplings, cached; docs/simulation.md)")
    g.add_argument("--sim-accuracy", type=float, default=1e-3, metavar="DSS0",
                   help="with --simulate: largest accepted error of the fitted curve against a direct "
                        "simulation at the fitted D (default 1e-3)")
    from ..convergence import add_options

    add_options(g, "the simulated shape (--simulate)")
    g.add_argument("--library", metavar="FILE",
                   help="use a curve library (respdor library build) as the shape; its parameters (cq, nu1, "
                        "eta_q, length) can be fixed, freed, bounded and shared like D and f")
    g = p.add_argument_group("parameters")
    g.add_argument("--parameterization", choices=["coupling", "distance"], default="coupling",
                   help="fit D and derive r (default), or fit r and derive D")
    g.add_argument("--fix", action="append", default=[], metavar="NAME=VALUE", help="hold a parameter fixed")
    g.add_argument("--free", action="append", default=[], metavar="NAME",
                   help="let a normally fixed parameter vary (eps, x, kappa, width)")
    g.add_argument("--bound", action="append", default=[], metavar="NAME=LOW:HIGH", help="bounds of a parameter")
    g.add_argument("--start", action="append", default=[], metavar="NAME=VALUE", help="starting value")
    g.add_argument("--share", action="append", default=[], metavar="NAME",
                   help="in a global fit, also share this parameter between curves (e.g. f)")
    g.add_argument("--method", choices=["ratio", "signals"], default="ratio",
                   help="fit dS/S0 (default) or S0 and S1 jointly (needs their noise)")
    g.add_argument("--no-intervals", action="store_true", help="skip the profile-likelihood intervals")
    g.add_argument("--mcmc", action="store_true",
                   help="also sample the posterior with emcee: medians and 68/95 %% credible intervals of D, r, f "
                        "and a corner figure (needs: pip install 'respdor[mcmc]')")
    g.add_argument("--mcmc-steps", type=int, default=2000, metavar="N", help="MCMC steps per walker (default 2000)")
    g.add_argument("--mcmc-seed", type=int, default=0, metavar="N", help="MCMC random seed (default 0)")
    g = p.add_argument_group("input and output")
    g.add_argument("--time-unit", choices=["s", "ms", "us"], help="time unit when the header does not state it")
    g.add_argument("--output-dir", default=".", metavar="DIR",
                   help="directory for result files, created if missing (default: the current directory)")
    g.add_argument("--json", metavar="PATH", help="also write the JSON result here ('-' = standard output)")
    g.add_argument("--plot", metavar="PATH", help="figure path (default <output-dir>/<stem>_fit.png)")
    g.add_argument("--no-plot", action="store_true", help="do not draw the figure")
    g.add_argument("--no-files", action="store_true",
                   help="write no file at all (the table is printed; --json - still writes to standard output)")


def _parse_assignments(items, option, allow_range=False, extra=()):
    """NAME=VALUE (or NAME=LOW:HIGH) items -> {canonical name: value in the fitter's unit}.

    Values of D, r, width and the library's parameters may carry units (D=0.5kHz, r=0.25nm,
    cq=3MHz); the same parameter given twice (also under another alias) is refused.
    """
    out, written = {}, {}
    for item in items:
        if "=" not in item:
            raise UserError(f"{option} {item!r}: expected NAME={'LOW:HIGH' if allow_range else 'VALUE'}")
        name, value = item.split("=", 1)
        name = _canonical(name.strip(), option, extra)
        if name in written:
            raise UserError(f"{option} {written[name]} and {option} {item} set the same parameter; give it once")
        written[name] = item
        try:
            if allow_range:
                lo, hi = value.split(":")
                label = f"{option} {item}"
                out[name] = (_tabulated_value(name, lo, label), _tabulated_value(name, hi, label))
                if _base(name) in extra and not out[name][0] < out[name][1]:
                    raise ValueError  # order of a library parameter; the model's own: checked by the library
            else:
                out[name] = _tabulated_value(name, value, f"{option} {item}")
            if not all(abs(v) <= MAX_ABS_OPTION for v in np.ravel(out[name])):
                raise UserError(f"{option} {item!r}: out of range (|value| > {MAX_ABS_OPTION:g})")
        except UserError:
            raise
        except ValueError:
            raise UserError(f"{option} {item!r}: cannot read {value!r}") from None
    for name in out:  # c0_f=0.3 next to f=0.2: two values for curve 0's f
        if _base(name) != name and _base(name) in out:
            short, curve = written[_base(name)].split("=")[0].strip(), name.split("_", 1)[0][1:]
            raise UserError(f"{option} {written[_base(name)]} and {option} {written[name]} both set {short} for curve "
                            f"{curve}; give it once for all curves or once per curve (c0_..., c1_...)")
    return out


def _canonical(name, option, extra=()):
    from ..jobs.fit import canonical_name

    return canonical_name(name, option, extra)


def _base(name):
    return name.split("_", 1)[1] if name[:1] == "c" and name[1:2].isdigit() else name


def _tabulated_value(name, text, option):
    parse = PARAMETER_UNITS.get(_base(name))
    # signed: the sign is judged by the constraints' physics check, which names the parameter
    return parse(text.strip(), option, signed=True)[0] if parse else float(text)


def build_fit(args, progress=None):
    """Parse the options, and fit as they say with :func:`respdor.fit`; returns the FitResult."""
    from ..jobs.fit import fit

    mas_hz = pulse_s = None
    if args.mas:
        mas_hz, _ = parse_frequency(args.mas, "--mas")
        if mas_hz <= 0:
            raise UserError(f"--mas must be positive, got {args.mas!r}")
        plausible("mas_rate", mas_hz, "--mas", args.mas)  # refused as typed; a warning comes from the call
    if args.sequence == "redor-finite" and args.pulse_length:
        pulse_s, _ = parse_time(args.pulse_length, "--pulse-length")
        plausible("pi_pulse", pulse_s, "--pulse-length", args.pulse_length)
    for f in args.files:
        if not Path(f).exists():
            raise UserError(f"{f}: no such file")
    library = _library_shape(args.library) if args.library else None
    extra = tuple(library.parameters) if library is not None else ()
    simulate = dict(simulate_spec=args.simulate, sim_accuracy=args.sim_accuracy,
                    check_convergence=args.check_convergence)
    if args.simulate:
        from ..convergence import tolerance

        simulate["powder_tol"] = tolerance(args)
    return fit(args.files, args.observe, args.partner, experiment=args.model, transfer=args.transfer,
               sequence=args.sequence, pulse_length_s=pulse_s, mas_rate_hz=mas_hz, n_partners=args.partners,
               time_unit=args.time_unit, library=library, parameterization=args.parameterization,
               fix=_parse_assignments(args.fix, "--fix", extra=extra),
               bounds=_parse_assignments(args.bound, "--bound", allow_range=True, extra=extra),
               start=_parse_assignments(args.start, "--start", extra=extra),
               free=[_canonical(x, "--free", extra) for x in args.free],
               share=[_canonical(x, "--share", extra) for x in args.share], method=args.method,
               intervals=not args.no_intervals, mcmc=args.mcmc, mcmc_steps=args.mcmc_steps,
               mcmc_seed=args.mcmc_seed, allow_long=args.allow_long, progress=progress, option_names=_OPTIONS,
               **simulate)


def _library_shape(path):
    """The library, opened here because its parameters (cq, nu1, ...) are names of --fix and --bound."""
    try:
        from ..library import LibraryShape
    except ImportError:
        raise UserError("--library: simulated libraries are not available in this installation") from None
    shape = LibraryShape.open(path)
    shape.path = path  # how messages name it
    return shape


def plan_outputs(args, stem):
    """Every file the run will write, checked before the fit starts (see :mod:`respdor.files`)."""
    from ..files import OutputPlan

    if args.no_files and args.json not in (None, "-"):
        raise UserError(f"--no-files and --json {args.json} contradict each other; use --json - for standard output")
    inputs = list(getattr(args, "files", [])) + [getattr(args, "simulate", None), getattr(args, "library", None)]
    plan = OutputPlan(inputs=[p for p in inputs if p], no_files=args.no_files)
    outdir = Path(args.output_dir)
    plan.json = plan.add(args.json, "--json", stdout=True)
    plan.files = {}
    if not args.no_files:
        plan.add_directory(outdir, "--output-dir")
        default_json = outdir / f"{stem}_fit.json"
        if plan.json is None or os.path.realpath(plan.json) != os.path.realpath(default_json):  # no loop error
            plan.files["json"] = plan.add(default_json, "--output-dir")
        plan.files["params"] = plan.add(outdir / f"{stem}_fit_params.csv", "--output-dir")
        plan.files["curve"] = plan.add(outdir / f"{stem}_fit_curve.csv", "--output-dir")
    plan.figure = None if args.no_plot else plan.add(args.plot or outdir / f"{stem}_fit.png", "--plot", "figure")
    plan.corner = None
    if plan.figure is not None and getattr(args, "mcmc", False):
        plan.corner = plan.add(plan.figure.with_name(plan.figure.stem + "_corner.png"), "--plot", "figure")
    plan.check()
    return plan


def write_outputs(args, result, plan):
    """Write the planned JSON/CSV/figure files atomically; returns the list of paths written."""
    from ..report import write_fit_curve_csv, write_json, write_parameters_csv

    if args.json == "-":
        write_json(result, "-")
    writers = [(plan.json, lambda tmp: write_json(result, tmp)),
               (plan.files.get("json"), lambda tmp: write_json(result, tmp)),
               (plan.files.get("params"), lambda tmp: write_parameters_csv(result, tmp)),
               (plan.files.get("curve"), lambda tmp: write_fit_curve_csv(result, tmp))]
    written = []
    for path, write in writers:
        with plan.writing(path) as tmp:
            if tmp is not None:
                write(tmp)
                written.append(str(path))
    # Figures are drawn on bare matplotlib Figures (no pyplot, no backend chosen) and saved by the plan.
    if plan.figure is not None:
        from ..plotting import fit_figure

        plan.save_figure(fit_figure(result), plan.figure, dpi=200, bbox_inches="tight")
        written.append(str(plan.figure))
    if plan.corner is not None and getattr(result, "mcmc_samples", None):
        from ..plotting import corner_figure

        plan.save_figure(corner_figure(result), plan.corner, dpi=150)
        written.append(str(plan.corner))
    return written


def _command_progress(out):
    """What ``respdor fit`` shows while it works: notes as lines where the table goes (``out``); the
    progress of a stage (the MCMC chain) as a tqdm bar when stderr is a terminal, else as one line
    rewritten in place with the percentage done."""
    from spinsim.progress import LineProgress, TqdmProgress

    class Bar(TqdmProgress):
        def note(self, text):
            print(text, file=out, flush=True)

    class Percent(LineProgress):
        shown = -1

        def start(self, total, label, unit=""):
            super().start(total, label, unit)
            self.shown = -1

        def advance(self, n=1):
            super().advance(n)
            pct = 100 * self.done // max(self.total, 1)
            if pct != self.shown:
                self.shown = pct
                print(f"\rrespdor fit: {self.label} {pct:3d} % of {self.total} {self.unit}", end="",
                      file=self._out(), flush=True)

        def note(self, text):
            print(text, file=out, flush=True)

        def close(self, interrupted=False):
            if self.shown >= 0:
                print(file=self._out(), flush=True)  # end the line, also when interrupted
            self.shown = -1

    return Bar(sys.stderr) if sys.stderr.isatty() else Percent(sys.stderr)


def run(args) -> int:
    from . import _SAID, in_option_words

    # With --json - the table goes to stderr so that stdout stays machine-readable.
    out = sys.stderr if args.json == "-" else sys.stdout
    plan = plan_outputs(args, Path(args.files[0]).stem)
    result = build_fit(args, _command_progress(out))
    # The result's lines name the call's arguments; the table names this command's options. The
    # same lines raised as Python warnings are then not printed a second time at the end.
    for text in result.warnings:
        _SAID.add(" ".join(str(text).split()))
    result.warnings = [in_option_words(w, _OPTION_NAMES) for w in result.warnings]
    result.notes = [in_option_words(w, _OPTION_NAMES) for w in result.notes]
    for curve in result.curves:
        for note in curve.notes:
            print(f"read {curve.source}: {note}", file=out)
    print(result.report(), file=out)
    written = write_outputs(args, result, plan)
    for path in written:
        print(f"wrote {path}", file=out)
    return 0
