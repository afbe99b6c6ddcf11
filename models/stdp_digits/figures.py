"""Figures of a ``stdp-digits`` run: weights, confusion matrices, learning curve, raster."""

from __future__ import annotations

import numpy as np
from brian2 import ms

from brianlab import plotting

from .network import SLOT, SLOTS_PER_SAMPLE


def plot_weights(record, ax=None, key="w_inp", max_per_class=10):
    """Input weights of the output neurons as images (8x8 or 28x28), grouped by the class they answer for.

    With one neuron per class the images form a grid; otherwise one row per
    class (at most ``max_per_class`` neurons each).
    """
    data = record.arrays
    w = data[key]
    side = int(round(np.sqrt(w.shape[0])))
    classes = data["neuron_class"]
    n_class = int(record.params.n_class)
    order = np.argsort(classes, kind="stable")
    if int(record.params.n_per_class) == 1:
        ncols = min(n_class, 5)
        nrows = -(-len(order) // ncols)
        cells = [divmod(k, ncols) for k in range(len(order))]
    else:
        rank = np.zeros(n_class, int)
        cells = []
        for j in order:
            cells.append((int(classes[j]), rank[classes[j]]))
            rank[classes[j]] += 1
        nrows, ncols = n_class, min(max(rank.max(), 1), max_per_class)
    if ax is None:
        fig = plotting.new_axes(figsize=(max(1.2 * ncols + 1.2, 4.5), 1.25 * nrows + 0.6)).figure
        fig.clear()
        ax = fig.subplots(nrows, ncols, squeeze=False)
    axes = np.atleast_2d(ax)
    for a in axes.ravel():
        a.set_axis_off()
    image = None
    for j, (row, col) in zip(order, cells):
        if col >= axes.shape[1]:
            continue
        a = axes[row, col]
        image = a.imshow(w[:, j].reshape(side, side), cmap="viridis", vmin=0, vmax=float(w.max()) or 1.0)
        a.set_title(f"n{j} -> {classes[j]}", fontsize=7)
    if image is not None:
        axes[0, 0].figure.colorbar(image, ax=axes, shrink=0.6, label="weight")
    axes[0, 0].figure.suptitle("learned input weights (neuron -> its class)", fontsize="medium")
    return axes


def plot_confusion(record, ax=None, key="pred_frozen", title="frozen"):
    """Confusion matrix of the held-out predictions (rows: true class)."""
    ax = plotting.new_axes(ax, figsize=(5, 4.3))
    data = record.arrays
    n_class = int(record.params.n_class)
    matrix = np.zeros((n_class, n_class + 1), int)  # last column: no output spike
    for true, pred in zip(data["y_test"], data[key]):
        matrix[true, pred if pred >= 0 else n_class] += 1
    shown = matrix if matrix[:, -1].any() else matrix[:, :-1]
    image = ax.imshow(shown, cmap="Blues")
    for (r, c), value in np.ndenumerate(shown):
        if value:
            ax.text(c, r, str(value), ha="center", va="center", fontsize=7,
                    color="white" if value > shown.max() / 2 else "black")
    labels = [str(k) for k in range(n_class)] + (["none"] if shown.shape[1] > n_class else [])
    ax.set_xticks(range(shown.shape[1]), labels)
    ax.set_yticks(range(n_class))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    acc = np.mean(data[key] == data["y_test"])
    ax.set_title(f"held-out, {title}: accuracy {acc:.1%} (n={len(data['y_test'])})")
    ax.figure.colorbar(image, ax=ax, shrink=0.8)
    return ax


def plot_curve(record, ax=None):
    """Held-out frozen accuracy against training images shown, and the final accuracies."""
    ax = plotting.new_axes(ax)
    data, metrics = record.arrays, record.metrics
    seen = data["curve_samples"]
    if len(seen):
        ax.plot(seen, data["curve_accuracy"] * 100, "o-", color="C0", label="validation, frozen, during training")
    last = seen[-1] if len(seen) else 0
    for key, marker, color, label in (("accuracy_train", "s", "C1", "train, frozen"),
                                      ("accuracy_val_frozen", "o", "C0", "validation, frozen"),
                                      ("accuracy_test_frozen", "D", "C2", "test, frozen"),
                                      ("accuracy_test_online", "^", "C3", "test, online")):
        if key not in metrics:
            continue
        ax.plot([last], [metrics[key] * 100], marker, color=color, label=f"{label}: {metrics[key]:.1%}")
    ax.axhline(100 / int(record.params.n_class), color="0.6", ls=":", label="chance")
    ax.set_xscale("symlog", linthresh=max(int(record.params.chunk), 1))
    ax.set_xlabel("training images shown")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 101)
    ax.legend(frameon=False, fontsize="small", loc="lower right")
    ax.set_title(f"accuracy during training ({metrics['n_train']} training images per epoch)")
    return ax


def plot_raster(record, ax=None):
    """Input and output spikes of the first training samples, teacher windows shaded."""
    data = record.arrays
    params = record.params
    if ax is None:
        fig = plotting.new_axes(figsize=(8, 5)).figure
        fig.clear()
        ax = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    ax_in, ax_out = ax
    if "raster_inp_t" not in data:
        ax_in.text(0.5, 0.5, "no training in this run", ha="center", transform=ax_in.transAxes)
        return ax
    plotting.raster(data["raster_inp_t"] * 1e3, data["raster_inp_i"], ax=ax_in, alpha=0.6)
    ax_in.set_ylabel("pixel")
    ax_in.set_xlabel("")
    plotting.raster(data["raster_out_t"] * 1e3, data["raster_out_i"], ax=ax_out, color="C3")
    ax_out.set_ylabel("output neuron")
    slot_ms = float(SLOT / ms)
    for k, label in enumerate(data["raster_label"]):
        t0 = k * SLOTS_PER_SAMPLE * slot_ms
        ax_in.axvspan(t0, t0 + slot_ms, color="0.9", zorder=-1)
        for j in np.flatnonzero(data["raster_target"][k]):
            height = max(1.0, params.n_out / 25)
            ax_out.add_patch(_teacher_patch(t0, slot_ms, j - height / 2, height))
        ax_in.text(t0 + slot_ms / 2, params.n_inputs + 1, f"digit {label}", ha="center", va="bottom", fontsize=8)
    ax_out.set_ylim(-0.5, params.n_out - 0.5)
    ax_in.set_ylim(-0.5, params.n_inputs * 1.1)
    ax_out.legend(handles=[_teacher_patch(0, 0, 0, 0)], frameon=False, fontsize="small", loc="upper right")
    ax_in.set_title("first training samples: image shown (grey), teacher on (orange)")
    return ax


def _teacher_patch(t0, width, y0, height):
    from matplotlib.patches import Rectangle

    return Rectangle((t0, y0), width, height, color="C1", alpha=0.35, label="teacher current", zorder=-1)


def figures(record, out_dir):
    """Weights, confusion matrices, learning curve and raster into ``out_dir``."""
    return [
        plotting.save(plot_weights(record), out_dir / "weights.png"),
        plotting.save(plot_confusion(record), out_dir / "confusion_frozen.png"),
        plotting.save(plot_confusion(record, key="pred_online", title="online learning"), out_dir / "confusion_online.png"),
        plotting.save(plot_curve(record), out_dir / "accuracy.png"),
        plotting.save(plot_raster(record), out_dir / "raster.png"),
    ]
