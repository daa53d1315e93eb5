"""The data layer: torchvision's MNIST arrays must equal the NumPy IDX parser's, byte for byte,
and each engine's ``load_mnist`` options (normalised, unflattened, one-hot) must give exactly
what the chapter defines from those bytes: ``pixel / 255`` computed in float32, images
``(N, 1, 28, 28)``, labels as rows of the identity."""

from __future__ import annotations

import numpy as np

from ..observe import Observation
from .context import Context

GROUP = "data"
SHAPE = (1, 28, 28)


def _exact(name: str, candidate: str, label: str, ours: np.ndarray, theirs: np.ndarray
           ) -> Observation:
    """``theirs`` (the candidate) against ``ours`` (the definition), exactly; on a mismatch the
    first differing row in full, so the message shows where and how they differ."""
    ours = np.asarray(ours).reshape(len(ours), -1)
    theirs = np.asarray(theirs).reshape(len(theirs), -1)
    if ours.shape != theirs.shape:
        a, e = theirs[:1].astype(np.float64), ours[:1].astype(np.float64)
        label = f"{label} (shape {theirs.shape}, expected {ours.shape})"
    else:
        # Compare in the arrays' own type (47M pixels: no float64 copies of the whole set).
        rows = np.flatnonzero(np.any(ours != theirs, axis=1))
        r = int(rows[0]) if rows.size else 0
        a = theirs[r : r + 1].astype(np.float64)
        e = ours[r : r + 1].astype(np.float64)
        differ = f"; {rows.size} rows differ" if rows.size else ""
        label = f"{label} (row {r}{differ})"
    return Observation(name, GROUP, candidate, "exact", "data", label, a, e)


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
    raw = {"train": (xr, tr), "test": (xe, te)}
    obs += list(_loader_options(ctx, raw))
    return obs


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
                    yield Observation(name, GROUP, candidate, "exact", "data",
                                      f"{split} {what}: {got.dtype} {got.shape}, expected "
                                      f"{want.dtype} {want.shape}",
                                      np.array([np.nan]), np.array([0.0]))
                    continue
                yield _exact(name, candidate, f"{split} {what}", want, got)
