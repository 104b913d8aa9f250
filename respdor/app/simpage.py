"""The Simulate page: a spinsim spec edited in the page (the bundled one, or an uploaded TOML/JSON)
-> :func:`respdor.simulate` in a worker thread (work estimate, progress, Cancel) -> the curve, over
a measured curve when one is chosen, the convergence check, every warning, the CSV."""

from __future__ import annotations

import html
import io

import panel as pn

from ..errors import UserError
from .simform import SimulateForm
from .uploads import page_words
from .widgets import JobRunner, message

__all__: list = []

SPEC = "c13_al27_respdor.toml"
CURVE = "respdor_13C27Al_synthetic.csv"


class SimulatePage:
    """One browser tab's Simulate page."""

    def __init__(self, context):
        self.ctx = context
        self.run = self.form = self.args = None
        w = pn.widgets
        from ..files import read_text

        spec_text = read_text(context.example(SPEC), "spec")
        self.name = w.TextInput(name="Spec file name", value=SPEC, width=260, css_classes=["spec-name"])
        self.text = w.TextAreaInput(name="Spec (TOML; units in the key names)", value=spec_text, height=430,
                                    width=560, css_classes=["spec-text"])
        self.upload = w.FileInput(name="Upload a spec (TOML or JSON)", accept=".toml,.json", width=360,
                                  css_classes=["spec-upload"])
        self.upload.param.watch(self._uploaded, ["value", "filename"])
        self.orientations = w.TextInput(name="Orientations (empty: the spec's)", width=200,
                                        css_classes=["orientations"])
        self.gamma = w.TextInput(name="Gamma angles (empty: the spec's)", width=200, css_classes=["gamma"])
        self.allow_long = w.Checkbox(name="run even when the estimated work is beyond the limit", value=False)
        self.curves = {"none": "", f"bundled example: {CURVE}": str(context.example(CURVE))}
        self.overlay = w.Select(name="Measured curve to overlay", options=list(self.curves), width=360,
                                css_classes=["overlay-curve"])
        self.runner = JobRunner("Simulate", self._prepare, self._show, self._said)
        self.figure = pn.pane.PNG(None, width=560, css_classes=["respdor-sim-figure"])
        self.report = pn.pane.HTML("", css_classes=["respdor-sim-report"], sizing_mode="stretch_width")
        self.warnings = pn.Column(sizing_mode="stretch_width")
        self.reproduce = pn.pane.Markdown("", sizing_mode="stretch_width", css_classes=["respdor-sim-reproduce"])
        self.download = pn.widgets.FileDownload(callback=self._csv, filename="curve.csv", label="Download CSV",
                                                width=220, disabled=True)

    def view(self):
        form = pn.Column(pn.pane.Markdown("### Spec"), self.upload, self.name, self.text,
                         pn.Row(self.orientations, self.gamma), self.allow_long, self.overlay,
                         self.runner.view(), width=600)
        results = pn.Column(self.figure, self.warnings, self.report, self.download, self.reproduce,
                            min_width=560, sizing_mode="stretch_width")
        return pn.Row(form, results, sizing_mode="stretch_width")

    def _said(self, text):
        return page_words(self.ctx.uploads, text)

    def _uploaded(self, *events):
        """An uploaded spec replaces the text in the editor (it is checked when you click Simulate)."""
        if self.upload.filename is None:
            return
        from ..files import read_text

        try:  # read through the text guard, as respdor simulate reads a spec (a binary file is named)
            path = self.ctx.uploads.save(self.upload.filename or "spec.toml", self.upload.value or b"")
            text = read_text(path, "TOML/JSON spec file")
        except UserError as exc:
            self.runner.say("danger", exc)
            return
        self.name.value, self.text.value = path.name, text
        self.runner.say("info", f"{self.name.value}: loaded into the editor")

    def _prepare(self):
        import respdor

        form = SimulateForm(name=self.name.value.strip(), text=self.text.value, orientations=self.orientations.value,
                            gamma=self.gamma.value, allow_long=self.allow_long.value)
        args = form.call_arguments(self.ctx.uploads)
        self.form, self.args = form, args
        curve = self.curves[self.overlay.value]
        return lambda progress: _simulate_and_draw(respdor, args, curve, progress)

    def _show(self, job):
        self.run, png = job.result
        self.figure.object = png
        lines = [repr(self.run)] + list(self.run.convergence_lines())
        text = "\n".join(self.ctx.uploads.as_user_sees(x) for x in lines)
        self.report.object = f"<pre>{html.escape(text)}</pre>"
        lines = list(dict.fromkeys(list(self.run.warnings) + job.warnings))
        self.warnings.objects = [message("warning", "warning: " + self._said(w)) for w in lines]
        self.download.disabled = False
        self.download.filename = f"{self.form.name.rsplit('.', 1)[0]}_sim.csv"
        self.reproduce.object = (f"### The same run outside the app\n\nSave the spec as `{self.form.name}`, then\n\n"
                                 f"```bash\n{self.form.command_line(self.args)}\n```\n\n"
                                 f"```python\n{self.form.python_code(self.args)}```\n")

    def _csv(self):
        return io.StringIO(self.run.csv_text() if self.run is not None else "")


def _simulate_and_draw(respdor, args, curve_path, progress):
    """The run and its figure (the run's own plot, the measured dS/S0 with error bars over it)."""
    from matplotlib.figure import Figure

    run = respdor.simulate(progress=progress, **args)
    fig = Figure(figsize=(6.0, 4.2))
    ax = run.plot(fig.add_subplot())
    if curve_path:
        curve = respdor.read_curve(curve_path)
        ax.errorbar(1e3 * curve.time_s, curve.dss0, yerr=curve.sigma, fmt="s", ms=3, color="k", capsize=2,
                    label=f"measured: {curve.label}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return run, buffer.getvalue()
