"""Figures of an ``ipd-localisation`` run, drawn from its saved arrays."""

from __future__ import annotations

import numpy as np

from brianlab import plotting

__all__ = ["all_figures", "plot_input", "plot_losses", "plot_confusion", "plot_weights", "plot_tuning",
           "plot_overlay", "preferred_order"]


def plot_input(record, ax=None):
    """Input spikes of the example test sample (fibres of both ears)."""
    data = record.arrays
    step, fibre = np.nonzero(data["example_input"])
    dt_ms = float(record.params.dt) * 1e3
    ax = plotting.raster(step * dt_ms, fibre, ax=ax)
    n = data["example_input"].shape[1] // 2
    ax.axhline(n - 0.5, color="C3", lw=0.8)
    ax.set_ylabel("fibre (left ear below the line, right above)")
    ax.set_title(f"input spikes, IPD {np.degrees(float(data['example_ipd'])):.1f} deg")
    return ax


def plot_losses(record, ax=None):
    """Training and validation loss per epoch (empty for hand-built weights)."""
    ax = plotting.new_axes(ax)
    data = record.arrays
    if len(data["loss_train"]):
        epochs = np.arange(1, len(data["loss_train"]) + 1)
        ax.plot(epochs, data["loss_train"], label="training")
        ax.plot(epochs, data["loss_val"], label="validation")
        ax.axvline(int(np.argmin(data["loss_val"])) + 1, color="0.6", ls="--", label="kept (lowest validation)")
        ax.legend(frameon=False)
    else:
        ax.text(0.5, 0.5, "no training in this run", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss")
    return ax


def plot_confusion(record, ax=None):
    """Brian2's predicted class against the true class (columns sum to 1)."""
    data = record.arrays
    confusion = np.asarray(data["confusion"], float)
    confusion = confusion / np.maximum(confusion.sum(axis=0, keepdims=True), 1)
    labels = [f"{np.degrees(c):.0f}" for c in data["class_centres"]]
    ax = plotting.heatmap(confusion, labels, labels, ax=ax, xlabel="true IPD (deg)", ylabel="estimated IPD (deg)",
                          cbar_label="fraction of the true class", annotate=False)
    ax.set_title(f"confusion (Brian2 {record.config['device']}), accuracy "
                 f"{100 * record.metrics['accuracy_test_brian']:.1f}%")
    return ax


def preferred_order(record):
    """Hidden units sorted by preferred IPD (the tuning curve's centre of mass); silent units last."""
    tuning = np.asarray(record.arrays["tuning"])
    centres = np.asarray(record.arrays["class_centres"])
    total = tuning.sum(axis=1)
    preferred = np.where(total > 0, (tuning * centres).sum(axis=1) / np.maximum(total, 1e-12), np.inf)
    return np.argsort(preferred, kind="stable")


def plot_weights(record, ax=None):
    """Signed W1 and W2, hidden units sorted by preferred IPD."""
    axes = plotting.new_axes(ax, figsize=(10.0, 4.0), ncols=2)
    order = preferred_order(record)
    for axis, w, title, ylabel, xlabel in (
        (axes[0], np.asarray(record.arrays["w1"])[:, order], "W1 (red excitatory, blue inhibitory)",
         "input fibre (left ear, then right)", "hidden unit (by preferred IPD)"),
        (axes[1], np.asarray(record.arrays["w2"])[order, :], "W2", "hidden unit (by preferred IPD)", "output class"),
    ):
        vmax = max(float(np.max(np.abs(w))), 1e-12)
        image = axis.imshow(w, aspect="auto", interpolation="nearest", origin="lower", cmap="seismic",
                            vmin=-vmax, vmax=vmax)
        axis.figure.colorbar(image, ax=axis, label="weight")
        axis.set_title(title)
        axis.set_ylabel(ylabel)
        axis.set_xlabel(xlabel)
    return axes


def plot_tuning(record, ax=None):
    """Mean hidden spike count per sample against the IPD class (Brian2), one line per unit."""
    ax = plotting.new_axes(ax)
    tuning = np.asarray(record.arrays["tuning"])
    degrees = np.degrees(record.arrays["class_centres"])
    order = preferred_order(record)
    colours = plotting_colours(len(order))
    for rank, unit in enumerate(order):
        if tuning[unit].sum() > 0:
            ax.plot(degrees, tuning[unit], color=colours[rank], lw=1)
    ax.set_xlabel("IPD class centre (deg)")
    ax.set_ylabel("hidden spikes per sample")
    ax.set_title("hidden tuning curves (coloured by preferred IPD)")
    return ax


def plotting_colours(n):
    import matplotlib

    return matplotlib.colormaps["hsv"](np.linspace(0, 0.85, max(n, 1)))


def plot_overlay(record, ax=None):
    """Hidden spikes of the example sample: PyTorch/reference (circles) over Brian2 (dots)."""
    data = record.arrays
    dt_ms = float(record.params.dt) * 1e3
    ax = plotting.new_axes(ax)
    ax.plot(data["example_reference_step"] * dt_ms, data["example_reference_unit"], "o", mfc="none", color="C1",
            markersize=6, label=f"reference ({record.metrics['reference_backend']}, float64)")
    ax.plot(data["example_brian_step"] * dt_ms, data["example_brian_unit"], ".", color="k", markersize=3,
            label=f"Brian2 ({record.config['device']})")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("hidden unit")
    ax.set_title("hidden spikes of one sample")
    ax.legend(frameon=False, fontsize="small", loc="upper right")
    return ax


def all_figures(record, out_dir):
    """Write every figure into ``out_dir``; return their paths."""
    return [
        plotting.save(plot_input(record), out_dir / "input_raster.png"),
        plotting.save(plot_losses(record), out_dir / "loss.png"),
        plotting.save(plot_confusion(record), out_dir / "confusion.png"),
        plotting.save(plot_weights(record), out_dir / "weights.png"),
        plotting.save(plot_tuning(record), out_dir / "tuning.png"),
        plotting.save(plot_overlay(record), out_dir / "raster_overlay.png"),
    ]
