"""The inputs every function is checked on: one table per function, defined once.

``python -m verify`` (``checks/losses.py``) and the oracle (``verify.api``) both draw their cases
from here, so a case added for one is seen by the other.  A table holds typical inputs (judged
with the tight bound) and the chapter's adversarial ones (huge logits, ties, exact zeros, zero
probabilities, NaN and Inf), already transformed for the function they feed (logits for the
exact cross-entropy, informative rather than saturated inputs for sigmoid and ReLU).  Every
function of ``engines.FUNCTIONS`` must have a table: a missing one is an error at import, never
a silent default.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .engines import FUNCTIONS

__all__ = [
    "ACTIVATIONS",
    "LOSS_TABLES",
    "activation_cases",
    "activation_table",
    "bce_cases",
    "loss_cases",
    "loss_table",
    "oracle_cases",
    "regression_cases",
]

Cases = dict[str, tuple[np.ndarray, np.ndarray]]


def activation_cases(rng: np.random.Generator) -> dict[str, np.ndarray]:
    typical = 3 * rng.standard_normal((6, 10))
    large = np.array([[1010.0, 1000.0, 990.0, -1000.0], [-1010.0, -1000.0, -990.0, 0.0],
                      [800.0, -800.0, 1.0, 0.5]])
    zeros = np.where(rng.random((5, 8)) < 0.4, 0.0, rng.standard_normal((5, 8)))
    ties = np.array([[2.0, 2.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0], [-1.0, 3.0, 3.0, 3.0]])
    nonfinite = rng.standard_normal((4, 6))
    nonfinite[0, 1], nonfinite[1, 2], nonfinite[2, 3], nonfinite[3, 0] = (np.nan, np.inf,
                                                                        -np.inf, np.nan)
    return {"typical": typical, "large logits": large, "exact zeros": zeros, "ties": ties,
            "NaN/Inf": nonfinite}


def loss_cases(rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(scores, targets) per case; scores are probabilities for the probability losses."""
    n, k = 8, 10
    logits = 2 * rng.standard_normal((n, k))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = rng.integers(0, k, n)
    sparse = probs.copy()
    sparse[np.arange(n), labels] = 0.0  # the true class gets probability 0: log(δ)
    sparse /= sparse.sum(1, keepdims=True)
    return {
        "typical, labels": (probs, labels),
        "typical, one-hot": (probs, np.eye(k)[labels]),
        "zero probability at the label": (sparse, labels),
        "ties": (np.full((n, k), 1.0 / k), labels),
        "large logits": (np.vstack([[1010.0, 1000.0, 990.0] + [0.0] * 7] * n), labels),
    }


def regression_cases(rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    y = rng.standard_normal((5, 4))
    t = rng.standard_normal((5, 4))
    nonfinite = y.copy()
    nonfinite[0, 0], nonfinite[2, 3] = np.nan, np.inf
    ties = t.copy()
    return {"typical": (y, t), "y equals t": (ties, ties), "NaN/Inf": (nonfinite, t)}


def bce_cases(rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    y = rng.uniform(0.01, 0.99, (6, 3))
    t = (rng.random((6, 3)) > 0.5).astype(float)
    edge = y.copy()
    edge[0] = [0.0, 1.0, 0.5]
    return {"typical": (y, t), "y at 0 and 1": (edge, t)}


def _softmax_cross_entropy_cases(rng: np.random.Generator) -> Cases:
    """loss_cases without the zero-probability case (logits have none), typical scores as
    logits: the exact loss takes logits, log p of a probability row is one."""
    return {k: (np.log(y) if k.startswith("typical") else y, t)
            for k, (y, t) in loss_cases(rng).items() if "zero probability" not in k}


#: Loss -> its case table, in the order verify draws them from one generator.
LOSS_TABLES: dict[str, Callable[[np.random.Generator], Cases]] = {
    "cross_entropy_error": loss_cases,
    "softmax_cross_entropy": _softmax_cross_entropy_cases,
    "mean_squared_error": regression_cases,
    "mean_absolute_error": regression_cases,
    "binary_cross_entropy": bce_cases,
}
#: The activations, in FUNCTIONS' order.
ACTIVATIONS = tuple(n for n, spec in FUNCTIONS.items() if spec["kind"] == "activation")

_untabled = {n for n, spec in FUNCTIONS.items() if spec["kind"] == "loss"} - set(LOSS_TABLES)
if _untabled:  # pragma: no cover - a new loss without its cases
    raise AssertionError(f"losses without a case table in verify/cases.py: {sorted(_untabled)}")


def activation_table(name: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The cases of activation ``name``: large logits scaled down for all but softmax and
    log_softmax, so sigmoid and ReLU cases stay informative rather than saturated."""
    if name not in ACTIVATIONS:
        raise KeyError(f"no activation {name!r}: expected one of {', '.join(ACTIVATIONS)}")
    table = activation_cases(rng)
    if name not in ("softmax", "log_softmax"):
        table["large logits"] = table["large logits"] / 10
    return table


def loss_table(name: str, rng: np.random.Generator) -> Cases:
    """The (scores, targets) cases of loss ``name``."""
    if name not in LOSS_TABLES:
        raise KeyError(f"no loss {name!r}: expected one of {', '.join(LOSS_TABLES)}")
    return LOSS_TABLES[name](rng)


def _target_shape_cases(reference: str, rng: np.random.Generator) -> dict[str, tuple]:
    """The chapter's target and batch shapes, each a documented pitfall (typical values).

    Labels shaped (N, 1) - the book's ``y[np.arange(N), t]`` broadcasts them into an N×N sum;
    soft targets - an implementation that argmaxes them, or indexes with them, is wrong; a 1-D
    score vector with a scalar label or one-hot vector - the book reshapes it to a batch of one;
    a batch of one.  Case names carry the shapes, so a failure names the target shape.
    """
    n, k = 6, 5
    logits = 2 * rng.standard_normal((n, k))
    labels = rng.integers(0, k, n)
    soft = rng.dirichlet(np.ones(k), n)
    one_logits = 2 * rng.standard_normal(k)
    one_label = int(rng.integers(0, k))

    def scores(a: np.ndarray) -> np.ndarray:
        if reference == "softmax_cross_entropy":
            return a
        e = np.exp(a - a.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    table = {
        f"labels shaped (N, 1) = {(n, 1)}": (logits, labels.reshape(n, 1)),
        f"soft targets shaped {(n, k)}": (logits, soft),
        f"1-D scores {(k,)}, scalar label": (one_logits, np.array(one_label)),
        f"1-D scores {(k,)}, one-hot {(k,)}": (one_logits, np.eye(k)[one_label]),
        f"batch of one {(1, k)}, labels {(1,)}": (one_logits[None], np.array([one_label])),
    }
    out = {name: (scores(a), t, False) for name, (a, t) in table.items()}
    # Ties at the argmax with one-hot targets (an argmax of the scores picks the wrong class),
    # and the non-finite inputs the activations' tables hold: NaN, and +Inf where a loss has
    # one value for it (an Inf logit makes every formula NaN; an Inf probability a -Inf loss).
    tie = np.array([[2.0, 2.0, 1.0, 0.0, 0.0], [0.0, 3.0, 3.0, 3.0, 1.0]])
    tie_t = np.eye(k)[[1, 3]]
    nan = scores(logits[:3]).copy()
    nan[1, labels[1]] = np.nan
    out["ties at the argmax, one-hot"] = (scores(tie), tie_t, True)
    out["NaN in a row"] = (nan, labels[:3], True)
    if reference == "softmax_cross_entropy":
        inf = logits[:2].copy()
        inf[0, 0] = np.inf
        out["+Inf logit"] = (inf, labels[:2], True)
    else:
        inf = scores(logits[:2]).copy()
        inf[0, labels[0]] = np.inf
        out["+Inf at the label"] = (inf, labels[:2], True)
    return out


def _axis_cases(rng: np.random.Generator) -> dict[str, tuple]:
    """softmax over the last axis of a 1-D and a 3-D input (catches a hard-coded axis=1)."""
    return {"1-D input (7,)": (3 * rng.standard_normal(7), None, False),
            "3-D input (2, 3, 4), last axis": (3 * rng.standard_normal((2, 3, 4)), None, False)}


def _bce_nonfinite(rng: np.random.Generator) -> dict[str, tuple]:
    y = rng.uniform(0.01, 0.99, (3, 2))
    y[1, 0] = np.nan
    return {"NaN in y": (y, (rng.random((3, 2)) > 0.5).astype(float), True)}


def oracle_cases(name: str, rng: np.random.Generator) -> dict[str, tuple]:
    """The cases the oracle (verify.api) adds to a function's table: {name: (x, t, adversarial)}.

    The chapter's shapes (1-D and 3-D softmax inputs; target shapes of the cross-entropies) and
    the adversarial inputs a loss's table lacks (ties with one-hot targets, NaN, +Inf).  Kept
    apart from the tables because ``python -m verify`` compares two engines that agree on them
    by construction; the oracle's user code is where they go wrong.
    """
    if name in ("softmax", "log_softmax"):
        return _axis_cases(rng)
    if name in ("cross_entropy_error", "softmax_cross_entropy"):
        return _target_shape_cases(name, rng)
    if name == "binary_cross_entropy":
        return _bce_nonfinite(rng)
    return {}
