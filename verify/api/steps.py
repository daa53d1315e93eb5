"""check_optimizer_step / check_training_step."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from reference_numpy.networks import PARAM_NAMES

from ..checks.context import r32
from ..observe import Observation, judge
from ..report import CheckResult
from ._common import (
    LOSS_AT,
    _check_callable,
    _check_choice,
    _check_tclass,
    _class_of,
    _describe,
    _f64,
    _frame_of,
    _is_tensor,
    _plain,
    _Run,
)


def _param_dict(params: object, arg: str) -> dict[str, Any]:
    if not isinstance(params, Mapping) or not params:
        raise TypeError(f"{arg}: expected a non-empty dict of arrays or tensors, got "
                        f"{_describe(params)}")
    return dict(params)


def _new_params(out: object, work: dict[str, Any], arg: str) -> dict[str, Any]:
    """The parameters after a user's step: returned mapping, or ``work`` updated in place."""
    if out is None:
        return work
    if isinstance(out, Mapping):
        return dict(out)
    raise TypeError(f"{arg}: expected None (updated in place) or a dict of the new parameters, "
                    f"got {_describe(out)}")


def check_optimizer_step(step: Callable[[Any, Any], Any], name: str, params: Mapping[str, Any],
                         grads: Mapping[str, Any] | Sequence[Mapping[str, Any]], *,
                         steps: int | None = None, tolerance_class: str | None = None,
                         **hyper: Any) -> CheckResult:
    """Check your optimizer update ``step(params, grads)`` against the book's formulas.

    ``name`` is a key of ``reference_numpy.optimizers.OPTIMIZERS`` (sgd, momentum, nesterov,
    adagrad, rmsprop, adam) and ``hyper`` its hyperparameters (``lr=``, ``momentum=``,
    ``decay_rate=``, ``beta1=``, ``beta2=``; the reference's defaults otherwise).
    ``params`` is a dict of NumPy arrays or torch tensors; ``grads`` is one dict (used at every
    step) or a list of dicts, one per step.  ``steps`` defaults to 1, or to the list's length.

    Each call gets copies of the parameters in your framework, dtype and device (your
    ``params`` are never touched) and the gradients converted to that same type; the step may
    update in place and return None, or return a dict of new parameters.  Keep any optimizer
    state (velocities, Adam's moments) in your ``step`` closure: it is called ``steps`` times in
    a row.  Compared after every step: the total change ``p_t - p_0`` (not ``p_t``: a learning
    rate off by 0.1% moves ``p_t`` by far less than float32 rounding of ``p`` but moves the
    change by 0.1%), kind ``"update"``, class from the parameters' dtype and device.
    """
    from reference_numpy.optimizers import OPTIMIZERS

    _check_callable(step, "step", "a callable step(params, grads)")
    if not isinstance(name, str) or name not in OPTIMIZERS:
        raise ValueError(f"name: expected an optimizer name, one of {', '.join(OPTIMIZERS)}; "
                         f"got {name!r}")
    params = _param_dict(params, "params")
    if isinstance(grads, Mapping):
        n = 1 if steps is None else steps
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"steps: expected an int >= 1, got {steps!r}")
        grad_seq = [grads] * int(n)
    elif isinstance(grads, Sequence) and grads and all(isinstance(g, Mapping) for g in grads):
        if steps is not None and steps != len(grads):
            raise ValueError(f"steps: expected {len(grads)} (the number of gradient dicts) or "
                             f"None, got {steps!r}")
        grad_seq = list(grads)
    else:
        raise TypeError(f"grads: expected a dict of gradients or a non-empty list of dicts, got "
                        f"{_describe(grads)}")
    tclass_given = _check_tclass(tolerance_class)
    frame = _frame_of(list(params.values()), "params")
    p0 = {k: _f64(v, f"params[{k!r}]") for k, v in params.items()}
    g64: list[dict[str, np.ndarray]] = []
    for i, g in enumerate(grad_seq):
        missing = [k for k in params if k not in g]
        if missing:
            raise ValueError(f"grads: step {i + 1} has no gradient for {missing}; expected keys "
                             f"{list(params)}")
        row = {}
        for k in params:
            arr = _f64(g[k], f"grads[{k!r}]")
            if arr.shape != p0[k].shape:
                raise ValueError(f"grads[{k!r}]: expected shape {p0[k].shape}, got {arr.shape}")
            # What the user's code receives, so both sides start from identical numbers.
            row[k] = r32(arr) if frame.dtype == "float32" else arr
        g64.append(row)
    try:
        opt = OPTIMIZERS[name](**hyper)
    except TypeError as exc:
        raise TypeError(f"hyper: {name} does not take {sorted(hyper)} ({exc})") from None
    ref = {k: v.copy() for k, v in p0.items()}
    work = {k: frame.clone(v) for k, v in params.items()}
    run = _Run(f"{name} update", "optimizers", engine=frame.engine)
    run.details.update({"optimizer": name, "hyper": {k: float(v) for k, v in hyper.items()},
                        "steps": len(g64)})
    for i, g in enumerate(g64):
        opt.update(ref, g)
        try:
            out = step(work, {k: frame.to(v) for k, v in g.items()})
            work = _new_params(out, work, "step")
        except Exception as exc:  # noqa: BLE001 - the user's step failing is a verdict
            run.problem(f"step {i + 1}", f"step raised {type(exc).__name__}: {exc}")
            break
        missing = [k for k in params if k not in work]
        if missing:
            run.problem(f"step {i + 1}", f"the returned parameters lack {missing}")
            break
        broken = False
        for k in params:
            value = _user_array(run, work[k], p0[k].shape, f"step {i + 1}, change in {k}", k)
            if value is None:
                broken = True
                continue
            tclass = tclass_given or _class_of(work[k], frame)
            run.observe(tclass, "update", f"change in {k}", value - p0[k], ref[k] - p0[k],
                        step=i + 1)
        if broken:
            break
    return run.result()


def _user_array(run: _Run, value: object, shape: tuple[int, ...], case: str,
                what: str) -> np.ndarray | None:
    """``value`` as float64, or None after recording why it cannot be compared (a verdict)."""
    try:
        arr = _f64(value, what)
    except (TypeError, ValueError) as exc:
        run.problem(case, f"{what} is {_describe(value)}, not an array of numbers ({exc})")
        return None
    if arr.shape != shape:
        hint = " (transposed?)" if arr.shape == tuple(reversed(shape)) and arr.ndim == 2 else ""
        run.problem(case, f"{what} has shape {arr.shape}, expected {shape}{hint}; nothing is "
                          f"broadcast")
        return None
    return arr


def _reference_step(p0: dict[str, np.ndarray], x: np.ndarray, t: np.ndarray, lr: float,
                    net_kw: dict[str, Any]) -> tuple[dict, dict, dict[str, float]]:
    """(grads, update, losses) of one float64 SGD step; losses for every convention."""
    from reference_numpy.networks import TwoLayerNet

    i, hdim = p0["W1"].shape
    k = p0["W2"].shape[1]
    net = TwoLayerNet(i, hdim, k, params=p0, **net_kw)
    grads = net.gradient(x, t)
    p1 = {n: p0[n] - lr * grads[n] for n in PARAM_NAMES}
    after = TwoLayerNet(i, hdim, k, params=p1, **net_kw)
    losses = {"before": net.loss(x, t), "after": after.loss(x, t)}
    other = ("cross_entropy_error" if net_kw["loss"] == "softmax_cross_entropy"
             else "softmax_cross_entropy")
    kw2 = {**net_kw, "loss": other}
    losses[f"before/{other}"] = TwoLayerNet(i, hdim, k, params=p0, **kw2).loss(x, t)
    losses[f"after/{other}"] = TwoLayerNet(i, hdim, k, params=p1, **kw2).loss(x, t)
    return grads, {n: p1[n] - p0[n] for n in PARAM_NAMES}, losses


def check_training_step(step: Callable[..., Any], params: Mapping[str, Any], x: object,
                        t: object, *, lr: float = 0.1, loss_at: str = "before",
                        activation: str = "sigmoid", loss: str = "softmax_cross_entropy",
                        weight_decay_lambda: float = 0.0,
                        tolerance_class: str | None = None,
                        delta: float | None = None) -> CheckResult:
    """Check one SGD step of your TwoLayerNet against the reference from the same point.

    ``params`` holds W1 (I, H), b1 (H,), W2 (H, K), b2 (K,) as NumPy arrays or torch tensors;
    ``x`` (N, I) and ``t`` (labels (N,) or one-hot (N, K)) are passed to you as given.  Your
    ``step(params, x, t)`` receives a copy of the parameters (in their type, dtype and device)
    and returns either the new parameters (or None after updating in place), or
    ``(loss, grads, new_params)``.  The reference is ``reference_numpy.networks.TwoLayerNet``
    in float64 (``activation``, ``loss`` - ``"softmax_cross_entropy"``, exact, or the book's
    ``"cross_entropy_error"`` with δ = 1e-7 - and ``weight_decay_lambda`` as there) taking
    ``p ← p - lr·∇L`` from your parameters' values on the same batch.

    Compared, as ``python -m verify``'s step replay does: the gradients (kind
    ``"replay_grad"``, when you return them), the update ``p_1 - p_0`` (``"replay_update"``)
    and the loss (``"replay_loss"``) - by default the loss at the parameters *before* the
    update, which is what a forward-backward step returns; ``loss_at="after"`` compares the loss
    after the update, which the book's training loop records.  A failing loss that matches
    another convention says so in the message.  ``delta``: the δ inside the log of your loss,
    1e-7 (the book's, the same as ``loss="cross_entropy_error"``) or 0 (exact); the gradients
    are compared with the book's backprop ``(y - t)/N`` in both, and the verdict's name says
    which convention was judged.

    Your step failing is a verdict, not an exception: raising, returning a parameter of the
    wrong shape (W1 transposed) or type, or writing into ``x`` or ``t`` (which it receives as
    copies) fail the check with the case named.  Class: from the parameters' dtype and device
    (``"tf32"`` for float32 on CUDA with TF32 matmuls on).
    """
    _check_callable(step, "step", "a callable step(params, x, t)")
    params = _param_dict(params, "params")
    missing = [k for k in PARAM_NAMES if k not in params]
    if missing:
        raise ValueError(f"params: expected keys {list(PARAM_NAMES)}, missing {missing}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)) or not (
            math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr: expected a finite number > 0, got {lr!r}")
    _check_choice(loss_at, "loss_at", LOSS_AT)
    tclass_given = _check_tclass(tolerance_class)
    convention = None
    if delta is not None:
        from reference_numpy.functions import CEE_DELTA

        if delta not in (0, CEE_DELTA) or isinstance(delta, bool):
            raise ValueError(f"delta: expected 0 or {CEE_DELTA:g} (the conventions the "
                             f"reference network has), got {delta!r}")
        loss = "cross_entropy_error" if delta else "softmax_cross_entropy"
        convention = (f"delta = {CEE_DELTA:g} inside the log" if delta
                      else "no delta inside the log (exact)")
    frame = _frame_of([params[k] for k in PARAM_NAMES], "params")
    p0 = {k: _f64(params[k], f"params[{k!r}]") for k in PARAM_NAMES}
    for k, nd in (("W1", 2), ("b1", 1), ("W2", 2), ("b2", 1)):
        if p0[k].ndim != nd:
            raise ValueError(f"params[{k!r}]: expected a {nd}-D array, got shape {p0[k].shape}")
    x64 = _f64(x, "x")
    t_arr = _plain(t, "t")
    if t_arr.dtype.kind not in "biuf":
        raise TypeError(f"t: expected labels or one-hot targets, got {_describe(t)}")
    t64 = t_arr.astype(np.float64) if t_arr.dtype.kind in "bf" else t_arr.astype(np.int64)
    net_kw = {"activation": activation, "loss": loss, "weight_decay_lambda": weight_decay_lambda}
    with np.errstate(all="ignore"):
        r_grads, r_update, r_losses = _reference_step(p0, x64, t64, float(lr), net_kw)
    work = {k: frame.clone(v) for k, v in params.items()}
    title = "TwoLayerNet SGD step" + (f", {convention}" if convention else "")
    run = _Run(title, "training", engine=frame.engine)
    run.details.update({"lr": float(lr), "batch": int(x64.shape[0]), "loss_at": loss_at})
    if convention:
        run.details["convention"] = convention
    # Copies: the user's own x and t are never handed out, and a step writing into them is
    # seen (and named) instead of corrupting the comparison.
    x_in, t_in = _copy_like(x), _copy_like(t)
    try:
        out = step(work, x_in, t_in)
        u_loss = u_grads = None
        if isinstance(out, tuple) and len(out) == 3:
            u_loss, u_grads, new = out
            new = _new_params(new, work, "step (third element)")
        elif isinstance(out, tuple):
            raise TypeError(f"step: expected new params, None or (loss, grads, new params), "
                            f"got a tuple of {len(out)}")
        else:
            new = _new_params(out, work, "step")
        if u_grads is not None and not isinstance(u_grads, Mapping):
            raise TypeError(f"step: the grads it returned are not a dict, got "
                            f"{_describe(u_grads)}")
    except Exception as exc:  # noqa: BLE001 - the user's step failing is a verdict
        run.problem("step", f"step(params, x, t) raised {type(exc).__name__}: {exc}")
        return run.result()
    for arg, given, copy in (("x", x64, x_in), ("t", t_arr, t_in)):
        now = _plain(copy, arg)
        if now.shape != np.shape(given) or not np.array_equal(now, given, equal_nan=True):
            run.problem(f"input {arg}", f"step wrote into {arg} (it must not change its "
                                        f"inputs; the reference does not)")

    def tclass_of(value: object) -> str:
        return tclass_given or _class_of(value, frame, matmul=True)

    if u_grads is not None:
        for k in PARAM_NAMES:
            if k not in u_grads:
                run.problem(f"grad {k}", "missing from the returned gradients")
                continue
            got = _user_array(run, u_grads[k], p0[k].shape, f"grad {k}", f"grads[{k!r}]")
            if got is not None:
                run.observe(tclass_of(u_grads[k]), "replay_grad", f"grad {k}", got, r_grads[k])
    for k in PARAM_NAMES:
        if k not in new:
            run.problem(f"update {k}", "missing from the returned parameters")
            continue
        got = _user_array(run, new[k], p0[k].shape, f"update {k}", f"new params[{k!r}]")
        if got is not None:
            run.observe(tclass_of(new[k]), "replay_update", f"update {k}", got - p0[k],
                        r_update[k])
    if u_loss is not None:
        try:
            tclass = tclass_of(u_loss)
            got = np.atleast_1d(_f64(u_loss, "loss")).reshape(-1)
        except (TypeError, ValueError) as exc:
            run.problem("loss", f"the loss is {_describe(u_loss)}, not a number ({exc})")
            return run.result()
        if got.size != 1:
            run.problem("loss", f"the loss has {got.size} values, expected one number")
            return run.result()
        run.observe(tclass, "replay_loss", f"loss {loss_at} the update", got,
                    np.atleast_1d(r_losses[loss_at]))
        run.hints += _loss_hints(got, r_losses, loss_at, tclass)
    return run.result()


def _copy_like(v: object) -> object:
    """A copy of an array or tensor in its own type; other values as they are."""
    if _is_tensor(v):
        return v.detach().clone()
    if isinstance(v, np.ndarray):
        return v.copy()
    return v


def _loss_hints(got: np.ndarray, losses: dict[str, float], loss_at: str,
                tclass: str) -> list[str]:
    """If the user's loss misses the chosen convention but matches another, say which."""
    if got.size != 1:
        return []

    def ok(value: float) -> bool:
        obs = Observation("loss", "training", "user", tclass, "replay_loss", "loss",
                          got, np.atleast_1d(value))
        return judge([obs])[0].passed

    if ok(losses[loss_at]):
        return []
    for key, value in losses.items():
        if key == loss_at or not ok(value):
            continue
        when, _, other = key.partition("/")
        advice = []
        if when != loss_at:
            advice.append(f"loss_at={when!r}")
        if other:
            advice.append(f"loss={other!r}")
        if other == "cross_entropy_error":
            advice[-1] = "delta=1e-7"
            named = " with delta = 1e-07 inside the log"
        elif other:
            advice[-1] = "delta=0"
            named = " with no delta inside the log (exact)"
        else:
            named = ""
        return [f"hint: your loss equals the reference loss {when} the update{named}; pass "
                f"{' and '.join(advice)} if that is your convention"]
    return []
