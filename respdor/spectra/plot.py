"""Figures for CSA/PASS analyses (matplotlib, imported lazily by the callers).

Every figure is drawn by a ``draw_*`` function on axes the caller gives (a notebook's, or those
of a figure to be written); the ``plot_*`` functions draw on a new :class:`matplotlib.figure.Figure`
(no pyplot, no backend selected) and write it through the one output guard. Nothing here
selects a matplotlib backend, so plots in a notebook keep showing inline.

ppm axes are drawn high-to-low (NMR convention).
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_pass", "plot_deconvolution", "plot_manifold_fit", "plot_mas_fit", "draw_pass_orders",
           "draw_pass_manifold", "draw_deconvolution", "draw_manifold_fit", "draw_mas_fit"]


def _figure(figsize):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def _label(nucleus, what="shift"):
    """Axis label from the data's nucleus (no nucleus known: no nucleus named)."""
    return f"{nucleus} {what} (ppm)" if nucleus else f"{what} (ppm)"


def _plain(ax):
    """No offset or scientific multiplier on the ppm axis (a 1e10 offset is unreadable)."""
    ax.ticklabel_format(axis="x", style="plain", useOffset=False)


def _save(fig, path):
    from ..files import write_figure

    write_figure(fig, path, dpi=130, bbox_inches="tight")  # checked, atomic (the one output guard)
    return path


def _residual_axes(fig, figsize_ratio=(4, 1)):
    ax, axr = fig.subplots(2, 1, sharex=True, gridspec_kw=dict(height_ratios=list(figsize_ratio)))
    return ax, axr


def draw_pass_orders(analysis, ax, nucleus=None, max_order=None):
    """The sheared, order-separated PASS spectra (one trace per order) and their sum, on ``ax``."""
    sp = analysis.spectra
    kmax = max_order if max_order is not None else int(np.max(np.abs(sp.orders)))
    use = np.abs(sp.orders) <= kmax
    scale = np.max(np.abs(sp.rows[use])) or 1.0
    for k, row in zip(sp.orders[use], sp.rows[use]):
        ax.plot(sp.ppm, row / scale * 0.9 + k, lw=0.8, color="C0")
        ax.text(sp.ppm.max(), k + 0.1, f"k = {k:+d}", fontsize=7, va="bottom", ha="left")
    iso = sp.isotropic / (np.max(np.abs(sp.isotropic)) or 1.0) * 0.9 + kmax + 1.5
    ax.plot(sp.ppm, iso, color="k", lw=1.0)
    ax.text(sp.ppm.max(), kmax + 1.6, "sum (isotropic)", fontsize=7, ha="left")
    for m in analysis.manifolds:
        ax.axvline(m.center, color="0.8", lw=0.6, zorder=0)
    ax.invert_xaxis()
    ax.set_xlabel(_label(nucleus, "isotropic shift"))
    ax.set_ylabel("sideband order k (sheared rows)")
    # The rows are stacked at y = k: label the orders, not a meaningless intensity scale.
    ax.set_yticks(list(sp.orders[use]))
    _plain(ax)
    ax.set_title(f"PASS, {analysis.mas_hz / 1e3:g} kHz MAS, order sign {sp.sign:+d}")
    return ax


def draw_pass_manifold(analysis, i, ax, legend=True, xlabel=True):
    """Site ``i``'s measured PASS manifold with its fitted CSA manifold, on ``ax``."""
    from spinsim.sidebands import sideband_intensities

    m, f = analysis.manifolds[i], analysis.csa_fits[i]
    ax.errorbar(m.orders, m.intensities, yerr=m.sigma, fmt="o", ms=3, color="C0", label="PASS")
    kk = int(np.max(np.abs(m.orders)))
    man = sideband_intensities(f.span, f.skew, analysis.larmor_hz, analysis.mas_hz, n_sidebands=kk)
    ax.plot(man.orders, f.amplitude * man.intensities, "s", mfc="none", color="C3", ms=5, label="fit")
    tag = " (degenerate)" if f.degenerate else ""
    ax.set_title(f"{m.center:.0f} ppm: span {f.span:.0f}, skew {f.skew:+.2f}{tag}", fontsize=8)
    ax.tick_params(labelsize=7)
    if legend:
        ax.legend(fontsize=7)
    if xlabel:
        ax.set_xlabel("order k")
    return ax


def plot_pass(analysis, path, nucleus=None, max_order=None):
    """Sheared, order-separated PASS spectra (one trace per order) and per-site manifolds with CSA fits.

    Parameters
    ----------
    analysis : respdor.spectra.pass_processing.PassAnalysis
    path : str or Path
        Output image file (png, pdf, svg).
    nucleus : str
        Label of the axis.
    max_order : int, optional
        Highest |k| drawn.
    """
    fig = _figure((11, 6.5))
    n_sites = len(analysis.manifolds)
    gs = fig.add_gridspec(max(n_sites, 1), 2, width_ratios=[1.6, 1.0], wspace=0.25, hspace=0.45)
    draw_pass_orders(analysis, fig.add_subplot(gs[:, 0]), nucleus, max_order)
    for i in range(n_sites):
        draw_pass_manifold(analysis, i, fig.add_subplot(gs[i, 1]), legend=i == 0, xlabel=i == n_sites - 1)
    return _save(fig, path)


def draw_deconvolution(result, ax, resid_ax=None, nucleus=None, title=""):
    """Spectrum, total fit and each site's component on ``ax``; the residual on ``resid_ax``."""
    ax.plot(result.ppm, result.data, color="k", lw=0.8, label="data")
    ax.plot(result.ppm, result.model, color="C3", lw=1.0, label="fit")
    for i, (c, s) in enumerate(zip(result.components, result.sites)):
        ax.fill_between(result.ppm, c, alpha=0.3, color=f"C{i % 10}",
                        label=f"{s['center']:.0f} ppm: {100 * s['fraction']:.1f} %")
    ax.legend(fontsize=7)
    ax.set_title(title or "site deconvolution")
    _residual(result, ax, resid_ax, nucleus)
    return ax


def _residual(result, ax, resid_ax, nucleus):
    """The residual on ``resid_ax`` (when given) and the ppm axis, high to low."""
    bottom = ax
    if resid_ax is not None:
        resid_ax.plot(result.ppm, result.data - result.model, color="0.3", lw=0.6)
        resid_ax.axhline(0, color="k", lw=0.5)
        bottom = resid_ax
    bottom.set_xlabel(_label(nucleus))
    _plain(bottom)
    if not ax.xaxis_inverted():
        ax.invert_xaxis()


def plot_deconvolution(result, path, nucleus=None, title=""):
    """Spectrum, total fit, each site's component and the residual."""
    fig = _figure((7, 5))
    draw_deconvolution(result, *_residual_axes(fig), nucleus=nucleus, title=title)
    return _save(fig, path)


def draw_manifold_fit(orders, intensities, sigma, fit, ax, title=""):
    """Measured sideband intensities with the fitted CSA manifold, on ``ax``."""
    ax.errorbar(orders, intensities, yerr=sigma, fmt="o", label="data")
    ax.plot(orders, fit.model, "s", mfc="none", color="C3", label="fit")
    ax.set_xlabel("sideband order k")
    ax.set_ylabel("intensity")
    ax.set_title(title or f"span {fit.span:.0f} ppm, skew {fit.skew:+.2f}" + (" (degenerate)" if fit.degenerate else ""))
    ax.legend()
    return ax


def plot_manifold_fit(orders, intensities, sigma, fit, path, title=""):
    """Measured sideband intensities with the fitted CSA manifold."""
    fig = _figure((5, 3.5))
    draw_manifold_fit(orders, intensities, sigma, fit, fig.subplots(), title)
    return _save(fig, path)


def draw_mas_fit(result, ax, resid_ax=None, nucleus=None):
    """1D MAS spectrum with the multi-site CSA fit and each site's sideband family on ``ax``;
    the residual on ``resid_ax``."""
    ax.plot(result.ppm, result.data, color="k", lw=0.8, label="data")
    ax.plot(result.ppm, result.model, color="C3", lw=1.0, label="fit")
    for i, (c, s) in enumerate(zip(result.components, result.sites)):
        ax.plot(result.ppm, c, lw=0.7, color=f"C{i % 10}", label=f"{s['delta_iso']:.0f} ppm")
    ax.legend(fontsize=7)
    if resid_ax is not None:
        resid_ax.plot(result.ppm, result.data - result.model, color="0.3", lw=0.6)
    bottom = resid_ax if resid_ax is not None else ax
    bottom.set_xlabel(_label(nucleus))
    _plain(bottom)
    ax.invert_xaxis()
    return ax


def plot_mas_fit(result, path, nucleus=None):
    """1D MAS spectrum with the multi-site CSA fit and each site's sideband family."""
    fig = _figure((8, 5))
    draw_mas_fit(result, *_residual_axes(fig), nucleus=nucleus)
    return _save(fig, path)
