"""Bruker reading: synthetic fixtures and the measured third-party sets (bundled; two optional extras)."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from respdor.errors import DataFileError
from respdor.spectra.bruker import read_bruker, read_bruker_processed, read_vclist
from respdor.spectra.mas import infer_mas_rate
from respdor.spectra.processing import spectrum_1d

DATA = Path(__file__).resolve().parent / "data"
from realdata import EXTRA, REAL, needs_extra


def test_fixture_1d_axis_nucleus_and_stale_masr():
    ds = read_bruker(DATA / "bruker_113Cd_1d")
    assert ds.nucleus == "113Cd"
    assert ds.data.shape == (512,)
    assert ds.mas_hz_recorded == 5000.0
    f, s = spectrum_1d(ds.data, ds.dwell_s, lb_hz=50, zero_fill=4, phase0_deg=None)
    ppm = ds.ppm_axis(f.size)
    assert ppm[np.argmax(s.real)] == pytest.approx(-300.0, abs=0.5)
    mas = infer_mas_rate(f, np.abs(s))
    assert mas == pytest.approx(8000.0, abs=30.0)  # MASR 5000 is stale


def test_errors_are_clear(tmp_path):
    with pytest.raises(DataFileError, match="not found"):
        read_bruker(tmp_path / "nothing")
    bad = tmp_path / "exp"
    shutil.copytree(DATA / "bruker_113Cd_1d", bad)
    with pytest.raises(DataFileError, match="pdata"):
        read_bruker(bad / "pdata" / "1")
    # TD larger than the fid: must raise, not silently reshape.
    text = (bad / "acqus").read_text().replace("##$TD= 1024", "##$TD= 4096")
    assert "4096" in text
    (bad / "acqus").write_text(text)
    with pytest.raises(DataFileError, match="TD"):
        read_bruker(bad)
    (bad / "acqus").unlink()
    with pytest.raises(DataFileError, match="acqus not found"):
        read_bruker(bad)


def test_vclist_errors(tmp_path):
    p = tmp_path / "vclist"
    p.write_text("2\n4\nfour\n")
    with pytest.raises(DataFileError, match=r"vclist:3: loop counter 'four'"):
        read_vclist(p)
    p.write_text("2\n4.5\n")
    with pytest.raises(DataFileError, match="integer"):
        read_vclist(p)


def test_real_113cd_missing_nucleus_and_unknown_filter():
    ds = read_bruker(REAL / "bruker_113Cd_solution_CdSn_eichele_spectrochempy" / "100")
    assert ds.nucleus == "113Cd"
    text = " ".join(ds.notes)
    assert "inferred as 113Cd" in text and "500.13 MHz" in text
    # nmrglue has no table entry; the FID itself peaks at point 0, so no delay remains in it.
    assert "not in the lookup table" in text and "DSPFVS = 0" in text and "peaks at point 0" in text
    assert ds.group_delay_removed
    assert ds.data.shape == (956,)


def test_real_31p_broken_procs_and_stale_masr():
    path = REAL / "bruker_31P_MAS_Ba2P2O7_mrsimulator" / "ba2p2o7_zg"
    ds = read_bruker(path)
    assert any("procs SF" in n and "disagrees" in n for n in ds.notes)
    assert ds.reference_mhz == pytest.approx(162.165852)
    with pytest.raises(DataFileError, match="reprocess"):
        read_bruker_processed(path)
    f, s = spectrum_1d(ds.data, ds.dwell_s, lb_hz=20, zero_fill=2, phase0_deg=None)
    mas = infer_mas_rate(f, np.abs(s))
    assert ds.mas_hz_recorded == 4200.0
    assert mas == pytest.approx(12500.0, rel=0.002)


@pytest.mark.parametrize("name, rate", [("glycine", None), ("tyrosine", 10000.0)])
def test_real_13c_mas_rate_from_sidebands(name, rate):
    # Glycine shows one C=O sideband pair only (a chain of three peaks): no rate is inferred.
    ds = read_bruker(REAL / "bruker_13C_CPMAS_aminoacids_spinplots" / name)
    f, s = spectrum_1d(ds.data, ds.dwell_s, lb_hz=20, zero_fill=2, phase0_deg=None)
    got = infer_mas_rate(f, np.abs(s))
    assert got is None if rate is None else got == pytest.approx(rate, rel=0.006)


def test_real_glycine_axis_matches_topspin_1r():
    path = REAL / "bruker_13C_CPMAS_aminoacids_spinplots" / "glycine"
    ppm_1r, spec_1r, notes = read_bruker_processed(path)
    assert ppm_1r[np.argmax(spec_1r)] == pytest.approx(176.5, abs=0.2)  # the title's referencing
    ds = read_bruker(path)
    f, s = spectrum_1d(ds.data, ds.dwell_s, lb_hz=20, zero_fill=2, phase0_deg=None)
    ppm = ds.ppm_axis(f.size)
    y = np.abs(s)
    hi = ppm > 100
    assert ppm[hi][np.argmax(y[hi])] == pytest.approx(176.5, abs=0.3)
    lo = (ppm > 20) & (ppm < 70)
    assert ppm[lo][np.argmax(y[lo])] == pytest.approx(43.7, abs=0.3)


@needs_extra("bruker_13C_CP_alginate_xwinnmr_spectrochempy")
@needs_extra("bruker_2D_1H13C_LGHETCOR_tyrosine_spinplots")
def test_real_xwinnmr_and_2d_ser():
    ds = read_bruker(EXTRA / "bruker_13C_CP_alginate_xwinnmr_spectrochempy" / "94")
    assert ds.nucleus == "13C" and ds.mas_hz_recorded is None
    assert ds.data.ndim == 1 and ds.data.size > 1900
    ds2 = read_bruker(EXTRA / "bruker_2D_1H13C_LGHETCOR_tyrosine_spinplots" / "43")
    assert ds2.data.shape[0] == 256 and ds2.data.ndim == 2
    assert any("no procs" in n for n in ds2.notes)
