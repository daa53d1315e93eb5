"""verify's concepts group (information identity, directional derivative, loss along a weight)
passes on the references and fails on a bug planted in either engine."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

import reference_numpy.information as np_info  # noqa: E402
import reference_torch.gradient as t_gradient  # noqa: E402
import reference_torch.landscape as t_landscape  # noqa: E402
from verify.checks.context import Context  # noqa: E402
from verify.engines import engines_for  # noqa: E402
from verify.runner import run_groups  # noqa: E402


def _failed(seed: int = 0) -> set[str]:
    """The names of the failing rows ("check (engine)")."""
    results = run_groups(Context(engines=engines_for("cpu"), seed=seed, quick=True), ["concepts"])
    # 5 information checks x 4 engines (H(p, q), the identity, log 1/p, its expectation, the
    # three in bits), 2 directional, 4 landscape, 2 numerical-gradient training runs, 2 step
    # warnings
    assert len(results) == 30
    return {r.name for r in results if not r.passed}


@pytest.mark.parametrize("seed", [0, 1])
def test_concepts_pass_on_the_references(seed: int) -> None:
    assert _failed(seed) == set()


def test_a_bug_in_numpys_kl_fails_the_identity(monkeypatch) -> None:
    # KL with its log ratio inverted: a NumPy-only bug, so the reference row fails (it is held
    # to the fsum, not to itself); torch's rows still pass.
    kl = np_info.kl_divergence
    monkeypatch.setattr(np_info, "kl_divergence", lambda p, q, base=None: -kl(p, q, base))
    failed = _failed()
    identity = "information identity H(p) + KL(p||q) = H(p, q)"
    bits = "entropy, cross-entropy and KL divergence in bits (base 2)"
    assert failed == {f"{row} ({e})" for row in (identity, bits)
                      for e in ("numpy/float64", "numpy/float32")}


def test_a_bug_in_torchs_directional_derivative_fails(monkeypatch) -> None:
    dd = t_gradient.directional_derivative
    # Along v instead of v/|v| (the unit step forgotten): off by |v|.
    monkeypatch.setattr(t_gradient, "directional_derivative",
                        lambda f, x, v, h=1e-4: dd(f, x, v, h) * float((v * v).sum()) ** 0.5)
    assert _failed() == {"directional derivative vs gradient·v/|v| (torch/cpu/float64)"}


def test_a_bug_in_torchs_landscape_fails(monkeypatch) -> None:
    along = t_landscape.loss_along_weight
    monkeypatch.setattr(t_landscape, "loss_along_weight",
                        lambda net, x, t, p, i, offsets: along(net, x, t, p, i, offsets * 1.001))
    name = "loss along one weight (landscape)"
    assert _failed() == {f"{name} (torch/cpu/float64)", f"{name} (torch/cpu/float32)"}


def test_a_wrong_rounding_step_in_torch_fails_the_step_warning(monkeypatch) -> None:
    # h* computed as (3 eps)^3 instead of (3 eps)^(1/3) (a generated mutant): torch no longer
    # warns that rounding dominates at h = 1e-6; only its row fails.
    monkeypatch.setattr(t_gradient, "ROUNDING_STEP", (3 * 2.220446049250313e-16) ** 3)
    assert _failed() == {"numerical_diff's too-small-h warning (torch/cpu/float64)"}
