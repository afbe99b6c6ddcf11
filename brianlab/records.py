"""Run directories: what one run saves, written so that nothing saved is lost.

A run directory holds

``config.json``
    every parameter with its unit, the device and its options, the seed, the
    versions of brianlab, brian2, numpy (and brian2cuda) and the git commit;
``metrics.json``
    the model's scalar results plus build and run wall times;
``data.npz``
    the recorded arrays;
``figures/*.png``
    what a scientist wants to see first;
``build/``
    the standalone project(s), unless ``--build-dir`` put them elsewhere.

A run is written into a hidden staging directory next to its destination and
renamed into place at the end, so a run directory that exists is complete, and
an existing one is never written to.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

import brianlab
from brianlab import fileio
from brianlab.errors import BrianlabError
from brianlab.model import RunRecord
from brianlab.params import from_json

__all__ = [
    "RESULTS_ROOT",
    "default_run_dir",
    "StagedRun",
    "load_run",
    "versions",
    "git_state",
    "jsonable",
]

RESULTS_ROOT = Path("results")
CONFIG, METRICS, DATA, FIGURES = "config.json", "metrics.json", "data.npz", "figures"


def default_run_dir(model, device, seed, root=RESULTS_ROOT):
    """``root/<model>/<time>-<device>-seed<seed>``, made unique with a suffix."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / model / f"{stamp}-{device}-seed{seed}"
    candidate, k = base, 1
    while candidate.exists():
        k += 1
        candidate = base.with_name(f"{base.name}-{k}")
    return candidate


def _staging_path(final):
    return final.parent / f".{final.name}.partial-{os.getpid()}"


class StagedRun:
    """A run directory being written; :meth:`commit` moves it into place.

    Parameters
    ----------
    final : Path
        Where the run directory will be. It must not exist.

    Raises
    ------
    BrianlabError
        If ``final`` exists already: it is never overwritten.
    """

    def __init__(self, final):
        self.final = Path(final)
        if self.final.exists():
            raise BrianlabError(
                f"run directory {self.final} already exists and is never overwritten; "
                "choose another --out or leave --out out"
            )
        self.path = _staging_path(self.final)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():  # left by a crashed process that had the same pid
            shutil.rmtree(self.path)
        self.path.mkdir()

    def write_json(self, name, data):
        """Write ``data`` as ``name`` (JSON, NaN and infinities as null)."""
        path = self.path / name
        path.write_text(json.dumps(jsonable(data), indent=2, allow_nan=False) + "\n")
        return path

    def write_arrays(self, arrays):
        """Write ``arrays`` to ``data.npz`` (uncompressed NumPy archive)."""
        clean = {name: np.asarray(value) for name, value in arrays.items()}
        np.savez(self.path / DATA, **clean)
        return self.path / DATA

    def commit(self):
        """Rename the staging directory to its final name and return that."""
        try:
            fileio.rename_no_replace(self.path, self.final)
        except FileExistsError:
            raise BrianlabError(
                f"run directory {self.final} appeared while this run was writing; "
                f"this run is kept at {self.path}"
            ) from None
        return self.final

    def discard(self):
        """Remove the staging directory."""
        shutil.rmtree(self.path, ignore_errors=True)


def jsonable(value):
    """``value`` with NumPy scalars, arrays and paths made JSON types; NaN/inf -> None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def versions():
    """Versions of the software a run depends on."""
    import brian2

    out = {
        "brianlab": brianlab.__version__,
        "brian2": brian2.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
    try:
        import importlib.metadata

        out["brian2cuda"] = importlib.metadata.version("brian2cuda")
    except importlib.metadata.PackageNotFoundError:
        out["brian2cuda"] = None
    return out


def git_state():
    """``{"commit": sha, "dirty": bool}`` of the brianlab checkout, or None outside one."""
    root = Path(brianlab.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(dirty)}


def config_record(model, params_json, device, options, seed, from_run=None):
    """The contents of ``config.json``."""
    return {
        "model": model,
        "params": params_json,
        "device": device,
        "device_options": options.to_json(),
        "seed": seed,
        "from_run": None if from_run is None else str(from_run),
        "versions": versions(),
        "git": git_state(),
        "command": sys.argv,
        "host": platform.node(),
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
    }


def load_run(path, model=None):
    """Read a saved run directory back.

    Parameters
    ----------
    path : Path
        The run directory.
    model : brianlab.model.Model, optional
        If given, the run must be of this model, and its parameters are rebuilt
        as ``model.params``.

    Raises
    ------
    BrianlabError
        If the directory, its config, metrics or data are missing, or the run is
        of another model.
    """
    path = Path(path)
    if not path.is_dir():
        raise BrianlabError(f"run directory {path} does not exist; give a directory that 'brianlab run' wrote")
    for name in (CONFIG, METRICS, DATA):
        if not (path / name).is_file():
            raise BrianlabError(f"{path} is not a complete run directory: {name} is missing")
    try:
        config = json.loads((path / CONFIG).read_text())
        metrics = json.loads((path / METRICS).read_text())
    except json.JSONDecodeError as exc:
        raise BrianlabError(f"{path}: its JSON files cannot be read: {exc}") from None
    if model is not None and config.get("model") != model.name:
        raise BrianlabError(
            f"{path} is a run of model {config.get('model')!r}, not {model.name!r}"
        )
    try:
        with np.load(path / DATA, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        raise BrianlabError(f"{path / DATA} cannot be read as a NumPy archive: {exc}") from None
    params = from_json(model.params, config["params"]) if model is not None else config.get("params")
    return RunRecord(path=path, config=config, params=params, metrics=metrics, arrays=arrays)
