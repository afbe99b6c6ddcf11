"""The build cache: compiled standalone projects kept per network shape, reused by later runs.

Builds live under ``CACHE/<build_key>/slot-<k>``. :func:`build_key` names a
shape: the model, every parameter that is not sweepable, the device and the
options that change what is built, and the Brian versions. A process holds a
lock on its slot (:class:`BuildSlot`), so parallel workers never share a build
directory. A slot already built is regenerated into unchanged files (Brian
leaves them alone), and ``make`` compiles nothing.

Beyond sweeps, :func:`cached_session` gives any caller (a scikit-learn
estimator's ``fit`` and ``predict``) a device session that builds into the
cache, so a network shape compiles once per machine, not once per call.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import hashlib
import itertools
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from brianlab import cuda, devices, fileio

__all__ = [
    "BUILD_SEED",
    "CACHE_ENV_VAR",
    "BuildSlot",
    "build_key",
    "cached_session",
    "default_build_cache",
    "shape_params",
    "sweepable_names",
]

CACHE_ENV_VAR = "BRIANLAB_BUILD_CACHE"
#: The seed compiled into every cached build; each run draws from its own seed.
BUILD_SEED = 0
COMPLETE = ".complete"  # stamp of a build slot that a run used
#: Files of a build slot that belong to single runs, not to the build: results,
#: run_args values (Brian reuses one whose name exists, so a half-copied one
#: would be wrong), and locks.
PER_RUN_FILES = ("results", "init_*", "*.lock")


def default_build_cache() -> Path:
    """Where builds are cached: ``$BRIANLAB_BUILD_CACHE``, else ``~/.cache/brianlab/builds``."""
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "brianlab" / "builds"


def sweepable_names(model, params) -> tuple[str, ...]:
    """The parameters of ``params`` that reach ``model``'s compiled network as run_args values."""
    return model.sweepable_names(params)


def options_key(device: str, options: devices.DeviceOptions) -> dict[str, Any]:
    """The device options that change what is built or computed (not where).

    On cuda_standalone also the architecture actually compiled for and the nvcc
    that did it (:func:`brianlab.cuda.build_identity`): a cache shared by machines
    with other GPUs or toolkits must not hand one a program built for the other.
    """
    key = {
        "device": device,
        "threads": options.threads,
        "gpu_id": options.gpu_id,
        "compute_capability": options.compute_capability,
        "codegen_target": options.codegen_target,
    }
    if device == "cuda_standalone":
        key.update(cuda.build_identity(options.gpu_id, options.compute_capability))
    return key


@functools.cache
def _brian_versions() -> tuple[tuple[str, Any], ...]:
    import brian2

    from brianlab import records

    return (("brian2", brian2.__version__), ("brian2cuda", records.versions().get("brian2cuda")))


def build_key(model, params, device: str, options: devices.DeviceOptions) -> str:
    """The cache directory name of ``params``' network shape on ``device``: ``<model>-<device>-<hash>``.

    Two parameter sets get the same key exactly when they compile to the same
    program: the hash covers the model's name, every parameter that is not
    sweepable (:func:`sweepable_names`), :func:`options_key` and the Brian versions.
    """
    from brianlab.params import structure_key

    structure = structure_key(params, sweepable_names(model, params))
    parts = [model.name, structure, options_key(device, options), dict(_brian_versions())]
    text = json.dumps(parts, sort_keys=True, default=str)
    return f"{model.name}-{device}-{hashlib.sha1(text.encode()).hexdigest()[:12]}"


def shape_params(model, params):
    """``params`` with the sweepable values at their defaults: what a cached shape is compiled from.

    Sweepable values are compiled in only as initial values and every run sets
    them through run_args, so compiling each shape from the same values makes
    its code the same whichever run comes first, and a cached build has nothing
    to compile.
    """
    defaults = model.params()
    names = sweepable_names(model, params)
    return dataclasses.replace(params, **{name: getattr(defaults, name) for name in names})


def _complete(slot: Path) -> bool:
    """Whether a build slot holds a build that a run used."""
    return (slot / COMPLETE).is_file()


class BuildSlot:
    """A build directory of one network shape that no other process uses meanwhile.

    Slots are ``SHAPE_DIR/slot-<k>``, each held with a lock while in use; a
    process takes the first free one. A slot is trusted once a run used it (it
    is stamped complete); one without the stamp (a process killed while
    compiling may have left a truncated object file that looks up to date) is
    emptied first. With ``share``, a process whose slot holds no build waits
    while another builds the same shape, then copies that build (file times
    kept, so ``make`` finds nothing to do) instead of compiling it again.

    Attributes
    ----------
    path : Path
        The slot's directory (after ``__enter__``).
    """

    def __init__(self, shape_dir: str | Path, share: bool = True):
        self.shape_dir = Path(shape_dir)
        self.share = share
        self.path = None
        self._slot_lock = self._build_lock = None

    def __enter__(self) -> BuildSlot:
        self.shape_dir.mkdir(parents=True, exist_ok=True)
        for k in itertools.count():
            lock = fileio.try_lock(self.shape_dir / f"slot-{k}.lock")
            if lock is not None:
                self._slot_lock, self.path = lock, self.shape_dir / f"slot-{k}"
                break
        if self.path.exists() and not _complete(self.path):
            shutil.rmtree(self.path)
        if self.share and not _complete(self.path):
            self._build_lock = fileio.try_lock(self.shape_dir / "build.lock", wait=True)
            source = next((s for s in sorted(self.shape_dir.glob("slot-*")) if _complete(s)), None)
            if source is not None:
                shutil.copytree(source, self.path, ignore=shutil.ignore_patterns(*PER_RUN_FILES))
                self.release()
        return self

    def complete(self) -> None:
        """Stamp the slot: a run used it."""
        stamp = self.path / COMPLETE
        if self.path.is_dir() and not stamp.exists():
            stamp.write_text(datetime.datetime.now().isoformat(timespec="seconds") + "\n")

    def release(self) -> None:
        """Let processes waiting for this shape's build go on (it is built, or its first run failed)."""
        if self._build_lock is not None:
            self._build_lock.close()
            self._build_lock = None

    def __exit__(self, *exc) -> bool:
        self.release()
        for path in self.path.glob("*/static_arrays/init_*"):  # run_args values, one file per value
            path.unlink(missing_ok=True)
        self._slot_lock.close()
        return False


@contextlib.contextmanager
def cached_session(
    model,
    params,
    device: str,
    options: devices.DeviceOptions | None = None,
    seed: int = 0,
    cache: str | Path | None = None,
    progress: bool = False,
) -> Iterator[devices.DeviceSession]:
    """An active :class:`~brianlab.devices.DeviceSession` that builds into the build cache.

    Build the program from :func:`shape_params` (``model``'s sweepable values
    at their defaults) and pass the real values as run_args: then every session
    of the same shape reuses one compiled project. The slot is stamped complete
    when the block ends without an error.

    Parameters
    ----------
    model : brianlab.model.Model
    params : instance of ``model.params``
        Decides the shape (:func:`build_key`).
    device : str
    options : DeviceOptions, optional
        Its ``build_dir`` is ignored: the cache decides where builds go.
    seed : int
        The session's run seed (the build itself is seeded with :data:`BUILD_SEED`).
    cache : Path, optional
        Default :func:`default_build_cache`.
    progress : bool

    Examples
    --------
    >>> with cached_session(MODEL, params, "cpp_standalone", seed=3) as session:  # doctest: +SKIP
    ...     program = session.program(lambda: build(shape_params(MODEL, params)), duration)
    ...     monitors = program.run(run_values(params))
    """
    device = devices.resolve_name(device)
    options = options or devices.DeviceOptions()
    with contextlib.ExitStack() as stack:
        slot = None
        if device in devices.STANDALONE:
            root = Path(cache or default_build_cache()).expanduser().resolve()
            rerunnable = device in ("cpp_standalone", "cuda_standalone")
            slot = stack.enter_context(BuildSlot(root / build_key(model, params, device, options), share=rerunnable))
        options = dataclasses.replace(options, build_dir=slot and slot.path)
        session = stack.enter_context(
            devices.DeviceSession(device, options, seed=seed, progress=progress, build_seed=BUILD_SEED))
        yield session
        if slot is not None and any(program.n_runs for program in session.programs):
            slot.complete()
