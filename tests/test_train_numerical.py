"""The notes' own training loop and their printed line, and the directional derivative, in both
engines: ``train(..., gradient="numerical")``, ``train(..., log=stream)``,
``gradient.directional_derivative``."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import reference_numpy as rn  # noqa: E402
import reference_torch as rt  # noqa: E402

ENGINES = [rn, rt]
IDS = ["numpy", "torch"]

# Measured (3 seeds, 100 MNIST-shaped rows, batch 10, hidden 10, 4 iterations, float64): the
# numerical loop's losses within 3.5e-13 (relative) of backprop's and its parameters within
# 1.4e-9 of their scale (central-difference truncation, h = 1e-4); bounds are 10x.
LOSS_REL, PARAM_SCALED = 4e-12, 1.4e-8


def _data(n: int = 100) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    x = rng.random((n, 784)) * (rng.random((n, 784)) < 0.2)  # MNIST-like: most pixels 0
    return x, np.arange(n) % 10


def _net(engine, plan):
    kw = {"dtype": torch.float64} if engine is rt else {}
    return engine.TwoLayerNet(784, plan.hidden_size, 10, params=plan.initial_params(), **kw)


def _params(engine, net) -> dict[str, np.ndarray]:
    return net.params if engine is rn else net.numpy_params()


@pytest.mark.parametrize("engine", ENGINES, ids=IDS)
def test_numerical_loop_follows_the_backprop_loop(engine) -> None:
    x, t = _data()
    plan = rn.TrainPlan(train_size=100, batch_size=10, iters_num=4, hidden_size=10, seed=1)
    runs = {}
    for g in ("backprop", "numerical"):
        net = _net(engine, plan)
        hist = engine.train(net, x, t, x[:50], t[:50], plan, mode="eager", gradient=g)
        assert hist.meta["gradient"] == g and hist.meta["mode"] == "eager"
        runs[g] = (np.array(hist.train_loss_list), _params(engine, net))
    (lb, pb), (ln, pn) = runs["backprop"], runs["numerical"]
    assert np.max(np.abs(ln - lb) / np.abs(lb)) <= LOSS_REL
    for k in pb:
        assert np.max(np.abs(pn[k] - pb[k])) <= PARAM_SCALED * np.max(np.abs(pb[k])), k
    # The step changed something, so the comparison is not of two untouched networks.
    assert not np.array_equal(pb["W1"], plan.init["W1"])


@pytest.mark.parametrize("engine", ENGINES, ids=IDS)
def test_numerical_gradient_refuses_the_fast_modes(engine) -> None:
    x, t = _data(20)
    plan = rn.TrainPlan(train_size=20, batch_size=5, iters_num=1, hidden_size=3)
    net = _net(engine, plan)
    before = _params(engine, net)["W1"].copy()
    with pytest.raises(ValueError, match="mode: gradient 'numerical' runs the reference loop"):
        engine.train(net, x, t, x, t, plan, mode="fused", gradient="numerical")
    with pytest.raises(ValueError, match="gradient: expected one of"):
        engine.train(net, x, t, x, t, plan, gradient="autograd")
    with pytest.raises(TypeError, match="log: expected a text stream"):
        engine.train(net, x, t, x, t, plan, log="stdout")
    assert np.array_equal(_params(engine, net)["W1"], before)


LINE = re.compile(r"^train acc: \d\.\d{4}, test acc: \d\.\d{4}$")


@pytest.mark.parametrize("mode", ["eager", "fused"])
@pytest.mark.parametrize("engine", ENGINES, ids=IDS)
def test_log_prints_the_notes_line_per_evaluation(engine, mode: str) -> None:
    x, t = _data()
    plan = rn.TrainPlan(train_size=100, batch_size=10, iters_num=25, hidden_size=8, seed=2)
    stream = io.StringIO()
    hist = engine.train(_net(engine, plan), x, t, x[:40], t[:40], plan, mode=mode, log=stream)
    lines = stream.getvalue().splitlines()
    assert len(lines) == len(hist.eval_iters) == 3  # iterations 0, 10, 20
    assert all(LINE.match(s) for s in lines), lines
    accs = zip(hist.train_acc_list, hist.test_acc_list, strict=True)
    want = [rn.training.eval_line(a, b) for a, b in accs]
    assert lines == want


def test_eval_line_is_the_notes_format() -> None:
    # The notes: print(f"train acc: {train_acc:.4f}, test acc: {test_acc:.4f}")
    assert rn.training.eval_line(0.0993, 0.1032) == "train acc: 0.0993, test acc: 0.1032"
    assert rt.training.eval_line(0.09871666, 0.098) == "train acc: 0.0987, test acc: 0.0980"


def _sum_sin(engine):
    return (lambda z: float(np.sum(np.sin(z)))) if engine is rn else (lambda z: torch.sin(z).sum())


@pytest.mark.parametrize("engine", ENGINES, ids=IDS)
def test_directional_derivative_is_gradient_dot_unit_v(engine) -> None:
    x = np.array([[0.3, -1.2], [2.0, 0.7]])
    v = np.array([[1.0, 2.0], [-2.0, 0.5]])
    as_in = (lambda a: a) if engine is rn else torch.from_numpy
    x_in = as_in(x.copy())
    got = float(engine.directional_derivative(_sum_sin(engine), x_in, as_in(v)))
    exact = float(np.sum(np.cos(x) * v) / np.linalg.norm(v))
    # Central difference along u: truncation h²/6·|Σ u³ cos| ≤ 1.7e-9 here, rounding ~1e-12.
    assert abs(got - exact) <= 2e-9
    assert np.array_equal(np.asarray(x_in), x)  # x is not moved
    # Scaling v does not change the slope (it is along v / |v|).
    again = float(engine.directional_derivative(_sum_sin(engine), x_in, as_in(3 * v)))
    assert abs(again - got) <= 1e-12


@pytest.mark.parametrize("engine", ENGINES, ids=IDS)
def test_directional_derivative_refuses_bad_directions(engine) -> None:
    as_in = (lambda a: a) if engine is rn else torch.from_numpy
    x = as_in(np.zeros(3))
    with pytest.raises(ValueError, match="v: expected a non-zero direction"):
        engine.directional_derivative(_sum_sin(engine), x, as_in(np.zeros(3)))
    with pytest.raises(ValueError, match="v: expected the shape of x"):
        engine.directional_derivative(_sum_sin(engine), x, as_in(np.ones(2)))


def test_directional_derivative_engines_agree_bit_for_bit() -> None:
    # The same float64 operations on three elements (one summation order) give the same bits.
    x, v = np.array([0.1, 0.2, -0.4]), np.array([3.0, 0.0, 4.0])
    a = rn.directional_derivative(lambda z: float(np.sum(z**3)), x, v)
    xt, vt = torch.from_numpy(x), torch.from_numpy(v)
    b = rt.directional_derivative(lambda z: torch.sum(z**3), xt, vt)
    assert a == float(b)
