"""Measure the noise that the tolerance classes are derived from (``python -m verify calibrate``).

Runs every check with no bug planted over many seeds, with permissive bounds, and reports per
tolerance class and quantity kind the largest errors seen.  The numbers in ``tolerances.py`` are
these measurements times ``SAFETY``; rerun this after changing the numerics.
"""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np

from . import tolerances
from .checks.context import Context
from .engines import engines_for
from .observe import Observation, scaled_errors
from .runner import observe_groups

__all__ = ["calibrate"]

KINDS = ("function", "function_adversarial", "gradient", "numerical", "numerical_delta", "loss",
         "update", "replay_grad", "replay_update", "replay_loss", "printed", "printed8", "order")


def _permissive() -> None:
    for tclass in ("float64", "float32-cpu", "float32-cuda", "tf32"):
        for kind in KINDS:
            tolerances.TOLERANCES.setdefault(
                (tclass, kind), tolerances.ToleranceSpec(1.0, 1.0, 1.0, np.inf, "calibration"))
        tolerances.CURVE_BANDS.setdefault(tclass, (1.0, 1.0, 1.0))
        tolerances.FLIP_FRACTION.setdefault(tclass, 1.0)


def calibrate(seeds: int = 20, *, iters: int = 300, device: str | None = None,
              groups: tuple[str, ...] = ("seeds", "losses", "gradients", "optimizers",
                                         "training"),
              data_dir: str | None = None, quick: bool = True, first_seed: int = 0,
              allow_tf32: bool = False) -> dict:
    """Largest errors per (class, kind) over seeds ``first_seed`` .. ``first_seed + seeds - 1``;
    curve envelopes for training.  ``allow_tf32`` makes torch float32 on CUDA the tf32 class (the
    caller turns TF32 on, e.g. ``precision_guard(allow_tf32=True)``); seeds run one call at a
    time merge by taking maxima."""
    _permissive()
    stats: dict = defaultdict(lambda: [0.0, 0.0, 0.0])
    curves: dict = defaultdict(list)
    flips: dict = defaultdict(list)
    engines = engines_for(device, allow_tf32=allow_tf32)
    for seed in range(first_seed, first_seed + seeds):
        ctx = Context(engines=engines, seed=seed, iters=iters, quick=quick, data_dir=data_dir)
        ctx.notes["calibration"] = {}
        for _g, (items, _s) in observe_groups(ctx, list(groups)).items():
            for o in items:
                if isinstance(o, Observation) and not o.kind.startswith("replay"):
                    st = stats[(o.tclass, o.kind)]
                    st[:] = np.maximum(st, scaled_errors(o.actual, o.expected)).tolist()
        for key, vals in ctx.notes["calibration"].items():
            if key[1].startswith("replay"):
                st = stats[key]
                for errs in vals:
                    st[:] = np.maximum(st, errs).tolist()
            elif key[1] == "curve":
                curves[key[0]] += vals
            elif key[1] == "flips":
                flips[key[0]] += vals
    out = {"seeds": seeds, "iters": iters,
           "max_errors": {f"{c}/{k}": {"scaled_abs": v[0], "large_rel": v[1], "frob": v[2]}
                          for (c, k), v in sorted(stats.items())}}
    env = {}
    for tclass, cs in curves.items():
        m = np.max(np.vstack(cs), axis=0)
        checkpoints = sorted({0, 1, 10, 30, 100, 300, 1000, 3000, len(m) - 1} & set(range(len(m))))
        env[tclass] = {str(i): float(np.max(m[: i + 1])) for i in checkpoints}
    out["curve_envelope"] = env
    out["flips"] = {c: max(f for f, _ in v) for c, v in flips.items()}
    return out


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(calibrate(), indent=1))
