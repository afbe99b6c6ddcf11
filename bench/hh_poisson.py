"""Speed of ``hh-poisson`` against NEST and the naive NumPy loop, side by side.

::

    python bench/hh_poisson.py                 # the full grid (about 20 minutes on 2 cores)
    python bench/hh_poisson.py --quick         # n_neurons 1 and 100, inputs 100 and 1000
    python bench/hh_poisson.py --only cpp,nest # some of: runtime, cpp, nest, naive

Grid: n_neurons in {1, 100, 1000} x inputs (N_ex + N_in, 80/20) in {100, 1000, 5000},
1 s simulated at dt = 0.01 ms, the model's defaults otherwise (rate 10 Hz, p 0.5,
G_ex 1 mV, K 4, I_app 3 uA/cm^2, and the model's default integrator, ``method=rk2``,
recorded in the JSON). Ways:

- brianlab ``runtime`` and ``cpp_standalone`` with 1 and 2 OpenMP threads, each in
  ``aggregate`` and ``explicit`` input mode. Wall time is the run of the network
  (standalone: the compiled binary, process start and result files included;
  runtime: after a warm-up that compiled the Cython code), not the compilation.
- NEST 3.10 ``hh_psc_alpha`` (the same HH neuron and constants, per 1e-4 cm^2, GSL
  RKF45) with ``poisson_generator`` inputs of rate N_ex*rate*p and N_in*rate*p
  (a generator sends each target its own train), weights giving the same charge
  per spike as the jump G_ex on 100 pF (alpha PSC: charge = w*e*tau_syn), 1 and 2
  threads. Wall time of ``nest.Simulate`` over a full simulated second; where
  the whole population would not fit the budget, a smaller one is simulated and
  the wall time scaled by n_neurons / n_simulated (NEST's cost per step is
  linear in the number of neurons, each with its own generator trains); such
  rows carry ``n_simulated``.
- the naive loop users start from: per neuron, pre-drawn input spike times and
  transmission draws, and at every step a comparison of every spike time with
  the current time; forward Euler. Its cost grows as inputs x duration^2. One
  neuron is timed for the full second; it simulates neurons one after the
  other, so n neurons are n times that (the table marks these rows extrapolated).

Slow brianlab ways simulate less than 1 s (the table gives the simulated time);
every number is reported per simulated second. The target case (1000 x 5000,
aggregate, cpp_standalone) is also timed repeatedly with OpenMP's default wait
policy and with OMP_WAIT_POLICY=PASSIVE; both are reported, the plain default
first. The table is printed and written with the raw measurements, the command,
the git commit, the machine (cores, CPU model) and the date to
``bench/results/hh_poisson.json`` (committed); every ratio in it comes from
measurements of that one run. ``--figure`` writes the log-log scaling figure
(default ``docs/hh_scaling.png``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_provenance import provenance  # noqa: E402

from brianlab.devices import DeviceOptions, DeviceSession  # noqa: E402
from brianlab.models import hh_poisson as hp  # noqa: E402
from brianlab.params import apply_assignments  # noqa: E402

DT_MS = 0.01
STEPS_PER_S = int(round(1000 / DT_MS))
NEURONS = (1, 100, 1000)
INPUTS = (100, 1000, 5000)
#: Wall-second budget per measurement: the simulated time is shortened to fit it.
WORK = {
    # ns per (neuron x input x step) and per (neuron x step), rough, to choose durations
    "explicit": (4.0, 300.0),
    "runtime": (8.0, 400.0),
    "nest": (0.5, 3000.0),
}


def split(inputs):
    """(N_ex, N_in) for a total number of inputs, 80/20."""
    n_ex = int(round(0.8 * inputs))
    return n_ex, inputs - n_ex


def choose_duration(kind, n, inputs, budget_s, minimum_s=0.005):
    """Simulated seconds (at most 1) that fit ``budget_s`` by the rough cost model."""
    per_input, per_neuron = WORK[kind]
    ns_per_s = (per_input * n * inputs + per_neuron * n + 2e4) * STEPS_PER_S
    duration = budget_s / (ns_per_s * 1e-9)
    if duration >= 1:
        return 1.0
    return max(minimum_s, float(f"{duration:.2g}"))


# ----------------------------------------------------------------------------
# brianlab
# ----------------------------------------------------------------------------


def bench_brianlab(device, threads, mode, cells, budget_s, build_root, log):
    """One device/thread/mode over the grid cells; one compile per shape."""
    rows = []
    options = DeviceOptions(threads=threads)
    with DeviceSession(device, options, build_root=build_root, seed=0, progress=False) as session:
        for n, inputs in cells:
            if device == "runtime":
                duration = choose_duration("runtime", n, inputs if mode == "explicit" else 0, budget_s)
            elif mode == "explicit":
                duration = choose_duration("explicit", n, inputs, budget_s)
            else:  # the case the targets are about: always the full second
                duration = 1.0
            n_ex, n_in = split(inputs)
            params = apply_assignments(hp.HHPoissonParams, [
                f"n_neurons={n}", f"N_ex={n_ex}", f"N_in={n_in}", f"input_mode={mode}",
                f"duration={duration}*second", "n_record=0"])
            if device == "runtime":  # compile the Cython code first
                warm = apply_assignments(hp.HHPoissonParams, ["duration=0.1*ms"], base=params)
                hp.simulate(warm, session)
            before = session.run_s
            result = hp.simulate(params, session)
            wall = session.run_s - before
            program = session.programs[-1]
            row = record(f"brianlab {device}", threads, mode, n, inputs, duration, wall,
                         result.metrics["mean_rate"], build_s=program.build_s)
            rows.append(row)
            log(row)
    return rows


def bench_headline(build_root, repeats, log):
    """The target case (1000 neurons x 5000 inputs x 1 s, aggregate) on cpp_standalone, repeated.

    1 thread, and 2 threads with OpenMP's default wait policy (spin, then sleep)
    and with OMP_WAIT_POLICY=PASSIVE; the compiled binary is rerun, so only
    the runs are timed. Returns {setting: [wall s, ...]} and {setting: load average after its runs}.
    """
    n_ex, n_in = split(5000)
    params = apply_assignments(hp.HHPoissonParams, [
        "n_neurons=1000", f"N_ex={n_ex}", f"N_in={n_in}", "input_mode=aggregate", "duration=1*second", "n_record=0"])
    saved = os.environ.get("OMP_WAIT_POLICY")
    walls, loads = {}, {}
    try:
        for threads, policies in ((1, ("",)), (2, ("", "PASSIVE"))):
            with DeviceSession("cpp_standalone", DeviceOptions(threads=threads), build_root=build_root / f"t{threads}",
                               seed=0, progress=False) as session:
                hp.simulate(params, session)  # compile (and a first run)
                for policy in policies:
                    if policy:
                        os.environ["OMP_WAIT_POLICY"] = policy
                    else:
                        os.environ.pop("OMP_WAIT_POLICY", None)
                    key = f"{threads} thread{'s' if threads > 1 else ''}" + (f", OMP_WAIT_POLICY={policy}" if policy else "")
                    walls[key] = []
                    for _ in range(repeats):
                        before = session.run_s
                        hp.simulate(params, session)
                        walls[key].append(session.run_s - before)
                    loads[key] = os.getloadavg()
                    log(f"{key}: " + ", ".join(f"{w:.2f}" for w in walls[key]) + " s")
    finally:
        if saved is None:
            os.environ.pop("OMP_WAIT_POLICY", None)
        else:
            os.environ["OMP_WAIT_POLICY"] = saved
    return walls, loads


# ----------------------------------------------------------------------------
# NEST
# ----------------------------------------------------------------------------

AREA_CM2 = 1e-4  # hh_psc_alpha's defaults are the HH constants on this area (C_m = 100 pF)


def nest_population(n, inputs, budget_s):
    """How many of ``n`` neurons NEST simulates for a full second within ``budget_s`` (rough cost model)."""
    per_input, per_neuron = WORK["nest"]
    per_neuron_s = (per_input * inputs + per_neuron) * STEPS_PER_S * 1e-9
    return max(1, min(n, int(budget_s / per_neuron_s)))


def bench_nest(threads, cells, budget_s, log):
    """NEST over one full simulated second per cell; a smaller population where ``n`` does not fit the budget."""
    import nest

    nest.set_verbosity("M_ERROR")
    rows = []
    for n, inputs in cells:
        duration = 1.0
        n_sim = nest_population(n, inputs, budget_s)
        n_ex, n_in = split(inputs)
        params = apply_assignments(hp.HHPoissonParams, [f"N_ex={n_ex}", f"N_in={n_in}"])
        nest.ResetKernel()
        nest.set_verbosity("M_ERROR")
        nest.SetKernelStatus({"resolution": DT_MS, "local_num_threads": threads, "rng_seed": 1})
        tau = 0.2
        neurons = nest.Create("hh_psc_alpha", n_sim, params={
            "C_m": 100.0, "g_L": 30.0, "g_Na": 12000.0, "g_K": 3600.0, "E_Na": 50.0, "E_K": -77.0,
            "E_L": -54.387, "I_e": 3.0 * AREA_CM2 * 1e6, "tau_syn_ex": tau, "tau_syn_in": tau, "V_m": -65.0,
            "Act_m": 0.05, "Inact_h": 0.6, "Act_n": 0.32,
        })
        w = charge_weight_pA(params, tau)
        rate_p = float(params.rate) * params.p
        exc = nest.Create("poisson_generator", params={"rate": n_ex * rate_p})
        inh = nest.Create("poisson_generator", params={"rate": n_in * rate_p})
        nest.Connect(exc, neurons, syn_spec={"weight": w, "delay": DT_MS})
        nest.Connect(inh, neurons, syn_spec={"weight": -params.K * w, "delay": DT_MS})
        recorder = nest.Create("spike_recorder")
        nest.Connect(neurons, recorder)
        start = time.perf_counter()
        nest.Simulate(duration * 1000.0)
        wall = time.perf_counter() - start
        rate = recorder.get("n_events") / n_sim / duration
        extra = {"n_simulated": n_sim, "measured_wall_s": wall,
                 "scaled": f"{n} / {n_sim} x the measured wall time (linear in neurons)"} if n_sim < n else {}
        row = record("NEST hh_psc_alpha", threads, "generators", n, inputs, duration, wall * n / n_sim, rate, **extra)
        rows.append(row)
        log(row)
    return rows


def charge_weight_pA(params, tau_syn_ms):
    """Peak (pA) of an alpha PSC whose charge is C_m * G_ex (C_m = 100 pF)."""
    charge_C = 100e-12 * float(params.G_ex)  # 1 mV on 100 pF: 1e-13 C
    return charge_C / (math.e * tau_syn_ms * 1e-3) * 1e12


# ----------------------------------------------------------------------------
# the naive loop
# ----------------------------------------------------------------------------


def naive_neuron(n_ex, n_in, duration_s, rng, rate=10.0, p=0.5, g_ex=1.0, k_inh=4.0, i_app=3.0, dt=DT_MS):
    """One HH neuron the way hand-written NumPy code does it (mV, ms); returns the spike count."""
    t_end = duration_s * 1000.0
    n_inputs = n_ex + n_in
    counts = rng.poisson(rate * duration_s, n_inputs)
    width = max(1, counts.max())
    times = np.full((n_inputs, width), np.inf)
    for j, c in enumerate(counts):
        times[j, :c] = np.sort(rng.uniform(0, t_end, c))
    h_draw = rng.random((n_inputs, width)) < p  # transmission draw of every spike
    sign = np.where(np.arange(n_inputs) < n_ex, g_ex, -k_inh * g_ex)[:, None]
    weights = np.where(h_draw, sign, 0.0)
    v, m, h, n = -65.0, 0.05, 0.6, 0.32
    spikes, above = 0, False
    for step in range(int(round(t_end / dt))):
        t = step * dt
        arrived = np.abs(times - t) < dt / 2  # every spike time against this step
        jump = np.sum(weights[arrived])
        a_m = 0.1 * (v + 40) / (1 - np.exp(-(v + 40) / 10))
        b_m = 4 * np.exp(-(v + 65) / 18)
        a_h = 0.07 * np.exp(-(v + 65) / 20)
        b_h = 1 / (1 + np.exp(-(v + 35) / 10))
        a_n = 0.01 * (v + 55) / (1 - np.exp(-(v + 55) / 10))
        b_n = 0.125 * np.exp(-(v + 65) / 80)
        i_ion = 120 * m**3 * h * (v - 50) + 36 * n**4 * (v + 77) + 0.3 * (v + 54.387)
        v += dt * (i_app - i_ion) + jump
        m += dt * (a_m * (1 - m) - b_m * m)
        h += dt * (a_h * (1 - h) - b_h * h)
        n += dt * (a_n * (1 - n) - b_n * n)
        if v > -20 and not above:  # counted as the model counts (rearm below -40 mV)
            spikes += 1
        above = v > -20 or (above and v > -40)
    return spikes


def bench_naive(cells, budget_s, log):
    """Time one neuron for the full second (it finishes: seconds), then scale linearly to n neurons.

    The naive code simulates one neuron at a time, so n neurons cost n times one;
    rows with n > 1 are marked extrapolated. ``budget_s`` is unused: 1 s always fits.
    """
    rows = []
    single = {}
    rng = np.random.default_rng(0)
    for inputs in sorted({c[1] for c in cells}):
        n_ex, n_in = split(inputs)
        start = time.perf_counter()
        count = naive_neuron(n_ex, n_in, 1.0, rng)
        single[inputs] = (time.perf_counter() - start, float(count))
    for n, inputs in cells:
        wall, rate = single[inputs]
        extra = {} if n == 1 else {"extrapolated": f"{n} x the measured 1-neuron run ({wall:.2f} s)"}
        row = record("naive NumPy loop", 1, "spike-time compare", n, inputs, 1.0, n * wall, rate, **extra)
        rows.append(row)
        log(row)
    return rows


# ----------------------------------------------------------------------------
# table, JSON, figure
# ----------------------------------------------------------------------------


def record(way, threads, mode, n, inputs, duration, wall, rate, **extra):
    per_s = wall / duration
    return {
        "way": way, "threads": threads, "mode": mode, "n_neurons": n, "inputs": inputs,
        "simulated_s": duration, "wall_s": wall, "wall_per_sim_s": per_s,
        "ns_per_neuron_step": per_s / (n * STEPS_PER_S) * 1e9, "mean_rate_hz": rate,
        "load_avg": os.getloadavg(), **extra,  # right after the measurement: shared cores are noisy
    }


def label(row):
    if row["way"].startswith("brianlab"):
        return f"{row['way']} {row['mode']} {row['threads'] or 1}t"
    if row["way"].startswith("NEST"):
        return f"NEST {row['threads']}t"
    return "naive loop"


def reference(rows, n, inputs):
    for row in rows:
        if (row["way"] == "brianlab cpp_standalone" and row["threads"] == 2 and row["mode"] == "aggregate"
                and row["n_neurons"] == n and row["inputs"] == inputs):
            return row["wall_per_sim_s"]
    return None


def table(rows):
    lines = ["| way | n_neurons | inputs | simulated (s) | wall s / sim s | ns / neuron-step | x cpp 2t aggregate | rate (Hz) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in sorted(rows, key=lambda r: (r["n_neurons"], r["inputs"], r["wall_per_sim_s"])):
        ref = reference(rows, row["n_neurons"], row["inputs"])
        ratio = f"{row['wall_per_sim_s'] / ref:.3g}" if ref else "n/a"
        sim = f"{row['simulated_s']:g}" + (" (extrapolated)" if "extrapolated" in row else "")
        lines.append(f"| {label(row)} | {row['n_neurons']} | {row['inputs']} | {sim} | {row['wall_per_sim_s']:.3g} | "
                     f"{row['ns_per_neuron_step']:.3g} | {ratio} | {row['mean_rate_hz']:.3g} |")
    return "\n".join(lines)


def find(rows, n, inputs, way, threads=None, mode=None):
    for row in rows:
        if (row["way"] == way and row["n_neurons"] == n and row["inputs"] == inputs
                and (threads is None or row["threads"] == threads) and (mode is None or row["mode"] == mode)):
            return row["wall_per_sim_s"]
    return None


def targets(rows, headline=None):
    """The issue's three targets, each with the numbers it rests on (None where not measured).

    With ``headline`` (repeated runs of the target case), its medians stand for
    the grid's single measurements of that case, the best 2-thread setting for 2 threads.
    """
    cpp2 = find(rows, 1000, 5000, "brianlab cpp_standalone", 2, "aggregate")
    cpp1 = find(rows, 1000, 5000, "brianlab cpp_standalone", 0, "aggregate")
    cpp2_best, best_policy = cpp2, None
    if headline:
        medians = {k: float(np.median(w)) for k, w in headline.items()}
        cpp2 = medians.get("2 threads", cpp2)  # OpenMP's default wait policy
        cpp1 = medians.get("1 thread", cpp1)
        two = {k: m for k, m in medians.items() if k.startswith("2 threads")}
        if two:
            best_policy = min(two, key=two.get)
            cpp2_best = two[best_policy]
    nest1 = find(rows, 1000, 5000, "NEST hh_psc_alpha", 1)
    naive = find(rows, 1, 5000, "naive NumPy loop")
    cpp2_single = find(rows, 1, 5000, "brianlab cpp_standalone", 2, "aggregate")
    cpp1_single = find(rows, 1, 5000, "brianlab cpp_standalone", 0, "aggregate")
    out = {}
    if cpp2 is not None:
        out["1000x5000 under 5 s with 2 threads"] = {
            "wall_s_default_policy": cpp2, "met_default_policy": cpp2 < 5,
            "wall_s_best_policy": cpp2_best, "best_policy": best_policy, "met_best_policy": cpp2_best < 5}
    if cpp2 is None and cpp1 is not None and nest1 is not None:
        out[">=10x faster than NEST 1 thread (1000x5000), 1 thread only (no 2-thread row in this run)"] = {
            "nest_1_thread_wall_s": nest1, "cpp_1_thread_wall_s": cpp1, "speedup_1_thread": nest1 / cpp1,
            "met_1_thread": nest1 / cpp1 >= 10}
    if cpp2 is not None and nest1 is not None:
        out[">=10x faster than NEST 1 thread (1000x5000)"] = {
            "nest_1_thread_wall_s": nest1,
            "speedup_2_threads_default_policy": nest1 / cpp2, "speedup_2_threads_best_policy": nest1 / cpp2_best,
            "speedup_1_thread": nest1 / cpp1 if cpp1 else None,
            "met_default_policy": nest1 / cpp2 >= 10}
    if naive is not None and (cpp1_single or cpp2_single):
        best = min(x for x in (cpp1_single, cpp2_single) if x)
        out[">=1000x faster than the naive loop at 5000 inputs (1 neuron)"] = {
            "speedup": naive / best, "met": naive / best >= 1000}
    for inputs in INPUTS:  # the populations, against brianlab's best way (repeated runs where there are)
        ref = find(rows, 1000, inputs, "naive NumPy loop")
        ways = [find(rows, 1000, inputs, "brianlab cpp_standalone", t, "aggregate") for t in (0, 2)]
        if inputs == 5000:
            ways += [cpp1, cpp2, cpp2_best]
        ways = [w for w in ways if w]
        if ref and ways:
            out[f"naive / brianlab's best at 1000 neurons x {inputs} inputs"] = {"speedup": ref / min(ways)}
    return out


def figure(rows, path, wait_policy=""):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2), layout="constrained")
    axes = fig.subplots(1, 2)
    labels = sorted({label(r) for r in rows})
    most_inputs = max(r["inputs"] for r in rows)
    most_neurons = max(r["n_neurons"] for r in rows)
    for k, lab in enumerate(labels):
        style = {"marker": "o", "color": f"C{k % 10}", "ls": "--" if lab == "naive loop" else "-"}
        mine = [r for r in rows if label(r) == lab]
        by_n = sorted((r for r in mine if r["inputs"] == most_inputs), key=lambda r: r["n_neurons"])
        by_in = sorted((r for r in mine if r["n_neurons"] == most_neurons), key=lambda r: r["inputs"])
        if by_n:
            axes[0].plot([r["n_neurons"] for r in by_n], [r["wall_per_sim_s"] for r in by_n], label=lab, **style)
        if by_in:
            axes[1].plot([r["inputs"] for r in by_in], [r["wall_per_sim_s"] for r in by_in], label=lab, **style)
    for ax, xlabel, title in ((axes[0], "n_neurons", f"{most_inputs} inputs per neuron"),
                              (axes[1], "inputs per neuron", f"{most_neurons} neurons")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.axhline(5, color="0.5", lw=0.8, ls=":")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("wall s per simulated s")
        ax.set_title(f"hh-poisson, dt = 0.01 ms: {title}")
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(frameon=False, fontsize="x-small")
            break
    policy = f"OMP_WAIT_POLICY={wait_policy}" if wait_policy else "OpenMP's default wait policy"
    fig.suptitle("naive loop: 1 neuron measured, more extrapolated (dashed); dotted: the 5 s target; "
                 f"2t: 2 threads, {policy}", fontsize="small")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="n_neurons 1 and 100, inputs 100 and 1000")
    parser.add_argument("--neurons", default=None, help="comma-separated n_neurons instead of the grid's (a trimmed run)")
    parser.add_argument("--inputs", default=None, help="comma-separated input counts instead of the grid's")
    parser.add_argument("--cpp-threads", default="2,0", help="cpp_standalone thread settings (0: no OpenMP)")
    parser.add_argument("--modes", default="aggregate,explicit", help="brianlab input modes")
    parser.add_argument("--nest-threads", default="1,2", help="NEST thread counts")
    parser.add_argument("--only", default="runtime,cpp,nest,naive",
                        help="comma-separated: runtime, cpp, nest, naive, headline (the target case alone; cpp includes it)")
    parser.add_argument("--budget", type=float, default=10.0, help="wall seconds aimed at per slow measurement")
    parser.add_argument("--out", type=Path, default=Path("bench/results/hh_poisson.json"))
    parser.add_argument("--figure", type=Path, default=Path("docs/hh_scaling.png"))
    parser.add_argument("--build-root", type=Path, default=Path("build/bench/hh_poisson"))
    parser.add_argument("--headline", type=int, default=3, metavar="REPEATS",
                        help="time the target case this many times per thread setting (0: skip)")
    parser.add_argument("--omp-wait-policy", default="",
                        help="OMP_WAIT_POLICY for brianlab's and NEST's threads (default '': the environment's; "
                        "PASSIVE helps only on cores shared with other jobs, and cost 17x on quiet ones, "
                        "bench/results/hh_poisson.json)")
    args = parser.parse_args(argv)
    load_at_start = os.getloadavg()
    if args.omp_wait_policy:
        os.environ["OMP_WAIT_POLICY"] = args.omp_wait_policy  # before NEST starts its threads
    neurons, inputs = ((1, 100), (100, 1000)) if args.quick else (NEURONS, INPUTS)
    if args.neurons:
        neurons = tuple(int(x) for x in args.neurons.split(","))
    if args.inputs:
        inputs = tuple(int(x) for x in args.inputs.split(","))
    cells = [(n, k) for n in neurons for k in inputs]
    only = set(args.only.split(","))
    rows = []

    def log(row):
        print(f"{label(row):<36} n={row['n_neurons']:<5} inputs={row['inputs']:<5} sim {row['simulated_s']:<6g} s "
              f"wall {row['wall_s']:8.2f} s  {row['wall_per_sim_s']:9.3g} s/sim-s  {row['ns_per_neuron_step']:8.3g} ns/neuron-step  "
              f"rate {row['mean_rate_hz']:.3g} Hz", file=sys.stderr, flush=True)

    started = time.perf_counter()
    headline, headline_loads = {}, {}
    if args.headline and ("cpp" in only or "headline" in only):
        headline, headline_loads = bench_headline(args.build_root / "headline", args.headline,
                                  lambda line: print(line, file=sys.stderr, flush=True))
    if "cpp" in only:
        for threads in (int(t) for t in args.cpp_threads.split(",")):
            for mode in args.modes.split(","):
                rows += bench_brianlab("cpp_standalone", threads, mode, cells, args.budget,
                                       args.build_root / f"cpp{threads}-{mode}", log)
    if "nest" in only:
        for threads in (int(t) for t in args.nest_threads.split(",")):
            rows += bench_nest(threads, cells, args.budget, log)
    if "runtime" in only:
        for mode in args.modes.split(","):
            rows += bench_brianlab("runtime", 0, mode, cells, args.budget, args.build_root / "runtime", log)
    if "naive" in only:
        rows += bench_naive(cells, args.budget, log)
    text = table(rows)
    print(text)
    goals = targets(rows, headline)
    for name, result in goals.items():
        print(f"{name}: {json.dumps(result)}")
    for name, walls in headline.items():
        print(f"1000 x 5000 x 1 s, aggregate, {name}: median {np.median(walls):.2f} s, min {min(walls):.2f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record_json = {
        "bench": "hh_poisson", **provenance(),
        "grid": {"n_neurons": list(neurons), "inputs": list(inputs),
                 "trimmed": (tuple(neurons), tuple(inputs)) != (NEURONS, INPUTS)},
        "only": sorted(only), "budget_s": args.budget, "cpp_threads": args.cpp_threads, "modes": args.modes,
        "nest_threads": args.nest_threads, "omp_wait_policy": args.omp_wait_policy or os.environ.get("OMP_WAIT_POLICY", ""),
        "method": hp.HHPoissonParams().method, "dt_ms": DT_MS,
        "rows": rows, "targets": goals, "headline": headline,
        "headline_load_avg": headline_loads,
        "load_avg_at_start": load_at_start, "bench_wall_s": time.perf_counter() - started,
    }
    args.out.write_text(json.dumps(record_json, indent=2) + "\n")
    print(f"json: {args.out}")
    if rows:
        print(f"figure: {figure(rows, args.figure, args.omp_wait_policy)}")


if __name__ == "__main__":
    main()
