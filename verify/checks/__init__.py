"""The checks, one module per group; each exposes ``observe(ctx) -> Iterable[Observation]``.

``GROUP_NAMES`` is the one list of groups, in the order ``python -m verify`` runs and reports them;
the CLI's commands, selftest and calibrate derive theirs from it.  A new group is a module here
and its name below.
"""

from importlib import import_module
from types import ModuleType

GROUP_NAMES: tuple[str, ...] = ("seeds", "losses", "gradients", "optimizers", "data", "training",
                                 "regimes")

GROUP_NAMES += ("concepts",)  # information, directional derivative, landscape (concepts.py)
GROUPS: dict[str, ModuleType] = {name: import_module(f"{__name__}.{name}") for name in GROUP_NAMES}

__all__ = ["GROUPS", "GROUP_NAMES"]
