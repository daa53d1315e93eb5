"""What one bench run measures: the claims and their targets, the sizes of each mode, the
options and the resolved configuration."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from . import scaling

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


PROG = "python -m nnparity_bench"
# What a run writes into its report folder (the current directory unless --report-dir).
REPORT_FILES = {"json": "bench.json", "markdown": "bench.md", "png": "bench.png"}
VERIFY_LOG = "bench_verify_output.txt"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """Options of ``python -m nnparity_bench`` (also reached as ``python -m verify bench``)."""
    p = argparse.ArgumentParser(
        prog=prog,
        description="Measure every speed claim as a ratio in one run on this machine.",
    )
    p.add_argument("--quick", action="store_true",
                   help="1,000 iterations, 3 repeats, loop gradient on 10 images, no verify run")
    p.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--iters", type=int, default=None,
                   help="training iterations (default 10,000; 1,000 with --quick)")
    p.add_argument("--repeats", type=int, default=None,
                   help="repeats per measurement (default 5; 3 with --quick)")
    p.add_argument("--gpu-only", action="store_true",
                   help="only the sections with GPU rows (numerical gradient, GPU training): no "
                   "CPU training runs, scaling or verify run (scripts/gpu_check.sh uses it)")
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
                   help=f"where {', '.join(REPORT_FILES.values())} go (default: the current "
                   "directory)")
    p.add_argument("--publish", default=None, metavar="PATH",
                   help="full runs only: also write the Markdown section the README shows here "
                   "(this repository's: benchmarks/RESULTS.md), the chart linked relative to it")
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
    publish: Path | None
    json_path: str | None
    progress: bool
    with_verify: bool
    torch_threads: int | None
    blas_threads: int | None
    command: str
    gpu_only: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace, prog: str = PROG) -> Config:
        """Validate the parsed options (a ValueError naming the option) and resolve them."""
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
        publish = getattr(args, "publish", None)
        if publish is not None and mode != "full":
            raise ValueError(f"--publish: only a full run is published (the README shows it), "
                             f"got a --{mode} run")
        no_progress = bool(getattr(args, "no_progress", False))
        gpu_only = bool(getattr(args, "gpu_only", False))
        flags = [f for f, on in (("--quick", quick), ("--smoke", smoke), ("--gpu-only", gpu_only),
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
            report_dir=Path(report_dir) if report_dir else Path.cwd(),
            publish=Path(publish) if publish else None, json_path=getattr(args, "json", None),
            progress=not no_progress and sys.stderr.isatty(),
            with_verify=bool(getattr(args, "with_verify", False)) and mode == "full",
            torch_threads=threads, blas_threads=blas, command=" ".join([prog, *flags]),
            gpu_only=gpu_only,
        )

