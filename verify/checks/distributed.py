"""Data-parallel training: two gloo ranks (``reference_torch.distributed``) against the float64
reference's single-process run of the same plan, started as a real job is, by torchrun
(``python -m torch.distributed.run --standalone -m reference_torch.distributed``, the plan
passed as a file), and in the full run also by ``spawn_local``, the library's own launcher.

With equal shards, DDP's average of the ranks' shard gradients is the whole batch's gradient,
so a correct replay differs from one process only by summation order (the all-reduce, autograd
against hand-written backprop).  The run is small (800 rows of the data, batch 8, 10 iterations)
and exercises what the chapter adds to SGD: Momentum, dropout masks from the plan (each rank
takes its rows of the batch's mask) and weight decay.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from reference_numpy.networks import PARAM_NAMES

from ..observe import Observation
from .context import Context

GROUP = "training"
ROWS, BATCH, ITERS, HIDDEN = 800, 8, 10, 20
LR, WEIGHT_DECAY, DROPOUT = 0.1, 0.01, 0.2
WORLD = 2
#: Seconds the torchrun job may take: three Python processes importing torch (about 11 s on a
#: quiet 2-core machine for the whole job) and 10 small steps; this only bounds a hang.
TORCHRUN_TIMEOUT = 300


def available() -> str:
    """'' when two local gloo ranks can run here, else why not."""
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_gloo_available():
        return "torch.distributed with the gloo backend is not available in this build"
    return ""


def reference_run(plan, x: np.ndarray, t: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The float64 reference: reference_numpy.train, eager, Momentum, the plan's masks."""
    import reference_numpy as rn

    net = rn.TwoLayerNet(plan.input_size, plan.hidden_size, plan.output_size,
                         params=plan.initial_params(), dropout_ratio=plan.dropout_ratio,
                         weight_decay_lambda=WEIGHT_DECAY)
    hist = rn.train(net, x, t, x[:50], t[:50], plan, rn.Momentum(LR), progress=False,
                    mode="eager")
    return {k: net.params[k].copy() for k in PARAM_NAMES}, np.asarray(hist.train_loss_list)


def ddp_run(plan, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
    from reference_torch.distributed import spawn_local

    with tempfile.TemporaryDirectory(prefix="nnparity-ddp-") as d:
        return spawn_local(plan, x, t, Path(d) / "ddp.npz", world_size=WORLD,
                           optimizer="momentum", learning_rate=LR,
                           weight_decay_lambda=WEIGHT_DECAY, dtype="float64")


def torchrun_command(plan_file: Path, out: Path, data_dir: str | None) -> list[str]:
    """The documented launch: torchrun on this machine, a free rendezvous port (--standalone)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={WORLD}", "-m", "reference_torch.distributed",
           "--plan", str(plan_file), "--train-size", str(ROWS), "--optimizer", "momentum",
           "--lr", str(LR), "--weight-decay", str(WEIGHT_DECAY), "--dtype", "float64",
           "--backend", "gloo", "--out", str(out)]
    return cmd + (["--data-dir", data_dir] if data_dir is not None else [])


def torchrun_run(plan, data_dir: str | None) -> dict[str, np.ndarray] | str:
    """Rank 0's output of the torchrun job, or why there is none (the command's exit status and
    the end of its output)."""
    import reference_torch

    root = str(Path(reference_torch.__file__).resolve().parent.parent)
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    # The job runs in a temporary folder: a relative data folder (CI's NNPARITY_DATA_DIR is
    # ../shared/data/mnist) means the one relative to where verify runs.
    for var in ("NNPARITY_DATA_DIR", "NNPARITY_CACHE_DIR"):
        if env.get(var):
            env[var] = str(Path(env[var]).expanduser().resolve())
    if data_dir is not None:
        data_dir = str(Path(data_dir).expanduser().resolve())
    with tempfile.TemporaryDirectory(prefix="nnparity-torchrun-") as d:
        plan_file, out = Path(d) / "plan.npz", Path(d) / "ddp.npz"
        plan.save(plan_file)
        try:
            proc = subprocess.run(torchrun_command(plan_file, out, data_dir),
                                  env=env, cwd=d, capture_output=True, text=True,
                                  timeout=TORCHRUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            return f"torchrun did not finish in {TORCHRUN_TIMEOUT} s"
        line = f"ddp gloo x{WORLD}: {ITERS} iterations, batch {BATCH} ({BATCH // WORLD} per rank)"
        if proc.returncode != 0 or line not in proc.stdout or not out.is_file():
            return (f"torchrun exited {proc.returncode} without printing {line!r} and writing "
                    f"its --out file: {_why(proc.stdout, proc.stderr)}")
        from reference_numpy._safeio import load_npz

        return load_npz(out)  # allow_pickle=False, as spawn_local reads it


def _why(stdout: str, stderr: str) -> str:
    """A rank's exception line (torchrun's own report ends with a link to its docs, which says
    nothing), else the end of the output."""
    errors = [m.group(1) for m in re.finditer(r"^(?:\[rank\d+\]:\s*)?(\w+(?:Error|Exception): .+)$",
                                              stderr, re.MULTILINE)]
    if errors:
        return errors[0][:600]
    return " ".join((stdout[-600:] + " " + stderr[-1200:]).split())


def plan_for(ctx: Context):
    from reference_numpy.plan import TrainPlan

    return TrainPlan(train_size=ROWS, batch_size=BATCH, iters_num=ITERS, seed=ctx.seed,
                     hidden_size=HIDDEN, dropout_ratio=DROPOUT)


def observe(ctx: Context) -> list[Observation]:
    if available() or not any(e.framework == "torch" and e.dtype == "float64"
                              for e in ctx.engines):
        return []  # no float64 torch candidate (or no gloo): nothing to hold the replay to
    (x, t), _ = ctx.mnist[0]
    x, t = x[:ROWS].astype(np.float64), t[:ROWS]
    plan = plan_for(ctx)
    r_params, r_losses = reference_run(plan, x, t)
    runs = {"torchrun": torchrun_run(plan, ctx.data_dir)}
    if not ctx.quick:
        runs["spawn_local"] = ddp_run(plan, x, t)
    engine = f"torch/distributed/{WORLD}x cpu/float64"
    obs = []
    for how, got in runs.items():
        name = (f"{WORLD} gloo ranks by {how} (DDP, Momentum, dropout, weight decay) vs one "
                f"process")
        if isinstance(got, str):
            obs.append(Observation(name, GROUP, engine, "exact", "distributed", got,
                                   np.array([np.nan]), np.array([0.0])))
            continue
        obs.append(Observation(name, GROUP, engine, "float64", "distributed",
                               "loss of each iteration",
                               np.asarray(got["losses"], dtype=np.float64), r_losses))
        obs += [Observation(name, GROUP, engine, "float64", "distributed",
                            f"parameters after {ITERS} iterations, {k}", got[k], r_params[k])
                for k in PARAM_NAMES]
    return obs
