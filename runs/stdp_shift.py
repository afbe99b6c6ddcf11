"""Test-time learning under a shifted test distribution (``stdp-digits``).

What unsupervised test-time learning is for: the network is trained on clean
digits (teacher on), then tested on digits whose distribution has shifted:
lower contrast and background noise on every pixel (``contrast``,
``noise_rate``; the noise stays on between images, like a sensor's dark
rate). At each shift level the same held-out images are shown twice, from the
same trained state: with frozen weights, and with plasticity on and no teacher
(online). The rule's ``diff = a - theta`` is zero on average for a pixel whose
rate does not change, so the weight decay removes the weights from pixels that
carry only background, while the frozen network keeps reading them.

One training run per seed is saved with ``brianlab``'s run directory (so
``brianlab plot`` and ``--from`` work on it); every shift level then starts
from it (``--from`` with ``epochs=0``) in one device session, so a standalone
project is compiled once per seed.

    python -m runs.stdp_shift --device cpp_standalone --seed 0 --seeds 3 --out results/stdp_shift
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from brianlab import devices, plotting
from brianlab.cli import run_model
from brianlab.model import get_model
from brianlab.params import apply_assignments
from brianlab.records import load_run

#: (contrast, background noise rate) of the test images, from no shift to a strong one.
SHIFTS = ((1.0, "0*Hz"), (0.8, "10*Hz"), (0.6, "20*Hz"), (0.5, "30*Hz"), (0.4, "40*Hz"))


def simulate(out, device, seeds, assignments, shifts=SHIFTS):
    """Train once per seed, then test frozen and online at every shift level.

    Returns a list of rows ``{seed, contrast, noise_hz, frozen, online}``.
    """
    model = get_model("stdp-digits")
    params = apply_assignments(model.params, assignments)
    rows = []
    for seed in seeds:
        trained, _ = run_model(model, params, device, devices.DeviceOptions(), seed=seed,
                               out=out / f"train-seed{seed}", progress=False)
        previous = load_run(trained, model)
        with devices.DeviceSession(device, build_root=out / f"build-seed{seed}", seed=seed,
                                   progress=False) as session:
            for contrast, noise in shifts:
                shifted = apply_assignments(
                    model.params, ["epochs=0", f"contrast={contrast}", f"noise_rate={noise}"], base=params
                )
                metrics = model.simulate(shifted, session, previous).metrics
                rows.append({
                    "seed": seed, "contrast": contrast, "noise_hz": float(shifted.noise_rate),
                    "frozen": metrics["accuracy_test_frozen"], "online": metrics["accuracy_test_online"],
                })
                print(rows[-1], flush=True)
    return rows


def summarize(rows):
    """Mean and standard deviation over seeds of frozen and online accuracy per shift level."""
    levels = sorted({(r["contrast"], r["noise_hz"]) for r in rows}, key=lambda lv: (-lv[0], lv[1]))
    summary = []
    for contrast, noise in levels:
        group = [r for r in rows if (r["contrast"], r["noise_hz"]) == (contrast, noise)]
        entry = {"contrast": contrast, "noise_hz": noise, "n_seeds": len(group)}
        for key in ("frozen", "online"):
            values = np.array([r[key] for r in group])
            entry[key] = float(values.mean())
            entry[f"{key}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        entry["online_minus_frozen"] = entry["online"] - entry["frozen"]
        summary.append(entry)
    return summary


def plot_shift(summary, ax=None):
    """Held-out accuracy against the shift level, frozen weights against online learning."""
    ax = plotting.new_axes(ax, figsize=(6.5, 4.2))
    x = np.arange(len(summary))
    for key, marker, label in (("frozen", "o", "frozen weights"), ("online", "s", "test-time learning (online)")):
        mean = np.array([s[key] for s in summary]) * 100
        sd = np.array([s[f"{key}_sd"] for s in summary]) * 100
        ax.errorbar(x, mean, yerr=sd, marker=marker, capsize=3, label=label)
    ax.set_xticks(x, [f"c={s['contrast']:g}\n{s['noise_hz']:g} Hz" for s in summary])
    ax.set_xlabel("test shift: image contrast and background noise rate")
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_title(f"trained on clean digits, tested shifted (mean ± sd, {summary[0]['n_seeds']} seeds)")
    ax.legend(frameon=False)
    return ax


def save(out, rows, summary):
    """Write the rows and the summary as JSON and the figure as PNG."""
    (out / "shift.json").write_text(json.dumps({"rows": rows, "summary": summary}, indent=2) + "\n")
    return plotting.save(plot_shift(summary), out / "shift.png")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpp_standalone")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (train/test splits)")
    parser.add_argument("--out", type=Path, default=Path("results/stdp_shift"))
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    if args.out.exists():
        parser.error(f"{args.out} exists; choose another --out")
    rows = simulate(args.out, args.device, range(args.seed, args.seed + args.seeds), args.set)
    summary = summarize(rows)
    figure = save(args.out, rows, summary)
    for s in summary:
        print(f"contrast {s['contrast']:.2f} noise {s['noise_hz']:4.0f} Hz: frozen {s['frozen']:.1%} "
              f"online {s['online']:.1%} ({s['online_minus_frozen']:+.1%})")
    print(f"results: {args.out} ({figure.name})")


if __name__ == "__main__":
    main()
