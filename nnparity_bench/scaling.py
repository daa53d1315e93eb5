"""How the cost of one training iteration grows with the batch size and the hidden size.

One iteration is the training loop's body, as both ``train`` functions run it by default on
the CPU: gather the batch, then the fused SGD step (gradient and update) and the loss on the
batch after the update, one after the other (NumPy's ``train`` can overlap the loss with the
next step on a second core; that overlap is not timed here: see ``bench``'s training rows).  On
a GPU, the eager mirror (``network.gradient_unchecked``, ``optimizer.apply_unchecked``,
``network.loss_unchecked``).  No accuracy passes: those do not depend on the batch size.  Each
point is the median over a few dozen iterations (fewer for the big ones), timed one by one after
a warm-up; on a GPU the device is synchronised around each iteration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .harness import Timing, time_call, torch_threads
from .runs import LEARNING_RATE, MnistData

BATCH_SIZES: tuple[int | str, ...] = (1, 10, 100, 1000, "full")
HIDDEN_SIZES: tuple[int, ...] = (50, 100, 500, 1000)
#: The fixed size of the other axis in each sweep: the book's network and batch.
FIXED_HIDDEN = 50
FIXED_BATCH = 100


@dataclass
class Engine:
    """One curve of the plot: an engine, a dtype, a device and (torch) a thread count."""

    key: str
    label: str
    engine: str  # "numpy" | "torch"
    dtype: str  # "float32" | "float64"
    device: str = "cpu"
    threads: int | None = None  # torch threads for this curve (None: as set)


@dataclass
class Point:
    x: int
    iters: int
    timing: Timing

    def as_dict(self) -> dict[str, Any]:
        return {"x": self.x, "iters": self.iters, **self.timing.as_dict()}


@dataclass
class Series:
    engine: Engine
    axis: str  # "batch" | "hidden"
    points: list[Point] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        e = self.engine
        return {
            "key": e.key, "label": e.label, "engine": e.engine, "dtype": e.dtype,
            "device": e.device, "threads": e.threads, "axis": self.axis, "error": self.error,
            "points": [p.as_dict() for p in self.points],
        }


def iterations_for(batch: int, hidden: int, base: int, minimum: int) -> int:
    """``base`` iterations up to batch·hidden = 1e5, proportionally fewer above (>= minimum)."""
    work = batch * hidden
    if work <= 100_000:
        return base
    return max(minimum, int(base * 100_000 / work))


def resolve_batches(sizes: Sequence[int | str], train_size: int) -> list[int]:
    """Batch sizes with "full" (or anything >= train_size) as train_size, sorted, unique."""
    out = {train_size if (s == "full" or int(s) >= train_size) else int(s) for s in sizes}
    return sorted(out)


def _numpy_step(
    data: MnistData, dtype: str, batch: int, hidden: int, n: int, seed: int
) -> Callable[[int], None]:
    import reference_numpy as rn
    from reference_numpy.fastpath import fused_loss, fused_sgd_step, fused_target

    from .runs import make_plan

    plan = make_plan(data, 1, seed, hidden=hidden)
    net = rn.TwoLayerNet(784, hidden, 10, params=plan.initial_params(), dtype=dtype)
    xtr, ttr = data.x_train_as(dtype), data.t_train
    full = batch >= data.train_size
    rows = None if full else np.random.default_rng(seed).integers(0, len(xtr), (n, batch))
    params = dict(net.params)

    def step(i: int) -> None:
        nonlocal params
        xb, tb = (xtr, ttr) if rows is None else (xtr.take(rows[i], axis=0), ttr[rows[i]])
        target = fused_target(net, tb)
        params = fused_sgd_step(net, params, xb, target, None, LEARNING_RATE)
        fused_loss(net, params, xb, target, None)

    return step


def _torch_step(
    data: MnistData, dtype: str, device: str, batch: int, hidden: int, n: int, seed: int
) -> Callable[[int], None]:
    import torch

    from reference_torch.fastpath import fused_loss, fused_sgd_step, fused_target
    from reference_torch.networks import TwoLayerNet
    from reference_torch.optimizers import SGD

    from .runs import make_plan

    tdt = torch.float64 if dtype == "float64" else torch.float32
    plan = make_plan(data, 1, seed, hidden=hidden)
    net = TwoLayerNet(784, hidden, 10, params=plan.initial_params(), device=device, dtype=tdt)
    opt = SGD(LEARNING_RATE)
    xtr, ttr, _, _ = data.tensors(device, tdt)
    full = batch >= data.train_size
    rows = None
    if not full:
        idx = np.random.default_rng(seed).integers(0, data.train_size, (n, batch))
        rows = torch.from_numpy(idx).to(device)
    params = net.params
    # The step train() runs by default: the fused SGD step on the CPU, the eager mirror on a
    # GPU (whose default, the CUDA graph, replays the eager step).
    fused = torch.device(device).type == "cpu"

    def step(i: int) -> None:
        with torch.no_grad():
            if rows is None:
                xb, tb = xtr, ttr
            else:
                xb, tb = xtr.index_select(0, rows[i]), ttr.index_select(0, rows[i])
            if fused:
                target = fused_target(net, tb)
                fused_sgd_step(net, params, xb, target, None, LEARNING_RATE)
                fused_loss(net, params, xb, target, None)
                return
            grads = net.gradient_unchecked(xb, tb, True, None)
            opt.apply_unchecked(params, grads)
            net.loss_unchecked(xb, tb, True, None)

    return step


def time_point(
    data: MnistData, eng: Engine, batch: int, hidden: int, n: int, warmup: int, seed: int
) -> Timing:
    """Median-able per-iteration times of ``n`` iterations after ``warmup`` untimed ones."""
    sync = None
    if eng.engine == "torch" and eng.device.startswith("cuda"):
        import torch

        sync = torch.cuda.synchronize
    total = n + warmup
    with torch_threads(eng.threads if eng.engine == "torch" else None):
        if eng.engine == "numpy":
            step = _numpy_step(data, eng.dtype, batch, hidden, total, seed)
        else:
            step = _torch_step(data, eng.dtype, eng.device, batch, hidden, total, seed)
        timing = Timing()
        for i in range(total):
            seconds, _ = time_call(lambda i=i: step(i), sync)
            if i >= warmup:
                timing.add(seconds)
    return timing


def sweep(
    data: MnistData,
    engines: Sequence[Engine],
    *,
    batch_sizes: Sequence[int | str] = BATCH_SIZES,
    hidden_sizes: Sequence[int] = HIDDEN_SIZES,
    fixed_hidden: int = FIXED_HIDDEN,
    fixed_batch: int = FIXED_BATCH,
    base_iters: int = 50,
    min_iters: int = 5,
    warmup: int = 2,
    seed: int = 0,
    tick: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Both sweeps for every engine; a failing engine is recorded (``error``), not raised."""
    batches = resolve_batches(batch_sizes, data.train_size)
    fixed_batch = min(fixed_batch, data.train_size)
    axes = {
        "batch": [(b, fixed_hidden) for b in batches],
        "hidden": [(fixed_batch, h) for h in hidden_sizes],
    }
    out: dict[str, Any] = {
        "fixed_hidden": fixed_hidden, "fixed_batch": fixed_batch, "train_size": data.train_size,
        "batch_sizes": batches, "hidden_sizes": list(hidden_sizes), "series": [],
    }
    for axis, points in axes.items():
        for eng in engines:
            series = Series(eng, axis)
            for batch, hidden in points:
                if tick is not None:
                    tick(f"{axis} {eng.key} b={batch} h={hidden}")
                if series.error is not None:
                    continue
                n = iterations_for(batch, hidden, base_iters, min_iters)
                try:
                    timing = time_point(data, eng, batch, hidden, n, warmup, seed)
                except Exception as exc:  # noqa: BLE001 - recorded in the report
                    series.error = f"{type(exc).__name__}: {exc}"
                    continue
                series.points.append(Point(batch if axis == "batch" else hidden, n, timing))
            out["series"].append(series.as_dict())
    return out
