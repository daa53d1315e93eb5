"""The MNIST files, shared by both engines: names, checksums, where they are, how to fetch them.

Framework-neutral (standard library, NumPy, tqdm); never imports
torch.  ``reference_numpy.mnist.load_mnist`` and ``reference_torch.mnist.load_mnist`` both find
their files here, so the two engines read the very same bytes.

Where the data comes from (:func:`locate_mnist`), in this order:

1. the ``data_dir`` argument (an error if the four files are not all there);
2. the environment variable ``NNPARITY_DATA_DIR`` (relative paths are relative to the current
   working directory; an error if the files are not all there);
3. the user cache folder (:func:`mnist_cache_dir`): ``$NNPARITY_CACHE_DIR``, else
   ``$XDG_CACHE_HOME/nnparity/mnist``, else ``~/.cache/nnparity/mnist``;
4. a download into that cache folder from :data:`MIRRORS` (override with
   ``NNPARITY_MNIST_MIRRORS``, comma-separated base URLs), when ``download=True``; each file
   from each mirror has a total deadline of ``timeout`` seconds (:mod:`.fetch`), after which
   the next mirror is tried;
5. the bundled subset (the first 6000 training and first 1000 test images) shipped in
   ``reference_numpy/data``, announced with a :class:`MnistSubsetWarning`.

Checksums are the SHA-256 of each file's *decompressed* bytes (:data:`SHA256`, or the bundled
subset's ``data/SHA256SUMS.txt``), because mirrors recompress the ``.gz`` files.

Downloads are written to ``.<name>.<random>.part`` in the target folder and renamed into place
only once checked.  A download killed half-way leaves such a file behind; the next run removes
it (:func:`remove_stale_temp_files`: only names of that pattern, only files last written
before the current process imported this module, so a concurrent download is left alone).

MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, licensed CC BY-SA 3.0.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import stat
import tempfile
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .fetch import check_timeout, fetch_url
from .idx import (
    DEFAULT_FIX,
    GZIP_MAGIC,
    MnistFormatError,
    gzip_errors,
    read_bytes,
    read_idx,
    read_idx_dims,
)

__all__ = [
    "FILES",
    "SHA256",
    "MIRRORS",
    "SUBSET_DIR",
    "DEFAULT_TIMEOUT",
    "PROCESS_START",
    "MnistFormatError",
    "MnistChecksumError",
    "MnistDownloadError",
    "MnistSubsetWarning",
    "MnistSource",
    "check_bool",
    "check_checksums",
    "checksum_table",
    "expected_sum",
    "checksum_error",
    "stat_key",
    "check_sha256",
    "fix_hint",
    "read_idx",
    "read_sha256sums",
    "subset_checksums",
    "mnist_cache_dir",
    "locate_mnist",
    "remove_stale_temp_files",
    "download_mnist",
]

#: The four MNIST files, in the order train images, train labels, test images, test labels.
FILES: tuple[str, str, str, str] = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

#: SHA-256 of the DECOMPRESSED contents of each file of the full MNIST (the published sums).
SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": (
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    ),
    "train-labels-idx1-ubyte.gz": (
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
    ),
    "t10k-images-idx3-ubyte.gz": (
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
    ),
}

#: Base URLs tried in order by :func:`download_mnist`.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

#: Folder of the bundled subset (first 6000 train / 1000 test images) inside the package.
SUBSET_DIR: Path = Path(__file__).resolve().parent / "data"

#: Seconds one file may take from one mirror, everything included (connect, headers, body).
#: The largest file is 9.9 MB: about 80 s at 1 Mbit/s, so 120 s fails only a slower link
#: or a stalled mirror (which then gives way to the next one).
DEFAULT_TIMEOUT: float = 120.0

#: Wall-clock time this module was imported: temp files last written before it cannot belong
#: to a download of this process.
PROCESS_START: float = time.time()

_SUBSET_SUMS = "SHA256SUMS.txt"
_ENV_DATA_DIR = "NNPARITY_DATA_DIR"
_ENV_CACHE_DIR = "NNPARITY_CACHE_DIR"
_ENV_MIRRORS = "NNPARITY_MNIST_MIRRORS"
_PART_SUFFIX = ".part"
_SCHEMES = ("http://", "https://", "file://")
_HEX = frozenset("0123456789abcdef")

_FIX_SUBSET = (
    "the bundled subset in the installed package is damaged; reinstall nnparity "
    "(pip install --force-reinstall nnparity) or regenerate it with scripts/make_mnist_subset.py"
)

# (resolved path, st_mtime_ns, st_size) -> sha256 hex of the decompressed contents, per process,
# so a second load does not hash 47 MB again.
_VERIFIED: dict[tuple[str, int, int], str] = {}


class MnistChecksumError(MnistFormatError):
    """A data file parses but its decompressed SHA-256 is not the expected one."""


class MnistDownloadError(OSError):
    """No mirror delivered a good copy of a file (the message lists each mirror and why)."""


class MnistSubsetWarning(UserWarning):
    """The full MNIST was not found or downloaded; results use the bundled subset."""


@dataclass(frozen=True)
class MnistSource:
    """Where a loader reads its data from.

    ``kind`` is ``"full"`` (a folder holding the four full-set files: ``data_dir``,
    ``NNPARITY_DATA_DIR`` or the cache) or ``"subset"`` (the bundled first 6000/1000 images).
    ``train_size`` and ``test_size`` are the image counts read from the files' headers.
    ``origin`` says how the folder was found (``"data_dir"``, ``"NNPARITY_DATA_DIR"``,
    ``"cache"``, ``"download"`` or ``"bundled"``).
    """

    kind: str
    directory: Path
    train_size: int
    test_size: int
    origin: str = ""

    def describe(self) -> str:
        """One line for logs, e.g. ``full MNIST (60000 train / 10000 test) from DIR``."""
        if self.kind == "subset":
            return (
                f"bundled MNIST subset (first {self.train_size} train / "
                f"{self.test_size} test images)"
            )
        return f"full MNIST ({self.train_size} train / {self.test_size} test) from {self.directory}"


# --------------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------------


def check_bool(value: object, name: str) -> bool:
    """``value`` as a bool, or a TypeError naming ``name`` (1, "yes", None are refused)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name}: expected True or False, got {type(value).__name__} {value!r}")


def _check_path(path: object, name: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a str or os.PathLike path, got {type(path).__name__}")
    return Path(os.fspath(path))


def check_checksums(checksums: object, name: str = "checksums") -> Mapping[str, str]:
    """A checksum table (default :data:`SHA256`): a mapping of file name to 64 hex digits.

    Every entry is checked here, so a bad table is refused before anything is read or fetched.
    """
    if checksums is None:
        return SHA256
    if not isinstance(checksums, Mapping):
        raise TypeError(
            f"{name}: expected a mapping of file name to sha256 hex, got {type(checksums).__name__}"
        )
    for key, digest in checksums.items():
        if not isinstance(key, str):
            raise TypeError(f"{name}: expected str file names as keys, got {key!r}")
        if not (isinstance(digest, str) and len(digest) == 64 and set(digest.lower()) <= _HEX):
            raise ValueError(
                f"{name}[{key!r}]: expected a sha256 digest (64 hex digits), got {digest!r}"
            )
    return checksums


def _check_stacklevel(stacklevel: object) -> int:
    if isinstance(stacklevel, bool) or not isinstance(stacklevel, int) or stacklevel < 1:
        raise ValueError(f"stacklevel: expected an int >= 1, got {stacklevel!r}")
    return stacklevel


# --------------------------------------------------------------------------------------------
# Checksums
# --------------------------------------------------------------------------------------------


def _is_bundled(path: Path) -> bool:
    try:
        return Path(path).resolve().parent == SUBSET_DIR
    except OSError:  # pragma: no cover - unresolvable path
        return False


def fix_hint(path: Path) -> str:
    """What to do about a damaged ``path``: re-download it, or reinstall the bundled subset."""
    return _FIX_SUBSET if _is_bundled(path) else DEFAULT_FIX


def read_sha256sums(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a ``sha256sum``-style file (``<hex>  <name>`` per line) into ``{FILES name: hex}``.

    Names may be given with or without ``.gz`` (the sums are of the decompressed contents);
    blank lines and ``#`` comments are ignored, and names that are not MNIST files are skipped.
    """
    p = _check_path(path, "path")
    table: dict[str, str] = {}
    for lineno, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        digest = parts[0].lower()
        if len(parts) != 2 or len(digest) != 64 or not set(digest) <= _HEX:
            raise MnistFormatError(
                f"{p}: line {lineno}: expected '<64 hex digits>  <file name>', got {line!r}; "
                "fix or regenerate the checksum file"
            )
        name = parts[1].strip().lstrip("*")
        if not name.endswith(".gz"):
            name += ".gz"
        if name in FILES:
            table[name] = digest
    return table


def subset_checksums() -> dict[str, str]:
    """The bundled subset's table, from ``SUBSET_DIR/SHA256SUMS.txt``."""
    sums = SUBSET_DIR / _SUBSET_SUMS
    if not sums.is_file():
        raise FileNotFoundError(
            f"{sums}: the bundled subset's checksum file is missing; {_FIX_SUBSET}"
        )
    return read_sha256sums(sums)


def checksum_table(source: MnistSource, checksums: Mapping[str, str] | None) -> Mapping[str, str]:
    """The table the files of ``source`` are checked against.

    The bundled subset always uses its own ``SHA256SUMS.txt`` (also when it is passed as
    ``data_dir``): its files are the subset, not the full set the default table describes.
    """
    table = check_checksums(checksums)
    if source.kind == "subset" or source.directory.resolve() == SUBSET_DIR:
        return subset_checksums()
    return table


def expected_sum(table: Mapping[str, str], name: str, directory: Path) -> str:
    """``table[name]`` in lower case, or a MnistFormatError saying the table lacks it."""
    try:
        return table[name].lower()
    except KeyError:
        raise MnistFormatError(
            f"{directory}: no checksum for {name} in the checksum table; pass a table with an "
            "entry for each of " + ", ".join(FILES)
        ) from None


def stat_key(path: Path) -> tuple[str, int, int]:
    """(resolved path, mtime in ns, size): a file's identity for the per-process memo."""
    st = path.stat()
    return (str(path.resolve()), st.st_mtime_ns, st.st_size)


def checksum_error(path: Path, expected: str, actual: str) -> MnistChecksumError:
    return MnistChecksumError(
        f"{path}: checksum mismatch: the decompressed contents should have sha256 {expected}, "
        f"got {actual}; the file is damaged or not the original - {fix_hint(path)}"
    )


def check_sha256(path: Path, raw: bytes | None, expected: str, key: tuple[str, int, int]) -> None:
    """Check the decompressed bytes ``raw`` of ``path`` (stat ``key``) against ``expected``.

    The digest is remembered per ``key``, so an unchanged file is hashed once per process;
    ``raw=None`` checks only the remembered digest (a MnistChecksumError if there is none).
    """
    actual = _VERIFIED.get(key)
    if actual is None and raw is not None:
        actual = hashlib.sha256(raw).hexdigest()
        _VERIFIED[key] = actual
    if actual != expected:
        raise checksum_error(path, expected, actual or "unknown")


# --------------------------------------------------------------------------------------------
# Locating
# --------------------------------------------------------------------------------------------


def mnist_cache_dir() -> Path:
    """The user cache folder for downloads.

    ``$NNPARITY_CACHE_DIR`` if set (relative to the current directory if relative), else
    ``$XDG_CACHE_HOME/nnparity/mnist`` (an absolute XDG_CACHE_HOME only, as the XDG spec says),
    else ``~/.cache/nnparity/mnist``.  The folder is not created here.
    """
    env = os.environ.get(_ENV_CACHE_DIR, "")
    if env:
        return Path(os.path.expanduser(env)).absolute()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "nnparity" / "mnist"
    return Path.home() / ".cache" / "nnparity" / "mnist"


def _missing(directory: Path) -> list[str]:
    return [f for f in FILES if not (directory / f).is_file()]


def _lacks(directory: Path, missing: list[str]) -> str:
    pickles = sorted(p.name for p in directory.glob("*.pkl*")) if directory.is_dir() else []
    note = (
        f" ({', '.join(pickles)} is there but pickles are never read: unpickling can run code)"
        if pickles
        else ""
    )
    return f"{directory} lacks {', '.join(missing)} (of the four MNIST files){note}"


def _source(kind: str, directory: Path, origin: str) -> MnistSource:
    if directory.resolve() == SUBSET_DIR:
        kind = "subset"  # data_dir may name the bundled folder itself: it is still the subset
    train, test = directory / FILES[0], directory / FILES[2]
    return MnistSource(
        kind=kind,
        directory=directory,
        train_size=read_idx_dims(train, fix_hint(train))[0],
        test_size=read_idx_dims(test, fix_hint(test))[0],
        origin=origin,
    )


def _mirror_list(mirrors: Iterable[str] | None) -> list[str]:
    name = "mirrors"
    if mirrors is None:
        env = os.environ.get(_ENV_MIRRORS, "")
        mirrors, name = (env.split(","), f"${_ENV_MIRRORS}") if env.strip() else (MIRRORS, name)
    elif isinstance(mirrors, str):
        mirrors = mirrors.split(",")
    elif not isinstance(mirrors, Iterable):
        raise TypeError(
            f"mirrors: expected base URLs (a list of str), got {type(mirrors).__name__}"
        )
    out = []
    for m in mirrors:
        if not isinstance(m, str):
            raise TypeError(f"{name}: expected base URLs as str, got {type(m).__name__} {m!r}")
        m = m.strip()
        if not m:
            continue
        if not m.lower().startswith(_SCHEMES):
            raise ValueError(
                f"{name}: expected base URLs starting with {', '.join(_SCHEMES)}, got {m!r}"
            )
        out.append(m if m.endswith("/") else m + "/")
    if not out:
        raise ValueError(f"{name}: expected at least one base URL, got none")
    return out


def locate_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    checksums: Mapping[str, str] | None = None,
    progress: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    stacklevel: int = 2,
) -> MnistSource:
    """Find MNIST (see the module docstring for the search order) and say where it is.

    Args:
        data_dir: a folder holding the four files of :data:`FILES`.  When given, it must hold
            them all: a FileNotFoundError names the folder and the missing files (no fallback).
        download: allow a download into :func:`mnist_cache_dir` when nothing is found.
        checksums: the decompressed-sha256 table a download is checked against (default
            :data:`SHA256`); tests pass the subset's table to serve small files.
        progress: show tqdm progress bars while downloading.
        timeout: seconds one file may take from one mirror in total (see :func:`download_mnist`).
        stacklevel: as in ``warnings.warn``, for the subset warning: 2 points at the caller of
            this function; a wrapper adds one per frame of its own.

    Returns:
        A :class:`MnistSource`.  Only the headers are read here; the loaders verify.

    Warns:
        MnistSubsetWarning: once, when falling back to the bundled subset.
    """
    download = check_bool(download, "download")
    progress = check_bool(progress, "progress")
    table = check_checksums(checksums)
    seconds = check_timeout(timeout)
    stacklevel = _check_stacklevel(stacklevel)

    if data_dir is not None:
        d = _check_path(data_dir, "data_dir")
        if not d.is_dir():
            raise FileNotFoundError(
                f"data_dir: {d} is not a folder; pass the folder that holds {', '.join(FILES)}, "
                f"or leave data_dir unset to search ${_ENV_DATA_DIR}, the cache and the mirrors"
            )
        missing = _missing(d)
        if missing:
            raise FileNotFoundError(
                f"data_dir: {_lacks(d, missing)}; put them there, or leave data_dir unset to "
                f"search ${_ENV_DATA_DIR}, the cache folder and the mirrors"
            )
        return _source("full", d, "data_dir")

    env = os.environ.get(_ENV_DATA_DIR, "")
    if env:
        d = Path(os.path.expanduser(env)).absolute()
        missing = _missing(d)
        if missing:
            raise FileNotFoundError(
                f"{_ENV_DATA_DIR}={env}: {_lacks(d, missing)}; put them there or unset "
                f"{_ENV_DATA_DIR}"
            )
        return _source("full", d, _ENV_DATA_DIR)

    cache = mnist_cache_dir()
    remove_stale_temp_files(cache)
    if not _missing(cache):
        return _source("full", cache, "cache")

    if download:
        try:
            download_mnist(cache, checksums=table, progress=progress, timeout=seconds)
        except (OSError, ValueError) as e:
            reason = "download failed: " + " ".join(str(e).split("\nfix:")[0].split())
        else:
            return _source("full", cache, "download")
    else:
        reason = "download=False"

    missing = _missing(SUBSET_DIR)
    if missing:
        raise FileNotFoundError(
            f"MNIST not found: not in ${_ENV_DATA_DIR} (unset), not in the cache {cache}, "
            f"{reason}, and the bundled subset is missing {', '.join(missing)}; pass data_dir=, "
            f"set {_ENV_DATA_DIR} or reinstall nnparity"
        )
    source = _source("subset", SUBSET_DIR, "bundled")
    warnings.warn(
        f"full MNIST could not be found or downloaded (not in {cache}; {reason}); results use the "
        f"{source.describe()}. Set {_ENV_DATA_DIR} or pass data_dir= to use the full set.",
        MnistSubsetWarning,
        stacklevel=stacklevel,
    )
    return source


# --------------------------------------------------------------------------------------------
# Downloading
# --------------------------------------------------------------------------------------------


def remove_stale_temp_files(
    directory: Path, patterns: Sequence[str] | None = None, *, before: float | None = None
) -> list[Path]:
    """Delete the leftovers of interrupted writes in ``directory``; return what was removed.

    Only files and symbolic links (never folders) whose names match one of ``patterns`` (glob;
    default: the download temp files ``.<FILES name>.*.part``) last modified before ``before``
    (default :data:`PROCESS_START`), so a file this process, or a download started after it,
    is writing is never touched.  A folder that does not exist holds nothing to remove.
    """
    pats = [f".{n}.*{_PART_SUFFIX}" for n in FILES] if patterns is None else list(patterns)
    limit = PROCESS_START if before is None else before
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for pattern in pats:
        for p in directory.glob(pattern):
            try:
                st = p.lstat()  # a link's own time; unlinking a link leaves its target alone
                if (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)) and st.st_mtime < limit:
                    p.unlink()
                    removed.append(p)
            except OSError:
                pass  # removed meanwhile, or a read-only shared cache: loading goes on
    return removed


def _download_one(
    name: str,
    directory: Path,
    mirrors: Sequence[str],
    expected: str,
    timeout: float,
    progress: bool,
) -> Path:
    target = directory / name
    failures: list[str] = []
    for base in mirrors:
        url = base + name
        fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=_PART_SUFFIX, dir=directory)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as f:
                fetch_url(url, f, timeout=timeout, progress=progress, desc=name)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)  # mkstemp creates 0600; a cache may be shared
            raw = tmp.read_bytes()
            if raw[:2] != GZIP_MAGIC:
                raise ValueError("not a gzip file")
            with gzip_errors(url, "the mirror sent a broken copy"):
                raw = gzip.decompress(raw)
            actual = hashlib.sha256(raw).hexdigest()
            if actual != expected:
                raise ValueError(
                    f"checksum mismatch: decompressed sha256 {actual}, expected {expected}"
                )
            os.replace(tmp, target)
        except MnistFormatError as e:  # from gzip_errors: already names the URL
            failures.append(str(e))
            continue
        except (OSError, ValueError, http.client.HTTPException) as e:
            failures.append(f"{url}: {e}")
            continue
        finally:
            tmp.unlink(missing_ok=True)  # no-op after a successful os.replace
        _VERIFIED[stat_key(target)] = actual
        return target
    raise MnistDownloadError(
        f"could not download {name} into {directory}; every mirror failed:\n  "
        + "\n  ".join(failures)
        + f"\nfix: check the network (and proxy), set {_ENV_MIRRORS} to reachable base URLs, "
        f"pass a larger timeout= (now {timeout:g} s per file and mirror), or fetch the four "
        f"files yourself and point data_dir / {_ENV_DATA_DIR} at them"
    )


def download_mnist(
    directory: str | os.PathLike[str],
    *,
    mirrors: Iterable[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool = True,
    checksums: Mapping[str, str] | None = None,
) -> Path:
    """Download the four MNIST files into ``directory`` (created if needed) and return it.

    For each file, each mirror is tried in order (``mirrors``, else ``$NNPARITY_MNIST_MIRRORS``
    as comma-separated base URLs, else :data:`MIRRORS`).  ``timeout`` is a total deadline per
    file and mirror: connecting, the headers and the whole body must finish within it (a
    mirror that stalls or drips gives way to the next one when it passes).  The body is
    streamed into a temp file in ``directory`` and its decompressed sha256 checked against
    ``checksums`` (default :data:`SHA256`) before ``os.replace`` moves it into place, so an
    interrupted or bad download never leaves a file under the final name; temp files are
    removed, and those of an earlier, killed run are removed at the start of the next.  A file
    already present with the right checksum is kept; a bad one is replaced.

    All arguments are checked before anything is created, fetched or removed.

    Raises:
        TypeError, ValueError: a bad argument (named in the message).
        NotADirectoryError: ``directory`` exists and is not a folder.
        MnistDownloadError: a file could not be fetched from any mirror; the message lists
            each mirror and why it failed.
    """
    d = _check_path(directory, "directory")
    urls = _mirror_list(mirrors)
    seconds = check_timeout(timeout)
    progress = check_bool(progress, "progress")
    table = check_checksums(checksums)
    expected = {name: expected_sum(table, name, d) for name in FILES}
    if d.exists() and not d.is_dir():
        raise NotADirectoryError(f"directory: expected a folder (or a new path), got the file {d}")
    d.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(d)
    for name in FILES:
        target = d / name
        if target.is_file():
            try:
                key = stat_key(target)  # before reading: a file changed meanwhile is not trusted
                check_sha256(target, read_bytes(target, fix_hint(target)), expected[name], key)
                continue
            except MnistFormatError:
                pass  # damaged: download it again
        _download_one(name, d, urls, expected[name], seconds, progress)
    return d
