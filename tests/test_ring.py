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


# ----------------------------------------------------------------------------
# what the recorded rates say, computed here (never from the model's metrics)
# ----------------------------------------------------------------------------


def sample(t, time):
    """Index of the last recorded sample at or before ``time`` (s)."""
    return int(np.searchsorted(t, time + 1e-12, side="right") - 1)


def settled(R_t, since, rel=1e-9):
    """Whether the recorded rates changed by less than ``rel`` of their peak over the samples from index ``since``."""
    tail = R_t[since:]
    return bool(np.all(np.isfinite(tail)) and np.max(np.ptp(tail, axis=0)) <= rel * max(np.max(np.abs(tail)), 1e-300))


def largest_active_eigenvalue(W, u):
    """Largest eigenvalue of W restricted to the units with positive drive u (the threshold-linear Jacobian + 1)."""
    active = u > 0
    return float(np.linalg.eigvalsh(W[np.ix_(active, active)])[-1])


def ring_bump(x, R):
    """(centre, width, fraction of units) of the units at or above half the peak of ``R`` on the ring of circumference 4.

    The centre is their R-weighted circular mean; the width is their number times the spacing 4/N.
    """
    top = R >= R.max() / 2
    z = np.sum(R[top] * np.exp(1j * np.pi / 2 * x[top]))
    return float(np.angle(z) * 2 / np.pi), float(top.sum() * 4 / len(R)), float(top.mean())


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
    m, R_t = result.metrics, result.arrays["R_t"]
    # the recorded rates stopped moving over the last 50 ms (10 tau), at the solver's fixed point
    assert settled(R_t, -11)
    assert np.max(np.abs(result.arrays["R"] - expected)) / np.max(expected) < 1e-6
    # and it is a stable one: the active units' loop gain is below 1 (the model reports the same number)
    eig = largest_active_eigenvalue(W, h + W @ expected)
    assert eig < 1 and np.isclose(m["eig_active"], eig, rtol=1e-9)
    assert np.isclose(m["peak_rate"], expected.max(), rtol=1e-6)
    assert np.isclose(m["active_fraction"], np.mean(h + W @ expected > 0))


def test_saturating_steady_state_on_the_ring_matches_an_independent_solver(tmp_path):
    _, result, _ = simulate("runtime", tmp_path, [*SMALL, "geometry=ring", "transfer=tanh", "r_max=0.2",
                                                  "J_1=6", "duration=0.5*second"])
    _, W, h = reference_network(128, geometry="ring", J_1=6)
    expected = reference_fixed_point(W, h, lambda u: 0.2 * np.tanh(relu(u) / 0.2))
    assert 0.2 < np.mean(expected > 0) < 0.8
    assert settled(result.arrays["R_t"], -11)
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
    data = np.load(out / "data.npz")
    assert data["x"].shape == data["R"].shape == (128,)
    assert np.all(np.isfinite(data["R"])) and np.all(np.isfinite(data["R_t"]))
    _, W, h = reference_network(128)
    # the rates grew by orders of magnitude and stopped at the bound, never past it
    assert 1e4 < data["R_t"].max() <= 1e6
    # the active set excites itself faster than it decays
    assert largest_active_eigenvalue(W, h + W @ data["R"]) > 1
    step = euler_first_crossing(W, h, 0.05, 1e6, 600)
    assert step is not None
    assert abs(m["t_diverge"] - step * 0.5e-3) <= 2 * 0.5e-3
    # the model's verdict is the one these facts give
    assert m["diverged"] is True and m["converged"] is False and m["regime"] == "divergent"
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
    arrays = ring_cpp["attractor"].arrays
    R_t, t, x = arrays["R_t"], arrays["t"], arrays["x"]
    assert np.all(np.isfinite(R_t)) and R_t.max() <= 1.0  # saturating at r_max = 1: bounded
    # during the delay (inputs off at 0.2 s, second cue at 0.7 s) the bump keeps its peak, its place and its shape
    k_off, k_settled, k_end = sample(t, 0.2), sample(t, 0.3), sample(t, 0.7 - 1e-9)
    assert R_t[k_end].max() > 0.95 * R_t[k_off].max() > 0
    centre_settled, _, _ = ring_bump(x, R_t[k_settled])
    centre, width, fraction = ring_bump(x, R_t[k_end])
    assert abs(centre) < 0.02 and abs(centre - centre_settled) / (t[k_end] - t[k_settled]) < 0.01
    assert 0.3 < width < 2.0 and fraction <= 0.5
    # the second cue moved it: after the cue ends again (1.1 s) it sits near x = 1, still a localized bump
    centre_end, _, fraction_end = ring_bump(x, arrays["R"])
    assert abs(centre_end - 1.0) < 0.1 and fraction_end <= 0.5
    assert arrays["R"].max() > 0.5 * R_t[k_off].max()
    before_cue = R_t[np.searchsorted(t, 0.15)]
    # and the activity really was only there: silent units far from the cue stay at 0
    assert before_cue[np.abs(x) > 1.5].max() < 1e-6
    # the model classifies it as these facts do
    assert ring_cpp["attractor"].metrics["regime"] == "bump"


def test_without_strong_recurrence_the_activity_dies_with_the_cue(ring_cpp):
    arrays = ring_cpp["weak"].arrays
    R_t, t = arrays["R_t"], arrays["t"]
    peak_off = R_t[sample(t, 0.2)].max()
    assert peak_off > 0.01  # the cue did drive the ring
    assert R_t[sample(t, 0.7 - 1e-9)].max() < 1e-6 * peak_off  # gone before the second cue
    assert ring_cpp["weak"].metrics["regime"] == "stable"


def test_uniform_input_on_the_ring_gives_the_uniform_closed_form(ring_cpp):
    result = ring_cpp["uniform"]
    _, W, _ = reference_network(128, geometry="ring", J_0=-2.5, J_1=4, sigma_J=0.5)
    row = W.sum(axis=1)
    assert np.ptp(row) < 1e-12  # every unit sees the same total weight on the ring
    expected = (1.5 - 1.0) / (1 - row[0])  # R = S_0 - T + (sum_j W_ij) R, below r_max = 1
    R = result.arrays["R"]
    assert settled(result.arrays["R_t"], -11) and np.ptp(R) < 1e-12 * expected
    assert abs(R.mean() - expected) / expected < 1e-9


@pytest.mark.parametrize("device", device_params("runtime"))
def test_runtime_agrees_with_cpp_standalone_to_numerical_precision(device, ring_cpp, tmp_path):
    _, result, _ = simulate(device, tmp_path, ATTRACTOR)
    a, b = result.arrays, ring_cpp["attractor"].arrays
    np.testing.assert_allclose(a["R_t"], b["R_t"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a["R"], b["R"], rtol=1e-9, atol=1e-12)
    assert result.metrics["regime"] == ring_cpp["attractor"].metrics["regime"]


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
