"""Writing reports so that a reader never sees a half-written file or a mixed set of files.

* One file (``--json``, ``--junit``): written to a temporary file beside it, flushed, fsynced,
  then ``os.replace``d over the target, and the folder fsynced.
* A report folder (``--report-dir``): every file is written into a sibling temporary folder,
  which then takes the folder's place as a unit.  On Linux the two are swapped atomically
  (``renameat2(RENAME_EXCHANGE)``), so the folder always exists and always holds one complete
  set.  Elsewhere (or on a filesystem without the exchange) the old folder is renamed aside,
  the new one renamed in, and the old one removed; a run killed between the two renames leaves
  the old folder aside, and the next run puts it back before it starts.

Temporary names start with :data:`TMP_PREFIX` and carry the writer's process id
(``.nnparity-tmp-<pid>-<token>-<name>``; an old folder set aside is ``.nnparity-old-...``).
Every write first removes the leftovers of writers that are no longer running, so a write
killed with ``kill -9`` leaves nothing behind after the next one; a live writer's files are
never touched.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fnmatch
import os
import shutil
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from reference_numpy._atomic import (
    TMP_PREFIX,
    atomic_write,
    fsync_dir,
    parse_temp_name,
    temp_name,
    writer_alive,
)

__all__ = [
    "OLD_PREFIX",
    "TMP_PREFIX",
    "clean_leftovers",
    "replace_refusal",
    "write_file",
    "write_set",
]

OLD_PREFIX = ".nnparity-old-"

#: Called with a step name at each point where a kill could land (fault-injection tests).
StepHook = Callable[[str], None]


def _step(hook: StepHook | None, name: str) -> None:
    if hook is not None:
        hook(name)


def _temp_name(prefix: str, target_name: str) -> str:
    return temp_name(prefix, target_name)


def _parse(name: str) -> tuple[str, int, str] | None:
    """(prefix, pid, target name) of one of our temporary names, else None."""
    return parse_temp_name(name, (TMP_PREFIX, OLD_PREFIX))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def clean_leftovers(directory: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files and folders that dead writers left in ``directory``.

    An old report folder that was set aside (``.nnparity-old-...``) is renamed back to its
    name when that name is free (the writer died between its two renames), else removed.
    Returns what was removed or restored.
    """
    d = Path(directory)
    done: list[Path] = []
    try:
        entries = sorted(d.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return done
    for entry in entries:
        parsed = _parse(entry.name)
        if parsed is None or writer_alive(parsed[1]):
            continue
        prefix, _pid, target = parsed
        if prefix == OLD_PREFIX and not (d / target).exists():
            with contextlib.suppress(OSError):
                os.rename(entry, d / target)
                done.append(entry)
                continue
        _remove(entry)
        done.append(entry)
    if done:
        fsync_dir(d)
    return done


def write_file(path: str | os.PathLike[str], data: bytes, *, on_step: StepHook | None = None
               ) -> Path:
    """Write ``data`` to ``path`` atomically (temp file, fsync, ``os.replace``); return the path.

    The parent folder is created if needed; leftovers of killed writers in it are removed
    first.  A failure leaves the previous file (if any) exactly as it was.
    """
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(f"{target}: expected a file path, got a folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(target.parent)

    def write(f) -> None:
        _step(on_step, "temp file created")
        half = len(data) // 2
        f.write(data[:half])
        f.flush()
        _step(on_step, "half written")
        f.write(data[half:])

    atomic_write(target, write, before_replace=lambda: _step(on_step, "temp file synced"))
    _step(on_step, "replaced")
    return target


def replace_refusal(directory: str | os.PathLike[str], patterns: Iterable[str]) -> str:
    """Why the folder ``directory`` must not be replaced by a report set, or '' if it may.

    It may be replaced when it does not exist, or is a folder that holds only files whose names
    match ``patterns`` (a previous report set), so a mistyped ``--report-dir .`` cannot delete
    anyone's work.
    """
    d = Path(directory)
    if not d.exists():
        return "" if not d.is_symlink() else f"{d} is a broken symbolic link"
    if not d.is_dir():
        return f"{d} is an existing file, not a folder"
    pats = list(patterns)
    others = sorted(e.name for e in d.iterdir()
                    if not (e.is_file() and any(fnmatch.fnmatchcase(e.name, p) for p in pats)))
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        return (f"{d} holds files that are not a report set ({shown}); the folder is replaced "
                f"as a whole, so give a new or empty folder, or one written by --report-dir")
    return ""


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap the names ``a`` and ``b`` (Linux renameat2); False when unsupported."""
    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):  # pragma: no cover - glibc < 2.28 or another libc
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # this filesystem cannot exchange; fall back to rename-aside
    raise OSError(err, os.strerror(err), str(b))


Fill = Callable[[Path, StepHook | None], object]


def write_set(directory: str | os.PathLike[str], fill: Fill, *,
              patterns: Iterable[str] = ("*",), exchange: bool = True,
              on_step: StepHook | None = None) -> Path:
    """Replace the folder ``directory`` by the files ``fill(tmp_folder, on_step)`` writes.

    ``fill`` writes plain files into the temporary folder (no atomic dance needed there: nobody
    reads it).  The old folder, if any, must pass :func:`replace_refusal` with ``patterns``.
    Returns the folder's path.  A failure inside ``fill`` leaves the old folder untouched.
    ``exchange=False`` forces the portable rename-aside path (tests exercise both).
    """
    target = Path(os.path.realpath(directory))  # a symlinked folder is replaced at its target
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(parent)  # first: may restore an old folder a killed writer set aside
    pats = tuple(patterns)
    reason = replace_refusal(target, pats)
    if reason:
        raise ValueError(f"report folder: {reason}")
    tmp = parent / _temp_name(TMP_PREFIX, target.name)
    os.mkdir(tmp)
    try:
        _step(on_step, "temp folder created")
        fill(tmp, on_step)
        for entry in tmp.iterdir():
            if entry.is_file():
                with open(entry, "rb") as f:
                    os.fsync(f.fileno())
        fsync_dir(tmp)
        _step(on_step, "temp folder synced")
    except BaseException:
        _remove(tmp)
        raise
    if not target.exists():
        os.rename(tmp, target)
        _step(on_step, "renamed into place")
    elif exchange and _exchange(tmp, target):
        _step(on_step, "exchanged")
        _remove(tmp)  # now the old set
    else:
        aside = parent / _temp_name(OLD_PREFIX, target.name)
        os.rename(target, aside)
        _step(on_step, "old set aside")
        os.rename(tmp, target)
        _step(on_step, "renamed into place")
        _remove(aside)
    _step(on_step, "old removed")
    fsync_dir(parent)
    return target
