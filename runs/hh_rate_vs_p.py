"""Output rate of an HH neuron against the transmission probability p, for 100 to 5000 inputs.

The classic question behind ``hh-poisson``: one Hodgkin-Huxley neuron receives
N_ex excitatory and N_in inhibitory Poisson trains (80/20), each spike
transmitted with probability p. This script runs a population of independent
neurons (independent trials) per point on one compiled network: p, N_ex and
N_in are run_args values in aggregate mode, so on ``cpp_standalone`` the whole
sweep compiles once. At the smallest input count the explicit mode (every train
and transmission draw simulated) is run too, as a check that both modes give
the same rates.

    python -m brianlab.runs.hh_rate_vs_p --device cpp_standalone --out results/hh_rate_vs_p
    python -m brianlab.runs.hh_rate_vs_p --set n_neurons=50 --set duration=200*ms   # quicker
"""

from __future__ import annotations

import json
from pathlib import Path

from brianlab import devices, plotting
from brianlab.arguments import ArgumentParser, run_script, seed_value
from brianlab.devices import DeviceSession
from brianlab.models import hh_poisson as hp
from brianlab.params import apply_assignments

INPUTS = (100, 1000, 5000)
P_VALUES = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)


def simulate(device, seed, assignments, build_root, inputs=INPUTS, p_values=P_VALUES):
    """Mean and sd of the output rate (Hz) for each (mode, inputs, p); a JSON-able dict."""
    base = apply_assignments(hp.HHPoissonParams, ["n_neurons=100", "duration=1*second", "n_record=0", *assignments])
    points = []
    with DeviceSession(device, build_root=build_root, seed=seed, progress=False) as session:
        for mode, counts in (("aggregate", inputs), ("explicit", inputs[:1])):
            for total in counts:
                n_ex = int(round(0.8 * total))
                for k, p in enumerate(p_values):
                    params = apply_assignments(hp.HHPoissonParams, [
                        f"input_mode={mode}", f"N_ex={n_ex}", f"N_in={total - n_ex}", f"p={p}"], base=base)
                    session.seed = seed + k
                    result = hp.simulate(params, session)
                    rates = result.arrays["rate"]
                    points.append({"mode": mode, "inputs": total, "p": p, "mean_rate": float(rates.mean()),
                                   "sd_rate": float(rates.std(ddof=1)) if rates.size > 1 else 0.0,
                                   "n_neurons": int(rates.size)})
        n_compiles = sum(prog.n_compiles for prog in session.programs)
    return {"device": device, "seed": seed, "params": list(assignments), "points": points, "n_compiles": n_compiles}


def plot_rates(data, ax=None):
    """Output rate against p, one line per input count; explicit mode as open markers."""
    ax = plotting.new_axes(ax)
    totals = sorted({pt["inputs"] for pt in data["points"]})
    for k, total in enumerate(totals):
        for mode, style in (("aggregate", {"marker": "o", "ls": "-"}), ("explicit", {"marker": "s", "ls": "none", "mfc": "none", "ms": 9})):
            mine = [pt for pt in data["points"] if pt["inputs"] == total and pt["mode"] == mode]
            if not mine:
                continue
            ax.errorbar([pt["p"] for pt in mine], [pt["mean_rate"] for pt in mine], yerr=[pt["sd_rate"] for pt in mine],
                        color=f"C{k}", capsize=2, label=f"{total} inputs ({mode})", **style)
    ax.set_xlabel("transmission probability p")
    ax.set_ylabel("output rate (Hz), mean ± sd over neurons")
    ax.set_title(f"HH neuron, 80/20 Poisson inputs at 10 Hz\nG_ex = 1 mV, K = 4, 1 s ({data['device']})", fontsize="medium")
    ax.legend(frameon=False, fontsize="small")
    return ax


def main(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default=None, help=f"one of {', '.join(devices.DEVICE_NAMES)}")
    parser.add_argument("--seed", type=seed_value, default=0, help="first seed, 0 ... 2**32-1")
    parser.add_argument("--out", type=Path, default=Path("results/hh_rate_vs_p"))
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a model parameter")
    parser.add_argument("--figure", type=Path, default=None, help="also write the figure here (e.g. docs/hh_rate_vs_p.png)")
    args = parser.parse_args(argv)
    device = devices.resolve_name(args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    data = simulate(device, args.seed, args.set, args.out / "build")
    (args.out / "rates.json").write_text(json.dumps(data, indent=2))
    ax = plot_rates(data)
    paths = [plotting.save(ax, args.out / "rate_vs_p.png")]
    if args.figure:
        paths.append(plotting.save(ax, args.figure))
    for pt in data["points"]:
        print(f"{pt['mode']:<9} inputs={pt['inputs']:<5} p={pt['p']:<5g} rate {pt['mean_rate']:7.2f} ± {pt['sd_rate']:.2f} Hz")
    print(f"compiles: {data['n_compiles']}; data: {args.out / 'rates.json'}; figure: {', '.join(map(str, paths))}")


if __name__ == "__main__":
    raise SystemExit(run_script(main))
