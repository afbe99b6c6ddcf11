"""Every input ends in a value or one line; nothing saved is lost or overwritten.

The command line is run in-process (``brianlab_cli``) from an empty directory, so
"nothing was written" is checked on the directory where the defaults would write.
"""

import json
import os
import socket

import numpy as np
import pytest

from brianlab import records, runner
from brianlab.devices import DeviceOptions
from brianlab.errors import BrianlabError
from conftest import read_json

QUICK = ["--set", "n_neurons=20", "--set", "duration=100*ms", "--quiet"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seed", "-1"], "the seed must be from 0 to 4294967295; got -1"),
        (["--seed", str(2**32)], "the seed must be from 0 to 4294967295"),
        (["--seed", "1.5"], "the seed is a whole number"),
        (["--threads", "-1"], "the number of threads must be from 0 to 1024; got -1"),
        (["--threads", "two"], "the number of threads is a whole number"),
        (["--gpu-id", "-1"], "the GPU id must be at least 0"),
        (["--compute-capability", "nan"], "the compute capability is a number"),
        (["--compute-capability", "inf"], "the compute capability is a number"),
        (["--build-dir", ""], "an empty path"),
        (["--set", "n_neurons=1e999"], "not finite"),
        (["--set", "n_neurons=10**400"], "not finite"),
        (["--set", "n_neurons=0*1e999"], "not finite"),
        (["--set", "tau_m=ms+mV"], "different units"),
        (["--set", "tau_m=ms**ms"], "an exponent has no unit"),
        (["--set", "tau_m=1e999*ms"], "not finite"),
        (["--set", "tau_m=(-1)**0.5*ms"], "complex"),
        (["--set", "tau_m=10*ms\n*mV"], "cannot parse"),
        (["--set", "n_neurons=1e30"], "at most 9223372036854775807"),
        (["--set", "tau_m=" + "1+" * 200 + "1"], "too long"),
        (["--nonsense"], "unrecognized arguments: --nonsense"),
    ],
)
def test_bad_run_options_are_one_line_and_write_nothing(brianlab_cli, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = brianlab_cli("run", "lif", "--out", tmp_path / "out", "--build-dir", tmp_path / "b", *args)
    assert code == 2
    assert err.startswith("brianlab: error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--grid", "n_neurons=10,1e999"], "not finite"),
        (["--grid", "tau_m=10*ms,ms+mV"], "different units"),
        (["--grid", "tau_m="], "empty name or value"),
        (["--grid", "drive_max=20*mV", "--seed", "-1"], "the seed must be from 0"),
        (["--grid", "drive_max=20*mV", "--seeds", "0"], "the number of seeds must be at least 1"),
        (["--grid", "drive_max=20*mV", "--workers", "0"], "the number of workers must be at least 1"),
        (["--grid", "drive_max=20*mV", "--retries", "-1"], "the number of retries must be at least 0"),
    ],
)
def test_bad_sweep_options_are_one_line_and_write_nothing(brianlab_cli, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BRIANLAB_BUILD_CACHE", str(tmp_path / "cache"))
    code, _, err = brianlab_cli("sweep", "lif", "--out", tmp_path / "sweep", "--quiet", *args)
    assert code == 2
    assert err.startswith("brianlab: error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "sweep").exists() and not (tmp_path / "results").exists()


def test_library_checks_seed_and_options_too():
    with pytest.raises(BrianlabError, match="from 0 to 4294967295"):
        runner.check_seed(-1)
    with pytest.raises(BrianlabError, match="whole number"):
        runner.check_seed(1.0)
    with pytest.raises(BrianlabError, match="--threads"):
        runner.check_options(DeviceOptions(threads=-1))
    with pytest.raises(BrianlabError, match="--gpu-id"):
        runner.check_options(DeviceOptions(gpu_id=-2))
    assert runner.check_seed(np.int64(2**32 - 1)) == 2**32 - 1


# ----------------------------------------------------------------------------
# corrupt or incomplete run directories, for plot and --from
# ----------------------------------------------------------------------------


def _fake_run(path, config, metrics="{}", arrays=None):
    path.mkdir(parents=True)
    (path / "config.json").write_bytes(config if isinstance(config, bytes) else config.encode())
    (path / "metrics.json").write_text(metrics)
    np.savez(path / "data.npz", **(arrays or {}))
    return path



def _lif_params_json():
    from brianlab.models.lif import LIFParams
    from brianlab.params import to_json

    return to_json(LIFParams())


CORRUPT = {
    "garbage": (b"\x00\xff{not json", "cannot be read as JSON"),
    "not-an-object": ("[1, 2]", "does not hold a JSON object"),
    "no-model": ("{}", "no 'model'"),
    "unknown-model": ('{"model": "nosuch"}', "unknown model 'nosuch'"),
    "model-not-text": ('{"model": 5}', "no 'model'"),
    "no-params": ('{"model": "lif"}', "has no 'params'"),
    "params-not-object": ('{"model": "lif", "params": 3}', "not a JSON object"),
    "wrong-unit": (None, "is not a value in s"),
    "nan-value": (None, "not finite"),
    "no-arrays": (None, "has no array"),
}


def _corrupt_config(kind):
    text, message = CORRUPT[kind]
    if text is None:
        params = _lif_params_json()
        if kind == "wrong-unit":
            params["tau_m"]["unit"] = "V"
        elif kind == "nan-value":
            params["tau_m"]["si"] = float("nan")  # json writes NaN, which json reads back
        text = json.dumps({"model": "lif", "params": params})
    return text, message


@pytest.mark.parametrize("kind", sorted(CORRUPT))
def test_plot_of_a_corrupt_run_is_one_line(brianlab_cli, tmp_path, kind):
    text, message = _corrupt_config(kind)
    run = _fake_run(tmp_path / "run", text)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, _, err = brianlab_cli("plot", run)
    assert code == 2 and err.startswith("brianlab: error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no figure directory, no partial


@pytest.mark.parametrize("kind", ["garbage", "not-an-object", "no-params", "params-not-object"])
def test_from_a_corrupt_run_is_one_line(brianlab_cli, tmp_path, kind):
    text, message = CORRUPT[kind]
    text = text.replace('"lif"', '"stdp-digits"') if isinstance(text, str) else text
    run = _fake_run(tmp_path / "run", text)
    code, _, err = brianlab_cli("run", "stdp-digits", "--from", run, "--out", tmp_path / "out", "--quiet")
    assert code == 2 and err.startswith("brianlab: error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


# ----------------------------------------------------------------------------
# staging: partial names, one writer per destination, only one's own removed
# ----------------------------------------------------------------------------


def test_partial_directory_names_host_pid_and_a_random_part(tmp_path):
    first = records.StagedRun(tmp_path / "run")
    name = first.path.name
    host = "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname())[:40]
    assert name.startswith(f".run.partial-{host}-{os.getpid()}-") and len(name.rsplit("-", 1)[1]) == 8
    first.discard()
    second = records.StagedRun(tmp_path / "run")
    assert second.path != first.path  # the random part differs
    second.discard()
    assert not list(tmp_path.iterdir())  # discard removes the staging directory and the lock


def test_another_process_partial_directory_is_left_alone(tmp_path):
    other = tmp_path / f".run.partial-{socket.gethostname()}-{os.getpid()}"  # the old naming: same pid
    other.mkdir()
    (other / "config.json").write_text("{}")
    staged = records.StagedRun(tmp_path / "run")
    staged.write_json("config.json", {"a": 1})
    assert staged.commit() == tmp_path / "run"
    assert (other / "config.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([other.name, "run"])


def test_a_second_writer_of_one_destination_is_refused(tmp_path):
    first = records.StagedRun(tmp_path / "run")
    with pytest.raises(BrianlabError, match="is being written by another brianlab process now"):
        records.StagedRun(tmp_path / "run")
    first.write_json("config.json", {})
    first.commit()
    with pytest.raises(BrianlabError, match="already exists and is never overwritten"):
        records.StagedRun(tmp_path / "run")


def test_a_directory_that_appears_meanwhile_is_not_overwritten(tmp_path):
    staged = records.StagedRun(tmp_path / "run")
    staged.write_json("config.json", {"mine": True})
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "theirs").write_text("keep")
    with pytest.raises(BrianlabError, match="appeared while this process was writing; its output is kept at"):
        staged.commit()
    assert (tmp_path / "run" / "theirs").read_text() == "keep"
    assert read_json(staged.path / "config.json") == {"mine": True}


def test_reused_build_dir_gives_each_run_its_own_directory(tmp_path):
    options = DeviceOptions(build_dir=tmp_path / "builds")
    first = runner._own_build_dir(options, "run-a")
    second = runner._own_build_dir(options, "run-a")
    assert first.build_dir.parent == second.build_dir.parent == tmp_path / "builds"
    assert first.build_dir != second.build_dir and first.build_dir.is_dir() and second.build_dir.is_dir()
    assert runner._own_build_dir(DeviceOptions(), "x").build_dir is None


# ----------------------------------------------------------------------------
# a real run: plot draws beside it, never into it; --build-dir is recorded
# ----------------------------------------------------------------------------


def _snapshot(path):
    return {p.relative_to(path): (p.stat().st_size, p.stat().st_mtime_ns) for p in path.rglob("*")}


def test_plot_never_writes_into_the_finished_run(brianlab_cli, tmp_path):
    run = tmp_path / "run"
    code, _, err = brianlab_cli("run", "lif", "--device", "runtime", "--out", run, "--build-dir", tmp_path / "b", *QUICK)
    assert code == 0, err
    own_build = read_json(run / "config.json")["device_options"]["build_dir"]
    assert own_build.startswith(str(tmp_path / "b" / "run-"))  # its own directory under --build-dir
    before = _snapshot(run)
    code, stdout, err = brianlab_cli("plot", run)
    assert code == 0, err
    (replot,) = tmp_path.glob("run.replot-*")
    assert sorted(p.name for p in replot.glob("*.png")) == ["fi_curve.png", "raster.png", "voltage.png"]
    assert all(line.startswith(str(replot)) for line in stdout.splitlines())
    assert _snapshot(run) == before
    assert not list(tmp_path.glob(".*"))  # no partial, no lock left
