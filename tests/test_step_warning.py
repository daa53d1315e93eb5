"""A step h too small for numerical_diff warns, saying why (the chapter's h = 1e-50 example)."""

from __future__ import annotations

import warnings

import pytest
import torch

import reference_numpy as rn
import reference_torch as rt


def f(x):
    return 0.01 * x**2 + 0.1 * x


@pytest.mark.parametrize("engine", [rn, rt], ids=["numpy", "torch"])
@pytest.mark.parametrize(
    ("h", "fragment"),
    [(1e-50, r"x \+ h == x at x = 5\.0"), (1e-7, "rounding dominates")],
)
def test_too_small_a_step_warns(engine, h: float, fragment: str) -> None:
    x = 5.0 if engine is rn else torch.tensor(5.0, dtype=torch.float64)
    with pytest.warns(rn.PrecisionWarning, match=fragment):
        got = float(engine.numerical_diff(f, x, h=h))
    if h == 1e-50:
        assert got == 0.0  # what the book's example prints


@pytest.mark.parametrize("h", [1e-4, 1e-3, 2e-4])
def test_the_chapters_step_does_not_warn(h: float) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rn.numerical_diff(f, 5.0, h=h)


def test_the_threshold_scales_with_x() -> None:
    # At x = 1e6 a step of 1e-4 is below h* = 8.7e-6 * 1e6: rounding dominates there.
    assert rn.gradient.step_warning(1e6, 1e-4) is not None
    assert rn.gradient.step_warning(5.0, 1e-4) is None
