"""The training runs verify makes, defined once: the book's run and the quick one.

The checks, the golden files (``verify/golden.py``, ``scripts/make_golden.py``), the CLI's
defaults and the calibration all build their plans here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BOOK_ITERS", "QUICK_ITERS", "BATCH_SIZE", "LEARNING_RATE", "SEED", "training_plan"]

#: The book's run: 10,000 iterations of mini-batch SGD.
BOOK_ITERS = 10_000
#: ``--quick``: three accuracy evaluations on the full set (iterations 0, 600 and 1,200, one
#: epoch being 60,000 / 100 = 600 iterations), so the accuracy checks and plots have a curve.
QUICK_ITERS = 1_300
BATCH_SIZE = 100
LEARNING_RATE = 0.1
SEED = 0


def training_plan(train_size: int, iters: int, seed: int = SEED) -> Any:
    """The TrainPlan verify runs: the book's batch of 100 and 784-50-10 network."""
    from reference_numpy.plan import TrainPlan

    return TrainPlan(train_size, BATCH_SIZE, iters, seed=seed)
