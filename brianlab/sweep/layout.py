"""The names inside a sweep directory, and the point records every part of a sweep shares::

    OUT/sweep.json           what was asked: model, grid, seeds, device, the points
    OUT/runs/<point>/        one run directory per finished point (as brianlab run writes)
    OUT/failed/<point>.json  the error of each failed point
    OUT/table.csv, .parquet  parameters, seed, status, metrics, build/run times per point
    OUT/figures/<metric>.png each metric against the swept parameters
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from brianlab import fileio
from brianlab.errors import BrianlabError

SPEC, TABLE_CSV, TABLE_PARQUET = "sweep.json", "table.csv", "table.parquet"
RUNS, FAILED, FIGURES = "runs", "failed", "figures"
#: Per-point bookkeeping in metrics.json, kept out of the metric figures.
TIMINGS = ("build_wall_s", "run_wall_s", "total_wall_s", "n_builds", "n_compiles", "n_runs")


def one_line(exc: BaseException) -> str:
    """An exception as the one line a failure record and the table show."""
    if isinstance(exc, BrianlabError):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}".rstrip(": ")


def write_failure(out: Path, point, error: str, trace: str, worker: str) -> Path:
    """Record ``point``'s failure as ``OUT/failed/<point>.json`` (replaced atomically)."""
    path = Path(out) / FAILED / f"{point.id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "point": point.id,
        "assignments": list(point.assignments),
        "seed": point.seed,
        "error": error,
        "worker": worker,
        "time": datetime.datetime.now().isoformat(timespec="seconds"),
        "traceback": trace,
    }
    return fileio.write_text_atomically(path, json.dumps(record, indent=2) + "\n")
