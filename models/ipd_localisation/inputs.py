"""The notebook's input: auditory-nerve spikes for a tone with an interaural phase difference.

Each of ``2 * anf_per_ear`` fibres has a phase delay from ``linspace(0, pi/2,
anf_per_ear)``; the right ear's fibres are shifted further by the IPD. In every
time step a fibre spikes with probability

    rate_max * dt * (0.5 * (1 + sin(theta)))**envelope_power,
    theta = 2*pi*(f*t + phase0) + delay + [right ear] * ipd,

where ``phase0`` is one uniform random starting phase per generated set (the
notebook's quirk, ``phase="per_set"``) or one per sample (``"per_sample"``).
IPDs are uniform in (-pi/2, pi/2) and fall into ``n_classes`` equal classes.

Random numbers are drawn from a :class:`numpy.random.RandomState` in the
notebook's order (IPDs, then the starting phase, then the spike draws), so a
generator seeded like ``np.random.seed(s)`` reproduces the notebook's arrays.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["InputSpec", "Dataset", "generate", "spike_probability", "discretise", "class_centres", "stream"]


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """The input generator's constants, in SI numbers (seconds, hertz, radians)."""

    anf_per_ear: int = 100  # fibres per ear
    f: float = 20.0  # tone frequency (Hz)
    rate_max: float = 600.0  # peak firing probability per second (Hz)
    envelope_power: float = 2.0  # sharpness of the phase envelope
    duration: float = 0.1  # stimulus length (s)
    dt: float = 1e-3  # time step (s)
    n_classes: int = 12  # IPD classes over (-pi/2, pi/2)
    phase: str = "per_set"  # 'per_set' (notebook) or 'per_sample'

    @property
    def n_steps(self) -> int:
        """Time steps per sample."""
        return int(np.round(self.duration / self.dt))

    @property
    def n_inputs(self) -> int:
        """Fibres of both ears."""
        return 2 * self.anf_per_ear

    def phase_delays(self) -> np.ndarray:
        """Phase delay of every fibre (rad), left ear first."""
        per_ear = np.linspace(0, np.pi / 2, self.anf_per_ear)
        return np.concatenate([per_ear, per_ear])

    def right_ear(self) -> np.ndarray:
        """1.0 for the fibres of the right ear (shifted by the IPD), else 0.0."""
        return np.repeat([0.0, 1.0], self.anf_per_ear)


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Generated samples.

    Attributes
    ----------
    ipd : ndarray, shape (n,)
        True IPD of each sample (rad).
    phase0 : ndarray, shape (n,)
        Starting phase of each sample (in cycles, [0, 1)).
    spikes : ndarray of bool, shape (n, n_steps, n_inputs)
    labels : ndarray of int, shape (n,)
    """

    ipd: np.ndarray
    phase0: np.ndarray
    spikes: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.ipd)


def stream(seed: int, part: int) -> np.random.RandomState:
    """The random stream of one part of a run (0 train, 1 validation, 2 test, 3 sign masks, 4 Brian input)."""
    return np.random.RandomState([int(seed), int(part)])


def spike_probability(spec: InputSpec, ipd: np.ndarray, phase0: np.ndarray) -> np.ndarray:
    """Per-step spike probability, shape (n, n_steps, n_inputs)."""
    times = np.arange(spec.n_steps) * spec.dt
    phi = 2 * np.pi * (spec.f * times[np.newaxis, :] + np.asarray(phase0)[:, np.newaxis])
    theta = (
        phi[:, :, np.newaxis]
        + spec.phase_delays()[np.newaxis, np.newaxis, :]
        + np.asarray(ipd)[:, np.newaxis, np.newaxis] * spec.right_ear()[np.newaxis, np.newaxis, :]
    )
    return spec.rate_max * spec.dt * (0.5 * (1 + np.sin(theta))) ** spec.envelope_power


def generate(spec: InputSpec, n: int, rng: np.random.RandomState) -> Dataset:
    """``n`` samples with IPDs uniform in (-pi/2, pi/2), drawn from ``rng``."""
    ipd = rng.rand(n) * np.pi - np.pi / 2
    if spec.phase == "per_set":
        phase0 = np.full(n, rng.rand())
    elif spec.phase == "per_sample":
        phase0 = rng.rand(n)
    else:
        raise ValueError(f"phase must be 'per_set' or 'per_sample', not {spec.phase!r}")
    # Draw sample by sample (the same numbers in the same order as one big draw) to bound memory.
    spikes = np.empty((n, spec.n_steps, spec.n_inputs), dtype=bool)
    for k in range(n):
        spikes[k] = rng.rand(spec.n_steps, spec.n_inputs) < spike_probability(spec, ipd[k:k + 1], phase0[k:k + 1])[0]
    return Dataset(ipd=ipd, phase0=phase0, spikes=spikes, labels=discretise(ipd, spec.n_classes))


def discretise(ipd: np.ndarray, n_classes: int) -> np.ndarray:
    """Class of each IPD: ``floor((ipd + pi/2) * n_classes / pi)`` (the notebook's, truncating)."""
    return ((np.asarray(ipd) + np.pi / 2) * n_classes / np.pi).astype(np.int64)


def class_centres(n_classes: int) -> np.ndarray:
    """The IPD at the middle of each class (rad)."""
    return (np.arange(n_classes) + 0.5) / n_classes * np.pi - np.pi / 2
