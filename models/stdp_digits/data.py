"""Datasets of ``stdp-digits`` and their split."""

from __future__ import annotations

import numpy as np

from brianlab.errors import BrianlabError


def load_split(params, seed):
    """The stratified train/test split of the digits 0..n_class-1.

    Returns
    -------
    dict with ``x_train``, ``y_train``, ``x_test``, ``y_test`` (pixels 0..16)
    and ``index_train``, ``index_test`` (rows of ``load_digits()``).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    rows = np.flatnonzero(digits.target < params.n_class)
    test_size = params.n_test or params.test_fraction
    train_size = params.n_train or None
    try:
        index_train, index_test = train_test_split(
            rows, train_size=train_size, test_size=test_size, stratify=digits.target[rows], random_state=seed
        )
    except ValueError as exc:
        raise BrianlabError(f"cannot split {len(rows)} images of {params.n_class} classes: {exc}") from None
    return _split(index_train, index_test, digits)


def _split(index_train, index_test, digits=None):
    """Images and labels of the rows ``index_train`` and ``index_test`` of ``load_digits()``."""
    from sklearn.datasets import load_digits

    digits = digits or load_digits()
    return {
        "x_train": digits.data[index_train], "y_train": digits.target[index_train],
        "x_test": digits.data[index_test], "y_test": digits.target[index_test],
        "index_train": index_train, "index_test": index_test,
    }



def split_from_run(previous):
    """The train/test split a previous run used, so that --from never tests on its training images."""
    return _split(previous.arrays["index_train"], previous.arrays["index_test"])

