"""``respdor structure STRUCT``: the dephasing curve a structure predicts, and what a two-spin fit reads."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..workload import add_allow_long, check_work, search_work, simulation_work
from ..units import finite_float, parse_frequency, parse_length, parse_time, plausible

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


#: Default ZCW (alpha, beta) count and gamma count; every prediction made with defaults is
#: checked (spinsim.convergence) and refined where unconverged (measured costs: docs/structures.md).
DEFAULT_POWDER = (987, 16)


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
    p.set_defaults(func=run)
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


def run(args) -> int:
    paths = [Path(x) for x in args.structure]
    seen = {}
    for p in paths:
        key = p.resolve()
        if key in seen:
            raise UserError(f"{p}: given twice as a structure (also as {seen[key]}); each candidate once")
        seen[key] = p
    mas, _ = parse_frequency(args.mas, "--mas")
    cutoff, _ = parse_length(args.cutoff, "--cutoff")
    if not mas > 0:
        raise UserError(f"--mas {args.mas}: must be > 0 Hz")
    if not args.field > 0:
        raise UserError(f"--field {args.field:g}: must be > 0 T")
    args.option_warnings = []
    plausible("mas_rate", mas, "--mas", args.mas, args.option_warnings)
    plausible("field", args.field, "--field", f"{args.field:g}", args.option_warnings)
    if args.max_partners is not None and args.max_partners < 1:
        raise UserError(f"--max-partners {args.max_partners}: must be >= 1")
    args.explicit = {"alpha_beta": args.powder is not None, "gamma": args.gamma is not None, "step": False}
    args.powder = DEFAULT_POWDER[0] if args.powder is None else args.powder
    args.gamma = DEFAULT_POWDER[1] if args.gamma is None else args.gamma
    if args.powder < 1 or args.gamma < 1:
        raise UserError(f"--powder {args.powder} --gamma {args.gamma}: both must be >= 1")
    from ..convergence import tolerance

    args.tol = tolerance(args)
    if args.samples < 2:
        raise UserError(f"--samples {args.samples}: must be >= 2")
    if not args.convergence_tol > 0:
        raise UserError(f"--convergence-tol {args.convergence_tol:g}: must be > 0")
    try:
        from spinsim import get_isotope

        get_isotope(args.partner)
    except ValueError as exc:
        raise UserError(f"--partner: {exc}") from None
    _options(args, mas)
    plan = _plan(args, paths)
    times = _times(args, mas)
    results = [_predict(p, args, mas, cutoff, times) for p in paths]
    if args.compare and len(results) > 1:
        _rank(results)
    _write(args, plan, times, results)
    return 0


def _options(args, mas):
    """Checked physics options on ``args``: cq_hz, eta_q, abundance_p, convergence cutoffs."""
    from .. import structure as st

    args.tensor_options = [o for o, v in (("--cq", args.cq), ("--eta-q", args.eta_q)) if v is not None]
    args.cq = "3MHz" if args.cq is None else args.cq
    args.eta_q = 0.5 if args.eta_q is None else args.eta_q
    args.cq_hz, _ = parse_frequency(args.cq, "--cq", default_unit="mhz", signed=True)  # C_Q has a sign
    from spinsim import larmor_frequency_hz

    nu0 = larmor_frequency_hz(args.partner, args.field)
    if abs(args.cq_hz) >= nu0:  # the engine's high-field (first/second-order) treatment needs |C_Q| << nu0
        raise UserError(f"--cq {args.cq}: {abs(args.cq_hz) / 1e6:g} MHz is not below the {args.partner} Larmor "
                        f"frequency {nu0 / 1e6:.4g} MHz at {args.field:g} T (bare numbers are MHz)")
    if not 0 <= args.eta_q <= 1:
        raise UserError(f"--eta-q {args.eta_q:g}: must lie in [0, 1]")
    args.abundance_p = st.partner_abundance(args.partner, args.abundance)
    args.shells = None
    if args.cutoff_convergence:
        parts = args.cutoff_convergence.split(":")
        if len(parts) != 3:
            raise UserError(f"--cutoff-convergence {args.cutoff_convergence}: write START:STOP:STEP, e.g. 3A:8A:1A")
        lo, hi, step = (parse_length(x, "--cutoff-convergence")[0] for x in parts)
        if not (0 < lo < hi and step > 0):
            raise UserError(f"--cutoff-convergence {args.cutoff_convergence}: need 0 < START < STOP and STEP > 0")
        n = int(np.floor((hi - lo) / step + 1e-9))
        if n > 50:
            raise UserError(f"--cutoff-convergence {args.cutoff_convergence}: {n + 1} cutoffs; at most 51")
        args.shells = lo + step * np.arange(n + 1)


def _predict(path, args, mas, cutoff, times):
    """Partners, predicted curve, apparent two-spin reading (and --compare) of one structure."""
    from spinsim import make_powder

    from .. import structure as st
    from ..units import check_observed_spin_half

    struct = st.read_structure(path)
    observed = st.select_observed(struct.atoms, args.observe)
    n_atoms, cells = st.search_size(struct, max([cutoff] + list(args.shells if args.shells is not None else [])))
    check_work(search_work(n_atoms, cells, "--cutoff (or the cutoff-convergence STOP)"), args.allow_long,
               f"respdor structure {path} --cutoff {args.cutoff}")
    symbols = struct.atoms.get_chemical_symbols()
    obs_iso = args.observe_isotope or st.OBSERVED_ISOTOPE.get(symbols[observed[0]])
    if args.observe_isotope:
        other = sorted({symbols[i] for i in observed} - {st.element_of(args.observe_isotope)})
        if other:
            raise UserError(f"--observe-isotope {args.observe_isotope} contradicts --observe {args.observe}: the "
                            f"selected atoms are {', '.join(other)}, not {st.element_of(args.observe_isotope)}")
    if obs_iso is None:
        raise UserError(f"--observe {args.observe}: no default isotope for {symbols[observed[0]]}; "
                        "name it with --observe-isotope")
    check_observed_spin_half(obs_iso, "--observe-isotope")
    sat, sat_text = st.parse_saturation(args.saturation, obs_iso, args.partner, mas, args.field)
    powder = make_powder("zcw", args.powder, args.gamma)
    if path == Path(args.structure[0]):  # once per command
        from .simulate import _warn_single_crystal

        _warn_single_crystal(powder, args.option_warnings, f"--powder {args.powder}")
        if args.explicit["gamma"]:
            plausible("gamma", args.gamma, "--gamma", str(args.gamma), args.option_warnings)
    lines = []
    for i in observed:
        ps = st.find_partners(struct, i, obs_iso, args.partner, cutoff, args.max_partners, args.cq_hz, args.eta_q)
        if not ps:
            raise UserError(f"{path}: atom {i} ({symbols[i]}) has no {args.partner} within {cutoff:g} A; "
                            "raise --cutoff")
        rule = _couplings_rule(args)
        couple = st.couplings_affordable(ps, args.partner) if rule == "auto" else rule
        lines.append((i, ps, bool(couple) and len(ps) > 1))
    long_run = check_work(_simulation_work(lines, args, mas, times, sat, powder), args.allow_long,
                          f"respdor structure {path}")
    sites, check = _checked_sites(struct, lines, obs_iso, args, mas, times, sat, powder, path, long_run)
    powder = check.level.powder
    args.powder_text = f"{powder.name}: {powder.n_ab} (alpha, beta) x {powder.n_gamma} gamma"
    pred = np.mean([x["dss0"] for x in sites], axis=0)
    app = st.apparent_two_spin(times, pred, obs_iso, args.partner)
    result = _report(path, obs_iso, args, sites, times, pred, app, mas, sat, sat_text)
    _report_check(check, times, result)
    _warn_missing_tensors(struct, path, args, result["warnings"])
    if args.shells is not None:
        result["cutoff_convergence"] = _convergence(struct, observed, obs_iso, args, mas, times, sat, check.level,
                                                    path, result["warnings"])
    if args.compare:
        result["compare"] = _compare(args.compare_curve, pred)
        if "warning" in result["compare"]:
            result["warnings"].append(result["compare"]["warning"])
    return result


def _simulation_work(lines, args, mas, times, sat, powder):
    """The work of every occupancy pattern of every observed atom (and of --cutoff-convergence's shells)."""
    from spinsim import get_isotope
    from spinsim.plausibility import work_from_counts

    from .. import structure as st

    mult = get_isotope(args.partner).multiplicity
    total, worst, runs = 0.0, None, 0
    for _, ps, couple in lines:
        engine = "coupled" if couple else ("general" if args.method == "general" else "fast")
        counts = work_from_counts(engine, [mult] * len(ps), powder.n_ab * powder.n_gamma, times, mas,
                                  1.0 / mas + (getattr(sat, "duration", 0.0) or 0.0))
        n = st.occupancy_patterns(len(ps), args.abundance_p, n_samples=args.samples)
        total, runs = total + n * counts["cost"], runs + n
        worst = counts if worst is None or counts["cost"] > worst["cost"] else worst
    shells = 1 if args.shells is None else 1 + len(args.shells)  # each shell at most the full cutoff's work
    return simulation_work(worst, "--cutoff, --max-partners, --powder, --gamma, --t-max, --samples or "
                                  "--cutoff-convergence", n_runs=runs * shells, total_cost=total * shells)


def _every_partner_has_efg(struct, element):
    idx = [i for i, e in enumerate(struct.atoms.get_chemical_symbols()) if e == element]
    return bool(idx) and all("efg" in struct.tensors.get(i, {}) for i in idx)


def _warn_missing_tensors(struct, path, args, warnings):
    """Partners whose EFG the file gives for other atoms of their element but not for them: named per atom."""
    from spinsim import get_isotope

    from .. import structure as st

    if get_isotope(args.partner).spin <= 0.5:
        return
    missing = st.atoms_missing_tensor(struct, st.element_of(args.partner), "efg")
    if path.suffix.lower() == ".magres" and not struct.tensors:
        msg = (f"{path}: the file gives no tensor at all (no [magres] block: cut short?); every partner takes "
               f"--cq {args.cq_hz / 1e6:g} MHz, --eta-q {args.eta_q:g}")
        print(f"  warning: {msg}", file=sys.stderr)
        warnings.append(msg)
    elif args.tensor_options and _every_partner_has_efg(struct, st.element_of(args.partner)):
        msg = (f"{' and '.join(args.tensor_options)} {'has' if len(args.tensor_options) == 1 else 'have'} no effect: "
               f"{path} gives an EFG tensor for every {st.element_of(args.partner)} atom")
        print(f"  warning: {msg}", file=sys.stderr)
        warnings.append(msg)
    elif missing:
        msg = (f"{path}: no EFG tensor for {st.element_of(args.partner)} atom(s) {_ints(missing)} although the file "
               f"gives one for the other {st.element_of(args.partner)} atoms; they take --cq {args.cq_hz / 1e6:g} MHz, "
               f"--eta-q {args.eta_q:g}")
        print(f"  warning: {msg}", file=sys.stderr)
        warnings.append(msg)


def _checked_sites(struct, lines, obs_iso, args, mas, times, sat, powder, path, progress=False):
    """Site curves at the powder, gamma and step that pass the convergence check
    (:func:`spinsim.convergence.check_convergence`; defaults refined, --powder/--gamma checked with
    --check-convergence)."""
    import time

    from spinsim.convergence import Level, check_convergence

    runs = {}

    def run(level):
        sites = []
        for k, (i, ps, couple) in enumerate(lines, 1):
            sites.append(_site(struct, i, ps, couple, obs_iso, args, mas, times, sat, level.powder, path,
                               level.max_dt))
            if progress:  # a long prediction: one line per observed atom
                print(f"  simulated observed atom {i} ({k}/{len(lines)}, {level.describe()})", file=sys.stderr)
        runs[level.describe()] = sites
        return np.mean([x["dss0"] for x in sites], axis=0)

    level = Level(powder, 0.5e-6)
    t0 = time.perf_counter()
    base = run(level)
    wall = time.perf_counter() - t0
    engines = {e for x in runs[level.describe()] for e in x["engines"]}
    uses_step = engines != {"fast"} or hasattr(sat, "events")  # only fast + ideal saturation has no step
    from ..convergence import announce

    announce(args.explicit, args.check_convergence, wall, sys.stderr, uses_step)
    check = check_convergence(run, level, args.explicit, args.tol, args.check_convergence, base=(base, wall),
                              uses_step=uses_step, nested=True, times_s=times)
    return runs[check.level.describe()], check


def _report_check(check, times, result):
    """The convergence check's lines on stderr, its JSON record and warnings."""
    from .. import convergence as cv

    for line in cv.check_text(check, times):
        print("  " + line, file=sys.stderr)
    result["convergence"] = cv.check_json(check, times)
    for w in cv.check_warnings(check, times):
        print(f"  warning: {w}", file=sys.stderr)
        result["warnings"].append(w)


def _couplings_rule(args):
    """--partner-couplings as given, else "auto" (while affordable) for the engines that can couple."""
    if args.partner_couplings is not None:
        return bool(args.partner_couplings)
    return "auto" if args.method in ("auto", "coupled") else False


def _site(struct, i, ps, couple, obs_iso, args, mas, times, sat, powder, path, max_dt=0.5e-6):
    """Curve of one observed atom (occupancy-averaged) and what was used for it."""
    from .. import structure as st

    csa = st.observed_csa(struct, i)
    try:
        y, info = st.site_curve(ps, obs_iso, args.partner, args.field, mas, times, sat, powder, args.method,
                                args.abundance_p, csa, n_samples=args.samples, seed=args.seed,
                                partner_couplings=couple, max_dt=max_dt)
    except ValueError as exc:
        if isinstance(exc, UserError):
            raise
        raise UserError(f"{path}: atom {i}: {exc}") from None
    return {"atom": i, "partners": ps, "dss0": y, "csa": csa, "partner_couplings": couple,
            "partner_coupling_max_hz": st.partner_coupling_max_hz(ps, args.partner), **info}


def _convergence(struct, observed, obs_iso, args, mas, times, sat, level, path, warnings):
    """Mean curve per cutoff of --cutoff-convergence (at the checked powder ``level``), the change per
    shell, and a warning if unconverged."""
    from .. import structure as st

    try:
        rows = st.cutoff_convergence(struct, observed, obs_iso, args.partner, args.shells, mas, times, args.field,
                                     level.powder, args.max_partners, args.cq_hz, args.eta_q, saturation=sat,
                                     max_dt=level.max_dt,
                                     method=args.method, abundance=args.abundance_p, n_samples=args.samples,
                                     partner_couplings=_couplings_rule(args),
                                     seed=args.seed)
    except ValueError as exc:
        if isinstance(exc, UserError):
            raise
        raise UserError(f"{path}: --cutoff-convergence: {exc}") from None
    print("  cutoff convergence (max |d dS/S0| from the previous cutoff):", file=sys.stderr)
    for row in rows:
        change = "-" if row["max_change"] is None else f"{row['max_change']:.4f}"
        if row["dss0"] is None:
            change = "- (an observed atom has no partner)"
        print(f"    {row['cutoff_angstrom']:6.2f} A  {row['n_partners']:4d} partner(s)  {change}", file=sys.stderr)
        row["dss0"] = None if row["dss0"] is None else [float(v) for v in row["dss0"]]
    last = rows[-1]["max_change"]
    if last is None or last > args.convergence_tol:
        what = "cannot be judged" if last is None else f"still changes dS/S0 by {last:.4f}"
        msg = (f"cutoff convergence: the last shell ({rows[-1]['cutoff_angstrom']:g} A) {what} "
               f"(> {args.convergence_tol:g}): raise the cutoff")
        print(f"  warning: {msg}", file=sys.stderr)
        warnings.append(msg)
    return rows


def _rank(results):
    """Order the candidate structures by chi^2 of their fraction-only fit, best first."""
    order = sorted(results, key=lambda r: r["compare"]["chi2"])
    print("  candidates ranked by chi^2 (bonded fraction fitted):", file=sys.stderr)
    for k, r in enumerate(order, 1):
        r["compare"]["rank"] = k
        print(f"    {k}. {r['structure']}: chi^2 = {r['compare']['chi2']:.4g}, "
              f"fraction = {r['compare']['fraction']:.3f}", file=sys.stderr)


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


def _times(args, mas):
    """Recoupling times: the measured ones with --compare, else every 2 rotor periods to --t-max."""
    if args.compare_curve is not None:
        t = np.asarray(args.compare_curve.time_s, float)
        n = np.rint(t * mas)
        if np.any(np.abs(t * mas - n) > 1e-6 * np.maximum(n, 1)) or np.any(n % 2):
            raise UserError(f"--compare {args.compare}: recoupling times must be even numbers of rotor periods at "
                            f"--mas {mas:g} Hz")
        return t
    t_max, _ = parse_time(args.t_max, "--t-max", "ms")
    plausible("t_max", t_max, "--t-max", args.t_max, args.option_warnings)
    n = int(np.floor(t_max * mas / 2 + 1e-9))
    if n < 3:  # the apparent two-spin fit needs three times > 0
        raise UserError(f"--t-max {args.t_max}: shorter than 6 rotor periods at --mas {mas:g} Hz")
    return np.arange(n + 1) * 2.0 / mas


def _report(path, obs_iso, args, sites, times, pred, app, mas, sat, sat_text):
    """Print what was predicted and how (every choice), and build the JSON result."""
    err = sys.stderr
    engines = sorted({e for x in sites for e in x["engines"]})
    print(f"respdor structure: {path}, observed {obs_iso} ({len(sites)} atom(s)), partner {args.partner}, "
          f"MAS {mas:g} Hz, B0 {args.field:g} T, powder {args.powder_text}", file=err)
    print(f"  recoupling: ideal REDOR pi pulses on {obs_iso}; saturation: {sat_text}", file=err)
    print(f"  engine: {', '.join(_ENGINE[e] for e in engines)}", file=err)
    from spinsim import get_isotope

    quadrupolar = get_isotope(args.partner).spin > 0.5
    defaulted = sorted({p.index for x in sites for p in x["partners"] if not p.from_tensor}) if quadrupolar else []
    out = {"structure": str(path), "observed_isotope": obs_iso, "partner": args.partner, "sites": [],
           "choices": {"saturation": sat_text, "method": args.method, "engines": engines,
                       "cq_default_hz": args.cq_hz, "eta_q_default": args.eta_q,
                       "partners_with_default_cq": defaulted, "abundance": args.abundance,
                       "abundance_probability": args.abundance_p,
                       "averaging": f"equal-weight mean of the curves of {len(sites)} observed atom(s)"},
           "warnings": list(args.option_warnings)}
    for msg in args.option_warnings:
        print(f"  warning: {msg}", file=err)
    out["choices"].update({"cutoff_angstrom": parse_length(args.cutoff, "--cutoff")[0],
                           "max_partners": args.max_partners, "observe": args.observe,
                           "observed_atoms": [x["atom"] for x in sites], "mas_rate_hz": mas, "field_t": args.field,
                           "powder": args.powder_text,
                           "monte_carlo": {"samples": args.samples, "seed": args.seed}})
    if "[" in args.observe:
        from ..structure import BOND_SCALE

        out["choices"]["bond"] = f"distance < {BOND_SCALE:g} x sum of covalent radii (ASE natural_cutoffs)"
    if defaulted:
        ideal = " (with ideal saturation C_Q does not change the curve)" if not hasattr(sat, "events") else ""
        print(f"  no EFG in the structure for partner atom(s) {_ints(defaulted)}: C_Q = {args.cq_hz / 1e6:g} MHz, "
              f"eta_Q = {args.eta_q:g}, EFG axes along the structure's axes{ideal}", file=err)
    _print_abundance(args, sites, out)
    for x in sites:
        out["sites"].append(_site_json(x))
        print(f"  atom {x['atom']}: {len(x['partners'])} partner(s); {_coupling_text(x, out)}", file=err)
        for p in x["partners"]:
            src = "default" if quadrupolar else "spin 1/2"
            if p.from_tensor:
                src = "from EFG, PAS Euler " + _degrees(p.q_euler) + " deg"
            print(f"    atom {p.index:4d}  r = {p.distance_angstrom:.3f} A  D = {p.d_hz:.1f} Hz  "
                  f"C_Q = {p.cq_hz / 1e6:.3g} MHz, eta_Q = {p.eta_q:.2f} ({src})", file=err)
        if x["csa"] is not None:
            print(f"    {obs_iso} CSA from the .magres shielding: zeta = {x['csa'][0]:.1f} ppm, "
                  f"eta = {x['csa'][1]:.2f}{_csa_note(sat, mas)}", file=err)
    print(f"  curve: equal-weight mean of the {len(sites)} observed atom(s)' curves", file=err)
    print(f"  apparent two-spin fit of the predicted curve: D = {app['coupling_hz']:.1f} Hz, "
          f"r = {app['distance_angstrom']:.3f} A, fraction = {app['fraction']:.3f}", file=err)
    out["apparent_two_spin"] = app
    out["t_s"] = [float(x) for x in times]
    out["dSS0_predicted"] = [float(x) for x in pred]
    return out


_ENGINE = {"fast": "fast (per-crystallite product of the partners: exact for partners coupled only to the observed "
                   "spin)",
           "general": "general (dense propagation of the whole spin system)",
           "coupled": "coupled (partners coupled to each other: homonuclear ZZ + flip-flop, propagated in the "
                      "partner space)"}


def _coupling_text(site, out):
    """How the partners of one observed atom were treated; a warning when their couplings are left out."""
    d_pp = site["partner_coupling_max_hz"]
    n = len(site["partners"])
    if site["partner_couplings"]:
        return f"partner-partner couplings included (up to {d_pp:.1f} Hz)"
    if n > 1 and d_pp > 0:
        how = f"product model: partner-partner couplings (up to {d_pp:.1f} Hz) left out"
        msg = f"atom {site['atom']}: {how}; --partner-couplings includes them (slower)"
        print(f"  warning: {msg}", file=sys.stderr)
        out["warnings"].append(msg)
        return how
    return "no partner-partner coupling" if n > 1 else "one partner"


def _degrees(angles):
    """Angles (rad) as '-162.5, 90.0, 0.0' (no '-0.0')."""
    return ", ".join(f"{round(float(np.degrees(a)), 1) + 0.0:.1f}" for a in angles)


def _ints(values):
    return ", ".join(str(int(v)) for v in values)


def _csa_note(sat, mas):
    """Why the observed spin's CSA does or does not change this curve."""
    whole = not hasattr(sat, "events") or abs(sat.duration * mas - round(sat.duration * mas)) < 1e-9
    if whole:
        return (" (included; refocused by the ideal REDOR pi pulses and a centre of whole rotor periods, so it "
                "does not change this curve; it matters with finite pulses or SR4)")
    return " (included; the saturation block is not a whole number of rotor periods, so it can change the curve)"


def _print_abundance(args, sites, out):
    occ = [x["occupancy"] for x in sites]
    p = args.abundance_p
    if p >= 1:
        return
    kinds = sorted({o["method"] for o in occ})
    line = f"  {args.partner} sites occupied with probability {p:.4g}: curves averaged over occupancy patterns ("
    if "Monte Carlo" in kinds:
        se = max(o["max_standard_error"] for o in occ if o["method"] == "Monte Carlo")
        line += f"Monte Carlo, {args.samples} patterns, seed {args.seed}, max standard error of dS/S0 {se:.2g}"
        out["warnings"].append(f"occupancy average by Monte Carlo: max standard error of dS/S0 {se:.2g}")
        if "exact enumeration" in kinds:
            line += "; exact enumeration for sites with at most 12 partners"
    else:
        left = max(o["omitted_probability"] for o in occ)
        line += f"exact enumeration, patterns of total probability {left:.1g} left out"
    print(line + ")", file=sys.stderr)


def _site_json(x):
    parts = [{"atom": p.index, "distance_angstrom": p.distance_angstrom, "d_hz": p.d_hz, "cq_hz": p.cq_hz,
              "eta_q": p.eta_q, "q_euler_deg": [float(np.degrees(a)) for a in p.q_euler],
              "cq_source": "EFG" if p.from_tensor else ("default" if p.cq_hz else "none")} for p in x["partners"]]
    csa = None if x["csa"] is None else {"zeta_ppm": x["csa"][0], "eta": x["csa"][1],
                                         "euler_deg": [float(np.degrees(a)) for a in x["csa"][2]]}
    return {"atom": x["atom"], "partners": parts, "engines": x["engines"], "occupancy": x["occupancy"],
            "partner_couplings": x["partner_couplings"], "partner_coupling_max_hz": x["partner_coupling_max_hz"],
            "observed_csa": csa, "dSS0": [float(v) for v in x["dss0"]]}


def _compare(curve, pred):
    """Bonded fraction f of f * prediction by weighted linear least squares, and chi^2."""
    y = np.asarray(curve.dss0, float)
    w = np.ones_like(y) if curve.sigma is None else 1.0 / np.asarray(curve.sigma, float) ** 2
    f = float(np.sum(w * y * pred) / np.sum(w * pred * pred))
    chi2 = float(np.sum(w * (y - f * pred) ** 2))
    kind = "chi^2" if curve.sigma is not None else "sum of squared residuals (no sigma in the file)"
    print(f"  compared with {curve.source}: bonded fraction = {f:.3f}, {kind} = {chi2:.4g} "
          f"({len(y)} points)", file=sys.stderr)
    res = {"curve": str(curve.source), "fraction": f, "chi2": chi2, "weighted": curve.sigma is not None}
    why = ("fitted fraction > 1: the structure predicts less dephasing than measured" if f > 1 else
           f"fitted fraction {f:.3g} <= 0: the measured curve does not dephase the way the structure predicts "
           "(negative dS/S0, a reversed order S0/S, or no dephasing)" if f <= 0 else None)
    if why:
        print(f"  warning: {why}", file=sys.stderr)
        res["warning"] = why
    return res


def _write(args, plan, times, results):
    """Curve table on stderr, CSV (one dSS0 column per structure) and JSON."""
    names = ["dSS0"] if len(results) == 1 else [f"dSS0_{Path(r['structure']).stem}" for r in results]
    curves = np.column_stack([r["dSS0_predicted"] for r in results])
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
        _plot(plan, times, results, args.compare_curve)
        print(f"  wrote {plan.figure}", file=sys.stderr)
    if args.json:
        payload = results[0] if len(results) == 1 else {"candidates": results,
                                                         "warnings": sum((r["warnings"] for r in results), [])}
        text = json.dumps(payload, indent=2) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            plan.write_text(plan.json, text)
            print(f"  wrote {plan.json}", file=sys.stderr)


def _plot(plan, times, results, curve):
    """Each candidate's prediction (scaled by its fitted fraction with --compare) over the data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    if curve is not None:
        ax.errorbar(1e3 * curve.time_s, curve.dss0, yerr=curve.sigma, fmt="ko", ms=3, label="data")
    for r in results:
        f = r["compare"]["fraction"] if "compare" in r else 1.0
        label = Path(r["structure"]).name + (f" (f = {f:.2f})" if "compare" in r else "")
        ax.plot(1e3 * np.asarray(times), f * np.asarray(r["dSS0_predicted"]), "-", label=label)
    ax.set_xlabel("recoupling time (ms)")
    ax.set_ylabel("dS/S0")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    plan.save_figure(fig, plan.figure, dpi=120)
    plt.close(fig)
