"""Bad input to the reference engines, one table row per case (issue 13).

Each row builds a call from an engine (``numpy`` or ``torch``, one test per engine that has the
name) and a scratch folder, and says which exception and which message fragment (naming the
argument) must come.  Every row then checks that nothing changed: every array or tensor
reachable from the arguments (dict values, a network's parameters, an optimizer's state, a
plan's arrays) is bit-for-bit as before, and the scratch folder holds exactly the files it held
(same bytes), so no half-written or temporary file is left behind.

``ROWS`` is grouped (functions, gradient, networks, optimizers, plan, files, training);
``python tests/test_bad_inputs.py`` prints the number of cases per group, as the README cites.
"""

from __future__ import annotations

import json
import math
import pickle
import sys
import types
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import reference_numpy as rn
import reference_torch as rt

ENGINES = {"numpy": rn, "torch": rt}
CPU = torch.device("cpu")


# --------------------------------------------------------------------------- engine helpers


class Eng:
    """What a row needs from an engine: its module, and how to make its arrays."""

    def __init__(self, name: str) -> None:
        self.name, self.m = name, ENGINES[name]

    def arr(self, a: Any) -> Any:
        a = np.asarray(a)
        return torch.from_numpy(a.copy()) if self.name == "torch" else a.copy()

    def net(self, **kw: Any) -> Any:
        extra = {"device": "cpu"} if self.name == "torch" else {}
        return self.m.TwoLayerNet(4, 3, 2, seed=0, **extra, **kw)

    def params(self) -> dict[str, Any]:
        return {k: self.arr(v) for k, v in rn.init_params(4, 3, 2, 0.1, seed=0).items()}


def plan(**kw: Any) -> rn.TrainPlan:
    base = {"train_size": 6, "batch_size": 2, "iters_num": 3, "input_size": 4, "hidden_size": 3,
            "output_size": 2}  # fmt: skip
    return rn.TrainPlan(**{**base, **kw})


def data(n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((n, 4)), rng.integers(0, 2, n)


def nan_pixel(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    x[1, 2] = np.nan
    return x


def readonly(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.flags.writeable = False
    return a


def inference(t: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return t.clone()


def frozen(e: Eng, a: Any) -> Any:
    """A parameter that cannot be updated in place: read-only (NumPy), inference (torch)."""
    return readonly(a) if e.name == "numpy" else inference(a)


def repeated(e: Eng, n: int = 3) -> Any:
    """A writeable array whose n elements are one memory location (stride 0)."""
    if e.name == "torch":
        return torch.ones(1, dtype=torch.float64).expand(n)
    base = np.ones(1)
    return np.lib.stride_tricks.as_strided(base, shape=(n,), strides=(0,), writeable=True)


def write_params(e: Eng, d: Path) -> Path:
    p = d / "params.npz"
    np.savez(p, **rn.init_params(4, 3, 2, seed=0))
    return p


def write_bytes(d: Path, name: str, data: bytes) -> Path:
    p = d / name
    p.write_bytes(data)
    return p


def truncated_npz(d: Path) -> Path:
    p = write_params(None, d)
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) // 2])
    return p


def object_npz(d: Path) -> Path:
    p = d / "obj.npz"
    arrs = dict(rn.init_params(4, 3, 2, seed=0))
    arrs["W1"] = np.array([1, "x"], dtype=object)
    np.savez(p, **arrs)
    return p


def npy_file(d: Path) -> Path:
    p = d / "params.npy"
    np.save(p, np.ones(3))
    return p


def plan_file(d: Path) -> Path:
    p = d / "plan.npz"
    plan().save(p)
    return p


def history_file(d: Path, **extra: Any) -> Path:
    p = d / "history.json"
    p.write_text(json.dumps({**rn.TrainHistory().to_dict(), **extra}))
    return p


def object_init() -> dict[str, np.ndarray]:
    init = rn.init_params(4, 3, 2, seed=0)
    init["W1"] = np.empty((4, 3), dtype=object)
    return init


def other_engine(e: Eng) -> Eng:
    return Eng("torch" if e.name == "numpy" else "numpy")


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Row:
    group: str
    id: str
    build: Callable[[Eng, Path], tuple[Callable[..., Any], tuple, dict]]
    exc: type[BaseException]
    match: str
    engines: tuple[str, ...] = ("numpy", "torch")


#: TrainPlan, TrainHistory and EarlyStopping are one class in both engines (reference_torch
#: re-exports reference_numpy's: test_shared_classes_are_one_class), so their rows run once.
SHARED = ("numpy",)


def call(fn_name: str, *args: Any, **kwargs: Any):
    """A builder calling engine.fn_name(*args, **kwargs), arrays made in the engine's kind;
    an argument that is a callable of the engine is called first (lazy construction)."""

    def build(e: Eng, d: Path) -> tuple[Callable[..., Any], tuple, dict]:
        def lazy(a: Any) -> Any:
            return a(e) if callable(a) and getattr(a, "_lazy", False) else a

        return getattr(e.m, fn_name), tuple(lazy(a) for a in args), {
            k: lazy(v) for k, v in kwargs.items()
        }

    return build


def A(value: Any) -> Callable[[Eng], Any]:
    """An array argument: a NumPy array in the NumPy engine, a tensor in torch's."""
    f = lambda e: e.arr(value)  # noqa: E731
    f._lazy = True  # type: ignore[attr-defined]
    return f


def L(fn: Callable[[Eng], Any]) -> Callable[[Eng], Any]:
    """Any engine-dependent argument."""
    fn._lazy = True  # type: ignore[attr-defined]
    return fn


def method(make: Callable[[Eng, Path], Any], name: str, *args: Any, **kwargs: Any):
    """A builder calling make(e, d).name(*args, **kwargs) (args lazily made as in ``call``)."""

    def build(e: Eng, d: Path) -> tuple[Callable[..., Any], tuple, dict]:
        def lazy(a: Any) -> Any:
            return a(e) if callable(a) and getattr(a, "_lazy", False) else a

        obj = make(e, d)
        return getattr(obj, name), (obj, *(lazy(a) for a in args))[1:], {
            k: lazy(v) for k, v in kwargs.items()
        }

    return build


def custom(fn: Callable[[Eng, Path], tuple[Callable[..., Any], tuple, dict]]):
    return fn


Y = np.full((2, 3), 1 / 3)
T_LAB = np.array([0, 2])
EMPTY_Y = np.zeros((0, 3))
RAGGED = [[1.0, 2.0], [3.0]]
OPTS = ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam")


def _opt_update(opt_name: str, bad: str):
    """optimizer.update with the second of four parameters unusable (``bad``): nothing moves."""

    def build(e: Eng, d: Path):
        opt = getattr(e.m, opt_name)(lr=0.1)
        params, grads = e.params(), {k: e.arr(np.ones(v.shape)) for k, v in e.params().items()}
        if bad == "frozen":
            params["b1"] = frozen(e, params["b1"])
        elif bad == "repeated":
            params["b1"] = repeated(e)
        elif bad == "aliased":
            params["b2"] = params["b1"][:2]  # a view of b1 under another key
            grads["b2"] = e.arr(np.ones(2))
        elif bad == "nan_last":
            grads["b2"] = e.arr(np.array([1.0, np.nan]))
        return opt.update, (params, grads), {}

    return build


def _train(e: Eng, d: Path, *, net: Any = None, **kw: Any):
    x, t = data()
    args = {"network": e.net() if net is None else net, "x_train": e.arr(x), "t_train": e.arr(t),
            "x_test": e.arr(x), "t_test": e.arr(t), "plan": plan()}  # fmt: skip
    args.update(kw)
    args = {k: (v(e) if callable(v) and getattr(v, "_lazy", False) else v) for k, v in args.items()}
    return e.m.train, (), {"progress": False, **args}


ROWS: list[Row] = [
    # ------------------------------------------------------------------ functions
    *(
        Row("functions", f"{fn}-empty-batch", call(fn, A(EMPTY_Y), A(np.zeros(0, np.int64))),
            ValueError, "t: expected targets for at least one sample")
        for fn in ("cross_entropy_error", "cross_entropy_error_grad", "softmax_cross_entropy",
                   "softmax_cross_entropy_grad")
    ),  # fmt: skip
    *(
        Row("functions", f"{fn}-empty-batch", call(fn, A(EMPTY_Y), A(EMPTY_Y)),
            ValueError, "y: expected at least one element")
        for fn in ("mean_squared_error", "mean_squared_error_grad", "mean_absolute_error",
                   "mean_absolute_error_grad", "binary_cross_entropy", "binary_cross_entropy_grad")
    ),  # fmt: skip
    Row("functions", "cross_entropy_error-no-classes", call("cross_entropy_error",
        A(np.zeros((2, 0))), A(np.zeros(2, np.int64))), ValueError,
        "y: expected at least one class"),  # fmt: skip
    Row("functions", "log_softmax-0d", call("log_softmax", A(np.float64(2.0))), ValueError,
        "a: expected at least 1 dimension"),
    Row("functions", "softmax-0d", call("softmax", A(np.float64(2.0))), ValueError,
        "a: expected at least 1 dimension"),
    Row("functions", "softmax-no-scores", call("softmax", A(np.zeros((3, 0)))), ValueError,
        r"a: expected at least one score on the last axis, got shape \(3, 0\)"),
    Row("functions", "log_softmax-no-scores", call("log_softmax", A(np.zeros((3, 0)))),
        ValueError, "a: expected at least one score"),
    Row("functions", "bce-y-above-1", call("binary_cross_entropy", A([[0.5, 1.5]]),
        A([[0.0, 1.0]])), ValueError, r"y: expected probabilities in \[0, 1\], got 1.5"),
    Row("functions", "bce-y-negative", call("binary_cross_entropy", A([-0.1, 0.5]),
        A([0.0, 1.0])), ValueError, r"y: expected probabilities in \[0, 1\]"),
    Row("functions", "bce-t-outside", call("binary_cross_entropy", A([0.2, 0.5]),
        A([2.0, 1.0])), ValueError, r"t: expected probabilities in \[0, 1\]"),
    Row("functions", "bce_grad-y-outside", call("binary_cross_entropy_grad", A([0.2, 1.5]),
        A([0.0, 1.0])), ValueError, r"y: expected probabilities"),
    Row("functions", "cee_grad-negative-delta", call("cross_entropy_error_grad", A(Y),
        A(T_LAB), delta=-1e-7), ValueError, "delta: expected a finite number >= 0"),
    Row("functions", "cee-string-delta", call("cross_entropy_error", A(Y), A(T_LAB),
        delta="1e-7"), TypeError, "delta: expected a real number"),
    Row("functions", "cee_grad-string-delta", call("cross_entropy_error_grad", A(Y), A(T_LAB),
        delta="1e-7"), TypeError, "delta: expected a real number"),
    Row("functions", "bce-string-delta", call("binary_cross_entropy", A([0.2]), A([1.0]),
        delta="1e-7"), TypeError, "delta: expected a real number"),
    Row("functions", "cee-nan-delta", call("cross_entropy_error", A(Y), A(T_LAB),
        delta=float("nan")), ValueError, "delta: expected a finite number"),
    Row("functions", "softmax-ragged", call("softmax", RAGGED), ValueError,
        "a: expected an array"),
    Row("functions", "sigmoid-ragged", call("sigmoid", RAGGED), ValueError,
        "x: expected an array"),
    Row("functions", "mse-ragged-target", call("mean_squared_error", A([1.0, 2.0]), RAGGED),
        ValueError, "t: expected an array"),
    Row("functions", "cee-ragged-labels", call("cross_entropy_error", A(Y), [[0], [1, 2]]),
        ValueError, "t: expected an array"),
    Row("functions", "cee-uint64-label", call("cross_entropy_error", A(Y),
        A(np.array([0, 2**63 + 5], dtype=np.uint64))), ValueError,
        r"t: expected labels in \[0, 3\), got 9223372036854775813 at index 1"),
    Row("functions", "cee-negative-label", call("cross_entropy_error", A(Y), A([0, -1])),
        ValueError, r"t: expected labels in \[0, 3\), got -1"),
    Row("functions", "sigmoid-object", call("sigmoid", np.array([1, "x"], dtype=object)),
        TypeError, "x: expected a real numeric array"),
    Row("functions", "relu-string", call("relu", "abc"), TypeError,
        "x: expected a real numeric array"),
    Row("functions", "step-complex", call("step_function", np.array([1j])), TypeError,
        "x: expected a real numeric array"),
    Row("functions", "mse-shape-mismatch", call("mean_squared_error", A(Y), A(Y[:1])),
        ValueError, r"t: expected the shape of y"),
    Row("functions", "mse-bad-reduction", call("mean_squared_error", A(Y), A(Y),
        reduction="avg"), ValueError, "reduction: expected one of"),
    Row("functions", "softmax_backward-shape", call("softmax_backward", A(Y), A(Y[:, :2])),
        ValueError, "dout: expected the shape of y"),
    Row("functions", "cee-3d", call("cross_entropy_error", A(np.ones((2, 2, 3))), A([0, 1])),
        ValueError, "y: expected a 1-D"),
    Row("functions", "cee-soft-target-wrong-shape", call("cross_entropy_error", A(Y),
        A(np.ones((3, 3)) / 3)), ValueError, "t: expected one-hot targets"),
    Row("functions", "sigmoid-requires-grad-tensor", call("sigmoid",
        torch.ones(3, requires_grad=True)), TypeError, "x: expected a NumPy array",
        engines=("numpy",)),
    Row("functions", "softmax-requires-grad-tensor", call("softmax",
        torch.ones(2, 3, requires_grad=True)), TypeError, "a: expected a NumPy array",
        engines=("numpy",)),
    Row("functions", "cee-requires-grad-target", call("cross_entropy_error", Y,
        torch.zeros(2, 3, requires_grad=True)), TypeError, "t: expected a NumPy array",
        engines=("numpy",)),
    Row("functions", "mse-target-on-numpy-object", call("mean_squared_error", A([1.0]),
        np.array([None], dtype=object)), TypeError, "t: expected a real numeric array"),
    # ------------------------------------------------------------------ gradient
    Row("gradient", "numerical_gradient-vector-f", call("numerical_gradient",
        L(lambda e: (lambda x: x * 2)), A(np.array([1.0, 2.0]))), TypeError,
        r"f: expected f\(x\) to return a real scalar"),
    Row("gradient", "numerical_gradient-string-f", call("numerical_gradient",
        L(lambda e: (lambda x: "1.0")), A(np.array([1.0, 2.0]))), TypeError,
        r"f: expected f\(x\) to return a real scalar"),
    Row("gradient", "numerical_gradient-vector-f-forward", call("numerical_gradient",
        L(lambda e: (lambda x: x * 2)), A(np.array([1.0, 2.0])), method="forward"), TypeError,
        r"f: expected f\(x\) to return a real scalar"),
    Row("gradient", "numerical_gradient-readonly", call("numerical_gradient",
        L(lambda e: (lambda x: float((x**2).sum()))), L(lambda e: frozen(e, e.arr([1.0, 2.0])))),
        ValueError, "x: expected a (writeable array|tensor that can be changed in place)"),
    Row("gradient", "numerical_gradient-aliased", call("numerical_gradient",
        L(lambda e: (lambda x: float(x.sum()))), L(repeated)), ValueError,
        "x: expected a.* whose elements are distinct in memory"),
    Row("gradient", "numerical_gradient-int", call("numerical_gradient",
        L(lambda e: (lambda x: 0.0)), A(np.array([1, 2]))), TypeError,
        "x: expected a floating-point"),
    Row("gradient", "numerical_gradient-list", call("numerical_gradient",
        L(lambda e: (lambda x: 0.0)), [1.0, 2.0]), TypeError, "x: expected a"),
    Row("gradient", "numerical_gradient-string-h", call("numerical_gradient",
        L(lambda e: (lambda x: 0.0)), A(np.array([1.0])), h="1e-4"), TypeError,
        "h: expected a real number"),
    Row("gradient", "numerical_gradient-bad-method", call("numerical_gradient",
        L(lambda e: (lambda x: 0.0)), A(np.array([1.0])), method="sideways"), ValueError,
        "method: expected one of"),
    Row("gradient", "numerical_diff-zero-h", call("numerical_diff", math.sin, 1.0, h=0),
        ValueError, "h: expected a finite number > 0"),
    Row("gradient", "numerical_diff-string-h", call("numerical_diff", math.sin, 1.0, h="0.1"),
        TypeError, "h: expected a real number"),
    Row("gradient", "gradient_descent-string-lr", call("gradient_descent",
        L(lambda e: (lambda x: 0.0)), A(np.array([1.0])), lr="0.1"), TypeError,
        "lr: expected a real number"),
    Row("gradient", "gradient_descent-negative-steps", call("gradient_descent",
        L(lambda e: (lambda x: 0.0)), A(np.array([1.0])), step_num=-1), ValueError,
        "step_num: expected a non-negative int"),
    Row("gradient", "gradient_descent-nonfinite-start", call("gradient_descent",
        L(lambda e: (lambda x: 0.0)), A(np.array([np.inf]))), ValueError,
        "init_x: expected finite values"),
    Row("gradient", "gradient_descent-ragged-start", call("gradient_descent",
        L(lambda e: (lambda x: 0.0)), RAGGED), ValueError, "init_x: expected an array"),
    Row("gradient", "convergence_order-one-step", call("convergence_order", math.exp, 0.0, 1.0,
        hs=[1e-2]), ValueError, "hs: expected at least two step sizes"),
    Row("gradient", "numerical_gradient-nan-x", call("numerical_gradient",
        L(lambda e: (lambda x: float(x.sum()))), A(np.array([np.nan, 1.0]))), ValueError,
        r"x: expected finite values, got nan at index \(0,\)"),
    Row("gradient", "numerical_diff-vector-f", call("numerical_diff",
        lambda x: np.array([x, x]), 1.0), TypeError, r"f: expected f\(x\) to return a real",
        engines=SHARED),
    Row("gradient", "convergence_order-string-hs", call("convergence_order", math.exp, 0.0,
        1.0, hs="abc"), TypeError, "hs: expected a real numeric array"),
    Row("gradient", "gradient_descent-grad-shape", call("gradient_descent",
        L(lambda e: (lambda x: 0.0)), A(np.ones(2)), grad=L(lambda e: (lambda x: e.arr(
            np.ones(3))))), ValueError, r"grad: expected grad\(x\)"),
    Row("gradient", "gradient_descent-huge-path", call("gradient_descent",
        L(lambda e: (lambda x: 0.0)), A(np.ones(2)), step_num=10**15), ValueError,
        "step_num: the path of 1000000000000000 steps would need"),
    Row("gradient", "numerical_gradient_fast-bad-shape", call("numerical_gradient_fast",
        lambda pts: pts.sum(), A(np.array([1.0, 2.0]))), ValueError,
        r"f_batched: expected a tensor of shape", engines=("torch",)),
    # ------------------------------------------------------------------ networks
    *(
        Row("networks", f"TwoLayerNet.{m}-empty-batch",
            method(lambda e, d: e.net(), m, A(np.zeros((0, 4))), A(np.zeros(0, np.int64))),
            ValueError, "t: expected targets for at least one sample")
        for m in ("loss", "accuracy", "gradient")
    ),  # fmt: skip
    Row("networks", "TwoLayerNet.loss-ragged-x", method(lambda e, d: e.net(), "loss", RAGGED,
        A(T_LAB)), ValueError, "x: expected an array", engines=("numpy",)),
    Row("networks", "TwoLayerNet.loss-list-x", method(lambda e, d: e.net(), "loss", RAGGED,
        A(T_LAB)), TypeError, "x: expected a torch.Tensor", engines=("torch",)),
    Row("networks", "TwoLayerNet.loss-requires-grad-x", method(lambda e, d: e.net(), "loss",
        torch.ones(2, 4, requires_grad=True), T_LAB), TypeError, "x: expected a NumPy array",
        engines=("numpy",)),
    Row("networks", "TwoLayerNet.loss-numpy-x", method(lambda e, d: e.net(), "loss",
        np.ones((2, 4)), torch.tensor([0, 1])), TypeError, "x: expected a torch.Tensor",
        engines=("torch",)),
    Row("networks", "TwoLayerNet.loss-float32-x", method(lambda e, d: e.net(), "loss",
        torch.ones(2, 4, dtype=torch.float32), torch.tensor([0, 1])), TypeError,
        "x: expected dtype torch.float64", engines=("torch",)),
    Row("networks", "TwoLayerNet.loss-wrong-width", method(lambda e, d: e.net(), "loss",
        A(np.ones((2, 5))), A(T_LAB)), ValueError, r"x: expected shape \(N, 4\)"),
    Row("networks", "TwoLayerNet.loss-label-out-of-range", method(lambda e, d: e.net(), "loss",
        A(np.ones((2, 4))), A([0, 2])), ValueError, r"t: expected labels in \[0, 2\)"),
    Row("networks", "TwoLayerNet.gradient-mask-shape", method(lambda e, d: e.net(
        dropout_ratio=0.5), "gradient", A(np.ones((2, 4))), A(T_LAB[:2] % 2),
        dropout_mask=A(np.ones((2, 2)))), ValueError, "dropout_mask: expected shape"),
    Row("networks", "TwoLayerNet-object-params", custom(lambda e, d: (e.m.TwoLayerNet, (4, 3, 2),
        {"params": {**rn.init_params(4, 3, 2), "W1": np.empty((4, 3), dtype=object)}})),
        TypeError, r"params\['W1'\]: expected a real numeric array"),
    Row("networks", "TwoLayerNet-wrong-shape-params", custom(lambda e, d: (e.m.TwoLayerNet,
        (4, 3, 2), {"params": {**rn.init_params(4, 3, 2), "b2": np.zeros(3)}})), ValueError,
        r"params\['b2'\]: expected shape \(2,\)"),
    Row("networks", "TwoLayerNet-nan-params", custom(lambda e, d: (e.m.TwoLayerNet, (4, 3, 2),
        {"params": {**rn.init_params(4, 3, 2), "b1": np.array([0.0, np.nan, 0.0])}})),
        ValueError, r"params\['b1'\]: expected finite values"),
    Row("networks", "TwoLayerNet-string-size", custom(lambda e, d: (e.m.TwoLayerNet,
        ("4", 3, 2), {})), ValueError, "input_size: expected a positive int"),
    Row("networks", "TwoLayerNet-bad-activation", custom(lambda e, d: (e.m.TwoLayerNet,
        (4, 3, 2), {"activation": "tanh"})), ValueError, "activation: expected one of"),
    Row("networks", "TwoLayerNet-string-decay", custom(lambda e, d: (e.m.TwoLayerNet,
        (4, 3, 2), {"weight_decay_lambda": "0.1"})), TypeError,
        "weight_decay_lambda: expected a real number"),
    Row("networks", "SimpleNet-ragged-W", custom(lambda e, d: (e.m.SimpleNet, (RAGGED,), {})),
        ValueError, "W: expected an array"),
    Row("networks", "SimpleNet.loss-wrong-width", method(lambda e, d: e.m.SimpleNet(seed=0),
        "loss", A(np.ones((2, 5))), A(np.array([0, 1]))), ValueError,
        r"x: expected shape \(2,\) or \(N, 2\)"),
    Row("networks", "init_params-string-seed", call("init_params", 4, 3, 2, seed="a"),
        TypeError, "seed: expected None or a non-negative int", engines=SHARED),
    Row("networks", "TwoLayerNet-negative-seed", custom(lambda e, d: (e.m.TwoLayerNet,
        (4, 3, 2), {"seed": -1})), TypeError, "seed: expected None or a non-negative int"),
    Row("networks", "init_params-zero-size", call("init_params", 0, 3, 2), ValueError,
        "input_size: expected a positive int"),
    # ------------------------------------------------------------------ optimizers
    *(Row("optimizers", f"{o}-frozen-param", _opt_update(o, "frozen"), ValueError,
          r"params\['b1'\]: expected a (writeable array|tensor that can be changed in place)")
      for o in OPTS),  # fmt: skip
    *(Row("optimizers", f"{o}-repeated-param", _opt_update(o, "repeated"), ValueError,
          r"params\['b1'\]: expected a.* whose elements are distinct in memory")
      for o in ("SGD", "Adam")),  # fmt: skip
    *(Row("optimizers", f"{o}-aliased-params", _opt_update(o, "aliased"), ValueError,
          r"params\['b2'\]: expected its own memory, got memory shared with params\['b1'\]")
      for o in ("SGD", "Momentum")),  # fmt: skip
    *(Row("optimizers", f"{o}-nan-in-last-grad", _opt_update(o, "nan_last"), ValueError,
          r"grads\['b2'\]: expected finite values") for o in ("SGD", "Adam")),
    Row("optimizers", "SGD-missing-grad", custom(lambda e, d: (e.m.SGD().update,
        (e.params(), {"W1": e.arr(np.ones((4, 3)))}), {})), KeyError,
        "grads: expected a gradient for parameter 'b1'"),
    Row("optimizers", "SGD-string-grad", custom(lambda e, d: (e.m.SGD().update,
        (e.params(), {**e.params(), "b1": np.array(["a", "b", "c"])}), {})), TypeError,
        r"grads\['b1'\]: expected a"),
    Row("optimizers", "SGD-grad-shape", custom(lambda e, d: (e.m.SGD().update,
        (e.params(), {**e.params(), "b1": e.arr(np.ones(2))}), {})), ValueError,
        r"grads\['b1'\]: expected shape"),
    Row("optimizers", "SGD-list-params", custom(lambda e, d: (e.m.SGD().update,
        ([1.0], {}), {})), TypeError, "params: expected a dict"),
    Row("optimizers", "SGD-string-lr", call("SGD", "0.1"), TypeError,
        "lr: expected a real number"),
    Row("optimizers", "Momentum-string-momentum", call("Momentum", 0.1, "0.9"), TypeError,
        "momentum: expected a real number"),
    Row("optimizers", "Adam-string-beta", call("Adam", 0.1, "0.9"), TypeError,
        "beta1: expected a real number"),
    Row("optimizers", "RMSprop-decay-1", call("RMSprop", 0.1, 1.0), ValueError,
        r"decay_rate: expected a value in \(0, 1\)"),
    Row("optimizers", "Adam-beta-1", call("Adam", 0.1, 1.0), ValueError,
        r"beta1: expected a value in \[0, 1\)"),
    # ------------------------------------------------------------------ plan
    Row("plan", "TrainPlan-object-init", custom(lambda e, d: (e.m.TrainPlan, (6, 2, 3),
        {"input_size": 4, "hidden_size": 3, "output_size": 2, "init": object_init()})),
        TypeError, r"init\['W1'\]: expected a real numeric array", engines=SHARED),
    Row("plan", "TrainPlan-init-shape", custom(lambda e, d: (e.m.TrainPlan, (6, 2, 3),
        {"init": rn.init_params(4, 3, 2)})), ValueError,
        r"init\['W1'\]: expected shape \(784, 50\) \(from the plan's sizes\), got \(4, 3\)",
        engines=SHARED),
    Row("plan", "TrainPlan-init-nan", custom(lambda e, d: (e.m.TrainPlan, (6, 2, 3),
        {"input_size": 4, "hidden_size": 3, "output_size": 2,
         "init": {**rn.init_params(4, 3, 2), "b2": np.array([np.nan, 0.0])}})),
        ValueError, r"init\['b2'\]: expected finite values", engines=SHARED),
    Row("plan", "TrainPlan-init-missing-key", custom(lambda e, d: (e.m.TrainPlan, (6, 2, 3),
        {"input_size": 4, "hidden_size": 3, "output_size": 2,
         "init": {"W1": np.zeros((4, 3))}})), ValueError, "init: expected keys", engines=SHARED),
    Row("plan", "TrainPlan-init-extra-key", custom(lambda e, d: (e.m.TrainPlan, (6, 2, 3),
        {"input_size": 4, "hidden_size": 3, "output_size": 2,
         "init": {**rn.init_params(4, 3, 2), "W3": np.zeros(2)}})), ValueError,
        "init: expected keys", engines=SHARED),
    Row("plan", "TrainPlan-init-not-dict", custom(lambda e, d: (e.m.TrainPlan, (6, 2, 3),
        {"init": [1, 2]})), TypeError, "init: expected a dict of arrays", engines=SHARED),
    Row("plan", "TrainPlan-zero-train", custom(lambda e, d: (e.m.TrainPlan, (0, 2, 3), {})),
        ValueError, "train_size: expected a positive int", engines=SHARED),
    Row("plan", "TrainPlan-bad-sampling", custom(lambda e, d: (e.m.TrainPlan, (6, 2, 3),
        {"sampling": "random"})), ValueError, "sampling: expected one of", engines=SHARED),
    Row("plan", "TrainPlan-float-indices", custom(lambda e, d: (e.m.TrainPlan, (6, 2, 3),
        {"batch_indices": np.zeros((3, 2))})), ValueError,
        "batch_indices: expected an int array", engines=SHARED),
    Row("plan", "TrainPlan.save-object-init", custom(lambda e, d: (
        _with(plan(), init=object_init()).save, (d / "p.npz",), {})), TypeError,
        r"plan\['init_W1'\]: expected a numeric array", engines=SHARED),
    Row("plan", "TrainPlan.load-params-file", custom(lambda e, d: (e.m.TrainPlan.load,
        (write_params(e, d),), {})), ValueError, r"params\.npz: expected a TrainPlan archive",
        engines=SHARED),
    Row("plan", "TrainPlan.load-truncated", custom(lambda e, d: (e.m.TrainPlan.load,
        (truncated_npz(d),), {})), ValueError, r"params\.npz: expected an \.npz archive",
        engines=SHARED),
    Row("plan", "TrainPlan.load-npy", custom(lambda e, d: (e.m.TrainPlan.load,
        (npy_file(d),), {})), ValueError, r"params\.npy: expected an \.npz archive, got a "
        r"single \.npy array", engines=SHARED),
    Row("plan", "TrainPlan.load-object-array", custom(lambda e, d: (e.m.TrainPlan.load,
        (object_npz(d),), {})), ValueError, r"obj\.npz: .*pickle", engines=SHARED),
    Row("plan", "TrainPlan.load-text", custom(lambda e, d: (e.m.TrainPlan.load,
        (write_bytes(d, "x.npz", b"not an archive"),), {})), ValueError, r"x\.npz: expected",
        engines=SHARED),
    Row("plan", "TrainPlan.load-bad-meta", custom(lambda e, d: (e.m.TrainPlan.load,
        (_plan_with(d, meta_sampling=np.int64(3)),), {})), ValueError,
        r"bad\.npz: not a valid TrainPlan: meta_sampling: expected a string", engines=SHARED),
    Row("plan", "TrainPlan.load-bad-values", custom(lambda e, d: (e.m.TrainPlan.load,
        (_plan_with(d, meta_batch_size=np.int64(0)),), {})), ValueError,
        r"bad\.npz: not a valid TrainPlan: batch_size: expected a positive int", engines=SHARED),
    Row("plan", "TrainPlan-string-dropout", custom(lambda e, d: (e.m.TrainPlan, (6, 2, 3),
        {"dropout_ratio": "0.5"})), TypeError, "dropout_ratio: expected a real number",
        engines=SHARED),
    Row("plan", "TrainPlan-huge", custom(lambda e, d: (e.m.TrainPlan, (6, 2, 10**15), {})),
        ValueError, "iters_num: the batch indices of 1000000000000000 iterations of 2 would "
        "need", engines=SHARED),
    Row("plan", "TrainPlan.dropout_mask-out-of-range", method(lambda e, d: plan(
        dropout_ratio=0.5), "dropout_mask", 3), IndexError,
        r"i: expected an iteration in \[0, 3\), got 3", engines=SHARED),
    Row("plan", "dropout_mask-out-of-range", custom(lambda e, d: (e.m.dropout_mask,
        (plan(dropout_ratio=0.5), -1), {})), IndexError, "i: expected an iteration",
        engines=("torch",)),
    Row("plan", "plan_tensors-not-plan", call("plan_tensors", "plan"), TypeError,
        "plan: expected a TrainPlan", engines=("torch",)),
    Row("plan", "dropout_masks-bad-window", custom(lambda e, d: (e.m.dropout_masks,
        (plan(dropout_ratio=0.5),), {"start": 2, "stop": 1})), IndexError,
        "start, stop: expected", engines=("torch",)),
    # ------------------------------------------------------------------ files
    Row("files", "save_params-object-array", custom(lambda e, d: (e.m.save_params,
        ({**rn.init_params(4, 3, 2), "W1": np.array([1, "x"], dtype=object)}, d / "p.npz"), {})),
        TypeError, r"params\['W1'\]: expected a numeric array \(saved without pickle\)"),
    Row("files", "save_params-ragged", custom(lambda e, d: (e.m.save_params,
        ({**rn.init_params(4, 3, 2), "b1": RAGGED}, d / "p.npz"), {})), ValueError,
        r"params\['b1'\]: expected an array"),
    Row("files", "save_params-missing-key", custom(lambda e, d: (e.m.save_params,
        ({"W1": np.zeros((4, 3))}, d / "p.npz"), {})), ValueError, "params: expected keys"),
    Row("files", "save_params-inconsistent-shapes", custom(lambda e, d: (e.m.save_params,
        ({**e.params(), "b1": e.arr(np.zeros(4))}, d / "p.npz"), {})), ValueError,
        r"params\['b1'\]: expected shape \(3,\) \(from W1 \(4, 3\)"),
    Row("files", "save_params-1d-weights", custom(lambda e, d: (e.m.save_params,
        ({**e.params(), "W1": e.arr(np.zeros(4))}, d / "p.npz"), {})), ValueError,
        "params: expected 2-D W1 and W2"),
    Row("files", "save_params-int-array", custom(lambda e, d: (e.m.save_params,
        ({**e.params(), "b2": e.arr(np.zeros(2, np.int64))}, d / "p.npz"), {})), TypeError,
        r"params\['b2'\]: expected a floating-point array"),
    Row("files", "save_params-not-dict", custom(lambda e, d: (e.m.save_params,
        ([1, 2], d / "p.npz"), {})), TypeError, "params: expected a dict of arrays"),
    Row("files", "load_params-missing-file", custom(lambda e, d: (e.m.load_params,
        (d / "none.npz",), {})), FileNotFoundError, r"none\.npz"),
    Row("files", "load_params-truncated", custom(lambda e, d: (e.m.load_params,
        (truncated_npz(d),), {})), ValueError, r"params\.npz: expected an \.npz archive"),
    Row("files", "load_params-not-zip", custom(lambda e, d: (e.m.load_params,
        (write_bytes(d, "p.npz", b"PK\x03\x04garbage"),), {})), ValueError,
        r"p\.npz: expected an \.npz archive"),
    Row("files", "load_params-npy", custom(lambda e, d: (e.m.load_params, (npy_file(d),), {})),
        ValueError, r"params\.npy: expected an \.npz archive, got a single \.npy array"),
    Row("files", "load_params-object-array", custom(lambda e, d: (e.m.load_params,
        (object_npz(d),), {})), ValueError, r"obj\.npz: .*pickle"),
    Row("files", "load_params-pickle", custom(lambda e, d: (e.m.load_params,
        (write_bytes(d, "p.npz", pickle.dumps({"W1": 1})),), {})), ValueError,
        r"p\.npz: .*pickle"),
    Row("files", "load_params-plan-file", custom(lambda e, d: (e.m.load_params,
        (plan_file(d),), {})), ValueError, r"plan\.npz: expected arrays .* missing"),
    Row("files", "load_json-extra-key", custom(lambda e, d: (e.m.TrainHistory.load_json,
        (history_file(d, extra=1),), {})), ValueError,
        r"history\.json: expected keys among .* unexpected \['extra'\]", engines=SHARED),
    Row("files", "load_json-not-json", custom(lambda e, d: (e.m.TrainHistory.load_json,
        (write_bytes(d, "h.json", b"{nope"),), {})), ValueError,
        r"h\.json: expected a JSON object, could not parse", engines=SHARED),
    Row("files", "load_json-list", custom(lambda e, d: (e.m.TrainHistory.load_json,
        (write_bytes(d, "h.json", b"[1, 2]"),), {})), ValueError,
        r"h\.json: expected a JSON object, got list", engines=SHARED),
    # ------------------------------------------------------------------ training
    Row("training", "train-empty-test", custom(lambda e, d: _train(e, d,
        x_test=A(np.zeros((0, 4))), t_test=A(np.zeros(0, np.int64)))), ValueError,
        r"x_test: expected at least one row \(test accuracy is measured on it\)"),
    Row("training", "train-empty-train", custom(lambda e, d: _train(e, d,
        x_train=A(np.zeros((0, 4))), t_train=A(np.zeros(0, np.int64)))), ValueError,
        "x_train: expected at least one row"),
    Row("training", "train-empty-val", custom(lambda e, d: _train(e, d,
        early_stopping=rn.EarlyStopping(), x_val=A(np.zeros((0, 4))),
        t_val=A(np.zeros(0, np.int64)))), ValueError, "x_val: expected at least one row"),
    Row("training", "train-nan-pixel", custom(lambda e, d: _train(e, d,
        x_train=A(nan_pixel(data()[0])))), ValueError,
        r"x_train: expected finite values, got nan at index \(1, 2\)"),
    Row("training", "train-inf-test", custom(lambda e, d: _train(e, d,
        x_test=A(np.where(np.eye(6, 4) > 0, np.inf, data()[0])))), ValueError,
        "x_test: expected finite values"),
    Row("training", "train-nan-val", custom(lambda e, d: _train(e, d,
        early_stopping=rn.EarlyStopping(), x_val=A(nan_pixel(data()[0])), t_val=A(data()[1]))),
        ValueError, "x_val: expected finite values"),
    Row("training", "train-other-engines-network", custom(lambda e, d: _train(e, d,
        net=other_engine(e).net())), TypeError,
        r"network: expected reference_\w+\.TwoLayerNet, got reference_\w+\.networks\.TwoLayerNet"),
    Row("training", "train-other-engines-optimizer", custom(lambda e, d: _train(e, d,
        optimizer=other_engine(e).m.SGD(0.1))), TypeError,
        r"optimizer: expected a reference_\w+\.Optimizer, got reference_\w+\.optimizers\.SGD"),
    Row("training", "train-plan-not-plan", custom(lambda e, d: _train(e, d, plan="plan")),
        TypeError, r"plan: expected reference_\w+\.TrainPlan, got builtins\.str"),
    Row("training", "train-early-stopping-not", custom(lambda e, d: _train(e, d,
        early_stopping=3)), TypeError, "early_stopping: expected"),
    Row("training", "train-allow-nonfinite-string", custom(lambda e, d: _train(e, d,
        allow_nonfinite="yes")), TypeError, "allow_nonfinite: expected True or False"),
    Row("training", "train-allow-nonfinite-fused", custom(lambda e, d: _train(e, d,
        allow_nonfinite=True, mode="fused")), ValueError,
        "mode: allow_nonfinite checks each step's loss"),
    Row("training", "train-rows-vs-plan", custom(lambda e, d: _train(e, d,
        x_train=A(data(5)[0]), t_train=A(data(5)[1]))), ValueError,
        "x_train: the plan expects 6 training rows, got 5"),
    Row("training", "train-soft-targets", custom(lambda e, d: _train(e, d,
        t_train=A(np.full((6, 2), 0.5)))), ValueError, "t_train: expected labels or one-hot"),
    Row("training", "train-plan-sizes", custom(lambda e, d: _train(e, d,
        plan=plan(hidden_size=5))), ValueError, "network: the plan is for sizes"),
    Row("training", "train-bad-mode", custom(lambda e, d: _train(e, d, mode="turbo")),
        ValueError, "mode: expected one of"),
    Row("training", "train-early-stopping-no-val", custom(lambda e, d: _train(e, d,
        early_stopping=rn.EarlyStopping())), ValueError,
        "x_val, t_val: early_stopping needs held-out data"),
    Row("training", "EarlyStopping-string-min-delta", call("EarlyStopping", 3, "0.1"),
        TypeError, "min_delta: expected a real number", engines=SHARED),
    Row("training", "EarlyStopping-negative-min-delta", call("EarlyStopping", 3, -0.1),
        ValueError, "min_delta: expected a finite number >= 0", engines=SHARED),
    Row("training", "EarlyStopping-zero-patience", call("EarlyStopping", 0), ValueError,
        "patience: expected a positive int", engines=SHARED),
    Row("training", "holdout_split-too-many", call("holdout_split", A(np.ones((4, 2))),
        A(np.zeros(4)), 4), ValueError, r"n_val: expected an int in \(0, 4\)"),
    Row("training", "holdout_split-string-seed", call("holdout_split", A(np.ones((4, 2))),
        A(np.zeros(4)), 1, seed="x"), TypeError, "seed: expected None or a non-negative int"),
    Row("training", "holdout_split-length-mismatch", call("holdout_split", A(np.ones((4, 2))),
        A(np.zeros(3)), 1), ValueError, "t: expected 4 rows"),
]


def _with(p: rn.TrainPlan, **fields: Any) -> rn.TrainPlan:
    """``p`` with public fields reassigned after construction (bypassing __post_init__)."""
    for k, v in fields.items():
        setattr(p, k, v)
    return p


def _plan_with(d: Path, **arrays: Any) -> Path:
    """A saved plan with some of its arrays replaced."""
    src = plan_file(d)
    with np.load(src) as z:
        content = {k: z[k] for k in z.files}
    src.unlink()
    out = d / "bad.npz"
    np.savez(out, **{**content, **arrays})
    return out


# --------------------------------------------------------------------------- the check


def _leaves(obj: Any, path: str = "arg", seen: set[int] | None = None) -> Iterator[tuple]:
    """(path, array or tensor) for every array reachable from obj (dicts, lists, objects)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, (np.ndarray, torch.Tensor)):
        yield path, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, f"{path}[{k!r}]", seen)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _leaves(v, f"{path}[{i}]", seen)
    elif isinstance(obj, torch.nn.Module):
        for k, v in obj.named_parameters():
            yield from _leaves(v, f"{path}.{k}", seen)
    elif isinstance(obj, types.MethodType):  # a bound method: its object's state
        yield from _leaves(obj.__self__, f"{path}.__self__", seen)
    elif hasattr(obj, "__dict__") and not callable(obj):
        for k, v in vars(obj).items():
            yield from _leaves(v, f"{path}.{k}", seen)


def _copy(a: Any) -> Any:
    if isinstance(a, torch.Tensor):
        with torch.inference_mode(a.is_inference()):
            return a.detach().clone()
    return a.copy()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        raw = [np.ascontiguousarray(v.detach().cpu().numpy()).tobytes() for v in (a, b)]
        return raw[0] == raw[1]
    if a.dtype.kind == "O":
        return a.shape == b.shape and all(x is y for x, y in zip(a.flat, b.flat, strict=True))
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def _files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


CASES = [
    pytest.param(row, eng, id=f"{row.group}-{row.id}-{eng}")
    for row in ROWS
    for eng in row.engines
]


@pytest.mark.parametrize("row,engine", CASES)
def test_bad_input_is_refused_and_changes_nothing(row: Row, engine: str, tmp_path: Path):
    e = Eng(engine)
    fn, args, kwargs = row.build(e, tmp_path)
    leaves = list(_leaves((fn, args, kwargs)))
    before = [(p, _copy(a)) for p, a in leaves]
    files = _files(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a warning is not the refusal under test
        with pytest.raises(row.exc, match=row.match):
            fn(*args, **kwargs)
    pairs = zip(before, leaves, strict=True)
    changed = [p for (p, old), (_, new) in pairs if not _same(old, new)]
    assert not changed, f"changed by a refused call: {changed}"
    assert _files(tmp_path) == files, "files were written, changed or left behind"


# --------------------------------------------------------------------------- beyond refusals


@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_allow_nonfinite_runs_and_stops_naming_iteration_and_tensor(engine: str):
    """One NaN pixel: refused by default (see the table); with allow_nonfinite=True the run is
    eager and stops at the first non-finite loss, naming the iteration and tensor."""
    e = Eng(engine)
    x, t = data()
    x = nan_pixel(x)  # row 1
    p = plan()
    first = next(i for i in range(p.iters_num) if 1 in p.batch(i))
    net = e.net()
    with pytest.warns(RuntimeWarning, match=f"iteration {first}: params"):
        hist = e.m.train(net, e.arr(x), e.arr(t), e.arr(x), e.arr(t), p, progress=False,
                         allow_nonfinite=True)  # fmt: skip
    assert hist.stopped_at == first
    assert hist.meta["mode"] == "eager" and hist.meta["allow_nonfinite"] is True
    assert f"iteration {first}: params['W1'] became non-finite" in hist.meta["nonfinite"]
    assert len(hist.train_loss_list) == first + 1
    assert math.isnan(hist.train_loss_list[-1])


@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_allow_nonfinite_with_finite_batches_runs_through(engine: str):
    """NaN only in a row no batch draws: the run completes, the same as without the option."""
    e = Eng(engine)
    x, t = data()

    def unused_rows(p: rn.TrainPlan) -> list[int]:
        drawn = set(np.concatenate([p.batch(i) for i in range(p.iters_num)]).tolist())
        return [r for r in range(p.train_size) if r not in drawn]

    # 3 batches of 2 with replacement leave a row undrawn for most seeds; take the first such.
    p = next(q for q in (plan(seed=s) for s in range(50)) if unused_rows(q))
    unused = unused_rows(p)[0]
    bad = x.copy()
    bad[unused, 0] = np.nan
    ref = e.m.train(e.net(), e.arr(x), e.arr(t), e.arr(x), e.arr(t), p, progress=False,
                    mode="eager")  # fmt: skip
    got = e.m.train(e.net(), e.arr(bad), e.arr(t), e.arr(x), e.arr(t), p, progress=False,
                    allow_nonfinite=True)  # fmt: skip
    assert got.stopped_at is None
    assert got.train_loss_list == ref.train_loss_list


def test_history_json_is_strict_and_round_trips(tmp_path: Path):
    h = rn.TrainHistory(train_loss_list=[1.0, float("nan"), float("inf"), -float("inf")])
    path = tmp_path / "h.json"
    h.save_json(path)

    def refuse(token: str) -> None:
        raise AssertionError(f"non-JSON token {token} written")

    json.loads(path.read_text(), parse_constant=refuse)
    back = rn.TrainHistory.load_json(path)
    assert back.train_loss_list[0] == 1.0 and math.isnan(back.train_loss_list[1])
    assert back.train_loss_list[2:] == [math.inf, -math.inf]


@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_torch_numerical_gradient_of_distinct_elements_is_unchanged(engine: str):
    """The aliasing check refuses only shared elements: a strided (not aliased) view works."""
    e = Eng(engine)
    base = e.arr(np.arange(6.0))
    view = base[::2]
    g = e.m.numerical_gradient(lambda v: float((v**2).sum()), view)
    np.testing.assert_allclose(np.asarray(g), 2 * np.asarray(view), rtol=1e-8)


def test_shared_classes_are_one_class():
    assert rt.TrainPlan is rn.TrainPlan
    assert rt.TrainHistory is rn.TrainHistory
    assert rt.EarlyStopping is rn.EarlyStopping


def test_numpy_integers_are_ints():
    """Counts given as NumPy integers (a shape entry, an array element) are accepted."""
    rn.EarlyStopping(np.int64(2))
    (_, _), (xv, _) = rn.holdout_split(np.ones((4, 2)), np.zeros(4), np.int64(1))
    assert len(xv) == 1


def test_readme_counts_are_generated():
    """README's table of cases is the one scripts/bad_input_counts.py generates from ROWS."""
    import importlib.util

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("counts", root / "scripts/bad_input_counts.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    readme = (root / "README.md").read_text(encoding="utf-8")
    stale = "stale: run python scripts/bad_input_counts.py --write"
    assert mod.readme_with_block(readme) == readme, stale


def counts() -> Counter[str]:
    """Cases (row x engine) per group, as collected by pytest."""
    return Counter(row.group for row in ROWS for _ in row.engines)


if __name__ == "__main__":
    c = counts()
    for group, n in c.items():
        print(f"{group}: {n}")
    print(f"total: {sum(c.values())} cases in {len(ROWS)} rows")
    sys.exit(0)
