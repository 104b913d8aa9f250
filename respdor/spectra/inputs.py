"""A 1D spectrum for the fitting commands, from a text file or a processed Bruker FID.

Everything the data carry is used and reported: the observe frequency (SFO1) and the reference
(procs SF or BF1), the nucleus, the stored phase, the recorded MAS rate; the processing applied
(DC offset, apodisation, phase and its source, baseline) is listed in ``notes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError

__all__ = ["Spectrum1D", "load_spectrum", "resolve_larmor"]


@dataclass
class Spectrum1D:
    """A real 1D spectrum on an ascending ppm axis.

    Attributes
    ----------
    ppm, y : ndarray
        Axis (ppm, ascending) and real spectrum.
    freq_hz : ndarray or None
        Offsets from the carrier in Hz (Bruker data only).
    larmor_hz : float or None
        Observe frequency SFO1 in Hz (Bruker data only).
    nucleus : str or None
        From the data (NUC1 or inferred from BF1).
    mas_recorded_hz : float or None
        acqus MASR (not trusted; see :mod:`respdor.spectra.mas`).
    processing : Processed1D or None
    notes : list of str
    """

    ppm: np.ndarray
    y: np.ndarray
    freq_hz: np.ndarray | None
    larmor_hz: float | None
    nucleus: str | None
    mas_recorded_hz: float | None
    processing: object = None
    notes: list = field(default_factory=list)

    def freq_axis(self, larmor_hz: float) -> np.ndarray:
        """Frequency axis in Hz (from the data, or ppm x larmor for text spectra)."""
        if self.freq_hz is not None:
            return self.freq_hz
        return self.ppm * larmor_hz * 1e-6


def load_spectrum(path, lb_hz: float = 0.0, phase="stored", baseline_order=None, dc: bool = True,
                  zero_fill: int = 2, lp_first: int | None = None) -> Spectrum1D:
    """Read a text spectrum (ppm, intensity) or process a Bruker 1D FID.

    Parameters
    ----------
    path : str or Path
        Text file or Bruker experiment directory.
    lb_hz : float
        Exponential line broadening in Hz (Bruker data).
    phase : 'stored', 'auto' or (PHC0, PHC1)
        See :func:`respdor.spectra.processing.process_fid`.
    baseline_order : int or None
        Polynomial baseline correction order (None: none).
    dc : bool
        Remove the receiver DC offset.
    zero_fill : int
        Zero-fill factor.
    lp_first : int or None
        Leading FID points replaced by backward linear prediction (None: automatic, 0: none;
        see :func:`respdor.spectra.processing.process_fid`).

    Returns
    -------
    Spectrum1D
    """
    p = Path(path)
    if p.is_dir():
        from .bruker import read_bruker
        from .processing import process_fid

        ds = read_bruker(p)
        if ds.data.ndim != 1:
            raise UserError(f"{p}: a 2D data set (ser, {ds.data.shape[0]} rows); this command needs a 1D fid "
                            "(use pass-process or integrate for 2D data)")
        pr = process_fid(ds, lb_hz=lb_hz, zero_fill=zero_fill, phase=phase, dc=dc, baseline_order=baseline_order,
                         lp_first=lp_first)
        return Spectrum1D(pr.ppm, pr.real, pr.freq_hz, ds.larmor_hz, ds.nucleus, ds.mas_hz_recorded, pr,
                          list(ds.notes) + pr.notes)
    from .textio import read_spectrum_text

    x, y = read_spectrum_text(p)
    notes = [f"{p}: read as columns ppm, intensity"]
    if baseline_order is not None:
        from .processing import baseline_correct

        y, _, m = baseline_correct(y, baseline_order)
        notes.append(f"baseline: order-{baseline_order} polynomial through {int(m.sum())} signal-free points subtracted")
    return Spectrum1D(np.asarray(x, float), np.asarray(y, float), None, None, None, None, None, notes)


def resolve_larmor(data_hz, larmor_hz=None, field_t=None, nucleus=None, data_nucleus=None):
    """The observe frequency to use, from the data when they carry it.

    Returns
    -------
    larmor_hz : float
    source : str
    warnings : list of str
        A given value that disagrees with the data by more than 0.1 %, or a nucleus mismatch.
    """
    from .referencing import larmor_from_field

    warn = []
    if nucleus and data_nucleus and nucleus != data_nucleus:
        warn.append(f"--nucleus {nucleus} but the data set observes {data_nucleus}; using the data")
    given, how = None, ""
    if larmor_hz:
        given, how = float(larmor_hz), "--larmor"
    elif field_t:
        nuc = data_nucleus or nucleus
        if not nuc:
            raise UserError("--field needs --nucleus (the observed isotope, e.g. 113Cd)")
        try:
            given, how = larmor_from_field(nuc, field_t), f"--field {field_t:g} T (Xi x 1H frequency)"
        except ValueError as exc:
            raise UserError(str(exc)) from None
    if data_hz:
        if given is not None and abs(given - data_hz) > 1e-3 * data_hz:
            warn.append(f"{how} gives {given / 1e6:.4f} MHz but the data set's SFO1 is {data_hz / 1e6:.4f} MHz "
                        f"({(given / data_hz - 1) * 100:+.2f} %): using SFO1")
        return float(data_hz), "SFO1 from acqus", warn
    if given is None:
        raise UserError("give the observe frequency: --larmor 88.75MHz, or --nucleus 113Cd --field 9.4")
    return given, how, warn
