"""TrainPlan: everything random in a training run, decided up front so another engine can replay it.

A plan fixes the initial weights, the batch indices of every iteration and the dropout masks.
It is plain NumPy and saves to .npz (no pickle), so the torch reference, another process, or a
user's own code can load it and see identical data in identical order.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from ._validate import atomic_write, check_choice, check_positive
from .networks import init_params

__all__ = ["TrainPlan", "SAMPLING"]

#: "replacement": np.random.choice(train_size, batch_size) each iteration, as the chapter does.
#: "shuffle": a fresh permutation per epoch, consumed batch by batch (no repeats within an epoch).
#: "full": every iteration uses the whole training set in order (full-batch gradient descent).
SAMPLING = ("replacement", "shuffle", "full")

_SIZES = ("input_size", "hidden_size", "output_size")


def _positive_int(v: object, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name}: expected a positive int, got {v!r}")
    return int(v)


@dataclass
class TrainPlan:
    """The chapter's run, made replayable.

    ``iter_per_epoch = max(train_size / batch_size, 1)`` (a float, as in the book) and accuracy is
    evaluated whenever ``i % iter_per_epoch == 0``, after that iteration's update.
    """

    train_size: int
    batch_size: int
    iters_num: int
    seed: int = 0
    sampling: str = "replacement"
    input_size: int = 784
    hidden_size: int = 50
    output_size: int = 10
    weight_init_std: float = 0.01
    dropout_ratio: float = 0.0
    batch_indices: np.ndarray | None = field(default=None, repr=False)
    init: dict[str, np.ndarray] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.train_size = _positive_int(self.train_size, "train_size")
        self.batch_size = _positive_int(self.batch_size, "batch_size")
        self.iters_num = _positive_int(self.iters_num, "iters_num")
        for name in _SIZES:
            setattr(self, name, _positive_int(getattr(self, name), name))
        if (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, (int, np.integer))
            or self.seed < 0
        ):
            raise ValueError(f"seed: expected a non-negative int, got {self.seed!r}")
        check_choice(self.sampling, "sampling", SAMPLING)
        check_positive(self.weight_init_std, "weight_init_std", allow_zero=True)
        if not 0 <= float(self.dropout_ratio) < 1:
            raise ValueError(
                f"dropout_ratio: expected a value in [0, 1), got {self.dropout_ratio!r}"
            )
        if self.sampling == "full" and self.batch_size != self.train_size:
            raise ValueError(
                f"batch_size: sampling 'full' uses the whole set, expected "
                f"{self.train_size}, got {self.batch_size}"
            )
        if self.sampling == "shuffle" and self.batch_size > self.train_size:
            raise ValueError(
                f"batch_size: expected at most train_size={self.train_size} for "
                f"sampling 'shuffle', got {self.batch_size}"
            )
        if self.batch_indices is None:
            self.batch_indices = self._draw_indices()
        else:
            self._check_indices(self.batch_indices)
        if self.init is None:
            self.init = init_params(
                self.input_size,
                self.hidden_size,
                self.output_size,
                self.weight_init_std,
                seed=self._seed_seq(0),
            )

    # The seed sequence spawns independent streams: 0 weights, 1 batches, 2 dropout.
    def _seed_seq(self, stream: int, *extra: int) -> np.random.SeedSequence:
        return np.random.SeedSequence([int(self.seed), stream, *extra])

    def _draw_indices(self) -> np.ndarray | None:
        if self.sampling == "full":
            return None
        rng = np.random.default_rng(self._seed_seq(1))
        if self.sampling == "replacement":
            return rng.integers(
                0, self.train_size, size=(self.iters_num, self.batch_size), dtype=np.int64
            )
        per_epoch = self.train_size // self.batch_size
        epochs = math.ceil(self.iters_num / per_epoch)
        rows = [
            rng.permutation(self.train_size)[: per_epoch * self.batch_size].reshape(
                per_epoch, self.batch_size
            )
            for _ in range(epochs)
        ]
        return np.concatenate(rows)[: self.iters_num].astype(np.int64)

    def _check_indices(self, idx: np.ndarray) -> None:
        if self.sampling == "full":
            raise ValueError("batch_indices: sampling 'full' takes none, got an array")
        arr = np.asarray(idx)
        want = (self.iters_num, self.batch_size)
        if arr.shape != want or arr.dtype.kind not in "iu":
            raise ValueError(
                f"batch_indices: expected an int array of shape {want}, got "
                f"shape {arr.shape} and dtype {arr.dtype}"
            )
        if arr.size and (arr.min() < 0 or arr.max() >= self.train_size):
            raise ValueError(
                f"batch_indices: expected values in [0, {self.train_size}), got "
                f"[{arr.min()}, {arr.max()}]"
            )
        self.batch_indices = arr.astype(np.int64)

    # ------------------------------------------------------------------ what a replay reads

    @property
    def iter_per_epoch(self) -> float:
        """max(train_size / batch_size, 1), as the book computes it (a float)."""
        return max(self.train_size / self.batch_size, 1)

    def is_eval_iter(self, i: int) -> bool:
        """The book's test: accuracy is measured when i % iter_per_epoch == 0."""
        return i % self.iter_per_epoch == 0

    @property
    def eval_iters(self) -> list[int]:
        return [i for i in range(self.iters_num) if self.is_eval_iter(i)]

    def batch(self, i: int) -> np.ndarray | slice:
        """Row indices of iteration i (a slice over everything for full-batch descent)."""
        if not 0 <= i < self.iters_num:
            raise IndexError(f"i: expected an iteration in [0, {self.iters_num}), got {i}")
        return slice(None) if self.batch_indices is None else self.batch_indices[i]

    def dropout_mask(self, i: int, rows: int | None = None) -> np.ndarray | None:
        """The 0/1 hidden-unit mask of iteration i (None without dropout): u > ratio, u ~ U[0,1).

        Drawn from its own stream per iteration, so a replay needs no shared RNG state.
        """
        if not self.dropout_ratio:
            return None
        n = self.batch_size if rows is None else rows
        u = np.random.default_rng(self._seed_seq(2, i)).random((n, self.hidden_size))
        return u > self.dropout_ratio

    def initial_params(self) -> dict[str, np.ndarray]:
        """Fresh float64 copies of the initial weights."""
        return {k: v.copy() for k, v in self.init.items()}

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the plan to .npz atomically (no pickled objects)."""
        meta = {
            k: getattr(self, k)
            for k in (
                "train_size",
                "batch_size",
                "iters_num",
                "seed",
                "input_size",
                "hidden_size",
                "output_size",
            )
        }
        arrays = {f"meta_{k}": np.int64(v) for k, v in meta.items()}
        arrays["meta_sampling"] = np.array(self.sampling)
        arrays["meta_weight_init_std"] = np.float64(self.weight_init_std)
        arrays["meta_dropout_ratio"] = np.float64(self.dropout_ratio)
        arrays.update({f"init_{k}": v for k, v in self.init.items()})
        if self.batch_indices is not None:
            arrays["batch_indices"] = self.batch_indices
        atomic_write(path, lambda f: np.savez_compressed(f, **arrays))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrainPlan:
        """Read a plan written by ``save`` (allow_pickle=False)."""
        with np.load(path, allow_pickle=False) as z:
            kw = {
                k[5:]: int(z[k])
                for k in z.files
                if k.startswith("meta_")
                and k not in ("meta_sampling", "meta_weight_init_std", "meta_dropout_ratio")
            }
            kw["sampling"] = str(z["meta_sampling"])
            kw["weight_init_std"] = float(z["meta_weight_init_std"])
            kw["dropout_ratio"] = float(z["meta_dropout_ratio"])
            init = {k[5:]: z[k] for k in z.files if k.startswith("init_")}
            idx = z["batch_indices"] if "batch_indices" in z.files else None
        return cls(**kw, batch_indices=idx, init=init)
