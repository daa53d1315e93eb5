"""Golden trajectories: the files shipped, the recorder, and the check that sees a bug both
engines share."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import reference_numpy as rn
from reference_numpy.mnist import SUBSET_DIR, load_mnist
from verify import golden, plans
from verify.checks import training
from verify.checks.context import Context
from verify.observe import judge

SHIPPED = sorted(golden.golden_dir().glob("*.json"))


def test_golden_files_are_shipped_for_the_quick_and_book_runs() -> None:
    keys = {(g.key.data, g.key.iters) for g in map(_load, SHIPPED)}
    assert {("subset", plans.QUICK_ITERS), ("full", plans.QUICK_ITERS)} <= keys
    for path in SHIPPED:
        run = _load(path)
        assert path.name == run.key.filename
        assert len(run.losses) == run.key.iters
        assert run.key.learning_rate == plans.LEARNING_RATE
        assert sorted(run.fingerprints) == golden.checkpoints_for(run.key.iters)
        assert "nan" not in path.read_text().lower()


def _load(path: Path) -> golden.GoldenRun:
    return golden.GoldenRun.from_json(path.read_text(encoding="utf-8"), str(path))


def _tiny(iters: int = 25):
    (x, t), (xt, tt) = load_mnist(data_dir=SUBSET_DIR)
    x, xt = x[:500].astype(np.float64), xt[:200].astype(np.float64)
    data = ((x, t[:500]), (xt, tt[:200]))
    return rn.TrainPlan(500, 50, iters, seed=3), data


def test_record_is_the_chapter_loop_and_equals_train_eager() -> None:
    plan, data = _tiny()
    run = golden.record(plan, data, 0.1, "subset")
    (x, t), (xt, tt) = data
    net = rn.TwoLayerNet(784, 50, 10, params=plan.initial_params())
    hist = rn.train(net, x, t, xt, tt, plan, learning_rate=0.1, mode="eager", progress=False)
    assert run.losses == hist.train_loss_list
    assert run.train_acc == hist.train_acc_list and run.test_acc == hist.test_acc_list
    assert run.fingerprints[plan.iters_num - 1] == golden.fingerprint(net.params)


def test_json_round_trip_and_refusals(tmp_path: Path) -> None:
    plan, data = _tiny(12)
    run = golden.record(plan, data, 0.1, "subset")
    back = golden.GoldenRun.from_json(run.to_json())
    assert back == run
    body = json.loads(run.to_json())
    body["schema"] = 99
    with pytest.raises(ValueError, match="expected schema 1, got 99"):
        golden.GoldenRun.from_json(json.dumps(body), "g.json")
    body["schema"] = 1
    body["losses"] = body["losses"][:-1]
    with pytest.raises(ValueError, match="expected 12 losses"):
        golden.GoldenRun.from_json(json.dumps(body), "g.json")
    with pytest.raises(ValueError, match="g.json: expected a golden trajectory"):
        golden.GoldenRun.from_json("{not json", "g.json")
    # A file under another key's name is refused rather than used.
    other = golden.GoldenKey.of("subset", rn.TrainPlan(500, 50, 13, seed=3), 200, 0.1)
    (tmp_path / other.filename).write_text(run.to_json())
    with pytest.raises(ValueError, match="holds the trajectory of"):
        golden.find(other, tmp_path)
    assert golden.find(run.key, tmp_path / "missing") is None


def _golden_rows(monkeypatch, tmp_path: Path, plant: bool) -> list:
    """The training group's golden rows for a tiny run whose golden file sits in tmp_path, with
    or without the reference's loop recording the loss before the update.  Planted in the
    reference alone here (no candidate runs); planted in both engines alike it would leave every
    parity check passing, which is why the golden values exist."""
    plan, data = _tiny()
    run = golden.record(plan, data, plans.LEARNING_RATE, "subset")
    (tmp_path / run.key.filename).write_text(run.to_json())
    monkeypatch.setattr(golden, "golden_dir", lambda: tmp_path)
    monkeypatch.setattr(training, "training_plan", lambda n, iters, seed: plan)
    if plant:
        import reference_numpy.training as tr

        def loss_before_update(run, opt) -> None:
            # The chapter's loop with one line moved: the loss recorded before the update.
            net, params, losses, points = run.net, run.net.params, [], []
            for i in range(run.plan.iters_num):
                xb, tb, mask = run.batch(i)
                grads = net.gradient_unchecked(xb, tb, True, mask)
                losses.append(net.loss_unchecked(xb, tb, True, mask))
                opt.apply_unchecked(params, grads)
                if run.plan.is_eval_iter(i):
                    run.hist.eval_iters.append(i)
                    points.append((net.count_correct_unchecked(run.xtr, run.ttr),
                                   net.count_correct_unchecked(run.xte, run.tte)))
            run.finish(losses, points)

        monkeypatch.setattr(tr, "run_eager", loss_before_update)
    src = type("Src", (), {"kind": "subset"})()
    ctx = Context(engines=[], iters=plan.iters_num)
    ctx.__dict__["mnist"] = (data, src)
    obs = [o for o in training.observe(ctx) if o.check.startswith(training.GOLDEN_CHECK)]
    assert obs, "no golden observation was made"
    assert ctx.golden and run.key.filename in ctx.golden
    return judge(obs)


def test_golden_passes_the_reference(monkeypatch, tmp_path: Path) -> None:
    rows = _golden_rows(monkeypatch, tmp_path, plant=False)
    assert len(rows) == 2 and all(r.passed for r in rows), [r.message for r in rows]


def test_a_bug_both_engines_share_fails_on_the_golden_values(monkeypatch, tmp_path) -> None:
    rows = _golden_rows(monkeypatch, tmp_path, plant=True)
    curve = next(r for r in rows if "loss curve" in r.name)
    assert not curve.passed and "leaves the band at iteration 0" in curve.message


def test_no_golden_file_is_said_not_passed(monkeypatch, tmp_path: Path) -> None:
    plan, data = _tiny(7)
    monkeypatch.setattr(golden, "golden_dir", lambda: tmp_path)
    src = type("Src", (), {"kind": "subset"})()
    ctx = Context(engines=[], iters=plan.iters_num)
    assert training._golden(ctx, src, plan, 200) is None
    assert ctx.golden.startswith("none recorded for this run")
    assert "would not be seen" in ctx.golden
