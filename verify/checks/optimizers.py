"""Every optimizer, one step and many steps, from identical states.

The quantity compared is the total parameter change p_t - p_0 rather than p_t itself: a learning
rate off by 0.1% moves p_t by 1e-3 of an update, which is far below float32 rounding of p, but
it is 1e-3 of the change.
"""

from __future__ import annotations

import numpy as np

from reference_numpy.optimizers import OPTIMIZERS

from ..observe import Observation
from .context import Context, r32

GROUP = "optimizers"
NAMES = tuple(OPTIMIZERS)


def observe(ctx: Context) -> list[Observation]:
    obs: list[Observation] = []
    rng = ctx.rng(3)
    steps = 20 if ctx.quick else 50
    params = {"W1": 0.1 * rng.standard_normal((30, 8)), "b1": np.zeros(8),
              "W2": 0.1 * rng.standard_normal((8, 5)), "b2": np.zeros(5)}
    grads = [{k: r32(0.05 * rng.standard_normal(v.shape)) for k, v in params.items()}
             for _ in range(steps)]
    params = {k: r32(v) for k, v in params.items()}
    for name in NAMES:
        ref = ctx.reference.optimizer_run(name, params, grads)
        for eng in ctx.engines:
            got = eng.optimizer_run(name, params, grads)
            for t in (0, steps - 1):
                label = "one step" if t == 0 else f"{steps} steps"
                for k in params:
                    obs.append(Observation(f"{name} ({label})", GROUP, eng.name,
                                           eng.tolerance_class, "update", f"change in {k}",
                                           got[t][k] - params[k], ref[t][k] - params[k]))
    return obs
