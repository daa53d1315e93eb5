"""A single file in the style of the chapter before backprop layers (oracle fixture).

TwoLayerNet is correct: sigmoid hidden layer, predict returns probabilities, weights only in
self.params, a hand-written analytic gradient, an accuracy taking one-hot targets only.  Its
helpers carry two of the book's known pitfalls: cross_entropy_error argmaxes same-size targets
(soft targets and (N, 1) labels go wrong) and numerical_gradient moves an int x in place.
"""

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


def cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


def numerical_gradient(f, x):
    h = 1e-4
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        tmp_val = x[idx]
        x[idx] = float(tmp_val) + h
        fxh1 = f(x)
        x[idx] = tmp_val - h
        fxh2 = f(x)
        grad[idx] = (fxh1 - fxh2) / (2 * h)
        x[idx] = tmp_val
    return grad


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        self.params = {
            "W1": weight_init_std * np.random.randn(input_size, hidden_size),
            "b1": np.zeros(hidden_size),
            "W2": weight_init_std * np.random.randn(hidden_size, output_size),
            "b2": np.zeros(output_size),
        }

    def predict(self, x):
        a1 = np.dot(x, self.params["W1"]) + self.params["b1"]
        z1 = sigmoid(a1)
        a2 = np.dot(z1, self.params["W2"]) + self.params["b2"]
        return softmax(a2)

    def loss(self, x, t):
        return cross_entropy_error(self.predict(x), t)

    def accuracy(self, x, t):
        y = np.argmax(self.predict(x), axis=1)
        t = np.argmax(t, axis=1)
        return np.sum(y == t) / float(x.shape[0])

    def numerical_gradient(self, x, t):
        def loss_W(_):
            return self.loss(x, t)

        return {k: numerical_gradient(loss_W, self.params[k]) for k in ("W1", "b1", "W2", "b2")}

    def gradient(self, x, t):
        W1, W2 = self.params["W1"], self.params["W2"]
        b1, b2 = self.params["b1"], self.params["b2"]
        batch_num = x.shape[0]
        z1 = sigmoid(np.dot(x, W1) + b1)
        y = softmax(np.dot(z1, W2) + b2)
        dy = (y - t) / batch_num
        dz1 = np.dot(dy, W2.T)
        da1 = dz1 * z1 * (1 - z1)
        return {"W1": np.dot(x.T, da1), "b1": np.sum(da1, axis=0),
                "W2": np.dot(z1.T, dy), "b2": np.sum(dy, axis=0)}
