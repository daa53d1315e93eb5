"""False alarms and detection limits of ``verify.api.check_gradient`` on code it did not write.

Draws random *correct* cases - a "user" network written here from the chapter's formulas (not
reference_numpy's code): architecture (plain logits, SimpleNet x·W, TwoLayerNet with sigmoid or
ReLU), seed, shapes (batch of one included), scale of the weights and of the inputs, labels or
one-hot or soft targets, the exact loss or the book's δ = 1e-7 inside the log (then checked
with ``delta=1e-7``), float32 or float64 - and counts how many ``check_gradient`` fails
(false alarms).  Then, per dtype, plants a relative error ``1 + e`` on the whole gradient and
prints the fraction of cases caught for each ``e``.

    python scripts/oracle_false_alarms.py --cases 10000 --planted 600

The δ cases keep the true-class probabilities >= 1.25e-3 (weights and inputs redrawn
otherwise), the domain ``delta=`` documents: the exact gradient (y - t)/N of a loss with δ in
the log is off by δ/(y_t + δ), which the measured ``numerical_delta`` allowance (8e-5) covers
only there.  How many draws fell outside and were redrawn is printed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from verify.api import check_gradient  # noqa: E402
from verify.api.gradient import C_ROUND, _central, _delta_allowance, _loss_value  # noqa: E402

DELTA = 1e-7
MIN_PROB_FOR_DELTA = DELTA / 8e-5  # where the numerical_delta allowance is documented to hold


def _softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class UserNet:
    """A user's network: params in a dict of arrays of one dtype; loss and backprop by hand."""

    def __init__(self, rng: np.random.Generator, arch: str, i: int, hdim: int, k: int,
                 w_scale: float, dtype: type) -> None:
        self.arch, self.dtype = arch, dtype
        p: dict[str, np.ndarray] = {}
        if arch == "logits":
            pass
        elif arch == "simple":
            p["W"] = w_scale * rng.standard_normal((i, k))
        else:
            p = {"W1": w_scale * rng.standard_normal((i, hdim)),
                 "b1": 0.3 * w_scale * rng.standard_normal(hdim),
                 "W2": w_scale * rng.standard_normal((hdim, k)),
                 "b2": 0.3 * w_scale * rng.standard_normal(k)}
        self.params = {n: v.astype(dtype) for n, v in p.items()}

    def _hidden(self, a1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.arch == "relu":
            return np.maximum(a1, 0), (a1 > 0).astype(self.dtype)
        z = 1 / (1 + np.exp(-a1))
        return z, z * (1 - z)

    def logits(self, p: dict, x: np.ndarray) -> tuple[np.ndarray, tuple]:
        if self.arch == "logits":
            return p["a"], ()
        if self.arch == "simple":
            return x @ p["W"], ()
        a1 = x @ p["W1"] + p["b1"]
        z1, dz = self._hidden(a1)
        return z1 @ p["W2"] + p["b2"], (z1, dz)

    def loss(self, p: dict, x: np.ndarray, t: np.ndarray, delta: float | None) -> np.floating:
        a, _ = self.logits(p, x)
        n = a.shape[0]
        if delta is None:
            m = a.max(axis=1, keepdims=True)
            logp = a - m - np.log(np.exp(a - m).sum(axis=1, keepdims=True))
            return -np.sum(t * logp) / self.dtype(n)
        return -np.sum(t * np.log(_softmax(a) + self.dtype(delta))) / self.dtype(n)

    def gradient(self, p: dict, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        a, cache = self.logits(p, x)
        n = a.shape[0]
        dy = (_softmax(a) * t.sum(axis=1, keepdims=True) - t) / self.dtype(n)
        if self.arch == "logits":
            return {"a": dy}
        if self.arch == "simple":
            return {"W": x.T @ dy}
        z1, dz = cache
        da1 = (dy @ p["W2"].T) * dz
        return {"W1": x.T @ da1, "b1": da1.sum(0), "W2": z1.T @ dy, "b2": dy.sum(0)}


def draw(rng: np.random.Generator, dtype: type, *, with_delta: bool) -> tuple:
    arch = str(rng.choice(["logits", "simple", "sigmoid", "relu"]))
    n = 1 if rng.random() < 0.2 else int(rng.integers(2, 17))
    i, hdim, k = (int(v) for v in rng.integers([1, 1, 2], [9, 9, 7]))
    w_scale = float(10 ** rng.uniform(-3, 0.5))
    x_scale = float(10 ** rng.uniform(-2, 1))
    net = UserNet(rng, arch, i, hdim, k, w_scale, dtype)
    x = (x_scale * rng.standard_normal((n, i))).astype(dtype)
    if arch == "logits":
        net.params["a"] = (w_scale * 10 * rng.standard_normal((n, k))).astype(dtype)
    kind = str(rng.choice(["labels", "one-hot", "soft"]))
    labels = rng.integers(0, k, n)
    t = np.eye(k)[labels] if kind != "soft" else rng.dirichlet(np.ones(k), n)
    t = t.astype(dtype)
    return net, x, t, {"arch": arch, "n": n, "shape": (i, hdim, k), "w": w_scale,
                       "x": x_scale, "targets": kind}


def min_true_prob(net: UserNet, x: np.ndarray, t: np.ndarray) -> float:
    a, _ = net.logits({k: v.astype(np.float64) for k, v in net.params.items()},
                      x.astype(np.float64))
    y = _softmax(a)
    return float(np.min(y[t > 0]))


def cases(seed: int, count: int, dtype: type):
    """Yield (net, x, t, delta, description); redraws δ cases outside the documented domain."""
    rng = np.random.default_rng([seed, 0 if dtype is np.float64 else 1])
    redrawn = 0
    made = 0
    while made < count:
        with_delta = rng.random() < 0.3
        net, x, t, desc = draw(rng, dtype, with_delta=with_delta)
        delta = DELTA if with_delta else None
        if with_delta and min_true_prob(net, x, t) < MIN_PROB_FOR_DELTA:
            redrawn += 1
            continue
        made += 1
        yield net, x, t, delta, desc
    cases.redrawn = redrawn  # type: ignore[attr-defined]


def false_alarms(seed: int, count: int, dtype: type, *, declare_smooth: bool = False
                 ) -> tuple[int, list]:
    """Correct cases failing: with the defaults, or with kinks=False for the smooth nets."""
    alarms = []
    for j, (net, x, t, delta, desc) in enumerate(cases(seed, count, dtype)):
        p = net.params
        kinks = not declare_smooth or net.arch == "relu"
        res = check_gradient(lambda q, net=net, x=x, t=t, d=delta: net.loss(q, x, t, d), p,
                             lambda q, net=net, x=x, t=t: net.gradient(q, x, t), delta=delta,
                             kinks=kinks)
        if not res.passed:
            alarms.append((j, desc, delta, res.message.splitlines()[:4]))
    return len(alarms), alarms


def planted(seed: int, count: int, dtype: type, errors: list[float], *,
            declare_smooth: bool = False) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Fraction of cases where a gradient scaled by 1 + e fails, for each e (same bound), for
    the exact loss and for δ in the log (judged with delta=, whose allowance dominates)."""
    keys = [f"{a}, {b}" for a in ("exact loss", "delta=1e-7") for b in ("smooth", "ReLU")]
    caught = {k: np.zeros(len(errors)) for k in keys}
    seen = dict.fromkeys(keys, 0)
    for net, x, t, delta, _ in cases(seed + 1, count, dtype):
        key = ("delta=1e-7" if delta else "exact loss") + (
            ", ReLU" if net.arch == "relu" else ", smooth")
        kinks = not declare_smooth or net.arch == "relu"
        seen[key] += 1
        p = net.params
        g = net.gradient(p, x, t)
        f0 = _loss_value(net.loss(p, x, t, delta))[0]
        eps = float(np.finfo(dtype).eps)
        h = 1e-4 if dtype is np.float64 else 5e-3
        parts = []
        for k, arr in p.items():
            d, bound = _central(lambda q, n=net, x=x, t=t, dl=delta: n.loss(q, x, t, dl), p, arr,
                                h, f0, eps, kinks=kinks)
            a = g[k].astype(np.float64)
            bound.own = C_ROUND * eps * float(np.max(np.abs(a)))
            if delta:
                bound.convention = _delta_allowance(d)
            parts.append((a, d, bound.total))
        for j, e in enumerate(errors):
            if any(np.any(np.abs(a * (1 + e) - d) > b) for a, d, b in parts):
                caught[key][j] += 1
    return {k: v / max(seen[k], 1) for k, v in caught.items()}, seen


def _e(values: list[float]) -> str:
    return f"{min(values):.1e}" if values else "none up to 1e-1"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000, help="correct cases, over both dtypes")
    ap.add_argument("--planted", type=int, default=600, help="cases per dtype for detection")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="PATH", help="also write the figures there (for "
                    "scripts/oracle_figures.py, which puts them in the README)")
    argv = sys.argv[1:]
    args = ap.parse_args(argv)
    start = time.perf_counter()
    errors = [10.0 ** k for k in np.arange(-10, -0.5, 0.5)]
    results: dict[str, list[dict]] = {"false_alarms": [], "detection": []}
    for declare_smooth in (False, True):
        how = ("kinks=False for the smooth nets (declared)" if declare_smooth
               else "defaults (kinks=True)")
        short = "kinks=False declared for smooth nets" if declare_smooth else "defaults"
        print(f"== {how}", flush=True)
        total = 0
        for dtype in (np.float64, np.float32):
            n = args.cases // 2
            count, alarms = false_alarms(args.seed, n, dtype, declare_smooth=declare_smooth)
            total += count
            results["false_alarms"].append({"how": short, "dtype": np.dtype(dtype).name,
                                            "cases": n, "alarms": count,
                                            "redrawn": cases.redrawn})
            print(f"{np.dtype(dtype).name}: {count} false alarms over {n} correct cases "
                  f"({cases.redrawn} δ draws outside y_t >= {MIN_PROB_FOR_DELTA:.3g} redrawn)",
                  flush=True)
            for j, desc, delta, lines in alarms[:5]:
                print(f"  case {j} {desc} delta={delta}:", *lines, sep="\n    ")
        print(f"total: {total} false alarms over {2 * (args.cases // 2)} correct cases "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
        for dtype in (np.float64, np.float32):
            found, seen = planted(args.seed, args.planted, dtype, errors,
                                  declare_smooth=declare_smooth)
            for key, frac in found.items():
                row = "  ".join(f"{e:.0e}:{f:.2f}" for e, f in zip(errors, frac, strict=True))
                every = [e for e, f in zip(errors, frac, strict=True) if f == 1.0]
                half = [e for e, f in zip(errors, frac, strict=True) if f >= 0.5]
                most = [e for e, f in zip(errors, frac, strict=True) if f >= 0.9]
                name = np.dtype(dtype).name
                results["detection"].append({
                    "how": short, "dtype": name, "key": key, "cases": seen[key],
                    "half": min(half, default=None), "most": min(most, default=None),
                    "every": min(every, default=None)})
                print(f"{name}, {key}: planted 1+e, fraction caught: {row}")
                print(f"{name}, {key}: smallest e caught in every case {_e(every)}, in 90% "
                      f"{_e(most)}, in half {_e(half)}", flush=True)
    if args.json:
        from oracle_figures import save

        print(f"wrote {save(args.json, argv, start, results)}")


if __name__ == "__main__":
    main()
