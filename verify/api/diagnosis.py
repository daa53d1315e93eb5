"""Diagnosis: the one catalogue of known wrong variants of the reference, and how to try it.

Each :class:`Variant` is a mistake the chapter invites (δ outside the log, a sum instead of a
mean, softmax over the wrong axis, Adam's ε in another place, ...): a name, the *target* it can
occur in (``"forward:softmax"``, ``"backward:relu"``, ``"optimizer:adam"``,
``"training_step"``, ``"gradient"``, ``"dropout"``, ``"loss_value"``), a function that computes
what the reference returns *with that mistake* from the very case the check ran, and the fix.

How a check uses it.  On a failure, the check calls :func:`explain` with one context per case
(the inputs the reference saw) and a judge that compares the user's output with a candidate in
the tolerance class and kind the verdict used.  A variant explains the failure when its output
agrees with the user's on at least one failing case and on every passing case it applies to (a
variant that the user's passing cases contradict is not what the user wrote).  Its line, from
:func:`lines`, names the cases it explains, the variant and the fix; ``details["diagnosis"]``
lists the variant names.  A variant's ``compute`` returns None where it does not apply (no
exact zero for ReLU'(0), a 1-D input for an axis mix-up, the convention already declared).

Variants that are also documented options (``delta=`` in the checks, ``loss_at=``,
``reference_kwargs={"reduction": ...}``) say which option declares them; passing it makes the
variant the reference, and then it passes.

Every candidate is computed here in float64 from the formulas (not by calling the user's code
again), so trying the catalogue costs a few reference evaluations per case.

The context each target's ``compute`` reads (what a check passes to :func:`explain`):

* ``forward:<name>`` / ``backward:<name>``: ``reference``, ``x`` and ``t`` (the case, float64;
  ``t`` None for an activation), ``g`` (the incoming gradient), ``kw`` (reference kwargs),
  ``delta`` (the declared δ or None), ``ref`` (the reference's output for the case);
* ``optimizer:<name>``: ``optimizer``, ``hyper``, ``p0`` and ``grads`` (one dict per step);
  candidates are lists of per-step ``{key: p_t - p_0}``;
* ``training_step``: ``p0``, ``x``, ``t``, ``lr``, ``activation``, ``loss``,
  ``weight_decay_lambda``, ``loss_at``, ``exact`` (the convention judged), ``grads``,
  ``update`` and ``losses[(when, exact)]`` of the reference; candidates are dicts of the parts
  they change (``loss``, ``grads``, ``update``);
* ``gradient``: ``expected`` (the central differences); ``loss_value``: ``actual``,
  ``expected``;
* ``dropout``: ``x``, ``mask`` (the kept units, from the train-time call), ``ratio``,
  ``train`` and ``convention`` (``"book"`` or ``"inverted"``, the one judged).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CATALOGUE", "Found", "Variant", "agrees", "entries", "explain", "lines", "variant"]

Context = Mapping[str, Any]
Text = str | Callable[[Context], str]


@dataclass(frozen=True)
class Variant:
    """One known wrong variant: where it occurs, what it computes, what to say."""

    name: str
    targets: tuple[str, ...]
    said: Text  # completes "your output equals ..."
    fix: Text
    compute: Callable[[Context], Any] | None  # None: the check tests it itself (gradient δ)

    def text(self, which: str, ctx: Context) -> str:
        value = self.said if which == "said" else self.fix
        return value(ctx) if callable(value) else value


# --------------------------------------------------------------------------- formulas


def _softmax(a: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(a: np.ndarray, axis: int = -1) -> np.ndarray:
    s = a - np.max(a, axis=axis, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


def _is_labels(t: np.ndarray, y: np.ndarray) -> bool:
    return t.dtype.kind in "iu" and t.shape != y.shape


def _log_probs(ctx: Context, delta: float) -> np.ndarray:
    """log(y + δ) of the case, as a batch: y the probabilities, or softmax of the logits."""
    x = np.asarray(ctx["x"], dtype=np.float64)
    x2 = x.reshape(1, -1) if x.ndim == 1 else x
    if ctx["reference"] == "softmax_cross_entropy":
        return _log_softmax(x2) if delta == 0 else np.log(_softmax(x2) + delta)
    return np.log(x2 + delta)


def _targets(ctx: Context, k: int) -> np.ndarray:
    """The targets as an (N, K) distribution (labels of any accepted shape one-hot)."""
    x, t = np.asarray(ctx["x"]), np.asarray(ctx["t"])
    if _is_labels(t, x):
        labels = t.reshape(-1)
        return np.eye(k)[labels]
    return t.reshape(-1, k).astype(np.float64)


def _cee(ctx: Context, delta: float) -> float:
    logp = _log_probs(ctx, delta)
    n, k = logp.shape
    return float(-np.sum(_targets(ctx, k) * logp) / n)


def _current_delta(ctx: Context) -> float:
    from reference_numpy.functions import CEE_DELTA

    d = ctx.get("delta")
    if d is None:
        return CEE_DELTA if ctx["reference"] == "cross_entropy_error" else 0.0
    return float(d)


def _batch(ctx: Context) -> int:
    x = np.asarray(ctx["x"])
    return 1 if x.ndim == 1 else int(x.shape[0])


# --------------------------------------------------------------------------- forward variants


def _with_delta(value: float) -> Callable[[Context], Any]:
    def compute(ctx: Context) -> Any:
        if _current_delta(ctx) == value:
            return None
        return _cee(ctx, value)
    return compute


def _delta_outside(ctx: Context) -> Any:
    from reference_numpy.functions import CEE_DELTA

    logp = _log_probs(ctx, 0.0)
    n, k = logp.shape
    return float(-np.sum(_targets(ctx, k) * (logp + CEE_DELTA)) / n)


def _times_batch(ctx: Context) -> Any:
    n = _batch(ctx)
    return None if n == 1 else np.asarray(ctx["ref"]) * n


def _times_size(ctx: Context) -> Any:
    return np.asarray(ctx["ref"]) * np.size(ctx["x"])


def _over_classes(ctx: Context) -> Any:
    k = np.asarray(ctx["x"]).shape[-1]
    return None if k == 1 else np.asarray(ctx["ref"]) / k


def _n1_broadcast(ctx: Context) -> Any:
    x, t = np.asarray(ctx["x"]), np.asarray(ctx["t"])
    if not (x.ndim == 2 and t.ndim == 2 and t.shape == (x.shape[0], 1) and t.dtype.kind in "iu"):
        return None
    logp = _log_probs(ctx, _current_delta(ctx))
    n = x.shape[0]
    return float(-np.sum(logp[np.arange(n), t]) / n)  # (N,) with (N, 1): an (N, N) block


def _soft_argmaxed(ctx: Context) -> Any:
    x, t = np.asarray(ctx["x"]), np.asarray(ctx["t"])
    if t.dtype.kind != "f" or t.shape != x.shape or np.all((t == 0) | (t == 1)):
        return None
    logp = _log_probs(ctx, _current_delta(ctx))
    labels = t.reshape(-1, logp.shape[1]).argmax(axis=1)
    return float(-np.mean(logp[np.arange(len(labels)), labels]))


def _axis(axis: int, ndim: int) -> Callable[[Context], Any]:
    def compute(ctx: Context) -> Any:
        x = np.asarray(ctx["x"], dtype=np.float64)
        if x.ndim != ndim:
            return None
        f = _log_softmax if ctx["reference"] == "log_softmax" else _softmax
        return f(x, axis=axis)
    return compute


def _unshifted(ctx: Context) -> Any:
    x = np.asarray(ctx["x"], dtype=np.float64)
    if ctx["reference"] == "log_softmax":
        return np.log(_softmax(x))
    e = np.exp(x)
    return e / np.sum(e, axis=-1, keepdims=True)


def _reduction(name: str) -> Callable[[Context], Any]:
    def compute(ctx: Context) -> Any:
        from reference_numpy.functions import mean_squared_error

        if ctx.get("kw", {}).get("reduction", "half_sum") == name:
            return None
        return float(mean_squared_error(ctx["x"], ctx["t"], reduction=name))
    return compute


# --------------------------------------------------------------------------- backward variants


def _relu_one_at_zero(ctx: Context) -> Any:
    x = np.asarray(ctx["x"], dtype=np.float64)
    if not np.any(x == 0):
        return None
    return np.asarray(ctx["g"]) * (x >= 0)


def _sigmoid_from_input(ctx: Context) -> Any:
    x = np.asarray(ctx["x"], dtype=np.float64)
    return np.asarray(ctx["g"]) * x * (1 - x)


def _sigmoid_of_output(ctx: Context) -> Any:
    y = 1 / (1 + np.exp(-np.asarray(ctx["x"], dtype=np.float64)))
    s = 1 / (1 + np.exp(-y))
    return np.asarray(ctx["g"]) * s * (1 - s)


def _softmax_no_sum(ctx: Context) -> Any:
    return _softmax(np.asarray(ctx["x"], dtype=np.float64)) * np.asarray(ctx["g"])


# --------------------------------------------------------------------------- optimizers


def _run_optimizer(ctx: Context, **variant: Any) -> list[dict[str, np.ndarray]]:
    """p_t - p_0 after each step of the book's formulas, with one formula changed."""
    name, hyper = ctx["optimizer"], dict(ctx["hyper"])
    lr = float(hyper.get("lr", 0.001 if name == "adam" else 0.01))
    m_ = float(hyper.get("momentum", 0.9))
    b1, b2 = float(hyper.get("beta1", 0.9)), float(hyper.get("beta2", 0.999))
    d = float(hyper.get("decay_rate", 0.99))
    eps = variant.get("eps", 1e-7)
    p = {k: np.array(v, dtype=np.float64) for k, v in ctx["p0"].items()}
    state: dict[str, dict[str, np.ndarray]] = {}
    t = 0
    out = []
    for g_all in ctx["grads"]:
        if variant.get("fresh"):
            state, t = {}, 0
        t += 1
        for i, (k, g) in enumerate(g_all.items()):
            s = state.setdefault(k, {"v": np.zeros_like(p[k]), "m": np.zeros_like(p[k])})
            if name == "momentum":
                if variant.get("stale"):
                    p[k] += s["v"]
                s["v"] = m_ * s["v"] + (lr * g if variant.get("sign") else -lr * g)
                if not variant.get("stale"):
                    p[k] += s["v"]
            elif name == "nesterov":
                if variant.get("old_order"):
                    s["v"] = m_ * s["v"] - lr * g
                    p[k] += m_ * m_ * s["v"] - (1 + m_) * lr * g
                else:
                    p[k] += m_ * m_ * s["v"] - (1 + m_) * lr * g
                    s["v"] = m_ * s["v"] - lr * g
            elif name in ("adagrad", "rmsprop"):
                s["v"] = s["v"] + g * g if name == "adagrad" else d * s["v"] + (1 - d) * g * g
                den = np.sqrt(s["v"] + eps) if variant.get("inside") else np.sqrt(s["v"]) + eps
                p[k] -= lr * g / den
            elif name == "adam":
                tk = (t - 1) * len(g_all) + i + 1 if variant.get("per_key") else t
                s["m"] = s["m"] + (1 - b1) * (g - s["m"])
                s["v"] = s["v"] + (1 - b2) * (g * g - s["v"])
                if variant.get("paper"):
                    m_hat, v_hat = s["m"] / (1 - b1 ** tk), s["v"] / (1 - b2 ** tk)
                    p[k] -= lr * m_hat / (np.sqrt(v_hat) + eps)
                else:
                    lr_t = lr * np.sqrt(1 - b2 ** tk) / (1 - b1 ** tk)
                    den = np.sqrt(s["v"] + eps) if variant.get("inside") else np.sqrt(s["v"]) + eps
                    p[k] -= lr_t * s["m"] / den
            else:  # pragma: no cover - sgd has no variant here
                raise ValueError(name)
        out.append({k: p[k] - np.asarray(ctx["p0"][k], dtype=np.float64) for k in p})
    return out


def _optimizer(**variant: Any) -> Callable[[Context], Any]:
    def compute(ctx: Context) -> Any:
        if variant.get("fresh") and len(ctx["grads"]) < 2:
            return None
        if variant.get("per_key") and len(ctx["p0"]) < 2:
            return None
        return _run_optimizer(ctx, **variant)
    return compute


# --------------------------------------------------------------------------- training step


def _step_loss(when: str, exact: bool) -> Callable[[Context], Any]:
    def compute(ctx: Context) -> Any:
        if (when, exact) == (ctx["loss_at"], ctx["exact"]):
            return None
        return {"loss": ctx["losses"][(when, exact)]}
    return compute


def _step_loss_said(when: str, exact: bool) -> Callable[[Context], str]:
    def said(ctx: Context) -> str:
        conv = "" if exact == ctx["exact"] else (
            " with no delta inside the log (exact)" if exact
            else " with delta = 1e-07 inside the log")
        return f"the reference loss {when} the update{conv}"
    return said


def _step_loss_fix(when: str, exact: bool) -> Callable[[Context], str]:
    def fix(ctx: Context) -> str:
        advice = [] if when == ctx["loss_at"] else [f"loss_at={when!r}"]
        if exact != ctx["exact"]:
            advice.append("delta=0" if exact else "delta=1e-7")
        return f"pass {' and '.join(advice)} if that is your convention"
    return fix


def _backprop(ctx: Context, *, sigmoid_from_input: bool = False) -> dict[str, Any]:
    """A float64 TwoLayerNet step (dy = (softmax(a2) - t)/N) with one formula changed."""
    p, x, t = ctx["p0"], np.asarray(ctx["x"], dtype=np.float64), np.asarray(ctx["t"])
    n, k = x.shape[0], p["W2"].shape[1]
    tt = np.eye(k)[t.reshape(-1)] if t.dtype.kind in "iu" else t.reshape(n, k)
    a1 = x @ p["W1"] + p["b1"]
    z1 = 1 / (1 + np.exp(-a1)) if ctx["activation"] == "sigmoid" else np.maximum(a1, 0)
    dy = (_softmax(z1 @ p["W2"] + p["b2"]) * tt.sum(1, keepdims=True) - tt) / n
    dz = dy @ p["W2"].T
    if ctx["activation"] == "sigmoid":
        s = a1 if sigmoid_from_input else z1
        da1 = dz * s * (1 - s)
    else:
        da1 = dz * (a1 > 0)
    lam = ctx["weight_decay_lambda"]
    grads = {"W1": x.T @ da1 + lam * p["W1"], "b1": da1.sum(0),
             "W2": z1.T @ dy + lam * p["W2"], "b2": dy.sum(0)}
    return {"grads": grads, "update": {n_: -ctx["lr"] * g for n_, g in grads.items()}}


def _sigmoid_step(ctx: Context) -> Any:
    return None if ctx["activation"] != "sigmoid" else _backprop(ctx, sigmoid_from_input=True)


def _step_no_mean(ctx: Context) -> Any:
    n = int(np.asarray(ctx["x"]).shape[0])
    if n == 1:
        return None
    return {"grads": {k: n * g for k, g in ctx["grads"].items()},
            "update": {k: n * u for k, u in ctx["update"].items()}}


def _step_sign(ctx: Context) -> Any:
    return {"update": {k: -u for k, u in ctx["update"].items()}}


def _step_transposed(ctx: Context) -> Any:
    square = [k for k, v in ctx["p0"].items() if v.ndim == 2 and v.shape[0] == v.shape[1]]
    if not square:
        return None
    upd = dict(ctx["update"])
    for k in square:
        upd[k] = (ctx["p0"][k] + upd[k]).T - ctx["p0"][k]
    return {"update": upd}


# --------------------------------------------------------------------------- other targets


def _negated(ctx: Context) -> Any:
    return -np.asarray(ctx["expected"])


def _transposed(ctx: Context) -> Any:
    e = np.asarray(ctx["expected"])
    return e.T if e.ndim == 2 and e.shape[0] == e.shape[1] else None


def _dropout(kind: str) -> Callable[[Context], Any]:
    def compute(ctx: Context) -> Any:
        if ctx.get("convention") == kind:
            return None
        x, mask, r = np.asarray(ctx["x"], dtype=np.float64), ctx.get("mask"), ctx["ratio"]
        if ctx["train"]:
            if mask is None:
                return None
            kept = x * np.asarray(mask, dtype=np.float64)
            return kept / (1 - r) if kind == "inverted" else kept
        return x * (1 - r) if kind == "book" else x
    return compute


def _loss_factor(up: bool) -> Callable[[Context], Any]:
    def compute(ctx: Context) -> Any:
        a, e = float(np.asarray(ctx["actual"]).reshape(-1)[0]), float(ctx["expected"])
        if not (np.isfinite(a) and np.isfinite(e)) or a == 0 or e == 0:
            return None
        c = round(a / e) if up else round(e / a)
        if c < 2:
            return None
        return np.asarray(e * c if up else e / c)
    return compute


# --------------------------------------------------------------------------- the catalogue

_CE = ("forward:cross_entropy_error", "forward:softmax_cross_entropy")
_SM = ("forward:softmax", "forward:log_softmax")
_CE_BWD = ("backward:cross_entropy_error", "backward:softmax_cross_entropy")
_MEAN_BWD = ("backward:mean_absolute_error", "backward:binary_cross_entropy")
_STATEFUL = tuple(f"optimizer:{n}" for n in ("momentum", "nesterov", "adagrad", "rmsprop",
                                            "adam"))

CATALOGUE: tuple[Variant, ...] = (
    # ---- losses, forward
    Variant("delta = 1e-7 inside the log", _CE,
            "the reference with delta = 1e-07 inside the log",
            "pass delta=1e-07 if that is your convention", _with_delta(1e-7)),
    Variant("no delta inside the log", _CE,
            "the reference with no delta inside the log (exact)",
            "pass delta=0 if that is your convention", _with_delta(0.0)),
    Variant("delta outside the log", _CE,
            "the reference with delta = 1e-07 added outside the log, log(y) + 1e-07",
            "write log(y + delta): δ guards the log against y = 0, it must not shift the loss",
            _delta_outside),
    Variant("(N, 1) labels broadcast", _CE,
            "the book's y[np.arange(N), t] with labels shaped (N, 1), which broadcasts into an "
            "N×N block and sums N² terms",
            "flatten the labels first: t = t.reshape(-1)", _n1_broadcast),
    Variant("soft targets argmaxed", _CE,
            "the reference on t.argmax(axis=1): the soft targets reduced to labels",
            "with targets of y's shape compute -Σ t·log(y + δ) / N; argmax only labels",
            _soft_argmaxed),
    Variant("sum instead of mean", _CE,
            "the reference times the batch size N: a sum over the batch, the 1/N missing",
            "divide by the batch size y.shape[0] (a 1-D input is a batch of one)",
            _times_batch),
    Variant("mean over all elements", _CE,
            "the reference divided by the number of classes: np.mean over all N·K elements",
            "sum over the classes and divide by the batch size N only", _over_classes),
    Variant("BCE averaged over the batch only", ("forward:binary_cross_entropy",),
            "the reference times the number of columns: divided by the batch size N instead "
            "of by all N·K elements",
            "average over every element (np.mean), as the reference does",
            lambda ctx: _times_size(ctx) / _batch(ctx) if np.ndim(ctx["x"]) == 2
            and np.shape(ctx["x"])[1] > 1 else None),
    Variant("BCE summed", ("forward:binary_cross_entropy",),
            "the reference times the number of elements: a sum, the 1/n missing",
            "average over every element (np.mean), as the reference does", _times_size),
    *(Variant(f"reduction {r!r}", ("forward:mean_squared_error",),
              f"the reference with reduction={r!r}",
              f"pass reference_kwargs={{'reduction': {r!r}}} if that is your convention",
              _reduction(r)) for r in ("half_sum", "sum", "mean")),
    # ---- activations, forward
    Variant("softmax over axis 0", _SM,
            "the reference taken over axis 0 (the batch) instead of the last axis",
            "use axis=-1 (with keepdims=True) in both the max and the sum", _axis(0, 2)),
    Variant("softmax over axis 1 of a 3-D input", _SM,
            "the reference taken over axis 1 instead of the last axis (a hard-coded axis=1)",
            "use axis=-1 (with keepdims=True) in both the max and the sum", _axis(1, 3)),
    Variant("softmax without the max shift", ("forward:softmax",),
            "softmax without subtracting the max: exp overflows to inf for large logits, and "
            "inf/inf is NaN",
            "subtract a.max(axis=-1, keepdims=True) before np.exp", _unshifted),
    Variant("log of softmax", ("forward:log_softmax",),
            "np.log(softmax(a)): -inf where a probability underflows to 0",
            "compute a - max - log(Σ exp(a - max)) (log-sum-exp)", _unshifted),
    Variant("step(0) = 1", ("forward:step_function",),
            "a step with x >= 0, so step(0) = 1",
            "the chapter's step is x > 0: step(0) = 0",
            lambda ctx: np.asarray(np.asarray(ctx["x"]) >= 0, dtype=np.float64)
            if np.any(np.asarray(ctx["x"]) == 0) else None),
    # ---- backward
    Variant("ReLU'(0) = 1", ("backward:relu",),
            "the reference with ReLU'(0) = 1 (x >= 0, the book's standalone relu_grad)",
            "zero the gradient where x <= 0, as the book's Relu layer and torch do: "
            "ReLU'(0) = 0", _relu_one_at_zero),
    Variant("sigmoid backward from x", ("backward:sigmoid",),
            "dout·x·(1 - x): σ' computed from the input x instead of the output y = σ(x)",
            "keep y = sigmoid(x) from the forward pass and return dout·y·(1 - y)",
            _sigmoid_from_input),
    Variant("sigmoid_grad of the output", ("backward:sigmoid",),
            "dout·σ'(y) with y = σ(x): sigmoid_grad applied to the output",
            "sigmoid_grad takes the pre-activation x; from the output use y·(1 - y)",
            _sigmoid_of_output),
    Variant("softmax backward without Σ", ("backward:softmax",),
            "y ⊙ dout: the softmax VJP without its - y·Σ(dout·y) term",
            "return y * (dout - np.sum(dout * y, axis=-1, keepdims=True))", _softmax_no_sum),
    Variant("backward missing 1/N", _CE_BWD,
            "the reference times the batch size N: the 1/N of the mean missing in the backward",
            "divide the gradient by the batch size, as the forward's mean does", _times_batch),
    Variant("backward missing 1/n", _MEAN_BWD,
            "the reference times the number of elements n: the 1/n of the mean missing in the "
            "backward",
            "divide the gradient by y.size, as the forward's mean over all elements does",
            lambda ctx: _times_size(ctx) if np.size(ctx["x"]) > 1 else None),
    # ---- optimizers
    Variant("Adam ε inside the square root", ("optimizer:adam",),
            "Adam with ε inside the square root, m / √(v + ε)",
            "put ε outside: m / (√v + 1e-7)", _optimizer(inside=True)),
    Variant("Adam, the paper's Algorithm 1", ("optimizer:adam",),
            "Adam as in the paper's Algorithm 1 (and torch.optim.Adam): m̂ / (√v̂ + 1e-8), ε "
            "added after the bias correction",
            "the book folds the correction into lr_t = lr·√(1 - β2ᵗ)/(1 - β1ᵗ) and adds ε = "
            "1e-7 to √v: use p -= lr_t·m/(√v + 1e-7)", _optimizer(paper=True, eps=1e-8)),
    Variant("Adam, Algorithm 1 with ε = 1e-7", ("optimizer:adam",),
            "Adam with ε = 1e-7 added after the bias correction, m̂ / (√v̂ + 1e-7)",
            "the book adds ε to the uncorrected √v: p -= lr_t·m/(√v + 1e-7)",
            _optimizer(paper=True, eps=1e-7)),
    Variant("Adam step counter per key", ("optimizer:adam",),
            "Adam with its step counter t advanced once per parameter key instead of once per "
            "update",
            "increment t once per call of update(params, grads), before the loop over keys",
            _optimizer(per_key=True)),
    Variant("Nesterov, older update order", ("optimizer:nesterov",),
            "Nesterov in the book's older order (v updated first, then p += m²·v - (1+m)·lr·g "
            "with the new v)",
            "update p with the old v first, then v (the book's 2021 correction)",
            _optimizer(old_order=True)),
    Variant("momentum sign", ("optimizer:momentum",),
            "momentum with v ← m·v + lr·g: the velocity points uphill",
            "v ← m·v - lr·g, then p ← p + v", _optimizer(sign=True)),
    Variant("momentum order", ("optimizer:momentum",),
            "momentum that adds the old velocity, p ← p + v before v ← m·v - lr·g",
            "update v first, then add the new v to p", _optimizer(stale=True)),
    Variant("AdaGrad ε inside the square root", ("optimizer:adagrad",),
            "AdaGrad with ε inside the square root, g / √(h + ε)",
            "put ε outside: g / (√h + 1e-7)", _optimizer(inside=True)),
    Variant("RMSprop ε inside the square root", ("optimizer:rmsprop",),
            "RMSprop with ε inside the square root, g / √(h + ε)",
            "put ε outside: g / (√h + 1e-7)", _optimizer(inside=True)),
    Variant("state rebuilt every call", _STATEFUL,
            "the reference with its state (velocities, moments, step counter) created afresh "
            "at every call",
            "create the state once (in __init__ or on the first call) and keep it between "
            "calls", _optimizer(fresh=True)),
    # ---- training step
    *(Variant(f"loss {when} the update{'' if exact else ', δ'}", ("training_step",),
              _step_loss_said(when, exact), _step_loss_fix(when, exact), _step_loss(when, exact))
      for when in ("before", "after") for exact in (True, False)),
    Variant("sigmoid backward from x, in the network", ("training_step",),
            "the reference step with σ' computed from the pre-activation, a1·(1 - a1), instead "
            "of the sigmoid's output z1·(1 - z1)",
            "keep z1 = sigmoid(a1) from the forward pass and use dz·z1·(1 - z1)", _sigmoid_step),
    Variant("step without 1/N", ("training_step",),
            "the reference step with gradients N times too large: the 1/N of the mean missing",
            "divide dy = softmax(a2) - t by the batch size N", _step_no_mean),
    Variant("update sign", ("training_step",),
            "the reference step with p ← p + lr·∇L: gradient ascent",
            "subtract the gradient: p ← p - lr·∇L", _step_sign),
    Variant("weight returned transposed", ("training_step",),
            "the reference step with a square weight returned transposed",
            "store weights as (inputs, outputs) and return them in that layout",
            _step_transposed),
    Variant("parameters not used", ("training_step",),
            "the same loss and gradients from other parameters: it ignores the parameters it "
            "is given (a book-style net whose layers keep the weights they were built with "
            "after net.params is reassigned)",
            "copy the values into the arrays the layers hold (net.params[k][...] = v), or "
            "rebuild the layers from the new params", None),
    # ---- check_gradient
    Variant("gradient δ convention", ("gradient",),
            "the central differences within δ/(y_t+δ): your loss has δ = 1e-7 inside the log "
            "and your backward is (y - t)/N (the book's convention)",
            "pass delta=1e-7", None),
    Variant("gradient sign", ("gradient",),
            "the central differences with the opposite sign",
            "return dL/dx, not -dL/dx (the update subtracts it)", _negated),
    Variant("gradient transposed", ("gradient",),
            "the central differences transposed",
            "return the gradient in the parameter's own layout (x.T @ dy for W = (in, out))",
            _transposed),
    # ---- loss values
    Variant("loss × integer", ("loss_value",),
            "the reference loss times an integer: a sum where the reference averages",
            "divide by the batch size, as the reference does", _loss_factor(up=True)),
    Variant("loss ÷ integer", ("loss_value",),
            "the reference loss divided by an integer: a mean over more than the batch (the "
            "classes too)",
            "sum over the classes and divide by the batch size only", _loss_factor(up=False)),
    # ---- dropout (for the dropout check)
    Variant("inverted dropout", ("dropout",),
            "inverted dropout: the kept units scaled by 1/(1 - ratio) at train time, nothing "
            "at test time",
            "the book keeps the units unscaled at train time and multiplies by (1 - ratio) at "
            "test time; pass the inverted convention if that is yours", _dropout("inverted")),
    Variant("book dropout", ("dropout",),
            "the book's dropout: the mask alone at train time, ×(1 - ratio) at test time",
            "pass the book's convention if that is yours", _dropout("book")),
    Variant("dropout without test-time scaling", ("dropout",),
            "dropout with the mask at train time and no scaling at all at test time",
            "scale by (1 - ratio) at test time (book) or by 1/(1 - ratio) at train time "
            "(inverted)", _dropout("none")),
)

_names = [v.name for v in CATALOGUE]
if len(set(_names)) != len(_names):  # pragma: no cover - a duplicated entry
    raise AssertionError("verify.api.diagnosis: duplicate variant names")


def entries(target: str) -> tuple[Variant, ...]:
    """The variants that can occur in ``target`` (e.g. ``"forward:softmax"``)."""
    return tuple(v for v in CATALOGUE if target in v.targets)


def variant(name: str) -> Variant:
    """The catalogue entry called ``name``."""
    for v in CATALOGUE:
        if v.name == name:
            return v
    raise KeyError(f"no variant {name!r}: expected one of {', '.join(_names)}")


# --------------------------------------------------------------------------- trying it


def agrees(tclass: str, kind: str, actual: Any, expected: Any) -> bool:
    """Whether ``actual`` passes against ``expected`` in the verdict's class and kind."""
    from ..compare import compare_arrays
    from ..tolerances import tolerance_for

    a = np.atleast_1d(np.asarray(actual, dtype=np.float64))
    e = np.atleast_1d(np.asarray(expected, dtype=np.float64))
    if a.shape != e.shape:
        return False
    with np.errstate(all="ignore"):
        return bool(compare_arrays("diagnosis", a, e, tolerance_for(tclass, kind)).passed)


@dataclass(frozen=True)
class Found:
    """A variant that explains a failure, and the cases it explains."""

    variant: Variant
    cases: tuple[str, ...]
    ctx: Context


def explain(target: str, contexts: Sequence[tuple[str, Context, bool]],
            matches: Callable[[int, Any], bool]) -> list[Found]:
    """The catalogue's variants of ``target`` that reproduce the user's output.

    ``contexts``: per case, (case name, context, whether the verdict failed there);
    ``matches(i, candidate)``: whether the user's output of case i agrees with the candidate.
    A variant is found when it agrees on a failing case and on every passing case where it
    applies (module docstring).
    """
    found = []
    for v in entries(target):
        if v.compute is None:
            continue
        explained, contradicted = [], False
        for i, (case, ctx, failed) in enumerate(contexts):
            try:
                with np.errstate(all="ignore"):
                    candidate = v.compute(ctx)
            except (ArithmeticError, IndexError, KeyError, TypeError, ValueError):
                candidate = None  # the variant has no value for this case
            if candidate is None:
                continue
            ok = matches(i, candidate)
            if failed and ok:
                explained.append(case)
            elif not failed and not ok:
                contradicted = True
                break
        if explained and not contradicted:
            found.append(Found(v, tuple(explained), contexts[0][1]))
    return found


def lines(found: Sequence[Found], subject: str = "output", all_cases: int = 1) -> list[str]:
    """One ``diagnosis:`` line per variant found: the variant and the fix, and the cases it
    explains when they are fewer than the ``all_cases`` that failed."""
    out = []
    for f in found:
        where = f"[{', '.join(f.cases)}] " if len(f.cases) < all_cases else ""
        out.append(f"diagnosis: {where}your {subject} equals {f.variant.text('said', f.ctx)}; "
                   f"{f.variant.text('fix', f.ctx)}")
    return out
