"""Killed and concurrent runs lose nothing: real processes, SIGKILL, two writers of one directory.

A run writes under ``.NAME.partial-<host>-<pid>-<random>``, so the process that
writes a run is read off its staging directory's name and killed exactly.
"""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import read_json

PY = [sys.executable, "-m", "brianlab"]
QUICK = ["--device", "runtime", "--set", "n_neurons=20", "--set", "duration=100*ms", "--quiet"]
PARTIAL = re.compile(r"^\.(?P<name>.+)\.partial-.+-(?P<pid>\d+)-[0-9a-f]{8}$")


def _wait_for_partial(parent, deadline_s=240):
    """The pid writing a staging directory under ``parent`` once it has its config.json."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        for entry in parent.glob(".*.partial-*") if parent.is_dir() else ():
            match = PARTIAL.match(entry.name)
            if match and (entry / "config.json").is_file():
                return int(match["pid"]), entry
        time.sleep(0.2)
    raise AssertionError(f"no run started writing under {parent} within {deadline_s} s")


def _visible(path):
    return sorted(p.name for p in path.iterdir() if not p.name.startswith("."))


def _complete(run):
    return all((run / name).is_file() for name in ("config.json", "metrics.json", "data.npz"))


def test_a_killed_run_leaves_no_run_directory_and_a_rerun_completes(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([*PY, "run", "lif", "--out", str(out), "--device", "runtime",
                             "--set", "n_neurons=20", "--set", "duration=200*s", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        pid, partial = _wait_for_partial(tmp_path)
        assert pid == proc.pid
        time.sleep(1.0)  # into the simulation
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists() and _visible(tmp_path) == []  # only the hidden staging directory remains
    rerun = subprocess.run([*PY, "run", "lif", "--out", str(out), *QUICK], capture_output=True, text=True,
                           cwd=tmp_path, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert _complete(out) and read_json(out / "config.json")["params"]["n_neurons"] == 20
    assert partial.is_dir()  # the killed process's staging is another's: left alone, not deleted


def test_two_runs_into_one_directory_one_succeeds_the_other_refuses(tmp_path):
    out = tmp_path / "run"
    args = [*PY, "run", "lif", "--out", str(out), "--device", "runtime", "--set", "n_neurons=20",
            "--set", "duration=2*s", "--quiet"]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
             for _ in range(2)]
    results = [(p.wait(timeout=600), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    (err,) = [err for code, _, err in results if code == 2]
    assert len(err.strip().splitlines()) == 1 and err.startswith("brianlab: error: run directory ")
    assert "is being written by another brianlab process now" in err or "already exists" in err
    assert _complete(out)
    assert _visible(tmp_path) == ["run"] and not list(tmp_path.glob(".*"))  # no partial, no lock


@pytest.mark.slow
def test_a_killed_sweep_worker_leaves_no_run_directory_and_a_rerun_completes(tmp_path):
    out = tmp_path / "sweep"
    args = [*PY, "sweep", "lif", "--grid", "drive_max=20*mV,30*mV", "--device", "runtime", "--workers", "1",
            "--retries", "0", "--set", "n_neurons=20", "--set", "duration=5*s", "--no-point-figures",
            "--quiet", "--out", str(out)]
    env = {**os.environ, "BRIANLAB_BUILD_CACHE": str(tmp_path / "cache")}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
    try:
        pid, _ = _wait_for_partial(out / "runs")
        assert pid != proc.pid  # a Dask worker process writes the point
        time.sleep(1.0)
        os.kill(pid, signal.SIGKILL)
        code, (_, err) = proc.wait(timeout=600), proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
    # Dask may run the dead worker's task again on its new worker, or report its points failed
    assert code in (0, 1), err
    runs = out / "runs"
    assert all(_complete(runs / name) for name in _visible(runs))  # whatever is visible is complete
    rerun = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=900)
    assert rerun.returncode == 0, rerun.stderr
    assert "2 points: 2 done" in rerun.stdout
    assert len(_visible(runs)) == 2 and all(_complete(runs / name) for name in _visible(runs))
