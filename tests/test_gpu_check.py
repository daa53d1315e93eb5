"""scripts/gpu_check.sh: the dry run on the CPU writes every file, and the driver's parts hold.

The GPU check runs once, on a machine lent for minutes, so it must not arrive broken: the dry
run exercises every step (CUDA-only parts skip with the reason) in a subprocess, bounded by a
timeout; the smaller tests cover what the dry run cannot reach (a missing package, no CUDA, a
failing or hanging step, staging the data).  Nothing here asserts a speed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from reference_numpy.mnist import FILES, SUBSET_DIR

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "scripts" / "gpu_check.sh"
DRIVER = REPO_ROOT / "scripts" / "gpu_check.py"
#: the dry run needs ~55 s of CPU; its wall time is load: 97 s measured at load ~2 on the
#: 2-core machine, 228 s at load 13.  The bounds below only stop a hung run; they are far above
#: both so that a busy machine cannot fail the test (which is about what is written, not time)
DRY_RUN_TIMEOUT_S = 1800
STEP_TIMEOUT_S = 600


def _load_driver() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check", DRIVER)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = mod  # dataclasses resolve their module by name
    spec.loader.exec_module(mod)
    return mod


gc = _load_driver()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    env.update(PYTHON=sys.executable, MPLBACKEND="Agg", **extra)
    return env


def _strict_json(path: Path) -> object:
    def no_constant(name: str) -> object:
        raise ValueError(f"{path.name}: non-standard JSON constant {name}")

    return json.loads(path.read_text(), parse_constant=no_constant)


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("gpu-dry")
    # a budget and step timeouts no load can exhaust; with them the calibration steps stop at
    # their seed counts (2 and 1), not at a time
    timeouts = [a for s in gc.STEP_NAMES for a in ("--timeout", f"{s}={STEP_TIMEOUT_S}")]
    proc = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run", "--out", str(out), "--data-dir", str(SUBSET_DIR),
         "--budget", str(DRY_RUN_TIMEOUT_S - 300), *timeouts],
        cwd=REPO_ROOT, env=_env(), capture_output=True, text=True, timeout=DRY_RUN_TIMEOUT_S,
        check=False)
    return proc, out


def test_dry_run_passes_and_every_step_ran_or_says_why(dry_run) -> None:
    proc, out = dry_run
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    summary = _strict_json(out / "summary.json")
    assert summary["schema"] == gc.SCHEMA
    assert summary["dry_run"] is True and summary["finished"] is True and summary["ok"] is True
    assert summary["failed"] == [] and summary["device"] == "cpu"
    steps = summary["steps"]
    assert [s["name"] for s in steps] == gc.STEP_NAMES
    for s in steps:
        assert s["status"] in ("ok", "skipped"), s
        if s["status"] == "skipped":
            assert s["reason"], s
        assert isinstance(s["seconds"], (int, float)) and s["seconds"] >= 0
    by = {s["name"]: s for s in steps}
    # the CUDA-only parts say that they skipped, and why
    assert "need CUDA" in by["cuda_tests"]["reason"]
    assert by["cuda_tests"]["details"]["tests"] >= 1
    assert by["cuda_tests"]["details"]["skipped"] == by["cuda_tests"]["details"]["tests"]
    assert "GPU rows skipped" in by["bench_gpu"]["reason"]
    for name in ("calibrate_float32_cuda", "calibrate_tf32"):
        assert "only on CUDA" in by[name]["reason"]


def test_dry_run_writes_every_file(dry_run) -> None:
    _, out = dry_run
    for name in ("environment.json", "packages.json", "data.json", "verify_float32.json",
                 "verify_float64.json", "calibrate_float32_cuda.json", "calibrate_tf32.json",
                 "calibration_table.json", "bench.json", "bench/bench.json"):
        _strict_json(out / name)
    for name in ("cuda_tests.xml", "calibration_table.md", "bench/bench.md",
                 "verify_float32/report.json", "verify_float64/summary.md"):
        assert (out / name).stat().st_size > 0, name
    for step in gc.STEP_NAMES:
        if step != "data":  # the data step runs inside the driver
            assert (out / "logs" / f"{step}.log").stat().st_size > 0, step
    assert not list(out.rglob(".*.tmp")) and not list(out.rglob(".nnparity-tmp-*")), \
        "atomic writes leave no temp files"


def test_dry_run_contents(dry_run) -> None:
    _, out = dry_run
    for dtype in ("float32", "float64"):
        rep = _strict_json(out / f"verify_{dtype}.json")
        assert rep["passed"] is True
        assert all(e.endswith(dtype) for e in rep["environment"]["engines"]
                   if e.startswith("torch")), rep["environment"]["engines"]
    pk = _strict_json(out / "packages.json")
    assert pk["ok"] is True and pk["missing_essential"] == []
    # seeds run one at a time and merged: two seeds in one file, the training group in the other
    c32 = _strict_json(out / "calibrate_float32_cuda.json")
    assert c32["seeds"] == 2 and len(c32["seed_seconds"]) == 2 and c32["max_errors"]
    tf = _strict_json(out / "calibrate_tf32.json")
    assert tf["allow_tf32"] is True and tf["curve_envelope"] and tf["flips"]
    assert tf["precision"]["allow_tf32_matmul"] is True
    assert c32["precision"]["allow_tf32_matmul"] is False
    table = (out / "calibration_table.md").read_text()
    assert "calibrate_float32_cuda.json" in table and "calibrate_tf32.json" in table
    bench = _strict_json(out / "bench.json")
    ids = [m["id"] for m in bench["measurements"]]
    assert not any(i.startswith("train/") for i in ids), "--gpu-only runs no CPU training rows"
    assert bench["scaling"] is None
    gpu = [m for m in bench["measurements"] if m["id"].startswith("gpu/")]
    assert len(gpu) == 4 and all(m["skipped"] for m in gpu)
    assert "grad/torch-gpu" in ids


# ------------------------------------------------------------------------------ packages


def test_missing_essential_package_is_named_with_what_needs_it(tmp_path: Path) -> None:
    """A real import failure (a shadowing ``tqdm`` that raises), through the subcommand."""
    shadow = tmp_path / "shadow"
    (shadow / "tqdm").mkdir(parents=True)
    (shadow / "tqdm" / "__init__.py").write_text("raise ImportError('simulated: no tqdm here')\n")
    out = tmp_path / "packages.json"
    proc = subprocess.run(
        [sys.executable, str(DRIVER), "_packages", "--json", str(out)], cwd=REPO_ROOT,
        env=_env(PYTHONPATH=os.pathsep.join([str(shadow), str(REPO_ROOT)])),
        capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "MISSING* tqdm: ImportError: simulated: no tqdm here" in proc.stdout
    assert "needed for: reference_numpy imports it" in proc.stdout
    res = json.loads(out.read_text())
    assert res["missing"] == ["tqdm"] and res["missing_essential"] == ["tqdm"]
    assert res["ok"] is False and any("missing tqdm" in p for p in res["problems"])
    assert all(v.startswith("not tried") for v in res["project"].values())


def test_missing_cuda_and_optional_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    fake_torch = types.SimpleNamespace(
        __version__="0.0+cpu", version=types.SimpleNamespace(cuda=None),
        cuda=types.SimpleNamespace(is_available=lambda: False))

    def importer(name: str) -> object:
        if name == "torch":
            return fake_torch
        if name == "hypothesis":
            raise ModuleNotFoundError("No module named 'hypothesis'")
        if name in gc.PROJECT_MODULES:
            return types.ModuleType(name)
        return importlib.import_module(name)

    res = gc.check_packages(need_cuda=True, importer=importer)
    assert res["missing"] == ["hypothesis"] and res["missing_essential"] == []
    assert res["cuda"]["available"] is False
    assert res["ok"] is False
    assert "no CUDA: torch was built without CUDA" in res["problems"]
    text = gc.format_packages(res)
    assert "MISSING  hypothesis: ModuleNotFoundError" in text
    assert "some test files import it" in text
    # without --need-cuda (the dry run) the same machine only lacks hypothesis
    assert gc.check_packages(need_cuda=False, importer=importer)["problems"] == [
        "missing hypothesis (ModuleNotFoundError: No module named 'hypothesis'; needed for: "
        "some test files import it at collection)"]


# ------------------------------------------------------------------------------ driver parts


def test_file_names_match_the_loader() -> None:
    assert gc.MNIST_FILES == tuple(FILES)


def test_merge_calibrations_takes_maxima_over_seed_runs() -> None:
    a = {"seeds": 1, "iters": 5, "max_errors": {"float32-cuda/loss": {
        "scaled_abs": 1e-7, "large_rel": 5e-7, "frob": 2e-7}},
         "curve_envelope": {"float32-cuda": {"0": 1e-8, "4": 3e-8}}, "flips": {"float32-cuda": 0}}
    b = {"seeds": 1, "iters": 5, "max_errors": {
        "float32-cuda/loss": {"scaled_abs": 3e-7, "large_rel": 1e-7, "frob": 2e-7},
        "float64/loss": {"scaled_abs": 1e-16, "large_rel": 1e-16, "frob": 1e-16}},
         "curve_envelope": {"float32-cuda": {"0": 2e-8, "4": 2e-8}}, "flips": {"float32-cuda": 2}}
    m = gc.merge_calibrations([a, b])
    assert m["seeds"] == 2 and m["iters"] == 5
    assert m["max_errors"]["float32-cuda/loss"] == {
        "scaled_abs": 3e-7, "large_rel": 5e-7, "frob": 2e-7}
    assert m["max_errors"]["float64/loss"]["frob"] == 1e-16
    assert m["curve_envelope"]["float32-cuda"] == {"0": 2e-8, "4": 3e-8}
    assert m["flips"] == {"float32-cuda": 2}
    assert a["max_errors"]["float32-cuda/loss"]["scaled_abs"] == 1e-7, "inputs not mutated"


def _idx_gz(count: int) -> bytes:
    """A gzip'd IDX header claiming ``count`` examples (the data step reads only that)."""
    import gzip

    return gzip.compress(b"\x00\x00\x08\x03" + count.to_bytes(4, "big"), mtime=0)


def test_stage_data_copies_all_four_or_nothing(tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    src, dest = tmp_path / "src", tmp_path / "dest"
    src.mkdir()
    counts = dict(zip(FILES, (60_000, 60_000, 10_000, 10_000), strict=True))
    for f in FILES[:3]:
        (src / f).write_bytes(_idx_gz(counts[f]))
    assert gc.stage_data(str(src), dest) == 2
    assert "missing t10k-labels-idx1-ubyte.gz" in capsys.readouterr().err
    assert not dest.exists(), "nothing written when a file is missing"
    (src / FILES[3]).write_bytes(_idx_gz(1_000))
    (src / FILES[2]).write_bytes(_idx_gz(1_000))  # the subset's test count
    assert gc.stage_data(str(src), dest) == 2
    assert "expected the full MNIST" in capsys.readouterr().err
    assert not dest.exists(), "nothing written for a subset"
    (src / FILES[2]).write_bytes(_idx_gz(10_000))
    assert gc.stage_data(str(src), dest) == 0
    assert sorted(p.name for p in dest.iterdir()) == sorted(FILES)
    assert (dest / FILES[2]).read_bytes() == _idx_gz(10_000)
    staged = json.loads((tmp_path / "staged.json").read_text())
    assert staged["source"] == str(src) and "commit" in staged


def test_usage_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                      capsys: pytest.CaptureFixture) -> None:
    monkeypatch.delenv("OUT", raising=False)
    for argv, needle in ((["--dry-run"], "--out: expected a folder"),
                         (["--out", str(tmp_path), "--steps", "bench,nope"],
                          "unknown: bench, nope"),
                         (["--out", str(tmp_path), "--timeout", "bench_gpu=x"], "--timeout"),
                         (["--out", str(tmp_path), "--budget", "0"], "--budget")):
        with pytest.raises(SystemExit) as e:
            gc.main(argv)
        assert e.value.code == 2
        assert needle in capsys.readouterr().err
    assert not list(tmp_path.iterdir()), "bad usage writes nothing"


def test_failed_step_is_logged_and_the_run_goes_on(tmp_path: Path) -> None:
    """Not a dry run, full MNIST absent: data fails, the next step still runs (and fails, with
    no calibration to tabulate), the rest are 'not selected', and the exit status is 1."""
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(DRIVER), "--out", str(out), "--data-dir", str(tmp_path / "none"),
         "--steps", "data,calibration_table"], cwd=REPO_ROOT, env=_env(),
        capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    s = json.loads((out / "summary.json").read_text())
    by = {r["name"]: r for r in s["steps"]}
    assert s["failed"] == ["data", "calibration_table"] and s["ok"] is False
    assert by["data"]["status"] == "failed" and "--stage-data" in by["data"]["reason"]
    assert by["calibration_table"]["status"] == "failed"
    assert "expected calibration JSON files" in (out / "logs" / "calibration_table.log").read_text()
    assert by["bench_gpu"]["status"] == "skipped" and not by["bench_gpu"]["counts_as_failure"]
    assert "data: FAILED" in proc.stdout and "bench_gpu: SKIPPED" in proc.stdout


def test_a_hanging_step_is_killed_and_reported(tmp_path: Path) -> None:
    run = gc.Run(out=tmp_path, data_dir=SUBSET_DIR, dry_run=False, budget=100.0,
                 bench_repeats=None, calib_max_seeds=1, calib_iters=1)
    step = gc.Step("sleeper", "sleeps", timeout=1.0, floor=0.5, needs=(),
                   command=lambda r: r.py("-c", "import time; print('started', flush=True); "
                                                "time.sleep(600)"))
    res = gc.run_step(run, step, later_floor=0.0)
    assert res.status == "timeout" and res.counts_as_failure
    assert "1 s timeout" in res.reason
    assert "started" in (tmp_path / "logs" / "sleeper.log").read_text()


def test_budget_skips_a_step_that_cannot_fit(tmp_path: Path) -> None:
    run = gc.Run(out=tmp_path, data_dir=SUBSET_DIR, dry_run=False, budget=10.0,
                 bench_repeats=None, calib_max_seeds=1, calib_iters=1)
    step = gc.Step("big", "needs time", timeout=60.0, floor=30.0, needs=(),
                   command=lambda r: r.py("-c", "pass"))
    res = gc.run_step(run, step, later_floor=0.0)
    assert res.status == "skipped" and res.counts_as_failure
    assert "total budget" in res.reason and not (tmp_path / "logs").exists()


def test_gpu_commands_parse_with_the_real_options(tmp_path: Path) -> None:
    """The commands the CUDA run would start: the sizes are the real ones, and verify's and
    bench's own parsers accept every option (a typo would otherwise first show on the GPU)."""
    from nnparity_bench import config as bench
    from verify.cli import build_parser

    run = gc.Run(out=tmp_path, data_dir=SUBSET_DIR, dry_run=False, budget=480.0,
                 bench_repeats=None, calib_max_seeds=20, calib_iters=300)
    run.timeout_now = 100.0
    cmds = {s.name: s.command(run) for s in gc.STEPS if s.command is not None}
    for dtype in ("float32", "float64"):
        v = cmds[f"verify_{dtype}"]
        assert v[1:3] == ["-m", "verify"] and "--quick" not in v and "--allow-tf32" not in v
        args = build_parser().parse_args(v[3:])
        assert (args.device, args.dtype, args.iters, args.quick) == ("cuda", dtype, None, False)
    b = cmds["bench_gpu"]
    assert b[1:4] == ["-m", "verify", "bench"]
    bargs = bench.build_parser().parse_args(b[4:])
    cfg = bench.Config.from_args(bargs)
    assert cfg.gpu_only and cfg.mode == "full" and cfg.device == "cuda"
    assert cfg.sizes.iters == 10_000 and cfg.sizes.grad_batch == 100
    assert cfg.sizes.grad_hidden == 50
    c32, ctf = cmds["calibrate_float32_cuda"], cmds["calibrate_tf32"]
    assert "--tf32" not in c32 and "--tf32" in ctf and "--groups" not in c32
    for c in (c32, ctf):
        assert c[c.index("--device") + 1] == "cuda" and c[c.index("--max-seeds") + 1] == "20"
        assert c[c.index("--iters") + 1] == "300" and c[c.index("--budget") + 1] == "80"
    t = cmds["cuda_tests"]
    assert t[1:5] == ["-m", "pytest", "-m", "cuda"] and t[-1] == "tests"
    assert "--need-cuda" in cmds["packages"]


@pytest.mark.skipif(__import__("torch").cuda.is_available(),
                    reason="on a CUDA machine this would be the whole GPU check")
def test_without_cuda_the_gpu_run_says_so(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(DRIVER), "--out", str(out), "--data-dir", str(SUBSET_DIR)],
        cwd=REPO_ROOT, env=_env(), capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    s = json.loads((out / "summary.json").read_text())
    by = {r["name"]: r for r in s["steps"]}
    assert by["packages"]["status"] == "failed" and "no CUDA" in by["packages"]["reason"]
    # the bundled subset is not the full MNIST: on the GPU run that is a failure, not a quiet
    # change of the figures' conditions
    assert by["data"]["status"] == "failed" and "not the full MNIST" in by["data"]["reason"]
    assert by["data"]["details"]["counts"]["train-images-idx3-ubyte.gz"] == 6000
    for name in ("cuda_tests", "verify_float32", "verify_float64", "calibrate_float32_cuda",
                 "calibrate_tf32", "bench_gpu"):
        assert by[name]["status"] == "skipped" and by[name]["counts_as_failure"], name
        assert "needs CUDA" in by[name]["reason"], name
    assert by["environment"]["status"] == "ok"


def test_non_finite_calibration_is_written_strictly_and_flagged(tmp_path: Path) -> None:
    cal = {"seeds": 1, "iters": 5, "device": "cpu", "allow_tf32": False,
           "max_errors": {"float64/loss": {"scaled_abs": float("nan"), "large_rel": 1e-16,
                                           "frob": float("inf")}},
           "curve_envelope": {}, "flips": {}}
    path = gc.write_json(tmp_path / "calibrate_x.json", cal)
    assert _strict_json(path)["max_errors"]["float64/loss"]["scaled_abs"] == "nan"
    assert gc.calibration_table([path], tmp_path / "t.md", tmp_path / "t.json") == 0
    rows = _strict_json(tmp_path / "t.json")["rows"]
    assert rows[0]["worst_ratio"] == "inf"
    assert "non-finite **over**" in (tmp_path / "t.md").read_text()
