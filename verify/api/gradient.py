"""check_gradient: a gradient against central differences, with a bound derived for each call.

Why not a fixed tolerance.  The error of a central difference is not a property of the
implementation under test but of the point, the step and the precision: a bound measured on a
784-50-10 net (as ``float64/numerical`` was) is too tight for a 4-5-3 net whose bias gradient is
1e-5 (false alarms) and too loose elsewhere.  So the bound is derived element by element from
what sets the error, as follows (``h`` the step, ``ε`` the machine epsilon of the coarsest of f's
result and x, ``D(h) = (f(x+h) - f(x-h)) / 2h``):

* **truncation.**  Taylor: ``D(h) = f' + h²f'''/6 + h⁴f⁽⁵⁾/120 + ...`` and
  ``D(2h) = f' + 4h²f'''/6 + 16h⁴f⁽⁵⁾/120 + ...``, so ``D(2h) - D(h) = 3·h²f'''/6 + O(h⁴)``:
  the difference of the two estimates is three times the truncation error of ``D(h)`` (and
  3/4 of that of ``D(2h)``).  ``T = |D(2h) - D(h)| / 3`` estimates ``|h²f'''/6|``.
* **rounding.**  Each computed value is ``f(1 + θ)`` with ``|θ| ≤ c·ε``; the two values of the
  numerator differ in their rounding by at most ``2·c·ε·F`` (``F`` the larger ``|f|`` of the
  two evaluations, floored at 1: see ``F_FLOOR``), divided by ``2h``: ``R(h) = c·ε·F/h``.
  ``T`` itself carries the rounding of both differences, ``(R(h) + R(2h))/3``, which is added
  so that a truncation estimate shrunk by noise cannot hide it.
* **kinks** (ReLU at 0, |x|): Taylor does not hold across one.  A kink at distance d < h
  shifts ``D(h)`` by ``Δs·(h-d)/2h`` but ``D(2h) - D(h)`` only by ``Δs·d/4h`` (0 as d → 0),
  so T misses it.  The third difference of the one-sided slopes on the kink's side,
  ``(f(x+h) - 3f(x) + 3f(x-h) - f(x-2h))/h``, is ``h²f'''`` when f is smooth and exactly
  ``Δs·(h-d)/h``, twice the shift, across a kink: half the sum of the left and right ones is
  the kink term.  Several kinks can cancel in it (a bias of a ReLU net whose whole batch sits
  near 0); two more checks widen the term then: the spread of the four one-sided slopes when
  the third differences are far above what T predicts, and ``|D(h/10) - D(h)|`` when it is
  more than truncation and rounding allow (a smooth f gives ``0.99·h²f'''/6``).
* **the step.**  ``x ± h`` is rounded to x's dtype, so the difference divides by the step
  actually taken (``x[i] + h - x[i]`` after rounding), not by ``h``.  What is left: an
  asymmetric step ``a ≠ b`` adds ``(a - b)/2 · f''`` (``f''`` from the same evaluations and
  ``f(x)``), and a function that rounds x again inside (float32 arithmetic on float64 input)
  moves by up to ``ε·|x|`` less or more than the step: ``ε·|x|/h · |D|``.
* **your gradient's own rounding**: ``c·ε_g · max|g|`` (``ε_g`` of its dtype).

An element passes when ``|g - D(h)| <= SAFETY·(T + R(h) + (R(h) + R(2h))/3 + kink +
asymmetry + step) + own rounding`` (+ the δ allowance with ``delta=``).  The constants ``c``
and ``SAFETY`` are the only numbers not derived; their values, and the measurement that fixes
them, are written beside them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..report import CheckResult
from ..tolerances import tolerance_for
from ._common import _check_callable, _describe, _is_tensor, _plain

__all__ = ["check_gradient", "GradientBound", "C_ROUND", "SAFETY", "DEFAULT_H"]

#: c in |θ| <= c·ε.  Measured (scripts/oracle_false_alarms.py's cases, ~20,000
#: elements per dtype of smooth nets): the observed |g - D(h)| over T + ε·F/h was at most 1.2
#: in float64 and 2.7 in float32 (a loss that cancels: logsumexp - a_t).  c = 2 with SAFETY = 4
#: leaves a factor >= 3 over the largest seen.
C_ROUND = 2.0
#: |f| is floored at 1 in the rounding term: a cross-entropy is a difference of terms at least
#: that large (log Σ exp(a) - a_t, each of the logits' size; log y with y <= 1), so a loss near
#: 0 still carries their rounding.  Found by the sweep: a float32 batch of one with logits ~15
#: has f = 1.2e-7 while its rounding is ~1e-6 (ulp of 15), so ε·|f| under-counts it.
F_FLOOR = 1.0
#: Over the modelled error: each term is already a bound, not a typical value; x4 covers the
#: O(h⁴) remainder of the truncation estimate and a T shrunk by noise (the ratios above).
SAFETY = 4.0
#: The book's h for float64.  For float32, rounding ε·F/h and truncation h²|f'''|/6 balance at
#: h ≈ (3ε)^(1/3) ≈ 7e-3 when |f'''| ~ |f|; 5e-3 is that, rounded down.
DEFAULT_H = {"float64": 1e-4, "float32": 5e-3}


@dataclass
class GradientBound:
    """The parts of the bound of one tensor (absolute, per element), for messages and tests."""

    truncation: np.ndarray
    rounding: np.ndarray
    kink: np.ndarray
    step: np.ndarray
    own: float
    convention: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return SAFETY * (self.truncation + self.rounding + self.kink + self.step) + self.own \
            + self.convention


def _loss_value(value: object) -> tuple[float, str | None]:
    """(value, dtype name or None for Python numbers); a refusal names what came back."""
    if _is_tensor(value):
        if value.numel() != 1:
            raise ValueError(f"f: expected a scalar loss, got a tensor of shape "
                             f"{tuple(value.shape)}")
        dt = str(value.dtype).removeprefix("torch.")
        return float(value.detach().cpu().double().reshape(()).item()), dt
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"f: expected a real scalar loss, got {_describe(value)}")
    if arr.size != 1:
        raise ValueError(f"f: expected a scalar loss, got shape {arr.shape}")
    dt = arr.dtype.name if isinstance(value, (np.ndarray, np.generic)) else None
    return float(arr.reshape(())), dt


def _eps(*dtypes: str | None) -> tuple[float, str]:
    """Machine epsilon of the coarsest float dtype given (float64 if none is)."""
    names = [d for d in dtypes if d in ("float16", "bfloat16", "float32", "float64")]
    if not names:
        return float(np.finfo(np.float64).eps), "float64"
    coarse = max(names, key=lambda d: {"float64": 0, "float32": 1}.get(d, 2))
    if coarse in ("float16", "bfloat16"):
        raise ValueError(f"f: evaluated in {coarse}; central differences need float32 or float64")
    return float(np.finfo(coarse).eps), coarse


def _check_number(value: object, arg: str, *, allow_none: bool, allow_zero: bool) -> float | None:
    if value is None and allow_none:
        return None
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.floating))
    if not ok or not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        want = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{arg}: expected a finite number {want}"
                         f"{' or None' if allow_none else ''}, got {value!r}")
    return float(value)


def _failed(name: str, where: str, message: str, details: dict, start: float) -> CheckResult:
    details = {"cases": 0, "failing": [where], "failing_cases": 1, **details}
    return CheckResult(name=name, group="gradients", passed=False, max_abs_err=math.inf,
                       max_rel_err=math.inf, where=where, tolerance_class="derived",
                       rtol=0.0, atol=math.nan, message=f"{name} FAILED at {where}\n{message}",
                       seconds=time.perf_counter() - start, details=details)


def _quote(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def check_gradient(f: Callable[[Any], Any], x: object, grad: object, *, h: float | None = None,
                   delta: float | None = None, kinks: bool = True,
                   loss_reference: Callable[[Any], Any] | None = None) -> CheckResult:
    """Check your gradient of ``f`` at ``x`` against central differences of ``f``.

    ``f(x)`` returns a scalar loss; ``x`` is an array or a ``{name: array}`` mapping (then
    ``f`` receives the mapping and every entry is checked, e.g. a network's parameters).
    ``grad`` is your gradient at ``x`` (an array, or a mapping with the same keys) or a
    callable ``grad(x)`` returning it.

    The expected value is the central difference ``(f(x+h) - f(x-h)) / 2h`` of each element,
    moved *in place* and restored bit for bit (also when ``f`` raises): a float32 or float64
    NumPy array is used as it is, so a closure that reads the array (the book's
    ``lambda _: net.loss(x, t)`` over ``net.params["W1"]``) sees the move; anything else (lists,
    ints, tensors) is converted to a float64 NumPy copy and ``f`` must compute from its
    argument.  float32 and float64 losses are both accepted; the bound is derived for each
    element from the step, the dtype's epsilon, |f| and a second step 2h (module docstring).
    ``h`` defaults to 1e-4 (float64) or 5e-3 (float32).

    ``delta``: your loss has the book's δ inside the log (``log(y + δ)``) while your gradient is
    the exact ``(y - t)/N``; those differ by ``δ/(y_t + δ)`` relative, so each element is also
    allowed the measured ``float64/numerical_delta`` relative difference (valid while the
    true-class probabilities stay above ~δ/8e-5 ≈ 1e-3).  Without ``delta`` a failure that this
    allowance would explain says so.

    ``kinks`` (default True): f may have kinks (ReLU at 0, |x|, max).  A kink closer to x than
    h/10 whose slope change hides under float32 rounding cannot be seen by any of the steps,
    so every element is allowed what it could hide (2·c·ε·|f|/(h/10): ~1e-10 in float64, ~1e-4
    of |f| in float32).  Pass ``kinks=False`` when f is smooth (sigmoid, tanh, softmax) for the
    tighter float32 bound.  The measured false alarms and detection limits, both ways, are in
    docs/oracle.md.

    ``loss_reference``: central differences only compare your gradient with *your* loss, so a
    wrong loss with a consistent gradient (a loss divided by the number of classes, and its
    gradient too) passes them.  Pass the reference loss as a function of the same point
    (``lambda W: reference_numpy.networks.SimpleNet(W).loss(x, t)``): it is called once on a
    float64 copy of ``x`` and ``f(x)`` must equal it (kind ``"replay_loss"`` of the class of
    ``f``'s dtype); a loss off by an integer factor says so.  The loss value is compared by
    default where the oracle knows the reference (``check_function`` on the losses,
    ``check_training_step``); here it cannot know what ``f`` computes.

    A failure that a known variant reproduces (your gradient is the central differences
    negated or transposed, or within the δ allowance) names it (``verify.api.diagnosis``).

    Your code failing is a verdict, not an exception: ``f`` or ``grad`` raising, a gradient of
    the wrong shape, or a non-numeric value fail the check and the message quotes what happened.
    """
    start = time.perf_counter()
    _check_callable(f, "f", "a callable f(x) -> scalar loss")
    if loss_reference is not None:
        _check_callable(loss_reference, "loss_reference", "a callable loss_reference(x) -> "
                        "the reference's scalar loss at x")
    h = _check_number(h, "h", allow_none=True, allow_zero=False)
    delta = _check_number(delta, "delta", allow_none=True, allow_zero=True)
    named = isinstance(x, Mapping)
    if named and not x:
        raise ValueError("x: expected at least one array, got an empty mapping")
    items = dict(x) if named else {"x": x}
    work: dict[str, np.ndarray] = {}
    for k, v in items.items():
        arg = f"x[{k!r}]" if named else "x"
        if isinstance(v, np.ndarray) and v.dtype in (np.float32, np.float64):
            work[k] = v  # perturbed in place, restored bit for bit
        else:
            arr = _plain(v, arg)
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"{arg}: expected real numbers, got {_describe(v)}")
            work[k] = arr.astype(np.float64)
        if work[k].size == 0:
            raise ValueError(f"{arg}: expected a non-empty array, got shape {work[k].shape}")
    point = work if named else work["x"]
    name = "gradient vs central differences"
    details: dict[str, Any] = {"delta": delta, "kinks": bool(kinks)}
    try:
        value = f(point)
    except Exception as exc:  # noqa: BLE001 - the user's f failing is a verdict
        return _failed(f"{name} (user)", "f at x", f"f(x) raised {_quote(exc)}", details, start)
    try:
        f0, f_dtype = _loss_value(value)
    except (TypeError, ValueError) as exc:  # a loss that is not one number: a verdict too
        return _failed(f"{name} (user)", "f at x", str(exc), details, start)
    x_dtypes = [a.dtype.name for a in work.values()]
    eps, coarse = _eps(f_dtype, *x_dtypes)
    h = DEFAULT_H[coarse] if h is None else h
    name = f"{name} (user {coarse})"
    details.update({"h": h, "eps": eps, "dtype": coarse})
    loss_problem = None
    if loss_reference is not None:
        loss_problem = _compare_loss(loss_reference, work, named, f0, coarse, details)
    try:
        got = grad(point) if callable(grad) else grad
    except Exception as exc:  # noqa: BLE001
        return _failed(name, "grad(x)", f"grad(x) raised {_quote(exc)}", details, start)
    if named:
        if not isinstance(got, Mapping) or set(got) != set(work):
            raise ValueError(f"grad: expected a mapping with keys {sorted(work)}, got "
                             f"{sorted(got) if isinstance(got, Mapping) else _describe(got)}")
    else:
        got = {"x": got}
    user: dict[str, tuple[np.ndarray, float]] = {}
    problems: list[tuple[str, str]] = []
    for k in work:
        case = f"grad {k}" if named else "grad"
        try:
            arr = _plain(got[k], "grad")
        except TypeError as exc:
            problems.append((case, f"{name} [{case}]: your gradient is not numeric: {exc}"))
            continue
        if arr.dtype.kind not in "biuf":
            problems.append((case, f"{name} [{case}]: your gradient is not numeric, got "
                                   f"{_describe(got[k])}"))
            continue
        if arr.shape != work[k].shape:
            problems.append((case, f"{name} [{case}]: your gradient has shape {arr.shape}, x "
                                   f"has shape {work[k].shape} (nothing is broadcast)"))
            continue
        g_eps = float(np.finfo(arr.dtype).eps) if arr.dtype.kind == "f" else eps
        user[k] = (arr.astype(np.float64), max(g_eps, float(np.finfo(np.float64).eps)))
    rows = []
    for k, arr in work.items():
        case = f"grad {k}" if named else "grad"
        if k not in user:
            continue
        try:
            expected, bound = _central(f, point, arr, h, f0, eps, kinks=kinks)
        except _UserRaised as exc:
            problems.append((case, f"{name} [{case}]: f raised {exc.quoted} at {k}{exc.where}"))
            continue
        a, g_eps = user[k]
        finite = a[np.isfinite(a)]
        bound.own = C_ROUND * g_eps * (float(np.max(np.abs(finite))) if finite.size else 0.0)
        if delta:
            bound.convention = _delta_allowance(expected)
        rows.append((case, a, expected, bound))
    if loss_problem:
        problems.insert(0, ("loss value", f"{name} [loss value]: {loss_problem}"))
    return _verdict(name, rows, problems, details, delta, start)


def _compare_loss(loss_reference: Callable[[Any], Any], work: Mapping[str, np.ndarray],
                  named: bool, f0: float, coarse: str, details: dict) -> str | None:
    """f(x) against the reference loss at x: None when they agree, else what to say."""
    from . import diagnosis

    copies = {k: np.array(v, dtype=np.float64, copy=True) for k, v in work.items()}
    try:
        ref = _loss_value(loss_reference(copies if named else copies["x"]))[0]
    except Exception as exc:  # noqa: BLE001 - the caller's reference is an input: say so
        raise ValueError(f"loss_reference: raised {_quote(exc)} at x") from None
    tclass = "float64" if coarse == "float64" else "float32-cpu"
    details["loss_value"] = {"yours": f0, "reference": ref, "class": tclass}
    if diagnosis.agrees(tclass, "replay_loss", f0, ref):
        return None
    message = (f"your loss f(x) = {f0:.10g} differs from the reference loss {ref:.10g} "
               f"({tclass}/replay_loss); the central differences of a wrong loss check a "
               f"wrong gradient")
    found = diagnosis.explain("loss_value", [("loss value", {"actual": f0, "expected": ref},
                                              True)],
                              lambda _, cand: diagnosis.agrees(tclass, "replay_loss", f0, cand))
    if found:
        details.setdefault("diagnosis", []).extend(v.variant.name for v in found)
        factor = f0 / ref
        message += "\n" + "\n".join(diagnosis.lines(found, f"loss ({factor:.6g} × the "
                                                         f"reference)"))
    return message


def _delta_allowance(expected: np.ndarray) -> np.ndarray:
    """What δ in the log may move a gradient: the measured ``float64/numerical_delta`` spec.

    Its atol part (x max|D|) is needed, not only the relative one: a weight's gradient sums
    per-example terms scaled by y_t/(y_t + δ), which can cancel, so the difference is relative
    to the terms, not to their sum.
    """
    spec = tolerance_for("float64", "numerical_delta")
    finite = np.abs(expected[np.isfinite(expected)])
    scale = float(finite.max()) if finite.size else 0.0
    return spec.rtol * np.abs(expected) + spec.atol_scale * scale


class _UserRaised(Exception):
    def __init__(self, quoted: str, where: str) -> None:
        super().__init__(quoted)
        self.quoted, self.where = quoted, where


def _central(f: Callable[[Any], Any], point: object, arr: np.ndarray, h: float, f0: float,
             eps: float, *, kinks: bool = True) -> tuple[np.ndarray, GradientBound]:
    """D(h) per element and the parts of its bound (module docstring), moving ``arr`` in place."""
    shape = arr.shape
    d1, trunc, rnd, kink, step = (np.zeros(shape) for _ in range(5))
    for idx in np.ndindex(shape):
        saved = arr[idx].copy()
        v = float(saved)
        vals, steps = [], []
        try:
            for s in (h, -h, 2 * h, -2 * h, h / 10, -h / 10):
                arr[idx] = saved + s
                steps.append(float(arr[idx]) - v)
                vals.append(_loss_value(f(point))[0])
        except Exception as exc:  # noqa: BLE001 - raising, or a loss that is not one number
            where = f"[{', '.join(map(str, idx))}] + {steps[-1] if steps else 0:g}"
            raise _UserRaised(_quote(exc), where) from None
        finally:
            arr[idx] = saved
        fp, fm, fp2, fm2, fps, fms = vals
        sp, sm, sp2, sm2, sps, sms = steps
        span1, span2 = sp - sm, sp2 - sm2
        with np.errstate(all="ignore"):
            dh = (fp - fm) / span1
            d2h = (fp2 - fm2) / span2
            r1 = C_ROUND * eps * max(abs(fp), abs(fm), F_FLOOR) / (span1 / 2)
            r2 = C_ROUND * eps * max(abs(fp2), abs(fm2), F_FLOOR) / (span2 / 2)
            f2 = abs(fp - 2 * f0 + fm) / (sp * -sm)
            asym = abs(sp + sm) / 2 * f2
            inner = eps * abs(v) / (span1 / 2) * abs(dh)
            # Third differences of the one-sided slopes, left and right of x: h²f''' when f is
            # smooth, exactly twice D(h)'s error when a kink (ReLU at 0) lies within the step.
            k_left = abs(fp - 3 * f0 + 3 * fm - fm2) / (span1 / 2)
            k_right = abs(fp2 - 3 * fp + 3 * f0 - fm) / (span1 / 2)
            k = (k_left + k_right) / 2
            # Smooth f: k ≈ h²|f'''| = 2|D(2h) - D(h)|, plus rounding (8 values: 4 r1).  Far
            # above that, several kinks lie within ±2h (a ReLU net's bias with all of a
            # batch's pre-activations near 0), whose effects the third differences may cancel;
            # the derivative (one-sided or not) then lies within the spread of the four slopes.
            if k > 4 * abs(d2h - dh) + 4 * r1:
                slopes = [(fm - fm2) / (sm - sm2), (f0 - fm) / -sm, (fp - f0) / sp,
                          (fp2 - fp) / (sp2 - sp)]
                k = max(k, max(slopes) - min(slopes))
            # Many evenly spread kinks look smooth at h and 2h; a third, smaller step sees the
            # ones between h/10 and h: D(h/10) - D(h) is -0.99·h²f'''/6 for a smooth f (so
            # within the truncation and rounding terms), anything beyond is a kink's.
            ds = (fps - fms) / (sps - sms)
            rs = C_ROUND * eps * max(abs(fps), abs(fms), F_FLOOR) / ((sps - sms) / 2)
            dev = abs(ds - dh)
            if dev > 2 * (abs(d2h - dh) / 3 + (r1 + r2) / 3 + rs):
                k = max(k, dev + rs)
            if kinks:
                # A kink closer than h/10 whose slope change is below the rounding of the
                # h/10 slopes (each rs) cannot be seen at this precision, yet moves the
                # derivative at x by up to that much: 2·rs.  Negligible in float64 (~1e-10),
                # the price of ReLU in float32; kinks=False drops it for a smooth f.
                k += 2 * rs
        d1[idx] = dh
        trunc[idx] = abs(d2h - dh) / 3 + (r1 + r2) / 3
        rnd[idx] = r1
        kink[idx] = k
        step[idx] = asym + inner
    return d1, GradientBound(trunc, rnd, kink, step, 0.0, np.zeros(shape))


def _verdict(name: str, rows: list, problems: list[tuple[str, str]], details: dict,
             delta: float | None, start: float) -> CheckResult:
    failing, messages, hints = [], [m for _, m in problems], []
    where, worst_ratio, worst_where = "", -1.0, ""
    max_abs = max_rel = 0.0
    max_bound = 0.0
    for case, a, e, bound in rows:
        total = bound.total
        max_bound = max(max_bound, float(np.max(total)) if total.size else 0.0)
        nonfinite = ~np.isfinite(a) | ~np.isfinite(e)
        nan_mismatch = nonfinite & ~((np.isnan(a) & np.isnan(e)) | (a == e))
        with np.errstate(all="ignore"):
            diff = np.where(nonfinite, 0.0, np.abs(a - e))
            ratio = np.where(nan_mismatch, np.inf, np.where(
                diff == 0, 0.0, diff / np.where(total > 0, total, 1e-300)))
            rel = np.where(np.abs(e) > 0, diff / np.abs(e), np.where(diff > 0, np.inf, 0.0))
        max_abs = max(max_abs, float(diff.max()))
        max_rel = max(max_rel, float(rel.max()))
        flat = int(np.argmax(ratio))
        idx = np.unravel_index(flat, a.shape)
        here = f"{case}, index ({', '.join(map(str, idx))})"
        if float(ratio.flat[flat]) > worst_ratio:
            worst_ratio, worst_where = float(ratio.flat[flat]), here
        bad = ratio > 1
        if not bad.any():
            continue
        failing.append(case)
        if not where:
            where = here
        messages.append(_mismatch(name, case, a, e, bound, ratio, nan_mismatch, details))
        hints += _diagnose(case, a, e, total, diff, nan_mismatch, delta, details)
    failing = [c for c, _ in problems] + failing
    passed = not failing
    details.update({"cases": len(rows) + len(problems), "failing_cases": len(failing),
                    "tolerance_justification": "derived per element (verify.api.gradient)"})
    if failing:
        details["failing"] = failing
    if problems and not where:
        where = problems[0][0]
    if delta:
        details["convention"] = f"delta = {delta:g} inside the log"
    message = ""
    if not passed:
        head = f"{name} FAILED at {where}"
        if len(failing) > 1:
            head += f"; failing cases: {', '.join(failing)}"
        message = "\n".join([head, *messages, *hints])
    return CheckResult(
        name=name, group="gradients", passed=passed,
        max_abs_err=math.inf if problems else max_abs,
        max_rel_err=math.inf if problems else max_rel,
        where=where if not passed else worst_where, tolerance_class="derived",
        rtol=0.0, atol=max_bound, message=message, seconds=time.perf_counter() - start,
        details={**details, "worst_ratio": worst_ratio})


def _diagnose(case: str, a: np.ndarray, e: np.ndarray, total: np.ndarray, diff: np.ndarray,
              nan_mismatch: np.ndarray, delta: float | None, details: dict) -> list[str]:
    """The catalogue's gradient variants that fit this tensor (verify.api.diagnosis)."""
    from . import diagnosis

    found_names, out = [], []
    if not delta and not nan_mismatch.any() and np.all(diff <= total + _delta_allowance(e)):
        v = diagnosis.variant("gradient δ convention")
        found_names.append(v.name)
        out.append(f"diagnosis: [{case}] your gradient equals {v.text('said', {})}; "
                   f"{v.text('fix', {})}")

    def matches(_: int, cand: np.ndarray) -> bool:
        allowed = total if cand.shape != total.T.shape else np.maximum(total, total.T)
        with np.errstate(all="ignore"):
            return bool(np.all(np.abs(a - cand) <= allowed))

    found = diagnosis.explain("gradient", [(case, {"expected": e}, True)], matches)
    found_names += [f.variant.name for f in found]
    out += [line.replace("diagnosis: ", f"diagnosis: [{case}] ", 1)
            for line in diagnosis.lines(found, "gradient")]
    named = details.setdefault("diagnosis", []) if found_names else []
    named += [n for n in found_names if n not in named]
    return out


def _mismatch(name: str, case: str, a: np.ndarray, e: np.ndarray, bound: GradientBound,
              ratio: np.ndarray, nan_mismatch: np.ndarray, details: dict) -> str:
    bad = ratio > 1
    lines = [f"Mismatch in '{name} [{case}]' (bound derived per element: h = {details['h']:g}, "
             f"ε = {details['eps']:.3g}, safety {SAFETY:g}):",
             f"  {int(bad.sum())} / {a.size} elements exceed |g - D(h)| <= bound"]
    if nan_mismatch.any():
        first = np.unravel_index(int(np.argmax(nan_mismatch)), a.shape)
        lines.append(f"  {int(nan_mismatch.sum())} element(s) where NaN/Inf positions differ, "
                     f"first at index {tuple(int(i) for i in first)}")
    finite = np.isfinite(a) & np.isfinite(e)
    if finite.any() and np.linalg.norm(e[finite]) > 0:
        frob = np.linalg.norm((a - e)[finite]) / np.linalg.norm(e[finite])
        lines.append(f"  relative Frobenius error ||g - D||/||D|| = {frob:.3g}")
    order = np.argsort(-np.where(np.isfinite(ratio), ratio, np.finfo(float).max), axis=None)
    lines.append("  worst (index: yours vs central difference, |diff| / allowed = "
                 "safety×(truncation + rounding + kink + step) + yours):")
    for flat in order[:min(5, int(bad.sum()))]:
        idx = np.unravel_index(int(flat), a.shape)
        d = abs(a[idx] - e[idx])
        lines.append(
            f"    ({', '.join(map(str, idx))}): {a[idx]:.10g} vs {e[idx]:.10g}, {d:.3g} / "
            f"{bound.total[idx]:.3g} = {SAFETY:g}×({bound.truncation[idx]:.2g} + "
            f"{bound.rounding[idx]:.2g} + {bound.kink[idx]:.2g} + {bound.step[idx]:.2g}) + "
            f"{bound.own:.2g}"
            + (f" + δ {bound.convention[idx]:.2g}" if bound.convention[idx] else ""))
    return "\n".join(lines)
