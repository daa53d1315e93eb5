"""Plant a generated mutant at test time: compile a function's own source with one change (as
scripts/mutator.py writes it) and put it in its module for the test's duration."""

from __future__ import annotations
import __future__

import importlib
import inspect

import pytest


def plant(monkeypatch: pytest.MonkeyPatch, module_name: str, func: str, old: str,
          new: str) -> None:
    """Replace ``module_name.func`` by its source with ``old`` (found once) -> ``new``."""
    module = importlib.import_module(module_name)
    source = inspect.getsource(getattr(module, func))
    assert source.count(old) == 1, f"{func} no longer holds {old!r} exactly once"
    namespace = dict(vars(module))
    exec(compile(source.replace(old, new), module.__file__, "exec",  # noqa: S102 - a test
                 flags=__future__.annotations.compiler_flag, dont_inherit=True), namespace)
    monkeypatch.setattr(module, func, namespace[func])
