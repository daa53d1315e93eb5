"""Measure the fused step's noise at extreme logits (the fused_loss / fused_params tolerances).

    python scripts/measure_fused_extremes.py [--seeds 20] [--data-dir DIR]

For each seed and activation (sigmoid, relu): verify's extreme case (20 MNIST rows, logits up
to ~2,000), every CPU engine's fused loss and parameters after one fused SGD step against the
float64 reference's eager loss and p - lr g.  Prints, per class, kind and activation, the max
over seeds of |a-e|/max|e|, the relative error
of large elements (|e| >= max|e|/10) and the relative Frobenius error: the three numbers
verify/tolerances.py writes beside the bounds (which are these x10).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reference_numpy.mnist import load_mnist  # noqa: E402
from reference_numpy.networks import PARAM_NAMES  # noqa: E402
from verify.checks.fused_extremes import (  # noqa: E402
    ACTIVATIONS,
    LR,
    extreme_case,
    fused_step,
)
from verify.engines import engines_for, reference_engine  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    (x, t), _ = load_mnist(data_dir=args.data_dir)
    ref, engines = reference_engine(), engines_for("cpu")
    worst: dict[tuple[str, str], np.ndarray] = {}
    for seed in range(args.seeds):
        p, xb, tb = extreme_case(x, t, np.random.default_rng([seed, 90]))
        for act in ACTIVATIONS:
            rnet = ref.make_net(p, activation=act)
            r_loss = ref.net_loss(rnet, xb, tb)
            r_grad = ref.net_gradients(rnet, xb, tb, "backprop")
            for eng in [ref, *engines]:
                loss, new = fused_step(eng, p, xb, tb, act)
                key = (eng.tolerance_class, "fused_loss", act)
                worst[key] = np.maximum(worst.get(key, 0), _stats([loss], [r_loss]))
                for k in PARAM_NAMES:
                    key = (eng.tolerance_class, "fused_params", act)
                    worst[key] = np.maximum(worst.get(key, 0),
                                            _stats(new[k], p[k] - LR * r_grad[k]))
    for (tclass, kind, act), v in sorted(worst.items()):
        print(f"{tclass:12s} {kind:13s} {act:8s} |a-e|/max|e| {v[0]:.2g}  "
              f"large-element rel {v[1]:.2g}  frob {v[2]:.2g}")
    return 0


def _stats(a: object, e: object) -> np.ndarray:
    """verify.compare.scaled_errors (what calibrate measures), as an array for np.maximum."""
    from verify.compare import scaled_errors

    return np.array(scaled_errors(np.ravel(a), np.ravel(e)))


if __name__ == "__main__":
    raise SystemExit(main())
