"""Run check groups on a context and judge them: the one place observations become verdicts."""

from __future__ import annotations

import math
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

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
        obs: list[Observation] = []
        raised = None
        try:
            for o in observe_group(ctx, g):
                obs.append(o)
        except Exception as exc:  # noqa: BLE001 - an engine that breaks fails, verify goes on
            raised = _raised(g, obs, exc)
        secs = time.perf_counter() - start
        # Observations that carry their own time (a training run) keep it on their row; the
        # rest of the group's time goes to the others.
        rest = max(0.0, secs - sum(o.seconds for o in obs if o.seconds is not None))
        results += judge(obs, seconds=rest)
        if raised is not None:
            results.append(raised)
    return results


def _raised(group: str, obs: list[Observation], exc: Exception) -> CheckResult:
    """A group whose computation raised: one failed verdict that names the exception and the
    code it came from (the traceback also goes to stderr), after the observations made before
    it, which are judged as usual.  A candidate that cannot run a check fails that check; it
    does not stop the checks of the other groups."""
    frames = traceback.extract_tb(exc.__traceback__)
    # the raising frame, as package/module.py:line (the table's column stays narrow)
    origin = (f"{Path(frames[-1].filename).parent.name}/{Path(frames[-1].filename).name}:"
              f"{frames[-1].lineno}" if frames else "?")
    after = (f"after {len(obs)} observations (the last: {obs[-1].check}, {obs[-1].engine})"
             if obs else "before its first observation")
    text = "".join(traceback.format_exception(exc)).rstrip()
    print(f"verify: the {group} group raised {type(exc).__name__} {after}:\n{text}",
          file=sys.stderr)
    return CheckResult(
        name=f"{group} checks run to the end", group=group, passed=False,
        max_abs_err=math.inf, max_rel_err=math.inf,
        where=f"raised {type(exc).__name__} at {origin}", tolerance_class="exact",
        rtol=0.0, atol=0.0,
        message=f"the {group} group raised {type(exc).__name__}: {exc} {after}, at {origin}",
        details={"exception": type(exc).__name__, "traceback": text})
