"""The loss as a function of one weight, the others held fixed (the study notes' figure).

Training moves each weight downhill along this curve: its slope at the current weight is the
gradient's entry for that weight, which is what ``numerical_gradient`` estimates by two points
of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._validate import as_float_array, check_finite

__all__ = ["loss_along_weight", "weight_index"]


def weight_index(params: object, param: str, index: Sequence[int]) -> tuple[int, ...]:
    """``index`` as a tuple into ``params[param]``, refused unless it names one weight.

    Framework-neutral (it reads only ``.shape``), so reference_torch uses it too.
    """
    if not isinstance(params, dict) or not params:
        raise TypeError(
            f"net: expected a network with a params dict (TwoLayerNet), got {type(params).__name__}"
        )
    if param not in params:
        raise ValueError(f"param: expected one of {sorted(params)}, got {param!r}")
    shape = tuple(params[param].shape)
    try:
        where = tuple(int(i) for i in np.atleast_1d(np.asarray(index, dtype=np.int64)))
    except (TypeError, ValueError):
        raise TypeError(f"index: expected a tuple of ints, got {index!r}") from None
    if len(where) != len(shape) or any(not 0 <= i < n for i, n in zip(where, shape, strict=False)):
        raise ValueError(f"index: expected an index into {param} of shape {shape}, got {index!r}")
    return where


def loss_along_weight(
    net: object, x: np.ndarray, t: np.ndarray, param: str, index: Sequence[int],
    offsets: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """L(w₀ + s) for each offset s, with w = ``net.params[param][index]`` and the rest fixed.

    Returns ``(weights, losses)``: w₀ + s and the loss there.  The weight is set in place (so a
    network whose loss reads its params sees it) and restored bit for bit afterwards, even if the
    loss raises.
    """
    params = getattr(net, "params", None)
    where = weight_index(params, param, index)
    steps = as_float_array(offsets, "offsets")
    if steps.ndim != 1 or steps.size == 0:
        raise ValueError(f"offsets: expected a non-empty 1-D array, got shape {steps.shape}")
    check_finite(steps, "offsets")
    w = params[param]
    if not w.flags.writeable:
        raise ValueError(f"net.params[{param!r}]: expected a writeable array, got a read-only one")
    saved = w[where].copy()
    weights = (saved + steps.astype(w.dtype)).astype(w.dtype)
    losses = np.empty(steps.size, dtype=np.float64)
    try:
        for i, value in enumerate(weights):
            w[where] = value
            losses[i] = float(net.loss(x, t))
    finally:
        w[where] = saved
    return weights, losses
