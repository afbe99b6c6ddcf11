"""``STDPDigitClassifier``: the ``stdp-digits`` network as a scikit-learn estimator."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from .training import _phase_seed, fit_network, initial_state, make_program, predict_phase, run_phase, weight_matrices


class STDPDigitClassifier(ClassifierMixin, BaseEstimator):
    """The ``stdp-digits`` network as a scikit-learn classifier of images (8x8 digits, or MNIST with ``settings=("dataset=mnist",)``).

    Parameters
    ----------
    n_per_class : int
        Output neurons per class.
    epochs : int
        Passes over the training images.
    settings : tuple of str
        Further ``name=value`` parameters of :class:`STDPDigitsParams`, as for
        ``brianlab run --set`` (e.g. ``("lr=0.002",)``).
    device : str
        Brian device to simulate on (``runtime``, ``cpp_standalone``, ``cuda_standalone``).
    random_state : int, RandomState or None
        Seeds the initial weights and every Poisson input.

    Attributes
    ----------
    classes_ : ndarray
        The class labels seen by :meth:`fit`.
    weights_ : ndarray (n_inputs, n_out)
        Learned input weights.
    state_ : dict
        The trained network state (weights, thresholds, traces) as run_args values.
    neuron_class_ : ndarray (n_out,)
        Index into ``classes_`` that each output neuron answers for.
    n_features_in_ : int
        64 (digits) or 784 (mnist).

    Notes
    -----
    ``X`` holds pixel intensities 0..16, as ``sklearn.datasets.load_digits`` (mnist: 0..255).
    Each :meth:`fit` and :meth:`predict` opens its own device session on the
    sweep's build cache (:func:`brianlab.sweep.cached_session`), so on
    standalone devices a network shape compiles once and later calls rerun it.
    """

    def __init__(self, n_per_class=8, epochs=1, settings=(), device="runtime", random_state=None):
        self.n_per_class = n_per_class
        self.epochs = epochs
        self.settings = settings
        self.device = device
        self.random_state = random_state

    def _params(self, n_class):
        from brianlab.params import apply_assignments

        from . import STDPDigitsParams

        return apply_assignments(STDPDigitsParams, [
            *self.settings, f"n_class={n_class}", f"n_per_class={self.n_per_class}", f"epochs={self.epochs}",
        ])

    def _session(self, params, seed):
        """A session on the build cache: every fit and predict of one shape shares one compiled program."""
        from brianlab.sweep import cached_session

        from . import MODEL

        return cached_session(MODEL, params, self.device, seed=seed)

    @staticmethod
    def _program(params, session):
        from brianlab.sweep import shape_params

        from . import MODEL

        return make_program(shape_params(MODEL, params), session)

    def fit(self, X, y):
        """Train on images ``X`` (n, n_inputs; pixels 0..pixel_max) with labels ``y``; return self."""
        from sklearn.utils import check_random_state
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import check_X_y

        X, y = check_X_y(X, y)
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if not 2 <= len(self.classes_) <= 10:
            raise ValueError(f"STDPDigitClassifier handles 2 to 10 classes, got {len(self.classes_)}")
        params = self._params(len(self.classes_))
        _check_pixels(X, params)
        seed = int(check_random_state(self.random_state).randint(2**31 - 1000))
        state = initial_state(params, np.random.default_rng(seed))
        with self._session(params, seed) as session:
            program = self._program(params, session)
            classes = fit_network(program, params, state, X, y_index, seed).classes
        self.state_ = state
        self.weights_, _ = weight_matrices(params, state)
        self.neuron_class_ = classes
        self.n_features_in_ = params.n_inputs
        self.seed_ = seed
        return self

    def predict(self, X):
        """Class of each image in ``X`` (frozen network: no teacher, no plasticity)."""
        from sklearn.utils.validation import check_array, check_is_fitted

        check_is_fitted(self, "state_")
        X = check_array(X)
        params = self._params(len(self.classes_))
        _check_pixels(X, params)
        seed = _phase_seed(self.seed_, "predict")
        with self._session(params, seed) as session:
            program = self._program(params, session)
            phase = run_phase(program, params, dict(self.state_), X, None, "frozen", seed)
        predicted = predict_phase(params, phase, self.neuron_class_)
        # no output spike: the most frequent class of the neurons (a guess, not -1, for sklearn's scorers)
        predicted[predicted < 0] = np.bincount(self.neuron_class_).argmax()
        return self.classes_[predicted]


def _check_pixels(X, params):
    if X.shape[1] != params.n_inputs:
        raise ValueError(f"STDPDigitClassifier on {params.dataset} takes {params.n_inputs} features, got {X.shape[1]}")
    if X.min() < 0 or X.max() > params.pixel_max:
        raise ValueError(f"pixel values must lie in 0..{params.pixel_max:g}, got {X.min()}..{X.max()}")
