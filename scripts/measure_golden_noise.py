"""Measure how far another float64 implementation lands from a golden trajectory.

A golden file (verify/golden.py) is checked on machines whose BLAS sums in another order, so its
bounds must cover float64 summation-order noise compounded over a run.  The torch float64
engine (MKL on this CPU) against NumPy's float64 loop (OpenBLAS) is that noise, measured here
per seed: the loss curve's relative difference against the free-running band, accuracy
differences in examples, and each parameter fingerprint's max |a - e| / max |e|.

    python scripts/measure_golden_noise.py --seeds 3 --iters 1300 --data subset
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reference_numpy.mnist import SUBSET_DIR, load_mnist  # noqa: E402
from verify import golden, plans  # noqa: E402
from verify.engines import NumpyEngine, TorchEngine  # noqa: E402
from verify.tolerances import curve_band  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--iters", type=int, default=plans.QUICK_ITERS)
    p.add_argument("--data", choices=("subset", "full"), default="subset")
    args = p.parse_args(argv)
    folder = SUBSET_DIR if args.data == "subset" else Path(os.environ["NNPARITY_DATA_DIR"])
    (x, t), (xt, tt) = load_mnist(data_dir=folder)
    data = ((x.astype(np.float64), t), (xt.astype(np.float64), tt))
    engines = [TorchEngine(dtype="float64", device="cpu"), NumpyEngine(dtype="float64")]
    worst = {"curve/band": 0.0, "acc examples": 0, "fingerprint": 0.0, "frob": 0.0}
    for seed in range(args.seeds):
        plan = plans.training_plan(len(x), args.iters, seed)
        gold = golden.record(plan, data, plans.LEARNING_RATE, args.data)
        e_fp = gold.fingerprints[args.iters - 1]
        for eng in engines:
            for mode in sorted({"eager", eng.default_mode(plans.LEARNING_RATE)}):
                hist, params = eng.train(plan, data, plans.LEARNING_RATE, mode=mode)
                a, e = np.asarray(hist.train_loss_list), np.asarray(gold.losses)
                ratio = float(np.max(np.abs(a - e) / e / curve_band("float64", np.arange(len(e)))))
                n_tr, n_te = len(x), len(xt)
                acc = max(
                    max(abs(u - v) * n_tr for u, v in zip(hist.train_acc_list, gold.train_acc,
                                                          strict=True)),
                    max(abs(u - v) * n_te for u, v in zip(hist.test_acc_list, gold.test_acc,
                                                          strict=True)),
                )
                fp = golden.fingerprint(params)
                rel = max(
                    float(np.max(np.abs(np.subtract(fp[k], e_fp[k]))) / np.max(np.abs(e_fp[k])))
                    for k in e_fp
                )
                frob = max(
                    float(np.linalg.norm(np.subtract(fp[k], e_fp[k])) / np.linalg.norm(e_fp[k]))
                    for k in e_fp
                )
                print(f"seed {seed} {eng.name} {mode}: curve {ratio:.3g} of the float64 band, "
                      f"accuracy {acc:.0f} examples, fingerprint {rel:.3g} (frob {frob:.3g})",
                      flush=True)
                worst["curve/band"] = max(worst["curve/band"], ratio)
                worst["acc examples"] = max(worst["acc examples"], round(acc))
                worst["fingerprint"] = max(worst["fingerprint"], rel)
                worst["frob"] = max(worst["frob"], frob)
    print("max:", worst)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
