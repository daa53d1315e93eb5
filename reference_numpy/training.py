"""Mini-batch training exactly as the chapter runs it (§4.5.2–4.5.3), replayable from a plan.

For i in range(iters_num): take the plan's batch i; compute the gradient by backprop; update the
parameters; record the loss on that batch *after* the update (as the book does); when
i % iter_per_epoch == 0, record accuracy on the full train and test sets.

The same loop covers the regimes the notes compare (full-batch gradient descent, batch size 1,
mini-batch: see ``TrainPlan.sampling``), every optimizer in ``optimizers``, weight decay and
dropout (set on the network; dropout masks come from the plan), and early stopping on held-out
data.  Inputs are validated once here, so each iteration runs only the numerics.

Two ways to run one step (``mode``, see :data:`MODES`), mirroring ``reference_torch.training``:

* ``mode="eager"`` is the reference path: ``TwoLayerNet._gradient``, ``Optimizer._apply``,
  ``TwoLayerNet._loss``, each written for clarity, any optimizer.
* ``mode="fused"`` (the default for SGD without weight decay) runs the same SGD step written for
  speed: in-place element-wise work, the book's ``1/(1 + exp(-a))`` sigmoid (four passes instead
  of six), and the logits held transposed, one column per sample, because NumPy reduces a
  (10, N) array along its rows several times faster than a (N, 10) array along its short
  columns (measured: benchmarks/RESULTS.md).  Same maths, other rounding: it agrees with the
  eager path to rounding in float64 and within float32 noise in float32 (bounds measured in
  ``tests/test_numpy_training.py``).  This is the float32 fast mode of the book's run.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from ._safeio import dumps_json, load_json_record, load_npz, param_arrays
from ._train_checks import check_train_inputs, nonfinite_stop
from ._validate import (
    atomic_write,
    atomic_write_bytes,
    check_choice,
    check_positive,
    check_seed,
    check_targets,
)
from .functions import CEE_DELTA, _sigmoid_inplace
from .networks import PARAM_NAMES, TwoLayerNet
from .optimizers import SGD, Optimizer
from .plan import TrainPlan

__all__ = [
    "TrainHistory",
    "EarlyStopping",
    "MODES",
    "train",
    "holdout_split",
    "save_params",
    "load_params",
]

#: "eager": the reference path (``_gradient``, ``_apply``, ``_loss``; any optimizer);
#: "fused": the SGD step written for speed (plain SGD, no weight decay);
#: "auto": "fused" when the run is plain SGD without weight decay, else "eager".
#: reference_torch has the same three, plus "graph" (CUDA graphs, which NumPy has no use for).
MODES = ("auto", "eager", "fused")


@dataclass
class TrainHistory:
    """The book's three lists, plus what is needed to compare and reproduce a run."""

    train_loss_list: list[float] = field(default_factory=list)
    train_acc_list: list[float] = field(default_factory=list)
    test_acc_list: list[float] = field(default_factory=list)
    eval_iters: list[int] = field(default_factory=list)
    val_acc_list: list[float] = field(default_factory=list)
    stopped_at: int | None = None
    best_iter: int | None = None
    seconds: float = 0.0
    meta: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def save_json(self, path: str | os.PathLike[str]) -> None:
        """Write the history as strict JSON, atomically (non-finite losses are encoded as
        ``{"nonfinite": "nan"}`` and decoded by ``load_json``: see ``_safeio``)."""
        atomic_write_bytes(path, dumps_json(self.to_dict()))

    @classmethod
    def load_json(cls, path: str | os.PathLike[str]) -> TrainHistory:
        """Read ``save_json``'s file; unknown keys are refused, naming the file."""
        return cls(**load_json_record(path, cls.__dataclass_fields__))


@dataclass
class EarlyStopping:
    """Stop when held-out accuracy has not improved by ``min_delta`` for ``patience`` evaluations,
    and restore the parameters of the best evaluation."""

    patience: int = 3
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        if (
            isinstance(self.patience, bool)
            or not isinstance(self.patience, (int, np.integer))
            or self.patience < 1
        ):
            raise ValueError(f"patience: expected a positive int, got {self.patience!r}")
        self.min_delta = check_positive(self.min_delta, "min_delta", allow_zero=True)


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


def _labels(t: np.ndarray, n: int, k: int, name: str) -> np.ndarray:
    """Training targets as label indices: one-hot rows are argmaxed once (exact for one-hot)."""
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
    return np.ascontiguousarray(x, dtype=net.dtype), _labels(t, len(x), net.sizes[2], f"t_{name}")


#: Rows per block of an accuracy pass.  A 2048-row block keeps the hidden activations
#: (2048 x 50 floats, 400 KB in float32) in L2 while the element-wise ops run over them; one
#: block over all 60,000 rows spills to memory (measured: benchmarks/RESULTS.md).
_EVAL_BLOCK = 2048


def _correct(net: TwoLayerNet, x: np.ndarray, labels: np.ndarray) -> int:
    """Number of rows whose logit argmax equals the label (np.argmax takes the first of ties)."""
    correct = 0
    for s in range(0, len(x), _EVAL_BLOCK):
        _, _, h = net._hidden(x[s : s + _EVAL_BLOCK], None)
        a2 = h @ net.params["W2"]
        a2 += net.params["b2"]
        correct += np.count_nonzero(np.argmax(a2, axis=1) == labels[s : s + _EVAL_BLOCK])
    return correct


def _correct_fused(
    net: TwoLayerNet, params: dict[str, np.ndarray], x: np.ndarray, labels: np.ndarray
) -> int:
    """``_correct`` through ``_forward_fused`` with ``params``, in the same row blocks."""
    scale = net.dtype.type(1 - net.dropout_ratio) if net.dropout_ratio else None
    correct = 0
    for s in range(0, len(x), _EVAL_BLOCK):
        _, _, a2t = _forward_fused(net, params, x[s : s + _EVAL_BLOCK], scale)
        correct += np.count_nonzero(np.argmax(a2t, axis=0) == labels[s : s + _EVAL_BLOCK])
    return correct


def _forward_fused(
    net: TwoLayerNet,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    scale: np.ndarray | np.floating | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z1, h, a2ᵀ): z1 = act(x W1 + b1), h = z1 ⊙ scale (a dropout mask, the test-time
    1 - ratio, or nothing), a2ᵀ = W2ᵀ hᵀ + b2, the logits with one column per sample."""
    a1 = x @ params["W1"]
    a1 += params["b1"]
    if net.activation == "sigmoid":
        z1 = _sigmoid_inplace(a1)
    else:
        z1 = np.maximum(a1, a1.dtype.type(0), out=a1)
    h = z1 if scale is None else z1 * scale
    a2t = np.matmul(params["W2"].T, h.T)
    a2t += params["b2"][:, None]
    return z1, h, a2t


def _target_positions(tb: np.ndarray) -> np.ndarray:
    """Flat positions of sample n's target, t_n·N + n, in a (K, N) array of logits."""
    n = len(tb)
    return tb * n + np.arange(n)


def _fused_sgd_step(
    net: TwoLayerNet,
    params: dict[str, np.ndarray],
    xb: np.ndarray,
    target: np.ndarray,
    mask: np.ndarray | None,
    lr: float,
) -> dict[str, np.ndarray]:
    """One SGD step written for speed; returns the updated parameters as new arrays.

    The maths of ``TwoLayerNet._gradient`` then ``SGD._apply``: dy = (softmax(a2) - onehot(t))/N,
    dh = dy W2ᵀ (⊙ mask), da1 = dh ⊙ act'(a1), W1 - lr·xᵀda1, b1 - lr·Σda1, W2 - lr·hᵀdy,
    b2 - lr·Σdy, on (K, N) logits.  ``params`` is only read, so a set of parameters stays valid
    while another thread computes its loss or accuracy.  ``target``: the batch's
    ``_target_positions``.
    """
    n = xb.shape[0]
    dt = net.dtype.type
    lr = dt(lr)
    z1, h, y = _forward_fused(net, params, xb, mask)
    y -= y.max(axis=0)
    np.exp(y, out=y)
    y /= y.sum(axis=0)
    y.ravel()[target] -= 1
    y /= dt(n)  # dyᵀ
    dh = np.matmul(y.T, params["W2"].T)
    if mask is not None:
        dh *= mask
    if net.activation == "sigmoid":
        da1 = 1 - z1
        da1 *= z1
        da1 *= dh
    else:
        da1 = dh
        da1 *= z1 > 0  # z1 = max(a1, 0) > 0 exactly where a1 > 0
    # Each gradient is formed, then scaled by lr, then subtracted, so lr·g rounds as
    # SGD._apply's does.
    grads = {
        "W1": xb.T @ da1,
        "b1": da1.sum(axis=0),
        "W2": np.matmul(h.T, y.T),
        "b2": y.sum(axis=1),
    }
    new = {}
    for k, g in grads.items():
        g *= lr
        new[k] = params[k] - g
    return new


def _fused_loss(
    net: TwoLayerNet,
    params: dict[str, np.ndarray],
    xb: np.ndarray,
    target: np.ndarray,
    mask: np.ndarray | None,
) -> float:
    """``TwoLayerNet._loss`` through ``_forward_fused``: the mean cross-entropy on the batch
    (``target``: the batch's ``_target_positions``)."""
    n = xb.shape[0]
    _, _, y = _forward_fused(net, params, xb, mask)
    y -= y.max(axis=0)
    if net.loss_name == "softmax_cross_entropy":
        # -log softmax(a)_t = log Σ_k exp(a_k - m) - (a_t - m): exact where softmax underflows.
        total = np.log(np.exp(y).sum(axis=0)).sum() - y.ravel()[target].sum()
    else:
        np.exp(y, out=y)
        y /= y.sum(axis=0)
        total = -np.log(y.ravel()[target] + CEE_DELTA).sum()
    return float(total / net.dtype.type(n))


def _fusable(opt: object, weight_decay: float, sgd: type = SGD) -> str | None:
    """Why the fused step cannot run this configuration (None when it can); ``sgd`` is the
    engine's plain SGD class (reference_torch passes its own)."""
    if type(opt) is not sgd:
        return f"it fuses the plain SGD update only, got {type(opt).__name__}"
    if weight_decay:
        return f"it does not fold weight decay into the update, got λ={weight_decay}"
    return None


def _resolve_mode(mode: str, opt: Optimizer, weight_decay: float = 0.0) -> str:
    check_choice(mode, "mode", MODES)
    why = _fusable(opt, weight_decay)
    if mode == "auto":
        return "fused" if why is None else "eager"
    if mode == "fused" and why is not None:
        raise ValueError(f"mode: 'fused' cannot run this configuration: {why}; use 'eager'")
    return mode


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
    """
    check_train_inputs(
        network, plan, optimizer, early_stopping,
        {"x_train": x_train, "x_test": x_test, "x_val": x_val},
        allow_nonfinite=allow_nonfinite, mode=mode, classes=_CLASSES,
    )  # fmt: skip
    mode = "eager" if allow_nonfinite else mode
    if not isinstance(network, TwoLayerNet):
        raise TypeError(f"network: expected a TwoLayerNet, got {type(network).__name__}")
    if not isinstance(plan, TrainPlan):
        raise TypeError(f"plan: expected a TrainPlan, got {type(plan).__name__}")
    xtr, ttr = _data(network, x_train, t_train, "train")
    xte, tte = _data(network, x_test, t_test, "test")
    if len(xtr) != plan.train_size:
        raise ValueError(
            f"x_train: the plan expects {plan.train_size} training rows, got {len(xtr)}"
        )
    plan_sizes = (plan.input_size, plan.hidden_size, plan.output_size)
    if plan_sizes != network.sizes:
        raise ValueError(f"network: the plan is for sizes {plan_sizes}, got {network.sizes}")
    if bool(plan.dropout_ratio) != bool(network.dropout_ratio):
        raise ValueError(
            f"plan: dropout_ratio {plan.dropout_ratio} does not match the network's "
            f"{network.dropout_ratio}"
        )
    if early_stopping is not None:
        if x_val is None or t_val is None:
            raise ValueError("x_val, t_val: early_stopping needs held-out data, got None")
        xva, tva = _data(network, x_val, t_val, "val")
    opt = optimizer if optimizer is not None else SGD(learning_rate)
    if not isinstance(opt, Optimizer):
        raise TypeError(f"optimizer: expected an Optimizer, got {type(opt).__name__}")
    run_mode = _resolve_mode(mode, opt, network.weight_decay_lambda)
    overlap = run_mode == "fused" and _overlaps(plan, network)
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
            "overlap": overlap,
        }
    )
    if allow_nonfinite:
        hist.meta["allow_nonfinite"] = True
    best = _Best(early_stopping, xva, tva) if early_stopping is not None else None
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=plan.iters_num, disable=not show, desc="train", unit="it", mininterval=0.5)
    start = time.perf_counter()
    try:
        if run_mode == "fused":
            _run_fused(network, plan, opt.lr, (xtr, ttr, xte, tte), best, hist, bar, overlap)
        else:
            _run_eager(network, plan, opt, (xtr, ttr, xte, tte), best, hist, bar)
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


class _Best:
    """Early stopping's bookkeeping: the held-out data, the best accuracy on it so far and the
    parameters that had it (arrays here, tensors in reference_torch, which shares it)."""

    def __init__(self, es: EarlyStopping, x_val: Any, t_val: Any) -> None:
        self.es, self.x, self.t = es, x_val, t_val
        self.acc, self.since = -np.inf, 0
        self.params: dict[str, np.ndarray] | None = None

    def stop(self, hist: TrainHistory, i: int, acc: float, params: Callable[[], dict]) -> bool:
        """Record held-out accuracy ``acc`` after iteration i; True when training should stop.
        ``params`` gives the parameters to keep if this is the best evaluation so far."""
        hist.val_acc_list.append(acc)
        if acc > self.acc + self.es.min_delta:
            self.acc, self.since, hist.best_iter = acc, 0, i
            self.params = params()
            return False
        self.since += 1
        if self.since >= self.es.patience:
            hist.stopped_at = i
            return True
        return False


def _batch(plan: TrainPlan, i: int, x: np.ndarray, t: np.ndarray, dtype: np.dtype) -> tuple:
    """(x, t, dropout mask or None) of iteration i; take() gathers rows ~15% faster than x[rows]."""
    rows = plan.batch(i)
    if isinstance(rows, slice):
        xb, tb = x[rows], t[rows]
    else:
        xb, tb = x.take(rows, axis=0), t[rows]
    mask = plan.dropout_mask(i, len(tb))
    return xb, tb, None if mask is None else mask.astype(dtype)


def _run_eager(
    net: TwoLayerNet,
    plan: TrainPlan,
    opt: Optimizer,
    data: tuple[np.ndarray, ...],
    best: _Best | None,
    hist: TrainHistory,
    bar: Any,
) -> None:
    """The reference loop: gradient, update (in place), loss, accuracy, one after another."""
    xtr, ttr, xte, tte = data
    params = net.params
    for i in range(plan.iters_num):
        xb, tb, mask = _batch(plan, i, xtr, ttr, net.dtype)
        grads = net._gradient(xb, tb, True, mask)
        opt._apply(params, grads)
        hist.train_loss_list.append(net._loss(xb, tb, True, mask))
        bar.update(1)
        if hist.meta.get("allow_nonfinite") and nonfinite_stop(
            hist, i, hist.train_loss_list[-1], params
        ):
            break
        if plan.is_eval_iter(i):
            hist.eval_iters.append(i)
            hist.train_acc_list.append(_correct(net, xtr, ttr) / len(ttr))
            hist.test_acc_list.append(_correct(net, xte, tte) / len(tte))
            if best is not None:
                acc = _correct(net, best.x, best.t) / len(best.t)
                if best.stop(hist, i, acc, lambda: {k: v.copy() for k, v in params.items()}):
                    break


#: Multiply-adds per product of a step up to which ``mode="fused"`` overlaps: the loss and the
#: accuracy passes run on a second thread while the main thread goes on with the next steps, and
#: BLAS runs on one thread in each (two threads on two cores instead of BLAS's two threads
#: inside each product).  A step has three products, the overlap takes one of them (and the
#: accuracy passes) off the main thread, so it wins while two BLAS threads speed one product up
#: less than 1.5x (measured: benchmarks/RESULTS.md).
_OVERLAP_MAX_MACS = 1 << 24
#: Bytes of work (batch, parameters, mask) the main thread may queue ahead of the second one;
#: an accuracy pass lets it run a few hundred steps ahead (~0.5 MB each in the book's run).
_OVERLAP_QUEUE_BYTES = 256 << 20


def _overlaps(plan: TrainPlan, net: TwoLayerNet) -> bool:
    """Whether the fused loop overlaps (small products and a second core to run on)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    macs = plan.batch_size * plan.input_size * plan.hidden_size
    return cores >= 2 and macs <= _OVERLAP_MAX_MACS


class _Now:
    """A finished future: what the serial fused loop has in place of ``executor.submit``."""

    __slots__ = ("value",)

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self.value = fn(*args)

    def result(self) -> Any:
        return self.value


def _run_fused(
    net: TwoLayerNet,
    plan: TrainPlan,
    lr: float,
    data: tuple[np.ndarray, ...],
    best: _Best | None,
    hist: TrainHistory,
    bar: Any,
    overlap: bool,
) -> None:
    """The fused loop.  Each step returns new parameter arrays and never writes the old ones,
    so a step's loss and accuracies can be computed from its arrays on another thread while
    the next steps run (``overlap``).  The network's own arrays are written once, at the end."""
    xtr, ttr, xte, tte = data
    params = dict(net.params)
    pool = ThreadPoolExecutor(1, thread_name_prefix="nnparity-fused") if overlap else None
    submit = pool.submit if pool is not None else _Now
    losses: list[Any] = []
    points: list[tuple[Any, Any]] = []
    # Each queued loss holds its batch and its parameters.
    held = plan.batch_size * xtr[:1].nbytes + sum(v.nbytes for v in params.values())
    limit = max(16, _OVERLAP_QUEUE_BYTES // held)
    try:
        with threadpool_limits(1, user_api="blas") if overlap else contextlib.nullcontext():
            for i in range(plan.iters_num):
                xb, tb, mask = _batch(plan, i, xtr, ttr, net.dtype)
                target = _target_positions(tb)
                params = _fused_sgd_step(net, params, xb, target, mask, lr)
                losses.append(submit(_fused_loss, net, params, xb, target, mask))
                if pool is not None and len(losses) > limit:
                    losses[-limit - 1].result()
                bar.update(1)
                if plan.is_eval_iter(i):
                    hist.eval_iters.append(i)
                    points.append(
                        (
                            submit(_correct_fused, net, params, xtr, ttr),
                            submit(_correct_fused, net, params, xte, tte),
                        )
                    )
                    if best is not None:
                        acc = _correct_fused(net, params, best.x, best.t) / len(best.t)
                        if best.stop(hist, i, acc, lambda p=params: p):
                            break
            hist.train_loss_list = [f.result() for f in losses]
            hist.train_acc_list = [a.result() / len(ttr) for a, _ in points]
            hist.test_acc_list = [b.result() / len(tte) for _, b in points]
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        for k in PARAM_NAMES:
            net.params[k][...] = params[k]


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
