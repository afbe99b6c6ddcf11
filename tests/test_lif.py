"""The example model: physics against a closed form, and devices against each other."""

import numpy as np
import pytest
from brian2 import mV

from brianlab.devices import DeviceOptions, DeviceSession
from brianlab.models import lif
from brianlab.params import apply_assignments
from brianlab.simulation import Program
from conftest import RUNNABLE, device_params

SMALL = ["n_neurons=40", "duration=300*ms"]


def simulate(device, tmp_path, assignments=(), seed=0, **options):
    params = apply_assignments(lif.LIFParams, [*SMALL, *assignments])
    with DeviceSession(device, DeviceOptions(**options), build_root=tmp_path / device, seed=seed,
                       progress=False) as session:
        return lif.simulate(params, session)


def closed_form_isi(drive_v, E_L=-70e-3, v_thresh=-50e-3, v_reset=-70e-3, tau_m=10e-3, t_ref=2e-3):
    """Interval (s) of a noiseless LIF neuron, tau_m dv/dt = E_L - v + drive, reset to v_reset.

    From v_reset the voltage reaches v_thresh after tau_m ln((E_L + drive - v_reset) /
    (E_L + drive - v_thresh)), then waits t_ref; inf where E_L + drive <= v_thresh.
    (Written out here, not taken from the model, with LIFParams' default constants.)
    """
    drive_v = np.asarray(drive_v, dtype=float)
    isi = np.full(drive_v.shape, np.inf)
    fires = E_L + drive_v > v_thresh
    isi[fires] = t_ref + tau_m * np.log((E_L + drive_v[fires] - v_reset) / (E_L + drive_v[fires] - v_thresh))
    return isi


def test_the_closed_form_itself():
    # 40 mV drive: 2 ms + 10 ms ln(40/20) = 8.93 ms; at 20 mV, exactly rheobase: silent
    assert closed_form_isi([40e-3])[0] == pytest.approx(2e-3 + 10e-3 * np.log(2.0))
    assert closed_form_isi([20e-3, 10e-3]).tolist() == [np.inf, np.inf]


@pytest.mark.parametrize("device", RUNNABLE)
def test_intervals_match_the_closed_form_within_one_time_step(device, tmp_path):
    params = apply_assignments(lif.LIFParams, SMALL)
    defaults = lif.LIFParams()
    assert (params.E_L, params.v_thresh, params.v_reset, params.tau_m, params.t_ref) == (
        defaults.E_L, defaults.v_thresh, defaults.v_reset, defaults.tau_m, defaults.t_ref)
    result = simulate(device, tmp_path)
    data = result.arrays
    # the ramp of drives, 10 to 40 mV over the 40 neurons (LIFParams' drive_min, drive_max)
    expected = closed_form_isi(np.linspace(10e-3, 40e-3, 40))
    spike_i, spike_t = data["spike_i"], data["spike_t"]
    silent = ~np.isfinite(expected)
    assert silent.any() and (~silent).any()
    assert not np.isin(np.flatnonzero(silent), spike_i).any()  # below rheobase: no spike at all
    duration, dt = 0.3, float(params.dt)
    checked = 0
    for k in np.flatnonzero(expected < duration / 3):  # neurons with at least two intervals
        times = np.sort(spike_t[spike_i == k])
        assert len(times) >= 3, k
        # spikes fall on the time grid: each interval is the closed form rounded up to a step
        assert np.all(np.abs(np.diff(times) - expected[k]) <= dt * (1 + 1e-6)), k
        checked += 1
    assert checked >= 20


@pytest.fixture(scope="module")
def coupled_runtime(tmp_path_factory):
    return simulate("runtime", tmp_path_factory.mktemp("rt"), ["k_conn=3", "w_syn=1.5*mV"])


STANDALONE = [
    pytest.param(d.values[0], 0, marks=d.marks, id=d.id) for d in device_params("cpp_standalone", "cuda_standalone")
] + [pytest.param("cpp_standalone", 2, marks=device_params("cpp_standalone")[0].marks, id="cpp_standalone-2threads")]


@pytest.mark.parametrize("device, threads", STANDALONE)
def test_standalone_devices_agree_with_runtime_to_numerical_precision(device, threads, tmp_path, coupled_runtime):
    other = simulate(device, tmp_path, ["k_conn=3", "w_syn=1.5*mV"], threads=threads)
    a, b = coupled_runtime.arrays, other.arrays
    # the coupling matters: the coupled network fires differently from the ramp alone
    assert coupled_runtime.metrics["n_spikes"] > 0
    assert np.array_equal(a["spike_i"], b["spike_i"])
    np.testing.assert_allclose(b["spike_t"], a["spike_t"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(b["v"], a["v"], rtol=1e-9, atol=1e-12)


def test_coupling_changes_the_spikes(coupled_runtime, tmp_path):
    uncoupled = simulate("runtime", tmp_path)
    assert coupled_runtime.metrics["n_spikes"] > uncoupled.metrics["n_spikes"]


def test_standalone_rerun_reuses_the_binary_and_matches_a_fresh_build(tmp_path):
    params = apply_assignments(lif.LIFParams, SMALL)
    new_drive = np.linspace(25, 45, params.n_neurons) * mV
    with DeviceSession("cpp_standalone", build_root=tmp_path / "cpp", progress=False) as session:
        program = Program(session, lambda: lif.build(params), params.duration, params.dt)
        first = program.run().spikes.count[:].copy()
        second = program.run({"neurons.drive": new_drive}).spikes.count[:].copy()
        assert program.n_builds == 1 and program.n_runs == 2
    with DeviceSession("runtime", progress=False) as session:
        program = Program(session, lambda: lif.build(params), params.duration, params.dt)
        fresh = program.run({"neurons.drive": new_drive}).spikes.count[:].copy()
    assert not np.array_equal(first, second)
    assert np.array_equal(second, fresh)


def test_seeds_reproduce_and_differ_without_recompiling(tmp_path):
    params = apply_assignments(lif.LIFParams, [*SMALL, "sigma=3*mV"])
    with DeviceSession("cpp_standalone", build_root=tmp_path / "cpp", seed=1, progress=False) as session:
        program = Program(session, lambda: lif.build(params), params.duration, params.dt)
        seed1 = program.run(seed=1).spikes.t[:].copy()
        seed2 = program.run(seed=2).spikes.t[:].copy()
        seed1_again = program.run(seed=1).spikes.t[:].copy()
        assert program.n_builds == 1
    with DeviceSession("cpp_standalone", build_root=tmp_path / "cpp2", seed=2, progress=False) as session:
        fresh2 = Program(session, lambda: lif.build(params), params.duration, params.dt).run().spikes.t[:].copy()
    assert np.array_equal(seed1, seed1_again)
    assert not np.array_equal(seed1, seed2)
    assert np.array_equal(seed2, fresh2)


def test_a_second_simulation_of_the_same_shape_does_not_compile(tmp_path):
    base = apply_assignments(lif.LIFParams, [*SMALL, "k_conn=2"])
    changed = apply_assignments(lif.LIFParams, ["drive_max=60*mV", "w_syn=3*mV"], base=base)
    with DeviceSession("cpp_standalone", build_root=tmp_path / "cpp", progress=False) as session:
        first = lif.simulate(base, session)
        second = lif.simulate(changed, session)
        assert len(session.programs) == 1 and session.programs[0].n_builds == 1
        reshaped = lif.simulate(apply_assignments(lif.LIFParams, ["n_neurons=30"], base=base), session)
        assert len(session.programs) == 2
    with DeviceSession("runtime", progress=False) as session:
        reference = lif.simulate(changed, session)
    assert second.metrics["n_spikes"] != first.metrics["n_spikes"]
    assert np.array_equal(second.arrays["spike_i"], reference.arrays["spike_i"])
    assert len(reshaped.arrays["rate"]) == 30
