"""False alarms and detection limits of ``verify.api.check_training_step`` on steps it did not
write.

Draws random *correct* training steps - "user" steps written here from the chapter's formulas
(NumPy by hand in the book's style, torch by hand, torch autograd), not reference_numpy's code -
over: architecture (input 1..784, hidden 1..100, classes 2..10; 2-1-2, 7-5-2 and 784-50-10
included), batch 1..200 (a batch of one in a fifth of the cases), weight, bias and input scales,
lr, weight decay, sigmoid or ReLU, labels or one-hot, the exact loss or δ = 1e-7 in the log
(``delta=``; not with autograd, whose gradient of that loss is not the book's (y - t)/N that
``delta=`` judges by), the loss before or after the update (``loss_at=``), float32 or float64,
NumPy or torch; and counts the verdicts that fail (false alarms), with the largest
|a - e| / bound seen.

Then, per dtype, plants errors in correct steps - the gradients scaled by 1 + e (the update
follows them), the learning rate scaled by 1 + e (the gradients stay right) - and prints the
fraction of cases caught for each e.

    python scripts/oracle_step_false_alarms.py --cases 10000 --planted 300
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from verify.api import check_training_step  # noqa: E402

DELTA = 1e-7


def _softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def numpy_step(p: dict, x: np.ndarray, t: np.ndarray, *, lr: float, act: str, delta: bool,
               after: bool, lam: float, g_scale: float = 1.0, lr_scale: float = 1.0) -> tuple:
    """The book's way: forward, SoftmaxWithLoss (δ in the log, or log-sum-exp), backprop."""
    dt = p["W1"].dtype.type
    n, k = x.shape[0], p["W2"].shape[1]
    onehot = t.astype(p["W1"].dtype) if t.ndim == 2 else np.eye(k, dtype=p["W1"].dtype)[t]

    def forward(q: dict) -> tuple:
        a1 = x @ q["W1"] + q["b1"]
        z1 = 1 / (1 + np.exp(-a1)) if act == "sigmoid" else np.maximum(a1, 0)
        a2 = z1 @ q["W2"] + q["b2"]
        if delta:
            loss = -np.sum(onehot * np.log(_softmax(a2) + dt(DELTA))) / dt(n)
        else:
            m = a2.max(axis=1, keepdims=True)
            lse = m + np.log(np.exp(a2 - m).sum(axis=1, keepdims=True))
            loss = np.sum(onehot * (lse - a2)) / dt(n)
        if lam:
            loss = loss + dt(0.5 * lam) * (np.sum(q["W1"] ** 2) + np.sum(q["W2"] ** 2))
        return a1, z1, a2, loss

    a1, z1, a2, loss = forward(p)
    dy = (_softmax(a2) - onehot) / dt(n)
    dz = dy @ p["W2"].T
    da1 = dz * (z1 * (1 - z1) if act == "sigmoid" else (a1 > 0))
    g = {"W1": x.T @ da1, "b1": da1.sum(axis=0), "W2": z1.T @ dy, "b2": dy.sum(axis=0)}
    if lam:
        g["W1"] = g["W1"] + dt(lam) * p["W1"]
        g["W2"] = g["W2"] + dt(lam) * p["W2"]
    g = {key: v * dt(g_scale) if g_scale != 1 else v for key, v in g.items()}
    step = dt(lr * lr_scale)
    new = {key: p[key] - step * g[key] for key in p}
    if after:
        loss = forward(new)[3]
    return loss, g, new


def torch_step(p: dict, x, t, *, lr: float, act: str, delta: bool, after: bool, lam: float,
               autograd: bool, g_scale: float = 1.0, lr_scale: float = 1.0) -> tuple:
    """torch: autograd of F.cross_entropy (or of -log(softmax + δ)), or backprop by hand."""
    import torch
    import torch.nn.functional as F

    def forward(q: dict):
        a1 = x @ q["W1"] + q["b1"]
        z1 = torch.sigmoid(a1) if act == "sigmoid" else torch.relu(a1)
        a2 = z1 @ q["W2"] + q["b2"]
        if delta:
            y = torch.softmax(a2, dim=1)
            if t.ndim == 1:
                loss = -torch.log(y[torch.arange(len(t)), t] + DELTA).mean()
            else:
                loss = -(t * torch.log(y + DELTA)).sum() / len(t)
        else:
            loss = F.cross_entropy(a2, t)
        if lam:
            loss = loss + 0.5 * lam * ((q["W1"] ** 2).sum() + (q["W2"] ** 2).sum())
        return a1, z1, a2, loss

    if autograd:
        q = {key: v.detach().clone().requires_grad_(True) for key, v in p.items()}
        loss = forward(q)[3]
        g = dict(zip(q, torch.autograd.grad(loss, list(q.values())), strict=True))
        loss = loss.detach()
    else:
        with torch.no_grad():
            a1, z1, a2, loss = forward(p)
            onehot = F.one_hot(t, a2.shape[1]).to(a2.dtype) if t.ndim == 1 else t
            dy = (torch.softmax(a2, dim=1) - onehot) / x.shape[0]
            dz = dy @ p["W2"].T
            da1 = dz * (z1 * (1 - z1) if act == "sigmoid" else (a1 > 0).to(dz.dtype))
            g = {"W1": x.T @ da1, "b1": da1.sum(0), "W2": z1.T @ dy, "b2": dy.sum(0)}
            if lam:
                g["W1"] = g["W1"] + lam * p["W1"]
                g["W2"] = g["W2"] + lam * p["W2"]
    with torch.no_grad():
        g = {key: v * g_scale if g_scale != 1 else v for key, v in g.items()}
        new = {key: p[key] - (lr * lr_scale) * g[key] for key in p}
        if after:
            loss = forward(new)[3]
    return loss, g, new


def draw(rng: np.random.Generator, dtype: str) -> dict:
    """One random correct case: sizes, scales, conventions, framework."""
    pick = rng.random()
    if pick < 0.05:
        i, hdim, k = 2, 1, 2
    elif pick < 0.10:
        i, hdim, k = 7, 5, 2
    elif pick < 0.15:
        i, hdim, k = 784, 50, 10
    else:
        i = int(np.exp(rng.uniform(0, np.log(785))))
        hdim = int(np.exp(rng.uniform(0, np.log(101))))
        k = int(rng.integers(2, 11))
    n = 1 if rng.random() < 0.2 else int(np.exp(rng.uniform(np.log(2), np.log(201))))
    if i * n > 784 * 200:
        n = max(1, 784 * 200 // i)
    w = float(10 ** rng.uniform(-2.5, 0.5))
    xs = float(10 ** rng.uniform(-2, 1))
    p = {"W1": w * rng.standard_normal((i, hdim)),
         "b1": (0.3 * w * rng.standard_normal(hdim)) if rng.random() < 0.7 else np.zeros(hdim),
         "W2": w * rng.standard_normal((hdim, k)),
         "b2": (0.3 * w * rng.standard_normal(k)) if rng.random() < 0.7 else np.zeros(k)}
    x = xs * (rng.random((n, i)) if rng.random() < 0.5 else rng.standard_normal((n, i)))
    labels = rng.integers(0, k, n)
    one_hot = rng.random() < 0.3
    c = {"p": {key: v.astype(dtype) for key, v in p.items()}, "x": x.astype(dtype),
            "t": np.eye(k, dtype=dtype)[labels] if one_hot else labels,
            "lr": float(10 ** rng.uniform(-3, 0)), "act": str(rng.choice(["sigmoid", "relu"])),
            "delta": bool(rng.random() < 0.5), "after": bool(rng.random() < 0.3),
            "lam": float(10 ** rng.uniform(-4, -1)) if rng.random() < 0.2 else 0.0,
            "impl": str(rng.choice(["numpy", "torch-autograd", "torch-hand"])),
            # autograd of a loss with δ in the log is that loss's exact gradient, which is not
            # the book's (y - t)/N that delta= judges the gradients by (δ/(y_t + δ) apart):
            # those draws use the exact loss
            "shape": (i, hdim, k), "n": n, "w": w, "xs": xs, "dtype": dtype}
    if c["impl"] == "torch-autograd":
        c["delta"] = False
    return c


def run_case(c: dict, g_scale: float = 1.0, lr_scale: float = 1.0):
    kw = {"lr": c["lr"], "act": c["act"], "delta": c["delta"], "after": c["after"],
          "lam": c["lam"], "g_scale": g_scale, "lr_scale": lr_scale}
    p, x, t = c["p"], c["x"], c["t"]
    if c["impl"] == "numpy":
        def step(q, xx, tt):
            return numpy_step(q, xx, tt, **kw)
    else:
        import torch

        p = {key: torch.from_numpy(v.copy()) for key, v in p.items()}
        x = torch.from_numpy(x.copy())
        t = torch.from_numpy(t.copy())
        auto = c["impl"] == "torch-autograd"

        def step(q, xx, tt):
            return torch_step(q, xx, tt, autograd=auto, **kw)
    return check_training_step(step, p, x, t, lr=c["lr"], activation=c["act"],
                               delta=DELTA if c["delta"] else 0,
                               loss_at="after" if c["after"] else "before",
                               weight_decay_lambda=c["lam"])


def describe(c: dict) -> str:
    return (f"{c['dtype']} {c['impl']} {c['shape']} N={c['n']} {c['act']} w={c['w']:.2g} "
            f"x={c['xs']:.2g} lr={c['lr']:.2g} λ={c['lam']:.2g} delta={c['delta']} "
            f"after={c['after']} t={'one-hot' if np.ndim(c['t']) == 2 else 'labels'}")


def false_alarms(seed: int, count: int) -> list[dict]:
    rng = np.random.default_rng([seed, 31])
    alarms, worst, worst_case = [], 0.0, ""
    by: dict[str, list[float]] = {}
    start = time.perf_counter()
    np.seterr(all="ignore")  # the users' sigmoid overflows exp(-a1) for large |a1|, correctly
    for j in range(count):
        c = draw(rng, "float32" if j % 2 else "float64")
        res = run_case(c)
        ratio = float(res.details.get("worst_ratio", np.inf))
        key = f"{c['dtype']} {c['impl']}"
        by.setdefault(key, []).append(ratio)
        if ratio > worst:
            worst, worst_case = ratio, describe(c) + f" at {res.where}"
        if not res.passed:
            alarms.append((j, describe(c), res.message.splitlines()[:6]))
        if (j + 1) % 1000 == 0:
            print(f"  {j + 1} cases, {len(alarms)} false alarms, largest |a-e|/bound "
                  f"{worst:.3g} ({time.perf_counter() - start:.0f} s)", flush=True)
    print(f"false alarms: {len(alarms)} over {count} correct cases")
    for key, r in sorted(by.items()):
        print(f"  {key}: {len(r)} cases, largest |a-e|/bound {max(r):.3g}, median "
              f"{np.median(r):.3g}")
    print(f"largest |a-e|/bound (bound with safety included): {worst:.3g}: {worst_case}")
    for j, d, lines in alarms[:10]:
        print(f"  case {j} {d}:", *lines, sep="\n    ")
    rows = []
    for dtype in ("float64", "float32"):
        ratios = [r for key, rs in by.items() if key.startswith(dtype) for r in rs]
        rows.append({"dtype": dtype, "cases": len(ratios),
                     "alarms": sum(1 for _, d, _ in alarms if d.startswith(dtype)),
                     "worst_ratio": max(ratios, default=0.0)})
    return rows


def planted(seed: int, count: int) -> list[dict]:
    grids = {"float64": [10.0 ** e for e in range(-14, -5)],
             "float32": [1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2]}
    np.seterr(all="ignore")
    rows = []
    for dtype, grid in grids.items():
        rng = np.random.default_rng([seed, 32, len(dtype)])
        caught = {"gradients × (1+e)": np.zeros(len(grid)), "lr × (1+e)": np.zeros(len(grid))}
        for _ in range(count):
            c = draw(rng, dtype)
            for j, e in enumerate(grid):
                caught["gradients × (1+e)"][j] += not run_case(c, g_scale=1 + e).passed
                caught["lr × (1+e)"][j] += not run_case(c, lr_scale=1 + e).passed
        for what, hits in caught.items():
            frac = hits / count
            row = "  ".join(f"{e:.0e}:{f:.2f}" for e, f in zip(grid, frac, strict=True))
            print(f"{dtype}, {what}: fraction caught: {row}")
            row = {"dtype": dtype, "what": what, "cases": count}
            for level, name, key in ((1.0, "every case", "every"), (0.9, "90%", "most"),
                                     (0.5, "half", "half")):
                hit = [e for e, f in zip(grid, frac, strict=True) if f >= level]
                row[key] = min(hit, default=None)
                print(f"  smallest e caught in {name}: {min(hit):.0e}" if hit else
                      f"  none caught in {name} up to {grid[-1]:.0e}")
            rows.append(row)
            print(flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000, help="correct cases (both dtypes)")
    ap.add_argument("--planted", type=int, default=300, help="cases per dtype for detection")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="PATH", help="also write the figures there (for "
                    "scripts/oracle_figures.py, which puts them in the README)")
    argv = sys.argv[1:]
    args = ap.parse_args(argv)
    start = time.perf_counter()
    results = {"false_alarms": false_alarms(args.seed, args.cases) if args.cases else [],
               "detection": planted(args.seed, args.planted) if args.planted else []}
    print(f"({time.perf_counter() - start:.0f} s)")
    if args.json:
        from oracle_figures import save

        print(f"wrote {save(args.json, argv, start, results)}")


if __name__ == "__main__":
    main()
