"""The development sweep behind bench/results/stdp_mnist_tuning.json (seed 1's validation only).

    CONFIGS='[["theta_plus=0.5*mV"], ...]' SEED=1 NTRAIN=1000 NVAL=500 NLABEL=1000 \
        .venv/bin/python bench/stdp_mnist_tune.py chunk=250 t_present=100*ms t_rest=0*ms reset_state=true

Arguments: DiehlCookParams assignments that fix the network's shape (one
compilation); CONFIGS: a JSON list of further assignment lists, each trained and
scored on validation in turn. Prints one JSON line per configuration
(``acc_proto``: argmax of image . weights with the teacher's class, a check of
what the weights learned). The rows in the tuning JSON were collected from its
output by hand; it is kept so that they can be reproduced.
"""
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from brianlab.devices import DeviceSession  # noqa: E402
from brianlab.models.stdp_digits import diehl_cook as dc  # noqa: E402
from brianlab.params import apply_assignments  # noqa: E402


def load():
    return dc.mnist_5k()


def split(x, y, seed):
    d = dc.mnist_split(seed, images=(x, y))
    return d["index_train"], d["index_val"], d["index_test"]

def main():
    base = sys.argv[1:]
    configs = json.loads(os.environ.get("CONFIGS", "[[]]"))
    seed = int(os.environ.get("SEED", 1))
    n_train = int(os.environ.get("NTRAIN", 3000))
    n_val = int(os.environ.get("NVAL", 1000))
    epochs = int(os.environ.get("EPOCHS", 1))
    n_label = int(os.environ.get("NLABEL", 1000))
    device = os.environ.get("DEV", "cpp_standalone")
    x, y = load()
    p0 = apply_assignments(dc.DiehlCookParams, base)
    with DeviceSession(device, build_root="/tmp/stdp_mnist_tune-" + "_".join(a.replace("*","").replace("=","") for a in base), seed=seed, progress=False) as s:
      prog = dc.make_program(p0, s)
      for extra in configs:
        args = base + extra
        p = apply_assignments(dc.DiehlCookParams, args)
        run_one(p, prog, args, x, y, seed, n_train, n_val, epochs, n_label)

def run_one(p, prog, args, x, y, seed, n_train, n_val, epochs, n_label):
    tr, va, te = split(x, y, seed)
    tr, va = tr[:n_train], va[:n_val]
    rng = np.random.default_rng(seed)
    state = dc.initial_state(p, rng)
    teacher = dc.teacher_targets(x[tr], y[tr], p.n_exc, 10, seed) if float(p.teacher_drive) > 0 else None
    if True:
        tr_s = 0
        for e in range(epochs):
            order = np.random.default_rng(seed + e).permutation(len(tr))
            ph = dc.run_phase(prog, p, state, x[tr][order], "train", dc.phase_seed(seed, f"t{e}"),
                              None if teacher is None else teacher[order])
            tr_s += ph.run_s
        lab = dc.run_phase(prog, p, state, x[tr][:n_label], "frozen", dc.phase_seed(seed, "label"))
        cls = dc.label_neurons(lab.counts, y[tr][:n_label], 10)
        val = dc.run_phase(prog, p, state, x[va], "frozen", dc.phase_seed(seed, "val"))
        pred = dc.predict(val.counts, cls, 10)
        acc = float(np.mean(pred == y[va]))
        W = dc.weights(p, state)
        owner = np.arange(p.n_exc) % 10
        scores = x[va] @ W
        acc_proto = float(np.mean(owner[scores.argmax(1)] == y[va]))
        acc_proto_resp = float(np.mean(cls[scores.argmax(1)] == y[va]))
        first = np.argmax(val.counts, axis=1)
        acc_max = float(np.mean(cls[first] == y[va]))
        out = dict(acc_proto=acc_proto, acc_proto_resp=acc_proto_resp, acc_maxneuron=acc_max, args=args, seed=seed, n_train=len(tr), epochs=epochs, acc_val=acc, build_s=prog.build_s,
                   train_run_s=tr_s, train_per_s=epochs*len(tr)/tr_s, val_per_s=len(va)/val.run_s,
                   spikes_per_val=float(val.counts.sum(1).mean()), silent_val=float(np.mean(val.counts.sum(1)==0)),
                   label_spikes=float(lab.counts.sum(1).mean()), n_labelled=int(np.sum(cls>=0)),
                   theta_mean_mV=float(np.mean(state["dc_exc.theta"])*1e3))
        print(json.dumps(out), flush=True)

if __name__ == "__main__":
    main()
