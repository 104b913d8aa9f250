"""Unified-scale referencing and the secondary-reference table (respdor.spectra.referencing)."""

import pytest

from respdor.errors import DataFileError, UserError
from respdor.spectra.referencing import (
    correction_from_secondary,
    frequency_hz,
    infer_nucleus,
    load_secondary_references,
    shift_ppm,
)


def test_unified_scale_round_trip():
    nu_tms = 400.13e6
    ref = 0.22193175 * nu_tms  # IUPAC Xi(113Cd)
    assert shift_ppm(ref, "113Cd", nu_tms) == pytest.approx(0.0, abs=1e-9)
    nu = frequency_hz(-596.9, "113Cd", nu_tms)
    assert nu == pytest.approx(ref * (1 - 596.9e-6))
    assert shift_ppm(nu, "113Cd", nu_tms) == pytest.approx(-596.9, abs=1e-9)
    assert shift_ppm(0.21215480 * nu_tms, "111Cd", nu_tms) == pytest.approx(0.0, abs=1e-9)


def test_secondary_table_and_correction(tmp_path):
    rows = load_secondary_references()
    acac = [r for r in rows if r.compound == "Cd(acac)2"][0]
    assert acac.citation and not acac.verified
    corr, ref = correction_from_secondary(-590.0, "Cd(acac)2")
    assert corr == pytest.approx(ref.delta_ppm + 590.0)
    own = tmp_path / "refs.csv"
    own.write_text("nucleus,compound,delta_ppm,conditions,citation,verified\n113Cd,MyRef,-10.0,solid,lab book p.3,yes\n")
    corr, ref = correction_from_secondary(-12.0, "myref", path=own)
    assert corr == pytest.approx(2.0) and ref.verified
    with pytest.raises(UserError, match="no secondary reference"):
        correction_from_secondary(0.0, "CdO", path=own)
    own.write_text("nucleus,compound,delta_ppm,citation\n113Cd,X,abc,cite\n")
    with pytest.raises(DataFileError, match=r"refs.csv:2: delta_ppm 'abc'"):
        load_secondary_references(own)


def test_infer_nucleus():
    assert infer_nucleus(110.994728)[0][0] == "113Cd"  # Eichele's set, NUC1 = <NONE>
    assert infer_nucleus(162.165852, proton_bf_mhz=400.6) == [("31P", pytest.approx(400.6, abs=1e-3))]
    assert infer_nucleus(100.63037)[0][0] == "13C"
