"""The correctness oracle for other people's code: check your implementation against the reference.

Five checks, each returning a :class:`verify.report.CheckResult`, each with an ``assert_*`` twin
that raises :class:`verify.compare.ParityError` carrying the same message:

================================  ====================================================  =========
check                             compares                                              kind
================================  ====================================================  =========
:func:`check_function`            your activation/loss vs ``reference_numpy`` float64   function
:func:`check_backward`            your VJP (autograd or hand-written) vs the reference   function
:func:`check_gradient`            your gradient vs float64 central differences          numerical
:func:`check_optimizer_step`      your optimizer's parameter change vs the book's        update
:func:`check_training_step`       one TwoLayerNet SGD step: grads, update, loss          replay_*
================================  ====================================================  =========

How a verdict is reached.  Every comparison is one :class:`verify.observe.Observation`, judged
by :func:`verify.observe.judge`, exactly as ``python -m verify`` judges the reference engines:
an element passes when ``|a - e| <= atol_scale * max|e| + atol_floor + rtol * |e|`` and the
tensor passes when, in addition, its relative Frobenius error ``||a - e|| / ||e||`` is within
the class's ``frob`` bound (that catches small systematic errors such as a gradient scaled by
``1 + 1e-4``).  NaN and Inf must sit at the same places.  The numbers come from
:func:`verify.tolerances.tolerance_for` - measured noise of the reference engines times a safety
factor - for a *tolerance class* and a *kind*.

The tolerance class is chosen from what your code returns, unless ``tolerance_class=`` says
otherwise: a float64 result is judged as ``"float64"``, a float32 result on the CPU (NumPy or
torch) as ``"float32-cpu"``, a float32 tensor on a GPU as ``"float32-cuda"`` (``"tf32"`` for the
matmul-based training step when TF32 matmuls are enabled).  Integer or Python-float results take
the class of the input dtype.  Inputs the oracle makes up are rounded to float32 first
(:func:`verify.checks.context.r32`), so a float32 implementation and the float64 reference see
identical numbers and differ only by their arithmetic.

Which framework a function is written in (``framework="auto"``): it is called with NumPy arrays
first; if that raises, it is called with torch tensors (``dtype`` default:
``torch.get_default_dtype()``, ``device`` default ``"cpu"``).  A function that accepts both is
checked as NumPy; pass ``framework="torch"`` to check its torch path.  For an optimizer or a
training step the framework is that of the parameters you pass.  torch is imported only when a
torch input is involved.

Every argument is checked first; a bad one raises ``TypeError``/``ValueError`` naming it (an
unknown reference or optimizer name lists the valid ones).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reference_numpy.networks import PARAM_NAMES

from .checks.context import r32
from .compare import Comparison, ParityError, Tolerance, compare_arrays, to_numpy
from .engines import FUNCTIONS
from .observe import Observation, judge
from .report import CheckResult
from .tolerances import ToleranceSpec, tolerance_for

__all__ = [
    "FRAMEWORKS",
    "TOLERANCE_CLASSES",
    "Oracle",
    "check_function",
    "check_backward",
    "check_gradient",
    "check_optimizer_step",
    "check_training_step",
    "assert_function",
    "assert_backward",
    "assert_gradient",
    "assert_optimizer_step",
    "assert_training_step",
]

FRAMEWORKS = ("auto", "numpy", "torch")
TOLERANCE_CLASSES = ("float64", "float32-cpu", "float32-cuda", "tf32", "exact")
LOSS_AT = ("before", "after")

ArrayLike = Any  # NumPy arrays, torch tensors, nested lists, scalars


# --------------------------------------------------------------------------- small helpers


def _is_tensor(x: object) -> bool:
    """A torch tensor, recognised without importing torch."""
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def _is_torch_dtype(x: object) -> bool:
    return type(x).__module__ == "torch" and type(x).__name__ == "dtype"


def _describe(x: object) -> str:
    if isinstance(x, np.ndarray) or _is_tensor(x):
        return f"{type(x).__name__} of shape {tuple(x.shape)} and dtype {x.dtype}"
    return f"{type(x).__name__} {x!r}"[:120]


def _dtype_name(dtype: object, arg: str = "dtype") -> str | None:
    """``None``, ``"float32"`` or ``"float64"`` from a string, NumPy or torch dtype."""
    if dtype is None:
        return None
    if _is_torch_dtype(dtype):
        name = str(dtype).removeprefix("torch.")
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            raise TypeError(
                f"{arg}: expected 'float32', 'float64' or a NumPy/torch float dtype, "
                f"got {dtype!r}"
            ) from None
    if name not in ("float32", "float64"):
        raise ValueError(f"{arg}: expected float32 or float64, got {name}")
    return name


def _check_callable(f: object, arg: str, what: str) -> None:
    if not callable(f):
        raise TypeError(f"{arg}: expected {what}, got {_describe(f)}")


def _check_choice(value: object, arg: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{arg}: expected one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def _check_reference(reference: object) -> str:
    if not isinstance(reference, str) or reference not in FUNCTIONS:
        raise ValueError(
            f"reference: expected the name of a reference function, one of "
            f"{', '.join(FUNCTIONS)}; got {reference!r}"
        )
    return reference


def _check_tclass(tclass: object) -> str | None:
    if tclass is None:
        return None
    return _check_choice(tclass, "tolerance_class", TOLERANCE_CLASSES)


def _spec(tclass: str, kind: str) -> ToleranceSpec:
    """The measured tolerance, with an error that says what is missing."""
    try:
        return tolerance_for(tclass, kind)
    except KeyError:
        raise LookupError(
            f"tolerance_class: no measured tolerance for class {tclass!r}, kind {kind!r} in "
            f"verify.tolerances.TOLERANCES; run `python -m verify calibrate` and record it, or "
            f"pass another tolerance_class"
        ) from None


def _plain(x: object, arg: str) -> np.ndarray:
    """``x`` as a NumPy array with its own dtype (tensors copied to the CPU)."""
    if _is_tensor(x):
        t = x.detach().cpu()
        try:
            return t.numpy().copy()
        except TypeError:
            return t.float().numpy()
    try:
        return np.array(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{arg}: expected an array-like, got {_describe(x)} ({exc})") from None


def _f64(x: object, arg: str) -> np.ndarray:
    """A float64 *copy* (``to_numpy`` may share memory with a float64 CPU tensor)."""
    return np.array(to_numpy(x, arg), dtype=np.float64, copy=True)


def _torch() -> Any:
    import torch

    return torch


def _tf32_matmul_on() -> bool:
    torch = _torch()
    return bool(torch.backends.cuda.matmul.allow_tf32)


# --------------------------------------------------------------------------- frames


@dataclass
class _Frame:
    """Where the user's code runs: framework, dtype, device; converts float64 inputs to it."""

    framework: str
    dtype: str
    device: str = "cpu"

    @property
    def engine(self) -> str:
        dev = "" if self.framework == "numpy" else f"/{self.device}"
        return f"user {self.framework}{dev}/{self.dtype}"

    def to(self, a: ArrayLike, requires_grad: bool = False) -> Any:
        arr = np.asarray(a, dtype=np.float64)
        if self.framework == "numpy":
            return arr.astype(self.dtype)
        torch = _torch()
        out = torch.tensor(arr, dtype=getattr(torch, self.dtype), device=self.device)
        return out.requires_grad_(True) if requires_grad else out

    def target(self, t: np.ndarray) -> Any:
        """Labels stay int64; one-hot or soft targets take the frame's dtype."""
        t = np.asarray(t)
        if t.dtype.kind in "iu":
            if self.framework == "numpy":
                return t.astype(np.int64)
            torch = _torch()
            return torch.as_tensor(t.astype(np.int64), device=self.device)
        return self.to(t)

    def clone(self, v: object) -> Any:
        """A copy of a user value in its own type (requires_grad kept for tensors)."""
        if _is_tensor(v):
            return v.detach().clone().requires_grad_(bool(v.requires_grad))
        return np.array(v, copy=True)


def _numpy_frame(dtype: str | None) -> _Frame:
    return _Frame("numpy", dtype or "float64")


def _torch_frame(dtype: str | None, device: object) -> _Frame:
    torch = _torch()
    dt = dtype or str(torch.get_default_dtype()).removeprefix("torch.")
    if dt not in ("float32", "float64"):
        raise ValueError(f"dtype: torch's default dtype is {dt}; pass dtype='float32' or 'float64'")
    try:
        dev = torch.device("cpu" if device is None else device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device: expected a torch device such as 'cpu' or 'cuda', got "
                         f"{device!r} ({exc})") from None
    return _Frame("torch", dt, str(dev))


def _frame_of(values: Sequence[object], arg: str) -> _Frame:
    """The frame of user-supplied parameters: tensors -> torch, arrays -> NumPy; one dtype."""
    first = values[0]
    if _is_tensor(first):
        dt = str(first.dtype).removeprefix("torch.")
        if dt not in ("float32", "float64"):
            raise TypeError(f"{arg}: expected float32 or float64 tensors, got {first.dtype}")
        return _Frame("torch", dt, str(first.device))
    arr = np.asarray(first)
    if arr.dtype.kind != "f" or arr.dtype.name not in ("float32", "float64"):
        raise TypeError(f"{arg}: expected float32 or float64 arrays or tensors, got "
                        f"{_describe(first)}")
    return _Frame("numpy", arr.dtype.name)


def _class_of(value: object, frame: _Frame, *, matmul: bool = False) -> str:
    """The tolerance class implied by a user's output (see the module docstring)."""
    if _is_tensor(value):
        dt = str(value.dtype).removeprefix("torch.")
        dev = str(value.device)
        floating = bool(value.is_floating_point())
    elif isinstance(value, (np.ndarray, np.generic)):
        dt, dev, floating = value.dtype.name, "cpu", value.dtype.kind == "f"
    else:  # Python numbers, lists: no dtype of their own
        dt, dev, floating = frame.dtype, frame.device, True
    if not floating:
        dt, dev = frame.dtype, frame.device
    if dt == "float64":
        return "float64"
    if dt == "float32":
        if dev.startswith("cuda"):
            return "tf32" if matmul and _tf32_matmul_on() else "float32-cuda"
        return "float32-cpu"
    raise ValueError(
        f"tolerance_class: no tolerance class for a {dt} result (classes cover float32 and "
        f"float64); pass tolerance_class= explicitly, one of {', '.join(TOLERANCE_CLASSES)}"
    )


# --------------------------------------------------------------------------- verdicts


@dataclass
class _Run:
    """Observations of one check plus the problems that are not numbers (raised, missing)."""

    check: str
    group: str
    engine: str = "user"
    observations: list[Observation] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    hints: list[str] = field(default_factory=list)
    start: float = field(default_factory=time.perf_counter)
    #: insertion position of each observation and each problem, to report the first failure
    _obs_pos: list[int] = field(default_factory=list)
    _problem_pos: list[int] = field(default_factory=list)

    def _next(self) -> int:
        return len(self._obs_pos) + len(self._problem_pos)

    def _problem_first(self, res: CheckResult) -> bool:
        """Whether the first problem came before the first failing observation."""
        if res.passed:
            return True
        for obs, pos in zip(self.observations, self._obs_pos, strict=True):
            if not judge([obs])[0].passed:
                return self._problem_pos[0] < pos
        return True  # pragma: no cover - a failing result has a failing observation

    def observe(self, tclass: str, kind: str, case: str, actual: ArrayLike,
                expected: ArrayLike, step: int | None = None) -> None:
        """Add a comparison; a shape mismatch becomes a problem with compare's message."""
        _spec(tclass, kind)
        a, e = _f64(actual, "actual"), _f64(expected, "expected")
        if a.shape != e.shape:
            tol = Tolerance(f"{tclass}/{kind}", 0.0, 0.0, "shape check")
            msg = compare_arrays(f"{self.check} [{case}]", a, e, tol).message
            self._problem_pos.append(self._next())
            self.problems.append((case if step is None else f"step {step}, {case}", msg))
            return
        self._obs_pos.append(self._next())
        self.observations.append(Observation(self.check, self.group, self.engine, tclass, kind,
                                             case, a, e, step=step))

    def problem(self, case: str, message: str) -> None:
        self._problem_pos.append(self._next())
        self.problems.append((case, f"{self.check} [{case}]: {message}"))

    def result(self) -> CheckResult:
        seconds = time.perf_counter() - self.start
        rows = judge(self.observations, seconds) if self.observations else []
        if len(rows) > 1:  # pragma: no cover - one check name and engine per run
            raise AssertionError(f"expected one result row, got {len(rows)}")
        if rows:
            res = rows[0]
        else:
            res = CheckResult(
                name=f"{self.check} ({self.engine})", group=self.group, passed=False,
                max_abs_err=math.inf, max_rel_err=math.inf, where="", tolerance_class="none",
                rtol=math.nan, atol=math.nan, seconds=seconds, details={"cases": 0},
            )
        res.details.update(self.details)
        failing = list(res.details.get("failing", []))
        if self.problems:
            problems = [m for _, m in self.problems]
            res.details["problems"] = problems
            if self._problem_first(res):
                res.where = self.problems[0][0]
                failing = [c for c, _ in self.problems] + failing
                res.message = "\n".join(problems + ([res.message] if res.message else []))
            else:  # a numerical failure came first; the problems follow it
                failing = failing + [c for c, _ in self.problems]
                res.message = "\n".join([res.message, *problems])
            res.passed = False
            res.max_abs_err = res.max_rel_err = math.inf
            res.details["failing"] = failing
            res.details["failing_cases"] = len(failing)
        if not res.passed:
            head = f"{res.name} FAILED at {res.where}"
            if len(failing) > 1:
                head += f"; failing cases: {', '.join(failing)}"
            res.message = "\n".join([head, res.message, *self.hints]).rstrip()
        return res


def _raise_on_failure(result: CheckResult) -> CheckResult:
    """Raise ParityError with the result's message when it failed; else return it."""
    __tracebackhide__ = True  # pytest shows the user's assert_* line, not these internals
    if result.passed:
        return result
    rtol = result.rtol if math.isfinite(result.rtol) else 0.0
    atol = result.atol if math.isfinite(result.atol) else 0.0
    comparison = Comparison(
        name=result.name, passed=False, max_abs_err=result.max_abs_err,
        max_rel_err=result.max_rel_err, worst_index=(),
        n_mismatched=int(result.details.get("failing_cases", 1)),
        n_total=int(result.details.get("cases", 1)),
        tolerance=Tolerance(result.tolerance_class, rtol, atol,
                            str(result.details.get("tolerance_justification")
                                or "verify.tolerances (measured)")),
        message=result.message,
    )
    err = ParityError(comparison)
    err.result = result  # type: ignore[attr-defined]
    raise err


# --------------------------------------------------------------------------- function cases


@dataclass
class _Case:
    name: str
    x: np.ndarray
    t: np.ndarray | None
    adversarial: bool


def _builtin_cases(reference: str, seed: int) -> list[_Case]:
    """The typical and adversarial inputs that ``python -m verify`` uses for ``reference``."""
    from .checks.losses import _bce_cases, _regression_cases, activation_cases, loss_cases

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
    from .engines import reference_engine

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
            from .checks.losses import KNOWN_AUTOGRAD_DIFFERENCES

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


def _scalar_f64(value: object) -> float:
    """A loss value as float, refusing anything evaluated in less than float64."""
    if _is_tensor(value):
        if str(value.dtype) != "torch.float64":
            raise ValueError(f"f: returned a {value.dtype} tensor; central differences with "
                             f"h = 1e-4 need f evaluated in float64 (float32 rounding / h is "
                             f"~1e-3 of the gradient)")
        if value.numel() != 1:
            raise ValueError(f"f: expected a scalar loss, got shape {tuple(value.shape)}")
        return float(value.detach().cpu().reshape(()).item())
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"f: expected a real scalar loss, got {_describe(value)}")
    if arr.size != 1:
        raise ValueError(f"f: expected a scalar loss, got shape {arr.shape}")
    if arr.dtype.kind == "f" and arr.dtype != np.float64:
        raise ValueError(f"f: returned {arr.dtype}; central differences with h = 1e-4 need f "
                         f"evaluated in float64 (float32 rounding / h is ~1e-3 of the gradient)")
    return float(arr.reshape(()))


def check_gradient(f: Callable[[Any], Any], x: object, grad: object, *,
                   h: float = 1e-4) -> CheckResult:
    """Check your gradient of ``f`` at ``x`` against float64 central differences.

    ``f(x)`` returns a scalar loss; ``x`` is an array or a ``{name: array}`` mapping (then
    ``f`` receives the mapping and every entry is checked, e.g. a network's parameters).
    ``grad`` is your gradient at ``x`` (an array, or a mapping with the same keys) or a
    callable ``grad(x)`` returning it.

    The expected value is :func:`reference_numpy.gradient.numerical_gradient` (central
    differences, step ``h``): each element of ``x`` is moved by ±h *in place* and restored bit
    for bit.  A float64 NumPy array is used as it is, so a closure that reads the array (the
    book's ``lambda _: net.loss(x, t)`` over ``net.params["W1"]``) sees the move; anything else
    (float32, lists, tensors) is converted to a float64 copy, and ``f`` must then compute from
    its argument.  **f must be evaluated in float64** - a float32 loss, or float32 ``grad``, is
    refused: float32 rounding divided by 2h is ~1e-3 of the gradient, more than any bug this
    check is for (use :func:`check_backward` / :func:`check_training_step` for float32 code).

    Judged with kind ``"numerical"`` of class ``"float64"``, whose bound was measured to cover
    the truncation error of h = 1e-4 on the chapter's networks; a function with much larger
    third derivatives needs a smaller ``h``.
    """
    from reference_numpy.gradient import numerical_gradient

    _check_callable(f, "f", "a callable f(x) -> scalar loss")
    if isinstance(h, bool) or not isinstance(h, (int, float, np.floating)) or not (
            math.isfinite(h) and h > 0):
        raise ValueError(f"h: expected a finite number > 0, got {h!r}")
    named = isinstance(x, Mapping)
    if named and not x:
        raise ValueError("x: expected at least one array, got an empty mapping")
    items = dict(x) if named else {"x": x}
    work: dict[str, np.ndarray] = {}
    for k, v in items.items():
        arg = f"x[{k!r}]" if named else "x"
        if isinstance(v, np.ndarray) and v.dtype == np.float64:
            work[k] = v  # perturbed in place, restored bit for bit
        else:
            arr = _plain(v, arg)
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"{arg}: expected real numbers, got {_describe(v)}")
            work[k] = arr.astype(np.float64)
        if work[k].size == 0:
            raise ValueError(f"{arg}: expected a non-empty array, got shape {work[k].shape}")
    point = work if named else work["x"]
    _scalar_f64(f(point))  # refuse float32 losses before any work
    got = grad(point) if callable(grad) else grad
    if named:
        if not isinstance(got, Mapping) or set(got) != set(work):
            raise ValueError(f"grad: expected a mapping with keys {sorted(work)}, got "
                             f"{sorted(got) if isinstance(got, Mapping) else _describe(got)}")
    else:
        got = {"x": got}
    for k, v in got.items():
        arr = _plain(v, "grad")
        if arr.dtype.kind == "f" and arr.dtype != np.float64:
            raise ValueError(f"grad{'' if not named else f'[{k!r}]'}: got {arr.dtype}; this check "
                             f"is float64 only (see the docstring)")
    run = _Run("gradient vs central differences", "gradients", engine="user float64")
    run.details["h"] = float(h)
    with np.errstate(all="ignore"):
        for k in work:
            expected = numerical_gradient(lambda _: _scalar_f64(f(point)), work[k], h=float(h))
            run.observe("float64", "numerical", f"grad {k}" if named else "grad",
                        _f64(got[k], "grad"), expected)
    return run.result()


def _param_dict(params: object, arg: str) -> dict[str, Any]:
    if not isinstance(params, Mapping) or not params:
        raise TypeError(f"{arg}: expected a non-empty dict of arrays or tensors, got "
                        f"{_describe(params)}")
    return dict(params)


def _new_params(out: object, work: dict[str, Any], arg: str) -> dict[str, Any]:
    """The parameters after a user's step: returned mapping, or ``work`` updated in place."""
    if out is None:
        return work
    if isinstance(out, Mapping):
        return dict(out)
    raise TypeError(f"{arg}: expected None (updated in place) or a dict of the new parameters, "
                    f"got {_describe(out)}")


def check_optimizer_step(step: Callable[[Any, Any], Any], name: str, params: Mapping[str, Any],
                         grads: Mapping[str, Any] | Sequence[Mapping[str, Any]], *,
                         steps: int | None = None, tolerance_class: str | None = None,
                         **hyper: Any) -> CheckResult:
    """Check your optimizer update ``step(params, grads)`` against the book's formulas.

    ``name`` is a key of ``reference_numpy.optimizers.OPTIMIZERS`` (sgd, momentum, nesterov,
    adagrad, rmsprop, adam) and ``hyper`` its hyperparameters (``lr=``, ``momentum=``,
    ``decay_rate=``, ``beta1=``, ``beta2=``; the reference's defaults otherwise).
    ``params`` is a dict of NumPy arrays or torch tensors; ``grads`` is one dict (used at every
    step) or a list of dicts, one per step.  ``steps`` defaults to 1, or to the list's length.

    Each call gets copies of the parameters in your framework, dtype and device (your
    ``params`` are never touched) and the gradients converted to that same type; the step may
    update in place and return None, or return a dict of new parameters.  Keep any optimizer
    state (velocities, Adam's moments) in your ``step`` closure: it is called ``steps`` times in
    a row.  Compared after every step: the total change ``p_t - p_0`` (not ``p_t``: a learning
    rate off by 0.1% moves ``p_t`` by far less than float32 rounding of ``p`` but moves the
    change by 0.1%), kind ``"update"``, class from the parameters' dtype and device.
    """
    from reference_numpy.optimizers import OPTIMIZERS

    _check_callable(step, "step", "a callable step(params, grads)")
    if not isinstance(name, str) or name not in OPTIMIZERS:
        raise ValueError(f"name: expected an optimizer name, one of {', '.join(OPTIMIZERS)}; "
                         f"got {name!r}")
    params = _param_dict(params, "params")
    if isinstance(grads, Mapping):
        n = 1 if steps is None else steps
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"steps: expected an int >= 1, got {steps!r}")
        grad_seq = [grads] * int(n)
    elif isinstance(grads, Sequence) and grads and all(isinstance(g, Mapping) for g in grads):
        if steps is not None and steps != len(grads):
            raise ValueError(f"steps: expected {len(grads)} (the number of gradient dicts) or "
                             f"None, got {steps!r}")
        grad_seq = list(grads)
    else:
        raise TypeError(f"grads: expected a dict of gradients or a non-empty list of dicts, got "
                        f"{_describe(grads)}")
    tclass_given = _check_tclass(tolerance_class)
    frame = _frame_of(list(params.values()), "params")
    p0 = {k: _f64(v, f"params[{k!r}]") for k, v in params.items()}
    g64: list[dict[str, np.ndarray]] = []
    for i, g in enumerate(grad_seq):
        missing = [k for k in params if k not in g]
        if missing:
            raise ValueError(f"grads: step {i + 1} has no gradient for {missing}; expected keys "
                             f"{list(params)}")
        row = {}
        for k in params:
            arr = _f64(g[k], f"grads[{k!r}]")
            if arr.shape != p0[k].shape:
                raise ValueError(f"grads[{k!r}]: expected shape {p0[k].shape}, got {arr.shape}")
            # What the user's code receives, so both sides start from identical numbers.
            row[k] = r32(arr) if frame.dtype == "float32" else arr
        g64.append(row)
    try:
        opt = OPTIMIZERS[name](**hyper)
    except TypeError as exc:
        raise TypeError(f"hyper: {name} does not take {sorted(hyper)} ({exc})") from None
    ref = {k: v.copy() for k, v in p0.items()}
    work = {k: frame.clone(v) for k, v in params.items()}
    run = _Run(f"{name} update", "optimizers", engine=frame.engine)
    run.details.update({"optimizer": name, "hyper": {k: float(v) for k, v in hyper.items()},
                        "steps": len(g64)})
    for i, g in enumerate(g64):
        opt.update(ref, g)
        out = step(work, {k: frame.to(v) for k, v in g.items()})
        work = _new_params(out, work, "step")
        missing = [k for k in params if k not in work]
        if missing:
            run.problem(f"step {i + 1}", f"the returned parameters lack {missing}")
            break
        for k in params:
            value = work[k]
            tclass = tclass_given or _class_of(value, frame)
            run.observe(tclass, "update", f"change in {k}", _f64(value, k) - p0[k],
                        ref[k] - p0[k], step=i + 1)
    return run.result()


def _reference_step(p0: dict[str, np.ndarray], x: np.ndarray, t: np.ndarray, lr: float,
                    net_kw: dict[str, Any]) -> tuple[dict, dict, dict[str, float]]:
    """(grads, update, losses) of one float64 SGD step; losses for every convention."""
    from reference_numpy.networks import TwoLayerNet

    i, hdim = p0["W1"].shape
    k = p0["W2"].shape[1]
    net = TwoLayerNet(i, hdim, k, params=p0, **net_kw)
    grads = net.gradient(x, t)
    p1 = {n: p0[n] - lr * grads[n] for n in PARAM_NAMES}
    after = TwoLayerNet(i, hdim, k, params=p1, **net_kw)
    losses = {"before": net.loss(x, t), "after": after.loss(x, t)}
    other = ("cross_entropy_error" if net_kw["loss"] == "softmax_cross_entropy"
             else "softmax_cross_entropy")
    kw2 = {**net_kw, "loss": other}
    losses[f"before/{other}"] = TwoLayerNet(i, hdim, k, params=p0, **kw2).loss(x, t)
    losses[f"after/{other}"] = TwoLayerNet(i, hdim, k, params=p1, **kw2).loss(x, t)
    return grads, {n: p1[n] - p0[n] for n in PARAM_NAMES}, losses


def check_training_step(step: Callable[..., Any], params: Mapping[str, Any], x: object,
                        t: object, *, lr: float = 0.1, loss_at: str = "before",
                        activation: str = "sigmoid", loss: str = "softmax_cross_entropy",
                        weight_decay_lambda: float = 0.0,
                        tolerance_class: str | None = None) -> CheckResult:
    """Check one SGD step of your TwoLayerNet against the reference from the same point.

    ``params`` holds W1 (I, H), b1 (H,), W2 (H, K), b2 (K,) as NumPy arrays or torch tensors;
    ``x`` (N, I) and ``t`` (labels (N,) or one-hot (N, K)) are passed to you as given.  Your
    ``step(params, x, t)`` receives a copy of the parameters (in their type, dtype and device)
    and returns either the new parameters (or None after updating in place), or
    ``(loss, grads, new_params)``.  The reference is ``reference_numpy.networks.TwoLayerNet``
    in float64 (``activation``, ``loss`` - ``"softmax_cross_entropy"``, exact, or the book's
    ``"cross_entropy_error"`` with δ = 1e-7 - and ``weight_decay_lambda`` as there) taking
    ``p ← p - lr·∇L`` from your parameters' values on the same batch.

    Compared, as ``python -m verify``'s step replay does: the gradients (kind
    ``"replay_grad"``, when you return them), the update ``p_1 - p_0`` (``"replay_update"``)
    and the loss (``"replay_loss"``) - by default the loss at the parameters *before* the
    update, which is what a forward-backward step returns; ``loss_at="after"`` compares the loss
    after the update, which the book's training loop records.  A failing loss that matches
    another convention says so in the message.  Class: from the parameters' dtype and device
    (``"tf32"`` for float32 on CUDA with TF32 matmuls on).
    """
    _check_callable(step, "step", "a callable step(params, x, t)")
    params = _param_dict(params, "params")
    missing = [k for k in PARAM_NAMES if k not in params]
    if missing:
        raise ValueError(f"params: expected keys {list(PARAM_NAMES)}, missing {missing}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)) or not (
            math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr: expected a finite number > 0, got {lr!r}")
    _check_choice(loss_at, "loss_at", LOSS_AT)
    tclass_given = _check_tclass(tolerance_class)
    frame = _frame_of([params[k] for k in PARAM_NAMES], "params")
    p0 = {k: _f64(params[k], f"params[{k!r}]") for k in PARAM_NAMES}
    for k, nd in (("W1", 2), ("b1", 1), ("W2", 2), ("b2", 1)):
        if p0[k].ndim != nd:
            raise ValueError(f"params[{k!r}]: expected a {nd}-D array, got shape {p0[k].shape}")
    x64 = _f64(x, "x")
    t_arr = _plain(t, "t")
    if t_arr.dtype.kind not in "biuf":
        raise TypeError(f"t: expected labels or one-hot targets, got {_describe(t)}")
    t64 = t_arr.astype(np.float64) if t_arr.dtype.kind in "bf" else t_arr.astype(np.int64)
    net_kw = {"activation": activation, "loss": loss, "weight_decay_lambda": weight_decay_lambda}
    with np.errstate(all="ignore"):
        r_grads, r_update, r_losses = _reference_step(p0, x64, t64, float(lr), net_kw)
    work = {k: frame.clone(v) for k, v in params.items()}
    out = step(work, x, t)
    u_loss = u_grads = None
    if isinstance(out, tuple) and len(out) == 3:
        u_loss, u_grads, new = out
        new = _new_params(new, work, "step (third element)")
    elif isinstance(out, tuple):
        raise TypeError(f"step: expected new params, None or (loss, grads, new params), got a "
                        f"tuple of {len(out)}")
    else:
        new = _new_params(out, work, "step")
    run = _Run("TwoLayerNet SGD step", "training", engine=frame.engine)
    run.details.update({"lr": float(lr), "batch": int(x64.shape[0]), "loss_at": loss_at})

    def tclass_of(value: object) -> str:
        return tclass_given or _class_of(value, frame, matmul=True)

    if u_grads is not None:
        if not isinstance(u_grads, Mapping):
            raise TypeError(f"step: the grads it returned are not a dict, got "
                            f"{_describe(u_grads)}")
        for k in PARAM_NAMES:
            if k not in u_grads:
                run.problem(f"grad {k}", "missing from the returned gradients")
                continue
            run.observe(tclass_of(u_grads[k]), "replay_grad", f"grad {k}",
                        _f64(u_grads[k], f"grads[{k!r}]"), r_grads[k])
    for k in PARAM_NAMES:
        if k not in new:
            run.problem(f"update {k}", "missing from the returned parameters")
            continue
        run.observe(tclass_of(new[k]), "replay_update", f"update {k}",
                    _f64(new[k], f"new params[{k!r}]") - p0[k], r_update[k])
    if u_loss is not None:
        tclass = tclass_of(u_loss)
        got = np.atleast_1d(_f64(u_loss, "loss")).reshape(-1)
        run.observe(tclass, "replay_loss", f"loss {loss_at} the update", got,
                    np.atleast_1d(r_losses[loss_at]))
        run.hints += _loss_hints(got, r_losses, loss_at, tclass)
    return run.result()


def _loss_hints(got: np.ndarray, losses: dict[str, float], loss_at: str,
                tclass: str) -> list[str]:
    """If the user's loss misses the chosen convention but matches another, say which."""
    if got.size != 1:
        return []

    def ok(value: float) -> bool:
        obs = Observation("loss", "training", "user", tclass, "replay_loss", "loss",
                          got, np.atleast_1d(value))
        return judge([obs])[0].passed

    if ok(losses[loss_at]):
        return []
    for key, value in losses.items():
        if key == loss_at or not ok(value):
            continue
        when, _, other = key.partition("/")
        advice = []
        if when != loss_at:
            advice.append(f"loss_at={when!r}")
        if other:
            advice.append(f"loss={other!r}")
        return [f"hint: your loss matches the reference loss {when} the update"
                + (f" with loss={other!r}" if other else "")
                + f"; pass {' and '.join(advice)} if that is your convention"]
    return []


# --------------------------------------------------------------------------- assert twins


def assert_function(fn: Callable[..., Any], reference: str, **kwargs: Any) -> CheckResult:
    """:func:`check_function`, raising :class:`ParityError` with its message on failure."""
    __tracebackhide__ = True
    return _raise_on_failure(check_function(fn, reference, **kwargs))


def assert_backward(fn: Callable[..., Any] | None, reference: str, **kwargs: Any) -> CheckResult:
    """:func:`check_backward`, raising :class:`ParityError` with its message on failure."""
    __tracebackhide__ = True
    return _raise_on_failure(check_backward(fn, reference, **kwargs))


def assert_gradient(f: Callable[[Any], Any], x: object, grad: object, **kwargs: Any
                    ) -> CheckResult:
    """:func:`check_gradient`, raising :class:`ParityError` with its message on failure."""
    __tracebackhide__ = True
    return _raise_on_failure(check_gradient(f, x, grad, **kwargs))


def assert_optimizer_step(step: Callable[[Any, Any], Any], name: str,
                          params: Mapping[str, Any], grads: object, **kwargs: Any
                          ) -> CheckResult:
    """:func:`check_optimizer_step`, raising :class:`ParityError` with its message on failure."""
    __tracebackhide__ = True
    return _raise_on_failure(check_optimizer_step(step, name, params, grads, **kwargs))


def assert_training_step(step: Callable[..., Any], params: Mapping[str, Any], x: object,
                         t: object, **kwargs: Any) -> CheckResult:
    """:func:`check_training_step`, raising :class:`ParityError` with its message on failure."""
    __tracebackhide__ = True
    return _raise_on_failure(check_training_step(step, params, x, t, **kwargs))


# --------------------------------------------------------------------------- one object


class Oracle:
    """The whole API as methods (what the pytest fixture ``nnparity`` hands out)."""

    ParityError = ParityError
    FUNCTIONS = tuple(FUNCTIONS)

    check_function = staticmethod(check_function)
    check_backward = staticmethod(check_backward)
    check_gradient = staticmethod(check_gradient)
    check_optimizer_step = staticmethod(check_optimizer_step)
    check_training_step = staticmethod(check_training_step)
    assert_function = staticmethod(assert_function)
    assert_backward = staticmethod(assert_backward)
    assert_gradient = staticmethod(assert_gradient)
    assert_optimizer_step = staticmethod(assert_optimizer_step)
    assert_training_step = staticmethod(assert_training_step)

    @staticmethod
    def tolerance(tclass: str, kind: str) -> ToleranceSpec:
        """The measured tolerance spec for a class and kind (``verify.tolerances``)."""
        _check_choice(tclass, "tclass", TOLERANCE_CLASSES)
        return _spec(tclass, kind)

    def __repr__(self) -> str:
        return "<nnparity oracle: check_*/assert_* for functions, backward, gradient, " \
               "optimizer_step, training_step>"
