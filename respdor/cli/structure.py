"""``respdor structure STRUCT``: the dephasing curve a structure predicts, and what a two-spin fit reads."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..errors import UserError
from ._units import finite_float, parse_frequency, parse_length, parse_time

_DESCRIPTION = """\
Predict the RESPDOR dephasing curve of the observed atoms of a structure (xyz/extxyz, CIF,
POSCAR/CONTCAR, CASTEP .magres; read with ASE, periodic images included) from their partners
within a cutoff, nearest first. The curve is simulated by spinsim with ideal REDOR pi pulses and
ideal complete saturation, the partners multiplied per crystallite (exact for partners coupled
only to the observed spin), averaged over the observed atoms. Prints the partners (distance, D),
the curve, and the apparent D and r that an analytical two-spin fit (fraction free) reads from it.
With --compare, fits only the bonded fraction of the prediction to a measured curve and prints
chi^2; several structures are ranked by it. Needs ASE: pip install 'respdor[structures]'.
"""

_EPILOG = """\
examples:
  respdor structure model.xyz --observe C --partner 27Al --cutoff 4A --max-partners 3
  respdor structure model.xyz --observe 0 --partner 27Al --cutoff 5A --compare curve.csv --time-unit ms
"""


def register(subparsers):
    p = subparsers.add_parser("structure", help="predict a dephasing curve from a structure file (needs ASE)",
                              description=_DESCRIPTION, epilog=_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("structure", metavar="STRUCT", nargs="+",
                   help="structure file(s) read by ASE; several are candidates ranked by chi^2 with --compare")
    p.add_argument("--observe", required=True, help="observed element (C: every carbon) or 0-based indices (3,7)")
    p.add_argument("--observe-isotope", help="observed isotope (default from the element: C -> 13C)")
    p.add_argument("--partner", required=True, help="partner isotope, e.g. 27Al")
    p.add_argument("--cutoff", default="4A", help="partner search radius (default 4A; bare number: angstrom)")
    p.add_argument("--max-partners", type=int, help="keep at most this many partners per observed atom (nearest)")
    p.add_argument("--mas", default="10k", help="MAS rate (default 10k; bare number: Hz)")
    p.add_argument("--field", type=finite_float, default=14.1, help="B0 in T (default 14.1)")
    p.add_argument("--t-max", default="8ms", help="longest recoupling time without --compare (default 8ms)")
    p.add_argument("--powder", type=int, default=610, help="ZCW (alpha, beta) orientations (default 610)")
    p.add_argument("--gamma", type=int, default=16, help="gamma angles (default 16)")
    p.add_argument("--partner-couplings", action=argparse.BooleanOptionalAction, default=None,
                   help="couple the partners to each other (homonuclear ZZ + flip-flop, spinsim's coupled engine); "
                        "default: on while an observed atom's partner space has at most 36 states (two spin-5/2, "
                        "five spin-1/2), off (product model) beyond")
    p.add_argument("--compare", metavar="CURVE", help="measured curve: fit the bonded fraction of the prediction")
    p.add_argument("--time-unit", help="time unit of the --compare file when its header does not say (s, ms, us)")
    p.add_argument("--output", "-o", metavar="PATH",
                   help="CSV of the predicted curve (default: <stem>_structure.csv in the current directory)")
    p.add_argument("--json", metavar="PATH", help="also write the result as JSON ('-' for stdout)")
    p.add_argument("--plot", metavar="PATH", help="figure of the predicted curve(s), and the data with --compare")
    p.add_argument("--no-files", action="store_true", help="write no file")
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import structure as st
    from ._units import check_observed_spin_half

    paths = [Path(x) for x in args.structure]
    mas, _ = parse_frequency(args.mas, "--mas")
    cutoff, _ = parse_length(args.cutoff, "--cutoff")
    if not mas > 0:
        raise UserError(f"--mas {args.mas}: must be > 0 Hz")
    if not args.field > 0:
        raise UserError(f"--field {args.field:g}: must be > 0 T")
    if args.max_partners is not None and args.max_partners < 1:
        raise UserError(f"--max-partners {args.max_partners}: must be >= 1")
    if args.powder < 1 or args.gamma < 1:
        raise UserError(f"--powder {args.powder} --gamma {args.gamma}: both must be >= 1")
    try:
        from spinsim import get_isotope

        get_isotope(args.partner)
    except ValueError as exc:
        raise UserError(f"--partner: {exc}") from None
    plan = _plan(args, paths)
    times = _times(args, mas)
    results = [_predict(p, args, mas, cutoff, times) for p in paths]
    if args.compare and len(results) > 1:
        _rank(results)
    _write(args, plan, times, results)
    return 0


def _predict(path, args, mas, cutoff, times):
    """Partners, predicted curve, apparent two-spin reading (and --compare) of one structure."""
    from spinsim import make_powder

    from .. import structure as st
    from ._units import check_observed_spin_half

    struct = st.read_structure(path)
    observed = st.select_observed(struct.atoms, args.observe)
    symbols = struct.atoms.get_chemical_symbols()
    obs_iso = args.observe_isotope or st.OBSERVED_ISOTOPE.get(symbols[observed[0]])
    if obs_iso is None:
        raise UserError(f"--observe {args.observe}: no default isotope for {symbols[observed[0]]}; "
                        "name it with --observe-isotope")
    check_observed_spin_half(obs_iso, "--observe-isotope")
    systems, lines = [], []
    for i in observed:
        ps = st.find_partners(struct, i, obs_iso, args.partner, cutoff, args.max_partners)
        if not ps:
            raise UserError(f"{path}: atom {i} ({symbols[i]}) has no {args.partner} within {cutoff:g} A; "
                            "raise --cutoff")
        couple = args.partner_couplings if args.partner_couplings is not None else \
            st.couplings_affordable(ps, args.partner)
        lines.append((i, ps, couple and len(ps) > 1))
        systems.append(st.build_system(ps, obs_iso, args.partner, args.field, partner_couplings=couple))
    try:
        pred = st.predict_curve(systems, mas, times, powder=make_powder("zcw", args.powder, args.gamma))
    except ValueError as exc:
        raise UserError(f"{path}: {exc}") from None
    app = st.apparent_two_spin(times, pred, obs_iso, args.partner)
    result = _report(path, obs_iso, args, lines, times, pred, app, mas)
    if args.compare:
        result["compare"] = _compare(args.compare_curve, pred)
        if "warning" in result["compare"]:
            result["warnings"].append(result["compare"]["warning"])
    return result


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
    plan.json = plan.add(args.json, "--json")
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
    t_max, _ = parse_time(args.t_max, "--t-max")
    n = int(np.floor(t_max * mas / 2 + 1e-9))
    if n < 2:
        raise UserError(f"--t-max {args.t_max}: shorter than 4 rotor periods at --mas {mas:g} Hz")
    return np.arange(n + 1) * 2.0 / mas


def _report(path, obs_iso, args, lines, times, pred, app, mas):
    from .. import structure as st

    err = sys.stderr
    print(f"respdor structure: {path}, observed {obs_iso} ({len(lines)} atom(s)), partner {args.partner}, "
          f"MAS {mas:g} Hz, B0 {args.field:g} T, ideal REDOR pulses and ideal complete saturation", file=err)
    out = {"structure": str(path), "observed_isotope": obs_iso, "partner": args.partner, "sites": []}
    warnings = []
    for i, ps, coupled in lines:
        d_pp = st.partner_coupling_max_hz(ps, args.partner)
        if coupled:
            how = (f"partner-partner couplings included (up to {d_pp:.1f} Hz; spinsim coupled engine, "
                   "flip-flop terms propagated)")
        elif len(ps) > 1:
            how = f"product model: partner-partner couplings (up to {d_pp:.1f} Hz) left out (spinsim fast engine)"
            warnings.append(f"atom {i}: {how}; --partner-couplings includes them (slower)")
        else:
            how = "one partner (spinsim fast engine)"
        print(f"  atom {i}: {len(ps)} partner(s); {how}", file=err)
        for p in ps:
            src = "C_Q from EFG" if p.from_tensor else ""
            print(f"    atom {p.index:4d}  r = {p.distance_angstrom:.3f} A  D = {p.d_hz:.1f} Hz  {src}", file=err)
        out["sites"].append({"atom": i, "engine": "coupled" if coupled else "fast", "partner_couplings": coupled,
                             "partner_coupling_max_hz": d_pp, "partners": [
            {"atom": p.index, "distance_angstrom": p.distance_angstrom, "d_hz": p.d_hz, "cq_hz": p.cq_hz}
            for p in ps]})
    print(f"  apparent two-spin fit of the predicted curve: D = {app['coupling_hz']:.1f} Hz, "
          f"r = {app['distance_angstrom']:.3f} A, fraction = {app['fraction']:.3f}", file=err)
    out["apparent_two_spin"] = app
    out["t_s"] = [float(x) for x in times]
    out["dSS0_predicted"] = [float(x) for x in pred]
    out["warnings"] = warnings
    return out


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
    if f > 1:
        print("  warning: fitted fraction > 1: the structure predicts less dephasing than measured", file=sys.stderr)
        res["warning"] = "fitted fraction > 1: the structure predicts less dephasing than measured"
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
