"""The IPD network as Brian2 equations: input fibres, LIF hidden layer, leaky read-out.

One run classifies many samples: ``n_parallel`` copies of the network run side by
side, and each copy takes ``n_windows`` samples one after another, one window of
``n_steps`` time steps each (every state is set to zero at a window's start).
Weights, input spikes (or, with ``input="poisson"``, each sample's IPD and starting
phase) are ``run_args`` values, so a standalone project is compiled once for any
weights and test set of the same size.

Dale's law is in the synapses: ``syn_in_exc``/``syn_in_inh`` (inputs to hidden)
and ``syn_hid_exc``/``syn_hid_inh`` (hidden to output) hold ``w >= 0`` and add or
subtract it. In a layer with a fixed sign per presynaptic row, the Brian2 group
lists its ``n_inh`` inhibitory units first (a permutation of the fibres and
hidden units, applied to the weights, the input table and the recorded spikes),
and only those rows are connected by the inhibitory pathway, the others by the
excitatory one. So the number of inhibitory rows is part of the compiled program,
but which rows they are is a value. A layer without a fixed sign connects every
pair in both pathways (``w_exc = max(W, 0)``, ``w_inh = max(-W, 0)``).

Schedule of one time step (the notebook's update, exactly):

1. ``start``: ``readout`` records ``v_sum`` (at a window's first step: the previous
   window's total), the window reset clears the states, then the hidden units
   shift ``v_before <- v_begin <- v`` and the outputs add ``v`` to ``v_sum``;
2. ``groups``: ``v <- v * exp(-dt/tau)`` in both layers;
3. ``thresholds``: input spikes (TimedArray replay or ``rand()``); hidden spikes
   from ``v_before`` (``reset="notebook"``: the notebook's one-step lag) or
   ``v_begin`` (``"immediate"``), both ``> v_threshold``;
4. ``synapses``: ``v_post += w`` / ``v_post -= w``;
5. ``resets``: a spiking hidden unit's ``v`` is set to 0, which is the notebook's
   ``(alpha*v + h) * (1 - s)``.
"""

from __future__ import annotations

from typing import NamedTuple

import brian2 as b2
import numpy as np

__all__ = [
    "INPUT_REPLAY_EQS", "INPUT_REPLAY_THRESHOLD", "INPUT_POISSON_EQS", "INPUT_POISSON_THRESHOLD",
    "HIDDEN_EQS", "OUTPUT_EQS", "SYN_EQS", "ON_PRE_EXC", "ON_PRE_INH",
    "Layout", "IPDMonitors", "build_network", "pack_spikes", "synapse_weights", "BITS_PER_WORD", "row_order",
    "fibre_values", "window_table", "decode_readout", "decode_hidden_spikes",
]

#: Input spikes are packed into integers of this many bits (a double and a C ``int`` hold them exactly; at most 31).
BITS_PER_WORD = 30

INPUT_REPLAY_EQS = """
word : integer (constant)  # column of input_bits that holds this fibre's spikes
bit_scale : 1 (constant)  # 2**-(this fibre's bit in that column)
"""
#: A fibre spikes when its bit is set in this step's row of the packed spike table: the word
#: scaled by 2**-bit (exact in floating point) is odd in its integer part. Floating-point
#: arithmetic, since integer // and % are divisions with sign handling in the generated code.
INPUT_REPLAY_THRESHOLD = "(input_bits(t, word) * bit_scale) % 2 >= 1"

INPUT_POISSON_EQS = """
phase_delay : 1 (constant)  # the fibre's phase delay (rad)
right_ear : 1 (constant)  # 1 for the right ear's fibres (shifted by the IPD), else 0
slot : integer (constant)  # which parallel copy the fibre belongs to
t_local = (timestep(t, dt) % n_steps) * dt : second  # time since the window's start
theta = 2*pi*(f_tone*t_local + start_phase(t, slot)) + phase_delay + right_ear*ipd_of_sample(t, slot) : 1
p_spike = rate_max*dt*(0.5*(1 + sin(theta)))**envelope_power : 1  # spike probability this step
"""
INPUT_POISSON_THRESHOLD = "rand() < p_spike"

HIDDEN_EQS = """
dv/dt = -v/tau_hidden : 1  # membrane potential (units of the threshold)
v_begin : 1  # v at the start of this step
v_before : 1  # v at the start of the previous step
"""
HIDDEN_SHIFT = "v_before = v_begin\nv_begin = v"
HIDDEN_CLEAR = "v = 0\nv_begin = 0\nv_before = 0"
HIDDEN_THRESHOLD = {"notebook": "v_before > v_threshold", "immediate": "v_begin > v_threshold"}
HIDDEN_RESET = "v = 0"

OUTPUT_EQS = """
dv/dt = -v/tau_out : 1  # read-out potential
v_sum : 1  # v summed over this window's steps
"""
OUTPUT_ACCUMULATE = "v_sum += v"
OUTPUT_CLEAR = "v = 0\nv_sum = 0"

SYN_EQS = "w : 1 (constant)  # magnitude of the weight (>= 0)"
ON_PRE_EXC = "v_post += w"
ON_PRE_INH = "v_post -= w"


class Layout(NamedTuple):
    """How samples are laid out over copies and windows."""

    n_inputs: int
    n_hidden: int
    n_classes: int
    n_steps: int
    n_parallel: int
    n_windows: int

    @property
    def n_samples(self) -> int:
        """Sample slots of one run (``n_parallel * n_windows``)."""
        return self.n_parallel * self.n_windows

    @property
    def n_words(self) -> int:
        """Packed columns per copy."""
        return -(-self.n_inputs // BITS_PER_WORD)

    @property
    def total_steps(self) -> int:
        """Steps of one run: every window, and one more step to record the last total."""
        return self.n_windows * self.n_steps + 1


class IPDMonitors(NamedTuple):
    """The monitors of a built network."""

    readout: b2.StateMonitor  # v_sum of every output at each window's start
    hidden_spikes: b2.SpikeMonitor


def build_network(layout: Layout, dt, tau_hidden, tau_out, n_inh_in=None, n_inh_hidden=None,
                  v_threshold: float = 1.0, reset: str = "notebook", input_mode: str = "replay", tone=None,
                  name: str = "ipd", connectivity=None):
    """Build the network (see the module notes); returns ``(Network, IPDMonitors)``.

    ``n_inh_in``/``n_inh_hidden``: inhibitory rows of W1/W2 (None: that layer has
    no fixed signs). ``tone`` (``input_mode="poisson"``): dict with ``f_tone`` (Hz),
    ``rate_max`` (Hz) and ``envelope_power``. The fibres' bits (``word``,
    ``bit_scale``) or phase delays (``phase_delay``, ``right_ear``) are set by
    :func:`fibre_values` through run_args, since they follow the permutation.
    ``connectivity``: ``(mask1, mask2)``, boolean (pre, post) matrices of one copy
    in the Brian2 order; only those synapses exist (default: every pair).
    """
    P, n_in, n_hid, n_out = layout.n_parallel, layout.n_inputs, layout.n_hidden, layout.n_classes
    window = layout.n_steps * dt
    if input_mode == "replay":
        input_bits = b2.TimedArray(np.zeros((layout.total_steps, P * layout.n_words)), dt=dt, name="input_bits")
        inputs = b2.NeuronGroup(P * n_in, INPUT_REPLAY_EQS, threshold=INPUT_REPLAY_THRESHOLD, reset="",
                                namespace={"input_bits": input_bits}, name="inputs")
    else:
        ipd_of_sample = b2.TimedArray(np.zeros((layout.n_windows + 1, P)), dt=window, name="ipd_of_sample")
        start_phase = b2.TimedArray(np.zeros((layout.n_windows + 1, P)), dt=window, name="start_phase")
        inputs = b2.NeuronGroup(
            P * n_in, INPUT_POISSON_EQS, threshold=INPUT_POISSON_THRESHOLD, reset="",
            namespace={"ipd_of_sample": ipd_of_sample, "start_phase": start_phase, "n_steps": layout.n_steps,
                       "f_tone": tone["f_tone"], "rate_max": tone["rate_max"],
                       "envelope_power": tone["envelope_power"]},
            name="inputs",
        )
        inputs.slot = np.repeat(np.arange(P), n_in)

    hidden = b2.NeuronGroup(P * n_hid, HIDDEN_EQS, threshold=HIDDEN_THRESHOLD[reset], reset=HIDDEN_RESET,
                            method="exact", namespace={"tau_hidden": tau_hidden, "v_threshold": v_threshold},
                            name="hidden")
    output = b2.NeuronGroup(P * n_out, OUTPUT_EQS, method="exact", namespace={"tau_out": tau_out}, name="output")
    # The window reset runs before the step's own bookkeeping; the read-out is recorded before both.
    hidden.run_regularly(HIDDEN_CLEAR, dt=window, when="start", order=-1, name="hidden_clear")
    hidden.run_regularly(HIDDEN_SHIFT, when="start", order=0, name="hidden_shift")
    output.run_regularly(OUTPUT_CLEAR, dt=window, when="start", order=-1, name="output_clear")
    output.run_regularly(OUTPUT_ACCUMULATE, when="start", order=0, name="output_accumulate")

    # The fibres in their own order until run_args give the permutation of the weights in use.
    for variable, value in fibre_values(layout, np.arange(n_in), input_mode, *(
            (tone["phase_delays"], tone["right_ear"]) if tone else ())).items():
        setattr(inputs, variable.split(".", 1)[1], value)
    objects = [inputs, hidden, output]
    masks = connectivity if connectivity is not None else (None, None)
    for pre, post, n_pre, n_post, n_inh, stem, mask in ((inputs, hidden, n_in, n_hid, n_inh_in, "syn_in", masks[0]),
                                                        (hidden, output, n_hid, n_out, n_inh_hidden, "syn_hid", masks[1])):
        for kind, on_pre in (("exc", ON_PRE_EXC), ("inh", ON_PRE_INH)):
            rows = _rows(kind, n_pre, n_inh)
            if len(rows) == 0:
                continue  # e.g. no inhibitory fibres at ie_ratio=0 (an unconnected Synapses is an error)
            syn = b2.Synapses(pre, post, SYN_EQS, on_pre=on_pre, name=f"{stem}_{kind}")
            pre_idx, post_idx = _block_pairs(P, n_pre, n_post, rows, mask)
            syn.connect(i=pre_idx, j=post_idx)
            objects.append(syn)
    readout = b2.StateMonitor(output, "v_sum", record=True, dt=window, when="start", order=-2, name="readout")
    hidden_spikes = b2.SpikeMonitor(hidden, name="hidden_spikes")
    network = b2.Network(*objects, readout, hidden_spikes, name=name)
    return network, IPDMonitors(readout, hidden_spikes)


def _rows(kind, n_pre, n_inh):
    """Presynaptic rows (within a copy) of the ``kind`` pathway."""
    if n_inh is None:
        return np.arange(n_pre)
    return np.arange(n_inh) if kind == "inh" else np.arange(n_inh, n_pre)


def _block_pairs(n_copies, n_pre, n_post, rows, mask=None):
    """(i, j) from ``rows`` to every unit (or those of ``mask``) within each copy, copy-major, then row-major."""
    copy, a, b = np.meshgrid(np.arange(n_copies), rows, np.arange(n_post), indexing="ij")
    if mask is not None:
        keep = np.broadcast_to(np.asarray(mask, bool)[rows][np.newaxis], copy.shape)
        return (copy * n_pre + a)[keep], (copy * n_post + b)[keep]
    return (copy * n_pre + a).ravel(), (copy * n_post + b).ravel()


def row_order(sign, n_inh):
    """The Brian2 order of a layer's units: its ``n_inh`` inhibitory rows first (identity when unsigned)."""
    sign = np.asarray(sign)
    if n_inh is None:
        return np.arange(len(sign))
    order = np.argsort(sign >= 0, kind="stable")
    if int(np.sum(sign < 0)) != n_inh:
        raise ValueError(f"{int(np.sum(sign < 0))} inhibitory rows, the network has {n_inh}")
    return order


def synapse_weights(w, n_copies, n_inh=None, mask=None):
    """``{"exc": w, "inh": w}`` per synapse (>= 0, connection order) for a signed, reordered matrix ``w``.

    ``w`` has its rows (presynaptic) in the Brian2 order, inhibitory first when
    ``n_inh`` is given; a pathway without rows is left out. With ``mask`` (the
    network's ``connectivity``), only the connected pairs have a value.
    """
    w = np.asarray(w, dtype=float)
    out = {}
    for kind in ("exc", "inh"):
        rows = _rows(kind, w.shape[0], n_inh)
        if len(rows):
            part = w[rows]
            part = np.maximum(part, 0) if kind == "exc" else np.maximum(-part, 0)
            out[kind] = np.tile(part[np.asarray(mask, bool)[rows]] if mask is not None else part.ravel(), n_copies)
    return out


def fibre_values(layout: Layout, fibre_order, input_mode="replay", phase_delays=None, right_ear=None):
    """run_args of the input group: which original fibre each Brian2 input neuron stands for."""
    fibres = np.tile(np.asarray(fibre_order), layout.n_parallel)
    copy = np.repeat(np.arange(layout.n_parallel), layout.n_inputs)
    if input_mode == "replay":
        return {"inputs.word": copy * layout.n_words + fibres // BITS_PER_WORD,
                "inputs.bit_scale": 2.0 ** -(fibres % BITS_PER_WORD)}
    return {"inputs.phase_delay": np.asarray(phase_delays)[fibres], "inputs.right_ear": np.asarray(right_ear)[fibres]}


def pack_spikes(spikes, layout: Layout):
    """Pack input spikes (n, n_steps, n_inputs) into the ``input_bits`` table.

    Sample ``k`` goes to copy ``k % n_parallel`` and window ``k // n_parallel``; a
    row per global time step, ``n_words`` columns per copy, fibre ``a`` in bit
    ``a % BITS_PER_WORD`` of column ``a // BITS_PER_WORD``. Unused slots and the
    final step are silent.
    """
    n = len(spikes)
    L = layout
    padded = np.zeros((L.n_samples, L.n_steps, L.n_words, BITS_PER_WORD), dtype=bool)
    padded.reshape(L.n_samples, L.n_steps, -1)[:n, :, : L.n_inputs] = spikes
    # little-endian bytes of each word, padded to 4 bytes, read as one unsigned 32-bit integer
    packed = np.packbits(padded, axis=3, bitorder="little")
    packed = np.concatenate([packed, np.zeros(packed.shape[:3] + (4 - packed.shape[3],), np.uint8)], axis=3)
    words = packed.view("<u4")[..., 0]  # (samples, steps, words)
    words = words.reshape(L.n_windows, L.n_parallel, L.n_steps, L.n_words).transpose(0, 2, 1, 3)
    table = np.zeros((L.total_steps, L.n_parallel * L.n_words))
    table[:-1] = words.reshape(L.n_windows * L.n_steps, L.n_parallel * L.n_words)
    return table


def window_table(values, layout: Layout):
    """Per-sample values (n,) as a (n_windows + 1, n_parallel) table for a window-clocked TimedArray."""
    table = np.zeros((layout.n_windows + 1, layout.n_parallel))
    flat = np.zeros(layout.n_samples)
    flat[: len(values)] = values
    table[:-1] = flat.reshape(layout.n_windows, layout.n_parallel)
    return table


def decode_readout(readout_v_sum, layout: Layout, n: int):
    """The per-sample read-out (n, n_classes) from ``readout.v_sum`` (outputs, n_windows + 1)."""
    totals = np.asarray(readout_v_sum)[:, 1:]  # column w+1 is window w's total
    totals = totals.reshape(layout.n_parallel, layout.n_classes, layout.n_windows).transpose(2, 0, 1)
    return totals.reshape(layout.n_samples, layout.n_classes)[:n]


def decode_hidden_spikes(i, t, dt, layout: Layout, n: int, hidden_order=None):
    """Hidden spikes as (sample, step, unit) index arrays from a SpikeMonitor's ``i`` and ``t`` (s).

    ``hidden_order[k]`` is the original unit of Brian2's hidden neuron ``k`` (within a copy).
    """
    step = np.round(np.asarray(t) / float(dt)).astype(np.int64)
    i = np.asarray(i, dtype=np.int64)
    window, local = step // layout.n_steps, step % layout.n_steps
    copy, unit = i // layout.n_hidden, i % layout.n_hidden
    if hidden_order is not None:
        unit = np.asarray(hidden_order)[unit]
    sample = window * layout.n_parallel + copy
    keep = sample < n
    return sample[keep], local[keep], unit[keep]
