"""Importing a user's code for check_module: a module, a .py file, a folder or a module name.

Importing runs the files' top level.  The folder imported from goes first on ``sys.path`` while
importing, and the modules imported from it leave ``sys.modules`` afterwards, so checking many
submissions in one process keeps each one's ``common/functions.py`` its own.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import pkgutil
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._common import _describe
from ._usercode import UserFailure, call

__all__ = ["UserCode", "load_user_code", "MAX_SUBMODULES"]

MAX_SUBMODULES = 100


@dataclass
class UserCode:
    """What was imported: a label, the modules in search order and the import failures."""

    label: str
    modules: list[types.ModuleType]
    failures: list[tuple[str, str]]
    #: the oracle's private import name -> the name shown (the file's or folder's)
    shown: tuple[str, str] | None = None

    def where(self, mod: types.ModuleType, key: str) -> str:
        name = mod.__name__
        if self.shown and name.startswith(self.shown[0]):
            name = self.shown[1] + name[len(self.shown[0]):]
        return f"{name}.{key}"

    def find(self, names: tuple[str, ...], *, function: bool = False
             ) -> tuple[Any, str] | None:
        """The first object called one of ``names``, with where it is: a function by its exact
        name (``relu``, never the class ``Relu``), a class case-insensitively (``simpleNet``,
        ``RMSProp``; never the function ``sgd``)."""
        wanted = set(names) if function else {n.lower() for n in names}
        for mod in self.modules:
            for key, obj in vars(mod).items():
                if key.startswith("__") or (key if function else key.lower()) not in wanted:
                    continue
                if isinstance(obj, type) is function:
                    continue
                return obj, self.where(mod, key)
        return None


@contextmanager
def _on_path(folder: Path) -> Iterator[None]:
    """``folder`` first on sys.path while importing; afterwards the modules imported from it
    leave sys.modules again, so a second submission's ``functions.py`` is not the first's."""
    folder = folder.resolve()
    before = set(sys.modules)
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        try:
            sys.path.remove(str(folder))
        except ValueError:  # pragma: no cover - the user's code removed it
            pass
        for key in set(sys.modules) - before:
            f = getattr(sys.modules[key], "__file__", None)
            if f and Path(f).resolve().is_relative_to(folder):
                del sys.modules[key]


_counter = itertools.count()


def _load_file(path: Path, name: str, package_dir: Path | None = None) -> types.ModuleType:
    kw = {"submodule_search_locations": [str(package_dir)]} if package_dir else {}
    spec = importlib.util.spec_from_file_location(name, path, **kw)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py path always has one
        raise ImportError(f"cannot load {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return mod


def _import_quietly(what: str, load: Callable[[], types.ModuleType],
                    failures: list[tuple[str, str]]) -> types.ModuleType | None:
    try:
        return call(f"importing {what}", load)
    except UserFailure as exc:
        failures.append((what, str(exc)))
    except SystemExit as exc:
        failures.append((what, f"importing {what} called sys.exit({exc.code!r})"))
    return None


def _walk_package(pkg: types.ModuleType, failures: list[tuple[str, str]]
                  ) -> list[types.ModuleType]:
    out = [pkg]
    # Only the package's own top level and public subpackages: tests and private modules are
    # not the chapter, and a large installed package must not be imported whole.
    subs = [i for i in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + ".")
            if not i.name.rsplit(".", 1)[1].startswith(("_", "test"))]
    for info in subs[:MAX_SUBMODULES]:
        sub = _import_quietly(info.name, lambda n=info.name: importlib.import_module(n),
                              failures)
        if sub is not None:
            out.append(sub)
    return out


def load_user_code(module_or_path: object) -> UserCode:
    """Import a module object, a ``.py`` file, a folder or a module name (module docstring).

    A path that does not exist and is not an importable name raises ValueError; the user's
    code failing to import is recorded in ``failures`` (a verdict), not raised.
    """
    failures: list[tuple[str, str]] = []
    if isinstance(module_or_path, types.ModuleType):
        mods = (_walk_package(module_or_path, failures) if hasattr(module_or_path, "__path__")
                else [module_or_path])
        return UserCode(module_or_path.__name__, mods, failures)
    if not isinstance(module_or_path, (str, Path)):
        raise TypeError(f"module_or_path: expected a module, a path or a module name, got "
                        f"{_describe(module_or_path)}")
    path = Path(module_or_path)
    tag = f"_nnparity_user_{next(_counter)}"
    if path.is_file():
        if path.suffix != ".py":
            raise ValueError(f"module_or_path: expected a .py file, a folder or a module name, "
                             f"got the file {str(path)!r}")
        with _on_path(path.resolve().parent):
            mod = _import_quietly(path.name, lambda: _load_file(path, f"{tag}_{path.stem}"),
                                  failures)
        return UserCode(str(path), [mod] if mod else [], failures,
                        (f"{tag}_{path.stem}", path.stem))
    if path.is_dir():
        init = path / "__init__.py"
        if init.is_file():
            with _on_path(path.resolve().parent):
                pkg = _import_quietly(path.name, lambda: _load_file(init, tag, path), failures)
                mods = _walk_package(pkg, failures) if pkg else []
            return UserCode(str(path), mods, failures, (tag, path.name))
        mods = []
        with _on_path(path.resolve()):
            for f in sorted(path.glob("*.py")):
                if f.name.startswith(("test_", "setup")):
                    continue
                mod = _import_quietly(f.name, lambda f=f: _load_file(f, f"{tag}_{f.stem}"),
                                      failures)
                if mod is not None:
                    mods.append(mod)
        return UserCode(str(path), mods, failures, (f"{tag}_", ""))
    name = str(module_or_path)
    if not name.replace(".", "").replace("_", "").isalnum():
        raise ValueError(f"module_or_path: {name!r} is neither a file, a folder nor a module "
                         f"name")
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise ValueError(f"module_or_path: no file, folder or importable module {name!r}")
    mod = _import_quietly(name, lambda: importlib.import_module(name), failures)
    mods = [] if mod is None else (_walk_package(mod, failures) if hasattr(mod, "__path__")
                                   else [mod])
    return UserCode(name, mods, failures)
