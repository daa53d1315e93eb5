"""The framework-neutral rules of a training run (what a run records, early stopping and its
bookkeeping, when the fused step applies, the accuracy pass's block): reference_numpy's own
objects, shared name for name, as ``plotting`` is."""

from reference_numpy.runrules import EVAL_BLOCK, BestSoFar, EarlyStopping, TrainHistory, fusable

__all__ = ["EVAL_BLOCK", "TrainHistory", "EarlyStopping", "BestSoFar", "fusable"]
