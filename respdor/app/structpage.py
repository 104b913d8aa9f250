"""The Structure page: a structure file (the bundled magres model or an upload) -> the partners
table, the predicted curve against a measured one and the apparent two-spin distance, from
:func:`respdor.predict_structure` in a worker thread (long work: progress and Cancel)."""

from __future__ import annotations

import html
import io
from pathlib import Path

import panel as pn

from .structform import StructureForm
from .uploads import page_words
from .widgets import JobRunner, keep_upload, message

__all__: list = []

MODELS = ("al_carboxylate_model.magres", "al_carboxylate_model.xyz")
CURVE = "respdor_13C27Al_synthetic.csv"


class StructurePage:
    """One browser tab's Structure page."""

    def __init__(self, context):
        self.ctx = context
        self.result = self.form = None
        self.files = {f"bundled model: {m}": (str(context.example(m)), f"data/{m}") for m in MODELS}
        self.curves = {"none": ("", ""), f"bundled example: {CURVE}": (str(context.example(CURVE)), f"data/{CURVE}")}
        w = pn.widgets
        self.structure = w.Select(name="Structure", options=list(self.files), width=360)
        self.upload = w.FileInput(name="Upload a structure (xyz, CIF, POSCAR, magres)", width=360,
                                  css_classes=["structure-upload"])
        self.upload.param.watch(self._uploaded, ["value", "filename"])
        self.fields = {"observe": w.TextInput(name="Observed atoms", value="C", width=150),
                       "partner": w.TextInput(name="Partner", value="27Al", width=110),
                       "cutoff": w.TextInput(name="Cutoff", value="4A", width=100),
                       "max_partners": w.TextInput(name="Max partners per atom", placeholder="all", width=160,
                                                   css_classes=["max-partners"]),
                       "mas": w.TextInput(name="MAS rate", value="10kHz", width=110),
                       "field": w.TextInput(name="B0 (T)", value="14.1", width=90)}
        self.compare = w.Select(name="Measured curve to compare", options=list(self.curves), width=360,
                                css_classes=["compare-curve"])
        self.allow_long = w.Checkbox(name="run even when the estimated work is beyond the limit", value=False)
        self.runner = JobRunner("Predict", self._prepare, self._show, self._said)
        self.figure = pn.pane.PNG(None, width=560, css_classes=["respdor-structure-figure"])
        self.report = pn.pane.HTML("", css_classes=["respdor-structure-report"], sizing_mode="stretch_width")
        self.warnings = pn.Column(sizing_mode="stretch_width")
        self.reproduce = pn.pane.Markdown("", sizing_mode="stretch_width", css_classes=["respdor-structure-reproduce"])
        self.download = pn.widgets.FileDownload(callback=self._json, filename="structure.json",
                                                label="Download JSON", width=220, disabled=True)

    def view(self):
        f = self.fields
        form = pn.Column(
            pn.pane.Markdown("### Structure"), self.structure, self.upload,
            pn.pane.Markdown("### Atoms and experiment"), pn.Row(f["observe"], f["partner"], f["cutoff"]),
            pn.Row(f["max_partners"], f["mas"], f["field"]), self.compare, self.allow_long,
            pn.pane.Markdown("Observed atoms: an element (`C`), a bonding selection (`C[O2]`: carbons bonded to "
                             "two O) or atom indices. The work is estimated before it starts."),
            self.runner.view(), width=560)
        results = pn.Column(self.figure, self.warnings, self.report, self.download, self.reproduce,
                            min_width=560, sizing_mode="stretch_width")
        return pn.Row(form, results, sizing_mode="stretch_width")

    def _said(self, text):
        return page_words(self.ctx.uploads, text)

    def _uploaded(self, *events):
        keep_upload(self, self.structure, "Predict")

    def read_form(self) -> StructureForm:
        path, label = self.files[self.structure.value]
        compare, compare_label = self.curves[self.compare.value]
        return StructureForm(path=path, label=label, compare=compare, compare_label=compare_label,
                             allow_long=self.allow_long.value, **{k: v.value for k, v in self.fields.items()})

    def _prepare(self):
        import respdor

        form = self.read_form()
        args = form.call_arguments()
        self.form = form
        return lambda progress: _predict_and_draw(respdor, args, progress)

    def _show(self, job):
        self.result, png = job.result
        self.figure.object = png
        text = "\n".join(self._named(line) for line in self.result.report_lines())
        self.report.object = f"<pre>{html.escape(text)}</pre>"
        lines = list(dict.fromkeys(list(self.result.warnings) + job.warnings))
        self.warnings.objects = [message("warning", "warning: " + self._said(w)) for w in lines]
        self.download.disabled = False
        self.download.filename = f"{Path(self.form.label).stem}_structure.json"
        self.reproduce.object = (f"### The same prediction outside the app\n\n```bash\n{self.form.command_line()}\n"
                                 f"```\n\n```python\n{self.form.python_code()}```\n")

    def _named(self, line):
        """A report line with the files named as the command line names them (not their place on the server)."""
        line = line.replace(self.form.path, self.form.label)
        if self.form.compare:
            line = line.replace(self.form.compare, self.form.compare_label)
        return self.ctx.uploads.as_user_sees(line)

    def _json(self):
        return io.StringIO(self.result.to_json() if self.result is not None else "")


def _predict_and_draw(respdor, args, progress):
    """The prediction and its figure (predicted curve, and the measured one when compared) as PNG bytes."""
    from matplotlib.figure import Figure

    result = respdor.predict_structure(progress=progress, **args)
    fig = Figure(figsize=(6.0, 4.0))
    result.plot(fig.add_subplot())
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return result, buffer.getvalue()
