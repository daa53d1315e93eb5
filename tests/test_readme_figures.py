"""scripts/readme_figures.py: the README's verify blocks are written from a report, and --check
fails when the README's counts disagree with a run."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("readme_figures", ROOT / "scripts/readme_figures.py")
rf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rf)


def _check(name: str, group: str = "training", **kw) -> dict:
    return {"name": name, "group": group, "passed": True, "max_rel_err": 0.0, "where": "",
            "details": {}, **kw}


def _report(quick: bool) -> dict:
    checks = [
        _check("softmax forward", "losses"),
        _check("free-running loss curve (torch/cpu/float32)", max_rel_err=2.4e-7,
               where="iteration 31"),
        _check("step replay (restart from reference each step) (torch/cpu/float32)",
               max_rel_err=2.5e-6, where="step 969, grad b2"),
        _check("accuracy curves via prediction flips (torch/cpu/float32)",
               where="final parameters, 3 flips; max net change 1",
               details={"final_test_acc": 0.9467, "reference_final_test_acc": 0.9468}),
        _check("free-running loss curve (numpy/float32, train's default: fused)",
               max_rel_err=2.8e-7, where="iteration 115"),
        _check("accuracy curves via prediction flips (numpy/float32, train's default: fused)",
               where="final parameters, 0 flips; max net change 0",
               details={"final_test_acc": 0.9468, "reference_final_test_acc": 0.9468}),
    ]
    return {"environment": {"quick": quick, "iters": 1300 if quick else 10000,
                            "data": "full MNIST (60000 train / 10000 test) from /x",
                            "machine": "x86_64", "cpu_count": 2, "golden": "g.json"},
            "summary": {"total": len(checks), "passed": len(checks), "seconds": 65.0},
            "producer": {"version": "0.1.0", "commit": "abc"}, "checks": checks}


def test_quick_block_has_counts_and_no_table():
    text = rf.block(_report(quick=True))
    assert text.startswith(rf.BEGIN) and text.endswith(rf.END)
    assert "**6 of 6 checks passed** in 1 min 5 s wall" in text
    assert "by group: losses 1, training 5" in text and "|---|" not in text


def test_full_block_has_one_row_per_candidate_from_the_report():
    lines = rf.block(_report(quick=False)).splitlines()
    assert lines[0] == rf.FULL_BEGIN and lines[-1] == rf.FULL_END
    rows = [ln for ln in lines if ln.startswith("| ") and "candidate vs" not in ln]
    assert rows == [
        "| torch/cpu/float32 | 2.4e-07 (iteration 31) | 2.5e-06 (step 969, grad b2) | 3 | "
        "0.9467 (0.9468) |",
        "| numpy/float32, train's default: fused | 2.8e-07 (iteration 115) | — (the eager row "
        "replays) | 0 | 0.9468 (same) |",
    ]


@pytest.mark.parametrize("quick", [True, False])
def test_write_then_check_agrees_and_a_changed_count_fails(tmp_path, capsys, quick):
    import json

    readme = tmp_path / "README.md"
    begin, end = rf.markers(_report(quick))
    readme.write_text(f"intro\n{begin}\nold\n{end}\noutro\n", encoding="utf-8")
    rep = tmp_path / "report.json"
    rep.write_text(json.dumps(_report(quick)), encoding="utf-8")
    assert rf.main([str(rep), "--write", "--readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("intro\n") and text.endswith("\noutro\n") and "\nold\n" not in text
    assert rf.main([str(rep), "--check", "--readme", str(readme)]) == 0
    more = copy.deepcopy(_report(quick))
    more["checks"].append(_check("relu forward", "losses"))
    more["summary"].update(total=7, passed=7)
    rep.write_text(json.dumps(more), encoding="utf-8")
    assert rf.main([str(rep), "--check", "--readme", str(readme)]) == 1
    assert "disagrees" in capsys.readouterr().err
