"""The terminal view of a :class:`~verify.report.model.Report`, and the cell formats that the
Markdown writer shares with it."""

from __future__ import annotations

import math
import re
import shutil
import textwrap

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


#: Columns that wrap when the table is wider than the terminal (check, where, tolerance).
_WRAPPED = (1, 3, 4)
_MIN_WRAPPED = 12


def _fit(widths: list[int], limit: int) -> list[int]:
    """Shrink the wrapped columns (check, where) until the row fits ``limit`` characters."""
    widths = list(widths)
    over = sum(widths) + 2 * (len(widths) - 1) - limit
    while over > 0:
        i = max(_WRAPPED, key=lambda j: widths[j])
        if widths[i] <= _MIN_WRAPPED:
            break  # narrower would be unreadable: the terminal wraps what is left
        cut = min(over, widths[i] - _MIN_WRAPPED, max(1, (widths[i] - _MIN_WRAPPED) // 2))
        widths[i] -= cut
        over -= cut
    return widths


#: Where a wrapped cell may break besides spaces: after a slash or an equals sign, so an engine
#: name (torch/cpu/float64) or a tolerance (atol=...) breaks between its parts, not mid-word.
_BREAK_AFTER = re.compile(r"(?<=[/=])(?=\S)")


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width``: broken at spaces, then after '/' or '=', and only
    a piece longer than the whole width is cut inside."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        pieces = _BREAK_AFTER.split(word)
        for j, piece in enumerate(pieces):
            sep = " " if (line and j == 0) else ""
            if len(line) + len(sep) + len(piece) <= width:
                line += sep + piece
                continue
            if line:
                lines.append(line)
            while len(piece) > width:
                lines.append(piece[:width])
                piece = piece[width:]
            line = piece
    if line:
        lines.append(line)
    return lines or [""]


def format_table(report: Report, *, color: bool = False, width: int | None = None) -> str:
    """The terminal view: an aligned table, the failing checks' messages, then a summary line.

    Columns: group, check, worst abs, where, tolerance, verdict.  With ``color`` the verdicts
    are green/red (padding is applied before the colour codes, so columns stay aligned).  The
    table fits ``width`` columns (default: the terminal's, else 120): the check and where
    columns wrap onto more lines.  Under the summary line ``"N passed, M failed"`` come the
    data the run used and its golden trajectory, one line each, when the report records them.
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
    limit = width if width is not None else shutil.get_terminal_size((120, 24)).columns
    widths = _fit([max(len(r[i]) for r in [header, *rows]) for i in range(len(header))], limit)
    right = {2}  # numbers right-aligned

    def fmt_row(row: tuple[str, ...], paint: bool) -> list[str]:
        parts = [_wrap(cell, w) if i in _WRAPPED else [cell]
                 for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
        out = []
        for k in range(max(len(p) for p in parts)):
            cells = []
            for i, (p, w) in enumerate(zip(parts, widths, strict=True)):
                cell = p[k] if k < len(p) else ""
                text = cell.rjust(w) if i in right else cell.ljust(w)
                if paint and i == len(row) - 1 and cell:
                    text = f"{_GREEN if cell == 'PASS' else _RED}{text}{_RESET}"
                cells.append(text)
            out.append("  ".join(cells).rstrip())
        return out

    lines = [*fmt_row(header, False), "  ".join("-" * w for w in widths)]
    for r in rows:
        lines += fmt_row(r, color)
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
    env = report.environment if isinstance(report.environment, dict) else {}
    for key in ("data", "golden"):
        if env.get(key):
            lines.append(textwrap.fill(f"{key}: {env[key]}", limit, subsequent_indent="  ",
                                       break_on_hyphens=False))
    return "\n".join(lines)
