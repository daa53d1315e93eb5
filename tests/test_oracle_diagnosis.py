"""The oracle's diagnosis on book-style code it did not write: every verdict and its named cause.

One row per entry of ``verify.api.diagnosis.CATALOGUE``: a pitfall fixture
(``tests/oracle_fixtures/pitfalls.py``) that makes that mistake must FAIL and the failure must
name that entry (``details["diagnosis"]``) and say its fix; a correct fixture
(``book_style.py``) must pass, in float64 and in float32 without being told.  A test checks that
no catalogue entry is left without its row.  Also here: the defaults of item 7 of issue 11 -
several optimizer steps on several keys, the tolerance class from the inputs with a narrowing
dtype named, loss values compared with the reference.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from oracle_fixtures import book_style as ok  # tests/ is on sys.path (conftest)
from oracle_fixtures import pitfalls as bad

from verify import api
from verify.api import diagnosis
from verify.report import CheckResult


def _params(rng: np.random.Generator, i: int = 4, h: int = 5, k: int = 3) -> dict:
    return {"W1": 0.8 * rng.standard_normal((i, h)), "b1": 0.1 * rng.standard_normal(h),
            "W2": 0.8 * rng.standard_normal((h, k)), "b2": 0.1 * rng.standard_normal(k)}


def _step(step: Callable, i: int = 4, h: int = 5, dtype: type = np.float64,
          **kw: object) -> CheckResult:
    rng = np.random.default_rng(5)
    params = {k: v.astype(dtype) for k, v in _params(rng, i, h).items()}
    x = rng.standard_normal((6, i)).astype(dtype)
    return api.check_training_step(step, params, x, rng.integers(0, 3, 6), **kw)


def _opt(update: Callable, name: str, **kw: object) -> CheckResult:
    """One parameter key and one gradient dict, as a user would pass them: the defaults add
    steps and a second key."""
    rng = np.random.default_rng(3)
    params = {"W": rng.standard_normal((3, 2))}
    grads = {"W": 0.5 * rng.standard_normal((3, 2))}
    return api.check_optimizer_step(update, name, params, grads, **kw)


def _net_gradient(grad_fn: Callable) -> CheckResult:
    net = ok.TwoLayerNet(4, 5, 3, seed=1)
    rng = np.random.default_rng(101)
    x, t = rng.random((3, 4)), rng.integers(0, 3, 3)
    return api.check_gradient(lambda _: net.loss(x, t), net.params, grad_fn(net, x, t))


def _simple_net(cls: type, *, square: bool = False, reference: bool = False) -> CheckResult:
    """A SimpleNet-style check_gradient; with ``reference`` the loss value is compared too."""
    from reference_numpy.functions import cross_entropy_error, softmax

    rng = np.random.default_rng(8)
    k = 3
    w = rng.standard_normal((k if square else 2, k))
    x, t = rng.standard_normal((4, w.shape[0])), rng.integers(0, k, 4)
    net = cls(w)
    ref = (lambda W: float(cross_entropy_error(softmax(x @ W), t))) if reference else None
    return api.check_gradient(lambda _: net.loss(x, t), net.W, net.gradient(x, t), delta=1e-7,
                              loss_reference=ref)


def _delta_gradient() -> CheckResult:
    y = np.random.default_rng(2).standard_normal((5, 4))
    t = np.array([0, 3, 1, 1, 2])
    return api.check_gradient(lambda a: float(ok.cross_entropy_error(ok.softmax(a), t)), y,
                              (ok.softmax(y) - np.eye(4)[t]) / 5)


def _dropout(layer_cls: type) -> tuple[bool, list[str]]:
    """What a dropout check (verify.api.dropout, written elsewhere) does with the catalogue:
    judge train and test outputs against the book's convention, and on a failure try the
    "dropout" entries with the layer's own mask."""
    x = np.random.default_rng(4).standard_normal((6, 5))
    layer = layer_cls(0.4, seed=1)
    outs = [(True, layer.forward(x, True), layer.mask), (False, layer.forward(x, False), None)]
    contexts, values = [], []
    for train, out, mask in outs:
        ref = x * mask if train else x * 0.6
        contexts.append(("train" if train else "test",
                         {"x": x, "mask": mask if train else outs[0][2], "ratio": 0.4,
                          "train": train, "convention": "book"},
                         not diagnosis.agrees("float64", "function", out, ref)))
        values.append(out)
    passed = not any(c[2] for c in contexts)
    found = diagnosis.explain("dropout", contexts, lambda i, cand: diagnosis.agrees(
        "float64", "function", values[i], cand))
    return passed, [f.variant.name for f in found]


def _fn(fn: Callable, ref: str, **kw: object) -> Callable[[], CheckResult]:
    return lambda: api.check_function(fn, ref, **kw)


def _bwd(bwd: Callable, ref: str, **kw: object) -> Callable[[], CheckResult]:
    return lambda: api.check_backward(None, ref, backward=bwd, **kw)


#: (row, check, the catalogue entry it must name, a phrase of the fix that must be said)
PITFALLS: list[tuple[str, Callable[[], CheckResult], str, str]] = [
    ("SoftmaxWithLoss with δ", _fn(bad.softmax_with_loss_delta, "softmax_cross_entropy"),
     "delta = 1e-7 inside the log", "pass delta=1e-07"),
    ("cross_entropy_error without δ", _fn(bad.cross_entropy_exact_log, "cross_entropy_error"),
     "no delta inside the log", "pass delta=0"),
    ("δ outside the log", _fn(bad.cross_entropy_delta_outside, "cross_entropy_error"),
     "delta outside the log", "write log(y + delta)"),
    ("(N, 1) labels broadcast", _fn(bad.cross_entropy_n1_broadcast, "cross_entropy_error"),
     "(N, 1) labels broadcast", "t = t.reshape(-1)"),
    ("soft targets argmaxed", _fn(bad.cross_entropy_soft_argmax, "cross_entropy_error"),
     "soft targets argmaxed", "argmax only labels"),
    ("sum instead of mean", _fn(bad.cross_entropy_sum, "cross_entropy_error"),
     "sum instead of mean", "divide by the batch size"),
    ("BCE over the batch only", _fn(bad.binary_cross_entropy_over_batch,
                                    "binary_cross_entropy"),
     "BCE averaged over the batch only", "np.mean"),
    ("BCE summed", _fn(bad.binary_cross_entropy_sum, "binary_cross_entropy"), "BCE summed",
     "np.mean"),
    ("MAE backward without / n", _bwd(bad.mean_absolute_error_backward_no_mean,
                                      "mean_absolute_error"),
     "backward missing 1/n", "divide the gradient by y.size"),
    ("mean over N·K", _fn(bad.cross_entropy_mean_all, "cross_entropy_error"),
     "mean over all elements", "divide by the batch size N only"),
    ("MSE as a mean", _fn(bad.mean_squared_error_mean, "mean_squared_error"),
     "reduction 'mean'", "reference_kwargs={'reduction': 'mean'}"),
    ("MSE as a sum", _fn(bad.mean_squared_error_sum, "mean_squared_error"),
     "reduction 'sum'", "reference_kwargs={'reduction': 'sum'}"),
    ("MSE half-sum, mean declared", _fn(ok.mean_squared_error, "mean_squared_error",
                                        reference_kwargs={"reduction": "mean"}),
     "reduction 'half_sum'", "reference_kwargs={'reduction': 'half_sum'}"),
    ("softmax over axis 0", _fn(bad.softmax_axis0, "softmax"), "softmax over axis 0",
     "use axis=-1"),
    ("softmax hard-coded axis=1", _fn(bad.softmax_axis1, "softmax"),
     "softmax over axis 1 of a 3-D input", "use axis=-1"),
    ("log_softmax hard-coded axis=1", _fn(lambda a: np.log(bad.softmax_axis1(a)),
                                          "log_softmax", inputs={"3-D": np.ones((2, 3, 4))}),
     "softmax over axis 1 of a 3-D input", "use axis=-1"),
    ("softmax without the max shift", _fn(bad.softmax_unshifted, "softmax"),
     "softmax without the max shift", "subtract a.max"),
    ("log(softmax(a))", _fn(bad.log_softmax_naive, "log_softmax"), "log of softmax",
     "log-sum-exp"),
    ("step(0) = 1", _fn(bad.step_function_ge, "step_function"), "step(0) = 1", "x > 0"),
    ("ReLU'(0) = 1", _bwd(bad.relu_backward_one_at_zero, "relu"), "ReLU'(0) = 1",
     "ReLU'(0) = 0"),
    ("sigmoid backward from x", _bwd(bad.sigmoid_backward_from_input, "sigmoid"),
     "sigmoid backward from x", "dout·y·(1 - y)"),
    ("sigmoid_grad of the output", _bwd(bad.sigmoid_backward_of_output, "sigmoid"),
     "sigmoid_grad of the output", "takes the pre-activation"),
    ("softmax VJP without Σ", _bwd(bad.softmax_backward_no_sum, "softmax"),
     "softmax backward without Σ", "np.sum(dout * y"),
    ("SoftmaxWithLoss backward without / N", _bwd(bad.softmax_with_loss_backward_no_mean,
                                                  "softmax_cross_entropy"),
     "backward missing 1/N", "divide the gradient by the batch size"),
    ("Adam ε inside √", lambda: _opt(bad.AdamEpsInside().update, "adam"),
     "Adam ε inside the square root", "put ε outside"),
    ("Adam, Algorithm 1", lambda: _opt(bad.AdamPaper().update, "adam"),
     "Adam, the paper's Algorithm 1", "lr_t = lr·√(1 - β2ᵗ)/(1 - β1ᵗ)"),
    ("Adam, Algorithm 1 with ε = 1e-7", lambda: _opt(bad.AdamPaper(eps=1e-7).update, "adam"),
     "Adam, Algorithm 1 with ε = 1e-7", "uncorrected √v"),
    ("Adam counter per key", lambda: _opt(bad.AdamCounterPerKey().update, "adam"),
     "Adam step counter per key", "increment t once per call"),
    ("Adam built every call", lambda: _opt(bad.adam_fresh_state, "adam"),
     "state rebuilt every call", "keep it between calls"),
    ("Momentum built every call", lambda: _opt(bad.momentum_fresh_state, "momentum"),
     "state rebuilt every call", "keep it between calls"),
    ("Nesterov, older order", lambda: _opt(bad.NesterovOldOrder().update, "nesterov"),
     "Nesterov, older update order", "2021 correction"),
    ("momentum uphill", lambda: _opt(bad.MomentumSign().update, "momentum"),
     "momentum sign", "v ← m·v - lr·g"),
    ("momentum, old velocity", lambda: _opt(bad.MomentumStale().update, "momentum"),
     "momentum order", "update v first"),
    ("AdaGrad ε inside √", lambda: _opt(bad.AdaGradEpsInside().update, "adagrad"),
     "AdaGrad ε inside the square root", "put ε outside"),
    ("RMSprop ε inside √", lambda: _opt(bad.RMSpropEpsInside().update, "rmsprop"),
     "RMSprop ε inside the square root", "put ε outside"),
    ("step: loss after the update", lambda: _step(bad.training_step_loss_after),
     "loss after the update", "pass loss_at='after'"),
    ("step: loss before, after declared", lambda: _step(ok.training_step, loss_at="after"),
     "loss before the update", "pass loss_at='before'"),
    ("step: loss with δ", lambda: _step(bad.training_step_delta_loss),
     "loss before the update, δ", "pass delta=1e-7"),
    ("step: loss after the update with δ", lambda: _step(bad.training_step_loss_after_delta),
     "loss after the update, δ", "pass loss_at='after' and delta=1e-7"),
    ("step: σ' from the pre-activation", lambda: _step(bad.training_step_sigmoid_from_input),
     "sigmoid backward from x, in the network", "dz·z1·(1 - z1)"),
    ("step: backward without / N", lambda: _step(bad.training_step_no_mean),
     "step without 1/N", "by the batch size N"),
    ("step: gradient ascent", lambda: _step(bad.training_step_ascent), "update sign",
     "subtract the gradient"),
    ("step: square W1 transposed", lambda: _step(bad.training_step_w1_transposed, i=5),
     "weight returned transposed", "(inputs, outputs)"),
    ("step: net.params assigned, layers keep theirs",
     lambda: _step(bad.training_step_params_not_copied), "parameters not used",
     "net.params[k][...] = v"),
    ("gradient: (y - t)/N for a δ loss", _delta_gradient, "gradient δ convention",
     "pass delta=1e-7"),
    ("gradient: sign", lambda: _net_gradient(bad.negated_gradient), "gradient sign",
     "not -dL/dx"),
    ("gradient: square dW transposed", lambda: _simple_net(bad.SimpleNetTransposedGrad,
                                                           square=True),
     "gradient transposed", "own layout"),
    ("loss ÷ number of classes", lambda: _simple_net(bad.SimpleNetOverClasses,
                                                     reference=True),
     "loss ÷ integer", "divide by the batch size only"),
    ("loss summed over the batch", lambda: _simple_net(bad.SimpleNetSummed, reference=True),
     "loss × integer", "divide by the batch size"),
]

#: Dropout entries, tried as the dropout check tries them (see _dropout).
DROPOUT = [("inverted dropout", bad.DropoutInverted, "inverted dropout"),
           ("no test-time scaling", bad.DropoutNoTestScale,
            "dropout without test-time scaling")]


@pytest.mark.parametrize("row", range(len(PITFALLS)), ids=[r[0] for r in PITFALLS])
def test_pitfall_fails_and_names_its_cause(row: int) -> None:
    name, check, cause, fix = PITFALLS[row]
    res = check()
    assert not res.passed, (name, res.message)
    assert cause in res.details.get("diagnosis", []), (name, res.details, res.message)
    line = next((ln for ln in res.message.splitlines() if ln.startswith("diagnosis:")
                 and fix in ln), None)
    assert line is not None, (name, fix, res.message)


@pytest.mark.parametrize("name,cls,cause", DROPOUT, ids=[r[0] for r in DROPOUT])
def test_dropout_variants_are_named(name: str, cls: type, cause: str) -> None:
    passed, found = _dropout(cls)
    assert not passed and cause in found, (name, found)


def test_book_dropout_passes_and_names_nothing() -> None:
    assert _dropout(ok.Dropout) == (True, [])


def test_every_catalogue_entry_has_a_pitfall_row() -> None:
    covered = {r[2] for r in PITFALLS} | {r[2] for r in DROPOUT} | {"book dropout"}
    missing = [v.name for v in diagnosis.CATALOGUE if v.name not in covered]
    assert not missing, missing


def test_catalogue_is_defined_once() -> None:
    """The folded hint helpers are gone: the catalogue is the one place."""
    from verify.api import functions, steps

    assert not hasattr(functions, "_convention_hints") and not hasattr(steps, "_loss_hints")
    assert len({v.name for v in diagnosis.CATALOGUE}) == len(diagnosis.CATALOGUE)


# --------------------------------------------------------------------------- correct code passes

CORRECT: list[tuple[str, Callable[[], CheckResult]]] = [
    *((n, _fn(getattr(ok, n), n)) for n in ("sigmoid", "relu", "softmax", "log_softmax",
                                             "step_function", "cross_entropy_error",
                                             "mean_squared_error")),
    *((f"{n} float32", _fn(lambda x, f=f: f(x.astype(np.float32)), n))
      for n, f in (("sigmoid", ok.sigmoid), ("relu", ok.relu), ("softmax", ok.softmax),
                   ("log_softmax", ok.log_softmax))),
    ("cross_entropy_error float32", _fn(lambda y, t: ok.cross_entropy_error(
        y.astype(np.float32), t.astype(np.float32) if t.dtype.kind == "f" else t),
        "cross_entropy_error")),
    ("binary_cross_entropy", _fn(ok.binary_cross_entropy, "binary_cross_entropy")),
    ("mean_absolute_error backward", _bwd(ok.mean_absolute_error_backward,
                                          "mean_absolute_error")),
    ("relu backward", _bwd(ok.relu_backward, "relu")),
    ("sigmoid backward", _bwd(ok.sigmoid_backward, "sigmoid")),
    ("softmax backward", _bwd(ok.softmax_backward, "softmax")),
    ("sigmoid float32 forward + backward", lambda: api.check_function(
        lambda x: ok.sigmoid(x.astype(np.float32)), "sigmoid",
        backward=lambda x, g: ok.sigmoid_backward(x.astype(np.float32), g))),
    ("softmax float32 backward, fn says float32", lambda: api.check_backward(
        lambda a: ok.softmax(a.astype(np.float32)), "softmax",
        backward=lambda a, g: ok.softmax_backward(a.astype(np.float32), g))),
    *((f"{n} optimizer", lambda n=n, c=c: _opt(c().update, n))
      for n, c in (("momentum", ok.Momentum), ("nesterov", ok.Nesterov),
                   ("adagrad", ok.AdaGrad), ("rmsprop", ok.RMSprop), ("adam", ok.Adam))),
    ("sgd", lambda: _opt(ok.sgd, "sgd", lr=0.01)),
    ("training step float64", lambda: _step(ok.training_step)),
    ("training step float32, no dtype given", lambda: _step(ok.training_step_f32,
                                                            dtype=np.float32)),
    ("training step float32 params, float64 arithmetic", lambda: _step(ok.training_step,
                                                                       dtype=np.float32)),
    ("gradient", lambda: _net_gradient(lambda net, x, t: net.gradient(x, t))),
    ("SimpleNet gradient and loss value", lambda: _simple_net(ok.SimpleNet, reference=True)),
]


@pytest.mark.parametrize("row", range(len(CORRECT)), ids=[r[0] for r in CORRECT])
def test_correct_fixture_passes(row: int) -> None:
    name, check = CORRECT[row]
    res = check()
    assert res.passed, (name, res.message)
    assert "diagnosis" not in res.details, (name, res.details)
    if "float32" in name and "arithmetic" not in name:
        assert res.tolerance_class == "float32-cpu", (name, res.tolerance_class, res.details)


def test_float32_implementation_is_judged_as_float32_without_being_told() -> None:
    res = api.check_function(lambda x: ok.sigmoid(x.astype(np.float32)), "sigmoid",
                             backward=lambda x, g: ok.sigmoid_backward(x.astype(np.float32), g))
    assert res.passed and "float32" in res.details["dtype_detected"], res.details
    assert res.name == "sigmoid forward and backward (your backward) (user numpy/float32)"
    # Told float64, the same code is a narrowing: named, and a failure.
    told = api.check_function(lambda x: ok.sigmoid(x.astype(np.float32)), "sigmoid",
                              dtype="float64")
    assert not told.passed and "returned float32 from float64 inputs" in told.message


def test_float64_step_returning_a_float32_loss_fails_naming_the_change() -> None:
    res = _step(bad.training_step_float32_loss)
    assert not res.passed and res.where == "loss", res.message
    assert "returned float32 from float64 inputs" in res.message
    assert res.tolerance_class == "float64"


def test_wider_result_is_named_not_failed() -> None:
    """float32 params, float64 arithmetic: judged as float32 (its inputs), the change listed."""
    res = _step(ok.training_step, dtype=np.float32)
    assert res.passed and res.tolerance_class == "float32-cpu"
    assert any("returned float64 from float32 inputs" in c for c in res.details["dtype_changes"])


# --------------------------------------------------------------------------- optimizer defaults


@pytest.mark.parametrize("update", [bad.adam_fresh_state, bad.AdamCounterPerKey().update],
                         ids=["fresh state every call", "counter per key"])
def test_optimizer_defaults_catch_what_one_step_on_one_key_misses(update: Callable) -> None:
    """Measured: each bug passes the old default (one step, the caller's one key) and fails the
    new one (3 steps, a second key of another shape added)."""
    old = _opt(update, "adam", steps=1, extra_key=False)
    assert old.passed, old.message
    new = _opt(update, "adam")
    assert not new.passed and new.details["steps"] == 3
    assert new.details["keys"] == ["W", "_oracle_extra"], new.details


def test_optimizer_extra_key_only_when_one_shape_and_named_when_ignored() -> None:
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    res = api.check_optimizer_step(ok.Adam().update, "adam", params, grads)
    assert res.passed and res.details["keys"] == ["W", "b"]

    def fixed_names(p: dict, g: dict) -> None:
        p["W"] -= 0.01 * g["W"]

    res = _opt(fixed_names, "sgd")
    assert not res.passed and "pass extra_key=False" in res.message
    assert _opt(fixed_names, "sgd", extra_key=False).passed


# --------------------------------------------------------------------------- default cases


def test_default_cases_hold_the_chapters_pitfalls() -> None:
    """From verify/cases.py's one table: ties with one-hot targets, NaN and Inf for the losses,
    exact zeros for ReLU and step, large logits, 1-D and 3-D for softmax and log_softmax."""
    from verify.api.functions import _builtin_cases

    names = {r: {c.name for c in _builtin_cases(r, 0)} for r in (
        "cross_entropy_error", "softmax_cross_entropy", "softmax", "log_softmax", "relu",
        "step_function", "binary_cross_entropy")}
    for r in ("cross_entropy_error", "softmax_cross_entropy"):
        assert {"ties at the argmax, one-hot", "NaN in a row", "ties",
                "large logits"} <= names[r], names[r]
    assert "+Inf at the label" in names["cross_entropy_error"]
    assert "+Inf logit" in names["softmax_cross_entropy"]
    for r in ("softmax", "log_softmax"):
        assert {"1-D input (7,)", "3-D input (2, 3, 4), last axis", "ties",
                "large logits", "NaN/Inf"} <= names[r], names[r]
    for r in ("relu", "step_function"):
        assert {"exact zeros", "NaN/Inf"} <= names[r]
    assert "NaN in y" in names["binary_cross_entropy"]


def test_a_loss_that_hides_nan_fails_on_the_nan_case() -> None:
    res = api.check_function(lambda y, t: ok.cross_entropy_error(np.nan_to_num(y), t),
                             "cross_entropy_error")
    assert not res.passed and res.where.startswith("NaN in a row"), res.message


def test_no_diagnosis_for_a_mistake_outside_the_catalogue() -> None:
    """A learning rate 1% off is no catalogue entry: it fails, and nothing is named (in float32
    the δ variant of the loss agrees with the exact loss, so it must not be said either)."""
    for dtype in (np.float64, np.float32):
        res = _step(lambda p, x, t: ok.training_step(p, x, t, lr=0.101), dtype=dtype)
        assert not res.passed and "diagnosis" not in res.details, res.message
        assert "diagnosis:" not in res.message


def test_loss_reference_is_checked_and_a_correct_loss_passes() -> None:
    res = _simple_net(ok.SimpleNet, reference=True)
    assert res.passed and res.details["loss_value"]["class"] == "float64"
    with pytest.raises(TypeError, match="loss_reference: expected a callable"):
        api.check_gradient(lambda w: float(np.sum(w)), np.ones(3), np.ones(3),
                           loss_reference=1.0)
    with pytest.raises(ValueError, match="loss_reference: raised ZeroDivisionError"):
        api.check_gradient(lambda w: float(np.sum(w)), np.ones(3), np.ones(3),
                           loss_reference=lambda w: 1 / 0)


def test_optimizer_rounding_allowance_is_needed_and_enough() -> None:
    """A correct Nesterov that adds its update in one expression differs from the reference
    (two additions) by the rounding of p from step 2 on: without the allowance it is a float64
    false alarm; with it, it passes while a learning rate 0.1% off still fails."""
    from verify.api import steps

    rng = np.random.default_rng(1)
    params = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    grads = {k: 0.5 * rng.standard_normal(v.shape) for k, v in params.items()}
    assert api.check_optimizer_step(ok.Nesterov().update, "nesterov", params, grads).passed
    off = api.check_optimizer_step(ok.Nesterov(lr=0.01 * 1.001).update, "nesterov", params,
                                   grads)
    assert not off.passed
    saved = steps.ROUNDING_HALF_ULPS
    try:
        steps.ROUNDING_HALF_ULPS = 0
        assert not api.check_optimizer_step(ok.Nesterov().update, "nesterov", params,
                                            grads).passed
    finally:
        steps.ROUNDING_HALF_ULPS = saved
