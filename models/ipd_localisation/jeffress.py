"""A hand-built Jeffress network: coincidence detectors on the fibres' phase-delay lines.

Left fibre ``a`` (phase delay ``d_a``) and right fibre ``b`` (``d_b + ipd``) are in
phase when ``ipd = d_a - d_b``. Hidden unit ``k`` is a coincidence detector for
``c_k``, the ``k``-th of ``n_hidden`` IPDs spread evenly over (-pi/2, pi/2): it is
excited (weight ``gain / (2 n_pairs)`` per fibre) by the ``n_pairs`` middle ones
of the fibre pairs whose delay difference is ``c_k`` (to the nearest fibre), so
it fires most when the two ears' inputs coincide. Output class ``m`` sums the detectors whose ``c_k`` lies in it.
All weights are excitatory; nothing is trained.
"""

from __future__ import annotations

import numpy as np

from .inputs import InputSpec, class_centres, discretise

__all__ = ["DEFAULT_GAIN", "DEFAULT_PAIRS", "jeffress_weights"]

#: Total input weight of one detector per coincident volley (units of the threshold).
DEFAULT_GAIN = 0.5
#: Fibre pairs per detector (fewer where fewer exist, near +-pi/2).
DEFAULT_PAIRS = 30


def jeffress_weights(spec: InputSpec, n_hidden: int, gain: float = DEFAULT_GAIN, n_pairs: int = DEFAULT_PAIRS):
    """``(w1, w2)`` of the coincidence-detector network (all weights >= 0)."""
    n = spec.anf_per_ear
    step = (np.pi / 2) / (n - 1)  # phase-delay spacing of one ear's fibres
    preferred = class_centres(n_hidden)
    w1 = np.zeros((2 * n, n_hidden))
    for k, c in enumerate(preferred):
        shift = int(np.round(c / step))  # right fibre b = a - shift is in phase with left fibre a
        left = np.arange(max(0, shift), min(n, n + shift))
        if len(left) > n_pairs:
            middle = len(left) // 2 - n_pairs // 2
            left = left[middle:middle + n_pairs]
        right = left - shift
        w1[left, k] += gain / (2 * len(left))
        w1[n + right, k] += gain / (2 * len(left))
    w2 = np.zeros((n_hidden, spec.n_classes))
    w2[np.arange(n_hidden), discretise(preferred, spec.n_classes)] = 1.0
    return w1, w2
