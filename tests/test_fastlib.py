"""The fast engine's kernels, threads and cold start.

* The rewritten step propagators (tridiagonal QL eigen-solver, no LAPACK) reproduce the curves
  the engine gave before the rewrite (``data/fast_engine_reference.json``) to 1e-12, on cases that
  cover both kernel paths (gamma-shared rotor period, step-by-step block), rf phases, offsets,
  centred pulses, a shaped pulse, and spin-1 and spin-5/2 partners.
* The eigen-solver and the step propagator against numpy / scipy on matrices built to be hard
  (degenerate diagonals, no coupling, a huge dynamic range).
* Threads: the same curve, the same progress, a clean Ctrl-C, whatever the number of threads.
* Cold start: ``respdor --help`` and an analytical ``respdor fit`` import no numba (so compile
  nothing); a fresh numba cache compiles only the fast engine's kernels for a fast-engine run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.linalg import expm

from spinsim.powder import zcw
from spinsim.sequences import cw_pulse, wurst_pulse
from spinsim.system import DipolarCoupling, Spin, SpinSystem

K = pytest.importorskip("spinsim._kernels")
from numba import njit  # noqa: E402

from spinsim import _drivers_fast  # noqa: E402
from spinsim.simulate import simulate_respdor  # noqa: E402


# the fast path's helpers have no Python wrapper: these kernels call them for the tests
@njit
def _tql2(d, e, V):
    return K._tql2(d, e, V, np.empty((12, d.shape[0])))


@njit
def _apply_steps(U, diag, off, dt, zph, phased):
    k, n = diag.shape
    return K._apply_steps(U, diag, np.empty((0, n)), off, dt, zph, phased, np.empty((k, n)), np.empty((k, n)),
                          np.empty((k, n, n)), np.empty((n, n), np.complex128), np.empty((k, n), np.complex128),
                          np.empty((12, k)))

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = Path(__file__).resolve().parent / "data" / "fast_engine_reference.json"
MAS = 10e3


def _cases():
    al = Spin("27Al", cq_hz=3e6, eta_q=0.3, q_euler=(0.0, 0.5236, 0.0))
    c13 = Spin("13C", csa_zeta_ppm=60, csa_eta=0.5)
    two = SpinSystem([c13, al], 9.4, [DipolarCoupling(0, 1, 503.0, (0.0, 0.3, 0.0))])
    three = SpinSystem([Spin("13C"), Spin("27Al", cq_hz=1.5e6, eta_q=0.1), Spin("2H", cq_hz=160e3, eta_q=0.1)], 9.4,
                       [DipolarCoupling(0, 1, 503.0), DipolarCoupling(0, 2, 300.0, (1.0, 1.2, 0.0))])
    ns = np.array([0, 1, 3, 7, 15])
    t = ns * 2 / MAS
    return {
        "cw_phase_offsets": dict(system=two, mas_rate=MAS, recoupling_times=t,
                                 saturation=cw_pulse("27Al", 30e3, 200e-6, 90.0), powder=zcw(8, 4),
                                 offsets={"27Al": 5e3, "13C": 200.0}),
        "cw_centred": dict(system=two, mas_rate=MAS, recoupling_times=t, saturation=cw_pulse("27Al", 30e3, 200e-6),
                           powder=zcw(8, 6), placement="centred"),
        # 137 us is no whole number of steps of a gamma-shared rotor period: step by step
        "cw_unshared": dict(system=two, mas_rate=MAS, recoupling_times=t,
                            saturation=cw_pulse("27Al", 50e3, 137e-6, 45.0), powder=zcw(5, 3)),
        "wurst_spin1": dict(system=three, mas_rate=MAS, recoupling_times=t,
                            saturation=wurst_pulse("27Al", 80e3, 200e-6, 500e3, step_s=1e-6), powder=zcw(8, 4),
                            offsets={"27Al": 2e4}),
        "cw_spin1_partner": dict(system=three, mas_rate=12.5e3, recoupling_times=ns * 2 / 12.5e3,
                                 saturation=cw_pulse("27Al", 20e3, 160e-6), powder=zcw(5, 4), max_dt=1e-6),
    }


SHARED = {"cw_phase_offsets": True, "cw_centred": True, "cw_unshared": False, "wurst_spin1": False,
          "cw_spin1_partner": True}


@pytest.mark.parametrize("name", sorted(SHARED))
def test_fast_engine_reproduces_the_curves_of_the_engine_before_the_rewrite(name):
    ref = json.loads(REFERENCE.read_text())[name]
    r = simulate_respdor(method="fast", **_cases()[name])
    assert r.info["engine"] == "fast" and r.info["shared_gamma_steps"] is SHARED[name]
    s0 = np.array([complex(*z) for z in ref["S0"]])
    s1 = np.array([complex(*z) for z in ref["S1"]])
    assert np.max(np.abs(r.S0_complex - s0)) < 1e-12
    assert np.max(np.abs(r.S1_complex - s1)) < 1e-12
    assert np.ptp(r.dSS0) > 0.05  # the curves move: the comparison is not vacuous


def test_a_long_consecutive_time_axis_equals_the_points_taken_one_by_one():
    """Consecutive n advance the assembly's phase factors by products; separate points start afresh."""
    case = dict(_cases()["cw_phase_offsets"], powder=zcw(5, 4))
    n_all = np.arange(0, 61)
    full = simulate_respdor(method="fast", **dict(case, recoupling_times=n_all * 2 / MAS))
    for n in (1, 17, 60):
        one = simulate_respdor(method="fast", **dict(case, recoupling_times=[0.0, n * 2 / MAS]))
        assert abs(one.S1_complex[1] - full.S1_complex[n]) < 1e-12
        assert abs(one.S0_complex[1] - full.S0_complex[n]) < 1e-12
    assert np.ptp(full.dSS0) > 0.3


@pytest.mark.parametrize("integrator", ["piecewise", "magnus4"])
def test_orientations_solved_two_at_a_time_do_not_mix(integrator):
    """The gamma-shared kernel steps two orientations together (and an odd last one with itself):
    chunks of 1, 2, 7 and 32 of 13 orientations give the same curve (to the rounding of the powder
    sum's order), with a phased rf and offsets."""
    case = dict(_cases()["cw_phase_offsets"], powder=zcw(13, 4), integrator=integrator)
    runs = [simulate_respdor(method="fast", chunk=c, **case) for c in (1, 2, 7, 32)]
    assert all(r.info["shared_gamma_steps"] for r in runs)
    for r in runs[1:]:
        assert np.max(np.abs(r.S1_complex - runs[0].S1_complex)) < 1e-13
        assert np.max(np.abs(r.S0_complex - runs[0].S0_complex)) < 1e-13
    assert np.ptp(runs[0].dSS0) > 0.05


def _tridiagonal(d, off):
    return np.diag(d) + np.diag(off[:-1], 1) + np.diag(off[:-1], -1)


HARD = {
    "random": (np.random.default_rng(1).normal(size=6) * 1e6, np.random.default_rng(2).normal(size=6) * 1e5),
    "no coupling": (np.array([3.0, -1.0, 2.0, 2.0]), np.zeros(4)),
    "degenerate diagonal": (np.full(6, 5e5), np.array([1.0, 2.0, 3.0, 2.0, 1.0, 0.0]) * 1e4),
    "central pair only": (np.array([9e6, 1e3, -1e3, 9e6]), np.array([0.0, 4e4, 0.0, 0.0])),
    "dynamic range": (np.array([1e8, -1e8, 1e-3, 2e-3, 5e7]), np.array([1e-2, 1e6, 1e-4, 3e2, 0.0])),
    "spin 1/2": (np.array([1e4, -2e4]), np.array([3e4, 0.0])),
    "one level": (np.array([7.0]), np.array([0.0])),
}


@pytest.mark.parametrize("case", sorted(HARD))
def test_tridiagonal_eigensolver_against_numpy(case):
    d0, e0 = HARD[case]
    H = _tridiagonal(d0, e0)
    d, e, V = d0.astype(float)[None].copy(), e0.astype(float)[None].copy(), np.eye(len(d0))[None].copy()
    assert _tql2(d, e, V)
    d, V = d[0], V[0]
    scale = np.abs(H).max()
    assert np.allclose(np.sort(d), np.linalg.eigvalsh(H), rtol=0, atol=1e-13 * scale)
    assert np.allclose(V @ V.T, np.eye(len(d0)), atol=1e-13)  # rows: orthonormal eigenvectors
    assert np.allclose(V.T @ np.diag(d) @ V, H, rtol=0, atol=1e-12 * scale)


def test_eigenproblems_solved_together_get_the_arithmetic_of_each_alone():
    """Problems that need different numbers of iterations (one already diagonal, one of huge
    dynamic range, a degenerate diagonal, random ones), solved in one call: each result is bitwise
    the one the problem gets alone."""
    rng = np.random.default_rng(11)
    probs = [HARD["random"], HARD["degenerate diagonal"], (np.arange(6.0), np.zeros(6)),
             (np.array([1e8, -1e8, 1e-3, 2e-3, 5e7, 3.0]), np.array([1e-2, 1e6, 1e-4, 3e2, 7.0, 0.0]))]
    probs += [(rng.normal(size=6) * 1e6, rng.normal(size=6) * 1e5) for _ in range(3)]
    d = np.array([p[0] for p in probs], float)
    e = np.array([p[1] for p in probs], float)
    V = np.repeat(np.eye(6)[None], len(probs), axis=0)
    d_all, e_all, V_all = d.copy(), e.copy(), V.copy()
    assert _tql2(d_all, e_all, V_all)
    for q in range(len(probs)):
        d1, e1, V1 = d[q:q + 1].copy(), e[q:q + 1].copy(), V[q:q + 1].copy()
        assert _tql2(d1, e1, V1)
        assert np.array_equal(d1[0], d_all[q]) and np.array_equal(V1[0], V_all[q])


@pytest.mark.parametrize("phase", [0.0, 0.7, -2.0])
def test_step_propagator_is_scipy_expm_with_the_rf_turned_by_its_phase(phase):
    spin = 2.5
    m = spin - np.arange(6)
    ip = np.diag(np.sqrt(spin * (spin + 1) - m[1:] * (m[1:] + 1)), 1)
    ix, iy = (ip + ip.T) / 2, (ip - ip.T) / 2j
    w1 = 2 * np.pi * 40e3
    diag = np.random.default_rng(3).normal(size=(2, 6)) * 2 * np.pi * 5e5  # two steps, solved together
    off = np.append(np.diagonal(w1 * ix, 1), 0.0)
    dt = 0.5e-6
    U0 = np.array([expm(-1j * np.diag(np.arange(6.0))), expm(-1j * (ix + np.diag(np.arange(6.0) ** 2)))])
    U = U0.copy()
    assert _apply_steps(U, diag, off, dt, np.exp(-1j * phase * m), phase != 0)
    for q in range(2):
        H = np.diag(diag[q]) + w1 * (np.cos(phase) * ix + np.sin(phase) * iy)
        assert np.allclose(U[q], expm(-1j * H * dt) @ U0[q], rtol=0, atol=1e-13)


def test_step_diagonals_numpy_twin_equals_the_kernel():
    """The driver's numpy step diagonals (gamma-shared path) equal fourier_integral's, step by step."""
    rng = np.random.default_rng(4)
    fi = rng.normal(size=(3, 9, 4)) + 1j * rng.normal(size=(3, 9, 4))
    fsi = rng.normal(size=(3, 9)) + 1j * rng.normal(size=(3, 9))
    m = 1.5 - np.arange(4)
    wr, dt = 2 * np.pi * 10e3, 0.5e-6
    G = _drivers_fast._time_factors(np.arange(7) * dt + 3e-6, dt, wr)
    got = _drivers_fast._step_diagonals(fi, fsi, m, G, dt)
    for o in range(3):
        for si, sigma in enumerate((1.0, -1.0)):
            ph = np.empty(4)
            ps = np.empty(1)
            rows = []
            for s in range(7):
                t0 = 3e-6 + s * dt
                K.fourier_integral(fi[o], t0, t0 + dt, wr, ph)
                K.fourier_integral(np.ascontiguousarray(fsi[o][:, None]), t0, t0 + dt, wr, ps)
                rows.append((ph + sigma * m * ps[0]) / dt)
            assert np.allclose(got[o, si], rows, rtol=1e-12, atol=0), (o, si)


def test_integral_weights_equal_the_kernels_fourier_integral():
    """The phase integrals of the fast engine's driver (weights shared by all crystallites, one real
    product) against fourier_integral, interval by interval; and a period with S flips against
    its segments summed with alternating signs."""
    rng = np.random.default_rng(6)
    F = rng.normal(size=(5, 9)) * 1e4 + 1j * rng.normal(size=(5, 9)) * 1e4
    wr = 2 * np.pi * 12.5e3
    t0 = rng.uniform(0, 2e-4, 6)
    t1 = t0 + rng.uniform(1e-7, 3e-4, 6)
    got = _drivers_fast._integrals(F, _drivers_fast._fint_weights(t0, t1, wr))
    out = np.empty(1)
    for o in range(5):
        for i in range(6):
            K.fourier_integral(np.ascontiguousarray(F[o][:, None]), t0[i], t1[i], wr, out)
            assert got[o, i] == pytest.approx(out[0], rel=1e-12, abs=1e-12 * np.abs(F).max() * 3e-4)
    taus = np.arange(4) * 0.8e-4 / 4
    tr = 2 * np.pi / wr
    period = _drivers_fast._integrals(F, _drivers_fast._period_phase_weights(wr, 1e-5, taus, (0.25, 0.5, 0.75, 1.0)))
    parts = sum((-1) ** k * _drivers_fast._integrals(
        F, _drivers_fast._fint_weights(1e-5 + taus + k * tr / 4, 1e-5 + taus + (k + 1) * tr / 4, wr)) for k in range(4))
    assert np.allclose(period, parts, rtol=1e-12, atol=1e-9)
    assert np.abs(period).max() > 1e-2  # not a vanishing sum


def _threaded(monkeypatch, threads, **kw):
    monkeypatch.setattr(_drivers_fast, "engine_threads", lambda: threads)
    return simulate_respdor(method="fast", **kw)


def test_threads_give_the_same_curve_and_count_every_crystallite(monkeypatch):
    case = dict(_cases()["cw_centred"], powder=zcw(21, 6), chunk=2)
    seen = {}
    for threads in (1, 2, 3):
        calls = []
        r = _threaded(monkeypatch, threads, progress=lambda done, total, label: calls.append((done, total)), **case)
        assert r.info["threads"] == threads
        seen[threads] = r
        # progress counts finished chunks only: 11 chunks of 2 orientations x 6 gamma angles (the last has 1)
        assert [d for d, _ in calls] == [12 * k for k in range(1, 11)] + [126] and {t for _, t in calls} == {126}
    for threads in (2, 3):
        assert np.array_equal(seen[threads].S1_complex, seen[1].S1_complex)
        assert np.array_equal(seen[threads].S0_complex, seen[1].S0_complex)


def test_ctrl_c_with_threads_stops_after_the_chunks_in_flight(monkeypatch):
    from spinsim.progress import Progress

    class InterruptThirdChunk(Progress):
        def __init__(self):
            self.advanced, self.closed = [], []

        def advance(self, n=1):
            self.advanced.append(n)
            if len(self.advanced) == 3:
                raise KeyboardInterrupt

        def close(self, interrupted=False):
            self.closed.append(interrupted)

    seen = InterruptThirdChunk()
    started = []
    work = _drivers_fast._chunk_factors

    def counting(system, euler, *rest):
        started.append(len(euler))
        return work(system, euler, *rest)

    monkeypatch.setattr(_drivers_fast, "_chunk_factors", counting)
    with pytest.raises(KeyboardInterrupt):
        _threaded(monkeypatch, 2, **dict(_cases()["cw_centred"], powder=zcw(55, 6), chunk=2), progress=seen)
    assert seen.advanced == [12, 12, 12] and seen.closed == [True]
    # at most 2 x threads chunks ahead of the last one taken were started; the rest were cancelled
    assert 3 <= len(started) <= 3 + 4


def _run_child(code, tmp_path, **env):
    env = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)


def test_help_and_an_analytical_fit_import_no_numba(tmp_path):
    code = (
        "import sys\n"
        "from respdor.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        "assert 'numba' not in sys.modules, 'numba imported by --help'\n"
        f"rc = main(['fit', {str(ROOT / 'data' / 'respdor_13C27Al_synthetic.csv')!r}, '--observe', '13C',"
        " '--partner', '27Al', '--output-dir', 'out'])\n"
        "assert rc == 0, rc\n"
        "assert 'numba' not in sys.modules, 'numba imported by an analytical fit'\n"
    )
    proc = _run_child(code, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "out").is_dir()


def test_a_fast_engine_run_with_an_empty_cache_compiles_only_fast_engine_kernels(tmp_path):
    """Which kernels a first run compiles (numba's compile events), on a two-orientation powder."""
    code = (
        "import json, numpy as np\n"
        "from numba.core import event\n"
        "rec = event.RecordingListener()\n"
        "event.register('numba:compile', rec)\n"
        "from spinsim.simulate import simulate_respdor\n"
        "from spinsim.system import Spin, SpinSystem, DipolarCoupling\n"
        "from spinsim.sequences import cw_pulse\n"
        "from spinsim.powder import zcw\n"
        "s = SpinSystem([Spin('13C'), Spin('27Al', cq_hz=3e6)], 9.4, [DipolarCoupling(0, 1, 503.0)])\n"
        "r = simulate_respdor(s, 1e4, [0, 2e-4], cw_pulse('27Al', 30e3, 2e-4), powder=zcw(2, 4))\n"
        "assert r.info['engine'] == 'fast'\n"
        "names = sorted({e.data['dispatcher'].py_func.__module__ + '.' + e.data['dispatcher'].py_func.__name__"
        " for _, e in rec.buffer if e.is_start and e.data['dispatcher'].py_func.__module__.startswith('spinsim')})\n"
        "print(json.dumps(names))\n"
    )
    proc = _run_child(code, tmp_path, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = json.loads(proc.stdout.strip().splitlines()[-1])
    fast = {"_tql2", "_apply_steps", "_mul", "_range_product", "_centre_and_assemble", "_assemble_bands",
            "respdor_fast_shared"}
    assert "spinsim._kernels.respdor_fast_shared" in names  # and not the step-by-step kernel
    assert {n.rsplit(".", 1)[1] for n in names} <= fast, names


@pytest.mark.parametrize("mult", [2, 3, 4, 6, 8])
def test_ideal_partner_factors_are_the_sums_over_partner_states(mult):
    """The ideal-saturation kernel (powers of one exponential per half) against the sums written out:
    c1 = sum_ab exp(2i m_b n phi_b) P[b, a] exp(-2i m_a n phi_a) / mult, c0 with P = 1, for a random
    transfer matrix and up to 1480 rotor periods (large phases)."""
    rng = np.random.default_rng(mult)
    m = (mult - 1) / 2 - np.arange(mult)
    P = rng.random((mult, mult))
    P /= P.sum(axis=0)
    phi_a, phi_b = rng.normal(size=(2, 7, 5))
    ns = np.arange(41) * 37
    xa = np.exp(-2j * m * (ns[:, None] * phi_a[..., None, None]))
    yb = np.exp(2j * m * (ns[:, None] * phi_b[..., None, None]))
    want1 = np.einsum("ogib,ba,ogia->ogi", yb, P, xa) / mult
    want0 = np.einsum("ogia,ogia->ogi", yb, xa) / mult
    c1, c0 = np.empty((2, 7, 5, 41), complex)
    K.ideal_partner_factors(P, phi_a, phi_b, ns, c1, c0)
    # the reference itself rounds exp(i 2 m n phi) at phases of a few thousand rad: ~1e-13 each
    assert np.max(np.abs(c1 - want1)) < 1e-11 and np.max(np.abs(c0 - want0)) < 1e-11
    assert np.abs(c0[..., 0] - 1).max() < 1e-15  # n = 0: no dephasing
