"""Activations and losses, forward and backward, with the book's names, on tensors.

Every backward here is written by hand from its formula; the parity tests check each one
against ``reference_numpy.functions`` and against torch autograd.  Forwards are written so that
autograd through them gives the same derivative as the hand backward, also at the kinks
(σ'(0) = 1/4, ReLU'(0) = 0).

Inputs may be tensors (any device; results stay there) or, for convenience, array-likes, which
become CPU tensors (ints promoted to float64, as in NumPy).  Losses return 0-d tensors.
"""

from __future__ import annotations

import torch

from reference_numpy.functions import CEE_DELTA, REDUCTIONS

from ._validate import (
    as_float_tensor,
    as_tensor_like,
    check_choice,
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

Tensor = torch.Tensor

# --------------------------------------------------------------------------- activations


def step_function(x: Tensor) -> Tensor:
    """h(x) = 1 if x > 0 else 0 (int64 tensor, as in the book)."""
    x = as_float_tensor(x, "x")
    return (x > 0).to(torch.int64)


def sigmoid(x: Tensor) -> Tensor:
    """σ(x) = 1 / (1 + exp(-x)), evaluated without overflow.

    With e = exp(-|x|) ≤ 1: σ(x) = 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0.  The book's
    ``1/(1+np.exp(-x))`` overflows (with a RuntimeWarning) for x < -709.
    Here |x| is written x·s with s = ±1 held constant, so autograd gives σ'(0) = 1/4 (through
    ``abs`` it would give 0) while the values are those of exp(-|x|), bit for bit.
    """
    x = as_float_tensor(x, "x")
    s = torch.where(x >= 0, 1.0, -1.0).to(x.dtype)
    e = torch.exp(-(x * s))
    one = 1.0
    return torch.where(x >= 0, one / (one + e), e / (one + e))


def sigmoid_grad(x: Tensor) -> Tensor:
    """σ'(x) = σ(x)(1 - σ(x)); takes the pre-activation x, as the book's helper does."""
    s = sigmoid(x)
    return (1 - s) * s


def relu(x: Tensor) -> Tensor:
    """ReLU(x) = max(0, x); NaN stays NaN (torch.relu propagates it, as np.maximum does).

    torch.relu rather than torch.maximum(x, 0): their values agree, but maximum's autograd
    splits the gradient at the tie x = 0 (giving 1/2) while relu's gives 0.
    """
    x = as_float_tensor(x, "x")
    return torch.relu(x)


def relu_grad(x: Tensor) -> Tensor:
    """ReLU'(x) = 1 if x > 0 else 0.

    At the kink we take ReLU'(0) = 0, as the book's ``Relu`` layer and torch do (the book's
    standalone ``relu_grad`` says 1; that disagreement is a classic parity bug).  At NaN the
    comparison x > 0 is false, so this gives 0.  torch's autograd for relu differs there: its
    threshold_backward zeroes the gradient where the *output* is <= 0, which NaN is not, so the
    incoming gradient passes through (verify lists this as a known difference).
    """
    x = as_float_tensor(x, "x")
    return (x > 0).to(x.dtype)


def _scores(a: object) -> Tensor:
    """``a`` for (log-)softmax: at least 1-D with at least one class on the last axis (a max
    over no classes has no value; a scalar has no axis to normalise over)."""
    a = as_float_tensor(a, "a")
    if a.ndim == 0:
        raise ValueError(
            "a: expected at least 1 dimension (scores over the last axis), got a scalar"
        )
    if a.shape[-1] == 0:
        raise ValueError(
            f"a: expected at least one score on the last axis, got shape {tuple(a.shape)}"
        )
    return a


def softmax(a: Tensor) -> Tensor:
    """softmax(a)_k = exp(a_k - max a) / Σ_j exp(a_j - max a), over the last axis.

    Subtracting the max changes nothing mathematically but keeps exp from overflowing:
    ``softmax([1010, 1000, 990])`` is finite.  (The max is detached: softmax does not depend on
    it, so autograd need not route a gradient through it.)
    """
    a = _scores(a)
    shifted = a - torch.amax(a, dim=-1, keepdim=True).detach()
    e = torch.exp(shifted)
    return e / torch.sum(e, dim=-1, keepdim=True)


def log_softmax(a: Tensor) -> Tensor:
    """log softmax(a) = a - logsumexp(a), over the last axis; exact where softmax underflows."""
    a = _scores(a)
    m = torch.amax(a, dim=-1, keepdim=True).detach()
    return a - m - torch.log(torch.sum(torch.exp(a - m), dim=-1, keepdim=True))


def softmax_backward(y: Tensor, dout: Tensor) -> Tensor:
    """Vector-Jacobian product of softmax: dL/da = y ⊙ (dout - Σ_k dout_k y_k), y = softmax(a)."""
    y = as_float_tensor(y, "y")
    dout = as_float_tensor(as_tensor_like(dout, y, "dout"), "dout")
    _same_shape(y, dout, "y", "dout")
    return y * (dout - torch.sum(dout * y, dim=-1, keepdim=True))


# --------------------------------------------------------------------------- losses


def _same_shape(y: Tensor, t: Tensor, ny: str = "y", nt: str = "t") -> None:
    if y.shape != t.shape:
        raise ValueError(
            f"{nt}: expected the shape of {ny}, {tuple(y.shape)}, got {tuple(t.shape)}"
        )


def _pair(y: object, t: object) -> tuple[Tensor, Tensor]:
    """y and t as float tensors on y's device (t may be an array-like; a tensor elsewhere is
    refused)."""
    y = as_float_tensor(y, "y")
    t = as_float_tensor(as_tensor_like(t, y, "t"), "t")
    _same_shape(y, t)
    if y.numel() == 0:
        # A mean over no elements is NaN, and a loss of nothing is a caller's mistake.
        raise ValueError(
            f"y: expected at least one element, got an empty array of shape {tuple(y.shape)}"
        )
    return y, t


def _probabilities(y: Tensor, t: Tensor) -> None:
    """Binary cross-entropy takes probabilities: y and t in [0, 1] (NaN passes, as NaN does
    everywhere here; outside [0, 1] a log of a negative number gives NaN silently)."""
    for name, a in (("y", y), ("t", t)):
        out = (a < 0) | (a > 1)
        if bool(out.any()):
            where = tuple(int(i) for i in torch.nonzero(out)[0])
            raise ValueError(
                f"{name}: expected probabilities in [0, 1], got {a[where].item()} at index "
                f"{where} ({int(out.sum())} outside)"
            )


def _reduce(sq: Tensor, reduction: str) -> Tensor:
    check_choice(reduction, "reduction", REDUCTIONS)
    if reduction == "half_sum":
        return 0.5 * torch.sum(sq)
    if reduction == "sum":
        return torch.sum(sq)
    return torch.mean(sq)


def _reduce_scale(n: int, reduction: str) -> float:
    return {"half_sum": 1.0, "sum": 2.0, "mean": 2.0 / n}[reduction]


def mean_squared_error(y: Tensor, t: Tensor, reduction: str = "half_sum") -> Tensor:
    """Squared error over all elements.

    * ``"half_sum"`` (default, the book): E = ½ Σ (y - t)²   → 0.0975 / 0.5975 on the seeds' example
    * ``"mean"``: E = (1/n) Σ (y - t)²   (the other form the seeds give)
    * ``"sum"``:  E = Σ (y - t)²
    """
    y, t = _pair(y, t)
    return _reduce((y - t) ** 2, reduction)


def mean_squared_error_grad(y: Tensor, t: Tensor, reduction: str = "half_sum") -> Tensor:
    """dE/dy = c (y - t) with c = 1 (half_sum), 2 (sum) or 2/n (mean)."""
    y, t = _pair(y, t)
    check_choice(reduction, "reduction", REDUCTIONS)
    return _reduce_scale(y.numel(), reduction) * (y - t)


def mean_absolute_error(y: Tensor, t: Tensor) -> Tensor:
    """E = (1/n) Σ |y - t| over all elements."""
    y, t = _pair(y, t)
    return torch.mean(torch.abs(y - t))


def mean_absolute_error_grad(y: Tensor, t: Tensor) -> Tensor:
    """dE/dy = sign(y - t) / n, with sign(0) = 0 (the subgradient torch also picks).

    NaN stays NaN, as with np.sign (torch.sign(nan) is 0, so it is put back explicitly).
    """
    y, t = _pair(y, t)
    d = y - t
    return torch.where(torch.isnan(d), d, torch.sign(d)) / y.numel()


def _batch_view(y: Tensor) -> tuple[Tensor, bool]:
    if y.ndim == 1:
        return y.reshape(1, -1), True
    if y.ndim == 2:
        return y, False
    raise ValueError(f"y: expected a 1-D (K,) or 2-D (N, K) array, got shape {tuple(y.shape)}")


def _targets(y: Tensor, t: object) -> tuple[Tensor, bool]:
    """check_targets on y's device: array-like targets are moved there, tensors must be there."""
    return check_targets(tuple(y.shape), as_tensor_like(t, y, "t"))


def _take(logp: Tensor, labels: Tensor) -> Tensor:
    """logp[n, labels[n]] for each row n (gather: no host sync, deterministic on CUDA)."""
    return torch.gather(logp, -1, labels.reshape(-1, 1)).reshape(-1)


def cross_entropy_error(y: Tensor, t: Tensor, delta: float = CEE_DELTA) -> Tensor:
    """E = -(1/N) Σ_n Σ_k t_nk log(y_nk + δ), δ = 1e-7 as in the book.

    ``y`` holds probabilities, (K,) or (N, K).  ``t`` is one-hot (or any distribution) of the
    same shape, or label indices of shape (N,), (N, 1) or scalar.  Unlike the book, soft labels
    are not silently argmaxed and (N, 1) labels do not broadcast into an N×N sum.
    Seeds' example: 0.510825457099338 (y1) and 2.302584092994546 (y2).
    """
    y = as_float_tensor(y, "y")
    y2, _ = _batch_view(y)
    t_arr, is_labels = _targets(y, t)
    delta = check_positive(delta, "delta", allow_zero=True)
    n = y2.shape[0]
    if is_labels:
        return -torch.sum(torch.log(_take(y2, t_arr) + delta)) / n
    t2 = t_arr.reshape(y2.shape)
    return -torch.sum(t2 * torch.log(y2 + delta)) / n


def cross_entropy_error_grad(y: Tensor, t: Tensor, delta: float = CEE_DELTA) -> Tensor:
    """dE/dy = -t / (N (y + δ)), same shape as y."""
    y = as_float_tensor(y, "y")
    y2, _ = _batch_view(y)
    t_arr, is_labels = _targets(y, t)
    delta = check_positive(delta, "delta", allow_zero=True)
    n = y2.shape[0]
    t2 = _one_hot(t_arr, y2.shape, y2.dtype) if is_labels else t_arr.reshape(y2.shape)
    return (-t2 / (n * (y2 + delta))).reshape(y.shape)


def _one_hot(labels: Tensor, shape: tuple[int, int], dtype: torch.dtype) -> Tensor:
    """Rows of zeros with a 1 at each label, by comparison (elementwise: graph-safe, exact)."""
    classes = torch.arange(shape[1], device=labels.device)
    return (classes[None, :] == labels.reshape(-1, 1)).to(dtype)


def softmax_cross_entropy(logits: Tensor, t: Tensor) -> Tensor:
    """E = (1/N) Σ_n [logsumexp(a_n) - Σ_k t_nk a_nk]: cross_entropy_error(softmax(a), t), δ = 0.

    Computed by log-sum-exp, so it is exact (no δ) and finite for any finite logits; its gradient
    is exactly (softmax(a) - t)/N, which the book's backprop assumes.
    """
    a = as_float_tensor(logits, "logits")
    a2, _ = _batch_view(a)
    t_arr, is_labels = _targets(a, t)
    n = a2.shape[0]
    logp = log_softmax(a2)
    if is_labels:
        return -torch.sum(_take(logp, t_arr)) / n
    return -torch.sum(t_arr.reshape(a2.shape) * logp) / n


def softmax_cross_entropy_grad(logits: Tensor, t: Tensor) -> Tensor:
    """dE/da = (softmax(a) Σ_k t_k - t) / N; for one-hot or label targets, (softmax(a) - t)/N."""
    a = as_float_tensor(logits, "logits")
    a2, _ = _batch_view(a)
    t_arr, is_labels = _targets(a, t)
    n = a2.shape[0]
    y = softmax(a2)
    if is_labels:
        g = y - _one_hot(t_arr, a2.shape, y.dtype)  # y[n, t_n] - 1; y - 0 elsewhere, exactly
    else:
        t2 = t_arr.reshape(a2.shape)
        g = y * torch.sum(t2, dim=-1, keepdim=True) - t2
    return (g / n).reshape(a.shape)


def binary_cross_entropy(y: Tensor, t: Tensor, delta: float = CEE_DELTA) -> Tensor:
    """E = -(1/n) Σ [t log(y + δ) + (1 - t) log(1 - y + δ)] over all elements, y in [0, 1]."""
    y, t = _pair(y, t)
    delta = check_positive(delta, "delta", allow_zero=True)
    _probabilities(y, t)
    return -torch.mean(t * torch.log(y + delta) + (1 - t) * torch.log(1 - y + delta))


def binary_cross_entropy_grad(y: Tensor, t: Tensor, delta: float = CEE_DELTA) -> Tensor:
    """dE/dy = -(1/n) [t / (y + δ) - (1 - t) / (1 - y + δ)]."""
    y, t = _pair(y, t)
    delta = check_positive(delta, "delta", allow_zero=True)
    _probabilities(y, t)
    return -(t / (y + delta) - (1 - t) / (1 - y + delta)) / y.numel()
