"""Parameter sweeps on Dask (``brianlab sweep``): compiled once per shape, resumable.

A sweep runs a model over the Cartesian product of a grid of parameter values
times a number of seeds. Every point is an ordinary run directory; the sweep
adds a table (CSV and Parquet) and a figure per metric (the layout is in
:mod:`brianlab.sweep.layout`).

- :mod:`~brianlab.sweep.planning`: the grid, the points, their grouping by
  network shape into chunks (one Dask task each);
- :mod:`~brianlab.sweep.cache`: the build cache (one compile per shape, shared
  with any caller through :func:`cached_session`);
- :mod:`~brianlab.sweep.worker`: the task a worker runs on a chunk;
- :mod:`~brianlab.sweep.client`: :func:`run_sweep`, the cluster, progress;
- :mod:`~brianlab.sweep.table` and :mod:`~brianlab.sweep.figures`: what a sweep
  writes at the end.

Resumable: a point whose run directory exists is finished (run directories
appear only when complete), so running the same sweep again runs only the
missing or failed points, and killing a sweep loses no finished point.
"""

from brianlab.sweep.cache import (
    BUILD_SEED,
    CACHE_ENV_VAR,
    BuildSlot,
    build_key,
    cached_session,
    default_build_cache,
    shape_params,
)
from brianlab.sweep.client import SweepResult, run_sweep
from brianlab.sweep.figures import plot_metric, plot_sweep
from brianlab.sweep.layout import FAILED, FIGURES, RUNS, SPEC, TABLE_CSV, TABLE_PARQUET, TIMINGS
from brianlab.sweep.planning import Chunk, Point, parse_grid
from brianlab.sweep.table import load_table
from brianlab.sweep.worker import run_chunk

__all__ = [
    "BUILD_SEED",
    "CACHE_ENV_VAR",
    "FAILED",
    "FIGURES",
    "RUNS",
    "SPEC",
    "TABLE_CSV",
    "TABLE_PARQUET",
    "TIMINGS",
    "BuildSlot",
    "Chunk",
    "Point",
    "SweepResult",
    "build_key",
    "cached_session",
    "default_build_cache",
    "load_table",
    "parse_grid",
    "plot_metric",
    "plot_sweep",
    "run_chunk",
    "run_sweep",
    "shape_params",
]
