"""Speed of ``ring-spiking`` at full size (2048 E + 512 I), 1 s of network time, side by side in one run.

    .venv/bin/python bench/ring.py            # about 10 minutes on 2 busy cores
    .venv/bin/python bench/ring.py --quick    # 256 E + 64 I, 300 ms: checks the script, not the target

Times, on the same machine and for the same network (cue 0.2 nA at 180 degrees
from 100 to 350 ms, then a delay to 1 s; dt 0.1 ms for every implementation):

* brianlab on ``runtime`` (Cython; a shorter warm-up run first, so that Cython's
  compilation is not timed);
* brianlab on ``cpp_standalone`` on one thread without OpenMP (the default,
  ``--threads 0``: the headline, since its state updates are vectorised; see
  ``models/ring_spiking.py``, ``VECTOR_LOOP_CPP``) and with 1 and 2 OpenMP
  threads (run after compilation; the compile time is reported beside it);
* neurodynex3 (PyPI), ``working_memory_network.wm_model.simulate_wm`` with the
  same sizes and parameters (``weight_scaling_factor=1``), the external
  reference: a runtime-mode model whose E->E input is an FFT in a Python
  ``network_operation`` every step. It is installed into its own virtual
  environment (``--ndx-venv``, default ``build/bench/ndx-venv``) if missing, with
  ``cython<3.1`` (the brian2 2.5.4 it resolves to cannot use newer Cython and
  falls back to NumPy) and run as a subprocess. Its time is that of the
  ``b2.run`` call inside ``simulate_wm`` (after a warm-up call that compiles
  its Cython code), so its network construction is not counted, as brianlab's
  isn't either. Its monitors record the spikes and voltages of n_exc/4 excitatory
  cells (512 at full size) and every interneuron; brianlab records every cell's
  spikes and no voltage.

Each implementation's wall time per simulated second is the best of
``--repeats`` runs (after an untimed one), and, less sensitive to other jobs
on a shared machine, its CPU time (user + system) for the standalone binary
and for neurodynex3's ``b2.run``. Prints a table with ratios and the decoded angle of every
run (the implementations must agree on the physics too), and writes JSON to
``bench/results/ring.json`` (``--out``; committed) with the command, git commit,
machine (cores, CPU model) and date. Every ratio in it, the runtime row's too, is
computed from the measurements of that one run. Target: cpp_standalone at least
10x faster than neurodynex3.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_provenance import provenance  # noqa: E402

from brianlab.devices import DeviceOptions, DeviceSession  # noqa: E402
from brianlab.models import ring_spiking  # noqa: E402
from brianlab.params import apply_assignments  # noqa: E402

#: One second of network time: 100 ms before the cue, 250 ms cue, 650 ms delay.
FULL = ["t_cue_start=100*ms", "cue_duration=250*ms", "delay=650*ms"]
QUICK = ["n_exc=256", "n_inh=64", "t_cue_start=50*ms", "cue_duration=100*ms", "delay=150*ms",
         "decode_window=100*ms"]
TARGET = 10.0

#: Runs neurodynex3's model in its own interpreter; prints one JSON line.
NDX_SCRIPT = r"""
import json, sys, time
import numpy as np
import brian2 as b2
from neurodynex3.working_memory_network import wm_model

cfg = json.loads(sys.argv[1])
b2.prefs.codegen.target = cfg["codegen"]

run_wall, run_cpu = [], []
_run = b2.run
def timed_run(duration, level=0, **kwargs):  # wm_model calls b2.run(sim_time) once the network is built
    start, cpu = time.perf_counter(), time.process_time()
    _run(duration, level=level + 1, **kwargs)  # Brian collects the objects of the caller's frame
    run_wall.append(time.perf_counter() - start)
    run_cpu.append(time.process_time() - cpu)
b2.run = timed_run

def call(sim_ms):
    b2.start_scope()
    b2.defaultclock.dt = cfg["dt_ms"] * b2.ms  # wm_model sets 0.05 ms at import; use the same dt as brianlab
    start = time.perf_counter()
    out = wm_model.simulate_wm(
        N_excitatory=cfg["n_exc"], N_inhibitory=cfg["n_inh"], weight_scaling_factor=cfg["wsf"],
        stimulus_center_deg=cfg["cue_angle"], stimulus_width_deg=cfg["cue_width"],
        stimulus_strength=cfg["cue_na"] * b2.namp, t_stimulus_start=cfg["cue_start_ms"] * b2.ms,
        t_stimulus_duration=cfg["cue_ms"] * b2.ms, monitored_subset_size=cfg["n_monitored"], sim_time=sim_ms * b2.ms)
    return time.perf_counter() - start, run_wall[-1], run_cpu[-1], out

call(10.0)  # warm-up: compiles the Cython code objects (cached on disk)
total, full, cpus = [], [], []
for _ in range(cfg["repeats"]):
    wall, run, cpu, out = call(cfg["sim_ms"])
    total.append(wall)
    full.append(run)
    cpus.append(cpu)
spikes = out[1]
i, t = np.asarray(spikes.i), np.asarray(spikes.t / b2.second)
window = cfg["window_ms"] / 1000
late = t >= cfg["sim_ms"] / 1000 - window
theta = 2 * np.pi * i[late] / cfg["n_exc"]  # cell k prefers 360 k / N degrees; i are cell indices
vector = np.sum(np.exp(1j * theta))
print(json.dumps({
    "total_wall_s": total, "run_wall_s": full, "run_cpu_s": cpus, "brian2": b2.__version__, "codegen": b2.prefs.codegen.target,
    "decoded_angle_deg": float(np.degrees(np.angle(vector)) % 360), "bump_amplitude": float(abs(vector) / max(late.sum(), 1)),
    "rate_exc_hz": float(len(i) / cfg["n_exc"] / (cfg["sim_ms"] / 1000)),  # its SpikeMonitor records every cell
    "rate_inh_hz": float(np.mean(np.asarray(out[4].rate / b2.Hz))),
}))
"""


def children_cpu_s():
    """CPU seconds (user + system) used so far by finished child processes (the standalone binary)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def brianlab_row(params, device, threads=0, repeats=2, warmup=None):
    """Wall (and, standalone, CPU) seconds of brianlab's run on ``device``, best of ``repeats``."""
    options = DeviceOptions(threads=threads)
    with tempfile.TemporaryDirectory() as root, DeviceSession(device, options, build_root=root, seed=0,
                                                              progress=False) as session:
        # not timed: runtime's Cython compiles its code objects on the first run, standalone compiles
        ring_spiking.simulate(warmup if warmup is not None else params, session)
        walls, cpus, result = [], [], None
        for repeat in range(repeats):
            session.seed = repeat
            cpu, run_s = children_cpu_s(), session.run_s
            result = ring_spiking.simulate(params, session)
            cpus.append(children_cpu_s() - cpu)
            walls.append(session.run_s - run_s)
        build_s = session.programs[-1].build_s
    m = result.metrics
    label = device if device == "runtime" else (f"{device} (no OpenMP)" if threads == 0 else
                                                f"{device} ({threads} OpenMP thread{'s' if threads > 1 else ''})")
    return {
        "implementation": f"brianlab {label}", "device": device, "threads": threads, "run_wall_s": walls,
        "build_wall_s": build_s if device != "runtime" else None,
        "s_per_sim_s": min(walls) / float(params.duration),
        "run_cpu_s": cpus if device != "runtime" else None,
        "cpu_s_per_sim_s": min(cpus) / float(params.duration) if device != "runtime" else None,
        "decoded_angle_deg": m["decoded_angle_deg"], "bump_amplitude": m["bump_amplitude"],
        "rate_exc_hz": m["rate_exc_hz"], "rate_inh_hz": m["rate_inh_hz"],
        "load_avg": os.getloadavg(),  # right after this row's runs: timings on shared cores are noisy
    }


def ensure_ndx_venv(venv):
    """The neurodynex3 interpreter in ``venv``, installed there if missing; (python, error)."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import neurodynex3.working_memory_network.wm_model, Cython"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python, None
    print(f"installing neurodynex3 into {venv} ...", flush=True)
    steps = [[sys.executable, "-m", "venv", str(venv)],
             [str(python), "-m", "pip", "install", "-q", "neurodynex3", "cython<3.1"]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            return None, f"{' '.join(step[:4])} failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}"
    if subprocess.run(check, capture_output=True).returncode != 0:
        return None, "neurodynex3 installed but does not import"
    return python, None


def ndx_row(params, venv, repeats=2):
    """neurodynex3 at the same size, in its own interpreter."""
    python, error = ensure_ndx_venv(venv)
    if error:
        return {"implementation": "neurodynex3", "error": error}
    cfg = {
        "n_exc": params.n_exc, "n_inh": params.n_inh, "wsf": 2048 / params.n_exc,  # its single scaling factor
        "cue_angle": params.cue_angle, "cue_width": params.cue_width, "cue_na": float(params.cue_strength) * 1e9,
        "cue_start_ms": float(params.t_cue_start) * 1e3, "cue_ms": float(params.cue_duration) * 1e3,
        "sim_ms": float(params.duration) * 1e3, "window_ms": float(params.decode_window) * 1e3,
        "dt_ms": float(params.dt) * 1e3, "repeats": repeats, "codegen": "cython",
        # its spike and voltage monitors of the excitatory population record this many cells
        # (512 of 2048 at full size), and it records every interneuron; brianlab records every
        # cell's spikes and no voltage, so neither side's recording is the same
        "n_monitored": params.n_exc // 4,
    }
    done = subprocess.run([str(python), "-c", NDX_SCRIPT, json.dumps(cfg)], capture_output=True, text=True,
                          timeout=3600)
    if done.returncode != 0:
        return {"implementation": "neurodynex3", "error": done.stderr.strip().splitlines()[-1:]}
    out = json.loads(done.stdout.strip().splitlines()[-1])
    version = subprocess.run([str(python), "-m", "pip", "show", "neurodynex3"], capture_output=True, text=True)
    out["neurodynex3"] = next((line.split()[-1] for line in version.stdout.splitlines()
                               if line.startswith("Version")), "?")
    per_s = min(out["run_wall_s"]) / float(params.duration)
    return {"implementation": f"neurodynex3 {out['neurodynex3']} (brian2 {out['brian2']}, {out['codegen']})",
            "run_wall_s": out["run_wall_s"], "total_wall_s": out["total_wall_s"], "s_per_sim_s": per_s,
            "run_cpu_s": out["run_cpu_s"], "cpu_s_per_sim_s": min(out["run_cpu_s"]) / float(params.duration),
            "load_avg": os.getloadavg(), **{
                k: out[k] for k in ("decoded_angle_deg", "bump_amplitude", "rate_exc_hz", "rate_inh_hz")}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small, short network: checks the script only")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per implementation (best is reported)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--skip", action="append", default=[], choices=("runtime", "cpp", "neurodynex3"))
    parser.add_argument("--ndx-venv", type=Path, default=Path("build/bench/ndx-venv"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/ring.json"))
    parser.add_argument("--omp-wait-policy", default="PASSIVE", choices=("PASSIVE", "ACTIVE"),
                        help="OMP_WAIT_POLICY of the OpenMP binary: idle threads sleep (PASSIVE, the default: on "
                             "cores shared with other jobs, spinning threads steal them) or spin (ACTIVE)")
    args = parser.parse_args(argv)
    load_at_start = os.getloadavg()
    os.environ["OMP_WAIT_POLICY"] = args.omp_wait_policy  # the standalone binary inherits the environment
    params = apply_assignments(ring_spiking.RingSpikingParams, [*(QUICK if args.quick else FULL), *args.set])
    warmup = dataclasses.replace(params, delay=params.decode_window)
    rows = []
    if "cpp" not in args.skip:
        for threads in (0, 1, 2):  # 0: one thread, no OpenMP (the default; its loops are vectorised)
            rows.append(brianlab_row(params, "cpp_standalone", threads, args.repeats))
            print(rows[-1], flush=True)
    if "runtime" not in args.skip:
        rows.append(brianlab_row(params, "runtime", repeats=args.repeats, warmup=warmup))
        print(rows[-1], flush=True)
    if "neurodynex3" not in args.skip:
        rows.append(ndx_row(params, args.ndx_venv.resolve(), args.repeats))
        print(rows[-1], flush=True)
    summary = print_table(params, rows)
    out = {"bench": "ring", **provenance(), "quick": args.quick, "repeats": args.repeats,
           "settings": [*(QUICK if args.quick else FULL), *args.set], "n_exc": params.n_exc, "n_inh": params.n_inh,
           "omp_wait_policy": args.omp_wait_policy, "load_avg_at_start": load_at_start,
           "sim_s": float(params.duration), "dt_s": float(params.dt),
           "rows": rows, **summary}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"results: {args.out}")


def print_table(params, rows):
    """Print wall time per simulated second and ratios; return the ratios against neurodynex3."""
    print(f"\nring-spiking, {params.n_exc} E + {params.n_inh} I, {float(params.duration):g} s of network time, "
          f"dt {float(params.dt) * 1e3:g} ms")
    print(f"{'implementation':<44} {'wall s/sim s':>12} {'vs ndx':>7} {'CPU s/sim s':>11} {'vs ndx':>7} "
          f"{'build s':>8} {'angle':>6} {'E Hz':>5} {'I Hz':>5}")
    ndx = next((r for r in rows if r["implementation"].startswith("neurodynex3") and "error" not in r), None)
    ratios, cpu_ratios = {}, {}
    for r in rows:
        if "error" in r:
            print(f"{r['implementation']:<44} not run: {r['error']}")
            continue
        ratio = ndx["s_per_sim_s"] / r["s_per_sim_s"] if ndx else float("nan")
        ratios[r["implementation"]] = ratio
        cpu, cpu_ratio = f"{'-':>11}", f"{'':>7}"
        if r.get("cpu_s_per_sim_s") and ndx:
            cpu_ratios[r["implementation"]] = ndx["cpu_s_per_sim_s"] / r["cpu_s_per_sim_s"]
            cpu = f"{r['cpu_s_per_sim_s']:11.2f}"
            cpu_ratio = f"{cpu_ratios[r['implementation']]:6.1f}x"
        build = f"{r['build_wall_s']:8.1f}" if r.get("build_wall_s") else f"{'':>8}"
        print(f"{r['implementation']:<44} {r['s_per_sim_s']:12.2f} {ratio:6.1f}x {cpu} {cpu_ratio} {build} "
              f"{r['decoded_angle_deg']:6.1f} {r['rate_exc_hz']:5.1f} {r['rate_inh_hz']:5.1f}")
    cpp = [r for r in rows if r.get("device") == "cpp_standalone"]
    met = None
    if ndx and cpp:
        best = max(ratios[r["implementation"]] for r in cpp)
        one = ratios[cpp[0]["implementation"]]
        met = one >= TARGET
        print(f"cpp_standalone (1 thread, no OpenMP) vs neurodynex3, wall: {one:.1f}x (best of all thread settings: {best:.1f}x), "
              f"CPU: {cpu_ratios.get(cpp[0]['implementation'], float('nan')):.1f}x; "
              f"target >= {TARGET:g}x (wall): {'met' if met else 'NOT met'}")
    return {"speedup_vs_neurodynex3": ratios, "cpu_speedup_vs_neurodynex3": cpu_ratios, "target_met": met}


if __name__ == "__main__":
    main()
