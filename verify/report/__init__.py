"""Check results and the reports written from them.

* :mod:`.model`: :class:`CheckResult`, :class:`Report` (what a run found);
* :mod:`.table`: the terminal table;
* :mod:`.codec`, :mod:`.schema`: strict JSON (non-finite floats as ``"nan"``/``"inf"``/
  ``"-inf"``) and the versioned schema with its validator;
* :mod:`.writers`: the registry of file formats (JSON, JUnit, Markdown);
* :mod:`.atomic`: atomic single files and report folders replaced as a unit.
"""

from __future__ import annotations

from .atomic import clean_leftovers, write_file, write_set
from .codec import NONFINITE_STRINGS, decode_float, encode_float
from .model import CheckResult, Report
from .schema import JSON_SCHEMA, SCHEMA_VERSION, validate_report_dict
from .table import format_table
from .writers import WRITERS, Writer, write_report_set
from .writers.json_report import read_json, render_json, write_json
from .writers.junit import render_junit, write_junit
from .writers.markdown import render_markdown, write_markdown

__all__ = [
    "CheckResult",
    "Report",
    "JSON_SCHEMA",
    "NONFINITE_STRINGS",
    "SCHEMA_VERSION",
    "WRITERS",
    "Writer",
    "clean_leftovers",
    "encode_float",
    "decode_float",
    "validate_report_dict",
    "read_json",
    "render_json",
    "render_junit",
    "render_markdown",
    "write_file",
    "write_json",
    "write_junit",
    "write_markdown",
    "write_report_set",
    "write_set",
    "format_table",
]
