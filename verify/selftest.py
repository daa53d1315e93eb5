"""``python -m verify selftest``: plant numerics-aware bugs one at a time and count the kills.

A verifier is only as good as the bugs it catches.  Each bug below is planted in one engine
(NumPy or torch) by patching a module attribute or wrapping a method, the checks run, and the
bug counts as caught when at least one check fails.  Then, with no bug planted, the same checks
run on many seeds: none may fail (no false alarms).  Finally the smallest detectable effect per
tolerance class is measured by scaling a bias gradient, and the learning rate, by 1 + ε for
shrinking ε.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from unittest import mock

import numpy as np

from .checks import GROUP_NAMES
from .checks.context import Context
from .engines import Engine, engines_for
from .runner import run_groups

__all__ = ["BUGS", "Bug", "run_selftest", "main"]


@dataclass(frozen=True)
class Bug:
    name: str
    engine: str  # "numpy" or "torch"
    groups: tuple[str, ...]  # the checks run with the bug planted
    plant: Callable[[], contextlib.AbstractContextManager]


def _pkg(engine: str) -> str:
    return "reference_numpy" if engine == "numpy" else "reference_torch"


def _module(engine: str, name: str):
    import importlib

    return importlib.import_module(f"{_pkg(engine)}.{name}")


@contextlib.contextmanager
def _patch_name(engine: str, name: str, new: object) -> Iterator[None]:
    """Replace ``name`` in every module of the package that holds the original object."""
    modules = ["functions", "gradient", "networks", "optimizers", "training", "plan"]
    original = _lookup(engine, name)
    with contextlib.ExitStack() as stack:
        for m in modules:
            try:
                mod = _module(engine, m)
            except ImportError:
                continue
            if getattr(mod, name, None) is original:
                stack.enter_context(mock.patch.object(mod, name, new))
        yield


def _wrap_method(engine: str, module: str, cls: str, meth: str, make: Callable) -> Callable:
    """A planter that replaces cls.meth by make(original)."""

    def plant() -> contextlib.AbstractContextManager:
        klass = getattr(_module(engine, module), cls)
        return mock.patch.object(klass, meth, make(getattr(klass, meth)))

    return plant


def _xp(a):
    if isinstance(a, np.ndarray):
        return np
    import torch

    return torch


# --------------------------------------------------------------------------- the bugs
def _softmax_axis0(engine):
    def softmax(a):
        xp = _xp(a)
        m = a.max(0, keepdims=True) if xp is np else a.max(0, keepdim=True).values
        e = xp.exp(a - m)
        return e / (e.sum(0, keepdims=True) if xp is np else e.sum(0, keepdim=True))
    return lambda: _patch_name(engine, "softmax", softmax)


def _softmax_no_shift(engine):
    def softmax(a):
        xp = _xp(a)
        e = xp.exp(a)
        return e / (e.sum(-1, keepdims=True) if xp is np else e.sum(-1, keepdim=True))
    return lambda: _patch_name(engine, "softmax", softmax)


def _scale_output(engine, name, factor_of_input):
    def plant():
        orig = _lookup(engine, name)

        def f(y, t, *a, **kw):
            return orig(y, t, *a, **kw) * factor_of_input(y)
        return _patch_name(engine, name, f)
    return plant


def _grads_transform(engine, fn):
    """Wrap TwoLayerNet.gradient_unchecked(x, t, is_labels, mask) -> fn(self, grads, ...)."""
    def make(orig):
        def _gradient(self, x, t, is_labels, mask):
            return fn(self, orig(self, x, t, is_labels, mask), x, t, is_labels, mask, orig)
        return _gradient
    return _wrap_method(engine, "networks", "TwoLayerNet", "gradient_unchecked", make)


def _scale_bias(eps):
    def fn(self, g, *_):
        g = dict(g)
        g["b1"], g["b2"] = g["b1"] * (1 + eps), g["b2"] * (1 + eps)
        return g
    return fn


def _missing_inv_n(self, g, x, *_):
    return {k: v * x.shape[0] for k, v in g.items()}


def _label_smoothing(self, g, x, t, is_labels, mask, orig):
    eps = 1e-3
    k = self.sizes[2]
    if is_labels:
        if isinstance(t, np.ndarray):
            onehot = np.eye(k)[t]
        else:
            import torch

            onehot = torch.nn.functional.one_hot(t, k).to(x.dtype)
    else:
        onehot = t
    return orig(self, x, (1 - eps) * onehot + eps / k, False, mask)


def _decay_biases(self, g, *_):
    lam = self.weight_decay_lambda
    p = self.params
    return {k: (v + lam * p[k] if k in ("b1", "b2") else v) for k, v in g.items()}


def _transposed_w2(self, g, x, t, is_labels, mask, orig):
    """Backprop through W2 instead of W2ᵀ (expressible only when W2 is square)."""
    p = self.params
    if p["W2"].shape[0] != p["W2"].shape[1] or self.activation != "sigmoid" or mask is not None:
        return g
    xp = _xp(x)
    a1 = x @ p["W1"] + p["b1"]
    z1 = 1 / (1 + xp.exp(-a1))
    a2 = z1 @ p["W2"] + p["b2"]
    e = xp.exp(a2 - (a2.max(1, keepdims=True) if xp is np else a2.max(1, keepdim=True).values))
    y = e / (e.sum(1, keepdims=True) if xp is np else e.sum(1, keepdim=True))
    k = y.shape[1]
    if is_labels:
        onehot = np.eye(k)[t] if xp is np else __import__("torch").nn.functional.one_hot(t, k)
        t = onehot.astype(y.dtype) if xp is np else onehot.to(y.dtype)
    dy = (y - t) / x.shape[0]
    dz = (dy @ p["W2"]) * z1 * (1 - z1)  # the bug: W2, not W2.T
    return {**g, "W1": x.T @ dz, "b1": dz.sum(0)}


def _step_replace(engine, cls, body):
    def make(orig):
        def _step(self, key, p, g):
            body(self, key, p, g)
        return _step
    return _wrap_method(engine, "optimizers", cls, "_step", make)


def _sqrt(a):
    return _xp(a).sqrt(a)


def _sgd_lr(scale):
    def body(self, key, p, g):
        p -= self.lr * scale * g
    return body


def _momentum_sign(self, key, p, g):
    v = self.v.setdefault(key, p * 0)
    v *= self.momentum
    v += self.lr * g  # the bug: + instead of -
    p += v


def _nesterov_old_order(self, key, p, g):
    m = self.momentum
    v = self.v.setdefault(key, p * 0)
    v *= m
    v -= self.lr * g
    p += m * m * v - (1 + m) * self.lr * g  # the pre-2021 order: uses the new v


def _adam_eps_inside(self, key, p, g):
    m = self.m.setdefault(key, p * 0)
    v = self.v.setdefault(key, p * 0)
    m += (1 - self.beta1) * (g - m)
    v += (1 - self.beta2) * (g * g - v)
    p -= self._lr_t * m / _sqrt(v + 1e-7)  # the bug: ε inside the root


def _rmsprop_decay(self, key, p, g):
    h = self.h.setdefault(key, p * 0)
    h *= 0.9  # the bug: 0.9 instead of the book's 0.99
    h += 0.1 * g * g
    p -= self.lr * g / (_sqrt(h) + 1e-7)


def _adagrad_eps_inside(self, key, p, g):
    h = self.h.setdefault(key, p * 0)
    h += g * g
    p -= self.lr * g / _sqrt(h + 1e-7)


@contextlib.contextmanager
def _numerical_gradient_not_restored() -> Iterator[None]:
    gmod = _module("numpy", "gradient")
    orig = gmod.numerical_gradient

    def numerical_gradient(f, x, h=1e-4, method="central"):
        g = orig(f, x, h, method)
        x.reshape(-1)[0] += h  # the bug: the last perturbation is left in place
        return g

    with _patch_name("numpy", "numerical_gradient", numerical_gradient):
        yield


@contextlib.contextmanager
def _shifted_batches() -> Iterator[None]:
    """The NumPy training loop reads batch i+1 (mod) instead of batch i."""
    tmod = _module("numpy", "training")
    orig_train = tmod.train

    class Shifted:
        def __init__(self, plan):
            self._plan = plan

        def __getattr__(self, name):
            return getattr(self._plan, name)

        def batch(self, i):
            return self._plan.batch((i + 1) % self._plan.iters_num)

    def train(network, x_train, t_train, x_test, t_test, plan, *a, **kw):
        shifted = Shifted(plan)
        shifted.__class__ = type("ShiftedPlan", (Shifted, type(plan)), {})
        return orig_train(network, x_train, t_train, x_test, t_test, shifted, *a, **kw)

    with mock.patch.object(tmod, "train", train):
        yield


@contextlib.contextmanager
def _fused_lr(engine: str) -> Iterator[None]:
    """train's fast path (the fused SGD step) steps with lr × 1.001; the eager path is right,
    so only the checks of what train runs by default can see it."""
    tmod = _module(engine, "fastpath")
    orig = tmod.fused_sgd_step

    def step(*args):
        *rest, lr = args
        return orig(*rest, lr * 1.001)

    with mock.patch.object(tmod, "fused_sgd_step", step):
        yield


@contextlib.contextmanager
def _loss_before_update() -> Iterator[None]:
    """The NumPy loop records the loss computed before the update (the book records after)."""
    cls = _module("numpy", "networks").TwoLayerNet
    orig_g, orig_l = cls.gradient_unchecked, cls.loss_unchecked

    def _gradient(self, x, t, il, mask):
        self._pre_update_loss = orig_l(self, x, t, il, mask)
        return orig_g(self, x, t, il, mask)

    def _loss(self, x, t, il, mask):
        pre = self.__dict__.pop("_pre_update_loss", None)
        return pre if pre is not None else orig_l(self, x, t, il, mask)

    with mock.patch.object(cls, "gradient_unchecked", _gradient), \
            mock.patch.object(cls, "loss_unchecked", _loss):
        yield


@contextlib.contextmanager
def _torchvision_transposed() -> Iterator[None]:
    mod = _module("torch", "mnist")
    orig = mod.torchvision_arrays

    def torchvision_arrays(*a, **kw):
        out = dict(orig(*a, **kw))
        for k in ("x_train", "x_test"):
            out[k] = np.asarray(out[k]).reshape(-1, 28, 28).transpose(0, 2, 1).copy()
        return out

    with mock.patch.object(mod, "torchvision_arrays", torchvision_arrays):
        yield


def _lookup(engine, name):
    """A public function of the engine's functions or gradient module."""
    fmod = _module(engine, "functions")
    return getattr(fmod, name) if hasattr(fmod, name) else getattr(_module(engine, "gradient"),
                                                                  name)


def _fn_replace(engine, name, make):
    def plant():
        return _patch_name(engine, name, make(_lookup(engine, name)))
    return plant


def _relu_grad_kink(orig):
    def relu_grad(x):
        return (x >= 0) * (x * 0 + 1)
    return relu_grad


def _sigmoid_grad_of_activation(orig):
    def sigmoid_grad(x):
        return x * (1 - x)  # the bug: treats the pre-activation as σ(x)
    return sigmoid_grad


def _softmax_backward_no_sub(orig):
    def softmax_backward(y, dout):
        return y * dout  # the bug: drops the Σ dout·y term
    return softmax_backward


def _eps_inside_log(orig):
    def softmax_cross_entropy(logits, t):
        xp = _xp(logits)
        a = logits
        m = a.max(-1, keepdims=True) if xp is np else a.max(-1, keepdim=True).values
        e = xp.exp(a - m)
        y = e / (e.sum(-1, keepdims=True) if xp is np else e.sum(-1, keepdim=True))
        return orig.__globals__["cross_entropy_error"](y, t)  # log(y + 1e-7): δ inside the log
    return softmax_cross_entropy


def _mse_sum(orig):
    def mean_squared_error(y, t, reduction="half_sum"):
        return orig(y, t, "sum" if reduction == "half_sum" else reduction)
    return mean_squared_error


def _numerical_diff_forward(orig):
    def numerical_diff(f, x, h=1e-4, method="central"):
        return orig(f, x, h, "forward" if method == "central" else method)
    return numerical_diff


BUGS: list[Bug] = [
    Bug("softmax reduces over the wrong axis (0)", "numpy", ("losses",),
        _softmax_axis0("numpy")),
    Bug("softmax without the max shift (overflows)", "torch", ("losses",),
        _softmax_no_shift("torch")),
    Bug("cross_entropy_error sums instead of averaging (mean vs sum)", "numpy", ("losses",),
        _scale_output("numpy", "cross_entropy_error", lambda y: y.reshape(-1, y.shape[-1])
                      .shape[0])),
    Bug("softmax_cross_entropy missing 1/N", "torch", ("losses",),
        _scale_output("torch", "softmax_cross_entropy",
                      lambda y: y.reshape(-1, y.shape[-1]).shape[0])),
    Bug("ε = 1e-7 inside the log of the exact loss", "numpy", ("losses",),
        _fn_replace("numpy", "softmax_cross_entropy", _eps_inside_log)),
    Bug("ReLU'(0) = 1", "torch", ("losses",), _fn_replace("torch", "relu_grad", _relu_grad_kink)),
    Bug("sigmoid_grad applied to the activation", "torch", ("losses",),
        _fn_replace("torch", "sigmoid_grad", _sigmoid_grad_of_activation)),
    Bug("softmax backward drops the Σ dout·y term", "numpy", ("losses",),
        _fn_replace("numpy", "softmax_backward", _softmax_backward_no_sub)),
    Bug("mean_squared_error sum instead of ½ sum", "numpy", ("losses", "seeds"),
        _fn_replace("numpy", "mean_squared_error", _mse_sum)),
    Bug("numerical_diff uses forward differences", "numpy", ("seeds",),
        _fn_replace("numpy", "numerical_diff", _numerical_diff_forward)),
    Bug("bias gradient × (1 + 1e-4)", "torch", ("gradients",),
        _grads_transform("torch", lambda s, g, *a: _scale_bias(1e-4)(s, g))),
    Bug("bias gradient × (1 + 1e-4)", "numpy", ("gradients",),
        _grads_transform("numpy", lambda s, g, *a: _scale_bias(1e-4)(s, g))),
    Bug("backprop missing 1/N", "numpy", ("gradients",), _grads_transform("numpy", _missing_inv_n)),
    Bug("label smoothing 1e-3 in backprop", "torch", ("gradients",),
        _grads_transform("torch", _label_smoothing)),
    Bug("weight decay applied to biases", "torch", ("gradients",),
        _grads_transform("torch", _decay_biases)),
    Bug("transposed weight (W2 for W2ᵀ) in backprop", "torch", ("gradients",),
        _grads_transform("torch", _transposed_w2)),
    Bug("numerical_gradient leaves a parameter perturbed", "numpy", ("gradients",),
        _numerical_gradient_not_restored),
    Bug("learning rate × 1.001", "torch", ("training",),
        _step_replace("torch", "SGD", _sgd_lr(1.001))),
    Bug("momentum with the wrong sign", "torch", ("optimizers",),
        _step_replace("torch", "Momentum", _momentum_sign)),
    Bug("Nesterov in the pre-2021 order", "torch", ("optimizers",),
        _step_replace("torch", "Nesterov", _nesterov_old_order)),
    Bug("Adam's ε moved inside the square root", "numpy", ("optimizers",),
        _step_replace("numpy", "Adam", _adam_eps_inside)),
    Bug("RMSprop decay 0.9 instead of 0.99", "numpy", ("optimizers",),
        _step_replace("numpy", "RMSprop", _rmsprop_decay)),
    Bug("AdaGrad's ε inside the square root", "torch", ("optimizers",),
        _step_replace("torch", "AdaGrad", _adagrad_eps_inside)),
    Bug("batch index shifted by one in the training loop", "numpy", ("training",),
        _shifted_batches),
    Bug("loss recorded before the update", "numpy", ("training",), _loss_before_update),
    Bug("fast path only: fused step's learning rate × 1.001", "numpy", ("training",),
        functools.partial(_fused_lr, "numpy")),
    Bug("fast path only: fused step's learning rate × 1.001", "torch", ("training",),
        functools.partial(_fused_lr, "torch")),
    Bug("torchvision images transposed", "torch", ("data",), _torchvision_transposed),
]


# --------------------------------------------------------------------------- running
def _context(engines: list[Engine], seed: int, iters: int, data_dir: str | None) -> Context:
    return Context(engines=engines, seed=seed, iters=iters, quick=True, data_dir=data_dir)


def _failures(ctx: Context, groups: list[str]) -> tuple[list[str], str | None]:
    """Names of failing checks, or the error a check raised (which also counts as caught)."""
    try:
        results = run_groups(ctx, groups)
    except Exception as e:  # noqa: BLE001 - a crash under a planted bug is a detection
        return [], f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"
    return [r.name for r in results if not r.passed], None


def run_selftest(*, seeds: int = 20, iters: int = 60, device: str | None = None,
                 data_dir: str | None = None, bugs: list[Bug] | None = None,
                 progress: bool = False) -> dict:
    """Plant each bug, then run clean seeds; return kills, false alarms and detection limits."""
    engines = engines_for(device)
    all_groups = list(GROUP_NAMES)
    out: dict = {"bugs": [], "false_alarms": [], "seeds": seeds}
    chosen = BUGS if bugs is None else bugs
    for bug in _progress(chosen, progress, "planted bugs"):
        t0 = time.perf_counter()
        ctx = _context(engines, 0, iters, data_dir)
        with bug.plant():
            failed, error = _failures(ctx, list(bug.groups))
        out["bugs"].append({"bug": bug.name, "engine": bug.engine, "groups": list(bug.groups),
                            "caught": bool(failed or error), "failing_checks": failed[:5],
                            "error": error, "seconds": round(time.perf_counter() - t0, 2)})
    for seed in _progress(range(seeds), progress, "clean seeds"):
        failed, error = _failures(_context(engines, seed, iters, data_dir), all_groups)
        if failed or error:
            out["false_alarms"].append({"seed": seed, "failing_checks": failed, "error": error})
    out["detection_limits"] = detection_limits(engines, data_dir, iters)
    caught = sum(b["caught"] for b in out["bugs"])
    out["kill_rate"] = caught / max(1, len(out["bugs"]))
    out["passed"] = caught == len(out["bugs"]) and not out["false_alarms"]
    return out


def detection_limits(engines: list[Engine], data_dir: str | None, iters: int) -> dict:
    """Per tolerance class, the smallest ε for which a bias gradient × (1+ε), or a learning
    rate × (1+ε), planted in that class's engine, is caught."""
    limits = {}
    for eng in engines:
        row = {}
        for label, groups, planter in (
            ("bias gradient × (1+ε)", ["gradients"],
             lambda e, eps: _grads_transform(e.framework,
                                             lambda s, g, *a: _scale_bias(eps)(s, g))()),
            ("learning rate × (1+ε)", ["training"],
             lambda e, eps: _step_replace(e.framework, "SGD", _sgd_lr(1 + eps))()),
        ):
            smallest = None
            for k in range(1, 13):
                eps = 10.0 ** -k
                ctx = _context([eng], 0, min(iters, 30), data_dir)
                with planter(eng, eps):
                    failed, error = _failures(ctx, groups)
                if not (failed or error):
                    break
                smallest = eps
            row[label] = smallest
        limits[f"{eng.tolerance_class} ({eng.name})"] = row
    return limits


def _progress(it, show: bool, desc: str):
    from .progress import Progress

    items = list(it)
    return Progress("auto" if show else "off").iterate(items, desc, unit="runs")


def format_selftest(out: dict) -> str:
    lines = ["planted bug                                                   engine  caught"]
    for b in out["bugs"]:
        how = (", ".join(b["failing_checks"][:2]) or b["error"] or "")[:70]
        lines.append(f"{b['bug'][:60]:<62}{b['engine']:<8}{'YES' if b['caught'] else 'NO':<5}"
                     f" {how}")
    n = len(out["bugs"])
    caught = sum(b["caught"] for b in out["bugs"])
    lines.append(f"\nkill rate: {caught}/{n} = {out['kill_rate']:.0%}")
    lines.append(f"false alarms over {out['seeds']} clean seeds: {len(out['false_alarms'])}")
    for fa in out["false_alarms"]:
        lines.append(f"  seed {fa['seed']}: {fa['failing_checks'] or fa['error']}")
    lines.append("smallest detectable effect (ε in 1+ε), per tolerance class:")
    for cls, row in out["detection_limits"].items():
        lines.append(f"  {cls}: " + "; ".join(f"{k}: {v:.0e}" if v else f"{k}: none"
                                              for k, v in row.items()))
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    out = run_selftest(seeds=args.seeds or 20, iters=args.iters or 60, device=args.device,
                       data_dir=args.data_dir,
                       progress=not args.no_progress)
    print(format_selftest(out))
    if args.json:
        from .report.atomic import write_file
        from .report.codec import dumps

        write_file(args.json, dumps(out, "selftest", indent=1).encode("utf-8"))
    return 0 if out["passed"] else 1

