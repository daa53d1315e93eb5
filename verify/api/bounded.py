"""The verdict of observations judged by a bound derived for each element (not a table entry).

:func:`judge_bounded` is :func:`verify.observe.judge` for observations whose
``details["allowed"]`` holds the largest permitted ``|actual - expected|`` of every element
(``check_training_step``'s rounding bound, :mod:`verify.api.step_bound`): an element passes when
``|a - e| <= allowed`` and NaN/Inf sit at the same places; there is no Frobenius bound (the
derived bound is per element already, and a systematic error shows in every element's ratio).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import numpy as np

from ..compare import _fmt_err, _fmt_pair, _fmt_pct, format_index
from ..observe import Observation
from ..report import CheckResult

__all__ = ["judge_bounded", "ratios"]


def ratios(actual: np.ndarray, expected: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """``|a - e| / allowed`` per element: 0 where equal (NaN with NaN, inf with the same inf),
    inf where NaN/Inf positions differ or a nonzero difference has no allowance."""
    a, e = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    b = np.broadcast_to(np.asarray(allowed, dtype=np.float64), e.shape)
    with np.errstate(all="ignore"):
        same = (a == e) | (np.isnan(a) & np.isnan(e))
        finite = np.isfinite(a) & np.isfinite(e)
        diff = np.abs(a - e)
        r = np.where(b > 0, diff / np.where(b > 0, b, 1.0), np.inf)
    return np.where(same, 0.0, np.where(finite, r, np.inf))


def _message(obs: Observation, r: np.ndarray, rule: str, k: int = 5) -> str:
    a, e = np.asarray(obs.actual, np.float64), np.asarray(obs.expected, np.float64)
    b = np.broadcast_to(np.asarray(obs.details["allowed"], np.float64), e.shape)
    bad = r > 1
    n_bad, n = int(bad.sum()), r.size
    lines = [f"Mismatch in '{obs.check} [{obs.case}]' ({rule}):",
             f"  {n_bad} / {n} elements ({_fmt_pct(n_bad, n)}%) exceed |a-e| <= bound"]
    nf = ~(np.isfinite(a) & np.isfinite(e)) & (r > 0)
    if nf.any():
        first = np.unravel_index(int(np.argmax(nf)), e.shape) if e.shape else ()
        lines.append(f"  {int(nf.sum())} element(s) where NaN/Inf positions differ, first at "
                     f"index {format_index(tuple(int(i) for i in first))}")
    fin = np.isfinite(a) & np.isfinite(e)
    if fin.any() and np.linalg.norm(e[fin]) > 0:
        frob = np.linalg.norm((a - e)[fin]) / np.linalg.norm(e[fin])
        lines.append(f"  relative Frobenius error ||a-e||/||e|| = {frob:.3g}")
    order = np.argsort(-np.where(np.isnan(r), np.inf, r), axis=None, kind="stable")[:min(k, n_bad)]
    of = f" of {n_bad}" if n_bad > len(order) else ""
    lines.append(f"  worst {len(order)}{of} (index: actual vs expected, |diff| / allowed):")
    for flat in order:
        idx = tuple(int(i) for i in np.unravel_index(int(flat), e.shape)) if e.shape else ()
        sa, se = _fmt_pair(float(a[idx]), float(e[idx]))
        d = abs(float(a[idx]) - float(e[idx])) if fin[idx] else np.inf
        lines.append(f"    {format_index(idx)}: {sa} vs {se}, {_fmt_err(d)} / "
                     f"{_fmt_err(float(b[idx]))}")
    return "\n".join(lines)


def judge_bounded(observations: Iterable[Observation], seconds: float = 0.0,
                  rule: str = "bound derived per element") -> list[CheckResult]:
    """One CheckResult per (check, engine): the first failing observation is reported, or,
    when all pass, the one closest to its bound (as :func:`verify.observe.judge`)."""
    start = time.perf_counter()
    rows: dict[tuple[str, str], list[tuple[Observation, np.ndarray]]] = {}
    for obs in observations:
        r = ratios(obs.actual, obs.expected, obs.details["allowed"])
        rows.setdefault((obs.check, obs.engine), []).append((obs, r))
    share = (seconds + time.perf_counter() - start) / max(1, len(rows))
    out = []
    for pairs in rows.values():
        failing = [(o, r) for o, r in pairs if r.size and float(np.max(r)) > 1]
        peak = [(float(np.max(r)) if r.size else 0.0) for _, r in pairs]
        obs, r = failing[0] if failing else pairs[int(np.argmax(peak))]
        worst = int(np.argmax(r)) if r.size else 0
        idx = np.unravel_index(worst, r.shape) if r.ndim else ()
        where = obs.case + (f", index ({', '.join(str(int(i)) for i in idx)})" if idx else "")
        if obs.step is not None:
            where = f"step {obs.step}, {where}"
        diffs = [np.abs(np.asarray(o.actual, np.float64) - np.asarray(o.expected, np.float64))
                 for o, _ in pairs]
        with np.errstate(all="ignore"):
            rels = [d / np.abs(np.asarray(o.expected, np.float64)) for d, (o, _) in
                    zip(diffs, pairs, strict=True)]
        details = {"cases": len(pairs), "failing_cases": len(failing),
                   "tolerance_justification": rule, "worst_ratio": max(peak)}
        details.update({k: v for k, v in obs.details.items() if k != "allowed"})
        if failing:
            details["failing"] = [o.case if o.step is None else f"step {o.step}: {o.case}"
                                  for o, _ in failing[:10]]
        allowed = np.asarray(obs.details["allowed"], np.float64)
        out.append(CheckResult(
            name=f"{obs.check} ({obs.engine})", group=obs.group, passed=not failing,
            max_abs_err=max((float(np.nanmax(d)) if d.size else 0.0) for d in diffs),
            max_rel_err=max((float(np.nanmax(np.where(d == 0, 0.0, x))) if x.size else 0.0)
                            for d, x in zip(diffs, rels, strict=True)),
            where=where, tolerance_class=obs.tclass, rtol=0.0,
            atol=float(np.max(allowed)) if allowed.size else 0.0,
            first_divergence_step=obs.step if failing else None,
            message=_message(obs, r, rule) if failing else "", seconds=share,
            details=details))
    return out
