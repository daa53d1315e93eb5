"""How the data group's observations are made: arrays compared exactly, a wrong shape or dtype
as a failing case that says what differs, and facts (counts, yes/no) as exact numbers."""

from __future__ import annotations

import numpy as np

from ..observe import Observation

GROUP = "data"


def exact(name: str, candidate: str, label: str, ours: np.ndarray, theirs: np.ndarray
          ) -> Observation:
    """``theirs`` (the candidate) against ``ours`` (the definition), exactly; on a mismatch the
    first differing row in full, so the message shows where and how they differ."""
    ours = np.asarray(ours).reshape(len(ours), -1)
    theirs = np.asarray(theirs).reshape(len(theirs), -1)
    if ours.shape != theirs.shape:
        a, e = theirs[:1].astype(np.float64), ours[:1].astype(np.float64)
        label = f"{label} (shape {theirs.shape}, expected {ours.shape})"
    else:
        # Compare in the arrays' own type (47M pixels: no float64 copies of the whole set).
        rows = np.flatnonzero(np.any(ours != theirs, axis=1))
        r = int(rows[0]) if rows.size else 0
        a = theirs[r : r + 1].astype(np.float64)
        e = ours[r : r + 1].astype(np.float64)
        differ = f"; {rows.size} rows differ" if rows.size else ""
        label = f"{label} (row {r}{differ})"
    return Observation(name, GROUP, candidate, "exact", "data", label, a, e)


def failed(name: str, candidate: str, label: str) -> Observation:
    """A case that fails whatever the tolerance: ``label`` says what was wrong (a NaN against
    a number fails the exact rule)."""
    return Observation(name, GROUP, candidate, "exact", "data", label, np.array([np.nan]),
                       np.array([0.0]))


def facts(name: str, candidate: str, label: str, got: dict[str, float],
          want: dict[str, float]) -> Observation:
    """Named facts (counts, 1/0 for yes/no) against what they should be; the label lists the
    names in order, so a failing index says which fact was wrong."""
    keys = list(want)
    return Observation(name, GROUP, candidate, "exact", "data",
                       f"{label} [{', '.join(keys)}]",
                       np.array([float(got.get(k, np.nan)) for k in keys]),
                       np.array([float(want[k]) for k in keys]))


def bits(name: str, candidate: str, label: str, want: np.ndarray, got: object
         ) -> Observation:
    """``got`` equals ``want`` bit for bit, with the same dtype and shape (NaN payloads and the
    sign of zero included: the bytes are compared, not the values)."""
    if not isinstance(got, np.ndarray):
        return failed(name, candidate, f"{label}: got {type(got).__name__}, expected ndarray")
    if got.dtype != want.dtype or got.shape != want.shape:
        return failed(name, candidate, f"{label}: {got.dtype} {got.shape}, expected "
                                       f"{want.dtype} {want.shape}")
    # One row per element of the first axis, its bytes as the columns.
    as_bytes = [np.ascontiguousarray(x).reshape(len(x), -1).view(np.uint8) for x in (want, got)]
    return exact(name, candidate, label, *as_bytes)
