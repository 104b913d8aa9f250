"""What values an NMR quantity can have: the one table of plausible ranges, and the shortest distance.

Every quantity a user types (MAS rate, field, times, pulse lengths, rf amplitudes, distances,
couplings, CQ, shifts) has a range outside which no REDOR/RESPDOR experiment runs; a value
outside it is almost always a unit mistake (``mas_rate_hz = 10`` meant 10 kHz, ``distance_A =
0.25`` meant 0.25 nm). :func:`check` refuses such a value with one line that names the key, the
value with its unit, the range and -- when the same number in a neighbouring unit of the same
kind lands in the usual range -- the likely mistake. A value inside the range but outside the
usual one (a 1 kHz MAS rate) is returned as a warning instead.

The shortest distance two atoms can have is :func:`shortest_distance_angstrom`: a fraction
``CONTACT_FRACTION`` of the sum of their covalent radii (B. Cordero et al., Dalton Trans. 2008,
2832, the values ASE uses). Both the spec reader and the structure reader use it.

Importing this module compiles nothing (no numba).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ._experiment import is_ideal  # the saturation predicate, re-exported for the estimates of respdor

__all__ = ["Range", "RANGES", "UNITS", "check", "shortest_distance_angstrom", "CONTACT_FRACTION", "covalent_radius_angstrom",
           "work_counts", "work_from_counts", "UNITS_PER_CPU_SECOND", "DENSE_WEIGHT", "coupled_seconds",
           "FAST_TIMES_PER_STEP", "FAST_IDEAL_STEPS_PER_TIME", "is_ideal"]

#: Units of each kind of quantity, as a factor to the base unit (s, Hz, angstrom, T, ppm).
UNITS = {
    "time": {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9},
    "frequency": {"Hz": 1.0, "kHz": 1e3, "MHz": 1e6},
    "length": {"A": 1.0, "nm": 10.0, "pm": 0.01},
    # a field written as the 1H Larmor frequency in MHz ("400" for 9.4 T) is the usual mistake
    "field": {"T": 1.0, "MHz (1H Larmor frequency)": 1.0 / 42.577478},
    "ppm": {"ppm": 1.0},
    "count": {"": 1.0},
    "percent": {"%": 1.0},
    "angle": {"deg": 1.0},
}


@dataclass(frozen=True)
class Range:
    """Plausible values of one quantity, in the base unit of its kind.

    Attributes
    ----------
    what : str
        What the quantity is ("MAS rate"), for the message.
    kind : str
        Key of :data:`UNITS` (time, frequency, length, field, ppm, count, percent).
    lo, hi : float
        Values outside [lo, hi] are refused (magnitudes; zero is checked by the caller).
    usual_lo, usual_hi : float
        Values outside are warned about; a refused value whose number in another unit of the
        kind lands here is named as that unit mistake.
    """

    what: str
    kind: str
    lo: float
    hi: float
    usual_lo: float
    usual_hi: float


#: One home for the plausible range of every quantity a spec or an option carries.
RANGES = {
    "mas_rate": Range("MAS rate", "frequency", 500.0, 200e3, 2e3, 150e3),
    "field": Range("magnetic field B0", "field", 1.0, 40.0, 4.7, 35.3),
    "recoupling_time": Range("recoupling time", "time", 0.0, 1.0, 1e-5, 0.2),
    "t_max": Range("recoupling time", "time", 1e-5, 1.0, 1e-4, 0.2),
    "pi_pulse": Range("pi pulse length", "time", 1e-8, 1e-4, 5e-7, 5e-5),
    "saturation_length": Range("saturation pulse length", "time", 1e-7, 0.05, 1e-6, 0.02),
    "step": Range("time step", "time", 1e-9, 1e-4, 1e-8, 2e-5),
    # observe frequencies of NMR magnets: low-gamma nuclei on small magnets to 1H at 1.2 GHz, with margin
    "larmor": Range("observe (Larmor) frequency", "frequency", 1e6, 1.5e9, 5e6, 1.2e9),
    # spectral width of a recorded FID: a few Hz (high-resolution solution 1D) to the widest digitisers
    "spectral_width": Range("spectral width", "frequency", 10.0, 2e7, 100.0, 1e7),
    "rf_amplitude": Range("rf amplitude nu1", "frequency", 100.0, 1e6, 1e3, 3e5),
    "rf_offset": Range("rf offset or sweep", "frequency", 0.0, 1e7, 0.0, 5e6),
    # the upper bound of CQ is the Larmor frequency of the nucleus at the field (checked by the spec)
    "cq": Range("quadrupolar coupling CQ", "frequency", 0.0, math.inf, 1e3, 1e8),
    "distance": Range("distance", "length", 0.0, 100.0, 1.0, 20.0),
    "j": Range("J coupling", "frequency", 0.0, 5e3, 0.0, 1e3),
    "ppm": Range("chemical shift or CSA", "ppm", 0.0, 2e4, 0.0, 1.5e4),
    "powder": Range("number of powder orientations", "count", 1, 1e7, 2, 1e6),
    "gamma": Range("number of gamma angles", "count", 1, 4096, 2, 512),
    "rf_spread": Range("rf inhomogeneity FWHM", "percent", 0.0, 100.0, 0.0, 40.0),
    "rf_points": Range("number of rf inhomogeneity points", "count", 1, 101, 1, 41),
    "recycle_delay": Range("recycle delay or build-up time", "time", 1e-3, 1e4, 1e-2, 600.0),
    "rotor_periods": Range("number of rotor periods", "count", 0.0, 1e5, 0.0, 1e3),
    "wurst_n": Range("WURST exponent", "count", 1, 200, 2, 80),
    # any finite angle is a rotation; beyond one turn it is most likely a slip (warned, not refused)
    "euler_angle": Range("Euler angle", "angle", 0.0, math.inf, 0.0, 360.0),
}


def _fmt(value, unit):
    return f"{value:.6g} {unit}".strip() if 1e-3 <= abs(value) < 1e6 or value == 0 else f"{value:.4g} {unit}".strip()


def _fmt_best(value_si, kind):
    """A value in the unit of its kind that gives it the most readable number (30 kHz, 2.5 A)."""
    units = UNITS[kind]
    if kind not in ("time", "frequency"):
        return _fmt(value_si, next(iter(units)))
    fits = [(u, f) for u, f in units.items() if abs(value_si) >= f]
    unit, factor = max(fits, key=lambda uf: uf[1]) if fits else min(units.items(), key=lambda uf: uf[1])
    return _fmt(value_si / factor, unit)


def _likely(rng, value_si, unit):
    """The other unit of the same kind in which the typed number would be most usual, or ''."""
    units = UNITS[rng.kind]
    typed = value_si / units[unit]
    lo = rng.usual_lo if rng.usual_lo > 0 else rng.usual_hi * 1e-3
    centre = 0.5 * (math.log(lo) + math.log(rng.usual_hi))
    fits = [(abs(math.log(abs(typed * f)) - centre), alt, f) for alt, f in units.items()
            if alt != unit and typed != 0 and rng.usual_lo <= abs(typed * f) <= rng.usual_hi]
    if not fits:
        return ""
    _, alt, factor = min(fits)
    meant, value = _fmt(typed, alt), _fmt_best(typed * factor, rng.kind)
    return f"; likely a unit mistake: did you mean {meant}{'' if value == meant else f' (= {value})'}?"


def _base(rng):
    return next(iter(UNITS[rng.kind]))


def check(quantity, value_si, name, unit=None, lo=None, lo_reason=None, warn=True, hint=True, typed=None):
    """Refuse an impossible value, return a warning for an unusual one, else None.

    Parameters
    ----------
    quantity : str
        Key of :data:`RANGES`.
    value_si : float
        The value in the base unit of its kind (s, Hz, angstrom, T, ppm, count).
    name : str
        What the user typed it as (``"[experiment] mas_rate_hz"``, ``"--mas"``).
    unit : str, optional
        The unit the user wrote it in (a key of :data:`UNITS`); default the base unit.
    lo : float, optional
        A lower bound of this instance (e.g. the shortest distance of a pair), overriding the table's.
    lo_reason : str, optional
        Why ``lo`` is the lowest ("for C and Al (covalent radii)").
    warn : bool
        Return a warning for a value outside the usual range.
    hint : bool
        Name the likely unit mistake (off for a value derived from another quantity).
    typed : str, optional
        The value as the user typed it (an option: ``"10"``), shown before the value read.

    Raises
    ------
    ValueError
        One line: the name, the value with its unit, the range and the likely unit mistake.
    """
    rng = RANGES[quantity]
    unit = _base(rng) if unit is None else unit
    likely = _likely(rng, value_si, unit) if hint else ""
    read = _fmt(value_si / UNITS[rng.kind][unit], unit)
    shown = f"{name} {typed} (= {read})" if typed is not None else f"{name} = {read}"
    mag = abs(float(value_si))
    low = rng.lo if lo is None else lo
    if not math.isfinite(mag):
        raise ValueError(f"{shown}: not a finite number")
    if mag < low:
        raise ValueError(f"{shown}: below {_fmt_best(low, rng.kind)}, the lowest {rng.what} "
                         f"{lo_reason or 'an experiment can have'}{likely}")
    if mag > rng.hi:
        raise ValueError(f"{shown}: above {_fmt_best(rng.hi, rng.kind)}, the highest {rng.what} an experiment can have"
                         f"{likely}")
    if warn and mag != 0 and not rng.usual_lo <= mag <= rng.usual_hi:
        side = "below" if mag < rng.usual_lo else "above"
        edge = rng.usual_lo if mag < rng.usual_lo else rng.usual_hi
        return f"{shown}: unusual {rng.what} ({side} {_fmt_best(edge, rng.kind)}){likely}"
    return None


#: Two atoms closer than this fraction of the sum of their covalent radii cannot exist (the
#: shortest bonds, H-H 0.74 A, are 1.2 x the sum; 0.6 leaves room for any real structure).
CONTACT_FRACTION = 0.6


def covalent_radius_angstrom(element):
    """Covalent radius (angstrom) of an element: spinsim's table, else ASE's, else 0.31 (H, the smallest)."""
    from .isotopes import COVALENT_RADIUS_A

    if element in COVALENT_RADIUS_A:
        return COVALENT_RADIUS_A[element]
    try:
        from ase.data import atomic_numbers, covalent_radii
    except ImportError:  # the smallest radius: never refuses a real structure
        return COVALENT_RADIUS_A["H"]
    z = atomic_numbers.get(element)
    return float(covalent_radii[z]) if z else COVALENT_RADIUS_A["H"]


def shortest_distance_angstrom(element_a, element_b):
    """Shortest physically possible distance (angstrom) between two atoms of these elements."""
    return CONTACT_FRACTION * (covalent_radius_angstrom(element_a) + covalent_radius_angstrom(element_b))


#: Cost of one general-engine step per squared Hilbert-space size, relative to the fast engine's
#: (see :func:`work_counts`): its rf steps and products act block by block, so the cost grows about
#: as dim^2 (measured: dim 12 -> 72 costs 19x per crystallite and point, benchmarks/bench_scaling.py).
#: The general-engine cases of benchmarks/bench_engines.py take 0.4-1.8 x this model's time.
DENSE_WEIGHT = 42.0

#: The coupled engine's cost model (:func:`coupled_seconds`), CPU seconds of one thread on the machine
#: it was fitted on (``python benchmarks/bench_coupled.py --model``: 2 and 3 coupled 27Al and 23Na, CW
#: and ideal saturation, 6 and 21 times, piecewise and Magnus steps; ZCW 13 x 16): per n^3 of the
#: eigendecomposition of a block of more than 8 states, per complex multiply-add of the products,
#: per LAPACK call, per closed-form exponential of a block of at most 8 states.
COUPLED_EIGH_S = 2.9e-9
COUPLED_MAC_S = 2.2e-10
COUPLED_LAPACK_CALL_S = 1.7e-5
COUPLED_SMALL_CALL_S = 2.2e-6
#: The cost of a fourth-order Magnus step of the coupled engine against a piecewise-constant one
#: (complex instead of real eigenproblems, the commutator's products).
COUPLED_MAGNUS_STEP = 1.7
#: The closed-form exponentials of ``spinsim._coupled_blocks.expm_block`` (blocks up to this size) and
#: the most fine steps in a factor step (``spinsim._drivers_coupled.MAX_FINE_PER_FACTOR``): the engine's
#: values, repeated here so that an estimate imports no engine module (tests check they agree).
CLOSED_FORM_STATES = 8
FINE_PER_FACTOR = 8

#: Recoupling times of the fast engine that cost about one of its steps when the saturation is a pulse:
#: each time is a few complex products per crystallite (measured: a row of the README's library example
#: costs 1.51 s for its block and 2.25 ms per time, ZCW 4181 x 32;
#: benchmarks/bench_library_example.py).
FAST_TIMES_PER_STEP = 4
#: Steps of the fast engine that one recoupling time costs under an ideal saturation (no block: each
#: time takes its partner phase factors and the saturation matrix per crystallite; measured on the bundled
#: 13C{27Al} spec made ideal, ZCW 4181 x 32: 0.30 CPU s for 16 times, 2.86 s for 241, about 85 ns per
#: crystallite and time; benchmarks/bench_cost_model.py).
FAST_IDEAL_STEPS_PER_TIME = 1

#: Work units per CPU second, all engines (benchmarks/bench_bundled_specs.py prints the model's time beside
#: the measured one: on 2026-12-07 the model gave 1.9 x the CPU time of the bundled 13C{27Al} and SR4 specs,
#: 0.37 x that of the adiabatic-SR4 spec, whose shaped pulses give every gamma angle its own products; the
#: README's library example: 17 min estimated, 9.2 CPU min measured).
UNITS_PER_CPU_SECOND = 1.5e9


def work_counts(system, mas_rate, times_s, saturation=None, recoupling="redor", powder=None, max_dt=0.5e-6,
                method="auto", n_rf=1, centre_pulse=0.0, integrator="piecewise"):
    """The counts a simulation's cost is made of, from its inputs alone (no clock).

    The model: every crystallite (``n_ab`` x ``n_gamma`` x rf points) builds its propagators in
    steps of at most ``max_dt`` over one recoupling cycle and the saturation block (the general
    engine once for the gamma angles that share them), then advances one cycle per rotor period up
    to the last time and reads one point per time; the fast engine has no step per rotor period
    (closed form) and reads :data:`FAST_TIMES_PER_STEP` times for the cost of one step (under an ideal
    saturation, which has no block, a time costs :data:`FAST_IDEAL_STEPS_PER_TIME` steps). A step of the
    ``fast`` engine costs the sum over the partners of (2 x multiplicity)^2 (its two-spin factors);
    one of the ``general`` engine ``DENSE_WEIGHT`` x dim^2 (block-wise products in the whole
    space of dimension dim). The weights make one unit about the same time for every engine
    (:data:`UNITS_PER_CPU_SECOND`). The ``coupled`` engine has a model of its own, part by part
    (:func:`coupled_seconds`), converted to the same units.

    Returns
    -------
    dict
        ``crystallites``, ``steps``, ``per_step``, ``engine`` and ``cost`` (their product).
    """
    mults = [s.isotope.multiplicity for s in system.spins[1:]]
    if system.homonuclear_pairs() or method == "coupled":
        engine = "coupled"
    elif (isinstance(recoupling, str) and system.partners_independent() and centre_pulse == 0
          and method in ("auto", "fast")):
        engine = "fast"
    else:
        engine = "general"
    cycle = recoupling.duration if hasattr(recoupling, "duration") else 1.0 / mas_rate
    n_ab, n_gamma = (powder.n_ab, powder.n_gamma) if powder is not None else (987, 32)
    sat_s = getattr(saturation, "duration", 0.0) or 0.0
    return work_from_counts(engine, mults, n_ab * n_gamma * max(int(n_rf), 1), times_s, mas_rate,
                            cycle + sat_s + centre_pulse, max_dt, n_gamma=n_gamma,
                            ideal_saturation=is_ideal(saturation), saturation_s=sat_s, integrator=integrator)


def work_from_counts(engine, multiplicities, crystallites, times_s, mas_rate, block_s, max_dt=0.5e-6, n_gamma=1,
                     ideal_saturation=False, saturation_s=None, integrator="piecewise"):
    """:func:`work_counts` from the counts themselves (no spin system built: cheap for many partners).

    Parameters
    ----------
    engine : {"fast", "general", "coupled"}
    multiplicities : sequence of int
        2I + 1 of each partner.
    crystallites : int
    times_s : array_like
    mas_rate : float
    block_s : float
        Length (s) of the blocks whose propagators are built in ``max_dt`` steps (cycle, saturation).
    n_gamma : int
        gamma angles per orientation. The general engine builds its steps once for the gamma angles
        that lie whole steps apart (about gcd(n_gamma, tau_R / max_dt) of them), so its block steps
        count for that share of the crystallites only.
    ideal_saturation : bool
        The saturation is ideal (instantaneous): the fast engine then takes no steps at all, and each
        time costs :data:`FAST_IDEAL_STEPS_PER_TIME` steps.
    saturation_s : float, optional
        Length (s) of the saturation alone (the coupled engine's model); default ``block_s`` less one
        rotor period.
    integrator : {"piecewise", "magnus4"}
        The step (the coupled engine's model).
    """
    import numpy as np

    times = np.asarray(times_s, float)
    if engine == "coupled":
        if saturation_s is None:
            saturation_s = max(block_s - 1.0 / mas_rate, 0.0)
        seconds, steps = coupled_seconds(multiplicities, n_gamma, times.size, mas_rate, saturation_s, max_dt,
                                         ideal_saturation, integrator)
        cost = crystallites / max(int(n_gamma), 1) * seconds * UNITS_PER_CPU_SECOND
        return {"crystallites": int(crystallites), "steps": steps, "per_step": cost / (crystallites * steps),
                "engine": engine, "cost": float(cost)}
    t_last = float(times.max()) if times.size else 0.0
    block = int(np.ceil(block_s / max_dt - 1e-9))
    if engine == "general" and n_gamma > 1:
        cells = max(1, math.ceil(1.0 / (mas_rate * max_dt) - 1e-9))
        block = math.ceil(block / math.gcd(int(n_gamma), cells))
    if engine == "fast":
        # no step per rotor period: a recoupling time's propagators come in closed form from the block's,
        # at about a quarter of a step's cost (benchmarks/bench_library_example.py)
        steps = (times.size * FAST_IDEAL_STEPS_PER_TIME if ideal_saturation
                 else block + int(np.ceil(times.size / FAST_TIMES_PER_STEP)))
    else:
        steps = times.size + int(np.ceil(t_last * mas_rate - 1e-9)) + block
    if engine == "fast":
        per_step = float(sum((2 * m) ** 2 for m in multiplicities))
    else:  # in logarithms: 6^n partner states overflow a float for a few hundred partners (cost inf: refused)
        log_space = float(np.sum(np.log(np.asarray(multiplicities, float))))
        log_cost = np.log(DENSE_WEIGHT) + 2 * (np.log(2.0) + log_space)  # block products, whole space
        per_step = float(np.exp(min(log_cost, 700.0)))
    return {"crystallites": int(crystallites), "steps": steps, "per_step": per_step, "engine": engine,
            "cost": float(crystallites) * steps * per_step}


def total_m_blocks(multiplicities):
    """Sizes of the blocks of equal total m of partners of these multiplicities (2I + 1) coupled to
    each other (one homonuclear group: the blocks of the coupled engine's free evolution)."""
    import numpy as np

    counts = np.ones(1)
    for d in multiplicities:
        counts = np.convolve(counts, np.ones(int(d)))
    return np.rint(counts).astype(np.int64)


def coupled_seconds(multiplicities, n_gamma, n_times, mas_rate, saturation_s, max_dt, ideal_saturation,
                    integrator="piecewise"):
    """CPU seconds (one thread, the machine of the ``COUPLED_*`` constants) of one (alpha, beta)
    orientation of the coupled engine, part by part (``spinsim._coupled``), and its step count.

    Per S state, one rotor period of free steps (an eigendecomposition per block of equal total m
    and step) and, under rf, of factored rf steps (one per pair of partners and fine step, the
    factors applied to the N x N propagator once per factor step); per gamma angle the centre's
    dense N x N products; per gamma angle and time two products of a block-diagonal matrix with a
    dense one (an ideal saturation: one N x N transfer) and a few block products. Assumes all
    partners in one homonuclear group (the largest blocks). More than 12 partners: 1e250 s (no such
    run is possible; the caller refuses it).

    Returns
    -------
    (float, int)
        Seconds, and the steps (free and rf, both S states) of one rotor period.
    """
    import numpy as np

    mults = [int(m) for m in multiplicities]
    tr = 1.0 / mas_rate
    n_gamma = max(int(n_gamma), 1)
    n_per = n_gamma * math.ceil(tr / (n_gamma * max_dt) - 1e-9)
    if len(mults) > 12:  # 6^13 partner states: no coupled run of this size is possible
        return 1e250, 2 * n_per * (1 if ideal_saturation else 2)
    nb = total_m_blocks(mults).astype(float)
    N = float(np.prod(mults))
    big = nb[nb > CLOSED_FORM_STATES]
    n, d = len(mults), max(mults)
    pairs, dp = n * (n - 1) // 2, d * d
    eig = 2 * n_per * float(np.sum(big ** 3))
    lapack = 2 * n_per * big.size
    small = 2 * n_per * float(np.sum(nb <= CLOSED_FORM_STATES))
    block_mac = float(np.sum(nb ** 3))
    mac = 4 * n_per * block_mac  # free steps: each block's exponential and its product
    steps = 2 * n_per
    if ideal_saturation:
        mac += n_gamma * n_times * (N * N + 6 * block_mac)
    else:
        steps *= 2
        eig += 2 * n_per * pairs * dp ** 3
        lapack += 2 * n_per * pairs * (dp > CLOSED_FORM_STATES)
        small += 2 * n_per * n
        factor_steps = n_gamma * math.ceil(n_per / n_gamma / FINE_PER_FACTOR)  # cut at every gamma start
        mac += 2 * factor_steps * (pairs * N * N * dp + n * N * N * d)
        periods = max(1, round(saturation_s / tr / 2))
        mac += n_gamma * (2 * (periods + 1) + 2) * N ** 3
        mac += n_gamma * n_times * (2 * N * float(np.sum(nb ** 2)) + 6 * block_mac)
    magnus = COUPLED_MAGNUS_STEP if integrator == "magnus4" else 1.0
    seconds = (magnus * (COUPLED_EIGH_S * eig + COUPLED_LAPACK_CALL_S * lapack + COUPLED_SMALL_CALL_S * small)
               + COUPLED_MAC_S * mac)
    return seconds, int(steps)
