"""The notebook's discrete-time network in NumPy: the reference the Brian2 model is checked against.

Hidden layer (LIF, threshold 1, ``alpha = exp(-dt/tau_hidden)``), for steps
``t = 0 .. n_steps-2`` with ``h_t = x_t @ W1`` and ``v_0 = 0``, ``s_0 = 0``:

``reset="notebook"`` (the notebook's order, the spike lags the potential by one step)::

    v_{t+1} = (alpha * v_t + h_t) * (1 - s_t)
    s_{t+1} = [v_t > 1]

``reset="immediate"`` (the spike is read from the current potential)::

    s_t = [v_t > 1]
    v_{t+1} = (alpha * v_t + h_t) * (1 - s_t)

Output layer (leaky, non-spiking): ``u_0 = 0``, ``u_{t+1} = beta * u_t + s_t @ W2``;
the read-out is ``0.01 * sum_t u_t`` over the ``n_steps`` values ``u_0 .. u_{n-1}``.
This module needs no PyTorch; :mod:`.training` runs the same recurrence in torch.
"""

from __future__ import annotations

import numpy as np

__all__ = ["READOUT_SCALE", "forward", "predict"]

#: The notebook's factor on the time-summed output potential before the softmax.
READOUT_SCALE = 0.01


def forward(spikes, w1, w2, alpha_hidden, alpha_out, reset="notebook", dtype=np.float64, chunk=256):
    """Run the network on input spikes.

    Parameters
    ----------
    spikes : ndarray of bool, shape (n, n_steps, n_inputs)
    w1 : ndarray, shape (n_inputs, n_hidden)
        Signed input weights (dimensionless, in units of the threshold).
    w2 : ndarray, shape (n_hidden, n_classes)
    alpha_hidden, alpha_out : float
        ``exp(-dt/tau)`` of the hidden and output layers.
    reset : {'notebook', 'immediate'}
    dtype : numpy dtype
        Arithmetic precision.
    chunk : int
        Samples per block (bounds memory).

    Returns
    -------
    hidden : ndarray of bool, shape (n, n_steps, n_hidden)
        Hidden spikes ``s_t``.
    readout : ndarray, shape (n, n_classes)
        ``0.01 * sum_t u_t``.
    """
    n, n_steps, _ = spikes.shape
    w1 = np.asarray(w1, dtype=dtype)
    w2 = np.asarray(w2, dtype=dtype)
    alpha_h, alpha_o = dtype(alpha_hidden), dtype(alpha_out)
    hidden = np.zeros((n, n_steps, w1.shape[1]), dtype=bool)
    readout = np.zeros((n, w2.shape[1]), dtype=dtype)
    one = dtype(1)
    for start in range(0, n, chunk):
        x = spikes[start:start + chunk].astype(dtype)
        h = x[:, : n_steps - 1] @ w1
        v = np.zeros((len(x), w1.shape[1]), dtype=dtype)
        s = np.zeros_like(v)
        s_rec = np.zeros((len(x), n_steps, w1.shape[1]), dtype=dtype)
        for t in range(n_steps - 1):
            if reset == "notebook":
                v_new = (alpha_h * v + h[:, t]) * (one - s)
                s = (v > one).astype(dtype)
                v = v_new
                s_rec[:, t + 1] = s
            else:
                s = (v > one).astype(dtype)
                s_rec[:, t] = s
                v = (alpha_h * v + h[:, t]) * (one - s)
        if reset != "notebook":
            s_rec[:, n_steps - 1] = v > one
        u = np.zeros((len(x), w2.shape[1]), dtype=dtype)
        total = u.copy()
        h2 = s_rec @ w2
        for t in range(n_steps - 1):
            u = alpha_o * u + h2[:, t]
            total = total + u
        hidden[start:start + chunk] = s_rec > 0
        readout[start:start + chunk] = total * dtype(READOUT_SCALE)
    return hidden, readout


def predict(readout):
    """The predicted class: the first index of the largest read-out (as ``torch.max``)."""
    return np.argmax(readout, axis=1)
