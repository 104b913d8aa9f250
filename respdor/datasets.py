"""Measured data sets by name: real third-party REDOR curves and Bruker spectra.

Most sets ship inside respdor (a few MB in all); the largest is fetched on first use from its
public origin with pooch, checked against its SHA-256 checksum and kept in the user cache. Each
set has a ``SOURCE.md`` (origin, commit, licence, parameters, known traps) and a ``LICENSE.md``
beside its files; the licence of a set applies to its files, respdor's own code is BSD-3-Clause.

>>> from respdor import datasets
>>> folder = datasets.path("cpmas-13c-glycine")          # a Bruker experiment folder
>>> [row["name"] for row in datasets.table()][:2]
['redor-interfaces', 'cpmas-13c-glycine']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError

__all__ = ["Dataset", "DATASETS", "names", "path", "source", "table", "bundled_root"]


@dataclass(frozen=True)
class Dataset:
    """One measured data set.

    Attributes
    ----------
    name : str
        Its name in :data:`DATASETS`.
    folder : str
        The folder of the set (relative to :func:`bundled_root` for bundled sets).
    subfolder : str
        The part of ``folder`` that is the data itself (a Bruker experiment number, or ``""``).
    kind : str
        What it is, in a few words.
    licence : str
        SPDX-style licence of the files.
    origin : str
        Repository (and commit) the files come from.
    fetched : dict
        For a set that is not bundled: file name -> SHA-256 of each file, fetched from ``url``.
    url : str
        Base address of the fetched files (empty for a bundled set).
    """

    name: str
    folder: str
    subfolder: str
    kind: str
    licence: str
    origin: str
    fetched: dict = field(default_factory=dict)
    url: str = ""

    @property
    def bundled(self) -> bool:
        return not self.fetched


_SPINPLOTS = "https://github.com/nuts-org/spinplots @ 77efa200"
_AMINO = "bruker_13C_CPMAS_aminoacids_spinplots"

#: The data sets by name.
DATASETS: dict[str, Dataset] = {d.name: d for d in (
    Dataset("redor-interfaces", "redor_curves_INTERFACES_perras", "examples",
            "23 measured REDOR / S-REDOR curves (13C{29Si}, 13C{15N}, 29Si{15N}, 1H{19F}), time in s",
            "GPL-3.0-or-later", "https://github.com/fperras/INTERFACES @ a2f8fb49"),
    Dataset("cpmas-13c-glycine", _AMINO, "glycine", "Bruker 1D 13C CP-MAS of glycine, 10 kHz, 9.4 T",
            "MIT", _SPINPLOTS),
    Dataset("cpmas-13c-alanine", _AMINO, "alanine", "Bruker 1D 13C CP-MAS of L-alanine, 10 kHz, 9.4 T",
            "MIT", _SPINPLOTS),
    Dataset("cpmas-13c-tyrosine", _AMINO, "tyrosine", "Bruker 1D 13C CP-MAS of tyrosine, 10 kHz, 9.4 T",
            "MIT", _SPINPLOTS),
    Dataset("cpmas-13c-arginine", _AMINO, "arginine", "Bruker 1D 13C CP-MAS of arginine, 12 kHz, 9.4 T",
            "MIT", _SPINPLOTS),
    Dataset("mas-31p-ba2p2o7", "bruker_31P_MAS_Ba2P2O7_mrsimulator", "ba2p2o7_zg",
            "Bruker 1D 31P MAS of Ba2P2O7, about 12.5 kHz (acqus MASR stale), 9.4 T",
            "BSD-3-Clause", "https://github.com/deepanshs/mrsimulator @ 0626b9de"),
    Dataset("solution-113cd-cdsn", "bruker_113Cd_solution_CdSn_eichele_spectrochempy", "100",
            "Bruker 1D 113Cd{1H} of a Cd-Sn complex in solution (NUC1 not recorded)",
            "public domain", "https://github.com/spectrochempy/spectrochempy_data @ 9507993b"),
    Dataset("lghetcor-1h13c-tyrosine", "lghetcor-1h13c-tyrosine", "43",
            "Bruker 2D 1H-13C LG-HETCOR of tyrosine (256 x 1408), 10 kHz, 2.9 MB: fetched on first use",
            "MIT", _SPINPLOTS,
            fetched={
                "acqu": "a9b8d8c9a6c6bd396ace2058529848d267f46377cad614d2b9e02b26a4128ffb",
                "acqu2": "96f358fc831a95ff787d19d6f922ec482442eb2ec80be1b2387319b255dbcc89",
                "acqu2s": "fc3be44fc5dc2436c98f6fc115d5e26ffdcb0095f1a02b28a084c40e483f0082",
                "acqus": "fd848af66035fd13f101e17b2f38b529d8deb87bfc81a014adfc820c7e61b435",
                "pulseprogram.precomp": "95c1eacc3828359f64d49f51034cae3583c5b155d953a9dc5ed4fe1a8805d462",
                "ser": "1763588602f035fe132709c6f9c29a5e40401a241754d1ee61e518b580874c99",
                "specpar": "d08b24e04f35ed499284eb3c7479eac0982de1190d3902b2e735e1b33725e92a",
            },
            url="https://raw.githubusercontent.com/nuts-org/spinplots/"
                "77efa200d92e65c97a88fbd68756c9588586b714/data/2D/43/"),
)}


def names() -> list[str]:
    """The names of the data sets, bundled first."""
    return list(DATASETS)


def bundled_root() -> Path:
    """The folder that holds the bundled sets (inside the installed package, or ``data/realdata`` of
    a source checkout)."""
    from .examples import example_path

    return example_path("realdata/README.md").parent


def _get(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise UserError(f"no data set named {name!r}; known: {', '.join(DATASETS)}") from None


def path(name: str, downloader=None) -> Path:
    """The folder of data set ``name`` (a Bruker experiment folder, or the folder of the curves).

    Parameters
    ----------
    name : str
        One of :func:`names`.
    downloader : callable, optional
        For a fetched set: pooch's downloader ``(url, output_file, pooch)`` (default: HTTPS).

    Raises
    ------
    UserError
        An unknown name, or a fetched set that cannot be downloaded (no network): the message
        names the address.
    ImportError
        A fetched set without pooch installed (``pip install "respdor[datasets]"``).
    """
    data = _get(name)
    if data.bundled:
        return bundled_root() / data.folder / data.subfolder
    return _fetch(data, downloader)


def _fetch(data: Dataset, downloader=None) -> Path:
    try:
        import pooch
    except ImportError:
        raise ImportError(f'data set {data.name!r} is fetched on first use and needs pooch: '
                          f'pip install "respdor[datasets]"') from None
    import platformdirs

    folder = Path(platformdirs.user_cache_dir("respdor")) / "datasets" / data.folder / data.subfolder
    for file_name, sha256 in data.fetched.items():
        try:
            pooch.retrieve(data.url + file_name, known_hash=f"sha256:{sha256}", fname=file_name, path=folder,
                           downloader=downloader, progressbar=False)
        except ValueError as err:  # pooch: the checksum does not match
            raise UserError(f"data set {data.name!r}: {file_name} from {data.url} does not match its "
                            f"checksum ({err}); nothing was kept") from None
        except OSError as err:
            raise UserError(f"data set {data.name!r}: cannot fetch {data.url}{file_name} ({err}); "
                            "it needs a network connection the first time") from None
    return folder


def source(name: str) -> str:
    """The ``SOURCE.md`` note of a bundled set: origin, licence, parameters and known traps."""
    data = _get(name)
    if not data.bundled:
        return f"{data.kind}\nOrigin: {data.origin}\nLicence: {data.licence}\nFetched from {data.url}\n"
    return (bundled_root() / data.folder / "SOURCE.md").read_text(encoding="utf-8")


def _size_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def table() -> list[dict]:
    """One row per data set: name, kind, size (bytes; of the bundled files), licence, origin, where."""
    rows = []
    for data in DATASETS.values():
        where = "bundled" if data.bundled else "fetched on first use (pooch, checksummed)"
        size = _size_bytes(bundled_root() / data.folder / data.subfolder) if data.bundled else None
        rows.append({"name": data.name, "kind": data.kind, "size_bytes": size, "licence": data.licence,
                     "origin": data.origin, "where": where})
    return rows
