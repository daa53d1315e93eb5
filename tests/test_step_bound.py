"""check_training_step's derived bound (verify/api/step_bound.py): right on correct steps of
every size (the 7-5-2 batch of one kept), and still failing planted errors."""

from __future__ import annotations

import numpy as np
import pytest

from reference_numpy.networks import TwoLayerNet
from verify import api
from verify.api.step_bound import step_bound, unit_roundoff
from verify.compare import compare_arrays
from verify.tolerances import tolerance_for


def _softmax(a):
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def user_step(p, x, t, lr=0.1, act="sigmoid", g_scale=1.0, lr_scale=1.0):
    """A book-style step in the parameters' dtype: (loss, grads, new params)."""
    dt = p["W1"].dtype.type
    k = p["W2"].shape[1]
    onehot = np.eye(k, dtype=p["W1"].dtype)[t]
    a1 = x @ p["W1"] + p["b1"]
    with np.errstate(over="ignore"):
        z1 = 1 / (1 + np.exp(-a1)) if act == "sigmoid" else np.maximum(a1, 0)
    a2 = z1 @ p["W2"] + p["b2"]
    m = a2.max(axis=1, keepdims=True)
    lse = m + np.log(np.exp(a2 - m).sum(axis=1, keepdims=True))
    loss = np.sum(onehot * (lse - a2)) / dt(len(t))
    dy = (_softmax(a2) - onehot) / dt(len(t))
    da1 = (dy @ p["W2"].T) * (z1 * (1 - z1) if act == "sigmoid" else (a1 > 0))
    g = {"W1": x.T @ da1, "b1": da1.sum(axis=0), "W2": z1.T @ dy, "b2": dy.sum(axis=0)}
    g = {key: v * dt(g_scale) for key, v in g.items()}
    return loss, g, {key: p[key] - dt(lr * lr_scale) * g[key] for key in p}


def _case(seed, sizes, n, w, dtype, x_scale=1.0, uniform=False):
    rng = np.random.default_rng(seed)
    i, h, k = sizes
    p = {"W1": w * rng.standard_normal((i, h)), "b1": w * rng.standard_normal(h),
         "W2": w * rng.standard_normal((h, k)), "b2": w * rng.standard_normal(k)}
    x = x_scale * (rng.random((n, i)) if uniform else rng.standard_normal((n, i)))
    return ({key: v.astype(dtype) for key, v in p.items()}, x.astype(dtype),
            rng.integers(0, k, n))


#: The false alarm found by the sweep: a correct float32 7-5-2 step on a batch of one, judged
#: with the float32-cpu/replay_* entries measured on 784-50-10 with batch 100.
TINY = (55, (7, 5, 2), 1, 1.0, np.float32)


def test_tiny_float32_batch_of_one_is_no_false_alarm():
    p, x, t = _case(*TINY)
    _, grads, _ = user_step(p, x, t)
    ref = TwoLayerNet(7, 5, 2, params={k: v.astype(np.float64) for k, v in p.items()}
                      ).gradient(x.astype(np.float64), t)
    old = compare_arrays("W2", grads["W2"].astype(np.float64), ref["W2"],
                         tolerance_for("float32-cpu", "replay_grad"))
    assert not old.passed and "relative Frobenius" in old.message  # the fixed bound's alarm
    res = api.check_training_step(user_step, p, x, t)
    assert res.passed, res.message
    assert res.tolerance_class == "float32-cpu"
    assert "derived per element" in res.details["tolerance_justification"]
    assert 0 < res.details["worst_ratio"] <= 1


@pytest.mark.parametrize("case", [
    TINY,
    (1, (784, 50, 10), 100, 0.01, np.float32, 1.0, True),  # the book's net and batch
    (2, (2, 1, 2), 1, 0.3, np.float32),
    (3, (30, 8, 4), 5, 3.0, np.float32, 4.0),  # large logits: softmax underflows
    (4, (7, 5, 2), 1, 1.0, np.float64),
    (5, (100, 20, 10), 200, 0.1, np.float64),
])
@pytest.mark.parametrize("act", ["sigmoid", "relu"])
def test_correct_steps_pass_and_planted_errors_fail(case, act):
    p, x, t = _case(*case)
    f32 = p["W1"].dtype == np.float32
    ok = api.check_training_step(lambda *a: user_step(*a, act=act), p, x, t, activation=act)
    assert ok.passed, ok.message
    # Gradients 0.1% off fail in float32 (1e-8 in float64) on every size: the bound is that of
    # this step's rounding, not a band measured on another net.  A learning rate 1% off (1e-8)
    # fails wherever the change lr·g is not lost in rounding p0 - lr·g (u·|p|): a saturated
    # 7-5-2 ReLU net moves its parameters by less than that, and nothing can see its lr.
    e = 1e-3 if f32 else 1e-8
    _, g, _ = user_step(p, x, t, act=act)
    u = float(np.finfo(p["W1"].dtype).eps) / 2
    visible = any(np.any(0.1 * np.abs(g[k]) * 1e-2 > 10 * u * np.abs(p[k])) for k in g)
    for kw in ({"g_scale": 1 + e}, {"lr_scale": 1 + (1e-2 if f32 else e)}):
        if "lr_scale" in kw and not visible:
            continue
        bad = api.check_training_step(lambda *a, kw=kw: user_step(*a, act=act, **kw), p, x, t,
                                      activation=act)
        assert not bad.passed, (kw, bad.details.get("worst_ratio"))
        assert "bound derived per element" in bad.message


def test_random_small_correct_steps_never_fail():
    """A short version of scripts/oracle_step_false_alarms.py (10,000 cases, docs/oracle.md)."""
    rng = np.random.default_rng(7)
    worst = 0.0
    for j in range(24):
        sizes = tuple(int(v) for v in rng.integers([1, 1, 2], [40, 12, 8]))
        n = 1 if j % 3 == 0 else int(rng.integers(2, 40))
        w = float(10 ** rng.uniform(-2, 0.5))
        p, x, t = _case(j, sizes, n, w, np.float32 if j % 2 else np.float64,
                        float(10 ** rng.uniform(-1, 1)))
        act = "relu" if j % 4 < 2 else "sigmoid"
        lr = float(10 ** rng.uniform(-3, 0))
        res = api.check_training_step(lambda *a, act=act, lr=lr: user_step(*a, lr=lr, act=act),
                                      p, x, t, lr=lr, activation=act)
        assert res.passed, (j, res.message)
        worst = max(worst, res.details["worst_ratio"])
    assert worst <= 1


def test_bound_scales_with_the_class_and_is_zero_when_exact():
    p, x, t = _case(*TINY)
    p64 = {k: v.astype(np.float64) for k, v in p.items()}
    x64 = x.astype(np.float64)
    net = TwoLayerNet(7, 5, 2, params=p64)
    g = net.gradient(x64, t)
    p1 = {k: p64[k] - 0.1 * g[k] for k in p64}
    g1 = TwoLayerNet(7, 5, 2, params=p1).gradient(x64, t)

    def bound(tclass):
        return step_bound(p64, x64, t, 0.1, activation="sigmoid", loss="softmax_cross_entropy",
                          weight_decay_lambda=0.0, tclass=tclass, grads=g, grads_after=g1,
                          p1=p1)

    b32, b64, btf, bex = (bound(c) for c in ("float32-cpu", "float64", "tf32", "exact"))
    assert unit_roundoff("float32-cpu") == (2.0 ** -24, 2.0 ** -24)
    for k in g:
        assert np.all(bex.grads[k] == 0) and np.all(bex.update[k] == 0)
        assert np.all(b64.grads[k] < 1e-6 * b32.grads[k] + 1e-300)
        assert np.all(btf.grads[k] >= b32.grads[k])
    assert bex.loss["before"] == 0 and b32.loss["after"] > b32.loss["before"] * 0.1
