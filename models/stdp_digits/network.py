"""Equations and network construction of ``stdp-digits`` (one compiled program per network shape).

The network simulates ``params.chunk`` samples; each sample is an image slot of
:data:`SLOT` followed by a silent slot. The image schedule (``stimulus``), the
teacher (``teacher``) and the plasticity switch (``plasticity``) are
TimedArrays, so every phase runs the same program with new ``run_args``.
"""

from __future__ import annotations

from typing import NamedTuple

import brian2 as b2
import numpy as np
from brian2 import Hz, ms

# ----------------------------------------------------------------------------
# equations (every quantity but time and rate is dimensionless, as in the notebook)
# ----------------------------------------------------------------------------

INPUT_EQS = """
rates = stimulus(t, i) : Hz  # Poisson rate of this pixel in the current slot
da/dt = -a/alpha : 1  # fast activity trace
dtheta/dt = -theta/beta : 1  # slow activity trace
diff = a - theta_gain*theta : 1  # recent activity above (a share of) its slow average
theta_gain : 1 (constant, shared)  # share of the slow trace subtracted (0: Hebbian)
"""
#: Trace increments at a spike (``trace_inc``: 1, the notebook's 1*ms/alpha = 0.1).
#: ``theta`` grows by alpha/beta as much, so that both traces have the same mean
#: for a steady rate and ``diff`` measures a change of rate.
TRACE_RESET = "a += trace_inc; theta += trace_inc*alpha/beta"

OUTPUT_EQS = """
dv/dt = (-v + I)/tau : 1 (unless refractory)  # membrane potential
I = I_inp + I_neg + I_teacher : 1  # total input current
dI_inp/dt = -I_inp/tau_I : 1  # excitatory current from the pixels
dI_neg/dt = -I_neg/tau_I : 1  # inhibitory current from the other outputs
I_teacher = teacher(t, i) : 1  # teacher current (training only)
dhold/dt = (hold_rest - hold)/tau_h : 1  # adaptive threshold
plastic = plasticity(t) : 1  # plasticity switch (learning-rate factor)
da/dt = -a/alpha : 1  # fast activity trace
dtheta/dt = -theta/beta : 1  # slow activity trace
diff = a - theta : 1  # recent activity above its slow average
w_sq : 1  # squared L2 norm of the input weights (kept up to date by syn_inp)
w_norm : 1 (constant, shared)  # target L2 norm of the input weights (0: free)
hold_inc : 1 (constant, shared)  # threshold increase per spike, per output neuron
hold_rest : 1 (constant, shared)  # value the threshold relaxes to
"""
OUTPUT_THRESHOLD = "v > hold"
OUTPUT_RESET = "v = 0; hold += hold_inc*n_out; " + TRACE_RESET

SYN_INP_EQS = """
w : 1  # excitatory weight, 0..wmax
c_inp : 1 (constant, shared)  # current per input spike and unit weight
lr : 1 (constant, shared)  # learning rate
decay : 1 (constant, shared)  # weight decrement per postsynaptic spike
wmax : 1 (constant, shared)  # weight bound
"""
SYN_INP_ON_PRE = "I_inp_post += w*c_inp"
SYN_INP_ON_POST = "w = clip(w + plastic*(-decay + lr*diff_pre), 0, wmax)"
#: With ``normalize``: the same, keeping the postsynaptic squared norm up to date.
SYN_INP_ON_POST_NORM = """
w_before = w
w = clip(w + plastic*(-decay + lr*diff_pre), 0, wmax)
w_sq_post += w*w - w_before*w_before
"""
#: With ``normalize``, at the start of every sample while plasticity is on: scale
#: each output's input weights to L2 norm ``w_norm`` (Diehl & Cook 2015 keep the
#: sum fixed instead), then record the new norm in the output.
SYN_INP_NORMALIZE = (
    "w = w * (1 + int(w_norm_post > 0 and plastic > 0 and w_sq_post > 0) * (w_norm_post/sqrt(w_sq_post + 1e-30) - 1))"
)
OUTPUT_NORMALIZED = "w_sq += int(w_norm > 0 and plastic > 0 and w_sq > 0) * (w_norm**2 - w_sq)"

SYN_NEG_EQS = """
w : 1  # inhibitory weight, -wmax..0
c_neg : 1 (constant, shared)  # inhibitory current per output spike and unit weight
lr_n : 1 (constant, shared)  # learning rate
wmax : 1 (constant, shared)  # weight bound
"""
SYN_NEG_ON_PRE = "I_neg_post += w*c_neg"
SYN_NEG_ON_POST = "w = clip(w - plastic*lr_n*diff_pre, -wmax, 0)"

#: Pixels and pixel maximum of the 8x8 digits (``params.n_inputs`` gives the dataset's).
N_PIXELS = 64
PIXEL_MAX = 16.0
#: Each sample: image slot, then silent slot (the TimedArrays' time step).
SLOT = 50 * ms
SLOTS_PER_SAMPLE = 2


class STDPMonitors(NamedTuple):
    """The monitors of a built ``stdp-digits`` network."""

    inp_spikes: b2.SpikeMonitor
    out_spikes: b2.SpikeMonitor


def build(params) -> tuple[b2.Network, STDPMonitors]:
    """Build the network for one chunk of ``params.chunk`` samples (``params.n_inputs`` inputs).

    Returns
    -------
    network : brian2.Network
    monitors : STDPMonitors
    """
    n_out = params.n_out
    n_slots = params.chunk * SLOTS_PER_SAMPLE
    stimulus = b2.TimedArray(np.zeros((n_slots, params.n_inputs)) * Hz, dt=SLOT, name="stimulus")
    teacher = b2.TimedArray(np.zeros((n_slots, n_out)), dt=SLOT, name="teacher")
    plasticity = b2.TimedArray(np.zeros(n_slots), dt=SLOT, name="plasticity")
    traces = {"alpha": params.alpha, "beta": params.beta, "trace_inc": params.trace_inc}
    inputs = b2.NeuronGroup(
        params.n_inputs, INPUT_EQS, threshold="rand() < rates*dt", reset=TRACE_RESET,
        refractory=params.refractory, method="exact",
        namespace={"stimulus": stimulus, **traces}, name="inputs",
    )
    outputs = b2.NeuronGroup(
        n_out, OUTPUT_EQS, threshold=OUTPUT_THRESHOLD, reset=OUTPUT_RESET,
        refractory=params.refractory, method="exact",
        namespace={"teacher": teacher, "plasticity": plasticity, "tau": params.tau, "tau_I": params.tau_I,
                   "tau_h": params.tau_h, "n_out": n_out, **traces},
        name="outputs",
    )
    outputs.hold = params.hold_init
    plastic = {"plasticity": plasticity}  # plastic_post is a subexpression of it
    syn_inp = b2.Synapses(
        inputs, outputs, SYN_INP_EQS, on_pre=SYN_INP_ON_PRE,
        on_post=SYN_INP_ON_POST_NORM if params.normalize else SYN_INP_ON_POST, namespace=plastic, name="syn_inp",
    )
    syn_inp.connect()
    if params.normalize:
        sample = SLOT * SLOTS_PER_SAMPLE
        syn_inp.run_regularly(SYN_INP_NORMALIZE, dt=sample, when="start", order=0, name="syn_inp_normalize")
        outputs.run_regularly(OUTPUT_NORMALIZED, dt=sample, when="start", order=1, name="outputs_normalized")
    syn_neg = b2.Synapses(
        outputs, outputs, SYN_NEG_EQS, on_pre=SYN_NEG_ON_PRE, on_post=SYN_NEG_ON_POST, namespace=plastic, name="syn_neg",
    )
    syn_neg.connect(condition="i != j")
    for key, value in constants(params).items():
        group, variable = key.split(".")
        setattr({"inputs": inputs, "outputs": outputs, "syn_inp": syn_inp, "syn_neg": syn_neg}[group], variable, value)
    inp_spikes = b2.SpikeMonitor(inputs, name="inp_spikes")
    out_spikes = b2.SpikeMonitor(outputs, name="out_spikes")
    network = b2.Network(inputs, outputs, syn_inp, syn_neg, inp_spikes, out_spikes, name="stdp_digits")
    return network, STDPMonitors(inp_spikes, out_spikes)


def constants(params) -> dict[str, float]:
    """The learning constants, ``(constant, shared)`` variables set through run_args."""
    return {
        "outputs.hold_inc": params.hold_inc, "outputs.hold_rest": params.hold_rest,
        "syn_inp.c_inp": params.c_inp, "syn_inp.lr": params.lr, "syn_inp.decay": params.decay,
        "syn_inp.wmax": params.wmax, "outputs.w_norm": params.w_norm if params.normalize else 0.0,
        "syn_neg.c_neg": params.c_neg, "syn_neg.lr_n": params.lr_n, "syn_neg.wmax": params.wmax,
        "inputs.theta_gain": params.theta_gain,
    }


#: State carried from one chunk to the next (group, variable).
CARRIED = (
    ("syn_inp", "w"), ("syn_neg", "w"), ("outputs", "w_sq"), ("outputs", "hold"), ("outputs", "v"),
    ("outputs", "I_inp"), ("outputs", "I_neg"), ("outputs", "a"), ("outputs", "theta"),
    ("inputs", "a"), ("inputs", "theta"),
)

#: Parameters that do not change the compiled network: TimedArray contents,
#: initial values, and how many runs make a phase.
SWEEPABLE = (
    "lr", "lr_n", "decay", "wmax", "c_inp", "c_neg", "hold_inc", "hold_rest", "w_norm", "n_train", "n_val", "n_test",
    "val_fraction", "test_fraction", "epochs", "teacher_target", "assign", "rate_max", "teacher_current",
    "plastic_online", "online", "norm_window", "w_init", "w_neg_init", "hold_init", "noise_rate", "contrast",
    "n_raster", "n_curve", "data_path", "readout", "theta_gain", "refit",
)

