"""The book's MNIST training run (784-50-10, batch 100, lr 0.1) in each engine, on one plan.

Every engine replays the same ``TrainPlan``: the same initial weights and the same batch
indices, so the final accuracies are comparable and a difference in them is arithmetic, not
luck.  Each function returns the engine's own loop time (data conversion and moving the data to
the device happen before the clock starts, in every engine) and the final accuracies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reference_numpy.plan import TrainPlan

from . import book_ch4

LEARNING_RATE = 0.1
HIDDEN = 50
BATCH = 100


@dataclass
class MnistData:
    """Images float32 in [0, 1] (N, 784), labels int64, and where they came from."""

    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray
    source: str
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    @property
    def train_size(self) -> int:
        return len(self.x_train)

    def one_hot(self) -> tuple[np.ndarray, np.ndarray]:
        """float32 one-hot targets for train and test, as the book loads them."""
        if "one_hot" not in self._cache:
            eye = np.eye(10, dtype=np.float32)
            self._cache["one_hot"] = (eye[self.t_train], eye[self.t_test])
        return self._cache["one_hot"]

    def x_train_as(self, dtype: Any) -> np.ndarray:
        """x_train converted once to ``dtype`` (cached), as ``reference_numpy.train`` does."""
        key = ("numpy", np.dtype(dtype).name)
        if key not in self._cache:
            self._cache[key] = np.ascontiguousarray(self.x_train, dtype=dtype)
        return self._cache[key]

    def tensors(self, device: Any, dtype: Any) -> tuple[Any, ...]:
        """(x_train, t_train, x_test, t_test) as tensors on ``device`` in ``dtype`` (cached)."""
        import torch

        key = ("torch", str(device), str(dtype))
        if key not in self._cache:
            x_dt = np.float64 if dtype == torch.float64 else np.float32
            self._cache[key] = (
                torch.from_numpy(self.x_train.astype(x_dt)).to(device),
                torch.from_numpy(self.t_train).to(device),
                torch.from_numpy(self.x_test.astype(x_dt)).to(device),
                torch.from_numpy(self.t_test).to(device),
            )
        return self._cache[key]


def load_data(data_dir: str | None = None) -> MnistData:
    """MNIST through ``reference_numpy.mnist.load_mnist`` (data_dir, $NNPARITY_DATA_DIR, cache,
    download, bundled subset: the source is recorded)."""
    import warnings

    from reference_numpy.mnist import load_mnist

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the subset warning: the source is recorded instead
        ((xtr, ttr), (xte, tte)), source = load_mnist(data_dir=data_dir, return_source=True)
    return MnistData(xtr, ttr, xte, tte, source.describe())


def make_plan(data: MnistData, iters: int, seed: int, hidden: int = HIDDEN) -> TrainPlan:
    return TrainPlan(
        train_size=data.train_size, batch_size=min(BATCH, data.train_size), iters_num=iters,
        seed=seed, hidden_size=hidden,
    )


@dataclass
class RunResult:
    seconds: float
    test_acc: float
    train_acc: float
    evaluations: int
    meta: dict[str, Any] = field(default_factory=dict)


def book_run(data: MnistData, plan: TrainPlan) -> RunResult:
    """``book_ch4.run``: the plain book algorithm, on the plan's batches and weights."""
    t_tr, t_te = data.one_hot()
    seconds, _, train_acc, test_acc = book_ch4.run(
        data.x_train, t_tr, data.x_test, t_te, iters_num=plan.iters_num,
        batch_size=plan.batch_size, learning_rate=LEARNING_RATE, seed=plan.seed,
        batch_indices=plan.batch_indices, init_params=plan.initial_params(),
    )
    return RunResult(seconds, float(test_acc[-1]), float(train_acc[-1]), len(test_acc))


def numpy_run(data: MnistData, plan: TrainPlan, dtype: Any) -> RunResult:
    """``reference_numpy.train`` with ``TwoLayerNet(dtype=dtype)``."""
    import reference_numpy as rn

    net = rn.TwoLayerNet(
        plan.input_size, plan.hidden_size, plan.output_size, params=plan.initial_params(),
        dtype=dtype,
    )
    hist = rn.train(
        net, data.x_train, data.t_train, data.x_test, data.t_test, plan,
        learning_rate=LEARNING_RATE, progress=False,
    )
    return RunResult(
        hist.seconds, hist.test_acc_list[-1], hist.train_acc_list[-1], len(hist.test_acc_list),
        dict(hist.meta),
    )


def torch_run(
    data: MnistData, plan: TrainPlan, dtype: Any, device: Any, mode: str = "eager"
) -> RunResult:
    """``reference_torch.training.train`` on ``device`` (data already there), ``mode`` eager or
    graph.  The run ends with the loss and accuracy read back to the host, so its time includes
    all device work."""
    from reference_torch.networks import TwoLayerNet
    from reference_torch.training import train

    xtr, ttr, xte, tte = data.tensors(device, dtype)
    net = TwoLayerNet(
        plan.input_size, plan.hidden_size, plan.output_size, params=plan.initial_params(),
        device=device, dtype=dtype,
    )
    hist = train(
        net, xtr, ttr, xte, tte, plan, learning_rate=LEARNING_RATE, progress=False, mode=mode
    )
    return RunResult(
        hist.seconds, hist.test_acc_list[-1], hist.train_acc_list[-1], len(hist.test_acc_list),
        dict(hist.meta),
    )
