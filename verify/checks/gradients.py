"""Gradients of SimpleNet and TwoLayerNet five ways, at several random points and batch sizes.

Reference: NumPy float64 backprop on the exact (log-sum-exp) loss.  It is itself checked against
NumPy's central differences (kind "numerical": the truncation error of h = 1e-4).  Candidates:
each engine's backprop, torch's autograd and torch's batched central differences (float64 only:
in float32, rounding/h swamps the derivative, which numerical_gradient warns about).
"""

from __future__ import annotations

import warnings

import numpy as np

from reference_numpy.networks import PARAM_NAMES as PARAMS

from ..observe import Observation
from . import accuracy, fused_extremes
from .context import Context, book_init, r32

GROUP = "gradients"


def configs(ctx: Context) -> list[dict]:
    """Network shapes, activations and batches; MNIST rows for the book's 784-50-10."""
    (x, t), _ = ctx.mnist[0]
    rng = ctx.rng(2)
    n_mnist = 20 if ctx.quick else 100
    start = int(rng.integers(0, len(x) - n_mnist))
    out = [
        dict(name="784-50-10 sigmoid, MNIST batch", sizes=(784, 50, 10), std=0.01,
             x=x[start:start + n_mnist].astype(np.float64), t=t[start:start + n_mnist]),
        dict(name="784-50-10 sigmoid, 1 image", sizes=(784, 50, 10), std=0.01,
             x=x[start:start + 1].astype(np.float64), t=t[start:start + 1]),
        # An all-zero image: W1's gradient gets nothing from it, b1's still does.
        dict(name="784-50-10 sigmoid, batch with an all-zero image", sizes=(784, 50, 10),
             std=0.01, x=np.vstack([np.zeros((1, 784)), x[start:start + 4]]).astype(np.float64),
             t=t[start:start + 5]),
        # hidden = output = 10 makes W2 square, so a transposed W2 in backprop still runs.
        dict(name="12-10-10 sigmoid, trained-scale weights", sizes=(12, 10, 10), std=0.8),
        dict(name="12-7-4 relu", sizes=(12, 7, 4), std=0.8, activation="relu"),
        dict(name="12-7-4 sigmoid, dropout + weight decay", sizes=(12, 7, 4), std=0.8,
             dropout_ratio=0.3, weight_decay_lambda=0.05),
        # The book's loss, log(softmax + δ): its gradient is (y - t)/N only up to δ, so the
        # reference's own check against central differences uses kind numerical_delta.
        dict(name="12-7-4 sigmoid, the book's cross_entropy_error (δ = 1e-7)",
             sizes=(12, 7, 4), std=0.8, loss="cross_entropy_error"),
        # Soft targets (rows of probabilities): the loss -Σ t·log softmax / N, whose gradient is
        # still (y - t)/N, through the target branch of every path (the batched numerical
        # gradient's included).
        dict(name="12-7-4 sigmoid, soft targets", sizes=(12, 7, 4), std=0.8, soft=True),
        # One-hot targets take the loss's other branch, Σ t·log(y + δ), in both engines.
        dict(name="12-7-4 sigmoid, the book's cross_entropy_error (δ = 1e-7), one-hot targets",
             sizes=(12, 7, 4), std=0.8, loss="cross_entropy_error", one_hot=True),
    ]
    for i, c in enumerate(out):
        if "x" not in c:
            r = ctx.rng(20 + i)
            c["x"] = r.standard_normal((7, c["sizes"][0]))
            c["t"] = r.integers(0, c["sizes"][2], 7)
        if c.pop("one_hot", False):
            c["t"] = np.eye(c["sizes"][2])[c["t"]]
        if c.pop("soft", False):
            c["t"] = ctx.rng(30 + i).dirichlet(np.ones(c["sizes"][2]), len(c["x"]))
        r = ctx.rng(40 + i)
        c["params"] = {k: r32(v) for k, v in _params(r, *c["sizes"], c["std"]).items()}
        c["x"] = r32(c["x"])
        if c.get("dropout_ratio"):
            c["mask"] = r.random((len(c["x"]), c["sizes"][1])) > c["dropout_ratio"]
    return out


def _params(rng, i, h, k, std):
    return {"W1": std * rng.standard_normal((i, h)), "b1": 0.1 * rng.standard_normal(h),
            "W2": std * rng.standard_normal((h, k)), "b2": 0.1 * rng.standard_normal(k)}


def _net_kw(c: dict) -> dict:
    return {k: c[k] for k in ("activation", "dropout_ratio", "weight_decay_lambda", "loss")
            if k in c}


def observe(ctx: Context) -> list[Observation]:
    obs: list[Observation] = []
    ref = ctx.reference
    cases = configs(ctx)
    for c in cases:
        mask = c.get("mask")
        rnet = ref.make_net(c["params"], **_net_kw(c))
        r_bp = ref.net_gradients(rnet, c["x"], c["t"], "backprop", mask)
        r_num = ref.net_gradients(rnet, c["x"], c["t"], "numerical", mask)
        r_loss = ref.net_loss(rnet, c["x"], c["t"], mask)
        for p in PARAMS:
            obs.append(Observation("reference backprop vs central differences", GROUP,
                                   ref.name, "float64",
                                   "numerical_delta" if c.get("loss") else "numerical",
                                   f"{c['name']}, grad {p}", r_bp[p], r_num[p]))
        for eng in ctx.engines:
            net = eng.make_net(c["params"], **_net_kw(c))
            obs.append(Observation("TwoLayerNet loss", GROUP, eng.name, eng.tolerance_class,
                                   "loss", c["name"], np.atleast_1d(eng.net_loss(
                                       net, c["x"], c["t"], mask)), np.atleast_1d(r_loss)))
            # With δ in the log, autograd differentiates the loss exactly while backprop is the
            # book's (y - t)/N: autograd is then held to central differences (float64 only).
            delta_loss = bool(c.get("loss"))
            kinds = ["backprop"] + (["autograd"] if eng.framework == "torch" and not (
                delta_loss and eng.dtype != "float64") else [])
            if eng.framework == "torch" and eng.dtype == "float64":
                kinds.append("numerical")
            for kind in kinds:
                g = eng.net_gradients(net, c["x"], c["t"], kind, mask)
                numeric = kind == "numerical" or (kind == "autograd" and delta_loss)
                tkind = "numerical" if numeric else "gradient"
                expected = r_num if numeric else r_bp
                for p in PARAMS:
                    obs.append(Observation(f"TwoLayerNet gradient ({kind})", GROUP, eng.name,
                                           eng.tolerance_class, tkind, f"{c['name']}, grad {p}",
                                           g[p], expected[p]))
    obs += _simplenet(ctx)
    obs += _element_loop(ctx, cases)
    obs += _restores(ctx)
    obs += _chunking(ctx, cases)
    obs += accuracy.observe(ctx)
    obs += fused_extremes.observe(ctx)
    return obs


def _restores(ctx: Context) -> list[Observation]:
    """numerical_gradient must hand the parameters back bit for bit (compared as raw bits)."""
    obs = []
    w = r32(ctx.rng(70).standard_normal((2, 3)))
    x, t = np.array([0.6, 0.9]), np.array([0.0, 0.0, 1.0])
    for eng in [ctx.reference] + [e for e in ctx.engines if e.dtype == "float64"]:
        net = eng.mod("networks").SimpleNet(W=eng.to(w))
        before = eng.back(net.W).copy()
        net.numerical_gradient(eng.to(x), eng.to(t))
        after = eng.back(net.W)
        changed = np.array([float(np.count_nonzero(after.view(np.uint64)
                                                   != before.view(np.uint64)))])
        obs.append(Observation("numerical_gradient restores parameters bit for bit", GROUP,
                               eng.name, "exact", "restore", "SimpleNet.W: elements changed",
                               changed, np.zeros(1)))
    return obs


def _chunking(ctx: Context, cases: list[dict]) -> list[Observation]:
    """``numerical_gradient_fast(..., chunk=1)``: every block as small as it can be, against
    the default blocks, bit for bit.  Each value is the same arithmetic whatever block it is
    evaluated in, so on a CPU the two agree exactly (0 difference measured in both engines and
    dtypes, 3 seeds); on CUDA a reduction may take another order for another block shape, and
    nothing measured there bounds it, so only CPU engines are compared."""
    obs = []
    for c in cases:
        # relu, dropout, and the δ loss on one-hot targets (NumPy's direct path, not its
        # moment series)
        if not c["name"].startswith(("12-7-4 relu", "12-7-4 sigmoid, dropout")) and not (
                c["name"].endswith("one-hot targets")):
            continue
        for eng in [ctx.reference, *ctx.engines]:
            if eng.device != "cpu":
                continue
            net = eng.make_net(c["params"], **_net_kw(c))
            # float32's PrecisionWarning (h = 1e-4 is coarse there) is the user's cue, not this
            # row's: the two blockings are compared with each other, bit for bit.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                whole = eng.net_gradients(net, c["x"], c["t"], "numerical", c.get("mask"))
                ones = eng.net_gradients(net, c["x"], c["t"], "numerical", c.get("mask"),
                                         chunk=1)
            for p in PARAMS:
                obs.append(Observation("numerical_gradient_fast in blocks of one (chunk=1)",
                                       GROUP, eng.name, "exact", "chunking",
                                       f"{c['name']}, grad {p}", ones[p], whole[p]))
    return obs


def _element_loop(ctx: Context, cases: list[dict]) -> list[Observation]:
    """``TwoLayerNet.numerical_gradient(x, t)`` as the book calls it: the element loop with its
    default h, on a small network (the batched version above stands in for it on MNIST sizes),
    against the reference's backprop, for every float64 engine (the reference's own too)."""
    c = next(c for c in cases if c["name"].startswith("12-10-10"))
    r_bp = ctx.reference.net_gradients(ctx.reference.make_net(c["params"]), c["x"], c["t"],
                                       "backprop", None)
    obs = []
    for eng in [ctx.reference] + [e for e in ctx.engines if e.dtype == "float64"]:
        net = eng.make_net(c["params"])
        g = net.numerical_gradient(eng.to(c["x"]), eng.to_targets(c["t"]))
        for p in PARAMS:
            obs.append(Observation("TwoLayerNet.numerical_gradient (element loop, default h)",
                                   GROUP, eng.name, "float64", "numerical",
                                   f"{c['name']}, grad {p}", eng.back(g[p]), r_bp[p]))
    return obs


def _simplenet(ctx: Context) -> list[Observation]:
    """The chapter's SimpleNet at x = (0.6, 0.9), t = class 2, random W (book's δ loss).

    SimpleNet holds float64 weights in both references, as the chapter's example does."""
    obs = []
    for j in range(2 if ctx.quick else 4):
        w = r32(ctx.rng(60 + j).standard_normal((2, 3)))
        x, t = np.array([0.6, 0.9]), np.array([0.0, 0.0, 1.0])
        rmod = ctx.reference.mod("networks")
        rnet = rmod.SimpleNet(W=w)
        r_bp = rnet.gradient(x, t)
        r_num = rnet.numerical_gradient(x, t)
        obs.append(Observation("SimpleNet backprop vs central differences", GROUP,
                               ctx.reference.name, "float64", "numerical_delta",
                               f"point {j}", r_bp, r_num))
        # Its batched form perturbs copies of W by the same h: the loop's numbers.
        for eng in [ctx.reference] + [e for e in ctx.engines if e.dtype == "float64"]:
            net = eng.mod("networks").SimpleNet(W=eng.to(w))
            obs.append(Observation("SimpleNet.numerical_gradient_fast vs its element loop",
                                   GROUP, eng.name, "float64", "printed", f"point {j}",
                                   np.asarray(eng.back(net.numerical_gradient_fast(
                                       eng.to(x), eng.to(t))), dtype=np.float64), r_num))
        for eng in [e for e in ctx.engines if e.dtype == "float64"]:  # SimpleNet is float64
            net = eng.mod("networks").SimpleNet(W=eng.to(w))
            g = eng.back(net.gradient(eng.to(x), eng.to(t)))
            obs.append(Observation("SimpleNet gradient (backprop)", GROUP, eng.name,
                                   eng.tolerance_class, "gradient", f"point {j}", g, r_bp))
    # The notes build it with no arguments: W is then a (2, 3) draw of N(0, 1) from
    # default_rng(seed), the same weights in both engines.
    want = np.random.default_rng(ctx.seed).standard_normal((2, 3))
    for eng in [ctx.reference] + [e for e in ctx.engines if e.dtype == "float64"]:
        label = "W"
        try:
            got = eng.back(eng.mod("networks").SimpleNet(seed=ctx.seed).W)
        except Exception as e:  # a refusal of its own default is this row failing
            got, label = np.full(want.shape, np.nan), f"W: raised {type(e).__name__}: {e}"
        obs.append(Observation("SimpleNet(seed=s): W = N(0, 1) of shape (2, 3) from "
                               "default_rng(s)", GROUP, eng.name, "exact", "defaults", label,
                               *_same_shape(got, want)))
    # TwoLayerNet(i, h, k, seed=s): the book's initialisation, W = 0.01·N(0, 1) (W1's draws,
    # then W2's, from default_rng(s)), b = 0, in the engine's dtype.
    i, h, k = 6, 4, 3
    init = book_init(np.random.default_rng(ctx.seed), (i, h, k), 0.01)
    for eng in [ctx.reference, *ctx.engines]:
        where = {} if eng.framework == "numpy" else {"device": eng.device}
        net = eng.mod("networks").TwoLayerNet(i, h, k, seed=ctx.seed, dtype=eng.dtype, **where)
        for name in PARAMS:
            want = init[name].astype(eng.dtype).astype(np.float64)
            obs.append(Observation("TwoLayerNet(i, h, k, seed=s): the book's initialisation",
                                   GROUP, eng.name, "exact", "defaults", name,
                                   *_same_shape(eng.back(net.params[name]), want)))
    return obs


def _same_shape(got: np.ndarray, want: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(got, want) to compare; a wrong shape as a NaN against the wanted values, so it fails
    the exact rule."""
    return (got, want) if got.shape == want.shape else (np.full(want.shape, np.nan), want)
