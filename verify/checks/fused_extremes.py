"""The fast path's step at extreme logits: what ``train`` runs by default must stay exact where
softmax saturates.

The free-running curves hold the fused step to the reference path on the book's run, whose
logits stay within a few units; there, a softmax without its max shift or a loss without
log-sum-exp gives the same numbers.  Here the logits reach about ±2,000 (b2 ~ N(0, 500²)), and
each engine's ``fastpath.fused_loss`` and ``fastpath.fused_sgd_step`` are compared with the float64
reference's eager loss and its ``p - lr ∇L``.
"""

from __future__ import annotations

import numpy as np

from reference_numpy.networks import PARAM_NAMES

from ..observe import Observation
from .context import Context, r32

GROUP = "gradients"
LR = 0.1
ROWS = 20


def extreme_case(x: np.ndarray, t: np.ndarray, rng: np.random.Generator
                 ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """(params, x, t): 20 MNIST rows and weights whose logits saturate softmax."""
    s = int(rng.integers(0, len(x) - ROWS))
    p = {"W1": r32(0.05 * rng.standard_normal((x.shape[1], 50))),
         "b1": r32(0.1 * rng.standard_normal(50)),
         "W2": r32(rng.standard_normal((50, 10))),
         "b2": r32(500 * rng.standard_normal(10))}
    return p, r32(x[s:s + ROWS].astype(np.float64)), t[s:s + ROWS]


#: The fused step's two activations (each its own backward: σ' = z(1 - z), relu' = [a > 0]).
ACTIVATIONS = ("sigmoid", "relu")


def fused_step(eng, p: dict[str, np.ndarray], xb: np.ndarray, tb: np.ndarray,
               activation: str = "sigmoid") -> tuple[float, dict[str, np.ndarray]]:
    """The engine's fused loss at ``p`` and its parameters after one fused SGD step."""
    fp = eng.mod("fastpath")
    net = eng.make_net(p, activation=activation)
    params = eng.params_to(p)
    xs = eng.to(xb)
    target = fp.fused_target(net, eng.to_labels(tb))
    loss = float(eng.back(fp.fused_loss(net, params, xs, target, None)))
    new = eng.params_back(fp.fused_sgd_step(net, params, xs, target, None, LR))
    return loss, new


def observe(ctx: Context) -> list[Observation]:
    (x, t), _ = ctx.mnist[0]
    p, xb, tb = extreme_case(x, t, ctx.rng(90))
    ref = ctx.reference
    obs = []
    for act in ACTIVATIONS:
        rnet = ref.make_net(p, activation=act)
        r_loss = ref.net_loss(rnet, xb, tb)
        r_grad = ref.net_gradients(rnet, xb, tb, "backprop")
        r_new = {k: p[k] - LR * r_grad[k] for k in PARAM_NAMES}
        for eng in [ref, *ctx.engines]:
            loss, new = fused_step(eng, p, xb, tb, act)
            obs.append(Observation("fused step at extreme logits: loss", GROUP, eng.name,
                                   eng.tolerance_class, "fused_loss",
                                   f"{act}, logits up to ~2,000", np.array([loss]),
                                   np.array([r_loss])))
            for k in PARAM_NAMES:
                obs.append(Observation("fused step at extreme logits: parameters after the step",
                                       GROUP, eng.name, eng.tolerance_class,
                                       "fused_params" if act == "sigmoid" else "fused_params_relu",
                                       f"{act}, logits up to ~2,000, {k}", new[k], r_new[k]))
    return obs
