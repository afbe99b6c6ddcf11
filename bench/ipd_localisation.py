"""ipd-localisation: training time and Brian2 cpp_standalone inference speed.

1. One balanced training run (30 epochs, torch, 1 thread): wall and CPU seconds, accuracies.
2. The 2048-sample test set in one cpp_standalone run with the shipped weights:
   compiled once, then run ``--repeats`` times; the run's wall time (writing the
   run_args, the binary, reading nothing back) and the binary's own simulation time.

Usage: python bench/ipd_localisation.py [--skip-training] [--repeats 3]
Writes bench/results/ipd_localisation.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from brianlab import devices
from brianlab.models import ipd_localisation as ipd
from brianlab.models.ipd_localisation import inputs, reference

OUT = Path(__file__).parent / "results" / "ipd_localisation.json"


def machine():
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cores": os.cpu_count(), "cpu": model, "load_average_at_start": os.getloadavg()}


def bench_training(seed):
    import torch

    torch.set_num_threads(1)
    params = ipd.IPDParams(weights="train")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    weights = ipd.get_weights(params, seed)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    test = inputs.generate(ipd.input_spec(params), params.n_test, inputs.stream(seed, 2))
    _, out = reference.forward(test.spikes, weights.w1, weights.w2, *ipd.alphas(params))
    return {"seed": seed, "positive": params.positive, "epochs_run": len(weights.training.loss_val),
            "train_wall_s_incl_data": wall, "train_cpu_s_incl_data": cpu, "train_loop_wall_s": weights.training.wall_s,
            "accuracy_train": weights.info["accuracy_train"], "accuracy_val": weights.info["accuracy_val"],
            "accuracy_test": float(np.mean(reference.predict(out) == test.labels))}


def bench_inference(repeats):
    params = ipd.IPDParams()
    weights = ipd.get_weights(params)
    test = inputs.generate(ipd.input_spec(params), params.n_test, inputs.stream(0, 2))
    values = ipd.run_values(params, weights, test)
    lay = ipd.layout(params)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        with devices.DeviceSession("cpp_standalone", build_root=Path(tmp), progress=False) as session:
            program = session.program(lambda: ipd.build(params), lay.total_steps * params.dt, params.dt, tag="ipd")
            t0 = time.perf_counter()
            program.run(values)
            first = time.perf_counter() - t0
            for _ in range(repeats):
                child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                before = program.run_s
                monitors = program.run(values)
                wall = program.run_s - before
                child = resource.getrusage(resource.RUSAGE_CHILDREN)
                info = (Path(program.directory) / "results" / "last_run_info.txt").read_text().split()
                readout = ipd.decode_readout(monitors.readout.v_sum[:], lay, params.n_test)
                runs.append({"run_wall_s": wall, "binary_cpu_s": (child.ru_utime - child0.ru_utime)
                             + (child.ru_stime - child0.ru_stime), "simulation_s": float(info[0]),
                             "samples_per_wall_s": params.n_test / wall,
                             "samples_per_simulation_s": params.n_test / float(info[0])})
            _, ref = reference.forward(test.spikes, weights.w1, weights.w2, *ipd.alphas(params))
            agreement = float(np.mean(reference.predict(readout) == reference.predict(ref)))
    return {"n_test": params.n_test, "n_parallel": lay.n_parallel, "n_windows": lay.n_windows,
            "first_run_incl_compile_s": first, "runs": runs, "prediction_agreement": agreement,
            "best_samples_per_wall_s": max(r["samples_per_wall_s"] for r in runs)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    result = {"command": "python bench/ipd_localisation.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "commit": commit, "machine": machine(), "date": datetime.datetime.now(datetime.timezone.utc).isoformat()}
    result["inference_cpp_standalone"] = bench_inference(args.repeats)
    if not args.skip_training:
        result["training"] = bench_training(args.seed)
    inf = result["inference_cpp_standalone"]
    print(f"{'cpp_standalone, 2048 samples in one run':45s}")
    for r in inf["runs"]:
        print(f"  run {r['run_wall_s']:.2f} s wall ({r['samples_per_wall_s']:.0f} samples/s), binary CPU "
              f"{r['binary_cpu_s']:.2f} s, simulation {r['simulation_s']:.2f} s")
    print(f"  prediction agreement with the reference: {inf['prediction_agreement']}")
    if "training" in result:
        t = result["training"]
        print(f"training: {t['train_wall_s_incl_data']:.0f} s wall, {t['train_cpu_s_incl_data']:.0f} s CPU, "
              f"test accuracy {t['accuracy_test']:.3f}")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
