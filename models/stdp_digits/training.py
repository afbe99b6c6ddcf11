"""Training, read-out and evaluation of ``stdp-digits``: phases run through one compiled program."""

from __future__ import annotations

import dataclasses
import zlib
from typing import NamedTuple

import numpy as np
from brian2 import Hz

from brianlab.errors import BrianlabError
from brianlab.params import structure_key

from .network import CARRIED, SLOT, SLOTS_PER_SAMPLE, SWEEPABLE, build, constants


@dataclasses.dataclass
class Phase:
    """What one pass over a set of images recorded.

    ``counts[k, j]``: spikes of output ``j`` while image ``k`` was shown;
    ``trace[k, j]`` (``readout="trace"`` only): the mean of output ``j``'s trace
    ``a`` over the last 5 ms of image ``k`` (see :func:`trace_at_image_end`).
    """

    counts: np.ndarray
    run_s: float
    raster: dict
    trace: np.ndarray | None = None


def initial_state(params, rng):
    """The state before any training: random weights, thresholds at ``hold_init``, all else 0."""
    n_out = params.n_out
    sizes = {"inputs": params.n_inputs, "outputs": n_out}
    state = {f"{g}.{v}": np.zeros(sizes[g]) for g, v in CARRIED if g in sizes}  # traces, v, currents
    return with_norms(params, {
        **state,
        "syn_inp.w": rng.uniform(0, params.w_init, params.n_inputs * n_out),
        "syn_neg.w": np.full(n_out * (n_out - 1), params.w_neg_init),
        "outputs.hold": np.full(n_out, params.hold_init),
    })


def with_norms(params, state):
    """``state`` with each output's squared input-weight norm ``outputs.w_sq`` computed from its weights."""
    w = np.asarray(state["syn_inp.w"]).reshape(params.n_inputs, params.n_out)
    return {**state, "outputs.w_sq": (w**2).sum(axis=0)}


class InputNormaliser:
    """Online, unsupervised normalisation of the input rates (``online`` with ``input_norm``).

    It sees the rates of the images and of the silent slots between them, as
    they arrive, and never a label. Before each sample it subtracts its running
    estimate of each pixel's background (the mean rate in the silent slots seen
    so far) and scales by ``reference / signal``, ``signal`` being the running
    mean over the images seen so far of their mean rate above background, and
    ``reference`` the same for the training images. The estimates are
    exponential running means over about ``window`` samples. Before the first
    sample it passes the rates through unchanged.
    """

    def __init__(self, reference: float, n_inputs: int, window: int):
        self.reference = float(reference)
        self.window = max(int(window), 1)
        self.background = np.zeros(n_inputs)
        self.image = np.zeros(n_inputs)
        self.n_seen = 0

    def __call__(self, rates: np.ndarray, n: int) -> np.ndarray:
        """Normalise the ``n`` samples of one chunk's rates (slots x pixels, Hz), in order."""
        out = np.array(rates, dtype=float)
        for k in range(n):
            image, silent = 2 * k, 2 * k + 1
            signal = float(np.mean(self.image - self.background))
            gain = self.reference / signal if self.n_seen and signal > 0 else 1.0
            for slot in (image, silent):
                out[slot] = np.maximum(rates[slot] - self.background, 0.0) * gain
            weight = 1.0 / min(self.n_seen + 1, self.window)
            self.image += weight * (rates[image] - self.image)
            self.background += weight * (rates[silent] - self.background)
            self.n_seen += 1
        out[2 * n :] = 0.0
        return out


def pixel_rate_scale(params) -> float:
    """Input rate per unit pixel value, Hz (``rate_max`` at the dataset's pixel maximum)."""
    return float(params.rate_max / Hz) / params.pixel_max


def schedules(params, images, targets, mode, shifted=False, normaliser=None):
    """TimedArray contents for one chunk: images (<= chunk of them) in ``mode``.

    ``mode`` is ``train`` (teacher onto ``targets``, a samples x outputs 0/1
    array; plasticity 1), ``frozen`` (neither) or ``online`` (no teacher;
    plasticity ``plastic_online`` if ``params.online`` includes ``stdp``).
    Unused slots are silent. ``shifted`` applies the test shift (``contrast``,
    ``noise_rate``); ``normaliser`` (an :class:`InputNormaliser`) then
    normalises the rates the network receives.
    """
    n_slots = params.chunk * SLOTS_PER_SAMPLE
    n = len(images)
    rates = np.full((n_slots, params.n_inputs), float(params.noise_rate / Hz) if shifted else 0.0)
    rates[2 * n :] = 0.0
    scale = pixel_rate_scale(params) * (params.contrast if shifted else 1.0)
    rates[0 : 2 * n : 2] += np.asarray(images, float) * scale
    if normaliser is not None:
        rates = normaliser(rates, n)
    teacher = np.zeros((n_slots, params.n_out))
    if mode == "train":
        teacher[0 : 2 * n : 2] = np.asarray(targets) * params.teacher_current
    online_stdp = params.plastic_online if "stdp" in params.online else 0.0
    factor = {"train": 1.0, "frozen": 0.0, "online": online_stdp}[mode]
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


#: The notebook's read-out window: the trace ``a`` over the last 5 ms of each image.
TRACE_WINDOW_STEPS = 50


def trace_at_image_end(params, spike_i, spike_t, n_samples):
    """Mean of each output's trace ``a`` over the last 5 ms of each image (samples x outputs).

    The notebook's read-out (``argmax`` of ``StateMonitor.a[:, -50:]`` averaged,
    at the end of each image), computed from the output spikes: ``a`` grows by
    ``trace_inc`` at a spike (in the step's reset) and decays with ``alpha``, so
    as a StateMonitor records it at the start of step ``t`` it is the sum of
    ``trace_inc*exp(-(t - s - 1)*dt/alpha)`` over the spikes of earlier steps
    ``s``. Spikes of the sample and of the one before count; older ones have
    decayed below ``exp(-10)`` of their size. The window is 50 steps of
    ``params.dt`` ending where the image ends (5 ms at the default 0.1 ms).
    """
    dt = float(params.dt)
    steps = np.round(np.asarray(spike_t) / dt).astype(np.int64)
    index = np.asarray(spike_i, dtype=np.int64)
    per_sample = int(round(float(SLOT * SLOTS_PER_SAMPLE) / dt))
    window_end = int(round(float(SLOT) / dt))  # the image's last step + 1, within a sample
    decay_steps = float(params.alpha) / dt
    trace = np.zeros((n_samples, params.n_out))
    own = steps // per_sample
    for later in (0, 1):  # the spike's own sample, and the next one
        sample = own + later
        keep = sample < n_samples
        for m in range(window_end - TRACE_WINDOW_STEPS, window_end):
            when = sample[keep] * per_sample + m  # a step of the window
            lag = when - steps[keep]
            seen = lag > 0  # a spike shows in the trace from the next step on
            np.add.at(trace, (sample[keep][seen], index[keep][seen]),
                      params.trace_inc * np.exp(-(lag[seen] - 1) / decay_steps) / TRACE_WINDOW_STEPS)
    return trace


def run_phase(program, params, state, images, targets, mode, seed, raster=0, shifted=False, normaliser=None):
    """Show ``images`` chunk by chunk; update ``state`` in place; return a :class:`Phase`.

    Parameters
    ----------
    program : brianlab.simulation.Program
    state : dict
        ``{"group.variable": values}`` carried between runs (see :data:`CARRIED`).
    images : array (n, n_inputs)
        Pixels 0..``params.pixel_max``.
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
    normaliser : InputNormaliser, optional
        Normalises the rates online (updated in place, chunk after chunk).
    """
    counts = []
    traces = []
    kept = {}
    run_s = program.run_s
    plastic = mode == "train" or (mode == "online" and "stdp" in params.online)
    for k, start in enumerate(range(0, len(images), params.chunk)):
        part = slice(start, start + params.chunk)
        values = {**constants(params), **state,
                  **schedules(params, images[part], None if targets is None else targets[part], mode, shifted,
                              normaliser)}
        monitors = program.run(values, seed=seed + k)
        n = len(images[part])
        counts.append(count_spikes(params, monitors.out_spikes.i[:], monitors.out_spikes.t[:], n))
        if params.readout == "trace":
            traces.append(trace_at_image_end(params, monitors.out_spikes.i[:], monitors.out_spikes.t[:], n))
        if plastic:
            state.update({f"{g}.{v}": np.array(getattr(program.network[g], v)[:]) for g, v in CARRIED})
        if k == 0 and raster:
            kept = _raster(params, monitors, min(raster, n))
    empty = np.zeros((0, params.n_out))
    return Phase(np.concatenate(counts) if counts else empty.astype(int), program.run_s - run_s, kept,
                 (np.concatenate(traces) if traces else empty) if params.readout == "trace" else None)


def _raster(params, monitors, n_samples):
    end = float(n_samples * SLOTS_PER_SAMPLE * SLOT)
    out = {}
    for name, mon in (("inp", monitors.inp_spikes), ("out", monitors.out_spikes)):
        t = np.asarray(mon.t[:])
        keep = t < end
        out[f"raster_{name}_t"] = t[keep]
        out[f"raster_{name}_i"] = np.asarray(mon.i[:])[keep]
    return out


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


def predict_classes(params, counts: np.ndarray, classes: np.ndarray) -> np.ndarray:
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


def predict_phase(params, phase: Phase, classes: np.ndarray) -> np.ndarray:
    """Predicted class per sample of ``phase`` by ``params.readout``.

    ``count``: :func:`predict_classes` on the spike counts. ``trace`` (the
    notebook's): the class of the output with the largest trace at the end of
    the image; a sample that left every trace at 0 is predicted as -1.
    """
    if params.readout == "count":
        return predict_classes(params, phase.counts, classes)
    predicted = np.asarray(classes)[phase.trace.argmax(axis=1)] if len(phase.trace) else np.zeros(0, int)
    predicted[phase.trace.max(axis=1, initial=0.0) <= 0] = -1
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


def expected_runs(params, n_train, n_val, n_test, curve=True):
    """Program runs of a whole ``simulate``: training (split at the curve points), the
    validation curve, the frozen pass over the training images, two passes over the
    validation images and two over the test images.

    For the progress bar (``session.phase(..., expect_s=...)``); mirrors :func:`train`'s chunking.
    """
    def runs(n):
        return -(-n // params.chunk) if n else 0

    points = set(curve_points(params, n_train).tolist()) if curve and n_val else set()
    total = 0
    for epoch in range(params.epochs):
        stops = sorted({n_train} | {p - epoch * n_train for p in points if 0 < p - epoch * n_train < n_train})
        total += sum(runs(b - a) for a, b in zip([0, *stops[:-1]], stops))
    n_curve = sum(1 for p in points if 0 < p <= params.epochs * n_train)
    return total + n_curve * runs(n_val) + runs(n_train) + 2 * runs(n_val) + 2 * runs(n_test)


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
        program.session.phase(f"training, epoch {epoch + 1}/{params.epochs}")
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


def state_from_run(params, previous):
    """The trained state saved by a previous run (``--from``).

    Raises
    ------
    BrianlabError
        If the run has no saved weights or its network has another shape.
    """
    arrays = previous.arrays
    missing = [k for k in ("w_inp", "w_neg", "hold", "index_train", "index_val", "index_test") if k not in arrays]
    missing += [_state_key(g, v) for g, v in CARRIED if _state_key(g, v) not in arrays]
    if missing:
        raise BrianlabError(
            f"{previous.path} has no saved weights ({', '.join(missing)} missing from data.npz); "
            "give a complete stdp-digits run directory"
        )
    expected = {"w_inp": (params.n_inputs, params.n_out), "w_neg": (params.n_out, params.n_out), "hold": (params.n_out,)}
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



def weight_matrices(params, state):
    """(w_inp[pixel, output], w_neg[from, to]) from the carried state (Brian's i-major order)."""
    n_out = params.n_out
    w_inp = np.asarray(state["syn_inp.w"]).reshape(params.n_inputs, n_out)
    w_neg = np.zeros((n_out, n_out))
    w_neg[~np.eye(n_out, dtype=bool)] = state["syn_neg.w"]
    return w_inp, w_neg


def accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of ``predicted`` equal to ``labels`` (nan for no labels)."""
    return float(np.mean(predicted == labels)) if len(labels) else float("nan")


def fit_network(program, params, state, x, y, seed, validation=None):
    """Train ``state`` on ``(x, y)``, then assign each output neuron its class.

    The training path: it receives the training images and, for the learning
    curve, the validation images ``validation = (x_val, y_val)`` (shown frozen,
    with the test shift, at :func:`curve_points`), never a test image.

    Returns
    -------
    Fitted
        The class of every output neuron (from its teacher, or with
        ``assign=response`` from a frozen pass over the training images, Diehl
        & Cook 2015), that pass's :class:`Phase`, the run time of training and
        of the learning-curve passes, the learning curve and the raster of the
        first training samples.
    """
    rng = np.random.default_rng(_phase_seed(seed, "order"))
    curve_s = [0.0]
    evaluate = None
    if validation is not None and len(validation[1]):
        x_val, y_val = validation
        teacher_classes = neuron_classes(params)

        def evaluate_on_validation(current):
            phase = run_phase(program, params, dict(current), x_val, None, "frozen", _phase_seed(seed, "curve"),
                              shifted=True)
            curve_s[0] += phase.run_s
            return accuracy(predict_phase(params, phase, teacher_classes), y_val)

        evaluate = evaluate_on_validation

    train_s, curve, raster = train(program, params, state, x, y, rng, seed, evaluate)
    program.session.phase("frozen pass over the training images")
    frozen_train = run_phase(program, params, dict(state), x, None, "frozen", _phase_seed(seed, "train-frozen"))
    classes = neuron_classes(params, frozen_train.counts if params.assign == "response" else None, y)
    return Fitted(classes, frozen_train, train_s, curve_s[0], curve, raster)


class Fitted(NamedTuple):
    """What :func:`fit_network` returns."""

    classes: np.ndarray
    frozen_train: Phase
    train_s: float
    curve_s: float
    curve: list
    raster: dict
