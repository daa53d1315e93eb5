"""The pytest plugin: a user's test file using the ``nnparity`` fixture, run by pytester.

The inner runs disable plugin autoloading and load the plugin with ``-p verify.pytest_plugin``,
so they behave the same whether or not the package (and with it the ``pytest11`` entry point)
is installed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO_ROOT = Path(__file__).resolve().parents[1]

USER_TESTS = '''
import numpy as np
import pytest


def softmax(a):
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_no_shift(a):
    e = np.exp(a)
    return e / e.sum(axis=-1, keepdims=True)


def test_softmax(nnparity):
    nnparity.assert_function(softmax, "softmax")


def test_softmax_result_object(nnparity, reference):
    result = nnparity.check_function(softmax, "softmax")
    assert result.passed
    assert reference.functions.softmax is reference.softmax
    assert nnparity.tolerance("float64", "function").rtol >= 0


@pytest.mark.nnparity
def test_explicitly_marked():
    pass


def test_not_a_parity_test():
    pass
'''

FAILING = '''
import numpy as np


def softmax_no_shift(a):
    e = np.exp(a)
    return e / e.sum(axis=-1, keepdims=True)


def test_softmax(nnparity):
    nnparity.assert_function(softmax_no_shift, "softmax")
'''


@pytest.fixture
def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """Run pytest on a user's test file with the plugin loaded explicitly."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.syspath_prepend(str(REPO_ROOT))

    def go(source: str, *args: str) -> pytest.RunResult:
        pytester.makepyfile(test_user=source)
        return pytester.runpytest("-p", "verify.pytest_plugin", "-p", "no:cacheprovider",
                                  *args)

    return go


def test_passing_user_suite(run) -> None:
    result = run(USER_TESTS, "-v")
    result.assert_outcomes(passed=4)


def test_marker_selects_parity_tests_and_is_registered(run) -> None:
    # --strict-markers: the marker must be registered; -m: the fixture users get it too.
    result = run(USER_TESTS, "--strict-markers", "-m", "nnparity", "-v")
    result.assert_outcomes(passed=3, deselected=1)
    markers = run(USER_TESTS, "--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.nnparity: checks code against the nnparity*"])


def test_failing_user_suite_shows_the_parity_message(run) -> None:
    result = run(FAILING)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "ParityError" in out
    assert "softmax forward (user numpy/float64) FAILED at large logits, index (0, 0)" in out
    assert "NaN/Inf positions differ, first at index (0, 0)" in out
    assert "(0, 0): nan vs 1" in out


def test_entry_point_is_declared() -> None:
    text = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = re.search(r"^\[project\.entry-points\.pytest11\]\n(.*?)(?:^\[|\Z)", text,
                        re.M | re.S)
    assert section is not None, "pyproject.toml has no [project.entry-points.pytest11]"
    assert re.search(r'^nnparity\s*=\s*"verify\.pytest_plugin"\s*$', section.group(1), re.M)


def test_entry_point_autoloads_the_plugin(pytester: pytest.Pytester,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the pytest11 entry point alone (a stand-in distribution declares it), no -p."""
    site = pytester.path / "site"
    dist = site / "nnparity_entry_point_probe-0.0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: nnparity-entry-point-probe\nVersion: 0.0.0\n")
    (dist / "entry_points.txt").write_text("[pytest11]\nnnparity = verify.pytest_plugin\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(REPO_ROOT))
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
