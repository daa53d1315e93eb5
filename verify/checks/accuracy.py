"""``TwoLayerNet.accuracy`` and the counting ``train`` evaluates with, against their definition.

accuracy = (1/N) Σ [argmax_k a2[n, k] = label[n]], the first index taken at a tie, with labels
given as class indices or one-hot rows; ``count_correct_unchecked`` (what ``train`` records)
counts the same in ``EVAL_BLOCK``-row blocks, so a last, partial block must count too.

The definition is evaluated here in float64.  A float32 engine may legitimately rank two logits
the other way when they lie within its rounding error, so rows whose top-two margin is inside
the forward error bound (below) are left out of the comparison, and the rest must count exactly.
Exact ties are built so they stay exact in any precision (W2 = 0, so the logits are b2 itself).
"""

from __future__ import annotations

import numpy as np

from reference_numpy.runrules import EVAL_BLOCK

from ..observe import Observation
from .context import Context, r32

CHECK = "TwoLayerNet accuracy"
COUNT_CHECK = "TwoLayerNet count_correct_unchecked (train's evaluation, in blocks)"


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def logits(p: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    return _sigmoid(x @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]


def forward_error_bound(p: dict[str, np.ndarray], x: np.ndarray, unit_roundoff: float
                        ) -> np.ndarray:
    """A bound on |fl(a2) - a2| per row, for a forward pass in a precision of unit roundoff u.

    Higham's dot-product bound |fl(Σ a_i b_i) - Σ a_i b_i| <= γ_n Σ|a_i b_i|, γ_n = n u/(1 - n u),
    for a1 = x W1 + b1 (n = inputs + 1); the sigmoid's slope is at most 1/4 and its evaluation
    adds a few units (4 u allowed); then a2 = h W2 + b2 (n = hidden + 1) adds its own γ term and
    carries h's error through |W2|.  Returns the largest bound over the classes of each row.
    """
    def gamma(n: int) -> float:
        return n * unit_roundoff / (1 - n * unit_roundoff)

    a1_abs = np.abs(x) @ np.abs(p["W1"]) + np.abs(p["b1"])
    h = _sigmoid(x @ p["W1"] + p["b1"])
    h_err = 0.25 * gamma(x.shape[1] + 1) * a1_abs + 4 * unit_roundoff
    a2_err = (gamma(h.shape[1] + 1) * (np.abs(h) @ np.abs(p["W2"]) + np.abs(p["b2"]))
              + h_err @ np.abs(p["W2"]))
    return a2_err.max(axis=1)


def _unambiguous(p: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Rows whose top-two margin exceeds twice float32's forward error bound."""
    a2 = logits(p, x)
    top2 = np.sort(a2, axis=1)[:, -2:]
    bound = forward_error_bound(p, x, float(np.finfo(np.float32).eps) / 2)
    return (top2[:, 1] - top2[:, 0]) > 2 * bound


def _cases(ctx: Context) -> list[tuple[str, dict[str, np.ndarray], np.ndarray, np.ndarray]]:
    (x, t), _ = ctx.mnist[0]
    rng = ctx.rng(80)
    n = EVAL_BLOCK + 37  # two blocks, the second partial
    start = int(rng.integers(0, len(x) - n))
    xs, ts = r32(x[start:start + n].astype(np.float64)), t[start:start + n]
    p = {"W1": r32(0.05 * rng.standard_normal((784, 50))), "b1": r32(0.1 * rng.standard_normal(50)),
         "W2": r32(0.5 * rng.standard_normal((50, 10))), "b2": r32(0.1 * rng.standard_normal(10))}
    keep = _unambiguous(p, xs)
    cases = [(f"{int(keep.sum())} MNIST rows over {n // EVAL_BLOCK + 1} blocks "
              f"({n - int(keep.sum())} within float32 rounding of a tie left out)",
              p, xs[keep], ts[keep])]
    # Exact ties: W2 = 0 gives logits = b2 in every precision; classes 3 and 7 tie on top, so
    # the first (3) is predicted for every row.
    tied = dict(p, W2=np.zeros_like(p["W2"]), b2=np.where(np.isin(np.arange(10), (3, 7)), 1.0,
                                                         0.0))
    tie_labels = np.where(np.arange(n) % 2 == 0, 3, 7)
    cases.append(("ties at the argmax (classes 3 and 7): the first index", tied, xs, tie_labels))
    return cases


def observe(ctx: Context) -> list[Observation]:
    obs: list[Observation] = []
    for case, p, x, labels in _cases(ctx):
        predicted = np.argmax(logits(p, x), axis=1)
        if case.startswith("ties"):
            predicted = np.full(len(x), 3)  # the definition, not a computation that could tie
        correct = int(np.count_nonzero(predicted == labels))
        one_hot = np.eye(10)[labels]
        for eng in [ctx.reference, *ctx.engines]:
            net = eng.make_net(p)
            for targets, what in ((labels, "labels"), (one_hot, "one-hot")):
                t_eng = eng.to_labels(targets) if what == "labels" else eng.to(targets)
                got = float(net.accuracy(eng.to(x), t_eng))
                obs.append(Observation(CHECK, "gradients", eng.name, "exact", "data",
                                       f"{case}, {what}", np.array([got]),
                                       np.array([correct / len(x)])))
            got = float(net.count_correct_unchecked(eng.to(x), eng.to_labels(labels)))
            obs.append(Observation(COUNT_CHECK, "gradients", eng.name, "exact", "data", case,
                                   np.array([got]), np.array([float(correct)])))
    return obs
