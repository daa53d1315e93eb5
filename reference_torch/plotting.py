"""The chapter's figures as PNG: framework-neutral (a TrainHistory holds plain floats), so the
torch reference shares reference_numpy's implementation name for name."""

from reference_numpy.plotting import plot_history, plot_loss_along_weight

__all__ = ["plot_history", "plot_loss_along_weight"]
