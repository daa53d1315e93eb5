"""The numbers the study notes print, and the convergence orders of the three schemes."""

from __future__ import annotations

import numpy as np

from ..observe import Observation
from .context import Context

GROUP = "seeds"
T = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0], dtype=float)
Y1 = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
Y2 = np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0])

#: (label, function of an engine, printed value).  f'(10) and ∂f/∂x0 are given as the book
#: prints them; note 003 carries two transcription slips (0.29999999999986347, 6.0000000000378).
PRINTED = [
    ("MSE y1", lambda e: e.forward("mean_squared_error", Y1, T), 0.09750000000000003),
    ("MSE y2", lambda e: e.forward("mean_squared_error", Y2, T), 0.5975),
    ("CEE y1", lambda e: e.forward("cross_entropy_error", Y1, T), 0.510825457099338),
    ("CEE y2", lambda e: e.forward("cross_entropy_error", Y2, T), 2.302584092994546),
    ("f'(5), 0.01x²+0.1x", lambda e: _diff(e, lambda x: 0.01 * x**2 + 0.1 * x, 5.0),
     0.1999999999990898),
    ("f'(10), 0.01x²+0.1x", lambda e: _diff(e, lambda x: 0.01 * x**2 + 0.1 * x, 10.0),
     0.2999999999986347),
    ("∂f/∂x0 at (3,4)", lambda e: _diff(e, lambda x: x**2 + 4.0**2, 3.0), 6.00000000000378),
    ("∂f/∂x1 at (3,4)", lambda e: _diff(e, lambda x: 3.0**2 + x**2, 4.0), 7.999999999999119),
    # The notes' numerical_gradient(function_2, [3, 4]): the element loop and the batched
    # version perturb each coordinate as numerical_diff does, so they print the same numbers.
    *[(f"{name} ∂f/∂x{i} at (3,4)", lambda e, name=name, i=i: _grad(e, name)[i], printed)
      for name in ("numerical_gradient", "numerical_gradient_fast")
      for i, printed in enumerate((6.00000000000378, 7.999999999999119))],
    ("gradient descent x0, lr 0.1", lambda e: _gd(e, 0.1)[0], -6.11110793e-10),
    ("gradient descent x1, lr 0.1", lambda e: _gd(e, 0.1)[1], 8.14814391e-10),
    ("gradient descent x0, lr 1e-10", lambda e: _gd(e, 1e-10)[0], -2.99999994),
]


def _diff(e, f, x):
    out = e.fn("gradient", "numerical_diff")(f, e.to(np.float64(x)) if e.framework == "torch"
                                             else x)
    return float(e.back(out))


def function_2(v):
    """The notes' f(x0, x1) = x0² + x1², of one point (2,) or, batched, of a stack (B, 2)."""
    return v[..., 0] ** 2 + v[..., 1] ** 2


def _grad(e, name, method="central"):
    """function_2 differentiated at (3, 4) by ``name`` (the element loop or the batched one)."""
    return e.back(e.fn("gradient", name)(function_2, e.to(np.array([3.0, 4.0])), method=method))


def _one_sided(method: str, i: int, h: float = 1e-4) -> float:
    """(f(x + h e_i) - f(x)) / h (forward) or (f(x) - f(x - h e_i)) / h (backward) at (3, 4)."""
    x = np.array([3.0, 4.0])
    xs = x.copy()
    xs[i] += h if method == "forward" else -h
    fx, fs = float(function_2(x)), float(function_2(xs))
    return (fs - fx) / h if method == "forward" else (fx - fs) / h


def _gd(e, lr=None, path=False):
    """gradient_descent of function_2 from (-3, 4): at ``lr`` for 100 steps, else the defaults;
    the point reached, or with ``path`` the points before each step (the notes plot them)."""
    kw = {} if lr is None else {"lr": lr, "step_num": 100}
    x, points = e.fn("gradient", "gradient_descent")(function_2, e.to(np.array([-3.0, 4.0])),
                                                      **kw)
    return e.back(points if path else x)


#: (label, function of an engine, kind, value of the formula computed here in float64): what
#: the notes define but print no number for.
FORMULAS = [
    # One-sided differences of function_2 at (3, 4) through both versions: the same float64
    # arithmetic as :func:`_one_sided`, so "printed" (a rounding unit or two) bounds them.
    *[(f"{name}, {method} ∂f/∂x{i} at (3,4)", lambda e, n=name, m=method, i=i: _grad(e, n, m)[i],
       "printed", _one_sided(method, i))
      for name in ("numerical_gradient", "numerical_gradient_fast")
      for method in ("forward", "backward") for i in (0, 1)],
    # The book's defaults, lr 0.01 and 100 steps: on x0² + x1² each step multiplies x by
    # 1 - 2·lr (a central difference of a quadratic has no truncation error; its rounding,
    # ~eps·25/h = 6e-11 per gradient, moves x0 by under 1e-10 in 100 steps), so x0 is
    # -3·0.98^100 to 8 digits.
    ("gradient descent x0, the defaults (lr 0.01, 100 steps)", lambda e: _gd(e)[0], "printed8",
     -3 * 0.98**100),
    # The path the notes plot: the point before step i is 0.98^i·(-3, 4), to the same bound.
    ("gradient descent's path, the defaults: 0.98^i·(-3, 4) before step i",
     lambda e: _gd(e, path=True), "printed8",
     np.array([-3.0, 4.0]) * 0.98 ** np.arange(100)[:, None]),
]


#: convergence_order's documented default steps: 9 of them, log-spaced from 1e-1 to 1e-3.
DEFAULT_STEPS = np.geomspace(1e-1, 1e-3, 9)


def fitted_order(f, x: float, exact: float, method: str) -> float:
    """The slope of log|D(h) - exact| against log h over the default steps, D the forward,
    backward or central difference: convergence_order's definition, computed here."""
    d = {"forward": lambda h: (f(x + h) - f(x)) / h,
         "backward": lambda h: (f(x) - f(x - h)) / h,
         "central": lambda h: (f(x + h) - f(x - h)) / (2 * h)}[method]
    errors = [abs(d(h) - exact) for h in DEFAULT_STEPS]
    return float(np.polyfit(np.log(DEFAULT_STEPS), np.log(errors), 1)[0])


def observe(ctx: Context) -> list[Observation]:
    obs = []
    engines = [ctx.reference] + [e for e in ctx.engines if e.dtype == "float64"]
    for eng in engines:
        for label, fn, printed in PRINTED:
            # The notes print 8 significant digits for gradient descent; 16-17 elsewhere.
            kind = "printed8" if "gradient descent" in label else "printed"
            obs.append(Observation("seeds' printed numbers", GROUP, eng.name, "float64", kind,
                                   label, np.atleast_1d(float(fn(eng))), np.array([printed])))
        for label, fn, kind, value in FORMULAS:
            obs.append(Observation("the notes' formulas, computed here in float64", GROUP,
                                   eng.name, "float64", kind, label,
                                   np.atleast_1d(np.asarray(fn(eng), dtype=np.float64)),
                                   np.atleast_1d(value)))
        conv = eng.fn("gradient", "convergence_order")
        for method, order in (("forward", 1.0), ("backward", 1.0), ("central", 2.0)):
            for fname, f, df, x in (("exp at 1", np.exp, np.exp, 1.0),
                                    ("sin at 0.7", np.sin, np.cos, 0.7)):
                if eng.framework == "torch":
                    import torch

                    tf = {"exp at 1": torch.exp, "sin at 0.7": torch.sin}[fname]
                    got = conv(tf, eng.to(np.float64(x)), float(df(x)), method)
                else:
                    got = conv(f, x, float(df(x)), method)
                obs.append(Observation("convergence order (Taylor: 1, 1, 2)", GROUP, eng.name,
                                       "float64", "order", f"{method}, {fname}",
                                       np.atleast_1d(float(got)), np.array([order])))
                # The order above is loose (the fit's h-dependence); its defaults are not.
                obs.append(Observation("convergence_order's fit over its default steps", GROUP,
                                       eng.name, "float64", "order_fit", f"{method}, {fname}",
                                       np.atleast_1d(float(got)),
                                       np.array([fitted_order(f, x, float(df(x)), method)])))
    return obs
