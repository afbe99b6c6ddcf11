"""What a model provides, and how brianlab finds it.

A model is a :class:`Model` object registered under the entry-point group
``brianlab.models`` (``[project.entry-points."brianlab.models"]`` in a package's
``pyproject.toml``: ``NAME = "package.module:MODEL"``). brianlab's own models are
registered by brianlab's ``pyproject.toml``; a third-party package adds a model
the same way, without touching brianlab. :func:`register` adds one in-process
(a notebook, a test).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from brianlab.errors import BrianlabError

__all__ = ["Model", "Result", "RunRecord", "get_model", "model_names"]


@dataclasses.dataclass(frozen=True)
class Result:
    """What one simulation produced.

    Attributes
    ----------
    metrics : dict
        Scalar results (numbers, booleans, short strings), units in the names
        (``mean_rate_hz``) or documented by the model.
    arrays : dict of str to ndarray
        Recorded data, saved to ``data.npz`` under these names.
    """

    metrics: Mapping[str, Any]
    arrays: Mapping[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """A saved run, as :func:`brianlab.records.load_run` reads it back."""

    path: Path
    config: Mapping[str, Any]
    params: Any
    metrics: Mapping[str, Any]
    arrays: Mapping[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class Model:
    """A runnable model.

    Attributes
    ----------
    name : str
        The command-line name (``brianlab run NAME``).
    summary : str
        One line for ``brianlab list``.
    params : type
        A :func:`brianlab.params.parameters` class; its defaults are the model's.
    simulate : callable
        ``simulate(params, session, previous=None) -> Result``. ``session`` is an
        active :class:`brianlab.devices.DeviceSession`; ``previous`` is the
        :class:`RunRecord` given with ``--from`` (only if ``accepts_from``).
    figures : callable
        ``figures(record, out_dir) -> list of Path``: PNGs drawn from a saved run.
    accepts_from : bool
        Whether ``--from RUN_DIR`` (start from a previous run's state) makes sense.
    sweepable : tuple of str
        Parameters that change between runs of one compiled network (they are
        ``(constant)`` variables or TimedArray contents set through ``run_args``);
        every other parameter changes the network's shape and needs a new build.
    recordings : callable, optional
        ``recordings(params, arrays) -> tuple`` of :class:`brianlab.recordings.SpikeTrains`
        and :class:`brianlab.recordings.Trace`: which arrays of ``data.npz`` are
        spike trains and traces of which population (read by ``brianlab export``).
    """

    name: str
    summary: str
    params: type
    simulate: Callable[..., Result]
    figures: Callable[[RunRecord, Path], list]
    accepts_from: bool = False
    sweepable: tuple = ()
    recordings: Callable[[Any, Mapping[str, np.ndarray]], tuple] | None = None


#: The entry-point group that models register under.
ENTRY_POINT_GROUP = "brianlab.models"

_REGISTERED: dict[str, Model] = {}


def register(model: Model) -> Model:
    """Register ``model`` in this process (as an entry point would); returns it."""
    _REGISTERED[model.name] = model
    return model


def _entry_points() -> dict:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def model_names() -> list[str]:
    """The names of all registered models, in listing order (installed first, then :func:`register`-ed)."""
    return list(dict.fromkeys([*_entry_points(), *_REGISTERED]))


def get_model(name: str) -> Model:
    """The :class:`Model` registered as ``name``.

    Raises
    ------
    BrianlabError
        If there is no such model (the message lists the known ones), or its
        entry point does not load a :class:`Model`.
    """
    if name in _REGISTERED:
        return _REGISTERED[name]
    points = _entry_points()
    if name not in points:
        raise BrianlabError(
            f"unknown model {name!r}; choose one of: {', '.join(model_names())} (see 'brianlab list')"
        )
    model = points[name].load()
    if not isinstance(model, Model) or model.name != name:
        raise BrianlabError(
            f"entry point {name!r} of group {ENTRY_POINT_GROUP!r} ({points[name].value}) is not a "
            f"brianlab Model named {name!r}; fix the package that declares it"
        )
    return model
