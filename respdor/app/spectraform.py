"""The Spectra page's form as plain values: a text spectrum or a Bruker 1D experiment (with its
processing: line broadening, phase, baseline) and the lines to fit -> the arguments of
:func:`respdor.csa_fit` (``spectrum=True``), and the same fit as a ``respdor csa-fit`` command line and
as Python code (no Panel here)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from ..errors import UserError
from ..units import parse_frequency

__all__: list = []


def _numbers(text, field):
    """Numbers separated by spaces or commas (ppm), in order."""
    words = str(text).replace(",", " ").split()
    try:
        return [float(w) for w in words]
    except ValueError:
        raise UserError(f"{field}: cannot read {text.strip()!r} as numbers (ppm, separated by spaces)") from None


@dataclass
class SpectraForm:
    """Texts as typed on the Spectra page; ``path``/``label``: the spectrum read on the server and how
    the command line names it. Empty MAS rate: measured from the sideband spacing (with its evidence)."""

    path: str
    label: str
    mas: str = ""
    larmor: str = ""
    sites: str = ""
    spans: str = ""
    fwhm: str = ""
    noise: str = ""
    lb: str = ""
    phase: str = ""
    baseline: str = ""
    bruker: bool = False

    def call_arguments(self) -> dict:
        args = {"source": self.path, "spectrum": True, "sites_ppm": _numbers(self.sites, "Sites")}
        if not args["sites_ppm"]:
            raise UserError("Sites: give the isotropic shift of each line to fit (ppm)")
        if self.mas.strip():
            args["mas_rate_hz"] = parse_frequency(self.mas, "MAS rate")[0]
        if self.larmor.strip():
            args["larmor_hz"] = parse_frequency(self.larmor, "Larmor frequency")[0]
        if self.spans.strip():
            args["span_ppm"] = _numbers(self.spans, "Spans")
        if self.fwhm.strip():
            fwhm = _numbers(self.fwhm, "Line width")
            if len(fwhm) != 1:
                raise UserError(f"Line width: give one width in ppm, not {self.fwhm.strip()!r}")
            args["fwhm_ppm"] = fwhm[0]
        if self.noise.strip():
            noise = _numbers(self.noise, "Noise region")
            if len(noise) != 2:
                raise UserError(f"Noise region: give its two ends in ppm, not {self.noise.strip()!r}")
            args["noise_region_ppm"] = tuple(noise)
        return {**args, **self._processing()}

    def _processing(self) -> dict:
        """Line broadening and phase (a Bruker FID only) and the baseline polynomial, as csa_fit takes them."""
        args = {}
        if self.baseline.strip():
            try:
                args["baseline_order"] = int(self.baseline)
            except ValueError:
                raise UserError(f"Baseline order: cannot read {self.baseline.strip()!r} as a whole number") from None
        if not self.bruker:
            if self.lb.strip() or self.phase.strip():
                raise UserError(f"{'Line broadening' if self.lb.strip() else 'Phase'}: acts on a Bruker FID only; "
                                "a text spectrum is used as it was processed")
            return args
        if self.lb.strip():
            args["lb_hz"] = parse_frequency(self.lb, "Line broadening")[0]
        phase = self.phase.replace(",", " ").split()
        if phase and phase != ["stored"]:
            if phase == ["auto"]:
                args["phase"] = "auto"
            elif len(phase) == 2:
                args["phase"] = tuple(_numbers(" ".join(phase), "Phase"))
            else:
                raise UserError(f"Phase: give 'stored', 'auto' or two numbers PHC0 PHC1 (degrees), not "
                                f"{self.phase.strip()!r}")
        return args

    def command_line(self) -> str:
        a = self.call_arguments()
        words = ["respdor", "csa-fit", self.label, "--spectrum"]
        if "mas_rate_hz" in a:
            words += ["--mas", f"{a['mas_rate_hz']:.12g}Hz"]
        if "larmor_hz" in a:
            words += ["--larmor", f"{a['larmor_hz']:.12g}Hz"]
        words += ["--sites", *(f"{x:g}" for x in a["sites_ppm"])]
        if "span_ppm" in a:
            words += ["--span", *(f"{x:g}" for x in a["span_ppm"])]
        if "fwhm_ppm" in a:
            words += ["--fwhm", f"{a['fwhm_ppm']:g}"]
        if "noise_region_ppm" in a:
            words += ["--noise-region", *(f"{x:g}" for x in a["noise_region_ppm"])]
        if "lb_hz" in a:
            words += ["--lb", f"{a['lb_hz']:.12g}"]
        if "phase" in a:
            words += ["--phase", *([a["phase"]] if isinstance(a["phase"], str) else (f"{x:g}" for x in a["phase"]))]
        if "baseline_order" in a:
            words += ["--baseline-poly", str(a["baseline_order"])]
        return shlex.join(words + ["--json", "csa.json"])

    def python_code(self) -> str:
        args = dict(self.call_arguments(), source=self.label)
        text = ", ".join(f"{k}={v!r}" for k, v in args.items())
        return f"import respdor\n\nresult = respdor.csa_fit({text})\nprint(result)\n"
