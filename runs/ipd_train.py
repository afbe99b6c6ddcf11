"""Train ipd-localisation's weights with surrogate gradients and save them as an .npz.

Follows ``ipd_dales_law_notebook`` (Dale's law, sigmoid surrogate, Adam, early
stopping on validation loss). The shipped weights
(``models/ipd_localisation/shipped_weights.npz``) were made by::

    python -m brianlab.runs.ipd_train --seed 0 --out models/ipd_localisation/shipped_weights.npz

``--set`` takes the model's parameters (``positive=abs``, ``ie_ratio=0.3``, ...).
"""

from __future__ import annotations

import json
import sys

import numpy as np

from brianlab.arguments import ArgumentParser, seed_value, whole_number
from brianlab.errors import BrianlabError
from brianlab.models import ipd_localisation as ipd
from brianlab.models.ipd_localisation import inputs, reference
from brianlab.models.ipd_localisation.weights import save_weights
from brianlab.params import apply_assignments, to_json


def main(argv=None):
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=seed_value, default=0,
                        help="seed of the data, the sign masks and the initial weights, 0 ... 2**32-1")
    parser.add_argument("--out", required=True, help="the .npz to write (must not exist)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a model parameter")
    parser.add_argument("--threads", type=whole_number(1, None, "the number of threads"), default=1, help="torch threads")
    args = parser.parse_args(argv)
    try:
        from brianlab.models.ipd_localisation import training

        torch = training.require_torch()
        torch.set_num_threads(args.threads)
        params = apply_assignments(ipd.IPDParams, args.set + ["weights=train"])
        weights = ipd.get_weights(params, args.seed, log=lambda m: print(m, file=sys.stderr, flush=True))
        alpha_h, alpha_o = ipd.alphas(params)
        test = inputs.generate(ipd.input_spec(params), params.n_test, inputs.stream(args.seed, 2))
        _, out = reference.forward(test.spikes, weights.w1, weights.w2, alpha_h, alpha_o, params.reset)
        info = dict(weights.info)
        info.update(accuracy_test=float(np.mean(reference.predict(out) == test.labels)),
                    loss_train=list(weights.training.loss_train), loss_val=list(weights.training.loss_val),
                    params=to_json(params), command="python -m brianlab.runs.ipd_train " + " ".join(
                        argv if argv is not None else sys.argv[1:]))
        save_weights(args.out, weights.w1, weights.w2, weights.sign1, weights.sign2, info)
    except BrianlabError as exc:
        print(f"brianlab: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: info[k] for k in ("accuracy_train", "accuracy_val", "accuracy_test", "train_wall_s",
                                           "best_epoch", "stopped_early")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
