"""A correct implementation in the book's style: functions, layers holding weights, a network."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def relu(x):
    return np.maximum(0, x)


def relu_backward(x, dout):
    """ReLU's VJP: the incoming gradient where x > 0 (0 at x = 0 and at NaN, as the reference)."""
    return dout * (x > 0)


def softmax(a):
    shifted = a - np.max(a, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def cross_entropy_error(y, t):
    """The chapter's loss with δ = 1e-7 inside the log; labels (N,), (N, 1), scalar or targets."""
    if y.ndim == 1:
        y = y.reshape(1, -1)
        t = np.reshape(t, (1, -1)) if np.ndim(t) and np.size(t) == y.size else np.reshape(t, 1)
    n = y.shape[0]
    if np.shape(t) == y.shape:  # one-hot or soft targets: the full sum, never an argmax
        return -np.sum(t * np.log(y + 1e-7)) / n
    labels = np.asarray(t).reshape(n)
    return -np.sum(np.log(y[np.arange(n), labels] + 1e-7)) / n


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b  # the network's arrays themselves, as in the book
        self.x = self.dW = self.db = None

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T


class Sigmoid:
    def forward(self, x):
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout):
        return dout * self.out * (1 - self.out)


class SoftmaxWithLoss:
    """Exact log-sum-exp loss, whose gradient is exactly (y - t)/N."""

    def forward(self, a, t):
        n = a.shape[0]
        self.t = np.eye(a.shape[1])[t] if np.ndim(t) == 1 else t
        self.y = softmax(a)
        shifted = a - a.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -np.sum(self.t * logp) / n

    def backward(self, dout=1.0):
        return dout * (self.y - self.t) / self.t.shape[0]


class TwoLayerNet:
    """No ``params=`` constructor; the layers hold the very arrays of ``self.params``."""

    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {
            "W1": weight_init_std * rng.standard_normal((input_size, hidden_size)),
            "b1": np.zeros(hidden_size),
            "W2": weight_init_std * rng.standard_normal((hidden_size, output_size)),
            "b2": np.zeros(output_size),
        }
        self.layers = OrderedDict()
        self.layers["Affine1"] = Affine(self.params["W1"], self.params["b1"])
        self.layers["Sigmoid1"] = Sigmoid()
        self.layers["Affine2"] = Affine(self.params["W2"], self.params["b2"])
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        return self.last_layer.forward(self.predict(x), t)

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.last_layer.backward()
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        a1, a2 = self.layers["Affine1"], self.layers["Affine2"]
        return {"W1": a1.dW, "b1": a1.db, "W2": a2.dW, "b2": a2.db}

    def load(self, params):
        """Copy values into the arrays the layers hold (assigning self.params would not)."""
        for k, v in params.items():
            self.params[k][...] = v


def training_step(params, x, t, lr=0.1):
    """One SGD step from ``params``: (loss before the update, grads, new params)."""
    i, h = params["W1"].shape
    net = TwoLayerNet(i, h, params["W2"].shape[1])
    net.load(params)
    loss = net.loss(x, t)
    grads = net.gradient(x, t)
    return loss, grads, {k: params[k] - lr * grads[k] for k in params}


def sgd(params, grads, lr=0.01):
    for k in params:
        params[k] -= lr * grads[k]
