"""The sweep's table: one row per point, read from run directories and failure records."""

from __future__ import annotations

import json
import os
from pathlib import Path

from brianlab import fileio, records
from brianlab.sweep.layout import FAILED, RUNS, TABLE_CSV, TABLE_PARQUET, TIMINGS

__all__ = ["Table", "load_table"]


class Table:
    """Rows of a sweep's points, read from run directories and failure records as they appear."""

    def __init__(self, out, points, grid_names):
        self.out = Path(out)
        self.points = points
        self.grid_names = grid_names
        self._done_rows = {}

    def finished_ids(self) -> set[str]:
        """Points with a run directory or a failure record."""
        runs = {name for name in os.listdir(self.out / RUNS) if not name.startswith(".")}
        failed = {name[:-5] for name in os.listdir(self.out / FAILED) if name.endswith(".json")}
        return runs | failed

    def rows(self) -> list[dict]:
        rows = []
        for point in self.points:
            row = {"point": point.id, **dict(point.columns), "seed": point.seed}
            run_dir = self.out / RUNS / point.id
            failure = self.out / FAILED / f"{point.id}.json"
            if point.id in self._done_rows:
                row.update(self._done_rows[point.id])
            elif run_dir.is_dir():
                self._done_rows[point.id] = _done_row(run_dir)
                row.update(self._done_rows[point.id])
            elif failure.is_file():
                record = json.loads(failure.read_text())
                row.update(status="failed", error=record["error"], worker=record.get("worker"))
            else:
                row.update(status="pending")
            rows.append(row)
        return rows

    def frame(self):
        """The table as a pandas DataFrame, columns in the order :func:`load_table` documents."""
        import pandas as pd

        frame = pd.DataFrame(self.rows())
        for column in ("worker", "build_dir", "run_dir", "error"):
            if column not in frame.columns:
                frame[column] = None
        lead = ["point", *self.grid_names, "seed", "status"]
        tail = [c for c in (*TIMINGS, "worker", "build_dir", "run_dir", "error") if c in frame.columns]
        middle = [c for c in frame.columns if c not in lead and c not in tail]
        return frame[lead + middle + tail]

    def write(self):
        """Write table.csv and table.parquet (each replaced atomically); return the DataFrame."""
        frame = self.frame()
        fileio.write_atomically(self.out / TABLE_CSV, lambda path: frame.to_csv(path, index=False))
        fileio.write_atomically(self.out / TABLE_PARQUET, lambda path: frame.to_parquet(path, index=False))
        return frame


def _done_row(run_dir):
    metrics = json.loads((run_dir / records.METRICS).read_text())
    config = json.loads((run_dir / records.CONFIG).read_text())
    sweep = config.get("sweep", {})
    build_dir = config.get("device_options", {}).get("build_dir")
    row = {"status": "done"}
    row.update({k: v for k, v in metrics.items() if k != "device" and not isinstance(v, (dict, list))})
    row.update(worker=sweep.get("worker"), build_dir=build_dir, run_dir=str(run_dir))
    return row


def load_table(out):
    """The table of a sweep directory (``table.parquet``) as a pandas DataFrame.

    Columns: ``point`` (its run directory's name), the grid parameters (SI units
    for quantities), ``seed``, ``status`` (``done``, ``failed`` or ``pending``),
    the model's metrics, ``build_wall_s``, ``run_wall_s``, ``total_wall_s``,
    ``n_builds``, ``n_compiles`` (builds that ran the compiler), ``n_runs``,
    ``worker``, ``build_dir``, ``run_dir`` and ``error``.
    """
    import pandas as pd

    return pd.read_parquet(Path(out) / TABLE_PARQUET)
