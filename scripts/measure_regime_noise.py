"""Measure the noise the regimes group's tolerances come from (verify/checks/regimes.py).

Runs the group with no bug planted in calibration mode (every replayed step's observations,
nothing judged) over several seeds and prints, per tolerance class and kind, the largest
scale-relative error max|a-e|/max|e|, the largest relative error of the large elements and the
relative Frobenius error, with the run that produced it; the free-running loss curves' envelope
(max relative difference up to iteration i); the prediction flips; and how many early-stopping
decisions differed.  verify/tolerances.py holds these numbers times SAFETY.

    python scripts/measure_regime_noise.py --seeds 5
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from verify.checks.context import Context  # noqa: E402
from verify.compare import scaled_errors  # noqa: E402
from verify.engines import engines_for  # noqa: E402
from verify.runner import observe_group  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    engines = engines_for("cpu")
    worst: dict = defaultdict(lambda: ([0.0, 0.0, 0.0], ["", "", ""]))
    curves: dict = defaultdict(list)
    flips: dict = defaultdict(int)
    stopping: dict = defaultdict(int)
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        ctx = Context(engines=engines, seed=seed, iters=10**9, quick=True,
                      data_dir=args.data_dir, calibration=True)
        for o in observe_group(ctx, "regimes"):
            run = o.check.split(":")[0]
            if o.kind == "regime_curve":
                n = min(len(o.actual), len(o.expected))
                rel = np.abs(o.actual[:n] - o.expected[:n]) / o.expected[:n]
                curves[(o.tclass, "all runs")].append(rel)
                curves[(o.tclass, run)].append(rel)
            elif o.kind == "flips":
                counts = np.concatenate([o.series["train_correct"], o.series["test_correct"]])
                net = int(np.max(np.abs(counts[:, 0] - counts[:, 1]))) if len(counts) else 0
                f = int(np.count_nonzero(o.actual != o.expected))
                flips[o.tclass] = max(flips[o.tclass], f, net)
            elif o.kind == "early_stopping":
                stopping[o.engine] += int(np.any(o.actual != o.expected))
            else:
                vals, where = worst[(o.tclass, o.kind)]
                for j, v in enumerate(scaled_errors(o.actual, o.expected)):
                    if v > vals[j]:
                        vals[j], where[j] = v, f"{run}, seed {seed}, step {o.step}, {o.case}"
        print(f"seed {seed} done", file=sys.stderr)
    print(f"# {args.seeds} seeds from {args.first_seed}")
    for (tclass, kind), (vals, where) in sorted(worst.items()):
        print(f"{tclass}/{kind}: scaled {vals[0]:.2g} ({where[0]}); large rel {vals[1]:.2g} "
              f"({where[1]}); frob {vals[2]:.2g} ({where[2]})")
    for (tclass, run), cs in sorted(curves.items()):
        env = np.full(max(len(c) for c in cs), np.nan)
        for c in cs:
            env[: len(c)] = np.fmax(env[: len(c)], c)
        marks = [i for i in (0, 1, 10, 30, 50, 99, 199) if i < len(env)]
        print(f"{tclass}/regime_curve envelope, {run}: "
              + ", ".join(f"i={i}: {np.nanmax(env[: i + 1]):.2g}" for i in marks))
    print("flips (max of final-parameter flips and changes of a correct count):", dict(flips))
    print("early-stopping decisions differing (runs):", dict(stopping))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
