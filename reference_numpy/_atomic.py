"""Atomic writes, defined once for the whole project (both engines, verify's reports).

A file is written to a temporary file beside its target, flushed and fsynced, then
``os.replace``d over the target, so a reader sees the old file or the new one, never half of
one.  Temporary names carry the writer's process id (``.nnparity-tmp-<pid>-<token>-<name>``),
so a write killed with ``kill -9`` is recognisable afterwards: every write first removes the
temporary files of its target left by writers that are no longer running, and never touches a
live writer's.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "TMP_PREFIX",
    "temp_name",
    "parse_temp_name",
    "writer_alive",
    "remove_stale_temps",
    "fsync_dir",
    "atomic_write",
]

TMP_PREFIX = ".nnparity-tmp-"


def temp_name(prefix: str, target_name: str) -> str:
    """A temporary name for ``target_name`` owned by this process."""
    return f"{prefix}{os.getpid()}-{secrets.token_hex(4)}-{target_name}"


def parse_temp_name(
    name: str, prefixes: tuple[str, ...] = (TMP_PREFIX,)
) -> tuple[str, int, str] | None:
    """(prefix, pid, target name) of one of our temporary names, else None."""
    for prefix in prefixes:
        if name.startswith(prefix):
            pid, _, rest = name[len(prefix):].partition("-")
            _token, _, target = rest.partition("-")
            if pid.isdigit() and target:
                return prefix, int(pid), target
    return None


def writer_alive(pid: int) -> bool:
    """Whether process ``pid`` (a temporary file's writer) may still be writing."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    except OSError:  # pragma: no cover - e.g. an out-of-range pid: not a process
        return False
    return True


def remove_stale_temps(directory: Path, target_name: str) -> list[Path]:
    """Remove the temporary files of ``target_name`` in ``directory`` whose writer is dead."""
    removed = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in directory.iterdir():
            parsed = parse_temp_name(entry.name)
            if parsed is None or parsed[2] != target_name or writer_alive(parsed[1]):
                continue
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                entry.unlink()
                removed.append(entry)
    return removed


def fsync_dir(directory: Path) -> None:
    # Makes the rename durable; not every platform/filesystem can open a folder for fsync.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(
    path: str | os.PathLike[str],
    writer: Callable[[object], object],
    *,
    before_replace: Callable[[], object] | None = None,
) -> Path:
    """Call ``writer(fileobj)`` on a temporary file beside ``path``, then rename it into place.

    On any failure (the writer raising included) the temporary file is removed and ``path`` is
    left as it was.  The file gets the mode a plain ``open()`` would give it.
    ``before_replace`` runs after the data is synced, just before the rename (fault-injection
    tests kill the process there).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target.parent, target.name)
    tmp = target.parent / temp_name(TMP_PREFIX, target.name)
    umask = os.umask(0)
    os.umask(umask)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 & ~umask)
    try:
        with os.fdopen(fd, "wb") as f:
            writer(f)
            f.flush()
            os.fsync(f.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(target.parent)
    return target
