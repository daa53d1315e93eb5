"""Numerical differentiation, gradients and gradient descent (the chapter's §4.3–4.4).

Three difference schemes, with their Taylor error terms:

* forward   (f(x+h) - f(x)) / h      = f'(x) + f''(x) h/2 + O(h²)   → order 1
* backward  (f(x) - f(x-h)) / h      = f'(x) - f''(x) h/2 + O(h²)   → order 1
* central   (f(x+h) - f(x-h)) / 2h   = f'(x) + f'''(x) h²/6 + O(h⁴) → order 2

``convergence_order`` measures those orders from the slope of log(error) against log(h).
``numerical_gradient`` moves one element at a time in place (the book's way);
``numerical_gradient_fast`` evaluates the same differences with many perturbed copies per call
of a batched ``f``, leaving ``x`` untouched.  ``numerical_diff`` and ``difference`` work on
Python floats and are framework-neutral: reference_torch uses these very functions.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

from ._validate import (
    _describe,
    as_float_array,
    check_allocation,
    check_choice,
    check_finite,
    check_no_self_overlap,
    check_positive,
    check_writeable,
)

__all__ = [
    "METHODS",
    "PrecisionWarning",
    "numerical_diff",
    "numerical_gradient",
    "numerical_gradient_fast",
    "directional_derivative",
    "difference",
    "difference_errors",
    "convergence_order",
    "gradient_descent",
    "scalar_value",
    "step_warning",
]

METHODS = ("central", "forward", "backward")


class PrecisionWarning(RuntimeWarning):
    """A numerical derivative is being taken in a precision where h = 1e-4 is too coarse."""


def difference(
    fp: float | None, f0: float | None, fm: float | None, h: float, method: str
) -> float:
    """The finite difference of ``method`` from f(x+h), f(x), f(x-h) (None where unused)."""
    if method == "central":
        return (fp - fm) / (2 * h)
    if method == "forward":
        return (fp - f0) / h
    return (f0 - fm) / h


def _scalar(v: object) -> object:
    """``v`` itself (a float, a 0-d array or tensor) after checking it is one real number."""
    scalar_value(v)
    return v


def scalar_value(v: object) -> float:
    """f's value as a float; anything but a real scalar (a vector, a string) names ``f``."""
    # A tensor's size is a method; its element count is numel().
    n = v.numel() if callable(getattr(v, "numel", None)) else getattr(v, "size", 1)
    if isinstance(v, (str, bytes)) or n != 1:
        raise TypeError(f"f: expected f(x) to return a real scalar, got {_describe(v)}")
    try:
        return float(v)
    except (TypeError, ValueError):
        raise TypeError(f"f: expected f(x) to return a real scalar, got {_describe(v)}") from None


#: Below this step (relative to max(1, |x|)) rounding dominates a float64 difference.  The
#: central difference errs by about eps·|f|/h (rounding of f(x ± h)) + h²·|f‴|/6
#: (truncation); the sum is smallest at h* = (3 eps)^(1/3) ≈ 8.7e-6 for |f| ~ |f‴| ~ 1, and
#: below h* the rounding term grows as 1/h.  The chapter's h = 1e-4 sits above it.
ROUNDING_STEP = (3 * np.finfo(np.float64).eps) ** (1 / 3)


def step_warning(x: object, h: float) -> str | None:
    """Why ``h`` is too small a step at ``x`` (None when it is not): ``x + h == x`` (h below
    the spacing of floats at x: the difference is 0), or rounding dominates (h < h*)."""
    try:
        xf = float(x)
    except (TypeError, ValueError):
        return None  # not a scalar: numerical_diff takes one; its checks say so
    if xf + h == xf or xf - h == xf:
        return (f"h: x + h == x at x = {xf!r} with h = {h!r} (below the spacing of floats "
                f"there, {float(np.spacing(xf)):.3g}), so the difference is 0 or meaningless; "
                "the chapter uses h = 1e-4")
    if h < ROUNDING_STEP * max(1.0, abs(xf)):
        return (f"h: at h = {h!r} rounding dominates: f's rounding error (~eps·|f|) divided by "
                f"h outweighs the truncation error below h ≈ {ROUNDING_STEP:.1e}·max(1, |x|); "
                "the chapter uses h = 1e-4")
    return None


def numerical_diff(
    f: Callable[[float], float], x: float, h: float = 1e-4, method: str = "central"
) -> float:
    """f'(x) by a finite difference of step h (see the module docstring for the schemes).

    On f(x) = 0.01x² + 0.1x the central difference gives f'(5) = 0.1999999999990898 and
    f'(10) = 0.2999999999986347 (exact: 0.2 and 0.3; the gap is rounding in f, not truncation).
    A step so small that x + h == x, or that rounding dominates, warns (:func:`step_warning`):
    the book's ``numerical_diff(f, 5, h=1e-50)`` returns 0.0.
    """
    check_choice(method, "method", METHODS)
    h = check_positive(h, "h")
    why = step_warning(x, h)
    if why is not None:
        warnings.warn(why, PrecisionWarning, stacklevel=2)
    fp = _scalar(f(x + h)) if method != "backward" else None
    fm = _scalar(f(x - h)) if method != "forward" else None
    f0 = _scalar(f(x)) if method != "central" else None
    return difference(fp, f0, fm, h, method)


def _warn_precision(x: np.ndarray, h: float) -> None:
    if x.dtype != np.float64:
        warnings.warn(
            f"x: numerical_gradient on {x.dtype} with h={h:g}: rounding error is about "
            f"{np.finfo(x.dtype).eps / h:.0e} of the gradient; use float64",
            PrecisionWarning,
            stacklevel=3,
        )


def numerical_gradient(
    f: Callable[[np.ndarray], float],
    x: np.ndarray,
    h: float = 1e-4,
    method: str = "central",
) -> np.ndarray:
    """∂f/∂x_i for every element of an array of any shape, one element at a time.

    ``f`` is called as ``f(x)`` with one element of ``x`` moved by ±h (in place, so a closure
    that reads ``x`` sees the change, as the book's ``TwoLayerNet`` relies on).  Each element is
    restored to its saved value, bit for bit, even if ``f`` raises.

    Integer arrays are refused (the book's version returns ``zeros_like(x)`` and truncates x+h),
    and float32 warns: its rounding (~1e-7 relative) divided by 2h = 2e-4 is ~1e-3 of absolute
    error, often more than the gradient itself.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"x: expected a NumPy array (it is perturbed in place), got {type(x).__name__}"
        )
    as_float_array(x, "x", allow_int=False)
    check_writeable(x, "x")
    check_no_self_overlap(x, "x")
    check_finite(x, "x")
    check_choice(method, "method", METHODS)
    h = check_positive(h, "h")
    _warn_precision(x, h)
    grad = np.zeros(x.shape, dtype=np.float64)
    f0 = scalar_value(f(x)) if method != "central" else None
    for idx in np.ndindex(x.shape):
        saved = x[idx].copy()
        try:
            fp = fm = None
            if method != "backward":
                x[idx] = saved + h
                fp = scalar_value(f(x))
            if method != "forward":
                x[idx] = saved - h
                fm = scalar_value(f(x))
        finally:
            x[idx] = saved
        grad[idx] = difference(fp, f0, fm, h, method)
    return grad.astype(x.dtype, copy=False)


def numerical_gradient_fast(
    f_batched: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    h: float = 1e-4,
    method: str = "central",
    *,
    chunk: int = 4096,
) -> np.ndarray:
    """The differences of ``numerical_gradient``, with many perturbed points per call.

    ``f_batched`` takes a stack ``(B, *x.shape)`` of points and returns their ``(B,)`` values.
    Point b is x with one element set to x_i + h or x_i - h (computed as in the element loop,
    so a row-wise f gives the loop's numbers); at most ``chunk`` points go into one call.
    ``x`` itself is never modified.  float32 warns as in ``numerical_gradient``.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x: expected a NumPy array, got {type(x).__name__}")
    as_float_array(x, "x", allow_int=False)
    check_choice(method, "method", METHODS)
    h = check_positive(h, "h")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk: expected a positive int, got {chunk!r}")
    _warn_precision(x, h)
    flat = x.reshape(-1)
    n = flat.size
    shifts = {"central": (h, -h), "forward": (h,), "backward": (-h,)}[method]
    f0 = None
    if method != "central":
        f0 = _call_batched(f_batched, x[None], 1)[0]
    values = []
    for s in shifts:
        out = np.empty(n, dtype=x.dtype)
        for i0 in range(0, n, chunk):
            idx = np.arange(i0, min(i0 + chunk, n))
            pts = np.repeat(flat[None], len(idx), axis=0)
            pts[np.arange(len(idx)), idx] = flat[idx] + s
            out[i0 : i0 + len(idx)] = _call_batched(
                f_batched, pts.reshape(len(idx), *x.shape), len(idx)
            )
        values.append(out)
    if method == "central":
        grad = (values[0] - values[1]) / (2 * h)
    elif method == "forward":
        grad = (values[0] - f0) / h
    else:
        grad = (f0 - values[0]) / h
    return grad.reshape(x.shape).astype(x.dtype, copy=False)


def directional_derivative(
    f: Callable[[np.ndarray], float], x: np.ndarray, v: np.ndarray, h: float = 1e-4
) -> float:
    """The slope of f at x along v: D_v f(x) = ∇f(x)·v / |v|, by a central difference along
    the unit vector u = v / |v|:

        D_v f(x) ≈ (f(x + h u) - f(x - h u)) / 2h   (error h²/6 · ∂³f/∂u³ + rounding, as in
        ``numerical_diff``; |v| is the Euclidean norm over all elements).

    ``x`` is not modified; f is called on two new float64 arrays.
    """
    x = as_float_array(x, "x", allow_int=False).astype(np.float64, copy=False)
    check_finite(x, "x")
    v = as_float_array(v, "v").astype(np.float64, copy=False)
    if v.shape != x.shape:
        raise ValueError(f"v: expected the shape of x, {x.shape}, got {v.shape}")
    check_finite(v, "v")
    norm = float(np.sqrt(np.sum(v * v)))
    if norm == 0:
        raise ValueError("v: expected a non-zero direction, got the zero vector")
    h = check_positive(h, "h")
    u = v / norm
    fp, fm = scalar_value(f(x + h * u)), scalar_value(f(x - h * u))
    return (fp - fm) / (2 * h)


def _call_batched(
    f_batched: Callable[[np.ndarray], np.ndarray], pts: np.ndarray, b: int
) -> np.ndarray:
    out = f_batched(pts)
    if not isinstance(out, np.ndarray) or out.shape != (b,):
        got = out.shape if isinstance(out, np.ndarray) else type(out).__name__
        raise ValueError(f"f_batched: expected an array of shape ({b},) from {b} points, got {got}")
    return out


def difference_errors(
    f: Callable[[float], float],
    x: float,
    exact: float,
    hs: Sequence[float],
    method: str = "central",
) -> np.ndarray:
    """|numerical_diff(f, x, h, method) - exact| for each h in ``hs``."""
    return np.array([abs(numerical_diff(f, x, h, method) - exact) for h in hs])


def convergence_order(
    f: Callable[[float], float],
    x: float,
    exact: float,
    method: str = "central",
    hs: Sequence[float] | None = None,
) -> float:
    """Empirical order p of a scheme: the slope of log|error| against log h (error ≈ C h^p).

    The default steps, 1e-1 … 1e-3, keep truncation error far above float64 rounding for smooth
    f with non-zero f'' and f''' (e.g. exp or sin).  On a quadratic the central scheme is exact
    and the fit measures only rounding: choose f accordingly.
    """
    check_choice(method, "method", METHODS)
    hs = (
        np.geomspace(1e-1, 1e-3, 9)
        if hs is None
        else as_float_array(hs, "hs").astype(np.float64, copy=False)
    )
    if hs.ndim != 1 or hs.size < 2:
        raise ValueError(f"hs: expected at least two step sizes, got {hs!r}")
    errs = difference_errors(f, x, exact, hs, method)
    if np.any(errs == 0):
        raise ValueError(
            f"hs: the {method} error is exactly 0 at some h, so no order can be fitted; "
            "use a function whose truncation error is non-zero"
        )
    slope, _ = np.polyfit(np.log(hs), np.log(errs), 1)
    return float(slope)


def gradient_descent(
    f: Callable[[np.ndarray], float],
    init_x: np.ndarray,
    lr: float = 0.01,
    step_num: int = 100,
    grad: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """x_{n+1} = x_n - lr ∇f(x_n), ``step_num`` times from a copy of ``init_x``.

    Returns ``(x, path)`` where ``path[i]`` is the point before step i (shape (step_num, *x)).
    ``init_x`` is not mutated (the book's version moves it).  ∇f is the central-difference
    ``numerical_gradient`` unless an analytic ``grad`` is given.  From (-3, 4) on x0² + x1²:
    lr 0.1 reaches about (-6.1e-10, 8.1e-10); lr 10 diverges; lr 1e-10 barely moves.
    """
    x = as_float_array(init_x, "init_x").astype(np.float64, copy=True)
    check_finite(x, "init_x")
    lr = check_positive(lr, "lr")
    if isinstance(step_num, bool) or not isinstance(step_num, (int, np.integer)) or step_num < 0:
        raise ValueError(f"step_num: expected a non-negative int, got {step_num!r}")
    grad_fn = grad if grad is not None else (lambda p: numerical_gradient(f, p))
    check_allocation(8 * step_num * x.size, "step_num", f"the path of {step_num} steps")
    path = np.empty((step_num, *x.shape), dtype=np.float64)
    for i in range(step_num):
        path[i] = x
        g = np.asarray(grad_fn(x))
        if g.shape != x.shape:
            raise ValueError(f"grad: expected grad(x) of shape {x.shape}, got {g.shape}")
        x -= lr * g
    return x, path
