"""MNIST through ``torchvision.datasets.MNIST``, reading the same files as the NumPy loader.

Why a second loader: the parity claim "same data in, same numbers out" is only as good as the
data path, so the torch side parses the files with torchvision's own IDX reader instead of
borrowing NumPy's arrays; ``tests/test_torch_mnist.py`` then checks that both parsers agree byte
for byte.

Where the files come from is decided by :func:`reference_numpy.mnist_files.locate_mnist`
(``data_dir``, ``$NNPARITY_DATA_DIR``, the cache folder, a download, or the bundled subset), so
both engines read the very same files.  torchvision wants ``<root>/MNIST/raw/<name without
.gz>`` and (in the torchvision versions we support) reads those files with a plain ``open``: it
does not gunzip.  So a prepared root is built in ``<mnist_cache_dir()>/torchvision/<key>/`` (or
a temp folder when the cache is not writable):

* a source file that is already uncompressed is *symlinked* (copied where symlinks fail);
* a gzip source is decompressed once into the prepared root (temp file + ``os.replace``);
  temp files a killed earlier run left there are removed first.

Every file's decompressed SHA-256 is checked against the same table the NumPy loader uses
(:func:`reference_numpy.mnist_files.checksum_table`: the published sums, or the subset's
``SHA256SUMS.txt``), so a damaged cache entry is rebuilt, never trusted.
``MNIST(root, train=..., download=False)`` is used: when the files are there, nothing is ever
downloaded by torchvision.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reference_numpy.idx import GZIP_MAGIC, gzip_errors, read_idx_dims
from reference_numpy.mnist_files import (
    DEFAULT_TIMEOUT,
    FILES,
    MnistFormatError,
    MnistSource,
    check_bool,
    checksum_error,
    checksum_table,
    expected_sum,
    fix_hint,
    locate_mnist,
    mnist_cache_dir,
    read_idx,
    remove_stale_temp_files,
    stat_key,
)

from .device import resolve_device, resolve_dtype

# locate_mnist, read_idx and MnistSource are framework-neutral (files and bytes): shared.
__all__ = [
    "MnistSource",
    "load_mnist",
    "locate_mnist",
    "prepare_torchvision_root",
    "read_idx",
    "torchvision_arrays",
]

_N_CLASSES = 10
_PROBE = ".probe."
# (resolved path, st_mtime_ns, st_size) -> sha256 of the (decompressed) contents, per process,
# so a second load in the same process does not hash 47 MB again.
_HASHED: dict[tuple[str, int, int], str] = {}


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def _sha256_raw(path: Path) -> str:
    """sha256 of an uncompressed file (memoised on its stat key)."""
    key = stat_key(path)
    digest = _HASHED.get(key)
    if digest is None:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
        _HASHED[key] = digest
    return digest


def _writable_base() -> Path:
    """``<mnist_cache_dir()>/torchvision``, else a per-user temp folder when that is read-only."""
    candidates = [
        mnist_cache_dir() / "torchvision",
        Path(tempfile.gettempdir())
        / f"nnparity-{os.getuid() if hasattr(os, 'getuid') else 0}"
        / "torchvision",
    ]
    errors = []
    for base in candidates:
        try:
            base.mkdir(parents=True, exist_ok=True)
            remove_stale_temp_files(base, [_PROBE + "*"])
            probe = tempfile.NamedTemporaryFile(dir=base, prefix=_PROBE, delete=True)
            probe.close()
            return base
        except OSError as e:
            errors.append(f"{base}: {e}")
    raise OSError(
        "no writable folder for torchvision's MNIST layout: "
        + "; ".join(errors)
        + "; set NNPARITY_CACHE_DIR to a writable folder"
    )


def _link_or_copy(src: Path, dst: Path) -> None:
    """Point ``dst`` at ``src`` atomically: a symlink, or a copy where symlinks fail."""
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.symlink(src, tmp)
    except (OSError, NotImplementedError):
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def _decompress_into(src: Path, dst: Path, expected: str) -> None:
    """gunzip ``src`` into ``dst`` (temp file + os.replace), checking the sha256 on the way."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    tmp = Path(tmp_name)
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            with gzip_errors(src, fix_hint(src)), gzip.open(src, "rb") as g:
                for chunk in iter(lambda: g.read(1 << 20), b""):
                    h.update(chunk)
                    out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if h.hexdigest() != expected:
            raise checksum_error(src, expected, h.hexdigest())
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
        _HASHED[stat_key(dst)] = expected
    finally:
        tmp.unlink(missing_ok=True)


def prepare_torchvision_root(
    source: MnistSource, checksums: Mapping[str, str] | None = None
) -> Path:
    """Build (or reuse) a folder ``root`` with ``root/MNIST/raw/<four files>`` for ``source``.

    The folder is keyed by the source folder and the expected checksums, so the full set and
    the subset never share one.  Existing entries are reused only when their contents hash to
    the expected sums; anything else is rebuilt.  Every source file's IDX header is checked
    first (a pickle, ``.npy`` or ``.npz`` under an MNIST name is refused, never read), and temp
    files a killed earlier run left in the root are removed.  Returns ``root`` (pass it to
    ``torchvision.datasets.MNIST``).
    """
    table = checksum_table(source, checksums)
    src_dir = source.directory.resolve()
    sums = [expected_sum(table, name, src_dir) for name in FILES]
    for name in FILES:  # before anything is built: not IDX (a pickle, a .npy, ...) is refused
        read_idx_dims(src_dir / name, fix_hint(src_dir / name))
    key = hashlib.sha256("\n".join([str(src_dir), *sums]).encode()).hexdigest()[:16]
    root = _writable_base() / key
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    # Leftovers of a killed earlier run (decompressions, links): ours by name, older than us.
    remove_stale_temp_files(raw, [f".{name[: -len('.gz')]}.*.tmp" for name in FILES])
    for name, expected in zip(FILES, sums, strict=True):
        src = src_dir / name
        dst = raw / name[: -len(".gz")]
        if _is_gzip(src):
            if dst.is_symlink() or not (dst.is_file() and _sha256_raw(dst) == expected):
                # No unlink first: os.replace swaps the name atomically (a symlink included),
                # while an unlink could delete the file another process (a second torchrun
                # rank) had just put there, which then vanished under its stat().
                _decompress_into(src, dst, expected)
            continue
        # Already uncompressed: link to it (after checking it, as the NumPy loader would).
        actual = _sha256_raw(src)
        if actual != expected:
            raise checksum_error(src, expected, actual)
        if not (dst.is_symlink() and Path(os.readlink(dst)) == src) and not (
            dst.is_file() and not dst.is_symlink() and _sha256_raw(dst) == expected
        ):
            _link_or_copy(src, dst)
    return root


def _read_torchvision(root: Path, source: MnistSource) -> dict[str, torch.Tensor]:
    """Parse the prepared root with torchvision (download=False) and sanity-check the result."""
    from torchvision.datasets import MNIST  # import here: torchvision is slow to import

    out: dict[str, torch.Tensor] = {}
    for split, train, n in (("train", True, source.train_size), ("test", False, source.test_size)):
        ds = MNIST(str(root), train=train, download=False)
        x, t = ds.data, ds.targets
        if tuple(x.shape) != (n, 28, 28) or x.dtype != torch.uint8:
            raise MnistFormatError(
                f"{root}: torchvision parsed {split} images of shape {tuple(x.shape)} and dtype "
                f"{x.dtype}, expected ({n}, 28, 28) uint8 from the file header"
            )
        if tuple(t.shape) != (n,) or t.dtype != torch.int64:
            raise MnistFormatError(
                f"{root}: torchvision parsed {split} labels of shape {tuple(t.shape)} and dtype "
                f"{t.dtype}, expected ({n},) int64"
            )
        out[f"x_{split}"], out[f"t_{split}"] = x, t
    return out


def torchvision_arrays(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    checksums: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, np.ndarray]:
    """The raw arrays exactly as torchvision parses them, for the verifier's "data" check.

    Returns ``{"x_train", "t_train", "x_test", "t_test"}``: images uint8 ``(N, 28, 28)`` and
    labels int64 ``(N,)``, as NumPy arrays (no conversion beyond ``.numpy()``), from the same
    files :func:`reference_numpy.mnist.locate_mnist` finds.
    """
    source = locate_mnist(
        data_dir, download=download, checksums=checksums, timeout=timeout, stacklevel=3
    )
    tensors = _read_torchvision(prepare_torchvision_root(source, checksums), source)
    return {k: v.numpy() for k, v in tensors.items()}


def _images(x: torch.Tensor, normalize: bool, flatten: bool, dtype: torch.dtype) -> torch.Tensor:
    if normalize:
        # float32 pixel / 255 on the CPU, exactly the NumPy loader's float32 division (CUDA
        # would multiply by a rounded reciprocal); a float64 request upcasts those float32
        # values, which is what reference_numpy.train does to float32 data on a float64 net.
        out = x.to(torch.float32).div_(255.0)
        if dtype != torch.float32:
            out = out.to(dtype)
    else:
        out = x.clone()
    return out.reshape(len(x), -1) if flatten else out.reshape(len(x), 1, 28, 28)


def _labels(t: torch.Tensor, one_hot: bool, dtype: torch.dtype) -> torch.Tensor:
    if one_hot:
        out = torch.zeros((len(t), _N_CLASSES), dtype=dtype)
        out[torch.arange(len(t)), t] = 1.0
        return out
    return t.clone()


def load_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    return_source: bool = False,
    device: torch.device | str | None = None,
    dtype: torch.dtype | str | None = None,
    as_tensor: bool = True,
    checksums: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Any:
    """Load MNIST as the book does, ``((x_train, t_train), (x_test, t_test))``, via torchvision.

    Args:
        normalize: images as ``pixel / 255`` (computed in float32, as the NumPy loader does,
            then cast to ``dtype``); else uint8 in [0, 255].
        flatten: images of shape ``(N, 784)``; else ``(N, 1, 28, 28)``.
        one_hot_label: labels as one-hot rows ``(N, 10)`` in ``dtype``; else int64 ``(N,)``.
        data_dir, download, checksums, timeout: as :func:`reference_numpy.mnist.load_mnist`
            (same search order, same files, same checksum tables, same download deadline).
        return_source: return ``(data, MnistSource)`` instead of ``data``.
        device: where the tensors go (see :func:`reference_torch.device.resolve_device`).
        dtype: float dtype of normalized images and one-hot labels (default float32).
        as_tensor: False returns NumPy arrays instead (``device`` must then be None).

    Raises:
        TypeError, ValueError: bad arguments.
        FileNotFoundError, MnistFormatError: as the NumPy loader.
    """
    normalize = check_bool(normalize, "normalize")
    flatten = check_bool(flatten, "flatten")
    one_hot_label = check_bool(one_hot_label, "one_hot_label")
    download = check_bool(download, "download")
    return_source = check_bool(return_source, "return_source")
    as_tensor = check_bool(as_tensor, "as_tensor")
    dt = resolve_dtype(dtype)
    if not as_tensor and device is not None:
        raise ValueError(f"device: as_tensor=False returns NumPy arrays, got device={device!r}")
    dev = resolve_device(device) if as_tensor else torch.device("cpu")
    source = locate_mnist(
        data_dir, download=download, checksums=checksums, timeout=timeout, stacklevel=3
    )
    raw = _read_torchvision(prepare_torchvision_root(source, checksums), source)
    parts = []
    for split in ("train", "test"):
        x = _images(raw[f"x_{split}"], normalize, flatten, dt)
        t = _labels(raw[f"t_{split}"], one_hot_label, dt)
        if as_tensor:
            parts.append((x.to(dev), t.to(dev)))
        else:
            parts.append((x.numpy(), t.numpy()))
    data = (parts[0], parts[1])
    return (data, source) if return_source else data
