"""Publication figures of fitted dephasing curves (matplotlib only here, imported lazily).

Nothing here selects a matplotlib backend: figures that are saved are drawn on a bare
:class:`matplotlib.figure.Figure` (no pyplot), figures that are returned for display come from
pyplot, and :func:`draw_fit` draws on axes the caller owns.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_fit", "fit_figure", "draw_fit", "plot_corner", "corner_figure", "plot_profile", "profile_figure",
           "nucleus_label"]


def nucleus_label(text: str) -> str:
    """Mathtext with superscript mass numbers: ``13C{27Al}`` -> ``$^{13}$C{$^{27}$Al}``."""
    import re

    return re.sub(r"(\d+)([A-Z][a-z]?)", r"$^{\1}$\2", text)


def _figure(pyplot, figsize, **subplots):
    """A figure and its axes: pyplot's (shown inline in a notebook) when nothing is saved, else a
    bare :class:`matplotlib.figure.Figure` that no backend ever sees. No backend is selected here."""
    if pyplot:
        import matplotlib.pyplot as plt

        return plt.subplots(figsize=figsize, **subplots)
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(**subplots)


def _save(fig, path, **kwargs):
    from .files import write_figure

    write_figure(fig, path, **kwargs)  # checked, atomic (the one output guard)


def fit_figure(result, neighbour_offsets_angstrom=(-0.2, 0.2), time_unit="ms", residuals=True, pyplot=False):
    """The figure of :func:`plot_fit`: a bare :class:`~matplotlib.figure.Figure` (to be saved, e.g.
    through :meth:`respdor.files.OutputPlan.save_figure`), or pyplot's with ``pyplot=True``."""
    if residuals:
        fig, (ax, axr) = _figure(pyplot, (5.2, 4.6), nrows=2, ncols=1, sharex=True,
                                 gridspec_kw={"height_ratios": [3.2, 1], "hspace": 0.06})
    else:
        fig, ax = _figure(pyplot, (5.2, 3.6))
        axr = None
    draw_fit(result, ax, axr, neighbour_offsets_angstrom, time_unit)
    fig.align_ylabels()
    return fig


def plot_fit(result, path=None, neighbour_offsets_angstrom=(-0.2, 0.2), time_unit="ms", residuals=True):
    """Data with error bars, best fit, and curves for neighbouring distances, as in RESPDOR papers.

    Parameters
    ----------
    result : FitResult
        A fit from :func:`respdor.fit` or :func:`respdor.fit_curves`.
    path : str or Path, optional
        Where to save the figure (format from the suffix: png, pdf, svg), through the output
        guard; the figure is then drawn without pyplot. None returns a pyplot figure (shown inline
        in a notebook). The matplotlib backend is never changed.
    neighbour_offsets_angstrom : sequence of float
        Distances r_fit + offset (angstrom) drawn as thin dashed curves, at the fitted fraction.
    time_unit : {"ms", "us", "s"}
        Unit of the time axis.
    residuals : bool
        Add a residual panel below.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = fit_figure(result, neighbour_offsets_angstrom, time_unit, residuals, pyplot=path is None)
    if path is not None:
        _save(fig, path, dpi=200, bbox_inches="tight")
    return fig


def draw_fit(result, ax, axr=None, neighbour_offsets_angstrom=(-0.2, 0.2), time_unit="ms"):
    """Draw data, best fit and neighbouring distances on ``ax`` (and the residuals on ``axr``).

    Parameters
    ----------
    result : FitResult
    ax : matplotlib.axes.Axes
        Axes of the curves.
    axr : matplotlib.axes.Axes, optional
        Axes of the residuals (data minus fit, dS/S0).
    neighbour_offsets_angstrom : sequence of float
        Distances r_fit + offset (angstrom) drawn as thin dashed curves, at the fitted fraction.
    time_unit : {"ms", "us", "s"}
        Unit of the time axis.
    """
    import matplotlib

    scale = {"s": 1.0, "ms": 1e3, "us": 1e6}[time_unit]
    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, curve in enumerate(result.curves):
        colour = colours[i % len(colours)]
        _draw_curve(result, i, curve, ax, colour, scale, neighbour_offsets_angstrom)
        if axr is not None:
            res = curve.dss0 - result.best_fit(i)
            if curve.sigma is not None:
                axr.errorbar(curve.time_s * scale, res, yerr=curve.sigma, fmt="o", ms=3, color=colour, capsize=2, lw=1)
            else:
                axr.plot(curve.time_s * scale, res, "o", ms=3, color=colour)
    ax.axhline(0.0, color="0.6", lw=0.6)
    ax.set_ylabel(r"$\Delta S/S_0$")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    pair = result.models[0].pair
    ax.set_title(f"{nucleus_label(pair)} {result.models[0].experiment.upper()}", fontsize=10)
    ax.tick_params(direction="in", top=True, right=True)
    target = axr if axr is not None else ax
    unit_label = "\u00b5s" if time_unit == "us" else time_unit
    target.set_xlabel(f"recoupling time ({unit_label})")
    if axr is not None:
        axr.axhline(0.0, color="0.6", lw=0.6)
        axr.set_ylabel("residual")
        axr.tick_params(direction="in", top=True, right=True)
    return ax


def _draw_curve(result, i, curve, ax, colour, scale, neighbour_offsets_angstrom):
    """Curve ``i``: its points, its best fit and the fits at neighbouring distances."""
    # Not beyond the last point: a simulated curve table ends there.
    t_fine = np.linspace(0.0, curve.time_s.max(), 300)
    suffix = f"c{i}_" if f"c{i}_distance_angstrom" in result.parameters else ""
    r_name = suffix + "distance_angstrom" if suffix + "distance_angstrom" in result.parameters else "distance_angstrom"
    r_fit = result.parameters[r_name].value
    label = curve.label if len(result.curves) > 1 else "data"
    if curve.sigma is not None:
        ax.errorbar(curve.time_s * scale, curve.dss0, yerr=curve.sigma, fmt="o", ms=4, color=colour,
                    capsize=2, lw=1, label=label)
    else:
        ax.plot(curve.time_s * scale, curve.dss0, "o", ms=4, color=colour, label=label)
    ax.plot(t_fine * scale, result.best_fit(i, t_fine), "-", color=colour, lw=1.6,
            label=f"fit, r = {r_fit:.2f} \u00c5")
    for k, off in enumerate(neighbour_offsets_angstrom):
        r = r_fit + off
        if r <= 0:
            continue
        try:
            neighbour = result.curve_with(i, t_fine, distance_angstrom=r)
        except ValueError:  # outside a simulated table's coupling range: nothing to draw
            continue
        ax.plot(t_fine * scale, neighbour, ls=(0, (4, 2 + k)), color=colour, lw=0.9, alpha=0.7,
                label=f"r = {r:.2f} \u00c5")


def plot_corner(result, path=None, names=None, bins=40):
    """Corner figure of the MCMC posterior: histograms on the diagonal, 2-D histograms below.

    Parameters
    ----------
    result : FitResult
        With ``mcmc_samples`` from :func:`respdor.mcmc.sample_posterior`.
    path : str or Path, optional
        Where to save (format from the suffix). None returns the figure.
    names : sequence of str, optional
        Parameters to show (default: D, r and the varied amplitude factor(s) present).
    bins : int
        Histogram bins per axis.
    """
    fig = corner_figure(result, names, bins, pyplot=path is None)
    if path is None:
        return fig
    _save(fig, path, dpi=150)
    return None


def corner_figure(result, names=None, bins=40, pyplot=False):
    """The figure of :func:`plot_corner`: a bare :class:`~matplotlib.figure.Figure`, or pyplot's
    with ``pyplot=True``."""
    from .report import _label

    samples = result.mcmc_samples
    if not samples:
        raise ValueError("the result carries no MCMC samples; run respdor.mcmc.sample_posterior first")
    if names is None:
        order = ("coupling_hz", "distance_angstrom", "fraction", "efficiency", "abundance", "scaling",
                 "width_angstrom")
        names = [n for n in samples if not n.startswith("__")
                 and (n.split("_", 1)[1] if n[:1] == "c" and n[1:2].isdigit() else n) in order]
    k = len(names)
    fig, axes = _figure(pyplot, (2.2 * k + 0.6, 2.2 * k + 0.6), nrows=k, ncols=k, squeeze=False)
    for row in range(k):
        for col in range(k):
            ax = axes[row][col]
            if col > row:
                ax.set_visible(False)
                continue
            x = samples[names[col]]
            if row == col:
                ax.hist(x, bins=bins, color="0.35", histtype="stepfilled", alpha=0.8)
                q = result.mcmc["parameters"].get(names[col])
                if q:
                    for v in (q["ci68"][0], q["median"], q["ci68"][1]):
                        ax.axvline(v, color="C3", lw=0.8, ls="--" if v != q["median"] else "-")
                ax.set_yticks([])
            else:
                ax.hist2d(x, samples[names[row]], bins=bins, cmap="Greys")
            if row == k - 1:
                ax.set_xlabel(_label(names[col]))
            else:
                ax.set_xticklabels([])
            if col == 0 and row > 0:
                ax.set_ylabel(_label(names[row]))
            elif col > 0:
                ax.set_yticklabels([])
    fig.suptitle("posterior (MCMC, flat priors within the bounds)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_profile(result, name=None, path=None):
    """The chi^2 profile of one fitted parameter: chi^2 - chi^2_fit against its value, with the
    levels of the 68 % and 95 % intervals and the interval ends the fit reports.

    Parameters
    ----------
    result : FitResult
        A fit that measured the profile (``result.profiles``; :func:`respdor.fit` with intervals).
    name : str, optional
        The fitted name (``coupling_hz``, ``distance_angstrom``, ...; a global fit's ``c0_...``).
        Default: the coupling or distance the fit varied.
    path : str or Path, optional
        Where to save the figure (format from the suffix), through the output guard. None returns
        a pyplot figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = profile_figure(result, name, pyplot=path is None)
    if path is not None:
        _save(fig, path, dpi=200, bbox_inches="tight")
    return fig


def profiled_name(result):
    """The coupling or distance whose profile the fit measured (the first in the fit's order), or None."""
    names = [n for n in (result.profiles or {}) if n.endswith(("coupling_hz", "distance_angstrom"))]
    return names[0] if names else None


def profile_figure(result, name=None, pyplot=False):
    """The figure of :func:`plot_profile`: a bare :class:`~matplotlib.figure.Figure`, or pyplot's
    with ``pyplot=True``."""
    from .profile import LEVELS, delta_chi2_level
    from .report import _label

    name = name or profiled_name(result)
    if not result.profiles or name not in result.profiles:
        raise ValueError(f"the fit measured no chi2 profile of {name}: fit with intervals=True and {name} varied")
    values, chi2 = result.profiles[name]
    finite = np.isfinite(chi2)
    values, delta = values[finite], chi2[finite] - result.chisqr
    fig, ax = _figure(pyplot, (4.2, 3.2))
    ax.plot(values, delta, "o-", ms=3, lw=1, color="C0", label="profile (others re-fitted)")
    nfree = getattr(result.lmfit_result, "nfree", None)
    est = result.parameters.get(name)
    for prob, colour, ci in zip(LEVELS, ("C3", "C1"), (getattr(est, "ci68", None), getattr(est, "ci95", None))):
        level = delta_chi2_level(prob, result.chisqr, result.weighted, nfree)
        ax.axhline(level, color=colour, lw=0.8, ls="--", label=f"{prob:.0%} level")
        for end in ci or ():
            if end is not None and np.isfinite(end):
                ax.axvline(end, color=colour, lw=0.6, ls=":")
    if est is not None:
        ax.axvline(est.value, color="0.4", lw=0.6)
    ax.set_xlabel(_label(name))
    ax.set_ylabel(r"$\chi^2 - \chi^2_{\mathrm{fit}}$")
    ax.set_ylim(bottom=min(-0.05 * max(delta.max(), 1.0), float(delta.min())))
    ax.legend(frameon=False, fontsize=7)
    ax.tick_params(direction="in", top=True, right=True)
    fig.subplots_adjust(left=0.16, bottom=0.15, right=0.97, top=0.97)  # fixed margins: no second draw to fit them
    return fig
