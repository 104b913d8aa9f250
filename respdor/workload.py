"""How much work a command is about to do, said before it starts, and refused beyond a stated limit.

Every command whose work grows with a user value (a cutoff radius, a powder size, a recoupling
time, a number of sites) builds a :class:`Work`: a cost counted from the input (crystallites x
time points x Hilbert-space size, candidate neighbour pairs, fit parameters), never measured with
a clock, compared with the cost of a bundled example so that the number means something. Above
``notice`` the estimate is printed (and the command shows progress); above ``limit`` the command
refuses unless the user confirms with :data:`ALLOW_OPTION`.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass

from .errors import UserError

#: The option that confirms a long run, the same in every command.
ALLOW_OPTION = "--allow-long"


@dataclass
class Work:
    """The estimated cost of one command.

    Attributes
    ----------
    what : str
        The counts the cost is made of ("133792 crystallites x 816 steps x 144 (Hilbert dim^2)").
    cost : float
        Their product, in ``unit``.
    unit : str
    reference : float
        The cost of a bundled example under the same model (``reference_name``).
    reference_name : str
    limit, notice : float
        Refuse above ``limit`` without :data:`ALLOW_OPTION`; print the estimate above ``notice``.
    reduce : str
        Which options make the work smaller, for the message.
    """

    what: str
    cost: float
    unit: str
    reference: float
    reference_name: str
    limit: float
    notice: float
    reduce: str

    def text(self):
        return (f"{self.what} = {self.cost:.3g} {self.unit}, {self.cost / self.reference:.3g} x "
                f"{self.reference_name}")

    def limit_text(self):
        return f"{self.limit / self.reference:.3g} x ({self.limit:.3g} {self.unit})"


def add_allow_long(parser):
    """Add :data:`ALLOW_OPTION` to a command's parser."""
    parser.add_argument(ALLOW_OPTION, action="store_true",
                        help="run even when the estimated work is beyond the stated limit (the estimate is printed "
                             "before the work starts)")


#: The estimates already said inside :func:`each_estimate_once` (None outside it).
_SAID = contextvars.ContextVar("respdor_estimates_said", default=None)


@contextlib.contextmanager
def each_estimate_once():
    """Within this block :func:`check_work` says each estimate once: a job that runs the same fit
    many times (a simulated shape refined in rounds) prints its estimate once, not once per fit."""
    token = _SAID.set(set())
    try:
        yield
    finally:
        _SAID.reset(token)


def check_work(work: Work, allow_long: bool, command: str, stream=None, progress=None,
               confirm: str = ALLOW_OPTION) -> bool:
    """Refuse work beyond its limit unless confirmed; say the estimate when it is long.

    The estimate is a note (:mod:`spinsim.progress`) to ``progress`` when given, else an indented
    line on ``stream`` (standard error by default). ``confirm`` is what the refusal names as the
    confirmation (the command line's :data:`ALLOW_OPTION`, or ``allow_long=True`` for a Python call).

    Returns
    -------
    bool
        True when the estimate was printed (the caller then shows progress).

    Raises
    ------
    UserError
        One line with the estimate, the limit, what reduces it and ``confirm``.
    """
    from spinsim.progress import LineProgress, as_progress

    if work.cost > work.limit and not allow_long:
        raise UserError(f"{command}: estimated work {work.text()}, beyond the limit of {work.limit_text()}; "
                        f"reduce {work.reduce}, or confirm with {confirm}")
    if work.cost > work.notice:
        said = _SAID.get()
        if said is not None:
            if work.text() in said:
                return True
            said.add(work.text())
        notes = as_progress(progress) if progress is not None else LineProgress(stream)
        notes.note(f"estimated work: {work.text()} (this will take a while; Ctrl-C stops cleanly)")
        return True
    return False


#: Cost of the bundled ``data/c13_al27_respdor.toml`` under spinsim's model
#: (:func:`spinsim.plausibility.work_counts`); tests check that it still is.
REFERENCE_COST = 5587153920.0
REFERENCE_NAME = "the bundled data/c13_al27_respdor.toml"
#: Simulation work refused without --allow-long (~360 x the bundled example, ~20 CPU min) and
#: printed beforehand (~18 x, about a CPU minute).
SIMULATION_LIMIT = 356 * REFERENCE_COST
SIMULATION_NOTICE = 18 * REFERENCE_COST


def simulation_work(counts, reduce, n_runs=1, total_cost=None):
    """A :class:`Work` of ``n_runs`` simulations, the largest with spinsim's cost ``counts``
    (:func:`spinsim.plausibility.work_counts`); ``total_cost`` is their sum (default n_runs x the largest)."""
    from spinsim.plausibility import UNITS_PER_CPU_SECOND

    cost = counts["cost"] * n_runs if total_cost is None else float(total_cost)
    size = f"{counts['crystallites']} crystallites x {counts['steps']} steps x {counts['per_step']:.4g} per step"
    runs = f"{n_runs} simulations, the largest {size}" if n_runs != 1 else size
    what = f"{runs} ({counts['engine']} engine; about {_duration(cost / UNITS_PER_CPU_SECOND)} of CPU)"
    return Work(what, cost, "units", REFERENCE_COST, REFERENCE_NAME, SIMULATION_LIMIT, SIMULATION_NOTICE, reduce)


def library_work(sp, powder, times_s, n_times, n_points):
    """A :class:`Work` of a library build: ``n_points`` parameter points, each one simulation per coupling row
    ``k`` on ``times_s[:n_times[k]]`` at ``powder`` (a :class:`spinsim.powder.Powder`), under spinsim's cost
    model (:func:`spinsim.plausibility.work_counts`). A library is long work by nature: the estimate is
    said before it starts, never refused."""
    from spinsim.plausibility import work_counts

    n_rf = len(sp.rf_inhomogeneity.scales) if getattr(sp, "rf_inhomogeneity", None) is not None else 1
    rows = [work_counts(sp.system, sp.mas_rate, times_s[:n], sp.saturation, sp.recoupling, powder, sp.max_dt,
                        sp.method, n_rf, sp.centre_pulse, getattr(sp, "integrator", "piecewise")) for n in n_times]
    from spinsim.plausibility import UNITS_PER_CPU_SECOND

    largest = max(rows, key=lambda c: c["cost"])
    cost = n_points * sum(c["cost"] for c in rows)
    what = (f"{n_points} points x {len(rows)} couplings (the longest row {largest['crystallites']} crystallites x "
            f"{largest['steps']} steps, {largest['engine']} engine): about {_duration(cost / UNITS_PER_CPU_SECOND)} "
            "of CPU in all")
    return Work(what, cost, "units", REFERENCE_COST, REFERENCE_NAME, float("inf"), SIMULATION_NOTICE,
                "the points of the parameter axes, the couplings or the powder")


def _duration(seconds):
    if seconds < 120:
        return f"{seconds:.2g} s"
    if seconds < 7200:
        return f"{seconds / 60:.2g} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.2g} h"
    return f"{seconds / 86400:.3g} days"


#: Candidate neighbour pairs of a partner search refused without --allow-long (about 100 bytes each
#: in ASE's neighbour list: 5e6 pairs ~ 0.5 GB) and printed beforehand.
SEARCH_LIMIT = 5e6
SEARCH_NOTICE = 5e5
#: What a search's candidate pairs are compared with: a 20 A cell of 9 atoms at a 4 A cutoff (the
#: bundled data/al_carboxylate_model.magres with the default --cutoff), 81 pairs x 0.034 of the cell.
SEARCH_REFERENCE = 81 * (4.0 / 3.0 * 3.141592653589793 * 4.0**3) / 20.0**3


def search_work(n_atoms, sphere_fraction, reduce):
    """A :class:`Work` of a periodic neighbour search: n_atoms^2 x (cutoff sphere / cell volume)."""
    cost = float(n_atoms) ** 2 * max(float(sphere_fraction), 1.0)
    what = (f"{n_atoms} atoms x {n_atoms} atoms x {sphere_fraction:.3g} cells in the cutoff sphere "
            "(candidate neighbour pairs)")
    return Work(what, cost, "pairs", SEARCH_REFERENCE, "the bundled model at the default cutoff", SEARCH_LIMIT,
                SEARCH_NOTICE, reduce)


#: A least-squares fit's cost: starts x fitted points x parameters^2 (each iteration's Jacobian
#: products; the iterations grow with the parameters too, so this is a lower bound). Reference: a
#: 3-site fit (10 parameters) of 4096 points from 3 starting widths.
FIT_REFERENCE = 3 * 4096 * 10**2
#: Fit work refused without --allow-long (50 x the reference).
FIT_LIMIT = 50 * FIT_REFERENCE
#: Fit work from which the estimate is printed (10 x the reference).
FIT_NOTICE = 10 * FIT_REFERENCE


def fit_work(n_starts, n_points, n_params, reduce):
    """A :class:`Work` of a least-squares fit (deconvolution of ``--sites``)."""
    what = f"{n_starts} start(s) x {n_points} points x {n_params}^2 parameters"
    return Work(what, float(n_starts) * n_points * n_params**2, "units", FIT_REFERENCE,
                "a 3-site fit of 4096 points", FIT_LIMIT, FIT_NOTICE, reduce)


#: A curve fit's cost grows with the fitted points: every model evaluation of the global search,
#: the local fits and the profile intervals visits each point. Reference: the bundled 15-point
#: curve. A REDOR/RESPDOR curve has tens of points (each one a separate experiment); thousands
#: mean the file holds something else (a spectrum, a simulated grid), and the fit would run for
#: many minutes without a word.
CURVE_FIT_REFERENCE = 15
#: Points of a curve fit refused without --allow-long.
CURVE_FIT_LIMIT = 2000
#: Points from which the estimate of a curve fit is printed.
CURVE_FIT_NOTICE = 300


def curve_fit_work(n_points, n_curves):
    """A :class:`Work` of a dephasing-curve fit of ``n_points`` points in ``n_curves`` curves."""
    what = f"{n_points} recoupling times in {n_curves} curve(s)"
    return Work(what, float(n_points), "points", CURVE_FIT_REFERENCE, "the bundled 15-point example curve",
                CURVE_FIT_LIMIT, CURVE_FIT_NOTICE, "the points (a REDOR/RESPDOR curve has tens)")


#: An MCMC run's cost: walkers x steps model evaluations, each visiting every fitted point.
#: Reference: ``respdor fit --mcmc`` of the bundled 15-point curve with its defaults (32 walkers x
#: 2000 steps).
MCMC_REFERENCE = 32 * 2000 * 15
#: MCMC work refused without --allow-long (50 x the reference) and printed beforehand (5 x).
MCMC_LIMIT = 50 * MCMC_REFERENCE
MCMC_NOTICE = 5 * MCMC_REFERENCE
#: Bytes the chain takes per stored value: emcee keeps every step (float64), and lmfit copies the
#: kept chain and its flattened form, about three copies in all.
MCMC_BYTES_PER_VALUE = 3 * 8


def mcmc_work(walkers, steps, n_points, reduce):
    """A :class:`Work` of an MCMC run of ``walkers`` x ``steps`` over ``n_points`` fitted points."""
    what = f"{walkers} walkers x {steps} steps x {n_points} points"
    return Work(what, float(walkers) * steps * n_points, "point evaluations", MCMC_REFERENCE,
                "the default MCMC run of the bundled 15-point curve", MCMC_LIMIT, MCMC_NOTICE, reduce)


def mcmc_memory_bytes(walkers, steps, n_values):
    """Memory (bytes) the chain of ``walkers`` x ``steps`` of ``n_values`` numbers each will take."""
    return float(walkers) * steps * n_values * MCMC_BYTES_PER_VALUE


def physical_memory_bytes():
    """This machine's physical memory in bytes, or None when the system does not say."""
    import os

    try:
        return float(os.sysconf("SC_PAGE_SIZE")) * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
