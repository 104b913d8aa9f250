"""Zipped Bruker experiments uploaded to the app, and the integrate fields of the Fit page, as a user
can get them wrong: each refused with one line naming the upload or the field, nothing kept of a
refused archive, nothing unpacked outside the upload's own folder."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from respdor.app import uploads
from respdor.app.seriesform import SeriesForm
from respdor.app.uploads import UploadFolder, find_experiment
from respdor.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
SERIES = ROOT / "data" / "cpmg_111Cd_synthetic" / "respdor"


def zipped(members, symlink=None):
    """A zip archive in memory: ``members`` name -> bytes; ``symlink`` (name, target) adds a link."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink[0])
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, symlink[1])
    return buffer.getvalue()


def experiment(prefix="12/"):
    return {prefix + p.name: p.read_bytes() for p in SERIES.iterdir() if p.is_file()}


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    f = UploadFolder()
    yield f
    f.remove()


def left(folder):
    return sorted(str(p.relative_to(folder.path)) for p in folder.path.rglob("*"))


@pytest.mark.parametrize("member", ["../evil.txt", "12/../../evil.txt", "/tmp/evil.txt", "\\\\server\\evil.txt",
                                    "C:evil.txt", "..\\evil.txt"])
def test_a_member_that_would_land_outside_is_refused_before_anything_is_written(folder, tmp_path, member):
    with pytest.raises(UserError) as err:
        folder.save_zip("exp.zip", zipped({**experiment(), member: b"x"}))
    text = str(err.value)
    assert text.startswith("exp.zip: the member ") and "outside its folder" in text and "\n" not in text
    assert left(folder) == [] and not (tmp_path / "evil.txt").exists()


def test_a_symbolic_link_member_is_refused(folder):
    with pytest.raises(UserError, match=r"^exp.zip: the member '12/vclist' would be unpacked outside"):
        folder.save_zip("exp.zip", zipped({"12/acqus": b"##$X=1\n"}, symlink=("12/vclist", "/etc/passwd")))
    assert left(folder) == []


def test_an_archive_that_unpacks_beyond_the_limit_is_refused(folder, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_UNZIPPED_BYTES", 1024 * 1024)
    bomb = zipped({"12/ser": bytes(3 * 1024 * 1024)})  # 3 MB of zeros: a few kB zipped
    assert len(bomb) < 20_000
    with pytest.raises(UserError, match=r"^exp.zip: unpacks to more than 1 MB .*refused"):
        folder.save_zip("exp.zip", bomb)
    assert left(folder) == []


def test_an_archive_whose_header_understates_its_size_is_refused_and_not_written_beyond_it(folder, monkeypatch):
    # the declared size passes the limit; zipfile then reads no more than the header says and the
    # checksum of the short read fails (the byte count while writing is a second guard)
    monkeypatch.setattr(uploads, "MAX_UNZIPPED_BYTES", 1024 * 1024)
    archive = zipfile.ZipFile(io.BytesIO(zipped({"12/ser": bytes(3 * 1024 * 1024)})))
    archive.infolist()[0].file_size = 10  # as a forged header says
    with pytest.raises(UserError, match=r"^exp.zip: cannot unpack \(Bad CRC-32 for file '12/ser'\)$"):
        uploads._unpack("exp.zip", archive, folder.path, uploads.MAX_UNZIPPED_BYTES)
    assert (folder.path / "12" / "ser").stat().st_size <= 10


def test_too_many_members_are_refused(folder, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_ZIP_MEMBERS", 5)
    with pytest.raises(UserError, match=r"^exp.zip: holds 6 files, more than the 5 "):
        folder.save_zip("exp.zip", zipped({f"12/f{i}": b"x" for i in range(6)}))
    assert left(folder) == []


@pytest.mark.parametrize("data", [b"", b"not a zip at all\n", b"\x89PNG\r\n\x1a\n" + bytes(200),
                                  zipped(experiment())[:-60]])  # truncated: no central directory
def test_a_file_that_is_not_a_zip_is_named(folder, data):
    with pytest.raises(UserError, match=r"^exp.zip: not a zip archive \(a Bruker experiment is uploaded as a "
                                        r"\.zip of its directory\)$"):
        folder.save_zip("exp.zip", data)
    assert left(folder) == []


def test_a_zip_over_the_upload_limit_is_refused_by_its_size(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    small = UploadFolder(limit=1024 * 1024)
    with pytest.raises(UserError, match=r"^exp.zip: 1.5 MB is more than the upload limit of 1 MB"):
        small.save_zip("exp.zip", bytes(1536 * 1024))
    assert list(small.path.iterdir()) == []
    small.remove()


@pytest.mark.parametrize("members, words", [
    ({"notes.txt": b"hello"}, "exp.zip: no Bruker pseudo-2D series (acqus and ser) in the archive"),
    ({**experiment("1/"), **experiment("2/")}, "exp.zip: holds 2 Bruker experiments (1, 2); zip one experiment"),
])
def test_an_archive_without_exactly_one_series_is_named(folder, members, words):
    unpacked = folder.save_zip("exp.zip", zipped(members))
    with pytest.raises(UserError) as err:
        find_experiment(unpacked, "ser", "exp.zip")
    assert str(err.value).startswith(words)


def test_a_good_archive_unpacks_inside_its_own_folder(folder):
    unpacked = folder.save_zip("exp.zip", zipped(experiment()))
    assert folder.path in unpacked.parents
    found = find_experiment(unpacked, "ser", "exp.zip")
    assert found == unpacked / "12" and (found / "ser").read_bytes() == (SERIES / "ser").read_bytes()


def series(**fields):
    base = dict(path=str(SERIES), label="data/cpmg_111Cd_synthetic/respdor", region="-80 -10",
                noise_region="100 200", mas="10kHz", periods_per_count="2", cpmg="sum")
    return SeriesForm(**{**base, **fields})


@pytest.mark.parametrize("fields, words", [
    ({"region": "-80"}, "Region (ppm): give two numbers, low and high"),
    ({"noise_region": "a b"}, "Noise region (ppm): cannot read 'a' as a number"),
    ({"mas": ""}, "MAS rate: required to integrate a series"),
    ({"mas": "fast"}, "MAS rate"),
    ({"periods_per_count": "nan"}, "Periods per count: 'nan' is not a finite number"),
    ({"vclist": "../../../../etc/passwd"}, "vclist: '../../../../etc/passwd' is not a file of the experiment"),
    ({"n_echoes": "ten"}, "Echoes: cannot read 'ten' as a whole number"),
    ({"echo_period": "-1ms"}, "Echo period"),
])
def test_a_mistake_in_an_integrate_field_is_one_line_naming_the_field(fields, words):
    with pytest.raises(UserError) as err:
        series(**fields).call_arguments()
    assert str(err.value).startswith(words) and "\n" not in str(err.value)


@pytest.mark.parametrize("fields, words", [
    ({"periods_per_count": "1.5"}, "Periods per count 1.5: must be a whole number > 0"),
    ({"region": "500 600"}, "integration region 500..600 ppm holds 0 points"),
    ({"cpmg": "", "n_echoes": "4"}, "Echoes needs CPMG sum or CPMG spikelet"),
])
def test_a_value_the_library_refuses_is_said_with_the_page_field_names(fields, words):
    import respdor
    from respdor.app.fitform import in_field_words

    with pytest.raises(UserError) as err:
        respdor.integrate(**series(**fields).call_arguments())
    assert in_field_words(err.value).startswith(words)


@pytest.mark.parametrize("fields, words", [
    ({"lb": "20Hz"}, "Line broadening: acts on a Bruker FID only; a text spectrum is used as it was processed"),
    ({"phase": "auto"}, "Phase: acts on a Bruker FID only"),
    ({"baseline": "two"}, "Baseline order: cannot read 'two' as a whole number"),
    ({"bruker": True, "phase": "sideways"}, "Phase: give 'stored', 'auto' or two numbers PHC0 PHC1 (degrees), not "
                                            "'sideways'"),
    ({"bruker": True, "phase": "10 x"}, "Phase: cannot read '10 x' as numbers"),
    ({"bruker": True, "lb": "-3Hz"}, "Line broadening"),
])
def test_a_mistake_in_a_processing_field_of_the_spectra_page_names_the_field(fields, words):
    from respdor.app.spectraform import SpectraForm

    with pytest.raises(UserError) as err:
        SpectraForm(path="x", label="x", sites="-50", **fields).call_arguments()
    assert str(err.value).startswith(words) and "\n" not in str(err.value)
