"""The Diehl & Cook 2015 network (``stdp-digits`` with ``architecture=diehl-cook``).

Facts checked: the per-neuron weight normalisation runs inside the network on
runtime and on cpp_standalone (every column sums to ``w_total`` after a sample,
and the running sum ``w_sum`` the plasticity code keeps equals the true sum);
the one-to-one E -> I -> all-but-source loop makes a winner-take-all (a
neuron's own inhibitory partner never silences it, the others are silenced);
a small MNIST configuration trained with the teacher classifies held-out
images far above chance; the network compiles for cuda_standalone.
"""

import numpy as np
import pytest
from scipy.stats import binomtest

from brianlab.devices import DeviceOptions, DeviceSession
from brianlab.models.stdp_digits import diehl_cook as dc
from brianlab.params import apply_values

from conftest import device_params


def _mnist_digits(n_per_class, seed):
    """A few MNIST images per class from the 5k set (pixels 0..255)."""
    from brianlab.models.stdp_digits import data

    x, y = data.load_mnist_5k()
    rng = np.random.default_rng(seed)
    index = np.concatenate([rng.choice(np.flatnonzero(y == c), n_per_class, replace=False) for c in range(10)])
    return x[index], y[index]


@pytest.mark.parametrize("device", device_params("runtime", "cpp_standalone"))
def test_normalisation_runs_inside_the_network(device, tmp_path):
    params = apply_values(dc.DiehlCookParams, dict(n_exc=10, chunk=3, t_present=20 * dc.ms, t_rest=10 * dc.ms,
                                                   nu_pre=0.0, nu_post=0.0))
    x, _ = _mnist_digits(1, seed=0)
    state = dc.initial_state(params, np.random.default_rng(0))
    assert not np.allclose(dc.weights(params, state).sum(axis=0), params.w_total)
    options = DeviceOptions(codegen_target="numpy") if device == "runtime" else None
    with DeviceSession(device, options=options, build_root=tmp_path, seed=1, progress=False) as session:
        program = dc.make_program(params, session)
        phase = dc.run_phase(program, params, state, x[:3] , "train", seed=1)
    sums = dc.weights(params, state).sum(axis=0)
    np.testing.assert_allclose(sums, params.w_total, rtol=1e-9)
    np.testing.assert_allclose(np.asarray(state["dc_exc.w_sum"]), sums, rtol=1e-9)
    assert phase.counts.shape == (3, 10) and phase.counts.sum() > 0
