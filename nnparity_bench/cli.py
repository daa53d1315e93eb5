"""``python -m nnparity_bench``: every speed claim measured as a ratio, in one run, on one machine.

Read top to bottom: choose the sizes (full, ``--quick`` or the test's ``--smoke``), describe the
machine, load MNIST, then measure, each thing repeated and summarised as median [min–max]:

1. training on the CPU: the book's run (784-50-10, batch 100, lr 0.1, 10,000 iterations) with
   the plain book algorithm (``nnparity_bench/book_ch4.py``), ``reference_numpy.train`` in float64
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
met), ``bench.md`` (the table and a header naming machine, date, versions and threads) and
``bench.png`` (ratios against targets, scaling) into ``--report-dir`` or else the current
directory, never into the installed package, all atomically; ``--publish PATH`` (full runs only)
also writes the Markdown section the README shows (this repository's: ``benchmarks/RESULTS.md``).
Benchmarks assert nothing: missed targets are reported, and the exit status is 1 only when a
measurement failed with an error.

The modules: ``config`` (claims, targets, sizes, options), ``measure`` (a row, its verdict, the
round-robin timing), ``sections`` (what each section measures), this one (the run and its files).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reference_numpy._validate import atomic_write_bytes

from . import render, runs
from .config import (
    CLAIM_GPU,
    CLAIM_GRAD_BATCH,
    CLAIM_GRAD_HIDDEN,
    CLAIM_ITERS,
    CLAIM_TRAIN_SIZE,
    PROG,
    REPORT_FILES,
    Config,
    build_parser,
)
from .harness import blas_threads, blas_threads_set, load_average, machine_info, torch_threads
from .measure import Measurement, judge, summary
from .sections import (
    find_gpu,
    gpu_section,
    numgrad_section,
    scaling_section,
    thread_variants,
    training_section,
    verify_section,
)

SCHEMA = "nnparity-bench/1"


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v



def write_reports(result: dict[str, Any], cfg: Config) -> dict[str, Path]:
    """bench.json, bench.md and bench.png into the report folder (and, with ``--publish``, the
    README's section), each atomically."""
    out = cfg.report_dir
    paths = {kind: out / name for kind, name in REPORT_FILES.items()}
    png = paths["png"]
    text = json.dumps(_finite(result), indent=1, allow_nan=False).encode()
    atomic_write_bytes(paths["json"], text)
    if cfg.json_path:
        paths["json_copy"] = atomic_write_bytes(cfg.json_path, text)
    atomic_write_bytes(png, render.render_png(result))
    atomic_write_bytes(paths["markdown"], render.render_markdown(result, png.name).encode())
    if cfg.publish is not None:
        rel = Path(os.path.relpath(png.resolve(), cfg.publish.resolve().parent)).as_posix()
        text = render.render_markdown(result, rel) + _kept_section(cfg.publish)
        paths["published"] = atomic_write_bytes(cfg.publish, text.encode())
    return paths


#: In a published file, everything from this line on is written by hand (measurements that the
#: code's comments point to) and is kept when a run rewrites the part above it.
KEEP_MARKER = "<!-- kept by python -m nnparity_bench --publish: written by hand below -->"


def _kept_section(path: Path) -> str:
    """The hand-written tail of an existing published file ("" when there is none)."""
    try:
        old = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    at = old.find(KEEP_MARKER)
    return "" if at < 0 else "\n" + old[at:]


def run_bench(cfg: Config) -> dict[str, Any]:
    import torch

    with torch_threads(cfg.torch_threads), blas_threads_set(cfg.blas_threads):
        gpu, gpu_skip, gpu_name = find_gpu(cfg)
        machine = machine_info(gpu)
        start = time.perf_counter()
        data = runs.load_data(cfg.data_dir)
        rows: list[Measurement] = []
        if not cfg.gpu_only:
            rows += training_section(cfg, data)
        rows += numgrad_section(cfg, data, gpu, gpu_skip, gpu_name)
        rows += gpu_section(cfg, data, gpu, gpu_skip, gpu_name, rows)
        scale = None if cfg.gpu_only else scaling_section(cfg, data, gpu)
        rows += verify_section(cfg)
        judge(rows)
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
                "torch_thread_variants": thread_variants(cfg),
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
            "summary": summary(rows),
            "scaling": scale,
        }


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Entry of ``python -m nnparity_bench`` (and of ``python -m verify bench``, which passes its
    own ``prog``).  0: measured (targets may be missed, see the report); 1: a measurement
    failed with an error; 2: bad options."""
    args = build_parser(prog).parse_args(None if argv is None else list(argv))
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
