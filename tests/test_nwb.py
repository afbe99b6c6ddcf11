"""NWB export: read back with pynwb, every model's file passes nwbinspector, sweeps export in one call.

Each registered model runs once, tiny, on runtime (NumPy code generation: nothing to
compile), and is recorded with ``nwb=True`` as ``brianlab run --nwb`` does.
"""

import datetime
import json
import shutil

import numpy as np
import pynwb
import pytest
from nwbinspector import Importance, inspect_nwbfile

from brianlab import devices, records, runner
from brianlab.model import get_model, model_names
from brianlab.params import apply_assignments
from brianlab.recordings import SpikeTrains
from conftest import read_json

#: A run of a few seconds of each model (on runtime, NumPy target); a model not
#: listed runs with its ``tiny`` assignments (the model contract).
TINY = {
    "lif": ["n_neurons=10", "duration=60*ms"],
    "hh-poisson": ["n_neurons=4", "duration=30*ms", "N_ex=20", "N_in=5", "synapse=cond_exp"],
    # 40 samples of 16 units: nwbinspector guesses the time axis as the longer one
    "ring": ["N=16", "duration=200*ms"],
    "ring-spiking": ["n_exc=64", "n_inh=16", "n_modes=4", "t_cue_start=20*ms", "cue_duration=30*ms",
                     "delay=50*ms", "decode_window=30*ms"],
    "stdp-digits": ["n_class=2", "n_per_class=1", "n_train=2", "n_val=2", "n_test=2", "chunk=2", "n_curve=1",
                    "n_raster=2"],
}
BAD = (Importance.CRITICAL, Importance.ERROR, Importance.PYNWB_VALIDATION)


def tiny_assignments(name):
    if name in TINY:
        return TINY[name]
    tiny = getattr(get_model(name), "tiny", None)
    if not tiny:
        pytest.fail(f"model {name!r} has no tiny configuration (Model.tiny) to export")
    return [f"{k}={v}" for k, v in dict(tiny).items()]


def run_tiny(name, out, nwb=True):
    model = get_model(name)
    params = apply_assignments(model.params, tiny_assignments(name))
    staged = records.StagedRun(out)
    options = devices.DeviceOptions(codegen_target="numpy")
    with devices.DeviceSession("runtime", options, build_root=staged.path / "build", seed=3, progress=False) as session:
        path, _ = runner.record_run(model, params, session, staged, figures=False, nwb=nwb)
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """``exported(model) -> run_dir``: a tiny run of the model with its data.nwb, made once."""
    root = tmp_path_factory.mktemp("nwb")
    made = {}

    def get(name):
        if name not in made:
            made[name] = run_tiny(name, root / name)
        return made[name]

    return get


def read_spikes(units, population):
    """(index, time) pairs of every spike of ``population`` in the units table, and its row indices."""
    frame = units.to_dataframe()
    rows = frame[frame["population"] == population]
    pairs = [(int(i), float(t)) for i, times in zip(rows["index"], rows["spike_times"]) for t in times]
    return sorted(pairs), rows["index"].to_numpy()


#: stdp-digits' tiny run takes the longest (five program runs, each built anew on runtime).
MODELS = [pytest.param(name, marks=pytest.mark.slow) if name == "stdp-digits" else name for name in model_names()]


@pytest.mark.parametrize("name", MODELS)
def test_the_file_reads_back_with_the_spikes_and_traces_of_data_npz(exported, name):
    run_dir = exported(name)
    record = records.load_run(run_dir, get_model(name))
    declared = get_model(name).recordings(record.params, record.arrays)
    assert declared, f"{name} declares no recordings"
    with pynwb.NWBHDF5IO(str(run_dir / "data.nwb"), "r") as io:
        nwbfile = io.read()
        module = nwbfile.processing[name]
        for rec in declared:
            data = record.arrays
            if isinstance(rec, SpikeTrains):
                pairs, rows = read_spikes(nwbfile.units, rec.population)
                expected = sorted(zip(np.asarray(data[rec.indices]).tolist(), np.asarray(data[rec.times]).tolist()))
                assert pairs == expected and len(pairs) == len(data[rec.times])
                assert rows.tolist() == rec.neurons().tolist()  # one row per covered neuron, spiking or not
            else:
                series = module[f"{rec.population}_{rec.name}"]
                assert series.unit == rec.unit and series.conversion == rec.conversion
                assert np.array_equal(series.data[:], rec.samples(data))
                np.testing.assert_allclose(series.get_timestamps(), data[rec.times], rtol=0, atol=1e-9)
        # metadata: every parameter with its unit; model, device, seed; the run's start
        params = module["parameters"].to_dataframe().set_index("parameter")
        for key, saved in record.config["params"].items():
            if isinstance(saved, dict):
                assert params.loc[key, "unit"] == saved["unit"] and params.loc[key, "si_value"] == saved["si"]
            else:
                assert key in params.index
        notes = json.loads(nwbfile.notes)
        assert (notes["model"], notes["device"], notes["seed"]) == (name, "runtime", 3)
        assert dict(map(tuple, nwbfile.was_generated_by[:]))["brian2"] == record.config["versions"]["brian2"]
        started = datetime.datetime.fromisoformat(record.config["started"]).astimezone()
        assert nwbfile.session_start_time == started


def test_lif_spikes_and_voltage_by_their_data_npz_names(exported):
    """The same check without the model's declarations: lif's own array names."""
    run_dir = exported("lif")
    with np.load(run_dir / "data.npz") as data, pynwb.NWBHDF5IO(str(run_dir / "data.nwb"), "r") as io:
        nwbfile = io.read()
        pairs, rows = read_spikes(nwbfile.units, "neurons")
        assert len(data["spike_t"]) > 0
        assert pairs == sorted(zip(data["spike_i"].tolist(), data["spike_t"].tolist()))
        assert rows.tolist() == list(range(10))
        v = nwbfile.processing["lif"]["neurons_v"]
        assert v.unit == "V" and np.array_equal(v.data[:], data["v"].T)
        assert v.rate == pytest.approx(1 / 0.1e-3)
        neurons = nwbfile.processing["lif"]["recorded_neurons"].to_dataframe()
        assert neurons["index"].tolist() == data["v_index"].tolist()


@pytest.mark.parametrize("name", MODELS)
def test_nwbinspector_finds_no_error_or_critical_issue(exported, name):
    messages = list(inspect_nwbfile(nwbfile_path=str(exported(name) / "data.nwb")))
    bad = [f"{m.importance.name} {m.check_function_name}: {m.message}" for m in messages if m.importance in BAD]
    assert not bad


def test_export_writes_the_same_file_later_and_never_overwrites(brianlab_cli, exported, tmp_path):
    run_dir = exported("lif")
    out = tmp_path / "later.nwb"
    code, stdout, err = brianlab_cli("export", run_dir, "--format", "nwb", "--out", out)
    assert code == 0, err
    assert stdout.strip() == str(out)
    with pynwb.NWBHDF5IO(str(out), "r") as a, pynwb.NWBHDF5IO(str(run_dir / "data.nwb"), "r") as b:
        fa, fb = a.read(), b.read()
        assert fa.units.to_dataframe()["spike_times"].map(list).tolist() == \
            fb.units.to_dataframe()["spike_times"].map(list).tolist()
    before = out.read_bytes()
    for args, message in (
        ((run_dir,), "data.nwb already exists and is never overwritten"),
        ((run_dir, "--out", out), "already exists and is never overwritten"),
        ((tmp_path / "missing",), "is not a directory"),
        ((tmp_path,), "is not a run directory"),
    ):
        code, stdout, err = brianlab_cli("export", *args)
        assert code == 2 and stdout == ""
        assert err.count("\n") == 1 and err.startswith("brianlab: error: ") and message in err
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["later.nwb"]


def test_a_sweep_exports_every_point_in_one_call(brianlab_cli, tmp_path, lif_sweep):
    sweep_dir = tmp_path / "sweep"
    shutil.copytree(lif_sweep, sweep_dir)
    points = sorted(p for p in (sweep_dir / "runs").iterdir())
    assert len(points) == 2
    code, stdout, err = brianlab_cli("export", sweep_dir, "--out", tmp_path / "nwb")
    assert code == 0, err
    files = sorted(tmp_path.joinpath("nwb").iterdir())
    assert [f.name for f in files] == [f"{p.name}.nwb" for p in points]
    counts = []
    for point, path in zip(points, files):
        with pynwb.NWBHDF5IO(str(path), "r") as io:
            nwbfile = io.read()
            counts.append(sum(len(t) for t in nwbfile.units.to_dataframe()["spike_times"]))
            assert json.loads(nwbfile.notes)["sweep"] == read_json(point / "config.json")["sweep"]
        assert counts[-1] == read_json(point / "metrics.json")["n_spikes"]
    assert counts[0] < counts[1]  # the stronger drive fires more
    # in place, one file per point; then a second export refuses, writing nothing
    code, _, err = brianlab_cli("export", sweep_dir)
    assert code == 0, err
    assert all((p / "data.nwb").is_file() for p in points)
    code, _, err = brianlab_cli("export", sweep_dir)
    assert code == 2 and "already exists" in err


@pytest.mark.slow
def test_stdp_digits_tells_the_progress_bar_exactly_the_program_runs_it_makes(exported):
    """The bar's total for stdp-digits (expected_runs) is what the run then simulated."""
    from brianlab.models.stdp_digits import expected_runs

    record = records.load_run(exported("stdp-digits"), get_model("stdp-digits"))
    metrics = record.metrics
    assert expected_runs(record.params, metrics["n_train"], metrics["n_val"], metrics["n_test"]) == metrics["n_runs"]
