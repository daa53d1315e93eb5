"""reference_torch.mnist: torchvision parses the same files as the NumPy IDX parser, byte for byte.

The parity argument starts at the data: if the two engines read different pixels, every later
comparison is meaningless, so the torch loader goes through torchvision's own parser and these
tests hold it to the NumPy loader on the full set and on the bundled subset.
"""

from __future__ import annotations

import gzip
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from mnist_env import isolate

from reference_numpy import mnist as np_mnist
from reference_numpy import mnist_files as np_mnist_files
from reference_numpy.mnist import (
    FILES,
    SUBSET_DIR,
    MnistChecksumError,
    MnistFormatError,
    MnistSubsetWarning,
    read_sha256sums,
)
from reference_torch import mnist as tm


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


@pytest.fixture(autouse=True)
def _no_torchvision_download(monkeypatch: pytest.MonkeyPatch) -> None:
    """torchvision must never download: the files are always prepared beforehand."""
    from torchvision.datasets import MNIST

    def refuse(self: object) -> None:
        raise AssertionError("torchvision tried to download MNIST")

    monkeypatch.setattr(MNIST, "download", refuse)


@pytest.fixture(scope="module")
def subset_sums() -> dict[str, str]:
    return read_sha256sums(SUBSET_DIR / "SHA256SUMS.txt")


def _numpy_raw(data_dir: Path, checksums: dict[str, str] | None = None) -> dict[str, np.ndarray]:
    (x, t), (xt, tt) = np_mnist.load_mnist(
        normalize=False, flatten=False, data_dir=data_dir, checksums=checksums
    )
    return {"x_train": x[:, 0], "t_train": t, "x_test": xt[:, 0], "t_test": tt}


def _assert_same_bytes(tv: dict[str, np.ndarray], ref: dict[str, np.ndarray]) -> None:
    assert set(tv) == {"x_train", "t_train", "x_test", "t_test"}
    for k in ref:
        assert tv[k].dtype == (np.uint8 if k.startswith("x") else np.int64), k
        assert tv[k].shape == ref[k].shape, k
        assert tv[k].tobytes() == ref[k].astype(tv[k].dtype).tobytes(), k


def test_full_set_byte_for_byte(mnist_dir: Path) -> None:
    tv = tm.torchvision_arrays(mnist_dir)
    _assert_same_bytes(tv, _numpy_raw(mnist_dir))
    assert tv["x_train"].shape == (60000, 28, 28) and tv["x_test"].shape == (10000, 28, 28)


def test_bundled_subset_byte_for_byte(subset_sums: dict[str, str]) -> None:
    tv = tm.torchvision_arrays(SUBSET_DIR)
    _assert_same_bytes(tv, _numpy_raw(SUBSET_DIR, subset_sums))
    assert tv["x_train"].shape == (6000, 28, 28) and tv["x_test"].shape == (1000, 28, 28)


def test_fallback_to_subset_warns_like_numpy() -> None:
    """With nothing found and no download, both loaders fall back to the bundled subset."""
    with pytest.warns(MnistSubsetWarning):
        (data, source) = tm.load_mnist(download=False, return_source=True, as_tensor=False)
    assert source.kind == "subset"
    assert data[0][0].shape == (6000, 784)


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("flatten", [True, False])
@pytest.mark.parametrize("one_hot", [True, False])
def test_load_mnist_equals_numpy_loader(
    normalize: bool, flatten: bool, one_hot: bool, subset_sums: dict[str, str]
) -> None:
    kw = {"normalize": normalize, "flatten": flatten, "one_hot_label": one_hot}
    ref = np_mnist.load_mnist(**kw, data_dir=SUBSET_DIR, checksums=subset_sums)
    got = tm.load_mnist(**kw, data_dir=SUBSET_DIR, device="cpu")
    arr = tm.load_mnist(**kw, data_dir=SUBSET_DIR, as_tensor=False)
    for (rx, rt), (gx, gt), (ax, at) in zip(ref, got, arr, strict=True):
        assert isinstance(gx, torch.Tensor) and isinstance(ax, np.ndarray)
        assert gx.device.type == "cpu"
        for r, g, a in ((rx, gx, ax), (rt, gt, at)):
            assert g.numpy().dtype == r.dtype == a.dtype
            assert g.shape == r.shape == a.shape
            np.testing.assert_array_equal(g.numpy(), r)
            np.testing.assert_array_equal(a, r)


def test_float64_is_the_upcast_float32_division(subset_sums: dict[str, str]) -> None:
    """dtype=float64 gives float64(float32(p/255)), what reference_numpy.train feeds a float64
    net from the float32 loader, so both engines see the same inputs."""
    (rx, _), _ = np_mnist.load_mnist(data_dir=SUBSET_DIR, checksums=subset_sums)
    (gx, _), _ = tm.load_mnist(data_dir=SUBSET_DIR, dtype=torch.float64, device="cpu")
    assert gx.dtype == torch.float64
    np.testing.assert_array_equal(gx.numpy(), rx.astype(np.float64))


def test_prepared_root_layout_and_reuse(subset_sums: dict[str, str]) -> None:
    """gzip sources are decompressed once into <root>/MNIST/raw; a second load reuses them."""
    source = np_mnist.locate_mnist(SUBSET_DIR)
    root = tm.prepare_torchvision_root(source)
    raw = root / "MNIST" / "raw"
    names = sorted(p.name for p in raw.iterdir() if not p.name.startswith("."))
    assert names == sorted(f[:-3] for f in FILES)
    assert str(root).startswith(os.environ["NNPARITY_CACHE_DIR"])
    stamps = {p.name: p.stat().st_mtime_ns for p in raw.iterdir()}
    assert tm.prepare_torchvision_root(source) == root
    assert {p.name: p.stat().st_mtime_ns for p in raw.iterdir()} == stamps


def test_uncompressed_sources_are_symlinked(tmp_path: Path, subset_sums: dict[str, str]) -> None:
    src = tmp_path / "plain"
    src.mkdir()
    for f in FILES:  # uncompressed contents under the usual names (compression is sniffed)
        (src / f).write_bytes(gzip.decompress((SUBSET_DIR / f).read_bytes()))
    source = np_mnist.locate_mnist(src)
    root = tm.prepare_torchvision_root(source, subset_sums)
    for f in FILES:
        link = root / "MNIST" / "raw" / f[:-3]
        assert link.is_symlink() and Path(os.readlink(link)) == (src / f).resolve()
    tv = tm.torchvision_arrays(src, checksums=subset_sums)
    _assert_same_bytes(tv, _numpy_raw(SUBSET_DIR, subset_sums))


def test_damaged_cache_entry_is_rebuilt(subset_sums: dict[str, str]) -> None:
    source = np_mnist.locate_mnist(SUBSET_DIR)
    root = tm.prepare_torchvision_root(source)
    victim = root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x09")
    tm._HASHED.clear()
    tv = tm.torchvision_arrays(SUBSET_DIR)
    _assert_same_bytes(tv, _numpy_raw(SUBSET_DIR, subset_sums))


def test_damaged_source_is_refused(tmp_path: Path, subset_sums: dict[str, str]) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in FILES:
        shutil.copyfile(SUBSET_DIR / f, bad / f)
    raw = bytearray(gzip.decompress((bad / FILES[1]).read_bytes()))
    raw[-1] = (raw[-1] + 1) % 10
    (bad / FILES[1]).write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(MnistChecksumError, match="checksum mismatch"):
        tm.torchvision_arrays(bad, checksums=subset_sums)


def test_argument_errors() -> None:
    with pytest.raises(TypeError, match="normalize"):
        tm.load_mnist(normalize=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="device"):
        tm.load_mnist(data_dir=SUBSET_DIR, as_tensor=False, device="cpu")
    with pytest.raises(FileNotFoundError, match="data_dir"):
        tm.load_mnist(data_dir=SUBSET_DIR / "nowhere")


# ------------------------------------------------------------------------------------------------
# Bad input and leftovers (the shared file layer's rules, through the torch loader)
# ------------------------------------------------------------------------------------------------


def _tree(directory: Path) -> dict[str, tuple[int, int]]:
    if not directory.exists():
        return {}
    return {
        str(p.relative_to(directory)): (p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in sorted(directory.rglob("*"))
    }


@pytest.mark.parametrize(
    ("call", "exc", "fragment"),
    [
        pytest.param(lambda: tm.load_mnist(timeout=0), ValueError,
                     "timeout: expected a finite number of seconds > 0, got 0", id="timeout-0"),
        pytest.param(lambda: tm.load_mnist(timeout="1"), TypeError,
                     "timeout: expected a number of seconds", id="timeout-str"),
        pytest.param(lambda: tm.torchvision_arrays(timeout=float("nan")), ValueError,
                     "got nan", id="arrays-timeout-nan"),
        pytest.param(lambda: tm.torchvision_arrays(download=1), TypeError,
                     "download: expected True or False, got int 1", id="arrays-download"),
        pytest.param(lambda: tm.load_mnist(checksums={FILES[0]: "x"}), ValueError,
                     "expected a sha256 digest (64 hex digits), got 'x'", id="checksums"),
        pytest.param(lambda: tm.load_mnist(as_tensor="no"), TypeError, "as_tensor",
                     id="as-tensor"),
    ],
)  # fmt: skip
def test_bad_arguments_change_nothing(call, exc: type[BaseException], fragment: str) -> None:
    cache = Path(os.environ["NNPARITY_CACHE_DIR"])
    cache.mkdir(parents=True)
    stale = cache / f".{FILES[0]}.killed.part"
    stale.write_bytes(b"partial")
    os.utime(stale, (np_mnist_files.PROCESS_START - 10,) * 2)
    before = _tree(cache)
    with pytest.raises(exc) as info:
        call()
    assert fragment in str(info.value)
    assert _tree(cache) == before


def test_pickle_under_an_mnist_name_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    for f in FILES:
        shutil.copyfile(SUBSET_DIR / f, d / f)
    (d / FILES[1]).write_bytes(pickle.dumps(np.array([None], dtype=object)))
    with pytest.raises(MnistFormatError) as info:
        tm.torchvision_arrays(d)
    assert str(info.value).startswith(f"{d / FILES[1]}: not an IDX file: expected an IDX file")
    assert "a Python pickle" in str(info.value)
    # refused before the prepared root was built
    assert not (Path(os.environ["NNPARITY_CACHE_DIR"]) / "torchvision").exists()


def test_truncated_gzip_source_names_the_file(tmp_path: Path, subset_sums: dict[str, str]) -> None:
    """Half of the test images: the header reads, the decompression into the root fails."""
    d = tmp_path / "d"
    d.mkdir()
    for f in FILES:
        shutil.copyfile(SUBSET_DIR / f, d / f)
    data = (SUBSET_DIR / FILES[2]).read_bytes()
    (d / FILES[2]).write_bytes(data[: len(data) // 2])
    with pytest.raises(MnistFormatError) as info:
        tm.load_mnist(data_dir=d, as_tensor=False, checksums=subset_sums)
    msg = str(info.value)
    assert msg.startswith(f"{d / FILES[2]}: truncated: the gzip stream ends early"), msg
    (raw,) = (Path(os.environ["NNPARITY_CACHE_DIR"]) / "torchvision").glob("*/MNIST/raw")
    assert sorted(p.name for p in raw.iterdir()) == [f[:-3] for f in FILES[:2]]  # no temp left


def test_stale_temp_files_in_the_prepared_root_are_removed() -> None:
    source = np_mnist.locate_mnist(SUBSET_DIR)
    raw = tm.prepare_torchvision_root(source) / "MNIST" / "raw"
    old, fresh = raw / ".t10k-labels-idx1-ubyte.abc.tmp", raw / ".t10k-images-idx3-ubyte.d.tmp"
    link = raw / ".train-labels-idx1-ubyte.123.tmp"
    old.write_bytes(b"killed")
    fresh.write_bytes(b"in progress")
    link.symlink_to(SUBSET_DIR / FILES[1])
    past = np_mnist_files.PROCESS_START - 10
    os.utime(old, (past, past))
    os.utime(link, (past, past), follow_symlinks=False)
    tm.prepare_torchvision_root(source)
    assert not old.exists() and not link.is_symlink() and fresh.read_bytes() == b"in progress"
    assert (SUBSET_DIR / FILES[1]).is_file()  # the link's target is untouched
