"""``respdor fit``: turn measured dephasing curves into D, r and the bonded fraction."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..units import MAX_ABS_OPTION, check_observed_spin_half, plausible, parse_frequency, parse_length, parse_time
from ..workload import add_allow_long

#: Short names users type, mapped to the fitter's parameter names.
ALIASES = {
    "d": "coupling_hz", "coupling": "coupling_hz", "coupling_hz": "coupling_hz",
    "r": "distance_angstrom", "distance": "distance_angstrom", "distance_angstrom": "distance_angstrom",
    "f": "fraction", "fraction": "fraction",
    "eps": "efficiency", "epsilon": "efficiency", "efficiency": "efficiency",
    "x": "abundance", "abundance": "abundance",
    "kappa": "scaling", "scaling": "scaling",
    "width": "width_angstrom", "sigma_r": "width_angstrom", "width_angstrom": "width_angstrom",
}

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
    p.set_defaults(func=run)
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
    prefix = ""
    if name[:1] == "c" and name[1:2].isdigit() and "_" in name:
        prefix, name = name.split("_", 1)
        prefix += "_"
    key = ALIASES.get(name.lower())
    if key is None and name.lower().replace("-", "_") in extra:  # a parameter tabulated in --library
        key = name.lower().replace("-", "_")
    if key is None:
        more = f", or tabulated in the library: {', '.join(extra)}" if extra else ""
        raise UserError(f"{option}: unknown parameter {name!r}; use one of D, r, f, eps, x, kappa, width{more}")
    return prefix + key


#: Parameters whose values may carry a unit ("cq=3MHz", "D=0.5kHz", "r=0.25nm") and the unit of a
#: bare number: D in Hz, r and width in angstrom, the library's parameters in SI.
_UNIT_KIND = {"cq": parse_frequency, "nu1": parse_frequency, "length": parse_time,
              "coupling_hz": parse_frequency, "distance_angstrom": parse_length, "width_angstrom": parse_length}


def _base(name):
    return name.split("_", 1)[1] if name[:1] == "c" and name[1:2].isdigit() else name


def _tabulated_value(name, text, option):
    parse = _UNIT_KIND.get(_base(name))
    # signed: the sign is judged by the constraints' physics check, which names the parameter
    return parse(text.strip(), option, signed=True)[0] if parse else float(text)


def _per_file(values, n, default, option):
    values = values or [default]
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise UserError(f"{option} given {len(values)} times for {n} files; give it once or once per file")
    return values


def _file_nuclei(curves, given, key, default, option, out):
    """Per-file nucleus: the option, else the file's ``# observe = 111Cd`` line (as ``respdor
    integrate`` writes it), else ``default``; an option that contradicts the file is refused."""
    from spinsim.isotopes import get_isotope

    given = _per_file(given, len(curves), None, option) if given else [None] * len(curves)
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
            print(f"{option} {f}: from {curve.source}", file=out)
        values.append(g or f or default)
    return values


def build_fit(args, out=sys.stdout):
    """Read the files and fit them as the options say; returns (result, curves)."""
    from ..fitting import CurveModel, fit_curves
    from ..io import read_curve

    mas_hz = None
    if args.mas:
        mas_hz, _ = parse_frequency(args.mas, "--mas")
        if mas_hz <= 0:
            raise UserError(f"--mas must be positive, got {args.mas!r}")
        _plausible_option("mas_rate", mas_hz, "--mas", args.mas)
    for f in args.files:
        if not Path(f).exists():
            raise UserError(f"{f}: no such file")
    _refuse_same_file(args.files)
    curves = [read_curve(f, time_unit=args.time_unit, mas_rate_hz=mas_hz) for f in args.files]
    n = len(curves)
    library = _library_shape(args.library) if getattr(args, "library", None) else None
    if library is not None and args.simulate:
        raise UserError("give --simulate SPEC or --library FILE, not both")
    shape_nuclei, shape_name = _shape_nuclei(args, library)
    observe = _file_nuclei(curves, args.observe, "observe", shape_nuclei[0] if shape_nuclei else "13C", "--observe",
                           out)
    for symbol in observe:
        check_observed_spin_half(symbol)
    partner = _file_nuclei(curves, args.partner, "partner", shape_nuclei[1] if shape_nuclei else "27Al", "--partner",
                           out)

    pulse_s = None
    if args.sequence == "redor-finite":
        if not args.pulse_length or mas_hz is None:
            raise UserError("--sequence redor-finite needs --pulse-length and --mas")
        pulse_s, _ = parse_time(args.pulse_length, "--pulse-length")
        _plausible_option("pi_pulse", pulse_s, "--pulse-length", args.pulse_length)
    def make_models(shapes):
        return [
            CurveModel(observe=o, partner=p, experiment=args.model, transfer=args.transfer, sequence=args.sequence,
                       pulse_length_s=pulse_s, rotor_period_s=(1.0 / mas_hz) if mas_hz else None,
                       n_partners=args.partners, shape=s)
            for o, p, s in zip(observe, partner, shapes)
        ]

    if shape_nuclei:
        from ..simfit import check_nuclei

        check_nuclei(shape_nuclei, make_models([None] * n), shape_name, ("--observe", "--partner"))
        if not (args.observe and args.partner):
            print(f"nuclei {shape_nuclei[0]}{{{shape_nuclei[1]}}} from {shape_name}", file=out)
    extra = tuple(library.parameters) if library is not None else ()
    fix = _parse_assignments(args.fix, "--fix", extra=extra)
    bounds = _parse_assignments(args.bound, "--bound", allow_range=True, extra=extra)
    initial = _parse_assignments(args.start, "--start", extra=extra)
    free = [_canonical(x, "--free", extra) for x in args.free]
    shared = ["coupling_hz", "distance_angstrom", "scaling", "width_angstrom"]
    shared += [_canonical(x, "--share", extra) for x in args.share]
    if getattr(args, "mcmc", False) and args.mcmc_steps < 100:
        raise UserError(f"--mcmc-steps {args.mcmc_steps}: use at least 100 steps")

    def fit(models, intervals=not args.no_intervals):
        return fit_curves(curves, models, shared=shared, parameterization=args.parameterization, fix=fix,
                          bounds=bounds, initial=initial, method=args.method, intervals=intervals, free=free,
                          option_names={"fix": "--fix", "bounds": "--bound", "initial": "--start"},
                          allow_long=getattr(args, "allow_long", False))

    if args.simulate:
        from ..convergence import tolerance
        from ..simfit import fit_with_simulation

        result = fit_with_simulation(args.simulate, curves, make_models, fit, accuracy=args.sim_accuracy, out=out,
                                     coupling_bounds=bounds.get("coupling_hz"), powder_tol=tolerance(args),
                                     check_explicit=args.check_convergence)
    else:
        result = fit(make_models([library] * n))
        if library is not None:
            _note_library(result, library, curves)
    if getattr(args, "mcmc", False):
        from ..mcmc import sample_posterior

        _sample_with_progress(sample_posterior, result, args)
    return result, curves


def _plausible_option(quantity, value_si, option, text):
    """Refuse a value no experiment has (the one table of ranges); one warning line for an unusual one."""
    warnings = []
    plausible(quantity, value_si, option, text, warnings)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)


def _sample_with_progress(sample_posterior, result, args):
    """MCMC with a progress line on stderr (ended by a newline also when interrupted)."""
    def progress(done, total, stream=sys.stderr):  # bound now: the sampler silences sys.stderr
        print(f"\rrespdor fit: MCMC {100 * done // total:3d} % of {total} model evaluations", end="",
              file=stream, flush=True)

    print(f"respdor fit: MCMC sampling, {args.mcmc_steps} steps per walker (Ctrl-C stops it)", file=sys.stderr,
          flush=True)
    try:
        sample_posterior(result, steps=args.mcmc_steps, burn=args.mcmc_steps // 4, seed=args.mcmc_seed,
                         progress=progress)
    finally:
        print(file=sys.stderr, flush=True)


def _refuse_same_file(files):
    """The same file twice in a global fit would count its points twice (errors shrink by sqrt 2)."""
    seen = {}
    for f in files:
        key = Path(f).resolve()
        if key in seen:
            raise UserError(f"{seen[key]} and {f} are the same file: a global fit would count its points twice; "
                            "give each curve once")
        seen[key] = f


def _shape_nuclei(args, library):
    """(observed, partner) of the --simulate spec or --library, and how to name it; (None, None) without one."""
    if library is not None:
        return getattr(library, "nuclei", None), f"--library {args.library}"
    if args.simulate:
        from spinsim.spec import SpecError, load_spec

        from ..simfit import spec_nuclei

        try:
            sp = load_spec(args.simulate)
        except SpecError as exc:
            raise UserError(f"--simulate: {exc}") from None
        if not sp.system.dipolar:
            raise UserError(f"{args.simulate}: the spec has no [[dipolar]] coupling to fit")
        return spec_nuclei(sp), f"--simulate {args.simulate}"
    return None, None


def _library_shape(path):
    try:
        from ..library import LibraryShape
    except ImportError:
        raise UserError("--library: simulated libraries are not available in this installation") from None
    return LibraryShape.open(path)


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


def _note_library(result, library, curves):
    import numpy as np

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
    # The error bars know nothing of the interpolation error: say so when it rivals the noise.
    amp = max((v.value for k, v in result.parameters.items() if k.endswith("amplitude")), default=1.0)
    sig = [float(np.median(c.sigma)) for c in curves if c.sigma is not None]
    if sig and amp * err["rms"] > 0.5 * min(sig):
        result.warnings.append(
            f"{library.description}: interpolation error (rms {amp * err['rms']:.2g} in the fitted curve) is not "
            f"small against the noise (median sigma {min(sig):.2g}); the error bars leave it out; use a denser "
            "grid or a larger powder")


def write_outputs(args, result, plan, extra_json=None):
    """Write the planned JSON/CSV/figure files atomically; returns the list of paths written."""
    from ..report import write_fit_curve_csv, write_json, write_parameters_csv

    if args.json == "-":
        write_json(result, "-", extra_json)
    writers = [(plan.json, lambda tmp: write_json(result, tmp, extra_json)),
               (plan.files.get("json"), lambda tmp: write_json(result, tmp, extra_json)),
               (plan.files.get("params"), lambda tmp: write_parameters_csv(result, tmp)),
               (plan.files.get("curve"), lambda tmp: write_fit_curve_csv(result, tmp))]
    if plan.figure is not None:
        from ..plotting import plot_fit

        writers.append((plan.figure, lambda tmp: plot_fit(result, tmp)))
    if plan.corner is not None and getattr(result, "mcmc_samples", None):
        from ..plotting import plot_corner

        writers.append((plan.corner, lambda tmp: plot_corner(result, tmp)))
    written = []
    for path, write in writers:
        with plan.writing(path) as tmp:
            if tmp is not None:
                write(tmp)
                written.append(str(path))
    return written


def run(args) -> int:
    # With --json - the table goes to stderr so that stdout stays machine-readable.
    out = sys.stderr if args.json == "-" else sys.stdout
    plan = plan_outputs(args, Path(args.files[0]).stem)
    result, curves = build_fit(args, out)
    for curve in curves:
        for note in curve.notes:
            print(f"read {curve.source}: {note}", file=out)
    print(result.report(), file=out)
    written = write_outputs(args, result, plan)
    for path in written:
        print(f"wrote {path}", file=out)
    return 0
