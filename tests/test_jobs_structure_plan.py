"""respdor.predict_structure / compare_structures / plan: one Python call per command, results at home
in a notebook (the call and the command give the same numbers; repr, HTML, DataFrame, JSON, plot)."""

import json
from pathlib import Path

import numpy as np
import pytest

import respdor
from respdor.cli import main
from respdor.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "data" / "al_carboxylate_model.xyz"

PLAN_KW = dict(distance_angstrom=2.5, fraction=0.24, snr=40, scans=64, recycle_s=5.0, t2prime_s=8e-3,
               target_distance_error_angstrom=0.1, mas_rate_hz=10e3)
PLAN_ARGS = ["plan", "--distance", "2.5", "--fraction", "0.24", "--snr", "40", "--scans", "64", "--recycle", "5",
             "--t2prime", "8ms", "--target-distance-error", "0.1", "--mas", "10k"]


@pytest.fixture(scope="module")
def planned():
    return respdor.plan(**PLAN_KW)


def _backends_seen(result):
    """The active backend before, after ``plot()`` and after ``plot(ax)``, under a backend that is not the
    test run's default (so that a switch to Agg would show), and whether ``plot(ax)`` drew on ``ax``."""
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    previous = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        before = matplotlib.get_backend()
        ax = result.plot()
        after_new = matplotlib.get_backend()
        plt.close(ax.figure)
        given = Figure().add_subplot()
        drew = result.plot(given) is given and len(given.lines) >= 1
        return before, after_new, matplotlib.get_backend(), drew
    finally:
        matplotlib.use(previous)


# --- plan ---------------------------------------------------------------------------------------


def test_plan_call_and_command_give_the_same_design(planned, tmp_path, capsys):
    out = tmp_path / "plan.json"
    assert main(PLAN_ARGS + ["--json", str(out), "--csv", str(tmp_path / "p.csv")]) == 0
    cli = json.loads(out.read_text())
    for name in ("optimised", "even"):
        d, c = planned.designs[name], cli["designs"][name]
        assert np.allclose(d["time_s"], c["time_s"], rtol=0, atol=1e-15)
        assert list(d["scans"]) == c["scans"]
        assert d["total_time_s"] == pytest.approx(c["total_time_s"], rel=1e-12)
        assert d["sigma"]["distance_angstrom"] == pytest.approx(c["sigma"]["distance_angstrom"], rel=1e-12)
        assert d["sigma"]["distance_angstrom"] <= 0.1 + 1e-12  # the target is reached
    # the optimised design is the cheaper one, and the printed hours are the call's
    assert planned.hours["optimised"] < planned.hours["even"]
    printed = capsys.readouterr().out
    assert f"optimised: {planned.hours['optimised']:.2f} h; evenly spaced: {planned.hours['even']:.2f} h" in printed
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert len(rows) == 1 + len(planned.to_dataframe())


def test_plan_json_round_trip_from_the_command(planned, tmp_path, capsys):
    out = tmp_path / "plan.json"
    assert main(PLAN_ARGS + ["--json", str(out)]) == 0
    back = respdor.PlanResult.from_json(out)
    assert back.hours == pytest.approx(planned.hours, rel=1e-12)
    assert back.report_lines() == planned.report_lines()
    assert json.loads(back.to_json()) == json.loads(out.read_text())


def test_plan_displays(planned):
    text = repr(planned)
    assert len(text) <= 200 and "optimised" in text and " h" in text
    html = planned._repr_html_()
    assert "<table>" in html and "t_rec_ms" in html
    pytest.importorskip("pandas")
    frame = planned.to_dataframe()
    n = len(planned.designs["optimised"]["time_s"]) + len(planned.designs["even"]["time_s"])
    assert len(frame) == n and list(frame["design"].unique()) == ["optimised", "even"]
    assert frame["scans"].min() >= 8 and (frame["scans"] % 8 == 0).all()


def test_plan_plot_leaves_the_backend(planned):
    before, after_new, after_given, drew = _backends_seen(planned)
    assert after_new == before == after_given == "svg" and drew


@pytest.mark.parametrize("change, name", [
    (dict(recycle_s=1e5), "recycle_s"),
    (dict(mas_rate_hz=10.0), "mas_rate_hz"),
    (dict(fraction=1.5), "fraction="),
    (dict(distance_angstrom=None), "distance_angstrom"),
    (dict(target_distance_error_angstrom=None), "target_distance_error_angstrom"),
    (dict(t2prime_from=MODEL), "t2prime_s or t2prime_from"),
])
def test_plan_messages_name_parameters(change, name):
    with pytest.raises(UserError) as err:
        respdor.plan(**{**PLAN_KW, **change})
    assert name in str(err.value) and "--" not in str(err.value)


def test_plan_warning_is_python_warning_and_kept():
    with pytest.warns(respdor.errors.DataWarning, match="unusual recycle delay"):
        res = respdor.plan(**{**PLAN_KW, "recycle_s": 5e-3})
    assert any("recycle_s 5ms" in w for w in res.warnings)


# --- structure ----------------------------------------------------------------------------------

STRUCT_KW = dict(cutoff_angstrom=4.0, max_partners=1, n_powder=144, n_gamma=8, t_max_s=1.2e-3)
STRUCT_ARGS = ["--observe", "0", "--partner", "27Al", "--cutoff", "4A", "--max-partners", "1", "--powder", "144",
               "--gamma", "8", "--t-max", "1.2ms"]


@pytest.fixture(scope="module")
def predicted():
    pytest.importorskip("ase")
    return respdor.predict_structure(MODEL, "0", "27Al", **STRUCT_KW)


def test_structure_call_and_command_give_the_same_curve(predicted, tmp_path, capsys):
    out = tmp_path / "s.json"
    assert main(["structure", str(MODEL), *STRUCT_ARGS, "--no-files", "--json", "-"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert np.allclose(predicted.dss0, cli["dSS0_predicted"], rtol=0, atol=1e-12)
    assert predicted.apparent_distance_angstrom == pytest.approx(cli["apparent_two_spin"]["distance_angstrom"],
                                                                 rel=1e-9)
    # one partner: the two-spin fit reads the partner's own distance back
    r1 = predicted.sites[0]["partners"][0]["distance_angstrom"]
    assert predicted.apparent_distance_angstrom == pytest.approx(r1, abs=0.03)
    out.write_text(json.dumps(cli))
    back = respdor.StructurePrediction.from_json(out)
    assert back.to_dict() == {**cli, "warnings": back.warnings}
    assert back.report_lines()[0] == predicted.report_lines()[0]


def test_structure_displays(predicted):
    text = repr(predicted)
    assert len(text) <= 200 and "r_app" in text and "13C{27Al}" in text
    assert "<table>" in predicted._repr_html_()
    pytest.importorskip("pandas")
    frame = predicted.to_dataframe()
    assert len(frame) == 1 and frame["distance_angstrom"].iloc[0] == pytest.approx(
        predicted.sites[0]["partners"][0]["distance_angstrom"])


def test_structure_plot_leaves_the_backend(predicted):
    before, after_new, after_given, drew = _backends_seen(predicted)
    assert after_new == before == after_given == "svg" and drew


def test_compare_ranks_the_structure_that_made_the_data_first(predicted, tmp_path):
    from respdor.curve import DephasingCurve

    t, y = predicted.t_s[1:], 0.3 * predicted.dss0[1:]
    data = DephasingCurve(t, y, sigma=np.full(t.size, 0.01), source="made.csv")
    far = tmp_path / "far.xyz"  # the same model with every coordinate stretched by 10 %
    from ase.io import read, write

    atoms = read(MODEL)
    atoms.set_positions(1.1 * atoms.get_positions())
    write(far, atoms)
    ranked = respdor.compare_structures([far, MODEL], "0", "27Al", compare=data,
                                        **{k: v for k, v in STRUCT_KW.items() if k != "t_max_s"})
    assert ranked.best.structure == str(MODEL)
    assert ranked.best.compare["fraction"] == pytest.approx(0.3, rel=1e-9)
    assert ranked.best.compare["chi2"] == pytest.approx(0.0, abs=1e-12)
    assert [r.compare["rank"] for r in ranked.candidates] == [2, 1]
    back = respdor.StructureComparison.from_json(ranked.to_json())
    assert [r.structure for r in back.ranked] == [str(MODEL), str(far)]
    assert len(repr(ranked)) <= 200
    before, after_new, after_given, drew = _backends_seen(ranked)
    assert after_new == before == after_given == "svg" and drew


@pytest.mark.parametrize("args, kw, name", [
    (("N", "27Al"), {}, "observe=N"),
    (("0", "28Al"), {}, "partner=28Al"),
    (("0", "27Al"), dict(abundance=0), "abundance=0"),
    (("0", "27Al"), dict(cutoff_angstrom=-1), "cutoff_angstrom"),
    (("0", "27Al"), dict(eta_q=1.5), "eta_q=1.5"),
    (("0", "27Al"), dict(saturation={"type": "cw", "nu1_khz": 30000, "length_rotor_periods": 2}), "saturation="),
])
def test_structure_messages_name_parameters(args, kw, name):
    pytest.importorskip("ase")
    with pytest.raises(UserError) as err:
        respdor.predict_structure(MODEL, *args, **{**STRUCT_KW, **kw})
    assert name in str(err.value) and "--" not in str(err.value)


def test_structure_writes_nothing(predicted, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    respdor.predict_structure(MODEL, "0", "27Al", **STRUCT_KW)
    assert list(tmp_path.iterdir()) == []


def test_structure_warning_named_by_parameter_in_python_and_by_option_in_the_command(tmp_path, capsys):
    pytest.importorskip("ase")
    kw = {**STRUCT_KW, "max_partners": 2, "partner_couplings": False}
    with pytest.warns(respdor.errors.DataWarning, match="partner_couplings=True includes them"):
        res = respdor.predict_structure(MODEL, "0", "27Al", **kw)
    assert sum("partner_couplings=True" in w for w in res.warnings) == 1
    argv = ["structure", str(MODEL), *STRUCT_ARGS, "--no-files", "--json", "-", "--no-partner-couplings"]
    argv[argv.index("--max-partners") + 1] = "2"
    assert main(argv) == 0
    cap = capsys.readouterr()
    cli = json.loads(cap.out)
    assert np.allclose(cli["dSS0_predicted"], res.dss0, rtol=0, atol=1e-12)
    said = [w for w in cli["warnings"] if "left out" in w]
    assert len(said) == 1 and "--partner-couplings includes them" in said[0] and "=True" not in said[0]
    assert cap.err.count("left out; --partner-couplings includes them") == 1  # printed once, not again at the end


def test_plan_command_refuses_as_typed_and_warns_once(tmp_path, capsys):
    assert main(PLAN_ARGS[:PLAN_ARGS.index("--recycle")] + ["--recycle", "0.1ms"]
                + PLAN_ARGS[PLAN_ARGS.index("--recycle") + 2:]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--recycle 0.1ms" in err[0] and "below 1 ms" in err[0] and "Traceback" not in err[0]
    args = list(PLAN_ARGS)
    args[args.index("--recycle") + 1] = "5ms"
    assert main(args + ["--json", str(tmp_path / "p.json")]) == 0
    err = capsys.readouterr().err
    assert err.count("unusual recycle delay") == 1 and "warning: --recycle 5ms" in err
    said = [w for w in json.loads((tmp_path / "p.json").read_text())["warnings"] if "unusual" in w]
    assert len(said) == 1 and said[0].startswith("--recycle 5ms")


def test_structure_progress_goes_through_the_one_mechanism():
    pytest.importorskip("ase")
    seen = []
    respdor.predict_structure(MODEL, "0", "27Al", **STRUCT_KW, progress=lambda done, total, label: seen.append(
        (done, total, label)))
    assert seen and seen[-1][:2] == (1, 1) and "ZCW 144" in seen[-1][2]


def test_a_stop_between_the_crystallites_of_one_atom_is_heard_at_once():
    """The engine's chunks of one observed atom reach the caller's progress (as steps of nothing), so a
    cancel (the app's button, a callback raising) stops the prediction inside the first atom, not after it."""
    calls = []

    def stop_at_the_fourth_call(done, total, label):
        calls.append(done)
        if len(calls) == 4:
            raise KeyboardInterrupt

    from respdor.examples import example_path

    with pytest.raises(KeyboardInterrupt):
        respdor.predict_structure(example_path("al_carboxylate_model.magres"), "C", "27Al",
                                  progress=stop_at_the_fourth_call)
    assert calls == [0, 0, 0, 0]  # four chunks of the first atom, whose own step is not done yet
