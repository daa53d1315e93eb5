"""Mini-batch training exactly as the chapter runs it (§4.5.2–4.5.3), on tensors, replaying a plan.

The loop is ``reference_numpy.training.train`` step for step: for i in range(iters_num) take the
plan's batch i; compute the gradient by hand-written backprop (``network._gradient``); update
the parameters (``optimizer._apply``); record the loss on that batch *after* the update; when
``plan.is_eval_iter(i)``, record accuracy on the full train and test sets.  Batch indices and
dropout masks come from the plan (``TrainPlan`` is NumPy, so both engines read the very same
numbers), which is what makes a float64 torch run equal to the NumPy run to rounding.

What is different is only where the data lives and when the host looks at it:

* the whole data set is on the network's device, validated once; each iteration gathers its
  batch there by an index tensor (the plan's indices are copied to the device once);
* per-iteration losses go into a preallocated device tensor (``losses[i] = loss``) and come to
  the host once, at the end; at evaluation points only the correct-prediction counts are
  computed (and read at the end, or at once when early stopping needs them), so an iteration
  never waits for the host;
* ``mode="graph"`` (CUDA only) captures one whole training step (gather, forward, backward,
  update, loss write, step counter) in a ``torch.cuda.CUDAGraph`` and replays it, removing the
  per-kernel launch cost that dominates a small net's step.  The captured step runs the same
  kernels on the same data as the eager step, so the numbers are the same.
* ``mode="fused"`` (the default on the CPU for SGD without weight decay) runs the same SGD step
  in about 20 fused ATen kernels instead of the eager mirror's ~90 small ops: the bias inside
  the product (``addmm``), ``torch.sigmoid`` and its backward, ``softmax`` and
  ``cross_entropy``, and one ``sub_(g, alpha=lr)`` per parameter.  Same maths, other kernels,
  so other rounding: it agrees with the eager path to rounding in float64 and within float32
  noise in float32 (bounds measured in ``tests/test_torch_training.py``).  The eager mirror
  pays torch's dispatch cost for each of its small ops, which is what the fused step removes
  (measured: benchmarks/RESULTS.md).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from reference_numpy.training import _EVAL_BLOCK, EarlyStopping, TrainHistory, _Best, _fusable
from reference_numpy.training import _labels as _np_labels
from reference_numpy.training import holdout_split as np_holdout_split

from ._safeio import param_arrays
from ._train_checks import check_train_inputs, nonfinite_stop
from ._validate import atomic_write, check_choice, check_targets, check_tensor
from .functions import CEE_DELTA
from .networks import PARAM_NAMES, TwoLayerNet
from .optimizers import SGD, AdaGrad, Momentum, Nesterov, Optimizer, RMSprop
from .plan import TrainPlan, plan_tensors

__all__ = [
    "TrainHistory",
    "EarlyStopping",
    "MODES",
    "GRAPH_OPTIMIZERS",
    "train",
    "holdout_split",
    "save_params",
    "load_params",
]

Tensor = torch.Tensor

#: "eager": a plain Python loop of tensor ops mirroring reference_numpy (the reference path);
#: "graph": one eager training step captured as a CUDA graph and replayed (CUDA only);
#: "fused": the SGD step in fused ATen kernels (plain SGD, no weight decay; any device);
#: "auto": "graph" on CUDA when the optimizer can be captured, "fused" on the CPU when the run
#: is plain SGD without weight decay, else "eager".
MODES = ("auto", "eager", "graph", "fused")

#: Optimizers whose ``_apply`` is capturable: their state tensors exist after the first step
#: and every Python-side scalar (lr, momentum, decay) is constant.  Adam is not here: its
#: bias-corrected lr_t = lr·√(1-β2ᵗ)/(1-β1ᵗ) is a Python float that changes every step, which
#: a graph would freeze at its capture-time value.  A subclass may opt in by setting
#: ``capturable = True`` (its ``_apply`` must then do no host work per step).
GRAPH_OPTIMIZERS: tuple[type[Optimizer], ...] = (SGD, Momentum, Nesterov, AdaGrad, RMSprop)

#: Bytes of dropout masks (bool) kept on the device at once; refilled every k iterations.
_MASK_BUDGET = 64 << 20
_WARMUP_STEPS = 3


# --------------------------------------------------------------------------------- validation


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
    n = xt.shape[0]
    if isinstance(t, Tensor):
        arr, is_labels = check_targets((n, k), t, f"t_{name}", device=dev, dtype=dt)
        if not is_labels:
            ok = bool(torch.all((arr == 0) | (arr == 1))) and bool(torch.all(arr.sum(1) == 1))
            if not ok:
                raise ValueError(f"t_{name}: expected labels or one-hot rows, got soft targets")
            arr = torch.argmax(arr, dim=1)  # exact for one-hot rows
        return xt, arr
    if isinstance(t, np.ndarray):
        return xt, torch.from_numpy(_np_labels(t, n, k, f"t_{name}")).to(dev)
    raise TypeError(
        f"t_{name}: expected labels as a torch.Tensor on {dev} (or a NumPy array), "
        f"got {type(t).__name__}"
    )


def _correct(net: TwoLayerNet, x: Tensor, labels: Tensor) -> Tensor:
    """Number of rows whose logit argmax equals the label, as a 0-d device tensor (no sync).

    torch.argmax, like np.argmax, returns the first of tied maxima."""
    _, _, h = net._hidden(x, None)
    a2 = h @ net.W2 + net.b2
    return torch.count_nonzero(torch.argmax(a2, dim=1) == labels)


def _correct_fused(net: TwoLayerNet, x: Tensor, labels: Tensor) -> Tensor:
    """``_correct`` in fused kernels, in the NumPy reference's cache-sized row blocks on the CPU
    (one block on CUDA)."""
    block = len(x) if net.device.type == "cuda" else _EVAL_BLOCK
    scale = (1 - net.dropout_ratio) if net.dropout_ratio else None
    counts = []
    for s in range(0, len(x), block):
        _, _, a2 = _forward_fused(net, x[s : s + block], scale)
        counts.append(torch.count_nonzero(torch.argmax(a2, dim=1) == labels[s : s + block]))
    return torch.stack(counts).sum()


def _forward_fused(
    net: TwoLayerNet, x: Tensor, scale: Tensor | float | None
) -> tuple[Tensor, Tensor, Tensor]:
    """(z1, h, a2): z1 = act(x W1 + b1), h = z1 ⊙ scale (a dropout mask, the test-time
    1 - ratio, or nothing), a2 = h W2 + b2, with the bias inside each product (addmm)."""
    a1 = torch.addmm(net.b1, x, net.W1)
    z1 = torch.sigmoid(a1) if net.activation == "sigmoid" else torch.relu(a1)
    h = z1 if scale is None else z1 * scale
    return z1, h, torch.addmm(net.b2, h, net.W2)


def _fused_sgd_step(
    net: TwoLayerNet, xb: Tensor, tb: Tensor, onehot: Tensor, mask: Tensor | None, lr: float
) -> Tensor:
    """One SGD step in fused kernels; returns the loss on the batch after the update (0-d).

    The maths of ``TwoLayerNet._gradient`` then ``SGD._apply`` then ``TwoLayerNet._loss``:
    dy = (softmax(a2) - onehot(t))/N, dh = dy W2ᵀ (⊙ mask), da1 = dh ⊙ act'(a1),
    W2 -= lr·hᵀdy, b2 -= lr·Σdy, W1 -= lr·xᵀda1, b1 -= lr·Σda1.  ``onehot`` holds the batch's
    targets as one-hot rows in the network's dtype (subtracting 0 or 1 is exact, so this is
    dy[n, t_n] -= 1, in one kernel instead of an indexed write).
    """
    W1, b1, W2, b2 = net.W1, net.b1, net.W2, net.b2
    z1, h, a2 = _forward_fused(net, xb, mask)
    dy = torch.softmax(a2, dim=1).sub_(onehot).div_(xb.shape[0])
    dh = torch.mm(dy, W2.t())  # before W2 moves
    if mask is not None:
        dh.mul_(mask)
    if net.activation == "sigmoid":
        da1 = torch.ops.aten.sigmoid_backward(dh, z1)  # dh·(1 - z1)·z1
    else:
        da1 = torch.ops.aten.threshold_backward(dh, z1, 0)  # dh where z1 > 0 (i.e. a1 > 0)
    # The products are formed before they are subtracted.  Folding the update into the product
    # (W.addmm_(hᵀ, dy, alpha=-lr)) saves a kernel, but for small shapes ATen's gemm adds each
    # of the N terms lr·h_n·dy_n straight into W, rounding at W's scale every time: in float32
    # that made W2 drift from the float64 reference about 13x faster than the eager path does
    # (measured over the first 50 steps of the book run: 3.1e-6 against 2.3e-7 relative).
    W2.sub_(torch.mm(h.t(), dy), alpha=lr)
    b2.sub_(dy.sum(dim=0), alpha=lr)
    W1.sub_(torch.mm(xb.t(), da1), alpha=lr)
    b1.sub_(da1.sum(dim=0), alpha=lr)
    _, _, a2 = _forward_fused(net, xb, mask)
    if net.loss_name == "softmax_cross_entropy":
        return torch.nn.functional.cross_entropy(a2, tb)
    return torch.nn.functional.nll_loss(torch.log(torch.softmax(a2, dim=1) + CEE_DELTA), tb)


def _resolve_mode(
    mode: str, device: torch.device, opt: Optimizer, weight_decay: float = 0.0
) -> str:
    check_choice(mode, "mode", MODES)
    capturable = type(opt) in GRAPH_OPTIMIZERS or getattr(opt, "capturable", False) is True
    if mode == "auto":
        if device.type == "cuda":
            return "graph" if capturable else "eager"
        return "fused" if _fusable(opt, weight_decay, SGD) is None else "eager"
    if mode == "fused":
        why = _fusable(opt, weight_decay, SGD)
        if why is not None:
            raise ValueError(f"mode: 'fused' cannot run this configuration: {why}; use 'eager'")
    if mode == "graph":
        if device.type != "cuda":
            raise ValueError(
                f"mode: 'graph' captures the step as a CUDA graph and needs a CUDA network, got "
                f"device {device}; use mode='eager' (or 'auto', which picks eager here)"
            )
        if not capturable:
            raise ValueError(
                f"mode: 'graph' cannot capture {type(opt).__name__}: its step uses a Python "
                f"value that changes every iteration (Adam's bias-corrected lr_t), which a CUDA "
                f"graph would freeze; use mode='eager' (or 'auto', which picks eager for it). "
                f"Capturable: {', '.join(c.__name__ for c in GRAPH_OPTIMIZERS)}"
            )
    return mode


# --------------------------------------------------------------------------------- dropout


class _MaskFeed:
    """The plan's dropout masks on the device, ``k`` iterations at a time (bool).

    Holding every mask at once can be large (10 000 × 100 × 50 is 50 MB as bool, 400 MB as
    float64), so a window of k iterations is copied at a time; a step reads window row
    ``i % k``, which a captured graph can compute on the device from its step counter.  On CUDA
    the window goes through pinned memory with a non-blocking copy, ordered on the stream
    before the steps that read it.
    """

    def __init__(self, plan: TrainPlan, rows: int, device: torch.device) -> None:
        self.plan, self.rows = plan, rows
        per_iter = rows * plan.hidden_size
        self.k = max(1, min(plan.iters_num, _MASK_BUDGET // max(per_iter, 1)))
        self.buf = torch.empty((self.k, rows, plan.hidden_size), dtype=torch.bool, device=device)
        self._cuda = device.type == "cuda"

    def refill(self, start: int) -> None:
        stop = min(start + self.k, self.plan.iters_num)
        host = np.empty((stop - start, self.rows, self.plan.hidden_size), dtype=bool)
        for j, i in enumerate(range(start, stop)):
            host[j] = self.plan.dropout_mask(i, self.rows)
        src = torch.from_numpy(host)
        if self._cuda:
            self.buf[: stop - start].copy_(src.pin_memory(), non_blocking=True)
        else:
            self.buf[: stop - start].copy_(src)


# --------------------------------------------------------------------------------- graph mode


def _tensor_state(opt: Optimizer) -> dict[str, dict[str, Tensor]]:
    return {
        name: value
        for name, value in vars(opt).items()
        if isinstance(value, dict) and all(isinstance(v, Tensor) for v in value.values())
    }


class _Snapshot:
    """Parameters and optimizer state before the graph's warm-up steps, to undo them.

    Warm-up runs real steps (they create the optimizer's state tensors, which the graph must
    capture, and initialise cuBLAS) and so changes the parameters; restoring *into the same
    tensors* keeps the addresses the graph captured.  State created during warm-up starts at
    zero, as every optimizer here creates it (``zeros_like``)."""

    def __init__(self, params: Mapping[str, Tensor], opt: Optimizer) -> None:
        self.params = {k: p.detach().clone() for k, p in params.items()}
        self.state = {
            name: {k: v.clone() for k, v in d.items()} for name, d in _tensor_state(opt).items()
        }
        self.scalars = {k: v for k, v in vars(opt).items() if not isinstance(v, (dict, Tensor))}

    def restore(self, params: Mapping[str, Tensor], opt: Optimizer) -> None:
        for k, p in params.items():
            p.copy_(self.params[k])
        for name, d in _tensor_state(opt).items():
            before = self.state.get(name, {})
            for k, v in d.items():
                if k in before:
                    v.copy_(before[k])
                else:
                    v.zero_()
        for k, v in self.scalars.items():
            setattr(opt, k, v)


def _capture(step: Callable[[], None], warmup: int) -> torch.cuda.CUDAGraph:
    """Warm ``step`` up on a side stream (as torch's CUDA-graph notes ask), then capture it."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmup):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph


# --------------------------------------------------------------------------------- train


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
    """
    check_train_inputs(
        network, plan, optimizer, early_stopping,
        {"x_train": x_train, "x_test": x_test, "x_val": x_val},
        allow_nonfinite=allow_nonfinite, mode=mode, classes=_CLASSES,
    )  # fmt: skip
    mode = "eager" if allow_nonfinite else mode
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
    run_mode = _resolve_mode(mode, network.device, opt, network.weight_decay_lambda)
    xtr, ttr = _data(network, x_train, t_train, "train")
    if len(xtr) != plan.train_size:
        raise ValueError(
            f"x_train: the plan expects {plan.train_size} training rows, got {len(xtr)}"
        )
    xte, tte = _data(network, x_test, t_test, "test")
    val = None
    if early_stopping is not None:
        if x_val is None or t_val is None:
            raise ValueError("x_val, t_val: early_stopping needs held-out data, got None")
        val = _data(network, x_val, t_val, "val")

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
            "num_threads": torch.get_num_threads(),
        }
    )
    if allow_nonfinite:
        hist.meta["allow_nonfinite"] = True
    show = sys.stderr.isatty() if progress is None else progress
    start = time.perf_counter()
    with torch.no_grad():
        _Loop(network, opt, plan, xtr, ttr, xte, tte, val, early_stopping, hist).run(run_mode, show)
    hist.seconds = time.perf_counter() - start
    return hist


#: The classes train accepts, with the names a user imports them by (for check_train_inputs).
_CLASSES = {
    "network": (TwoLayerNet, "reference_torch.TwoLayerNet"),
    "plan": (TrainPlan, "reference_torch.TrainPlan"),
    "optimizer": (Optimizer, "a reference_torch.Optimizer"),
    "early_stopping": (EarlyStopping, "reference_torch.EarlyStopping"),
}


class _Loop:
    """One training run's device buffers and the two ways to step through it."""

    def __init__(
        self,
        net: TwoLayerNet,
        opt: Optimizer,
        plan: TrainPlan,
        xtr: Tensor,
        ttr: Tensor,
        xte: Tensor,
        tte: Tensor,
        val: tuple[Tensor, Tensor] | None,
        early_stopping: EarlyStopping | None,
        hist: TrainHistory,
    ) -> None:
        self.net, self.opt, self.plan, self.hist = net, opt, plan, hist
        self.xtr, self.ttr, self.xte, self.tte = xtr, ttr, xte, tte
        has_val = early_stopping is not None and val is not None
        self.best = _Best(early_stopping, *val) if has_val else None
        dev, dt = net.device, net.dtype
        self.params = net.params
        self.idx = plan_tensors(plan, dev)  # (iters, batch) int64, None for full batch
        rows = plan.train_size if self.idx is None else plan.batch_size
        self.masks = _MaskFeed(plan, rows, dev) if plan.dropout_ratio else None
        self.losses = torch.empty(plan.iters_num, dtype=dt, device=dev)
        self.counts: list[Tensor] = []  # train/test correct counts per evaluation, read at end
        self.correct = _correct
        self.done = 0

    # ------------------------------------------------------------------ shared

    def _mask(self, i: int) -> Tensor | None:
        if self.masks is None:
            return None
        if i % self.masks.k == 0:
            self.masks.refill(i)
        return self.masks.buf[i % self.masks.k].to(self.net.dtype)

    def _evaluate(self, i: int) -> bool:
        """Record accuracies after iteration i; True when early stopping says stop."""
        net, hist = self.net, self.hist
        hist.eval_iters.append(i)
        correct = self.correct
        self.counts.append(
            torch.stack([correct(net, self.xtr, self.ttr), correct(net, self.xte, self.tte)])
        )
        best = self.best
        if best is None:
            return False
        acc = int(correct(net, best.x, best.t)) / len(best.t)  # the one host read it needs
        params = self.params
        return best.stop(hist, i, acc, lambda: {k: v.detach().clone() for k, v in params.items()})

    def _finish(self) -> None:
        hist = self.hist
        hist.train_loss_list = self.losses[: self.done].tolist()  # the one bulk host copy
        if self.counts:
            counts = torch.stack(self.counts).tolist()
            hist.train_acc_list = [c[0] / len(self.ttr) for c in counts]
            hist.test_acc_list = [c[1] / len(self.tte) for c in counts]
        if self.best is not None and self.best.params is not None:
            for k in PARAM_NAMES:
                self.params[k].copy_(self.best.params[k])

    def run(self, mode: str, show: bool) -> None:
        bar = tqdm(
            total=self.plan.iters_num, disable=not show, desc="train", unit="it", mininterval=0.5
        )
        try:
            if mode == "graph":
                self._run_graph(bar)
            elif mode == "fused":
                self.correct = _correct_fused
                self._run_fused(bar)
            else:
                self._run_eager(bar)
        finally:
            bar.close()
        self._finish()

    # ------------------------------------------------------------------ eager

    def _run_eager(self, bar: Any) -> None:
        net, opt, params, plan = self.net, self.opt, self.params, self.plan
        xtr, ttr, idx, losses = self.xtr, self.ttr, self.idx, self.losses
        for i in range(plan.iters_num):
            if idx is None:
                xb, tb = xtr, ttr
            else:
                rows = idx[i]
                xb, tb = xtr.index_select(0, rows), ttr.index_select(0, rows)
            mask = self._mask(i)
            grads = net._gradient(xb, tb, True, mask)
            opt._apply(params, grads)
            losses[i] = net._loss(xb, tb, True, mask)
            self.done = i + 1
            bar.update(1)
            if self.hist.meta.get("allow_nonfinite") and nonfinite_stop(
                self.hist, i, float(losses[i]), params
            ):
                break
            if plan.is_eval_iter(i) and self._evaluate(i):
                break

    # ------------------------------------------------------------------ fused

    def _run_fused(self, bar: Any) -> None:
        net, plan, lr = self.net, self.plan, self.opt.lr
        xtr, ttr, idx = self.xtr, self.ttr, self.idx
        oh = torch.nn.functional.one_hot(ttr, net.sizes[2]).to(net.dtype)
        losses: list[Tensor] = []  # 0-d device tensors, stacked once at the end
        try:
            for i in range(plan.iters_num):
                if idx is None:
                    xb, tb, ob = xtr, ttr, oh
                else:
                    rows = idx[i]
                    xb, tb = xtr.index_select(0, rows), ttr.index_select(0, rows)
                    ob = oh.index_select(0, rows)
                losses.append(_fused_sgd_step(net, xb, tb, ob, self._mask(i), lr))
                self.done = i + 1
                bar.update(1)
                if plan.is_eval_iter(i) and self._evaluate(i):
                    break
        finally:
            if losses:
                self.losses[: len(losses)] = torch.stack(losses)

    # ------------------------------------------------------------------ graph

    def _graph_step(self) -> Callable[[], None]:
        """The training step with the iteration number as a device tensor, so every replay of
        one captured graph reads its own batch, mask and loss slot."""
        net, opt, params = self.net, self.opt, self.params
        xtr, ttr, idx, losses, masks = self.xtr, self.ttr, self.idx, self.losses, self.masks
        self.step = step = torch.zeros(1, dtype=torch.int64, device=net.device)
        slots = torch.arange(len(losses), device=net.device)

        def one_step() -> None:
            if idx is None:
                xb, tb = xtr, ttr
            else:
                rows = idx.index_select(0, step).reshape(-1)
                xb, tb = xtr.index_select(0, rows), ttr.index_select(0, rows)
            mask = None
            if masks is not None:
                j = torch.remainder(step, masks.k)
                mask = masks.buf.index_select(0, j)[0].to(net.dtype)
            grads = net._gradient(xb, tb, True, mask)
            opt._apply(params, grads)
            loss = net._loss(xb, tb, True, mask)
            # losses[step] = loss without a host read of step (elementwise select: exact).
            torch.where(slots == step, loss, losses, out=losses)
            step.add_(1)

        return one_step

    def _run_graph(self, bar: Any) -> None:
        plan = self.plan
        one_step = self._graph_step()
        if self.masks is not None:
            self.masks.refill(0)
        snap = _Snapshot(self.params, self.opt)
        # Warm-up steps read the plan's first rows (the counter must stay below iters_num:
        # an out-of-range index on the device would be a device-side assert).
        graph = _capture(one_step, min(_WARMUP_STEPS, plan.iters_num))
        snap.restore(self.params, self.opt)
        self.step.zero_()
        for i in range(plan.iters_num):
            if self.masks is not None and i % self.masks.k == 0 and i:
                self.masks.refill(i)
            graph.replay()
            self.done = i + 1
            bar.update(1)
            if plan.is_eval_iter(i) and self._evaluate(i):
                break


# --------------------------------------------------------------------------------- helpers


def holdout_split(
    x: Tensor | np.ndarray, t: Tensor | np.ndarray, n_val: int, seed: int = 0
) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """Split off ``n_val`` random rows as held-out data: ((x_rest, t_rest), (x_val, t_val)).

    The permutation is ``reference_numpy.training.holdout_split``'s (NumPy ``default_rng(seed)``),
    so both engines hold out the same rows; tensors are indexed on their own device.
    """
    # NumPy's split of the row numbers: the same checks, the same rows in both engines.
    (rest, _), (val, _) = np_holdout_split(np.arange(len(x)), np.arange(len(t)), n_val, seed)

    def take(a: Tensor | np.ndarray, rows: np.ndarray) -> Any:
        if isinstance(a, Tensor):
            return a.index_select(0, torch.from_numpy(rows).to(a.device))
        return a[rows]

    return (take(x, rest), take(t, rest)), (take(x, val), take(t, val))


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
