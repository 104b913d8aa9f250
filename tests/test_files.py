"""respdor.files: the one reader of user text and the one guard of outputs."""

from __future__ import annotations

import os

import pytest

from respdor.errors import DataFileError, UserError
from respdor.files import OutputPlan, atomic_path, atomic_write, read_text, write_output


def test_read_text_same_for_bom_crlf_cr(tmp_path):
    variants = [b"a,b\n1,2\n", b"\xef\xbb\xbfa,b\n1,2\n", b"a,b\r\n1,2\r\n", b"\xef\xbb\xbfa,b\r\n1,2\r\n", b"a,b\r1,2\r"]
    texts = []
    for i, data in enumerate(variants):
        p = tmp_path / f"f{i}.csv"
        p.write_bytes(data)
        texts.append(read_text(p))
    assert texts == ["a,b\n1,2\n"] * len(variants)


@pytest.mark.parametrize("data, message", [(b"\x00\x01\x02", "is a binary file"), (b"ok\n\xff\xfe bad", "not UTF-8")])
def test_read_text_names_binary_files(tmp_path, data, message):
    p = tmp_path / "x.txt"
    p.write_bytes(data)
    with pytest.raises(DataFileError, match=message):
        read_text(p, "curve file")
    with pytest.raises(DataFileError, match="is a directory, not a curve file"):
        read_text(tmp_path, "curve file")


@pytest.mark.parametrize("opener", ["atomic_write", "atomic_path"])
def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, opener):
    target = tmp_path / "result.csv"
    target.write_text("old\n")
    with pytest.raises(KeyboardInterrupt):
        if opener == "atomic_write":
            with atomic_write(target) as fh:
                fh.write("half of the new")
                raise KeyboardInterrupt
        else:
            with atomic_path(target) as tmp:
                with open(tmp, "w") as fh:
                    fh.write("half of the new")
                raise KeyboardInterrupt
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.csv"]


def test_written_file_has_the_usual_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        write_output(tmp_path / "r.json", "{}\n")
    finally:
        os.umask(mask)
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o644


def test_plan_refuses_unwritable_directory(tmp_path, monkeypatch):
    # Running as root, chmod cannot make a directory unwritable; the check itself is what is tested.
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    plan = OutputPlan()
    plan.add(tmp_path / "x.csv", "--csv")
    with pytest.raises(UserError, match=r"--csv .*x\.csv: directory .* is not writable"):
        plan.check()


def test_plan_protects_the_data_set_of_an_input_file(tmp_path):
    ds = tmp_path / "1"
    ds.mkdir()
    (ds / "acqus").write_text("##TITLE=\n")
    (ds / "vclist").write_text("1\n")
    plan = OutputPlan(inputs=[ds / "vclist"])
    plan.add(ds / "curve.csv", "--output")
    with pytest.raises(UserError, match="inside the input data set"):
        plan.check()


def test_no_files_plans_nothing(tmp_path):
    plan = OutputPlan(no_files=True)
    assert plan.add(tmp_path / "x.csv", "--csv") is None
    plan.add_directory(tmp_path / "new", "--output-dir")
    plan.check()
    plan.make_directories()
    assert not (tmp_path / "new").exists()


def test_output_directory_is_created_only_when_writing(tmp_path):
    plan = OutputPlan()
    plan.add_directory(tmp_path / "a" / "b", "--output-dir")
    path = plan.add(tmp_path / "a" / "b" / "r.txt", "--output-dir")
    plan.check()
    assert not (tmp_path / "a").exists()
    plan.write_text(path, "x\n")
    assert path.read_text() == "x\n"


def test_library_writers_use_the_guard(tmp_path):
    from respdor.spectra.textio import write_json, write_table_csv

    src = tmp_path / "in.csv"
    src.write_text("keep\n")
    with pytest.raises(UserError, match="refusing to overwrite"):
        write_table_csv(src, [{"a": 1}], inputs=[src])
    with pytest.raises(UserError, match="does not exist"):
        write_json(tmp_path / "missing" / "x.json", {"a": 1})
    assert src.read_text() == "keep\n"
