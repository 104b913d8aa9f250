"""``respdor convert``: dipolar coupling constant <-> distance for a nucleus pair."""

from __future__ import annotations

from ..errors import UserError
from ..units import parse_frequency, parse_length


def register(subparsers):
    p = subparsers.add_parser(
        "convert",
        help="dipolar coupling (Hz) <-> distance (angstrom) for a pair of nuclei",
        description="Convert between the dipolar coupling constant D = (mu0/4pi) hbar |gS gI| / (2 pi r^3) "
        "in Hz and the distance r. Bare numbers: D in Hz, r in angstrom (units may be written: 0.5kHz, 2.5A, "
        "0.25nm).",
    )
    p.add_argument("--observe", "-s", default=None, metavar="ISOTOPE", help="first nucleus, e.g. 13C")
    p.add_argument("--partner", "-i", default=None, metavar="ISOTOPE", help="second nucleus, e.g. 27Al")
    p.add_argument("--pair", nargs=2, metavar=("S", "I"), help="both nuclei at once, e.g. --pair 13C 27Al")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--distance", "-r", nargs="+", metavar="R", help="distance(s), default unit angstrom")
    what.add_argument("--coupling", "-d", nargs="+", metavar="D", help="coupling(s), default unit Hz")
    p.set_defaults(func=run)
    from . import OptionRule, declare_option_rules

    declare_option_rules(p, [OptionRule.excludes(o, "--pair", "--pair names both nuclei")
                             for o in ("--observe", "--partner")])


def run(args) -> int:
    from spinsim.dipolar import coupling_from_distance, dipolar_constant, distance_from_coupling
    from spinsim.isotopes import get_isotope

    if args.pair:
        s, i = args.pair
    else:
        s, i = args.observe, args.partner
    if not s or not i:
        raise UserError("name both nuclei: --pair 13C 27Al, or --observe 13C --partner 27Al")
    try:
        iso_s, iso_i = get_isotope(s), get_isotope(i)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    k = dipolar_constant(iso_s, iso_i) * 1e30
    print(f"{iso_s.symbol}-{iso_i.symbol}: D r^3 = {k:.1f} Hz A^3 (D = (mu0/4pi) hbar |gS gI| / (2 pi r^3), magnitude)")
    if args.distance:
        for text in args.distance:
            r, explicit = parse_length(text, "--distance")
            if r <= 0:
                raise UserError(f"--distance must be positive, got {text!r}")
            unit = "" if explicit else " (assumed angstrom)"
            print(f"r = {r:.4g} A{unit}  ->  D = {coupling_from_distance(r, iso_s, iso_i):.1f} Hz")
            _warn_closer_than_any_bond(r, iso_s, iso_i)
    else:
        for text in args.coupling:
            d, explicit = parse_frequency(text, "--coupling")
            if d <= 0:
                raise UserError(f"--coupling must be positive, got {text!r}")
            unit = "" if explicit else " (assumed Hz)"
            print(f"D = {d:.6g} Hz{unit}  ->  r = {distance_from_coupling(d, iso_s, iso_i):.4f} A")
            _warn_closer_than_any_bond(distance_from_coupling(d, iso_s, iso_i), iso_s, iso_i)
    return 0


def _warn_closer_than_any_bond(r, iso_s, iso_i):
    """One line on stderr when r (angstrom) is shorter than any two such atoms can be (a unit mistake)."""
    from spinsim.isotopes import element_of
    from spinsim.plausibility import shortest_distance_angstrom

    from . import say_warning

    shortest = shortest_distance_angstrom(element_of(iso_s), element_of(iso_i))
    if r < shortest:
        say_warning(f"r = {r:.4g} A is shorter than any {iso_s.symbol}-{iso_i.symbol} pair can be (about "
                    f"{shortest:.2f} A or more): check the unit (nm, pm, kHz, MHz)", prefix="warning: ")
