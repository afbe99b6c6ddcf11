"""Hodgkin-Huxley neurons driven by Poisson synapses (``hh-poisson``).

``n_neurons`` Hodgkin-Huxley neurons (the squid axon per membrane area, or the
Traub-Miles neuron of brian2's COBAHH example with ``neuron=traub_miles``) each
receive ``N_ex`` excitatory and ``N_in`` inhibitory Poisson trains of ``rate``;
every input spike is transmitted with probability ``p`` and moves ``v`` by
``G_ex`` (``-K*G_ex`` when inhibitory), or raises a conductance with
``synapse=cond_exp``. ``input_mode=explicit`` builds every train and draw;
``input_mode=aggregate`` draws the per-step transmitted counts. ``recurrent=true``
adds a random E/I network (:data:`COBAHH` gives brian2's COBAHH benchmark).

A spike is an upward crossing of ``v_spike``, counted again only after ``v`` fell
below ``v_rearm``. ``rate``, ``p``, ``G_ex``, ``K`` and ``I_app`` (and in aggregate
mode ``N_ex``, ``N_in``) are run_args values (:func:`sweepable`). On cpp_standalone
the rate functions use :mod:`brianlab.simd`.

The model's physics, its spike counting and integrator choices and their
validation are in ``docs/models/hh-poisson.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, NamedTuple

import brian2 as b2
import numpy as np
from brian2 import Hz, Quantity, cm, ms, msiemens, mV, second, uA, ufarad
from matplotlib.axes import Axes

from brianlab import plotting
from brianlab.devices import DeviceSession
from brianlab.model import Model, Result, RunRecord
from brianlab.params import parameters
from brianlab.recordings import SpikeTrains, Trace
from brianlab.simd import simd_function

# ----------------------------------------------------------------------------
# equations (per unit membrane area; v in volt, rates in Hz)
# ----------------------------------------------------------------------------

HH_EQS = """
dv/dt = (I_app - I_Na - I_K - I_L - I_syn) / C_m : volt  # membrane potential
I_Na = g_Na * m**3 * h * (v - E_Na) : amp/meter**2  # sodium current
I_K = g_K * n**4 * (v - E_K) : amp/meter**2  # potassium current
I_L = g_L * (v - E_L) : amp/meter**2  # leak current
dm/dt = alpha_m * (1 - m) - beta_m * m : 1  # sodium activation
dh/dt = alpha_h * (1 - h) - beta_h * h : 1  # sodium inactivation
dn/dt = alpha_n * (1 - n) - beta_n * n : 1  # potassium activation
alpha_m = 1 / exprel(-(v + 40*mV) / (10*mV)) / ms : Hz  # 0.1 (v+40) / (1 - exp(-(v+40)/10)) per ms
beta_m = 4 * exp(-(v + 65*mV) / (18*mV)) / ms : Hz
alpha_h = 0.07 * exp(-(v + 65*mV) / (20*mV)) / ms : Hz
beta_h = 1 / (1 + exp(-(v + 35*mV) / (10*mV))) / ms : Hz
alpha_n = 0.1 / exprel(-(v + 55*mV) / (10*mV)) / ms : Hz  # 0.01 (v+55) / (1 - exp(-(v+55)/10)) per ms
beta_n = 0.125 * exp(-(v + 65*mV) / (80*mV)) / ms : Hz
I_app : amp/meter**2 (constant)  # applied current
spiking : boolean  # from an upward crossing of v_spike until v falls below v_rearm
"""

#: ``neuron=traub_miles``: the Traub-Miles neuron of Brette et al. (2007), the rate
#: functions of brian2's ``examples/COBAHH.py`` verbatim (VT = -63 mV), per unit area.
TRAUB_MILES_EQS = """
dv/dt = (I_app - I_Na - I_K - I_L - I_syn) / C_m : volt  # membrane potential
I_Na = g_Na * m**3 * h * (v - E_Na) : amp/meter**2  # sodium current
I_K = g_K * n**4 * (v - E_K) : amp/meter**2  # potassium (delayed rectifier) current
I_L = g_L * (v - E_L) : amp/meter**2  # leak current
dm/dt = alpha_m * (1 - m) - beta_m * m : 1  # sodium activation
dh/dt = alpha_h * (1 - h) - beta_h * h : 1  # sodium inactivation
dn/dt = alpha_n * (1 - n) - beta_n * n : 1  # potassium activation
alpha_m = 0.32*(mV**-1)*4*mV/exprel((13*mV-v+VT)/(4*mV))/ms : Hz
beta_m = 0.28*(mV**-1)*5*mV/exprel((v-VT-40*mV)/(5*mV))/ms : Hz
alpha_h = 0.128*exp((17*mV-v+VT)/(18*mV))/ms : Hz
beta_h = 4/(1+exp((40*mV-v+VT)/(5*mV)))/ms : Hz
alpha_n = 0.032*(mV**-1)*5*mV/exprel((15*mV-v+VT)/(5*mV))/ms : Hz
beta_n = .5*exp((10*mV-v+VT)/(40*mV))/ms : Hz
I_app : amp/meter**2 (constant)  # applied current
spiking : boolean  # from an upward crossing of v_spike until v falls below v_rearm
"""

NEURON_EQS = {"squid": HH_EQS, "traub_miles": TRAUB_MILES_EQS}

#: The membrane area of the COBAHH neuron: its absolute conductances divided by it are the densities here.
COBAHH_AREA = 20000 * b2.umetre**2

#: Constants of each neuron (per unit area).
NEURON_CONSTANTS = {
    "squid": {
        "C_m": 1 * ufarad / cm**2,
        "g_Na": 120 * msiemens / cm**2,
        "g_K": 36 * msiemens / cm**2,
        "g_L": 0.3 * msiemens / cm**2,
        "E_Na": 50 * mV,
        "E_K": -77 * mV,
        "E_L": -54.387 * mV,
    },
    "traub_miles": {  # COBAHH: Cm 1 uF/cm^2, gl 5e-5 S/cm^2, g_na 100 and g_kd 30 mS/cm^2 (times its area there)
        "C_m": 1 * ufarad / cm**2,
        "g_Na": 100 * msiemens / cm**2,
        "g_K": 30 * msiemens / cm**2,
        "g_L": 5e-5 * b2.siemens / cm**2,
        "E_Na": 50 * mV,
        "E_K": -90 * mV,
        "E_L": -60 * mV,
        "VT": -63 * mV,
    },
}

#: cpp_standalone: the rate functions call ``simd_exprel`` (Brian's exprel on
#: glibc's vector expm1, see :mod:`brianlab.simd`), so GCC vectorises the state update.
SIMD_EXPREL_CPP = """
static inline double simd_exprel(double x)
{
    if (fabs(x) < 1e-16)
        return 1.0;
    if (x > 717)
        return INFINITY;
    return expm1(x)/x;
}
"""


def _simd_exprel() -> b2.Function:
    """Brian's ``exprel`` with the vectorising C++ above."""
    return simd_function("simd_exprel", b2.DEFAULT_FUNCTIONS["exprel"].pyfunc, SIMD_EXPREL_CPP)


#: Delta synapses act on v directly; no synaptic current.
DELTA_EQS = """
I_syn = 0*amp/meter**2 : amp/meter**2  # (delta synapses jump v instead)
"""

COND_EQS = """
I_syn = ge * (v - E_exc) + gi * (v - E_inh) : amp/meter**2  # synaptic current
dge/dt = -ge / tau_e : siemens/meter**2  # excitatory conductance
dgi/dt = -gi / tau_i : siemens/meter**2  # inhibitory conductance
"""

#: Input constants, ``(constant, shared)`` so that a compiled network reruns with new values.
INPUT_EQS = """
rate : Hz (constant, shared)  # rate of each input train
p : 1 (constant, shared)  # transmission probability per input spike
G_ex : volt (constant, shared)  # jump of v per transmitted excitatory spike
K : 1 (constant, shared)  # inhibitory jump is -K*G_ex
n_arrived_ex : 1  # excitatory input spikes that arrived (explicit mode)
n_arrived_in : 1  # inhibitory input spikes that arrived (explicit mode)
n_transmitted_ex : 1  # transmitted excitatory input spikes
n_transmitted_in : 1  # transmitted inhibitory input spikes
"""

#: Aggregate mode: the numbers of inputs are run_args values too (they change no shape).
AGGREGATE_EQS = """
N_ex : 1 (constant, shared)  # excitatory input trains per neuron
N_in : 1 (constant, shared)  # inhibitory input trains per neuron
"""

#: Spike: an upward crossing of v_spike between two steps' integrated values, once per action potential.
THRESHOLD = "v > v_spike and not spiking"
#: After the threshold, before the synaptic jumps of the step.
TRACK_SPIKING = "spiking = v > v_spike or (spiking and v > v_rearm)"

#: Explicit mode: every input spike is transmitted with probability p.
ON_PRE_EXC = {
    "delta": "h_tr = int(rand() < p_post)\nv_post += h_tr * G_ex_post\nn_arrived_ex_post += 1\nn_transmitted_ex_post += h_tr",
    "cond_exp": "h_tr = int(rand() < p_post)\nge_post += h_tr * G_ex_post * dg_ex_per_volt\nn_arrived_ex_post += 1\nn_transmitted_ex_post += h_tr",
}
ON_PRE_INH = {
    "delta": "h_tr = int(rand() < p_post)\nv_post -= h_tr * K_post * G_ex_post\nn_arrived_in_post += 1\nn_transmitted_in_post += h_tr",
    "cond_exp": "h_tr = int(rand() < p_post)\ngi_post += h_tr * K_post * G_ex_post * dg_in_per_volt\nn_arrived_in_post += 1\nn_transmitted_in_post += h_tr",
}

#: Aggregate mode: per step, the transmitted counts drawn directly.
AGGREGATE_EXC = {
    "delta": "k_ex = poisson(N_ex * rate * p * dt)\nv += k_ex * G_ex\nn_transmitted_ex += k_ex",
    "cond_exp": "k_ex = poisson(N_ex * rate * p * dt)\nge += k_ex * G_ex * dg_ex_per_volt\nn_transmitted_ex += k_ex",
}
AGGREGATE_INH = {
    "delta": "k_in = poisson(N_in * rate * p * dt)\nv -= k_in * K * G_ex\nn_transmitted_in += k_in",
    "cond_exp": "k_in = poisson(N_in * rate * p * dt)\ngi += k_in * K * G_ex * dg_in_per_volt\nn_transmitted_in += k_in",
}

REC_ON_PRE_EXC = "ge_post += w_rec_exc"
REC_ON_PRE_INH = "gi_post += w_rec_inh"

#: The resting potential at which cond_exp charges are matched to G_ex.
V_REST = -65 * mV
#: Initial state (v, m, h, n) of the squid neuron.
INITIAL = {"v": -65 * mV, "m": 0.05, "h": 0.6, "n": 0.32}
#: Initial state of the Traub-Miles neuron: COBAHH's random one (gates at 0, as the example leaves them;
#: ge and gi are the example's absolute values divided by its area).
INITIAL_TRAUB_MILES = {"v": "E_L + (randn() * 5 - 5)*mV", "m": 0.0, "h": 0.0, "n": 0.0}
INITIAL_TRAUB_MILES_G = {"ge": "(randn() * 1.5 + 4) * 10*nS / area", "gi": "(randn() * 12 + 20) * 10*nS / area"}

#: ``--set`` assignments that make the model brian2's ``examples/COBAHH.py`` (Brette et al. 2007):
#: 4000 Traub-Miles neurons, 3200 E + 800 I, p = 0.02, 6 nS / 67 nS on 20000 um^2, no external
#: input, exponential Euler at dt = 0.1 ms, 1 s.
COBAHH = ("neuron=traub_miles", "recurrent=true", "synapse=cond_exp", "n_neurons=4000", "N_ex=0", "N_in=0",
          "I_app=0*uA/cm**2", "method=exponential_euler", "dt=0.1*ms", "duration=1*second")


#: ``--set`` assignments that give the seed notebook's input strength
#: (``shared/reference/hh_poisson_numpy_loop.txt``): its forward-Euler step adds ``G_ex*count``
#: (G_ex = 1 in uA/cm^2 on C_m = 1 uF/cm^2) to dV/dt for one step, so a transmitted spike moves v
#: by dt*G_ex = 0.01 mV. Everything else is already the notebook's (80+20 trains at 10 Hz, p = 0.5,
#: K = 4, I_app = 3 uA/cm^2, dt = 0.01 ms, 300 ms) except the integrator (rk2, not forward Euler).
NOTEBOOK_SEED = ("G_ex=0.01*mV",)


@parameters
class HHPoissonParams:
    """Parameters of the ``hh-poisson`` model."""

    neuron: Literal["squid", "traub_miles"] = "squid"  # squid axon at -65 mV, or COBAHH's Traub-Miles neuron
    n_neurons: int = 1  # population size
    N_ex: int = 80  # excitatory input trains per neuron
    N_in: int = 20  # inhibitory input trains per neuron
    rate: Quantity = 10 * Hz  # rate of each input train
    p: float = 0.5  # transmission probability per input spike
    G_ex: Quantity = 1 * mV  # jump of v per transmitted excitatory spike
    K: float = 4.0  # an inhibitory spike makes v jump by -K*G_ex
    I_app: Quantity = 3 * uA / cm**2  # applied current
    input_mode: Literal["explicit", "aggregate"] = "explicit"  # explicit trains and draws, or per-step transmitted counts
    shared_inputs: bool = False  # every neuron receives the same input trains (own transmission draws; explicit only)
    synapse: Literal["delta", "cond_exp"] = "delta"  # voltage jumps, or exponential conductances
    E_exc: Quantity = 0 * mV  # excitatory reversal potential (cond_exp, recurrent)
    E_inh: Quantity = -80 * mV  # inhibitory reversal potential (cond_exp, recurrent)
    tau_e: Quantity = 5 * ms  # excitatory conductance time constant
    tau_i: Quantity = 10 * ms  # inhibitory conductance time constant
    recurrent: bool = False  # connect the population into a random E/I network (as COBAHH)
    p_connect: float = 0.02  # recurrent connection probability
    w_rec_exc: Quantity = 0.03 * msiemens / cm**2  # recurrent excitatory conductance jump (6 nS / 20000 um^2)
    w_rec_inh: Quantity = 0.335 * msiemens / cm**2  # recurrent inhibitory conductance jump (67 nS / 20000 um^2)
    v_spike: Quantity = -20 * mV  # a spike is an upward crossing of this
    v_rearm: Quantity = -40 * mV  # after a spike, v must fall below this before the next one counts
    method: Literal["rk2", "rk4", "exponential_euler"] = "rk2"  # integrator (rk2: within 1 dt of SciPy; see docs)
    n_record: int = 3  # neurons whose state (and explicit inputs) are recorded
    duration: Quantity = 300 * ms  # simulated time
    dt: Quantity = 0.01 * ms  # integration time step

    def __post_init__(self) -> None:
        if self.n_neurons < 1:
            raise ValueError("n_neurons must be at least 1")
        if self.N_ex < 0 or self.N_in < 0 or self.n_record < 0:
            raise ValueError("N_ex, N_in and n_record cannot be negative")
        if not 0 <= self.p <= 1 or not 0 <= self.p_connect <= 1:
            raise ValueError("p and p_connect are probabilities (0..1)")
        if self.rate < 0 * Hz or self.K < 0:
            raise ValueError("rate and K cannot be negative")
        if self.dt <= 0 * ms or self.duration <= 0 * ms:
            raise ValueError("dt and duration must be positive")
        if self.tau_e <= 0 * ms or self.tau_i <= 0 * ms:
            raise ValueError("tau_e and tau_i must be positive")
        if self.shared_inputs and self.input_mode == "aggregate":
            raise ValueError(
                "shared_inputs=true needs input_mode=explicit: shared trains with independent "
                "transmission draws per synapse have no per-step count to draw directly"
            )
        if self.synapse == "cond_exp" and not (self.E_exc > V_REST > self.E_inh):
            raise ValueError("cond_exp needs E_exc above and E_inh below the resting potential (-65 mV)")
        if not self.v_rearm < self.v_spike:
            raise ValueError("v_rearm must be below v_spike")
        if self.recurrent and self.n_neurons < 2:
            raise ValueError("recurrent=true needs n_neurons of at least 2")

    @property
    def conductances(self) -> bool:
        """Whether the neurons have synaptic conductances (cond_exp inputs or recurrence)."""
        return self.synapse == "cond_exp" or self.recurrent

    @property
    def n_exc(self) -> int:
        """Excitatory neurons of a recurrent network (the first 80%)."""
        return int(round(0.8 * self.n_neurons))


class HHPoissonMonitors(NamedTuple):
    """The monitors of a built ``hh-poisson`` network (input monitors are None in aggregate mode)."""

    neurons: b2.NeuronGroup
    spikes: b2.SpikeMonitor
    state: b2.StateMonitor
    input_spikes_exc: b2.SpikeMonitor | None
    input_spikes_inh: b2.SpikeMonitor | None


def recorded_indices(params: HHPoissonParams) -> np.ndarray:
    """The neurons whose state is recorded (the first ``n_record``)."""
    return np.arange(min(params.n_record, params.n_neurons))


def n_sources(params: HHPoissonParams, n_per: int) -> int:
    """Poisson sources of one kind (``n_per`` per neuron): shared by all neurons, or each neuron's own."""
    return n_per if params.shared_inputs else n_per * params.n_neurons


def charge_factors(params: HHPoissonParams) -> tuple[Quantity, Quantity]:
    """Conductance jump per volt of ``G_ex`` so that a spike's charge at rest moves v by G_ex.

    A conductance step g decaying with tau moves v, at rest, by
    g * tau * |E - V_REST| / C_m; solved for g per volt of jump.
    """
    c_m = 1 * ufarad / cm**2
    return (
        c_m / (params.tau_e * (params.E_exc - V_REST)),
        c_m / (params.tau_i * (V_REST - params.E_inh)),
    )


def namespace(params: HHPoissonParams) -> dict[str, Any]:
    """Constants of the equations (everything not set through run_args)."""
    dg_ex, dg_in = charge_factors(params)
    return {
        **NEURON_CONSTANTS[params.neuron],
        "area": COBAHH_AREA,
        "E_exc": params.E_exc,
        "E_inh": params.E_inh,
        "tau_e": params.tau_e,
        "tau_i": params.tau_i,
        "v_spike": params.v_spike,
        "v_rearm": params.v_rearm,
        "dg_ex_per_volt": dg_ex,
        "dg_in_per_volt": dg_in,
        "w_rec_exc": params.w_rec_exc,
        "w_rec_inh": params.w_rec_inh,
    }


def initial_state(params: HHPoissonParams) -> dict[str, Quantity | float | str]:
    """Initial values (quantities, or expressions in the namespace) of the neuron's state variables."""
    if params.neuron == "squid":
        return dict(INITIAL)
    return {**INITIAL_TRAUB_MILES, **(INITIAL_TRAUB_MILES_G if params.conductances else {})}


def neuron_equations(params: HHPoissonParams, simd: bool = False) -> b2.Equations:
    """The neuron equations for ``params.synapse`` and ``params.recurrent`` (``simd``: see :func:`build`)."""
    eqs = NEURON_EQS[params.neuron]
    eqs = eqs.replace("exprel(", "simd_exprel(") if simd else eqs
    eqs += (COND_EQS if params.conductances else DELTA_EQS) + INPUT_EQS
    return b2.Equations(eqs + (AGGREGATE_EQS if params.input_mode == "aggregate" else ""))


def build(params: HHPoissonParams, simd: bool = False) -> tuple[b2.Network, HHPoissonMonitors]:
    """Build the ``hh-poisson`` network (on the default clock; see :class:`~brianlab.simulation.Program`).

    Parameters
    ----------
    params : HHPoissonParams
    simd : bool
        Use ``simd_exprel`` (:data:`SIMD_EXPREL_CPP`) so that GCC vectorises the
        state update; only for ``cpp_standalone`` (it has no Cython or CUDA code).

    Returns
    -------
    network : brian2.Network
    monitors : HHPoissonMonitors
    """
    ns = namespace(params)
    if simd:
        ns["simd_exprel"] = _simd_exprel()
    neurons = b2.NeuronGroup(
        params.n_neurons,
        neuron_equations(params, simd),
        threshold=THRESHOLD,
        reset="",  # the spike leaves v alone: HH makes its own
        method=params.method,
        namespace=ns,
        name="neurons",
    )
    for name, value in initial_state(params).items():
        setattr(neurons, name, value)
    neurons.spiking = False
    neurons.run_regularly(TRACK_SPIKING, when="thresholds", order=1, name="neurons_spiking")
    for name, value in shared_values(params).items():
        setattr(neurons, name, value)
    neurons.I_app = params.I_app
    objects = [neurons]
    input_monitors = [None, None]
    record = recorded_indices(params)
    explicit = ()
    if params.input_mode == "aggregate":  # one pass for both kinds, also for 0 inputs (no shape change)
        neurons.run_regularly(AGGREGATE_EXC[params.synapse] + "\n" + AGGREGATE_INH[params.synapse], when="synapses", name="input_counts")
    else:
        explicit = (("exc", params.N_ex, ON_PRE_EXC), ("inh", params.N_in, ON_PRE_INH))
    for k, (kind, n_per, on_pre) in enumerate(explicit):
        if n_per == 0:
            continue
        sources = b2.PoissonGroup(n_sources(params, n_per), rates=params.rate, name=f"inputs_{kind}")
        synapses = b2.Synapses(sources, neurons, on_pre=on_pre[params.synapse], namespace=ns, name=f"syn_{kind}")
        if params.shared_inputs:
            synapses.connect(True)
        else:
            synapses.connect(j="i // n_per", namespace={"n_per": n_per})
        objects += [sources, synapses]
        if len(record):
            shown = sources if params.shared_inputs else sources[: len(record) * n_per]
            input_monitors[k] = b2.SpikeMonitor(shown, name=f"input_spikes_{kind}")
            objects.append(input_monitors[k])
    if params.recurrent:
        n_exc = params.n_exc
        for kind, pre, on_pre in (
            ("exc", neurons[:n_exc], REC_ON_PRE_EXC),
            ("inh", neurons[n_exc:], REC_ON_PRE_INH),
        ):
            if len(pre) == 0:
                continue
            rec = b2.Synapses(pre, neurons, on_pre=on_pre, namespace=ns, name=f"rec_{kind}")
            rec.connect(p=params.p_connect)
            objects.append(rec)
    variables = ["v", "m", "h", "n"] + (["ge", "gi"] if params.conductances else [])
    spikes = b2.SpikeMonitor(neurons, name="spikes")
    state = b2.StateMonitor(neurons, variables, record=record, name="state")
    network = b2.Network(*objects, spikes, state, name="hh_poisson")
    return network, HHPoissonMonitors(neurons, spikes, state, *input_monitors)


#: Parameters that reach a compiled network as run_args values (no rebuild).
SWEEPABLE = ("rate", "p", "G_ex", "K", "I_app")


#: In aggregate mode the numbers of inputs are run_args values as well.
SWEEPABLE_AGGREGATE = SWEEPABLE + ("N_ex", "N_in")


def shared_values(params: HHPoissonParams) -> dict[str, Quantity | float]:
    """The ``(constant, shared)`` input constants of the neurons."""
    values = {"rate": params.rate, "p": params.p, "G_ex": params.G_ex, "K": params.K}
    if params.input_mode == "aggregate":
        values.update(N_ex=float(params.N_ex), N_in=float(params.N_in))
    return values


def run_values(params: HHPoissonParams, I_app: Quantity | None = None) -> dict[str, Quantity | float]:
    """The run_args values that carry the :data:`SWEEPABLE` parameters.

    ``I_app`` (a current density per neuron) overrides ``params.I_app``.
    """
    values = {f"neurons.{name}": value for name, value in shared_values(params).items()}
    currents = params.I_app if I_app is None else I_app
    values["neurons.I_app"] = np.broadcast_to(np.asarray(currents), (params.n_neurons,)) * (b2.amp / b2.meter**2)
    if params.input_mode == "explicit":
        for kind, n_per in (("exc", params.N_ex), ("inh", params.N_in)):
            if n_per:
                values[f"inputs_{kind}.rates"] = np.full(n_sources(params, n_per), float(params.rate)) * Hz
    return values


def sweepable(params: HHPoissonParams) -> tuple[str, ...]:
    """The run_args parameters of ``params``' network: :data:`SWEEPABLE_AGGREGATE` in aggregate mode."""
    return SWEEPABLE_AGGREGATE if params.input_mode == "aggregate" else SWEEPABLE


def program_key(params: HHPoissonParams) -> tuple:
    """The network's shape: every parameter that is not a run_args value."""
    return MODEL.program_key(params)


def simulate(params: HHPoissonParams, session: DeviceSession, previous: RunRecord | None = None) -> Result:
    """Run the ``hh-poisson`` model on ``session``'s device and collect its results."""
    return simulate_currents(params, session, None)


def simulate_currents(params: HHPoissonParams, session: DeviceSession, I_app: Quantity | None = None) -> Result:
    """As :func:`simulate`, with a current density per neuron instead of ``params.I_app``.

    Tests use it to run several currents in one compiled network (``I_app`` is a
    run_args value).
    """
    program = MODEL.program(session, params, tag="hh_poisson", simd=session.simd)
    mon = program.run(run_values(params, I_app))
    return collect(params, mon)


def collect(params: HHPoissonParams, mon: HHPoissonMonitors) -> Result:
    """Metrics and arrays of a finished run (read before the program runs again)."""
    duration = float(params.duration)
    counts = np.asarray(mon.spikes.count[:])
    rates = counts / duration
    neurons = mon.neurons
    transmitted_ex = np.asarray(neurons.n_transmitted_ex[:])
    transmitted_in = np.asarray(neurons.n_transmitted_in[:])
    expected_ex = params.n_neurons * params.N_ex * float(params.rate) * params.p * duration
    expected_in = params.n_neurons * params.N_in * float(params.rate) * params.p * duration
    metrics = {
        "n_spikes": int(counts.sum()),
        "mean_rate": float(rates.mean()),
        "sd_rate": float(rates.std()),
        "active_fraction": float(np.mean(counts > 0)),
        "n_transmitted_ex": int(transmitted_ex.sum()),
        "n_transmitted_in": int(transmitted_in.sum()),
        "expected_transmitted_ex": expected_ex,
        "expected_transmitted_in": expected_in,
    }
    arrays = {
        "spike_i": np.asarray(mon.spikes.i[:]),
        "spike_t": np.asarray(mon.spikes.t[:] / second),
        "rate": rates,
        "transmitted_ex": transmitted_ex,
        "transmitted_in": transmitted_in,
        "record_index": recorded_indices(params),
        "state_t": np.asarray(mon.state.t[:] / second),
        "v": np.asarray(mon.state.v[:] / b2.volt),
        "m": np.asarray(mon.state.m[:]),
        "h": np.asarray(mon.state.h[:]),
        "n": np.asarray(mon.state.n[:]),
    }
    if params.conductances:
        arrays["ge"] = np.asarray(mon.state.ge[:] / (b2.siemens / b2.meter**2))
        arrays["gi"] = np.asarray(mon.state.gi[:] / (b2.siemens / b2.meter**2))
    if params.input_mode == "explicit":
        arrived_ex = np.asarray(neurons.n_arrived_ex[:])
        arrived_in = np.asarray(neurons.n_arrived_in[:])
        metrics["n_arrived_ex"] = int(arrived_ex.sum())
        metrics["n_arrived_in"] = int(arrived_in.sum())
        arrays["arrived_ex"] = arrived_ex
        arrays["arrived_in"] = arrived_in
        for kind, monitor, _n_per in (("exc", mon.input_spikes_exc, params.N_ex),
                                     ("inh", mon.input_spikes_inh, params.N_in)):
            if monitor is not None:
                arrays[f"input_{kind}_i"] = np.asarray(monitor.i[:])
                arrays[f"input_{kind}_t"] = np.asarray(monitor.t[:] / second)
    return Result(metrics=metrics, arrays=arrays)


def recordings(params, arrays):
    """The spike and state monitors, as arrays of ``data.npz`` (see :mod:`brianlab.recordings`)."""
    out = [SpikeTrains("neurons", times="spike_t", indices="spike_i", n_neurons=params.n_neurons,
                       description="every spike (one per action potential) of the population")]
    units = {"v": ("V", "membrane potential"), "m": ("1", "Na activation"), "h": ("1", "Na inactivation"),
             "n": ("1", "K activation"), "ge": ("S/m^2", "excitatory conductance density"),
             "gi": ("S/m^2", "inhibitory conductance density")}
    for name, (unit, what) in units.items():
        if name in arrays:
            out.append(Trace(name, "neurons", data=name, times="state_t", unit=unit, indices="record_index",
                             description=what))
    for kind, n_per in (("exc", params.N_ex), ("inh", params.N_in)):
        if f"input_{kind}_t" in arrays:
            n = n_sources(params, n_per)
            shown = n if params.shared_inputs else min(n, len(arrays["record_index"]) * n_per)
            out.append(SpikeTrains(f"inputs_{kind}", times=f"input_{kind}_t", indices=f"input_{kind}_i",
                                   n_neurons=n, covered=range(shown),
                                   description=f"Poisson {kind} input spikes (sources of the recorded neurons)"))
    return tuple(out)


# ----------------------------------------------------------------------------
# figures
# ----------------------------------------------------------------------------

def currents(data: Mapping[str, np.ndarray], k: int = 0, neuron: str = "squid") -> dict[str, np.ndarray]:
    """Ionic currents (uA/cm^2) of recorded neuron ``k`` of a ``neuron`` model from its saved state."""
    c = NEURON_CONSTANTS[neuron]
    g = {ion: float(c[f"g_{ion}"] / (msiemens / cm**2)) for ion in ("Na", "K", "L")}
    e = {ion: float(c[f"E_{ion}"] / mV) for ion in ("Na", "K", "L")}
    v = data["v"][k] * 1e3
    m, h, n = data["m"][k], data["h"][k], data["n"][k]
    return {
        "I_Na": g["Na"] * m**3 * h * (v - e["Na"]),
        "I_K": g["K"] * n**4 * (v - e["K"]),
        "I_L": g["L"] * (v - e["L"]),
    }


def plot_voltage_inputs(record: RunRecord, axes: np.ndarray | None = None) -> np.ndarray:
    """Membrane potential of the first recorded neuron over its input raster (explicit mode)."""
    data = record.arrays
    params = record.params
    axes = plotting.new_axes(axes, figsize=(8.0, 5.0), nrows=2, sharex=True, height_ratios=[2, 1])
    ax_v, ax_in = axes
    t_ms = data["state_t"] * 1e3
    if len(data["record_index"]):
        ax_v.plot(t_ms, data["v"][0] * 1e3, lw=0.8, color="k")
        mine = data["spike_i"] == 0
        ax_v.plot(data["spike_t"][mine] * 1e3, np.full(mine.sum(), 40.0), "v", color="C3", ms=4, label="spike")
    ax_v.axhline(float(params.v_spike) * 1e3, color="0.6", lw=0.6, ls="--")
    ax_v.set_ylabel("v (mV), neuron 0")
    kind = "Traub-Miles" if params.neuron == "traub_miles" else "HH"
    network = ", recurrent network" if params.recurrent else ""
    ax_v.set_title(f"{kind} neuron with {params.N_ex}+{params.N_in} Poisson inputs, p={params.p:g}{network} "
                   f"({params.input_mode}, {record.config['device']})")
    shown = False
    for kind, color, n_per, offset in (("exc", "C0", params.N_ex, 0), ("inh", "C3", params.N_in, params.N_ex)):
        key = f"input_{kind}_i"
        if key in data:
            first = data[key] < n_per  # inputs of neuron 0 (or the shared ones)
            plotting.raster(data[f"input_{kind}_t"][first] * 1e3, data[key][first] + offset, ax=ax_in, color=color,
                            label=kind)
            shown = True
    if not shown:
        no_input = params.N_ex == 0 and params.N_in == 0
        ax_in.text(0.5, 0.5, "no Poisson input" if no_input else
                   "aggregate mode: transmitted counts drawn per step, no input trains exist",
                   ha="center", va="center", transform=ax_in.transAxes, fontsize="small")
    ax_in.set_ylabel("input")
    ax_in.set_xlabel("time (ms)")
    return axes


def plot_rate_histogram(record: RunRecord, ax: Axes | None = None) -> Axes:
    """Histogram of the output rates of the population."""
    ax = plotting.new_axes(ax)
    rates = record.arrays["rate"]
    duration = float(record.params.duration)
    counts = np.rint(rates * duration).astype(int)
    step = max(1, int(np.ceil((counts.max() - counts.min() + 1) / 40)))  # whole spike counts per bin
    edges = (np.arange(counts.min(), counts.max() + step + 1, step) - 0.5) / duration
    ax.hist(rates, bins=edges, color="C0")
    ax.axvline(rates.mean(), color="k", lw=1, label=f"mean {rates.mean():.2f} Hz")
    ax.set_xlabel("output rate (Hz)")
    ax.set_ylabel("neurons")
    ax.set_title(f"output rates of {len(rates)} neurons ({record.params.input_mode})")
    ax.legend(frameon=False)
    return ax


def plot_network_raster(record: RunRecord, ax: Axes | None = None) -> Axes:
    """Raster of a recurrent network, at most ~200 neurons shown (excitatory below the line, inhibitory above)."""
    ax = plotting.new_axes(ax, figsize=(8.0, 5.0))
    data, params = record.arrays, record.params
    every = max(1, params.n_neurons // 200)
    shown = data["spike_i"] % every == 0
    i, t_ms = data["spike_i"][shown], data["spike_t"][shown] * 1e3
    exc = i < params.n_exc
    plotting.raster(t_ms[exc], i[exc], ax=ax, color="C0")
    plotting.raster(t_ms[~exc], i[~exc], ax=ax, color="C3")
    ax.axhline(params.n_exc - 0.5, color="0.5", lw=0.6)
    if every > 1:
        ax.set_ylabel(f"neuron index (every {every}th)")
    rate = float(np.mean(data["rate"]))
    ax.set_title(f"{params.n_exc} E + {params.n_neurons - params.n_exc} I, p_connect={params.p_connect:g}, "
                 f"{params.neuron}: mean {rate:.1f} Hz")
    return ax


def plot_gating_currents(record: RunRecord, axes: np.ndarray | None = None) -> np.ndarray:
    """Gating variables and ionic currents of the first recorded neuron."""
    data = record.arrays
    axes = plotting.new_axes(axes, figsize=(8.0, 5.0), nrows=2, sharex=True)
    t_ms = data["state_t"] * 1e3
    for name in ("m", "h", "n"):
        axes[0].plot(t_ms, data[name][0], lw=0.8, label=name)
    axes[0].set_ylabel("gating")
    axes[0].legend(frameon=False, fontsize="small", loc="upper right")
    axes[0].set_title("neuron 0: gating variables and currents")
    for name, current in currents(data, neuron=record.params.neuron).items():
        axes[1].plot(t_ms, current, lw=0.8, label=name)
    axes[1].set_ylabel("current (uA/cm$^2$)")
    axes[1].set_xlabel("time (ms)")
    axes[1].legend(frameon=False, fontsize="small", loc="upper right")
    return axes


def figures(record: RunRecord, out_dir: Path) -> list[Path]:
    """Voltage with input raster and gating/currents (if a neuron is recorded); rate histogram (populations); network raster (recurrent)."""
    paths = []
    if len(record.arrays["record_index"]):
        paths.append(plotting.save(plot_voltage_inputs(record), out_dir / "voltage_inputs.png"))
        paths.append(plotting.save(plot_gating_currents(record), out_dir / "gating_currents.png"))
    if record.params.n_neurons > 1:
        paths.append(plotting.save(plot_rate_histogram(record), out_dir / "rate_histogram.png"))
    if record.params.recurrent:
        paths.append(plotting.save(plot_network_raster(record), out_dir / "raster.png"))
    return paths


MODEL = Model(
    name="hh-poisson",
    summary="Hodgkin-Huxley neurons driven by Poisson synapses (explicit trains or per-step counts), fast at 5000+ inputs",
    params=HHPoissonParams,
    simulate=simulate,
    figures=figures,
    sweepable=sweepable,
    build=build,
    run_values=run_values,
    tiny={"n_neurons": "3", "duration": "50*ms"},
    recordings=recordings,
    presets={"seed": NOTEBOOK_SEED, "cobahh": COBAHH},
)
