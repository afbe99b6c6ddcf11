"""Finding past runs and telling them apart: the tables of ``brianlab runs`` and ``brianlab compare``.

:func:`find_runs` walks a directory (default ``results/``) for run directories,
sweep points included, and reads each one's ``config.json`` and
``metrics.json`` into a :class:`RunEntry`. Directories that are still being
written (a ``.NAME.partial-PID`` staging directory) or that cannot be read are
skipped, each with a one-line note. :func:`runs_table` makes one row per run:
its time, model, device, seed, the parameters that differ from the model's
defaults, and its metrics. :func:`compare` lines several runs up: the parameters
that differ between them, and every metric side by side with its difference
from the first run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from brianlab import records
from brianlab.errors import BrianlabError

__all__ = ["RunEntry", "find_runs", "runs_table", "filter_runs", "sort_runs", "compare", "TIMING_METRICS"]

#: Metrics that say how long a run took, not what it found (not "main" metrics).
TIMING_METRICS = ("build_wall_s", "run_wall_s", "total_wall_s", "n_builds", "n_compiles", "n_runs")
#: Metrics shown per model in the plain table (all of them go to --csv/--json).
MAIN_METRICS = 3


@dataclasses.dataclass(frozen=True)
class RunEntry:
    """One finished run directory, as :func:`find_runs` read it."""

    path: Path
    config: dict
    metrics: dict

    @property
    def model(self) -> str:
        return str(self.config.get("model"))

    @property
    def started(self) -> str:
        return str(self.config.get("started", ""))

    @property
    def sweep(self) -> str:
        """The sweep directory this run is a point of ('' for a single run)."""
        return str(Path(self.path).parent.parent) if self.config.get("sweep") else ""

    def param_text(self, name: str) -> str | None:
        """A parameter's value as typed (``20*ms``), or None if the run has no such parameter."""
        saved = (self.config.get("params") or {}).get(name, _MISSING)
        return None if saved is _MISSING else _text(saved)

    def param_value(self, name: str) -> Any:
        """A parameter's value: SI float for quantities, else as saved."""
        saved = (self.config.get("params") or {}).get(name)
        return saved["si"] if isinstance(saved, dict) and "si" in saved else saved


_MISSING = object()


def _text(saved: Any) -> str:
    if isinstance(saved, dict) and "value" in saved:
        return str(saved["value"])
    if isinstance(saved, bool):
        return "true" if saved else "false"
    return str(saved)


def _read(path: Path) -> RunEntry:
    try:
        config = json.loads((path / records.CONFIG).read_text())
        metrics = json.loads((path / records.METRICS).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot be read ({type(exc).__name__}: {exc})") from None
    if not isinstance(config, dict) or not isinstance(config.get("model"), str):
        raise ValueError("its config.json names no model")
    if not isinstance(metrics, dict):
        raise ValueError("its metrics.json is not a table of metrics")
    if metrics.get("compiled_only"):
        raise ValueError("compiled only (--compile-only), not run")
    if not (path / records.DATA).is_file():
        raise ValueError(f"{records.DATA} is missing")
    return RunEntry(path=path, config=config, metrics=metrics)


def find_runs(root: str | Path = records.RESULTS_ROOT) -> tuple[list[RunEntry], list[str]]:
    """Every finished run directory under ``root``, oldest first, and notes on those skipped.

    Raises
    ------
    BrianlabError
        If ``root`` is not a directory.
    """
    root = Path(root)
    if not root.is_dir():
        raise BrianlabError(f"{root} is not a directory; give the directory that holds your runs (default results/)")
    runs, notes = [], []
    if (root / records.CONFIG).is_file():  # root is itself a run
        candidates = [root]
    else:
        candidates = []
        for directory, subdirs, files in os.walk(root):
            here = Path(directory)
            if ".partial-" in here.name:
                notes.append(f"skipped {here}: unfinished (still being written, or left by a crashed run)")
                subdirs[:] = []
                continue
            if records.CONFIG in files:
                candidates.append(here)
                subdirs[:] = []  # a run's build/ and figures/ hold no runs
            else:
                subdirs[:] = sorted(d for d in subdirs if d not in ("build", "figures", "failed"))
    for path in candidates:
        try:
            runs.append(_read(path))
        except ValueError as exc:
            notes.append(f"skipped {path}: {exc}")
    runs.sort(key=lambda r: (r.started, str(r.path)))
    return runs, notes


def _defaults(model_name: str) -> dict | None:
    """The model's default parameters as ``to_json`` saves them, or None for an unknown model."""
    from brianlab.model import get_model
    from brianlab.params import to_json

    try:
        return to_json(get_model(model_name).params())
    except BrianlabError:
        return None


def changed_params(entry: RunEntry, defaults: dict | None) -> dict[str, str]:
    """``{name: value as typed}`` of the parameters that differ from the model's defaults."""
    params = entry.config.get("params") or {}
    if defaults is None:
        return {}
    return {name: _text(saved) for name, saved in params.items() if not _same(saved, defaults.get(name, _MISSING))}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict) and "si" in a and "si" in b:
        return a.get("unit") == b.get("unit") and math.isclose(a["si"], b["si"], rel_tol=1e-9, abs_tol=0.0)
    return a == b


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def metric_names(entries: Sequence[RunEntry], main_only: bool = False) -> list[str]:
    """The scalar metrics of ``entries`` in the order they first appear (timings last, or left out)."""
    names: dict[str, None] = {}
    for entry in entries:
        shown = [k for k, v in entry.metrics.items()
                 if (_is_number(v) or isinstance(v, bool) or v is None) and k not in TIMING_METRICS]
        for name in shown[:MAIN_METRICS] if main_only else shown:
            names.setdefault(name)
    if not main_only:
        for entry in entries:
            for name in TIMING_METRICS:
                if name in entry.metrics:
                    names.setdefault(name)
    return list(names)


def runs_table(entries: Sequence[RunEntry], main_only: bool = False) -> list[dict[str, Any]]:
    """One row per run: ``time``, ``model``, ``device``, ``seed``, ``changed``, the metrics, ``sweep``, ``path``.

    ``changed`` is ``name=value`` of every parameter that differs from the
    model's defaults. ``main_only``: each model's first few metrics (its main
    results) instead of all.
    """
    defaults = {name: _defaults(name) for name in {e.model for e in entries}}
    columns = metric_names(entries, main_only)
    rows = []
    for entry in entries:
        changed = changed_params(entry, defaults[entry.model])
        row = {
            "time": entry.started.replace("T", " "),
            "model": entry.model,
            "device": entry.config.get("device", ""),
            "seed": entry.config.get("seed", ""),
            "changed": " ".join(f"{k}={v}" for k, v in changed.items()),
        }
        row.update({name: entry.metrics.get(name) for name in columns})
        row.update(sweep=entry.sweep, path=str(entry.path))
        rows.append(row)
    return rows


def _parse_condition(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise BrianlabError(f"--where expects NAME=VALUE (e.g. seed=1, tau_m=20*ms), got {text!r}")
    name, value = (part.strip() for part in text.split("=", 1))
    if not name:
        raise BrianlabError(f"--where expects NAME=VALUE, got {text!r}")
    return name, value


def _matches(entry: RunEntry, name: str, text: str) -> bool | None:
    """Whether ``entry`` has ``name == text``; None if it has no such field."""
    from brianlab.params import parse_quantity

    if name in ("model", "device"):
        return str(entry.config.get(name)) == text
    if name == "seed":
        return str(entry.config.get("seed")) == text
    params = entry.config.get("params") or {}
    if name in params:
        saved = params[name]
        if isinstance(saved, dict) and "si" in saved:
            try:
                wanted = float(parse_quantity(text))
            except (ValueError, TypeError, ZeroDivisionError):
                raise BrianlabError(f"--where {name}={text}: not a value of {name} (e.g. {name}={saved['value']})") from None
            return math.isclose(saved["si"], wanted, rel_tol=1e-9)
        return _text(saved).lower() == text.lower() or _number_equal(saved, text)
    if name in entry.metrics:
        value = entry.metrics[name]
        return _text(value).lower() == text.lower() or _number_equal(value, text)
    return None


def _number_equal(value: Any, text: str) -> bool:
    try:
        return _is_number(value) and math.isclose(float(value), float(text), rel_tol=1e-9)
    except ValueError:
        return False


def filter_runs(entries: Iterable[RunEntry], model: str | None = None, where: Sequence[str] = ()) -> list[RunEntry]:
    """The runs of ``model`` (if given) for which every ``NAME=VALUE`` of ``where`` holds.

    NAME is ``model``, ``device``, ``seed``, a parameter (the value in any unit
    Brian reads: ``tau_m=20*ms`` matches 0.02 s) or a metric.

    Raises
    ------
    BrianlabError
        For a malformed condition, or a NAME that no run has.
    """
    entries = list(entries)
    if model is not None:
        entries = [e for e in entries if e.model == model]
    for condition in where:
        name, text = _parse_condition(condition)
        results = [_matches(e, name, text) for e in entries]
        if entries and all(r is None for r in results):
            raise BrianlabError(f"--where {name}: no run has a parameter or metric named {name!r}")
        entries = [e for e, r in zip(entries, results) if r]
    return entries


def sort_runs(entries: Sequence[RunEntry], key: str) -> list[RunEntry]:
    """``entries`` by metric (or parameter) ``key``, smallest first, runs without it last.

    Raises
    ------
    BrianlabError
        If no run has ``key``.
    """
    def value(entry):
        if key in entry.metrics:
            return entry.metrics[key]
        return entry.param_value(key) if key in (entry.config.get("params") or {}) else None

    values = [value(e) for e in entries]
    if entries and all(v is None for v in values):
        raise BrianlabError(f"--sort {key}: no run has a metric or parameter named {key!r}")
    numbers = [v for v in values if _is_number(v)]

    def order(pair):
        v = pair[1]
        if v is None or (_is_number(v) and math.isnan(v)):
            return (2, 0, "")
        return (0, float(v), "") if _is_number(v) and numbers else (1, 0, str(v))

    return [e for e, _ in sorted(zip(entries, values), key=order)]


def load_entry(path: str | Path) -> RunEntry:
    """One run directory, read as :func:`find_runs` reads it.

    Raises
    ------
    BrianlabError
        If ``path`` is not a finished run directory.
    """
    path = Path(path)
    if not (path / records.CONFIG).is_file():
        raise BrianlabError(f"{path} is not a run directory (no {records.CONFIG})")
    try:
        return _read(path)
    except ValueError as exc:
        raise BrianlabError(f"{path}: {exc}") from None


@dataclasses.dataclass(frozen=True)
class Comparison:
    """What :func:`compare` found: runs, differing parameters and every metric."""

    runs: list[RunEntry]
    params: dict[str, list[str | None]]  #: name -> value as typed in each run (None: not a parameter there)
    metrics: dict[str, list[Any]]  #: name -> value in each run (None: missing)

    def difference(self, name: str, k: int) -> float | None:
        """Run ``k``'s value of metric ``name`` minus the first run's (None if not both numbers)."""
        first, other = self.metrics[name][0], self.metrics[name][k]
        if _is_number(first) and _is_number(other):
            return float(other) - float(first)
        if isinstance(first, bool) and isinstance(other, bool):
            return float(other) - float(first)
        return None

    def to_json(self) -> dict:
        return {
            "runs": [str(r.path) for r in self.runs],
            "models": [r.model for r in self.runs],
            "params": self.params,
            "metrics": {
                name: {"values": values, "difference": [self.difference(name, k) for k in range(1, len(values))]}
                for name, values in self.metrics.items()
            },
        }


def compare(paths: Sequence[str | Path]) -> Comparison:
    """Line up two or more runs: the parameters that differ, and every metric of each.

    Raises
    ------
    BrianlabError
        For fewer than two runs, or a path that is not a finished run directory.
    """
    if len(paths) < 2:
        raise BrianlabError("compare needs at least two run directories")
    runs = [load_entry(p) for p in paths]
    context = {"model": [r.model for r in runs], "device": [str(r.config.get("device")) for r in runs],
               "seed": [str(r.config.get("seed")) for r in runs]}
    params: dict[str, list[str | None]] = {k: v for k, v in context.items() if len(set(v)) > 1}
    names = list(dict.fromkeys(n for r in runs for n in (r.config.get("params") or {})))
    for name in names:
        saved = [(r.config.get("params") or {}).get(name, _MISSING) for r in runs]
        if any(not _same(s, saved[0]) for s in saved[1:]):
            params[name] = [None if s is _MISSING else _text(s) for s in saved]
    metrics = {name: [r.metrics.get(name) for r in runs] for name in metric_names(runs)}
    return Comparison(runs=runs, params=params, metrics=metrics)
