"""The MNIST data layer under faults: hostile mirrors, killed downloads, bad arguments, bad files.

Every network test runs against a loopback server on port 0 in a thread, with a short deadline;
every wait is bounded.  Upper bounds on elapsed time are set far (5x or more) above the
deadline under test and far below what the code without a total deadline takes against the
same server (the server's own time limit, :data:`SERVE_LIMIT`), so load cannot flip them.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from mnist_env import gz, isolate

from reference_numpy import mnist_files
from reference_numpy.fetch import DownloadTimeout, fetch_url
from reference_numpy.mnist import (
    FILES,
    SUBSET_DIR,
    MnistChecksumError,
    MnistDownloadError,
    MnistFormatError,
    MnistSubsetWarning,
    download_mnist,
    load_mnist,
    locate_mnist,
    read_idx,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DRIP_EVERY = 0.3  # seconds between two bytes of a dripping server
# A handler never serves longer than this: it bounds every test even when the code under test
# has no working deadline (it then sees an incomplete body after SERVE_LIMIT seconds).
SERVE_LIMIT = 20.0
# Bound on the wall time of one call under a deadline of T seconds: T plus this slack.  The
# measured overshoot is a few ms (one drip interval at most, 0.3 s); 5 s leaves room for a
# loaded machine and is still 3x below SERVE_LIMIT, so code without a total deadline fails it.
SLACK = 5.0
# The lower bound shows the deadline, not an early refusal, ended the call; a socket timeout
# may fire up to a millisecond early (poll's resolution), far inside this 10%.
EARLY = 0.9


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


# ------------------------------------------------------------------------------------------------
# A hostile loopback mirror, on raw sockets so each fault is exact
# ------------------------------------------------------------------------------------------------


@dataclass
class Mirror:
    """Serves ``/<mode>/<file name>``; ``hits`` lists the paths asked, ``sent`` body bytes."""

    port: int
    files: dict[str, bytes]
    stop: threading.Event = field(default_factory=threading.Event)
    hits: list[str] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)

    def url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.port}/{mode}/"


def _serve(conn: socket.socket, mirror: Mirror) -> None:
    """One connection: read the request, then misbehave as the path's mode says."""
    end = time.monotonic() + SERVE_LIMIT
    conn.settimeout(SERVE_LIMIT)
    try:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(4096)
            if not chunk:
                return
            request += chunk
        path = request.split(b" ", 2)[1].decode()
        mirror.hits.append(path)
        _, mode, name = path.split("/", 2)
        body = mirror.files.get(name)
        if body is None or mode == "missing":
            conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            return
        if mode == "wrong":  # a valid gzip of other bytes: only the checksum can tell
            body = gz(b"\x00\x00\x08\x01" + (3).to_bytes(4, "big") + b"\x01\x02\x03")
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()

        def wait(seconds: float) -> bool:
            """Sleep unless the server stops or the handler's time is up; False to give up."""
            return not mirror.stop.wait(seconds) and time.monotonic() < end

        if mode == "stall":  # accept, read the request, send nothing
            while wait(0.05):
                pass
            return
        if mode == "drip-headers":  # even the status line arrives a byte at a time
            for b in head + body:
                conn.sendall(bytes([b]))
                if not wait(DRIP_EVERY):
                    return
            return
        conn.sendall(head)
        if mode == "drip":
            for i, b in enumerate(body):
                conn.sendall(bytes([b]))
                mirror.sent[path] = i + 1
                if not wait(DRIP_EVERY):
                    return
            return
        if mode in ("truncate", "truncate-hold"):  # Content-Length larger than the body
            conn.sendall(body[: len(body) // 2])
            if mode == "truncate-hold":
                while wait(0.05):
                    pass
            return
        conn.sendall(body)  # "good", "wrong"
    except OSError:
        pass  # the client went away: that is what deadlines do
    finally:
        conn.close()


@pytest.fixture
def hostile() -> Iterator[Mirror]:
    """A mirror holding the subset's .gz files, every misbehaviour selectable by URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.05)
    mirror = Mirror(listener.getsockname()[1], {f: (SUBSET_DIR / f).read_bytes() for f in FILES})
    workers: list[threading.Thread] = []

    def accept_loop() -> None:
        while not mirror.stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            t = threading.Thread(target=_serve, args=(conn, mirror), daemon=True)
            t.start()
            workers.append(t)

    acceptor = threading.Thread(target=accept_loop, daemon=True)
    acceptor.start()
    try:
        yield mirror
    finally:
        mirror.stop.set()
        acceptor.join(timeout=5)
        for t in workers:
            t.join(timeout=5)
        listener.close()


def _timed(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.monotonic()
    try:
        out: object = fn()
    except BaseException as e:  # noqa: BLE001 - returned for the caller to inspect
        out = e
    return out, time.monotonic() - start


def _tree(directory: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under ``directory``: (size, mtime_ns, sha256) by relative path."""
    if not directory.exists():
        return {}
    out = {}
    for p in sorted(directory.rglob("*")):
        if p.is_file():
            st = p.stat()
            out[str(p.relative_to(directory))] = (
                st.st_size,
                st.st_mtime_ns,
                hashlib.sha256(p.read_bytes()).digest(),
            )
        else:
            out[str(p.relative_to(directory))] = (-1, 0, b"")
    return out


def _no_temp_left(directory: Path) -> None:
    assert [p.name for p in directory.iterdir() if p.name.startswith(".")] == []


# ------------------------------------------------------------------------------------------------
# Deadlines
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["stall", "drip", "drip-headers", "truncate-hold"])
def test_fetch_stops_at_the_total_deadline(hostile: Mirror, tmp_path: Path, mode: str) -> None:
    """A mirror that stalls, drips (body or headers) or holds a short body open costs exactly
    the deadline: urllib's per-read timeout alone would wait for SERVE_LIMIT."""
    timeout = 1.0
    with open(tmp_path / "out", "wb") as f:
        err, elapsed = _timed(lambda: fetch_url(hostile.url(mode) + FILES[3], f, timeout=timeout))
    assert isinstance(err, DownloadTimeout), err
    assert "1 s deadline" in str(err)
    assert EARLY * timeout <= elapsed < timeout + SLACK, elapsed
    if mode == "drip":  # it did get some bytes: the deadline, not a refusal, stopped it
        assert 0 < hostile.sent[f"/drip/{FILES[3]}"] < len(hostile.files[FILES[3]])


def test_https_stall_during_the_handshake_stops_at_the_deadline(
    hostile: Mirror, tmp_path: Path
) -> None:
    """An https URL to a server that never answers the TLS hello: the https path is bounded."""
    url = f"https://127.0.0.1:{hostile.port}/stall/{FILES[3]}"
    with open(tmp_path / "out", "wb") as f:
        err, elapsed = _timed(lambda: fetch_url(url, f, timeout=1))
    assert isinstance(err, DownloadTimeout), err
    assert EARLY * 1.0 <= elapsed < 1.0 + SLACK, elapsed


def test_download_dripping_mirror_stops_at_deadline_and_leaves_nothing(
    hostile: Mirror, tmp_path: Path, subset_sums: dict[str, str]
) -> None:
    d = tmp_path / "d"
    err, elapsed = _timed(
        lambda: download_mnist(
            d, mirrors=[hostile.url("drip")], timeout=1, checksums=subset_sums, progress=False
        )
    )
    assert isinstance(err, MnistDownloadError), err
    msg = str(err)
    assert f"{hostile.url('drip')}{FILES[0]}: no complete response within the 1 s deadline" in msg
    assert "timeout=" in msg  # the fix names the knob
    assert EARLY * 1.0 <= elapsed < 1.0 + SLACK, elapsed
    _no_temp_left(d)
    assert list(d.iterdir()) == []


def test_truncating_mirror_is_incomplete(hostile: Mirror, tmp_path: Path) -> None:
    """Content-Length larger than the body, then the connection closes: not a timeout."""
    with open(tmp_path / "out", "wb") as f:
        err, elapsed = _timed(lambda: fetch_url(hostile.url("truncate") + FILES[3], f, timeout=5))
    n = len(hostile.files[FILES[3]])
    assert isinstance(err, OSError) and not isinstance(err, DownloadTimeout), err
    assert f"incomplete download: got {n // 2} of {n} bytes" in str(err)
    assert elapsed < SLACK


def test_wrong_bytes_are_a_checksum_mismatch(
    hostile: Mirror, tmp_path: Path, subset_sums: dict[str, str]
) -> None:
    d = tmp_path / "d"
    with pytest.raises(MnistDownloadError) as info:
        download_mnist(
            d, mirrors=[hostile.url("wrong")], timeout=5, checksums=subset_sums, progress=False
        )
    msg = str(info.value)
    assert f"{hostile.url('wrong')}{FILES[0]}: checksum mismatch" in msg
    assert f"expected {subset_sums[FILES[0]]}" in msg
    assert list(d.iterdir()) == []


def test_next_mirror_after_a_deadline(
    hostile: Mirror, tmp_path: Path, subset_sums: dict[str, str]
) -> None:
    d = tmp_path / "d"
    timeout = 0.5
    out, elapsed = _timed(
        lambda: download_mnist(
            d,
            mirrors=[hostile.url("stall"), hostile.url("good")],
            timeout=timeout,
            checksums=subset_sums,
            progress=False,
        )
    )
    assert out == d, out
    assert sorted(p.name for p in d.iterdir()) == sorted(FILES)
    for f in FILES:
        assert (d / f).read_bytes() == (SUBSET_DIR / f).read_bytes()
    assert hostile.hits == [p for f in FILES for p in (f"/stall/{f}", f"/good/{f}")]
    assert EARLY * 4 * timeout <= elapsed < 4 * timeout + SLACK, elapsed


def test_load_mnist_timeout_falls_back_to_subset(
    hostile: Mirror, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """load_mnist(timeout=) reaches the download: a stalled mirror costs the deadline, once."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("NNPARITY_CACHE_DIR", str(cache))
    monkeypatch.setenv("NNPARITY_MNIST_MIRRORS", hostile.url("stall"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out, elapsed = _timed(lambda: load_mnist(timeout=0.5, return_source=True))
    assert not isinstance(out, BaseException), out
    _, source = out  # type: ignore[misc]
    assert source.kind == "subset"
    msgs = [str(w.message) for w in caught if issubclass(w.category, MnistSubsetWarning)]
    assert len(msgs) == 1 and "0.5 s deadline" in msgs[0], msgs
    assert EARLY * 0.5 <= elapsed < 0.5 + SLACK, elapsed
    assert hostile.hits == [f"/stall/{FILES[0]}"]
    _no_temp_left(cache)


# ------------------------------------------------------------------------------------------------
# Leftovers of killed downloads
# ------------------------------------------------------------------------------------------------

_CHILD = """
import sys
from reference_numpy.mnist import download_mnist, read_sha256sums, SUBSET_DIR
download_mnist(sys.argv[1], mirrors=[sys.argv[2]], timeout=float(sys.argv[3]),
               checksums=read_sha256sums(SUBSET_DIR / "SHA256SUMS.txt"), progress=False)
print("done")
"""


def _child(cache: Path, mirror: str, timeout: float) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(cache), mirror, str(timeout)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_kill_9_during_download_then_next_run_cleans_up(hostile: Mirror, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    # Look-alikes that are not ours: never removed.
    keep = [cache / "notes.part", cache / ".other.gz.x.part", cache / f"{FILES[0]}.x.part"]
    for p in keep:
        p.write_bytes(b"not ours")
        os.utime(p, (1, 1))
    child = _child(cache, hostile.url("drip"), timeout=60)
    try:
        give_up = time.monotonic() + 60
        while not hostile.sent.get(f"/drip/{FILES[0]}") and time.monotonic() < give_up:
            time.sleep(0.05)
        assert hostile.sent.get(f"/drip/{FILES[0]}"), child.communicate(timeout=10)
        child.kill()  # SIGKILL: no finally, no cleanup
        child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
    assert child.returncode == -9
    left = [p.name for p in cache.glob(f".{FILES[0]}.*.part")]
    assert len(left) == 1, sorted(p.name for p in cache.iterdir())

    # The next run, a new process, removes the leftover and succeeds against a good mirror.
    child = _child(cache, hostile.url("good"), timeout=30)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0 and out.strip() == "done", err
    assert sorted(p.name for p in cache.iterdir()) == sorted([*FILES, *(p.name for p in keep)])
    for p in keep:
        assert p.read_bytes() == b"not ours"


def test_only_stale_temp_files_are_removed(
    hostile: Mirror, tmp_path: Path, subset_sums: dict[str, str]
) -> None:
    """A temp file written after this process started may be a live download: it stays."""
    d = tmp_path / "d"
    d.mkdir()
    old, fresh = d / f".{FILES[1]}.old.part", d / f".{FILES[2]}.fresh.part"
    old.write_bytes(b"left by a killed run")
    fresh.write_bytes(b"being written")
    os.utime(old, (mnist_files.PROCESS_START - 10,) * 2)
    download_mnist(d, mirrors=[hostile.url("good")], timeout=5, checksums=subset_sums,
                   progress=False)  # fmt: skip
    assert not old.exists() and fresh.read_bytes() == b"being written"


def test_locate_cleans_the_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    stale = cache / f".{FILES[3]}.abc.part"
    stale.write_bytes(b"x")
    os.utime(stale, (mnist_files.PROCESS_START - 10,) * 2)
    monkeypatch.setenv("NNPARITY_CACHE_DIR", str(cache))
    with pytest.warns(MnistSubsetWarning):
        locate_mnist(download=False)
    assert not stale.exists()


# ------------------------------------------------------------------------------------------------
# Bad arguments: refused before anything changes
# ------------------------------------------------------------------------------------------------

NOT_HEX = "g" * 64


def _bad_call_rows() -> list[tuple[str, Callable[[Path], object], type[BaseException], str]]:
    """(id, call on the cache folder, exception type, message fragment)."""
    lm, dm = load_mnist, download_mnist
    new = "new-folder"
    return [
        ("lm-normalize", lambda c: lm(normalize=1), TypeError,
         "normalize: expected True or False, got int 1"),
        ("lm-flatten", lambda c: lm(flatten="no"), TypeError, "flatten: expected True or False"),
        ("lm-one-hot", lambda c: lm(one_hot_label=None), TypeError, "one_hot_label"),
        ("lm-return-source", lambda c: lm(return_source=0), TypeError, "return_source"),
        ("lm-download", lambda c: lm(download="yes"), TypeError, "download: expected True"),
        ("lm-data-dir-type", lambda c: lm(data_dir=3), TypeError,
         "data_dir: expected a str or os.PathLike path, got int"),
        ("lm-timeout-zero", lambda c: lm(timeout=0), ValueError,
         "timeout: expected a finite number of seconds > 0, got 0"),
        ("lm-timeout-negative", lambda c: lm(timeout=-1.5), ValueError, "got -1.5"),
        ("lm-timeout-nan", lambda c: lm(timeout=float("nan")), ValueError, "got nan"),
        ("lm-timeout-inf", lambda c: lm(timeout=float("inf")), ValueError, "got inf"),
        ("lm-timeout-str", lambda c: lm(timeout="5"), TypeError,
         "timeout: expected a number of seconds (int or float), got str '5'"),
        ("lm-timeout-bool", lambda c: lm(timeout=True), TypeError, "got bool True"),
        ("lm-timeout-none", lambda c: lm(timeout=None), TypeError, "got NoneType None"),
        ("lm-checksums-type", lambda c: lm(checksums=[1]), TypeError,
         "checksums: expected a mapping of file name to sha256 hex, got list"),
        ("lm-checksums-digest", lambda c: lm(checksums={FILES[0]: "abc"}), ValueError,
         f"checksums['{FILES[0]}']: expected a sha256 digest (64 hex digits), got 'abc'"),
        ("lm-checksums-not-hex", lambda c: lm(checksums={FILES[0]: NOT_HEX}), ValueError,
         "expected a sha256 digest"),
        ("lm-checksums-key", lambda c: lm(checksums={1: "a" * 64}), TypeError,
         "checksums: expected str file names as keys, got 1"),
        ("lm-data-dir-missing", lambda c: lm(data_dir=c / "nowhere"), FileNotFoundError,
         "is not a folder"),
        ("lm-data-dir-file", lambda c: lm(data_dir=c / FILES[0]), FileNotFoundError,
         "is not a folder"),
        ("locate-stacklevel", lambda c: locate_mnist(stacklevel=0), ValueError,
         "stacklevel: expected an int >= 1, got 0"),
        ("locate-progress", lambda c: locate_mnist(progress="y"), TypeError, "progress"),
        ("dm-directory-type", lambda c: dm(3), TypeError, "directory: expected a str"),
        ("dm-directory-file", lambda c: dm(c / FILES[0]), NotADirectoryError,
         "directory: expected a folder (or a new path), got the file"),
        ("dm-mirrors-empty", lambda c: dm(c / new, mirrors=[]), ValueError,
         "mirrors: expected at least one base URL, got none"),
        ("dm-mirrors-blank", lambda c: dm(c / new, mirrors=" , "), ValueError,
         "mirrors: expected at least one base URL"),
        ("dm-mirrors-item", lambda c: dm(c / new, mirrors=[3]), TypeError,
         "mirrors: expected base URLs as str, got int 3"),
        ("dm-mirrors-type", lambda c: dm(c / new, mirrors=5), TypeError,
         "mirrors: expected base URLs (a list of str), got int"),
        ("dm-mirrors-scheme", lambda c: dm(c / new, mirrors=["ftp://example.org/"]), ValueError,
         "mirrors: expected base URLs starting with http://, https://, file://, got"),
        ("dm-timeout", lambda c: dm(c / new, timeout=0), ValueError, "timeout: expected"),
        ("dm-timeout-type", lambda c: dm(c / new, timeout="1"), TypeError, "timeout: expected"),
        ("dm-progress", lambda c: dm(c / new, progress="yes"), TypeError,
         "progress: expected True or False"),
        ("dm-checksums-incomplete", lambda c: dm(c / new, checksums={}), MnistFormatError,
         f"no checksum for {FILES[0]} in the checksum table"),
        ("dm-checksums-digest", lambda c: dm(c / new, checksums={FILES[0]: 5}), ValueError,
         "expected a sha256 digest (64 hex digits), got 5"),
    ]  # fmt: skip


@pytest.fixture
def planted_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A cache folder holding a file and a stale temp file that a bad call must not touch."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / FILES[0]).write_bytes((SUBSET_DIR / FILES[0]).read_bytes())
    stale = cache / f".{FILES[1]}.killed.part"
    stale.write_bytes(b"partial")
    os.utime(stale, (mnist_files.PROCESS_START - 10,) * 2)
    monkeypatch.setenv("NNPARITY_CACHE_DIR", str(cache))
    return cache


@pytest.mark.parametrize(
    ("call", "exc", "fragment"),
    [pytest.param(*row[1:], id=row[0]) for row in _bad_call_rows()],
)
def test_bad_arguments_change_nothing(
    planted_cache: Path,
    call: Callable[[Path], object],
    exc: type[BaseException],
    fragment: str,
) -> None:
    before = _tree(planted_cache.parent)
    with pytest.raises(exc) as info:
        call(planted_cache)
    assert fragment in str(info.value)
    assert _tree(planted_cache.parent) == before


# ------------------------------------------------------------------------------------------------
# Bad files: the IDX parser and a corrupt data_dir
# ------------------------------------------------------------------------------------------------

_LABELS = gzip.decompress((SUBSET_DIR / FILES[3]).read_bytes())  # 8-byte header + 1000 labels
_OBJECTS = np.array([{"x": 1}, None], dtype=object)
NOT_IDX = "not an IDX file: expected an IDX file (optionally gzip-compressed), got "


def _npy(arr: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def _npz(arr: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, a=arr)
    return buf.getvalue()


def _corrupt_gzip() -> bytes:
    data = bytearray(gz(_LABELS))
    data[20:40] = bytes(20)  # the deflate stream: zlib or the CRC check catches it
    return bytes(data)


#: (id, file contents, expected exception, message fragment after "<path>: ")
IDX_ROWS: list[tuple[str, bytes, type[BaseException], str]] = [
    ("empty", b"", MnistFormatError, "empty file"),
    ("pickle", pickle.dumps(_OBJECTS, protocol=4), MnistFormatError,
     NOT_IDX + "a Python pickle"),
    ("pickle-gz", gz(pickle.dumps(_OBJECTS, protocol=2)), MnistFormatError,
     NOT_IDX + "a Python pickle (e.g. the book's mnist.pkl); it is not read"),
    ("npy-object", _npy(_OBJECTS), MnistFormatError, NOT_IDX + "a NumPy .npy file"),
    ("npz", _npz(np.arange(3)), MnistFormatError, NOT_IDX + "a zip archive (e.g. a NumPy .npz)"),
    ("bad-magic", b"\x00\x00\x07\x01" + _LABELS[4:], MnistFormatError,
     "not an IDX file: bad magic number 00 00 07 01"),
    ("zero-dims", b"\x00\x00\x08\x00" + _LABELS[4:], MnistFormatError,
     "not an IDX file: bad magic number 00 00 08 00"),
    ("short-header", b"\x00\x00\x08", MnistFormatError,
     "truncated: 3 bytes, too short for an IDX header"),
    ("short-dims", b"\x00\x00\x08\x03\x00\x00", MnistFormatError,
     "truncated: the header declares 3 dimensions (16 header bytes) but the file has 6 bytes"),
    ("short-payload", _LABELS[:-10], MnistFormatError,
     "truncated: header promises 1000 bytes of labels (dimensions 1000), found 990"),
    ("trailing", _LABELS + b"\x00", MnistFormatError, "1 unexpected bytes after the 1000 bytes"),
    ("gz-truncated", gz(_LABELS)[:-30], MnistFormatError,
     "truncated: the gzip stream ends early"),
    ("gz-corrupt", _corrupt_gzip(), MnistFormatError, "corrupt gzip data"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "exc", "fragment"), [pytest.param(*r[1:], id=r[0]) for r in IDX_ROWS]
)
def test_read_idx_bad_files(
    tmp_path: Path, content: bytes, exc: type[BaseException], fragment: str
) -> None:
    p = tmp_path / "some-file"
    p.write_bytes(content)
    before = _tree(tmp_path)
    with pytest.raises(exc) as info:
        read_idx(p)
    assert str(info.value).startswith(f"{p}: {fragment}"), str(info.value)
    assert "delete it and load again" in str(info.value)
    assert _tree(tmp_path) == before


def test_read_idx_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="path: expected a str or os.PathLike path, got int"):
        read_idx(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="fix: expected a str or None, got int"):
        read_idx(SUBSET_DIR / FILES[3], fix=1)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_idx(tmp_path / "nowhere")


def _damage(d: Path, name: str, raw: bytes) -> None:
    (d / name).write_bytes(raw)


_IMAGES_RAW = gzip.decompress((SUBSET_DIR / FILES[2]).read_bytes())  # 1000 test images

#: (id, file to replace, its new contents, exception, fragment after "<path>: ")
DATA_DIR_ROWS: list[tuple[str, str, bytes, type[BaseException], str]] = [
    ("truncated-gz", FILES[2], (SUBSET_DIR / FILES[2]).read_bytes()[:5000], MnistFormatError,
     "truncated: the gzip stream ends early; the file is incomplete"),
    ("wrong-magic-images", FILES[0], gz(b"\x00\x00\x07\x03" + bytes(12)), MnistFormatError,
     "not an IDX file: bad magic number 00 00 07 03"),
    ("wrong-magic-labels", FILES[3], gz(b"\x01\x00\x08\x01" + _LABELS[4:]), MnistFormatError,
     "not an IDX file: bad magic number 01 00 08 01"),
    ("short-payload", FILES[2], gz(_IMAGES_RAW[:-784]), MnistFormatError,
     "truncated: header promises 784000 bytes of pixels (dimensions 1000 x 28 x 28), "
     "found 783216"),
    ("image-shape", FILES[2],
     gz(b"\x00\x00\x08\x03" + b"".join(n.to_bytes(4, "big") for n in (1000, 28, 27))
         + bytes(1000 * 28 * 27)),
     MnistFormatError, "expected 28 x 28 unsigned-byte images, got an IDX array of shape "
     "(1000, 28, 27)"),
    ("labels-2d", FILES[3],
     gz(b"\x00\x00\x08\x02" + (1000).to_bytes(4, "big") + (1).to_bytes(4, "big") + _LABELS[8:]),
     MnistFormatError, "expected a 1-D unsigned-byte label file, got an IDX array of shape "
     "(1000, 1)"),
    ("checksum", FILES[3], gz(_LABELS[:-1] + bytes([(_LABELS[-1] + 1) % 10])),
     MnistChecksumError, "checksum mismatch: the decompressed contents should have sha256"),
    ("pickle", FILES[1], pickle.dumps(_OBJECTS), MnistFormatError, NOT_IDX + "a Python pickle"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content", "exc", "fragment"),
    [pytest.param(*r[1:], id=r[0]) for r in DATA_DIR_ROWS],
)
def test_corrupt_data_dir(
    tmp_path: Path,
    subset_sums: dict[str, str],
    name: str,
    content: bytes,
    exc: type[BaseException],
    fragment: str,
) -> None:
    d = tmp_path / "d"
    d.mkdir()
    for f in FILES:
        (d / f).write_bytes((SUBSET_DIR / f).read_bytes())
    _damage(d, name, content)
    before = _tree(tmp_path)
    with pytest.raises(exc) as info:
        load_mnist(data_dir=d, checksums=subset_sums)
    msg = str(info.value)
    assert msg.startswith(f"{d / name}: {fragment}"), msg
    assert "delete it and load again" in msg
    assert _tree(tmp_path) == before


def test_data_dir_with_only_a_pickle(tmp_path: Path) -> None:
    """The book's own loader caches mnist.pkl: say that it is there and why it is not read."""
    (tmp_path / "mnist.pkl").write_bytes(pickle.dumps({"train_img": _OBJECTS}))
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(data_dir=tmp_path)
    msg = str(info.value)
    assert "mnist.pkl is there but pickles are never read" in msg and FILES[0] in msg
