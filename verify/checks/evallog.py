"""The notes' line at each evaluation, written by ``train(..., log=stream)`` in every mode.

The notes print ``f"train acc: {train_acc:.4f}, test acc: {test_acc:.4f}"`` once per epoch.
Each engine's ``train`` writes that line to ``log`` at each evaluation, in the eager loop, the
fused step and (torch) the graph loop run uncaptured: the lines must be the notes' format of
the run's own recorded accuracies, one per evaluation, nothing else.
"""

from __future__ import annotations

import io

import numpy as np

from ..observe import Observation
from .context import Context
from .regimes import GRAPH_UNCAPTURED

GROUP = "training"
CHECK = "train(log=...): the notes' line at each evaluation"
ROWS, BATCH, ITERS, HIDDEN, LR = 100, 10, 21, 10, 0.1


def notes_line(train_acc: float, test_acc: float) -> str:
    """The notes' own print, typed here from the notes (not the engines' ``eval_line``)."""
    return f"train acc: {train_acc:.4f}, test acc: {test_acc:.4f}"


def modes(eng) -> list[str]:
    out = ["eager"]
    default = eng.default_mode(LR)
    if default != "eager":
        out.append(default)
    if eng.framework == "torch" and "graph" not in out:
        out.append(GRAPH_UNCAPTURED)
    return out


def observe(ctx: Context) -> list[Observation]:
    from reference_numpy.plan import TrainPlan

    (x, t), (xt, tt) = ctx.mnist[0]
    x, t = np.asarray(x[:ROWS], dtype=np.float64), t[:ROWS]
    xt, tt = np.asarray(xt[:ROWS], dtype=np.float64), tt[:ROWS]
    plan = TrainPlan(ROWS, BATCH, ITERS, seed=ctx.seed, hidden_size=HIDDEN)
    obs = []
    for eng in [ctx.reference, *ctx.engines]:
        for mode in modes(eng):
            net = eng.make_net(plan.initial_params())
            stream = io.StringIO()
            args = (net, eng.to(x), eng.to_labels(t), eng.to(xt), eng.to_labels(tt), plan)
            kw = dict(learning_rate=LR, progress=False, log=stream)
            training = eng.mod("training")
            if mode == GRAPH_UNCAPTURED:
                with eng.mod("fastpath").uncaptured_graph_loop():
                    hist = training.train(*args, mode="graph", **kw)
            else:
                hist = training.train(*args, mode=mode, **kw)
            lines = stream.getvalue().splitlines()
            want = [notes_line(a, b) for a, b in zip(hist.train_acc_list, hist.test_acc_list,
                                                     strict=True)]
            n = max(len(lines), len(want), 1)
            got_ok = [float(i < len(lines) and i < len(want) and lines[i] == want[i])
                      for i in range(n)]
            bad = next((i for i, ok in enumerate(got_ok) if not ok), None)
            label = f"{mode}: {len(plan.eval_iters)} evaluations, lines equal"
            if bad is not None:
                label += (f" (line {bad}: {lines[bad] if bad < len(lines) else 'missing'!r}, "
                          f"expected {want[bad] if bad < len(want) else 'none'!r})")
            obs.append(Observation(CHECK, GROUP, eng.name, "exact", "evallog", label,
                                   np.array([len(lines), *got_ok], dtype=np.float64),
                                   np.array([len(plan.eval_iters), *[1.0] * n])))
    return obs
