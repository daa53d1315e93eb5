"""Measure the noise behind the tolerance kinds ``descent`` and ``numerical32``.

``descent``: the oracle's gradient-descent cases (verify.api.differentiation) run by three
correct implementations - the reference (central differences), an analytic gradient and torch
autograd - against the reference; prints the largest |a-e|/max|e| and relative Frobenius error
over every case and step count.

``numerical32``: the oracle's float32 numerical_gradient case computed by two correct
implementations - the chapter's loop in float32 (the reference on a float32 array) and a
conversion to float64 - against the float64 central difference at the same point.

Usage: python scripts/measure_oracle_differentiation.py
"""

from __future__ import annotations

import warnings

import numpy as np

from reference_numpy.gradient import gradient_descent, numerical_gradient
from verify.api import differentiation as d


def _errs(a: np.ndarray, e: np.ndarray) -> tuple[float, float, float]:
    diff = np.abs(a - e)
    scale = float(np.max(np.abs(e)))
    large = np.abs(e) >= 0.1 * scale
    return (float(diff.max() / scale), float(np.max(diff[large] / np.abs(e[large]))),
            float(np.linalg.norm(a - e) / np.linalg.norm(e)))


def _analytic(f):
    import torch

    def grad(x: np.ndarray) -> np.ndarray:
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        f(t).backward()
        return t.grad.numpy()

    return grad


def _torch_descent(f, init: np.ndarray, lr: float, n: int) -> np.ndarray:
    import torch

    x = torch.tensor(init, dtype=torch.float64, requires_grad=True)
    for _ in range(n):
        f(x).backward()
        with torch.no_grad():
            x -= lr * x.grad
        x.grad.zero_()
    return x.detach().numpy()


def descent() -> tuple[float, float, float]:
    worst = (0.0, 0.0, 0.0)
    for case in d._DESCENTS:
        init = np.array(case.init)
        for n in d.STEP_NUMS:
            ref, _ = gradient_descent(case.f, init, lr=case.lr, step_num=n)
            ana, _ = gradient_descent(case.f, init, lr=case.lr, step_num=n,
                                      grad=_analytic(case.f))
            tor = _torch_descent(case.f, init, case.lr, n)
            for a in (ana, tor):
                worst = tuple(max(w, e) for w, e in zip(worst, _errs(a, ref), strict=True))
    return worst


def numerical32() -> tuple[float, float, float]:
    x32 = d._POINT_32
    expected = numerical_gradient(d._tilted, x32.astype(np.float64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        in32 = numerical_gradient(d._tilted, x32.copy())
    up = numerical_gradient(d._tilted, x32.astype(np.float64))
    worst = (0.0, 0.0, 0.0)
    for a in (in32, up):
        worst = tuple(max(w, e) for w, e in zip(worst, _errs(a.astype(np.float64), expected),
                                                 strict=True))
    return worst


if __name__ == "__main__":
    for name, fn in (("descent", descent), ("numerical32", numerical32)):
        s, large, frob = fn()
        print(f"{name}: |a-e|/max|e| {s:.2g}, large-element rel {large:.2g}, frob {frob:.2g}")
