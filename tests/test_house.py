"""The house rules of the code, measured on the source (no import of the packages measured).

* No import circles between the modules of respdor and spinsim, imports inside functions included
  (a circle hidden in a function is still a circle: neither module can be understood alone).
* Layers: spinsim (the engine) never imports respdor; only the command line (respdor.cli, and
  ``python -m respdor``) imports respdor.cli; only the command line imports the one-call jobs
  (respdor.jobs); file readers import no fitting, simulation or processing module.
* No function over :data:`MAX_LINES` lines outside numba kernels.
* No ``print`` (nor ``sys.stdout/stderr.write``) in respdor/ or spinsim/ outside respdor/cli/: the
  library speaks through its results, Python warnings and the progress mechanism (spinsim.progress).
* Every user text file is read through the one text-file guard (spinsim.textfile.read_text, which
  respdor.files.read_text wraps): no other ``open(...)`` for reading, ``Path.read_text()`` or
  ``Path.read_bytes()`` in respdor/ or spinsim/.
* The import-linter contract in pyproject.toml (``[tool.importlinter]``) is kept.

Each rule has an allowlist of today's known offenders. An offender not listed fails; a listed
offender that is gone fails too ("remove it from the list"), so the lists only shrink.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("respdor", "spinsim")
MAX_LINES = 100

#: Import circles (strongly connected groups of modules) known today, each being removed.
KNOWN_CIRCLES = []

#: Modules that read files: they must not import what fits, simulates or processes.
READERS = ("respdor.io", "respdor.files", "respdor.resultio", "respdor.spectra.bruker", "respdor.spectra.textio")
COMPUTING = ("respdor.fitting", "respdor.simfit", "respdor.mcmc", "respdor.optimum", "respdor.adequacy",
             "respdor.simulated", "respdor.library", "respdor.simcache", "respdor.planner", "respdor.structure",
             "respdor.spectra.processing", "respdor.spectra.mas", "respdor.spectra.csa_fit",
             "respdor.spectra.csa_model", "respdor.spectra.csa_manifold", "respdor.spectra.csa_spectrum",
             "respdor.spectra.csa_uncertainty",
             "respdor.spectra.deconvolution", "respdor.spectra.series", "respdor.spectra.pass_processing",
             "spinsim.simulate", "spinsim._kernels", "spinsim._coupled", "spinsim.sidebands")
#: (reader, computing module) imports known today.
KNOWN_READER_IMPORTS: set = set()

#: Functions over MAX_LINES lines allowed for now ("path:qualname" -> their length then; none today).
#: A listed function may not grow, and an entry that is no longer needed fails the test.
LONG_FUNCTIONS = {
}

#: Output to the terminal outside respdor/cli/ ("path:function" -> why it is there).
PRINTS = {
    # The progress mechanism itself: it writes to the stream the caller gave it (permanent).
    "spinsim/progress.py:LineProgress.note": "progress notes to the caller's stream",
    "spinsim/progress.py:LineProgress.close": "progress line ends on the caller's stream",
    # '-' as an output path means standard output (permanent).
    "respdor/resultio.py:write_json": "JSON to standard output for '-'",
}

#: File reads that bypass the text-file guard ("path:function" -> why).
UNGUARDED_READS = {
    "respdor/spectra/referencing.py:load_secondary_references": "the package's table of reference shifts (permanent)",
    "spinsim/_jitcache.py:kernel_sources": "the package's own kernel sources, searched for numba kernels (permanent)",
    "spinsim/_jitcache.py:sources_digest": "the package's own kernel sources hashed (permanent)",
    "spinsim/_jitcache.py:drop_stale_kernels": "the digest stamp in numba's cache directory (permanent)",
}

_NUMBA_DECORATORS = {"njit", "jit", "vectorize", "guvectorize", "cfunc", "generated_jit", "stencil"}


# ------------------------------------------------------------------------------------------------
# measuring


def _modules(root=ROOT, packages=PACKAGES) -> dict:
    """Module name -> path of every .py file of the packages."""
    out = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _imported(module, is_package, node, modules) -> list:
    """The modules of the packages that an import statement imports (``from a import b``: a.b when
    it is a module, else a)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = module if is_package else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        mod = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
        names = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod for a in node.names]
    out = []
    for name in names:
        while name and name not in modules:  # an imported object: its module
            name = name.rpartition(".")[0]
        if name and name != module:
            out.append(name)
    return out


def import_graph(root=ROOT, packages=PACKAGES) -> dict:
    """module -> {module: first line importing it}, imports inside functions included."""
    modules = _modules(root, packages)
    graph = {}
    for module, path in modules.items():
        edges = graph.setdefault(module, {})
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _imported(module, path.name == "__init__.py", node, modules):
                    edges.setdefault(target, node.lineno)
    return graph


def circles(graph) -> list:
    """Strongly connected groups of more than one module (Tarjan), each a sorted tuple."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(tuple(sorted(group)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def _within(module, package) -> bool:
    return module == package or module.startswith(package + ".")


def imports_against_layers(graph) -> list:
    """(importer, imported, rule) for every import against the layers."""
    bad = []
    for a, targets in graph.items():
        for b in targets:
            if _within(a, "spinsim") and _within(b, "respdor"):
                bad.append((a, b, "spinsim imports respdor"))
            if _within(b, "respdor.cli") and not (_within(a, "respdor.cli") or a == "respdor.__main__"):
                bad.append((a, b, "imports the command line"))
            if _within(b, "respdor.jobs") and not any(_within(a, p) for p in ("respdor.jobs", "respdor.cli",
                                                                                 "respdor.__main__")):
                bad.append((a, b, "imports the one-call jobs"))
            if a in READERS and any(_within(b, c) for c in COMPUTING):
                bad.append((a, b, "a reader imports a computing module"))
    return sorted(bad)


def _is_numba(func) -> bool:
    for dec in func.decorator_list:
        node = dec.func if isinstance(dec, ast.Call) else dec
        name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
        if name in _NUMBA_DECORATORS:
            return True
    return False


def _functions(tree, prefix=""):
    """(qualname, node) of every function, methods and nested functions included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def _sources(root=ROOT, packages=PACKAGES):
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            yield path.relative_to(root).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def long_functions(root=ROOT, packages=PACKAGES, limit=MAX_LINES) -> dict:
    """"path:qualname" -> lines, for functions longer than ``limit`` lines (def to last line),
    numba kernels excepted."""
    out = {}
    for rel, tree in _sources(root, packages):
        for name, node in _functions(tree):
            n = node.end_lineno - node.lineno + 1
            if n > limit and not _is_numba(node):
                out[f"{rel}:{name}"] = n
    return out


def _is_terminal_output(call) -> bool:
    f = call.func
    if isinstance(f, ast.Name):
        return f.id == "print"
    return (isinstance(f, ast.Attribute) and f.attr == "write" and isinstance(f.value, ast.Attribute)
            and f.value.attr in ("stdout", "stderr") and getattr(f.value.value, "id", "") == "sys")


def _is_file_read(call) -> bool:
    f = call.func
    if isinstance(f, ast.Attribute) and f.attr in ("read_text", "read_bytes") and not call.args and not call.keywords:
        return True  # Path.read_text() / read_bytes(); the guard's read_text(path, what) takes arguments
    if isinstance(f, ast.Name) and f.id == "open" and call.args:
        mode = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "mode"), None)
        return mode is None or (isinstance(mode, ast.Constant) and "r" in str(mode.value))
    return False


def calls_outside_cli(test, root=ROOT, packages=PACKAGES, skip=("respdor/cli/",)) -> dict:
    """"path:function" -> lines of the calls for which ``test(call)`` is true, outside ``skip``."""
    out = {}
    for rel, tree in _sources(root, packages):
        if rel.startswith(skip):
            continue
        owner = {}
        for name, func in _functions(tree):  # innermost function wins: nested ones come later
            for node in ast.walk(func):
                owner[id(node)] = name
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and test(node):
                out.setdefault(f"{rel}:{owner.get(id(node), '<module>')}", []).append(node.lineno)
    return out


def unguarded_reads(root=ROOT, packages=PACKAGES) -> dict:
    """"path:function" -> lines of file reads outside the guard modules (respdor/cli included)."""
    return calls_outside_cli(_is_file_read, root, packages, skip=("spinsim/textfile.py",))


def terminal_output(root=ROOT, packages=PACKAGES) -> dict:
    """"path:function" -> lines of print / sys.stdout.write / sys.stderr.write outside respdor/cli/."""
    return calls_outside_cli(_is_terminal_output, root, packages)


# ------------------------------------------------------------------------------------------------
# the measuring itself, on a package made for it


def test_the_measures_find_what_they_should(tmp_path):
    pkg = tmp_path / "toy"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .sub.c import g\n    print(g)\n    return open(g).read()\n")
    (pkg / "sub" / "c.py").write_text("from ..a import thing\n\ndef g():\n" + "    x = 1\n" * 120)
    (pkg / "d.py").write_text("import toy.a\nfrom numba import njit\n\n@njit(cache=True)\ndef k():\n"
                              + "    x = 1\n" * 120 + "import sys\nsys.stderr.write('x')\n")
    graph = import_graph(tmp_path, ("toy",))
    assert graph["toy.a"] == {"toy.b": 1}
    assert graph["toy.b"] == {"toy.sub.c": 2}  # inside a function: counted
    assert graph["toy.sub.c"] == {"toy.a": 1}  # relative import of an object: its module
    assert graph["toy.d"] == {"toy.a": 1}
    assert circles(graph) == [("toy.a", "toy.b", "toy.sub.c")]
    assert long_functions(tmp_path, ("toy",)) == {"toy/sub/c.py:g": 121}  # the numba kernel k excepted
    assert terminal_output(tmp_path, ("toy",)) == {"toy/b.py:f": [3], "toy/d.py:<module>": [127]}
    assert unguarded_reads(tmp_path, ("toy",)) == {"toy/b.py:f": [4]}


# ------------------------------------------------------------------------------------------------
# the rules


def test_no_import_circles_but_the_known_ones():
    found = circles(import_graph())
    new = [c for c in found if c not in KNOWN_CIRCLES]
    assert not new, f"new import circle(s): {new}"
    gone = [c for c in KNOWN_CIRCLES if c not in found]
    assert not gone, f"circle(s) removed: take {gone} out of KNOWN_CIRCLES"


def test_no_import_against_the_layers():
    bad = imports_against_layers(import_graph())
    known = {(a, b) for a, b in KNOWN_READER_IMPORTS}
    new = [x for x in bad if x[:2] not in known]
    assert not new, f"imports against the layers: {new}"
    gone = known - {x[:2] for x in bad}
    assert not gone, f"removed: take {sorted(gone)} out of KNOWN_READER_IMPORTS"


def test_spinsim_never_imports_respdor():
    # (also in the rule above; said alone because it is the one rule that never has an exception)
    assert not [(a, b) for a, t in import_graph().items() for b in t
                if _within(a, "spinsim") and _within(b, "respdor")]


def test_no_long_functions_but_the_known_ones():
    found = long_functions()
    new = {k: n for k, n in found.items() if k not in LONG_FUNCTIONS}
    assert not new, f"functions over {MAX_LINES} lines (split them): {new}"
    grown = {k: (LONG_FUNCTIONS[k], n) for k, n in found.items() if k in LONG_FUNCTIONS and n > LONG_FUNCTIONS[k]}
    assert not grown, f"listed long functions grew (listed, now): {grown}"
    gone = sorted(set(LONG_FUNCTIONS) - set(found))
    assert not gone, f"now at most {MAX_LINES} lines: take {gone} out of LONG_FUNCTIONS"


def test_no_print_in_the_library_but_the_known_ones():
    found = terminal_output()
    new = {k: v for k, v in found.items() if k not in PRINTS}
    assert not new, f"print/sys.stdout/stderr.write outside respdor/cli/ (use spinsim.progress or warnings): {new}"
    gone = sorted(set(PRINTS) - set(found))
    assert not gone, f"no longer print: take {gone} out of PRINTS"


def test_every_text_file_is_read_through_the_guard():
    found = unguarded_reads()
    new = {k: v for k, v in found.items() if k not in UNGUARDED_READS}
    assert not new, f"file reads outside the text-file guard (use respdor.files.read_text / spinsim.textfile): {new}"
    gone = sorted(set(UNGUARDED_READS) - set(found))
    assert not gone, f"now guarded: take {gone} out of UNGUARDED_READS"


def test_import_linter_contract_is_kept():
    pytest.importorskip("importlinter")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                          "sys.exit(lint_imports_command())", "--no-cache"],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover
        import tomli as tomllib
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    assert len(contracts) >= 5
    assert f"Contracts: {len(contracts)} kept, 0 broken." in run.stdout, run.stdout[-2000:]


def test_every_subpackage_is_installed():
    # pyproject.toml lists the packages by hand (data/ is installed as respdor.example_data): a new
    # sub-package left out works in a checkout and is missing after `pip install .`.
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover
        import tomli as tomllib
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for pkg in PACKAGES for p in (ROOT / pkg).rglob("__init__.py")}
    assert found - listed == set(), f"add to [tool.setuptools] packages: {sorted(found - listed)}"
