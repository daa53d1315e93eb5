"""Observations: what a check saw, before any tolerance is applied, and the one judge of them.

A check produces observations (candidate value, float64 reference value, where).  ``judge`` turns
them into verdicts with the tolerance of the candidate's class and kind; ``calibrate`` turns the
same observations, gathered over many seeds with no bug planted, into the noise measurements that
the tolerances are derived from.  One code path, so a tolerance always describes what it judges.

Two rules: the elementwise rule with its Frobenius bound (:func:`verify.compare.compare_arrays`)
for every kind in :data:`verify.tolerances.TOLERANCES`, and a measured band for the free-running
training curves (kinds ``curve`` and ``flips``), whose error compounds with the step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .compare import Comparison, compare_arrays
from .report import CheckResult
from .tolerances import BAND_KINDS, curve_band, flip_band, tolerance_for

__all__ = ["Observation", "judge"]


@dataclass
class Observation:
    """One comparison of a candidate engine's value with the float64 reference.

    ``seconds``: the time spent producing it (a whole training run), reported on its own row;
    rows without it share the rest of their group's time.  ``series``: further named arrays that
    a band rule reads (the correct counts at each evaluation, for ``flips``).
    """

    check: str  # the row in the report, e.g. "softmax backward"
    group: str  # losses, gradients, optimizers, data, training, seeds
    engine: str  # engine name, e.g. "torch/cpu/float32"
    tclass: str  # tolerance class: float64, float32-cpu, float32-cuda, tf32, exact
    kind: str  # quantity kind within the class: function, gradient, update, loss, ...
    case: str  # which input, tensor or step, e.g. "large logits", "grad b2"
    actual: np.ndarray
    expected: np.ndarray
    step: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float | None = None
    series: dict[str, np.ndarray] = field(default_factory=dict)


def judge(observations: Iterable[Observation], seconds: float = 0.0) -> list[CheckResult]:
    """One CheckResult per (check, engine), in the order they first appear.

    Elementwise kinds: the worst observation decides and is reported - the first failing one in
    order (for training, the first failing step), or, when all pass, the one with the least
    margin.  Band kinds (one observation per row) are judged by their band.  ``seconds`` (the
    time spent observing) is shared by the rows whose observations carry no time of their own.
    """
    start = time.perf_counter()
    rows: dict[tuple[str, str], list[tuple[Observation, Comparison | None]]] = {}
    for obs in observations:
        cmp = None
        if obs.kind not in BAND_KINDS:
            cmp = compare_arrays(f"{obs.check} [{obs.case}]", obs.actual, obs.expected,
                                 tolerance_for(obs.tclass, obs.kind))
        rows.setdefault((obs.check, obs.engine), []).append((obs, cmp))
    judging = time.perf_counter() - start
    untimed = sum(1 for pairs in rows.values() if pairs[0][0].seconds is None)
    share = (seconds + judging) / max(1, untimed)
    results = []
    for pairs in rows.values():
        obs = pairs[0][0]
        if obs.kind in BAND_KINDS:
            if len(pairs) > 1:
                raise ValueError(f"observations: expected one {obs.kind!r} observation for "
                                 f"{obs.check!r} ({obs.engine}), got {len(pairs)}")
            res = _BAND_RULES[obs.kind](obs)
        else:
            res = _worst_row(pairs)  # type: ignore[arg-type]
        if obs.seconds is None:
            res.seconds = share
        results.append(res)
    return results


def _worst_row(pairs: list[tuple[Observation, Comparison]]) -> CheckResult:
    failing = [(o, c) for o, c in pairs if not c.passed]
    if failing:
        obs, cmp = failing[0]
    else:
        obs, cmp = max(pairs, key=lambda oc: _margin(oc[1]))
    where = obs.case + (f", {_fmt_index(cmp.worst_index)}" if cmp.worst_index else "")
    if obs.step is not None:
        where = f"step {obs.step}, {where}"
    details = {"cases": len(pairs), "failing_cases": len(failing), **obs.details}
    if failing:
        details["failing"] = [o.case if o.step is None else f"step {o.step}: {o.case}"
                              for o, _ in failing[:10]]
    return CheckResult(
        name=f"{obs.check} ({obs.engine})", group=obs.group, passed=not failing,
        max_abs_err=max(c.max_abs_err for _, c in pairs),
        max_rel_err=max(c.max_rel_err for _, c in pairs),
        where=where, tolerance_class=obs.tclass, rtol=cmp.tolerance.rtol,
        atol=cmp.tolerance.atol,
        first_divergence_step=obs.step if failing else None,
        message=cmp.message if failing else "",
        seconds=obs.seconds or 0.0,
        details=details,
    )


def _margin(c: Comparison) -> float:
    """How close a passing comparison came to its bound (1 = at the bound)."""
    if not c.worst:
        return 0.0
    _, _, _, err, allowed = c.worst[0]
    return float(err / allowed) if allowed else (0.0 if err == 0 else np.inf)


def _fmt_index(index: tuple) -> str:
    return "index (" + ", ".join(str(i) for i in index) + ")"


# --------------------------------------------------------------------------- band rules


def _curve(obs: Observation) -> CheckResult:
    """Free-running loss: ``|a-e|/|e|`` within the class's band at every step, same length."""
    a = np.asarray(obs.actual, dtype=np.float64)
    e = np.asarray(obs.expected, dtype=np.float64)
    n = min(len(a), len(e))
    diff = np.abs(a[:n] - e[:n])
    diff[np.isnan(diff)] = np.inf  # a NaN loss is as far from the reference as can be
    rel = diff / np.abs(e[:n])
    band = curve_band(obs.tclass, np.arange(n), obs.kind, obs.details.get("band"))
    bad = np.flatnonzero(~(rel <= band))
    first = int(bad[0]) if bad.size else None
    passed = first is None and len(a) == len(e)
    worst = int(np.argmax(rel / band)) if n else 0
    msg = ""
    if not passed:
        i = first if first is not None else n
        msg = (f"Free-running loss of {obs.engine} leaves the band at iteration {i}: "
               f"{a[i] if i < len(a) else 'missing'} vs reference "
               f"{e[i] if i < len(e) else 'missing'} (relative difference "
               f"{rel[i] if i < n else np.inf:.3g}, band {band[min(i, n - 1)]:.3g} at that step)")
    return CheckResult(
        name=f"{obs.check} ({obs.engine})", group=obs.group, passed=passed,
        max_abs_err=float(np.max(diff)) if n else 0.0,
        max_rel_err=float(np.max(rel)) if n else 0.0,
        where=f"iteration {worst}", tolerance_class=obs.tclass,
        rtol=float(band[worst]) if n else 0.0, atol=0.0, first_divergence_step=first,
        message=msg, seconds=obs.seconds or 0.0,
        details={"iterations": n, "band_start": float(band[0]) if n else None,
                 "band_end": float(band[-1]) if n else None, **obs.details},
    )


def _flips(obs: Observation) -> CheckResult:
    """Accuracy through flips: ``actual``/``expected`` are the predictions of the final
    parameters on every example; ``series`` holds the (candidate, reference) correct counts at
    each evaluation (``train_correct``, ``test_correct``, with ``test_iters``) and the number of
    evaluations each made (``evaluations``).  At most the class's allowance may flip, and no
    correct count may change by more at any evaluation."""
    flips = int(np.count_nonzero(obs.actual != obs.expected))
    n_examples = len(obs.expected)
    allowed = flip_band(obs.tclass, n_examples)
    counts = np.concatenate([obs.series["train_correct"], obs.series["test_correct"]])
    net = int(np.max(np.abs(counts[:, 0] - counts[:, 1]))) if len(counts) else 0
    n_evals = obs.series["evaluations"]
    passed = flips <= allowed and net <= allowed and n_evals[0] == n_evals[1]
    test = obs.series["test_correct"]
    over = np.flatnonzero(np.abs(test[:, 0] - test[:, 1]) > allowed)
    first = int(obs.series["test_iters"][over[0]]) if over.size else None
    msg = "" if passed else (
        f"Predictions of {obs.engine} differ from the reference on {flips} of {n_examples} "
        f"examples with the final parameters (allowed {allowed}); largest change in a correct "
        f"count at an evaluation: {net}"
        + (f", first at iteration {first}" if first is not None else ""))
    return CheckResult(
        name=f"{obs.check} ({obs.engine})", group=obs.group, passed=passed,
        max_abs_err=float(flips), max_rel_err=float(flips) / n_examples,
        where=f"final parameters, {flips} flips; max net change {net}",
        tolerance_class=obs.tclass, rtol=0.0, atol=float(allowed),
        first_divergence_step=first, message=msg, seconds=obs.seconds or 0.0,
        details=dict(obs.details),
    )


_BAND_RULES: dict[str, Callable[[Observation], CheckResult]] = {
    "curve": _curve, "flips": _flips, "regime_curve": _curve}
if set(_BAND_RULES) != set(BAND_KINDS):  # pragma: no cover - a band kind without its rule
    raise AssertionError(f"band rules {sorted(_BAND_RULES)} != BAND_KINDS {sorted(BAND_KINDS)}")
