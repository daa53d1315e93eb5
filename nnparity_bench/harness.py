"""Timing statistics and the description every figure carries: machine, versions, threads.

A figure without its machine is not a figure: ``machine_info`` records the platform, the CPU
model (``/proc/cpuinfo``), the logical CPUs this process may use, the load average, the Python,
NumPy and torch versions, NumPy's BLAS (name, version and, where the library answers, its
runtime thread count), the thread environment variables, torch's intra-/inter-op threads and,
when a CUDA device is used, its name.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as _dt
import glob
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OMP_WAIT_POLICY",
    "GOMP_SPINCOUNT",
)


@dataclass
class Timing:
    """Repeated measurements of one thing, in seconds."""

    times: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.times.append(float(seconds))

    @property
    def repeats(self) -> int:
        return len(self.times)

    @property
    def median(self) -> float:
        return float(statistics.median(self.times))

    @property
    def min(self) -> float:
        return float(min(self.times))

    @property
    def max(self) -> float:
        return float(max(self.times))

    def as_dict(self) -> dict[str, Any]:
        if not self.times:
            return {"times": [], "median": None, "min": None, "max": None, "repeats": 0}
        return {
            "times": list(self.times),
            "median": self.median,
            "min": self.min,
            "max": self.max,
            "repeats": self.repeats,
        }


def time_call(fn: Callable[[], Any], sync: Callable[[], None] | None = None) -> tuple[float, Any]:
    """(seconds, result) of one call; ``sync`` (e.g. torch.cuda.synchronize) before and after."""
    if sync is not None:
        sync()
    start = time.perf_counter()
    out = fn()
    if sync is not None:
        sync()
    return time.perf_counter() - start, out


# ------------------------------------------------------------------------------ threads


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[int]:
    """Run the block with ``torch.set_num_threads(n)`` (None: leave as is); restore after."""
    import torch

    old = torch.get_num_threads()
    if n is not None and n != old:
        torch.set_num_threads(n)
    try:
        yield torch.get_num_threads()
    finally:
        if torch.get_num_threads() != old:
            torch.set_num_threads(old)


def _openblas_lib() -> Any | None:
    """The OpenBLAS that NumPy loaded (its wheels bundle one under numpy.libs), or None."""
    base = Path(np.__file__).resolve().parent
    patterns = [
        str(base.parent / "numpy.libs" / "*openblas*"),
        str(base / ".dylibs" / "*openblas*"),
    ]
    for pat in patterns:
        for path in sorted(glob.glob(pat)):
            try:
                return ctypes.CDLL(path)
            except OSError:
                continue
    return None


_GET_THREADS = (
    "scipy_openblas_get_num_threads64_",
    "scipy_openblas_get_num_threads",
    "openblas_get_num_threads64_",
    "openblas_get_num_threads",
)


def blas_threads() -> int | None:
    """NumPy's BLAS thread count as the library reports it at run time (None if unknown)."""
    lib = _openblas_lib()
    if lib is None:
        return None
    for name in _GET_THREADS:
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.restype = ctypes.c_int
            return int(fn())
    return None


_SET_THREADS = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)


@contextlib.contextmanager
def blas_threads_set(n: int | None) -> Iterator[int | None]:
    """Run the block with NumPy's OpenBLAS on ``n`` threads (None: leave as is); restore after.

    Raises RuntimeError when NumPy's BLAS cannot be reached (set OPENBLAS_NUM_THREADS then)."""
    if n is None:
        yield blas_threads()
        return
    lib = _openblas_lib()
    setter = next((getattr(lib, f) for f in _SET_THREADS if lib is not None
                   and hasattr(lib, f)), None)
    old = blas_threads()
    if setter is None or old is None:
        raise RuntimeError(
            "blas threads: NumPy's OpenBLAS could not be reached to set its thread count; "
            "set OPENBLAS_NUM_THREADS in the environment instead"
        )
    setter.argtypes = [ctypes.c_int]
    setter(int(n))
    try:
        yield blas_threads()
    finally:
        setter(int(old))


def blas_info() -> dict[str, Any]:
    """NumPy's BLAS: name, version, build configuration and runtime threads (best effort)."""
    info: dict[str, Any] = {"name": None, "version": None, "config": None}
    try:
        cfg = np.show_config(mode="dicts")  # NumPy >= 1.25
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        info.update(
            name=blas.get("name"),
            version=blas.get("version"),
            config=blas.get("openblas configuration"),
        )
    except (TypeError, AttributeError):  # older NumPy: show_config prints only
        pass
    info["threads"] = blas_threads()
    return info


# ------------------------------------------------------------------------------ machine


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def usable_cpus() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count()


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def git_commit() -> str | None:
    """HEAD of the repository this package lives in (read only), or None when installed."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def gpu_info(device: Any) -> dict[str, Any]:
    import torch

    dev = torch.device(device)
    props = torch.cuda.get_device_properties(dev)
    return {
        "device": str(dev),
        "name": torch.cuda.get_device_name(dev),
        "capability": ".".join(map(str, torch.cuda.get_device_capability(dev))),
        "memory_gib": round(props.total_memory / 2**30, 1),
        "cuda": torch.version.cuda,
    }


def machine_info(gpu_device: Any = None) -> dict[str, Any]:
    """Everything a reader needs to place a figure: see the module docstring."""
    import torch

    from reference_torch.device import PrecisionSettings

    info: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable_cpus(),
        "load_average_start": load_average(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "numpy": np.__version__,
        "torch": torch.__version__,
        "blas": blas_info(),
        "thread_env": {k: os.environ.get(k) for k in THREAD_ENV_VARS},
        "torch_threads": torch.get_num_threads(),  # as set for the run
        "torch_interop_threads": torch.get_num_interop_threads(),
        "torch_precision": PrecisionSettings.current().as_dict(),
        "git_commit": git_commit(),
        "gpu": None,
    }
    if gpu_device is not None:
        info["gpu"] = gpu_info(gpu_device)
    return info
