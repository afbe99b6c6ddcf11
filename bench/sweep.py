"""Where a sweep point's time goes once compiled, a sweep's fixed cost, and the classifier's compiles.

All on ``lif`` (defaults: 100 neurons, 1 s) on ``cpp_standalone`` with a warm build
cache (a private one under the scratch directory, warmed first), side by side in
one run:

1. **Per point** (one worker, in this process, instrumented): Brian's run_args
   files, the binary's start, the simulation (the binary's own clock), reading
   results and metrics, writing the run directory, and the point's figures
   (drawn only for the figure rows, as ``--point-figures`` does).
2. **Dask scheduling**: a task's round trip on a 1-worker cluster beyond the
   time the task ran; and writing the table of the big sweep.
3. **Fixed cost**: a 2-point sweep on the embedded cluster (2 workers), with the
   start-up savings of :data:`brianlab.sweep.client.TUNING` on and all off.
4. **Target sweep**: ``--points`` points on ``--workers`` workers, default
   options; cost per point per worker beyond the binary's run time, fixed cost
   included (``wall * workers / points - mean run_wall_s``).
5. **Classifier**: ``cross_val_score(STDPDigitClassifier(n_per_class=4,
   device="cpp_standalone"), 300 digits, cv=3)``, cold and warm build cache,
   counting compiles.

    .venv/bin/python bench/sweep.py                 # writes bench/results/sweep.json
    .venv/bin/python bench/sweep.py --quick         # fewer points, no classifier
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from brianlab import records
from brianlab.devices import DeviceOptions
from brianlab.sweep import client as sweep_client
from brianlab.sweep import planning, run_chunk, run_sweep
from brianlab.sweep.table import Table

DEVICE = "cpp_standalone"


def grid(n):
    return {"drive_max": [f"{30 + 0.05 * k:.2f}*mV" for k in range(n)]}


class Timers:
    """Wall-time accumulators patched around Brian's and brianlab's per-point steps (this process only)."""

    def __init__(self):
        self.totals = {}
        self.n = {}

    def add(self, name, seconds):
        self.totals[name] = self.totals.get(name, 0.0) + seconds
        self.n[name] = self.n.get(name, 0) + 1

    @contextlib.contextmanager
    def patched(self):
        from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

        from brianlab import model as model_module
        from brianlab.models import lif
        from brianlab.sweep import worker

        saved = []

        def patch(owner, name, make):
            original = getattr(owner, name)
            saved.append((owner, name, original))
            setattr(owner, name, make(original))

        def timed(label):
            def make(original):
                def wrapper(*args, **kwargs):
                    start = time.perf_counter()
                    try:
                        return original(*args, **kwargs)
                    finally:
                        self.add(label, time.perf_counter() - start)
                return wrapper
            return make

        calls = {}

        def device_run(original):
            def wrapper(device, *args, **kwargs):
                calls.clear()
                start = time.perf_counter()
                result = original(device, *args, **kwargs)
                end = time.perf_counter()
                self.add("device.run", end - start)
                self.add("run_args", calls["start"] - start)
                self.add("binary start and exit", calls["end"] - calls["start"] - device._last_run_time)
                self.add("simulation", device._last_run_time)
                self.add("checks after the run", end - calls["end"])
                return result
            return wrapper

        def subprocess_call(original):
            def wrapper(*args, **kwargs):
                calls["start"] = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    calls["end"] = time.perf_counter()
            return wrapper

        patch(CPPStandaloneDevice, "run", device_run)
        patch(subprocess, "call", subprocess_call)
        patch(worker, "_run_point", timed("point"))
        patch(worker, "_compile_shape", timed("code generation (per chunk)"))
        for name in ("__init__", "write_json", "write_arrays", "commit"):
            patch(records.StagedRun, name, timed("run directory"))
        patch(records, "config_record", timed("run directory"))
        instrumented = dataclasses.replace(lif.MODEL, simulate=timed("simulate")(lif.MODEL.simulate),
                                           figures=timed("figures")(lif.MODEL.figures))
        previous = model_module._REGISTERED.get("lif")
        model_module.register(instrumented)
        try:
            yield self
        finally:
            for owner, name, original in reversed(saved):
                setattr(owner, name, original)
            if previous is None:
                model_module._REGISTERED.pop("lif", None)
            else:
                model_module.register(previous)


def run_points(work, cache, n, figures):
    """Run ``n`` points as one chunk in this process; return (wall s, Timers)."""
    from brianlab.model import get_model

    model = get_model("lif")
    texts, values = planning.normalise_grid(model, grid(n), ())
    points, shapes, _ = planning.plan(model, texts, values, [0], (), DEVICE, DeviceOptions())
    (shape,) = set(shapes.values())
    out = work / f"chunk-{figures}"
    for name in ("runs", "failed"):
        (out / name).mkdir(parents=True)
    chunk = planning.Chunk(model="lif", device=DEVICE, options=DeviceOptions(), fixed=(), points=tuple(points),
                           out=str(out), build_dir=str(cache / shape), command=(), point_figures=figures)
    timers = Timers()
    with timers.patched():
        start = time.perf_counter()
        outcomes = run_chunk(chunk)
        wall = time.perf_counter() - start
    assert all(status == "done" for _, status in outcomes), outcomes
    return wall, timers


def per_point(timers, n):
    t = {k: v / n for k, v in timers.totals.items() if k != "code generation (per chunk)"}
    # the chunk's compile-only simulate (code generation) is not a point's
    t["simulate"] -= timers.totals.get("code generation (per chunk)", 0.0) / n
    row = {
        "run_args files": t["run_args"],
        "binary start and exit": t["binary start and exit"],
        "simulation": t["simulation"],
        "reading results, metrics, checks": t["simulate"] - t["device.run"] + t["checks after the run"],
        "writing the run directory": t.get("run directory", 0.0),
        "figures": t.get("figures", 0.0),
    }
    row["other (record_run, bookkeeping)"] = t["point"] - t["simulate"] - row["writing the run directory"] - row["figures"]
    row["total per point"] = t["point"]
    row["code generation per chunk (warm cache)"] = timers.totals.get("code generation (per chunk)", 0.0)
    return row


def dask_round_trip(n_tasks=10):
    """Seconds a trivial task's round trip takes on a 1-worker local cluster (the scheduling cost per task)."""
    import logging

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        client.submit(time.sleep, 0, pure=False).result()
        trips = []
        for _ in range(n_tasks):
            start = time.perf_counter()
            client.submit(time.sleep, 0, pure=False).result()
            trips.append(time.perf_counter() - start)
    return float(np.median(trips))


def sweep_wall(work, cache, name, n, workers, point_figures=False, tuning=None):
    """One run_sweep into a new directory; return its row (wall time, and CPU time of this process and its children)."""
    saved = sweep_client.TUNING
    sweep_client.TUNING = tuning or saved
    try:
        load_start = os.getloadavg()
        cpu_start = cpu_seconds()
        start = time.perf_counter()
        result = run_sweep("lif", grid(n), device=DEVICE, workers=workers, out=work / name, build_cache=cache,
                           point_figures=point_figures, progress=False)
        wall = time.perf_counter() - start
        cpu = {k: v - cpu_start[k] for k, v in cpu_seconds().items()}
    finally:
        sweep_client.TUNING = saved
    table = result.table
    assert result.n_done == n, table[["point", "status", "error"]]
    run_s = float(table["run_wall_s"].mean())
    return {"sweep": name, "points": n, "workers": workers, "point_figures": point_figures, "wall_s": wall,
            "compiles": int(table["n_compiles"].sum()), "mean_run_wall_s": run_s,
            "beyond_binary_per_point_per_worker_s": wall * workers / n - run_s,
            "cpu_s": cpu, "load_average_start": load_start, "load_average_end": os.getloadavg()}


def cpu_seconds():
    """User + system CPU seconds of this process and of its children that have been waited for."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"self": own.ru_utime + own.ru_stime, "children": children.ru_utime + children.ru_stime}


def classifier(work, repeats=1):
    """cross_val_score cv=3 on 300 digits; cold then warm cache; returns rows with wall and compile counts."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import cross_val_score

    from brianlab import simulation
    from brianlab.models.stdp_digits.estimator import STDPDigitClassifier

    digits = load_digits()
    X, y = digits.data[:300], digits.target[:300]
    rows = []
    cache = work / "cv-cache"
    saved = os.environ.get("BRIANLAB_BUILD_CACHE")
    os.environ["BRIANLAB_BUILD_CACHE"] = str(cache)
    original = simulation.Program._compile
    count = {"compiles": 0, "builds": 0}

    def counted(program):
        before = program.n_compiles
        original(program)
        count["builds"] += 1
        count["compiles"] += program.n_compiles - before

    simulation.Program._compile = counted
    try:
        for label in ["cold cache", *["warm cache"] * repeats]:
            count.update(compiles=0, builds=0)
            load_start, cpu_start = os.getloadavg(), cpu_seconds()
            start = time.perf_counter()
            scores = cross_val_score(STDPDigitClassifier(n_per_class=4, device=DEVICE, random_state=0), X, y, cv=3)
            rows.append({"cache": label, "wall_s": time.perf_counter() - start, "builds": count["builds"],
                         "compiles": count["compiles"], "scores": [float(s) for s in scores],
                         "cpu_s": {k: v - cpu_start[k] for k, v in cpu_seconds().items()},
                         "load_average_start": load_start, "load_average_end": os.getloadavg()})
            print(rows[-1], file=sys.stderr, flush=True)
    finally:
        simulation.Program._compile = original
        if saved is None:
            os.environ.pop("BRIANLAB_BUILD_CACHE", None)
        else:
            os.environ["BRIANLAB_BUILD_CACHE"] = saved
    return rows


def machine():
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cpus": os.cpu_count(), "cpu_model": model, "node": platform.node(), "load_average": os.getloadavg()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=200, help="points of the target sweep (default 200)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="repeats of the 2-point sweep pair (default 2)")
    parser.add_argument("--quick", action="store_true", help="40-point target, no classifier")
    parser.add_argument("--no-classifier", action="store_true")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "sweep.json")
    args = parser.parse_args(argv)
    n_points = 40 if args.quick else args.points
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    work = Path(tempfile.mkdtemp(prefix="brianlab-bench-sweep-"))
    cache = work / "builds"
    report = {"bench": "sweep", "command": [sys.executable, *sys.argv], "git": records.git_state(),
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": machine(), "versions": records.versions(), "device": DEVICE, "model": "lif (defaults)"}
    try:
        log("warming the build cache (one compile) ...")
        report["warm_up"] = sweep_wall(work, cache, "warm-up", 2, 1)
        log("per point, in this process ...")
        n_break = 20
        wall, timers = run_points(work, cache, n_break, figures=False)
        wall_fig, timers_fig = run_points(work, cache, 5, figures=True)
        report["per_point_s"] = {"no point figures (default)": per_point(timers, n_break),
                                 "--point-figures": per_point(timers_fig, 5)}
        log("Dask round trip ...")
        report["dask_round_trip_per_task_s"] = dask_round_trip()
        log("fixed cost: 2-point sweeps, start-up savings on and off ...")
        off = sweep_client.Tuning(in_process=False, forkserver=False, preimport=False, close_in_background=False)
        report["fixed_cost"] = []
        for k in range(args.repeats):
            report["fixed_cost"].append({**sweep_wall(work, cache, f"two-{k}-on", 2, 2), "tuning": "on"})
            report["fixed_cost"].append({**sweep_wall(work, cache, f"two-{k}-off", 2, 2, tuning=off), "tuning": "off"})
            log(f"  {report['fixed_cost'][-2]['wall_s']:.1f} s on, {report['fixed_cost'][-1]['wall_s']:.1f} s off")
        log(f"target sweep: {n_points} points on {args.workers} workers ...")
        report["target_sweep"] = sweep_wall(work, cache, "target", n_points, args.workers)
        start = time.perf_counter()
        from brianlab.model import get_model

        model = get_model("lif")
        texts, values = planning.normalise_grid(model, grid(n_points), ())
        points = planning.plan(model, texts, values, [0], (), DEVICE, DeviceOptions())[0]
        Table(work / "target", points, list(texts)).write()
        report["table_write_s"] = time.perf_counter() - start
        if not (args.quick or args.no_classifier):
            log("classifier: cross_val_score cv=3, 300 digits ...")
            report["classifier"] = classifier(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    on = [r["wall_s"] for r in report["fixed_cost"] if r["tuning"] == "on"]
    off_walls = [r["wall_s"] for r in report["fixed_cost"] if r["tuning"] == "off"]
    report["fixed_cost_ratio_off_over_on"] = float(np.median(off_walls) / np.median(on))
    target = report["target_sweep"]
    report["targets"] = {
        "beyond_binary_per_point_per_worker_s <= 0.08": target["beyond_binary_per_point_per_worker_s"] <= 0.08,
        "two_point_sweep_s <= 3": float(np.median(on)) <= 3.0,
    }
    if "classifier" in report:
        cold = report["classifier"][0]
        report["targets"]["cross_val_score <= 86/3 s"] = cold["wall_s"] <= 86 / 3
        report["targets"]["cross_val_score compiles once"] = cold["compiles"] == 1
    print(f"{'per point (s)':<42} {'default':>9} {'--point-figures':>16}")
    for key in report["per_point_s"]["no point figures (default)"]:
        print(f"{key:<42} {report['per_point_s']['no point figures (default)'][key]:>9.4f} "
              f"{report['per_point_s']['--point-figures'][key]:>16.4f}")
    print(f"Dask round trip per task: {report['dask_round_trip_per_task_s']:.3f} s; "
          f"table of {n_points} points written in {report['table_write_s']:.2f} s")
    for row in report["fixed_cost"]:
        print(f"2-point sweep, start-up savings {row['tuning']:<3}: {row['wall_s']:.2f} s")
    print(f"target sweep: {target['points']} points, {target['workers']} workers: {target['wall_s']:.1f} s, "
          f"{target['beyond_binary_per_point_per_worker_s']:.3f} s per point per worker beyond the binary")
    for row in report.get("classifier", []):
        print(f"cross_val_score ({row['cache']}): {row['wall_s']:.1f} s, {row['compiles']} compile(s), "
              f"{row['builds']} build(s)")
    report["load_average_end"] = os.getloadavg()
    print(f"load average at the start {report['machine']['load_average']}, at the end {report['load_average_end']}; "
          f"targets: {report['targets']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(records.jsonable(report), indent=2) + "\n")
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
