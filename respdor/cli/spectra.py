"""CSA / PASS sub-commands: ``pass-timings``, ``csa-fit``, ``pass-process``, ``deconvolve``, ``integrate``.

Units: shifts in ppm; frequencies as bare numbers in Hz or with a unit (``8k``, ``8kHz``,
``88.75MHz``); the commands print which units they assumed. Ranges are two numbers
(``--noise-region 150 250``).

Outputs are written only where an option names them (relative names: the current directory),
all checked before the work starts (never an input file, never inside an input Bruker data
set) and written whole or not at all (:mod:`respdor.files`).
"""

from __future__ import annotations

import sys

from ..errors import UserError
from ..workload import add_allow_long
from ..units import finite_float, parse_frequency, parse_larmor, parse_time, plausible

def _add_outputs(p):
    p.add_argument("--json", metavar="FILE", help="result table as JSON")
    p.add_argument("--csv", metavar="FILE", help="result table as CSV")
    p.add_argument("--plot", metavar="FILE", help="figure (png, pdf or svg)")


def _add_larmor(p):
    g = p.add_argument_group("observe frequency (needed when the data do not carry it)")
    g.add_argument("--larmor", metavar="NU0", help="|Larmor frequency|, e.g. 88.75MHz (bare number: Hz; refused outside 1-1500 MHz)")
    g.add_argument("--nucleus", help="observed isotope, e.g. 113Cd (Bruker data: read from the data set)")
    g.add_argument("--field", type=finite_float, metavar="TESLA",
                   help="B0 in tesla, with --nucleus, instead of --larmor (nu0 = Xi x 1H frequency); "
                        "Bruker data: SFO1 is used and a disagreeing value is a warning")


def _add_processing(p):
    g = p.add_argument_group("processing of Bruker FIDs")
    g.add_argument("--phase", nargs="+", metavar="P",
                   help="'stored' (TopSpin PHC0/PHC1 from procs when valid, else automatic; default), 'auto', "
                        "or two numbers PHC0 PHC1 in degrees (TopSpin convention)")
    g.add_argument("--baseline-poly", type=int, metavar="ORDER",
                   help="subtract a polynomial of this order fitted to the signal-free points (default: none)")
    g.add_argument("--no-dc", action="store_true", help="keep the receiver DC offset (default: removed)")
    g.add_argument("--zero-fill", type=int, default=2, help="zero-fill factor (default 2)")
    g.add_argument("--lp-first", type=int, metavar="N",
                   help="replace the first N FID points by backward linear prediction (default: the leading "
                        "transient points when the FID starts with one, else none; 0: never)")


#: Options that act on a Bruker FID only (--baseline-poly also acts on a text spectrum).
_FID_OPTIONS = ("--lb", "--phase", "--no-dc", "--zero-fill", "--lp-first")


def _fid_option_rules():
    """Processing options have no effect on a text spectrum or a manifold: refused there, not ignored."""
    from pathlib import Path

    from . import OptionRule

    def bruker(args):
        inputs = [args.input] + ([args.compare] if getattr(args, "compare", None) else [])
        return any(Path(i).is_dir() for i in inputs) and getattr(args, "spectrum", True)

    return [OptionRule(o, bruker, "on a text spectrum or a sideband manifold (it processes Bruker FIDs only)")
            for o in _FID_OPTIONS]


def _phase_arg(args):
    ph = getattr(args, "phase", None)
    if not ph:
        return "stored"
    if len(ph) == 1 and ph[0] in ("stored", "auto"):
        return ph[0]
    if len(ph) != 2:
        raise UserError(f"--phase: give 'stored', 'auto' or two numbers PHC0 PHC1, got {' '.join(ph)}")
    try:
        return (float(ph[0]), float(ph[1]))
    except ValueError:
        raise UserError(f"--phase: PHC0 PHC1 must be numbers (degrees), got {' '.join(ph)}") from None


def _warn(msg, sink):
    """A result the user must not miss: stderr, and the JSON result's warnings list."""
    print(f"WARNING: {msg}", file=sys.stderr)
    sink.append(msg)


def register(subparsers):
    p = subparsers.add_parser(
        "pass-timings",
        help="five-pi-pulse PASS timings for N pitch increments",
        description="Solve the PASS timing equations (Antzutkin, Shekar & Levitt 1995; docs/physics.md §5) for N pitch "
        "increments and print the pulse centres as fractions of the rotor period (and in us with --mas).",
    )
    p.add_argument("-n", "--n-pitch", type=int, default=16, help="number of pitch increments N (default 16)")
    p.add_argument("--mas", help="spinning rate, e.g. 8k or 8000 (Hz) to print times in us")
    p.add_argument("--pulse", help="pi-pulse length, e.g. 5us, checked against the closest pulse spacing")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--csv", metavar="FILE")
    p.set_defaults(func=run_pass_timings)

    p = subparsers.add_parser(
        "csa-fit",
        help="fit CSA (span, skew) to a sideband manifold or to a 1D MAS spectrum",
        description="Fit a sideband manifold (CSV with columns order,intensity[,sigma]) or, with --spectrum, a "
        "1D MAS spectrum (text ppm,intensity or a Bruker experiment directory) with one CSA site per --sites "
        "value. Reports span/skew (Herzfeld-Berger) and zeta/eta (Haeberlen, zeta = delta_zz - delta_iso), "
        "flags the span/skew degeneracy.",
    )
    p.add_argument("input", help="manifold CSV, or spectrum (text file or Bruker directory) with --spectrum")
    p.add_argument("--spectrum", action="store_true", help="input is a 1D MAS spectrum, not a manifold")
    p.add_argument("--mas", help="spinning rate, e.g. 8k (bare number: Hz); required for a manifold; for a spectrum "
                   "default: from the sideband spacing (refused when the sidebands do not show it)")
    _add_larmor(p)
    _add_processing(p)
    p.add_argument("--sites", type=finite_float, nargs="+", metavar="PPM", help="isotropic shifts of the sites (--spectrum)")
    p.add_argument("--span", type=finite_float, nargs="+", metavar="PPM", help="starting spans, one per site (ppm)")
    p.add_argument("--fwhm", type=finite_float, help="starting line width in ppm (--spectrum; default: the half-maximum "
                   "width of the line at each site, measured on the spectrum)")
    p.add_argument("--noise-region", type=finite_float, nargs=2, metavar=("LO", "HI"), help="signal-free ppm range")
    p.add_argument("--lb", type=finite_float, default=0.0, help="line broadening in Hz for Bruker FIDs (default 0)")
    p.add_argument("--starts", type=int, default=3, help="starting spans per site and skew sign, 1-5 (default 3)")
    _add_outputs(p)
    p.set_defaults(func=run_csa_fit)
    from . import OptionRule, declare_option_rules

    declare_option_rules(p, [OptionRule.needs(o, "--spectrum", advice="a sideband manifold is fitted as it is")
                             for o in ("--sites", "--fwhm", "--noise-region", "--starts", "--baseline-poly")]
                        + _fid_option_rules())

    p = subparsers.add_parser(
        "pass-process",
        help="2D PASS: separate sideband orders, isotropic spectrum, per-site CSA fits",
        description="Process a 2D PASS data set (Bruker experiment directory with ser; rows = pitch increments "
        "Theta_j = 2 pi j/N): pitch FT, shear, t2 FT, isotropic spectrum = sum of orders; deconvolve it into "
        "the --sites and fit each site's sideband manifold.",
    )
    p.add_argument("input", help="Bruker experiment directory (ser, acqus, acqu2s)")
    p.add_argument("--sites", type=finite_float, nargs="+", metavar="PPM", help="starting isotropic shifts (default: peak picking)")
    p.add_argument("--noise-region", type=finite_float, nargs=2, required=True, metavar=("LO", "HI"), help="signal-free ppm range")
    p.add_argument("--fit-region", type=finite_float, nargs=2, metavar=("LO", "HI"), help="ppm range of the deconvolution")
    p.add_argument("--mas", help="spinning rate, e.g. 8k (default: acqus MASR, with a warning)")
    p.add_argument("--fwhm", type=finite_float, help="starting line width in ppm of the isotropic deconvolution "
                   "(default: the half-maximum width of the line at each site, measured on the spectrum)")
    p.add_argument("--shape", default="gaussian", choices=["gaussian", "lorentzian", "voigt"])
    p.add_argument("--lb", type=finite_float, default=0.0, help="line broadening in Hz (default 0)")
    p.add_argument("--max-order", type=int, help="highest |k| used in the CSA fits")
    p.add_argument("--sign", type=int, choices=[1, -1], help="order sign (default: detected from the data)")
    _add_outputs(p)
    p.set_defaults(func=run_pass_process)

    p = subparsers.add_parser(
        "deconvolve",
        help="deconvolve a 1D (isotropic) spectrum into sites; compare two samples",
        description="Fit one line per --sites value (Gaussian, Lorentzian or pseudo-Voigt) to a spectrum (text "
        "ppm,intensity or Bruker directory): centres, widths, areas and relative populations with errors. With "
        "--compare, fit a second sample with the same sites and report each site's area normalised to the "
        "--reference site (core at -50 ppm by default) in both, and the change.",
    )
    p.add_argument("input", help="spectrum: text file (ppm, intensity) or Bruker experiment directory")
    p.add_argument("--sites", type=finite_float, nargs="+", required=True, metavar="PPM")
    p.add_argument("--shape", default="gaussian", choices=["gaussian", "lorentzian", "voigt"])
    p.add_argument("--fwhm", type=finite_float, help="starting width in ppm (default: the half-maximum width of the "
                   "line at each site, measured on the spectrum)")
    p.add_argument("--noise-region", type=finite_float, nargs=2, metavar=("LO", "HI"), help="signal-free ppm range")
    p.add_argument("--fit-region", type=finite_float, nargs=2, metavar=("LO", "HI"))
    p.add_argument("--baseline", default="none", choices=["none", "constant", "linear"])
    p.add_argument("--compare", metavar="SPECTRUM", help="second sample (same format)")
    add_allow_long(p)
    p.add_argument("--reference", type=finite_float, default=-50.0, help="reference site for --compare (ppm, default -50)")
    p.add_argument("--lb", type=finite_float, default=0.0, help="line broadening in Hz for Bruker FIDs")
    p.add_argument("--nucleus", help="axis label for text spectra (Bruker data: from the data set)")
    _add_processing(p)
    _add_outputs(p)
    p.set_defaults(func=run_deconvolve)
    from . import OptionRule, declare_option_rules

    declare_option_rules(p, [OptionRule.needs("--reference", "--compare")] + _fid_option_rules())

    p = subparsers.add_parser(
        "integrate",
        help="pseudo-2D REDOR/RESPDOR series (interleaved S0/S1) -> curve CSV for `respdor fit`",
        description="Integrate each row of an interleaved S0/S1 pseudo-2D Bruker series over a ppm region, "
        "estimate the noise of each integral from a signal-free region, and write t_s,S0,S1,sigma_S0,sigma_S1. "
        "t = vclist count x --periods-per-count / MAS rate.",
    )
    p.add_argument("input", help="Bruker experiment directory (ser, acqus, acqu2s, vclist)")
    p.add_argument("--region", type=finite_float, nargs=2, required=True, metavar=("LO", "HI"), help="integration range (ppm)")
    p.add_argument("--noise-region", type=finite_float, nargs=2, required=True, metavar=("LO", "HI"))
    p.add_argument("--mas", required=True, help="spinning rate, e.g. 10k (bare number: Hz); MASR is not trusted")
    p.add_argument("--periods-per-count", type=finite_float, required=True,
                   help="rotor periods of recoupling per vclist count (from the pulse program)")
    p.add_argument("--vclist", help="vclist file (default: <input>/vclist)")
    p.add_argument("--order", default="s0s1", choices=["s0s1", "s1s0"], help="row order within a pair")
    p.add_argument("--lb", type=finite_float, default=0.0, help="line broadening in Hz")
    p.add_argument("--cpmg", choices=["sum", "spikelet"],
                   help="rows are CPMG echo trains: sum the echoes before FT, or make spikelet spectra")
    p.add_argument("--echo-period", metavar="TIME", help="CPMG echo period, e.g. 1ms (default: from the pulse program)")
    p.add_argument("--n-echoes", type=int, help="CPMG echoes to use (default: from the pulse program)")
    p.add_argument("-o", "--output", required=True, help="curve CSV to write")
    p.set_defaults(func=run_integrate)
    from . import OptionRule, declare_option_rules

    declare_option_rules(p, [OptionRule.needs(o, "--cpmg", advice="give --cpmg sum or --cpmg spikelet")
                             for o in ("--echo-period", "--n-echoes")])


# ---------------------------------------------------------------------------------------------


def _freq(text, option):
    value, explicit = parse_frequency(text, option)
    if value <= 0:
        raise UserError(f"{option}: must be > 0, got {text!r}")
    if not explicit:
        print(f"{option} {text}: read as Hz")
    if option in _PLAUSIBLE:  # a rate no rotor reaches (a kHz/MHz slip) is refused before any work
        plausible(_PLAUSIBLE[option], value, option, text)
    return value


#: Frequency options with a plausible range in spinsim.plausibility.
_PLAUSIBLE = {"--mas": "mas_rate"}


def _larmor(args, data_hz=None, data_nucleus=None, warnings=None, data_nucleus_inferred=False):
    from ..spectra.inputs import resolve_larmor

    given = None
    if args.larmor:
        given, explicit = parse_larmor(args.larmor, "--larmor")
        if not explicit:
            print(f"--larmor {args.larmor}: read as Hz")
    if args.field is not None and not 0 < args.field <= 100:
        from ..spectra.referencing import GAMMA_PROTON_SHIELDED_HZ_PER_T

        hint = (f"; {args.field:g} looks like a 1H frequency in MHz: that magnet is --field "
                f"{args.field * 1e6 / GAMMA_PROTON_SHIELDED_HZ_PER_T:.2f}" if 100 < args.field <= 1500 else "")
        raise UserError(f"--field {args.field:g}: B0 must lie in (0, 100] T{hint}")
    hz, source, warn = resolve_larmor(data_hz, given, args.field, args.nucleus, data_nucleus, data_nucleus_inferred)
    for w in warn:
        _warn(w, warnings if warnings is not None else [])
    print(f"observe frequency {hz / 1e6:.6f} MHz ({source})")
    return hz


def _check_noise(args, ppm, y, sites, warnings, where):
    """--noise-region on signal (a line, a sideband, a given site): refused; a little signal: a warning."""
    from ..spectra.inputs import check_noise_region

    if getattr(args, "noise_region", None):
        for w in check_noise_region(ppm, y, args.noise_region, sites=sites or (), where=where):
            _warn(w, warnings)


def _check_values(args):
    """Values no experiment can have, refused before any work: line widths <= 0, empty ranges,
    zero or negative rotor periods per count."""
    fwhm = getattr(args, "fwhm", None)
    if fwhm is not None and not fwhm > 0:
        raise UserError(f"--fwhm {fwhm:g}: a line width must be > 0 ppm")
    for option in ("region", "noise_region", "fit_region"):
        rng = getattr(args, option, None)
        if rng is not None and rng[0] == rng[1]:
            flag = "--" + option.replace("_", "-")
            raise UserError(f"{flag} {rng[0]:g} {rng[1]:g}: an empty range; give two different ppm values")
    sites = getattr(args, "sites", None) or []
    repeated = sorted({s for s in sites if sites.count(s) > 1})
    if repeated:  # two lines started on one place fit one line twice (one of them anywhere)
        raise UserError(f"--sites: {', '.join(f'{s:g}' for s in repeated)} ppm given twice; give each site once")
    ppc = getattr(args, "periods_per_count", None)
    if ppc is not None and not ppc > 0:
        raise UserError(f"--periods-per-count {ppc:g}: must be > 0 (rotor periods of recoupling per vclist count)")


def _plan(args, inputs, csv_option="--csv"):
    """Check the values, then plan and check every output of the command before any work (see
    :mod:`respdor.files`)."""
    from ..files import OutputPlan

    _check_values(args)
    plan = OutputPlan(inputs=inputs)
    plan.json = plan.add(getattr(args, "json", None), "--json")
    plan.csv = plan.add(getattr(args, "csv", None) or getattr(args, "output", None), csv_option)
    plan.figure = plan.add(getattr(args, "plot", None), "--plot", "figure")
    plan.check()
    return plan


def _figure(plan, draw, *a, **kw):
    """Draw a figure with ``draw(..., path)`` into the planned --plot path, atomically."""
    with plan.writing(plan.figure) as tmp:
        if tmp is not None:
            draw(*a, tmp, **kw)
            print(f"wrote {plan.figure}")


def _outputs(plan, rows, payload):
    from ..spectra.textio import json_text, table_csv_text

    if plan.json is not None:
        plan.write_text(plan.json, json_text(payload))
        print(f"wrote {plan.json}")
    if plan.csv is not None:
        plan.write_text(plan.csv, table_csv_text(rows))
        print(f"wrote {plan.csv}")


def _load_spectrum(path, args):
    """Spectrum1D from a text file or a Bruker directory, processed as the options say."""
    from ..spectra.inputs import load_spectrum

    if getattr(args, "zero_fill", 2) < 1:
        raise UserError(f"--zero-fill must be >= 1, got {args.zero_fill}")
    lp = getattr(args, "lp_first", None)
    if lp is not None and lp < 0:
        raise UserError(f"--lp-first must be >= 0, got {lp}")
    return load_spectrum(path, lb_hz=args.lb, phase=_phase_arg(args), baseline_order=getattr(args, "baseline_poly", None),
                         dc=not getattr(args, "no_dc", False), zero_fill=getattr(args, "zero_fill", 2), lp_first=lp)


def _check_mas(freq_hz, y, given_hz, recorded_hz, warnings, what):
    """MAS rate to use, checked against MASR and the sideband spacing; prints the evidence."""
    from ..spectra.mas import check_mas_rate

    c = check_mas_rate(freq_hz, y, given_hz=given_hz, recorded_hz=recorded_hz, what=what)
    print(f"MAS rate {c.rate_hz:.0f} Hz ({c.source}); evidence: {c.evidence()}")
    for n in c.notes:
        print("note:", n)
    for w in c.warnings:
        _warn(w, warnings)
    return c


def run_pass_timings(args) -> int:
    from spinsim.pass_timing import pass_timings

    from ..spectra.textio import format_rows

    if not 1 <= args.n_pitch <= 1024:  # PASS uses 8-64 increments; 1e8 would run for hours
        raise UserError(f"--n-pitch must lie in 1..1024, got {args.n_pitch}")
    plan = _plan(args, [])
    t = pass_timings(args.n_pitch)
    mas = _freq(args.mas, "--mas") if args.mas else None
    rows = []
    for j in range(t.n_pitch):
        r = dict(j=j, pitch_over_2pi=t.pitch[j] / (2 * 3.141592653589793))
        for q in range(5):
            r[f"t{q + 1}_over_tr"] = t.fractions[j, q]
        if mas:
            for q in range(5):
                r[f"t{q + 1}_us"] = t.fractions[j, q] / mas * 1e6
        r["min_gap_over_tr"] = t.min_gap[j]
        r["residual"] = t.residual[j]
        rows.append(r)
    cols = [("j", "j", "d"), ("pitch_over_2pi", "Theta/2pi", ".4f")]
    cols += [(f"t{q}_over_tr", f"t{q}/tr", ".4f") for q in range(1, 6)]
    if mas:
        cols += [(f"t{q}_us", f"t{q} (us)", ".2f") for q in range(1, 6)]
    cols += [("min_gap_over_tr", "min gap/tr", ".4f")]
    for r in rows:
        r["j"] = float(r["j"])
    print(format_rows(rows, [(k, h, ".0f" if k == "j" else f) for k, h, f in cols],
                      title=f"PASS pulse centres, N = {t.n_pitch} (pulse centres; coherence +1 before pulse 1)"))
    print(f"largest residual of the timing equations: {t.residual.max():.1e} rad")
    if args.pulse:
        if not mas:
            raise UserError("--pulse needs --mas")
        length, explicit = parse_time(args.pulse, "--pulse", default_unit="us")
        if not explicit:
            print(f"--pulse {args.pulse}: read as us")
        try:
            t.check_pulse_length(mas, length)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        print(f"pi pulses of {length * 1e6:.2f} us fit (closest centres {t.min_gap.min() / mas * 1e6:.2f} us apart)")
    _outputs(plan, rows, dict(n_pitch=t.n_pitch, mas_hz=mas, rows=rows))
    return 0


def _print_manifold_fit(f):
    print(f"span  = {f.text('span')} ppm     skew = {f.text('skew')}")
    from ..spectra.csa_fit import format_estimate

    # zeta/eta errors come from the covariance; where span/skew needed the profile there are none.
    print(f"zeta  = {format_estimate(f.zeta, f.zeta_err, fmt='.1f')} ppm     eta  = "
          f"{format_estimate(f.eta, f.eta_err, fmt='.3f')}  (Haeberlen, zeta = delta_zz - delta_iso; mrsimulator zeta = -zeta)")
    print(f"amplitude = {f.amplitude:.5g} +- {f.amplitude_err:.2g}   chi2 = {f.chisqr:.3g}")
    for n in f.notes:
        print("note:", n)


def run_csa_fit(args) -> int:
    from ..spectra.textio import format_rows

    plan = _plan(args, [args.input])
    warnings = []
    if not args.spectrum:
        from ..spectra.csa_fit import fit_manifold
        from ..spectra.textio import read_manifold_csv

        if not args.mas:
            raise UserError("--mas is required for a sideband manifold (the manifold carries no rate)")
        mas = _freq(args.mas, "--mas")
        k, y, s = read_manifold_csv(args.input)
        larmor = _larmor(args, warnings=warnings)
        print(f"observe |nu0| = {larmor / 1e6:.4f} MHz, MAS {mas:g} Hz; shifts in ppm")
        if s is None:
            print("note: no sigma column: uncertainties from the fit residual")
        f = fit_manifold(k, y, larmor, mas, sigma=s, span0=args.span[0] if args.span else None)
        _print_manifold_fit(f)
        if plan.figure is not None:
            from ..spectra.plot import plot_manifold_fit

            _figure(plan, plot_manifold_fit, k, y, s, f)
        d = f.as_dict()
        _outputs(plan, [d], dict(mas_hz=mas, larmor_hz=larmor, fit=d, warnings=warnings))
        return 0
    from ..spectra.csa_fit import START_SPAN_FACTORS, fit_mas_spectrum

    if not args.sites:
        raise UserError("--spectrum needs --sites (isotropic shifts in ppm)")
    if not 1 <= args.starts <= len(START_SPAN_FACTORS):  # more would silently be the same run
        raise UserError(f"--starts must lie in 1..{len(START_SPAN_FACTORS)} (starting spans "
                        f"{', '.join(f'{f:g}' for f in START_SPAN_FACTORS)} x the moment estimate), got {args.starts}")
    sp = _load_spectrum(args.input, args)
    for n in sp.notes:
        print("note:", n)
    larmor = _larmor(args, sp.larmor_hz, sp.nucleus, warnings, sp.nucleus_inferred)
    given = _freq(args.mas, "--mas") if args.mas else None
    mc = _check_mas(sp.freq_axis(larmor), sp.y, given, sp.mas_recorded_hz, warnings, f"spectrum {args.input}")
    mas = mc.rate_hz
    _check_noise(args, sp.ppm, sp.y, args.sites, warnings, f"spectrum {args.input}")
    spans = args.span or [None] * len(args.sites)
    if len(spans) != len(args.sites):
        raise UserError(f"--span has {len(spans)} values for {len(args.sites)} sites")
    sites = [dict(delta_iso=c, **({"fwhm": args.fwhm} if args.fwhm is not None else {}),
                  **({"span": sp_} if sp_ is not None else {})) for c, sp_ in zip(args.sites, spans)]
    r = fit_mas_spectrum(sp.ppm, sp.y, sites, larmor, mas, noise_region=args.noise_region, n_starts=args.starts)
    from ..spectra.csa_fit import site_text

    # delta_iso, span, skew as text: "+- err" (covariance), "[lo, hi]" or "(> lo, upper hi)" (profile).
    shown = [dict(row, **{k + "_txt": site_text(row, k) for k in ("delta_iso", "span", "skew", "fwhm")}) for row in r.sites]
    cols = [("delta_iso_txt", "delta_iso", ""), ("span_txt", "span", ""), ("skew_txt", "skew", ""),
            ("zeta", "zeta", ".1f"), ("eta", "eta", ".3f"), ("fwhm_txt", "fwhm", ""),
            ("fraction", "fraction", ".4f"), ("n_sidebands", "n_sb", ".0f"), ("status", "status", "")]
    print(format_rows(shown, cols, title=f"CSA sites (ppm), MAS {mas:g} Hz, |nu0| {larmor / 1e6:.4f} MHz"))
    for n in r.notes:
        print("note:", n)
    for w in r.warnings:
        _warn(w, warnings)
    if plan.figure is not None:
        from ..spectra.plot import plot_mas_fit

        _figure(plan, plot_mas_fit, r, nucleus=sp.nucleus or args.nucleus)
    _outputs(plan, r.sites, dict(mas_hz=mas, mas_source=mc.source, mas_evidence=mc.evidence(), larmor_hz=larmor,
                                 nucleus=sp.nucleus or args.nucleus, sites=r.sites, notes=r.notes + sp.notes,
                                 warnings=warnings))
    return 0


def run_pass_process(args) -> int:
    from ..spectra.bruker import read_bruker
    from ..spectra.pass_processing import analyse_pass
    from ..spectra.textio import format_rows

    from ..spectra.bruker import check_pass_dataset
    from ..spectra.processing import autophase, apply_phase

    plan = _plan(args, [args.input])
    ds = read_bruker(args.input)
    for n in ds.notes:
        print("note:", n)
    check_pass_dataset(ds)
    warnings = []
    _check_noise(args, [], [], args.sites, warnings, "")  # a given site inside the region: before the work
    # Row 0 (pitch 0) is an ordinary MAS spectrum with all its sidebands: the rate is checked there.
    from ..spectra.processing import spectrum_1d

    f0, s0 = spectrum_1d(ds.data[0], ds.dwell_s, lb_hz=max(args.lb, 0.0), zero_fill=2, phase0_deg=0.0)
    s0 = apply_phase(s0, *autophase(s0)).real
    mc = _check_mas(f0, s0, _freq(args.mas, "--mas") if args.mas else None, ds.mas_hz_recorded, warnings,
                    "first PASS row (pitch 0)")
    mas = mc.rate_hz
    ref_hz = ds.reference_mhz * 1e6
    carrier_ppm = (ds.sfo1_mhz - ds.reference_mhz) / ds.reference_mhz * 1e6
    sites = args.sites
    if not sites:
        from scipy.signal import find_peaks

        from ..spectra.pass_processing import process_pass

        sp = process_pass(ds.data, ds.sw_hz, mas, ref_hz, carrier_ppm, args.lb, 1, args.sign)
        idx, _ = find_peaks(sp.isotropic, prominence=0.05 * sp.isotropic.max(), distance=5)
        sites = list(sp.ppm[idx])
        print("sites from peak picking (ppm): " + ", ".join(f"{s:.1f}" for s in sites))
    a = analyse_pass(ds.data, ds.sw_hz, mas, ref_hz, carrier_ppm, sites, tuple(args.noise_region), fwhm=args.fwhm,
                     shape=args.shape, lb_hz=args.lb, fit_region=args.fit_region, max_order=args.max_order,
                     sign=args.sign)
    for n in a.spectra.notes + a.deconvolution.notes:
        print("note:", n)
    # The noise is measured on the order spectra, whose lines sit at the isotropic shifts.
    _check_noise(args, a.spectra.ppm, a.spectra.isotropic, sites, warnings, "the isotropic spectrum")
    rows = a.table()
    # span/skew as text: a profile-likelihood interval where the covariance was not trusted.
    shown = [dict(r, span_txt=f.text("span"), skew_txt=f.text("skew")) for r, f in zip(rows, a.csa_fits)]
    cols = [("delta_iso", "delta_iso", ".2f"), ("fwhm", "fwhm", ".1f"), ("population", "population", ".4f"),
            ("span_txt", "span", ""), ("skew_txt", "skew", ""), ("zeta", "zeta", ".1f"), ("eta", "eta", ".3f"),
            ("degenerate", "degenerate", "")]
    print(format_rows(shown, cols, title=f"{ds.nucleus} PASS sites (ppm), N = {ds.data.shape[0]}, MAS {mas:g} Hz; "
                                        "populations from the isotropic (sum of orders) spectrum"))
    for i, f in enumerate(a.csa_fits):
        for n in f.notes:
            print(f"site {i + 1} note:", n)
    if plan.figure is not None:
        from ..spectra.plot import plot_pass

        _figure(plan, plot_pass, a, nucleus=ds.nucleus)
    manifolds = [dict(center=m.center, orders=m.orders.tolist(), intensities=m.intensities.tolist(),
                      sigma=m.sigma.tolist()) for m in a.manifolds]
    _outputs(plan, rows, dict(input=str(args.input), nucleus=ds.nucleus, mas_hz=mas, mas_source=mc.source,
                              sign=a.spectra.sign, sites=rows, manifolds=manifolds, notes=ds.notes + a.spectra.notes,
                              csa_fits=[f.as_dict() for f in a.csa_fits], warnings=warnings))
    return 0


def run_deconvolve(args) -> int:
    from ..spectra.deconvolution import compare_samples, deconvolve
    from ..spectra.textio import format_rows

    cols = [("center", "center", ".2f"), ("fwhm", "fwhm", ".2f"), ("area", "area", ".4g"), ("fraction", "fraction", ".4f")]

    nuclei = []

    def fit(path):
        sp = _load_spectrum(path, args)
        for n in sp.notes:
            print("note:", n)
        from ..spectra.inputs import check_nucleus

        for w in check_nucleus(args.nucleus, sp.nucleus, sp.nucleus_inferred):
            _warn(w, warnings)
        nuclei.append(sp.nucleus)
        x, y = sp.ppm, sp.y
        _check_noise(args, x, y, args.sites, warnings, f"spectrum {path}")
        try:
            r = deconvolve(x, y, args.sites, fwhm=args.fwhm, shape=args.shape,
                           noise_region=tuple(args.noise_region) if args.noise_region else None,
                           fit_region=tuple(args.fit_region) if args.fit_region else None, baseline=args.baseline,
                           allow_long=args.allow_long)
        except ZeroDivisionError:  # the populations a_i / sum(a) with every fitted area zero
            raise UserError(f"{path}: every fitted area is zero: no signal at --sites "
                            f"{' '.join(f'{c:g}' for c in args.sites)} ppm") from None
        print(format_rows(r.table(), cols + [("status", "status", "")],
                          title=f"{path}: sites (ppm), shape {args.shape}, reduced chi2 {r.redchi:.3g}"))
        for n in r.notes:
            print("note:", n)
        for w in r.warnings:
            _warn(w, warnings)
        return r

    plan = _plan(args, [args.input, args.compare])
    warnings = []

    r1 = fit(args.input)
    payload = dict(input=str(args.input), sites=r1.table(), warnings=warnings)
    rows = r1.table()
    if args.compare:
        r2 = fit(args.compare)
        cmp_rows = compare_samples(r1, r2, reference_ppm=args.reference)
        print(format_rows(cmp_rows, [("center", "center", ".1f"), ("norm_before", "area/ref (1)", ".4f"),
                                     ("norm_after", "area/ref (2)", ".4f"), ("change", "ratio 2/1", ".3f")],
                          title=f"areas normalised to the site at {args.reference:g} ppm"))
        payload.update(compare=str(args.compare), compare_sites=r2.table(), comparison=cmp_rows)
        rows = cmp_rows
    if plan.figure is not None:
        from ..spectra.plot import plot_deconvolution

        _figure(plan, plot_deconvolution, r1, nucleus=nuclei[0] or args.nucleus, title=str(args.input))
    _outputs(plan, rows, payload)
    return 0


def run_integrate(args) -> int:
    from ..spectra.series import curve_csv_text, integrate_series

    mas = _freq(args.mas, "--mas")
    plan = _plan(args, [args.input, args.vclist], csv_option="--output")
    echo = None
    if args.echo_period:
        echo, explicit = parse_time(args.echo_period, "--echo-period", default_unit="us")
        if not explicit:
            print(f"--echo-period {args.echo_period}: read as us")
        if not args.cpmg:
            raise UserError("--echo-period needs --cpmg sum or --cpmg spikelet")
    warnings = []
    curve, notes = integrate_series(args.input, tuple(args.region), tuple(args.noise_region), mas,
                                    periods_per_count=args.periods_per_count, vclist_path=args.vclist,
                                    order=args.order, lb_hz=args.lb, cpmg=args.cpmg, echo_period_s=echo,
                                    n_echoes=args.n_echoes, warnings=warnings)
    from ..spectra.bruker import read_bruker
    from ..spectra.series import series_nuclei

    ds = read_bruker(args.input)
    rec = ds.mas_hz_recorded
    if rec and abs(rec - mas) > 0.01 * mas:
        _warn(f"--mas {mas:g} Hz disagrees with acqus MASR = {rec:g} Hz ({args.input}); the recoupling times use "
              f"--mas (a pseudo-2D series has no sidebands to arbitrate: check the spinning rate)", [])
    for n in notes:
        print("note:", n)
    for w in warnings:
        _warn(w, [])
    print(f"{'t (ms)':>9} {'S0':>12} {'S1':>12} {'dS/S0':>8} {'sigma':>7}")
    for t, s0, s1, d, s in zip(curve.time_s, curve.s0, curve.s1, curve.dss0, curve.sigma):
        print(f"{t * 1e3:9.4f} {s0:12.5g} {s1:12.5g} {d:8.4f} {s:7.4f}")
    # The file and the hint carry the nuclei: `respdor fit` otherwise assumes 13C{27Al}.
    observe, partner = series_nuclei(ds)
    plan.write_text(plan.csv, curve_csv_text(curve, observe, partner))
    hint = f"respdor fit {args.output} --observe {observe}" + (f" --partner {partner}" if partner else
                                                                " (the data set does not name the recoupled "
                                                                "nucleus: add --partner unless it is 27Al)")
    print(f"wrote {args.output} (t_s in seconds; observed {observe}); fit it with: {hint}")
    return 0
