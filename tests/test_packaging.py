"""What a `pip install` gives a user: the package's third-party imports are all declared dependencies (pip
installs nothing else; an undeclared one works here only because something else pulled it in)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
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
