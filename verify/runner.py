"""Run check groups on a context and judge them: the one place observations become verdicts."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

from .checks import GROUPS
from .checks.context import Context
from .observe import Observation, judge
from .report import CheckResult

__all__ = ["run_groups", "observe_group"]


def observe_group(ctx: Context, group: str) -> Iterator[Observation]:
    """A group's observations, as the checks make them (calibrate reads them one by one)."""
    if group not in GROUPS:
        raise ValueError(f"groups: expected names from {sorted(GROUPS)}, got {group!r}")
    # The checks feed NaN, Inf and huge logits on purpose: NumPy's warnings about them are
    # expected noise here (the comparison reports what matters: where the values differ).
    with np.errstate(all="ignore"):
        yield from GROUPS[group].observe(ctx)


def run_groups(ctx: Context, groups: list[str]) -> list[CheckResult]:
    """Observe and judge each group; results in group order."""
    for g in groups:  # refuse a wrong name before any check runs
        if g not in GROUPS:
            raise ValueError(f"groups: expected names from {sorted(GROUPS)}, got {g!r}")
    results: list[CheckResult] = []
    for g in groups:
        start = time.perf_counter()
        obs = list(observe_group(ctx, g))
        secs = time.perf_counter() - start
        # Observations that carry their own time (a training run) keep it on their row; the
        # rest of the group's time goes to the others.
        rest = max(0.0, secs - sum(o.seconds for o in obs if o.seconds is not None))
        results += judge(obs, seconds=rest)
    return results
