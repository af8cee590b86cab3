"""What a `pip install` gives a user: the package's third-party imports are all declared dependencies (pip
installs nothing else; an undeclared one works here only because something else pulled it in), and the
source distribution holds what `make test` and the README need, without caches. A read-only install still
trains where numba has no folder to cache its compiled kernels in."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections import defaultdict
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest's own dependency
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("connttra_neuro", "hardware_targets")  # what the wheel installs (pyproject's packages.find)


def _normal(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): Brian2 = brian2, scikit_learn = scikit-learn."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        specs = tomllib.load(fh)["project"]["dependencies"]
    return {_normal(re.match(r"[A-Za-z0-9._-]+", spec).group()) for spec in specs}


def _imports() -> dict[str, str]:
    """Top-level module -> the first file of ours that imports it (absolute imports only)."""
    found: dict[str, str] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.partition(".")[0], path.relative_to(ROOT).as_posix())
    return found


def _providers() -> dict[str, set[str]]:
    """Top-level module -> the installed distributions holding it, from their file lists (Python 3.10's
    packages_distributions reads only top_level.txt, which numpy, scipy and lava-nc do not ship)."""
    providers: dict[str, set[str]] = defaultdict(set)
    for dist in importlib.metadata.distributions():
        name = _normal(dist.metadata["Name"])  # once: each metadata lookup reads the file again
        for top in {file.parts[0] for file in dist.files or ()}:
            if top != ".." and not top.endswith((".dist-info", ".data", ".pth")):
                providers[top.partition(".")[0]].add(name)
    return providers


def test_every_third_party_import_is_a_declared_dependency():
    declared, providers = _declared(), _providers()
    undeclared = {
        module: (where, sorted(providers.get(module, ())) or ["not installed"])
        for module, where in _imports().items()
        if module not in sys.stdlib_module_names and module not in PACKAGES
        and not providers.get(module, {_normal(module)}) & declared
    }
    assert not undeclared, "imported but not in pyproject.toml's dependencies (module: first importer, " \
        f"distribution): {undeclared}"


# what the source distribution is built from (a copy of these: the build writes an egg-info beside them)
SDIST_SOURCES = ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "constraints.txt", "Makefile",
                 ".python-version", *PACKAGES, "tests", "docs", "examples", "bench")
SDIST_JUNK = ("__pycache__", ".pyc", ".ctn", ".ckpt")  # a test run's and a user's leftovers


def test_the_source_distribution_holds_the_tests_docs_and_examples_without_caches(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in filter(lambda name: (ROOT / name).exists(), SDIST_SOURCES):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy2)(ROOT / name, tree / name)
    (tree / "tests" / "__pycache__").mkdir(exist_ok=True)  # as any test run leaves them
    (tree / "tests" / "__pycache__" / "conftest.cpython-310.pyc").write_bytes(b"")
    (tree / "docs" / "model.ctn").write_bytes(b"")  # a walk-through run in docs/
    expected = {path.relative_to(tree).as_posix() for path in tree.rglob("*")
                if path.is_file() and not any(part.endswith(SDIST_JUNK) for part in path.parts)}
    build = "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    name = subprocess.run([sys.executable, "-c", build, str(tmp_path)], cwd=tree, capture_output=True, text=True,
                          check=True).stdout.split()[-1]
    with tarfile.open(tmp_path / name) as sdist:
        held = {member.name.partition("/")[2] for member in sdist.getmembers() if member.isfile()}
    assert not expected - held, f"missing from the source distribution: {sorted(expected - held)}"
    junk = [path for path in held if any(part.endswith(SDIST_JUNK) for part in path.split("/"))]
    assert not junk, f"caches or model files in the source distribution: {junk}"


NO_CACHE_FOLDER = """
import warnings
import numpy as np
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from connttra_neuro.train import _kernels
print(_kernels.CACHE)
print([f"{w.category.__name__}: {w.message}" for w in caught])
print(_kernels.nonzero_rows(np.array([[0, 1], [1, 1]], np.uint8))[1].tolist())
"""


def test_the_kernels_compile_where_numba_has_no_folder_to_cache_them_in(tmp_path):
    # a system install (read-only) run by an account without a writable home: numba finds no folder for
    # its cache and refused every cached kernel at import; they compile in the process instead, and a
    # warning says why. Here numba looks only in NUMBA_CACHE_DIR (its own setting: this tree's __pycache__
    # is writable), a folder that cannot be made (below a file)
    (tmp_path / "file").write_bytes(b"")
    env = {**os.environ, "NUMBA_CACHE_LOCATOR_CLASSES": "UserProvidedCacheLocator",
           "NUMBA_CACHE_DIR": str(tmp_path / "file" / "numba")}
    run = subprocess.run([sys.executable, "-c", NO_CACHE_FOLDER], cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    cache, caught, rows = run.stdout.splitlines()
    assert cache == "False"
    assert "RuntimeWarning: numba has no writable folder to cache the training kernels in" in caught
    assert "no locator available" in caught  # numba's own words, not some other failure
    assert "set NUMBA_CACHE_DIR to a writable folder" in caught
    assert rows == "[1, 0, 1]"
