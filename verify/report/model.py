"""The result model: one :class:`CheckResult` per check, collected in a :class:`Report`.

How a report is written lives elsewhere: the JSON codec and schema in ``codec.py`` and
``schema.py``, the terminal table in ``table.py``, the file formats in ``writers/``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from verify.compare import Comparison, format_index
from verify.version import producer_info

from .codec import decode_float, encode_float, jsonable
from .schema import SCHEMA_NAME, SCHEMA_VERSION, upgrade, validate_report_dict

__all__ = ["CheckResult", "Report", "check_report"]


@dataclass
class CheckResult:
    """One check's verdict with the numbers that support it.

    ``where`` says where the worst disagreement is, in words a person can act on
    (``"index (12, 3)"``, ``"step 41, grad b2"``); ``first_divergence_step`` is the first
    training step that went over the bound, for checks that replay a run.
    """

    name: str
    group: str
    passed: bool
    max_abs_err: float
    max_rel_err: float
    where: str
    tolerance_class: str
    rtol: float
    atol: float
    first_divergence_step: int | None = None
    message: str = ""
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for arg in ("name", "group", "tolerance_class"):
            value = getattr(self, arg)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{arg}: expected a non-empty str, got {value!r}")
        if not isinstance(self.details, dict):
            raise TypeError(f"details: expected a dict, got {type(self.details).__name__}")
        step = self.first_divergence_step
        if step is not None and (isinstance(step, bool) or not isinstance(step, (int, np.integer))):
            raise TypeError(f"first_divergence_step: expected an int or None, got {step!r}")
        self.passed = bool(self.passed)

    @classmethod
    def from_comparison(
        cls,
        comparison: Comparison,
        group: str,
        *,
        name: str | None = None,
        where: str | None = None,
        seconds: float = 0.0,
        details: dict[str, Any] | None = None,
    ) -> CheckResult:
        """Turn a :class:`~verify.compare.Comparison` into a report row.

        ``where`` defaults to ``"step N"`` for a series that diverged, else ``"index (i, j)"``
        of the greatest difference.  ``details`` gains the element counts, the worst-k list and
        the tolerance justification; keys passed in ``details`` win.
        """
        if where is None:
            if comparison.first_divergence is not None:
                where = f"step {comparison.first_divergence}"
            elif comparison.n_total == 0:
                where = ""
            else:
                where = f"index {format_index(comparison.worst_index)}"
        tol = comparison.tolerance
        base = {
            "n_mismatched": comparison.n_mismatched,
            "n_total": comparison.n_total,
            "worst": comparison.to_dict()["worst"],
            "tolerance_justification": tol.justification,
        }
        return cls(
            name=name if name is not None else comparison.name,
            group=group,
            passed=comparison.passed,
            max_abs_err=comparison.max_abs_err,
            max_rel_err=comparison.max_rel_err,
            where=where,
            tolerance_class=tol.name,
            rtol=tol.rtol,
            atol=tol.atol,
            first_divergence_step=comparison.first_divergence,
            message=comparison.message,
            seconds=seconds,
            details={**base, **(details or {})},
        )

    def to_json_dict(self) -> dict[str, Any]:
        """This row as strict-JSON-ready data (non-finite floats as strings)."""
        where = f"check {self.name!r}"
        return {
            "name": self.name,
            "group": self.group,
            "passed": self.passed,
            "max_abs_err": encode_float(self.max_abs_err),
            "max_rel_err": encode_float(self.max_rel_err),
            "where": self.where,
            "tolerance_class": self.tolerance_class,
            "rtol": encode_float(self.rtol),
            "atol": encode_float(self.atol),
            "first_divergence_step": (
                None if self.first_divergence_step is None else int(self.first_divergence_step)
            ),
            "message": self.message,
            "seconds": encode_float(self.seconds),
            "details": jsonable(self.details, f"{where}: details"),
        }

    @classmethod
    def from_json_dict(cls, d: dict[str, Any]) -> CheckResult:
        """Inverse of :meth:`to_json_dict` (non-finite strings become floats again)."""
        return cls(
            name=d["name"],
            group=d["group"],
            passed=d["passed"],
            max_abs_err=decode_float(d["max_abs_err"]),
            max_rel_err=decode_float(d["max_rel_err"]),
            where=d["where"],
            tolerance_class=d["tolerance_class"],
            rtol=decode_float(d["rtol"]),
            atol=decode_float(d["atol"]),
            first_divergence_step=d["first_divergence_step"],
            message=d["message"],
            seconds=decode_float(d["seconds"]),
            details=d["details"],
        )


@dataclass
class Report:
    """All check results of one ``verify`` run plus the environment they ran in."""

    checks: list[CheckResult] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    #: Which nnparity wrote it: ``{"name", "version", "commit"}`` (see :mod:`verify.version`).
    producer: dict[str, str] = field(default_factory=producer_info)

    SCHEMA_VERSION: ClassVar[str] = SCHEMA_VERSION

    def add(self, check: CheckResult) -> CheckResult:
        if not isinstance(check, CheckResult):
            raise TypeError(f"check: expected a CheckResult, got {type(check).__name__}")
        self.checks.append(check)
        return check

    @property
    def passed(self) -> bool:
        """True when there is at least one check and every check passed (no checks is no proof)."""
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def n_passed(self) -> int:
        return sum(1 for c in self.checks if c.passed)

    @property
    def n_failed(self) -> int:
        return len(self.checks) - self.n_passed

    @property
    def seconds(self) -> float:
        """The run's wall time, when the environment records it (``environment["seconds"]``);
        else the sum of the checks' seconds, which counts twice the work several checks share
        (one training run serves a curve and an accuracy row)."""
        wall = self.environment.get("seconds")
        if isinstance(wall, (int, float)) and not isinstance(wall, bool) and math.isfinite(wall):
            return float(wall)
        return float(sum(c.seconds for c in self.checks if math.isfinite(c.seconds)))

    def to_json_dict(self) -> dict[str, Any]:
        """The report as strict-JSON-ready data matching :data:`JSON_SCHEMA`."""
        return {
            "schema": SCHEMA_NAME,
            "schema_version": SCHEMA_VERSION,
            "passed": self.passed,
            "producer": jsonable(self.producer, "producer"),
            "environment": jsonable(self.environment, "environment"),
            "summary": {
                "total": len(self.checks),
                "passed": self.n_passed,
                "failed": self.n_failed,
                "seconds": self.seconds,
            },
            "checks": [c.to_json_dict() for c in self.checks],
        }

    @classmethod
    def from_json_dict(cls, d: dict[str, Any]) -> Report:
        """Validate ``d`` against the schema (1.0 documents upgraded) and rebuild the Report."""
        d = upgrade(d)
        validate_report_dict(d)
        return cls(
            checks=[CheckResult.from_json_dict(c) for c in d["checks"]],
            environment=dict(d["environment"]),
            producer=dict(d["producer"]),
        )


def check_report(report: object) -> Report:
    """``report`` itself when it is a :class:`Report`, else a TypeError naming it."""
    if not isinstance(report, Report):
        raise TypeError(f"report: expected a Report, got {type(report).__name__}")
    return report
