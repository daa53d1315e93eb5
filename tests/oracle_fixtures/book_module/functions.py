"""Activations and losses; the losses take one-hot (or soft) targets only, as in the book."""

import numpy as np


def step_function(x):
    return np.array(x > 0, dtype=int)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def relu(x):
    return np.maximum(0, x)


def softmax(x):
    x = x - np.max(x, axis=-1, keepdims=True)  # a copy: the caller's array is left alone
    e = np.exp(x)
    return e / np.sum(e, axis=-1, keepdims=True)


def mean_squared_error(y, t):
    return 0.5 * np.sum((y - t) ** 2)


def cross_entropy_error(y, t):
    """δ = 1e-7 inside the log; t one-hot or soft, the same shape as y."""
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.shape != y.shape:
        raise ValueError(f"t: expected one-hot targets of shape {y.shape}, got {t.shape}")
    batch_size = y.shape[0]
    return -np.sum(t * np.log(y + 1e-7)) / batch_size
