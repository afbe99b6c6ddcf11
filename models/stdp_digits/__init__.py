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

from typing import Literal

import numpy as np
from brian2 import Hz, Quantity, ms

from brianlab.model import Model, Result
from brianlab.params import parameters

from . import diehl_cook
from .data import load_split, split_from_run
from .estimator import STDPDigitClassifier
from .figures import figures, plot_confusion, plot_curve, plot_raster, plot_weights
from .network import (
    CARRIED, N_PIXELS, PIXEL_MAX, SLOT, SLOTS_PER_SAMPLE, SWEEPABLE, STDPMonitors, build, constants,
)
from .training import (
    Phase, _phase_seed, _state_key, accuracy, count_spikes, curve_points, fit_network, initial_state,
    make_program, neuron_classes, predict_classes, run_phase, schedules, state_from_run, teacher_targets, train,
    weight_matrices, with_norms,
)


@parameters
class STDPDigitsParams:
    """Parameters of the ``stdp-digits`` model (notebook values where they differ are noted)."""

    architecture: Literal["suite", "diehl-cook"] = "suite"  # the suite's network, or Diehl & Cook 2015 on MNIST (diehl_cook.py; uses n_train, epochs, --seed)
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


def simulate(params, session, previous=None):
    """Train, then test frozen and with test-time learning; collect the results.

    With ``previous`` (``--from RUN_DIR``) the run starts from that run's weights
    and thresholds and uses its train/test split; ``epochs`` further epochs of
    training follow (``epochs=0``: test only).
    """
    if params.architecture == "diehl-cook":
        return diehl_cook.simulate(params, session, previous)
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
        return accuracy(predict_classes(params, phase.counts, teacher_classes), y_te)

    classes, frozen_train, train_s, curve, raster = fit_network(program, params, state, x_tr, y_tr, seed, evaluate)
    frozen = run_phase(program, params, dict(state), x_te, None, "frozen", _phase_seed(seed, "test"), shifted=True)
    online_state = dict(state)
    online = run_phase(program, params, online_state, x_te, None, "online", _phase_seed(seed, "test"), shifted=True)
    pred_train = predict_classes(params, frozen_train.counts, classes)
    pred_frozen = predict_classes(params, frozen.counts, classes)
    pred_online = predict_classes(params, online.counts, classes)
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


MODEL = Model(
    name="stdp-digits",
    summary="STDP digit classifier (8x8 digits): teacher current, lateral inhibition, test-time learning",
    params=STDPDigitsParams,
    simulate=simulate,
    figures=lambda record, out_dir: (diehl_cook.figures if record.params.architecture == "diehl-cook"
                                     else figures)(record, out_dir),
    accepts_from=True,
    sweepable=SWEEPABLE,
)
