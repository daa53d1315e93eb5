"""verify's data-parallel rows: 2 gloo ranks (started by torchrun, and in a full run also by
spawn_local) against the float64 reference's single process."""

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
    """The real job: torchrun, two processes, the plan as a file."""
    got = vd.torchrun_run(vd.plan_for(ctx), ctx.data_dir)
    assert isinstance(got, dict), got
    return got


def _verdicts(ctx, monkeypatch, got):
    monkeypatch.setattr(vd, "torchrun_run", lambda plan, data_dir: got)
    monkeypatch.setattr(vd, "ddp_run", lambda plan, x, t: got)
    return judge(vd.observe(ctx))


def test_the_replay_passes_and_moved_the_parameters(ctx, run, monkeypatch):
    [result] = _verdicts(ctx, monkeypatch, run)
    assert result.passed, result.message
    assert result.group == "training" and "gloo ranks by torchrun" in result.name
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


def test_spawn_local_agrees_with_torchrun_bit_for_bit(ctx, run):
    """The library's launcher and the documented one run the same plan the same way."""
    (x, t), _ = ctx.mnist[0]
    spawned = vd.ddp_run(vd.plan_for(ctx), x[:vd.ROWS].astype(np.float64), t[:vd.ROWS])
    for k in ("losses", "W1", "b1", "W2", "b2"):
        np.testing.assert_array_equal(spawned[k], run[k])


def test_a_full_run_adds_the_spawn_local_row(ctx, run, monkeypatch):
    full = Context(engines=ctx.engines, seed=0, quick=False, data_dir=ctx.data_dir)
    results = _verdicts(full, monkeypatch, run)
    assert [("by torchrun" in r.name, "by spawn_local" in r.name) for r in results] == [
        (True, False), (False, True)]
    assert all(r.passed for r in results)


def test_a_torchrun_that_fails_is_a_failed_row_saying_why(ctx, monkeypatch):
    why = "torchrun exited 1 without printing 'ddp gloo x2: ...': RuntimeError: rendezvous"
    [result] = _verdicts(ctx, monkeypatch, why)
    assert not result.passed and "RuntimeError: rendezvous" in result.where


def test_a_torchrun_job_that_raises_names_the_ranks_exception(ctx, monkeypatch):
    """The job started with a --train-size its plan does not hold (the CLI's slicing skipped, as
    a generated mutant did): the row gives the rank's exception, not torchrun's own footer."""
    real = vd.torchrun_command

    def wrong_size(*args, **kwargs):
        cmd = real(*args, **kwargs)
        i = cmd.index("--train-size")
        return [*cmd[:i + 1], str(vd.ROWS + 1), *cmd[i + 2:]]

    monkeypatch.setattr(vd, "torchrun_command", wrong_size)
    why = vd.torchrun_run(vd.plan_for(ctx), ctx.data_dir)
    assert isinstance(why, str)
    assert why.endswith(f"ValueError: x: the plan expects {vd.ROWS} training rows, "
                        f"got {vd.ROWS + 1}"), why


@pytest.mark.parametrize("how", ["NNPARITY_DATA_DIR", "data_dir"])
def test_torchrun_reads_a_relative_data_folder_from_where_verify_runs(ctx, mnist_dir, monkeypatch,
                                                                      tmp_path, how):
    """CI sets NNPARITY_DATA_DIR=../shared/data/mnist; the job runs in a temporary folder, where
    that path means nothing, so the folder is made absolute first."""
    import os

    monkeypatch.chdir(mnist_dir.parent)
    relative = os.path.relpath(mnist_dir)
    monkeypatch.setenv("NNPARITY_DATA_DIR", relative if how == "NNPARITY_DATA_DIR" else "")
    got = vd.torchrun_run(vd.plan_for(ctx), relative if how == "data_dir" else None)
    assert isinstance(got, dict), got
