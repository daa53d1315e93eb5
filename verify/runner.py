"""Run check groups on a context and judge them: the one place observations become verdicts."""

from __future__ import annotations

import time

import numpy as np

from .checks import GROUPS
from .checks.context import Context
from .observe import Observation, judge
from .report import CheckResult

__all__ = ["run_groups", "observe_groups"]


def observe_groups(ctx: Context, groups: list[str]) -> dict[str, tuple[list, float]]:
    """Raw output of each group: (observations and ready results, seconds)."""
    out = {}
    for g in groups:
        if g not in GROUPS:
            raise ValueError(f"groups: expected names from {sorted(GROUPS)}, got {g!r}")
        start = time.perf_counter()
        # The checks feed NaN, Inf and huge logits on purpose: NumPy's warnings about them are
        # expected noise here (the comparison reports what matters: where the values differ).
        with np.errstate(all="ignore"):
            items = GROUPS[g].observe(ctx)
        out[g] = (items, time.perf_counter() - start)
    return out


def run_groups(ctx: Context, groups: list[str]) -> list[CheckResult]:
    """Observe and judge each group; results in group order."""
    results: list[CheckResult] = []
    for _g, (items, secs) in observe_groups(ctx, groups).items():
        obs = [i for i in items if isinstance(i, Observation)]
        ready = [i for i in items if isinstance(i, CheckResult)]
        # Ready results carry their own time; the rest of the group's time goes to the others.
        rest = max(0.0, secs - sum(r.seconds for r in ready))
        results += judge(obs, seconds=rest) + ready
    return results
