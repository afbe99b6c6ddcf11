"""Points per minute of a parameter sweep: compiled once per shape vs rebuilt for every point.

A 20-point sweep of the ``lif`` model on ``cpp_standalone`` (the drive varies, so
every point has the same network shape) is run four ways, side by side:

- rebuild per point, serial: ``brianlab run`` once per point, each building and
  compiling its own project (what a sweep costs without ``run_args``);
- rebuild per point, local cluster: the same runs as Dask tasks on a
  ``LocalCluster`` of ``--workers`` processes;
- compile once, serial: ``brianlab sweep --workers 1`` (one worker process);
- compile once, local cluster: ``brianlab sweep --workers N``;
- both compile-once ways again with ``--no-point-figures``: each point's run
  directory without its three PNGs (about 1 s a point here, drawn by
  ``brianlab plot`` when wanted; the rebuild ways still draw them).

Each way starts from an empty build directory, so the compile-once ways pay
for their compile too, and wall times include starting the cluster. The
metrics of every point must agree between the ways. The target is at least
10x more points per minute compiled once than rebuilt per point.

    python bench/sweep.py                       # prints a table, writes results/bench/sweep.json
    python bench/sweep.py --points 20 --workers 2 --set n_neurons=500
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from brianlab import records
from brianlab.devices import DeviceOptions
from brianlab.model import get_model
from brianlab.params import apply_assignments
from brianlab.runner import run_model
from brianlab.sweep import run_sweep

#: The network: the lif example with nearest-neighbour synapses and membrane noise.
FIXED = ["k_conn=2", "sigma=1*mV"]
DEVICE = "cpp_standalone"


def grid_values(n_points):
    """``n_points`` drives from 20 mV up, 2 mV apart."""
    return [f"{20 + 2 * k}*mV" for k in range(n_points)]


def rebuild(model, fixed, values, work, workers):
    """Run every point with its own build; return (wall s, {drive text: n_spikes})."""
    jobs = [(text, apply_assignments(model.params, [*fixed, f"drive_max={text}"])) for text in values]
    start = time.perf_counter()
    if workers is None:
        results = [run_model(model, params, DEVICE, DeviceOptions(), out=work / f"{k}", progress=False)
                   for k, (_, params) in enumerate(jobs)]
    else:
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=workers, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                          silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
            futures = [client.submit(run_model, model, params, DEVICE, DeviceOptions(), out=work / f"{k}",
                                     progress=False, pure=False) for k, (_, params) in enumerate(jobs)]
            results = client.gather(futures)
    wall = time.perf_counter() - start
    return wall, {text: metrics["n_spikes"] for (text, _), (_, metrics) in zip(jobs, results)}


def compile_once(model, fixed, values, work, workers, point_figures=True):
    """Run the points as one sweep from an empty build cache; return (wall s, {drive text: n_spikes}, compiles)."""
    start = time.perf_counter()
    result = run_sweep(model, {"drive_max": values}, fixed=fixed, device=DEVICE, workers=workers,
                       out=work / "sweep", build_cache=work / "builds", point_figures=point_figures,
                       progress=False)
    wall = time.perf_counter() - start
    table = result.table
    if result.n_done != len(values):
        raise RuntimeError(f"{result.n_failed} points failed; see {result.out / 'failed'}")
    return wall, dict(zip(values, table["n_spikes"])), int(table["n_compiles"].sum())


def measure(n_points, workers, fixed, work, log):
    """The four ways; return the rows of the table."""
    model = get_model("lif")
    values = grid_values(n_points)
    rows = []
    reference = None
    ways = [("rebuild per point", None), ("compile once", None), ("compile once, no point figures", None),
            ("rebuild per point", workers), ("compile once", workers), ("compile once, no point figures", workers)]
    for k, (way, n_workers) in enumerate(ways):
        where = work / f"way-{k}"
        log(f"{way}, {'serial' if n_workers is None else f'{n_workers} workers'} ...")
        if way.startswith("compile once"):
            wall, spikes, compiles = compile_once(model, fixed, values, where, n_workers or 1,
                                                  point_figures="no point figures" not in way)
        else:
            wall, spikes = rebuild(model, fixed, values, where, n_workers)
            compiles = n_points
        reference = reference or spikes
        rows.append({
            "way": way,
            "workers": n_workers or 1,
            "points": n_points,
            "compiles": compiles,
            "wall_s": wall,
            "points_per_min": 60 * n_points / wall,
            "same_metrics": spikes == reference,
        })
        shutil.rmtree(where, ignore_errors=True)
    for row in rows:
        baseline = next(r for r in rows if r["way"] == "rebuild per point" and r["workers"] == row["workers"])
        row["speedup_vs_rebuild"] = row["points_per_min"] / baseline["points_per_min"]
    return rows


def print_table(rows):
    print(f"{'way':<31} {'workers':>7} {'points':>6} {'compiles':>8} {'wall s':>8} {'points/min':>10} "
          f"{'x rebuild':>9} {'same metrics':>12}")
    for r in rows:
        print(f"{r['way']:<31} {r['workers']:>7} {r['points']:>6} {r['compiles']:>8} {r['wall_s']:>8.1f} "
              f"{r['points_per_min']:>10.1f} {r['speedup_vs_rebuild']:>8.1f}x {str(r['same_metrics']):>12}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=20, help="points in the sweep (default 20)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="local cluster size (default: one per core)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="lif parameter for every point (on top of k_conn=2, sigma=1*mV)")
    parser.add_argument("--out", type=Path, default=Path("results/bench/sweep.json"))
    parser.add_argument("--work", type=Path, default=None, help="scratch directory (default: a temporary one)")
    args = parser.parse_args(argv)
    fixed = [*FIXED, *args.set]
    work = Path(tempfile.mkdtemp(prefix="brianlab-bench-sweep-", dir=args.work))
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    try:
        rows = measure(args.points, args.workers, fixed, work, log)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(rows)
    for way in ("compile once", "compile once, no point figures"):
        met = all(r["speedup_vs_rebuild"] >= 10 for r in rows if r["way"] == way)
        print(f"target ({way} >= 10x the points per minute of rebuilding): {'met' if met else 'NOT met'}")
    target_met = {way: all(r["speedup_vs_rebuild"] >= 10 for r in rows if r["way"] == way)
                  for way in ("compile once", "compile once, no point figures")}
    report = {
        "bench": "sweep",
        "model": "lif",
        "device": DEVICE,
        "fixed": fixed,
        "grid": {"drive_max": grid_values(args.points)},
        "rows": rows,
        "target": "compile once >= 10x points per minute of rebuild per point, at the same number of workers",
        "target_met": target_met,
        "machine": {"cpus": os.cpu_count(), "node": platform.node()},
        "versions": records.versions(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(records.jsonable(report), indent=2) + "\n")
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
