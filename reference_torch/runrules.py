"""The rules of a training run, on tensors.

Early stopping's bookkeeping (:class:`BestSoFar`) computes (a comparison with a margin and a
patience count), so it is this engine's own, in torch ops: a bug in either engine's makes the
two runs stop, or restore, at different evaluations.  The rest holds no arithmetic and is
reference_numpy's very objects (tests/test_mirror.py, ``SHARED_ON_PURPOSE``):

* :class:`TrainHistory`: what a run records (plain Python numbers), and its JSON form;
* :class:`EarlyStopping`: the two settings, patience and min_delta, checked;
* :func:`fusable`: when the fused SGD step of ``fastpath`` may run a configuration (a rule on
  types);
* :data:`EVAL_BLOCK`: the row block of an accuracy pass on the CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from reference_numpy.runrules import EVAL_BLOCK, EarlyStopping, TrainHistory, fusable

__all__ = ["EVAL_BLOCK", "TrainHistory", "EarlyStopping", "BestSoFar", "fusable"]

F64 = torch.float64


class BestSoFar:
    """Early stopping's bookkeeping: the held-out data, the best accuracy on it so far and the
    parameters that had it (arrays in reference_numpy, tensors in reference_torch)."""

    def __init__(self, es: EarlyStopping, x_val: Any, t_val: Any) -> None:
        self.es, self.x, self.t = es, x_val, t_val
        self.acc, self.since = float("-inf"), 0
        self.params: dict[str, Any] | None = None

    def stop(
        self, hist: TrainHistory, i: int, acc: float, params: Callable[[], dict[str, Any]]
    ) -> bool:
        """Record held-out accuracy ``acc`` after iteration i; True when training should stop.
        ``params`` gives the parameters to keep if this is the best evaluation so far."""
        hist.val_acc_list.append(acc)
        a = torch.tensor(acc, dtype=F64)
        if bool(a > torch.tensor(self.acc, dtype=F64) + self.es.min_delta):
            self.acc, self.since, hist.best_iter = acc, 0, i
            self.params = params()
            return False
        self.since += 1
        if self.since >= self.es.patience:
            hist.stopped_at = i
            return True
        return False
