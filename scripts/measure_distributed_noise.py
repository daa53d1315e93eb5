"""Measure the data-parallel replay's noise (the float64 ``distributed`` tolerance).

    python scripts/measure_distributed_noise.py [--seeds 5] [--data-dir DIR]

For each seed, verify's distributed plan (verify/checks/distributed.py) run by 2 gloo ranks
against the float64 reference's single-process run: the max over seeds of |a-e|/max|e|, the
relative error of large elements (|e| >= max|e|/10) and the relative Frobenius error, over the
per-iteration losses and the final parameters; verify/tolerances.py writes them beside the bound
(these x10).  Each seed spawns two processes (tens of seconds on a loaded 2-core machine).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    from reference_numpy.mnist import load_mnist
    from verify.checks import distributed as vd
    from verify.checks.context import Context

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    reason = vd.available()
    if reason:
        print(f"cannot measure: {reason}", file=sys.stderr)
        return 2
    (x, t), _ = load_mnist(data_dir=args.data_dir)
    x, t = x[:vd.ROWS].astype(np.float64), t[:vd.ROWS]
    worst = np.zeros(3)
    for seed in range(args.seeds):
        plan = vd.plan_for(Context(engines=[], seed=seed))
        r_params, r_losses = vd.reference_run(plan, x, t)
        got = vd.ddp_run(plan, x, t)
        worst = np.maximum(worst, _stats(got["losses"], r_losses))
        for k, v in r_params.items():
            worst = np.maximum(worst, _stats(got[k], v))
        print(f"seed {seed}: |a-e|/max|e| {worst[0]:.2g}  large-element rel {worst[1]:.2g}  "
              f"frob {worst[2]:.2g} (max so far)", flush=True)
    return 0


def _stats(a: object, e: object) -> np.ndarray:
    """verify.compare.scaled_errors (what calibrate measures), as an array for np.maximum."""
    from verify.compare import scaled_errors

    return np.array(scaled_errors(np.ravel(a), np.ravel(e)))


if __name__ == "__main__":  # spawned ranks import this module: keep the run behind the guard
    raise SystemExit(main())
