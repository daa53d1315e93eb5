"""Files that never hold a pickle: .npz archives of plain numeric arrays, and strict JSON.

Writers refuse what would need a pickle (object arrays) before anything is written; readers
open with ``allow_pickle=False`` and turn every failure (not a zip, truncated, a single .npy
where an archive is expected, a pickled array) into one ValueError that names the file.
JSON is written with ``allow_nan=False``: a non-finite float is stored as the object
``{"nonfinite": "nan" | "inf" | "-inf"}`` and decoded back on load, so every file is valid
JSON that any reader accepts, and the numbers survive the round trip.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from ._validate import _describe, as_array

__all__ = [
    "plain_arrays",
    "param_arrays",
    "load_npz",
    "dumps_json",
    "loads_json",
    "load_json_record",
]


def plain_arrays(arrays: Mapping[str, object], name: str) -> dict[str, np.ndarray]:
    """``arrays`` as ndarrays of a numeric, boolean or unicode dtype, checked before anything
    is written.

    Object, bytes and structured arrays are refused: ``np.savez`` would pickle the first and a
    reader would need ``allow_pickle=True`` to open the file.
    """
    out = {}
    for key, v in arrays.items():
        arr = as_array(v, f"{name}[{key!r}]")
        if arr.dtype.kind not in "biufcU" or arr.dtype.fields is not None:
            raise TypeError(
                f"{name}[{key!r}]: expected a numeric array (saved without pickle), "
                f"got {_describe(arr)}"
            )
        out[key] = arr
    return out


def param_arrays(
    params: Mapping[str, object], to_numpy: Callable[[object], object] = lambda v: v
) -> dict[str, np.ndarray]:
    """A network's W1, b1, W2, b2 as plain float arrays of consistent shapes ((I, H), (H,),
    (H, O), (O,)), checked before a file is written: what ``TwoLayerNet`` can load back.
    ``to_numpy`` converts an engine's tensors first."""
    from .networks import PARAM_NAMES as names  # at call time: networks imports this module

    if not isinstance(params, Mapping):
        raise TypeError(f"params: expected a dict of arrays {list(names)}, got {_describe(params)}")
    missing = [k for k in names if k not in params]
    if missing:
        raise ValueError(f"params: expected keys {list(names)}, missing {missing}")
    arrays = plain_arrays({k: to_numpy(params[k]) for k in names}, "params")
    for k, a in arrays.items():
        if a.dtype.kind != "f":
            raise TypeError(f"params[{k!r}]: expected a floating-point array, got {_describe(a)}")
    w1, w2 = arrays["W1"], arrays["W2"]
    if w1.ndim != 2 or w2.ndim != 2:
        raise ValueError(f"params: expected 2-D W1 and W2, got shapes {w1.shape} and {w2.shape}")
    h, o = w1.shape[1], w2.shape[1]
    want = {"b1": (h,), "W2": (h, o), "b2": (o,)}
    for k, shape in want.items():
        if arrays[k].shape != shape:
            raise ValueError(
                f"params[{k!r}]: expected shape {shape} (from W1 {w1.shape} and W2 {w2.shape}), "
                f"got {arrays[k].shape}"
            )
    return arrays


def load_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Every array of the .npz archive at ``path``, read with ``allow_pickle=False``."""
    where = os.fspath(path)
    try:
        z = np.load(where, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{where}: expected an .npz archive of plain arrays, {_why(e)}") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise ValueError(f"{where}: expected an .npz archive, got a single .npy array")
    try:
        return {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as e:
        raise ValueError(f"{where}: expected an .npz archive of plain arrays, {_why(e)}") from None
    finally:
        z.close()


def _why(e: BaseException) -> str:
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    if "pickle" in msg:
        return "got data that only pickle could read (refused: allow_pickle=False)"
    return f"could not read it ({type(e).__name__}: {msg})"


def _encode(o: object) -> object:
    if isinstance(o, float) and not math.isfinite(o):
        return {"nonfinite": "nan" if math.isnan(o) else ("inf" if o > 0 else "-inf")}
    if isinstance(o, dict):
        return {k: _encode(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_encode(v) for v in o]
    if isinstance(o, np.ndarray):
        return _encode(o.tolist())
    if isinstance(o, np.generic):
        return _encode(o.item())
    return o


def _decode(d: dict[str, object]) -> object:
    if len(d) == 1 and d.get("nonfinite") in ("nan", "inf", "-inf"):
        return float(d["nonfinite"])
    return d


def dumps_json(obj: object) -> bytes:
    """``obj`` as strict JSON (no NaN/Infinity tokens: non-finite floats are encoded)."""
    return json.dumps(_encode(obj), indent=1, allow_nan=False).encode()


def loads_json(text: str | bytes) -> object:
    """Parse JSON written by ``dumps_json``, decoding its non-finite floats."""
    return json.loads(text, object_hook=_decode)


def load_json_record(path: str | os.PathLike[str], fields: Iterable[str]) -> dict[str, object]:
    """The JSON object at ``path``, refused (naming the file) unless its keys are among
    ``fields``."""
    where = os.fspath(path)
    with open(where, "rb") as f:
        raw = f.read()
    try:
        data = loads_json(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{where}: expected a JSON object, could not parse it: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(data).__name__}")
    allowed = list(fields)
    extra = sorted(set(data) - set(allowed))
    if extra:
        raise ValueError(f"{where}: expected keys among {allowed}, got unexpected {extra}")
    return data
