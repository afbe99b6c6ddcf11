"""The ``ring`` rate model: steady states against an independent solver, divergence, persistent bumps.

The reference here is written from the issue's equations alone (no code of
``models.ring``): weights and inputs from the formulas, a damped fixed-point
iteration followed by SciPy's root finder. One cpp_standalone build of the ring
serves every standalone test (reruns with new weights and inputs).
"""

import numpy as np
import pytest
from scipy import optimize

from brianlab import devices
from brianlab.devices import DeviceSession
from brianlab.models import ring
from brianlab.params import apply_assignments
from conftest import device_params, read_json

SMALL = ["N=128"]
#: A threshold-linear set with a stable steady state (slowest mode decays as exp(-0.54 t/tau)).
STABLE_LINE = [*SMALL, "J_1=4", "duration=0.5*second"]
#: The attractor regime on a small ring: cue at 0, delay, second cue at 1 (gain 2), delay.
ATTRACTOR = [*SMALL, "geometry=ring", "r_max=1", "J_0=-8", "J_1=24", "sigma_J=0.5", "duration=1.5*second",
             "input_off=0.2*second", "cue2_on=0.7*second", "cue2_off=1.1*second", "cue2_gain=2"]
REQUIRED = ("converged", "diverged", "peak_rate", "mean_rate", "active_fraction")


# ----------------------------------------------------------------------------
# the reference: the equations in NumPy/SciPy, written independently
# ----------------------------------------------------------------------------


def reference_network(N, geometry="line", J_0=-2.5, J_1=8.5, sigma_J=1.31, l=3.14, S_0=0.46, S_1=0.66,
                      x_S=0.0, sigma_S=1.31, A_1=0.089, x_A=0.0, sigma_A=0.35, A_0=0.0, sigma_A_prime=0.87, T=1.0):
    """Positions, recurrent matrix and external drive h = I_S + I_A - T, from the issue text."""
    if geometry == "line":
        x = np.linspace(-2, 2, N)

        def dist(a, b):
            return a - b
    else:  # a circle of circumference 4: the distance is the shorter arc, signed
        x = -2 + 4 * np.arange(N) / N

        def dist(a, b):
            return np.angle(np.exp(1j * np.pi / 2 * (a - b))) * 2 / np.pi

    dx = dist(x[:, None], x[None, :])
    W = np.where(np.abs(dx) < l, J_0 + J_1 * np.exp(-dx**2 / (2 * sigma_J**2)), 0.0) / N
    I_S = S_0 + S_1 * np.exp(-dist(x, x_S) ** 2 / (2 * sigma_S**2))
    d_A = dist(x, x_A)
    I_A = np.where(np.abs(d_A) < l, A_1 * np.exp(-d_A**2 / (2 * sigma_A**2))
                   + A_0 * np.exp(-d_A**2 / (2 * sigma_A_prime**2)), 0.0)
    return x, W, I_S + I_A - T


def reference_fixed_point(W, h, f):
    """Damped iteration R <- R + 0.2 (f(h + W R) - R) to get close, then SciPy's root finder."""
    R = np.zeros(len(h))
    for _ in range(20000):
        step = f(h + W @ R) - R
        R = R + 0.2 * step
        if np.max(np.abs(step)) < 1e-10:
            break
    solution = optimize.root(lambda r: f(h + W @ r) - r, R, method="hybr", tol=1e-14)
    R = solution.x
    assert np.max(np.abs(f(h + W @ R) - R)) < 1e-12 * max(1.0, np.max(np.abs(R)))
    return R


def relu(u):
    return np.maximum(u, 0.0)


def simulate(device, root, assignments):
    """(params, Result, (i, j, w) of the recurrent synapses) of one run in its own session."""
    params = apply_assignments(ring.RingParams, assignments)
    with DeviceSession(device, build_root=root, progress=False) as session:
        result = ring.simulate(params, session)
        syn = session.programs[-1].network["syn_rec"]
        weights = np.array(syn.i[:]), np.array(syn.j[:]), np.array(syn.w[:])
    return params, result, weights


# ----------------------------------------------------------------------------
# steady states
# ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stable_line(tmp_path_factory):
    return simulate("runtime", tmp_path_factory.mktemp("line"), STABLE_LINE)


def test_weights_in_the_network_are_the_kernel_over_n(stable_line):
    params, _, (i, j, w) = stable_line
    _, W, _ = reference_network(128, J_1=4)
    assert len(w) == 128 * 128
    # synapse i -> j carries J(x_j - x_i)/N onto unit j
    np.testing.assert_allclose(w, W[j, i], rtol=1e-12, atol=1e-15)


def test_threshold_linear_steady_state_matches_an_independent_solver(stable_line):
    _, result, _ = stable_line
    _, W, h = reference_network(128, J_1=4)
    expected = reference_fixed_point(W, h, relu)
    # a real steady state: partly active, partly silent, so the threshold matters
    assert 0.2 < np.mean(expected > 0) < 0.8
    m = result.metrics
    assert m["converged"] and not m["diverged"] and m["regime"] == "stable"
    assert np.max(np.abs(result.arrays["R"] - expected)) / np.max(expected) < 1e-6
    assert m["eig_active"] < 1
    assert np.isclose(m["peak_rate"], expected.max(), rtol=1e-6)
    assert np.isclose(m["active_fraction"], np.mean(h + W @ expected > 0))


def test_saturating_steady_state_on_the_ring_matches_an_independent_solver(tmp_path):
    _, result, _ = simulate("runtime", tmp_path, [*SMALL, "geometry=ring", "transfer=tanh", "r_max=0.2",
                                                  "J_1=6", "duration=0.5*second"])
    _, W, h = reference_network(128, geometry="ring", J_1=6)
    expected = reference_fixed_point(W, h, lambda u: 0.2 * np.tanh(relu(u) / 0.2))
    assert 0.2 < np.mean(expected > 0) < 0.8
    assert result.metrics["converged"]
    assert np.max(np.abs(result.arrays["R"] - expected)) / np.max(expected) < 1e-6


# ----------------------------------------------------------------------------
# divergence
# ----------------------------------------------------------------------------


def euler_first_crossing(W, h, dt_over_tau, bound, steps):
    """Time step at which some unit's drive first reaches ``bound`` (forward Euler of the same dynamics)."""
    R = np.zeros(len(h))
    for k in range(steps):
        u = h + W @ R
        if np.any(u >= bound):
            return k
        R = R + dt_over_tau * (np.clip(u, 0, bound) - R)
    return None


def test_published_parameters_diverge_and_the_run_says_so_without_nan(brianlab_cli, tmp_path):
    out = tmp_path / "published"
    code, stdout, err = brianlab_cli("run", "ring", "--set", "N=128", "--set", "duration=0.3*second",
                                     "--out", out, "--quiet")
    assert code == 0, err
    assert "diverged" in stdout and "True" in stdout.split("diverged", 1)[1].splitlines()[0]
    m = read_json(out / "metrics.json")
    assert all(key in m for key in REQUIRED)
    assert m["diverged"] is True and m["converged"] is False and m["regime"] == "divergent"
    # the active set excites itself faster than it decays
    assert m["eig_active"] > 1
    data = np.load(out / "data.npz")
    assert data["x"].shape == data["R"].shape == (128,)
    assert np.all(np.isfinite(data["R"])) and np.all(np.isfinite(data["R_t"]))
    assert data["R_t"].max() <= 1e6
    _, W, h = reference_network(128)
    step = euler_first_crossing(W, h, 0.05, 1e6, 600)
    assert step is not None
    assert abs(m["t_diverge"] - step * 0.5e-3) <= 2 * 0.5e-3
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["profile.png", "rates.png"]


# ----------------------------------------------------------------------------
# the attractor regime, one cpp_standalone build
# ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ring_cpp(tmp_path_factory):
    status = devices.probe("cpp_standalone")
    if not status.can_run:
        pytest.skip(f"cpp_standalone cannot run here: {status.missing}")
    weak = apply_assignments(ring.RingParams, [*ATTRACTOR, "J_1=8"])
    uniform = apply_assignments(ring.RingParams, [*ATTRACTOR, "J_0=-2.5", "J_1=4", "S_0=1.5", "S_1=0", "A_1=0",
                                                  "input_off=0*second", "cue2_on=0*second", "cue2_off=0*second"])
    out = {}
    with DeviceSession("cpp_standalone", build_root=tmp_path_factory.mktemp("cpp"), progress=False) as session:
        out["attractor"] = ring.simulate(apply_assignments(ring.RingParams, ATTRACTOR), session)
        out["weak"] = ring.simulate(weak, session)
        out["uniform"] = ring.simulate(uniform, session)
        out["programs"] = [(p.n_builds, p.n_compiles, p.n_runs) for p in session.programs]
    return out


def test_sweeping_weights_and_inputs_reuses_one_compiled_build(ring_cpp):
    assert ring_cpp["programs"] == [(1, 1, 3)]


def test_a_cued_bump_persists_after_the_inputs_switch_off_and_follows_a_new_cue(ring_cpp):
    m = ring_cpp["attractor"].metrics
    assert not m["diverged"] and m["regime"] == "bump"
    # during the delay (inputs off) the bump keeps its peak, its place and its shape
    assert m["persistence"] > 0.95
    assert abs(m["delay_bump_centre"] - 0.0) < 0.02 and m["drift_per_second"] < 0.01
    assert 0.3 < m["delay_bump_width"] < 2.0
    # the second cue moved it: after the cue ends again it sits near x = 1
    assert m["cue2_error"] < 0.1 and m["bump_localized"]
    R_t, t = ring_cpp["attractor"].arrays["R_t"], ring_cpp["attractor"].arrays["t"]
    before_cue = R_t[np.searchsorted(t, 0.15)]
    # and the activity really was only there: silent units far from the cue stay at 0
    assert before_cue[np.abs(ring_cpp["attractor"].arrays["x"]) > 1.5].max() < 1e-6


def test_without_strong_recurrence_the_activity_dies_with_the_cue(ring_cpp):
    m = ring_cpp["weak"].metrics
    assert m["regime"] == "stable" and m["persistence"] < 1e-6 and not m["persistent"]


def test_uniform_input_on_the_ring_gives_the_uniform_closed_form(ring_cpp):
    result = ring_cpp["uniform"]
    _, W, _ = reference_network(128, geometry="ring", J_0=-2.5, J_1=4, sigma_J=0.5)
    row = W.sum(axis=1)
    assert np.ptp(row) < 1e-12  # every unit sees the same total weight on the ring
    expected = (1.5 - 1.0) / (1 - row[0])  # R = S_0 - T + (sum_j W_ij) R, below r_max = 1
    R = result.arrays["R"]
    assert result.metrics["converged"] and np.ptp(R) < 1e-12 * expected
    assert abs(R.mean() - expected) / expected < 1e-9


@pytest.mark.parametrize("device", device_params("runtime"))
def test_runtime_agrees_with_cpp_standalone_to_numerical_precision(device, ring_cpp, tmp_path):
    _, result, _ = simulate(device, tmp_path, ATTRACTOR)
    a, b = result.arrays, ring_cpp["attractor"].arrays
    np.testing.assert_allclose(a["R_t"], b["R_t"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a["R"], b["R"], rtol=1e-9, atol=1e-12)
    assert result.metrics["regime"] == ring_cpp["attractor"].metrics["regime"] == "bump"


# ----------------------------------------------------------------------------
# input errors, CUDA build
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("setting, message", [
    ("tau=10", "parameter 'tau' needs a unit"),
    ("tau=10*mV", "parameter 'tau' has the wrong unit"),
    ("J_1=4*ms", "parameter 'J_1' takes a plain number"),
    ("geometry=torus", "parameter 'geometry' must be one of line, ring"),
    ("transfer=tanh", "transfer=tanh needs a saturation rate"),
    ("input_off=0.25*ms", "input_off must be a multiple of schedule_dt"),
    ("N=1", "N must be at least 2"),
])
def test_bad_input_is_one_line_and_writes_nothing(brianlab_cli, tmp_path, setting, message):
    out = tmp_path / "bad"
    code, stdout, err = brianlab_cli("run", "ring", "--set", setting, "--out", out, "--quiet")
    assert code == 2 and stdout == ""
    assert err.startswith("brianlab: error:") and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.slow
def test_cuda_project_compiles_without_a_gpu(cuda_compile_only):
    cuda_compile_only("ring", "--set", "N=32", "--set", "geometry=ring", "--set", "duration=20*ms")
