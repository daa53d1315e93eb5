"""What a report format is: a name, its file name in a report folder, its CLI option, and a
function from a :class:`~verify.report.model.Report` to the file's bytes."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..atomic import write_file
from ..model import Report, check_report

__all__ = ["Writer"]


@dataclass(frozen=True)
class Writer:
    """One report format.

    ``render`` only turns the report into bytes; where and how they are written (one file
    atomically, or one member of a report folder replaced as a set) is decided by the caller,
    so a format never has to think about half-written files.
    """

    name: str
    #: The file's name inside a ``--report-dir`` folder.
    filename: str
    #: The CLI option that writes this format to one file (``"--json"``), or None.
    option: str | None
    help: str
    render: Callable[[Report], bytes]

    @property
    def dest(self) -> str | None:
        """The argparse attribute of :attr:`option` (``"--json"`` -> ``"json"``), or None."""
        return self.option.lstrip("-").replace("-", "_") if self.option else None

    def write(self, report: Report, path: str | os.PathLike[str]) -> Path:
        """Render ``report`` (every check first, so a bad report writes nothing) and write
        it to ``path`` atomically."""
        return write_file(path, self.render(check_report(report)))
