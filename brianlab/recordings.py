"""Which arrays of a run's ``data.npz`` are spike trains and traces, and of which population.

``data.npz`` names its arrays as each model likes (``spike_t``, ``v``, ``R_t``).
A model says what they mean with a ``recordings`` function on its
:class:`~brianlab.model.Model`::

    def recordings(params, arrays):
        return (
            SpikeTrains("neurons", times="spike_t", indices="spike_i", n_neurons=params.n_neurons),
            Trace("v", "neurons", data="v", times="v_t", unit="V", indices="v_index"),
        )

Exporters (:mod:`brianlab.nwb`) read only these declarations; an array that no
declaration names is not a recording (a weight matrix, a derived rate, labels).
Names refer to arrays of ``data.npz``; times are in seconds, and traces are
stored in the SI ``unit`` given, times ``conversion`` (``conversion=1e-3`` if
the array were in mV and ``unit="V"``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from brianlab.errors import BrianlabError

__all__ = ["SpikeTrains", "Trace", "Recording", "check"]


@dataclasses.dataclass(frozen=True)
class SpikeTrains:
    """The spikes of one spike monitor.

    Attributes
    ----------
    population : str
        The name of the recorded Brian group (``"neurons"``, ``"exc"``).
    times : str
        Array of spike times (s), one entry per spike.
    indices : str
        Array of the spiking neurons' indices in ``population``, one entry per spike.
    n_neurons : int
        The size of the group; every neuron covered has a row, spiking or not.
    covered : sequence of int, optional
        The indices the monitor covers, if not all ``range(n_neurons)`` (a
        monitor of a subgroup, or spikes kept for every k-th cell only).
    description : str
        One line: what the monitor recorded (and when, if only part of the run).
    """

    population: str
    times: str
    indices: str
    n_neurons: int
    covered: Sequence[int] | None = None
    description: str = ""

    def neurons(self) -> np.ndarray:
        """The covered neuron indices, ascending."""
        if self.covered is None:
            return np.arange(self.n_neurons)
        return np.asarray(self.covered, dtype=np.int64)


@dataclasses.dataclass(frozen=True)
class Trace:
    """One variable of a state monitor, sampled at regular times.

    Attributes
    ----------
    name : str
        The variable's name (``"v"``); the exported series is named
        ``<population>_<name>``.
    population : str
        The name of the recorded Brian group.
    data : str
        Array of samples, shape ``(n_recorded, n_samples)`` (Brian's
        ``StateMonitor.v[:]``; ``layout="neuron_time"``) or ``(n_samples,
        n_recorded)`` (``layout="time_neuron"``).
    times : str
        Array of sample times (s).
    unit : str
        The SI unit of the values (``"V"``, ``"S/m^2"``; ``"1"`` for none).
    indices : str or sequence of int
        The recorded neurons' indices in ``population``: an array name, or the
        indices themselves.
    layout : {"neuron_time", "time_neuron"}
    conversion : float
        Multiply the stored values by this to get ``unit``.
    description : str
    """

    name: str
    population: str
    data: str
    times: str
    unit: str
    indices: str | Sequence[int]
    layout: Literal["neuron_time", "time_neuron"] = "neuron_time"
    conversion: float = 1.0
    description: str = ""

    def samples(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        """The samples as ``(n_samples, n_recorded)``, in the stored units."""
        data = np.asarray(arrays[self.data])
        if data.ndim == 1:
            data = data[None, :] if self.layout == "neuron_time" else data[:, None]
        return data.T if self.layout == "neuron_time" else data

    def neurons(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        """The recorded neuron indices."""
        if isinstance(self.indices, str):
            return np.asarray(arrays[self.indices], dtype=np.int64)
        return np.asarray(self.indices, dtype=np.int64)


Recording = SpikeTrains | Trace


def check(recordings: Sequence[Recording], arrays: Mapping[str, np.ndarray]) -> None:
    """Check that every array a declaration names exists and that the shapes agree.

    Raises
    ------
    BrianlabError
        Naming the declaration and the array that does not fit.
    """
    for rec in recordings:
        names = [rec.times, rec.indices] if isinstance(rec, SpikeTrains) else [rec.times, rec.data]
        if isinstance(rec, Trace) and isinstance(rec.indices, str):
            names.append(rec.indices)
        missing = [name for name in names if name not in arrays]
        if missing:
            raise BrianlabError(
                f"recording of {rec.population!r} names arrays missing from data.npz: {', '.join(missing)}"
            )
        if isinstance(rec, SpikeTrains):
            if np.shape(arrays[rec.times]) != np.shape(arrays[rec.indices]):
                raise BrianlabError(f"spikes of {rec.population!r}: {rec.times} and {rec.indices} differ in length")
            idx = np.asarray(arrays[rec.indices])
            if idx.size and not np.isin(idx, rec.neurons()).all():
                raise BrianlabError(f"spikes of {rec.population!r}: {rec.indices} has neurons the monitor does not cover")
        else:
            samples = rec.samples(arrays)
            if samples.shape != (len(arrays[rec.times]), len(rec.neurons(arrays))):
                raise BrianlabError(
                    f"trace {rec.population}.{rec.name}: {rec.data} has shape {np.shape(arrays[rec.data])}, "
                    f"not {len(rec.neurons(arrays))} neurons x {len(arrays[rec.times])} samples"
                )
