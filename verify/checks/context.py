"""What every check receives: the engines, the reference, the data and the run's options."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, overload

import numpy as np

from ..engines import Engine, reference_engine
from ..plans import BOOK_ITERS


@dataclass
class Context:
    """Options of one verify run (``quick`` shrinks sizes, never tolerances), and what the checks
    record for the report beside their observations.

    ``calibration``: the run measures noise instead of judging (``python -m verify calibrate``):
    step replay then yields every replayed step's observations and consults no tolerance.
    """

    engines: list[Engine]
    seed: int = 0
    iters: int = BOOK_ITERS
    quick: bool = False
    data_dir: str | None = None
    #: total deadline per file and mirror of a download (None: the loader's default)
    download_timeout: float | None = None
    progress: bool = False
    replay_all: bool = False
    calibration: bool = False
    reference: Engine = field(default_factory=reference_engine)
    #: where MNIST came from, once a check has loaded it
    data_description: str | None = None
    #: "function autograd, case" -> why torch autograd legitimately differs there (left out)
    known_differences: dict[str, str] = field(default_factory=dict)
    #: training histories of the free-running eager runs: "reference" and each engine's name
    curves: dict[str, Any] = field(default_factory=dict)
    #: train's default (fast) paths: label -> (history, tolerance class), for the plots
    fast_curves: dict[str, tuple[Any, str]] = field(default_factory=dict)
    #: which golden trajectory the reference was held to, or why none was
    golden: str | None = None
    #: the regimes group's free-running runs: regime -> "reference" or engine name ->
    #: (history, final parameters as float64 arrays)
    regime_runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: final parameters of the training group's free-running eager runs, by the keys of curves
    final_params: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def download_options(self) -> dict[str, float]:
        """Keyword arguments for the MNIST loaders: the download deadline, when one was set."""
        return {} if self.download_timeout is None else {"timeout": self.download_timeout}

    def rng(self, salt: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, salt])

    @cached_property
    def mnist(self) -> tuple[Any, Any]:
        """((x_train, t_train), (x_test, t_test)) as float64/int64 plus the source description."""
        from reference_numpy.mnist import load_mnist

        data, source = load_mnist(data_dir=self.data_dir, return_source=True,
                                  **self.download_options())
        self.data_description = source.describe()
        return data, source


@overload
def r32(a: np.ndarray) -> np.ndarray: ...
@overload
def r32(a: object) -> object: ...


def r32(a: object) -> object:
    """``a`` rounded to the nearest float32, kept as float64 (ints and non-arrays unchanged).

    Every check feeds all engines inputs that float32 represents exactly, so the float64
    reference and a float32 candidate see identical inputs and differ only by arithmetic.
    """
    arr = np.asarray(a)
    if arr.dtype.kind != "f":
        return a
    return arr.astype(np.float32).astype(np.float64)


def book_init(rng: np.random.Generator, sizes: tuple[int, int, int],
              std: float) -> dict[str, np.ndarray]:
    """The book's initialisation, computed here: W = std·N(0, 1) (W1's draws, then W2's, from
    ``rng``), b = 0, float64: what ``init_params`` and a TrainPlan's stream 0 must give."""
    i, h, k = sizes
    return {"W1": std * rng.standard_normal((i, h)), "b1": np.zeros(h),
            "W2": std * rng.standard_normal((h, k)), "b2": np.zeros(k)}
