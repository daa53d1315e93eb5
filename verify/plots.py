"""PNG figures that show where two runs agree and where they part.

Matplotlib is imported lazily and, when nothing has chosen a backend yet, the non-interactive
Agg backend is selected, so the verifier works on a headless machine without changing the
backend of a program that already set one up.  Every figure is rendered into memory and then
written atomically: an interrupted run never leaves a truncated PNG behind.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from reference_numpy._validate import atomic_write_bytes
from verify.compare import to_numpy

__all__ = ["plot_curves", "plot_difference", "plot_fast_paths", "plot_training_comparison"]

DPI = 110
#: Where |difference| is 0 and no positive value gives a scale, zeros are drawn at this height.
DEFAULT_FLOOR = 1e-20
#: float64's unit roundoff: a float64 loss difference is drawn in multiples of EPS64 * |loss|.
EPS64 = float(np.finfo(np.float64).eps)
#: The fast-path figure's floor: a difference under a millionth of its band is drawn there.
FRACTION_FLOOR = 1e-6


def _pyplot() -> Any:
    """Import pyplot, choosing Agg first if no backend has been set up (headless-safe)."""
    import matplotlib

    chosen = "matplotlib.pyplot" in sys.modules or os.environ.get("MPLBACKEND")
    get = getattr(matplotlib.rcParams, "_get_backend_or_none", None)
    if not chosen and (get is None or get() is None):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | os.PathLike[str], plt: Any) -> Path:
    """Render ``fig`` to PNG bytes, write them atomically, and always close the figure."""
    try:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
        return atomic_write_bytes(path, buf.getvalue())
    finally:
        plt.close(fig)


def _series(values: object, name: str, n: int | None = None) -> np.ndarray:
    arr = to_numpy(values, name)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D series, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: expected at least one value, got an empty series")
    if n is not None and arr.size != n:
        raise ValueError(f"{name}: expected {n} values (the length of x), got {arr.size}")
    return arr


def _band(band: object, n: int, name: str) -> np.ndarray:
    """A tolerance band: a scalar (constant bound) or one bound per point."""
    arr = to_numpy(band, name)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"{name}: expected a scalar or {n} values, got shape {arr.shape}")
    return arr


def _check_divergence(first_divergence: int | None, n: int) -> None:
    if first_divergence is None:
        return
    if isinstance(first_divergence, bool) or not isinstance(first_divergence, (int, np.integer)):
        raise TypeError(
            f"first_divergence: expected an int index or None, got {first_divergence!r}"
        )
    if not 0 <= first_divergence < n:
        raise ValueError(f"first_divergence: expected an index in [0, {n}), got {first_divergence}")


def _draw_difference(
    ax: Any,
    x: np.ndarray,
    diff: np.ndarray,
    band: np.ndarray,
    first_divergence: int | None,
    *,
    xlabel: str,
    ylabel: str,
    label: str = "|difference|",
) -> float:
    """|diff| on a log axis with the tolerance band shaded and the first divergence marked.

    Zeros cannot be drawn on a log scale, so they are clipped to a floor a decade below the
    smallest positive value (or below the band) and the legend says so; NaN/Inf differences are
    marked with red crosses along the top edge, because a log plot would silently drop them.
    """
    mag = np.abs(diff)
    finite = np.isfinite(mag)
    positive = mag[finite & (mag > 0)]
    band_pos = band[np.isfinite(band) & (band > 0)]
    candidates = [v.min() / 10 for v in (positive, band_pos) if v.size]
    floor = float(min(candidates)) if candidates else DEFAULT_FLOOR
    n_zero = int(np.count_nonzero(finite & (mag == 0)))
    shown = np.where(finite, np.maximum(mag, floor), np.nan)
    note = f" (zeros shown at {floor:.0e})" if n_zero else ""
    ax.plot(x, shown, lw=1.0, color="C0", label=f"{label}{note}")
    ax.fill_between(x, floor, np.maximum(band, floor), color="C2", alpha=0.2)
    ax.plot(x, np.maximum(band, floor), color="C2", lw=1.0, ls="--", label="tolerance bound")
    if not finite.all():
        ax.plot(
            x[~finite],
            np.full(int((~finite).sum()), 0.97),
            "x",
            color="red",
            transform=ax.get_xaxis_transform(),
            label="non-finite (NaN/Inf)",
        )
    if first_divergence is not None:
        xd = x[first_divergence]
        ax.axvline(xd, color="red", lw=1.2, ls=":", label=f"first divergence at {xlabel} {xd:g}")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _legend(ax)
    ax.grid(True, which="major", alpha=0.3)
    return floor


def plot_curves(
    path: str | os.PathLike[str],
    *,
    title: str,
    x: object,
    curves: Mapping[str, object],
    ylabel: str,
    xlabel: str = "iteration",
) -> Path:
    """Overlay several curves of the same length (e.g. NumPy vs PyTorch loss) in one PNG."""
    xs = _series(x, "x")
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curves: expected a non-empty mapping of label -> series")
    ys = {label: _series(v, f"curves[{label!r}]", xs.size) for label, v in curves.items()}
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    styles = ("-", "--", ":", "-.")
    for i, (label, y) in enumerate(ys.items()):
        ax.plot(xs, y, ls=styles[i % len(styles)], lw=1.2, label=str(label))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _legend(ax)
    ax.grid(True, alpha=0.3)
    return _save(fig, path, plt)


def plot_difference(
    path: str | os.PathLike[str],
    *,
    title: str,
    x: object,
    diff: object,
    band: object,
    first_divergence: int | None = None,
    xlabel: str = "iteration",
    ylabel: str = "|difference|",
) -> Path:
    """Plot ``|diff|`` on a log scale against the tolerance ``band`` (scalar or per point).

    ``first_divergence`` is an index into ``x`` (as in ``Comparison.first_divergence``); a
    vertical line marks ``x[first_divergence]``.
    """
    xs = _series(x, "x")
    d = _series(diff, "diff", xs.size)
    b = _band(band, xs.size, "band")
    _check_divergence(first_divergence, xs.size)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    _draw_difference(ax, xs, d, b, first_divergence, xlabel=xlabel, ylabel=ylabel)
    ax.set_title(title)
    return _save(fig, path, plt)


def _common(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, str]:
    """The difference over the common prefix, and a note when the lengths differ."""
    n = min(a.size, b.size)
    note = "" if a.size == b.size else f" (lengths {a.size} vs {b.size}; first {n} compared)"
    with np.errstate(invalid="ignore", over="ignore"):
        return a[:n] - b[:n], note


def plot_training_comparison(
    path: str | os.PathLike[str],
    *,
    loss_a: object,
    loss_b: object,
    acc_a: Mapping[str, object],
    acc_b: Mapping[str, object],
    label_a: str,
    label_b: str,
    loss_band: object,
    acc_band: object,
    first_divergence: int | None = None,
    subtitle: str = "",
    rounding_units: bool = False,
) -> Path:
    """One 2x2 figure of two training runs: losses, |loss difference|, accuracies, |acc diff|.

    ``subtitle`` (e.g. the data and the number of iterations) goes under the figure's title.
    ``rounding_units`` (for two float64 runs) draws the loss difference in units of float64
    rounding, |a - b| / (eps |b|), on a linear axis: a log axis of differences that are 0 or
    one rounding unit is an unreadable comb, while "within 2 units" reads at a glance.

    ``acc_a``/``acc_b`` map a split (``"train"``, ``"test"``) to its per-epoch accuracy.  Runs of
    different length (one crashed) are still drawn; differences cover the common prefix and the
    panel title says so.  ``first_divergence`` is a step index into the loss series.
    """
    la, lb = _series(loss_a, "loss_a"), _series(loss_b, "loss_b")
    for arg, acc in (("acc_a", acc_a), ("acc_b", acc_b)):
        if not isinstance(acc, Mapping):
            raise TypeError(f"{arg}: expected a mapping split -> accuracies, got {type(acc)}")
    aa = {k: _series(v, f"acc_a[{k!r}]") for k, v in acc_a.items()}
    ab = {k: _series(v, f"acc_b[{k!r}]") for k, v in acc_b.items()}
    loss_diff, loss_note = _common(la, lb)
    _check_divergence(first_divergence, max(la.size, lb.size))
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    _overlay(axes[0, 0], {label_a: la, label_b: lb}, "loss", "iteration")
    axes[0, 0].set_title("training loss")
    lx = np.arange(loss_diff.size, dtype=float)
    fd = first_divergence if first_divergence is not None and first_divergence < lx.size else None
    band = _band(loss_band, lx.size, "loss_band")
    if rounding_units:
        _draw_rounding_units(axes[0, 1], lx, loss_diff, lb[: lx.size], band, fd)
    else:
        _draw_difference(axes[0, 1], lx, loss_diff, band, fd, xlabel="iteration",
                         ylabel="|loss difference|")
    axes[0, 1].set_title(f"|{label_a} - {label_b}| loss{loss_note}")
    _overlay_accuracy(axes[1, 0], aa, ab, label_a, label_b)
    _draw_acc_diff(axes[1, 1], aa, ab, acc_band, label_a, label_b)
    fig.suptitle(f"{label_a} vs {label_b}" + (f"\n{subtitle}" if subtitle else ""))
    fig.tight_layout()
    return _save(fig, path, plt)


def _draw_rounding_units(ax: Any, x: np.ndarray, diff: np.ndarray, ref: np.ndarray,
                         band: np.ndarray, first_divergence: int | None) -> None:
    """|diff| / (eps |ref|) as dots on a linear axis, the band in the same units, capped so
    that a band thousands of units wide does not flatten the dots."""
    scale = EPS64 * np.maximum(np.abs(ref), np.finfo(np.float64).tiny)
    with np.errstate(invalid="ignore", over="ignore"):
        units = np.abs(diff) / scale
        band_units = band / scale
    finite = np.isfinite(units)
    worst = float(units[finite].max()) if finite.any() else 0.0
    top = max(4.0, 1.5 * worst)
    ax.plot(x[finite], units[finite], ".", ms=2, color="C0",
            label=f"|difference| / (eps |loss|), worst {worst:.1f}")
    ax.fill_between(x, 0, np.minimum(band_units, top), color="C2", alpha=0.2,
                    label="tolerance bound" + (" (above the axis)" if band_units.min() > top
                                               else ""))
    if not finite.all():
        ax.plot(x[~finite], np.full(int((~finite).sum()), 0.97), "x", color="red",
                transform=ax.get_xaxis_transform(), label="non-finite (NaN/Inf)")
    if first_divergence is not None:
        xd = x[first_divergence]
        ax.axvline(xd, color="red", lw=1.2, ls=":", label=f"first divergence at iteration {xd:g}")
    ax.set_ylim(0, top)
    ax.set_xlabel("iteration")
    ax.set_ylabel("|loss difference| in float64 rounding units")
    _legend(ax)
    ax.grid(True, alpha=0.3)


def plot_fast_paths(
    path: str | os.PathLike[str],
    *,
    reference_loss: object,
    losses: Mapping[str, object],
    bands: Mapping[str, object],
    test_acc: Mapping[str, object],
    reference_test_acc: object,
    subtitle: str = "",
) -> Path:
    """What ``train`` runs by default (the fused step, the CUDA graph) against the float64 eager
    reference: each path's |loss difference| as a fraction of its own tolerance band (so paths
    of different classes share one axis, and 1 is the bound), and the test accuracies."""
    ref = _series(reference_loss, "reference_loss")
    if not isinstance(losses, Mapping) or not losses:
        raise ValueError("losses: expected a non-empty mapping of label -> loss series")
    for arg, m in (("bands", bands), ("test_acc", test_acc)):
        missing = [k for k in losses if k not in m] if isinstance(m, Mapping) else list(losses)
        if missing:
            raise ValueError(f"{arg}: expected an entry for each of losses' labels, missing "
                             f"{missing}")
    ref_acc = _series(reference_test_acc, "reference_test_acc")
    plt = _pyplot()
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, (label, loss) in enumerate(losses.items()):
        d, _ = _common(_series(loss, f"losses[{label!r}]"), ref)
        b = _band(bands[label], d.size, f"bands[{label!r}]")
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.abs(d) / b
        worst = float(np.nanmax(frac)) if np.isfinite(frac).any() else float("nan")
        # Single steps dip to 0 at random, so the line is the running worst (what the check
        # bounds) and each step is a faint dot; exact zeros sit at the axis' floor.
        steps = np.arange(d.size)
        ax_l.plot(steps, np.maximum(frac, FRACTION_FLOOR), ".", ms=1.5, alpha=0.25,
                  color=f"C{i}")
        ax_l.plot(steps, np.maximum(np.fmax.accumulate(np.nan_to_num(frac, nan=0.0)),
                                    FRACTION_FLOOR),
                  lw=1.2, color=f"C{i}", label=f"{label} (worst {worst:.2g})")
        acc = _series(test_acc[label], f"test_acc[{label!r}]")
        ax_a.plot(np.arange(acc.size), acc, color=f"C{i}", marker="o", ms=4, lw=1.0,
                  label=str(label))
    ax_l.axhline(1.0, color="red", lw=1.0, ls="--", label="tolerance bound")
    ax_l.set_yscale("log")
    ax_l.set_title("|fast path - float64 reference| loss, as a fraction of the band")
    ax_l.set_xlabel("iteration")
    ax_l.set_ylabel("fraction of the band (line: worst so far)")
    _legend(ax_l, ncol=1, below=0.2)
    ax_l.grid(True, which="major", alpha=0.3)
    ax_a.plot(np.arange(ref_acc.size), ref_acc, color="k", marker="x", ms=5, ls="--", lw=1.0,
              label="float64 reference")
    ax_a.set_title("test accuracy")
    ax_a.set_xlabel("epoch")
    ax_a.set_ylabel("accuracy")
    _legend(ax_a, ncol=1, below=0.2)
    ax_a.grid(True, alpha=0.3)
    fig.suptitle("train's default paths" + (f"\n{subtitle}" if subtitle else ""))
    fig.tight_layout()
    return _save(fig, path, plt)


def _legend(ax: Any, ncol: int = 2, below: float = 0.14) -> None:
    """The legend below the axes (``below`` is in axes heights), never over the data."""
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -below), ncol=ncol,
              frameon=False)


def _overlay(ax: Any, curves: Mapping[str, np.ndarray], ylabel: str, xlabel: str) -> None:
    styles = ("-", "--")
    for i, (label, y) in enumerate(curves.items()):
        ax.plot(np.arange(y.size), y, ls=styles[i % 2], lw=1.0, label=str(label))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _legend(ax)
    ax.grid(True, alpha=0.3)


def _overlay_accuracy(
    ax: Any,
    aa: Mapping[str, np.ndarray],
    ab: Mapping[str, np.ndarray],
    label_a: str,
    label_b: str,
) -> None:
    """Accuracies: one colour per split, solid for run a and dashed for run b."""
    splits = list(dict.fromkeys([*aa, *ab]))
    for i, split in enumerate(splits):
        for acc, label, ls in ((aa, label_a, "-"), (ab, label_b, "--")):
            if split in acc:
                y = acc[split]
                # Markers: each evaluation is one point, the lines only join them.
                ax.plot(np.arange(y.size), y, color=f"C{i}", ls=ls, lw=1.0,
                        marker="o" if ls == "-" else "x", ms=4, label=f"{label} {split}")
    ax.set_title("accuracy")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    _legend(ax)
    ax.grid(True, alpha=0.3)


def _draw_acc_diff(
    ax: Any,
    aa: Mapping[str, np.ndarray],
    ab: Mapping[str, np.ndarray],
    acc_band: object,
    label_a: str,
    label_b: str,
) -> None:
    """|accuracy difference| per split shared by both runs, on a log axis with the band."""
    splits = [k for k in aa if k in ab]
    if not splits:
        ax.text(0.5, 0.5, "no accuracy split in common", ha="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    diffs = {k: _common(aa[k], ab[k]) for k in splits}
    n = max(d.size for d, _ in diffs.values())
    band = _band(acc_band, n, "acc_band")
    x = np.arange(n, dtype=float)
    # Draw the first split with band and markers, the others as extra lines on the same axes.
    first, d0 = splits[0], diffs[splits[0]][0]
    floor = _draw_difference(
        ax,
        x[: d0.size],
        d0,
        band[: d0.size],
        None,
        xlabel="epoch",
        ylabel="|accuracy difference|",
        label=f"|diff| {first}",
    )
    for i, k in enumerate(splits[1:], start=1):
        d, _ = diffs[k]
        mag = np.abs(d)
        color = f"C{3 + i}"  # C0 is the first split, C2 the band
        ax.plot(
            x[: d.size],
            np.maximum(np.where(np.isfinite(mag), mag, np.nan), floor),
            color=color,
            lw=1.0,
            ls="--",
            label=f"|diff| {k}",
        )
    _legend(ax)
    notes = "".join(note for _, note in diffs.values() if note)
    ax.set_title(f"|{label_a} - {label_b}| accuracy{notes[:60]}")
