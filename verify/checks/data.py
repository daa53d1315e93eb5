"""torchvision's MNIST arrays must equal the NumPy IDX parser's, byte for byte."""

from __future__ import annotations

import numpy as np

from ..observe import Observation
from .context import Context

GROUP = "data"


def observe(ctx: Context) -> list[Observation]:
    from reference_numpy.mnist import load_mnist
    from reference_torch.mnist import torchvision_arrays

    ((xr, tr), (xe, te)), source = load_mnist(normalize=False, data_dir=ctx.data_dir,
                                              return_source=True, **ctx.download_options())
    ctx.data_description = source.describe()
    tv = torchvision_arrays(data_dir=ctx.data_dir, **ctx.download_options())
    obs = []
    for label, ours, theirs in (("train images", xr, tv["x_train"]),
                                ("train labels", tr, tv["t_train"]),
                                ("test images", xe, tv["x_test"]),
                                ("test labels", te, tv["t_test"])):
        ours = np.asarray(ours).reshape(len(ours), -1)
        theirs = np.asarray(theirs).reshape(len(theirs), -1)
        if ours.shape != theirs.shape:
            a, e = theirs[:1].astype(np.float64), ours[:1].astype(np.float64)
        else:
            # Compare in the arrays' own integer type (47M pixels: no float copies); report the
            # first differing row in full so the message shows where and how they differ.
            rows = np.flatnonzero(np.any(ours != theirs, axis=1))
            r = int(rows[0]) if rows.size else 0
            a = theirs[r : r + 1].astype(np.float64)
            e = ours[r : r + 1].astype(np.float64)
            differ = f"; {rows.size} rows differ" if rows.size else ""
            label = f"{label} (row {r}{differ})"
        obs.append(Observation("torchvision MNIST equals the IDX parser", GROUP,
                               "torchvision", "exact", "data", label, a, e))
    return obs
