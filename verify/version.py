"""Which nnparity produced a result: the installed version and, in a checkout, the git commit.

Every report records both (JSON ``producer``, a JUnit property, a Markdown line), so a saved
report can be traced to the code that wrote it.
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

__all__ = ["FALLBACK_VERSION", "git_commit", "nnparity_version", "producer_info"]

#: The version when the package metadata is unreadable (a plain checkout on PYTHONPATH).
#: Kept equal to pyproject.toml's ``version`` by tests/test_cli_bad_inputs.py.
FALLBACK_VERSION = "0.1.0"

#: git answers in milliseconds; a hung git (network filesystem, lock) must not stall a report.
_GIT_TIMEOUT_S = 2.0


@functools.lru_cache(maxsize=1)
def nnparity_version() -> str:
    """The installed distribution's version (importlib.metadata), else :data:`FALLBACK_VERSION`."""
    from importlib import metadata

    try:
        return metadata.version("nnparity")
    except metadata.PackageNotFoundError:
        return FALLBACK_VERSION


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """The commit of the checkout this package was imported from, or ``"unknown"``.

    ``"unknown"`` when the package is not at the top of a git work tree (an installed wheel,
    even one inside some other repository's virtual environment), git is not installed, or git
    does not answer within ``_GIT_TIMEOUT_S`` seconds.  A ``-dirty`` suffix
    marks uncommitted changes to tracked files.
    """
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "--show-toplevel", "HEAD"], cwd=here,
                              capture_output=True, text=True, timeout=_GIT_TIMEOUT_S, check=False)
        lines = head.stdout.splitlines()
        if head.returncode != 0 or len(lines) != 2 or Path(lines[0]).resolve() != here.parent:
            return "unknown"
        commit = lines[1]
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, capture_output=True, text=True,
                               timeout=_GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")


def producer_info() -> dict[str, str]:
    """``{"name": "nnparity", "version": ..., "commit": ...}`` for a report."""
    return {"name": "nnparity", "version": nnparity_version(), "commit": git_commit()}
