"""check_module: find the chapter's names in a user's code, adapt the book's API, check each.

``check_module(module_or_path)`` takes a module object, a ``.py`` file, a folder (a package,
or a plain folder whose ``.py`` files are imported with the folder on ``sys.path``) or an
importable module name, and returns one :class:`CheckResult` per item of :data:`ITEMS`, in
that order: found and checked (passed or failed), or not found (``details["status"] ==
"not found"``; passed unless ``require_all=True``).  Importing runs the files' top level, as
``python file.py`` would not guard it: keep scripts behind ``if __name__ == "__main__":``.

What is adapted, always named in ``details["adapted"]``:

* a loss that takes one-hot targets only (it raises on integer labels): labels are turned into
  one-hot targets before the call;
* a network without ``params=``: built with the book's signature ``TwoLayerNet(input_size,
  hidden_size, output_size)``, then the reference weights are copied *into* its arrays (in
  place, so layers sharing them see the change) and into the ``W``/``b`` of its layer objects
  (``net.layers``, a dict or list, in order); a ``simpleNet``'s ``W`` likewise;
* the network's hidden activation (sigmoid or ReLU) and loss convention (δ = 1e-7 inside the
  log or none) are detected from its loss and named; the reference is built to match;
* the training step, when the module has none (``training_step``/``train_step``), is the
  book's loop: ``grads = net.gradient(x, t)``, your ``SGD(lr).update(net.params, grads)`` (or
  ``params[key] -= lr * grads[key]``), then ``net.loss(x, t)`` *after* the update - so a net
  whose layers hold copies of ``params`` (the update never reaches them) fails, named
  "parameters not copied into the layers".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..report import CheckResult
from ._common import _describe, _Run, _torch
from ._loading import UserCode, load_user_code
from ._netadapt import (
    SIZES,
    NetSetup,
    assign,
    build_net,
    data,
    load_params,
    reference_net,
    reference_params,
    setup_two_layer,
)
from ._usercode import UserFailure, call, quote

__all__ = ["check_module", "ITEMS", "load_user_code", "UserCode"]

FUNCTION_ITEMS = ("step_function", "sigmoid", "relu", "softmax", "mean_squared_error",
                  "cross_entropy_error")
OPTIONAL_FUNCTIONS = ("log_softmax", "mean_absolute_error", "softmax_cross_entropy",
                      "binary_cross_entropy")
OPTIMIZER_ITEMS = ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam")
NET_METHODS = ("predict", "loss", "gradient", "numerical_gradient", "accuracy")
#: Every item, in report order (optional functions are reported only when found).
ITEMS: tuple[str, ...] = (
    *FUNCTION_ITEMS, "numerical_diff", "numerical_gradient", "gradient_descent",
    *(f"SimpleNet.{m}" for m in ("loss", "gradient", "numerical_gradient")),
    *(f"TwoLayerNet.{m}" for m in NET_METHODS),
    *OPTIMIZER_ITEMS, "Dropout", "training step",
)
_ALIASES = {"SimpleNet": ("SimpleNet", "simpleNet", "simple_net"),
            "training step": ("training_step", "train_step")}
LR = 0.1
PARAMS_NOT_COPIED = ("parameters not copied into the layers: the network's output ignores "
                     "the weights assigned to it (build the layers from self.params' own "
                     "arrays and update those arrays in place, params[key] -= lr * grad)")


# --------------------------------------------------------------------------- rows


def _not_found(item: str, names: tuple[str, ...], required: bool) -> CheckResult:
    return CheckResult(
        name=item, group="module", passed=not required, max_abs_err=0.0, max_rel_err=0.0,
        where="", tolerance_class="none", rtol=0.0, atol=0.0,
        message=(f"{item}: not found (looked for {', '.join(names)})" if required else ""),
        details={"status": "not found", "item": item, "looked_for": list(names)},
    )


def _row(item: str, found_as: str, res: CheckResult, adapted: list[str]) -> CheckResult:
    res.details.update({"item": item, "found_as": found_as, "check": res.name,
                        "status": "passed" if res.passed else "failed",
                        "adapted": list(adapted)})
    res.name = item
    res.group = "module"
    # A row with no numeric comparison (only problems) has no tolerance; the report schema
    # wants finite numbers there.
    res.rtol = res.rtol if math.isfinite(res.rtol) else 0.0
    res.atol = res.atol if math.isfinite(res.atol) else 0.0
    return res


def _failed_row(item: str, found_as: str, message: str) -> CheckResult:
    run = _Run(item, "module")
    run.problem(found_as, message)
    return _row(item, found_as, run.result(), [])


def _guarded(item: str, found_as: str, adapted: list[str],
             check: Callable[[], CheckResult]) -> CheckResult:
    """A check's row; an error escaping the check itself becomes a failed row, quoted."""
    try:
        return _row(item, found_as, check(), adapted)
    except UserFailure as exc:
        return _failed_row(item, found_as, str(exc))
    except Exception as exc:  # noqa: BLE001 - one item must not stop the others
        return _failed_row(item, found_as, f"could not be checked: {quote(exc)}")


# --------------------------------------------------------------------------- functions


def _one_hot_only(fn: Callable[..., Any]) -> bool:
    """Whether a loss raises on integer labels but takes one-hot targets."""
    rng = np.random.default_rng(5)
    y = rng.dirichlet(np.ones(5), 6)
    labels = rng.integers(0, 5, 6)
    try:
        call("probe", fn, y.copy(), labels.copy())
        return False
    except UserFailure:
        try:
            call("probe", fn, y.copy(), np.eye(5)[labels])
            return True
        except UserFailure:
            return False


def _labels_to_one_hot(fn: Callable[..., Any]) -> Callable[..., Any]:
    def adapted(y: Any, t: Any) -> Any:
        t_arr = np.asarray(t)
        if t_arr.dtype.kind in "iu":
            k = np.shape(y)[-1]
            t = np.eye(k, dtype=np.asarray(y).dtype)[t_arr.reshape(-1)]
            t = t.reshape(np.shape(y)) if t.size == np.size(y) else t
        return fn(y, t)

    return adapted


def _function_rows(code: UserCode, required: bool) -> list[CheckResult]:
    from .functions import check_function

    rows = []
    for name in (*FUNCTION_ITEMS, *OPTIONAL_FUNCTIONS):
        hit = code.find((name,), function=True)
        if hit is None:
            if name in FUNCTION_ITEMS:
                rows.append(_not_found(name, (name,), required))
            continue
        fn, where = hit
        adapted: list[str] = []
        if not callable(fn):
            rows.append(_failed_row(name, where, f"is {_describe(fn)}, not a function"))
            continue
        if name.endswith("cross_entropy_error") and _one_hot_only(fn):
            fn = _labels_to_one_hot(fn)
            adapted.append("one-hot-only targets: integer labels converted to one-hot")
        rows.append(_guarded(name, where, adapted,
                             lambda fn=fn, name=name: check_function(fn, name)))
    return rows


def _differentiation_rows(code: UserCode, required: bool) -> list[CheckResult]:
    from .differentiation import (
        check_gradient_descent,
        check_numerical_diff,
        check_numerical_gradient,
    )

    rows = []
    for name, check in (("numerical_diff", check_numerical_diff),
                        ("numerical_gradient", check_numerical_gradient),
                        ("gradient_descent", check_gradient_descent)):
        hit = code.find((name,), function=True)
        if hit is None:
            rows.append(_not_found(name, (name,), required))
            continue
        fn, where = hit
        if isinstance(fn, type) or not callable(fn):
            rows.append(_failed_row(name, where, f"is {_describe(fn)}, not a function"))
            continue
        rows.append(_guarded(name, where, [], lambda fn=fn, check=check: check(fn)))
    return rows


def _net_method_rows(setup: NetSetup | None, where: str, cls_error: str | None,
                     found: bool, required: bool) -> list[CheckResult]:
    rows = []
    for m in NET_METHODS:
        item = f"TwoLayerNet.{m}"
        if not found:
            rows.append(_not_found(item, ("TwoLayerNet",), required))
            continue
        if setup is None:
            rows.append(_failed_row(item, where, cls_error or "could not be built"))
            continue
        fn = getattr(setup.net, m, None)
        if not callable(fn):
            rows.append(_not_found(item, (f"TwoLayerNet.{m}",), required))
            continue
        rows.append(_guarded(item, f"{where}.{m}", setup.adapted,
                             lambda m=m: _check_net_method(setup, m)))
    return rows


def _check_net_method(s: NetSetup, m: str) -> CheckResult:
    from .accuracy import check_accuracy

    if m == "accuracy":
        return check_accuracy(s.net, input_size=SIZES[0])
    ref = reference_net(s.p, s.activation, s.loss)
    run = _Run(f"TwoLayerNet.{m}", "networks", engine="user numpy/float64")
    if s.ignores_params:
        run.hints.append(f"cause: {PARAMS_NOT_COPIED}")
    try:
        if m == "predict":
            got = call("predict(x)", s.net.predict, s.x.copy())
            logits = ref.logits(s.x)
            probs = ref.predict(s.x)
            arr = np.asarray(got, dtype=np.float64)
            expected = probs if arr.shape == probs.shape and np.allclose(arr, probs) \
                and not np.allclose(arr, logits) else logits
            run.details["notes"] = ["predict returns " + ("probabilities (softmax applied)"
                                                          if expected is probs else "logits")]
            run.observe("float64", "function", "predict(x), batch (6, 4)", got, expected)
        elif m == "loss":
            got = call("loss(x, t)", s.net.loss, s.x.copy(), s.t.copy())
            run.observe("float64", "loss", "loss(x, t)", np.atleast_1d(np.asarray(got)),
                        np.atleast_1d(ref.loss(s.x, s.t)))
        else:
            fn = getattr(s.net, m)
            got = call(f"{m}(x, t)", fn, s.x.copy(), s.t.copy())
            expected = ref.gradient(s.x, s.t) if m == "gradient" else \
                ref.numerical_gradient(s.x, s.t)
            if not isinstance(got, Mapping):
                raise UserFailure(f"{m} returned {_describe(got)}, expected a dict of "
                                  f"W1, b1, W2, b2")
            kind = "gradient" if m == "gradient" else "numerical"
            if m == "numerical_gradient" and all(
                    k in got and not np.any(np.asarray(got[k])) for k in expected):
                run.hints.append(f"cause: every element is 0, so moving net.params never "
                                 f"changed the loss: {PARAMS_NOT_COPIED}")
            for k in ("W1", "b1", "W2", "b2"):
                if k not in got:
                    run.problem(k, f"{m} returned no {k!r} (keys {sorted(got)})")
                    continue
                run.observe("float64", kind, f"grad {k}", got[k], expected[k])
    except UserFailure as exc:
        run.problem(m, str(exc))
    return run.result()


def _simple_net_rows(code: UserCode, required: bool) -> list[CheckResult]:
    from reference_numpy.networks import SimpleNet

    hit = code.find(_ALIASES["SimpleNet"])
    items = [f"SimpleNet.{m}" for m in ("loss", "gradient", "numerical_gradient")]
    if hit is None:
        return [_not_found(i, _ALIASES["SimpleNet"], required) for i in items]
    cls, where = hit
    adapted: list[str] = []
    try:
        net = call(f"{getattr(cls, '__name__', cls)}()", cls)
        W = np.random.default_rng(6).standard_normal((2, 3))
        assign(net.__dict__, "W", W, adapted, "W")
        adapted.append("built with no arguments, the reference W copied into net.W")
    except UserFailure as exc:
        return [_failed_row(i, where, str(exc)) for i in items]
    ref = SimpleNet(W=W)
    cases = (("the book's x (2,) with one-hot t (3,)", np.array([0.6, 0.9]),
              np.array([0.0, 0.0, 1.0])),
             ("a batch x (4, 2) with one-hot t (4, 3)",
              np.random.default_rng(7).standard_normal((4, 2)), np.eye(3)[[0, 2, 1, 1]]))
    rows = []
    for item in items:
        m = item.split(".")[1]
        fn = getattr(net, m, None)
        if not callable(fn):
            rows.append(_not_found(item, (item,), required))
            continue

        def check(fn: Callable[..., Any] = fn, m: str = m) -> CheckResult:
            run = _Run(f"SimpleNet.{m}", "networks", engine="user numpy/float64")
            kind = {"loss": "loss", "gradient": "gradient", "numerical_gradient": "numerical"}[m]
            for case, x, t in cases:
                try:
                    got = call(f"{m}(x, t), {case}", fn, x.copy(), t.copy())
                except UserFailure as exc:
                    run.problem(case, str(exc))
                    continue
                expected = getattr(ref, m)(x, t)
                run.observe("float64", kind, case, np.atleast_1d(np.asarray(got, dtype=float)),
                            np.atleast_1d(expected))
            return run.result()

        rows.append(_guarded(item, f"{where}.{m}", adapted, check))
    return rows


# --------------------------------------------------------------------------- optimizers


_HYPER = {"SGD": {"lr": 0.01}, "Momentum": {"lr": 0.01, "momentum": 0.9},
          "Nesterov": {"lr": 0.01, "momentum": 0.9}, "AdaGrad": {"lr": 0.01},
          "RMSprop": {"lr": 0.01, "decay_rate": 0.99},
          "Adam": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999}}
N_OPT_STEPS = 5


def _optimizer_case(seed: int = 8) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]]]:
    rng = np.random.default_rng(seed)
    shapes = {"W1": (3, 4), "b1": (4,), "W2": (4, 2)}
    params = {k: rng.standard_normal(s) for k, s in shapes.items()}
    grads = [{k: rng.standard_normal(s) for k, s in shapes.items()} for _ in range(N_OPT_STEPS)]
    return params, grads


def _optimizer_rows(code: UserCode, required: bool) -> list[CheckResult]:
    from .steps import check_optimizer_step

    rows = []
    for name in OPTIMIZER_ITEMS:
        hit = code.find((name,))
        if hit is None:
            rows.append(_not_found(name, (name,), required))
            continue
        cls, where = hit
        hyper = dict(_HYPER[name])
        adapted = [f"built as {name}({', '.join(f'{k}={v}' for k, v in hyper.items())}), "
                   f"{N_OPT_STEPS} steps on 3 keys, a new gradient each step"]

        def check(cls: Any = cls, name: str = name, hyper: dict = hyper,
                  adapted: list[str] = adapted) -> CheckResult:
            def run(framework: str) -> CheckResult:
                opt = call(f"{name}(**{hyper})", cls, **hyper)
                if not callable(getattr(opt, "update", None)):
                    raise UserFailure(f"{name} has no update(params, grads) method")
                params, grads = _optimizer_case()
                if framework == "torch":
                    torch = _torch()
                    params = {k: torch.tensor(v) for k, v in params.items()}
                return check_optimizer_step(lambda p, g: opt.update(p, g), name.lower(),
                                            params, grads, **hyper)

            res = run("numpy")
            if not res.passed and " raised " in res.message:
                try:
                    again = run("torch")
                except ImportError:
                    return res
                if " raised " not in again.message:  # a torch optimizer: judged on tensors
                    adapted.append(f"given torch tensors (NumPy arrays raised: "
                                   f"{res.message.splitlines()[1][:200]})")
                    return again
            return res

        rows.append(_guarded(name, where, adapted, check))
    return rows


# --------------------------------------------------------------------------- training step


def _training_row(code: UserCode, setup: NetSetup | None, net_where: str | None,
                  required: bool) -> CheckResult:
    from .steps import check_training_step

    item = "training step"
    hit = code.find(_ALIASES[item], function=True)
    p = reference_params()
    x, labels = data()
    if hit is not None:
        fn, where = hit
        adapted: list[str] = []

        def own_step() -> CheckResult:
            res = check_training_step(fn, p, x, labels, lr=LR)
            if not res.passed and " raised " in res.message:
                hot = check_training_step(fn, p, x, np.eye(SIZES[2])[labels], lr=LR)
                if " raised " not in hot.message:  # a one-hot-only step
                    adapted.append("one-hot-only targets: the step is given one-hot t")
                    return hot
            return res

        return _guarded(item, where, adapted, own_step)
    if setup is None:
        return _not_found(item, (*_ALIASES[item], "TwoLayerNet + SGD"), required)
    sgd = code.find(("SGD",))
    cls = type(setup.net)
    stale: list[bool] = []

    def step(params: dict[str, np.ndarray], xb: np.ndarray, tb: np.ndarray) -> Any:
        adapted: list[str] = []
        net = build_net(cls, adapted)
        load_params(net, params, adapted)
        loss_before = float(np.asarray(net.loss(xb.copy(), tb.copy())))
        grads = net.gradient(xb.copy(), tb.copy())
        if sgd is not None:
            sgd[0](lr=LR).update(net.params, grads)
        else:
            for key in ("W1", "b1", "W2", "b2"):
                net.params[key] -= LR * grads[key]
        loss_after = float(np.asarray(net.loss(xb.copy(), tb.copy())))
        stale.append(loss_after == loss_before)
        return loss_after, grads, dict(net.params)

    how = (f"{net_where}: grads = net.gradient(x, t); "
           + (f"{sgd[1]}(lr={LR}).update(net.params, grads)" if sgd else
              f"params[key] -= {LR} * grads[key]") + "; loss after the update")
    delta = 1e-7 if setup.loss == "cross_entropy_error" else 0

    def check() -> CheckResult:
        res = check_training_step(step, p, x, setup.t, lr=LR, loss_at="after",
                                  activation=setup.activation, delta=delta)
        if not res.passed and stale and stale[0]:
            res.message += f"\ncause: {PARAMS_NOT_COPIED}"
            res.details.setdefault("notes", []).append("parameters not copied into the layers")
        return res

    return _guarded(item, how, [f"composed from the book's loop ({how})"], check)


# --------------------------------------------------------------------------- the whole


def check_module(module_or_path: object, *, require_all: bool = False,
                 dropout_convention: str = "book") -> list[CheckResult]:
    """Find and check every item of :data:`ITEMS` in your code (module docstring).

    ``require_all``: an item not found fails instead of being reported as not found.
    ``dropout_convention``: passed to :func:`verify.api.dropout.check_dropout` (``"book"``,
    ``"inverted"`` or ``"either"``).  Returns one row per item, plus one failed row per file
    that could not be imported (``details["status"] == "import failed"``).
    """
    from .dropout import DROPOUT_CONVENTIONS, check_dropout

    if dropout_convention not in DROPOUT_CONVENTIONS:
        raise ValueError(f"dropout_convention: expected one of {DROPOUT_CONVENTIONS}, got "
                         f"{dropout_convention!r}")
    code = (module_or_path if isinstance(module_or_path, UserCode)
            else load_user_code(module_or_path))
    rows: list[CheckResult] = []
    for what, msg in code.failures:
        row = _failed_row(f"import {what}", what, msg)
        row.details["status"] = "import failed"
        rows.append(row)
    rows += _function_rows(code, require_all)
    rows += _differentiation_rows(code, require_all)
    rows += _simple_net_rows(code, require_all)
    hit = code.find(("TwoLayerNet",))
    setup, where, error = None, None, None
    if hit is not None:
        cls, where = hit
        try:
            setup = setup_two_layer(cls)
        except UserFailure as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - reported on each of its rows
            error = f"could not be set up: {quote(exc)}"
    rows += _net_method_rows(setup, where or "", error, hit is not None, require_all)
    rows += _optimizer_rows(code, require_all)
    hit = code.find(("Dropout",))
    if hit is None:
        rows.append(_not_found("Dropout", ("Dropout",), require_all))
    else:
        cls, dwhere = hit
        rows.append(_guarded("Dropout", dwhere, [],
                             lambda: check_dropout(cls, convention=dropout_convention)))
    rows.append(_training_row(code, setup, where, require_all))
    return rows
