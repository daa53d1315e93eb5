"""check_module and the chapter-level checks on book-style fixtures: every verdict and its cause.

``tests/oracle_fixtures/book_module`` is a correct implementation in the book's style (folder
package, layers holding the weights, one-hot-only losses, no ``params=``); each file of
``tests/oracle_fixtures/book_module_bugs`` holds one known bug.  The table below says which row
of ``check_module`` must pass or fail, and the cause its message must name.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from verify.api import (
    check_accuracy,
    check_dropout,
    check_gradient_descent,
    check_module,
    check_numerical_diff,
    check_numerical_gradient,
)
from verify.api.module import ITEMS
from verify.compare import ParityError

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "oracle_fixtures"
BOOK = FIXTURES / "book_module"
BUGS = FIXTURES / "book_module_bugs"

#: Rows of the correct fixture that are not found (the book's simpleNet has neither method).
BOOK_NOT_FOUND = {"SimpleNet.gradient", "SimpleNet.numerical_gradient"}

B = "book_module_bugs/"
#: fixture file (under tests/oracle_fixtures) -> {item: (passed, text the row's message must
#: contain, or None)}
BUG_TABLE: dict[str, dict[str, tuple[bool, str | None]]] = {
    B + "forward_diff.py": {"numerical_diff": (False, "equals a forward difference")},
    B + "int_truncation.py": {"numerical_gradient": (False, "an int x was perturbed in place and "
                                                        "truncated")},
    B + "grad_1d_only.py": {"numerical_gradient": (False, "2-D shape (2, 3) raised IndexError")},
    B + "torch_descent_no_zero_grad.py": {"gradient_descent": (False, "never zeroes x.grad")},
    B + "dropout_inverted.py": {"Dropout": (False, "this is inverted dropout")},
    B + "dropout_unscaled.py": {"Dropout": (False, "no scaling at all")},
    B + "accuracy_drops_batch.py": {
        "TwoLayerNet.accuracy": (False, "the last partial batch dropped: with batch_size 100"),
        "TwoLayerNet.gradient": (True, None),
        "training step": (True, None),
    },
    B + "layers_hold_copies.py": {
        "TwoLayerNet.loss": (True, None),
        "TwoLayerNet.gradient": (True, None),
        "TwoLayerNet.numerical_gradient": (False, "parameters not copied into the layers"),
        "training step": (False, "parameters not copied into the layers"),
        "SGD": (True, None),
    },
    B + "hidden_layers.py": {
        "TwoLayerNet.predict": (False, "parameters not copied into the layers"),
        "TwoLayerNet.loss": (False, "parameters not copied into the layers"),
        "TwoLayerNet.gradient": (False, "parameters not copied into the layers"),
    },
    B + "momentum_fresh_state.py": {"Momentum": (False, "FAILED at step 2")},
    B + "cee_no_delta.py": {"cross_entropy_error": (False, "FAILED")},
    "torch_optimizers.py": {"SGD": (True, None), "Momentum": (True, None)},
    # correct network, with two of the book's pitfalls in its helpers
    "book_ch4_net.py": {
        "cross_entropy_error": (False, "FAILED at labels shaped (N, 1) = (6, 1)"),
        "numerical_gradient": (False, "an int x was perturbed in place and truncated"),
        "TwoLayerNet.predict": (True, None),
        "TwoLayerNet.loss": (True, None),
        "TwoLayerNet.gradient": (True, None),
        "TwoLayerNet.numerical_gradient": (True, None),
        "TwoLayerNet.accuracy": (True, None),
        "training step": (True, None),
    },
}


def _rows(path: Path, **kw) -> dict[str, object]:
    return {r.name: r for r in check_module(path, **kw)}


@pytest.fixture(scope="module")
def book_rows():
    return _rows(BOOK)


def test_book_module_every_item_found_passes(book_rows) -> None:
    assert list(book_rows) == list(ITEMS)
    for item, r in book_rows.items():
        if item in BOOK_NOT_FOUND:
            assert r.details["status"] == "not found" and r.passed, item
        else:
            assert r.passed, f"{item}: {r.message}"
            assert r.details["status"] == "passed"
            assert r.details["found_as"].startswith("book_module."), r.details["found_as"]


def test_ch4_style_net_is_detected_and_adapted() -> None:
    rows = _rows(FIXTURES / "book_ch4_net.py")
    assert rows["TwoLayerNet.predict"].details["notes"] == [
        "predict returns probabilities (softmax applied)"]
    assert any("detected: sigmoid hidden layer, δ = 1e-7" in a
               for a in rows["TwoLayerNet.loss"].details["adapted"])
    assert rows["TwoLayerNet.accuracy"].details["notes"][0].startswith(
        "one-hot-only targets: labels refused")


def test_book_module_adaptations_are_named(book_rows) -> None:
    assert any("one-hot-only targets" in a
               for a in book_rows["cross_entropy_error"].details["adapted"])
    adapted = " | ".join(book_rows["TwoLayerNet.loss"].details["adapted"])
    assert "built as TwoLayerNet(4, 5, 3)" in adapted
    assert "layer objects' W/b" in adapted
    assert "detected: relu hidden layer, δ = 1e-7 inside the log" in adapted
    assert "non-inverted dropout" in book_rows["Dropout"].details["notes"][0]
    notes = book_rows["numerical_gradient"].details["notes"]
    assert "computes a float32 x in float32" in notes
    assert any(n.startswith("refuses an int x (TypeError") for n in notes)


def test_require_all_fails_the_items_not_found() -> None:
    rows = _rows(BOOK, require_all=True)
    assert {k for k, r in rows.items() if not r.passed} == BOOK_NOT_FOUND


@pytest.mark.parametrize("fixture", sorted(BUG_TABLE))
def test_bug_fixture_verdicts_and_causes(fixture: str) -> None:
    rows = _rows(FIXTURES / fixture)
    for item, (passed, cause) in BUG_TABLE[fixture].items():
        r = rows[item]
        assert r.details["status"] != "not found", f"{fixture}: {item} not found"
        assert r.passed is passed, f"{fixture}: {item}: {r.message}"
        if cause is not None:
            assert cause in r.message, f"{fixture}: {item}: {r.message}"


def test_inverted_dropout_passes_when_declared() -> None:
    rows = _rows(BUGS / "dropout_inverted.py", dropout_convention="inverted")
    assert rows["Dropout"].passed, rows["Dropout"].message
    assert rows["Dropout"].details["notes"][0].startswith("inverted dropout")
    either = _rows(BUGS / "dropout_inverted.py", dropout_convention="either")
    assert either["Dropout"].passed
    # "no scaling at all" is wrong in every convention
    assert not _rows(BUGS / "dropout_unscaled.py", dropout_convention="either")["Dropout"].passed


def test_module_object_and_module_name() -> None:
    from tests.oracle_fixtures import book_module

    by_object = check_module(book_module)
    by_name = check_module("tests.oracle_fixtures.book_module")
    for rows in (by_object, by_name):
        assert [r.name for r in rows] == list(ITEMS)
        assert all(r.passed for r in rows), [r.message for r in rows if not r.passed]


def test_bad_argument_and_import_failure(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="module_or_path"):
        check_module(tmp_path / "missing.py")
    with pytest.raises(TypeError, match="module_or_path"):
        check_module(3)
    broken = tmp_path / "broken.py"
    broken.write_text("import numpy as np\nraise RuntimeError('no data here')\n")
    rows = check_module(broken)
    assert rows[0].name == "import broken.py" and not rows[0].passed
    assert "RuntimeError: no data here" in rows[0].message


# --------------------------------------------------------------------------- single checks


def test_numerical_diff_prints_the_notes_numbers() -> None:
    from reference_numpy.gradient import numerical_diff
    from verify.api.differentiation import NOTES_DIFF, _quadratic

    for x, printed in NOTES_DIFF.items():
        assert numerical_diff(_quadratic, x) == printed
    assert check_numerical_diff(numerical_diff).passed
    wrong = check_numerical_diff(lambda f, x: (f(x + 1e-4) - f(x - 1e-4)) / 1e-4)
    assert not wrong.passed and "divided by h instead of 2h" in wrong.message
    raising = check_numerical_diff(lambda f, x: 1 / 0)
    assert not raising.passed and "raised ZeroDivisionError" in raising.message


def test_numerical_gradient_int_and_float32_handling() -> None:
    from reference_numpy.gradient import numerical_gradient

    ref = check_numerical_gradient(numerical_gradient)
    assert ref.passed, ref.message
    assert any(n.startswith("refuses an int x") for n in ref.details["notes"])

    def converts(f, x):
        return numerical_gradient(f, np.array(x, dtype=np.float64))

    conv = check_numerical_gradient(converts)
    assert conv.passed and "converts an int x to float (returns float64)" in \
        conv.details["notes"]

    def int_grad(f, x):
        g = numerical_gradient(f, np.array(x, dtype=np.float64))
        return g.astype(x.dtype)

    bad = check_numerical_gradient(int_grad)
    assert not bad.passed and "int64 gradient" in bad.message

    def not_restored(f, x):
        g = numerical_gradient(f, x)
        x += 1e-4
        return g

    moved = check_numerical_gradient(not_restored)
    assert not moved.passed and "holds different values after the call" in moved.message


def test_gradient_descent_many_steps() -> None:
    from reference_numpy.gradient import gradient_descent

    ok = check_gradient_descent(lambda f, x, lr, step_num: gradient_descent(f, x, lr, step_num))
    assert ok.passed, ok.message

    def lr_off(f, x, lr, step_num):
        return gradient_descent(f, x, lr * 1.001, step_num)[0]

    assert not check_gradient_descent(lr_off).passed


def test_dropout_torch_module_and_user_arrays() -> None:
    torch = pytest.importorskip("torch")
    mod = torch.nn.Dropout(0.3)
    book = check_dropout(mod)
    assert not book.passed and "this is inverted dropout" in book.message
    assert check_dropout(mod, convention="inverted").passed
    with pytest.raises(ValueError, match="convention"):
        check_dropout(mod, convention="sometimes")
    with pytest.raises(ValueError, match="ratio"):
        check_dropout(lambda x, train: x)


def test_dropout_writing_into_x_and_wrong_keep_probability() -> None:
    class Wrong:
        def __init__(self, dropout_ratio=0.5):
            self.dropout_ratio = dropout_ratio

        def forward(self, x, train_flg=True):
            if train_flg:
                self.mask = np.random.rand(*x.shape) < self.dropout_ratio
                x *= self.mask
                return x
            return x * (1.0 - self.dropout_ratio)

        def backward(self, dout):
            return dout * self.mask

    r = check_dropout(Wrong)
    assert not r.passed
    assert "changed its input x in place" in r.message
    assert "kept with probability ratio instead of 1 - ratio" in r.message


def test_accuracy_ties_and_one_hot() -> None:
    def good(y, t):
        if t.ndim != 1:
            t = t.argmax(axis=1)
        return np.mean(y.argmax(axis=1) == t)

    assert check_accuracy(good).passed

    def any_tie(y, t):
        if t.ndim != 1:
            t = t.argmax(axis=1)
        return np.mean(y[np.arange(len(t)), t] == y.max(axis=1))

    ties = check_accuracy(any_tie)
    assert not ties.passed and "any of the tied maxima" in ties.message

    def labels_only(y, t):
        return np.mean(y.argmax(axis=1) == t)

    hot = check_accuracy(labels_only)
    assert not hot.passed and "one-hot targets: compare with t.argmax" in hot.message


def test_assert_twins_raise_parity_error() -> None:
    from verify.api import assert_accuracy, assert_numerical_diff

    with pytest.raises(ParityError, match="forward difference"):
        assert_numerical_diff(lambda f, x: (f(x + 1e-4) - f(x)) / 1e-4)
    assert assert_accuracy(lambda y, t: np.mean(y.argmax(1) == (t if t.ndim == 1 else
                                                                   t.argmax(1)))).passed


# --------------------------------------------------------------------------- the command


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "COLUMNS")}
    env.update(PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "verify", "check", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_on_the_book_module_writes_json_and_junit(tmp_path: Path) -> None:
    from verify.report import read_json

    out_json, out_xml = tmp_path / "r.json", tmp_path / "r.xml"
    proc = _cli(str(BOOK), "--json", str(out_json), "--junit", str(out_xml))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "23 checked: 23 passed, 0 failed; 2 not found" in proc.stdout
    report = read_json(out_json)
    assert [c.name for c in report.checks] == list(ITEMS)
    assert json.loads(out_json.read_text())["summary"]["failed"] == 0
    suite = ET.parse(out_xml).getroot()
    assert suite.get("tests") == str(len(ITEMS)) and suite.get("failures") == "0"


def test_cli_exit_codes(tmp_path: Path) -> None:
    bug = _cli(str(BUGS / "forward_diff.py"), "--junit", str(tmp_path / "j.xml"))
    assert bug.returncode == 1, bug.stdout + bug.stderr
    assert "numerical_diff" in bug.stdout and "FAIL" in bug.stdout
    assert ET.parse(tmp_path / "j.xml").getroot().get("failures") == "1"
    missing = _cli(str(tmp_path / "nothing_here.py"))
    assert missing.returncode == 2 and "module_or_path" in missing.stderr
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    none_found = _cli(str(empty))
    assert none_found.returncode == 1 and "none of the chapter's names" in none_found.stdout
    bad_report = _cli(str(BOOK), "--json", str(tmp_path))
    assert bad_report.returncode == 2 and "--json" in bad_report.stderr


def test_docs_show_what_nnparity_check_prints() -> None:
    doc = (ROOT / "docs" / "oracle.md").read_text(encoding="utf-8")
    head = "```console\n$ nnparity check tests/oracle_fixtures/book_module\n"
    assert head in doc
    shown = doc.split(head, 1)[1].split("```", 1)[0]
    proc = _cli("tests/oracle_fixtures/book_module")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == shown


def test_plain_folders_with_the_same_file_names_stay_apart(tmp_path: Path) -> None:
    """An autograder checks many submissions in one process: each folder's ``functions.py``
    is its own, and a function ``sgd`` is not taken for the class ``SGD``."""
    good = "import numpy as np\n\ndef relu(x):\n    return np.maximum(0, x)\n"
    bad = "import numpy as np\n\ndef relu(x):\n    return np.abs(x)\n"
    for name, body in (("a", good), ("b", bad)):  # the book's layout: common/functions.py
        (tmp_path / name / "common").mkdir(parents=True)
        (tmp_path / name / "common" / "__init__.py").write_text("")
        (tmp_path / name / "common" / "functions.py").write_text(body)
        (tmp_path / name / "main.py").write_text(
            "from common.functions import relu\n\ndef sgd(params, grads, lr=0.1):\n    pass\n")
    first, second = _rows(tmp_path / "a"), _rows(tmp_path / "b")
    assert first["relu"].passed and not second["relu"].passed
    assert first["SGD"].details["status"] == "not found"


class _Layer:
    """A dropout layer whose forward and backward are whatever a test makes them."""

    def __init__(self, fn):
        self.dropout_ratio = 0.3
        self.fn = fn

    def forward(self, x, train_flg=True):
        return self.fn(x)

    def backward(self, dout):
        return self.fn(dout)


def _raise(*_a, **_k):
    raise RuntimeError("user code broke")


HOSTILE = {
    "raises": _raise,
    "returns None": lambda *a, **k: None,
    "returns a string": lambda *a, **k: "0.5",
    "returns the wrong shape": lambda *a, **k: np.zeros(7),
    "returns NaN": lambda *a, **k: np.full(np.shape(a[-1]) if a and np.ndim(a[-1]) else (),
                                           np.nan),
}


@pytest.mark.parametrize("how", sorted(HOSTILE))
@pytest.mark.parametrize("check", ["numerical_diff", "numerical_gradient", "gradient_descent",
                                   "dropout", "accuracy"])
def test_user_failures_are_failed_verdicts(check: str, how: str) -> None:
    fn = HOSTILE[how]
    if check == "numerical_diff":
        r = check_numerical_diff(fn)
    elif check == "numerical_gradient":
        r = check_numerical_gradient(fn)
    elif check == "gradient_descent":
        r = check_gradient_descent(fn)
    elif check == "dropout":
        r = check_dropout(_Layer(fn))
    else:
        r = check_accuracy(fn)
    assert not r.passed
    assert r.message.strip(), r
    if how == "raises":
        assert "RuntimeError: user code broke" in r.message


def test_the_reference_passes_its_own_module_check() -> None:
    """No false alarm on the reference itself (params= constructor, labels and one-hot, the
    analytic SimpleNet gradient): every chapter item found passes."""
    rows = {r.name: r for r in check_module("reference_numpy") if r.name in ITEMS}
    found = {k: r for k, r in rows.items() if r.details["status"] != "not found"}
    assert set(rows) - set(found) == {"Dropout"}  # the reference's dropout lives in its net
    assert all(r.passed for r in found.values()), [r.message for r in found.values()
                                                   if not r.passed]
