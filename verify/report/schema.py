"""The JSON report's schema (``nnparity.verify`` 1.1) and a plain-Python validator for it.

The document looks like::

    {
      "schema": "nnparity.verify", "schema_version": "1.1", "passed": true,
      "producer": {"name": "nnparity", "version": "0.1.0", "commit": "<sha>" or "unknown"},
      "environment": {...free-form...},
      "summary": {"total": 12, "passed": 12, "failed": 0, "seconds": 3.2},
      "checks": [{"name": ..., "group": ..., "passed": ..., "max_abs_err": ...,
                  "max_rel_err": ..., "where": ..., "tolerance_class": ..., "rtol": ...,
                  "atol": ..., "first_divergence_step": ..., "message": ..., "seconds": ...,
                  "details": {...}}]
    }

Non-finite floats anywhere (check fields, ``environment``, ``details``) are the strings
``"nan"``, ``"inf"``, ``"-inf"`` (see :mod:`verify.report.codec`).  Version 1.0 documents (no
``producer``) are still read: :func:`upgrade` gives them ``producer`` ``"unknown"``.
"""

from __future__ import annotations

import math
from typing import Any

from .codec import NONFINITE_STRINGS

__all__ = ["JSON_SCHEMA", "SCHEMA_NAME", "SCHEMA_VERSION", "upgrade", "validate_report_dict"]

SCHEMA_NAME = "nnparity.verify"
SCHEMA_VERSION = "1.1"

_NUMBER_OR_NONFINITE = {
    "description": "a finite number, or 'nan', 'inf', '-inf'",
    "oneOf": [{"type": "number"}, {"type": "string", "enum": list(NONFINITE_STRINGS)}],
}
_NONNEG_NUMBER_OR_NONFINITE = {
    "description": "a finite number >= 0, or 'inf', 'nan'",
    "oneOf": [{"type": "number", "minimum": 0}, {"type": "string", "enum": ["inf", "nan"]}],
}

#: JSON Schema (draft 2020-12) of :meth:`verify.report.Report.to_json_dict`.
JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://nnparity.invalid/schemas/verify-report-1.1.json",
    "title": "nnparity verify report",
    "description": (
        "Result of `python -m verify`. Non-finite floats are the strings 'nan', 'inf', '-inf'."
    ),
    "type": "object",
    "required": [
        "schema", "schema_version", "passed", "producer", "environment", "summary", "checks",
    ],
    "additionalProperties": False,
    "properties": {
        "schema": {"const": SCHEMA_NAME},
        "schema_version": {"const": SCHEMA_VERSION},
        "passed": {"type": "boolean"},
        "producer": {
            "type": "object",
            "required": ["name", "version", "commit"],
            "additionalProperties": False,
            "properties": {
                "name": {"const": "nnparity"},
                "version": {"type": "string", "minLength": 1},
                "commit": {
                    "type": "string", "minLength": 1,
                    "description": "git commit (with '-dirty' for local changes) or 'unknown'",
                },
            },
        },
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
                "name", "group", "passed", "max_abs_err", "max_rel_err", "where",
                "tolerance_class", "rtol", "atol", "first_divergence_step", "message",
                "seconds", "details",
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


def upgrade(d: Any) -> Any:
    """A version 1.0 document as 1.1 (``producer`` unknown); anything else unchanged."""
    if isinstance(d, dict) and d.get("schema_version") == "1.0" and "producer" not in d:
        unknown = {"name": "nnparity", "version": "unknown", "commit": "unknown"}
        return {**d, "schema_version": SCHEMA_VERSION, "producer": unknown}
    return d


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
