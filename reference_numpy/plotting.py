"""The chapter's two figures as PNG: loss per iteration, and train/test accuracy per epoch."""

from __future__ import annotations

import io
import os

from ._validate import atomic_write_bytes

__all__ = ["plot_history", "plot_loss_along_weight"]


def _png(fig: object) -> bytes:
    """The figure laid out and rendered as PNG bytes (written atomically by the caller)."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def plot_history(history: object, path: str | os.PathLike[str], *, title: str = "") -> None:
    """Write the seeds' figures side by side to ``path`` (PNG, atomically).

    Left: ``train_loss_list`` against iteration.  Right: ``train_acc_list`` and
    ``test_acc_list`` against epoch (one point per evaluation).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    try:
        ax_loss.plot(
            range(len(history.train_loss_list)), history.train_loss_list, lw=0.6, label="loss"
        )
        ax_loss.set_xlabel("iteration")
        ax_loss.set_ylabel("loss")
        ax_loss.legend()
        epochs = range(len(history.train_acc_list))
        ax_acc.plot(epochs, history.train_acc_list, marker="o", label="train acc")
        ax_acc.plot(epochs, history.test_acc_list, marker="s", linestyle="--", label="test acc")
        ax_acc.set_xlabel("epochs")
        ax_acc.set_ylabel("accuracy")
        ax_acc.set_ylim(0, 1.0)
        ax_acc.legend(loc="lower right")
        if title:
            fig.suptitle(title)
        png = _png(fig)
    finally:
        plt.close(fig)
    atomic_write_bytes(path, png)


def plot_loss_along_weight(
    weights: object, losses: object, path: str | os.PathLike[str], *, title: str = ""
) -> None:
    """Write the notes' figure of the loss against one weight (``loss_along_weight``) as PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    w = [float(v) for v in weights]
    y = [float(v) for v in losses]
    if len(w) != len(y) or not w:
        raise ValueError(
            f"losses: expected one loss per weight ({len(w)}), got {len(y)}"
        )
    fig, ax = plt.subplots(figsize=(6, 4))
    try:
        ax.plot(w, y, marker=".", lw=1.0)
        ax.set_xlabel("weight")
        ax.set_ylabel("loss")
        ax.set_title(title or "loss along one weight, the others fixed")
        png = _png(fig)
    finally:
        plt.close(fig)
    atomic_write_bytes(path, png)
