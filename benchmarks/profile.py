"""Where the time goes: py-spy samples of a server (or of the suite itself) under a load, and
the resident memory of a process tree. Used by ``benchmarks/suite.py --profile``."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gridgov.config import PROJECT_ROOT


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (uvicorn's workers), in MB."""
    total = 0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return round(total / 1024, 1)


def py_spy() -> str | None:
    found = Path(sys.executable).parent / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


def profiled(
    pid: int, out: Path, work: Callable[[], object], *, root: str | None = None
) -> dict[str, Any] | None:
    """Sample ``pid`` (and its children) with py-spy while ``work`` runs; a summary of where
    the time went, or None without py-spy. Idle threads are left out."""
    spy = py_spy()
    if spy is None:
        return None
    recorder = subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--rate",
            "200",
            "--nonblocking",
            "--subprocesses",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # attached before the load starts
    try:
        work()
    finally:
        recorder.send_signal(signal.SIGINT)
        try:
            recorder.wait(timeout=60)
        except subprocess.TimeoutExpired:
            recorder.kill()
            recorder.wait()
    return summarise_stacks(out, root=root) if out.exists() else None


# Leaves that are a thread or the event loop waiting for work, not work (py-spy's idle
# detection misses some of them).
IDLE = ("Condition.wait ", "EpollSelector.select ", "Event.wait ", "_worker ")
WAITING_ON_DATABASE = "Connection.wait psycopg/connection.py"


def summarise_stacks(path: Path, *, root: str | None = None, top: int = 15) -> dict[str, Any]:
    """From py-spy's raw (collapsed) stacks: the share of busy samples per function, itself
    (the leaf) and inclusive (anywhere on the stack, once per stack) for gridgov's own code.
    With ``root``, only stacks through a function of that name count (the subject of an
    in-process figure, not its ceiling)."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [frame_name(f) for f in stack.split(";")]
        if frames[-1].startswith(IDLE):
            continue
        if root is not None and not any(f.startswith(root + " ") for f in frames):
            continue
        n = int(count)
        total += n
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n
    if not total:
        return {"samples": 0}

    def share(counts: dict[str, int], keep: Callable[[str], bool]) -> list[list[Any]]:
        ranked = sorted(((c, f) for f, c in counts.items() if keep(f)), reverse=True)[:top]
        return [[f, round(100 * c / total, 1)] for c, f in ranked]

    ours = ("gridgov/", "api/")
    return {
        "samples": total,
        "waiting_on_database_percent": round(100 * own.get(WAITING_ON_DATABASE, 0) / total, 1),
        "self_percent": share(own, lambda f: True),
        "inclusive_percent_ours": share(inclusive, lambda f: f.split(" ")[-1].startswith(ours)),
    }


def frame_name(raw: str) -> str:
    """'function (path/to/file.py:12)' -> 'function gridgov/x.py' (library paths shortened)."""
    name, _, where = raw.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    root = str(PROJECT_ROOT) + "/"
    if where.startswith(root):
        where = where[len(root) :]
    elif "site-packages/" in where:
        where = where.split("site-packages/", 1)[1]
    elif "/lib/python" in where:
        where = "stdlib/" + where.rsplit("/", 1)[-1]
    return f"{name.strip()} {where}"
