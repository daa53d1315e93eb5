"""reference_torch.distributed: a DDP replay over 2 CPU processes (gloo) equals the
single-process run of the same plan.

Each rank's gradient of its shard's mean loss, averaged by DDP's all-reduce, is the gradient
of the whole batch's mean loss (equal shards), so only summation order differs: the all-reduce
adds the two halves, and DDP's backward is autograd while the single-process reference uses
the hand-written backprop.  Measured (784-20-10, batch 8, 10 iterations, Momentum, dropout 0.2,
weight decay 0.01, float64): parameters differ by at most 3.1e-16 relative (max |Δp| / max |p|),
losses by 2.1e-16; the tolerance is 1e-13.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import reference_numpy as rn
from reference_numpy.mnist import SUBSET_DIR, read_sha256sums
from reference_torch import distributed as rd
from reference_torch import optimizers as topt
from reference_torch import training as tt
from reference_torch.networks import TwoLayerNet

REPO_ROOT = Path(__file__).resolve().parents[1]
RTOL = 1e-13

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
    reason="torch.distributed with the gloo backend is not available in this build",
)


@pytest.fixture(scope="module")
def small() -> tuple[np.ndarray, np.ndarray]:
    """The first 800 training rows of the bundled MNIST subset."""
    sums = read_sha256sums(SUBSET_DIR / "SHA256SUMS.txt")
    (x, t), _ = rn.load_mnist(data_dir=SUBSET_DIR, checksums=sums)
    return x[:800], t[:800]


def _single_process(
    plan: rn.TrainPlan, x: np.ndarray, t: np.ndarray, opt: topt.Optimizer, **kw: object
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    net = TwoLayerNet(
        plan.input_size,
        plan.hidden_size,
        plan.output_size,
        params=plan.initial_params(),
        dropout_ratio=plan.dropout_ratio,
        device="cpu",
        dtype=torch.float64,
        **kw,
    )
    hist = tt.train(net, x, t, x[:50], t[:50], plan, opt, progress=False, mode="eager")
    return net.numpy_params(), np.array(hist.train_loss_list)


def _assert_close(ref: dict[str, np.ndarray], losses: np.ndarray, got: dict) -> None:
    for k in rn.PARAM_NAMES:
        diff = float(np.max(np.abs(ref[k] - got[k])) / np.max(np.abs(ref[k])))
        assert diff <= RTOL, f"{k}: rel diff {diff:.3g}"
    assert got["losses"].shape == losses.shape
    worst = float(np.max(np.abs(losses - got["losses"]) / losses))
    assert worst <= RTOL, f"losses: rel diff {worst:.3g}"


def test_two_gloo_ranks_equal_single_process(small, tmp_path: Path) -> None:
    x, t = small
    plan = rn.TrainPlan(
        train_size=len(x), batch_size=8, iters_num=10, seed=3, hidden_size=20, dropout_ratio=0.2
    )
    got = rd.spawn_local(
        plan,
        x,
        t,
        tmp_path / "ddp.npz",
        world_size=2,
        optimizer="momentum",
        learning_rate=0.1,
        weight_decay_lambda=0.01,
    )
    assert int(got["world_size"]) == 2
    ref, losses = _single_process(plan, x, t, topt.Momentum(0.1), weight_decay_lambda=0.01)
    _assert_close(ref, losses, got)
    # The run moved the parameters (a replay that did nothing would also "match" the start).
    assert np.max(np.abs(got["W1"] - plan.initial_params()["W1"])) > 1e-4


def test_ranks_that_cannot_meet_fail_after_the_timeout(small, tmp_path: Path,
                                                       monkeypatch) -> None:
    """A rendezvous port nobody listens on (free_port's bind dropped, a generated mutant,
    returns 0): the ranks raise after ``timeout`` seconds, not gloo's default 30 minutes."""
    x, t = small
    plan = rn.TrainPlan(train_size=len(x), batch_size=8, iters_num=2, hidden_size=5)
    monkeypatch.setattr(rd, "free_port", lambda: 0)
    # (Without the timeout reaching the ranks this test would wait the default 30 minutes.)
    with pytest.raises(Exception, match="Timed out"):
        rd.spawn_local(plan, x, t, tmp_path / "ddp.npz", timeout=2)
    assert not (tmp_path / "ddp.npz").exists()
    with pytest.raises(ValueError, match="timeout"):
        rd.spawn_local(plan, x, t, tmp_path / "ddp.npz", timeout=0)


def test_torchrun_cli_writes_params(tmp_path: Path) -> None:
    """The documented launch: torchrun, 2 processes, gloo, rendezvous on 127.0.0.1."""
    out = tmp_path / "params.npz"
    env = {
        **os.environ,
        "MASTER_ADDR": "127.0.0.1",
        "NNPARITY_CACHE_DIR": str(tmp_path / "cache"),
        "NNPARITY_MNIST_MIRRORS": "http://127.0.0.1:9/unreachable/",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    env.pop("NNPARITY_DATA_DIR", None)
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
        "--master_addr=127.0.0.1", f"--master_port={rd.free_port()}",
        "-m", "reference_torch.distributed",
        "--data-dir", str(SUBSET_DIR), "--train-size", "800", "--batch-size", "8",
        "--hidden-size", "20", "--iters-num", "100", "--iters", "6", "--seed", "4",
        "--lr", "0.2", "--backend", "gloo", "--out", str(out),
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "ddp gloo x2: 6 iterations, batch 8 (4 per rank)" in proc.stdout
    with np.load(out, allow_pickle=False) as z:
        got = {k: z[k].copy() for k in z.files}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # atomic
    sums = read_sha256sums(SUBSET_DIR / "SHA256SUMS.txt")
    (x, t), _ = rn.load_mnist(data_dir=SUBSET_DIR, checksums=sums)
    full = rn.TrainPlan(train_size=800, batch_size=8, iters_num=100, seed=4, hidden_size=20)
    plan = rn.TrainPlan(
        train_size=800, batch_size=8, iters_num=6, seed=4, hidden_size=20,
        batch_indices=full.batch_indices[:6], init=full.initial_params(),
    )  # fmt: skip
    ref, losses = _single_process(plan, x[:800], t[:800], topt.SGD(0.2))
    _assert_close(ref, losses, got)
    np.testing.assert_array_equal(rn.load_params(out)["b2"], got["b2"])


def test_refusals() -> None:
    rd.check_shardable(8, 2)
    with pytest.raises(ValueError, match="batch_size: expected a multiple of the world size 3"):
        rd.check_shardable(8, 3)
    plan = rn.TrainPlan(train_size=10, batch_size=5, iters_num=2, input_size=4, hidden_size=3)
    x, t = np.zeros((10, 4)), np.zeros(10, dtype=np.int64)
    with pytest.raises(RuntimeError, match="expected an initialised torch.distributed"):
        rd.run_ddp(plan, x, t)
    proc = subprocess.run(
        [sys.executable, "-m", "reference_torch.distributed", "--iters", "1"],
        env={k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "torch.distributed.run" in proc.stderr
