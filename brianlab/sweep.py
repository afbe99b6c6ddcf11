"""Parameter sweeps on Dask (``brianlab sweep``): compiled once per shape, resumable.

A sweep runs a model over the Cartesian product of a grid of parameter values
times a number of seeds. Every point is an ordinary run directory; the sweep
adds a table (CSV and Parquet) and a figure per metric::

    OUT/sweep.json          what was asked: model, grid, seeds, device, the points
    OUT/runs/<point>/       one run directory per finished point (as brianlab run writes)
    OUT/failed/<point>.json the error of each failed point
    OUT/table.csv, .parquet parameters, seed, status, metrics, build/run times per point
    OUT/figures/<metric>.png each metric against the swept parameters (heat map for two)

How the work is organised:

- Points are grouped by network shape: the model's parameters that are not in
  ``Model.sweepable`` (those reach a compiled network as ``run_args`` values).
  Each group is split into as many chunks as its share of the workers, and one
  Dask task runs one chunk: it opens one :class:`~brianlab.devices.DeviceSession`,
  compiles the shape once and reruns the binary for every point.
- Builds are cached under ``BUILD_CACHE/<model>-<device>-<hash>/slot-<k>``, the
  hash covering the model's name, the shape, the device, its options and the
  Brian versions. A task holds a lock on its slot, so parallel workers never
  share a build directory; a later task (in this sweep or another) that gets a
  slot already built regenerates the same files, Brian leaves them untouched,
  and ``make`` compiles nothing.
- Resumable: a point whose run directory exists is finished (run directories are
  written under a hidden name and renamed into place when complete), so running
  the same sweep again runs only the missing or failed points, and killing a
  sweep loses no finished point. A failing point records its error and the
  others go on; a task whose worker dies is run again by Dask (``retries``).

The Python entry point is :func:`run_sweep`; ``runs/`` scripts that scan
parameters use it too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fcntl
import hashlib
import itertools
import json
import logging
import math
import os
import platform
import re
import shutil
import sys
import threading
import time
import traceback
from pathlib import Path

import numpy as np

from brianlab import cuda, devices, records
from brianlab.errors import BrianlabError

__all__ = [
    "Point",
    "SweepResult",
    "parse_grid",
    "default_build_cache",
    "run_sweep",
    "run_chunk",
    "load_table",
    "plot_metric",
]

SPEC, TABLE_CSV, TABLE_PARQUET = "sweep.json", "table.csv", "table.parquet"
RUNS, FAILED, FIGURES = "runs", "failed", "figures"
COMPLETE = ".complete"  # stamp of a build slot that a point ran with
CACHE_ENV_VAR = "BRIANLAB_BUILD_CACHE"
#: The seed compiled into every sweep build; each point's run draws from its own seed.
BUILD_SEED = 0
#: Per-point bookkeeping in metrics.json, kept out of the metric figures.
TIMINGS = ("build_wall_s", "run_wall_s", "total_wall_s", "n_builds", "n_compiles", "n_runs")
#: How often (s) the table is rewritten while a sweep runs.
TABLE_EVERY_S = 15.0


@dataclasses.dataclass(frozen=True)
class Point:
    """One simulation of a sweep.

    Attributes
    ----------
    id : str
        Its run directory's name: the values, the seed and a hash of everything
        that defines the run (model, fixed parameters, device and its options).
    assignments : tuple of str
        The grid values as ``name=value`` texts.
    columns : tuple of (str, object)
        The grid values for the table: SI floats for quantities.
    seed : int
    """

    id: str
    assignments: tuple
    columns: tuple
    seed: int


@dataclasses.dataclass(frozen=True)
class Chunk:
    """Points of one network shape that one task runs on one worker, in order."""

    model: str
    device: str
    options: devices.DeviceOptions
    fixed: tuple
    points: tuple
    out: str
    build_dir: str
    command: tuple
    point_figures: bool = True


@dataclasses.dataclass
class SweepResult:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    out : Path
        The sweep directory.
    table : pandas.DataFrame
        One row per point (see :func:`load_table`).
    n_ran, n_skipped : int
        Points run by this call, and points finished by an earlier one.
    figures : list of Path
    points : list of Point
        In the table's order.
    grid : dict
        ``{name: [value texts]}``.
    """

    out: Path
    table: object
    n_ran: int
    n_skipped: int
    figures: list
    points: list
    grid: dict

    @property
    def n_done(self):
        return int((self.table["status"] == "done").sum())

    @property
    def n_failed(self):
        return int((self.table["status"] == "failed").sum())


# ----------------------------------------------------------------------------
# planning: grid, points, shapes
# ----------------------------------------------------------------------------


def parse_grid(items):
    """``{name: [text, ...]}`` from ``--grid name=v1,v2,...`` strings.

    Raises
    ------
    BrianlabError
        For a malformed item, an empty value or a name given twice.
    """
    grid = {}
    for item in items or ():
        if "=" not in item:
            raise BrianlabError(f"--grid expects name=value1,value2,... (e.g. drive_max=20*mV,30*mV), got {item!r}")
        name, text = (part.strip() for part in item.split("=", 1))
        values = [v.strip() for v in text.split(",")]
        if not name or not all(values):
            raise BrianlabError(f"--grid {item!r} has an empty name or value; write name=value1,value2,...")
        if name in grid:
            raise BrianlabError(f"--grid names {name!r} twice; give all its values in one --grid {name}=v1,v2,...")
        grid[name] = values
    return grid


def default_build_cache():
    """Where sweep builds are cached: ``$BRIANLAB_BUILD_CACHE``, else ``~/.cache/brianlab/builds``."""
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "brianlab" / "builds"


def _canonical(value):
    """A JSON-able, unit-aware form of a parameter value (for hashes and the table)."""
    from brian2 import Quantity, get_dimensions

    if isinstance(value, Quantity):
        return [float(value), str(get_dimensions(value))]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _column_value(value):
    from brian2 import Quantity

    if isinstance(value, Quantity):
        return float(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _digest(data, length):
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:length]


def _options_key(device, options):
    """The device options that change what is built or computed (not where)."""
    key = {
        "device": device,
        "threads": options.threads,
        "gpu_id": options.gpu_id,
        "compute_capability": options.compute_capability,
        "codegen_target": options.codegen_target,
    }
    if device == "cuda_standalone":  # the architecture actually compiled for, and the nvcc that did it
        key.update(cuda.build_identity(options.gpu_id, options.compute_capability))
    return key


def _slug(assignments, seed):
    parts = [re.sub(r"[^A-Za-z0-9._=+-]", "", a.replace("*", "")) for a in assignments]
    return "_".join([*parts, f"seed={seed}"])[:80]


def _normalise_grid(model, grid, fixed):
    """Check every grid value's name and unit; return {name: [text, ...]} and {name: [value, ...]}."""
    from brianlab.params import format_value, parse_assignments

    if not grid:
        raise BrianlabError("a sweep needs at least one --grid name=value1,value2,...")
    fixed_names = set(parse_assignments(model.params, fixed))
    texts, values = {}, {}
    for name, entries in grid.items():
        if name in fixed_names:
            raise BrianlabError(f"parameter {name!r} is both --set and --grid; give it in one of them")
        if not entries:
            raise BrianlabError(f"--grid {name} has no values")
        texts[name], values[name] = [], []
        for entry in entries:
            text = entry if isinstance(entry, str) else format_value(entry)
            (value,) = parse_assignments(model.params, [f"{name}={text}"]).values()
            texts[name].append(text)
            values[name].append(value)
    return texts, values


def _plan(model, texts, values, seeds, fixed, device, options):
    """The points, each point's shape (None where its parameters are invalid) and their errors."""
    from brianlab.params import apply_assignments, parse_assignments

    fixed_canonical = {k: _canonical(v) for k, v in parse_assignments(model.params, fixed).items()}
    options_key = _options_key(device, options)
    names = list(texts)
    points, shapes, errors = [], {}, {}
    for combo in itertools.product(*(range(len(texts[n])) for n in names)):
        assignments = tuple(f"{n}={texts[n][k]}" for n, k in zip(names, combo))
        columns = tuple((n, _column_value(values[n][k])) for n, k in zip(names, combo))
        canonical = {n: _canonical(values[n][k]) for n, k in zip(names, combo)}
        try:
            params = apply_assignments(model.params, [*fixed, *assignments])
            shape = _shape_name(model, model.program_key(params), options_key)
        except BrianlabError as exc:
            shape, error = None, str(exc)
        for seed in seeds:
            identity = {"model": model.name, "fixed": fixed_canonical, "values": canonical, "seed": seed,
                        "options": options_key}
            point = Point(f"{_slug(assignments, seed)}-{_digest(identity, 8)}", assignments, columns, int(seed))
            points.append(point)
            shapes[point.id] = shape
            if shape is None:
                errors[point.id] = error
    return points, shapes, errors


def _shape_name(model, key, options_key):
    import brian2

    versions = {"brian2": brian2.__version__, "brian2cuda": records.versions().get("brian2cuda")}
    return f"{model.name}-{options_key['device']}-{_digest([model.name, key, options_key, versions], 12)}"


def _chunks(points, shapes, n_workers):
    """Split each shape's points into as many chunks as its share of the workers."""
    groups = {}
    for point in points:
        groups.setdefault(shapes[point.id], []).append(point)
    total = len(points)
    chunks = []
    for shape, members in groups.items():
        n_chunks = min(len(members), max(1, round(n_workers * len(members) / total)))
        size = math.ceil(len(members) / n_chunks)
        chunks.extend((shape, tuple(members[k:k + size])) for k in range(0, len(members), size))
    return chunks


# ----------------------------------------------------------------------------
# the task a worker runs
# ----------------------------------------------------------------------------

#: Brian's device is global to a process: one chunk at a time per worker process.
_ONE_AT_A_TIME = threading.Lock()


def run_chunk(chunk):
    """Run a chunk's unfinished points on this worker; return ``[(point id, status)]``.

    Status is ``done``, ``failed`` (its error is in ``OUT/failed/<id>.json``) or
    ``skipped`` (its run directory existed already). The chunk's shape is
    compiled at most once, into a build slot that no other task holds.
    """
    from brianlab.model import get_model

    out = Path(chunk.out)
    with _ONE_AT_A_TIME:
        model = get_model(chunk.model)
        worker = _worker_name()
        outcomes = []
        with contextlib.ExitStack() as slots, contextlib.ExitStack() as stack:
            slot = None
            if chunk.device in devices.STANDALONE:
                rerunnable = chunk.device in ("cpp_standalone", "cuda_standalone")
                slot = slots.enter_context(_BuildSlot(Path(chunk.build_dir), share=rerunnable))
            options = dataclasses.replace(chunk.options, build_dir=slot and slot.path)

            def open_session():
                session = devices.DeviceSession(chunk.device, options, progress=False, build_seed=BUILD_SEED)
                return stack.enter_context(session)

            session = None
            for point in chunk.points:
                if (out / RUNS / point.id).is_dir():
                    outcomes.append((point.id, "skipped"))
                    continue
                since = None
                if session is None:
                    session = open_session()
                    since = _compile_shape(model, chunk, point, session)
                    if since is None:  # let the point build for itself, and report what goes wrong
                        stack.close()
                        session = open_session()
                status = _run_point(model, chunk, point, session, worker, since)
                if slot is not None:
                    if status == "done":
                        slot.complete()
                    slot.release()
                outcomes.append((point.id, status))
                if status == "failed":  # start the next point from a clean device
                    stack.close()
                    session = None
        return outcomes


def _compile_shape(model, chunk, point, session):
    """Compile the point's network shape from the model's default sweepable values; don't run it.

    Sweepable values are compiled in as initial values, but every run sets them
    through ``run_args``; compiling each shape from the same values makes its
    code the same whichever point comes first, so a build slot that holds the
    shape already has nothing to compile. Returns the counters to charge the
    build to the point (:meth:`~brianlab.devices.DeviceSession.counters`), or None if the
    build failed.
    """
    from brianlab.params import apply_assignments
    from brianlab.simulation import CompileOnly

    since = session.counters()
    if not session.supports_run_args:
        return since
    defaults = model.params()
    try:
        params = apply_assignments(model.params, [*chunk.fixed, *point.assignments])
        params = dataclasses.replace(params, **{name: getattr(defaults, name) for name in model.sweepable_names(params)})
    except (BrianlabError, ValueError, TypeError):
        return since  # the point itself will tell what is wrong
    options = session.options
    session.options = dataclasses.replace(options, compile_only=True)
    try:
        model.simulate(params, session)
    except CompileOnly:
        pass
    except Exception:  # noqa: BLE001  (the point's own run reports the problem)
        return None
    finally:
        session.options = options
    return since


def _run_point(model, chunk, point, session, worker, since=None):
    from brianlab.params import apply_assignments
    from brianlab.runner import record_run

    out = Path(chunk.out)
    final = out / RUNS / point.id
    try:
        params = apply_assignments(model.params, [*chunk.fixed, *point.assignments])
        session.seed = point.seed
        staged = records.StagedRun(final)
        try:
            sweep_info = {"dir": str(out), "point": point.id, "worker": worker, "command": list(chunk.command)}
            record_run(model, params, session, staged, extra_config={"sweep": sweep_info}, since=since,
                       figures=chunk.point_figures)
        except BaseException:
            staged.discard()
            raise
    except Exception as exc:  # the point fails, the sweep goes on
        if final.is_dir():  # finished meanwhile by another task (a retried one)
            return "skipped"
        _write_failure(out, point, _one_line(exc), traceback.format_exc(), worker)
        return "failed"
    (out / FAILED / f"{point.id}.json").unlink(missing_ok=True)
    return "done"


def _one_line(exc):
    if isinstance(exc, BrianlabError):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}".rstrip(": ")


def _write_failure(out, point, error, trace, worker):
    path = out / FAILED / f"{point.id}.json"
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
    _write_atomically(path, json.dumps(record, indent=2) + "\n")


def _write_atomically(path, text):
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def _worker_name():
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"{platform.node()}:{os.getpid()}"


class _BuildSlot:
    """A build directory of one network shape that no other task uses meanwhile.

    Slots are ``SHAPE_DIR/slot-<k>``, each held with a lock while a task uses
    it; a task takes the first free one. A slot is trusted once a point ran in
    it (it is stamped complete); one without the stamp (a worker killed while
    compiling may have left a truncated object file that looks up to date) is
    emptied first. With ``share``, a task whose slot holds no build waits while
    another task builds the same shape, then copies that build (file times kept,
    so ``make`` finds nothing to do) instead of compiling it again.
    """

    def __init__(self, shape_dir, share=True):
        self.shape_dir = Path(shape_dir)
        self.share = share
        self.path = None
        self._slot_lock = self._build_lock = None

    def __enter__(self):
        self.shape_dir.mkdir(parents=True, exist_ok=True)
        for k in itertools.count():
            lock = _try_lock(self.shape_dir / f"slot-{k}.lock")
            if lock is not None:
                self._slot_lock, self.path = lock, self.shape_dir / f"slot-{k}"
                break
        if self.path.exists() and not _complete(self.path):
            shutil.rmtree(self.path)
        if self.share and not _complete(self.path):
            self._build_lock = _try_lock(self.shape_dir / "build.lock", wait=True)
            source = next((s for s in sorted(self.shape_dir.glob("slot-*")) if _complete(s)), None)
            if source is not None:
                shutil.copytree(source, self.path, ignore=shutil.ignore_patterns(*_PER_RUN_FILES))
                self.release()
        return self

    def complete(self):
        """Stamp the slot: a point ran in it."""
        stamp = self.path / COMPLETE
        if self.path.is_dir() and not stamp.exists():
            stamp.write_text(datetime.datetime.now().isoformat(timespec="seconds") + "\n")

    def release(self):
        """Let tasks waiting for this shape's build go on (it is built, or its first point failed)."""
        if self._build_lock is not None:
            self._build_lock.close()
            self._build_lock = None

    def __exit__(self, *exc):
        self.release()
        for path in self.path.glob("*/static_arrays/init_*"):  # run_args values, one file per value
            path.unlink(missing_ok=True)
        self._slot_lock.close()
        return False


#: Files of a build slot that belong to single runs, not to the build: results,
#: run_args values (Brian reuses one whose name exists, so a half-copied one
#: would be wrong), and locks.
_PER_RUN_FILES = ("results", "init_*", "*.lock")


def _try_lock(path, wait=False):
    """An open file holding an exclusive lock on ``path``, or None if another holds it."""
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _complete(slot):
    """Whether a build slot holds a build that a point ran with."""
    return (slot / COMPLETE).is_file()


# ----------------------------------------------------------------------------
# the client: plan, submit, follow, tabulate
# ----------------------------------------------------------------------------


def run_sweep(model, grid, seeds=1, base_seed=0, fixed=(), device=None, options=None, scheduler="local",
              workers=None, out=None, build_cache=None, retries=2, point_figures=True, progress=True, log=None):
    """Run ``model`` over ``grid`` x seeds on Dask; return a :class:`SweepResult`.

    Parameters
    ----------
    model : str or brianlab.model.Model
    grid : dict
        ``{parameter name: [values]}``; values are texts as ``--set`` takes them
        (``"20*mV"``) or values (``20*mV``).
    seeds : int
        Seeds per grid point: ``base_seed``, ``base_seed + 1``, ...
    base_seed : int
    fixed : sequence of str
        ``name=value`` assignments for every point (``--set``).
    device : str, optional
        Default: ``$BRIANLAB_DEVICE``, else ``runtime``.
    options : brianlab.devices.DeviceOptions, optional
        ``build_dir``, if given, is the build cache.
    scheduler : str, distributed.Client or cluster
        ``"local"``: a ``distributed.LocalCluster`` on this machine, one worker
        process per core (cuda_standalone: one per visible GPU, each pinned to
        its own) or ``workers``; an address (``tcp://host:8786``); or a
        client or cluster object (dask-jobqueue's ``SLURMCluster``).
    workers : int, optional
        Local cluster only: the number of worker processes.
    out : Path, optional
        The sweep directory; running the same sweep into it again resumes.
        Default: ``results/sweeps/<model>-<hash of the sweep>``.
    build_cache : Path, optional
        Default: ``options.build_dir``, else :func:`default_build_cache`.
    retries : int
        Times Dask runs a task again after it failed (a worker that died).
    point_figures : bool
        Draw each point's figures into its run directory (``brianlab plot`` can
        draw them later); the sweep's own figures are drawn either way.
    progress : bool
        Show a progress bar (points done/total, time left) on stderr.
    log : callable, optional
        Called with one-line status messages.

    Raises
    ------
    BrianlabError
        For a mistake in the request (names, units, device, directory); nothing
        is written then. Points that fail do not raise: see the table.
    """
    from brianlab.model import get_model

    log = log or (lambda message: None)
    model = get_model(model) if isinstance(model, str) else model
    options = options or devices.DeviceOptions()
    device = devices.resolve_name(device)
    fixed = tuple(fixed)
    if options.compile_only:
        raise BrianlabError("--compile-only does not apply to a sweep; use brianlab run --compile-only")
    if seeds < 1:
        raise BrianlabError(f"--seeds must be at least 1, got {seeds}")
    local = isinstance(scheduler, str) and scheduler == "local"
    if workers is not None and not local:
        raise BrianlabError("--workers applies to --scheduler local only; an existing cluster has its own workers")
    if workers is not None and workers < 1:
        raise BrianlabError(f"--workers must be at least 1, got {workers}")
    if local:  # a remote cluster's workers may have what this machine lacks (a GPU)
        devices.require(device, options)
    texts, values = _normalise_grid(model, grid, fixed)
    seed_list = list(range(base_seed, base_seed + seeds))
    points, shapes, invalid = _plan(model, texts, values, seed_list, fixed, device, options)
    spec = {
        "model": model.name,
        "device": device,
        "device_options": options.to_json(),
        "fixed": list(fixed),
        "grid": texts,
        "seeds": seed_list,
    }
    out = Path(out) if out is not None else records.RESULTS_ROOT / "sweeps" / f"{model.name}-{_digest(spec, 8)}"
    cache = Path(build_cache or options.build_dir or default_build_cache()).expanduser().resolve()
    options = dataclasses.replace(options, build_dir=None)
    directory = _SweepDirectory(out, model.name)
    directory.check()
    finished_before = {p.id for p in points if (out / RUNS / p.id).is_dir()}
    todo = [p for p in points if p.id not in finished_before and p.id not in invalid]
    with contextlib.ExitStack() as stack:
        pin = device == "cuda_standalone" and local and workers is None and options.gpu_id is None
        gpus = cuda.sweep_gpus() if pin else []
        client, n_workers = stack.enter_context(_dask_client(scheduler, workers or len(gpus) or None, gpus)) \
            if todo else (None, 0)
        out = stack.enter_context(directory)  # from here on, the sweep writes
        spec.update(
            build_cache=str(cache),
            scheduler=scheduler if isinstance(scheduler, str) else type(scheduler).__name__,
            command=sys.argv,
            versions=records.versions(),
            started=datetime.datetime.now().isoformat(timespec="seconds"),
            points=[{"id": p.id, "assignments": list(p.assignments), "seed": p.seed} for p in points],
        )
        _write_atomically(out / SPEC, json.dumps(records.jsonable(spec), indent=2) + "\n")
        for point in points:
            if point.id in finished_before:
                (out / FAILED / f"{point.id}.json").unlink(missing_ok=True)
            elif point.id in invalid:
                _write_failure(out, point, invalid[point.id], "", "client")
        for point in todo:  # run again: its earlier failure no longer stands
            (out / FAILED / f"{point.id}.json").unlink(missing_ok=True)
        table = _Table(out, points, list(texts))
        log(f"sweep {model.name}: {len(points)} points, {len(finished_before)} done before, "
            f"{len(todo)} to run, {len(invalid)} with invalid parameters; {out}")
        n_ran = 0
        if todo:
            chunks = [
                Chunk(model=model.name, device=device, options=options, fixed=fixed, points=members,
                      out=str(out.resolve()), build_dir=str(cache / shape), command=tuple(sys.argv),
                      point_figures=point_figures)
                for shape, members in _chunks(todo, shapes, n_workers)
            ]
            where = f"; builds in {cache}" if device in devices.STANDALONE else ""
            log(f"{len(chunks)} task(s) on {n_workers} worker(s) at {client.scheduler.address}{where}")
            try:
                n_ran = _execute(client, chunks, table, retries, len(points) - len(todo), len(points), progress, log)
            except KeyboardInterrupt:
                table.write()  # what is finished stays finished; the same command resumes
                raise
        frame = table.write()
        figures = plot_sweep(frame, texts, out / FIGURES, title=f"{model.name} on {device}")
    return SweepResult(out=out, table=frame, n_ran=n_ran, n_skipped=len(finished_before), figures=figures,
                       points=points, grid=texts)


def _execute(client, chunks, table, retries, n_before, n_total, progress, log):
    """Submit the chunks and follow them with a progress bar; return how many points ran."""
    from tqdm import tqdm

    futures = [
        client.submit(run_chunk, chunk, key=f"brianlab-sweep-{k}-{os.urandom(4).hex()}", pure=False,
                      retries=retries, priority=-k)
        for k, chunk in enumerate(chunks)
    ]
    todo_ids = {p.id for chunk in chunks for p in chunk.points}
    bar = tqdm(total=n_total, initial=n_before, unit="point", desc="sweep", file=sys.stderr,
               disable=not progress, dynamic_ncols=True, smoothing=0.1, mininterval=0.5)
    last_write = time.monotonic()
    try:
        while not all(f.done() for f in futures):
            if n_before + len(todo_ids & table.finished_ids()) > bar.n:
                bar.update(n_before + len(todo_ids & table.finished_ids()) - bar.n)
            if time.monotonic() - last_write > TABLE_EVERY_S:
                table.write()
                last_write = time.monotonic()
            time.sleep(0.25)
        for future, chunk in zip(futures, chunks):
            if future.status == "finished":
                continue
            error = f"task failed on the cluster: {_one_line(future.exception())}"
            log(error)
            for point in chunk.points:
                if not (table.out / RUNS / point.id).is_dir():
                    _write_failure(table.out, point, error, "", "client")
        ran = len(todo_ids & table.finished_ids())  # whichever task, or retry of it, finished them
        bar.update(n_before + ran - bar.n)
    finally:
        bar.close()
    return ran


@contextlib.contextmanager
def _dask_client(scheduler, workers, gpus=()):
    """``(client, number of workers)`` for a scheduler spec; a local cluster is closed at the end.

    With ``gpus`` (cuda_standalone), local worker ``k`` is pinned to ``gpus[k]``
    (:func:`brianlab.cuda.pin_gpu`, through a worker plugin, so a restarted worker is too).
    """
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        yield scheduler, max(1, len(scheduler.scheduler_info()["workers"]))
        return
    if isinstance(scheduler, str) and scheduler == "local":
        n = workers or os.cpu_count() or 1
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None, silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
            if gpus:
                from brianlab.cuda_workers import PinGpu

                client.register_plugin(PinGpu(tuple(gpus)), name="brianlab-pin-gpu")
            yield client, n
        return
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise BrianlabError(
            f"cannot reach the Dask scheduler at {scheduler}: {_one_line(exc)}; start one with "
            "'dask scheduler' (and workers with 'dask worker ADDRESS') or use --scheduler local"
        ) from None
    with client:
        yield client, max(1, len(client.scheduler_info()["workers"]))


class _SweepDirectory:
    """The sweep directory, locked against a second sweep writing into it at once."""

    def __init__(self, out, model_name):
        self.out = Path(out)
        self.model_name = model_name
        self._lock = None

    def check(self):
        """Refuse a directory that is not a sweep of this model; writes nothing."""
        out = self.out
        if out.exists() and not out.is_dir():
            raise BrianlabError(f"{out} is a file, not a sweep directory; choose another --out")
        if out.is_dir() and any(out.iterdir()) and not (out / SPEC).is_file():
            raise BrianlabError(f"{out} exists and is not a sweep directory (no {SPEC}); choose another --out")
        if (out / SPEC).is_file():
            try:
                previous = json.loads((out / SPEC).read_text()).get("model")
            except json.JSONDecodeError:
                previous = None
            if previous != self.model_name:
                raise BrianlabError(f"{out} is a sweep of model {previous!r}, not {self.model_name!r}; "
                                    "choose another --out")

    def __enter__(self):
        self.check()
        out = self.out
        (out / RUNS).mkdir(parents=True, exist_ok=True)
        (out / FAILED).mkdir(exist_ok=True)
        lock = open(out / ".sweep.lock", "a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise BrianlabError(f"another sweep is writing into {out}; wait for it or choose another --out") from None
        self._lock = lock
        for partial in (out / RUNS).glob(".*.partial-*"):  # left by a killed sweep
            shutil.rmtree(partial, ignore_errors=True)
        return out

    def __exit__(self, *exc):
        self._lock.close()
        return False


# ----------------------------------------------------------------------------
# the table
# ----------------------------------------------------------------------------


class _Table:
    """Rows of a sweep's points, read from run directories and failure records as they appear."""

    def __init__(self, out, points, grid_names):
        self.out = Path(out)
        self.points = points
        self.grid_names = grid_names
        self._done_rows = {}

    def finished_ids(self):
        """Points with a run directory or a failure record."""
        runs = {name for name in os.listdir(self.out / RUNS) if not name.startswith(".")}
        failed = {name[:-5] for name in os.listdir(self.out / FAILED) if name.endswith(".json")}
        return runs | failed

    def rows(self):
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

    def write(self):
        """Write table.csv and table.parquet (each replaced atomically); return the DataFrame."""
        import pandas as pd

        frame = pd.DataFrame(self.rows())
        for column in ("worker", "build_dir", "run_dir", "error"):
            if column not in frame.columns:
                frame[column] = None
        lead = ["point", *self.grid_names, "seed", "status"]
        tail = [c for c in (*TIMINGS, "worker", "build_dir", "run_dir", "error") if c in frame.columns]
        middle = [c for c in frame.columns if c not in lead and c not in tail]
        frame = frame[lead + middle + tail]
        csv_tmp = self.out / f".{TABLE_CSV}.tmp"
        frame.to_csv(csv_tmp, index=False)
        os.replace(csv_tmp, self.out / TABLE_CSV)
        parquet_tmp = self.out / f".{TABLE_PARQUET}.tmp"
        frame.to_parquet(parquet_tmp, index=False)
        os.replace(parquet_tmp, self.out / TABLE_PARQUET)
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


# ----------------------------------------------------------------------------
# figures
# ----------------------------------------------------------------------------


def _metric_columns(frame, grid_names):
    skip = {"point", "seed", "status", "error", "worker", "build_dir", "run_dir", *grid_names, *TIMINGS}
    columns = []
    for column in frame.columns:
        if column in skip:
            continue
        values = frame.loc[frame["status"] == "done", column]
        if len(values) and all(isinstance(v, (bool, int, float, np.number)) or v is None for v in values):
            columns.append(column)
    return columns


def _axis(frame, name, texts):
    """Labels of a grid parameter's values, in grid order, and its axis label."""
    from brian2 import Quantity

    from brianlab.params import parse_quantity

    label = name
    try:
        quantities = [parse_quantity(t) for t in texts]
    except ValueError:
        quantities = []
    if quantities and all(isinstance(q, Quantity) and not q.is_dimensionless for q in quantities):
        import brian2 as b2

        unit = b2.Quantity(np.array([float(q) for q in quantities]), dim=quantities[0].dim).get_best_unit()
        label = f"{name} ({unit})"
        return [f"{float(q / unit):g}" for q in quantities], label
    return [t for t in texts], label


def plot_metric(frame, grid, metric, ax=None, title=""):
    """``metric`` against the swept parameters: a line for one, a heat map for two.

    With more than two, the heat map of the first two averages over the others;
    several seeds are averaged (one parameter: mean +- standard deviation, with
    each seed's value as a dot). Failed or pending points are left out (grey
    cells in a heat map).

    Parameters
    ----------
    frame : pandas.DataFrame
        A sweep table (:func:`load_table`).
    grid : dict
        ``{name: [value texts]}`` as the sweep was given them (``sweep.json``).
    metric : str
    """
    from brianlab import plotting

    names = list(grid)
    done = frame[frame["status"] == "done"].copy()
    done[metric] = done[metric].astype(float)
    positions = {name: {value: k for k, value in enumerate(_ordered(frame, name, grid[name]))} for name in names}
    seeds = sorted(frame["seed"].unique())
    averaged = [n for n in names[2:]] + ([f"{len(seeds)} seeds"] if len(seeds) > 1 else [])
    note = f" (mean over {', '.join(averaged)})" if averaged else ""
    heading = f"{title}: {metric}" if title else metric
    if len(names) == 1:
        ax = plotting.new_axes(ax)
        name = names[0]
        labels, axis_label = _axis(frame, name, grid[name])
        x = done[name].map(positions[name])
        numeric = [float(v) for v in labels] if _all_numbers(labels) else list(range(len(labels)))
        xs = np.array([numeric[k] for k in x])
        stats = done.assign(_x=xs).groupby("_x")[metric].agg(["mean", "std", "count"]).reset_index()
        if len(seeds) > 1:
            ax.errorbar(stats["_x"], stats["mean"], yerr=stats["std"].fillna(0), fmt="o-", color="C0",
                        capsize=3, label=f"mean \u00b1 sd over {len(seeds)} seeds")
            ax.plot(xs, done[metric], ".", color="0.3", ms=4, label="each seed", zorder=3)
            ax.legend(frameon=False)
        else:
            ax.plot(stats["_x"], stats["mean"], "o-", color="C0")
        if not _all_numbers(labels):
            ax.set_xticks(numeric, labels)
        ax.set_xlabel(axis_label)
        ax.set_ylabel(metric)
        ax.set_title(f"{heading}{note}")
        return ax
    x_name, y_name = names[0], names[1]
    x_labels, x_axis = _axis(frame, x_name, grid[x_name])
    y_labels, y_axis = _axis(frame, y_name, grid[y_name])
    cells = np.full((len(y_labels), len(x_labels)), np.nan)
    means = done.groupby([y_name, x_name])[metric].mean()
    for (y_value, x_value), value in means.items():
        cells[positions[y_name][y_value], positions[x_name][x_value]] = value
    ax = plotting.heatmap(cells, x_labels, y_labels, ax=ax, xlabel=x_axis, ylabel=y_axis, cbar_label=metric)
    ax.set_title(f"{heading}{note}")
    return ax


def _ordered(frame, name, texts):
    """The table values of a grid parameter in the order the grid gave them."""
    seen = []
    for value in frame[name]:
        if value not in seen:
            seen.append(value)
    if len(seen) == len(texts):
        return seen
    return sorted(seen)


def _all_numbers(labels):
    try:
        [float(v) for v in labels]
    except ValueError:
        return False
    return True


def plot_sweep(frame, grid, out_dir, title=""):
    """One figure per numeric metric in ``out_dir``; return their paths."""
    from brianlab import plotting

    paths = []
    if not (frame["status"] == "done").any():
        return paths
    for metric in _metric_columns(frame, list(grid)):
        ax = plot_metric(frame, grid, metric, title=title)
        paths.append(plotting.save(ax, Path(out_dir) / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', metric)}.png"))
    return paths
