"""reference_numpy.functions and gradient: the seeds' printed numbers, properties, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import reference_numpy as rn

# The seeds' example (notes 003): class 2 is the answer; y1 bets on 2, y2 on 7.
T = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
Y1 = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
Y2 = np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0])


# --------------------------------------------------------------------------- the seeds' numbers
# Each row: (expression, value the seeds print).  Exact equality: the same float64 operations
# in the same order give the same bits.
SEED_NUMBERS = [
    (lambda: rn.mean_squared_error(Y1, T), 0.09750000000000003),
    (lambda: rn.mean_squared_error(Y2, T), 0.5975),
    (lambda: rn.cross_entropy_error(Y1, T), 0.510825457099338),
    (lambda: rn.cross_entropy_error(Y2, T), 2.302584092994546),
    (lambda: rn.cross_entropy_error(Y1, 2), 0.510825457099338),  # label form, same value
    (lambda: rn.numerical_diff(lambda x: 0.01 * x**2 + 0.1 * x, 5), 0.1999999999990898),
    # Note 003 prints 0.29999999999986347 (an extra 9); the book and the issue give this value.
    (lambda: rn.numerical_diff(lambda x: 0.01 * x**2 + 0.1 * x, 10), 0.2999999999986347),
    # Note 003 prints 6.0000000000378 (a 0 dropped); the book's value:
    (lambda: rn.numerical_diff(lambda x0: x0**2 + 4.0**2, 3.0), 6.00000000000378),
    (lambda: rn.numerical_diff(lambda x1: 3.0**2 + x1**2, 4.0), 7.999999999999119),
]


@pytest.mark.parametrize("expr,expected", SEED_NUMBERS)
def test_seed_numbers(expr, expected):
    assert float(expr()) == expected


def test_mse_mean_form():
    # E1 = 1/n Σ (y - t)² from note 000: twice the half-sum divided by n.
    assert rn.mean_squared_error(Y1, T, reduction="mean") == pytest.approx(
        2 * 0.0975 / 10, rel=1e-15
    )
    assert rn.mean_squared_error(Y1, T, reduction="sum") == pytest.approx(0.195, rel=1e-15)


def test_gradient_descent_seed_runs():
    f = lambda x: x[0] ** 2 + x[1] ** 2  # noqa: E731
    init = np.array([-3.0, 4.0])
    x, path = rn.gradient_descent(f, init, lr=0.1, step_num=100)
    np.testing.assert_allclose(x, [-6.11110793e-10, 8.14814391e-10], rtol=1e-8)
    assert path.shape == (100, 2) and np.array_equal(path[0], [-3.0, 4.0])
    np.testing.assert_array_equal(init, [-3.0, 4.0])  # not mutated
    big, _ = rn.gradient_descent(f, init, lr=10.0, step_num=100)
    assert np.linalg.norm(big) > 1e12  # diverges (book: [-2.58983747e+13, -1.29524862e+12])
    tiny, _ = rn.gradient_descent(f, init, lr=1e-10, step_num=100)
    np.testing.assert_allclose(tiny, [-2.99999994, 3.99999992], rtol=1e-8)


def test_numerical_gradient_of_sum_of_squares():
    f = lambda x: np.sum(x**2)  # noqa: E731
    np.testing.assert_allclose(rn.numerical_gradient(f, np.array([3.0, 4.0])), [6, 8], rtol=1e-10)
    np.testing.assert_allclose(rn.numerical_gradient(f, np.array([0.0, 2.0])), [0, 4], atol=1e-10)


@pytest.mark.parametrize("method,order", [("forward", 1), ("backward", 1), ("central", 2)])
@pytest.mark.parametrize("f,df,x", [(np.exp, np.exp, 1.0), (np.sin, np.cos, 0.7)])
def test_convergence_order_matches_taylor(method, order, f, df, x):
    # The seeds' Taylor analysis: forward/backward O(h), central O(h²).  Measured slopes on exp
    # at 1: 1.006, 0.994, 2.0001; we accept ±0.1 around the integer order.
    assert rn.convergence_order(f, x, float(df(x)), method) == pytest.approx(order, abs=0.1)


def test_convergence_order_refuses_exact_scheme():
    with pytest.raises(ValueError, match="exactly 0"):
        rn.convergence_order(lambda x: 2 * x, 1.0, 2.0, "central", hs=[0.5, 0.25])


# --------------------------------------------------------------------------- numerical_gradient


def test_numerical_gradient_refuses_int_and_warns_on_float32():
    with pytest.raises(TypeError, match="x: expected a floating-point array"):
        rn.numerical_gradient(lambda x: np.sum(x**2), np.array([3, 4]))
    with pytest.warns(rn.PrecisionWarning, match="float32"):
        rn.numerical_gradient(lambda x: np.sum(x**2), np.array([3.0, 4.0], dtype=np.float32))


def test_numerical_gradient_restores_x_even_when_f_raises():
    x = np.array([0.1, 0.2, 0.3])
    before = x.copy()
    calls = []

    def f(v):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("boom")
        return float(np.sum(v**3))

    with pytest.raises(RuntimeError, match="boom"):
        rn.numerical_gradient(f, x)
    assert x.tobytes() == before.tobytes()


@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 3), st.integers(1, 4)),
        elements=st.floats(-3, 3, allow_nan=False),
    )
)
def test_numerical_gradient_any_shape_bit_exact_restore(x):
    before = x.copy()
    g = rn.numerical_gradient(lambda v: float(np.sum(np.sin(v))), x)
    assert x.tobytes() == before.tobytes()
    # Central difference of f = Σ sin, h = 1e-4: truncation h²/6·|f‴(ξ)| with |ξ - x| ≤ h, and
    # |f‴(ξ)| = |cos ξ| ≤ |cos x| + h.  Rounding: f is a sum of m sines (each within 1 ulp), so
    # each f(x ± h) is off by ≤ (m + 1)·eps·S, S = Σ|sin x| + 1, and the difference over 2h by
    # ≤ (m + 1)·eps·S/h; x ± h itself is rounded (½ulp of |x| + h), which changes the step 2h
    # by ≤ eps·(|x| + h), a relative error of eps·(|x| + h)/(2h) on |cos x| ≤ 1.
    h, eps, m = 1e-4, np.finfo(np.float64).eps, x.size
    bound = (
        h**2 / 6 * (np.abs(np.cos(x)) + h)
        + (m + 1) * eps * (np.sum(np.abs(np.sin(x))) + 1) / h
        + eps * (np.abs(x) + h) / (2 * h)
    )
    assert np.all(np.abs(g - np.cos(x)) <= bound)


# --------------------------------------------------------------------------- activations


def test_softmax_stable_and_sigmoid_quiet():
    s = rn.softmax(np.array([1010.0, 1000.0, 990.0]))
    assert np.all(np.isfinite(s)) and s.sum() == pytest.approx(1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v = rn.sigmoid(np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0]))
    e = np.exp(-30.0)
    np.testing.assert_allclose(v, [0.0, e / (1 + e), 0.5, 1 / (1 + e), 1.0], rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_the_two_branch_formula_bit_for_bit(dtype):
    """sigmoid picks its numerator before one division; that must equal evaluating both
    branches, 1/(1+e) for x >= 0 and e/(1+e) for x < 0, bit for bit (NaN and ±0 included)."""
    x = np.random.default_rng(0).standard_normal(4000).astype(dtype) * 40
    x = np.concatenate([x, np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 88.8, -88.8], dtype)])
    one = dtype(1)
    with np.errstate(all="ignore"):
        e = np.exp(-np.abs(x))
        two_branch = np.where(x >= 0, one / (one + e), e / (one + e))
    got = rn.sigmoid(x)
    assert got.dtype == dtype
    assert got.tobytes() == two_branch.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_steps_sigmoid_agrees_with_sigmoid(dtype):
    """The fused step's in-place 1/(1 + exp(-a)) against ``sigmoid``: within 8 ulp where σ is
    a normal number (measured on 2,000,001 points from far below the overflow to +60: at most
    5 ulp in float32, 3 in float64), both below the smallest normal elsewhere, quiet on
    overflow, exact at the limits, NaN kept."""
    from reference_numpy.functions import _sigmoid_inplace

    lo = -120.0 if dtype == np.float32 else -760.0
    x = np.concatenate([np.linspace(lo, 60.0, 2_000_001), [0.0, -0.0, np.inf, -np.inf, np.nan]])
    x = x.astype(dtype)
    want = rn.sigmoid(x)
    a = x.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = _sigmoid_inplace(a)
    assert got is a and got.dtype == dtype
    tiny = np.finfo(dtype).tiny
    normal = want >= tiny
    ulp = np.abs(got - want)[normal] / np.spacing(want[normal])
    assert np.max(ulp) <= 8
    assert np.all(got[~normal & ~np.isnan(x)] < tiny)
    np.testing.assert_array_equal(got[-5:-1], [0.5, 0.5, 1.0, 0.0])
    assert np.isnan(got[-1])


def test_relu_kink_and_step():
    x = np.array([-1.0, 0.0, 2.0, np.nan])
    np.testing.assert_array_equal(rn.relu(x)[:3], [0.0, 0.0, 2.0])
    assert np.isnan(rn.relu(x)[3])
    np.testing.assert_array_equal(rn.relu_grad(x), [0.0, 0.0, 1.0, 0.0])  # ReLU'(0) = 0
    np.testing.assert_array_equal(rn.step_function(x[:3]), [0, 0, 1])


finite = st.floats(-50, 50, allow_nan=False, allow_infinity=False)
batch = arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(2, 6)), elements=finite)


@given(batch, st.floats(-100, 100))
def test_softmax_shift_invariant(a, c):
    # softmax(b) = exp(b - max b)/Σ.  For b = a + c (rounded, ½eps·|a + c| each), b_i - max b
    # differs from a_i - max a by ≤ eps·M' (the two shifted values, M' = max|a + c|) plus the
    # two subtractions' rounding (½eps·R each, R = max a - min a); exp turns an absolute
    # error δ of its argument into a relative δ, and adds ≤ 1 ulp (eps) on each side; the
    # numerator's error enters the K-term sum too (twice in all), the sums add (K - 1)·eps each,
    # the divisions ½eps each: relative difference ≤ eps·(2M' + 2R + 2K + 4).  No absolute
    # part: with |a| ≤ 50 every output is ≥ e⁻¹⁰⁰, far from underflow.
    eps, k = np.finfo(np.float64).eps, a.shape[-1]
    spread = float(np.max(np.abs(a + c))), float(np.max(a) - np.min(a))
    rtol = eps * (2 * spread[0] + 2 * spread[1] + 2 * k + 4)
    np.testing.assert_allclose(rn.softmax(a + c), rn.softmax(a), rtol=rtol, atol=0)


@given(batch, st.data())
def test_onehot_and_label_targets_give_same_loss(a, data):
    n, k = a.shape
    labels = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    onehot = np.eye(k)[labels]
    y = rn.softmax(a)
    rows = np.arange(n)
    # Both forms sum the same n terms ℓ_i (t·log = log for t = 1, and the zeros add exactly), in
    # another order: a sum of m terms in any order is within (m - 1)·eps·Σ|ℓ_i| of the exact
    # one, m = n (labels) or n·K (one-hot); the division by n adds ½eps·|L| on each side.
    eps = np.finfo(np.float64).eps
    cases = (
        (rn.cross_entropy_error, np.log(y[rows, labels] + rn.CEE_DELTA)),
        (lambda y_, t_: rn.softmax_cross_entropy(a, t_), rn.log_softmax(a)[rows, labels]),
    )
    for loss, terms in cases:
        lab = loss(y, labels)
        bound = (n - 1 + n * k - 1) * eps * np.sum(np.abs(terms)) / n + eps * abs(lab)
        assert abs(loss(y, onehot) - lab) <= bound
        assert abs(loss(y, labels.reshape(-1, 1)) - lab) <= bound


def test_labels_shaped_n_by_1_are_not_broadcast():
    # The book's code gives 2.8134 instead of 1.4067 for (N, 1) labels.
    y = rn.softmax(np.array([[1.0, 2.0, 0.5], [0.2, 0.1, 3.0]]))
    assert rn.cross_entropy_error(y, np.array([[0], [2]])) == rn.cross_entropy_error(y, [0, 2])


def test_soft_labels_are_not_argmaxed():
    y = np.array([[0.7, 0.2, 0.1]])
    soft = np.array([[0.5, 0.5, 0.0]])
    expected = -(0.5 * np.log(0.7 + 1e-7) + 0.5 * np.log(0.2 + 1e-7))
    assert rn.cross_entropy_error(y, soft) == pytest.approx(expected, rel=1e-15)


# Each backward against central differences of its forward, with a random incoming gradient
# (a plain .sum() hides a broken softmax backward: its VJP with ones is exactly zero).
def _vjp_check(forward, backward, x, rng):
    g = rng.standard_normal(np.shape(forward(x)))
    num = rn.numerical_gradient(lambda v: float(np.sum(forward(v) * g)), x.copy())
    np.testing.assert_allclose(backward(x, g), num, rtol=1e-6, atol=1e-8)


BACKWARDS = {
    "sigmoid": (rn.sigmoid, lambda x, g: g * rn.sigmoid_grad(x)),
    "relu": (rn.relu, lambda x, g: g * rn.relu_grad(x)),
    "softmax": (rn.softmax, lambda x, g: rn.softmax_backward(rn.softmax(x), g)),
}


@pytest.mark.parametrize("name", sorted(BACKWARDS))
def test_activation_backward_random_cotangent(name):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 5))
    x[np.abs(x) < 0.01] = 0.5  # keep away from ReLU's kink, where differences are one-sided
    _vjp_check(*BACKWARDS[name], x, rng)


LOSS_GRADS = [
    ("mse_half_sum", lambda y, t: rn.mean_squared_error(y, t), rn.mean_squared_error_grad),
    (
        "mse_mean",
        lambda y, t: rn.mean_squared_error(y, t, "mean"),
        lambda y, t: rn.mean_squared_error_grad(y, t, "mean"),
    ),
    ("mae", rn.mean_absolute_error, rn.mean_absolute_error_grad),
    ("cee", rn.cross_entropy_error, rn.cross_entropy_error_grad),
    ("softmax_ce", rn.softmax_cross_entropy, rn.softmax_cross_entropy_grad),
    ("bce", rn.binary_cross_entropy, rn.binary_cross_entropy_grad),
]


@pytest.mark.parametrize("name,loss,grad", LOSS_GRADS, ids=[r[0] for r in LOSS_GRADS])
def test_loss_gradients_match_central_differences(name, loss, grad):
    rng = np.random.default_rng(2)
    y = rng.uniform(0.05, 0.95, (3, 4))
    t = (
        np.eye(4)[rng.integers(0, 4, 3)]
        if name in ("cee", "softmax_ce", "bce")
        else rng.random((3, 4))
    )
    num = rn.numerical_gradient(lambda v: float(loss(v, t)), y.copy())
    np.testing.assert_allclose(grad(y, t), num, rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------- bad input
BAD = [
    (
        lambda: rn.cross_entropy_error(Y1, np.array([11])),
        ValueError,
        r"t: expected labels in \[0, 10\), got 11",
    ),
    (
        lambda: rn.cross_entropy_error(np.ones((2, 3)) / 3, np.ones((3, 3))),
        ValueError,
        "t: expected one-hot targets of shape",
    ),
    (
        lambda: rn.mean_squared_error(Y1, T[:5]),
        ValueError,
        r"t: expected the shape of y, \(10,\), got \(5,\)",
    ),
    (
        lambda: rn.cross_entropy_error(Y1, np.array([np.nan] * 10)),
        ValueError,
        "t: expected finite values",
    ),
    (lambda: rn.cross_entropy_error(Y1, ["a"]), TypeError, "t: expected integer labels"),
    (
        lambda: rn.numerical_diff(np.sin, 1.0, method="sideways"),
        ValueError,
        "method: expected one of",
    ),
    (lambda: rn.numerical_diff(np.sin, 1.0, h=0), ValueError, "h: expected a finite number > 0"),
    (
        lambda: rn.gradient_descent(np.sum, np.array([np.inf]), lr=0.1),
        ValueError,
        "init_x: expected finite",
    ),
    (
        lambda: rn.gradient_descent(np.sum, np.array([1.0]), lr=-1),
        ValueError,
        "lr: expected a finite number > 0",
    ),
    (lambda: rn.gradient_descent(np.sum, np.array([1.0]), step_num=2.5), ValueError, "step_num"),
    (
        lambda: rn.mean_squared_error(Y1, T, reduction="avg"),
        ValueError,
        "reduction: expected one of",
    ),
    (lambda: rn.softmax(np.float64(3.0)), ValueError, "a: expected at least 1 dimension"),
]


@pytest.mark.parametrize("call,exc,msg", BAD)
def test_bad_input_is_named(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_reference_numpy_never_imports_torch():
    import subprocess
    import sys

    code = ("import sys, reference_numpy, reference_numpy.training, reference_numpy.plotting; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
