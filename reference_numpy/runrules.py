"""Framework-neutral rules of a training run, shared by both engines.

reference_torch imports this module instead of mirroring it (it holds no arrays, only rules
and Python numbers):

* :class:`TrainHistory`: what a run records (plain Python numbers), and its JSON form;
* :class:`EarlyStopping` and :class:`BestSoFar`: when held-out accuracy says stop, and which
  parameters to restore;
* :func:`fusable`: when the fused SGD step of ``fastpath`` may run a configuration;
* :data:`EVAL_BLOCK`: the row block of an accuracy pass on the CPU.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ._safeio import dumps_json, load_json_record
from ._validate import atomic_write_bytes, check_positive

__all__ = ["EVAL_BLOCK", "TrainHistory", "EarlyStopping", "BestSoFar", "fusable"]

#: Rows per block of an accuracy pass.  A 2048-row block keeps the hidden activations
#: (2048 x 50 floats, 400 KB in float32) in L2 while the element-wise ops run over them; one
#: block over all 60,000 rows spills to memory (measured: benchmarks/RESULTS.md).
EVAL_BLOCK = 2048


@dataclass
class TrainHistory:
    """The book's three lists, plus what is needed to compare and reproduce a run."""

    train_loss_list: list[float] = field(default_factory=list)
    train_acc_list: list[float] = field(default_factory=list)
    test_acc_list: list[float] = field(default_factory=list)
    eval_iters: list[int] = field(default_factory=list)
    val_acc_list: list[float] = field(default_factory=list)
    stopped_at: int | None = None
    best_iter: int | None = None
    seconds: float = 0.0
    meta: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def save_json(self, path: str | os.PathLike[str]) -> None:
        """Write the history as strict JSON, atomically (non-finite losses are encoded as
        ``{"nonfinite": "nan"}`` and decoded by ``load_json``: see ``_safeio``)."""
        atomic_write_bytes(path, dumps_json(self.to_dict()))

    @classmethod
    def load_json(cls, path: str | os.PathLike[str]) -> TrainHistory:
        """Read ``save_json``'s file; unknown keys are refused, naming the file."""
        return cls(**load_json_record(path, cls.__dataclass_fields__))


@dataclass
class EarlyStopping:
    """Stop when held-out accuracy has not improved by ``min_delta`` for ``patience`` evaluations,
    and restore the parameters of the best evaluation."""

    patience: int = 3
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        if (
            isinstance(self.patience, bool)
            or not isinstance(self.patience, (int, np.integer))
            or self.patience < 1
        ):
            raise ValueError(f"patience: expected a positive int, got {self.patience!r}")
        self.min_delta = check_positive(self.min_delta, "min_delta", allow_zero=True)


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
        if acc > self.acc + self.es.min_delta:
            self.acc, self.since, hist.best_iter = acc, 0, i
            self.params = params()
            return False
        self.since += 1
        if self.since >= self.es.patience:
            hist.stopped_at = i
            return True
        return False


def fusable(opt: object, weight_decay: float, sgd: type) -> str | None:
    """Why the fused step cannot run this configuration (None when it can).  ``sgd`` is the
    engine's plain SGD class: a subclass may change the update, so only SGD itself fuses."""
    if type(opt) is not sgd:
        return f"it fuses the plain SGD update only, got {type(opt).__name__}"
    if weight_decay:
        return f"it does not fold weight decay into the update, got λ={weight_decay}"
    return None
