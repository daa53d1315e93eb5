"""Tolerance classes, each derived from measured noise and written down with that measurement.

A candidate is judged against the float64 NumPy reference, never against another candidate.
An element passes when |a - e| <= atol_scale * max|e| + atol + rtol * |e|, where max|e| is taken
over the tensor being compared (so near-zero elements of a gradient are judged against the
gradient's scale, not their own), and the tensor when also ||a - e|| / ||e|| <= frob; the rule
itself is :func:`verify.compare.compare_arrays`, and every entry here is a
:class:`verify.compare.Tolerance`.

Classes:
* ``float64``: any float64 engine on any device.  Differences come only from summation order.
* ``float32-cpu``: float32 on the CPU (NumPy or torch).
* ``float32-cuda``: float32 on a GPU with TF32 off (same bound as float32-cpu until measured on a
  GPU: CUDA reductions reorder sums, which float32-cpu's measurement already covers in size).
* ``tf32``: float32 with TF32 matmuls.  Its 10-bit mantissa gives ~1e-4-3e-4 relative gradient
  error (anchors: emulated TF32), so it is allowed only when declared (``--allow-tf32``); a
  float32 run with TF32 on and undeclared fails the precision check.
* ``exact``: byte-for-byte equality (data).

How the numbers were obtained: ``python -m verify calibrate --seeds 20`` runs every check with no
bug planted on 20 seeds and prints, per class and kind, the largest scale-relative error
(max|a-e|/max|e|) and the largest relative error of the large elements (|e| >= 0.1 max|e|).  Each
tolerance below is that measurement times a safety factor of 10 (rounded up), and the measured
value is written beside it.  Selftest then shows that the planted bugs still exceed them.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from .compare import Tolerance

__all__ = ["KINDS", "TOLERANCES", "tolerance_for", "curve_band", "flip_band", "SAFETY"]

SAFETY = 10.0

#: Fingerprint noise of a golden trajectory, measured (scripts/measure_golden_noise.py): max
#: |a-e|/max|e| 1.7e-15 and relative Frobenius 1.4e-15 over 3 seeds x 1,300 iterations; 5.8e-15
#: and 5.5e-15 over 1 seed x 10,000 (noise grows with the run).  SAFETY x the larger, rounded up.
GOLDEN_FP_MEASURED = (5.8e-15, 5.5e-15)

#: Every quantity kind an observation can be judged as, and what it covers.  The tables below
#: use these names only (checked at import), and a lookup of any other kind is refused.
KINDS: dict[str, str] = {
    "function": "activations and losses on typical inputs",
    "function_adversarial": "the same on ill-conditioned inputs (huge logits, ties, exact zeros, "
    "NaN/Inf, probabilities at 0 or 1)",
    "gradient": "network gradients vs backprop",
    "numerical": "central differences vs backprop: truncation error of h = 1e-4",
    "numerical_delta": "the same with the book's δ in the loss",
    "loss": "TwoLayerNet's loss",
    "update": "optimizer: change of the parameters",
    "replay_grad": "training step replay: the gradient",
    "replay_update": "training step replay: the change of the parameters",
    "replay_loss": "training step replay: the loss after the update",
    "printed": "the notes' numbers, printed to 16-17 significant digits",
    "printed8": "the notes' numbers, printed to 8 significant digits",
    "order": "convergence orders (absolute)",
    "order_fit": "convergence_order with its default steps against the same fit computed here",
    "descent": "gradient_descent: the point after n steps (verify.api.differentiation)",
    "numerical32": "numerical_gradient of a float32 x vs the float64 central difference",
    "information": "cross-entropy, entropy + KL divergence, information content and entropy "
    "as its expectation, against math.log and fsum in float64",
    "directional": "directional derivative (central differences along v/|v|) vs gradient·v/|v|",
    "data": "MNIST arrays (class exact)",
    "restore": "elements numerical_gradient changed (class exact)",
    "chunking": "the batched numerical gradient in blocks of one against its default blocks "
    "(class exact)",
    "curve": "free-running loss: relative difference, by step (CURVE_BANDS)",
    "flips": "prediction flips and changes of a correct count (FLIP_FRACTION)",
    "fused_loss": "the fused (fast-path) loss at extreme logits",
    "fused_params": "the parameters after one fused (fast-path) SGD step at extreme logits",
    "fused_params_relu": "the same with relu hidden units",
    "distributed": "a data-parallel (2 gloo ranks) run against one process: losses, parameters",
    "golden_count": "correct counts at each evaluation against a golden trajectory",
    "golden_fingerprint": "parameter fingerprints (sum, norm, sampled values) against a golden "
    "trajectory",
    "regime_grad": "regimes, optimizers, weight decay, dropout: step replay, the gradient",
    "regime_update": "the same: the change of the parameters (the optimizer's step)",
    "regime_loss": "the same: the loss after the update",
    "regime_logits": "dropout: each engine's test-time logits from the same parameters",
    "regime_curve": "the same, free-running loss: relative difference, by step "
    "(REGIME_CURVE_BANDS)",
    "early_stopping": "early stopping's stop and best iterations, held-out counts (class exact)",
    "step_warning": "which too-small-h warning numerical_diff gives (class exact)",
    "train_mode": "the mode train runs by default and the optimizers mode 'graph' captures, "
    "against the documented rules (class exact)",
    "nonfinite": "allow_nonfinite: where training stopped and what it recorded (class exact)",
    "plan": "TrainPlan's draws against their documented definition (class exact)",
    "evallog": "the notes' per-evaluation line train writes to log= (class exact)",
    "defaults": "what a constructor gives with its documented defaults (class exact)",
    "twins": "parameters crossing the engines: TwoLayerNet.from_numpy, numpy_params (class "
    "exact)",
    "saved": "parameters and histories written and read back (class exact)",
    "holdout": "holdout_split's held-out and remaining rows (class exact)",
}
#: Kinds judged by a measured band instead of the elementwise rule; the curve kinds among them.
BAND_KINDS = ("curve", "flips", "regime_curve")
CURVE_KINDS = ("curve", "regime_curve")

EXACT = Tolerance("exact", 0.0, 0.0, "byte-for-byte equality; nothing is computed", frob=0.0)


def _m(
    scaled: float, large_rel: float, frob: float, seeds: int = 20, steps: str = " (quick sizes)"
) -> str:
    return (
        f"measured max over {seeds} seeds{steps}: |a-e|/max|e| {scaled:.2g}, "
        f"large-element rel {large_rel:.2g}, frob {frob:.2g}"
    )


_LONG = (3, " x 10,000 steps")
_EXTREME = " (20 MNIST rows, logits up to ~2,000)"
_REG = (5, ", every replayed step of the regimes' runs")


def _s(
    rtol: float, atol_scale: float, frob: float, measured: str, atol_floor: float = 0.0
) -> Tolerance:
    return Tolerance("measured", rtol, atol_floor, measured, atol_scale=atol_scale, frob=frob)


#: (class, kind) -> tolerance: SAFETY x the measurement written beside it, rounded up (kinds:
#: see KINDS).
TOLERANCES: dict[tuple[str, str], Tolerance] = {
    # float64: every difference is summation order or a 1-ulp libm difference.
    ("float64", "function"): _s(1e-13, 3e-14, 2e-14, _m(2.7e-15, 8.1e-15, 1.7e-15)),
    ("float64", "function_adversarial"): _s(3e-10, 3e-10, 3e-10, _m(3.0e-11, 3.0e-11, 2.1e-11)),
    ("float64", "gradient"): _s(1e-13, 1e-14, 1e-14, _m(9.0e-16, 6.6e-15, 8.2e-16)),
    ("float64", "numerical"): _s(5e-7, 2e-7, 7e-8, _m(1.5e-8, 4.6e-8, 6.3e-9)),
    ("float64", "numerical_delta"): _s(8e-5, 8e-5, 8e-5, _m(7.9e-6, 7.9e-6, 7.9e-6)),
    ("float64", "loss"): _s(5e-15, 5e-15, 5e-15, _m(3.9e-16, 3.9e-16, 3.9e-16)),
    ("float64", "update"): _s(8e-14, 7e-14, 5e-15, _m(6.9e-15, 7.9e-15, 4.5e-16)),
    ("float64", "printed"): _s(2e-15, 2e-15, 2e-15, _m(1.4e-16, 1.4e-16, 1.4e-16)),
    ("float64", "printed8"): _s(6e-9, 6e-9, 6e-9, _m(5.8e-10, 5.8e-10, 5.8e-10)),
    ("float64", "order"): _s(0.0, 7.5e-2, 7.5e-2, _m(7.5e-3, 7.5e-3, 7.5e-3)),
    # NumPy's fit is the same arithmetic as verify's (0 difference); torch's exp and sin are a
    # rounding unit from NumPy's, which moves the slope (about 1 or 2) by at most 4.4e-16.
    ("float64", "order_fit"): _s(5e-15, 5e-15, 5e-15, "measured on its 6 (scheme, function) "
                                 "cases, which no seed changes: |a-e| 4.4e-16 (torch), 0 (NumPy)"),
    # The fused step at logits up to ~2,000 (scripts/measure_fused_extremes.py: 20 seeds, the
    # float64 reference's loss and p - lr g, 20 MNIST rows).
    ("float64", "fused_loss"): _s(5e-15, 5e-15, 5e-15, _m(4.2e-16, 4.2e-16, 4.2e-16, 20, _EXTREME)),
    ("float64", "fused_params"): _s(1.4e-13, 1.7e-14, 1.2e-14,
                                    _m(1.7e-15, 1.4e-14, 1.2e-15, 20, _EXTREME)),
    # relu's own: at these weights it is several times sigmoid's (the same script, 20 seeds);
    # its loss stays within fused_loss's measurement (4.2e-16 here, 1.7e-7 in float32).
    ("float64", "fused_params_relu"): _s(9.2e-13, 1.1e-13, 5.8e-14,
                                         _m(1.1e-14, 9.2e-14, 5.8e-15, 20, _EXTREME)),
    # 2 gloo ranks vs one process, 10 iterations of verify/checks/distributed.py's plan
    # (scripts/measure_distributed_noise.py, seeds 0-4).
    ("float64", "distributed"): _s(2e-14, 4.3e-15, 3.8e-15, _m(4.3e-16, 2e-15, 3.8e-16, 5,
                                                                " (10 iterations)")),
    # scripts/measure_oracle_differentiation.py: the oracle's descent cases (1-100 steps) by
    # an analytic gradient and torch autograd against the reference's central differences.
    ("float64", "descent"): _s(3e-11, 3e-11, 2.4e-11, "measured over the oracle's cases: "
                               "|a-e|/max|e| 2.9e-12, large-element rel 2.9e-12, frob 2.4e-12"),
    # checks/concepts.py, measured over 20 seeds at quick and full sizes (40 runs).
    ("float64", "information"): _s(4e-15, 4e-15, 2e-15, _m(3.5e-16, 3.9e-16, 1.7e-16, 40, "")),
    # Central difference along v/|v| with h = 1e-4: truncation h²/6·|∂³f/∂u³|.
    ("float64", "directional"): _s(1e-7, 1e-7, 1e-7, _m(1.0e-8, 1.0e-8, 1.0e-8, 40, "")),
    # Step replay: max over every step of 3 seeds x 10,000 iterations (the book's run).
    ("float64", "replay_grad"): _s(4e-13, 8e-14, 7e-14, _m(8.0e-15, 3.8e-14, 6.7e-15, *_LONG)),
    ("float64", "replay_update"): _s(2.2e-11, 4e-12, 6e-13, _m(3.8e-13, 2.1e-12, 5.9e-14, *_LONG)),
    ("float64", "replay_loss"): _s(
        1.3e-14, 1.3e-14, 1.3e-14, _m(1.2e-15, 1.2e-15, 1.2e-15, *_LONG)
    ),
    # Golden trajectories (verify/golden.py), checked on machines whose BLAS sums in another
    # order: measured as torch float64 (MKL) and NumPy fused against NumPy eager (OpenBLAS),
    # scripts/measure_golden_noise.py, 3 seeds x 1,300 iterations and 1 seed x 10,000.
    # Counts: 0 examples differed; one example is the floor (as for FLIP_FRACTION).
    ("float64", "golden_count"): _s(0.0, 0.0, math.inf, "measured: 0 examples differ over 3 "
                                    "seeds x 1,300 and 1 seed x 10,000 iterations; floor 1",
                                    atol_floor=1.0),
    ("float64", "golden_fingerprint"): _s(
        0.0, 6e-14, 6e-14,
        f"measured max: |a-e|/max|e| {GOLDEN_FP_MEASURED[0]:.2g}, frob "
        f"{GOLDEN_FP_MEASURED[1]:.2g} (1 seed x 10,000 steps; 3 seeds x 1,300: 1.7e-15, 1.4e-15)"),
    # float32 on the CPU (NumPy and torch), inputs rounded to float32 first.
    ("float32-cpu", "function"): _s(4e-5, 2e-5, 1e-5, _m(1.1e-6, 3.5e-6, 8.0e-7)),
    ("float32-cpu", "function_adversarial"): _s(0.11, 0.11, 0.08, _m(1.0e-2, 1.0e-2, 7.3e-3)),
    ("float32-cpu", "gradient"): _s(6e-5, 7e-6, 5e-6, _m(6.1e-7, 5.1e-6, 4.9e-7)),
    # scripts/measure_oracle_differentiation.py: the chapter's loop on a float32 x (rounding
    # of x + h and of f, ~eps32·|f|/h) and a float64 conversion, vs float64 differences.
    ("float32-cpu", "numerical32"): _s(1e-2, 8.6e-3, 9.3e-3, "measured on the oracle's case: "
                                       "|a-e|/max|e| 8.6e-4, large-element rel 1e-3, frob "
                                       "9.3e-4"),
    ("float32-cpu", "loss"): _s(2e-6, 2e-6, 2e-6, _m(1.8e-7, 1.8e-7, 1.8e-7)),
    ("float32-cpu", "information"): _s(2e-6, 2e-6, 1.1e-6, _m(1.8e-7, 1.8e-7, 1.1e-7, 40, "")),
    ("float32-cpu", "update"): _s(1e-3, 2e-4, 9e-5, _m(1.9e-5, 9.6e-5, 8.8e-6)),
    ("float32-cpu", "fused_loss"): _s(2e-6, 2e-6, 2e-6, _m(1.9e-7, 1.9e-7, 1.9e-7, 20, _EXTREME)),
    ("float32-cpu", "fused_params"): _s(6.6e-5, 9.4e-6, 8.9e-6,
                                        _m(9.4e-7, 6.6e-6, 8.9e-7, 20, _EXTREME)),
    ("float32-cpu", "fused_params_relu"): _s(3.7e-4, 4.3e-5, 2.4e-5,
                                             _m(4.3e-6, 3.7e-5, 2.4e-6, 20, _EXTREME)),
    ("float32-cpu", "replay_grad"): _s(2.5e-4, 4e-5, 3e-5, _m(3.6e-6, 2.4e-5, 2.7e-6, *_LONG)),
    # Late in training |Δp| shrinks next to |p|, so rounding p + Δp to float32 is ~1e-4 of Δp:
    # a learning rate x 1.001 hides in it (the float64 class catches that; see selftest).
    ("float32-cpu", "replay_update"): _s(
        1.1e-2, 1.2e-3, 1.2e-3, _m(1.2e-4, 1.05e-3, 1.16e-4, *_LONG)
    ),
    ("float32-cpu", "replay_loss"): _s(7e-6, 7e-6, 7e-6, _m(6.5e-7, 6.5e-7, 6.5e-7, *_LONG)),
    # The regimes group (verify/checks/regimes.py): step replay of all its runs, max over every
    # replayed step of 5 seeds (scripts/measure_regime_noise.py --seeds 5); the largest came
    # from the full batch (gradients), Momentum/Nesterov step 0 (updates: p + Δp rounded
    # against a small first Δp), RMSprop and the batch of one (losses).
    ("float64", "regime_grad"): _s(9.7e-13, 1.9e-13, 1.6e-13, _m(1.9e-14, 9.7e-14, 1.6e-14, *_REG)),
    ("float64", "regime_update"): _s(1.2e-11, 2.6e-12, 3.4e-13,
                                     _m(2.6e-13, 1.2e-12, 3.4e-14, *_REG)),
    ("float64", "regime_loss"): _s(1.6e-14, 1.6e-14, 1.6e-14, _m(1.6e-15, 1.6e-15, 1.6e-15, *_REG)),
    # Dropout's test-time forward pass on the 500-row test slice, 5 seeds (the same script).
    ("float64", "regime_logits"): _s(1.1e-14, 5.1e-15, 1.6e-15, _m(5.1e-16, 1.1e-15, 1.6e-16, 5)),
    ("float32-cpu", "regime_logits"): _s(7e-6, 3.7e-6, 1.1e-6, _m(3.7e-7, 7.0e-7, 1.1e-7, 5)),
    ("float32-cpu", "regime_grad"): _s(3e-4, 9e-5, 7e-5, _m(9.0e-6, 3.0e-5, 7.0e-6, *_REG)),
    ("float32-cpu", "regime_update"): _s(2.3e-2, 2.5e-3, 1.8e-3,
                                         _m(2.5e-4, 2.3e-3, 1.8e-4, *_REG)),
    ("float32-cpu", "regime_loss"): _s(5.2e-6, 5.2e-6, 5.2e-6, _m(5.2e-7, 5.2e-7, 5.2e-7, *_REG)),
}


#: TF32 rounds matmul inputs to a 10-bit mantissa.  No GPU was available to measure it here, so
#: the bound comes from anchors.md ("emulated TF32: gradient relative Frobenius error 1.2e-4 to
#: 3.5e-4"), x SAFETY.  Kinds without matmuls (elementwise functions, optimizer arithmetic) are
#: unaffected by TF32 and keep the float32 bounds.
TF32_MATMUL = _s(3.5e-2, 3.5e-3, 3.5e-3,
                 "anchors.md: emulated TF32 gradient rel. Frobenius 1.2e-4..3.5e-4")
_TF32_MATMUL_KINDS = ("gradient", "loss", "replay_grad", "replay_update", "replay_loss",
                      "fused_loss", "fused_params", "fused_params_relu",
                      "regime_grad", "regime_update", "regime_loss", "regime_logits")

_unknown = {k for _, k in TOLERANCES} - set(KINDS) | set(_TF32_MATMUL_KINDS) - set(KINDS)
if _unknown:  # pragma: no cover - caught the moment a table entry is misspelled
    raise AssertionError(f"tolerance kinds missing from KINDS: {sorted(_unknown)}")


def tolerance_for(tclass: str, kind: str) -> Tolerance:
    """The tolerance for a class and kind, named ``"class/kind"``; unknown pairs are a
    programming error, not a pass."""
    if kind not in KINDS:
        raise KeyError(f"no tolerance kind {kind!r}: expected one of {', '.join(KINDS)}")
    return replace(_lookup(tclass, kind), name=f"{tclass}/{kind}")


def _lookup(tclass: str, kind: str) -> Tolerance:
    if tclass == "exact":
        return EXACT
    if tclass == "tf32":
        return TF32_MATMUL if kind in _TF32_MATMUL_KINDS else _lookup("float32-cuda", kind)
    if tclass == "float32-cuda" and (tclass, kind) not in TOLERANCES:
        tclass = "float32-cpu"
    try:
        return TOLERANCES[(tclass, kind)]
    except KeyError:
        raise KeyError(f"no tolerance for class {tclass!r}, kind {kind!r}") from None


#: Free-running loss: relative-difference band at iteration i, by class: (start, growth, cap),
#: band(i) = min(start * (1 + i / growth), cap).
CURVE_BANDS: dict[str, tuple[float, float, float]] = {
    # measured envelope, max over 3 seeds x 10,000 iterations (and 20 seeds x 300): 1.9e-16 at
    # i=0, 3.9e-16 at 100, 6.1e-16 at 1000, 8.8e-16 at 3000; x10 -> 2e-15 (1 + i/1000)
    "float64": (2e-15, 1000.0, 1e-10),
    # measured envelope, same runs: 9.3e-8 at i=0 (1.1e-7 over 20 seeds), 1.7e-7 at 100,
    # 2.9e-7 at 1000, 4.2e-7 at 3000; x10 -> 1.1e-6 (1 + i/500)
    "float32-cpu": (1.1e-6, 500.0, 1e-3),
}


#: The regimes group's free-running loss (verify/checks/regimes.py), the same form, by class
#: and band: RMSprop's own (its first steps are ~10 lr · sign(g), so a gradient element near 0
#: decides a whole step and float32 drifts ~100x faster than in the other runs), "default" for
#: every other run.  Measured envelopes (max relative difference up to iteration i), 5 seeds,
#: scripts/measure_regime_noise.py; x10 (SAFETY), start and growth fitted to cover each mark.
REGIME_CURVE_BANDS: dict[str, dict[str, tuple[float, float, float]]] = {
    # default: 3.9e-16 at i=0 (Adam), 4.9e-16 at 1, 1.6e-15 at 10..99 (batch of one)
    # RMSprop: 0 at i=0, 2e-16 at 1, 5.1e-16 at 10, 2.9e-14 at 30, 6.8e-14 at 99
    "float64": {"default": (3.9e-15, 3.0, 1e-10), "RMSprop": (2e-15, 0.2, 1e-10)},
    # default: 2.3e-7 at i=0 (batch of one), 4.1e-7 at 10, 5.5e-7 at 30..99
    # RMSprop: 9.8e-8 at i=0, 1.4e-6 at 10, 4.7e-5 at 30..99 (the cap is that x10)
    "float32-cpu": {"default": (2.3e-6, 10.0, 1e-3), "RMSprop": (9.8e-7, 0.06, 4.7e-4)},
}


def curve_band(tclass: str, steps: np.ndarray, kind: str = "curve",
               band: str | None = None) -> np.ndarray:
    """The band for the free-running loss at each step: start * (1 + steps/growth), capped;
    ``kind`` "curve" (the book's run) or "regime_curve" (a regimes run, ``band`` its name: its
    own row of REGIME_CURVE_BANDS where it has one, else "default")."""
    if kind == "regime_curve":
        bands = _measured(REGIME_CURVE_BANDS, tclass, "regime_curve band")
        start, growth, cap = bands.get(band or "default", bands["default"])
    else:
        start, growth, cap = _measured(CURVE_BANDS, tclass, "free-running band")
    return np.minimum(start * (1 + np.asarray(steps, dtype=np.float64) / growth), cap)


#: Prediction flips allowed between a candidate's final parameters and the reference's, as a
#: fraction of the examples, by class.
FLIP_FRACTION: dict[str, float] = {
    # measured: 0 flips of 70,000 over 20 seeds x 300 and 3 seeds x 10,000 iterations; one
    # example is the floor
    "float64": 1.5e-5,
    # measured: at most 1 flip of 70,000 over 20 seeds x 300 iterations, 0 over 3 x 10,000 (x10)
    "float32-cpu": 1.5e-4,
}


def flip_band(tclass: str, n_examples: int) -> int:
    return int(np.ceil(_measured(FLIP_FRACTION, tclass, "prediction-flip band") * n_examples))


def _measured(table: dict, tclass: str, what: str):
    """``table[tclass]``; float32-cuda uses float32-cpu's until measured on a GPU."""
    if tclass == "float32-cuda" and tclass not in table:
        tclass = "float32-cpu"
    if tclass not in table:
        raise KeyError(f"no {what} measured for class {tclass!r}: run `python -m verify "
                       "calibrate` on that device and record it here")
    return table[tclass]


def markdown_table() -> str:
    """The tolerance classes as a Markdown table (the README shows this, generated)."""
    rows = [
        "| class | kind | rtol | atol (× max\\|e\\|) | ‖a−e‖/‖e‖ | measured (max over seeds) |",
        "|---|---|---|---|---|---|",
    ]
    for (tclass, kind), s in sorted(TOLERANCES.items()):
        atol = f"{s.atol_scale:.0e}" + (f" + {s.atol:g}" if s.atol else "")
        why = s.justification.replace("|", "\\|")  # a bare | would end the Markdown cell
        rows.append(f"| {tclass} | {kind} | {s.rtol:.0e} | {atol} | {s.frob:.0e} | {why} |")
    for tclass, (start, growth, cap) in sorted(CURVE_BANDS.items()):
        rows.append(
            f"| {tclass} | free-running loss | {start:.0e}·(1+i/{growth:g}), cap "
            f"{cap:.0e} | — | — | see module docstring |"
        )
    for tclass, bands in sorted(REGIME_CURVE_BANDS.items()):
        for run, (start, growth, cap) in bands.items():
            rows.append(
                f"| {tclass} | regimes' free-running loss ({run}) | {start:.0e}·(1+i/{growth:g}),"
                f" cap {cap:.0e} | — | — | REGIME_CURVE_BANDS |"
            )
    for tclass, frac in sorted(FLIP_FRACTION.items()):
        rows.append(f"| {tclass} | prediction flips | ≤ {frac:.1e} of examples | — | — | |")
    return "\n".join(rows)
