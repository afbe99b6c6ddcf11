"""STDP digit classifier with lateral inhibition and a teacher current (``stdp-digits``).

64 Poisson input neurons, one per pixel of scikit-learn's 8x8 ``digits``
(rate = pixel/16 * ``rate_max``), drive ``n_class * n_per_class`` output
neurons through plastic excitatory synapses; the outputs inhibit each other
through plastic inhibitory synapses, and an adaptive threshold ``hold`` keeps
each output's activity in range. During supervised training a teacher current
pushes an output of the correct class (by default the one of the image's
k-means cluster within its class, so that the outputs of a class learn
different prototypes). The learning rule is driven by
activity traces of the presynaptic neuron: a fast trace ``a`` (``alpha``) minus
a slow trace ``theta`` (``beta``), ``diff = a - theta``, applied at every
postsynaptic spike. With ``normalize`` (default) each output's weight vector
is scaled to L2 norm ``w_norm`` at the start of every plastic sample, inside
the network (a ``run_regularly`` operation).

Each sample is an image shown for 50 ms followed by 50 ms of silence. The
image schedule (``stimulus``), the teacher (``teacher``) and the plasticity
switch (``plasticity``) are TimedArrays, so the network is the same on every
device. The compiled network simulates ``chunk`` samples; every phase
(training, frozen test, online test) is a sequence of runs of that one
program, with the images, the teacher, the switch and the state reached so far
(weights, thresholds, traces) passed as ``run_args``: a standalone project is
compiled once per network shape.

One run does: supervised training (teacher and plasticity on) for ``epochs``
passes over the training images, with frozen tests in between for the learning
curve; a frozen pass over the training images (``accuracy_train``, and with
``assign=response`` the class each output neuron answers for, as in Diehl &
Cook 2015; by default an output answers for its teacher's class); then two passes over the same
held-out images from the trained state: frozen (no teacher, no plasticity) and
unsupervised test-time learning (no teacher, plasticity on).

The starting point is a Brian2 notebook (2 classes, runtime only, images
swapped by a ``network_operation``). Its equations and names are kept; the
defaults that differ from it are marked "notebook:" in :class:`STDPDigitsParams`.
"""

from __future__ import annotations

import dataclasses
import zlib
from typing import Literal, NamedTuple

import brian2 as b2
import numpy as np
from brian2 import Hz, Quantity, ms
from sklearn.base import BaseEstimator, ClassifierMixin

from brianlab import plotting
from brianlab.errors import BrianlabError
from brianlab.model import Model, Result
from brianlab.params import parameters, structure_key
from brianlab.recordings import SpikeTrains

# ----------------------------------------------------------------------------
# equations (every quantity but time and rate is dimensionless, as in the notebook)
# ----------------------------------------------------------------------------

INPUT_EQS = """
rates = stimulus(t, i) : Hz  # Poisson rate of this pixel in the current slot
da/dt = -a/alpha : 1  # fast activity trace
dtheta/dt = -theta/beta : 1  # slow activity trace
diff = a - theta : 1  # recent activity above its slow average
"""
#: Trace increments at a spike. ``theta`` grows by alpha/beta so that both traces
#: have the same mean for a steady rate and ``diff`` measures a change of rate.
TRACE_RESET = "a += 1; theta += alpha/beta"

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

N_PIXELS = 64
PIXEL_MAX = 16.0
#: Each sample: image slot, then silent slot (the TimedArrays' time step).
SLOT = 50 * ms
SLOTS_PER_SAMPLE = 2


@parameters
class STDPDigitsParams:
    """Parameters of the ``stdp-digits`` model (notebook values where they differ are noted)."""

    n_class: int = 10  # digit classes 0..n_class-1 (2..10; notebook: 2)
    n_per_class: int = 8  # output neurons per class (notebook: 1)
    n_train: int = 0  # training images (0: all that are not held out)
    n_test: int = 0  # held-out test images (0: test_fraction of the data)
    test_fraction: float = 0.25  # held-out fraction when n_test is 0 (stratified split from --seed)
    epochs: int = 1  # passes over the training images (0: test only, e.g. with --from)
    chunk: int = 100  # samples per run of the compiled network
    rate_max: Quantity = 250 * Hz  # input rate of a full-intensity pixel (pixel 16)
    teacher_current: float = 100.0  # teacher current onto the target neurons during training
    teacher_target: Literal["class", "cluster"] = "cluster"  # teacher onto every neuron of the class, or the one of the image's k-means cluster (notebook: class)
    assign: Literal["teacher", "response"] = "teacher"  # class of an output: its teacher's, or the one it fires most for (Diehl & Cook 2015)
    plastic_online: float = 1.0  # learning-rate factor during unsupervised test-time learning
    lr: float = 0.003  # learning rate of input->output weights (notebook: 0.05)
    lr_n: float = 0.0  # learning rate of the lateral inhibitory weights (notebook: 0.01)
    decay: float = 0.0  # weight decrement per postsynaptic spike (notebook: 0.001)
    wmax: float = 1.0  # weight bound (inhibitory weights: -wmax)
    normalize: bool = True  # scale input weights to L2 norm w_norm at every plastic sample (notebook: false)
    w_norm: float = 1.0  # L2 norm of each output's input weights when normalize is on
    c_inp: float = 0.5  # current per input spike and unit weight (notebook: 0.2)
    c_neg: float = 1.7  # inhibitory current per output spike and unit weight
    w_init: float = 0.05  # initial input weights uniform in [0, w_init]
    w_neg_init: float = -1.0  # initial lateral inhibitory weight, -wmax..0
    hold_init: float = 3.0  # initial adaptive threshold
    hold_inc: float = 0.005  # threshold increase per output spike, times n_out (notebook: 0.1)
    hold_rest: float = 2.0  # value the threshold relaxes to (notebook: 0)
    tau: Quantity = 10 * ms  # membrane time constant of the outputs
    tau_I: Quantity = 15 * ms  # decay of input and inhibitory currents
    tau_h: Quantity = 50 * ms  # decay of the adaptive threshold
    alpha: Quantity = 10 * ms  # fast trace time constant
    beta: Quantity = 100 * ms  # slow trace time constant
    refractory: Quantity = 2 * ms  # refractory period of inputs and outputs
    noise_rate: Quantity = 0 * Hz  # test shift: background rate on every pixel, also between images
    contrast: float = 1.0  # test shift: factor on the rates of the test images
    n_raster: int = 4  # training samples whose spikes are kept for the raster
    n_curve: int = 4  # learning-curve points in the first epoch (a frozen test each; later epochs: one each)
    dt: Quantity = 0.1 * ms  # integration time step

    def __post_init__(self):
        if not 2 <= self.n_class <= 10:
            raise ValueError("n_class must be between 2 and 10")
        if self.n_per_class < 1 or self.chunk < 1:
            raise ValueError("n_per_class and chunk must be at least 1")
        if self.n_train < 0 or self.n_test < 0 or self.epochs < 0:
            raise ValueError("n_train, n_test and epochs cannot be negative")
        if not 0 < self.test_fraction < 1:
            raise ValueError("test_fraction must be between 0 and 1")
        if self.w_neg_init > 0 or self.w_init < 0:
            raise ValueError("w_init must be >= 0 and w_neg_init <= 0")
        if self.dt <= 0 * ms or (SLOT / self.dt) % 1 > 1e-9:
            raise ValueError("dt must be positive and divide 50 ms")

    @property
    def n_out(self):
        """Number of output neurons."""
        return self.n_class * self.n_per_class


class STDPMonitors(NamedTuple):
    """The monitors of a built ``stdp-digits`` network."""

    inp_spikes: b2.SpikeMonitor
    out_spikes: b2.SpikeMonitor


def build(params):
    """Build the network for one chunk of ``params.chunk`` samples.

    Returns
    -------
    network : brian2.Network
    monitors : STDPMonitors
    """
    n_out = params.n_out
    n_slots = params.chunk * SLOTS_PER_SAMPLE
    stimulus = b2.TimedArray(np.zeros((n_slots, N_PIXELS)) * Hz, dt=SLOT, name="stimulus")
    teacher = b2.TimedArray(np.zeros((n_slots, n_out)), dt=SLOT, name="teacher")
    plasticity = b2.TimedArray(np.zeros(n_slots), dt=SLOT, name="plasticity")
    traces = {"alpha": params.alpha, "beta": params.beta}
    inputs = b2.NeuronGroup(
        N_PIXELS, INPUT_EQS, threshold="rand() < rates*dt", reset=TRACE_RESET,
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
        setattr({"outputs": outputs, "syn_inp": syn_inp, "syn_neg": syn_neg}[group], variable, value)
    inp_spikes = b2.SpikeMonitor(inputs, name="inp_spikes")
    out_spikes = b2.SpikeMonitor(outputs, name="out_spikes")
    network = b2.Network(inputs, outputs, syn_inp, syn_neg, inp_spikes, out_spikes, name="stdp_digits")
    return network, STDPMonitors(inp_spikes, out_spikes)


def constants(params):
    """The learning constants, ``(constant, shared)`` variables set through run_args."""
    return {
        "outputs.hold_inc": params.hold_inc, "outputs.hold_rest": params.hold_rest,
        "syn_inp.c_inp": params.c_inp, "syn_inp.lr": params.lr, "syn_inp.decay": params.decay,
        "syn_inp.wmax": params.wmax, "outputs.w_norm": params.w_norm if params.normalize else 0.0,
        "syn_neg.c_neg": params.c_neg, "syn_neg.lr_n": params.lr_n, "syn_neg.wmax": params.wmax,
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
    "lr", "lr_n", "decay", "wmax", "c_inp", "c_neg", "hold_inc", "hold_rest", "w_norm", "n_train", "n_test", "test_fraction", "epochs", "teacher_target", "assign", "rate_max", "teacher_current", "plastic_online",
    "w_init", "w_neg_init", "hold_init", "noise_rate", "contrast", "n_raster", "n_curve",
)


# ----------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------


def load_split(params, seed):
    """The stratified train/test split of the digits 0..n_class-1.

    Returns
    -------
    dict with ``x_train``, ``y_train``, ``x_test``, ``y_test`` (pixels 0..16)
    and ``index_train``, ``index_test`` (rows of ``load_digits()``).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    rows = np.flatnonzero(digits.target < params.n_class)
    test_size = params.n_test or params.test_fraction
    train_size = params.n_train or None
    try:
        index_train, index_test = train_test_split(
            rows, train_size=train_size, test_size=test_size, stratify=digits.target[rows], random_state=seed
        )
    except ValueError as exc:
        raise BrianlabError(f"cannot split {len(rows)} images of {params.n_class} classes: {exc}") from None
    return _split(index_train, index_test, digits)


def _split(index_train, index_test, digits=None):
    """Images and labels of the rows ``index_train`` and ``index_test`` of ``load_digits()``."""
    from sklearn.datasets import load_digits

    digits = digits or load_digits()
    return {
        "x_train": digits.data[index_train], "y_train": digits.target[index_train],
        "x_test": digits.data[index_test], "y_test": digits.target[index_test],
        "index_train": index_train, "index_test": index_test,
    }


# ----------------------------------------------------------------------------
# running phases through one compiled program
# ----------------------------------------------------------------------------


@dataclasses.dataclass
class Phase:
    """What one pass over a set of images recorded.

    ``counts[k, j]``: spikes of output ``j`` while image ``k`` was shown.
    """

    counts: np.ndarray
    run_s: float
    raster: dict


def initial_state(params, rng):
    """The state before any training: random weights, thresholds at ``hold_init``, all else 0."""
    n_out = params.n_out
    sizes = {"inputs": N_PIXELS, "outputs": n_out}
    state = {f"{g}.{v}": np.zeros(sizes[g]) for g, v in CARRIED if g in sizes}  # traces, v, currents
    return with_norms(params, {
        **state,
        "syn_inp.w": rng.uniform(0, params.w_init, N_PIXELS * n_out),
        "syn_neg.w": np.full(n_out * (n_out - 1), params.w_neg_init),
        "outputs.hold": np.full(n_out, params.hold_init),
    })


def with_norms(params, state):
    """``state`` with each output's squared input-weight norm ``outputs.w_sq`` computed from its weights."""
    w = np.asarray(state["syn_inp.w"]).reshape(N_PIXELS, params.n_out)
    return {**state, "outputs.w_sq": (w**2).sum(axis=0)}


def schedules(params, images, targets, mode, shifted=False):
    """TimedArray contents for one chunk: images (<= chunk of them) in ``mode``.

    ``mode`` is ``train`` (teacher onto ``targets``, a samples x outputs 0/1
    array; plasticity 1), ``frozen`` (neither) or ``online`` (plasticity
    ``plastic_online``, no teacher). Unused slots are silent. ``shifted``
    applies the test shift (``contrast``, ``noise_rate``).
    """
    n_slots = params.chunk * SLOTS_PER_SAMPLE
    n = len(images)
    rates = np.full((n_slots, N_PIXELS), float(params.noise_rate / Hz) if shifted else 0.0)
    scale = float(params.rate_max / Hz) / PIXEL_MAX * (params.contrast if shifted else 1.0)
    rates[0 : 2 * n : 2] += np.asarray(images, float) * scale
    teacher = np.zeros((n_slots, params.n_out))
    if mode == "train":
        teacher[0 : 2 * n : 2] = np.asarray(targets) * params.teacher_current
    factor = {"train": 1.0, "frozen": 0.0, "online": params.plastic_online}[mode]
    plastic = np.zeros(n_slots)
    plastic[: 2 * n] = factor
    return {"stimulus": rates * Hz, "teacher": teacher, "plasticity": plastic}


def count_spikes(params, spike_i, spike_t, n_samples):
    """Spikes of each output in the image window of each sample (samples x outputs)."""
    steps = np.round(np.asarray(spike_t) / float(params.dt)).astype(np.int64)
    per_sample = int(round(float(SLOT * SLOTS_PER_SAMPLE / params.dt)))
    window = int(round(float(SLOT / params.dt)))
    sample = steps // per_sample
    keep = (steps % per_sample < window) & (sample < n_samples)
    counts = np.zeros((n_samples, params.n_out), dtype=np.int64)
    np.add.at(counts, (sample[keep], np.asarray(spike_i)[keep]), 1)
    return counts


def run_phase(program, params, state, images, targets, mode, seed, raster=0, shifted=False):
    """Show ``images`` chunk by chunk; update ``state`` in place; return a :class:`Phase`.

    Parameters
    ----------
    program : brianlab.simulation.Program
    state : dict
        ``{"group.variable": values}`` carried between runs (see :data:`CARRIED`).
    images : array (n, 64)
        Pixels 0..16.
    targets : array (n, n_out) or None
        Output neurons the teacher pushes for each image (``train`` mode only).
    mode : str
        ``train``, ``frozen`` or ``online``.
    seed : int
        Seed of the first chunk; chunk ``k`` uses ``seed + k``.
    raster : int
        Keep the input and output spikes of the first ``raster`` samples.
    shifted : bool
        Show the images with the test shift (``contrast``, ``noise_rate``).
    """
    counts = []
    kept = {}
    run_s = program.run_s
    plastic = mode != "frozen"
    for k, start in enumerate(range(0, len(images), params.chunk)):
        part = slice(start, start + params.chunk)
        values = {**constants(params), **state, **schedules(params, images[part], None if targets is None else targets[part], mode, shifted)}
        monitors = program.run(values, seed=seed + k)
        n = len(images[part])
        counts.append(count_spikes(params, monitors.out_spikes.i[:], monitors.out_spikes.t[:], n))
        if plastic:
            state.update({f"{g}.{v}": np.array(getattr(program.network[g], v)[:]) for g, v in CARRIED})
        if k == 0 and raster:
            kept = _raster(params, monitors, min(raster, n))
    return Phase(np.concatenate(counts) if counts else np.zeros((0, params.n_out), int), program.run_s - run_s, kept)


def _raster(params, monitors, n_samples):
    end = float(n_samples * SLOTS_PER_SAMPLE * SLOT)
    out = {}
    for name, mon in (("inp", monitors.inp_spikes), ("out", monitors.out_spikes)):
        t = np.asarray(mon.t[:])
        keep = t < end
        out[f"raster_{name}_t"] = t[keep]
        out[f"raster_{name}_i"] = np.asarray(mon.i[:])[keep]
    return out


def recordings(params, arrays):
    """The raster's spike monitors, as arrays of ``data.npz`` (see :mod:`brianlab.recordings`)."""
    if "raster_inp_t" not in arrays:  # no training (epochs=0): no raster
        return ()
    when = f"the first {params.n_raster} training samples (times from the start of training)"
    return (
        SpikeTrains("inputs", times="raster_inp_t", indices="raster_inp_i", n_neurons=N_PIXELS,
                    description=f"Poisson pixel inputs during {when}"),
        SpikeTrains("outputs", times="raster_out_t", indices="raster_out_i", n_neurons=params.n_out,
                    description=f"output neurons during {when}"),
    )


def neuron_classes(params, counts=None, labels=None):
    """The class each output neuron answers for.

    Without responses: the class its teacher pushed (``j // n_per_class``). With
    ``counts`` on labelled images (Diehl & Cook 2015): the class whose images made
    it fire most on average; silent neurons keep their teacher class.
    """
    teacher_class = np.arange(params.n_out) // params.n_per_class
    if counts is None:
        return teacher_class
    mean = np.stack([counts[labels == c].mean(axis=0) for c in range(params.n_class)])
    return np.where(mean.max(axis=0) > 0, mean.argmax(axis=0), teacher_class)


def predict(params, counts, classes):
    """Predicted class per sample: highest mean spike count over the neurons of a class.

    A sample that made no output fire is predicted as -1 (always wrong).
    """
    scores = np.full((len(counts), params.n_class), -np.inf)
    for c in range(params.n_class):
        members = classes == c
        if members.any():
            scores[:, c] = counts[:, members].mean(axis=1)
    predicted = scores.argmax(axis=1)
    predicted[counts.sum(axis=1) == 0] = -1
    return predicted


def _phase_seed(seed, name):
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % (2**31 - 1000)


def make_program(params, session):
    """The compiled program for this network shape (shared by every phase)."""
    return session.program(
        lambda: build(params), params.chunk * SLOTS_PER_SAMPLE * SLOT, params.dt, tag="stdp_digits",
        key=("stdp-digits", structure_key(params, SWEEPABLE)),
    )


def teacher_targets(params, x, y, seed):
    """The output neurons the teacher pushes for each training image (samples x outputs, 0/1).

    ``teacher_target="class"``: every neuron of the image's class. ``"cluster"``:
    the images of each class are split into ``n_per_class`` k-means clusters
    (seeded), and the teacher pushes the one neuron of the image's cluster, so
    the neurons of a class learn different prototypes.
    """
    targets = np.zeros((len(x), params.n_out))
    for c in range(params.n_class):
        members = np.flatnonzero(y == c)
        first = c * params.n_per_class
        if params.teacher_target == "class" or params.n_per_class == 1:
            targets[np.ix_(members, np.arange(first, first + params.n_per_class))] = 1
            continue
        from sklearn.cluster import KMeans

        k = min(params.n_per_class, len(members))
        cluster = KMeans(k, n_init=4, random_state=seed).fit_predict(x[members])
        targets[members, first + cluster] = 1
    return targets


def curve_points(params, n_samples):
    """Training samples seen at each learning-curve point: log-spaced chunks in the first epoch, then every epoch."""
    n_chunks = -(-n_samples // params.chunk)
    first = np.unique(np.geomspace(1, n_chunks, min(params.n_curve, n_chunks)).round().astype(int)) * params.chunk
    first = np.minimum(first, n_samples)
    later = n_samples * np.arange(2, params.epochs + 1)
    return np.concatenate([first, later]) if params.epochs else np.zeros(0, int)


def train(program, params, state, x, y, rng, seed, evaluate=None):
    """Supervised training for ``params.epochs`` epochs (shuffled each epoch).

    ``evaluate(state) -> accuracy`` is called at :func:`curve_points` (for the
    learning curve). Returns ``(run_s, curve, raster)``, ``curve`` a list of
    ``(samples seen, accuracy)``.
    """
    run_s, curve, raster = 0.0, [], {}
    targets = teacher_targets(params, x, y, seed) if params.epochs else None
    points = set(curve_points(params, len(x)).tolist()) if evaluate is not None else set()
    for epoch in range(params.epochs):
        order = rng.permutation(len(x))
        stops = sorted({len(x)} | {p - epoch * len(x) for p in points if 0 < p - epoch * len(x) < len(x)})
        start = 0
        for stop in stops:
            part = order[start:stop]
            phase = run_phase(program, params, state, x[part], targets[part], "train",
                              _phase_seed(seed, f"train{epoch}") + start // params.chunk,
                              raster=params.n_raster if epoch == 0 and start == 0 else 0)
            run_s += phase.run_s
            if epoch == 0 and start == 0:
                first = order[: params.n_raster]
                raster = {**phase.raster, "raster_label": y[first], "raster_target": targets[first]}
            seen = epoch * len(x) + stop
            if seen in points:
                curve.append((seen, evaluate(state)))
            start = stop
    return run_s, curve, raster


# ----------------------------------------------------------------------------
# simulate
# ----------------------------------------------------------------------------


def state_from_run(params, previous):
    """The trained state saved by a previous run (``--from``).

    Raises
    ------
    BrianlabError
        If the run has no saved weights or its network has another shape.
    """
    arrays = previous.arrays
    missing = [k for k in ("w_inp", "w_neg", "hold", "index_train", "index_test") if k not in arrays]
    missing += [_state_key(g, v) for g, v in CARRIED if _state_key(g, v) not in arrays]
    if missing:
        raise BrianlabError(
            f"{previous.path} has no saved weights ({', '.join(missing)} missing from data.npz); "
            "give a complete stdp-digits run directory"
        )
    expected = {"w_inp": (N_PIXELS, params.n_out), "w_neg": (params.n_out, params.n_out), "hold": (params.n_out,)}
    for key, shape in expected.items():
        if arrays[key].shape != shape:
            raise BrianlabError(
                f"saved weights {key} in {previous.path} have shape {arrays[key].shape}, this network needs "
                f"{shape}: set n_class and n_per_class as in that run"
            )
    old = (previous.params.n_class, previous.params.n_per_class)
    if old != (params.n_class, params.n_per_class):
        raise BrianlabError(
            f"{previous.path} was run with n_class={old[0]}, n_per_class={old[1]}: set them as in that run"
        )
    return {f"{g}.{v}": arrays[_state_key(g, v)] for g, v in CARRIED}


def _state_key(group, variable):
    """Name in data.npz of a carried state variable (the weights are saved as matrices too)."""
    return f"state_{group}_{variable}"


def split_from_run(previous):
    """The train/test split a previous run used, so that --from never tests on its training images."""
    return _split(previous.arrays["index_train"], previous.arrays["index_test"])


def weight_matrices(params, state):
    """(w_inp[pixel, output], w_neg[from, to]) from the carried state (Brian's i-major order)."""
    n_out = params.n_out
    w_inp = np.asarray(state["syn_inp.w"]).reshape(N_PIXELS, n_out)
    w_neg = np.zeros((n_out, n_out))
    w_neg[~np.eye(n_out, dtype=bool)] = state["syn_neg.w"]
    return w_inp, w_neg


def accuracy(predicted, labels):
    return float(np.mean(predicted == labels)) if len(labels) else float("nan")


def fit(program, params, state, x, y, seed, evaluate=None):
    """Train ``state`` on ``(x, y)``, then assign each output neuron its class.

    Returns ``(classes, frozen_train, train_s, curve, raster)``: the class of every
    output neuron (from a frozen pass over the training images, Diehl & Cook
    2015), that pass's :class:`Phase`, the wall time of training, the learning
    curve and the raster of the first training samples.
    """
    rng = np.random.default_rng(_phase_seed(seed, "order"))
    train_s, curve, raster = train(program, params, state, x, y, rng, seed, evaluate)
    frozen_train = run_phase(program, params, dict(state), x, None, "frozen", _phase_seed(seed, "train-frozen"))
    classes = neuron_classes(params, frozen_train.counts if params.assign == "response" else None, y)
    return classes, frozen_train, train_s, curve, raster


def simulate(params, session, previous=None):
    """Train, then test frozen and with test-time learning; collect the results.

    With ``previous`` (``--from RUN_DIR``) the run starts from that run's weights
    and thresholds and uses its train/test split; ``epochs`` further epochs of
    training follow (``epochs=0``: test only).
    """
    seed = session.seed
    if previous is not None:
        state = state_from_run(params, previous)
        data = split_from_run(previous)
    else:
        state = initial_state(params, np.random.default_rng(seed))
        data = load_split(params, seed)
    program = make_program(params, session)
    x_tr, y_tr, x_te, y_te = data["x_train"], data["y_train"], data["x_test"], data["y_test"]
    teacher_classes = neuron_classes(params)

    def evaluate(current):
        phase = run_phase(program, params, dict(current), x_te, None, "frozen", _phase_seed(seed, "curve"), shifted=True)
        return accuracy(predict(params, phase.counts, teacher_classes), y_te)

    classes, frozen_train, train_s, curve, raster = fit(program, params, state, x_tr, y_tr, seed, evaluate)
    frozen = run_phase(program, params, dict(state), x_te, None, "frozen", _phase_seed(seed, "test"), shifted=True)
    online_state = dict(state)
    online = run_phase(program, params, online_state, x_te, None, "online", _phase_seed(seed, "test"), shifted=True)
    pred_train = predict(params, frozen_train.counts, classes)
    pred_frozen = predict(params, frozen.counts, classes)
    pred_online = predict(params, online.counts, classes)
    n_trained = params.epochs * len(x_tr)
    metrics = {
        "accuracy_train": accuracy(pred_train, y_tr),
        "accuracy_test_frozen": accuracy(pred_frozen, y_te),
        "accuracy_test_online": accuracy(pred_online, y_te),
        "n_train": int(len(x_tr)),
        "n_test": int(len(x_te)),
        "n_class": params.n_class,
        "n_out": params.n_out,
        "epochs": params.epochs,
        "train_wall_s": train_s,
        "train_samples_per_s": n_trained / train_s if train_s > 0 else float("nan"),
        "test_samples_per_s": len(x_te) / frozen.run_s if frozen.run_s > 0 else float("nan"),
        "from_run": str(previous.path) if previous is not None else "",
    }
    w_inp, w_neg = weight_matrices(params, state)
    w_inp_online, _ = weight_matrices(params, online_state)
    arrays = {
        "w_inp": w_inp, "w_neg": w_neg, "hold": np.asarray(state["outputs.hold"]),
        "w_inp_online": w_inp_online,
        **{_state_key(g, v): np.asarray(state[f"{g}.{v}"]) for g, v in CARRIED},
        "neuron_class": classes,
        "curve_samples": np.array([c[0] for c in curve], int), "curve_accuracy": np.array([c[1] for c in curve]),
        "y_train": y_tr, "y_test": y_te, "index_train": data["index_train"], "index_test": data["index_test"],
        "pred_train": pred_train, "pred_frozen": pred_frozen, "pred_online": pred_online,
        "counts_frozen": frozen.counts, "counts_online": online.counts,
        **raster,
    }
    return Result(metrics=metrics, arrays=arrays)


# ----------------------------------------------------------------------------
# figures
# ----------------------------------------------------------------------------


def plot_weights(record, ax=None, key="w_inp", max_per_class=10):
    """Input weights of the output neurons as 8x8 images, grouped by the class they answer for.

    With one neuron per class the images form a grid; otherwise one row per
    class (at most ``max_per_class`` neurons each).
    """
    data = record.arrays
    w = data[key]
    classes = data["neuron_class"]
    n_class = int(record.params.n_class)
    order = np.argsort(classes, kind="stable")
    if int(record.params.n_per_class) == 1:
        ncols = min(n_class, 5)
        nrows = -(-len(order) // ncols)
        cells = [divmod(k, ncols) for k in range(len(order))]
    else:
        rank = np.zeros(n_class, int)
        cells = []
        for j in order:
            cells.append((int(classes[j]), rank[classes[j]]))
            rank[classes[j]] += 1
        nrows, ncols = n_class, min(max(rank.max(), 1), max_per_class)
    if ax is None:
        fig = plotting.new_axes(figsize=(max(1.2 * ncols + 1.2, 4.5), 1.25 * nrows + 0.6)).figure
        fig.clear()
        ax = fig.subplots(nrows, ncols, squeeze=False)
    axes = np.atleast_2d(ax)
    for a in axes.ravel():
        a.set_axis_off()
    image = None
    for j, (row, col) in zip(order, cells):
        if col >= axes.shape[1]:
            continue
        a = axes[row, col]
        image = a.imshow(w[:, j].reshape(8, 8), cmap="viridis", vmin=0, vmax=float(w.max()) or 1.0)
        a.set_title(f"n{j} -> {classes[j]}", fontsize=7)
    if image is not None:
        axes[0, 0].figure.colorbar(image, ax=axes, shrink=0.6, label="weight")
    axes[0, 0].figure.suptitle("learned input weights (neuron -> its class)", fontsize="medium")
    return axes


def plot_confusion(record, ax=None, key="pred_frozen", title="frozen"):
    """Confusion matrix of the held-out predictions (rows: true class)."""
    ax = plotting.new_axes(ax, figsize=(5, 4.3))
    data = record.arrays
    n_class = int(record.params.n_class)
    matrix = np.zeros((n_class, n_class + 1), int)  # last column: no output spike
    for true, pred in zip(data["y_test"], data[key]):
        matrix[true, pred if pred >= 0 else n_class] += 1
    shown = matrix if matrix[:, -1].any() else matrix[:, :-1]
    image = ax.imshow(shown, cmap="Blues")
    for (r, c), value in np.ndenumerate(shown):
        if value:
            ax.text(c, r, str(value), ha="center", va="center", fontsize=7,
                    color="white" if value > shown.max() / 2 else "black")
    labels = [str(k) for k in range(n_class)] + (["none"] if shown.shape[1] > n_class else [])
    ax.set_xticks(range(shown.shape[1]), labels)
    ax.set_yticks(range(n_class))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    acc = np.mean(data[key] == data["y_test"])
    ax.set_title(f"held-out, {title}: accuracy {acc:.1%} (n={len(data['y_test'])})")
    ax.figure.colorbar(image, ax=ax, shrink=0.8)
    return ax


def plot_curve(record, ax=None):
    """Held-out frozen accuracy against training images shown, and the final accuracies."""
    ax = plotting.new_axes(ax)
    data, metrics = record.arrays, record.metrics
    seen = data["curve_samples"]
    if len(seen):
        ax.plot(seen, data["curve_accuracy"] * 100, "o-", color="C0", label="held-out, frozen, during training")
    last = seen[-1] if len(seen) else 0
    for key, marker, color, label in (("accuracy_train", "s", "C1", "train, frozen"),
                                      ("accuracy_test_frozen", "D", "C2", "held-out, frozen"),
                                      ("accuracy_test_online", "^", "C3", "held-out, online learning")):
        ax.plot([last], [metrics[key] * 100], marker, color=color, label=f"{label}: {metrics[key]:.1%}")
    ax.axhline(100 / int(record.params.n_class), color="0.6", ls=":", label="chance")
    ax.set_xscale("symlog", linthresh=max(int(record.params.chunk), 1))
    ax.set_xlabel("training images shown")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 101)
    ax.legend(frameon=False, fontsize="small", loc="lower right")
    ax.set_title(f"accuracy during training ({metrics['n_train']} training images per epoch)")
    return ax


def plot_raster(record, ax=None):
    """Input and output spikes of the first training samples, teacher windows shaded."""
    data = record.arrays
    params = record.params
    if ax is None:
        fig = plotting.new_axes(figsize=(8, 5)).figure
        fig.clear()
        ax = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    ax_in, ax_out = ax
    if "raster_inp_t" not in data:
        ax_in.text(0.5, 0.5, "no training in this run", ha="center", transform=ax_in.transAxes)
        return ax
    plotting.raster(data["raster_inp_t"] * 1e3, data["raster_inp_i"], ax=ax_in, alpha=0.6)
    ax_in.set_ylabel("pixel")
    ax_in.set_xlabel("")
    plotting.raster(data["raster_out_t"] * 1e3, data["raster_out_i"], ax=ax_out, color="C3")
    ax_out.set_ylabel("output neuron")
    slot_ms = float(SLOT / ms)
    for k, label in enumerate(data["raster_label"]):
        t0 = k * SLOTS_PER_SAMPLE * slot_ms
        ax_in.axvspan(t0, t0 + slot_ms, color="0.9", zorder=-1)
        for j in np.flatnonzero(data["raster_target"][k]):
            height = max(1.0, params.n_out / 25)
            ax_out.add_patch(_teacher_patch(t0, slot_ms, j - height / 2, height))
        ax_in.text(t0 + slot_ms / 2, 65, f"digit {label}", ha="center", va="bottom", fontsize=8)
    ax_out.set_ylim(-0.5, params.n_out - 0.5)
    ax_in.set_ylim(-0.5, 70)
    ax_out.legend(handles=[_teacher_patch(0, 0, 0, 0)], frameon=False, fontsize="small", loc="upper right")
    ax_in.set_title("first training samples: image shown (grey), teacher on (orange)")
    return ax


def _teacher_patch(t0, width, y0, height):
    from matplotlib.patches import Rectangle

    return Rectangle((t0, y0), width, height, color="C1", alpha=0.35, label="teacher current", zorder=-1)


def figures(record, out_dir):
    """Weights, confusion matrices, learning curve and raster into ``out_dir``."""
    return [
        plotting.save(plot_weights(record), out_dir / "weights.png"),
        plotting.save(plot_confusion(record), out_dir / "confusion_frozen.png"),
        plotting.save(plot_confusion(record, key="pred_online", title="online learning"), out_dir / "confusion_online.png"),
        plotting.save(plot_curve(record), out_dir / "accuracy.png"),
        plotting.save(plot_raster(record), out_dir / "raster.png"),
    ]


# ----------------------------------------------------------------------------
# scikit-learn estimator
# ----------------------------------------------------------------------------


class STDPDigitClassifier(ClassifierMixin, BaseEstimator):
    """The ``stdp-digits`` network as a scikit-learn classifier of 8x8 images.

    Parameters
    ----------
    n_per_class : int
        Output neurons per class.
    epochs : int
        Passes over the training images.
    settings : tuple of str
        Further ``name=value`` parameters of :class:`STDPDigitsParams`, as for
        ``brianlab run --set`` (e.g. ``("lr=0.002",)``).
    device : str
        Brian device to simulate on (``runtime``, ``cpp_standalone``, ``cuda_standalone``).
    random_state : int, RandomState or None
        Seeds the initial weights and every Poisson input.

    Attributes
    ----------
    classes_ : ndarray
        The class labels seen by :meth:`fit`.
    weights_ : ndarray (64, n_out)
        Learned input weights.
    state_ : dict
        The trained network state (weights, thresholds, traces) as run_args values.
    neuron_class_ : ndarray (n_out,)
        Index into ``classes_`` that each output neuron answers for.
    n_features_in_ : int
        64.

    Notes
    -----
    ``X`` holds pixel intensities 0..16, as ``sklearn.datasets.load_digits``.
    Each :meth:`fit` and :meth:`predict` opens its own device session (on
    standalone devices: one compilation each).
    """

    def __init__(self, n_per_class=8, epochs=1, settings=(), device="runtime", random_state=None):
        self.n_per_class = n_per_class
        self.epochs = epochs
        self.settings = settings
        self.device = device
        self.random_state = random_state

    def _params(self, n_class):
        from brianlab.params import apply_assignments

        return apply_assignments(STDPDigitsParams, [
            *self.settings, f"n_class={n_class}", f"n_per_class={self.n_per_class}", f"epochs={self.epochs}",
        ])

    def _session(self, seed, build_root):
        from brianlab.devices import DeviceSession

        return DeviceSession(self.device, build_root=build_root, seed=seed, progress=False)

    def fit(self, X, y):
        """Train on images ``X`` (n, 64; pixels 0..16) with labels ``y``; return self."""
        import tempfile

        from sklearn.utils import check_random_state
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import check_X_y

        X, y = check_X_y(X, y)
        check_classification_targets(y)
        _check_pixels(X)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if not 2 <= len(self.classes_) <= 10:
            raise ValueError(f"STDPDigitClassifier handles 2 to 10 classes, got {len(self.classes_)}")
        params = self._params(len(self.classes_))
        seed = int(check_random_state(self.random_state).randint(2**31 - 1000))
        state = initial_state(params, np.random.default_rng(seed))
        with tempfile.TemporaryDirectory() as root, self._session(seed, root) as session:
            program = make_program(params, session)
            classes, _, _, _, _ = fit(program, params, state, X, y_index, seed)
        self.state_ = state
        self.weights_, _ = weight_matrices(params, state)
        self.neuron_class_ = classes
        self.n_features_in_ = N_PIXELS
        self.seed_ = seed
        return self

    def predict(self, X):
        """Class of each image in ``X`` (frozen network: no teacher, no plasticity)."""
        import tempfile

        from sklearn.utils.validation import check_array, check_is_fitted

        check_is_fitted(self, "state_")
        X = check_array(X)
        _check_pixels(X)
        params = self._params(len(self.classes_))
        seed = _phase_seed(self.seed_, "predict")
        with tempfile.TemporaryDirectory() as root, self._session(seed, root) as session:
            program = make_program(params, session)
            phase = run_phase(program, params, dict(self.state_), X, None, "frozen", seed)
        predicted = predict(params, phase.counts, self.neuron_class_)
        # no output spike: the most frequent class of the neurons (a guess, not -1, for sklearn's scorers)
        predicted[predicted < 0] = np.bincount(self.neuron_class_).argmax()
        return self.classes_[predicted]


def _check_pixels(X):
    if X.shape[1] != N_PIXELS:
        raise ValueError(f"STDPDigitClassifier takes 8x8 images as {N_PIXELS} features, got {X.shape[1]}")
    if X.min() < 0 or X.max() > PIXEL_MAX:
        raise ValueError(f"pixel values must lie in 0..{PIXEL_MAX:g} (as load_digits), got {X.min()}..{X.max()}")


MODEL = Model(
    name="stdp-digits",
    summary="STDP digit classifier (8x8 digits): teacher current, lateral inhibition, test-time learning",
    params=STDPDigitsParams,
    simulate=simulate,
    figures=figures,
    accepts_from=True,
    sweepable=SWEEPABLE,
    recordings=recordings,
)
