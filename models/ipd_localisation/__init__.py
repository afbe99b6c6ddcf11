"""Sound localisation from the interaural phase difference under Dale's law (``ipd-localisation``).

A tone reaches two ears; 2 x ``anf_per_ear`` auditory-nerve fibres with graded
phase delays spike with a phase-locked probability (:mod:`.inputs`). A layer of
``n_hidden`` LIF units and ``n_classes`` leaky read-out units classifies the IPD
into 15-degree classes. ``mode="trained"`` uses weights trained with surrogate
gradients in PyTorch (:mod:`.training`; ``weights=train``), the weights shipped
with brianlab (``weights=shipped``), a weights file, or a previous run
(``--from``); ``mode="jeffress"`` uses hand-built coincidence detectors
(:mod:`.jeffress`). Either way the test set is classified by the Brian2 network
(:mod:`.network`) on the chosen device and compared with the same network in
discrete time (:mod:`.reference`, and PyTorch where installed): same hidden
spikes, same predictions.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Literal

import numpy as np
from brian2 import Hz, Quantity, ms, second

from brianlab.errors import BrianlabError
from brianlab.model import Model, Result
from brianlab.params import parameters, structure_key
from brianlab.recordings import SpikeTrains

from . import inputs, jeffress, reference
from .network import (
    Layout,
    build_network,
    decode_hidden_spikes,
    decode_readout,
    fibre_values,
    pack_spikes,
    row_order,
    synapse_weights,
    window_table,
)
from .weights import check_shapes, load_weights, shipped_path

__all__ = ["IPDParams", "MODEL", "build", "run_values", "sweepable", "TINY", "Weights", "get_weights"]


@parameters
class IPDParams:
    """Parameters of the ``ipd-localisation`` model."""

    mode: Literal["trained", "jeffress"] = "trained"  # trained network, or hand-built coincidence detectors (--preset jeffress)
    weights: str = "shipped"  # 'shipped', 'train' (train now; needs torch), or the path of an .npz
    anf_per_ear: int = 100  # auditory-nerve fibres per ear
    f: Quantity = 20 * Hz  # tone frequency
    rate_max: Quantity = 600 * Hz  # peak firing rate of a fibre
    envelope_power: float = 2.0  # exponent of the phase envelope (higher: sharper)
    duration: Quantity = 100 * ms  # length of one sample
    dt: Quantity = 1 * ms  # time step (of the input, the training and the Brian2 network)
    phase: Literal["per_set", "per_sample"] = "per_set"  # one random starting phase per set (notebook) or per sample
    n_hidden: int = 30  # hidden LIF units (jeffress: coincidence detectors, one per fibre pair)
    n_classes: int = 12  # IPD classes over (-90, 90) degrees
    tau_hidden: Quantity = 5 * ms  # membrane time constant of the hidden units
    tau_out: Quantity = 5 * ms  # time constant of the read-out units
    reset: Literal["notebook", "immediate"] = "notebook"  # notebook: spike and reset lag the potential by a step
    ie_ratio: float = 0.5  # fraction of inhibitory presynaptic rows (input fibres, hidden units)
    dale: Literal["both", "input", "hidden", "none"] = "both"  # which layers' rows have a fixed sign
    positive: Literal["abs", "softplus", "exp"] = "softplus"  # map from a free parameter to a weight magnitude
    epochs: int = 30  # training epochs (at most)
    lr: float = 0.01  # Adam learning rate
    batch: int = 64  # samples per batch
    n_train_batches: int = 64  # batches of training data (and as many of validation data)
    surrogate_beta: float = 5.0  # steepness of the sigmoid surrogate gradient
    patience: int = 10  # early stop when the oldest of this many validation losses is the lowest
    n_test: int = 2048  # test samples, all classified in one Brian2 run
    input: Literal["replay", "poisson"] = "replay"  # replay the generator's spikes, or draw them in Brian2
    n_parallel: int = 64  # copies of the network side by side in one run (samples per window)

    def __post_init__(self):
        if not 0 <= self.ie_ratio <= 1:
            raise ValueError(f"ie_ratio is a fraction of rows, between 0 and 1; got {self.ie_ratio}")
        for name in ("anf_per_ear", "n_hidden", "n_classes", "batch", "n_train_batches", "n_test", "n_parallel",
                     "epochs", "patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1; got {getattr(self, name)}")
        if self.dt <= 0 * ms or self.duration < 2 * self.dt:
            raise ValueError("dt must be positive and duration at least two steps")
        if self.tau_hidden <= 0 * ms or self.tau_out <= 0 * ms:
            raise ValueError("tau_hidden and tau_out must be positive")
        if self.mode == "jeffress":
            if alphas(self)[0] >= jeffress.max_alpha():
                limit = float(self.dt) / np.log(1 / jeffress.max_alpha()) * 1e3
                raise ValueError(
                    f"mode=jeffress detects coincidences within one time step, so tau_hidden must be below "
                    f"{limit:.2f} ms at this dt (got {float(self.tau_hidden) * 1e3:g} ms); use --preset jeffress "
                    "(tau_hidden=1*ms, n_hidden=2000)")
            if self.n_hidden > self.anf_per_ear**2:
                raise ValueError(f"mode=jeffress has one detector per fibre pair: n_hidden can be at most "
                                 f"anf_per_ear**2 = {self.anf_per_ear**2}; got {self.n_hidden}")
        if float(self.rate_max * self.dt) > 1:
            raise ValueError(f"rate_max*dt is a probability per step and must be <= 1; got {float(self.rate_max * self.dt):g}")


#: ``--preset jeffress``: the hand-built coincidence-detector baseline (:mod:`.jeffress`), with
#: the time constant and detector count chosen on validation (``bench/ipd_jeffress_pairs.py``).
JEFFRESS = ("mode=jeffress", "tau_hidden=1*ms", "n_hidden=2000")

#: A run of a few seconds on runtime and cpp_standalone (shipped weights, 64 test samples).
TINY = {"n_test": "64", "n_parallel": "32"}


def input_spec(params: IPDParams) -> inputs.InputSpec:
    """The generator's constants for ``params``."""
    return inputs.InputSpec(
        anf_per_ear=params.anf_per_ear, f=float(params.f), rate_max=float(params.rate_max),
        envelope_power=float(params.envelope_power), duration=float(params.duration), dt=float(params.dt),
        n_classes=params.n_classes, phase=params.phase,
    )


def alphas(params: IPDParams) -> tuple[float, float]:
    """``exp(-dt/tau)`` of the hidden and read-out layers."""
    return float(np.exp(-float(params.dt) / float(params.tau_hidden))), float(np.exp(-float(params.dt) / float(params.tau_out)))


def layout(params: IPDParams) -> Layout:
    """How the ``n_test`` samples are spread over parallel copies and windows."""
    spec = input_spec(params)
    parallel = min(params.n_parallel, params.n_test)
    return Layout(spec.n_inputs, params.n_hidden, params.n_classes, spec.n_steps, parallel,
                  -(-params.n_test // parallel))


# -- the Brian2 program -----------------------------------------------------------

_ALWAYS_SWEEPABLE = ("weights", "positive", "epochs", "lr", "batch", "n_train_batches", "surrogate_beta",
                     "patience", "phase")


def inhibitory_rows(params: IPDParams) -> tuple[int | None, int | None]:
    """Inhibitory rows of W1 and W2 in the compiled network (None: that layer has no fixed sign)."""
    if params.mode == "jeffress":
        return 0, 0
    n_in = 2 * params.anf_per_ear
    n_inh_in = int(n_in * params.ie_ratio) if params.dale in ("both", "input") else None
    n_inh_hidden = int(params.n_hidden * params.ie_ratio) if params.dale in ("both", "hidden") else None
    return n_inh_in, n_inh_hidden


def sweepable(params: IPDParams) -> tuple[str, ...]:
    """Parameters that reach the compiled program as run_args values.

    Weights and test inputs are values, so everything that only changes them is
    sweepable; with replayed input that includes the tone's constants. The
    number of inhibitory rows (``ie_ratio``, ``dale``, ``mode``) shapes the synapses.
    """
    if params.input == "replay":
        return _ALWAYS_SWEEPABLE + ("f", "rate_max", "envelope_power")
    return _ALWAYS_SWEEPABLE


def build(params: IPDParams):
    """The Brian2 network of ``params`` (on the default clock); returns ``(Network, IPDMonitors)``."""
    spec = input_spec(params)
    tone = None
    if params.input == "poisson":
        tone = {"f_tone": params.f, "rate_max": params.rate_max, "envelope_power": float(params.envelope_power),
                "phase_delays": spec.phase_delays(), "right_ear": spec.right_ear()}
    n_inh_in, n_inh_hidden = inhibitory_rows(params)
    return build_network(layout(params), params.dt, params.tau_hidden, params.tau_out, n_inh_in, n_inh_hidden,
                         reset=params.reset, input_mode=params.input, tone=tone, name="ipd_localisation",
                         connectivity=connectivity(params))


def connectivity(params: IPDParams):
    """The synapses of one copy in the Brian2 order: ``(mask1, mask2)`` in jeffress mode, else None (all pairs).

    The Jeffress detectors' fixed orders are identities (no inhibitory rows), so
    the masks of :func:`jeffress.connectivity` are already in the Brian2 order.
    """
    if params.mode != "jeffress":
        return None
    return jeffress.connectivity(input_spec(params), params.n_hidden)


@dataclasses.dataclass(frozen=True)
class Weights:
    """Signed weights and where they came from."""

    w1: np.ndarray
    w2: np.ndarray
    sign1: np.ndarray
    sign2: np.ndarray
    source: str
    info: dict
    training: object = None  # a training.TrainResult when trained in this run


def get_weights(params: IPDParams, seed: int = 0, previous=None, log=None) -> Weights:
    """The weights a run uses: hand-built, from ``--from``, trained now, or from a file."""
    spec = input_spec(params)
    if params.mode == "jeffress":
        w1, w2 = jeffress.jeffress_weights(spec, params.n_hidden)
        weights = Weights(w1, w2, np.ones(len(w1)), np.ones(len(w2)), "jeffress", {})
    elif previous is not None:
        data = previous.arrays
        if "w1" not in data or "w2" not in data:
            raise BrianlabError(f"{previous.path} has no saved weights (w1, w2 missing from data.npz)")
        weights = Weights(data["w1"], data["w2"], data.get("sign1", np.zeros(len(data["w1"]))),
                          data.get("sign2", np.zeros(len(data["w2"]))), str(previous.path), {})
    elif params.weights == "train":
        weights = train_weights(params, seed, log)
    else:
        path = shipped_path() if params.weights == "shipped" else params.weights
        w1, w2, sign1, sign2, info = load_weights(path)
        weights = Weights(w1, w2, sign1, sign2, str(path), info)
    check_shapes(weights.w1, weights.w2, spec.n_inputs, params.n_hidden, params.n_classes, weights.source)
    for layer, sign, w, n_inh in zip(("W1", "W2"), (weights.sign1, weights.sign2), (weights.w1, weights.w2),
                                     inhibitory_rows(params)):
        if n_inh is not None and (int(np.sum(sign < 0)) != n_inh or np.any(w * np.asarray(sign)[:, None] < 0)):
            raise BrianlabError(
                f"weights from {weights.source}: {layer} has {int(np.sum(np.asarray(sign) < 0))} inhibitory rows "
                f"(sign-constrained: {bool(np.any(sign != 0))}), but ie_ratio={params.ie_ratio:g} with dale={params.dale} "
                f"needs {n_inh}; set ie_ratio and dale as they were trained"
            )
    return weights


def train_weights(params: IPDParams, seed: int, log=None) -> Weights:
    """Train on fresh data (train and validation streams of ``seed``); needs torch."""
    from . import training

    training.require_torch()
    spec = input_spec(params)
    n_train = params.batch * params.n_train_batches
    train_set = inputs.generate(spec, n_train, inputs.stream(seed, 0))
    val_set = inputs.generate(spec, n_train, inputs.stream(seed, 1))
    masks = inputs.stream(seed, 3)
    sign1 = training.sign_mask(spec.n_inputs, params.ie_ratio, masks)
    sign2 = training.sign_mask(params.n_hidden, params.ie_ratio, masks)
    if params.dale in ("hidden", "none"):
        sign1 = np.zeros_like(sign1)
    if params.dale in ("input", "none"):
        sign2 = np.zeros_like(sign2)
    alpha_h, alpha_o = alphas(params)
    config = training.TrainConfig(
        n_hidden=params.n_hidden, n_classes=params.n_classes, alpha_hidden=alpha_h, alpha_out=alpha_o,
        reset=params.reset, ie_ratio=params.ie_ratio, dale=params.dale, positive=params.positive,
        epochs=params.epochs, lr=params.lr, batch=params.batch, surrogate_beta=params.surrogate_beta,
        patience=params.patience,
    )
    result = training.train(config, train_set, val_set, sign1, sign2, seed, log)
    acc = {}
    for name, data in (("train", train_set), ("val", val_set)):
        _, out = reference.forward(data.spikes, result.w1, result.w2, alpha_h, alpha_o, params.reset)
        acc[name] = float(np.mean(reference.predict(out) == data.labels))
    info = {"accuracy_train": acc["train"], "accuracy_val": acc["val"], "train_wall_s": result.wall_s,
            "best_epoch": result.best_epoch, "stopped_early": result.stopped_early, "seed": int(seed)}
    return Weights(result.w1, result.w2, result.sign1, result.sign2, "trained", info, result)


def run_values(params: IPDParams, weights: Weights | None = None, test_set=None, seed: int = 0) -> dict:
    """run_args values: the four synapse weight arrays and the test input.

    Default: the weights of ``params`` (as :func:`get_weights`, which trains if
    ``weights="train"``) and the test set of ``seed``.
    """
    weights = weights if weights is not None else get_weights(params, seed)
    lay = layout(params)
    spec = input_spec(params)
    if test_set is None:
        test_set = inputs.generate(spec, params.n_test, inputs.stream(seed, 2))
    fibre_order, hidden_order = brian_orders(params, weights)
    n_inh_in, n_inh_hidden = inhibitory_rows(params)
    masks = connectivity(params) or (None, None)
    values = {}
    for stem, w, n_inh, mask in (("syn_in", weights.w1[fibre_order][:, hidden_order], n_inh_in, masks[0]),
                                 ("syn_hid", weights.w2[hidden_order], n_inh_hidden, masks[1])):
        for kind, w_syn in synapse_weights(w, lay.n_parallel, n_inh, mask).items():
            values[f"{stem}_{kind}.w"] = w_syn
    values.update(fibre_values(lay, fibre_order, params.input, spec.phase_delays(), spec.right_ear()))
    if params.input == "replay":
        values["input_bits"] = pack_spikes(test_set.spikes, lay)
    else:
        values["ipd_of_sample"] = window_table(test_set.ipd, lay)
        values["start_phase"] = window_table(test_set.phase0, lay)
    return values


def brian_orders(params: IPDParams, weights: Weights):
    """Original fibre and hidden unit of each Brian2 input and hidden neuron (inhibitory rows first)."""
    n_inh_in, n_inh_hidden = inhibitory_rows(params)
    return row_order(weights.sign1, n_inh_in), row_order(weights.sign2, n_inh_hidden)


# -- one run ---------------------------------------------------------------------

def _reference_predictions(params, weights, test_set):
    """Float64 and float32 reference runs: (hidden64, readout64, readout32, backend)."""
    alpha_h, alpha_o = alphas(params)
    try:
        import torch
    except ImportError:
        torch = None
    if torch is None:
        hidden, out64 = reference.forward(test_set.spikes, weights.w1, weights.w2, alpha_h, alpha_o, params.reset)
        _, out32 = reference.forward(test_set.spikes, weights.w1, weights.w2, alpha_h, alpha_o, params.reset,
                                     dtype=np.float32)
        return hidden, out64, out32, "numpy"
    from .training import torch_forward

    results = {}
    with torch.no_grad():
        for name, dtype in (("64", torch.float64), ("32", torch.float32)):
            hid, outs = [], []
            for start in range(0, len(test_set), 512):
                x = torch.from_numpy(test_set.spikes[start:start + 512]).to(dtype)
                s, out = torch_forward(x, torch.tensor(weights.w1, dtype=dtype), torch.tensor(weights.w2, dtype=dtype),
                                       alpha_h, alpha_o, params.reset, params.surrogate_beta)
                hid.append(s.numpy() > 0)
                outs.append(out.double().numpy())
            results[name] = (np.concatenate(hid), np.concatenate(outs))
    return results["64"][0], results["64"][1], results["32"][1], "torch"


def simulate(params: IPDParams, session, previous=None) -> Result:
    """Get the weights, classify the test set in Brian2 on ``session``'s device, compare with the reference."""
    seed = session.seed
    weights = get_weights(params, seed, previous)
    spec = input_spec(params)
    test_set = inputs.generate(spec, params.n_test, inputs.stream(seed, 2))
    lay = layout(params)
    program = session.program(lambda: build(params), lay.total_steps * params.dt, params.dt, tag="ipd_localisation",
                              key=("ipd-localisation", structure_key(params, sweepable(params))))
    run_before = program.run_s
    monitors = program.run(run_values(params, weights, test_set))
    run_s = program.run_s - run_before
    readout = decode_readout(monitors.readout.v_sum[:], lay, params.n_test) * reference.READOUT_SCALE
    sample, step, unit = decode_hidden_spikes(monitors.hidden_spikes.i[:], monitors.hidden_spikes.t[:] / second,
                                              params.dt, lay, params.n_test, brian_orders(params, weights)[1])
    hidden_brian = np.zeros((params.n_test, spec.n_steps, params.n_hidden), dtype=bool)
    hidden_brian[sample, step, unit] = True
    hidden_ref, out64, out32, backend = _reference_predictions(params, weights, test_set)

    pred_brian = reference.predict(readout)
    pred_ref = reference.predict(out64)
    labels = test_set.labels
    centres = inputs.class_centres(params.n_classes)
    counts = hidden_brian.sum(axis=1)  # (sample, unit)
    tuning = np.array([counts[labels == c].mean(axis=0) if np.any(labels == c) else np.zeros(params.n_hidden)
                       for c in range(params.n_classes)]).T
    confusion = np.zeros((params.n_classes, params.n_classes), dtype=np.int64)
    np.add.at(confusion, (pred_brian, labels), 1)
    info = weights.info
    training = weights.training
    metrics = {
        "mode": params.mode,
        "weights_source": weights.source,
        "reference_backend": backend,
        "accuracy_train": info.get("accuracy_train"),
        "accuracy_val": info.get("accuracy_val"),
        "accuracy_test": float(np.mean(pred_ref == labels)),
        "accuracy_test_brian": float(np.mean(pred_brian == labels)),
        "accuracy_test_float32": float(np.mean(reference.predict(out32) == labels)),
        "prediction_agreement": float(np.mean(pred_brian == pred_ref)),
        "prediction_agreement_float32": float(np.mean(pred_brian == reference.predict(out32))),
        "hidden_spikes_brian": int(hidden_brian.sum()),
        "hidden_spike_mismatches": int(np.sum(hidden_brian != hidden_ref)) if params.input == "replay" else None,
        "mae_deg": float(np.degrees(np.mean(np.abs(test_set.ipd - centres[pred_brian])))),
        "n_inhibitory_input": int(np.sum(weights.sign1 < 0)),
        "n_inhibitory_hidden": int(np.sum(weights.sign2 < 0)),
        "hidden_rate_hz": float(hidden_brian.mean() / float(params.dt)),
        "hidden_silent_fraction": float(np.mean(counts.sum(axis=0) == 0)),
        "train_wall_s": info.get("train_wall_s"),
        "best_epoch": info.get("best_epoch"),
        "test_samples_per_s": params.n_test / run_s if run_s > 0 else None,
        "chance": 1.0 / params.n_classes,
    }
    example = int(np.argmin(np.abs(test_set.ipd)))  # a sample near 0 degrees
    ex_b = np.nonzero(hidden_brian[example])
    ex_r = np.nonzero(hidden_ref[example])
    arrays = {
        "w1": weights.w1, "w2": weights.w2, "sign1": weights.sign1, "sign2": weights.sign2,
        "loss_train": np.asarray(training.loss_train if training is not None else info.get("loss_train", []), float),
        "loss_val": np.asarray(training.loss_val if training is not None else info.get("loss_val", []), float),
        "confusion": confusion, "tuning": tuning, "class_centres": centres,
        "ipd_test": test_set.ipd, "pred_brian": pred_brian, "pred_reference": pred_ref,
        "example_ipd": np.array(test_set.ipd[example]),
        "example_input": test_set.spikes[example].astype(np.uint8),
        "example_brian_step": ex_b[0], "example_brian_unit": ex_b[1],
        "example_reference_step": ex_r[0], "example_reference_unit": ex_r[1],
        # the same spikes in seconds from the sample's start, for NWB export (recordings)
        "example_hidden_t": ex_b[0] * float(params.dt), "example_hidden_i": ex_b[1],
    }
    return Result(metrics=metrics, arrays=arrays)


def recordings(params: IPDParams, arrays) -> tuple:
    """The Brian2 hidden-layer spikes of the example test sample (see :mod:`brianlab.recordings`)."""
    return (SpikeTrains("hidden", times="example_hidden_t", indices="example_hidden_i", n_neurons=params.n_hidden,
                        description="hidden-layer spikes in Brian2 of one test sample near 0 degrees IPD "
                        "(times from the sample's start)"),)


def figures(record, out_dir):
    """Input raster, loss curves, confusion matrix, signed weights, tuning curves, raster overlay."""
    from . import plots

    return plots.all_figures(record, out_dir)


MODEL = Model(
    name="ipd-localisation",
    summary="IPD sound localisation under Dale's law: surrogate-gradient-trained SNN (PyTorch) run as Brian2 equations",
    params=IPDParams,
    simulate=simulate,
    figures=figures,
    accepts_from=True,
    sweepable=sweepable,
    build=build,
    run_values=run_values,
    tiny=TINY,
    recordings=recordings,
    presets={"jeffress": JEFFRESS},
)
