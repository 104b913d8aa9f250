"""The Plan page's form as plain values: texts with units -> the arguments of :func:`respdor.plan`,
and the same plan as a ``respdor plan`` command line and as Python code (no Panel here)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from ..errors import UserError
from ..units import parse_frequency, parse_length, parse_time

__all__: list = []

#: What the target of the plan can be: form key -> (argument of respdor.plan, option, parser, unit).
TARGETS = {"r": ("target_distance_error_angstrom", "--target-distance-error", "length", "A"),
           "D": ("target_coupling_error_hz", "--target-coupling-error", "frequency", "Hz"),
           "f": ("target_fraction_error", "--target-fraction-error", None, "")}


def _number(text, field, kind=None, integer=False):
    text = str(text).strip()
    if kind == "length":
        return parse_length(text, field)[0]
    if kind == "frequency":
        return parse_frequency(text, field)[0]
    if kind == "time":
        return parse_time(text, field)[0]
    try:
        return int(text) if integer else float(text)
    except ValueError:
        raise UserError(f"{field}: cannot read {text!r} as {'a whole' if integer else 'a'} number") from None


@dataclass
class PlanForm:
    """Texts as typed on the Plan page. ``assumed`` is ``"r"`` or ``"D"`` (which of ``value`` is);
    ``target`` is a key of :data:`TARGETS` and ``target_error`` its wanted standard error. Times
    take a unit (bare: s), frequencies too (bare: Hz), distances too (bare: angstrom)."""

    observe: str = "13C"
    partner: str = "27Al"
    experiment: str = "respdor"
    sequence: str = "redor"
    assumed: str = "r"
    value: str = "2.5"
    fraction: str = "0.24"
    snr: str = "40"
    scans: str = "64"
    recycle: str = "5s"
    mas: str = "10kHz"
    t2prime: str = "8ms"
    buildup: str = ""
    target: str = "r"
    target_error: str = "0.1"

    def call_arguments(self) -> dict:
        """Keyword arguments of ``respdor.plan(**arguments)`` (SI, angstrom for distances)."""
        if self.target not in TARGETS:
            raise UserError(f"Target: {self.target!r} is not one of {', '.join(TARGETS)}")
        name, _, kind, _ = TARGETS[self.target]
        args = {"observe": self.observe.strip() or "13C", "partner": self.partner.strip() or "27Al",
                "experiment": self.experiment, "sequence": self.sequence,
                "fraction": _number(self.fraction, "Fraction"), "snr": _number(self.snr, "S/N"),
                "scans": _number(self.scans, "Scans", integer=True),
                "recycle_s": _number(self.recycle, "Recycle delay", "time"),
                "mas_rate_hz": _number(self.mas, "MAS rate", "frequency"),
                name: _number(self.target_error, "Target error", kind)}
        if self.assumed == "D":
            args["coupling_hz"] = _number(self.value, "Assumed D", "frequency")
        else:
            args["distance_angstrom"] = _number(self.value, "Assumed r", "length")
        if self.t2prime.strip():
            args["t2prime_s"] = _number(self.t2prime, "T2'", "time")
        if self.buildup.strip():
            args["buildup_s"] = _number(self.buildup, "Build-up time", "time")
        return args

    def command_line(self, json_path="plan.json") -> str:
        """The ``respdor plan`` command that makes the same plan (every value with its unit)."""
        a = self.call_arguments()
        words = ["respdor", "plan", "--observe", a["observe"], "--partner", a["partner"], "--experiment",
                 a["experiment"], "--sequence", a["sequence"]]
        if "coupling_hz" in a:
            words += ["--coupling", f"{a['coupling_hz']:.12g}Hz"]
        else:
            words += ["--distance", f"{a['distance_angstrom']:.12g}A"]
        words += ["--fraction", f"{a['fraction']:.12g}", "--snr", f"{a['snr']:.12g}", "--scans", str(a["scans"]),
                  "--recycle", f"{a['recycle_s']:.12g}s", "--mas", f"{a['mas_rate_hz']:.12g}Hz"]
        if "t2prime_s" in a:
            words += ["--t2prime", f"{a['t2prime_s']:.12g}s"]
        if "buildup_s" in a:
            words += ["--buildup", f"{a['buildup_s']:.12g}s"]
        name, option, _, unit = TARGETS[self.target]
        words += [option, f"{a[name]:.12g}{unit}", "--json", json_path]
        return shlex.join(words)

    def python_code(self) -> str:
        text = ", ".join(f"{k}={v!r}" for k, v in self.call_arguments().items())
        return f"import respdor\n\nresult = respdor.plan({text})\nprint(result)\n"
