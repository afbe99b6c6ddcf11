"""Running a model and recording it as a run directory: the library's core verbs.

:func:`run` is what a notebook calls; :func:`run_model` and :func:`record_run` are
the pieces the command line and the sweep workers share.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from brianlab import devices, records
from brianlab.errors import BrianlabError
from brianlab.model import Model, RunRecord, get_model
from brianlab.params import apply_assignments, apply_values, to_json
from brianlab.simulation import CompileOnly

__all__ = ["run", "load", "run_model", "record_run", "check_seed", "check_options", "MAX_SEED", "MAX_THREADS"]

#: Seeds are 0 ... 2**32 - 1 (what NumPy's and Brian's generators take).
MAX_SEED = 2**32 - 1
#: More OpenMP threads than this is a typing mistake, not a machine.
MAX_THREADS = 1024


def check_seed(seed: Any) -> int:
    """``seed`` as an int in 0 ... :data:`MAX_SEED`.

    Raises
    ------
    BrianlabError
        If it is not a whole number in that range.
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise BrianlabError(f"--seed must be a whole number from 0 to {MAX_SEED}; got {seed!r}")
    seed = int(seed)
    if not 0 <= seed <= MAX_SEED:
        raise BrianlabError(f"--seed must be from 0 to {MAX_SEED} (2**32 - 1); got {seed}")
    return seed


def check_options(options: devices.DeviceOptions) -> None:
    """Refuse device options no device could use (negative threads, a GPU id below 0, ...).

    Raises
    ------
    BrianlabError
        Naming the option and what it takes.
    """
    threads = options.threads
    if isinstance(threads, bool) or not isinstance(threads, int) or not 0 <= threads <= MAX_THREADS:
        raise BrianlabError(f"--threads must be a whole number from 0 (no OpenMP) to {MAX_THREADS}; got {threads!r}")
    gpu = options.gpu_id
    if gpu is not None and (isinstance(gpu, bool) or not isinstance(gpu, int) or gpu < 0):
        raise BrianlabError(f"--gpu-id must be a whole number from 0 (see 'brianlab devices'); got {gpu!r}")
    cc = options.compute_capability
    if cc is not None and (isinstance(cc, bool) or not isinstance(cc, (int, float))
                           or not math.isfinite(cc) or not 1 <= cc < 100):
        raise BrianlabError(f"--compute-capability must be a number such as 8.0 or 9.0; got {cc!r}")
    if options.build_dir is not None and Path(options.build_dir).exists() and not Path(options.build_dir).is_dir():
        raise BrianlabError(f"--build-dir {options.build_dir} exists and is not a directory")


def _own_build_dir(options: devices.DeviceOptions, run_name: str) -> devices.DeviceOptions:
    """``options`` with ``build_dir`` made a new directory of this run's own inside it.

    A ``--build-dir`` given to several runs would otherwise have each run's
    projects overwrite the last one's (``0-<tag>`` in the same place).
    """
    if options.build_dir is None:
        return options
    root = Path(options.build_dir).expanduser()
    try:
        root.mkdir(parents=True, exist_ok=True)
        own = Path(tempfile.mkdtemp(prefix=f"{run_name}-", dir=root))
    except OSError as exc:
        raise BrianlabError(f"cannot create a build directory in --build-dir {root}: {exc.strerror or exc}") from None
    return dataclasses.replace(options, build_dir=own)


def run(
    model: str | Model,
    device: str | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    from_dir: str | Path | None = None,
    progress: bool = False,
    options: devices.DeviceOptions | None = None,
    nwb: bool = False,
    preset: str | None = None,
    **params: Any,
) -> RunRecord:
    """Build, run and record one model, as ``brianlab run`` does; return the saved run.

    Parameters
    ----------
    model : str or Model
        A registered model name (``"lif"``) or a :class:`~brianlab.model.Model`.
    device : str, optional
        A device name; default ``$BRIANLAB_DEVICE``, else ``runtime``.
    seed : int
        The seed of every random source.
    out : path, optional
        The run directory (must not exist); default a new one under ``results/``.
    from_dir : path, optional
        A previous run to start from (models that accept ``--from``).
    progress : bool
        Show progress on stderr.
    options : DeviceOptions, optional
        Threads, build directory, GPU and so on.
    nwb : bool
        Also write the run as ``data.nwb`` (see :mod:`brianlab.nwb`).
    preset : str, optional
        A named parameter set of the model (``brianlab show MODEL`` lists them);
        ``params`` are applied after it.
    **params
        Parameter values by name: Brian quantities (``tau_m=20*ms``), plain numbers
        for unitless parameters, or strings as on the command line (``"20*ms"``).

    Returns
    -------
    RunRecord
        The run as saved (config, metrics and arrays read back from disk).

    Raises
    ------
    BrianlabError
        For anything the user can fix (an unknown name, a wrong unit, an existing
        ``out``); nothing is written then.
    """
    model = get_model(model) if isinstance(model, str) else model
    base = apply_assignments(model.params, model.preset(preset)) if preset is not None else None
    values = apply_values(model.params, params, base=base)
    path, _ = run_model(model, values, device, options or devices.DeviceOptions(), seed=seed, out=out,
                        from_dir=from_dir, progress=progress, nwb=nwb)
    return records.load_run(path, model)


def load(run_dir: str | Path) -> RunRecord:
    """Read a saved run directory back, its parameters as its model's parameters class.

    Raises
    ------
    BrianlabError
        If ``run_dir`` is not a complete run directory of a registered model.
    """
    model_name = records.load_run(run_dir).config.get("model")
    if not isinstance(model_name, str):
        raise BrianlabError(f"{run_dir}: its config.json names no model; it is not a brianlab run")
    return records.load_run(run_dir, get_model(model_name))




def run_model(
    model: Model,
    params: Any,
    device: str | None,
    options: devices.DeviceOptions,
    seed: int = 0,
    out: str | Path | None = None,
    from_dir: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    nwb: bool = False,
    verbose: bool = False,
) -> tuple[Path, dict]:
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
        Show one progress bar for the run on stderr (when it is a terminal).
    log : callable, optional
        Called with one-line status messages.
    nwb : bool
        Also write ``data.nwb`` into the run directory.
    verbose : bool
        Print Brian's report line of every program run as well.

    Raises
    ------
    BrianlabError
        For anything the user can fix; nothing is written then.
    """
    log = log or (lambda message: None)
    seed = check_seed(seed)
    check_options(options)
    if nwb:
        from brianlab.nwb import require_pynwb

        require_pynwb()
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
        options = _own_build_dir(options, final.name)
        if options.build_dir is not None:
            log(f"building in {options.build_dir}")
        session = devices.DeviceSession(device, options, build_root=staged.path / "build", seed=seed,
                                        progress=progress, verbose=verbose, label=model.name)
        with session:
            path, metrics = record_run(model, params, session, staged, previous, nwb=nwb)
    except BrianlabError:
        staged.discard()
        raise
    except BaseException:
        staged.keep()
        if staged.path.exists():
            log(f"run failed; its partial output is kept at {staged.path}")
        raise
    if metrics.get("compiled_only"):
        log(f"compiled {model.name} for {device} (not run: --compile-only); build in {options.build_dir or final / 'build'}")
    return path, metrics


def record_run(
    model: Model,
    params: Any,
    session: devices.DeviceSession,
    staged: records.StagedRun,
    previous: RunRecord | None = None,
    extra_config: Mapping[str, Any] | None = None,
    since: devices.SessionCounters | None = None,
    figures: bool = True,
    nwb: bool = False,
) -> tuple[Path, dict]:
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
        A :meth:`~brianlab.devices.DeviceSession.counters` snapshot: count builds,
        runs and wall time from there (a build made for this run just before it). Default: now.
    figures : bool
        Draw the model's figures (``brianlab plot RUN_DIR`` can draw them later).
    nwb : bool
        Also write the run as ``data.nwb`` (``brianlab export RUN_DIR`` can write it later).

    Returns
    -------
    (Path, dict)
        The committed run directory and its metrics. ``build_wall_s``,
        ``run_wall_s``, ``n_builds``, ``n_compiles`` and ``n_runs`` count this run
        only, not earlier runs on the same session.
    """
    from_run = None if previous is None else previous.path
    config = records.config_record(model.name, to_json(params), session.name, session.options, session.seed, from_run)
    config.update(extra_config or {})
    staged.write_json(records.CONFIG, config)
    since = since or session.counters()
    try:
        result = model.simulate(params, session, previous)
    except CompileOnly as done:
        metrics = {"compiled_only": True, "project": str(Path(done.directory)), "build_wall_s": done.build_s}
        staged.write_json(records.METRICS, metrics)
        return staged.commit(), metrics
    metrics = dict(result.metrics)
    metrics.update(session.counters().since(since))
    metrics["device"] = session.name
    staged.write_json(records.METRICS, metrics)
    staged.write_arrays(result.arrays)
    if figures or nwb:
        saved = records.load_run(staged.path, model)
    if figures:
        model.figures(saved, staged.path / records.FIGURES)
    if nwb:
        from brianlab.nwb import NWB_FILE, write_nwb

        write_nwb(saved, model, staged.path / NWB_FILE, session_id=staged.final.name)
    return staged.commit(), metrics
