"""``train``'s up-front checks on tensors: ``reference_numpy._train_checks`` with the torch
engine's classes and a row check that reads tensors on their own device."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from reference_numpy._train_checks import check_rows as _np_check_rows
from reference_numpy._train_checks import check_train_inputs as _np_check_train_inputs
from reference_numpy._train_checks import nonfinite_stop as _np_nonfinite_stop

from ._validate import check_finite, same_device

__all__ = ["check_rows", "check_train_inputs", "nonfinite_stop"]


def check_rows(
    x: object, name: str, why: str, *, allow_nonfinite: bool, device: torch.device | None = None
) -> None:
    """``reference_numpy._train_checks.check_rows`` for a tensor (one host read on CUDA) or an
    array.  A tensor off ``device`` is not read: ``train`` refuses it by its device."""
    if not isinstance(x, torch.Tensor):
        _np_check_rows(x, name, why, allow_nonfinite=allow_nonfinite)
        return
    if x.ndim >= 1 and x.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one row ({why}), got shape {tuple(x.shape)}")
    if not allow_nonfinite and (device is None or same_device(x.device, device)):
        check_finite(x, name)


def check_train_inputs(
    network: object,
    plan: object,
    optimizer: object,
    early_stopping: object,
    data: Mapping[str, object],
    *,
    allow_nonfinite: object,
    mode: object,
    classes: Mapping[str, tuple[type, str]],
) -> None:
    """Every check ``train`` makes before touching anything (see reference_numpy's)."""
    def rows(x: object, name: str, why: str, *, allow_nonfinite: bool) -> None:
        # Called after the network's type is checked, so it has a device.
        check_rows(x, name, why, allow_nonfinite=allow_nonfinite, device=network.device)

    _np_check_train_inputs(
        network, plan, optimizer, early_stopping, data,
        allow_nonfinite=allow_nonfinite, mode=mode, classes=classes, rows=rows,
    )  # fmt: skip


def nonfinite_stop(hist: Any, i: int, loss: float, params: Mapping[str, Any]) -> bool:
    """``reference_numpy._train_checks.nonfinite_stop`` with torch's finiteness test."""
    return _np_nonfinite_stop(
        hist, i, loss, params,
        lambda a: bool(torch.isfinite(a).all()) if isinstance(a, torch.Tensor)
        else bool(np.all(np.isfinite(a))),
    )  # fmt: skip
