"""Files that never hold a pickle, for tensors: ``reference_numpy._safeio``'s readers and
writers (the files are the same .npz and JSON in both engines), with ``param_arrays`` bringing
tensors to host arrays before checking them."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from reference_numpy._safeio import dumps_json, load_json_record, load_npz, loads_json, plain_arrays
from reference_numpy._safeio import param_arrays as _np_param_arrays

__all__ = [
    "plain_arrays",
    "param_arrays",
    "load_npz",
    "dumps_json",
    "loads_json",
    "load_json_record",
]


def _host(v: object) -> object:
    return v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v


def param_arrays(params: Mapping[str, object]) -> dict[str, np.ndarray]:
    """``reference_numpy._safeio.param_arrays`` on tensors (or arrays), in their dtype."""
    return _np_param_arrays(params, _host)
