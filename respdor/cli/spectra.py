"""CSA / PASS sub-commands: ``pass-timings``, ``csa-fit``, ``pass-process``, ``deconvolve``, ``integrate``.

Units: shifts in ppm; frequencies as bare numbers in Hz or with a unit (``8k``, ``8kHz``,
``88.75MHz``); the commands print which units they assumed. Ranges are two numbers
(``--noise-region 150 250``).

Outputs are written only where an option names them (relative names: the current directory),
all checked before the work starts (never an input file, never inside an input Bruker data
set) and written whole or not at all (:mod:`respdor.files`).
"""

from __future__ import annotations

import contextlib

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


def register(subparsers):
    for add in (_add_pass_timings, _add_csa_fit, _add_pass_process, _add_deconvolve, _add_integrate):
        p = add(subparsers)
        p.set_defaults(_option_names=OPTION_NAMES)


def _add_pass_timings(subparsers):
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
    return p


def _add_csa_fit(subparsers):
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
    return p


def _add_pass_process(subparsers):
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
    return p


def _add_deconvolve(subparsers):
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
    return p


def _add_integrate(subparsers):
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
    return p

#: The Python parameters of :mod:`respdor.jobs.spectra` and the options that give them: library
#: messages name the parameters, the command line shows them as options (:func:`in_option_words`).
OPTION_NAMES = {
    "mas_rate_hz": "--mas", "larmor_hz": "--larmor", "field_t": "--field", "observed_nucleus": "--nucleus",
    "sites_ppm": "--sites", "span_ppm": "--span", "fwhm_ppm": "--fwhm", "noise_region_ppm": "--noise-region",
    "fit_region_ppm": "--fit-region", "region_ppm": "--region", "n_starts": "--starts", "lb_hz": "--lb",
    "zero_fill": "--zero-fill", "lp_first": "--lp-first", "baseline_order": "--baseline-poly",
    "periods_per_count": "--periods-per-count", "vclist_path": "--vclist", "row_order": "--order", "cpmg": "--cpmg",
    "echo_period_s": "--echo-period", "n_echoes": "--n-echoes", "n_pitch": "--n-pitch", "pulse_s": "--pulse",
    "max_order": "--max-order", "reference_ppm": "--reference", "compare_path": "--compare",
    "allow_long": "--allow-long",
}


def _words(text):
    from . import in_option_words

    return in_option_words(str(text), OPTION_NAMES)


def _say(warnings):
    """The result's warnings, one line each on stderr, in the command's words."""
    from . import say_warning

    for w in warnings:
        say_warning(_words(w), prefix="WARNING: ")


@contextlib.contextmanager
def _calling():
    """Run a library call: the warnings it raises are printed by the command from the result (in its
    words), not again at the end; when the call fails, those raised before the failure are said first."""
    import warnings

    from ..errors import RespdorWarning

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RespdorWarning)
            try:
                yield
            except BaseException:
                _say([str(w.message) for w in caught if issubclass(w.category, RespdorWarning)])
                raise
    finally:
        for w in caught:  # others (numpy, scipy, lmfit) go on to the command's own report
            if not issubclass(w.category, RespdorWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


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


def _larmor_arg(args):
    """--larmor in Hz (None when not given), said when read as Hz."""
    if not args.larmor:
        return None
    given, explicit = parse_larmor(args.larmor, "--larmor")
    if not explicit:
        print(f"--larmor {args.larmor}: read as Hz")
    return given


def _check_values(args):
    """Values no experiment can have, refused before any work (and before the outputs are checked)."""
    from ..jobs.spectra import check_values

    check_values(fwhm_ppm=getattr(args, "fwhm", None), region_ppm=getattr(args, "region", None),
                 noise_region_ppm=getattr(args, "noise_region", None),
                 fit_region_ppm=getattr(args, "fit_region", None), sites_ppm=getattr(args, "sites", None),
                 periods_per_count=getattr(args, "periods_per_count", None))


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


def _outputs(plan, result):
    """--json (the result's JSON, its warnings in the command's words) and --csv."""
    from ..resultio import json_text, table_csv_text

    if plan.json is not None:
        payload = result.to_dict()
        for key in ("warnings", "notes"):  # in the command's words
            if key in payload:
                payload[key] = [_words(w) for w in payload[key]]
        plan.write_text(plan.json, json_text(payload))
        print(f"wrote {plan.json}")
    if plan.csv is not None:
        plan.write_text(plan.csv, table_csv_text(result.csv_rows()))
        print(f"wrote {plan.csv}")


def _processing(args):
    """The FID processing options as keyword arguments of the spectra jobs."""
    return dict(lb_hz=args.lb, phase=_phase_arg(args), baseline_order=getattr(args, "baseline_poly", None),
                dc=not getattr(args, "no_dc", False), zero_fill=getattr(args, "zero_fill", 2),
                lp_first=getattr(args, "lp_first", None))


def _print_mas(c):
    print(f"MAS rate {c.rate_hz:.0f} Hz ({c.source}); evidence: {c.evidence()}")
    for n in c.notes:
        print("note:", _words(n))


def run_pass_timings(args) -> int:
    from ..jobs.spectra import pass_timings
    from ..spectra.textio import format_rows

    plan = _plan(args, [])
    mas = _freq(args.mas, "--mas") if args.mas else None
    length = None
    if args.pulse:
        length, explicit = parse_time(args.pulse, "--pulse", default_unit="us")
        if not explicit:
            print(f"--pulse {args.pulse}: read as us")
    with _calling():
        r = pass_timings(args.n_pitch, mas_rate_hz=mas, pulse_s=length, progress=False)
    t = r.timings
    cols = [("j", "j", ".0f"), ("pitch_over_2pi", "Theta/2pi", ".4f")]
    cols += [(f"t{q}_over_tr", f"t{q}/tr", ".4f") for q in range(1, 6)]
    if mas:
        cols += [(f"t{q}_us", f"t{q} (us)", ".2f") for q in range(1, 6)]
    cols += [("min_gap_over_tr", "min gap/tr", ".4f")]
    shown = [dict(row, j=float(row["j"])) for row in r.rows]
    print(format_rows(shown, cols, title=f"PASS pulse centres, N = {t.n_pitch} (pulse centres; coherence +1 before "
                                         "pulse 1)"))
    print(f"largest residual of the timing equations: {t.residual.max():.1e} rad")
    if length is not None:
        print(f"pi pulses of {length * 1e6:.2f} us fit (closest centres {t.min_gap.min() / mas * 1e6:.2f} us apart)")
    _say(r.warnings)
    _outputs(plan, r)
    return 0


def _print_manifold_fit(f):
    from ..spectra.csa_fit import format_estimate

    print(f"span  = {f.text('span')} ppm     skew = {f.text('skew')}")
    # zeta/eta errors come from the covariance; where span/skew needed the profile there are none.
    print(f"zeta  = {format_estimate(f.zeta, f.zeta_err, fmt='.1f')} ppm     eta  = "
          f"{format_estimate(f.eta, f.eta_err, fmt='.3f')}  (Haeberlen, zeta = delta_zz - delta_iso; mrsimulator zeta = -zeta)")
    print(f"amplitude = {f.amplitude:.5g} +- {f.amplitude_err:.2g}   chi2 = {f.chisqr:.3g}")
    for n in f.notes:
        print("note:", _words(n))


def run_csa_fit(args) -> int:
    from ..jobs.spectra import csa_fit

    plan = _plan(args, [args.input])
    mas = _freq(args.mas, "--mas") if args.mas else None
    larmor = _larmor_arg(args)
    with _calling():
        r = csa_fit(args.input, spectrum=args.spectrum, mas_rate_hz=mas, larmor_hz=larmor, observed_nucleus=args.nucleus,
                    field_t=args.field, sites_ppm=args.sites, span_ppm=args.span, fwhm_ppm=args.fwhm,
                    noise_region_ppm=args.noise_region, n_starts=args.starts, progress=False, **_processing(args))
    if not args.spectrum:
        _print_csa_manifold(r, plan)
    else:
        _print_csa_spectrum(r, plan)
    _outputs(plan, r)
    return 0


def _print_csa_manifold(r, plan):
    _say(r.warnings)
    print(f"observe frequency {r.larmor_hz / 1e6:.6f} MHz ({_words(r.larmor_source)})")
    print(f"observe |nu0| = {r.larmor_hz / 1e6:.4f} MHz, MAS {r.mas_rate_hz:g} Hz; shifts in ppm")
    for n in r.notes:
        print("note:", _words(n))
    _print_manifold_fit(r.fit)
    if plan.figure is not None:
        from ..spectra.plot import plot_manifold_fit

        _figure(plan, plot_manifold_fit, r.orders, r.intensities, r.sigma, r.fit)


def _print_csa_spectrum(r, plan):
    from ..spectra.csa_fit import site_text
    from ..spectra.textio import format_rows

    for n in r.input_notes:
        print("note:", _words(n))
    print(f"observe frequency {r.larmor_hz / 1e6:.6f} MHz ({_words(r.larmor_source)})")
    _print_mas(r.mas_check)
    _say(r.warnings[:r.n_check_warnings])
    # delta_iso, span, skew as text: "+- err" (covariance), "[lo, hi]" or "(> lo, upper hi)" (profile).
    shown = [dict(row, **{k + "_txt": site_text(row, k) for k in ("delta_iso", "span", "skew", "fwhm")})
             for row in r.sites]
    cols = [("delta_iso_txt", "delta_iso", ""), ("span_txt", "span", ""), ("skew_txt", "skew", ""),
            ("zeta", "zeta", ".1f"), ("eta", "eta", ".3f"), ("fwhm_txt", "fwhm", ""),
            ("fraction", "fraction", ".4f"), ("n_sidebands", "n_sb", ".0f"), ("status", "status", "")]
    print(format_rows(shown, cols, title=f"CSA sites (ppm), MAS {r.mas_rate_hz:g} Hz, |nu0| {r.larmor_hz / 1e6:.4f} MHz"))
    for n in r.fit_notes:
        print("note:", _words(n))
    _say(r.warnings[r.n_check_warnings:])
    if plan.figure is not None:
        from ..spectra.plot import plot_mas_fit

        _figure(plan, plot_mas_fit, r.fit, nucleus=r.nucleus)


def run_pass_process(args) -> int:
    from ..jobs.spectra import process_pass
    from ..spectra.textio import format_rows

    plan = _plan(args, [args.input])
    mas = _freq(args.mas, "--mas") if args.mas else None
    with _calling():
        r = process_pass(args.input, args.noise_region, sites_ppm=args.sites, fit_region_ppm=args.fit_region,
                         mas_rate_hz=mas, fwhm_ppm=args.fwhm, shape=args.shape, lb_hz=args.lb,
                         max_order=args.max_order, sign=args.sign, progress=False)
    a = r.analysis
    for n in r.data_notes:
        print("note:", _words(n))
    _print_mas(r.mas_check)
    _say(r.warnings[:r.n_check_warnings])
    if r.picked_sites is not None:
        print("sites from peak picking (ppm): " + ", ".join(f"{s:.1f}" for s in r.picked_sites))
    for n in a.spectra.notes + a.deconvolution.notes:
        print("note:", _words(n))
    _say(r.warnings[r.n_check_warnings:])
    # span/skew as text: a profile-likelihood interval where the covariance was not trusted.
    shown = [dict(row, span_txt=f.text("span"), skew_txt=f.text("skew")) for row, f in zip(r.sites, r.csa_fits)]
    cols = [("delta_iso", "delta_iso", ".2f"), ("fwhm", "fwhm", ".1f"), ("population", "population", ".4f"),
            ("span_txt", "span", ""), ("skew_txt", "skew", ""), ("zeta", "zeta", ".1f"), ("eta", "eta", ".3f"),
            ("degenerate", "degenerate", "")]
    print(format_rows(shown, cols, title=f"{r.nucleus} PASS sites (ppm), N = {r.n_pitch}, MAS {r.mas_rate_hz:g} Hz; "
                                         "populations from the isotropic (sum of orders) spectrum"))
    for i, f in enumerate(r.csa_fits):
        for n in f.notes:
            print(f"site {i + 1} note:", _words(n))
    if plan.figure is not None:
        from ..spectra.plot import plot_pass

        _figure(plan, plot_pass, a, nucleus=r.nucleus)
    _outputs(plan, r)
    return 0


def run_deconvolve(args) -> int:
    from ..jobs.spectra import deconvolve
    from ..spectra.textio import format_rows

    plan = _plan(args, [args.input, args.compare])
    with _calling():
        r = deconvolve(args.input, args.sites, shape=args.shape, fwhm_ppm=args.fwhm, noise_region_ppm=args.noise_region,
                       fit_region_ppm=args.fit_region, baseline=args.baseline, compare_path=args.compare,
                       reference_ppm=args.reference, observed_nucleus=args.nucleus, allow_long=args.allow_long, progress=False,
                       **_processing(args))
    cols = [("center", "center", ".2f"), ("fwhm", "fwhm", ".2f"), ("area", "area", ".4g"), ("fraction", "fraction", ".4f"),
            ("status", "status", "")]
    fits = [(args.input, r.fit)] + ([(args.compare, r.compare_fit)] if args.compare else [])
    for (path, fit), notes in zip(fits, r.input_notes):
        for n in notes:
            print("note:", _words(n))
        print(format_rows(fit.table(), cols, title=f"{path}: sites (ppm), shape {args.shape}, reduced chi2 "
                                                   f"{fit.redchi:.3g}"))
        for n in fit.notes:
            print("note:", _words(n))
    _say(r.warnings)
    if args.compare:
        print(format_rows(r.comparison, [("center", "center", ".1f"), ("norm_before", "area/ref (1)", ".4f"),
                                         ("norm_after", "area/ref (2)", ".4f"), ("change", "ratio 2/1", ".3f")],
                          title=f"areas normalised to the site at {args.reference:g} ppm"))
    if plan.figure is not None:
        from ..spectra.plot import plot_deconvolution

        _figure(plan, plot_deconvolution, r.fit, nucleus=r.nucleus, title=str(args.input))
    _outputs(plan, r)
    return 0


def run_integrate(args) -> int:
    from ..jobs.spectra import integrate

    mas = _freq(args.mas, "--mas")
    plan = _plan(args, [args.input, args.vclist], csv_option="--output")
    echo = None
    if args.echo_period:
        echo, explicit = parse_time(args.echo_period, "--echo-period", default_unit="us")
        if not explicit:
            print(f"--echo-period {args.echo_period}: read as us")
    with _calling():
        r = integrate(args.input, args.region, args.noise_region, mas, args.periods_per_count,
                      vclist_path=args.vclist, row_order=args.order, lb_hz=args.lb, cpmg=args.cpmg,
                      echo_period_s=echo, n_echoes=args.n_echoes, progress=False)
    for n in r.notes:
        print("note:", _words(n))
    _say(r.warnings)
    c = r.curve
    print(f"{'t (ms)':>9} {'S0':>12} {'S1':>12} {'dS/S0':>8} {'sigma':>7}")
    for t, s0, s1, d, s in zip(c.time_s, c.s0, c.s1, c.dss0, c.sigma):
        print(f"{t * 1e3:9.4f} {s0:12.5g} {s1:12.5g} {d:8.4f} {s:7.4f}")
    # The file and the hint carry the nuclei: `respdor fit` otherwise assumes 13C{27Al}.
    plan.write_text(plan.csv, r.curve_csv())
    hint = f"respdor fit {args.output} --observe {r.observe}" + (
        f" --partner {r.partner}" if r.partner else
        " (the data set does not name the recoupled nucleus: add --partner unless it is 27Al)")
    print(f"wrote {args.output} (t_s in seconds; observed {r.observe}); fit it with: {hint}")
    return 0
