"""The correctness oracle for other people's code: check your implementation against the reference.

The checks, each returning a :class:`verify.report.CheckResult`, each with an ``assert_*`` twin
that raises :class:`verify.compare.ParityError` carrying the same message:

================================  ====================================================  =========
check                             compares                                              kind
================================  ====================================================  =========
:func:`check_function`            your activation/loss vs ``reference_numpy`` float64   function
:func:`check_backward`            your VJP (autograd or hand-written) vs the reference   function
:func:`check_gradient`            your gradient vs float64 central differences          numerical
:func:`check_optimizer_step`      your optimizer's parameter change vs the book's        update
:func:`check_training_step`       one TwoLayerNet SGD step: grads, update, loss          derived
:func:`check_numerical_diff`      your numerical_diff: the notes' numbers, other f       printed
:func:`check_numerical_gradient`  your numerical_gradient, 1-D/2-D, float32, int x       numerical
:func:`check_gradient_descent`    your gradient_descent after 1, 2, 10, 100 steps        descent
:func:`check_dropout`             train mask and scaling, test scaling, backward         function
:func:`check_accuracy`            labels, one-hot, a last partial batch, ties            function
================================  ====================================================  =========

:func:`check_module` finds all of these in your module, file or folder and returns one row per
item (``nnparity check PATH`` on the command line).

How a verdict is reached.  Every comparison is one :class:`verify.observe.Observation`, judged
by :func:`verify.observe.judge`, exactly as ``python -m verify`` judges the reference engines:
an element passes when ``|a - e| <= atol_scale * max|e| + atol + rtol * |e|`` and the
tensor passes when, in addition, its relative Frobenius error ``||a - e|| / ||e||`` is within
the class's ``frob`` bound (that catches small systematic errors such as a gradient scaled by
``1 + 1e-4``).  NaN and Inf must sit at the same places.  The numbers come from
:func:`verify.tolerances.tolerance_for` - measured noise of the reference engines times a safety
factor - for a *tolerance class* and a *kind*.  Two checks derive their bound per element
instead, because one measured bound cannot fit every size: ``check_gradient`` (central
differences, :mod:`verify.api.gradient`) and ``check_training_step`` (the rounding of a correct
step in the class judged, :mod:`verify.api.step_bound`).

The tolerance class is chosen from the *inputs* - the dtype and device your code runs in, the
parameters' for an optimizer or a training step - unless ``tolerance_class=`` says otherwise:
float64 is judged as ``"float64"``, float32 on the CPU (NumPy or torch) as ``"float32-cpu"``,
float32 on a GPU as ``"float32-cuda"`` (``"tf32"`` for the matmul-based training step when TF32
matmuls are enabled).  A result in a narrower dtype than its inputs fails, named ("returned
float32 from float64 inputs"); a wider one is listed in ``details["dtype_changes"]``.  Without
``dtype=``, a function that returns float32 from float64 inputs is run and judged as float32.
On a failure the catalogue of known wrong variants (:mod:`verify.api.diagnosis`) is tried and
the variant that reproduces your output is named with its fix.  Inputs the oracle makes up
are rounded to float32 first (:func:`verify.checks.context.r32`), so a float32 implementation
and the float64 reference see identical numbers and differ only by their arithmetic.

Which framework a function is written in (``framework="auto"``): it is called with NumPy arrays
first; if that raises, it is called with torch tensors (``dtype`` default:
``torch.get_default_dtype()``, ``device`` default ``"cpu"``).  A function that accepts both is
checked as NumPy; pass ``framework="torch"`` to check its torch path.  For an optimizer or a
training step the framework is that of the parameters you pass.  torch is imported only when a
torch input is involved.

Every argument is checked first; a bad one raises ``TypeError``/``ValueError`` naming it (an
unknown reference or optimizer name lists the valid ones).
"""

from collections.abc import Callable, Mapping
from typing import Any

from ..compare import ParityError, Tolerance
from ..engines import FUNCTIONS
from ..report import CheckResult
from ._common import FRAMEWORKS, TOLERANCE_CLASSES, _check_choice, _raise_on_failure, _spec
from .accuracy import check_accuracy
from .differentiation import check_gradient_descent, check_numerical_diff, check_numerical_gradient
from .dropout import check_dropout
from .functions import check_backward, check_function
from .gradient import check_gradient
from .module import check_module
from .steps import check_optimizer_step, check_training_step

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
    "check_numerical_diff",
    "check_numerical_gradient",
    "check_gradient_descent",
    "check_dropout",
    "check_accuracy",
    "check_module",
    "assert_numerical_diff",
    "assert_numerical_gradient",
    "assert_gradient_descent",
    "assert_dropout",
    "assert_accuracy",
]


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


def assert_numerical_diff(fn: Callable[..., Any], **kwargs: Any) -> CheckResult:
    """:func:`check_numerical_diff`, raising :class:`ParityError` with its message on failure."""
    __tracebackhide__ = True
    return _raise_on_failure(check_numerical_diff(fn, **kwargs))


def assert_numerical_gradient(fn: Callable[..., Any], **kwargs: Any) -> CheckResult:
    """:func:`check_numerical_gradient`, raising :class:`ParityError` on failure."""
    __tracebackhide__ = True
    return _raise_on_failure(check_numerical_gradient(fn, **kwargs))


def assert_gradient_descent(fn: Callable[..., Any], **kwargs: Any) -> CheckResult:
    """:func:`check_gradient_descent`, raising :class:`ParityError` on failure."""
    __tracebackhide__ = True
    return _raise_on_failure(check_gradient_descent(fn, **kwargs))


def assert_dropout(layer_or_fn: Any, **kwargs: Any) -> CheckResult:
    """:func:`check_dropout`, raising :class:`ParityError` with its message on failure."""
    __tracebackhide__ = True
    return _raise_on_failure(check_dropout(layer_or_fn, **kwargs))


def assert_accuracy(fn_or_net: Any, **kwargs: Any) -> CheckResult:
    """:func:`check_accuracy`, raising :class:`ParityError` with its message on failure."""
    __tracebackhide__ = True
    return _raise_on_failure(check_accuracy(fn_or_net, **kwargs))


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
    check_numerical_diff = staticmethod(check_numerical_diff)
    check_numerical_gradient = staticmethod(check_numerical_gradient)
    check_gradient_descent = staticmethod(check_gradient_descent)
    check_dropout = staticmethod(check_dropout)
    check_accuracy = staticmethod(check_accuracy)
    check_module = staticmethod(check_module)
    assert_numerical_diff = staticmethod(assert_numerical_diff)
    assert_numerical_gradient = staticmethod(assert_numerical_gradient)
    assert_gradient_descent = staticmethod(assert_gradient_descent)
    assert_dropout = staticmethod(assert_dropout)
    assert_accuracy = staticmethod(assert_accuracy)

    @staticmethod
    def tolerance(tclass: str, kind: str) -> Tolerance:
        """The measured tolerance spec for a class and kind (``verify.tolerances``)."""
        _check_choice(tclass, "tclass", TOLERANCE_CLASSES)
        return _spec(tclass, kind)

    def __repr__(self) -> str:
        return "<nnparity oracle: check_*/assert_* for functions, backward, gradient, " \
               "optimizer_step, training_step>"
