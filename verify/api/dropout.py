"""check_dropout: the train-time mask and its scaling, the test-time scaling, the backward.

Two conventions exist and both are correct in their own right:

* ``"book"`` - the book's non-inverted dropout, and the reference's
  (``reference_numpy.networks.TwoLayerNet(dropout_ratio=r)``): while training ``x · mask``
  with each unit kept with probability ``1 - r``; at test time ``x · (1 - r)``.
* ``"inverted"`` - ``x · mask / (1 - r)`` while training and ``x`` at test time
  (``torch.nn.Dropout``).

``convention=`` says which passes (default ``"book"``; ``"either"`` accepts both).  The one your
code implements is always detected and named in ``details["notes"]``, and a failure caused by
the other convention, or by a mix of the two (no scaling at all, or scaling twice), says so.

The mask is read from your output: the input has no zeros, so ``out != 0`` is the kept set.
It must keep a fraction ``1 - r`` of the 20,000 units to within 6 binomial standard deviations
(``sqrt(r(1-r)/n)``: a correct mask fails by chance with probability ~2e-9), be drawn afresh at
every training call, and be the one the backward uses.  Values are judged by
:func:`verify.observe.judge`, kind ``function``, class from your output's dtype.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..report import CheckResult
from ._common import _check_choice, _class_of, _describe, _Frame, _is_tensor, _Run, _torch
from ._usercode import UserFailure, as_result_array, call, matches

__all__ = ["check_dropout", "DROPOUT_CONVENTIONS"]

DROPOUT_CONVENTIONS = ("book", "inverted", "either")
DEFAULT_RATIO = 0.3  # not 0.5: a mask kept with probability r instead of 1 - r then shows
SHAPE = (200, 100)
SIGMAS = 6.0

_NAMES = {
    "book": "non-inverted dropout (the book's and the reference's: x·mask while training, "
            "x·(1 - ratio) at test time)",
    "inverted": "inverted dropout (x·mask/(1 - ratio) while training, x at test time, as "
                "torch.nn.Dropout)",
}


def _is_torch_module(obj: object) -> bool:
    return type(obj).__module__.startswith("torch") or any(
        c.__module__.startswith("torch.nn") for c in type(obj).__mro__[1:])


class _Adapter:
    """forward(x, train) and backward(dout) of a layer, a torch module or a function."""

    def __init__(self, obj: Any, ratio: float) -> None:
        self.obj, self.ratio = obj, ratio
        self.kind = ("torch module" if _is_torch_module(obj) and hasattr(obj, "train")
                     else "layer" if hasattr(obj, "forward") else "function")
        self.framework = "torch" if self.kind == "torch module" else "numpy"
        self._graph: tuple[Any, Any] | None = None

    @property
    def has_backward(self) -> bool:
        return self.kind == "layer" and callable(getattr(self.obj, "backward", None)) or (
            self.framework == "torch")

    def _to(self, x: np.ndarray, grad: bool = False) -> Any:
        if self.framework == "numpy":
            return x.copy()
        return _Frame("torch", "float64").to(x, requires_grad=grad)

    def forward(self, x: np.ndarray, train: bool) -> tuple[Any, Any]:
        xin = self._to(x, grad=train)
        what = f"forward(x, train_flg={train})"
        if self.kind == "torch module":
            self.obj.train(train)
            out = call(what, self.obj, xin)
        elif self.kind == "layer":
            out = call(what, self.obj.forward, xin, train_flg=train)
        else:
            try:
                out = call(what, self.obj, xin, train)
            except UserFailure:
                if self.framework == "torch":
                    raise
                self.framework = "torch"  # a torch function: retry with tensors
                xin = self._to(x, grad=train)
                out = call(what, self.obj, xin, train)
        self._graph = (xin, out) if train else self._graph
        return xin, out

    def backward(self, dout: np.ndarray) -> Any:
        if self.kind == "layer" and self.framework == "numpy":
            return call("backward(dout)", self.obj.backward, dout.copy())
        torch = _torch()
        xin, out = self._graph  # type: ignore[misc]
        if not (_is_tensor(out) and out.requires_grad):
            raise UserFailure("the training output is not connected to x by autograd")
        return call("autograd through the mask", torch.autograd.grad, out, xin,
                    grad_outputs=torch.as_tensor(dout, dtype=out.dtype))[0]


def _ratio_of(obj: object, ratio: float | None) -> float:
    if ratio is None:
        for attr in ("dropout_ratio", "ratio", "p"):
            v = getattr(obj, attr, None)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return float(v)
        raise ValueError(f"ratio: {_describe(obj)} has no dropout_ratio, ratio or p attribute; "
                         f"pass ratio= (the probability of dropping a unit)")
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio < 1:
        raise ValueError(f"ratio: expected a number in (0, 1), got {ratio!r}")
    return float(ratio)


def _construct(cls: type, ratio: float) -> object:
    try:
        return cls(ratio)
    except Exception as exc:  # noqa: BLE001 - reported as the verdict
        raise UserFailure(f"{cls.__name__}({ratio}) raised {type(exc).__name__}: {exc}") from None


def check_dropout(layer_or_fn: Any, *, ratio: float | None = None, convention: str = "book",
                  seed: int = 0) -> CheckResult:
    """Check your dropout against the reference's convention (module docstring).

    ``layer_or_fn``: a class (built as ``cls(ratio)``, ratio 0.3 unless given), a layer with
    ``forward(x, train_flg=...)`` and ``backward(dout)`` (ratio read from its
    ``dropout_ratio``/``ratio``/``p`` unless given), a ``torch.nn`` module (train()/eval(),
    backward by autograd) or a function ``fn(x, train_flg)`` (NumPy, or torch with autograd).
    ``convention``: ``"book"``, ``"inverted"`` or ``"either"``.  Your code failing (raising,
    a wrong shape, writing into x) is a failed verdict.
    """
    _check_choice(convention, "convention", DROPOUT_CONVENTIONS)
    if isinstance(layer_or_fn, type):
        r = DEFAULT_RATIO if ratio is None else _ratio_of(None, ratio)
        try:
            obj = _construct(layer_or_fn, r)
        except UserFailure as exc:
            run = _Run(f"dropout ratio={r}", "dropout", engine="user numpy/float64")
            run.problem("construct", str(exc))
            return run.result()
    elif callable(layer_or_fn) or hasattr(layer_or_fn, "forward"):
        obj, r = layer_or_fn, _ratio_of(layer_or_fn, ratio)
    else:
        raise TypeError(f"layer_or_fn: expected a dropout class, layer, torch module or "
                        f"function, got {_describe(layer_or_fn)}")
    adapter = _Adapter(obj, r)
    rng = np.random.default_rng([seed, 7])
    x = rng.uniform(0.5, 2.0, SHAPE) * rng.choice([-1.0, 1.0], SHAPE)
    dout = rng.standard_normal(SHAPE)
    notes: list[str] = []
    run = _Run(f"dropout ratio={r:g} ({convention})", "dropout", engine="user numpy/float64")
    try:
        seen = _observe(adapter, run, x, dout, r, convention, notes)
    except UserFailure as exc:
        run.problem("call", str(exc))
        seen = None
    run.engine = f"user {adapter.framework}/float64"
    for o in run.observations:
        o.engine = run.engine
    run.details["notes"] = notes
    if seen is not None:
        run.details.update(seen)
    return run.result()


def _observe(ad: _Adapter, run: _Run, x: np.ndarray, dout: np.ndarray, r: float,
             convention: str, notes: list[str]) -> dict[str, Any]:
    xin, out = ad.forward(x, True)
    _unchanged(run, "training forward", xin, x)
    y = as_result_array(out, "forward(x, train_flg=True)")
    if y.shape != x.shape:
        raise UserFailure(f"the training forward returned shape {y.shape}, expected {x.shape}")
    kept = y != 0
    n = kept.size
    frac = float(kept.mean())
    sd = math.sqrt(r * (1 - r) / n)
    if abs(frac - (1 - r)) > SIGMAS * sd:
        why = (" - a unit is kept with probability ratio instead of 1 - ratio (mask = rand < "
               "ratio; the book's is rand > ratio)" if abs(frac - r) <= SIGMAS * sd else "")
        run.problem("training mask", f"kept {frac:.4f} of {n} units, expected 1 - ratio = "
                    f"{1 - r:g} within {SIGMAS:g} binomial sd ({SIGMAS * sd:.4f}){why}")
    train_conv = ("book" if matches(y, x * kept) else
                  "inverted" if matches(y, x * kept / (1 - r)) else None)
    _, out_t = ad.forward(x, False)
    y_t = as_result_array(out_t, "forward(x, train_flg=False)")
    if y_t.shape != x.shape:
        raise UserFailure(f"the test forward returned shape {y_t.shape}, expected {x.shape}")
    test_conv = ("book" if matches(y_t, x * (1 - r)) else
                 "inverted" if matches(y_t, x) else None)
    detected = train_conv if train_conv == test_conv else None
    if detected:
        notes.append(_NAMES[detected])
    elif train_conv and test_conv:
        mix = ("no scaling at all (no 1/(1 - ratio) while training, no (1 - ratio) at test "
               "time): test outputs are 1/(1 - ratio) times too large on average"
               if train_conv == "book" else
               "scaled twice (1/(1 - ratio) while training and (1 - ratio) at test time): test "
               "outputs are (1 - ratio) times too small on average")
        notes.append(mix)
        run.hints.append(f"cause: {mix}")
    judged = detected if convention == "either" and detected else (
        "book" if convention == "either" else convention)
    if detected and detected != judged:
        run.hints.append(f"cause: this is {_NAMES[detected]}; the check was asked for "
                         f"{_NAMES[judged].split(' (')[0]} - pass convention='{detected}' (or "
                         f"'either') if that is your convention")
    scale = 1.0 if judged == "book" else 1.0 / (1 - r)
    run.observe(_tclass(out, ad), "function", "training forward", y, x * kept * scale)
    run.observe(_tclass(out_t, ad), "function", "test forward", y_t,
                x * (1 - r) if judged == "book" else x)
    _, out2 = ad.forward(x, True)
    y2 = as_result_array(out2, "a second forward(x, train_flg=True)")
    if y2.shape == x.shape and np.array_equal(y2 != 0, kept):
        run.problem("second training call", "the same mask on two training calls: draw a new "
                    "mask at every forward")
    # The backward must follow the last training forward's mask.
    kept = y2 != 0 if y2.shape == x.shape else kept
    if ad.has_backward:
        try:
            dx = as_result_array(ad.backward(dout), "backward(dout)")
        except UserFailure as exc:
            run.problem("backward", str(exc))
        else:
            if dx.shape != x.shape:
                run.problem("backward", f"returned shape {dx.shape}, expected {x.shape}")
            else:
                if not np.array_equal(dx != 0, kept):
                    run.hints.append("cause: the backward's mask is not the last training "
                                     "forward's (keep self.mask from forward)")
                run.observe(_tclass(dx, ad), "function", "backward through the mask", dx,
                            dout * kept * scale)
    else:
        notes.append("no backward to check (a function without autograd)")
    return {"kept_fraction": frac, "convention_detected": detected or "none",
            "convention_judged": judged, "ratio": r}


def _tclass(value: object, ad: _Adapter) -> str:
    return _class_of(value, _Frame(ad.framework, "float64"))


def _unchanged(run: _Run, case: str, passed: Any, original: np.ndarray) -> None:
    now = as_result_array(passed, "x")
    if now.shape != original.shape or not np.array_equal(now, original):
        run.problem(case, "changed its input x in place (return x * mask, a new array; the "
                    "caller's x must stay as it was)")
