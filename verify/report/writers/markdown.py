"""A Markdown summary: the verdict, the producer, the environment and the checks as tables."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..codec import jsonable
from ..model import Report, check_report
from ..table import fmt_num, tolerance_text, verdict_line
from .base import Writer

__all__ = ["WRITER", "render_markdown", "write_markdown"]


def _md_cell(s: object) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report) -> str:
    """The Markdown text :func:`write_markdown` writes."""
    report = check_report(report)
    lines = ["# nnparity verify report", "", f"**{verdict_line(report)}**", ""]
    producer = report.producer
    lines += [f"nnparity {producer.get('version', 'unknown')}, "
              f"commit {producer.get('commit', 'unknown')}", ""]
    lines += ["## Environment", "", "| key | value |", "| --- | --- |"]
    for key, value in report.environment.items():
        text = value if isinstance(value, str) else json.dumps(jsonable(value, key))
        lines.append(f"| {_md_cell(key)} | {_md_cell(text)} |")
    lines += ["", "## Checks", ""]
    lines += ["| check | verdict | worst abs | worst rel | where | tolerance |"]
    lines += ["| --- | --- | ---: | ---: | --- | --- |"]
    for c in report.checks:
        verdict = "PASS" if c.passed else "**FAIL**"
        lines.append(
            f"| {_md_cell(c.group + '/' + c.name)} | {verdict} | {fmt_num(c.max_abs_err)} | "
            f"{fmt_num(c.max_rel_err)} | {_md_cell(c.where)} | {_md_cell(tolerance_text(c))} |"
        )
    failures = [c for c in report.checks if not c.passed]
    if failures:
        lines += ["", "## Failures"]
        for c in failures:
            lines += ["", f"### {c.group}/{c.name}", "", "```text", c.message, "```"]
    return "\n".join(lines) + "\n"


WRITER = Writer(name="markdown", filename="summary.md", option="--markdown",
                help="write a Markdown summary here",
                render=lambda report: render_markdown(report).encode("utf-8"))


def write_markdown(report: Report, path: str | os.PathLike[str]) -> Path:
    """Write a Markdown summary (verdict, environment table, checks table), atomically."""
    return WRITER.write(report, path)
