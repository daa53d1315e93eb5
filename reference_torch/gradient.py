"""Numerical differentiation, gradients and gradient descent (the chapter's §4.3–4.4), on tensors.

Three difference schemes, with their Taylor error terms:

* forward   (f(x+h) - f(x)) / h      = f'(x) + f''(x) h/2 + O(h²)   → order 1
* backward  (f(x) - f(x-h)) / h      = f'(x) - f''(x) h/2 + O(h²)   → order 1
* central   (f(x+h) - f(x-h)) / 2h   = f'(x) + f'''(x) h²/6 + O(h⁴) → order 2

``convergence_order`` measures those orders from the slope of log(error) against log(h).
``numerical_gradient`` moves one element at a time in place (the book's way);
``numerical_gradient_fast`` evaluates the same differences with many perturbed copies per call
of a batched ``f``, leaving ``x`` untouched.  ``numerical_diff``, ``difference`` and
``step_warning`` are this engine's own (torch ops on 0-d tensors), so parity sees a bug in either
engine's; ``scalar_value`` (a check and a ``float()``) and ``PrecisionWarning`` (one class, so
one filter serves both engines) are reference_numpy's objects (tests/test_mirror.py,
``SHARED_ON_PURPOSE``).
"""

from __future__ import annotations

import itertools
import math
import numbers
import warnings
from collections.abc import Callable, Sequence

import torch

from reference_numpy._validate import check_allocation
from reference_numpy.gradient import METHODS, PrecisionWarning, scalar_value

from ._validate import (
    as_float_tensor,
    check_choice,
    check_finite,
    check_inplace_ok,
    check_positive,
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

Tensor = torch.Tensor

F64 = torch.float64


def _value(v: object) -> Tensor:
    """A value of f as a 0-d tensor: a tensor keeps its dtype (float32 stays float32, as NumPy's
    float32 scalars do), a Python number becomes float64."""
    return v.reshape(()) if isinstance(v, torch.Tensor) else torch.tensor(float(v), dtype=F64)


def difference(
    fp: object | None, f0: object | None, fm: object | None, h: float, method: str
) -> Tensor:
    """The finite difference of ``method`` from f(x+h), f(x), f(x-h) (None where unused), as a
    0-d tensor."""
    if method == "central":
        return (_value(fp) - _value(fm)) / (2 * h)
    if method == "forward":
        return (_value(fp) - _value(f0)) / h
    return (_value(f0) - _value(fm)) / h


def _scalar(v: object) -> object:
    """``v`` itself (a float or a 0-d tensor) after checking it is one real number."""
    scalar_value(v)
    return v


#: Below this step (relative to max(1, |x|)) rounding dominates a float64 difference.  The
#: central difference errs by about eps·|f|/h (rounding of f(x ± h)) + h²·|f‴|/6
#: (truncation); the sum is smallest at h* = (3 eps)^(1/3) ≈ 8.7e-6 for |f| ~ |f‴| ~ 1, and
#: below h* the rounding term grows as 1/h.  The chapter's h = 1e-4 sits above it.
ROUNDING_STEP = (3 * torch.finfo(F64).eps) ** (1 / 3)


def step_warning(x: object, h: float) -> str | None:
    """Why ``h`` is too small a step at ``x`` (None when it is not): ``x + h == x`` (h below
    the spacing of floats at x: the difference is 0), or rounding dominates (h < h*)."""
    try:
        xf = float(x)
    except (TypeError, ValueError, RuntimeError):
        return None  # not a scalar: numerical_diff takes one; its checks say so
    xt = torch.tensor(xf, dtype=F64)
    if bool(xt + h == xt) or bool(xt - h == xt):
        # np.spacing's sign convention: toward the infinity of x's sign.
        away = torch.tensor(math.copysign(math.inf, xf), dtype=F64)
        spacing = float(torch.nextafter(xt, away) - xt)
        return (f"h: x + h == x at x = {xf!r} with h = {h!r} (below the spacing of floats "
                f"there, {spacing:.3g}), so the difference is 0 or meaningless; "
                "the chapter uses h = 1e-4")
    if h < ROUNDING_STEP * max(1.0, abs(xf)):
        return (f"h: at h = {h!r} rounding dominates: f's rounding error (~eps·|f|) divided by "
                f"h outweighs the truncation error below h ≈ {ROUNDING_STEP:.1e}·max(1, |x|); "
                "the chapter uses h = 1e-4")
    return None


def numerical_diff(
    f: Callable[[float], float], x: float, h: float = 1e-4, method: str = "central"
) -> Tensor:
    """f'(x) by a finite difference of step h (see the module docstring for the schemes), as a
    0-d tensor (float64 unless f returns another dtype).

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


def _warn_precision(x: Tensor, h: float) -> None:
    if x.dtype != torch.float64:
        warnings.warn(
            f"x: numerical_gradient on {x.dtype} with h={h:g}: rounding error is about "
            f"{torch.finfo(x.dtype).eps / h:.0e} of the gradient; use float64",
            PrecisionWarning,
            stacklevel=3,
        )


def numerical_gradient(
    f: Callable[[Tensor], float],
    x: Tensor,
    h: float = 1e-4,
    method: str = "central",
) -> Tensor:
    """∂f/∂x_i for every element of a tensor of any shape, one element at a time.

    ``f`` is called as ``f(x)`` with one element of ``x`` moved by ±h (in place, so a closure
    that reads ``x`` sees the change, as the book's ``TwoLayerNet`` relies on).  Each element is
    restored to its saved value, bit for bit, even if ``f`` raises.

    Integer tensors are refused (the book's version returns ``zeros_like(x)`` and truncates x+h),
    and float32 warns: its rounding (~1e-7 relative) divided by 2h = 2e-4 is ~1e-3 of absolute
    error, often more than the gradient itself.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"x: expected a torch.Tensor (it is perturbed in place), got {type(x).__name__}"
        )
    as_float_tensor(x, "x", allow_int=False)
    check_inplace_ok(x, "x")
    check_finite(x, "x")
    check_choice(method, "method", METHODS)
    h = check_positive(h, "h")
    _warn_precision(x, h)
    grad = torch.zeros(x.shape, dtype=torch.float64)
    with torch.no_grad():
        f0 = scalar_value(f(x)) if method != "central" else None
        for idx in itertools.product(*(range(s) for s in x.shape)):
            saved = x[idx].clone()
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
    return grad.to(device=x.device, dtype=x.dtype)


def numerical_gradient_fast(
    f_batched: Callable[[Tensor], Tensor],
    x: Tensor,
    h: float = 1e-4,
    method: str = "central",
    *,
    chunk: int = 4096,
) -> Tensor:
    """The differences of ``numerical_gradient``, with many perturbed points per call.

    ``f_batched`` takes a stack ``(B, *x.shape)`` of points and returns their ``(B,)`` values.
    Point b is x with one element set to x_i + h or x_i - h (computed as in the element loop,
    so a row-wise f gives the loop's numbers); at most ``chunk`` points go into one call.
    ``x`` itself is never modified.  float32 warns as in ``numerical_gradient``.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x: expected a torch.Tensor, got {type(x).__name__}")
    as_float_tensor(x, "x", allow_int=False)
    check_choice(method, "method", METHODS)
    h = check_positive(h, "h")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk: expected a positive int, got {chunk!r}")
    _warn_precision(x, h)
    flat = x.detach().reshape(-1)
    n = flat.numel()
    shifts = {"central": (h, -h), "forward": (h,), "backward": (-h,)}[method]
    with torch.no_grad():
        f0 = None
        if method != "central":
            f0 = _call_batched(f_batched, x.detach()[None], 1)[0]
        values = []
        for s in shifts:
            out = torch.empty(n, dtype=x.dtype, device=x.device)
            for i0 in range(0, n, chunk):
                idx = torch.arange(i0, min(i0 + chunk, n), device=x.device)
                pts = flat.expand(len(idx), n).clone()
                pts[torch.arange(len(idx), device=x.device), idx] = flat[idx] + s
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
    return grad.reshape(x.shape)


def directional_derivative(
    f: Callable[[Tensor], float], x: Tensor, v: Tensor, h: float = 1e-4
) -> Tensor:
    """The slope of f at x along v: D_v f(x) = ∇f(x)·v / |v|, by a central difference along
    the unit vector u = v / |v|:

        D_v f(x) ≈ (f(x + h u) - f(x - h u)) / 2h   (error h²/6 · ∂³f/∂u³ + rounding, as in
        ``numerical_diff``; |v| is the Euclidean norm over all elements).

    ``x`` is not modified; f is called on two new float64 tensors.  A 0-d float64 tensor.
    """
    x = as_float_tensor(x, "x", allow_int=False).detach().to(F64)
    check_finite(x, "x")
    v = as_float_tensor(v, "v").detach().to(device=x.device, dtype=F64)
    if v.shape != x.shape:
        raise ValueError(f"v: expected the shape of x, {tuple(x.shape)}, got {tuple(v.shape)}")
    check_finite(v, "v")
    norm = torch.sqrt(torch.sum(v * v))
    if float(norm) == 0:
        raise ValueError("v: expected a non-zero direction, got the zero vector")
    h = check_positive(h, "h")
    u = v / norm
    with torch.no_grad():
        fp, fm = _scalar(f(x + h * u)), _scalar(f(x - h * u))
    return (_value(fp).to(F64) - _value(fm).to(F64)) / (2 * h)


def _call_batched(f_batched: Callable[[Tensor], Tensor], pts: Tensor, b: int) -> Tensor:
    out = f_batched(pts)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (b,):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"f_batched: expected a tensor of shape ({b},) from {b} points, got {got}")
    return out


def difference_errors(
    f: Callable[[float], float],
    x: float,
    exact: float,
    hs: Sequence[float],
    method: str = "central",
) -> Tensor:
    """|numerical_diff(f, x, h, method) - exact| for each h in ``hs`` (a float64 tensor)."""
    return torch.tensor(
        [abs(float(numerical_diff(f, x, h, method)) - exact) for h in hs], dtype=torch.float64
    )


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
        torch.logspace(-1, -3, 9, dtype=torch.float64)
        if hs is None
        else as_float_tensor(hs, "hs").to(torch.float64)
    )
    if hs.ndim != 1 or hs.numel() < 2:
        raise ValueError(f"hs: expected at least two step sizes, got {hs!r}")
    errs = difference_errors(f, x, exact, hs.tolist(), method)
    if bool(torch.any(errs == 0)):
        raise ValueError(
            f"hs: the {method} error is exactly 0 at some h, so no order can be fitted; "
            "use a function whose truncation error is non-zero"
        )
    # Least-squares line through (log h, log err): slope = cov / var.
    lx, ly = torch.log(hs), torch.log(errs)
    dx = lx - lx.mean()
    return float(torch.sum(dx * (ly - ly.mean())) / torch.sum(dx * dx))


def gradient_descent(
    f: Callable[[Tensor], float],
    init_x: Tensor,
    lr: float = 0.01,
    step_num: int = 100,
    grad: Callable[[Tensor], Tensor] | None = None,
) -> tuple[Tensor, Tensor]:
    """x_{n+1} = x_n - lr ∇f(x_n), ``step_num`` times from a float64 copy of ``init_x``.

    Returns ``(x, path)`` where ``path[i]`` is the point before step i (shape (step_num, *x)).
    ``init_x`` is not mutated (the book's version moves it).  ∇f is the central-difference
    ``numerical_gradient`` unless an analytic ``grad`` is given.  From (-3, 4) on x0² + x1²:
    lr 0.1 reaches about (-6.1e-10, 8.1e-10); lr 10 diverges; lr 1e-10 barely moves.
    """
    x = as_float_tensor(init_x, "init_x").detach().to(torch.float64, copy=True)
    check_finite(x, "init_x")
    lr = check_positive(lr, "lr")
    if isinstance(step_num, bool) or not isinstance(step_num, numbers.Integral) or step_num < 0:
        raise ValueError(f"step_num: expected a non-negative int, got {step_num!r}")
    grad_fn = grad if grad is not None else (lambda p: numerical_gradient(f, p))
    check_allocation(8 * step_num * x.numel(), "step_num", f"the path of {step_num} steps")
    path = torch.empty((step_num, *x.shape), dtype=torch.float64, device=x.device)
    for i in range(step_num):
        path[i] = x
        g = grad_fn(x)
        if not isinstance(g, torch.Tensor) or g.shape != x.shape:
            got = tuple(g.shape) if isinstance(g, torch.Tensor) else type(g).__name__
            raise ValueError(
                f"grad: expected grad(x), a tensor of shape {tuple(x.shape)}, got {got}"
            )
        x -= lr * g
    return x, path
