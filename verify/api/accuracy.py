"""check_accuracy: the fraction of examples whose argmax equals the label.

Two forms:

* a function ``fn(y, t)`` of scores ``y`` (N, K) and targets ``t`` - labels (N,) or one-hot
  (N, K) - returning the accuracy;
* a network with ``predict(x)`` and ``accuracy(x, t)``: the expected accuracy is computed from
  your own ``predict`` (this checks the counting, not the network).

Cases: labels and one-hot targets of N = 257 examples (not a multiple of any usual batch size,
so an accuracy that loops ``range(N // batch_size)`` drops the last partial batch and fails,
named with its batch size), and - for a function - rows whose maximum is tied, where the
reference (``np.argmax``, ``torch.argmax``) takes the first index.  Judged by
:func:`verify.observe.judge`, kind ``function``, class from your result's dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..report import CheckResult
from ._common import _class_of, _describe, _Frame, _Run
from ._usercode import UserFailure, as_result_array, call, matches

__all__ = ["check_accuracy"]

N_EXAMPLES = 257
BATCH_SIZES = (10, 20, 32, 50, 64, 100, 128, 200, 256)
_ONE_HOT_HINT = " (one-hot targets: compare with t.argmax(axis=1) when t.ndim != 1)"


def _scalar(value: object, what: str) -> tuple[float, object]:
    arr = as_result_array(value, what)
    if arr.size != 1:
        raise UserFailure(f"{what} returned shape {arr.shape}, expected one number")
    return float(arr.reshape(())), value


def _variants(correct: np.ndarray, tie_any: np.ndarray | None, tie_last: np.ndarray | None
              ) -> dict[str, float]:
    n = correct.size
    out: dict[str, float] = {
        f"the number of correct examples ({int(correct.sum())}), not the fraction":
            float(correct.sum()),
    }
    for b in BATCH_SIZES:
        kept = (n // b) * b
        if kept in (0, n):
            continue
        part = float(correct[:kept].sum())
        out[f"the last partial batch dropped: with batch_size {b}, range(N // {b}) counts "
            f"{kept} of {n} examples; loop over range(0, N, {b}) instead"] = part / n
        out[f"the last partial batch dropped and the rest averaged (batch_size {b}, "
            f"{kept} of {n} examples)"] = part / kept
    if tie_any is not None:
        out["a tie counted as correct when the label is any of the tied maxima (y == "
            "y.max()) instead of the first argmax"] = float(tie_any.mean())
    if tie_last is not None:
        out["ties resolved to the last maximal index instead of the first (np.argmax's)"] = \
            float(tie_last.mean())
    return out


def _judge(run: _Run, case: str, got: tuple[float, object] | None, expected: float,
           variants: dict[str, float]) -> None:
    if got is None:
        return
    value, raw = got
    run.observe(_class_of(raw, _Frame("numpy", "float64")), "function", case, value, expected)
    if abs(value - expected) > 1e-12:
        for name, v in variants.items():
            if matches(np.array(value), np.array(v)) and not matches(np.array(v),
                                                                     np.array(expected)):
                run.hints.append(f"cause ({case}): your accuracy equals {name}")
                notes = run.details.setdefault("notes", [])
                short = name.split(":")[0].split(" (")[0]
                if short not in notes:
                    notes.append(short)
                break


def _ties(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores where every row's maximum is shared by two classes; labels on either of them."""
    y = rng.uniform(0, 0.5, (n, k))
    for i in range(n):
        a, b = rng.choice(k, 2, replace=False)
        y[i, a] = y[i, b] = 0.9
    first = np.argmax(y, axis=1)
    tied = [np.flatnonzero(row == row.max()) for row in y]
    labels = np.array([rng.choice(t) if i % 3 else rng.integers(k) for i, t in enumerate(tied)])
    return y, labels.astype(np.int64) if first.size else labels


def check_accuracy(fn_or_net: Any, *, input_size: int | None = None, seed: int = 0
                   ) -> CheckResult:
    """Check your accuracy: a function ``fn(y, t)`` or a network's ``accuracy(x, t)``.

    ``input_size`` (network form only): the number of input features, read from
    ``params["W1"]`` when not given.  Your code failing is a failed verdict.
    """
    net = hasattr(fn_or_net, "accuracy") and hasattr(fn_or_net, "predict")
    if not net and not callable(fn_or_net):
        raise TypeError(f"fn_or_net: expected a function accuracy(y, t) or a network with "
                        f"predict and accuracy, got {_describe(fn_or_net)}")
    rng = np.random.default_rng([seed, 11])
    run = _Run("accuracy (network)" if net else "accuracy", "accuracy",
               engine="user numpy/float64")
    try:
        if net:
            _network_cases(run, fn_or_net, input_size, rng)
        else:
            _function_cases(run, fn_or_net, rng)
    except UserFailure as exc:
        run.problem("call", str(exc))
    return run.result()


def _first_input_size(net: Any) -> int:
    params = getattr(net, "params", None)
    if isinstance(params, dict) and "W1" in params:
        return int(np.shape(params["W1"])[0])
    raise ValueError("input_size: the network has no params['W1']; pass input_size=")


def _network_cases(run: _Run, net: Any, input_size: int | None, rng: np.random.Generator
                   ) -> None:
    i = input_size if input_size is not None else _first_input_size(net)
    x = rng.standard_normal((N_EXAMPLES, i))
    y = as_result_array(call("predict(x)", net.predict, x.copy()), "predict")
    if y.ndim != 2 or y.shape[0] != N_EXAMPLES:
        raise UserFailure(f"predict returned shape {y.shape}, expected ({N_EXAMPLES}, K)")
    k = y.shape[1]
    pred = np.argmax(y, axis=1)
    # Most labels equal the prediction, the last partial batch's all of them, so dropping it
    # changes the accuracy by far more than rounding.
    labels = np.where(rng.random(N_EXAMPLES) < 0.7, pred, rng.integers(0, k, N_EXAMPLES))
    labels[-60:] = pred[-60:]
    correct = pred == labels
    variants = _variants(correct, None, None)
    cases = [(f"labels ({N_EXAMPLES},)", labels, float(correct.mean()), variants),
             (f"one-hot ({N_EXAMPLES}, {k})", np.eye(k)[labels], float(correct.mean()),
              variants)]
    _run_cases(run, lambda t: net.accuracy(x.copy(), t), "accuracy(x, t)", cases)


def _run_cases(run: _Run, fn: Callable[[np.ndarray], Any], what: str,
               cases: list[tuple[str, np.ndarray, float, dict[str, float]]]) -> None:
    """Labels first, then one-hot, then the rest.  Refusing labels while taking one-hot
    targets is the book's one-hot-only API: adapted and named, not a failure."""
    refused: str | None = None
    for case, t, expected, variants in cases:
        try:
            got = _scalar(call(f"{what} with {case}", fn, t.copy()), "accuracy")
        except UserFailure as exc:
            if case.startswith("labels"):
                refused = str(exc)
                continue
            run.problem(case, str(exc) + _ONE_HOT_HINT * case.startswith("one-hot"))
            continue
        _judge(run, case, got, expected, variants)
    if refused is not None:
        hot = [c for c, *_ in cases if c.startswith("one-hot")]
        if hot and not any(c in hot for c, _ in run.problems):
            run.details.setdefault("notes", []).append(
                f"one-hot-only targets: labels refused ({refused.split(' raised ', 1)[-1]})")
        else:
            run.problem(cases[0][0], refused)


def _function_cases(run: _Run, fn: Callable[..., Any], rng: np.random.Generator) -> None:
    k = 5
    y = rng.standard_normal((N_EXAMPLES, k))
    pred = np.argmax(y, axis=1)
    labels = np.where(rng.random(N_EXAMPLES) < 0.7, pred, rng.integers(0, k, N_EXAMPLES))
    labels[-60:] = pred[-60:]
    correct = pred == labels
    cases: list[tuple[str, np.ndarray, np.ndarray, float, dict[str, float]]] = [
        (f"labels ({N_EXAMPLES},)", y, labels, float(correct.mean()),
         _variants(correct, None, None)),
        (f"one-hot ({N_EXAMPLES}, {k})", y, np.eye(k)[labels], float(correct.mean()),
         _variants(correct, None, None)),
    ]
    ty, tl = _ties(rng, 40, k)
    first = np.argmax(ty, axis=1)
    last = k - 1 - np.argmax(ty[:, ::-1], axis=1)
    any_max = ty[np.arange(len(tl)), tl] == ty.max(axis=1)
    cases.append(("ties at the argmax (40 rows, two tied maxima each)", ty, tl,
                  float((first == tl).mean()), _variants(first == tl, any_max, last == tl)))
    main = [(c, t, e, v) for c, _, t, e, v in cases[:2]]
    _run_cases(run, lambda t: fn(y.copy(), t), "accuracy(y, t)", main)
    case, scores, t, expected, variants = cases[2]
    try:
        got = _scalar(call(f"accuracy(y, t) with {case}", fn, scores.copy(), t.copy()),
                      "accuracy")
    except UserFailure as exc:
        try:  # a one-hot-only accuracy gets the tied case as one-hot targets
            got = _scalar(call(f"accuracy(y, t) with {case}", fn, scores.copy(),
                               np.eye(scores.shape[1])[t]), "accuracy")
        except UserFailure:
            run.problem(case, str(exc))
            return
    _judge(run, case, got, expected, variants)
