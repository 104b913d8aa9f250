"""Simulation specs (TOML or JSON files, or dicts): spins, couplings, field, MAS, sequence, powder.

Every key carries its unit in its name (``_hz``, ``_khz``, ``_mhz``, ``_ms``, ``_us``, ``_deg``,
``_A``, ``_T``, ``_ppm``); unknown keys are refused so that a typo never passes silently. Errors
are :class:`SpecError` (a ValueError) whose one-line message names the table and key. The format
is documented in ``docs/simulation.md``; examples are in ``data/*.toml``.

Example::

    [experiment]
    type = "respdor"          # or "redor"
    field_T = 9.4
    mas_rate_hz = 10000
    t_max_ms = 3.0            # or recoupling_times_ms = [0, 0.2, ...]

    [[spins]]
    isotope = "13C"

    [[spins]]
    isotope = "27Al"
    cq_mhz = 3.0
    eta_q = 0.3

    [[dipolar]]
    spins = [0, 1]
    d_hz = 503                # or distance_A = 2.5

    [saturation]
    type = "cw"               # one of spinsim.saturation.SATURATION_TYPES
    nu1_khz = 30
    length_rotor_periods = 2

    [powder]
    scheme = "zcw"
    n = 987
    n_gamma = 16
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from . import sequences as seq
from .dipolar import coupling_from_distance
from .saturation import (DEFAULT_SATURATION_TYPE, RF_KEYS, RF_SATURATION_TYPES, SATURATION_SCHEMES,
                         SATURATION_TYPES)
from .system import DipolarCoupling, JCoupling, Spin, SpinSystem

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib

__all__ = ["SpecError", "Spec", "load_spec", "read_spec_tables", "simulate_spec", "SATURATION_TYPES",
           "RF_SATURATION_TYPES", "DEFAULT_POWDER", "powder_settings"]


#: Fewer (alpha, beta) orientations than this are a single crystal rather than a powder: warned.
MIN_POWDER = 10
#: The powder of a spec without [powder] keys: scheme, (alpha, beta) count and gamma angles.
DEFAULT_POWDER = {"scheme": "zcw", "n": 987, "n_gamma": 32}


def powder_settings(raw: dict) -> dict:
    """``{"scheme", "n", "n_gamma"}`` of a spec dict's [powder], the defaults filled in
    (:data:`DEFAULT_POWDER`): the form in which tables and caches rebuild the powder
    (:func:`spinsim.powder.make_powder`).

    Raises
    ------
    SpecError
        For a ``[powder] file`` (a crystallite file is not rebuilt from a scheme and a count).
    """
    pw = raw.get("powder") or {}
    if "file" in pw:
        raise SpecError(f"[powder] file {str(pw['file'])!r}: a crystallite file cannot be rebuilt from a scheme and a "
                        "count here; give [powder] scheme and n")
    return {"scheme": str(pw.get("scheme", DEFAULT_POWDER["scheme"])), "n": int(pw.get("n", DEFAULT_POWDER["n"])),
            "n_gamma": int(pw.get("n_gamma", DEFAULT_POWDER["n_gamma"]))}


class SpecError(ValueError):
    """A mistake in a simulation spec; the message names the table and key."""


_ALLOWED = {
    "experiment": {"type", "field_T", "mas_rate_hz", "mas_rate_khz", "t_max_ms", "recoupling_times_ms", "title"},
    "spins": {
        "isotope", "shift_ppm", "csa_zeta_ppm", "csa_eta", "csa_span_ppm", "csa_skew", "csa_euler_deg",
        "cq_hz", "cq_mhz", "eta_q", "q_euler_deg", "label",
    },
    "dipolar": {"spins", "d_hz", "distance_A", "euler_deg"},
    "j": {"spins", "j_hz"},
    "recoupling": {"scheme", "pulse_us", "phases", "supercycle", "nu1_khz", "channel", "placement", "nu1_max_khz",
                   "sweep_khz", "beta", "step_us", "centre_pulse_us", "cycle"},
    "saturation": {"type", "channel"}.union(*(s.keys for s in SATURATION_SCHEMES.values())),
    "powder": {"scheme", "n", "n_gamma", "file", "convention"},
    "simulation": {"max_dt_us", "method", "offsets_khz", "integrator"},
    "rf_inhomogeneity": {"channels", "scale", "weight", "fwhm_percent", "n"},
    "top": {"experiment", "spins", "dipolar", "j", "coordinates_A", "recoupling", "saturation", "powder", "simulation",
            "rf_inhomogeneity"},
}


#: Keys of one table that say the same thing two ways (a value in two units, a time axis given twice):
#: both given is a contradiction, never resolved by silently preferring one.
_EXCLUSIVE = {
    "experiment": (("mas_rate_hz", "mas_rate_khz"), ("t_max_ms", "recoupling_times_ms")),
    "spins": (("cq_hz", "cq_mhz"),),
    "saturation": (("length_us", "length_rotor_periods"),),
}

#: Keys that only some variants of a table read ([saturation] type, [recoupling] scheme): a key of
#: another variant would be silently ignored, so it is refused naming the keys the variant reads.
_VARIANT_KEYS = {
    "saturation": ("type", DEFAULT_SATURATION_TYPE, {name: set(s.keys) for name, s in SATURATION_SCHEMES.items()}),
    "recoupling": ("scheme", "redor", {
        "redor": {"pulse_us", "phases", "placement"},
        "sr4": {"supercycle", "nu1_khz"},
        "adiabatic_sr4": {"supercycle", "nu1_max_khz", "sweep_khz", "beta", "step_us"},
    }),
}


#: Quantities that count things: a fractional value is a typing mistake, never silently truncated.
WHOLE_NUMBERS = ("powder", "gamma", "rf_points", "wurst_n")


def _check_keys(table, name):
    if not isinstance(table, dict):
        raise SpecError(f"[{name}] must be a table, got {type(table).__name__}")
    base = "top" if name == "" else name.split("[")[0]
    allowed = _ALLOWED[base]
    for k in table:
        if k not in allowed:
            raise SpecError(f"unknown key {k!r} in [{name or 'top level'}]; allowed: {', '.join(sorted(allowed))}")
    for a, b in _EXCLUSIVE.get(base, ()):
        if a in table and b in table:
            raise SpecError(f"[{name}] give {a} or {b}, not both ({a} = {table[a]!r}, {b} = {table[b]!r})")
    if base in _VARIANT_KEYS:
        selector, default, variants = _VARIANT_KEYS[base]
        variant = table.get(selector, default)
        if isinstance(variant, str) and variant in variants:  # a list or table as the type: named by the parser
            foreign = sorted(set().union(*variants.values()) - variants[variant] & set(table))
            if foreign:
                reads = ", ".join(sorted(variants[variant])) or "no other key"
                raise SpecError(f"[{name}] {', '.join(foreign)} has no effect with {selector} = {variant!r} "
                                f"(it reads {reads})")


def _num(table, key, where, default=None, positive=False, nonneg=False):
    if key not in table:
        if default is None:
            raise SpecError(f"missing key {key!r} in [{where}]")
        return default
    v = table[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise SpecError(f"[{where}] {key} must be a finite number, got {v!r}")
    if positive and v <= 0:
        raise SpecError(f"[{where}] {key} must be > 0, got {v!r}")
    if nonneg and v < 0:
        raise SpecError(f"[{where}] {key} must be >= 0, got {v!r}")
    return float(v)


def _check_cq(spins, field_t):
    """Refuse a CQ beyond the Larmor frequency: the engine's first/second-order (high-field)
    treatment of the quadrupolar coupling needs |CQ| well below |nu0|, and no such nucleus is
    observable by this experiment."""
    from .isotopes import larmor_frequency_hz

    for k, sp in enumerate(spins):
        nu0 = abs(larmor_frequency_hz(sp.isotope, field_t))
        if sp.cq_hz and abs(sp.cq_hz) > nu0:
            raise SpecError(f"[spins[{k}]] CQ = {sp.cq_hz / 1e6:g} MHz exceeds the {sp.isotope.symbol} Larmor "
                            f"frequency {nu0 / 1e6:.4g} MHz at {field_t:g} T: outside the high-field "
                            "approximation of the engine (write cq_mhz in MHz, cq_hz in Hz)")


_SUFFIX_UNIT = {"_hz": "Hz", "_khz": "kHz", "_mhz": "MHz", "_ms": "ms", "_us": "us", "_A": "A", "_T": "T",
                "_ppm": "ppm", "_percent": "%"}


def _key_unit(key):
    """The unit a key carries in its name (``nu1_khz`` -> kHz), '' for counts."""
    for suffix, unit in _SUFFIX_UNIT.items():
        if key.endswith(suffix):
            return unit
    return ""


def _plausible(warnings, quantity, value, where, key, **kw):
    """Refuse a value of ``key`` (in the unit its name carries) that no experiment has; collect a warning
    for an unusual one (:mod:`spinsim.plausibility`, the one table of ranges)."""
    from .plausibility import RANGES, UNITS, check

    unit = kw.pop("unit", None) or _key_unit(key)
    kind = RANGES[quantity].kind
    unit = unit if unit in UNITS[kind] else next(iter(UNITS[kind]))
    try:
        msg = check(quantity, value * UNITS[kind][unit], f"[{where}] {key}", unit, **kw)
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    if msg:
        warnings.append(msg)
    return value


def _read_spec_text(path: Path) -> str:
    """Spec text through the one text-file guard (:func:`spinsim.textfile.read_text`); its refusals as SpecError."""
    from .textfile import TextFileError, read_text

    try:
        return read_text(path, "TOML/JSON spec file", allow_empty=False)
    except TextFileError as exc:
        raise SpecError(f"{exc.path}: no such spec file" if exc.kind == "missing" else str(exc)) from None


def _check_saturation_values(stype, got, warnings):
    """Refuse a saturation that does nothing; say when a sweep runs the unusual way.

    An ideal saturation of efficiency 0 transfers nothing (dS/S0 = 0 at every time); a DFS whose
    start and end offsets are equal does not sweep. A DFS converges from far off resonance towards
    the central transition (Kentgens & Verhagen 1999: start_khz > end_khz); the reverse order is
    simulated as given, with a warning (it is the usual slip of swapping the two keys).
    """
    if stype == "ideal" and got.get("efficiency") == 0:
        raise SpecError("[saturation] efficiency = 0: a saturation that transfers nothing gives dS/S0 = 0 at "
                        "every time; give 0 < efficiency <= 1")
    if stype == "dfs":
        start, end = got["start_khz"], got["end_khz"]
        if start == end:
            raise SpecError(f"[saturation] start_khz = end_khz = {start:g}: a DFS that does not sweep; give the "
                            "offset where the sweep starts (far off resonance) and where it ends (nearer the "
                            "central transition)")
        if start < end:
            warnings.append(f"[saturation] start_khz = {start:g} < end_khz = {end:g}: this DFS sweeps away from the "
                            "central transition; a DFS converges towards it (start_khz > end_khz): are the two "
                            "swapped? (simulated as given)")


def _angles(table, key, where, warnings=None):
    """Three Euler angles in degrees -> radians. Any finite angle is a rotation; one beyond +-360 deg
    is accepted as that rotation (reduced modulo 360) with a warning, as it is most likely a typing
    slip or a value in another unit."""
    v = table.get(key, [0.0, 0.0, 0.0])
    if not (isinstance(v, list) and len(v) == 3 and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                       and math.isfinite(x) for x in v)):
        raise SpecError(f"[{where}] {key} must be three finite numbers (degrees), got {v!r}")
    from .plausibility import check

    for name, x in zip(("alpha", "beta", "gamma"), v):
        unusual = check("euler_angle", float(x), f"[{where}] {key} {name}", "deg")
        if unusual and warnings is not None:
            warnings.append(f"{unusual}: read as the same rotation, {float(x) % 360.0:g} deg (modulo 360)")
    return tuple(np.radians(v))


class Spec:
    """A parsed spec: ``system``, ``mas_rate``, ``times_s``, ``kind``, ``saturation``,
    ``recoupling``, ``powder``, ``max_dt``, ``method``, ``offsets`` and the raw dict."""

    def __init__(self, raw: dict, source: str = "<dict>"):
        self.raw = raw
        self.source = source
        try:
            self._parse(raw)
        except SpecError:
            raise
        except ValueError as exc:  # validation errors of the physics objects
            raise SpecError(str(exc)) from None

    def _q(self, table, key, where, quantity, default=None, **kw):
        """``_num`` of a key, checked against the plausible range of its quantity when the user gave it."""
        value = _num(table, key, where, default, positive=kw.pop("positive", False), nonneg=kw.pop("nonneg", False))
        if key in table and quantity in WHOLE_NUMBERS and value != int(value):
            from .plausibility import RANGES

            raise SpecError(f"[{where}] {key} = {table[key]!r}: a {RANGES[quantity].what} is a whole number")
        if key in table:
            _plausible(self.warnings, quantity, value, where, key, **kw)
        return value

    def _parse(self, raw):
        self.warnings = []
        _check_keys(raw, "")
        exp = raw.get("experiment")
        if exp is None:
            raise SpecError("missing table [experiment]")
        _check_keys(exp, "experiment")
        self.title = str(exp.get("title", ""))
        self.kind = exp.get("type", "respdor")
        if self.kind not in ("respdor", "redor"):
            raise SpecError(f"[experiment] type must be 'respdor' or 'redor', got {self.kind!r}")
        field_t = self._q(exp, "field_T", "experiment", "field", positive=True)
        if "mas_rate_khz" in exp:
            self.mas_rate = 1e3 * self._q(exp, "mas_rate_khz", "experiment", "mas_rate", positive=True)
        else:
            self.mas_rate = self._q(exp, "mas_rate_hz", "experiment", "mas_rate", positive=True)
        spins_raw = raw.get("spins")
        if not isinstance(spins_raw, list) or len(spins_raw) < 2:
            raise SpecError("[[spins]] must list the observed spin and at least one partner")
        spins = [self._parse_spin(s, f"spins[{k}]") for k, s in enumerate(spins_raw)]
        _check_cq(spins, field_t)
        dips, js = [], []
        for k, d in enumerate(raw.get("dipolar", [])):
            where = f"dipolar[{k}]"
            _check_keys(d, where)
            i, j = self._pair(d, where, len(spins))
            if ("d_hz" in d) == ("distance_A" in d):
                raise SpecError(f"[{where}] give exactly one of d_hz or distance_A")
            if "d_hz" in d:
                dhz = _num(d, "d_hz", where, nonneg=True)
                if dhz > 0:
                    from .dipolar import distance_from_coupling

                    self._distance(distance_from_coupling(dhz, spins[i].isotope, spins[j].isotope), spins, i, j,
                                   f"[{where}] d_hz = {dhz:g} Hz, i.e. r", hint=False)
            else:
                r = _num(d, "distance_A", where, positive=True)
                self._distance(r, spins, i, j, f"[{where}] distance_A")
                dhz = coupling_from_distance(r, spins[i].isotope, spins[j].isotope)
            dips.append(DipolarCoupling(i, j, dhz, _angles(d, "euler_deg", where, self.warnings)))
        for k, d in enumerate(raw.get("j", [])):
            where = f"j[{k}]"
            _check_keys(d, where)
            i, j = self._pair(d, where, len(spins))
            js.append(JCoupling(i, j, self._q(d, "j_hz", where, "j")))
        if "coordinates_A" in raw:
            if dips:
                raise SpecError("give either [[dipolar]] or coordinates_A, not both")
            self._coordinates(raw["coordinates_A"], spins)
            try:
                self.system = SpinSystem.from_coordinates(spins, raw["coordinates_A"], field_t, js)
            except ValueError as exc:
                raise SpecError(f"coordinates_A: {exc}") from None
        else:
            self.system = SpinSystem(spins, field_t, dips, js)
            coupled = {k for c in dips + js for k in (c.i, c.j) if getattr(c, "d_hz", getattr(c, "j_hz", 1.0))}
            for k, sp in enumerate(spins):
                if k not in coupled:
                    self.warnings.append(f"[spins[{k}]] {sp.isotope.symbol} has no non-zero [[dipolar]] or [[j]] "
                                         "coupling: " + ("it does not change the curve" if k else
                                                         "dS/S0 is zero at every time"))
        self.partner = spins[1].isotope.symbol
        self._parse_sequence(raw, exp)

    def _parse_spin(self, s, where):
        """One [[spins]] table: isotope, shift, CSA (zeta/eta or span/skew), quadrupolar coupling."""
        _check_keys(s, where)
        if "isotope" not in s:
            raise SpecError(f"missing key 'isotope' in [{where}]")
        kw = dict(
            shift_ppm=self._q(s, "shift_ppm", where, "ppm", 0.0),
            cq_hz=(self._q(s, "cq_mhz", where, "cq", 0.0) * 1e6 if "cq_mhz" in s
                   else self._q(s, "cq_hz", where, "cq", 0.0)),
            eta_q=_num(s, "eta_q", where, 0.0),
            q_euler=_angles(s, "q_euler_deg", where, self.warnings),
            csa_euler=_angles(s, "csa_euler_deg", where, self.warnings),
        )
        if "csa_span_ppm" in s or "csa_skew" in s:
            if "csa_zeta_ppm" in s:
                raise SpecError(f"[{where}] give the CSA as zeta/eta or span/skew, not both")
            from .csa import maryland_to_haeberlen, validate_maryland

            span, skew = self._q(s, "csa_span_ppm", where, "ppm", 0.0), _num(s, "csa_skew", where, 0.0)
            try:
                validate_maryland(span, skew)
            except ValueError as exc:
                raise SpecError(f"[{where}] {exc}") from None
            _, kw["csa_zeta_ppm"], kw["csa_eta"] = maryland_to_haeberlen(kw["shift_ppm"], span, skew)
        else:
            kw["csa_zeta_ppm"] = self._q(s, "csa_zeta_ppm", where, "ppm", 0.0)
            kw["csa_eta"] = _num(s, "csa_eta", where, 0.0)
        try:
            return Spin(s["isotope"], **kw)
        except ValueError as exc:
            raise SpecError(f"[{where}] {exc}") from None

    def _distance(self, r, spins, i, j, name, hint=True):
        """Refuse a distance below the closest contact of the two elements (covalent radii), warn on a far one."""
        from .plausibility import CONTACT_FRACTION, check, shortest_distance_angstrom

        ea, eb = (spins[k].isotope.symbol.lstrip("0123456789") for k in (i, j))
        reason = f"for {ea} and {eb} ({CONTACT_FRACTION:g} x the sum of their covalent radii)"
        try:
            msg = check("distance", r, name, "A",
                        lo=shortest_distance_angstrom(ea, eb), lo_reason=reason)
        except ValueError as exc:
            text = str(exc)
            if not hint:  # a coupling, not a length: a length unit mistake is not the likely one
                text = text.split("; likely a unit mistake")[0] + " (d_hz is in Hz)"
            raise SpecError(text) from None
        if msg:
            self.warnings.append(msg)

    def _coordinates(self, xyz, spins):
        """Every pair of coordinates_A at a distance two atoms can have."""
        try:
            arr = np.asarray(xyz, float)
        except (TypeError, ValueError):
            return  # the spin system names the shape mistake
        if arr.shape != (len(spins), 3) or not np.all(np.isfinite(arr)):
            return
        for i in range(len(spins)):
            for j in range(i + 1, len(spins)):
                self._distance(float(np.linalg.norm(arr[i] - arr[j])), spins, i, j,
                               f"coordinates_A: spins {i} and {j} at a distance")

    def _channel(self, table, where, default):
        ch = table.get("channel", default)
        known = self.system.channels()
        if not isinstance(ch, str):
            raise SpecError(f"[{where}] channel must be an isotope name, got {ch!r}")
        try:
            from .isotopes import get_isotope

            ch = get_isotope(ch).symbol
        except ValueError:
            pass
        if ch not in known:
            raise SpecError(f"[{where}] channel {ch!r} is not in the spin system (channels: {', '.join(known)})")
        return ch

    def _rf_inhomogeneity(self, table):
        if table is None:
            return None
        from .sequences import gaussian_rf_profile
        from .simulate import RfInhomogeneity

        _check_keys(table, "rf_inhomogeneity")
        chans = table.get("channels")
        if chans is not None:
            if not (isinstance(chans, list) and chans):
                raise SpecError(f"[rf_inhomogeneity] channels must be a list of isotopes, got {chans!r}")
            chans = tuple(self._channel({"channel": c}, "rf_inhomogeneity", None) for c in chans)
        if "fwhm_percent" in table:
            if "scale" in table or "weight" in table:
                raise SpecError("[rf_inhomogeneity] give fwhm_percent (Gaussian) or scale/weight lists, not both")
            fwhm = self._q(table, "fwhm_percent", "rf_inhomogeneity", "rf_spread", nonneg=True)
            scales, weights = gaussian_rf_profile(fwhm / 100, int(self._q(table, "n", "rf_inhomogeneity", "rf_points",
                                                                            7.0, positive=True)))
        else:
            scales, weights = table.get("scale"), table.get("weight")
            ok = all(isinstance(v, list) and v and all(isinstance(x, (int, float)) for x in v) for v in (scales, weights))
            if not ok or len(scales) != len(weights):
                raise SpecError("[rf_inhomogeneity] scale and weight must be lists of numbers of the same length")
        return RfInhomogeneity(scales, weights, chans)

    @staticmethod
    def _placement(rec):
        from .sequences import DEFAULT_PLACEMENT, placement_positions

        value = rec.get("placement", DEFAULT_PLACEMENT)
        try:
            placement_positions(value)
        except (ValueError, TypeError):
            raise SpecError(
                f"[recoupling] placement must be 'mid-end', 'centred' or a list of fractions of tau_R (an even "
                f"number, increasing, in (0, 1]), got {value!r}"
            ) from None
        return value

    @staticmethod
    def _pair(d, where, n):
        p = d.get("spins")
        if not (isinstance(p, list) and len(p) == 2 and all(isinstance(x, int) for x in p)):
            raise SpecError(f"[{where}] spins must be two spin indices, got {p!r}")
        if not all(0 <= x < n for x in p) or p[0] == p[1]:
            raise SpecError(f"[{where}] spins {p!r} must be distinct indices in 0..{n - 1}")
        return p[0], p[1]

    def _parse_recoupling(self, rec):
        """The [recoupling] table: train, placement, centre pulse; returns the cycle length (s) of one
        recoupling step."""
        obs = self.system.spins[0].isotope.symbol
        tr = 1.0 / self.mas_rate
        _check_keys(rec, "recoupling")
        scheme = rec.get("scheme", "redor")
        self.scheme = scheme
        self.pulse_length = 0.0
        self.phases = rec.get("phases", "xy8")
        self.train_channel = self._channel(rec, "recoupling", obs)
        if self.train_channel != obs and not (scheme == "redor" and self.kind == "redor"):
            raise SpecError(
                f"[recoupling] channel {self.train_channel!r}: only a REDOR experiment (type = 'redor', scheme = "
                f"'redor') can put its train on a partner; {self.kind.upper()} recouples on the observed {obs}"
            )
        if self.kind == "redor" and self.train_channel not in (obs, self.partner):
            raise SpecError(
                f"[recoupling] channel {self.train_channel!r}: a partner-channel REDOR train runs on the first "
                f"partner, {self.partner}"
            )
        self.placement = self._placement(rec)
        self.centre_pulse = 1e-6 * self._q(rec, "centre_pulse_us", "recoupling", "pi_pulse", 0.0, nonneg=True,
                                           lo=0.0)
        self.cycle_mode = rec.get("cycle", "restart")
        if self.cycle_mode not in ("restart", "truncate", "continue"):
            raise SpecError(f"[recoupling] cycle must be 'restart', 'truncate' or 'continue', got {self.cycle_mode!r}")
        if scheme == "redor":
            self.recoupling = "redor"
            self.pulse_length = 1e-6 * self._q(rec, "pulse_us", "recoupling", "pi_pulse", 0.0, nonneg=True, lo=0.0)
            if self.pulse_length > 0 or self.train_channel != obs:
                self.recoupling = seq.redor_cycle(self.train_channel, self.mas_rate, self.pulse_length, self.phases,
                                                  placement=self.placement)
            cycle = tr if self.recoupling == "redor" else self.recoupling.duration
        elif scheme in ("sr4", "adiabatic_sr4"):
            if scheme == "sr4":
                nu1 = 1e3 * self._q(rec, "nu1_khz", "recoupling", "rf_amplitude", 2e-3 * self.mas_rate, positive=True)
                self.recoupling = seq.sr4_cycle(obs, self.mas_rate, rec.get("supercycle", "SR4"), nu1)
            else:
                self.recoupling = seq.adiabatic_sr4_cycle(
                    obs, self.mas_rate, rec.get("supercycle", "R4R4bar"),
                    1e3 * self._q(rec, "nu1_max_khz", "recoupling", "rf_amplitude", 8e-3 * self.mas_rate,
                                  positive=True),
                    1e3 * self._q(rec, "sweep_khz", "recoupling", "rf_offset", 8e-3 * self.mas_rate, positive=True),
                    _num(rec, "beta", "recoupling", 5.3, positive=True),
                    1e-6 * self._q(rec, "step_us", "recoupling", "step", 0.25, positive=True))
            cycle = self.recoupling.duration
        else:
            raise SpecError(f"[recoupling] scheme must be 'redor', 'sr4' or 'adiabatic_sr4', got {scheme!r}")
        if self.cycle_mode != "restart":
            cycle = tr  # any even number of rotor periods
        return cycle

    def _parse_times(self, exp, cycle):
        """The recoupling times: listed, or every two cycles up to t_max_ms."""
        if "recoupling_times_ms" in exp:
            t = exp["recoupling_times_ms"]
            if not (isinstance(t, list) and t and all(isinstance(x, (int, float)) for x in t)):
                raise SpecError("[experiment] recoupling_times_ms must be a list of numbers")
            if min(t) < 0:
                raise SpecError(f"[experiment] recoupling_times_ms = {min(t):g} ms: a recoupling time is >= 0")
            if any(b <= a for a, b in zip(t, t[1:])):
                raise SpecError(f"[experiment] recoupling_times_ms = {t!r}: the times must increase, without repeats")
            _plausible(self.warnings, "recoupling_time", max(t), "experiment", "recoupling_times_ms")
            self.times_s = 1e-3 * np.asarray(t, float)
        else:
            tmax = 1e-3 * self._q(exp, "t_max_ms", "experiment", "t_max", positive=True)
            n = int(np.floor(tmax / (2 * cycle) + 1e-9))
            if n < 1:
                raise SpecError(f"[experiment] t_max_ms = {1e3 * tmax:g} ms: shorter than one recoupling step "
                                f"({2e3 * cycle:g} ms at MAS {self.mas_rate:g} Hz): the curve would have no point "
                                "after t = 0")
            self.times_s = 2 * cycle * np.arange(n + 1)

    def _parse_saturation(self, raw):
        """The [saturation] table, built by its scheme of :data:`spinsim.saturation.SATURATION_SCHEMES`."""
        obs = self.system.spins[0].isotope.symbol
        sat = raw.get("saturation", {"type": "ideal"} if self.kind == "respdor" else {"type": "none"})
        _check_keys(sat, "saturation")
        stype = sat.get("type", DEFAULT_SATURATION_TYPE)
        channel = self._channel(sat, "saturation", self.partner)
        if channel == obs:
            raise SpecError(f"[saturation] channel {channel!r} is the observed channel: saturate a partner")
        if self.kind == "redor" and stype == "ideal" and "saturation" in raw:
            raise SpecError("[saturation] type 'ideal' has no effect with type = 'redor' (the partner pulse of REDOR "
                            "is an ideal inversion; give an rf pulse type or leave [saturation] out)")
        scheme = SATURATION_SCHEMES.get(stype) if isinstance(stype, str) else None
        if scheme is None:
            raise SpecError(f"[saturation] type must be {', '.join(repr(k) for k in SATURATION_TYPES[:-1])} or "
                            f"{SATURATION_TYPES[-1]!r}, got {stype!r}")

        got = {}

        def read(key, quantity=None, default=None, **checks):
            if quantity is None:
                got[key] = _num(sat, key, "saturation", default, **checks)
            else:
                got[key] = self._q(sat, key, "saturation", quantity, default, **checks)
            return got[key]

        if not scheme.rf:
            built = scheme.build(read, sat)
            if self.kind == "respdor" and built is None:
                raise SpecError(f"[saturation] type {stype!r} is only for type = 'redor'")
            _check_saturation_values(stype, got, self.warnings)
            return built
        tr = 1.0 / self.mas_rate
        if "length_us" in sat:
            length = 1e-6 * self._q(sat, "length_us", "saturation", "saturation_length", positive=True)
        else:
            length = tr * self._q(sat, "length_rotor_periods", "saturation", "rotor_periods", positive=True)
            _plausible(self.warnings, "saturation_length", length, "saturation",
                       f"length_rotor_periods = {length / tr:g} at MAS {self.mas_rate:g} Hz, a length", hint=False)
        nu1 = 1e3 * self._q(sat, "nu1_khz", "saturation", "rf_amplitude", positive=True)
        built = scheme.build(read, channel, nu1, length)
        _check_saturation_values(stype, got, self.warnings)
        return built

    def _parse_sequence(self, raw, exp):
        from .powder import make_powder

        cycle = self._parse_recoupling(raw.get("recoupling", {"scheme": "redor"}))
        self._parse_times(exp, cycle)
        self.saturation = self._parse_saturation(raw)
        pw = raw.get("powder", {})
        _check_keys(pw, "powder")
        n_gamma = int(self._q(pw, "n_gamma", "powder", "gamma", float(DEFAULT_POWDER["n_gamma"]), positive=True))
        if "file" in pw:
            if "n" in pw or "scheme" in pw:
                raise SpecError("[powder] give a crystallite file or scheme/n, not both")
            from .powder import read_crystallites

            path = Path(str(pw["file"]))
            if not path.is_absolute() and self.source != "<dict>":
                path = Path(self.source).parent / path
            try:
                self.powder = read_crystallites(path, n_gamma, pw.get("convention", "spinsim"))
            except ValueError as exc:  # the file named by its path (and line)
                raise SpecError(f"[powder] file {exc}") from None
        else:
            if "convention" in pw:
                raise SpecError("[powder] convention has no effect without file (it is the angle convention of a "
                                "crystallite file)")
            n_ab = self._q(pw, "n", "powder", "powder", float(DEFAULT_POWDER["n"]), positive=True, warn=False)
            self.powder = make_powder(pw.get("scheme", DEFAULT_POWDER["scheme"]), int(n_ab), n_gamma)
        if self.powder.n_ab < MIN_POWDER:
            self.warnings.append(f"[powder] {self.powder.n_ab} (alpha, beta) orientation(s): a (near) single crystal, "
                                 f"not a powder average (a powder needs hundreds; below {MIN_POWDER} is never one)")
        self.rf_inhomogeneity = self._rf_inhomogeneity(raw.get("rf_inhomogeneity"))
        sim = raw.get("simulation", {})
        _check_keys(sim, "simulation")
        self.max_dt = 1e-6 * self._q(sim, "max_dt_us", "simulation", "step", 0.5, positive=True)
        self.method = sim.get("method", "auto")
        self.integrator = self._integrator(sim.get("integrator", "piecewise"))
        offs = sim.get("offsets_khz", {})
        if not isinstance(offs, dict):
            raise SpecError("[simulation] offsets_khz must be a table isotope -> kHz")
        known = [sp.isotope.symbol for sp in self.system.spins]
        for k in offs:
            if k not in known:
                raise SpecError(f"[simulation] offsets_khz: {k!r} is not in the spin system, so its offset has no "
                                f"effect (isotopes: {', '.join(dict.fromkeys(known))})")
        self.offsets = {k: 1e3 * self._q(offs, k, "simulation.offsets_khz", "rf_offset", unit="kHz") for k in offs}

    def work_counts(self):
        """The counts of this spec's simulation cost (:func:`spinsim.plausibility.work_counts`)."""
        from .plausibility import work_counts

        n_rf = len(self.rf_inhomogeneity.scales) if self.rf_inhomogeneity is not None else 1
        return work_counts(self.system, self.mas_rate, self.times_s, self.saturation, self.recoupling, self.powder,
                           self.max_dt, self.method, n_rf, self.centre_pulse, self.integrator)

    def describe(self):
        """What the spec's experiment runs, one line per element (as in the CSV/JSON header)."""
        from .simulate import IdealSaturation, describe_experiment

        if self.kind == "redor" and self.scheme == "redor":
            centre = self.saturation if self.saturation is not None and not hasattr(self.saturation, "kind") \
                else IdealSaturation("inversion")
            return describe_experiment(self.system, self.mas_rate, centre, self.recoupling, self.placement, "redor",
                                       self.train_channel)
        centre = self.saturation if self.saturation is not None else IdealSaturation("inversion")
        return describe_experiment(self.system, self.mas_rate, centre, self.recoupling, self.placement, self.kind)

    def run(self, progress=False, coupling_hz=None, times_s=None):
        """Simulate; ``coupling_hz`` replaces the first dipolar coupling (Hz)."""
        from .simulate import simulate_redor, simulate_respdor

        system = self.system if coupling_hz is None else self.system.with_coupling(coupling_hz)
        t = self.times_s if times_s is None else times_s
        if self.kind == "redor":
            partner_pulse = None if self.saturation is None or hasattr(self.saturation, "kind") else self.saturation
            if self.scheme in ("sr4", "adiabatic_sr4"):
                from .simulate import IdealSaturation

                centre = partner_pulse if partner_pulse is not None else IdealSaturation("inversion")
                return simulate_respdor(system, self.mas_rate, t, centre, self.recoupling, self.powder,
                                        self.max_dt, self.offsets, self.method, progress,
                                        rf_inhomogeneity=self.rf_inhomogeneity, centre_pulse=self.centre_pulse,
                                        cycle_mode=self.cycle_mode)
            if self.centre_pulse > 0:
                raise ValueError("centre_pulse_us is supported for RESPDOR and SR4 specs, not a REDOR train")
            channel = "observed" if self.train_channel == self.system.spins[0].isotope.symbol else "partner"
            return simulate_redor(system, self.mas_rate, t, self.pulse_length, self.phases, channel=channel,
                                  partner_pulse=partner_pulse, powder=self.powder, max_dt=self.max_dt,
                                  offsets=self.offsets, method=self.method, progress=progress,
                                  placement=self.placement, rf_inhomogeneity=self.rf_inhomogeneity,
                                  cycle_mode=self.cycle_mode)
        return simulate_respdor(system, self.mas_rate, t, self.saturation, self.recoupling, self.powder,
                                self.max_dt, self.offsets, self.method, progress, placement=self.placement,
                                rf_inhomogeneity=self.rf_inhomogeneity, centre_pulse=self.centre_pulse,
                                cycle_mode=self.cycle_mode, integrator=self.integrator)

    def _integrator(self, name):
        """[simulation] integrator, checked: one of :data:`spinsim.simulate.INTEGRATORS`."""
        from .simulate import INTEGRATORS

        if name not in INTEGRATORS:
            raise SpecError(f"[simulation] integrator must be one of {', '.join(map(repr, INTEGRATORS))}, got {name!r}")
        if name != "piecewise" and self.kind == "redor":
            raise SpecError(f"[simulation] integrator {name!r} is for RESPDOR specs (the fast engine's central "
                            "block); a REDOR spec takes 'piecewise'")
        return name


def read_spec_tables(path) -> dict:
    """The tables of a spec file as written, before their content is checked.

    Parameters
    ----------
    path : str or Path
        A ``.json`` file, or TOML (any other extension), read through the text-file guard
        (:func:`spinsim.textfile.read_text`).

    Raises
    ------
    SpecError
        A missing, binary or empty file, or text that is not valid TOML/JSON; the message names the file.
    """
    path = Path(path)
    text = _read_spec_text(path)
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"{path}: not valid {path.suffix.lstrip('.').upper() or 'TOML'}: {exc}") from None
    except RecursionError:  # thousands of nested brackets: no spec, and the parser would crash
        raise SpecError(f"{path}: lists or tables nested too deeply to be a spec") from None


def load_spec(spec) -> Spec:
    """Parse a spec from a path (``.toml`` or ``.json``) or a dict.

    Raises
    ------
    SpecError
        With a one-line message naming the file, table and key.
    """
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, dict):
        return Spec(spec)
    raw = read_spec_tables(spec)
    try:
        return Spec(raw, str(Path(spec)))
    except SpecError as exc:
        raise SpecError(f"{Path(spec)}: {exc}") from None


def simulate_spec(spec, progress=False):
    """Load a spec (path or dict) and simulate it; returns a :class:`SimulationResult`."""
    return load_spec(spec).run(progress=progress)
