"""Shared fixtures (where the full MNIST lives for tests and CI) and hypothesis' profiles.

Profiles: ``ci`` (the default) runs a fixed set of examples on every run (derandomized, no
example database), so a red run is a bug and replays identically; ``explore``
(``HYPOTHESIS_PROFILE=explore``, ``HYPOTHESIS_EXAMPLES`` examples per test, default 2000) draws
new random examples each run to look for failures.  A failure found there is kept in the test as
an explicit ``@example``, so ``ci`` runs it from then on.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=50, derandomize=True, database=None, deadline=None, print_blob=True
)
settings.register_profile(
    "explore",
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "2000")),
    derandomize=False,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO_ROOT = Path(__file__).resolve().parents[1]
_MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def full_mnist_dir() -> Path | None:
    """The full MNIST folder: $NNPARITY_DATA_DIR, else ../shared/data/mnist beside the repo."""
    candidates = []
    if os.environ.get("NNPARITY_DATA_DIR"):
        candidates.append(Path(os.environ["NNPARITY_DATA_DIR"]))
    candidates.append(REPO_ROOT.parent / "shared" / "data" / "mnist")
    for c in candidates:
        c = c if c.is_absolute() else (REPO_ROOT / c)
        if all((c / f).exists() for f in _MNIST_FILES):
            return c.resolve()
    return None


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """Folder of the full MNIST; tests that claim full MNIST skip (with the reason) without it."""
    d = full_mnist_dir()
    if d is None:
        pytest.skip(
            "full MNIST not found: set NNPARITY_DATA_DIR or place it at ../shared/data/mnist"
        )
    return d


@pytest.fixture(scope="module")
def subset_sums() -> dict[str, str]:
    """The bundled subset's recorded SHA-256 sums, by file name."""
    from reference_numpy.mnist import SUBSET_DIR, read_sha256sums

    return read_sha256sums(SUBSET_DIR / "SHA256SUMS.txt")
