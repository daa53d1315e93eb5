"""The rows added for the generated samples' survivors (docs/mutants.md: seed 0 judged at
a840fa7, seed 1 at caba43a), each shown to fail on the mutant it was added for, and only where
it should: the mutant is planted as generated (the function's or method's source with one
change; a class attribute or a default set), the group named is run, and the failing rows are
exactly the expected check for the engines whose code holds the mutant."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from plant import plant

from verify.checks.context import Context
from verify.engines import engines_for
from verify.runner import run_groups

REFERENCE = "numpy/float64"  # how a row names the reference engine


@dataclass(frozen=True)
class Survivor:
    module: str
    func: str
    old: str
    new: str
    group: str
    #: The rows expected to fail, as (check, which engines): "numpy" (the reference and the
    #: NumPy candidate), "torch" (every torch candidate), "torch/float64" (the float64 torch
    #: candidates), a row's exact candidate label, or "" (a group's row, with no candidate).
    fails: tuple[tuple[str, str], ...]


MODE = "train's default mode for plain SGD"
SAVED_PARAMS = "save_params, then load_params (NumPy's and the engine's)"
NONFINITE = "allow_nonfinite: stops at the first non-finite loss"
HOLDOUT = "holdout_split: the held-out and remaining rows"
FORMULAS = "the notes' formulas, computed here in float64"
STEP = "numerical_diff's too-small-h warning"
INFO = "information content log 1/p (nats, and bits)"
ENTROPY = "entropy as the expected information content E_p[log 1/p]"
LOADER = "download_mnist from a mirror (a loopback server)"
ORDER_FIT = "convergence_order's fit over its default steps"
FUSED_PARAMS = "fused step at extreme logits: parameters after the step"
SIMPLENET_DEFAULT = "SimpleNet(seed=s): W = N(0, 1) of shape (2, 3) from default_rng(s)"
INIT_DEFAULT = "TwoLayerNet(i, h, k, seed=s): the book's initialisation"
COPIES = "TwoLayerNet.numpy_params() copies, unchanged by a later update"
FROM_NUMPY = "TwoLayerNet.from_numpy: the twin's dtype and values, no shared memory"
NO_GRAD = "TwoLayerNet's parameters: plain tensors (no autograd)"
EVALLOG = "train(log=...): the notes' line at each evaluation"
BITS = "entropy, cross-entropy and KL divergence in bits (base 2)"
PLAN = "TrainPlan's draws as documented (SeedSequence streams 0, 1, 2)"

SURVIVORS = {
    "auto never picks the fused step (numpy fastpath.py:70)": Survivor(
        "reference_numpy.fastpath", "resolve_mode", 'return "fused" if why is None else "eager"',
        'return "fused" if why is not None else "eager"', "training", ((MODE, "numpy"),)),
    # Its NameError is caught as the group's crash, a failed verdict (the parameters' rows were
    # not made when it was raised).
    "save_params writes nothing (numpy training.py:317)": Survivor(
        "reference_numpy.training", "save_params", "arrays = param_arrays(params)", "pass",
        "training", (("training checks run to the end", ""),)),
    "allow_nonfinite not recorded (torch training.py:268)": Survivor(
        "reference_torch.training", "train", 'hist.meta["allow_nonfinite"] = True', "pass",
        "training", ((NONFINITE, "torch"),)),
    "holdout_split indexes tensors with the rest's rows (torch)": Survivor(
        "reference_torch.training", "holdout_split",
        "return a.index_select(0, rows.to(a.device))",
        "return a.index_select(0, perm[n_val:].to(a.device))", "regimes", ((HOLDOUT, "torch"),)),
    "the batched forward difference adds f0 (numpy gradient.py:229)": Survivor(
        "reference_numpy.gradient", "numerical_gradient_fast", "grad = (values[0] - f0) / h",
        "grad = (values[0] + f0) / h", "seeds", ((FORMULAS, REFERENCE),)),
    "gradient_descent's default lr (torch)": Survivor(
        "reference_torch.gradient", "gradient_descent", "lr: float = 0.01", "lr: float = 0.02",
        "seeds", ((FORMULAS, "torch/float64"),)),
    "x - h == x dropped from the too-small-h test (numpy gradient.py:99)": Survivor(
        "reference_numpy.gradient", "step_warning", "xf + h == xf or xf - h == xf",
        "xf + h == xf or xf + h == xf", "concepts", ((STEP, REFERENCE),)),
    "the rounding threshold 0.1 % higher (numpy gradient.py:103)": Survivor(
        "reference_numpy.gradient", "step_warning", "max(1.0, abs(xf))", "max(1.001, abs(xf))",
        "concepts", ((STEP, REFERENCE),)),
    "information content in the wrong sign (torch)": Survivor(
        "reference_torch.information", "information_content", "return -torch.log(",
        "return torch.log(", "concepts", ((INFO, "torch"), (ENTROPY, "torch"))),
    # The seed-1 sample's.
    "convergence_order's default steps from 0.1001 (numpy gradient.py:297)": Survivor(
        "reference_numpy.gradient", "convergence_order", "np.geomspace(1e-1, 1e-3, 9)",
        "np.geomspace(0.1001, 1e-3, 9)", "seeds", ((ORDER_FIT, REFERENCE),)),
    # Planted beside the sample's own mutant at torch networks.py:490 (hidden + 1 -> hidden + 0,
    # which leaves b2's row of a torch.empty unwritten: what that fails depends on what the
    # allocator hands back, so it is not a test's plant).
    "blocks of no pairs in the batched W2 gradient (beside torch networks.py:490)": Survivor(
        "reference_torch.networks", "TwoLayerNet.numerical_gradient_fast",
        "per = max(1, chunk // (2 * k_out * n * k_out))",
        "per = max(0, chunk // (2 * k_out * n * k_out))", "gradients",
        (("gradients checks run to the end", ""),)),
    "the fused relu derivative [a1 > 1] (numpy fastpath.py:139)": Survivor(
        "reference_numpy.fastpath", "fused_sgd_step", "da1 *= z1 > 0", "da1 *= z1 > 1",
        "gradients", ((FUSED_PARAMS, "numpy"),)),
    "SimpleNet's default W of shape (3, 3) (torch networks.py:72)": Survivor(
        "reference_torch.networks", "SimpleNet.__init__", "standard_normal((2, 3))",
        "standard_normal((3, 3))", "gradients", ((SIMPLENET_DEFAULT, "torch/float64"),)),
    "TwoLayerNet's default weight_init_std 0.01001 (numpy networks.py:152)": Survivor(
        "reference_numpy.networks", "TwoLayerNet.__init__", "weight_init_std: float = 0.01,",
        "weight_init_std: float = 0.01001,", "gradients", ((INIT_DEFAULT, "numpy"),)),
    "numpy_params shares memory (torch networks.py:229)": Survivor(
        "reference_torch.networks", "TwoLayerNet.numpy_params", "copy=True", "copy=False",
        "training", ((COPIES, "torch/float64"),)),
    "from_numpy's dtype of a params dict never set (torch networks.py:222)": Survivor(
        "reference_torch.networks", "TwoLayerNet.from_numpy",
        "single = w1.dtype == (torch.float32 if isinstance(w1, torch.Tensor) else np.float32)",
        "pass", "training", ((FROM_NUMPY, "torch"),)),
    "parameters that require grad (torch networks.py:177)": Survivor(
        "reference_torch.networks", "TwoLayerNet.__init__", "requires_grad=False))",
        "requires_grad=True))", "training", ((NO_GRAD, "torch"),)),
    "the fused loop writes no evaluation line (torch fastpath.py:208)": Survivor(
        "reference_torch.fastpath", "run_fused", "run.log_eval(*points[-1])", "pass",
        "training", ((EVALLOG, "torch"),)),
    "entropy's log base inverted (torch information.py:111)": Survivor(
        "reference_torch.information", "entropy", "torch.sum(terms, dim=-1) * _log_scale(base)",
        "torch.sum(terms, dim=-1) / _log_scale(base)", "concepts", ((BITS, "torch"),)),
    "dropout drawn from stream 3 (numpy plan.py:219)": Survivor(
        "reference_numpy.plan", "TrainPlan.dropout_uniforms", "self._seed_seq(2, i)",
        "self._seed_seq(3, i)", "regimes", ((PLAN, "TrainPlan (both engines)"),)),
    "SimpleNet.numerical_gradient_fast returns its function (numpy networks.py:116)": Survivor(
        "reference_numpy.networks", "SimpleNet.numerical_gradient_fast",
        "return numerical_gradient_fast(\n", "return (lambda f, w: f)(\n", "gradients",
        (("gradients checks run to the end", ""),)),
    "gradient_descent's path left unwritten (torch gradient.py:344)": Survivor(
        "reference_torch.gradient", "gradient_descent", "path[i] = x", "pass", "seeds",
        ((FORMULAS, "torch/float64"),)),
    "torchvision_arrays does not download by default": Survivor(
        "reference_torch.mnist", "torchvision_arrays", "download: bool = True",
        "download: bool = False", "data",
        ((LOADER, "reference_torch torchvision_arrays"),)),
}


@pytest.fixture(scope="module")
def engines():
    return engines_for("cpu")


def _expected(engines, fails) -> set[str]:
    names = {"numpy": [REFERENCE, *(e.name for e in engines if e.framework == "numpy")],
             "torch": [e.name for e in engines if e.framework == "torch"],
             "torch/float64": [e.name for e in engines
                               if e.framework == "torch" and e.dtype == "float64"]}
    return {f"{check} ({label})" if label else check
            for check, which in fails for label in names.get(which, [which])}


@pytest.mark.parametrize("name", SURVIVORS)
def test_the_row_added_for_a_survivor_kills_it_and_nothing_else_fails(engines, mnist_dir,
                                                                      monkeypatch, name):
    s = SURVIVORS[name]
    ctx = Context(engines=engines, seed=0, iters=40, quick=True, data_dir=str(mnist_dir))
    plant(monkeypatch, s.module, s.func, s.old, s.new)
    failed = {r.name for r in run_groups(ctx, [s.group]) if not r.passed}
    assert failed == _expected(engines, s.fails)


def test_a_capturable_flag_turned_off_fails_its_row(engines, mnist_dir, monkeypatch):
    """Nesterov's ``capturable = True`` -> False (torch optimizers.py:188): its graph rows
    vanish without a word, and the flags' row fails."""
    from reference_torch.optimizers import Nesterov

    monkeypatch.setattr(Nesterov, "capturable", False)
    ctx = Context(engines=engines, seed=0, iters=40, quick=True, data_dir=str(mnist_dir))
    failed = {r.name for r in run_groups(ctx, ["regimes"]) if not r.passed}
    assert failed == _expected(engines, (("the optimizers mode 'graph' captures", "torch"),))


def test_early_stoppings_default_min_delta_changed_fails_its_row(engines, mnist_dir,
                                                                  monkeypatch):
    """EarlyStopping's ``min_delta: float = 0.0`` -> 1.0 (numpy runrules.py:67; torch's is the
    same class): the defaults' row fails in every engine."""
    from reference_numpy.runrules import EarlyStopping

    monkeypatch.setattr(EarlyStopping.__init__, "__defaults__", (3, 1.0))
    ctx = Context(engines=engines, seed=0, iters=40, quick=True, data_dir=str(mnist_dir))
    failed = {r.name for r in run_groups(ctx, ["regimes"]) if not r.passed}
    assert failed == _expected(engines, (("EarlyStopping() defaults", "numpy"),
                                         ("EarlyStopping() defaults", "torch")))
