"""Activations and losses, forward and backward, on typical and adversarial inputs.

Backward passes use a random incoming gradient, never a plain sum: softmax's VJP with a vector
of ones is exactly zero, so a sum would hide a broken softmax backward.  NaN and Inf must appear
at the same positions in the candidate as in the reference.
"""

from __future__ import annotations

import numpy as np

from ..engines import FUNCTIONS
from ..observe import Observation
from .context import Context, r32

GROUP = "losses"

#: (function, case) pairs where torch autograd legitimately differs from the reference, with the
#: reason.  They are left out of the autograd comparison and listed in the report's environment.
KNOWN_AUTOGRAD_DIFFERENCES = {
    ("mean_absolute_error", "NaN/Inf"): "torch.abs backward uses sgn(NaN) = 0, so autograd "
    "gives 0 where the gradient is undefined; NumPy's and torch's hand-written backward give NaN",
    ("relu", "NaN/Inf"): "torch.relu backward zeroes the gradient where the output is <= 0; a NaN "
    "output is not, so autograd passes the incoming gradient at NaN inputs, where the "
    "hand-written ReLU' (x > 0) gives 0",
}


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


def _regression_cases(rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    y = rng.standard_normal((5, 4))
    t = rng.standard_normal((5, 4))
    nonfinite = y.copy()
    nonfinite[0, 0], nonfinite[2, 3] = np.nan, np.inf
    ties = t.copy()
    return {"typical": (y, t), "y equals t": (ties, ties), "NaN/Inf": (nonfinite, t)}


def _bce_cases(rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    y = rng.uniform(0.01, 0.99, (6, 3))
    t = (rng.random((6, 3)) > 0.5).astype(float)
    edge = y.copy()
    edge[0] = [0.0, 1.0, 0.5]
    return {"typical": (y, t), "y at 0 and 1": (edge, t)}


def _known_difference(ctx: Context, name: str, case: str) -> bool:
    """Whether autograd is left out for this case; if so, recorded for the report."""
    known = KNOWN_AUTOGRAD_DIFFERENCES.get((name, case))
    if known:
        ctx.known_differences[f"{name} autograd, {case}"] = known
    return known is not None


def _observe(ctx: Context, check: str, kind: str, case: str, fn, *args,
             ref_fn=None) -> list[Observation]:
    """Run ``fn`` on every engine (skipping None results) and compare with ``ref_fn`` (default
    ``fn``) on the reference."""
    # Typical inputs get the tight bound; adversarial ones (huge logits, ties, exact zeros,
    # NaN/Inf, probabilities at 0 or 1) are ill-conditioned in float32, so their noise is
    # measured separately instead of loosening the typical bound.
    if not case.startswith("typical"):
        kind = f"{kind}_adversarial"
    args = tuple(r32(a) for a in args)
    ref = (ref_fn or fn)(ctx.reference, *args)
    out = []
    for eng in ctx.engines:
        got = fn(eng, *args)
        if got is None:
            continue
        out.append(Observation(check, GROUP, eng.name, eng.tolerance_class, kind, case, got, ref))
    return out


def observe(ctx: Context) -> list[Observation]:
    rng = ctx.rng(1)
    obs: list[Observation] = []
    for name in ("sigmoid", "relu", "softmax", "log_softmax", "step_function"):
        for case, x in activation_cases(rng).items():
            if name != "softmax" and name != "log_softmax" and case == "large logits":
                x = x / 10  # keep sigmoid/relu cases informative rather than saturated
            x = r32(x)
            obs += _observe(ctx, f"{name} forward", "function", case,
                            lambda e, x=x, n=name: e.forward(n, x))
            if FUNCTIONS[name]["grad"] is None:
                continue
            g = r32(rng.standard_normal(x.shape))
            obs += _observe(ctx, f"{name} backward (hand-written)", "function", case,
                            lambda e, x=x, g=g, n=name: e.hand_backward(n, x, g))
            if _known_difference(ctx, name, case):
                continue
            obs += _observe(ctx, f"{name} backward (autograd)", "function", case,
                            lambda e, x=x, g=g, n=name: (e.autograd_backward(n, x, g)
                                                         if e.framework == "torch" else None),
                            ref_fn=lambda e, x=x, g=g, n=name: e.hand_backward(n, x, g))
    tables = {
        "cross_entropy_error": loss_cases(rng),
        "softmax_cross_entropy": {k: v for k, v in loss_cases(rng).items()
                                  if "zero probability" not in k},
        "mean_squared_error": _regression_cases(rng),
        "mean_absolute_error": _regression_cases(rng),
        "binary_cross_entropy": _bce_cases(rng),
    }
    for name, cases in tables.items():
        for case, (y, t) in cases.items():
            if name == "softmax_cross_entropy" and case.startswith("typical"):
                y = np.log(y)  # logits for the exact loss
            y, t = r32(y), r32(t)
            obs += _observe(ctx, f"{name} forward", "function", case,
                            lambda e, y=y, t=t, n=name: np.atleast_1d(e.forward(n, y, t)))
            g = float(r32(rng.standard_normal()))
            obs += _observe(ctx, f"{name} backward (hand-written)", "function", case,
                            lambda e, y=y, t=t, g=g, n=name: e.hand_backward(n, y, g, t))
            if _known_difference(ctx, name, case):
                continue
            obs += _observe(ctx, f"{name} backward (autograd)", "function", case,
                            lambda e, y=y, t=t, g=g, n=name: (e.autograd_backward(n, y, g, t)
                                                              if e.framework == "torch"
                                                              else None),
                            ref_fn=lambda e, y=y, t=t, g=g, n=name: e.hand_backward(n, y, g, t))
    for red in ("sum", "mean"):
        y, t = (r32(a) for a in _regression_cases(rng)["typical"])
        obs += _observe(ctx, f"mean_squared_error forward ({red})", "function", "typical",
                        lambda e, y=y, t=t, r=red: np.atleast_1d(
                            e.forward("mean_squared_error", y, t, reduction=r)))
    return obs
