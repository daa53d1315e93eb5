"""``holdout_split``, which takes early stopping's held-out rows, in every engine.

The split is documented as the permutation ``np.random.default_rng(seed).permutation(n)``: its
first ``n_val`` rows held out, the rest kept.  Each engine's split of its own arrays (and, for
torch, of NumPy arrays, which it indexes as NumPy) against those rows taken here, byte for
byte.
"""

from __future__ import annotations

import numpy as np

from ..observe import Observation
from .context import Context

GROUP = "regimes"
CHECK = "holdout_split: the held-out and remaining rows"
ROWS, N_VAL = 300, 100


def observe(ctx: Context) -> list[Observation]:
    (x, t), _ = ctx.mnist[0]
    x, t = np.asarray(x[:ROWS], dtype=np.float64), np.asarray(t[:ROWS])
    perm = np.random.default_rng(ctx.seed).permutation(ROWS)
    want = {"held-out": (x[perm[:N_VAL]], t[perm[:N_VAL]]),
            "remaining": (x[perm[N_VAL:]], t[perm[N_VAL:]])}
    obs = []
    for eng in [ctx.reference, *ctx.engines]:
        split = eng.fn("training", "holdout_split")
        inputs = {"the engine's arrays": (eng.to(x), eng.to_labels(t))}
        if eng.framework != "numpy":
            inputs["NumPy arrays"] = (x, t)
        for how, (xe, te) in inputs.items():
            rest, val = split(xe, te, N_VAL, seed=ctx.seed)
            for part, (xs, ts) in (("held-out", val), ("remaining", rest)):
                wx, wt = want[part]
                obs.append(Observation(CHECK, GROUP, eng.name, "exact", "holdout",
                                       f"{how}: {part} images", eng.back(xs), wx))
                obs.append(Observation(CHECK, GROUP, eng.name, "exact", "holdout",
                                       f"{how}: {part} labels",
                                       np.asarray(eng.back(ts), dtype=np.float64),
                                       wt.astype(np.float64)))
    return obs
