"""What every check shares: argument checks, the frame the user's code runs in, the verdict."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..compare import Comparison, ParityError, Tolerance, compare_arrays, to_numpy
from ..engines import FUNCTIONS
from ..observe import Observation, judge
from ..report import CheckResult
from ..tolerances import tolerance_for

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


def _spec(tclass: str, kind: str) -> Tolerance:
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


def _out_dtype(value: object) -> str | None:
    """The floating dtype of a returned value, or None (Python numbers, ints, bools, lists)."""
    if _is_tensor(value):
        return str(value.dtype).removeprefix("torch.") if value.is_floating_point() else None
    if isinstance(value, (np.ndarray, np.generic)):
        return value.dtype.name if value.dtype.kind in "fc" else None
    return None


def _dtype_change(value: object, frame: _Frame, allowed: Sequence[str] = ()) -> str | None:
    """"returned float32 from float64 inputs" when a floating result leaves the frame's dtype.

    A dtype change is a finding in itself: a float64 network that accumulates its loss in
    float32 computes with float32 precision and must not be judged as float32 silently.
    """
    dt = _out_dtype(value)
    if dt is None or dt == frame.dtype or dt in allowed:
        return None
    return f"returned {dt} from {frame.dtype} inputs"


def _narrower(value: object, frame: _Frame) -> bool:
    """Whether a returned value lost precision against the frame (float64 in, float32 out).

    A wider result (float32 in, float64 out) is named in the details but is no failure: it
    carries at least the precision it was judged by.
    """
    dt = _out_dtype(value)
    size = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}
    return dt is not None and size.get(dt, 0) < size.get(frame.dtype, 8)


def _class_of(value: object, frame: _Frame, *, matmul: bool = False) -> str:
    """The tolerance class of a check: from the *inputs* (the frame's dtype and device).

    Never from the returned value: a result in another dtype is reported by
    :func:`_dtype_change`, and judged in the class of what it was computed from.  ``value`` is
    kept in the signature for the checks that pass it.
    """
    del value
    if frame.dtype == "float64":
        return "float64"
    if frame.dtype == "float32":
        if frame.device.startswith("cuda"):
            return "tf32" if matmul and _tf32_matmul_on() else "float32-cuda"
        return "float32-cpu"
    raise ValueError(  # pragma: no cover - frames are float32 or float64 by construction
        f"tolerance_class: no tolerance class for {frame.dtype} inputs; pass tolerance_class= "
        f"explicitly, one of {', '.join(TOLERANCE_CLASSES)}"
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
    #: when set, every observation carries its own per-element bound (``allowed=``) and this
    #: names the rule in the messages (verify.api.bounded); else the measured table judges
    rule: str | None = None
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
            if not self._judge([obs])[0].passed:
                return self._problem_pos[0] < pos
        return True  # pragma: no cover - a failing result has a failing observation

    def _judge(self, observations: list[Observation], seconds: float = 0.0
               ) -> list[CheckResult]:
        if self.rule is None:
            return judge(observations, seconds)
        from .bounded import judge_bounded

        return judge_bounded(observations, seconds, self.rule)

    def observe(self, tclass: str, kind: str, case: str, actual: ArrayLike,
                expected: ArrayLike, step: int | None = None,
                allowed: np.ndarray | None = None) -> None:
        """Add a comparison; a shape mismatch becomes a problem with compare's message.
        ``allowed``: the derived bound of each element, for a run with a ``rule``."""
        _spec(tclass, kind)
        if (allowed is None) != (self.rule is None):
            raise AssertionError("allowed= goes with a run that has a rule, and only there")
        a, e = _f64(actual, "actual"), _f64(expected, "expected")
        if a.shape != e.shape:
            tol = Tolerance(f"{tclass}/{kind}", 0.0, 0.0, "shape check")
            msg = compare_arrays(f"{self.check} [{case}]", a, e, tol).message
            self._problem_pos.append(self._next())
            self.problems.append((case if step is None else f"step {step}, {case}", msg))
            return
        self._obs_pos.append(self._next())
        self.observations.append(Observation(self.check, self.group, self.engine, tclass, kind,
                                             case, a, e, step=step,
                                             details={} if allowed is None else
                                             {"allowed": np.broadcast_to(allowed, e.shape)}))

    def problem(self, case: str, message: str) -> None:
        self._problem_pos.append(self._next())
        self.problems.append((case, f"{self.check} [{case}]: {message}"))

    def result(self) -> CheckResult:
        seconds = time.perf_counter() - self.start
        rows = self._judge(self.observations, seconds) if self.observations else []
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
