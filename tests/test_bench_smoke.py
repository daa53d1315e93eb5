"""``python -m nnparity_bench`` in its tiny smoke mode: the reports are written and well formed.

Benchmarks are never timed tests: nothing here looks at a speed or at whether a target was met,
only at the shape of what the run writes (JSON, Markdown, PNG) and at the bookkeeping (ratios,
targets, skipped GPU rows with their reason).
"""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nnparity_bench import cli as bench
from nnparity_bench.config import Config, build_parser
from nnparity_bench.harness import blas_threads
from nnparity_bench.measure import Measurement, judge, summary
from nnparity_bench.sections import verify_section
from reference_numpy.mnist import SUBSET_DIR

REPO_ROOT = Path(__file__).resolve().parents[1]
REPORTS = {"bench.json", "bench.md", "bench.png"}

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """One smoke run (shared by the tests below) through ``python -m verify bench``'s dispatch,
    with the hidden ``--smoke`` flag; one torch thread so a busy test machine cannot stall it
    (the thread count is restored afterwards)."""
    from verify.cli import main as verify_main

    out = tmp_path_factory.mktemp("bench")
    argv = ["bench", "--smoke", "--iters", "20", "--report-dir", str(out), "--data-dir",
            str(SUBSET_DIR), "--no-progress", "--seed", "0", "--torch-threads", "1"]
    blas = blas_threads()
    if blas is not None:
        argv += ["--blas-threads", "1"]
    threads = torch.get_num_threads()
    rc = verify_main(argv)
    assert torch.get_num_threads() == threads, "bench must restore torch's thread count"
    assert blas_threads() == blas, "bench must restore the BLAS thread count"
    return rc, out


def test_smoke_run_writes_reports(smoke: tuple) -> None:
    rc, out = smoke
    assert rc == 0
    assert {p.name for p in out.iterdir()} == REPORTS
    assert not list(out.glob(".*.tmp")) and not list(out.glob(".nnparity-tmp-*")), \
        "atomic writes leave no temp files"


def test_json_is_complete(smoke: tuple) -> None:
    _, out = smoke
    result = json.loads((out / "bench.json").read_text())
    assert result["schema"] == bench.SCHEMA
    assert result["config"]["mode"] == "smoke" and result["config"]["iters"] == 20
    assert result["config"]["command"].startswith("python -m verify bench --smoke")
    mi = result["machine"]
    for key in ("platform", "cpu", "python", "numpy", "torch", "torch_threads", "blas",
                "thread_env", "date"):
        assert key in mi, key
    rows = result["measurements"]
    ids = {m["id"] for m in rows}
    assert {"train/book", "train/numpy/float64", "train/numpy/float32", "grad/loop",
            "grad/numpy-fast", "grad/torch-gpu", "verify/full"} <= ids
    assert any(i.startswith("train/torch-cpu/") for i in ids)
    for m in rows:
        assert m["error"] is None, (m["id"], m["error"])
        if m["skipped"]:
            assert m["median"] is None and m["met"] is None
            continue
        assert m["repeats"] >= 1 and len(m["times"]) == m["repeats"]
        assert m["min"] <= m["median"] <= m["max"]
        assert all(math.isfinite(t) and t > 0 for t in m["times"])
        if not m["is_baseline"]:
            assert m["ratio"] is not None and m["ratio"] > 0
            assert m["baseline"] in ids
        for t in m["targets"]:
            assert isinstance(t["met"], bool) and t["actual"] is not None
            assert set(t) >= {"kind", "value", "text"}
        if m["targets"]:
            assert m["met"] == all(t["met"] for t in m["targets"])
            assert m["claim_conditions"] is False  # a smoke run is never the claim
    # the loop runs once, the others are repeated; all gradients agree to rounding
    by_id = {m["id"]: m for m in rows}
    assert by_id["grad/loop"]["repeats"] == 1
    assert by_id["grad/numpy-fast"]["extra"]["max_abs_diff_vs_loop"] < 1e-8
    # every training engine replayed one plan: identical accuracies after 20 iterations
    accs = {m["extra"]["test_acc"] for m in rows if m["section"] == "training"}
    assert len(accs) == 1
    if not torch.cuda.is_available():
        gpu_rows = [m for m in rows if m["section"] == "gpu" or m["id"] == "grad/torch-gpu"]
        assert gpu_rows and all(m["skipped"] == "no CUDA device" for m in gpu_rows)
    assert by_id["verify/full"]["skipped"]
    sc = result["scaling"]
    assert sc["batch_sizes"] == [1, 10] and sc["hidden_sizes"] == [5, 10]
    for s in sc["series"]:
        assert s["error"] is None
        assert len(s["points"]) == 2
        assert all(p["median"] > 0 and p["iters"] >= 1 for p in s["points"])


def test_markdown_table(smoke: tuple) -> None:
    _, out = smoke
    md = (out / "bench.md").read_text()
    result = json.loads((out / "bench.json").read_text())
    assert "| what | time (median [min–max]) | ratio | target | met? |" in md
    assert result["machine"]["cpu"] in md and result["machine"]["numpy"] in md
    assert "threads" in md and "](bench.png)" in md
    table = [ln for ln in md.splitlines() if ln.startswith("| ") and not ln.startswith("| **")]
    # header row, one row per measurement, and the two scaling tables (header + 1 per series)
    n_series = len(result["scaling"]["series"])
    assert len(table) == 1 + len(result["measurements"]) + 2 + n_series
    for ln in table:
        assert ln.count(" | ") >= 2


def test_png_is_a_png(smoke: tuple) -> None:
    _, out = smoke
    raw = (out / "bench.png").read_bytes()
    assert raw[:8] == PNG_MAGIC and raw[12:16] == b"IHDR"
    width, height = struct.unpack(">II", raw[16:24])
    assert width > 500 and height > 200


def test_options_and_default_report_dir(tmp_path, monkeypatch) -> None:
    """Without --report-dir the reports go to the current directory, not the package."""
    monkeypatch.chdir(tmp_path)
    cfg = Config.from_args(build_parser().parse_args(["--quick", "--iters", "300"]))
    assert cfg.mode == "quick" and cfg.sizes.iters == 300 and not cfg.with_verify
    assert cfg.sizes.grad_batch == 10 and cfg.report_dir == tmp_path and cfg.publish is None
    assert cfg.command == "python -m nnparity_bench --quick --iters 300"
    full = Config.from_args(build_parser().parse_args([]))
    assert full.mode == "full" and full.sizes.iters == 10_000 and full.sizes.grad_batch == 100


@pytest.mark.parametrize("argv,option", [
    (["--repeats", "0"], "--repeats"),
    (["--quick", "--publish", "RESULTS.md"], "--publish"),
])
def test_bad_options_exit_2(argv, option, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main([*argv, "--no-progress"]) == 2
    assert option in capsys.readouterr().err


def test_entry_point_and_lazy_import(tmp_path) -> None:
    """``python -m nnparity_bench`` runs (its help, in a bounded subprocess), and importing the
    verifier does not import the bench."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    help_ = subprocess.run([sys.executable, "-m", "nnparity_bench", "--help"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=120, check=False)
    assert help_.returncode == 0 and "python -m nnparity_bench" in help_.stdout, help_.stderr
    assert "--report-dir" in help_.stdout and "--publish" in help_.stdout
    probe = ("import sys, verify, verify.cli; "
             "assert not [m for m in sys.modules if m.startswith('nnparity_bench')], 'imported'")
    lazy = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert lazy.returncode == 0, lazy.stderr
    assert list(tmp_path.iterdir()) == []  # neither wrote a file


def test_judge_ratios_and_targets() -> None:
    base = Measurement("a", "training", "A", "A", "numpy", is_baseline=True)
    fast = Measurement("b", "training", "B", "B", "numpy", baseline="a")
    fast.target("speedup_min", 3.0, "≥ 3×")
    fast.target("abs_max", 0.3, "acc", source="d")
    slow = Measurement("c", "training", "C", "C", "numpy", baseline="a")
    slow.target("time_max", 0.5, "≤ 0.5 s")
    gone = Measurement("g", "gpu", "G", "G", "torch", baseline="a", skipped="no CUDA device")
    gone.target("time_max", 0.5, "≤ 0.5 s")
    for m, t in ((base, 8.0), (fast, 2.0), (slow, 4.0)):
        m.timing.add(t)
    fast.extra["d"] = -0.2
    judge([base, fast, slow, gone])
    assert fast.ratio == pytest.approx(4.0) and fast.met is True
    assert slow.ratio == pytest.approx(2.0) and slow.met is False
    assert gone.ratio is None and gone.met is None
    assert summary([base, fast, slow, gone]) == {
        "evaluated": 2, "met": 1, "missed": ["C"], "skipped": ["G"], "errors": []}


def test_verify_subprocess_is_measured(tmp_path) -> None:
    """The --with-verify row on a stand-in command: wall time, exit status, peak RSS, output."""
    cfg = Config.from_args(build_parser().parse_args(["--with-verify", "--report-dir",
                                                      str(tmp_path)]))
    assert cfg.with_verify
    cmd = [sys.executable, "-c", "import sys; print('checked'); sys.exit(3)"]
    (m,) = verify_section(cfg, cmd)
    assert m.error is None and m.skipped is None
    assert m.timing.repeats == 1 and m.timing.median > 0
    assert m.peak_rss_mib is not None and m.peak_rss_mib > 1
    assert m.extra["returncode"] == 3
    assert "checked" in (tmp_path / "bench_verify_output.txt").read_text()
    quick = Config.from_args(build_parser().parse_args(["--quick", "--with-verify"]))
    assert verify_section(quick)[0].skipped == "not in --quick runs"


def test_publish_writes_the_readme_section(smoke: tuple, tmp_path) -> None:
    """--publish also writes the README's section, linking the chart relative to itself; without
    it nothing outside the report folder is written."""
    _, out = smoke
    result = json.loads((out / "bench.json").read_text())
    published = tmp_path / "docs" / "RESULTS.md"
    published.parent.mkdir()
    cfg = Config.from_args(build_parser().parse_args(
        ["--report-dir", str(tmp_path / "results"), "--publish", str(published)]))
    (tmp_path / "results").mkdir()
    paths = bench.write_reports(result, cfg)
    assert paths["published"] == published
    assert "](../results/bench.png)" in published.read_text()
    # a hand-written tail below the marker survives the next publication; the rest is replaced
    tail = f"{bench.KEEP_MARKER}\n\n## Measurements behind the code\n\n| a | b |\n"
    published.write_text("### Speed\n\nold table\n\n" + tail)
    bench.write_reports(result, cfg)
    text = published.read_text()
    assert text.endswith(tail) and "old table" not in text and text.count("### Speed") == 1
    published.unlink()
    cfg.publish = None
    assert "published" not in bench.write_reports(result, cfg) and not published.exists()
    assert {p.name for p in (tmp_path / "results").iterdir()} == REPORTS
