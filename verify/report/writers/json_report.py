"""The JSON report (schema in :mod:`verify.report.schema`), strict JSON: no NaN/Infinity."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..model import Report, check_report
from ..schema import validate_report_dict
from .base import Writer

__all__ = ["WRITER", "read_json", "render_json", "write_json"]


def render_json(report: Report) -> bytes:
    """The report as strict JSON bytes, validated against the schema first."""
    d = check_report(report).to_json_dict()
    validate_report_dict(d)
    return (json.dumps(d, indent=2, allow_nan=False, ensure_ascii=False) + "\n").encode("utf-8")


WRITER = Writer(name="json", filename="report.json", option="--json",
                help="write the JSON report here", render=render_json)


def write_json(report: Report, path: str | os.PathLike[str]) -> Path:
    """Write the report as strict JSON (validated first), atomically."""
    return WRITER.write(report, path)


def read_json(path: str | os.PathLike[str]) -> Report:
    """Read and validate a report written by :func:`write_json` (schema 1.0 or 1.1).

    ``NaN``/``Infinity`` tokens (which Python's json accepts but JSON does not) are refused.
    """

    def refuse(token: str) -> float:
        raise ValueError(f"{path}: {token} is not JSON; non-finite floats are written as "
                         f"'nan', 'inf' or '-inf' strings")

    with open(path, encoding="utf-8") as f:
        return Report.from_json_dict(json.load(f, parse_constant=refuse))
