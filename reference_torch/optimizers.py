"""The book's optimizers (ch. 6) on tensors, updating ``params`` in place with ``update(params,
grads)``.

Formulas, with g the gradient and p the parameter:

* SGD:      p ← p - lr·g
* Momentum: v ← m·v - lr·g;  p ← p + v
* Nesterov: p ← p + m²·v - (1 + m)·lr·g;  v ← m·v - lr·g   (the book's corrected order)
* AdaGrad:  h ← h + g²;  p ← p - lr·g / (√h + 1e-7)
* RMSprop:  h ← d·h + (1 - d)·g²;  p ← p - lr·g / (√h + 1e-7)
* Adam:     t ← t + 1;  lr_t = lr·√(1 - β2ᵗ) / (1 - β1ᵗ);  m ← m + (1 - β1)(g - m);
            v ← v + (1 - β2)(g² - v);  p ← p - lr_t·m / (√v + 1e-7)
  ε sits outside the bias correction (torch.optim.Adam puts ε = 1e-8 after correcting v).

The in-place operations are those of ``reference_numpy.optimizers``, in the same order, one
rounding each (no fused multiply-adds), so float64 results agree with NumPy's to the last bit
or within an ulp.  State (v, h, m) is created on the first update with the parameters' shapes,
dtypes and devices.  ``TORCH_OPTIM_EQUIVALENT`` says which torch.optim optimizer computes the
same update, and how closely (measured in tests/test_torch_parity.py).

The unchecked core.  ``Optimizer.apply_unchecked(params, grads)`` is the numerics of ``update``
without its checks, for callers whose gradients come from the network's own backprop (the
training loops, the benchmarks), as ``TwoLayerNet.gradient_unchecked`` is for ``gradient``.
Its contract, the same in both references: ``params`` maps each name to a float tensor, writable
and in its own memory; ``grads`` maps each of those names to a gradient of its shape, dtype and
device; nothing is checked, so anything else gives wrong numbers, a half-applied update or an
error from deep inside.  Subclasses change ``_step`` (and ``_begin``), never
``apply_unchecked``, so ``update`` and the unchecked path share one update.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping
from typing import Any, ClassVar

import torch

from reference_numpy.optimizers import EPS
from reference_numpy.optimizers import OPTIMIZERS as NP_OPTIMIZERS

from ._validate import _describe, check_finite, check_inplace_ok, check_positive, check_tensor

__all__ = [
    "Optimizer",
    "SGD",
    "Momentum",
    "Nesterov",
    "AdaGrad",
    "RMSprop",
    "Adam",
    "OPTIMIZERS",
    "TORCH_OPTIM_EQUIVALENT",
]

Tensor = torch.Tensor


def _extent(t: Tensor) -> tuple[int, int]:
    """[first, last] byte address that tensor t's elements span."""
    size = t.element_size()
    last = sum((n - 1) * st for n, st in zip(t.shape, t.stride(), strict=True)) if t.numel() else -1
    return t.data_ptr(), t.data_ptr() + (last + 1) * size - 1


def _overlap(p: Tensor, q: Tensor) -> bool:
    """Whether p and q may share memory: one device and intersecting address ranges (a bound:
    two interleaved views of one buffer count as sharing, which no network's parameters are)."""
    if p.device != q.device or p.numel() == 0 or q.numel() == 0:
        return False
    (a0, a1), (b0, b1) = _extent(p), _extent(q)
    return a0 <= b1 and b0 <= a1


class Optimizer:
    """Base class: validates params/grads, then calls ``_step`` per key."""

    #: Whether ``apply_unchecked`` can be captured in a CUDA graph (``fastpath``, mode "graph"):
    #: its state tensors exist after the first step and every Python-side scalar (lr, momentum,
    #: decay) is constant.  Each class declares it for itself, never by inheritance (a subclass
    #: may change the step): set ``capturable = True`` in the class body to opt in, and then do
    #: no host work per step.  Adam is not capturable: its bias-corrected
    #: lr_t = lr·√(1-β2ᵗ)/(1-β1ᵗ) is a Python float that changes every step, which a graph
    #: would freeze at its capture-time value.
    capturable: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.capturable = cls.__dict__.get("capturable", False) is True

    def __init__(self, lr: float) -> None:
        self.lr = check_positive(lr, "lr")

    def update(self, params: MutableMapping[str, Tensor], grads: Mapping[str, Tensor]) -> None:
        """Update every ``params[key]`` in place from ``grads[key]`` (all checked first: each
        gradient a finite tensor of its parameter's shape, device and dtype; each parameter
        writable in place and in its own memory).  A failed check leaves every parameter and
        the optimizer's state as they were."""
        if not isinstance(params, Mapping) or not isinstance(grads, Mapping):
            bad, what = ("params", params) if not isinstance(params, Mapping) else ("grads", grads)
            raise TypeError(f"{bad}: expected a dict of tensors, got {_describe(what)}")
        seen: list[tuple[str, Tensor]] = []
        for key, p in params.items():
            if key not in grads:
                raise KeyError(
                    f"grads: expected a gradient for parameter {key!r}, got keys {list(grads)}"
                )
            if not isinstance(p, torch.Tensor) or not p.is_floating_point():
                raise TypeError(
                    f"params[{key!r}]: expected a floating-point tensor (updated in place), "
                    f"got {type(p).__name__}"
                    + (f" of dtype {p.dtype}" if isinstance(p, torch.Tensor) else "")
                )
            check_inplace_ok(p, f"params[{key!r}]")
            for other, q in seen:
                if _overlap(p, q):
                    raise ValueError(
                        f"params[{key!r}]: expected its own memory, got memory shared with "
                        f"params[{other!r}] (an update of one would move the other)"
                    )
            seen.append((key, p))
            g = check_tensor(
                grads[key], f"grads[{key!r}]", device=p.device, dtype=p.dtype, owner="the param's"
            )
            if g.shape != p.shape:
                raise ValueError(
                    f"grads[{key!r}]: expected shape {tuple(p.shape)}, got {tuple(g.shape)}"
                )
            check_finite(g, f"grads[{key!r}]")
        self.apply_unchecked(params, grads)

    @torch.no_grad()
    def apply_unchecked(
        self, params: MutableMapping[str, Tensor], grads: Mapping[str, Tensor]
    ) -> None:
        """``update`` on checked inputs (the unchecked core: see the module docstring); no host
        sync, so the training loop may capture it in a CUDA graph."""
        self._begin()
        for key, p in params.items():
            self._step(key, p, grads[key])

    def _begin(self) -> None:
        """Hook run once per update before the per-parameter steps (Adam counts t here)."""

    def _step(self, key: str, p: Tensor, g: Tensor) -> None:  # pragma: no cover
        raise NotImplementedError

    def state_dict(self) -> dict[str, object]:
        """Copies of the optimizer's hyperparameters and state, for comparison and replay."""
        return {
            k: (dict((kk, vv.clone()) for kk, vv in v.items()) if isinstance(v, dict) else v)
            for k, v in vars(self).items()
        }


class SGD(Optimizer):
    """p ← p - lr·g."""

    capturable = True

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr)

    def _step(self, key: str, p: Tensor, g: Tensor) -> None:
        p -= self.lr * g


class Momentum(Optimizer):
    """v ← m·v - lr·g;  p ← p + v."""

    capturable = True

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__(lr)
        self.momentum = check_positive(momentum, "momentum", allow_zero=True)
        self.v: dict[str, Tensor] = {}

    def _step(self, key: str, p: Tensor, g: Tensor) -> None:
        v = self.v.setdefault(key, torch.zeros_like(p))
        v *= self.momentum
        v -= self.lr * g
        p += v


class Nesterov(Optimizer):
    """p ← p + m²·v - (1 + m)·lr·g;  v ← m·v - lr·g (the book's 2021-corrected order)."""

    capturable = True

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__(lr)
        self.momentum = check_positive(momentum, "momentum", allow_zero=True)
        self.v: dict[str, Tensor] = {}

    def _step(self, key: str, p: Tensor, g: Tensor) -> None:
        m = self.momentum
        v = self.v.setdefault(key, torch.zeros_like(p))
        p += m * m * v
        p -= (1 + m) * self.lr * g
        v *= m
        v -= self.lr * g


class AdaGrad(Optimizer):
    """h ← h + g²;  p ← p - lr·g / (√h + 1e-7)."""

    capturable = True

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr)
        self.h: dict[str, Tensor] = {}

    def _step(self, key: str, p: Tensor, g: Tensor) -> None:
        h = self.h.setdefault(key, torch.zeros_like(p))
        h += g * g
        p -= self.lr * g / (torch.sqrt(h) + EPS)


class RMSprop(Optimizer):
    """h ← d·h + (1 - d)·g²;  p ← p - lr·g / (√h + 1e-7)."""

    capturable = True

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99) -> None:
        super().__init__(lr)
        self.decay_rate = check_positive(decay_rate, "decay_rate")
        if self.decay_rate >= 1:
            raise ValueError(f"decay_rate: expected a value in (0, 1), got {decay_rate!r}")
        self.h: dict[str, Tensor] = {}

    def _step(self, key: str, p: Tensor, g: Tensor) -> None:
        d = self.decay_rate
        h = self.h.setdefault(key, torch.zeros_like(p))
        h *= d
        h += (1 - d) * g * g
        p -= self.lr * g / (torch.sqrt(h) + EPS)


class Adam(Optimizer):
    """Adam as the book writes it (ε = 1e-7 outside the bias correction; see module docstring)."""

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        super().__init__(lr)
        for name, b in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= check_positive(b, name, allow_zero=True) < 1:
                raise ValueError(f"{name}: expected a value in [0, 1), got {b!r}")
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.iter = 0
        self.m: dict[str, Tensor] = {}
        self.v: dict[str, Tensor] = {}

    def _begin(self) -> None:
        # A Python float, computed on the host: NumPy's np.sqrt of a float64 scalar and
        # math.sqrt are both the correctly rounded square root.
        self.iter += 1
        t = self.iter
        self._lr_t = self.lr * math.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t)

    def _step(self, key: str, p: Tensor, g: Tensor) -> None:
        m = self.m.setdefault(key, torch.zeros_like(p))
        v = self.v.setdefault(key, torch.zeros_like(p))
        m += (1 - self.beta1) * (g - m)
        v += (1 - self.beta2) * (g * g - v)
        p -= self._lr_t * m / (torch.sqrt(v) + EPS)


#: reference_numpy's registry, name for name (the names are defined there, once).
_BY_CLASS_NAME = {c.__name__: c for c in (SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam)}
OPTIMIZERS: dict[str, type[Optimizer]] = {
    name: _BY_CLASS_NAME[np_cls.__name__] for name, np_cls in NP_OPTIMIZERS.items()
}

#: The torch.optim optimizer that computes each book update, and how closely (float64, measured
#: over 50 steps in tests/test_torch_parity.py::test_torch_optim_equivalents).
TORCH_OPTIM_EQUIVALENT: dict[str, str] = {
    "sgd": (
        "torch.optim.SGD(params, lr=lr): the same update p ← p - lr·g (torch fuses it as "
        "p.add_(g, alpha=-lr)); equal to rounding"
    ),
    "momentum": (
        "torch.optim.SGD(params, lr=lr, momentum=m): torch keeps b ← m·b + g and p ← p - lr·b, "
        "so the book's v is -lr·b (lr moved out of the buffer); the same trajectory while lr is "
        "constant, equal to rounding; not after an lr change (the book's v keeps the old lr)"
    ),
    "nesterov": (
        "torch.optim.SGD(params, lr=lr, momentum=m, nesterov=True): b ← m·b + g; "
        "p ← p - lr·(g + m·b) = p + m²·v - (1 + m)·lr·g with v = -lr·b_old, the book's "
        "corrected Nesterov; equal to rounding while lr is constant"
    ),
    "adagrad": (
        "torch.optim.Adagrad(params, lr=lr, eps=1e-7): h ← h + g², p ← p - lr·g / (√h + ε), "
        "ε added after the square root as in the book; torch's default eps is 1e-10, so eps=1e-7 "
        "must be passed; with it, equal to rounding (lr_decay=0, initial_accumulator_value=0)"
    ),
    "rmsprop": (
        "torch.optim.RMSprop(params, lr=lr, alpha=decay_rate, eps=1e-7): h ← α·h + (1-α)·g², "
        "p ← p - lr·g / (√h + ε), ε after the square root as in the book; torch's defaults "
        "(alpha=0.99, eps=1e-8) differ in eps; with eps=1e-7, equal to rounding"
    ),
    "adam": (
        "torch.optim.Adam(params, lr=lr, betas=(β1, β2)) differs: torch divides by "
        "√(v/(1-β2ᵗ)) + ε with ε = 1e-8 (after the bias correction of v), the book by "
        "(√v + 1e-7)/√(1-β2ᵗ), i.e. an effective ε of 1e-7/√(1-β2ᵗ) (3.2e-6 at t = 1, "
        "→ 1e-7 as t grows); no constant eps makes them equal.  The moments m, v agree to "
        "rounding; the steps differ by about ε_eff/(√v̂ + ε) relative (measured in the tests)"
    ),
}
