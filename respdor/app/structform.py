"""The Structure page's form as plain values: texts with units -> the arguments of
:func:`respdor.predict_structure`, and the same prediction as a ``respdor structure`` command line
and as Python code (no Panel here)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from ..errors import UserError
from ..units import parse_frequency, parse_length

__all__: list = []


@dataclass
class StructureForm:
    """Texts as typed on the Structure page. ``path``/``label``: the structure file read on the server
    and how the command line names it; ``compare``/``compare_label`` the same for a measured curve
    (empty: none)."""

    path: str
    label: str
    observe: str = "C"
    partner: str = "27Al"
    cutoff: str = "4A"
    max_partners: str = ""
    mas: str = "10kHz"
    field: str = "14.1"
    compare: str = ""
    compare_label: str = ""
    allow_long: bool = False

    def call_arguments(self) -> dict:
        """Keyword arguments of ``respdor.predict_structure(**arguments)`` (Hz, T, angstrom)."""
        args = {"path": self.path, "observe": self.observe.strip(), "partner": self.partner.strip(),
                "cutoff_angstrom": parse_length(self.cutoff, "Cutoff")[0],
                "mas_rate_hz": parse_frequency(self.mas, "MAS rate")[0]}
        if not args["observe"]:
            raise UserError("Observed atoms: give an element (C), a bonding selection (C[O2]) or atom indices")
        try:
            args["field_t"] = float(self.field)
        except ValueError:
            raise UserError(f"B0 (T): cannot read {self.field.strip()!r} as a number") from None
        if self.max_partners.strip():
            try:
                args["max_partners"] = int(self.max_partners)
            except ValueError:
                raise UserError(f"Max partners: cannot read {self.max_partners.strip()!r} as a whole number") from None
        if self.compare:
            args["compare"] = self.compare
        if self.allow_long:
            args["allow_long"] = True
        return args

    def command_line(self) -> str:
        """The ``respdor structure`` command that makes the same prediction (its JSON on standard output)."""
        a = self.call_arguments()
        words = ["respdor", "structure", self.label, "--observe", a["observe"], "--partner", a["partner"],
                 "--cutoff", f"{a['cutoff_angstrom']:.12g}A", "--mas", f"{a['mas_rate_hz']:.12g}Hz",
                 "--field", f"{a['field_t']:.12g}"]
        if "max_partners" in a:
            words += ["--max-partners", str(a["max_partners"])]
        if "compare" in a:
            words += ["--compare", self.compare_label]
        if a.get("allow_long"):
            words.append("--allow-long")
        return shlex.join(words + ["--no-files", "--json", "-"])

    def python_code(self) -> str:
        args = self.call_arguments()
        args["path"] = self.label
        if "compare" in args:
            args["compare"] = self.compare_label
        text = ", ".join(f"{k}={v!r}" for k, v in args.items())
        return f"import respdor\n\nresult = respdor.predict_structure({text})\nprint(result)\n"
