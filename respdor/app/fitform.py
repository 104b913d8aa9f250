"""The Fit page's form as plain values: widget texts -> the arguments of :func:`respdor.fit`, and the
same request as a ``respdor fit`` command line and as Python code (no Panel here; tested without a browser).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from ..errors import UserError
from ..units import PARAMETER_UNITS, parse_frequency, parse_length

__all__: list = []

#: The parameters of the analytical models as the form shows them: (short name, label, unit kind,
#: unit shown, varied by default). The short names are those of ``respdor fit --fix``.
PARAMETERS = (
    ("D", "D (Hz)", "frequency", "Hz", True),
    ("r", "r (Å)", "length", "Å", True),
    ("f", "fraction f", None, "", True),
    ("eps", "efficiency ε", None, "", False),
    ("x", "abundance x", None, "", False),
    ("kappa", "scaling κ", None, "", False),
    ("width", "width σr (Å)", "length", "Å", False),
)
_KIND = {name: kind for name, _, kind, _, _ in PARAMETERS}
_VARIED = {name for name, *_, varied in PARAMETERS if varied}

MODELS = ("respdor", "redor")
SEQUENCES = ("redor", "sr4")
TRANSFERS = ("", "saturation", "inversion", "ct-inversion", "ct-saturation")
TIME_UNITS = ("", "s", "ms", "us")

#: How the page names the arguments of respdor.fit and read_curve in its messages: its own fields.
FIELD_NAMES = {"observe": "Observed nucleus", "partner": "Partner", "experiment": "Model", "transfer": "Transfer",
               "sequence": "Sequence", "mas_rate_hz": "MAS rate", "time_unit": "Time unit", "fix": "fix",
               "bounds": "bounds", "initial": "start", "free": "fix", "parameterization": "Fit",
               "library": "library"}


#: Python argument names that library messages mention, as the pages name their fields.
_LONG_BOX = "'run even when the estimated work is beyond the limit'"
_WORDS = {"allow_long=True": _LONG_BOX, "allow_long": _LONG_BOX, "mas_rate_hz": "MAS rate", "time_unit": "Time unit",
          "parameterization": "Fit", "larmor_hz": "Larmor frequency", "cutoff_angstrom": "Cutoff",
          "max_partners": "Max partners", "field_t": "B0 (T)", "periods_per_count": "Periods per count",
          "region_ppm": "Region (ppm)", "noise_region_ppm": "Noise region (ppm)", "echo_period_s": "Echo period",
          "n_echoes": "Echoes", "lb_hz": "Line broadening", "vclist_path": "vclist", "cpmg=sum": "CPMG sum",
          "mcmc_steps": "MCMC steps",
          "cpmg=spikelet": "CPMG spikelet"}


def in_field_words(text) -> str:
    """A library message with the Python argument names it mentions replaced by the page's field names."""
    import re

    text = " ".join(str(text).split())
    for name, field_name in _WORDS.items():
        text = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w=])", field_name, text)
    return text


@dataclass
class ParameterRow:
    """One row of the parameter table: ``fixed`` holds it at ``value``; else ``value`` is the start
    value (empty: the fit's own); ``low``/``high`` bound it (both or neither). Texts as typed, with
    units allowed where the parameter has one (``0.5kHz``, ``0.25nm``)."""

    fixed: bool = False
    value: str = ""
    low: str = ""
    high: str = ""


@dataclass
class FitForm:
    """What the Fit page asks for. ``curve`` is the file read on the server, ``label`` how the
    command line and the code name it (the uploaded file's name, or the bundled example's path)."""

    curve: str
    label: str
    observe: str = ""
    partner: str = ""
    model: str = "respdor"
    sequence: str = "redor"
    transfer: str = ""
    parameterization: str = "coupling"
    time_unit: str = ""
    mas: str = ""
    simulate_spec: str = ""
    simulate_label: str = ""
    #: a curve library as the shape: the file read on the server, how the command names it, and its
    #: parameters as :attr:`respdor.library.LibraryShape.parameters` gives them (name -> (default, (low, high)))
    library: str = ""
    library_label: str = ""
    library_parameters: dict = field(default_factory=dict)
    rows: dict = field(default_factory=dict)
    intervals: bool = True
    mcmc_steps: str = ""

    def _row(self, name) -> ParameterRow:
        return self.rows.get(name) or ParameterRow(fixed=name not in _VARIED)

    def settings(self):
        """(fix, start, bounds, free) as ``respdor.fit`` takes them, values in Hz / angstrom; each
        value checked here, a mistake named by its field (``fix r: cannot read 'abc' as a distance``)."""
        fix, start, bounds, free = {}, {}, {}, []
        for name in [p[0] for p in PARAMETERS] + list(self.library_parameters):
            row = self._row(name)
            if row.fixed and row.value.strip():
                fix[name] = value_of(name, row.value, f"fix {name}")
            elif row.fixed and name in _VARIED:
                raise UserError(f"fix {name}: give the value to hold it at")
            if not row.fixed:
                if name not in _VARIED:
                    free.append(name)
                if row.value.strip():
                    start[name] = value_of(name, row.value, f"start {name}")
            if row.low.strip() or row.high.strip():
                if not (row.low.strip() and row.high.strip()):
                    raise UserError(f"bounds {name}: give both the low and the high end")
                bounds[name] = (value_of(name, row.low, f"bounds {name}"), value_of(name, row.high, f"bounds {name}"))
        return fix, start, bounds, free

    def call_arguments(self) -> dict:
        """Keyword arguments of ``respdor.fit(**arguments)``: only those that differ from its defaults."""
        fix, start, bounds, free = self.settings()
        mas = parse_frequency(self.mas, FIELD_NAMES["mas_rate_hz"])[0] if self.mas.strip() else None
        args = {"curves": self.curve, "time_unit": self.time_unit or None, "mas_rate_hz": mas,
                "observe": self.observe.strip() or None,
                "partner": self.partner.strip() or None, "experiment": self.model, "sequence": self.sequence,
                "transfer": self.transfer or None, "parameterization": self.parameterization,
                "fix": fix, "start": start, "bounds": bounds, "free": free, "intervals": self.intervals}
        if self.simulate_spec:
            args["simulate_spec"] = self.simulate_spec
        if self.library:
            args["library"] = self.library
        if self.mcmc_steps.strip():
            args["mcmc"] = True
            try:
                args["mcmc_steps"] = int(self.mcmc_steps)
            except ValueError:
                raise UserError(f"MCMC steps: cannot read {self.mcmc_steps.strip()!r} as a whole number") from None
        defaults = {"time_unit": None, "mas_rate_hz": None, "observe": None, "partner": None, "experiment": "respdor",
                    "sequence": "redor",
                    "transfer": None, "parameterization": "coupling", "fix": {}, "start": {}, "bounds": {},
                    "free": [], "intervals": True}
        return {k: v for k, v in args.items() if k not in defaults or v != defaults[k]}

    def command_line(self, json_path="-") -> str:
        """The ``respdor fit`` command that does the same fit (values in the form's own units)."""
        words = ["respdor", "fit", self.label]
        args = self.call_arguments()
        for key, option in (("observe", "--observe"), ("partner", "--partner"), ("experiment", "--model"),
                            ("sequence", "--sequence"), ("transfer", "--transfer"),
                            ("parameterization", "--parameterization"), ("time_unit", "--time-unit"),
                            ("mas_rate_hz", "--mas"), ("simulate_spec", "--simulate"), ("library", "--library")):
            if key == "simulate_spec" and key in args:
                words += [option, self.simulate_label]
            elif key == "library" and key in args:
                words += [option, self.library_label]
            elif key in args:
                words += [option, _plain(args[key]) if isinstance(args[key], float) else str(args[key])]
        for name, value in args.get("fix", {}).items():
            words += ["--fix", f"{name}={_plain(value)}"]
        for name in args.get("free", []):
            words += ["--free", name]
        for name, (lo, hi) in args.get("bounds", {}).items():
            words += ["--bound", f"{name}={_plain(lo)}:{_plain(hi)}"]
        for name, value in args.get("start", {}).items():
            words += ["--start", f"{name}={_plain(value)}"]
        if not self.intervals:
            words.append("--no-intervals")
        if args.get("mcmc"):
            words += ["--mcmc", "--mcmc-steps", str(args["mcmc_steps"])]
        words += ["--no-files", "--json", json_path]
        return shlex.join(words)

    def python_code(self) -> str:
        """Python that does the same fit with :func:`respdor.fit` (values in Hz and angstrom)."""
        args = self.call_arguments()
        args["curves"] = self.label
        if "simulate_spec" in args:
            args["simulate_spec"] = self.simulate_label
        if "library" in args:
            args["library"] = self.library_label
        text = ", ".join(f"{k}={_py(v)}" for k, v in args.items())
        return f"import respdor\n\nresult = respdor.fit({text})\nprint(result.report())\n"


def value_of(name, text, field_name) -> float:
    """A parameter value typed in the form, in the fit's unit (Hz for D, angstrom for r and width; a
    library's parameters as ``respdor fit --fix cq=3MHz`` reads them: SI, units allowed, signed)."""
    kind = _KIND.get(name)
    if kind == "frequency":
        return parse_frequency(text, field_name)[0]
    if kind == "length":
        return parse_length(text, field_name)[0]
    if kind is None and name in PARAMETER_UNITS:
        # signed, as on the command line: the fit's physics check judges the sign and names the field
        return PARAMETER_UNITS[name](text.strip(), field_name, signed=True)[0]
    try:
        return float(text)
    except ValueError:
        raise UserError(f"{field_name}: cannot read {text.strip()!r} as a number") from None


def _plain(value) -> str:
    """A number for a command line: its shortest exact text (bare numbers are Hz and angstrom there)."""
    return repr(float(value)).removesuffix(".0") if float(value).is_integer() else repr(float(value))


def _py(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_py(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_py(v) for v in value) + ")"
    if isinstance(value, float):
        return repr(value)
    return repr(value)


def library_range(name, low, high) -> str:
    """A tabulated parameter's range as a person writes it (``2-4 MHz``, ``500 kHz-4 MHz``, ``0-1``)."""
    from ..library import format_value

    low_text, high_text = format_value(name, low), format_value(name, high)
    unit = high_text.partition(" ")[2]
    if unit and low_text.endswith(" " + unit):
        low_text = low_text[: -len(unit) - 1]
    return f"{low_text}-{high_text}"


def library_hint(name, parameter) -> str:
    """What a library's parameter row says of it: its default and the range the library tabulates
    (``default 3 MHz; 2-4 MHz in the library``)."""
    from ..library import format_value

    default, (low, high) = parameter
    return f"default {format_value(name, default)}; {library_range(name, low, high)} in the library"
