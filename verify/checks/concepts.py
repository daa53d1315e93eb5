"""The study notes' concepts beyond the loss functions, in every engine.

* Information: each engine's cross-entropy H(p, q), and H(p) + KL(p‖q) (the identity
  H(p, q) = H(p) + KL(p‖q)), against H(p, q) computed here in float64 with ``math.fsum``
  (the exactly rounded sum of the terms -p log q): so a bug in one function of one engine,
  or the same bug in both engines, moves a row.  Likewise the information content log 1/p
  (in nats, the default, and in bits) and the entropy as its expectation E_p[log 1/p].
* The directional derivative D_v f(x) = ∇f(x)·v / |v| of each float64 engine (central
  differences along v / |v|) against the analytic gradient: f is the exact softmax
  cross-entropy of logits, whose gradient (softmax(z) - onehot(t)) / N is written out here.
* The loss along one weight (``landscape.loss_along_weight``): each engine's curve against the
  reference's, and the reference's own slope at the weight (two points ±h of the curve)
  against its backprop gradient entry.
* The notes' training loop driven by central differences (``train(gradient="numerical")``):
  each float64 engine's run against the loop written here from the same engine's public
  pieces (``numerical_gradient_fast``, ``SGD.update``, ``loss``), on a 784-3-10 network and a
  few MNIST rows, byte for byte: the two do the same arithmetic in the same order.
* The warning of a too-small h (``gradient.step_warning``, which ``numerical_diff`` gives):
  at each (x, h), which warning each engine gives against the definition written here,
  including (x, h) at the edges of both tests.
"""

from __future__ import annotations

import math

import numpy as np

from reference_numpy.networks import PARAM_NAMES as PARAMS

from ..observe import Observation
from .context import Context, r32

GROUP = "concepts"

#: Step of the directional and landscape differences: the chapter's h.
H = 1e-4


def _distributions(ctx: Context) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(p, q) rows per case, float32-representable and each row summing to 1 within 1e-6."""
    rng = ctx.rng(80)
    k = 10

    def rows(a: np.ndarray) -> np.ndarray:
        a = r32(a / a.sum(axis=1, keepdims=True))
        return a

    p = rows(rng.dirichlet(np.ones(k), 6))
    q = rows(rng.dirichlet(np.ones(k), 6))
    sparse = np.where(rng.random((6, k)) < 0.5, 0.0, rng.random((6, k)))
    sparse[:, 0] += 0.1  # no empty row
    peaked = np.full((6, k), 1e-9)
    peaked[np.arange(6), rng.integers(0, k, 6)] = 1.0
    # q = 0 only where p = 0: every term 0·log 0 is 0, so H(p, q) is finite.
    q_zeros = np.where((sparse == 0) & (rng.random((6, k)) < 0.5), 0.0, rng.random((6, k)) + 0.1)
    return {
        "typical": (p, q),
        "zeros in p": (rows(sparse), q),
        "zeros in p and q (0 log 0)": (rows(sparse), rows(q_zeros)),
        "q near 0 where p is not": (p, rows(peaked)),
        "q = p (KL = 0)": (p, p.copy()),
    }


def _exact_cross_entropy(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """H(p, q) per row, the terms -p log q rounded once each and summed exactly (fsum)."""
    return np.array([math.fsum(-pi * math.log(qi) for pi, qi in zip(pr, qr, strict=True)
                               if pi > 0) for pr, qr in zip(p, q, strict=True)])


def _information(ctx: Context) -> list[Observation]:
    obs = []
    for case, (p, q) in _distributions(ctx).items():
        exact = _exact_cross_entropy(p, q)
        for eng in [ctx.reference, *ctx.engines]:
            info = eng.mod("information")
            pe, qe = eng.to(p), eng.to(q)
            h_pq = eng.back(info.cross_entropy(pe, qe))
            h_p_kl = eng.back(info.entropy(pe)) + eng.back(info.kl_divergence(pe, qe))
            obs.append(Observation("cross-entropy H(p, q) vs float64 fsum", GROUP, eng.name,
                                   eng.tolerance_class, "information", case, h_pq, exact))
            obs.append(Observation("information identity H(p) + KL(p||q) = H(p, q)", GROUP,
                                   eng.name, eng.tolerance_class, "information", case, h_p_kl,
                                   exact))
    p, q = _distributions(ctx)["typical"]
    surprise = np.array([[-math.log(v) for v in row] for row in p])
    h_p = np.array([math.fsum(-v * math.log(v) for v in row) for row in p])
    kl = np.array([math.fsum(pi * math.log(pi / qi) for pi, qi in zip(pr, qr, strict=True))
                   for pr, qr in zip(p, q, strict=True)])
    in_bits = np.concatenate([h_p, _exact_cross_entropy(p, q), kl]) / math.log(2)
    for eng in [ctx.reference, *ctx.engines]:
        info, pe, qe = eng.mod("information"), eng.to(p), eng.to(q)
        got = np.concatenate([eng.back(info.entropy(pe, base=2)),
                              eng.back(info.cross_entropy(pe, qe, base=2)),
                              eng.back(info.kl_divergence(pe, qe, base=2))])
        obs.append(Observation("entropy, cross-entropy and KL divergence in bits (base 2)",
                               GROUP, eng.name, eng.tolerance_class, "information",
                               "typical: H(p), H(p, q), KL(p||q)", got, in_bits))
    for eng in [ctx.reference, *ctx.engines]:
        info, pe = eng.mod("information"), eng.to(p)
        nats = eng.back(info.information_content(pe))
        bits = eng.back(info.information_content(pe, base=2))
        # The notes' E(x) = Σ x p(x) with x = log(1/p(x)): the entropy as an expectation.
        expected_info = eng.back(info.expectation(info.information_content(pe), pe))
        obs.append(Observation("information content log 1/p (nats, and bits)", GROUP, eng.name,
                               eng.tolerance_class, "information", "typical",
                               np.concatenate([nats, bits]).ravel(),
                               np.concatenate([surprise, surprise / math.log(2)]).ravel()))
        obs.append(Observation("entropy as the expected information content E_p[log 1/p]",
                               GROUP, eng.name, eng.tolerance_class, "information", "typical",
                               expected_info, h_p))
    return obs


def _directional(ctx: Context) -> list[Observation]:
    obs = []
    n, k = 5, 4
    for j in range(2 if ctx.quick else 4):
        rng = ctx.rng(90 + j)
        z = r32(2 * rng.standard_normal((n, k)))
        v = r32(rng.standard_normal((n, k)))
        t = rng.integers(0, k, n)
        y = np.exp(z - z.max(axis=1, keepdims=True))
        y /= y.sum(axis=1, keepdims=True)
        y[np.arange(n), t] -= 1
        exact = np.array([np.sum(y / n * v) / np.linalg.norm(v)])
        for eng in [ctx.reference, *(e for e in ctx.engines if e.dtype == "float64")]:
            sce = eng.fn("functions", "softmax_cross_entropy")
            labels = eng.to_labels(t)
            d = eng.fn("gradient", "directional_derivative")(
                lambda w, f=sce, lb=labels: f(w, lb), eng.to(z), eng.to(v), h=H)
            obs.append(Observation("directional derivative vs gradient·v/|v|", GROUP, eng.name,
                                   eng.tolerance_class, "directional", f"point {j}",
                                   np.atleast_1d(eng.back(d)).astype(np.float64), exact))
    return obs


def _landscape(ctx: Context) -> list[Observation]:
    obs = []
    rng = ctx.rng(95)
    sizes, std = (12, 7, 4), 0.8
    params = {"W1": std * rng.standard_normal(sizes[:2]), "b1": 0.1 * rng.standard_normal(7),
              "W2": std * rng.standard_normal(sizes[1:]), "b2": 0.1 * rng.standard_normal(4)}
    params = {k: r32(v) for k, v in params.items()}
    x, t = r32(rng.standard_normal((9, 12))), rng.integers(0, 4, 9)
    offsets = r32(np.linspace(-2.0, 2.0, 17))
    slope_at = np.array([-H, H])
    for param, where in (("W1", (3, 5)), ("b2", (2,))):
        rnet = ctx.reference.make_net(params)
        along = ctx.reference.fn("landscape", "loss_along_weight")
        _, r_losses = along(rnet, x, t, param, where, offsets)
        _, ends = along(rnet, x, t, param, where, slope_at)
        slope = np.array([(ends[1] - ends[0]) / (2 * H)])
        grad = ctx.reference.net_gradients(rnet, x, t, "backprop")[param][where]
        obs.append(Observation("loss along one weight: slope vs backprop", GROUP,
                               ctx.reference.name, "float64", "numerical", f"{param}{where}",
                               slope, np.atleast_1d(grad)))
        for eng in ctx.engines:
            net = eng.make_net(params)
            fn = eng.fn("landscape", "loss_along_weight")
            _, losses = fn(net, eng.to(x), eng.to_labels(t), param, where, eng.to(offsets))
            obs.append(Observation("loss along one weight (landscape)", GROUP, eng.name,
                                   eng.tolerance_class, "loss", f"{param}{where}",
                                   eng.back(losses).astype(np.float64), r_losses))
    return obs


#: The notes' numerical-gradient loop, kept small: 2 x 2,395 perturbed losses per step.
NUMERICAL_ROWS, NUMERICAL_BATCH, NUMERICAL_ITERS, NUMERICAL_HIDDEN, NUMERICAL_LR = 40, 5, 4, 3, 0.5


def _numerical_training(ctx: Context) -> list[Observation]:
    from reference_numpy.plan import TrainPlan

    (x, t), (xt, tt) = ctx.mnist[0]
    x, t = x[:NUMERICAL_ROWS].astype(np.float64), t[:NUMERICAL_ROWS]
    xt, tt = xt[:NUMERICAL_ROWS].astype(np.float64), tt[:NUMERICAL_ROWS]
    plan = TrainPlan(NUMERICAL_ROWS, NUMERICAL_BATCH, NUMERICAL_ITERS, seed=ctx.seed,
                     hidden_size=NUMERICAL_HIDDEN)
    obs = []
    for eng in [ctx.reference] + [e for e in ctx.engines if e.dtype == "float64"]:
        net = eng.make_net(plan.initial_params())
        hist = eng.mod("training").train(net, eng.to(x), eng.to_labels(t), eng.to(xt),
                                         eng.to_labels(tt), plan, learning_rate=NUMERICAL_LR,
                                         progress=False, gradient="numerical")
        loop = eng.make_net(plan.initial_params())
        sgd = eng.fn("optimizers", "SGD")(lr=NUMERICAL_LR)
        losses = []
        for i in range(plan.iters_num):
            idx = plan.batch(i)
            xb, tb = eng.to(x[idx]), eng.to_labels(t[idx])
            sgd.update(loop.params, loop.numerical_gradient_fast(xb, tb))
            losses.append(float(eng.back(loop.loss(xb, tb))))
        name = "train(gradient='numerical'): the notes' loop"
        obs.append(Observation(name, GROUP, eng.name, "exact", "loss", "loss of each step",
                               np.asarray(hist.train_loss_list, dtype=np.float64),
                               np.asarray(losses)))
        obs += [Observation(name, GROUP, eng.name, "exact", "update", f"final {k}",
                            eng.back(net.params[k]), eng.back(loop.params[k]))
                for k in PARAMS]
    return obs


#: Where rounding starts to dominate a float64 central difference of an f with |f| ~ |f‴| ~ 1:
#: the minimum of eps·|f|/h + h²·|f‴|/6 is at h* = (3 eps)^(1/3) ≈ 8.7e-6, relative to
#: max(1, |x|).
ROUNDING_STEP = (3 * float(np.finfo(np.float64).eps)) ** (1 / 3)

#: (x, h) cases: the notes' x = 5 with the book's bad h = 1e-50, steps on both sides of h*,
#: the chapter's h = 1e-4 (no warning) and an x whose scale moves h* (1e6: 1e-4 is too small).
#: Then the edges: at x = ±1 a step of 0.6 ulp(1)/2 leaves x unchanged on the side away from
#: zero only (the spacing halves below |x| = 1), and steps 0.05 % either side of h* at x = 0.5.
STEP_CASES = ((5.0, 1e-50), (5.0, 1e-15), (5.0, 1e-6), (5.0, 1e-4), (0.5, 9e-6), (0.5, 8e-6),
              (-3.0, 1e-17), (1e6, 1e-4), (1e6, 10.0), (1.0, 0.6 * 2.0**-53),
              (-1.0, 0.6 * 2.0**-53), (0.5, ROUNDING_STEP * 1.0005),
              (0.5, ROUNDING_STEP * 0.9995))
NO_WARNING, X_PLUS_H_IS_X, ROUNDING_DOMINATES = 0, 1, 2


def expected_step_warning(x: float, h: float) -> int:
    """Which warning a step h at x deserves: x ± h == x in float64 (the difference is 0), else
    h below h*·max(1, |x|) (rounding dominates), else none."""
    if x + h == x or x - h == x:
        return X_PLUS_H_IS_X
    return ROUNDING_DOMINATES if h < ROUNDING_STEP * max(1.0, abs(x)) else NO_WARNING


def _warning_code(message: str | None) -> int:
    if message is None:
        return NO_WARNING
    if "x + h == x" in message:
        return X_PLUS_H_IS_X
    return ROUNDING_DOMINATES if "rounding dominates" in message else -1


def _step_warnings(ctx: Context) -> list[Observation]:
    expected = np.array([expected_step_warning(x, h) for x, h in STEP_CASES], dtype=np.float64)
    label = "(x, h): " + ", ".join(f"({x:g}, {h:.5g})" for x, h in STEP_CASES)
    obs = []
    for eng in [ctx.reference, *[e for e in ctx.engines if e.dtype == "float64"]]:
        warn = eng.fn("gradient", "step_warning")
        got = np.array([_warning_code(warn(x, h)) for x, h in STEP_CASES], dtype=np.float64)
        obs.append(Observation("numerical_diff's too-small-h warning", GROUP, eng.name, "exact",
                               "step_warning", label, got, expected))
    return obs


def observe(ctx: Context) -> list[Observation]:
    return (_information(ctx) + _directional(ctx) + _landscape(ctx) + _numerical_training(ctx)
            + _step_warnings(ctx))
