"""check_gradient: a gradient against central differences."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..report import CheckResult
from ._common import (
    _check_callable,
    _describe,
    _f64,
    _is_tensor,
    _plain,
    _Run,
)


def _scalar_f64(value: object) -> float:
    """A loss value as float, refusing anything evaluated in less than float64."""
    if _is_tensor(value):
        if str(value.dtype) != "torch.float64":
            raise ValueError(f"f: returned a {value.dtype} tensor; central differences with "
                             f"h = 1e-4 need f evaluated in float64 (float32 rounding / h is "
                             f"~1e-3 of the gradient)")
        if value.numel() != 1:
            raise ValueError(f"f: expected a scalar loss, got shape {tuple(value.shape)}")
        return float(value.detach().cpu().reshape(()).item())
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"f: expected a real scalar loss, got {_describe(value)}")
    if arr.size != 1:
        raise ValueError(f"f: expected a scalar loss, got shape {arr.shape}")
    if arr.dtype.kind == "f" and arr.dtype != np.float64:
        raise ValueError(f"f: returned {arr.dtype}; central differences with h = 1e-4 need f "
                         f"evaluated in float64 (float32 rounding / h is ~1e-3 of the gradient)")
    return float(arr.reshape(()))


def check_gradient(f: Callable[[Any], Any], x: object, grad: object, *,
                   h: float = 1e-4) -> CheckResult:
    """Check your gradient of ``f`` at ``x`` against float64 central differences.

    ``f(x)`` returns a scalar loss; ``x`` is an array or a ``{name: array}`` mapping (then
    ``f`` receives the mapping and every entry is checked, e.g. a network's parameters).
    ``grad`` is your gradient at ``x`` (an array, or a mapping with the same keys) or a
    callable ``grad(x)`` returning it.

    The expected value is :func:`reference_numpy.gradient.numerical_gradient` (central
    differences, step ``h``): each element of ``x`` is moved by ±h *in place* and restored bit
    for bit.  A float64 NumPy array is used as it is, so a closure that reads the array (the
    book's ``lambda _: net.loss(x, t)`` over ``net.params["W1"]``) sees the move; anything else
    (float32, lists, tensors) is converted to a float64 copy, and ``f`` must then compute from
    its argument.  **f must be evaluated in float64** - a float32 loss, or float32 ``grad``, is
    refused: float32 rounding divided by 2h is ~1e-3 of the gradient, more than any bug this
    check is for (use :func:`check_backward` / :func:`check_training_step` for float32 code).

    Judged with kind ``"numerical"`` of class ``"float64"``, whose bound was measured to cover
    the truncation error of h = 1e-4 on the chapter's networks; a function with much larger
    third derivatives needs a smaller ``h``.
    """
    from reference_numpy.gradient import numerical_gradient

    _check_callable(f, "f", "a callable f(x) -> scalar loss")
    if isinstance(h, bool) or not isinstance(h, (int, float, np.floating)) or not (
            math.isfinite(h) and h > 0):
        raise ValueError(f"h: expected a finite number > 0, got {h!r}")
    named = isinstance(x, Mapping)
    if named and not x:
        raise ValueError("x: expected at least one array, got an empty mapping")
    items = dict(x) if named else {"x": x}
    work: dict[str, np.ndarray] = {}
    for k, v in items.items():
        arg = f"x[{k!r}]" if named else "x"
        if isinstance(v, np.ndarray) and v.dtype == np.float64:
            work[k] = v  # perturbed in place, restored bit for bit
        else:
            arr = _plain(v, arg)
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"{arg}: expected real numbers, got {_describe(v)}")
            work[k] = arr.astype(np.float64)
        if work[k].size == 0:
            raise ValueError(f"{arg}: expected a non-empty array, got shape {work[k].shape}")
    point = work if named else work["x"]
    _scalar_f64(f(point))  # refuse float32 losses before any work
    got = grad(point) if callable(grad) else grad
    if named:
        if not isinstance(got, Mapping) or set(got) != set(work):
            raise ValueError(f"grad: expected a mapping with keys {sorted(work)}, got "
                             f"{sorted(got) if isinstance(got, Mapping) else _describe(got)}")
    else:
        got = {"x": got}
    for k, v in got.items():
        arr = _plain(v, "grad")
        if arr.dtype.kind == "f" and arr.dtype != np.float64:
            raise ValueError(f"grad{'' if not named else f'[{k!r}]'}: got {arr.dtype}; this check "
                             f"is float64 only (see the docstring)")
    run = _Run("gradient vs central differences", "gradients", engine="user float64")
    run.details["h"] = float(h)
    with np.errstate(all="ignore"):
        for k in work:
            expected = numerical_gradient(lambda _: _scalar_f64(f(point)), work[k], h=float(h))
            run.observe("float64", "numerical", f"grad {k}" if named else "grad",
                        _f64(got[k], "grad"), expected)
    return run.result()
