"""Strict JSON for reports: how non-finite floats and NumPy values are written and read back.

JSON has no NaN or Infinity.  Every float that is NaN or +/-Inf is written as one of the
strings ``"nan"``, ``"inf"`` or ``"-inf"`` (never ``null``, which would lose which one it was),
and :func:`decode_float` turns them back.  :func:`dumps` refuses a raw non-finite float
(``allow_nan=False``), so nothing this module writes can hold a ``NaN``/``Infinity`` token.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np

__all__ = ["NONFINITE_STRINGS", "decode_float", "dumps", "encode_float", "jsonable"]

#: How NaN, +Inf and -Inf are written.
NONFINITE_STRINGS = ("nan", "inf", "-inf")


def encode_float(x: float) -> float | str:
    """A float for JSON: itself when finite, else ``"nan"``, ``"inf"`` or ``"-inf"``."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def decode_float(x: float | int | str) -> float:
    """Inverse of :func:`encode_float`."""
    if isinstance(x, str):
        if x not in NONFINITE_STRINGS:
            raise ValueError(f"expected a number or one of {NONFINITE_STRINGS}, got {x!r}")
        return float(x)
    return float(x)


def jsonable(value: Any, path: str) -> Any:
    """Copy ``value`` into JSON types: NumPy scalars/arrays, tuples and paths are converted,
    non-finite floats become strings, anything else raises TypeError naming where it was."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return encode_float(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist(), path)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{path}: keys must be str, got {type(k).__name__} {k!r}")
            out[k] = jsonable(v, f"{path}[{k!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [jsonable(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"{path}: expected JSON-serialisable data, got {type(value).__name__}")


def dumps(value: Any, path: str = "value", *, indent: int | None = 2) -> str:
    """Strict JSON text of ``value`` (converted by :func:`jsonable`), ending in a newline."""
    return json.dumps(jsonable(value, path), indent=indent, allow_nan=False,
                      ensure_ascii=False) + "\n"
