"""How much does recurrent excitation raise a LIF population's firing? A sweep of drive x weight.

The ``lif`` example model with each neuron exciting its ``k_conn`` nearest
neighbours: the mean rate over the population for every combination of the
largest drive ``drive_max`` and the synaptic jump ``w_syn`` (both sweepable, so
the network is compiled once), several seeds each with membrane noise. Without
coupling (``w_syn=0``) the rate follows the single-neuron f-I curve; the figure
shows how far excitation lifts it. The sweep itself is an ordinary
``brianlab sweep`` directory under ``--out`` (resumable: run the command again).

    python -m brianlab.runs.lif_coupling_sweep --device cpp_standalone --out results/lif_coupling --workers 2
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from brianlab import plotting
from brianlab.arguments import ArgumentParser, add_device_arguments, add_sweep_arguments, device_options, run_script
from brianlab.sweep import plot_metric, run_sweep

#: The network: coupled, noisy, small enough for a laptop.
FIXED = ["n_neurons=200", "k_conn=3", "sigma=2*mV", "duration=1*second"]
DRIVES = [f"{v}*mV" for v in (20, 25, 30, 35, 40, 45)]
WEIGHTS = [f"{w}*mV" for w in (0, 0.5, 1, 1.5, 2)]


def simulate(out, device, options, seed, seeds, assignments, scheduler, workers):
    """Run the sweep into ``out/sweep``; return its :class:`~brianlab.sweep.SweepResult`."""
    return run_sweep("lif", {"drive_max": DRIVES, "w_syn": WEIGHTS}, seeds=seeds, base_seed=seed,
                     fixed=[*FIXED, *assignments], device=device, options=options, scheduler=scheduler,
                     workers=workers, out=out / "sweep", log=print)


def plot_rate_curves(result, ax=None):
    """Mean rate against drive_max, one line per synaptic weight (mean over seeds)."""
    ax = plotting.new_axes(ax)
    done = result.table[result.table["status"] == "done"]
    for weight in sorted(done["w_syn"].unique()):
        rows = done[done["w_syn"] == weight].groupby("drive_max")["mean_rate"].mean()
        ax.plot(np.asarray(rows.index) * 1e3, rows.values, "o-", label=f"w_syn = {weight * 1e3:g} mV")
    ax.set_xlabel("drive_max (mV)")
    ax.set_ylabel("mean rate (Hz)")
    ax.set_title("recurrent excitation lifts the population rate")
    ax.legend(frameon=False)
    return ax


def plot(result, out):
    """The rate curves and the heat map of the mean rate; return the paths."""
    axes = plotting.new_axes(figsize=(11, 4), ncols=2)
    plot_rate_curves(result, ax=axes[0])
    plot_metric(result.table, result.grid, "mean_rate", ax=axes[1], title="lif")
    return [plotting.save(axes, out / "coupling.png")]


def main(argv=None):
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_device_arguments(parser)
    add_sweep_arguments(parser, Path("results/lif_coupling"))
    args = parser.parse_args(argv)
    result = simulate(args.out, args.device, device_options(args), args.seed, args.seeds, args.set,
                      args.scheduler, args.workers)
    for path in plot(result, args.out):
        print(path)
    print(f"results: {args.out}")


if __name__ == "__main__":
    raise SystemExit(run_script(main))
