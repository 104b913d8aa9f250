"""``respdor structure STRUCT``: the dephasing curve a structure predicts, and what a two-spin fit reads."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..workload import add_allow_long
from ..units import finite_float, parse_frequency, parse_length, parse_time

_DESCRIPTION = """\
Predict the RESPDOR dephasing curve of the observed atoms of a structure (xyz/extxyz, CIF,
POSCAR/CONTCAR, CASTEP .magres; read with ASE, periodic images included) from their partners
within a cutoff, nearest first. The curve is simulated by spinsim with ideal REDOR pi pulses on
the observed spin and the chosen partner saturation (--saturation: ideal, a CW pulse cw:30kHz:2tr,
or the [saturation] table of a spec file); partners take C_Q, eta_Q and orientation from a
.magres EFG, or the --cq/--eta-q defaults. Partners coupled only to the observed spin are
multiplied per crystallite (spinsim's fast engine, exact in that case); otherwise the whole spin
system is propagated (general engine). Partners of a rare isotope (29Si, 13C, 111Cd ...) are
averaged over their random occupancy (--abundance). The curve is the equal-weight mean over the
observed atoms. Prints the partners (distance, D, C_Q), the curve, and the apparent D and r that
an analytical two-spin fit (fraction free) reads from it.
With --compare, fits only the bonded fraction of the prediction to a measured curve and prints
chi^2; several structures are ranked by it. Needs ASE: pip install 'respdor[structures]'.
"""

_EPILOG = """\
examples:
  respdor structure model.xyz --observe C --partner 27Al --cutoff 4A --max-partners 3
  respdor structure model.xyz --observe 0 --partner 27Al --cutoff 5A --compare curve.csv --time-unit ms
  respdor structure model.xyz --observe 'C[O2]' --partner 27Al --saturation cw:30kHz:2tr --cq 3MHz --eta-q 0.5
  respdor structure zeolite.cif --observe C --partner 29Si --cutoff 6A --abundance natural
  respdor structure model.xyz --observe 'C[O2]' --partner 27Al --cutoff-convergence 3A:8A:1A
"""


#: The powder used without --powder/--gamma (the library's default; checked and refined when unconverged).
from ..jobs.structure import DEFAULT_POWDER  # noqa: E402

#: Python parameters of respdor.predict_structure -> the options that set them (messages name options).
_OPTION_NAMES = {"observe_isotope": "--observe-isotope", "cutoff_angstrom": "--cutoff", "max_partners": "--max-partners",
                 "mas_rate_hz": "--mas", "field_t": "--field", "t_max_s": "--t-max", "n_powder": "--powder",
                 "n_gamma": "--gamma", "cq_hz": "--cq", "eta_q": "--eta-q", "partner_couplings": "--partner-couplings",
                 "n_samples": "--samples", "cutoff_shells_angstrom": "--cutoff-convergence",
                 "convergence_tol": "--convergence-tol", "powder_tol": "--powder-tol",
                 "check_convergence": "--check-convergence", "allow_long": "--allow-long",
                 "integrator": "--integrator"}
#: Parameters whose names are ordinary words: rewritten only where a message writes them as ``name=value``.
_VALUE_NAMES = {"observe": "--observe", "partner": "--partner", "abundance": "--abundance",
                "saturation": "--saturation", "compare": "--compare", "seed": "--seed", "method": "--method"}


def register(subparsers):
    p = subparsers.add_parser("structure", help="predict a dephasing curve from a structure file (needs ASE)",
                              description=_DESCRIPTION, epilog=_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("structure", metavar="STRUCT", nargs="+",
                   help="structure file(s) read by ASE; several are candidates ranked by chi^2 with --compare")
    p.add_argument("--observe", required=True,
                   help="observed atoms: an element (C: every carbon), a bonding selection ('C[O2]': every C bonded "
                        "to exactly two O; 'Si[O4+]': four or more) or 0-based indices (3,7)")
    p.add_argument("--observe-isotope", help="observed isotope (default from the element: C -> 13C)")
    p.add_argument("--partner", required=True, help="partner isotope, e.g. 27Al")
    p.add_argument("--cutoff", default="4A", help="partner search radius (default 4A; bare number: angstrom)")
    p.add_argument("--max-partners", type=int, help="keep at most this many partners per observed atom (nearest)")
    p.add_argument("--mas", default="10k", help="MAS rate (default 10k; bare number: Hz)")
    p.add_argument("--field", type=finite_float, default=14.1, help="B0 in T (default 14.1)")
    p.add_argument("--t-max", default="8ms", help="longest recoupling time without --compare, e.g. 4ms (a bare number "
                   "is ms, as in simulate and library build; default 8ms)")
    p.add_argument("--powder", type=int, help=f"ZCW (alpha, beta) orientations (default {DEFAULT_POWDER[0]}, "
                   "checked and refined when unconverged)")
    p.add_argument("--gamma", type=int, help=f"gamma angles (default {DEFAULT_POWDER[1]}, checked and refined when "
                   "unconverged)")
    p.add_argument("--saturation", default="ideal",
                   help="partner saturation: ideal (default), cw:NU1:LENGTH (cw:30kHz:2tr; length in rotor periods "
                        "'tr' or a time; bare NU1 in kHz) or a spec file .toml/.json whose [saturation] table is used")
    p.add_argument("--cq", default=None,
                   help="C_Q of partners whose structure gives no EFG (default 3MHz; bare number: MHz)")
    p.add_argument("--eta-q", type=finite_float, default=None,
                   help="eta_Q of partners whose structure gives no EFG (default 0.5)")
    p.add_argument("--method", choices=["auto", "fast", "general", "coupled"], default="auto",
                   help="spinsim engine: auto (default: coupled when partner-partner couplings are included, else "
                        "fast), fast (per-crystallite product), general (dense propagation) or coupled (partners "
                        "coupled to each other)")
    p.add_argument("--integrator", choices=["piecewise", "magnus4"], default="piecewise",
                   help="time steps: piecewise (default: constant Hamiltonian per step, 0.5 us) or magnus4 "
                        "(fourth-order Magnus steps of 1 us: fast and coupled engines; less work for coupled "
                        "partners); the convergence check halves the step either way")
    p.add_argument("--partner-couplings", action=argparse.BooleanOptionalAction, default=None,
                   help="couple the partners to each other (homonuclear ZZ + flip-flop, spinsim's coupled engine); "
                        "default: on while an observed atom's partner space has at most 36 states (two spin-5/2, "
                        "five spin-1/2), off (product model) beyond")
    p.add_argument("--abundance", default="natural",
                   help="probability that a partner site holds the partner isotope: natural (default: the isotope's "
                        "natural abundance, 1 from 99 %% up) or a fraction in (0, 1]")
    p.add_argument("--samples", type=int, default=256,
                   help="Monte Carlo occupancy patterns when more than 12 partners are diluted (default 256)")
    p.add_argument("--seed", type=int, default=0, help="seed of the Monte Carlo occupancy patterns (default 0)")
    p.add_argument("--cutoff-convergence", metavar="START:STOP:STEP",
                   help="also predict the curve for cutoffs START..STOP (e.g. 3A:8A:1A) and print the change per shell")
    p.add_argument("--convergence-tol", type=finite_float, default=0.01,
                   help="warn when the last shell still changes dS/S0 by more than this (default 0.01)")
    from ..convergence import add_options

    add_options(p, "the predicted curve")
    p.add_argument("--compare", metavar="CURVE", help="measured curve: fit the bonded fraction of the prediction")
    p.add_argument("--time-unit", help="time unit of the --compare file when its header does not say (s, ms, us)")
    p.add_argument("--output", "-o", metavar="PATH",
                   help="CSV of the predicted curve (default: <stem>_structure.csv in the current directory)")
    p.add_argument("--json", metavar="PATH", help="also write the result as JSON ('-' for stdout)")
    p.add_argument("--plot", metavar="PATH", help="figure of the predicted curve(s), and the data with --compare")
    p.add_argument("--no-files", action="store_true", help="write no file")
    add_allow_long(p)
    p.set_defaults(func=run, _option_names=_OPTION_NAMES)
    from . import OptionRule, declare_option_rules, no_files_rules

    declare_option_rules(p, [*no_files_rules(("--output", "--plot")),
                             OptionRule.needs("--time-unit", "--compare", advice="it is the time unit of that curve"),
                             OptionRule.excludes("--t-max", "--compare", "the measured curve's times are used",
                                                 refuse=False),
                             OptionRule.needs("--convergence-tol", "--cutoff-convergence"),
                             *(OptionRule(o, _diluted, "when every partner site holds the partner isotope "
                                          "(abundance 1: no occupancy patterns are drawn)")
                               for o in ("--seed", "--samples"))])


def _diluted(args):
    """True when partner sites are occupied at random (abundance below 1): --seed and --samples act then."""
    from .. import structure as st

    try:
        return st.partner_abundance(args.partner, args.abundance) < 1
    except Exception:  # an unknown isotope or a bad --abundance is named where it is read
        return True


def _words(message: str) -> str:
    """A library message with its parameter names as this command's options."""
    import re

    from . import in_option_words

    message = re.sub(r"predict_structure\(([^)]*)\)", r"respdor structure \1", message)
    message = re.sub(r"(?<![\w-])(partner_couplings|check_convergence|allow_long)=True",
                     lambda m: _OPTION_NAMES[m.group(1)], message)  # a flag: the option alone
    for name, option in _VALUE_NAMES.items():
        message = re.sub(rf"(?<![\w-]){name}=", option + " ", message)
    return in_option_words(message, _OPTION_NAMES)


def run(args) -> int:
    import warnings

    from spinsim.progress import LineProgress, TqdmProgress

    from ..errors import RespdorWarning
    from ..jobs.structure import compare_structures

    paths = [Path(x) for x in args.structure]
    plan = _plan(args, paths)
    options = _call_options(args)
    progress = TqdmProgress() if sys.stderr.isatty() else LineProgress(sys.stderr)
    try:
        with warnings.catch_warnings():  # the result keeps them; printed below in option words
            warnings.simplefilter("ignore", RespdorWarning)
            result = compare_structures(paths, args.observe, args.partner, progress=progress, **options)
    except UserError as exc:
        raise UserError(_words(str(exc))) from None
    for r in result.candidates:
        r.warnings[:] = [_words(w) for w in r.warnings]  # the command's JSON names its options too
        _print_prediction(r)
    if args.compare and len(paths) > 1:
        print("  candidates ranked by chi^2 (bonded fraction fitted):", file=sys.stderr)
        for k, r in enumerate(result.ranked, 1):
            print(f"    {k}. {r.structure}: chi^2 = {r.compare['chi2']:.4g}, "
                  f"fraction = {r.compare['fraction']:.3f}", file=sys.stderr)
    _write(args, plan, result)
    return 0


def _call_options(args) -> dict:
    """The command's options as the Python values of :func:`respdor.predict_structure`."""
    mas, _ = parse_frequency(args.mas, "--mas")
    cutoff, _ = parse_length(args.cutoff, "--cutoff")
    t_max, _ = parse_time(args.t_max, "--t-max", "ms")
    saturation, source = _saturation(args.saturation)
    cq = None if args.cq is None else parse_frequency(args.cq, "--cq", default_unit="mhz", signed=True)[0]
    return dict(observe_isotope=args.observe_isotope, cutoff_angstrom=cutoff, max_partners=args.max_partners,
                mas_rate_hz=mas, field_t=args.field, t_max_s=t_max, n_powder=args.powder, n_gamma=args.gamma,
                saturation=saturation, saturation_source=source, cq_hz=cq, eta_q=args.eta_q, method=args.method,
                partner_couplings=args.partner_couplings, abundance=args.abundance, n_samples=args.samples,
                seed=args.seed, cutoff_shells_angstrom=_shells(args.cutoff_convergence),
                convergence_tol=args.convergence_tol, powder_tol=args.powder_tol,
                check_convergence=args.check_convergence, compare=args.compare_curve, allow_long=args.allow_long,
                integrator=args.integrator)


def _shells(text):
    """--cutoff-convergence START:STOP:STEP -> the cutoffs (angstrom)."""
    if not text:
        return None
    parts = text.split(":")
    if len(parts) != 3:
        raise UserError(f"--cutoff-convergence {text}: write START:STOP:STEP, e.g. 3A:8A:1A")
    lo, hi, step = (parse_length(x, "--cutoff-convergence")[0] for x in parts)
    if not (0 < lo < hi and step > 0):
        raise UserError(f"--cutoff-convergence {text}: need 0 < START < STOP and STEP > 0")
    n = int(np.floor((hi - lo) / step + 1e-9))
    if n > 50:
        raise UserError(f"--cutoff-convergence {text}: {n + 1} cutoffs; at most 51")
    return lo + step * np.arange(n + 1)


def _saturation(text):
    """--saturation as the library takes it: ("ideal" | a spec table | a spec file, where it came from).

    ``cw:NU1:LENGTH`` is command-line shorthand for a CW [saturation] table: NU1 a frequency (bare:
    kHz), LENGTH in rotor periods (``2tr``) or a time (``200us``).
    """
    import re

    text = str(text).strip()
    if text.lower() == "ideal":
        return "ideal", "ideal"
    if Path(text).suffix.lower() in (".toml", ".json"):
        return Path(text), text
    if not text.lower().startswith("cw:"):
        raise UserError(f"--saturation {text}: give 'ideal', a CW pulse such as cw:30kHz:2tr (nu1, length in rotor "
                        "periods 'tr' or a time) or a spec file (.toml/.json) with a [saturation] table")
    parts = text.split(":")
    if len(parts) != 3:
        raise UserError(f"--saturation {text}: a CW pulse is cw:NU1:LENGTH, e.g. cw:30kHz:2tr or cw:30kHz:200us")
    nu1, _ = parse_frequency(parts[1], "--saturation nu1", default_unit="khz")
    length = parts[2].strip()
    m = re.fullmatch(r"([0-9.eE+-]+)\s*tr", length)
    table = {"type": "cw", "nu1_khz": nu1 / 1e3}
    if m:
        try:
            table["length_rotor_periods"] = float(m.group(1))
        except ValueError:
            raise UserError(f"--saturation {text}: cannot read {length!r} as a number of rotor periods") from None
    else:
        table["length_us"] = parse_time(length, "--saturation length")[0] * 1e6
    return table, text


def _print_prediction(r):
    """The prediction's report and its warnings (in option words) on stderr."""
    from . import say_warning

    for line in r.report_lines():
        print(line, file=sys.stderr)
    for w in r.warnings:
        say_warning(w, prefix="  warning: ")


def _plan(args, paths):
    from ..files import OutputPlan

    if args.no_files and args.json not in (None, "-"):
        raise UserError(f"--no-files and --json {args.json} contradict each other; use --json - for standard output")
    args.compare_curve = None
    if args.compare:
        from ..io import read_curve

        args.compare_curve = read_curve(args.compare, time_unit=args.time_unit)
    plan = OutputPlan(inputs=[*paths, args.compare], no_files=args.no_files)
    plan.csv = plan.add(args.output or f"{paths[0].stem}_structure.csv", "--output")
    plan.json = plan.add(args.json, "--json", stdout=True)
    plan.figure = plan.add(args.plot, "--plot", "figure")
    plan.check()
    return plan


def _write(args, plan, result):
    """Curve table on stderr, CSV (one dSS0 column per structure), figure and JSON."""
    cands = result.candidates
    times = cands[0].t_s
    names = ["dSS0"] if len(cands) == 1 else [f"dSS0_{Path(r.structure).stem}" for r in cands]
    curves = np.column_stack([r.dss0 for r in cands])
    print("  " + f"{'t_s':>12} " + " ".join(f"{n:>10}" for n in names), file=sys.stderr)
    for t, row in zip(times, curves):
        cells = " ".join(f"{y + 0.0:10.6f}".replace("-0.000000", " 0.000000") for y in row)
        print(f"  {t:12.6g} {cells}", file=sys.stderr)
    with plan.writing(plan.csv) as tmp:
        if tmp is not None:
            np.savetxt(tmp, np.column_stack([times, curves]), delimiter=",", header=",".join(["t_s"] + names),
                       comments="", fmt="%.10g")
            print(f"  wrote {plan.csv}", file=sys.stderr)
    if plan.figure is not None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5.5, 4.0))
        result.plot(fig.add_subplot())
        fig.tight_layout()
        plan.save_figure(fig, plan.figure, dpi=120)
        print(f"  wrote {plan.figure}", file=sys.stderr)
    if args.json:
        from ..resultio import json_text

        text = json_text(cands[0].to_dict() if len(cands) == 1 else result.to_dict())
        if args.json == "-":
            sys.stdout.write(text)
        else:
            plan.write_text(plan.json, text)
            print(f"  wrote {plan.json}", file=sys.stderr)
