"""Where does the ``ring`` rate model settle, form a bump or diverge? A J_1 x J_0 phase diagram.

Two sweeps of the recurrent kernel ``J(dx) = J_0 + J_1 exp(-dx^2/(2 sigma_J^2))``
(local excitation ``J_1``, global inhibition ``J_0``), each an ordinary
``brianlab sweep`` directory compiled once (the kernel constants are
``run_args``):

``published``
    The published attention network (line, ``sigma_J = 1.31``, threshold-linear,
    inputs on throughout): does the self-consistent solution the paper asks
    for exist (``stable``: the rates converge to it) or do the rates grow
    without bound (``divergent``)?
``attractor``
    The ring (``sigma_J = 0.5``) with the published inputs as a cue that is
    switched off after 0.3 s, threshold-linear (``r_max = 0``) and saturating
    (``r_max = 1``): after the cue the activity returns to rest (``stable``),
    stays as a localized bump (``bump``: persistent activity), stays everywhere
    (``uniform``), or the rates diverge (``divergent``).

The classes are the model's ``regime`` metric. The figure marks the published
parameters and the documented attractor set (``models.ring.ATTRACTOR``).

    python -m brianlab.runs.ring_phase --device cpp_standalone --out results/ring_phase --workers 2
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.patches import Patch

from brianlab import plotting
from brianlab.arguments import ArgumentParser, add_device_arguments, add_sweep_arguments, device_options, run_script
from brianlab.models.ring import REGIMES
from brianlab.sweep import run_sweep

J_1 = ["0", "2", "4", "6", "8", "10", "12", "16", "20", "24", "28", "32"]
J_0 = ["0", "-2.5", "-5", "-7.5", "-10", "-12.5", "-15"]
#: What each sweep fixes besides the grid (``--set`` adds to both).
SWEEPS = {
    "published": ["duration=1*second"],
    "attractor": ["geometry=ring", "sigma_J=0.5", "duration=1*second", "input_off=0.3*second"],
}
R_MAX = ["0", "1"]  # attractor sweep: threshold-linear, saturating
#: Regime colours, by regime code (``models.ring.REGIMES``).
COLOURS = {"stable": "#4c72b0", "bump": "#55a868", "divergent": "#c44e52", "uniform": "#dd8452",
           "unsettled": "#8c8c8c"}
MARKS = {"published": (8.5, -2.5, "published"), "attractor": (24, -8, "attractor set")}


def simulate(out, device, options, seed, assignments, scheduler, workers, quick=False):
    """Run both sweeps into ``out/<name>``; return ``{name: SweepResult}``."""
    results = {}
    for name, fixed in SWEEPS.items():
        grid = {"J_1": J_1[::2] if quick else J_1, "J_0": J_0[::2] if quick else J_0}
        if name == "attractor":
            grid["r_max"] = R_MAX
        extra = ["N=128"] if quick else []
        results[name] = run_sweep("ring", grid, seeds=1, base_seed=seed, fixed=[*fixed, *extra, *assignments],
                                  device=device, options=options, scheduler=scheduler, workers=workers,
                                  out=out / name, point_figures=False, log=print)
    return results


def regime_grid(table, j1_values, j0_values, **where):
    """Regime codes as an array [J_0 row, J_1 column] (NaN: point not done)."""
    done = table[table["status"] == "done"]
    for column, value in where.items():
        done = done[np.isclose(done[column].astype(float), value)]
    grid = np.full((len(j0_values), len(j1_values)), np.nan)
    for _, row in done.iterrows():
        column = int(np.argmin(np.abs(np.asarray(j1_values) - row["J_1"])))
        line = int(np.argmin(np.abs(np.asarray(j0_values) - row["J_0"])))
        grid[line, column] = row["regime_code"]
    return grid


def plot_phase(table, ax=None, title="", mark=None, **where):
    """The regime of every (J_1, J_0) point as coloured cells; ``where`` selects a slice (``r_max=1``)."""
    ax = plotting.new_axes(ax)
    j1 = np.sort(table["J_1"].astype(float).unique())
    j0 = np.sort(table["J_0"].astype(float).unique())[::-1]  # strongest inhibition at the bottom
    grid = regime_grid(table, j1, j0, **where)
    cmap = ListedColormap([COLOURS[name] for name in REGIMES]).with_extremes(bad="white")
    norm = BoundaryNorm(np.arange(len(REGIMES) + 1) - 0.5, len(REGIMES))
    ax.imshow(np.ma.masked_invalid(grid), origin="upper", aspect="auto", interpolation="nearest", cmap=cmap,
              norm=norm)
    ax.set_xticks(range(len(j1)), [f"{v:g}" for v in j1])
    ax.set_yticks(range(len(j0)), [f"{v:g}" for v in j0])
    ax.set_xlabel("J_1 (local excitation)")
    ax.set_ylabel("J_0 (global inhibition)")
    ax.set_title(title)
    if mark is not None:
        x_mark, y_mark, label = mark
        ax.plot(np.interp(x_mark, j1, range(len(j1))), np.interp(y_mark, j0[::-1], range(len(j0))[::-1]),
                "*", color="k", ms=14, mfc="yellow", label=label)
    present = sorted({int(v) for v in grid[np.isfinite(grid)]})
    handles = [Patch(color=COLOURS[REGIMES[k]], label=REGIMES[k]) for k in present]
    if mark is not None:
        handles += ax.get_legend_handles_labels()[0]
    ax.legend(handles=handles, frameon=True, fontsize="small", loc="upper right")
    return ax


def plot(results, out):
    """The three panels (published; ring threshold-linear; ring saturating); return the paths."""
    axes = plotting.new_axes(figsize=(16, 4.8), ncols=3)
    plot_phase(results["published"].table, ax=axes[0], mark=MARKS["published"],
               title="published network (line, threshold-linear, inputs on)")
    attractor = results["attractor"].table
    plot_phase(attractor, ax=axes[1], title="ring, threshold-linear, after the cue", r_max=0.0)
    plot_phase(attractor, ax=axes[2], mark=MARKS["attractor"], title="ring, r_max = 1, after the cue", r_max=1.0)
    return [plotting.save(axes, out / "ring_phase.png")]


def summary(results):
    """Lines: how many points fell into each regime, per panel."""
    lines = []
    for name, result in results.items():
        table = result.table[result.table["status"] == "done"]
        groups = [("", table)] if name == "published" else [
            (f" r_max={v:g}", table[np.isclose(table["r_max"].astype(float), v)])
            for v in sorted(table["r_max"].astype(float).unique())]
        for label, part in groups:
            counts = part["regime"].value_counts()
            lines.append(f"{name}{label}: " + ", ".join(f"{k} {counts[k]}" for k in REGIMES if k in counts))
    return lines


def main(argv=None):
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_device_arguments(parser)
    add_sweep_arguments(parser, Path("results/ring_phase"), seeds=None,
                        seed_help="seed, 0 ... 2**32-1 (the model is deterministic)",
                        set_help="fix a parameter in both sweeps; repeatable")
    parser.add_argument("--quick", action="store_true", help="N=128 and every other grid value (a smoke test)")
    args = parser.parse_args(argv)
    results = simulate(args.out, args.device, device_options(args), args.seed, args.set, args.scheduler,
                       args.workers, quick=args.quick)
    for line in summary(results):
        print(line)
    for path in plot(results, args.out):
        print(path)
    print(f"results: {args.out}")


if __name__ == "__main__":
    raise SystemExit(run_script(main))
