"""Training on MNIST, two ways.

1. Step replay with restarts.  The float64 reference runs the plan; at every replayed step i each
   candidate starts from the *reference* parameters p_i, takes batch i, and computes the
   gradient, the update and the loss after the update.  Errors cannot accumulate, so the
   tolerance stays tight, and the first failing step and tensor are reported exactly.
2. Free-running curves.  Each engine runs the whole plan on its own.  Per-iteration loss is
   compared with a band that widens with the step as rounding differences compound (measured);
   accuracy is compared through prediction flips: how many of the 70,000 examples change
   their predicted class between engine and reference at each evaluation.
"""

from __future__ import annotations

import time

import numpy as np

from reference_numpy.networks import PARAM_NAMES as PARAMS

from ..observe import Observation, bound_ratio, scaled_errors
from ..report import CheckResult
from ..tolerances import curve_band, flip_band
from .context import Context, r32

GROUP = "training"
LR = 0.1


def _plan(ctx: Context, train_size: int):
    from reference_numpy.plan import TrainPlan

    return TrainPlan(train_size, 100, ctx.iters, seed=ctx.seed)


def observe(ctx: Context) -> list:
    (data, _source) = ctx.mnist
    (x, t), (xt, tt) = data
    plan = _plan(ctx, len(x))
    out: list = []
    out += replay(ctx, plan, x, t)
    out += free_running(ctx, plan, data)
    return out


#: Steps replayed by default: every step up to FULL_REPLAY, then every STRIDE-th.  A bug from
#: step 0 is flagged at its exact step; one that starts later within STRIDE steps of it.  The
#: free-running curves still cover every step.  ``--replay-all`` replays all of them.
FULL_REPLAY, STRIDE = 1000, 10


def replay_steps(n: int, replay_all: bool = False) -> list[int]:
    if replay_all or n <= FULL_REPLAY:
        return list(range(n))
    return list(range(FULL_REPLAY)) + list(range(FULL_REPLAY, n, STRIDE))


def replay(ctx: Context, plan, x: np.ndarray, t: np.ndarray) -> list[Observation]:
    """Step replay with restarts from the reference parameters (see module docstring)."""
    ref = ctx.reference
    steps = replay_steps(plan.iters_num, ctx.replay_all)
    every = "all" if len(steps) == plan.iters_num else f"0-{FULL_REPLAY - 1}, then every {STRIDE}"
    rnet = ref.make_net(plan.initial_params())
    rnet_cmp = ref.make_net(plan.initial_params())
    worst: dict[str, tuple[float, Observation | None]] = {e.name: (-1.0, None) for e in
                                                          ctx.engines}
    first_fail: dict[str, Observation] = {}
    x64 = x if x.dtype == np.float64 else None
    stepper = {e.name: e.replay_stepper(plan.initial_params()) for e in ctx.engines}
    from ..tolerances import tolerance_for

    replayed = set(steps)
    for i in _progress(ctx, range(plan.iters_num), "training replay"):
        rows = plan.batch(i)
        xb = (x64[rows] if x64 is not None else x[rows].astype(np.float64))
        tb = t[rows]
        if i not in replayed:  # only the float64 trajectory advances
            traj = rnet.gradient(xb, tb)
            for k in PARAMS:
                rnet.params[k] -= LR * traj[k]
            continue
        # The trajectory follows float64; the comparison starts from p_i rounded to float32,
        # so float32 candidates are not charged for rounding their starting point.
        p_i = {k: r32(v) for k, v in rnet.params.items()}
        rnet_cmp.params.update({k: v.copy() for k, v in p_i.items()})
        r_grads = rnet_cmp.gradient(xb, tb)
        for k in PARAMS:
            rnet_cmp.params[k] -= LR * r_grads[k]
        r_update = {k: rnet_cmp.params[k] - p_i[k] for k in PARAMS}
        r_loss = rnet_cmp.loss(xb, tb)
        traj = rnet.gradient(xb, tb)
        for k in PARAMS:
            rnet.params[k] -= LR * traj[k]
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
            calib = ctx.notes.get("calibration")
            for case, a, e, kind in pairs:
                if calib is not None:
                    calib.setdefault((eng.tolerance_class, kind), []).append(
                        scaled_errors(a, e))
                ratio = bound_ratio(a, e, tolerance_for(eng.tolerance_class, kind))
                obs = None
                if ratio > worst[eng.name][0] or ratio > 1:
                    obs = Observation("step replay (restart from reference each step)", GROUP,
                                      eng.name, eng.tolerance_class, kind, case, a.copy(),
                                      e.copy(), step=i,
                                      details={"steps_replayed": len(steps), "every": every})
                if ratio > worst[eng.name][0]:
                    worst[eng.name] = (ratio, obs)
                if ratio > 1:
                    first_fail[eng.name] = obs
                    break
    out = []
    for eng in ctx.engines:
        obs = first_fail.get(eng.name) or worst[eng.name][1]
        if obs is not None:
            out.append(obs)
    return out


def _progress(ctx: Context, it, desc: str):
    if not ctx.progress:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, desc=desc, unit="step", mininterval=0.5, leave=False)


def _predictions(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    a1 = x @ params["W1"] + params["b1"]
    z1 = 1 / (1 + np.exp(-a1))
    return np.argmax(z1 @ params["W2"] + params["b2"], axis=1)


def free_running(ctx: Context, plan, data) -> list[CheckResult]:
    """Free-running curves against the reference's, with measured bands."""
    (x, t), (xt, tt) = data
    start = time.perf_counter()
    r_hist, r_params = ctx.reference.train(plan, data, LR)
    ctx.notes.setdefault("curves", {})["reference"] = r_hist
    x_all = np.concatenate([x, xt]).astype(np.float64)
    r_pred = _predictions(r_params, x_all)
    out = []
    for eng in ctx.engines:
        t0 = time.perf_counter()
        hist, params = eng.train(plan, data, LR)
        secs = time.perf_counter() - t0
        ctx.notes["curves"][eng.name] = hist
        calib = ctx.notes.get("calibration")
        if calib is not None:
            a = np.asarray(hist.train_loss_list)
            e = np.asarray(r_hist.train_loss_list)
            calib.setdefault((eng.tolerance_class, "curve"), []).append(np.abs(a - e) / e)
            calib.setdefault((eng.tolerance_class, "flips"), []).append(
                (int(np.count_nonzero(_predictions(params, x_all) != r_pred)), len(x_all)))
        out.append(_loss_curve_result(eng, hist, r_hist, secs))
        out.append(_accuracy_result(eng, hist, r_hist, params, r_params, x_all, r_pred,
                                    len(x), len(xt), secs))
    ctx.notes["reference_seconds"] = time.perf_counter() - start
    out += fast_paths(ctx, plan, data, r_hist, r_params, x_all, r_pred)
    return out


def fast_paths(ctx: Context, plan, data, r_hist, r_params, x_all, r_pred) -> list[CheckResult]:
    """What ``train`` runs by default (mode "auto": the fused step on the CPU, the CUDA graph on
    a GPU), for the reference's own engine and each candidate, judged like the eager runs:
    against the float64 reference path, with the same measured band and flip allowance as the
    engine's class.  Measured on the book's run (seed 0, 10,000 iterations), as a fraction of
    the band: NumPy fused 0.19 (float64) and 0.13 (float32), torch CPU fused 0.21 and 0.15;
    the eager paths 0.19 and 0.12 (NumPy float32), 0.19 (torch float64)."""
    (x, _), (xt, _) = data
    out = []
    for eng in [ctx.reference, *ctx.engines]:
        mode = eng.default_mode(LR)
        if mode == "eager":  # no fast path for this engine: its eager run was checked above
            continue
        t0 = time.perf_counter()
        hist, params = eng.train(plan, data, LR, mode=mode)
        secs = time.perf_counter() - t0
        label = f"{eng.name}, train's default: {mode}"
        out.append(_loss_curve_result(eng, hist, r_hist, secs, label))
        out.append(_accuracy_result(eng, hist, r_hist, params, r_params, x_all, r_pred,
                                    len(x), len(xt), secs, label))
    return out


def _loss_curve_result(eng, hist, r_hist, secs, label: str | None = None) -> CheckResult:
    label = label or eng.name
    a = np.asarray(hist.train_loss_list, dtype=np.float64)
    e = np.asarray(r_hist.train_loss_list, dtype=np.float64)
    n = min(len(a), len(e))
    rel = np.abs(a[:n] - e[:n]) / np.abs(e[:n])
    band = curve_band(eng.tolerance_class, np.arange(n))
    bad = np.flatnonzero(~(rel <= band))
    first = int(bad[0]) if bad.size else None
    passed = first is None and len(a) == len(e)
    worst = int(np.nanargmax(rel / band)) if n else 0
    msg = ""
    if not passed:
        i = first if first is not None else n
        msg = (f"Free-running loss of {label} leaves the band at iteration {i}: "
               f"{a[i] if i < len(a) else 'missing'} vs reference "
               f"{e[i] if i < len(e) else 'missing'} (relative difference "
               f"{rel[i] if i < n else np.inf:.3g}, band {band[min(i, n - 1)]:.3g} at that step)")
    return CheckResult(
        name=f"free-running loss curve ({label})", group=GROUP, passed=passed,
        max_abs_err=float(np.max(np.abs(a[:n] - e[:n]))) if n else 0.0,
        max_rel_err=float(np.max(rel)) if n else 0.0,
        where=f"iteration {worst}", tolerance_class=eng.tolerance_class,
        rtol=float(band[worst]) if n else 0.0, atol=0.0, first_divergence_step=first,
        message=msg, seconds=secs,
        details={"iterations": n, "band_start": float(band[0]) if n else None,
                 "band_end": float(band[-1]) if n else None},
    )


def _accuracy_result(eng, hist, r_hist, params, r_params, x_all, r_pred, n_train, n_test,
                     secs, label: str | None = None) -> CheckResult:
    """Accuracy through flips: net changes at each evaluation, exact flips at the end."""
    label = label or eng.name
    counts = [(round(a * n_train), round(b * n_train)) for a, b in
              zip(hist.train_acc_list, r_hist.train_acc_list, strict=False)]
    counts += [(round(a * n_test), round(b * n_test)) for a, b in
               zip(hist.test_acc_list, r_hist.test_acc_list, strict=False)]
    net = max((abs(a - b) for a, b in counts), default=0)
    flips = int(np.count_nonzero(_predictions(params, x_all) != r_pred))
    allowed = flip_band(eng.tolerance_class, len(x_all))
    passed = (flips <= allowed and net <= allowed
              and len(hist.train_acc_list) == len(r_hist.train_acc_list))
    first = None
    for j, (a, b) in enumerate(zip(hist.test_acc_list, r_hist.test_acc_list, strict=False)):
        if abs(round(a * n_test) - round(b * n_test)) > allowed:
            first = hist.eval_iters[j]
            break
    msg = "" if passed else (
        f"Predictions of {label} differ from the reference on {flips} of {len(x_all)} "
        f"examples with the final parameters (allowed {allowed}); largest change in a correct "
        f"count at an evaluation: {net}"
        + (f", first at iteration {first}" if first is not None else ""))
    return CheckResult(
        name=f"accuracy curves via prediction flips ({label})", group=GROUP, passed=passed,
        max_abs_err=float(flips), max_rel_err=float(flips) / len(x_all),
        where=f"final parameters, {flips} flips; max net change {net}",
        tolerance_class=eng.tolerance_class, rtol=0.0, atol=float(allowed),
        first_divergence_step=first, message=msg, seconds=secs,
        details={"final_train_acc": hist.train_acc_list[-1] if hist.train_acc_list else None,
                 "final_test_acc": hist.test_acc_list[-1] if hist.test_acc_list else None,
                 "reference_final_test_acc": r_hist.test_acc_list[-1]
                 if r_hist.test_acc_list else None},
    )
