"""kill -9 in the middle of save_params: the old file stays whole, and the next write removes
what the killed one left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import reference_numpy as rn
from reference_numpy._atomic import TMP_PREFIX, parse_temp_name

ROOT = Path(__file__).resolve().parents[1]

# The child saves new parameters through save_params, but np.savez is replaced by one that
# writes half of the archive, says so through a marker file and then waits to be killed: the
# kill lands mid-write every time, whatever the machine's speed.
CHILD = r"""
import sys, time
from pathlib import Path
import numpy as np
import reference_numpy as rn

target, marker = Path(sys.argv[1]), Path(sys.argv[2])
def half_then_wait(f, **arrays):
    f.write(b"PK\x03\x04" + b"\0" * 4096)
    f.flush()
    marker.write_text("writing")
    time.sleep(600)
np.savez = half_then_wait
net = rn.TwoLayerNet(784, 50, 10, seed=1)
rn.save_params(net.params, target)
"""


def _wait_for(path: Path, proc: subprocess.Popen, limit: float = 120.0) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"child exited early ({proc.returncode}): {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("child never reached the write")
        time.sleep(0.05)


@pytest.mark.parametrize("existing", [False, True])
def test_kill_during_save_params(tmp_path: Path, existing: bool) -> None:
    target, marker = tmp_path / "params.npz", tmp_path / "marker"
    old = rn.TwoLayerNet(784, 50, 10, seed=0).params
    if existing:
        rn.save_params(old, target)
    before = target.read_bytes() if existing else None
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(target), str(marker)], env=env,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(marker, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(TMP_PREFIX)]
    assert len(leftovers) == 1 and parse_temp_name(leftovers[0].name)[2] == "params.npz"
    if existing:
        assert target.read_bytes() == before  # the old file, whole
        loaded = rn.load_params(target)
        assert all(np.array_equal(loaded[k], old[k]) for k in old)
    else:
        assert not target.exists()  # never a half file under the target's name
    # The next write removes the dead writer's temporary file and leaves none of its own.
    rn.save_params(rn.TwoLayerNet(784, 50, 10, seed=2).params, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["marker", "params.npz"]


def test_a_live_writers_temp_file_is_left_alone(tmp_path: Path) -> None:
    mine = tmp_path / f"{TMP_PREFIX}{os.getpid()}-abcd1234-params.npz"
    mine.write_bytes(b"in progress")
    rn.save_params(rn.TwoLayerNet(4, 3, 2, seed=0).params, tmp_path / "params.npz")
    assert mine.exists()
