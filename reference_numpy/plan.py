"""TrainPlan: everything random in a training run, decided up front so another engine can replay it.

A plan fixes the initial weights, the batch indices of every iteration and the dropout masks.
It is plain NumPy and saves to .npz (no pickle), so the torch reference, another process, or a
user's own code can load it and see identical data in identical order.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ._safeio import load_npz, plain_arrays
from ._validate import (
    _describe,
    as_array,
    atomic_write,
    check_allocation,
    check_choice,
    check_finite,
    check_positive,
)
from .networks import PARAM_NAMES, init_params

__all__ = ["TrainPlan", "SAMPLING"]

#: "replacement": np.random.choice(train_size, batch_size) each iteration, as the chapter does.
#: "shuffle": a fresh permutation per epoch, consumed batch by batch (no repeats within an epoch).
#: "full": every iteration uses the whole training set in order (full-batch gradient descent).
SAMPLING = ("replacement", "shuffle", "full")

_SIZES = ("input_size", "hidden_size", "output_size")
_META_INTS = ("train_size", "batch_size", "iters_num", "seed")


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
        check_positive(self.dropout_ratio, "dropout_ratio", allow_zero=True)
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
            if self.sampling != "full":
                check_allocation(
                    8 * self.iters_num * self.batch_size, "iters_num",
                    f"the batch indices of {self.iters_num} iterations of {self.batch_size}",
                )  # fmt: skip
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
        else:
            self.init = self._check_init(self.init)

    def _check_init(self, init: object) -> dict[str, np.ndarray]:
        """Given initial weights as float64 copies, after checking keys, dtypes, shapes and
        values: ``save`` then writes only plain float arrays (never a pickle)."""
        if not isinstance(init, Mapping):
            raise TypeError(
                f"init: expected a dict of arrays {list(PARAM_NAMES)}, got {_describe(init)}"
            )
        if sorted(init) != sorted(PARAM_NAMES):
            raise ValueError(f"init: expected keys {list(PARAM_NAMES)}, got {list(init)}")
        i, h, o = self.input_size, self.hidden_size, self.output_size
        shapes = {"W1": (i, h), "b1": (h,), "W2": (h, o), "b2": (o,)}
        out = {}
        for k in PARAM_NAMES:
            arr = as_array(init[k], f"init[{k!r}]")
            if arr.dtype.kind not in "fiu" or arr.dtype.fields is not None:
                raise TypeError(f"init[{k!r}]: expected a real numeric array, got {_describe(arr)}")
            if arr.shape != shapes[k]:
                raise ValueError(
                    f"init[{k!r}]: expected shape {shapes[k]} (from the plan's sizes), "
                    f"got {arr.shape}"
                )
            check_finite(arr, f"init[{k!r}]")
            out[k] = np.array(arr, dtype=np.float64, copy=True)
        return out

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
        if not 0 <= i < self.iters_num:
            raise IndexError(f"i: expected an iteration in [0, {self.iters_num}), got {i}")
        u = self.dropout_uniforms(i, rows)
        return None if u is None else u > self.dropout_ratio

    def dropout_uniforms(self, i: int, rows: int | None = None) -> np.ndarray | None:
        """The draws u ~ U[0,1) behind iteration i's dropout mask (None without dropout): what
        another engine reads to compute the mask ``u > ratio`` itself."""
        if not 0 <= i < self.iters_num:
            raise IndexError(f"i: expected an iteration in [0, {self.iters_num}), got {i}")
        if not self.dropout_ratio:
            return None
        n = self.batch_size if rows is None else rows
        return np.random.default_rng(self._seed_seq(2, i)).random((n, self.hidden_size))

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
        # The fields are public and may have been reassigned since __post_init__: re-check.
        arrays = plain_arrays(arrays, "plan")
        if self.batch_indices is not None:
            arrays["batch_indices"] = self.batch_indices
        atomic_write(path, lambda f: np.savez_compressed(f, **arrays))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrainPlan:
        """Read a plan written by ``save`` (allow_pickle=False).

        Any other file (a params .npz, a truncated archive, a .npy, missing or unknown arrays,
        values a plan cannot have) is refused with a ValueError that names it.
        """
        where = os.fspath(path)
        z = load_npz(path)
        ints = [f"meta_{k}" for k in (*_META_INTS, *_SIZES)]
        floats = ["meta_weight_init_std", "meta_dropout_ratio"]
        need = [*ints, "meta_sampling", *floats, *(f"init_{k}" for k in PARAM_NAMES)]
        missing = [k for k in need if k not in z]
        extra = sorted(set(z) - set(need) - {"batch_indices"})
        if missing or extra:
            raise ValueError(
                f"{where}: expected a TrainPlan archive (from TrainPlan.save), "
                f"missing {missing}, unexpected {extra}"
            )
        try:
            for k in [*ints, *floats, "meta_sampling"]:
                if z[k].shape != ():
                    raise ValueError(f"{k}: expected a scalar, got shape {z[k].shape}")
            kw: dict = {k[5:]: int(z[k]) for k in ints}
            if z["meta_sampling"].dtype.kind != "U":
                got = z["meta_sampling"].dtype
                raise ValueError(f"meta_sampling: expected a string, got dtype {got}")
            kw["sampling"] = str(z["meta_sampling"])
            kw.update({k[5:]: float(z[k]) for k in floats})
            init = {k: z[f"init_{k}"] for k in PARAM_NAMES}
            return cls(**kw, batch_indices=z.get("batch_indices"), init=init)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{where}: not a valid TrainPlan: {e}") from None
