"""The one table of saturation schemes (spinsim.saturation) is what the spec parser, the SIMPSON
export, respdor's libraries and the documentation follow."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest

from spinsim import saturation as sat
from spinsim import spec as spec_mod
from spinsim.spec import SpecError, load_spec

ROOT = Path(__file__).resolve().parents[1]
BASE = {
    "experiment": {"type": "respdor", "field_T": 9.4, "mas_rate_hz": 10000, "t_max_ms": 0.6},
    "spins": [{"isotope": "13C"}, {"isotope": "27Al", "cq_mhz": 3.0}],
    "dipolar": [{"spins": [0, 1], "d_hz": 500.0}],
    "powder": {"n": 5, "n_gamma": 2},
}


def _spec(table, kind="respdor"):
    raw = copy.deepcopy(BASE)
    raw["experiment"]["type"] = kind
    raw["saturation"] = dict(table)
    return raw


def test_the_parser_reads_its_keys_from_the_table():
    keys = {"type", "channel"}.union(*(s.keys for s in sat.SATURATION_SCHEMES.values()))
    assert spec_mod._ALLOWED["saturation"] == keys
    assert spec_mod._VARIANT_KEYS["saturation"][2] == {n: set(s.keys) for n, s in sat.SATURATION_SCHEMES.items()}
    assert spec_mod.SATURATION_TYPES == tuple(sat.SATURATION_SCHEMES) == ("cw", "wurst", "dfs", "pm", "ideal", "none")
    assert spec_mod.RF_SATURATION_TYPES == ("cw", "wurst", "dfs", "pm")  # pm included (libraries vary its nu1)


@pytest.mark.parametrize("name", sat.RF_SATURATION_TYPES)
def test_every_rf_scheme_builds_a_pulse_of_the_asked_length_on_the_partner(name):
    scheme = sat.SATURATION_SCHEMES[name]
    assert sat.RF_KEYS <= scheme.keys and set(scheme.example) - {"type"} <= scheme.keys
    block = load_spec(_spec(scheme.example)).saturation
    assert block.duration == pytest.approx(2 / 10000, rel=1e-9)  # length_rotor_periods = 2 at 10 kHz
    assert block.channels() == {"27Al"}
    peak = max(amp for ev in block.events for amp, _ in ev.rf.values())
    # every scheme reaches nu1 = 30 kHz (the DFS's two sidebands add up to twice that)
    assert peak == pytest.approx(30e3 * (2 if name == "dfs" else 1), rel=1e-6)


@pytest.mark.parametrize("name", sat.SATURATION_TYPES)
def test_a_key_of_another_scheme_is_refused_naming_what_this_one_reads(name):
    scheme = sat.SATURATION_SCHEMES[name]
    foreign = sorted(set().union(*(s.keys for s in sat.SATURATION_SCHEMES.values())) - scheme.keys)
    assert foreign
    kind = "redor" if name == "none" else "respdor"
    load_spec(_spec(scheme.example, kind))  # the example itself is complete
    with pytest.raises(SpecError) as info:
        load_spec(_spec({**scheme.example, foreign[0]: 1.0}, kind))
    msg = str(info.value)
    assert f"{foreign[0]} has no effect with type = {name!r}" in msg
    assert all(k in msg for k in scheme.keys)


@pytest.mark.parametrize("bad", ["magic", ["cw"], None, 3])
def test_an_unknown_type_names_every_scheme(bad):
    with pytest.raises(SpecError) as info:
        load_spec(_spec({"type": bad}))
    assert all(repr(n) in str(info.value) for n in sat.SATURATION_TYPES)


def test_ideal_and_none():
    ideal = load_spec(_spec({"type": "ideal", "kind": "ct", "efficiency": 0.5})).saturation
    assert (ideal.kind, ideal.efficiency) == ("ct", 0.5)
    assert load_spec(_spec({"type": "none"}, "redor")).saturation is None
    with pytest.raises(SpecError, match="'none' is only for type = 'redor'"):
        load_spec(_spec({"type": "none"}))


def test_the_simpson_export_names_the_rf_schemes():
    from spinsim.simpson import simpson_input

    with pytest.raises(ValueError) as info:
        simpson_input(_spec({"type": "ideal"}))
    assert all(n in str(info.value) for n in sat.RF_SATURATION_TYPES)


def test_the_documentation_describes_every_scheme_and_key():
    doc = (ROOT / "docs" / "simulation.md").read_text(encoding="utf-8")
    row = next(line for line in doc.splitlines() if line.startswith("| `[saturation]` | `type`"))
    assert set(re.findall(r'`"(\w+)"`', row)) >= set(sat.SATURATION_TYPES), row
    table = doc[doc.index("| `[saturation]` | `type`"):]
    table = table[:table.index("\n\n")]
    for name, scheme in sat.SATURATION_SCHEMES.items():
        missing = [k for k in scheme.keys if f"`{k}`" not in table]
        assert not missing, f"docs/simulation.md: [saturation] keys of {name!r} not described: {missing}"


def test_respdor_libraries_vary_every_rf_scheme():
    lib = pytest.importorskip("respdor.library")
    for name in sat.RF_SATURATION_TYPES:
        out = lib.spec_with(_spec(sat.SATURATION_SCHEMES[name].example), {"nu1": 45e3})
        assert out["saturation"]["nu1_khz"] == pytest.approx(45.0)
    assert np.isclose(lib.spec_value(_spec(sat.SATURATION_SCHEMES["pm"].example), "nu1"), 30e3)
