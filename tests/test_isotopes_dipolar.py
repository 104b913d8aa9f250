"""Isotope table and the D <-> r conversion against published numbers (physics.md section 1)."""

import math

import numpy as np
import pytest

from spinsim.dipolar import (
    coupling_from_distance,
    dipolar_constant,
    distance_from_coupling,
    effective_coupling_hz,
    effective_distance,
)
from spinsim.isotopes import ISOTOPES, get_isotope, larmor_frequency_hz

REQUIRED = ["1H", "2H", "6Li", "7Li", "11B", "13C", "15N", "17O", "19F", "23Na", "27Al", "29Si", "31P", "47Ti",
            "49Ti", "67Zn", "69Ga", "71Ga", "77Se", "111Cd", "113Cd", "115In", "119Sn", "207Pb"]


@pytest.mark.parametrize("symbol", REQUIRED)
def test_required_isotopes_present_and_consistent(symbol):
    iso = get_isotope(symbol)
    assert iso.symbol == symbol
    assert 0 < iso.abundance <= 1
    assert iso.spin in (0.5, 1.0, 1.5, 2.5, 3.5, 4.5)
    # Quadrupole moment present exactly for I > 1/2.
    assert (iso.quadrupole_moment != 0) == (iso.spin > 0.5)


def test_reference_values():
    al = get_isotope("27Al")
    assert al.spin == 2.5 and al.multiplicity == 6 and al.spin_label == "5/2"
    assert al.quadrupole_moment == pytest.approx(146.6e-31)
    assert get_isotope("13C").gamma == pytest.approx(6.728284e7)
    assert get_isotope("113Cd").gamma < 0
    # 13C at 9.4 T: 100.6 MHz (physics.md table).
    assert larmor_frequency_hz("13C", 9.4) / 1e6 == pytest.approx(100.66, abs=0.01)


@pytest.mark.parametrize("name", ["27al", "Al27", "Al-27", " 27Al "])
def test_isotope_name_variants(name):
    assert get_isotope(name).symbol == "27Al"


@pytest.mark.parametrize("name", ["Al", "28Al", "", "C13C"])
def test_unknown_isotope_is_a_clear_error(name):
    with pytest.raises(ValueError, match="unknown isotope"):
        get_isotope(name)


@pytest.mark.parametrize(
    "s, i, r, d",
    [
        ("13C", "27Al", 2.5, 504.2),
        ("113Cd", "27Al", 2.5, 447),
        ("113Cd", "27Al", 3.0, 259),
        ("113Cd", "27Al", 3.5, 163),
        ("111Cd", "27Al", 2.5, 427),
        ("111Cd", "27Al", 3.0, 247),
        ("111Cd", "27Al", 3.5, 156),
        ("1H", "13C", 1.09, 23.3e3),
    ],
)
def test_coupling_matches_published(s, i, r, d):
    rel = 0.5 / d if d < 1e3 else 0.05e3 / d
    assert coupling_from_distance(r, s, i) == pytest.approx(d, rel=rel)


def test_inversion_of_the_jacs_coupling():
    # D = 503 Hz inverts to r = 2.502 A (Segura Lecina et al. JACS 2022).
    assert distance_from_coupling(503.0, "13C", "27Al") == pytest.approx(2.502, abs=5e-4)
    # INTERFACES' per-element factors give D r^3 = 7878.3 Hz A^3 for C-Al.
    assert dipolar_constant("13C", "27Al") * 1e30 == pytest.approx(7878.3, rel=1e-4)


def test_round_trip_and_symmetry():
    r = np.linspace(1.0, 8.0, 29)
    d = coupling_from_distance(r, "31P", "27Al")
    np.testing.assert_allclose(distance_from_coupling(d, "31P", "27Al"), r, rtol=1e-13)
    assert coupling_from_distance(2.0, "27Al", "31P") == coupling_from_distance(2.0, "31P", "27Al")
    # D scales as r^-3.
    assert coupling_from_distance(2.0, "13C", "15N") / coupling_from_distance(4.0, "13C", "15N") == pytest.approx(8.0)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_non_positive_distance_is_refused(bad):
    with pytest.raises(ValueError):
        coupling_from_distance(bad, "13C", "27Al")
    with pytest.raises(ValueError):
        distance_from_coupling(bad, "13C", "27Al")


def test_effective_coupling_second_moment():
    assert effective_coupling_hz([300.0, 400.0]) == pytest.approx(500.0)
    r = [2.5, 3.0, 3.5]
    d = coupling_from_distance(np.array(r), "13C", "27Al")
    assert distance_from_coupling(effective_coupling_hz(d), "13C", "27Al") == pytest.approx(effective_distance(r))


def test_table_has_sources_and_no_duplicates():
    assert len(ISOTOPES) == len(set(ISOTOPES))
    import spinsim.isotopes as mod

    assert "Harris" in mod.__doc__ and "Pyykk" in mod.__doc__
    assert all(math.isfinite(iso.gamma) for iso in ISOTOPES.values())
