"""Spec keys of issue 11: the recoupling channel, pulse placement, and the description of what runs."""

import numpy as np
import pytest

from spinsim.spec import SpecError, load_spec

pytest.importorskip("numba")


def spec(**over):
    raw = {
        "experiment": {"type": "respdor", "field_T": 9.4, "mas_rate_hz": 10000, "t_max_ms": 0.6},
        "spins": [{"isotope": "13C"}, {"isotope": "27Al", "cq_mhz": 1.0}],
        "dipolar": [{"spins": [0, 1], "d_hz": 500.0}],
        "recoupling": {"scheme": "redor"},
        "saturation": {"type": "cw", "nu1_khz": 30, "length_rotor_periods": 2},
        "powder": {"scheme": "zcw", "n": 21, "n_gamma": 4},
    }
    for key, value in over.items():
        table, _, k = key.partition("__")
        if value is None:
            raw[table].pop(k)
        else:
            raw[table][k] = value
    return raw


@pytest.mark.parametrize(
    "over, message",
    [
        ({"recoupling__channel": "15N"}, "channel '15N' is not in the spin system (channels: 13C, 27Al)"),
        ({"recoupling__channel": "27Al"}, "only a REDOR experiment"),
        ({"saturation__channel": "13C"}, "is the observed channel"),
        ({"saturation__channel": "2H"}, "channel '2H' is not in the spin system"),
        ({"recoupling__placement": "middle"}, "placement must be 'mid-end', 'centred'"),
        ({"recoupling__placement": [0.25]}, "placement must be"),
    ],
)
def test_bad_channel_and_placement_are_refused(over, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_spec(spec(**over))


def test_sr4_refuses_redor_keys():
    with pytest.raises(SpecError, match="placement has no effect with scheme = 'sr4'"):
        load_spec(spec(recoupling__scheme="sr4", recoupling__placement="centred"))


def test_placement_changes_a_cw_curve_and_is_described():
    mid = load_spec(spec()).run()
    cen = load_spec(spec(recoupling__placement="centred")).run()
    assert mid.info["engine"] == cen.info["engine"] == "fast"
    assert "at 0.5 tau_R, 1 tau_R" in mid.info["experiment"][0]
    assert "at 0.25 tau_R, 0.75 tau_R" in cen.info["experiment"][0]
    assert "CW 30000 Hz on 27Al, 200 us" in mid.info["experiment"][1]
    # with a real (CW) saturation block the two placements are different experiments
    assert np.max(np.abs(mid.dSS0 - cen.dSS0)) > 2e-3
    gen = load_spec({**spec(), "simulation": {"method": "general"}}).run()
    assert np.allclose(gen.dSS0, mid.dSS0, atol=1e-9)


def test_redor_train_on_the_partner_channel_runs_there():
    raw = spec(experiment__type="redor", recoupling__channel="27Al", recoupling__phases="xy4",
               experiment__t_max_ms=1.6)
    raw["saturation"] = {"type": "none"}
    raw["spins"][1] = {"isotope": "15N"}
    raw["recoupling"]["channel"] = "15N"
    r = load_spec(raw).run()
    assert r.info["engine"] == "general"
    assert "on 15N" in r.info["experiment"][0]
    obs = load_spec({**raw, "recoupling": {"scheme": "redor", "phases": "xy4"}}).run(times_s=r.t_s)
    assert np.allclose(r.dSS0, obs.dSS0, atol=1e-9)
    assert r.dSS0[-1] > 0.1


def test_redor_type_with_sr4_runs_sr4():
    raw = spec(experiment__type="redor", recoupling__scheme="sr4", recoupling__supercycle="R4R4bar")
    raw["saturation"] = {"type": "none"}
    raw["experiment"]["t_max_ms"] = 0.8
    r = load_spec(raw).run()
    assert "R4R4bar on 13C" in r.info["experiment"][0]
    assert r.info["engine"] == "general"


def test_crystallite_file_reproduces_the_built_in_set(tmp_path):
    from spinsim.powder import read_crystallites, zcw

    z = zcw(21, 4)
    rows = np.column_stack([np.degrees(z.alpha), np.degrees(z.beta), 3 * z.weights])
    f = tmp_path / "cryst.txt"
    np.savetxt(f, rows, header="alpha_deg beta_deg weight")
    raw = spec()
    raw["powder"] = {"file": str(f), "n_gamma": 4}
    a = load_spec(raw).run()
    b = load_spec(spec()).run()
    assert np.allclose(a.dSS0, b.dSS0, atol=1e-12)
    simp = tmp_path / "cryst.cry"
    simp.write_text(f"{len(rows)}\n" + "\n".join(f"{-x} {180 - y} {w}" for x, y, w in rows))
    p = read_crystallites(simp, 4, "simpson")
    assert np.allclose(p.alpha, z.alpha) and np.allclose(p.beta, z.beta) and np.allclose(p.weights, z.weights)
    bad = tmp_path / "bad.txt"
    bad.write_text("10 20 1\n10 x 1\n")
    raw["powder"] = {"file": str(bad)}
    with pytest.raises(SpecError, match="bad.txt:2: not a number"):
        load_spec(raw)
    raw["powder"] = {"file": str(tmp_path / "none.txt")}
    with pytest.raises(SpecError, match="none.txt"):
        load_spec(raw)


def test_rf_inhomogeneity_in_the_spec():
    raw = spec()
    raw["rf_inhomogeneity"] = {"channels": ["27Al"], "fwhm_percent": 10, "n": 3}
    r = load_spec(raw).run()
    assert any("rf inhomogeneity: 3 nu1 scale factors on 27Al" in x for x in r.info["experiment"])
    raw["rf_inhomogeneity"] = {"scale": [1.0], "weight": [1.0, 2.0]}
    with pytest.raises(SpecError, match="same length"):
        load_spec(raw)
    raw["rf_inhomogeneity"] = {"channels": ["1H"], "fwhm_percent": 10}
    with pytest.raises(SpecError, match="channel '1H' is not in the spin system"):
        load_spec(raw)
