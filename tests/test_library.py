"""Curve libraries: parsing, a build on a local Dask cluster of 2 worker processes, interruption and
resume, and fits that free a tabulated parameter. Tiny powders: a few seconds of simulation."""

import json

import numpy as np
import pytest

pytest.importorskip("h5py")
pytest.importorskip("distributed")

from respdor import library as lib  # noqa: E402
from respdor.cli import main  # noqa: E402
from respdor.errors import UserError  # noqa: E402

RAW = {
    "experiment": {"type": "respdor", "field_T": 9.4, "mas_rate_hz": 10000, "t_max_ms": 1.2},
    "spins": [{"isotope": "13C"}, {"isotope": "27Al", "cq_mhz": 3.0, "eta_q": 0.3}],
    "dipolar": [{"spins": [0, 1], "d_hz": 500.0}],
    "saturation": {"type": "cw", "nu1_khz": 30, "length_rotor_periods": 2},
    "powder": {"n": 13, "n_gamma": 4},
}


def test_parse_vary_units_and_mistakes():
    a = lib.parse_vary("cq=1:6MHz:11")
    assert a.name == "cq" and a.unit == "Hz" and np.allclose(a.values, np.linspace(1e6, 6e6, 11))
    assert np.allclose(lib.parse_vary("nu1=20k:60kHz:9").values, np.linspace(2e4, 6e4, 9))
    assert np.allclose(lib.parse_vary("eta_q=0:1:5").values, np.linspace(0, 1, 5))
    for bad, msg in [("cq=6:1MHz:3", "LOW < HIGH"), ("foo=1:2:3", "unknown parameter"), ("cq=1:2MHz", "LOW:HIGH:N"),
                     ("cq=1:2MHz:1", "at least 2"), ("eta_q=0:2:3", "physical")]:
        with pytest.raises(UserError, match=msg):
            lib.parse_vary(bad)


def test_spec_with_sets_the_partner_and_the_pulse():
    out = lib.spec_with(RAW, {"cq": 2.5e6, "nu1": 45e3, "eta_q": 0.1})
    assert out["spins"][1]["cq_hz"] == 2.5e6 and "cq_mhz" not in out["spins"][1]
    assert out["saturation"]["nu1_khz"] == 45.0 and out["spins"][1]["eta_q"] == 0.1
    assert RAW["spins"][1]["cq_mhz"] == 3.0  # the original is untouched
    assert lib.spec_value(RAW, "cq") == 3e6 and lib.spec_value(RAW, "nu1") == 30e3


def _interrupt_after(n, real):
    calls = {"n": 0}

    def write(f, p, arr, shape):
        if calls["n"] == n:
            raise KeyboardInterrupt
        calls["n"] += 1
        real(f, p, arr, shape)

    return write


@pytest.fixture(scope="module")
def scheduler():
    """A local distributed cluster of 2 worker processes, reached by address like a remote one.

    dask's 30 s connect / tcp timeouts are a statement about machine speed (workers start by
    importing numpy and numba); raised far beyond any honest start-up so that a busy machine
    does not fail the test, while a real hang still ends."""
    import dask
    from dask.distributed import LocalCluster

    slow_ok = {"distributed.comm.timeouts.connect": "30 minutes", "distributed.comm.timeouts.tcp": "30 minutes"}
    with dask.config.set(slow_ok), LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                                dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


def test_build_interrupt_resume_and_fit_freeing_cq(tmp_path, monkeypatch, capsys, scheduler):
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(RAW))
    path = tmp_path / "lib.h5"
    axes = [lib.parse_vary("cq=2:4MHz:3")]
    couplings = np.geomspace(300, 800, 5)
    kw = dict(t_max_s=1.2e-3, scheduler=scheduler, n_check=3, progress=False)
    # Ctrl-C after the first parameter point: the file stays valid, incomplete, resumable
    monkeypatch.setattr(lib, "_write_point", _interrupt_after(1, lib._write_point))
    with pytest.raises(KeyboardInterrupt):
        lib.build_library(spec, path, axes, couplings, **kw)
    assert not path.exists()  # the library appears only when complete; the work file keeps the points
    info = lib.library_info(tmp_path / "lib.h5.partial")
    assert info["points_done"] == 1 and not info["complete"]
    with pytest.raises(UserError, match="incomplete"):
        lib.LibraryShape.open(tmp_path / "lib.h5.partial")
    monkeypatch.undo()
    first = lib.build_library(spec, path, axes, couplings, **kw)
    assert first["computed"] == 2 and first["skipped"] == 1
    # nothing left: no cluster, no simulation (said by what ran, not by how long it took)
    with monkeypatch.context() as m:
        m.setattr(lib, "_client", lambda *a: pytest.fail("a complete library started a cluster"))
        again = lib.build_library(spec, path, axes, couplings, **kw)
    assert again["computed"] == 0 and again["skipped"] == 3
    info = lib.library_info(path)
    assert info["complete"] and info["interp_error"]["n_points"] == 3
    assert info["axes"]["cq"]["unit"] == "Hz" and info["powder"] == {"scheme": "zcw", "n": 13, "n_gamma": 4}
    # a request that differs from the file is refused, not mixed in
    with pytest.raises(UserError, match="different"):
        lib.build_library(spec, path, [lib.parse_vary("cq=2:4MHz:5")], couplings, **kw)

    # the library reproduces its own nodes exactly and a direct simulation between D nodes closely
    shape = lib.LibraryShape.open(path)
    t = 2e-4 * np.arange(7)
    sim = lib.simulate_point(RAW, {"cq": 3e6}, [couplings[2], 420.0], t, {"scheme": "zcw", **RAW["powder"]},
                             threads=2)[0]
    assert np.max(np.abs(shape(t, couplings[2], cq=3e6) - sim[0])) < 1e-9
    assert np.max(np.abs(shape(t, 420.0, cq=3e6) - sim[1])) < 2e-3

    # synthetic noise-free curve at CQ on the grid, D between nodes: a fit freeing CQ finds both
    f_true, d_true = 0.3, 420.0
    rows = ["t_ms,dSS0,sigma"] + [f"{1e3 * a:.3f},{f_true * b:.8f},0.003" for a, b in zip(t[1:], sim[1][1:])]
    data = tmp_path / "syn.csv"
    data.write_text("\n".join(rows) + "\n")
    assert main(["fit", str(data), "--library", str(path), "--free", "cq", "--bound", "cq=2MHz:4MHz",
                 "--no-files", "--no-plot", "--no-intervals", "--json", "-"]) == 0
    res = json.loads(capsys.readouterr().out)
    par = res.get("parameters", res)
    assert par["coupling_hz"]["value"] == pytest.approx(d_true, abs=max(2 * par["coupling_hz"]["stderr"], 5))
    assert par["cq"]["value"] == pytest.approx(3e6, abs=max(2 * (par["cq"]["stderr"] or 0), 5e4))  # no stderr: edge
    assert any("interpolation error measured" in n for n in res["notes"])
    # a global fit of two curves of one site shares CQ (and D); each keeps its fraction
    data2 = tmp_path / "syn2.csv"
    data2.write_text("\n".join(["t_ms,dSS0,sigma"] + [f"{1e3 * a:.3f},{0.5 * b:.8f},0.003"
                                                       for a, b in zip(t[1:], sim[1][1:])]) + "\n")
    assert main(["fit", str(data), str(data2), "--library", str(path), "--free", "cq", "--share", "cq",
                 "--no-files", "--no-plot", "--no-intervals", "--json", "-"]) == 0
    res = json.loads(capsys.readouterr().out)
    par = res.get("parameters", res)
    assert "cq" in par and "c0_cq" not in par and "c1_cq" not in par
    assert par["cq"]["value"] == pytest.approx(3e6, abs=max(2 * (par["cq"]["stderr"] or 0), 5e4))  # no stderr: edge
    assert par["c1_fraction"]["value"] == pytest.approx(0.5, abs=0.02)
    # fixed CQ with a unit, and an unknown tabulated name is one clear error
    assert main(["fit", str(data), "--library", str(path), "--fix", "cq=3MHz", "--no-files", "--no-plot",
                 "--no-intervals", "--json", "-"]) == 0
    capsys.readouterr()
    assert main(["fit", str(data), "--library", str(path), "--free", "nu1", "--no-files", "--no-plot"]) == 2
    assert "unknown parameter 'nu1'" in capsys.readouterr().err


def test_cli_refuses_missing_spec_and_bad_vary(tmp_path, capsys):
    assert main(["library", "build", str(tmp_path / "none.toml"), "-o", str(tmp_path / "l.h5")]) == 2
    assert "no such simulation spec" in capsys.readouterr().err
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(RAW))
    assert main(["library", "build", str(spec), "-o", str(tmp_path / "l.h5"), "--vary", "cq=1:x:3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--vary" in err[0]
    assert main(["library", "info", str(tmp_path / "none.h5")]) == 2


def test_a_long_build_says_its_estimate_before_the_cluster_starts(tmp_path):
    # The README's example (11 CQ points at the bundled spec's powder): the estimate is the sum over the
    # coupling rows of spinsim's cost model, times the points still to compute, said as a note.
    from spinsim.plausibility import work_counts
    from spinsim.powder import make_powder
    from spinsim.progress import Progress

    from respdor.examples import example_path

    class Notes(Progress):
        def __init__(self):
            self.lines = []

        def note(self, text):
            self.lines.append(text)

    job = lib._BuildJob.prepare(str(example_path("c13_al27_respdor.toml")), tmp_path / "lib.h5",
                                [lib.parse_vary("cq=1:6MHz:11")], np.geomspace(100.0, 2000.0, 24), None, None, False)
    job.look(False, 0)
    notes = Notes()
    job.say_estimate(notes)
    sp, pw = job.sp, job.pw
    powder = make_powder(pw["scheme"], pw["n"], pw["n_gamma"])
    per_point = sum(work_counts(sp.system, sp.mas_rate, job.times[:n], sp.saturation, sp.recoupling, powder,
                                sp.max_dt, sp.method, 1, sp.centre_pulse)["cost"] for n in job.n_times)
    assert len(notes.lines) == 1 and notes.lines[0].startswith(f"estimated work: 11 points x {len(job.couplings)} couplings")
    assert f"{11 * per_point:.3g} units" in notes.lines[0]
    assert not (tmp_path / "lib.h5").exists() and not (tmp_path / "lib.h5.partial").exists()
