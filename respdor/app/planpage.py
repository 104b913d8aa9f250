"""The Plan page: the planner's inputs -> :func:`respdor.plan` in a worker thread -> the design table
and hours, the figure, every warning, the JSON, and the same plan as a command line and as Python."""

from __future__ import annotations

import html
import io

import panel as pn

from .planform import TARGETS, PlanForm
from .widgets import JobRunner, message

__all__: list = []


class PlanPage:
    """One browser tab's Plan page."""

    def __init__(self, context):
        self.ctx = context
        self.result = self.form = None
        d = PlanForm()
        w = pn.widgets
        self.fields = {
            "observe": w.TextInput(name="Observed nucleus", value=d.observe, width=140),
            "partner": w.TextInput(name="Partner", value=d.partner, width=140),
            "experiment": w.Select(name="Model", options=["respdor", "redor"], value=d.experiment, width=110),
            "sequence": w.Select(name="Sequence", options=["redor", "sr4"], value=d.sequence, width=110),
            "assumed": w.Select(name="Assumed", options={"r (Å)": "r", "D (Hz)": "D"}, value=d.assumed, width=110),
            "value": w.TextInput(name="value", value=d.value, width=120),
            "fraction": w.TextInput(name="Fraction f", value=d.fraction, width=120),
            "snr": w.TextInput(name="S/N of the reference", value=d.snr, width=140),
            "scans": w.TextInput(name="Scans of the reference", value=d.scans, width=140),
            "recycle": w.TextInput(name="Recycle delay", value=d.recycle, width=140),
            "mas": w.TextInput(name="MAS rate", value=d.mas, width=120),
            "t2prime": w.TextInput(name="T2' (empty: no decay)", value=d.t2prime, width=150),
            "buildup": w.TextInput(name="DNP build-up time (optional)", value=d.buildup, width=180),
            "target": w.Select(name="Target", options={f"σ({k})": k for k in TARGETS}, value=d.target, width=110),
            "target_error": w.TextInput(name="wanted standard error", value=d.target_error, width=160),
        }
        self.runner = JobRunner("Plan", self._prepare, self._show)
        self.figure = pn.pane.PNG(None, width=560, css_classes=["respdor-plan-figure"])
        self.report = pn.pane.HTML("", css_classes=["respdor-plan-report"], sizing_mode="stretch_width")
        self.warnings = pn.Column(sizing_mode="stretch_width")
        self.reproduce = pn.pane.Markdown("", sizing_mode="stretch_width", css_classes=["respdor-plan-reproduce"])
        self.download = pn.widgets.FileDownload(callback=self._json, filename="plan.json", label="Download JSON",
                                                width=220, disabled=True)

    def read_form(self) -> PlanForm:
        return PlanForm(**{k: v.value for k, v in self.fields.items()})

    def view(self):
        f = self.fields
        form = pn.Column(
            pn.pane.Markdown("### Sample and model"), pn.Row(f["observe"], f["partner"]),
            pn.Row(f["experiment"], f["sequence"]), pn.Row(f["assumed"], f["value"], f["fraction"]),
            pn.pane.Markdown("### Sensitivity"), pn.Row(f["snr"], f["scans"], f["recycle"]),
            pn.Row(f["mas"], f["t2prime"], f["buildup"]),
            pn.pane.Markdown("### Goal"), pn.Row(f["target"], f["target_error"]),
            pn.pane.Markdown("Times take a unit (`8ms`; a bare number is s), frequencies too (`10kHz`; bare: Hz), "
                             "distances too (`0.25nm`; bare: Å)."),
            self.runner.view(), width=560)
        results = pn.Column(self.figure, self.warnings, self.report, self.download, self.reproduce,
                            min_width=560, sizing_mode="stretch_width")
        return pn.Row(form, results, sizing_mode="stretch_width")

    def _prepare(self):
        import respdor

        form = self.read_form()
        args = form.call_arguments()
        self.form = form
        return lambda progress: _plan_and_draw(respdor, args, progress)

    def _show(self, job):
        self.result, png = job.result
        self.figure.object = png
        self.report.object = f"<pre>{html.escape(chr(10).join(self.result.report_lines()))}</pre>"
        lines = list(dict.fromkeys(list(self.result.warnings) + job.warnings))
        self.warnings.objects = [message("warning", f"warning: {w}") for w in lines]
        self.download.disabled = False
        self.reproduce.object = (f"### The same plan outside the app\n\n```bash\n{self.form.command_line()}\n```\n\n"
                                 f"```python\n{self.form.python_code()}```\n")

    def _json(self):
        return io.StringIO(self.result.to_json() if self.result is not None else "")


def _plan_and_draw(respdor, args, progress):
    """The plan and its figure (the one ``respdor plan --figure`` draws) as PNG bytes."""
    from matplotlib.figure import Figure

    result = respdor.plan(progress=progress, **args)
    fig = Figure(figsize=(6.4, 4.2))
    result.plot(fig.add_subplot())
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return result, buffer.getvalue()
