"""Golden values: a versioned float64 trajectory of the chapter's run, shipped with the package.

verify otherwise judges every candidate against the float64 NumPy reference of the same commit,
so a bug that both engines share (the loss recorded before the update, a changed plan) moves
both sides alike and passes.  A golden file fixes the reference's own numbers for one run:

* the loss of every iteration (after that iteration's update, as the chapter records it);
* the (train, test) accuracy pair of every evaluation;
* parameter fingerprints after the update of a few checkpoint iterations: per parameter the
  sum, the Frobenius norm and the values at eight seeded positions.

The trajectory is computed here by the chapter's loop written out (gradient, SGD step, loss,
accuracy) rather than by ``reference_numpy.train``; ``scripts/make_golden.py`` also runs
``train(mode="eager")`` and refuses to write a file unless the two agree bit for bit, so a file
is never generated from a loop that already carries a bug.

Runs are keyed by the data (``full`` MNIST, whose files are checked against the official
checksums, or the bundled ``subset``) and by the plan (seed, iterations, batch size, learning
rate, sizes).  A run with no golden file is reported as not covered, never as a pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "SCHEMA_VERSION",
    "GoldenKey",
    "GoldenRun",
    "checkpoints_for",
    "fingerprint",
    "record",
    "find",
    "golden_dir",
]

SCHEMA_VERSION = 1

#: Flat positions sampled per parameter for a fingerprint (seeded, so every file samples the
#: same ones for the same shapes).
SAMPLES = 8
_SAMPLE_SEED = 20261201


@dataclass(frozen=True)
class GoldenKey:
    """What a golden trajectory is a trajectory of."""

    data: str  # "full" or "subset"
    train_size: int
    test_size: int
    seed: int
    iters: int
    batch_size: int
    learning_rate: float
    sizes: tuple[int, int, int]

    @property
    def filename(self) -> str:
        return (
            f"{self.data}-{self.train_size}x{self.test_size}-seed{self.seed}-"
            f"iters{self.iters}-batch{self.batch_size}-lr{self.learning_rate:g}-"
            f"{'x'.join(str(s) for s in self.sizes)}.json"
        )

    @classmethod
    def of(cls, data_kind: str, plan: Any, test_size: int, learning_rate: float) -> GoldenKey:
        """The key of running ``plan`` on data of ``data_kind`` at ``learning_rate``."""
        return cls(
            data=str(data_kind),
            train_size=int(plan.train_size),
            test_size=int(test_size),
            seed=int(plan.seed),
            iters=int(plan.iters_num),
            batch_size=int(plan.batch_size),
            learning_rate=float(learning_rate),
            sizes=(int(plan.input_size), int(plan.hidden_size), int(plan.output_size)),
        )


@dataclass
class GoldenRun:
    """One recorded trajectory (see the module docstring)."""

    key: GoldenKey
    losses: list[float]
    eval_iters: list[int]
    train_acc: list[float]
    test_acc: list[float]
    fingerprints: dict[int, dict[str, list[float]]]
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        body = {
            "schema": SCHEMA_VERSION,
            "key": asdict(self.key),
            "losses": self.losses,
            "eval_iters": self.eval_iters,
            "train_acc": self.train_acc,
            "test_acc": self.test_acc,
            # JSON keys are strings; iterations are written in order.
            "fingerprints": {str(i): fp for i, fp in sorted(self.fingerprints.items())},
            "meta": self.meta,
        }
        text = json.dumps(body, allow_nan=False, indent=1)
        return text + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "golden file") -> GoldenRun:
        try:
            body = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source}: expected a golden trajectory (JSON), got {exc}") from None
        if not isinstance(body, dict) or body.get("schema") != SCHEMA_VERSION:
            got = body.get("schema") if isinstance(body, dict) else type(body).__name__
            raise ValueError(f"{source}: expected schema {SCHEMA_VERSION}, got {got!r}")
        try:
            k = dict(body["key"])
            k["sizes"] = tuple(int(s) for s in k["sizes"])
            key = GoldenKey(**k)
            run = cls(
                key=key,
                losses=[float(v) for v in body["losses"]],
                eval_iters=[int(v) for v in body["eval_iters"]],
                train_acc=[float(v) for v in body["train_acc"]],
                test_acc=[float(v) for v in body["test_acc"]],
                fingerprints={
                    int(i): {p: [float(v) for v in vals] for p, vals in fp.items()}
                    for i, fp in body["fingerprints"].items()
                },
                meta=dict(body.get("meta", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{source}: malformed golden trajectory ({exc!r})") from None
        if len(run.losses) != key.iters:
            raise ValueError(
                f"{source}: expected {key.iters} losses (one per iteration), got {len(run.losses)}"
            )
        if not (len(run.eval_iters) == len(run.train_acc) == len(run.test_acc)):
            raise ValueError(f"{source}: eval_iters, train_acc and test_acc differ in length")
        return run


def checkpoints_for(iters: int) -> list[int]:
    """Iterations whose parameters are fingerprinted: 0, 9, 99, 999, ... and the last."""
    points = {10**k - 1 for k in range(0, 8) if 10**k - 1 < iters}
    points.add(iters - 1)
    return sorted(points)


def _positions(shape: tuple[int, ...], name: str) -> np.ndarray:
    size = int(np.prod(shape))
    salt = sum(ord(c) for c in name)
    rng = np.random.default_rng([_SAMPLE_SEED, salt, size])
    return rng.choice(size, size=min(SAMPLES, size), replace=False)


def fingerprint(params: Mapping[str, np.ndarray]) -> dict[str, list[float]]:
    """Per parameter [sum, Frobenius norm, value at each sampled position], in float64."""
    out = {}
    for name in sorted(params):
        p = np.asarray(params[name], dtype=np.float64)
        flat = p.reshape(-1)
        out[name] = [float(flat.sum()), float(np.linalg.norm(flat))] + [
            float(flat[i]) for i in _positions(p.shape, name)
        ]
    return out


def record(
    plan: Any,
    data: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    learning_rate: float,
    data_kind: str,
    *,
    checkpoints: Iterable[int] | None = None,
) -> GoldenRun:
    """Run the chapter's loop in float64 NumPy and record its trajectory.

    The loop as the chapter writes it: for each iteration, the gradient on the plan's batch,
    ``W ← W − η ∇W`` for every parameter, then the batch's loss with the new parameters; at
    every evaluation iteration (``plan.is_eval_iter``) the accuracy on the whole training and
    test sets.
    """
    from reference_numpy.networks import TwoLayerNet

    (x, t), (xt, tt) = data
    x = np.asarray(x, dtype=np.float64)
    xt = np.asarray(xt, dtype=np.float64)
    net = TwoLayerNet(
        plan.input_size, plan.hidden_size, plan.output_size, params=plan.initial_params()
    )
    marks = set(checkpoints_for(plan.iters_num) if checkpoints is None else checkpoints)
    losses, eval_iters, train_acc, test_acc = [], [], [], []
    prints: dict[int, dict[str, list[float]]] = {}
    for i in range(plan.iters_num):
        rows = plan.batch(i)
        xb, tb = x[rows], t[rows]
        grads = net.gradient(xb, tb)
        for name in net.params:
            net.params[name] -= learning_rate * grads[name]
        losses.append(float(net.loss(xb, tb)))
        if plan.is_eval_iter(i):
            eval_iters.append(i)
            train_acc.append(float(net.accuracy(x, t)))
            test_acc.append(float(net.accuracy(xt, tt)))
        if i in marks:
            prints[i] = fingerprint(net.params)
    key = GoldenKey.of(data_kind, plan, len(xt), learning_rate)
    return GoldenRun(key, losses, eval_iters, train_acc, test_acc, prints)


def golden_dir() -> Path:
    """The folder of the golden files shipped with verify."""
    return Path(str(resources.files("verify") / "golden"))


def find(key: GoldenKey, directory: Path | None = None) -> GoldenRun | None:
    """The golden trajectory for ``key``, or None when none was recorded."""
    path = (directory or golden_dir()) / key.filename
    if not path.is_file():
        return None
    run = GoldenRun.from_json(path.read_text(encoding="utf-8"), source=str(path))
    if run.key != key:
        raise ValueError(f"{path}: holds the trajectory of {run.key}, not of {key}")
    return run
