"""brianlab sweep on real Dask clusters: the same metrics as single runs, a scheduler address,
resuming a killed sweep, compiling once, and failing points that do not stop the others."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas
import pytest

from brianlab import devices, sweep
from brianlab.devices import DeviceOptions
from conftest import read_json

needs_cpp = pytest.mark.skipif(
    not devices.probe("cpp_standalone").can_run,
    reason=f"cpp_standalone cannot run here: {devices.probe('cpp_standalone').missing}",
)

#: A small coupled, noisy LIF network: one network shape shared by the tests that compile.
SHAPE = ["--set", "n_neurons=30", "--set", "duration=200*ms", "--set", "k_conn=2", "--set", "sigma=2*mV"]
CPP = ["--device", "cpp_standalone", "--quiet"]
#: Quick runtime points (no compiler): an uncoupled, noiseless ramp with a closed form.
QUICK = ["--set", "n_neurons=20", "--set", "duration=200*ms", "--device", "runtime", "--codegen", "numpy", "--quiet"]


@pytest.fixture(scope="module")
def build_cache(tmp_path_factory):
    """A build cache shared by this module's sweeps, as a user's ~/.cache/brianlab is."""
    return tmp_path_factory.mktemp("builds")


def point_texts(out):
    """Each point's grid assignments as typed, in table order (from sweep.json)."""
    return [dict(a.split("=", 1) for a in p["assignments"]) for p in read_json(out / "sweep.json")["points"]]


@needs_cpp
def test_local_cluster_gives_the_metrics_of_the_same_points_run_one_by_one(brianlab_cli, tmp_path, build_cache):
    out = tmp_path / "sweep"
    code, stdout, err = brianlab_cli("sweep", "lif", "--grid", "drive_max=30*mV,40*mV", "--seeds", "2", *SHAPE,
                                     *CPP, "--workers", "2", "--out", out, "--build-dir", build_cache)
    assert code == 0, err
    assert "4 points: 4 done (4 run now, 0 before), 0 failed" in stdout
    table = sweep.load_table(out)
    assert list(table["status"]) == ["done"] * 4
    assert table["worker"].nunique() == 2  # both workers ran points
    # one compile for the shape: the second worker copied the first one's build
    assert table["n_compiles"].sum() == 1
    for row, texts in zip(table.itertuples(), point_texts(out)):
        single = tmp_path / f"single-{row.Index}"
        code, _, err = brianlab_cli("run", "lif", "--set", f"drive_max={texts['drive_max']}", "--seed", row.seed,
                                    *SHAPE, *CPP, "--build-dir", tmp_path / "single-build", "--out", single)
        assert code == 0, err
        metrics = read_json(single / "metrics.json")
        assert (row.n_spikes, row.mean_rate, row.active_fraction) == (
            metrics["n_spikes"], metrics["mean_rate"], metrics["active_fraction"])
        with np.load(Path(row.run_dir) / "data.npz") as swept, np.load(single / "data.npz") as alone:
            assert np.array_equal(swept["spike_i"], alone["spike_i"])
            assert np.array_equal(swept["spike_t"], alone["spike_t"])
    # the seeds matter (noise), and so does the drive
    assert (table.groupby("drive_max")["n_spikes"].nunique() == 2).all()
    assert table.groupby("drive_max")["n_spikes"].mean().is_monotonic_increasing
    assert sorted(p.name for p in (out / "figures").glob("*.png")) == [
        "active_fraction.png", "mean_rate.png", "n_spikes.png"]
    csv = pandas.read_csv(out / "table.csv")
    assert csv["point"].tolist() == table["point"].tolist() and csv["n_spikes"].tolist() == table["n_spikes"].tolist()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(process):
    """End a process started here, and its children (its own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=20)


@pytest.fixture
def dask_scheduler(tmp_path):
    """``dask scheduler`` and one ``dask worker``, separate processes on 127.0.0.1.

    Yields (scheduler address, worker address); both are stopped afterwards.
    """
    from distributed import Client

    dask = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    address = f"tcp://127.0.0.1:{_free_port()}"
    log = open(tmp_path / "dask.log", "w")
    processes = []
    try:
        processes.append(subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        processes.append(subprocess.Popen(
            [dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "1",
             "--no-dashboard", "--name", "outside-worker"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(1, timeout=120)
            (worker,) = client.scheduler_info()["workers"]
        yield address, worker
    finally:
        for process in reversed(processes):
            _stop(process)
        log.close()


#: The LIF constants of the scheduler test, set explicitly so that the closed form below uses what ran.
LIF = {"tau_m": 10e-3, "E_L": -70e-3, "v_thresh": -50e-3, "v_reset": -70e-3, "t_ref": 2e-3, "drive_min": 10e-3}
DT, DURATION, N_NEURONS = 1e-4, 0.2, 20


def lif_spike_count_band(drive_max):
    """Bounds on the spikes of the QUICK population (uncoupled, noiseless, from rest) for ``drive_max`` (V).

    Neuron k has the constant drive d_k (linspace from drive_min). From v = E_L it
    first reaches threshold after T - t_ref, then every T, with the closed-form
    interval T = t_ref + tau_m ln((d + E_L - v_reset) / (d + E_L - v_thresh)).
    On a grid of step dt a spike's time is within one dt of the exact one, so
    the count lies between those of the latest and the earliest spike trains.
    """
    def count(first, interval):
        return np.where(first < DURATION, np.floor((DURATION - first) / interval) + 1, 0).sum()

    drive = np.linspace(LIF["drive_min"], drive_max, N_NEURONS)
    d = drive[drive + LIF["E_L"] > LIF["v_thresh"]]
    interval = LIF["t_ref"] + LIF["tau_m"] * np.log((d + LIF["E_L"] - LIF["v_reset"]) / (d + LIF["E_L"] - LIF["v_thresh"]))
    first = interval - LIF["t_ref"]
    return int(count(first + DT, interval + DT)), int(count(first - DT, interval - DT))


def test_a_sweep_runs_on_an_existing_scheduler(brianlab_cli, tmp_path, dask_scheduler):
    address, worker = dask_scheduler
    out = tmp_path / "sweep"
    constants = [f"--set={name}={value * 1e3:g}*{'ms' if name in ('tau_m', 't_ref') else 'mV'}"
                 for name, value in LIF.items()]
    code, stdout, err = brianlab_cli("sweep", "lif", "--grid", "drive_max=25*mV,30*mV,40*mV,50*mV", *QUICK,
                                     *constants, "--scheduler", address, "--out", out)
    assert code == 0, err
    table = sweep.load_table(out)
    assert list(table["status"]) == ["done"] * 4
    assert set(table["worker"]) == {worker}  # the outside worker ran them, no local cluster
    # physics: each point's spike count inside the band of the LIF closed form (computed here)
    for row in table.itertuples():
        low, high = lif_spike_count_band(row.drive_max)
        assert low <= row.n_spikes <= high, (row.drive_max, low, row.n_spikes, high)
        assert row.mean_rate == pytest.approx(row.n_spikes / N_NEURONS / DURATION)
    assert (table["n_spikes"].diff().iloc[1:] > 0).all()


@needs_cpp
def test_a_killed_sweep_resumes_with_only_the_missing_points(brianlab_cli, tmp_path, build_cache):
    out = tmp_path / "sweep"
    args = ["sweep", "lif", "--grid", "drive_max=" + ",".join(f"{v}*mV" for v in range(20, 60, 5)), *SHAPE, *CPP,
            "--workers", "1", "--out", out, "--build-dir", build_cache]
    with open(tmp_path / "killed.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "brianlab", *map(str, args)], stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and process.poll() is None:
                if (out / "runs").is_dir() and any(not p.name.startswith(".") for p in (out / "runs").iterdir()):
                    break
                time.sleep(0.05)
            assert process.poll() is None, (tmp_path / "killed.log").read_text()
            os.killpg(process.pid, signal.SIGKILL)  # the client, its local cluster and its workers at once
        finally:
            _stop(process)
    finished = {p.name: (p / "config.json").stat() for p in (out / "runs").iterdir() if not p.name.startswith(".")}
    assert 1 <= len(finished) < 8
    code, stdout, err = brianlab_cli(*args)
    assert code == 0, err
    assert f"8 points: 8 done ({8 - len(finished)} run now, {len(finished)} before), 0 failed" in stdout
    for name, stat in finished.items():  # finished points were not run or written again
        again = (out / "runs" / name / "config.json").stat()
        assert (again.st_ino, again.st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)
    table = sweep.load_table(out)
    assert list(table["status"]) == ["done"] * 8
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(table["point"])  # no partial left
    assert table["n_spikes"].is_monotonic_increasing


@needs_cpp
def test_a_second_sweep_over_run_args_values_does_not_compile(brianlab_cli, tmp_path):
    cache = tmp_path / "builds"
    code, _, err = brianlab_cli("sweep", "lif", "--grid", "drive_max=30*mV,40*mV", *SHAPE, *CPP,
                                "--workers", "1", "--out", tmp_path / "first", "--build-dir", cache)
    assert code == 0, err
    first = sweep.load_table(tmp_path / "first")
    assert first["n_compiles"].tolist() == [1, 0] and first["n_builds"].tolist() == [1, 0]
    (slot,) = set(first["build_dir"])
    compiled = {p: p.stat().st_mtime_ns for p in Path(slot).rglob("*") if p.suffix == ".o" or p.name == "main"}
    assert any(p.name == "main" for p in compiled) and len(compiled) > 1
    # other values of the sweepable parameters, another sweep directory, two workers
    code, _, err = brianlab_cli("sweep", "lif", "--grid", "drive_max=25*mV,35*mV", "--grid", "w_syn=0.5*mV,2*mV",
                                *SHAPE, *CPP, "--workers", "2", "--out", tmp_path / "second", "--build-dir", cache)
    assert code == 0, err
    second = sweep.load_table(tmp_path / "second")
    assert list(second["status"]) == ["done"] * 4
    assert second["n_compiles"].sum() == 0
    # what remains of a build is code generation: not one object file or the binary was written again
    assert {p: p.stat().st_mtime_ns for p in compiled} == compiled
    # the new values did reach the compiled network: stronger synapses, more spikes
    by_weight = second.pivot(index="drive_max", columns="w_syn", values="n_spikes")
    assert (by_weight[0.002] > by_weight[0.0005]).all()


def test_a_failing_point_is_recorded_and_the_others_finish(brianlab_cli, tmp_path):
    out = tmp_path / "sweep"
    args = ("sweep", "lif", "--grid", "v_thresh=-50*mV,-80*mV", "--grid", "drive_max=30*mV,40*mV", *QUICK,
            "--workers", "1", "--out", out)
    code, stdout, _ = brianlab_cli(*args)
    assert code == 1
    assert "4 points: 2 done (2 run now, 0 before), 2 failed" in stdout
    table = sweep.load_table(out)
    failed = table[table["v_thresh"] < -0.07]
    assert (failed["status"] == "failed").all()
    assert failed["error"].str.fullmatch("invalid parameters: v_reset must be below v_thresh").all()
    assert all((out / "failed" / f"{p}.json").is_file() for p in failed["point"])
    done = table[table["v_thresh"] > -0.07]
    assert (done["status"] == "done").all() and (done["n_spikes"] > 0).all()
    assert (out / "figures" / "mean_rate.png").is_file()
    # the sweep's figures only, by default; each point's data is there for 'brianlab plot'
    assert all((Path(d) / "data.npz").is_file() and not (Path(d) / "figures").exists() for d in done["run_dir"])
    # again: the finished points are skipped, the failed ones tried again
    code, stdout, _ = brianlab_cli(*args)
    assert code == 1 and "4 points: 2 done (0 run now, 2 before), 2 failed" in stdout


def test_a_point_failing_on_a_worker_is_recorded_and_the_next_one_runs(tmp_path):
    # run_chunk is what a Dask worker runs for a task; called here in this process
    bad = sweep.Point("bad", ("v_thresh=-80*mV",), (("v_thresh", -0.08),), 0)
    good = sweep.Point("good", ("v_thresh=-50*mV",), (("v_thresh", -0.05),), 0)
    chunk = sweep.Chunk(model="lif", device="runtime", options=DeviceOptions(codegen_target="numpy"),
                        fixed=("n_neurons=10", "duration=50*ms"), points=(bad, good), out=str(tmp_path),
                        build_dir=str(tmp_path / "builds"), command=())
    for name in ("runs", "failed"):
        (tmp_path / name).mkdir()
    assert sweep.run_chunk(chunk) == [("bad", "failed"), ("good", "done")]
    failure = read_json(tmp_path / "failed" / "bad.json")
    assert failure["error"] == "invalid parameters: v_reset must be below v_thresh"
    assert "Traceback" in failure["traceback"]
    assert read_json(tmp_path / "runs" / "good" / "config.json")["sweep"]["point"] == "good"
    assert sweep.run_chunk(chunk) == [("bad", "failed"), ("good", "skipped")]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--grid", "tau=1*ms,2*ms"], "unknown parameter 'tau'; valid names: n_neurons"),
        (["--grid", "tau_m=10,20"], "parameter 'tau_m' needs a unit: it is a time (s), e.g. tau_m=10*ms"),
        (["--grid", "tau_m=10*ms,"], "--grid 'tau_m=10*ms,' has an empty name or value"),
        (["--grid", "tau_m=10*ms", "--grid", "tau_m=20*ms"], "--grid names 'tau_m' twice"),
        (["--grid", "drive_max=20*mV", "--set", "drive_max=30*mV"], "'drive_max' is both --set and --grid"),
        (["--grid", "drive_max=20*mV", "--seeds", "0"], "--seeds: the number of seeds must be at least 1"),
        (["--grid", "drive_max=20*mV", "--scheduler", "tcp://127.0.0.1:9", "--workers", "2"],
         "--workers applies to --scheduler local only"),
        (["--grid", "drive_max=20*mV", "--device", "cpp_standalone", "--compile-only"],
         "--compile-only does not apply to a sweep"),
        (["--grid", "drive_max=20*mV", "--device", "genn"], "device genn cannot build here"),
    ],
)
def test_bad_requests_are_one_line_and_write_nothing(brianlab_cli, tmp_path, args, message):
    if "genn" in args and devices.probe("genn").can_build:
        pytest.skip("GeNN is installed here")
    code, _, err = brianlab_cli("sweep", "lif", *args, "--out", tmp_path / "sweep")
    assert code == 2
    assert err.startswith("brianlab: error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_a_directory_that_is_not_a_sweep_is_refused(brianlab_cli, tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    code, _, err = brianlab_cli("sweep", "lif", "--grid", "drive_max=20*mV", "--out", tmp_path)
    assert code == 2 and f"{tmp_path} exists and is not a sweep directory" in err
    assert [p.name for p in tmp_path.iterdir()] == ["precious.txt"]


def test_an_unreachable_scheduler_is_one_line(brianlab_cli, tmp_path):
    code, _, err = brianlab_cli("sweep", "lif", "--grid", "drive_max=20*mV", "--scheduler",
                                f"tcp://127.0.0.1:{_free_port()}", "--out", tmp_path / "sweep")
    assert code == 2 and "cannot reach the Dask scheduler at tcp://127.0.0.1:" in err
    assert len(err.strip().splitlines()) == 1 and not list(tmp_path.iterdir())


def test_the_grid_is_the_cartesian_product_times_the_seeds():
    from brianlab.models import lif
    from brianlab.sweep import planning

    grid = {"drive_max": ["20*mV", "30*mV"], "k_conn": ["0", "2"]}
    texts, values = planning.normalise_grid(lif.MODEL, grid, ())
    points, shapes, errors = planning.plan(lif.MODEL, texts, values, [0, 1, 2], (), "cpp_standalone", DeviceOptions())
    # first name slowest, seeds fastest
    expected = [((f"drive_max={d}", f"k_conn={k}"), s) for d in grid["drive_max"] for k in grid["k_conn"] for s in (0, 1, 2)]
    assert [(p.assignments, p.seed) for p in points] == expected and not errors
    assert [p.id.rsplit("-", 1)[0] for p in points] == [
        f"drive_max=20mV_k_conn={k}_seed={s}" if d == "20*mV" else f"drive_max=30mV_k_conn={k}_seed={s}"
        for d in grid["drive_max"] for k in grid["k_conn"] for s in (0, 1, 2)]
    assert len({p.id for p in points}) == 12
    assert points[0].columns == (("drive_max", pytest.approx(0.02)), ("k_conn", 0))
    # drive_max is sweepable, k_conn changes the network's shape
    by_k_conn = {}
    for p in points:
        by_k_conn.setdefault(p.assignments[1], set()).add(shapes[p.id])
    assert all(len(s) == 1 for s in by_k_conn.values()) and len(set(shapes.values())) == 2
    # a point's id names everything that defines its run: another fixed value or device, other ids
    other_fixed = planning.plan(lif.MODEL, texts, values, [0], ("n_neurons=50",), "cpp_standalone", DeviceOptions())[0]
    other_device = planning.plan(lif.MODEL, texts, values, [0], (), "runtime", DeviceOptions())[0]
    assert not {p.id for p in other_fixed} & {p.id for p in points}
    assert not {p.id for p in other_device} & {p.id for p in points}


def test_point_figures_on_request(brianlab_cli, tmp_path):
    out = tmp_path / "sweep"
    code, _, err = brianlab_cli("sweep", "lif", "--grid", "drive_max=30*mV", *QUICK, "--point-figures", "--out", out)
    assert code == 0, err
    (run_dir,) = sweep.load_table(out)["run_dir"]
    assert sorted(p.name for p in (Path(run_dir) / "figures").iterdir()) == ["fi_curve.png", "raster.png", "voltage.png"]
