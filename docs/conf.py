"""Sphinx configuration of the respdor documentation site.

Build (from the repository root, after ``pip install ".[docs]"``)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

``-W`` turns every warning into an error, so a gallery script that fails, a dead reference into
the API or a command the parser no longer knows fails the build (and CI, which runs it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# Document the checkout being built, not whatever copy of respdor happens to be installed.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))
# sphinx-gallery draws the gallery with the non-interactive backend itself; the notebook pages run
# in a Jupyter kernel, which shows figures inline only when no backend is forced on it.
os.environ.pop("MPLBACKEND", None)

import respdor  # noqa: E402

project = "respdor"
author = "respdor developers"
copyright = "respdor developers, BSD-3-Clause"
release = version = respdor.__version__

extensions = [
    "myst_nb",  # MyST Markdown pages, and notebooks written as MyST Markdown executed at build time
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "respdor_cli",
    "respdor_docstrings",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "gallery",  # sphinx-gallery sources; their pages are generated into auto_examples
    "examples",  # stand-alone scripts (python docs/examples/NAME.py), not part of the gallery
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.md5",
    "auto_examples/*.json",
    "**/sg_execution_times.rst",
]

# --- MyST: the existing Markdown pages are used as they are -------------------------------------
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

# --- Notebooks: a page with a `kernelspec` in its front matter is a notebook, executed on every build ---
nb_execution_mode = "force"
nb_execution_timeout = 900
nb_execution_raise_on_error = True  # a cell that fails fails the build
nb_execution_show_tb = True
nb_merge_streams = True
nb_execution_in_temp = True  # a notebook that writes a file writes it outside the sources

# --- API reference ------------------------------------------------------------------------------
autosummary_generate = False  # the API pages are written by hand (docs/api/*.rst)
# undoc-members: a public name (in __all__) without a docstring is still listed, so references to it resolve.
autodoc_default_options = {"members": True, "undoc-members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # numpydoc renders the types written in the docstrings
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# --- Gallery ------------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": ["gallery"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",  # every plot_*.py script is executed during the build
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": False,  # report every broken example, then fail (-W)
    "only_warn_on_example_error": False,
    "matplotlib_animations": False,
    "show_memory": False,
    "write_computation_times": False,
    "image_scrapers": ("gallery_scraper.tight_matplotlib",),
}

# --- HTML ---------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"respdor {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_static_path: list[str] = []
html_show_sourcelink = False
nitpicky = True  # a reference into the API that does not resolve is a warning, hence an error (-W)
# Other projects' objects: CI has no network for intersphinx inventories, so these stay plain text.
nitpick_ignore_regex = [(r"py:.*", r"(numpy|scipy|lmfit|matplotlib|nmrglue|numba)(\..*)?")]
