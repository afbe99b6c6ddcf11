"""ipd-localisation: a Jeffress design with one coincidence detector per fibre pair (a study, not yet the model).

The model's ``mode=jeffress`` (:mod:`brianlab.models.ipd_localisation.jeffress`) sums
many fibre pairs into each hidden unit, which adds the two ears' drives instead of
detecting their coincidences; it scores about 28% (``bench/ipd_jeffress_search.py``).
Here each detector listens to one left and one right fibre whose phase delays differ
by its preferred IPD, with weight ``gain`` per fibre: with ``gain`` just above 0.5 and
``tau_hidden`` short enough that ``gain / (1 - alpha) < 1``, only two spikes in the
same step cross the threshold. Up to ``per_shift`` pairs per delay difference (of
199), spread evenly over the fibres; output class m averages the detectors whose
preferred IPD lies in it (a labelled line). Everything is scored with the float64
reference recurrence (:func:`reference.forward`, the one Brian2 reproduces).

Every choice (``tau_hidden``, ``gain``, ``per_shift``) is made on the validation stream;
the test stream is scored once, for the configuration best on validation.

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

from bench_provenance import provenance  # noqa: E402

from brianlab.models.ipd_localisation import inputs, reference  # noqa: E402

OUT = Path(__file__).parent / "results" / "ipd_jeffress_pairs.json"
TAUS_MS = (5.0, 1.0)
GAINS = (0.35, 0.51, 0.6)
PER_SHIFT = (4, 10, 25)


def pair_detectors(spec, per_shift, gain):
    """``(w1, w2)``: one detector per chosen fibre pair, and the averaging labelled-line read-out."""
    n = spec.anf_per_ear
    step = (np.pi / 2) / (n - 1)
    pairs = []
    for shift in range(-(n - 1), n):  # left fibre a and right fibre a - shift are in phase at ipd = shift*step
        left = np.arange(max(0, shift), min(n, n + shift))
        if len(left) > per_shift:
            left = left[np.linspace(0, len(left) - 1, per_shift).round().astype(int)]
        pairs += [(a, a - shift, shift * step) for a in left]
    w1 = np.zeros((2 * n, len(pairs)))
    preferred = np.array([p for _, _, p in pairs])
    for k, (a, b, _) in enumerate(pairs):
        w1[a, k] += gain
        w1[n + b, k] += gain
    label = inputs.discretise(np.clip(preferred, -np.pi / 2 + 1e-9, np.pi / 2 - 1e-9), spec.n_classes)
    w2 = np.zeros((len(pairs), spec.n_classes))
    w2[np.arange(len(pairs)), label] = 1
    return w1, w2 / w2.sum(axis=0, keepdims=True)


def score(data, spec, tau_ms, gain, per_shift):
    alpha = float(np.exp(-spec.dt / (tau_ms * 1e-3)))
    w1, w2 = pair_detectors(spec, per_shift, gain)
    hidden, out = reference.forward(data.spikes, w1, w2, alpha, alpha)
    return {"accuracy": float(np.mean(reference.predict(out) == data.labels)), "n_detectors": int(w1.shape[1]),
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
    for tau_ms, gain, per_shift in itertools.product(TAUS_MS, GAINS, PER_SHIFT):
        row = {"tau_hidden_ms": tau_ms, "gain": gain, "per_shift": per_shift, **score(val, spec, tau_ms, gain, per_shift)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    best = max(rows, key=lambda r: r["accuracy"])
    test = inputs.generate(spec, args.n, inputs.stream(args.seed, 2))
    chosen = {k: best[k] for k in ("tau_hidden_ms", "gain", "per_shift")}
    result = {"bench": "ipd_jeffress_pairs", **provenance(), "seed": args.seed, "n": args.n,
              "validation": rows, "chosen_on_validation": chosen,
              "test": score(test, spec, chosen["tau_hidden_ms"], chosen["gain"], chosen["per_shift"]),
              "chance": 1 / spec.n_classes, "wall_s": time.perf_counter() - start}
    print(f"best on validation: {chosen} ({best['accuracy']:.3f}); test: {result['test']['accuracy']:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"json: {args.out}")


if __name__ == "__main__":
    main()
