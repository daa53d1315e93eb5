"""The numerical gradient of TwoLayerNet(784, H, 10) on a batch of MNIST images, three ways.

* the element loop, ``reference_numpy`` ``TwoLayerNet.numerical_gradient`` (the book's way: two
  forward passes per parameter, ~40,000 parameters);
* ``reference_numpy`` ``TwoLayerNet.numerical_gradient_fast`` (only the changed logits);
* ``reference_torch`` ``TwoLayerNet.numerical_gradient_fast`` (batched central differences),
  float64, on the CPU and on a GPU.

All three compute the same central differences (L(p+h) - L(p-h)) / 2h with h = 1e-4 at the plan's
initial weights, so their results differ by rounding only; ``max_abs_diff`` measures that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .runs import MnistData, make_plan

GradFn = Callable[[], Mapping[str, Any]]


def gradient_inputs(
    data: MnistData, batch: int, hidden: int, seed: int
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The first ``batch`` training images (float64), their labels, and the plan's initial
    weights for a 784-``hidden``-10 net."""
    x = data.x_train[:batch].astype(np.float64)
    t = data.t_train[:batch].copy()
    params = make_plan(data, 1, seed, hidden=hidden).initial_params()
    return x, t, params


def _numpy_net(params: Mapping[str, np.ndarray]) -> Any:
    import reference_numpy as rn

    w1, w2 = params["W1"], params["W2"]
    return rn.TwoLayerNet(w1.shape[0], w1.shape[1], w2.shape[1], params=params)


def loop_fn(x: np.ndarray, t: np.ndarray, params: Mapping[str, np.ndarray]) -> GradFn:
    net = _numpy_net(params)
    return lambda: net.numerical_gradient(x, t)


def fast_fn(x: np.ndarray, t: np.ndarray, params: Mapping[str, np.ndarray]) -> GradFn:
    net = _numpy_net(params)
    return lambda: net.numerical_gradient_fast(x, t)


def torch_fn(
    x: np.ndarray, t: np.ndarray, params: Mapping[str, np.ndarray], device: Any
) -> GradFn:
    """Batched torch central differences in float64 on ``device`` (inputs moved there first)."""
    import torch

    from reference_torch.networks import TwoLayerNet

    net = TwoLayerNet.from_numpy(dict(params), device=device, dtype=torch.float64)
    xt = torch.from_numpy(x).to(device)
    tt = torch.from_numpy(t).to(device)
    return lambda: net.numerical_gradient_fast(xt, tt)


def as_numpy(grads: Mapping[str, Any]) -> dict[str, np.ndarray]:
    out = {}
    for k, v in grads.items():
        if hasattr(v, "detach"):
            v = v.detach().cpu().numpy()
        out[k] = np.asarray(v, dtype=np.float64)
    return out


def max_abs_diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    """max over parameters and elements of |a - b|."""
    a, b = as_numpy(a), as_numpy(b)
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


def n_params(params: Mapping[str, np.ndarray]) -> int:
    return int(sum(np.asarray(v).size for v in params.values()))
