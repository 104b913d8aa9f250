"""The Fit page: a curve (the bundled example or an upload) or a Bruker pseudo-2D series (the bundled
one or a zipped upload, integrated by :func:`respdor.integrate`), nuclei, model and parameters ->
:func:`respdor.fit` in a worker thread -> figure, chi2 profile, table, warnings, exports, and the
same work as command lines and as Python code."""

from __future__ import annotations

import html
import io
from pathlib import Path

import panel as pn

from ..errors import UserError
from .fitform import (FIELD_NAMES, MODELS, PARAMETERS, SEQUENCES, TIME_UNITS, TRANSFERS, FitForm, ParameterRow,
                      library_hint, library_range)
from .seriesform import BUNDLED, BUNDLED_SETTINGS, CPMG, ORDERS, SeriesForm
from .uploads import inside_start_folder, page_words, read_uploaded_curve, read_uploaded_library
from .widgets import JobRunner, message

__all__: list = []

EXAMPLE = "respdor_13C27Al_synthetic.csv"
#: The bundled spinsim specs offered as the curve shape (simulated once at a few couplings, then cached).
SPECS = ("c13_al27_respdor.toml", "cd111_al27_sr4.toml", "cd111_al27_adiabatic_sr4.toml")
class FitPage:
    """One browser tab's Fit page (every session builds its own)."""

    def __init__(self, context):
        self.ctx = context
        self.result = self.job = None
        self.form = self.series_form = None
        example = context.example(EXAMPLE)
        self.curves = {f"bundled example: {EXAMPLE}": (str(example), f"data/{EXAMPLE}")}
        #: Bruker pseudo-2D series offered as input: key -> (experiment directory, name in the command line)
        self.series = {f"bundled series: {BUNDLED}": (str(context.example(f"{BUNDLED}/acqus").parent),
                                                       f"data/{BUNDLED}")}
        self._inputs()
        self._outputs()

    # --- the form -----------------------------------------------------------------------------
    def _inputs(self):
        w = pn.widgets
        self.curve = w.Select(name="Curve", options=list(self.curves) + list(self.series), width=360,
                              css_classes=["curve-select"])
        self.upload = w.FileInput(name="Upload a curve file, or a Bruker series as a .zip of its directory",
                                  multiple=False, width=360, css_classes=["curve-upload"])
        # value and filename arrive together; an empty file changes only the name (its value stays None)
        self.upload.param.watch(self._uploaded, ["value", "filename"])
        self.time_unit = w.Select(name="Time unit", options={u or "(from the header)": u for u in TIME_UNITS},
                                  width=170)
        self.mas = w.TextInput(name="MAS rate", placeholder="e.g. 10kHz (rotor-period times)", width=170)
        self.observe = w.TextInput(name="Observed nucleus", placeholder="from the file, else 13C", width=170)
        self.partner = w.TextInput(name="Partner", placeholder="from the file, else 27Al", width=170)
        self.model = w.Select(name="Model", options=list(MODELS), width=110)
        self.sequence = w.Select(name="Sequence", options=list(SEQUENCES), width=110)
        self.transfer = w.Select(name="Transfer", options={t or "(model default)": t for t in TRANSFERS}, width=150)
        self.shapes = {"analytical formula": ("", "")}
        self.shapes.update({f"simulated: {n} (bundled spec)": (str(self.ctx.example(n)), f"data/{n}") for n in SPECS})
        self.shape = w.Select(name="Curve shape", options=list(self.shapes), width=360, css_classes=["shape-select"])
        #: curve libraries uploaded in this tab: shape key -> (file on the server, its name, its parameters)
        self.libraries = {}
        self.library_upload = w.FileInput(name="Upload a curve library (.h5, made by respdor library build)",
                                          multiple=False, width=360, css_classes=["library-upload"])
        self.library_upload.param.watch(self._library_uploaded, ["value", "filename"])
        #: the parameter rows of each library (kept when another shape is chosen and back)
        self.library_rows = {}
        self.library_table = pn.Column(visible=False, css_classes=["library-rows"])
        self.shape.param.watch(self._shape_chosen, "value")
        self.parameterization = w.Select(name="Fit", options={"D (derive r)": "coupling", "r (derive D)": "distance"},
                                         width=130)
        self.intervals = w.Checkbox(name="profile intervals (68 / 95 %)", value=True, css_classes=["intervals"])
        self.mcmc = w.TextInput(name="MCMC steps per walker (empty: no posterior sampling)", width=330,
                                placeholder="e.g. 2000", css_classes=["mcmc-steps"])
        self.rows = {}
        for name, label, kind, unit, varied in PARAMETERS:
            hint = f"e.g. 2.5 or 0.25nm" if kind == "length" else ("e.g. 500 or 0.5kHz" if kind else "")
            self.rows[name] = (w.Checkbox(name=f"fix {name}", value=not varied, width=70, css_classes=[f"fix-{name}"]),
                               w.TextInput(placeholder=hint or "value", width=150, css_classes=[f"value-{name}"]),
                               w.TextInput(placeholder="low", width=90), w.TextInput(placeholder="high", width=90))
        self._series_inputs()
        self.runner = JobRunner("Fit", self._prepare, self._show, self._said)
        self.status = self.runner.status

    def _series_inputs(self):
        """The options of ``respdor integrate``, shown when the input is a Bruker series."""
        w = pn.widgets
        self.region = w.TextInput(name="Region (ppm)", placeholder="low high, e.g. -80 -10", width=170,
                                  css_classes=["series-region"])
        self.noise_region = w.TextInput(name="Noise region (ppm)", placeholder="signal-free, e.g. 100 200", width=170,
                                        css_classes=["series-noise"])
        self.periods = w.TextInput(name="Periods per count", placeholder="rotor periods per vclist count", width=170,
                                   css_classes=["series-periods"])
        self.vclist = w.TextInput(name="vclist", placeholder="(the experiment's vclist)", width=170)
        self.order = w.Select(name="Row order", options=list(ORDERS), width=110)
        self.lb = w.TextInput(name="Line broadening", placeholder="0 Hz", width=110)
        self.cpmg = w.Select(name="CPMG", options={c or "(no CPMG)": c for c in CPMG}, width=130,
                             css_classes=["series-cpmg"])
        self.echo_period = w.TextInput(name="Echo period", placeholder="(pulse program)", width=130)
        self.n_echoes = w.TextInput(name="Echoes", placeholder="(pulse program)", width=110)
        self.series_box = pn.Column(
            pn.pane.Markdown("### Integrate the series (`respdor integrate`; MAS rate above is required)"),
            pn.Row(self.region, self.noise_region, self.periods), pn.Row(self.vclist, self.order, self.lb),
            pn.Row(self.cpmg, self.echo_period, self.n_echoes), visible=False)
        self.curve.param.watch(self._input_chosen, "value")

    def _input_chosen(self, *events):
        """Show the integrate options for a series; the bundled one comes with the settings of its README."""
        key = self.curve.value
        self.series_box.visible = key in self.series
        if key == f"bundled series: {BUNDLED}":
            boxes = {"region": self.region, "noise_region": self.noise_region, "mas": self.mas,
                     "periods_per_count": self.periods, "cpmg": self.cpmg}
            for name, text in BUNDLED_SETTINGS.items():
                if not boxes[name].value:
                    boxes[name].value = text

    def read_series(self) -> SeriesForm | None:
        """The integrate fields as a :class:`SeriesForm` when the input is a series, else None."""
        if self.curve.value not in self.series:
            return None
        path, label = self.series[self.curve.value]
        return SeriesForm(path=path, label=label, region=self.region.value, noise_region=self.noise_region.value,
                          mas=self.mas.value, periods_per_count=self.periods.value, vclist=self.vclist.value,
                          order=self.order.value, lb=self.lb.value, cpmg=self.cpmg.value,
                          echo_period=self.echo_period.value, n_echoes=self.n_echoes.value)

    def _table(self):
        head = pn.Row(*(pn.pane.HTML(f"<b>{t}</b>", width=wd, margin=(0, 5)) for t, wd in
                        (("parameter", 110), ("fix", 70), ("value (fixed) or start", 150), ("low", 90), ("high", 90))))
        lines = [head]
        for name, label, *_ in PARAMETERS:
            lines.append(pn.Row(pn.pane.HTML(html.escape(label), width=110, margin=(10, 5)), *self.rows[name]))
        return pn.Column(*lines)

    def read_form(self) -> FitForm:
        """The widgets' values as a :class:`FitForm` (nothing parsed yet); for a series, the fit of the
        curve file ``respdor integrate`` writes (its times in s: no time unit, no MAS rate)."""
        series = self.read_series()
        path, label = (("", series.curve_name()) if series else self.curves[self.curve.value])
        library, library_label, parameters = self.libraries.get(self.shape.value, ("", "", {}))
        widgets = dict(self.rows, **self.library_rows.get(self.shape.value, {}))
        rows = {name: ParameterRow(fixed=fix.value, value=value.value, low=low.value, high=high.value)
                for name, (fix, value, low, high, *_) in widgets.items()}
        spec, spec_label = self.shapes[self.shape.value]
        return FitForm(curve=path, label=label, simulate_spec=spec, simulate_label=spec_label,
                       library=library, library_label=library_label, library_parameters=parameters,
                       observe=self.observe.value, partner=self.partner.value,
                       model=self.model.value, sequence=self.sequence.value, transfer=self.transfer.value,
                       parameterization=self.parameterization.value, mcmc_steps=self.mcmc.value,
                       time_unit="" if series else self.time_unit.value, mas="" if series else self.mas.value,
                       rows=rows, intervals=self.intervals.value)

    # --- the outputs ---------------------------------------------------------------------------
    def _outputs(self):
        self.figure = pn.pane.PNG(None, width=520, css_classes=["respdor-figure"])
        self.profile = pn.pane.PNG(None, width=400, css_classes=["respdor-profile"], visible=False)
        self.corner = pn.pane.PNG(None, width=520, css_classes=["respdor-corner"], visible=False)
        self.report = pn.pane.HTML("", css_classes=["respdor-report"], sizing_mode="stretch_width")
        self.warnings = pn.Column(sizing_mode="stretch_width")
        self.reproduce = pn.pane.Markdown("", sizing_mode="stretch_width", css_classes=["respdor-reproduce"])
        self.export_dir = pn.widgets.TextInput(name="Export folder (inside the folder the app was started in)",
                                               value=".", width=360, css_classes=["export-dir"])
        self.export_button = pn.widgets.Button(name="Save JSON, CSVs and figure", width=220, disabled=True)
        self.export_button.on_click(self._export)
        self.download = pn.widgets.FileDownload(callback=self._json_download, filename="fit.json",
                                                label="Download JSON", width=220, disabled=True)
        self.export_status = pn.Column(sizing_mode="stretch_width")

    def view(self):
        form = pn.Column(
            pn.pane.Markdown("### Curve"), self.curve, self.upload, pn.Row(self.time_unit, self.mas), self.series_box,
            pn.pane.Markdown("### Nuclei and model"), pn.Row(self.observe, self.partner),
            pn.Row(self.model, self.sequence, self.transfer, self.parameterization), self.shape, self.library_upload,
            pn.pane.Markdown("### Parameters"), self._table(), self.library_table, self.intervals, self.mcmc,
            self.runner.view(), width=620)
        results = pn.Column(
            pn.Row(self.figure, self.profile), self.corner, self.warnings, self.report,
            pn.pane.Markdown("### Export"), self.export_dir, pn.Row(self.export_button, self.download),
            self.export_status, self.reproduce, min_width=560, sizing_mode="stretch_width")
        return pn.Row(form, results, sizing_mode="stretch_width")

    # --- actions -------------------------------------------------------------------------------
    def _uploaded(self, *events):
        """A new upload: kept in the private folder and read at once, so a file that is not a curve
        is named now, with the one line ``respdor fit`` would print."""
        self.status.objects = []
        if self.upload.filename is None:
            return
        if str(self.upload.filename).lower().endswith(".zip"):
            return self._uploaded_zip()
        try:
            path = self.ctx.uploads.save(self.upload.filename or "upload", self.upload.value or b"")
        except UserError as exc:
            self.status.objects = [message("danger", str(exc))]
            return
        name = Path(path).name
        key = f"upload: {name}"
        self.curves[key] = (str(path), name)
        self.curve.options = list(self.curves)
        self.curve.value = key
        try:  # read now with the page's time unit and MAS rate; a file refused here is refused by Fit too
            form = self.read_form()
            _, lines = read_uploaded_curve(self.ctx.uploads, path, form.time_unit or None,
                                           form.call_arguments().get("mas_rate_hz"))
        except UserError as exc:
            self.status.objects = [message("danger", str(exc))]
            return
        self.status.objects = [message("info", line) for line in lines]

    def _uploaded_zip(self):
        """A zipped Bruker series: unpacked safely in the private folder, its experiment found now."""
        name = Path(self.upload.filename).name
        try:
            experiment, label = self.ctx.uploads.save_experiment(name, self.upload.value or b"", "ser")
        except UserError as exc:
            self.status.objects = [message("danger", str(exc))]
            return
        key = f"upload: {name} (Bruker series {label})"
        self.series[key] = (str(experiment), label)
        self.curve.options = list(self.curves) + list(self.series)
        self.curve.value = key
        self.status.objects = [message("info", f"{name}: Bruker series {label}; it is integrated when you click Fit")]

    def _library_uploaded(self, *events):
        """A curve library: kept in the private folder and opened now, as ``respdor fit --library``
        opens it (a file that is not a complete library is named in the one line the command prints);
        then offered and chosen as the curve shape, its parameters as rows of the table."""
        self.status.objects = []
        if self.library_upload.filename is None:
            return
        try:
            path = self.ctx.uploads.save(self.library_upload.filename or "library.h5",
                                         self.library_upload.value or b"")
            shape = read_uploaded_library(self.ctx.uploads, path)
        except UserError as exc:
            self.status.objects = [message("danger", str(exc))]
            return
        key = f"library: {path.name} (uploaded)"
        self.libraries[key] = (str(path), path.name, shape.parameters)
        self.library_rows.pop(key, None)  # a new file under the same name: its own rows
        self.shapes[key] = ("", "")
        self.shape.options = list(self.shapes)
        self.shape.value = key
        self._shape_chosen()
        lo, hi = shape.coupling_range_hz
        axes = "; ".join(f"{n} {library_range(n, *p[1])}" for n, p in shape.parameters.items())
        pair = "{}{{{}}}".format(*shape.nuclei)
        self.status.objects = [message("info", f"{path.name}: a curve library of {pair} over D {lo:g}-{hi:g} Hz, "
                                               f"times up to {1e3 * shape.t_max_s:g} ms; "
                                               f"{axes or 'no tabulated parameter'}")]

    def _shape_chosen(self, *events):
        """The rows of the chosen library's parameters (fixed at its default unless you free them)."""
        key = self.shape.value
        if key not in self.libraries:
            self.library_table.objects, self.library_table.visible = [], False
            return
        if key not in self.library_rows:
            self.library_rows[key] = {name: self._library_row(name, p) for name, p in self.libraries[key][2].items()}
        # the hint (default and range) on its own line under the boxes: the form column is narrow
        lines = [pn.Column(pn.Row(pn.pane.HTML(html.escape(f"{name} (library)"), width=110, margin=(10, 5)),
                                  *widgets[:4]), widgets[4], margin=0)
                 for name, widgets in self.library_rows[key].items()]
        self.library_table.objects, self.library_table.visible = lines, True

    @staticmethod
    def _library_row(name, parameter):
        w = pn.widgets
        unit = {"cq": "e.g. 3MHz", "nu1": "e.g. 30kHz", "length": "e.g. 200us"}.get(name, "value")
        return (w.Checkbox(name=f"fix {name}", value=True, width=70, css_classes=[f"fix-{name}"]),
                w.TextInput(placeholder=unit, width=150, css_classes=[f"value-{name}"]),
                w.TextInput(placeholder="low", width=90), w.TextInput(placeholder="high", width=90),
                pn.pane.HTML(html.escape(library_hint(name, parameter)), margin=(0, 5, 6, 130), width=460,
                             styles={"font-size": "0.85em", "color": "#555"}, css_classes=[f"hint-{name}"]))

    def _said(self, text):
        """A library line as the page says it: the upload's own name, the page's field names."""
        return page_words(self.ctx.uploads, text)

    def _prepare(self):
        """The fit the form asks for, as a call for the worker (a mistake in a field: UserError)."""
        import respdor

        series = self.read_series()
        form = self.read_form()
        integrate = series.call_arguments() if series else None
        args = form.call_arguments()
        self.form, self.series_form = form, series
        args["option_names"] = FIELD_NAMES
        if series is None:
            return lambda progress: _fit_and_draw(respdor, args, progress) + (None,)
        return lambda progress: _integrate_fit_and_draw(respdor, self.ctx.uploads, series, integrate, args, progress)

    def _show(self, job):
        self.result, png, corner, profile, integrated = job.result
        if integrated is not None:  # the fit read the curve file integrate wrote: name it as the command does
            integrated, self.form.curve = integrated
        self.corner.object, self.corner.visible = corner, corner is not None
        self.profile.object, self.profile.visible = profile, profile is not None
        lines = list(dict.fromkeys(list(self.result.warnings) + job.warnings))
        self.figure.object = png
        report = "\n".join(self._named(line) for line in self.result.report().splitlines())
        self.report.object = f"<pre>{html.escape(report)}</pre>"
        notes = []
        if integrated is not None:
            lines = list(dict.fromkeys(list(integrated.warnings) + lines))
            notes = [message("info", "integrate: " + self._said(self._named(n))) for n in integrated.notes]
        self.warnings.objects = notes + [message("warning", "warning: " + self._said(self._named(w))) for w in lines]
        self.export_button.disabled = self.download.disabled = False
        self.download.filename = f"{Path(self.form.label).stem}_fit.json"
        series = self.series_form if integrated is not None else None
        bash = (series.command_line() + "\n" if series else "") + self.form.command_line()
        code = self.form.python_code()
        if series:
            code = code.replace("import respdor\n\n", "import respdor\n\n" + series.python_code(), 1)
        self.reproduce.object = (f"### The same fit outside the app\n\n```bash\n{bash}\n```\n\n"
                                 f"```python\n{code}```\n")

    def _named(self, line):
        """A line with the files named as the command line names them (not their place on the server)."""
        for path, label in ((self.form.simulate_spec, self.form.simulate_label),
                            (self.form.library, self.form.library_label), (self.form.curve, self.form.label)):
            if path:
                line = line.replace(path, label)
        return self.ctx.uploads.as_user_sees(line)

    def _json_download(self):
        return io.StringIO(self.result.to_json()) if self.result is not None else io.StringIO("")

    def _export(self, event):
        try:
            folder = inside_start_folder(self.export_dir.value, self.ctx.start)
            inputs = [p for p in (self.form.curve, self.form.simulate_spec, self.form.library) if p]
            written = export_fit(self.result, folder, Path(self.form.label).stem, inputs)
        except UserError as exc:
            self.export_status.objects = [message("danger", str(exc))]
            return
        self.export_status.objects = [message("success", f"wrote {p}") for p in written]


def _fit_and_draw(respdor, args, progress):
    """The fit, its figure, the chi2 profile of D (or r) when the fit measured it and (with MCMC) the
    corner figure as PNG bytes, drawn in the worker too."""
    from ..plotting import fit_figure, profile_figure, profiled_name

    result = respdor.fit(progress=progress, **args)
    buffer = io.BytesIO()
    fit_figure(result).savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    profile = None
    if profiled_name(result):
        out = io.BytesIO()
        profile_figure(result).savefig(out, format="png", dpi=80)
        profile = out.getvalue()
    corner = None
    if getattr(result, "mcmc_samples", None):
        from ..plotting import corner_figure

        out = io.BytesIO()
        corner_figure(result).savefig(out, format="png", dpi=80)
        corner = out.getvalue()
    return result, buffer.getvalue(), corner, profile


def _integrate_fit_and_draw(respdor, uploads, series, integrate, args, progress):
    """Integrate the series, keep its curve file in the private folder (what ``respdor integrate -o``
    writes) and fit that file as ``respdor fit`` reads it."""
    integrated = respdor.integrate(progress=progress, **integrate)
    path = uploads.save(series.curve_name(), integrated.curve_csv().encode())
    args = dict(args, curves=str(path))
    return _fit_and_draw(respdor, args, progress) + ((integrated, str(path)),)


def export_fit(result, folder, stem, inputs):
    """``<stem>_fit.json``, ``_fit_params.csv``, ``_fit_curve.csv`` and ``_fit.png`` in ``folder``, as
    ``respdor fit`` writes them, all checked by the one output guard before the first byte (never over
    an input, whole or not at all). Returns the paths written."""
    from ..files import OutputPlan
    from ..plotting import fit_figure
    from ..report import write_fit_curve_csv, write_json, write_parameters_csv

    plan = OutputPlan(inputs=inputs)
    plan.add_directory(folder, "export folder")
    json_path = plan.add(Path(folder) / f"{stem}_fit.json", "export folder")
    csv_path = plan.add(Path(folder) / f"{stem}_fit_params.csv", "export folder")
    curve_path = plan.add(Path(folder) / f"{stem}_fit_curve.csv", "export folder")
    png_path = plan.add(Path(folder) / f"{stem}_fit.png", "export folder", "figure")
    plan.check()
    for path, write in ((json_path, write_json), (csv_path, write_parameters_csv), (curve_path, write_fit_curve_csv)):
        with plan.writing(path) as tmp:
            write(result, tmp)
    plan.save_figure(fit_figure(result), png_path, dpi=200, bbox_inches="tight")
    return [json_path, csv_path, curve_path, png_path]
