"""The ``brianlab`` command line.

::

    brianlab devices [--json]               which devices can build and run here
    brianlab list [--json]                  the models
    brianlab show MODEL                     a model's parameters, units and defaults
    brianlab run MODEL [options]            build, run and record one model
    brianlab sweep MODEL --grid N=V1,V2 ... run a model over a parameter grid on Dask
    brianlab plot RUN_DIR [--out DIR]       draw a saved run's figures again, into a new directory
    brianlab export RUN_DIR --format nwb    a run (or every point of a sweep) as an NWB file
    brianlab runs [DIR]                     a table of past runs (default results/)
    brianlab compare RUN_A RUN_B [...]      differing parameters and every metric side by side
    brianlab demo                           the short demo the set-up runs
    brianlab gpu-check [--gpu-id N]         cuda_standalone against cpp_standalone: run it first on a GPU

Errors a user can fix, including a malformed option, are printed as one line,
``brianlab: error: ...``, with exit status 2.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

from brianlab import devices, runner
from brianlab.arguments import (
    ArgumentParser,
    _compute_capability,
    add_device_arguments,
    add_preset_argument,
    device_options,
    run_script,
    seed_value,
    whole_number,
)
from brianlab.errors import BrianlabError

__all__ = ["main"]


# ----------------------------------------------------------------------------
# commands
# ----------------------------------------------------------------------------


def cmd_devices(args):
    statuses = devices.probe_all(devices.DeviceOptions())
    if args.json:
        print(json.dumps([s.to_json() for s in statuses], indent=2))
        return 0
    print(f"{'device':<16} {'build':<6} {'run':<6} details")
    for s in statuses:
        detail = s.found if not s.missing else (s.found + "; " if s.found else "") + s.missing
        print(f"{s.name:<16} {_yes(s.can_build):<6} {_yes(s.can_run):<6} {detail}")
    return 0


def _yes(flag):
    return "yes" if flag else "no"


def cmd_list(args):
    from brianlab.model import get_model, model_names

    rows = [(name, get_model(name).summary) for name in model_names()]
    if args.json:
        print(json.dumps(dict(rows), indent=2))
        return 0
    width = max(len(name) for name, _ in rows)
    for name, summary in rows:
        print(f"{name:<{width}}  {summary}")
    return 0


def cmd_show(args):
    from brianlab.model import get_model
    from brianlab.params import describe

    model = get_model(args.model)
    print(f"{model.name}: {model.summary}\n")
    rows = describe(model.params)
    widths = [max(len(row[k]) for row in rows) for k in range(3)]
    print(f"{'parameter':<{widths[0]}}  {'default':<{widths[1]}}  {'kind':<{widths[2]}}  description")
    for name, default, kind, comment in rows:
        print(f"{name:<{widths[0]}}  {default:<{widths[1]}}  {kind:<{widths[2]}}  {comment}")
    print("\nset with: brianlab run", model.name, "--set name=value (units as in Brian: 20*ms, 3*uA/cm**2)")
    for name, assignments in model.presets.items():
        print(f"preset {name} (--preset {name}): --set " + " --set ".join(assignments))
    return 0


def cmd_run(args):
    from brianlab.model import get_model
    from brianlab.params import apply_assignments

    model = get_model(args.model)
    params = apply_assignments(model.params, model.preset(args.preset) + args.set)
    log = lambda message: print(message, file=sys.stderr)  # noqa: E731  (stdout is for --json)
    path, metrics = runner.run_model(
        model,
        params,
        args.device,
        device_options(args),
        seed=args.seed,
        out=args.out,
        from_dir=getattr(args, "from_dir", None),
        progress=not (args.quiet or args.json),
        log=log,
        nwb=args.nwb,
        verbose=args.verbose and not args.quiet,
    )
    if args.json:
        print(json.dumps(metrics, indent=2, default=str))
    else:
        _print_summary(path, metrics)
    return 0


def _print_summary(path, metrics):
    shown = {k: v for k, v in metrics.items() if isinstance(v, (int, float, bool)) and not k.endswith("_s")}
    for key, value in shown.items():
        print(f"  {key:<24} {value:.6g}" if isinstance(value, float) else f"  {key:<24} {value}")
    timing = ", ".join(f"{k} {metrics[k]:.2f}" for k in ("build_wall_s", "run_wall_s") if k in metrics)
    if timing:
        print(f"  ({timing})")
    print(f"results: {path}")


def cmd_sweep(args):
    from brianlab.model import get_model
    from brianlab.sweep import TIMINGS, parse_grid, run_sweep

    log = lambda message: print(message, file=sys.stderr)  # noqa: E731  (stdout is for the summary)
    grid = parse_grid(args.grid)
    fixed = get_model(args.model).preset(args.preset) + args.set
    result = run_sweep(
        args.model,
        grid,
        seeds=args.seeds,
        base_seed=args.seed,
        fixed=fixed,
        device=args.device,
        options=device_options(args),
        scheduler=args.scheduler,
        workers=args.workers,
        out=args.out,
        retries=args.retries,
        point_figures=args.point_figures,
        progress=not args.quiet,
        log=log,
    )
    table = result.table.copy()
    for k, name in enumerate(grid):  # the values as typed, not in SI units
        table[name] = [point.assignments[k].split("=", 1)[1] for point in result.points]
    lead = [*grid, "seed", "status"]
    metrics = [c for c in table.columns if c not in ("point", *lead, *TIMINGS, "worker", "build_dir", "run_dir", "error")]
    print(table[lead + metrics[:3]].to_string(index=False, max_rows=40))
    print(f"{len(table)} points: {result.n_done} done ({result.n_ran} run now, {result.n_skipped} before), "
          f"{result.n_failed} failed")
    print(f"table: {result.out / 'table.csv'} (and table.parquet); figures: {result.out / 'figures'}")
    if result.n_failed:
        print(f"errors: {result.out / 'failed'} (run the same command again to retry the failed points)")
    return 0 if result.n_done == len(table) else 1


def cmd_plot(args):
    from brianlab import records
    from brianlab.model import get_model

    run_dir = Path(args.run_dir)
    config_file = run_dir / records.CONFIG
    if not config_file.is_file():
        raise BrianlabError(f"{args.run_dir} is not a run directory (no {records.CONFIG})")
    model_name = records.load_run(run_dir).config.get("model")
    if not isinstance(model_name, str):
        raise BrianlabError(f"{config_file} is not a brianlab config (no 'model')")
    model = get_model(model_name)
    record = records.load_run(run_dir, model)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else run_dir.parent / f"{run_dir.resolve().name}.replot-{stamp}"
    staged = records.StagedDirectory(out, "figure directory")  # refuses an existing one
    try:
        try:
            paths = model.figures(record, staged.path)
        except KeyError as exc:
            raise BrianlabError(f"{run_dir / records.DATA} has no array {exc}; the run is incomplete or "
                                "from another version of the model") from None
    except BaseException:
        staged.discard()
        raise
    final = staged.commit()
    for p in paths:
        print(final / Path(p).relative_to(staged.path))
    return 0


def cmd_export(args):
    from brianlab import nwb

    for path in nwb.export(args.source, args.out):
        print(path)
    return 0


def _cell(value):
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _print_table(header, rows):
    widths = [max(len(h), *(len(r[k]) for r in rows)) if rows else len(h) for k, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def cmd_runs(args):
    import csv

    from brianlab import catalog

    entries, notes = catalog.find_runs(args.dir)
    entries = catalog.filter_runs(entries, args.model, args.where)
    if args.sort:
        entries = catalog.sort_runs(entries, args.sort)
    for note in notes:
        print(f"brianlab: note: {note}", file=sys.stderr)
    if args.json or args.csv:
        rows = catalog.runs_table(entries)
        if args.json:
            print(json.dumps(rows, indent=2, default=str))
        else:
            header = list(dict.fromkeys(k for row in rows for k in row)) or ["time", "model", "device", "seed"]
            writer = csv.DictWriter(sys.stdout, fieldnames=header, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        return 0
    if not entries:
        print(f"no runs under {args.dir}" + (" that match" if args.model or args.where else ""), file=sys.stderr)
        return 0
    rows = catalog.runs_table(entries, main_only=True)
    lead = ["time", "model", "device", "seed", "changed"]
    metrics = [k for k in rows[0] if k not in (*lead, "sweep", "path")]
    if len({r["model"] for r in rows}) == 1:
        header = [*lead, *metrics, "run"]
        cells = [[_cell(r[k]) for k in (*lead, *metrics)] + [r["path"]] for r in rows]
    else:  # several models: their main metrics as name=value
        main = {e.model: catalog.metric_names([e], main_only=True) for e in entries}
        header = [*lead, "metrics", "run"]
        cells = [[_cell(r[k]) for k in lead]
                 + [" ".join(f"{m}={_cell(r[m])}" for m in main[r["model"]])] + [r["path"]] for r in rows]
    _print_table(header, cells)
    print(f"{len(rows)} runs" + (f" ({len(notes)} directories skipped)" if notes else ""))
    return 0


def cmd_compare(args):
    from brianlab import catalog

    result = catalog.compare(args.runs)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, default=str))
        return 0
    names = [chr(ord("A") + k) if k < 26 else str(k) for k in range(len(result.runs))]
    for name, run in zip(names, result.runs):
        print(f"{name}: {run.path}  ({run.model}, {run.config.get('device')}, seed {run.config.get('seed')}, "
              f"{run.started})")
    print()
    if result.params:
        _print_table(["parameter", *names], [[k, *(_cell(v) for v in values)] for k, values in result.params.items()])
    else:
        print("parameters: all the same")
    print()
    diff_names = [f"{n}-A" for n in names[1:]]
    rows = [[k, *(_cell(v) for v in values), *(_cell(result.difference(k, j)) for j in range(1, len(values)))]
            for k, values in result.metrics.items()]
    _print_table(["metric", *names, *diff_names], rows)
    return 0


#: What ``brianlab demo`` (and so the set-up) runs.
DEMO = ("lif", "cpp_standalone")


def cmd_demo(args):
    from brianlab.model import get_model

    name, device = DEMO
    if not devices.probe(device).can_run:
        device = "runtime"
    model = get_model(name)
    print(f"demo: {name} on {device} ({model.summary})", file=sys.stderr)
    path, metrics = runner.run_model(model, model.params(), device, devices.DeviceOptions(), seed=args.seed,
                              log=lambda m: print(m, file=sys.stderr))
    _print_summary(path, metrics)
    return 0


def cmd_gpu_check(args):
    from brianlab.gpucheck import gpu_check

    result = gpu_check(devices.DeviceOptions(gpu_id=args.gpu_id, compute_capability=args.compute_capability),
                       log=lambda m: print(m, file=sys.stderr))
    if result.agree:
        print("gpu-check: cuda_standalone agrees with cpp_standalone (run_args on capitalised variables included)")
        return 0
    for line in result.differences:
        print(f"gpu-check: {line}")
    return 1


def build_parser():
    parser = ArgumentParser(prog="brianlab", description="Brian2 experiment suite")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("devices", help="which devices can build and run here, and why not")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_devices)

    p = sub.add_parser("list", help="the models, one line each")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="a model's parameters with units and defaults")
    p.add_argument("model")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("run", help="build, run and record one model")
    p.add_argument("model")
    add_device_arguments(p)
    p.add_argument("--seed", type=seed_value, default=0, help="seed for every random source, 0 ... 2**32-1 (default 0)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="set a parameter, Brian units (tau_m=20*ms); repeatable")
    add_preset_argument(p)
    p.add_argument("--out", type=Path, default=None, help="run directory (must not exist; default under results/)")
    p.add_argument("--from", dest="from_dir", type=Path, default=None, metavar="RUN_DIR",
                   help="start from a previous run's saved state (models that support it)")
    p.add_argument("--json", action="store_true", help="print metrics.json to stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bar (nor report lines)")
    p.add_argument("--verbose", action="store_true", help="also print Brian's report line of every program run")
    p.add_argument("--nwb", action="store_true", help="also write the run as data.nwb (see 'brianlab export')")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "sweep",
        help="run a model over a grid of parameters (and seeds) on Dask, compiled once per shape",
        description="Run MODEL for every combination of the --grid values (times --seeds seeds) on Dask. "
        "Parameters that the model declares sweepable are set in a compiled program, so each worker "
        "compiles a network shape once. Running the same sweep again resumes it: finished points are "
        "skipped, failed ones run again. With --build-dir, builds are cached there (default: "
        "$BRIANLAB_BUILD_CACHE or ~/.cache/brianlab/builds). Exit status 1 if a point failed.",
    )
    p.add_argument("model")
    p.add_argument("--grid", action="append", required=True, metavar="NAME=V1,V2,...",
                   help="values of one parameter, Brian units (drive_max=20*mV,30*mV); repeatable")
    p.add_argument("--seeds", type=whole_number(1, None, "the number of seeds"), default=1, help="seeds per grid point: --seed, --seed+1, ... (default 1)")
    p.add_argument("--seed", type=seed_value, default=0, help="the first seed (default 0)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="set a parameter for every point; repeatable")
    add_preset_argument(p, "start every point from a named --set list of the model")
    add_device_arguments(p)
    p.add_argument("--scheduler", default="local",
                   help="'local' (a cluster of worker processes on this machine) or a Dask scheduler's "
                   "address, tcp://HOST:8786 (default local)")
    p.add_argument("--workers", type=whole_number(1, None, "the number of workers"), default=None,
                   help="local: worker processes (default: one per core; cuda_standalone: one per visible GPU)")
    p.add_argument("--retries", type=whole_number(0, None, "the number of retries"), default=2, help="times Dask runs a task again after it failed or its worker died (default 2)")
    p.add_argument("--out", type=Path, default=None,
                   help="sweep directory; the same one resumes (default results/sweeps/MODEL-<hash>)")
    figures = p.add_mutually_exclusive_group()
    figures.add_argument("--point-figures", dest="point_figures", action="store_true", default=False,
                         help="also draw each point's own figures into its run directory (about 1 s a point; "
                         "default: only the sweep's figures, 'brianlab plot RUN_DIR' draws a point's later)")
    figures.add_argument("--no-point-figures", dest="point_figures", action="store_false",
                         help=argparse.SUPPRESS)  # the default now; kept so older commands still work
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("plot", help="draw a saved run's figures again")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--out", type=Path, default=None,
                   help="a new directory for the figures (default: RUN_DIR.replot-<time> beside RUN_DIR, "
                   "which is never written to)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("gpu-check", help="run a tiny network on cuda_standalone and cpp_standalone and compare",
                       description="Exit status 0: the devices agree; 1: they differ (what to fix is "
                       "printed); 2: the check cannot run here (the reason, in one line). See docs/gpu.md.")
    p.add_argument("--gpu-id", type=whole_number(0, None, "the GPU id"), default=None,
                   help="the GPU, counted among CUDA_VISIBLE_DEVICES (default 0)")
    p.add_argument("--compute-capability", type=_compute_capability, default=None, help="compile for this (default: the GPU's)")
    p.set_defaults(func=cmd_gpu_check)

    p = sub.add_parser(
        "export", help="write a run, or every finished point of a sweep, as an NWB file",
        description="Write RUN_DIR as NWB (Neurodata Without Borders): spikes in the units table, traces as "
        "TimeSeries, parameters and versions as metadata. Default: RUN_DIR/data.nwb; for a sweep directory, "
        "POINT/data.nwb for every finished point (or --out DIR/POINT.nwb). Nothing is overwritten.",
    )
    p.add_argument("source", type=Path, metavar="RUN_DIR", help="a run directory or a sweep directory")
    p.add_argument("--format", default="nwb", choices=("nwb",), help="the file format (nwb)")
    p.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="where (must not exist); for a sweep, a directory")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "runs", help="a table of past runs: time, model, device, seed, changed parameters, main metrics",
        description="List the run directories under DIR (sweep points included), oldest first: when, which "
        "model, device and seed, the parameters that differ from the model's defaults and its main metrics "
        "(--csv and --json: all metrics). Unfinished or broken directories are skipped with a note on stderr.",
    )
    p.add_argument("dir", type=Path, nargs="?", default=Path("results"), metavar="DIR",
                   help="where to look (default results/)")
    p.add_argument("--model", default=None, help="only runs of this model")
    p.add_argument("--where", action="append", default=[], metavar="NAME=VALUE",
                   help="only runs whose parameter, metric, device or seed NAME is VALUE (tau_m=20*ms); repeatable")
    p.add_argument("--sort", default=None, metavar="METRIC", help="order by this metric (or parameter), smallest first")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--csv", action="store_true", help="print CSV (every metric)")
    form.add_argument("--json", action="store_true", help="print JSON (every metric)")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("compare", help="two or more runs side by side: differing parameters, every metric")
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN_DIR", help="run directories (at least two)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("demo", help="the short demo that the set-up runs")
    p.add_argument("--seed", type=seed_value, default=0)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv=None):
    """Entry point of the ``brianlab`` command."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # a usage error (printed as one line) or --help
        return exc.code if isinstance(exc.code, int) else 2
    return run_script(args.func, args)  # a BrianlabError as one line, exit 2


if __name__ == "__main__":
    sys.exit(main())
