"""MNIST for the reference implementation: IDX parser, locator, downloader and ``load_mnist``.

Pure NumPy (plus the standard library and tqdm); this module never imports torch.

Where the data comes from (:func:`locate_mnist`), in this order:

1. the ``data_dir`` argument (an error if the four files are not all there);
2. the environment variable ``NNPARITY_DATA_DIR`` (relative paths are relative to the current
   working directory; an error if the files are not all there);
3. the user cache folder (:func:`mnist_cache_dir`): ``$NNPARITY_CACHE_DIR``, else
   ``$XDG_CACHE_HOME/nnparity/mnist``, else ``~/.cache/nnparity/mnist``;
4. a download into that cache folder from :data:`MIRRORS` (override with
   ``NNPARITY_MNIST_MIRRORS``, comma-separated base URLs), when ``download=True``;
5. the bundled subset (the first 6000 training and first 1000 test images) shipped in
   ``reference_numpy/data``, announced with a :class:`MnistSubsetWarning`.

Every file is checked: the IDX header (magic number, dimensions, payload length) when it is
parsed, and the SHA-256 of its *decompressed* bytes against :data:`SHA256` (or, for the bundled
subset, against ``data/SHA256SUMS.txt``).  Checksums are of the decompressed contents because
mirrors recompress the ``.gz`` files.

MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, licensed CC BY-SA 3.0.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import struct
import tempfile
import urllib.request
import warnings
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

__all__ = [
    "FILES",
    "SHA256",
    "MIRRORS",
    "SUBSET_DIR",
    "MnistFormatError",
    "MnistChecksumError",
    "MnistDownloadError",
    "MnistSubsetWarning",
    "MnistSource",
    "read_idx",
    "read_sha256sums",
    "mnist_cache_dir",
    "locate_mnist",
    "download_mnist",
    "load_mnist",
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
_SUBSET_SUMS = "SHA256SUMS.txt"

_ENV_DATA_DIR = "NNPARITY_DATA_DIR"
_ENV_CACHE_DIR = "NNPARITY_CACHE_DIR"
_ENV_MIRRORS = "NNPARITY_MNIST_MIRRORS"

_GZIP_MAGIC = b"\x1f\x8b"
# IDX type code -> (big-endian dtype, name)
_IDX_DTYPES: dict[int, tuple[str, str]] = {
    0x08: (">u1", "unsigned byte"),
    0x09: (">i1", "signed byte"),
    0x0B: (">i2", "short"),
    0x0C: (">i4", "int"),
    0x0D: (">f4", "float"),
    0x0E: (">f8", "double"),
}
_N_CLASSES = 10
_IMAGE_SHAPE = (28, 28)
_CHUNK = 1 << 16

_FIX = "delete it and load again (it will be re-downloaded) or point data_dir at a good copy"
_FIX_SUBSET = (
    "the bundled subset in the installed package is damaged; reinstall nnparity "
    "(pip install --force-reinstall nnparity) or regenerate it with scripts/make_mnist_subset.py"
)

# (resolved path, st_mtime_ns, st_size) -> sha256 hex of the decompressed contents.
_VERIFIED: dict[tuple[str, int, int], str] = {}
# (resolved dir, stats of the four files) -> read-only (x_train, t_train, x_test, t_test), uint8.
_ARRAYS: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}


class MnistFormatError(ValueError):
    """A data file is not a valid MNIST IDX file (the message names the file and the fix)."""


class MnistChecksumError(MnistFormatError):
    """A data file parses but its decompressed SHA-256 is not the expected one."""


class MnistDownloadError(OSError):
    """No mirror delivered a good copy of a file (the message lists each mirror and why)."""


class MnistSubsetWarning(UserWarning):
    """The full MNIST was not found or downloaded; results use the bundled subset."""


@dataclass(frozen=True)
class MnistSource:
    """Where :func:`load_mnist` reads its data from.

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
# IDX parsing
# --------------------------------------------------------------------------------------------


def _is_bundled(path: Path) -> bool:
    try:
        return Path(path).resolve().parent == SUBSET_DIR
    except OSError:  # pragma: no cover - unresolvable path
        return False


def _fix(path: Path) -> str:
    return _FIX_SUBSET if _is_bundled(path) else _FIX


def _check_path(path: object, name: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a str or os.PathLike path, got {type(path).__name__}")
    return Path(os.fspath(path))


def _read_bytes(path: Path) -> bytes:
    """The file's contents, gunzipped when it starts with the gzip magic bytes 1f 8b."""
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise MnistFormatError(f"{path}: empty file; {_fix(path)}")
    if data[:2] != _GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except EOFError:
        raise MnistFormatError(
            f"{path}: truncated: the gzip stream ends early; the file is incomplete - {_fix(path)}"
        ) from None
    except (gzip.BadGzipFile, zlib.error) as e:
        raise MnistFormatError(
            f"{path}: corrupt gzip data ({e}); the file is damaged - {_fix(path)}"
        ) from None


def _parse_header(raw: bytes, path: Path) -> tuple[np.dtype, tuple[int, ...], int]:
    """Validate an IDX header; return (big-endian dtype, dims, header length)."""
    if len(raw) < 4:
        raise MnistFormatError(
            f"{path}: truncated: {len(raw)} bytes, too short for an IDX header (4 bytes of magic "
            f"number); the file is incomplete - {_fix(path)}"
        )
    zero0, zero1, code, ndim = raw[0], raw[1], raw[2], raw[3]
    if zero0 != 0 or zero1 != 0 or code not in _IDX_DTYPES or ndim == 0:
        codes = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise MnistFormatError(
            f"{path}: not an IDX file: bad magic number {raw[:4].hex(' ')} (expected 00 00, a "
            f"type code in {{{codes}}} and a dimension count >= 1, e.g. 00 00 08 03 for MNIST "
            f"images); this is not an MNIST file or it is damaged - {_fix(path)}"
        )
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise MnistFormatError(
            f"{path}: truncated: the header declares {ndim} dimensions ({header_len} header bytes) "
            f"but the file has {len(raw)} bytes; the file is incomplete - {_fix(path)}"
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header_len])
    return np.dtype(_IDX_DTYPES[code][0]), tuple(int(d) for d in dims), header_len


def _parse_idx(raw: bytes, path: Path) -> np.ndarray:
    dtype, dims, header_len = _parse_header(raw, path)
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header_len
    what = "pixels" if len(dims) >= 3 else "labels" if len(dims) == 1 else "data"
    if found < expected:
        raise MnistFormatError(
            f"{path}: truncated: header promises {expected} bytes of {what} "
            f"(dimensions {' x '.join(map(str, dims))}), found {found}; the file is incomplete - "
            f"{_fix(path)}"
        )
    if found > expected:
        raise MnistFormatError(
            f"{path}: {found - expected} unexpected bytes after the {expected} bytes of {what} "
            f"that the header promises (dimensions {' x '.join(map(str, dims))}); the file is "
            f"damaged - {_fix(path)}"
        )
    arr = np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize, offset=header_len)
    # A native-endian, writable copy (uint8 needs no byte swap but frombuffer(bytes) is read-only).
    return arr.astype(dtype.newbyteorder("="), copy=True).reshape(dims)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Parse an IDX file (gzip-compressed or raw) into a new, writable ndarray.

    Compression is detected from the gzip magic bytes ``1f 8b``, not from the file name.  The
    magic number (``00 00``, a type code, the number of dimensions), the dimensions and the
    payload length are checked; all IDX types are supported (``0x08`` unsigned byte, ``0x09``
    signed byte, ``0x0B`` short, ``0x0C`` int, ``0x0D`` float, ``0x0E`` double) and returned in
    native byte order.

    Raises:
        MnistFormatError: the file is empty, not IDX, truncated, has trailing bytes or is a
            broken gzip stream; the message names the file and what to do.
        FileNotFoundError: there is no such file.
    """
    p = _check_path(path, "path")
    return _parse_idx(_read_bytes(p), p)


def _idx_leading_dim(path: Path) -> int:
    """The first dimension declared in an IDX header (reads only the first bytes)."""
    most = 4 + 4 * 255  # the longest possible IDX header
    with open(path, "rb") as f:
        magic = f.read(2)
        f.seek(0)
        if magic == _GZIP_MAGIC:
            try:
                with gzip.open(f, "rb") as g:
                    head = g.read(most)
            except EOFError:
                raise MnistFormatError(
                    f"{path}: truncated: the gzip stream ends early; the file is incomplete - "
                    f"{_fix(path)}"
                ) from None
            except (gzip.BadGzipFile, zlib.error) as e:
                raise MnistFormatError(
                    f"{path}: corrupt gzip data ({e}); the file is damaged - {_fix(path)}"
                ) from None
        else:
            head = f.read(most)
    if not head:
        raise MnistFormatError(f"{path}: empty file; {_fix(path)}")
    _dtype, dims, _ = _parse_header(head, path)
    return dims[0]


# --------------------------------------------------------------------------------------------
# Checksums
# --------------------------------------------------------------------------------------------


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
        if len(parts) != 2 or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
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


def _stat_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_mtime_ns, st.st_size)


def _checksum_error(path: Path, expected: str, actual: str) -> MnistChecksumError:
    return MnistChecksumError(
        f"{path}: checksum mismatch: the decompressed contents should have sha256 {expected}, "
        f"got {actual}; the file is damaged or not the original - {_fix(path)}"
    )


def _expected_sum(table: Mapping[str, str], name: str, directory: Path) -> str:
    try:
        return table[name].lower()
    except KeyError:
        raise MnistFormatError(
            f"{directory}: no checksum for {name} in the checksum table; pass a table with an "
            "entry for each of " + ", ".join(FILES)
        ) from None


def _verify_raw(path: Path, raw: bytes, expected: str, key: tuple[str, int, int]) -> None:
    actual = _VERIFIED.get(key)
    if actual is None:
        actual = hashlib.sha256(raw).hexdigest()
        _VERIFIED[key] = actual
    if actual != expected:
        raise _checksum_error(path, expected, actual)


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


def _source(kind: str, directory: Path, origin: str) -> MnistSource:
    if directory.resolve() == SUBSET_DIR:
        kind = "subset"  # data_dir may name the bundled folder itself: it is still the subset
    return MnistSource(
        kind=kind,
        directory=directory,
        train_size=_idx_leading_dim(directory / FILES[0]),
        test_size=_idx_leading_dim(directory / FILES[2]),
        origin=origin,
    )


def _mirror_list(mirrors: Iterable[str] | None) -> list[str]:
    if mirrors is None:
        env = os.environ.get(_ENV_MIRRORS, "")
        mirrors = env.split(",") if env.strip() else MIRRORS
    elif isinstance(mirrors, str):
        mirrors = mirrors.split(",")
    out = []
    for m in mirrors:
        if not isinstance(m, str):
            raise TypeError(f"mirrors: expected base URLs as str, got {type(m).__name__}")
        m = m.strip()
        if m:
            out.append(m if m.endswith("/") else m + "/")
    if not out:
        raise ValueError("mirrors: expected at least one base URL, got none")
    return out


def _check_bool(value: object, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def _check_table(checksums: Mapping[str, str] | None) -> Mapping[str, str]:
    if checksums is None:
        return SHA256
    if not isinstance(checksums, Mapping):
        raise TypeError(
            f"checksums: expected a mapping of file name to sha256 hex, "
            f"got {type(checksums).__name__}"
        )
    return checksums


def locate_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    checksums: Mapping[str, str] | None = None,
    progress: bool = True,
) -> MnistSource:
    """Find MNIST (see the module docstring for the search order) and say where it is.

    Args:
        data_dir: a folder holding the four files of :data:`FILES`.  When given, it must hold
            them all: a FileNotFoundError names the folder and the missing files (no fallback).
        download: allow a download into :func:`mnist_cache_dir` when nothing is found.
        checksums: the decompressed-sha256 table a download is checked against (default
            :data:`SHA256`); tests pass the subset's table to serve small files.
        progress: show tqdm progress bars while downloading.

    Returns:
        A :class:`MnistSource`.  Only the headers are read here; :func:`load_mnist` verifies.

    Warns:
        MnistSubsetWarning: once, when falling back to the bundled subset.
    """
    return _locate(data_dir, download, checksums, progress, stacklevel=3)


def _locate(
    data_dir: str | os.PathLike[str] | None,
    download: bool,
    checksums: Mapping[str, str] | None,
    progress: bool,
    *,
    stacklevel: int,
) -> MnistSource:
    """locate_mnist; ``stacklevel`` points the subset warning at the public caller's caller."""
    download = _check_bool(download, "download")
    progress = _check_bool(progress, "progress")
    table = _check_table(checksums)

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
                f"data_dir: {d} lacks {', '.join(missing)} (of the four MNIST files); put them "
                f"there, or leave data_dir unset to search ${_ENV_DATA_DIR}, the cache folder "
                f"and the mirrors"
            )
        return _source("full", d, "data_dir")

    env = os.environ.get(_ENV_DATA_DIR, "")
    if env:
        d = Path(os.path.expanduser(env)).absolute()
        missing = _missing(d)
        if missing:
            raise FileNotFoundError(
                f"{_ENV_DATA_DIR}={env}: {d} lacks {', '.join(missing)} (of the four MNIST "
                f"files); put them there or unset {_ENV_DATA_DIR}"
            )
        return _source("full", d, _ENV_DATA_DIR)

    cache = mnist_cache_dir()
    if not _missing(cache):
        return _source("full", cache, "cache")

    if download:
        try:
            download_mnist(cache, checksums=table, progress=progress)
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


def _fetch(url: str, out: Any, timeout: float, progress: bool, desc: str) -> None:
    """Stream ``url`` into the open binary file ``out``; raise OSError if it ends early."""
    req = urllib.request.Request(url, headers={"User-Agent": "nnparity (python urllib)"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        length = resp.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        written = 0
        with tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=desc,
            disable=not progress,
            leave=False,
        ) as bar:
            while True:
                chunk = resp.read(_CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                written += len(chunk)
                bar.update(len(chunk))
    if total is not None and written != total:
        raise OSError(f"incomplete download: got {written} of {total} bytes")


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
        fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=directory)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as f:
                _fetch(url, f, timeout, progress, name)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)  # mkstemp creates 0600; a cache may be shared
            raw = tmp.read_bytes()
            if raw[:2] != _GZIP_MAGIC:
                raise ValueError("not a gzip file")
            try:
                raw = gzip.decompress(raw)
            except EOFError:
                raise ValueError("truncated gzip stream") from None
            except (gzip.BadGzipFile, zlib.error) as e:
                raise ValueError(f"corrupt gzip data ({e})") from None
            actual = hashlib.sha256(raw).hexdigest()
            if actual != expected:
                raise ValueError(
                    f"checksum mismatch: decompressed sha256 {actual}, expected {expected}"
                )
            os.replace(tmp, target)
        except (OSError, ValueError, http.client.HTTPException) as e:
            failures.append(f"{url}: {e}")
            continue
        finally:
            tmp.unlink(missing_ok=True)  # no-op after a successful os.replace
        _VERIFIED[_stat_key(target)] = actual
        return target
    raise MnistDownloadError(
        f"could not download {name} into {directory}; every mirror failed:\n  "
        + "\n  ".join(failures)
        + f"\nfix: check the network (and proxy), set {_ENV_MIRRORS} to reachable base URLs, or "
        f"fetch the four files yourself and point data_dir / {_ENV_DATA_DIR} at them"
    )


def download_mnist(
    directory: str | os.PathLike[str],
    *,
    mirrors: Iterable[str] | None = None,
    timeout: float = 30.0,
    progress: bool = True,
    checksums: Mapping[str, str] | None = None,
) -> Path:
    """Download the four MNIST files into ``directory`` (created if needed) and return it.

    For each file, each mirror is tried in order (``mirrors``, else ``$NNPARITY_MNIST_MIRRORS``
    as comma-separated base URLs, else :data:`MIRRORS`).  The body is streamed into a temp file
    in ``directory`` and its decompressed sha256 checked against ``checksums`` (default
    :data:`SHA256`) before ``os.replace`` moves it into place, so an interrupted or bad download
    never leaves a file under the final name, and temp files are removed.  A file already
    present with the right checksum is kept; a bad one is replaced.

    Raises:
        MnistDownloadError: a file could not be fetched from any mirror; the message lists
            each mirror and why it failed.
    """
    d = _check_path(directory, "directory")
    progress = _check_bool(progress, "progress")
    table = _check_table(checksums)
    try:
        timeout = float(timeout)
    except (TypeError, ValueError):
        raise TypeError(f"timeout: expected a number of seconds, got {timeout!r}") from None
    if not timeout > 0:
        raise ValueError(f"timeout: expected a number of seconds > 0, got {timeout!r}")
    urls = _mirror_list(mirrors)
    expected = {name: _expected_sum(table, name, d) for name in FILES}
    d.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        target = d / name
        if target.is_file():
            try:
                key = _stat_key(target)
                _verify_raw(target, _read_bytes(target), expected[name], key)
                continue
            except MnistFormatError:
                pass  # damaged: download it again
        _download_one(name, d, urls, expected[name], timeout, progress)
    return d


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _load_arrays(
    directory: Path, table: Mapping[str, str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The four uint8 arrays of ``directory`` (cached, read-only), verified against ``table``."""
    paths = [directory / f for f in FILES]
    keys = [_stat_key(p) for p in paths]
    expected = [_expected_sum(table, f, directory) for f in FILES]
    cache_key = (str(directory.resolve()), *keys)
    cached = _ARRAYS.get(cache_key)
    if cached is not None:
        for p, k, e in zip(paths, keys, expected, strict=True):
            if _VERIFIED.get(k) != e:
                raise _checksum_error(p, e, _VERIFIED.get(k, "unknown"))
        return cached

    raws = [_read_bytes(p) for p in paths]
    arrays = [_parse_idx(r, p) for r, p in zip(raws, paths, strict=True)]
    for i in (0, 2):
        img_p, lab_p = paths[i], paths[i + 1]
        images, labels = arrays[i], arrays[i + 1]
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != _IMAGE_SHAPE:
            raise MnistFormatError(
                f"{img_p}: expected 28 x 28 unsigned-byte images, got an IDX array of shape "
                f"{images.shape} and dtype {images.dtype}; this is not an MNIST image file - "
                f"{_fix(img_p)}"
            )
        if labels.dtype != np.uint8 or labels.ndim != 1:
            raise MnistFormatError(
                f"{lab_p}: expected a 1-D unsigned-byte label file, got an IDX array of shape "
                f"{labels.shape} and dtype {labels.dtype}; this is not an MNIST label file - "
                f"{_fix(lab_p)}"
            )
        if images.shape[0] != labels.shape[0]:
            raise MnistFormatError(
                f"count mismatch: {img_p} holds {images.shape[0]} images but {lab_p} holds "
                f"{labels.shape[0]} labels; the two files do not belong together - replace both "
                f"with a matching pair (delete them and load again to re-download, or point "
                f"data_dir at a good copy)"
            )
        bad = np.flatnonzero(labels >= _N_CLASSES)
        if bad.size:
            raise MnistFormatError(
                f"{lab_p}: label {int(labels[bad[0]])} at index {int(bad[0])} is not a digit "
                f"0..9 ({bad.size} bad); the file is damaged - {_fix(lab_p)}"
            )
    for p, r, k, e in zip(paths, raws, keys, expected, strict=True):
        _verify_raw(p, r, e, k)
    del raws
    for a in arrays:
        a.flags.writeable = False
    result = (arrays[0], arrays[1], arrays[2], arrays[3])
    _ARRAYS[cache_key] = result
    return result


def _subset_table() -> dict[str, str]:
    sums = SUBSET_DIR / _SUBSET_SUMS
    if not sums.is_file():
        raise FileNotFoundError(
            f"{sums}: the bundled subset's checksum file is missing; {_FIX_SUBSET}"
        )
    return read_sha256sums(sums)


def _images(x: np.ndarray, normalize: bool, flatten: bool) -> np.ndarray:
    if normalize:
        out = x.astype(np.float32)  # a fresh array; the cache stays untouched
        out /= np.float32(255.0)
    else:
        out = x.copy()
    return out.reshape(len(x), -1) if flatten else out.reshape(len(x), 1, *_IMAGE_SHAPE)


def _labels(t: np.ndarray, one_hot: bool) -> np.ndarray:
    if one_hot:
        out = np.zeros((len(t), _N_CLASSES), dtype=np.float32)
        out[np.arange(len(t)), t] = 1.0
        return out
    return t.astype(np.int64)


def load_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    return_source: bool = False,
    checksums: Mapping[str, str] | None = None,
) -> Any:
    """Load MNIST as the book does: ``((x_train, t_train), (x_test, t_test))``.

    Args:
        normalize: images as float32 ``pixel / 255`` in [0, 1]; else uint8 in [0, 255].
        flatten: images of shape ``(N, 784)``; else ``(N, 1, 28, 28)``.
        one_hot_label: labels as float32 one-hot rows ``(N, 10)``; else int64 ``(N,)``.
        data_dir: a folder holding the four files (no fallback when given); see
            :func:`locate_mnist` for the search order otherwise.
        download: allow a download into the cache folder when nothing is found.
        return_source: return ``(data, MnistSource)`` instead of ``data``.
        checksums: decompressed-sha256 table for a non-bundled folder (default :data:`SHA256`);
            the bundled subset is always checked against its own ``SHA256SUMS.txt``.

    Every file is parsed and checked (IDX header, image/label counts, labels 0..9, sha256 of the
    decompressed bytes) the first time it is read in a process.  The parsed uint8 arrays are then
    kept in memory (read-only) per folder, so later calls only convert; every call returns fresh,
    writable arrays, so callers may modify them without affecting later calls.

    Raises:
        TypeError: a flag is not a bool, or ``data_dir`` is not a path.
        FileNotFoundError: ``data_dir`` or ``$NNPARITY_DATA_DIR`` lacks files.
        MnistFormatError: a file is damaged (bad IDX, truncated, count mismatch, checksum
            mismatch); the message names the file and the fix.

    Warns:
        MnistSubsetWarning: when falling back to the bundled subset.
    """
    normalize = _check_bool(normalize, "normalize")
    flatten = _check_bool(flatten, "flatten")
    one_hot_label = _check_bool(one_hot_label, "one_hot_label")
    return_source = _check_bool(return_source, "return_source")
    table = _check_table(checksums)
    source = _locate(data_dir, download, table, True, stacklevel=3)
    if source.kind == "subset":
        table = _subset_table()
    x_train, t_train, x_test, t_test = _load_arrays(source.directory, table)
    data = (
        (_images(x_train, normalize, flatten), _labels(t_train, one_hot_label)),
        (_images(x_test, normalize, flatten), _labels(t_test, one_hot_label)),
    )
    return (data, source) if return_source else data
