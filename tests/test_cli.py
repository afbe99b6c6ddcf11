"""The command line as a user meets it: run directories, JSON, and one-line errors."""

import json

import numpy as np
import pytest

from brianlab import devices
from conftest import read_json, run_subprocess

QUICK = ["--set", "n_neurons=20", "--set", "duration=100*ms", "--quiet"]


def test_run_writes_a_complete_run_directory(brianlab_cli, tmp_path):
    out = tmp_path / "run"
    code, stdout, _ = brianlab_cli("run", "lif", "--device", "runtime", "--seed", "7", "--out", out, *QUICK)
    assert code == 0 and f"results: {out}" in stdout
    config = read_json(out / "config.json")
    assert config["model"] == "lif" and config["device"] == "runtime" and config["seed"] == 7
    assert config["params"]["duration"] == {"value": "100*ms", "si": pytest.approx(0.1), "unit": "s"}
    assert config["params"]["n_neurons"] == 20
    assert {"brianlab", "brian2", "numpy"} <= set(config["versions"])
    assert "git" in config and "device_options" in config
    metrics = read_json(out / "metrics.json")
    assert {"n_spikes", "mean_rate", "build_wall_s", "run_wall_s"} <= set(metrics)
    with np.load(out / "data.npz") as data:
        assert len(data["spike_t"]) == metrics["n_spikes"]
    assert sorted(p.name for p in (out / "figures").glob("*.png")) == ["fi_curve.png", "raster.png", "voltage.png"]
    assert not list(tmp_path.glob(".*partial*"))


def test_json_prints_the_metrics(brianlab_cli, tmp_path):
    code, stdout, _ = brianlab_cli("run", "lif", "--out", tmp_path / "r", "--json", *QUICK)
    assert code == 0
    assert json.loads(stdout) == read_json(tmp_path / "r" / "metrics.json")


def test_an_existing_run_directory_is_never_overwritten(brianlab_cli, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    code, _, err = brianlab_cli("run", "lif", "--out", out, *QUICK)
    assert code == 2
    assert err.strip() == f"brianlab: error: run directory {out} already exists and is never overwritten; choose another --out or leave --out out"
    assert [p.name for p in out.iterdir()] == ["precious.txt"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "nosuchmodel"], "unknown model 'nosuchmodel'; choose one of:"),
        (["run", "lif", "--set", "tau_m=10"], "parameter 'tau_m' needs a unit: it is a time (s), e.g. tau_m=10*ms"),
        (["run", "lif", "--set", "tau_m=10*mV"], "parameter 'tau_m' has the wrong unit"),
        (["run", "lif", "--set", "tau=10*ms"], "unknown parameter 'tau'; valid names: n_neurons, tau_m,"),
        (["run", "lif", "--set", "v_reset=-40*mV"], "invalid parameters: v_reset must be below v_thresh"),
        (["run", "lif", "--device", "gpu"], "unknown device 'gpu'"),
        (["run", "lif", "--device", "genn"], "device genn cannot build here"),
        (["run", "lif", "--from", "/nonexistent"], "does not start from a previous run"),
        (["plot", "/nonexistent"], "/nonexistent is not a run directory"),
        (["show", "nosuchmodel"], "unknown model"),
    ],
)
def test_bad_input_is_one_line_without_traceback(brianlab_cli, args, message, tmp_path, monkeypatch):
    if "genn" in args and devices.probe("genn").can_build:
        pytest.skip("GeNN is installed here")
    monkeypatch.chdir(tmp_path)  # the default results/ would land here
    if args[0] == "run":
        args = [*args, "--out", tmp_path / "out", "--build-dir", tmp_path / "builds"]
    code, stdout, err = brianlab_cli(*args)
    assert code == 2
    assert err.startswith("brianlab: error: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())  # no run, build, partial or lock: nothing written


def test_errors_from_a_real_process_have_no_traceback(tmp_path):
    proc = run_subprocess("run", "lif", "--set", "tau_m=10*mV", "--out", tmp_path / "x", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("brianlab: error: parameter 'tau_m' has the wrong unit")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "x").exists()


def test_default_output_goes_under_results(brianlab_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stdout, _ = brianlab_cli("run", "lif", *QUICK)
    assert code == 0
    (run_dir,) = (tmp_path / "results" / "lif").iterdir()
    assert run_dir.name.endswith("-runtime-seed0")
    assert f"results: results/lif/{run_dir.name}" in stdout


def test_plot_redraws_a_saved_run_into_a_new_directory(brianlab_cli, tmp_path):
    out = tmp_path / "run"
    assert brianlab_cli("run", "lif", "--out", out, *QUICK)[0] == 0
    before = {p: p.stat().st_mtime_ns for p in (out / "figures").iterdir()}
    code, stdout, _ = brianlab_cli("plot", out, "--out", tmp_path / "again")
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "again").glob("*.png")) == ["fi_curve.png", "raster.png", "voltage.png"]
    assert {p: p.stat().st_mtime_ns for p in (out / "figures").iterdir()} == before
    code, _, err = brianlab_cli("plot", out, "--out", tmp_path / "again")
    assert code == 2 and "already exists" in err


def test_list_and_show(brianlab_cli):
    code, out, _ = brianlab_cli("list")
    names = [line.split()[0] for line in out.splitlines()]
    assert code == 0 and set(names) >= {"lif", "stdp-digits", "hh-poisson", "ring", "ring-spiking"}
    code, out, _ = brianlab_cli("show", "lif")
    assert code == 0 and "tau_m" in out and "membrane time constant" in out and "10*ms" in out


@pytest.mark.slow
def test_cuda_project_compiles_without_a_gpu(cuda_compile_only):
    cuda_compile_only("lif", "--set", "n_neurons=10", "--set", "duration=10*ms", "--set", "k_conn=1")
