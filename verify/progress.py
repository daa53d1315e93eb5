"""Progress of long work, in a terminal and in a CI log.

In a terminal each stage gets a tqdm bar.  Where stderr is not a terminal (a CI log, a pipe) a
bar is noise, and silence for minutes looks like a hang, so each stage prints one line when it
starts, a heartbeat line at least every ``interval`` seconds while it runs (from a background
thread, so a stage with no loop of its own — one long training call — still beats), and one
line when it ends:

    [nnparity] training replay: started (1300 steps)
    [nnparity] training replay: 412/1300 steps (32%), 15 s
    [nnparity] training replay: done, 1300 steps in 41 s
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any, TypeVar

__all__ = ["Progress", "HEARTBEAT_SECONDS"]

T = TypeVar("T")

#: A CI log shows a line at least this often (issue: "at least every 15 s").
HEARTBEAT_SECONDS = 15.0
PREFIX = "[nnparity]"


class _Stage:
    """One running stage: its counter, and the lines a log gets for it."""

    def __init__(self, desc: str, total: int | None, unit: str, stream: IO[str],
                 bar: Any = None) -> None:
        self.desc, self.total, self.unit, self.stream = desc, total, unit, stream
        self.done = 0
        self.start = time.monotonic()
        self._lock = threading.Lock()
        self.bar = bar  # a tqdm bar in a terminal, else None

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)

    def _say(self, text: str) -> None:
        with self._lock:
            self.stream.write(f"{PREFIX} {self.desc}: {text}\n")
            self.stream.flush()

    def started(self) -> None:
        self._say(f"started ({self.total} {self.unit})" if self.total else "started")

    def beat(self) -> None:
        secs = time.monotonic() - self.start
        if self.total:
            pct = 100.0 * self.done / self.total
            self._say(f"{self.done}/{self.total} {self.unit} ({pct:.0f}%), {secs:.0f} s")
        elif self.done:
            self._say(f"{self.done} {self.unit}, {secs:.0f} s")
        else:
            self._say(f"running, {secs:.0f} s")

    def finished(self, failed: bool) -> None:
        secs = time.monotonic() - self.start
        what = f"{self.done} {self.unit} in {secs:.0f} s" if self.done else f"{secs:.0f} s"
        self._say(("stopped by an error after " if failed else "done, ") + what)


class Progress:
    """Bars in a terminal, start/heartbeat/end lines elsewhere, nothing when disabled.

    ``mode`` is "auto" (a bar if ``stream`` is a terminal, else lines), "bar", "lines" or "off".
    """

    MODES = ("auto", "bar", "lines", "off")

    def __init__(
        self, mode: str = "auto", stream: IO[str] | None = None,
        interval: float = HEARTBEAT_SECONDS,
    ) -> None:
        if mode not in self.MODES:
            raise ValueError(f"mode: expected one of {self.MODES}, got {mode!r}")
        if not interval > 0:
            raise ValueError(f"interval: expected a positive number of seconds, got {interval!r}")
        self.stream = stream if stream is not None else sys.stderr
        if mode == "auto":
            isatty = getattr(self.stream, "isatty", None)
            mode = "bar" if callable(isatty) and isatty() else "lines"
        self.mode, self.interval = mode, float(interval)

    @contextmanager
    def stage(self, desc: str, total: int | None = None, unit: str = "steps") -> Iterator[_Stage]:
        """A stage of work; ``advance()`` the yielded object as work gets done."""
        if self.mode == "off":
            yield _Stage(desc, total, unit, self.stream)
            return
        bar = None
        if self.mode == "bar":
            from tqdm.auto import tqdm

            bar = tqdm(desc=desc, total=total, unit=unit.rstrip("s") or unit, leave=False,
                       file=self.stream, mininterval=0.5)
        st = _Stage(desc, total, unit, self.stream, bar)
        if bar is None:
            st.started()
        stop = threading.Event()

        def beat() -> None:
            # A bar's clock moves only when it is redrawn: redraw it while nothing advances.
            while not stop.wait(0.5 if bar is not None else self.interval):
                if bar is not None:
                    bar.refresh()
                else:
                    st.beat()

        thread = threading.Thread(target=beat, name=f"heartbeat {desc}", daemon=True)
        thread.start()
        failed = True
        try:
            yield st
            failed = False
        except GeneratorExit:  # a consumer that stops iterating early has not failed
            failed = False
            raise
        finally:
            stop.set()
            thread.join()
            if bar is not None:
                bar.close()
            else:
                st.finished(failed)

    def iterate(self, it: Iterable[T], desc: str, total: int | None = None,
                unit: str = "steps") -> Iterator[T]:
        """``it``, reported as a stage (a tqdm bar in a terminal)."""
        if total is None and hasattr(it, "__len__"):
            total = len(it)  # type: ignore[arg-type]
        with self.stage(desc, total, unit) as st:
            for item in it:
                yield item
                st.advance()
