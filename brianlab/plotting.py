"""Plot helpers shared by the models.

Every helper takes ``ax=None`` (a new figure is made when it is None), returns
the axes and never calls ``plt.show()``. Figures are made with
:class:`matplotlib.figure.Figure`, not pyplot, so no display is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

__all__ = ["new_axes", "save", "raster", "traces", "heatmap"]


def new_axes(
    ax: Axes | np.ndarray | None = None, figsize: tuple[float, float] = (6.0, 4.0), **subplots: Any
) -> Axes | np.ndarray:
    """``ax`` itself, or the axes of a new figure (several with ``nrows``/``ncols``)."""
    if ax is not None:
        return ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig.subplots(**subplots)


def save(ax: Axes | np.ndarray, path: str | Path) -> Path:
    """Save the figure that ``ax`` (or an array of axes) belongs to; return the path."""
    first = np.ravel(ax)[0] if isinstance(ax, np.ndarray) else ax
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    first.figure.savefig(path, dpi=120)
    return path


def raster(t_ms: ArrayLike, i: ArrayLike, ax: Axes | None = None, label: str | None = None, **style: Any) -> Axes:
    """Spike raster: times in ms against neuron index."""
    ax = new_axes(ax)
    ax.plot(t_ms, i, "|", markersize=3, label=label, **{"color": "k", **style})
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron index")
    return ax


def traces(
    t_ms: ArrayLike, values: ArrayLike, ax: Axes | None = None, ylabel: str = "", labels: Sequence[str] | None = None
) -> Axes:
    """Traces ``values[k, :]`` against time in ms."""
    ax = new_axes(ax)
    values = np.atleast_2d(values)
    for k, row in enumerate(values):
        ax.plot(t_ms, row, lw=1, label=None if labels is None else labels[k])
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(ylabel)
    if labels is not None:
        ax.legend(frameon=False, fontsize="small")
    return ax


def heatmap(
    values: ArrayLike,
    x_labels: Sequence[str],
    y_labels: Sequence[str],
    ax: Axes | None = None,
    xlabel: str = "",
    ylabel: str = "",
    cbar_label: str = "",
    annotate: bool | None = None,
) -> Axes:
    """``values[row, column]`` as coloured cells, rows along y and columns along x.

    Cells are evenly spaced whatever the values they stand for (a grid of
    parameters). NaN cells (nothing to show) are grey. ``annotate`` writes each
    cell's value in it (default: when there are at most 12 x 12 cells).
    """
    ax = new_axes(ax)
    values = np.ma.masked_invalid(np.asarray(values, dtype=float))
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.85")
    image = ax.imshow(values, origin="lower", aspect="auto", interpolation="nearest", cmap=cmap)
    ax.figure.colorbar(image, ax=ax, label=cbar_label)
    ax.set_xticks(range(len(x_labels)), x_labels, rotation=45 if len(x_labels) > 6 else 0)
    ax.set_yticks(range(len(y_labels)), y_labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if annotate is None:
        annotate = values.shape[0] <= 12 and values.shape[1] <= 12
    if annotate:
        finite = values.compressed()
        middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
        for (row, column), value in np.ndenumerate(values.filled(np.nan)):
            text = "n/a" if np.isnan(value) else f"{value:.3g}"
            color = "k" if np.isnan(value) or value > middle else "w"
            ax.text(column, row, text, ha="center", va="center", fontsize="small", color=color)
    return ax
