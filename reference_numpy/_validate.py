"""Argument checks shared by every public function.

Each check raises an error that names the argument, what was expected and what came, so a
caller never has to read our source to learn what went wrong.  None of them mutates its input.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._atomic import atomic_write

__all__ = [
    "as_array",
    "as_float_array",
    "check_finite",
    "check_nonempty",
    "check_writeable",
    "check_no_self_overlap",
    "check_positive",
    "check_choice",
    "check_seed",
    "check_allocation",
    "check_targets",
    "atomic_write_bytes",
    "atomic_write",
]


def _describe(x: object) -> str:
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return f"{type(x).__name__} {x!r}"[:120]


def as_array(x: object, name: str) -> np.ndarray:
    """``np.asarray(x)``, with the errors NumPy (or the object) raises turned into one naming
    ``name``: ragged nested lists, and tensors that cannot become arrays (a torch tensor that
    requires grad or lives on a GPU belongs to reference_torch)."""
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(x)
    except (ValueError, TypeError, RuntimeError) as e:
        kind = type(x)
        if kind.__module__.split(".")[0] == "torch":
            raise TypeError(
                f"{name}: expected a NumPy array, got a {kind.__module__}.{kind.__qualname__} "
                f"that NumPy cannot read ({str(e).splitlines()[0]}); pass "
                f"{name}.detach().cpu().numpy(), or use reference_torch"
            ) from None
        raise ValueError(
            f"{name}: expected an array (nested lists of equal lengths), got "
            f"{kind.__name__} that NumPy cannot read: {str(e).splitlines()[0]}"
        ) from None


def as_float_array(x: object, name: str, *, allow_int: bool = True) -> np.ndarray:
    """Return ``x`` as a floating ndarray (no copy when it already is one).

    Integer and boolean input is promoted to float64 unless ``allow_int`` is False, in which case
    it is refused: in-place finite differences on an int array silently truncate.
    """
    arr = as_array(x, name)
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
    if arr.dtype.kind not in "fc":
        return
    # A finite sum proves every element finite (NaN and ±inf propagate through addition) in one
    # pass without a temporary; only a non-finite sum (or an overflow) needs the element test.
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(arr)):
            return
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = tuple(int(i) for i in bad)
        raise ValueError(
            f"{name}: expected finite values, got {arr[where] if where else arr.item()} "
            f"at index {where if where else '()'}"
        )


def check_nonempty(x: np.ndarray, name: str, what: str = "element") -> None:
    """Raise ValueError when ``x`` has no elements (a mean over nothing is NaN, not an answer)."""
    if x.size == 0:
        raise ValueError(
            f"{name}: expected at least one {what}, got an empty array of shape {x.shape}"
        )


def check_writeable(x: np.ndarray, name: str) -> None:
    """Raise ValueError when ``x`` cannot be written in place (read-only memory)."""
    if not x.flags.writeable:
        raise ValueError(
            f"{name}: expected a writeable array (it is changed in place), got a read-only "
            f"{_describe(x)}; pass a copy, e.g. {name}.copy()"
        )


def check_no_self_overlap(x: np.ndarray, name: str) -> None:
    """Raise ValueError when elements of ``x`` share memory (a stride-0 axis, as
    ``broadcast_to`` or ``as_strided`` make): writing one element would move the others."""
    if any(st == 0 and n > 1 for n, st in zip(x.shape, x.strides, strict=True)):
        raise ValueError(
            f"{name}: expected an array whose elements are distinct in memory, got strides "
            f"{x.strides} for shape {x.shape} (an axis of stride 0 repeats one element); "
            f"pass a copy, e.g. {name}.copy()"
        )


def check_positive(value: float, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as float after checking it is finite and > 0 (or >= 0).

    Strings are refused even when ``float()`` would parse them: the caller would otherwise go
    on computing with the string itself.
    """
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name}: expected a real number, got {_describe(value)}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a real number, got {_describe(value)}") from None
    ok = v >= 0 if allow_zero else v > 0
    if not np.isfinite(v) or not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: expected a finite number {bound}, got {value!r}")
    return v


def _seed_int(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0


def check_seed(seed: object, name: str = "seed") -> None:
    """Raise unless ``seed`` is what ``np.random.default_rng`` takes: None, a non-negative int
    or a sequence of them, a SeedSequence, a BitGenerator or a Generator."""
    rng_types = (np.random.SeedSequence, np.random.BitGenerator, np.random.Generator)
    ok = (
        seed is None
        or _seed_int(seed)
        or isinstance(seed, rng_types)
        or (isinstance(seed, (list, tuple)) and len(seed) > 0 and all(map(_seed_int, seed)))
    )
    if not ok:
        raise TypeError(f"{name}: expected None or a non-negative int, got {_describe(seed)}")


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def check_allocation(nbytes: int, name: str, what: str) -> None:
    """Raise ValueError, before allocating, when ``what`` needs more bytes than the machine's
    physical memory (NumPy would raise a MemoryError that names no argument, or swap)."""
    total = _physical_memory()
    if total is not None and nbytes > total:
        raise ValueError(
            f"{name}: {what} would need {nbytes / 2**30:.3g} GiB, more than this machine's "
            f"{total / 2**30:.3g} GiB of memory"
        )


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
    if k == 0:
        raise ValueError(f"y: expected at least one class, got scores of shape {y_shape}")
    if n == 0:
        # A loss or an accuracy over no samples is 0/0: refused rather than returned as NaN.
        raise ValueError(
            f"{name}: expected targets for at least one sample, got scores of shape {y_shape}"
        )
    arr = as_array(t, name)
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
    # The range is checked before the cast: a uint64 label >= 2**63 would wrap to a negative.
    flat = arr.reshape(-1)
    bad = np.flatnonzero((flat < 0) | (flat >= k))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{name}: expected labels in [0, {k}), got {int(flat[i])} at index {i} "
            f"({bad.size} out of range)"
        )
    return flat.astype(np.int64), True


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temp file and ``os.replace``: never a half file."""
    return atomic_write(path, lambda f: f.write(data))


