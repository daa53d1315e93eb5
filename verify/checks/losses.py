"""Activations and losses, forward and backward, on typical and adversarial inputs.

Backward passes use a random incoming gradient, never a plain sum: softmax's VJP with a vector
of ones is exactly zero, so a sum would hide a broken softmax backward.  NaN and Inf must appear
at the same positions in the candidate as in the reference.
"""

from __future__ import annotations

import numpy as np

from ..cases import ACTIVATIONS, LOSS_TABLES, activation_table, loss_table, regression_cases
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
    for name in ACTIVATIONS:
        for case, x in activation_table(name, rng).items():
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
    # Every table is drawn before any incoming gradient, in LOSS_TABLES' order.
    tables = {name: loss_table(name, rng) for name in LOSS_TABLES}
    for name, cases in tables.items():
        for case, (y, t) in cases.items():
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
        y, t = (r32(a) for a in regression_cases(rng)["typical"])
        obs += _observe(ctx, f"mean_squared_error forward ({red})", "function", "typical",
                        lambda e, y=y, t=t, r=red: np.atleast_1d(
                            e.forward("mean_squared_error", y, t, reduction=r)))
    return obs
