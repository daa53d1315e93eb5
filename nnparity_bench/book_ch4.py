"""The book's chapter-4 training run, written plainly as the book writes it: the speed baseline.

This is deliberately *not* optimised: float32 images against float64 weights (every product
upcasts), one-hot float64 targets, softmax recomputed for the loss and for accuracy, sigmoid
recomputed in the backward pass, batches drawn with ``np.random.choice`` inside the loop.
Only two things are added, both outside the timed arithmetic: the batch indices and initial
weights can be handed in, so the same run can be replayed by ``reference_numpy`` and the
accuracies compared on identical batches.
"""

from __future__ import annotations

import time

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def sigmoid_grad(x):
    return (1.0 - sigmoid(x)) * sigmoid(x)


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


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01, params=None):
        if params is not None:
            self.params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
            return
        self.params = {}
        self.params["W1"] = weight_init_std * np.random.randn(input_size, hidden_size)
        self.params["b1"] = np.zeros(hidden_size)
        self.params["W2"] = weight_init_std * np.random.randn(hidden_size, output_size)
        self.params["b2"] = np.zeros(output_size)

    def predict(self, x):
        W1, W2 = self.params["W1"], self.params["W2"]
        b1, b2 = self.params["b1"], self.params["b2"]
        a1 = np.dot(x, W1) + b1
        z1 = sigmoid(a1)
        a2 = np.dot(z1, W2) + b2
        return softmax(a2)

    def loss(self, x, t):
        return cross_entropy_error(self.predict(x), t)

    def accuracy(self, x, t):
        y = np.argmax(self.predict(x), axis=1)
        t = np.argmax(t, axis=1)
        return np.sum(y == t) / float(x.shape[0])

    def gradient(self, x, t):
        W1, W2 = self.params["W1"], self.params["W2"]
        b1, b2 = self.params["b1"], self.params["b2"]
        grads = {}
        batch_num = x.shape[0]
        a1 = np.dot(x, W1) + b1
        z1 = sigmoid(a1)
        a2 = np.dot(z1, W2) + b2
        y = softmax(a2)
        dy = (y - t) / batch_num
        grads["W2"] = np.dot(z1.T, dy)
        grads["b2"] = np.sum(dy, axis=0)
        da1 = np.dot(dy, W2.T)
        dz1 = sigmoid_grad(a1) * da1
        grads["W1"] = np.dot(x.T, dz1)
        grads["b1"] = np.sum(dz1, axis=0)
        return grads


def run(
    x_train,
    t_train_onehot,
    x_test,
    t_test_onehot,
    *,
    iters_num=10000,
    batch_size=100,
    learning_rate=0.1,
    seed=0,
    batch_indices=None,
    init_params=None,
):
    """train_neuralnet.py from ch. 4; returns (seconds, losses, train accs, test accs)."""
    np.random.seed(seed)
    network = TwoLayerNet(784, 50, 10, params=init_params)
    train_size = x_train.shape[0]
    train_loss_list, train_acc_list, test_acc_list = [], [], []
    iter_per_epoch = max(train_size / batch_size, 1)
    start = time.perf_counter()
    for i in range(iters_num):
        if batch_indices is None:
            batch_mask = np.random.choice(train_size, batch_size)
        else:
            batch_mask = batch_indices[i]
        x_batch = x_train[batch_mask]
        t_batch = t_train_onehot[batch_mask]
        grad = network.gradient(x_batch, t_batch)
        for key in ("W1", "b1", "W2", "b2"):
            network.params[key] -= learning_rate * grad[key]
        loss = network.loss(x_batch, t_batch)
        train_loss_list.append(loss)
        if i % iter_per_epoch == 0:
            train_acc_list.append(network.accuracy(x_train, t_train_onehot))
            test_acc_list.append(network.accuracy(x_test, t_test_onehot))
    return time.perf_counter() - start, train_loss_list, train_acc_list, test_acc_list
