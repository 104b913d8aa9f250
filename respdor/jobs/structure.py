"""``respdor structure`` as one call: the dephasing curve a structure predicts, checked, and what a
two-spin fit reads from it.

:func:`predict_structure` does everything the command does for one structure -- partners within
the cutoff, defaults for tensors the file does not give (said), the work estimate (refused beyond
its limit unless ``allow_long``), the convergence check of the default powder (refined where
unconverged), the occupancy average of rare partners, the cutoff convergence, the apparent two-spin
reading and, with ``compare=``, the bonded fraction that matches a measured curve -- and returns a
:class:`StructurePrediction`. :func:`compare_structures` predicts several candidate structures
with the same settings and ranks them by chi^2 against a measured curve
(:class:`StructureComparison`). Nothing is written unless asked (``to_json(path)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..display import ResultDisplay, axes_or_new
from ..errors import ConvergenceWarning, DataWarning, FitWarning, UserError, warn

__all__ = ["predict_structure", "compare_structures", "StructurePrediction", "StructureComparison",
           "DEFAULT_POWDER"]

#: Default ZCW (alpha, beta) count and gamma count; every prediction made with defaults is
#: checked (spinsim.convergence) and refined where unconverged (measured costs: docs/structures.md).
DEFAULT_POWDER = (987, 16)

#: The step each integrator starts from (s), halved by the convergence check when it does not hold.
FIRST_STEP = {"piecewise": 0.5e-6, "magnus4": 1e-6}

#: What makes the work of a prediction smaller, named as parameters.
_REDUCE = "cutoff_angstrom, max_partners, n_powder, n_gamma, t_max_s, n_samples or cutoff_shells_angstrom"

_ENGINE = {"fast": "fast (per-crystallite product of the partners: exact for partners coupled only to the observed "
                   "spin)",
           "general": "general (dense propagation of the whole spin system)",
           "coupled": "coupled (partners coupled to each other: homonuclear ZZ + flip-flop, propagated in the "
                      "partner space)"}


class _Notes:
    """A stream whose lines go to ``progress.note`` (for the helpers that still write to a stream)."""

    def __init__(self, progress):
        self.progress, self.buffer = progress, ""

    def write(self, text):
        self.buffer += text
        while "\n" in self.buffer:
            line, self.buffer = self.buffer.split("\n", 1)
            if line.strip():
                self.progress.note(line.strip())

    def flush(self):
        pass


@dataclass
class _Setup:
    """The checked settings of a prediction (shared by the candidates of :func:`compare_structures`)."""

    observe: object
    observe_isotope: str | None
    partner: str
    cutoff: float
    max_partners: int | None
    mas: float
    field: float
    times: np.ndarray
    n_ab: int  # (alpha, beta) orientations of the ZCW set (rounded as spinsim.powder.zcw rounds)
    n_gamma: int
    explicit: dict
    tol: float
    check_explicit: bool
    saturation: object
    saturation_source: str | None
    cq_hz: float
    eta_q: float
    tensor_params: list
    method: str
    couplings: object
    abundance: object
    abundance_p: float
    n_samples: int
    seed: int
    shells: np.ndarray | None
    convergence_tol: float
    curve: object
    allow_long: bool
    integrator: str
    warnings: list = field(default_factory=list)

    def powder(self):
        """The ZCW set, built when the simulation starts (a size refused by the work check is never
        allocated)."""
        from spinsim import make_powder

        return make_powder("zcw", self.n_ab, self.n_gamma)


def _setup(observe, partner, kw) -> _Setup:
    """Every check of the settings that does not need the structure, in the command's order."""
    from spinsim import get_isotope, larmor_frequency_hz
    from spinsim.convergence import DEFAULT_TOL
    from spinsim.powder import zcw_size

    from ..structure import partner_abundance
    from ..units import plausible

    mas, field_t = float(kw["mas_rate_hz"]), float(kw["field_t"])
    if not mas > 0:
        raise UserError(f"mas_rate_hz={mas:g}: must be > 0 Hz")
    if not field_t > 0:
        raise UserError(f"field_t={field_t:g}: must be > 0 T")
    warnings = []
    plausible("mas_rate", mas, "mas_rate_hz", f"{mas:g}", warnings)
    plausible("field", field_t, "field_t", f"{field_t:g}", warnings)
    if kw["max_partners"] is not None and kw["max_partners"] < 1:
        raise UserError(f"max_partners={kw['max_partners']}: must be >= 1")
    explicit = {"alpha_beta": kw["n_powder"] is not None, "gamma": kw["n_gamma"] is not None, "step": False}
    n_ab = DEFAULT_POWDER[0] if kw["n_powder"] is None else int(kw["n_powder"])
    n_gamma = DEFAULT_POWDER[1] if kw["n_gamma"] is None else int(kw["n_gamma"])
    if n_ab < 1 or n_gamma < 1:
        raise UserError(f"n_powder={n_ab} n_gamma={n_gamma}: both must be >= 1")
    tol = DEFAULT_TOL if kw["powder_tol"] is None else kw["powder_tol"]
    if not (isinstance(tol, (float, int)) and np.isfinite(tol) and 0 < tol < 1):
        raise UserError(f"powder_tol={tol!r}: must be a number in (0, 1) (a change of dS/S0)")
    if kw["n_samples"] < 2:
        raise UserError(f"n_samples={kw['n_samples']}: must be >= 2")
    if not kw["convergence_tol"] > 0:
        raise UserError(f"convergence_tol={kw['convergence_tol']:g}: must be > 0")
    try:
        get_isotope(partner)
    except ValueError as exc:
        raise UserError(f"partner={partner}: {exc}") from None
    tensor_params = [n for n in ("cq_hz", "eta_q") if kw[n] is not None]
    cq_hz = 3e6 if kw["cq_hz"] is None else float(kw["cq_hz"])
    eta_q = 0.5 if kw["eta_q"] is None else float(kw["eta_q"])
    nu0 = larmor_frequency_hz(partner, field_t)
    if abs(cq_hz) >= nu0:  # the engine's high-field (first/second-order) treatment needs |C_Q| << nu0
        raise UserError(f"cq_hz={cq_hz:g}: {abs(cq_hz) / 1e6:g} MHz is not below the {partner} Larmor "
                        f"frequency {nu0 / 1e6:.4g} MHz at {field_t:g} T (bare numbers are MHz)")
    if not 0 <= eta_q <= 1:
        raise UserError(f"eta_q={eta_q:g}: must lie in [0, 1]")
    shells = _shells(kw["cutoff_shells_angstrom"])
    curve = _compare_curve(kw["compare"])
    rule = kw["partner_couplings"]
    rule = bool(rule) if rule is not None else ("auto" if kw["method"] in ("auto", "coupled") else False)
    if kw["integrator"] not in FIRST_STEP:
        raise UserError(f"integrator={kw['integrator']!r}: give 'piecewise' (constant Hamiltonian per step) or "
                        "'magnus4' (fourth-order Magnus steps)")
    return _Setup(observe, kw["observe_isotope"], partner, _cutoff(kw["cutoff_angstrom"]), kw["max_partners"],
                  mas, field_t, _times(curve, kw["t_max_s"], mas, warnings), zcw_size(n_ab), n_gamma,
                  explicit, float(tol), bool(kw["check_convergence"]), kw["saturation"], kw["saturation_source"],
                  cq_hz, eta_q, tensor_params, kw["method"], rule, kw["abundance"],
                  partner_abundance(partner, kw["abundance"]), int(kw["n_samples"]), int(kw["seed"]), shells,
                  float(kw["convergence_tol"]), curve, bool(kw["allow_long"]), kw["integrator"], warnings)


def _cutoff(value):
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise UserError(f"cutoff_angstrom={value:g}: must be > 0 angstrom")
    return value


def _shells(radii):
    """The cutoffs of the cutoff-convergence series: finite, positive, increasing, at most 51."""
    if radii is None:
        return None
    r = np.asarray(radii, float).ravel()
    if r.size < 2 or not np.all(np.isfinite(r)) or r[0] <= 0 or np.any(np.diff(r) <= 0):
        raise UserError("cutoff_shells_angstrom: give at least two increasing radii > 0 (angstrom)")
    if r.size > 51:
        raise UserError(f"cutoff_shells_angstrom: {r.size} cutoffs; at most 51")
    return r


def _compare_curve(compare):
    if compare is None:
        return None
    from ..curve import DephasingCurve

    if isinstance(compare, DephasingCurve):
        return compare
    from ..io import read_curve

    return read_curve(compare)


def _times(curve, t_max_s, mas, warnings):
    """Recoupling times: the measured ones with a curve to compare, else every 2 rotor periods to t_max_s."""
    from ..units import plausible

    if curve is not None:
        t = np.asarray(curve.time_s, float)
        n = np.rint(t * mas)
        if np.any(np.abs(t * mas - n) > 1e-6 * np.maximum(n, 1)) or np.any(n % 2):
            raise UserError(f"compare={curve.source}: recoupling times must be even numbers of rotor periods at "
                            f"mas_rate_hz={mas:g} Hz")
        return t
    t_max = float(t_max_s)
    plausible("t_max", t_max, "t_max_s", f"{t_max:g}s", warnings)
    n = int(np.floor(t_max * mas / 2 + 1e-9))
    if n < 3:  # the apparent two-spin fit needs three times > 0
        raise UserError(f"t_max_s={t_max:g}: shorter than 6 rotor periods at mas_rate_hz={mas:g} Hz")
    return np.arange(n + 1) * 2.0 / mas


def _options(observe, partner, kw):
    kw = dict(kw)
    for name in ("path", "paths", "progress"):
        kw.pop(name, None)
    return _setup(observe, partner, kw)


def predict_structure(path, observe, partner, *, observe_isotope=None, cutoff_angstrom=4.0, max_partners=None,
                      mas_rate_hz=10e3, field_t=14.1, t_max_s=8e-3, n_powder=None, n_gamma=None,
                      saturation="ideal", saturation_source=None, cq_hz=None, eta_q=None, method="auto",
                      partner_couplings=None, abundance="natural", n_samples=256, seed=0,
                      cutoff_shells_angstrom=None, convergence_tol=0.01, powder_tol=None, check_convergence=False,
                      compare=None, allow_long=False, integrator="piecewise", progress=None) -> StructurePrediction:
    """The RESPDOR dephasing curve a structure predicts, checked, and what a two-spin fit reads from it.

    Parameters
    ----------
    path : str or Path
        Structure file read by ASE (xyz/extxyz, CIF, POSCAR/CONTCAR, CASTEP ``.magres`` with its EFG
        and shielding tensors).
    observe : str, int or sequence of int
        Observed atoms: an element (``"C"``), a bonding selection (``"C[O2]"``: every C bonded to
        exactly two O; ``"Si[O4+]"``: four or more) or 0-based indices.
    partner : str
        Partner isotope, e.g. ``"27Al"``.
    observe_isotope : str, optional
        Observed isotope (default from the element: C -> 13C).
    cutoff_angstrom : float
        Partner search radius (angstrom); periodic images included, nearest first.
    max_partners : int, optional
        Keep at most this many partners per observed atom (the nearest).
    mas_rate_hz, field_t : float
        MAS rate (Hz) and B0 (T).
    t_max_s : float
        Longest recoupling time (s) without ``compare``; times are every 2 rotor periods.
    n_powder, n_gamma : int, optional
        ZCW (alpha, beta) orientations and gamma angles (default :data:`DEFAULT_POWDER`, checked
        and refined when unconverged; given values are checked with ``check_convergence``).
    saturation : str, Path or dict
        ``"ideal"``, a spec file whose ``[saturation]`` table is used, or such a table
        (:func:`respdor.structure.saturation_from_table`); ``saturation_source`` names where it came from.
    cq_hz, eta_q : float, optional
        C_Q (Hz, signed) and eta_Q of quadrupolar partners whose structure gives no EFG
        (default 3 MHz and 0.5).
    method : {"auto", "fast", "general", "coupled"}
        spinsim engine.
    partner_couplings : bool, optional
        Couple the partners to each other; default: while an observed atom's partner space has at
        most 36 states (:func:`respdor.structure.couplings_affordable`).
    abundance : "natural" or float
        Probability that a partner site holds the partner isotope (:func:`respdor.structure.partner_abundance`).
    n_samples, seed : int
        Monte Carlo occupancy patterns when more than 12 diluted partners, and their seed.
    cutoff_shells_angstrom : sequence of float, optional
        Also predict the curve for these cutoffs (angstrom) and state the change per shell; a
        warning when the last shell changes dS/S0 by more than ``convergence_tol``.
    powder_tol : float, optional
        Largest accepted change of dS/S0 in the convergence check (default spinsim's).
    check_convergence : bool
        Also check the powder settings given explicitly.
    compare : DephasingCurve or path, optional
        A measured curve: its times are used, and the bonded fraction of the prediction is fitted to it.
    allow_long : bool
        Run even when the estimated work is beyond the stated limit.
    integrator : {"piecewise", "magnus4"}
        Time steps of the simulation (:func:`spinsim.simulate_respdor`): a constant Hamiltonian per
        step of 0.5 us, or fourth-order Magnus steps of 1 us (fast and coupled engines; more
        accurate for less work on coupled partners). The convergence check halves the step either way.
    progress : optional
        See :mod:`spinsim.progress`; the work estimate and the convergence check are notes.

    Returns
    -------
    StructurePrediction

    Raises
    ------
    UserError
        A mistaken input, named by its parameter (``observe=C[O3]: no C atom matches ...``).

    Examples
    --------
    >>> import respdor
    >>> pred = respdor.predict_structure("data/al_carboxylate_model.xyz", "C[O2]", "27Al",
    ...                                  max_partners=3, n_powder=144, n_gamma=8, t_max_s=4e-3)  # doctest: +SKIP
    >>> pred.apparent_distance_angstrom  # doctest: +SKIP
    """
    from spinsim.progress import as_progress

    setup = _options(observe, partner, locals())
    return _predict(Path(path), setup, as_progress(progress), first=True)


def compare_structures(paths, observe, partner, **options) -> StructureComparison:
    """Predict several candidate structures with the same settings; with ``compare=`` (a measured
    curve) rank them by the chi^2 of their fitted bonded fraction, best first.

    Parameters
    ----------
    paths : sequence of str or Path
        Candidate structure files (each once).
    observe, partner, **options
        As for :func:`predict_structure`.

    Returns
    -------
    StructureComparison

    Examples
    --------
    >>> import respdor
    >>> ranked = respdor.compare_structures(["a.cif", "b.cif"], "C", "27Al", compare="curve.csv")  # doctest: +SKIP
    >>> ranked.best.structure  # doctest: +SKIP
    """
    from spinsim.progress import as_progress

    paths = [Path(p) for p in paths]
    seen = {}
    for p in paths:
        key = p.resolve()
        if key in seen:
            raise UserError(f"{p}: given twice as a structure (also as {seen[key]}); each candidate once")
        seen[key] = p
    if not paths:
        raise UserError("paths: give at least one structure file")
    reporter = as_progress(options.pop("progress", None))
    kw = {k: v.default for k, v in _signature_defaults().items()}
    unknown = set(options) - set(kw)
    if unknown:
        raise TypeError(f"compare_structures() got unexpected keyword argument(s) {sorted(unknown)}")
    kw.update(options)
    setup = _setup(observe, partner, kw)
    results = [_predict(p, setup, reporter, first=(k == 0)) for k, p in enumerate(paths)]
    return StructureComparison(results, ranked=setup.curve is not None)


def _signature_defaults():
    import inspect

    params = inspect.signature(predict_structure).parameters
    return {k: v for k, v in params.items() if v.kind is inspect.Parameter.KEYWORD_ONLY and k != "progress"}


def _predict(path, s: _Setup, progress, first) -> StructurePrediction:
    """Partners, checked curve, apparent two-spin reading (and comparison) of one structure."""
    from .. import structure as st
    from ..workload import check_work, search_work

    struct = st.read_structure(path)
    observed = st.select_observed(struct.atoms, s.observe)
    n_atoms, cells = st.search_size(struct, max([s.cutoff] + list(s.shells if s.shells is not None else [])))
    check_work(search_work(n_atoms, cells, "cutoff_angstrom (or the largest of cutoff_shells_angstrom)"),
               s.allow_long, f"predict_structure({path})", stream=_Notes(progress))
    obs_iso = _observed_isotope(struct, observed, s)
    sat, sat_text = st.saturation_from_table(s.saturation, obs_iso, s.partner, s.mas, s.field, s.saturation_source)
    if first:
        _first_warnings(s)
    warnings = list(s.warnings)
    lines = _partners(struct, path, observed, obs_iso, s)
    long_run = check_work(_simulation_work(lines, s, sat), s.allow_long, f"predict_structure({path})",
                          stream=_Notes(progress))
    sites, check = _checked_sites(struct, lines, obs_iso, s, sat, path, progress, long_run)
    pred = np.mean([x["dss0"] for x in sites], axis=0)
    app = st.apparent_two_spin(s.times, pred, obs_iso, s.partner)
    result = _result(path, obs_iso, s, sites, pred, app, sat, sat_text, check, warnings)
    _warn_missing_tensors(struct, path, s, result.warnings)
    if s.shells is not None:
        result.cutoff_convergence = _cutoff_convergence(struct, observed, obs_iso, s, sat, check.level, path,
                                                        result.warnings)
    if s.curve is not None:
        result.compare = _compare(s.curve, pred, result.warnings)
        result._curve = s.curve
    return result


def _observed_isotope(struct, observed, s):
    from .. import structure as st
    from ..units import check_observed_spin_half

    symbols = struct.atoms.get_chemical_symbols()
    obs_iso = s.observe_isotope or st.OBSERVED_ISOTOPE.get(symbols[observed[0]])
    if s.observe_isotope:
        other = sorted({symbols[i] for i in observed} - {st.element_of(s.observe_isotope)})
        if other:
            raise UserError(f"observe_isotope={s.observe_isotope} contradicts observe={s.observe}: the selected "
                            f"atoms are {', '.join(other)}, not {st.element_of(s.observe_isotope)}")
    if obs_iso is None:
        raise UserError(f"observe={s.observe}: no default isotope for {symbols[observed[0]]}; name it with "
                        "observe_isotope")
    check_observed_spin_half(obs_iso, "observe_isotope")
    return obs_iso


def _first_warnings(s):
    """Warnings about the settings, said once per call (also kept by every candidate)."""
    from spinsim.spec import MIN_POWDER

    from ..units import plausible

    if s.n_ab < MIN_POWDER:
        s.warnings.append(f"n_powder={s.n_ab}: {s.n_ab} (alpha, beta) orientation(s) is a (near) "
                          f"single crystal, not a powder average (below {MIN_POWDER} is never one)")
    if s.explicit["gamma"]:
        plausible("gamma", s.n_gamma, "n_gamma", str(s.n_gamma), s.warnings)
    for msg in s.warnings:
        warn(msg, DataWarning, stacklevel=4)


def _partners(struct, path, observed, obs_iso, s):
    """(atom, partners, couplings included) per observed atom."""
    from .. import structure as st

    symbols = struct.atoms.get_chemical_symbols()
    lines = []
    for i in observed:
        ps = st.find_partners(struct, i, obs_iso, s.partner, s.cutoff, s.max_partners, s.cq_hz, s.eta_q)
        if not ps:
            raise UserError(f"{path}: atom {i} ({symbols[i]}) has no {s.partner} within {s.cutoff:g} A; raise "
                            "cutoff_angstrom")
        couple = st.couplings_affordable(ps, s.partner) if s.couplings == "auto" else s.couplings
        lines.append((i, ps, bool(couple) and len(ps) > 1))
    return lines


def _simulation_work(lines, s, sat):
    """The work of every occupancy pattern of every observed atom (and of the cutoff shells)."""
    from spinsim import get_isotope
    from spinsim.plausibility import is_ideal, work_from_counts

    from .. import structure as st
    from ..workload import simulation_work

    mult = get_isotope(s.partner).multiplicity
    total, worst, runs = 0.0, None, 0
    for _, ps, couple in lines:
        engine = "coupled" if couple else ("general" if s.method == "general" else "fast")
        sat_s = getattr(sat, "duration", 0.0) or 0.0
        counts = work_from_counts(engine, [mult] * len(ps), s.n_ab * s.n_gamma, s.times, s.mas, 1.0 / s.mas + sat_s,
                                  FIRST_STEP[s.integrator], n_gamma=s.n_gamma, ideal_saturation=is_ideal(sat),
                                  saturation_s=sat_s, integrator=s.integrator)
        n = st.occupancy_patterns(len(ps), s.abundance_p, n_samples=s.n_samples)
        total, runs = total + n * counts["cost"], runs + n
        worst = counts if worst is None or counts["cost"] > worst["cost"] else worst
    shells = 1 if s.shells is None else 1 + len(s.shells)  # each shell at most the full cutoff's work
    return simulation_work(worst, _REDUCE, n_runs=runs * shells, total_cost=total * shells)


def _checked_sites(struct, lines, obs_iso, s, sat, path, progress, long_run):
    """Site curves at the powder, gamma and step that pass the convergence check
    (:func:`spinsim.convergence.check_convergence`; defaults refined, given values checked with
    ``check_convergence``)."""
    import time

    from spinsim.convergence import Level, check_convergence
    from spinsim.progress import Within, tracking

    from ..convergence import announce

    runs = {}

    def run(level):
        sites = []
        with tracking(progress, len(lines), f"{path.name}: {level.describe()}", "atoms") as bar:
            for k, (i, ps, couple) in enumerate(lines, 1):
                # the engine's chunks reach the bar without counting: a cancel is heard between them
                sites.append(_site(struct, i, ps, couple, obs_iso, s, sat, level, path, Within(bar)))
                bar.advance(1)
                if long_run:  # a long prediction: one note per observed atom
                    bar.note(f"simulated observed atom {i} ({k}/{len(lines)}, {level.describe()})")
        runs[level.describe()] = sites
        return np.mean([x["dss0"] for x in sites], axis=0)

    level = Level(s.powder(), FIRST_STEP[s.integrator])
    t0 = time.perf_counter()
    base = run(level)
    wall = time.perf_counter() - t0
    engines = {e for x in runs[level.describe()] for e in x["engines"]}
    uses_step = engines != {"fast"} or hasattr(sat, "events")  # only fast + ideal saturation has no step
    announce(s.explicit, s.check_explicit, wall, _Notes(progress), uses_step)
    check = check_convergence(run, level, s.explicit, s.tol, s.check_explicit, base=(base, wall),
                              uses_step=uses_step, nested=True, times_s=s.times)
    return runs[check.level.describe()], check


def _site(struct, i, ps, couple, obs_iso, s, sat, level, path, progress=False):
    """Curve of one observed atom (occupancy-averaged) and what was used for it."""
    from .. import structure as st

    csa = st.observed_csa(struct, i)
    try:
        y, info = st.site_curve(ps, obs_iso, s.partner, s.field, s.mas, s.times, sat, level.powder, s.method,
                                s.abundance_p, csa, n_samples=s.n_samples, seed=s.seed, partner_couplings=couple,
                                max_dt=level.max_dt, integrator=s.integrator, progress=progress)
    except ValueError as exc:
        if isinstance(exc, UserError):
            raise
        raise UserError(f"{path}: atom {i}: {exc}") from None
    from ..moments import effective_distance_angstrom, van_vleck_m2

    m2 = van_vleck_m2([p.distance_angstrom for p in ps], obs_iso, s.partner, s.abundance_p)
    return {"atom": i, "partners": ps, "dss0": y, "csa": csa, "partner_couplings": couple,
            "partner_coupling_max_hz": st.partner_coupling_max_hz(ps, s.partner), **info,
            "m2": {"m2": m2, "effective_distance_angstrom": effective_distance_angstrom(m2, obs_iso, s.partner)}}


def _result(path, obs_iso, s, sites, pred, app, sat, sat_text, check, warnings):
    """The result of one structure: choices, sites, warnings in the command's order."""
    from spinsim import get_isotope

    from .. import convergence as cv

    engines = sorted({e for x in sites for e in x["engines"]})
    quadrupolar = get_isotope(s.partner).spin > 0.5
    defaulted = sorted({p.index for x in sites for p in x["partners"] if not p.from_tensor}) if quadrupolar else []
    powder = check.level.powder
    choices = {"saturation": sat_text, "method": s.method, "engines": engines, "cq_default_hz": s.cq_hz,
               "eta_q_default": s.eta_q, "partners_with_default_cq": defaulted, "abundance": s.abundance,
               "abundance_probability": s.abundance_p,
               "averaging": f"equal-weight mean of the curves of {len(sites)} observed atom(s)",
               "cutoff_angstrom": s.cutoff, "max_partners": s.max_partners, "observe": s.observe,
               "observed_atoms": [x["atom"] for x in sites], "mas_rate_hz": s.mas, "field_t": s.field,
               "powder": f"{powder.name}: {powder.n_ab} (alpha, beta) x {powder.n_gamma} gamma",
               "integrator": s.integrator,
               "step_us": None if any(d.dimension == "step" and d.status == "not applicable" for d in check.dimensions)
               else check.level.max_dt * 1e6,
               "monte_carlo": {"samples": s.n_samples, "seed": s.seed}}
    if isinstance(s.observe, str) and "[" in s.observe:
        from ..structure import BOND_SCALE

        choices["bond"] = f"distance < {BOND_SCALE:g} x sum of covalent radii (ASE natural_cutoffs)"
    res = StructurePrediction(str(path), obs_iso, s.partner, [_site_json(x) for x in sites], choices, warnings,
                              app, np.asarray(s.times, float), np.asarray(pred, float), cv.check_json(check, s.times))
    _abundance_warning(res, sites)
    for x in sites:
        _coupling_warning(x, res.warnings)
    res._check_lines = cv.check_text(check, s.times)
    res._csa_note = _csa_note(sat, s.mas)
    for w in cv.check_warnings(check, s.times):
        warn(w, ConvergenceWarning, into=res.warnings, stacklevel=4)
    return res


def _abundance_warning(res, sites):
    occ = [x["occupancy"] for x in sites]
    mc = [o["max_standard_error"] for o in occ if o["method"] == "Monte Carlo"]
    if res.choices["abundance_probability"] < 1 and mc:
        warn(f"occupancy average by Monte Carlo: max standard error of dS/S0 {max(mc):.2g}", DataWarning,
             into=res.warnings, stacklevel=5)


def _coupling_warning(site, warnings):
    """A warning when the couplings of the partners to each other are left out."""
    d_pp, n = site["partner_coupling_max_hz"], len(site["partners"])
    if not site["partner_couplings"] and n > 1 and d_pp > 0:
        warn(f"atom {site['atom']}: product model: partner-partner couplings (up to {d_pp:.1f} Hz) left out; "
             "partner_couplings=True includes them (slower)", DataWarning, into=warnings, stacklevel=5)


def _csa_note(sat, mas):
    """Why the observed spin's CSA does or does not change this curve."""
    whole = not hasattr(sat, "events") or abs(sat.duration * mas - round(sat.duration * mas)) < 1e-9
    if whole:
        return (" (included; refocused by the ideal REDOR pi pulses and a centre of whole rotor periods, so it "
                "does not change this curve; it matters with finite pulses or SR4)")
    return " (included; the saturation block is not a whole number of rotor periods, so it can change the curve)"


def _site_json(x):
    parts = [{"atom": p.index, "distance_angstrom": p.distance_angstrom, "d_hz": p.d_hz, "cq_hz": p.cq_hz,
              "eta_q": p.eta_q, "q_euler_deg": [float(np.degrees(a)) for a in p.q_euler],
              "cq_source": "EFG" if p.from_tensor else ("default" if p.cq_hz else "none")} for p in x["partners"]]
    csa = None if x["csa"] is None else {"zeta_ppm": x["csa"][0], "eta": x["csa"][1],
                                         "euler_deg": [float(np.degrees(a)) for a in x["csa"][2]]}
    return {"atom": x["atom"], "partners": parts, "engines": x["engines"], "occupancy": x["occupancy"],
            "partner_couplings": x["partner_couplings"], "partner_coupling_max_hz": x["partner_coupling_max_hz"],
            "observed_csa": csa, "dSS0": [float(v) for v in x["dss0"]], "van_vleck": x["m2"]}


def _every_partner_has_efg(struct, element):
    idx = [i for i, e in enumerate(struct.atoms.get_chemical_symbols()) if e == element]
    return bool(idx) and all("efg" in struct.tensors.get(i, {}) for i in idx)


def _warn_missing_tensors(struct, path, s, warnings):
    """Partners whose EFG the file gives for other atoms of their element but not for them: named per atom."""
    from spinsim import get_isotope

    from .. import structure as st

    if get_isotope(s.partner).spin <= 0.5:
        return
    element = st.element_of(s.partner)
    missing = st.atoms_missing_tensor(struct, element, "efg")
    given = f"C_Q = {s.cq_hz / 1e6:g} MHz, eta_Q = {s.eta_q:g} (cq_hz, eta_q)"
    msg = None
    if path.suffix.lower() == ".magres" and not struct.tensors:
        msg = f"{path}: the file gives no tensor at all (no [magres] block: cut short?); every partner takes {given}"
    elif s.tensor_params and _every_partner_has_efg(struct, element):
        msg = (f"{' and '.join(s.tensor_params)} {'has' if len(s.tensor_params) == 1 else 'have'} no effect: "
               f"{path} gives an EFG tensor for every {element} atom")
    elif missing:
        msg = (f"{path}: no EFG tensor for {element} atom(s) {', '.join(str(int(v)) for v in missing)} although "
               f"the file gives one for the other {element} atoms; they take {given}")
    if msg:
        warn(msg, DataWarning, into=warnings, stacklevel=4)


def _cutoff_convergence(struct, observed, obs_iso, s, sat, level, path, warnings):
    """Mean curve per cutoff shell (at the checked powder ``level``), the change per shell, and a warning
    if unconverged."""
    from .. import structure as st

    try:
        rows = st.cutoff_convergence(struct, observed, obs_iso, s.partner, s.shells, s.mas, s.times, s.field,
                                     level.powder, s.max_partners, s.cq_hz, s.eta_q, saturation=sat,
                                     max_dt=level.max_dt, integrator=s.integrator, method=s.method,
                                     abundance=s.abundance_p,
                                     n_samples=s.n_samples, partner_couplings=s.couplings, seed=s.seed)
    except ValueError as exc:
        if isinstance(exc, UserError):
            raise
        raise UserError(f"{path}: cutoff_shells_angstrom: {exc}") from None
    for row in rows:
        row["dss0"] = None if row["dss0"] is None else [float(v) for v in row["dss0"]]
    last = rows[-1]["max_change"]
    if last is None or last > s.convergence_tol:
        what = "cannot be judged" if last is None else f"still changes dS/S0 by {last:.4f}"
        warn(f"cutoff convergence: the last shell ({rows[-1]['cutoff_angstrom']:g} A) {what} "
             f"(> {s.convergence_tol:g}): raise the cutoff", ConvergenceWarning, into=warnings, stacklevel=4)
    return rows


def _compare(curve, pred, warnings):
    """Bonded fraction f of f * prediction by weighted linear least squares, and chi^2."""
    y = np.asarray(curve.dss0, float)
    w = np.ones_like(y) if curve.sigma is None else 1.0 / np.asarray(curve.sigma, float) ** 2
    f = float(np.sum(w * y * pred) / np.sum(w * pred * pred))
    chi2 = float(np.sum(w * (y - f * pred) ** 2))
    res = {"curve": str(curve.source), "fraction": f, "chi2": chi2, "weighted": curve.sigma is not None}
    why = ("fitted fraction > 1: the structure predicts less dephasing than measured" if f > 1 else
           f"fitted fraction {f:.3g} <= 0: the measured curve does not dephase the way the structure predicts "
           "(negative dS/S0, a reversed order S0/S, or no dephasing)" if f <= 0 else None)
    if why:
        res["warning"] = why
        warn(why, FitWarning, into=warnings, stacklevel=4)
    return res


def _degrees(angles):
    """Angles (deg) as '-162.5, 90.0, 0.0' (no '-0.0')."""
    return ", ".join(f"{round(float(a), 1) + 0.0:.1f}" for a in angles)


@dataclass(repr=False)
class StructurePrediction(ResultDisplay):
    """What :func:`predict_structure` (``respdor structure``) predicts for one structure.

    Attributes
    ----------
    structure : str
        The structure file.
    observed_isotope, partner : str
    sites : list of dict
        Per observed atom: its partners (distance in angstrom, D in Hz, C_Q, eta_Q, EFG orientation,
        where C_Q came from), engines, occupancy average, partner couplings, CSA and its curve.
    choices : dict
        Every setting used (saturation, powder after the convergence check, cutoff, ...).
    warnings : list of str
    apparent_two_spin : dict
        ``coupling_hz``, ``distance_angstrom``, ``fraction``, ``chi2`` of an analytical two-spin fit
        (fraction free) of the predicted curve.
    t_s, dss0 : ndarray
        The predicted curve: recoupling times (s) and dS/S0 (equal-weight mean of the observed atoms).
    convergence : dict
        The convergence check of the powder and step.
    cutoff_convergence : list of dict or None
        Per cutoff shell: ``cutoff_angstrom``, ``n_partners``, ``dss0``, ``max_change``.
    compare : dict or None
        With a measured curve: ``curve``, ``fraction``, ``chi2``, ``weighted`` (and ``rank`` among
        candidates).
    """

    structure: str
    observed_isotope: str
    partner: str
    sites: list
    choices: dict
    warnings: list
    apparent_two_spin: dict
    t_s: np.ndarray
    dss0: np.ndarray
    convergence: dict | None = None
    cutoff_convergence: list | None = None
    compare: dict | None = None

    def __post_init__(self):
        self._check_lines, self._csa_note, self._curve = [], "", None

    @property
    def van_vleck_m2(self) -> dict:
        """Van Vleck M2 (rad^2 s^-2) of the observed atoms, summed over the partners each uses (weighted by
        their occupancy), averaged over the atoms as the curve is, and its effective distance (angstrom)."""
        from ..moments import effective_distance_angstrom

        values = [x["van_vleck"]["m2"] for x in self.sites if "van_vleck" in x]
        m2 = float(np.mean(values)) if values else math.nan
        return {"m2": m2, "effective_distance_angstrom": effective_distance_angstrom(m2, self.observed_isotope,
                                                                                      self.partner)
                if values else math.nan}

    @property
    def apparent_distance_angstrom(self) -> float:
        """The distance (angstrom) an analytical two-spin fit reads from the predicted curve."""
        return float(self.apparent_two_spin["distance_angstrom"])

    def _title(self):
        return f"{Path(self.structure).name}: {self.observed_isotope}{{{self.partner}}}"

    def _headline(self):
        a = self.apparent_two_spin
        n = sum(len(x["partners"]) for x in self.sites)
        text = (f"r_app = {a['distance_angstrom']:.3f} A (D = {a['coupling_hz']:.0f} Hz, f = {a['fraction']:.2f}); "
                f"{len(self.sites)} atom(s), {n} partner(s)")
        vv = self.van_vleck_m2
        if math.isfinite(vv["m2"]):
            text += f"; M2 = {vv['m2']:.3g} rad^2/s^2 (r_eff {vv['effective_distance_angstrom']:.2f} A)"
        if self.compare:
            text += f"; fraction {self.compare['fraction']:.3f}, chi2 {self.compare['chi2']:.3g}"
        return text

    def _rows(self):
        return [{"atom": x["atom"], "partner": p["atom"], "distance_angstrom": p["distance_angstrom"],
                 "d_hz": p["d_hz"], "cq_hz": p["cq_hz"], "eta_q": p["eta_q"], "cq_source": p["cq_source"]}
                for x in self.sites for p in x["partners"]]

    def to_dict(self) -> dict:
        out = {"structure": self.structure, "observed_isotope": self.observed_isotope, "partner": self.partner,
               "sites": self.sites, "choices": self.choices, "warnings": list(self.warnings),
               "apparent_two_spin": self.apparent_two_spin, "t_s": [float(x) for x in self.t_s],
               "dSS0_predicted": [float(x) for x in self.dss0], "convergence": self.convergence,
               "van_vleck": self.van_vleck_m2}
        if self.cutoff_convergence is not None:
            out["cutoff_convergence"] = self.cutoff_convergence
        if self.compare is not None:
            out["compare"] = self.compare
        return out

    @classmethod
    def from_dict(cls, data: dict):
        if "candidates" in data:
            raise UserError("this JSON holds several candidates: read it with StructureComparison.from_json")
        try:
            return cls(data["structure"], data["observed_isotope"], data["partner"], data["sites"], data["choices"],
                       list(data.get("warnings", [])), data["apparent_two_spin"], np.asarray(data["t_s"], float),
                       np.asarray(data["dSS0_predicted"], float), data.get("convergence"),
                       data.get("cutoff_convergence"), data.get("compare"))
        except KeyError as exc:
            raise UserError(f"not the JSON of a structure prediction: no {exc.args[0]!r}") from None

    def plot(self, ax=None, label=None):
        """The predicted curve (scaled by the fitted fraction, over the data, when compared) on ``ax``."""
        ax = axes_or_new(ax, (5.5, 4.0))
        if self._curve is not None:
            c = self._curve
            ax.errorbar(1e3 * np.asarray(c.time_s), c.dss0, yerr=c.sigma, fmt="ko", ms=3, label="data")
        f = self.compare["fraction"] if self.compare else 1.0
        name = label or Path(self.structure).name
        ax.plot(1e3 * self.t_s, f * self.dss0, "-", label=name + (f" (f = {f:.2f})" if self.compare else ""))
        ax.set_xlabel("recoupling time (ms)")
        ax.set_ylabel("dS/S0")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        return ax

    def report_lines(self) -> list[str]:
        """What the command prints about this prediction (without its warnings), one line each."""
        return _report_lines(self)


def _report_lines(r: StructurePrediction) -> list[str]:
    from spinsim import get_isotope

    c = r.choices
    quadrupolar = get_isotope(r.partner).spin > 0.5
    out = [f"respdor structure: {r.structure}, observed {r.observed_isotope} ({len(r.sites)} atom(s)), partner "
           f"{r.partner}, MAS {c['mas_rate_hz']:g} Hz, B0 {c['field_t']:g} T, powder {c['powder']}",
           f"  recoupling: ideal REDOR pi pulses on {r.observed_isotope}; saturation: {c['saturation']}",
           f"  engine: {', '.join(_ENGINE[e] for e in c['engines'])}"
           + ("; fourth-order Magnus steps" if c.get("integrator") == "magnus4" else "")]
    if c["partners_with_default_cq"]:
        ideal = " (with ideal saturation C_Q does not change the curve)" if c["saturation"].startswith("ideal") else ""
        out.append(f"  no EFG in the structure for partner atom(s) "
                   f"{', '.join(str(int(v)) for v in c['partners_with_default_cq'])}: C_Q = "
                   f"{c['cq_default_hz'] / 1e6:g} MHz, eta_Q = {c['eta_q_default']:g}, EFG axes along the "
                   f"structure's axes{ideal}")
    out += _abundance_lines(r)
    for x in r.sites:
        out.append(f"  atom {x['atom']}: {len(x['partners'])} partner(s); {_coupling_text(x)}")
        for p in x["partners"]:
            src = {"EFG": "from EFG, PAS Euler " + _degrees(p["q_euler_deg"]) + " deg", "default": "default",
                   "none": "spin 1/2" if not quadrupolar else "default"}[p["cq_source"]]
            out.append(f"    atom {p['atom']:4d}  r = {p['distance_angstrom']:.3f} A  D = {p['d_hz']:.1f} Hz  "
                       f"C_Q = {p['cq_hz'] / 1e6:.3g} MHz, eta_Q = {p['eta_q']:.2f} ({src})")
        if "van_vleck" in x:
            out.append(f"    van Vleck M2 = {x['van_vleck']['m2']:.4g} rad^2/s^2, effective distance "
                       f"{x['van_vleck']['effective_distance_angstrom']:.3f} A (the one partner with this M2)")
        if x["observed_csa"] is not None:
            out.append(f"    {r.observed_isotope} CSA from the .magres shielding: zeta = "
                       f"{x['observed_csa']['zeta_ppm']:.1f} ppm, eta = {x['observed_csa']['eta']:.2f}{r._csa_note}")
    a = r.apparent_two_spin
    vv = r.van_vleck_m2
    out += [f"  curve: equal-weight mean of the {len(r.sites)} observed atom(s)' curves; their mean van Vleck M2 = "
            f"{vv['m2']:.4g} rad^2/s^2 (effective distance {vv['effective_distance_angstrom']:.3f} A)",
            f"  apparent two-spin fit of the predicted curve: D = {a['coupling_hz']:.1f} Hz, "
            f"r = {a['distance_angstrom']:.3f} A, fraction = {a['fraction']:.3f}"]
    out += ["  " + line for line in r._check_lines]
    out += _shell_lines(r.cutoff_convergence)
    if r.compare:
        kind = "chi^2" if r.compare["weighted"] else "sum of squared residuals (no sigma in the file)"
        out.append(f"  compared with {r.compare['curve']}: bonded fraction = {r.compare['fraction']:.3f}, {kind} = "
                   f"{r.compare['chi2']:.4g} ({len(r.t_s)} points)")
    return out


def _coupling_text(site):
    d_pp, n = site["partner_coupling_max_hz"], len(site["partners"])
    if site["partner_couplings"]:
        return f"partner-partner couplings included (up to {d_pp:.1f} Hz)"
    if n > 1 and d_pp > 0:
        return f"product model: partner-partner couplings (up to {d_pp:.1f} Hz) left out"
    return "no partner-partner coupling" if n > 1 else "one partner"


def _abundance_lines(r):
    p = r.choices["abundance_probability"]
    if p >= 1:
        return []
    occ = [x["occupancy"] for x in r.sites]
    kinds = sorted({o["method"] for o in occ})
    mc = r.choices["monte_carlo"]
    line = f"  {r.partner} sites occupied with probability {p:.4g}: curves averaged over occupancy patterns ("
    if "Monte Carlo" in kinds:
        se = max(o["max_standard_error"] for o in occ if o["method"] == "Monte Carlo")
        line += f"Monte Carlo, {mc['samples']} patterns, seed {mc['seed']}, max standard error of dS/S0 {se:.2g}"
        if "exact enumeration" in kinds:
            line += "; exact enumeration for sites with at most 12 partners"
    else:
        left = max(o["omitted_probability"] for o in occ)
        line += f"exact enumeration, patterns of total probability {left:.1g} left out"
    return [line + ")"]


def _shell_lines(rows):
    if rows is None:
        return []
    out = ["  cutoff convergence (max |d dS/S0| from the previous cutoff):"]
    for row in rows:
        change = "-" if row["max_change"] is None else f"{row['max_change']:.4f}"
        if row["dss0"] is None:
            change = "- (an observed atom has no partner)"
        out.append(f"    {row['cutoff_angstrom']:6.2f} A  {row['n_partners']:4d} partner(s)  {change}")
    return out


class StructureComparison(ResultDisplay):
    """Several candidate structures predicted with the same settings (:func:`compare_structures`),
    ranked by chi^2 against a measured curve when one was given.

    Attributes
    ----------
    candidates : list of StructurePrediction
        In the order given; ``compare["rank"]`` is each one's place (1 = lowest chi^2).
    warnings : list of str
        The candidates' warnings, in order.
    """

    def __init__(self, candidates, ranked=False):
        self.candidates = list(candidates)
        if ranked:
            for k, r in enumerate(sorted(self.candidates, key=lambda r: r.compare["chi2"]), 1):
                r.compare["rank"] = k

    @property
    def warnings(self) -> list:
        return sum((list(r.warnings) for r in self.candidates), [])

    @property
    def ranked(self) -> list:
        """The candidates best first (in the given order when no curve was compared)."""
        if all(r.compare and "rank" in r.compare for r in self.candidates):
            return sorted(self.candidates, key=lambda r: r.compare["rank"])
        return list(self.candidates)

    @property
    def best(self) -> StructurePrediction:
        return self.ranked[0]

    def _title(self):
        return f"{len(self.candidates)} candidate structures"

    def _headline(self):
        if self.candidates and self.candidates[0].compare:
            return "best " + Path(self.best.structure).name + f" (chi2 {self.best.compare['chi2']:.3g})"
        return ", ".join(Path(r.structure).name for r in self.candidates)

    def _rows(self):
        rows = []
        for r in self.ranked:
            row = {"structure": r.structure, "apparent_distance_angstrom": r.apparent_distance_angstrom,
                   "apparent_coupling_hz": r.apparent_two_spin["coupling_hz"]}
            if r.compare:
                row.update(rank=r.compare.get("rank"), fraction=r.compare["fraction"], chi2=r.compare["chi2"])
            rows.append(row)
        return rows

    def to_dict(self) -> dict:
        return {"candidates": [r.to_dict() for r in self.candidates], "warnings": self.warnings}

    @classmethod
    def from_dict(cls, data: dict):
        items = data.get("candidates")
        if not isinstance(items, list):
            items = [data]  # one structure: the command writes its prediction itself
        return cls([StructurePrediction.from_dict(d) for d in items])

    def plot(self, ax=None):
        """Each candidate's prediction (scaled by its fitted fraction when compared) over the data."""
        ax = axes_or_new(ax, (5.5, 4.0))
        for k, r in enumerate(self.candidates):
            if k and r._curve is not None:  # the data once
                r = _without_curve(r)
            r.plot(ax)
        return ax


def _without_curve(r):
    import copy

    c = copy.copy(r)
    c._curve = None
    return c
