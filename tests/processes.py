"""Which processes a test started are still alive (for the tests that stop runs by signals)."""

from __future__ import annotations

from pathlib import Path


def group_alive(pgid: int) -> list[int]:
    """pids of the live (not zombie) processes of process group ``pgid``."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":  # field 5 = process group; zombies have exited
            alive.append(int(stat.parent.name))
    return alive
