"""Locate the bundled example data (the repository's ``data/`` directory).

After ``pip install .`` the files are the package ``respdor.example_data``; in a source checkout
or an editable install they are read from ``data/`` beside the ``respdor`` package.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["example_path"]


def example_path(name: str) -> Path:
    """Path of a bundled example file, e.g. ``example_path("respdor_13C27Al_synthetic.csv")``.

    Raises
    ------
    FileNotFoundError
        If the file is in neither place.
    """
    try:
        from importlib import resources

        candidate = resources.files("respdor.example_data") / name
        if candidate.is_file():
            return Path(str(candidate))
    except (ModuleNotFoundError, TypeError):
        pass
    candidate = Path(__file__).resolve().parent.parent / "data" / name
    if candidate.is_file():
        return candidate
    raise FileNotFoundError(f"bundled example {name!r} not found (is the installation complete?)")
