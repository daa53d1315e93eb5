"""Mini-batch training exactly as the chapter runs it (§4.5.2–4.5.3), replayable from a plan.

For i in range(iters_num): take the plan's batch i; compute the gradient by backprop; update the
parameters; record the loss on that batch *after* the update (as the book does); when
i % iter_per_epoch == 0, record accuracy on the full train and test sets.

The same loop covers the regimes the notes compare (full-batch gradient descent, batch size 1,
mini-batch: see ``TrainPlan.sampling``), every optimizer in ``optimizers``, weight decay and
dropout (set on the network; dropout masks come from the plan), and early stopping on held-out
data.  Inputs are validated once here, so each iteration runs only the numerics.

The loop's shape, the same in reference_torch: ``train`` checks its inputs, picks the mode
(``fastpath.resolve_mode``), builds a :class:`TrainRun` and hands it to one step mode:
``run_eager`` here (the reference path: ``TwoLayerNet.gradient_unchecked``,
``Optimizer.apply_unchecked``, ``TwoLayerNet.loss_unchecked``, each written for clarity, any
optimizer) or ``fastpath.run_fused`` (the SGD step written for speed).  Every mode fills the
history the same way: ``TrainRun.batch(i)`` for the data, ``TrainRun.finish`` for the losses and
counts.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np
from tqdm.auto import tqdm

from . import fastpath
from ._safeio import load_npz, param_arrays
from ._train_checks import check_train_inputs, nonfinite_stop
from ._validate import atomic_write, check_choice, check_seed, check_targets
from .fastpath import MODES
from .networks import PARAM_NAMES, TwoLayerNet
from .optimizers import SGD, Optimizer
from .plan import TrainPlan
from .runrules import BestSoFar, EarlyStopping, TrainHistory

__all__ = [
    "TrainHistory",
    "EarlyStopping",
    "MODES",
    "GRADIENTS",
    "TrainRun",
    "train",
    "run_eager",
    "as_labels",
    "holdout_split",
    "eval_line",
    "save_params",
    "load_params",
]


#: How ``train`` computes each step's gradient: backprop, or the notes' numerical gradient.
GRADIENTS = ("backprop", "numerical")


def eval_line(train_acc: float, test_acc: float) -> str:
    """The line the notes print at each evaluation:
    ``print(f"train acc: {train_acc:.4f}, test acc: {test_acc:.4f}")``."""
    return f"train acc: {train_acc:.4f}, test acc: {test_acc:.4f}"


def holdout_split(
    x: np.ndarray, t: np.ndarray, n_val: int, seed: int = 0
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Split off ``n_val`` random rows as held-out data: ((x_rest, t_rest), (x_val, t_val))."""
    n = len(x)
    if len(t) != n:
        raise ValueError(f"t: expected {n} rows to match x, got {len(t)}")
    check_seed(seed)
    if isinstance(n_val, bool) or not isinstance(n_val, (int, np.integer)) or not 0 < n_val < n:
        raise ValueError(f"n_val: expected an int in (0, {n}), got {n_val!r}")
    perm = np.random.default_rng(seed).permutation(n)
    rest, val = perm[n_val:], perm[:n_val]
    return (x[rest], t[rest]), (x[val], t[val])


def as_labels(t: np.ndarray, n: int, k: int, name: str) -> np.ndarray:
    """Training targets ``name`` for n rows of k classes as label indices (N,): labels are
    checked, one-hot rows argmaxed once (exact for one-hot), soft targets refused."""
    arr, is_labels = check_targets((n, k), t, name)
    if is_labels:
        return arr
    if not np.all((arr == 0) | (arr == 1)) or not np.all(arr.sum(axis=1) == 1):
        raise ValueError(f"{name}: expected labels or one-hot rows, got soft targets")
    return np.argmax(arr, axis=1)


def _data(net: TwoLayerNet, x: np.ndarray, t: np.ndarray, name: str) -> tuple[np.ndarray, ...]:
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != net.sizes[0]:
        raise ValueError(f"x_{name}: expected shape (N, {net.sizes[0]}), got {x.shape}")
    if x.dtype.kind not in "fiu":
        raise TypeError(f"x_{name}: expected a numeric array, got dtype {x.dtype}")
    # Converting once keeps every product in one dtype (the book mixes float32 data with
    # float64 weights, which upcasts every product and costs ~5x on the accuracy passes).
    return np.ascontiguousarray(x, dtype=net.dtype), as_labels(t, len(x), net.sizes[2], f"t_{name}")


def train(
    network: TwoLayerNet,
    x_train: np.ndarray,
    t_train: np.ndarray,
    x_test: np.ndarray,
    t_test: np.ndarray,
    plan: TrainPlan,
    optimizer: Optimizer | None = None,
    *,
    learning_rate: float = 0.1,
    early_stopping: EarlyStopping | None = None,
    x_val: np.ndarray | None = None,
    t_val: np.ndarray | None = None,
    progress: bool | None = None,
    mode: str = "auto",
    allow_nonfinite: bool = False,
    gradient: str = "backprop",
    log: TextIO | None = None,
) -> TrainHistory:
    """Run ``plan`` on ``network`` (updated in place) and return the history.

    Everything is checked before the first iteration (``_train_checks``): the sets must have
    rows and finite values; with ``allow_nonfinite=True`` non-finite data is accepted, the run
    is eager, and it stops at the first non-finite loss (``history.meta["nonfinite"]`` names
    the iteration and tensor).

    ``optimizer`` defaults to ``SGD(learning_rate)``, the chapter's update.  ``progress``
    defaults to a tqdm bar when stderr is a terminal.  With ``early_stopping``, held-out
    accuracy on (x_val, t_val) is measured at each evaluation and the best parameters are
    restored when training stops.  ``mode``: see :data:`MODES`; "fused" refuses any optimizer
    but SGD, and weight decay, with a ValueError that says why.  ``history.meta`` records the
    mode actually used.

    ``gradient``: "backprop" (the default) or "numerical", the notes' own loop: each step's
    gradient is ``network.numerical_gradient_fast`` (central differences, h = 1e-4) instead of
    backprop; it runs eager ("fused" and "graph" are refused) and is feasible on a small subset.
    ``log``: a text stream that gets, at each evaluation, the line the notes print,
    ``train acc: 0.0993, test acc: 0.1032`` (:func:`eval_line`).
    """
    check_train_inputs(
        network, plan, optimizer, early_stopping,
        {"x_train": x_train, "x_test": x_test, "x_val": x_val},
        allow_nonfinite=allow_nonfinite, mode=mode, classes=_CLASSES,
    )  # fmt: skip
    check_choice(gradient, "gradient", GRADIENTS)
    if gradient == "numerical" and mode not in ("auto", "eager"):
        raise ValueError(
            f"mode: gradient 'numerical' runs the reference loop, mode 'eager' (or 'auto'), "
            f"got {mode!r}"
        )
    if log is not None and not callable(getattr(log, "write", None)):
        raise TypeError(f"log: expected a text stream (with .write) or None, got {log!r}")
    mode = "eager" if allow_nonfinite or gradient == "numerical" else mode
    if not isinstance(network, TwoLayerNet):
        raise TypeError(f"network: expected a TwoLayerNet, got {type(network).__name__}")
    if not isinstance(plan, TrainPlan):
        raise TypeError(f"plan: expected a TrainPlan, got {type(plan).__name__}")
    plan_sizes = (plan.input_size, plan.hidden_size, plan.output_size)
    if plan_sizes != network.sizes:
        raise ValueError(f"network: the plan is for sizes {plan_sizes}, got {network.sizes}")
    if bool(plan.dropout_ratio) != bool(network.dropout_ratio):
        raise ValueError(
            f"plan: dropout_ratio {plan.dropout_ratio} does not match the network's "
            f"{network.dropout_ratio}"
        )
    opt = optimizer if optimizer is not None else SGD(learning_rate)
    if not isinstance(opt, Optimizer):
        raise TypeError(f"optimizer: expected an Optimizer, got {type(opt).__name__}")
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress: expected True, False or None, got {progress!r}")
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        raise TypeError(
            f"early_stopping: expected an EarlyStopping, got {type(early_stopping).__name__}"
        )
    run_mode = fastpath.resolve_mode(mode, opt, network.weight_decay_lambda)
    xtr, ttr = _data(network, x_train, t_train, "train")
    if len(xtr) != plan.train_size:
        raise ValueError(
            f"x_train: the plan expects {plan.train_size} training rows, got {len(xtr)}"
        )
    xte, tte = _data(network, x_test, t_test, "test")
    best = None
    if early_stopping is not None:
        if x_val is None or t_val is None:
            raise ValueError("x_val, t_val: early_stopping needs held-out data, got None")
        best = BestSoFar(early_stopping, *_data(network, x_val, t_val, "val"))
    hist = TrainHistory(
        meta={
            "dtype": str(network.dtype),
            "optimizer": type(opt).__name__,
            "activation": network.activation,
            "loss": network.loss_name,
            "iters_num": plan.iters_num,
            "batch_size": plan.batch_size,
            "sampling": plan.sampling,
            "seed": plan.seed,
            "engine": "numpy",
            "mode": run_mode,
            "gradient": gradient,
            "overlap": False,  # run_fused records whether it overlapped
        }
    )
    if allow_nonfinite:
        hist.meta["allow_nonfinite"] = True
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=plan.iters_num, disable=not show, desc="train", unit="it", mininterval=0.5)
    run = TrainRun(network, plan, xtr, ttr, xte, tte, best, hist, bar, gradient, log)
    start = time.perf_counter()
    try:
        if run_mode == "fused":
            fastpath.run_fused(run, opt.lr)
        else:
            run_eager(run, opt)
    finally:
        bar.close()
    if best is not None and best.params is not None:
        for k in PARAM_NAMES:
            network.params[k][...] = best.params[k]
    hist.seconds = time.perf_counter() - start
    return hist


#: The classes train accepts, with the names a user imports them by (for check_train_inputs).
_CLASSES = {
    "network": (TwoLayerNet, "reference_numpy.TwoLayerNet"),
    "plan": (TrainPlan, "reference_numpy.TrainPlan"),
    "optimizer": (Optimizer, "a reference_numpy.Optimizer"),
    "early_stopping": (EarlyStopping, "reference_numpy.EarlyStopping"),
}


@dataclass
class TrainRun:
    """One run as every step mode sees it: the network, the plan, the checked data (labels as
    indices), early stopping's bookkeeping, the history being filled and the progress bar.
    reference_torch's has the same fields and methods (plus the device copies of the plan)."""

    net: TwoLayerNet
    plan: TrainPlan
    xtr: np.ndarray
    ttr: np.ndarray
    xte: np.ndarray
    tte: np.ndarray
    best: BestSoFar | None
    hist: TrainHistory
    bar: Any
    gradient: str = "backprop"
    log: TextIO | None = None

    def batch(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(x, t, dropout mask or None) of iteration i; take() gathers rows ~15% faster than
        x[rows]."""
        rows = self.plan.batch(i)
        if isinstance(rows, slice):
            xb, tb = self.xtr[rows], self.ttr[rows]
        else:
            xb, tb = self.xtr.take(rows, axis=0), self.ttr[rows]
        mask = self.plan.dropout_mask(i, len(tb))
        return xb, tb, None if mask is None else mask.astype(self.net.dtype)

    def evaluate(self, i: int, points: list[tuple[int, int]]) -> bool:
        """At evaluation iteration i: the (train, test) correct counts into ``points``; with
        early stopping, True when it says stop (the best parameters kept as copies)."""
        net, best = self.net, self.best
        self.hist.eval_iters.append(i)
        points.append((net.count_correct_unchecked(self.xtr, self.ttr),
                       net.count_correct_unchecked(self.xte, self.tte)))
        self.log_eval(*points[-1])
        if best is None:
            return False
        acc = int(net.count_correct_unchecked(best.x, best.t)) / len(best.t)
        return best.stop(self.hist, i, acc, lambda: {k: v.copy() for k, v in net.params.items()})

    def log_eval(self, train_correct: Any, test_correct: Any) -> None:
        """With a ``log`` stream: the notes' line for one evaluation's correct counts."""
        if self.log is not None:
            self.log.write(eval_line(int(train_correct) / len(self.ttr),
                                     int(test_correct) / len(self.tte)) + "\n")

    def finish(self, losses: list[float], points: list[tuple[int, int]]) -> None:
        """Write the per-iteration losses and, per evaluation, the (train, test) correct
        counts into the history."""
        hist = self.hist
        hist.train_loss_list = list(losses)
        hist.train_acc_list = [a / len(self.ttr) for a, _ in points]
        hist.test_acc_list = [b / len(self.tte) for _, b in points]


def run_eager(run: TrainRun, opt: Optimizer) -> None:
    """The reference loop: gradient, update (in place), loss, accuracy, one after another."""
    net, plan, hist = run.net, run.plan, run.hist
    params = net.params
    losses: list[float] = []
    points: list[tuple[int, int]] = []
    for i in range(plan.iters_num):
        xb, tb, mask = run.batch(i)
        if run.gradient == "numerical":
            grads = net.numerical_gradient_fast(xb, tb, mask)
        else:
            grads = net.gradient_unchecked(xb, tb, True, mask)
        opt.apply_unchecked(params, grads)
        losses.append(net.loss_unchecked(xb, tb, True, mask))
        run.bar.update(1)
        if hist.meta.get("allow_nonfinite") and nonfinite_stop(hist, i, losses[-1], params):
            break
        if plan.is_eval_iter(i) and run.evaluate(i, points):
            break
    run.finish(losses, points)


def save_params(params: dict[str, np.ndarray], path: str | os.PathLike[str]) -> None:
    """Save parameters to .npz atomically (plain arrays, no pickle)."""
    arrays = param_arrays(params)
    atomic_write(path, lambda f: np.savez(f, **arrays))


def load_params(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Load parameters saved by ``save_params`` (allow_pickle=False: an .npz never runs code)."""
    z = load_npz(path)
    missing = [k for k in PARAM_NAMES if k not in z]
    if missing:
        raise ValueError(
            f"{os.fspath(path)}: expected arrays {list(PARAM_NAMES)}, missing {missing}"
        )
    return {k: z[k] for k in PARAM_NAMES}
