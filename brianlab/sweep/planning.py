"""Planning a sweep: the grid, its points, and how they are grouped into tasks.

A point is one simulation: one combination of grid values and one seed. Points
are grouped by network shape (:func:`brianlab.sweep.cache.build_key`), and each
shape's points are split into as many chunks as its share of the workers; one
Dask task runs one chunk.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import re

import numpy as np

from brianlab import devices
from brianlab.errors import BrianlabError
from brianlab.sweep import cache

__all__ = ["Point", "Chunk", "parse_grid", "normalise_grid", "plan", "chunks"]


@dataclasses.dataclass(frozen=True)
class Point:
    """One simulation of a sweep.

    Attributes
    ----------
    id : str
        Its run directory's name: the values, the seed and a hash of everything
        that defines the run (model, fixed parameters, device and its options).
    assignments : tuple of str
        The grid values as ``name=value`` texts.
    columns : tuple of (str, object)
        The grid values for the table: SI floats for quantities.
    seed : int
    """

    id: str
    assignments: tuple
    columns: tuple
    seed: int


@dataclasses.dataclass(frozen=True)
class Chunk:
    """Points of one network shape that one task runs on one worker, in order."""

    model: str
    device: str
    options: devices.DeviceOptions
    fixed: tuple
    points: tuple
    out: str
    build_dir: str
    command: tuple
    point_figures: bool = False


def parse_grid(items: list[str] | None) -> dict[str, list[str]]:
    """``{name: [text, ...]}`` from ``--grid name=v1,v2,...`` strings.

    Raises
    ------
    BrianlabError
        For a malformed item, an empty value or a name given twice.
    """
    grid = {}
    for item in items or ():
        if "=" not in item:
            raise BrianlabError(f"--grid expects name=value1,value2,... (e.g. drive_max=20*mV,30*mV), got {item!r}")
        name, text = (part.strip() for part in item.split("=", 1))
        values = [v.strip() for v in text.split(",")]
        if not name or not all(values):
            raise BrianlabError(f"--grid {item!r} has an empty name or value; write name=value1,value2,...")
        if name in grid:
            raise BrianlabError(f"--grid names {name!r} twice; give all its values in one --grid {name}=v1,v2,...")
        grid[name] = values
    return grid


def canonical(value):
    """A JSON-able, unit-aware form of a parameter value (for hashes and the table)."""
    from brian2 import Quantity, get_dimensions

    if isinstance(value, Quantity):
        return [float(value), str(get_dimensions(value))]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _column_value(value):
    from brian2 import Quantity

    if isinstance(value, Quantity):
        return float(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def digest(data, length: int) -> str:
    """A hex digest of ``data``'s JSON form, ``length`` characters long."""
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:length]


def _slug(assignments, seed):
    parts = [re.sub(r"[^A-Za-z0-9._=+-]", "", a.replace("*", "")) for a in assignments]
    return "_".join([*parts, f"seed={seed}"])[:80]


def normalise_grid(model, grid, fixed):
    """Check every grid value's name and unit; return {name: [text, ...]} and {name: [value, ...]}."""
    from brianlab.params import format_value, parse_assignments

    if not grid:
        raise BrianlabError("a sweep needs at least one --grid name=value1,value2,...")
    fixed_names = set(parse_assignments(model.params, fixed))
    texts, values = {}, {}
    for name, entries in grid.items():
        if name in fixed_names:
            raise BrianlabError(f"parameter {name!r} is both --set and --grid; give it in one of them")
        if not entries:
            raise BrianlabError(f"--grid {name} has no values")
        texts[name], values[name] = [], []
        for entry in entries:
            text = entry if isinstance(entry, str) else format_value(entry)
            (value,) = parse_assignments(model.params, [f"{name}={text}"]).values()
            texts[name].append(text)
            values[name].append(value)
    return texts, values


def plan(model, texts, values, seeds, fixed, device, options):
    """The points, each point's shape (None where its parameters are invalid) and their errors.

    Returns
    -------
    points : list of Point
        The grid's Cartesian product (first name slowest) times ``seeds``.
    shapes : dict
        Point id -> :func:`~brianlab.sweep.cache.build_key` of its network, or None.
    errors : dict
        Point id -> the one-line reason its parameters are invalid.
    """
    from brianlab.params import apply_assignments, parse_assignments

    fixed_canonical = {k: canonical(v) for k, v in parse_assignments(model.params, fixed).items()}
    options_key = cache.options_key(device, options)
    names = list(texts)
    points, shapes, errors = [], {}, {}
    for combo in itertools.product(*(range(len(texts[n])) for n in names)):
        assignments = tuple(f"{n}={texts[n][k]}" for n, k in zip(names, combo))
        columns = tuple((n, _column_value(values[n][k])) for n, k in zip(names, combo))
        point_canonical = {n: canonical(values[n][k]) for n, k in zip(names, combo)}
        try:
            params = apply_assignments(model.params, [*fixed, *assignments])
            shape = cache.build_key(model, params, device, options)
        except BrianlabError as exc:
            shape, error = None, str(exc)
        for seed in seeds:
            identity = {"model": model.name, "fixed": fixed_canonical, "values": point_canonical, "seed": seed,
                        "options": options_key}
            point = Point(f"{_slug(assignments, seed)}-{digest(identity, 8)}", assignments, columns, int(seed))
            points.append(point)
            shapes[point.id] = shape
            if shape is None:
                errors[point.id] = error
    return points, shapes, errors


def chunks(points, shapes, n_workers):
    """Split each shape's points into as many chunks as its share of the workers: ``[(shape, points)]``."""
    groups = {}
    for point in points:
        groups.setdefault(shapes[point.id], []).append(point)
    total = len(points)
    out = []
    for shape, members in groups.items():
        n_chunks = min(len(members), max(1, round(n_workers * len(members) / total)))
        size = math.ceil(len(members) / n_chunks)
        out.extend((shape, tuple(members[k:k + size])) for k in range(0, len(members), size))
    return out
