"""``load_mnist``: the book's loader, on the files that :mod:`.mnist_files` finds and checks.

Pure NumPy (plus the standard library and tqdm); this module never imports torch.

The data layer is three modules, each importable on its own:

* :mod:`reference_numpy.idx`: the IDX format (parsing, header checks, gzip errors);
* :mod:`reference_numpy.mnist_files`: the files, shared by both engines: names, checksums,
  where they are (``data_dir``, ``$NNPARITY_DATA_DIR``, the cache, a download with a total
  deadline, the bundled subset) and how they are fetched;
* this module: :func:`load_mnist`, which parses, checks and converts.

Every public name of the two others is also importable from here, as it was when this module
held them all.

MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, licensed CC BY-SA 3.0.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .idx import MnistFormatError, parse_idx, read_bytes, read_idx
from .mnist_files import (
    DEFAULT_TIMEOUT,
    FILES,
    MIRRORS,
    SHA256,
    SUBSET_DIR,
    MnistChecksumError,
    MnistDownloadError,
    MnistSource,
    MnistSubsetWarning,
    check_bool,
    check_checksums,
    check_sha256,
    checksum_table,
    download_mnist,
    expected_sum,
    fix_hint,
    locate_mnist,
    mnist_cache_dir,
    read_sha256sums,
    stat_key,
)

__all__ = [
    "FILES",
    "SHA256",
    "MIRRORS",
    "SUBSET_DIR",
    "DEFAULT_TIMEOUT",
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

_N_CLASSES = 10
_IMAGE_SHAPE = (28, 28)

# (resolved dir, stats of the four files) -> read-only (x_train, t_train, x_test, t_test), uint8.
_ARRAYS: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}


def _load_arrays(
    directory: Path, table: Mapping[str, str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The four uint8 arrays of ``directory`` (cached, read-only), verified against ``table``."""
    paths = [directory / f for f in FILES]
    keys = [stat_key(p) for p in paths]
    expected = [expected_sum(table, f, directory) for f in FILES]
    cache_key = (str(directory.resolve()), *keys)
    cached = _ARRAYS.get(cache_key)
    if cached is not None:
        for p, k, e in zip(paths, keys, expected, strict=True):
            check_sha256(p, None, e, k)  # the memo: a changed table is checked again
        return cached

    raws = [read_bytes(p, fix_hint(p)) for p in paths]
    arrays = [parse_idx(r, p, fix_hint(p)) for r, p in zip(raws, paths, strict=True)]
    for i in (0, 2):
        img_p, lab_p = paths[i], paths[i + 1]
        images, labels = arrays[i], arrays[i + 1]
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != _IMAGE_SHAPE:
            raise MnistFormatError(
                f"{img_p}: expected 28 x 28 unsigned-byte images, got an IDX array of shape "
                f"{images.shape} and dtype {images.dtype}; this is not an MNIST image file - "
                f"{fix_hint(img_p)}"
            )
        if labels.dtype != np.uint8 or labels.ndim != 1:
            raise MnistFormatError(
                f"{lab_p}: expected a 1-D unsigned-byte label file, got an IDX array of shape "
                f"{labels.shape} and dtype {labels.dtype}; this is not an MNIST label file - "
                f"{fix_hint(lab_p)}"
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
                f"0..9 ({bad.size} bad); the file is damaged - {fix_hint(lab_p)}"
            )
    for p, r, k, e in zip(paths, raws, keys, expected, strict=True):
        check_sha256(p, r, e, k)
    del raws
    for a in arrays:
        a.flags.writeable = False
    result = (arrays[0], arrays[1], arrays[2], arrays[3])
    _ARRAYS[cache_key] = result
    return result


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
    timeout: float = DEFAULT_TIMEOUT,
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
        timeout: total deadline in seconds for each file from each mirror when a download is
            needed (connect, headers and body together; default :data:`DEFAULT_TIMEOUT`);
            when it passes, the next mirror is tried, then the bundled subset.

    Every file is parsed and checked (IDX header, image/label counts, labels 0..9, sha256 of the
    decompressed bytes) the first time it is read in a process.  The parsed uint8 arrays are then
    kept in memory (read-only) per folder, so later calls only convert; every call returns fresh,
    writable arrays, so callers may modify them without affecting later calls.

    All arguments are checked before anything is read, fetched or removed.

    Raises:
        TypeError: a flag is not a bool, ``data_dir`` is not a path, ``timeout`` is not a
            number, ``checksums`` is not a mapping.
        ValueError: ``timeout`` is not finite and > 0, a checksum is not 64 hex digits.
        FileNotFoundError: ``data_dir`` or ``$NNPARITY_DATA_DIR`` lacks files.
        MnistFormatError: a file is damaged (bad IDX, truncated, count mismatch, checksum
            mismatch, a pickle/.npy/.npz instead of IDX); the message names the file, what was
            expected and the fix.

    Warns:
        MnistSubsetWarning: when falling back to the bundled subset.
    """
    normalize = check_bool(normalize, "normalize")
    flatten = check_bool(flatten, "flatten")
    one_hot_label = check_bool(one_hot_label, "one_hot_label")
    return_source = check_bool(return_source, "return_source")
    check_checksums(checksums)
    source = locate_mnist(
        data_dir, download=download, checksums=checksums, timeout=timeout, stacklevel=3
    )
    table = checksum_table(source, checksums)
    x_train, t_train, x_test, t_test = _load_arrays(source.directory, table)
    data = (
        (_images(x_train, normalize, flatten), _labels(t_train, one_hot_label)),
        (_images(x_test, normalize, flatten), _labels(t_test, one_hot_label)),
    )
    return (data, source) if return_source else data
