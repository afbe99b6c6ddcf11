"""ipd-localisation: the notebook's generator, Dale's law in training, Brian2/reference parity, modes, errors."""

import numpy as np
import pytest

from brianlab.errors import BrianlabError
from brianlab.models import ipd_localisation as ipd
from brianlab.models.ipd_localisation import inputs, reference
from brianlab.params import apply_assignments
from conftest import device_params

SPEC = inputs.InputSpec()


def test_generator_mean_rate_is_225_hz():
    # E[(0.5*(1+sin))**2] = 3/8, so the mean rate is 600 Hz * 3/8 = 225 Hz.
    data = inputs.generate(inputs.InputSpec(phase="per_sample"), 200, inputs.stream(1, 2))
    n = data.spikes.size
    rate = data.spikes.mean() / SPEC.dt
    p = 225 * SPEC.dt
    # 5 binomial sd, widened 3x for the correlation within a sample (one phase for 20,000 draws)
    band = 3 * 5 * np.sqrt(p * (1 - p) / n) / SPEC.dt + 225 * 0.05
    assert abs(rate - 225) < band, rate


def test_generator_matches_the_notebook_draw_order():
    # Seeded like np.random.seed(s): IPDs, one phase for the set, then all spike draws at once.
    rng = np.random.RandomState(7)
    ipd_nb = rng.rand(3) * np.pi - np.pi / 2
    phase = rng.rand()
    theta = 2 * np.pi * (20 * np.arange(100) * 1e-3 + phase)[None, :, None] + np.tile(
        np.linspace(0, np.pi / 2, 100), 2)[None, None, :] + ipd_nb[:, None, None] * np.repeat([0, 1], 100)
    spikes_nb = rng.rand(3, 100, 200) < 600 * 1e-3 * (0.5 * (1 + np.sin(theta))) ** 2
    data = inputs.generate(SPEC, 3, np.random.RandomState(7))
    np.testing.assert_array_equal(data.ipd, ipd_nb)
    np.testing.assert_array_equal(data.spikes, spikes_nb)
    assert np.all(data.phase0 == phase)


def test_class_edges():
    edges = -np.pi / 2 + np.arange(13) * np.pi / 12
    eps = 1e-9
    assert list(inputs.discretise(edges[:-1] + eps, 12)) == list(range(12))
    assert list(inputs.discretise(edges[1:] - eps, 12)) == list(range(12))
    assert inputs.discretise(np.array([-np.pi / 2]), 12)[0] == 0
    np.testing.assert_allclose(np.degrees(inputs.class_centres(12)), np.arange(-82.5, 90, 15))


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch", reason="the 'train' extra (torch) is not installed")
    torch.set_num_threads(1)
    return torch


def _short_training(ie_ratio, epochs=4, n_batches=12, seed=0):

    params = apply_assignments(ipd.IPDParams, [f"ie_ratio={ie_ratio}", f"epochs={epochs}",
                                               f"n_train_batches={n_batches}", "weights=train"])
    return params, ipd.train_weights(params, seed)


def test_sign_mask_counts_and_signs_kept_by_training(torch):
    from brianlab.models.ipd_localisation import training

    signs = training.sign_mask(200, 0.3, np.random.RandomState(0))
    assert np.sum(signs == -1) == 60 and np.sum(signs == 1) == 140
    _, weights = _short_training(0.5, epochs=1, n_batches=2)
    assert np.sum(weights.sign1 < 0) == 100 and np.sum(weights.sign2 < 0) == 15
    assert np.all(weights.w1[weights.sign1 < 0] <= 0) and np.all(weights.w1[weights.sign1 > 0] >= 0)
    assert np.all(weights.w2[weights.sign2 < 0] <= 0) and np.all(weights.w2[weights.sign2 > 0] >= 0)
    assert np.any(weights.w1 < 0) and np.any(weights.w1 > 0)


def test_torch_float64_equals_the_numpy_reference(torch):
    from brianlab.models.ipd_localisation.training import torch_forward

    data = inputs.generate(SPEC, 32, inputs.stream(3, 2))
    w1, w2, *_ = ipd.get_weights(ipd.IPDParams()).__dict__.values()
    for reset in ("notebook", "immediate"):
        hid, out = reference.forward(data.spikes, w1, w2, np.exp(-0.2), np.exp(-0.2), reset)
        s, out_t = torch_forward(torch.from_numpy(data.spikes).double(), torch.tensor(w1), torch.tensor(w2),
                                 float(np.exp(-0.2)), float(np.exp(-0.2)), reset)
        np.testing.assert_array_equal(s.numpy() > 0, hid)
        np.testing.assert_allclose(out_t.numpy(), out, rtol=1e-12, atol=1e-12)


def test_all_inhibitory_is_at_chance(torch):
    params, weights = _short_training(1.0, epochs=1, n_batches=2)
    test = inputs.generate(SPEC, 600, inputs.stream(0, 2))
    hidden, out = reference.forward(test.spikes, weights.w1, weights.w2, *ipd.alphas(params))
    assert not hidden.any()  # no excitation: the hidden layer never fires
    acc = np.mean(reference.predict(out) == test.labels)
    assert abs(acc - 1 / 12) < 5 * np.sqrt((1 / 12) * (11 / 12) / 600)


def test_short_training_beats_chance_widely(torch):
    params, weights = _short_training(0.5, epochs=4, n_batches=12)
    test = inputs.generate(SPEC, 512, inputs.stream(0, 2))
    _, out = reference.forward(test.spikes, weights.w1, weights.w2, *ipd.alphas(params))
    # chance is 0.083 (binomial sd 0.012 at 512 samples); 48 batches already reach about 0.2
    assert np.mean(reference.predict(out) == test.labels) > 2 * (1 / 12)


def reference_of(record, seed):
    """The NumPy reference run here on the run's own test set and saved weights: (test set, hidden, predictions)."""
    params, a = record.params, record.arrays
    test = inputs.generate(ipd.input_spec(params), params.n_test, inputs.stream(seed, 2))
    hidden, out = reference.forward(test.spikes, a["w1"], a["w2"], *ipd.alphas(params), params.reset)
    return test, hidden, reference.predict(out)


def test_packed_input_table_holds_every_spike_once():
    from brianlab.models.ipd_localisation import network

    params = ipd.IPDParams(n_test=70, n_parallel=32)  # a partly filled last window
    lay = ipd.layout(params)
    spikes = np.random.default_rng(5).random((70, lay.n_steps, lay.n_inputs)) < 0.4
    spikes[3] = True  # every bit of a word set
    table = network.pack_spikes(spikes, lay).astype(np.int64)
    assert table.shape == (lay.total_steps, lay.n_parallel * lay.n_words) and not table[-1].any()
    bits = (table[:-1, :, None] >> np.arange(network.BITS_PER_WORD)) & 1  # (step, copy*word, bit)
    bits = bits.reshape(lay.n_windows, lay.n_steps, lay.n_parallel, -1)[..., : lay.n_inputs]
    decoded = bits.transpose(0, 2, 1, 3).reshape(lay.n_samples, lay.n_steps, lay.n_inputs)
    assert np.array_equal(decoded[:70], spikes) and not decoded[70:].any()


@pytest.mark.parametrize("reset", ["notebook", "immediate"])
def test_brian_parity_with_the_reference(reset, tmp_path, device="runtime"):
    record = __import__("brianlab").run("ipd-localisation", device=device, out=tmp_path / "run", seed=3,
                                        n_test=64, n_parallel=16, reset=reset)
    a = record.arrays
    test, hidden, predicted = reference_of(record, 3)
    # Brian classifies every test sample as the reference does, from the same inputs
    assert np.array_equal(a["example_input"], test.spikes[int(np.argmin(np.abs(test.ipd)))])
    assert np.array_equal(a["pred_brian"], predicted)
    # and the example sample's hidden spikes are the reference's, step for step
    example = hidden[int(np.argmin(np.abs(test.ipd)))]
    steps, units = np.nonzero(example)
    assert len(steps) > 20
    assert np.array_equal(a["example_brian_step"], steps) and np.array_equal(a["example_brian_unit"], units)
    if reset == "notebook":
        assert np.mean(a["pred_brian"] == test.labels) > 0.6  # the shipped weights (80% on 2048 samples)
    assert np.sum(a["sign1"] < 0) == 100 and np.sum(a["sign2"] < 0) == 15
    m = record.metrics  # the model's own comparison says the same
    assert m["hidden_spike_mismatches"] == 0 and m["prediction_agreement"] == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("device", device_params("cpp_standalone"))
def test_brian_parity_cpp_standalone(device, tmp_path):
    test_brian_parity_with_the_reference("notebook", tmp_path, device)  # a compilation: minutes on a busy machine


def jeffress_params(*assignments):
    return apply_assignments(ipd.IPDParams, [*ipd.MODEL.preset("jeffress"), *assignments])


def test_jeffress_is_well_above_chance():
    params = jeffress_params()
    weights = ipd.get_weights(params)
    assert np.all(weights.w1 >= 0) and np.all(weights.w2 >= 0)
    test = inputs.generate(SPEC, 400, inputs.stream(0, 2))
    _, out = reference.forward(test.spikes, weights.w1, weights.w2, *ipd.alphas(params))
    assert np.mean(reference.predict(out) == test.labels) > 0.35  # chance 0.083; measured about 0.6 (binomial sd 0.025)


def test_jeffress_detectors_each_hear_one_fibre_of_each_ear_in_phase_at_their_class():
    params = jeffress_params()
    spec = ipd.input_spec(params)
    w1, w2 = ipd.get_weights(params).w1, ipd.get_weights(params).w2
    n = spec.anf_per_ear
    left, right = w1[:n] > 0, w1[n:] > 0
    assert np.all(left.sum(axis=0) == 1) and np.all(right.sum(axis=0) == 1)
    pairs = {(int(np.argmax(left[:, k])), int(np.argmax(right[:, k]))) for k in range(params.n_hidden)}
    assert len(pairs) == params.n_hidden  # no pair twice
    # in phase when ipd = d_left - d_right; that IPD lies in the class the detector votes for
    delays = spec.phase_delays()[:n]
    preferred = delays[np.argmax(left, axis=0)] - delays[np.argmax(right, axis=0)]
    edges = np.linspace(-np.pi / 2, np.pi / 2, spec.n_classes + 1)
    clear = np.min(np.abs(preferred[:, None] - edges[None, 1:-1]), axis=1) > 1e-9  # on an edge, either class is right
    expected = inputs.discretise(np.clip(preferred, -np.pi / 2, np.pi / 2 - 1e-9), spec.n_classes)
    assert clear.sum() > 0.9 * params.n_hidden and np.array_equal(np.argmax(w2, axis=1)[clear], expected[clear])
    # one spike from each ear in the same step fires a detector; no train of one fibre's spikes does
    alpha = ipd.alphas(params)[0]
    gain = w1[w1 > 0].max()
    assert 2 * gain > 1 and gain / (1 - alpha) < 1


def test_jeffress_runs_in_brian_with_only_its_synapses(brianlab_cli, tmp_path):
    code, _, err = brianlab_cli("run", "ipd-localisation", "--preset", "jeffress", "--set", "n_test=32",
                                "--set", "n_parallel=32", "--out", tmp_path / "j", "--quiet")
    assert code == 0, err
    record = __import__("brianlab").load(tmp_path / "j")
    _, _, predicted = reference_of(record, record.config["seed"])
    assert np.array_equal(record.arrays["pred_brian"], predicted)
    assert np.sum(record.arrays["sign1"] < 0) == 0  # jeffress: no inhibitory input
    params = jeffress_params("n_test=32", "n_parallel=32")
    values = ipd.run_values(params, ipd.get_weights(params), seed=0)
    assert len(values["syn_in_exc.w"]) == 2 * params.n_hidden * 32  # two input synapses per detector and copy
    assert len(values["syn_hid_exc.w"]) == params.n_hidden * 32


def test_jeffress_with_the_notebooks_slow_membrane_is_one_line(brianlab_cli, tmp_path):
    code, _, err = brianlab_cli("run", "ipd-localisation", "--set", "mode=jeffress", "--out", tmp_path / "j")
    assert code == 2 and err.count("\n") == 1 and "--preset jeffress" in err
    assert not (tmp_path / "j").exists()


def test_bad_input_is_one_line(brianlab_cli, tmp_path):
    for args, words in (
        (["--set", "ie_ratio=1.5"], "ie_ratio"),
        (["--set", f"weights={tmp_path / 'missing.npz'}"], "not found"),
        (["--set", "n_hidden=20"], "shapes"),
        (["--set", "ie_ratio=0.3"], "inhibitory rows"),
    ):
        code, _, err = brianlab_cli("run", "ipd-localisation", "--out", tmp_path / "x", "--quiet", *args)
        lines = [line for line in err.strip().splitlines() if line.startswith("brianlab: error")]
        assert code == 2 and len(lines) == 1 and words in lines[0], err


def test_missing_torch_message_names_the_fix(monkeypatch):
    import builtins

    from brianlab.models.ipd_localisation import training

    real_import = builtins.__import__

    def no_torch(name, *a, **k):
        if name == "torch":
            raise ImportError("no torch")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(BrianlabError, match="download.pytorch.org/whl/cpu"):
        training.require_torch()


@pytest.mark.slow
def test_cuda_compiles(cuda_compile_only):
    cuda_compile_only("ipd-localisation", "--set", "n_test=64", "--set", "n_parallel=32")


def test_sweep_shape_check_follows_the_notebook_criteria():
    import pandas as pd

    from brianlab.runs.ipd_inhibitory_sweep import summarise

    def table(acc):
        return pd.DataFrame([{"ie_ratio": r, "seed": s, "status": "done", "accuracy_test": a + 0.01 * s,
                              "accuracy_test_brian": a, "prediction_agreement": 1.0, "train_wall_s": 1.0,
                              "chance": 1 / 12} for r, a in acc.items() for s in (0, 1)])

    good = summarise(table({0.0: 0.45, 0.5: 0.80, 1.0: 1 / 12}), 6)
    assert good["shape"] == {"peak_ratio": 0.5, "peak_mean_test": pytest.approx(0.805),
                             "peak_between_30_and_70": True, "zero_well_below_peak": True, "full_at_chance": True}
    assert good["per_ratio"]["0.5"]["n_seeds"] == 2 and good["n_points_finished"] == 6
    bad = summarise(table({0.0: 0.75, 0.9: 0.80, 1.0: 0.2}), 6)["shape"]
    assert not (bad["peak_between_30_and_70"] or bad["zero_well_below_peak"] or bad["full_at_chance"])
