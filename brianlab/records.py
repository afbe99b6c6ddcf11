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

A run is written into a hidden staging directory next to its destination,
``.<name>.partial-<host>-<pid>-<random>``, and renamed into place at the end, so
a run directory that exists is complete, and a finished one is never written to
again (``brianlab plot`` draws into a new directory beside it). While it writes,
a run holds an exclusive lock on ``.<name>.lock`` beside its destination, so two
runs aimed at one directory cannot both write it: the second is refused. A
process removes only its own staging directory; one left by a killed process
stays (hidden) until a person removes it.
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import zipfile
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
    "StagedDirectory",
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
    """A hidden name beside ``final`` that no other process (on any host) uses."""
    host = "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname())[:40] or "host"
    return final.parent / f".{final.name}.partial-{host}-{os.getpid()}-{secrets.token_hex(4)}"


class _DestinationLock:
    """An exclusive, non-blocking ``flock`` on ``.<name>.lock`` beside a destination.

    The lock goes with the process: a killed run holds it no longer. The lock
    file is removed on release; :meth:`acquire` checks that the file it locked
    is still the one at the path, so a process that opened a file another one
    removed does not think it holds the lock.
    """

    def __init__(self, final):
        self.path = final.parent / f".{final.name}.lock"
        self._file = None

    def acquire(self, what):
        while True:
            handle = fileio.try_lock(self.path)
            if handle is None:
                raise BrianlabError(
                    f"{what} is being written by another brianlab process now; wait for it or choose another --out"
                )
            try:
                same = os.fstat(handle.fileno()).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._file = handle
                return
            handle.close()  # removed by its holder in between: lock the new one

    def release(self):
        if self._file is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            self._file.close()
            self._file = None


class StagedDirectory:
    """A directory being written under a hidden name; :meth:`commit` moves it into place.

    Parameters
    ----------
    final : Path
        Where the directory will be. It must not exist.
    what : str
        What it is, for messages (``"run directory"``).

    Raises
    ------
    BrianlabError
        If ``final`` exists (it is never overwritten), another process is writing
        it now, or its parent cannot be created or written.
    """

    def __init__(self, final, what="directory"):
        self.final = Path(final)
        self.what = what
        if self.final.exists() or self.final.is_symlink():
            raise BrianlabError(self._exists_message())
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BrianlabError(f"cannot create {self.final.parent} for the {what}: {exc.strerror or exc}") from None
        self._lock = _DestinationLock(self.final)
        try:
            self._lock.acquire(f"{what} {self.final}")
        except OSError as exc:
            raise BrianlabError(f"cannot write in {self.final.parent}: {exc.strerror or exc}") from None
        if self.final.exists():  # finished by another process before we held the lock
            self._lock.release()
            raise BrianlabError(self._exists_message())
        self.path = _staging_path(self.final)
        try:
            self.path.mkdir()  # a new name: nothing of anyone else's is removed
        except OSError as exc:
            self._lock.release()
            raise BrianlabError(f"cannot write in {self.final.parent}: {exc.strerror or exc}") from None

    def _exists_message(self):
        return f"{self.what} {self.final} already exists and is never overwritten; choose another --out or leave --out out"

    def commit(self):
        """Rename the staging directory to its final name, release the lock, and return the name."""
        try:
            try:
                fileio.rename_no_replace(self.path, self.final)
            except FileExistsError:
                raise BrianlabError(
                    f"{self.what} {self.final} appeared while this process was writing; "
                    f"its output is kept at {self.path}"
                ) from None
            except OSError as exc:
                raise BrianlabError(
                    f"cannot move {self.path} to {self.final} ({exc.strerror or exc}); its output is kept there"
                ) from None
        finally:
            self._lock.release()
        return self.final

    def discard(self):
        """Remove this process's staging directory and release the lock."""
        shutil.rmtree(self.path, ignore_errors=True)
        self._lock.release()

    def keep(self):
        """Release the lock and leave the staging directory (for a person to inspect)."""
        self._lock.release()


class StagedRun(StagedDirectory):
    """A run directory being written; :meth:`commit` moves it into place.

    Parameters
    ----------
    final : Path
        Where the run directory will be. It must not exist.

    Raises
    ------
    BrianlabError
        If ``final`` exists already (it is never overwritten), or another process
        is writing it now.
    """

    def __init__(self, final):
        super().__init__(final, "run directory")

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
    """Versions of the software a run depends on (looked up once per process; a new dict each call)."""
    return dict(_versions_once())


@functools.cache
def _versions_once():
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
    """``{"commit": sha, "dirty": bool}`` of the brianlab checkout, or None outside one.

    Asked of ``git`` once per process (two subprocesses) and remembered: the code a
    process runs is what it imported, so every run it records (each point of a
    sweep on a worker) carries the same state. Each call returns a new dict.
    """
    state = _git_state_once()
    return None if state is None else dict(state)


@functools.cache
def _git_state_once():
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


def _read_json_object(path):
    """The JSON object in ``path``; BrianlabError if it cannot be read or is not an object."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:  # ValueError: bad JSON or bad UTF-8
        raise BrianlabError(f"{path} cannot be read as JSON: {str(exc).splitlines()[0] if str(exc) else exc!r}") from None
    if not isinstance(data, dict):
        raise BrianlabError(f"{path} does not hold a JSON object; it is not a brianlab file")
    return data


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
    config, metrics = _read_json_object(path / CONFIG), _read_json_object(path / METRICS)
    if model is not None and config.get("model") != model.name:
        raise BrianlabError(
            f"{path} is a run of model {config.get('model')!r}, not {model.name!r}"
        )
    try:
        with np.load(path / DATA, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise BrianlabError(f"{path / DATA} cannot be read as a NumPy archive: {exc}") from None
    if model is not None:
        if "params" not in config:
            raise BrianlabError(f"{path / CONFIG} has no 'params'; it is not a complete brianlab config")
        try:
            params = from_json(model.params, config["params"])
        except BrianlabError as exc:
            raise BrianlabError(f"{path / CONFIG}: {exc}") from None
    else:
        params = config.get("params")
    return RunRecord(path=path, config=config, params=params, metrics=metrics, arrays=arrays)
