"""TrainPlan on tensors: the NumPy plan itself (framework-neutral), plus device copies of what a
replay reads each iteration.

A plan fixes the initial weights, the batch indices of every iteration and the dropout masks in
NumPy (see ``reference_numpy.plan``), so the torch engine replays exactly the NumPy run: the
indices and masks below are those arrays, copied once to the device.
"""

from __future__ import annotations

import numpy as np
import torch

from reference_numpy.plan import SAMPLING, TrainPlan

from .device import resolve_device, resolve_dtype

__all__ = ["TrainPlan", "SAMPLING", "plan_tensors", "dropout_mask", "dropout_masks"]

Tensor = torch.Tensor


def _plan(plan: object) -> TrainPlan:
    if not isinstance(plan, TrainPlan):
        raise TypeError(f"plan: expected a TrainPlan, got {type(plan).__name__}")
    return plan


def plan_tensors(plan: TrainPlan, device: str | torch.device | None = None) -> Tensor | None:
    """All batch indices, ``plan.batch_indices`` as an int64 tensor of shape
    (iters_num, batch_size) on ``device``; None for full-batch descent (sampling "full")."""
    plan = _plan(plan)
    if plan.batch_indices is None:
        return None
    return torch.as_tensor(plan.batch_indices, dtype=torch.int64).to(resolve_device(device))


def dropout_mask(
    plan: TrainPlan,
    i: int,
    device: str | torch.device | None = None,
    dtype: object = torch.float64,
    rows: int | None = None,
) -> Tensor | None:
    """``plan.dropout_mask(i, rows)`` (the 0/1 mask of iteration i, u > ratio) as a tensor of
    ``dtype`` on ``device``; None without dropout."""
    m = _plan(plan).dropout_mask(i, rows)
    if m is None:
        return None
    return torch.from_numpy(m).to(device=resolve_device(device), dtype=resolve_dtype(dtype))


def dropout_masks(
    plan: TrainPlan,
    device: str | torch.device | None = None,
    dtype: object = torch.float64,
    start: int = 0,
    stop: int | None = None,
) -> Tensor | None:
    """The masks of iterations start … stop-1 stacked, shape (stop - start, batch_size,
    hidden_size), in one device copy; None without dropout.  (All iterations at once can be
    large: 10 000 × 100 × 50 float32 is 200 MB; take a window, or ``dropout_mask`` per step.)"""
    plan = _plan(plan)
    stop = plan.iters_num if stop is None else stop
    if not 0 <= start <= stop <= plan.iters_num:
        raise IndexError(
            f"start, stop: expected 0 <= start <= stop <= {plan.iters_num}, got {start}, {stop}"
        )
    if not plan.dropout_ratio:
        return None
    rows = len(plan.batch(0)) if plan.batch_indices is not None else plan.train_size
    masks = np.zeros((stop - start, rows, plan.hidden_size), dtype=bool)
    for k, i in enumerate(range(start, stop)):
        masks[k] = plan.dropout_mask(i, rows)
    return torch.from_numpy(masks).to(device=resolve_device(device), dtype=resolve_dtype(dtype))
