"""pytest plugin ``nnparity``: check your own code against the reference inside your test suite.

Installed with the package (entry point ``verify.pytest_plugin`` in the ``pytest11`` group),
or enabled by hand with ``-p verify.pytest_plugin`` / ``pytest_plugins =
["verify.pytest_plugin"]``.  The entry point carries the module's own name on purpose: pytest
registers a ``-p`` plugin under its module name and skips an entry point whose name is already
registered, so ``-p verify.pytest_plugin`` with the package installed is a no-op instead of
"Plugin already registered under a different name" (exit 3).  Disable it with
``-p no:verify.pytest_plugin``.  It provides:

* fixture ``nnparity`` - a :class:`verify.api.Oracle`: ``check_function``, ``check_backward``,
  ``check_gradient``, ``check_optimizer_step``, ``check_training_step``, their ``assert_*``
  twins (raising :class:`verify.compare.ParityError` with the parity message, which pytest
  prints as the failure) and ``tolerance(tclass, kind)``;
* fixture ``reference`` - the ``reference_numpy`` package (functions, networks, optimizers, ...);
* marker ``nnparity`` - registered, and added automatically to every test that uses the
  ``nnparity`` fixture, so ``pytest -m nnparity`` runs just the parity checks.

Example (a user's ``tests/test_parity.py``)::

    def test_my_softmax(nnparity):
        nnparity.assert_function(my_softmax, "softmax")

The plugin is light: importing it imports neither torch nor the checks; the oracle is loaded
the first time a test asks for the fixture.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from verify.api import Oracle

__all__ = ["pytest_configure", "pytest_collection_modifyitems", "nnparity", "reference"]

MARKER = "nnparity"
MARKER_HELP = (
    "nnparity: checks code against the nnparity reference (added automatically to tests that "
    "use the `nnparity` fixture; select them with -m nnparity)"
)


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``nnparity`` marker so ``--strict-markers`` accepts it."""
    config.addinivalue_line("markers", MARKER_HELP)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the ``nnparity`` fixture with ``@pytest.mark.nnparity``."""
    for item in items:
        if MARKER in getattr(item, "fixturenames", ()) and item.get_closest_marker(MARKER) is None:
            item.add_marker(MARKER)


@pytest.fixture(scope="session")
def nnparity() -> Oracle:
    """The correctness oracle: ``nnparity.assert_function(my_softmax, "softmax")`` and friends."""
    from verify.api import Oracle

    return Oracle()


@pytest.fixture(scope="session")
def reference() -> ModuleType:
    """The ``reference_numpy`` package, e.g. ``reference.functions.softmax``."""
    import reference_numpy  # imports functions, gradient, networks, optimizers, ...

    return reference_numpy
