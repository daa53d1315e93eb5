"""Activations and losses, forward and backward, with the book's names.

Every backward here is written by hand from its formula; ``verify`` checks each one against
central differences and against torch autograd.
"""

from __future__ import annotations

import numpy as np

from ._validate import (
    as_float_array,
    check_choice,
    check_nonempty,
    check_positive,
    check_targets,
)

__all__ = [
    "step_function",
    "sigmoid",
    "sigmoid_grad",
    "relu",
    "relu_grad",
    "softmax",
    "softmax_backward",
    "log_softmax",
    "mean_squared_error",
    "mean_squared_error_grad",
    "mean_absolute_error",
    "mean_absolute_error_grad",
    "cross_entropy_error",
    "cross_entropy_error_grad",
    "softmax_cross_entropy",
    "softmax_cross_entropy_grad",
    "binary_cross_entropy",
    "binary_cross_entropy_grad",
    "CEE_DELTA",
]

#: The book's guard against log(0) in cross_entropy_error.
CEE_DELTA = 1e-7

REDUCTIONS = ("half_sum", "sum", "mean")


# --------------------------------------------------------------------------- activations


def step_function(x: np.ndarray) -> np.ndarray:
    """h(x) = 1 if x > 0 else 0 (int array, as in the book)."""
    x = as_float_array(x, "x")
    return (x > 0).astype(np.int64)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + exp(-x)), evaluated without overflow.

    With e = exp(-|x|) ≤ 1: σ(x) = 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0.  The book's
    ``1/(1+np.exp(-x))`` overflows (with a RuntimeWarning) for x < -709.
    """
    x = as_float_array(x, "x")
    e = np.exp(-np.abs(x))
    # One division with the numerator chosen per element gives the same bits as computing both
    # branches, at half the cost (a masked divide is not vectorised).
    num = np.where(x >= 0, x.dtype.type(1), e)
    num /= x.dtype.type(1) + e
    return num


def _sigmoid_inplace(a: np.ndarray) -> np.ndarray:
    """σ(a) = 1 / (1 + exp(-a)), written over ``a`` (a float array the caller owns); returns a.

    The book's formula, for the fused training step: four passes over the array and no
    temporaries, against ``sigmoid``'s six passes.  For a < -88.7 (float32) or -709 (float64)
    exp(-a) overflows to inf and 1/(1 + inf) = 0, the correct limit, so the overflow is
    silenced rather than avoided.  Agrees with ``sigmoid`` to a few ulp where σ is normal
    (tests/test_numpy_functions.py measures it); below that both are under the smallest normal.
    """
    with np.errstate(over="ignore"):
        np.negative(a, out=a)
        np.exp(a, out=a)
        a += 1
        np.reciprocal(a, out=a)
    return a


def sigmoid_grad(x: np.ndarray) -> np.ndarray:
    """σ'(x) = σ(x)(1 - σ(x)); takes the pre-activation x, as the book's helper does."""
    s = sigmoid(x)
    return (1 - s) * s


def relu(x: np.ndarray) -> np.ndarray:
    """ReLU(x) = max(0, x); NaN stays NaN (np.maximum propagates it, as torch.relu does)."""
    x = as_float_array(x, "x")
    return np.maximum(x, x.dtype.type(0))


def relu_grad(x: np.ndarray) -> np.ndarray:
    """ReLU'(x) = 1 if x > 0 else 0.

    At the kink we take ReLU'(0) = 0, as the book's ``Relu`` layer and torch do (the book's
    standalone ``relu_grad`` says 1; that disagreement is a classic parity bug).  At NaN the
    comparison x > 0 is false, so this gives 0.  torch's autograd for relu differs there: its
    threshold_backward zeroes the gradient where the *output* is <= 0, which NaN is not, so the
    incoming gradient passes through (verify lists this as a known difference).
    """
    x = as_float_array(x, "x")
    return (x > 0).astype(x.dtype)


def _scores(a: object) -> np.ndarray:
    """``a`` for (log-)softmax: at least 1-D with at least one class on the last axis (a max
    over no classes has no value; a scalar has no axis to normalise over)."""
    a = as_float_array(a, "a")
    if a.ndim == 0:
        raise ValueError(
            "a: expected at least 1 dimension (scores over the last axis), got a scalar"
        )
    if a.shape[-1] == 0:
        raise ValueError(
            f"a: expected at least one score on the last axis, got shape {a.shape}"
        )
    return a


def softmax(a: np.ndarray) -> np.ndarray:
    """softmax(a)_k = exp(a_k - max a) / Σ_j exp(a_j - max a), over the last axis.

    Subtracting the max changes nothing mathematically but keeps exp from overflowing:
    ``softmax([1010, 1000, 990])`` is finite.
    """
    a = _scores(a)
    e = a - np.max(a, axis=-1, keepdims=True)
    np.exp(e, out=e)
    e /= np.sum(e, axis=-1, keepdims=True)
    return e


def log_softmax(a: np.ndarray) -> np.ndarray:
    """log softmax(a) = a - logsumexp(a), over the last axis; exact where softmax underflows."""
    a = _scores(a)
    shifted = a - np.max(a, axis=-1, keepdims=True)
    shifted -= np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
    return shifted


def softmax_backward(y: np.ndarray, dout: np.ndarray) -> np.ndarray:
    """Vector-Jacobian product of softmax: dL/da = y ⊙ (dout - Σ_k dout_k y_k), y = softmax(a)."""
    y = as_float_array(y, "y")
    dout = as_float_array(dout, "dout")
    _same_shape(y, dout, "y", "dout")
    return y * (dout - np.sum(dout * y, axis=-1, keepdims=True))


# --------------------------------------------------------------------------- losses


def _same_shape(y: np.ndarray, t: np.ndarray, ny: str = "y", nt: str = "t") -> None:
    if y.shape != t.shape:
        raise ValueError(f"{nt}: expected the shape of {ny}, {y.shape}, got {t.shape}")


def _pair(y: object, t: object) -> tuple[np.ndarray, np.ndarray]:
    """y and t of an element-wise loss: float arrays of one shape, not empty (a mean over no
    elements is NaN, and a loss of nothing is a caller's mistake)."""
    y = as_float_array(y, "y")
    t = as_float_array(t, "t")
    _same_shape(y, t)
    check_nonempty(y, "y")
    return y, t


def _probabilities(y: np.ndarray, t: np.ndarray) -> None:
    """Binary cross-entropy takes probabilities: y and t in [0, 1] (NaN passes, as NaN does
    everywhere here; outside [0, 1] a log of a negative number gives NaN silently)."""
    for name, a in (("y", y), ("t", t)):
        bad = np.argwhere((a < 0) | (a > 1))
        if bad.size:
            where = tuple(int(i) for i in bad[0])
            raise ValueError(
                f"{name}: expected probabilities in [0, 1], got {a[where]} at index {where} "
                f"({len(bad)} outside)"
            )


def _reduce(sq: np.ndarray, reduction: str) -> np.floating:
    check_choice(reduction, "reduction", REDUCTIONS)
    if reduction == "half_sum":
        return 0.5 * np.sum(sq)
    if reduction == "sum":
        return np.sum(sq)
    return np.mean(sq)


def _reduce_scale(n: int, reduction: str) -> float:
    return {"half_sum": 1.0, "sum": 2.0, "mean": 2.0 / n}[reduction]


def mean_squared_error(y: np.ndarray, t: np.ndarray, reduction: str = "half_sum") -> np.floating:
    """Squared error over all elements.

    * ``"half_sum"`` (default, the book): E = ½ Σ (y - t)²   → 0.0975 / 0.5975 on the seeds' example
    * ``"mean"``: E = (1/n) Σ (y - t)²   (the other form the seeds give)
    * ``"sum"``:  E = Σ (y - t)²
    """
    y, t = _pair(y, t)
    return _reduce((y - t) ** 2, reduction)


def mean_squared_error_grad(
    y: np.ndarray, t: np.ndarray, reduction: str = "half_sum"
) -> np.ndarray:
    """dE/dy = c (y - t) with c = 1 (half_sum), 2 (sum) or 2/n (mean)."""
    y, t = _pair(y, t)
    check_choice(reduction, "reduction", REDUCTIONS)
    return _reduce_scale(y.size, reduction) * (y - t)


def mean_absolute_error(y: np.ndarray, t: np.ndarray) -> np.floating:
    """E = (1/n) Σ |y - t| over all elements."""
    y, t = _pair(y, t)
    return np.mean(np.abs(y - t))


def mean_absolute_error_grad(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """dE/dy = sign(y - t) / n, with sign(0) = 0 (the subgradient torch also picks)."""
    y, t = _pair(y, t)
    return np.sign(y - t) / y.size


def _batch_view(y: np.ndarray) -> tuple[np.ndarray, bool]:
    if y.ndim == 1:
        return y.reshape(1, -1), True
    if y.ndim == 2:
        return y, False
    raise ValueError(f"y: expected a 1-D (K,) or 2-D (N, K) array, got shape {y.shape}")


def cross_entropy_error(y: np.ndarray, t: np.ndarray, delta: float = CEE_DELTA) -> np.floating:
    """E = -(1/N) Σ_n Σ_k t_nk log(y_nk + δ), δ = 1e-7 as in the book.

    ``y`` holds probabilities, (K,) or (N, K).  ``t`` is one-hot (or any distribution) of the
    same shape, or label indices of shape (N,), (N, 1) or scalar.  Unlike the book, soft labels
    are not silently argmaxed and (N, 1) labels do not broadcast into an N×N sum.
    Seeds' example: 0.510825457099338 (y1) and 2.302584092994546 (y2).
    """
    y = as_float_array(y, "y")
    y2, _ = _batch_view(y)
    t_arr, is_labels = check_targets(y.shape, t)
    delta = check_positive(delta, "delta", allow_zero=True)
    n = y2.shape[0]
    if is_labels:
        return -np.sum(np.log(y2[np.arange(n), t_arr] + delta)) / n
    t2 = t_arr.reshape(y2.shape)
    return -np.sum(t2 * np.log(y2 + delta)) / n


def cross_entropy_error_grad(y: np.ndarray, t: np.ndarray, delta: float = CEE_DELTA) -> np.ndarray:
    """dE/dy = -t / (N (y + δ)), same shape as y."""
    y = as_float_array(y, "y")
    y2, _ = _batch_view(y)
    t_arr, is_labels = check_targets(y.shape, t)
    delta = check_positive(delta, "delta", allow_zero=True)
    n = y2.shape[0]
    t2 = _one_hot(t_arr, y2.shape, y2.dtype) if is_labels else t_arr.reshape(y2.shape)
    return (-t2 / (n * (y2 + delta))).reshape(y.shape)


def _one_hot(labels: np.ndarray, shape: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    out = np.zeros(shape, dtype=dtype)
    out[np.arange(shape[0]), labels] = 1
    return out


def softmax_cross_entropy(logits: np.ndarray, t: np.ndarray) -> np.floating:
    """E = (1/N) Σ_n [logsumexp(a_n) - Σ_k t_nk a_nk]: cross_entropy_error(softmax(a), t), δ = 0.

    Computed by log-sum-exp, so it is exact (no δ) and finite for any finite logits; its gradient
    is exactly (softmax(a) - t)/N, which the book's backprop assumes.
    """
    a = as_float_array(logits, "logits")
    a2, _ = _batch_view(a)
    t_arr, is_labels = check_targets(a.shape, t)
    n = a2.shape[0]
    logp = log_softmax(a2)
    if is_labels:
        return -np.sum(logp[np.arange(n), t_arr]) / n
    return -np.sum(t_arr.reshape(a2.shape) * logp) / n


def softmax_cross_entropy_grad(logits: np.ndarray, t: np.ndarray) -> np.ndarray:
    """dE/da = (softmax(a) Σ_k t_k - t) / N; for one-hot or label targets, (softmax(a) - t)/N."""
    a = as_float_array(logits, "logits")
    a2, _ = _batch_view(a)
    t_arr, is_labels = check_targets(a.shape, t)
    n = a2.shape[0]
    y = softmax(a2)
    if is_labels:
        g = y.copy()
        g[np.arange(n), t_arr] -= 1
    else:
        t2 = t_arr.reshape(a2.shape)
        g = y * np.sum(t2, axis=-1, keepdims=True) - t2
    return (g / n).reshape(a.shape)


def binary_cross_entropy(y: np.ndarray, t: np.ndarray, delta: float = CEE_DELTA) -> np.floating:
    """E = -(1/n) Σ [t log(y + δ) + (1 - t) log(1 - y + δ)] over all elements, y in [0, 1]."""
    y, t = _pair(y, t)
    delta = check_positive(delta, "delta", allow_zero=True)
    _probabilities(y, t)
    return -np.mean(t * np.log(y + delta) + (1 - t) * np.log(1 - y + delta))


def binary_cross_entropy_grad(y: np.ndarray, t: np.ndarray, delta: float = CEE_DELTA) -> np.ndarray:
    """dE/dy = -(1/n) [t / (y + δ) - (1 - t) / (1 - y + δ)]."""
    y, t = _pair(y, t)
    delta = check_positive(delta, "delta", allow_zero=True)
    _probabilities(y, t)
    return -(t / (y + delta) - (1 - t) / (1 - y + delta)) / y.size
