"""Saving and loading trained weights (``.npz``), and the weights shipped with brianlab."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np

from brianlab.errors import BrianlabError

__all__ = ["SHIPPED", "shipped_path", "save_weights", "load_weights", "check_shapes"]

#: File name of the shipped weights, inside this package.
SHIPPED = "shipped_weights.npz"


def shipped_path() -> Path:
    """Where the shipped weights file is installed."""
    return Path(str(resources.files(__package__) / SHIPPED))


def save_weights(path, w1, w2, sign1, sign2, info: dict) -> Path:
    """Write the signed weights, the row signs and ``info`` (JSON-able) to ``path`` (not overwritten)."""
    path = Path(path)
    if path.exists():
        raise BrianlabError(f"{path} exists; choose another file name (nothing already saved is overwritten)")
    with open(path, "xb") as handle:
        np.savez_compressed(handle, w1=np.asarray(w1, float), w2=np.asarray(w2, float),
                            sign1=np.asarray(sign1, float), sign2=np.asarray(sign2, float),
                            info=np.array(json.dumps(info, sort_keys=True)))
    return path


def load_weights(path):
    """``(w1, w2, sign1, sign2, info)`` from a weights file; one-line errors a user can fix."""
    path = Path(path)
    if not path.is_file():
        raise BrianlabError(f"weights file {path} not found; give an .npz written by ipd-localisation "
                            "(weights=PATH), weights=shipped, or weights=train")
    try:
        with np.load(path, allow_pickle=False) as data:
            w1, w2 = data["w1"], data["w2"]
            sign1 = data["sign1"] if "sign1" in data else np.zeros(w1.shape[0])
            sign2 = data["sign2"] if "sign2" in data else np.zeros(w2.shape[0])
            info = json.loads(str(data["info"])) if "info" in data else {}
    except (OSError, ValueError, KeyError) as exc:
        raise BrianlabError(f"weights file {path} is not an ipd-localisation weights file (.npz with w1 and w2): "
                            f"{exc}") from None
    return w1, w2, sign1, sign2, info


def check_shapes(w1, w2, n_inputs: int, n_hidden: int, n_classes: int, source: str) -> None:
    """Fail in one line when the weights do not fit the network's size."""
    want1, want2 = (n_inputs, n_hidden), (n_hidden, n_classes)
    if tuple(np.shape(w1)) != want1 or tuple(np.shape(w2)) != want2:
        raise BrianlabError(
            f"weights from {source} have shapes W1 {tuple(np.shape(w1))}, W2 {tuple(np.shape(w2))}, but this "
            f"network needs W1 {want1}, W2 {want2} (2*anf_per_ear x n_hidden, n_hidden x n_classes); "
            "set anf_per_ear/n_hidden/n_classes to match, or train new ones with weights=train"
        )
