"""The suite's network (``--preset mnist-400``) and Diehl & Cook 2015 (``architecture=diehl-cook``) on the same MNIST splits.

For every seed, one split of the 5k subset (:func:`diehl_cook.mnist_split`: 1000
test, 1000 validation, 3000 training images, of which the first ``--n-train`` are
used) and both networks trained on the same training images, labelled and scored
frozen on the same validation and test images, side by side in one run on
cpp_standalone (each compiled once for all seeds). Neither network's constants
were chosen on these seeds' test images: the suite's on validation of seeds 0-2 of
its own split, Diehl & Cook's on validation of seed 1. The default seeds, 2-6,
are those of ``bench/results/stdp_mnist.json``.

    python bench/stdp_mnist_compare.py                  # writes bench/results/stdp_mnist_compare.json
    python bench/stdp_mnist_compare.py --seeds 2 --n-train 200   # a quick check of the script
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_provenance import provenance, write_result  # noqa: E402

from brianlab.devices import DeviceSession  # noqa: E402
from brianlab.models import stdp_digits  # noqa: E402
from brianlab.models.stdp_digits import diehl_cook as dc  # noqa: E402
from brianlab.params import apply_assignments  # noqa: E402

OUT = Path(__file__).parent / "results" / "stdp_mnist_compare.json"


def suite_scores(session, params, data, seed):
    """Train the suite's network on ``data``'s training images (validation only for its curve); score frozen."""
    program = stdp_digits.make_program(params, session)
    state = stdp_digits.initial_state(params, np.random.default_rng(seed))
    fitted = stdp_digits.fit_network(program, params, state, data["x_train"], data["y_train"], seed,
                                     validation=(data["x_val"], data["y_val"]))
    out = {"train_run_s": fitted.train_s}
    for part in ("val", "test"):
        phase = stdp_digits.run_phase(program, params, dict(state), data[f"x_{part}"], None, "frozen",
                                      stdp_digits.training._phase_seed(seed, part))
        predicted = stdp_digits.predict_phase(params, phase, fitted.classes)
        out[f"accuracy_{part}"] = stdp_digits.accuracy(predicted, data[f"y_{part}"])
    return out


def diehl_cook_scores(session, data, seed):
    net = dc.network_params()
    program = dc.make_program(net, session, key=("stdp-digits", "diehl-cook", net.n_exc, net.chunk))
    outcome = dc.fit_and_score(program, net, data, seed, epochs=1, n_class=10)
    y = data["y_test"]
    return {"train_run_s": outcome.train_run_s, "accuracy_val": outcome.accuracy["val"],
            "accuracy_test": outcome.accuracy["test"],
            # where a seed fails: test accuracy per class, and how many neurons the labelling gave each class
            "test_per_class": [float(np.mean(outcome.predicted["test"][y == c] == c)) for c in range(10)],
            "neurons_per_class": np.bincount(outcome.neuron_class[outcome.neuron_class >= 0], minlength=10).tolist()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="*", default=[2, 3, 4, 5, 6])
    parser.add_argument("--n-train", type=int, default=dc.MNIST_5K_N_TRAIN,
                        help=f"training images of the split used by both (default {dc.MNIST_5K_N_TRAIN}, Diehl & Cook's)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    params = apply_assignments(stdp_digits.STDPDigitsParams, list(stdp_digits.MODEL.preset("mnist-400")))
    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as root:
        with DeviceSession("cpp_standalone", build_root=Path(root) / "suite", progress=False) as session:
            suite = {seed: suite_scores(session, params, dc.mnist_split(seed, n_train=args.n_train), seed)
                     for seed in args.seeds}
        with DeviceSession("cpp_standalone", build_root=Path(root) / "dc", progress=False) as session:
            for seed in args.seeds:
                data = dc.mnist_split(seed, n_train=args.n_train)
                row = {"seed": seed, "n_train": len(data["y_train"]), "n_val": len(data["y_val"]),
                       "n_test": len(data["y_test"]),
                       "suite": suite[seed], "diehl_cook": diehl_cook_scores(session, data, seed)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    summary = {}
    for net in ("suite", "diehl_cook"):
        for part in ("val", "test"):
            values = [r[net][f"accuracy_{part}"] for r in rows]
            summary[f"{net}_{part}"] = {"mean": statistics.mean(values),
                                        "sd": statistics.stdev(values) if len(values) > 1 else 0.0}
    result = {"bench": "stdp_mnist_compare", **provenance(), "preset": "mnist-400", "n_train": args.n_train,
              "rows": rows, "summary": summary, "wall_s": time.perf_counter() - start}
    for key, value in summary.items():
        print(f"{key}: {100 * value['mean']:.1f} +- {100 * value['sd']:.1f}%")
    write_result(args.out, result)


if __name__ == "__main__":
    main()
