"""Adapting a book-style network for check_module: built with the book's signature, the
reference weights copied into its arrays and layer objects, its conventions detected."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._common import _describe
from ._usercode import UserFailure, call

__all__ = ["NetSetup", "SIZES", "assign", "build_net", "data", "load_params",
           "reference_net", "reference_params", "setup_two_layer"]

SIZES = (4, 5, 3)  # TwoLayerNet(input_size, hidden_size, output_size) built for the checks


def assign(holder: Any, attr: str, value: np.ndarray, adapted: list[str], what: str) -> None:
    """Copy ``value`` into ``holder.attr`` in place when shapes agree, else rebind it."""
    cur = holder.get(attr) if isinstance(holder, dict) else getattr(holder, attr, None)
    if isinstance(cur, np.ndarray) and cur.shape == value.shape and cur.flags.writeable \
            and cur.dtype.kind == "f":
        cur[...] = value
        return
    if isinstance(holder, dict):
        holder[attr] = value.copy()
    else:
        setattr(holder, attr, value.copy())
    adapted.append(f"{what} replaced (it was {_describe(cur)})")


def _layers_with_weights(net: Any) -> list[Any]:
    layers = getattr(net, "layers", None)
    if isinstance(layers, Mapping):
        layers = list(layers.values())
    if not isinstance(layers, (list, tuple)):
        return []
    return [lay for lay in layers if hasattr(lay, "W") and hasattr(lay, "b")]


def load_params(net: Any, p: Mapping[str, np.ndarray], adapted: list[str]) -> None:
    """The reference weights into ``net.params`` and into its Affine-like layers."""
    params = getattr(net, "params", None)
    if not isinstance(params, dict):
        params = {}
        net.params = params
        adapted.append("net.params created")
    for k, v in p.items():
        assign(params, k, v, adapted, f"params[{k!r}]")
    layers = _layers_with_weights(net)
    for i, lay in enumerate(layers[:2]):
        for attr, key in (("W", f"W{i + 1}"), ("b", f"b{i + 1}")):
            cur = getattr(lay, attr)
            if cur is not params.get(key):
                assign(lay, attr, p[key], adapted, f"layer {i + 1}'s {attr}")
    if layers:
        adapted.append(f"reference weights copied into net.params and into {len(layers[:2])} "
                       f"layer objects' W/b")
    else:
        adapted.append("reference weights copied into net.params")


def build_net(cls: type, adapted: list[str]) -> Any:
    i, h, k = SIZES
    try:
        net = cls(input_size=i, hidden_size=h, output_size=k)
    except TypeError:
        net = call(f"{cls.__name__}({i}, {h}, {k})", cls, i, h, k)
    adapted.append(f"built as {cls.__name__}({i}, {h}, {k}) (no params= constructor needed)")
    return net


def reference_params(seed: int = 3) -> dict[str, np.ndarray]:
    """Weights of scale 0.5 (not the book's 0.01): gradients well above rounding."""
    rng = np.random.default_rng(seed)
    i, h, k = SIZES
    return {"W1": 0.5 * rng.standard_normal((i, h)), "b1": 0.1 * rng.standard_normal(h),
            "W2": 0.5 * rng.standard_normal((h, k)), "b2": 0.1 * rng.standard_normal(k)}


@dataclass
class NetSetup:
    net: Any
    p: dict[str, np.ndarray]
    x: np.ndarray
    t: np.ndarray  # what the net is given: one-hot (the book's), or labels
    activation: str
    loss: str
    adapted: list[str]
    ignores_params: bool


def data(seed: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((6, SIZES[0]))
    labels = rng.integers(0, SIZES[2], 6)
    return x, labels


def reference_net(p: Mapping[str, np.ndarray], activation: str, loss: str) -> Any:
    from reference_numpy.networks import TwoLayerNet

    return TwoLayerNet(*SIZES, params=p, activation=activation, loss=loss)


def setup_two_layer(cls: type) -> NetSetup:
    adapted: list[str] = []
    net = build_net(cls, adapted)
    x, labels = data()
    t = np.eye(SIZES[2])[labels]
    before = None
    if callable(getattr(net, "predict", None)):
        try:
            before = np.array(call("predict", net.predict, x.copy()), dtype=np.float64)
        except (UserFailure, TypeError, ValueError):
            before = None
    p = reference_params()
    load_params(net, p, adapted)
    after = None
    if before is not None:
        try:
            after = np.array(call("predict", net.predict, x.copy()), dtype=np.float64)
        except (UserFailure, TypeError, ValueError):
            after = None
    ignores = before is not None and after is not None and np.array_equal(before, after)
    try:
        user_loss = float(np.asarray(call("loss(x, t) with one-hot t", net.loss, x.copy(),
                                          t.copy())))
    except UserFailure as one_hot_failure:
        try:  # a labels-only network is given labels everywhere
            user_loss = float(np.asarray(call("loss(x, t) with labels", net.loss, x.copy(),
                                              labels.copy())))
        except UserFailure:
            raise one_hot_failure from None
        t = labels
        adapted.append("labels-only targets: the network is given integer labels")
    best = None
    for activation in ("sigmoid", "relu"):
        for loss in ("softmax_cross_entropy", "cross_entropy_error"):
            ref = reference_net(p, activation, loss).loss(x, t)
            gap = abs(user_loss - ref) / abs(ref)
            if best is None or gap < best[0]:
                best = (gap, activation, loss)
    assert best is not None
    gap, activation, loss = best
    # 1e-9: the four conventions' losses differ by >= 1e-7 relative (δ) or far more
    # (activation); rounding differences between correct implementations are ~1e-16.
    how = "detected" if gap <= 1e-9 else "closest (the loss matches none of the four)"
    adapted.append(f"{how}: {activation} hidden layer, "
                   + ("δ = 1e-7 inside the log" if loss == "cross_entropy_error"
                      else "no δ inside the log") + " (reference built to match)")
    if t is not labels:
        try:
            float(np.asarray(call("loss(x, t) with labels", net.loss, x.copy(),
                                  labels.copy())))
        except (UserFailure, TypeError, ValueError):
            adapted.append("one-hot-only targets: the network is given one-hot t")
    return NetSetup(net, p, x, t, activation, loss, adapted, ignores)
