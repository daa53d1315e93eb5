"""Collect check results and write them for people (terminal, Markdown) and machines (JSON, JUnit).

The JSON document (schema ``nnparity.verify``, version ``1.0``) looks like::

    {
      "schema": "nnparity.verify", "schema_version": "1.0", "passed": true,
      "environment": {...free-form...},
      "summary": {"total": 12, "passed": 12, "failed": 0, "seconds": 3.2},
      "checks": [{"name": ..., "group": ..., "passed": ..., "max_abs_err": ...,
                  "max_rel_err": ..., "where": ..., "tolerance_class": ..., "rtol": ...,
                  "atol": ..., "first_divergence_step": ..., "message": ..., "seconds": ...,
                  "details": {...}}]
    }

Non-finite floats: JSON has no representation for them, so every float that is NaN or +/-Inf -
in the check fields, ``environment`` and ``details`` alike - is written as one of the strings
``"nan"``, ``"inf"`` or ``"-inf"`` (never ``null``, which would lose which one it was).
:func:`decode_float` turns them back.  The output is strict JSON (``allow_nan=False``).

Everything is written atomically through ``reference_numpy._validate``: a reader never sees a
half-written report, and a failed write leaves the previous file in place.
"""

from __future__ import annotations

import json
import math
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from reference_numpy._validate import atomic_write_bytes
from verify.compare import Comparison, format_index

__all__ = [
    "CheckResult",
    "Report",
    "JSON_SCHEMA",
    "KNOWN_GROUPS",
    "NONFINITE_STRINGS",
    "encode_float",
    "decode_float",
    "validate_report_dict",
    "read_json",
    "render_markdown",
    "write_json",
    "write_junit",
    "write_markdown",
    "format_table",
]

SCHEMA_NAME = "nnparity.verify"
SCHEMA_VERSION = "1.0"
#: Groups the built-in checks use; other non-empty names are accepted too.
KNOWN_GROUPS = ("losses", "gradients", "optimizers", "data", "training", "seeds")
#: How NaN, +Inf and -Inf are written in the JSON report.
NONFINITE_STRINGS = ("nan", "inf", "-inf")


# --------------------------------------------------------------------------- results


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
            "details": _jsonable(self.details, f"{where}: details"),
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
        return float(sum(c.seconds for c in self.checks if math.isfinite(c.seconds)))

    def to_json_dict(self) -> dict[str, Any]:
        """The report as strict-JSON-ready data matching :data:`JSON_SCHEMA`."""
        return {
            "schema": SCHEMA_NAME,
            "schema_version": SCHEMA_VERSION,
            "passed": self.passed,
            "environment": _jsonable(self.environment, "environment"),
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
        """Validate ``d`` against the schema and rebuild the Report."""
        validate_report_dict(d)
        return cls(
            checks=[CheckResult.from_json_dict(c) for c in d["checks"]],
            environment=dict(d["environment"]),
        )


# --------------------------------------------------------------------------- JSON encoding


def encode_float(x: float) -> float | str:
    """A float for JSON: itself when finite, else ``"nan"``, ``"inf"`` or ``"-inf"``."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def decode_float(x: float | int | str) -> float:
    """Inverse of :func:`encode_float`."""
    if isinstance(x, str):
        if x not in NONFINITE_STRINGS:
            raise ValueError(f"expected a number or one of {NONFINITE_STRINGS}, got {x!r}")
        return float(x)
    return float(x)


def _jsonable(value: Any, path: str) -> Any:
    """Copy ``value`` into JSON types: NumPy scalars/arrays, tuples and paths are converted,
    non-finite floats become strings, anything else raises TypeError naming where it was."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return encode_float(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist(), path)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{path}: keys must be str, got {type(k).__name__} {k!r}")
            out[k] = _jsonable(v, f"{path}[{k!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"{path}: expected JSON-serialisable data, got {type(value).__name__}")


# --------------------------------------------------------------------------- schema

_NUMBER_OR_NONFINITE = {
    "description": "a finite number, or 'nan', 'inf', '-inf'",
    "oneOf": [{"type": "number"}, {"type": "string", "enum": list(NONFINITE_STRINGS)}],
}
_NONNEG_NUMBER_OR_NONFINITE = {
    "description": "a finite number >= 0, or 'inf', 'nan'",
    "oneOf": [{"type": "number", "minimum": 0}, {"type": "string", "enum": ["inf", "nan"]}],
}

#: JSON Schema (draft 2020-12) of :meth:`Report.to_json_dict`.
JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://nnparity.invalid/schemas/verify-report-1.0.json",
    "title": "nnparity verify report",
    "description": (
        "Result of `python -m verify`. Non-finite floats are the strings 'nan', 'inf', '-inf'."
    ),
    "type": "object",
    "required": ["schema", "schema_version", "passed", "environment", "summary", "checks"],
    "additionalProperties": False,
    "properties": {
        "schema": {"const": SCHEMA_NAME},
        "schema_version": {"const": SCHEMA_VERSION},
        "passed": {"type": "boolean"},
        "environment": {"type": "object"},
        "summary": {
            "type": "object",
            "required": ["total", "passed", "failed", "seconds"],
            "additionalProperties": False,
            "properties": {
                "total": {"type": "integer", "minimum": 0},
                "passed": {"type": "integer", "minimum": 0},
                "failed": {"type": "integer", "minimum": 0},
                "seconds": {"type": "number", "minimum": 0},
            },
        },
        "checks": {"type": "array", "items": {"$ref": "#/$defs/check"}},
    },
    "$defs": {
        "check": {
            "type": "object",
            "required": [
                "name",
                "group",
                "passed",
                "max_abs_err",
                "max_rel_err",
                "where",
                "tolerance_class",
                "rtol",
                "atol",
                "first_divergence_step",
                "message",
                "seconds",
                "details",
            ],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "group": {"type": "string", "minLength": 1},
                "passed": {"type": "boolean"},
                "max_abs_err": _NONNEG_NUMBER_OR_NONFINITE,
                "max_rel_err": _NONNEG_NUMBER_OR_NONFINITE,
                "where": {"type": "string"},
                "tolerance_class": {"type": "string", "minLength": 1},
                "rtol": {"type": "number", "minimum": 0},
                "atol": {"type": "number", "minimum": 0},
                "first_divergence_step": {"type": ["integer", "null"], "minimum": 0},
                "message": {"type": "string"},
                "seconds": _NUMBER_OR_NONFINITE,
                "details": {"type": "object"},
            },
        }
    },
}

_JSON_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    # A JSON number is finite: a raw float('inf') here means it was not encoded.
    "number": lambda v: (
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    ),
}


def _schema_errors(value: Any, schema: dict[str, Any], path: str, root: dict[str, Any]) -> str:
    """The first violation of ``schema`` by ``value`` as a message, or '' when it conforms.

    Supports the subset :data:`JSON_SCHEMA` uses: ``$ref`` (local), ``type``, ``const``,
    ``enum``, ``oneOf``, ``required``, ``properties``, ``additionalProperties: false``,
    ``items``, ``minimum``, ``minLength``.
    """
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return _schema_errors(value, target, path, root)
    if "oneOf" in schema:
        ok = [s for s in schema["oneOf"] if not _schema_errors(value, s, path, root)]
        if len(ok) != 1:
            want = schema.get("description", "exactly one of the alternatives")
            return f"{path}: expected {want}, got {value!r}"[:300]
        return ""
    if "const" in schema and value != schema["const"]:
        return f"{path}: expected {schema['const']!r}, got {value!r}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{path}: expected one of {schema['enum']}, got {value!r}"
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_JSON_TYPES[t](value) for t in types):
            got = "non-finite float" if isinstance(value, float) else type(value).__name__
            return f"{path}: expected {' or '.join(types)}, got {got} {value!r}"[:300]
    if "minimum" in schema and _JSON_TYPES["number"](value) and value < schema["minimum"]:
        return f"{path}: expected a value >= {schema['minimum']}, got {value!r}"
    if "minLength" in schema and isinstance(value, str) and len(value) < schema["minLength"]:
        return f"{path}: expected a non-empty string, got {value!r}"
    if isinstance(value, dict):
        return _object_errors(value, schema, path, root)
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            err = _schema_errors(item, schema["items"], f"{path}[{i}]", root)
            if err:
                return err
    return ""


def _object_errors(value: dict, schema: dict[str, Any], path: str, root: dict[str, Any]) -> str:
    prefix = f"{path}." if path else ""
    for key in schema.get("required", []):
        if key not in value:
            return f"{prefix}{key}: required key is missing"
    props = schema.get("properties", {})
    if schema.get("additionalProperties") is False:
        extra = sorted(set(value) - set(props))
        if extra:
            return f"{prefix}{extra[0]}: unexpected key (allowed: {', '.join(props)})"
    for key, sub in props.items():
        if key in value:
            err = _schema_errors(value[key], sub, f"{prefix}{key}", root)
            if err:
                return err
    return ""


def _find_nonfinite(value: Any, path: str) -> str:
    """Path of the first raw non-finite float inside free-form data, or ''."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    if isinstance(value, dict):
        for k, v in value.items():
            found = _find_nonfinite(v, f"{path}[{k!r}]")
            if found:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            found = _find_nonfinite(v, f"{path}[{i}]")
            if found:
                return found
    return ""


def validate_report_dict(d: Any) -> None:
    """Check ``d`` against :data:`JSON_SCHEMA` and the summary's arithmetic, in plain Python.

    Raises ValueError naming the offending key (``checks[3].max_abs_err: ...``).  Also refuses
    a raw NaN/Inf float anywhere (``json.dumps`` would write invalid JSON for it), a summary
    that does not add up, and a top-level ``passed`` that disagrees with the checks.
    """
    if not isinstance(d, dict):
        raise ValueError(f"report: expected a JSON object (dict), got {type(d).__name__}")
    err = _schema_errors(d, JSON_SCHEMA, "", JSON_SCHEMA)
    if err:
        raise ValueError(err)
    for key in ("environment", "checks"):
        bad = _find_nonfinite(d[key], key)
        if bad:
            raise ValueError(f"{bad}: non-finite float; encode it as 'nan', 'inf' or '-inf'")
    checks, summary = d["checks"], d["summary"]
    n_pass = sum(1 for c in checks if c["passed"])
    expected = {"total": len(checks), "passed": n_pass, "failed": len(checks) - n_pass}
    for key, want in expected.items():
        if summary[key] != want:
            raise ValueError(f"summary.{key}: expected {want} (from checks), got {summary[key]}")
    want_passed = bool(checks) and n_pass == len(checks)
    if d["passed"] != want_passed:
        raise ValueError(f"passed: expected {want_passed} (from checks), got {d['passed']}")


# --------------------------------------------------------------------------- writers


def _check_report(report: object) -> Report:
    if not isinstance(report, Report):
        raise TypeError(f"report: expected a Report, got {type(report).__name__}")
    return report


def write_json(report: Report, path: str | os.PathLike[str]) -> Path:
    """Write the report as strict JSON (validated first), atomically."""
    d = _check_report(report).to_json_dict()
    validate_report_dict(d)
    text = json.dumps(d, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    return atomic_write_bytes(path, text.encode("utf-8"))


def read_json(path: str | os.PathLike[str]) -> Report:
    """Read and validate a report written by :func:`write_json`."""
    with open(path, encoding="utf-8") as f:
        return Report.from_json_dict(json.load(f))


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(s: str) -> str:
    """Drop characters XML 1.0 cannot hold (a stray control byte would break the parser)."""
    return _XML_INVALID.sub("\ufffd", s)


def write_junit(report: Report, path: str | os.PathLike[str]) -> Path:
    """Write JUnit XML: one ``<testcase classname="nnparity.<group>">`` per check.

    A failing check gets ``<failure message="first line" type="ParityMismatch">`` with the
    full message as its text.  The environment goes into ``<properties>``.
    """
    report = _check_report(report)
    totals = {
        "name": "nnparity.verify",
        "tests": str(len(report.checks)),
        "failures": str(report.n_failed),
        "errors": "0",
        "skipped": "0",
        "time": f"{report.seconds:.3f}",
    }
    suites = ET.Element("testsuites", totals)
    suite = ET.SubElement(suites, "testsuite", totals)
    props = ET.SubElement(suite, "properties")
    for key, value in report.environment.items():
        text = value if isinstance(value, str) else json.dumps(_jsonable(value, key))
        ET.SubElement(props, "property", name=_xml_text(str(key)), value=_xml_text(text))
    for c in report.checks:
        seconds = c.seconds if math.isfinite(c.seconds) else 0.0
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"nnparity.{_xml_text(c.group)}",
            name=_xml_text(c.name),
            time=f"{seconds:.3f}",
        )
        if not c.passed:
            first_line = c.message.splitlines()[0] if c.message else f"{c.name} failed"
            failure = ET.SubElement(
                case, "failure", message=_xml_text(first_line), type="ParityMismatch"
            )
            failure.text = _xml_text(c.message or first_line)
    ET.indent(suites)
    data = ET.tostring(suites, encoding="utf-8", xml_declaration=True)
    return atomic_write_bytes(path, data + b"\n")


def _fmt_num(x: float) -> str:
    """Errors for tables: ``1.23e-04``, ``0``, ``inf``, ``nan``."""
    x = float(x)
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    return f"{x:.2e}"


def _tolerance_text(c: CheckResult) -> str:
    return f"{c.tolerance_class} (rtol={c.rtol:g}, atol={c.atol:g})"


def _verdict_line(report: Report) -> str:
    if not report.checks:
        return "FAIL: no checks ran (an empty run proves nothing)"
    word = "PASS" if report.passed else "FAIL"
    return (
        f"{word}: {report.n_passed} of {len(report.checks)} checks passed ({report.seconds:.2f} s)"
    )


def _md_cell(s: object) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report) -> str:
    """The Markdown text :func:`write_markdown` writes."""
    report = _check_report(report)
    lines = ["# nnparity verify report", "", f"**{_verdict_line(report)}**", ""]
    lines += ["## Environment", "", "| key | value |", "| --- | --- |"]
    for key, value in report.environment.items():
        text = value if isinstance(value, str) else json.dumps(_jsonable(value, key))
        lines.append(f"| {_md_cell(key)} | {_md_cell(text)} |")
    lines += ["", "## Checks", ""]
    lines += ["| check | verdict | worst abs | worst rel | where | tolerance |"]
    lines += ["| --- | --- | ---: | ---: | --- | --- |"]
    for c in report.checks:
        verdict = "PASS" if c.passed else "**FAIL**"
        lines.append(
            f"| {_md_cell(c.group + '/' + c.name)} | {verdict} | {_fmt_num(c.max_abs_err)} | "
            f"{_fmt_num(c.max_rel_err)} | {_md_cell(c.where)} | {_md_cell(_tolerance_text(c))} |"
        )
    failures = [c for c in report.checks if not c.passed]
    if failures:
        lines += ["", "## Failures"]
        for c in failures:
            lines += ["", f"### {c.group}/{c.name}", "", "```text", c.message, "```"]
    return "\n".join(lines) + "\n"


def write_markdown(report: Report, path: str | os.PathLike[str]) -> Path:
    """Write a Markdown summary (verdict, environment table, checks table), atomically."""
    return atomic_write_bytes(path, render_markdown(report).encode("utf-8"))


_GREEN, _RED, _BOLD, _RESET = "\x1b[32m", "\x1b[31m", "\x1b[1m", "\x1b[0m"


def format_table(report: Report, *, color: bool = False) -> str:
    """The terminal view: an aligned table, the failing checks' messages, then a summary line.

    Columns: group, check, worst abs, where, tolerance, verdict.  With ``color`` the verdicts
    are green/red (padding is applied before the colour codes, so columns stay aligned).
    The last line is ``"N passed, M failed"``.
    """
    report = _check_report(report)
    header = ("group", "check", "worst abs", "where", "tolerance", "verdict")
    rows = [
        (
            c.group,
            c.name,
            _fmt_num(c.max_abs_err),
            c.where,
            _tolerance_text(c),
            "PASS" if c.passed else "FAIL",
        )
        for c in report.checks
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {2}  # numbers right-aligned

    def fmt_row(row: tuple[str, ...], paint: bool) -> str:
        cells = []
        for i, (cell, w) in enumerate(zip(row, widths, strict=True)):
            text = cell.rjust(w) if i in right else cell.ljust(w)
            if paint and i == len(row) - 1:
                text = f"{_GREEN if cell == 'PASS' else _RED}{text}{_RESET}"
            cells.append(text)
        return "  ".join(cells).rstrip()

    lines = [fmt_row(header, False), "  ".join("-" * w for w in widths)]
    lines += [fmt_row(r, color) for r in rows]
    for c in report.checks:
        if not c.passed:
            title = f"FAIL {c.group}/{c.name}"
            lines += ["", f"{_BOLD}{_RED}{title}{_RESET}" if color else title, c.message]
    if not report.checks:
        lines += ["", "no checks ran"]
    summary = f"{report.n_passed} passed, {report.n_failed} failed"
    if color:
        summary = f"{_BOLD}{_GREEN if report.passed else _RED}{summary}{_RESET}"
    lines += ["", summary]
    return "\n".join(lines)
