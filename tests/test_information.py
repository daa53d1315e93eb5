"""Information content, expectation, entropy, cross-entropy and KL, in both engines.

The study notes explain the cross-entropy error through these; the numbers they print are the
expectations here, and the identity H(p, q) = H(p) + KL(p || q) is checked on random pairs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import reference_numpy as rn
import reference_torch as rt
from reference_numpy import information as ni
from reference_torch import information as ti

ENGINES = [pytest.param(ni, id="numpy"), pytest.param(ti, id="torch")]


def _f(x: object) -> np.ndarray:
    return x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _dirichlet(rng: np.random.Generator, n: int, k: int, zeros: bool) -> np.ndarray:
    p = rng.dirichlet(np.ones(k), size=n)
    if zeros:
        p[:, 0] = 0.0
        p /= p.sum(axis=1, keepdims=True)
    return p


@pytest.mark.parametrize("mod", ENGINES)
def test_expectation_of_the_notes_players(mod) -> None:
    # The notes: a steady player, 5 x 0.9 = 4.5; an erratic one, 9 x 0.1 = 0.9.
    assert float(_f(mod.expectation([5.0, 0.0], [0.9, 0.1]))) == pytest.approx(4.5, rel=1e-15)
    assert float(_f(mod.expectation([9.0, 0.0], [0.1, 0.9]))) == pytest.approx(0.9, rel=1e-15)


@pytest.mark.parametrize("mod", ENGINES)
def test_information_is_surprise(mod) -> None:
    got = _f(mod.information_content([1.0, 0.5, 0.25, 0.0], base=2))
    assert got.tolist() == [0.0, 1.0, 2.0, math.inf]


@pytest.mark.parametrize("mod", ENGINES)
def test_entropy_is_expected_information(mod) -> None:
    rng = np.random.default_rng(0)
    p = _dirichlet(rng, 50, 7, zeros=True)
    info = np.where(p > 0, _f(mod.information_content(p)), 0.0)
    np.testing.assert_allclose(_f(mod.entropy(p)), np.sum(p * info, axis=1), rtol=1e-14)
    # A fair coin holds one bit; a certain outcome none.
    assert float(_f(mod.entropy([0.5, 0.5], base=2))) == pytest.approx(1.0, rel=1e-15)
    assert float(_f(mod.entropy([1.0, 0.0]))) == 0.0


@pytest.mark.parametrize("mod", ENGINES)
@pytest.mark.parametrize("zeros", [False, True])
def test_cross_entropy_is_entropy_plus_kl(mod, zeros: bool) -> None:
    rng = np.random.default_rng(1)
    p = _dirichlet(rng, 200, 10, zeros)
    q = _dirichlet(rng, 200, 10, zeros=False)
    h_pq, h_p, kl = (_f(v) for v in (mod.cross_entropy(p, q), mod.entropy(p),
                                     mod.kl_divergence(p, q)))
    # Each side is a sum of 10 terms of size <= log(1/min q) ~ 10 in float64: a few ulp of 10.
    np.testing.assert_allclose(h_pq, h_p + kl, rtol=0, atol=1e-13)
    assert np.all(kl >= -1e-15)
    np.testing.assert_allclose(_f(mod.kl_divergence(p, p)), 0.0, atol=1e-15)


def test_cross_entropy_of_a_label_is_the_books_error_without_delta() -> None:
    # The notes' y1 (class 2 predicted with 0.6): the book prints 0.510825457099338, which is
    # -log(0.6 + 1e-7); without the delta the cross-entropy is -log(0.6) exactly.
    t = np.eye(10)[2]
    y1 = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    assert float(ni.cross_entropy(t, y1)) == -math.log(0.6)
    assert float(rn.cross_entropy_error(y1, t)) == -math.log(0.6 + 1e-7)
    assert float(ti.cross_entropy(torch.from_numpy(t), y1)) == -math.log(0.6)
    assert float(rt.cross_entropy_error(torch.from_numpy(y1), torch.from_numpy(t))) == \
        pytest.approx(float(rn.cross_entropy_error(y1, t)), rel=1e-15)


@pytest.mark.parametrize("mod", ENGINES)
def test_engines_agree(mod) -> None:
    rng = np.random.default_rng(2)
    p, q = _dirichlet(rng, 30, 5, True), _dirichlet(rng, 30, 5, False)
    for name in ("entropy", "information_content"):
        np.testing.assert_allclose(_f(getattr(mod, name)(p)), _f(getattr(ni, name)(p)),
                                   rtol=1e-15, atol=0)
    for name in ("cross_entropy", "kl_divergence"):
        np.testing.assert_allclose(_f(getattr(mod, name)(p, q)), _f(getattr(ni, name)(p, q)),
                                   rtol=1e-14, atol=1e-16)


@pytest.mark.parametrize("mod", ENGINES)
@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda m: m.entropy([0.5, 0.6]), "p: expected each distribution (last axis) to sum to 1"),
        (lambda m: m.entropy([1.5, -0.5]), "p: expected probabilities in [0, 1], got 1.5"),
        (lambda m: m.entropy([float("nan"), 1.0]), "p: expected probabilities in [0, 1]"),
        (lambda m: m.entropy(1.0), "p: expected probabilities along a non-empty last axis"),
        (lambda m: m.entropy(np.zeros((2, 0))), "non-empty last axis, got shape (2, 0)"),
        (lambda m: m.cross_entropy([0.5, 0.5], [1.0]), "q: expected the shape of p (2,)"),
        (lambda m: m.expectation([1.0], [0.5, 0.5]), "x: expected the shape of p (2,)"),
        (lambda m: m.entropy([0.5, 0.5], base=1), "base: expected a positive number other"),
        (lambda m: m.entropy([0.5, 0.5], base=-2), "base"),
        (lambda m: m.information_content([2.0]), "p: expected probabilities in [0, 1], got 2.0"),
        (lambda m: m.entropy(["a", "b"]), "p: expected a real numeric"),
    ],
)
def test_bad_input_is_refused(mod, call, fragment: str) -> None:
    with pytest.raises((ValueError, TypeError), match=None) as info:
        call(mod)
    assert fragment in str(info.value)
