"""Report files and folders are replaced atomically, also when the writer is killed (kill -9).

A writer subprocess pauses at step k of a write (the ``on_step`` hook of
:mod:`verify.report.atomic`), announces it on stdout, and is killed with SIGKILL there; the
folder must then hold the old complete set or the new complete set, never a mix, and the next
write must leave no temporary file or folder behind.  Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from verify.report import CheckResult, Report, clean_leftovers, write_file, write_report_set
from verify.report.atomic import OLD_PREFIX, TMP_PREFIX, replace_refusal

ROOT = Path(__file__).resolve().parents[1]
WAIT_S = 60  # generous bound on a subprocess importing numpy and reaching its pause point

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX kill -9 semantics")

# The writer: mode "set" writes a report folder (with one PNG-named extra file), mode "file" one
# JSON file; it pauses forever at step K (K < 0: run to the end and print the step names).
WRITER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from verify.report import CheckResult, Report, write_file, write_report_set

    mode, target, k, exchange = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    steps = []

    def hook(name):
        if len(steps) == k:
            print("PAUSED", name, flush=True)
            time.sleep(600)
        steps.append(name)

    r = Report(environment={"run": "new"}, checks=[CheckResult(
        name=f"check {i}", group="losses", passed=True, max_abs_err=0.0, max_rel_err=0.0,
        where="", tolerance_class="exact", rtol=0.0, atol=0.0) for i in range(50)])
    if mode == "set":
        write_report_set(r, target, exchange=exchange == "1", on_step=hook,
                         extra=lambda d: (d / "training_x.png").write_bytes(b"new png"))
    else:
        write_file(target, json.dumps({"run": "new", "pad": "x" * 100000}).encode(),
                   on_step=hook)
    print("DONE", json.dumps(steps), flush=True)
    """
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _run_writer(mode: str, target: Path, k: int, exchange: bool = True) -> tuple[str, list]:
    """Run the writer; with k >= 0, kill -9 it at step k. Returns (paused step, steps)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, mode, str(target), str(k), "1" if exchange else "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=ROOT)
    try:
        if k < 0:
            out, err = proc.communicate(timeout=WAIT_S)
            assert proc.returncode == 0, err
            return "", json.loads(out.split("DONE", 1)[1])
        line = _readline(proc)
        assert line.startswith("PAUSED"), (line, proc.stderr.read() if proc.poll() else "")
        # The paused writer is alive: a cleanup now must not touch its temporary files.
        before = sorted(os.listdir(target.parent))
        assert clean_leftovers(target.parent) == []
        assert sorted(os.listdir(target.parent)) == before
        proc.kill()  # SIGKILL: no finally blocks, no atexit
        proc.wait(timeout=WAIT_S)
        return line.split(" ", 1)[1].strip(), []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=WAIT_S)
        for f in (proc.stdout, proc.stderr):
            f.close()


def _readline(proc: subprocess.Popen) -> str:
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        if not sel.select(timeout=WAIT_S):
            raise AssertionError(f"writer did not reach its pause point within {WAIT_S} s")
        return proc.stdout.readline()
    finally:
        sel.close()


def _old_report() -> Report:
    return Report(environment={"run": "old"}, checks=[CheckResult(
        name="only", group="losses", passed=False, max_abs_err=1.0, max_rel_err=1.0,
        where="", tolerance_class="exact", rtol=0.0, atol=0.0, message="old run")])


def _snapshot(d: Path) -> dict[str, bytes] | None:
    if not d.exists():
        return None
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def _ours(parent: Path) -> list[str]:
    return sorted(n for n in os.listdir(parent) if n.startswith((TMP_PREFIX, OLD_PREFIX)))


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "rename-aside"])
def test_report_folder_is_old_or_new_set_after_kill_at_every_step(tmp_path, exchange):
    target = tmp_path / "out" / "report"
    old_dir = tmp_path / "reference-old"
    write_report_set(_old_report(), old_dir,
                     extra=lambda d: (d / "training_old.png").write_bytes(b"old png"))
    old = _snapshot(old_dir)
    new_dir = tmp_path / "reference-new"
    _, steps = _run_writer("set", new_dir, -1, exchange=False)
    new = _snapshot(new_dir)
    assert old and new and old != new and set(new) == {
        "report.json", "junit.xml", "summary.md", "training_x.png"}
    assert len(steps) >= 6, steps

    seen = {"old": 0, "new": 0, "leftovers": 0, "missing": 0}
    for k in range(len(steps)):
        write_report_set(_old_report(), target,
                         extra=lambda d: (d / "training_old.png").write_bytes(b"old png"))
        assert _snapshot(target) == old
        paused, _ = _run_writer("set", target, k, exchange=exchange)
        state = _snapshot(target)
        if state is None:
            # Only possible between the two renames of the portable path; the next run puts
            # the old folder back before doing anything else.
            assert not exchange and paused == "old set aside", paused
            seen["missing"] += 1
            clean_leftovers(target.parent)
            state = _snapshot(target)
        assert state in (old, new), (
            f"mixed set after kill at step {k} ({paused}): "
            + ", ".join(f"{n}: {'old' if old.get(n) == b else 'new' if new.get(n) == b else '?'}"
                        for n, b in state.items()))
        seen["old" if state == old else "new"] += 1
        seen["leftovers"] += bool(_ours(target.parent))
        # The next run replaces the folder and removes what the killed writer left.
        write_report_set(_old_report(), target)
        assert _ours(target.parent) == [], (k, paused, _ours(target.parent))
        assert set(os.listdir(target)) == {"report.json", "junit.xml", "summary.md"}
    # Both outcomes and leftovers really happened, so the assertions above were exercised.
    assert seen["old"] and seen["new"] and seen["leftovers"], seen
    assert bool(seen["missing"]) == (not exchange), seen


def test_single_file_is_old_or_new_after_kill_at_every_step(tmp_path):
    target = tmp_path / "report.json"
    _, steps = _run_writer("file", tmp_path / "new.json", -1)
    new = (tmp_path / "new.json").read_bytes()
    assert len(steps) >= 3, steps
    for k in range(len(steps)):
        target.write_bytes(b'{"run": "old"}')
        paused, _ = _run_writer("file", target, k)
        assert target.read_bytes() in (b'{"run": "old"}', new), paused
        write_file(target, b'{"run": "next"}')
        assert sorted(os.listdir(tmp_path)) == ["new.json", "report.json"], paused


def test_a_failing_fill_leaves_the_old_folder_and_no_temp(tmp_path):
    target = tmp_path / "rep"
    write_report_set(_old_report(), target)
    before = _snapshot(target)

    def boom(d: Path) -> None:
        (d / "training_a.png").write_bytes(b"half")
        raise RuntimeError("plot failed")

    with pytest.raises(RuntimeError, match="plot failed"):
        write_report_set(_old_report(), target, extra=boom)
    assert _snapshot(target) == before and _ours(tmp_path) == []


def test_a_folder_with_other_files_is_never_replaced(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    with pytest.raises(ValueError, match="notes.txt"):
        write_report_set(_old_report(), mine)
    assert _snapshot(mine) == {"notes.txt": b"precious"} and _ours(tmp_path) == []
    assert "existing file" in replace_refusal(mine / "notes.txt", ["*"])
    assert replace_refusal(tmp_path / "new", ["*"]) == ""
