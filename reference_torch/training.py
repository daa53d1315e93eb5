"""Mini-batch training exactly as the chapter runs it (§4.5.2–4.5.3), on tensors, replaying a plan.

The loop is ``reference_numpy.training.train`` step for step: for i in range(iters_num) take the
plan's batch i; compute the gradient by hand-written backprop; update the parameters; record
the loss on that batch *after* the update; when ``eval_iterations(plan)[i]``, record accuracy on the
full train and test sets.  Batch indices and dropout masks come from the plan (``TrainPlan`` is
NumPy, so both engines read the very same numbers), which is what makes a float64 torch run
equal to the NumPy run to rounding.

The loop's shape is reference_numpy's: ``train`` checks its inputs, picks the mode
(``fastpath.resolve_mode``), builds a :class:`TrainRun` and hands it to one step mode:
``run_eager`` here (the reference path, an op-for-op mirror of NumPy's) or
``fastpath.run_fused`` / ``fastpath.run_graph``.  What differs is only where the data lives
and when the host looks at it: the whole data set is on the network's device, validated
once, and each iteration gathers its batch there by an index tensor (the plan's indices are
copied to the device once); per-iteration losses and the evaluations' correct counts stay on
the device and come to the host once, in ``TrainRun.finish`` (early stopping reads its one
count at once), so an iteration never waits for the host.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np
import torch
from tqdm.auto import tqdm

from reference_numpy._validate import check_seed
from reference_numpy.training import as_labels as np_as_labels

from . import fastpath
from ._safeio import param_arrays
from ._train_checks import check_train_inputs, nonfinite_stop
from ._validate import atomic_write, check_choice, check_targets, check_tensor
from .fastpath import MODES
from .networks import PARAM_NAMES, TwoLayerNet
from .optimizers import SGD, Optimizer
from .plan import MaskFeed, TrainPlan, eval_iterations, plan_tensors
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

Tensor = torch.Tensor


#: How ``train`` computes each step's gradient: backprop, or the notes' numerical gradient.
GRADIENTS = ("backprop", "numerical")


def eval_line(train_acc: float, test_acc: float) -> str:
    """The line the notes print at each evaluation:
    ``print(f"train acc: {train_acc:.4f}, test acc: {test_acc:.4f}")``."""
    return f"train acc: {train_acc:.4f}, test acc: {test_acc:.4f}"


def holdout_split(
    x: Tensor | np.ndarray, t: Tensor | np.ndarray, n_val: int, seed: int = 0
) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """Split off ``n_val`` random rows as held-out data: ((x_rest, t_rest), (x_val, t_val)).

    The permutation is a draw of NumPy's ``default_rng(seed)`` (torch's generators cannot
    reproduce it, and both engines must hold out the same rows); the checks and the split of it
    are this engine's own, and tensors are indexed on their own device.
    """
    n = len(x)
    if len(t) != n:
        raise ValueError(f"t: expected {n} rows to match x, got {len(t)}")
    check_seed(seed)
    if isinstance(n_val, bool) or not isinstance(n_val, (int, np.integer)) or not 0 < n_val < n:
        raise ValueError(f"n_val: expected an int in (0, {n}), got {n_val!r}")
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(n))
    rest, val = perm[n_val:], perm[:n_val]

    def take(a: Tensor | np.ndarray, rows: Tensor) -> Any:
        if isinstance(a, Tensor):
            return a.index_select(0, rows.to(a.device))
        return a[rows.numpy()]

    return (take(x, rest), take(t, rest)), (take(x, val), take(t, val))


def as_labels(
    t: Tensor | np.ndarray,
    n: int,
    k: int,
    name: str,
    *,
    device: torch.device,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """Training targets ``name`` for n rows of k classes as label indices (N,) on ``device``:
    labels are checked, one-hot rows argmaxed once (exact for one-hot), soft targets refused.
    A one-hot tensor must be of ``dtype``; NumPy targets go through reference_numpy's
    ``as_labels`` and are moved once."""
    if isinstance(t, Tensor):
        arr, is_labels = check_targets((n, k), t, name, device=device, dtype=dtype)
        if is_labels:
            return arr
        if not bool(torch.all((arr == 0) | (arr == 1))) or not bool(torch.all(arr.sum(1) == 1)):
            raise ValueError(f"{name}: expected labels or one-hot rows, got soft targets")
        return torch.argmax(arr, dim=1)
    if isinstance(t, np.ndarray):
        return torch.from_numpy(np_as_labels(t, n, k, name)).to(device)
    raise TypeError(
        f"{name}: expected labels as a torch.Tensor on {device} (or a NumPy array), "
        f"got {type(t).__name__}"
    )


def _np_dtype(dtype: torch.dtype) -> np.dtype:
    return np.dtype(np.float64 if dtype == torch.float64 else np.float32)


def _data(net: TwoLayerNet, x: object, t: object, name: str) -> tuple[Tensor, Tensor]:
    """(x, labels) on the network's device: x in its dtype, labels int64 (N,).

    Tensors must already be on the network's device and of its dtype (a wrong one is an error,
    never a silent copy: an accidental per-call host-to-device copy of MNIST would dominate a
    GPU run).  NumPy arrays are accepted and converted once (to the network's dtype, as
    ``reference_numpy.train`` converts float32 data for a float64 net) and moved to the device.
    """
    dev, dt, (n_in, _, k) = net.device, net.dtype, net.sizes
    if isinstance(x, np.ndarray):
        if x.ndim != 2 or x.shape[1] != n_in:
            raise ValueError(f"x_{name}: expected shape (N, {n_in}), got {x.shape}")
        if x.dtype.kind not in "fiu":
            raise TypeError(f"x_{name}: expected a numeric array, got dtype {x.dtype}")
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=_np_dtype(dt))).to(dev)
    elif isinstance(x, Tensor):
        xt = check_tensor(x, f"x_{name}", device=dev, dtype=dt)
        if xt.ndim != 2 or xt.shape[1] != n_in:
            raise ValueError(f"x_{name}: expected shape (N, {n_in}), got {tuple(xt.shape)}")
    else:
        raise TypeError(
            f"x_{name}: expected a torch.Tensor on {dev} (or a NumPy array, moved once), "
            f"got {type(x).__name__}"
        )
    return xt, as_labels(t, xt.shape[0], k, f"t_{name}", device=dev, dtype=dt)


def train(
    network: TwoLayerNet,
    x_train: Tensor | np.ndarray,
    t_train: Tensor | np.ndarray,
    x_test: Tensor | np.ndarray,
    t_test: Tensor | np.ndarray,
    plan: TrainPlan,
    optimizer: Optimizer | None = None,
    *,
    learning_rate: float = 0.1,
    early_stopping: EarlyStopping | None = None,
    x_val: Tensor | np.ndarray | None = None,
    t_val: Tensor | np.ndarray | None = None,
    progress: bool | None = None,
    mode: str = "auto",
    allow_nonfinite: bool = False,
    gradient: str = "backprop",
    log: TextIO | None = None,
) -> TrainHistory:
    """Run ``plan`` on ``network`` (updated in place) and return the history.

    Everything is checked before the first iteration, as in reference_numpy (non-empty, finite
    sets; ``allow_nonfinite=True`` accepts non-finite data, runs eager and stops at the first
    non-finite loss, naming the iteration and tensor in ``history.meta["nonfinite"]``).

    Same semantics as ``reference_numpy.training.train`` (same history fields, same loss and
    accuracy points, same early stopping).  ``optimizer`` defaults to ``SGD(learning_rate)``.
    Data: tensors on the network's device and of its dtype (labels int64 or one-hot), or NumPy
    arrays, which are converted and moved once.  ``progress`` defaults to a tqdm bar when stderr
    is a terminal.  ``mode``: see :data:`MODES`; "graph" refuses a non-CUDA network and Adam,
    "fused" any optimizer but SGD and weight decay, with a ValueError that says why.
    ``history.meta`` records the mode actually used.

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
        raise TypeError(
            f"network: expected a reference_torch TwoLayerNet, got {type(network).__name__}"
        )
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
        raise TypeError(
            f"optimizer: expected a reference_torch Optimizer, got {type(opt).__name__}"
        )
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress: expected True, False or None, got {progress!r}")
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        raise TypeError(
            f"early_stopping: expected an EarlyStopping, got {type(early_stopping).__name__}"
        )
    run_mode = fastpath.resolve_mode(mode, opt, network.weight_decay_lambda, device=network.device)
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
            "dtype": str(network.dtype).removeprefix("torch."),
            "optimizer": type(opt).__name__,
            "activation": network.activation,
            "loss": network.loss_name,
            "iters_num": plan.iters_num,
            "batch_size": plan.batch_size,
            "sampling": plan.sampling,
            "seed": plan.seed,
            "engine": "torch",
            "device": str(network.device),
            "mode": run_mode,
            "gradient": gradient,
            "num_threads": torch.get_num_threads(),
        }
    )
    if allow_nonfinite:
        hist.meta["allow_nonfinite"] = True
    show = sys.stderr.isatty() if progress is None else progress
    start = time.perf_counter()
    with torch.no_grad():
        bar = tqdm(total=plan.iters_num, disable=not show, desc="train", unit="it", mininterval=0.5)
        run = TrainRun(network, plan, xtr, ttr, xte, tte, best, hist, bar, gradient, log)
        try:
            if run_mode == "fused":
                fastpath.run_fused(run, opt.lr)
            elif run_mode == "graph":
                fastpath.run_graph(run, opt)
            else:
                run_eager(run, opt)
        finally:
            bar.close()
        if best is not None and best.params is not None:
            for k in PARAM_NAMES:
                network.params[k].copy_(best.params[k])
    hist.seconds = time.perf_counter() - start
    return hist


#: The classes train accepts, with the names a user imports them by (for check_train_inputs).
_CLASSES = {
    "network": (TwoLayerNet, "reference_torch.TwoLayerNet"),
    "plan": (TrainPlan, "reference_torch.TrainPlan"),
    "optimizer": (Optimizer, "a reference_torch.Optimizer"),
    "early_stopping": (EarlyStopping, "reference_torch.EarlyStopping"),
}


@dataclass
class TrainRun:
    """One run as every step mode sees it: the network, the plan, the checked data (labels as
    indices, all on the network's device), early stopping's bookkeeping, the history being
    filled and the progress bar; plus the device copies of the plan (``idx``: every batch's row
    indices, None for full batches; ``masks``: the dropout masks' window, None without dropout).
    reference_numpy's has the same fields and methods."""

    net: TwoLayerNet
    plan: TrainPlan
    xtr: Tensor
    ttr: Tensor
    xte: Tensor
    tte: Tensor
    best: BestSoFar | None
    hist: TrainHistory
    bar: Any
    gradient: str = "backprop"
    log: TextIO | None = None

    def __post_init__(self) -> None:
        plan, dev = self.plan, self.net.device
        self.idx = plan_tensors(plan, dev)  # (iters, batch) int64, None for full batch
        rows = plan.train_size if self.idx is None else plan.batch_size
        self.masks = MaskFeed(plan, rows, dev) if plan.dropout_ratio else None
        # This engine's own evaluation schedule (NumPy's loops ask plan.is_eval_iter).
        self.evals: list[bool] = eval_iterations(plan).tolist()

    def batch(self, i: int) -> tuple[Tensor, Tensor, Tensor | None]:
        """(x, t, dropout mask or None) of iteration i, gathered on the device."""
        if self.idx is None:
            xb, tb = self.xtr, self.ttr
        else:
            rows = self.idx[i]
            xb, tb = self.xtr.index_select(0, rows), self.ttr.index_select(0, rows)
        masks = self.masks
        if masks is None:
            return xb, tb, None
        if i % masks.k == 0:
            masks.refill(i)
        return xb, tb, masks.buf[i % masks.k].to(self.net.dtype)

    def evaluate(self, i: int, points: list[tuple[Tensor, Tensor]]) -> bool:
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
        return best.stop(self.hist, i, acc,
                         lambda: {k: v.detach().clone() for k, v in net.params.items()})

    def log_eval(self, train_correct: Any, test_correct: Any) -> None:
        """With a ``log`` stream: the notes' line for one evaluation's correct counts."""
        if self.log is not None:
            self.log.write(eval_line(int(train_correct) / len(self.ttr),
                                     int(test_correct) / len(self.tte)) + "\n")

    def finish(self, losses: list[Tensor] | Tensor, points: list[tuple[Tensor, Tensor]]) -> None:
        """Write the per-iteration losses (0-d tensors, or one tensor of them) and, per
        evaluation, the (train, test) correct counts into the history: one bulk host copy each."""
        hist = self.hist
        if isinstance(losses, list):
            losses = torch.stack(losses) if losses else torch.empty(0)
        hist.train_loss_list = losses.tolist()
        counts = torch.stack([torch.stack(p) for p in points]).tolist() if points else []
        hist.train_acc_list = [a / len(self.ttr) for a, _ in counts]
        hist.test_acc_list = [b / len(self.tte) for _, b in counts]


def run_eager(run: TrainRun, opt: Optimizer) -> None:
    """The reference loop: gradient, update (in place), loss, accuracy, one after another."""
    net, plan, hist = run.net, run.plan, run.hist
    params = net.params
    losses: list[Tensor] = []
    points: list[tuple[Tensor, Tensor]] = []
    for i in range(plan.iters_num):
        xb, tb, mask = run.batch(i)
        if run.gradient == "numerical":
            grads = net.numerical_gradient_fast(xb, tb, mask)
        else:
            grads = net.gradient_unchecked(xb, tb, True, mask)
        opt.apply_unchecked(params, grads)
        losses.append(net.loss_unchecked(xb, tb, True, mask))
        run.bar.update(1)
        if hist.meta.get("allow_nonfinite") and nonfinite_stop(
            hist, i, float(losses[-1]), params
        ):
            break
        if run.evals[i] and run.evaluate(i, points):
            break
    run.finish(losses, points)


def save_params(params: Mapping[str, Tensor | np.ndarray], path: str | os.PathLike[str]) -> None:
    """Save parameters to .npz atomically, in their dtype (plain arrays, no pickle), readable
    by ``reference_numpy.training.load_params``."""
    arrays = param_arrays(params)
    atomic_write(path, lambda f: np.savez(f, **arrays))


def load_params(
    path: str | os.PathLike[str],
    device: str | torch.device | None = None,
    dtype: object = None,
) -> dict[str, Tensor]:
    """Load parameters saved by ``save_params`` (either engine) as tensors on ``device``
    (default: ``resolve_device()``), in ``dtype`` (default: as stored)."""
    from reference_numpy.training import load_params as _np_load

    from .device import resolve_device, resolve_dtype

    dev = resolve_device(device)
    arrays = _np_load(path)
    out = {}
    for k, a in arrays.items():
        dt = resolve_dtype(dtype, default=resolve_dtype(a.dtype))
        out[k] = torch.from_numpy(a).to(device=dev, dtype=dt)
    return out
