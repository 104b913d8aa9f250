"""The Fit page's Bruker pseudo-2D series as plain values: the integrate fields -> the arguments of
:func:`respdor.integrate`, and the same step as a ``respdor integrate`` command line and as Python
code (no Panel here; tested without a browser). The fit of the integrated curve is a
:class:`~respdor.app.fitform.FitForm` on the curve file ``respdor integrate -o`` writes."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..units import parse_frequency, parse_time
from .fitform import _plain, _py

__all__: list = []

ORDERS = ("s0s1", "s1s0")
CPMG = ("", "sum", "spikelet")

#: The bundled series and the integrate settings its README gives (prefilled when it is chosen).
BUNDLED = "cpmg_111Cd_synthetic/respdor"
BUNDLED_SETTINGS = {"region": "-80 -10", "noise_region": "100 200", "mas": "10kHz", "periods_per_count": "2",
                    "cpmg": "sum"}


@dataclass
class SeriesForm:
    """What the Fit page asks for to integrate a series. ``path`` is the experiment directory on the
    server, ``label`` how the command line and the code name it; texts as typed."""

    path: str
    label: str
    region: str = ""
    noise_region: str = ""
    mas: str = ""
    periods_per_count: str = ""
    vclist: str = ""
    order: str = "s0s1"
    lb: str = ""
    cpmg: str = ""
    echo_period: str = ""
    n_echoes: str = ""

    def call_arguments(self) -> dict:
        """Keyword arguments of ``respdor.integrate(**arguments)`` (those that differ from its defaults);
        each field checked here, a mistake named by its field."""
        if not self.mas.strip():
            raise UserError("MAS rate: required to integrate a series (the recoupling times are counted in rotor "
                            "periods; acqus MASR is not trusted)")
        args = {"path": self.path, "region_ppm": _pair(self.region, "Region (ppm)"),
                "noise_region_ppm": _pair(self.noise_region, "Noise region (ppm)"),
                "mas_rate_hz": parse_frequency(self.mas, "MAS rate")[0],
                "periods_per_count": _number(self.periods_per_count, "Periods per count")}
        if self.vclist.strip():
            args["vclist_path"] = str(_inside(self.vclist, self.path))
        if self.order != "s0s1":
            args["row_order"] = self.order
        if self.lb.strip():
            args["lb_hz"] = parse_frequency(self.lb, "Line broadening")[0]
        if self.cpmg:
            args["cpmg"] = self.cpmg
        if self.echo_period.strip():
            args["echo_period_s"] = parse_time(self.echo_period, "Echo period", default_unit="us")[0]
        if self.n_echoes.strip():
            try:
                args["n_echoes"] = int(self.n_echoes)
            except ValueError:
                raise UserError(f"Echoes: cannot read {self.n_echoes.strip()!r} as a whole number") from None
        return args

    def curve_name(self) -> str:
        """The curve file of the command line (``<experiment>_curve.csv``)."""
        return f"{Path(self.label).name or 'series'}_curve.csv"

    def command_line(self) -> str:
        """The ``respdor integrate`` command that writes the curve the page fits."""
        a = self.call_arguments()
        words = ["respdor", "integrate", self.label, "--region", *map(_plain, a["region_ppm"]),
                 "--noise-region", *map(_plain, a["noise_region_ppm"]), "--mas", _plain(a["mas_rate_hz"]),
                 "--periods-per-count", _plain(a["periods_per_count"])]
        if "vclist_path" in a:
            words += ["--vclist", f"{self.label}/{self.vclist.strip()}"]
        for key, option in (("row_order", "--order"), ("lb_hz", "--lb"), ("cpmg", "--cpmg"), ("n_echoes", "--n-echoes")):
            if key in a:
                words += [option, _plain(a[key]) if isinstance(a[key], float) else str(a[key])]
        if "echo_period_s" in a:
            words += ["--echo-period", f"{_plain(a['echo_period_s'] * 1e6)}us"]
        return shlex.join(words + ["-o", self.curve_name()])

    def python_code(self) -> str:
        """Python that integrates the series as the page does (the fit then takes ``series.curve``)."""
        a = self.call_arguments()
        a["path"] = self.label
        if "vclist_path" in a:
            a["vclist_path"] = f"{self.label}/{self.vclist.strip()}"
        text = ", ".join(f"{k}={_py(v)}" for k, v in a.items())
        return f"series = respdor.integrate({text})\nseries.to_csv({self.curve_name()!r})\n"


def _pair(text, field_name):
    words = str(text).replace(",", " ").replace("..", " ").split()
    if len(words) != 2:
        raise UserError(f"{field_name}: give two numbers, low and high (e.g. -80 -10)")
    return tuple(_number(w, field_name) for w in words)


def _number(text, field_name) -> float:
    import math

    try:
        value = float(str(text).strip())
    except ValueError:
        raise UserError(f"{field_name}: cannot read {str(text).strip()!r} as a number") from None
    if not math.isfinite(value):
        raise UserError(f"{field_name}: {str(text).strip()!r} is not a finite number")
    return value


def _inside(text, folder):
    """A file named in the page (the vclist) inside the experiment directory, after following links."""
    import os

    folder = Path(folder).resolve()
    path = Path(os.path.realpath(folder / str(text).strip()))
    if folder not in path.parents:
        raise UserError(f"vclist: {str(text).strip()!r} is not a file of the experiment directory; name one inside "
                        "it (e.g. vclist)")
    return path
