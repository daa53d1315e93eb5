"""reference_torch against reference_numpy, name for name (tinygrad test_ops style).

One helper, ``parity``, runs a reference_numpy function and its reference_torch twin on the same
inputs and compares them; every parity test is one row of a table.  Tolerances sit next to the
difference measured on this machine (torch 2.14 CPU/MKL, NumPy 2.4, float64 unless said).

Where the two differ at all, it is by one ulp of an exp/log/sqrt: torch's CPU kernels (MKL VML
or SLEEF) are within 1 ulp but not always correctly rounded, NumPy's sqrt is; measured on 10⁶
float64 values, torch differs in 1.2 % (sqrt), 0.5 % (exp), 0.08 % (log) of them, by 1 ulp.
Reductions may also sum in a different order (a few ulp of the sum).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import reference_numpy as rn
import reference_torch as rt
from reference_numpy import functions as nf
from reference_torch import functions as tf

F64, F32 = torch.float64, torch.float32


def _t(a: object) -> object:
    return torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a


def _np(a: object) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def max_diff(got: object, expected: object) -> float:
    g, e = _np(got).astype(np.float64), _np(expected).astype(np.float64)
    ok = np.isfinite(e)
    return float(np.max(np.abs(g[ok] - e[ok]), initial=0.0))


def parity(name: str, args: tuple, kwargs: dict | None = None, *, rtol=0.0, atol=0.0) -> float:
    """Run ``reference_numpy.functions.<name>`` and ``reference_torch.functions.<name>`` on the
    same inputs (NumPy arrays become CPU tensors) and compare: shape, dtype, NaN/±Inf at the same
    positions, finite values within rtol/atol.  Returns the max abs difference."""
    kwargs = kwargs or {}
    expected = np.asarray(getattr(nf, name)(*args, **kwargs))
    got = getattr(tf, name)(*(_t(a) for a in args), **kwargs)
    assert isinstance(got, torch.Tensor), f"{name} returned {type(got).__name__}"
    g = _np(got)
    assert g.shape == expected.shape and g.dtype == expected.dtype, (g.shape, g.dtype)
    for where in (np.isnan, np.isposinf, np.isneginf):
        np.testing.assert_array_equal(where(g), where(expected), err_msg=f"{name}: {where}")
    np.testing.assert_allclose(g, expected, rtol=rtol, atol=atol, equal_nan=True)
    return max_diff(g, expected)


# --------------------------------------------------------------------------- inputs
RNG = np.random.default_rng(20240601)
N, K = 64, 10
X = RNG.standard_normal((N, K)) * 4
X[0, :4] = [0.0, -0.0, 800.0, -800.0]  # the kinks, and sigmoid's overflow range
X[1, :3] = [1e-300, -1e-300, 40.0]
BIG = X.copy()
BIG[2, :3] = [1010.0, 1000.0, 990.0]  # softmax's overflow example
Y = nf.softmax(X)
DOUT = RNG.standard_normal((N, K))
LAB = RNG.integers(0, K, N)
ONEHOT = np.eye(K)[LAB]
SOFT = nf.softmax(RNG.standard_normal((N, K)))
P01 = RNG.random((N, K))
T01 = RNG.integers(0, 2, (N, K)).astype(np.float64)
TIES = np.round(RNG.standard_normal((N, K)), 1)  # y - t == 0 in places: sign(0) = 0
X32, Y32, BIG32 = X.astype(np.float32), Y.astype(np.float32), BIG.astype(np.float32)

# The seeds' example (notes 003): class 2 is the answer; y1 bets on 2, y2 on 7.
T = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
Y1 = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
Y2 = np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0])

# --------------------------------------------------------------------------- forward + backward
# (name, args, kwargs, rtol, atol).  The comment gives the measured max |torch - numpy| (abs)
# and max |torch - numpy| / |numpy| (rel) on these inputs.  EXACT rows are bit for bit.
P = pytest.param
EXACT = (0.0, 0.0)
ULP64 = (1e-15, 1e-15)  # a few float64 ulp (eps = 2.2e-16)
ULP32 = (1e-6, 1e-7)  # a few float32 ulp (eps = 1.2e-7)
# fmt: off
FUNCTIONS = [
    P("step_function", (X,), {}, *EXACT, id="step"),
    P("sigmoid", (X,), {}, *ULP64, id="sigmoid"),  # abs 1.7e-18, rel 1.9e-16 (exp: 1 ulp)
    P("sigmoid_grad", (X,), {}, *ULP64, id="sigmoid_grad"),  # abs 1.7e-18, rel 1.9e-16
    P("relu", (X,), {}, *EXACT, id="relu"),
    P("relu_grad", (X,), {}, *EXACT, id="relu_grad"),
    P("softmax", (BIG,), {}, *ULP64, id="softmax"),  # abs 4.4e-16, rel 5.1e-16
    P("softmax", (BIG[3],), {}, *ULP64, id="softmax-1d"),  # 0
    # abs 1.8e-15 on a value of -3.3e-15 (log of a 10-term sum ≈ 1 summed in another order)
    P("log_softmax", (BIG,), {}, 1e-15, 4e-15, id="log_softmax"),
    P("softmax_backward", (Y, DOUT), {}, *ULP64, id="softmax_backward"),  # abs 4.3e-16
    P("mean_squared_error", (Y, ONEHOT), {}, *ULP64, id="mse-half_sum"),  # rel 1.7e-16 (sum)
    P("mean_squared_error", (Y, ONEHOT), {"reduction": "sum"}, *ULP64, id="mse-sum"),  # 1.7e-16
    P("mean_squared_error", (Y, ONEHOT), {"reduction": "mean"}, *ULP64, id="mse-mean"),  # 0
    P("mean_squared_error_grad", (Y, ONEHOT), {}, *EXACT, id="mse_grad"),
    P("mean_squared_error_grad", (Y, SOFT), {"reduction": "mean"}, *EXACT, id="mse_grad-mean"),
    P("mean_absolute_error", (TIES, X), {}, *ULP64, id="mae"),  # 0
    P("mean_absolute_error_grad", (TIES, np.round(X, 1)), {}, *EXACT, id="mae_grad"),
    P("cross_entropy_error", (Y, LAB), {}, *ULP64, id="cee-labels"),  # 0
    P("cross_entropy_error", (Y, LAB[:, None]), {}, *ULP64, id="cee-labels-N1"),  # 0
    P("cross_entropy_error", (Y, ONEHOT), {}, *ULP64, id="cee-onehot"),  # 0
    P("cross_entropy_error", (Y, SOFT), {}, *ULP64, id="cee-soft"),  # 0
    P("cross_entropy_error", (Y[5], 3), {}, *ULP64, id="cee-1d-scalar"),  # 0
    P("cross_entropy_error", (Y, LAB), {"delta": 0.0}, *EXACT, id="cee-delta0-inf"),  # both inf
    P("cross_entropy_error_grad", (Y, LAB), {}, *EXACT, id="cee_grad-labels"),
    P("cross_entropy_error_grad", (Y, SOFT), {}, *EXACT, id="cee_grad-soft"),
    P("softmax_cross_entropy", (BIG, LAB), {}, *ULP64, id="sce-labels"),  # rel 1.9e-16
    P("softmax_cross_entropy", (BIG, ONEHOT), {}, *ULP64, id="sce-onehot"),  # rel 1.9e-16
    P("softmax_cross_entropy", (BIG, SOFT), {}, *ULP64, id="sce-soft"),  # rel 2.8e-16
    P("softmax_cross_entropy_grad", (BIG, LAB), {}, *ULP64, id="sce_grad-labels"),  # 6.9e-18
    P("softmax_cross_entropy_grad", (BIG, SOFT), {}, *ULP64, id="sce_grad-soft"),  # 6.9e-18
    P("binary_cross_entropy", (P01, T01), {}, *ULP64, id="bce"),  # 0
    P("binary_cross_entropy_grad", (P01, T01), {}, *EXACT, id="bce_grad"),
    # float32: the same formulas in float32 on both sides.
    P("sigmoid", (X32,), {}, *ULP32, id="f32-sigmoid"),  # abs 1.2e-7, rel 2.1e-7
    P("softmax", (BIG32,), {}, *ULP32, id="f32-softmax"),  # abs 2.4e-7, rel 3.3e-7
    P("log_softmax", (BIG32,), {}, 1e-6, 4e-7, id="f32-log_softmax"),  # abs 9.5e-7 at -1600
    P("softmax_cross_entropy", (BIG32, LAB), {}, *ULP32, id="f32-sce"),  # abs 1.9e-6, rel 1e-7
    P("softmax_cross_entropy_grad", (BIG32, LAB), {}, 1e-6, 1e-8, id="f32-sce_grad"),  # 3.7e-9
    P("cross_entropy_error", (Y32, LAB), {}, *ULP32, id="f32-cee"),  # 0
]
# fmt: on


@pytest.mark.parametrize("name,args,kwargs,rtol,atol", FUNCTIONS)
def test_function_parity(name, args, kwargs, rtol, atol):
    with np.errstate(divide="ignore"):  # log(0) in the delta=0 row: inf on both sides
        parity(name, args, kwargs, rtol=rtol, atol=atol)


# NaN and ±Inf land at the same positions (parity checks the masks), values equal elsewhere.
SPECIAL = X[:4, :6].copy()
SPECIAL[0, 1], SPECIAL[1, 2], SPECIAL[2, 3], SPECIAL[3, 0] = np.nan, np.inf, -np.inf, np.nan
with np.errstate(invalid="ignore"):
    SPECIAL_Y = nf.softmax(SPECIAL)
# fmt: off
NONFINITE = [
    P("step_function", (SPECIAL,), id="step"),
    P("sigmoid", (SPECIAL,), id="sigmoid"),
    P("sigmoid_grad", (SPECIAL,), id="sigmoid_grad"),
    P("relu", (SPECIAL,), id="relu"),
    P("relu_grad", (SPECIAL,), id="relu_grad"),
    P("softmax", (SPECIAL,), id="softmax"),
    P("log_softmax", (SPECIAL,), id="log_softmax"),
    P("softmax_backward", (SPECIAL_Y, SPECIAL[::-1].copy()), id="softmax_backward"),
    P("mean_squared_error_grad", (SPECIAL, np.zeros_like(SPECIAL)), id="mse_grad"),
    P("mean_absolute_error_grad", (SPECIAL, np.zeros_like(SPECIAL)), id="mae_grad"),
    P("softmax_cross_entropy", (SPECIAL, np.arange(4)), id="sce"),
]
# fmt: on


@pytest.mark.parametrize("name,args", NONFINITE)
def test_nonfinite_propagate_alike(name, args):
    with np.errstate(all="ignore"):
        parity(name, args, atol=1e-15)


def test_array_likes_accepted_at_top_level():
    # Convenience as in NumPy: lists, ints (promoted to float64), read-only and reversed arrays.
    ro = np.broadcast_to(Y[0], (3, K))  # read-only view
    assert torch.equal(
        tf.softmax([[1, 2, 3]]), tf.softmax(torch.tensor([[1.0, 2.0, 3.0]]).double())
    )
    assert tf.sigmoid(np.arange(5)[::-1]).dtype == F64
    parity("cross_entropy_error", (ro, [1, 2, 3]), rtol=1e-15)
    parity("softmax", (X[::-1, ::-1],), rtol=1e-15, atol=1e-15)


@given(
    st.integers(1, 6),
    st.integers(2, 7),
    st.floats(1e-3, 1e3),
    st.sampled_from(["softmax_cross_entropy", "softmax_cross_entropy_grad", "log_softmax"]),
    st.integers(0, 2**32 - 1),
)
def test_property_parity_random_shapes_and_scales(n, k, scale, name, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, k)) * scale
    args = (a,) if name == "log_softmax" else (a, rng.integers(0, k, n))
    parity(name, args, **_log_softmax_family_tolerance(name, a))


def _log_softmax_family_tolerance(name: str, a: np.ndarray) -> dict:
    """How far the two engines may be apart, derived from the operations they share.

    Both shift z = a - max(a); in whatever order an engine does it, its z is within δ = 2eps·M
    of the exact one (M = max|a|).  lse = log Σ exp z: exp turns δ into a relative δ, exp and
    log are within 1 ulp, the K-term sum (≥ 1, as max z = 0) is within (K - 1)·eps relative in
    any order, and lse ∈ [0, log K]: |Δlse| ≤ δ + (K + 2)·eps.
    log_softmax = z - lse: ≤ 2δ + (K + 2)·eps apart, plus its own rounding (rtol eps).
    softmax_cross_entropy averages n such terms (|ℓ| ≤ 2M + log K) in any order:
    + (n - 1)·eps·(2M + log K).
    Its gradient (softmax - onehot)/n: softmax = exp z / Σ is within 2δ + (K + 1.5)·eps relative
    and ≤ 1; minus the one-hot and /n round by ½eps each: atol (2δ + (K + 3)·eps)/n.
    """
    eps, (n, k) = np.finfo(np.float64).eps, a.shape
    m = float(np.abs(a).max())
    shared = eps * (4 * m + k)  # 2δ + K·eps
    if name == "log_softmax":
        return {"rtol": eps, "atol": shared + 2 * eps}
    if name == "softmax_cross_entropy":
        return {"rtol": eps, "atol": shared + 2 * eps + (n - 1) * eps * (2 * m + np.log(k))}
    return {"rtol": 0.0, "atol": (shared + 3 * eps) / n}


# The seeds' numbers, bit for bit: the same float64 operations give the same bits.
# fmt: off
SEED_NUMBERS = [
    # torch sums the 10 squares in another order than NumPy's pairwise sum: 1 ulp below the
    # seeds' 0.09750000000000003 (the only seed number that is not bit for bit).
    P(lambda m: m.mean_squared_error(Y1, T), 0.09750000000000002, id="mse-y1"),
    P(lambda m: m.mean_squared_error(Y2, T), 0.5975, id="mse-y2"),
    P(lambda m: m.cross_entropy_error(Y1, T), 0.510825457099338, id="cee-y1"),
    P(lambda m: m.cross_entropy_error(Y2, T), 2.302584092994546, id="cee-y2"),
    P(lambda m: m.cross_entropy_error(Y1, 2), 0.510825457099338, id="cee-y1-label"),
    P(lambda m: m.numerical_diff(lambda x: 0.01 * x**2 + 0.1 * x, torch.tensor(5.0, dtype=F64)),
      0.1999999999990898, id="diff-5"),
    P(lambda m: m.numerical_diff(lambda x: 0.01 * x**2 + 0.1 * x, torch.tensor(10.0, dtype=F64)),
      0.2999999999986347, id="diff-10"),
]
# fmt: on


@pytest.mark.parametrize("expr,expected", SEED_NUMBERS)
def test_seed_numbers(expr, expected):
    got, ref = expr(rt), float(expr(rn))
    assert isinstance(got, torch.Tensor) and float(got) == expected
    assert abs(ref - expected) <= np.spacing(expected)  # NumPy's own value, within 1 ulp


def test_seed_numerical_gradient_and_descent():
    f = lambda x: x[0] ** 2 + x[1] ** 2  # noqa: E731
    g = rt.numerical_gradient(f, torch.tensor([3.0, 4.0], dtype=F64))
    assert g.tolist() == [6.00000000000378, 7.999999999999119]
    init = torch.tensor([-3.0, 4.0], dtype=F64)
    x, path = rt.gradient_descent(f, init, lr=0.1, step_num=100)
    assert init.tolist() == [-3.0, 4.0]  # not mutated
    xn, pn = rn.gradient_descent(f, np.array([-3.0, 4.0]), lr=0.1, step_num=100)
    assert np.array_equal(path.numpy(), pn) and np.array_equal(x.numpy(), xn)  # bit for bit
    np.testing.assert_allclose(x.numpy(), [-6.11110793e-10, 8.14814391e-10], rtol=1e-8)


# --------------------------------------------------------------------------- hand vs autograd
# The hand backward of every function against torch autograd, with a random incoming gradient
# (cotangent) rather than .sum(), so a transposed or mis-scaled backward cannot hide.
COT = torch.from_numpy(DOUT)
COT_SCALAR = torch.tensor(-1.7, dtype=F64)
# (forward, its hand backward, x, further args, kwargs).  The hand VJP is cotangent · grad(x, ...)
# (softmax: softmax_backward(softmax(x), cotangent)).  Measured max |autograd - hand| in the
# comment, relative to max(1, max |hand|).
# fmt: off
BACKWARD = [
    P("sigmoid", "sigmoid_grad", X, (), {}, id="sigmoid"),  # 2.8e-16
    P("relu", "relu_grad", X, (), {}, id="relu"),  # 0, ReLU'(0) = 0 on both
    P("softmax", "softmax_backward", BIG, (), {}, id="softmax"),  # 3.6e-16
    P("mean_squared_error", "mean_squared_error_grad", Y, (SOFT,), {}, id="mse-half_sum"),  # 0
    P("mean_squared_error", "mean_squared_error_grad", Y, (SOFT,), {"reduction": "mean"},
      id="mse-mean"),  # 8.7e-19
    P("mean_squared_error", "mean_squared_error_grad", Y, (SOFT,), {"reduction": "sum"},
      id="mse-sum"),  # 0
    P("mean_absolute_error", "mean_absolute_error_grad", np.round(X, 1), (TIES,), {},
      id="mae-ties"),  # 4.3e-19, sign(0) = 0 on both sides
    P("cross_entropy_error", "cross_entropy_error_grad", Y, (LAB,), {}, id="cee-labels"),  # 1.4e-17
    P("cross_entropy_error", "cross_entropy_error_grad", Y, (SOFT,), {}, id="cee-soft"),  # 1.4e-16
    P("softmax_cross_entropy", "softmax_cross_entropy_grad", BIG, (LAB,), {},
      id="sce-labels"),  # 3.5e-18
    P("softmax_cross_entropy", "softmax_cross_entropy_grad", BIG, (SOFT,), {},
      id="sce-soft"),  # 6.9e-18
    P("binary_cross_entropy", "binary_cross_entropy_grad", P01, (T01,), {}, id="bce"),  # 1.7e-16
]
# fmt: on


def hand_vs_autograd(fwd: str, bwd: str, x: np.ndarray, extra: tuple, kw: dict) -> float:
    """max |autograd VJP - hand VJP| / max(1, max |hand|), with a random cotangent."""
    xt = torch.tensor(x, dtype=F64, requires_grad=True)
    extra = tuple(_t(a) for a in extra)
    out = getattr(tf, fwd)(xt, *extra, **kw)
    cot = COT if out.ndim else COT_SCALAR
    (auto,) = torch.autograd.grad(out, xt, cot)
    x0 = xt.detach()
    if bwd == "softmax_backward":
        hand = tf.softmax_backward(tf.softmax(x0), cot)
    else:
        hand = cot * getattr(tf, bwd)(x0, *extra, **kw)
    return max_diff(auto, hand) / max(1.0, float(hand.abs().max()))


@pytest.mark.parametrize("fwd,bwd,x,extra,kw", BACKWARD)
def test_hand_backward_equals_autograd(fwd, bwd, x, extra, kw):
    assert hand_vs_autograd(fwd, bwd, x, extra, kw) <= 2e-15


def test_autograd_through_kinks():
    # The forwards are written so autograd agrees with the hand backward at the kinks:
    # σ'(0) = 1/4 (through abs() it would be 0) and ReLU'(0) = 0 (torch.maximum would give 1/2).
    x = torch.tensor([0.0, -0.0], dtype=F64, requires_grad=True)
    (gs,) = torch.autograd.grad(tf.sigmoid(x).sum(), x)
    (gr,) = torch.autograd.grad(tf.relu(x).sum(), x)
    assert gs.tolist() == [0.25, 0.25] and gr.tolist() == [0.0, 0.0]


# --------------------------------------------------------------------------- networks
def mnist_like(n: int, d: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Values in [0, 1], ~80 % exact zeros (like MNIST's background), labels in [0, k)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, d))
    x[x < 0.8] = 0.0
    return x / max(1e-12, float(x.max())), rng.integers(0, k, n)


def rel_diff(a: dict, b: dict) -> float:
    """max over params of max|a - b| / max|b|."""
    return max(max_diff(a[k], b[k]) / max(1e-300, float(np.max(np.abs(_np(b[k]))))) for k in b)


XM, TM = mnist_like(100, 784, 10, seed=7)
# fmt: off
NET_CONFIGS = [
    P({}, "labels", id="sigmoid"),
    P({"activation": "relu"}, "labels", id="relu"),
    P({"activation": "relu", "weight_decay_lambda": 0.1}, "onehot", id="relu-wd-onehot"),
    P({"dropout_ratio": 0.3}, "labels", id="sigmoid-dropout"),
    P({"loss": "cross_entropy_error"}, "labels", id="book-cee"),
    P({"weight_decay_lambda": 0.05, "dropout_ratio": 0.5}, "soft", id="wd-dropout-soft"),
]
# fmt: on


def _targets(kind: str, labels: np.ndarray, k: int) -> np.ndarray:
    if kind == "labels":
        return labels
    if kind == "onehot":
        return np.eye(k)[labels]
    return nf.softmax(np.random.default_rng(1).standard_normal((len(labels), k)))


@pytest.mark.parametrize("config,targets", NET_CONFIGS)
def test_twolayernet_matches_numpy(config, targets):
    net = rn.TwoLayerNet(784, 50, 10, weight_init_std=0.1, seed=3, **config)
    tnet = rt.TwoLayerNet.from_numpy(net, device="cpu")
    t = _targets(targets, TM, 10)
    mask = (
        np.random.default_rng(5).random((100, 50)) > net.dropout_ratio
        if config.get("dropout_ratio")
        else None
    )
    xt, tt = torch.from_numpy(XM), torch.from_numpy(t)
    mt = None if mask is None else torch.from_numpy(mask)
    # Measured (float64, worst config): logits 1.1e-15 abs (values to 1.6; MKL vs NumPy's BLAS
    # blocking), loss 4.4e-16, gradient 6.4e-16 and autograd 7.4e-16 relative to the largest
    # entry of NumPy's backprop gradient.
    assert max_diff(tnet.logits(xt, mt), net.logits(XM, mask)) <= 4e-15
    loss = tnet.loss(xt, tt, mt)
    assert isinstance(loss, torch.Tensor) and loss.ndim == 0
    assert abs(float(loss) - net.loss(XM, t, mask)) <= 2e-15
    grad = net.gradient(XM, t, mask)
    assert rel_diff(tnet.gradient(xt, tt, mt), grad) <= 4e-15
    auto = tnet.autograd_gradient(xt, tt, mt)
    if net.loss_name == "softmax_cross_entropy":
        assert rel_diff(auto, grad) <= 4e-15
    else:  # the book's δ inside the log: autograd sees it, backprop's (y - t)/N does not
        assert 1e-12 < rel_diff(auto, grad) < 1e-5  # measured 3.8e-6
    assert all(p.grad is None and not p.requires_grad for p in tnet.parameters())
    assert tnet.accuracy(xt, torch.from_numpy(TM)) == net.accuracy(XM, TM)


@pytest.mark.parametrize("config,targets", NET_CONFIGS[:3])
def test_twolayernet_float32_matches_numpy(config, targets):
    net = rn.TwoLayerNet(784, 50, 10, weight_init_std=0.1, seed=3, dtype=np.float32, **config)
    tnet = rt.TwoLayerNet.from_numpy(net, device="cpu")
    assert tnet.dtype == F32
    t = _targets(targets, TM, 10)
    t = t.astype(np.float32) if t.dtype.kind == "f" else t
    x = XM.astype(np.float32)
    xt, tt = torch.from_numpy(x), torch.from_numpy(t)
    # Measured: logits 4.2e-7 abs, loss 1.8e-6 (NumPy adds the weight-decay term as a Python
    # float, torch in float32), gradient 4.0e-7 relative.
    assert max_diff(tnet.logits(xt), net.logits(x)) <= 2e-6
    assert abs(float(tnet.loss(xt, tt)) - net.loss(x, t)) <= 8e-6
    assert rel_diff(tnet.gradient(xt, tt), net.gradient(x, t)) <= 2e-6


def test_numerical_gradient_matches_numpy_fast_on_mnist_batch():
    # 784-50-10 on 100 MNIST-like rows: 39 760 central differences.
    net = rn.TwoLayerNet(784, 50, 10, seed=0)
    tnet = rt.TwoLayerNet.from_numpy(net, device="cpu")
    fast = net.numerical_gradient_fast(XM, TM)
    got = tnet.numerical_gradient_fast(torch.from_numpy(XM), torch.from_numpy(TM))
    assert max(max_diff(got[k], fast[k]) for k in fast) <= 1e-9  # measured 3.6e-13
    assert rel_diff(got, net.gradient(XM, TM)) < 1e-7  # truncation (h² term): measured 2.3e-9
    # The blocking changes how much runs per call, not a bit of the result.
    small = tnet.numerical_gradient_fast(
        torch.from_numpy(XM), torch.from_numpy(TM), chunk=100_000
    )
    assert all(torch.equal(small[k], got[k]) for k in got)


@pytest.mark.parametrize("config,targets", NET_CONFIGS)
def test_numerical_gradient_matches_numpy_loop(config, targets):
    # Small net, so NumPy's element loop (the book's definition) is the reference.
    net = rn.TwoLayerNet(12, 6, 4, weight_init_std=0.5, seed=1, **config)
    tnet = rt.TwoLayerNet.from_numpy(net, device="cpu")
    x, labels = mnist_like(9, 12, 4, seed=2)
    t = _targets(targets, labels, 4)
    mask = np.random.default_rng(4).random((9, 6)) > 0.3 if config.get("dropout_ratio") else None
    xt, tt = torch.from_numpy(x), torch.from_numpy(t)
    mt = None if mask is None else torch.from_numpy(mask)
    loop = net.numerical_gradient(x, t, mask)
    got = tnet.numerical_gradient_fast(xt, tt, mt, chunk=500)  # small chunks: the blocking is used
    assert max(max_diff(got[k], loop[k]) for k in loop) <= 1e-9  # measured 2.9e-12
    tloop = tnet.numerical_gradient(xt, tt, mt)
    assert max(max_diff(tloop[k], loop[k]) for k in loop) <= 1e-9  # measured 4.4e-12


def test_numerical_gradient_float32_warns():
    tnet = rt.TwoLayerNet(12, 6, 4, seed=1, device="cpu", dtype="float32")
    x, t = mnist_like(5, 12, 4, seed=0)
    with pytest.warns(rt.PrecisionWarning, match="float32"):
        g = tnet.numerical_gradient_fast(torch.from_numpy(x).float(), torch.from_numpy(t))
    assert g["W1"].dtype == F32


def test_same_seed_same_weights_and_round_trip():
    net = rt.TwoLayerNet(784, 50, 10, seed=42, device="cpu")
    ref = rn.TwoLayerNet(784, 50, 10, seed=42)
    assert net.dtype == F64 and isinstance(net.W1, torch.nn.Parameter)
    for k, v in net.numpy_params().items():
        assert v.dtype == np.float64 and np.array_equal(v, ref.params[k])
    back = rt.TwoLayerNet.from_numpy(net.numpy_params(), device="cpu")
    assert all(torch.equal(getattr(back, k), getattr(net, k)) for k in rn.PARAM_NAMES)
    assert [n for n, _ in net.named_parameters()] == list(rn.PARAM_NAMES)
    # Settings travel with from_numpy; the copy shares no memory with the NumPy net.
    src = rn.TwoLayerNet(
        8,
        4,
        3,
        seed=1,
        activation="relu",
        loss="cross_entropy_error",
        weight_decay_lambda=0.2,
        dropout_ratio=0.25,
    )
    twin = rt.TwoLayerNet.from_numpy(src, device="cpu")
    assert (twin.activation, twin.loss_name, twin.weight_decay_lambda, twin.dropout_ratio) == (
        "relu",
        "cross_entropy_error",
        0.2,
        0.25,
    )
    twin.W1.data += 1
    assert not np.array_equal(src.params["W1"], twin.numpy_params()["W1"])
    f32 = rt.TwoLayerNet.from_numpy(src, device="cpu", dtype=torch.float32)
    assert (
        f32.dtype == F32
        and rt.TwoLayerNet.from_numpy(
            {k: v.astype(np.float32) for k, v in src.params.items()}, device="cpu"
        ).dtype
        == F32
    )


def test_unchecked_cores_return_tensors():
    net = rt.TwoLayerNet(784, 50, 10, seed=0, device="cpu")
    xt, tt = torch.from_numpy(XM), torch.from_numpy(TM)
    loss = net.loss_unchecked(xt, tt, True, None)
    assert isinstance(loss, torch.Tensor) and loss.ndim == 0 and not loss.requires_grad
    assert float(loss) == float(net.loss(xt, tt))
    grads = net.gradient_unchecked(xt, tt, True, None)
    assert all(torch.equal(grads[k], v) for k, v in net.gradient(xt, tt).items())


def test_simplenet_matches_numpy():
    x, t = np.array([0.6, 0.9]), np.array([0, 0, 1])
    ref, net = rn.SimpleNet(seed=0), rt.SimpleNet(seed=0, device="cpu")
    assert np.array_equal(net.W.numpy(), ref.W)
    xt, tt = torch.from_numpy(x), torch.from_numpy(t)
    assert abs(net.loss(xt, tt) - ref.loss(x, t)) <= 4e-16  # measured 0
    assert max_diff(net.gradient(xt, tt), ref.gradient(x, t)) <= 1e-16  # measured 0
    assert max_diff(net.numerical_gradient(xt, tt), ref.numerical_gradient(x, t)) <= 1e-11


# --------------------------------------------------------------------------- bad input
NET = rt.TwoLayerNet(4, 3, 2, seed=0, device="cpu")
XB = torch.zeros((5, 4), dtype=F64)
TB = torch.zeros(5, dtype=torch.int64)
# fmt: off
BAD = [
    P(lambda: NET.loss(XB.float(), TB), TypeError,
      "x: expected dtype torch.float64 (the network's), got torch.float32; "
      "convert with x.to(torch.float64)", id="x-dtype"),
    P(lambda: NET.loss(XB.numpy(), TB), TypeError, "x: expected a torch.Tensor, got array",
      id="x-numpy"),
    P(lambda: NET.loss(XB.to("meta"), TB), TypeError,
      "x: expected a tensor on device cpu (the network's), got meta; move it with x.to('cpu')",
      id="x-device"),
    P(lambda: NET.loss(XB, TB.to("meta")), TypeError, "t: expected a tensor on device cpu",
      id="t-device"),
    P(lambda: NET.loss(XB, torch.zeros((5, 2), dtype=F32)), TypeError,
      "t: expected dtype torch.float64 (the network's), got torch.float32", id="t-dtype"),
    P(lambda: NET.loss(XB, torch.tensor([0, 1, 2, 0, 0])), ValueError,
      "t: expected labels in [0, 2), got 2 at index 2", id="t-range"),
    P(lambda: NET.loss(XB[:, :3], TB), ValueError, "x: expected shape (N, 4), got (5, 3)",
      id="x-shape"),
    P(lambda: NET.gradient(XB, TB, torch.ones((5, 2), dtype=torch.bool)), ValueError,
      "dropout_mask: expected shape (5, 3), got (5, 2)", id="mask-shape"),
    P(lambda: NET.gradient(XB, TB, torch.ones((5, 3), dtype=F32)), TypeError,
      "dropout_mask: expected dtype torch.float64", id="mask-dtype"),
    P(lambda: rt.TwoLayerNet(4, 3, 2, device="cpu", dtype="float16"), TypeError,
      "dtype: expected float32 or float64", id="net-dtype"),
    P(lambda: rt.TwoLayerNet(4, 3, 2, device="cpu", params={"W1": np.zeros((4, 3))}), ValueError,
      "params: expected keys", id="params-missing"),
    P(lambda: tf.cross_entropy_error(torch.ones(3, 2), torch.zeros(3, dtype=torch.int64,
                                                                  device="meta")),
      TypeError, "t: expected a tensor on cpu", id="fn-t-device"),
    P(lambda: tf.softmax(torch.tensor(1.0)), ValueError, "a: expected at least 1 dimension",
      id="softmax-scalar"),
    P(lambda: tf.mean_squared_error(torch.ones(3), torch.ones(4)), ValueError,
      "t: expected the shape of y, (3,), got (4,)", id="mse-shape"),
    P(lambda: tf.mean_squared_error(torch.ones(3), torch.ones(3), "avg"), ValueError,
      "reduction: expected one of", id="mse-reduction"),
    P(lambda: rt.numerical_gradient(lambda x: 0.0, torch.zeros(3, dtype=torch.int64)), TypeError,
      "x: expected a floating-point tensor", id="numgrad-int"),
    P(lambda: rt.numerical_gradient(lambda x: 0.0, np.zeros(3)), TypeError,
      "x: expected a torch.Tensor", id="numgrad-numpy"),
]
# fmt: on


@pytest.mark.parametrize("call,exc,msg", BAD)
def test_bad_input_is_named(call, exc, msg):
    with pytest.raises(exc) as info:
        call()
    assert msg in str(info.value)  # a literal part of the message


def test_numerical_gradient_restores_x_even_when_f_raises():
    x = torch.tensor([0.1 + 0.2, 1e-300, -7.0], dtype=F64)
    before = x.clone()
    calls = []

    def f(v):
        calls.append(float(v[1]))
        if len(calls) == 4:
            raise RuntimeError("boom")
        return float(v.sum())

    with pytest.raises(RuntimeError, match="boom"):
        rt.numerical_gradient(f, x)
    assert (
        torch.equal(x, before) and x.view(torch.int64).tolist() == before.view(torch.int64).tolist()
    )  # bit for bit


def test_numerical_gradient_fast_equals_loop():
    f = lambda v: torch.sin(v).sum() + v[0, 1] * v[1, 2]  # noqa: E731
    fb = lambda vs: torch.sin(vs).sum(dim=(1, 2)) + vs[:, 0, 1] * vs[:, 1, 2]  # noqa: E731
    x = torch.from_numpy(RNG.standard_normal((3, 4)))
    for method in rt.METHODS:
        loop = rt.numerical_gradient(lambda v: float(f(v)), x.clone(), method=method)
        batched = rt.numerical_gradient_fast(fb, x, method=method, chunk=5)
        assert max_diff(batched, loop) <= 1e-11  # measured 1.1e-12 (sum order of 12 sines)
    with pytest.warns(rt.PrecisionWarning):
        rt.numerical_gradient_fast(fb, x.float())


def test_convergence_order_matches_numpy():
    for method in rt.METHODS:
        got = rt.convergence_order(np.exp, 1.0, np.e, method)
        assert got == pytest.approx(rn.convergence_order(np.exp, 1.0, np.e, method), abs=1e-12)


# --------------------------------------------------------------------------- optimizers
SHAPES = {"W1": (30, 8), "b1": (8,), "W2": (8, 4), "b2": (4,)}
P0 = {k: RNG.standard_normal(s) * 0.1 for k, s in SHAPES.items()}
GRADS = [{k: RNG.standard_normal(s) * 0.01 for k, s in SHAPES.items()} for _ in range(50)]


def run_numpy(opt: rn.Optimizer, dtype=np.float64) -> dict:
    p = {k: v.astype(dtype) for k, v in P0.items()}
    for g in GRADS:
        opt.update(p, {k: v.astype(dtype) for k, v in g.items()})
    return p


def run_ours(opt: rt.Optimizer, dtype=F64) -> dict:
    p = {k: torch.tensor(v, dtype=dtype) for k, v in P0.items()}
    for g in GRADS:
        opt.update(p, {k: torch.tensor(v, dtype=dtype) for k, v in g.items()})
    return p


# (name, float64 atol after 50 steps, float32 atol), on parameters of size ~0.1-0.3.
# Measured: SGD, Momentum, Nesterov bit for bit in float64 and float32; AdaGrad 2.8e-17 / 3.0e-8,
# RMSprop 1.1e-16 / 8.9e-8, Adam 8.7e-19 / 1.5e-8 (float64 / float32): torch's CPU sqrt is
# within 1 ulp but not always correctly rounded, NumPy's is.
# fmt: off
OPT_TOL = [
    P("sgd", 0.0, 0.0, id="sgd"),
    P("momentum", 0.0, 0.0, id="momentum"),
    P("nesterov", 0.0, 0.0, id="nesterov"),
    P("adagrad", 1e-16, 1e-7, id="adagrad"),
    P("rmsprop", 4e-16, 2e-7, id="rmsprop"),
    P("adam", 1e-17, 4e-8, id="adam"),
]
# fmt: on


@pytest.mark.parametrize("name,atol64,atol32", OPT_TOL)
def test_optimizer_matches_numpy(name, atol64, atol32):
    ours, ref = run_ours(rt.OPTIMIZERS[name]()), run_numpy(rn.OPTIMIZERS[name]())
    assert max(max_diff(ours[k], ref[k]) for k in ref) <= atol64
    ours32 = run_ours(rt.OPTIMIZERS[name](), F32)
    ref32 = run_numpy(rn.OPTIMIZERS[name](), np.float32)
    assert all(v.dtype == F32 for v in ours32.values())
    assert max(max_diff(ours32[k], ref32[k]) for k in ref32) <= atol32


def run_torch_optim(make) -> dict:
    p = {k: torch.tensor(v, requires_grad=True) for k, v in P0.items()}
    opt = make(list(p.values()))
    for g in GRADS:
        for k, v in p.items():
            v.grad = torch.tensor(g[k])
        opt.step()
    return {k: v.detach() for k, v in p.items()}


# What TORCH_OPTIM_EQUIVALENT claims, measured over the same 50 steps (float64), as the max
# difference relative to the distance the parameters moved: agreement to rounding (measured:
# SGD 6.7e-15, Momentum 3.1e-15, Nesterov 1.5e-14, AdaGrad 4.2e-16, RMSprop 3.3e-16; torch fuses
# lr·g into add_/addcdiv_), and Adam's ε placement as a visible gap (measured 2.0e-2 with
# torch's eps=1e-8, 1.9e-2 with eps=1e-7, i.e. 4.2e-4 and 4.0e-4 absolute: no eps closes it).
# fmt: off
TORCH_OPTIM = [
    P("sgd", lambda p: torch.optim.SGD(p, lr=0.01), 0, 1e-13, id="sgd"),
    P("momentum", lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9), 0, 1e-13, id="momentum"),
    P("nesterov", lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True), 0, 1e-13,
      id="nesterov"),
    P("adagrad", lambda p: torch.optim.Adagrad(p, lr=0.01, eps=1e-7), 0, 1e-13, id="adagrad"),
    P("rmsprop", lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.99, eps=1e-7), 0, 1e-13,
      id="rmsprop"),
    P("adam", lambda p: torch.optim.Adam(p, lr=0.001), 5e-3, 5e-2, id="adam-differs"),
    P("adam", lambda p: torch.optim.Adam(p, lr=0.001, eps=1e-7), 5e-3, 5e-2,
      id="adam-eps1e-7-differs"),
]
# fmt: on


@pytest.mark.parametrize("name,make,low,high", TORCH_OPTIM)
def test_torch_optim_equivalents(name, make, low, high):
    ours = run_ours(rt.OPTIMIZERS[name]())
    theirs = run_torch_optim(make)
    moved = max(max_diff(ours[k], P0[k]) for k in P0)
    gap = max(max_diff(theirs[k], ours[k]) for k in P0) / moved
    assert low <= gap <= high, gap
    assert name in rt.TORCH_OPTIM_EQUIVALENT
    assert ("differs" in rt.TORCH_OPTIM_EQUIVALENT[name]) == (low > 0)


def test_momentum_equivalence_breaks_when_lr_changes():
    # torch.optim.SGD keeps lr out of its buffer, the book's v has it in: equal while lr is
    # constant (above), different once it changes (here lr halves after 25 steps).
    ours = {k: torch.tensor(v) for k, v in P0.items()}
    opt = rt.Momentum(lr=0.01)
    theirs = {k: torch.tensor(v, requires_grad=True) for k, v in P0.items()}
    topt = torch.optim.SGD(list(theirs.values()), lr=0.01, momentum=0.9)
    for i, g in enumerate(GRADS):
        if i == 25:
            opt.lr = topt.param_groups[0]["lr"] = 0.005
        opt.update(ours, {k: torch.tensor(v) for k, v in g.items()})
        for k, v in theirs.items():
            v.grad = torch.tensor(g[k])
        topt.step()
    assert max(max_diff(theirs[k], ours[k]) for k in P0) > 1e-5  # measured 3.2e-4


# fmt: off
OPT_BAD = [
    P({"a": torch.zeros(3, dtype=F32)}, TypeError,
      r"grads\['a'\]: expected dtype torch.float64 \(the param's\), got torch.float32",
      id="dtype"),
    P({"a": torch.zeros(4, dtype=F64)}, ValueError, r"grads\['a'\]: expected shape \(3,\)",
      id="shape"),
    P({"a": np.zeros(3)}, TypeError, r"grads\['a'\]: expected a torch.Tensor", id="numpy"),
    P({"a": torch.zeros(3, dtype=F64, device="meta")}, TypeError,
      r"grads\['a'\]: expected a tensor on device cpu", id="device"),
    P({"a": torch.tensor([0.0, np.inf, 0.0], dtype=F64)}, ValueError,
      r"grads\['a'\]: expected finite values, got inf at index \(1,\)", id="nonfinite"),
    P({"b": torch.zeros(3, dtype=F64)}, KeyError, "expected a gradient for parameter 'a'",
      id="missing"),
]
# fmt: on


@pytest.mark.parametrize("grads,exc,msg", OPT_BAD)
def test_optimizer_refuses_bad_grads_without_mutating(grads, exc, msg):
    p = {"a": torch.ones(3, dtype=F64)}
    opt = rt.Adam()
    with pytest.raises(exc, match=msg):
        opt.update(p, grads)
    assert torch.equal(p["a"], torch.ones(3, dtype=F64)) and opt.iter == 0


def test_optimizer_updates_network_parameters_in_place():
    net = rt.TwoLayerNet(784, 50, 10, seed=0, device="cpu")
    ref = rn.TwoLayerNet(784, 50, 10, seed=0)
    xt, tt = torch.from_numpy(XM), torch.from_numpy(TM)
    w1 = net.W1
    opt, ropt = rt.Adam(), rn.Adam()
    for _ in range(5):
        opt.update(net.params, net.gradient(xt, tt))
        ropt.update(ref.params, ref.gradient(XM, TM))
    assert net.W1 is w1  # updated in place, still the registered Parameter
    assert rel_diff(net.numpy_params(), ref.params) <= 1e-13  # measured 1.6e-16


# --------------------------------------------------------------------------- plan
def test_plan_tensors_and_masks():
    plan = rt.TrainPlan(train_size=50, batch_size=10, iters_num=7, seed=3, dropout_ratio=0.4)
    idx = rt.plan_tensors(plan, "cpu")
    assert idx.dtype == torch.int64 and np.array_equal(idx.numpy(), plan.batch_indices)
    masks = rt.dropout_masks(plan, "cpu", torch.float32, start=2, stop=5)
    assert masks.shape == (3, 10, plan.hidden_size) and masks.dtype == F32
    for k, i in enumerate(range(2, 5)):
        assert np.array_equal(masks[k].numpy(), plan.dropout_mask(i).astype(np.float32))
        assert torch.equal(rt.dropout_mask(plan, i, "cpu", torch.float32), masks[k])
    full = rt.TrainPlan(train_size=20, batch_size=20, iters_num=2, sampling="full")
    assert rt.plan_tensors(full, "cpu") is None and rt.dropout_masks(full, "cpu") is None
    assert rt.TrainPlan is rn.TrainPlan and rt.SAMPLING == rn.SAMPLING


def test_public_names_mirror_numpy():
    # Every reference_numpy public name exists here too.
    missing = set(rn.__all__) - set(rt.__all__)
    assert not missing, missing
    assert all(hasattr(rt, n) for n in rt.__all__)


def test_no_warnings_on_float64_paths():
    net = rt.TwoLayerNet(12, 6, 4, seed=1, device="cpu")
    x, t = mnist_like(5, 12, 4, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.numerical_gradient_fast(torch.from_numpy(x), torch.from_numpy(t))
        rt.numerical_gradient(lambda v: float(v.sum()), torch.zeros(2, dtype=F64))


def test_torch_exports_every_numpy_name():
    # Module for module (a twin, or a framework-neutral module torch imports): tests/test_mirror.py.
    import reference_numpy
    import reference_torch

    missing = [n for n in reference_numpy.__all__ if n not in reference_torch.__all__]
    assert not missing, f"names without a torch twin: {missing}"
