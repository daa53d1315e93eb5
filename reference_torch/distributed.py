"""Data-parallel replay of a plan with DistributedDataParallel, started by torchrun.

Why this exists: data parallelism is the first thing a reader scales the chapter's loop to, and
it is only correct if the all-reduced gradient equals the single-process one.  With a mean
loss, each rank's shard gradient is ∇(mean over its shard); DDP averages those over ranks,
which for equal shard sizes is exactly ∇(mean over the whole batch).  So a DDP run of a plan
must follow the single-process run of the same plan, up to the summation order of the
all-reduce (and of autograd vs. hand-written backprop): ``tests/test_torch_distributed.py``
checks it.

Each global batch ``plan.batch(i)`` is cut into ``world_size`` contiguous shards (rank r takes
rows ``[r·B/W, (r+1)·B/W)`` of the batch, and the same rows of the dropout mask), so the batch
size must be divisible by the world size.  Each rank keeps the whole data set on its device.
The backward runs through autograd inside DDP (a small module whose forward returns the loss),
so DDP's hooks all-reduce the gradients; the update is the book optimizer's (the same
``apply_unchecked`` as single-process training).  Per-iteration losses (each shard's loss after
the update) stay on the device and are all-reduced once at the end: their mean over ranks is the
full-batch loss.

Start it with torchrun (gloo on CPU, NCCL on CUDA)::

    python -m torch.distributed.run --nproc_per_node=2 -m reference_torch.distributed \\
        --iters 20 --train-size 6000 --batch-size 100 --dtype float64 --out params.npz

or from Python with :func:`spawn_local` (used by the tests).
"""

from __future__ import annotations

import argparse
import gc
import os
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from reference_numpy.networks import PARAM_NAMES

from ._safeio import load_npz
from ._validate import atomic_write, check_positive
from .device import precision_guard, resolve_device, resolve_dtype
from .networks import TwoLayerNet
from .optimizers import OPTIMIZERS, SGD, Optimizer
from .plan import TrainPlan, dropout_mask, plan_tensors
from .training import _data

__all__ = [
    "DDPResult",
    "LossModule",
    "check_shardable",
    "free_port",
    "main",
    "run_ddp",
    "save_result",
    "spawn_local",
]

Tensor = torch.Tensor


@dataclass
class DDPResult:
    """What a DDP replay produced (identical on every rank)."""

    params: dict[str, np.ndarray]
    losses: list[float]
    world_size: int
    backend: str
    seconds: float = 0.0
    meta: dict[str, object] = field(default_factory=dict)


class LossModule(torch.nn.Module):
    """The network with a forward that returns the mean loss of a (shard of a) batch.

    DDP needs an ``nn.Module`` whose parameters autograd reaches from the forward's output:
    wrapping the net (whose W1, b1, W2, b2 are the registered parameters) does that, and the
    loss is the network's own ``_loss`` (mean cross-entropy plus weight decay)."""

    def __init__(self, net: TwoLayerNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor, t: Tensor, mask: Tensor | None) -> Tensor:
        return self.net.loss_unchecked(x, t, True, mask)


def check_shardable(batch: int, world: int) -> None:
    """Raise ValueError unless ``batch`` rows split into ``world`` equal shards: only then is
    the average of the shards' mean-loss gradients the whole batch's mean-loss gradient."""
    if batch % world:
        raise ValueError(
            f"batch_size: expected a multiple of the world size {world} (each rank takes an "
            f"equal contiguous shard, so the averaged shard gradients equal the full-batch "
            f"gradient), got {batch}"
        )


def _shard_bounds(batch: int, world: int, rank: int) -> tuple[int, int]:
    per = batch // world
    return rank * per, (rank + 1) * per


def run_ddp(
    plan: TrainPlan,
    x: Tensor | np.ndarray,
    t: Tensor | np.ndarray,
    *,
    iters: int | None = None,
    optimizer: Optimizer | str | None = None,
    learning_rate: float = 0.1,
    activation: str = "sigmoid",
    loss: str = "softmax_cross_entropy",
    weight_decay_lambda: float = 0.0,
    device: str | torch.device | None = None,
    dtype: object = None,
) -> DDPResult:
    """Replay the first ``iters`` iterations of ``plan`` data-parallel over the process group.

    Call it on every rank of an initialised default process group (torchrun + :func:`main`,
    or :func:`spawn_local`).  ``x``/``t``: the full training set (the plan's ``train_size``
    rows), NumPy arrays (moved once) or tensors on ``device``.  ``optimizer``: an Optimizer,
    a name from ``OPTIMIZERS`` (built with ``lr=learning_rate``) or None for SGD.  ``dtype``
    defaults to float64 (reference work); ``device`` to cuda:LOCAL_RANK with NCCL, else cpu.

    Returns the final parameters (float64 NumPy) and the per-iteration full-batch losses.

    Raises:
        RuntimeError: no process group is initialised.
        ValueError: the batch size is not divisible by the world size, or bad arguments.
    """
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError(
            "run_ddp: expected an initialised torch.distributed process group, got none; start "
            "with `python -m torch.distributed.run --nproc_per_node=N -m "
            "reference_torch.distributed ...` or use spawn_local()"
        )
    if not isinstance(plan, TrainPlan):
        raise TypeError(f"plan: expected a TrainPlan, got {type(plan).__name__}")
    n_iter = plan.iters_num if iters is None else iters
    if isinstance(n_iter, bool) or not isinstance(n_iter, int) or not 1 <= n_iter <= plan.iters_num:
        raise ValueError(f"iters: expected an int in [1, {plan.iters_num}], got {iters!r}")
    world, rank = dist.get_world_size(), dist.get_rank()
    backend = str(dist.get_backend())
    batch = plan.train_size if plan.batch_indices is None else plan.batch_size
    check_shardable(batch, world)
    if device is None:
        if backend == "nccl":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
        else:
            device = torch.device("cpu")
    dev = resolve_device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if isinstance(optimizer, str):
        if optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer: expected one of {', '.join(map(repr, OPTIMIZERS))}, got {optimizer!r}"
            )
        opt: Optimizer = OPTIMIZERS[optimizer](lr=learning_rate)
    elif optimizer is None:
        opt = SGD(learning_rate)
    elif isinstance(optimizer, Optimizer):
        opt = optimizer
    else:
        raise TypeError(f"optimizer: expected an Optimizer or a name, got {type(optimizer)}")

    net = TwoLayerNet(
        plan.input_size,
        plan.hidden_size,
        plan.output_size,
        params=plan.initial_params(),
        activation=activation,
        loss=loss,
        weight_decay_lambda=weight_decay_lambda,
        dropout_ratio=plan.dropout_ratio,
        device=dev,
        dtype=resolve_dtype(dtype, default=torch.float64),
    )
    xtr, ttr = _data(net, x, t, "train")
    if len(xtr) != plan.train_size:
        raise ValueError(f"x: the plan expects {plan.train_size} training rows, got {len(xtr)}")
    for p in net.parameters():
        p.requires_grad_(True)  # DDP hooks the parameters that autograd reaches
    model = DistributedDataParallel(
        LossModule(net), device_ids=[dev.index] if dev.type == "cuda" else None
    )
    params = net.params
    idx = plan_tensors(plan, dev)
    lo, hi = _shard_bounds(batch, world, rank)
    losses = torch.empty(n_iter, dtype=net.dtype, device=dev)

    start = time.perf_counter()
    for i in range(n_iter):
        if idx is None:
            xs, ts = xtr[lo:hi], ttr[lo:hi]
        else:
            rows = idx[i, lo:hi]
            xs, ts = xtr.index_select(0, rows), ttr.index_select(0, rows)
        mask = dropout_mask(plan, i, dev, net.dtype, batch)  # torch's u > ratio, whole batch
        mask_t = None if mask is None else mask[lo:hi]
        shard_loss = model(xs, ts, mask_t)
        shard_loss.backward()  # DDP all-reduces (averages) the gradients here
        with torch.no_grad():
            opt.apply_unchecked(params, {k: p.grad for k, p in params.items()})
            for p in params.values():
                p.grad = None
            losses[i] = net.loss_unchecked(xs, ts, True, mask_t)
    dist.all_reduce(losses, op=dist.ReduceOp.SUM)  # once: mean of shard losses = batch loss
    losses /= world
    seconds = time.perf_counter() - start
    for p in net.parameters():
        p.requires_grad_(False)
    # DDP's reducer holds the process group and sits in reference cycles: left to the garbage
    # collector it can be freed after destroy_process_group, at interpreter exit, where gloo's
    # threads are torn down out of order (a rank aborting with "terminate called without an
    # active exception", seen once under load).  Free it here, while the group is alive.
    del model
    gc.collect()
    return DDPResult(
        params=net.numpy_params(),
        losses=losses.tolist(),
        world_size=world,
        backend=backend,
        seconds=seconds,
        meta={
            "iters": n_iter,
            "batch_size": batch,
            "shard_size": batch // world,
            "device": str(dev),
            "dtype": str(net.dtype).removeprefix("torch."),
            "optimizer": type(opt).__name__,
        },
    )


def save_result(result: DDPResult, path: str | os.PathLike[str]) -> None:
    """Write the final parameters (float64) and the losses to .npz atomically (no pickle);
    ``reference_numpy.training.load_params`` reads the parameters back."""
    arrays: dict[str, np.ndarray] = {k: result.params[k] for k in PARAM_NAMES}
    arrays["losses"] = np.asarray(result.losses, dtype=np.float64)
    arrays["world_size"] = np.int64(result.world_size)
    atomic_write(path, lambda f: np.savez(f, **arrays))


# --------------------------------------------------------------------------------- launching


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for a local rendezvous)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: Seconds spawn_local's ranks wait for each other (the rendezvous and every collective), so a
#: rank that cannot reach its peers fails instead of waiting gloo's default 30 minutes.
#: Importing torch in a fresh process takes a few seconds; this leaves a loaded machine room.
RENDEZVOUS_TIMEOUT_S = 120


def _spawned(rank: int, world: int, port: int, timeout: float, out: str, args: tuple,
             kwargs: dict) -> None:
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "RANK": str(rank),
            "WORLD_SIZE": str(world),
            "LOCAL_RANK": str(rank),
        }
    )
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    dist.init_process_group("gloo", rank=rank, world_size=world,
                            timeout=timedelta(seconds=timeout))
    try:
        result = run_ddp(*args, **kwargs)
        if rank == 0:
            save_result(result, out)
        # Every rank reaches this before any tears the group down: a rank that destroys its
        # gloo group while a peer is still in it can abort that peer ("terminate called
        # without an active exception"), seen under load in tests/test_torch_distributed.py.
        dist.barrier()
    finally:
        dist.destroy_process_group()


def spawn_local(
    plan: TrainPlan,
    x: np.ndarray,
    t: np.ndarray,
    out: str | os.PathLike[str],
    *,
    world_size: int = 2,
    timeout: float = RENDEZVOUS_TIMEOUT_S,
    **kwargs: Any,
) -> dict[str, np.ndarray]:
    """Run :func:`run_ddp` in ``world_size`` local CPU processes over gloo and return rank 0's
    result as read back from ``out`` (params W1…b2, ``losses``, ``world_size``).  ``timeout``:
    seconds the ranks wait for each other (rendezvous and collectives) before a rank raises.

    A convenience for tests and notebooks (torchrun is the way to start a real job); x and t
    are pickled to each process, so pass NumPy arrays of a modest size."""
    import torch.multiprocessing as mp

    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size: expected a positive int, got {world_size!r}")
    timeout = check_positive(timeout, "timeout")
    out = os.fspath(out)
    mp.spawn(
        _spawned,
        args=(world_size, free_port(), timeout, out, (plan, x, t), kwargs),
        nprocs=world_size,
        join=True,
    )
    return load_npz(out)  # allow_pickle=False; a bad file is named


# --------------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m torch.distributed.run --nproc_per_node=N -m reference_torch.distributed",
        description="Replay a training plan data-parallel with DDP (gloo on CPU, NCCL on CUDA).",
    )
    p.add_argument("--plan", type=Path, help="a TrainPlan .npz (else one is built from below)")
    p.add_argument("--iters", type=int, default=None, help="iterations to run (default: all)")
    p.add_argument("--iters-num", type=int, default=10_000, help="plan length when building")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--hidden-size", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dropout", type=float, default=0.0, help="plan dropout ratio")
    p.add_argument("--train-size", type=int, default=None, help="use the first N train rows")
    p.add_argument("--data-dir", type=Path, default=None, help="MNIST folder (else located)")
    p.add_argument("--optimizer", default="sgd", choices=sorted(OPTIMIZERS))
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--activation", default="sigmoid", choices=["sigmoid", "relu"])
    p.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    p.add_argument("--backend", default="auto", choices=["auto", "gloo", "nccl"])
    p.add_argument("--out", type=Path, default=None, help="write params + losses here (.npz)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """torchrun entry point: initialise the group from the environment, run, write ``--out``."""
    args = _parser().parse_args(argv)
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        print(
            "reference_torch.distributed: RANK/WORLD_SIZE are not set; start me with "
            "`python -m torch.distributed.run --nproc_per_node=N -m reference_torch.distributed`",
            file=sys.stderr,
        )
        return 2
    backend = args.backend
    if backend == "auto":
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)
    try:
        from .mnist import load_mnist

        # The same files as reference_numpy's loader, parsed by torchvision (the bundled
        # subset folder is checked against its own checksums when given as --data-dir).
        (x, t), _ = load_mnist(data_dir=args.data_dir, as_tensor=False)
        if args.train_size is not None:
            x, t = x[: args.train_size], t[: args.train_size]
        if args.plan is not None:
            plan = TrainPlan.load(args.plan)
        else:
            plan = TrainPlan(
                train_size=len(x),
                batch_size=args.batch_size,
                iters_num=args.iters_num,
                seed=args.seed,
                hidden_size=args.hidden_size,
                dropout_ratio=args.dropout,
            )
        with precision_guard():
            result = run_ddp(
                plan,
                x,
                t,
                iters=args.iters,
                optimizer=args.optimizer,
                learning_rate=args.lr,
                activation=args.activation,
                weight_decay_lambda=args.weight_decay,
                dtype=args.dtype,
            )
        if dist.get_rank() == 0:
            if args.out is not None:
                save_result(result, args.out)
            print(
                f"ddp {result.backend} x{result.world_size}: {result.meta['iters']} iterations, "
                f"batch {result.meta['batch_size']} ({result.meta['shard_size']} per rank), "
                f"final loss {result.losses[-1]:.6f}, {result.seconds:.2f} s"
                + (f"; wrote {args.out}" if args.out is not None else "")
            )
        dist.barrier()  # as in the spawned workers: no rank leaves while a peer is in the group
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
