"""The dephasing curve a structure predicts (spinsim), averaged over the occupancy of the partner sites,
what a two-spin fit reads from it, and how it changes with the cutoff."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import UserError
from .partners import build_system, couplings_affordable, find_partners
from .reading import observed_csa

def predict_curve(systems, mas_rate_hz, times_s, saturation=None, powder=None, method="auto"):
    """dS/S0 predicted for one or several observed sites (their curves averaged).

    Parameters
    ----------
    systems : SpinSystem or list of SpinSystem
        One per observed atom (equal weights).
    mas_rate_hz : float
    times_s : array_like
        Recoupling times (s), whole numbers of rotor periods.
    saturation : spinsim Block or IdealSaturation, optional
        Default: ideal complete saturation.
    powder : spinsim Powder, optional
    method : {"auto", "fast", "general", "coupled"}
        ``"fast"``/``"auto"``: per-crystallite product of partners (exact for partners coupled
        only to the observed spin); ``"general"``: dense simulation of the whole spin system;
        ``"coupled"`` (what ``"auto"`` picks for systems with partner-partner couplings):
        partner-space propagation with the flip-flop terms.

    Returns
    -------
    ndarray
        dS/S0 at ``times_s``.
    """
    from spinsim import simulate_respdor

    systems = systems if isinstance(systems, (list, tuple)) else [systems]
    curves = [simulate_respdor(s, mas_rate_hz, times_s, saturation=saturation, powder=powder, method=method).dSS0
              for s in systems]
    return np.mean(curves, axis=0)


def _spec_tables(path):
    """The raw tables of a spec file (its own checks come when the saturation table is parsed)."""
    import json

    from spinsim.spec import SpecError, _read_spec_text

    text = _read_spec_text(Path(path))
    try:
        if Path(path).suffix.lower() == ".json":
            return json.loads(text)
        try:
            import tomllib
        except ModuleNotFoundError:  # pragma: no cover
            import tomli as tomllib
        return tomllib.loads(text)
    except ValueError as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        raise SpecError(f"not valid {Path(path).suffix.lstrip('.').upper()}: {exc}") from None


def saturation_from_table(saturation, observed_isotope, partner_isotope, mas_rate_hz, field_t=14.1, source=None):
    """The partner saturation of a prediction, from a spec ``[saturation]`` table or a spec file.

    Parameters
    ----------
    saturation : str, Path or dict
        ``"ideal"`` (instantaneous, complete); a spinsim spec file (``.toml``/``.json``) whose
        ``[saturation]`` table is used; or such a table as a dict (``{"type": "cw", "nu1_khz": 30,
        "length_rotor_periods": 2}``; types cw, wurst, dfs, pm, ideal; format in docs/simulation.md).
    observed_isotope, partner_isotope : str
    mas_rate_hz, field_t : float
        MAS rate (Hz; lengths in rotor periods refer to it) and B0 (T).
    source : str, optional
        Where the table came from, for messages and the description (default: the file, or
        ``"the saturation table"``).

    Returns
    -------
    saturation : spinsim Block or IdealSaturation
    description : str
        One line: what saturates the partner, for how long, and from where.

    Raises
    ------
    UserError
        ``saturation=<source>: <reason>`` for a file without a ``[saturation]`` table or a table
        spinsim refuses.
    """
    from spinsim.simulate import IdealSaturation
    from spinsim.spec import Spec, SpecError

    table, where = _saturation_table(saturation, source)
    raw = {"experiment": {"type": "respdor", "field_T": float(field_t), "mas_rate_hz": float(mas_rate_hz),
                          "t_max_ms": 1e3 * 2.0 / mas_rate_hz},
           "spins": [{"isotope": observed_isotope}, {"isotope": partner_isotope}], "saturation": table}
    try:
        sat = Spec(raw).saturation
    except SpecError as exc:
        raise UserError(f"saturation={source or where}: {exc}") from None
    if isinstance(sat, IdealSaturation):
        return sat, f"ideal instantaneous saturation ({sat.kind}, efficiency {sat.efficiency:g})"
    return sat, f"{sat.label} on {partner_isotope} for {sat.duration * 1e6:g} us ({sat.duration * mas_rate_hz:g} " \
                f"rotor periods), from {where}"


def _saturation_table(saturation, source):
    """(spec table, where it came from) of the ``saturation`` argument of :func:`saturation_from_table`."""
    from spinsim.spec import SpecError

    if saturation is None or (isinstance(saturation, str) and saturation.strip().lower() == "ideal"):
        return {"type": "ideal"}, source or "ideal"
    if isinstance(saturation, dict):
        return dict(saturation), source or "the saturation table"
    if isinstance(saturation, (str, Path)) and Path(saturation).suffix.lower() in (".toml", ".json"):
        name = source or str(saturation)
        try:
            raw = _spec_tables(saturation)
        except SpecError as exc:
            raise UserError(f"saturation={name}: {exc}") from None
        if not isinstance(raw.get("saturation"), dict):
            raise UserError(f"saturation={name}: the file has no [saturation] table")
        return raw["saturation"], f"[saturation] of {name}"
    raise UserError(f"saturation={source or saturation}: give 'ideal', a spec [saturation] table (dict) or a spec "
                    "file (.toml/.json) with a [saturation] table")


def _simulate(system, mas_rate_hz, times_s, saturation, powder, method, max_dt=0.5e-6, progress=False,
              integrator="piecewise"):
    from spinsim import simulate_respdor

    res = simulate_respdor(system, mas_rate_hz, times_s, saturation=saturation, powder=powder, method=method,
                           max_dt=max_dt, integrator=integrator, progress=progress)
    return np.asarray(res.dSS0, float), res.info["engine"]


def _with_observed_csa(system, csa):
    from spinsim import Spin, SpinSystem

    if csa is None:
        return system
    zeta, eta, euler = csa
    obs = Spin(system.spins[0].isotope, csa_zeta_ppm=zeta, csa_eta=eta, csa_euler=tuple(euler))
    return SpinSystem([obs] + list(system.spins[1:]), system.field_t, list(system.dipolar), list(system.j))


def occupancy_patterns(n, p, max_exact=12, tol=1e-4, n_samples=256) -> int:
    """Number of occupancy patterns :func:`site_curve` simulates at most, counted without simulating."""
    from math import comb

    if p >= 1.0 or n == 0:
        return 1
    if n > max_exact:
        return int(n_samples)
    order = sorted(range(n + 1), key=lambda k: -(p**k * (1 - p) ** (n - k)))
    left, used = 1.0, 0
    for k in order:
        if left <= tol:
            break
        left -= comb(n, k) * p**k * (1 - p) ** (n - k)
        used += comb(n, k)
    return used


def site_curve(partners, observed_isotope, partner_isotope, field_t, mas_rate_hz, times_s, saturation=None,
               powder=None, method="auto", abundance=1.0, csa=None, max_exact=12, tol=1e-4, n_samples=256, seed=0,
               partner_couplings=False, max_dt=0.5e-6, progress=False, integrator="piecewise"):
    """dS/S0 of one observed atom, averaged over the random occupancy of its partner sites.

    Each partner site holds the partner isotope with probability ``abundance`` (independently);
    a site without it does not dephase. The curve is the probability-weighted mean of the curves
    of the occupancy patterns (an empty pattern gives 0): with ideal REDOR pulses S0 is the same
    for every pattern, so this is the dS/S0 of the mixture.

    Parameters
    ----------
    partners : list of Partner
    field_t, mas_rate_hz, times_s, saturation, powder, method
        As for :func:`~respdor.structure.partners.build_system` and :func:`predict_curve`.
    abundance : float
        Probability in (0, 1] that a site is occupied (:func:`~respdor.structure.partners.partner_abundance`).
    csa : tuple, optional
        CSA of the observed spin (:func:`~respdor.structure.reading.observed_csa`).
    partner_couplings : bool
        Couple the partners to each other (:func:`~respdor.structure.partners.build_system`); spinsim then runs its
        ``coupled`` engine.
    max_dt : float
        Longest time step of the simulation (s), see :func:`spinsim.simulate_respdor`.
    integrator : {"piecewise", "magnus4"}
        Time-step scheme, see :func:`spinsim.simulate_respdor`.
    max_exact : int
        Up to this many partners, patterns are enumerated exactly, most probable first, until the
        probability left out is below ``tol`` (the bound on the error of dS/S0 is that mass times
        max |dS/S0|). Beyond it, ``n_samples`` patterns are drawn (Monte Carlo, fixed ``seed``)
        and the standard error of the mean is stated.
    progress : bool, callable or spinsim.progress.Progress
        Progress of each simulation, over its crystallites (:func:`spinsim.progress.as_progress`;
        default: none).

    Returns
    -------
    curve : ndarray
    info : dict
        ``engines`` (spinsim engines that ran), ``occupancy`` (how the average was taken).
    """
    times_s = np.asarray(times_s, float)
    n, p = len(partners), float(abundance)
    cache, engines = {}, set()

    def curve_of(pattern):
        if pattern not in cache:
            if not pattern:
                cache[pattern] = np.zeros_like(times_s)
            else:
                sy = build_system([partners[k] for k in pattern], observed_isotope, partner_isotope, field_t,
                                  partner_couplings=partner_couplings)
                cache[pattern], eng = _simulate(_with_observed_csa(sy, csa), mas_rate_hz, times_s, saturation,
                                                powder, method, max_dt, progress, integrator)
                engines.add(eng)
        return cache[pattern]

    if p >= 1.0:
        return curve_of(tuple(range(n))), {"engines": sorted(engines), "occupancy": {"method": "all present",
                                                                                     "abundance": 1.0}}
    if n <= max_exact:
        curve, info = _enumerate(n, p, curve_of, tol)
    else:
        curve, info = _monte_carlo(n, p, curve_of, n_samples, seed)
    info.update({"abundance": p, "n_sites": n, "n_simulated": len([k for k in cache if k])})
    return curve, {"engines": sorted(engines), "occupancy": info}


def _enumerate(n, p, curve_of, tol):
    """Occupancy patterns by decreasing probability (fewer occupied sites first when p < 1/2)."""
    from itertools import combinations
    from math import comb

    order = sorted(range(n + 1), key=lambda k: -(p**k * (1 - p) ** (n - k)))
    total, left, used = 0.0, 1.0, 0
    for k in order:
        if left <= tol:
            break
        prob = p**k * (1 - p) ** (n - k)
        for pattern in combinations(range(n), k):
            total = total + prob * curve_of(pattern)
        left -= comb(n, k) * prob
        used += comb(n, k)
    left = max(left, 0.0)
    return total, {"method": "exact enumeration", "n_patterns": used, "n_patterns_all": 2**n,
                   "omitted_probability": left}


def _monte_carlo(n, p, curve_of, n_samples, seed):
    rng = np.random.default_rng(seed)
    draws = rng.random((int(n_samples), n)) < p
    ys = np.array([curve_of(tuple(np.flatnonzero(d))) for d in draws])
    se = ys.std(axis=0, ddof=1) / np.sqrt(len(ys))
    return ys.mean(axis=0), {"method": "Monte Carlo", "n_samples": int(n_samples), "seed": int(seed),
                             "max_standard_error": float(np.max(se))}


def powder_product(curves):
    """Product of powder-averaged two-spin curves: 1 - prod_k (1 - <dS_k/S0>).

    An approximation (it ignores that the partners' orientations are correlated in each
    crystallite); compare with :func:`predict_curve`, which takes the product per crystallite.
    """
    c = np.asarray(curves, float)
    return 1.0 - np.prod(1.0 - c, axis=0)


def apparent_two_spin(times_s, dss0, observed_isotope="13C", partner_isotope="27Al", sigma=1e-3):
    """What an analytical two-spin RESPDOR fit (fraction free) reads from a curve.

    Parameters
    ----------
    times_s, dss0 : array_like
        The curve (s, dimensionless).
    sigma : float
        Uniform uncertainty of dS/S0 given to the fit (only scales chi^2).

    Returns
    -------
    dict
        ``coupling_hz``, ``distance_angstrom``, ``fraction`` and ``chi2``.
    """
    from ..curve import DephasingCurve
    from ..fitting import CurveModel, fit_curve

    t = np.asarray(times_s, float)
    y = np.asarray(dss0, float)
    keep = t > 0
    curve = DephasingCurve(t[keep], y[keep], sigma=np.full(int(keep.sum()), float(sigma)), source="predicted curve")
    res = fit_curve(curve, CurveModel(observed_isotope, partner_isotope), intervals=False)
    return {
        "coupling_hz": float(res.value("coupling_hz")),
        "distance_angstrom": float(res.value("distance_angstrom")),
        "fraction": float(res.value("fraction")),
        "chi2": float(res.chisqr),
    }


def cutoff_convergence(structure, observed, observed_isotope, partner_isotope, cutoffs_angstrom, mas_rate_hz,
                       times_s, field_t=14.1, powder=None, max_partners=None, cq_hz=0.0, eta_q=0.0,
                       partner_couplings=False, **site_options):
    """How the predicted curve changes as the cutoff radius grows.

    Parameters
    ----------
    structure : Structure
    observed : list of int
        Observed atom indices (curves averaged with equal weights).
    cutoffs_angstrom : sequence of float
        Increasing radii (angstrom).
    mas_rate_hz, times_s, field_t, powder, max_partners, cq_hz, eta_q
        As for :func:`~respdor.structure.partners.find_partners` and :func:`site_curve`.
    partner_couplings : bool or "auto"
        Couple the partners to each other (:func:`~respdor.structure.partners.build_system`); ``"auto"``: for each observed
        atom and shell while :func:`~respdor.structure.partners.couplings_affordable` says so, as the command does.
    **site_options
        Passed to :func:`site_curve` (``saturation``, ``method``, ``abundance``, ``n_samples``,
        ``seed``); the observed spin's CSA comes from the structure's shielding tensors.

    Returns
    -------
    list of dict
        Per cutoff: ``cutoff_angstrom``, ``n_partners`` (summed over observed atoms), ``dss0``
        and ``max_change`` (max |d dS/S0| from the previous cutoff; None for the first, and
        ``dss0`` None while an observed atom has no partner).
    """
    rows, prev, last_key = [], None, None
    for rc in cutoffs_angstrom:
        found = [find_partners(structure, i, observed_isotope, partner_isotope, rc, max_partners, cq_hz, eta_q)
                 for i in observed]
        row = {"cutoff_angstrom": float(rc), "n_partners": sum(map(len, found)), "dss0": None, "max_change": None}
        key = tuple(tuple((p.index, round(p.distance_angstrom, 9)) for p in ps) for ps in found)
        if all(found) and rows and key == last_key:  # no new partner in this shell: the same curve
            row["dss0"], row["max_change"] = prev, 0.0
        elif all(found):
            y = np.mean([site_curve(ps, observed_isotope, partner_isotope, field_t, mas_rate_hz, times_s,
                                    powder=powder, csa=observed_csa(structure, i),
                                    partner_couplings=(couplings_affordable(ps, partner_isotope)
                                                       if partner_couplings == "auto" else bool(partner_couplings)),
                                    **site_options)[0]
                         for i, ps in zip(observed, found)], axis=0)
            row["dss0"] = y
            if prev is not None:
                row["max_change"] = float(np.max(np.abs(y - prev)))
        prev, last_key = row["dss0"], key
        rows.append(row)
    return rows
