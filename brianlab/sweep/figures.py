"""The sweep's own figures: each metric against the swept parameters (a line, or a heat map for two)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from brianlab.sweep.layout import TIMINGS

__all__ = ["plot_metric", "plot_sweep"]


def _metric_columns(frame, grid_names):
    skip = {"point", "seed", "status", "error", "worker", "build_dir", "run_dir", *grid_names, *TIMINGS}
    columns = []
    for column in frame.columns:
        if column in skip:
            continue
        values = frame.loc[frame["status"] == "done", column]
        if len(values) and all(isinstance(v, (bool, int, float, np.number)) or v is None for v in values):
            columns.append(column)
    return columns


def _axis(frame, name, texts):
    """Labels of a grid parameter's values, in grid order, and its axis label."""
    from brian2 import Quantity

    from brianlab.params import parse_quantity

    label = name
    try:
        quantities = [parse_quantity(t) for t in texts]
    except ValueError:
        quantities = []
    if quantities and all(isinstance(q, Quantity) and not q.is_dimensionless for q in quantities):
        import brian2 as b2

        unit = b2.Quantity(np.array([float(q) for q in quantities]), dim=quantities[0].dim).get_best_unit()
        label = f"{name} ({unit})"
        return [f"{float(q / unit):g}" for q in quantities], label
    return [t for t in texts], label


def plot_metric(frame, grid, metric, ax=None, title=""):
    """``metric`` against the swept parameters: a line for one, a heat map for two.

    With more than two, the heat map of the first two averages over the others;
    several seeds are averaged (one parameter: mean +- standard deviation, with
    each seed's value as a dot). Failed or pending points are left out (grey
    cells in a heat map).

    Parameters
    ----------
    frame : pandas.DataFrame
        A sweep table (:func:`load_table`).
    grid : dict
        ``{name: [value texts]}`` as the sweep was given them (``sweep.json``).
    metric : str
    """
    from brianlab import plotting

    names = list(grid)
    done = frame[frame["status"] == "done"].copy()
    done[metric] = done[metric].astype(float)
    positions = {name: {value: k for k, value in enumerate(_ordered(frame, name, grid[name]))} for name in names}
    seeds = sorted(frame["seed"].unique())
    averaged = [n for n in names[2:]] + ([f"{len(seeds)} seeds"] if len(seeds) > 1 else [])
    note = f" (mean over {', '.join(averaged)})" if averaged else ""
    heading = f"{title}: {metric}" if title else metric
    if len(names) == 1:
        ax = plotting.new_axes(ax)
        name = names[0]
        labels, axis_label = _axis(frame, name, grid[name])
        x = done[name].map(positions[name])
        numeric = [float(v) for v in labels] if _all_numbers(labels) else list(range(len(labels)))
        xs = np.array([numeric[k] for k in x])
        stats = done.assign(_x=xs).groupby("_x")[metric].agg(["mean", "std", "count"]).reset_index()
        if len(seeds) > 1:
            ax.errorbar(stats["_x"], stats["mean"], yerr=stats["std"].fillna(0), fmt="o-", color="C0",
                        capsize=3, label=f"mean \u00b1 sd over {len(seeds)} seeds")
            ax.plot(xs, done[metric], ".", color="0.3", ms=4, label="each seed", zorder=3)
            ax.legend(frameon=False)
        else:
            ax.plot(stats["_x"], stats["mean"], "o-", color="C0")
        if not _all_numbers(labels):
            ax.set_xticks(numeric, labels)
        ax.set_xlabel(axis_label)
        ax.set_ylabel(metric)
        ax.set_title(f"{heading}{note}")
        return ax
    x_name, y_name = names[0], names[1]
    x_labels, x_axis = _axis(frame, x_name, grid[x_name])
    y_labels, y_axis = _axis(frame, y_name, grid[y_name])
    cells = np.full((len(y_labels), len(x_labels)), np.nan)
    means = done.groupby([y_name, x_name])[metric].mean()
    for (y_value, x_value), value in means.items():
        cells[positions[y_name][y_value], positions[x_name][x_value]] = value
    ax = plotting.heatmap(cells, x_labels, y_labels, ax=ax, xlabel=x_axis, ylabel=y_axis, cbar_label=metric)
    ax.set_title(f"{heading}{note}")
    return ax


def _ordered(frame, name, texts):
    """The table values of a grid parameter in the order the grid gave them."""
    seen = []
    for value in frame[name]:
        if value not in seen:
            seen.append(value)
    if len(seen) == len(texts):
        return seen
    return sorted(seen)


def _all_numbers(labels):
    try:
        [float(v) for v in labels]
    except ValueError:
        return False
    return True


def plot_sweep(frame, grid, out_dir, title=""):
    """One figure per numeric metric in ``out_dir``; return their paths."""
    from brianlab import plotting

    paths = []
    if not (frame["status"] == "done").any():
        return paths
    for metric in _metric_columns(frame, list(grid)):
        ax = plot_metric(frame, grid, metric, title=title)
        paths.append(plotting.save(ax, Path(out_dir) / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', metric)}.png"))
    return paths
