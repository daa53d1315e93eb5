"""Measure the noise that the tolerance classes are derived from (``python -m verify calibrate``).

Runs every check with no bug planted over many seeds and reads the observations directly: per
tolerance class and quantity kind the largest errors seen, and for the free-running curves their
envelope and the prediction flips.  Nothing is judged, so no tolerance is needed (step replay
yields every replayed step when ``Context.calibration`` is set).  The numbers in
``tolerances.py`` are these measurements times ``SAFETY``; rerun this after changing the numerics.
"""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np

from .checks import GROUP_NAMES
from .checks.context import Context
from .compare import scaled_errors
from .engines import engines_for
from .runner import observe_group
from .tolerances import CURVE_KINDS

__all__ = ["calibrate", "DEFAULT_GROUPS"]

#: Every group with noise to measure: the data group is exact (nothing is computed).
DEFAULT_GROUPS = tuple(g for g in GROUP_NAMES if g != "data")


def calibrate(seeds: int = 20, *, iters: int = 300, device: str | None = None,
              groups: tuple[str, ...] = DEFAULT_GROUPS,
              data_dir: str | None = None, quick: bool = True, first_seed: int = 0,
              allow_tf32: bool = False) -> dict:
    """Largest errors per (class, kind) over seeds ``first_seed`` .. ``first_seed + seeds - 1``;
    curve envelopes for training.  ``allow_tf32`` makes torch float32 on CUDA the tf32 class (the
    caller turns TF32 on, e.g. ``precision_guard(allow_tf32=True)``); seeds run one call at a
    time merge by taking maxima."""
    stats: dict = defaultdict(lambda: [0.0, 0.0, 0.0])
    curves: dict = defaultdict(list)
    flips: dict = defaultdict(list)
    engines = engines_for(device, allow_tf32=allow_tf32)
    for seed in range(first_seed, first_seed + seeds):
        ctx = Context(engines=engines, seed=seed, iters=iters, quick=quick, data_dir=data_dir,
                      calibration=True)
        for g in groups:
            for o in observe_group(ctx, g):
                if o.kind in CURVE_KINDS:
                    # the book's run under its class, other curve kinds as class/kind
                    key = o.tclass if o.kind == "curve" else f"{o.tclass}/{o.kind}"
                    n = min(len(o.actual), len(o.expected))
                    curves[key].append(np.abs(o.actual[:n] - o.expected[:n]) / o.expected[:n])
                elif o.kind == "flips":
                    flips[o.tclass].append((int(np.count_nonzero(o.actual != o.expected)),
                                            len(o.expected)))
                else:
                    st = stats[(o.tclass, o.kind)]
                    st[:] = np.maximum(st, scaled_errors(o.actual, o.expected)).tolist()
    out = {"seeds": seeds, "iters": iters,
           "max_errors": {f"{c}/{k}": {"scaled_abs": v[0], "large_rel": v[1], "frob": v[2]}
                          for (c, k), v in sorted(stats.items())}}
    env = {}
    for tclass, cs in curves.items():
        # runs differ in length (regimes, early stopping): the envelope of those reaching i
        m = np.full(max(len(c) for c in cs), np.nan)
        for c in cs:
            m[: len(c)] = np.fmax(m[: len(c)], c)
        checkpoints = sorted({0, 1, 10, 30, 100, 300, 1000, 3000, len(m) - 1} & set(range(len(m))))
        env[tclass] = {str(i): float(np.max(m[: i + 1])) for i in checkpoints}
    out["curve_envelope"] = env
    out["flips"] = {c: max(f for f, _ in v) for c, v in flips.items()}
    return out


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(calibrate(), indent=1))
