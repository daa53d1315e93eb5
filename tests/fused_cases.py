"""What the fused-mode tests of both engines share: the configurations and the two distances.

Both ``train`` functions run the same five configurations through mode "fused" and mode "eager"
(tests/test_numpy_training.py, tests/test_torch_training.py); only the full-batch size follows
each file's training set.
"""

from __future__ import annotations

import numpy as np


def fused_cases(train_size: int) -> list[tuple[str, dict, dict]]:
    """(id, network kwargs, plan kwargs): sigmoid, relu, the book's CEE, dropout, full batch."""
    return [
        ("sigmoid", {}, {"batch_size": 100, "iters_num": 300, "seed": 1}),
        ("relu", {"activation": "relu"}, {"batch_size": 100, "iters_num": 300, "seed": 1}),
        (
            "book-cee",
            {"loss": "cross_entropy_error"},
            {"batch_size": 100, "iters_num": 300, "seed": 1},
        ),
        (
            "dropout",
            {"dropout_ratio": 0.2},
            {"batch_size": 50, "iters_num": 300, "seed": 2, "dropout_ratio": 0.2},
        ),
        (
            "full-batch",
            {},
            {"batch_size": train_size, "iters_num": 40, "seed": 3, "sampling": "full"},
        ),
    ]


FUSED_IDS = [c[0] for c in fused_cases(1)]


def rel(a: object, b: object) -> float:
    """Largest elementwise relative difference |a - b| / |a|."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape
    return float(np.max(np.abs(a - b) / np.abs(a)))


def prel(pa: dict, pb: dict) -> float:
    """Largest parameter difference, each tensor scaled by its own max |pa|."""
    return max(
        float(
            np.max(np.abs(np.asarray(pa[k], np.float64) - np.asarray(pb[k], np.float64)))
            / np.max(np.abs(np.asarray(pa[k], np.float64)))
        )
        for k in pa
    )
