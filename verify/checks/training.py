"""Training on MNIST, two ways.

1. Step replay with restarts.  The float64 reference runs the plan; at every replayed step i each
   candidate starts from the *reference* parameters p_i, takes batch i, and computes the
   gradient, the update and the loss after the update.  Errors cannot accumulate, so the
   tolerance stays tight, and the first failing step and tensor are reported exactly.
2. Free-running curves.  Each engine runs the whole plan on its own.  Per-iteration loss is
   compared with a band that widens with the step as rounding differences compound (measured);
   accuracy is compared through prediction flips: how many of the 70,000 examples change
   their predicted class between engine and reference at each evaluation.
3. Golden values.  The reference itself is held to a trajectory recorded earlier
   (``verify/golden.py``): its loss curve, its correct counts and the fingerprints of its
   parameters at checkpoints, so a bug that both engines share, which (1) and (2) cannot see,
   still fails.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from reference_numpy.networks import PARAM_NAMES as PARAMS

from .. import golden
from ..compare import bound_ratio
from ..observe import Observation
from ..plans import LEARNING_RATE, training_plan
from ..tolerances import tolerance_for
from . import accuracy, distributed, evallog, nonfinite, saved, twins
from .context import Context, r32

if TYPE_CHECKING:
    from reference_numpy.plan import TrainPlan
    from reference_numpy.runrules import TrainHistory

    #: ((x_train, t_train), (x_test, t_test))
    Data = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

GROUP = "training"
LR = LEARNING_RATE
GOLDEN_CHECK = "golden trajectory (the reference against the values recorded for this run)"


def observe(ctx: Context) -> Iterator[Observation]:
    (data, source) = ctx.mnist
    (x, t), (xt, tt) = data
    plan = training_plan(len(x), ctx.iters, ctx.seed)
    gold = _golden(ctx, source, plan, len(xt))
    yield from replay(ctx, plan, x, t, gold)
    yield from free_running(ctx, plan, data, gold)
    if not ctx.calibration:
        yield from saved.observe(ctx)
        yield from twins.observe(ctx)
        yield from evallog.observe(ctx)
        yield from nonfinite.observe(ctx)
        yield from distributed.observe(ctx)


def _golden(ctx: Context, source, plan, test_size: int) -> golden.GoldenRun | None:
    """The golden trajectory of this run, or None (and why, in ``ctx.golden``)."""
    key = golden.GoldenKey.of(source.kind, plan, test_size, LR)
    run = golden.find(key)
    if run is None:
        ctx.golden = (f"none recorded for this run ({source.kind} data, seed {plan.seed}, "
                      f"{plan.iters_num} iterations): a bug both engines share would not be seen")
    else:
        ctx.golden = f"verify/golden/{key.filename} ({run.meta.get('date', 'undated')})"
    return run


def _golden_obs(case: str, kind: str, actual: object, expected: object,
                step: int | None = None) -> Observation:
    return Observation(GOLDEN_CHECK, GROUP, "reference (numpy/float64)", "float64", kind, case,
                       np.atleast_1d(np.asarray(actual, dtype=np.float64)),
                       np.atleast_1d(np.asarray(expected, dtype=np.float64)), step=step)


def golden_observations(gold: golden.GoldenRun, r_hist: TrainHistory,
                        r_params: dict[str, np.ndarray]) -> Iterator[Observation]:
    """The reference's free-running run against its golden trajectory: the loss curve (the
    float64 band), the correct counts at each evaluation, the final parameters' fingerprint."""
    key = gold.key
    yield Observation(GOLDEN_CHECK + ": loss curve", GROUP, "reference (numpy/float64)",
                      "float64", "curve", "train loss",
                      np.asarray(r_hist.train_loss_list, dtype=np.float64),
                      np.asarray(gold.losses, dtype=np.float64))
    n = (key.train_size, key.test_size)
    for name, got, want, size in (("train", r_hist.train_acc_list, gold.train_acc, n[0]),
                                  ("test", r_hist.test_acc_list, gold.test_acc, n[1])):
        counts = [round(a * size) for a in got]
        expected = [round(a * size) for a in want]
        if len(counts) != len(expected):  # a different number of evaluations is itself wrong
            counts = counts + [-1] * (len(expected) - len(counts))
            counts = counts[: len(expected)]
        yield _golden_obs(f"{name} correct counts at the {len(expected)} evaluations",
                          "golden_count", counts, expected)
    final = key.iters - 1
    got = golden.fingerprint(r_params)
    for p, want in gold.fingerprints[final].items():
        yield _golden_obs(f"final parameters (train), fingerprint of {p}", "golden_fingerprint",
                          got[p], want, step=final)


def sgd_step(params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float) -> None:
    """``p -= lr * g`` in place: the float64 trajectory's own update.  Written here, not taken
    from an engine's SGD class, because selftest plants bugs in those classes and the reference
    trajectory must stay clean."""
    for k in PARAMS:
        params[k] -= lr * grads[k]


#: Steps replayed by default: every step up to FULL_REPLAY, then every STRIDE-th.  A bug from
#: step 0 is flagged at its exact step; one that starts later within STRIDE steps of it.  The
#: free-running curves still cover every step.  ``--replay-all`` replays all of them.
#: ``--quick`` replays every step only up to QUICK_FULL_REPLAY: the replay was two thirds of a
#: quick run's time.  Its steps are a subset of the default's, so the replay tolerances, measured
#: over the default's steps (calibration always replays those), still bound them.
FULL_REPLAY, QUICK_FULL_REPLAY, STRIDE = 1000, 300, 10


def replay_steps(n: int, replay_all: bool = False, full: int = FULL_REPLAY) -> list[int]:
    """The steps of an ``n``-step run that are replayed: 0 to ``full - 1``, then every STRIDE-th
    (all of them with ``replay_all``)."""
    if replay_all or n <= full:
        return list(range(n))
    return list(range(full)) + list(range(full, n, STRIDE))


def replay_prefix(ctx: Context) -> int:
    """How many leading steps this run replays one by one (fewer with --quick, never when
    calibrating)."""
    return QUICK_FULL_REPLAY if ctx.quick and not ctx.calibration else FULL_REPLAY


def replay(ctx: Context, plan: TrainPlan, x: np.ndarray, t: np.ndarray,
           gold: golden.GoldenRun | None = None) -> Iterator[Observation]:
    """Step replay with restarts from the reference parameters (see module docstring).

    Yields, per engine, the first failing observation or else the one nearest its bound; with
    ``ctx.calibration``, every observation of every replayed step instead, as it is made.  With
    a golden trajectory, the float64 trajectory's parameters are fingerprinted at its
    checkpoints."""
    marks = gold.fingerprints if gold is not None else {}
    golden_obs: list[Observation] = []

    def checkpoint(i: int) -> None:
        if i in marks:
            got = golden.fingerprint(rnet.params)
            golden_obs.extend(
                _golden_obs(f"trajectory after step {i}, fingerprint of {p}",
                            "golden_fingerprint", got[p], want, step=i)
                for p, want in marks[i].items())

    ref = ctx.reference
    full = replay_prefix(ctx)
    steps = replay_steps(plan.iters_num, ctx.replay_all, full)
    every = "all" if len(steps) == plan.iters_num else f"0-{full - 1}, then every {STRIDE}"
    rnet = ref.make_net(plan.initial_params())
    rnet_cmp = ref.make_net(plan.initial_params())
    worst: dict[str, tuple[float, Observation | None]] = {e.name: (-1.0, None) for e in
                                                          ctx.engines}
    first_fail: dict[str, Observation] = {}
    x64 = x if x.dtype == np.float64 else None
    stepper = {e.name: e.replay_stepper(plan.initial_params()) for e in ctx.engines}
    replayed = set(steps)
    for i in _progress(ctx, range(plan.iters_num), "training replay"):
        rows = plan.batch(i)
        xb = (x64[rows] if x64 is not None else x[rows].astype(np.float64))
        tb = t[rows]
        if i not in replayed:  # only the float64 trajectory advances
            sgd_step(rnet.params, rnet.gradient(xb, tb), LR)
            checkpoint(i)
            continue
        # The trajectory follows float64; the comparison starts from p_i rounded to float32,
        # so float32 candidates are not charged for rounding their starting point.
        p_i = {k: r32(v) for k, v in rnet.params.items()}
        rnet_cmp.params.update({k: v.copy() for k, v in p_i.items()})
        r_grads = rnet_cmp.gradient(xb, tb)
        sgd_step(rnet_cmp.params, r_grads, LR)
        r_update = {k: rnet_cmp.params[k] - p_i[k] for k in PARAMS}
        r_loss = rnet_cmp.loss(xb, tb)
        sgd_step(rnet.params, rnet.gradient(xb, tb), LR)
        checkpoint(i)
        for eng in ctx.engines:
            if eng.name in first_fail:
                continue
            grads, update, loss = stepper[eng.name](p_i, xb, tb, LR)
            pairs = [(f"grad {k}", grads[k], r_grads[k], "replay_grad") for k in PARAMS]
            # An update is judged apart from gradients: a float32 engine must round p + Δp to
            # float32, an error of ulp(p)/2 that is large next to a small Δp (measured below).
            pairs += [(f"update {k}", update[k], r_update[k], "replay_update") for k in PARAMS]
            pairs.append(("loss after update", np.atleast_1d(loss), np.atleast_1d(r_loss),
                          "replay_loss"))
            details = {"steps_replayed": len(steps), "every": every}
            for case, a, e, kind in pairs:
                if ctx.calibration:
                    yield _replay_obs(eng, kind, case, a, e, i, details)
                    continue
                ratio = bound_ratio(a, e, tolerance_for(eng.tolerance_class, kind))
                obs = None
                if ratio > worst[eng.name][0] or ratio > 1:
                    obs = _replay_obs(eng, kind, case, a, e, i, details)
                if ratio > worst[eng.name][0]:
                    worst[eng.name] = (ratio, obs)
                if ratio > 1:
                    first_fail[eng.name] = obs
                    break
    for eng in ctx.engines:
        obs = first_fail.get(eng.name) or worst[eng.name][1]
        if obs is not None:
            yield obs
    if not ctx.calibration:
        yield from golden_obs


def _replay_obs(eng, kind: str, case: str, a: np.ndarray, e: np.ndarray, step: int,
                details: dict) -> Observation:
    return Observation("step replay (restart from reference each step)", GROUP, eng.name,
                       eng.tolerance_class, kind, case, a.copy(), e.copy(), step=step,
                       details=dict(details))


def _progress(ctx: Context, it, desc: str):
    from ..progress import Progress

    return Progress("auto" if ctx.progress else "off").iterate(it, desc)


def _predictions(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    return np.argmax(accuracy.logits(params, x), axis=1)


def free_running(ctx: Context, plan: TrainPlan, data: Data,
                 gold: golden.GoldenRun | None = None) -> Iterator[Observation]:
    """Free-running curves against the reference's, judged with measured bands; the
    reference's own against the golden trajectory, when there is one."""
    (x, t), (xt, tt) = data
    r_hist, r_params = ctx.reference.train(plan, data, LR)
    ctx.curves["reference"], ctx.final_params["reference"] = r_hist, r_params
    if gold is not None and not ctx.calibration:
        yield from golden_observations(gold, r_hist, r_params)
    x_all = np.concatenate([x, xt]).astype(np.float64)
    r_pred = _predictions(r_params, x_all)
    for eng in ctx.engines:
        t0 = time.perf_counter()
        hist, params = eng.train(plan, data, LR)
        secs = time.perf_counter() - t0
        ctx.curves[eng.name], ctx.final_params[eng.name] = hist, params
        yield _loss_curve(eng, hist, r_hist, secs)
        yield _accuracy(eng, hist, r_hist, params, x_all, r_pred, len(x), len(xt), secs)
    # Calibration measures the eager paths that the bands come from; the fast paths are only
    # judged against those bands.
    if not ctx.calibration:
        yield from fast_paths(ctx, plan, data, r_hist, x_all, r_pred)


def fast_paths(ctx: Context, plan: TrainPlan, data: Data, r_hist: TrainHistory,
               x_all: np.ndarray, r_pred: np.ndarray) -> Iterator[Observation]:
    """What ``train`` runs by default (mode "auto": the fused step on the CPU, the CUDA graph on
    a GPU), for the reference's own engine and each candidate, judged like the eager runs:
    against the float64 reference path, with the same measured band and flip allowance as the
    engine's class.  Measured on the book's run (seed 0, 10,000 iterations), as a fraction of
    the band: NumPy fused 0.19 (float64) and 0.13 (float32), torch CPU fused 0.21 and 0.15;
    the eager paths 0.19 and 0.12 (NumPy float32), 0.19 (torch float64)."""
    (x, _), (xt, _) = data
    for eng in [ctx.reference, *ctx.engines]:
        t0 = time.perf_counter()
        hist, params = eng.train(plan, data, LR, mode="auto")
        secs = time.perf_counter() - t0
        mode = str(hist.meta.get("mode"))
        yield _mode(eng, mode)
        label = f"{eng.name}, train's default: {mode}"
        ctx.fast_curves[label] = (hist, eng.tolerance_class)
        yield _loss_curve(eng, hist, r_hist, secs, label)
        yield _accuracy(eng, hist, r_hist, params, x_all, r_pred, len(x), len(xt), secs, label)


def documented_default_mode(device: str) -> str:
    """What ``train`` runs by default (mode "auto") for plain SGD without weight decay, as
    both engines' ``fastpath.MODES`` document it: the CUDA graph on a CUDA device, else the
    fused step."""
    return "graph" if device.startswith("cuda") else "fused"


def _mode(eng, mode: str) -> Observation:
    """The mode a run recorded against the documented one, as positions in torch's ``MODES``
    (the superset of both engines' modes)."""
    from reference_torch.fastpath import MODES

    want = documented_default_mode(eng.device)
    code = MODES.index(mode) if mode in MODES else -1
    return Observation("train's default mode for plain SGD", GROUP, eng.name, "exact",
                       "train_mode", f"ran {mode!r}, documented {want!r}",
                       np.array([code], dtype=np.float64),
                       np.array([MODES.index(want)], dtype=np.float64))


def _loss_curve(eng, hist, r_hist, secs: float, label: str | None = None) -> Observation:
    return Observation("free-running loss curve", GROUP, label or eng.name, eng.tolerance_class,
                       "curve", "train loss", np.asarray(hist.train_loss_list, dtype=np.float64),
                       np.asarray(r_hist.train_loss_list, dtype=np.float64), seconds=secs)


def _accuracy(eng, hist, r_hist, params, x_all, r_pred, n_train: int, n_test: int,
              secs: float, label: str | None = None) -> Observation:
    """Accuracy through flips: the final parameters' predictions on every example, and the
    correct counts at each evaluation."""
    def correct(a_list, b_list, n: int) -> np.ndarray:
        pairs = [(round(a * n), round(b * n)) for a, b in zip(a_list, b_list, strict=False)]
        return np.array(pairs, dtype=np.int64).reshape(-1, 2)

    test = correct(hist.test_acc_list, r_hist.test_acc_list, n_test)
    return Observation(
        "accuracy curves via prediction flips", GROUP, label or eng.name, eng.tolerance_class,
        "flips", "final parameters", _predictions(params, x_all), r_pred, seconds=secs,
        series={"train_correct": correct(hist.train_acc_list, r_hist.train_acc_list, n_train),
                "test_correct": test,
                "test_iters": np.asarray(hist.eval_iters[: len(test)], dtype=np.int64),
                "evaluations": np.array([len(hist.train_acc_list),
                                         len(r_hist.train_acc_list)])},
        details={"final_train_acc": hist.train_acc_list[-1] if hist.train_acc_list else None,
                 "final_test_acc": hist.test_acc_list[-1] if hist.test_acc_list else None,
                 "reference_final_test_acc": r_hist.test_acc_list[-1]
                 if r_hist.test_acc_list else None},
    )
