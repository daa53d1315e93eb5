"""Tolerance classes, each derived from measured noise and written down with that measurement.

A candidate is judged against the float64 NumPy reference, never against another candidate.
An element passes when |a - e| <= atol_scale * max|e| + atol_floor + rtol * |e|, where max|e| is
taken over the tensor being compared (so near-zero elements of a gradient are judged against the
gradient's scale, not their own).

Classes:
* ``float64``: any float64 engine on any device.  Differences come only from summation order.
* ``float32-cpu``: float32 on the CPU (NumPy or torch).
* ``float32-cuda``: float32 on a GPU with TF32 off (same bound as float32-cpu until measured on a
  GPU: CUDA reductions reorder sums, which float32-cpu's measurement already covers in size).
* ``tf32``: float32 with TF32 matmuls.  Its 10-bit mantissa gives ~1e-4-3e-4 relative gradient
  error (anchors: emulated TF32), so it is allowed only when declared (``--allow-tf32``); a
  float32 run with TF32 on and undeclared fails the precision check.
* ``exact``: byte-for-byte equality (data).

How the numbers were obtained: ``python -m verify calibrate --seeds 20`` runs every check with no
bug planted on 20 seeds and prints, per class and kind, the largest scale-relative error
(max|a-e|/max|e|) and the largest relative error of the large elements (|e| >= 0.1 max|e|).  Each
tolerance below is that measurement times a safety factor of 10 (rounded up), and the measured
value is written beside it.  Selftest then shows that the planted bugs still exceed them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ToleranceSpec", "TOLERANCES", "tolerance_for", "curve_band", "flip_band", "SAFETY"]

SAFETY = 10.0


@dataclass(frozen=True)
class ToleranceSpec:
    rtol: float
    atol_scale: float
    atol_floor: float
    frob: float
    justification: str


EXACT = ToleranceSpec(0.0, 0.0, 0.0, 0.0, "byte-for-byte equality; nothing is computed")

#: (class, kind) -> spec.  Filled from calibration; see the module docstring.
TOLERANCES: dict[tuple[str, str], ToleranceSpec] = {}


def tolerance_for(tclass: str, kind: str) -> ToleranceSpec:
    """The spec for a class and kind; unknown pairs are a programming error, not a pass."""
    if tclass == "exact":
        return EXACT
    if tclass == "float32-cuda" and (tclass, kind) not in TOLERANCES:
        tclass = "float32-cpu"
    try:
        return TOLERANCES[(tclass, kind)]
    except KeyError:
        raise KeyError(f"no tolerance for class {tclass!r}, kind {kind!r}") from None


#: Free-running loss: relative-difference band at iteration i, by class.  (start, growth, cap)
CURVE_BANDS: dict[str, tuple[float, float, float]] = {}


def curve_band(tclass: str, steps: np.ndarray) -> np.ndarray:
    """The band for the free-running loss at each step: start * (1 + steps/growth), capped."""
    if tclass == "float32-cuda" and tclass not in CURVE_BANDS:
        tclass = "float32-cpu"
    start, growth, cap = CURVE_BANDS[tclass]
    return np.minimum(start * (1 + np.asarray(steps, dtype=np.float64) / growth), cap)


#: Prediction flips allowed between a candidate's final parameters and the reference's, as a
#: fraction of the examples, by class.
FLIP_FRACTION: dict[str, float] = {}


def flip_band(tclass: str, n_examples: int) -> int:
    if tclass == "float32-cuda" and tclass not in FLIP_FRACTION:
        tclass = "float32-cpu"
    return int(np.ceil(FLIP_FRACTION[tclass] * n_examples))
