"""Device and dtype choice, and the precision settings a reference run needs.

A float32 matmul on an Ampere-or-later GPU may silently run in TF32 (10-bit mantissa, relative
error ~1e-3 instead of ~1e-7), and cuDNN/cuBLAS may pick non-deterministic algorithms.  Neither
is visible in the results except as unexplained differences from NumPy, so a reference run
turns them off with ``precision_guard`` and can assert they are off with
``assert_reference_precision``.

* ``resolve_device(device)``: the argument, else ``$NNPARITY_DEVICE``, else cuda if available,
  else cpu.
* ``resolve_dtype(dtype)``: float32 (the default here, the fast one) or float64.
"""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
import torch

__all__ = [
    "DEVICE_ENV",
    "PrecisionError",
    "PrecisionSettings",
    "assert_reference_precision",
    "environment_info",
    "precision_guard",
    "resolve_device",
    "resolve_dtype",
]

#: Environment variable read by ``resolve_device`` when no device is given.
DEVICE_ENV = "NNPARITY_DEVICE"

#: cuBLAS needs a fixed workspace to be deterministic (see the CUDA reproducibility notes).
_CUBLAS_ENV = "CUBLAS_WORKSPACE_CONFIG"
_CUBLAS_DETERMINISTIC = ":4096:8"

_DTYPES = {
    "float32": torch.float32,
    "float": torch.float32,
    "float64": torch.float64,
    "double": torch.float64,
}


class PrecisionError(RuntimeError):
    """The process's precision settings would make a reference comparison meaningless."""


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The device to run on: ``device``, else ``$NNPARITY_DEVICE``, else cuda if available, else
    cpu.  A bare "cuda" becomes "cuda:<current>"; asking for an unavailable backend is an error.
    """
    source = "device"
    if device is None:
        env = os.environ.get(DEVICE_ENV, "").strip()
        if env:
            device, source = env, f"${DEVICE_ENV}"
        else:
            device = "cuda" if torch.cuda.is_available() else "cpu"
    if isinstance(device, torch.device):
        dev = device
    elif isinstance(device, str):
        try:
            dev = torch.device(device)
        except RuntimeError as e:
            raise ValueError(
                f"{source}: expected a device such as 'cpu', 'cuda' or 'cuda:1', "
                f"got {device!r} ({e})"
            ) from None
    else:
        raise TypeError(
            f"{source}: expected a str or torch.device, got {type(device).__name__} {device!r}"
        )
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"{source}: expected an available device, got {str(dev)!r} but "
                "torch.cuda.is_available() is False (CPU-only build or no GPU visible)"
            )
        index = torch.cuda.current_device() if dev.index is None else dev.index
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"{source}: expected a CUDA index below {torch.cuda.device_count()}, got {index}"
            )
        dev = torch.device("cuda", index)
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{source}: expected an available device, got 'mps' (not available)")
    return dev


def resolve_dtype(dtype: object = None, default: torch.dtype = torch.float32) -> torch.dtype:
    """torch.float32 or torch.float64 from a name ("float32"/"float64"), a torch dtype or a NumPy
    dtype; ``None`` gives ``default`` (float32: the fast one; reference work asks for float64).
    """
    if dtype is None:
        return default
    if isinstance(dtype, torch.dtype):
        dt = dtype
    elif isinstance(dtype, str) and dtype.removeprefix("torch.") in _DTYPES:
        dt = _DTYPES[dtype.removeprefix("torch.")]
    else:
        try:
            dt = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}.get(
                np.dtype(dtype)
            )
        except TypeError:
            dt = None
        if dt is None:
            raise TypeError(f"dtype: expected float32 or float64, got {dtype!r}")
    if dt not in (torch.float32, torch.float64):
        raise TypeError(f"dtype: expected float32 or float64, got {dt}")
    return dt


def _fp32_precision(path: str) -> str:
    """The torch >= 2.9 ``fp32_precision`` of a backend ("tf32", "ieee", "bf16", "none" =
    inherit from ``torch.backends.fp32_precision``), or "none" where the API is missing."""
    obj: object = torch.backends
    for part in path.split("."):
        obj = getattr(obj, part, None)
    value = getattr(obj, "fp32_precision", "none") if obj is not None else "none"
    if value == "none" and path != "":
        return getattr(torch.backends, "fp32_precision", "none")
    return str(value)


def _read_flag(backend: str) -> bool:
    """allow_tf32 of "cuda.matmul" or "cudnn", falling back to the new API when a mix of legacy
    and new writes makes torch refuse the legacy read."""
    try:
        if backend == "cuda.matmul":
            return bool(torch.backends.cuda.matmul.allow_tf32)
        return bool(torch.backends.cudnn.allow_tf32)
    except RuntimeError:
        path = "cuda.matmul" if backend == "cuda.matmul" else "cudnn.conv"
        return _fp32_precision(path) == "tf32"


def _read_matmul_precision() -> str:
    """torch.get_float32_matmul_precision(), or its reading from the CUDA matmul backend when
    torch refuses to answer for mixed settings."""
    try:
        return torch.get_float32_matmul_precision()
    except RuntimeError:
        cuda = _fp32_precision("cuda.matmul")
        cpu = _fp32_precision("mkldnn.matmul")
        if "bf16" in (cuda, cpu):
            return "medium"
        return "high" if "tf32" in (cuda, cpu) else "highest"


@dataclass(frozen=True)
class PrecisionSettings:
    """The process-wide switches that change float32 results or make them run-to-run different."""

    allow_tf32_matmul: bool
    allow_tf32_cudnn: bool
    float32_matmul_precision: str
    deterministic_algorithms: bool
    cudnn_benchmark: bool
    deterministic_warn_only: bool = False

    @classmethod
    def current(cls) -> PrecisionSettings:
        """The settings in effect now."""
        return cls(
            allow_tf32_matmul=_read_flag("cuda.matmul"),
            allow_tf32_cudnn=_read_flag("cudnn"),
            float32_matmul_precision=_read_matmul_precision(),
            deterministic_algorithms=torch.are_deterministic_algorithms_enabled(),
            cudnn_benchmark=bool(torch.backends.cudnn.benchmark),
            deterministic_warn_only=torch.is_deterministic_algorithms_warn_only_enabled(),
        )

    @property
    def tf32_enabled(self) -> bool:
        """True when any float32 matmul or convolution may run in TF32 (or bf16) on CUDA."""
        return (
            self.allow_tf32_matmul
            or self.allow_tf32_cudnn
            or self.float32_matmul_precision != "highest"
        )

    def apply(self) -> None:
        """Make these the process's settings, through the legacy switches only (torch >= 2.9
        refuses to read them after a mix of legacy and ``fp32_precision`` writes).  The matmul
        precision is set before allow_tf32, since setting it also rewrites allow_tf32."""
        torch.set_float32_matmul_precision(self.float32_matmul_precision)
        torch.backends.cuda.matmul.allow_tf32 = self.allow_tf32_matmul
        torch.backends.cudnn.allow_tf32 = self.allow_tf32_cudnn
        torch.use_deterministic_algorithms(
            self.deterministic_algorithms, warn_only=self.deterministic_warn_only
        )
        torch.backends.cudnn.benchmark = self.cudnn_benchmark

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@contextlib.contextmanager
def precision_guard(*, allow_tf32: bool = False) -> Iterator[PrecisionSettings]:
    """Run the block with reference precision, then restore the previous settings.

    Inside: TF32 off for matmul and cuDNN (unless ``allow_tf32``), float32 matmul precision
    "highest" ("high" with ``allow_tf32``), ``torch.use_deterministic_algorithms(True)``,
    ``cudnn.benchmark`` off, and ``$CUBLAS_WORKSPACE_CONFIG=:4096:8`` if it was unset (cuBLAS
    refuses deterministic mode without it).  Yields the settings in force inside the block, so
    a report can record them.  Restores everything on exit, also when the block raises.
    """
    old = PrecisionSettings.current()
    old_cublas = os.environ.get(_CUBLAS_ENV)
    inside = PrecisionSettings(
        allow_tf32_matmul=allow_tf32,
        allow_tf32_cudnn=allow_tf32,
        float32_matmul_precision="high" if allow_tf32 else "highest",
        deterministic_algorithms=True,
        cudnn_benchmark=False,
        deterministic_warn_only=False,
    )
    try:
        if old_cublas is None:
            os.environ[_CUBLAS_ENV] = _CUBLAS_DETERMINISTIC
        inside.apply()
        yield PrecisionSettings.current()
    finally:
        old.apply()
        if old_cublas is None:
            os.environ.pop(_CUBLAS_ENV, None)


def assert_reference_precision(
    allow_tf32: bool = False, device: str | torch.device | None = None
) -> PrecisionSettings:
    """Raise PrecisionError if TF32 (or reduced float32 matmul precision) is enabled and not
    declared with ``allow_tf32=True``; return the current settings otherwise.

    The switches are process-wide and checked whatever the device, unless ``device`` is given
    and is not a CUDA device (TF32 exists only there).
    """
    settings = PrecisionSettings.current()
    if device is not None and torch.device(device).type != "cuda":
        return settings
    if settings.tf32_enabled and not allow_tf32:
        on = [
            name
            for name, flag in (
                ("torch.backends.cuda.matmul.allow_tf32", settings.allow_tf32_matmul),
                ("torch.backends.cudnn.allow_tf32", settings.allow_tf32_cudnn),
                (
                    "torch.get_float32_matmul_precision() == "
                    f"{settings.float32_matmul_precision!r}",
                    settings.float32_matmul_precision != "highest",
                ),
            )
            if flag
        ]
        raise PrecisionError(
            f"TF32: expected it off for reference precision, got {', '.join(on)}; run inside "
            "reference_torch.device.precision_guard() or pass allow_tf32=True to accept "
            "~1e-3 relative matmul error"
        )
    return settings


def environment_info(
    device: str | torch.device | None = None, dtype: object = None
) -> dict[str, object]:
    """What a report needs to reproduce a run: versions, device (GPU name), dtype, precision
    settings and thread count."""
    dev = resolve_device(device)
    info: dict[str, object] = {
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(dev),
        "device_name": platform.processor() or platform.machine(),
        "dtype": str(resolve_dtype(dtype)),
        "cuda_available": torch.cuda.is_available(),
        "cuda_version": torch.version.cuda,
        "num_threads": torch.get_num_threads(),
        "precision": PrecisionSettings.current().as_dict(),
        "cublas_workspace_config": os.environ.get(_CUBLAS_ENV),
    }
    if dev.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(dev)
        info["device_capability"] = ".".join(map(str, torch.cuda.get_device_capability(dev)))
        info["cudnn_version"] = torch.backends.cudnn.version()
    return info
