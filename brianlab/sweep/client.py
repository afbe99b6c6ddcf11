"""The client side of a sweep: plan it, start or reach the Dask cluster, submit, follow, tabulate.

:func:`run_sweep` is the Python entry point (``brianlab sweep`` and the ``runs/``
scripts that scan parameters call it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import logging
import os
import shutil
import sys
import threading
import time
from pathlib import Path

from brianlab import cuda, devices, fileio, records
from brianlab.errors import BrianlabError
from brianlab.sweep import planning
from brianlab.sweep.cache import default_build_cache
from brianlab.sweep.figures import plot_sweep
from brianlab.sweep.layout import FAILED, FIGURES, RUNS, SPEC, one_line, write_failure
from brianlab.sweep.table import Table
from brianlab.sweep.worker import run_chunk

__all__ = ["SweepResult", "run_sweep"]

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


def run_sweep(model, grid, seeds=1, base_seed=0, fixed=(), device=None, options=None, scheduler="local",
              workers=None, out=None, build_cache=None, retries=2, point_figures=False, progress=True, log=None):
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
        Also draw each point's own figures into its run directory (default no:
        ``brianlab plot RUN_DIR`` draws them later); the sweep's figures are
        drawn either way.
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
    texts, values = planning.normalise_grid(model, grid, fixed)
    seed_list = list(range(base_seed, base_seed + seeds))
    points, shapes, invalid = planning.plan(model, texts, values, seed_list, fixed, device, options)
    spec = {
        "model": model.name,
        "device": device,
        "device_options": options.to_json(),
        "fixed": list(fixed),
        "grid": texts,
        "seeds": seed_list,
    }
    out = Path(out) if out is not None else records.RESULTS_ROOT / "sweeps" / f"{model.name}-{planning.digest(spec, 8)}"
    cache = Path(build_cache or options.build_dir or default_build_cache()).expanduser().resolve()
    options = dataclasses.replace(options, build_dir=None)
    directory = _SweepDirectory(out, model.name)
    directory.check()
    finished_before = {p.id for p in points if (out / RUNS / p.id).is_dir()}
    todo = [p for p in points if p.id not in finished_before and p.id not in invalid]
    with contextlib.ExitStack() as stack:
        # a local cluster starts in the background while the sweep directory is prepared
        # cuda_standalone on the local cluster: one worker per visible GPU, each pinned to its own
        pin = device == "cuda_standalone" and local and workers is None and options.gpu_id is None
        gpus = cuda.sweep_gpus() if pin and todo else []
        engine = stack.enter_context(_engine(scheduler, workers or len(gpus) or None, len(todo), gpus)) if todo else None
        out = stack.enter_context(directory)  # from here on, the sweep writes
        spec.update(
            build_cache=str(cache),
            scheduler=scheduler if isinstance(scheduler, str) else type(scheduler).__name__,
            command=sys.argv,
            versions=records.versions(),
            started=datetime.datetime.now().isoformat(timespec="seconds"),
            points=[{"id": p.id, "assignments": list(p.assignments), "seed": p.seed} for p in points],
        )
        fileio.write_text_atomically(out / SPEC, json.dumps(records.jsonable(spec), indent=2) + "\n")
        for point in points:
            if point.id in finished_before:
                (out / FAILED / f"{point.id}.json").unlink(missing_ok=True)
            elif point.id in invalid:
                write_failure(out, point, invalid[point.id], "", "client")
        for point in todo:  # run again: its earlier failure no longer stands
            (out / FAILED / f"{point.id}.json").unlink(missing_ok=True)
        table = Table(out, points, list(texts))
        log(f"sweep {model.name}: {len(points)} points, {len(finished_before)} done before, "
            f"{len(todo)} to run, {len(invalid)} with invalid parameters; {out}")
        n_ran = 0
        if todo:
            if TUNING.preimport:  # what the end of the sweep needs, while the workers work
                threading.Thread(target=_preimport_end, daemon=True).start()
            n_workers = engine.wait()
            chunks = [
                planning.Chunk(model=model.name, device=device, options=options, fixed=fixed, points=members,
                               out=str(out.resolve()), build_dir=str(cache / shape), command=tuple(sys.argv),
                               point_figures=point_figures)
                for shape, members in planning.chunks(todo, shapes, n_workers)
            ]
            where = f"; builds in {cache}" if device in devices.STANDALONE else ""
            log(f"{len(chunks)} task(s) on {n_workers} worker(s) {engine.where}{where}")
            try:
                n_ran = _execute(engine, chunks, table, retries, len(points) - len(todo), len(points), progress, log)
            except KeyboardInterrupt:
                table.write()  # what is finished stays finished; the same command resumes
                raise
            if TUNING.close_in_background:
                engine.close_in_background()  # while the table and figures are written
        frame = table.write()
        figures = plot_sweep(frame, texts, out / FIGURES, title=f"{model.name} on {device}")
    return SweepResult(out=out, table=frame, n_ran=n_ran, n_skipped=len(finished_before), figures=figures,
                       points=points, grid=texts)


@dataclasses.dataclass
class Tuning:
    """How a sweep on this machine saves start-up time (each can be turned off, for the bench's comparisons).

    Attributes
    ----------
    in_process : bool
        A local sweep on one worker runs in this process, in a thread: no cluster to start.
        Off by default: a build made in a process with Brian history (a test session)
        generated code that a fresh worker then recompiled (n_compiles 1 instead of 0).
    forkserver : bool
        Local workers are forked from one server process that has imported Brian
        and brianlab once, instead of each starting Python and importing them.
    preimport : bool
        Import pandas, pyarrow and matplotlib (the table and figures) while the workers run.
    close_in_background : bool
        Close the local cluster while the table and figures are written.
    """

    in_process: bool = False
    forkserver: bool = True
    preimport: bool = True
    close_in_background: bool = True


#: The settings :func:`run_sweep` uses.
TUNING = Tuning()


def _preimport_end():
    import matplotlib.figure  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401


def _execute(engine, chunks, table, retries, n_before, n_total, progress, log):
    """Submit the chunks and follow them with a progress bar; return how many points ran."""
    from tqdm import tqdm

    futures = engine.submit_all(chunks, retries)
    todo_ids = {p.id for chunk in chunks for p in chunk.points}
    bar = tqdm(total=n_total, initial=n_before, unit="point", desc="sweep", file=sys.stderr,
               disable=not progress, dynamic_ncols=True, smoothing=0.1, mininterval=0.5)
    try:
        while not all(f.done() for f in futures):
            if progress:
                finished = n_before + len(todo_ids & table.finished_ids())
                if finished > bar.n:
                    bar.update(finished - bar.n)
            time.sleep(0.1)
        for future, chunk in zip(futures, chunks):
            error = engine.failure(future)
            if error is None:
                continue
            error = f"task failed {engine.failed_where}: {one_line(error)}"
            log(error)
            for point in chunk.points:
                if not (table.out / RUNS / point.id).is_dir():
                    write_failure(table.out, point, error, "", "client")
        ran = len(todo_ids & table.finished_ids())  # whichever task, or retry of it, finished them
        bar.update(n_before + ran - bar.n)
    finally:
        bar.close()
    return ran


def _engine(scheduler, workers, n_todo, gpus=()):
    """The context manager that runs the chunks: this process, a local cluster or an existing one.

    With ``gpus`` (cuda_standalone), local worker ``k`` is pinned to ``gpus[k]``
    (:class:`brianlab.cuda_workers.PinGpu`, a worker plugin, so a restarted worker is too).
    """
    if isinstance(scheduler, str) and scheduler == "local":
        n = min(workers or os.cpu_count() or 1, n_todo)
        if n == 1 and TUNING.in_process and not gpus:
            return _InProcess()
        return _LocalCluster(n, gpus)
    return _ExistingCluster(scheduler)


class _DaskEngine:
    failed_where = "on the cluster"

    def submit_all(self, chunks, retries):
        return [
            self.client.submit(run_chunk, chunk, key=f"brianlab-sweep-{k}-{os.urandom(4).hex()}", pure=False,
                               retries=retries, priority=-k)
            for k, chunk in enumerate(chunks)
        ]

    @staticmethod
    def failure(future):
        return None if future.status == "finished" else future.exception()

    @property
    def where(self):
        return f"at {self.client.scheduler.address}"

    def close_in_background(self):
        pass


class _ExistingCluster(_DaskEngine):
    """A scheduler address, a Client or a cluster object (dask-jobqueue): used as it is, never closed."""

    def __init__(self, scheduler):
        self.scheduler = scheduler
        self._owned = None

    def __enter__(self):
        from distributed import Client

        if isinstance(self.scheduler, Client):
            self.client = self.scheduler
            return self
        try:
            self.client = self._owned = Client(self.scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise BrianlabError(
                f"cannot reach the Dask scheduler at {self.scheduler}: {one_line(exc)}; start one with "
                "'dask scheduler' (and workers with 'dask worker ADDRESS') or use --scheduler local"
            ) from None
        return self

    def wait(self):
        return max(1, len(self.client.scheduler_info()["workers"]))

    def __exit__(self, *exc):
        if self._owned is not None:
            self._owned.close()
        return False


#: What a forked local worker has imported before its first task.
_WORKER_PRELOAD = ["distributed", "numpy", "brian2", "brianlab.sweep.worker"]


class _LocalCluster(_DaskEngine):
    """A ``distributed.LocalCluster`` of ``n`` single-threaded worker processes, started in a thread."""

    def __init__(self, n, gpus=()):
        self.n = n
        self.gpus = tuple(gpus)
        self.cluster = self.client = None
        self._error = None
        self._started = threading.Thread(target=self._start, daemon=True)
        self._closed = None

    def _start(self):
        import dask
        from distributed import Client, LocalCluster

        try:
            method = "forkserver" if TUNING.forkserver else dask.config.get("distributed.worker.multiprocessing-method")
            with dask.config.set({"distributed.worker.multiprocessing-method": method}):
                if method == "forkserver":
                    from distributed.utils import get_mp_context

                    get_mp_context().set_forkserver_preload(_WORKER_PRELOAD)
                self.cluster = LocalCluster(n_workers=self.n, threads_per_worker=1, processes=True,
                                            host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR)
                self.client = Client(self.cluster)
                if self.gpus:
                    from brianlab.cuda_workers import PinGpu

                    self.client.register_plugin(PinGpu(self.gpus), name="brianlab-pin-gpu")
        except BaseException as exc:  # noqa: BLE001  (raised again by wait())
            self._error = exc

    def __enter__(self):
        self._started.start()
        return self

    def wait(self):
        """Wait until the cluster is up; return its number of workers."""
        self._started.join()
        if self._error is not None:
            raise self._error
        return self.n

    def _close(self):
        for part in (self.client, self.cluster):
            if part is not None:
                with contextlib.suppress(Exception):
                    part.close()

    def close_in_background(self):
        self._closed = threading.Thread(target=self._close, daemon=True)
        self._closed.start()

    def __exit__(self, *exc):
        self._started.join()
        if self._closed is None:
            self._close()
        else:
            self._closed.join()
        return False


class _InProcess:
    """One worker: the chunks run one after the other in a thread of this process (no cluster)."""

    failed_where = "in this process"
    where = "in this process"

    def __enter__(self):
        return self

    def wait(self):
        return 1

    def submit_all(self, chunks, retries):
        futures = [_ThreadFuture() for _ in chunks]
        threading.Thread(target=self._run_all, args=(chunks, futures), daemon=True).start()
        return futures

    @staticmethod
    def _run_all(chunks, futures):
        for chunk, future in zip(chunks, futures):
            try:
                run_chunk(chunk)
            except BaseException as exc:  # noqa: BLE001  (reported as the chunk's failure)
                future.error = exc
            future.finished.set()

    @staticmethod
    def failure(future):
        return future.error

    def close_in_background(self):
        pass

    def __exit__(self, *exc):
        return False


class _ThreadFuture:
    def __init__(self):
        self.finished = threading.Event()
        self.error = None

    def done(self):
        return self.finished.is_set()


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
        lock = fileio.try_lock(out / ".sweep.lock")
        if lock is None:
            raise BrianlabError(f"another sweep is writing into {out}; wait for it or choose another --out")
        self._lock = lock
        for partial in (out / RUNS).glob(".*.partial-*"):  # left by a killed sweep
            shutil.rmtree(partial, ignore_errors=True)
        return out

    def __exit__(self, *exc):
        self._lock.close()
        return False
