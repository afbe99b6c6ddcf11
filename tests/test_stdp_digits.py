"""stdp-digits: it learns, devices agree, the program compiles once, --from and the estimator work.

Every cpp_standalone check shares one compiled project (``cpp`` fixture), so the
module compiles the network once (plus the CUDA compile-only test).
"""

import dataclasses
import math

import numpy as np
import pytest

from brianlab.devices import DeviceSession
from brianlab.model import RunRecord
from brianlab.models import stdp_digits
from brianlab.params import apply_assignments
from conftest import RUNNABLE, read_json

#: A small, fast configuration: digits 0 and 1, 20 training and 20 held-out images (10 per class).
SMALL = ["n_class=2", "n_per_class=2", "n_train=20", "n_test=20", "chunk=20"]
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


def result_on(device, runtime_result, cpp):
    return runtime_result if device == "runtime" else cpp["first"]


@pytest.mark.parametrize("device", RUNNABLE)
def test_learns_two_digits_far_above_chance(device, runtime_result, cpp):
    if device == "cuda_standalone":
        pytest.skip("covered by the CUDA compile-only test on this machine")
    m = result_on(device, runtime_result, cpp).metrics
    assert m["n_train"] == 20 and m["n_test"] == N_TEST
    # chance is 50%: 18 of 20 correct has probability 2e-4 by chance
    for key in ("accuracy_train", "accuracy_test_frozen", "accuracy_test_online"):
        assert m[key] >= 0.9, key


def test_devices_give_statistically_equivalent_activity_and_accuracy(runtime_result, cpp):
    rt, cc = runtime_result, cpp["first"]
    for key in ("accuracy_test_frozen", "accuracy_test_online"):
        p = min(max((rt.metrics[key] + cc.metrics[key]) / 2, 0.05), 0.95)
        assert abs(rt.metrics[key] - cc.metrics[key]) <= 3 * math.sqrt(2 * p * (1 - p) / N_TEST), key
    # output spikes per held-out image: same distribution (difference of means within 4 standard errors)
    a, b = rt.arrays["counts_frozen"].sum(axis=1), cc.arrays["counts_frozen"].sum(axis=1)
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    assert a.mean() > 2 and abs(a.mean() - b.mean()) <= 4 * se


def test_held_out_images_are_never_training_images(runtime_result):
    a = runtime_result.arrays
    assert not set(a["index_train"]) & set(a["index_test"])
    assert np.sum(a["y_test"] == 0) == np.sum(a["y_test"] == 1) == N_TEST // 2  # stratified


def test_a_second_run_of_the_same_shape_does_not_compile(cpp):
    # train, curve, frozen train, frozen test, online test: one run each (one chunk);
    # then two epochs (train and curve twice); then --from with epochs=0; then 2 runs by hand
    assert cpp["runs_first"] == 5
    assert cpp["programs"] == [(1, 5 + 7 + 3 + 2)]
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
    assert np.array_equal(again.arrays["index_test"], first.arrays["index_test"])


TINY = ["--set", "n_class=2", "--set", "n_per_class=1", "--set", "n_train=4", "--set", "n_test=4",
        "--set", "chunk=4", "--quiet"]


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
    assert not any((tmp_path / name).exists() for name in "bcd")


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
