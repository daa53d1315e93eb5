"""The fast paths of ``train`` on tensors: plain SGD in fused kernels, and the eager step
captured as a CUDA graph.  Mirrors ``reference_numpy.fastpath``.

* ``mode="fused"`` (the default on the CPU for SGD without weight decay) runs the SGD step of
  the eager loop in about 20 fused ATen kernels instead of the eager mirror's ~90 small ops:
  the bias inside the product (``addmm``), ``torch.sigmoid`` and its backward, ``softmax`` and
  ``cross_entropy``, and one ``sub_(g, alpha=lr)`` per parameter.  Same maths, other kernels,
  so other rounding: it agrees with the eager path to rounding in float64 and within float32
  noise in float32 (bounds measured in ``tests/test_torch_training.py``).  On a 2-core CPU
  the eager mirror pays a few µs of dispatch for each of its small ops, which is what the
  fused step removes.
* ``mode="graph"`` (CUDA only) captures one whole eager training step (gather, forward,
  backward, update, loss write, step counter) in a ``torch.cuda.CUDAGraph`` and replays it,
  removing the per-kernel launch cost that dominates a small net's step.  The captured step
  runs the same kernels on the same data as the eager step, so the numbers are the same.

Contracts shared with reference_numpy (same names, same arguments; see its module docstring):
``fused_sgd_step`` returns the parameters after the step, here the very tensors of
``params``, updated in place; ``forward_fused`` returns logits of shape (N, K); scalars are
0-d device tensors, read once at the end of the run, so an iteration never waits for the host.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch

from ._validate import check_choice
from .functions import CEE_DELTA
from .networks import TwoLayerNet
from .optimizers import OPTIMIZERS, SGD, Optimizer
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
    "run_graph",
    "capture",
    "uncaptured",
    "uncaptured_graph_loop",
    "Uncaptured",
    "Snapshot",
]

Tensor = torch.Tensor

#: "eager": a plain Python loop of tensor ops mirroring reference_numpy (the reference path);
#: "graph": one eager training step captured as a CUDA graph and replayed (CUDA only);
#: "fused": the SGD step in fused ATen kernels (plain SGD, no weight decay; any device);
#: "auto": "graph" on CUDA when the optimizer can be captured, "fused" on the CPU when the run
#: is plain SGD without weight decay, else "eager".
MODES = ("auto", "eager", "graph", "fused")

#: Real steps run before capture: they create the optimizer's state and initialise cuBLAS.
WARMUP_STEPS = 3

#: Set only inside :func:`uncaptured_graph_loop`.
_UNCAPTURED = False


def resolve_mode(
    mode: str, opt: Optimizer, weight_decay: float = 0.0, *, device: torch.device
) -> str:
    """The mode ``train`` runs for ``mode`` on ``device`` (see :data:`MODES`); a ValueError
    that says why when "fused" or "graph" cannot run this configuration."""
    check_choice(mode, "mode", MODES)
    why = fusable(opt, weight_decay, SGD)
    if mode == "auto":
        if device.type == "cuda":
            return "graph" if opt.capturable else "eager"
        return "fused" if why is None else "eager"
    if mode == "fused" and why is not None:
        raise ValueError(f"mode: 'fused' cannot run this configuration: {why}; use 'eager'")
    if mode == "graph":
        if device.type != "cuda" and not _UNCAPTURED:
            raise ValueError(
                f"mode: 'graph' captures the step as a CUDA graph and needs a CUDA network, got "
                f"device {device}; use mode='eager' (or 'auto', which picks eager here)"
            )
        if not opt.capturable:
            raise ValueError(
                f"mode: 'graph' cannot capture {type(opt).__name__}: its step uses a Python "
                f"value that changes every iteration (Adam's bias-corrected lr_t), which a CUDA "
                f"graph would freeze; use mode='eager' (or 'auto', which picks eager for it). "
                f"Capturable: {', '.join(c.__name__ for c in OPTIMIZERS.values() if c.capturable)}"
            )
    return mode


def fused_target(net: TwoLayerNet, tb: Tensor) -> tuple[Tensor, Tensor]:
    """The batch's labels in the form the fused kernels read: (labels, one-hot rows in the
    network's dtype).  Subtracting a one-hot row is exact, so the step's dy[n, t_n] -= 1 is
    one kernel instead of an indexed write; the loss reads the labels."""
    onehot = torch.arange(net.sizes[2], device=tb.device)[None, :] == tb.reshape(-1, 1)
    return tb, onehot.to(net.dtype)


def forward_fused(
    net: TwoLayerNet, params: Mapping[str, Tensor], x: Tensor, scale: Tensor | float | None
) -> tuple[Tensor, Tensor, Tensor]:
    """(z1, h, a2): z1 = act(x W1 + b1), h = z1 ⊙ scale (a dropout mask, the test-time
    1 - ratio, or nothing), a2 = h W2 + b2, with the bias inside each product (addmm)."""
    a1 = torch.addmm(params["b1"], x, params["W1"])
    z1 = torch.sigmoid(a1) if net.activation == "sigmoid" else torch.relu(a1)
    h = z1 if scale is None else z1 * scale
    return z1, h, torch.addmm(params["b2"], h, params["W2"])


def fused_sgd_step(
    net: TwoLayerNet,
    params: dict[str, Tensor],
    xb: Tensor,
    target: tuple[Tensor, Tensor],
    mask: Tensor | None,
    lr: float,
) -> dict[str, Tensor]:
    """One SGD step in fused kernels; returns the updated parameters (``params``, in place).

    The maths of ``TwoLayerNet.gradient_unchecked`` then ``SGD.apply_unchecked``:
    dy = (softmax(a2) - onehot(t))/N, dh = dy W2ᵀ (⊙ mask), da1 = dh ⊙ act'(a1),
    W2 -= lr·hᵀdy, b2 -= lr·Σdy, W1 -= lr·xᵀda1, b1 -= lr·Σda1.  ``target``: the batch's
    ``fused_target``.
    """
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    z1, h, a2 = forward_fused(net, params, xb, mask)
    dy = torch.softmax(a2, dim=1).sub_(target[1]).div_(xb.shape[0])
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
    return params


def fused_loss(
    net: TwoLayerNet,
    params: Mapping[str, Tensor],
    xb: Tensor,
    target: tuple[Tensor, Tensor],
    mask: Tensor | None,
) -> Tensor:
    """``TwoLayerNet.loss_unchecked`` through ``forward_fused``: the mean cross-entropy on the
    batch (``target``: the batch's ``fused_target``), a 0-d tensor."""
    _, _, a2 = forward_fused(net, params, xb, mask)
    if net.loss_name == "softmax_cross_entropy":
        return torch.nn.functional.cross_entropy(a2, target[0])
    return torch.nn.functional.nll_loss(torch.log(torch.softmax(a2, dim=1) + CEE_DELTA), target[0])


def count_correct_fused(
    net: TwoLayerNet, params: Mapping[str, Tensor], x: Tensor, labels: Tensor
) -> Tensor:
    """``TwoLayerNet.count_correct_unchecked`` through ``forward_fused`` with ``params``, in
    reference_numpy's ``EVAL_BLOCK``-row blocks on the CPU (one block on CUDA); a 0-d tensor."""
    block = len(x) if net.device.type == "cuda" else EVAL_BLOCK
    scale = (1 - net.dropout_ratio) if net.dropout_ratio else None
    counts = []
    for s in range(0, len(x), block):
        _, _, a2 = forward_fused(net, params, x[s : s + block], scale)
        counts.append(torch.count_nonzero(torch.argmax(a2, dim=1) == labels[s : s + block]))
    return torch.stack(counts).sum()


def run_fused(run: TrainRun, lr: float) -> None:
    """The fused loop.  Each step updates the network's own tensors in place; losses and
    counts stay on the device until ``TrainRun.finish``."""
    net, plan, best, hist = run.net, run.plan, run.best, run.hist
    params = net.params
    losses: list[Tensor] = []
    points: list[tuple[Tensor, Tensor]] = []
    for i in range(plan.iters_num):
        xb, tb, mask = run.batch(i)
        target = fused_target(net, tb)
        params = fused_sgd_step(net, params, xb, target, mask, lr)
        losses.append(fused_loss(net, params, xb, target, mask))
        run.bar.update(1)
        if run.evals[i]:
            hist.eval_iters.append(i)
            points.append(
                (
                    count_correct_fused(net, params, run.xtr, run.ttr),
                    count_correct_fused(net, params, run.xte, run.tte),
                )
            )
            run.log_eval(*points[-1])
            if best is not None:
                acc = int(count_correct_fused(net, params, best.x, best.t)) / len(best.t)
                keep = lambda p=params: {k: v.detach().clone() for k, v in p.items()}  # noqa: E731
                if best.stop(hist, i, acc, keep):
                    break
    run.finish(losses, points)


# --------------------------------------------------------------------------------- graph mode


def _tensor_state(opt: Optimizer) -> dict[str, dict[str, Tensor]]:
    return {
        name: value
        for name, value in vars(opt).items()
        if isinstance(value, dict) and all(isinstance(v, Tensor) for v in value.values())
    }


class Snapshot:
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
        """Put the saved values back into the same tensors."""
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


def capture(step: Callable[[], None], warmup: int) -> torch.cuda.CUDAGraph:
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


class Uncaptured:
    """What :func:`uncaptured` returns in place of a ``torch.cuda.CUDAGraph``: ``replay()``
    calls the step itself."""

    def __init__(self, step: Callable[[], None]) -> None:
        self.replay = step


def uncaptured(step: Callable[[], None], warmup: int) -> Uncaptured:
    """:func:`capture` without CUDA: the same ``warmup`` real steps, then a replay that runs the
    step eagerly instead of a captured graph."""
    for _ in range(warmup):
        step()
    return Uncaptured(step)


@contextmanager
def uncaptured_graph_loop() -> Iterator[None]:
    """Within it, mode "graph" runs on any device with its step not captured.

    Everything of the graph loop but the capture stays: the warm-up and the snapshot that
    undoes it, the step counter as a tensor, the loss slots, the dropout-mask windows and the
    evaluation schedule.  The capture itself only records the same kernels, so this is how the
    loop's own logic is checked on a machine without a GPU (``python -m verify`` does; the
    numbers equal the eager loop's bit for bit, tests/test_torch_training.py).  Not for speed:
    uncaptured, the graph loop is the eager loop with extra work.
    """
    global _UNCAPTURED
    before, _UNCAPTURED = _UNCAPTURED, True
    try:
        yield
    finally:
        _UNCAPTURED = before


def _graph_step(run: TrainRun, opt: Optimizer, losses: Tensor) -> tuple[Callable[[], None], Tensor]:
    """The eager training step with the iteration number as a device tensor, so every replay
    of one captured graph reads its own batch, mask and loss slot; (step, counter)."""
    net, params, idx, masks = run.net, run.net.params, run.idx, run.masks
    xtr, ttr = run.xtr, run.ttr
    step = torch.zeros(1, dtype=torch.int64, device=net.device)
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
        grads = net.gradient_unchecked(xb, tb, True, mask)
        opt.apply_unchecked(params, grads)
        loss = net.loss_unchecked(xb, tb, True, mask)
        # losses[step] = loss without a host read of step (elementwise select: exact).
        torch.where(slots == step, loss, losses, out=losses)
        step.add_(1)

    return one_step, step


def run_graph(run: TrainRun, opt: Optimizer) -> None:
    """The graph loop: the eager step captured once, replayed per iteration (see module
    docstring); evaluation as in the eager loop, between replays."""
    net, plan = run.net, run.plan
    params = net.params
    losses = torch.empty(plan.iters_num, dtype=net.dtype, device=net.device)
    points: list[tuple[Tensor, Tensor]] = []
    one_step, step = _graph_step(run, opt, losses)
    if run.masks is not None:
        run.masks.refill(0)
    snap = Snapshot(params, opt)
    # Warm-up steps read the plan's first rows (the counter must stay below iters_num:
    # an out-of-range index on the device would be a device-side assert).
    graph = (uncaptured if _UNCAPTURED else capture)(one_step, min(WARMUP_STEPS, plan.iters_num))
    snap.restore(params, opt)
    step.zero_()
    done = 0
    for i in range(plan.iters_num):
        if run.masks is not None and i % run.masks.k == 0 and i:
            run.masks.refill(i)
        graph.replay()
        done = i + 1
        run.bar.update(1)
        if run.evals[i] and run.evaluate(i, points):
            break
    run.finish(losses[:done], points)
