"""respdor.datasets: the measured sets by name, their notes and licences, and the fetched set."""

import shutil
from pathlib import Path

import pytest

from respdor import datasets
from respdor.errors import UserError

from realdata import EXTRA


@pytest.mark.parametrize("name", [n for n, d in datasets.DATASETS.items() if d.bundled])
def test_every_bundled_set_has_its_files_its_source_and_its_licence(name):
    folder = datasets.path(name)
    assert folder.is_dir() and any(folder.iterdir())
    data = datasets.DATASETS[name]
    home = datasets.bundled_root() / data.folder
    assert (home / "LICENSE.md").is_file()
    assert data.origin.split()[0] in datasets.source(name)


def test_bruker_sets_read_as_bruker_and_curves_as_curves():
    from respdor import read_curve
    from respdor.spectra.bruker import read_bruker

    assert read_bruker(datasets.path("mas-31p-ba2p2o7")).nucleus == "31P"
    curve = read_curve(datasets.path("redor-interfaces") / "ZrOtBu" / "methyls.txt", time_unit="s")
    assert len(curve.time_s) == 8 and 3e-3 < curve.time_s[0] < 4e-3


def test_unknown_name_is_one_line_naming_the_known_ones():
    with pytest.raises(UserError, match="no data set named 'glycine'; known: redor-interfaces, cpmas-13c-glycine"):
        datasets.path("glycine")


def test_table_lists_sizes_licences_and_where():
    rows = {r["name"]: r for r in datasets.table()}
    assert rows["mas-31p-ba2p2o7"]["licence"] == "BSD-3-Clause" and rows["mas-31p-ba2p2o7"]["size_bytes"] > 100_000
    assert rows["lghetcor-1h13c-tyrosine"]["where"].startswith("fetched")
    assert sum(r["size_bytes"] or 0 for r in rows.values()) < 3_000_000  # what a wheel carries


HETCOR = EXTRA / "bruker_2D_1H13C_LGHETCOR_tyrosine_spinplots" / "43"


@pytest.mark.skipif(not HETCOR.is_dir(), reason="no local copy of the fetched set to serve as its origin")
def test_fetched_set_is_checked_against_its_checksums_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    served = []

    def from_local_copy(url, output_file, pooch):
        served.append(url.rsplit("/", 1)[-1])
        shutil.copyfile(HETCOR / url.rsplit("/", 1)[-1], output_file)

    folder = datasets.path("lghetcor-1h13c-tyrosine", downloader=from_local_copy)
    assert Path(folder, "ser").stat().st_size == 2883584 and len(served) == 7
    datasets.path("lghetcor-1h13c-tyrosine", downloader=from_local_copy)
    assert len(served) == 7  # cached: nothing fetched again


def test_fetched_file_with_a_wrong_checksum_is_refused_and_not_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def corrupt(url, output_file, pooch):
        Path(output_file).write_bytes(b"not the file")

    with pytest.raises(UserError, match="acqu from .* does not match its checksum"):
        datasets.path("lghetcor-1h13c-tyrosine", downloader=corrupt)
    assert not list((tmp_path / "cache").rglob("acqu"))


def test_command_lists_sets_prints_a_path_and_refuses_an_unknown_name(capsys):
    from respdor.cli import main

    assert main(["datasets"]) == 0
    assert "mas-31p-ba2p2o7" in capsys.readouterr().out
    assert main(["datasets", "path", "cpmas-13c-glycine"]) == 0
    assert Path(capsys.readouterr().out.strip()) == datasets.path("cpmas-13c-glycine")
    assert main(["datasets", "path", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("respdor: error: no data set named 'nope'") and err.count("\n") == 1
