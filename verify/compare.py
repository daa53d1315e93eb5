"""Compare two results element by element under a named, justified tolerance.

This module is framework independent: it never imports torch.  A torch tensor (or anything
else with ``.detach().cpu().numpy()``) is converted by duck typing, so the NumPy reference,
the PyTorch reference and plain Python floats can all be compared with one rule.

The rule is the one ``torch.testing.assert_close`` uses, applied elementwise::

    |actual - expected| <= atol + rtol * |expected|

where ``atol`` may grow with the tensor's scale (``atol + atol_scale * max|e|``, so near-zero
elements of a gradient are judged against the gradient's size), with three additions that matter
for parity work:

* NaN and +/-Inf positions must match exactly.  A NaN on one side only, or +Inf against -Inf,
  is a mismatch reported with its index; non-finite values that match are excluded from the
  numeric error (they are equal, but ``inf - inf`` would poison the statistics).
* Shapes must match exactly.  Nothing is broadcast: a ``(N,)`` gradient compared with a
  ``(N, 1)`` one is a bug, not a pass.
* An optional bound on the relative Frobenius error ``||a-e|| / ||e||`` (``Tolerance.frob``):
  rounding noise averages out in it while a systematic error (a gradient scaled by 1 + 1e-4)
  does not, so it catches what every element alone would let through.

:func:`compare_arrays` applies all of it and writes the one message; :func:`bound_ratio` is the
same rule reduced to one number, for hot loops.

Every comparison is made in float64 whatever the input dtypes, so the comparison itself adds no
rounding error.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

__all__ = [
    "Tolerance",
    "Comparison",
    "ParityError",
    "to_numpy",
    "compare_arrays",
    "compare_scalars_series",
    "relative_frobenius",
    "finite_frobenius",
    "scaled_errors",
    "bound_ratio",
    "assert_parity",
    "format_index",
]

#: One worst element: ``(index, actual, expected, abs_err, allowed)``.
WorstEntry = tuple[tuple[int, ...], float, float, float, float]


@dataclass(frozen=True)
class Tolerance:
    """A tolerance class: how close two results must be, and the measurement that says why.

    ``name`` names the class (``"float64"``, ``"float32-cpu/gradient"``, ...); ``justification``
    records the measurement the numbers come from (e.g. "max observed error over 20 seeds was
    3.1e-7; bound set at 30x that").  A tolerance with no justification is a guess, so an empty
    one is refused.  An element passes when ``|a-e| <= atol + atol_scale*max|e| + rtol*|e|``
    (``max|e|`` over the finite elements of the tensor compared), and the whole tensor when also
    ``||a-e||/||e|| <= frob`` (``inf``: no such bound).
    """

    name: str
    rtol: float
    atol: float
    justification: str
    atol_scale: float = 0.0
    frob: float = math.inf

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"name: expected a non-empty tolerance class name, got {self.name!r}")
        for arg in ("rtol", "atol", "atol_scale", "frob"):
            value = getattr(self, arg)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
                raise TypeError(f"{arg}: expected a real number, got {type(value).__name__}")
            if math.isnan(value) or value < 0 or (arg != "frob" and math.isinf(value)):
                bound = "a number >= 0 (inf: no bound)" if arg == "frob" else "a finite number >= 0"
                raise ValueError(f"{arg}: expected {bound}, got {value!r}")
            object.__setattr__(self, arg, float(value))
        if not isinstance(self.justification, str) or not self.justification.strip():
            raise ValueError(
                f"justification: expected the measurement that justifies tolerance class "
                f"{self.name!r}, got {self.justification!r}"
            )

    def at_scale(self, expected: np.ndarray) -> Tolerance:
        """This tolerance with ``atol_scale * max|expected|`` folded into ``atol``: the bound
        that one tensor is judged with (and that the report shows)."""
        if self.atol_scale == 0:
            return self
        finite = expected[np.isfinite(expected)]
        scale = float(np.max(np.abs(finite))) if finite.size else 0.0
        return replace(self, atol=self.atol_scale * scale + self.atol, atol_scale=0.0)

    def allowed(self, expected: np.ndarray | float) -> np.ndarray:
        """The largest permitted ``|actual - expected|`` at each element."""
        e = np.asarray(expected, dtype=np.float64)
        return self.at_scale(e).atol + self.rtol * np.abs(e)

    def describe(self) -> str:
        """``"float32-cpu: rtol=2e-05, atol=1e-07"`` - the form used in every message."""
        return f"{self.name}: rtol={self.rtol:g}, atol={self.atol:g}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Comparison:
    """The outcome of one comparison, with enough detail to locate the divergence.

    ``max_abs_err`` / ``max_rel_err`` are taken over elements where both sides are finite, and
    are ``inf`` when NaN/Inf positions differ (the error there is unbounded).  ``worst_index``
    is the index of the greatest absolute difference (a NaN/Inf mismatch wins), ``worst_rel_index``
    that of the greatest relative difference.  ``worst`` lists the ``k`` elements with the largest
    ratio ``abs_err / allowed`` - the ones closest to (or furthest past) the bound.
    ``first_divergence`` is set by :func:`compare_scalars_series`: the first index over the bound.
    ``frob`` is the relative Frobenius error over the finite elements, measured when the
    tolerance bounds it (``None`` otherwise); over its bound, the comparison fails.
    """

    name: str
    passed: bool
    max_abs_err: float
    max_rel_err: float
    worst_index: tuple[int, ...]
    n_mismatched: int
    n_total: int
    tolerance: Tolerance
    worst: list[WorstEntry] = field(default_factory=list)
    message: str = ""
    first_divergence: int | None = None
    worst_rel_index: tuple[int, ...] = ()
    n_nonfinite_mismatched: int = 0
    frob: float | None = None

    def __bool__(self) -> bool:
        return self.passed

    def to_dict(self) -> dict[str, Any]:
        """Plain Python types only (lists for tuples); floats may be non-finite."""
        return {
            "name": self.name,
            "passed": bool(self.passed),
            "max_abs_err": float(self.max_abs_err),
            "max_rel_err": float(self.max_rel_err),
            "worst_index": list(self.worst_index),
            "worst_rel_index": list(self.worst_rel_index),
            "n_mismatched": int(self.n_mismatched),
            "n_nonfinite_mismatched": int(self.n_nonfinite_mismatched),
            "n_total": int(self.n_total),
            "first_divergence": self.first_divergence,
            "frob": None if self.frob is None else float(self.frob),
            "tolerance": self.tolerance.to_dict(),
            "worst": [
                {
                    "index": list(idx),
                    "actual": float(a),
                    "expected": float(e),
                    "abs_err": float(d),
                    "allowed": float(al),
                }
                for idx, a, e, d, al in self.worst
            ],
            "message": self.message,
        }


class ParityError(AssertionError):
    """Two results disagree beyond their tolerance; ``.comparison`` holds the details."""

    def __init__(self, comparison: Comparison) -> None:
        super().__init__(comparison.message)
        self.comparison = comparison


# --------------------------------------------------------------------------- conversion


def _as_real(x: object, name: str) -> np.ndarray:
    """``x`` as an ndarray of a real dtype (bool, int, float), dtype kept; tensors duck-typed."""
    if hasattr(x, "detach") and callable(x.detach):
        t = x.detach().cpu()
        try:
            x = t.numpy()
        except TypeError:  # e.g. bfloat16 has no NumPy dtype
            x = t.float().numpy()
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected an array-like of real numbers, got {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name}: expected real numbers (bool, int or float), got dtype {arr.dtype} "
            f"(shape {arr.shape})"
        )
    return arr


def to_numpy(x: object, name: str = "value", *, copy: bool = False) -> np.ndarray:
    """Return ``x`` as a float64 ndarray (``copy=True``: never sharing memory with ``x``).

    Torch tensors are recognised by duck typing (``.detach().cpu().numpy()``), so this module
    works without torch installed; a dtype NumPy cannot hold (bfloat16) is widened with
    ``.float()`` first.  Booleans and integers become float64; complex and object input is
    refused because the tolerance rule is defined for reals only.
    """
    return _as_real(x, name).astype(np.float64, copy=copy)


# --------------------------------------------------------------------------- formatting


def format_index(index: tuple[int, ...]) -> str:
    """``(12, 3)``; ``(5,)`` for 1-D; ``()`` for a scalar."""
    if len(index) == 1:
        return f"({index[0]},)"
    return "(" + ", ".join(str(i) for i in index) + ")"


def _fmt_err(x: float) -> str:
    """Errors and bounds: three significant digits in scientific notation; 0 stays ``0``."""
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    return f"{x:.2e}"


def _fmt_pair(a: float, e: float) -> tuple[str, str]:
    """Format two values with just enough significant digits that they read as different."""
    for digits in (4, 6, 8, 10, 12, 14, 17):
        sa, se = f"{a:.{digits}g}", f"{e:.{digits}g}"
        if sa != se or a == e or (math.isnan(a) and math.isnan(e)):
            return sa, se
    return repr(a), repr(e)


def _fmt_pct(n: int, total: int) -> str:
    pct = 100.0 * n / total if total else 0.0
    return f"{pct:.1f}" if pct >= 10 else f"{pct:.2g}"


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()


# --------------------------------------------------------------------------- core

#: Elements per chunk.  Scanning in chunks keeps the float64 temporaries small, so comparing a
#: whole dataset (60000 x 784) costs neither gigabytes of memory nor cache misses.
_CHUNK = 1 << 18


@dataclass
class _Scan:
    """What one pass over two flattened arrays found, accumulated chunk by chunk.

    Indices are flat; -1 means "none".  ``top`` holds ``(ratio, flat)`` candidates for the
    worst-k list, where ``ratio = abs_err / allowed`` (``inf`` for a NaN/Inf mismatch).
    """

    a: np.ndarray
    e: np.ndarray
    tol: Tolerance
    n_bad: int = 0
    n_nf: int = 0
    first_bad: int = -1
    first_nf: int = -1
    abs_flat: int = -1
    max_abs: float = -1.0
    rel_flat: int = -1
    max_rel: float = -1.0
    top: list[tuple[float, int]] = field(default_factory=list)

    def element(self, flat: int) -> tuple[float, float, float, float]:
        """``(actual, expected, abs_err, allowed)`` at one element, by the scan's own rule."""
        a, e = float(self.a[flat]), float(self.e[flat])
        allowed = self.tol.atol + self.tol.rtol * abs(e) if math.isfinite(e) else 0.0
        if math.isfinite(a) and math.isfinite(e):
            return a, e, abs(a - e), allowed
        same = (math.isnan(a) and math.isnan(e)) or a == e
        return a, e, (0.0 if same else math.inf), allowed


def _scan(a: np.ndarray, e: np.ndarray, tol: Tolerance, k: int) -> _Scan:
    """Compare flattened ``a`` and ``e`` (same size) under ``tol``; see :func:`compare_arrays`."""
    scan = _Scan(a.reshape(-1), e.reshape(-1), tol)
    for start in range(0, scan.a.size, _CHUNK):
        stop = min(start + _CHUNK, scan.a.size)
        ac = scan.a[start:stop].astype(np.float64, copy=False)
        ec = scan.e[start:stop].astype(np.float64, copy=False)
        _scan_chunk(scan, ac, ec, start, k)
    return scan


def _first(mask: np.ndarray) -> int:
    return int(np.argmax(mask)) if mask.any() else -1


def _scan_chunk(scan: _Scan, a: np.ndarray, e: np.ndarray, offset: int, k: int) -> None:
    """Fold one chunk into ``scan``: counts, first offenders, maxima, worst-k candidates."""
    tol = scan.tol
    fe = np.isfinite(e)
    finite = np.isfinite(a) & fe
    all_finite = bool(finite.all())
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        diff = np.abs(a - e)
        abs_e = np.abs(e)
        allowed = tol.rtol * abs_e
        allowed += tol.atol
        rel = diff / abs_e  # x/0 -> inf (expected 0, actual not), 0/0 -> nan fixed below
        if not all_finite:
            diff[~finite] = 0.0
            allowed[~fe] = 0.0  # a non-finite expected value must be matched exactly
        rel[diff == 0] = 0.0
        bad = diff > allowed
        ratio = diff / allowed
        ratio[diff == 0] = 0.0
    nf_bad = None
    if not all_finite:
        nf_bad = (
            (np.isnan(a) != np.isnan(e))
            | (np.isposinf(a) != np.isposinf(e))
            | (np.isneginf(a) != np.isneginf(e))
        )
        bad |= nf_bad
        ratio[~finite] = -1.0  # matching NaN/Inf: excluded from the worst list
        ratio[nf_bad] = np.inf
        scan.n_nf += int(np.count_nonzero(nf_bad))
        if scan.first_nf < 0 and nf_bad.any():
            scan.first_nf = offset + _first(nf_bad)
    n_bad = int(np.count_nonzero(bad))
    scan.n_bad += n_bad
    if scan.first_bad < 0 and n_bad:
        scan.first_bad = offset + _first(bad)
    if finite.any():
        _update_max(scan, diff if all_finite else np.where(finite, diff, -1.0), offset, "abs")
        _update_max(scan, rel if all_finite else np.where(finite, rel, -1.0), offset, "rel")
    scan.top.extend(_top_k(ratio, k, offset))


def _update_max(scan: _Scan, values: np.ndarray, offset: int, which: str) -> None:
    i = int(np.argmax(values))  # first occurrence on ties
    v = float(values[i])
    if v > getattr(scan, f"max_{which}"):  # strict: an earlier chunk wins a tie
        setattr(scan, f"max_{which}", v)
        setattr(scan, f"{which}_flat", offset + i)


def _top_k(ratio: np.ndarray, k: int, offset: int) -> list[tuple[float, int]]:
    """The ``k`` largest ratios of a chunk (ties: earliest first) as ``(ratio, flat)``.

    A partition finds the k-th largest value in linear time; a full sort would not scale.
    """
    if k <= 0 or ratio.size == 0:
        return []
    if k == 1:  # bound_ratio's case, in every replayed step: argmax gives the partition's
        i = int(np.argmax(ratio))  # answer (the earliest maximum) by reading, not reordering
        return [(float(ratio[i]), offset + i)] if ratio[i] >= 0 else []
    if ratio.size > k:
        threshold = np.partition(ratio, ratio.size - k)[ratio.size - k]
        above = np.flatnonzero(ratio > threshold)
        ties = np.flatnonzero(ratio == threshold)[: k - above.size]
        pick = np.concatenate([above, ties])
    else:
        pick = np.arange(ratio.size)
    return [(float(ratio[p]), offset + int(p)) for p in pick if ratio[p] >= 0]


def _worst(scan: _Scan, shape: tuple[int, ...], k: int) -> list[WorstEntry]:
    best = sorted(scan.top, key=lambda rf: (-rf[0], rf[1]))[:k]
    return [(_unravel(flat, shape), *scan.element(flat)) for _, flat in best]


def _shape_mismatch(
    name: str, a: np.ndarray, e: np.ndarray, tol: Tolerance, extra: str = ""
) -> Comparison:
    msg = (
        f"Shape mismatch in {name!r} (tolerance class {tol.name}: rtol={tol.rtol:g}, "
        f"atol={tol.atol:g}):\n  actual has shape {a.shape} but expected has shape {e.shape} "
        f"(shapes must match exactly; nothing is broadcast){extra}"
    )
    return Comparison(
        name=name,
        passed=False,
        max_abs_err=math.inf,
        max_rel_err=math.inf,
        worst_index=(),
        n_mismatched=max(a.size, e.size),
        n_total=max(a.size, e.size),
        tolerance=tol,
        message=msg,
    )


def _check_args(name: object, tol: object, k: int) -> None:
    if not isinstance(name, str):
        raise TypeError(f"name: expected a str, got {type(name).__name__}")
    if not isinstance(tol, Tolerance):
        raise TypeError(f"tol: expected a Tolerance, got {type(tol).__name__}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k: expected an int >= 0, got {k!r}")


def _build(
    name: str,
    scan: _Scan,
    shape: tuple[int, ...],
    k: int,
    first_divergence: int | None = None,
) -> Comparison:
    has_finite = scan.abs_flat >= 0
    worst_index = _unravel(scan.abs_flat, shape) if has_finite else ()
    worst_rel_index = _unravel(scan.rel_flat, shape) if has_finite else ()
    if scan.n_nf:
        worst_index = worst_rel_index = _unravel(scan.first_nf, shape)
    comp = Comparison(
        name=name,
        passed=scan.n_bad == 0,
        max_abs_err=math.inf if scan.n_nf else max(scan.max_abs, 0.0),
        max_rel_err=math.inf if scan.n_nf else max(scan.max_rel, 0.0),
        worst_index=worst_index,
        n_mismatched=scan.n_bad,
        n_total=int(scan.a.size),
        tolerance=scan.tol,
        worst=_worst(scan, shape, k),
        first_divergence=first_divergence,
        worst_rel_index=worst_rel_index,
        n_nonfinite_mismatched=scan.n_nf,
    )
    elementwise = comp.passed
    if math.isfinite(scan.tol.frob):
        comp.frob = finite_frobenius(scan.a, scan.e)
        comp.passed = elementwise and not comp.frob > scan.tol.frob
    comp.message = _message(comp, scan, shape, elementwise)
    return comp


def _message(c: Comparison, scan: _Scan, shape: tuple[int, ...], elementwise: bool) -> str:
    """The failure (or success) message: the Frobenius bound's verdict when it failed, then the
    elementwise one (modeled on torch.testing.assert_close, plus worst-k)."""
    tol = c.tolerance
    if c.frob is not None and c.frob > tol.frob:
        head = (f"Mismatch in {c.name!r} ({tol.name}): relative Frobenius error ||a-e||/||e|| "
                f"= {c.frob:.3g} exceeds {tol.frob:.3g}")
        if elementwise:
            return head + (" (elementwise every value is within its bound: a small systematic "
                           "error, such as a tensor scaled by a constant)")
        return head + "\n" + _element_message(c, scan, shape, elementwise)
    return _element_message(c, scan, shape, elementwise)


def _element_message(c: Comparison, scan: _Scan, shape: tuple[int, ...], passed: bool) -> str:
    tol = c.tolerance
    head = f"tolerance class {tol.name}: rtol={tol.rtol:g}, atol={tol.atol:g}"
    if c.n_total == 0:
        return f"{c.name!r} matches ({head}): both are empty, shape {shape}"
    lines: list[str] = []
    if passed:
        lines.append(f"{c.name!r} matches ({head}): all {c.n_total} element(s) within bound")
    else:
        lines.append(f"Mismatch in {c.name!r} ({head}):")
        lines.append(
            f"  {c.n_mismatched} / {c.n_total} elements ({_fmt_pct(c.n_mismatched, c.n_total)}%) "
            f"exceed |a-e| <= atol + rtol*|e|"
        )
    if c.n_nonfinite_mismatched:
        a, e, _, _ = scan.element(scan.first_nf)
        lines.append(
            f"  {c.n_nonfinite_mismatched} element(s) where NaN/Inf positions differ, first at "
            f"index {format_index(_unravel(scan.first_nf, shape))}: actual {a:.8g} "
            f"vs expected {e:.8g}"
        )
    if scan.abs_flat >= 0:
        _, _, d, allowed = scan.element(scan.abs_flat)
        scope = " among finite elements" if c.n_nonfinite_mismatched else ""
        rel_note = " (expected is 0 there)" if math.isinf(scan.max_rel) else ""
        lines.append(
            f"  greatest absolute difference{scope}: {_fmt_err(d)} at index "
            f"{format_index(_unravel(scan.abs_flat, shape))} (allowed {_fmt_err(allowed)})"
        )
        lines.append(
            f"  greatest relative difference{scope}: {_fmt_err(scan.max_rel)} at index "
            f"{format_index(_unravel(scan.rel_flat, shape))}{rel_note}"
        )
    if c.first_divergence is not None:
        a, e, d, allowed = scan.element(c.first_divergence)
        sa, se = _fmt_pair(a, e)
        lines.append(
            f"  first divergence at step {c.first_divergence}: {sa} vs {se}, "
            f"{_fmt_err(d)} / {_fmt_err(allowed)}"
        )
    over = [w for w in c.worst if not w[3] <= w[4]]  # only the offenders, worst first
    if over and not passed:
        of = f" of {c.n_mismatched}" if c.n_mismatched > len(over) else ""
        lines.append(f"  worst {len(over)}{of} (index: actual vs expected, |diff| / allowed):")
        for idx, a, e, d, allowed in over:
            sa, se = _fmt_pair(a, e)
            lines.append(
                f"    {format_index(idx)}: {sa} vs {se}, {_fmt_err(d)} / {_fmt_err(allowed)}"
            )
    return "\n".join(lines)


def compare_arrays(
    name: str, actual: object, expected: object, tol: Tolerance, *, k: int = 5
) -> Comparison:
    """Compare ``actual`` with ``expected`` elementwise under ``tol``.

    Shapes must be identical (a mismatch gives a failing Comparison, nothing is broadcast).
    NaN/+Inf/-Inf must occur at the same positions; elsewhere ``|a-e| <= atol + rtol*|e|``.
    The relative error is ``|a-e| / |e|`` where ``|e| > 0``; where ``e == 0`` it is ``0`` if
    ``a == 0`` and ``inf`` otherwise (no floor is added, so a tiny ``e`` shows a large relative
    error honestly; the pass/fail rule uses ``atol`` for that case).  0-d arrays and Python
    floats are accepted; ``worst_index`` is then ``()``.  Arithmetic is float64 whatever the
    input dtypes, done in chunks so that whole-dataset arrays stay cheap.
    """
    _check_args(name, tol, k)
    a, e = _as_real(actual, "actual"), _as_real(expected, "expected")
    tol = _at_scale(tol, e)
    if a.shape != e.shape:
        return _shape_mismatch(name, a, e, tol)
    return _build(name, _scan(a, e, tol, k), a.shape, k)


def _at_scale(tol: Tolerance, e: np.ndarray) -> Tolerance:
    return tol.at_scale(e.astype(np.float64, copy=False)) if tol.atol_scale else tol


def bound_ratio(actual: object, expected: object, tol: Tolerance) -> float:
    """How far ``actual`` is from failing under ``tol``, as one number: the greatest
    ``|a-e| / allowed`` (``inf`` where NaN/Inf placement or the shape differs) or
    ``||a-e||/||e|| / tol.frob``, whichever is larger; above 1 fails, by :func:`compare_arrays`'s
    own scan.  For hot loops such as step replay, which build a full comparison (and message)
    only for the steps worth reporting."""
    a, e = to_numpy(actual, "actual"), to_numpy(expected, "expected")
    if a.shape != e.shape:
        return math.inf
    tol = _at_scale(tol, e)
    scan = _scan(a, e, tol, 1)
    ratio = max((r for r, _ in scan.top), default=0.0)
    if math.isfinite(tol.frob):
        ratio = max(ratio, finite_frobenius(a, e) / tol.frob)
    return ratio


def compare_scalars_series(
    name: str, actual: object, expected: object, tol: Tolerance, *, k: int = 5
) -> Comparison:
    """Compare two 1-D curves (a loss or accuracy history) and find where they first part.

    ``first_divergence`` is the first index whose element is over the bound (or whose NaN/Inf
    differs), ``None`` when the curves agree.  When the lengths differ the comparison fails and
    ``first_divergence`` is the first mismatch within the common prefix, else the prefix length
    (the step at which one run stopped and the other went on).
    """
    _check_args(name, tol, k)
    a, e = _as_real(actual, "actual"), _as_real(expected, "expected")
    for arg, arr in (("actual", a), ("expected", e)):
        if arr.ndim != 1:
            raise ValueError(f"{arg}: expected a 1-D series, got shape {arr.shape}")
    tol = _at_scale(tol, e)
    n = min(a.size, e.size)
    scan = _scan(a[:n], e[:n], tol, k)
    first = scan.first_bad if scan.first_bad >= 0 else None
    if a.shape != e.shape:
        first = first if first is not None else n
        comp = _shape_mismatch(
            name,
            a,
            e,
            tol,
            extra=f"\n  the series have different lengths; first divergence at step {first}",
        )
        comp.first_divergence = first
        return comp
    return _build(name, scan, a.shape, k, first_divergence=first)


def relative_frobenius(a: object, e: object) -> float:
    """``||a - e||_F / ||e||_F``: one number for "how far apart", scale free.

    Returns 0 when both are all zeros and ``inf`` when only ``e`` is.  Shapes must match.
    Non-finite input gives ``nan``/``inf`` as the arithmetic does; use :func:`compare_arrays`
    to locate such elements.
    """
    x, y = to_numpy(a, "a"), to_numpy(e, "e")
    if x.shape != y.shape:
        raise ValueError(f"a: expected the shape of e {y.shape}, got shape {x.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        num = float(np.linalg.norm((x - y).ravel()))
        den = float(np.linalg.norm(y.ravel()))
    if den == 0:
        return 0.0 if num == 0 else math.inf
    return num / den


def assert_parity(
    actual: object, expected: object, tol: Tolerance, name: str = "value", *, k: int = 5
) -> Comparison:
    """Compare like :func:`compare_arrays`; raise :class:`ParityError` on failure.

    Returns the (passing) Comparison so a caller can log the margins it passed with.
    """
    comp = compare_arrays(name, actual, expected, tol, k=k)
    if not comp.passed:
        raise ParityError(comp)
    return comp


def _finite_diff(actual: object, expected: object) -> tuple[np.ndarray, np.ndarray, float] | None:
    """``(|a-e|, e, max|e|)`` over the elements finite on both sides; ``None`` if there are none."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(e)
    if not ok.any():
        return None
    e = e[ok]
    return np.abs(a[ok] - e), e, float(np.max(np.abs(e)))


def _frob(diff: np.ndarray, e: np.ndarray, scale: float) -> float:
    if scale == 0:
        return float(np.max(diff)) and math.inf
    return float(np.linalg.norm(diff) / np.linalg.norm(e))


def finite_frobenius(actual: object, expected: object) -> float:
    """``||a - e|| / ||e||`` over the elements finite on both sides (NaN/Inf placement is judged
    apart); 0 when there are none, and ``inf`` (or 0) when every finite ``e`` is 0."""
    finite = _finite_diff(actual, expected)
    return 0.0 if finite is None else _frob(*finite)


def scaled_errors(actual: object, expected: object) -> tuple[float, float, float]:
    """Three measures over the finite elements, each what one part of a tolerance must cover
    (calibration measures them; the tolerances are these times a safety factor):

    * max |a-e| / max|e|: error against the tensor's scale (``atol_scale``);
    * max |a-e|/|e| over the large elements, |e| ≥ 0.1 max|e| (``rtol``);
    * ‖a-e‖ / ‖e‖, the relative Frobenius error (``frob``), as :func:`finite_frobenius`.
    """
    finite = _finite_diff(actual, expected)
    if finite is None:
        return 0.0, 0.0, 0.0
    diff, e, scale = finite
    if scale == 0:
        bad = _frob(diff, e, scale)
        return bad, 0.0, bad
    big = np.abs(e) >= 0.1 * scale
    rel = float(np.max(diff[big] / np.abs(e[big]))) if big.any() else 0.0
    return float(np.max(diff)) / scale, rel, _frob(diff, e, scale)
