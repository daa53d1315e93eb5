"""What every check receives: the engines, the reference, the data and the run's options."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..engines import Engine, reference_engine


@dataclass
class Context:
    """Options of one verify run (``quick`` shrinks sizes, never tolerances)."""

    engines: list[Engine]
    seed: int = 0
    iters: int = 10_000
    quick: bool = False
    data_dir: str | None = None
    progress: bool = False
    replay_all: bool = False
    reference: Engine = field(default_factory=reference_engine)
    notes: dict = field(default_factory=dict)

    def rng(self, salt: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, salt])


    @cached_property
    def mnist(self):
        """((x_train, t_train), (x_test, t_test)) as float64/int64 plus the source description."""
        from reference_numpy.mnist import load_mnist

        data, source = load_mnist(data_dir=self.data_dir, return_source=True)
        self.notes["data"] = source.describe()
        return data, source


def r32(a):
    """``a`` rounded to the nearest float32, kept as float64 (ints and non-arrays unchanged).

    Every check feeds all engines inputs that float32 represents exactly, so the float64
    reference and a float32 candidate see identical inputs and differ only by arithmetic.
    """
    arr = np.asarray(a)
    if arr.dtype.kind != "f":
        return a
    return arr.astype(np.float32).astype(np.float64)
