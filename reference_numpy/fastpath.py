"""The fast path of ``train``: plain SGD in fused kernels, and the overlap that runs its loss
and accuracy passes on a second thread.  Mirrors ``reference_torch.fastpath``.

``mode="fused"`` (the default for SGD without weight decay) runs the SGD step of the eager
loop written for speed: in-place element-wise work, the book's ``1/(1 + exp(-a))`` sigmoid
(four passes instead of six), and the logits held transposed, one column per sample, because
NumPy reduces a (10, N) array along its rows several times faster than a (N, 10) array along
its short columns (3 µs against 8-11 µs for N = 100).  Same maths, other rounding: it agrees
with the eager path to rounding in float64 and within float32 noise in float32 (bounds
measured in ``tests/test_numpy_training.py``).  This is the float32 fast mode of the book's run.

Contracts shared with reference_torch (same names, same arguments):

* ``fused_sgd_step(net, params, xb, target, mask, lr)`` returns the parameters after the step.
  Callers use what it returns and assume nothing about ``params``: NumPy returns new arrays and
  never writes ``params`` (the overlap's second thread is still reading older sets), torch
  updates ``params`` in place and returns them.
* ``forward_fused`` returns logits a2 of shape (N, K); here a2 is the transpose view of a
  C-contiguous (K, N) array, so ``a2.T`` is the contiguous one-column-per-sample block.
* Scalars are the engine's own: ``fused_loss`` a float, ``count_correct_fused`` an int here
  (0-d device tensors in torch, read once at the end of the run).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
from threadpoolctl import threadpool_limits

from ._validate import check_choice
from .functions import CEE_DELTA, _sigmoid_inplace
from .networks import PARAM_NAMES, TwoLayerNet
from .optimizers import SGD, Optimizer
from .plan import TrainPlan
from .runrules import EVAL_BLOCK, fusable

if TYPE_CHECKING:
    from .training import TrainRun

__all__ = [
    "MODES",
    "resolve_mode",
    "fused_target",
    "forward_fused",
    "fused_sgd_step",
    "fused_loss",
    "count_correct_fused",
    "run_fused",
    "overlaps",
]

#: "eager": the reference path (``gradient_unchecked``, ``apply_unchecked``, ``loss_unchecked``;
#: any optimizer); "fused": the SGD step written for speed (plain SGD, no weight decay);
#: "auto": "fused" when the run is plain SGD without weight decay, else "eager".
#: reference_torch has the same three, plus "graph" (CUDA graphs, which NumPy has no use for).
MODES = ("auto", "eager", "fused")


def resolve_mode(mode: str, opt: Optimizer, weight_decay: float = 0.0) -> str:
    """The mode ``train`` runs for ``mode`` (see :data:`MODES`); a ValueError that says why
    when "fused" cannot run this configuration."""
    check_choice(mode, "mode", MODES)
    why = fusable(opt, weight_decay, SGD)
    if mode == "auto":
        return "fused" if why is None else "eager"
    if mode == "fused" and why is not None:
        raise ValueError(f"mode: 'fused' cannot run this configuration: {why}; use 'eager'")
    return mode


def fused_target(net: TwoLayerNet, tb: np.ndarray) -> np.ndarray:
    """The batch's labels in the form the fused kernels read: the flat position t_n·N + n of
    each sample's target in the (K, N) logits (NumPy needs nothing from ``net`` for it)."""
    n = len(tb)
    return tb * n + np.arange(n)


def forward_fused(
    net: TwoLayerNet,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    scale: np.ndarray | np.floating | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z1, h, a2): z1 = act(x W1 + b1), h = z1 ⊙ scale (a dropout mask, the test-time
    1 - ratio, or nothing), a2 = h W2 + b2, computed as a2ᵀ = W2ᵀ hᵀ + b2 (see the module
    docstring: a2.T is C-contiguous)."""
    a1 = x @ params["W1"]
    a1 += params["b1"]
    if net.activation == "sigmoid":
        z1 = _sigmoid_inplace(a1)
    else:
        z1 = np.maximum(a1, a1.dtype.type(0), out=a1)
    h = z1 if scale is None else z1 * scale
    a2t = np.matmul(params["W2"].T, h.T)
    a2t += params["b2"][:, None]
    return z1, h, a2t.T


def fused_sgd_step(
    net: TwoLayerNet,
    params: dict[str, np.ndarray],
    xb: np.ndarray,
    target: np.ndarray,
    mask: np.ndarray | None,
    lr: float,
) -> dict[str, np.ndarray]:
    """One SGD step written for speed; returns the updated parameters, as new arrays.

    The maths of ``TwoLayerNet.gradient_unchecked`` then ``SGD.apply_unchecked``:
    dy = (softmax(a2) - onehot(t))/N, dh = dy W2ᵀ (⊙ mask), da1 = dh ⊙ act'(a1),
    W1 - lr·xᵀda1, b1 - lr·Σda1, W2 - lr·hᵀdy, b2 - lr·Σdy, on (K, N) logits.  ``params`` is
    only read, so a set of parameters stays valid while another thread computes its loss or
    accuracy.  ``target``: the batch's ``fused_target``.
    """
    n = xb.shape[0]
    dt = net.dtype.type
    lr = dt(lr)
    z1, h, a2 = forward_fused(net, params, xb, mask)
    y = a2.T
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
    # SGD.apply_unchecked's does.
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


def fused_loss(
    net: TwoLayerNet,
    params: dict[str, np.ndarray],
    xb: np.ndarray,
    target: np.ndarray,
    mask: np.ndarray | None,
) -> float:
    """``TwoLayerNet.loss_unchecked`` through ``forward_fused``: the mean cross-entropy on the
    batch (``target``: the batch's ``fused_target``), a float."""
    n = xb.shape[0]
    _, _, a2 = forward_fused(net, params, xb, mask)
    y = a2.T
    y -= y.max(axis=0)
    if net.loss_name == "softmax_cross_entropy":
        # -log softmax(a)_t = log Σ_k exp(a_k - m) - (a_t - m): exact where softmax underflows.
        total = np.log(np.exp(y).sum(axis=0)).sum() - y.ravel()[target].sum()
    else:
        np.exp(y, out=y)
        y /= y.sum(axis=0)
        total = -np.log(y.ravel()[target] + CEE_DELTA).sum()
    return float(total / net.dtype.type(n))


def count_correct_fused(
    net: TwoLayerNet, params: dict[str, np.ndarray], x: np.ndarray, labels: np.ndarray
) -> int:
    """``TwoLayerNet.count_correct_unchecked`` through ``forward_fused`` with ``params``, in the
    same ``EVAL_BLOCK``-row blocks; an int."""
    scale = net.dtype.type(1 - net.dropout_ratio) if net.dropout_ratio else None
    correct = 0
    for s in range(0, len(x), EVAL_BLOCK):
        _, _, a2 = forward_fused(net, params, x[s : s + EVAL_BLOCK], scale)
        correct += np.count_nonzero(np.argmax(a2.T, axis=0) == labels[s : s + EVAL_BLOCK])
    return correct


#: Multiply-adds per product of a step up to which ``mode="fused"`` overlaps: the loss and the
#: accuracy passes run on a second thread while the main thread goes on with the next steps, and
#: BLAS runs on one thread in each (two threads on two cores instead of BLAS's two threads
#: inside each product).  A step has three products, the overlap takes one of them (and the
#: accuracy passes) off the main thread, so it wins while two BLAS threads speed one product up
#: less than 1.5x.  Measured on the 2-core CI machine (OpenBLAS 0.3.31, float32): 1.26x at
#: 100x784x50 (the book's run), 1.39x at 200x784x50, 1.46x at 500x784x50, 1.75x at 1000x784x50.
#: The book's float32 run, 5 interleaved pairs: 4.53 s overlapped against 4.94 s serial (medians).
OVERLAP_MAX_MACS = 1 << 24
#: Bytes of work (batch, parameters, mask) the main thread may queue ahead of the second one;
#: an accuracy pass lets it run a few hundred steps ahead (~0.5 MB each in the book's run).
OVERLAP_QUEUE_BYTES = 256 << 20


def overlaps(plan: TrainPlan, net: TwoLayerNet) -> bool:
    """Whether the fused loop overlaps (small products and a second core to run on)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    macs = plan.batch_size * plan.input_size * plan.hidden_size
    return cores >= 2 and macs <= OVERLAP_MAX_MACS


class _Now:
    """A finished future: what the serial fused loop has in place of ``executor.submit``."""

    __slots__ = ("value",)

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self.value = fn(*args)

    def result(self) -> Any:
        return self.value


def run_fused(run: TrainRun, lr: float) -> None:
    """The fused loop.  Each step returns new parameter arrays and never writes the old ones,
    so a step's loss and accuracies can be computed from its arrays on another thread while
    the next steps run (``overlaps``; recorded in ``history.meta["overlap"]``).  The network's
    own arrays are written once, at the end."""
    net, plan, best, hist = run.net, run.plan, run.best, run.hist
    overlap = overlaps(plan, net)
    hist.meta["overlap"] = overlap
    params = dict(net.params)
    pool = ThreadPoolExecutor(1, thread_name_prefix="nnparity-fused") if overlap else None
    submit = pool.submit if pool is not None else _Now
    losses: list[Any] = []
    points: list[tuple[Any, Any]] = []
    # Each queued loss holds its batch and its parameters.
    held = plan.batch_size * run.xtr[:1].nbytes + sum(v.nbytes for v in params.values())
    limit = max(16, OVERLAP_QUEUE_BYTES // held)
    try:
        with threadpool_limits(1, user_api="blas") if overlap else contextlib.nullcontext():
            for i in range(plan.iters_num):
                xb, tb, mask = run.batch(i)
                target = fused_target(net, tb)
                params = fused_sgd_step(net, params, xb, target, mask, lr)
                losses.append(submit(fused_loss, net, params, xb, target, mask))
                if pool is not None and len(losses) > limit:
                    losses[-limit - 1].result()
                run.bar.update(1)
                if plan.is_eval_iter(i):
                    hist.eval_iters.append(i)
                    points.append(
                        (
                            submit(count_correct_fused, net, params, run.xtr, run.ttr),
                            submit(count_correct_fused, net, params, run.xte, run.tte),
                        )
                    )
                    if run.log is not None:  # the line waits for the counts
                        run.log_eval(*(c.result() for c in points[-1]))
                    if best is not None:
                        acc = int(count_correct_fused(net, params, best.x, best.t)) / len(best.t)
                        if best.stop(hist, i, acc, lambda p=params: p):
                            break
            run.finish([f.result() for f in losses], [(a.result(), b.result()) for a, b in points])
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        for k in PARAM_NAMES:
            net.params[k][...] = params[k]
