"""The pytest plugin: a user's test file using the ``nnparity`` fixture, run by pytester.

The inner runs disable plugin autoloading and load the plugin with ``-p verify.pytest_plugin``,
so they behave the same whether or not the package (and with it the ``pytest11`` entry point)
is installed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy  # noqa: F401 - before pytester's in-process runs, which restore sys.modules
import pytest  # after each; numpy cannot be imported twice in one process

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
    # The module's own name: pytest then skips the entry point when -p already loaded it.
    assert _entry_point_name() == "verify.pytest_plugin"


def test_entry_point_autoloads_the_plugin(pytester: pytest.Pytester,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the pytest11 entry point alone (a stand-in distribution declares it), no -p."""
    site = pytester.path / "site"
    dist = site / "nnparity_entry_point_probe-0.0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: nnparity-entry-point-probe\nVersion: 0.0.0\n")
    (dist / "entry_points.txt").write_text(
        f"[pytest11]\n{_entry_point_name()} = verify.pytest_plugin\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(REPO_ROOT))
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    pytester.makepyfile(test_user=USER_TESTS)
    # -p no:nnparity: an installed nnparity whose metadata has the old entry-point name.
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:nnparity")
    result.assert_outcomes(passed=4)


# --------------------------------------------------------------------------- the docs run

DOC = REPO_ROOT / "docs" / "oracle.md"
_FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)


def doc_blocks() -> list[tuple[str, str]]:
    """Every fenced block of docs/oracle.md as (language, text), in order."""
    return [(m.group(1), m.group(2)) for m in _FENCE.finditer(DOC.read_text(encoding="utf-8"))]


def _shown_after(blocks: list[tuple[str, str]], i: int) -> str | None:
    """The ```text block shown as block i's output: the next block, if it is text."""
    if i + 1 < len(blocks) and blocks[i + 1][0] == "text":
        return blocks[i + 1][1]
    return None


def _normalise(text: str) -> str:
    text = re.sub(r" in \d+\.\d+s", " in ...s", text)
    text = re.sub(r"<module 'reference_numpy' from '[^']*'>",
                  "<module 'reference_numpy' from '...'>", text)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _is_file(code: str) -> bool:
    return code.startswith("# ") and code.split("\n", 1)[0].endswith((".py", ".ini"))


SAMPLES = [i for i, (lang, code) in enumerate(doc_blocks())
           if lang == "python" and not _is_file(code)]


@pytest.mark.parametrize("index", SAMPLES)
def test_doc_python_samples_run_and_print_what_is_shown(index: int, tmp_path: Path) -> None:
    blocks = doc_blocks()
    code = blocks[index][1]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    shown = _shown_after(blocks, index)
    if shown is not None:
        assert _normalise(proc.stdout) == _normalise(shown), proc.stdout


def _user_project(root: Path) -> None:
    """The docs' files, written where the docs say (mynet.py, pytest.ini, tests/...)."""
    for _, code in doc_blocks():
        if _is_file(code):
            path = root / code.split("\n", 1)[0][2:].strip()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(code, encoding="utf-8")


def _pytest_sample_output() -> str:
    blocks = doc_blocks()
    i = next(i for i, (_, c) in enumerate(blocks) if c.startswith("# tests/test_parity.py"))
    shown = _shown_after(blocks, i)
    assert shown is not None, "the docs show no output for the pytest sample"
    return shown


def _stand_in_site(root: Path) -> Path:
    """A distribution declaring pyproject's pytest11 entry point (as an install would)."""
    site = root / "site"
    dist = site / "nnparity_entry_point_probe-0.0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: nnparity-entry-point-probe\nVersion: 0.0.0\n")
    (dist / "entry_points.txt").write_text(
        f"[pytest11]\n{_entry_point_name()} = verify.pytest_plugin\n")
    return site


def _plain_pytest(cwd: Path, *args: str, autoload: bool) -> subprocess.CompletedProcess:
    """The ``pytest`` console script (not ``python -m pytest``, which puts cwd on sys.path).

    ``-p no:nnparity`` blocks an installed nnparity whose metadata still carries the old
    entry-point name, so only this checkout's plugin and the stand-in declare it.
    """
    script = Path(sys.executable).with_name("pytest")
    if not script.exists():
        pytest.skip(f"no pytest console script beside {sys.executable}")
    # pytest stops truncating the short summary when $CI or $BUILD_NUMBER is set, and wraps at
    # the terminal's width: the docs show an 80-column terminal outside CI, so pin both.
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "CI", "BUILD_NUMBER")}
    env["COLUMNS"] = "80"
    paths = [str(REPO_ROOT)]
    if autoload:
        paths.insert(0, str(_stand_in_site(cwd)))
    else:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return subprocess.run([str(script), "-p", "no:cacheprovider", "-p", "no:nnparity", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(("args", "autoload"), [(("-p", "verify.pytest_plugin"), False),
                                                ((), True),
                                                (("-p", "verify.pytest_plugin"), True)],
                         ids=["-p", "entry point", "entry point and -p"])
def test_doc_pytest_sample_from_the_project_root(tmp_path: Path, args: tuple[str, ...],
                                                 autoload: bool) -> None:
    """Plain pytest from the user's root, as the docs say, prints what the docs show; with the
    plugin by -p, by the entry point, or both (the issue: both exited 3)."""
    _user_project(tmp_path)
    proc = _plain_pytest(tmp_path, *args, "-q", "tests", autoload=autoload)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # one planted bug
    assert _normalise(proc.stdout) == _normalise(_pytest_sample_output()), proc.stdout


def test_user_module_is_not_importable_without_the_ini(tmp_path: Path) -> None:
    """Why the docs ask for pythonpath = . : without it plain pytest cannot import mynet."""
    _user_project(tmp_path)
    (tmp_path / "pytest.ini").unlink()
    proc = _plain_pytest(tmp_path, "-p", "verify.pytest_plugin", "-q", "tests", autoload=False)
    assert "ModuleNotFoundError: No module named 'mynet'" in proc.stdout


def _entry_point_name() -> str:
    text = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = re.search(r"^\[project\.entry-points\.pytest11\]\n(.*?)(?:^\[|\Z)", text,
                        re.M | re.S)
    assert section is not None, "pyproject.toml has no [project.entry-points.pytest11]"
    m = re.search(r'^"?([\w.]+)"?\s*=\s*"verify\.pytest_plugin"\s*$', section.group(1), re.M)
    assert m is not None, section.group(1)
    return m.group(1)
