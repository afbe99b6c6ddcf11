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
import importlib
import importlib.metadata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from brianlab.errors import BrianlabError
from brianlab.params import structure_key

__all__ = ["Model", "Result", "RunRecord", "Simulate", "Figures", "Build", "RunValues", "get_model", "model_names", "register"]


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


class Simulate(Protocol):
    """``simulate(params, session, previous=None) -> Result``: one run on an active session."""

    def __call__(self, params: Any, session: Any, previous: RunRecord | None = None) -> Result: ...


class Figures(Protocol):
    """``figures(record, out_dir) -> list of Path``: PNGs drawn from a saved run, never from live objects."""

    def __call__(self, record: RunRecord, out_dir: Path) -> list[Path]: ...


class Build(Protocol):
    """``build(params) -> (Network, monitors)``: the model's main network; runs, seeds and plots nothing."""

    def __call__(self, params: Any) -> tuple[Any, Any]: ...


class RunValues(Protocol):
    """``run_values(params) -> {name: value}``: the run_args values that carry the sweepable parameters."""

    def __call__(self, params: Any) -> dict[str, Any]: ...


@dataclasses.dataclass(frozen=True)
class Model:
    """A runnable model: what a plugin registers (see the module docstring).

    ``tests/test_model_contract.py`` runs every registered model through the same
    checks, with its :attr:`tiny` parameters, on runtime and cpp_standalone.

    Attributes
    ----------
    name : str
        The command-line name (``brianlab run NAME``).
    summary : str
        One line for ``brianlab list``.
    params : type
        A :func:`brianlab.params.parameters` class; its defaults are the model's.
    simulate : Simulate
        ``simulate(params, session, previous=None) -> Result``. ``session`` is an
        active :class:`brianlab.devices.DeviceSession`; ``previous`` is the
        :class:`RunRecord` given with ``--from`` (only if ``accepts_from``).
    figures : Figures
        ``figures(record, out_dir) -> list of Path``: PNGs drawn from a saved run.
    accepts_from : bool
        Whether ``--from RUN_DIR`` (start from a previous run's state) makes sense.
    sweepable : tuple of str, or callable
        Parameters that change between runs of one compiled network (``(constant)``
        variables, synaptic weights or TimedArray contents set through
        ``run_args``); every other parameter changes the network's shape and needs
        a new build. A function ``params -> tuple`` where the set depends on the
        configuration (hh-poisson's aggregate mode reruns more).
    build : Build, optional
        The model's main network, used by :meth:`program`.
    run_values : RunValues, optional
        The run_args values of the sweepable parameters, used by :meth:`program`'s callers.
    tiny : dict of str to str
        ``--set`` assignments (``{"n_neurons": "10"}``) for a run of a few seconds:
        what the contract test and a new user's first try use.
    recordings : callable, optional
        ``recordings(params, arrays) -> tuple`` of :class:`brianlab.recordings.SpikeTrains`
        and :class:`brianlab.recordings.Trace`: which arrays of ``data.npz`` are
        spike trains and traces of which population (read by ``brianlab export``).
    presets : dict of str to tuple of str
        Named ``--set`` lists (``{"notebook": ("lr=0.05", ...)}``), chosen with
        ``--preset NAME``; the user's own ``--set`` values come after and win.
    """

    name: str
    summary: str
    params: type
    simulate: Simulate
    figures: Figures
    accepts_from: bool = False
    sweepable: tuple[str, ...] | Callable[[Any], tuple[str, ...]] = ()
    build: Build | None = None
    run_values: RunValues | None = None
    tiny: Mapping[str, str] = dataclasses.field(default_factory=dict)
    recordings: Callable[[Any, Mapping[str, np.ndarray]], tuple] | None = None
    presets: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    def preset(self, name: str | None) -> list[str]:
        """The ``--set`` assignments of preset ``name`` (none for ``None``).

        Raises
        ------
        BrianlabError
            If the model has no such preset (the message lists the ones it has).
        """
        if name is None:
            return []
        if name not in self.presets:
            known = ", ".join(self.presets) or "none"
            raise BrianlabError(f"model {self.name} has no preset {name!r}; its presets: {known} "
                                f"(see 'brianlab show {self.name}')")
        return list(self.presets[name])

    def sweepable_names(self, params: Any = None) -> tuple[str, ...]:
        """The sweepable parameter names for ``params`` (default: the model's defaults)."""
        if callable(self.sweepable):
            return tuple(self.sweepable(self.params() if params is None else params))
        return tuple(self.sweepable)

    def program_key(self, params: Any) -> tuple:
        """The shape of the network that ``params`` builds: everything but the sweepable values."""
        return (self.name, structure_key(params, self.sweepable_names(params)))

    def program(self, session: Any, params: Any, tag: str | None = None, **build_kwargs: Any) -> Any:
        """The model's :class:`~brianlab.simulation.Program` for ``params`` on ``session``.

        Built from :attr:`build` (``build(params, **build_kwargs)``), run for
        ``params.duration`` at ``params.dt``, keyed by :meth:`program_key`, so a
        session compiles each shape once.
        """
        if self.build is None:
            raise TypeError(f"model {self.name!r} has no build function")
        key = self.program_key(params)
        if build_kwargs:
            key = key + (tuple(sorted((name, repr(value)) for name, value in build_kwargs.items())),)
        return session.program(
            lambda: self.build(params, **build_kwargs),
            params.duration,
            params.dt,
            tag=tag or self.name.replace("-", "_"),
            key=key,
        )


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
