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


# --------------------------------------------------------------------------- losses, forward


def _batch(y, t):
    """The book's reshape of a 1-D score vector (and its label) to a batch of one."""
    if y.ndim == 1:
        t = np.reshape(t, (1, -1)) if np.ndim(t) and np.size(t) == y.size else np.reshape(t, 1)
        y = y.reshape(1, -1)
    return y, t


def _label_terms(y, t, log):
    """Σ_n Σ_k t_nk·log(y_nk) for labels (flattened) or targets of y's shape."""
    y, t = _batch(y, t)
    if np.shape(t) == y.shape:
        return np.sum(t * log(y))
    labels = np.asarray(t).reshape(-1)
    return np.sum(log(y[np.arange(y.shape[0]), labels]))


def cross_entropy_exact_log(y, t):
    """No δ at all: log(y)."""
    return -_label_terms(y, t, np.log) / _batch(y, t)[0].shape[0]


def cross_entropy_delta_outside(y, t):
    """δ added after the log: log(y) + 1e-7."""
    return -_label_terms(y, t, lambda p: np.log(p) + 1e-7) / _batch(y, t)[0].shape[0]


def cross_entropy_soft_argmax(y, t):
    """Targets of y's shape reduced to labels by argmax (right for one-hot only)."""
    y, t = _batch(y, t)
    labels = np.argmax(t, axis=1) if np.shape(t) == y.shape else np.asarray(t).reshape(-1)
    return -np.sum(np.log(y[np.arange(y.shape[0]), labels] + 1e-7)) / y.shape[0]


def cross_entropy_sum(y, t):
    """Forgets / N: a sum over the batch."""
    return -_label_terms(y, t, lambda p: np.log(p + 1e-7))


def cross_entropy_mean_all(y, t):
    """np.mean over the whole (N, K) array: divides by N·K."""
    y, t = _batch(y, t)
    onehot = t if np.shape(t) == y.shape else np.eye(y.shape[1])[np.asarray(t).reshape(-1)]
    return -np.mean(onehot * np.log(y + 1e-7))


def _bce_terms(y, t):
    return t * np.log(y + 1e-7) + (1 - t) * np.log(1 - y + 1e-7)


def binary_cross_entropy_over_batch(y, t):
    """Divides by the number of rows, as for the cross-entropy, not by every element."""
    return -np.sum(_bce_terms(y, t)) / y.shape[0]


def binary_cross_entropy_sum(y, t):
    return -np.sum(_bce_terms(y, t))


def mean_absolute_error_backward_no_mean(y, dout, t):
    """sign(y - t) without / y.size."""
    return dout * np.sign(y - t)


def mean_squared_error_mean(y, t):
    return np.mean((y - t) ** 2)


def mean_squared_error_sum(y, t):
    return np.sum((y - t) ** 2)


# --------------------------------------------------------------------------- activations


def softmax_axis0(a):
    """Normalises each column (the batch axis) of a 2-D input."""
    e = np.exp(a - a.max(axis=0))
    return e / e.sum(axis=0)


def softmax_unshifted(a):
    e = np.exp(a)
    return e / np.sum(e, axis=-1, keepdims=True)


def log_softmax_naive(a):
    return np.log(ok.softmax(a))


def step_function_ge(x):
    return np.array(x >= 0, dtype=int)


# --------------------------------------------------------------------------- backward


def relu_backward_one_at_zero(x, dout):
    """The standalone relu_grad of the book: 1 where x >= 0."""
    return dout * (x >= 0)


def sigmoid_backward_from_input(x, dout):
    """Uses the input where the layer's stored output belongs."""
    return dout * x * (1 - x)


def sigmoid_backward_of_output(x, dout):
    """sigmoid_grad (which takes the pre-activation) applied to the output."""
    y = ok.sigmoid(x)
    s = ok.sigmoid(y)
    return dout * s * (1 - s)


def softmax_backward_no_sum(a, dout):
    return ok.softmax(a) * dout


def softmax_with_loss_backward_no_mean(a, dout, t):
    """(y - t) without / N."""
    y = ok.softmax(a)
    onehot = t if np.shape(t) == np.shape(a) else np.eye(a.shape[-1])[t]
    return dout * (y - onehot)


# --------------------------------------------------------------------------- optimizers


class AdamEpsInside(ok.Adam):
    def update(self, params, grads):
        if self.m is None:
            self.m = {k: np.zeros_like(v) for k, v in params.items()}
            self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.iter += 1
        lr_t = self.lr * np.sqrt(1 - self.beta2 ** self.iter) / (1 - self.beta1 ** self.iter)
        for k in params:
            self.m[k] += (1 - self.beta1) * (grads[k] - self.m[k])
            self.v[k] += (1 - self.beta2) * (grads[k] ** 2 - self.v[k])
            params[k] -= lr_t * self.m[k] / np.sqrt(self.v[k] + 1e-7)


class AdamPaper(ok.Adam):
    """Kingma & Ba's Algorithm 1: bias-corrected moments, ε after the correction."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr, beta1, beta2)
        self.eps = eps

    def update(self, params, grads):
        if self.m is None:
            self.m = {k: np.zeros_like(v) for k, v in params.items()}
            self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.iter += 1
        for k in params:
            self.m[k] = self.beta1 * self.m[k] + (1 - self.beta1) * grads[k]
            self.v[k] = self.beta2 * self.v[k] + (1 - self.beta2) * grads[k] ** 2
            m_hat = self.m[k] / (1 - self.beta1 ** self.iter)
            v_hat = self.v[k] / (1 - self.beta2 ** self.iter)
            params[k] -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class AdamCounterPerKey(ok.Adam):
    """Advances the step counter inside the loop over keys: right for one key only."""

    def update(self, params, grads):
        if self.m is None:
            self.m = {k: np.zeros_like(v) for k, v in params.items()}
            self.v = {k: np.zeros_like(v) for k, v in params.items()}
        for k in params:
            self.iter += 1
            lr_t = self.lr * np.sqrt(1 - self.beta2 ** self.iter) / (1 - self.beta1 ** self.iter)
            self.m[k] += (1 - self.beta1) * (grads[k] - self.m[k])
            self.v[k] += (1 - self.beta2) * (grads[k] ** 2 - self.v[k])
            params[k] -= lr_t * self.m[k] / (np.sqrt(self.v[k]) + 1e-7)


def adam_fresh_state(params, grads, lr=0.001):
    """Builds a new optimizer on every call: right on the first step only."""
    ok.Adam(lr).update(params, grads)


def momentum_fresh_state(params, grads, lr=0.01):
    ok.Momentum(lr).update(params, grads)


class NesterovOldOrder(ok.Nesterov):
    """The book's first printing: v first, then p with the new v."""

    def update(self, params, grads):
        if self.v is None:
            self.v = {k: np.zeros_like(v) for k, v in params.items()}
        m = self.momentum
        for k in params:
            self.v[k] = m * self.v[k] - self.lr * grads[k]
            params[k] += m * m * self.v[k] - (1 + m) * self.lr * grads[k]


class MomentumSign(ok.Momentum):
    def update(self, params, grads):
        if self.v is None:
            self.v = {k: np.zeros_like(v) for k, v in params.items()}
        for k in params:
            self.v[k] = self.momentum * self.v[k] + self.lr * grads[k]
            params[k] += self.v[k]


class MomentumStale(ok.Momentum):
    """Moves p by the previous velocity, then updates v."""

    def update(self, params, grads):
        if self.v is None:
            self.v = {k: np.zeros_like(v) for k, v in params.items()}
        for k in params:
            params[k] += self.v[k]
            self.v[k] = self.momentum * self.v[k] - self.lr * grads[k]


class AdaGradEpsInside(ok.AdaGrad):
    def update(self, params, grads):
        if self.h is None:
            self.h = {k: np.zeros_like(v) for k, v in params.items()}
        for k in params:
            self.h[k] += grads[k] ** 2
            params[k] -= self.lr * grads[k] / np.sqrt(self.h[k] + 1e-7)


class RMSpropEpsInside(ok.RMSprop):
    def update(self, params, grads):
        if self.h is None:
            self.h = {k: np.zeros_like(v) for k, v in params.items()}
        for k in params:
            self.h[k] = self.decay * self.h[k] + (1 - self.decay) * grads[k] ** 2
            params[k] -= self.lr * grads[k] / np.sqrt(self.h[k] + 1e-7)


# --------------------------------------------------------------------------- training steps


def _net(params):
    i, h = params["W1"].shape
    net = ok.TwoLayerNet(i, h, params["W2"].shape[1])
    net.load(params)
    return net


def training_step_loss_after(params, x, t, lr=0.1):
    """Records the loss after the update, as the book's training loop does."""
    _, grads, new = ok.training_step(params, x, t, lr)
    return _net(new).loss(x, t), grads, new


def training_step_loss_after_delta(params, x, t, lr=0.1):
    _, grads, new = ok.training_step(params, x, t, lr)
    return ok.cross_entropy_error(ok.softmax(_net(new).predict(x)), t), grads, new


class SigmoidFromInput(ok.Sigmoid):
    """Keeps the input and differentiates as if it were the output."""

    def forward(self, x):
        self.x = x
        return ok.sigmoid(x)

    def backward(self, dout):
        return dout * self.x * (1 - self.x)


def training_step_sigmoid_from_input(params, x, t, lr=0.1):
    net = _net(params)
    net.layers["Sigmoid1"] = SigmoidFromInput()
    loss = net.loss(x, t)
    grads = net.gradient(x, t)
    return loss, grads, {k: params[k] - lr * grads[k] for k in params}


def training_step_no_mean(params, x, t, lr=0.1):
    """Backward without / N: gradients (and the step) N times too large."""
    loss, grads, _ = ok.training_step(params, x, t, lr)
    grads = {k: len(x) * g for k, g in grads.items()}
    return loss, grads, {k: params[k] - lr * grads[k] for k in params}


def training_step_ascent(params, x, t, lr=0.1):
    loss, grads, _ = ok.training_step(params, x, t, lr)
    return loss, grads, {k: params[k] + lr * grads[k] for k in params}


def training_step_float32_loss(params, x, t, lr=0.1):
    """A float64 step whose loss is accumulated in float32."""
    loss, grads, new = ok.training_step(params, x, t, lr)
    return np.float32(loss), grads, new


# --------------------------------------------------------------------------- gradients


def negated_gradient(net, x, t):
    return {k: -g for k, g in net.gradient(x, t).items()}


class SimpleNetTransposedGrad(ok.SimpleNet):
    """dW returned as (x.T @ dy).T: invisible in the shape when W is square."""

    def gradient(self, x, t):
        return super().gradient(x, t).T


class SimpleNetOverClasses(ok.SimpleNet):
    """Loss divided by the number of classes - and its gradient too, so they agree."""

    def loss(self, x, t):
        return super().loss(x, t) / self.W.shape[1]

    def gradient(self, x, t):
        return super().gradient(x, t) / self.W.shape[1]


class SimpleNetSummed(ok.SimpleNet):
    """Loss and gradient summed over the batch."""

    def loss(self, x, t):
        return super().loss(x, t) * len(t)

    def gradient(self, x, t):
        return super().gradient(x, t) * len(t)


# --------------------------------------------------------------------------- dropout


class DropoutInverted(ok.Dropout):
    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = self.rng.random(x.shape) > self.ratio
            return x * self.mask / (1.0 - self.ratio)
        return x


class DropoutNoTestScale(ok.Dropout):
    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = self.rng.random(x.shape) > self.ratio
            return x * self.mask
        return x
