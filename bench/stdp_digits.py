"""Accuracy and speed targets of ``stdp-digits``, side by side in one run.

    .venv/bin/python bench/stdp_digits.py            # about 10 minutes on 2 busy cores
    .venv/bin/python bench/stdp_digits.py --quick    # fewer seeds and samples: a smoke test

Reports, averaged over ``--seeds`` stratified train/test splits (seed = split
seed = network seed):

* held-out accuracy (frozen, and with unsupervised test-time learning) for 2 and
  10 classes on cpp_standalone, against the targets (2 classes >= 99%, 10
  classes >= 90% frozen; online at most 1 point below frozen);
* the same trained networks on a shifted test distribution (contrast 0.5,
  30 Hz background noise on every pixel), where online must beat frozen;
* training speed after compilation for 10 classes, samples per wall-second, on
  cpp_standalone (target >= 100) beside runtime.

Prints a table and writes JSON to ``results/bench/stdp_digits.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from brianlab.devices import DeviceSession  # noqa: E402
from brianlab.models import stdp_digits  # noqa: E402
from brianlab.params import apply_assignments  # noqa: E402
from brianlab.runs import stdp_shift  # noqa: E402

#: The shifted test distribution of the bench (one level of runs/stdp_shift.py).
SHIFT = (0.5, "30*Hz")
TARGETS = {2: 0.99, 10: 0.90}


def accuracy_rows(n_class, seeds, device, assignments):
    """Train and test once per seed (one compilation); also test the trained state shifted."""
    params = apply_assignments(stdp_digits.STDPDigitsParams, [f"n_class={n_class}", *assignments])
    with tempfile.TemporaryDirectory() as root, DeviceSession(device, build_root=root, progress=False) as session:
        shifted, trained = stdp_shift.simulate(session, params, seeds, shifts=[SHIFT])
    rows = []
    for shift in shifted:
        m = trained[shift["seed"]]
        rows.append({
            "n_class": n_class, "seed": shift["seed"], "n_train": m["n_train"], "n_test": m["n_test"],
            "train": m["accuracy_train"], "frozen": m["accuracy_test_frozen"], "online": m["accuracy_test_online"],
            "shift_frozen": shift["frozen"], "shift_online": shift["online"],
            "train_samples_per_s": m["train_samples_per_s"],
        })
        print(rows[-1], flush=True)
    return rows


def speed_row(device, n_train, assignments):
    """Training samples per wall-second after compilation (10 classes, one epoch)."""
    params = apply_assignments(stdp_digits.STDPDigitsParams, ["n_class=10", *assignments])
    params = dataclasses.replace(params, n_train=n_train or params.n_train, epochs=1)
    with tempfile.TemporaryDirectory() as root, DeviceSession(device, build_root=root, seed=0,
                                                              progress=False) as session:
        start = time.perf_counter()
        program = stdp_digits.make_program(params, session)
        data = stdp_digits.load_split(params, 0)
        state = stdp_digits.initial_state(params, np.random.default_rng(0))
        x, y = data["x_train"], data["y_train"]
        # warm-up chunk, not timed: compiles the standalone project, or runtime's Cython code
        warm = stdp_digits.run_phase(program, params, dict(state), x[: params.chunk], None, "frozen", seed=1)
        start += program.build_s + warm.run_s
        run_s, _, _ = stdp_digits.train(program, params, state, x, y, np.random.default_rng(0), 0)
        total = time.perf_counter() - start
    return {
        "device": device, "n_samples": len(x), "run_wall_s": run_s, "build_wall_s": program.build_s,
        "samples_per_s": len(x) / run_s,
        # runtime rebuilds the network for every chunk: included here
        "samples_per_s_incl_rebuilds": len(x) / total,
    }


def mean(rows, key):
    return float(np.mean([r[key] for r in rows]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 seed, fewer samples: checks the script, not targets")
    parser.add_argument("--runtime-samples", type=int, default=200, help="training samples timed on runtime")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--part", choices=("all", "accuracy", "speed"), default="all", help="run only one part")
    parser.add_argument("--out", type=Path, default=Path("results/bench/stdp_digits.json"))
    args = parser.parse_args(argv)
    seeds = range(1 if args.quick else args.seeds)
    extra = ["n_train=200", "n_test=100"] if args.quick else []
    out = {"settings": args.set, "quick": args.quick}
    if args.part in ("all", "accuracy"):
        accuracy = {n: accuracy_rows(n, seeds, "cpp_standalone", [*args.set, *extra]) for n in (2, 10)}
        out.update(accuracy=accuracy, summary=print_accuracy(accuracy, len(seeds)))
    if args.part in ("all", "speed"):
        speed = [speed_row("cpp_standalone", 0 if not args.quick else 200, args.set),
                 speed_row("runtime", args.runtime_samples if not args.quick else 50, args.set)]
        out.update(speed=speed, speed_ratio=print_speed(speed))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"results: {args.out}")


def print_accuracy(accuracy, n_seeds):
    """Print the accuracy table; return the summary per number of classes."""
    print(f"\nheld-out accuracy, mean over {n_seeds} seeds (cpp_standalone)")
    print(f"{'classes':>7} {'train':>7} {'frozen':>7} {'online':>7} {'on-fr':>7} {'target':>7}  "
          f"{'shift frozen':>12} {'shift online':>12}")
    summary = {}
    for n, rows in accuracy.items():
        s = {k: mean(rows, k) for k in ("train", "frozen", "online", "shift_frozen", "shift_online")}
        s["frozen_meets_target"] = s["frozen"] >= TARGETS[n]
        s["online_within_1_point"] = s["online"] >= s["frozen"] - 0.01
        s["online_beats_frozen_shifted"] = s["shift_online"] > s["shift_frozen"]
        summary[n] = s
        print(f"{n:>7} {s['train']:7.1%} {s['frozen']:7.1%} {s['online']:7.1%} {s['online'] - s['frozen']:+7.1%} "
              f"{TARGETS[n]:7.0%}  {s['shift_frozen']:12.1%} {s['shift_online']:12.1%}")
    return summary


def print_speed(speed):
    """Print the speed table; return cpp_standalone's speed over runtime's."""
    print("\ntraining speed, 10 classes, after compilation")
    print(f"{'device':>15} {'samples':>8} {'run s':>8} {'samples/s':>10} {'incl. rebuilds':>15}")
    for r in speed:
        print(f"{r['device']:>15} {r['n_samples']:8d} {r['run_wall_s']:8.1f} {r['samples_per_s']:10.1f} "
              f"{r['samples_per_s_incl_rebuilds']:15.1f}")
    ratio = speed[0]["samples_per_s"] / speed[1]["samples_per_s"]
    print(f"cpp_standalone / runtime: {ratio:.1f}x; target >= 100 samples/s on cpp_standalone: "
          f"{'met' if speed[0]['samples_per_s'] >= 100 else 'NOT met'}")
    return ratio


if __name__ == "__main__":
    main()
