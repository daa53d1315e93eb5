"""Parameters crossing between the engines, in every torch engine.

* ``TwoLayerNet.from_numpy``: the twin of a NumPy network (its dtype unless one is given) or a
  network on a params dict (float32 when W1 is float32, float64 otherwise, whether the dict
  holds NumPy arrays or tensors), with the same values and sharing no memory with the source.
* ``TwoLayerNet.numpy_params()``: float64 copies, which the network's next in-place update
  leaves as they were; and the parameters themselves require no grad (the optimizers update
  them in place, outside autograd).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from reference_numpy.networks import PARAM_NAMES

from ..observe import Observation
from .context import Context

GROUP = "training"
FROM_NUMPY = "TwoLayerNet.from_numpy: the twin's dtype and values, no shared memory"
COPY_CHECK = "TwoLayerNet.numpy_params() copies, unchanged by a later update"
GRAD_CHECK = "TwoLayerNet's parameters: plain tensors (no autograd)"
SIZES = (6, 4, 3)

#: The facts a twin is judged by, in order.
FACTS = ("float32", "values equal", "unchanged by the source's update")


def _params(ctx: Context) -> dict[str, np.ndarray]:
    rng = ctx.rng(90)
    i, h, k = SIZES
    return {"W1": rng.standard_normal((i, h)), "b1": rng.standard_normal(h),
            "W2": rng.standard_normal((h, k)), "b2": rng.standard_normal(k)}


def _sources(p64: dict[str, np.ndarray]) -> dict[str, tuple[Callable[[], object], bool]]:
    """label -> (a fresh source, whether its twin is float32)."""
    import torch

    import reference_numpy.networks as nn

    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    return {
        "a NumPy float64 network": (lambda: nn.TwoLayerNet(*SIZES, params=p64), False),
        "a NumPy float32 network": (lambda: nn.TwoLayerNet(*SIZES, params=p32,
                                                           dtype=np.float32), True),
        "a dict of float64 arrays": (lambda: {k: v.copy() for k, v in p64.items()}, False),
        "a dict of float32 arrays": (lambda: {k: v.copy() for k, v in p32.items()}, True),
        "a dict of float32 tensors": (lambda: {k: torch.tensor(v) for k, v in p32.items()},
                                      True),
    }


def _source_params(src: object) -> dict[str, object]:
    return src.params if hasattr(src, "params") else src


def observe(ctx: Context) -> list[Observation]:
    import torch

    p64 = _params(ctx)
    obs = []
    for eng in ctx.engines:
        if eng.framework != "torch":
            continue
        cls = eng.fn("networks", "TwoLayerNet")
        for label, (make, single) in _sources(p64).items():
            src = make()
            want = {k: np.asarray(v, dtype=np.float64).copy()
                    for k, v in _source_params(src).items()}
            try:
                twin = cls.from_numpy(src, device=eng.device)
            except Exception as e:  # a crash is this case failing, with the reason shown
                obs.append(Observation(FROM_NUMPY, GROUP, eng.name, "exact", "twins",
                                       f"{label}: raised {type(e).__name__}: {e}",
                                       np.array([np.nan]), np.zeros(1)))
                continue
            got = {k: getattr(twin, k).detach().cpu().numpy().astype(np.float64)
                   for k in PARAM_NAMES}
            for v in _source_params(src).values():
                v -= 1  # in place, NumPy array or tensor
            after = {k: getattr(twin, k).detach().cpu().numpy().astype(np.float64)
                     for k in PARAM_NAMES}
            facts = [twin.W1.dtype == torch.float32,
                     all(np.array_equal(got[k], want[k]) for k in PARAM_NAMES),
                     all(np.array_equal(after[k], want[k]) for k in PARAM_NAMES)]
            obs.append(Observation(FROM_NUMPY, GROUP, eng.name, "exact", "twins",
                                   f"{label}: {', '.join(FACTS)}",
                                   np.array(facts, dtype=np.float64),
                                   np.array([single, True, True], dtype=np.float64)))
        obs += _numpy_params(eng, p64)
    return obs


def _numpy_params(eng, params: dict[str, np.ndarray]) -> list[Observation]:
    """The copies taken, then every parameter updated in place (p -= 1, as an optimizer does)."""
    import torch

    net = eng.make_net(params)
    # The optimizers update the parameters in place, outside autograd: none requires grad.
    grad_flags = Observation(GRAD_CHECK, GROUP, eng.name, "exact", "twins",
                             "requires_grad of " + ", ".join(PARAM_NAMES),
                             np.array([getattr(net, k).requires_grad for k in PARAM_NAMES],
                                      dtype=np.float64), np.zeros(len(PARAM_NAMES)))
    want = {k: eng.back(getattr(net, k)) for k in PARAM_NAMES}
    copies = net.numpy_params()
    with torch.no_grad():
        for p in net.params.values():
            p.sub_(1.0)
    return [grad_flags, *(Observation(COPY_CHECK, GROUP, eng.name, "exact", "twins", k,
                                      copies[k], want[k]) for k in PARAM_NAMES)]
