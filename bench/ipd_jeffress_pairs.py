"""ipd-localisation, Jeffress mode: one coincidence detector per fibre pair, constants chosen on validation.

The model's ``mode=jeffress`` (:mod:`brianlab.models.ipd_localisation.jeffress`) gives
each of ``n_hidden`` detectors one left and one right fibre whose phase delays differ
by its preferred IPD, with weight ``gain`` per fibre; output class m averages the
detectors whose preferred IPD lies in it. With ``gain`` just above 0.5 and
``tau_hidden`` short enough that ``gain / (1 - alpha) < 1``, only two spikes in the
same step cross the threshold. Scored here with the float64 reference recurrence
(:func:`reference.forward`, which the Brian2 network reproduces spike for spike) over
``tau_hidden`` x ``gain`` x ``n_hidden``; ``tau_hidden`` = 5 ms (the notebook's, too
slow for the condition) is included to show why the preset shortens it. ``n_hidden``
stops at 2000: a run holds the test set's hidden spikes (2048 x 100 x n_hidden) twice.

(The design before it summed many pairs into each of 30 units, which adds the two
ears' drives instead of detecting coincidences: about 28%,
``bench/results/ipd_jeffress_search.json``.)

Every choice is made on the validation stream; the test stream is scored once, for
the configuration best on validation.

Usage: python bench/ipd_jeffress_pairs.py [--seed 0] [--n 512]
Writes bench/results/ipd_jeffress_pairs.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_provenance import provenance, write_result  # noqa: E402

from brianlab.models.ipd_localisation import inputs, jeffress, reference  # noqa: E402

OUT = Path(__file__).parent / "results" / "ipd_jeffress_pairs.json"
TAUS_MS = (5.0, 1.0)
GAINS = (0.51, 0.6)
N_HIDDEN = (250, 500, 1000, 2000)


def score(data, spec, tau_ms, gain, n_hidden):
    alpha = float(np.exp(-spec.dt / (tau_ms * 1e-3)))
    w1, w2 = jeffress.jeffress_weights(spec, n_hidden, gain)
    hidden, out = reference.forward(data.spikes, w1, w2, alpha, alpha)
    return {"accuracy": float(np.mean(reference.predict(out) == data.labels)),
            "detector_rate_hz": float(hidden.mean() / spec.dt)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=512, help="samples in each of the validation and test sets")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    spec = inputs.InputSpec()
    val = inputs.generate(spec, args.n, inputs.stream(args.seed, 1))
    rows = []
    for tau_ms, gain, n_hidden in itertools.product(TAUS_MS, GAINS, N_HIDDEN):
        if tau_ms == 5.0 and n_hidden != 1000:
            continue  # the notebook's tau: one size shows the failure
        row = {"tau_hidden_ms": tau_ms, "gain": gain, "n_hidden": n_hidden, **score(val, spec, tau_ms, gain, n_hidden)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    best = max(rows, key=lambda r: r["accuracy"])
    test = inputs.generate(spec, args.n, inputs.stream(args.seed, 2))
    chosen = {k: best[k] for k in ("tau_hidden_ms", "gain", "n_hidden")}
    result = {"bench": "ipd_jeffress_pairs", **provenance(), "seed": args.seed, "n": args.n,
              "validation": rows, "chosen_on_validation": chosen,
              "test": score(test, spec, chosen["tau_hidden_ms"], chosen["gain"], chosen["n_hidden"]),
              "chance": 1 / spec.n_classes, "wall_s": time.perf_counter() - start}
    print(f"best on validation: {chosen} ({best['accuracy']:.3f}); test: {result['test']['accuracy']:.3f}")
    write_result(args.out, result)


if __name__ == "__main__":
    main()
