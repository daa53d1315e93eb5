"""check_numerical_diff / check_numerical_gradient / check_gradient_descent.

Your ``numerical_diff(f, x)``, ``numerical_gradient(f, x)`` and ``gradient_descent(f, init_x,
lr=, step_num=)`` are run on the oracle's own functions and points and compared with
``reference_numpy.gradient`` (central differences, h = 1e-4), judged by
:func:`verify.observe.judge`:

* ``numerical_diff``: the notes' f(x) = 0.01x² + 0.1x at 5 and 10 must give the printed
  0.1999999999990898 and 0.2999999999986347 (kind ``printed``: the same central difference
  reproduces them to a few ulps); sin, exp and a cubic are compared with the reference's
  central difference (kind ``numerical``).
* ``numerical_gradient``: float64 arrays of shapes (2,), (3,), (2, 3) and (1, 4) (kind
  ``numerical``), plus a float32 and an int input.  float32: computing in float32 (as the book
  does) or converting to float64 both pass, judged with kind ``numerical32``; an exception is
  a refusal, which passes and is named.  int: a refusal or a conversion to float passes; the
  book's in-place ``x[idx] = tmp + h`` on an int array truncates the step and fails, named.
  ``x`` must hold its original values after the call (each element restored).
* ``gradient_descent``: x0² + x1² from (-3, 4) and a tilted quadratic, lr = 0.1, after 1, 2, 10
  and 100 steps (kind ``descent``), so a torch descent that never zeroes ``x.grad`` fails at
  step 2.  NumPy arrays are tried first, then torch tensors (float64).

A failure that a known wrong variant reproduces names it (forward difference, the book's
h = 1e-50, ...).  Your code failing (raising, returning the wrong shape or no number, leaving
``x`` changed) is a failed verdict quoting what happened; your inputs are fresh copies.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..report import CheckResult
from ._common import _check_callable, _is_tensor, _Run, _torch
from ._usercode import UserFailure, as_result_array, call, matches

__all__ = ["check_numerical_diff", "check_numerical_gradient", "check_gradient_descent",
           "NOTES_DIFF"]

H = 1e-4
#: The study notes' printed values of numerical_diff(0.01x² + 0.1x, x) at x = 5 and 10.
NOTES_DIFF = {5.0: 0.1999999999990898, 10.0: 0.2999999999986347}


def _quadratic(x: Any) -> Any:
    return 0.01 * x ** 2 + 0.1 * x


def _cubic(x: Any) -> Any:
    return x ** 3 - 2 * x


_DIFF_CASES: list[tuple[str, Callable[[float], float], float]] = [
    ("0.01x² + 0.1x at x = 5", _quadratic, 5.0),
    ("0.01x² + 0.1x at x = 10", _quadratic, 10.0),
    ("sin x at x = 1", math.sin, 1.0),
    ("exp x at x = -0.5", math.exp, -0.5),
    ("x³ - 2x at x = 2", _cubic, 2.0),
]


def _scalar(value: object, what: str) -> float:
    arr = as_result_array(value, what)
    if arr.size != 1:
        raise UserFailure(f"{what} returned shape {arr.shape}, expected one number")
    return float(arr.reshape(()))


def _diff_variants(f: Callable[[float], float], x: float) -> dict[str, float]:
    """What the known wrong (or non-chapter) numerical_diff variants return at x."""
    out = {
        "a forward difference (f(x+h) - f(x)) / h: its error is h·f''/2, first order in h; "
        "use the central (f(x+h) - f(x-h)) / 2h": (f(x + H) - f(x)) / H,
        "a backward difference (f(x) - f(x-h)) / h: first order in h; use the central "
        "difference": (f(x) - f(x - H)) / H,
        "the central difference divided by h instead of 2h (twice the derivative)":
            (f(x + H) - f(x - H)) / H,
        "h = 1e-50 (the book's bad example: x + h == x in float64, so the result is 0.0); "
        "use h = 1e-4": (f(x + 1e-50) - f(x - 1e-50)) / 2e-50,
    }
    for h in (1e-3, 1e-5, 1e-6):
        out[f"a central difference with h = {h:g} (the chapter's, and the notes' numbers, "
            f"use h = 1e-4)"] = (f(x + h) - f(x - h)) / (2 * h)
    return out


def _name_variant(run: _Run, got: dict[str, float], variants: dict[str, dict[str, float]]
                  ) -> None:
    """Add a hint naming the variant that reproduces every case the user returned."""
    if not got:
        return
    for name in next(iter(variants.values())):
        a = np.array([got[c] for c in got])
        e = np.array([variants[c][name] for c in got])
        if matches(a, e):
            run.hints.append(f"cause: your numerical_diff equals {name}")
            run.details["notes"] = [f"equals {name.split(':')[0].split(' (')[0]}"]
            return


def check_numerical_diff(fn: Callable[[Callable[[float], float], float], Any]) -> CheckResult:
    """Check your ``numerical_diff(f, x)`` (the chapter's derivative of a scalar function).

    See the module docstring for the cases and kinds.  ``fn`` is called as ``fn(f, x)`` with a
    Python float ``x`` and must return one number.
    """
    _check_callable(fn, "fn", "a callable numerical_diff(f, x)")
    from reference_numpy.gradient import numerical_diff

    run = _Run("numerical_diff", "differentiation", engine="user numpy/float64")
    got: dict[str, float] = {}
    variants: dict[str, dict[str, float]] = {}
    for case, f, x in _DIFF_CASES:
        try:
            value = _scalar(call(f"numerical_diff on {case}", fn, f, x), "numerical_diff")
        except UserFailure as exc:
            run.problem(case, str(exc))
            continue
        got[case] = value
        variants[case] = _diff_variants(f, x)
        if f is _quadratic:
            run.observe("float64", "printed", f"{case} (notes print {NOTES_DIFF[x]!r})", value,
                        NOTES_DIFF[x])
        else:
            run.observe("float64", "numerical", case, value, numerical_diff(f, x))
    res = run.result()
    if not res.passed:
        _name_variant(run, got, variants)
        res = run.result()
    return res


# --------------------------------------------------------------------------- numerical_gradient


def _sum_squares(x: Any) -> Any:
    return np.sum(x ** 2)


def _sin_x(x: Any) -> Any:
    return np.sum(np.sin(x) * x)


_W23 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
_W14 = np.array([[1.0, -2.0, 0.5, 3.0]])


def _tanh_weighted(x: Any) -> Any:
    return np.sum(np.tanh(x) * _W23) + 0.1 * np.sum(x ** 3)


def _exp_row(x: Any) -> Any:
    return np.log(np.sum(np.exp(x * _W14)))


def _tilted(x: Any) -> Any:
    """x0² + x1² + 0.5·x0·x1: at the int point (3, 4) the gradient (8, 9.5) is not integral."""
    return x[0] ** 2 + x[1] ** 2 + 0.5 * x[0] * x[1]


_GRAD_CASES: list[tuple[str, Callable[[Any], Any], np.ndarray]] = [
    ("x0² + x1² at (3, 4), shape (2,)", _sum_squares, np.array([3.0, 4.0])),
    ("Σ x·sin x, shape (3,)", _sin_x, np.array([0.3, -1.2, 2.0])),
    ("Σ w·tanh x + 0.1 Σ x³, 2-D shape (2, 3)", _tanh_weighted,
     np.array([[0.1, -0.4, 0.9], [1.3, -0.2, 0.6]])),
    ("log Σ exp(w·x), 2-D shape (1, 4)", _exp_row, np.array([[0.2, 0.1, -0.3, 0.05]])),
]
_POINT_32 = np.array([3.0, 4.0], dtype=np.float32)
_POINT_INT = np.array([3, 4], dtype=np.int64)


def _restored(run: _Run, case: str, passed: np.ndarray, original: np.ndarray) -> bool:
    if passed.shape == original.shape and np.array_equal(passed, original):
        return True
    diff = np.argwhere(passed != original) if passed.shape == original.shape else []
    where = f", first at index {tuple(int(i) for i in diff[0])}" if len(diff) else ""
    run.problem(case, f"x holds different values after the call{where} ({original.tolist()} "
                f"became {passed.tolist()}): restore each element after perturbing it, as the "
                f"chapter's loop does (x[idx] = tmp_val)")
    return False


def _int_variants(f: Callable[[Any], Any], x: np.ndarray) -> dict[str, np.ndarray]:
    """The book's loop run on an int array: the step x ± h truncated, the gradient int too."""
    out = {}
    for grad_dtype in (x.dtype, np.float64):
        xi = x.copy()
        grad = np.zeros(x.shape, dtype=grad_dtype)
        for idx in np.ndindex(x.shape):
            tmp = xi[idx]
            xi[idx] = tmp + H  # an int array truncates 3.0001 to 3 and 3.9999 to 3
            fp = f(xi)
            xi[idx] = tmp - H
            fm = f(xi)
            xi[idx] = tmp
            grad[idx] = (fp - fm) / (2 * H)
        out[np.dtype(grad_dtype).name] = grad
    return out


def check_numerical_gradient(fn: Callable[[Callable[[Any], Any], np.ndarray], Any]
                             ) -> CheckResult:
    """Check your ``numerical_gradient(f, x)`` (∂f/∂x for every element of an array).

    See the module docstring for the cases: float64 arrays of several shapes, 2-D included,
    then a float32 and an int input whose handling is named in ``details["notes"]`` (a refusal
    passes; a silently truncated int step fails).
    """
    _check_callable(fn, "fn", "a callable numerical_gradient(f, x)")
    from reference_numpy.gradient import numerical_gradient

    run = _Run("numerical_gradient", "differentiation", engine="user numpy/float64")
    notes: list[str] = []
    for case, f, x0 in _GRAD_CASES:
        x = x0.copy()
        try:
            out = as_result_array(call(f"numerical_gradient on {case}", fn, f, x),
                                  "numerical_gradient")
        except UserFailure as exc:
            run.problem(case, str(exc))
            continue
        if not _restored(run, case, x, x0):
            continue
        if out.shape != x0.shape:
            run.problem(case, f"returned shape {out.shape}, expected x's shape {x0.shape}"
                        + (" (a loop over x.size indexes rows of a 2-D x: iterate over every "
                           "element, e.g. np.nditer or np.ndindex)" if x0.ndim > 1 else ""))
            continue
        if out.dtype != np.float64:
            notes.append(f"returned {out.dtype} for a float64 x ({case})")
        run.observe("float64", "numerical", case, out, numerical_gradient(f, x0.copy()))
    _float32_case(run, fn, notes)
    _int_case(run, fn, notes)
    run.details["notes"] = notes
    return run.result()


def _float32_case(run: _Run, fn: Callable[..., Any], notes: list[str]) -> None:
    from reference_numpy.gradient import numerical_gradient

    case = "float32 input x0² + x1² + 0.5·x0·x1 at (3, 4)"
    x = _POINT_32.copy()
    try:
        out = as_result_array(call("numerical_gradient on a float32 x", fn, _tilted, x),
                              "numerical_gradient")
    except UserFailure as exc:
        if "raised" in str(exc):
            notes.append(f"refuses a float32 x ({str(exc).split(' raised ', 1)[1]})")
            return
        run.problem(case, str(exc))
        return
    if not _restored(run, case, x, _POINT_32) or out.shape != x.shape:
        if out.shape != x.shape:
            run.problem(case, f"returned shape {out.shape}, expected {x.shape}")
        return
    how = "in float32" if out.dtype == np.float32 else f"returning {out.dtype}"
    notes.append(f"computes a float32 x {how}")
    expected = numerical_gradient(_tilted, _POINT_32.astype(np.float64))
    run.observe("float32-cpu", "numerical32", case, out, expected)


def _int_case(run: _Run, fn: Callable[..., Any], notes: list[str]) -> None:
    from reference_numpy.gradient import numerical_gradient

    case = "int input x0² + x1² + 0.5·x0·x1 at (3, 4)"
    x = _POINT_INT.copy()
    try:
        out = as_result_array(call("numerical_gradient on an int x", fn, _tilted, x),
                              "numerical_gradient")
    except UserFailure as exc:
        if "raised" in str(exc):
            notes.append(f"refuses an int x ({str(exc).split(' raised ', 1)[1]})")
            return
        run.problem(case, str(exc))
        return
    if not _restored(run, case, x, _POINT_INT):
        return
    if out.shape != x.shape:
        run.problem(case, f"returned shape {out.shape}, expected {x.shape}")
        return
    expected = numerical_gradient(_tilted, _POINT_INT.astype(np.float64))
    trunc = _int_variants(_tilted, _POINT_INT)
    if any(matches(out, v) for v in trunc.values()):
        cause = ("an int x was perturbed in place and truncated: x[idx] = tmp + h stores "
                 "3 + 1e-4 as 3 and 3 - 1e-4 as 2, so the step is 1, not 2h; convert x to "
                 "float first (x = x.astype(float)) or refuse int input")
        notes.append("truncates an int x")
        run.problem(case, f"returned {out.tolist()} for an int x, expected {expected.tolist()}"
                    f": {cause}")
        return
    if out.dtype.kind in "iub":
        notes.append("returns an int gradient for an int x")
        run.problem(case, f"returned an {out.dtype} gradient {out.tolist()}, expected "
                    f"{expected.tolist()}: the gradient array takes x's int dtype "
                    f"(np.zeros_like(x) of an int x) and truncates every element")
        return
    notes.append(f"converts an int x to float (returns {out.dtype})")
    run.observe("float64", "numerical", case, out, expected)


# --------------------------------------------------------------------------- gradient_descent


def _descent_tilted(x: Any) -> Any:
    return (x[0] - 1) ** 2 + 2 * (x[1] + 0.5) ** 2 + 0.5 * x[0] * x[1]


@dataclass(frozen=True)
class _Descent:
    name: str
    f: Callable[[Any], Any]
    init: tuple[float, ...]
    lr: float = 0.1


_DESCENTS = (
    _Descent("x0² + x1² from (-3, 4)", lambda x: x[0] ** 2 + x[1] ** 2, (-3.0, 4.0)),
    _Descent("(x0 - 1)² + 2(x1 + 0.5)² + 0.5·x0·x1 from (2, -1.5)", _descent_tilted,
             (2.0, -1.5)),
)
#: Step counts compared: the first two find a descent that goes wrong from its second step.
STEP_NUMS = (1, 2, 10, 100)


def _final_x(out: object, shape: tuple[int, ...]) -> np.ndarray:
    """``x`` from a return of ``x`` or ``(x, path)`` (the reference returns both)."""
    if isinstance(out, tuple) and len(out) == 2:
        out = out[0]
    arr = as_result_array(out, "gradient_descent")
    if arr.shape != shape:
        raise UserFailure(f"gradient_descent returned shape {arr.shape}, expected init_x's "
                          f"shape {shape}")
    return arr


def check_gradient_descent(fn: Callable[..., Any], *, lr: float = 0.1) -> CheckResult:
    """Check your ``gradient_descent(f, init_x, lr=, step_num=)`` over many steps.

    Called with ``lr`` (0.1) and ``step_num`` 1, 2, 10 and 100 on each function of the module
    docstring; the final ``x`` (or the ``x`` of a returned ``(x, path)``) is compared with
    ``reference_numpy.gradient.gradient_descent`` (kind ``descent``).  NumPy float64 first; if
    that raises, torch float64 tensors (an autograd descent).  Moving ``init_x`` in place, as
    the book's does, is allowed (you get a copy) and noted.
    """
    _check_callable(fn, "fn", "a callable gradient_descent(f, init_x, lr=, step_num=)")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (
            math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr: expected a finite number > 0, got {lr!r}")
    from reference_numpy.gradient import gradient_descent

    framework = "numpy"
    first = _DESCENTS[0]
    try:
        call("gradient_descent with a NumPy init_x", fn, first.f, np.array(first.init),
             lr=lr, step_num=1)
    except UserFailure as np_exc:
        try:
            torch = _torch()
            call("gradient_descent with a torch init_x", fn, first.f,
                 torch.tensor(first.init, dtype=torch.float64), lr=lr, step_num=1)
            framework = "torch"
        except ImportError:
            pass
        except UserFailure as torch_exc:
            run = _Run("gradient_descent", "differentiation", engine="user numpy/float64")
            run.problem(first.name, f"{np_exc}; with a torch tensor it {torch_exc}")
            return run.result()
    run = _Run("gradient_descent", "differentiation", engine=f"user {framework}/float64")
    notes: list[str] = []
    for d in _DESCENTS:
        for n in STEP_NUMS:
            init = np.array(d.init)
            x_in: Any = init.copy()
            if framework == "torch":
                x_in = _torch().tensor(init, dtype=_torch().float64)
            try:
                out = call(f"gradient_descent({d.name}, lr={lr}, step_num={n})", fn, d.f, x_in,
                           lr=lr, step_num=n)
                x = _final_x(out, init.shape)
            except UserFailure as exc:
                run.problem(f"{d.name}, step_num={n}", str(exc))
                break
            now = x_in.detach().cpu().numpy() if _is_tensor(x_in) else np.asarray(x_in)
            if not np.array_equal(now, init) and not notes:
                notes.append("moves init_x in place (as the book's does; the oracle passes a "
                             "copy)")
            expected, _ = gradient_descent(d.f, init, lr=lr, step_num=n)
            run.observe("float64", "descent", d.name, x, expected, step=n)
    run.details.update({"notes": notes, "lr": lr, "step_nums": list(STEP_NUMS)})
    res = run.result()
    if not res.passed and res.first_divergence_step == 2 and framework == "torch":
        run.hints.append("cause: right after one step, wrong from the second: a torch descent "
                         "that never zeroes x.grad adds every step's gradient to the last "
                         "(call x.grad.zero_() after each update)")
        res = run.result()
    return res

