"""Write one benchmark's section of docs/benchmarks.md, leaving the others alone.

Each bench script owns the text between ``<!-- bench:NAME -->`` and
``<!-- /bench:NAME -->``. Figures are only ever written by re-running the
script, never by hand.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import tempfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEAD = (
    "# Benchmarks\n\nEvery figure below is written by a script under `bench/`; re-run it, never edit numbers by hand.\n"
)


def machine() -> str:
    """One line naming the machine and the versions measured."""
    cpu = platform.processor() or platform.machine()
    try:
        info = Path("/proc/cpuinfo").read_text().splitlines()
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        # hosts of one model name differ in vector units, and with them the float baselines' BLAS results and
        # speed (2026-12-07: the same "AMD EPYC" without AVX-512 moved per-seed straight-through errors by up
        # to 0.8 points, and times by about 1.2x)
        flags = next((line.split(":", 1)[1].split() for line in info if line.startswith("flags")), [])
        cpu += ", AVX-512" if "avx512f" in flags else ", AVX2" if "avx2" in flags else ""
    except OSError:
        pass
    versions = []
    for pkg in ("numpy", "numba", "scikit-learn", "lava-nc", "brian2", "nir"):
        try:
            versions.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=DOC.parent
        ).stdout.strip()
    except OSError:
        commit = "?"
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"Measured {when} at commit `{commit}` on {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}, {', '.join(versions)}."
    )


def write_section(name: str, markdown: str) -> Path:
    """Replace (or append) section ``name`` of docs/benchmarks.md, atomically."""
    text = DOC.read_text() if DOC.exists() else HEAD
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=DOC.parent, prefix=".benchmarks.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, DOC)
    return DOC
