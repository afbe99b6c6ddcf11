"""Test accuracy against the fraction of inhibitory units, as in ``ipd_dales_law_notebook``.

``ipd-localisation`` trained (``weights=train``) at ``ie_ratio`` 0, 0.1, ..., 1,
three seeds each, then classified in Brian2; the figure shows the PyTorch and
the Brian2 test accuracy (mean +- sd over seeds) beside the notebook's numbers.
Each point is an ordinary ``brianlab sweep`` run (resumable: run the command again).

    python -m brianlab.runs.ipd_inhibitory_sweep --out results/ipd_sweep --workers 1 --torch-threads 1

``--set epochs=10 --set n_train_batches=16`` makes a cheaper, lower curve;
``--ratios 0,0.5`` a shorter one. ``--torch-threads`` limits torch (and OpenMP) to that
many threads in every worker. ``--seed-major`` runs one pass of every fraction per seed
(so a sweep stopped early has every fraction at least once), then tabulates all seeds;
``--plot-only`` draws the figure from the points finished so far.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from brianlab import plotting
from brianlab.arguments import add_device_arguments, device_options
from brianlab.sweep import run_sweep

RATIOS = [f"{k / 10:g}" for k in range(11)]
#: The notebook's test accuracies (%), read from its text (balanced 79.8%).
NOTEBOOK = {0.0: 43, 0.1: 64, 0.3: 76, 0.5: 79.8, 0.7: 78, 1.0: 100 / 12}
FIXED = ["weights=train", "n_test=2048"]


def simulate(out, device, options, seed, seeds, assignments, scheduler, workers, ratios=None):
    """Run the sweep into ``out/sweep``; return its :class:`~brianlab.sweep.SweepResult`."""
    return run_sweep("ipd-localisation", {"ie_ratio": list(ratios or RATIOS)}, seeds=seeds, base_seed=seed,
                     fixed=[*FIXED, *assignments], device=device, options=options, scheduler=scheduler,
                     workers=workers, out=out / "sweep", point_figures=False, log=print)


def finished_points(out, ratios, seeds):
    """A table (``status`` "done") of the finished runs in ``out/sweep`` at these fractions and seeds."""
    import json

    import pandas as pd

    rows = []
    for run_dir in sorted((out / "sweep" / "runs").glob("ie_ratio=*")):
        if not (run_dir / "metrics.json").is_file():
            continue
        config = json.loads((run_dir / "config.json").read_text())
        ratio, seed = float(config["params"]["ie_ratio"]), int(config["seed"])
        if ratio in ratios and seed in seeds:
            metrics = json.loads((run_dir / "metrics.json").read_text())
            rows.append({"point": run_dir.name, "ie_ratio": ratio, "seed": seed, "status": "done",
                         **{k: v for k, v in metrics.items() if not isinstance(v, (dict, list))}})
    return pd.DataFrame(rows, columns=None if rows else ["point", "ie_ratio", "seed", "status"])


def plot_accuracy(table, ax=None):
    """Test accuracy (%) against the inhibitory fraction: PyTorch, Brian2 and the notebook."""
    ax = plotting.new_axes(ax)
    done = table[table["status"] == "done"]
    for metric, label, style in (("accuracy_test", "PyTorch reference", "o-"),
                                 ("accuracy_test_brian", "Brian2", "x--")):
        groups = done.groupby("ie_ratio")[metric]
        mean, sd = groups.mean() * 100, groups.std().fillna(0) * 100
        ax.errorbar(np.asarray(mean.index) * 100, mean.values, yerr=sd.values, fmt=style, capsize=3,
                    label=f"{label} (mean +- sd, n={int(groups.count().max()) if len(done) else 0})")
    ax.plot([100 * k for k in NOTEBOOK], list(NOTEBOOK.values()), "s:", color="0.5", label="notebook")
    ax.axhline(100 / 12, color="0.7", lw=0.8)
    ax.set_xlabel("inhibitory units (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(frameon=False, fontsize="small")
    return ax


def limit_threads(n: int) -> None:
    """Limit torch and OpenMP to ``n`` threads, here and in worker processes started from here."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(n)
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(n)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_device_arguments(parser)
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per point (default 3)")
    parser.add_argument("--out", type=Path, default=Path("results/ipd_sweep"))
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--scheduler", default="local", help="'local' or a Dask scheduler address")
    parser.add_argument("--workers", type=int, default=None, help="local cluster size (default: one per core)")
    parser.add_argument("--ratios", default=",".join(RATIOS),
                        help="comma-separated inhibitory fractions (default 0,0.1,...,1)")
    parser.add_argument("--seed-major", action="store_true",
                        help="one pass over every fraction per seed, then the table of all seeds")
    parser.add_argument("--plot-only", action="store_true", help="draw the figure from the finished points")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch/OpenMP threads per worker (default: the libraries' own choice)")
    args = parser.parse_args(argv)
    if args.torch_threads is not None:
        limit_threads(args.torch_threads)
    ratios = [text.strip() for text in args.ratios.split(",") if text.strip()]
    seeds = list(range(args.seed, args.seed + args.seeds))
    if not args.plot_only:
        for first in (seeds if args.seed_major else [args.seed]):
            simulate(args.out, args.device, device_options(args), first, 1 if args.seed_major else args.seeds,
                     args.set, args.scheduler, args.workers, ratios)
    table = finished_points(args.out, [float(r) for r in ratios], seeds)
    print(f"{len(table)} of {len(ratios) * len(seeds)} points finished")
    path = plotting.save(plot_accuracy(table), args.out / "ipd_inhibitory_sweep.png")
    print(path)
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
