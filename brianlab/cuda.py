"""CUDA for ``cuda_standalone``: this machine's toolkit, driver and GPUs, and brian2cuda's preferences.

brianlab keeps CUDA apart from :mod:`brianlab.devices` the way brian2cuda keeps
``cuda_prefs.py`` apart from its ``device.py``: this module finds things out and
computes preferences; :mod:`brianlab.devices` is still the only module that
applies them and calls ``set_device``.

- :func:`inspect` finds nvcc (and its version and GPU architectures), cuRAND and the
  CUDA runtime it loads, the host compiler nvcc is given, the driver and the GPUs
  that ``CUDA_VISIBLE_DEVICES`` leaves visible, and says in one line what stops a
  build or a run, before anything is built.
- :func:`brian_prefs` gives the brian2cuda preferences for a checked setup: the GPU
  (counted among the visible ones, as ``cudaSetDevice`` counts), its architecture,
  cuRAND's headers (alone, so no other CUDA headers shadow the toolkit's) and an
  ``RPATH`` that finds cuRAND and the runtime it needs without the loader cache.
- :func:`fix_run_args_template` repairs brian2cuda 1.0a7's ``objects.cu``, which
  lowercases every command-line ``run_args`` value (and so the file names of array
  values); see ``docs/gpu.md``.
- :func:`build_identity` and :func:`sweep_gpus` are what a sweep needs: the facts
  that change a compiled CUDA program, and the GPUs its workers are pinned to.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "DEFAULT_COMPUTE_CAPABILITY",
    "MIN_DRIVER",
    "Gpu",
    "Driver",
    "CudaSetup",
    "find_nvcc",
    "nvcc_version",
    "nvcc_architectures",
    "find_curand",
    "host_compiler",
    "host_compiler_problem",
    "query_driver",
    "visible_gpus",
    "inspect",
    "brian_prefs",
    "fix_run_args_template",
    "run_args_template_is_fixed",
    "build_identity",
    "sweep_gpus",
    "pin_gpu",
]

#: Compute capability compiled for when no GPU is present to ask (``--compile-only``).
DEFAULT_COMPUTE_CAPABILITY = 8.0
#: The oldest Linux driver (major version) that runs each CUDA major version.
MIN_DRIVER = {11: 450, 12: 525, 13: 580}


def _run(args, timeout=60, env=None):
    """(exit status, stdout, stderr) of a command; (None, "", why) if it cannot start."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, "", str(exc)
    return done.returncode, done.stdout, done.stderr


# ----------------------------------------------------------------------------
# the toolkit
# ----------------------------------------------------------------------------


def find_nvcc() -> str | None:
    """Path of nvcc, looked for as brian2cuda looks for it ($CUDA_PATH, PATH, /usr/local/cuda, /opt/cuda)."""
    cuda_path = os.environ.get("CUDA_PATH")
    if cuda_path and Path(cuda_path, "bin", "nvcc").exists():
        return str(Path(cuda_path, "bin", "nvcc"))
    found = shutil.which("nvcc")
    if found:
        return found
    for root in ("/usr/local/cuda", "/opt/cuda"):
        if Path(root, "bin", "nvcc").exists():
            return str(Path(root, "bin", "nvcc"))
    return None


@functools.cache
def _nvcc_version_text(nvcc: str) -> str:
    return _run([nvcc, "--version"])[1]


def nvcc_version(nvcc: str) -> tuple[int, int, int] | None:
    """nvcc's version, ``(13, 0, 88)`` from ``release 13.0, V13.0.88``; None if it does not say."""
    text = _nvcc_version_text(nvcc)
    full = re.search(r"\bV(\d+)\.(\d+)\.(\d+)", text)
    if full:
        return tuple(int(x) for x in full.groups())
    short = re.search(r"release (\d+)\.(\d+)", text)
    return (int(short.group(1)), int(short.group(2)), 0) if short else None


@functools.cache
def nvcc_architectures(nvcc: str) -> tuple[int, ...]:
    """The virtual architectures nvcc compiles for, ``(75, 80, ..., 120)`` (``nvcc --list-gpu-arch``)."""
    return tuple(sorted({int(n) for n in re.findall(r"compute_(\d+)", _run([nvcc, "--list-gpu-arch"])[1])}))


def _toolkit_root(nvcc: str) -> Path:
    """The toolkit directory of nvcc (through a wrapper script that execs the real one)."""
    real = Path(os.path.realpath(nvcc))
    try:
        head = real.read_text(errors="ignore")[:400] if real.stat().st_size < 4096 else ""
    except OSError:
        head = ""
    wrapped = re.search(r"exec\s+(\S+/bin/nvcc)\b", head)
    if wrapped:
        real = Path(os.path.realpath(wrapped.group(1)))
    return real.parent.parent


def find_curand(nvcc: str | None) -> tuple[Path, Path] | None:
    """``(include_dir, library_file)`` of cuRAND, or None.

    The toolkit next to nvcc comes first (its cuRAND matches its runtime); then
    the ``nvidia-curand`` wheel (``nvidia/cu13`` or the older ``nvidia/curand``).
    """
    candidates = []
    if nvcc:
        root = _toolkit_root(nvcc)
        candidates.append((root / "include", [root / "lib64", root / "lib"]))
        targets = root / "targets" / "x86_64-linux"
        candidates.append((targets / "include", [targets / "lib"]))
    for entry in sys.path:
        base = Path(entry or ".", "nvidia")
        for sub in ("cu13", "cu12", "curand"):
            candidates.append((base / sub / "include", [base / sub / "lib"]))
    for include, libdirs in candidates:
        if not (include / "curand.h").exists():
            continue
        for libdir in libdirs:
            libs = sorted(libdir.glob("libcurand.so*"))
            if libs:
                return include, libs[0]
    return None


def _needed(library: Path) -> list[str]:
    """The DT_NEEDED names of a shared library (``readelf -d``); [] if it cannot tell."""
    code, out, _ = _run(["readelf", "-d", str(library)])
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out) if code == 0 else []


def _find_cudart(curand_library: Path, nvcc: str | None, soname: str) -> Path | None:
    """The directory holding ``soname`` (libcudart.so.N) for cuRAND: beside it, else the toolkit's."""
    places = [curand_library.parent]
    if nvcc:
        root = _toolkit_root(nvcc)
        places += [root / "lib64", root / "lib", root / "targets" / "x86_64-linux" / "lib"]
    for place in places:
        if (place / soname).exists():
            return place
    return None


def host_compiler() -> str:
    """The host compiler brian2cuda's makefile gives nvcc (``-ccbin $(CXX)``): ``$CXX``, else ``g++``."""
    return os.environ.get("CXX") or "g++"


@functools.cache
def host_compiler_problem(nvcc: str, cxx: str) -> str:
    """Why nvcc refuses ``cxx`` as its host compiler, in one line; "" when it accepts it.

    nvcc checks the host compiler's version when it preprocesses (``crt/host_config.h``),
    so preprocessing an empty CUDA file with ``-ccbin cxx`` tells, in about a second.
    """
    if not shutil.which(cxx):
        return f"host compiler {cxx!r} (from {'$CXX' if os.environ.get('CXX') else 'the default'}) not found"
    with tempfile.TemporaryDirectory(prefix="brianlab-ccbin-") as tmp:
        source = Path(tmp, "empty.cu")
        source.write_text("int main() { return 0; }\n")
        code, out, err = _run([nvcc, "-ccbin", cxx, "-E", str(source), "-o", os.devnull], timeout=120)
    if code == 0:
        return ""
    lines = [ln.strip() for ln in (err + out).splitlines() if ln.strip()]
    said = next((ln for ln in lines if "unsupported" in ln.lower()), lines[0] if lines else f"exit status {code}")
    return re.sub(r"^.*?#error\s*(--\s*)?", "", said)[:200]


def _other_host_compilers(nvcc: str, cxx: str) -> list[str]:
    """Versioned g++ (g++-15 ... g++-9) on PATH that nvcc accepts."""
    found = []
    for major in range(15, 8, -1):
        name = f"g++-{major}"
        if shutil.which(name) and os.path.basename(cxx) != name and not host_compiler_problem(nvcc, name):
            found.append(name)
    return found


# ----------------------------------------------------------------------------
# the driver and the GPUs
# ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Gpu:
    """One GPU as ``nvidia-smi`` lists it (``index`` is nvidia-smi's, PCI bus order)."""

    index: int
    name: str
    uuid: str = ""
    compute_capability: float | None = None  #: None where nvidia-smi has no ``compute_cap`` field


@dataclasses.dataclass(frozen=True)
class Driver:
    """What ``nvidia-smi`` says: the driver, the CUDA version it supports, and every GPU."""

    found: bool  #: whether nvidia-smi ran
    version: str = ""  #: ``"580.65.06"``
    cuda: tuple[int, int] | None = None  #: the newest CUDA the driver runs (``CUDA Version:`` header)
    gpus: tuple[Gpu, ...] = ()
    error: str = ""  #: why nvidia-smi gave nothing, one line

    @property
    def major(self) -> int | None:
        match = re.match(r"(\d+)", self.version)
        return int(match.group(1)) if match else None


#: Compute capabilities of common GPUs, for a hint when nvidia-smi cannot say (never applied silently).
KNOWN_CAPABILITIES = {
    "B200": 10.0, "H200": 9.0, "H100": 9.0, "GH200": 9.0, "L40S": 8.9, "L40": 8.9, "L4": 8.9,
    "RTX 4090": 8.9, "RTX 4080": 8.9, "RTX 6000 Ada": 8.9, "A100": 8.0, "A30": 8.0, "A10": 8.6,
    "A40": 8.6, "RTX 3090": 8.6, "RTX A6000": 8.6, "RTX 5090": 12.0, "T4": 7.5, "V100": 7.0,
}


def _known_capability(name: str) -> float | None:
    for key in sorted(KNOWN_CAPABILITIES, key=len, reverse=True):
        if key.lower() in name.lower():
            return KNOWN_CAPABILITIES[key]
    return None


def query_driver() -> Driver:
    """Ask ``nvidia-smi`` (on PATH) for the driver, its CUDA version and the GPUs.

    Works with drivers whose ``nvidia-smi`` has no ``compute_cap`` query field: the
    GPUs are then listed with ``compute_capability=None``.
    """
    smi = shutil.which("nvidia-smi")
    if not smi:
        return Driver(False, error="nvidia-smi not found (no NVIDIA driver installed)")
    fields = "index,name,uuid,driver_version,compute_cap"
    code, out, err = _run([smi, f"--query-gpu={fields}", "--format=csv,noheader"], timeout=30)
    with_cap = code == 0
    if not with_cap:
        code, out, err = _run([smi, "--query-gpu=index,name,uuid,driver_version", "--format=csv,noheader"], timeout=30)
    if code != 0:
        said = (err or out).strip().splitlines()
        return Driver(True, error=f"nvidia-smi failed: {said[0] if said else f'exit status {code}'}")
    gpus, version = [], ""
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 4 or not parts[0].isdigit():
            continue
        capability = None
        if with_cap and len(parts) > 4:
            try:
                capability = float(parts[4])
            except ValueError:
                capability = None
        gpus.append(Gpu(int(parts[0]), parts[1], parts[2], capability))
        version = version or parts[3]
    _, header, _ = _run([smi], timeout=30)
    cuda = re.search(r"CUDA Version:\s*(\d+)\.(\d+)", header)
    return Driver(True, version, (int(cuda.group(1)), int(cuda.group(2))) if cuda else None, tuple(gpus),
                  "" if gpus else "nvidia-smi lists no GPU")


def visible_gpus(gpus: Sequence[Gpu], environ: Mapping[str, str] | None = None) -> list[Gpu]:
    """The GPUs a CUDA program sees, in the order ``cudaSetDevice`` counts them.

    ``CUDA_VISIBLE_DEVICES`` (indices or ``GPU-`` UUIDs, comma separated) selects and
    orders them; CUDA stops at the first entry that names no GPU, and an empty value
    hides them all. brianlab runs its programs with ``CUDA_DEVICE_ORDER=PCI_BUS_ID``,
    so the order left is nvidia-smi's.
    """
    environ = os.environ if environ is None else environ
    spec = environ.get("CUDA_VISIBLE_DEVICES")
    if spec is None:
        return list(gpus)
    chosen = []
    for entry in (e.strip() for e in spec.split(",")):
        match = None
        if entry.isdigit():
            match = next((g for g in gpus if g.index == int(entry)), None)
        elif entry:
            match = next((g for g in gpus if g.uuid and g.uuid.startswith(entry)), None)
        if match is None or match in chosen:
            break
        chosen.append(match)
    return chosen


# ----------------------------------------------------------------------------
# the whole check
# ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CudaSetup:
    """What :func:`inspect` found, and what stops a build or a run (one line each; "" if nothing).

    ``gpu_id`` counts visible GPUs (what brian2cuda compiles into ``cudaSetDevice``);
    ``gpu`` is that GPU as nvidia-smi lists it.
    """

    nvcc: str | None = None
    nvcc_version: tuple[int, int, int] | None = None
    curand_include: Path | None = None
    curand_library: Path | None = None
    cudart_dir: Path | None = None
    host_compiler: str = ""
    driver: Driver = Driver(False)
    visible: tuple[Gpu, ...] = ()
    gpu_id: int = 0
    gpu: Gpu | None = None
    compute_capability: float = DEFAULT_COMPUTE_CAPABILITY
    build_problem: str = ""
    run_problem: str = ""

    @property
    def can_build(self) -> bool:
        return not self.build_problem

    @property
    def can_run(self) -> bool:
        return not self.build_problem and not self.run_problem

    @property
    def toolkit(self) -> str:
        return ".".join(map(str, self.nvcc_version)) if self.nvcc_version else "unknown"

    def describe(self) -> str:
        """What was found, one line."""
        parts = []
        if self.nvcc:
            parts.append(f"nvcc {self.toolkit} ({self.nvcc})")
        if self.curand_library:
            parts.append(f"cuRAND {self.curand_library}")
        if self.host_compiler:
            parts.append(f"host compiler {self.host_compiler}")
        if self.driver.version:
            cuda = ".".join(map(str, self.driver.cuda)) if self.driver.cuda else "?"
            parts.append(f"driver {self.driver.version} (CUDA {cuda})")
        if self.gpu is not None:
            parts.append(f"GPU {self.gpu_id} = nvidia-smi {self.gpu.index} {self.gpu.name}")
        if self.nvcc:
            parts.append(f"sm_{_arch(self.compute_capability)}")
        return ", ".join(parts)


def _arch(capability: float) -> int:
    """``90`` for 9.0, ``120`` for 12.0."""
    major, minor = divmod(round(capability * 10), 10)
    return major * 10 + minor


def inspect(gpu_id: int | None = None, compute_capability: float | None = None,
            environ: Mapping[str, str] | None = None) -> CudaSetup:
    """Check everything ``cuda_standalone`` needs here, before a build.

    Parameters
    ----------
    gpu_id : int, optional
        The GPU to run on, counted among those ``CUDA_VISIBLE_DEVICES`` leaves (default 0).
    compute_capability : float, optional
        Compile for this architecture (default: the chosen GPU's; with no GPU,
        :data:`DEFAULT_COMPUTE_CAPABILITY`).
    environ : mapping, optional
        The environment to read ``CUDA_VISIBLE_DEVICES`` from (default ``os.environ``).
    """
    setup = {}
    nvcc = find_nvcc()
    if not nvcc:
        return CudaSetup(build_problem="nvcc not found: install the CUDA toolkit and put nvcc on PATH (or set $CUDA_PATH)")
    version = nvcc_version(nvcc)
    setup.update(nvcc=nvcc, nvcc_version=version, host_compiler=host_compiler())
    curand = find_curand(nvcc)
    if curand is None:
        return CudaSetup(**setup, build_problem="cuRAND not found: run .venv/bin/pip install -e '.[cuda]' "
                                                "(the nvidia-curand and nvidia-cuda-runtime wheels)")
    setup.update(curand_include=curand[0], curand_library=curand[1])
    cudart = next((n for n in _needed(curand[1]) if n.startswith("libcudart.so")), None)
    if cudart:
        where = _find_cudart(curand[1], nvcc, cudart)
        if where is None:
            return CudaSetup(**setup, build_problem=f"{curand[1].name} needs {cudart}, found neither beside it nor "
                                                    "in the toolkit: run .venv/bin/pip install -e '.[cuda]' "
                                                    "(the nvidia-cuda-runtime wheel)")
        setup["cudart_dir"] = where
    problem = host_compiler_problem(nvcc, setup["host_compiler"])
    if problem:
        others = _other_host_compilers(nvcc, setup["host_compiler"])
        fix = (f"export CXX={others[0]} (nvcc accepts it)" if others else
               "install a gcc this nvcc supports (see NVIDIA's installation guide) and export CXX=g++-NN")
        return CudaSetup(**setup, build_problem=f"nvcc {_short(version)} refuses host compiler "
                                                f"{setup['host_compiler']}: {problem}; fix: {fix}")
    driver = query_driver()
    visible = tuple(visible_gpus(driver.gpus, environ))
    chosen = 0 if gpu_id is None else int(gpu_id)
    gpu = visible[chosen] if 0 <= chosen < len(visible) else None
    setup.update(driver=driver, visible=visible, gpu_id=chosen, gpu=gpu)

    run_problem = _run_problem(driver, visible, chosen, version, environ)
    capability = compute_capability
    if capability is None and gpu is not None:
        capability = gpu.compute_capability
        if capability is None:
            hint = _known_capability(gpu.name)
            run_problem = run_problem or (
                f"nvidia-smi of driver {driver.version} cannot report {gpu.name}'s compute capability; "
                f"pass --compute-capability {hint if hint else 'X.Y'}"
                + (" (what NVIDIA lists for it)" if hint else " (see NVIDIA's CUDA GPUs list)"))
    if capability is None:
        capability = DEFAULT_COMPUTE_CAPABILITY
    setup["compute_capability"] = float(capability)
    archs = nvcc_architectures(nvcc)
    if archs and _arch(capability) not in archs:
        listed = ", ".join(f"sm_{a}" for a in archs)
        why = ("CUDA 13 dropped architectures below sm_75 (use a CUDA 12 toolkit)" if _arch(capability) < archs[0]
               else "a newer CUDA toolkit is needed")
        return CudaSetup(**setup, build_problem=f"nvcc {_short(version)} cannot compile for sm_{_arch(capability)} "
                                                f"(it knows {listed}): {why}")
    if gpu is not None and compute_capability is not None and gpu.compute_capability is not None \
            and _arch(compute_capability) > _arch(gpu.compute_capability):
        run_problem = run_problem or (
            f"--compute-capability {compute_capability} is newer than GPU {chosen}'s "
            f"({gpu.name}, {gpu.compute_capability}): its code would not load there ('no kernel image')")
    return CudaSetup(**setup, run_problem=run_problem)


def _short(version):
    return ".".join(map(str, version[:2])) if version else "(unknown version)"


def _run_problem(driver: Driver, visible, gpu_id, version, environ) -> str:
    environ = os.environ if environ is None else environ
    if not driver.found or not driver.gpus:
        return (f"no NVIDIA GPU here ({driver.error}): this machine can only --compile-only; "
                "run on a machine with a GPU and its driver")
    if not visible:
        return (f"CUDA_VISIBLE_DEVICES={environ.get('CUDA_VISIBLE_DEVICES')!r} hides every GPU "
                f"(nvidia-smi lists {', '.join(str(g.index) for g in driver.gpus)}); unset it or name one")
    if not 0 <= gpu_id < len(visible):
        shown = ", ".join(f"{k} (nvidia-smi {g.index} {g.name})" for k, g in enumerate(visible))
        return (f"no GPU with id {gpu_id}: --gpu-id counts the visible GPUs, and there are {len(visible)}: {shown}")
    if version:
        need = MIN_DRIVER.get(version[0])
        too_old = (driver.cuda is not None and driver.cuda[0] < version[0]) or (
            driver.cuda is None and need is not None and driver.major is not None and driver.major < need)
        if too_old:
            supports = f"CUDA {driver.cuda[0]}.{driver.cuda[1]}" if driver.cuda else "an older CUDA"
            return (f"driver {driver.version} supports {supports}, but nvcc is {_short(version)}: "
                    f"CUDA {version[0]} needs driver >= {need or '?'}; update the driver, or build with a "
                    f"CUDA {driver.cuda[0] if driver.cuda else 'older'} toolkit (its nvcc first on PATH, or $CUDA_PATH)")
    return ""


# ----------------------------------------------------------------------------
# brian2cuda preferences
# ----------------------------------------------------------------------------

#: Environment variable: extra nvcc/host flags for quick test builds (see :func:`brian_prefs`).
QUICK_BUILD_ENV_VAR = "BRIANLAB_CUDA_QUICK_BUILD"


def quick_build() -> bool:
    """Whether ``$BRIANLAB_CUDA_QUICK_BUILD`` asks for unoptimised builds (``-O0``; tests, never results)."""
    return os.environ.get(QUICK_BUILD_ENV_VAR, "") not in ("", "0")


def _private_cuda_dir(setup: CudaSetup, build_root: Path) -> Path:
    """A directory for cuRAND's headers and link name that outlives the build (the makefile names it).

    ``$XDG_CACHE_HOME/brianlab/curand/<digest of the cuRAND path>`` (default ``~/.cache``), so
    every project built with one cuRAND names the same one; ``build_root/_curand`` if that
    cannot be written.
    """
    import hashlib

    digest = hashlib.sha1(str(setup.curand_library).encode()).hexdigest()[:12]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "brianlab" / "curand" / digest
    try:
        (base / "include").mkdir(parents=True, exist_ok=True)
        return base
    except OSError:
        return build_root / "_curand"


def _link(link: Path, target: Path) -> None:
    """Make ``link`` point at ``target`` unless it exists (another build, in parallel, may make it first)."""
    try:
        link.symlink_to(target)
    except FileExistsError:
        pass


def brian_prefs(setup: CudaSetup, build_root: Path, current: Mapping) -> dict:
    """brian2 preferences for a cuda_standalone build with ``setup`` (a :func:`inspect` result).

    Parameters
    ----------
    setup : CudaSetup
        Must be able to build.
    build_root : Path
        Where the private cuRAND include and link directories go.
    current : mapping
        The preferences as they are now (``brian2.prefs``), to extend.
    """
    private = _private_cuda_dir(setup, Path(build_root))
    include = private / "include"
    include.mkdir(parents=True, exist_ok=True)
    # Only cuRAND's own headers: the wheel's include directory also holds another
    # CUDA release's runtime headers, which must never shadow the toolkit's.
    for header in setup.curand_include.glob("curand*.h"):
        _link(include / header.name, header)
    libdir = setup.curand_library.parent
    if setup.curand_library.name != "libcurand.so":
        # The wheel ships libcurand.so.10 only; -lcurand needs the unversioned name.
        libdir = private / "lib"
        libdir.mkdir(parents=True, exist_ok=True)
        _link(libdir / "libcurand.so", setup.curand_library)
    rpath = [str(setup.curand_library.parent)]
    if setup.cudart_dir is not None and str(setup.cudart_dir) not in rpath:
        rpath.append(str(setup.cudart_dir))
    # CUDA 13's Thrust/CUB need C++17, for nvcc and for the host compiler it drives.
    gcc_args = [a for a in current["codegen.cpp.extra_compile_args_gcc"] if not a.startswith("-std=")]
    nvcc_args = [a for a in current["devices.cuda_standalone.cuda_backend.extra_compile_args_nvcc"]
                 if not a.startswith("-std=")]
    if quick_build():
        gcc_args = [a for a in gcc_args if not a.startswith(("-O", "-march", "-mtune"))] + ["-O0"]
        nvcc_args = nvcc_args + ["-O0", "-Xptxas", "-O0", "-Xcicc", "-O0"]
    return {
        "devices.cuda_standalone.cuda_backend.detect_gpus": False,
        "devices.cuda_standalone.cuda_backend.gpu_id": int(setup.gpu_id),
        "devices.cuda_standalone.cuda_backend.compute_capability": float(setup.compute_capability),
        "devices.cuda_standalone.cuda_backend.extra_compile_args_nvcc": nvcc_args + ["-std=c++17"],
        "codegen.cpp.extra_compile_args_gcc": gcc_args + ["-std=c++17"],
        "codegen.cpp.include_dirs": list(current["codegen.cpp.include_dirs"]) + [str(include)],
        "codegen.cpp.library_dirs": list(current["codegen.cpp.library_dirs"]) + [str(libdir)],
        "codegen.cpp.runtime_library_dirs": list(current["codegen.cpp.runtime_library_dirs"]) + rpath,
        # DT_RPATH, not DT_RUNPATH: the loader uses an executable's RPATH for the libraries
        # its libraries load too (libcurand's libcudart), and RUNPATH only for its own.
        "codegen.cpp.extra_link_args": [a for a in current["codegen.cpp.extra_link_args"]
                                        if a != "-Wl,--disable-new-dtags"] + ["-Wl,--disable-new-dtags"],
    }


def run_environment(environ: Mapping[str, str] | None = None) -> dict:
    """Variables a CUDA program is run with: GPUs counted in nvidia-smi's (PCI bus) order."""
    environ = os.environ if environ is None else environ
    return {} if "CUDA_DEVICE_ORDER" in environ else {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}


def forget_gpu_selection() -> None:
    """Make brian2cuda take the GPU from the preferences again.

    brian2cuda caches the first GPU it selects for the rest of the process
    (``utils.gputools.select_gpu``); brianlab sets ``gpu_id`` per session, so it
    clears that cache each time a cuda_standalone session starts.
    """
    from brian2cuda.utils import gputools

    gputools.reset_gpu_selection()


# ----------------------------------------------------------------------------
# run_args values: brian2cuda 1.0a7 lowercases them
# ----------------------------------------------------------------------------

_LOWERCASE_LOOP = re.compile(
    r"[ \t]*std::for_each\(s_value\.begin\(\), s_value\.end\(\),.*?std::tolower.*?\}\);\n", re.S)
_BOOLEANS = re.compile(r'if \(s_value == "true"\)\s*s_value = "1";\s*else if \(s_value == "false"\)\s*s_value = "0";')
_FROM_FILE = re.compile(r"template<class T> void set_variable_from_file\(.*?\n\}\n", re.S)

# Our own replacement: the value (a number, a boolean, or a data file's path) is used
# as given; a boolean may be spelled as in C or as in Python; a data file that cannot
# be read, or has the wrong size, stops the program (exit 1) instead of leaving the
# compiled-in value in place.
_BOOLEANS_FIXED = (
    'if (s_value == "true" || s_value == "True")\n        s_value = "1";\n'
    '    else if (s_value == "false" || s_value == "False")\n        s_value = "0";'
)
_FROM_FILE_FIXED = """template<class T> void set_variable_from_file(std::string varname, T* var_pointer, size_t data_size, std::string filename) {
    // brianlab: a run_args file that cannot be used is an error, never a silent no-op
    ifstream f(filename, ios::in | ios::binary | ios::ate);
    if (!f.is_open()) {
        std::cerr << "Error: cannot open '" << filename << "' to set '" << varname << "'" << std::endl;
        exit(1);
    }
    streampos size = f.tellg();
    if (size < 0 || (size_t)size != data_size) {
        std::cerr << "Error: '" << filename << "' has " << size << " bytes, '" << varname << "' needs " << data_size << std::endl;
        exit(1);
    }
    f.seekg(0, ios::beg);
    f.read(reinterpret_cast<char *>(var_pointer), data_size);
    if (f.fail()) {
        std::cerr << "Error: cannot read '" << filename << "' to set '" << varname << "'" << std::endl;
        exit(1);
    }
}
"""


def fixed_objects_template(source: str) -> str:
    """brian2cuda's ``objects.cu`` template with run_args values used as given.

    Raises
    ------
    RuntimeError
        If the template has the lowercasing loop but not in the form this fix knows
        (a brian2cuda other than 1.0a7): better no build than a silently wrong one.
    """
    if "tolower" not in source:  # fixed already (by brianlab, or upstream)
        return source
    fixed, n_loop = _LOWERCASE_LOOP.subn("", source)
    fixed, n_bool = _BOOLEANS.subn(_BOOLEANS_FIXED, fixed)
    fixed, n_file = _FROM_FILE.subn(lambda _: _FROM_FILE_FIXED, fixed)
    if (n_loop, n_bool, n_file) != (1, 1, 1) or "tolower" in fixed:
        raise RuntimeError(
            "brianlab cannot fix this brian2cuda's objects.cu template (run_args lowercasing): "
            f"found loop/booleans/file reader {n_loop}/{n_bool}/{n_file} times; brianlab knows brian2cuda 1.0a7")
    return fixed


def fix_run_args_template(enabled: bool = True) -> None:
    """Make brian2cuda render ``objects.cu`` from :func:`fixed_objects_template` (idempotent).

    ``enabled=False`` puts brian2cuda's template back (tests use it as a control).
    """
    import jinja2
    from brian2cuda.codeobject import CUDAStandaloneCodeObject

    templater = CUDAStandaloneCodeObject.templater
    env = templater.env
    shipped = getattr(env, "_brianlab_shipped_loader", None)
    if enabled and shipped is None:
        source, _, _ = env.loader.get_source(env, "objects.cu")
        env._brianlab_shipped_loader = env.loader
        env.loader = jinja2.ChoiceLoader([jinja2.DictLoader({"objects.cu": fixed_objects_template(source)}),
                                          env.loader])
    elif not enabled and shipped is not None:
        env.loader = shipped
        env._brianlab_shipped_loader = None
    else:
        return
    if env.cache is not None:
        env.cache.clear()
    templater.templates = type(templater.templates)(env, templater.extension)


def run_args_template_is_fixed() -> bool:
    """Whether brian2cuda now renders the fixed ``objects.cu``."""
    from brian2cuda.codeobject import CUDAStandaloneCodeObject

    env = CUDAStandaloneCodeObject.templater.env
    source, _, _ = env.loader.get_source(env, "objects.cu")
    return "tolower" not in source


# ----------------------------------------------------------------------------
# sweeps
# ----------------------------------------------------------------------------


def build_identity(gpu_id: int | None = None, compute_capability: float | None = None) -> dict:
    """What makes two cuda_standalone builds different beyond the model: architecture and nvcc.

    For a sweep's build cache key: a cache shared by machines with different GPUs
    or toolkits must not hand one a program compiled for the other.
    """
    setup = inspect(gpu_id, compute_capability)
    return {"compute_capability": setup.compute_capability, "nvcc": setup.toolkit}


def sweep_gpus(environ: Mapping[str, str] | None = None) -> list[Gpu]:
    """The GPUs a local cuda_standalone sweep spreads over: every visible one, one worker each."""
    return visible_gpus(query_driver().gpus, environ)


def pin_gpu(gpu: Gpu, environ=None) -> None:
    """Pin this process (a sweep worker) to ``gpu``: it becomes the only visible GPU, number 0.

    Every worker then builds the same program (``gpu_id`` 0), so they share a build cache.
    """
    environ = os.environ if environ is None else environ
    environ["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
    environ["CUDA_VISIBLE_DEVICES"] = gpu.uuid or str(gpu.index)
