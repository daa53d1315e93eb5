"""``python -m verify bench``: every speed claim measured as a ratio, in one run, on one machine.

Read top to bottom: choose the sizes (full, ``--quick`` or the test's ``--smoke``), describe the
machine, load MNIST, then measure, each thing repeated and summarised as median [min–max]:

1. training on the CPU: the book's run (784-50-10, batch 100, lr 0.1, 10,000 iterations) with
   the plain book algorithm (``benchmarks/book_ch4.py``), ``reference_numpy.train`` in float64
   and float32, and ``reference_torch`` on the CPU in both dtypes, with torch's thread count and
   with one thread; all replay one ``TrainPlan`` (same batches, same initial weights), so the
   final accuracies stand beside the times and can be compared;
2. the numerical gradient on a batch of MNIST images: the element loop (once: it is slow) vs the
   fast NumPy version vs batched torch (CPU, and GPU when there is one), with the largest
   difference from the loop's result;
3. training on a GPU, eager vs CUDA graph (skipped with the reason when there is no GPU);
4. how one iteration's cost grows with the batch size and the hidden size (log-log plot);
5. optionally (``--with-verify``) the full ``python -m verify`` run: wall time and peak memory.

Each ratio is the baseline's median over the row's median, so above 1 means faster.  The run
writes ``bench.json`` (every measurement with its repeats, ratio, targets and whether they were
met), ``RESULTS.md`` (the table and a header naming machine, date, versions and threads) and
``bench.png`` (ratios against targets, scaling) into ``--report-dir`` (default
``benchmarks/results/``), all atomically; a full run into the default folder also refreshes
``benchmarks/RESULTS.md``, the section the README shows.  Benchmarks assert nothing: missed
targets are reported, and the exit status is 1 only when a measurement failed with an error.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]

from benchmarks import numgrad, render, runs, scaling  # noqa: E402  (installed beside verify)
from benchmarks.harness import (  # noqa: E402
    Timing,
    blas_threads,
    blas_threads_set,
    load_average,
    machine_info,
    time_call,
    torch_threads,
)
from reference_numpy._validate import atomic_write_bytes  # noqa: E402

DEFAULT_REPORT_DIR = REPO_ROOT / "benchmarks" / "results"
PUBLISHED_MD = REPO_ROOT / "benchmarks" / "RESULTS.md"
SCHEMA = "nnparity-bench/1"

# The claims, as numbers.  Speed-ups are the baseline's median over the row's median.
CLAIM_ITERS = 10_000
CLAIM_TRAIN_SIZE = 60_000
CLAIM_GRAD_BATCH = 100
CLAIM_GRAD_HIDDEN = 50
CLAIM_GPU = "H100"
TARGET_F32_SPEEDUP = 3.0  # reference_numpy float32 vs the book algorithm
TARGET_F32_ACC_POINTS = 0.3  # |test accuracy difference| in percentage points
TARGET_TORCH_CPU_SPEEDUP = 1.0  # torch CPU vs NumPy, same dtype: no slower
TARGET_GRAD_SPEEDUP = 100.0  # fast NumPy / torch CPU vs the element loop
TARGET_GRAD_GPU_SECONDS = 0.005  # torch float64 on the GPU, per gradient
TARGET_GPU_RUN_SECONDS = 0.5  # per 10,000 iterations, CUDA graph
TARGET_GRAPH_SPEEDUP = 5.0  # CUDA graph vs eager


# ------------------------------------------------------------------------------ options


@dataclass
class Sizes:
    """What one mode measures.  ``--iters`` and ``--repeats`` override the first two."""

    iters: int
    repeats: int
    warm_iters: int
    grad_batch: int
    grad_hidden: int
    grad_repeats: int
    scaling_batches: tuple[int | str, ...]
    scaling_hidden: tuple[int, ...]
    scaling_base: int
    scaling_min: int
    scaling_warmup: int


MODES = {
    "full": Sizes(10_000, 5, 50, 100, 50, 5, scaling.BATCH_SIZES, scaling.HIDDEN_SIZES, 50, 5, 2),
    "quick": Sizes(1_000, 3, 20, 10, 50, 3, scaling.BATCH_SIZES, scaling.HIDDEN_SIZES, 20, 3, 1),
    # the test's: tiny everything (the loop gradient on a 784-5-10 net and 2 images)
    "smoke": Sizes(50, 1, 5, 2, 5, 2, (1, 10), (5, 10), 3, 2, 1),
}


def build_parser() -> argparse.ArgumentParser:
    """Options of ``python -m verify.bench`` (``python -m verify bench`` passes its own)."""
    p = argparse.ArgumentParser(
        prog="python -m verify.bench",
        description="Measure every speed claim as a ratio in one run on this machine.",
    )
    p.add_argument("--quick", action="store_true",
                   help="1,000 iterations, 3 repeats, loop gradient on 10 images, no verify run")
    p.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--iters", type=int, default=None,
                   help="training iterations (default 10,000; 1,000 with --quick)")
    p.add_argument("--repeats", type=int, default=None,
                   help="repeats per measurement (default 5; 3 with --quick)")
    p.add_argument("--with-verify", action="store_true",
                   help="also time the full `python -m verify` run (takes minutes)")
    p.add_argument("--torch-threads", type=int, default=None,
                   help="torch.set_num_threads for the run (default: torch's own); the "
                   "one-thread rows are measured as well")
    p.add_argument("--blas-threads", type=int, default=None,
                   help="NumPy's OpenBLAS threads for the run (default: as configured)")
    p.add_argument("--device", default=None,
                   help="GPU for the GPU rows (default: $NNPARITY_DEVICE, else cuda if any)")
    p.add_argument("--seed", type=int, default=0, help="seed of the training plan")
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: $NNPARITY_DATA_DIR…)")
    p.add_argument("--report-dir", default=None,
                   help=f"where bench.json, RESULTS.md and bench.png go (default "
                   f"{DEFAULT_REPORT_DIR.relative_to(REPO_ROOT)}/)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the JSON here")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


@dataclass
class Config:
    mode: str
    sizes: Sizes
    seed: int
    data_dir: str | None
    device: str | None
    report_dir: Path
    default_dir: bool
    json_path: str | None
    progress: bool
    with_verify: bool
    torch_threads: int | None
    blas_threads: int | None
    command: str

    @classmethod
    def from_args(cls, args: argparse.Namespace, prog: str = "python -m verify bench") -> Config:
        smoke, quick = bool(getattr(args, "smoke", False)), bool(getattr(args, "quick", False))
        mode = "smoke" if smoke else "quick" if quick else "full"
        base = MODES[mode]
        iters = getattr(args, "iters", None)
        repeats = getattr(args, "repeats", None)
        for name, v in (("iters", iters), ("repeats", repeats)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValueError(f"--{name}: expected a positive integer, got {v!r}")
        sizes = Sizes(**{**base.__dict__, "iters": iters or base.iters,
                         "repeats": repeats or base.repeats})
        threads = getattr(args, "torch_threads", None)
        blas = getattr(args, "blas_threads", None)
        for name, v in (("torch-threads", threads), ("blas-threads", blas)):
            if v is not None and v < 1:
                raise ValueError(f"--{name}: expected a positive integer, got {v}")
        report_dir = getattr(args, "report_dir", None)
        no_progress = bool(getattr(args, "no_progress", False))
        flags = [f for f, on in (("--quick", quick), ("--smoke", smoke),
                                 ("--with-verify", getattr(args, "with_verify", False))) if on]
        if iters:
            flags.append(f"--iters {iters}")
        if repeats:
            flags.append(f"--repeats {repeats}")
        if threads:
            flags.append(f"--torch-threads {threads}")
        if blas:
            flags.append(f"--blas-threads {blas}")
        return cls(
            mode=mode, sizes=sizes, seed=int(getattr(args, "seed", 0) or 0),
            data_dir=getattr(args, "data_dir", None), device=getattr(args, "device", None),
            report_dir=Path(report_dir) if report_dir else DEFAULT_REPORT_DIR,
            default_dir=report_dir is None, json_path=getattr(args, "json", None),
            progress=not no_progress and sys.stderr.isatty(),
            with_verify=bool(getattr(args, "with_verify", False)) and mode == "full",
            torch_threads=threads, blas_threads=blas, command=" ".join([prog, *flags]),
        )


# ------------------------------------------------------------------------------ records


@dataclass
class Measurement:
    """One row: what was timed, its repeats, its baseline and its targets."""

    id: str
    section: str
    what: str
    short: str
    engine: str
    dtype: str | None = None
    device: str = "cpu"
    threads: int | None = None
    timing: Timing = field(default_factory=Timing)
    iters: int | None = None
    baseline: str | None = None
    is_baseline: bool = False
    targets: list[dict[str, Any]] = field(default_factory=list)
    claim_conditions: bool = True
    skipped: str | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    detail: str | None = None
    ratio: float | None = None
    met: bool | None = None
    peak_rss_mib: float | None = None

    def target(self, kind: str, value: float, text: str, source: str | None = None) -> None:
        self.targets.append({"kind": kind, "value": value, "text": text, "source": source,
                             "actual": None, "met": None})

    def as_dict(self) -> dict[str, Any]:
        t = self.timing.as_dict()
        per_iter = t["median"] / self.iters if (self.iters and t["median"] is not None) else None
        return {
            "id": self.id, "section": self.section, "what": self.what, "short": self.short,
            "engine": self.engine, "dtype": self.dtype, "device": self.device,
            "threads": self.threads, "unit": "s", **t, "iters": self.iters,
            "per_iter_s": per_iter, "baseline": self.baseline, "is_baseline": self.is_baseline,
            "ratio": self.ratio, "targets": self.targets, "met": self.met,
            "claim_conditions": self.claim_conditions, "skipped": self.skipped,
            "error": self.error, "detail": self.detail, "extra": self.extra,
            "peak_rss_mib": self.peak_rss_mib,
        }


def _judge(rows: Sequence[Measurement]) -> None:
    """Ratios to baselines, then each target's actual value and verdict."""
    by_id = {m.id: m for m in rows}
    for m in rows:
        base = by_id.get(m.baseline or "")
        if (base is not None and base.timing.repeats and m.timing.repeats
                and not m.error and not base.error and m.timing.median > 0):
            m.ratio = base.timing.median / m.timing.median
        for t in m.targets:
            if m.skipped or m.error or not m.timing.repeats:
                continue
            if t["kind"] == "speedup_min":
                actual = m.ratio
                t["met"] = None if actual is None else bool(actual >= t["value"])
            elif t["kind"] == "time_max":
                actual = m.timing.median
                t["met"] = bool(actual <= t["value"])
            elif t["kind"] == "abs_max":
                actual = m.extra.get(t["source"])
                t["met"] = None if actual is None else bool(abs(actual) <= t["value"])
            else:  # pragma: no cover - a programming error
                raise ValueError(f"target kind: unknown {t['kind']!r}")
            t["actual"] = actual
        verdicts = [t["met"] for t in m.targets]
        m.met = None if not verdicts or None in verdicts else all(verdicts)


# ------------------------------------------------------------------------------ progress


class _Progress:
    """One tqdm bar per section (nothing when progress is off)."""

    def __init__(self, on: bool, desc: str, total: int) -> None:
        self.bar = None
        if on:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="run", leave=False, file=sys.stderr)

    def tick(self, label: str = "") -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(label, refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _run_round_robin(
    variants: Sequence[tuple[Measurement, Callable[[], Any], Callable[[], Any] | None]],
    repeats: int,
    bar: _Progress,
    on_result: Callable[[Measurement, Any], None] | None = None,
) -> None:
    """Warm each variant up once, then time repeat r of every variant before repeat r + 1 (so
    a slow drift of the machine spreads over all rows instead of biasing one)."""
    for m, _, warm in variants:
        if warm is None or m.error or m.skipped:
            continue
        try:
            warm()
        except Exception as exc:  # noqa: BLE001 - recorded in the report
            m.error = _error(exc)
    for _ in range(repeats):
        for m, run, _ in variants:
            if m.error or m.skipped:
                bar.tick(m.short)
                continue
            try:
                seconds, out = run()
            except Exception as exc:  # noqa: BLE001 - recorded in the report
                m.error = _error(exc)
            else:
                m.timing.add(seconds)
                if on_result is not None:
                    on_result(m, out)
            bar.tick(m.short)


# ------------------------------------------------------------------------------ 1. training


def _acc_detail(m: Measurement, ref: Measurement | None) -> None:
    acc = m.extra.get("test_acc")
    if acc is None:
        return
    m.detail = f"test acc {100 * acc:.2f} %"
    if ref is not None and ref is not m and ref.extra.get("test_acc") is not None:
        d = 100 * (acc - ref.extra["test_acc"])
        m.extra["acc_diff_points"] = d
        m.detail += f" ({d:+.2f} pt vs {ref.short})"


def _record_run(m: Measurement, res: runs.RunResult) -> None:
    accs = m.extra.setdefault("test_acc_runs", [])
    accs.append(res.test_acc)
    m.extra.setdefault("test_acc", res.test_acc)
    m.extra.setdefault("train_acc", res.train_acc)
    m.extra.setdefault("evaluations", res.evaluations)
    if res.meta:
        m.extra.setdefault("meta", res.meta)


def _thread_variants(cfg: Config) -> list[int]:
    import torch

    default = torch.get_num_threads()
    return [default] if default == 1 else [default, 1]


def training_section(cfg: Config, data: runs.MnistData) -> list[Measurement]:
    import numpy as np
    import torch

    s = cfg.sizes
    plan = runs.make_plan(data, s.iters, cfg.seed)
    warm = runs.make_plan(data, min(s.warm_iters, s.iters), cfg.seed)
    claim = s.iters == CLAIM_ITERS and data.train_size == CLAIM_TRAIN_SIZE

    def timed(fn: Callable[[runs.TrainPlan], runs.RunResult]) -> tuple[Callable, Callable]:
        def run() -> tuple[float, runs.RunResult]:
            res = fn(plan)
            return res.seconds, res

        return run, (lambda: fn(warm))

    book = Measurement("train/book", "training", "book algorithm (benchmarks/book_ch4.py: "
                       "float64 weights, float32 images)", "book algorithm", "numpy", "float64",
                       iters=s.iters, is_baseline=True, claim_conditions=claim)
    variants = [(book, *timed(lambda p: runs.book_run(data, p)))]
    numpy_rows = {}
    for dt in ("float64", "float32"):
        m = Measurement(f"train/numpy/{dt}", "training",
                        f"reference_numpy.train, {dt}, default mode (fused step; loss and "
                        f"accuracy passes overlapped on a second thread when it has one)",
                        f"NumPy {dt}", "numpy", dt, iters=s.iters, baseline=book.id,
                        claim_conditions=claim)
        if dt == "float32":
            m.target("speedup_min", TARGET_F32_SPEEDUP,
                     f"≥ {TARGET_F32_SPEEDUP:g}× faster than the book algorithm")
            m.target("abs_max", TARGET_F32_ACC_POINTS,
                     f"test accuracy within {TARGET_F32_ACC_POINTS:g} pt of the book's",
                     source="acc_diff_points")
        numpy_rows[dt] = m
        variants.append((m, *timed(lambda p, dt=dt: runs.numpy_run(data, p, getattr(np, dt)))))
    torch_rows = []
    threads = _thread_variants(cfg)
    # The claim is about train's default on the CPU (mode "auto", which picks the fused step
    # for this plain-SGD run); the eager mirror is timed beside it, at the default thread
    # count, to show what the fusion buys.
    for dt in ("float64", "float32"):
        for mode, th in [("auto", th) for th in threads] + [("eager", threads[0])]:
            label = "1 thread" if th == 1 else f"{th} threads"
            how = "default mode (fused step)" if mode == "auto" else "mode='eager' (the mirror)"
            m = Measurement(f"train/torch-cpu/{dt}/{mode}/{th}t", "training",
                            f"reference_torch.train on the CPU, {dt}, {how}, {label}",
                            f"torch CPU {dt} {'fused' if mode == 'auto' else 'eager'} ({label})",
                            "torch", dt, threads=th, iters=s.iters,
                            baseline=numpy_rows[dt].id, claim_conditions=claim)
            if mode == "auto":
                m.target("speedup_min", TARGET_TORCH_CPU_SPEEDUP, f"no slower than NumPy {dt}")
            tdt = getattr(torch, dt)

            def fn(
                p: runs.TrainPlan, tdt: Any = tdt, th: int = th, mode: str = mode
            ) -> runs.RunResult:
                with torch_threads(th):
                    return runs.torch_run(data, p, tdt, "cpu", mode)

            torch_rows.append(m)
            variants.append((m, *timed(fn)))
    bar = _Progress(cfg.progress, "training runs", s.repeats * len(variants))
    try:
        _run_round_robin(variants, s.repeats, bar, _record_run)
    finally:
        bar.close()
    _acc_detail(book, None)
    for m in numpy_rows.values():
        _acc_detail(m, book)
    for m in torch_rows:
        _acc_detail(m, numpy_rows[m.dtype])
    return [v[0] for v in variants]


# ------------------------------------------------------------------------------ 2. gradient


def numgrad_section(cfg: Config, data: runs.MnistData, gpu: Any, gpu_skip: str | None,
                    gpu_name: str | None) -> list[Measurement]:
    s = cfg.sizes
    b, h = s.grad_batch, s.grad_hidden
    x, t, params = numgrad.gradient_inputs(data, b, h, cfg.seed)
    shape = f"784-{h}-10 ({numgrad.n_params(params):,} parameters), {b} images, float64"
    claim = b == CLAIM_GRAD_BATCH and h == CLAIM_GRAD_HIDDEN
    grads: dict[str, Any] = {}

    loop = Measurement("grad/loop", "numgrad", "element loop (reference_numpy "
                       "TwoLayerNet.numerical_gradient)", "element loop", "numpy", "float64",
                       is_baseline=True, claim_conditions=claim)
    fast = Measurement("grad/numpy-fast", "numgrad", "reference_numpy numerical_gradient_fast",
                       "gradient: NumPy fast", "numpy", "float64", baseline=loop.id,
                       claim_conditions=claim)
    fast.target("speedup_min", TARGET_GRAD_SPEEDUP,
                f"≥ {TARGET_GRAD_SPEEDUP:g}× faster than the loop")
    rows = [loop, fast]
    fns: dict[str, Callable[[], Any]] = {
        loop.id: numgrad.loop_fn(x, t, params), fast.id: numgrad.fast_fn(x, t, params)}
    syncs: dict[str, Callable[[], None] | None] = {loop.id: None, fast.id: None}
    threads: dict[str, int | None] = {loop.id: None, fast.id: None}
    for th in _thread_variants(cfg):
        label = "1 thread" if th == 1 else f"{th} threads"
        m = Measurement(f"grad/torch-cpu/{th}t", "numgrad",
                        f"reference_torch TwoLayerNet.numerical_gradient_fast, CPU, {label}",
                        f"gradient: torch CPU ({label})", "torch", "float64", threads=th,
                        baseline=loop.id, claim_conditions=claim)
        m.target("speedup_min", TARGET_GRAD_SPEEDUP,
                 f"≥ {TARGET_GRAD_SPEEDUP:g}× faster than the loop")
        rows.append(m)
        fns[m.id], syncs[m.id], threads[m.id] = numgrad.torch_fn(x, t, params, "cpu"), None, th
    g = Measurement("grad/torch-gpu", "numgrad",
                    f"reference_torch TwoLayerNet.numerical_gradient_fast, {gpu_name or 'GPU'}",
                    "gradient: torch GPU", "torch", "float64", device=str(gpu or "cuda"),
                    baseline=loop.id,
                    claim_conditions=claim and CLAIM_GPU in (gpu_name or ""))
    g.target("time_max", TARGET_GRAD_GPU_SECONDS,
             f"≤ {TARGET_GRAD_GPU_SECONDS * 1e3:g} ms per gradient on an {CLAIM_GPU}")
    rows.append(g)
    if gpu is None:
        g.skipped = gpu_skip
    else:
        import torch

        try:
            fns[g.id] = numgrad.torch_fn(x, t, params, gpu)
        except Exception as exc:  # noqa: BLE001 - recorded in the report
            g.error = _error(exc)
        syncs[g.id], threads[g.id] = (lambda: torch.cuda.synchronize(gpu)), None

    def make(m: Measurement) -> tuple[Callable, Callable | None]:
        fn, sync, th = fns.get(m.id), syncs.get(m.id), threads.get(m.id)

        def run() -> tuple[float, Any]:
            with torch_threads(th):
                return time_call(fn, sync)

        warm = None if m is loop else (lambda: run())
        return run, warm

    total = 1 + (len(rows) - 1) * s.grad_repeats
    bar = _Progress(cfg.progress, "numerical gradient", total)

    def keep(m: Measurement, out: Any) -> None:
        grads.setdefault(m.id, out)

    try:
        # the loop once (it is the slow thing being measured), then the others round robin
        _run_round_robin([(loop, *make(loop))], 1, bar, keep)
        others = [(m, *make(m)) for m in rows[1:]]
        _run_round_robin(others, s.grad_repeats, bar, keep)
    finally:
        bar.close()
    ref = grads.get(loop.id)
    for m in rows:
        m.extra["shape"] = shape
        if m is loop:
            m.detail = shape
        elif ref is not None and m.id in grads:
            d = numgrad.max_abs_diff(grads[m.id], ref)
            m.extra["max_abs_diff_vs_loop"] = d
            m.detail = f"max |difference| from the loop {d:.1e}"
    return rows


# ------------------------------------------------------------------------------ 3. GPU training


def gpu_section(cfg: Config, data: runs.MnistData, gpu: Any, gpu_skip: str | None,
                gpu_name: str | None, cpu_rows: Sequence[Measurement]) -> list[Measurement]:
    s = cfg.sizes
    claim = (s.iters == CLAIM_ITERS and data.train_size == CLAIM_TRAIN_SIZE
             and CLAIM_GPU in (gpu_name or ""))
    budget = TARGET_GPU_RUN_SECONDS * s.iters / CLAIM_ITERS
    budget_text = f"≤ {TARGET_GPU_RUN_SECONDS:g} s per {CLAIM_ITERS:,} it on an {CLAIM_GPU}"
    if s.iters != CLAIM_ITERS:
        budget_text += f" (≤ {budget:.3g} s for {s.iters:,})"
    numpy_ids = {m.dtype: m.id for m in cpu_rows if m.id.startswith("train/numpy/")}
    rows: list[Measurement] = []
    variants = []
    plan = runs.make_plan(data, s.iters, cfg.seed)
    warm = runs.make_plan(data, min(s.warm_iters, s.iters), cfg.seed)
    where = gpu_name or "the GPU"
    for dt in ("float32", "float64"):
        eager = Measurement(f"gpu/{dt}/eager", "gpu", f"reference_torch.train on {where}, {dt}, "
                            "mode='eager'", f"GPU {dt} eager", "torch", dt,
                            device=str(gpu or "cuda"), iters=s.iters,
                            baseline=numpy_ids.get(dt), claim_conditions=claim)
        graph = Measurement(f"gpu/{dt}/graph", "gpu", f"reference_torch.train on {where}, {dt}, "
                            "mode='graph' (CUDA graph)", f"GPU {dt} graph", "torch", dt,
                            device=str(gpu or "cuda"), iters=s.iters, baseline=eager.id,
                            claim_conditions=claim)
        graph.target("time_max", budget, budget_text)
        graph.target("speedup_min", TARGET_GRAPH_SPEEDUP,
                     f"≥ {TARGET_GRAPH_SPEEDUP:g}× faster than eager")
        rows += [eager, graph]
        if gpu is None:
            eager.skipped = graph.skipped = gpu_skip
            continue
        import torch

        tdt = getattr(torch, dt)
        for m, mode in ((eager, "eager"), (graph, "graph")):
            def run(tdt: Any = tdt, mode: str = mode) -> tuple[float, runs.RunResult]:
                res = runs.torch_run(data, plan, tdt, gpu, mode)
                return res.seconds, res

            def warm_fn(tdt: Any = tdt, mode: str = mode) -> Any:
                return runs.torch_run(data, warm, tdt, gpu, mode)

            variants.append((m, run, warm_fn))
    if variants:
        bar = _Progress(cfg.progress, "GPU training", s.repeats * len(variants))
        try:
            _run_round_robin(variants, s.repeats, bar, _record_run)
        finally:
            bar.close()
    for m in rows:
        if "test_acc" in m.extra:
            acc = m.extra["test_acc"]
            m.detail = f"test acc {100 * acc:.2f} %"
            mode = (m.extra.get("meta") or {}).get("mode")
            if mode:
                m.detail += f", mode used: {mode}"
    return rows


# ------------------------------------------------------------------------------ 4. scaling


def scaling_section(cfg: Config, data: runs.MnistData, gpu: Any) -> dict[str, Any]:
    s = cfg.sizes
    engines = [scaling.Engine(f"numpy-{dt}", f"NumPy {dt}", "numpy", dt)
               for dt in ("float64", "float32")]
    for dt in ("float64", "float32"):
        for th in _thread_variants(cfg):
            label = "1 thread" if th == 1 else f"{th} threads"
            engines.append(scaling.Engine(f"torch-cpu-{dt}-{th}t", f"torch CPU {dt} ({label})",
                                          "torch", dt, "cpu", th))
    if gpu is not None:
        engines += [scaling.Engine(f"torch-gpu-{dt}", f"torch GPU {dt} (eager)", "torch", dt,
                                   str(gpu)) for dt in ("float64", "float32")]
    n_points = len(scaling.resolve_batches(s.scaling_batches, data.train_size)) + len(
        s.scaling_hidden)
    bar = _Progress(cfg.progress, "scaling", n_points * len(engines))
    try:
        return scaling.sweep(
            data, engines, batch_sizes=s.scaling_batches, hidden_sizes=s.scaling_hidden,
            base_iters=s.scaling_base, min_iters=s.scaling_min, warmup=s.scaling_warmup,
            seed=cfg.seed, tick=bar.tick,
        )
    finally:
        bar.close()


# ------------------------------------------------------------------------------ 5. verify


def verify_section(cfg: Config, cmd: Sequence[str] | None = None) -> list[Measurement]:
    """Time ``python -m verify --no-progress`` (or ``cmd``) as a subprocess: wall time, exit
    status and peak RSS (``getrusage(RUSAGE_CHILDREN).ru_maxrss``, the largest child so far)."""
    m = Measurement("verify/full", "verify", "python -m verify --no-progress (all check "
                    "groups, subprocess)", "python -m verify", "numpy+torch", None)
    if not cfg.with_verify:
        m.skipped = (f"not in --{cfg.mode} runs" if cfg.mode != "full"
                     else "not requested (--with-verify)")
        return [m]
    if cmd is None:
        cmd = [sys.executable, "-m", "verify", "--no-progress"]
        if cfg.data_dir:
            cmd += ["--data-dir", cfg.data_dir]
        if cfg.device:
            cmd += ["--device", cfg.device]
    cmd = list(cmd)
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, check=False)
    except OSError as exc:
        m.error = _error(exc)
        return [m]
    m.timing.add(time.perf_counter() - start)
    # ru_maxrss of the largest child waited for: KiB on Linux, bytes on macOS
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    m.peak_rss_mib = peak / 2**20 if sys.platform == "darwin" else peak / 2**10
    log = cfg.report_dir / "verify_output.txt"
    atomic_write_bytes(log, proc.stdout + b"\n--- stderr ---\n" + proc.stderr)
    m.extra.update(returncode=proc.returncode, command=cmd[1:], output=log.name,
                   peak_rss_mib=m.peak_rss_mib)
    verdict = "all checks passed" if proc.returncode == 0 else "checks failed"
    m.detail = f"exit {proc.returncode} ({verdict}), output in {log.name}"
    return [m]


# ------------------------------------------------------------------------------ main


def _gpu(cfg: Config) -> tuple[Any, str | None, str | None]:
    """(device, reason it is not used, name)."""
    import torch

    from reference_torch.device import resolve_device

    if not torch.cuda.is_available():
        return None, "no CUDA device", None
    try:
        dev = resolve_device(cfg.device)
    except (ValueError, RuntimeError) as exc:
        return None, f"device: {exc}", None
    if dev.type != "cuda":
        return None, f"device {dev} chosen (--device / $NNPARITY_DEVICE)", None
    if dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    return dev, None, torch.cuda.get_device_name(dev)


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


def _summary(rows: Sequence[Measurement]) -> dict[str, Any]:
    evaluated = [m for m in rows if m.met is not None]
    return {
        "evaluated": len(evaluated),
        "met": sum(1 for m in evaluated if m.met),
        "missed": [m.short for m in evaluated if not m.met],
        "skipped": [m.short for m in rows if m.skipped],
        "errors": [m.short for m in rows if m.error],
    }


def write_reports(result: dict[str, Any], cfg: Config) -> dict[str, Path]:
    """bench.json, RESULTS.md, bench.png into the report folder (and the published copy)."""
    out = cfg.report_dir
    png = out / "bench.png"
    paths = {"json": out / "bench.json", "markdown": out / "RESULTS.md", "png": png}
    text = json.dumps(_finite(result), indent=1, allow_nan=False).encode()
    atomic_write_bytes(paths["json"], text)
    if cfg.json_path:
        paths["json_copy"] = atomic_write_bytes(cfg.json_path, text)
    atomic_write_bytes(png, render.render_png(result))
    atomic_write_bytes(paths["markdown"], render.render_markdown(result, png.name).encode())
    if cfg.default_dir and cfg.mode == "full":
        rel = os.path.relpath(png, PUBLISHED_MD.parent)
        paths["published"] = atomic_write_bytes(
            PUBLISHED_MD, render.render_markdown(result, rel).encode())
    return paths


def run_bench(cfg: Config) -> dict[str, Any]:
    import torch

    with torch_threads(cfg.torch_threads), blas_threads_set(cfg.blas_threads):
        gpu, gpu_skip, gpu_name = _gpu(cfg)
        machine = machine_info(gpu)
        start = time.perf_counter()
        data = runs.load_data(cfg.data_dir)
        rows: list[Measurement] = []
        rows += training_section(cfg, data)
        rows += numgrad_section(cfg, data, gpu, gpu_skip, gpu_name)
        rows += gpu_section(cfg, data, gpu, gpu_skip, gpu_name, rows)
        scale = scaling_section(cfg, data, gpu)
        rows += verify_section(cfg)
        _judge(rows)
        machine["load_average_end"] = load_average()
        s = cfg.sizes
        grad_shape = f"784-{s.grad_hidden}-10 on {s.grad_batch} MNIST images"
        return {
            "schema": SCHEMA,
            "config": {
                "command": cfg.command, "mode": cfg.mode, "iters": s.iters,
                "repeats": s.repeats, "grad_repeats": s.grad_repeats, "seed": cfg.seed,
                "data": data.source, "train_size": data.train_size,
                "torch_threads": torch.get_num_threads(),
                "torch_threads_set": cfg.torch_threads is not None,
                "torch_thread_variants": _thread_variants(cfg),
                "blas_threads": blas_threads(), "blas_threads_set": cfg.blas_threads is not None,
                "gpu_skipped": gpu_skip, "seconds": round(time.perf_counter() - start, 2),
                "claims": {
                    "iters": CLAIM_ITERS, "train_size": CLAIM_TRAIN_SIZE,
                    "grad_batch": CLAIM_GRAD_BATCH, "grad_hidden": CLAIM_GRAD_HIDDEN,
                    "gpu": CLAIM_GPU,
                },
            },
            "section_titles": {
                "training": f"Training on the CPU: the book's MNIST run ({s.iters:,} iterations, "
                            f"784-50-10, batch 100, lr 0.1, one plan for all)",
                "numgrad": f"Numerical gradient of TwoLayerNet {grad_shape}",
                "gpu": f"Training on the GPU ({s.iters:,} iterations): eager vs CUDA graph",
                "verify": "Full verification run (python -m verify)",
            },
            "machine": machine,
            "measurements": [m.as_dict() for m in rows],
            "summary": _summary(rows),
            "scaling": scale,
        }


def main(args: argparse.Namespace | Sequence[str] | None = None) -> int:
    """Entry of ``python -m verify bench`` (argparse namespace) or ``python -m verify.bench``
    (argv list).  0: measured (targets may be missed, see the report); 1: a measurement
    failed with an error; 2: bad options."""
    prog = "python -m verify bench"
    if args is None or not isinstance(args, argparse.Namespace):
        args = build_parser().parse_args(None if args is None else list(args))
        prog = "python -m verify.bench"
    try:
        cfg = Config.from_args(args, prog)
    except ValueError as exc:
        print(f"nnparity bench: error: {exc}", file=sys.stderr)
        return 2
    if cfg.blas_threads is not None and blas_threads() is None:
        print("nnparity bench: error: --blas-threads: NumPy's OpenBLAS could not be reached to "
              "set its threads; set OPENBLAS_NUM_THREADS instead", file=sys.stderr)
        return 2
    result = run_bench(cfg)
    paths = write_reports(result, cfg)
    print(render.render_text(result))
    print("\nwritten: " + ", ".join(str(p) for p in paths.values()), file=sys.stderr)
    return 1 if result["summary"]["errors"] else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
