"""brianlab as a library: run and load from Python, models found by entry point, one top-level package."""

import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import brianlab
from brianlab import records
from brianlab.errors import BrianlabError
from brianlab.model import get_model, model_names

ROOT = Path(__file__).resolve().parents[1]


def test_run_and_load_from_any_directory(tmp_path):
    code = ("import brianlab; r = brianlab.run('lif', device='cpp_standalone', n_neurons=10, duration='50*ms'); "
            "import json; print(json.dumps([str(r.path), r.metrics['n_spikes'], r.params.n_neurons]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    path, n_spikes, n_neurons = json.loads(done.stdout.strip().splitlines()[-1])
    path = Path(path) if Path(path).is_absolute() else tmp_path / path  # relative to where it ran
    assert path.is_relative_to(tmp_path / records.RESULTS_ROOT) and n_neurons == 10
    again = brianlab.load(path)
    assert again.metrics["n_spikes"] == n_spikes and again.config["device"] == "cpp_standalone"
    assert again.params.n_neurons == 10  # the model's parameters class, read back


def test_run_takes_quantities_and_strings_and_refuses_a_wrong_unit(tmp_path):
    from brian2 import ms, mV

    record = brianlab.run("lif", out=tmp_path / "a", n_neurons=4, duration=20 * ms, tau_m="20*ms")
    assert record.params.tau_m == 20 * ms and record.params.duration == 20 * ms
    with pytest.raises(BrianlabError, match="tau_m.*wrong unit"):
        brianlab.run("lif", out=tmp_path / "b", tau_m="20*mV")
    with pytest.raises(BrianlabError, match="tau_m.*wrong unit"):
        brianlab.run("lif", out=tmp_path / "c", tau_m=20 * mV)
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_models_come_from_entry_points():
    declared = {ep.name for ep in importlib.metadata.entry_points(group="brianlab.models")}
    assert declared == set(model_names()) >= {"lif", "stdp-digits", "hh-poisson", "ring", "ring-spiking"}
    for name in declared:
        assert get_model(name).name == name


def test_only_brianlab_is_installed_at_the_top():
    top = importlib.metadata.distribution("brianlab").read_text("top_level.txt")
    assert top.split() == ["brianlab"]


def test_nothing_but_main_imports_the_command_line():
    pattern = re.compile(r"^\s*(from\s+brianlab\.cli\s+import|import\s+brianlab\.cli|from\s+brianlab\s+import\s+.*\bcli\b)", re.M)
    offenders = []
    for folder in ("brianlab", "models", "runs", "bench", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.relative_to(ROOT).as_posix() in ("brianlab/__main__.py", "brianlab/cli.py"):
                continue
            if pattern.search(path.read_text()):
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"import brianlab.cli outside __main__: {offenders}"
