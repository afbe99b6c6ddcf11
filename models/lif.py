"""Leaky integrate-and-fire population driven by a ramp of constant inputs (``lif``).

The smallest honest model of the suite, used to prove the pipeline and the
device switch: ``n_neurons`` LIF neurons receive constant drives ``R*I`` spread
evenly from ``drive_min`` to ``drive_max``, optionally coupled to their
``k_conn`` nearest neighbours by delayed excitatory synapses and optionally
noisy. Without coupling and noise the firing rate of each neuron has a closed
form (the f-I curve of the LIF neuron, e.g. Gerstner et al., *Neuronal
Dynamics*, ch. 1.3),

    f(RI) = 1 / (t_ref + tau_m * ln((RI + E_L - v_reset) / (RI + E_L - v_thresh)))

for ``E_L + RI > v_thresh``, and the run reports how far the simulation is from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import brian2 as b2
import numpy as np
from brian2 import Hz, Quantity, ms, mV, second
from matplotlib.axes import Axes

from brianlab import plotting
from brianlab.devices import DeviceSession
from brianlab.model import Model, Result, RunRecord
from brianlab.params import parameters
from brianlab.recordings import SpikeTrains, Trace

LIF_EQS = """
dv/dt = (E_L - v + drive) / tau_m : volt (unless refractory)
drive : volt (constant)  # R*I, the constant input of each neuron
"""

LIF_NOISE_EQS = """
dv/dt = (E_L - v + drive) / tau_m + sigma * sqrt(2 / tau_m) * xi : volt (unless refractory)
drive : volt (constant)  # R*I, the constant input of each neuron
"""

SYN_EQS = "w : volt (constant)  # jump of the postsynaptic potential"
SYN_ON_PRE = "v_post += w"


@parameters
class LIFParams:
    """Parameters of the ``lif`` model."""

    n_neurons: int = 100  # population size
    tau_m: Quantity = 10 * ms  # membrane time constant
    E_L: Quantity = -70 * mV  # resting potential
    v_thresh: Quantity = -50 * mV  # spike threshold
    v_reset: Quantity = -70 * mV  # reset potential
    t_ref: Quantity = 2 * ms  # absolute refractory period
    drive_min: Quantity = 10 * mV  # drive R*I of neuron 0
    drive_max: Quantity = 40 * mV  # drive R*I of the last neuron
    sigma: Quantity = 0 * mV  # membrane noise amplitude (0: deterministic)
    k_conn: int = 0  # each neuron excites its k_conn nearest neighbours on each side
    w_syn: Quantity = 0.5 * mV  # synaptic jump of those connections
    delay: Quantity = 1 * ms  # synaptic delay
    n_record: int = 5  # neurons whose membrane potential is recorded
    duration: Quantity = 1 * second  # simulated time
    dt: Quantity = 0.1 * ms  # integration time step

    def __post_init__(self) -> None:
        if self.n_neurons < 1:
            raise ValueError("n_neurons must be at least 1")
        if not self.v_reset < self.v_thresh:
            raise ValueError("v_reset must be below v_thresh")
        if self.dt <= 0 * ms or self.duration <= 0 * ms:
            raise ValueError("dt and duration must be positive")
        if self.k_conn < 0 or self.n_record < 0:
            raise ValueError("k_conn and n_record cannot be negative")


class LIFMonitors(NamedTuple):
    """The monitors of a built ``lif`` network."""

    spikes: b2.SpikeMonitor
    voltage: b2.StateMonitor


def recorded_indices(params: LIFParams) -> np.ndarray:
    """Indices of the neurons whose voltage is recorded, spread over the ramp."""
    n = min(params.n_record, params.n_neurons)
    return np.unique(np.linspace(0, params.n_neurons - 1, n).round().astype(int)) if n else np.array([], int)


def drives(params: LIFParams) -> Quantity:
    """The drive R*I of every neuron (volt)."""
    return np.linspace(float(params.drive_min), float(params.drive_max), params.n_neurons) * b2.volt


def analytic_rate(params: LIFParams, drive: Quantity) -> Quantity:
    """Firing rate of an uncoupled, noiseless LIF neuron with constant ``drive`` (Hz array)."""
    drive = np.asarray(drive / b2.volt)
    E_L, v_th, v_r = float(params.E_L), float(params.v_thresh), float(params.v_reset)
    rate = np.zeros_like(drive, dtype=float)
    fires = E_L + drive > v_th
    isi = float(params.t_ref) + float(params.tau_m) * np.log(
        (drive[fires] + E_L - v_r) / (drive[fires] + E_L - v_th)
    )
    rate[fires] = 1.0 / isi
    return rate * Hz


def mean_isi(spike_i: np.ndarray, spike_t: np.ndarray, n_neurons: int) -> np.ndarray:
    """Mean inter-spike interval of each neuron (s); NaN with fewer than two spikes."""
    isi = np.full(n_neurons, np.nan)
    order = np.lexsort((spike_t, spike_i))
    spike_i, spike_t = spike_i[order], spike_t[order]
    for k in np.unique(spike_i):
        times = spike_t[spike_i == k]
        if len(times) > 1:
            isi[k] = np.mean(np.diff(times))
    return isi


def build(params: LIFParams) -> tuple[b2.Network, LIFMonitors]:
    """Build the ``lif`` network (on the default clock; see :class:`~brianlab.simulation.Program`).

    Returns
    -------
    network : brian2.Network
    monitors : LIFMonitors
    """
    namespace = {
        "tau_m": params.tau_m,
        "E_L": params.E_L,
        "sigma": params.sigma,
    }
    noisy = params.sigma != 0 * mV
    neurons = b2.NeuronGroup(
        params.n_neurons,
        LIF_NOISE_EQS if noisy else LIF_EQS,
        threshold="v > v_thresh",
        reset="v = v_reset",
        refractory=params.t_ref,
        method="euler" if noisy else "exact",
        namespace={**namespace, "v_thresh": params.v_thresh, "v_reset": params.v_reset},
        name="neurons",
    )
    neurons.v = params.E_L
    neurons.drive = drives(params)
    spikes = b2.SpikeMonitor(neurons, name="spikes")
    voltage = b2.StateMonitor(neurons, "v", record=recorded_indices(params), name="voltage")
    network = b2.Network(neurons, spikes, voltage, name="lif")
    if params.k_conn > 0:  # an unconnected Synapses object is an error in runtime mode
        synapses = b2.Synapses(
            neurons, neurons, SYN_EQS, on_pre=SYN_ON_PRE, delay=params.delay, name="syn_exc"
        )
        synapses.connect(condition="i != j and abs(i - j) <= k_conn", namespace={"k_conn": params.k_conn})
        synapses.w = params.w_syn
        network.add(synapses)
    return network, LIFMonitors(spikes, voltage)


#: Parameters that reach a compiled network as run_args values (no rebuild).
SWEEPABLE = ("drive_min", "drive_max", "w_syn")


def run_values(params: LIFParams) -> dict[str, Quantity]:
    """The run_args values that carry the :data:`SWEEPABLE` parameters."""
    values = {"neurons.drive": drives(params)}
    if params.k_conn > 0:
        values["syn_exc.w"] = params.w_syn
    return values


def simulate(params: LIFParams, session: DeviceSession, previous: RunRecord | None = None) -> Result:
    """Run the ``lif`` model on ``session``'s device and collect its results."""
    program = MODEL.program(session, params)
    monitors = program.run(run_values(params))
    duration = float(params.duration)
    counts = np.asarray(monitors.spikes.count[:])
    rates = counts / duration
    expected = np.asarray(analytic_rate(params, drives(params)))
    metrics = {
        "n_spikes": int(counts.sum()),
        "mean_rate": float(rates.mean()),
        "active_fraction": float(np.mean(counts > 0)),
    }
    spike_i = np.asarray(monitors.spikes.i[:])
    spike_t = np.asarray(monitors.spikes.t[:] / second)
    if params.sigma == 0 * mV and params.k_conn == 0:
        # Spikes fall on the time grid, so a simulated interval is the analytic one
        # rounded up to a multiple of dt: the difference is below one dt.
        isi = mean_isi(spike_i, spike_t, params.n_neurons)
        valid = np.isfinite(isi) & (expected > 0)
        error = np.abs(isi[valid] - 1.0 / expected[valid]) / float(params.dt)
        metrics["max_isi_error_dt"] = float(error.max()) if valid.any() else 0.0
    arrays = {
        "spike_i": spike_i,
        "spike_t": spike_t,
        "rate": rates,
        "rate_analytic": expected,
        "drive": np.asarray(drives(params) / b2.volt),
        "v_index": recorded_indices(params),
        "v_t": np.asarray(monitors.voltage.t[:] / second),
        "v": np.asarray(monitors.voltage.v[:] / b2.volt),
    }
    return Result(metrics=metrics, arrays=arrays)


def recordings(params, arrays):
    """The spike monitor and the voltage monitor, as arrays of ``data.npz`` (see :mod:`brianlab.recordings`)."""
    return (
        SpikeTrains("neurons", times="spike_t", indices="spike_i", n_neurons=params.n_neurons,
                    description="every spike of the population"),
        Trace("v", "neurons", data="v", times="v_t", unit="V", indices="v_index", description="membrane potential"),
    )


def plot_fi_curve(record: RunRecord, ax: Axes | None = None) -> Axes:
    """Simulated rate of each neuron against its drive, with the analytic f-I curve."""
    ax = plotting.new_axes(ax)
    data = record.arrays
    ax.plot(data["drive"] * 1e3, data["rate_analytic"], "-", color="0.6", lw=3, label="analytic (uncoupled, noiseless)")
    ax.plot(data["drive"] * 1e3, data["rate"], ".", color="C0", label="simulated")
    ax.set_xlabel("drive R*I (mV)")
    ax.set_ylabel("firing rate (Hz)")
    ax.set_title(f"LIF f-I curve ({record.config['device']})")
    ax.legend(frameon=False)
    return ax


def plot_raster(record: RunRecord, ax: Axes | None = None) -> Axes:
    """Spike raster of the whole population."""
    data = record.arrays
    ax = plotting.raster(data["spike_t"] * 1e3, data["spike_i"], ax=ax)
    ax.set_title("spikes (neurons sorted by drive)")
    return ax


def plot_voltage(record: RunRecord, ax: Axes | None = None) -> Axes:
    """Membrane potential of the recorded neurons."""
    data = record.arrays
    labels = [f"neuron {i}" for i in data["v_index"]]
    return plotting.traces(data["v_t"] * 1e3, data["v"] * 1e3, ax=ax, ylabel="v (mV)", labels=labels)


def figures(record: RunRecord, out_dir: Path) -> list[Path]:
    """Write the f-I curve, the raster and the voltage traces into ``out_dir``."""
    return [
        plotting.save(plot_fi_curve(record), out_dir / "fi_curve.png"),
        plotting.save(plot_raster(record), out_dir / "raster.png"),
        plotting.save(plot_voltage(record), out_dir / "voltage.png"),
    ]


MODEL = Model(
    name="lif",
    summary="LIF population on a ramp of constant drives: f-I curve against its closed form (pipeline example)",
    params=LIFParams,
    simulate=simulate,
    figures=figures,
    sweepable=SWEEPABLE,
    build=build,
    run_values=run_values,
    tiny={"n_neurons": "10", "duration": "100*ms"},
    recordings=recordings,
)
