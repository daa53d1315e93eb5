"""False alarms of ``verify.api.check_optimizer_step``'s defaults on correct optimizers it did
not write, and whether the two state bugs of issue 11 are caught.

Correct implementations in other formulations than the reference's: the book-style classes of
``tests/oracle_fixtures/book_style.py`` (Nesterov adds its update in one expression where the
reference adds twice) and ``torch.optim.SGD`` with momentum / ``nesterov=True`` (velocity
``v ← m·v + g``, ``p ← p - lr·(g + m·v)``: the book's formulas rearranged).  Random draws:
optimizer, float32 or float64, one or two parameter keys of random shapes, parameter scale 1e-2
to 1e2 and gradient scale 1e-3 to 1e1 (log-uniform), lr 1e-4 to 1e-1, steps 1 to 6 (or the
default 3).  Counts the correct cases that fail (false alarms), then the share of the planted
bugs (state rebuilt on every call, Adam's counter per key) that fail with the defaults.

    python scripts/oracle_optimizer_false_alarms.py --cases 2000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from oracle_fixtures import book_style as ok  # noqa: E402
from oracle_fixtures import pitfalls as bad  # noqa: E402

from verify.api import check_optimizer_step  # noqa: E402


def _torch_sgd(nesterov: bool, lr: float, momentum: float):
    import torch

    state: dict = {}

    def step(params: dict, grads: dict) -> None:
        if "opt" not in state:
            state["t"] = {k: torch.tensor(v) for k, v in params.items()}
            state["opt"] = torch.optim.SGD(list(state["t"].values()), lr=lr, momentum=momentum,
                                           nesterov=nesterov)
        for k, t in state["t"].items():
            with torch.no_grad():
                t.copy_(torch.from_numpy(np.asarray(params[k])))
            t.grad = torch.from_numpy(np.asarray(grads[k])).clone()
        state["opt"].step()
        for k, t in state["t"].items():
            params[k][...] = t.detach().numpy()

    return step


def _draw(rng: np.random.Generator, dtype: type) -> tuple[dict, dict]:
    keys = ["W"] if rng.random() < 0.5 else ["W", "b"]
    shapes = {"W": tuple(int(s) for s in rng.integers(1, 6, 2)), "b": (int(rng.integers(1, 6)),)}
    p_scale = 10 ** rng.uniform(-2, 2)
    g_scale = 10 ** rng.uniform(-3, 1)
    params = {k: (p_scale * rng.standard_normal(shapes[k])).astype(dtype) for k in keys}
    grads = {k: (g_scale * rng.standard_normal(shapes[k])).astype(dtype) for k in keys}
    return params, grads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1000, help="correct cases, over both dtypes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="PATH", help="also write the figures there (for "
                    "scripts/oracle_figures.py, which puts them in the README)")
    argv = sys.argv[1:]
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    alarms: dict[str, list[int]] = {}
    for i in range(args.cases):
        dtype = (np.float64, np.float32)[i % 2]
        params, grads = _draw(rng, dtype)
        lr = float(10 ** rng.uniform(-4, -1))
        name = str(rng.choice(["momentum", "nesterov", "adagrad", "rmsprop", "adam",
                               "torch momentum", "torch nesterov"]))
        steps = None if rng.random() < 0.5 else int(rng.integers(1, 7))
        if name.startswith("torch"):
            ref = name.split()[1]
            step = _torch_sgd(ref == "nesterov", lr, 0.9)
        else:
            ref = name
            cls = {"momentum": ok.Momentum, "nesterov": ok.Nesterov, "adagrad": ok.AdaGrad,
                   "rmsprop": ok.RMSprop, "adam": ok.Adam}[name]
            step = cls(lr=lr).update
        res = check_optimizer_step(step, ref, params, grads, steps=steps, lr=lr)
        row = alarms.setdefault(f"{name} {np.dtype(dtype).name}", [0, 0])
        row[1] += 1
        if not res.passed:
            row[0] += 1
            if row[0] <= 2:
                print(f"false alarm: {name} {np.dtype(dtype).name} lr={lr:.3g}\n"
                      f"{res.message[:600]}")
    total = sum(a for a, _ in alarms.values())
    for key in sorted(alarms):
        print(f"{key}: {alarms[key][0]} false alarms / {alarms[key][1]}")
    print(f"total: {total} false alarms over {args.cases} correct cases "
          f"({time.perf_counter() - start:.0f} s)")
    caught = {"fresh state": 0, "counter per key": 0}
    n_bug = max(20, args.cases // 20)
    for _ in range(n_bug):
        dtype = np.float64 if rng.random() < 0.5 else np.float32
        params, grads = _draw(rng, dtype)
        params = {"W": params["W"]}
        grads = {"W": grads["W"]}
        caught["fresh state"] += not check_optimizer_step(bad.adam_fresh_state, "adam", params,
                                                          grads).passed
        caught["counter per key"] += not check_optimizer_step(
            bad.AdamCounterPerKey().update, "adam", params, grads).passed
    for k, v in caught.items():
        print(f"planted ({k}), one key and one grads dict given, defaults: caught {v} / {n_bug}")
    if args.json:
        from oracle_figures import save

        per_dtype = [{"dtype": d, "cases": sum(n for key, (_, n) in alarms.items()
                                               if key.endswith(d)),
                      "alarms": sum(a for key, (a, _) in alarms.items() if key.endswith(d))}
                     for d in ("float64", "float32")]
        bugs = {"fresh state": "Adam with its state rebuilt on every call",
                "counter per key": "Adam advancing its step counter once per key"}
        planted_rows = [{"bug": bugs[k], "cases": n_bug, "caught": v} for k, v in caught.items()]
        path = save(args.json, argv, start, {"false_alarms": per_dtype, "planted": planted_rows})
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
