"""stdp-digits: it learns, devices agree, the program compiles once, --from and the estimator work."""

import math

import numpy as np
import pytest

from brianlab.devices import DeviceSession
from brianlab.params import apply_assignments
from models import stdp_digits

from conftest import RUNNABLE, device_params, read_json

#: A small, fast configuration: 2 classes (digits 0 and 1), 40 training and 40 test images.
SMALL = ["n_class=2", "n_train=40", "n_test=40", "chunk=40"]


def simulate(device, tmp_path, assignments=(), seed=0, previous=None):
    params = apply_assignments(stdp_digits.STDPDigitsParams, [*SMALL, *assignments])
    with DeviceSession(device, build_root=tmp_path / device, seed=seed, progress=False) as session:
        return stdp_digits.simulate(params, session, previous), session


def binomial_sd(p, n):
    return math.sqrt(p * (1 - p) / n)


@pytest.fixture(scope="module")
def runtime_result(tmp_path_factory):
    return simulate("runtime", tmp_path_factory.mktemp("rt"))[0]


@pytest.mark.parametrize("device", RUNNABLE)
def test_learns_two_digits_far_above_chance(device, tmp_path, runtime_result):
    result = runtime_result if device == "runtime" else simulate(device, tmp_path)[0]
    m = result.metrics
    assert m["n_train"] == 40 and m["n_test"] == 40
    # chance is 50%; 40 test images: 90% correct is more than 6 binomial sd above chance
    assert m["accuracy_test_frozen"] >= 0.9
    assert m["accuracy_test_online"] >= 0.9
    assert m["accuracy_train"] >= 0.9
    # the teacher decided which neuron answers for which class, and learning kept it
    assert list(result.arrays["neuron_class"]) == [0, 1]


def test_devices_give_statistically_equivalent_accuracy(tmp_path, runtime_result):
    cpp = simulate("cpp_standalone", tmp_path)[0]
    for key in ("accuracy_test_frozen", "accuracy_test_online"):
        p_rt, p_cpp = runtime_result.metrics[key], cpp.metrics[key]
        pooled = (p_rt + p_cpp) / 2
        sd = math.sqrt(2) * binomial_sd(min(max(pooled, 0.05), 0.95), 40)
        assert abs(p_rt - p_cpp) <= 3 * sd, key


def test_held_out_images_are_never_training_images(runtime_result):
    a = runtime_result.arrays
    assert not set(a["index_train"]) & set(a["index_test"])
    assert set(a["y_test"]) == {0, 1} and np.sum(a["y_test"] == 0) == 20  # stratified


def test_a_second_run_of_the_same_shape_does_not_compile(tmp_path):
    base = apply_assignments(stdp_digits.STDPDigitsParams, [*SMALL, "n_train=20", "n_test=20", "chunk=20"])
    changed = apply_assignments(stdp_digits.STDPDigitsParams, ["lr=0.001", "teacher_current=20", "epochs=2"], base=base)
    with DeviceSession("cpp_standalone", build_root=tmp_path, progress=False) as session:
        first = stdp_digits.simulate(base, session)
        runs = session.programs[0].n_runs
        second = stdp_digits.simulate(changed, session)
        assert len(session.programs) == 1 and session.programs[0].n_builds == 1
        # every phase (train, test, online) ran through the one compiled program
        assert runs == 5 and session.programs[0].n_runs == runs + 6
    assert not np.array_equal(first.arrays["w_inp"], second.arrays["w_inp"])


def test_frozen_phase_leaves_the_weights_alone_and_the_teacher_drives_its_class(tmp_path):
    params = apply_assignments(stdp_digits.STDPDigitsParams, [*SMALL, "chunk=4"])
    data = stdp_digits.load_split(params, 0)
    x, y = data["x_train"][:4], data["y_train"][:4]
    with DeviceSession("cpp_standalone", build_root=tmp_path, progress=False) as session:
        program = stdp_digits.make_program(params, session)
        state = stdp_digits.initial_state(params, np.random.default_rng(0))
        before = dict(state)
        stdp_digits.run_phase(program, params, state, x, None, "frozen", seed=1)
        assert np.array_equal(program.network["syn_inp"].w[:], before["syn_inp.w"])
        targets = stdp_digits.teacher_targets(params, x, y, seed=0)
        train = stdp_digits.run_phase(program, params, state, x, targets, "train", seed=1)
        assert not np.array_equal(state["syn_inp.w"], before["syn_inp.w"])
    # with the teacher on, the neuron of the shown class fires most in every image window
    assert np.array_equal(train.counts.argmax(axis=1), y)


def test_from_a_run_tests_its_weights_on_its_held_out_images(brianlab_cli, tmp_path):
    first = tmp_path / "first"
    args = ["--device", "cpp_standalone", "--quiet", *sum((["--set", a] for a in SMALL), [])]
    assert brianlab_cli("run", "stdp-digits", "--out", first, *args)[0] == 0
    code, _, err = brianlab_cli("run", "stdp-digits", "--out", tmp_path / "again", "--from", first,
                                "--set", "epochs=0", *args)
    assert code == 0, err
    a, b = read_json(first / "metrics.json"), read_json(tmp_path / "again" / "metrics.json")
    # same weights, same images, same seed: the frozen test is reproduced exactly
    assert b["accuracy_test_frozen"] == a["accuracy_test_frozen"]
    with np.load(first / "data.npz") as da, np.load(tmp_path / "again" / "data.npz") as db:
        assert np.array_equal(da["w_inp"], db["w_inp"]) and np.array_equal(da["index_test"], db["index_test"])


def test_from_a_run_without_weights_or_of_another_shape_is_one_line(brianlab_cli, tmp_path):
    first = tmp_path / "first"
    args = ["--quiet", *sum((["--set", a] for a in SMALL), [])]
    assert brianlab_cli("run", "stdp-digits", "--out", first, *args, "--set", "epochs=0")[0] == 0
    code, _, err = brianlab_cli("run", "stdp-digits", "--out", tmp_path / "b", "--from", first, *args,
                                "--set", "n_per_class=2")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "saved weights w_inp" in err and "set n_class and n_per_class as in that run" in err
    with np.load(first / "data.npz") as data:
        kept = {k: data[k] for k in data.files if k != "w_inp"}
    np.savez(first / "data.npz", **kept)
    code, _, err = brianlab_cli("run", "stdp-digits", "--out", tmp_path / "c", "--from", first, *args)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "has no saved weights (w_inp missing from data.npz)" in err
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_estimator_follows_the_scikit_learn_contract():
    from sklearn.base import clone

    est = stdp_digits.STDPDigitClassifier(n_per_class=2, epochs=3, settings=("lr=0.002",), random_state=4)
    copy = clone(est)
    assert copy.get_params() == est.get_params() and copy is not est
    assert not hasattr(copy, "classes_")


def test_estimator_cross_validates(tmp_path):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import cross_val_score

    digits = load_digits()
    keep = np.flatnonzero(digits.target < 2)[:60]
    labels = np.where(digits.target[keep] == 0, "zero", "one")
    est = stdp_digits.STDPDigitClassifier(settings=("chunk=30",), random_state=0)
    scores = cross_val_score(est, digits.data[keep], labels, cv=2)
    assert len(scores) == 2 and np.all(scores >= 0.9)
    fitted = est.fit(digits.data[keep], labels)
    assert fitted is est and set(est.classes_) == {"one", "zero"} and est.weights_.shape == (64, 2)


@pytest.mark.slow
@pytest.mark.parametrize("device", device_params("cuda_standalone"))
def test_cuda_project_compiles(device, tmp_path):
    pass
