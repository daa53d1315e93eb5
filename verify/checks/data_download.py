"""A download as a first run without MNIST does one: ``download_mnist`` from mirrors, here two
HTTP servers on loopback (one port, two base URLs) serving the bundled subset's files.

The "bad" mirror serves each file with one payload byte changed (still a valid gzip and a valid
IDX file: only the checksum tells), the "good" one the files themselves.  With mirrors
``[bad, good]`` every file must be fetched from both in order, the bad copy refused and the
good one kept; with ``[bad]`` alone the download must fail with the checksum error, leaving
nothing in the folder.  And a first run's loaders, both engines', called with their defaults
(no data folder, an empty cache, the mirror named in ``$NNPARITY_MNIST_MIRRORS``): each must
download into its cache rather than fall back to the bundled subset.  Everything is written
in a temporary folder, removed afterwards (not the user's cache); no network beyond 127.0.0.1
is used."""

from __future__ import annotations

import contextlib
import gzip
import http.server
import io
import os
import tempfile
import threading
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..observe import Observation
from .context import Context
from .data_exact import bits, facts, failed

CHECK = "download_mnist from a mirror (a loopback server)"
CANDIDATE = "reference_numpy.mnist_files"
#: Seconds per file and mirror (the loader's deadline) and per server socket operation: the
#: transfers are at most 1 MB over loopback (milliseconds); this only bounds a hang.
TIMEOUT = 5.0


@contextmanager
def environ(**values: str) -> Iterator[None]:
    """``os.environ`` with ``values`` set, as it was again afterwards (also after an error)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _Mirror(http.server.BaseHTTPRequestHandler):
    """``GET /<mirror>/<file name>``: the server's ``files[(mirror, name)]``, else 404."""

    timeout = TIMEOUT  # each connection's socket: a stuck client cannot hold a server thread

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base signature
        pass  # verify's output is its report, not a request log

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        server = self.server
        server.hits.append(self.path)  # type: ignore[attr-defined]
        mirror, _, name = self.path.lstrip("/").partition("/")
        body = server.files.get((mirror, name))  # type: ignore[attr-defined]
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serving(files: Mapping[tuple[str, str], bytes]) -> Iterator[tuple[str, list[str]]]:
    """A server on 127.0.0.1 (a free port) in a daemon thread; yields (base URL, request log).

    Always shut down and closed on the way out."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Mirror)
    server.daemon_threads = True
    server.files = files  # type: ignore[attr-defined]
    server.hits = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="verify loopback mirror", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", server.hits  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=TIMEOUT)


def _damaged(gz: bytes) -> bytes:
    """The same file with its last payload byte changed (a pixel or a label), recompressed."""
    raw = bytearray(gzip.decompress(gz))
    raw[-1] ^= 0x01
    return gzip.compress(bytes(raw), compresslevel=1, mtime=0)


def _short(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text[:400]}{'...' if len(text) > 400 else ''}"


def observe(ctx: Context) -> list[Observation]:
    from reference_numpy.mnist_files import FILES, SUBSET_DIR, read_idx, subset_checksums

    served = {f: (SUBSET_DIR / f).read_bytes() for f in FILES}
    want = {f: read_idx(SUBSET_DIR / f) for f in FILES}
    files = {**{("good", f): b for f, b in served.items()},
             **{("bad", f): _damaged(b) for f, b in served.items()}}
    # A proxy in the environment must not be asked for 127.0.0.1 (urllib reads no_proxy at
    # each request; lower case wins over NO_PROXY).
    bypass = ",".join(filter(None, [os.environ.get("no_proxy") or os.environ.get("NO_PROXY"),
                                    "127.0.0.1"]))
    try:
        with (tempfile.TemporaryDirectory(prefix="nnparity-verify-download-") as tmp,
              environ(no_proxy=bypass), serving(files) as (base, hits)):
            obs = _bad_then_good(Path(tmp) / "new" / "mnist", base, hits, subset_checksums(),
                                 want)
            obs.append(_bad_only(Path(tmp) / "bad-only", base, subset_checksums()))
            obs += _first_run(Path(tmp) / "first-run", base, subset_checksums(), want)
    except OSError as e:  # no loopback server here (the two cases catch their own errors)
        return [failed(CHECK, CANDIDATE,
                       f"the loopback mirror (127.0.0.1, a temp folder): {_short(e)}")]
    return obs


def _bad_then_good(d: Path, base: str, hits: list[str], table: Mapping[str, str],
                   want: dict[str, np.ndarray]) -> list[Observation]:
    from reference_numpy.mnist_files import FILES, download_mnist, read_idx

    case = "mirrors [bad, good] into a new folder"
    try:
        download_mnist(d, mirrors=[base + "bad/", base + "good/"], timeout=TIMEOUT,
                       progress=False, checksums=table)
    except Exception as e:  # a crash is this check failing, with the reason shown
        return [failed(CHECK, CANDIDATE, f"{case}: raised {_short(e)}")]
    obs = []
    for f in FILES:
        label = f"{case}: {f} parses to the served arrays"
        try:
            got = read_idx(d / f)
        except Exception as e:
            obs.append(failed(CHECK, CANDIDATE, f"{label}: {_short(e)}"))
            continue
        obs.append(bits(CHECK, CANDIDATE, label, want[f], got))
    left = sorted(p.name for p in d.iterdir())
    got_facts = {"requests to bad": sum(h.startswith("/bad/") for h in hits),
                 "requests to good": sum(h.startswith("/good/") for h in hits),
                 "entries in the folder": len(left),
                 "MNIST files among them": sum(n in FILES for n in left)}
    want_facts = {"requests to bad": 4, "requests to good": 4, "entries in the folder": 4,
                  "MNIST files among them": 4}
    label = f"{case}: each file tried on both, in order; only the four files left"
    if got_facts != want_facts:
        label += f" (folder: {', '.join(left) or 'empty'})"
    obs.append(facts(CHECK, CANDIDATE, label, got_facts, want_facts))
    return obs


def _bad_only(d: Path, base: str, table: Mapping[str, str]) -> Observation:
    from reference_numpy.mnist_files import FILES, MnistDownloadError, download_mnist

    try:
        download_mnist(d, mirrors=[base + "bad/"], timeout=TIMEOUT, progress=False,
                       checksums=table)
    except Exception as e:
        raised, message = e, str(e)
    else:
        raised, message = None, ""
    left = sorted(p.name for p in d.iterdir()) if d.is_dir() else []
    got = {"MnistDownloadError": float(isinstance(raised, MnistDownloadError)),
           "says checksum mismatch": float("checksum mismatch" in message),
           "names the URL": float(f"{base}bad/{FILES[0]}" in message),
           "entries left in the folder": float(len(left))}
    want = {"MnistDownloadError": 1, "says checksum mismatch": 1, "names the URL": 1,
            "entries left in the folder": 0}
    label = "mirrors [bad]: refused with the checksum error, nothing left"
    if got != want:
        label += (f" (raised {_short(raised) if raised else 'nothing'}; folder: "
                  f"{', '.join(left) or 'empty'})")
    return facts(CHECK, CANDIDATE, label, got, want)


def _loaders(table: Mapping[str, str]) -> dict[str, object]:
    """A first run's loaders, each with its defaults but for the subset's checksum table and
    the deadline: label -> call, of both engines' ``load_mnist`` and torchvision's arrays."""
    from reference_numpy.mnist import load_mnist as np_load
    from reference_torch.mnist import load_mnist as torch_load
    from reference_torch.mnist import torchvision_arrays

    def pairs(loaded):
        (x, t), (xt, tt) = loaded
        return {"x_train": x, "t_train": t, "x_test": xt, "t_test": tt}

    return {
        "reference_numpy load_mnist": lambda: pairs(np_load(
            normalize=False, checksums=table, timeout=TIMEOUT)),
        "reference_torch load_mnist": lambda: pairs(torch_load(
            normalize=False, as_tensor=False, checksums=table, timeout=TIMEOUT)),
        "reference_torch torchvision_arrays": lambda: torchvision_arrays(
            checksums=table, timeout=TIMEOUT),
    }


def _first_run(d: Path, base: str, table: Mapping[str, str],
               want: dict[str, np.ndarray]) -> list[Observation]:
    from reference_numpy.mnist_files import FILES, MnistSubsetWarning

    names = dict(zip(("x_train", "t_train", "x_test", "t_test"), FILES, strict=True))
    obs = []
    for label, load in _loaders(table).items():
        cache = d / label.replace(" ", "-")
        case = f"a first run's {label} (defaults, an empty cache)"
        try:
            # The downloads' tqdm bars would land in verify's own output.
            with (environ(NNPARITY_DATA_DIR="", NNPARITY_CACHE_DIR=str(cache),
                          NNPARITY_MNIST_MIRRORS=base + "good/"),
                  warnings.catch_warnings(record=True) as caught,
                  contextlib.redirect_stderr(io.StringIO())):
                warnings.simplefilter("always")
                arrays = load()
        except Exception as e:
            obs.append(failed(CHECK, label, f"{case}: raised {_short(e)}"))
            continue
        for key, f in names.items():
            # The loaders' labels are int64 where the file holds uint8: values are compared.
            got_arr = np.asarray(arrays[key]).reshape(want[f].shape).astype(want[f].dtype)
            obs.append(bits(CHECK, label, f"{case}: {key} is the served {f}", want[f],
                            got_arr))
        left = sorted(p.name for p in cache.iterdir()) if cache.is_dir() else []
        got = {"MNIST files in the cache": float(sum(n in FILES for n in left)),
               "subset warnings": float(sum(issubclass(w.category, MnistSubsetWarning)
                                            for w in caught))}
        want_facts = {"MNIST files in the cache": 4, "subset warnings": 0}
        obs.append(facts(CHECK, label, f"{case}: downloaded into the cache, no subset",
                         got, want_facts))
    return obs
