"""The Spectra page: a 1D MAS spectrum as text (ppm, intensity; the bundled 113Cd spectrum or an
upload) -> the MAS rate with its evidence and a CSA fit of the chosen lines with every fitted
sideband drawn, from :func:`respdor.csa_fit` in a worker thread."""

from __future__ import annotations

import html
import io

import panel as pn

from .spectraform import SpectraForm
from .uploads import page_words
from .widgets import JobRunner, keep_upload, message

__all__: list = []

SPECTRUM = "pass_113Cd_synthetic/mas1d_8kHz.txt"


class SpectraPage:
    """One browser tab's Spectra page."""

    def __init__(self, context):
        self.ctx = context
        self.result = self.form = None
        self.files = {f"bundled example: {SPECTRUM}": (str(context.example(SPECTRUM)), f"data/{SPECTRUM}")}
        w = pn.widgets
        self.spectrum = w.Select(name="Spectrum (text: ppm, intensity)", options=list(self.files), width=420)
        self.upload = w.FileInput(name="Upload a text spectrum", width=420, css_classes=["spectrum-upload"])
        self.upload.param.watch(self._uploaded, ["value", "filename"])
        self.fields = {"mas": w.TextInput(name="MAS rate (empty: from the sidebands)", value="8kHz", width=220),
                       "larmor": w.TextInput(name="Larmor frequency", value="88.8016MHz", width=160),
                       "sites": w.TextInput(name="Sites (ppm)", value="-50", width=200, css_classes=["sites"]),
                       "spans": w.TextInput(name="Starting spans (ppm)", value="100", width=160),
                       "fwhm": w.TextInput(name="Starting line width (ppm)", value="30", width=170),
                       "noise": w.TextInput(name="Noise region (ppm)", value="150 210", width=160)}
        self.runner = JobRunner("Fit CSA", self._prepare, self._show, self._said)
        self.figure = pn.pane.PNG(None, width=600, css_classes=["respdor-spectra-figure"])
        self.report = pn.pane.HTML("", css_classes=["respdor-spectra-report"], sizing_mode="stretch_width")
        self.warnings = pn.Column(sizing_mode="stretch_width")
        self.reproduce = pn.pane.Markdown("", sizing_mode="stretch_width", css_classes=["respdor-spectra-reproduce"])
        self.download = pn.widgets.FileDownload(callback=self._json, filename="csa.json", label="Download JSON",
                                                width=220, disabled=True)

    def view(self):
        f = self.fields
        form = pn.Column(pn.pane.Markdown("### Spectrum"), self.spectrum, self.upload,
                         pn.Row(f["mas"], f["larmor"]), pn.pane.Markdown("### Lines"),
                         pn.Row(f["sites"], f["spans"]), pn.Row(f["fwhm"], f["noise"]),
                         pn.pane.Markdown("Several sites or spans: separate them by spaces (`-50 -320`)."),
                         self.runner.view(), width=520)
        results = pn.Column(self.figure, self.warnings, self.report, self.download, self.reproduce,
                            min_width=560, sizing_mode="stretch_width")
        return pn.Row(form, results, sizing_mode="stretch_width")

    def _said(self, text):
        return page_words(self.ctx.uploads, text)

    def _uploaded(self, *events):
        keep_upload(self, self.spectrum, "Fit CSA")

    def _prepare(self):
        import respdor

        path, label = self.files[self.spectrum.value]
        form = SpectraForm(path=path, label=label, **{k: v.value for k, v in self.fields.items()})
        args = form.call_arguments()
        self.form = form
        return lambda progress: _fit_and_draw(respdor, args, progress)

    def _show(self, job):
        self.result, png = job.result
        self.figure.object = png
        r = self.result
        lines = [f"MAS rate {r.mas_rate_hz:g} Hz ({r.mas_source}); evidence: {r.mas_evidence}",
                 f"observe frequency {r.larmor_hz / 1e6:.6f} MHz ({r.larmor_source})"]
        lines += [f"note: {n}" for n in r.notes]
        named = [self._named(x) for x in lines]
        self.report.object = ("<pre>" + html.escape("\n".join(named)) + "</pre>"
                              + r._repr_html_().split("<p style='color:#a15c00'>")[0])
        said = list(dict.fromkeys(list(r.warnings) + job.warnings))
        self.warnings.objects = [message("warning", "warning: " + self._named(w)) for w in said]
        self.download.disabled = False
        self.reproduce.object = (f"### The same fit outside the app\n\n```bash\n{self.form.command_line()}\n```\n\n"
                                 f"```python\n{self.form.python_code()}```\n")

    def _named(self, line):
        return page_words(self.ctx.uploads, str(line).replace(self.form.path, self.form.label))

    def _json(self):
        return io.StringIO(self.result.to_json() if self.result is not None else "")


def _fit_and_draw(respdor, args, progress):
    """The CSA fit and its figure (spectrum, fit, each site's sidebands; residual below) as PNG bytes."""
    from matplotlib.figure import Figure

    result = respdor.csa_fit(progress=progress, **args)
    fig = Figure(figsize=(7.0, 4.8))
    ax, resid = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    result.plot(ax, resid)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return result, buffer.getvalue()
