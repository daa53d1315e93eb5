"""Write verify's golden trajectories (verify/golden/*.json); see verify/golden.py.

    python scripts/make_golden.py                 # bundled subset, and full MNIST if found
    python scripts/make_golden.py --data subset   # only the subset

Full MNIST is read from ``--data-dir`` or ``$NNPARITY_DATA_DIR``.  For each run the chapter's
loop written out (``verify.golden.record``) must equal ``reference_numpy.train(mode="eager")``
bit for bit in every loss and accuracy, else nothing is written.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reference_numpy._validate import atomic_write_bytes  # noqa: E402
from reference_numpy.mnist import load_mnist  # noqa: E402
from reference_numpy.networks import TwoLayerNet  # noqa: E402
from reference_numpy.training import train  # noqa: E402
from verify import golden, plans  # noqa: E402


def _commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _check_against_train(run: golden.GoldenRun, plan, data) -> None:
    (x, t), (xt, tt) = data
    net = TwoLayerNet(plan.input_size, plan.hidden_size, plan.output_size,
                      params=plan.initial_params())
    hist = train(net, x, t, xt, tt, plan, learning_rate=run.key.learning_rate, mode="eager",
                 progress=False)
    pairs = [("losses", run.losses, hist.train_loss_list),
             ("train_acc", run.train_acc, hist.train_acc_list),
             ("test_acc", run.test_acc, hist.test_acc_list)]
    for name, mine, theirs in pairs:
        if list(map(float, mine)) != list(map(float, theirs)):
            bad = next(i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b) \
                if len(mine) == len(theirs) else "length"
            raise SystemExit(f"make_golden: the written-out loop and train(mode='eager') differ "
                             f"in {name} at {bad}; not writing {run.key.filename}")
    final = golden.fingerprint(net.params)
    if final != run.fingerprints[plan.iters_num - 1]:
        raise SystemExit("make_golden: final parameters differ from train(mode='eager')")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=("subset", "full", "both"), default="both")
    p.add_argument("--data-dir", default=os.environ.get("NNPARITY_DATA_DIR"))
    p.add_argument("--iters", type=int, nargs="*", default=[plans.QUICK_ITERS, plans.BOOK_ITERS])
    p.add_argument("--out", type=Path, default=golden.golden_dir())
    args = p.parse_args(argv)
    sources = []
    if args.data in ("subset", "both"):
        from reference_numpy.mnist import SUBSET_DIR
        sources.append(("subset", SUBSET_DIR))
    if args.data in ("full", "both"):
        if not args.data_dir:
            if args.data == "full":
                p.error("--data full: give --data-dir or set NNPARITY_DATA_DIR")
        else:
            sources.append(("full", Path(args.data_dir)))
    args.out.mkdir(parents=True, exist_ok=True)
    for kind, folder in sources:
        data, source = load_mnist(data_dir=folder, return_source=True)
        if source.kind != kind:
            raise SystemExit(f"make_golden: {folder} holds {source.describe()}, not {kind}")
        (x, t), (xt, tt) = data
        data = ((x.astype(np.float64), t), (xt.astype(np.float64), tt))
        for iters in args.iters:
            start = time.perf_counter()
            plan = plans.training_plan(len(x), iters, plans.SEED)
            run = golden.record(plan, data, plans.LEARNING_RATE, kind)
            _check_against_train(run, plan, data)
            run.meta = {
                "generated_by": "scripts/make_golden.py", "commit": _commit(),
                "date": time.strftime("%Y-%m-%d", time.gmtime()),
                "numpy": np.__version__, "python": platform.python_version(),
                "machine": platform.machine(),
                "data": source.describe().split(" from ")[0],
            }
            path = args.out / run.key.filename
            atomic_write_bytes(path, run.to_json().encode())
            print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: "
                  f"{iters} iterations, {len(run.eval_iters)} evaluations, "
                  f"final loss {run.losses[-1]:.6g}, test acc {run.test_acc[-1]:.4f} "
                  f"({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
