"""Plot helpers shared by the models.

Every helper takes ``ax=None`` (a new figure is made when it is None), returns
the axes and never calls ``plt.show()``. Figures are made with
:class:`matplotlib.figure.Figure`, not pyplot, so no display is needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

__all__ = ["new_axes", "save", "raster", "traces"]


def new_axes(ax=None, figsize=(6.0, 4.0), **subplots):
    """``ax`` itself, or the axes of a new figure (several with ``nrows``/``ncols``)."""
    if ax is not None:
        return ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig.subplots(**subplots)


def save(ax, path):
    """Save the figure that ``ax`` (or an array of axes) belongs to; return the path."""
    first = np.ravel(ax)[0] if isinstance(ax, np.ndarray) else ax
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    first.figure.savefig(path, dpi=120)
    return path


def raster(t_ms, i, ax=None, label=None, **style):
    """Spike raster: times in ms against neuron index."""
    ax = new_axes(ax)
    ax.plot(t_ms, i, "|", markersize=3, label=label, **{"color": "k", **style})
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron index")
    return ax


def traces(t_ms, values, ax=None, ylabel="", labels=None):
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
