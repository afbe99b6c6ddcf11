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
from brianlab.arguments import (
    ArgumentParser,
    add_device_arguments,
    add_sweep_arguments,
    device_options,
    run_script,
    whole_number,
)
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
                         "git_commit": config.get("git", {}).get("commit"), "started": config.get("started"),
                         **{k: v for k, v in metrics.items() if not isinstance(v, (dict, list))}})
    return pd.DataFrame(rows, columns=None if rows else ["point", "ie_ratio", "seed", "status"])


def summarise(table, n_planned):
    """Per-fraction mean and sd of the test accuracy, and the notebook's three shape criteria.

    "Well below": 0% inhibitory at least 10 points under the peak; "at chance": 100% within
    three binomial sd of 1/12 at the test-set size; the peak (highest mean) within 30-70%.
    """
    done = table[table["status"] == "done"]
    per_ratio = {}
    for ratio, group in done.groupby("ie_ratio"):
        per_ratio[f"{ratio:g}"] = {
            "n_seeds": int(len(group)), "seeds": [int(x) for x in group["seed"]],
            "accuracy_test": [float(x) for x in group["accuracy_test"]],
            "accuracy_test_brian": [float(x) for x in group["accuracy_test_brian"]],
            "prediction_agreement": [float(x) for x in group["prediction_agreement"]],
            "train_wall_s": [float(x) for x in group["train_wall_s"]],
            "mean_test": float(group["accuracy_test"].mean()),
            "sd_test": float(group["accuracy_test"].std()) if len(group) > 1 else None,
        }
    shape = {}
    means = {float(k): v["mean_test"] for k, v in per_ratio.items()}
    if means:
        peak = max(means, key=means.get)
        chance = float(done["chance"].iloc[0])
        n_test = 2048
        shape["peak_ratio"] = peak
        shape["peak_mean_test"] = means[peak]
        shape["peak_between_30_and_70"] = 0.3 <= peak <= 0.7
        if 0.0 in means:
            shape["zero_well_below_peak"] = means[peak] - means[0.0] >= 0.10
        if 1.0 in means:
            shape["full_at_chance"] = abs(means[1.0] - chance) <= 3 * np.sqrt(chance * (1 - chance) / n_test)
    return {"n_points_finished": int(len(done)), "n_points_planned": int(n_planned), "per_ratio": per_ratio,
            "notebook": {f"{k:g}": v / 100 for k, v in NOTEBOOK.items()}, "shape": shape}


def write_summary(path: Path, table, n_planned, sweep_dir: Path | None = None) -> dict:
    """The summary of :func:`summarise` with the command, commit, machine and date, as JSON.

    ``sweep_dir``: its ``sweep.json`` (the last sweep pass's command, device, fixed
    assignments and versions) is copied in, with the commits the runs were made at.
    """
    import datetime
    import json
    import platform
    import subprocess
    import sys

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    summary = {
        "command": "python -m brianlab.runs.ipd_inhibitory_sweep " + " ".join(sys.argv[1:]),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                 cwd=Path(__file__).parent).stdout.strip(),
        "machine": {"cores": os.cpu_count(), "cpu": cpu, "load_average": os.getloadavg()},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        **summarise(table, n_planned),
    }
    if sweep_dir is not None and (sweep_dir / "sweep.json").is_file():
        spec = json.loads((sweep_dir / "sweep.json").read_text())
        summary["sweep"] = {k: spec.get(k) for k in ("command", "device", "device_options", "fixed", "versions", "started")}
    if "git_commit" in table:
        summary["run_commits"] = sorted({str(c) for c in table["git_commit"].dropna()})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, default=lambda x: bool(x) if isinstance(x, np.bool_) else str(x)) + "\n")
    return summary


def plot_accuracy(table, ax=None):
    """Test accuracy (%) against the inhibitory fraction: PyTorch, Brian2 and the notebook."""
    ax = plotting.new_axes(ax)
    done = table[table["status"] == "done"]
    for metric, label, style in (("accuracy_test", "PyTorch reference", "o-"),
                                 ("accuracy_test_brian", "Brian2", "x--")):
        groups = done.groupby("ie_ratio")[metric]
        mean, sd = groups.mean() * 100, groups.std().fillna(0) * 100
        counts = sorted({int(c) for c in groups.count()}) or [0]
        n = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
        ax.errorbar(np.asarray(mean.index) * 100, mean.values, yerr=sd.values, fmt=style, capsize=3,
                    label=f"{label} (mean +- sd over {n} seeds)")
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
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_device_arguments(parser)
    add_sweep_arguments(parser, Path("results/ipd_sweep"))
    parser.add_argument("--ratios", default=",".join(RATIOS),
                        help="comma-separated inhibitory fractions (default 0,0.1,...,1)")
    parser.add_argument("--seed-major", action="store_true",
                        help="one pass over every fraction per seed, then the table of all seeds")
    parser.add_argument("--plot-only", action="store_true", help="draw the figure from the finished points")
    parser.add_argument("--json", type=Path, default=None,
                        help="also write the per-point accuracies and the shape check to this JSON file")
    parser.add_argument("--torch-threads", type=whole_number(1, None, "the number of torch threads"), default=None,
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
    if args.json is not None:
        shape = write_summary(args.json, table, len(ratios) * len(seeds), args.out / "sweep")["shape"]
        print(f"{args.json}: {shape}")
    print(f"results: {args.out}")


if __name__ == "__main__":
    raise SystemExit(run_script(main))
