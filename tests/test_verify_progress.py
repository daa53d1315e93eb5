"""Progress: bars in a terminal, start/heartbeat/end lines in a log, nothing when off."""

from __future__ import annotations

import io

import pytest

from verify.progress import Progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_picks_lines_for_a_log_and_bars_for_a_terminal() -> None:
    assert Progress("auto", io.StringIO()).mode == "lines"
    assert Progress("auto", _Tty()).mode == "bar"


def test_lines_start_and_end_with_counts() -> None:
    out = io.StringIO()
    # A long interval: the heartbeat thread never fires here; beat() is called directly below.
    prog = Progress("lines", out, interval=3600)
    assert list(prog.iterate(range(5), "training replay")) == [0, 1, 2, 3, 4]
    lines = out.getvalue().splitlines()
    assert lines[0] == "[nnparity] training replay: started (5 steps)"
    assert lines[-1].startswith("[nnparity] training replay: done, 5 steps in ")
    assert len(lines) == 2


def test_heartbeat_line_says_how_far() -> None:
    out = io.StringIO()
    prog = Progress("lines", out, interval=3600)
    with prog.stage("gradients", total=40, unit="cases") as st:
        st.advance(10)
        st.beat()
    beat = out.getvalue().splitlines()[1]
    assert beat.startswith("[nnparity] gradients: 10/40 cases (25%), ")


def test_a_failing_stage_says_so_and_an_early_stop_does_not() -> None:
    out = io.StringIO()
    prog = Progress("lines", out, interval=3600)
    with pytest.raises(RuntimeError), prog.stage("losses"):
        raise RuntimeError("boom")
    assert "losses: stopped by an error after" in out.getvalue()
    out.truncate(0), out.seek(0)
    for i in prog.iterate(range(10), "curves"):
        if i == 2:
            break
    import gc

    gc.collect()
    assert "curves: done, 2 steps in" in out.getvalue()  # items 0 and 1 completed


def test_off_prints_nothing_and_bar_writes_to_the_stream() -> None:
    out = io.StringIO()
    assert list(Progress("off", out).iterate([1, 2], "x")) == [1, 2]
    assert out.getvalue() == ""
    bar = _Tty()
    assert list(Progress("bar", bar).iterate(range(3), "replay")) == [0, 1, 2]


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"mode": "loud"}, "mode: expected one of"),
    ({"interval": 0}, "interval: expected a positive number of seconds, got 0"),
])
def test_bad_arguments(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        Progress(**kwargs)
