"""ipd-localisation, the first Jeffress design: can its gain, fibre pairs or read-out, chosen on validation data, do better?

The first design of the hand-built coincidence detectors (now replaced in
:mod:`brianlab.models.ipd_localisation.jeffress` by one detector per fibre pair, see
``bench/ipd_jeffress_pairs.py``; the old one is kept here as
:func:`summed_pairs_weights`, so that this search can be rerun) is scored with the float64 reference recurrence (the Brian2 network gives the same
spikes) over a grid of ``gain`` x ``n_pairs`` and three read-outs:

- ``one_hot``: output class m sums the detectors whose preferred IPD lies in it (the model's);
- ``designed_mean``: the same, averaged (a class with 3 detectors no longer outweighs one with 2);
- ``tuned_mean``: each detector assigned to the class where it fired most on a separate fitting
  set (the train stream), averaged.

Every choice is made on the validation stream; the test stream is scored once, for the
configuration best on validation and for the model's default.

Usage: python bench/ipd_jeffress_search.py [--seed 0] [--n 1024]
Writes bench/results/ipd_jeffress_search.json.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

from brianlab.models import ipd_localisation as ipd
from brianlab.models.ipd_localisation import inputs, reference

OUT = Path(__file__).parent / "results" / "ipd_jeffress_search.json"
GAINS = (0.4, 0.5, 0.6, 0.7)
DEFAULT_GAIN, DEFAULT_PAIRS = 0.5, 30  # the first design's defaults


def summed_pairs_weights(spec, n_hidden, gain=DEFAULT_GAIN, n_pairs=DEFAULT_PAIRS):
    """The first design: unit k sums the ``n_pairs`` middle fibre pairs in phase at the k-th of ``n_hidden`` IPDs."""
    n = spec.anf_per_ear
    step = (np.pi / 2) / (n - 1)
    preferred = inputs.class_centres(n_hidden)
    w1 = np.zeros((2 * n, n_hidden))
    for k, c in enumerate(preferred):
        shift = int(np.round(c / step))  # right fibre b = a - shift is in phase with left fibre a
        left = np.arange(max(0, shift), min(n, n + shift))
        if len(left) > n_pairs:
            middle = len(left) // 2 - n_pairs // 2
            left = left[middle:middle + n_pairs]
        w1[left, k] += gain / (2 * len(left))
        w1[n + left - shift, k] += gain / (2 * len(left))
    w2 = np.zeros((n_hidden, spec.n_classes))
    w2[np.arange(n_hidden), inputs.discretise(preferred, spec.n_classes)] = 1.0
    return w1, w2
PAIRS = (15, 30, 60, 100)


def averaged(w2):
    """Each class's detectors averaged instead of summed."""
    return w2 / np.maximum(w2.sum(axis=0, keepdims=True), 1)


def tuned(w1, w2, fit, alphas, reset):
    """Each active detector assigned to the class where it fired most on ``fit``, averaged."""
    hidden, _ = reference.forward(fit.spikes, w1, w2, *alphas, reset)
    counts = hidden.sum(axis=1)
    tuning = np.array([counts[fit.labels == c].mean(axis=0) for c in range(w2.shape[1])])
    out = np.zeros_like(w2)
    active = tuning.max(axis=0) > 0
    out[np.flatnonzero(active), tuning.argmax(axis=0)[active]] = 1
    return averaged(out)


def accuracy(data, w1, w2, alphas, reset):
    _, out = reference.forward(data.spikes, w1, w2, *alphas, reset)
    return float(np.mean(reference.predict(out) == data.labels))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=1024, help="samples in each of the fit, validation and test sets")
    args = parser.parse_args(argv)
    params = ipd.IPDParams()  # the trained network's shape and 5 ms membranes, as the first design used
    spec, alphas = ipd.input_spec(params), ipd.alphas(params)
    fit, val, test = (inputs.generate(spec, args.n, inputs.stream(args.seed, part)) for part in (0, 1, 2))
    readouts = {"one_hot": lambda w1, w2: w2, "designed_mean": lambda w1, w2: averaged(w2),
                "tuned_mean": lambda w1, w2: tuned(w1, w2, fit, alphas, params.reset)}
    grid = []
    for gain, pairs in itertools.product(GAINS, PAIRS):
        w1, w2 = summed_pairs_weights(spec, params.n_hidden, gain=gain, n_pairs=pairs)
        row = {"gain": gain, "n_pairs": pairs}
        for name, readout in readouts.items():
            row[f"val_{name}"] = accuracy(val, w1, readout(w1, w2), alphas, params.reset)
        grid.append(row)
        print(" ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)
    best_val, best = max((row[f"val_{name}"], (row["gain"], row["n_pairs"], name)) for row in grid for name in readouts)
    tests = {}
    for label, (gain, pairs, name) in (("default", (DEFAULT_GAIN, DEFAULT_PAIRS, "one_hot")),
                                       ("best_on_validation", best)):
        w1, w2 = summed_pairs_weights(spec, params.n_hidden, gain=gain, n_pairs=pairs)
        tests[label] = {"gain": gain, "n_pairs": pairs, "readout": name,
                        "accuracy_test": accuracy(test, w1, readouts[name](w1, w2), alphas, params.reset)}
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    result = {
        "command": "python bench/ipd_jeffress_search.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
        "machine": {"cores": os.cpu_count(), "cpu": model, "load_average_at_end": os.getloadavg()},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "seed": args.seed, "n_per_set": args.n, "chance": 1 / params.n_classes,
        "grid": grid, "best_validation_accuracy": best_val, "test": tests,
    }
    for label, row in tests.items():
        print(f"{label}: gain {row['gain']}, {row['n_pairs']} pairs, {row['readout']}: test {row['accuracy_test']:.3f}")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
