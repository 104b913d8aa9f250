"""``respdor fit``: turn measured dephasing curves into D, r and the bonded fraction."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import UserError
from ._units import parse_frequency, parse_time

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

Outputs (in --output-dir, named after the first file): <stem>_fit.json, <stem>_fit_params.csv,
<stem>_fit_curve.csv and <stem>_fit.png. The input is never overwritten.
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


def add_fit_arguments(p):
    p.add_argument("files", nargs="+", metavar="FILE", help="curve file(s)")
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
                   help="use a spinsim simulation spec (TOML/JSON) as the curve shape instead of the formula")
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
    g.add_argument("--output-dir", default=".", metavar="DIR", help="directory for result files (default .)")
    g.add_argument("--json", metavar="PATH", help="also write the JSON result here ('-' = standard output)")
    g.add_argument("--plot", metavar="PATH", help="figure path (default <output-dir>/<stem>_fit.png)")
    g.add_argument("--no-plot", action="store_true", help="do not draw the figure")
    g.add_argument("--no-files", action="store_true", help="write no result files (only --json if given)")


def _parse_assignments(items, option, allow_range=False):
    out = {}
    for item in items:
        if "=" not in item:
            raise UserError(f"{option} {item!r}: expected NAME={'LOW:HIGH' if allow_range else 'VALUE'}")
        name, value = item.split("=", 1)
        name = _canonical(name.strip(), option)
        try:
            if allow_range:
                lo, hi = value.split(":")
                out[name] = (float(lo), float(hi))  # order and physics checked by the library
            else:
                out[name] = float(value)
        except ValueError:
            raise UserError(f"{option} {item!r}: cannot read {value!r}") from None
    return out


def _canonical(name, option):
    prefix = ""
    if name[:1] == "c" and name[1:2].isdigit() and "_" in name:
        prefix, name = name.split("_", 1)
        prefix += "_"
    key = ALIASES.get(name.lower())
    if key is None:
        raise UserError(f"{option}: unknown parameter {name!r}; use one of D, r, f, eps, x, kappa, width")
    return prefix + key


def _per_file(values, n, default, option):
    values = values or [default]
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise UserError(f"{option} given {len(values)} times for {n} files; give it once or once per file")
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
    for f in args.files:
        if not Path(f).exists():
            raise UserError(f"{f}: no such file")
    curves = [read_curve(f, time_unit=args.time_unit, mas_rate_hz=mas_hz) for f in args.files]
    n = len(curves)
    observe = _per_file(args.observe, n, "13C", "--observe")
    partner = _per_file(args.partner, n, "27Al", "--partner")
    pulse_s = None
    if args.sequence == "redor-finite":
        if not args.pulse_length or mas_hz is None:
            raise UserError("--sequence redor-finite needs --pulse-length and --mas")
        pulse_s, _ = parse_time(args.pulse_length, "--pulse-length")
    shapes = [None] * n
    if args.simulate:
        shapes = [_simulated_shape(args.simulate, c) for c in curves]
    models = [
        CurveModel(observe=o, partner=p, experiment=args.model, transfer=args.transfer, sequence=args.sequence,
                   pulse_length_s=pulse_s, rotor_period_s=(1.0 / mas_hz) if mas_hz else None,
                   n_partners=args.partners, shape=s)
        for o, p, s in zip(observe, partner, shapes)
    ]
    fix = _parse_assignments(args.fix, "--fix")
    bounds = _parse_assignments(args.bound, "--bound", allow_range=True)
    initial = _parse_assignments(args.start, "--start")
    free = [_canonical(x, "--free") for x in args.free]
    shared = ["coupling_hz", "distance_angstrom", "scaling", "width_angstrom"]
    shared += [_canonical(x, "--share") for x in args.share]
    result = fit_curves(curves, models, shared=shared, parameterization=args.parameterization, fix=fix,
                        bounds=bounds, initial=initial, method=args.method, intervals=not args.no_intervals,
                        free=free, option_names={"fix": "--fix", "bounds": "--bound", "initial": "--start"})
    if getattr(args, "mcmc", False):
        from ..mcmc import sample_posterior

        if args.mcmc_steps < 100:
            raise UserError(f"--mcmc-steps {args.mcmc_steps}: use at least 100 steps")
        sample_posterior(result, steps=args.mcmc_steps, burn=args.mcmc_steps // 4, seed=args.mcmc_seed)
    return result, curves


def _simulated_shape(spec, curve):
    try:
        from ..simulated import SimulatedShape
    except ImportError:
        raise UserError("--simulate: simulated curve tables are not available in this installation") from None
    if not Path(spec).exists():
        raise UserError(f"{spec}: no such simulation spec")
    return SimulatedShape.from_spec(spec, times_s=curve.time_s, progress=True)


def write_outputs(args, result, stem, out, extra_json=None):
    """Write JSON/CSV/figure files as the options say; returns the list of paths written."""
    from ..report import write_fit_curve_csv, write_json, write_parameters_csv

    written = []
    inputs = {Path(f).resolve() for f in getattr(args, "files", [])}

    def target(path):
        path = Path(path)
        if path.resolve() in inputs:
            raise UserError(f"{path}: refusing to overwrite an input file")
        return path

    if args.json:
        if args.json != "-":
            target(args.json).parent.mkdir(parents=True, exist_ok=True)
        write_json(result, args.json if args.json == "-" else target(args.json), extra_json)
        if args.json != "-":
            written.append(str(args.json))
    if not args.no_files:
        outdir = Path(args.output_dir)
        outdir.mkdir(parents=True, exist_ok=True)
        json_path = target(outdir / f"{stem}_fit.json")
        if not args.json or Path(args.json).resolve() != json_path.resolve():
            write_json(result, json_path, extra_json)
            written.append(str(json_path))
        params_path = target(outdir / f"{stem}_fit_params.csv")
        write_parameters_csv(result, params_path)
        curve_path = target(outdir / f"{stem}_fit_curve.csv")
        write_fit_curve_csv(result, curve_path)
        written += [str(params_path), str(curve_path)]
    if not args.no_plot:
        from ..plotting import plot_fit

        plot_path = target(args.plot or Path(args.output_dir) / f"{stem}_fit.png")
        plot_path.parent.mkdir(parents=True, exist_ok=True)
        plot_fit(result, plot_path)
        written.append(str(plot_path))
        if getattr(result, "mcmc_samples", None):
            from ..plotting import plot_corner

            corner_path = target(plot_path.with_name(plot_path.stem + "_corner.png"))
            plot_corner(result, corner_path)
            written.append(str(corner_path))
    return written


def run(args) -> int:
    # With --json - the table goes to stderr so that stdout stays machine-readable.
    out = sys.stderr if args.json == "-" else sys.stdout
    result, curves = build_fit(args, out)
    for curve in curves:
        for note in curve.notes:
            print(f"read {curve.source}: {note}", file=out)
    print(result.report(), file=out)
    stem = Path(args.files[0]).stem
    written = write_outputs(args, result, stem, out)
    for path in written:
        print(f"wrote {path}", file=out)
    return 0
