"""The loss as a function of one weight, the others held fixed (the study notes' figure).

Training moves each weight downhill along this curve: its slope at the current weight is the
gradient's entry for that weight, which is what ``numerical_gradient`` estimates by two points
of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from reference_numpy.landscape import weight_index

from ._validate import as_float_tensor, check_finite

__all__ = ["loss_along_weight", "weight_index"]

Tensor = torch.Tensor


def loss_along_weight(
    net: object, x: Tensor, t: Tensor, param: str, index: Sequence[int],
    offsets: Tensor,
) -> tuple[Tensor, Tensor]:
    """L(w₀ + s) for each offset s, with w = ``net.params[param][index]`` and the rest fixed.

    Returns ``(weights, losses)``: w₀ + s and the loss there.  The weight is set in place (so a
    network whose loss reads its params sees it) and restored bit for bit afterwards, even if the
    loss raises.
    """
    params = getattr(net, "params", None)
    where = weight_index(params, param, index)
    steps = as_float_tensor(offsets, "offsets")
    if steps.ndim != 1 or steps.numel() == 0:
        raise ValueError(
            f"offsets: expected a non-empty 1-D array, got shape {tuple(steps.shape)}"
        )
    check_finite(steps, "offsets")
    w = params[param]
    with torch.no_grad():
        saved = w[where].clone()
        weights = saved + steps.to(device=w.device, dtype=w.dtype)
        losses = torch.empty(steps.numel(), dtype=torch.float64)
        try:
            for i in range(weights.numel()):
                w[where] = weights[i]
                losses[i] = float(net.loss(x, t))
        finally:
            w[where] = saved
    return weights, losses
