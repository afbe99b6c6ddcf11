"""``hh-poisson`` against its starting point: output rate at the notebook's input strength and at brianlab's.

::

    python bench/hh_seed.py              # 20 trials each (about a minute)
    python bench/hh_seed.py --trials 50

The seed notebook (``shared/reference/hh_poisson_numpy_loop.txt``) adds ``G_ex*count``
to dV/dt for one forward-Euler step, so a transmitted spike moves v by dt*G_ex =
0.01 mV; brianlab's ``G_ex`` is the jump itself, 1 mV by default. Measured, 300 ms,
one neuron per trial, 80 + 20 trains at 10 Hz, p = 0.5, K = 4, I_app = 3 uA/cm^2:

- the notebook's loop (``bench/hh_poisson.py``'s ``naive_neuron``: forward Euler,
  every spike time compared with every step) with a jump of 0.01 mV, one trial per seed;
- brianlab ``runtime`` with ``hh_poisson.NOTEBOOK_SEED`` (``G_ex=0.01*mV``), the
  trials as ``n_neurons`` independent neurons;
- brianlab with its default ``G_ex=1*mV``, the same way.

Writes ``bench/results/hh_seed.json`` (command, commit, machine, date, every trial's count).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_provenance import provenance  # noqa: E402
from hh_poisson import naive_neuron  # noqa: E402

from brianlab.devices import DeviceSession  # noqa: E402
from brianlab.models import hh_poisson as hp  # noqa: E402
from brianlab.params import apply_assignments  # noqa: E402

DURATION_S = 0.3


def brianlab_rates(assignments, trials):
    params = apply_assignments(hp.HHPoissonParams, [*assignments, f"n_neurons={trials}", "n_record=0"])
    with DeviceSession("runtime", seed=0, progress=False) as session:
        result = hp.simulate(params, session)
    return result.arrays["rate"].tolist()


def summary(rates):
    rates = np.asarray(rates, dtype=float)
    return {"mean_hz": float(rates.mean()), "sd_hz": float(rates.std(ddof=1)) if len(rates) > 1 else None,
            "sem_hz": float(rates.std(ddof=1) / np.sqrt(len(rates))) if len(rates) > 1 else None,
            "trials": len(rates), "rates_hz": rates.tolist()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("bench/results/hh_seed.json"))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    notebook = [naive_neuron(80, 20, DURATION_S, np.random.default_rng(seed), g_ex=0.01) / DURATION_S
                for seed in range(args.trials)]
    rows = {
        "notebook loop, jump dt*G_ex = 0.01 mV": summary(notebook),
        "brianlab NOTEBOOK_SEED (G_ex=0.01*mV)": summary(brianlab_rates(hp.NOTEBOOK_SEED, args.trials)),
        "brianlab default (G_ex=1*mV)": summary(brianlab_rates((), args.trials)),
    }
    for name, row in rows.items():
        print(f"{name:<42} {row['mean_hz']:7.2f} Hz +- {row['sem_hz']:.2f} (sem, {row['trials']} trials)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"bench": "hh_seed", **provenance(), "duration_s": DURATION_S,
                                    "method_brianlab": hp.HHPoissonParams().method, "method_notebook": "forward Euler",
                                    "rows": rows, "bench_wall_s": time.perf_counter() - started}, indent=2) + "\n")
    print(f"json: {args.out}")


if __name__ == "__main__":
    main()
