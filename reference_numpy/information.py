"""Information content, expectation, entropy: the ideas the study notes build cross-entropy from.

The notes define information as surprise, -log p(x); expectation as E[x] = Σ x p(x); entropy as
the expected information, H(p) = Σ p(x) log(1/p(x)); and the cross-entropy error as the
information of q weighted by the probabilities of p, H(p, q) = Σ p(x) log(1/q(x)).  The gap
between the two is the Kullback-Leibler divergence, so H(p, q) = H(p) + KL(p || q) ≥ H(p).

Distributions lie along the last axis; leading axes are a batch, and each function returns one
value per distribution (a 0-d array for a single one).  Logarithms are natural (nats) unless
``base`` is given (2 for bits).  By the limit p log p → 0, a term with p(x) = 0 contributes 0.
"""

from __future__ import annotations

import math

import numpy as np

from ._validate import as_float_array, check_positive

__all__ = [
    "information_content",
    "expectation",
    "entropy",
    "cross_entropy",
    "kl_divergence",
]

# A probability vector may sum to 1 only up to rounding: summing n float64 terms errs by at most
# n·eps·Σ|p| (Higham, sum of floats), so 1e-6 admits vectors of ~10⁹ float64 terms or ~8 float32
# terms at full rounding, and still refuses an unnormalised vector (the notes' players' 0.9/0.1
# pass, a typo of 0.9/0.2 does not).
_SUM_TOLERANCE = 1e-6


def _log_scale(base: float | None) -> float:
    if base is None:
        return 1.0
    check_positive(base, "base")
    if base == 1:
        raise ValueError("base: expected a positive number other than 1, got 1")
    return 1.0 / math.log(base)


def _in_unit_interval(arr: np.ndarray, name: str) -> None:
    """Refuse any entry outside [0, 1] (NaN included), naming the first one."""
    outside = ~((arr >= 0) & (arr <= 1))
    if np.any(outside):
        bad = tuple(int(i) for i in np.argwhere(outside)[0])
        raise ValueError(f"{name}: expected probabilities in [0, 1], got {arr[bad]} at {bad}")


def _probabilities(p: object, name: str) -> np.ndarray:
    """``p`` as a float array of distributions along the last axis, refused unless valid."""
    arr = as_float_array(p, name)
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise ValueError(
            f"{name}: expected probabilities along a non-empty last axis, got shape {arr.shape}"
        )
    _in_unit_interval(arr, name)
    sums = arr.sum(axis=-1)
    off = np.abs(sums - 1.0) > _SUM_TOLERANCE
    if np.any(off):
        where = tuple(int(i) for i in np.argwhere(np.atleast_1d(off))[0])
        total = np.atleast_1d(sums)[where]
        raise ValueError(
            f"{name}: expected each distribution (last axis) to sum to 1, "
            f"got {total!r} for distribution {where if arr.ndim > 1 else 0}"
        )
    return arr


def _same_shape(p: np.ndarray, q: np.ndarray) -> None:
    if p.shape != q.shape:
        raise ValueError(f"q: expected the shape of p {p.shape}, got {q.shape}")


def information_content(p: object, base: float | None = None) -> np.ndarray:
    """I(x) = log(1/p(x)) = -log p(x): the surprise of an outcome of probability p (elementwise).

    A certain outcome (p = 1) carries 0; an impossible one (p = 0) carries +inf.
    """
    arr = as_float_array(p, "p")
    _in_unit_interval(arr, "p")
    with np.errstate(divide="ignore"):
        return -np.log(arr) * _log_scale(base)


def expectation(x: object, p: object) -> np.ndarray:
    """E[x] = Σ x(i) p(i): the value a random variable takes on average (along the last axis).

    The notes' players: a steady one scoring 5 with probability 0.9 is expected to score 4.5, an
    erratic one scoring 9 with probability 0.1 only 0.9.
    """
    probs = _probabilities(p, "p")
    values = as_float_array(x, "x")
    if values.shape != probs.shape:
        raise ValueError(f"x: expected the shape of p {probs.shape}, got {values.shape}")
    return np.sum(values * probs, axis=-1)


def entropy(p: object, base: float | None = None) -> np.ndarray:
    """H(p) = Σ p(x) log(1/p(x)): the expected information content (0 log 0 taken as 0)."""
    probs = _probabilities(p, "p")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(probs > 0, -probs * np.log(probs), 0.0)
    return np.sum(terms, axis=-1) * _log_scale(base)


def cross_entropy(p: object, q: object, base: float | None = None) -> np.ndarray:
    """H(p, q) = Σ p(x) log(1/q(x)): q's surprise weighted by p's probabilities.

    With p a one-hot label and q a network's output this is the book's ``cross_entropy_error``
    with delta = 0; it is +inf when q gives 0 to an outcome that p does not.
    """
    probs = _probabilities(p, "p")
    model = _probabilities(q, "q")
    _same_shape(probs, model)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(probs > 0, -probs * np.log(model), 0.0)
    return np.sum(terms, axis=-1) * _log_scale(base)


def kl_divergence(p: object, q: object, base: float | None = None) -> np.ndarray:
    """KL(p || q) = Σ p(x) log(p(x)/q(x)) = H(p, q) - H(p) ≥ 0, and 0 only when q = p."""
    probs = _probabilities(p, "p")
    model = _probabilities(q, "q")
    _same_shape(probs, model)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(probs > 0, probs * (np.log(probs) - np.log(model)), 0.0)
    return np.sum(terms, axis=-1) * _log_scale(base)
