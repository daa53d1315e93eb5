"""check_module: find the chapter's names in a user's code, adapt the book's API, check each.

``check_module(module_or_path)`` takes a module object, a ``.py`` file, a folder (a package,
or a plain folder whose ``.py`` files are imported with the folder on ``sys.path``) or an
importable module name, and returns one :class:`CheckResult` per item of :data:`ITEMS`, in
that order: found and checked (passed or failed), or not found (``details["status"] ==
"not found"``; passed unless ``require_all=True``).  Importing runs the files' top level, as
``python file.py`` would not guard it: keep scripts behind ``if __name__ == "__main__":``.

What is adapted, always named in ``details["adapted"]``:

* a loss that takes one-hot targets only (it raises on integer labels): labels are turned into
  one-hot targets before the call;
* a network without ``params=``: built with the book's signature ``TwoLayerNet(input_size,
  hidden_size, output_size)``, then the reference weights are copied *into* its arrays (in
  place, so layers sharing them see the change) and into the ``W``/``b`` of its layer objects
  (``net.layers``, a dict or list, in order); a ``simpleNet``'s ``W`` likewise;
* the network's hidden activation (sigmoid or ReLU) and loss convention (δ = 1e-7 inside the
  log or none) are detected from its loss and named; the reference is built to match;
* the training step, when the module has none (``training_step``/``train_step``), is the
  book's loop: ``grads = net.gradient(x, t)``, your ``SGD(lr).update(net.params, grads)`` (or
  ``params[key] -= lr * grads[key]``), then ``net.loss(x, t)`` *after* the update - so a net
  whose layers hold copies of ``params`` (the update never reaches them) fails, named
  "parameters not copied into the layers".
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import math
import pkgutil
import sys
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..report import CheckResult
from ._common import _describe, _Run, _torch
from ._usercode import UserFailure, call, quote

__all__ = ["check_module", "ITEMS", "load_user_code", "UserCode"]

FUNCTION_ITEMS = ("step_function", "sigmoid", "relu", "softmax", "mean_squared_error",
                  "cross_entropy_error")
OPTIONAL_FUNCTIONS = ("log_softmax", "mean_absolute_error", "softmax_cross_entropy",
                      "binary_cross_entropy")
OPTIMIZER_ITEMS = ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam")
NET_METHODS = ("predict", "loss", "gradient", "numerical_gradient", "accuracy")
#: Every item, in report order (optional functions are reported only when found).
ITEMS: tuple[str, ...] = (
    *FUNCTION_ITEMS, "numerical_diff", "numerical_gradient", "gradient_descent",
    *(f"SimpleNet.{m}" for m in ("loss", "gradient", "numerical_gradient")),
    *(f"TwoLayerNet.{m}" for m in NET_METHODS),
    *OPTIMIZER_ITEMS, "Dropout", "training step",
)
_ALIASES = {"SimpleNet": ("SimpleNet", "simpleNet", "simple_net"),
            "training step": ("training_step", "train_step")}
SIZES = (4, 5, 3)  # TwoLayerNet(input_size, hidden_size, output_size) built for the checks
LR = 0.1
PARAMS_NOT_COPIED = ("parameters not copied into the layers: the network's output ignores "
                     "the weights assigned to it (build the layers from self.params' own "
                     "arrays and update those arrays in place, params[key] -= lr * grad)")


# --------------------------------------------------------------------------- loading


@dataclass
class UserCode:
    """What was imported: a label, the modules in search order and the import failures."""

    label: str
    modules: list[types.ModuleType]
    failures: list[tuple[str, str]]
    #: the oracle's private import name -> the name shown (the file's or folder's)
    shown: tuple[str, str] | None = None

    def where(self, mod: types.ModuleType, key: str) -> str:
        name = mod.__name__
        if self.shown and name.startswith(self.shown[0]):
            name = self.shown[1] + name[len(self.shown[0]):]
        return f"{name}.{key}"

    def find(self, names: tuple[str, ...], *, function: bool = False
             ) -> tuple[Any, str] | None:
        """The first object called one of ``names``, with where it is: a function by its exact
        name (``relu``, never the class ``Relu``), a class case-insensitively (``simpleNet``,
        ``RMSProp``; never the function ``sgd``)."""
        wanted = set(names) if function else {n.lower() for n in names}
        for mod in self.modules:
            for key, obj in vars(mod).items():
                if key.startswith("__") or (key if function else key.lower()) not in wanted:
                    continue
                if isinstance(obj, type) is function:
                    continue
                return obj, self.where(mod, key)
        return None


@contextmanager
def _on_path(folder: Path) -> Iterator[None]:
    """``folder`` first on sys.path while importing; afterwards the modules imported from it
    leave sys.modules again, so a second submission's ``functions.py`` is not the first's."""
    folder = folder.resolve()
    before = set(sys.modules)
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        try:
            sys.path.remove(str(folder))
        except ValueError:  # pragma: no cover - the user's code removed it
            pass
        for key in set(sys.modules) - before:
            f = getattr(sys.modules[key], "__file__", None)
            if f and Path(f).resolve().is_relative_to(folder):
                del sys.modules[key]


_counter = itertools.count()


def _load_file(path: Path, name: str, package_dir: Path | None = None) -> types.ModuleType:
    kw = {"submodule_search_locations": [str(package_dir)]} if package_dir else {}
    spec = importlib.util.spec_from_file_location(name, path, **kw)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py path always has one
        raise ImportError(f"cannot load {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return mod


def _import_quietly(what: str, load: Callable[[], types.ModuleType],
                    failures: list[tuple[str, str]]) -> types.ModuleType | None:
    try:
        return call(f"importing {what}", load)
    except UserFailure as exc:
        failures.append((what, str(exc)))
    except SystemExit as exc:
        failures.append((what, f"importing {what} called sys.exit({exc.code!r})"))
    return None


def _walk_package(pkg: types.ModuleType, failures: list[tuple[str, str]]
                  ) -> list[types.ModuleType]:
    out = [pkg]
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        sub = _import_quietly(info.name, lambda n=info.name: importlib.import_module(n),
                              failures)
        if sub is not None:
            out.append(sub)
    return out


def load_user_code(module_or_path: object) -> UserCode:
    """Import a module object, a ``.py`` file, a folder or a module name (module docstring).

    A path that does not exist and is not an importable name raises ValueError; the user's
    code failing to import is recorded in ``failures`` (a verdict), not raised.
    """
    failures: list[tuple[str, str]] = []
    if isinstance(module_or_path, types.ModuleType):
        mods = (_walk_package(module_or_path, failures) if hasattr(module_or_path, "__path__")
                else [module_or_path])
        return UserCode(module_or_path.__name__, mods, failures)
    if not isinstance(module_or_path, (str, Path)):
        raise TypeError(f"module_or_path: expected a module, a path or a module name, got "
                        f"{_describe(module_or_path)}")
    path = Path(module_or_path)
    tag = f"_nnparity_user_{next(_counter)}"
    if path.is_file():
        if path.suffix != ".py":
            raise ValueError(f"module_or_path: expected a .py file, a folder or a module name, "
                             f"got the file {str(path)!r}")
        with _on_path(path.resolve().parent):
            mod = _import_quietly(path.name, lambda: _load_file(path, f"{tag}_{path.stem}"),
                                  failures)
        return UserCode(str(path), [mod] if mod else [], failures,
                        (f"{tag}_{path.stem}", path.stem))
    if path.is_dir():
        init = path / "__init__.py"
        if init.is_file():
            with _on_path(path.resolve().parent):
                pkg = _import_quietly(path.name, lambda: _load_file(init, tag, path), failures)
                mods = _walk_package(pkg, failures) if pkg else []
            return UserCode(str(path), mods, failures, (tag, path.name))
        mods = []
        with _on_path(path.resolve()):
            for f in sorted(path.glob("*.py")):
                if f.name.startswith(("test_", "setup")):
                    continue
                mod = _import_quietly(f.name, lambda f=f: _load_file(f, f"{tag}_{f.stem}"),
                                      failures)
                if mod is not None:
                    mods.append(mod)
        return UserCode(str(path), mods, failures, (f"{tag}_", ""))
    name = str(module_or_path)
    if not name.replace(".", "").replace("_", "").isalnum():
        raise ValueError(f"module_or_path: {name!r} is neither a file, a folder nor a module "
                         f"name")
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise ValueError(f"module_or_path: no file, folder or importable module {name!r}")
    mod = _import_quietly(name, lambda: importlib.import_module(name), failures)
    mods = [] if mod is None else (_walk_package(mod, failures) if hasattr(mod, "__path__")
                                   else [mod])
    return UserCode(name, mods, failures)


# --------------------------------------------------------------------------- rows


def _not_found(item: str, names: tuple[str, ...], required: bool) -> CheckResult:
    return CheckResult(
        name=item, group="module", passed=not required, max_abs_err=0.0, max_rel_err=0.0,
        where="", tolerance_class="none", rtol=0.0, atol=0.0,
        message=(f"{item}: not found (looked for {', '.join(names)})" if required else ""),
        details={"status": "not found", "item": item, "looked_for": list(names)},
    )


def _row(item: str, found_as: str, res: CheckResult, adapted: list[str]) -> CheckResult:
    res.details.update({"item": item, "found_as": found_as, "check": res.name,
                        "status": "passed" if res.passed else "failed",
                        "adapted": list(adapted)})
    res.name = item
    res.group = "module"
    # A row with no numeric comparison (only problems) has no tolerance; the report schema
    # wants finite numbers there.
    res.rtol = res.rtol if math.isfinite(res.rtol) else 0.0
    res.atol = res.atol if math.isfinite(res.atol) else 0.0
    return res


def _failed_row(item: str, found_as: str, message: str) -> CheckResult:
    run = _Run(item, "module")
    run.problem(found_as, message)
    return _row(item, found_as, run.result(), [])


def _guarded(item: str, found_as: str, adapted: list[str],
             check: Callable[[], CheckResult]) -> CheckResult:
    """A check's row; an error escaping the check itself becomes a failed row, quoted."""
    try:
        return _row(item, found_as, check(), adapted)
    except UserFailure as exc:
        return _failed_row(item, found_as, str(exc))
    except Exception as exc:  # noqa: BLE001 - one item must not stop the others
        return _failed_row(item, found_as, f"could not be checked: {quote(exc)}")


# --------------------------------------------------------------------------- functions


def _one_hot_only(fn: Callable[..., Any]) -> bool:
    """Whether a loss raises on integer labels but takes one-hot targets."""
    rng = np.random.default_rng(5)
    y = rng.dirichlet(np.ones(5), 6)
    labels = rng.integers(0, 5, 6)
    try:
        call("probe", fn, y.copy(), labels.copy())
        return False
    except UserFailure:
        try:
            call("probe", fn, y.copy(), np.eye(5)[labels])
            return True
        except UserFailure:
            return False


def _labels_to_one_hot(fn: Callable[..., Any]) -> Callable[..., Any]:
    def adapted(y: Any, t: Any) -> Any:
        t_arr = np.asarray(t)
        if t_arr.dtype.kind in "iu":
            k = np.shape(y)[-1]
            t = np.eye(k, dtype=np.asarray(y).dtype)[t_arr.reshape(-1)]
            t = t.reshape(np.shape(y)) if t.size == np.size(y) else t
        return fn(y, t)

    return adapted


def _function_rows(code: UserCode, required: bool) -> list[CheckResult]:
    from .functions import check_function

    rows = []
    for name in (*FUNCTION_ITEMS, *OPTIONAL_FUNCTIONS):
        hit = code.find((name,), function=True)
        if hit is None:
            if name in FUNCTION_ITEMS:
                rows.append(_not_found(name, (name,), required))
            continue
        fn, where = hit
        adapted: list[str] = []
        if not callable(fn):
            rows.append(_failed_row(name, where, f"is {_describe(fn)}, not a function"))
            continue
        if name.endswith("cross_entropy_error") and _one_hot_only(fn):
            fn = _labels_to_one_hot(fn)
            adapted.append("one-hot-only targets: integer labels converted to one-hot")
        rows.append(_guarded(name, where, adapted,
                             lambda fn=fn, name=name: check_function(fn, name)))
    return rows


def _differentiation_rows(code: UserCode, required: bool) -> list[CheckResult]:
    from .differentiation import (
        check_gradient_descent,
        check_numerical_diff,
        check_numerical_gradient,
    )

    rows = []
    for name, check in (("numerical_diff", check_numerical_diff),
                        ("numerical_gradient", check_numerical_gradient),
                        ("gradient_descent", check_gradient_descent)):
        hit = code.find((name,), function=True)
        if hit is None:
            rows.append(_not_found(name, (name,), required))
            continue
        fn, where = hit
        if isinstance(fn, type) or not callable(fn):
            rows.append(_failed_row(name, where, f"is {_describe(fn)}, not a function"))
            continue
        rows.append(_guarded(name, where, [], lambda fn=fn, check=check: check(fn)))
    return rows


# --------------------------------------------------------------------------- networks


def _assign(holder: Any, attr: str, value: np.ndarray, adapted: list[str], what: str) -> None:
    """Copy ``value`` into ``holder.attr`` in place when shapes agree, else rebind it."""
    cur = holder.get(attr) if isinstance(holder, dict) else getattr(holder, attr, None)
    if isinstance(cur, np.ndarray) and cur.shape == value.shape and cur.flags.writeable \
            and cur.dtype.kind == "f":
        cur[...] = value
        return
    if isinstance(holder, dict):
        holder[attr] = value.copy()
    else:
        setattr(holder, attr, value.copy())
    adapted.append(f"{what} replaced (it was {_describe(cur)})")


def _layers_with_weights(net: Any) -> list[Any]:
    layers = getattr(net, "layers", None)
    if isinstance(layers, Mapping):
        layers = list(layers.values())
    if not isinstance(layers, (list, tuple)):
        return []
    return [lay for lay in layers if hasattr(lay, "W") and hasattr(lay, "b")]


def _load_params(net: Any, p: Mapping[str, np.ndarray], adapted: list[str]) -> None:
    """The reference weights into ``net.params`` and into its Affine-like layers."""
    params = getattr(net, "params", None)
    if not isinstance(params, dict):
        params = {}
        net.params = params
        adapted.append("net.params created")
    for k, v in p.items():
        _assign(params, k, v, adapted, f"params[{k!r}]")
    layers = _layers_with_weights(net)
    for i, lay in enumerate(layers[:2]):
        for attr, key in (("W", f"W{i + 1}"), ("b", f"b{i + 1}")):
            cur = getattr(lay, attr)
            if cur is not params.get(key):
                _assign(lay, attr, p[key], adapted, f"layer {i + 1}'s {attr}")
    if layers:
        adapted.append(f"reference weights copied into net.params and into {len(layers[:2])} "
                       f"layer objects' W/b")
    else:
        adapted.append("reference weights copied into net.params")


def _build_net(cls: type, adapted: list[str]) -> Any:
    i, h, k = SIZES
    try:
        net = cls(input_size=i, hidden_size=h, output_size=k)
    except TypeError:
        net = call(f"{cls.__name__}({i}, {h}, {k})", cls, i, h, k)
    adapted.append(f"built as {cls.__name__}({i}, {h}, {k}) (no params= constructor needed)")
    return net


def _reference_params(seed: int = 3) -> dict[str, np.ndarray]:
    """Weights of scale 0.5 (not the book's 0.01): gradients well above rounding."""
    rng = np.random.default_rng(seed)
    i, h, k = SIZES
    return {"W1": 0.5 * rng.standard_normal((i, h)), "b1": 0.1 * rng.standard_normal(h),
            "W2": 0.5 * rng.standard_normal((h, k)), "b2": 0.1 * rng.standard_normal(k)}


@dataclass
class _NetSetup:
    net: Any
    p: dict[str, np.ndarray]
    x: np.ndarray
    t: np.ndarray  # what the net is given: one-hot (the book's), or labels
    activation: str
    loss: str
    adapted: list[str]
    ignores_params: bool


def _data(seed: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((6, SIZES[0]))
    labels = rng.integers(0, SIZES[2], 6)
    return x, labels


def _reference_net(p: Mapping[str, np.ndarray], activation: str, loss: str) -> Any:
    from reference_numpy.networks import TwoLayerNet

    return TwoLayerNet(*SIZES, params=p, activation=activation, loss=loss)


def _setup_two_layer(cls: type) -> _NetSetup:
    adapted: list[str] = []
    net = _build_net(cls, adapted)
    x, labels = _data()
    t = np.eye(SIZES[2])[labels]
    before = None
    if callable(getattr(net, "predict", None)):
        try:
            before = np.array(call("predict", net.predict, x.copy()), dtype=np.float64)
        except (UserFailure, TypeError, ValueError):
            before = None
    p = _reference_params()
    _load_params(net, p, adapted)
    after = None
    if before is not None:
        try:
            after = np.array(call("predict", net.predict, x.copy()), dtype=np.float64)
        except (UserFailure, TypeError, ValueError):
            after = None
    ignores = before is not None and after is not None and np.array_equal(before, after)
    user_loss = float(np.asarray(call("loss(x, t) with one-hot t", net.loss, x.copy(),
                                      t.copy())))
    best = None
    for activation in ("sigmoid", "relu"):
        for loss in ("softmax_cross_entropy", "cross_entropy_error"):
            ref = _reference_net(p, activation, loss).loss(x, t)
            gap = abs(user_loss - ref) / abs(ref)
            if best is None or gap < best[0]:
                best = (gap, activation, loss)
    assert best is not None
    _, activation, loss = best
    adapted.append(f"detected: {activation} hidden layer, "
                   + ("δ = 1e-7 inside the log" if loss == "cross_entropy_error"
                      else "no δ inside the log") + " (reference built to match)")
    try:
        call("loss(x, t) with labels", net.loss, x.copy(), labels.copy())
        float(np.asarray(net.loss(x.copy(), labels.copy())))
    except (UserFailure, TypeError, ValueError):
        adapted.append("one-hot-only targets: the network is given one-hot t")
    return _NetSetup(net, p, x, t, activation, loss, adapted, ignores)


def _net_method_rows(setup: _NetSetup | None, where: str, cls_error: str | None,
                     found: bool, required: bool) -> list[CheckResult]:
    rows = []
    for m in NET_METHODS:
        item = f"TwoLayerNet.{m}"
        if not found:
            rows.append(_not_found(item, ("TwoLayerNet",), required))
            continue
        if setup is None:
            rows.append(_failed_row(item, where, cls_error or "could not be built"))
            continue
        fn = getattr(setup.net, m, None)
        if not callable(fn):
            rows.append(_not_found(item, (f"TwoLayerNet.{m}",), required))
            continue
        rows.append(_guarded(item, f"{where}.{m}", setup.adapted,
                             lambda m=m: _check_net_method(setup, m)))
    return rows


def _check_net_method(s: _NetSetup, m: str) -> CheckResult:
    from .accuracy import check_accuracy

    if m == "accuracy":
        return check_accuracy(s.net, input_size=SIZES[0])
    ref = _reference_net(s.p, s.activation, s.loss)
    run = _Run(f"TwoLayerNet.{m}", "networks", engine="user numpy/float64")
    if s.ignores_params:
        run.hints.append(f"cause: {PARAMS_NOT_COPIED}")
    try:
        if m == "predict":
            got = call("predict(x)", s.net.predict, s.x.copy())
            logits = ref.logits(s.x)
            probs = ref.predict(s.x)
            arr = np.asarray(got, dtype=np.float64)
            expected = probs if arr.shape == probs.shape and np.allclose(arr, probs) \
                and not np.allclose(arr, logits) else logits
            run.details["notes"] = ["predict returns " + ("probabilities (softmax applied)"
                                                          if expected is probs else "logits")]
            run.observe("float64", "function", "predict(x), batch (6, 4)", got, expected)
        elif m == "loss":
            got = call("loss(x, t)", s.net.loss, s.x.copy(), s.t.copy())
            run.observe("float64", "loss", "loss(x, t)", np.atleast_1d(np.asarray(got)),
                        np.atleast_1d(ref.loss(s.x, s.t)))
        else:
            fn = getattr(s.net, m)
            got = call(f"{m}(x, t)", fn, s.x.copy(), s.t.copy())
            expected = ref.gradient(s.x, s.t) if m == "gradient" else \
                ref.numerical_gradient(s.x, s.t)
            if not isinstance(got, Mapping):
                raise UserFailure(f"{m} returned {_describe(got)}, expected a dict of "
                                  f"W1, b1, W2, b2")
            kind = "gradient" if m == "gradient" else "numerical"
            if m == "numerical_gradient" and all(
                    k in got and not np.any(np.asarray(got[k])) for k in expected):
                run.hints.append(f"cause: every element is 0, so moving net.params never "
                                 f"changed the loss: {PARAMS_NOT_COPIED}")
            for k in ("W1", "b1", "W2", "b2"):
                if k not in got:
                    run.problem(k, f"{m} returned no {k!r} (keys {sorted(got)})")
                    continue
                run.observe("float64", kind, f"grad {k}", got[k], expected[k])
    except UserFailure as exc:
        run.problem(m, str(exc))
    return run.result()


def _simple_net_rows(code: UserCode, required: bool) -> list[CheckResult]:
    from reference_numpy.networks import SimpleNet

    hit = code.find(_ALIASES["SimpleNet"])
    items = [f"SimpleNet.{m}" for m in ("loss", "gradient", "numerical_gradient")]
    if hit is None:
        return [_not_found(i, _ALIASES["SimpleNet"], required) for i in items]
    cls, where = hit
    adapted: list[str] = []
    try:
        net = call(f"{getattr(cls, '__name__', cls)}()", cls)
        W = np.random.default_rng(6).standard_normal((2, 3))
        _assign(net.__dict__, "W", W, adapted, "W")
        adapted.append("built with no arguments, the reference W copied into net.W")
    except UserFailure as exc:
        return [_failed_row(i, where, str(exc)) for i in items]
    ref = SimpleNet(W=W)
    cases = (("the book's x (2,) with one-hot t (3,)", np.array([0.6, 0.9]),
              np.array([0.0, 0.0, 1.0])),
             ("a batch x (4, 2) with one-hot t (4, 3)",
              np.random.default_rng(7).standard_normal((4, 2)), np.eye(3)[[0, 2, 1, 1]]))
    rows = []
    for item in items:
        m = item.split(".")[1]
        fn = getattr(net, m, None)
        if not callable(fn):
            rows.append(_not_found(item, (item,), required))
            continue

        def check(fn: Callable[..., Any] = fn, m: str = m) -> CheckResult:
            run = _Run(f"SimpleNet.{m}", "networks", engine="user numpy/float64")
            kind = {"loss": "loss", "gradient": "gradient", "numerical_gradient": "numerical"}[m]
            for case, x, t in cases:
                try:
                    got = call(f"{m}(x, t), {case}", fn, x.copy(), t.copy())
                except UserFailure as exc:
                    run.problem(case, str(exc))
                    continue
                expected = getattr(ref, m)(x, t)
                run.observe("float64", kind, case, np.atleast_1d(np.asarray(got, dtype=float)),
                            np.atleast_1d(expected))
            return run.result()

        rows.append(_guarded(item, f"{where}.{m}", adapted, check))
    return rows


# --------------------------------------------------------------------------- optimizers


_HYPER = {"SGD": {"lr": 0.01}, "Momentum": {"lr": 0.01, "momentum": 0.9},
          "Nesterov": {"lr": 0.01, "momentum": 0.9}, "AdaGrad": {"lr": 0.01},
          "RMSprop": {"lr": 0.01, "decay_rate": 0.99},
          "Adam": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999}}
N_OPT_STEPS = 5


def _optimizer_case(seed: int = 8) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]]]:
    rng = np.random.default_rng(seed)
    shapes = {"W1": (3, 4), "b1": (4,), "W2": (4, 2)}
    params = {k: rng.standard_normal(s) for k, s in shapes.items()}
    grads = [{k: rng.standard_normal(s) for k, s in shapes.items()} for _ in range(N_OPT_STEPS)]
    return params, grads


def _optimizer_rows(code: UserCode, required: bool) -> list[CheckResult]:
    from .steps import check_optimizer_step

    rows = []
    for name in OPTIMIZER_ITEMS:
        hit = code.find((name,))
        if hit is None:
            rows.append(_not_found(name, (name,), required))
            continue
        cls, where = hit
        hyper = dict(_HYPER[name])
        adapted = [f"built as {name}({', '.join(f'{k}={v}' for k, v in hyper.items())}), "
                   f"{N_OPT_STEPS} steps on 3 keys, a new gradient each step"]

        def check(cls: Any = cls, name: str = name, hyper: dict = hyper,
                  adapted: list[str] = adapted) -> CheckResult:
            def run(framework: str) -> CheckResult:
                opt = call(f"{name}(**{hyper})", cls, **hyper)
                if not callable(getattr(opt, "update", None)):
                    raise UserFailure(f"{name} has no update(params, grads) method")
                params, grads = _optimizer_case()
                if framework == "torch":
                    torch = _torch()
                    params = {k: torch.tensor(v) for k, v in params.items()}
                return check_optimizer_step(lambda p, g: opt.update(p, g), name.lower(),
                                            params, grads, **hyper)

            res = run("numpy")
            if not res.passed and " raised " in res.message:
                try:
                    again = run("torch")
                except ImportError:
                    return res
                if " raised " not in again.message:  # a torch optimizer: judged on tensors
                    adapted.append(f"given torch tensors (NumPy arrays raised: "
                                   f"{res.message.splitlines()[1][:200]})")
                    return again
            return res

        rows.append(_guarded(name, where, adapted, check))
    return rows


# --------------------------------------------------------------------------- training step


def _training_row(code: UserCode, setup: _NetSetup | None, net_where: str | None,
                  required: bool) -> CheckResult:
    from .steps import check_training_step

    item = "training step"
    hit = code.find(_ALIASES[item], function=True)
    p = _reference_params()
    x, labels = _data()
    if hit is not None:
        fn, where = hit
        return _guarded(item, where, [], lambda: check_training_step(fn, p, x, labels, lr=LR))
    if setup is None:
        return _not_found(item, (*_ALIASES[item], "TwoLayerNet + SGD"), required)
    sgd = code.find(("SGD",))
    cls = type(setup.net)
    stale: list[bool] = []

    def step(params: dict[str, np.ndarray], xb: np.ndarray, tb: np.ndarray) -> Any:
        adapted: list[str] = []
        net = _build_net(cls, adapted)
        _load_params(net, params, adapted)
        loss_before = float(np.asarray(net.loss(xb.copy(), tb.copy())))
        grads = net.gradient(xb.copy(), tb.copy())
        if sgd is not None:
            sgd[0](lr=LR).update(net.params, grads)
        else:
            for key in ("W1", "b1", "W2", "b2"):
                net.params[key] -= LR * grads[key]
        loss_after = float(np.asarray(net.loss(xb.copy(), tb.copy())))
        stale.append(loss_after == loss_before)
        return loss_after, grads, dict(net.params)

    how = (f"{net_where}: grads = net.gradient(x, t); "
           + (f"{sgd[1]}(lr={LR}).update(net.params, grads)" if sgd else
              f"params[key] -= {LR} * grads[key]") + "; loss after the update")
    delta = 1e-7 if setup.loss == "cross_entropy_error" else 0

    def check() -> CheckResult:
        res = check_training_step(step, p, x, setup.t, lr=LR, loss_at="after",
                                  activation=setup.activation, delta=delta)
        if not res.passed and stale and stale[0]:
            res.message += f"\ncause: {PARAMS_NOT_COPIED}"
            res.details.setdefault("notes", []).append("parameters not copied into the layers")
        return res

    return _guarded(item, how, [f"composed from the book's loop ({how})"], check)


# --------------------------------------------------------------------------- the whole


def check_module(module_or_path: object, *, require_all: bool = False,
                 dropout_convention: str = "book") -> list[CheckResult]:
    """Find and check every item of :data:`ITEMS` in your code (module docstring).

    ``require_all``: an item not found fails instead of being reported as not found.
    ``dropout_convention``: passed to :func:`verify.api.dropout.check_dropout` (``"book"``,
    ``"inverted"`` or ``"either"``).  Returns one row per item, plus one failed row per file
    that could not be imported (``details["status"] == "import failed"``).
    """
    from .dropout import DROPOUT_CONVENTIONS, check_dropout

    if dropout_convention not in DROPOUT_CONVENTIONS:
        raise ValueError(f"dropout_convention: expected one of {DROPOUT_CONVENTIONS}, got "
                         f"{dropout_convention!r}")
    code = (module_or_path if isinstance(module_or_path, UserCode)
            else load_user_code(module_or_path))
    rows: list[CheckResult] = []
    for what, msg in code.failures:
        row = _failed_row(f"import {what}", what, msg)
        row.details["status"] = "import failed"
        rows.append(row)
    rows += _function_rows(code, require_all)
    rows += _differentiation_rows(code, require_all)
    rows += _simple_net_rows(code, require_all)
    hit = code.find(("TwoLayerNet",))
    setup, where, error = None, None, None
    if hit is not None:
        cls, where = hit
        try:
            setup = _setup_two_layer(cls)
        except UserFailure as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - reported on each of its rows
            error = f"could not be set up: {quote(exc)}"
    rows += _net_method_rows(setup, where or "", error, hit is not None, require_all)
    rows += _optimizer_rows(code, require_all)
    hit = code.find(("Dropout",))
    if hit is None:
        rows.append(_not_found("Dropout", ("Dropout",), require_all))
    else:
        cls, dwhere = hit
        rows.append(_guarded("Dropout", dwhere, [],
                             lambda: check_dropout(cls, convention=dropout_convention)))
    rows.append(_training_row(code, setup, where, require_all))
    return rows
