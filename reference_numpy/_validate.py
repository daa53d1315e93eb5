"""Argument checks shared by every public function.

Each check raises an error that names the argument, what was expected and what came, so a
caller never has to read our source to learn what went wrong.  None of them mutates its input.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = [
    "as_float_array",
    "check_finite",
    "check_positive",
    "check_choice",
    "check_targets",
    "atomic_write_bytes",
    "atomic_write",
]


def _describe(x: object) -> str:
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return f"{type(x).__name__} {x!r}"[:120]


def as_float_array(x: object, name: str, *, allow_int: bool = True) -> np.ndarray:
    """Return ``x`` as a floating ndarray (no copy when it already is one).

    Integer and boolean input is promoted to float64 unless ``allow_int`` is False, in which case
    it is refused: in-place finite differences on an int array silently truncate.
    """
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        return arr
    if arr.dtype.kind in "biu":
        if not allow_int:
            raise TypeError(
                f"{name}: expected a floating-point array (float32 or float64), "
                f"got {_describe(arr)}; "
                f"convert it first, e.g. {name}.astype(np.float64)"
            )
        return arr.astype(np.float64)
    raise TypeError(f"{name}: expected a real numeric array, got {_describe(x)}")


def check_finite(x: np.ndarray, name: str) -> None:
    """Raise ValueError naming the first non-finite element of ``x``."""
    arr = np.asarray(x)
    if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = tuple(int(i) for i in bad)
        raise ValueError(
            f"{name}: expected finite values, got {arr[where] if where else arr.item()} "
            f"at index {where if where else '()'}"
        )


def check_positive(value: float, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as float after checking it is finite and > 0 (or >= 0)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a real number, got {_describe(value)}") from None
    ok = v >= 0 if allow_zero else v > 0
    if not np.isfinite(v) or not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: expected a finite number {bound}, got {value!r}")
    return v


def check_choice(value: str, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_targets(y_shape: tuple[int, ...], t: object, name: str = "t") -> tuple[np.ndarray, bool]:
    """Validate targets against scores of shape ``y_shape`` (1-D ``(K,)`` or batch ``(N, K)``).

    Returns ``(t, is_labels)``.  Accepted forms:

    * distributions (one-hot or soft) of exactly ``y_shape``, finite;
    * label indices: a scalar or shape ``(1,)`` for 1-D scores, shape ``(N,)`` or ``(N, 1)`` for a
      batch (the book's code broadcasts ``(N, 1)`` wrongly; we flatten it).  Labels are returned
      as an int64 array of shape ``(N,)`` (``(1,)`` for 1-D scores).
    """
    if len(y_shape) not in (1, 2):
        raise ValueError(f"y: expected a 1-D (K,) or 2-D (N, K) array, got shape {y_shape}")
    k = y_shape[-1]
    n = 1 if len(y_shape) == 1 else y_shape[0]
    arr = np.asarray(t)
    if arr.shape == y_shape and arr.dtype.kind == "f":
        check_finite(arr, name)
        return arr, False
    if arr.dtype.kind == "f":
        if arr.shape == y_shape:  # pragma: no cover - handled above
            return arr, False
        if np.all(np.mod(arr, 1) == 0) and arr.size == n and arr.ndim <= 2:
            arr = arr.astype(np.int64)
        else:
            raise ValueError(
                f"{name}: expected one-hot targets of shape {y_shape} or {n} integer labels, "
                f"got {_describe(arr)}"
            )
    if arr.dtype.kind == "b":
        if arr.shape == y_shape:
            return arr.astype(np.float64), False
        raise TypeError(f"{name}: expected integer labels or float targets, got {_describe(arr)}")
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer labels or float targets, got {_describe(arr)}")
    if arr.shape == y_shape and k != 1:
        # An int array the shape of y is a one-hot matrix, not a label list.
        return arr.astype(np.float64), False
    valid_label_shapes = {(n,), (n, 1)} | ({()} if len(y_shape) == 1 else set())
    if arr.shape not in valid_label_shapes:
        expected = " or ".join(str(s) for s in sorted(valid_label_shapes, key=len))
        raise ValueError(
            f"{name}: expected one-hot targets of shape {y_shape} or labels of shape {expected}, "
            f"got shape {arr.shape}"
        )
    labels = arr.reshape(-1).astype(np.int64)
    bad = np.flatnonzero((labels < 0) | (labels >= k))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{name}: expected labels in [0, {k}), got {int(labels[i])} at index {i} "
            f"({bad.size} out of range)"
        )
    return labels, True


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temp file and ``os.replace``: never a half file."""
    return atomic_write(path, lambda f: f.write(data))


def atomic_write(path: str | os.PathLike[str], writer: Callable[[object], object]) -> Path:
    """Call ``writer(fileobj)`` on a temp file beside ``path``, then rename it into place."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            writer(f)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates 0600; give the file the mode a plain open() would (0666 minus umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target
