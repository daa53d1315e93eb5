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
        self.t = np.eye(a.shape[1], dtype=a.dtype)[t] if np.ndim(t) == 1 else t
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


def step_function(x):
    return np.array(x > 0, dtype=int)


def log_softmax(a):
    shifted = a - np.max(a, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def sigmoid_backward(x, dout):
    y = sigmoid(x)
    return dout * y * (1 - y)


def softmax_backward(a, dout):
    y = softmax(a)
    return y * (dout - np.sum(dout * y, axis=-1, keepdims=True))


def mean_squared_error(y, t):
    return 0.5 * np.sum((y - t) ** 2)


class SimpleNet:
    """The chapter's x·W net: softmax, then cross_entropy_error (δ in the log)."""

    def __init__(self, W):
        self.W = W

    def loss(self, x, t):
        return cross_entropy_error(softmax(x @ self.W), t)

    def gradient(self, x, t):
        y = softmax(x @ self.W)
        dy = y.copy()
        dy[np.arange(len(t)), t] -= 1
        return x.T @ dy / len(t)


class Momentum:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, None

    def update(self, params, grads):
        if self.v is None:
            self.v = {k: np.zeros_like(v) for k, v in params.items()}
        for k in params:
            self.v[k] = self.momentum * self.v[k] - self.lr * grads[k]
            params[k] += self.v[k]


class Nesterov:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, None

    def update(self, params, grads):
        if self.v is None:
            self.v = {k: np.zeros_like(v) for k, v in params.items()}
        m = self.momentum
        for k in params:
            params[k] += m * m * self.v[k] - (1 + m) * self.lr * grads[k]
            self.v[k] = m * self.v[k] - self.lr * grads[k]


class AdaGrad:
    def __init__(self, lr=0.01):
        self.lr, self.h = lr, None

    def update(self, params, grads):
        if self.h is None:
            self.h = {k: np.zeros_like(v) for k, v in params.items()}
        for k in params:
            self.h[k] += grads[k] ** 2
            params[k] -= self.lr * grads[k] / (np.sqrt(self.h[k]) + 1e-7)


class RMSprop:
    def __init__(self, lr=0.01, decay_rate=0.99):
        self.lr, self.decay, self.h = lr, decay_rate, None

    def update(self, params, grads):
        if self.h is None:
            self.h = {k: np.zeros_like(v) for k, v in params.items()}
        for k in params:
            self.h[k] = self.decay * self.h[k] + (1 - self.decay) * grads[k] ** 2
            params[k] -= self.lr * grads[k] / (np.sqrt(self.h[k]) + 1e-7)


class Adam:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.iter, self.m, self.v = 0, None, None

    def update(self, params, grads):
        if self.m is None:
            self.m = {k: np.zeros_like(v) for k, v in params.items()}
            self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.iter += 1
        lr_t = self.lr * np.sqrt(1 - self.beta2 ** self.iter) / (1 - self.beta1 ** self.iter)
        for k in params:
            self.m[k] += (1 - self.beta1) * (grads[k] - self.m[k])
            self.v[k] += (1 - self.beta2) * (grads[k] ** 2 - self.v[k])
            params[k] -= lr_t * self.m[k] / (np.sqrt(self.v[k]) + 1e-7)


class Dropout:
    """The book's convention: the mask alone at train time, ×(1 - ratio) at test time."""

    def __init__(self, dropout_ratio=0.5, seed=0):
        self.ratio, self.rng, self.mask = dropout_ratio, np.random.default_rng(seed), None

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = self.rng.random(x.shape) > self.ratio
            return x * self.mask
        return x * (1.0 - self.ratio)


def training_step_f32(params, x, t, lr=0.1):
    """The same step computed in float32 throughout (float32 params and batch)."""
    i, h = params["W1"].shape
    net = TwoLayerNet(i, h, params["W2"].shape[1])
    net.params = {k: np.array(v, dtype=np.float32) for k, v in params.items()}
    for name, (w, b) in (("Affine1", ("W1", "b1")), ("Affine2", ("W2", "b2"))):
        net.layers[name].W, net.layers[name].b = net.params[w], net.params[b]
    x = np.asarray(x, dtype=np.float32)
    loss = net.loss(x, t)
    grads = net.gradient(x, t)
    return loss, grads, {k: net.params[k] - np.float32(lr) * grads[k] for k in params}


def binary_cross_entropy(y, t):
    return -np.mean(t * np.log(y + 1e-7) + (1 - t) * np.log(1 - y + 1e-7))


def mean_absolute_error_backward(y, dout, t):
    return dout * np.sign(y - t) / y.size
