"""Test-time learning under a shifted test distribution (``stdp-digits``).

What unsupervised test-time learning is for: the network is trained on clean
digits (teacher on), then tested on digits whose distribution has shifted:
lower contrast and background noise on every pixel (``contrast``,
``noise_rate``; the noise stays on between images, like a sensor's dark
rate). At each shift level the same held-out images are shown twice, from the
same trained state: with frozen weights, and with plasticity on and no teacher
(online: each mechanism of :data:`ONLINE`; the choice among them is made on the
validation columns, ``val_*``). The rule's ``diff = a - theta`` is near zero for a pixel whose rate
does not change, so learning during the test strengthens the weights from the
pixels of the shown image and, through the weight normalisation, weakens those
from pixels that carry only background, which the frozen network keeps reading.

Each seed is one stratified train/test split and network seed: the network is
trained once, then every shift level is tested from that trained state (as
``--from`` with ``epochs=0`` does), all in one device session, so a
standalone project is compiled once.

    python -m brianlab.runs.stdp_shift --device cpp_standalone --seed 0 --seeds 3 --out results/stdp_shift
    python -m brianlab.runs.stdp_shift --preset digits-400 --seed 10 --seeds 3 --out results/shift400
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from brianlab import plotting
from brianlab.arguments import (
    ArgumentParser,
    add_device_arguments,
    add_preset_argument,
    device_options,
    run_script,
    seed_value,
    whole_number,
)
from brianlab.devices import DeviceSession
from brianlab.model import RunRecord
from brianlab.models import stdp_digits
from brianlab.params import apply_assignments
from brianlab.records import jsonable

#: Online (test-time) mechanisms compared at every shift level.
ONLINE = ("stdp", "input_norm", "stdp+input_norm")
#: (contrast, background noise rate) of the test images, from no shift to a strong one.
SHIFTS = ((1.0, "0*Hz"), (0.8, "10*Hz"), (0.6, "20*Hz"), (0.5, "30*Hz"), (0.4, "40*Hz"))


def simulate(session, params, seeds, shifts=SHIFTS, online=ONLINE):
    """Train once per seed, then test frozen and with each online mechanism at every shift level.

    Returns a list of rows ``{seed, contrast, noise_hz, frozen, MECHANISM..., val_frozen, val_MECHANISM...}``
    (test and validation accuracy) and the metrics of each seed's unshifted training run.
    """
    rows, trained = [], {}
    for seed in seeds:
        session.seed = seed  # the split, the initial weights and every Poisson input follow it
        result = stdp_digits.simulate(params, session)
        trained[seed] = dict(result.metrics)
        previous = RunRecord(path=Path("."), config={"seed": seed}, params=params, metrics=result.metrics,
                             arrays=result.arrays)
        for contrast, noise in shifts:
            row = {"seed": seed, "contrast": contrast}
            for mechanism in online:
                shifted = apply_assignments(
                    stdp_digits.STDPDigitsParams,
                    ["epochs=0", f"contrast={contrast}", f"noise_rate={noise}", f"online={mechanism}"], base=params,
                )
                metrics = stdp_digits.simulate(shifted, session, previous).metrics
                row.update(noise_hz=float(shifted.noise_rate), frozen=metrics["accuracy_test_frozen"],
                           val_frozen=metrics["accuracy_val_frozen"])
                row[mechanism] = metrics["accuracy_test_online"]
                row[f"val_{mechanism}"] = metrics["accuracy_val_online"]
            rows.append(row)
            print(rows[-1], flush=True)
    return rows, trained


def summarize(rows):
    """Mean and standard deviation over seeds of frozen and online accuracy per shift level."""
    levels = sorted({(r["contrast"], r["noise_hz"]) for r in rows}, key=lambda lv: (-lv[0], lv[1]))
    summary = []
    for contrast, noise in levels:
        group = [r for r in rows if (r["contrast"], r["noise_hz"]) == (contrast, noise)]
        entry = {"contrast": contrast, "noise_hz": noise, "n_seeds": len(group)}
        keys = [k for k in group[0] if k not in ("seed", "contrast", "noise_hz")]
        for key in keys:
            values = np.array([r[key] for r in group])
            entry[key] = float(values.mean())
            entry[f"{key}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        summary.append(entry)
    return summary


def plot_shift(summary, ax=None):
    """Test accuracy against the shift level: frozen weights and each online mechanism."""
    ax = plotting.new_axes(ax, figsize=(6.5, 4.2))
    x = np.arange(len(summary))
    curves = [("frozen", "o", "frozen weights")] + [
        (m, marker, f"online: {m}") for m, marker in zip(ONLINE, "s^v") if m in summary[0]]
    for key, marker, label in curves:
        mean = np.array([s[key] for s in summary]) * 100
        sd = np.array([s[f"{key}_sd"] for s in summary]) * 100
        ax.errorbar(x, mean, yerr=sd, marker=marker, capsize=3, label=label)
    ax.set_xticks(x, [f"c={s['contrast']:g}\n{s['noise_hz']:g} Hz" for s in summary])
    ax.set_xlabel("test shift: image contrast and background noise rate")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"trained on clean digits, tested shifted (mean ± sd, {summary[0]['n_seeds']} seeds)")
    ax.legend(frameon=False)
    return ax


def save(out, rows, summary, trained):
    """Write the rows, the summary and the training metrics as JSON, and the figure as PNG."""
    out.mkdir(parents=True, exist_ok=True)
    data = {"rows": rows, "summary": summary, "trained": trained}
    (out / "shift.json").write_text(json.dumps(jsonable(data), indent=2) + "\n")
    return plotting.save(plot_shift(summary), out / "shift.png")


def main(argv=None):
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_device_arguments(parser)
    parser.add_argument("--seed", type=seed_value, default=0, help="first seed, 0 ... 2**32-1")
    parser.add_argument("--seeds", type=whole_number(1, None, "the number of seeds"), default=3,
                        help="number of seeds (train/test splits)")
    parser.add_argument("--out", type=Path, default=Path("results/stdp_shift"))
    add_preset_argument(parser, "a preset of stdp-digits (e.g. digits-400), applied before --set")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    if args.out.exists():
        parser.error(f"{args.out} exists; choose another --out")
    params = apply_assignments(stdp_digits.STDPDigitsParams, stdp_digits.MODEL.preset(args.preset) + args.set)
    with DeviceSession(args.device or "cpp_standalone", device_options(args), build_root=args.out / "build",
                       seed=args.seed, progress=False) as session:
        rows, trained = simulate(session, params, range(args.seed, args.seed + args.seeds))
    summary = summarize(rows)
    figure = save(args.out, rows, summary, trained)
    for s in summary:
        online = " ".join(f"{m} {s[m]:.1%}" for m in ONLINE if m in s)
        print(f"contrast {s['contrast']:.2f} noise {s['noise_hz']:4.0f} Hz: frozen {s['frozen']:.1%} {online}")
    print(f"results: {args.out} ({figure.name})")


if __name__ == "__main__":
    raise SystemExit(run_script(main))
