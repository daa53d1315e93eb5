"""torchvision's MNIST arrays must equal the NumPy IDX parser's, byte for byte."""

from __future__ import annotations

import numpy as np

from ..observe import Observation
from .context import Context

GROUP = "data"


def observe(ctx: Context) -> list[Observation]:
    from reference_numpy.mnist import load_mnist
    from reference_torch.mnist import torchvision_arrays

    (xr, tr), (xe, te) = load_mnist(normalize=False, data_dir=ctx.data_dir)
    tv = torchvision_arrays(data_dir=ctx.data_dir)
    obs = []
    for label, ours, theirs in (("train images", xr, tv["x_train"]),
                                ("train labels", tr, tv["t_train"]),
                                ("test images", xe, tv["x_test"]),
                                ("test labels", te, tv["t_test"])):
        ours = np.asarray(ours).reshape(len(ours), -1).astype(np.float64)
        theirs = np.asarray(theirs).reshape(len(theirs), -1).astype(np.float64)
        obs.append(Observation("torchvision MNIST equals the IDX parser", GROUP,
                               "torchvision", "exact", "data", label, theirs, ours))
    return obs
