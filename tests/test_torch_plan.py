"""The torch engine's own readings of a plan, and the draws it shares with NumPy.

A plan's draws (batch indices, dropout uniforms, initial weights, the held-out permutation) come
from NumPy's PCG64 streams and stay NumPy's: torch cannot reproduce them, so these tests show
the torch side reads them bit for bit.  What is computed from them (the mask u > ratio, the
evaluation schedule, early stopping's decisions, the held-out split, numerical_diff and
step_warning) is torch's own code, and these tests hold it to NumPy's, exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import reference_numpy as rn  # noqa: E402
import reference_torch as rt  # noqa: E402
from reference_numpy.runrules import BestSoFar as NpBest  # noqa: E402
from reference_torch.runrules import BestSoFar as TBest  # noqa: E402


@pytest.mark.parametrize("sampling", ["replacement", "shuffle"])
def test_torch_reads_the_plans_batches_bit_for_bit(sampling: str) -> None:
    plan = rn.TrainPlan(train_size=50, batch_size=7, iters_num=20, seed=3, sampling=sampling)
    idx = rt.plan_tensors(plan, "cpu")
    assert idx.dtype == torch.int64 and np.array_equal(idx.numpy(), plan.batch_indices)


def test_torch_masks_equal_numpys_from_the_same_uniforms() -> None:
    plan = rn.TrainPlan(train_size=40, batch_size=8, iters_num=12, seed=5, hidden_size=6,
                        dropout_ratio=0.5)
    stacked = rt.dropout_masks(plan, "cpu", torch.float64)
    for i in range(plan.iters_num):
        want = plan.dropout_mask(i).astype(np.float64)
        assert np.array_equal(rt.dropout_mask(plan, i, "cpu").numpy(), want)
        assert np.array_equal(stacked[i].numpy(), want)
    feed = rt.plan.MaskFeed(plan, plan.batch_size, torch.device("cpu"))
    feed.refill(0)
    assert np.array_equal(feed.buf[3].numpy(), plan.dropout_mask(3))
    # u == ratio is dropped (u > ratio), in both engines: the comparison is each engine's own.
    u = plan.dropout_uniforms(0)
    assert np.array_equal(plan.dropout_mask(0), u > 0.5)


@pytest.mark.parametrize(
    ("train_size", "batch_size", "iters"),
    [(60000, 100, 10000), (1000, 7, 900), (50, 50, 5), (10, 100, 4), (600, 600, 3)],
)
def test_eval_schedule_is_numpys(train_size: int, batch_size: int, iters: int) -> None:
    sampling = "full" if batch_size == train_size else "replacement"
    plan = rn.TrainPlan(train_size=train_size, batch_size=batch_size, iters_num=iters,
                        sampling=sampling, hidden_size=2)
    got = rt.plan.eval_iterations(plan)
    assert [i for i in range(iters) if got[i]] == plan.eval_iters


@pytest.mark.parametrize(
    ("min_delta", "accs", "best_stop"),
    [
        (0.01, [0.5, 0.505, 0.52, 0.52, 0.531, 0.531, 0.53], (4, 6)),
        (0.0, [0.5, 0.5, 0.6, 0.6, 0.6], (2, 4)),  # a tie is no improvement
    ],
)
def test_best_so_far_decides_as_numpys(min_delta: float, accs: list, best_stop: tuple) -> None:
    es = rn.EarlyStopping(patience=2, min_delta=min_delta)
    decisions = []
    for cls in (NpBest, TBest):
        best, hist = cls(es, None, None), rn.TrainHistory()
        decisions.append(([best.stop(hist, i, a, dict) for i, a in enumerate(accs)],
                          hist.best_iter, hist.stopped_at, hist.val_acc_list))
    assert decisions[0] == decisions[1]
    assert decisions[0][1:3] == best_stop


def test_holdout_split_holds_out_numpys_rows() -> None:
    x = np.arange(30.0).reshape(15, 2)
    t = np.arange(15)
    (xr, tr), (xv, tv) = rn.holdout_split(x, t, 4, seed=9)
    (xr2, tr2), (xv2, tv2) = rt.holdout_split(torch.from_numpy(x), torch.from_numpy(t), 4, seed=9)
    for a, b in ((xr, xr2), (tr, tr2), (xv, xv2), (tv, tv2)):
        assert np.array_equal(a, b.numpy())
    (_, tr3), (_, tv3) = rt.holdout_split(x, t, 4, seed=9)  # NumPy arrays in, arrays out
    assert np.array_equal(tr3, tr) and np.array_equal(tv3, tv)
    with pytest.raises(ValueError, match="n_val: expected an int in"):
        rt.holdout_split(x, t, 15)


def f(x):
    return 0.01 * x**2 + 0.1 * x


@pytest.mark.parametrize("method", ["central", "forward", "backward"])
@pytest.mark.parametrize("x", [5.0, 10.0, -3.25])
def test_numerical_diff_is_numpys_bit_for_bit(method: str, x: float) -> None:
    got = rt.numerical_diff(f, x, method=method)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
    assert float(got) == rn.numerical_diff(f, x, method=method)


@pytest.mark.parametrize(
    ("x", "h"), [(5.0, 1e-50), (-5.0, 1e-50), (0.0, 1e-330), (5.0, 1e-7), (1e6, 1e-4), (5.0, 1e-4)]
)
def test_step_warning_says_what_numpys_says(x: float, h: float) -> None:
    assert rt.gradient.step_warning(x, h) == rn.gradient.step_warning(x, h)


def test_torch_networks_start_from_numpys_draws() -> None:
    # init_params stays NumPy's (SHARED_ON_PURPOSE): one seed, the same weights bit for bit.
    a = rn.TwoLayerNet(12, 5, 3, seed=4).params
    b = rt.TwoLayerNet(12, 5, 3, seed=4, dtype=torch.float64).numpy_params()
    assert all(np.array_equal(a[k], b[k]) for k in a)
