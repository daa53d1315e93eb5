"""The book's optimizers (ch. 6), updating ``params`` in place with ``update(params, grads)``.

Formulas, with g the gradient and p the parameter:

* SGD:      p ← p - lr·g
* Momentum: v ← m·v - lr·g;  p ← p + v
* Nesterov: p ← p + m²·v - (1 + m)·lr·g;  v ← m·v - lr·g   (the book's corrected order)
* AdaGrad:  h ← h + g²;  p ← p - lr·g / (√h + 1e-7)
* RMSprop:  h ← d·h + (1 - d)·g²;  p ← p - lr·g / (√h + 1e-7)
* Adam:     t ← t + 1;  lr_t = lr·√(1 - β2ᵗ) / (1 - β1ᵗ);  m ← m + (1 - β1)(g - m);
            v ← v + (1 - β2)(g² - v);  p ← p - lr_t·m / (√v + 1e-7)
  ε sits outside the bias correction (torch.optim.Adam puts ε = 1e-8 after correcting v).

State (v, h, m) is created on the first update with the parameters' shapes and dtypes.

The unchecked core.  ``Optimizer.apply_unchecked(params, grads)`` is the numerics of ``update``
without its checks, for callers whose gradients come from the network's own backprop (the
training loops, the benchmarks), as ``TwoLayerNet.gradient_unchecked`` is for ``gradient``.
Its contract, the same in both references: ``params`` maps each name to a float array, writable
and in its own memory; ``grads`` maps each of those names to a gradient of its shape, dtype and
device; nothing is checked, so anything else gives wrong numbers, a half-applied update or an
error from deep inside.  Subclasses change ``_step`` (and ``_begin``), never
``apply_unchecked``, so ``update`` and the unchecked path share one update.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

import numpy as np

from ._validate import (
    _describe,
    as_array,
    check_finite,
    check_no_self_overlap,
    check_positive,
    check_writeable,
)

__all__ = ["Optimizer", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "OPTIMIZERS"]

EPS = 1e-7


def _overlap(p: np.ndarray, q: np.ndarray) -> bool:
    """Whether p and q share an element (exact for the usual views; a case NumPy finds too hard
    to decide in 10^4 steps counts as sharing, which only a contrived layout reaches)."""
    if not np.may_share_memory(p, q):
        return False
    try:
        return bool(np.shares_memory(p, q, max_work=10_000))
    except np.exceptions.TooHardError:  # pragma: no cover - needs an exotic stride pattern
        return True


class Optimizer:
    """Base class: validates params/grads, then calls ``_step`` per key."""

    def __init__(self, lr: float) -> None:
        self.lr = check_positive(lr, "lr")

    def update(
        self, params: MutableMapping[str, np.ndarray], grads: Mapping[str, np.ndarray]
    ) -> None:
        """Update every ``params[key]`` in place from ``grads[key]`` (all checked first: a
        failed check leaves every parameter and the optimizer's state as they were)."""
        if not isinstance(params, Mapping) or not isinstance(grads, Mapping):
            bad, what = ("params", params) if not isinstance(params, Mapping) else ("grads", grads)
            raise TypeError(f"{bad}: expected a dict of arrays, got {_describe(what)}")
        seen: list[tuple[str, np.ndarray]] = []
        for key, p in params.items():
            if key not in grads:
                raise KeyError(
                    f"grads: expected a gradient for parameter {key!r}, got keys {list(grads)}"
                )
            if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
                raise TypeError(
                    f"params[{key!r}]: expected a float ndarray (updated in place), "
                    f"got {_describe(p)}"
                )
            check_writeable(p, f"params[{key!r}]")
            check_no_self_overlap(p, f"params[{key!r}]")
            for other, q in seen:
                if _overlap(p, q):
                    raise ValueError(
                        f"params[{key!r}]: expected its own memory, got memory shared with "
                        f"params[{other!r}] (an update of one would move the other)"
                    )
            seen.append((key, p))
            g = as_array(grads[key], f"grads[{key!r}]")
            if g.dtype.kind not in "biuf":
                raise TypeError(
                    f"grads[{key!r}]: expected a real numeric array, got {_describe(g)}"
                )
            if g.shape != p.shape:
                raise ValueError(f"grads[{key!r}]: expected shape {p.shape}, got {g.shape}")
            check_finite(g, f"grads[{key!r}]")
        self.apply_unchecked(
            params, {k: np.asarray(grads[k], dtype=p.dtype) for k, p in params.items()}
        )

    def apply_unchecked(
        self, params: MutableMapping[str, np.ndarray], grads: Mapping[str, np.ndarray]
    ) -> None:
        """``update`` on checked inputs (the unchecked core: see the module docstring)."""
        self._begin()
        for key, p in params.items():
            self._step(key, p, grads[key])

    def _begin(self) -> None:
        """Hook run once per update before the per-parameter steps (Adam counts t here)."""

    def _step(self, key: str, p: np.ndarray, g: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError

    def state_dict(self) -> dict[str, object]:
        """Copies of the optimizer's hyperparameters and state, for comparison and replay."""
        return {
            k: (dict((kk, vv.copy()) for kk, vv in v.items()) if isinstance(v, dict) else v)
            for k, v in vars(self).items()
        }


class SGD(Optimizer):
    """p ← p - lr·g."""

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr)

    def _step(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        p -= self.lr * g


class Momentum(Optimizer):
    """v ← m·v - lr·g;  p ← p + v."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__(lr)
        self.momentum = check_positive(momentum, "momentum", allow_zero=True)
        self.v: dict[str, np.ndarray] = {}

    def _step(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        v = self.v.setdefault(key, np.zeros_like(p))
        v *= self.momentum
        v -= self.lr * g
        p += v


class Nesterov(Optimizer):
    """p ← p + m²·v - (1 + m)·lr·g;  v ← m·v - lr·g (the book's 2021-corrected order)."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__(lr)
        self.momentum = check_positive(momentum, "momentum", allow_zero=True)
        self.v: dict[str, np.ndarray] = {}

    def _step(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        m = self.momentum
        v = self.v.setdefault(key, np.zeros_like(p))
        p += m * m * v
        p -= (1 + m) * self.lr * g
        v *= m
        v -= self.lr * g


class AdaGrad(Optimizer):
    """h ← h + g²;  p ← p - lr·g / (√h + 1e-7)."""

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr)
        self.h: dict[str, np.ndarray] = {}

    def _step(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        h = self.h.setdefault(key, np.zeros_like(p))
        h += g * g
        p -= self.lr * g / (np.sqrt(h) + EPS)


class RMSprop(Optimizer):
    """h ← d·h + (1 - d)·g²;  p ← p - lr·g / (√h + 1e-7)."""

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99) -> None:
        super().__init__(lr)
        self.decay_rate = check_positive(decay_rate, "decay_rate")
        if self.decay_rate >= 1:
            raise ValueError(f"decay_rate: expected a value in (0, 1), got {decay_rate!r}")
        self.h: dict[str, np.ndarray] = {}

    def _step(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        d = self.decay_rate
        h = self.h.setdefault(key, np.zeros_like(p))
        h *= d
        h += (1 - d) * g * g
        p -= self.lr * g / (np.sqrt(h) + EPS)


class Adam(Optimizer):
    """Adam as the book writes it (ε = 1e-7 outside the bias correction; see module docstring)."""

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        super().__init__(lr)
        for name, b in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= check_positive(b, name, allow_zero=True) < 1:
                raise ValueError(f"{name}: expected a value in [0, 1), got {b!r}")
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.iter = 0
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def _begin(self) -> None:
        self.iter += 1
        t = self.iter
        self._lr_t = self.lr * np.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t)

    def _step(self, key: str, p: np.ndarray, g: np.ndarray) -> None:
        m = self.m.setdefault(key, np.zeros_like(p))
        v = self.v.setdefault(key, np.zeros_like(p))
        m += (1 - self.beta1) * (g - m)
        v += (1 - self.beta2) * (g * g - v)
        p -= self._lr_t * m / (np.sqrt(v) + EPS)


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": AdaGrad,
    "rmsprop": RMSprop,
    "adam": Adam,
}
