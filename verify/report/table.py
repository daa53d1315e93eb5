"""The terminal view of a :class:`~verify.report.model.Report`, and the cell formats that the
Markdown writer shares with it."""

from __future__ import annotations

import math

from .model import CheckResult, Report, check_report

__all__ = ["fmt_num", "format_table", "tolerance_text", "verdict_line"]


def fmt_num(x: float) -> str:
    """Errors for tables: ``1.23e-04``, ``0``, ``inf``, ``nan``."""
    x = float(x)
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    return f"{x:.2e}"


def tolerance_text(c: CheckResult) -> str:
    return f"{c.tolerance_class} (rtol={c.rtol:g}, atol={c.atol:g})"


def verdict_line(report: Report) -> str:
    if not report.checks:
        return "FAIL: no checks ran (an empty run proves nothing)"
    word = "PASS" if report.passed else "FAIL"
    return (
        f"{word}: {report.n_passed} of {len(report.checks)} checks passed ({report.seconds:.2f} s)"
    )


_GREEN, _RED, _BOLD, _RESET = "\x1b[32m", "\x1b[31m", "\x1b[1m", "\x1b[0m"


def format_table(report: Report, *, color: bool = False) -> str:
    """The terminal view: an aligned table, the failing checks' messages, then a summary line.

    Columns: group, check, worst abs, where, tolerance, verdict.  With ``color`` the verdicts
    are green/red (padding is applied before the colour codes, so columns stay aligned).
    The last line is ``"N passed, M failed"``.
    """
    report = check_report(report)
    header = ("group", "check", "worst abs", "where", "tolerance", "verdict")
    rows = [
        (
            c.group,
            c.name,
            fmt_num(c.max_abs_err),
            c.where,
            tolerance_text(c),
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
