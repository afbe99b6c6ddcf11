"""Export a run directory as an NWB file (Neurodata Without Borders), with pynwb.

What goes where in the file:

- the spikes of every spike monitor (:class:`brianlab.recordings.SpikeTrains`)
  in the ``units`` table, one row per neuron the monitor covers, with columns
  ``population`` (the Brian group) and ``index`` (the neuron's index in it);
- every state-monitor variable (:class:`brianlab.recordings.Trace`) as a
  ``TimeSeries`` named ``<population>_<variable>``, samples x neurons, with its
  SI unit and ``conversion``, in a processing module named after the model; the
  module's ``recorded_neurons`` table says which neuron each column is;
- the model's parameters (name, value as typed, SI value, SI unit) and metrics
  as the tables ``parameters`` and ``metrics`` of that module; model, device,
  seed, versions, git commit and command in the file's own fields
  (``session_description``, ``experiment_description``, ``was_generated_by``,
  ``source_script``, a ``Device``) and, as JSON, in ``notes``;
- ``session_start_time``: when the run started (``config.json``).

A model says which arrays of ``data.npz`` are spikes and traces through its
``recordings`` function; a model without one exports its metadata only.
pynwb is imported only here, when an export is asked for.
"""

from __future__ import annotations

import datetime
import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from brianlab import records
from brianlab.errors import BrianlabError
from brianlab.model import Model, RunRecord, get_model
from brianlab.recordings import SpikeTrains, Trace, check

__all__ = ["NWB_FILE", "require_pynwb", "build_file", "write_nwb", "export", "export_targets"]

#: The file ``brianlab run --nwb`` writes into a run directory, and ``export`` by default.
NWB_FILE = "data.nwb"


def require_pynwb():
    try:
        import pynwb  # noqa: F401
    except ImportError:
        raise BrianlabError(
            "NWB export needs pynwb: run .venv/bin/pip install -c .ci/constraints.txt -e '.[nwb]'"
        ) from None


def start_time(config: dict) -> datetime.datetime:
    """When the run started, time-zone aware (local time where ``config.json`` has none)."""
    try:
        started = datetime.datetime.fromisoformat(str(config["started"]))
    except (KeyError, ValueError):
        raise BrianlabError("config.json has no valid 'started' time; the run's time is unknown") from None
    return started if started.tzinfo is not None else started.astimezone()


def _parameter_rows(params_json: dict) -> list[tuple[str, str, float, str]]:
    rows = []
    for name, saved in params_json.items():
        if isinstance(saved, dict) and "si" in saved:
            rows.append((name, str(saved["value"]), float(saved["si"]), str(saved["unit"])))
        elif isinstance(saved, bool):
            rows.append((name, "true" if saved else "false", float(saved), ""))
        elif isinstance(saved, (int, float)):
            rows.append((name, str(saved), float(saved), ""))
        else:
            rows.append((name, str(saved), float("nan"), ""))
    return rows


def _table(name: str, description: str, columns: dict[str, tuple[str, Sequence]]):
    from hdmf.common import DynamicTable, VectorData

    return DynamicTable(
        name=name,
        description=description,
        columns=[VectorData(name=key, description=text, data=list(values)) for key, (text, values) in columns.items()],
    )


def _units_table(spikes: Sequence[SpikeTrains], arrays, resolution: float | None) -> Any:
    """The ``units`` table of all spike monitors, built column-wise (one row per covered neuron)."""
    from hdmf.common import ElementIdentifiers, VectorData, VectorIndex
    from pynwb.misc import Units

    times, ends, population, index = [], [], [], []
    count = 0
    for rec in spikes:
        neurons = rec.neurons()
        spike_i = np.asarray(arrays[rec.indices], dtype=np.int64)
        spike_t = np.asarray(arrays[rec.times], dtype=float)
        order = np.lexsort((spike_t, spike_i))  # by neuron, then time
        spike_i, spike_t = spike_i[order], spike_t[order]
        stops = np.searchsorted(spike_i, neurons, side="right")
        starts = np.searchsorted(spike_i, neurons, side="left")
        kept = np.concatenate([spike_t[a:b] for a, b in zip(starts, stops)]) if len(neurons) else np.zeros(0)
        times.append(kept)
        ends.append(count + np.cumsum(stops - starts))
        count += len(kept)
        population += [rec.population] * len(neurons)
        index.append(neurons)
    spike_times = VectorData(name="spike_times", description="spike times (s)",
                             data=np.concatenate(times) if times else np.zeros(0))
    n_rows = len(population)
    columns = [
        spike_times,
        VectorIndex(name="spike_times_index", data=np.concatenate(ends).astype(np.int64) if ends else [],
                    target=spike_times),
        VectorData(name="population", description="the Brian group the neuron belongs to", data=population),
        VectorData(name="index", description="the neuron's index in its group",
                   data=np.concatenate(index).astype(np.int64) if index else []),
    ]
    described = "; ".join(f"{r.population}: {r.description}" for r in spikes if r.description)
    return Units(
        name="units",
        description="simulated neurons, one row per neuron a spike monitor covers" + (f" ({described})" if described else ""),
        id=ElementIdentifiers(name="id", data=np.arange(n_rows)),
        columns=columns,
        colnames=("spike_times", "population", "index"),
        **({"resolution": resolution} if resolution else {}),
    )


def _time_series(trace: Trace, arrays) -> Any:
    from pynwb import TimeSeries

    samples = trace.samples(arrays)
    t = np.asarray(arrays[trace.times], dtype=float)
    neurons = trace.neurons(arrays)
    description = trace.description or trace.name
    description += f"; columns are neurons {_ranges(neurons)} of {trace.population!r} (table recorded_neurons)"
    timing: dict[str, Any] = {"timestamps": t}
    if len(t) > 1:
        steps = np.diff(t)
        if np.allclose(steps, steps[0], rtol=1e-6, atol=1e-12) and steps[0] > 0:
            timing = {"starting_time": float(t[0]), "rate": 1.0 / float(steps[0])}
    elif len(t) == 1:
        timing = {"timestamps": t}
    return TimeSeries(
        name=f"{trace.population}_{trace.name}",
        data=samples,
        unit=trace.unit,
        conversion=float(trace.conversion),
        description=description,
        **timing,
    )


def _ranges(indices) -> str:
    indices = list(map(int, indices))
    if len(indices) > 2 and indices == list(range(indices[0], indices[-1] + 1)):
        return f"{indices[0]}..{indices[-1]}"
    return ", ".join(map(str, indices[:20])) + (", ..." if len(indices) > 20 else "")


def build_file(record: RunRecord, model: Model, session_id: str | None = None) -> Any:
    """The :class:`pynwb.NWBFile` of a saved run (not written).

    Raises
    ------
    BrianlabError
        If the run's ``recordings`` name arrays that ``data.npz`` lacks, or its
        start time is unknown.
    """
    require_pynwb()
    from pynwb import NWBFile
    from pynwb.file import Subject

    config, arrays = record.config, record.arrays
    declared = tuple(model.recordings(record.params, arrays)) if model.recordings is not None else ()
    check(declared, arrays)
    versions = {k: v for k, v in (config.get("versions") or {}).items() if v}
    device = config.get("device", "unknown")
    seed = config.get("seed")
    git = config.get("git") or {}
    meta = {
        "model": model.name,
        "device": device,
        "device_options": config.get("device_options"),
        "seed": seed,
        "versions": versions,
        "git": git,
        "from_run": config.get("from_run"),
        "sweep": config.get("sweep"),
        "params": config.get("params"),
    }
    nwbfile = NWBFile(
        session_description=f"brianlab model {model.name}: {model.summary}",
        identifier=str(uuid.uuid4()),
        session_start_time=start_time(config),
        session_id=session_id or Path(record.path).name,
        experiment_description=(
            f"Brian2 simulation of brianlab model {model.name!r} on device {device}, seed {seed}; "
            f"brianlab {versions.get('brianlab', '?')}, brian2 {versions.get('brian2', '?')}"
            + (f", git {git.get('commit')}{' (dirty)' if git.get('dirty') else ''}" if git.get("commit") else "")
        ),
        keywords=["brianlab", "brian2", "simulation", model.name],
        notes=json.dumps(records.jsonable(meta), sort_keys=True),
        source_script=" ".join(map(str, config.get("command") or ["brianlab"])),
        source_script_file_name="brianlab",
        was_generated_by=[(name, str(version)) for name, version in versions.items()],
    )
    # DANDI requires a subject with a sex and an age. The subject is the simulated
    # network: sex 'O' (other), born when the simulation started; no species.
    nwbfile.subject = Subject(
        subject_id=f"{model.name}-seed{seed}",
        description=f"a simulated network (brianlab model {model.name}, seed {seed}); no animal",
        sex="O",
        date_of_birth=nwbfile.session_start_time,
    )
    nwbfile.create_device(name=device, description=f"Brian2 device {device}, options "
                          f"{json.dumps(config.get('device_options') or {}, sort_keys=True)}",
)
    module = nwbfile.create_processing_module(
        name=model.name, description=f"what the brianlab model {model.name} recorded and computed"
    )
    rows = _parameter_rows(config.get("params") or {})
    module.add(_table("parameters", f"every parameter of {model.name}, as the run set it", {
        "parameter": ("parameter name", [r[0] for r in rows]),
        "value": ("value as brianlab reads it (--set name=value)", [r[1] for r in rows]),
        "si_value": ("value in SI units (NaN for text)", [r[2] for r in rows]),
        "unit": ("SI unit of si_value ('' for plain numbers)", [r[3] for r in rows]),
    }))
    scalars = [(k, v) for k, v in record.metrics.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool) or isinstance(v, bool) or v is None]
    if scalars:
        module.add(_table("metrics", "the run's scalar results (metrics.json)", {
            "metric": ("metric name", [k for k, _ in scalars]),
            "value": ("value (NaN where metrics.json has null)",
                      [float("nan") if v is None else float(v) for _, v in scalars]),
        }))
    spikes = [r for r in declared if isinstance(r, SpikeTrains)]
    traces = [r for r in declared if isinstance(r, Trace)]
    if spikes:
        dt = (config.get("params") or {}).get("dt")
        resolution = float(dt["si"]) if isinstance(dt, dict) and "si" in dt else None  # spikes fall on the dt grid
        nwbfile.units = _units_table(spikes, arrays, resolution)
    if traces:
        series, column, population, index = [], [], [], []
        for trace in traces:
            ts = _time_series(trace, arrays)
            module.add(ts)
            for k, neuron in enumerate(trace.neurons(arrays)):
                series.append(ts.name)
                column.append(k)
                population.append(trace.population)
                index.append(int(neuron))
        module.add(_table("recorded_neurons", "which neuron each column of each TimeSeries is", {
            "series": ("the TimeSeries", series),
            "column": ("its column", column),
            "population": ("the Brian group", population),
            "index": ("the neuron's index in that group", index),
        }))
    return nwbfile


def write_nwb(record: RunRecord, model: Model, path: str | Path, session_id: str | None = None) -> Path:
    """Write ``record`` as an NWB file at ``path`` (which must not exist); return the path.

    The file is written next to ``path`` under a hidden name and renamed into
    place, so a file at ``path`` is complete.

    Raises
    ------
    BrianlabError
        If ``path`` exists, or the run cannot be exported (see :func:`build_file`).
    """
    path = Path(path)
    if path.exists():
        raise BrianlabError(f"{path} already exists and is never overwritten; choose another --out")
    nwbfile = build_file(record, model, session_id)
    from pynwb import NWBHDF5IO

    partial = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
    try:
        with NWBHDF5IO(str(partial), "w") as io:
            io.write(nwbfile)
        if path.exists():
            raise BrianlabError(f"{path} appeared while the export was writing; nothing was overwritten")
        os.rename(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _sweep_points(directory: Path) -> list[Path]:
    from brianlab.sweep import RUNS, SPEC

    if not (directory / SPEC).is_file():
        return []
    runs = directory / RUNS
    return sorted(p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")) if runs.is_dir() else []


def export_targets(source: str | Path, out: str | Path | None = None) -> list[tuple[Path, Path]]:
    """``[(run_dir, nwb_path)]`` that :func:`export` would write, every one checked first.

    ``source`` is a run directory (default ``RUN_DIR/data.nwb``, or ``out``) or a
    sweep directory (every finished point: ``POINT/data.nwb``, or ``out/POINT.nwb``
    with ``out`` a directory).

    Raises
    ------
    BrianlabError
        If ``source`` is neither, a destination exists already, or two would coincide.
    """
    source = Path(source)
    if not source.is_dir():
        raise BrianlabError(f"{source} is not a directory; give a run directory or a sweep directory")
    points = _sweep_points(source)
    if points:
        if out is not None and Path(out).exists() and not Path(out).is_dir():
            raise BrianlabError(f"--out {out} exists and is not a directory; for a sweep, --out is a directory")
        targets = [(p, (Path(out) / f"{p.name}.nwb") if out is not None else p / NWB_FILE) for p in points]
    elif (source / records.CONFIG).is_file():
        targets = [(source, Path(out) if out is not None else source / NWB_FILE)]
    elif (source / "sweep.json").is_file():
        raise BrianlabError(f"sweep {source} has no finished points to export")
    else:
        raise BrianlabError(f"{source} is not a run directory (no {records.CONFIG}) nor a sweep directory")
    for _, target in targets:
        if target.exists():
            raise BrianlabError(f"{target} already exists and is never overwritten; choose another --out")
    return targets


def export(source: str | Path, out: str | Path | None = None) -> list[Path]:
    """Export a run, or every finished point of a sweep, as NWB; return the files written.

    Every run is read and checked before the first file is written, so bad
    input writes nothing.

    Raises
    ------
    BrianlabError
        See :func:`export_targets`; also if a run is incomplete or of an unknown model.
    """
    require_pynwb()
    targets = export_targets(source, out)
    loaded = []
    for run_dir, target in targets:
        name = records.load_run(run_dir).config.get("model")
        if not isinstance(name, str):
            raise BrianlabError(f"{run_dir}: its config.json names no model; it is not a brianlab run")
        model = get_model(name)
        record = records.load_run(run_dir, model)
        if model.recordings is not None:
            check(tuple(model.recordings(record.params, record.arrays)), record.arrays)
        start_time(record.config)
        loaded.append((record, model, target))
    written = []
    for record, model, target in loaded:
        target.parent.mkdir(parents=True, exist_ok=True)
        written.append(write_nwb(record, model, target))
    return written
