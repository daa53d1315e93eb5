"""Bad command lines are refused before the first computation: exit status 2, one line on
stderr naming the option, and no file or folder created or changed.

One row per bad input.  The rows run ``verify.cli.main`` in this process with every entry
point that computes replaced by a tripwire, so a row that got past the checks fails at once
("computation started") instead of running a verify.  Two rows also run as real subprocesses.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reference_numpy.mnist import FILES, SUBSET_DIR
from verify import cli
from verify.version import FALLBACK_VERSION

ROOT = Path(__file__).resolve().parents[1]


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _sys_writable() -> bool:
    probe = Path("/sys/.nnparity-probe")
    try:
        probe.touch()
    except OSError:
        return False
    probe.unlink()
    return True


# (id, argv, environment, fragment of the one stderr line); "{t}" is the test's folder.
ROWS = [
    ("iters-huge", ["training", "--iters", "1000000000"], {}, "--iters"),
    ("iters-zero", ["all", "--iters", "0"], {}, "--iters"),
    ("iters-not-int", ["losses", "--iters", "ten"], {}, "--iters"),
    ("iters-beyond-16GiB", ["training", "--iters", "6000000"], {}, "--iters"),
    ("calibrate-iters-huge", ["calibrate", "--iters", "100000000"], {}, "--iters"),
    ("calibrate-seeds-times-iters", ["calibrate", "--iters", "100000", "--seeds", "10000"], {},
     "--seeds 10000"),
    ("seeds-negative", ["calibrate", "--seeds", "-1"], {}, "--seeds"),
    ("seeds-zero", ["selftest", "--seeds", "0"], {}, "--seeds"),
    ("seed-negative", ["losses", "--seed", "-3"], {}, "--seed"),
    ("download-timeout-zero", ["data", "--download-timeout", "0"], {}, "--download-timeout"),
    ("download-timeout-nan", ["data", "--download-timeout", "nan"], {}, "--download-timeout"),
    ("dtype", ["losses", "--dtype", "float16"], {}, "--dtype"),
    ("command", ["gradient"], {}, "command"),
    ("json-onto-folder", ["losses", "--json", "{t}/a_folder"], {}, "--json"),
    ("json-folder-name", ["losses", "--json", "{t}/new/"], {}, "--json"),
    ("junit-under-a-file", ["losses", "--junit", "{t}/a_file.txt/junit.xml"], {}, "--junit"),
    ("json-unwritable", ["losses", "--json", "/sys/nnparity/r.json"], {}, "--json"),
    ("markdown-same-as-json",
     ["losses", "--json", "{t}/r.out", "--markdown", "{t}/r.out"], {}, "--markdown"),
    ("json-inside-report-dir",
     ["losses", "--report-dir", "{t}/rep", "--json", "{t}/rep/r.json"], {}, "--json"),
    ("report-dir-onto-file", ["losses", "--report-dir", "{t}/a_file.txt"], {}, "--report-dir"),
    ("report-dir-with-other-files", ["losses", "--report-dir", "{t}/mine"], {}, "--report-dir"),
    ("report-dir-unwritable", ["losses", "--report-dir", "/sys/nnparity"], {}, "--report-dir"),
    ("calibrate-json-onto-folder", ["calibrate", "--json", "{t}/a_folder"], {}, "--json"),
    ("selftest-json-under-a-file", ["selftest", "--json", "{t}/a_file.txt/s.json"], {}, "--json"),
    ("device-tpu", ["losses", "--device", "tpu"], {}, "--device"),
    ("device-cuda-without-cuda", ["losses", "--device", "cuda"], {}, "--device"),
    ("device-cuda-bad-index", ["losses", "--device", "cuda:x"], {}, "--device"),
    ("device-meta", ["losses", "--device", "meta"], {}, "--device"),
    ("device-env", ["gradients"], {"NNPARITY_DEVICE": "tpu"}, "$NNPARITY_DEVICE"),
    ("device-env-negative-index", ["seeds"], {"NNPARITY_DEVICE": "cuda:-1"}, "$NNPARITY_DEVICE"),
    ("data-dir-missing", ["training", "--data-dir", "{t}/nowhere"], {}, "--data-dir"),
    ("data-dir-empty", ["training", "--data-dir", "{t}/a_folder"], {}, "--data-dir"),
    ("data-dir-truncated", ["training", "--data-dir", "{t}/truncated"], {}, "--data-dir"),
    ("data-dir-not-idx", ["losses", "--data-dir", "{t}/garbage"], {}, "--data-dir"),
    ("data-env-empty-folder", ["data"], {"NNPARITY_DATA_DIR": "{t}/a_folder"},
     "$NNPARITY_DATA_DIR"),
]


def _fill(t: Path) -> None:
    """The folder every row runs in: things a bad option may point at."""
    (t / "a_folder").mkdir()
    (t / "a_file.txt").write_text("not a folder")
    (t / "mine").mkdir()
    (t / "mine" / "notes.txt").write_text("somebody's work")
    for name, spoil in (("truncated", FILES[3]), ("garbage", FILES[0])):
        d = t / name
        d.mkdir()
        for f in FILES:
            shutil.copyfile(SUBSET_DIR / f, d / f)
        data = (d / spoil).read_bytes()
        (d / spoil).write_bytes(data[: len(data) // 2] if name == "truncated" else b"x" * 64)


def _tree(t: Path) -> dict[str, tuple[str, bytes, int]]:
    out = {}
    for p in sorted(t.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(t))] = ("d", b"", 0) if p.is_dir() else (
            "f", p.read_bytes(), st.st_mtime_ns)
    return out


@pytest.fixture
def tripwire(monkeypatch):
    """Every entry point that computes raises instead, and the environment is clean."""
    import verify.calibrate
    import verify.engines
    import verify.preflight
    import verify.runner
    import verify.selftest

    def started(*_a, **_k):
        raise AssertionError("computation started: the bad input got past the checks")

    monkeypatch.setattr(verify.engines, "engines_for", started)
    monkeypatch.setattr(verify.runner, "run_groups", started)
    monkeypatch.setattr(verify.selftest, "run_selftest", started)
    monkeypatch.setattr(verify.calibrate, "calibrate", started)
    # Sizes are judged against a fixed machine, so the rows do not depend on this host's memory.
    monkeypatch.setattr(verify.preflight, "available_bytes", lambda: 16 * 2**30)
    for var in ("NNPARITY_DEVICE", "NNPARITY_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    return started


@pytest.mark.parametrize(("argv", "env", "fragment"), [r[1:] for r in ROWS],
                         ids=[r[0] for r in ROWS])
def test_bad_input_exits_2_before_computing_and_changes_nothing(
    tmp_path, monkeypatch, capsys, tripwire, argv, env, fragment
):
    if "cuda" in argv[-1] and argv[-1] == "cuda" and _cuda_available():
        pytest.skip("CUDA is available here, so --device cuda is valid")
    if any(a.startswith("/sys/") for a in argv) and _sys_writable():
        pytest.skip("/sys is writable here")
    _fill(tmp_path)
    monkeypatch.chdir(tmp_path)
    for k, v in env.items():
        monkeypatch.setenv(k, v.format(t=tmp_path))
    before = _tree(tmp_path)
    with pytest.raises(SystemExit) as info:
        cli.main([a.format(t=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("nnparity: error: ") and fragment in lines[0], lines[0]
    assert _tree(tmp_path) == before


def test_good_outputs_pass_the_checks_and_create_nothing(tmp_path, monkeypatch, tripwire):
    """The rows above fail for their bad input, not always: good paths reach the computation
    (the tripwire) with nothing written yet, including an earlier report folder."""
    _fill(tmp_path)
    (tmp_path / "old_rep").mkdir()
    for name in ("report.json", "junit.xml", "summary.md", "training_numpy_float32.png"):
        (tmp_path / "old_rep" / name).write_text("from an earlier run")
    before = _tree(tmp_path)
    for argv in (["losses", "--json", f"{tmp_path}/new/deeper/r.json", "--junit",
                  f"{tmp_path}/a_file.txt.xml", "--report-dir", f"{tmp_path}/rep"],
                 ["losses", "--report-dir", f"{tmp_path}/old_rep", "--device", "cpu"],
                 ["losses", "--report-dir", f"{tmp_path}/a_folder"],
                 ["training", "--iters", "20", "--data-dir", str(SUBSET_DIR)],
                 ["training", "--iters", "4000000"]):  # 11.4 GiB of iterations: fits 16 GiB
        with pytest.raises(AssertionError, match="computation started"):
            cli.main(argv)
    assert _tree(tmp_path) == before


def _run(argv: list[str], **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, **env}
    full["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "verify", *argv], capture_output=True,
                          text=True, timeout=120, env=full, cwd=ROOT)


@pytest.mark.parametrize(("argv", "env", "fragment"), [
    (["training", "--iters", "1000000000"], {}, "--iters"),
    (["losses"], {"NNPARITY_DEVICE": "tpu"}, "$NNPARITY_DEVICE"),
])
def test_bad_input_in_a_real_process(argv, env, fragment):
    r = _run(argv, **env)
    assert r.returncode == 2 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    assert len(r.stderr.splitlines()) == 1 and fragment in r.stderr, r.stderr


def test_version():
    r = _run(["--version"])
    assert r.returncode == 0 and r.stdout.strip() == f"nnparity {FALLBACK_VERSION}", r
    # The fallback (used where the package metadata is unreadable) must follow the release.
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^version = "([^"]+)"', text, re.M).group(1) == FALLBACK_VERSION
