"""A hand-built Jeffress network: one coincidence detector per pair of fibres, on the fibres' phase-delay lines.

Left fibre ``a`` (phase delay ``d_a``) and right fibre ``b`` (``d_b + ipd``) are in
phase when ``ipd = d_a - d_b``. Hidden unit ``k`` listens to one such pair, with
weight ``gain`` from each fibre: with ``gain`` just above half the threshold, and a
membrane fast enough that ``gain / (1 - alpha) < 1`` (``alpha = exp(-dt/tau_hidden)``),
only two spikes in the same time step, one from each ear, make it fire. The
``n_hidden`` detectors are spread as evenly as the fibres allow over the 199 delay
differences of 100 fibres per ear (pairs of one difference spread evenly along the
fibres). Output class ``m`` averages the detectors whose preferred IPD lies in it:
a labelled line. All weights are excitatory; nothing is trained.

Each detector has two input synapses and one output synapse (:func:`connectivity`),
so the Brian2 network connects only those, not every fibre to every detector.

An earlier design summed many pairs into each of 30 hidden units; that adds the
two ears' drives instead of detecting their coincidences and scored about 28%
(``bench/results/ipd_jeffress_search.json``). The single-pair design and its
constants were chosen on validation data in ``bench/ipd_jeffress_pairs.py``.
"""

from __future__ import annotations

import numpy as np

from .inputs import InputSpec, discretise

__all__ = ["DEFAULT_GAIN", "connectivity", "fibre_pairs", "jeffress_weights", "max_alpha"]

#: Weight from each fibre of a pair, in units of the threshold: two coincident spikes cross it (2 x 0.51 > 1).
DEFAULT_GAIN = 0.51


def max_alpha(gain: float = DEFAULT_GAIN) -> float:
    """The largest ``exp(-dt/tau_hidden)`` at which no train of one fibre's spikes alone reaches the threshold."""
    return 1.0 - gain


def fibre_pairs(anf_per_ear: int, n_detectors: int) -> np.ndarray:
    """``(n_detectors, 2)`` array of (left fibre, right fibre), spread over the delay differences.

    Each difference ``s = a - b`` (``-(n-1) .. n-1``) has ``n - |s|`` pairs. The
    detectors are shared out as evenly as possible (a difference with few pairs
    gets them all, the others the same number, give or take one); within one
    difference the pairs are spread evenly along the fibres.
    """
    n = anf_per_ear
    shifts = np.arange(-(n - 1), n)
    available = n - np.abs(shifts)
    if n_detectors > available.sum():
        raise ValueError(f"{n} fibres per ear give {available.sum()} pairs, fewer than the {n_detectors} detectors asked for")
    quota = 0
    while np.minimum(quota + 1, available).sum() <= n_detectors:
        quota += 1
    counts = np.minimum(quota, available)
    extra = n_detectors - counts.sum()
    room = np.flatnonzero(available > quota)
    counts[room[_spread(extra, len(room))]] += 1
    pairs = []
    for shift, count in zip(shifts, counts):
        left = np.arange(max(0, shift), min(n, n + shift))
        pairs += [(a, a - shift) for a in left[_spread(count, len(left))]]
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def _spread(k: int, n: int) -> np.ndarray:
    """``k`` distinct indices out of ``n`` (``k <= n``), evenly spaced and centred."""
    return (2 * np.arange(k) + 1) * n // (2 * k) if k else np.zeros(0, dtype=np.int64)


def jeffress_weights(spec: InputSpec, n_hidden: int, gain: float = DEFAULT_GAIN):
    """``(w1, w2)`` of the coincidence-detector network (all weights >= 0)."""
    n = spec.anf_per_ear
    pairs = fibre_pairs(n, n_hidden)
    step = (np.pi / 2) / (n - 1)  # phase-delay spacing of one ear's fibres
    preferred = (pairs[:, 0] - pairs[:, 1]) * step
    w1 = np.zeros((2 * n, n_hidden))
    w1[pairs[:, 0], np.arange(n_hidden)] = gain
    w1[n + pairs[:, 1], np.arange(n_hidden)] = gain
    edge = np.pi / 2 * (1 - 1e-12)
    label = discretise(np.clip(preferred, -edge, edge), spec.n_classes)
    w2 = np.zeros((n_hidden, spec.n_classes))
    w2[np.arange(n_hidden), label] = 1.0
    return w1, w2 / np.maximum(w2.sum(axis=0, keepdims=True), 1.0)


def connectivity(spec: InputSpec, n_hidden: int):
    """``(mask1, mask2)``: the synapses the network has (where the weights are not zero)."""
    w1, w2 = jeffress_weights(spec, n_hidden)
    return w1 != 0, w2 != 0
