"""Surrogate-gradient training of the IPD network in PyTorch (the optional ``train`` extra).

The forward pass is the recurrence of :mod:`.reference`, written in torch; the
spike's derivative is replaced by that of a sigmoid of steepness
``surrogate_beta``. Dale's law: every presynaptic row of W1 (an input fibre) and
of W2 (a hidden unit) has a fixed sign; ``int(N * ie_ratio)`` rows, chosen at
random, are inhibitory, and the trained weight is ``sign * positive(theta)`` with
``positive`` one of ``abs`` (the notebook's), ``softplus`` or ``exp``.
Adam, cross-entropy on ``log_softmax(0.01 * sum_t u_t)``; the weights with the
lowest validation loss are kept, and training stops when the oldest of the last
``patience`` validation losses is the lowest of them (checked after more than ``patience`` epochs, as the notebook does).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from brianlab.errors import BrianlabError

from .reference import READOUT_SCALE

__all__ = ["require_torch", "TrainConfig", "TrainResult", "sign_mask", "train", "torch_forward"]


def require_torch():
    """Import torch, or fail in one line saying how to install it."""
    try:
        import torch
    except ImportError:
        raise BrianlabError(
            "training ipd-localisation needs PyTorch: pip install 'brianlab[train]' "
            "(CPU build: pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu), "
            "or run with the shipped weights (weights=shipped)"
        ) from None
    return torch


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training settings (see :class:`~brianlab.models.ipd_localisation.IPDParams`)."""

    n_hidden: int = 30
    n_classes: int = 12
    alpha_hidden: float = float(np.exp(-0.2))
    alpha_out: float = float(np.exp(-0.2))
    reset: str = "notebook"
    ie_ratio: float = 0.5
    dale: str = "both"
    positive: str = "abs"
    epochs: int = 30
    lr: float = 0.01
    batch: int = 64
    surrogate_beta: float = 5.0
    patience: int = 10


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """Trained, signed weights and the training history."""

    w1: np.ndarray
    w2: np.ndarray
    sign1: np.ndarray  # per input row: +1 excitatory, -1 inhibitory, 0 unconstrained
    sign2: np.ndarray  # per hidden row, likewise
    loss_train: np.ndarray
    loss_val: np.ndarray
    best_epoch: int
    stopped_early: bool
    wall_s: float


def sign_mask(n_rows: int, ie_ratio: float, rng: np.random.RandomState) -> np.ndarray:
    """+1/-1 per row, ``int(n_rows * ie_ratio)`` of them -1, chosen at random."""
    signs = np.ones(n_rows)
    signs[rng.choice(n_rows, int(n_rows * ie_ratio), replace=False)] = -1
    return signs


class _SurrogateSpike:
    """Heaviside forward, sigmoid-derivative backward (built lazily: torch is optional)."""

    _fn = None

    @classmethod
    def get(cls):
        if cls._fn is None:
            torch = require_torch()

            class SpikeFn(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, beta):
                    ctx.save_for_backward(x)
                    ctx.beta = beta
                    return (x > 0).to(x.dtype)

                @staticmethod
                def backward(ctx, grad):
                    (x,) = ctx.saved_tensors
                    sig = torch.sigmoid(ctx.beta * x)
                    return grad * ctx.beta * sig * (1 - sig), None

            cls._fn = SpikeFn.apply
        return cls._fn


def torch_forward(x, w1, w2, alpha_hidden, alpha_out, reset="notebook", beta=5.0):
    """The network on a batch ``x`` (batch, n_steps, n_inputs); returns (hidden spikes, read-out)."""
    torch = require_torch()
    spike = _SurrogateSpike.get()
    n, n_steps, _ = x.shape
    h = torch.einsum("btc,cd->btd", x[:, : n_steps - 1], w1)
    v = torch.zeros((n, w1.shape[1]), dtype=x.dtype)
    s = torch.zeros_like(v)
    s_rec = [s] if reset == "notebook" else []
    for t in range(n_steps - 1):
        if reset == "notebook":
            v_new = (alpha_hidden * v + h[:, t]) * (1 - s)
            s = spike(v - 1, beta)
            v = v_new
        else:
            s = spike(v - 1, beta)
            v = (alpha_hidden * v + h[:, t]) * (1 - s)
        s_rec.append(s)
    if reset != "notebook":
        s_rec.append(spike(v - 1, beta))
    s_rec = torch.stack(s_rec, dim=1)
    h2 = torch.einsum("btd,dc->btc", s_rec, w2)
    u = torch.zeros((n, w2.shape[1]), dtype=x.dtype)
    total = u
    for t in range(n_steps - 1):
        u = alpha_out * u + h2[:, t]
        total = total + u
    return s_rec, total * READOUT_SCALE


def _positive(torch, name):
    return {"abs": torch.abs, "softplus": torch.nn.functional.softplus, "exp": torch.exp}[name]


def _inverse_positive(name, magnitude):
    magnitude = np.maximum(np.abs(magnitude), 1e-6)
    if name == "abs":
        return magnitude
    if name == "softplus":
        return np.log(np.expm1(magnitude))
    return np.log(magnitude)


def train(config: TrainConfig, train_set, val_set, sign1, sign2, seed: int, log=None) -> TrainResult:
    """Train W1 and W2 on ``train_set``, choosing the weights on ``val_set``.

    ``sign1``/``sign2`` give each row's sign (0: that matrix is unconstrained,
    its weights are free parameters). The initial weights are uniform in
    ``+-1/sqrt(fan_in)`` with torch's fan-in of a 2-D tensor (its second
    dimension), as the notebook does; a constrained matrix starts at
    ``sign * |w|``.
    """
    torch = require_torch()
    start = time.perf_counter()
    gen = torch.Generator().manual_seed(int(seed))
    dtype = torch.float32
    params, maps, signs = [], [], []
    for shape, sign in (((train_set.spikes.shape[2], config.n_hidden), sign1),
                        ((config.n_hidden, config.n_classes), sign2)):
        bound = 1 / np.sqrt(shape[1])
        w0 = (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound
        constrained = bool(np.any(sign != 0))
        raw = _inverse_positive(config.positive, w0.numpy()) if constrained else w0.numpy()
        params.append(torch.nn.Parameter(torch.tensor(raw, dtype=dtype)))
        maps.append(_positive(torch, config.positive) if constrained else (lambda w: w))
        signs.append(torch.tensor(sign if constrained else np.ones(shape[0]), dtype=dtype)[:, None])

    def effective():
        return [m(p) * s for p, m, s in zip(params, maps, signs)]

    optimiser = torch.optim.Adam(params, lr=config.lr)
    x_train = torch.from_numpy(train_set.spikes)
    y_train = torch.from_numpy(train_set.labels)
    x_val = torch.from_numpy(val_set.spikes)
    y_val = torch.from_numpy(val_set.labels)

    def batch_loss(x, y):
        w1, w2 = effective()
        _, out = torch_forward(x.to(dtype), w1, w2, config.alpha_hidden, config.alpha_out,
                               config.reset, config.surrogate_beta)
        return torch.nn.functional.cross_entropy(out, y)

    loss_train, loss_val = [], []
    best = (np.inf, None, -1)
    stopped_early = False
    for epoch in range(config.epochs):
        order = torch.randperm(len(y_train), generator=gen)
        losses = []
        for b in range(len(y_train) // config.batch):
            idx = order[b * config.batch:(b + 1) * config.batch]
            loss = batch_loss(x_train[idx], y_train[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        with torch.no_grad():
            val = [batch_loss(x_val[b:b + config.batch], y_val[b:b + config.batch]).item()
                   for b in range(0, len(y_val) - config.batch + 1, config.batch)]
        loss_train.append(float(np.mean(losses)))
        loss_val.append(float(np.mean(val)))
        if log:
            log(f"epoch {epoch + 1}: loss {loss_train[-1]:.4f}, validation {loss_val[-1]:.4f}")
        if loss_val[-1] < best[0]:
            with torch.no_grad():
                best = (loss_val[-1], [w.detach().double().numpy().copy() for w in effective()], epoch)
        recent = loss_val[-config.patience:]
        if epoch > config.patience and int(np.argmin(recent)) == 0:
            stopped_early = True
            break
    w1, w2 = best[1]
    return TrainResult(
        w1=w1, w2=w2, sign1=np.asarray(sign1, float), sign2=np.asarray(sign2, float),
        loss_train=np.array(loss_train), loss_val=np.array(loss_val), best_epoch=best[2],
        stopped_early=stopped_early, wall_s=time.perf_counter() - start,
    )
