"""The device switch: the only module that calls ``set_device`` or sets device preferences.

Four devices are known, by the names Brian2 uses:

``runtime``
    Brian's default: code generated and run from Python (Cython or NumPy).
``cpp_standalone``
    A C++ project compiled with the system compiler (``--threads N`` for OpenMP).
``cuda_standalone``
    A CUDA project (brian2cuda) compiled with nvcc; running it needs an NVIDIA GPU.
    ``--compile-only`` generates and compiles it where there is nvcc but no GPU.
``genn``
    brian2genn with GeNN. Detected honestly: it cannot be installed beside the
    brian2 version brianlab pins, and selecting it says so.

Everything else asks this module for a device by name: :func:`probe` says whether
a device can build and run here (and why not), :func:`require` fails with one
line before any build starts, and :class:`DeviceSession` activates a device,
hands out fresh standalone project directories and puts Brian back as it was.
Brian's own ``brian2/devices/device.py`` (a registry of named devices and a stack
to return to) is the model for this module.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import logging
import os
import re
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

import brian2 as b2

from brianlab import cuda, fileio
from brianlab.errors import BrianlabError

__all__ = [
    "DEVICE_NAMES",
    "ENV_VAR",
    "DeviceOptions",
    "DeviceStatus",
    "resolve_name",
    "probe",
    "probe_all",
    "require",
    "DeviceSession",
]

DEVICE_NAMES = ("runtime", "cpp_standalone", "cuda_standalone", "genn")
STANDALONE = ("cpp_standalone", "cuda_standalone", "genn")
ENV_VAR = "BRIANLAB_DEVICE"
SEED_ENV_VAR = "BRIANLAB_SEED"
#: Compute capability compiled for when no GPU is present to ask (``--compile-only``).
DEFAULT_COMPUTE_CAPABILITY = cuda.DEFAULT_COMPUTE_CAPABILITY


@dataclasses.dataclass(frozen=True)
class DeviceOptions:
    """Options that pass through to the selected device.

    Parameters
    ----------
    threads : int
        OpenMP threads for ``cpp_standalone`` (0: no OpenMP, Brian's default).
    build_dir : Path or None
        Where standalone projects are built. Default: ``build/`` inside the run
        directory, so no two runs share one.
    gpu_id : int or None
        CUDA: the GPU to run on, counted among the GPUs that ``CUDA_VISIBLE_DEVICES``
        leaves visible, as ``cudaSetDevice`` counts them (default 0: the first).
    compute_capability : float or None
        CUDA: the architecture to compile for (default: the GPU's own; with no
        GPU, ``DEFAULT_COMPUTE_CAPABILITY``).
    compile_only : bool
        Standalone devices: generate and compile the project, do not run it.
    codegen_target : str
        ``runtime``: ``auto`` (Cython where it works), ``cython`` or ``numpy``.
    """

    threads: int = 0
    build_dir: Path | None = None
    gpu_id: int | None = None
    compute_capability: float | None = None
    compile_only: bool = False
    codegen_target: str = "auto"

    def to_json(self):
        """A JSON-able dict of the options."""
        data = dataclasses.asdict(self)
        data["build_dir"] = None if self.build_dir is None else str(self.build_dir)
        return data


@dataclasses.dataclass(frozen=True)
class DeviceStatus:
    """What this machine can do with one device.

    ``missing`` is empty when the device can build and run; otherwise it says
    what is missing and the command or setting that would fix it.
    """

    name: str
    can_build: bool
    can_run: bool
    found: str
    missing: str = ""

    def to_json(self):
        return dataclasses.asdict(self)


def resolve_name(name=None):
    """The device to use: ``name``, else ``$BRIANLAB_DEVICE``, else ``runtime``.

    Raises
    ------
    BrianlabError
        If the name is not one of :data:`DEVICE_NAMES`.
    """
    chosen = name or os.environ.get(ENV_VAR) or "runtime"
    if chosen not in DEVICE_NAMES:
        source = "--device" if name else f"${ENV_VAR}"
        raise BrianlabError(
            f"unknown device {chosen!r} (from {source}); choose one of: {', '.join(DEVICE_NAMES)}"
        )
    return chosen


# ----------------------------------------------------------------------------
# probing what this machine has
# ----------------------------------------------------------------------------


def _cxx_compiler():
    for name in (os.environ.get("CXX"), "g++", "c++", "clang++"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _gpus():
    """[(index, name, compute_capability)] from nvidia-smi; [] where there is none."""
    return [(g.index, g.name, g.compute_capability) for g in cuda.query_driver().gpus]


def _installed_version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _probe_runtime(options):
    return DeviceStatus("runtime", True, True, f"brian2 {b2.__version__} in this Python")


def _probe_cpp(options):
    cxx = _cxx_compiler()
    if not cxx:
        return DeviceStatus(
            "cpp_standalone", False, False, "",
            "no C++ compiler found: install one (e.g. apt-get install g++) or set $CXX",
        )
    return DeviceStatus("cpp_standalone", True, True, f"C++ compiler {cxx}")


def _probe_cuda(options):
    name = "cuda_standalone"
    version = _installed_version("brian2cuda")
    if version is None:
        return DeviceStatus(
            name, False, False, "",
            "brian2cuda is not installed: run .venv/bin/pip install -e '.[cuda]'",
        )
    setup = cuda.inspect(options.gpu_id, options.compute_capability)
    found = f"brian2cuda {version}" + (f", {setup.describe()}" if setup.describe() else "")
    if not setup.can_build:
        return DeviceStatus(name, False, False, found, setup.build_problem)
    if not setup.can_run:
        return DeviceStatus(name, True, False, found, setup.run_problem)
    return DeviceStatus(name, True, True, found + "; one GPU per program: --gpu-id counts CUDA_VISIBLE_DEVICES")


def _requirement_allows(requirement, version):
    """Whether a simple 'pkg (<a,>=b)' requirement admits ``version``."""
    def as_tuple(text):
        return tuple(int(p) for p in re.findall(r"\d+", text)[:3])

    spec = re.sub(r"^[A-Za-z0-9_.\-]+", "", requirement).strip(" ()")
    have = as_tuple(version)
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        op, ver = re.match(r"(<=|>=|==|<|>|!=)\s*(.+)", clause).groups()
        want = as_tuple(ver)
        ok = {
            "<": have < want, "<=": have <= want, ">": have > want,
            ">=": have >= want, "==": have == want, "!=": have != want,
        }[op]
        if not ok:
            return False
    return True


def _probe_genn(options):
    name = "genn"
    brian_version = b2.__version__
    version = _installed_version("brian2genn")
    if version is None:
        return DeviceStatus(
            name, False, False, "",
            f"brian2genn is not installed and cannot be installed beside brian2 {brian_version}: "
            "its newest release (1.7.0) requires brian2<2.6, and GeNN itself is on no package "
            "registry; use --device cuda_standalone for GPUs, or a separate environment with "
            "brian2<2.6, brian2genn and GeNN (set $GENN_PATH)",
        )
    requires = importlib.metadata.requires("brian2genn") or []
    for req in requires:
        if re.match(r"brian2\b", req, re.I) and "extra" not in req:
            if not _requirement_allows(req.split(";")[0], brian_version):
                return DeviceStatus(
                    name, False, False, f"brian2genn {version}",
                    f"brian2genn {version} requires {req.split(';')[0].strip()} but brian2 "
                    f"{brian_version} is installed; use a separate environment with a matching brian2",
                )
    genn_path = os.environ.get("GENN_PATH")
    if not (genn_path and Path(genn_path).exists()) and not shutil.which("genn-buildmodel.sh"):
        return DeviceStatus(
            name, False, False, f"brian2genn {version}",
            "GeNN not found: install GeNN and set $GENN_PATH to it (genn-buildmodel.sh must exist)",
        )
    return DeviceStatus(name, True, bool(_gpus()), f"brian2genn {version}, GeNN at {genn_path}",
                        "" if _gpus() else "no NVIDIA GPU visible: GeNN can only build here")


_PROBES = {
    "runtime": _probe_runtime,
    "cpp_standalone": _probe_cpp,
    "cuda_standalone": _probe_cuda,
    "genn": _probe_genn,
}


def probe(name, options=None):
    """The :class:`DeviceStatus` of device ``name`` on this machine."""
    return _PROBES[resolve_name(name)](options or DeviceOptions())


def probe_all(options=None):
    """The status of every device in :data:`DEVICE_NAMES`."""
    return [probe(name, options) for name in DEVICE_NAMES]


def require(name, options=None):
    """Check that device ``name`` can do what ``options`` ask, before any build.

    Returns
    -------
    DeviceStatus

    Raises
    ------
    BrianlabError
        One line naming what is missing and how to get it.
    """
    options = options or DeviceOptions()
    status = probe(name, options)
    if options.compile_only and name == "runtime":
        raise BrianlabError("--compile-only needs a standalone device (cpp_standalone or cuda_standalone)")
    if options.threads and name != "cpp_standalone":
        raise BrianlabError(f"--threads applies to cpp_standalone only, not {name}")
    if options.codegen_target not in ("auto", "cython", "numpy"):
        raise BrianlabError(f"unknown code generation target {options.codegen_target!r}; use auto, cython or numpy")
    needed = status.can_build if options.compile_only else status.can_run
    if not needed:
        what = "build" if options.compile_only or not status.can_build else "run"
        raise BrianlabError(f"device {name} cannot {what} here: {status.missing}")
    return status


# ----------------------------------------------------------------------------
# activating a device
# ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SessionCounters:
    """A snapshot of a session's build and run counters (:meth:`DeviceSession.counters`)."""

    time: float  #: ``time.perf_counter()`` when taken
    programs: Mapping[int, tuple]  #: program id -> its (build_s, run_s, n_builds, n_compiles, n_runs)

    def since(self, earlier: SessionCounters | None) -> dict:
        """What happened between ``earlier`` and this snapshot, as metrics (``build_wall_s``, ...)."""
        totals = [0] * len(_COUNTERS)
        before = earlier.programs if earlier is not None else {}
        for key, values in self.programs.items():
            previous = before.get(key, (0,) * len(_COUNTERS))
            for k, value in enumerate(values):
                totals[k] += value - previous[k]
        build_s, run_s, n_builds, n_compiles, n_runs = totals
        return {
            "build_wall_s": build_s,
            "run_wall_s": run_s,
            "total_wall_s": self.time - (earlier.time if earlier is not None else self.time),
            "n_builds": n_builds,
            "n_compiles": n_compiles,
            "n_runs": n_runs,
        }


_COUNTERS = ("build_s", "run_s", "n_builds", "n_compiles", "n_runs")


class DeviceSession:
    """One device, active from ``__enter__`` to ``__exit__``.

    Parameters
    ----------
    name : str
        One of :data:`DEVICE_NAMES` (checked with :func:`require`).
    options : DeviceOptions
    build_root : Path
        Where standalone projects go unless ``options.build_dir`` says otherwise;
        each :meth:`new_project` gets its own subdirectory.
    seed : int
        The seed for every random source of the run (``program.run()`` draws from
        it; set ``session.seed`` between runs to change it).
    build_seed : int, optional
        The seed compiled into a rerunnable standalone project (default: ``seed``).
        Its runs draw from their own seed through ``$BRIANLAB_SEED`` whatever this
        is, so a sweep fixes it and the generated code is the same for every seed:
        a project regenerated into the same directory is then not recompiled.
    progress : bool
        Show one progress bar for the whole session on stderr, when it is a
        terminal (:class:`brianlab.progress.RunProgress`, as ``session.bar``).
    verbose : bool
        Print Brian's report lines (to stderr) as well.
    label : str
        Names the bar (the model).

    Notes
    -----
    A standalone device holds one project at a time: :meth:`new_project` resets
    Brian's device state, so objects and monitors of an earlier project are no
    longer readable after it.
    """

    def __init__(self, name, options=None, build_root=None, seed=0, progress=True, build_seed=None,
                 verbose=False, label=""):
        self.name = resolve_name(name)
        self.options = options or DeviceOptions()
        self.build_root = Path(self.options.build_dir or build_root or "build").resolve()
        self.seed = int(seed)
        self._build_seed = None if build_seed is None else int(build_seed)
        self.progress = progress
        from brianlab.progress import RunProgress

        #: The run's progress bar: programs report to it, models label phases on it.
        self.bar = RunProgress(label, enabled=progress, verbose=verbose)
        self.projects = []
        self._project_dirs = {}
        #: Every :class:`~brianlab.simulation.Program` made on this session (for timings).
        self.programs = []
        self._last_program_key = None
        self._saved_prefs = {}
        self._active = False
        self._lock = None

    @property
    def build_seed(self):
        """The seed a rerunnable standalone project is compiled with (see the class notes)."""
        return self.seed if self._build_seed is None else self._build_seed

    @property
    def standalone(self):
        """Whether this device builds a project that runs outside Python."""
        return self.name in STANDALONE

    @property
    def supports_run_args(self):
        """Whether a built project can be rerun with new values (Brian's ``run_args``)."""
        return self.name in ("cpp_standalone", "cuda_standalone")

    @property
    def simd(self) -> bool:
        """Whether models should use the vectorised C++ math of :mod:`brianlab.simd` (cpp_standalone)."""
        return self.name == "cpp_standalone"

    @property
    def run_s(self):
        """Wall seconds spent running, summed over every program of this session (so far)."""
        return sum(program.run_s for program in self.programs)

    def counters(self) -> SessionCounters:
        """A snapshot of every program's build and run counters, to tell one run's share of the session."""
        return SessionCounters(
            time.perf_counter(),
            {id(p): tuple(getattr(p, name) for name in _COUNTERS) for p in self.programs},
        )

    @property
    def report(self):
        """Brian's ``report=`` argument for ``Network.run``: feeds :attr:`bar` (None when it shows nothing)."""
        from brianlab.progress import STANDALONE_REPORT

        if not self.bar.active:
            return None
        return STANDALONE_REPORT if self.standalone else self.bar.runtime_callback()

    @property
    def report_period(self):
        """Brian's ``report_period=`` for ``Network.run``."""
        from brianlab.progress import REPORT_PERIOD_S

        return REPORT_PERIOD_S * b2.second

    def phase(self, name: str, expect_s: float | None = None) -> None:
        """Label the phase that runs from now on in the progress bar (``"training"``).

        ``expect_s``: the simulated seconds of the whole run, if the model knows them.
        """
        if expect_s is not None:
            self.bar.expect(expect_s)
        self.bar.phase(name)

    # -- life cycle -----------------------------------------------------------

    def __enter__(self):
        require(self.name, self.options)
        if self.standalone:
            self._lock_build_root()
        handler = b2.BrianLogger.console_handler
        self._saved_log_level = handler.level if handler else None
        if handler:
            handler.setLevel(logging.WARNING)
        self._set_prefs(self._device_prefs())
        self._saved_dt = b2.defaultclock.dt_
        if not self.standalone:
            b2.set_device("runtime")
        self._active = True
        return self

    def __exit__(self, *exc):
        self._active = False
        self.bar.close(complete=exc[0] is None)
        self._reset_device()
        b2.set_device("runtime")
        b2.defaultclock.dt_ = self._saved_dt
        for key, value in self._saved_prefs.items():
            b2.prefs[key] = value
        self._saved_prefs = {}
        os.environ.pop(SEED_ENV_VAR, None)
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None
        if b2.BrianLogger.console_handler and self._saved_log_level is not None:
            b2.BrianLogger.console_handler.setLevel(self._saved_log_level)
        return False

    def _lock_build_root(self):
        """Hold an exclusive lock on the build root, so no two runs build in it at once."""
        self.build_root.mkdir(parents=True, exist_ok=True)
        lock = fileio.try_lock(self.build_root / ".brianlab.lock")
        if lock is None:
            raise BrianlabError(
                f"build directory {self.build_root} is in use by another run; "
                "choose another --build-dir or wait for that run to finish"
            )
        self._lock = lock

    def _set_prefs(self, values):
        for key, value in values.items():
            self._saved_prefs.setdefault(key, b2.prefs[key])
            b2.prefs[key] = value

    def _device_prefs(self):
        prefs = {}
        jobs = f"-j{os.cpu_count() or 1}"
        if self.name == "runtime" and self.options.codegen_target != "auto":
            prefs["codegen.target"] = self.options.codegen_target
        if self.name in ("cpp_standalone", "cuda_standalone"):
            prefs["devices.cpp_standalone.extra_make_args_unix"] = [jobs]
        if self.name == "cpp_standalone":
            prefs["devices.cpp_standalone.openmp_threads"] = int(self.options.threads)
        if self.name == "cuda_standalone":
            prefs.update(self._cuda_prefs())
        return prefs

    def _cuda_prefs(self):
        import brian2cuda  # noqa: F401  (registers the cuda_standalone device and its prefs)

        setup = cuda.inspect(self.options.gpu_id, self.options.compute_capability)
        cuda.fix_run_args_template()
        cuda.forget_gpu_selection()
        return cuda.brian_prefs(setup, self.build_root, b2.prefs)

    def _reset_device(self):
        device = b2.get_device()
        if hasattr(device, "reinit"):
            device.reinit()
        device.activate()

    # -- projects -------------------------------------------------------------

    def new_project(self, tag="main", key=None):
        """Start a fresh Brian project for this device and return its directory.

        For ``runtime`` this resets nothing and returns None. For standalone
        devices, Brian's device state is reset (earlier projects' objects become
        unreadable) and the device is pointed at ``build_root/<k>-<tag>``. A
        ``key`` (a network shape) seen before in this session gets its earlier
        directory back: Brian rewrites only changed files, so ``make`` has
        nothing to compile when a model alternates between two shapes.
        """
        if not self._active:
            raise RuntimeError("DeviceSession.new_project() outside its 'with' block")
        if not self.standalone:
            return None
        if self.projects:
            self._reset_device()
        directory = self._project_dirs.get(key) if key is not None else None
        if directory is None:
            directory = self.build_root / f"{len(self.projects)}-{tag}"
        if key is not None:
            self._project_dirs[key] = directory
        directory.mkdir(parents=True, exist_ok=True)
        if self.name == "cuda_standalone":
            import brian2cuda  # noqa: F401
        if self.name == "genn":
            import brian2genn  # noqa: F401
        b2.set_device(self.name, directory=str(directory), build_on_run=False)
        if self.name == "cuda_standalone":
            b2.get_device().run_environment_variables.update(cuda.run_environment())
        self.projects.append(directory)
        return directory

    def program(self, build, duration, dt=None, tag="main", key=None):
        """A :class:`~brianlab.simulation.Program` for ``build``, reused while ``key`` repeats.

        Successive calls with the same (hashable, not None) ``key`` return the same
        program, so a second simulation of the same network shape reruns the
        compiled project instead of building again. Only the latest program is
        kept: a standalone device holds one project at a time.
        """
        from brianlab.simulation import Program

        if key is not None and self.programs and self._last_program_key == key:
            return self.programs[-1]
        self._last_program_key = key
        return Program(self, build, duration, dt=dt, tag=tag, key=key)

    def seed_network(self, seed):
        """Seed Brian's random numbers for the project being built.

        In standalone devices that support reruns, code is added so that a
        rerun with ``$BRIANLAB_SEED`` set (see :meth:`set_run_seed`) draws
        from that seed instead, without recompiling.
        """
        b2.seed(int(seed))
        if self.name == "cpp_standalone":
            threads = max(1, int(self.options.threads))
            b2.device.insert_code(
                "main",
                f"if (const char* _s = std::getenv(\"{SEED_ENV_VAR}\")) {{\n"
                f"    for (int _i=0; _i<{threads}; _i++)\n"
                "        brian::_random_generators[_i].seed(std::strtoul(_s, NULL, 10) + _i);\n"
                "}",
            )
        elif self.name == "cuda_standalone":
            b2.device.insert_code(
                "main",
                f"if (const char* _s = std::getenv(\"{SEED_ENV_VAR}\"))\n"
                "    random_number_buffer.set_seed(std::strtoull(_s, NULL, 10));",
            )

    def set_run_seed(self, seed):
        """Make the next run of the built standalone project draw from ``seed``."""
        device = b2.get_device()
        device.run_environment_variables[SEED_ENV_VAR] = str(int(seed))
