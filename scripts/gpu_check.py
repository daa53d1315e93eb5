"""One prepared check of the GPU path (issue 14), run once on a lent CUDA machine.

Usually started through ``scripts/gpu_check.sh`` (see its header and docs/gpu.md for the exact
device-tool invocation).  In order, each step in a subprocess with its own timeout, a failed or
timed-out step logged and the next one started:

 1. environment           GPU, driver, torch, CUDA, cuDNN, numpy, python (environment.json)
 2. packages              what the project needs, and what is missing (packages.json)
 3. data                  the four MNIST files in --data-dir (data.json)
 4. cuda_tests            ``pytest -m cuda`` (cuda_tests.xml)
 5. verify_float32        ``python -m verify --device cuda --dtype float32``, TF32 off
 6. verify_float64        the same in float64 (verify_<dtype>.json and report folders)
 7. calibrate_float32_cuda  the noise the float32-cuda class comes from, seeds one at a time
 8. calibrate_tf32        the same with TF32 on (calibrate_<class>.json)
 9. calibration_table     both measurements beside the current bounds (calibration_table.md)
10. bench_gpu             ``python -m verify bench --gpu-only``: eager vs CUDA graph, numerical
                          gradient on the GPU (bench/bench.json, bench/bench.md)

Everything lands under ``--out`` (default ``$OUT``): ``logs/<step>.log`` per step and
``summary.json`` (rewritten after every step, so a run cut short still says how far it got).
Exit status: 0 if every step passed, 1 if any failed, timed out or could not run, 2 for bad usage.

``--dry-run`` runs every step on the CPU with tiny sizes (the CUDA-only parts skip with the
reason), so the script is known to work before a GPU is asked for (tests/test_gpu_check.py).

This file imports only the standard library at the top: it must start, and say what is missing,
on a machine whose Python lacks numpy or torch.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "nnparity-gpu-check/1"
#: the ignored in-repo folder the MNIST files travel in (``carry: [".gpu-data"]``)
STAGED_DATA = REPO_ROOT / ".gpu-data" / "mnist"
SUBSET_DATA = REPO_ROOT / "reference_numpy" / "data"
#: reference_numpy.mnist.FILES (repeated: this file must run without numpy; a test compares)
MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
#: the device tool allows 10 minutes a command and 15 of device time in all (a machine start
#: costs one or more): 8 minutes leaves room to rerun the steps that failed (--steps)
DEFAULT_BUDGET_S = 480.0
#: the dry run's timeouts and budget are this many times the GPU run's: it shares a small CPU
#: (measured: 97 s at load ~2 on 2 cores, 228 s at load 13, for ~55 s of CPU time)
DRY_RUN_SLACK = 3.0

#: (import name, distribution, what needs it, essential: nothing runs without it)
PACKAGES: tuple[tuple[str, str, str, bool], ...] = (
    ("numpy", "numpy", "everything (reference_numpy)", True),
    ("torch", "torch", "everything on the GPU (reference_torch, verify, bench)", True),
    ("tqdm", "tqdm", "reference_numpy imports it (MNIST download, training progress)", True),
    ("threadpoolctl", "threadpoolctl", "reference_numpy.training imports it", True),
    ("torchvision", "torchvision", "reference_torch.mnist (torchvision's IDX reader)", False),
    ("matplotlib", "matplotlib", "verify's and bench's PNG plots", False),
    ("pytest", "pytest", "the cuda_tests step", False),
    ("hypothesis", "hypothesis", "some test files import it at collection", False),
)
PROJECT_MODULES = ("reference_numpy", "reference_torch", "verify", "nnparity_bench")


# ------------------------------------------------------------------------------ small helpers


def atomic_write(path: Path, data: str | bytes) -> Path:
    """Write through a temporary file in the same folder, then rename (never half-written).

    Its own copy, not reference_numpy._validate's: the summary must still be written when the
    project's imports fail on the device machine (that failure is what it reports).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _strict(v: Any) -> Any:
    """A non-finite float as the string "nan"/"inf"/"-inf" (as verify's report codec writes
    them): JSON has no NaN, and a NaN error must show, not break the file."""
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)
    if isinstance(v, dict):
        return {k: _strict(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_strict(x) for x in v]
    return v


def write_json(path: Path, obj: Any) -> Path:
    text = json.dumps(_strict(obj), indent=1, allow_nan=False, default=str)
    return atomic_write(path, text + "\n")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").rstrip().splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


# ------------------------------------------------------------------------------ 1. environment


def environment() -> dict[str, Any]:
    """Versions and devices; every import guarded so a broken machine still gets described."""
    env: dict[str, Any] = {
        "python": platform.python_version(), "executable": sys.executable,
        "platform": platform.platform(), "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "time_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "variables": {k: os.environ.get(k) for k in (
            "CUDA_VISIBLE_DEVICES", "NVIDIA_TF32_OVERRIDE", "CUBLAS_WORKSPACE_CONFIG",
            "NNPARITY_DEVICE", "NNPARITY_DATA_DIR", "PYTHONPATH", "OMP_NUM_THREADS")},
    }
    env["commit"] = _git("rev-parse", "HEAD")
    staged = STAGED_DATA.parent / "staged.json"
    if staged.is_file():  # the checkout that travelled may have no .git
        env["staged"] = json.loads(staged.read_text())
    smi = shutil.which("nvidia-smi")
    if smi is None:
        env["nvidia_smi"] = "nvidia-smi not found on PATH"
    else:
        try:
            q = subprocess.run(
                [smi, "--query-gpu=name,driver_version,memory.total,compute_cap",
                 "--format=csv,noheader"], capture_output=True, text=True, timeout=20,
                check=False)
            env["nvidia_smi"] = q.stdout.strip() or q.stderr.strip()
            full = subprocess.run([smi], capture_output=True, text=True, timeout=20, check=False)
            env["nvidia_smi_full"] = full.stdout
        except (OSError, subprocess.TimeoutExpired) as exc:
            env["nvidia_smi"] = f"nvidia-smi failed: {type(exc).__name__}: {exc}"
    try:
        import numpy as np

        env["numpy"] = np.__version__
    except Exception as exc:  # noqa: BLE001 - described, not raised
        env["numpy"] = f"not importable: {type(exc).__name__}: {exc}"
    try:
        import torch
    except Exception as exc:  # noqa: BLE001
        env["torch"] = f"not importable: {type(exc).__name__}: {exc}"
        return env
    env["torch"] = torch.__version__
    env["torch_cuda"] = torch.version.cuda
    env["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    env["cuda_available"] = torch.cuda.is_available()
    env["torch_threads"] = torch.get_num_threads()
    if torch.cuda.is_available():
        env["cuda_device_count"] = torch.cuda.device_count()
        env["gpus"] = []
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            env["gpus"].append({"index": i, "name": p.name,
                                "capability": f"{p.major}.{p.minor}",
                                "memory_gib": round(p.total_memory / 2**30, 1),
                                "multiprocessors": p.multi_processor_count})
        try:
            env["cuda_driver"] = torch.cuda.driver_version() if hasattr(
                torch.cuda, "driver_version") else None
        except Exception:  # noqa: BLE001 - optional
            env["cuda_driver"] = None
    return env


# ------------------------------------------------------------------------------ 2. packages


def check_packages(
    need_cuda: bool, importer: Callable[[str], Any] | None = None
) -> dict[str, Any]:
    """Import each package (and the project's modules); say what is missing and what needs it.

    ``importer`` is ``importlib.import_module`` unless a caller passes another (tests)."""
    import importlib

    imp = importer or importlib.import_module
    found: dict[str, Any] = {}
    missing: list[str] = []
    for name, dist, why, essential in PACKAGES:
        try:
            mod = imp(name)
        except Exception as exc:  # noqa: BLE001 - every failure to import is "missing"
            found[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                           "needed_for": why, "essential": essential,
                           "install": f"pip install {dist}"}
            missing.append(name)
        else:
            found[name] = {"ok": True, "version": str(getattr(mod, "__version__", "?")),
                           "needed_for": why, "essential": essential}
    cuda: dict[str, Any] = {"required": need_cuda}
    if found["torch"]["ok"]:
        torch = imp("torch")
        cuda["available"] = bool(torch.cuda.is_available())
        cuda["torch_built_with"] = torch.version.cuda
        if not cuda["available"]:
            cuda["why"] = ("torch was built without CUDA" if torch.version.cuda is None
                           else "torch has CUDA but sees no device (driver, "
                           "CUDA_VISIBLE_DEVICES?)")
    else:
        cuda["available"] = False
        cuda["why"] = "torch is not importable"
    project: dict[str, Any] = {}
    essentials_ok = all(found[n]["ok"] for n, _, _, e in PACKAGES if e)
    for mod in PROJECT_MODULES:
        if not essentials_ok:
            project[mod] = "not tried: an essential package is missing"
            continue
        try:
            imp(mod)
            project[mod] = "ok"
        except Exception as exc:  # noqa: BLE001
            project[mod] = f"{type(exc).__name__}: {exc}"
    problems = [f"missing {n} ({found[n]['error']}; needed for: {found[n]['needed_for']})"
                for n in missing]
    if need_cuda and not cuda["available"]:
        problems.append(f"no CUDA: {cuda.get('why')}")
    problems += [f"project module {m} does not import: {v}" for m, v in project.items()
                 if v != "ok" and not v.startswith("not tried")]
    return {"packages": found, "missing": missing,
            "missing_essential": [n for n in missing if found[n]["essential"]],
            "cuda": cuda, "project": project, "problems": problems, "ok": not problems}


def format_packages(res: dict[str, Any]) -> str:
    lines = []
    for name, info in res["packages"].items():
        if info["ok"]:
            lines.append(f"  ok       {name} {info['version']}")
        else:
            tag = "MISSING*" if info["essential"] else "MISSING "
            lines.append(f"  {tag} {name}: {info['error']} -- needed for: {info['needed_for']}"
                         f" ({info['install']}; the device machine has no internet: use its "
                         "own environment)")
    c = res["cuda"]
    lines.append(f"  CUDA     available={c['available']}" + (f" ({c['why']})" if "why" in c
                                                             else ""))
    for mod, v in res["project"].items():
        lines.append(f"  project  {mod}: {v}")
    lines.append("  (* essential: the project cannot run without it)")
    lines.append("packages: ok" if res["ok"] else "packages: PROBLEMS: " + "; ".join(
        res["problems"]))
    return "\n".join(lines)


# ------------------------------------------------------------------------------ 3. data


#: examples in the full MNIST's files (the bundled subset has 6,000 and 1,000)
FULL_COUNTS = {"train-images-idx3-ubyte.gz": 60_000, "t10k-images-idx3-ubyte.gz": 10_000}


def _idx_count(path: Path) -> int | None:
    """The leading dimension in an IDX file's header (big-endian uint32 after the magic)."""
    import gzip

    try:
        with gzip.open(path, "rb") as f:
            head = f.read(8)
    except (OSError, EOFError):
        return None
    return int.from_bytes(head[4:8], "big") if len(head) == 8 else None


def data_status(data_dir: Path) -> dict[str, Any]:
    files = {}
    for f in MNIST_FILES:
        p = data_dir / f
        files[f] = p.stat().st_size if p.is_file() else None
    missing = [f for f, size in files.items() if size is None]
    counts = {f: _idx_count(data_dir / f) for f in FULL_COUNTS if f not in missing}
    return {"dir": str(data_dir), "files": files, "missing": missing, "counts": counts,
            "full": not missing and all(counts[f] == n for f, n in FULL_COUNTS.items())}


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True,
                             text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({type(exc).__name__})"
    return out.stdout.strip() if out.returncode == 0 else f"unknown ({out.stderr.strip()[:200]})"


def stage_data(source: str | None, dest: Path = STAGED_DATA) -> int:
    """Copy the four MNIST gz files into the ignored folder that travels with ``carry``."""
    src = Path(source) if source else (Path(os.environ["NNPARITY_DATA_DIR"])
                                       if os.environ.get("NNPARITY_DATA_DIR") else None)
    if src is None:
        print("gpu_check: error: --stage-data: expected --from DIR or $NNPARITY_DATA_DIR naming "
              "the folder of the four MNIST files, got neither", file=sys.stderr)
        return 2
    st = data_status(src)
    if st["missing"]:
        print(f"gpu_check: error: --stage-data: expected {', '.join(MNIST_FILES)} in {src}, "
              f"missing {', '.join(st['missing'])}", file=sys.stderr)
        return 2
    if not st["full"]:
        print(f"gpu_check: error: --stage-data: expected the full MNIST ({FULL_COUNTS}) in "
              f"{src}, got {st['counts']} examples", file=sys.stderr)
        return 2
    dest.mkdir(parents=True, exist_ok=True)
    for f in MNIST_FILES:
        atomic_write(dest / f, (src / f).read_bytes())
    write_json(dest.parent / "staged.json", {
        "time_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "source": str(src),
        "commit": _git("rev-parse", "HEAD"),
        "uncommitted_files": len(_git("status", "--porcelain").splitlines())})
    total = sum(st["files"].values())
    print(f"staged {len(MNIST_FILES)} files ({total / 2**20:.1f} MiB) from {src} into "
          f"{dest}/; carry it: run(command=\"scripts/gpu_check.sh\", "
          f"carry=[\".gpu-data\"], timeout_s=560)")
    return 0


# ------------------------------------------------------------------------------ calibration


def merge_calibrations(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One calibrate() result from several, each over other seeds: maxima of maxima."""
    out: dict[str, Any] = {"seeds": sum(p["seeds"] for p in parts),
                           "iters": parts[0]["iters"] if parts else None,
                           "max_errors": {}, "curve_envelope": {}, "flips": {}}
    for p in parts:
        for key, v in p["max_errors"].items():
            cur = out["max_errors"].setdefault(key, dict(v))
            for k in v:
                cur[k] = max(cur[k], v[k])
        for tclass, env in p["curve_envelope"].items():
            cur = out["curve_envelope"].setdefault(tclass, dict(env))
            for i, x in env.items():
                cur[i] = max(cur.get(i, x), x)
        for tclass, n in p["flips"].items():
            out["flips"][tclass] = max(out["flips"].get(tclass, n), n)
    out["max_errors"] = dict(sorted(out["max_errors"].items()))
    return out


def run_calibration(device: str, allow_tf32: bool, budget_s: float, max_seeds: int, iters: int,
                    data_dir: str, out: Path, groups: tuple[str, ...] | None = None) -> int:
    """Seeds 0, 1, ... one at a time until the next would overrun ``budget_s``; the merged
    result is rewritten after each seed, so a kill keeps every finished one."""
    from reference_torch.device import precision_guard
    from verify.calibrate import calibrate

    start = time.perf_counter()
    parts: list[dict[str, Any]] = []
    seconds: list[float] = []
    stop = f"reached --max-seeds {max_seeds}"
    with precision_guard(allow_tf32=allow_tf32) as settings:
        for seed in range(max_seeds):
            t0 = time.perf_counter()
            kw = {} if groups is None else {"groups": groups}
            parts.append(calibrate(seeds=1, first_seed=seed, iters=iters, device=device,
                                   data_dir=data_dir, quick=True, allow_tf32=allow_tf32, **kw))
            seconds.append(round(time.perf_counter() - t0, 2))
            res = merge_calibrations(parts)
            res.update(device=device, allow_tf32=allow_tf32, precision=settings.as_dict(),
                       groups=list(groups) if groups else "calibrate()'s default",
                       seed_seconds=seconds, classes=sorted({k.split("/")[0]
                                                             for k in res["max_errors"]}))
            res["stopped"] = stop
            write_json(out, res)
            print(f"seed {seed}: {seconds[-1]:.1f} s", flush=True)
            elapsed = time.perf_counter() - start
            # the slowest seed so far, with a quarter more, must still fit
            if seed + 1 < max_seeds and elapsed + 1.25 * max(seconds) > budget_s:
                stop = f"time budget {budget_s:.0f} s (next seed would not fit)"
                break
    res["stopped"] = stop
    write_json(out, res)
    print(f"{len(parts)} seeds in {time.perf_counter() - start:.1f} s; stopped: {stop}; classes: "
          f"{', '.join(res['classes'])}")
    return 0


def calibration_table(inputs: Sequence[Path], md_path: Path, json_path: Path) -> int:
    """Measured noise beside the bounds tolerances.py has now, and measured x SAFETY."""
    from verify import tolerances as tol

    rows: list[dict[str, Any]] = []
    text = ["# Calibration on this machine", "",
            "Measured max over the seeds; a bound is what verify/tolerances.py judges with now "
            "(float32-cuda borrows float32-cpu's until recorded; tf32 matmul kinds use the "
            "emulated TF32_MATMUL).  Candidate new bounds: SAFETY × measured, rounded up by "
            "hand (scaled abs → atol_scale, large-element rel → rtol, frob → frob).", ""]
    for path in inputs:
        text += _table_section(path, rows)
    atomic_write(md_path, "\n".join(text))
    write_json(json_path, {"rows": rows, "safety": tol.SAFETY})
    print("\n".join(text))
    return 0


def _table_section(path: Path, rows: list[dict[str, Any]]) -> list[str]:
    """One calibration file's rows (appended to ``rows``) and its Markdown."""
    import numpy as np

    from verify import tolerances as tol

    md: list[str] = []
    md.append("| class | kind | measured \\|a−e\\|/max\\|e\\| (bound atol) | measured "
              "large-element rel (bound rtol) | measured frob (bound) | worst measured/bound "
              "| × SAFETY |")
    md.append("|---|---|---|---|---|---|---|")
    extra: list[str] = []
    res = json.loads(Path(path).read_text())
    head = (f"## {path.name}: {res['seeds']} seeds × {res['iters']} iterations on "
            f"{res['device']}, TF32 {'on' if res['allow_tf32'] else 'off'}")
    extra.append(f"- seed seconds {res.get('seed_seconds')}; stopped: {res.get('stopped')}; "
                 f"groups: {res.get('groups')}")
    for key, v in res["max_errors"].items():
        tclass, kind = key.split("/", 1)
        if not all(isinstance(x, (int, float)) for x in v.values()):
            # "nan"/"inf" from a broken check: shown as it is, and never under a bound
            md.append(f"| {tclass} | {kind} | {v} | | | non-finite **over** | |")
            rows.append({"source": path.name, "class": tclass, "kind": kind, "measured": v,
                         "bound": None, "worst_ratio": float("inf")})
            continue
        try:
            spec = tol.tolerance_for(tclass, kind)
            bound = {"scaled_abs": spec.atol_scale, "large_rel": spec.rtol,
                     "frob": spec.frob}
            # a zero component is unused (e.g. rtol of "order", which is absolute), unless all
            # are zero: the exact class, where anything above zero is over
            ratios = [v[k] / bound[k] for k in bound if bound[k] > 0]
            worst = max(ratios) if ratios else (0.0 if not any(v.values()) else float("inf"))
        except KeyError:
            bound, worst = None, None
        rows.append({"source": path.name, "class": tclass, "kind": kind, "measured": v,
                     "bound": bound, "worst_ratio": worst,
                     "safety_times_measured": {k: tol.SAFETY * x for k, x in v.items()}})

        def cell(k: str, v: dict = v, bound: dict | None = bound) -> str:
            b = "none" if bound is None else f"{bound[k]:.1e}"
            return f"{v[k]:.2g} ({b})"

        flag = "" if worst is None or worst <= 1 else " **over**"
        md.append(f"| {tclass} | {kind} | {cell('scaled_abs')} | {cell('large_rel')} | "
                  f"{cell('frob')} | "
                  f"{'no bound' if worst is None else f'{worst:.2g}'}{flag} | "
                  f"{tol.SAFETY * v['scaled_abs']:.1e} / {tol.SAFETY * v['large_rel']:.1e}"
                  f" / {tol.SAFETY * v['frob']:.1e} |")
    for tclass, env in res["curve_envelope"].items():
        steps = sorted(int(i) for i in env)
        try:
            band = tol.curve_band(tclass, np.asarray(steps)).tolist()
        except KeyError:
            band = None
        measured = [env[str(i)] for i in steps]
        rows.append({"source": path.name, "class": tclass, "kind": "curve_envelope",
                     "steps": steps, "measured": measured, "bound": band})
        extra.append(f"- {tclass} free-running loss envelope ({path.name}): " + ", ".join(
            f"i={i}: {m:.2g}" + ("" if band is None else f" (band {b:.1e})")
            for i, m, b in zip(steps, measured, band or [None] * len(steps), strict=True)))
    for tclass, n in res["flips"].items():
        try:
            frac = tol._measured(tol.FLIP_FRACTION, tclass, "prediction-flip band")
        except KeyError:
            frac = None
        rows.append({"source": path.name, "class": tclass, "kind": "flips",
                     "measured_max_count": n, "bound_fraction": frac})
        extra.append(f"- {tclass} prediction flips ({path.name}): at most {n}; allowed "
                     f"fraction {frac if frac is not None else 'none'}")
    return [head, "", *md, "", *extra, ""]


# ------------------------------------------------------------------------------ the steps


@dataclass
class StepResult:
    name: str
    status: str  # "ok", "failed", "timeout", "skipped"
    seconds: float = 0.0
    reason: str = ""
    command: list[str] | None = None
    rc: int | None = None
    log: str | None = None
    outputs: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    counts_as_failure: bool = False


@dataclass
class Step:
    """A subprocess (``command``) or an in-driver function (``inline``), with its cap."""

    name: str
    what: str
    timeout: float
    floor: float  # not worth starting with less time than this left
    needs_cuda: bool = False
    needs: tuple[str, ...] = ("numpy", "torch")
    command: Callable[[Run], list[str]] | None = None
    inline: Callable[[Run], StepResult] | None = None
    outputs: Callable[[Run], list[str]] = lambda run: []
    judge: Callable[[Run, StepResult], None] | None = None


@dataclass
class Run:
    out: Path
    data_dir: Path
    dry_run: bool
    budget: float
    bench_repeats: int | None
    calib_max_seeds: int
    calib_iters: int
    timeouts: dict[str, float] = field(default_factory=dict)  # --timeout STEP=SECONDS
    python: str = sys.executable
    packages: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    results: list[StepResult] = field(default_factory=list)
    timeout_now: float = 0.0  # the running step's timeout (its cap, or less if time is short)

    @property
    def device(self) -> str:
        return "cpu" if self.dry_run else "cuda"

    def py(self, *args: str) -> list[str]:
        return [self.python, *args]

    def me(self, *args: str) -> list[str]:
        return [self.python, str(Path(__file__).resolve()), *args]

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def _env_for(run: Run) -> dict[str, str]:
    env = dict(os.environ)
    root = str(REPO_ROOT)
    # the project from this checkout, not an install (the device machine installs nothing)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["MPLBACKEND"] = "Agg"
    env["NNPARITY_DATA_DIR"] = str(run.data_dir)
    # cuBLAS reads it when its handle is made, which may be before precision_guard sets it
    env.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # TF32 is switched by torch's flags inside the steps (off for verify, on for the tf32
    # calibration); a machine-wide override would silently turn the tf32 step into float32
    env.pop("NVIDIA_TF32_OVERRIDE", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _kill_group(proc: subprocess.Popen) -> None:
    """End the step's process group (its id is the step's pid): TERM, then KILL for what is
    left, children included."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _run_command(run: Run, step: Step, timeout: float) -> StepResult:
    run.timeout_now = timeout
    cmd = step.command(run)
    log = run.out / "logs" / f"{step.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    res = StepResult(step.name, "ok", command=cmd, log=str(log.relative_to(run.out)))
    t0 = time.perf_counter()
    with open(log, "wb") as f:
        f.write(("$ " + " ".join(cmd) + f"\n(timeout {timeout:.0f} s)\n\n").encode())
        f.flush()
        # own process group: a timeout ends the step's children (pytest, torch workers) too
        try:
            proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=f, stderr=subprocess.STDOUT,
                                    env=_env_for(run), start_new_session=True)
        except OSError as exc:
            res.status, res.reason = "failed", f"could not start: {type(exc).__name__}: {exc}"
            res.seconds = round(time.perf_counter() - t0, 2)
            return res
        try:
            res.rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            res.rc = proc.returncode
            res.status, res.reason = "timeout", f"ran past its {timeout:.0f} s timeout"
    res.seconds = round(time.perf_counter() - t0, 2)
    if res.status == "ok" and res.rc != 0:
        res.status, res.reason = "failed", f"exit status {res.rc}"
    return res


def _skip(name: str, reason: str, failure: bool) -> StepResult:
    return StepResult(name, "skipped", reason=reason, counts_as_failure=failure)


def run_step(run: Run, step: Step, later_floor: float) -> StepResult:
    if step.needs:
        missing = [n for n in step.needs if not run.packages.get(n, True)]
        if missing:
            return _skip(step.name, f"needs {', '.join(missing)}, which the packages step did "
                         "not find", True)
    if step.needs_cuda and not run.dry_run and not run.packages.get("cuda", True):
        return _skip(step.name, "needs CUDA, which torch does not see (see the packages "
                     "step)", True)
    left = run.budget - run.elapsed()
    cap = step.timeout * (DRY_RUN_SLACK if run.dry_run else 1.0)
    timeout = min(run.timeouts.get(step.name, cap), left - later_floor)
    if timeout < step.floor:
        return _skip(step.name, f"total budget: {left:.0f} s left of {run.budget:.0f} s, this "
                     f"step needs at least {step.floor:.0f} s and the later ones "
                     f"{later_floor:.0f} s", True)
    for o in step.outputs(run):  # a rerun into the same folder must not judge old files
        if (run.out / o).is_file():
            (run.out / o).unlink()
    if step.inline is not None:
        t0 = time.perf_counter()
        res = step.inline(run)
        res.seconds = round(time.perf_counter() - t0, 2)
    else:
        res = _run_command(run, step, timeout)
    res.outputs = [o for o in step.outputs(run) if (run.out / o).exists()]
    missing_out = [o for o in step.outputs(run) if not (run.out / o).exists()]
    if missing_out and res.status == "ok":
        res.status, res.reason = "failed", f"did not write {', '.join(missing_out)}"
    if step.judge is not None:
        try:
            step.judge(run, res)
        except Exception as exc:  # noqa: BLE001 - a judge must not end the run
            res.details["judge_error"] = f"{type(exc).__name__}: {exc}"
            if res.status == "ok":
                res.status, res.reason = "failed", f"reading its output: {exc}"
    if res.status in ("failed", "timeout"):
        res.counts_as_failure = True
    return res


# --------------------------------------------------------------------- step definitions


def _environment_judge(run: Run, res: StepResult) -> None:
    env = json.loads((run.out / "environment.json").read_text())
    res.details = {k: env.get(k) for k in ("python", "numpy", "torch", "torch_cuda", "cudnn",
                                          "cuda_available", "gpus", "nvidia_smi", "commit")}


def _packages_judge(run: Run, res: StepResult) -> None:
    p = json.loads((run.out / "packages.json").read_text())
    run.packages = {n: v["ok"] for n, v in p["packages"].items()}
    run.packages["cuda"] = bool(p["cuda"]["available"])
    res.details = {"missing": p["missing"], "cuda": p["cuda"], "problems": p["problems"]}
    if p["problems"] and res.status == "ok":
        res.status, res.reason = "failed", "; ".join(p["problems"])
    elif res.status == "failed" and p["problems"]:
        res.reason = "; ".join(p["problems"])


def _data_inline(run: Run) -> StepResult:
    st = data_status(run.data_dir)
    res = StepResult("data", "ok", details=st)
    if st["missing"]:
        wanted = run.data_dir
        run.data_dir = SUBSET_DATA  # explicit: never let a loader try the network here
        st["used"] = str(SUBSET_DATA)
        msg = (f"full MNIST not in {wanted} (missing {', '.join(st['missing'])}); the steps use "
               f"the bundled subset {SUBSET_DATA.relative_to(REPO_ROOT)} instead. Stage it "
               "first: scripts/gpu_check.sh --stage-data, and carry .gpu-data")
        if run.dry_run:
            res.reason = msg
        else:
            res.status, res.reason = "failed", msg
    else:
        st["used"] = str(run.data_dir)
        if not st["full"] and not run.dry_run:
            res.status, res.reason = "failed", (
                f"{run.data_dir} holds {st['counts']} examples, not the full MNIST's "
                f"{FULL_COUNTS}: the GPU figures would be for another run (stage the full set "
                "with --stage-data)")
    write_json(run.out / "data.json", st)
    return res


def _pytest_plugin_args() -> list[str]:
    """``-p verify.pytest_plugin`` unless the installed entry point already loads it (loading
    it twice is an error); without an install (the device machine) it must be named."""
    from importlib.metadata import entry_points

    try:
        eps = entry_points(group="pytest11")
    except TypeError:  # pragma: no cover - Python < 3.10
        eps = entry_points().get("pytest11", [])
    if any(ep.value == "verify.pytest_plugin" for ep in eps):
        return []
    return ["-p", "verify.pytest_plugin"]


def _cuda_tests_cmd(run: Run) -> list[str]:
    return run.py("-m", "pytest", "-m", "cuda", "-q", "-rA", "-p", "no:cacheprovider",
                  *_pytest_plugin_args(), "--continue-on-collection-errors",
                  f"--junitxml={run.out / 'cuda_tests.xml'}", "tests")


def _cuda_tests_judge(run: Run, res: StepResult) -> None:
    import xml.etree.ElementTree as ET

    path = run.out / "cuda_tests.xml"
    if not path.exists():
        return
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = {k: sum(int(s.get(k, 0)) for s in suites)
              for k in ("tests", "failures", "errors", "skipped")}
    counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    res.details = counts
    tally = ", ".join(f"{counts[k]} {k}" for k in ("passed", "failures", "errors", "skipped"))
    if res.rc == 5:
        res.status, res.reason = "failed", "no CUDA-marked test was collected"
    elif res.status == "failed":
        res.reason += f" ({tally}; errors are often collection errors: a test file's import "
        res.reason += "failed, see the log and the packages step)" if counts["errors"] else ")"
    elif run.dry_run and res.status == "ok":
        res.reason = (f"{counts['skipped']} of {counts['tests']} skipped on the CPU (they need "
                      "CUDA); collection and selection exercised")
    elif not run.dry_run and counts["skipped"] and res.status == "ok":
        res.reason = f"{counts['skipped']} skipped on a CUDA machine: read the log"


def _verify_cmd(dtype: str) -> Callable[[Run], list[str]]:
    def cmd(run: Run) -> list[str]:
        c = run.py("-m", "verify", "all", "--device", run.device, "--dtype", dtype,
                   "--json", str(run.out / f"verify_{dtype}.json"),
                   "--report-dir", str(run.out / f"verify_{dtype}"),
                   "--data-dir", str(run.data_dir), "--no-progress")
        if run.dry_run:
            c += ["--quick", "--iters", "20"]
        return c

    return cmd


def _verify_judge(dtype: str) -> Callable[[Run, StepResult], None]:
    def judge(run: Run, res: StepResult) -> None:
        path = run.out / f"verify_{dtype}.json"
        if not path.exists():
            return
        rep = json.loads(path.read_text())
        failed = [c["name"] for c in rep["checks"] if not c["passed"]]
        res.details = {"summary": rep.get("summary"), "failed_checks": failed,
                       "engines": rep.get("environment", {}).get("engines"),
                       "device_name": (rep.get("environment", {}).get("torch_environment")
                                       or {}).get("device_name")}
        if failed:
            res.reason = f"{len(failed)} checks failed: " + "; ".join(failed[:8])

    return judge


#: calibration groups in a dry run: two cheap groups on two seeds (the merge of maxima) for
#: one class, the training group on one seed (curve envelope, flips) for the other
DRY_CALIB = {"float32_cuda": ("losses,gradients", 2), "tf32": ("training", 1)}


def _calib_cmd(tclass: str, tf32: bool) -> Callable[[Run], list[str]]:
    def cmd(run: Run) -> list[str]:
        # the seeds get the step's timeout less start-up (imports, MNIST, the CUDA context:
        # ~10 s) and room for the last write
        t = run.timeout_now
        budget = max(t - 20.0, 0.5 * t)
        seeds = run.calib_max_seeds
        groups: list[str] = []
        if run.dry_run:
            g, n = DRY_CALIB[tclass]
            groups, seeds = ["--groups", g], min(seeds, n)
        return run.me("_calibrate", "--device", run.device, "--budget", f"{budget:.0f}",
                      "--max-seeds", str(seeds), "--iters", str(run.calib_iters),
                      "--data-dir", str(run.data_dir), "--json",
                      str(run.out / f"calibrate_{tclass}.json"), *(["--tf32"] if tf32 else []),
                      *groups)

    return cmd


def _calib_judge(tclass: str) -> Callable[[Run, StepResult], None]:
    def judge(run: Run, res: StepResult) -> None:
        path = run.out / f"calibrate_{tclass}.json"
        if not path.exists():
            return
        c = json.loads(path.read_text())
        res.details = {"seeds": c["seeds"], "iters": c["iters"], "classes": c["classes"],
                       "seed_seconds": c["seed_seconds"], "stopped": c["stopped"]}
        want = tclass.replace("_", "-")
        if want not in c["classes"]:
            why = (f"class {want} not measured on the CPU (TF32 and float32-cuda exist only on "
                   "CUDA)")
            if run.dry_run:
                res.reason = why
            elif res.status == "ok":
                res.status, res.reason = "failed", f"class {want} was not measured"
        if res.status == "timeout" and c["seeds"]:
            res.reason += f"; {c['seeds']} seeds finished and were kept"

    return judge


def _table_cmd(run: Run) -> list[str]:
    inputs = [str(run.out / f"calibrate_{t}.json") for t in ("float32_cuda", "tf32")
              if (run.out / f"calibrate_{t}.json").exists()]
    return run.me("_table", "--md", str(run.out / "calibration_table.md"), "--json",
                  str(run.out / "calibration_table.json"), *inputs)


def _table_judge(run: Run, res: StepResult) -> None:
    path = run.out / "calibration_table.json"
    if path.exists():
        rows = json.loads(path.read_text())["rows"]
        # a string is "inf"/"nan" (see _strict): over whatever the bound
        over = [f"{r['class']}/{r['kind']}" for r in rows
                if isinstance(r.get("worst_ratio"), str)
                or (r.get("worst_ratio") is not None and r["worst_ratio"] > 1)]
        res.details = {"rows": len(rows), "over_current_bound": over}


def _bench_cmd(run: Run) -> list[str]:
    c = run.py("-m", "verify", "bench", "--gpu-only", "--device", run.device, "--report-dir",
               str(run.out / "bench"), "--json", str(run.out / "bench.json"), "--data-dir",
               str(run.data_dir), "--no-progress")
    if run.dry_run:
        # the smoke sizes: loop gradient on a 784-5-10 net and 2 images, 20 iterations
        c += ["--smoke", "--iters", "20", "--repeats", "1", "--torch-threads", "1"]
    elif run.bench_repeats:
        c += ["--repeats", str(run.bench_repeats)]
    return c


def _bench_judge(run: Run, res: StepResult) -> None:
    path = run.out / "bench.json"
    if not path.exists():
        return
    b = json.loads(path.read_text())
    gpu_rows = [m for m in b["measurements"] if m["device"] != "cpu"]
    res.details = {
        "summary": b["summary"], "gpu_skipped": b["config"].get("gpu_skipped"),
        "gpu": (b.get("machine") or {}).get("gpu"),
        "rows": {m["id"]: {"median_s": m.get("median"), "ratio": m.get("ratio"),
                           "met": m.get("met"), "skipped": m.get("skipped"),
                           "error": m.get("error")} for m in b["measurements"]},
    }
    skipped = [m["id"] for m in gpu_rows if m["skipped"]]
    if skipped and run.dry_run:
        res.reason = f"GPU rows skipped on the CPU: {b['config'].get('gpu_skipped')}"
    elif skipped and res.status == "ok":
        res.status, res.reason = "failed", (f"GPU rows skipped: {', '.join(skipped)} "
                                            f"({b['config'].get('gpu_skipped')})")


#: (timeout, floor) per step.  No GPU has run these yet, so the timeouts are estimates from the
#: CPU: the full ``python -m verify`` took 86 s for both dtypes on 2 cores, the bench's element
#: loop gradient 20 s, a CPU training run 5-15 s.  Together they exceed the budget on purpose: a
#: step gets min(its timeout, what is left less the floors of the steps after it), so a slow
#: early step shortens the calibration (which runs seeds for as long as it has) before it
#: starves the bench (floor 90 s: the element loop plus 4 GPU rows x 5 repeats).
STEPS: list[Step] = [
    # a subprocess like the others, so a hung CUDA initialisation cannot stall the driver
    Step("environment", "GPU, driver, torch, CUDA, cuDNN, numpy, python", 60, 5, needs=(),
         command=lambda r: r.me("_env", str(r.out / "environment.json")),
         outputs=lambda r: ["environment.json"], judge=_environment_judge),
    Step("packages", "required packages, CUDA, the project's modules", 60, 5, needs=(),
         command=lambda r: r.me("_packages", "--json", str(r.out / "packages.json"),
                                *([] if r.dry_run else ["--need-cuda"])),
         outputs=lambda r: ["packages.json"], judge=_packages_judge),
    Step("data", "the four MNIST files", 30, 1, needs=(), inline=_data_inline,
         outputs=lambda r: ["data.json"]),
    Step("cuda_tests", "pytest -m cuda", 75, 20, needs_cuda=True,
         needs=("numpy", "torch", "pytest"), command=_cuda_tests_cmd,
         outputs=lambda r: ["cuda_tests.xml"], judge=_cuda_tests_judge),
    Step("verify_float32", "python -m verify --device cuda --dtype float32 (TF32 off)", 120,
         30, needs_cuda=True, command=_verify_cmd("float32"),
         outputs=lambda r: ["verify_float32.json"], judge=_verify_judge("float32")),
    Step("verify_float64", "python -m verify --device cuda --dtype float64", 120, 30,
         needs_cuda=True, command=_verify_cmd("float64"),
         outputs=lambda r: ["verify_float64.json"], judge=_verify_judge("float64")),
    Step("calibrate_float32_cuda", "calibration, float32 on CUDA with TF32 off", 100, 30,
         needs_cuda=True, command=_calib_cmd("float32_cuda", False),
         outputs=lambda r: ["calibrate_float32_cuda.json"], judge=_calib_judge("float32_cuda")),
    Step("calibrate_tf32", "calibration, float32 on CUDA with TF32 on", 70, 30,
         needs_cuda=True, command=_calib_cmd("tf32", True),
         outputs=lambda r: ["calibrate_tf32.json"], judge=_calib_judge("tf32")),
    Step("calibration_table", "the measurements beside the current bounds", 30, 5,
         command=_table_cmd, outputs=lambda r: ["calibration_table.md", "calibration_table.json"],
         judge=_table_judge),
    Step("bench_gpu", "bench: eager vs CUDA graph, numerical gradient on the GPU", 150, 90,
         needs_cuda=True, command=_bench_cmd, outputs=lambda r: ["bench.json"],
         judge=_bench_judge),
]
STEP_NAMES = [s.name for s in STEPS]


def write_summary(run: Run, finished: bool) -> None:
    failed = [r.name for r in run.results if r.counts_as_failure]
    write_json(run.out / "summary.json", {
        "schema": SCHEMA, "dry_run": run.dry_run, "finished": finished,
        "ok": finished and not failed, "failed": failed,
        "seconds": round(run.elapsed(), 2), "budget_s": run.budget,
        "device": run.device, "data_dir": str(run.data_dir), "python": run.python,
        "repo": str(REPO_ROOT), "time_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        # as the driver found them; the steps run with these changed (see _env_for)
        "driver_environment": {k: os.environ.get(k) for k in (
            "NVIDIA_TF32_OVERRIDE", "CUBLAS_WORKSPACE_CONFIG", "NNPARITY_DATA_DIR")},
        "steps": [asdict(r) for r in run.results],
    })


def main_run(run: Run, selected: Sequence[str]) -> int:
    run.out.mkdir(parents=True, exist_ok=True)
    print(f"gpu_check: {'DRY RUN on the CPU' if run.dry_run else 'CUDA run'}, budget "
          f"{run.budget:.0f} s, out {run.out}, data {run.data_dir}", flush=True)
    for i, step in enumerate(STEPS):
        if step.name not in selected:
            res = _skip(step.name, "not selected (--steps)", False)
        else:
            later = sum(s.floor for s in STEPS[i + 1:] if s.name in selected)
            print(f"[{run.elapsed():6.1f} s] {step.name}: {step.what} ...", flush=True)
            res = run_step(run, step, later)
        run.results.append(res)
        write_summary(run, finished=False)
        line = f"[{run.elapsed():6.1f} s] {step.name}: {res.status.upper()} ({res.seconds:.1f} s)"
        print(line + (f" -- {res.reason}" if res.reason else ""), flush=True)
        if res.status in ("failed", "timeout") and res.log:
            tail = _tail(run.out / res.log)
            if tail:
                print("    | " + tail.replace("\n", "\n    | "), flush=True)
    write_summary(run, finished=True)
    # the figures on stdout too: the device tool returns its tail even if no file comes back
    print("figures:", flush=True)
    for r in run.results:
        if r.details:
            text = json.dumps(r.details, default=str)
            print(f"  {r.name}: {text[:2500]}{' ...' if len(text) > 2500 else ''}", flush=True)
    failed = [r.name for r in run.results if r.counts_as_failure]
    print(f"gpu_check: {len(run.results)} steps in {run.elapsed():.1f} s; "
          + (f"FAILED: {', '.join(failed)}" if failed else "all passed")
          + f"; summary {run.out / 'summary.json'}", flush=True)
    return 1 if failed else 0


# ------------------------------------------------------------------------------ command line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="scripts/gpu_check.sh",
        description="Check the GPU path in one run (issue 14): environment, packages, CUDA "
        "tests, verify in float32/float64, calibration, bench GPU rows.",
        epilog="Exit status: 0 all steps passed, 1 a step failed, 2 bad usage.")
    p.add_argument("--out", default=None,
                   help="where everything is written (default: $OUT, the device tool's folder)")
    p.add_argument("--data-dir", default=None,
                   help=f"folder of the four MNIST gz files (default: $NNPARITY_DATA_DIR, else "
                   f"{STAGED_DATA.relative_to(REPO_ROOT)})")
    p.add_argument("--dry-run", action="store_true",
                   help="every step on the CPU with tiny sizes; CUDA-only parts skip with the "
                   "reason")
    p.add_argument("--budget", type=float, default=None,
                   help=f"total seconds for all steps (default {DEFAULT_BUDGET_S:.0f}, "
                   f"{DRY_RUN_SLACK:g}× that with --dry-run, whose step timeouts are "
                   f"{DRY_RUN_SLACK:g}× too); a step that would not fit is skipped with the "
                   "reason")
    p.add_argument("--steps", default=None,
                   help=f"comma-separated steps to run (default all, in order): "
                   f"{','.join(STEP_NAMES)}")
    p.add_argument("--timeout", action="append", default=[], metavar="STEP=SECONDS",
                   help="a step's timeout instead of its own (repeatable); the calibration "
                   "steps spend all but ~20 s of theirs on seeds, e.g. "
                   "--timeout calibrate_float32_cuda=300")
    p.add_argument("--bench-repeats", type=int, default=None,
                   help="repeats per bench measurement (default: bench's, 5)")
    p.add_argument("--calib-max-seeds", type=int, default=None,
                   help="most calibration seeds per class (default 20; 2 with --dry-run); "
                   "fewer run if the step's time runs out")
    p.add_argument("--calib-iters", type=int, default=None,
                   help="training iterations per calibration seed (default 300, as "
                   "tolerances.py's quick-size measurements; 20 with --dry-run)")
    p.add_argument("--stage-data", action="store_true",
                   help="only copy the four MNIST files from --from (default "
                   "$NNPARITY_DATA_DIR) into .gpu-data/mnist, the folder to carry")
    p.add_argument("--from", dest="source", default=None, help="with --stage-data: the source")
    return p


def _internal(argv: list[str]) -> int:
    """Subcommands the steps run as subprocesses of this file (not for people)."""
    cmd, rest = argv[0], argv[1:]
    if cmd == "_env":
        write_json(Path(rest[0]), environment())
        print(json.dumps(json.loads(Path(rest[0]).read_text()), indent=1))
        return 0
    p = argparse.ArgumentParser(prog=f"gpu_check.py {cmd}")
    if cmd == "_packages":
        p.add_argument("--json", required=True)
        p.add_argument("--need-cuda", action="store_true")
        a = p.parse_args(rest)
        res = check_packages(a.need_cuda)
        write_json(Path(a.json), res)
        print(format_packages(res))
        return 0 if res["ok"] else 1
    if cmd == "_calibrate":
        p.add_argument("--device", required=True)
        p.add_argument("--budget", type=float, required=True)
        p.add_argument("--max-seeds", type=int, required=True)
        p.add_argument("--iters", type=int, required=True)
        p.add_argument("--data-dir", required=True)
        p.add_argument("--json", required=True)
        p.add_argument("--tf32", action="store_true")
        p.add_argument("--groups", default=None, help="comma-separated (default: calibrate's)")
        a = p.parse_args(rest)
        groups = tuple(a.groups.split(",")) if a.groups else None
        return run_calibration(a.device, a.tf32, a.budget, a.max_seeds, a.iters, a.data_dir,
                               Path(a.json), groups)
    if cmd == "_table":
        p.add_argument("--md", required=True)
        p.add_argument("--json", required=True)
        p.add_argument("inputs", nargs="*")
        a = p.parse_args(rest)
        if not a.inputs:
            print("gpu_check: error: _table: expected calibration JSON files, got none "
                  "(both calibration steps failed or were skipped)", file=sys.stderr)
            return 1
        return calibration_table([Path(x) for x in a.inputs], Path(a.md), Path(a.json))
    print(f"gpu_check: error: unknown internal command {cmd!r}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0].startswith("_"):
        return _internal(argv)
    parser = build_parser()
    a = parser.parse_args(argv)
    if a.stage_data:
        return stage_data(a.source)
    out = a.out or os.environ.get("OUT")
    if not out:
        parser.error("--out: expected a folder for the results (or $OUT set), got neither")
    if a.budget is None:
        a.budget = DEFAULT_BUDGET_S * (DRY_RUN_SLACK if a.dry_run else 1.0)
    if a.budget <= 0:
        parser.error(f"--budget: expected a positive number of seconds, got {a.budget}")
    for name in ("bench_repeats", "calib_max_seeds", "calib_iters"):
        v = getattr(a, name)
        if v is not None and v < 1:
            parser.error(f"--{name.replace('_', '-')}: expected a positive integer, got {v}")
    selected = STEP_NAMES
    if a.steps:
        selected = [s.strip() for s in a.steps.split(",") if s.strip()]
        unknown = [s for s in selected if s not in STEP_NAMES]
        if unknown or not selected:
            parser.error(f"--steps: expected names from {','.join(STEP_NAMES)}, got "
                         f"{a.steps!r}" + (f" (unknown: {', '.join(unknown)})" if unknown
                                           else ""))
    timeouts: dict[str, float] = {}
    for item in a.timeout:
        name, _, secs = item.partition("=")
        try:
            value = float(secs)
        except ValueError:
            value = -1.0
        if name not in STEP_NAMES or value <= 0:
            parser.error(f"--timeout: expected STEP=SECONDS with STEP one of "
                         f"{','.join(STEP_NAMES)} and SECONDS > 0, got {item!r}")
        timeouts[name] = value
    data = a.data_dir or os.environ.get("NNPARITY_DATA_DIR") or str(STAGED_DATA)
    data_dir = Path(data) if Path(data).is_absolute() else (Path.cwd() / data)
    run = Run(out=Path(out).resolve(), data_dir=data_dir.resolve(), dry_run=a.dry_run,
              budget=a.budget, bench_repeats=a.bench_repeats,
              calib_max_seeds=a.calib_max_seeds or (2 if a.dry_run else 20),
              calib_iters=a.calib_iters or (20 if a.dry_run else 300), timeouts=timeouts)
    return main_run(run, selected)


if __name__ == "__main__":
    raise SystemExit(main())
