"""The five sections of a bench run, each a list of measurement rows: CPU training, the
numerical gradient, GPU training, scaling with batch and hidden size, the full verify run."""

from __future__ import annotations

import importlib.util
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from reference_numpy._validate import atomic_write_bytes

from . import numgrad, runs, scaling
from .config import (
    CLAIM_GPU,
    CLAIM_GRAD_BATCH,
    CLAIM_GRAD_HIDDEN,
    CLAIM_ITERS,
    CLAIM_TRAIN_SIZE,
    TARGET_F32_ACC_POINTS,
    TARGET_F32_SPEEDUP,
    TARGET_GPU_RUN_SECONDS,
    TARGET_GRAD_GPU_SECONDS,
    TARGET_GRAD_SPEEDUP,
    TARGET_GRAPH_SPEEDUP,
    TARGET_TORCH_CPU_SPEEDUP,
    VERIFY_LOG,
    Config,
)
from .harness import time_call, torch_threads
from .measure import Measurement, Progress, error_text, run_round_robin


def _env_finding(package: str) -> dict[str, str]:
    """This environment, with the folder that holds ``package`` first on PYTHONPATH."""
    env = dict(os.environ)
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.origin:
        root = os.path.dirname(os.path.dirname(os.path.abspath(spec.origin)))
        env["PYTHONPATH"] = os.pathsep.join(
            [root, *filter(None, [env.get("PYTHONPATH")])])
    return env


def find_gpu(cfg: Config) -> tuple[Any, str | None, str | None]:
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


def thread_variants(cfg: Config) -> list[int]:
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

    book = Measurement("train/book", "training", "book algorithm (nnparity_bench/book_ch4.py: "
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
    threads = thread_variants(cfg)
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
    bar = Progress(cfg.progress, "training runs", s.repeats * len(variants))
    try:
        run_round_robin(variants, s.repeats, bar, _record_run)
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
    for th in thread_variants(cfg):
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
            g.error = error_text(exc)
        syncs[g.id], threads[g.id] = (lambda: torch.cuda.synchronize(gpu)), None

    def make(m: Measurement) -> tuple[Callable, Callable | None]:
        fn, sync, th = fns.get(m.id), syncs.get(m.id), threads.get(m.id)

        def run() -> tuple[float, Any]:
            with torch_threads(th):
                return time_call(fn, sync)

        warm = None if m is loop else (lambda: run())
        return run, warm

    total = 1 + (len(rows) - 1) * s.grad_repeats
    bar = Progress(cfg.progress, "numerical gradient", total)

    def keep(m: Measurement, out: Any) -> None:
        grads.setdefault(m.id, out)

    try:
        # the loop once (it is the slow thing being measured), then the others round robin
        run_round_robin([(loop, *make(loop))], 1, bar, keep)
        others = [(m, *make(m)) for m in rows[1:]]
        run_round_robin(others, s.grad_repeats, bar, keep)
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
        bar = Progress(cfg.progress, "GPU training", s.repeats * len(variants))
        try:
            run_round_robin(variants, s.repeats, bar, _record_run)
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
        for th in thread_variants(cfg):
            label = "1 thread" if th == 1 else f"{th} threads"
            engines.append(scaling.Engine(f"torch-cpu-{dt}-{th}t", f"torch CPU {dt} ({label})",
                                          "torch", dt, "cpu", th))
    if gpu is not None:
        engines += [scaling.Engine(f"torch-gpu-{dt}", f"torch GPU {dt} (eager)", "torch", dt,
                                   str(gpu)) for dt in ("float64", "float32")]
    n_points = len(scaling.resolve_batches(s.scaling_batches, data.train_size)) + len(
        s.scaling_hidden)
    bar = Progress(cfg.progress, "scaling", n_points * len(engines))
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
        # in the current directory, with the verify this process would import (a checkout's
        # or the installed one) first on the child's path
        proc = subprocess.run(cmd, env=_env_finding("verify"), capture_output=True, check=False)
    except OSError as exc:
        m.error = error_text(exc)
        return [m]
    m.timing.add(time.perf_counter() - start)
    # ru_maxrss of the largest child waited for: KiB on Linux, bytes on macOS
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    m.peak_rss_mib = peak / 2**20 if sys.platform == "darwin" else peak / 2**10
    log = cfg.report_dir / VERIFY_LOG
    atomic_write_bytes(log, proc.stdout + b"\n--- stderr ---\n" + proc.stderr)
    m.extra.update(returncode=proc.returncode, command=cmd[1:], output=log.name,
                   peak_rss_mib=m.peak_rss_mib)
    verdict = "all checks passed" if proc.returncode == 0 else "checks failed"
    m.detail = f"exit {proc.returncode} ({verdict}), output in {log.name}"
    return [m]


