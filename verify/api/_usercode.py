"""Calling a user's code for the chapter-level checks: quoting what happened, reading results.

Shared by differentiation, dropout, accuracy and module: a user's failure is always turned into
text for a failed verdict here, never raised.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ._common import _describe, _is_tensor

__all__ = ["UserFailure", "call", "quote", "as_result_array", "matches", "notes_of"]


class UserFailure(Exception):
    """The user's code failed in a way that is a verdict; ``str()`` is the quoted reason."""


def quote(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first[:300]}" if first else type(exc).__name__


def call(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``; any exception becomes :class:`UserFailure` quoting it."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    except UserFailure:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's code failing is a verdict
        raise UserFailure(f"{what} raised {quote(exc)}") from None


def as_result_array(value: object, what: str) -> np.ndarray:
    """A user's returned value as a NumPy array in its own dtype; non-numbers are failures."""
    if _is_tensor(value):
        t = value.detach().cpu()
        arr = t.numpy().copy() if str(t.dtype) != "torch.bfloat16" else t.float().numpy()
    else:
        try:
            arr = np.array(value)
        except (TypeError, ValueError) as exc:
            raise UserFailure(f"{what} returned {_describe(value)}, not numbers ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise UserFailure(f"{what} returned {_describe(value)}, not an array of numbers")
    return arr


def matches(a: np.ndarray, e: np.ndarray, rel: float = 1e-12) -> bool:
    """Whether ``a`` reproduces a known variant ``e``: same shape, within ``rel`` of max|e|.

    Used only to *name* a cause, never to pass a check; the variants the checks name differ
    from each other and from the reference by far more (>= 1e-9 relative on their cases)."""
    a = np.asarray(a, dtype=np.float64)
    e = np.asarray(e, dtype=np.float64)
    if a.shape != e.shape or not (np.isfinite(a).all() and np.isfinite(e).all()):
        return False
    scale = float(np.max(np.abs(e))) if e.size else 0.0
    return bool(np.all(np.abs(a - e) <= rel * max(scale, 1e-300)))


def notes_of(result: Any) -> list[str]:
    """The named conventions/variants a check recorded (``details["notes"]``)."""
    return list(result.details.get("notes", []))
