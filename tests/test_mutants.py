"""scripts/mutator.py: each operator's change on a tiny source, the exclusions, the seeded sample,
mutants that would not compile left out; scripts/mutants.py's bookkeeping (no judge is run)."""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


mutator = _load("mutator")


def _changes(source: str, operator: str | None = None) -> set[str]:
    """Each mutant as the mutated source, stripped (one-line sources read best)."""
    return {mutator.apply(source, m).strip() for m in mutator.mutants(source)
            if operator is None or m.operator == operator}


@pytest.mark.parametrize("source,operator,expected", [
    ("y = a + b\n", "arith", {"y = (a - b)"}),
    ("y = a - b\n", "arith", {"y = (a + b)"}),
    ("y = a * b\n", "arith", {"y = (a / b)"}),
    ("y = a / b\n", "arith", {"y = (a * b)"}),
    ("y = a // b\n", "arith", {"y = (a / b)"}),
    ("y = a ** b\n", "arith", {"y = (a * b)"}),
    ("y += b\n", "arith", {"y -= b"}),
    ("y = a < b\n", "compare", {"y = (a <= b)"}),
    ("y = a >= b\n", "compare", {"y = (a > b)"}),
    ("y = a == b\n", "compare", {"y = (a != b)"}),
    ("y = a is None\n", "compare", {"y = (a is not None)"}),
    ("y = a in b\n", "compare", {"y = (a not in b)"}),
    ("y = a < b < c\n", "compare", {"y = (a <= b < c)", "y = (a < b <= c)"}),
    ("y = a and b\n", "boolop", {"y = (a or b)"}),
    ("y = 0\n", "const", {"y = 1"}),
    ("y = 1\n", "const", {"y = 0", "y = 2"}),
    ("y = 7\n", "const", {"y = 8"}),
    ("y = 0.0\n", "const", {"y = 1.0"}),
    ("y = 0.5\n", "const", {f"y = {0.5 * 1.001!r}", "y = (-0.5)"}),
    ("y = -2\n", "const", {"y = (-1)"}),
    ("y = True\n", "bool", {"y = False"}),
    ("y = s.sum(axis=0)\n", "axis", {"y = s.sum(axis=1)"}),
    ("y = s.sum(dim=-1)\n", "axis", {"y = s.sum(dim=0)"}),
    ("y = s.sum(axis=1, keepdims=True)\n", "keepdims", {"y = s.sum(axis=1, keepdims=False)"}),
    ("y = -x\n", "unary", {"y = x"}),
    ("y = not x\n", "unary", {"y = x"}),
    ("y = f(x)\n", "stmt", {"pass"}),
    ("def f(x):\n    return np.exp(x, out=x)\n", "return-arg",
     {"def f(x):\n    return x"}),
])
def test_each_operator_makes_the_expected_change(source, operator, expected):
    assert _changes(source, operator) == expected


def test_the_rest_of_the_file_stays_byte_for_byte():
    src = '# ε comment\ndef f(x):  # übung\n    return x * 2  # keep\n'
    (m,) = [m for m in mutator.mutants(src) if m.operator == "arith"]
    assert mutator.apply(src, m) == '# ε comment\ndef f(x):  # übung\n    return (x / 2)  # keep\n'
    assert (m.before, m.after, m.line) == ("x * 2", "x / 2", 3)


def test_axis_and_keepdims_are_not_also_mutated_as_constants():
    ops = [m.operator for m in mutator.mutants("y = s.sum(axis=1, keepdims=True)\n")]
    assert sorted(ops) == ["axis", "keepdims", "stmt"]


@pytest.mark.parametrize("source", [
    'def f(x):\n    """Doc 1 + 2."""\n',
    "raise ValueError(f'x: expected {1 + 2}, got {x!r}')\n",
    "assert x > 0, 'x must be positive'\n",
    "if x < 0:\n    raise ValueError('x: expected >= 0')\n",
    "if x < 0:\n    warnings.warn('negative', RuntimeWarning, stacklevel=2)\n",
    "check_positive(x - 1, 'x')\n",
    "x = check_finite(x * 2, 'x')\n",
    "_warn_precision(x, 1e-4)\n",
    "print(1 + 2)\n",
    "logger.info('%d', 1 + 2)\n",
    "p.add_argument('--n', type=int, default=3)\n",
    "__all__ = ['f'] + ['g']\n",
    "def f(x: int = None) -> list[int]:\n    pass\n",
    "@dataclass(frozen=True)\nclass C:\n    pass\n",
    "import numpy as np\n",
    "if TYPE_CHECKING:\n    y = 1 + 2\n",
    "if __name__ == '__main__':\n    main(1 + 2)\n",
    "class C:\n    def __repr__(self):\n        return f'C({1 + 2})'\n",
    "y = 'a' 'b'\n",
])
def test_excluded_code_yields_no_mutant_beyond_the_statement(source):
    ms = mutator.mutants(source)
    # only a plain statement's own removal may remain (the string assignment's)
    assert all(m.operator == "stmt" for m in ms), [m.diff for m in ms]
    if not source.startswith("y = 'a'"):
        assert ms == [], [m.diff for m in ms]


def test_a_guard_is_skipped_but_the_code_after_it_is_not():
    src = "def f(x):\n    if x < 0:\n        raise ValueError('x')\n    return x * 2\n"
    assert sorted(m.after for m in mutator.mutants(src)) == ["3", "x / 2"]


def test_defaults_are_mutated_but_not_annotations():
    src = "def f(x: float = 0.5, h: int = 1) -> float:\n    pass\n"
    afters = sorted(m.after for m in mutator.mutants(src))
    assert afters == sorted([repr(0.5 * 1.001), "-0.5", "0", "2"])


def test_a_mutant_that_does_not_compile_is_left_out(monkeypatch):
    src = "y = a + b\n"

    def walk(self, tree):
        node = tree.body[0].value
        yield node, "arith", ast.BinOp(left=node.left, op=ast.Sub(), right=node.right)
        yield node, "stmt", "pass"  # 'y = pass' is no Python

    monkeypatch.setattr(mutator._Walker, "run", walk)
    assert [m.replacement for m in mutator.mutants(src)] == ["(a - b)"]


def test_apply_refuses_a_changed_source():
    (m,) = [m for m in mutator.mutants("y = a + b\n") if m.operator == "arith"]
    with pytest.raises(mutator.NotApplicable, match="no longer holds"):
        mutator.apply("y = a * b\n", m)


def test_every_mutant_compiles_and_changes_the_tree():
    src = (SCRIPTS.parent / "reference_numpy" / "functions.py").read_text(encoding="utf-8")
    base = ast.dump(ast.parse(src))
    ms = mutator.mutants(src, "reference_numpy/functions.py")
    assert len(ms) > 100 and len({m.id for m in ms}) == len(ms)
    for m in ms[::7]:
        out = mutator.apply(src, m)
        compile(out, m.path, "exec")
        assert ast.dump(ast.parse(out)) != base, m.diff


def test_the_sample_is_fixed_by_the_seed():
    src = "\n".join(f"y{i} = a{i} + {i} * b" for i in range(40)) + "\n"
    pop = mutator.mutants(src)
    first = [m.id for m in mutator.sample(pop, 10, seed=3)]
    assert first == [m.id for m in mutator.sample(list(reversed(pop)), 10, seed=3)]
    assert first != [m.id for m in mutator.sample(pop, 10, seed=4)]
    assert len(set(first)) == 10
    assert len(mutator.sample(pop, 10_000, seed=3)) == len(pop)


def test_summary_counts_and_kill_rate():
    mutants = _load("mutants")
    rec = {"path": "p.py", "line": 1, "operator": "arith", "before": "a", "after": "b"}
    results = {"meta": {"seed": 0, "count": 4, "commit": "abc"}, "results": {
        "1": {**rec, "id": "1", "status": "killed", "how": "check", "seconds": 10.0},
        "2": {**rec, "id": "2", "status": "timeout", "seconds": 30.0},
        "3": {**rec, "id": "3", "status": "survived", "seconds": 20.0},
        "4": {**rec, "id": "4", "status": "not-applicable", "seconds": 0.0},
    }}
    s = mutants.summarize(results)
    assert (s["killed"], s["timeout"], s["survived"], s["not-applicable"]) == (1, 1, 1, 1)
    assert s["kill_rate"] == round(2 / 3, 4)
    assert [v["id"] for v in s["survivors"]] == ["3"]
    json.dumps(s)


def test_targets_exist_and_include_both_engines_and_the_data_layer():
    mutants = _load("mutants")
    root = SCRIPTS.parent
    assert all((root / t).is_file() for t in mutants.TARGETS)
    assert {"reference_numpy/idx.py", "reference_numpy/mnist_files.py",
            "reference_torch/distributed.py", "reference_torch/fastpath.py"} <= set(
        mutants.TARGETS)


def test_a_crash_is_summed_up_by_its_exception_line():
    mutants = _load("mutants")
    err = "Traceback (most recent call last):\n  File 'x'\nValueError: bad thing\n[ 0.1,\n 0.2]\n"
    assert mutants._exception_line(err) == "ValueError: bad thing"
    assert mutants._exception_line("Killed\n") == "Killed"


def test_merge_joins_the_shards_results_and_refuses_another_sample(tmp_path, capsys):
    mutants = _load("mutants")
    rec = {"path": "p.py", "line": 1, "operator": "arith", "before": "a", "after": "b"}

    def part(name, seed, **recs):
        path = tmp_path / name
        path.write_text(json.dumps({"meta": {"seed": seed, "count": 150, "commit": "abc"},
                                    "results": {k: {**rec, "id": k, **v}
                                                for k, v in recs.items()}}))
        return path

    a = part("a.json", 0, m1={"status": "killed", "how": "check", "seconds": 1.0})
    b = part("b.json", 0, m2={"status": "survived", "seconds": 2.0})
    out = tmp_path / "out" / "results.json"
    assert mutants.main(["--results", str(out), "--merge", str(a), str(b)]) == 0
    merged = json.loads(out.read_text())
    assert set(merged["results"]) == {"m1", "m2"}
    summary = json.loads((out.parent / "summary.json").read_text())
    assert (summary["killed"], summary["survived"], summary["run"]) == (1, 1, 2)
    other = part("c.json", 1)
    with pytest.raises(SystemExit):
        mutants.main(["--results", str(out), "--merge", str(other)])
    assert "--merge" in capsys.readouterr().err
    assert set(json.loads(out.read_text())["results"]) == {"m1", "m2"}  # untouched


@pytest.mark.parametrize("text", ["2/2", "a/2", "1", "-1/2"])
def test_a_bad_shard_is_refused_by_name(text, capsys):
    mutants = _load("mutants")
    with pytest.raises(SystemExit):
        mutants.main(["--shard", text, "--list"])
    assert "--shard" in capsys.readouterr().err


def test_a_verdict_names_no_path_of_this_machine(monkeypatch, tmp_path):
    mutants = _load("mutants")
    monkeypatch.setenv("NNPARITY_DATA_DIR", "/data/mnist")
    text = (f"/data/mnist/train.gz: corrupt; {tmp_path}/x.py:3; "
            f"NNPARITY_CACHE_DIR={mutants.tempfile.gettempdir()}/c")
    assert mutants.portable(text, tmp_path) == (
        "$NNPARITY_DATA_DIR/train.gz: corrupt; <tree>/x.py:3; NNPARITY_CACHE_DIR=$TMPDIR/c")
