"""check_function / check_backward: activations and losses, forward and VJP."""

from __future__ import annotations

import math
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
    _dtype_change,
    _dtype_name,
    _Frame,
    _is_tensor,
    _narrower,
    _numpy_frame,
    _out_dtype,
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
    from ..cases import activation_table, loss_table, oracle_cases

    rng = np.random.default_rng([seed, 1])
    out: list[_Case] = []
    if FUNCTIONS[reference]["kind"] == "activation":
        for case, x in activation_table(reference, rng).items():
            out.append(_Case(case, r32(x), None, not case.startswith("typical")))
    else:
        for case, (y, t) in loss_table(reference, rng).items():
            out.append(_Case(case, r32(y), r32(t), not case.startswith("typical")))
    for case, (x, t, adversarial) in oracle_cases(reference,
                                                  np.random.default_rng([seed, 3])).items():
        out.append(_Case(case, r32(x), None if t is None else r32(t), adversarial))
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
    t = None if case.t is None else frame.target(case.t)
    with np.errstate(all="ignore"):
        out = fn(x) if t is None else fn(x, t)
    _unchanged(x, case.x, "its input")
    if t is not None:
        _unchanged(t, case.t, "the targets")
    return x, out


class _Mutated(Exception):
    """The user's function wrote into an argument (a verdict, never an internal error)."""


def _unchanged(passed: Any, original: np.ndarray, what: str) -> None:
    """Raise _Mutated if ``passed`` (what the user got) no longer equals ``original``."""
    now = np.array(to_numpy(passed.detach() if _is_tensor(passed) else passed, what),
                   dtype=np.float64)
    ref = np.asarray(original, dtype=np.float64)
    if now.shape != ref.shape:
        raise _Mutated(f"changed {what} in place: shape {ref.shape} became {now.shape}")
    same = (now == ref) | (np.isnan(now) & np.isnan(ref))
    if not same.all():
        first = tuple(int(i) for i in np.argwhere(~same)[0])
        raise _Mutated(f"changed {what} in place: {int((~same).sum())} element(s) differ after "
                       f"the call, first at index {first} ({ref[first]:.6g} became "
                       f"{now[first]:.6g}); copy before writing (the reference never writes "
                       f"into its arguments)")


def _detect(probe: Callable[[_Frame], Any], framework: str, dtype: str | None,
            device: object, arg: str) -> tuple[_Frame, Any]:
    """Choose the frame (see the module docstring) and return the probe's first output."""
    if framework in ("numpy", "torch"):
        frame = _numpy_frame(dtype) if framework == "numpy" else _torch_frame(dtype, device)
        try:
            return frame, probe(frame)
        except _Mutated as exc:
            return frame, _FirstFailed(f"{arg} {exc}", raised=False)
        except Exception as exc:  # noqa: BLE001 - the user's code failing is a verdict
            return frame, _FirstFailed(f"{arg} raised {type(exc).__name__}: {exc}")
    frame = _numpy_frame(dtype)
    try:
        return frame, probe(frame)
    except _Mutated as exc:
        return frame, _FirstFailed(f"{arg} {exc}", raised=False)
    except Exception as np_exc:  # noqa: BLE001 - any failure means "not a NumPy function"
        np_msg = f"{type(np_exc).__name__}: {np_exc}"
        try:
            frame = _torch_frame(dtype, device)
        except ImportError:
            return frame, _FirstFailed(f"{arg} raised {np_msg} (torch is not installed, so it "
                                       f"was not tried with tensors)")
        try:
            return frame, probe(frame)
        except _Mutated as exc:
            return frame, _FirstFailed(f"{arg} {exc}", raised=False)
        except Exception as torch_exc:  # noqa: BLE001
            return _numpy_frame(dtype), _FirstFailed(
                f"{arg} could not be run with NumPy arrays ({np_msg}) nor with torch tensors "
                f"({type(torch_exc).__name__}: {torch_exc}); pass framework='numpy' or "
                f"'torch' to see only one")


def _implementation_dtype(frame: _Frame, first: Any, evaluate: Callable[[_Frame], Any],
                          probe: Callable[[], object]) -> tuple[_Frame, Any]:
    """The frame in the dtype the user's code computes in, and case 0 evaluated there."""
    try:
        dt = _out_dtype(probe())
    except Exception:  # noqa: BLE001 - a probe failing leaves the verdict to the real run
        return frame, first
    if dt not in ("float32", "float64") or dt == frame.dtype:
        return frame, first
    other = _Frame(frame.framework, dt, frame.device)
    try:
        return other, evaluate(other)
    except Exception:  # noqa: BLE001 - not runnable in its own dtype: judge as first called
        return frame, first


@dataclass
class _FirstFailed:
    """The user's code failed on the first case in every framework tried: the verdict's text."""

    message: str
    raised: bool = True


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
                  reference_kwargs: Mapping[str, Any] | None,
                  delta: float | None = None) -> CheckResult:
    """Shared body of check_function and check_backward."""
    reference = _check_reference(reference)
    delta = _check_delta(delta, reference)
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
    convention = None if delta is None else _convention(delta)
    title = f"{reference} {' and '.join(parts)}" + (f", {convention}" if convention else "")
    run = _Run(title, "losses")
    run.details.update({"reference": reference, "seed": int(seed)})
    if convention:
        run.details["convention"] = convention
        if reference == "cross_entropy_error":
            kw["delta"] = delta
    incoming = [_incoming(incoming_grad, c, c.x.shape, is_loss, g_rng) if backward else None
                for c in cases]
    # The reference first: its refusals are the caller's input errors, not the user's.
    ref_fwd = [(_reference_forward(reference, c, kw) if reference != "softmax_cross_entropy"
                or delta is None else _softmax_cee_with_delta(c, delta)) if forward else None
               for c in cases]
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
    chosen = frame.dtype
    if dt is None and not isinstance(first, _FirstFailed):
        # Nobody said which precision: the implementation's own dtype decides (a float32
        # backward must get a float32 incoming gradient, or NumPy upcasts its result).
        def probe() -> object:
            if forward or fn is None or autograd:
                return first[0][1]
            return _call(fn, frame, cases[0])[1]  # a hand-written backward: ask its forward

        frame, first = _implementation_dtype(frame, first, lambda fr: evaluate(fr, 0), probe)
        if frame.dtype != chosen:
            run.details["dtype_detected"] = (
                f"{frame.dtype}: your code returned {frame.dtype} from {chosen} inputs, so it "
                f"was run and judged as {frame.dtype}")
    run.engine = frame.engine
    run.details["framework"] = frame.framework
    from ..checks.losses import KNOWN_AUTOGRAD_DIFFERENCES

    #: part -> (case index, your output, class, kind) of every case that returned numbers
    seen: dict[str, list[tuple[int, np.ndarray, str, str]]] = {}
    for i, case in enumerate(cases):
        if i == 0 and isinstance(first, _FirstFailed):
            run.problem(case.name, first.message + (
                " (the reference returns a value for this input)" if first.raised else ""))
            continue
        try:
            rows = first if i == 0 else evaluate(frame, i)
        except _Mutated as exc:
            run.problem(case.name, f"{'fn' if fn is not None else 'backward'} {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - a user function failing on a case is a verdict
            run.problem(case.name, f"raised {type(exc).__name__}: {exc} (the reference returns a "
                                   f"value for this input)")
            continue
        for part, value, ref in rows:
            label = f"{part}, {case.name}" if part else case.name
            try:
                tclass = tclass_given or _class_of(value, frame)
                arr = np.atleast_1d(np.array(to_numpy(value, "output"), dtype=np.float64))
            except (TypeError, ValueError) as exc:
                run.problem(label, f"returned {_describe(value)}, not an array of numbers "
                                   f"({exc})")
                continue
            change = _dtype_change(value, frame)
            if change and _narrower(value, frame):
                run.problem(label, f"{change}: the {part or 'output'} left the dtype it was "
                                   f"given, so it no longer has {frame.dtype} precision (cast "
                                   f"back, or pass dtype= to say which precision you mean)")
                continue
            if change:
                run.details.setdefault("dtype_changes", []).append(f"{label}: {change}")
            known = KNOWN_AUTOGRAD_DIFFERENCES.get((reference, case.name))
            if known and part != "forward" and arr.shape == ref.shape:
                # Where the input is NaN the gradient is undefined: the reference's 0 and the
                # incoming gradient passed through (torch autograd, or a hand-written backward
                # doing the same) are both accepted there, and the verdict says so.
                # Only a result shaped like the input has elements at its NaN positions (a
                # loss's value does not).
                undefined = np.isnan(case.x)
                if (undefined.shape == arr.shape and undefined.any()
                        and not np.array_equal(arr[undefined], ref[undefined], equal_nan=True)):
                    arr = arr.copy()
                    arr[undefined] = ref[undefined]
                    run.details.setdefault("known_differences", {})[case.name] = known
            run.observe(tclass, _kind(case), label, arr, ref)
            seen.setdefault(part, []).append((i, arr, tclass, _kind(case)))
    result = run.result()
    if not result.passed:
        _diagnose(result, reference, cases, seen, ref_fwd, ref_bwd, incoming, kw, delta)
    return result


def _check_delta(delta: object, reference: str) -> float | None:
    if delta is None:
        return None
    if reference not in ("cross_entropy_error", "softmax_cross_entropy"):
        raise ValueError(f"delta: only the cross-entropy losses take a δ inside the log, not "
                         f"{reference!r}")
    ok = not isinstance(delta, bool) and isinstance(delta, (int, float, np.floating))
    if not ok or not math.isfinite(delta) or delta < 0:
        raise ValueError(f"delta: expected a finite number >= 0 or None, got {delta!r}")
    return float(delta)


def _convention(delta: float) -> str:
    return f"delta = {delta:g} inside the log" if delta else "no delta inside the log (exact)"


def _softmax_cee_with_delta(case: _Case, delta: float) -> np.ndarray:
    """The book's SoftmaxWithLoss forward: cross_entropy_error(softmax(a), t, δ), float64."""
    from reference_numpy import functions

    with np.errstate(all="ignore"):
        out = functions.cross_entropy_error(functions.softmax(case.x), case.t, delta=delta)
    return np.atleast_1d(np.asarray(out, dtype=np.float64))


def _diagnose(result: CheckResult, reference: str, cases: list[_Case],
              seen: dict[str, list[tuple[int, np.ndarray, str, str]]], ref_fwd: list,
              ref_bwd: list, incoming: list, kw: Mapping[str, Any], delta: float | None) -> None:
    """Try the catalogue (verify.api.diagnosis) on a failure; name every variant that fits."""
    from . import diagnosis

    found_all, text = [], []
    for part, rows in seen.items():
        target = ("backward:" if part == "backward" or (part == "" and ref_fwd[0] is None)
                  else "forward:") + reference
        refs = ref_bwd if target.startswith("backward") else ref_fwd
        contexts = [(cases[i].name, {"reference": reference, "x": cases[i].x, "t": cases[i].t,
                                     "g": incoming[i], "kw": kw, "delta": delta,
                                     "ref": refs[i]},
                     not diagnosis.agrees(tclass, kind, arr, refs[i]))
                    for i, arr, tclass, kind in rows]
        found = diagnosis.explain(
            target, contexts, lambda j, cand, rows=rows: diagnosis.agrees(
                rows[j][2], rows[j][3], rows[j][1], cand))
        subject = "backward" if target.startswith("backward") else "output"
        failing = sum(1 for c in contexts if c[2])
        text += diagnosis.lines(found, subject, failing)
        found_all += [f.variant.name for f in found]
    if found_all:
        result.details["diagnosis"] = found_all
        result.message = "\n".join([result.message, *text])


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
                   reference_kwargs: Mapping[str, Any] | None = None,
                   delta: float | None = None) -> CheckResult:
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

    ``delta`` (cross-entropy losses only): the δ inside the log of your convention.  The
    references are ``cross_entropy_error`` with the book's δ = 1e-7 and the exact
    ``softmax_cross_entropy`` (δ = 0); ``delta=1e-7`` with ``"softmax_cross_entropy"`` checks
    the book's SoftmaxWithLoss, ``cross_entropy_error(softmax(a), t, 1e-7)``, and
    ``delta=0`` with ``"cross_entropy_error"`` a plain ``log(y)``.  A declared convention is in
    the result's name and ``details["convention"]``; a failing loss that equals the reference
    under the other convention says so (``diagnosis: your output equals the reference with
    delta = 1e-07 inside the log``).

    Your code failing is a verdict: an exception (on the first case or a later one), an output
    of the wrong shape or type, NaN where the reference has a number, or an argument changed in
    place fail the check, and the message names the case and quotes what happened.

    Precision: judged in the class of the inputs.  Without ``dtype``, a function that returns
    float32 from the oracle's float64 inputs is a float32 implementation: it is run again with
    float32 inputs (and incoming gradient) and judged as float32 (``details["dtype_detected"]``).
    With ``dtype``, an output narrower than it fails ("returned float32 from float64 inputs").
    On a failure, the known wrong variants of ``verify.api.diagnosis`` are tried: one that
    reproduces your output is named with its fix on a ``diagnosis:`` line.
    """
    want_backward = incoming_grad is not None or backward is not None
    return _function_run(fn, reference, forward=True, backward=want_backward,
                         user_backward=backward, inputs=inputs, targets=targets, dtype=dtype,
                         device=device, tolerance_class=tolerance_class,
                         incoming_grad=incoming_grad, seed=seed, framework=framework,
                         adversarial=adversarial, reference_kwargs=reference_kwargs,
                         delta=delta)


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
    legitimately differs from the reference (``KNOWN_AUTOGRAD_DIFFERENCES``: ReLU and |x| at a
    NaN input, where the gradient is undefined) accept either value at the NaN positions, for
    autograd and a hand-written backward alike, and are listed in
    ``details["known_differences"]``.
    """
    return _function_run(fn, reference, forward=False, backward=True, user_backward=backward,
                         inputs=inputs, targets=targets, dtype=dtype, device=device,
                         tolerance_class=tolerance_class, incoming_grad=incoming_grad,
                         seed=seed, framework=framework, adversarial=adversarial,
                         reference_kwargs=reference_kwargs)
