"""The rows added for the a840fa7 sample's survivors (docs/mutants.md), each shown to fail on
the mutant it was added for, and only where it should: the mutant is planted as generated (the
function's source with one change), the group named is run, and the failing rows are exactly
the expected check for the engines whose code holds the mutant."""

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
