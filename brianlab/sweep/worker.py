"""The task a Dask worker runs: one chunk of points of one network shape, compiled once.

:func:`run_chunk` opens one :class:`~brianlab.devices.DeviceSession` on a build
slot of the shape (:class:`~brianlab.sweep.cache.BuildSlot`), compiles the
shape from its default sweepable values, and reruns the binary for every point
with the point's values and seed. Each point is recorded as an ordinary run
directory (staged under a hidden name and renamed into place when complete), or
as a one-line failure record; a failing point does not stop the others.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import platform
import threading
import traceback
from pathlib import Path

from brianlab import devices, records
from brianlab.errors import BrianlabError
from brianlab.sweep.cache import BUILD_SEED, BuildSlot, shape_params
from brianlab.sweep.layout import FAILED, RUNS, one_line, write_failure

__all__ = ["run_chunk", "preload"]

#: Brian's device is global to a process: one chunk at a time per worker process.
_ONE_AT_A_TIME = threading.Lock()


def preload() -> None:
    """Import what a chunk needs (Brian, the models' registry), so the first task does not wait for it."""
    import brian2  # noqa: F401

    from brianlab import model, runner  # noqa: F401


def run_chunk(chunk) -> list[tuple[str, str]]:
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
                slot = slots.enter_context(BuildSlot(Path(chunk.build_dir), share=rerunnable))
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

    Returns the counters to charge the build to the point
    (:meth:`~brianlab.devices.DeviceSession.counters`), or None if the build failed.
    """
    from brianlab.params import apply_assignments
    from brianlab.simulation import CompileOnly

    since = session.counters()
    if not session.supports_run_args:
        return since
    try:
        params = shape_params(model, apply_assignments(model.params, [*chunk.fixed, *point.assignments]))
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
        write_failure(out, point, one_line(exc), traceback.format_exc(), worker)
        return "failed"
    (out / FAILED / f"{point.id}.json").unlink(missing_ok=True)
    return "done"


def _worker_name():
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"{platform.node()}:{os.getpid()}"
