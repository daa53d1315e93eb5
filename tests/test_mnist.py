"""Tests of reference_numpy.mnist: IDX parser, loader, bundled subset, download, corrupt files."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from mnist_env import gz, isolate, subset_copy

from reference_numpy import mnist, mnist_files
from reference_numpy.mnist import (
    FILES,
    MIRRORS,
    SHA256,
    SUBSET_DIR,
    MnistChecksumError,
    MnistDownloadError,
    MnistFormatError,
    MnistSubsetWarning,
    download_mnist,
    load_mnist,
    locate_mnist,
    read_idx,
    read_sha256sums,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
FIRST_TRAIN = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
FIRST_TEST = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
FIX = "delete it and load again"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


# ------------------------------------------------------------------------------------------------
# Local HTTP mirror
# ------------------------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    """Routes by the first path segment: /good/, /missing/, /corrupt/, /halfway/."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        server = self.server
        server.hits.append(self.path)  # type: ignore[attr-defined]
        _, mode, name = self.path.split("/", 2)
        body = server.files.get(name)  # type: ignore[attr-defined]
        if mode == "missing" or body is None:
            self.send_error(404)
            return
        if mode == "corrupt":
            raw = bytearray(gzip.decompress(body))
            raw[-1] ^= 0xFF
            body = gz(bytes(raw))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "halfway":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def mirror() -> Iterator[tuple[str, http.server.ThreadingHTTPServer]]:
    """A local server holding copies of the subset .gz files; yields (base URL, server)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.files = {f: (SUBSET_DIR / f).read_bytes() for f in FILES}  # type: ignore[attr-defined]
    server.hits = []  # type: ignore[attr-defined]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _assert_clean(directory: Path) -> None:
    """No final file and no temp file left behind."""
    left = sorted(p.name for p in directory.iterdir()) if directory.exists() else []
    assert left == []


# ------------------------------------------------------------------------------------------------
# Full MNIST
# ------------------------------------------------------------------------------------------------


def test_full_default_shapes_dtypes_values(mnist_dir: Path) -> None:
    ((x, t), (xt, tt)), source = load_mnist(data_dir=mnist_dir, return_source=True)
    assert source.kind == "full" and source.directory == mnist_dir
    assert (source.train_size, source.test_size) == (60000, 10000)
    assert source.describe() == f"full MNIST (60000 train / 10000 test) from {mnist_dir}"
    assert x.shape == (60000, 784) and xt.shape == (10000, 784)
    assert x.dtype == np.float32 and xt.dtype == np.float32
    assert t.shape == (60000,) and tt.shape == (10000,)
    assert t.dtype == np.int64 and tt.dtype == np.int64
    assert 0.0 <= x.min() and x.max() == 1.0 and xt.max() == 1.0
    assert np.bincount(t, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(tt, minlength=10).tolist() == TEST_COUNTS
    assert t[:10].tolist() == FIRST_TRAIN
    assert tt[:10].tolist() == FIRST_TEST


def test_full_variants(mnist_dir: Path) -> None:
    (x8, t), (xt8, _) = load_mnist(normalize=False, flatten=False, data_dir=mnist_dir)
    assert x8.dtype == np.uint8 and x8.shape == (60000, 1, 28, 28)
    assert xt8.shape == (10000, 1, 28, 28) and x8.max() == 255
    (x, _), _ = load_mnist(normalize=True, flatten=True, data_dir=mnist_dir)
    # normalize is exactly float32(pixel) / 255 (the book's x /= 255.0 on float32)
    np.testing.assert_array_equal(x, x8.reshape(60000, 784).astype(np.float32) / np.float32(255))
    (_, oh), (_, oht) = load_mnist(one_hot_label=True, data_dir=mnist_dir)
    assert oh.shape == (60000, 10) and oh.dtype == np.float32 and oht.shape == (10000, 10)
    np.testing.assert_array_equal(oh.argmax(axis=1), t)
    np.testing.assert_array_equal(oh.sum(axis=1), 1.0)


def test_cached_arrays_cannot_be_corrupted(mnist_dir: Path) -> None:
    (x, t), _ = load_mnist(normalize=False, data_dir=mnist_dir)
    assert x.flags.writeable and t.flags.writeable
    x[:] = 0
    t[:] = 0
    (x2, t2), _ = load_mnist(normalize=False, data_dir=mnist_dir)
    assert x2.max() == 255 and t2[:10].tolist() == FIRST_TRAIN


def test_full_found_through_env(mnist_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NNPARITY_DATA_DIR", str(mnist_dir))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        source = locate_mnist()
    assert source.kind == "full" and source.origin == "NNPARITY_DATA_DIR"


def test_relative_env_dir_is_relative_to_cwd(
    mnist_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mn").symlink_to(mnist_dir, target_is_directory=True)
    monkeypatch.setenv("NNPARITY_DATA_DIR", "mn")
    assert locate_mnist().directory == tmp_path / "mn"


def test_read_idx_raw_and_gzip_agree(mnist_dir: Path, tmp_path: Path) -> None:
    raw = gzip.decompress((mnist_dir / FILES[3]).read_bytes())
    assert hashlib.sha256(raw).hexdigest() == SHA256[FILES[3]]
    plain = tmp_path / "labels-without-gz-suffix.gz"  # detection is by magic bytes, not name
    plain.write_bytes(raw)
    np.testing.assert_array_equal(read_idx(plain), read_idx(mnist_dir / FILES[3]))
    assert read_idx(plain)[:10].tolist() == FIRST_TEST


def test_constants() -> None:
    assert FILES == (
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    )
    assert set(SHA256) == set(FILES)
    assert MIRRORS == (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    )


def test_read_idx_other_dtypes(tmp_path: Path) -> None:
    arr = (np.arange(12).reshape(3, 4) - 5).astype(">i4")
    p = tmp_path / "ints.idx"
    p.write_bytes(
        bytes([0, 0, 0x0C, 2]) + (3).to_bytes(4, "big") + (4).to_bytes(4, "big") + arr.tobytes()
    )
    out = read_idx(p)
    assert out.dtype == np.int32 and out.dtype.isnative and out.flags.writeable
    np.testing.assert_array_equal(out, arr)


# ------------------------------------------------------------------------------------------------
# Bundled subset
# ------------------------------------------------------------------------------------------------


def test_subset_files(subset_sums: dict[str, str]) -> None:
    sizes = [(SUBSET_DIR / f).stat().st_size for f in FILES]
    assert sum(sizes) < 2_000_000
    assert set(subset_sums) == set(FILES)
    for f in FILES:
        data = (SUBSET_DIR / f).read_bytes()
        assert data[:2] == b"\x1f\x8b"
        assert hashlib.sha256(gzip.decompress(data)).hexdigest() == subset_sums[f]
    assert read_idx(SUBSET_DIR / FILES[0]).shape == (6000, 28, 28)
    assert read_idx(SUBSET_DIR / FILES[1]).shape == (6000,)
    assert read_idx(SUBSET_DIR / FILES[2]).shape == (1000, 28, 28)
    assert read_idx(SUBSET_DIR / FILES[3]).shape == (1000,)


def test_subset_is_the_head_of_the_full_set(mnist_dir: Path) -> None:
    for f, n in zip(FILES, (6000, 6000, 1000, 1000), strict=True):
        sub, full = read_idx(SUBSET_DIR / f), read_idx(mnist_dir / f)
        assert sub.dtype == full.dtype == np.uint8
        np.testing.assert_array_equal(sub, full[:n])


def test_make_subset_script_reproduces_the_bundle(
    mnist_dir: Path, tmp_path: Path, subset_sums: dict[str, str]
) -> None:
    out = tmp_path / "made"
    subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "make_mnist_subset.py"),
         "--source", str(mnist_dir), "--out", str(out)],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert read_sha256sums(out / "SHA256SUMS.txt") == subset_sums
    for f in FILES:
        assert hashlib.sha256(gzip.decompress((out / f).read_bytes())).hexdigest() == subset_sums[f]


def test_fallback_to_subset(
    mirror: tuple[str, http.server.ThreadingHTTPServer],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    base, server = mirror
    cache = tmp_path / "empty-cache"
    cache.mkdir()
    monkeypatch.delenv("NNPARITY_DATA_DIR", raising=False)
    monkeypatch.setenv("NNPARITY_CACHE_DIR", str(cache))
    monkeypatch.setenv("NNPARITY_MNIST_MIRRORS", f"{base}/missing/")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ((x, t), (xt, tt)), source = load_mnist(return_source=True)
    subset_warnings = [w for w in caught if issubclass(w.category, MnistSubsetWarning)]
    assert len(subset_warnings) == 1, [str(w.message) for w in caught]
    assert subset_warnings[0].filename == __file__  # points at the caller, not at mnist.py
    message = str(subset_warnings[0].message)
    assert "\n" not in message and "subset" in message and "could not be found" in message
    assert server.hits, "the mirror was asked"  # type: ignore[attr-defined]
    assert source.kind == "subset" and source.directory == SUBSET_DIR
    assert source.describe() == "bundled MNIST subset (first 6000 train / 1000 test images)"
    assert x.shape == (6000, 784) and t.shape == (6000,)
    assert xt.shape == (1000, 784) and tt.shape == (1000,)
    assert t[:10].tolist() == FIRST_TRAIN and tt[:10].tolist() == FIRST_TEST
    _assert_clean(cache)


def test_no_download_goes_straight_to_subset(mirror, monkeypatch: pytest.MonkeyPatch) -> None:
    base, server = mirror
    monkeypatch.setenv("NNPARITY_MNIST_MIRRORS", f"{base}/good/")
    with pytest.warns(MnistSubsetWarning, match="download=False"):
        source = locate_mnist(download=False)
    assert source.kind == "subset" and server.hits == []


# ------------------------------------------------------------------------------------------------
# Download
# ------------------------------------------------------------------------------------------------


def test_download_into_cache_then_load(
    mirror, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, subset_sums: dict[str, str]
) -> None:
    base, server = mirror
    cache = tmp_path / "cache"
    monkeypatch.setenv("NNPARITY_CACHE_DIR", str(cache))
    monkeypatch.setenv("NNPARITY_MNIST_MIRRORS", f"{base}/good/")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ((x, t), _), first = load_mnist(checksums=subset_sums, return_source=True)
        _, source = load_mnist(checksums=subset_sums, return_source=True)
    assert first.kind == "full" and first.origin == "download" and first.train_size == 6000
    assert source.kind == "full" and source.directory == cache and source.origin == "cache"
    assert x.shape == (6000, 784) and t[:10].tolist() == FIRST_TRAIN
    assert sorted(p.name for p in cache.iterdir()) == sorted(FILES)
    assert len(server.hits) == 4  # the second load used the cache
    for f in FILES:
        assert (cache / f).read_bytes() == (SUBSET_DIR / f).read_bytes()


def test_download_first_mirror_404_then_second(
    mirror, tmp_path: Path, subset_sums: dict[str, str]
) -> None:
    base, server = mirror
    out = download_mnist(
        tmp_path / "d", mirrors=[f"{base}/missing/", f"{base}/good/"], checksums=subset_sums,
        progress=False,
    )  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert server.hits[:2] == [f"/missing/{FILES[0]}", f"/good/{FILES[0]}"]
    np.testing.assert_array_equal(read_idx(out / FILES[1]), read_idx(SUBSET_DIR / FILES[1]))


def test_download_checksum_mismatch_falls_back_to_next_mirror(
    mirror, tmp_path: Path, subset_sums: dict[str, str]
) -> None:
    base, _ = mirror
    out = download_mnist(
        tmp_path / "d", mirrors=[f"{base}/corrupt/", f"{base}/good/"], checksums=subset_sums,
        progress=False,
    )  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)


def test_download_checksum_mismatch_everywhere_leaves_nothing(
    mirror, tmp_path: Path, subset_sums: dict[str, str]
) -> None:
    base, _ = mirror
    d = tmp_path / "d"
    with pytest.raises(MnistDownloadError) as info:
        download_mnist(
            d, mirrors=[f"{base}/corrupt/", f"{base}/missing/"], checksums=subset_sums,
            progress=False,
        )  # fmt: skip
    msg = str(info.value)
    assert "checksum mismatch" in msg and f"{base}/corrupt/{FILES[0]}" in msg
    assert f"{base}/missing/{FILES[0]}" in msg and "404" in msg
    assert "NNPARITY_MNIST_MIRRORS" in msg
    _assert_clean(d)


def test_download_connection_closed_halfway_leaves_nothing(
    mirror, tmp_path: Path, subset_sums: dict[str, str]
) -> None:
    base, _ = mirror
    d = tmp_path / "d"
    with pytest.raises(MnistDownloadError, match="incomplete"):
        download_mnist(d, mirrors=[f"{base}/halfway/"], checksums=subset_sums, progress=False)
    _assert_clean(d)


def test_download_interrupted_leaves_nothing(
    mirror, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, subset_sums: dict[str, str]
) -> None:
    base, _ = mirror

    def interrupted(url: str, out, **kwargs: object) -> None:
        out.write(b"\x1f\x8b partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(mnist_files, "fetch_url", interrupted)
    d = tmp_path / "d"
    with pytest.raises(KeyboardInterrupt):
        download_mnist(d, mirrors=[f"{base}/good/"], checksums=subset_sums, progress=False)
    _assert_clean(d)


def test_download_replaces_a_damaged_file_keeps_good_ones(
    mirror, tmp_path: Path, subset_sums: dict[str, str]
) -> None:
    base, server = mirror
    d = subset_copy(tmp_path / "d")
    (d / FILES[3]).write_bytes(b"garbage")
    download_mnist(d, mirrors=[f"{base}/good/"], checksums=subset_sums, progress=False)
    assert server.hits == [f"/good/{FILES[3]}"]
    assert (d / FILES[3]).read_bytes() == (SUBSET_DIR / FILES[3]).read_bytes()


def test_download_default_table_rejects_subset_files(mirror, tmp_path: Path) -> None:
    base, _ = mirror
    with pytest.raises(MnistDownloadError, match="checksum mismatch"):
        download_mnist(tmp_path / "d", mirrors=[f"{base}/good/"], progress=False)
    _assert_clean(tmp_path / "d")


# ------------------------------------------------------------------------------------------------
# Damaged files
# ------------------------------------------------------------------------------------------------


def test_wrong_magic_number(tmp_path: Path, subset_sums: dict[str, str]) -> None:
    d = subset_copy(tmp_path / "d")
    raw = bytearray(gzip.decompress((d / FILES[1]).read_bytes()))
    raw[2] = 0x07  # not an IDX type code
    (d / FILES[1]).write_bytes(gz(bytes(raw)))
    with pytest.raises(MnistFormatError, match="bad magic number 00 00 07 01") as info:
        load_mnist(data_dir=d, checksums=subset_sums)
    assert FILES[1] in str(info.value) and FIX in str(info.value)
    p = tmp_path / "zip.gz"
    p.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(MnistFormatError, match="zip.gz: not an IDX file"):
        read_idx(p)


def test_truncated_payload(tmp_path: Path) -> None:
    raw = gzip.decompress((SUBSET_DIR / FILES[0]).read_bytes())
    p = tmp_path / FILES[0]
    p.write_bytes(gz(raw[: 16 + 1000]))
    with pytest.raises(MnistFormatError) as info:
        read_idx(p)
    msg = str(info.value)
    assert FILES[0] in msg and "truncated: header promises 4704000 bytes of pixels" in msg
    assert "found 1000" in msg and FIX in msg and "data_dir" in msg


def test_truncated_gzip_stream(tmp_path: Path, subset_sums: dict[str, str]) -> None:
    d = subset_copy(tmp_path / "d")
    data = (d / FILES[2]).read_bytes()
    (d / FILES[2]).write_bytes(data[: len(data) // 2])
    with pytest.raises(MnistFormatError, match="gzip stream ends early") as info:
        load_mnist(data_dir=d, checksums=subset_sums)
    assert FILES[2] in str(info.value) and FIX in str(info.value)


def test_trailing_bytes_and_empty_file(tmp_path: Path) -> None:
    raw = gzip.decompress((SUBSET_DIR / FILES[3]).read_bytes())
    p = tmp_path / "long"
    p.write_bytes(raw + b"\x00\x00")
    with pytest.raises(MnistFormatError, match="2 unexpected bytes"):
        read_idx(p)
    p.write_bytes(b"")
    with pytest.raises(MnistFormatError, match="empty file"):
        read_idx(p)


def test_checksum_mismatch_full_table(mnist_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    for f in FILES[:3]:
        (d / f).symlink_to(mnist_dir / f)
    raw = bytearray(gzip.decompress((mnist_dir / FILES[3]).read_bytes()))
    raw[-1] = (raw[-1] + 1) % 10  # still a valid digit, so only the checksum can tell
    (d / FILES[3]).write_bytes(gz(bytes(raw)))
    with pytest.raises(MnistChecksumError) as info:
        load_mnist(data_dir=d)
    msg = str(info.value)
    assert "checksum mismatch" in msg and FILES[3] in msg and FIX in msg
    assert SHA256[FILES[3]] in msg and hashlib.sha256(raw).hexdigest() in msg
    # a later call is not fooled by the cache
    with pytest.raises(MnistChecksumError):
        load_mnist(data_dir=d)


def test_checksum_checked_again_when_table_differs(
    tmp_path: Path, subset_sums: dict[str, str]
) -> None:
    d = subset_copy(tmp_path / "d")
    load_mnist(data_dir=d, checksums=subset_sums)
    with pytest.raises(MnistChecksumError, match="checksum mismatch"):
        load_mnist(data_dir=d)  # the full-set table: these are subset files


def test_count_mismatch(tmp_path: Path, subset_sums: dict[str, str]) -> None:
    d = subset_copy(tmp_path / "d")
    labels = read_idx(d / FILES[3])[:999]
    (d / FILES[3]).write_bytes(
        gz(bytes([0, 0, 8, 1]) + (999).to_bytes(4, "big") + labels.tobytes())
    )
    with pytest.raises(MnistFormatError, match="count mismatch") as info:
        load_mnist(data_dir=d, checksums=subset_sums)
    msg = str(info.value)
    assert FILES[2] in msg and FILES[3] in msg and "1000 images" in msg and "999 labels" in msg
    assert "data_dir" in msg


def test_label_out_of_range(tmp_path: Path, subset_sums: dict[str, str]) -> None:
    d = subset_copy(tmp_path / "d")
    raw = bytearray(gzip.decompress((d / FILES[1]).read_bytes()))
    raw[8 + 5] = 12
    (d / FILES[1]).write_bytes(gz(bytes(raw)))
    with pytest.raises(MnistFormatError, match="label 12 at index 5"):
        load_mnist(data_dir=d, checksums=subset_sums)


def test_data_dir_missing_files(tmp_path: Path) -> None:
    d = tmp_path / "nothing-here"
    d.mkdir()
    (d / FILES[0]).write_bytes(b"")
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(data_dir=d)
    msg = str(info.value)
    assert str(d) in msg and f"lacks {FILES[1]}, {FILES[2]}, {FILES[3]} (of" in msg
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_mnist(data_dir=tmp_path / "no-such-folder")


def test_env_dir_missing_files_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NNPARITY_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="NNPARITY_DATA_DIR"):
        locate_mnist()


def test_argument_types() -> None:
    with pytest.raises(TypeError, match="normalize: expected True or False, got int 1"):
        load_mnist(normalize=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="one_hot_label"):
        load_mnist(one_hot_label="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="data_dir"):
        load_mnist(data_dir=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="download"):
        locate_mnist(download=None)  # type: ignore[arg-type]


def test_cache_dir_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NNPARITY_CACHE_DIR", str(tmp_path / "c"))
    assert mnist.mnist_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("NNPARITY_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mnist.mnist_cache_dir() == tmp_path / "xdg" / "nnparity" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert mnist.mnist_cache_dir() == tmp_path / "home" / ".cache" / "nnparity" / "mnist"


def test_never_imports_torch() -> None:
    code = (
        "import reference_numpy.mnist, reference_numpy.mnist_files, reference_numpy.idx, "
        "reference_numpy.fetch, sys; assert 'torch' not in sys.modules"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT, env=env, timeout=60)


# The public names of reference_numpy.mnist before it was split into idx, mnist_files and mnist.
NAMES_BEFORE_THE_SPLIT = (
    "FILES", "SHA256", "MIRRORS", "SUBSET_DIR", "MnistFormatError", "MnistChecksumError",
    "MnistDownloadError", "MnistSubsetWarning", "MnistSource", "read_idx", "read_sha256sums",
    "mnist_cache_dir", "locate_mnist", "download_mnist", "load_mnist",
)  # fmt: skip


def test_every_old_name_is_still_importable() -> None:
    import reference_numpy
    from reference_numpy import idx

    for name in NAMES_BEFORE_THE_SPLIT:
        assert name in mnist.__all__, name
        here = getattr(mnist, name)
        home = getattr(mnist_files, name, None) if name != "load_mnist" else here
        assert here is home, name  # one object, wherever it is imported from
    assert mnist.read_idx is idx.read_idx and mnist.MnistFormatError is idx.MnistFormatError
    for name in ("MnistSource", "load_mnist", "locate_mnist", "read_idx"):
        assert getattr(reference_numpy, name) is getattr(mnist, name), name


@pytest.mark.parametrize("dtype", [">u1", ">i1", ">i2", "<i4", ">f4", "<f8"])
def test_encode_idx_round_trip(tmp_path: Path, dtype: str) -> None:
    from reference_numpy.idx import encode_idx

    arr = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
    p = tmp_path / "a.idx"
    p.write_bytes(encode_idx(arr))
    back = read_idx(p)
    assert back.dtype == arr.dtype.newbyteorder("=") and back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)
    with pytest.raises(TypeError, match="arr: expected one of the IDX dtypes"):
        encode_idx(arr.astype(np.int64))
    with pytest.raises(ValueError, match="arr: expected 1 to 255 dimensions"):
        encode_idx(np.array(3, dtype=np.uint8))
