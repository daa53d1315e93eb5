"""Everything else the chapter trains: the three regimes, the optimizers, weight decay, dropout
and early stopping, each run briefly on a slice of MNIST and checked as the training group
checks the book's SGD run.

Per run and candidate engine:

1. Step replay with restarts.  The float64 reference takes every step of the run; at step i
   each candidate starts from the reference's parameters *and optimizer state* (velocity, the
   squared-gradient sums, Adam's moments and step count), rounded to float32 so a float32
   candidate is not charged for rounding its start, takes batch i with the plan's dropout mask
   i, and reports its gradient, its update and the loss after the update.  The trajectory is
   made of these same rounded restarts (the reference's step from the rounded state is the
   next state), so one reference step per iteration serves both.
2. Free-running curves: each engine runs the whole plan with its own ``train`` (eager, the
   reference path) and the loss curve is held to a measured band; the accuracies through
   prediction flips of the final parameters (with dropout's test-time scaling) and the correct
   counts at each evaluation.
3. Early stopping: the iteration it stopped at, the best iteration (whose parameters it
   restores) and the held-out correct counts must be those of the reference.

The runs are short (100 iterations on 500 training rows, 30 with the full batch), so ``--quick``
and the full run check them alike; ``ctx.iters`` only caps them (tests run them shorter).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reference_numpy.networks import PARAM_NAMES as PARAMS

from ..engines import Engine
from ..observe import Observation
from . import holdout, plan_rules
from .context import Context, r32

GROUP = "regimes"

#: The slice every run trains on: the first rows of the training set (and the next ones as
#: early stopping's held-out set), the first rows of the test set.  The bundled subset has
#: 6,000 and 1,000, so both data sets give the same slices' sizes.
N_TRAIN, N_VAL, N_TEST = 500, 500, 500

#: Optimizer state a replay restarts from, by attribute (the same names in both engines).
STATE = ("v", "h", "m")


@dataclass(frozen=True)
class Regime:
    """One run: a plan (sampling, batch size, iterations, dropout), a network option, an
    optimizer with its hyperparameters, and early stopping (patience, min_delta) or None."""

    name: str
    iters: int
    batch_size: int = 100
    sampling: str = "replacement"
    optimizer: str = "sgd"
    hyper: Mapping[str, float] = field(default_factory=lambda: {"lr": 0.1})
    weight_decay: float = 0.0
    dropout: float = 0.0
    early_stopping: tuple[int, float] | None = None
    #: train on one-hot targets (what ``load_mnist(one_hot_label=True)`` gives) instead of labels
    one_hot: bool = False

    @property
    def net_kw(self) -> dict[str, float]:
        return {"weight_decay_lambda": self.weight_decay, "dropout_ratio": self.dropout}


#: The runs.  The optimizers use the book's learning rates (ch. 6: the classes' defaults,
#: 0.01, and 0.001 for Adam); SGD itself is the three regimes' optimizer (and the training
#: group's).  Mini-batches of 100 on 500 rows: an evaluation every 5 iterations.
REGIMES: tuple[Regime, ...] = (
    Regime("full batch", iters=30, batch_size=N_TRAIN, sampling="full"),
    Regime("batch of one", iters=100, batch_size=1),
    Regime("shuffled mini-batches", iters=100, sampling="shuffle", one_hot=True),
    Regime("Momentum", iters=100, optimizer="momentum", hyper={"lr": 0.01, "momentum": 0.9}),
    Regime("Nesterov", iters=100, optimizer="nesterov", hyper={"lr": 0.01, "momentum": 0.9}),
    Regime("AdaGrad", iters=100, optimizer="adagrad", hyper={"lr": 0.01}),
    Regime("RMSprop", iters=100, optimizer="rmsprop", hyper={"lr": 0.01, "decay_rate": 0.99}),
    Regime("Adam", iters=100, optimizer="adam",
           hyper={"lr": 0.001, "beta1": 0.9, "beta2": 0.999}),
    Regime("weight decay", iters=100, weight_decay=0.1),
    Regime("dropout", iters=100, dropout=0.2),
    Regime("early stopping", iters=200, early_stopping=(2, 0.0)),
)

#: (loss, accuracy, step replay, early stopping) row names of a run.
def row_names(regime: Regime) -> dict[str, str]:
    return {"curve": f"{regime.name}: free-running loss curve",
            "flips": f"{regime.name}: accuracy via prediction flips",
            "replay": f"{regime.name}: step replay (restart from reference each step)",
            "stopping": f"{regime.name}: stop and best iterations, held-out counts",
            "test_time": f"{regime.name}: test-time logits (no mask, scaled by 1 - ratio)"}


def plan_for(regime: Regime, seed: int, iters_cap: int) -> Any:
    from reference_numpy.plan import TrainPlan

    return TrainPlan(N_TRAIN, regime.batch_size, min(regime.iters, iters_cap), seed=seed,
                     sampling=regime.sampling, dropout_ratio=regime.dropout)


def observe(ctx: Context) -> Iterator[Observation]:
    (x, t), (xt, tt) = ctx.mnist[0]
    data = ((np.asarray(x[:N_TRAIN], dtype=np.float64), t[:N_TRAIN]),
            (np.asarray(xt[:N_TEST], dtype=np.float64), tt[:N_TEST]))
    val = (np.asarray(x[N_TRAIN:N_TRAIN + N_VAL], dtype=np.float64), t[N_TRAIN:N_TRAIN + N_VAL])
    from threadpoolctl import threadpool_limits

    from ..progress import Progress

    # The products here are small (at most 1,000 x 784 x 50): BLAS on one thread.  Two
    # OpenBLAS threads on a busy 2-core machine took 12 ms per 100 x 784 x 50 product against
    # 0.74 ms on one (measured); the results do not depend on it (each product is one call).
    with threadpool_limits(1, user_api="blas"):
        for regime in Progress("auto" if ctx.progress else "off").iterate(REGIMES,
                                                                           "training regimes"):
            plan = plan_for(regime, ctx.seed, ctx.iters)
            yield from run_regime(ctx, regime, plan, data, val)
    if not ctx.calibration:
        yield from holdout.observe(ctx)
        yield from plan_rules.observe(ctx)
        yield from _capturable(ctx)
        yield from _early_stopping_defaults(ctx)


#: EarlyStopping's documented defaults: (patience, min_delta).
EARLY_STOPPING_DEFAULTS = (3, 0.0)


def _early_stopping_defaults(ctx: Context) -> Iterator[Observation]:
    """``EarlyStopping()`` as documented; the regimes above always pass both settings."""
    for eng in [ctx.reference, *ctx.engines]:
        es = eng.fn("training", "EarlyStopping")()
        yield Observation("EarlyStopping() defaults", GROUP, eng.name, "exact", "defaults",
                          "patience, min_delta",
                          np.array([es.patience, es.min_delta], dtype=np.float64),
                          np.array(EARLY_STOPPING_DEFAULTS, dtype=np.float64))


def documented_capturable(name: str) -> bool:
    """Whether mode "graph" may capture the optimizer ``name``, as torch's ``Optimizer``
    documents it: every one but Adam, whose bias-corrected step size is a Python float that
    changes each step (a graph would freeze it)."""
    return name != "adam"


def _capturable(ctx: Context) -> Iterator[Observation]:
    """Each torch engine's ``capturable`` flags against the documented rule: a flag turned off
    would drop that optimizer's graph rows above without a word."""
    for eng in ctx.engines:
        if eng.framework != "torch":
            continue
        table = eng.fn("optimizers", "OPTIMIZERS")
        names = sorted(table)
        yield Observation("the optimizers mode 'graph' captures", GROUP, eng.name, "exact",
                          "train_mode", "capturable: " + ", ".join(names),
                          np.array([table[n].capturable for n in names], dtype=np.float64),
                          np.array([documented_capturable(n) for n in names], dtype=np.float64))


def run_regime(ctx: Context, regime: Regime, plan: Any, data: Any,
               val: tuple[np.ndarray, np.ndarray]) -> Iterator[Observation]:
    names = row_names(regime)
    if regime.one_hot:
        data, val = one_hot_targets(data, val)
    kw: dict[str, Any] = {"optimizer": (regime.optimizer, dict(regime.hyper)),
                          "early_stopping": regime.early_stopping, "val": val, **regime.net_kw}
    lr = float(regime.hyper["lr"])
    r_hist, r_params = ctx.reference.train(plan, data, lr, **kw)
    ctx.regime_runs.setdefault(regime.name, {})["reference"] = (r_hist, r_params)
    (x, _), (xt, _) = data
    x_all = np.concatenate([x, xt])
    r_pred = predictions(ctx.reference, r_params, x_all, regime)
    for eng in ctx.engines:
        t0 = time.perf_counter()
        hist, params = eng.train(plan, data, lr, **kw)
        secs = time.perf_counter() - t0
        ctx.regime_runs[regime.name][eng.name] = (hist, params)
        yield _curve(names["curve"], eng, hist, r_hist, secs, regime)
        yield _flips(names["flips"], eng, hist, r_hist, predictions(ctx.reference, params, x_all,
                                                                    regime), r_pred, len(x),
                     len(xt))
        if regime.early_stopping is not None:
            yield _stopping(names["stopping"], eng, hist, r_hist, len(val[1]))
    if not ctx.calibration:
        yield from fast_paths(ctx, regime, plan, data, kw, r_hist, x_all, r_pred)
    if regime.dropout:
        yield from test_time(ctx, regime, r_params, xt, names["test_time"])
    # Replay the steps the reference's own run took (an early-stopped run stops before the end).
    steps = len(r_hist.train_loss_list)
    yield from replay(ctx, regime, plan, data[0], steps, names["replay"])


def one_hot_targets(data: Any, val: tuple[np.ndarray, np.ndarray]) -> tuple[Any, Any]:
    """The same rows with each label as a one-hot row (float64; engines convert to their
    dtype)."""
    eye = np.eye(10)
    (x, t), (xt, tt) = data
    return ((x, eye[t]), (xt, eye[tt])), (val[0], eye[val[1]])


def fast_modes(eng: Engine, regime: Regime) -> list[str]:
    """The engine's fast paths for this run: train's default (mode "auto") when it is not the
    eager loop, which for plain SGD is the fused step on the CPU and the CUDA graph on a GPU;
    and for torch, when the optimizer can be captured, the graph loop: captured on CUDA, else
    uncaptured (``reference_torch.fastpath.uncaptured_graph_loop``)."""
    lr = float(regime.hyper["lr"])
    modes = []
    if regime.optimizer == "sgd" and not regime.weight_decay:
        mode = eng.default_mode(lr)
        if mode != "eager":
            modes.append(mode)
    if (eng.framework == "torch" and "graph" not in modes
            and eng.fn("optimizers", "OPTIMIZERS")[regime.optimizer].capturable):
        modes.append("graph" if str(eng.device).startswith("cuda") else GRAPH_UNCAPTURED)
    return modes


#: The label of the graph loop run uncaptured.
GRAPH_UNCAPTURED = "graph loop, uncaptured"


def fast_paths(ctx: Context, regime: Regime, plan: Any, data: Any, kw: dict[str, Any],
               r_hist: Any, x_all: np.ndarray, r_pred: np.ndarray) -> Iterator[Observation]:
    """Each engine's fast paths (:func:`fast_modes`), the reference's own engine included,
    with this run's sampling, optimizer, weight decay, dropout masks and early stopping:
    judged like the eager runs, against the float64 reference path with the same measured
    band, flip allowance and exact stopping decisions.  (Calibration measures the eager paths
    the bands come from; the fast paths are only judged against them, as in the training
    group.)"""
    names = row_names(regime)
    (x, _), (xt, _) = data
    lr = float(regime.hyper["lr"])
    for eng in [ctx.reference, *ctx.engines]:
        for mode in fast_modes(eng, regime):
            label = (f"{eng.name}, {mode}" if mode == GRAPH_UNCAPTURED
                     else f"{eng.name}, train's default: {mode}")
            t0 = time.perf_counter()
            if mode == GRAPH_UNCAPTURED:
                with eng.mod("fastpath").uncaptured_graph_loop():
                    hist, params = eng.train(plan, data, lr, mode="graph", **kw)
            else:
                hist, params = eng.train(plan, data, lr, mode=mode, **kw)
            secs = time.perf_counter() - t0
            yield _curve(names["curve"], eng, hist, r_hist, secs, regime, label)
            yield _flips(names["flips"], eng, hist, r_hist, predictions(
                ctx.reference, params, x_all, regime), r_pred, len(x), len(xt), label)
            if regime.early_stopping is not None:
                yield _stopping(names["stopping"], eng, hist, r_hist, len(kw["val"][1]), label)


def test_time(ctx: Context, regime: Regime, params: dict[str, np.ndarray], x: np.ndarray,
              check: str) -> Iterator[Observation]:
    """Each engine's own test-time forward pass (no mask: the hidden units scaled by
    1 - ratio) on the test slice, from the reference's final parameters rounded to float32.
    Accuracy alone cannot see this scaling: with b2 small, scaling z1 W2 moves no argmax."""
    ref = ctx.reference
    p32 = {k: r32(v) for k, v in params.items()}
    x32 = r32(x)
    expected = ref.back(ref.make_net(p32, **regime.net_kw).logits(ref.to(x32)))  # type: ignore[attr-defined]
    for eng in ctx.engines:
        net = eng.make_net(p32, **regime.net_kw)
        yield Observation(check, GROUP, eng.name, eng.tolerance_class, "regime_logits",
                          "logits of the test slice", eng.back(net.logits(eng.to(x32))),  # type: ignore[attr-defined]
                          expected)


def predictions(ref: Engine, params: dict[str, np.ndarray], x: np.ndarray,
                regime: Regime) -> np.ndarray:
    """The classes the float64 reference network predicts with ``params`` (dropout's test-time
    scaling included), so candidates' final parameters are compared in one arithmetic.  A
    candidate whose parameters are no longer finite predicts no class (-1): every prediction
    is then a flip, a failed verdict rather than a network the reference refuses to build."""
    if not all(np.isfinite(v).all() for v in params.values()):
        return np.full(len(x), -1)
    net = ref.make_net(params, **regime.net_kw)
    return np.argmax(ref.back(net.logits(ref.to(x))), axis=1)  # type: ignore[attr-defined]


def _curve(check: str, eng: Engine, hist: Any, r_hist: Any, secs: float, regime: Regime,
           label: str | None = None) -> Observation:
    """The free-running loss curve against the reference's, judged by the regime's band."""
    return Observation(check, GROUP, label or eng.name, eng.tolerance_class, "regime_curve",
                       "train loss", np.asarray(hist.train_loss_list, dtype=np.float64),
                       np.asarray(r_hist.train_loss_list, dtype=np.float64), seconds=secs,
                       details={"band": regime.name})


def _counts(a_list: list[float], b_list: list[float], n: int) -> np.ndarray:
    pairs = [(round(a * n), round(b * n)) for a, b in zip(a_list, b_list, strict=False)]
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def _flips(check: str, eng: Engine, hist: Any, r_hist: Any, pred: np.ndarray, r_pred: np.ndarray,
           n_train: int, n_test: int, label: str | None = None) -> Observation:
    test = _counts(hist.test_acc_list, r_hist.test_acc_list, n_test)
    return Observation(
        check, GROUP, label or eng.name, eng.tolerance_class, "flips", "final parameters", pred,
        r_pred,
        series={"train_correct": _counts(hist.train_acc_list, r_hist.train_acc_list, n_train),
                "test_correct": test,
                "test_iters": np.asarray(hist.eval_iters[: len(test)], dtype=np.int64),
                "evaluations": np.array([len(hist.train_acc_list), len(r_hist.train_acc_list)])},
        details={"final_test_acc": hist.test_acc_list[-1] if hist.test_acc_list else None,
                 "reference_final_test_acc": r_hist.test_acc_list[-1]
                 if r_hist.test_acc_list else None})


def _stopping(check: str, eng: Engine, hist: Any, r_hist: Any, n_val: int,
              label: str | None = None) -> Observation:
    """Early stopping's decisions as numbers: [stopped_at, best_iter, held-out correct counts
    at each evaluation] (-1 for "never stopped"; a missing evaluation as -1)."""
    def row(h: Any, length: int) -> np.ndarray:
        counts = [round(a * n_val) for a in h.val_acc_list] + [-1] * length
        stop = -1 if h.stopped_at is None else h.stopped_at
        best = -1 if h.best_iter is None else h.best_iter
        return np.array([stop, best, *counts[:length]], dtype=np.float64)

    n = max(len(hist.val_acc_list), len(r_hist.val_acc_list))
    return Observation(check, GROUP, label or eng.name, "exact", "early_stopping",
                       "[stopped at, best iteration, held-out counts]", row(hist, n),
                       row(r_hist, n),
                       details={"stopped_at": hist.stopped_at, "best_iter": hist.best_iter,
                                "reference_stopped_at": r_hist.stopped_at,
                                "reference_best_iter": r_hist.best_iter})


# --------------------------------------------------------------------------- step replay


def _state(opt: Any) -> dict[str, Any]:
    """The optimizer's state as float64 arrays (and Adam's step count)."""
    out: dict[str, Any] = {a: {k: np.asarray(v, dtype=np.float64).copy() for k, v in
                               getattr(opt, a).items()} for a in STATE if hasattr(opt, a)}
    if hasattr(opt, "iter"):
        out["iter"] = int(opt.iter)
    return out


def _load_state(eng: Engine, opt: Any, state: dict[str, Any]) -> None:
    for a in STATE:
        if a in state:
            setattr(opt, a, eng.params_to(state[a]))
    if "iter" in state:
        opt.iter = state["iter"]


class _Stepper:
    """One engine's step from a given state: its own network (with the run's weight decay and
    dropout), its own optimizer class, float64 in and out."""

    def __init__(self, eng: Engine, init: dict[str, np.ndarray], regime: Regime) -> None:
        self.eng, self.regime = eng, regime
        self.net = eng.make_net(init, **regime.net_kw)
        self.params = eng._param_dict(self.net)
        self.cls = eng.fn("optimizers", "OPTIMIZERS")[regime.optimizer]

    def __call__(self, p: dict[str, np.ndarray], state: dict[str, Any], xb: np.ndarray,
                 tb: np.ndarray, mask: np.ndarray | None
                 ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], float, Any]:
        eng = self.eng
        eng._load(self.params, p)
        opt = self.cls(**self.regime.hyper)
        _load_state(eng, opt, state)
        xs, ts = eng.to(xb), eng.to_targets(tb)
        m = None if mask is None else eng.to(mask)
        g = self.net.gradient(xs, ts, m)
        before = {k: eng.back(v) for k, v in self.params.items()}
        opt.update(self.params, g)
        update = {k: eng.back(self.params[k]) - before[k] for k in PARAMS}
        loss = float(eng.back(self.net.loss(xs, ts, m)))
        return {k: eng.back(v) for k, v in g.items()}, update, loss, opt


#: Steps replayed: every step up to FULL_REPLAY, then every STRIDE-th (the reference takes
#: every step).  A bug from the first step on is flagged at its step; the free-running curves
#: cover every step.  (The tolerances were measured on steps 0-19 and every 5th: a superset.)
FULL_REPLAY, STRIDE = 10, 10


def replay_steps(n: int) -> list[int]:
    return list(range(min(n, FULL_REPLAY))) + list(range(FULL_REPLAY, n, STRIDE))


def replay(ctx: Context, regime: Regime, plan: Any, train: tuple[np.ndarray, np.ndarray],
           steps: int, check: str) -> Iterator[Observation]:
    """Step replay with restarts (module docstring, 1).  Yields per engine its first failing
    observation, else the one nearest its bound; with ``ctx.calibration`` every observation."""
    from ..compare import bound_ratio
    from ..tolerances import tolerance_for

    x, t = train
    ref = _Stepper(ctx.reference, plan.initial_params(), regime)
    steppers = {e.name: _Stepper(e, plan.initial_params(), regime) for e in ctx.engines}
    p = plan.initial_params()
    state: dict[str, Any] = _state(ref.cls(**regime.hyper))
    worst: dict[str, tuple[float, Observation | None]] = {e.name: (-1.0, None)
                                                          for e in ctx.engines}
    failed: dict[str, Observation] = {}
    tols: dict[tuple[str, str], Any] = {}
    details = {"steps_replayed": steps, "optimizer": regime.optimizer}
    replayed = set(replay_steps(steps))
    details["every"] = f"0-{FULL_REPLAY - 1}, then every {STRIDE}"
    for i in range(steps):
        rows = plan.batch(i)
        xb, tb = x[rows], t[rows]
        mask = plan.dropout_mask(i, len(tb))
        mask = None if mask is None else mask.astype(np.float64)
        p = {k: r32(v) for k, v in p.items()}
        state = {a: ({k: r32(v) for k, v in s.items()} if isinstance(s, dict) else s)
                 for a, s in state.items()}
        r_grads, r_update, r_loss, r_opt = ref(p, state, xb, tb, mask)
        for eng in ctx.engines:
            if eng.name in failed or i not in replayed:
                continue
            grads, update, loss, _ = steppers[eng.name](p, state, xb, tb, mask)
            pairs = [(f"grad {k}", grads[k], r_grads[k], "regime_grad") for k in PARAMS]
            pairs += [(f"update {k}", update[k], r_update[k], "regime_update") for k in PARAMS]
            pairs.append(("loss after update", np.atleast_1d(loss), np.atleast_1d(r_loss),
                          "regime_loss"))
            for case, a, e, kind in pairs:
                if ctx.calibration:
                    yield Observation(check, GROUP, eng.name, eng.tolerance_class, kind, case,
                                      a, e, step=i, details=dict(details))
                    continue
                key = (eng.tolerance_class, kind)
                if key not in tols:
                    tols[key] = tolerance_for(*key)
                ratio = bound_ratio(a, e, tols[key])
                if ratio > worst[eng.name][0] or ratio > 1:
                    obs = Observation(check, GROUP, eng.name, eng.tolerance_class, kind, case,
                                      a, e, step=i, details=dict(details))
                    worst[eng.name] = (max(ratio, worst[eng.name][0]), obs)
                    if ratio > 1:
                        failed[eng.name] = obs
                        break
        p = ctx.reference.params_back(ref.params)
        state = _state(r_opt)
    if not ctx.calibration:
        for eng in ctx.engines:
            obs = failed.get(eng.name) or worst[eng.name][1]
            if obs is not None:
                yield obs
