"""The plan's draws as its documentation defines them, recomputed here from NumPy's generators.

``TrainPlan`` (one class, shared by both engines on purpose: torch cannot reproduce PCG64's
draws) decides everything random in a run from ``SeedSequence([seed, stream, ...])``: stream 0
the initial weights (``W = std·N(0, 1)``, ``b = 0``), stream 1 the batch indices (with
replacement: ``integers(0, train_size, (iters, batch))``; shuffled: a permutation per epoch,
cut into whole batches), stream 2 with the iteration the dropout uniforms ``u ~ U[0, 1)`` of
shape (batch, hidden), whose mask is ``u > ratio``.  A bug there is shared by both engines, so
parity cannot see it; the definition can.  Given initial weights are held as copies.
"""

from __future__ import annotations

import math

import numpy as np

from ..observe import Observation
from .context import Context, book_init

GROUP = "regimes"
CHECK = "TrainPlan's draws as documented (SeedSequence streams 0, 1, 2)"
N, B, ITERS, SIZES, STD, RATIO = 50, 8, 9, (6, 5, 3), 0.3, 0.4


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


def _shuffled(seed: int) -> np.ndarray:
    rng, per_epoch = _rng(seed, 1), N // B
    epochs = math.ceil(ITERS / per_epoch)
    perms = [rng.permutation(N)[:per_epoch * B].reshape(per_epoch, B) for _ in range(epochs)]
    return np.concatenate(perms)[:ITERS]


def observe(ctx: Context) -> list[Observation]:
    import torch

    from reference_numpy.plan import TrainPlan
    from reference_torch.plan import dropout_mask

    seed = ctx.seed
    i, h, k = SIZES
    kw = dict(seed=seed, input_size=i, hidden_size=h, output_size=k, weight_init_std=STD)
    plans = {s: TrainPlan(N, B, ITERS, sampling=s, dropout_ratio=RATIO, **kw)
             for s in ("replacement", "shuffle")}
    want_w = book_init(_rng(seed, 0), SIZES, STD)
    cases: list[tuple[str, np.ndarray, np.ndarray]] = []
    for name in want_w:
        cases.append((f"initial {name}", plans["replacement"].initial_params()[name],
                      want_w[name]))
    cases.append(("batch indices, with replacement",
                  np.stack([plans["replacement"].batch(j) for j in range(ITERS)]),
                  _rng(seed, 1).integers(0, N, size=(ITERS, B))))
    cases.append(("batch indices, shuffled per epoch",
                  np.stack([plans["shuffle"].batch(j) for j in range(ITERS)]), _shuffled(seed)))
    plan = plans["replacement"]
    for j in (0, ITERS - 1):
        u = _rng(seed, 2, j).random((B, h))
        cases.append((f"dropout uniforms of iteration {j}", plan.dropout_uniforms(j), u))
        cases.append((f"dropout mask of iteration {j} (NumPy's plan)", plan.dropout_mask(j),
                      u > RATIO))
        cases.append((f"dropout mask of iteration {j} (torch's dropout_mask)",
                      dropout_mask(plan, j, device="cpu", dtype=torch.float64).numpy(),
                      u > RATIO))
    # Initial weights given: the plan holds copies, so changing the caller's arrays after
    # leaves the plan's as they were.
    given = {name: v.copy() for name, v in want_w.items()}
    held = TrainPlan(N, B, ITERS, init=given, **kw)
    for v in given.values():
        v += 1
    for name in want_w:
        cases.append((f"given initial {name}, the caller's array changed after",
                      held.initial_params()[name], want_w[name]))
    return [Observation(CHECK, GROUP, "TrainPlan (both engines)", "exact", "plan", label,
                        np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64))
            for label, got, want in cases]
