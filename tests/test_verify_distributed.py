"""verify's data-parallel row: 2 gloo ranks against the float64 reference's single process."""

from __future__ import annotations

import numpy as np
import pytest

from verify.checks import distributed as vd
from verify.checks.context import Context
from verify.engines import engines_for
from verify.observe import judge

pytestmark = pytest.mark.skipif(bool(vd.available()), reason=vd.available() or "gloo available")


@pytest.fixture(scope="module")
def ctx(mnist_dir) -> Context:
    return Context(engines=engines_for("cpu"), seed=0, quick=True, data_dir=str(mnist_dir))


@pytest.fixture(scope="module")
def run(ctx) -> dict[str, np.ndarray]:
    (x, t), _ = ctx.mnist[0]
    return vd.ddp_run(vd.plan_for(ctx), x[:vd.ROWS].astype(np.float64), t[:vd.ROWS])


def _verdicts(ctx, monkeypatch, got):
    monkeypatch.setattr(vd, "ddp_run", lambda plan, x, t: got)
    return judge(vd.observe(ctx))


def test_the_replay_passes_and_moved_the_parameters(ctx, run, monkeypatch):
    [result] = _verdicts(ctx, monkeypatch, run)
    assert result.passed, result.message
    assert result.group == "training" and "gloo ranks" in result.name
    # A replay that did nothing would also match nothing: the run must have trained.
    start = vd.plan_for(ctx).initial_params()["W1"]
    assert np.max(np.abs(run["W1"] - start)) > 1e-4


@pytest.mark.parametrize("bug,where", [
    ("one rank's gradient only (W1 off by half a step)", "W1"),
    ("losses of rank 0's shard only", "loss of each iteration"),
])
def test_a_wrong_replay_fails_and_names_the_tensor(ctx, run, monkeypatch, bug, where):
    got = dict(run)
    if where == "W1":
        start = vd.plan_for(ctx).initial_params()["W1"]
        got["W1"] = start + 0.5 * (run["W1"] - start)
    else:
        got["losses"] = run["losses"] * (1 + 1e-6)
    [result] = _verdicts(ctx, monkeypatch, got)
    assert not result.passed and where in result.where, (bug, result.where)
