"""JUnit XML, for CI systems that show test results (one test case per check)."""

from __future__ import annotations

import json
import math
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from ..codec import jsonable
from ..model import Report, check_report
from .base import Writer

__all__ = ["WRITER", "render_junit", "write_junit"]

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(s: str) -> str:
    """Drop characters XML 1.0 cannot hold (a stray control byte would break the parser)."""
    return _XML_INVALID.sub("\ufffd", s)


def render_junit(report: Report) -> bytes:
    """JUnit XML: one ``<testcase classname="nnparity.<group>">`` per check.

    A failing check gets ``<failure message="first line" type="ParityMismatch">`` with the
    full message as its text.  The producer (``nnparity_version``, ``nnparity_commit``) and
    the environment go into ``<properties>``.
    """
    report = check_report(report)
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
    for key in ("version", "commit"):
        value = str(report.producer.get(key, "unknown"))
        ET.SubElement(props, "property", name=f"nnparity_{key}", value=_xml_text(value))
    for key, value in report.environment.items():
        text = value if isinstance(value, str) else json.dumps(jsonable(value, key))
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
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True) + b"\n"


WRITER = Writer(name="junit", filename="junit.xml", option="--junit",
                help="write JUnit XML here (one case per check)", render=render_junit)


def write_junit(report: Report, path: str | os.PathLike[str]) -> Path:
    """Write :func:`render_junit`'s XML to ``path``, atomically."""
    return WRITER.write(report, path)
