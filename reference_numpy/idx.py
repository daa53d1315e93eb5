"""The IDX file format (Yann LeCun's, used by MNIST): parse bytes or files into ndarrays.

An IDX file is a 4-byte magic number (``00 00``, a type code, the number of dimensions ``n``),
``n`` big-endian uint32 dimensions, then the payload in C order.  Files may be gzip-compressed;
compression is detected from the gzip magic bytes ``1f 8b``, not from the file name.

Every error is a :class:`MnistFormatError` naming the file, what was expected, what was found,
and what to do (the ``fix`` sentence, which the file layer chooses: re-download, or reinstall
for the bundled subset).  Files that are not IDX but that people do pass for MNIST (a Python
pickle such as the book's ``mnist.pkl``, a ``.npy``, a ``.npz``) are named as such, and never
unpickled: unpickling runs code.

Pure NumPy and the standard library.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

__all__ = [
    "GZIP_MAGIC",
    "IDX_DTYPES",
    "DEFAULT_FIX",
    "MnistFormatError",
    "gzip_errors",
    "read_bytes",
    "parse_idx",
    "parse_idx_header",
    "read_idx_dims",
    "read_idx",
    "encode_idx",
]

GZIP_MAGIC = b"\x1f\x8b"
#: IDX type code -> (big-endian dtype, name).
IDX_DTYPES: dict[int, tuple[str, str]] = {
    0x08: (">u1", "unsigned byte"),
    0x09: (">i1", "signed byte"),
    0x0B: (">i2", "short"),
    0x0C: (">i4", "int"),
    0x0D: (">f4", "float"),
    0x0E: (">f8", "double"),
}
#: What to do about a damaged file when the caller gives no better advice.
DEFAULT_FIX = "delete it and load again (it will be re-downloaded) or point data_dir at a good copy"

# Leading bytes of formats that are not IDX but get passed for MNIST (pickle protocols 2-5
# start with the PROTO opcode 0x80 and the protocol number).
_FOREIGN: tuple[tuple[bytes, str], ...] = (
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"PK\x03\x04", "a zip archive (e.g. a NumPy .npz)"),
    *((bytes([0x80, p]), "a Python pickle (e.g. the book's mnist.pkl)") for p in range(2, 6)),
)
_LONGEST_HEADER = 4 + 4 * 255


class MnistFormatError(ValueError):
    """A data file is not a valid MNIST IDX file (the message names the file and the fix)."""


@contextmanager
def gzip_errors(path: Path | str, fix: str = DEFAULT_FIX) -> Iterator[None]:
    """Turn the errors of reading a gzip stream into one :class:`MnistFormatError` naming ``path``.

    The one place where gzip's three ways of failing (``EOFError`` for a stream that ends early,
    ``gzip.BadGzipFile`` and ``zlib.error`` for damaged data) get a message.  ``path`` may be
    any label (a file, or a URL while downloading).
    """
    try:
        yield
    except EOFError:
        raise MnistFormatError(
            f"{path}: truncated: the gzip stream ends early; the file is incomplete - {fix}"
        ) from None
    except (gzip.BadGzipFile, zlib.error) as e:
        raise MnistFormatError(
            f"{path}: corrupt gzip data ({e}); the file is damaged - {fix}"
        ) from None


def _refuse_foreign(head: bytes, path: Path | str, fix: str) -> None:
    for magic, what in _FOREIGN:
        if head.startswith(magic):
            raise MnistFormatError(
                f"{path}: not an IDX file: expected an IDX file (optionally gzip-compressed), "
                f"got {what}; it is not read (nothing here unpickles: that can run code) - {fix}"
            )


def read_bytes(path: Path, fix: str = DEFAULT_FIX) -> bytes:
    """The file's contents, gunzipped when it starts with the gzip magic bytes 1f 8b."""
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise MnistFormatError(f"{path}: empty file; {fix}")
    if data[:2] != GZIP_MAGIC:
        return data
    with gzip_errors(path, fix):
        return gzip.decompress(data)


def parse_idx_header(
    raw: bytes, path: Path | str, fix: str = DEFAULT_FIX
) -> tuple[np.dtype, tuple[int, ...], int]:
    """Validate an IDX header; return (big-endian dtype, dims, header length)."""
    _refuse_foreign(raw, path, fix)
    if len(raw) < 4:
        raise MnistFormatError(
            f"{path}: truncated: {len(raw)} bytes, too short for an IDX header (4 bytes of magic "
            f"number); the file is incomplete - {fix}"
        )
    zero0, zero1, code, ndim = raw[0], raw[1], raw[2], raw[3]
    if zero0 != 0 or zero1 != 0 or code not in IDX_DTYPES or ndim == 0:
        codes = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise MnistFormatError(
            f"{path}: not an IDX file: bad magic number {raw[:4].hex(' ')} (expected 00 00, a "
            f"type code in {{{codes}}} and a dimension count >= 1, e.g. 00 00 08 03 for MNIST "
            f"images); this is not an MNIST file or it is damaged - {fix}"
        )
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise MnistFormatError(
            f"{path}: truncated: the header declares {ndim} dimensions ({header_len} header bytes) "
            f"but the file has {len(raw)} bytes; the file is incomplete - {fix}"
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header_len])
    return np.dtype(IDX_DTYPES[code][0]), tuple(int(d) for d in dims), header_len


def parse_idx(raw: bytes, path: Path | str, fix: str = DEFAULT_FIX) -> np.ndarray:
    """Parse the (decompressed) bytes of an IDX file into a new, writable, native-endian array."""
    dtype, dims, header_len = parse_idx_header(raw, path, fix)
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header_len
    what = "pixels" if len(dims) >= 3 else "labels" if len(dims) == 1 else "data"
    shape = " x ".join(map(str, dims))
    if found < expected:
        raise MnistFormatError(
            f"{path}: truncated: header promises {expected} bytes of {what} "
            f"(dimensions {shape}), found {found}; the file is incomplete - {fix}"
        )
    if found > expected:
        raise MnistFormatError(
            f"{path}: {found - expected} unexpected bytes after the {expected} bytes of {what} "
            f"that the header promises (dimensions {shape}); the file is damaged - {fix}"
        )
    arr = np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize, offset=header_len)
    # A native-endian, writable copy (uint8 needs no byte swap but frombuffer(bytes) is read-only).
    return arr.astype(dtype.newbyteorder("="), copy=True).reshape(dims)


def read_idx_dims(path: Path, fix: str = DEFAULT_FIX) -> tuple[int, ...]:
    """The dimensions declared in an IDX file's header (reads only the first bytes)."""
    with open(path, "rb") as f:
        magic = f.read(2)
        f.seek(0)
        if magic == GZIP_MAGIC:
            with gzip_errors(path, fix), gzip.open(f, "rb") as g:
                head = g.read(_LONGEST_HEADER)
        else:
            head = f.read(_LONGEST_HEADER)
    if not head:
        raise MnistFormatError(f"{path}: empty file; {fix}")
    return parse_idx_header(head, path, fix)[1]


def read_idx(path: str | os.PathLike[str], *, fix: str | None = None) -> np.ndarray:
    """Parse an IDX file (gzip-compressed or raw) into a new, writable ndarray.

    Compression is detected from the gzip magic bytes ``1f 8b``, not from the file name.  The
    magic number (``00 00``, a type code, the number of dimensions), the dimensions and the
    payload length are checked; all IDX types are supported (``0x08`` unsigned byte, ``0x09``
    signed byte, ``0x0B`` short, ``0x0C`` int, ``0x0D`` float, ``0x0E`` double) and returned in
    native byte order.  ``fix`` is the advice the error messages end with (default
    :data:`DEFAULT_FIX`).

    Raises:
        TypeError: ``path`` is not a path.
        MnistFormatError: the file is empty, not IDX (also: a pickle, .npy or .npz, which is
            never unpickled), truncated, has trailing bytes or is a broken gzip stream; the
            message names the file and what to do.
        FileNotFoundError: there is no such file.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a str or os.PathLike path, got {type(path).__name__}")
    if fix is not None and not isinstance(fix, str):
        raise TypeError(f"fix: expected a str or None, got {type(fix).__name__}")
    p = Path(os.fspath(path))
    advice = DEFAULT_FIX if fix is None else fix
    return parse_idx(read_bytes(p, advice), p, advice)


def encode_idx(arr: np.ndarray) -> bytes:
    """The IDX encoding of ``arr`` (uncompressed): the inverse of :func:`parse_idx`.

    Raises:
        TypeError: ``arr`` is not an ndarray of an IDX type (uint8, int8, int16, int32,
            float32, float64).
        ValueError: ``arr`` is 0-d, has more than 255 dimensions or one of 2**32 or more.
    """
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"arr: expected a NumPy array, got {type(arr).__name__}")
    codes = {np.dtype(dt).newbyteorder("="): code for code, (dt, _) in IDX_DTYPES.items()}
    code = codes.get(arr.dtype.newbyteorder("="))
    if code is None:
        names = ", ".join(str(d) for d in codes)
        raise TypeError(f"arr: expected one of the IDX dtypes {names}, got {arr.dtype}")
    if not 1 <= arr.ndim <= 255 or any(n >= 1 << 32 for n in arr.shape):
        raise ValueError(f"arr: expected 1 to 255 dimensions, each < 2**32, got shape {arr.shape}")
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + np.ascontiguousarray(arr, dtype=IDX_DTYPES[code][0]).tobytes()
