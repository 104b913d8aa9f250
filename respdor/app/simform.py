"""The Simulate page's form as plain values: the spec text and the run settings -> the arguments of
:func:`respdor.simulate`, and the same run as a ``respdor simulate`` command line and as Python
code (no Panel here). The spec text is written to the private upload folder under the spec's file
name, so that a spec the library refuses is named as ``respdor simulate <name>`` names it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from ..errors import UserError

__all__: list = []


@dataclass
class SimulateForm:
    """``name``: the spec's file name (an upload's, or the bundled one); ``text``: the spec as edited."""

    name: str
    text: str
    orientations: str = ""
    gamma: str = ""
    allow_long: bool = False

    def _count(self, text, field):
        text = text.strip()
        if not text:
            return None
        try:
            value = int(text)
        except ValueError:
            raise UserError(f"{field}: cannot read {text!r} as a whole number") from None
        return value

    def call_arguments(self, folder) -> dict:
        """Keyword arguments of ``respdor.simulate(**arguments)``; the spec is saved in ``folder``
        (an :class:`~respdor.app.uploads.UploadFolder`) first."""
        suffix = self.name.lower().rsplit(".", 1)[-1]
        if suffix not in ("toml", "json"):
            raise UserError(f"{self.name}: a spec is a .toml or .json file")
        args = {}
        for key, text, field in (("n_orientations", self.orientations, "Orientations"),
                                 ("n_gamma_angles", self.gamma, "Gamma angles")):
            value = self._count(text, field)
            if value is not None:
                args[key] = value
        if self.allow_long:
            args["allow_long"] = True
        return {"spec": str(folder.save(self.name, self.text.encode("utf-8"))), **args}

    def command_line(self, args) -> str:
        """The ``respdor simulate`` command for the spec saved as :attr:`name` (``args`` from
        :meth:`call_arguments`)."""
        words = ["respdor", "simulate", self.name]
        if "n_orientations" in args:
            words += ["--powder", str(args["n_orientations"])]
        if "n_gamma_angles" in args:
            words += ["--gamma", str(args["n_gamma_angles"])]
        if args.get("allow_long"):
            words.append("--allow-long")
        return shlex.join(words + ["--output", f"{self.name.rsplit('.', 1)[0]}_sim.csv"])

    def python_code(self, args) -> str:
        shown = dict(args, spec=self.name)
        text = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        return f"import respdor\n\nrun = respdor.simulate({text})\nprint(run)\n"
