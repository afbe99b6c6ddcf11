"""What a model module provides, and how the command line finds it.

Each module in ``models/`` ends with a ``MODEL = Model(...)`` naming its
parameters class, its ``simulate`` function and its ``figures`` function;
``models/__init__.py`` lists the modules by command-line name.
"""

from __future__ import annotations

import dataclasses
import importlib
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
    """

    name: str
    summary: str
    params: type
    simulate: Callable[..., Result]
    figures: Callable[[RunRecord, Path], list]
    accepts_from: bool = False
    sweepable: tuple = ()


def model_names():
    """The command-line names of all models, in listing order."""
    from models import MODELS

    return list(MODELS)


def get_model(name):
    """The :class:`Model` called ``name``.

    Raises
    ------
    BrianlabError
        If there is no such model (the message lists the known ones).
    """
    from models import MODELS

    if name not in MODELS:
        raise BrianlabError(
            f"unknown model {name!r}; choose one of: {', '.join(MODELS)} (see 'brianlab list')"
        )
    return importlib.import_module(MODELS[name]).MODEL
