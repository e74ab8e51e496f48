"""Stopping the helper processes the project starts on 127.0.0.1 (servers, routers, scrapers)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def children(pid: int) -> list[int]:
    """PIDs of a process's direct children (``/proc/<pid>/task/*/children``)."""
    found: list[int] = []
    for path in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found.extend(int(c) for c in path.read_text().split())
        except (OSError, ValueError):
            continue
    return found


def stop_process(process: subprocess.Popen | None, workdir: Path | None) -> None:
    """Terminate a process (SIGKILL after 10 s) and remove its working folder.

    Args:
        process: The process, or None when it never started.
        workdir: Its folder (configuration, logs, data), or None.
    """
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)
