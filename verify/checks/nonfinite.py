"""Training into a non-finite loss with ``allow_nonfinite=True``, in every engine.

One training row gets a NaN pixel.  The first batch that draws it makes that step's gradient,
so every parameter, NaN, and the loss after the step with it: the run must stop at exactly
that iteration, with its losses up to and including it, name ``params['W1']`` (the first
parameter) in ``history.meta["nonfinite"]`` and warn the same.  Where it must stop is read from
the plan here, not from either engine, so a bug both engines share still moves the row.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..observe import Observation
from .context import Context

GROUP = "training"
CHECK = "allow_nonfinite: stops at the first non-finite loss"
ROWS, BATCH, ITERS, HIDDEN, LR = 100, 10, 12, 10, 0.1

#: The facts of a run the row compares, in order (the stop iteration is the plan's).
FACTS = ("stopped_at", "losses recorded", "losses finite before the stop", "last loss NaN",
         "meta names params['W1']", "meta['allow_nonfinite']", "RuntimeWarning given")


def poisoned_row(plan) -> tuple[int, int]:
    """(row, iteration): a row first drawn at an iteration >= 2 (so the run has finite steps
    before it), and that iteration."""
    seen: set[int] = set()
    for i in range(plan.iters_num):
        rows = {int(r) for r in np.asarray(plan.batch(i)).ravel()}
        new = sorted(rows - seen)
        if i >= 2 and new:
            return new[0], i
        seen |= rows
    raise ValueError(f"plan: no row is first drawn after iteration 1 in {plan.iters_num}")


def observe(ctx: Context) -> list[Observation]:
    from reference_numpy.plan import TrainPlan

    (x, t), (xt, tt) = ctx.mnist[0]
    x, t = np.array(x[:ROWS], dtype=np.float64), t[:ROWS]
    xt, tt = np.asarray(xt[:ROWS], dtype=np.float64), tt[:ROWS]
    plan = TrainPlan(ROWS, BATCH, ITERS, seed=ctx.seed, hidden_size=HIDDEN)
    row, stop = poisoned_row(plan)
    x[row, 0] = np.nan
    want = np.array([stop, stop + 1, 1, 1, 1, 1, 1], dtype=np.float64)
    obs = []
    for eng in [ctx.reference, *ctx.engines]:
        net = eng.make_net(plan.initial_params())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            hist = eng.mod("training").train(net, eng.to(x), eng.to_labels(t), eng.to(xt),
                                             eng.to_labels(tt), plan, learning_rate=LR,
                                             progress=False, allow_nonfinite=True)
        losses = [float(v) for v in hist.train_loss_list]
        message = str(hist.meta.get("nonfinite", ""))
        got = np.array([
            -1 if hist.stopped_at is None else hist.stopped_at,
            len(losses),
            all(math.isfinite(v) for v in losses[:-1]),
            bool(losses) and math.isnan(losses[-1]),
            "params['W1']" in message,
            hist.meta.get("allow_nonfinite") is True,
            any(issubclass(w.category, RuntimeWarning) and "params['W1']" in str(w.message)
                for w in caught),
        ], dtype=np.float64)
        obs.append(Observation(CHECK, GROUP, eng.name, "exact", "nonfinite",
                               f"NaN in row {row}, first drawn at iteration {stop}: "
                               + ", ".join(FACTS), got, want,
                               details={"nonfinite": message or None}))
    return obs
