"""One variant of book_style per pitfall or convention; each docstring says what is wrong."""

from __future__ import annotations

import numpy as np

from . import book_style as ok


def cross_entropy_n1_broadcast(y, t):
    """Labels (N, 1) index y[arange(N), t] as an (N, N) block: a sum over N² entries."""
    if y.ndim == 1:
        t, y = np.reshape(t, (1, -1)), y.reshape(1, -1)
    if np.shape(t) == y.shape:
        t = t.argmax(axis=1)
    n = y.shape[0]
    return -np.sum(np.log(y[np.arange(n), t] + 1e-7)) / n


def softmax_axis1(a):
    """The max and the sum hard-coded over axis 1: a 1-D input raises, a 3-D one is wrong."""
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_with_loss_delta(a, t):
    """The book's SoftmaxWithLoss forward: cross_entropy_error(softmax(a), t) with δ = 1e-7."""
    return ok.cross_entropy_error(ok.softmax(a), t)


def relu_backward_nan_passthrough(x, dout):
    """Zeroes where x <= 0, so a NaN input (x <= 0 is False) passes dout through - like torch."""
    out = dout.copy()
    out[x <= 0] = 0
    return out


def softmax_raises(a):
    """Raises on every input (a typo): the verdict must quote it, not crash."""
    return a / a.sum_exp()


def relu_in_place(x):
    """Writes into its argument."""
    x[x < 0] = 0
    return x


def sigmoid_forgets_return(x):
    """Computes into a new array and forgets to return it (returns None)."""
    out = np.empty_like(x)
    out[...] = ok.sigmoid(x)


def training_step_w1_transposed(params, x, t, lr=0.1):
    """Returns W1 transposed, as if the weights were stored (H, I)."""
    loss, grads, new = ok.training_step(params, x, t, lr)
    return loss, grads, {**new, "W1": new["W1"].T}


def training_step_raises(params, x, t, lr=0.1):
    """Fails inside the user's code."""
    raise KeyError("W3")


def training_step_params_not_copied(params, x, t, lr=0.1):
    """Assigns net.params = params: the layers keep their own random weights."""
    i, h = params["W1"].shape
    net = ok.TwoLayerNet(i, h, params["W2"].shape[1], seed=123)
    net.params = {k: np.array(v) for k, v in params.items()}
    grads = net.gradient(x, t)
    return net.loss(x, t), grads, {k: params[k] - lr * grads[k] for k in params}


def training_step_writes_x(params, x, t, lr=0.1):
    """Normalises the batch in place before the step."""
    x /= 2
    return ok.training_step(params, x * 2, t, lr)


def bias_gradient_summed_twice(net, x, t):
    """b1's gradient doubled (the bias summed over the batch twice)."""
    g = net.gradient(x, t)
    return {**g, "b1": 2 * g["b1"]}


def training_step_delta_loss(params, x, t, lr=0.1):
    """The book's loss value, cross_entropy_error(softmax(a), t) with δ = 1e-7, and (y - t)/N."""
    _, grads, new = ok.training_step(params, x, t, lr)
    i, h = params["W1"].shape
    net = ok.TwoLayerNet(i, h, params["W2"].shape[1])
    net.load(params)
    return ok.cross_entropy_error(ok.softmax(net.predict(x)), t), grads, new
