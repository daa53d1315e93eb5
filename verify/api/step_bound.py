"""The rounding-error bound of one TwoLayerNet SGD step, derived for each call.

Why not a fixed tolerance.  ``float32-cpu/replay_*`` were measured on the book's 784-50-10 net
with a batch of 100; how far a correct float32 step lands from the float64 reference depends on
the sizes of its sums and on how much they cancel, not on the implementation.  A 7-5-2 net with a
batch of one has a relative gradient error of 1e-4 against a measured bound of 3e-5 (a false
alarm), while the same bound is loose on the elements that do not cancel.  So each element's
bound is the forward error bound of the step it belongs to, in the style of Higham (Accuracy and
Stability of Numerical Algorithms, §3.1: ``|fl(xᵀy) - xᵀy| <= γ_n·|x|ᵀ|y|``,
``γ_n = n·u/(1 - n·u)``, ``u`` the unit roundoff of the dtype the step computes in), propagated
to first order through the step, with every absolute value taken from the float64 reference:

* ``a1 = x W1 + b1``: ``E_a1 = γ_{I+2}·(|x||W1| + |b1|)`` (I products, the bias, x cast once).
* ``z1 = σ(a1)``: ``E_z1 = σ'·E_a1 + c_f·u·z1`` (σ' at the edge of ``a1 ± E_a1`` nearest 0, its
  largest value there, computed as ``e^-|a|/(1 + e^-|a|)²``; ``c_f·u`` the error of an
  elementary function); ReLU: ``E_z1 = E_a1``, and where ``|a1| <= E_a1`` the mask itself may
  flip (a kink: the whole ``|dz1|`` is allowed there).
* ``a2 = z1 W2 + b2``: ``E_a2 = γ_{H+2}·(|z1||W2| + |b2|) + E_z1|W2|``.
* ``y = softmax(a2)`` (row n, ``e = E_a2``): ``δy = y ⊙ (δa - Σ y δa)``, so
  ``E_y = y ⊙ (e + Σ y e) + y·u·(3(|a| + max|a|) + 2c_f + K + 4)``: the exponent ``a - max`` (or
  ``a - logsumexp``, autograd's way) carries ``u·(|a| + max|a|)`` each, exp and the division
  ``c_f + 1``, the row sum ``γ_K``.
* ``dy = (y·Σt - t)/N``: ``E_dy = (E_y + u·(3|dy·N| + |t|))/N``.
* ``dW2 = z1ᵀdy``: ``γ_{N+1}|z1|ᵀ|dy| + E_z1ᵀ|dy| + |z1|ᵀE_dy``; ``db2 = Σ dy``:
  ``γ_N Σ|dy| + Σ E_dy``; ``dz1 = dy W2ᵀ``: ``γ_K|dy||W2|ᵀ + E_dy|W2|ᵀ``.
* ``da1 = dz1 ⊙ z1(1 - z1)``: ``E_dz1·σ' + |dz1|·(|1 - 2z1|·E_z1 + 3u·σ') + 2u|da1|``;
  ReLU: ``E_dz1`` where the unit is on, ``|dz1| + E_dz1`` where its mask may flip.
* ``dW1 = xᵀda1``: ``γ_{N+2}|x|ᵀ|da1| + |x|ᵀE_da1``; ``db1``: ``γ_N Σ|da1| + Σ E_da1``;
  weight decay adds ``2u·λ|W| + u·|g|``.
* the update ``p1 - p0 = -lr·g``: ``lr·E_g + 2u·lr|g|`` (the product and lr cast to the dtype)
  ``+ u·|p1|`` (rounding p0 - lr·g: the term that dominates when lr·|g| << |p|).
* the loss ``(1/N) Σ ℓ_n``: per row ``Σ_k |y_k Σt - t_k|·e_k`` (a first-order change of the
  logits) plus the rounding of either way of computing it - log-sum-exp minus ``a_t``
  (``u·(3(|a_t| + max|a|) + 2c_f + K + 4)``: a loss near 0 still carries the rounding of logits
  ~|a|) or ``-Σ t log(y + δ)`` (``Σ t·E_y/(y + δ) + γ_{K+1}·Σ t|log(y + δ)|``) - both added;
  then ``γ_{N+1}·Σ|ℓ_n|/N`` for the mean and ``γ_{#W+2}·½λΣW²`` for weight decay.  After the
  update, the loss at p1 moves by ``Σ |∇L(p1)|·E_update`` on top of its own bound at p1.

Below the normal range the model ``fl(a op b) = (a op b)(1 + δ)`` fails (a product of two tiny
numbers, an exp or a sigmoid of a large negative argument flushed to 0): every computed
quantity also carries ``(number of its operations)·λ``, λ the smallest normal number of the
dtype (:func:`underflow`), which matters only for values near 1e-38 (float32).

The reference is float64 and rounds as well: the bound judged is this one in the class of the
step plus the same in float64 (what the reference may be off by), which doubles the float64
class's bound and leaves float32's as it was.

Each term bounds the worst case of its operation for any summation order (BLAS blocking, FMA,
pairwise sums), so a correct step in that dtype stays inside; second-order terms (products of
two E's, ``n·u`` in the denominators) are covered by :data:`SAFETY`.  Not derived:
:data:`C_FN` (written with its source) and :data:`SAFETY`; the measurement that confirms
both, and the smallest planted errors still caught, are in docs/oracle.md
(scripts/oracle_step_false_alarms.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["C_FN", "SAFETY", "StepBound", "step_bound", "unit_roundoff"]

#: Error of one elementary function (exp, log, the sigmoid's exp and division), in units of u:
#: NumPy's float32 SIMD exp and log are within 2.52 and 3.83 ulp (its release notes, 1.18),
#: torch's (SLEEF) within 1 ulp; an ulp is at most 2u, so 4 ulp = 8u covers both.
C_FN = 8.0
#: Over the first-order bound: covers the second-order terms (E·E products, 1/(1 - n·u)), which
#: are below 1e-3 of the bound for n·u < 1e-3 (float32 with n <= 16,000), and a term this
#: derivation may have missed.  Measured (docs/oracle.md): the largest |a - e| / bound over the
#: correct cases is just under 1/SAFETY, reached by the update, whose u·|p1| (rounding p0 - lr·g
#: to the dtype, half an ulp) is exact: the first-order bound itself was never exceeded.
SAFETY = 2.0


def unit_roundoff(tclass: str) -> tuple[float, float]:
    """(u of the elementwise arithmetic, u of the matmul products) of a tolerance class.

    TF32 rounds both matmul operands to a 10-bit mantissa (u = 2^-11 each), so a product
    carries 2·2^-11 besides float32's own; "exact" allows nothing.
    """
    if tclass == "exact":
        return 0.0, 0.0
    if tclass == "float64":
        return 2.0 ** -53, 2.0 ** -53
    if tclass == "tf32":
        return 2.0 ** -24, 2.0 ** -10 + 2.0 ** -24
    return 2.0 ** -24, 2.0 ** -24


def underflow(tclass: str) -> float:
    """The absolute error one operation may add below the normal range: the smallest normal
    number (an exp, a BLAS kernel or a CPU in flush-to-zero mode turns a subnormal result into
    0, so Higham's gradual-underflow term, half the smallest subnormal, is not enough)."""
    if tclass == "exact":
        return 0.0
    return float(np.finfo(np.float64 if tclass == "float64" else np.float32).tiny)


def _gamma(n: int | float, u: float) -> float:
    nu = n * u
    return nu / (1 - nu) if nu < 0.5 else float("inf")


@dataclass
class StepBound:
    """Per-element bounds (absolute) of a correct step's gradients, update and losses."""

    grads: dict[str, np.ndarray]
    update: dict[str, np.ndarray]
    loss: dict[str, float]  # "before", "after"
    u: float

    def scaled(self) -> StepBound:
        """The bound with :data:`SAFETY` applied (what a verdict uses)."""
        return StepBound({k: SAFETY * v for k, v in self.grads.items()},
                         {k: SAFETY * v for k, v in self.update.items()},
                         {k: SAFETY * v for k, v in self.loss.items()}, self.u)


def _one_hot(t: np.ndarray, k: int) -> np.ndarray:
    if t.ndim == 1:
        out = np.zeros((t.shape[0], k))
        out[np.arange(t.shape[0]), t.astype(np.int64)] = 1.0
        return out
    return np.asarray(t, dtype=np.float64)


def _forward(p: Mapping[str, np.ndarray], x: np.ndarray, t: np.ndarray, activation: str,
             u: float, um: float, tiny: float) -> dict[str, np.ndarray]:
    """The reference's forward values and their error bounds (module docstring)."""
    i, hdim = p["W1"].shape
    k = p["W2"].shape[1]
    ax = np.abs(x)
    a1 = x @ p["W1"] + p["b1"]
    e_a1 = _gamma(i + 2, um) * (ax @ np.abs(p["W1"]) + np.abs(p["b1"])) + (i + 2) * tiny
    if activation == "relu":
        z1 = np.maximum(a1, 0.0)
        e_z1 = e_a1
        ds = (a1 > 0).astype(np.float64)
    else:
        z1 = 1.0 / (1.0 + np.exp(-a1))
        # σ'(a) = e^-|a| / (1 + e^-|a|)², not σ(1 - σ), which is 0 in float64 beyond |a| ~ 37
        # while the relative error of σ(a) ~ e^a there is that of a itself.
        q = np.exp(-np.maximum(np.abs(a1) - e_a1, 0.0))
        e_z1 = q / (1 + q) ** 2 * e_a1 + C_FN * u * z1 + tiny
        ds = z1 * (1 - z1)
    w2 = np.abs(p["W2"])
    a2 = z1 @ p["W2"] + p["b2"]
    e_a2 = _gamma(hdim + 2, um) * (np.abs(z1) @ w2 + np.abs(p["b2"])) + e_z1 @ w2 \
        + (hdim + 2) * tiny
    m = a2.max(axis=1, keepdims=True)
    ex = np.exp(a2 - m)
    y = ex / ex.sum(axis=1, keepdims=True)
    big = np.abs(a2).max(axis=1, keepdims=True)
    round_y = u * (3 * (np.abs(a2) + big) + 2 * C_FN + k + 4)
    e_y = y * (e_a2 + np.sum(y * e_a2, axis=1, keepdims=True)) + y * round_y + (k + 4) * tiny
    th = _one_hot(t, k)
    return {"a1": a1, "e_a1": e_a1, "z1": z1, "e_z1": e_z1, "ds": ds, "a2": a2, "e_a2": e_a2,
            "y": y, "e_y": e_y, "t": th, "big": big, "m": m}


def _loss_bound(f: Mapping[str, np.ndarray], p: Mapping[str, np.ndarray], u: float,
                weight_decay_lambda: float, delta: float) -> float:
    """The bound of the loss at the forward ``f``."""
    y, th, e_a2, e_y, a2 = f["y"], f["t"], f["e_a2"], f["e_y"], f["a2"]
    n, k = y.shape
    s = th.sum(axis=1, keepdims=True)
    dl = np.abs(y * s - th)
    a_t = np.sum(th * np.abs(a2), axis=1)
    lse = u * (3 * (a_t + f["big"][:, 0]) + 2 * C_FN + k + 4)
    # The log way needs y + δ > 0 where t > 0; where softmax underflows to 0 (exact loss) only
    # log-sum-exp computes it, and its term stands alone.
    live = (th > 0) & (y + delta > 0)
    logs = np.where(live, np.abs(np.log(np.where(live, y + delta, 1.0))), 0.0)
    rel_y = np.where(live, e_y / np.where(live, y + delta, 1.0), 0.0)
    per_row = (np.sum(dl * e_a2, axis=1) + lse + np.sum(th * rel_y, axis=1)
               + _gamma(k + 1, u) * np.sum(th * logs, axis=1))
    # ℓ_n itself (for the mean's rounding), from the logits: softmax may underflow to 0.
    lse_n = (f["m"] + np.log(np.sum(np.exp(a2 - f["m"]), axis=1, keepdims=True)))[:, 0]
    ell = np.abs(s[:, 0] * lse_n - np.sum(th * a2, axis=1)) + np.sum(th * logs, axis=1)
    bound = float(np.sum(per_row) / n + _gamma(n + 1, u) * np.sum(ell) / n)
    if weight_decay_lambda:
        sq = float(np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
        bound += _gamma(p["W1"].size + p["W2"].size + 2, u) * 0.5 * weight_decay_lambda * sq
    return bound


def _grad_bound(f: Mapping[str, np.ndarray], p: Mapping[str, np.ndarray], x: np.ndarray,
                activation: str, u: float, um: float, tiny: float, weight_decay_lambda: float,
                grads: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    y, th, z1 = f["y"], f["t"], f["z1"]
    n, k = y.shape
    dyn = y * th.sum(axis=1, keepdims=True) - th
    dy = np.abs(dyn) / n
    e_dy = (f["e_y"] + u * (3 * np.abs(dyn) + np.abs(th))) / n + 2 * tiny
    az1 = np.abs(z1)
    w2 = np.abs(p["W2"])
    out = {"W2": _gamma(n + 1, um) * (az1.T @ dy) + f["e_z1"].T @ dy + az1.T @ e_dy
           + (n + 1) * tiny,
           "b2": _gamma(n, u) * dy.sum(axis=0) + e_dy.sum(axis=0) + n * tiny}
    dz1 = dy @ w2.T  # >= |dy W2ᵀ|
    e_dz1 = _gamma(k, um) * dz1 + e_dy @ w2.T + k * tiny
    ds = f["ds"]
    if activation == "relu":
        flip = np.abs(f["a1"]) <= f["e_a1"]
        e_da1 = np.where(flip, dz1 + e_dz1, e_dz1 * ds)
        da1 = dz1 * np.maximum(ds, flip)
    else:
        e_ds = np.abs(1 - 2 * z1) * f["e_z1"] + 3 * u * ds
        e_da1 = e_dz1 * ds + dz1 * e_ds + 2 * u * dz1 * ds + 2 * tiny
        da1 = dz1 * ds
    ax = np.abs(x)
    out["W1"] = _gamma(n + 2, um) * (ax.T @ da1) + ax.T @ e_da1 + (n + 2) * tiny
    out["b1"] = _gamma(n, u) * da1.sum(axis=0) + e_da1.sum(axis=0) + n * tiny
    if weight_decay_lambda:
        for w in ("W1", "W2"):
            out[w] = out[w] + 2 * u * weight_decay_lambda * np.abs(p[w]) + u * np.abs(grads[w])
    return out


def step_bound(p0: Mapping[str, np.ndarray], x: np.ndarray, t: np.ndarray, lr: float, *,
               activation: str, loss: str, weight_decay_lambda: float, tclass: str,
               grads: Mapping[str, np.ndarray], grads_after: Mapping[str, np.ndarray],
               p1: Mapping[str, np.ndarray]) -> StepBound:
    """The first-order rounding bound of a correct step in ``tclass`` (module docstring), with
    ``grads`` the reference's float64 gradients at p0 and ``grads_after`` those at ``p1``
    (for the loss after the update), plus the same bound in float64: the reference rounds too,
    which in the float64 class is as much as the step judged.  Without :data:`SAFETY`;
    :meth:`StepBound.scaled` adds it.
    """
    mine = _step_bound(p0, x, t, lr, activation, loss, weight_decay_lambda, tclass, grads,
                       grads_after, p1)
    if tclass == "exact":
        return mine
    ref = _step_bound(p0, x, t, lr, activation, loss, weight_decay_lambda, "float64", grads,
                      grads_after, p1)
    return StepBound({k: v + ref.grads[k] for k, v in mine.grads.items()},
                     {k: v + ref.update[k] for k, v in mine.update.items()},
                     {k: v + ref.loss[k] for k, v in mine.loss.items()}, mine.u)


def _step_bound(p0: Mapping[str, np.ndarray], x: np.ndarray, t: np.ndarray, lr: float,
                activation: str, loss: str, weight_decay_lambda: float, tclass: str,
                grads: Mapping[str, np.ndarray], grads_after: Mapping[str, np.ndarray],
                p1: Mapping[str, np.ndarray]) -> StepBound:
    from reference_numpy.functions import CEE_DELTA

    u, um = unit_roundoff(tclass)
    tiny = underflow(tclass)
    delta = CEE_DELTA if loss == "cross_entropy_error" else 0.0
    with np.errstate(all="ignore"):
        f0 = _forward(p0, x, t, activation, u, um, tiny)
        g_b = _grad_bound(f0, p0, x, activation, u, um, tiny, weight_decay_lambda, grads)
        upd = {k: lr * g_b[k] + 2 * u * lr * np.abs(grads[k]) + u * np.abs(p1[k]) + 2 * tiny
               for k in g_b}
        before = _loss_bound(f0, p0, u, weight_decay_lambda, delta)
        f1 = _forward(p1, x, t, activation, u, um, tiny)
        after = _loss_bound(f1, p1, u, weight_decay_lambda, delta)
        moved = sum(float(np.sum(np.abs(grads_after[k]) * upd[k])) for k in upd)
    return StepBound(g_b, upd, {"before": before, "after": after + moved}, u)


def describe(tclass: str) -> str:
    """How a verdict names the rule: ``"derived per element (float32-cpu: u = 5.96e-08)"``."""
    u, um = unit_roundoff(tclass)
    mm = f", matmul u = {um:.3g}" if um != u else ""
    return f"bound derived per element ({tclass}: u = {u:.3g}{mm}, safety {SAFETY:g})"

