"""ipd-localisation: training time and Brian2 cpp_standalone inference speed.

1. One balanced training run (30 epochs, torch, 1 thread): wall and CPU seconds, accuracies.
2. The 2048-sample test set in one cpp_standalone run with the shipped weights:
   compiled once, then classified ``--repeats`` times end to end (run_args values,
   writing them, the binary, reading the results back), each part timed, with the
   load average beside each run.

Usage: python bench/ipd_localisation.py [--skip-training] [--repeats 3] [--profile-binary]
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
    """Compile once, then time ``repeats`` end-to-end classifications of the 2048-sample test set.

    End to end = the run_args values from the weights and spikes (packing the
    input table), ``program.run`` (Brian2 writes the run_args files, the binary
    runs), and reading back and decoding the read-out and the hidden spikes. The
    test set's generation and the reference check are timed apart: they are not
    the Brian2 inference.
    """
    import brian2 as b2

    params = ipd.IPDParams()
    weights = ipd.get_weights(params)
    t0 = time.perf_counter()
    test = inputs.generate(ipd.input_spec(params), params.n_test, inputs.stream(0, 2))
    generate_s = time.perf_counter() - t0
    lay = ipd.layout(params)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        with devices.DeviceSession("cpp_standalone", build_root=Path(tmp), progress=False) as session:
            program = session.program(lambda: ipd.build(params), lay.total_steps * params.dt, params.dt, tag="ipd")
            t0 = time.perf_counter()
            program.run(ipd.run_values(params, weights, test))
            first = time.perf_counter() - t0
            for _ in range(repeats):
                load = os.getloadavg()
                child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                values = ipd.run_values(params, weights, test)
                t1 = time.perf_counter()
                monitors = program.run(values)
                t2 = time.perf_counter()
                binary_wall = b2.get_device().timers["run_binary"]
                readout = ipd.decode_readout(monitors.readout.v_sum[:], lay, params.n_test)
                spikes = ipd.decode_hidden_spikes(monitors.hidden_spikes.i[:], monitors.hidden_spikes.t[:] / b2.second,
                                                  params.dt, lay, params.n_test)
                t3 = time.perf_counter()
                child = resource.getrusage(resource.RUSAGE_CHILDREN)
                info = (Path(program.directory) / "results" / "last_run_info.txt").read_text().split()
                runs.append({
                    "load_average": load,
                    "end_to_end_wall_s": t3 - t0,
                    "samples_per_wall_s": params.n_test / (t3 - t0),
                    "prepare_values_s": t1 - t0,
                    "run_wall_s": t2 - t1,
                    "write_run_args_s": (t2 - t1) - binary_wall,
                    "binary_wall_s": binary_wall,
                    "binary_cpu_s": (child.ru_utime - child0.ru_utime) + (child.ru_stime - child0.ru_stime),
                    "simulation_s": float(info[0]),
                    "read_back_s": t3 - t2,
                    "hidden_spikes": int(len(spikes[0])),
                    "samples_per_simulation_s": params.n_test / float(info[0]),
                })
            t0 = time.perf_counter()
            _, ref = reference.forward(test.spikes, weights.w1, weights.w2, *ipd.alphas(params))
            reference_s = time.perf_counter() - t0
            agreement = float(np.mean(reference.predict(readout) == reference.predict(ref)))
    return {"n_test": params.n_test, "n_parallel": lay.n_parallel, "n_windows": lay.n_windows,
            "first_run_incl_compile_s": first, "generate_test_set_s": generate_s, "numpy_reference_s": reference_s,
            "runs": runs, "prediction_agreement": agreement,
            "best_samples_per_wall_s": max(r["samples_per_wall_s"] for r in runs),
            "median_samples_per_wall_s": float(np.median([r["samples_per_wall_s"] for r in runs]))}


def bench_binary_profile():
    """Seconds per code object of one profiled cpp_standalone run (its own build) of the same test set."""
    import brian2 as b2

    params = ipd.IPDParams()
    weights = ipd.get_weights(params)
    test = inputs.generate(ipd.input_spec(params), params.n_test, inputs.stream(0, 2))
    lay = ipd.layout(params)

    def build_profiled():
        b2.get_device().build_options["profile"] = True  # read by Network.run when the project is built
        return ipd.build(params)

    with tempfile.TemporaryDirectory() as tmp:
        with devices.DeviceSession("cpp_standalone", build_root=Path(tmp), progress=False) as session:
            program = session.program(build_profiled, lay.total_steps * params.dt, params.dt, tag="ipd_profile")
            program.run(ipd.run_values(params, weights, test))
            load = os.getloadavg()
            info = sorted(((name, float(t)) for name, t in program.network.profiling_info), key=lambda x: -x[1])
    total = sum(t for _, t in info)
    return {"load_average": load, "total_s": total,
            "code_objects": [{"name": name, "s": t, "fraction": t / total} for name, t in info if t / total > 0.005]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile-binary", action="store_true",
                        help="also build a profiled project and record the binary's time per code object")
    args = parser.parse_args(argv)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    result = {"command": "python bench/ipd_localisation.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "commit": commit, "machine": machine(), "date": datetime.datetime.now(datetime.timezone.utc).isoformat()}
    result["inference_cpp_standalone"] = bench_inference(args.repeats)
    if args.profile_binary:
        result["binary_profile"] = bench_binary_profile()
    if not args.skip_training:
        result["training"] = bench_training(args.seed)
    inf = result["inference_cpp_standalone"]
    print(f"{'cpp_standalone, 2048 samples in one run':45s}")
    for r in inf["runs"]:
        print(f"  end to end {r['end_to_end_wall_s']:.2f} s wall ({r['samples_per_wall_s']:.0f} samples/s; load "
              f"{r['load_average'][0]:.1f}): values {r['prepare_values_s']:.2f} s, run_args "
              f"{r['write_run_args_s']:.2f} s, binary {r['binary_wall_s']:.2f} s wall / {r['binary_cpu_s']:.2f} s CPU "
              f"(simulation {r['simulation_s']:.2f} s), read back {r['read_back_s']:.2f} s")
    print(f"  prediction agreement with the reference: {inf['prediction_agreement']}")
    if "binary_profile" in result:
        for row in result["binary_profile"]["code_objects"]:
            print(f"  {row['name']:40s} {row['s'] * 1000:7.1f} ms {100 * row['fraction']:5.1f} %")
    if "training" in result:
        t = result["training"]
        print(f"training: {t['train_wall_s_incl_data']:.0f} s wall, {t['train_cpu_s_incl_data']:.0f} s CPU, "
              f"test accuracy {t['accuracy_test']:.3f}")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
