"""Argument checks on tensors, the twins of ``reference_numpy._validate``.

Each check raises an error that names the argument, what was expected and what came.  None of
them mutates its input, and none copies a tensor to another device or dtype behind the caller's
back: a tensor on the wrong device or of the wrong dtype is an error that says how to convert it.
Framework-neutral checks (``check_positive``, ``check_choice``, the atomic writers) are
re-exported from ``reference_numpy._validate``.

Only the top-level functions of ``functions.py`` take array-likes, for convenience
(``as_float_tensor`` turns them into CPU tensors, promoting ints to float64 as NumPy does);
network and optimizer methods take tensors only (``check_tensor``).
"""

from __future__ import annotations

import numpy as np
import torch

from reference_numpy._validate import (
    _describe as _describe_numpy,
)
from reference_numpy._validate import (
    as_array,
    as_float_array,
    atomic_write,
    atomic_write_bytes,
    check_choice,
    check_positive,
)

__all__ = [
    "as_float_tensor",
    "as_tensor_like",
    "check_tensor",
    "check_finite",
    "check_inplace_ok",
    "check_positive",
    "check_choice",
    "check_targets",
    "same_device",
    "atomic_write_bytes",
    "atomic_write",
]


def _describe(x: object) -> str:
    if isinstance(x, torch.Tensor):
        return f"tensor of shape {tuple(x.shape)} and dtype {x.dtype} on {x.device}"
    return _describe_numpy(x)


def _from_numpy(arr: np.ndarray) -> torch.Tensor:
    """A CPU tensor on ``arr``'s memory where possible; a copy when it is read-only or strided
    backwards (torch cannot wrap those)."""
    if not arr.flags.writeable or not arr.flags.c_contiguous:
        arr = np.array(arr, copy=True, order="C")
    return torch.from_numpy(arr)


def same_device(a: torch.device, b: torch.device) -> bool:
    """True when a and b name one device ("cuda" and "cuda:0" are the same on a 1-GPU process)."""
    if a.type != b.type:
        return False
    if a.index is None or b.index is None:
        current = torch.cuda.current_device() if a.type == "cuda" else 0
        return (a.index if a.index is not None else current) == (
            b.index if b.index is not None else current
        )
    return a.index == b.index


def as_float_tensor(x: object, name: str, *, allow_int: bool = True) -> torch.Tensor:
    """Return ``x`` as a floating tensor (no copy when it already is one).

    Tensors keep their device.  Integer and boolean tensors are promoted to float64 (as NumPy
    promotes them) unless ``allow_int`` is False, in which case they are refused: in-place
    finite differences on an int tensor silently truncate.  Anything else (lists, NumPy arrays,
    scalars) goes through ``reference_numpy._validate.as_float_array`` and becomes a CPU tensor
    of the same dtype (float64 for Python numbers).
    """
    if isinstance(x, torch.Tensor):
        if x.is_floating_point():
            return x
        if x.is_complex():
            raise TypeError(f"{name}: expected a real numeric tensor, got {_describe(x)}")
        if not allow_int:
            raise TypeError(
                f"{name}: expected a floating-point tensor (float32 or float64), "
                f"got {_describe(x)}; "
                f"convert it first, e.g. {name}.to(torch.float64)"
            )
        return x.to(torch.float64)
    return _from_numpy(np.asarray(as_float_array(x, name, allow_int=allow_int)))


def as_tensor_like(x: object, like: torch.Tensor, name: str) -> torch.Tensor:
    """``x`` as a tensor on ``like``'s device, for the second argument of a top-level function.

    Array-likes are converted (floats keep float64, ints stay ints: they may be labels); a
    tensor on another device is refused rather than copied.
    """
    if isinstance(x, torch.Tensor):
        if not same_device(x.device, like.device):
            raise TypeError(
                f"{name}: expected a tensor on {like.device} (where the other argument is), "
                f"got one on {x.device}; move it with {name}.to({str(like.device)!r})"
            )
        return x
    arr = as_array(x, name)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected a real numeric array, got {_describe_numpy(x)}")
    return _from_numpy(arr).to(like.device)


def check_tensor(
    x: object,
    name: str,
    *,
    device: torch.device,
    dtype: torch.dtype | None,
    owner: str = "the network's",
) -> torch.Tensor:
    """Return ``x`` if it is a tensor on ``device`` of ``dtype`` (any dtype when None).

    Otherwise raise TypeError naming the argument, the expected device/dtype (``owner``'s) and
    what came, with the conversion to write, e.g.
    ``x: expected dtype torch.float64 (the network's), got torch.float32; convert with
    x.to(torch.float64)``.  Nothing is copied.
    """
    if not isinstance(x, torch.Tensor):
        hint = f"torch.as_tensor({name}, device={str(device)!r}"
        hint += f", dtype={dtype})" if dtype is not None else ")"
        raise TypeError(f"{name}: expected a torch.Tensor, got {_describe(x)}; convert with {hint}")
    if not same_device(x.device, device):
        raise TypeError(
            f"{name}: expected a tensor on device {device} ({owner}), got {x.device}; "
            f"move it with {name}.to({str(device)!r})"
        )
    if dtype is not None and x.dtype != dtype:
        raise TypeError(
            f"{name}: expected dtype {dtype} ({owner}), got {x.dtype}; "
            f"convert with {name}.to({dtype})"
        )
    return x


def check_finite(x: torch.Tensor, name: str) -> None:
    """Raise ValueError naming the first non-finite element of ``x`` (a host sync on CUDA)."""
    if not isinstance(x, torch.Tensor):
        x = as_float_tensor(x, name)
    if not (x.is_floating_point() or x.is_complex()):
        return
    # A finite sum proves every element finite (one reduction, no boolean temporary); only a
    # non-finite sum (or an overflow, e.g. in float16) needs the element test.
    if x.numel() and bool(torch.isfinite(x.sum())):
        return
    if not bool(torch.isfinite(x).all()):
        bad = torch.nonzero(~torch.isfinite(x))[0]
        where = tuple(int(i) for i in bad)
        raise ValueError(
            f"{name}: expected finite values, got {x[where].item() if where else x.item()} "
            f"at index {where if where else '()'}"
        )


def check_inplace_ok(x: torch.Tensor, name: str) -> None:
    """Raise ValueError when ``x`` cannot be written in place element by element: an inference
    tensor (read-only outside ``torch.inference_mode``) or one whose elements share memory
    (``expand`` gives stride 0: writing one element would move the others)."""
    if x.is_inference() and not torch.is_inference_mode_enabled():
        raise ValueError(
            f"{name}: expected a tensor that can be changed in place, got an inference tensor "
            f"(read-only outside torch.inference_mode); pass {name}.clone()"
        )
    overlap = torch._debug_has_internal_overlap(x) == 1  # 1: MemOverlap::Yes
    if overlap or any(st == 0 and n > 1 for n, st in zip(x.shape, x.stride(), strict=True)):
        raise ValueError(
            f"{name}: expected a tensor whose elements are distinct in memory, got strides "
            f"{tuple(x.stride())} for shape {tuple(x.shape)} (an expanded or overlapping "
            f"view); pass {name}.clone()"
        )


def check_targets(
    y_shape: tuple[int, ...],
    t: object,
    name: str = "t",
    *,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> tuple[torch.Tensor, bool]:
    """Validate targets against scores of shape ``y_shape`` (1-D ``(K,)`` or batch ``(N, K)``).

    Returns ``(t, is_labels)``, as ``reference_numpy._validate.check_targets`` does:

    * distributions (one-hot or soft) of exactly ``y_shape``, finite; when ``dtype`` is given a
      float tensor must have it (no silent conversion), int/bool one-hot becomes ``dtype``;
    * label indices: a scalar or shape ``(1,)`` for 1-D scores, ``(N,)`` or ``(N, 1)`` for a
      batch, returned as an int64 tensor of shape ``(N,)`` (``(1,)`` for 1-D scores).

    With ``device`` given, ``t`` must be a tensor there (as network methods require); without
    it, array-likes become CPU tensors.
    """
    y_shape = tuple(int(s) for s in y_shape)
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
    if device is not None:
        arr = check_tensor(t, name, device=device, dtype=None)
    elif isinstance(t, torch.Tensor):
        arr = t
    else:
        arr = _from_numpy(as_array(t, name))
    shape = tuple(arr.shape)
    float_dtype = dtype if dtype is not None else torch.float64
    if arr.is_floating_point() and shape == y_shape:
        if dtype is not None and arr.dtype != dtype:
            raise TypeError(
                f"{name}: expected dtype {dtype} (the network's), got {arr.dtype}; "
                f"convert with {name}.to({dtype})"
            )
        check_finite(arr, name)
        return arr, False
    if arr.is_floating_point():
        if bool(torch.all(torch.remainder(arr, 1) == 0)) and arr.numel() == n and arr.ndim <= 2:
            arr = arr.to(torch.int64)
        else:
            raise ValueError(
                f"{name}: expected one-hot targets of shape {y_shape} or {n} integer labels, "
                f"got {_describe(arr)}"
            )
    if arr.dtype == torch.bool:
        if shape == y_shape:
            return arr.to(float_dtype), False
        raise TypeError(f"{name}: expected integer labels or float targets, got {_describe(arr)}")
    if arr.is_complex():
        raise TypeError(f"{name}: expected integer labels or float targets, got {_describe(arr)}")
    if shape == y_shape and k != 1:
        # An int tensor the shape of y is a one-hot matrix, not a label list.
        return arr.to(float_dtype), False
    valid_label_shapes = {(n,), (n, 1)} | ({()} if len(y_shape) == 1 else set())
    if shape not in valid_label_shapes:
        expected = " or ".join(str(s) for s in sorted(valid_label_shapes, key=len))
        raise ValueError(
            f"{name}: expected one-hot targets of shape {y_shape} or labels of shape {expected}, "
            f"got shape {shape}"
        )
    if arr.dtype in (torch.uint16, torch.uint32, torch.uint64):
        # torch has no comparisons for these: check the range in NumPy, before a cast to int64
        # could wrap a large uint64 to a negative label.
        flat = arr.reshape(-1).cpu().numpy()
        bad = np.flatnonzero(flat >= k)
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"{name}: expected labels in [0, {k}), got {int(flat[i])} at index {i} "
                f"({bad.size} out of range)"
            )
        return torch.from_numpy(flat.astype(np.int64)).to(arr.device), True
    labels = arr.reshape(-1).to(torch.int64)
    bad_mask = (labels < 0) | (labels >= k)
    if bool(bad_mask.any()):
        bad = torch.nonzero(bad_mask).reshape(-1)
        i = int(bad[0])
        raise ValueError(
            f"{name}: expected labels in [0, {k}), got {int(labels[i])} at index {i} "
            f"({bad.numel()} out of range)"
        )
    return labels, True
