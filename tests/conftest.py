"""Shared test helpers: devices to parametrise over, and the command line in-process."""

import json
import os
import subprocess
import sys

import pytest

from brianlab import devices
from brianlab.__main__ import main as brianlab_main


def device_params(*names):
    """pytest params for ``names``, each skipped (with the reason) where it cannot run here."""
    params = []
    for name in names:
        status = devices.probe(name)
        marks = [] if status.can_run else [pytest.mark.skip(reason=f"{name} cannot run here: {status.missing}")]
        params.append(pytest.param(name, marks=marks, id=name))
    return params


#: Devices that execute a simulation, as PyNN runs one scenario on every simulator.
RUNNABLE = device_params("runtime", "cpp_standalone", "cuda_standalone")


@pytest.fixture
def brianlab_cli(capsys):
    """Run ``brianlab ARGS`` in-process; return (exit code, stdout, stderr)."""

    def run(*args):
        code = brianlab_main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def run_subprocess(*args, cwd=None):
    """Run ``python -m brianlab ARGS`` as a new user would; return the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "brianlab", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, timeout=900,
    )


def read_json(path):
    return json.loads(path.read_text())


#: The dynamic loader, asked to resolve a binary's libraries without its cache (/etc/ld.so.cache).
LOADER = "/lib64/ld-linux-x86-64.so.2"


def libraries_without_loader_cache(binary):
    """``{soname: path or None}`` of every library ``binary`` loads, resolved with the cache bypassed."""
    done = subprocess.run([LOADER, "--inhibit-cache", "--list", str(binary)], capture_output=True, text=True,
                          timeout=60)
    found = {}
    for line in done.stdout.splitlines():
        if "=>" in line:
            name, _, where = line.strip().partition(" => ")
            found[name] = None if "not found" in where else where.split(" (")[0]
    return found


@pytest.fixture
def cuda_compile_only(brianlab_cli, tmp_path, monkeypatch):
    """Compile a model for cuda_standalone without running it; return its project directory.

    ``cuda_compile_only(MODEL, "--set", "n=10", ...)`` runs ``brianlab run MODEL
    --device cuda_standalone --compile-only`` as a user would, with
    ``$BRIANLAB_CUDA_QUICK_BUILD`` set (``-O0``: the same code, compiled faster; see
    docs/gpu.md), checks that a CUDA binary was linked and that every library it loads
    (cuRAND, and the CUDA runtime cuRAND loads) is found without the loader cache.
    Skipped (with the reason) where nvcc or cuRAND is missing.
    """

    def compile_model(model, *args):
        status = devices.probe("cuda_standalone")
        if not status.can_build:
            pytest.skip(f"cuda_standalone cannot build here: {status.missing}")
        monkeypatch.setenv("BRIANLAB_CUDA_QUICK_BUILD", "1")
        out = tmp_path / "cuda"
        code, _, err = brianlab_cli("run", model, "--device", "cuda_standalone", "--compile-only",
                                    "--out", out, "--quiet", *args)
        assert code == 0, err
        assert read_json(out / "metrics.json")["compiled_only"] is True
        projects = [makefile.parent for makefile in (out / "build").glob("*/makefile")]
        assert len(projects) == 1, f"expected one standalone project under {out / 'build'}, found {projects}"
        project = projects[0]
        assert (project / "main").stat().st_size > 0 and "cuda" in (project / "makefile").read_text()
        assert "-O0" in (project / "makefile").read_text()
        if os.path.exists(LOADER):
            libraries = libraries_without_loader_cache(project / "main")
            assert "libcurand.so.10" in libraries and any(n.startswith("libcudart.so") for n in libraries)
            missing = [name for name, where in libraries.items() if where is None]
            assert not missing, f"not found without the loader cache: {missing}"
        return project

    return compile_model


@pytest.fixture(scope="session")
def lif_sweep(tmp_path_factory):
    """A finished two-point lif sweep (drive_max 20 and 30 mV, runtime, NumPy), made once; copy it to change it."""
    out = tmp_path_factory.mktemp("lif-sweep") / "sweep"
    code = brianlab_main(["sweep", "lif", "--grid", "drive_max=20*mV,30*mV", "--set", "n_neurons=5",
                          "--set", "duration=50*ms", "--device", "runtime", "--codegen", "numpy", "--workers", "1",
                          "--no-point-figures", "--quiet", "--out", str(out)])
    assert code == 0
    return out
