"""The chapter's two figures as PNG: loss per iteration, and train/test accuracy per epoch."""

from __future__ import annotations

import io
import os

from ._validate import atomic_write_bytes

__all__ = ["plot_history"]


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
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
    finally:
        plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
