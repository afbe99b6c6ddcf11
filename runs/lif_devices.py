"""Same LIF network on every device that runs here: do they agree, and how fast are they?

The ``lif`` example model with nearest-neighbour coupling (deterministic, so
devices must agree spike for spike) is run on each runnable device; the script
saves one run directory per device under ``--out`` and a figure comparing the
spike counts and wall times.

    python -m brianlab.runs.lif_devices --out results/lif_devices --set n_neurons=500
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from brianlab import devices, plotting
from brianlab.arguments import ArgumentParser, run_script, seed_value
from brianlab.model import get_model
from brianlab.params import apply_assignments
from brianlab.records import load_run
from brianlab.runner import run_model


def simulate(out, seed, assignments, device_names):
    """Run ``lif`` on each device into ``out/<device>``; return {device: run directory}."""
    model = get_model("lif")
    params = apply_assignments(model.params, ["k_conn=3", "w_syn=1.5*mV", *assignments])
    runs = {}
    for name in device_names:
        path, _ = run_model(model, params, name, devices.DeviceOptions(), seed=seed, out=out / name, progress=False)
        runs[name] = path
    return runs


def compare(runs):
    """Agreement of every device with the first one, and wall times."""
    model = get_model("lif")
    records = {name: load_run(path, model) for name, path in runs.items()}
    reference_name = next(iter(records))
    reference = records[reference_name].arrays
    rows = {}
    for name, record in records.items():
        same = np.array_equal(record.arrays["spike_i"], reference["spike_i"]) and np.allclose(
            record.arrays["spike_t"], reference["spike_t"], rtol=0, atol=1e-12
        )
        rows[name] = {
            "n_spikes": record.metrics["n_spikes"],
            f"identical_to_{reference_name}": bool(same),
            "build_wall_s": record.metrics["build_wall_s"],
            "run_wall_s": record.metrics["run_wall_s"],
        }
    return rows


def plot_comparison(rows, ax=None):
    """Wall time per device, split into build and run."""
    ax = plotting.new_axes(ax)
    names = list(rows)
    build = [rows[n]["build_wall_s"] for n in names]
    run = [rows[n]["run_wall_s"] for n in names]
    ax.bar(names, build, label="build (codegen + compile)")
    ax.bar(names, run, bottom=build, label="run")
    ax.set_ylabel("wall time (s)")
    ax.legend(frameon=False)
    return ax


def main(argv=None):
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", action="append", default=None,
                        help="device to include (repeatable; default: every device that runs here)")
    parser.add_argument("--seed", type=seed_value, default=0, help="seed, 0 ... 2**32-1")
    parser.add_argument("--out", type=Path, default=Path("results/lif_devices"))
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    names = args.device or [s.name for s in devices.probe_all() if s.can_run]
    runs = simulate(args.out, args.seed, args.set, names)
    rows = compare(runs)
    (args.out / "comparison.json").write_text(json.dumps(rows, indent=2) + "\n")
    plotting.save(plot_comparison(rows), args.out / "comparison.png")
    for name, row in rows.items():
        print(name, row)
    print(f"results: {args.out}")


if __name__ == "__main__":
    raise SystemExit(run_script(main))
