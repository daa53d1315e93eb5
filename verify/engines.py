"""Engines: one uniform face over reference_numpy and reference_torch, in any dtype and device.

Every method takes NumPy float64 inputs and returns NumPy float64 outputs, so a check can run the
same inputs through any engine and compare with the float64 reference.  Conversions happen here
and only here; the checks never see a tensor.

Each engine looks its functions up in the reference modules *at call time*, so ``selftest`` can
plant a bug by patching a module attribute and every check sees it.

What an engine hands back from its reference package is described by Protocols, not by a
class: ``Array`` is the engine's own array (``np.ndarray`` or ``torch.Tensor``), ``EngineNet``
the part of ``TwoLayerNet`` that verify uses (both references satisfy it), ``EngineOptimizer``
that of an optimizer.  They are for readers and type checkers only; nothing checks them at run
time.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, cast

import numpy as np

from reference_numpy.networks import PARAM_NAMES

from .compare import to_numpy

if TYPE_CHECKING:
    from reference_numpy.plan import TrainPlan
    from reference_numpy.runrules import TrainHistory

__all__ = ["Engine", "NumpyEngine", "TorchEngine", "engines_for", "FUNCTIONS", "reference_engine",
           "Array", "EngineNet", "EngineOptimizer", "ReplayStep", "TrainData"]

#: An engine's own array: ``np.ndarray`` (NumPy engine) or ``torch.Tensor`` (torch engine).
#: ``Any`` because the two share no base class and verify must import without torch.
Array: TypeAlias = Any

#: ((x_train, t_train), (x_test, t_test)), float64 inputs and integer labels.
TrainData: TypeAlias = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

#: replay_stepper's step: (p, xb, tb, lr) -> (gradients, update, loss after the update), float64.
ReplayStep: TypeAlias = Callable[
    [dict[str, np.ndarray], np.ndarray, np.ndarray, float],
    tuple[dict[str, np.ndarray], dict[str, np.ndarray], float],
]


class EngineNet(Protocol):
    """What verify uses of either reference's ``TwoLayerNet`` (arrays in the engine's own kind).

    NumPy's ``loss`` returns a float, torch's a 0-d tensor; ``Engine.back`` takes either."""

    @property
    def params(self) -> dict[str, Array]: ...

    def loss(self, x: Array, t: Array, dropout_mask: Array | None = None) -> Array | float: ...

    def gradient(self, x: Array, t: Array,
                 dropout_mask: Array | None = None) -> dict[str, Array]: ...

    def numerical_gradient_fast(self, x: Array, t: Array,
                                dropout_mask: Array | None = None) -> dict[str, Array]: ...


class AutogradNet(EngineNet, Protocol):
    """torch's network: also differentiates its loss by autograd."""

    def autograd_gradient(self, x: Array, t: Array,
                          dropout_mask: Array | None = None) -> dict[str, Array]: ...


class EngineOptimizer(Protocol):
    """Either reference's optimizers (``OPTIMIZERS[name](**hyper)``): ``update`` checks its
    inputs, ``apply_unchecked`` is the unchecked core (the optimizers' module docstring)."""

    def update(self, params: MutableMapping[str, Array], grads: Mapping[str, Array]) -> None: ...

    def apply_unchecked(self, params: MutableMapping[str, Array],
                        grads: Mapping[str, Array]) -> None: ...

#: name -> {"kind": "activation" (called as f(x)) or "loss" (called as f(y, t)), "grad": the
#: name of its hand-written backward in both references, or None where there is none}.
FUNCTIONS: dict[str, dict[str, object]] = {
    "sigmoid": {"kind": "activation", "grad": "sigmoid_grad"},
    "relu": {"kind": "activation", "grad": "relu_grad"},
    "softmax": {"kind": "activation", "grad": "softmax_backward"},
    "log_softmax": {"kind": "activation", "grad": None},
    "step_function": {"kind": "activation", "grad": None},
    "mean_squared_error": {"kind": "loss", "grad": "mean_squared_error_grad"},
    "mean_absolute_error": {"kind": "loss", "grad": "mean_absolute_error_grad"},
    "cross_entropy_error": {"kind": "loss", "grad": "cross_entropy_error_grad"},
    "softmax_cross_entropy": {"kind": "loss", "grad": "softmax_cross_entropy_grad"},
    "binary_cross_entropy": {"kind": "loss", "grad": "binary_cross_entropy_grad"},
}


@dataclass
class Engine:
    """Base: subclasses convert arrays and call their reference package."""

    framework: str
    dtype: str = "float64"
    device: str = "cpu"
    allow_tf32: bool = False
    _mods: dict[str, ModuleType] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        dev = "" if self.framework == "numpy" else f"/{self.device}"
        return f"{self.framework}{dev}/{self.dtype}"

    @property
    def tolerance_class(self) -> str:
        if self.dtype == "float64":
            return "float64"
        if not self.device.startswith("cuda"):
            return "float32-cpu"  # TF32 exists only on CUDA: a CPU float32 run is float32
        return "tf32" if self.allow_tf32 else "float32-cuda"

    def mod(self, name: str) -> ModuleType:
        """The reference package's submodule ``name`` (functions, networks, ...)."""
        if name not in self._mods:
            pkg = "reference_numpy" if self.framework == "numpy" else "reference_torch"
            self._mods[name] = importlib.import_module(f"{pkg}.{name}")
        return self._mods[name]

    def fn(self, module: str, name: str) -> Any:
        """The submodule's attribute ``name``: a function, a class or a table (``OPTIMIZERS``)."""
        return getattr(self.mod(module), name)

    # conversions (overridden by TorchEngine)
    def to(self, a: np.ndarray) -> Array:
        return np.asarray(a, dtype=self.dtype)

    def to_labels(self, t: np.ndarray) -> Array:
        return np.asarray(t)

    def to_targets(self, t: np.ndarray) -> Array:
        """Integer labels as the engine's labels; one-hot or soft targets (floats) as its
        arrays."""
        t = np.asarray(t)
        return self.to_labels(t) if t.dtype.kind in "iu" else self.to(t)

    def back(self, a: Array | float) -> np.ndarray:
        return to_numpy(a, "a", copy=True)  # a copy: callers keep snapshots of live params

    def params_to(self, params: dict[str, np.ndarray]) -> dict[str, Array]:
        return {k: self.to(v).copy() for k, v in params.items()}

    def params_back(self, params: dict[str, Array]) -> dict[str, np.ndarray]:
        return {k: self.back(v) for k, v in params.items()}

    # ------------------------------------------------------------------ functions
    def forward(self, name: str, x: np.ndarray, t: np.ndarray | None = None,
                **kw: object) -> np.ndarray:
        f = self.fn("functions", name)
        args = (self.to(x),) if t is None else (self.to(x), self.to_targets(t))
        return self.back(f(*args, **kw))

    def hand_backward(self, name: str, x: np.ndarray, g: np.ndarray | float,
                      t: np.ndarray | None = None, **kw: object) -> np.ndarray:
        """The engine's hand-written backward, as a VJP with incoming gradient g."""
        grad_name = FUNCTIONS[name]["grad"]
        gf = self.fn("functions", grad_name)
        if name == "softmax":
            y = self.fn("functions", "softmax")(self.to(x))
            return self.back(gf(y, self.to(g)))
        if FUNCTIONS[name]["kind"] == "activation":
            return self.back(gf(self.to(x))) * g
        return self.back(gf(self.to(x), self.to_targets(t), **kw)) * g

    def autograd_backward(self, name: str, x: np.ndarray, g: np.ndarray | float,
                          t: np.ndarray | None = None, **kw: object) -> np.ndarray | None:
        """Autograd's VJP (torch only; None for NumPy)."""
        return None

    # ------------------------------------------------------------------ networks
    def make_net(self, params: dict[str, np.ndarray], **kw: object) -> EngineNet:
        cls = self.fn("networks", "TwoLayerNet")
        i, h = params["W1"].shape
        k = params["W2"].shape[1]
        return cls(i, h, k, params=self.params_to(params), dtype=self.dtype, **kw)

    def net_loss(self, net: EngineNet, x: np.ndarray, t: np.ndarray,
                 mask: np.ndarray | None = None) -> float:
        m = None if mask is None else self.to(mask)
        return float(self.back(net.loss(self.to(x), self.to_targets(t), m)))

    def net_gradients(self, net: EngineNet, x: np.ndarray, t: np.ndarray, kind: str,
                      mask: np.ndarray | None = None,
                      chunk: int | None = None) -> dict[str, np.ndarray]:
        """kind: "backprop", "autograd" (torch), "numerical" (central differences, batched in
        blocks of ``chunk`` values when given, else the network's default)."""
        m = None if mask is None else self.to(mask)
        xs, ts = self.to(x), self.to_targets(t)
        if kind == "backprop":
            g = net.gradient(xs, ts, m)
        elif kind == "autograd":
            g = cast("AutogradNet", net).autograd_gradient(xs, ts, m)
        elif kind == "numerical":
            g = net.numerical_gradient_fast(xs, ts, m, **({} if chunk is None
                                                          else {"chunk": chunk}))
        else:
            raise ValueError(f"kind: expected backprop, autograd or numerical, got {kind!r}")
        return {k: self.back(v) for k, v in g.items()}

    def net_params(self, net: EngineNet) -> dict[str, np.ndarray]:
        return {k: self.back(v) for k, v in net.params.items()}

    # ------------------------------------------------------------------ optimizers
    def optimizer_run(self, name: str, params: dict[str, np.ndarray],
                      grads_seq: list[dict[str, np.ndarray]],
                      **hyper: object) -> list[dict[str, np.ndarray]]:
        """Apply ``grads_seq`` one update at a time; the parameters after each update."""
        opt: EngineOptimizer = self.fn("optimizers", "OPTIMIZERS")[name](**hyper)
        p = self.params_to(params)
        out = []
        for g in grads_seq:
            opt.update(p, self.params_to(g))
            out.append(self.params_back(p))
        return out

    # ------------------------------------------------------------------ training
    def replay_stepper(self, init: dict[str, np.ndarray]) -> ReplayStep:
        """A function (p, xb, tb, lr) -> (grads, update, loss after update) for step replay.

        It loads the reference parameters p into this engine (rounding them to its dtype), takes
        one SGD step with this engine's own gradient and optimizer, and reports all in float64.
        """
        net = self.make_net(init)
        sgd = self.fn("optimizers", "SGD")
        params = self._param_dict(net)

        def step(p: dict[str, np.ndarray], xb: np.ndarray, tb: np.ndarray,
                 lr: float) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], float]:
            self._load(params, p)
            xs, ts = self.to(xb), self.to_labels(tb)
            g = net.gradient(xs, ts)
            before = {k: self.back(v) for k, v in params.items()}
            sgd(lr).update(params, g)
            update = {k: self.back(params[k]) - before[k] for k in params}
            loss = float(self.back(net.loss(xs, ts)))
            return {k: self.back(v) for k, v in g.items()}, update, loss

        return step

    def _param_dict(self, net: EngineNet) -> dict[str, Array]:
        return net.params

    def _load(self, params: dict[str, Array], p: dict[str, np.ndarray]) -> None:
        for k, v in params.items():
            v[...] = p[k]

    def default_mode(self, lr: float) -> str:
        """The mode ``train`` picks by default (mode "auto") for plain SGD on this engine."""
        return self.fn("fastpath", "resolve_mode")("auto", self.fn("optimizers", "SGD")(lr))

    def train(self, plan: TrainPlan, data: TrainData, lr: float, mode: str = "eager", *,
              optimizer: tuple[str, Mapping[str, object]] | None = None,
              early_stopping: tuple[int, float] | None = None,
              val: tuple[np.ndarray, np.ndarray] | None = None,
              **net_kw: object) -> tuple[TrainHistory, dict[str, np.ndarray]]:
        """Free-running replay of ``plan``: (history, final params).  ``mode`` "eager" is the
        reference path (the mirrors verify compares); "auto" is what ``train`` runs by default
        (the fast path).  ``optimizer``: (name in ``OPTIMIZERS``, hyperparameters), else SGD at
        ``lr``; ``early_stopping``: (patience, min_delta) on the held-out ``val`` = (x, t)."""
        (x, t), (xt, tt) = data
        net = self.make_net(plan.initial_params(), **net_kw)
        opt = None if optimizer is None else self.fn("optimizers", "OPTIMIZERS")[optimizer[0]](
            **optimizer[1])
        es, held = None, {}
        if early_stopping is not None:
            es = self.fn("training", "EarlyStopping")(*early_stopping)
            held = {"x_val": self.to(val[0]), "t_val": self.to_targets(val[1])} if val else {}
        hist = self.mod("training").train(net, self.to(x), self.to_targets(t), self.to(xt),
                                          self.to_targets(tt), plan, opt, learning_rate=lr,
                                          early_stopping=es, progress=False, mode=mode, **held)
        return hist, self.net_params(net)


@dataclass
class NumpyEngine(Engine):
    framework: str = "numpy"


@dataclass
class TorchEngine(Engine):
    framework: str = "torch"

    def __post_init__(self) -> None:
        import torch

        self._torch = torch
        if self.device == "cpu" and os.environ.get("NNPARITY_TORCH_THREADS") != "keep":
            # verify interleaves NumPy (OpenBLAS threads) and torch (OpenMP threads) calls on
            # small arrays; on a 2-core machine the two pools spin against each other
            # (measured: benchmarks/RESULTS.md).  NNPARITY_TORCH_THREADS=keep leaves torch alone.
            torch.set_num_threads(1)
        self._tdtype = {"float32": torch.float32, "float64": torch.float64}[self.dtype]
        self._dev = torch.device(self.device)

    def default_mode(self, lr: float) -> str:
        resolve = self.fn("fastpath", "resolve_mode")
        return resolve("auto", self.fn("optimizers", "SGD")(lr), device=self._dev)

    def to(self, a: np.ndarray) -> Array:
        # A copy, never a view of the caller's array: engines update parameters in place.
        return self._torch.tensor(np.asarray(a, dtype=np.float64), device=self._dev,
                                  dtype=self._tdtype)

    def to_labels(self, t: np.ndarray) -> Array:
        return self._torch.as_tensor(np.asarray(t, dtype=np.int64), device=self._dev)

    def params_to(self, params: dict[str, np.ndarray]) -> dict[str, Array]:
        return {k: self.to(v).clone() for k, v in params.items()}

    def make_net(self, params: dict[str, np.ndarray], **kw: object) -> EngineNet:
        cls = self.fn("networks", "TwoLayerNet")
        i, h = params["W1"].shape
        k = params["W2"].shape[1]
        return cls(i, h, k, params=params, device=self._dev, dtype=self._tdtype, **kw)

    def net_params(self, net: EngineNet) -> dict[str, np.ndarray]:
        return {k: self.back(getattr(net, k)) for k in PARAM_NAMES}

    def _param_dict(self, net: EngineNet) -> dict[str, Array]:
        return {k: getattr(net, k).data for k in PARAM_NAMES}

    def _load(self, params: dict[str, Array], p: dict[str, np.ndarray]) -> None:
        for k, v in params.items():
            v.copy_(self.to(p[k]))

    def autograd_backward(self, name: str, x: np.ndarray, g: np.ndarray | float,
                          t: np.ndarray | None = None, **kw: object) -> np.ndarray:
        torch = self._torch
        xs = self.to(x).requires_grad_(True)
        f = self.fn("functions", name)
        out = f(xs) if t is None else f(xs, self.to_targets(t), **kw)
        gt = self.to(np.broadcast_to(np.asarray(g, dtype=np.float64), tuple(out.shape)))
        (grad,) = torch.autograd.grad(out, xs, grad_outputs=gt, allow_unused=True)
        return self.back(torch.zeros_like(xs) if grad is None else grad)


def reference_engine() -> Engine:
    """The float64 NumPy reference every candidate is judged against."""
    return NumpyEngine(dtype="float64")


def engines_for(device: str | None = None, dtypes: tuple[str, ...] = ("float64", "float32"),
                allow_tf32: bool = False) -> list[Engine]:
    """The candidate engines: torch on ``device`` in each dtype, and NumPy float32."""
    out: list[Engine] = []
    try:
        import torch  # noqa: F401

        from reference_torch.device import resolve_device

        dev = str(resolve_device(device))
        for dt in dtypes:
            out.append(TorchEngine(dtype=dt, device=dev, allow_tf32=allow_tf32 and dt == "float32"))
    except ImportError:  # pragma: no cover - torch is a dependency; keep NumPy checks usable
        pass
    if "float32" in dtypes:
        out.append(NumpyEngine(dtype="float32"))
    return out
