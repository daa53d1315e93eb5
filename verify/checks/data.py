"""The data layer: torchvision's MNIST arrays must equal the NumPy IDX parser's, byte for byte,
and each engine's ``load_mnist`` options (normalised, unflattened, one-hot) must give exactly
what the chapter defines from those bytes: ``pixel / 255`` computed in float32, images
``(N, 1, 28, 28)``, labels as rows of the identity.  Also the paths a first run takes: the
IDX format itself (:mod:`.data_idx`), a download from a mirror (:mod:`.data_download`) and
torchvision's layout built in a cache folder that does not exist yet."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..observe import Observation
from . import data_download, data_idx
from .context import Context
from .data_download import environ
from .data_exact import exact as _exact
from .data_exact import facts, failed

SHAPE = (1, 28, 28)


def observe(ctx: Context) -> list[Observation]:
    from reference_numpy.mnist import load_mnist
    from reference_torch.mnist import torchvision_arrays

    ((xr, tr), (xe, te)), source = load_mnist(normalize=False, data_dir=ctx.data_dir,
                                              return_source=True, **ctx.download_options())
    ctx.data_description = source.describe()
    tv = torchvision_arrays(data_dir=ctx.data_dir, **ctx.download_options())
    obs = [_exact("torchvision MNIST equals the IDX parser", "torchvision", label, ours, theirs)
           for label, ours, theirs in (("train images", xr, tv["x_train"]),
                                       ("train labels", tr, tv["t_train"]),
                                       ("test images", xe, tv["x_test"]),
                                       ("test labels", te, tv["t_test"]))]
    obs += _fresh_cache()
    raw = {"train": (xr, tr), "test": (xe, te)}
    obs += list(_loader_options(ctx, raw))
    obs += data_idx.observe(ctx)
    obs += data_download.observe(ctx)
    return obs


def _fresh_cache() -> list[Observation]:
    """A first run with ``$NNPARITY_CACHE_DIR`` naming a folder whose parents do not exist yet:
    torchvision's layout must be built there (the folders created), not elsewhere, and parse
    to the IDX parser's arrays.  Then a second load with two leftovers planted in the layout's
    raw folder, as a killed run leaves them: one older than this process must be removed, one
    newer (another process's write in progress) kept.  The bundled subset is the source
    (small, always there); the cache is a temporary folder, removed afterwards."""
    from reference_numpy.mnist_files import FILES, SUBSET_DIR, read_idx
    from reference_torch.mnist import torchvision_arrays

    name = "torchvision layout in a new nested cache folder"
    with tempfile.TemporaryDirectory(prefix="nnparity-verify-cache-") as tmp:
        cache = Path(tmp) / "not" / "yet" / "there" / "mnist"
        try:
            with environ(NNPARITY_CACHE_DIR=str(cache)):
                tv = torchvision_arrays(data_dir=SUBSET_DIR)
        except Exception as e:  # a crash is this check failing, with the reason shown
            return [failed(name, "torchvision", f"NNPARITY_CACHE_DIR={cache}: raised "
                                                f"{type(e).__name__}: {e}")]
        raws = [f[: -len(".gz")] for f in FILES]
        built = sorted(p.relative_to(cache).as_posix()
                       for p in cache.glob("torchvision/*/MNIST/raw/*"))
        got = {"layout folders": len({b.split("/")[1] for b in built}),
               "MNIST files in the layout": sum(b.rsplit("/", 1)[1] in raws for b in built)}
        want = {"layout folders": 1, "MNIST files in the layout": 4}
        got.update(_leftovers(cache, raws[0]))
        want.update({"a leftover older than this process, removed": 1,
                     "a leftover newer than this process, kept": 1})
        label = "the layout is in $NNPARITY_CACHE_DIR/torchvision"
        if got != want:
            label += f" (found: {', '.join(built) or 'nothing'})"
        obs = [facts(name, "torchvision", label, got, want)]
    for f, key in zip(FILES, ("x_train", "t_train", "x_test", "t_test"), strict=True):
        obs.append(_exact(name, "torchvision", f"subset {key}: equals the IDX parser's",
                          read_idx(SUBSET_DIR / f), tv[key]))
    return obs


def _leftovers(cache: Path, raw_name: str) -> dict[str, float]:
    """Plant an old and a new leftover of a decompression in the layout's raw folder, load
    again, and say which of them the load removed."""
    import os
    import time

    from reference_numpy.mnist_files import PROCESS_START, SUBSET_DIR
    from reference_torch.mnist import torchvision_arrays

    folders = list(cache.glob("torchvision/*/MNIST/raw"))
    if len(folders) != 1:
        return {}
    old = folders[0] / f".{raw_name}.999999.tmp"
    new = folders[0] / f".{raw_name}.999998.tmp"
    for leftover in (old, new):
        leftover.write_bytes(b"partial")
    os.utime(old, (PROCESS_START - 3600, PROCESS_START - 3600))
    os.utime(new, (time.time() + 60, time.time() + 60))  # after this process began
    try:
        with environ(NNPARITY_CACHE_DIR=str(cache)):
            torchvision_arrays(data_dir=SUBSET_DIR)
    except Exception:  # the facts stay unknown (NaN): this check fails
        return {}
    return {"a leftover older than this process, removed": float(not old.exists()),
            "a leftover newer than this process, kept": float(new.exists())}


def _loader_options(ctx: Context, raw: dict[str, tuple[np.ndarray, np.ndarray]]):
    """Each engine's normalised, unflattened, one-hot output against its definition."""
    from reference_numpy.mnist import load_mnist as numpy_load
    from reference_torch.mnist import load_mnist as torch_load

    kw = dict(normalize=True, flatten=False, one_hot_label=True, data_dir=ctx.data_dir,
              **ctx.download_options())
    loaded = {"numpy": numpy_load(**kw)}
    for dtype in ("float32", "float64"):
        (x, t), (xt, tt) = torch_load(**kw, dtype=dtype, device="cpu")
        loaded[f"torch/{dtype}"] = ((x.numpy(), t.numpy()), (xt.numpy(), tt.numpy()))
    name = "load_mnist(normalize, flatten=False, one_hot_label) as defined"
    for candidate, splits in loaded.items():
        dtype = np.float64 if candidate.endswith("float64") else np.float32
        for split, (x, t) in zip(("train", "test"), splits, strict=True):
            images, labels = raw[split]
            # pixel / 255 in float32 (the book's normalisation), then the engine's dtype
            want_x = (images.astype(np.float32) / np.float32(255)).astype(dtype)
            want_x = want_x.reshape(len(images), *SHAPE)
            want_t = np.eye(10, dtype=dtype)[labels]
            for what, got, want in (("images", x, want_x), ("one-hot labels", t, want_t)):
                if got.shape != want.shape or got.dtype != want.dtype:
                    # Equal values in the wrong shape or dtype are still wrong: a NaN against a
                    # number fails the exact rule, and the case says what differs.
                    yield failed(name, candidate, f"{split} {what}: {got.dtype} {got.shape}, "
                                                  f"expected {want.dtype} {want.shape}")
                    continue
                yield _exact(name, candidate, f"{split} {what}", want, got)
