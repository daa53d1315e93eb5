"""What ``train`` checks before its first iteration, and how a run that turns non-finite stops.

``check_train_inputs`` runs before anything else in ``train``: a refused call has not drawn a
batch, touched the network or written a file.  Sets that are evaluated must have rows (an
accuracy over no rows is 0/0), and data must be finite unless ``allow_nonfinite`` says
otherwise; with it, ``nonfinite_stop`` ends the run at the first non-finite loss and records
the iteration and the tensor that went non-finite in the history.

Kept apart from ``training`` so that both engines share the wording (``reference_torch``
passes its own classes and its own finiteness test).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ._validate import as_array, check_finite

__all__ = ["qualname", "check_type", "check_rows", "check_train_inputs", "nonfinite_stop"]


def qualname(cls: type) -> str:
    """``module.Class``: two engines have classes of one name, so a bare name can mislead."""
    return f"{cls.__module__}.{cls.__qualname__}"


def check_type(value: object, name: str, cls: type, public: str, *, optional: bool = False) -> None:
    """TypeError unless ``value`` is a ``cls`` (or None when ``optional``), naming both classes
    with their modules; ``public`` is how the user imports ``cls``."""
    if (optional and value is None) or isinstance(value, cls):
        return
    raise TypeError(f"{name}: expected {public}, got {qualname(type(value))}")


def check_rows(x: object, name: str, why: str, *, allow_nonfinite: bool) -> None:
    """ValueError when array ``x`` has no rows, or (unless ``allow_nonfinite``) a non-finite
    value; the shape and dtype checks stay in ``train``'s own conversion."""
    arr = as_array(x, name)
    if arr.ndim >= 1 and arr.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one row ({why}), got shape {arr.shape}")
    if not allow_nonfinite:
        check_finite(arr, name)


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
    rows: Callable[..., None] = check_rows,
) -> None:
    """Every check ``train`` makes before touching anything (both engines).

    ``data`` maps x_train, x_test and x_val (checked with early stopping only) to arrays;
    ``classes`` maps network, plan, optimizer and early_stopping to (class, public name) of the
    engine.
    """
    check_type(network, "network", *classes["network"])
    check_type(plan, "plan", *classes["plan"])
    check_type(optimizer, "optimizer", *classes["optimizer"], optional=True)
    check_type(early_stopping, "early_stopping", *classes["early_stopping"], optional=True)
    if not isinstance(allow_nonfinite, bool):
        raise TypeError(f"allow_nonfinite: expected True or False, got {allow_nonfinite!r}")
    if allow_nonfinite and mode not in ("auto", "eager"):
        raise ValueError(
            f"mode: allow_nonfinite checks each step's loss, which only mode 'eager' (or "
            f"'auto') does, got {mode!r}"
        )
    why = {
        "x_train": "the plan draws its batches from it",
        "x_test": "test accuracy is measured on it",
        "x_val": "early stopping measures accuracy on it",
    }
    for name, x in data.items():
        # x_val is read only with early stopping; train itself says when it is missing.
        if x is not None and (name != "x_val" or early_stopping is not None):
            rows(x, name, why[name], allow_nonfinite=allow_nonfinite)


def nonfinite_stop(
    hist: Any,
    i: int,
    loss: float,
    params: Mapping[str, Any],
    is_finite: Callable[[Any], bool] = lambda a: bool(np.all(np.isfinite(a))),
) -> bool:
    """True (and the reason in ``hist``) when iteration i's loss is not finite.

    The reason names the first parameter that is non-finite after the step, or the loss itself
    when the parameters are still finite (a non-finite batch): ``hist.stopped_at = i`` and
    ``hist.meta["nonfinite"]``; a RuntimeWarning says the same.
    """
    if math.isfinite(loss):
        return False
    bad = next((k for k, v in params.items() if not is_finite(v)), None)
    what = f"params[{bad!r}]" if bad is not None else "the batch loss (the parameters are finite)"
    msg = f"iteration {i}: {what} became non-finite (loss {loss}); training stopped there"
    hist.stopped_at = i
    hist.meta["nonfinite"] = msg
    warnings.warn(msg, RuntimeWarning, stacklevel=4)
    return True
