"""Plant a generated mutant at test time: compile a function's own source with one change (as
scripts/mutator.py writes it) and put it in its module, or its class, for the test's duration."""

from __future__ import annotations
import __future__

import importlib
import inspect
import textwrap

import pytest


def plant(monkeypatch: pytest.MonkeyPatch, module_name: str, func: str, old: str,
          new: str) -> None:
    """Replace ``module_name.func`` (a function, or ``Class.method``) by its source with ``old``
    (found once) -> ``new``."""
    module = importlib.import_module(module_name)
    owner_name, _, name = func.rpartition(".")
    owner = getattr(module, owner_name) if owner_name else module
    target = getattr(owner, name)
    source = textwrap.dedent(inspect.getsource(target))
    assert source.count(old) == 1, f"{func} no longer holds {old!r} exactly once"
    source = source.replace(old, new)
    namespace = dict(vars(module))
    if owner_name:
        # Outside its class body a method has no __class__ cell: name the class for super().
        namespace["__class__"] = owner
        source = source.replace("super()", "super(__class__, self)")
    exec(compile(source, module.__file__, "exec",  # noqa: S102 - a test
                 flags=__future__.annotations.compiler_flag, dont_inherit=True), namespace)
    monkeypatch.setattr(owner, name, namespace[name])
