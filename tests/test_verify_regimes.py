"""The regimes group: it passes on the references, and each of its checks fails on a bug planted
in one engine (short runs: the iterations are capped by the context)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import torch

import reference_numpy.networks as np_networks
import reference_torch.networks as t_networks
import reference_torch.optimizers as t_opt
import reference_torch.training as t_training
from reference_numpy.optimizers import EPS
from verify.checks import GROUP_NAMES, holdout, regimes
from verify.checks.context import Context
from verify.engines import engines_for
from verify.runner import run_groups

ITERS = 30  # enough for 6 evaluations on the regimes' slice, and for early stopping to decide


@pytest.fixture(scope="module")
def engines():
    return engines_for("cpu")


def _run(engines, mnist_dir, names: tuple[str, ...], seed: int = 0):
    ctx = Context(engines=engines, seed=seed, iters=ITERS, quick=True, data_dir=str(mnist_dir))
    chosen = tuple(r for r in regimes.REGIMES if r.name in names)
    assert len(chosen) == len(names)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(regimes, "REGIMES", chosen)
        return run_groups(ctx, ["regimes"])


def test_group_is_registered_once():
    assert GROUP_NAMES.count("regimes") == 1


def test_every_regime_passes_on_the_references(engines, mnist_dir):
    results = _run(engines, mnist_dir, tuple(r.name for r in regimes.REGIMES), seed=3)
    failed = [r for r in results if not r.passed]
    assert not failed, "\n\n".join(f"{r.name}: {r.message}" for r in failed)
    # per regime and candidate: a replay, a curve and an accuracy row (+ early stopping's and
    # dropout's test-time logits); per plain-SGD regime, the fast path's curve and accuracy rows
    # (+ early stopping's) for the reference's engine and each candidate
    # (fused), and per regime whose optimizer can be captured, the uncaptured graph loop's for
    # each torch candidate; holdout_split's and EarlyStopping()'s defaults' rows for every
    # engine, the reference's included; the capturable flags' row for each torch candidate; and
    # the plan's draws' one row
    def rows(r):
        return 2 + (r.early_stopping is not None)

    fused = sum(rows(r) for r in regimes.REGIMES if r.optimizer == "sgd" and not r.weight_decay)
    graph = sum(rows(r) for r in regimes.REGIMES if r.optimizer != "adam")
    n_torch = sum(e.framework == "torch" for e in engines)
    assert len(results) == len(engines) * (3 * len(regimes.REGIMES) + 2) + (
        len(engines) + 1) * fused + n_torch * graph + 2 * (len(engines) + 1) + n_torch + 1
    assert sum(r.name.startswith(holdout.CHECK) for r in results) == len(engines) + 1
    assert sum("train's default: fused" in r.name for r in results) == (len(engines) + 1) * fused
    assert sum(regimes.GRAPH_UNCAPTURED in r.name for r in results) == n_torch * graph


def test_graph_loop_rows_see_a_bug_in_the_graph_loop(engines, mnist_dir, monkeypatch):
    """The graph loop's warm-up steps not undone (a bug only mode "graph" has): the uncaptured
    graph rows fail, as verdicts; every other row passes."""
    import reference_torch.fastpath as t_fastpath

    monkeypatch.setattr(t_fastpath.Snapshot, "restore", lambda self, params, opt: None)
    results = _run(engines, mnist_dir, ("Momentum",))
    bad = [r for r in results if regimes.GRAPH_UNCAPTURED in r.name]
    assert bad and not any(r.passed for r in bad if "loss curve" in r.name)
    assert all(r.message for r in bad if not r.passed)
    assert all(r.passed for r in results if r not in bad)


def test_fast_paths_see_a_dropout_scaling_bug_in_the_numpy_fused_step(engines, mnist_dir,
                                                                      monkeypatch):
    """The fused step's h = z1 * mask written as z1 / mask (a generated mutant the eager rows
    cannot see): NumPy's fast-path rows fail, as verdicts; torch's and every eager row pass."""
    import reference_numpy.fastpath as np_fastpath

    orig = np_fastpath.forward_fused

    def divides(net, params, x, scale):
        with np.errstate(divide="ignore"):
            return orig(net, params, x, None if scale is None else np.divide(1.0, scale))

    monkeypatch.setattr(np_fastpath, "forward_fused", divides)
    results = _run(engines, mnist_dir, ("dropout",))
    fused = [r for r in results if "train's default" in r.name]
    bad = [r for r in fused if r.name.split("(")[-1].startswith("numpy")]
    assert bad and not any(r.passed for r in bad) and all(r.message for r in bad)
    assert all(r.passed for r in results if r not in bad), [
        r.name for r in results if r not in bad and not r.passed]


# --------------------------------------------------------------------------- planted bugs


def _patch(obj: object, name: str, make: Callable[[Callable], Callable]) -> Callable:
    @contextmanager
    def plant() -> Iterator[None]:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(obj, name, make(getattr(obj, name)))
            yield

    return plant


def _adam_no_bias_correction(orig):
    def _begin(self):
        self.iter += 1
        self._lr_t = self.lr

    return _begin


def _momentum_forgets_velocity(orig):
    def _step(self, key, p, g):
        v = self.v.setdefault(key, torch.zeros_like(p))
        v *= self.momentum * 0.5
        v -= self.lr * g
        p += v

    return _step


def _nesterov_plain_momentum(orig):
    def _step(self, key, p, g):
        v = self.v.setdefault(key, torch.zeros_like(p))
        v *= self.momentum
        v -= self.lr * g
        p += v

    return _step


def _adagrad_eps_inside(orig):
    def _step(self, key, p, g):
        h = self.h.setdefault(key, torch.zeros_like(p))
        h += g * g
        p -= self.lr * g / torch.sqrt(h + EPS)

    return _step


def _rmsprop_swapped_decay(orig):
    def _step(self, key, p, g):
        d = self.decay_rate
        h = self.h.setdefault(key, torch.zeros_like(p))
        h *= 1 - d
        h += d * g * g
        p -= self.lr * g / (torch.sqrt(h) + EPS)

    return _step


def _grad_over_100(orig):
    """The mean over the batch taken as /100 (the book's batch size) instead of /N."""
    def gradient_unchecked(self, x, t, is_labels, mask):
        return {k: v * (x.shape[0] / 100) for k, v in orig(self, x, t, is_labels, mask).items()}

    return gradient_unchecked


def _weight_decay_off_by_1pct(orig):
    def __init__(self, *a, **kw):
        orig(self, *a, **kw)
        self.weight_decay_lambda *= 1.01

    return __init__


def _inverted_dropout_in_training(orig):
    def _hidden(self, x, dropout_mask, p=None):
        a1, z1, h = orig(self, x, dropout_mask, p)
        if dropout_mask is not None:
            h = h / (1 - self.dropout_ratio)
        return a1, z1, h

    return _hidden


def _no_test_time_scaling(orig):
    def _hidden(self, x, dropout_mask, p=None):
        a1, z1, h = orig(self, x, dropout_mask, p)
        return a1, z1, (z1 if dropout_mask is None else h)

    return _hidden


def _batch_shifted(orig):
    def batch(self, i):
        return orig(self, max(i - 1, 0))

    return batch


def _early_stopping_reads_test_set(orig):
    def evaluate(self, i, points):
        if self.best is not None:
            self.best.x, self.best.t = self.xte, self.tte
        return orig(self, i, points)

    return evaluate


def _one_hot_labels_shifted(orig):
    """One-hot training targets turned into the wrong labels (argmax + 1): labels are right."""
    def as_labels(t, *a, **kw):
        out = orig(t, *a, **kw)
        return (out + 1) % 10 if isinstance(t, torch.Tensor) and t.ndim == 2 else out

    return as_labels


REPLAY, CURVE, STOP, TEST = "replay", "curve", "stopping", "test_time"

#: (regime, planted bug in one engine, which of its checks must fail for which engines)
BUGS = [
    ("Adam", _patch(t_opt.Adam, "_begin", _adam_no_bias_correction), (REPLAY, CURVE), "torch"),
    ("Momentum", _patch(t_opt.Momentum, "_step", _momentum_forgets_velocity), (REPLAY, CURVE),
     "torch"),
    ("Nesterov", _patch(t_opt.Nesterov, "_step", _nesterov_plain_momentum), (REPLAY, CURVE),
     "torch"),
    ("AdaGrad", _patch(t_opt.AdaGrad, "_step", _adagrad_eps_inside), (REPLAY, CURVE), "torch"),
    ("RMSprop", _patch(t_opt.RMSprop, "_step", _rmsprop_swapped_decay), (REPLAY, CURVE),
     "torch"),
    ("full batch", _patch(t_networks.TwoLayerNet, "gradient_unchecked", _grad_over_100),
     (REPLAY, CURVE), "torch"),
    ("batch of one", _patch(t_networks.TwoLayerNet, "gradient_unchecked", _grad_over_100),
     (REPLAY, CURVE), "torch"),
    ("shuffled mini-batches", _patch(t_training.TrainRun, "batch", _batch_shifted), (CURVE,),
     "torch"),
    # the shuffled run trains on one-hot targets (what load_mnist(one_hot_label=True) gives)
    ("shuffled mini-batches", _patch(t_training, "as_labels", _one_hot_labels_shifted),
     (CURVE,), "torch"),
    ("weight decay", _patch(t_networks.TwoLayerNet, "__init__", _weight_decay_off_by_1pct),
     (REPLAY, CURVE), "torch"),
    ("dropout", _patch(t_networks.TwoLayerNet, "_hidden", _inverted_dropout_in_training),
     (REPLAY, CURVE), "torch"),
    # the test-time scaling moves no argmax (b2 is small), so the logits check must see it; in
    # NumPy the reference has it too, and the torch candidates are the ones that differ
    ("dropout", _patch(t_networks.TwoLayerNet, "_hidden", _no_test_time_scaling), (TEST,),
     "torch"),
    ("dropout", _patch(np_networks.TwoLayerNet, "_hidden", _no_test_time_scaling), (TEST,),
     "torch"),
    ("early stopping", _patch(t_training.TrainRun, "evaluate", _early_stopping_reads_test_set),
     (STOP,), "torch"),
]


@pytest.mark.parametrize(("regime", "plant", "checks", "engine"), BUGS,
                         ids=[f"{b[0]}-{i}"
                              for i, b in enumerate(BUGS)])
def test_planted_bug_fails_the_regimes_checks(engines, mnist_dir, regime, plant, checks, engine):
    (spec,) = [r for r in regimes.REGIMES if r.name == regime]
    names = regimes.row_names(spec)
    with plant():
        results = _run(engines, mnist_dir, (regime,))
    by_name = {r.name: r for r in results}
    for eng in engines:
        for check in checks:
            row = by_name[f"{names[check]} ({eng.name})"]
            if eng.framework == engine:
                assert not row.passed, f"{row.name} passed with the bug planted"
                assert row.message
    # the engine without the bug still agrees with the reference
    clean = [r for r in results if engine not in r.name]
    assert clean and all(r.passed for r in clean), [r.name for r in clean if not r.passed]
