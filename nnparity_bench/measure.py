"""One measurement row, how rows are judged against their baselines and targets, and how
variants are timed (round robin, one progress bar per section)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .harness import Timing


@dataclass
class Measurement:
    """One row: what was timed, its repeats, its baseline and its targets."""

    id: str
    section: str
    what: str
    short: str
    engine: str
    dtype: str | None = None
    device: str = "cpu"
    threads: int | None = None
    timing: Timing = field(default_factory=Timing)
    iters: int | None = None
    baseline: str | None = None
    is_baseline: bool = False
    targets: list[dict[str, Any]] = field(default_factory=list)
    claim_conditions: bool = True
    skipped: str | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    detail: str | None = None
    ratio: float | None = None
    met: bool | None = None
    peak_rss_mib: float | None = None

    def target(self, kind: str, value: float, text: str, source: str | None = None) -> None:
        self.targets.append({"kind": kind, "value": value, "text": text, "source": source,
                             "actual": None, "met": None})

    def as_dict(self) -> dict[str, Any]:
        t = self.timing.as_dict()
        per_iter = t["median"] / self.iters if (self.iters and t["median"] is not None) else None
        return {
            "id": self.id, "section": self.section, "what": self.what, "short": self.short,
            "engine": self.engine, "dtype": self.dtype, "device": self.device,
            "threads": self.threads, "unit": "s", **t, "iters": self.iters,
            "per_iter_s": per_iter, "baseline": self.baseline, "is_baseline": self.is_baseline,
            "ratio": self.ratio, "targets": self.targets, "met": self.met,
            "claim_conditions": self.claim_conditions, "skipped": self.skipped,
            "error": self.error, "detail": self.detail, "extra": self.extra,
            "peak_rss_mib": self.peak_rss_mib,
        }


def judge(rows: Sequence[Measurement]) -> None:
    """Ratios to baselines, then each target's actual value and verdict."""
    by_id = {m.id: m for m in rows}
    for m in rows:
        base = by_id.get(m.baseline or "")
        if (base is not None and base.timing.repeats and m.timing.repeats
                and not m.error and not base.error and m.timing.median > 0):
            m.ratio = base.timing.median / m.timing.median
        for t in m.targets:
            if m.skipped or m.error or not m.timing.repeats:
                continue
            if t["kind"] == "speedup_min":
                actual = m.ratio
                t["met"] = None if actual is None else bool(actual >= t["value"])
            elif t["kind"] == "time_max":
                actual = m.timing.median
                t["met"] = bool(actual <= t["value"])
            elif t["kind"] == "abs_max":
                actual = m.extra.get(t["source"])
                t["met"] = None if actual is None else bool(abs(actual) <= t["value"])
            else:  # pragma: no cover - a programming error
                raise ValueError(f"target kind: unknown {t['kind']!r}")
            t["actual"] = actual
        verdicts = [t["met"] for t in m.targets]
        m.met = None if not verdicts or None in verdicts else all(verdicts)



def summary(rows: Sequence[Measurement]) -> dict[str, Any]:
    evaluated = [m for m in rows if m.met is not None]
    return {
        "evaluated": len(evaluated),
        "met": sum(1 for m in evaluated if m.met),
        "missed": [m.short for m in evaluated if not m.met],
        "skipped": [m.short for m in rows if m.skipped],
        "errors": [m.short for m in rows if m.error],
    }



class Progress:
    """One tqdm bar per section (nothing when progress is off)."""

    def __init__(self, on: bool, desc: str, total: int) -> None:
        self.bar = None
        if on:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="run", leave=False, file=sys.stderr)

    def tick(self, label: str = "") -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(label, refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def run_round_robin(
    variants: Sequence[tuple[Measurement, Callable[[], Any], Callable[[], Any] | None]],
    repeats: int,
    bar: Progress,
    on_result: Callable[[Measurement, Any], None] | None = None,
) -> None:
    """Warm each variant up once, then time repeat r of every variant before repeat r + 1 (so
    a slow drift of the machine spreads over all rows instead of biasing one)."""
    for m, _, warm in variants:
        if warm is None or m.error or m.skipped:
            continue
        try:
            warm()
        except Exception as exc:  # noqa: BLE001 - recorded in the report
            m.error = error_text(exc)
    for _ in range(repeats):
        for m, run, _ in variants:
            if m.error or m.skipped:
                bar.tick(m.short)
                continue
            try:
                seconds, out = run()
            except Exception as exc:  # noqa: BLE001 - recorded in the report
                m.error = error_text(exc)
            else:
                m.timing.add(seconds)
                if on_result is not None:
                    on_result(m, out)
            bar.tick(m.short)

