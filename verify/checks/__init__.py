"""The checks, one module per group; each exposes ``observe(ctx) -> list[Observation]``."""

from . import data, gradients, losses, optimizers, seeds, training

GROUPS = {
    "seeds": seeds,
    "losses": losses,
    "gradients": gradients,
    "optimizers": optimizers,
    "data": data,
    "training": training,
}

__all__ = ["GROUPS"]
