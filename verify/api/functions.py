"""check_function / check_backward: activations and losses, forward and VJP."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..checks.context import r32
from ..compare import to_numpy
from ..engines import FUNCTIONS
from ..report import CheckResult
from ._common import (
    FRAMEWORKS,
    _check_callable,
    _check_choice,
    _check_reference,
    _check_tclass,
    _class_of,
    _describe,
    _dtype_name,
    _Frame,
    _is_tensor,
    _numpy_frame,
    _plain,
    _Run,
    _torch,
    _torch_frame,
)

# --------------------------------------------------------------------------- function cases


@dataclass
class _Case:
    name: str
    x: np.ndarray
    t: np.ndarray | None
    adversarial: bool


def _builtin_cases(reference: str, seed: int) -> list[_Case]:
    """The typical and adversarial inputs that ``python -m verify`` uses for ``reference``."""
    from ..checks.losses import _bce_cases, _regression_cases, activation_cases, loss_cases

    rng = np.random.default_rng([seed, 1])
    out: list[_Case] = []
    if FUNCTIONS[reference]["kind"] == "activation":
        for case, x in activation_cases(rng).items():
            if reference not in ("softmax", "log_softmax") and case == "large logits":
                x = x / 10  # as verify.checks.losses: informative rather than saturated
            out.append(_Case(case, r32(x), None, not case.startswith("typical")))
        return out
    if reference in ("cross_entropy_error", "softmax_cross_entropy"):
        table = loss_cases(rng)
        if reference == "softmax_cross_entropy":
            table = {k: v for k, v in table.items() if "zero probability" not in k}
    elif reference in ("mean_squared_error", "mean_absolute_error"):
        table = _regression_cases(rng)
    else:
        table = _bce_cases(rng)
    for case, (y, t) in table.items():
        if reference == "softmax_cross_entropy" and case.startswith("typical"):
            y = np.log(y)  # logits for the exact loss
        out.append(_Case(case, r32(y), r32(t), not case.startswith("typical")))
    return out


def _given_cases(reference: str, inputs: object, targets: object,
                 adversarial: bool) -> list[_Case]:
    is_loss = FUNCTIONS[reference]["kind"] == "loss"
    if not is_loss and targets is not None:
        raise ValueError(f"targets: {reference!r} is an activation and takes no targets")
    if is_loss and targets is None:
        raise ValueError(f"targets: {reference!r} is a loss; pass targets= with inputs=")
    if isinstance(inputs, Mapping):
        if not inputs:
            raise ValueError("inputs: expected at least one case, got an empty mapping")
        if is_loss and (not isinstance(targets, Mapping) or set(targets) != set(inputs)):
            raise ValueError("targets: with a mapping of inputs, expected a mapping with the "
                             f"same case names {sorted(inputs)}, got {_describe(targets)}")
        named = {str(k): (v, targets[k] if is_loss else None) for k, v in inputs.items()}
    else:
        named = {"inputs": (inputs, targets)}
    out = []
    for case, (x, t) in named.items():
        xa = r32(to_numpy(x, f"inputs[{case!r}]"))
        ta = None
        if t is not None:
            ta = _plain(t, f"targets[{case!r}]")
            if ta.dtype.kind not in "biuf":
                raise TypeError(f"targets[{case!r}]: expected labels or float targets, got "
                                f"dtype {ta.dtype}")
            ta = r32(ta.astype(np.float64)) if ta.dtype.kind in "bf" else ta.astype(np.int64)
        out.append(_Case(case, xa, ta, adversarial))
    return out


def _reference_forward(reference: str, case: _Case, kw: Mapping[str, Any]) -> np.ndarray:
    from reference_numpy import functions

    f = getattr(functions, reference)
    with np.errstate(all="ignore"):
        try:
            out = f(case.x, **kw) if case.t is None else f(case.x, case.t, **kw)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"inputs: the reference {reference} refuses case {case.name!r}: "
                             f"{exc}") from None
    return np.atleast_1d(np.asarray(out, dtype=np.float64))


def _reference_vjp(reference: str, case: _Case, g: np.ndarray | float,
                   kw: Mapping[str, Any]) -> np.ndarray:
    from ..engines import reference_engine

    with np.errstate(all="ignore"):
        try:
            return reference_engine().hand_backward(reference, case.x, g, case.t, **kw)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"inputs: the reference backward of {reference} refuses case "
                             f"{case.name!r}: {exc}") from None


def _call(fn: Callable[..., Any], frame: _Frame, case: _Case, requires_grad: bool = False
          ) -> tuple[Any, Any]:
    """``fn`` on the case in ``frame``; returns (input as passed, output)."""
    x = frame.to(case.x, requires_grad=requires_grad)
    with np.errstate(all="ignore"):
        out = fn(x) if case.t is None else fn(x, frame.target(case.t))
    return x, out


def _detect(probe: Callable[[_Frame], Any], framework: str, dtype: str | None,
            device: object, arg: str) -> tuple[_Frame, Any]:
    """Choose the frame (see the module docstring) and return the probe's first output."""
    if framework == "numpy":
        frame = _numpy_frame(dtype)
        return frame, probe(frame)
    if framework == "torch":
        frame = _torch_frame(dtype, device)
        return frame, probe(frame)
    frame = _numpy_frame(dtype)
    try:
        return frame, probe(frame)
    except Exception as np_exc:  # noqa: BLE001 - any failure means "not a NumPy function"
        try:
            frame = _torch_frame(dtype, device)
            return frame, probe(frame)
        except ImportError:
            raise np_exc from None
        except Exception as torch_exc:
            raise TypeError(
                f"{arg}: could not be run with NumPy arrays ({type(np_exc).__name__}: "
                f"{np_exc}) nor with torch tensors ({type(torch_exc).__name__}: {torch_exc}); "
                f"pass framework='numpy' or 'torch' to see the full traceback"
            ) from torch_exc


def _incoming(incoming_grad: object, case: _Case, out_shape: tuple[int, ...], is_loss: bool,
              rng: np.random.Generator) -> np.ndarray | float:
    """The incoming gradient for a case: given (checked) or random, never a constant."""
    if incoming_grad is None:
        if is_loss:
            return float(r32(rng.standard_normal()))
        return r32(rng.standard_normal(out_shape))
    g = r32(to_numpy(incoming_grad, "incoming_grad"))
    if is_loss:
        if g.size != 1:
            raise ValueError(f"incoming_grad: a loss is a scalar, so expected one number, got "
                             f"shape {g.shape}")
        return float(g.reshape(()))
    if g.shape != out_shape:
        raise ValueError(
            f"incoming_grad: expected the output's shape {out_shape} for case {case.name!r}, got "
            f"{g.shape} (a constant incoming gradient is .sum() in disguise, whose softmax VJP "
            f"is exactly 0; leave incoming_grad=None for a random one, or pass inputs= too)"
        )
    return g


def _kind(case: _Case) -> str:
    return "function_adversarial" if case.adversarial else "function"


def _function_run(fn: Callable[..., Any] | None, reference: str, *, forward: bool,
                  backward: bool, user_backward: Callable[..., Any] | None, inputs: object,
                  targets: object, dtype: object, device: object, tolerance_class: object,
                  incoming_grad: object, seed: int, framework: str, adversarial: bool,
                  reference_kwargs: Mapping[str, Any] | None) -> CheckResult:
    """Shared body of check_function and check_backward."""
    reference = _check_reference(reference)
    framework = _check_choice(framework, "framework", FRAMEWORKS)
    dt = _dtype_name(dtype)
    tclass_given = _check_tclass(tolerance_class)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected an int >= 0, got {seed!r}")
    kw = dict(reference_kwargs or {})
    if fn is not None or forward:
        _check_callable(fn, "fn", "a callable implementing " + reference)
    if user_backward is not None:
        _check_callable(user_backward, "backward", "a callable backward(x, g[, t]) -> dx")
    grad_name = FUNCTIONS[reference]["grad"]
    if backward and grad_name is None:
        with_grad = [n for n, v in FUNCTIONS.items() if v["grad"]]
        raise ValueError(f"reference: {reference!r} has no hand-written backward to compare "
                         f"with; backward checks exist for {', '.join(with_grad)}")
    if backward and user_backward is None and framework == "numpy":
        raise ValueError("backward: a NumPy function has no autograd; pass backward=callable"
                         "(x, g) (or (x, g, t) for a loss) returning the VJP")
    if not forward and fn is None and user_backward is None:
        raise TypeError("fn: expected a callable (or backward=) to check, got None")
    is_loss = FUNCTIONS[reference]["kind"] == "loss"
    if inputs is None and targets is not None:
        raise ValueError("targets: given without inputs=; the built-in cases bring their own")
    cases = (_builtin_cases(reference, seed) if inputs is None
             else _given_cases(reference, inputs, targets, adversarial))
    g_rng = np.random.default_rng([seed, 2])
    autograd = backward and user_backward is None
    if autograd and framework == "auto":
        framework = "torch"  # only torch has autograd; a NumPy function needs backward=
    parts = (["forward"] if forward else []) + (
        [f"backward ({'autograd' if autograd else 'your backward'})"] if backward else [])
    run = _Run(f"{reference} {' and '.join(parts)}", "losses")
    run.details.update({"reference": reference, "seed": int(seed)})
    incoming = [_incoming(incoming_grad, c, c.x.shape, is_loss, g_rng) if backward else None
                for c in cases]
    # The reference first: its refusals are the caller's input errors, not the user's.
    ref_fwd = [_reference_forward(reference, c, kw) if forward else None for c in cases]
    ref_bwd = [_reference_vjp(reference, c, g, kw) if backward else None
               for c, g in zip(cases, incoming, strict=True)]

    def evaluate(frame: _Frame, i: int) -> list[tuple[str, Any, np.ndarray]]:
        """(part, user value, reference value) for case i; raises what the user code raises."""
        case, g = cases[i], incoming[i]
        rows = []
        if forward:
            _, out = _call(fn, frame, case)
            rows.append(("forward" if backward else "", out, ref_fwd[i]))
        if backward:
            if autograd:
                gx = _autograd_vjp(fn, frame, case, g)
            else:
                x = frame.to(case.x)
                args = (x, frame.to(g)) + (() if case.t is None else (frame.target(case.t),))
                with np.errstate(all="ignore"):
                    gx = user_backward(*args)
            rows.append(("backward" if forward else "", gx, ref_bwd[i]))
        return rows

    frame, first = _detect(lambda fr: evaluate(fr, 0), framework, dt, device,
                           "fn" if fn is not None else "backward")
    run.engine = frame.engine
    run.details["framework"] = frame.framework
    for i, case in enumerate(cases):
        if autograd and frame.framework == "torch":
            from ..checks.losses import KNOWN_AUTOGRAD_DIFFERENCES

            known = KNOWN_AUTOGRAD_DIFFERENCES.get((reference, case.name))
            if known:
                run.details.setdefault("skipped", {})[case.name] = known
                continue
        try:
            rows = first if i == 0 else evaluate(frame, i)
        except Exception as exc:  # noqa: BLE001 - a user function failing on a case is a verdict
            run.problem(case.name, f"raised {type(exc).__name__}: {exc} (the reference returns a "
                                   f"value for this input)")
            continue
        for part, value, ref in rows:
            tclass = tclass_given or _class_of(value, frame)
            label = f"{part}, {case.name}" if part else case.name
            value = to_numpy(value, "output")
            run.observe(tclass, _kind(case), label, np.atleast_1d(value), ref)
    return run.result()


def _autograd_vjp(fn: Callable[..., Any], frame: _Frame, case: _Case,
                  g: np.ndarray | float) -> Any:
    """dL/dx by torch autograd with incoming gradient ``g`` (never ``.sum()``)."""
    torch = _torch()
    x, out = _call(fn, frame, case, requires_grad=True)
    if not _is_tensor(out) or not out.requires_grad:
        raise TypeError(f"the output ({_describe(out)}) does not require grad, so autograd "
                        f"cannot differentiate it (did the function leave torch?)")
    gt = frame.to(np.broadcast_to(np.asarray(g, dtype=np.float64), tuple(out.shape)))
    (gx,) = torch.autograd.grad(out, x, grad_outputs=gt, allow_unused=True)
    return torch.zeros_like(x) if gx is None else gx


# --------------------------------------------------------------------------- public checks


def check_function(fn: Callable[..., Any], reference: str, *, inputs: object = None,
                   targets: object = None, dtype: object = None,
                   tolerance_class: str | None = None, incoming_grad: object = None,
                   seed: int = 0, framework: str = "auto", device: object = None,
                   backward: Callable[..., Any] | None = None, adversarial: bool = False,
                   reference_kwargs: Mapping[str, Any] | None = None) -> CheckResult:
    """Check your implementation ``fn`` of the reference function ``reference``.

    ``reference`` is one of :data:`verify.engines.FUNCTIONS` (sigmoid, relu, softmax,
    log_softmax, step_function, mean_squared_error, mean_absolute_error, cross_entropy_error,
    softmax_cross_entropy, binary_cross_entropy).  Activations are called ``fn(x)``, losses
    ``fn(y, t)`` with integer labels or one-hot/soft targets.

    Without ``inputs`` the function runs on the cases ``python -m verify`` uses: a typical one
    (judged with kind ``"function"``) and adversarial ones - huge logits, ties, exact zeros,
    NaN/Inf, probabilities at 0 and 1 (kind ``"function_adversarial"``, whose bound is measured
    separately because those inputs are ill-conditioned in float32).  ``inputs`` (an array or a
    ``{case name: array}`` mapping; ``targets`` likewise for losses) replaces them; they are
    judged as typical unless ``adversarial=True``.  ``seed`` picks the random cases.

    ``dtype``/``device``/``framework``: see the module docstring.  ``incoming_grad`` (or
    ``backward``): check the backward pass as well, as :func:`check_backward` does.
    ``reference_kwargs`` go to the reference only, e.g. ``{"reduction": "mean"}`` for
    mean_squared_error.  Returns one :class:`CheckResult`; the first failing case decides its
    message, which names the case and the worst elements.
    """
    want_backward = incoming_grad is not None or backward is not None
    return _function_run(fn, reference, forward=True, backward=want_backward,
                         user_backward=backward, inputs=inputs, targets=targets, dtype=dtype,
                         device=device, tolerance_class=tolerance_class,
                         incoming_grad=incoming_grad, seed=seed, framework=framework,
                         adversarial=adversarial, reference_kwargs=reference_kwargs)


def check_backward(fn: Callable[..., Any] | None, reference: str, *,
                   backward: Callable[..., Any] | None = None, inputs: object = None,
                   targets: object = None, dtype: object = None,
                   tolerance_class: str | None = None, incoming_grad: object = None,
                   seed: int = 0, framework: str = "auto", device: object = None,
                   adversarial: bool = False,
                   reference_kwargs: Mapping[str, Any] | None = None) -> CheckResult:
    """Check the vector-Jacobian product of your function against the reference's backward.

    torch: without ``backward``, ``fn`` is differentiated by autograd,
    ``torch.autograd.grad(fn(x), x, grad_outputs=g)``, with a random incoming gradient ``g``
    (never ``.sum()``: softmax's VJP with a vector of ones is exactly zero, so a sum would hide a
    broken softmax backward).  NumPy (or a hand-written torch backward): pass
    ``backward(x, g)`` - ``backward(y, g, t)`` for a loss - returning dL/dx; it receives the
    function's *input* (for softmax, the logits, not the probabilities).  ``fn`` may then be
    None.  With ``framework="auto"``, no ``backward`` means torch (only torch has autograd); with
    a ``backward`` NumPy is tried first.

    The reference is the float64 hand-written backward of ``reference_numpy.functions``;
    log_softmax and step_function have none and are refused.  Cases, kinds and classes as in
    :func:`check_function`; ``incoming_grad`` overrides the random one (an array of the output's
    shape for an activation, a number for a loss).  The (function, case) pairs where autograd
    legitimately differs from the reference (``KNOWN_AUTOGRAD_DIFFERENCES``) are skipped and
    listed in ``details["skipped"]``.
    """
    return _function_run(fn, reference, forward=False, backward=True, user_backward=backward,
                         inputs=inputs, targets=targets, dtype=dtype, device=device,
                         tolerance_class=tolerance_class, incoming_grad=incoming_grad,
                         seed=seed, framework=framework, adversarial=adversarial,
                         reference_kwargs=reference_kwargs)
