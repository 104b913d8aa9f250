"""Results of the spectra jobs (:mod:`respdor.jobs.spectra`): short repr, HTML table, DataFrame,
the JSON the command line writes (and back), and ``plot(ax=None)``.

A result read back with ``from_json`` holds every number of the JSON; the spectra themselves are
not in the JSON, so its ``plot`` says that it needs the result of the call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..display import ResultDisplay, axes_or_new
from ..errors import UserError

__all__ = ["SiteRow", "CsaFitResult", "ManifoldCsaResult", "SpectrumCsaResult", "DeconvolveResult", "PassResult",
           "PassTimingsResult", "IntegrateResult"]


class SiteRow(dict):
    """One site of a result: its values by key (``row["span"]``) and by attribute (``row.span``)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _rows(rows):
    return [SiteRow(r) for r in rows or []]


def _nan(value):
    """JSON's null (a value that was not finite) back to nan."""
    return float("nan") if value is None else value


def _num(value, fmt):
    return "nan" if value is None or not math.isfinite(float(value)) else format(float(value), fmt)


def _no_data(what):
    return UserError(f"this {what} was read from JSON, which does not hold the spectra: plot the result of the call")


class CsaFitResult(ResultDisplay):
    """Result of :func:`respdor.csa_fit`: :class:`ManifoldCsaResult` or :class:`SpectrumCsaResult`.

    ``CsaFitResult.from_json(path)`` reads either (the JSON of ``respdor csa-fit --json``).
    """

    warnings: list

    @classmethod
    def from_dict(cls, data: dict):
        if cls is CsaFitResult:
            return (ManifoldCsaResult if "fit" in data else SpectrumCsaResult).from_dict(data)
        raise NotImplementedError  # pragma: no cover - the subclasses override it

    def csv_rows(self) -> list[dict]:
        """The rows of the command's ``--csv`` table."""
        raise NotImplementedError  # pragma: no cover - the subclasses override it

    def to_csv(self, path=None, inputs=()) -> str:
        """The command's ``--csv`` table as text; also written to ``path`` when given."""
        from ..resultio import table_csv_text, write_table_csv

        if path is not None:
            write_table_csv(path, self.csv_rows(), inputs)
        return table_csv_text(self.csv_rows())


@dataclass(repr=False)
class ManifoldCsaResult(CsaFitResult):
    """CSA fit of one sideband manifold (:func:`respdor.csa_fit` without ``spectrum``).

    Attributes
    ----------
    fit : respdor.spectra.csa_manifold.ManifoldFit
        span, skew (Herzfeld-Berger), zeta, eta (Haeberlen), amplitude, their errors or
        profile intervals, the opposite-sign solution and the degeneracy flag.
    mas_rate_hz, larmor_hz : float
    larmor_source : str
        Where the observe frequency came from.
    orders, intensities, sigma : ndarray or None
        The manifold fitted (None when read from JSON).
    notes, warnings : list of str
    """

    input: str
    mas_rate_hz: float
    larmor_hz: float
    larmor_source: str
    fit: object
    orders: np.ndarray | None = None
    intensities: np.ndarray | None = None
    sigma: np.ndarray | None = None
    notes: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def _title(self):
        return f"CSA of a sideband manifold, MAS {self.mas_rate_hz:g} Hz, |nu0| {self.larmor_hz / 1e6:.4f} MHz"

    def _headline(self):
        f = self.fit
        return f"span {f.text('span')} ppm, skew {f.text('skew')}" + (" (degenerate)" if f.degenerate else "")

    def _rows(self):
        return self.fit._rows()

    def to_dict(self):
        return dict(mas_hz=self.mas_rate_hz, larmor_hz=self.larmor_hz, fit=self.fit.as_dict(),
                    warnings=list(self.warnings))

    @classmethod
    def from_dict(cls, data):
        from ..spectra.csa_manifold import ManifoldFit

        return cls(input="", mas_rate_hz=float(data["mas_hz"]), larmor_hz=float(data["larmor_hz"]), larmor_source="",
                   fit=ManifoldFit.from_dict(data["fit"]), warnings=list(data.get("warnings", [])))

    def csv_rows(self):
        return [self.fit.as_dict()]

    def plot(self, ax=None, title=""):
        """The measured sideband intensities with the fitted manifold, on ``ax`` (new axes when None)."""
        from ..spectra.plot import draw_manifold_fit

        if self.orders is None:
            raise _no_data("CSA fit")
        return draw_manifold_fit(self.orders, self.intensities, self.sigma, self.fit, axes_or_new(ax), title)


@dataclass(repr=False)
class SpectrumCsaResult(CsaFitResult):
    """Multi-site CSA fit of a 1D MAS spectrum (:func:`respdor.csa_fit` with ``spectrum=True``).

    Attributes
    ----------
    sites : list of SiteRow
        Per site: delta_iso, span, skew, zeta, eta, fwhm, fraction (with ``*_err``, profile
        ``*_interval``/``*_limit`` where the covariance was not trusted), status, n_sidebands
        (see :func:`respdor.spectra.csa_spectrum.fit_mas_spectrum`).
    mas_rate_hz, larmor_hz : float
    mas_source, mas_evidence : str
        Where the rate came from ('given', 'sidebands', 'MASR (confirmed by sidebands)') and the
        sideband pairs supporting it.
    larmor_source : str
    nucleus : str or None
    fit : respdor.spectra.csa_spectrum.SpectrumFit or None
        The fit with its spectrum, model and components (None when read from JSON).
    mas_check : respdor.spectra.mas.MasCheck or None
    notes, warnings : list of str
    """

    input: str
    mas_rate_hz: float
    larmor_hz: float
    larmor_source: str
    fit: object = None
    mas_check: object = None
    nucleus: str | None = None
    input_notes: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    n_check_warnings: int = 0
    sites: list = field(default_factory=list)
    fit_notes: list = field(default_factory=list)
    mas_source: str = ""
    mas_evidence: str = ""

    def __post_init__(self):
        if self.fit is not None:
            self.sites = _rows(self.fit.sites)
            self.fit_notes = list(self.fit.notes)
        else:
            self.sites = _rows(self.sites)
        if self.mas_check is not None:
            self.mas_source, self.mas_evidence = self.mas_check.source, self.mas_check.evidence()

    @property
    def notes(self) -> list:
        """The fit's notes, then those of reading the spectrum."""
        return self.fit_notes + self.input_notes

    def _title(self):
        return f"CSA of {len(self.sites)} site{'s' if len(self.sites) != 1 else ''}, MAS {self.mas_rate_hz:g} Hz ({self.mas_source})"

    def _headline(self):
        from ..spectra.csa_spectrum import site_headline

        return site_headline(self.sites)

    def _rows(self):
        from ..spectra.csa_spectrum import site_rows

        return site_rows(self.sites)

    def to_dict(self):
        return dict(mas_hz=self.mas_rate_hz, mas_source=self.mas_source, mas_evidence=self.mas_evidence,
                    larmor_hz=self.larmor_hz, nucleus=self.nucleus, sites=[dict(s) for s in self.sites],
                    notes=self.notes, warnings=list(self.warnings))

    @classmethod
    def from_dict(cls, data):
        from ..spectra.csa_spectrum import SITE_COLUMNS

        return cls(input="", mas_rate_hz=float(data["mas_hz"]), larmor_hz=float(data["larmor_hz"]), larmor_source="",
                   nucleus=data.get("nucleus"), sites=[{k: _nan(v) if k in SITE_COLUMNS else v for k, v in s.items()}
                                                       for s in data.get("sites", [])],
                   fit_notes=list(data.get("notes", [])), warnings=list(data.get("warnings", [])),
                   mas_source=data.get("mas_source", ""), mas_evidence=data.get("mas_evidence", ""))

    def csv_rows(self):
        return [dict(s) for s in self.sites]

    def plot(self, ax=None, resid_ax=None):
        """Spectrum, fit and each site's sideband family on ``ax`` (new axes when None); the
        residual on ``resid_ax`` when given."""
        from ..spectra.plot import draw_mas_fit

        if self.fit is None:
            raise _no_data("CSA fit")
        return draw_mas_fit(self.fit, axes_or_new(ax), resid_ax, nucleus=self.nucleus)


@dataclass(repr=False)
class DeconvolveResult(ResultDisplay):
    """Result of :func:`respdor.deconvolve`.

    Attributes
    ----------
    sites : list of SiteRow
        Per site: center, fwhm, area, fraction, eta (with ``*_err``), status (see
        :func:`respdor.spectra.deconvolution.deconvolve`).
    fit : respdor.spectra.deconvolution.DeconvolutionResult or None
        The fit with its spectrum, model and components (None when read from JSON).
    compare, compare_sites, comparison
        With a second sample: its path, its sites, and per site the areas normalised to the
        reference site in both samples and their ratio.
    nucleus : str or None
    notes, warnings : list of str
    """

    input: str
    fit: object = None
    nucleus: str | None = None
    shape: str = "gaussian"
    input_notes: list = field(default_factory=list)
    compare: str | None = None
    compare_fit: object = None
    comparison: list | None = None
    reference_ppm: float = -50.0
    warnings: list = field(default_factory=list)
    sites: list = field(default_factory=list)
    compare_sites: list | None = None

    def __post_init__(self):
        if self.fit is not None:
            self.sites = _rows(self.fit.table())
        else:
            self.sites = _rows(self.sites)
        if self.compare_fit is not None:
            self.compare_sites = _rows(self.compare_fit.table())
        elif self.compare_sites is not None:
            self.compare_sites = _rows(self.compare_sites)
        if self.comparison is not None:
            self.comparison = _rows(self.comparison)

    @property
    def notes(self) -> list:
        """Notes of reading each sample, then of each fit."""
        fits = [f for f in (self.fit, self.compare_fit) if f is not None]
        return [n for notes in self.input_notes for n in notes] + [n for f in fits for n in f.notes]

    def _title(self):
        n = len(self.sites)
        return f"{n} site{'s' if n != 1 else ''}, {self.shape} lines" + (", two samples" if self.compare else "")

    def _headline(self):
        return ", ".join(f"{_num(s.get('center'), '.1f')} ppm: {_num(s.get('fraction'), '.3f')}" for s in self.sites)

    def _rows(self):
        rows = []
        for i, s in enumerate(self.sites):
            r = dict(name=f"site {s.get('site')}", **{k: v for k, v in s.items() if k != "site"
                                                      and not isinstance(v, (list, dict))})
            if self.comparison:  # one comparison row per site of the first sample, in order
                c = self.comparison[i]
                r.update(norm_before=c.get("norm_before"), norm_after=c.get("norm_after"), change=c.get("change"),
                         change_err=c.get("change_err"))
            rows.append(r)
        return rows

    def to_dict(self):
        d = dict(input=self.input, sites=[dict(s) for s in self.sites], warnings=list(self.warnings))
        if self.compare:
            d.update(compare=self.compare, compare_sites=[dict(s) for s in self.compare_sites or []],
                     comparison=[dict(c) for c in self.comparison or []])
        return d

    @classmethod
    def from_dict(cls, data):
        return cls(input=data.get("input", ""), sites=data.get("sites", []), compare=data.get("compare"),
                   compare_sites=data.get("compare_sites"), comparison=data.get("comparison"),
                   warnings=list(data.get("warnings", [])))

    def csv_rows(self):
        return [dict(c) for c in self.comparison] if self.comparison is not None else [dict(s) for s in self.sites]

    def to_csv(self, path=None, inputs=()) -> str:
        """The command's ``--csv`` table (the comparison with a second sample, else the sites)."""
        from ..resultio import table_csv_text, write_table_csv

        if path is not None:
            write_table_csv(path, self.csv_rows(), inputs)
        return table_csv_text(self.csv_rows())

    def plot(self, ax=None, resid_ax=None, title=""):
        """Spectrum, fit and each site's line on ``ax`` (new axes when None); the residual on ``resid_ax``."""
        from ..spectra.plot import draw_deconvolution

        if self.fit is None:
            raise _no_data("deconvolution")
        return draw_deconvolution(self.fit, axes_or_new(ax), resid_ax, nucleus=self.nucleus, title=title or self.input)


@dataclass(repr=False)
class PassResult(ResultDisplay):
    """Result of :func:`respdor.process_pass`.

    Attributes
    ----------
    sites : list of SiteRow
        Per site: delta_iso, fwhm, population (isotropic spectrum), span, skew, zeta, eta (with
        ``*_err``) and degenerate.
    manifolds : list of respdor.spectra.pass_processing.SiteManifold
    csa_fits : list of respdor.spectra.csa_manifold.ManifoldFit
    mas_rate_hz : float
    mas_source : str
    sign : int
        Sideband order sign found in the data.
    nucleus : str
    picked_sites : list of float or None
        Sites found by peak picking when none were given.
    analysis : respdor.spectra.pass_processing.PassAnalysis or None
        Order spectra, isotropic deconvolution (None when read from JSON).
    notes, warnings : list of str
    """

    input: str
    nucleus: str | None
    mas_rate_hz: float
    mas_check: object = None
    analysis: object = None
    n_pitch: int = 0
    picked_sites: list | None = None
    data_notes: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    n_check_warnings: int = 0
    sites: list = field(default_factory=list)
    manifolds: list = field(default_factory=list)
    csa_fits: list = field(default_factory=list)
    sign: int = 1
    mas_source: str = ""
    spectra_notes: list = field(default_factory=list)

    def __post_init__(self):
        a = self.analysis
        if a is not None:
            self.sites, self.manifolds, self.csa_fits = a.table(), list(a.manifolds), list(a.csa_fits)
            self.sign, self.spectra_notes = int(a.spectra.sign), list(a.spectra.notes)
            self.n_pitch = self.n_pitch or int(a.spectra.orders.size)
        self.sites = _rows(self.sites)
        if self.mas_check is not None:
            self.mas_source = self.mas_check.source

    @property
    def notes(self) -> list:
        """Notes of reading the data set and of separating the orders."""
        return self.data_notes + self.spectra_notes

    def _title(self):
        return f"{self.nucleus or ''} PASS, N = {self.n_pitch}, MAS {self.mas_rate_hz:g} Hz, {len(self.sites)} sites"

    def _headline(self):
        return "; ".join(f"{_num(s.get('delta_iso'), '.1f')}: {_num(s.get('population'), '.3f')}, span "
                         f"{_num(s.get('span'), '.0f')}" for s in self.sites)

    def _rows(self):
        return [dict(name=f"site {s.get('site')}", **{k: v for k, v in s.items() if k != "site"}) for s in self.sites]

    def to_dict(self):
        manifolds = [dict(center=m.center, orders=np.asarray(m.orders).tolist(),
                          intensities=np.asarray(m.intensities).tolist(), sigma=np.asarray(m.sigma).tolist())
                     for m in self.manifolds]
        return dict(input=self.input, nucleus=self.nucleus, mas_hz=self.mas_rate_hz, mas_source=self.mas_source,
                    sign=self.sign, sites=[dict(s) for s in self.sites], manifolds=manifolds, notes=self.notes,
                    csa_fits=[f.as_dict() for f in self.csa_fits], warnings=list(self.warnings))

    @classmethod
    def from_dict(cls, data):
        from ..spectra.pass_processing import SiteManifold

        mans = [SiteManifold(float(m["center"]), np.asarray(m["orders"], int),
                             np.asarray([_nan(v) for v in m["intensities"]], float),
                             np.asarray([_nan(v) for v in m["sigma"]], float)) for m in data.get("manifolds", [])]
        from ..spectra.csa_manifold import ManifoldFit

        fits = [ManifoldFit.from_dict(f) for f in data.get("csa_fits", [])]
        return cls(input=data.get("input", ""), nucleus=data.get("nucleus"), mas_rate_hz=float(data["mas_hz"]),
                   sites=[{k: _nan(v) if k != "degenerate" else v for k, v in s.items()} for s in data.get("sites", [])],
                   manifolds=mans, csa_fits=fits, sign=int(data.get("sign", 1)), mas_source=data.get("mas_source", ""),
                   data_notes=list(data.get("notes", [])), warnings=list(data.get("warnings", [])))

    def csv_rows(self):
        return [dict(s) for s in self.sites]

    def to_csv(self, path=None, inputs=()) -> str:
        """The command's ``--csv`` table (one row per site) as text; also written to ``path`` when given."""
        from ..resultio import table_csv_text, write_table_csv

        if path is not None:
            write_table_csv(path, self.csv_rows(), inputs)
        return table_csv_text(self.csv_rows())

    def plot(self, ax=None, max_order=None):
        """The sheared order spectra and their sum (the isotropic spectrum) on ``ax`` (new axes when
        None); each site's manifold is :meth:`plot_manifold`."""
        from ..spectra.plot import draw_pass_orders

        if self.analysis is None:
            raise _no_data("PASS result")
        return draw_pass_orders(self.analysis, axes_or_new(ax), self.nucleus, max_order)

    def plot_manifold(self, i: int, ax=None):
        """Site ``i``'s PASS manifold with its CSA fit, on ``ax`` (new axes when None)."""
        from ..spectra.plot import draw_pass_manifold

        if self.analysis is None:
            raise _no_data("PASS result")
        return draw_pass_manifold(self.analysis, i, axes_or_new(ax))


@dataclass(repr=False)
class PassTimingsResult(ResultDisplay):
    """Result of :func:`respdor.pass_timings`: the five pulse centres of each pitch increment.

    Attributes
    ----------
    timings : spinsim.pass_timing.PassTimings
        Pitches, pulse centres as fractions of the rotor period, smallest gaps, residuals.
    mas_rate_hz : float or None
        Rate of the times in s (``rows``: ``t1_us``...).
    pulse_s : float or None
        The pi-pulse length that was checked (it fits).
    """

    timings: object
    mas_rate_hz: float | None = None
    pulse_s: float | None = None
    warnings: list = field(default_factory=list)

    @property
    def n_pitch(self) -> int:
        return int(self.timings.n_pitch)

    @property
    def rows(self) -> list[dict]:
        """One row per pitch: j, Theta/2pi, t_q/tau_r (q = 1..5), t_q in us (with a rate), the
        smallest gap and the residual of the timing equations."""
        t, mas, out = self.timings, self.mas_rate_hz, []
        for j in range(t.n_pitch):
            r = dict(j=j, pitch_over_2pi=t.pitch[j] / (2 * math.pi))
            for q in range(5):
                r[f"t{q + 1}_over_tr"] = t.fractions[j, q]
            if mas:
                for q in range(5):
                    r[f"t{q + 1}_us"] = t.fractions[j, q] / mas * 1e6
            r["min_gap_over_tr"] = t.min_gap[j]
            r["residual"] = t.residual[j]
            out.append(r)
        return out

    def _title(self):
        return f"PASS timings, N = {self.n_pitch}" + (f", MAS {self.mas_rate_hz:g} Hz" if self.mas_rate_hz else "")

    def _headline(self):
        t = self.timings
        gap = f"closest centres {t.min_gap.min():.4f} tr" + (
            f" = {t.min_gap.min() / self.mas_rate_hz * 1e6:.2f} us" if self.mas_rate_hz else "")
        return f"{gap}, largest residual {t.residual.max():.1e} rad"

    def _rows(self):
        return [dict(name=f"j = {r['j']}", **{k: v for k, v in r.items() if k != "j"}) for r in self.rows]

    def to_dict(self):
        # j as a float, as the command's JSON has always had it; a timing table has no warnings.
        return dict(n_pitch=self.n_pitch, mas_hz=self.mas_rate_hz, rows=[dict(r, j=float(r["j"])) for r in self.rows])

    @classmethod
    def from_dict(cls, data):
        from spinsim.pass_timing import PassTimings

        rows = data["rows"]
        t = PassTimings(np.array([2 * math.pi * r["pitch_over_2pi"] for r in rows]),
                        np.array([[r[f"t{q}_over_tr"] for q in range(1, 6)] for r in rows]),
                        np.array([r["min_gap_over_tr"] for r in rows]), np.array([_nan(r["residual"]) for r in rows]))
        return cls(timings=t, mas_rate_hz=data.get("mas_hz"), warnings=list(data.get("warnings", [])))

    def csv_rows(self):
        return self.rows

    def to_csv(self, path=None, inputs=()) -> str:
        """The command's ``--csv`` table as text; also written to ``path`` when given."""
        from ..resultio import table_csv_text, write_table_csv

        if path is not None:
            write_table_csv(path, self.csv_rows(), inputs)
        return table_csv_text(self.csv_rows())

    def plot(self, ax=None):
        """The five pulse centres (fractions of the rotor period) against the pitch, on ``ax``."""
        ax = axes_or_new(ax)
        t = self.timings
        for q in range(5):
            ax.plot(t.pitch / (2 * math.pi), t.fractions[:, q], "o-", ms=3, label=f"pulse {q + 1}")
        ax.set_xlabel("pitch Theta / 2 pi")
        ax.set_ylabel("pulse centre t / tau_r")
        ax.set_title(f"PASS timings, N = {self.n_pitch}")
        ax.legend(fontsize=7)
        return ax


@dataclass(repr=False)
class IntegrateResult(ResultDisplay):
    """Result of :func:`respdor.integrate`: the dephasing curve of a pseudo-2D series.

    Attributes
    ----------
    curve : respdor.curve.DephasingCurve
        t (s), S0, S1, their noise, dS/S0 and its sigma (``respdor.fit`` takes it).
    observe, partner : str or None
        Observed nucleus and the recoupled one when the data set names it.
    mas_rate_hz : float
    notes, warnings : list of str
    """

    input: str
    curve: object
    observe: str | None = None
    partner: str | None = None
    mas_rate_hz: float = float("nan")
    notes: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def _title(self):
        return (f"{self.observe or ''}{{{self.partner}}}" if self.partner else f"{self.observe or ''}") + \
            f" series, {self.curve.n_points} points, MAS {self.mas_rate_hz:g} Hz"

    def _headline(self):
        c = self.curve
        return (f"t {c.time_s.min() * 1e3:.3g}..{c.time_s.max() * 1e3:.3g} ms, dS/S0 "
                f"{np.min(c.dss0):.3f}..{np.max(c.dss0):.3f}")

    def _rows(self):
        c = self.curve
        return [dict(t_s=t, S0=a, S1=b, sigma_S0=sa, sigma_S1=sb, dSS0=d, sigma=s)
                for t, a, b, sa, sb, d, s in zip(c.time_s, c.s0, c.s1, c.sigma_s0, c.sigma_s1, c.dss0, c.sigma)]

    def to_dict(self):
        c = self.curve
        return dict(input=self.input, observe=self.observe, partner=self.partner, mas_hz=self.mas_rate_hz,
                    t_s=c.time_s, S0=c.s0, S1=c.s1, sigma_S0=c.sigma_s0, sigma_S1=c.sigma_s1, dSS0=c.dss0,
                    sigma=c.sigma, notes=list(self.notes), warnings=list(self.warnings))

    @classmethod
    def from_dict(cls, data):
        from ..curve import DephasingCurve

        curve = DephasingCurve.from_signals(np.asarray(data["t_s"], float), data["S0"], data["S1"], data["sigma_S0"],
                                            data["sigma_S1"], source=data.get("input", ""),
                                            notes=list(data.get("notes", [])))
        return cls(input=data.get("input", ""), curve=curve, observe=data.get("observe"), partner=data.get("partner"),
                   mas_rate_hz=_nan(data.get("mas_hz")), notes=list(data.get("notes", [])),
                   warnings=list(data.get("warnings", [])))

    def curve_csv(self) -> str:
        """The curve file ``respdor fit`` reads (``t_s,S0,S1,sigma_S0,sigma_S1``, the nuclei as comments)."""
        from ..spectra.series import curve_csv_text

        return curve_csv_text(self.curve, self.observe, self.partner)

    def to_csv(self, path=None, inputs=()) -> str:
        """The curve file (what ``respdor integrate -o`` writes); also written to ``path`` when given
        (never over one of ``inputs``)."""
        from ..files import write_output

        text = self.curve_csv()
        if path is not None:
            write_output(path, text, tuple(inputs) + (self.input,) if self.input else tuple(inputs), "path")
        return text

    def plot(self, ax=None):
        """dS/S0 against the recoupling time (ms) with its error bars, on ``ax``."""
        ax = axes_or_new(ax)
        c = self.curve
        ax.errorbar(c.time_s * 1e3, c.dss0, yerr=c.sigma, fmt="o", ms=4)
        ax.set_xlabel("recoupling time (ms)")
        ax.set_ylabel("dS/S0")
        ax.set_title(f"{self.input}")
        return ax
