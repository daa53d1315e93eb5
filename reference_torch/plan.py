"""TrainPlan on tensors: the NumPy plan's draws, plus this engine's own reading of them.

A plan's random draws (initial weights, batch indices, the uniforms behind the dropout masks)
come from NumPy's PCG64 streams (see ``reference_numpy.plan``).  torch's generators cannot
reproduce those draws bit for bit, and both engines must see the same batches, masks and weights,
so ``TrainPlan`` (the draws, held as data) is reference_numpy's very class (tests/test_mirror.py,
``SHARED_ON_PURPOSE``; tests/test_torch_plan.py shows the replay reads them bit for bit).  What
is computed from the draws is this engine's own, in torch ops, so a bug in either engine's
shows as a parity failure: the dropout mask ``u > ratio`` (from ``plan.dropout_uniforms``) and
the evaluation schedule ``i mod iter_per_epoch == 0`` (:func:`eval_iterations`).
"""

from __future__ import annotations

import torch

from reference_numpy.plan import SAMPLING, TrainPlan

from .device import resolve_device, resolve_dtype

__all__ = [
    "TrainPlan",
    "SAMPLING",
    "plan_tensors",
    "dropout_mask",
    "dropout_masks",
    "MaskFeed",
    "eval_iterations",
]

Tensor = torch.Tensor

#: Bytes of dropout masks (bool) a ``MaskFeed`` keeps on the device at once.
MASK_BUDGET = 64 << 20


def _plan(plan: object) -> TrainPlan:
    if not isinstance(plan, TrainPlan):
        raise TypeError(f"plan: expected a TrainPlan, got {type(plan).__name__}")
    return plan


def eval_iterations(plan: TrainPlan) -> Tensor:
    """Whether accuracy is measured after each iteration: i mod iter_per_epoch == 0 with
    iter_per_epoch = max(train_size / batch_size, 1), the book's rule (a bool tensor of shape
    (iters_num,)).  fmod is exact, as Python's % is for positive floats."""
    plan = _plan(plan)
    per_epoch = torch.clamp(
        torch.tensor(plan.train_size, dtype=torch.float64) / plan.batch_size, min=1.0
    )
    i = torch.arange(plan.iters_num, dtype=torch.float64)
    return torch.fmod(i, per_epoch) == 0


def _mask(plan: TrainPlan, i: int, rows: int | None) -> Tensor | None:
    """Iteration i's 0/1 mask, u > ratio, from the plan's uniforms (bool; None without dropout)."""
    u = plan.dropout_uniforms(i, rows)
    return None if u is None else torch.from_numpy(u) > plan.dropout_ratio


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
    """The 0/1 mask of iteration i, u > ratio (u: ``plan.dropout_uniforms(i, rows)``), as a
    tensor of ``dtype`` on ``device``; None without dropout."""
    plan = _plan(plan)
    if not 0 <= i < plan.iters_num:
        raise IndexError(f"i: expected an iteration in [0, {plan.iters_num}), got {i}")
    m = _mask(plan, i, rows)
    if m is None:
        return None
    return m.to(device=resolve_device(device), dtype=resolve_dtype(dtype))


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
    masks = torch.zeros((stop - start, rows, plan.hidden_size), dtype=torch.bool)
    for k, i in enumerate(range(start, stop)):
        masks[k] = _mask(plan, i, rows)
    return masks.to(device=resolve_device(device), dtype=resolve_dtype(dtype))


class MaskFeed:
    """The plan's dropout masks on the device, ``k`` iterations at a time (bool).

    Holding every mask at once can be large (10 000 × 100 × 50 is 50 MB as bool, 400 MB as
    float64), so a window of k iterations (``MASK_BUDGET`` bytes) is copied at a time; a step
    reads window row ``i % k``, which a captured graph can compute on the device from its step
    counter.  On CUDA the window goes through pinned memory with a non-blocking copy, ordered
    on the stream before the steps that read it.
    """

    def __init__(self, plan: TrainPlan, rows: int, device: torch.device) -> None:
        self.plan, self.rows = plan, rows
        per_iter = rows * plan.hidden_size
        self.k = max(1, min(plan.iters_num, MASK_BUDGET // max(per_iter, 1)))
        self.buf = torch.empty((self.k, rows, plan.hidden_size), dtype=torch.bool, device=device)
        self._cuda = device.type == "cuda"

    def refill(self, start: int) -> None:
        """Copy the masks of iterations start … start + k - 1 into the window."""
        stop = min(start + self.k, self.plan.iters_num)
        src = torch.empty((stop - start, self.rows, self.plan.hidden_size), dtype=torch.bool)
        for j, i in enumerate(range(start, stop)):
            src[j] = _mask(self.plan, i, self.rows)
        if self._cuda:
            self.buf[: stop - start].copy_(src.pin_memory(), non_blocking=True)
        else:
            self.buf[: stop - start].copy_(src)
