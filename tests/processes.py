"""Which processes a test started are still alive (for the tests that stop runs by signals), from /proc."""

from __future__ import annotations

from pathlib import Path


def process_table() -> dict[int, tuple[str, int, int]]:
    """Every process on the machine: pid -> (state, parent pid, process group), read from /proc/PID/stat
    (empty where there is no /proc)."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after the command, which may hold spaces
        except OSError:  # ended meanwhile
            continue
        table[int(stat.parent.name)] = (fields[0], int(fields[1]), int(fields[2]))
    return table


def group_alive(pgid: int) -> list[int]:
    """pids of the live (not zombie) processes of process group ``pgid``."""
    return [pid for pid, (state, _, group) in process_table().items() if group == pgid and state != "Z"]


def children(pid: int) -> set[int]:
    """pids of the live (not zombie) children of ``pid``."""
    return {child for child, (state, parent, _) in process_table().items() if parent == pid and state != "Z"}


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``, zombies included."""
    parents = {child: parent for child, (_, parent, _) in process_table().items()}
    found, todo = set(), [pid]
    while todo:
        above = todo.pop()
        below = [child for child, parent in parents.items() if parent == above]
        found.update(below)
        todo.extend(below)
    return found
