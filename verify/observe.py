"""Observations: what a check saw, before any tolerance is applied.

A check produces observations (candidate value, float64 reference value, where).  ``judge`` turns
them into verdicts with the tolerance of the candidate's class; ``calibrate`` turns the same
observations, gathered over many seeds with no bug planted, into the noise measurements that the
tolerances are derived from.  One code path, so a tolerance always describes what it judges.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .compare import Comparison, Tolerance, compare_arrays
from .report import CheckResult
from .tolerances import tolerance_for

__all__ = ["Observation", "bound_ratio", "judge", "scaled_errors"]


@dataclass
class Observation:
    """One comparison of a candidate engine's value with the float64 reference."""

    check: str  # the row in the report, e.g. "softmax backward"
    group: str  # losses, gradients, optimizers, data, training, seeds
    engine: str  # engine name, e.g. "torch/cpu/float32"
    tclass: str  # tolerance class: float64, float32-cpu, float32-cuda, tf32, exact
    kind: str  # quantity kind within the class: function, gradient, update, loss, ...
    case: str  # which input, tensor or step, e.g. "large logits", "grad b2"
    actual: np.ndarray
    expected: np.ndarray
    step: int | None = None
    details: dict = field(default_factory=dict)


def scaled_errors(actual: np.ndarray, expected: np.ndarray) -> tuple[float, float, float]:
    """Three measures over the finite elements, each what one part of a tolerance must cover:

    * max |a-e| / max|e|: error against the tensor's scale (atol_scale);
    * max |a-e|/|e| over the large elements, |e| ≥ 0.1 max|e| (rtol);
    * ‖a-e‖ / ‖e‖, the relative Frobenius error (frob): rounding noise averages out in it while
      a systematic error (a gradient scaled by 1 + 1e-4) does not, so it is the sensitive one.
    """
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(e)
    if not ok.any():
        return 0.0, 0.0, 0.0
    a, e = a[ok], e[ok]
    scale = float(np.max(np.abs(e)))
    diff = np.abs(a - e)
    if scale == 0:
        bad = float(np.max(diff)) and np.inf
        return bad, 0.0, bad
    big = np.abs(e) >= 0.1 * scale
    rel = float(np.max(diff[big] / np.abs(e[big]))) if big.any() else 0.0
    return float(np.max(diff)) / scale, rel, float(np.linalg.norm(diff) / np.linalg.norm(e))


def bound_ratio(actual: np.ndarray, expected: np.ndarray, spec) -> float:
    """How far ``actual`` is from failing under ``spec``: > 1 fails, exactly as ``judge`` does
    (elementwise |a-e| <= atol_scale*max|e| + atol_floor + rtol*|e|, and the Frobenius bound).

    A cheap scalar for hot loops such as step replay, which only builds an Observation (and a
    full message) for the steps worth reporting.
    """
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        return np.inf
    bound = spec.atol_scale * float(np.max(np.abs(e))) + spec.atol_floor + spec.rtol * np.abs(e)
    frob = float(np.linalg.norm(a - e) / max(np.linalg.norm(e), 1e-300))
    return max(float(np.max(np.abs(a - e) / bound)), frob / spec.frob)


def _tolerance(obs: Observation) -> Tolerance:
    spec = tolerance_for(obs.tclass, obs.kind)
    finite = np.asarray(obs.expected, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    scale = float(np.max(np.abs(finite))) if finite.size else 0.0
    return Tolerance(
        name=f"{obs.tclass}/{obs.kind}",
        rtol=spec.rtol,
        atol=spec.atol_scale * scale + spec.atol_floor,
        justification=spec.justification,
    )


def judge(observations: Iterable[Observation], seconds: float = 0.0) -> list[CheckResult]:
    """One CheckResult per (check, engine): the worst observation decides and is reported.

    The reported case is the first failing one in order (for training, the first failing step),
    or, when all pass, the one with the least margin.
    """
    start = time.perf_counter()
    rows: dict[tuple[str, str], list[tuple[Observation, Comparison]]] = {}
    for obs in observations:
        cmp = compare_arrays(f"{obs.check} [{obs.case}]", obs.actual, obs.expected, _tolerance(obs))
        _apply_frobenius(obs, cmp)
        rows.setdefault((obs.check, obs.engine), []).append((obs, cmp))
    results = []
    judging = time.perf_counter() - start
    for (check, engine), pairs in rows.items():
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
        results.append(CheckResult(
            name=f"{check} ({engine})", group=obs.group, passed=not failing,
            max_abs_err=max(c.max_abs_err for _, c in pairs),
            max_rel_err=max(c.max_rel_err for _, c in pairs),
            where=where, tolerance_class=obs.tclass, rtol=cmp.tolerance.rtol,
            atol=cmp.tolerance.atol,
            first_divergence_step=obs.step if failing else None,
            message=cmp.message if failing else "",
            seconds=(seconds + judging) / max(1, len(rows)),
            details=details,
        ))
    return results


def _apply_frobenius(obs: Observation, cmp: Comparison) -> None:
    """Fail ``cmp`` too when the relative Frobenius error exceeds the class's bound."""
    frob_tol = tolerance_for(obs.tclass, obs.kind).frob
    _, _, frob = scaled_errors(obs.actual, obs.expected)
    cmp.frob = frob  # type: ignore[attr-defined]
    if frob > frob_tol:
        elementwise_passed = cmp.passed
        cmp.passed = False
        head = (f"Mismatch in '{obs.check} [{obs.case}]' ({obs.tclass}/{obs.kind}): relative "
                f"Frobenius error ||a-e||/||e|| = {frob:.3g} exceeds {frob_tol:.3g}")
        if elementwise_passed:
            cmp.message = (head + " (elementwise every value is within its bound: a small "
                           "systematic error, such as a tensor scaled by a constant)")
        else:
            cmp.message = head + "\n" + cmp.message


def _margin(c: Comparison) -> float:
    """How close a passing comparison came to its bound (1 = at the bound)."""
    if not c.worst:
        return 0.0
    _, _, _, err, allowed = c.worst[0]
    return float(err / allowed) if allowed else (0.0 if err == 0 else np.inf)


def _fmt_index(index: tuple) -> str:
    return "index (" + ", ".join(str(i) for i in index) + ")"
