"""The IDX format both engines read MNIST through: ``encode_idx`` and ``parse_idx`` must be
inverse bit for bit for every IDX type, agree with the format's definition on a hand-written
file, and ``encode_idx`` must refuse a type IDX has no code for, naming the types it has.

(The torch engine reads the files with torchvision's own IDX reader, which the torchvision
check holds to this parser.)"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np

from ..observe import Observation
from .context import Context
from .data_exact import bits, exact, facts, failed

CHECK = "IDX encode/parse round trip"
CANDIDATE = "reference_numpy.idx"
SHAPES = ((7,), (2, 3, 5))
# Types IDX has no code for (so encode_idx must refuse them), each a plausible mistake: MNIST
# pixels widened to uint16, a mask, a default NumPy integer, a half-precision image.
REFUSED = ("uint16", "bool", "int64", "float16")
# The IDX format written out by hand: int16 (code 0x0B), 2 dimensions of 2, then the values
# 1, -2, 3, 300 as big-endian shorts.
SPEC_ARRAY = np.array([[1, -2], [3, 300]], dtype=np.int16)
SPEC_BYTES = bytes.fromhex("00000B02 00000002 00000002 0001 FFFE 0003 012C")


def _specials(dtype: np.dtype) -> np.ndarray:
    """Floats whose bits a value comparison would not see: a quiet and a signalling NaN with
    payloads, -0.0, the infinities, the smallest subnormal."""
    info = np.finfo(dtype)
    uint = np.dtype(f"u{dtype.itemsize}")
    exponent = (1 << info.nexp) - 1
    mant = info.nmant
    nans = np.array([(exponent << mant) | (1 << (mant - 1)) | 5, (exponent << mant) | 1],
                    dtype=uint).view(dtype)
    return np.concatenate([nans, np.array([-0.0, np.inf, -np.inf, info.smallest_subnormal],
                                          dtype=dtype)])


def _inputs(ctx: Context, salt: int, native: np.dtype) -> Iterator[tuple[str, np.ndarray]]:
    """Arrays of random bit patterns (every value an IDX file can hold), in native byte order
    and, for multi-byte types, big-endian (the order IDX stores: encode must not swap twice)."""
    rng = ctx.rng(salt)
    for shape in SHAPES:
        n = int(np.prod(shape))
        arr = rng.integers(0, 256, size=n * native.itemsize, dtype=np.uint8).view(native)
        if native.kind == "f" and len(shape) == 1:
            arr[:6] = _specials(native)
        arr = arr.reshape(shape)
        yield f"{native} {shape}", arr
        if native.itemsize > 1:
            yield f"{native} {shape}, big-endian input", arr.astype(native.newbyteorder(">"))


def observe(ctx: Context) -> list[Observation]:
    from reference_numpy.idx import IDX_DTYPES, encode_idx, parse_idx

    obs: list[Observation] = []
    for salt, (dt, _) in enumerate(IDX_DTYPES.values(), start=900):
        native = np.dtype(dt).newbyteorder("=")
        for label, arr in _inputs(ctx, salt, native):
            want = arr.astype(native)  # the values in native order, which parse_idx returns
            try:
                got = parse_idx(encode_idx(arr), "<encoded>")
            except Exception as e:  # a crash is this check failing, with the reason shown
                obs.append(failed(CHECK, CANDIDATE, f"{label}: raised {type(e).__name__}: {e}"))
                continue
            obs.append(bits(CHECK, CANDIDATE, label, want, got))
    obs += _against_the_format(encode_idx, parse_idx)
    obs += _refusals(encode_idx, IDX_DTYPES)
    return obs


def _against_the_format(encode_idx, parse_idx) -> list[Observation]:
    """Round trips alone would pass an encoder and a parser wrong in the same way."""
    want = np.frombuffer(SPEC_BYTES, dtype=np.uint8)
    out = []
    for label, run, expected in (
        ("encode_idx of int16 [[1, -2], [3, 300]]: the bytes IDX defines",
         lambda: np.frombuffer(encode_idx(SPEC_ARRAY), dtype=np.uint8), want),
        ("parse_idx of the bytes IDX defines: int16 [[1, -2], [3, 300]]",
         lambda: parse_idx(SPEC_BYTES, "<hand-written IDX>"), SPEC_ARRAY)):
        try:
            got = run()
        except Exception as e:
            out.append(failed(CHECK, CANDIDATE, f"{label}: raised {type(e).__name__}: {e}"))
            continue
        out.append(exact(CHECK, CANDIDATE, label, expected, got) if label.startswith("encode")
                   else bits(CHECK, CANDIDATE, label, expected, got))
    return out


def _refusals(encode_idx, idx_dtypes: dict[int, tuple[str, str]]) -> list[Observation]:
    """A type IDX cannot store is refused with a TypeError that names the types it can."""
    names = [str(np.dtype(dt).newbyteorder("=")) for dt, _ in idx_dtypes.values()]
    want = {"TypeError": 1, "IDX types named": len(names), "given type named": 1}
    out = []
    for dtype in REFUSED:
        try:
            encode_idx(np.zeros(3, dtype=dtype))
        except Exception as e:
            message, raised = str(e), type(e).__name__
        else:
            message, raised = "", "nothing"
        words = set(re.findall(r"[a-z0-9]+", message))
        got = {"TypeError": float(raised == "TypeError"),
               "IDX types named": float(sum(n in words for n in names)),
               "given type named": float(dtype in words)}
        label = f"encode_idx refuses {dtype}"
        if got != want:
            label += f" (raised {raised}: {message!r})"
        out.append(facts(CHECK, CANDIDATE, label, got, want))
    return out
