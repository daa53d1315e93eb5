"""The registry of report formats.

Adding a format is one file in this folder (a ``render(report) -> bytes`` and a ``WRITER``)
and one entry in :data:`WRITERS`; the CLI then offers its ``option`` (``--json PATH`` style)
and ``--report-dir`` writes its ``filename`` into every report folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..atomic import StepHook, write_set
from ..model import Report, check_report
from . import json_report, junit, markdown
from .base import Writer

__all__ = ["PLOT_PATTERN", "WRITERS", "Writer", "report_set_patterns", "write_report_set"]

WRITERS: dict[str, Writer] = {
    w.name: w for w in (json_report.WRITER, junit.WRITER, markdown.WRITER)
}

#: Names of the PNG files a report folder may hold beside the formats' files.
PLOT_PATTERN = "training_*.png"


def report_set_patterns() -> tuple[str, ...]:
    """File names a report folder holds; a folder holding anything else is never replaced."""
    return (*(w.filename for w in WRITERS.values()), PLOT_PATTERN)


def write_report_set(
    report: Report,
    directory: str | os.PathLike[str],
    *,
    extra: Callable[[Path], object] | None = None,
    exchange: bool = True,
    on_step: StepHook | None = None,
) -> Path:
    """Replace the folder ``directory`` by one file per registered format, plus whatever
    ``extra(tmp_folder)`` writes (the CLI's plots), as one unit (see :mod:`verify.report.atomic`).

    Every format is rendered before anything is written, so a report that cannot be rendered
    leaves the old folder as it was.
    """
    rendered = {w.filename: w.render(check_report(report)) for w in WRITERS.values()}

    def fill(tmp: Path, hook: StepHook | None) -> None:
        for name, data in rendered.items():
            (tmp / name).write_bytes(data)
            if hook is not None:
                hook(f"wrote {name}")
        if extra is not None:
            extra(tmp)
            if hook is not None:
                hook("wrote extras")

    return write_set(directory, fill, patterns=report_set_patterns(), exchange=exchange,
                     on_step=on_step)
