"""``python -m verify --fail-fast``: the first group with a failure ends the run, reports still
written, exit status 1 (the mutant measurement, scripts/mutants.py, judges with it).

The groups are replaced by a stand-in that fails one group on purpose, so no check computes
anything: the test is about the loop in verify.cli, not about the checks.
"""

from __future__ import annotations

import json

import pytest

from verify import runner
from verify.checks import GROUP_NAMES
from verify.cli import main
from verify.report import CheckResult

FAILING = GROUP_NAMES[1]


@pytest.fixture
def ran(monkeypatch) -> list[str]:
    """The groups the CLI asked for, in order; the group named in ``ran.failing`` (a list
    subclass, so a test can change it) returns one failed check."""

    class Calls(list):
        failing: str | None = FAILING

    calls = Calls()

    def fake_run_groups(ctx, groups):
        (g,) = groups
        calls.append(g)
        return [CheckResult(name=f"stand-in check of {g}", group=g, passed=g != calls.failing,
                            max_abs_err=0.0, max_rel_err=0.0, where="", tolerance_class="exact",
                            rtol=0.0, atol=0.0)]

    monkeypatch.setattr(runner, "run_groups", fake_run_groups)
    # no data folder: preflight then reads nothing, and the stand-in groups need none
    monkeypatch.delenv("NNPARITY_DATA_DIR", raising=False)
    return calls


def test_fail_fast_stops_after_the_first_failed_group(ran, tmp_path, capsys):
    report = tmp_path / "r.json"
    code = main(["--quick", "--no-progress", "--fail-fast", "--dtype", "float64",
                 "--device", "cpu", "--json", str(report)])
    assert code == 1
    assert ran == list(GROUP_NAMES[:2])
    data = json.loads(report.read_text())
    assert data["passed"] is False
    groups = [c["group"] for c in data["checks"]]
    assert FAILING in groups and GROUP_NAMES[2] not in groups
    assert "FAIL" in capsys.readouterr().out


def test_without_fail_fast_every_group_runs(ran, capsys):
    code = main(["--quick", "--no-progress", "--dtype", "float64", "--device", "cpu"])
    assert code == 1
    assert ran == list(GROUP_NAMES)


def test_fail_fast_changes_nothing_when_all_pass(ran, capsys):
    ran.failing = None
    code = main(["--quick", "--no-progress", "--fail-fast", "--dtype", "float64",
                 "--device", "cpu"])
    assert code == 0
    assert ran == list(GROUP_NAMES)
