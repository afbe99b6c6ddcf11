"""The ``brianlab`` command line.

::

    brianlab devices [--json]               which devices can build and run here
    brianlab list [--json]                  the models
    brianlab show MODEL                     a model's parameters, units and defaults
    brianlab run MODEL [options]            build, run and record one model
    brianlab sweep MODEL --grid N=V1,V2 ... run a model over a parameter grid on Dask
    brianlab plot RUN_DIR [--out DIR]       draw a saved run's figures again
    brianlab demo                           the short demo the set-up runs

Errors a user can fix are printed as one line, ``brianlab: error: ...``, with
exit status 2.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

from brianlab import devices
from brianlab.errors import BrianlabError

__all__ = ["main", "add_device_arguments", "device_options", "run_model", "record_run", "session_counters"]


# ----------------------------------------------------------------------------
# arguments shared with runs/ scripts
# ----------------------------------------------------------------------------


def add_device_arguments(parser):
    """Add ``--device`` and the device options to an argparse parser."""
    group = parser.add_argument_group("device")
    group.add_argument(
        "--device",
        default=None,
        help=f"one of {', '.join(devices.DEVICE_NAMES)} (default: ${devices.ENV_VAR} or runtime)",
    )
    group.add_argument("--threads", type=int, default=0, help="cpp_standalone: OpenMP threads (0: none)")
    group.add_argument("--build-dir", type=Path, default=None, help="standalone: build the project here")
    group.add_argument("--gpu-id", type=int, default=None, help="cuda_standalone: GPU to run on")
    group.add_argument(
        "--compute-capability", type=float, default=None, help="cuda_standalone: compile for this (e.g. 9.0)"
    )
    group.add_argument(
        "--compile-only", action="store_true", help="standalone: generate and compile, do not run"
    )
    group.add_argument(
        "--codegen", default="auto", choices=("auto", "cython", "numpy"), help="runtime: code generation target"
    )
    return parser


def device_options(args):
    """:class:`~brianlab.devices.DeviceOptions` from parsed arguments."""
    return devices.DeviceOptions(
        threads=args.threads,
        build_dir=args.build_dir,
        gpu_id=args.gpu_id,
        compute_capability=args.compute_capability,
        compile_only=args.compile_only,
        codegen_target=args.codegen,
    )


# ----------------------------------------------------------------------------
# running one model into a run directory
# ----------------------------------------------------------------------------


def run_model(model, params, device, options, seed=0, out=None, from_dir=None, progress=True, log=None):
    """Build, run and record ``model``; return ``(run_dir, metrics)``.

    Parameters
    ----------
    model : brianlab.model.Model
    params : instance of ``model.params``
    device : str
        A device name (see :mod:`brianlab.devices`).
    options : brianlab.devices.DeviceOptions
    seed : int
    out : Path, optional
        The run directory (must not exist). Default: a new one under ``results/``.
    from_dir : Path, optional
        A previous run of the same model to start from (``--from``).
    progress : bool
        Show Brian's progress reports on stderr.
    log : callable, optional
        Called with one-line status messages.

    Raises
    ------
    BrianlabError
        For anything the user can fix; nothing is written then.
    """
    from brianlab import records

    log = log or (lambda message: None)
    device = devices.resolve_name(device)
    devices.require(device, options)
    previous = None
    if from_dir is not None:
        if not model.accepts_from:
            raise BrianlabError(f"model {model.name!r} does not start from a previous run; leave out --from")
        previous = records.load_run(from_dir, model)
    final = Path(out) if out is not None else records.default_run_dir(model.name, device, seed)
    staged = records.StagedRun(final)
    try:
        session = devices.DeviceSession(device, options, build_root=staged.path / "build", seed=seed, progress=progress)
        with session:
            path, metrics = record_run(model, params, session, staged, previous)
    except BrianlabError:
        staged.discard()
        raise
    except BaseException:
        if staged.path.exists():
            log(f"run failed; its partial output is kept at {staged.path}")
        raise
    if metrics.get("compiled_only"):
        log(f"compiled {model.name} for {device} (not run: --compile-only); build in {final / 'build'}")
    return path, metrics


def record_run(model, params, session, staged, previous=None, extra_config=None, since=None, figures=True):
    """Simulate ``params`` on an open session, record the run in ``staged`` and commit it.

    The session stays open, so a caller that records many runs of one network
    shape (a sweep) compiles it once: each run reruns the compiled project.

    Parameters
    ----------
    model : brianlab.model.Model
    params : instance of ``model.params``
    session : brianlab.devices.DeviceSession
        Active (inside its ``with`` block); ``session.seed`` is the run's seed.
    staged : brianlab.records.StagedRun
        Where the run is written; committed (renamed into place) at the end.
    previous : brianlab.model.RunRecord, optional
        The run to start from (``--from``).
    extra_config : dict, optional
        More entries for ``config.json``.
    since : optional
        A :func:`session_counters` snapshot: count builds, runs and wall time
        from there (a build made for this run just before it). Default: now.
    figures : bool
        Draw the model's figures (``brianlab plot RUN_DIR`` can draw them later).

    Returns
    -------
    (Path, dict)
        The committed run directory and its metrics. ``build_wall_s``,
        ``run_wall_s``, ``n_builds``, ``n_compiles`` and ``n_runs`` count this run
        only, not earlier runs on the same session.
    """
    from brianlab import records
    from brianlab.params import to_json
    from brianlab.simulation import CompileOnly

    from_run = None if previous is None else previous.path
    config = records.config_record(model.name, to_json(params), session.name, session.options, session.seed, from_run)
    config.update(extra_config or {})
    staged.write_json(records.CONFIG, config)
    start, before = since or session_counters(session)
    try:
        result = model.simulate(params, session, previous)
    except CompileOnly as done:
        metrics = {"compiled_only": True, "project": str(Path(done.directory)), "build_wall_s": done.build_s}
        staged.write_json(records.METRICS, metrics)
        return staged.commit(), metrics
    metrics = dict(result.metrics)
    metrics.update(_timings(session, time.perf_counter() - start, before))
    metrics["device"] = session.name
    staged.write_json(records.METRICS, metrics)
    staged.write_arrays(result.arrays)
    if figures:
        model.figures(records.load_run(staged.path, model), staged.path / records.FIGURES)
    return staged.commit(), metrics


_COUNTERS = ("build_s", "run_s", "n_builds", "n_compiles", "n_runs")


def session_counters(session):
    """(time, {program id: its counters}): to tell one run's share from a session's totals."""
    return time.perf_counter(), {id(p): [getattr(p, name) for name in _COUNTERS] for p in session.programs}


def _timings(session, total_s, before=None):
    totals = [0] * len(_COUNTERS)
    for program in session.programs:
        earlier = (before or {}).get(id(program), [0] * len(_COUNTERS))
        for k, name in enumerate(_COUNTERS):
            totals[k] += getattr(program, name) - earlier[k]
    build_s, run_s, n_builds, n_compiles, n_runs = totals
    return {
        "build_wall_s": build_s,
        "run_wall_s": run_s,
        "total_wall_s": total_s,
        "n_builds": n_builds,
        "n_compiles": n_compiles,
        "n_runs": n_runs,
    }


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
    return 0


def cmd_run(args):
    from brianlab.model import get_model
    from brianlab.params import apply_assignments

    model = get_model(args.model)
    params = apply_assignments(model.params, args.set)
    log = lambda message: print(message, file=sys.stderr)  # noqa: E731  (stdout is for --json)
    path, metrics = run_model(
        model,
        params,
        args.device,
        device_options(args),
        seed=args.seed,
        out=args.out,
        from_dir=getattr(args, "from_dir", None),
        progress=not args.quiet,
        log=log,
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
    from brianlab.sweep import TIMINGS, parse_grid, run_sweep

    log = lambda message: print(message, file=sys.stderr)  # noqa: E731  (stdout is for the summary)
    grid = parse_grid(args.grid)
    result = run_sweep(
        args.model,
        grid,
        seeds=args.seeds,
        base_seed=args.seed,
        fixed=args.set,
        device=args.device,
        options=device_options(args),
        scheduler=args.scheduler,
        workers=args.workers,
        out=args.out,
        retries=args.retries,
        point_figures=not args.no_point_figures,
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

    config_file = Path(args.run_dir) / records.CONFIG
    if not config_file.is_file():
        raise BrianlabError(f"{args.run_dir} is not a run directory (no {records.CONFIG})")
    try:
        model_name = json.loads(config_file.read_text())["model"]
    except (json.JSONDecodeError, KeyError):
        raise BrianlabError(f"{config_file} is not a brianlab config (no 'model')") from None
    model = get_model(model_name)
    record = records.load_run(args.run_dir, model)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else Path(args.run_dir) / f"replot-{stamp}"
    if out.exists():
        raise BrianlabError(f"{out} already exists and is never overwritten; choose another --out")
    paths = model.figures(record, out)
    for p in paths:
        print(p)
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
    path, metrics = run_model(model, model.params(), device, devices.DeviceOptions(), seed=args.seed,
                              log=lambda m: print(m, file=sys.stderr))
    _print_summary(path, metrics)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="brianlab", description="Brian2 experiment suite")
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
    p.add_argument("--seed", type=int, default=0, help="seed for every random source (default 0)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="set a parameter, Brian units (tau_m=20*ms); repeatable")
    p.add_argument("--out", type=Path, default=None, help="run directory (must not exist; default under results/)")
    p.add_argument("--from", dest="from_dir", type=Path, default=None, metavar="RUN_DIR",
                   help="start from a previous run's saved state (models that support it)")
    p.add_argument("--json", action="store_true", help="print metrics.json to stdout")
    p.add_argument("--quiet", action="store_true", help="no progress reports")
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
    p.add_argument("--seeds", type=int, default=1, help="seeds per grid point: --seed, --seed+1, ... (default 1)")
    p.add_argument("--seed", type=int, default=0, help="the first seed (default 0)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="set a parameter for every point; repeatable")
    add_device_arguments(p)
    p.add_argument("--scheduler", default="local",
                   help="'local' (a cluster of worker processes on this machine) or a Dask scheduler's "
                   "address, tcp://HOST:8786 (default local)")
    p.add_argument("--workers", type=int, default=None, help="local: worker processes (default: one per core)")
    p.add_argument("--retries", type=int, default=2, help="times Dask runs a task again after it failed or its worker died (default 2)")
    p.add_argument("--out", type=Path, default=None,
                   help="sweep directory; the same one resumes (default results/sweeps/MODEL-<hash>)")
    p.add_argument("--no-point-figures", action="store_true",
                   help="do not draw each point's figures (faster; 'brianlab plot RUN_DIR' draws them later)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("plot", help="draw a saved run's figures again")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--out", type=Path, default=None, help="where (default: RUN_DIR/replot-<time>)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("demo", help="the short demo that the set-up runs")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv=None):
    """Entry point of the ``brianlab`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BrianlabError as exc:
        print(f"brianlab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("brianlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
