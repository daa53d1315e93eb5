"""reference_numpy networks, optimizers and plans: backprop vs numerical gradients, formulas."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import reference_numpy as rn

SEEDS_SIMPLENET_GRAD = np.array(
    [[0.42027315, 0.11048601, -0.53075916], [0.63040973, 0.16572901, -0.79613874]]
)


def _max_diff(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


def test_simplenet_gradients():
    net = rn.SimpleNet(seed=0)
    x, t = np.array([0.6, 0.9]), np.array([0, 0, 1])
    num = net.numerical_gradient(x, t)
    # Backprop ignores the book's δ = 1e-7 in the loss: the gap is that size, not more.
    np.testing.assert_allclose(net.gradient(x, t), num, atol=1e-6)
    # The seeds print dW for an unprinted random W.  dW = xᵀ(p - t), so its rows / 0.6 and / 0.9
    # give p - t; a W with softmax(x W) = p must reproduce the printed dW.
    p = SEEDS_SIMPLENET_GRAD[0] / 0.6 + np.array([0, 0, 1])
    w = np.vstack([np.zeros(3), np.log(p) / 0.9])
    np.testing.assert_allclose(rn.SimpleNet(W=w).gradient(x, t), SEEDS_SIMPLENET_GRAD, atol=1e-8)
    # The numerical gradient sees the book's δ: it moves dW by about δ/p₃ ≈ 8.7e-7 relative.
    np.testing.assert_allclose(
        rn.SimpleNet(W=w).numerical_gradient(x, t), SEEDS_SIMPLENET_GRAD, atol=1e-6
    )
    # The book's own example (§4.4.1): this W gives this dW.
    w_book = np.array([[0.47355232, 0.9977393, 0.84668094], [0.85557411, 0.03563661, 0.69422093]])
    dw_book = np.array(
        [[0.21924763, 0.14356247, -0.36281009], [0.32887144, 0.2153437, -0.54421514]]
    )
    np.testing.assert_allclose(rn.SimpleNet(W=w_book).numerical_gradient(x, t), dw_book, atol=1e-7)


def _batch(rng, n=7, d=12, k=4, zeros=0.6):
    x = rng.random((n, d))
    x[x < zeros] = 0.0  # MNIST-like sparsity, so the fast path's skipping is exercised
    return x, rng.integers(0, k, n)


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
@pytest.mark.parametrize("wd,dropout", [(0.0, 0.0), (0.1, 0.3)])
def test_backprop_equals_numerical_and_fast_equals_loop(activation, wd, dropout):
    rng = np.random.default_rng(3)
    net = rn.TwoLayerNet(
        12,
        6,
        4,
        weight_init_std=0.5,
        seed=1,
        activation=activation,
        weight_decay_lambda=wd,
        dropout_ratio=dropout,
    )
    x, t = _batch(rng)
    mask = rng.random((7, 6)) > dropout if dropout else None
    loop = net.numerical_gradient(x, t, mask)
    fast = net.numerical_gradient_fast(x, t, mask)
    direct = net.numerical_gradient_fast(x, t, mask, series=False)
    bp = net.gradient(x, t, mask)
    # Measured: fast vs loop ≤ 4e-12, backprop vs loop ≤ 3e-10 (central-difference truncation).
    assert _max_diff(fast, loop) < 1e-10
    assert _max_diff(direct, loop) < 1e-10
    assert _max_diff(bp, loop) < 1e-8


EPS = np.finfo(np.float64).eps
H = 1e-4  # numerical_gradient's default step


def central_difference_bounds(net, x, t, g_h: dict, g_2h: dict, h: float = H):
    """Per element: how far a central difference of step h may be from the true gradient, and
    how far two central differences of the same step may be from each other (rounding only).

    Central difference: g_h = g + h²/6·f‴ + h⁴/120·f⁽⁵⁾ + r_h, with rounding |r_h| ≤ ρ/h.
    ρ, the error of one loss evaluation: the loss sums N log-sum-exp terms of logits built by dot
    products of length d and hidden, so each of ~m = N + d + hidden + K + 4 rounded operations
    adds at most eps times the largest magnitude S involved (S = max|logit| + |L| + 1, since
    log-sum-exp cancels logits against each other): ρ = m·eps·S.
    f‴ is not known, but the same difference at 2h gives it: g_2h - g_h = 3a + 15b + (r_2h - r_h)
    with a = h²/6·f‴ and b = h⁴/120·f⁽⁵⁾, while g_h - g = a + b + r_h.  Assuming h²|f⁽⁵⁾| ≤ |f‴|
    (|b| ≤ |a|/20: derivatives grow by less than 1/h = 1e4 per order, true for logits of O(1)),
    |a + b| ≤ (0.95/0.75)·|a + 5b| < (4/3)·|a + 5b|, so
    |g_h - g| ≤ (4/3)·(|g_2h - g_h| + ρ/h)/3 + ρ/h < (4/9)·|g_2h - g_h| + 2ρ/h.
    Where f‴ ≈ 0 the error is |b| ~ 1e-18·|f⁽⁵⁾|, far inside 2ρ/h (~1e-12).
    Two central differences of the same step differ by rounding only: ≤ 2ρ/h.
    """
    n, d = x.shape
    hidden, k = net.params["W2"].shape
    scale = float(np.max(np.abs(net.predict(x)))) + abs(net.loss(x, t)) + 1.0
    rho = (n + d + hidden + k + 4) * EPS * scale
    truncation = {key: 4 / 9 * np.abs(g_2h[key] - g_h[key]) + 2 * rho / h for key in g_h}
    return truncation, 2 * rho / h


def assert_within(got: dict, expected: dict, bound: dict | float) -> None:
    for key in expected:
        b = bound[key] if isinstance(bound, dict) else bound
        excess = np.abs(got[key] - expected[key]) - b
        assert np.all(excess <= 0), (key, float(np.max(excess)), float(np.max(b)))


@given(
    st.integers(1, 6),
    st.integers(1, 8),
    st.integers(1, 5),
    st.integers(2, 5),
    st.sampled_from(["sigmoid", "relu"]),
    st.integers(0, 10_000),
)
# Each failed the old absolute bound of 1e-7 on |backprop - numerical|: one hidden unit with a
# large activation (|a1| ~ 10) makes the logits, and so f‴ along W2, large (truncation ~2e-7).
@example(n=1, d=6, hidden=1, k=4, act="relu", seed=8003)  # 2.17e-7: a CI run
@example(n=1, d=6, hidden=1, k=5, act="relu", seed=1297)  # 1.39e-7: a uniform scan of 5,000
@example(n=6, d=8, hidden=1, k=5, act="relu", seed=8851)  # 1.02e-7: the same scan
@example(n=1, d=7, hidden=1, k=4, act="relu", seed=713)  # 1.03e-7: the explore profile
@example(n=1, d=6, hidden=1, k=2, act="relu", seed=367)  # 2.57e-7: the explore profile
@example(n=1, d=6, hidden=1, k=2, act="relu", seed=1921)  # 2.71e-7: the explore profile
@example(n=1, d=5, hidden=1, k=3, act="relu", seed=593)  # 1.35e-7: the explore profile
@example(n=1, d=5, hidden=1, k=2, act="relu", seed=408)  # 1.35e-7: the explore profile
@example(n=1, d=4, hidden=1, k=4, act="relu", seed=1042)  # 1.26e-7: the explore profile
def test_property_backprop_equals_numerical(n, d, hidden, k, act, seed):
    rng = np.random.default_rng(seed)
    net = rn.TwoLayerNet(d, hidden, k, weight_init_std=0.7, seed=seed, activation=act)
    x = rng.standard_normal((n, d))
    t = rng.integers(0, k, n)
    a1 = x @ net.params["W1"] + net.params["b1"]
    # A step of 2h moves a pre-activation by up to 2h·max|x| (W1) or 2h (b1); within that of the
    # kink the difference straddles it and its error is not the Taylor series' any more.
    if act == "relu" and np.min(np.abs(a1)) <= 2 * H * max(1.0, float(np.max(np.abs(x)))):
        return
    fast = net.numerical_gradient_fast(x, t)
    truncation, rounding = central_difference_bounds(
        net, x, t, fast, net.numerical_gradient_fast(x, t, h=2 * H)
    )
    assert_within(net.gradient(x, t), fast, truncation)
    assert_within(fast, net.numerical_gradient(x, t), rounding)


def test_book_delta_loss_gap_is_1e7_scale():
    # The book's CEE keeps δ in the loss but not in backprop's (y - t)/N: a ~1e-7 gap.
    rng = np.random.default_rng(4)
    x, t = _batch(rng)
    net = rn.TwoLayerNet(12, 6, 4, weight_init_std=0.5, seed=2, loss="cross_entropy_error")
    gap = _max_diff(net.gradient(x, t), net.numerical_gradient_fast(x, t))
    assert 1e-9 < gap < 1e-6


def test_fast_numerical_gradient_on_mnist_batch(mnist_dir):
    (x, t), _ = rn.load_mnist(data_dir=mnist_dir)
    net = rn.TwoLayerNet(784, 50, 10, seed=0)
    xb, tb = x[:100], t[:100]
    fast = net.numerical_gradient_fast(xb, tb)
    # The bound is 1e-9 against the element loop (the loop takes ~30 s here, so the
    # loop comparison on the full batch lives in benchmarks/; this checks the same values on
    # W2/b2 with the loop and W1/b1 against the slow direct evaluation).
    loss = lambda _: net.loss(xb, tb)  # noqa: E731
    assert np.max(np.abs(fast["b2"] - rn.numerical_gradient(loss, net.params["b2"]))) < 1e-9
    assert np.max(np.abs(fast["W2"] - rn.numerical_gradient(loss, net.params["W2"]))) < 1e-9
    direct = net.numerical_gradient_fast(xb, tb, series=False)
    assert _max_diff(fast, direct) < 1e-12
    assert _max_diff(fast, net.gradient(xb, tb)) < 1e-9


def test_accuracy_accepts_labels_and_onehot():
    rng = np.random.default_rng(5)
    net = rn.TwoLayerNet(12, 6, 4, seed=3)
    x, t = _batch(rng, n=30)
    assert net.accuracy(x, t) == net.accuracy(x, np.eye(4)[t])


def test_weights_from_seed_or_arrays_are_copied():
    p = rn.init_params(5, 3, 2, seed=7)
    net = rn.TwoLayerNet(5, 3, 2, params=p)
    net.params["W1"][0, 0] = 99
    assert p["W1"][0, 0] != 99
    np.testing.assert_array_equal(rn.TwoLayerNet(5, 3, 2, seed=7).params["W2"], p["W2"])
    assert np.all(p["b1"] == 0)


NET_BAD = [
    (lambda: rn.TwoLayerNet(5, 3, 2, activation="tanh"), ValueError, "activation: expected one of"),
    (
        lambda: rn.TwoLayerNet(5, 3, 2, dtype=np.int32),
        TypeError,
        "dtype: expected float32 or float64",
    ),
    (lambda: rn.TwoLayerNet(5, 3, 2, params={"W1": np.zeros((5, 3))}), ValueError, "missing"),
    (lambda: rn.TwoLayerNet(5, 3, 2, dropout_ratio=1.0), ValueError, "dropout_ratio"),
    (lambda: rn.TwoLayerNet(0, 3, 2), ValueError, "input_size: expected a positive int"),
    (
        lambda: rn.TwoLayerNet(5, 3, 2, seed=0).loss(np.zeros((4, 6)), [0, 1, 0, 1]),
        ValueError,
        r"x: expected shape \(N, 5\), got \(4, 6\)",
    ),
    (
        lambda: rn.TwoLayerNet(5, 3, 2, seed=0).gradient(np.zeros((4, 5)), [0, 1, 0, 2]),
        ValueError,
        r"t: expected labels in \[0, 2\), got 2 at index 3",
    ),
]


@pytest.mark.parametrize("call,exc,msg", NET_BAD)
def test_network_bad_input(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


# --------------------------------------------------------------------------- optimizers
def _reference_step(name, p, g, state, t):
    """Each optimizer's formula written out once more, independently, for one parameter."""
    lr = {
        "sgd": 0.01,
        "momentum": 0.01,
        "nesterov": 0.01,
        "adagrad": 0.01,
        "rmsprop": 0.01,
        "adam": 0.001,
    }[name]
    if name == "sgd":
        return p - lr * g
    if name == "momentum":
        state["v"] = 0.9 * state.get("v", 0) - lr * g
        return p + state["v"]
    if name == "nesterov":
        v = state.get("v", 0)
        p = p + 0.81 * v - 1.9 * lr * g
        state["v"] = 0.9 * v - lr * g
        return p
    if name == "adagrad":
        state["h"] = state.get("h", 0) + g * g
        return p - lr * g / (np.sqrt(state["h"]) + 1e-7)
    if name == "rmsprop":
        state["h"] = 0.99 * state.get("h", 0) + 0.01 * g * g
        return p - lr * g / (np.sqrt(state["h"]) + 1e-7)
    lr_t = lr * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
    state["m"] = state.get("m", 0) + 0.1 * (g - state.get("m", 0))
    state["v"] = state.get("v", 0) + 0.001 * (g * g - state.get("v", 0))
    return p - lr_t * state["m"] / (np.sqrt(state["v"]) + 1e-7)


@pytest.mark.parametrize("name", sorted(rn.OPTIMIZERS))
def test_optimizer_formulas(name):
    rng = np.random.default_rng(6)
    opt = rn.OPTIMIZERS[name]() if name != "sgd" else rn.SGD(0.01)
    params = {"w": rng.standard_normal(5)}
    ref, state = params["w"].copy(), {}
    for t in range(1, 21):
        g = rng.standard_normal(5)
        opt.update(params, {"w": g})
        ref = _reference_step(name, ref, g, state, t)
    np.testing.assert_allclose(params["w"], ref, rtol=1e-13, atol=1e-15)


def test_optimizer_bad_grads_leave_params_untouched():
    params = {"W1": np.ones(3), "b1": np.ones(2)}
    opt = rn.Momentum()
    with pytest.raises(ValueError, match=r"grads\['b1'\]: expected shape \(2,\), got \(3,\)"):
        opt.update(params, {"W1": np.ones(3), "b1": np.ones(3)})
    with pytest.raises(ValueError, match=r"grads\['b1'\]: expected finite"):
        opt.update(params, {"W1": np.ones(3), "b1": np.array([1.0, np.nan])})
    assert np.all(params["W1"] == 1) and opt.v == {}


# --------------------------------------------------------------------------- plans
def test_plan_replay_and_save_load(tmp_path):
    plan = rn.TrainPlan(600, 10, 80, seed=3, hidden_size=7, dropout_ratio=0.5)
    again = rn.TrainPlan(600, 10, 80, seed=3, hidden_size=7, dropout_ratio=0.5)
    np.testing.assert_array_equal(plan.batch_indices, again.batch_indices)
    np.testing.assert_array_equal(plan.dropout_mask(5), again.dropout_mask(5))
    assert not np.array_equal(plan.dropout_mask(5), plan.dropout_mask(6))
    plan.save(tmp_path / "plan.npz")
    loaded = rn.TrainPlan.load(tmp_path / "plan.npz")
    np.testing.assert_array_equal(loaded.batch_indices, plan.batch_indices)
    for k in rn.PARAM_NAMES:
        np.testing.assert_array_equal(loaded.init[k], plan.init[k])
    assert plan.iter_per_epoch == 60.0 and plan.eval_iters[:2] == [0, 60]


def test_plan_book_schedule_has_17_evaluations():
    plan = rn.TrainPlan(60000, 100, 10000)
    assert len(plan.eval_iters) == 17 and plan.eval_iters[-1] == 9600


def test_plan_shuffle_has_no_repeats_within_an_epoch():
    plan = rn.TrainPlan(100, 10, 25, sampling="shuffle")
    first_epoch = plan.batch_indices[:10].ravel()
    assert sorted(first_epoch) == list(range(100))
