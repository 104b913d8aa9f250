"""Bruker TopSpin / XWIN-NMR data sets (1D fid, 2D/pseudo-2D ser, processed 1r/2rr) via nmrglue.

What the reader trusts and checks (each check that fails is recorded in ``warnings`` and shown
to the user; contradictions that would give wrong numbers raise :class:`DataFileError`):

* ``acqus`` is the source of truth for the observe channel (BF1, SFO1, O1, SW_h, TD).
* ``procs`` (SF, OFFSET, SW_p) is used for the ppm axis only when it agrees with ``acqus``
  (SF within 1000 ppm of BF1 and, for unprocessed data, OFFSET within 1 ppm of what SFO1, SW_h
  and SF imply). Otherwise the axis is built from ``acqus`` with SR = 0 (SF = BF1) and a warning.
* ``NUC1`` missing ("<NONE>", "off", empty): the nucleus is inferred from BF1 with the IUPAC
  frequency ratios (and the 1H channel's BF if one is recorded), and the reader says so.
* ``MASR`` is reported as recorded; it is often stale (the spinning rate of an earlier
  experiment). :func:`respdor.spectra.mas.measure_mas_rate` measures the rate from the sideband
  spacing instead.
* The digital-filter group delay (GRPDLY, or the DSPFVS/DECIM table for XWIN-NMR-era data) is
  removed exactly, fractional part included (:func:`remove_group_delay`); when it is unknown
  (e.g. DSPFVS 0, GRPDLY -1) the FID itself is examined and the notes say what remains.
* The number of points is checked against TD (and TD of the indirect dimension for ser files).

Axes from this module are in ascending frequency/ppm order (TopSpin displays them descending;
plots invert the axis). The reader only reads and checks: the Fourier transform of a FID is
:func:`respdor.spectra.processing.spectrum_1d`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spinsim.isotopes import get_isotope

from ..errors import DataFileError, UserError
from .referencing import infer_nucleus

__all__ = ["BrukerDataset", "read_bruker", "group_delay_points", "remove_group_delay", "read_bruker_processed", "read_vclist", "read_delay_list", "write_bruker", "check_pass_dataset"]

_NO_NUCLEUS = {"", "none", "<none>", "off"}


@dataclass
class BrukerDataset:
    """A Bruker experiment as read from disk.

    Attributes
    ----------
    path : Path
        The experiment directory.
    data : ndarray
        Complex time-domain data: shape (n,) for fid, (n_rows, n) for ser.
    acqus : dict
        The observe-dimension acquisition parameters.
    acqu2s : dict or None
        Indirect-dimension parameters for ser files.
    procs : dict or None
        ``pdata/<procno>/procs`` when present.
    nucleus : str
        Observed isotope (read or inferred, see ``notes``).
    bf1_mhz, sfo1_mhz : float
        Basic and carrier frequencies of the observe channel in MHz.
    sw_hz : float
        Spectral width in Hz.
    reference_mhz : float
        Frequency of 0 ppm in MHz (procs SF when trusted, else BF1).
    mas_hz_recorded : float or None
        MASR from acqus in Hz (may be stale; see :func:`infer_mas_rate`).
    group_delay_removed : bool
        Whether the digital-filter delay was removed (or found absent from the data).
    notes : list of str
        What the reader found, assumed, inferred or distrusted.
    procs_trusted : bool
        Whether procs agrees with acqus (then its PHC0/PHC1 may be used).
    nucleus_inferred : bool
        NUC1 did not name an isotope: ``nucleus`` was inferred from BF1.
    """

    path: Path
    data: np.ndarray
    acqus: dict
    acqu2s: dict | None
    procs: dict | None
    nucleus: str
    bf1_mhz: float
    sfo1_mhz: float
    sw_hz: float
    reference_mhz: float
    mas_hz_recorded: float | None
    group_delay_removed: bool
    notes: list = field(default_factory=list)
    procs_trusted: bool = False
    nucleus_inferred: bool = False

    @property
    def dwell_s(self) -> float:
        """Dwell time between complex points in s (1 / SW_h)."""
        return 1.0 / self.sw_hz

    @property
    def larmor_hz(self) -> float:
        """Observe frequency SFO1 in Hz (positive)."""
        return self.sfo1_mhz * 1e6

    def freq_axis_hz(self, n: int) -> np.ndarray:
        """Ascending offsets from the carrier (Hz) of an n-point spectrum from :func:`spectrum_1d`."""
        return np.fft.fftshift(np.fft.fftfreq(n, self.dwell_s))

    def ppm_axis(self, n: int) -> np.ndarray:
        """Ascending ppm axis of an n-point spectrum: delta = (nu - nu_ref) / nu_ref * 1e6."""
        nu = self.sfo1_mhz * 1e6 + self.freq_axis_hz(n)
        ref = self.reference_mhz * 1e6
        return (nu - ref) / ref * 1e6


def _read_param_file(path: Path) -> dict:
    import nmrglue as ng

    from ..files import read_text

    read_text(path, "Bruker parameter file")  # names a directory or binary file before nmrglue guesses
    try:
        return ng.bruker.read_jcamp(str(path), encoding="utf-8-sig")  # a BOM is read like elsewhere
    except Exception as exc:  # nmrglue raises bare Exceptions on malformed JCAMP
        raise DataFileError(path, f"cannot read the parameter file: {exc}") from None


def _num(dic, key, path, required=True):
    val = dic.get(key)
    if val is None:
        if required:
            raise DataFileError(path, f"parameter {key} is missing")
        return None
    try:
        return float(val)
    except (TypeError, ValueError):
        raise DataFileError(path, f"parameter {key} = {val!r} is not a number") from None


def _nucleus(acqus, acqus_path, notes):
    raw = str(acqus.get("NUC1", "") or "").strip()
    bf1 = float(acqus["BF1"])
    if raw.lower() not in _NO_NUCLEUS:
        try:
            return get_isotope(raw).symbol
        except ValueError:
            notes.append(f"NUC1 = {raw!r} is not in the isotope table; inferring from BF1")
    proton = None
    for ch in range(2, 9):
        if str(acqus.get(f"NUC{ch}", "")).strip() == "1H" and acqus.get(f"BF{ch}"):
            proton = float(acqus[f"BF{ch}"])
            break
    cands = infer_nucleus(bf1, proton)
    if not cands:
        raise DataFileError(
            acqus_path, f"NUC1 is {raw or 'empty'!r} and no isotope fits BF1 = {bf1} MHz; give the nucleus explicitly"
        )
    sym, h = cands[0]
    more = f" (other candidates: {', '.join(c for c, _ in cands[1:])})" if len(cands) > 1 else ""
    notes.append(
        f"NUC1 = {raw or 'empty'!r}: nucleus inferred as {sym} from BF1 = {bf1} MHz "
        f"(implies a {h:.2f} MHz 1H magnet){more}"
    )
    return sym


def _procs_reference(procs, acqus, procs_path, processed, notes):
    """Reference frequency of 0 ppm (MHz): procs SF if it is consistent with acqus, else BF1."""
    bf1, sfo1, sw = float(acqus["BF1"]), float(acqus["SFO1"]), float(acqus["SW_h"])
    if procs is None:
        notes.append("no procs file: ppm axis from acqus with SR = 0 (0 ppm at BF1)")
        return bf1, False
    sf = procs.get("SF")
    try:
        sf = float(sf)
    except (TypeError, ValueError):
        sf = None
    if sf is None or abs(sf - bf1) / bf1 > 1e-3:
        notes.append(
            f"procs SF = {procs.get('SF')!r} MHz disagrees with acqus BF1 = {bf1} MHz ({procs_path}): "
            "procs ignored, ppm axis from acqus with SR = 0"
        )
        return bf1, False
    offset = procs.get("OFFSET")
    if not processed and offset is not None:
        expected = ((sfo1 * 1e6 + sw / 2.0) - sf * 1e6) / sf
        if abs(float(offset) - expected) > 1.0:
            notes.append(
                f"procs OFFSET = {offset} ppm but acqus implies {expected:.2f} ppm ({procs_path}); "
                "using SF only"
            )
    return sf, True


def _check_frequencies(acqus, acqus_path):
    """Refuse BF1, SFO1 or SW_h that no spectrometer records (the plausible ranges of
    :mod:`spinsim.plausibility`), and an SFO1 that is not BF1 plus an rf offset: each would give a
    ppm axis of absurd extent (and work without end) instead of one line naming the parameter."""
    from spinsim import plausibility

    for key, quantity, unit in (("BF1", "larmor", "MHz"), ("SFO1", "larmor", "MHz"), ("SW_h", "spectral_width", "Hz")):
        value = float(acqus[key]) * plausibility.UNITS["frequency"][unit]
        try:
            plausibility.check(quantity, value, f"parameter {key}", unit=unit, warn=False, hint=False)
        except ValueError as exc:
            raise DataFileError(acqus_path, str(exc)) from None
    bf1, sfo1 = float(acqus["BF1"]), float(acqus["SFO1"])
    offset = plausibility.RANGES["rf_offset"].hi / 1e6  # MHz: the largest rf offset O1 a probe can take
    if abs(sfo1 - bf1) > offset:
        raise DataFileError(acqus_path, f"SFO1 = {sfo1:g} MHz is {abs(sfo1 - bf1):.6g} MHz from BF1 = {bf1:g} MHz: "
                            f"more than any rf offset O1 ({offset:g} MHz); one of them is damaged")


def _check_size(path, acqus, acqu2s, has_ser):
    """Refuse a fid/ser shorter than TD (x TD1) points: a truncated copy or an aborted acquisition,
    which nmrglue would report as a division by zero."""
    name = "ser" if has_ser else "fid"
    data_path = path / name
    td = int(_num(acqus, "TD", path / "acqus"))
    rows = int(_num(acqu2s, "TD", path / "acqu2s")) if has_ser else 1
    if rows < 1:
        raise DataFileError(path / "acqu2s", f"parameter TD = {rows} must be >= 1")
    point_bytes = 8 if int(_num(acqus, "DTYPA", path / "acqus", required=False) or 0) == 2 else 4
    need = rows * td * point_bytes
    size = data_path.stat().st_size
    if size < need:
        raise DataFileError(data_path, f"holds {size} bytes but TD = {td}" + (f" x TD1 = {rows}" if has_ser else "")
                            + f" points need at least {need}: the file is truncated (aborted acquisition or "
                            "incomplete copy)")


_ENDIAN = ("little", "big")
_TYPES = {0: ("i4", "int32"), 2: ("f8", "float64")}


def _point_reading(raw, order, dtypa):
    """How the bytes read as points of (BYTORDA, DTYPA): ('sane' | 'absurd' | 'unclear', text).

    int32 acquisition points stay far inside the int32 range (median |point| < 2**27 on every
    set we have, real ones 3e2-5e5); read in the wrong byte order, or float64 bits read as int32,
    they spread over the whole range (median ~1e9). float64 points lie within 1e+-30; other bytes
    read as float64 give denormals, NaN or huge exponents.
    """
    kind, name = _TYPES[dtypa]
    v = raw.view(("<", ">")[order] + kind).astype(float)
    if kind == "i4":
        med = float(np.median(np.abs(v)))
        state = "sane" if med < 2.0 ** 27 else "absurd" if med > 2.0 ** 28 else "unclear"
        return state, f"median |point| {med:.3g}, spread over the whole int32 range like noise"
    with np.errstate(all="ignore"):
        ok = float(np.mean(np.isfinite(v) & ((v == 0) | ((np.abs(v) > 1e-30) & (np.abs(v) < 1e30)))))
    state = "sane" if ok > 0.9 else "absurd" if ok < 0.5 else "unclear"
    return state, f"{(1 - ok) * 100:.0f} % of the {name} points beyond 1e+-30"


def _check_byte_order(path, acqus, has_ser):
    """Refuse points whose byte order (BYTORDA) or type (DTYPA) contradicts acqus.

    The declared reading must not be absurd while another reading is sane
    (:func:`_point_reading`; up to 1 Mi points examined). float64 readings are preferred as the
    alternative (int32 views of float64 data can look sane, float64 views of int32 data never do).
    """
    data_path = path / ("ser" if has_ser else "fid")
    dtypa = int(_num(acqus, "DTYPA", path / "acqus", required=False) or 0)
    order = int(_num(acqus, "BYTORDA", path / "acqus", required=False) or 0)
    if dtypa not in _TYPES or order not in (0, 1):
        return
    raw = np.fromfile(data_path, dtype="u1", count=min(data_path.stat().st_size, 8 << 20))
    raw = raw[: raw.size - raw.size % 8]
    if raw.size == 0:
        return
    state, what = _point_reading(raw, order, dtypa)
    if state != "absurd":
        return
    for t, o in ((2, order), (2, 1 - order), (0, order), (0, 1 - order)):
        if (o, t) != (order, dtypa) and _point_reading(raw, o, t)[0] == "sane":
            break
    else:
        return
    wrong = [f"BYTORDA = {order} ({_ENDIAN[order]} endian)"] if o != order else []
    wrong += [f"DTYPA = {dtypa} ({_TYPES[dtypa][1]})"] if t != dtypa else []
    right = ", ".join(x for x, bad in ((f"{_ENDIAN[o]} endian", o != order), (_TYPES[t][1], t != dtypa)) if bad)
    raise DataFileError(data_path, f"the points contradict acqus {' and '.join(wrong)}: read that way {what}; read "
                        f"{right} they form a FID (a converted or edited data set?): correct "
                        f"{' and '.join(w.split(' =')[0] for w in wrong)} in {path / 'acqus'}")


def group_delay_points(acqus):
    """Digital-filter group delay of a Bruker FID in dwell times, and where it came from.

    * DSPFVS >= 20 (Avance II and later): acqus GRPDLY, the delay the console itself reports
      (GRPDLY = 0: the data carry no delay).
    * DSPFVS 10-13 (Avance I, XWIN-NMR era; GRPDLY absent or -1): the DSPFVS/DECIM table of
      W. M. Westler and F. Abildgaard ("DMX digital filters and non-Bruker offline processing",
      1996), as tabulated in nmrglue (``nmrglue.fileio.bruker.bruker_dsp_table``); the same numbers
      appear in SpinWorks and other readers (e.g. DSPFVS 10, DECIM 4: 66.625 dwells).
    * Anything else (e.g. DSPFVS 0 with GRPDLY -1 in converted data): unknown, None.

    Returns
    -------
    (float or None, str)
    """
    from nmrglue.fileio.bruker import bruker_dsp_table

    def num(key):
        try:
            return float(acqus.get(key))
        except (TypeError, ValueError):
            return None

    dspfvs, decim, grpdly = num("DSPFVS"), num("DECIM"), num("GRPDLY")
    if grpdly is not None and grpdly > 0:
        return grpdly, f"GRPDLY = {grpdly:g}"
    if grpdly == 0.0 and dspfvs is not None and dspfvs >= 20:
        return 0.0, "GRPDLY = 0"
    table = bruker_dsp_table.get(int(dspfvs)) if dspfvs is not None and dspfvs == int(dspfvs) else None
    if table is not None and decim is not None and decim == int(decim) and int(decim) in table:
        g = float(table[int(decim)])
        return g, f"DSPFVS {int(dspfvs)}, DECIM {int(decim)} table: {g:g} dwells"
    return None, f"DSPFVS = {acqus.get('DSPFVS')}, DECIM = {acqus.get('DECIM')}, GRPDLY = {acqus.get('GRPDLY')}"


def remove_group_delay(data, delay: float):
    """Shift FID(s) left by ``delay`` dwell times (fractional allowed) so point 0 is t = 0.

    The shift is exact for band-limited data: a linear phase on the Fourier transform of the FID
    zero-filled to twice its length (what TopSpin's own correction amounts to, a first-order phase
    of 360 deg x delay). The first ``delay`` points hold the filter's response before t = 0; after
    the shift they sit at the end, so the last ceil(delay) points are dropped instead of being
    folded back onto the start (nmrglue folds them back and truncates the delay to whole points,
    which leaves up to one dwell, 360 deg of PHC1, and a spike at the first points).

    Parameters
    ----------
    data : ndarray
        Complex FID(s), time on the last axis.
    delay : float
        Group delay in dwell times (>= 0).

    Returns
    -------
    ndarray
        n - ceil(delay) points per FID.
    """
    data = np.asarray(data, complex)
    if delay <= 0:
        return data.copy()
    n = data.shape[-1]
    drop = int(np.ceil(delay - 1e-9))
    if drop >= n - 8:
        raise UserError(f"group delay of {delay:g} points leaves almost nothing of a {n}-point FID")
    m = 2 * n
    spec = np.fft.fft(data, n=m, axis=-1)
    spec *= np.exp(2j * np.pi * np.fft.fftfreq(m) * delay)
    return np.fft.ifft(spec, axis=-1)[..., : n - drop]


def _unknown_filter(data, acqus, tag, notes):
    """Group delay not known from acqus (e.g. DSPFVS 0, GRPDLY -1): look at the FID itself.

    A digitally filtered FID that still carries its group delay starts near zero and rises over
    tens of points; a FID whose magnitude is largest in its first 3 points has no delay left
    (converted data, or filtering already undone). Otherwise a first-order phase remains, which
    the automatic phase (PHC1) absorbs.
    """
    a = np.abs(np.asarray(data))
    first = a[..., :64].reshape(-1, min(64, a.shape[-1])).mean(axis=0)
    k = int(np.argmax(first))
    if k <= 2:
        notes.append(f"digital-filter delay not in the lookup table ({tag}); the FID peaks at point {k}, "
                     "so no group delay remains in the data")
        return True
    notes.append(f"digital-filter delay unknown ({tag}); the FID peaks at point {k}: a first-order "
                 "phase roll remains (the automatic phase fits PHC1)")
    return False


_UNIT = {"s": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}


def read_delay_list(path, kind: str = "vdlist") -> np.ndarray:
    """Read a TopSpin vdlist (delays) or vplist (pulse lengths) in seconds.

    Values may carry TopSpin's unit suffix (``s``, ``m`` = ms, ``u`` = us, ``n`` = ns); without one,
    a vdlist is in seconds and a vplist in microseconds (TopSpin's defaults).

    Parameters
    ----------
    path : str or Path
        The list file.
    kind : {'vdlist', 'vplist'}

    Returns
    -------
    ndarray of float, seconds
    """
    if kind not in ("vdlist", "vplist"):
        raise UserError(f"kind must be 'vdlist' or 'vplist', got {kind!r}")
    path = Path(path)
    from ..files import read_text

    default = 1.0 if kind == "vdlist" else 1e-6
    values = []
    for lineno, line in enumerate(read_text(path, kind).split("\n"), 1):
        text = line.split("#")[0].split(";")[0].strip()
        if not text:
            continue
        unit = default
        if text[-1].lower() in _UNIT and not text[-1].isdigit():
            unit, text = _UNIT[text[-1].lower()], text[:-1].strip()
        try:
            v = float(text)
        except ValueError:
            raise DataFileError(path, f"entry {line.strip()!r} is not a number", line=lineno) from None
        if not np.isfinite(v) or v < 0:
            raise DataFileError(path, f"entry {line.strip()!r} must be a finite number >= 0", line=lineno)
        values.append(v * unit)
    if not values:
        raise DataFileError(path, f"{kind} is empty")
    return np.array(values)


def read_vclist(path) -> np.ndarray:
    """Read a Bruker vclist (one integer loop counter per line) as an int array."""
    from ..files import read_text

    path = Path(path)
    values = []
    for lineno, line in enumerate(read_text(path, "vclist").split("\n"), 1):
        text = line.split("#")[0].strip()
        if not text:
            continue
        try:
            v = float(text)
        except ValueError:
            raise DataFileError(path, f"loop counter {text!r} is not a number", line=lineno) from None
        if not np.isfinite(v) or v != int(v) or v < 0 or v > 1e9:
            raise DataFileError(path, f"loop counter {text!r} is not a non-negative integer (at most 1e9)",
                                line=lineno)
        values.append(int(v))
    if not values:
        raise DataFileError(path, "vclist is empty")
    return np.array(values, dtype=int)


def read_bruker(path, procno: int = 1, remove_filter: bool = True) -> BrukerDataset:
    """Read the raw fid or ser of a Bruker experiment directory.

    Parameters
    ----------
    path : str or Path
        Experiment directory (the one holding ``acqus`` and ``fid``/``ser``).
    procno : int
        Processing number whose ``procs`` gives the reference frequency SF.
    remove_filter : bool
        Remove the digital-filter group delay (see :func:`group_delay_points`).

    Returns
    -------
    BrukerDataset

    Raises
    ------
    DataFileError
        Missing directory/acqus/fid, or a point count inconsistent with TD.
    """
    path, has_ser = _experiment_dir(path)
    acqus_path = path / "acqus"
    acqus, acqu2s = _read_parameters(path, has_ser)
    data = _read_points(path, acqus, acqu2s, has_ser)
    notes: list[str] = []
    data, removed = _group_delay(data, acqus, remove_filter, notes)
    n_notes = len(notes)
    nucleus = _nucleus(acqus, acqus_path, notes)
    nucleus_inferred = len(notes) > n_notes  # _nucleus notes only what it inferred
    procs_path = path / "pdata" / str(procno) / "procs"
    procs = _read_param_file(procs_path) if procs_path.is_file() else None
    ref, trusted = _procs_reference(procs, acqus, procs_path, False, notes)
    return BrukerDataset(
        path=path,
        data=np.ascontiguousarray(data),
        acqus=acqus,
        acqu2s=acqu2s,
        procs=procs,
        nucleus=nucleus,
        bf1_mhz=float(acqus["BF1"]),
        sfo1_mhz=float(acqus["SFO1"]),
        sw_hz=float(acqus["SW_h"]),
        reference_mhz=ref,
        mas_hz_recorded=_masr(acqus, notes),
        group_delay_removed=removed,
        notes=notes,
        procs_trusted=trusted,
        nucleus_inferred=nucleus_inferred,
    )


def _experiment_dir(path):
    """The experiment directory (a file inside it is accepted) and whether it holds a ser file."""
    path = Path(path)
    if path.is_file():
        if not (path.parent / "acqus").is_file():
            raise DataFileError(path, "is a file, not a Bruker experiment directory (the one holding acqus and "
                                "fid or ser)")
        path = path.parent
    if not path.is_dir():
        raise DataFileError(path, "Bruker experiment directory not found")
    if path.name.isdigit() and path.parent.name == "pdata":
        raise DataFileError(path, "this is a pdata/<procno> directory; give the experiment directory (two levels up)")
    acqus_path = path / "acqus"
    if not acqus_path.is_file():
        raise DataFileError(acqus_path, "acqus not found: not a Bruker experiment directory")
    has_fid, has_ser = (path / "fid").is_file(), (path / "ser").is_file()
    if not (has_fid or has_ser):
        raise DataFileError(path, "neither fid nor ser found")
    return path, has_ser


def _read_parameters(path, has_ser):
    """acqus (its frequencies, width and size checked) and, for a ser file, acqu2s."""
    acqus_path = path / "acqus"
    acqus = _read_param_file(acqus_path)
    for key in ("BF1", "SFO1", "SW_h", "TD"):
        if not _num(acqus, key, acqus_path) > 0:  # 0 would divide the ppm axis / the data by zero
            raise DataFileError(acqus_path, f"parameter {key} = {acqus[key]} must be > 0")
    _check_frequencies(acqus, acqus_path)
    acqu2s = None
    if has_ser:
        a2 = path / "acqu2s"
        if not a2.is_file():
            raise DataFileError(a2, "ser file present but acqu2s is missing")
        acqu2s = _read_param_file(a2)
    return acqus, acqu2s


def _read_points(path, acqus, acqu2s, has_ser):
    """The complex points of the fid (1D) or ser (rows x points), checked against TD (and TD1)."""
    import nmrglue as ng

    acqus_path = path / "acqus"
    _check_byte_order(path, acqus, has_ser)  # before the size: a wrong DTYPA changes the size needed
    _check_size(path, acqus, acqu2s, has_ser)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nmrglue warns about pulse programs and shapes; we check ourselves
        try:
            dic, data = ng.bruker.read(str(path), read_pulseprogram=False)
        except Exception as exc:
            raise DataFileError(path / ("ser" if has_ser else "fid"), f"nmrglue cannot read the data: {exc}") from None
    td = int(_num(acqus, "TD", acqus_path))
    n_complex = td // 2
    if has_ser:
        td1 = int(_num(acqu2s, "TD", path / "acqu2s"))
        if data.ndim == 1:
            raise DataFileError(
                path / "ser", f"ser holds {data.size} complex points, which is not TD1 = {td1} rows of TD/2 = {n_complex}"
            )
        if data.shape[0] != td1:
            raise DataFileError(path / "ser", f"ser has {data.shape[0]} rows but acqu2s TD = {td1}")
    else:
        data = np.asarray(data).reshape(-1) if data.ndim == 1 else data
        if data.ndim != 1:
            raise DataFileError(path / "fid", f"fid read as shape {data.shape}; expected a 1D FID")
    if data.shape[-1] < n_complex:
        raise DataFileError(
            path / ("ser" if has_ser else "fid"),
            f"{data.shape[-1]} complex points per FID but acqus TD = {td} means {n_complex}",
        )
    return data[..., :n_complex]


def _group_delay(data, acqus, remove_filter, notes):
    """The FID with the digital-filter group delay removed (when asked and known); whether it was."""
    if not remove_filter:
        notes.append("digital-filter delay left in the FID (remove_filter=False)")
        return data, False
    delay, how = group_delay_points(acqus)
    if delay is None:
        return data, _unknown_filter(data, acqus, how, notes)
    data = remove_group_delay(data, delay)
    if delay > 0:
        notes.append(f"digital-filter group delay of {delay:g} dwell times removed ({how})")
    return data, True


def _masr(acqus, notes):
    """acqus MASR in Hz as recorded (None when 0 or absent), with a note."""
    masr = acqus.get("MASR")
    masr = float(masr) if masr not in (None, "") and float(masr) > 0 else None
    if masr is None:
        notes.append("acqus MASR is 0 or absent: the spinning rate is not recorded")
    else:
        notes.append(f"acqus MASR = {masr:g} Hz (as recorded; check it against the sideband spacing)")
    return masr


def check_pass_dataset(ds) -> None:
    """Refuse, in one line, a data set that cannot be a PASS (pitch x acquisition) experiment.

    A PASS ser has the observed nucleus in both dimensions and a real (QF/undefined) pitch
    dimension; a heteronuclear 2D (e.g. 1H-13C LG-HETCOR: F1 1H) or a phase-sensitive indirect
    dimension (FnMODE States, TPPI, Echo-Antiecho) is another experiment.
    """
    name = f"{ds.path}"
    if ds.data.ndim != 2:
        raise DataFileError(name, "PASS needs a 2D ser (pitch x acquisition); this is a 1D fid")
    a2 = ds.acqu2s or {}
    nuc2 = str(a2.get("NUC1", "") or "").strip().strip("<>")
    prog = str(ds.acqus.get("PULPROG", "")).strip("<>")
    if nuc2 and nuc2.lower() not in _NO_NUCLEUS and nuc2 != ds.nucleus:
        raise DataFileError(name, f"a heteronuclear 2D data set (F1 {nuc2}, F2 {ds.nucleus}, PULPROG {prog}), "
                                  "not a PASS pitch series")
    fnmode = a2.get("FnMODE")
    if fnmode is not None and int(fnmode) in (2, 3, 4, 5, 6):
        mode = {2: "QSEQ", 3: "TPPI", 4: "States", 5: "States-TPPI", 6: "Echo-Antiecho"}[int(fnmode)]
        raise DataFileError(name, f"the indirect dimension is phase-sensitive ({mode}, PULPROG {prog}): not a PASS pitch series")


def read_bruker_processed(path, procno: int = 1):
    """Read the processed real spectrum (1r or 2rr) and its ascending ppm axis (axes).

    The axis comes from procs (SF, OFFSET, SW_p, SI) when procs agrees with acqus; when procs is
    inconsistent (e.g. SF from another nucleus) a :class:`DataFileError` is raised, because the
    processed points themselves were made with the wrong parameters.

    Returns
    -------
    ppm : ndarray or list of ndarray
        Ascending ppm axis (1D) or [indirect, direct] axes (2D).
    spectrum : ndarray
        Real spectrum ordered to match the ascending axes.
    notes : list of str
    """
    import nmrglue as ng

    path = Path(path)
    pdir = path / "pdata" / str(procno)
    if not pdir.is_dir():
        raise DataFileError(pdir, "processed-data directory not found")
    acqus_path = path / "acqus"
    if not acqus_path.is_file():
        raise DataFileError(acqus_path, "acqus not found")
    acqus = _read_param_file(acqus_path)
    procs_path = pdir / "procs"
    if not procs_path.is_file():
        raise DataFileError(procs_path, "procs not found")
    procs = _read_param_file(procs_path)
    notes: list[str] = []
    _, trusted = _procs_reference(procs, acqus, procs_path, True, notes)
    if not trusted:
        raise DataFileError(procs_path, "; ".join(notes) + " - reprocess the raw FID instead (read_bruker)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            dic, data = ng.bruker.read_pdata(str(pdir), scale_data=True)
        except Exception as exc:
            raise DataFileError(pdir, f"nmrglue cannot read the processed data: {exc}") from None

    def axis(p, n):
        sf, off, swp = float(p["SF"]), float(p["OFFSET"]), float(p["SW_p"])
        # Point 0 is at OFFSET (highest ppm); SW_p is in Hz in TopSpin procs.
        ppm_desc = off - np.arange(n) * (swp / sf) / n
        return ppm_desc[::-1]

    if data.ndim == 1:
        return axis(procs, data.size), np.asarray(data[::-1], float), notes
    proc2 = dic.get("proc2s")
    if proc2 is None:
        raise DataFileError(pdir / "proc2s", "2D processed data without proc2s")
    return [axis(proc2, data.shape[0]), axis(procs, data.shape[1])], np.asarray(data[::-1, ::-1], float), notes


def write_bruker(path, data, sw_hz: float, bf1_mhz: float, sfo1_mhz: float, nucleus: str, mas_hz: float = 0.0,
                 vclist=None, title: str = "", pulprog: str = "synthetic", indirect_sw_hz: float = 1.0,
                 overwrite: bool = False, extra_acqus: dict | None = None, pulseprogram: str | None = None) -> Path:
    """Write a small TopSpin-style experiment (acqus, acqu2s, fid or ser, pdata/1/procs, optional vclist).

    Used for synthetic test fixtures and example data; the data are stored as int32 (DTYPA 0,
    little endian) without a digital filter (DSPFVS 0 is avoided: GRPDLY 0 marks 'no delay').

    Parameters
    ----------
    path : str or Path
        Experiment directory to create.
    data : ndarray
        Complex FID (1D) or ser (2D, rows = indirect increments), in the convention of
        :func:`read_bruker` (+ offset precesses as e^{+i 2 pi nu t}).
    sw_hz, bf1_mhz, sfo1_mhz : float
        Spectral width (Hz), basic and carrier frequencies (MHz).
    nucleus : str
        NUC1, e.g. ``"113Cd"``.
    mas_hz : float
        MASR to record (Hz).
    vclist : sequence of int, optional
        Loop counters written to ``vclist``.
    overwrite : bool
        Refuse to touch an existing directory unless True.
    extra_acqus : dict, optional
        More acqus entries (e.g. the D, P, L arrays of a pulse program).
    pulseprogram : str, optional
        Text written to ``pulseprogram``.

    Returns
    -------
    Path
    """
    import nmrglue as ng

    path = Path(path)
    if path.exists() and not overwrite:
        raise DataFileError(path, "already exists; not overwriting")
    d = np.asarray(data, complex)
    scale = 2.0e8 / max(float(np.max(np.abs(d))), 1e-300)
    n = d.shape[-1]
    acqus = {
        "TD": 2 * n, "SW_h": float(sw_hz), "SW": float(sw_hz) / float(sfo1_mhz), "BF1": float(bf1_mhz),
        "SFO1": float(sfo1_mhz), "O1": (float(sfo1_mhz) - float(bf1_mhz)) * 1e6, "NUC1": nucleus,
        "NUC2": "1H", "BF2": float(bf1_mhz) / get_isotope(nucleus).frequency_ratio, "MASR": float(mas_hz),
        "BYTORDA": 0, "DTYPA": 0, "DECIM": 1, "DSPFVS": 20, "GRPDLY": 0, "AQ_mod": 3, "PULPROG": pulprog,
        "NS": 1, "DS": 0, "RG": 1, "DATE": 0,
        "ORIGIN": "respdor synthetic data", "OWNER": "respdor", "_comments": ["$$ written by respdor.spectra.bruker.write_bruker"],
        "_coreheader": ["##TITLE= Parameter file", "##JCAMPDX= 5.0"],
    }
    acqus.update(extra_acqus or {})
    dic = {"acqus": acqus}
    if d.ndim == 2:
        dic["acqu2s"] = {"TD": d.shape[0], "SW_h": float(indirect_sw_hz), "NUC1": nucleus, "FnMODE": 1,
                         "ORIGIN": "respdor synthetic data",
                         "OWNER": "respdor", "BF1": float(bf1_mhz), "SFO1": float(sfo1_mhz), "_comments": [],
                         "_coreheader": ["##TITLE= Parameter file", "##JCAMPDX= 5.0"]}
    path.mkdir(parents=True)
    # Keep the scaled values inside int32 after rounding.
    ng.bruker.write(str(path), dic, np.round(d * scale), overwrite=False, write_prog=False, write_procs=False)
    pdir = path / "pdata" / "1"
    pdir.mkdir(parents=True)
    procs = {"SF": float(bf1_mhz), "SI": n, "SW_p": float(sw_hz),
             "OFFSET": ((float(sfo1_mhz) * 1e6 + sw_hz / 2.0) - float(bf1_mhz) * 1e6) / float(bf1_mhz),
             "ORIGIN": "respdor synthetic data", "OWNER": "respdor",
             "_comments": [], "_coreheader": ["##TITLE= Parameter file", "##JCAMPDX= 5.0"]}
    ng.bruker.write_jcamp(procs, str(pdir / "procs"))
    if vclist is not None:
        (path / "vclist").write_text("".join(f"{int(v)}\n" for v in vclist))
    if title:
        (pdir / "title").write_text(title + "\n")
    if pulseprogram:
        (path / "pulseprogram").write_text(pulseprogram)
    return path
