"""The loss along one weight (the notes' figure), in both engines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import reference_numpy as rn
import reference_torch as rt
from reference_numpy.landscape import loss_along_weight as np_along
from reference_numpy.plotting import plot_loss_along_weight
from reference_torch.landscape import loss_along_weight as t_along


def _setup(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((8, 6))
    t = rng.integers(0, 4, size=8)
    net = rn.TwoLayerNet(6, 5, 4, weight_init_std=0.5, seed=seed)
    return net, x, t


@pytest.mark.parametrize(("param", "index"), [("W1", (2, 3)), ("b1", (4,)), ("W2", (0, 1)),
                                               ("b2", (3,))])
def test_slope_at_the_weight_is_the_gradient_entry(param: str, index: tuple) -> None:
    net, x, t = _setup()
    h = 1e-4
    w, losses = np_along(net, x, t, param, index, np.array([-h, 0.0, h]))
    slope = (losses[2] - losses[0]) / (2 * h)
    grad = net.gradient(x, t)[param][index]
    # Central difference: truncation h^2 |L'''| / 6 ~ 1e-9 here, rounding eps |L| / h ~ 1e-11.
    assert slope == pytest.approx(grad, abs=1e-8)
    assert losses[1] == float(net.loss(x, t))
    assert w[1] == net.params[param][index]


def test_weight_is_restored_bit_for_bit_and_engines_agree() -> None:
    net, x, t = _setup(1)
    before = {k: v.copy() for k, v in net.params.items()}
    offsets = np.linspace(-2.0, 2.0, 21)
    w, losses = np_along(net, x, t, "W1", (0, 0), offsets)
    for k in before:
        np.testing.assert_array_equal(net.params[k], before[k])
    tnet = rt.TwoLayerNet.from_numpy(net, device="cpu", dtype=torch.float64)
    tw, tlosses = t_along(tnet, torch.from_numpy(x), torch.from_numpy(t), "W1", (0, 0),
                          torch.from_numpy(offsets))
    np.testing.assert_array_equal(tw.numpy(), w)
    # The two engines' losses differ by a few ulp of exp/log (tests/test_torch_parity.py).
    np.testing.assert_allclose(tlosses.numpy(), losses, rtol=1e-13)
    np.testing.assert_array_equal(tnet.numpy_params()["W1"], before["W1"])
    # The curve is not flat: a weight of the input layer does move the loss.
    assert np.ptp(losses) > 1e-6


def test_restored_even_if_the_loss_raises() -> None:
    net, x, t = _setup(2)
    saved = net.params["b2"].copy()
    calls = []

    class Boom:
        params = net.params

        def loss(self, x, t):
            calls.append(1)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        np_along(Boom(), x, t, "b2", (1,), np.array([5.0]))
    assert calls == [1]
    np.testing.assert_array_equal(net.params["b2"], saved)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"param": "W3"}, "param: expected one of ['W1', 'W2', 'b1', 'b2'], got 'W3'"),
        ({"index": (9, 9)}, "index: expected an index into W1 of shape (6, 5), got (9, 9)"),
        ({"index": (1,)}, "index: expected an index into W1 of shape (6, 5)"),
        ({"index": "a"}, "index: expected a tuple of ints"),
        ({"offsets": np.zeros((2, 2))}, "offsets: expected a non-empty 1-D array, got shape"),
        ({"offsets": np.array([])}, "offsets: expected a non-empty 1-D array"),
        ({"offsets": np.array([np.nan])}, "offsets: expected finite values"),
    ],
)
def test_bad_input_is_refused_and_nothing_changes(kwargs: dict, fragment: str) -> None:
    net, x, t = _setup(3)
    before = {k: v.copy() for k, v in net.params.items()}
    args = {"param": "W1", "index": (0, 0), "offsets": np.array([0.1])} | kwargs
    with pytest.raises((ValueError, TypeError)) as info:
        np_along(net, x, t, **args)
    assert fragment in str(info.value)
    for k in before:
        np.testing.assert_array_equal(net.params[k], before[k])


def test_plot(tmp_path) -> None:
    net, x, t = _setup(4)
    w, losses = np_along(net, x, t, "W2", (1, 2), np.linspace(-3, 3, 31))
    out = tmp_path / "along.png"
    plot_loss_along_weight(w, losses, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="losses: expected one loss per weight"):
        plot_loss_along_weight(w, losses[:-1], tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()
