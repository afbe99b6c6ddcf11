"""Shared test helpers: devices to parametrise over, and the command line in-process."""

import json
import subprocess
import sys

import pytest

from brianlab import cli, devices


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
        code = cli.main([str(a) for a in args])
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
