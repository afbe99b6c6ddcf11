"""What every bench records beside its numbers: the command, the git commit, the machine and the date."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

__all__ = ["provenance", "git_state", "machine_info"]


def git_state():
    """The commit this bench ran from, and whether tracked files differed from it."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(dirty)}


def machine_info():
    """Cores, CPU model, platform, load and the OpenMP wait policy in force."""
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu_model": model or platform.processor(), "platform": platform.platform(),
            "load_avg": os.getloadavg(), "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "")}


def provenance() -> dict:
    """``{"command", "git", "machine", "date_utc"}`` of this process, for a bench's JSON."""
    return {"command": [sys.executable, *sys.argv], "git": git_state(), "machine": machine_info(),
            "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def write_result(path, result: dict) -> None:
    """Write a bench's ``result`` (with :func:`provenance` in it) as indented JSON to ``path`` and say where."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"json: {path}")
