"""What the MNIST loader tests share: an isolated environment and small file helpers."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from reference_numpy.mnist import FILES, SUBSET_DIR

# Port 9 (discard) on loopback: a mirror that refuses at once, so nothing reaches the network.
UNREACHABLE_MIRROR = "http://127.0.0.1:9/unreachable/"


def isolate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the user's real cache, data dir or mirrors, or touches the network."""
    monkeypatch.delenv("NNPARITY_DATA_DIR", raising=False)
    monkeypatch.setenv("NNPARITY_CACHE_DIR", str(tmp_path / "user-cache"))
    monkeypatch.setenv("NNPARITY_MNIST_MIRRORS", UNREACHABLE_MIRROR)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")  # a CI proxy must not see loopback


def gz(raw: bytes) -> bytes:
    """Deterministic gzip (mtime 0), fast level: tests compare bytes, not compression."""
    return gzip.compress(raw, compresslevel=1, mtime=0)


def subset_copy(dest: Path) -> Path:
    """A copy of the bundled subset's four files in ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in FILES:
        shutil.copyfile(SUBSET_DIR / f, dest / f)
    return dest
